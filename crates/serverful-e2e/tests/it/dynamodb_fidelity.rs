//! DynamoDB fidelity beyond the Parity Suite (issue 21), through boto3 and the JS SDK
//! v3 against the real binary: a request's own faults are refused before its table is
//! looked up and write nothing, paths may not reach into key attributes, invalid
//! placeholder values and start keys are worded as DynamoDB words them, `size()` of a
//! string counts characters, sets come through an index's projection as sets, and
//! `ConsumedCapacity` lists each index's share.

use std::process::Command;

use serde_json::{json, Value};
use serverful_e2e::{test_app, Server};

use crate::dynamodb_endpoint::run_js_sdk_script;

/// Any app will do: these tests talk to the endpoint.
const APP: &str = "store-notes";

fn script(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data/dynamodb_fidelity")
        .join(name)
        .to_str()
        .expect("utf-8 path")
        .to_owned()
}

fn refusal(code: &str, message: &str) -> Value {
    json!([code, message])
}

#[test]
fn boto3_sees_dynamodbs_order_wording_and_capacity() {
    let server = Server::start(&test_app(APP), &[]);
    let output = Command::new("python3")
        .arg(script("fidelity.py"))
        .envs(server.aws_env())
        .output()
        .expect("run python3 (scripts/install-test-deps.sh installs boto3)");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    let seen: Value = serde_json::from_slice(&output.stdout).expect("JSON from python");
    let too_big = refusal(
        "ValidationException",
        "Item size has exceeded the maximum allowed size",
    );
    assert_eq!(seen["big item, no table"], too_big, "{seen}");
    assert_eq!(seen["big item"], too_big, "{seen}");
    assert_eq!(
        seen["projection into the key"],
        refusal(
            "ValidationException",
            "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: pk"
        ),
        "{seen}"
    );
    assert_eq!(
        seen["projection into an index key"],
        refusal(
            "ValidationException",
            "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: IndexKey: team"
        ),
        "{seen}"
    );
    assert_eq!(
        seen["empty placeholder value"],
        refusal(
            "ValidationException",
            "ExpressionAttributeValues contains invalid value: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes for key :v"
        ),
        "{seen}"
    );
    assert_eq!(
        seen["mistyped start key"],
        refusal(
            "ValidationException",
            "The provided starting key is invalid: The provided key element does not match the schema"
        ),
        "{seen}"
    );
    assert_eq!(seen["items after refusals"], 0, "{seen}");
    assert_eq!(
        seen["put capacity"],
        json!({"TableName": "fidelity", "CapacityUnits": 2.0, "Table": {"CapacityUnits": 1.0},
               "GlobalSecondaryIndexes": {"by-team": {"CapacityUnits": 1.0}}}),
        "{seen}"
    );
    // The new tag changes the projected entry: one write on the table, one on the index.
    assert_eq!(
        seen["update capacity"],
        json!({"TableName": "fidelity", "CapacityUnits": 2.0}),
        "{seen}"
    );
    assert_eq!(
        seen["query capacity"],
        json!({"TableName": "fidelity", "CapacityUnits": 0.5,
               "GlobalSecondaryIndexes": {"by-team": {"CapacityUnits": 0.5}}}),
        "{seen}"
    );
    assert_eq!(
        seen["index items"],
        json!([{"pk": {"S": "a"}, "sk": {"S": "1"}, "team": {"S": "red"},
                "tags": {"SS": ["a", "b", "c"]}, "scores": {"NS": ["1", "3"]}}]),
        "{seen}"
    );
    assert_eq!(seen["size(name) = 3"], 1, "{seen}");
}

#[test]
fn the_js_sdk_gets_sets_back_from_an_index() {
    let server = Server::start(&test_app(APP), &[]);
    let seen = run_js_sdk_script(&server, &script("sets.mjs"));
    assert_eq!(
        seen,
        json!({
            "bigItem": ["ValidationException", "Item size has exceeded the maximum allowed size"],
            "tagsIsSet": true,
            "tags": ["a", "b"],
            "scoresIsSet": true,
            "scores": [1, 3],
            "keys": ["pk", "scores", "tags", "team"],
        })
    );
}
