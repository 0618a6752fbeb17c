//! End-to-end use of the crate's public API the way a backend will use it for
//! one request: wire JSON in, expressions parsed once, evaluated against an
//! item, wire JSON out.

use std::collections::BTreeMap;

use expect_test::expect;
use serde_json::json;
use serverful_store::eval::{
    apply_projection, apply_update, check_condition, check_update_keeps_key,
};
use serverful_store::expression::{check_placeholder_maps, ExpressionContext};
use serverful_store::key::{KeyAttribute, KeySchema, ScalarType};
use serverful_store::value::{item_from_json, item_to_json};

fn schema() -> KeySchema {
    KeySchema {
        partition_key: KeyAttribute {
            name: "pk".into(),
            scalar_type: ScalarType::S,
        },
        sort_key: Some(KeyAttribute {
            name: "sk".into(),
            scalar_type: ScalarType::N,
        }),
    }
}

/// An UpdateItem with a condition and `ReturnValues: UPDATED_NEW`.
#[test]
fn conditional_update_round_trip() {
    let stored = item_from_json(&json!({
        "pk": {"S": "user#1"}, "sk": {"N": "1"}, "visits": {"N": "41"}, "tags": {"SS": ["a"]}
    }))
    .expect("stored item is valid");
    let names: BTreeMap<String, String> = [("#v".to_owned(), "visits".to_owned())].into();
    let values =
        item_from_json(&json!({":one": {"N": "1"}, ":max": {"N": "100"}, ":t": {"SS": ["b"]}}))
            .expect("values are valid");
    check_placeholder_maps(Some(&names), Some(&values)).expect("placeholder keys are well formed");

    let mut context = ExpressionContext::new(&names, &values);
    let update = context
        .update("SET #v = #v + :one ADD tags :t")
        .expect("update parses");
    let condition = context
        .condition("#v < :max AND attribute_exists(pk)")
        .expect("condition parses");
    context.finish().expect("every placeholder is used");
    check_update_keeps_key(&update, &schema()).expect("no key attribute is written");

    check_condition(&condition, &stored).expect("condition holds");
    let new_item = apply_update(&update, &stored).expect("update applies");
    schema().check_item(&new_item).expect("key unchanged");
    let returned = apply_projection(&update.updated_paths(), &new_item);
    expect![[r#"{"tags":{"SS":["a","b"]},"visits":{"N":"42"}}"#]]
        .assert_eq(&item_to_json(&returned).to_string());
}

/// A Query's key condition turned into encoded key bounds a backend can scan.
#[test]
fn key_condition_to_encoded_range() {
    let names = BTreeMap::new();
    let values =
        item_from_json(&json!({":p": {"S": "user#1"}, ":lo": {"N": "-5"}, ":hi": {"N": "1e3"}}))
            .expect("values are valid");
    let mut context = ExpressionContext::new(&names, &values);
    let key_condition = context
        .key_condition("pk = :p AND sk BETWEEN :lo AND :hi", &schema())
        .expect("key condition parses");
    context.finish().expect("every placeholder is used");
    expect!["pk = {S: user#1}; sk BETWEEN {N: -5} AND {N: 1000}"]
        .assert_eq(&format!("{key_condition:?}"));

    let inside =
        item_from_json(&json!({"pk": {"S": "user#1"}, "sk": {"N": "999.5"}})).expect("valid");
    let outside =
        item_from_json(&json!({"pk": {"S": "user#1"}, "sk": {"N": "1000.5"}})).expect("valid");
    let low = item_from_json(&json!({"pk": {"S": "user#1"}, "sk": {"N": "-5"}})).expect("valid");
    let high = item_from_json(&json!({"pk": {"S": "user#1"}, "sk": {"N": "1000"}})).expect("valid");
    let encode = |item| schema().encode(item).expect("has the key");
    assert!(encode(&low) <= encode(&inside) && encode(&inside) <= encode(&high));
    assert!(encode(&outside) > encode(&high));
}

/// The typed API as the AWS edge uses it: a body parsed with `api::from_slice`,
/// a `Store` method, the output serialized, errors rendered with `error_body`.
#[test]
fn typed_api_round_trip() {
    use std::sync::Arc;

    use serverful_store::api::{
        error_body, from_slice, CreateTableInput, GetItemInput, PutItemInput,
    };
    use serverful_store::{MemoryBackend, Store, StoreConfig};

    let store =
        Store::open(Arc::new(MemoryBackend::new()), StoreConfig::default()).expect("empty store");
    let create: CreateTableInput = from_slice(
        br#"{"TableName": "users", "BillingMode": "PAY_PER_REQUEST",
             "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
             "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}"#,
    )
    .expect("a valid request");
    store.create_table(create).expect("table created");
    let put: PutItemInput = from_slice(
        br#"{"TableName": "users", "Item": {"id": {"S": "u1"}, "age": {"N": "30"}},
             "ReturnValues": "ALL_OLD"}"#,
    )
    .expect("a valid request");
    let output = store.put_item(put).expect("stored");
    expect!["{}"].assert_eq(&serde_json::to_string(&output).expect("serializes"));
    let get: GetItemInput =
        from_slice(br#"{"TableName": "users", "Key": {"id": {"S": "u1"}}}"#).expect("valid");
    let output = store.get_item(get).expect("read");
    expect![[r#"{"Item":{"age":{"N":"30"},"id":{"S":"u1"}}}"#]]
        .assert_eq(&serde_json::to_string(&output).expect("serializes"));
    let error =
        from_slice::<GetItemInput>(br#"{"TableName": "users", "Key": {"id": {"N": "x1"}}}"#)
            .expect_err("not a number");
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"The parameter cannot be converted to a numeric value: x1"}"#]]
        .assert_eq(&error_body(&error).to_string());
    let error = store
        .get_item(GetItemInput {
            table_name: Some("nope".into()),
            key: Some(item_from_json(&json!({"id": {"S": "u1"}})).expect("valid")),
            ..GetItemInput::default()
        })
        .expect_err("no such table");
    expect![[r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#]]
        .assert_eq(&error_body(&error).to_string());
}
