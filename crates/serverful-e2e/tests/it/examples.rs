//! The event-driven examples of issue 15 as a user runs them: `examples/visitplannr`, the
//! day-trip planner, from `POST /destination` through the events table's stream (validator
//! and projector functions) to the read model `GET /destinations` serves.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serverful_e2e::{repo_root, Server};

/// Proposes a destination and returns its id.
fn propose(server: &Server, name: &str, by: &str) -> String {
    let response = crate::client()
        .post(server.url("/destination"))
        .header("content-type", "application/json")
        .body(json!({"name": name, "proposedBy": by}).to_string())
        .send()
        .expect("POST /destination");
    assert_eq!(response.status(), 202, "{}", server.all_output());
    let body = crate::json_body(response);
    assert_eq!(body["status"], "proposed", "{body}");
    body["destinationId"]
        .as_str()
        .unwrap_or_else(|| panic!("a destinationId: {body}"))
        .to_string()
}

/// The read model, by destination id.
fn destinations(server: &Server) -> BTreeMap<String, Value> {
    let response = crate::client()
        .get(server.url("/destinations"))
        .send()
        .expect("GET /destinations");
    assert_eq!(response.status(), 200, "{}", server.all_output());
    let body = crate::json_body(response);
    body["destinations"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of destinations: {body}"))
        .iter()
        .map(|destination| {
            let id = destination["destinationId"].as_str().expect("an id");
            (id.to_string(), destination.clone())
        })
        .collect()
}

/// The events table's items, through boto3 as a user would look at the event log.
fn event_log(server: &Server) -> Vec<Value> {
    let script = r#"
import json, sys
import boto3
from boto3.dynamodb.types import TypeDeserializer
table = sys.argv[1]
db = boto3.client("dynamodb")
items, start = [], {}
while True:
    page = db.scan(TableName=table, ConsistentRead=True, **start)
    items += page["Items"]
    if "LastEvaluatedKey" not in page:
        break
    start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
plain = TypeDeserializer()
print(json.dumps([{k: plain.deserialize(v) for k, v in item.items()} for item in items]))
"#;
    let output = Command::new("python3")
        .args(["-c", script, &server.output("EventsTableName")])
        .envs(server.aws_env())
        .output()
        .expect("run python3 (scripts/install-test-deps.sh installs boto3)");
    assert!(
        output.status.success(),
        "scanning the events table failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the event log is JSON")
}

#[test]
fn visitplannr_validates_proposals_from_the_stream_and_projects_them_into_the_read_model() {
    let server = Server::start(&repo_root().join("examples/visitplannr"), &[]);

    // A bad body is refused at once, with what to send instead.
    for (body, message) in [
        ("not json", "the body must be JSON"),
        ("[1]", "the body must be a JSON object"),
        (
            r#"{"name": 3, "proposedBy": "ana"}"#,
            r#""name" must be a non-empty string"#,
        ),
        (
            r#"{"name": "Louvre"}"#,
            r#""proposedBy" must be a non-empty string"#,
        ),
    ] {
        let response = crate::client()
            .post(server.url("/destination"))
            .body(body)
            .send()
            .expect("POST /destination");
        assert_eq!(response.status(), 400, "{body}");
        let answer = crate::json_body(response);
        let text = answer["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{body}: {answer}");
    }

    // The duplicates follow their original at once, so they may share its batch: each
    // decision must see the ones before it.
    let eiffel = propose(&server, "Eiffel Tower", "ana");
    let eiffel_again = propose(&server, "  eiffel   TOWER ", "cy");
    let short = propose(&server, "Ly", "bo");
    let louvre = propose(&server, "Louvre", "dee");
    let long = propose(&server, &"x".repeat(101), "ed");
    let louvre_again = propose(&server, "louvre", "fay");
    let proposals = [
        &eiffel,
        &eiffel_again,
        &short,
        &louvre,
        &long,
        &louvre_again,
    ];

    let deadline = Instant::now() + Duration::from_secs(60);
    let model = loop {
        let model = destinations(&server);
        let decided = proposals.iter().all(|id| {
            model
                .get(*id)
                .is_some_and(|destination| destination["status"] != "proposed")
        });
        if decided {
            break model;
        }
        assert!(
            Instant::now() < deadline,
            "not every proposal was decided within 60 s: {model:?}\n{}",
            server.all_output()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(model.len(), proposals.len(), "{model:?}");

    let status = |id: &String| model[id]["status"].as_str().unwrap_or_default().to_string();
    let reason = |id: &String| model[id]["reason"].as_str().unwrap_or_default().to_string();
    assert_eq!(status(&eiffel), "validated", "{model:?}");
    assert_eq!(model[&eiffel]["name"], "Eiffel Tower");
    assert_eq!(model[&eiffel]["proposedBy"], "ana");
    assert!(model[&eiffel].get("reason").is_none(), "{model:?}");
    assert_eq!(status(&louvre), "validated", "{model:?}");
    assert_eq!(status(&short), "rejected", "{model:?}");
    assert_eq!(
        reason(&short),
        "the name has 2 characters; it needs at least 3"
    );
    assert_eq!(status(&long), "rejected", "{model:?}");
    assert_eq!(
        reason(&long),
        "the name has 101 characters; it may have at most 100"
    );
    // The first proposal of a name wins; the later one is the duplicate.
    assert_eq!(status(&eiffel_again), "rejected", "{model:?}");
    assert_eq!(
        reason(&eiffel_again),
        r#""Eiffel Tower" was already proposed by ana"#
    );
    assert_eq!(status(&louvre_again), "rejected", "{model:?}");
    assert_eq!(
        reason(&louvre_again),
        r#""Louvre" was already proposed by dee"#
    );
    // Oldest proposal first.
    let order: Vec<String> = destinations_in_order(&server);
    let expected: Vec<String> = proposals.iter().map(|id| id.to_string()).collect();
    assert_eq!(order, expected);

    // The event log holds each proposal and exactly one decision for it, in its stream.
    let log = event_log(&server);
    for id in proposals {
        let events: Vec<&Value> = log
            .iter()
            .filter(|event| event["destinationId"] == id.as_str())
            .collect();
        let kinds: Vec<&str> = events
            .iter()
            .map(|event| event["Type"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(kinds.len(), 2, "{id}: {events:?}");
        assert!(kinds.contains(&"destinationProposed"), "{id}: {events:?}");
        assert_eq!(
            events[0]["StreamName"], events[1]["StreamName"],
            "one stream per destination name: {events:?}"
        );
    }
    let eiffel_stream: Vec<&Value> = log
        .iter()
        .filter(|event| event["StreamName"] == "destination:eiffel tower")
        .collect();
    assert_eq!(eiffel_stream.len(), 4, "{eiffel_stream:?}");
}

/// The ids of `GET /destinations` in the order it lists them.
fn destinations_in_order(server: &Server) -> Vec<String> {
    let body = crate::json_body(
        crate::client()
            .get(server.url("/destinations"))
            .send()
            .expect("GET /destinations"),
    );
    body["destinations"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|destination| {
            destination["destinationId"]
                .as_str()
                .expect("an id")
                .to_string()
        })
        .collect()
}
