//! EventBridge on the AWS endpoint (issue #15), driven by the AWS CLI: `put-events`
//! entries reach the rules of the template that match them (a SAM EventBridgeRule gets
//! the whole event, an AWS::Events::Rule its InputTransformer's output) through the
//! asynchronous invocation queue; a malformed entry gets its own error; `test-event-pattern`
//! answers true, false, or InvalidEventPatternException; an invalid pattern in the
//! template stops the start at its line.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serverful_e2e::{test_app, up_until_it_fails, Server};

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

fn json_out(server: &Server, args: &[&str]) -> Value {
    let (code, stdout, stderr) = aws(server, args);
    assert_eq!(code, 0, "{stdout}\n{stderr}\n{}", server.all_output());
    serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {stdout}"))
}

/// Every stored event, by id, as the function received it.
fn stored(server: &Server, table: &str) -> Vec<(String, Value)> {
    let scanned = json_out(server, &["dynamodb", "scan", "--table-name", table]);
    let mut items: Vec<(String, Value)> = scanned["Items"]
        .as_array()
        .expect("Items")
        .iter()
        .map(|item| {
            let body = item["body"]["S"].as_str().expect("body");
            (
                item["id"]["S"].as_str().expect("id").to_owned(),
                serde_json::from_str(body).expect("the stored event is JSON"),
            )
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items
}

fn entry(source: &str, detail_type: &str, detail: &str) -> Value {
    json!({"Source": source, "DetailType": detail_type, "Detail": detail, "Resources": ["arn:aws:shop:order/1"]})
}

#[test]
fn put_events_reaches_matching_rules_with_the_envelope_and_the_transformed_input() {
    let server = Server::start(&test_app("eventbridge"), &[]);
    let table = server.output("EventsTableName");
    let entries = json!([
        entry("shop.orders", "OrderPlaced", r#"{"orderId": "A1", "amount": 150}"#),
        entry("shop.orders", "OrderPlaced", r#"{"orderId": "B2", "amount": 5}"#),
        entry("shop.other", "OrderPlaced", r#"{"orderId": "C3", "amount": 500}"#),
        entry("shop.orders", "OrderPlaced", "not json"),
        {"DetailType": "OrderPlaced", "Detail": "{}"},
    ]);
    let answer = json_out(
        &server,
        &["events", "put-events", "--entries", &entries.to_string()],
    );
    assert_eq!(answer["FailedEntryCount"], 2, "{answer}");
    let results = answer["Entries"].as_array().expect("Entries");
    assert_eq!(results.len(), 5);
    assert_eq!(
        results[3],
        json!({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."})
    );
    assert_eq!(
        results[4],
        json!({"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."})
    );
    let first = results[0]["EventId"]
        .as_str()
        .expect("an EventId")
        .to_owned();
    let second = results[1]["EventId"]
        .as_str()
        .expect("an EventId")
        .to_owned();
    assert!(results[2]["EventId"].is_string());

    // A1 matches both rules, B2 only the SAM one, C3 neither.
    let deadline = Instant::now() + Duration::from_secs(30);
    let items = loop {
        let items = stored(&server, &table);
        if items.len() >= 3 {
            break items;
        }
        assert!(
            Instant::now() < deadline,
            "timed out: {items:?}\n{}",
            server.all_output()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_secs(1));
    let items_later = stored(&server, &table);
    assert_eq!(items_later.len(), 3, "{items_later:?}");
    let find = |id: &str| {
        items
            .iter()
            .find(|(key, _)| key == id)
            .map(|(_, event)| event.clone())
            .unwrap_or_else(|| panic!("no event {id}: {items:?}"))
    };
    assert_eq!(
        find("transformed-A1"),
        json!({"id": "transformed-A1", "amount": 150, "rule": "big-orders"})
    );
    let event = find(&first);
    let time = event["time"].as_str().expect("time").to_owned();
    assert_eq!(time.len(), 20, "{time}");
    assert_eq!(
        event,
        json!({
            "version": "0",
            "id": first,
            "detail-type": "OrderPlaced",
            "source": "shop.orders",
            "account": "123456789012",
            "time": time,
            "region": "us-east-1",
            "resources": ["arn:aws:shop:order/1"],
            "detail": {"orderId": "A1", "amount": 150},
        })
    );
    assert_eq!(find(&second)["detail"]["orderId"], "B2");

    // The template's rules, read-only.
    let rules = json_out(&server, &["events", "list-rules"]);
    let names: Vec<&str> = rules["Rules"]
        .as_array()
        .expect("Rules")
        .iter()
        .map(|rule| rule["Name"].as_str().expect("Name"))
        .collect();
    assert_eq!(names, ["big-orders", "placed-orders"]);
    let rule = json_out(
        &server,
        &["events", "describe-rule", "--name", "big-orders"],
    );
    assert_eq!(rule["State"], "ENABLED");
    assert_eq!(rule["Description"], "Orders over 100");
    assert_eq!(
        rule["Arn"],
        "arn:aws:events:us-east-1:123456789012:rule/big-orders"
    );
    let (code, _, stderr) = aws(&server, &["events", "describe-rule", "--name", "nope"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("ResourceNotFoundException"), "{stderr}");
}

#[test]
fn test_event_pattern_answers_like_aws() {
    let server = Server::start(&test_app("eventbridge"), &[]);
    let event = json!({
        "id": "1", "account": "123456789012", "source": "shop.orders",
        "time": "2024-01-01T00:00:00Z", "region": "us-east-1", "resources": [],
        "detail-type": "OrderPlaced", "detail": {"amount": 150}
    })
    .to_string();
    let test = |pattern: &str| {
        aws(
            &server,
            &[
                "events",
                "test-event-pattern",
                "--event-pattern",
                pattern,
                "--event",
                &event,
            ],
        )
    };
    let (code, stdout, stderr) = test(r#"{"detail": {"amount": [{"numeric": [">", 100]}]}}"#);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).expect("JSON")["Result"],
        true
    );
    let (code, stdout, stderr) = test(r#"{"source": [{"prefix": "blog."}]}"#);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).expect("JSON")["Result"],
        false
    );
    let (code, _, stderr) = test(r#"{"source": "shop.orders"}"#);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("(InvalidEventPatternException) when calling the TestEventPattern operation: Event pattern is not valid. Reason: "),
        "{stderr}"
    );
}

#[test]
fn an_invalid_pattern_stops_the_start_with_the_line_and_aws_words() {
    let (code, output) = up_until_it_fails(&test_app("eventbridge-bad"));
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("template.yaml:16:"), "{output}");
    assert!(
        output.contains("Resources.Recorder.Properties.Events.Orders.Properties.Pattern: Event pattern is not valid. Reason: "),
        "{output}"
    );
}
