//! Queues and topics as a user runs them (issue 16): `examples/orders`, from `POST /orders`
//! (Python, SQS send) through the worker's batches with partial failures (Node.js, SQS
//! event source) to the table, the dead-letter queue for the poison order, and the SNS
//! fan-out to the audit queue and, through a filter policy, to the notifier.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serverful_e2e::{repo_root, Server};

pub(crate) fn post_order(server: &Server, order: &Value) -> String {
    let response = crate::client()
        .post(server.url("/orders"))
        .header("content-type", "application/json")
        .body(order.to_string())
        .send()
        .expect("POST /orders");
    assert_eq!(response.status(), 202, "{}", server.all_output());
    let body = crate::json_body(response);
    assert_eq!(body["status"], "queued", "{body}");
    body["orderId"].as_str().expect("an orderId").to_owned()
}

pub(crate) fn orders(server: &Server) -> Vec<Value> {
    let response = crate::client()
        .get(server.url("/orders"))
        .send()
        .expect("GET /orders");
    assert_eq!(response.status(), 200, "{}", server.all_output());
    crate::json_body(response)["orders"]
        .as_array()
        .expect("a list of orders")
        .clone()
}

/// Every message waiting in the queue at `url` (received and deleted).
fn drain(server: &Server, url: &str) -> Vec<Value> {
    let script = r#"
import json, sys
import boto3
sqs = boto3.client("sqs")
url = sys.argv[1]
messages = []
while True:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                              MessageAttributeNames=["All"], AttributeNames=["All"])
    batch = got.get("Messages", [])
    if not batch:
        break
    messages += batch
    sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
print(json.dumps(messages))
"#;
    server
        .python(script, &[url])
        .as_array()
        .expect("messages")
        .clone()
}

fn wait_until<T>(
    server: &Server,
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            server.all_output()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn orders_flow_through_the_queue_the_worker_the_dead_letter_queue_and_the_topic() {
    let server = Server::start(&repo_root().join("examples/orders"), &[]);
    // The start-up lists each queue's URL and the topic's ARN.
    let stdout = server.stdout();
    let audit_line = stdout
        .lines()
        .find(|line| line.starts_with("  AuditQueue http://"))
        .unwrap_or_else(|| panic!("no AuditQueue line:\n{stdout}"));
    assert!(
        audit_line.ends_with(&server.output("AuditQueueUrl")),
        "{audit_line}"
    );
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("  OrderEvents arn:aws:sns:us-east-1:")),
        "{stdout}"
    );
    let tea = post_order(&server, &json!({"item": "tea", "quantity": 2}));
    let chairs = post_order(&server, &json!({"item": "chairs", "quantity": 120}));
    let poison = post_order(&server, &json!({"item": "", "quantity": -1}));

    // The worker stores the good orders; the notifier hears only of the big one.
    let stored = wait_until(
        &server,
        "both good orders, the big one notified",
        Duration::from_secs(30),
        || {
            let orders = orders(&server);
            let notified = orders
                .iter()
                .any(|order| order["orderId"] == chairs.as_str() && order["notified"].is_string());
            (orders.len() == 2 && notified).then_some(orders)
        },
    );
    let tea_order = stored
        .iter()
        .find(|order| order["orderId"] == tea.as_str())
        .expect("tea is stored");
    assert_eq!(tea_order["status"], "stored");
    assert!(
        tea_order.get("notified").is_none(),
        "small orders are filtered out: {tea_order}"
    );
    assert!(!stored
        .iter()
        .any(|order| order["orderId"] == poison.as_str()));

    // The poison order is tried three times, then the queue moves it to the DLQ.
    let dead_letter_url = server.output("DeadLetterQueueUrl");
    let dead = wait_until(
        &server,
        "the poison order in the dead-letter queue",
        Duration::from_secs(40),
        || {
            let messages = drain(&server, &dead_letter_url);
            (!messages.is_empty()).then_some(messages)
        },
    );
    assert_eq!(dead.len(), 1, "{dead:?}");
    let body: Value =
        serde_json::from_str(dead[0]["Body"].as_str().expect("Body")).expect("JSON body");
    assert_eq!(body["orderId"], poison.as_str());
    assert!(
        dead[0]["Attributes"]["DeadLetterQueueSourceArn"]
            .as_str()
            .is_some_and(|arn| arn.starts_with("arn:aws:sqs:") && arn.contains("OrdersQueue")),
        "{:?}",
        dead[0]
    );
    assert_eq!(dead[0]["MessageAttributes"]["source"]["StringValue"], "api");
    // The worker saw it three times (maxReceiveCount: 3) before the queue gave up on it.
    let output = server.all_output();
    let message_id = dead[0]["MessageId"].as_str().expect("MessageId");
    for attempt in 1..=3 {
        assert!(
            output.contains(&format!(
                "bad order in message {message_id} (try {attempt})"
            )),
            "try {attempt}: {output}"
        );
    }
    assert!(!output.contains(&format!("bad order in message {message_id} (try 4)")));

    // The audit queue got every stored order in SNS's envelope.
    let audit = drain(&server, &server.output("AuditQueueUrl"));
    assert_eq!(audit.len(), 2, "{audit:?}");
    for message in &audit {
        let envelope: Value =
            serde_json::from_str(message["Body"].as_str().expect("Body")).expect("an SNS envelope");
        assert_eq!(envelope["Type"], "Notification", "{envelope}");
        assert_eq!(envelope["Subject"], "order stored");
        assert!(envelope["TopicArn"]
            .as_str()
            .is_some_and(|arn| arn.starts_with("arn:aws:sns:")));
        assert!(envelope["Signature"]
            .as_str()
            .is_some_and(|signature| !signature.is_empty()));
        let size = &envelope["MessageAttributes"]["size"];
        assert_eq!(size["Type"], "String");
        let order: Value =
            serde_json::from_str(envelope["Message"].as_str().expect("Message")).expect("JSON");
        let expected = if order["orderId"] == chairs.as_str() {
            "big"
        } else {
            "small"
        };
        assert_eq!(size["Value"], expected);
    }

    // A body that is not a JSON object is refused by the API, and nothing is queued.
    let response = crate::client()
        .post(server.url("/orders"))
        .body("[1, 2]")
        .send()
        .expect("POST /orders");
    assert_eq!(response.status(), 400);
}
