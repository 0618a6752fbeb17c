//! DynamoDB's order of validation: what a request says by itself is refused before
//! its table is looked up (so a missing table does not hide it), paths may not reach
//! into key attributes, invalid placeholders' values and start keys are worded as
//! DynamoDB words them; and `ConsumedCapacity` per index, `size()` of strings.

use expect_test::expect;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{call, check, create, ok, store};

/// An item of `bytes` bytes of text besides its key.
fn big_item(bytes: usize) -> Value {
    json!({"pk": {"S": "a"}, "sk": {"S": "1"}, "blob": {"S": "x".repeat(bytes)}})
}

#[test]
fn request_faults_come_before_a_missing_table() {
    let store = store();
    check(
        &store,
        "PutItem",
        json!({"TableName": "missing", "Item": big_item(400 * 1024)}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Item size has exceeded the maximum allowed size"}"#
        ]],
    );
    check(
        &store,
        "BatchWriteItem",
        json!({"RequestItems": {"missing": [{"PutRequest": {"Item": big_item(400 * 1024)}}]}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Item size has exceeded the maximum allowed size"}"#
        ]],
    );
    check(
        &store,
        "BatchWriteItem",
        json!({"RequestItems": {"missing": [{}]}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"}"#
        ]],
    );
    check(
        &store,
        "UpdateItem",
        json!({"TableName": "missing", "Key": {"pk": {"S": "a"}},
               "AttributeUpdates": {"n": {"Action": "DELETE", "Value": {"S": "x"}}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"One or more parameter values were invalid: DELETE action with value is not supported for the type S"}"#
        ]],
    );
    check(
        &store,
        "Query",
        json!({"TableName": "missing", "KeyConditionExpression": "pk = :v OR pk = :w",
               "ExpressionAttributeValues": {":v": {"S": "a"}, ":w": {"S": "b"}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Invalid operator used in KeyConditionExpression: OR"}"#
        ]],
    );
    check(
        &store,
        "Query",
        json!({"TableName": "missing", "KeyConditions": {
            "a": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
            "b": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
            "c": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Conditions can be of length 1 or 2 only"}"#
        ]],
    );
    check(
        &store,
        "Query",
        json!({"TableName": "missing", "KeyConditionExpression": "pk = :v",
               "ExpressionAttributeValues": {":v": {"S": "a"}},
               "QueryFilter": {"n": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"N": "1"}]}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {QueryFilter} Expression parameters: {KeyConditionExpression}"}"#
        ]],
    );
    check(
        &store,
        "BatchGetItem",
        json!({"RequestItems": {"missing": {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "a"}}]}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Provided list of item keys contains duplicates"}"#
        ]],
    );
    check(
        &store,
        "GetItem",
        json!({"TableName": "missing", "Key": {"pk": {"S": "a"}}, "AttributesToGet": []}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1"}"#
        ]],
    );
    check(
        &store,
        "DeleteItem",
        json!({"TableName": "missing", "Key": {"pk": {"S": "a"}}, "ExpressionAttributeNames": {}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"ExpressionAttributeNames can only be specified when using expressions"}"#
        ]],
    );
    // Only then the table.
    check(
        &store,
        "PutItem",
        json!({"TableName": "missing", "Item": big_item(10)}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#
        ]],
    );
}

#[test]
fn update_results_over_the_limit_say_so() {
    let store = store();
    create(&store, "items", "S");
    check(
        &store,
        "UpdateItem",
        json!({"TableName": "items", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
               "AttributeUpdates": {"blob": {"Action": "PUT", "Value": {"S": "x".repeat(400 * 1024)}}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Item size to update has exceeded the maximum allowed size"}"#
        ]],
    );
}

#[test]
fn paths_may_not_reach_into_key_attributes() {
    let store = store();
    create(&store, "items", "S");
    let key = json!({"pk": {"S": "a"}, "sk": {"S": "1"}});
    check(
        &store,
        "GetItem",
        json!({"TableName": "items", "Key": key, "ProjectionExpression": "#p.nested",
               "ExpressionAttributeNames": {"#p": "pk"}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: pk"}"#
        ]],
    );
    check(
        &store,
        "GetItem",
        json!({"TableName": "items", "Key": key, "ProjectionExpression": "alt[0]"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: IndexKey: alt"}"#
        ]],
    );
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "FilterExpression": "attribute_exists(sk.x)"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: sk"}"#
        ]],
    );
    check(
        &store,
        "UpdateItem",
        json!({"TableName": "items", "Key": key, "UpdateExpression": "SET copied = alt.x"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: IndexKey: alt"}"#
        ]],
    );
    // Nothing was written.
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "Select": "COUNT"}),
        expect![[r#"{"Count":0,"ScannedCount":0}"#]],
    );
    // Top-level key attributes and nested non-key paths are fine.
    ok(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}, "m": {"M": {"x": {"N": "1"}}}}}),
    );
    check(
        &store,
        "GetItem",
        json!({"TableName": "items", "Key": key, "ProjectionExpression": "pk, m.x"}),
        expect![[r#"{"Item":{"m":{"M":{"x":{"N":"1"}}},"pk":{"S":"a"}}}"#]],
    );
}

#[test]
fn invalid_values_are_named_where_dynamodb_names_them() {
    let store = store();
    create(&store, "items", "S");
    check(
        &store,
        "DeleteItem",
        json!({"TableName": "items", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
               "ConditionExpression": "n = :v", "ExpressionAttributeValues": {":v": {}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"ExpressionAttributeValues contains invalid value: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes for key :v"}"#
        ]],
    );
    check(
        &store,
        "DeleteItem",
        json!({"TableName": "items", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
               "ConditionExpression": "n = :v", "ExpressionAttributeValues": {":v": {"SS": []}, "bad": {"S": "x"}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"ExpressionAttributeValues contains invalid key: Syntax error; key: \"bad\""}"#
        ]],
    );
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "ExclusiveStartKey": {"pk": {}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"The provided starting key is invalid: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"}"#
        ]],
    );
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "ExclusiveStartKey": {"pk": {"S": "a"}, "sk": {"N": "1"}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"The provided starting key is invalid: The provided key element does not match the schema"}"#
        ]],
    );
    check(
        &store,
        "Query",
        json!({"TableName": "items", "KeyConditionExpression": "pk = :v",
               "ExpressionAttributeValues": {":v": {"S": "a"}},
               "ExclusiveStartKey": {"pk": {"S": "a"}, "sk": {"N": "1"}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"The provided key element does not match the schema"}"#
        ]],
    );
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "Segment": 0, "TotalSegments": 4,
               "ExclusiveStartKey": {"pk": {"S": "not-in-segment-0-a"}, "sk": {"S": "1"}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: 4 Segment: 0"}"#
        ]],
    );
}

#[test]
fn at_most_ten_violations_are_listed() {
    let store = store();
    let response = call(
        &store,
        "Query",
        json!({"TableName": "a;", "IndexName": "b;", "Select": "x", "Limit": 0,
               "ReturnConsumedCapacity": "x", "AttributesToGet": [], "ConditionalOperator": "x",
               "QueryFilter": {"a": {}, "b": {"ComparisonOperator": "x"}},
               "KeyConditions": {"c": {}, "d": {"ComparisonOperator": "x"}}}),
    );
    let message = response["message"].as_str().expect("a message");
    assert!(
        message.starts_with("10 validation errors detected: "),
        "{message}"
    );
    assert_eq!(message.matches("failed to satisfy constraint").count(), 10);
}

#[test]
fn consumed_capacity_per_index() {
    let store = store();
    create(&store, "items", "S");
    let item = json!({"pk": {"S": "a"}, "sk": {"S": "1"}, "alt": {"N": "1"}});
    check(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": item, "ReturnConsumedCapacity": "INDEXES"}),
        expect![[
            r#"{"ConsumedCapacity":{"CapacityUnits":2.0,"LocalSecondaryIndexes":{"by-alt":{"CapacityUnits":1.0}},"Table":{"CapacityUnits":1.0},"TableName":"items"}}"#
        ]],
    );
    // The same item again changes no index entry.
    check(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": item, "ReturnConsumedCapacity": "TOTAL"}),
        expect![[r#"{"ConsumedCapacity":{"CapacityUnits":1.0,"TableName":"items"}}"#]],
    );
    // A new index key is a delete and a put on the index.
    check(
        &store,
        "UpdateItem",
        json!({"TableName": "items", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
               "UpdateExpression": "SET alt = :two", "ExpressionAttributeValues": {":two": {"N": "2"}},
               "ReturnConsumedCapacity": "INDEXES"}),
        expect![[
            r#"{"ConsumedCapacity":{"CapacityUnits":3.0,"LocalSecondaryIndexes":{"by-alt":{"CapacityUnits":2.0}},"Table":{"CapacityUnits":1.0},"TableName":"items"}}"#
        ]],
    );
    check(
        &store,
        "Query",
        json!({"TableName": "items", "IndexName": "by-alt", "KeyConditionExpression": "pk = :a",
               "ExpressionAttributeValues": {":a": {"S": "a"}}, "Select": "COUNT",
               "ReturnConsumedCapacity": "INDEXES"}),
        expect![[
            r#"{"ConsumedCapacity":{"CapacityUnits":0.5,"LocalSecondaryIndexes":{"by-alt":{"CapacityUnits":0.5}},"TableName":"items"},"Count":1,"ScannedCount":1}"#
        ]],
    );
    check(
        &store,
        "BatchWriteItem",
        json!({"RequestItems": {"items": [{"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"S": "1"}}}}]},
               "ReturnConsumedCapacity": "INDEXES"}),
        expect![[
            r#"{"ConsumedCapacity":[{"CapacityUnits":2.0,"LocalSecondaryIndexes":{"by-alt":{"CapacityUnits":1.0}},"Table":{"CapacityUnits":1.0},"TableName":"items"}],"UnprocessedItems":{}}"#
        ]],
    );
}

#[test]
fn size_of_a_string_counts_characters() {
    let store = store();
    create(&store, "items", "S");
    ok(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}, "s": {"S": "héllo"}, "b": {"B": "AAEC"}}}),
    );
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "Select": "COUNT",
               "FilterExpression": "size(s) = :five AND size(b) = :three",
               "ExpressionAttributeValues": {":five": {"N": "5"}, ":three": {"N": "3"}}}),
        expect![[r#"{"Count":1,"ScannedCount":1}"#]],
    );
}

/// One request fault DynamoDB finds without the table, with the request it spoils.
fn faulty_request() -> impl Strategy<Value = (&'static str, Value)> {
    let oversized = (0usize..2048).prop_map(|extra| {
        (
            "PutItem",
            json!({"TableName": "items", "Item": big_item(400 * 1024 + extra)}),
        )
    });
    let bad_enum = ("[a-z]{1,8}", 0usize..3).prop_map(|(word, member)| {
        let member = [
            "ReturnValues",
            "ReturnConsumedCapacity",
            "ReturnItemCollectionMetrics",
        ][member];
        let mut request =
            json!({"TableName": "items", "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}}});
        request[member] = Value::String(word);
        ("PutItem", request)
    });
    let broken_condition = "\\)[a-z :=<>()]{0,16}".prop_map(|text| {
        (
            "DeleteItem",
            json!({"TableName": "items", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                               "ConditionExpression": text}),
        )
    });
    let broken_key_condition = "[a-z]{1,4} (<>|IN|OR) [a-z]{1,4}".prop_map(|text| {
        (
            "Query",
            json!({"TableName": "items", "KeyConditionExpression": text}),
        )
    });
    let unused_value = "[a-z]{1,6}".prop_map(|name| {
        ("UpdateItem", json!({"TableName": "items", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                               "UpdateExpression": "SET n = :n",
                               "ExpressionAttributeValues": {":n": {"N": "1"}, format!(":{name}x"): {"N": "2"}}}))
    });
    let legacy_delete = "[a-z]{1,6}".prop_map(|text| {
        ("UpdateItem", json!({"TableName": "items", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                               "AttributeUpdates": {"n": {"Action": "DELETE", "Value": {"S": text}}}}))
    });
    let mixed = "[a-z]{1,6}".prop_map(|name| {
        ("Scan", json!({"TableName": "items", "AttributesToGet": [name.clone()], "ProjectionExpression": name}))
    });
    prop_oneof![
        oversized,
        bad_enum,
        broken_condition,
        broken_key_condition,
        unused_value,
        legacy_delete,
        mixed
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever a request's own fault, DynamoDB refuses it the same way whether or not
    /// the table exists, and nothing is written.
    #[test]
    fn request_faults_do_not_depend_on_the_table((operation, request) in faulty_request()) {
        let store = store();
        let without_table = call(&store, operation, request.clone());
        create(&store, "items", "S");
        let with_table = call(&store, operation, request);
        prop_assert_eq!(
            without_table["__type"].as_str(),
            Some("com.amazonaws.dynamodb.v20120810#ValidationException"),
            "{}", without_table
        );
        prop_assert_eq!(&without_table, &with_table);
        let count = call(&store, "Scan", json!({"TableName": "items", "Select": "COUNT"}));
        prop_assert_eq!(count["Count"].as_u64(), Some(0));
    }
}

#[test]
fn control_plane_faults_come_before_a_missing_table() {
    let store = store();
    let missing = "arn:aws:dynamodb:us-east-1:000000000000:table/missing";
    check(
        &store,
        "TagResource",
        json!({"ResourceArn": missing, "Tags": []}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Atleast one Tag needs to be provided as Input."}"#
        ]],
    );
    check(
        &store,
        "UntagResource",
        json!({"ResourceArn": missing, "TagKeys": []}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Atleast one Tag Key needs to be provided as Input."}"#
        ]],
    );
    check(
        &store,
        "ListTagsOfResource",
        json!({"ResourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/ab"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Invalid TableArn: Invalid ResourceArn provided as input arn:aws:dynamodb:us-east-1:000000000000:table/ab"}"#
        ]],
    );
    check(
        &store,
        "UpdateTable",
        json!({"TableName": "missing", "GlobalSecondaryIndexUpdates": [
            {"Delete": {"IndexName": "twice"}}, {"Delete": {"IndexName": "twice"}}]}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"One or more parameter values were invalid: Only one global secondary index update per index is allowed simultaneously. Index: twice"}"#
        ]],
    );
    check(
        &store,
        "TagResource",
        json!({"ResourceArn": missing, "Tags": [{"Key": "k", "Value": "v"}]}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found: ResourcArn: arn:aws:dynamodb:us-east-1:000000000000:table/missing not found"}"#
        ]],
    );
}

#[test]
fn values_are_judged_where_dynamodb_judges_them() {
    let store = store();
    create(&store, "items", "S");
    // Mixing expression and legacy members is found before an empty value.
    check(
        &store,
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {}},
               "Expected": {"n": {"Exists": false}}, "ConditionExpression": "attribute_not_exists(n)"}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}"}"#
        ]],
    );
    check(
        &store,
        "GetItem",
        json!({"TableName": "items", "Key": {"pk": {}}, "ExpressionAttributeNames": {"#n": "n"}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"ExpressionAttributeNames can only be specified when using expressions"}"#
        ]],
    );
    // A filter's fault comes before the start key's empty value.
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "ExclusiveStartKey": {"pk": {}},
               "ScanFilter": {"n": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"BOOL": true}]}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"One or more parameter values were invalid: ComparisonOperator BEGINS_WITH is not valid for BOOL AttributeValue type"}"#
        ]],
    );
    // The item's own empty value comes before its size and the table.
    check(
        &store,
        "PutItem",
        json!({"TableName": "missing", "Item": {"pk": {"S": "a"}, "n": {}, "blob": {"S": "x".repeat(400 * 1024)}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"}"#
        ]],
    );
    // A placeholder value's fault comes before the expression's.
    check(
        &store,
        "Query",
        json!({"TableName": "items", "KeyConditionExpression": "pk = :v OR",
               "ExpressionAttributeValues": {":v": {"SS": []}}}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: An string set  may not be empty for key :v"}"#
        ]],
    );
    // Operations that judge values as they read them still refuse them.
    check(
        &store,
        "TransactWriteItems",
        json!({"TransactItems": [{"Put": {"TableName": "items", "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {}}}}]}),
        expect![[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"}"#
        ]],
    );
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "Select": "COUNT"}),
        expect![[r#"{"Count":0,"ScannedCount":0}"#]],
    );
}

/// The AWS edge starts puts and deletes without waiting; an invalid value is refused
/// there too, in its place, and never written as the `NULL` that stands in for it.
#[test]
fn started_writes_refuse_invalid_values_in_order() {
    let store = std::sync::Arc::new(store());
    create(&store, "items", "S");
    let start = |operation: &str, request: Value| -> String {
        let (sender, receiver) = std::sync::mpsc::channel();
        let answer: crate::engine::Answer = Box::new(move |outcome| {
            let _ = sender.send(outcome);
        });
        if let Some(blocking) = store.start_call(operation, request.to_string(), answer) {
            blocking();
        }
        match receiver.recv().expect("answered") {
            Ok(body) => String::from_utf8(body).expect("utf-8"),
            Err(error) => error.message,
        }
    };
    expect![
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
    ]
    .assert_eq(&start(
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {}}}),
    ));
    expect!["Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}"]
        .assert_eq(&start(
            "DeleteItem",
            json!({"TableName": "items", "Key": {"pk": {}, "sk": {"S": "1"}},
                   "Expected": {"n": {"Exists": false}}, "ConditionExpression": "attribute_exists(n)"}),
        ));
    expect![[r#"{}"#]].assert_eq(&start(
        "PutItem",
        json!({"TableName": "items", "Item": {"pk": {"S": "a"}, "sk": {"S": "2"}}}),
    ));
    check(
        &store,
        "Scan",
        json!({"TableName": "items", "Select": "COUNT"}),
        expect![[r#"{"Count":1,"ScannedCount":1}"#]],
    );
}
