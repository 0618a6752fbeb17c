//! Event-source mappings made at run time (issue 15), as the AWS CLI and Terraform-style
//! tools make them: `create-event-source-mapping` on a stream the template does not map,
//! with a tumbling window whose state the function carries from batch to batch; get,
//! list, update, a conflicting second mapping, bad input with Lambda's errors; the mapping
//! survives a restart; delete stops it.

use std::time::{Duration, Instant};

use serde_json::Value;
use serverful_e2e::{test_app, Server};

/// A boto3 client of the test app's tables: `write FIRST LAST` puts items `FIRST..=LAST`;
/// `results` prints every item of the results table as JSON.
const CLIENT: &str = r#"
import json
import sys

import boto3

db = boto3.client("dynamodb")
command = sys.argv[1]
if command == "write":
    first, last = int(sys.argv[2]), int(sys.argv[3])
    for n in range(first, last + 1):
        db.put_item(TableName="windows-events", Item={"id": {"S": f"e{n}"}})
    print("null")
elif command == "results":
    items = db.scan(TableName="windows-results", ConsistentRead=True)["Items"]
    print(json.dumps(items))
"#;

fn client(server: &Server, args: &[&str]) -> String {
    server.python(CLIENT, args).to_string()
}

fn aws_ok(server: &Server, args: &[&str]) -> Value {
    let (ok, stdout, stderr) = server.aws_cli(args);
    assert!(ok, "aws {args:?}: {stderr}\n{}", server.all_output());
    stdout
}

fn aws_error(server: &Server, args: &[&str]) -> String {
    let (ok, stdout, stderr) = server.aws_cli(args);
    assert!(!ok, "aws {args:?} should fail: {stdout}");
    stderr
}

/// The results table's window totals (`window-…` items): (count, batches) each.
fn windows(server: &Server) -> Vec<(i64, i64)> {
    let items: Vec<Value> = serde_json::from_str(&client(server, &["results"])).expect("JSON");
    items
        .iter()
        .filter(|item| {
            item["id"]["S"]
                .as_str()
                .is_some_and(|id| id.starts_with("window-"))
        })
        .map(|item| {
            let number = |name: &str| {
                item[name]["N"]
                    .as_str()
                    .and_then(|text| text.parse::<i64>().ok())
                    .unwrap_or_default()
            };
            (number("count"), number("batches"))
        })
        .collect()
}

fn calls(server: &Server) -> Vec<Value> {
    let items: Vec<Value> = serde_json::from_str(&client(server, &["results"])).expect("JSON");
    items
        .iter()
        .filter(|item| {
            item["id"]["S"]
                .as_str()
                .is_some_and(|id| id.starts_with("call-"))
        })
        .filter_map(|item| serde_json::from_str(item["event"]["S"].as_str()?).ok())
        .collect()
}

fn wait_until(server: &Server, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            server.all_output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_mapping_made_with_the_aws_cli_runs_a_tumbling_window_survives_a_restart_and_goes_when_deleted()
{
    let data = tempfile::tempdir().expect("data dir");
    let env = [("SERVERFUL_STREAM_RETRY_DELAY_MS", "50")];
    let server = Server::start_serve_with_env(data.path(), &env);
    let app = test_app("stream-windows");
    let (code, stdout, stderr) = server.admin(&[
        "deploy",
        app.to_str().expect("utf-8 path"),
        "--stack",
        "windows",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let described = aws_ok(
        &server,
        &[
            "dynamodbstreams",
            "list-streams",
            "--table-name",
            "windows-events",
        ],
    );
    let stream_arn = described["Streams"][0]["StreamArn"]
        .as_str()
        .expect("StreamArn")
        .to_owned();

    // Bad input answers with Lambda's errors, and makes nothing.
    let unknown = aws_error(
        &server,
        &[
            "lambda",
            "create-event-source-mapping",
            "--function-name",
            "no-such-function",
            "--event-source-arn",
            &stream_arn,
            "--starting-position",
            "LATEST",
        ],
    );
    assert!(
        unknown.contains("ResourceNotFoundException") && unknown.contains("Function not found"),
        "{unknown}"
    );
    let no_stream = aws_error(
        &server,
        &[
            "lambda", "create-event-source-mapping", "--function-name", "windows-counter",
            "--event-source-arn",
            "arn:aws:dynamodb:us-east-1:123456789012:table/windows-results/stream/2020-01-01T00:00:00.000",
            "--starting-position", "LATEST",
        ],
    );
    assert!(
        no_stream.contains("InvalidParameterValueException")
            && no_stream.contains("Stream not found"),
        "{no_stream}"
    );
    let too_big = aws_error(
        &server,
        &[
            "lambda",
            "create-event-source-mapping",
            "--function-name",
            "windows-counter",
            "--event-source-arn",
            &stream_arn,
            "--starting-position",
            "LATEST",
            "--batch-size",
            "20000",
            "--parallelization-factor",
            "11",
        ],
    );
    assert!(
        too_big.contains("ValidationException")
            && too_big.contains("2 validation errors detected")
            && too_big.contains("Value '20000' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000"),
        "{too_big}"
    );
    let bad_filter = aws_error(
        &server,
        &[
            "lambda",
            "create-event-source-mapping",
            "--function-name",
            "windows-counter",
            "--event-source-arn",
            &stream_arn,
            "--starting-position",
            "LATEST",
            "--filter-criteria",
            r#"{"Filters": [{"Pattern": "{\"eventName\": \"INSERT\"}"}]}"#,
        ],
    );
    assert!(
        bad_filter.contains("InvalidParameterValueException")
            && bad_filter.contains("Invalid filter pattern definition"),
        "{bad_filter}"
    );
    let listed = aws_ok(&server, &["lambda", "list-event-source-mappings"]);
    assert_eq!(
        listed["EventSourceMappings"],
        serde_json::json!([]),
        "{listed}"
    );

    let created = aws_ok(
        &server,
        &[
            "lambda",
            "create-event-source-mapping",
            "--function-name",
            "windows-counter",
            "--event-source-arn",
            &stream_arn,
            "--starting-position",
            "TRIM_HORIZON",
            "--batch-size",
            "2",
            "--tumbling-window-in-seconds",
            "2",
        ],
    );
    assert_eq!(created["State"], "Creating", "{created}");
    assert_eq!(created["TumblingWindowInSeconds"], 2);
    assert_eq!(created["BatchSize"], 2);
    assert_eq!(created["EventSourceArn"], stream_arn.as_str());
    let uuid = created["UUID"].as_str().expect("UUID").to_owned();
    assert!(created["FunctionArn"]
        .as_str()
        .expect("FunctionArn")
        .ends_with(":function:windows-counter"));

    // Ten records in batches of two: the window's state carries the count across batches,
    // and the final invocation when the window closes sees the total.
    client(&server, &["write", "1", "10"]);
    wait_until(&server, "the window totals", || {
        windows(&server).iter().map(|(count, _)| count).sum::<i64>() == 10
    });
    let totals = windows(&server);
    assert!(
        totals
            .iter()
            .any(|(count, batches)| *count > 2 && *batches > 1),
        "the state was carried across batches: {totals:?}"
    );
    let events = calls(&server);
    let final_call = events
        .iter()
        .find(|event| event["isFinalInvokeForWindow"] == true)
        .expect("a final invocation");
    assert_eq!(final_call["Records"], serde_json::json!([]));
    assert_eq!(final_call["isWindowTerminatedEarly"], false);
    assert_eq!(final_call["eventSourceARN"], stream_arn.as_str());
    assert!(final_call["shardId"]
        .as_str()
        .is_some_and(|id| id.starts_with("shardId-")));
    let start = final_call["window"]["start"]
        .as_str()
        .expect("window.start");
    let end = final_call["window"]["end"].as_str().expect("window.end");
    assert!(start.ends_with('Z') && end > start, "{start} .. {end}");

    // A second mapping of the same stream to the same function is a conflict.
    let conflict = aws_error(
        &server,
        &[
            "lambda",
            "create-event-source-mapping",
            "--function-name",
            "windows-counter",
            "--event-source-arn",
            &stream_arn,
            "--starting-position",
            "LATEST",
        ],
    );
    assert!(
        conflict.contains("ResourceConflictException") && conflict.contains(&uuid),
        "{conflict}"
    );

    let updated = aws_ok(
        &server,
        &[
            "lambda",
            "update-event-source-mapping",
            "--uuid",
            &uuid,
            "--batch-size",
            "3",
            "--no-enabled",
        ],
    );
    assert_eq!(updated["State"], "Updating", "{updated}");
    let got = aws_ok(
        &server,
        &["lambda", "get-event-source-mapping", "--uuid", &uuid],
    );
    assert_eq!(got["State"], "Disabled", "{got}");
    assert_eq!(got["BatchSize"], 3);
    assert_eq!(got["TumblingWindowInSeconds"], 2);

    // A disabled mapping reads nothing; enabled again after a restart, it goes on from its
    // checkpoint.
    client(&server, &["write", "11", "12"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        windows(&server).iter().map(|(count, _)| count).sum::<i64>(),
        10
    );
    drop(server);
    let server = Server::start_serve_with_env(data.path(), &env);
    let listed = aws_ok(
        &server,
        &[
            "lambda",
            "list-event-source-mappings",
            "--function-name",
            "windows-counter",
        ],
    );
    assert_eq!(
        listed["EventSourceMappings"][0]["UUID"],
        uuid.as_str(),
        "{listed}"
    );
    aws_ok(
        &server,
        &[
            "lambda",
            "update-event-source-mapping",
            "--uuid",
            &uuid,
            "--enabled",
        ],
    );
    wait_until(&server, "the records written while disabled", || {
        windows(&server).iter().map(|(count, _)| count).sum::<i64>() == 12
    });

    let deleted = aws_ok(
        &server,
        &["lambda", "delete-event-source-mapping", "--uuid", &uuid],
    );
    assert_eq!(deleted["State"], "Deleting", "{deleted}");
    let gone = aws_error(
        &server,
        &["lambda", "get-event-source-mapping", "--uuid", &uuid],
    );
    assert!(gone.contains("ResourceNotFoundException"), "{gone}");
    let before = calls(&server).len();
    client(&server, &["write", "13", "14"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        calls(&server).len(),
        before,
        "a deleted mapping calls nothing"
    );
}
