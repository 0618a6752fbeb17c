//! Engine unit tests over the in-memory backend: request JSON in, response or
//! error JSON out through one `check()` helper, plus property tests of key
//! order and paging.

use std::cmp::Ordering;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;

use expect_test::{expect, Expect};
use proptest::prelude::*;
use serde_json::{json, Value};

mod order;

use super::{Store, StoreConfig};
use crate::api::error_body;
use crate::backend::MemoryBackend;
use crate::key::compare_key_values;
use crate::value::AttributeValue;

fn store() -> Store {
    Store::open_with_clock(
        Arc::new(MemoryBackend::new()),
        StoreConfig::default(),
        Box::new(|| 1_700_000_000.0),
    )
    .expect("an empty catalog loads")
}

/// Runs an operation as the AWS edge does: without waiting when it can.
fn call(store: &Store, operation: &str, request: Value) -> Value {
    let body = request.to_string();
    let outcome = store
        .try_call_without_waiting(operation, body.as_bytes())
        .unwrap_or_else(|| store.call_json(operation, body.as_bytes()));
    match outcome {
        Ok(response) => serde_json::from_slice(&response).expect("responses are JSON"),
        Err(error) => error_body(&error),
    }
}

fn check(store: &Store, operation: &str, request: Value, expect: Expect) {
    let response = call(store, operation, request);
    expect.assert_eq(&response.to_string());
}

fn ok(store: &Store, operation: &str, request: Value) -> Value {
    store
        .call(operation, request.to_string().as_bytes())
        .unwrap_or_else(|error| panic!("{operation} failed: {error}"))
}

fn create(store: &Store, name: &str, sort_type: &str) {
    ok(
        store,
        "CreateTable",
        json!({
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": sort_type},
                {"AttributeName": "alt", "AttributeType": "N"},
            ],
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "LocalSecondaryIndexes": [{
                "IndexName": "by-alt",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "alt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }],
        }),
    );
}

#[test]
fn validation_messages() {
    let store = store();
    create(&store, "items", "N");
    check(
        &store,
        "PutItem",
        json!({"TableName": "x", "ReturnValues": "ALL_NEW"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"2 validation errors detected: Value 'x' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3; Value null at 'item' failed to satisfy constraint: Member must not be null"}"#
        ]],
    );
    check(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}}, "ReturnValues": "ALL_NEW"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"ReturnValues can only be ALL_OLD or NONE"}"#
        ]],
    );
    check(
        &store,
        "GetItem",
        json!({"TableName": "items", "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}, "ExpressionAttributeNames": {"#a": "a"}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"ExpressionAttributeNames can only be specified when using expressions"}"#
        ]],
    );
    check(
        &store,
        "Query",
        json!({"TableName": "items", "KeyConditionExpression": "pk = :p", "FilterExpression": "sk > :s",
               "ExpressionAttributeValues": {":p": {"S": "a"}, ":s": {"N": "1"}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"}"#
        ]],
    );
    check(
        &store,
        "Query",
        json!({"TableName": "items"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."}"#
        ]],
    );
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "Limit": 0, "Segment": 1}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"}"#
        ]],
    );
    check(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}, "alt": {"S": "x"}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"One or more parameter values were invalid: Type mismatch for Index Key alt Expected: N Actual: S IndexName: by-alt"}"#
        ]],
    );
    check(
        &store,
        "BatchWriteItem",
        json!({"RequestItems": {"items": [
            {"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}}},
            {"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"N": "1.0"}}}},
        ]}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Provided list of item keys contains duplicates"}"#
        ]],
    );
    check(
        &store,
        "UpdateTable",
        json!({"TableName": "items"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required"}"#
        ]],
    );
    check(
        &store,
        "Frobnicate",
        json!({}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#UnknownOperationException","message":"Unknown operation: Frobnicate"}"#
        ]],
    );
}

#[test]
fn local_index_and_recreated_tables() {
    let store = store();
    create(&store, "items", "S");
    for (sk, alt) in [("a", 3), ("b", 1), ("c", 2)] {
        ok(
            &store,
            "PutItem",
            json!({"TableName": "items", "Item": {"pk": {"S": "p"}, "sk": {"S": sk}, "alt": {"N": alt.to_string()}, "x": {"S": "y"}}}),
        );
    }
    check(
        &store,
        "Query",
        json!({"TableName": "items", "IndexName": "by-alt", "KeyConditionExpression": "pk = :p",
               "ExpressionAttributeValues": {":p": {"S": "p"}}, "ScanIndexForward": false, "Limit": 2}),
        expect![[
            r#"{"Count":2,"Items":[{"alt":{"N":"3"},"pk":{"S":"p"},"sk":{"S":"a"}},{"alt":{"N":"2"},"pk":{"S":"p"},"sk":{"S":"c"}}],"LastEvaluatedKey":{"alt":{"N":"2"},"pk":{"S":"p"},"sk":{"S":"c"}},"ScannedCount":2}"#
        ]],
    );
    check(
        &store,
        "Query",
        json!({"TableName": "items", "IndexName": "by-alt", "KeyConditionExpression": "pk = :p",
               "ExpressionAttributeValues": {":p": {"S": "p"}}, "ScanIndexForward": false,
               "ExclusiveStartKey": {"alt": {"N": "2"}, "pk": {"S": "p"}, "sk": {"S": "c"}}}),
        expect![[
            r#"{"Count":1,"Items":[{"alt":{"N":"1"},"pk":{"S":"p"},"sk":{"S":"b"}}],"ScannedCount":1}"#
        ]],
    );
    check(
        &store,
        "Query",
        json!({"TableName": "items", "IndexName": "by-alt", "Select": "ALL_ATTRIBUTES",
               "KeyConditionExpression": "pk = :p AND alt = :a",
               "ExpressionAttributeValues": {":p": {"S": "p"}, ":a": {"N": "1"}}}),
        expect![[
            r#"{"Count":1,"Items":[{"alt":{"N":"1"},"pk":{"S":"p"},"sk":{"S":"b"},"x":{"S":"y"}}],"ScannedCount":1}"#
        ]],
    );
    check(
        &store,
        "Query",
        json!({"TableName": "items", "KeyConditionExpression": "pk = :p AND begins_with(sk, :b)",
               "ExpressionAttributeValues": {":p": {"S": "p"}, ":b": {"S": "b"}}}),
        expect![[
            r#"{"Count":1,"Items":[{"alt":{"N":"1"},"pk":{"S":"p"},"sk":{"S":"b"},"x":{"S":"y"}}],"ScannedCount":1}"#
        ]],
    );
    ok(&store, "DeleteTable", json!({"TableName": "items"}));
    create(&store, "items", "S");
    check(
        &store,
        "Scan",
        json!({"TableName": "items"}),
        expect![[r#"{"Count":0,"Items":[],"ScannedCount":0}"#]],
    );
    check(
        &store,
        "DescribeTable",
        json!({"TableName": "items"}),
        expect![[
            r#"{"Table":{"AttributeDefinitions":[{"AttributeName":"alt","AttributeType":"N"},{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"S"}],"BillingModeSummary":{"BillingMode":"PAY_PER_REQUEST","LastUpdateToPayPerRequestDateTime":1700000000.0},"CreationDateTime":1700000000.0,"DeletionProtectionEnabled":false,"ItemCount":0,"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"LocalSecondaryIndexes":[{"IndexArn":"arn:aws:dynamodb:us-east-1:000000000000:table/items/index/by-alt","IndexName":"by-alt","IndexSizeBytes":0,"ItemCount":0,"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"alt","KeyType":"RANGE"}],"Projection":{"ProjectionType":"KEYS_ONLY"}}],"ProvisionedThroughput":{"NumberOfDecreasesToday":0,"ReadCapacityUnits":0,"WriteCapacityUnits":0},"TableArn":"arn:aws:dynamodb:us-east-1:000000000000:table/items","TableId":"00000000-0000-0000-0006-0a24181e4000","TableName":"items","TableSizeBytes":0,"TableStatus":"ACTIVE"}}"#
        ]],
    );
}

#[test]
fn pages_stop_at_one_megabyte() {
    let store = store();
    create(&store, "items", "N");
    let big = "x".repeat(100 * 1024);
    for sk in 0..12 {
        ok(
            &store,
            "PutItem",
            json!({"TableName": "items", "Item": {"pk": {"S": "p"}, "sk": {"N": sk.to_string()}, "big": {"S": big}}}),
        );
    }
    let page = ok(
        &store,
        "Scan",
        json!({"TableName": "items", "Select": "COUNT"}),
    );
    expect![[
        r#"{"Count":11,"LastEvaluatedKey":{"pk":{"S":"p"},"sk":{"N":"10"}},"ScannedCount":11}"#
    ]]
    .assert_eq(&page.to_string());
    let rest = ok(
        &store,
        "Query",
        json!({"TableName": "items", "KeyConditionExpression": "pk = :p", "Select": "COUNT",
               "ExpressionAttributeValues": {":p": {"S": "p"}}, "ExclusiveStartKey": page["LastEvaluatedKey"]}),
    );
    expect![[r#"{"Count":1,"ScannedCount":1}"#]].assert_eq(&rest.to_string());
}

#[test]
fn stream_specification_and_gsi_removal() {
    let store = store();
    create(&store, "items", "N");
    let described = ok(
        &store,
        "UpdateTable",
        json!({"TableName": "items", "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"}}),
    );
    expect![[r#"{"StreamEnabled":true,"StreamViewType":"NEW_IMAGE"} "2023-11-14T22:13:20.000""#]]
        .assert_eq(&format!(
            "{} {}",
            described["TableDescription"]["StreamSpecification"],
            described["TableDescription"]["LatestStreamLabel"]
        ));
    ok(
        &store,
        "UpdateTable",
        json!({"TableName": "items", "AttributeDefinitions": [{"AttributeName": "g", "AttributeType": "S"}],
               "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}}]}),
    );
    ok(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "p"}, "sk": {"N": "1"}, "g": {"S": "x"}}}),
    );
    check(
        &store,
        "Query",
        json!({"TableName": "items", "IndexName": "by-g", "KeyConditionExpression": "g = :g",
               "ExpressionAttributeValues": {":g": {"S": "x"}}, "ConsistentRead": true}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Consistent reads are not supported on global secondary indexes"}"#
        ]],
    );
    ok(
        &store,
        "UpdateTable",
        json!({"TableName": "items", "GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": "by-g"}}]}),
    );
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "IndexName": "by-g"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"The table does not have the specified index: by-g"}"#
        ]],
    );
    check(
        &store,
        "DescribeTable",
        json!({"TableName": "items"}),
        expect![[
            r#"{"Table":{"AttributeDefinitions":[{"AttributeName":"alt","AttributeType":"N"},{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"N"}],"BillingModeSummary":{"BillingMode":"PAY_PER_REQUEST","LastUpdateToPayPerRequestDateTime":1700000000.0},"CreationDateTime":1700000000.0,"DeletionProtectionEnabled":false,"ItemCount":1,"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"LatestStreamArn":"arn:aws:dynamodb:us-east-1:000000000000:table/items/stream/2023-11-14T22:13:20.000","LatestStreamLabel":"2023-11-14T22:13:20.000","LocalSecondaryIndexes":[{"IndexArn":"arn:aws:dynamodb:us-east-1:000000000000:table/items/index/by-alt","IndexName":"by-alt","IndexSizeBytes":0,"ItemCount":0,"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"alt","KeyType":"RANGE"}],"Projection":{"ProjectionType":"KEYS_ONLY"}}],"ProvisionedThroughput":{"NumberOfDecreasesToday":0,"ReadCapacityUnits":0,"WriteCapacityUnits":0},"StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_IMAGE"},"TableArn":"arn:aws:dynamodb:us-east-1:000000000000:table/items","TableId":"00000000-0000-0000-0006-0a24181e4000","TableName":"items","TableSizeBytes":19,"TableStatus":"ACTIVE"}}"#
        ]],
    );
}

#[test]
fn client_request_tokens_expire_after_ten_minutes() {
    let now = Arc::new(AtomicU64::new(1_700_000_000));
    let clock = now.clone();
    let store = Store::open_with_clock(
        Arc::new(MemoryBackend::new()),
        StoreConfig::default(),
        Box::new(move || clock.load(AtomicOrdering::SeqCst) as f64),
    )
    .expect("an empty catalog loads");
    create(&store, "items", "N");
    let increment = json!({"ClientRequestToken": "t", "TransactItems": [{"Update": {
        "TableName": "items", "Key": {"pk": {"S": "p"}, "sk": {"N": "1"}},
        "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}},
    }}]});
    ok(&store, "TransactWriteItems", increment.clone());
    ok(&store, "TransactWriteItems", increment.clone());
    now.fetch_add(601, AtomicOrdering::SeqCst);
    ok(&store, "TransactWriteItems", increment);
    check(
        &store,
        "GetItem",
        json!({"TableName": "items", "Key": {"pk": {"S": "p"}, "sk": {"N": "1"}}, "ProjectionExpression": "n"}),
        expect![[r#"{"Item":{"n":{"N":"2"}}}"#]],
    );
}

/// A sort key value for the property test: a number or a string, by table.
fn sort_values(numeric: bool) -> BoxedStrategy<AttributeValue> {
    if numeric {
        (any::<i64>(), -20i32..20)
            .prop_map(|(mantissa, exponent)| {
                let text = format!("{mantissa}e{exponent}");
                AttributeValue::N(crate::value::Number::parse(&text).expect("valid number"))
            })
            .boxed()
    } else {
        proptest::collection::vec(
            prop_oneof![
                Just('\0'),
                Just('a'),
                Just('b'),
                Just('é'),
                Just('\u{ffff}')
            ],
            1..5,
        )
        .prop_map(|chars| AttributeValue::S(chars.into_iter().collect()))
        .boxed()
    }
}

fn sort_key_strategy(
) -> impl Strategy<Value = (bool, Vec<AttributeValue>, AttributeValue, u8, usize, bool)> {
    any::<bool>().prop_flat_map(|numeric| {
        (
            Just(numeric),
            proptest::collection::vec(sort_values(numeric), 0..24),
            sort_values(numeric),
            0u8..7,
            1usize..6,
            any::<bool>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Query pages, whatever their size and direction, concatenate to exactly
    /// the items the key condition selects, in DynamoDB's key order.
    #[test]
    fn query_pages_follow_key_order(
        (numeric, values, bound, operator, limit, forward) in sort_key_strategy()
    ) {
        let store = store();
        create(&store, "items", if numeric { "N" } else { "S" });
        let mut stored: Vec<AttributeValue> = Vec::new();
        for value in values {
            ok(&store, "PutItem", json!({"TableName": "items", "Item": {"pk": {"S": "p"}, "sk": value.to_json()}}));
            ok(&store, "PutItem", json!({"TableName": "items", "Item": {"pk": {"S": "q"}, "sk": value.to_json()}}));
            if !stored.contains(&value) {
                stored.push(value);
            }
        }
        stored.sort_by(|a, b| compare_key_values(a, b).unwrap_or(Ordering::Equal));
        let (expression, keep): (&str, Box<dyn Fn(Ordering) -> bool>) = match operator {
            0 => ("pk = :p", Box::new(|_| true)),
            1 => ("pk = :p AND sk < :b", Box::new(|o| o == Ordering::Less)),
            2 => ("pk = :p AND sk <= :b", Box::new(|o| o != Ordering::Greater)),
            3 => ("pk = :p AND sk > :b", Box::new(|o| o == Ordering::Greater)),
            4 => ("pk = :p AND sk >= :b", Box::new(|o| o != Ordering::Less)),
            5 => ("pk = :p AND sk = :b", Box::new(|o| o == Ordering::Equal)),
            _ => ("pk = :p AND sk BETWEEN :b AND :b", Box::new(|o| o == Ordering::Equal)),
        };
        let mut expected: Vec<AttributeValue> = stored
            .into_iter()
            .filter(|value| keep(compare_key_values(value, &bound).unwrap_or(Ordering::Equal)))
            .collect();
        if !forward {
            expected.reverse();
        }
        let mut values = json!({":p": {"S": "p"}});
        if operator != 0 {
            values[":b"] = bound.to_json();
        }
        let mut seen = Vec::new();
        let mut start: Option<Value> = None;
        for _ in 0..100 {
            let mut request = json!({
                "TableName": "items", "KeyConditionExpression": expression,
                "ExpressionAttributeValues": values, "Limit": limit, "ScanIndexForward": forward,
            });
            if let Some(start) = start.take() {
                request["ExclusiveStartKey"] = start;
            }
            let page = ok(&store, "Query", request);
            for item in page["Items"].as_array().expect("items") {
                seen.push(AttributeValue::from_json(&item["sk"]).expect("a stored value"));
            }
            match page.get("LastEvaluatedKey") {
                Some(key) => start = Some(key.clone()),
                None => break,
            }
        }
        prop_assert_eq!(seen, expected);
    }
}

#[test]
fn streams_record_every_change() {
    let store = store();
    create(&store, "items", "N");
    ok(
        &store,
        "UpdateTable",
        json!({"TableName": "items", "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"}}),
    );
    ok(
        &store,
        "UpdateTimeToLive",
        json!({"TableName": "items", "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "ttl"}}),
    );
    let key = json!({"pk": {"S": "p"}, "sk": {"N": "1"}});
    ok(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "p"}, "sk": {"N": "1"}, "v": {"N": "1"}}}),
    );
    // Unchanged: no record.
    ok(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "p"}, "sk": {"N": "1"}, "v": {"N": "1"}}}),
    );
    ok(
        &store,
        "UpdateItem",
        json!({"TableName": "items", "Key": key, "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"N": "2"}}}),
    );
    ok(
        &store,
        "DeleteItem",
        json!({"TableName": "items", "Key": key}),
    );
    ok(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "p"}, "sk": {"N": "2"}, "ttl": {"N": "1699999999"}}}),
    );
    assert_eq!(store.expire_items().expect("sweep"), 1);
    let streams = ok(&store, "ListStreams", json!({}));
    let arn = streams["Streams"][0]["StreamArn"].clone();
    let described = ok(&store, "DescribeStream", json!({"StreamArn": arn}));
    let shard = described["StreamDescription"]["Shards"][0]["ShardId"].clone();
    expect![[r#"{"StreamDescription":{"CreationRequestDateTime":1700000000.0,"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"Shards":[{"SequenceNumberRange":{"StartingSequenceNumber":"000000000000000000001"},"ShardId":"shardId-00000001700000000000-082f532b"}],"StreamArn":"arn:aws:dynamodb:us-east-1:000000000000:table/items/stream/2023-11-14T22:13:20.000","StreamLabel":"2023-11-14T22:13:20.000","StreamStatus":"ENABLED","StreamViewType":"NEW_AND_OLD_IMAGES","TableName":"items"}}"#]]
        .assert_eq(&described.to_string());
    let iterator = ok(
        &store,
        "GetShardIterator",
        json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    );
    let records = ok(
        &store,
        "GetRecords",
        json!({"ShardIterator": iterator["ShardIterator"], "Limit": 10}),
    );
    let summary: Vec<String> = records["Records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|record| {
            format!(
                "{} {} old={} new={} by={}",
                record["dynamodb"]["SequenceNumber"]
                    .as_str()
                    .expect("sequence"),
                record["eventName"].as_str().expect("name"),
                record["dynamodb"]["OldImage"],
                record["dynamodb"]["NewImage"],
                record["userIdentity"]["principalId"],
            )
        })
        .collect();
    expect![[r#"
        000000000000000000001 INSERT old=null new={"pk":{"S":"p"},"sk":{"N":"1"},"v":{"N":"1"}} by=null
        000000000000000000002 MODIFY old={"pk":{"S":"p"},"sk":{"N":"1"},"v":{"N":"1"}} new={"pk":{"S":"p"},"sk":{"N":"1"},"v":{"N":"2"}} by=null
        000000000000000000003 REMOVE old={"pk":{"S":"p"},"sk":{"N":"1"},"v":{"N":"2"}} new=null by=null
        000000000000000000004 INSERT old=null new={"pk":{"S":"p"},"sk":{"N":"2"},"ttl":{"N":"1699999999"}} by=null
        000000000000000000005 REMOVE old={"pk":{"S":"p"},"sk":{"N":"2"},"ttl":{"N":"1699999999"}} new=null by="dynamodb.amazonaws.com""#]].assert_eq(&summary.join("\n"));
    let next = ok(
        &store,
        "GetRecords",
        json!({"ShardIterator": records["NextShardIterator"]}),
    );
    expect!["[]"].assert_eq(&next["Records"].to_string());
    let latest = ok(
        &store,
        "GetShardIterator",
        json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "LATEST"}),
    );
    ok(
        &store,
        "UpdateTable",
        json!({"TableName": "items", "StreamSpecification": {"StreamEnabled": false}}),
    );
    let closed = ok(
        &store,
        "GetRecords",
        json!({"ShardIterator": latest["ShardIterator"]}),
    );
    expect![[r#"{"Records":[]}"#]].assert_eq(&closed.to_string());
    let described = ok(&store, "DescribeStream", json!({"StreamArn": arn}));
    expect![[r#""DISABLED" {"EndingSequenceNumber":"000000000000000000005","StartingSequenceNumber":"000000000000000000001"}"#]].assert_eq(&format!(
        "{} {}",
        described["StreamDescription"]["StreamStatus"],
        described["StreamDescription"]["Shards"][0]["SequenceNumberRange"]
    ));
    check(
        &store,
        "GetRecords",
        json!({"ShardIterator": "nonsense"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Invalid ShardIterator"}"#
        ]],
    );
}

#[test]
fn start_keys_outside_the_query_fail() {
    let store = store();
    create(&store, "items", "N");
    let query = |start: Value| {
        call(
            &store,
            "Query",
            json!({"TableName": "items", "KeyConditionExpression": "pk = :p AND sk > :s",
                   "ExpressionAttributeValues": {":p": {"S": "a"}, ":s": {"N": "5"}},
                   "ExclusiveStartKey": start}),
        )
        .to_string()
    };
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"The provided starting key is outside query boundaries based on provided conditions"}"#]].assert_eq(&query(json!({"pk": {"S": "b"}, "sk": {"N": "7"}})));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"The provided starting key is outside query boundaries based on provided conditions"}"#]].assert_eq(&query(json!({"pk": {"S": "a"}, "sk": {"N": "1"}})));
    expect![[r#"{"Count":0,"Items":[],"ScannedCount":0}"#]]
        .assert_eq(&query(json!({"pk": {"S": "a"}, "sk": {"N": "7"}})));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"The provided starting key is invalid"}"#]].assert_eq(&query(json!({"pk": {"S": "a"}})));
}

#[test]
fn partiql_statements() {
    let store = store();
    create(&store, "items", "N");
    let run = |statement: &str, parameters: Value| {
        call(
            &store,
            "ExecuteStatement",
            json!({"Statement": statement, "Parameters": parameters}),
        )
        .to_string()
    };
    expect![[r#"{"Items":[]}"#]].assert_eq(&run(
        r#"INSERT INTO "items" VALUE {'pk': ?, 'sk': 1, 'tags': <<'a', 'b'>>, 'n': 10}"#,
        json!([{"S": "p"}]),
    ));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#DuplicateItemException","message":"Duplicate primary key exists in table"}"#]].assert_eq(&run(
        r#"INSERT INTO "items" VALUE {'pk': 'p', 'sk': 1}"#,
        json!([]),
    ));
    for sk in 2..5 {
        run(
            &format!(
                r#"INSERT INTO items VALUE {{'pk': 'p', 'sk': {sk}, 'n': {}}}"#,
                sk * 10
            ),
            json!([]),
        );
    }
    expect![[r#"{"Items":[{"n":{"N":"20"},"sk":{"N":"2"}},{"n":{"N":"30"},"sk":{"N":"3"}}]}"#]]
        .assert_eq(&run(
            r#"SELECT sk, n FROM "items" WHERE pk = 'p' AND sk >= 2 AND n < ?"#,
            json!([{"N": "40"}]),
        ));
    expect![[r#"{"Items":[{"sk":{"N":"4"}}]}"#]]
        .assert_eq(&run(r#"SELECT sk FROM items WHERE n = 40"#, json!([])));
    expect![[r#"{"Items":[{"sk":{"N":"4"}},{"sk":{"N":"3"}},{"sk":{"N":"2"}}]}"#]].assert_eq(&run(
        r#"SELECT sk FROM items WHERE pk = 'p' AND sk > 1 ORDER BY sk DESC"#,
        json!([]),
    ));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Must have WHERE clause in the statement when using ORDER BY clause; ORDER BY works only on the sort key of a query on one partition"}"#]].assert_eq(&run(r#"SELECT sk FROM items ORDER BY sk"#, json!([])));
    let page = call(
        &store,
        "ExecuteStatement",
        json!({"Statement": "SELECT sk FROM items WHERE pk = 'p'", "Limit": 3}),
    );
    let rest = call(
        &store,
        "ExecuteStatement",
        json!({"Statement": "SELECT sk FROM items WHERE pk = 'p'", "NextToken": page["NextToken"]}),
    );
    expect![[r#"[{"sk":{"N":"1"}},{"sk":{"N":"2"}},{"sk":{"N":"3"}}] [{"sk":{"N":"4"}}]"#]]
        .assert_eq(&format!("{} {}", page["Items"], rest["Items"]));
    expect![[r#"{"Items":[]}"#]].assert_eq(&run(
        r#"UPDATE items SET n = n + 5, o = n REMOVE tags WHERE pk = 'p' AND sk = 1"#,
        json!([]),
    ));
    expect![[r#"{"Items":[]}"#]].assert_eq(&run(
        r#"UPDATE items SET m = 'x' REMOVE o WHERE pk = 'p' AND sk = 1 AND n = 15"#,
        json!([]),
    ));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#]].assert_eq(&run(
        r#"UPDATE items SET m = 'x' WHERE pk = 'p' AND sk = 99"#,
        json!([]),
    ));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Where clause does not contain a mandatory equality on all key attributes"}"#]].assert_eq(&run(r#"UPDATE items SET m = 'x' WHERE pk = 'p'"#, json!([])));
    expect![[r#"{"Items":[]}"#]].assert_eq(&run(
        r#"DELETE FROM items WHERE pk = 'p' AND sk = 4"#,
        json!([]),
    ));
    expect![[r#"{"Items":[{"m":{"S":"x"},"n":{"N":"15"},"pk":{"S":"p"},"sk":{"N":"1"}}]}"#]]
        .assert_eq(&run(
            r#"SELECT * FROM items WHERE pk = 'p' AND sk = 1"#,
            json!([]),
        ));
    check(
        &store,
        "BatchExecuteStatement",
        json!({"Statements": [
            {"Statement": "SELECT n FROM items WHERE pk = 'p' AND sk = 2"},
            {"Statement": "INSERT INTO items VALUE {'pk': 'p', 'sk': 2}"},
            {"Statement": "DELETE FROM items WHERE pk = 'p' AND sk = 3"},
        ]}),
        expect![[
            r#"{"Responses":[{"Item":{"n":{"N":"20"}},"TableName":"items"},{"Error":{"Code":"DuplicateItem","Message":"Duplicate primary key exists in table"}},{"TableName":"items"}]}"#
        ]],
    );
    check(
        &store,
        "ExecuteTransaction",
        json!({"TransactStatements": [
            {"Statement": "UPDATE items SET n = 21 WHERE pk = 'p' AND sk = 2 AND n = 20"},
            {"Statement": "INSERT INTO items VALUE {'pk': 'p', 'sk': 1}"},
        ]}),
        expect![[
            r#"{"CancellationReasons":[{"Code":"None"},{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"}],"Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]","__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException"}"#
        ]],
    );
    check(
        &store,
        "ExecuteTransaction",
        json!({"TransactStatements": [
            {"Statement": "SELECT n FROM items WHERE pk = 'p' AND sk = 2"},
            {"Statement": "SELECT * FROM items WHERE pk = ? AND sk = ?", "Parameters": [{"S": "p"}, {"N": "3"}]},
        ]}),
        expect![[r#"{"Responses":[{"Item":{"n":{"N":"20"}}},{}]}"#]],
    );
}

/// Issue 4: `size()` and `attribute_type()` in PartiQL WHERE clauses, and
/// `EXISTS(SELECT ...)` as the condition check of ExecuteTransaction.
#[test]
fn partiql_functions_and_exists() {
    let store = store();
    create(&store, "items", "N");
    ok(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "f"}, "sk": {"N": "1"}, "s": {"S": "str"}, "ss": {"SS": ["a", "b"]}, "n": {"N": "5"}}}),
    );
    let run = |statement: &str| {
        call(&store, "ExecuteStatement", json!({"Statement": statement})).to_string()
    };
    expect![[r#"{"Items":[{"sk":{"N":"1"}}]}"#]]
        .assert_eq(&run("SELECT sk FROM items WHERE pk = 'f' AND size(s) = 3"));
    expect![[r#"{"Items":[]}"#]]
        .assert_eq(&run("SELECT sk FROM items WHERE pk = 'f' AND size(s) > 3"));
    expect![[r#"{"Items":[{"sk":{"N":"1"}}]}"#]]
        .assert_eq(&run("SELECT sk FROM items WHERE size(ss) BETWEEN 2 AND 9"));
    expect![[r#"{"Items":[{"sk":{"N":"1"}}]}"#]].assert_eq(&run(
        "SELECT sk FROM items WHERE pk = 'f' AND attribute_type(ss, 'SS')",
    ));
    expect![[r#"{"Items":[]}"#]].assert_eq(&run(
        "SELECT sk FROM items WHERE pk = 'f' AND attribute_type(ss, 'S')",
    ));
    // As the condition of a write: a false one fails it.
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#]]
        .assert_eq(&run("UPDATE items SET z = 1 WHERE pk = 'f' AND sk = 1 AND size(s) > 3"));
    expect![[r#"{"Items":[]}"#]].assert_eq(&run(
        "UPDATE items SET z = 1 WHERE pk = 'f' AND sk = 1 AND size(s) = 3",
    ));

    let transaction = |statements: Value| {
        call(
            &store,
            "ExecuteTransaction",
            json!({"TransactStatements": statements}),
        )
        .to_string()
    };
    // A check that holds lets the writes beside it commit.
    expect![[r#"{}"#]].assert_eq(&transaction(json!([
        {"Statement": "EXISTS(SELECT * FROM items WHERE pk = 'f' AND sk = 1 AND n = 5)"},
        {"Statement": "INSERT INTO items VALUE {'pk': 'f', 'sk': 3}"},
    ])));
    // One that fails cancels them, with its reason in place.
    expect![[r#"{"CancellationReasons":[{"Code":"None"},{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"}],"Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]","__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException"}"#]].assert_eq(&transaction(json!([
        {"Statement": "INSERT INTO items VALUE {'pk': 'f', 'sk': 2}"},
        {"Statement": "EXISTS(SELECT * FROM items WHERE pk = ? AND sk = 1 AND n > ?)", "Parameters": [{"S": "f"}, {"N": "5"}]},
    ])));
    expect![[r#"{"Items":[{"sk":{"N":"1"}},{"sk":{"N":"3"}}]}"#]]
        .assert_eq(&run("SELECT sk FROM items WHERE pk = 'f'"));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Validation failed in TransactStatements[0]: EXISTS() must contain a single item read with additional condition"}"#]].assert_eq(&transaction(json!([
        {"Statement": "EXISTS(SELECT * FROM items WHERE pk = 'f' AND sk = 1)"},
        {"Statement": "UPDATE items SET z = 2 WHERE pk = 'f' AND sk = 3"},
    ])));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Validation failed in TransactStatements[1]: EXISTS() must contain a single item read with additional condition"}"#]].assert_eq(&transaction(json!([
        {"Statement": "UPDATE items SET z = 2 WHERE pk = 'f' AND sk = 3"},
        {"Statement": "EXISTS(SELECT * FROM items WHERE pk = 'f' AND n = 6)"},
    ])));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Validation failed in TransactStatements[0]: Operations on indices are not supported in transactions"}"#]].assert_eq(&transaction(json!([
        {"Statement": "EXISTS(SELECT * FROM items.\"by-alt\" WHERE pk = 'f' AND sk = 1 AND n = 6)"},
    ])));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"EXISTS can only be used in ExecuteTransaction write requests."}"#]]
        .assert_eq(&run("EXISTS(SELECT * FROM items WHERE pk = 'f' AND sk = 1 AND n = 6)"));
    check(
        &store,
        "BatchExecuteStatement",
        json!({"Statements": [
            {"Statement": "EXISTS(SELECT * FROM items WHERE pk = 'f' AND sk = 1 AND n = 6)"},
        ]}),
        expect![[
            r#"{"Responses":[{"Error":{"Code":"ValidationError","Message":"EXISTS can only be used in ExecuteTransaction write requests."}}]}"#
        ]],
    );
    // Nothing above changed `z`.
    expect![[r#"{"Items":[{"z":{"N":"1"}}]}"#]]
        .assert_eq(&run("SELECT z FROM items WHERE pk = 'f' AND sk = 1"));
}

/// `IS [NOT] NULL` in PartiQL holds for an attribute of type NULL, never for
/// a missing one (that is `IS MISSING`), in reads and as a write's condition.
#[test]
fn partiql_is_null() {
    let store = store();
    create(&store, "items", "N");
    for item in [
        json!({"pk": {"S": "n"}, "sk": {"N": "1"}, "a": {"NULL": true}}),
        json!({"pk": {"S": "n"}, "sk": {"N": "2"}, "a": {"S": "x"}}),
        json!({"pk": {"S": "n"}, "sk": {"N": "3"}}),
    ] {
        ok(
            &store,
            "PutItem",
            json!({"TableName": "items", "Item": item}),
        );
    }
    let run = |statement: &str| {
        call(&store, "ExecuteStatement", json!({"Statement": statement})).to_string()
    };
    expect![[r#"{"Items":[{"sk":{"N":"1"}}]}"#]]
        .assert_eq(&run("SELECT sk FROM items WHERE pk = 'n' AND a IS NULL"));
    expect![[r#"{"Items":[{"sk":{"N":"2"}},{"sk":{"N":"3"}}]}"#]].assert_eq(&run(
        "SELECT sk FROM items WHERE pk = 'n' AND a IS NOT NULL",
    ));
    expect![[r#"{"Items":[{"sk":{"N":"3"}}]}"#]]
        .assert_eq(&run("SELECT sk FROM items WHERE pk = 'n' AND a IS MISSING"));
    expect![[r#"{"Items":[{"sk":{"N":"1"}},{"sk":{"N":"3"}}]}"#]].assert_eq(&run(
        "SELECT sk FROM items WHERE pk = 'n' AND (a IS NULL OR a IS MISSING)",
    ));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#]]
        .assert_eq(&run("DELETE FROM items WHERE pk = 'n' AND sk = 3 AND a IS NULL"));
    expect![[r#"{"Items":[]}"#]].assert_eq(&run(
        "DELETE FROM items WHERE pk = 'n' AND sk = 1 AND a IS NULL",
    ));
    expect![[r#"{"Items":[{"sk":{"N":"2"}},{"sk":{"N":"3"}}]}"#]]
        .assert_eq(&run("SELECT sk FROM items WHERE pk = 'n'"));
}

/// `RETURNING` on PartiQL UPDATE and DELETE answers with the item as the
/// matching `ReturnValues` would; transactions refuse it.
#[test]
fn partiql_returning() {
    let store = store();
    create(&store, "items", "N");
    ok(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "r"}, "sk": {"N": "1"}, "a": {"N": "1"}, "b": {"S": "x"}}}),
    );
    let run = |statement: &str| {
        call(&store, "ExecuteStatement", json!({"Statement": statement})).to_string()
    };
    expect![[r#"{"Items":[{"a":{"N":"1"},"b":{"S":"x"},"pk":{"S":"r"},"sk":{"N":"1"}}]}"#]]
        .assert_eq(&run(
            "UPDATE items SET a = 2 WHERE pk = 'r' AND sk = 1 RETURNING ALL OLD *",
        ));
    expect![[r#"{"Items":[{"a":{"N":"2"}}]}"#]].assert_eq(&run(
        "UPDATE items SET a = 3 WHERE pk = 'r' AND sk = 1 RETURNING MODIFIED OLD *",
    ));
    expect![[r#"{"Items":[{"a":{"N":"3"},"b":{"S":"y"},"pk":{"S":"r"},"sk":{"N":"1"}}]}"#]]
        .assert_eq(&run(
            "UPDATE items SET b = 'y' WHERE pk = 'r' AND sk = 1 RETURNING ALL NEW *",
        ));
    expect![[r#"{"Items":[{"a":{"N":"4"}}]}"#]].assert_eq(&run(
        "update items set a = a + 1 where pk = 'r' and sk = 1 returning modified new *",
    ));
    expect![[r#"{"Items":[]}"#]]
        .assert_eq(&run("UPDATE items SET a = 5 WHERE pk = 'r' AND sk = 1"));
    expect![[r#"{"Items":[{"a":{"N":"5"},"b":{"S":"y"},"pk":{"S":"r"},"sk":{"N":"1"}}]}"#]]
        .assert_eq(&run(
            "DELETE FROM items WHERE pk = 'r' AND sk = 1 RETURNING ALL OLD *",
        ));
    // The item is gone: nothing to return.
    expect![[r#"{"Items":[]}"#]].assert_eq(&run(
        "DELETE FROM items WHERE pk = 'r' AND sk = 1 RETURNING ALL OLD *",
    ));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Statement wasn't well formed, can't be processed: DELETE can only return ALL OLD *"}"#]].assert_eq(&run(
        "DELETE FROM items WHERE pk = 'r' AND sk = 1 RETURNING ALL NEW *",
    ));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Statement wasn't well formed, can't be processed: expected *"}"#]].assert_eq(&run(
        "UPDATE items SET a = 1 WHERE pk = 'r' AND sk = 1 RETURNING ALL NEW a",
    ));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Statement wasn't well formed, can't be processed: expected ALL or MODIFIED after RETURNING"}"#]].assert_eq(&run(
        "UPDATE items SET a = 1 WHERE pk = 'r' AND sk = 1 RETURNING *",
    ));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Validation failed in TransactStatements[0]: RETURNING is not supported in transactions"}"#]].assert_eq(
        &call(
            &store,
            "ExecuteTransaction",
            json!({"TransactStatements": [{"Statement": "UPDATE items SET a = 1 WHERE pk = 'r' AND sk = 2 RETURNING ALL NEW *"}]}),
        )
        .to_string(),
    );
}

/// `list_append`, `set_add` and `set_delete` in a PartiQL UPDATE: the set
/// functions add and remove members as UpdateExpression's ADD and DELETE do.
#[test]
fn partiql_update_functions() {
    let store = store();
    create(&store, "items", "N");
    ok(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "u"}, "sk": {"N": "1"}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1"]}, "l": {"L": [{"N": "1"}]}, "s": {"S": "str"}}}),
    );
    let run = |statement: &str| {
        call(&store, "ExecuteStatement", json!({"Statement": statement})).to_string()
    };
    expect![[r#"{"Items":[]}"#]].assert_eq(&run(
        "UPDATE items SET ss = set_add(ss, <<'c', 'a'>>) SET new = set_add(new, <<1>>) SET ns = set_delete(ns, <<1>>) SET l = list_append(l, [2]) WHERE pk = 'u' AND sk = 1",
    ));
    expect![[r#"{"Items":[{"l":{"L":[{"N":"1"},{"N":"2"}]},"new":{"NS":["1"]},"pk":{"S":"u"},"s":{"S":"str"},"sk":{"N":"1"},"ss":{"SS":["a","b","c"]}}]}"#]]
        .assert_eq(&run("SELECT * FROM items WHERE pk = 'u' AND sk = 1"));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"An operand in the update expression has an incorrect data type"}"#]]
        .assert_eq(&run("UPDATE items SET ss = set_add(ss, <<1>>) WHERE pk = 'u' AND sk = 1"));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"An operand in the update expression has an incorrect data type"}"#]]
        .assert_eq(&run("UPDATE items SET s = set_add(s, <<'x'>>) WHERE pk = 'u' AND sk = 1"));
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#]]
        .assert_eq(&run("UPDATE items SET ss = set_add(ss, <<'x'>>) WHERE pk = 'u' AND sk = 2"));
}

#[test]
fn return_values_and_legacy_reads() {
    let store = store();
    create(&store, "items", "N");
    let key = json!({"pk": {"S": "p"}, "sk": {"N": "1"}});
    check(
        &store,
        "UpdateItem",
        json!({"TableName": "items", "Key": key, "UpdateExpression": "SET a = :a, b = :b",
               "ExpressionAttributeValues": {":a": {"N": "1"}, ":b": {"L": [{"S": "x"}]}}, "ReturnValues": "ALL_NEW"}),
        expect![[
            r#"{"Attributes":{"a":{"N":"1"},"b":{"L":[{"S":"x"}]},"pk":{"S":"p"},"sk":{"N":"1"}}}"#
        ]],
    );
    check(
        &store,
        "UpdateItem",
        json!({"TableName": "items", "Key": key, "UpdateExpression": "SET b[1] = :c REMOVE a",
               "ExpressionAttributeValues": {":c": {"S": "y"}}, "ReturnValues": "UPDATED_OLD"}),
        expect![[r#"{"Attributes":{"a":{"N":"1"}}}"#]],
    );
    check(
        &store,
        "DeleteItem",
        json!({"TableName": "items", "Key": key, "ConditionExpression": "attribute_exists(a)",
               "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}),
        expect![[
            r#"{"Item":{"b":{"L":[{"S":"x"},{"S":"y"}]},"pk":{"S":"p"},"sk":{"N":"1"}},"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#
        ]],
    );
    for sk in 2..6 {
        ok(
            &store,
            "PutItem",
            json!({"TableName": "items", "Item": {"pk": {"S": "p"}, "sk": {"N": sk.to_string()}, "n": {"N": (sk * 2).to_string()}}}),
        );
    }
    check(
        &store,
        "Query",
        json!({"TableName": "items", "KeyConditions": {
                 "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
                 "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "2"}, {"N": "4"}]}},
               "QueryFilter": {"n": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "4"}]}},
               "AttributesToGet": ["sk", "n"], "ReturnConsumedCapacity": "INDEXES"}),
        expect![[
            r#"{"ConsumedCapacity":{"CapacityUnits":0.5,"Table":{"CapacityUnits":0.5},"TableName":"items"},"Count":2,"Items":[{"n":{"N":"6"},"sk":{"N":"3"}},{"n":{"N":"8"},"sk":{"N":"4"}}],"ScannedCount":3}"#
        ]],
    );
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "ScanFilter": {"n": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "6"}, {"N": "8"}]}},
               "Select": "COUNT"}),
        expect![[r#"{"Count":2,"ScannedCount":5}"#]],
    );
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "ScanFilter": {"n": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "6"}]}},
               "FilterExpression": "n > :n", "ExpressionAttributeValues": {":n": {"N": "1"}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {ScanFilter} Expression parameters: {FilterExpression}"}"#
        ]],
    );
}

/// Answers the DynamoDB Parity Suite recorded from DynamoDB, for request-level
/// constraint messages whose wording differs by operation.
#[test]
fn constraint_wording_matches_dynamodb() {
    let store = store();
    create(&store, "items", "N");
    check(
        &store,
        "TransactGetItems",
        json!({"TransactItems": []}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"1 validation error detected: Value '[]' at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1"}"#
        ]],
    );
    check(
        &store,
        "TransactWriteItems",
        json!({"TransactItems": []}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"1 validation error detected: Value '[]' at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1"}"#
        ]],
    );
    // Query leaves the value out and capitalizes the member; Scan does not.
    check(
        &store,
        "Query",
        json!({"TableName": "items", "KeyConditionExpression": "pk = :v", "ExpressionAttributeValues": {":v": {"S": "a"}}, "Limit": 0}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"1 validation error detected: Value at 'Limit' failed to satisfy constraint: Member must have value greater than or equal to 1"}"#
        ]],
    );
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "Limit": 0}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"}"#
        ]],
    );
    check(
        &store,
        "PutItem",
        json!({"TableName": "", "Item": {"pk": {"S": "a"}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"1 validation error detected: Value '' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 1"}"#
        ]],
    );
    check(
        &store,
        "CreateTable",
        json!({
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        }),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"The parameter 'TableName' is required but was not present in the request"}"#
        ]],
    );
    check(
        &store,
        "CreateTable",
        json!({
            "TableName": "three-keys",
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "extra", "AttributeType": "S"},
            ],
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
                {"AttributeName": "extra", "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"1 validation error detected: Value '[KeySchemaElement(attributeName=pk, keyType=HASH), KeySchemaElement(attributeName=sk, keyType=RANGE), KeySchemaElement(attributeName=extra, keyType=RANGE)]' at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2"}"#
        ]],
    );
    check(
        &store,
        "CreateTable",
        json!({
            "TableName": "same-key",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "pk", "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Invalid KeySchema: Some index key attribute have no definition"}"#
        ]],
    );
    check(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}}, "ExpressionAttributeValues": {":v": {"S": "unused"}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null"}"#
        ]],
    );
    check(
        &store,
        "PutItem",
        json!({
            "TableName": "items",
            "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}},
            "ReturnConsumedCapacity": "INVALID",
            "ReturnItemCollectionMetrics": "INVALID",
            "ReturnValues": "INVALID",
        }),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"3 validation errors detected: Value 'INVALID' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]; Value 'INVALID' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value 'INVALID' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]"}"#
        ]],
    );
}

/// BatchGetItem and BatchWriteItem: an empty map and one table over its limit.
#[test]
fn batch_limits_match_dynamodb() {
    let store = store();
    create(&store, "items", "N");
    check(
        &store,
        "BatchGetItem",
        json!({"RequestItems": {}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"The requestItems parameter is required for BatchGetItem"}"#
        ]],
    );
    check(
        &store,
        "BatchWriteItem",
        json!({"RequestItems": {}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"The requestItems parameter is required for BatchWriteItem"}"#
        ]],
    );
    let keys: Vec<Value> = (0..101)
        .map(|n| json!({"pk": {"S": "a"}, "sk": {"N": n.to_string()}}))
        .collect();
    check(
        &store,
        "BatchGetItem",
        json!({"RequestItems": {"items": {"Keys": keys}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"1 validation error detected: Value at 'RequestItems.items.member.Keys' failed to satisfy constraint: Member must have length less than or equal to 100"}"#
        ]],
    );
    let writes: Vec<Value> = (0..26)
        .map(|n| json!({"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"N": n.to_string()}}}}))
        .collect();
    let response = call(
        &store,
        "BatchWriteItem",
        json!({"RequestItems": {"items": writes}}),
    );
    let message = response["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("1 validation error detected: Value '{items=[")
            && message.ends_with("]}' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]"),
        "{message}"
    );
}

/// `ItemCollectionMetrics` comes back for `SIZE` on a table with a local
/// secondary index, keyed by the partition key, and never otherwise.
#[test]
fn item_collection_metrics() {
    let store = store();
    create(&store, "items", "N");
    let key = json!({"pk": {"S": "icm"}, "sk": {"N": "1"}});
    check(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": key, "ReturnItemCollectionMetrics": "SIZE"}),
        expect![[
            r#"{"ItemCollectionMetrics":{"ItemCollectionKey":{"pk":{"S":"icm"}},"SizeEstimateRangeGB":[0.0,1.0]}}"#
        ]],
    );
    check(
        &store,
        "UpdateItem",
        json!({"TableName": "items", "Key": key, "UpdateExpression": "SET a = :a", "ExpressionAttributeValues": {":a": {"S": "x"}}, "ReturnItemCollectionMetrics": "SIZE"}),
        expect![[
            r#"{"ItemCollectionMetrics":{"ItemCollectionKey":{"pk":{"S":"icm"}},"SizeEstimateRangeGB":[0.0,1.0]}}"#
        ]],
    );
    check(
        &store,
        "DeleteItem",
        json!({"TableName": "items", "Key": key, "ReturnItemCollectionMetrics": "SIZE"}),
        expect![[
            r#"{"ItemCollectionMetrics":{"ItemCollectionKey":{"pk":{"S":"icm"}},"SizeEstimateRangeGB":[0.0,1.0]}}"#
        ]],
    );
    check(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": key, "ReturnItemCollectionMetrics": "NONE"}),
        expect!["{}"],
    );
    ok(
        &store,
        "CreateTable",
        json!({
            "TableName": "plain",
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        }),
    );
    check(
        &store,
        "BatchWriteItem",
        json!({"RequestItems": {"items": [{"PutRequest": {"Item": key}}]}, "ReturnItemCollectionMetrics": "ALL"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"1 validation error detected: Value 'ALL' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]"}"#
        ]],
    );
    check(
        &store,
        "TransactWriteItems",
        json!({"TransactItems": [{"Put": {"TableName": "items", "Item": key}}], "ReturnItemCollectionMetrics": "ALL"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"1 validation error detected: Value 'ALL' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]"}"#
        ]],
    );
    check(
        &store,
        "PutItem",
        json!({"TableName": "plain", "Item": {"pk": {"S": "a"}}, "ReturnItemCollectionMetrics": "SIZE"}),
        expect!["{}"],
    );
    // Several items: per table, one entry per write to a table with a local
    // index, and nothing for the others.
    check(
        &store,
        "BatchWriteItem",
        json!({
            "RequestItems": {
                "items": [
                    {"PutRequest": {"Item": {"pk": {"S": "b1"}, "sk": {"N": "1"}}}},
                    {"DeleteRequest": {"Key": {"pk": {"S": "b2"}, "sk": {"N": "1"}}}},
                ],
                "plain": [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}],
            },
            "ReturnItemCollectionMetrics": "SIZE",
        }),
        expect![[
            r#"{"ItemCollectionMetrics":{"items":[{"ItemCollectionKey":{"pk":{"S":"b1"}},"SizeEstimateRangeGB":[0.0,1.0]},{"ItemCollectionKey":{"pk":{"S":"b2"}},"SizeEstimateRangeGB":[0.0,1.0]}]},"UnprocessedItems":{}}"#
        ]],
    );
    check(
        &store,
        "BatchWriteItem",
        json!({
            "RequestItems": {"plain": [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}]},
            "ReturnItemCollectionMetrics": "SIZE",
        }),
        expect![[r#"{"UnprocessedItems":{}}"#]],
    );
    check(
        &store,
        "BatchWriteItem",
        json!({"RequestItems": {"items": [{"PutRequest": {"Item": key}}]}}),
        expect![[r#"{"UnprocessedItems":{}}"#]],
    );
    let transaction = json!({
        "TransactItems": [
            {"ConditionCheck": {"TableName": "items", "Key": {"pk": {"S": "b1"}, "sk": {"N": "1"}}, "ConditionExpression": "attribute_exists(pk)"}},
            {"Update": {"TableName": "items", "Key": {"pk": {"S": "t1"}, "sk": {"N": "1"}}, "UpdateExpression": "SET a = :a", "ExpressionAttributeValues": {":a": {"S": "x"}}}},
            {"Put": {"TableName": "items", "Item": {"pk": {"S": "t2"}, "sk": {"N": "2"}, "a": {"S": "y"}}}},
            {"Delete": {"TableName": "plain", "Key": {"pk": {"S": "b"}}}},
        ],
        "ReturnItemCollectionMetrics": "SIZE",
        "ClientRequestToken": "icm-token",
    });
    let first = call(&store, "TransactWriteItems", transaction.clone());
    expect![[
        r#"{"ItemCollectionMetrics":{"items":[{"ItemCollectionKey":{"pk":{"S":"t1"}},"SizeEstimateRangeGB":[0.0,1.0]},{"ItemCollectionKey":{"pk":{"S":"t2"}},"SizeEstimateRangeGB":[0.0,1.0]}]}}"#
    ]]
    .assert_eq(&first.to_string());
    // The replay of a token answers as the first call did.
    assert_eq!(call(&store, "TransactWriteItems", transaction), first);
    check(
        &store,
        "TransactWriteItems",
        json!({
            "TransactItems": [{"Put": {"TableName": "plain", "Item": {"pk": {"S": "c"}}}}],
            "ReturnItemCollectionMetrics": "SIZE",
        }),
        expect!["{}"],
    );
}

/// The transaction-wide limits and per-item key errors of TransactGetItems.
#[test]
fn transaction_limits_and_key_errors() {
    let store = store();
    create(&store, "items", "N");
    let filler = "x".repeat(350_000);
    let puts: Vec<Value> = (0..12)
        .map(|n| {
            json!({"Put": {"TableName": "items", "Item": {"pk": {"S": "big"}, "sk": {"N": n.to_string()}, "data": {"S": filler}}}})
        })
        .collect();
    check(
        &store,
        "TransactWriteItems",
        json!({"TransactItems": puts}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Transaction request cannot be larger than 4 MB"}"#
        ]],
    );
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "Select": "COUNT"}),
        expect![[r#"{"Count":0,"ScannedCount":0}"#]],
    );
    check(
        &store,
        "TransactGetItems",
        json!({"TransactItems": [
            {"Get": {"TableName": "items", "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}}},
            {"Get": {"TableName": "items", "Key": {}}},
        ]}),
        expect![[
            r#"{"CancellationReasons":[{"Code":"None"},{"Code":"ValidationError","Message":"The provided key element does not match the schema"}],"Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, ValidationError]","__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException"}"#
        ]],
    );
}

/// UpdateTable to the same provisioned throughput, and tags of a table ARN in
/// another account.
#[test]
fn table_control_plane_answers() {
    let store = store();
    ok(
        &store,
        "CreateTable",
        json!({
            "TableName": "provisioned",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        }),
    );
    check(
        &store,
        "UpdateTable",
        json!({
            "TableName": "provisioned",
            "BillingMode": "PROVISIONED",
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        }),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: 5. Requested ReadCapacityUnits: 5. Current WriteCapacityUnits provisioned for the table: 5. Requested WriteCapacityUnits: 5. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits."}"#
        ]],
    );
    let changed = ok(
        &store,
        "UpdateTable",
        json!({
            "TableName": "provisioned",
            "ProvisionedThroughput": {"ReadCapacityUnits": 6, "WriteCapacityUnits": 5},
        }),
    );
    assert_eq!(
        changed["TableDescription"]["ProvisionedThroughput"]["ReadCapacityUnits"],
        json!(6)
    );
    check(
        &store,
        "ListTagsOfResource",
        json!({"ResourceArn": "arn:aws:dynamodb:us-east-1:111122223333:table/nonexistent_table_xyz"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"User is not authorized to perform: dynamodb:ListTagsOfResource on resource: arn:aws:dynamodb:us-east-1:111122223333:table/nonexistent_table_xyz"}"#
        ]],
    );
    check(
        &store,
        "ListTagsOfResource",
        json!({"ResourceArn": "not-a-valid-arn"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Invalid TableArn: Invalid ResourceArn provided as input not-a-valid-arn"}"#
        ]],
    );
}

/// PartiQL SELECT of a nested path answers the value under the path's last
/// name.
#[test]
fn partiql_select_nested_path() {
    let store = store();
    create(&store, "items", "N");
    ok(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "nested"}, "sk": {"N": "1"}, "mymap": {"M": {"nested": {"S": "deep"}}}}}),
    );
    check(
        &store,
        "ExecuteStatement",
        json!({"Statement": "SELECT mymap.nested, sk FROM \"items\" WHERE pk = 'nested'"}),
        expect![[r#"{"Items":[{"nested":{"S":"deep"},"sk":{"N":"1"}}]}"#]],
    );
    check(
        &store,
        "ExecuteTransaction",
        json!({"TransactStatements": [{"Statement": "SELECT mymap.nested FROM \"items\" WHERE pk = 'nested' AND sk = 1"}]}),
        expect![[r#"{"Responses":[{"Item":{"nested":{"S":"deep"}}}]}"#]],
    );
}

#[test]
fn in_process_stream_readers_are_woken_and_read_from_a_sequence_number() {
    let store = store();
    create(&store, "items", "N");
    ok(
        &store,
        "UpdateTable",
        json!({"TableName": "items", "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"}}),
    );
    let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = woken.clone();
    let watch = store
        .watch_stream(
            "items",
            Arc::new(move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }),
        )
        .expect("the table has a stream");
    for n in 1..=3 {
        ok(
            &store,
            "PutItem",
            json!({"TableName": "items", "Item": {"pk": {"S": "p"}, "sk": {"N": n.to_string()}}}),
        );
    }
    assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 3);
    let info = store
        .stream_info("items")
        .expect("table exists")
        .expect("stream on");
    assert_eq!(info.view_type, "NEW_IMAGE");
    assert!(info
        .stream_arn
        .ends_with("table/items/stream/2023-11-14T22:13:20.000"));
    let all = store.read_stream("items", 0, 10).expect("read");
    assert_eq!(all.len(), 3);
    assert_eq!(
        store.stream_latest("items").expect("latest"),
        all[2].sequence
    );
    let rest = store
        .read_stream("items", all[0].sequence, 10)
        .expect("read");
    assert_eq!(rest, all[1..].to_vec());
    assert_eq!(
        all[1].record["dynamodb"]["NewImage"]["sk"],
        json!({"N": "2"})
    );
    assert!(all[1].record["eventID"].is_string());
    drop(watch);
    ok(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "p"}, "sk": {"N": "9"}}}),
    );
    assert_eq!(
        woken.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "dropped watches are not called"
    );
    // A table without a stream cannot be watched.
    create(&store, "plain", "N");
    assert!(store.watch_stream("plain", Arc::new(|| {})).is_err());
}
