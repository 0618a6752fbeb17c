//! Queues and topics wired to the rest (issue 16), as a user sees them with boto3 and the
//! AWS CLI: an EventBridge rule's SQS and SNS targets, a failed asynchronous invocation in
//! the function's dead-letter queue and its `OnFailure` topic, a stream batch given up on
//! in its `OnFailure` queue, and an SQS → function mapping made at run time with the AWS
//! CLI (AWS's errors for a missing queue and a second mapping).

use std::time::{Duration, Instant};

use serde_json::Value;
use serverful_e2e::{test_app, Server};

/// Waits for the first message of the queue named `name` and deletes it: its body.
fn next_body(server: &Server, name: &str) -> Value {
    let script = r#"
import json, sys, time
import boto3
sqs = boto3.client("sqs")
url = sqs.get_queue_url(QueueName=sys.argv[1])["QueueUrl"]
deadline = time.time() + 30
while time.time() < deadline:
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])
    if got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
        print(json.dumps(json.loads(got[0]["Body"])))
        break
else:
    print("null")
"#;
    let body = server.python(script, &[name]);
    assert!(
        !body.is_null(),
        "nothing arrived in {name}\n{}",
        server.all_output()
    );
    body
}

#[test]
fn rules_failures_and_mappings_reach_queues_and_topics() {
    let server = Server::try_start_with_env(
        &test_app("queue-destinations"),
        &[],
        &[
            ("SERVERFUL_ASYNC_RETRY_DELAY_MS", "50"),
            ("SERVERFUL_STREAM_RETRY_DELAY_MS", "50"),
        ],
    )
    .unwrap_or_else(|output| panic!("server did not start:\n{output}"));

    // An EventBridge rule's targets: the event itself to the queue, its detail (InputPath)
    // to the topic, whose subscription copies it to a queue in SNS's envelope.
    let put = server.python(
        r#"
import json, boto3
events = boto3.client("events")
print(json.dumps(events.put_events(Entries=[{
    "Source": "app.orders", "DetailType": "OrderPlaced", "Detail": json.dumps({"orderId": "o-1"})}])))
"#,
        &[],
    );
    assert_eq!(put["FailedEntryCount"], 0, "{put}");
    let event = next_body(&server, "dest-inbox");
    assert_eq!(event["source"], "app.orders", "{event}");
    assert_eq!(event["detail-type"], "OrderPlaced");
    assert_eq!(event["detail"]["orderId"], "o-1");
    let envelope = next_body(&server, "dest-alerts-copy");
    assert_eq!(envelope["Type"], "Notification", "{envelope}");
    let detail: Value =
        serde_json::from_str(envelope["Message"].as_str().expect("Message")).expect("JSON");
    assert_eq!(detail, serde_json::json!({"orderId": "o-1"}));

    // A failed asynchronous invocation: the event itself in the dead-letter queue, the
    // invocation record through the OnFailure topic.
    let (ok, _, stderr) = server.aws_cli(&[
        "lambda",
        "invoke",
        "--function-name",
        "dest-flaky",
        "--invocation-type",
        "Event",
        "--payload",
        r#"{"job": 7}"#,
        "/dev/null",
    ]);
    assert!(ok, "{stderr}");
    let dead = next_body(&server, "dest-failures");
    assert_eq!(dead, serde_json::json!({"job": 7}), "the event itself");
    let envelope = next_body(&server, "dest-alerts-copy");
    let record: Value =
        serde_json::from_str(envelope["Message"].as_str().expect("Message")).expect("JSON");
    assert_eq!(
        record["requestContext"]["condition"], "RetriesExhausted",
        "{record}"
    );
    assert_eq!(record["requestPayload"], serde_json::json!({"job": 7}));
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");

    // A stream batch given up on: AWS's record in the OnFailure queue.
    server.python(
        r#"
import boto3
boto3.client("dynamodb").put_item(TableName="dest-changes", Item={"id": {"S": "c-1"}})
print("null")
"#,
        &[],
    );
    let failure = next_body(&server, "dest-failures");
    assert_eq!(
        failure["requestContext"]["condition"], "RetryAttemptsExhausted",
        "{failure}"
    );
    assert!(failure["DDBStreamBatchInfo"]["streamArn"]
        .as_str()
        .is_some_and(|arn| arn.contains(":table/dest-changes/stream/")));

    // A consumer whose process dies in the middle of a batch: nothing of the batch was
    // deleted, so every message comes back after the queue's visibility timeout and is
    // handled again, the ones before the crash twice.
    server.python(
        r#"
import boto3
sqs = boto3.client("sqs")
url = sqs.get_queue_url(QueueName="dest-work")["QueueUrl"]
sqs.send_message_batch(QueueUrl=url, Entries=[
    {"Id": str(i), "MessageBody": body} for i, body in enumerate(["before", "crash", "after"])])
print("null")
"#,
        &[],
    );
    let handled = |body: &str| -> i64 {
        let item = server.python(
            r#"
import json, sys, boto3
item = boto3.client("dynamodb").get_item(TableName="dest-seen",
    Key={"id": {"S": "work-" + sys.argv[1]}}, ConsistentRead=True).get("Item")
print(item["handled"]["N"] if item else "0")
"#,
            &[body],
        );
        item.as_i64().unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    while handled("after") < 1 || handled("crash") < 2 {
        assert!(
            Instant::now() < deadline,
            "the crashed batch did not come back\n{}",
            server.all_output()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(handled("before") >= 1);
    assert!(
        handled("crash") >= 2,
        "handled once before the crash, once after"
    );

    // An SQS mapping made at run time with the AWS CLI.
    let missing = server.aws_cli(&[
        "lambda",
        "create-event-source-mapping",
        "--function-name",
        "dest-reader",
        "--event-source-arn",
        "arn:aws:sqs:us-east-1:123456789012:no-such-queue",
    ]);
    assert!(
        !missing.0 && missing.2.contains("NonExistentQueue"),
        "{}",
        missing.2
    );
    let inbox_arn = "arn:aws:sqs:us-east-1:123456789012:dest-inbox";
    let (ok, created, stderr) = server.aws_cli(&[
        "lambda",
        "create-event-source-mapping",
        "--function-name",
        "dest-reader",
        "--event-source-arn",
        inbox_arn,
        "--batch-size",
        "5",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(created["State"], "Creating");
    assert_eq!(created["BatchSize"], 5);
    assert!(created.get("StartingPosition").is_none(), "{created}");
    let uuid = created["UUID"].as_str().expect("UUID").to_owned();
    let again = server.aws_cli(&[
        "lambda",
        "create-event-source-mapping",
        "--function-name",
        "dest-reader",
        "--event-source-arn",
        inbox_arn,
    ]);
    assert!(
        !again.0
            && again.2.contains("ResourceConflictException")
            && again.2.contains("An event source mapping with SQS arn")
            && again.2.contains(&uuid),
        "{}",
        again.2
    );
    let sent = server.python(
        r#"
import json, boto3
sqs = boto3.client("sqs")
url = sqs.get_queue_url(QueueName="dest-inbox")["QueueUrl"]
print(json.dumps(sqs.send_message(QueueUrl=url, MessageBody="hello reader",
    MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}})))
"#,
        &[],
    );
    let message_id = sent["MessageId"].as_str().expect("MessageId").to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let record = loop {
        let seen = server.python(
            r#"
import json, sys, boto3
item = boto3.client("dynamodb").get_item(TableName="dest-seen", Key={"id": {"S": sys.argv[1]}},
    ConsistentRead=True).get("Item")
print(item["record"]["S"] if item else "null")
"#,
            &[&message_id],
        );
        if !seen.is_null() {
            break seen;
        }
        assert!(
            Instant::now() < deadline,
            "the reader got nothing\n{}",
            server.all_output()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(record["body"], "hello reader");
    assert_eq!(record["eventSource"], "aws:sqs");
    assert_eq!(record["eventSourceARN"], inbox_arn);
    assert_eq!(
        record["messageAttributes"]["kind"]["stringValue"],
        "greeting"
    );
    assert_eq!(record["attributes"]["ApproximateReceiveCount"], "1");
    let listed = server.aws_cli(&[
        "lambda",
        "list-event-source-mappings",
        "--event-source-arn",
        inbox_arn,
    ]);
    assert_eq!(
        listed.1["EventSourceMappings"][0]["UUID"],
        uuid.as_str(),
        "{}",
        listed.1
    );
    let (ok, _, stderr) =
        server.aws_cli(&["lambda", "delete-event-source-mapping", "--uuid", &uuid]);
    assert!(ok, "{stderr}");
}
