//! DynamoDB Streams → functions (issue 15): a table's changes, written with boto3, reach a
//! Python function that copies them into another table, in order per key; a failing
//! function blocks its shard until it recovers; after `kill -9` in the middle of the
//! stream's processing, a restart delivers every record at least once, in order per key.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use serverful_e2e::{copy_dir, test_app, Server};

/// A boto3 client of the test app's tables: `write FIRST LAST KEYS` puts items `n` =
/// FIRST..=LAST under keys `k{n % KEYS}`; `copies` prints what the projector copied;
/// `fail on|off` makes the projector fail or work; `last` prints its last event.
pub(crate) const CLIENT: &str = r#"
import json
import sys

import boto3

db = boto3.client("dynamodb")
command = sys.argv[1]
if command == "write":
    first, last, keys = (int(value) for value in sys.argv[2:5])
    for n in range(first, last + 1):
        db.put_item(
            TableName="projector-events",
            Item={"key": {"S": f"k{n % keys}"}, "n": {"N": str(n)}},
        )
elif command == "copies":
    items = db.scan(TableName="projector-copies", ConsistentRead=True)["Items"]
    print(json.dumps({
        item["key"]["S"]: [int(value["N"]) for value in item["seen"]["L"]]
        for item in items
        if "seen" in item
    }))
elif command == "fail":
    key = {"key": {"S": "__fail__"}}
    if sys.argv[2] == "on":
        db.put_item(TableName="projector-copies", Item=key)
    else:
        db.delete_item(TableName="projector-copies", Key=key)
elif command == "last":
    item = db.get_item(TableName="projector-copies", Key={"key": {"S": "__last_batch__"}})
    print(item["Item"]["event"]["S"])
"#;

fn client(server: &Server, args: &[&str]) -> String {
    let output = Command::new("python3")
        .args(["-c", CLIENT])
        .args(args)
        .envs(server.aws_env())
        .output()
        .expect("run python3 (scripts/install-test-deps.sh installs boto3)");
    assert!(
        output.status.success(),
        "client {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn copies(server: &Server) -> BTreeMap<String, Vec<i64>> {
    serde_json::from_str(&client(server, &["copies"])).expect("copies are JSON")
}

/// Waits until every `n` of FIRST..=LAST was copied under its key.
fn wait_for_copies(server: &Server, last: i64, keys: i64) -> BTreeMap<String, Vec<i64>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let copies = copies(server);
        let complete = (0..=last).all(|n| {
            copies
                .get(&format!("k{}", n % keys))
                .is_some_and(|seen| seen.contains(&n))
        });
        if complete {
            return copies;
        }
        assert!(
            Instant::now() < deadline,
            "not every record was copied: {copies:?}\n{}",
            server.all_output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// At least once and in order: the first delivery of each record comes in the order it
/// was written (a replay after a crash may repeat records, never reorder them).
pub(crate) fn assert_in_order(copies: &BTreeMap<String, Vec<i64>>) {
    for (key, seen) in copies {
        let mut first_deliveries: Vec<i64> = Vec::new();
        for n in seen {
            if !first_deliveries.contains(n) {
                first_deliveries.push(*n);
            }
        }
        let mut sorted = first_deliveries.clone();
        sorted.sort_unstable();
        assert_eq!(first_deliveries, sorted, "{key} out of order: {seen:?}");
    }
}

#[test]
fn a_stream_triggered_function_copies_records_in_order_and_a_failing_one_blocks_until_it_recovers()
{
    let server = Server::try_start_with_env(
        &test_app("stream-projector"),
        &[],
        &[("SERVERFUL_STREAM_RETRY_DELAY_MS", "50")],
    )
    .unwrap_or_else(|output| panic!("server did not start:\n{output}"));
    client(&server, &["write", "0", "29", "3"]);
    let copied = wait_for_copies(&server, 29, 3);
    assert_in_order(&copied);
    assert_eq!(
        copied["k0"],
        (0..=29).filter(|n| n % 3 == 0).collect::<Vec<_>>(),
        "exactly once without failures"
    );

    let event: Value = serde_json::from_str(&client(&server, &["last"])).expect("event JSON");
    let record = &event["Records"][0];
    assert_eq!(record["eventSource"], "aws:dynamodb");
    assert_eq!(record["eventVersion"], "1.1");
    assert_eq!(record["eventName"], "INSERT");
    assert_eq!(record["awsRegion"], "us-east-1");
    let source = record["eventSourceARN"].as_str().expect("eventSourceARN");
    assert!(
        source.contains(":table/projector-events/stream/"),
        "{source}"
    );
    assert_eq!(record["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
    assert!(record["dynamodb"]["SequenceNumber"].is_string());
    assert!(record["eventID"].is_string());
    assert!(
        event["Records"].as_array().expect("Records").len() <= 5,
        "BatchSize: 5"
    );

    // While the function fails, its batch blocks the shard: nothing after it is copied.
    client(&server, &["fail", "on"]);
    client(&server, &["write", "30", "35", "3"]);
    std::thread::sleep(Duration::from_millis(1500));
    let blocked = copies(&server);
    assert!(
        blocked.values().flatten().all(|n| *n < 30),
        "copied while failing: {blocked:?}"
    );
    client(&server, &["fail", "off"]);
    let recovered = wait_for_copies(&server, 35, 3);
    assert_in_order(&recovered);
    assert!(
        server.all_output().contains("stream batch failed"),
        "the failures are logged:\n{}",
        server.all_output()
    );

    // The AWS CLI lists the mapping and gets it by its UUID.
    let function = server.function_name("ProjectorFunction");
    let aws = |args: &[&str]| -> Value {
        let output = Command::new("aws")
            .args(args)
            .args(["--output", "json"])
            .envs(server.aws_env())
            .output()
            .expect("run the AWS CLI");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("JSON")
    };
    let listed = aws(&[
        "lambda",
        "list-event-source-mappings",
        "--function-name",
        &function,
    ]);
    let mappings = listed["EventSourceMappings"]
        .as_array()
        .expect("EventSourceMappings");
    assert_eq!(mappings.len(), 1, "{listed}");
    let mapping = &mappings[0];
    assert_eq!(mapping["BatchSize"], 5);
    assert_eq!(mapping["StartingPosition"], "TRIM_HORIZON");
    assert_eq!(mapping["State"], "Enabled");
    assert_eq!(
        mapping["FilterCriteria"]["Filters"][0]["Pattern"],
        r#"{"eventName": ["INSERT", "MODIFY"]}"#
    );
    assert!(mapping["FunctionArn"]
        .as_str()
        .expect("FunctionArn")
        .ends_with(&format!(":function:{function}")));
    assert_eq!(mapping["EventSourceArn"], record["eventSourceARN"]);
    let uuid = mapping["UUID"].as_str().expect("UUID");
    let got = aws(&["lambda", "get-event-source-mapping", "--uuid", uuid]);
    assert_eq!(&got["UUID"], &mapping["UUID"]);
}

#[test]
fn after_kill_9_every_record_is_processed_at_least_once_in_order_per_key() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let app = test_app("stream-projector");
    let (code, stdout, stderr) = server.admin(&[
        "deploy",
        app.to_str().expect("utf-8 path"),
        "--stack",
        "projector",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    client(&server, &["write", "0", "119", "4"]);
    // Kill it while the records are being copied.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let copied: usize = copies(&server).values().map(Vec::len).sum();
        if copied >= 10 {
            assert!(
                copied < 120,
                "the kill should land mid-processing: {copied} copied"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nothing copied:\n{}",
            server.all_output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-9", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    drop(server);

    let server = Server::start_serve(data.path(), &[]);
    let copied = wait_for_copies(&server, 119, 4);
    assert_in_order(&copied);
}

#[test]
fn a_mapping_to_a_table_without_a_stream_stops_the_start_with_what_to_fix() {
    let work = tempfile::tempdir().expect("work dir");
    let app = work.path().join("app");
    copy_dir(&test_app("stream-projector"), &app);
    let template = std::fs::read_to_string(app.join("template.yaml")).expect("template");
    let without_stream = template.replace(
        "      StreamSpecification:\n        StreamViewType: NEW_AND_OLD_IMAGES\n",
        "",
    );
    assert_ne!(template, without_stream);
    std::fs::write(app.join("template.yaml"), without_stream).expect("write template");
    let output = match Server::try_start(&app, &[]) {
        Ok(server) => panic!("started without a stream:\n{}", server.all_output()),
        Err(output) => output,
    };
    assert!(
        output.contains("ProjectorFunction/Changes of function ProjectorFunction: table projector-events has no stream; add StreamSpecification"),
        "{output}"
    );
}
