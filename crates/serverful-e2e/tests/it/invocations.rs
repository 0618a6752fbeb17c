//! Invocation records and replay (issue 19, "See everything"): a call that failed is found
//! with `serverful invocations --errors`, shown whole with `invocations show`, and run
//! again with `invoke --replay`, which reproduces the failure and, once a fix is deployed,
//! shows the new result beside the recorded one. Records name their trigger (an HTTP
//! route, a schedule, a replay); named headers and fields are redacted; a 5 MB event is
//! kept capped and cannot be replayed; unknown ids fail clearly; recording can be turned
//! off per function and server-wide.

use std::path::Path;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;
use serverful_e2e::{run_serverful, Server};

use crate::client;

const TEMPLATE: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    Timeout: 10
Resources:
  Calc:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: calc/
      Events:
        Post:
          Type: HttpApi
          Properties:
            Path: /calc
            Method: POST
  Quiet:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: calc/
      Environment:
        Variables:
          SERVERFUL_RECORD_INVOCATIONS: "false"
      Events:
        Get:
          Type: HttpApi
          Properties:
            Path: /quiet
            Method: POST
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: calc-jobs
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: calc/
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 1
  Tick:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: calc/
      Events:
        EveryMinute:
          Type: Schedule
          Properties:
            Name: every-minute
            Schedule: rate(1 minute)
"#;

/// Doubles `n` from the JSON body; version 1 fails on 13.
const BROKEN: &str = r#"import json

def handler(event, context):
    body = json.loads(event.get("body") or "{}") if "body" in event else {}
    n = body.get("n", 0)
    print(f"calc n={n}")
    if n == 13:
        raise ValueError("unlucky number 13")
    return {"statusCode": 200, "body": json.dumps({"double": n * 2})}
"#;

/// Version 2: 13 is fine.
const FIXED: &str = r#"import json

def handler(event, context):
    body = json.loads(event.get("body") or "{}") if "body" in event else {}
    n = body.get("n", 0)
    print(f"calc n={n} (fixed)")
    return {"statusCode": 200, "body": json.dumps({"double": n * 2, "fixed": True})}
"#;

fn write_app(dir: &Path, code: &str) {
    std::fs::create_dir_all(dir.join("calc")).expect("app folder");
    std::fs::write(dir.join("template.yaml"), TEMPLATE).expect("template");
    std::fs::write(dir.join("calc/app.py"), code).expect("handler");
}

/// `invocations ARGS --json` through the admin API: one object per record.
fn records(server: &Server, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["invocations"];
    all.extend_from_slice(args);
    all.push("--json");
    let (code, stdout, stderr) = server.admin(&all);
    assert_eq!(code, 0, "{stdout}{stderr}");
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

/// Waits until `invocations ARGS` lists a record `matches` accepts (records are written
/// a moment after the call).
fn wait_for_record(server: &Server, args: &[&str], matches: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed = records(server, args);
        if let Some(record) = listed.iter().find(|record| matches(record)) {
            return record.clone();
        }
        assert!(Instant::now() < deadline, "no such record in {listed:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_failure_is_recorded_found_shown_and_replayed_before_and_after_the_fix() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve_with_env(
        data.path(),
        &[
            ("SERVERFUL_REDACT", "x-secret,password"),
            ("SERVERFUL_INVOCATION_PAYLOAD_CAP", "64KB"),
            ("SERVERFUL_SCHEDULE_MINUTE_MS", "300"),
        ],
    );
    let app = tempfile::tempdir().expect("app dir");
    write_app(app.path(), BROKEN);
    let app_path = app.path().to_str().expect("utf-8 path");
    let (code, stdout, stderr) = server.admin(&["deploy", app_path, "--stack", "calc"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let host = Regex::new(r"ServerlessHttpApi: http://([a-z0-9]+\.execute-api\.localhost)")
        .expect("regex")
        .captures(&stdout)
        .unwrap_or_else(|| panic!("the deploy lists the API's URL:\n{stdout}"))[1]
        .to_owned();
    let api_id = host.split('.').next().expect("api id").to_owned();
    let http = client();
    let post = |path: &str, body: String| {
        http.post(server.url(path))
            .header("Host", &host)
            .header("Content-Type", "application/json")
            .header("X-Secret", "s3cret-header")
            .body(body)
            .send()
            .expect("POST")
    };
    assert_eq!(post("/calc", r#"{"n": 2}"#.to_owned()).status(), 200);
    let failed = post("/calc", r#"{"n": 13, "password": "hunter2"}"#.to_owned());
    assert_eq!(failed.status(), 502);
    assert_eq!(post("/quiet", r#"{"n": 1}"#.to_owned()).status(), 200);

    // --errors finds the failure, named by its route.
    let route = format!("route POST /calc (api {api_id})");
    let failure = wait_for_record(&server, &["--errors"], |record| {
        record["function"] == "Calc"
    });
    assert_eq!(failure["outcome"], "error", "{failure}");
    assert_eq!(failure["errorType"], "ValueError", "{failure}");
    assert_eq!(failure["trigger"], route.as_str(), "{failure}");
    let id = failure["id"].as_str().expect("an id").to_owned();
    let all_calc = records(&server, &["Calc", "--stack", "calc"]);
    assert_eq!(all_calc.len(), 2, "{all_calc:#?}");
    assert_eq!(
        all_calc[0]["id"],
        id.as_str(),
        "newest first: {all_calc:#?}"
    );
    assert_eq!(all_calc[1]["outcome"], "success");

    // The table a user reads.
    let (code, table, stderr) = server.admin(&["invocations", "Calc"]);
    assert_eq!(code, 0, "{stderr}");
    let header = table.lines().next().unwrap_or_default();
    for column in ["TIME", "ID", "FUNCTION", "TRIGGER", "OUTCOME", "DURATION"] {
        assert!(header.contains(column), "{table}");
    }
    assert!(
        table.contains(&id) && table.contains("error (ValueError)"),
        "{table}"
    );

    // show: the event (redacted), the error, the logs and timings.
    let (code, shown, stderr) = server.admin(&["invocations", "show", &id, "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let record: Value = serde_json::from_str(&shown).expect("the record as JSON");
    let event: Value =
        serde_json::from_str(record["event"]["text"].as_str().expect("event text")).expect("event");
    assert_eq!(event["headers"]["x-secret"], "***", "{event}");
    let body: Value = serde_json::from_str(event["body"].as_str().expect("body")).expect("body");
    assert_eq!(body, serde_json::json!({"n": 13, "password": "***"}));
    assert!(!shown.contains("hunter2") && !shown.contains("s3cret-header"));
    let error = record["error"]["text"].as_str().expect("error text");
    assert!(error.contains("unlucky number 13"), "{error}");
    let logs: Vec<&str> = record["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        logs.iter()
            .any(|line| line.starts_with(&format!("START RequestId: {id}"))),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|line| line.contains("calc n=13")),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|line| line.starts_with("REPORT")),
        "{logs:?}"
    );
    assert!(record["timings"]["durationMs"].as_f64().expect("duration") > 0.0);
    assert!(record["timings"]["billedMs"].as_u64().expect("billed") >= 1);
    assert_eq!(record["deploy"], 1);
    assert_eq!(
        record["functionName"]
            .as_str()
            .map(|name| name.starts_with("calc-Calc-")),
        Some(true)
    );
    assert!(record["instance"]
        .as_str()
        .is_some_and(|instance| instance.starts_with("pid ")));
    let (code, text, _) = server.admin(&["invocations", "show", &id]);
    assert_eq!(code, 0);
    assert!(
        text.contains("unlucky number 13") && text.contains("\"***\""),
        "{text}"
    );

    // The function that opted out has no records.
    assert_eq!(records(&server, &["Quiet"]), Vec::<Value>::new());

    // Replay reproduces the failure (exit 1), side by side.
    let (code, replayed, stderr) = server.admin(&["invoke", "--replay", &id]);
    assert_eq!(code, 1, "{replayed}{stderr}");
    let outcome_row = replayed
        .lines()
        .find(|line| line.starts_with("outcome"))
        .unwrap_or_else(|| panic!("{replayed}"));
    assert_eq!(
        outcome_row.split_whitespace().collect::<Vec<_>>(),
        ["outcome", "error", "error"]
    );
    assert!(replayed.contains("unlucky number 13"), "{replayed}");

    // After the fix is deployed, the same event succeeds, beside the recorded failure.
    write_app(app.path(), FIXED);
    let (code, stdout, stderr) = server.admin(&["deploy", app_path, "--stack", "calc"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, replayed, stderr) = server.admin(&["invoke", "--replay", &id]);
    assert_eq!(code, 0, "{replayed}{stderr}");
    let row = |name: &str| -> Vec<String> {
        replayed
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row:\n{replayed}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(row("outcome"), ["outcome", "error", "success"]);
    assert_eq!(row("deploy"), ["deploy", "1", "2"]);
    assert!(replayed.contains("unlucky number 13"), "{replayed}");
    assert!(replayed.contains(r#"\"fixed\": true"#), "{replayed}");

    // `serverful invoke --endpoint` is a trigger of its own.
    let event_file = app.path().join("event.json");
    std::fs::write(&event_file, r#"{"body": "{\"n\": 5}"}"#).expect("event file");
    let (code, stdout, stderr) = server.admin(&[
        "invoke",
        "Calc",
        "--event",
        event_file.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let from_cli = wait_for_record(&server, &["Calc"], |record| record["trigger"] == "cli");
    assert_eq!(from_cli["outcome"], "success", "{from_cli}");

    // Both replays are records of their own.
    let replays: Vec<Value> = records(&server, &["Calc"])
        .into_iter()
        .filter(|record| record["trigger"] == format!("replay of {id}").as_str())
        .collect();
    assert_eq!(replays.len(), 2, "{replays:#?}");
    assert_eq!(replays[0]["outcome"], "success");
    assert_eq!(replays[0]["replayOf"], id.as_str());
    assert_eq!(replays[1]["outcome"], "error");

    // A schedule's invocations name it.
    let tick = wait_for_record(&server, &["Tick"], |record| record["outcome"] == "success");
    assert_eq!(tick["trigger"], "schedule every-minute", "{tick}");

    // A 5 MB event is kept capped, and refused for replay.
    let big = format!(r#"{{"n": 4, "pad": "{}"}}"#, "x".repeat(5 * 1024 * 1024));
    assert_eq!(post("/calc", big).status(), 200);
    let capped = wait_for_record(&server, &["Calc"], |record| {
        record["outcome"] == "success" && record["trigger"] == route.as_str() && {
            let (_, shown, _) = server.admin(&[
                "invocations",
                "show",
                record["id"].as_str().unwrap_or_default(),
                "--json",
            ]);
            shown.contains("\"truncated\": true")
        }
    });
    let capped_id = capped["id"].as_str().expect("id");
    let (_, shown, _) = server.admin(&["invocations", "show", capped_id, "--json"]);
    let record: Value = serde_json::from_str(&shown).expect("record");
    assert_eq!(record["event"]["truncated"], true);
    assert!(record["event"]["bytes"].as_u64().expect("size") > 5 * 1024 * 1024);
    assert!(record["event"]["text"].as_str().expect("text").len() <= 64 * 1024);
    let (code, stdout, stderr) = server.admin(&["invoke", "--replay", capped_id]);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(stderr.contains("cannot be replayed"), "{stderr}");

    // Unknown ids: a clear error, exit 1, nothing run.
    let (code, stdout, stderr) = server.admin(&["invoke", "--replay", "no-such-id"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(
        stderr.contains("no invocation record no-such-id: it may have been pruned (the store keeps the last 1000 records / 100 MB); list them with serverful invocations"),
        "{stderr}"
    );
    let (code, _, stderr) = server.admin(&["invocations", "show", "no-such-id"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no invocation record no-such-id"),
        "{stderr}"
    );
}

#[test]
fn recording_turned_off_server_wide_keeps_nothing_and_local_reads_say_so() {
    let app = tempfile::tempdir().expect("app dir");
    write_app(app.path(), BROKEN);
    let server = Server::start(app.path(), &["--record-invocations", "off"]);
    let http = client();
    let response = http
        .post(server.url("/calc"))
        .header("Content-Type", "application/json")
        .body(r#"{"n": 13}"#)
        .send()
        .expect("POST");
    assert_eq!(response.status(), 502);
    std::thread::sleep(Duration::from_millis(300));
    let data = server.data_dir.to_str().expect("utf-8 path").to_owned();
    let (code, stdout, stderr) = run_serverful(&["invocations", "--data", &data, "--json"]);
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");

    // A data folder nothing ran in has no records, and says so.
    let empty = tempfile::tempdir().expect("empty dir");
    let empty_data = empty.path().to_str().expect("utf-8 path");
    let (code, _, stderr) = run_serverful(&["invocations", "--data", empty_data]);
    assert_eq!(code, 1);
    assert!(stderr.contains("has no invocation records"), "{stderr}");
}

#[test]
fn records_under_up_are_read_from_the_data_folder_and_replayed_locally() {
    let app = tempfile::tempdir().expect("app dir");
    write_app(app.path(), BROKEN);
    let server = Server::start(app.path(), &[]);
    let http = client();
    let response = http
        .post(server.url("/calc"))
        .header("Content-Type", "application/json")
        .body(r#"{"n": 13}"#)
        .send()
        .expect("POST");
    assert_eq!(response.status(), 502);
    let data = server.data_dir.to_str().expect("utf-8 path").to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    let id = loop {
        let (code, stdout, stderr) =
            run_serverful(&["invocations", "--data", &data, "--errors", "--json"]);
        assert_eq!(code, 0, "{stderr}");
        if let Some(line) = stdout.lines().next() {
            let record: Value = serde_json::from_str(line).expect("JSON");
            assert_eq!(record["function"], "Calc");
            break record["id"].as_str().expect("id").to_owned();
        }
        assert!(Instant::now() < deadline, "no record yet");
        std::thread::sleep(Duration::from_millis(100));
    };

    // Concurrent callers each get their record.
    let calc_url = server.url("/calc");
    std::thread::scope(|scope| {
        for n in 0..16 {
            let calc_url = calc_url.clone();
            scope.spawn(move || {
                let response = client()
                    .post(calc_url)
                    .header("Content-Type", "application/json")
                    .body(format!(r#"{{"n": {n}}}"#))
                    .send()
                    .expect("POST");
                assert_eq!(response.status(), if n == 13 { 502 } else { 200 });
            });
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, stdout, stderr) =
            run_serverful(&["invocations", "Calc", "--data", &data, "--json"]);
        assert_eq!(code, 0, "{stderr}");
        let ids: std::collections::BTreeSet<String> = stdout
            .lines()
            .map(|line| {
                let record: Value = serde_json::from_str(line).expect("JSON");
                record["id"].as_str().expect("id").to_owned()
            })
            .collect();
        if ids.len() == 17 {
            break;
        }
        assert!(Instant::now() < deadline, "{} records of 17", ids.len());
        std::thread::sleep(Duration::from_millis(100));
    }

    // A queue's messages are recorded under the queue's name.
    let (ok, url, stderr) = server.aws_cli(&[
        "sqs",
        "get-queue-url",
        "--queue-name",
        "calc-jobs",
        "--endpoint-url",
        &server.aws_url,
    ]);
    assert!(ok, "{stderr}");
    let url = url["QueueUrl"].as_str().expect("a queue URL").to_owned();
    let (ok, _, stderr) = server.aws_cli(&[
        "sqs",
        "send-message",
        "--queue-url",
        &url,
        "--message-body",
        "{}",
        "--endpoint-url",
        &server.aws_url,
    ]);
    assert!(ok, "{stderr}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, stdout, stderr) =
            run_serverful(&["invocations", "Worker", "--data", &data, "--json"]);
        assert_eq!(code, 0, "{stderr}");
        if let Some(line) = stdout.lines().next() {
            let record: Value = serde_json::from_str(line).expect("JSON");
            assert_eq!(record["trigger"], "queue calc-jobs", "{record}");
            assert_eq!(record["outcome"], "success", "{record}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no record of the queue's message"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The fix, in the app folder: a local replay runs the folder's code.
    write_app(app.path(), FIXED);
    let app_path = app.path().to_str().expect("utf-8 path");
    let (code, stdout, stderr) = run_serverful(&[
        "invoke",
        "Calc",
        "--replay",
        &id,
        app_path,
        "--data",
        &data,
        "--sandbox",
        "off",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let outcome = stdout
        .lines()
        .find(|line| line.starts_with("outcome"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        outcome.split_whitespace().collect::<Vec<_>>(),
        ["outcome", "error", "success"]
    );
}

#[test]
fn requests_proxied_to_an_http_mode_function_are_recorded_but_not_replayed() {
    let server = Server::start(
        &serverful_e2e::test_app("http-provided"),
        &["--redact", "authorization"],
    );
    let file = client()
        .get(server.url("/hello.txt?lang=en"))
        .header("Authorization", "Bearer secret-token")
        .send()
        .expect("GET");
    assert_eq!(file.status(), 200);
    let data = server.data_dir.to_str().expect("utf-8 path").to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    let summary: Value = loop {
        let (code, stdout, stderr) = run_serverful(&["invocations", "--data", &data, "--json"]);
        assert_eq!(code, 0, "{stderr}");
        if let Some(line) = stdout.lines().next() {
            break serde_json::from_str(line).expect("JSON");
        }
        assert!(
            Instant::now() < deadline,
            "no record of the proxied request"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(summary["function"], "FilesFunction");
    assert_eq!(summary["outcome"], "success");
    assert!(
        summary["trigger"]
            .as_str()
            .is_some_and(|trigger| trigger.starts_with("route ")),
        "{summary}"
    );
    let id = summary["id"].as_str().expect("id");
    let (code, shown, stderr) =
        run_serverful(&["invocations", "show", id, "--data", &data, "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let record: Value = serde_json::from_str(&shown).expect("record");
    let event: Value =
        serde_json::from_str(record["event"]["text"].as_str().expect("event")).expect("JSON");
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["path"], "/hello.txt");
    assert_eq!(event["rawQueryString"], "lang=en");
    assert_eq!(event["headers"]["authorization"], "***");
    assert_eq!(record["result"]["text"], r#"{"statusCode":200}"#);

    let (code, stdout, stderr) = server.admin(&["invoke", "--replay", id]);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(stderr.contains("is an HTTP-mode function"), "{stderr}");
}
