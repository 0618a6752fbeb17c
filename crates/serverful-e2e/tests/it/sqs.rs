//! SQS on the AWS endpoint (issue #16), driven by the clients people use: current boto3
//! (JSON protocol), an old botocore that speaks the query protocol (XML), the AWS CLI
//! and the JS SDK v3, plus hand-signed raw requests, and a `kill -9` during a
//! send-and-receive load that must lose no acknowledged message.
//!
//! Every test runs the `sqs` app; the client scripts live in its `clients/` folder and
//! print JSON the tests assert on.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use serverful_e2e::{test_app, test_deps_dir, Server};

/// The app every test here runs.
const APP: &str = "sqs";

fn client_script(name: &str) -> PathBuf {
    test_app(APP).join("clients").join(name)
}

/// Runs `program ARGS` with the server's endpoint, keys and region, and `overrides`;
/// returns its stdout as JSON, failing with all its output when it failed.
fn run_json(server: &Server, program: &str, args: &[&str], overrides: &[(&str, &str)]) -> Value {
    let output = Command::new(program)
        .args(args)
        .envs(server.aws_env())
        .env_remove("AWS_PROFILE")
        .env("AWS_MAX_ATTEMPTS", "1")
        .envs(overrides.iter().copied())
        .output()
        .unwrap_or_else(|error| {
            panic!("run {program}: {error} (scripts/install-test-deps.sh installs it)")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{program} failed:\n{stdout}{stderr}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("not JSON ({error}):\n{stdout}{stderr}"))
}

fn bundle(name: &str) -> String {
    let dir = test_deps_dir().join(name);
    assert!(
        dir.exists(),
        "{} is missing: run `bash scripts/install-test-deps.sh`",
        dir.display()
    );
    dir.to_str().expect("utf-8 path").to_owned()
}

/// What the boto3 tour saw, in either protocol: the same codes, since current SDKs read
/// the query protocol's codes from `x-amzn-query-error`.
fn check_tour(seen: &Value, prefix: &str, server: &Server) {
    let expected = json!({
        "url": format!("{}/123456789012/{prefix}-main", server.aws_url),
        "create_again": true,
        "create_different": "QueueAlreadyExists",
        "get_url": true,
        "missing_queue": "AWS.SimpleQueueService.NonExistentQueue",
        "bad_name": "InvalidParameterValue",
        "bad_attribute": "InvalidAttributeValue",
        "unknown_attribute": "InvalidAttributeName",
        "pages": [2, 1, false],
        "attributes": {
            "VisibilityTimeout": "40",
            "MaximumMessageSize": "1024",
            "QueueArn": format!("arn:aws:sqs:us-east-1:123456789012:{prefix}-main"),
        },
        // MD5 of the UTF-8 body, and SQS's digest of the three attributes (botocore and
        // the test both compute it independently of the server).
        "md5_body": "be50e8478cf24ff3595bc7307fb91b50",
        "md5_attributes": "b4276237acfac988fd50c580969dbe2e",
        "received": {
            "body": "héllo",
            "md5": "be50e8478cf24ff3595bc7307fb91b50",
            "md5_attributes": "b4276237acfac988fd50c580969dbe2e",
            "kind": "greeting",
            "blob": [0, 255],
            "receive_count": "1",
        },
    });
    let more = json!({
        "in_flight_hidden": true,
        "filtered_attributes": ["kind"],
        "stale_delete": null,
        "after_delete": {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"},
        "bad_receipt": "ReceiptHandleIsInvalid",
        "not_inflight": "InvalidParameterValue",
        "too_big": "InvalidParameterValue",
        "bad_characters": "InvalidMessageContents",
        "too_many_messages": "InvalidParameterValue",
        "too_long_wait": "InvalidParameterValue",
        "reserved_attribute": "InvalidParameterValue",
        "batch": {"successful": ["delayed", "good"], "failed": [["bad", "InvalidMessageContents", true]]},
        "batch_empty": "AWS.SimpleQueueService.EmptyBatchRequest",
        "batch_repeated": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        "batch_too_many": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "batch_bad_id": "AWS.SimpleQueueService.InvalidBatchEntryId",
        "batch_too_long": "AWS.SimpleQueueService.BatchRequestTooLong",
        "delete_batch": [["m"], [["bogus", "ReceiptHandleIsInvalid"]]],
        "not_in_flight": "AWS.SimpleQueueService.MessageNotInflight",
        "change_batch": [["held"], [["junk", "ReceiptHandleIsInvalid"]]],
        "counts": {"ApproximateNumberOfMessagesDelayed": "1"},
    });
    let rest = json!({
        "long_poll": {"body": "wake up", "fast": true},
        "empty_poll": {"messages": false, "waited_enough": true},
        "tags": {"team": "orders"},
        "policy_sids": ["share"],
        "permission_again": "InvalidParameterValue",
        "purge_again": "AWS.SimpleQueueService.PurgeQueueInProgress",
        "fifo_no_group": "MissingParameter",
        "fifo_bad_name": "InvalidParameterValue",
        "fifo_duplicate_same_id": true,
        "fifo_sequence": true,
        "fifo_first": ["a1"],
        "fifo_while_a_in_flight": ["b1"],
        "fifo_group_attribute": "a",
        "fifo_after_delete": ["a2"],
        "redrive_to_nowhere": "InvalidParameterValue",
        "receives_before_dead_letter": [1, 1, 0],
        "dead_letter": ["poison", format!("{prefix}-work")],
        "dead_letter_sources": [format!("{prefix}-work")],
        "task_handle": true,
        "moved": 1,
        "task_status": "COMPLETED",
        "cancel_finished": "AWS.SimpleQueueService.UnsupportedOperation",
        "moved_back": ["poison"],
        "move_from_non_dlq": "InvalidParameterValue",
        "deleted_queue": "AWS.SimpleQueueService.NonExistentQueue",
        "recreate_soon": "AWS.SimpleQueueService.QueueDeletedRecently",
    });
    let all = [expected, more, rest];
    for (key, value) in all
        .iter()
        .flat_map(|part| part.as_object().expect("object"))
    {
        assert_eq!(&seen[key], value, "{key} in {seen:#}");
    }
}

#[test]
fn boto3_runs_every_operation_in_the_json_protocol() {
    let server = Server::start(&test_app(APP), &[]);
    let script = client_script("tour.py");
    let seen = run_json(
        &server,
        "python3",
        &[script.to_str().expect("utf-8 path")],
        &[("PREFIX", "json")],
    );
    check_tour(&seen, "json", &server);
}

#[test]
fn old_botocore_runs_every_operation_in_the_query_protocol() {
    let server = Server::start(&test_app(APP), &[]);
    let script = client_script("tour.py");
    let seen = run_json(
        &server,
        "python3",
        &[script.to_str().expect("utf-8 path")],
        &[
            ("PREFIX", "query"),
            ("PYTHONPATH", &bundle("python-sqs-query")),
        ],
    );
    // botocore 1.31 predates SQS's JSON protocol: everything went as XML.
    assert!(
        seen["botocore"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.31.")),
        "{seen}"
    );
    check_tour(&seen, "query", &server);
}

#[test]
fn js_sdk_v3_checks_digests_and_reads_errors() {
    let server = Server::start(&test_app(APP), &[]);
    let node_modules = format!("{}/node_modules", bundle("node-sqs"));
    let script = client_script("js_sdk.mjs");
    let seen = run_json(
        &server,
        "node",
        &[script.to_str().expect("utf-8 path")],
        &[("PREFIX", "node"), ("NODE_PATH", &node_modules)],
    );
    assert_eq!(
        seen,
        json!({
            "url": format!("{}/123456789012/node-js", server.aws_url),
            "md5OfBody": "5209ed92765633620e45f6f93eb284a4",
            "md5OfSystemAttributes": "62a56dd927315f2b2e12832b84617ea5",
            "batchSuccessful": ["one", "two"],
            "bodies": ["batch one", "batch two", "from node"],
            "kind": "js",
            "raw": [1, 2, 3],
            "traceHeader": "Root=1-5759e988-bd862e3fe1be46a994272793",
            "deleted": 3,
            "attributes": {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"},
            "fifo": ["first", "second"],
            "fifoWithoutDeduplicationId": "InvalidParameterValue",
            "missingQueue": "QueueDoesNotExist",
            "missingQueueSend": "QueueDoesNotExist",
            "badReceipt": "ReceiptHandleIsInvalid",
            "emptyBatch": "EmptyBatchRequest",
        })
    );
}

#[test]
fn aws_cli_creates_sends_receives_and_reports_errors() {
    let server = Server::start(&test_app(APP), &[]);
    let cli = |args: &[&str]| -> std::process::Output {
        let mut full = vec!["sqs"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["--endpoint-url", &server.aws_url, "--output", "json"]);
        Command::new("aws")
            .args(&full)
            .envs(server.aws_env())
            .env_remove("AWS_PROFILE")
            .env("AWS_MAX_ATTEMPTS", "1")
            .output()
            .expect("run aws (scripts/install-test-deps.sh installs it)")
    };
    let json_of = |output: std::process::Output| -> Value {
        assert!(
            output.status.success(),
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("JSON")
    };
    let created = json_of(cli(&[
        "create-queue",
        "--queue-name",
        "cli",
        "--attributes",
        "DelaySeconds=0,VisibilityTimeout=10",
    ]));
    let url = created["QueueUrl"].as_str().expect("QueueUrl").to_owned();
    assert_eq!(url, format!("{}/123456789012/cli", server.aws_url));
    let sent = json_of(cli(&[
        "send-message",
        "--queue-url",
        &url,
        "--message-body",
        "from the cli",
    ]));
    assert_eq!(sent["MD5OfMessageBody"], "adc1c5502a75b5c1afdc54d0d67abd6f");
    let received = json_of(cli(&[
        "receive-message",
        "--queue-url",
        &url,
        "--wait-time-seconds",
        "1",
        "--attribute-names",
        "All",
    ]));
    let message = &received["Messages"][0];
    assert_eq!(message["Body"], "from the cli");
    assert_eq!(message["Attributes"]["ApproximateReceiveCount"], "1");
    let handle = message["ReceiptHandle"].as_str().expect("ReceiptHandle");
    assert!(cli(&[
        "delete-message",
        "--queue-url",
        &url,
        "--receipt-handle",
        handle
    ])
    .status
    .success());
    let attributes = json_of(cli(&[
        "get-queue-attributes",
        "--queue-url",
        &url,
        "--attribute-names",
        "All",
    ]));
    assert_eq!(attributes["Attributes"]["ApproximateNumberOfMessages"], "0");
    assert_eq!(attributes["Attributes"]["VisibilityTimeout"], "10");
    let listed = json_of(cli(&["list-queues"]));
    assert_eq!(listed["QueueUrls"], json!([url]));

    let missing = cli(&["get-queue-url", "--queue-name", "absent"]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("AWS.SimpleQueueService.NonExistentQueue"),
        "{stderr}"
    );
    let bad = cli(&[
        "send-message",
        "--queue-url",
        &url,
        "--message-body",
        "x",
        "--delay-seconds",
        "901",
    ]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("InvalidParameterValue"), "{stderr}");
    assert!(cli(&["delete-queue", "--queue-url", &url]).status.success());
}

#[test]
fn raw_query_and_json_requests_get_aws_answers_never_a_500() {
    let server = Server::start(&test_app(APP), &[]);
    let script = client_script("raw.py");
    let seen = run_json(
        &server,
        "python3",
        &[script.to_str().expect("utf-8 path")],
        &[],
    );
    assert_eq!(
        seen,
        json!({
            "create": [200, true],
            "get_list": [200, true, true],
            "send_to_path": [200, true],
            "receive_from_path": [200, true],
            "unknown_action": [400, true],
            "missing_queue_xml": [400, true, true],
            "missing_parameter": [400, true],
            "bad_signature_xml": [403, true],
            "json_missing_queue": [400, "com.amazonaws.sqs#QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue;Sender"],
            "json_malformed": [400, "com.amazon.coral.service#SerializationException"],
            "json_unknown": [400, "com.amazon.coral.service#UnknownOperationException"],
            "json_wrong_type": [400, "com.amazonaws.sqs#InvalidParameterValueException"],
        })
    );
}

/// Reads every line of the files in `dir` whose names start with `prefix`.
fn lines_of(dir: &std::path::Path, prefix: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read output dir") {
        let entry = entry.expect("dir entry");
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let text = std::fs::read_to_string(entry.path()).expect("read output");
            lines.extend(text.lines().map(str::to_owned));
        }
    }
    lines
}

#[test]
fn kill_9_during_send_and_receive_load_loses_no_acknowledged_message() {
    let data = tempfile::tempdir().expect("data dir");
    let out = tempfile::tempdir().expect("output dir");
    let server = Server::start_serve(data.path(), &[]);
    let script = client_script("load.py");
    let mut load = Command::new("python3")
        .args([
            script.to_str().expect("utf-8 path"),
            "load",
            "crash",
            out.path().to_str().expect("utf-8 path"),
        ])
        .envs(server.aws_env())
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the load");
    // Let sends and receives run, then kill the server without warning.
    let started = std::time::Instant::now();
    while lines_of(out.path(), "acked").len() < 300 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill")
        .args(["-9", &server.pid().to_string()])
        .status()
        .expect("kill -9");
    assert!(status.success());
    let load_status = load.wait().expect("load ends once the server is gone");
    assert!(load_status.success(), "the load script failed");
    drop(server);

    let acked = lines_of(out.path(), "acked");
    let consumed: HashSet<String> = lines_of(out.path(), "consumed").into_iter().collect();
    assert!(
        acked.len() >= 300,
        "only {} sends were acknowledged",
        acked.len()
    );
    assert!(!consumed.is_empty(), "the consumers received nothing");

    let server = Server::start_serve(data.path(), &[]);
    let drained = run_json(
        &server,
        "python3",
        &[script.to_str().expect("utf-8 path"), "drain", "crash"],
        &[],
    );
    let drained: HashSet<String> = drained
        .as_array()
        .expect("list of bodies")
        .iter()
        .filter_map(|body| body.as_str().map(str::to_owned))
        .collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|body| !consumed.contains(*body) && !drained.contains(*body))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages were lost, e.g. {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
}

/// The boto3 tour of every operation passes with the queues in PostgreSQL (cluster
/// mode, issue 22), as with SQLite.
#[test]
fn boto3_runs_every_operation_with_the_queues_in_postgresql() {
    let postgres = serverful_e2e::postgres::Postgres::start();
    let url = postgres.url();
    let server = Server::try_start_with_env(&test_app(APP), &[], &[("SERVERFUL_STORE", &url)])
        .unwrap_or_else(|output| panic!("server did not start:\n{output}"));
    let script = client_script("tour.py");
    let seen = run_json(
        &server,
        "python3",
        &[script.to_str().expect("utf-8 path")],
        &[("PREFIX", "json")],
    );
    check_tour(&seen, "json", &server);
    assert_ne!(
        postgres.psql("SELECT count(*) FROM sqs_queues"),
        "0",
        "the queues are in PostgreSQL"
    );
}
