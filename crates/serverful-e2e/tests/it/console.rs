//! The web console (issue #19), driven in headless Chromium as a user drives it: a wrong
//! token refused, the stack with its functions and triggers, a function's failed
//! invocation opened and replayed, the item browser refusing a key of the wrong type and
//! saving an edited item, the metrics page, and a phone-sized screen. The page's own
//! files come from the binary; `SERVERFUL_SCREENSHOTS=DIR` keeps the screenshots (the
//! README's come from here).

use std::process::Command;

use serde_json::Value;
use serverful_e2e::{test_deps_dir, Server};

use crate::client;

const TEMPLATE: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  ItemsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: console-items
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: N}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  JobsQueue:
    Type: AWS::SQS::Queue
    Properties: {QueueName: console-jobs}
  NewsTopic:
    Type: AWS::SNS::Topic
    Properties: {TopicName: console-news}
  ItemsFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Environment:
        Variables: {TABLE: !Ref ItemsTable}
      Events:
        Put:
          Type: HttpApi
          Properties: {Path: '/items/{id}', Method: PUT}
"#;

const CODE: &str = r#"
import json, os
import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])

def handler(event, context):
    item_id = event["pathParameters"]["id"]
    print("storing item", item_id)
    if not item_id.isdigit():
        raise ValueError("item ids are numbers, not " + item_id)
    table.put_item(Item={"id": int(item_id), "name": "item-" + item_id})
    return {"statusCode": 200, "body": json.dumps({"stored": int(item_id)})}
"#;

#[test]
fn headless_chromium_logs_in_replays_a_failure_and_edits_an_item() {
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists()
            && std::path::Path::new("/usr/bin/chromedriver").exists(),
        "Chromium and chromedriver are missing: run `bash scripts/install-test-deps.sh`"
    );
    let app = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(app.path().join("src")).expect("src");
    std::fs::write(app.path().join("template.yaml"), TEMPLATE).expect("template");
    std::fs::write(app.path().join("src/app.py"), CODE).expect("code");
    let server = Server::start(app.path(), &["--stack-name", "shop"]);
    let http = client();
    for id in ["1", "2", "oops"] {
        let response = http
            .put(server.url(&format!("/items/{id}")))
            .send()
            .expect("PUT /items");
        let expected = if id == "oops" { 502 } else { 200 };
        assert_eq!(response.status(), expected, "{id}");
    }

    let token = server.admin_token.clone();
    let console = format!("{}/console/", server.admin_url);
    let kept = std::env::var_os("SERVERFUL_SCREENSHOTS").map(std::path::PathBuf::from);
    let temporary = tempfile::tempdir().expect("screenshots");
    let shots = kept.clone().unwrap_or_else(|| temporary.path().to_owned());
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/console/browser.py");
    let output = Command::new("python3")
        .arg(script)
        .args([
            console.as_str(),
            token.as_str(),
            "shop",
            "ItemsFunction",
            "console-items",
            shots.to_str().expect("utf-8 path"),
            server.base_url.as_str(),
        ])
        .env("PYTHONPATH", test_deps_dir().join("python-selenium"))
        .env("SE_OFFLINE", "true")
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "browser.py failed: {}\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    let seen: Value = serde_json::from_slice(&output.stdout).expect("JSON from browser.py");

    assert!(
        seen["wrong token"]
            .as_str()
            .is_some_and(|text| text.contains("the admin token is wrong")),
        "{seen:#}"
    );
    assert!(
        seen["stacks"]
            .as_str()
            .is_some_and(|text| text.contains("shop")),
        "{seen:#}"
    );
    let stack = seen["stack"].as_str().expect("stack page");
    assert!(
        stack.contains("PUT /items/{id} (ServerlessHttpApi)"),
        "{stack}"
    );
    assert!(stack.contains("console-items"), "{stack}");
    // Errors only: the failed call, and not the two that worked.
    let errors = seen["errors only"].as_str().expect("errors");
    assert!(errors.contains("ValueError"), "{errors}");
    assert!(!errors.contains("success"), "{errors}");
    let invocation = seen["invocation"].as_str().expect("invocation page");
    assert!(
        invocation.contains("item ids are numbers, not oops"),
        "{invocation}"
    );
    assert!(
        seen["invocation logs"]
            .as_str()
            .is_some_and(|logs| logs.contains("storing item oops")),
        "{seen:#}"
    );
    // The replay ran the recorded event again: the same failure.
    let replay = seen["replay"].as_str().expect("replay");
    assert!(replay.contains("Recorded error"), "{replay}");
    assert!(replay.contains("Now error"), "{replay}");
    assert!(
        replay.contains("item ids are numbers, not oops"),
        "{replay}"
    );
    // The item browser.
    assert!(
        seen["bad key"]
            .as_str()
            .is_some_and(|text| text.starts_with("ValidationException")),
        "{seen:#}"
    );
    assert!(
        seen["saved"].as_str().is_some_and(|text| text == "Saved."),
        "{seen:#}"
    );
    let (ok, item, stderr) = server.aws_cli(&[
        "dynamodb",
        "get-item",
        "--table-name",
        "console-items",
        "--key",
        r#"{"id": {"N": "1"}}"#,
        "--endpoint-url",
        &server.aws_url,
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(item["Item"]["note"]["S"], "edited in the console");
    assert_eq!(
        item["Item"]["name"]["S"], "item-1",
        "the rest of the item is kept"
    );
    assert!(seen["metrics"]
        .as_str()
        .is_some_and(|text| text.contains("Invocations per second")));
    // The queue page sent a message and peeked at it, twice, without receiving it.
    assert!(
        seen["sent"]
            .as_str()
            .is_some_and(|text| text.starts_with("Sent ")),
        "{seen:#}"
    );
    let peeked = seen["peeked"].as_str().expect("peeked");
    assert!(
        peeked.contains("from the console") && peeked.contains("visible"),
        "{peeked}"
    );
    let (ok, received, stderr) = server.aws_cli(&[
        "sqs",
        "receive-message",
        "--queue-url",
        &queue_url(&server, "console-jobs"),
        "--attribute-names",
        "ApproximateReceiveCount",
        "--endpoint-url",
        &server.aws_url,
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(
        received["Messages"][0]["Attributes"]["ApproximateReceiveCount"], "1",
        "peeking received nothing: {received}"
    );
    assert!(
        seen["phone overflow"]
            .as_i64()
            .is_some_and(|overflow| overflow <= 1),
        "the stack page is wider than a phone: {seen:#}"
    );
    assert_eq!(seen["console"], serde_json::json!([]), "{seen:#}");
    for name in [
        "login",
        "stacks",
        "stack",
        "function",
        "invocation",
        "table",
        "queue",
        "metrics",
        "phone",
    ] {
        let png = std::fs::read(shots.join(format!("{name}.png"))).expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    }
}

#[test]
fn the_console_is_served_without_a_network_and_the_api_behind_it_needs_the_token() {
    let app = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(app.path().join("src")).expect("src");
    std::fs::write(app.path().join("template.yaml"), TEMPLATE).expect("template");
    std::fs::write(app.path().join("src/app.py"), CODE).expect("code");
    let server = Server::start(app.path(), &["--stack-name", "shop"]);
    let http = client();
    let admin = server.admin_url.clone();
    let page = http
        .get(format!("{admin}/console/"))
        .send()
        .expect("GET /console/");
    assert_eq!(page.status(), 200);
    let policy = page
        .headers()
        .get("content-security-policy")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    let html = page.text().expect("html");
    // Every asset is the server's own: no CDN.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    for asset in ["console.js", "console.css"] {
        let response = http
            .get(format!("{admin}/console/{asset}"))
            .send()
            .expect("asset");
        assert_eq!(response.status(), 200, "{asset}");
    }
    // The data behind the page is the admin API, token or not.
    for (path, method) in [
        ("/v1/stacks/shop", "GET"),
        ("/v1/tables/console-items/Scan", "POST"),
    ] {
        let request = match method {
            "GET" => http.get(format!("{admin}{path}")),
            _ => http.post(format!("{admin}{path}")).body("{}"),
        };
        let response = request
            .header("Authorization", "Bearer wrong")
            .send()
            .expect("API");
        assert_eq!(response.status(), 401, "{path}");
    }
    // The item browser calls only item operations, on tables of a stack.
    let token = server.admin_token.clone();
    let call = |path: &str, body: &str| -> Value {
        let text = http
            .post(format!("{admin}{path}"))
            .header("Authorization", format!("Bearer {token}"))
            .body(body.to_owned())
            .send()
            .expect("API")
            .text()
            .expect("body");
        serde_json::from_str(text.lines().last().expect("a line")).expect("JSON")
    };
    let dropped = call("/v1/tables/console-items/DeleteTable", "{}");
    assert_eq!(dropped["event"], "failed");
    assert!(
        dropped["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("not an item browser operation")),
        "{dropped}"
    );
    let unknown = call("/v1/tables/nobody/Scan", "{}");
    assert_eq!(unknown["error"]["kind"], "not_found", "{unknown}");
    // Queues and topics: only a stack's own; a send, a peek that changes nothing, a purge.
    let unknown_queue = call("/v1/queues/nobody/purge", "");
    assert_eq!(
        unknown_queue["error"]["kind"], "not_found",
        "{unknown_queue}"
    );
    let sent = call("/v1/queues/console-jobs/messages", "job one");
    assert!(sent["result"]["sent"].is_string(), "{sent}");
    let peek = |admin: &str| -> Value {
        let text = http
            .get(format!("{admin}/v1/queues/console-jobs/messages?limit=5"))
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .expect("peek")
            .text()
            .expect("body");
        serde_json::from_str(text.lines().last().expect("a line")).expect("JSON")
    };
    for _ in 0..2 {
        let peeked = peek(&admin);
        assert_eq!(
            peeked["result"]["messages"][0]["body"], "job one",
            "{peeked}"
        );
        assert_eq!(
            peeked["result"]["messages"][0]["receive_count"], 0,
            "{peeked}"
        );
    }
    let purged = call("/v1/queues/console-jobs/purge", "");
    assert_eq!(purged["result"]["purged"], 1, "{purged}");
    assert_eq!(peek(&admin)["result"]["messages"], serde_json::json!([]));
    let published = call("/v1/topics/console-news/publish?subject=hi", "news");
    assert!(published["result"]["sent"].is_string(), "{published}");
    let not_json = call("/v1/tables/console-items/Scan", "{not json");
    assert!(
        not_json["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("not JSON")),
        "{not_json}"
    );
}

/// The URL of the queue `name` on the server's AWS endpoint.
fn queue_url(server: &Server, name: &str) -> String {
    let (ok, answer, stderr) = server.aws_cli(&[
        "sqs",
        "get-queue-url",
        "--queue-name",
        name,
        "--endpoint-url",
        &server.aws_url,
    ]);
    assert!(ok, "{stderr}");
    answer["QueueUrl"].as_str().expect("QueueUrl").to_owned()
}
