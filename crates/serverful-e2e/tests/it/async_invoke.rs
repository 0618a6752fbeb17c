//! Asynchronous invocation through the Lambda API (issue #15): `aws lambda invoke
//! --invocation-type Event` answers 202 once the event is queued durably, the function
//! runs, failures are retried and reported to the OnFailure destination, `DryRun`
//! answers 204, and a server killed with events queued delivers every one after restart.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use serverful_e2e::{test_app, Server};

/// Runs the AWS CLI against the server: (exit code, stdout, stderr).
fn aws(server: &Server, args: &[&str]) -> (i32, String, String) {
    let output = Command::new("aws")
        .args(args)
        .envs(server.aws_env())
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap_or_else(|error| {
            panic!("run aws: {error} (scripts/install-test-deps.sh installs it)")
        });
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `aws lambda invoke --invocation-type TYPE`: the CLI's printed result.
fn invoke(server: &Server, function: &str, invocation_type: &str, payload: &str) -> Value {
    let out = tempfile::NamedTempFile::new().expect("output file");
    let (code, stdout, stderr) = aws(
        server,
        &[
            "lambda",
            "invoke",
            "--function-name",
            function,
            "--invocation-type",
            invocation_type,
            "--payload",
            payload,
            out.path().to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}\n{}", server.all_output());
    serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {stdout}"))
}

/// Every item of the table, by id.
fn items(server: &Server, table: &str) -> Vec<(String, Value)> {
    let (code, stdout, stderr) = aws(server, &["dynamodb", "scan", "--table-name", table]);
    assert_eq!(code, 0, "{stderr}");
    let scanned: Value = serde_json::from_str(&stdout).expect("JSON");
    let mut items: Vec<(String, Value)> = scanned["Items"]
        .as_array()
        .expect("Items")
        .iter()
        .map(|item| {
            (
                item["id"]["S"].as_str().expect("id").to_owned(),
                item.clone(),
            )
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items
}

/// Waits until `done` holds for the table's items, or panics with what was there.
fn wait_for_items(
    server: &Server,
    table: &str,
    timeout: Duration,
    done: impl Fn(&[(String, Value)]) -> bool,
) -> Vec<(String, Value)> {
    let deadline = Instant::now() + timeout;
    loop {
        let found = items(server, table);
        if done(&found) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; items: {:?}\n{}",
            found.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            server.all_output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_event_is_accepted_at_once_runs_and_a_dry_run_only_checks() {
    let server = Server::start(&test_app("async"), &[]);
    let table = server.output("EventsTableName");
    let recorder = server.function_name("RecorderFunction");

    let result = invoke(&server, &recorder, "Event", r#"{"id":"first"}"#);
    assert_eq!(result["StatusCode"], 202, "{result}");
    let found = wait_for_items(&server, &table, Duration::from_secs(30), |items| {
        items.iter().any(|(id, _)| id == "first")
    });
    assert_eq!(found.len(), 1);

    // DryRun: 204, and nothing runs.
    let result = invoke(&server, &recorder, "DryRun", r#"{"id":"dry"}"#);
    assert_eq!(result["StatusCode"], 204, "{result}");
    // An unknown function is refused whatever the type.
    let (code, _, stderr) = aws(
        &server,
        &[
            "lambda",
            "invoke",
            "--function-name",
            "nope",
            "--invocation-type",
            "DryRun",
            "/dev/null",
        ],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("ResourceNotFoundException"), "{stderr}");
    std::thread::sleep(Duration::from_secs(1));
    assert!(!items(&server, &table).iter().any(|(id, _)| id == "dry"));
}

#[test]
fn a_failing_event_is_retried_then_recorded_at_its_on_failure_destination() {
    let server = Server::try_start_with_env(
        &test_app("async"),
        &[],
        &[("SERVERFUL_ASYNC_RETRY_DELAY_MS", "300")],
    )
    .unwrap_or_else(|output| panic!("server did not start:\n{output}"));
    let table = server.output("EventsTableName");
    let failing = server.function_name("FailingFunction");

    let result = invoke(&server, &failing, "Event", r#"{"id":"doomed"}"#);
    assert_eq!(result["StatusCode"], 202, "{result}");
    let found = wait_for_items(&server, &table, Duration::from_secs(60), |items| {
        items.iter().any(|(id, _)| id.starts_with("record-"))
    });
    // MaximumRetryAttempts 1: two attempts, then the record.
    let attempts = found
        .iter()
        .filter(|(id, _)| id.starts_with("attempt-doomed-"))
        .count();
    assert_eq!(attempts, 2, "{found:?}");
    let (_, item) = found
        .iter()
        .find(|(id, _)| id.starts_with("record-"))
        .expect("a record");
    let record: Value =
        serde_json::from_str(item["body"]["S"].as_str().expect("body")).expect("record JSON");
    assert_eq!(record["version"], "1.0");
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 2);
    assert_eq!(
        record["requestContext"]["functionArn"],
        format!("arn:aws:lambda:us-east-1:123456789012:function:{failing}:$LATEST")
    );
    assert_eq!(
        record["requestPayload"],
        serde_json::json!({"id": "doomed"})
    );
    assert_eq!(record["responseContext"]["statusCode"], 200);
    assert_eq!(record["responseContext"]["executedVersion"], "$LATEST");
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
    assert_eq!(
        record["responsePayload"]["errorMessage"], "cannot handle doomed",
        "{record}"
    );
    assert!(record["timestamp"]
        .as_str()
        .is_some_and(|at| at.ends_with('Z')));
}

#[test]
fn a_killed_server_delivers_every_queued_event_after_restart() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let app = test_app("async");
    let (code, stdout, stderr) = server.admin(&[
        "deploy",
        app.to_str().expect("utf-8 path"),
        "--stack",
        "queued",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let slow = server.function_name("SlowFunction");
    let (code, stdout, _) = aws(&server, &["dynamodb", "list-tables"]);
    assert_eq!(code, 0);
    let tables: Value = serde_json::from_str(&stdout).expect("JSON");
    let table = tables["TableNames"]
        .as_array()
        .expect("TableNames")
        .iter()
        .filter_map(Value::as_str)
        .find(|name| name.contains("-EventsTable-"))
        .expect("the events table")
        .to_owned();

    // One at a time, 1.5 s each: most are still queued when the server is killed.
    let ids: Vec<String> = (0..8).map(|n| format!("event-{n:02}")).collect();
    for id in &ids {
        let result = invoke(&server, &slow, "Event", &format!(r#"{{"id":"{id}"}}"#));
        assert_eq!(result["StatusCode"], 202, "{result}");
    }
    let _ = Command::new("kill")
        .args(["-9", &server.pid().to_string()])
        .status();
    drop(server);
    let server = Server::start_serve(data.path(), &[]);
    let before = items(&server, &table).len();
    assert!(
        before < ids.len(),
        "the kill came after every event was delivered"
    );
    let found = wait_for_items(&server, &table, Duration::from_secs(60), |items| {
        items.len() >= ids.len()
    });
    let found: Vec<String> = found.into_iter().map(|(id, _)| id).collect();
    assert_eq!(found, ids);
}

#[test]
fn eventbridge_destinations_put_the_record_on_the_bus_for_its_rules() {
    let server = Server::try_start_with_env(&test_app("async-eventbridge"), &[], &[])
        .unwrap_or_else(|output| panic!("server did not start:\n{output}"));
    let worker = server.function_name("Worker");
    for (name, fail) in [("fine", false), ("broken", true)] {
        let payload = format!(r#"{{"name":"{name}","fail":{fail}}}"#);
        let result = invoke(&server, &worker, "Event", &payload);
        assert_eq!(result["StatusCode"], 202, "{result}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let results = loop {
        let results: Vec<Value> = server
            .all_output()
            .lines()
            .filter_map(|line| line.split_once("RESULT ").map(|(_, json)| json))
            .map(|json| serde_json::from_str(json).expect("the recorder logs JSON"))
            .collect();
        if results.len() >= 2 || Instant::now() > deadline {
            break results;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(results.len(), 2, "{}", server.all_output());
    let by_name = |name: &str| {
        results
            .iter()
            .find(|event| event["detail"]["requestPayload"]["name"] == name)
            .unwrap_or_else(|| panic!("no result for {name}: {results:?}"))
    };
    let fine = by_name("fine");
    assert_eq!(fine["source"], "lambda");
    assert_eq!(
        fine["detail-type"],
        "Lambda Function Invocation Result - Success"
    );
    assert_eq!(fine["detail"]["requestContext"]["condition"], "Success");
    assert_eq!(fine["detail"]["responsePayload"]["worked"], "fine");
    let resources = fine["resources"].as_array().expect("resources");
    assert!(
        resources[0]
            .as_str()
            .is_some_and(|arn| arn.ends_with(":event-bus/default"))
            && resources[1]
                .as_str()
                .is_some_and(|arn| arn.contains(&format!(":function:{worker}"))),
        "{fine}"
    );
    let broken = by_name("broken");
    assert_eq!(
        broken["detail-type"],
        "Lambda Function Invocation Result - Failure"
    );
    assert_eq!(
        broken["detail"]["requestContext"]["condition"],
        "RetriesExhausted"
    );
    assert_eq!(
        broken["detail"]["responseContext"]["functionError"],
        "Unhandled"
    );
}
