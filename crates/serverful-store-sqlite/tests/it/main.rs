//! The store over SQLite, driven the way the AWS edge drives it: JSON request
//! bodies in, JSON response or error bodies out, snapshotted through one
//! `check()` helper.

use std::path::Path;
use std::sync::Arc;

use expect_test::{expect, Expect};
use serde_json::{json, Value};
use serverful_store::api::error_body;
use serverful_store::{Store, StoreConfig};
use serverful_store_sqlite::SqliteBackend;

/// 2023-11-14T22:13:20Z, so descriptions and TTL are stable.
const NOW: f64 = 1_700_000_000.0;

fn open(directory: &Path) -> Arc<Store> {
    let backend = SqliteBackend::open(directory.join("store.sqlite")).expect("open the database");
    Arc::new(
        Store::open_with_clock(Arc::new(backend), StoreConfig::default(), Box::new(|| NOW))
            .expect("load the catalog"),
    )
}

/// Runs an operation as the AWS endpoint does: started without waiting, and what would
/// have to wait run here; the answer may come from the writer thread.
fn call(store: &Arc<Store>, operation: &str, request: Value) -> Value {
    let (sender, answer) = std::sync::mpsc::channel();
    let blocking = store.start_call(
        operation,
        request.to_string().into_bytes(),
        Box::new(move |outcome| {
            let _ = sender.send(outcome);
        }),
    );
    if let Some(blocking) = blocking {
        blocking();
    }
    match answer.recv().expect("every started call is answered") {
        Ok(response) => serde_json::from_slice(&response).expect("responses are JSON"),
        Err(error) => error_body(&error),
    }
}

fn check(store: &Arc<Store>, operation: &str, request: Value, expect: Expect) {
    let response = call(store, operation, request);
    expect.assert_eq(&serde_json::to_string_pretty(&response).expect("JSON renders"));
}

/// Calls an operation that must succeed.
fn ok(store: &Store, operation: &str, request: Value) -> Value {
    store
        .call(operation, request.to_string().as_bytes())
        .unwrap_or_else(|error| panic!("{operation} failed: {error}"))
}

fn create_orders(store: &Store) {
    ok(
        store,
        "CreateTable",
        json!({
            "TableName": "orders",
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": "customer", "AttributeType": "S"},
                {"AttributeName": "order", "AttributeType": "N"},
                {"AttributeName": "status", "AttributeType": "S"},
            ],
            "KeySchema": [
                {"AttributeName": "customer", "KeyType": "HASH"},
                {"AttributeName": "order", "KeyType": "RANGE"},
            ],
            "GlobalSecondaryIndexes": [{
                "IndexName": "by-status",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "order", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }],
        }),
    );
}

fn put_order(store: &Store, customer: &str, order: i64, status: &str, amount: i64) {
    ok(
        store,
        "PutItem",
        json!({
            "TableName": "orders",
            "Item": {
                "customer": {"S": customer},
                "order": {"N": order.to_string()},
                "status": {"S": status},
                "amount": {"N": amount.to_string()},
            },
        }),
    );
}

#[test]
fn table_lifecycle_and_validation() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = open(directory.path());
    check(
        &store,
        "CreateTable",
        json!({
            "TableName": "users",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        }),
        expect![[r#"
            {
              "TableDescription": {
                "AttributeDefinitions": [
                  {
                    "AttributeName": "id",
                    "AttributeType": "S"
                  }
                ],
                "CreationDateTime": 1700000000.0,
                "DeletionProtectionEnabled": false,
                "ItemCount": 0,
                "KeySchema": [
                  {
                    "AttributeName": "id",
                    "KeyType": "HASH"
                  }
                ],
                "ProvisionedThroughput": {
                  "NumberOfDecreasesToday": 0,
                  "ReadCapacityUnits": 5,
                  "WriteCapacityUnits": 5
                },
                "TableArn": "arn:aws:dynamodb:us-east-1:000000000000:table/users",
                "TableId": "00000000-0000-0000-0006-0a24181e4000",
                "TableName": "users",
                "TableSizeBytes": 0,
                "TableStatus": "ACTIVE"
              }
            }"#]],
    );
    check(
        &store,
        "CreateTable",
        json!({
            "TableName": "users",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        }),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ResourceInUseException",
              "message": "Table already exists: users"
            }"#]],
    );
    check(
        &store,
        "CreateTable",
        json!({}),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
              "message": "The parameter 'TableName' is required but was not present in the request"
            }"#]],
    );
    check(
        &store,
        "CreateTable",
        json!({
            "TableName": "t1",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "x", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        }),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
              "message": "1 validation error detected: Value 't1' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3"
            }"#]],
    );
    check(
        &store,
        "CreateTable",
        json!({
            "TableName": "table",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "x", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        }),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
              "message": "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions"
            }"#]],
    );
    check(
        &store,
        "DescribeTable",
        json!({"TableName": "missing"}),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
              "message": "Requested resource not found: Table: missing not found"
            }"#]],
    );
    check(
        &store,
        "DescribeTable",
        json!({"TableName": 3}),
        expect![[r#"
        {
          "__type": "com.amazonaws.dynamodb.v20120810#SerializationException",
          "message": "NUMBER_VALUE cannot be converted to String"
        }"#]],
    );
    create_orders(&store);
    check(
        &store,
        "ListTables",
        json!({"Limit": 1}),
        expect![[r#"
        {
          "LastEvaluatedTableName": "orders",
          "TableNames": [
            "orders"
          ]
        }"#]],
    );
    check(
        &store,
        "ListTables",
        json!({"ExclusiveStartTableName": "orders"}),
        expect![[r#"
            {
              "TableNames": [
                "users"
              ]
            }"#]],
    );
    check(
        &store,
        "UpdateTimeToLive",
        json!({"TableName": "users", "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "expires"}}),
        expect![[r#"
            {
              "TimeToLiveSpecification": {
                "AttributeName": "expires",
                "Enabled": true
              }
            }"#]],
    );
    check(
        &store,
        "DescribeTimeToLive",
        json!({"TableName": "users"}),
        expect![[r#"
            {
              "TimeToLiveDescription": {
                "AttributeName": "expires",
                "TimeToLiveStatus": "ENABLED"
              }
            }"#]],
    );
    check(
        &store,
        "TagResource",
        json!({"ResourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/users", "Tags": [{"Key": "team", "Value": "a"}]}),
        expect!["{}"],
    );
    check(
        &store,
        "ListTagsOfResource",
        json!({"ResourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/users"}),
        expect![[r#"
            {
              "Tags": [
                {
                  "Key": "team",
                  "Value": "a"
                }
              ]
            }"#]],
    );
    check(
        &store,
        "DeleteTable",
        json!({"TableName": "users"}),
        expect![[r#"
            {
              "TableDescription": {
                "AttributeDefinitions": [
                  {
                    "AttributeName": "id",
                    "AttributeType": "S"
                  }
                ],
                "CreationDateTime": 1700000000.0,
                "DeletionProtectionEnabled": false,
                "ItemCount": 0,
                "KeySchema": [
                  {
                    "AttributeName": "id",
                    "KeyType": "HASH"
                  }
                ],
                "ProvisionedThroughput": {
                  "NumberOfDecreasesToday": 0,
                  "ReadCapacityUnits": 5,
                  "WriteCapacityUnits": 5
                },
                "TableArn": "arn:aws:dynamodb:us-east-1:000000000000:table/users",
                "TableId": "00000000-0000-0000-0006-0a24181e4000",
                "TableName": "users",
                "TableSizeBytes": 0,
                "TableStatus": "DELETING"
              }
            }"#]],
    );
    check(
        &store,
        "ListTables",
        json!({}),
        expect![[r#"
        {
          "TableNames": [
            "orders"
          ]
        }"#]],
    );
}

#[test]
fn item_writes_conditions_and_return_values() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = open(directory.path());
    create_orders(&store);
    let item = json!({"customer": {"S": "ann"}, "order": {"N": "1"}, "status": {"S": "new"}, "amount": {"N": "10"}});
    check(
        &store,
        "PutItem",
        json!({
            "TableName": "orders", "Item": item,
            "ConditionExpression": "attribute_not_exists(customer)",
            "ReturnConsumedCapacity": "TOTAL",
        }),
        expect![[r#"
            {
              "ConsumedCapacity": {
                "CapacityUnits": 2.0,
                "TableName": "orders"
              }
            }"#]],
    );
    check(
        &store,
        "PutItem",
        json!({
            "TableName": "orders", "Item": item,
            "ConditionExpression": "attribute_not_exists(customer)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }),
        expect![[r#"
            {
              "Item": {
                "amount": {
                  "N": "10"
                },
                "customer": {
                  "S": "ann"
                },
                "order": {
                  "N": "1"
                },
                "status": {
                  "S": "new"
                }
              },
              "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
              "message": "The conditional request failed"
            }"#]],
    );
    check(
        &store,
        "UpdateItem",
        json!({
            "TableName": "orders",
            "Key": {"customer": {"S": "ann"}, "order": {"N": "1"}},
            "UpdateExpression": "SET amount = amount + :more, #s = :paid",
            "ConditionExpression": "#s = :new",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":more": {"N": "5"}, ":paid": {"S": "paid"}, ":new": {"S": "new"}},
            "ReturnValues": "UPDATED_NEW",
        }),
        expect![[r#"
            {
              "Attributes": {
                "amount": {
                  "N": "15"
                },
                "status": {
                  "S": "paid"
                }
              }
            }"#]],
    );
    check(
        &store,
        "UpdateItem",
        json!({
            "TableName": "orders",
            "Key": {"customer": {"S": "ann"}, "order": {"N": "1"}},
            "AttributeUpdates": {"note": {"Action": "PUT", "Value": {"S": "gift"}}},
            "Expected": {"status": {"Value": {"S": "paid"}}},
            "ReturnValues": "ALL_OLD",
        }),
        expect![[r#"
            {
              "Attributes": {
                "amount": {
                  "N": "15"
                },
                "customer": {
                  "S": "ann"
                },
                "order": {
                  "N": "1"
                },
                "status": {
                  "S": "paid"
                }
              }
            }"#]],
    );
    check(
        &store,
        "GetItem",
        json!({
            "TableName": "orders",
            "Key": {"customer": {"S": "ann"}, "order": {"N": "1"}},
            "ProjectionExpression": "amount, note",
            "ReturnConsumedCapacity": "TOTAL",
            "ConsistentRead": true,
        }),
        expect![[r#"
            {
              "ConsumedCapacity": {
                "CapacityUnits": 1.0,
                "TableName": "orders"
              },
              "Item": {
                "amount": {
                  "N": "15"
                },
                "note": {
                  "S": "gift"
                }
              }
            }"#]],
    );
    check(
        &store,
        "UpdateItem",
        json!({
            "TableName": "orders",
            "Key": {"customer": {"S": "ann"}, "order": {"N": "1"}},
            "UpdateExpression": "SET customer = :x",
            "ExpressionAttributeValues": {":x": {"S": "bob"}},
        }),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
              "message": "One or more parameter values were invalid: Cannot update attribute customer. This attribute is part of the key"
            }"#]],
    );
    check(
        &store,
        "PutItem",
        json!({"TableName": "orders", "Item": {"customer": {"S": "ann"}}}),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
              "message": "One or more parameter values were invalid: Missing the key order in the item"
            }"#]],
    );
    check(
        &store,
        "PutItem",
        json!({"TableName": "missing", "Item": item}),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
              "message": "Requested resource not found"
            }"#]],
    );
    check(
        &store,
        "PutItem",
        json!({"TableName": "orders", "Item": item, "ConditionExpression": "a = :v", "Expected": {"a": {"Exists": false}}}),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
              "message": "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}"
            }"#]],
    );
    check(
        &store,
        "PutItem",
        json!({"TableName": "orders", "Item": item, "ExpressionAttributeValues": {":unused": {"S": "x"}}, "ConditionExpression": "attribute_exists(customer)"}),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
              "message": "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}"
            }"#]],
    );
    check(
        &store,
        "DeleteItem",
        json!({
            "TableName": "orders",
            "Key": {"customer": {"S": "ann"}, "order": {"N": "1"}},
            "ReturnValues": "ALL_OLD",
        }),
        expect![[r#"
            {
              "Attributes": {
                "amount": {
                  "N": "15"
                },
                "customer": {
                  "S": "ann"
                },
                "note": {
                  "S": "gift"
                },
                "order": {
                  "N": "1"
                },
                "status": {
                  "S": "paid"
                }
              }
            }"#]],
    );
    check(
        &store,
        "GetItem",
        json!({"TableName": "orders", "Key": {"customer": {"S": "ann"}, "order": {"N": "1"}}}),
        expect![[r#"{}"#]],
    );
    check(
        &store,
        "GetItem",
        json!({"TableName": "orders", "Key": {"customer": {"S": "ann"}}}),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
              "message": "The provided key element does not match the schema"
            }"#]],
    );
}

#[test]
fn query_scan_paging_and_indexes() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = open(directory.path());
    create_orders(&store);
    for order in [5, -2, 30, 7, 100, 0, 12] {
        let status = if order % 2 == 0 { "open" } else { "done" };
        put_order(&store, "ann", order, status, order * 10);
    }
    put_order(&store, "bob", 1, "open", 1);
    check(
        &store,
        "Query",
        json!({
            "TableName": "orders",
            "KeyConditionExpression": "customer = :c AND #o BETWEEN :low AND :high",
            "ExpressionAttributeNames": {"#o": "order"},
            "ExpressionAttributeValues": {":c": {"S": "ann"}, ":low": {"N": "0"}, ":high": {"N": "30"}},
            "ProjectionExpression": "#o",
            "ScanIndexForward": false,
        }),
        expect![[r#"
            {
              "Count": 5,
              "Items": [
                {
                  "order": {
                    "N": "30"
                  }
                },
                {
                  "order": {
                    "N": "12"
                  }
                },
                {
                  "order": {
                    "N": "7"
                  }
                },
                {
                  "order": {
                    "N": "5"
                  }
                },
                {
                  "order": {
                    "N": "0"
                  }
                }
              ],
              "ScannedCount": 5
            }"#]],
    );
    let first = ok(
        &store,
        "Query",
        json!({
            "TableName": "orders",
            "KeyConditionExpression": "customer = :c",
            "ExpressionAttributeValues": {":c": {"S": "ann"}},
            "Limit": 3,
            "Select": "COUNT",
        }),
    );
    expect![[r#"{"Count":3,"LastEvaluatedKey":{"customer":{"S":"ann"},"order":{"N":"5"}},"ScannedCount":3}"#]].assert_eq(&first.to_string());
    check(
        &store,
        "Query",
        json!({
            "TableName": "orders",
            "KeyConditionExpression": "customer = :c",
            "FilterExpression": "amount > :t",
            "ExpressionAttributeValues": {":c": {"S": "ann"}, ":t": {"N": "60"}},
            "ExclusiveStartKey": first["LastEvaluatedKey"],
            "ProjectionExpression": "amount",
        }),
        expect![[r#"
            {
              "Count": 4,
              "Items": [
                {
                  "amount": {
                    "N": "70"
                  }
                },
                {
                  "amount": {
                    "N": "120"
                  }
                },
                {
                  "amount": {
                    "N": "300"
                  }
                },
                {
                  "amount": {
                    "N": "1000"
                  }
                }
              ],
              "ScannedCount": 4
            }"#]],
    );
    check(
        &store,
        "Query",
        json!({
            "TableName": "orders",
            "IndexName": "by-status",
            "KeyConditionExpression": "#s = :s AND #o > :o",
            "ExpressionAttributeNames": {"#s": "status", "#o": "order"},
            "ExpressionAttributeValues": {":s": {"S": "open"}, ":o": {"N": "0"}},
        }),
        expect![[r#"
            {
              "Count": 4,
              "Items": [
                {
                  "customer": {
                    "S": "bob"
                  },
                  "order": {
                    "N": "1"
                  },
                  "status": {
                    "S": "open"
                  }
                },
                {
                  "customer": {
                    "S": "ann"
                  },
                  "order": {
                    "N": "12"
                  },
                  "status": {
                    "S": "open"
                  }
                },
                {
                  "customer": {
                    "S": "ann"
                  },
                  "order": {
                    "N": "30"
                  },
                  "status": {
                    "S": "open"
                  }
                },
                {
                  "customer": {
                    "S": "ann"
                  },
                  "order": {
                    "N": "100"
                  },
                  "status": {
                    "S": "open"
                  }
                }
              ],
              "ScannedCount": 4
            }"#]],
    );
    check(
        &store,
        "Query",
        json!({
            "TableName": "orders",
            "KeyConditions": {"customer": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "bob"}]}},
        }),
        expect![[r#"
            {
              "Count": 1,
              "Items": [
                {
                  "amount": {
                    "N": "1"
                  },
                  "customer": {
                    "S": "bob"
                  },
                  "order": {
                    "N": "1"
                  },
                  "status": {
                    "S": "open"
                  }
                }
              ],
              "ScannedCount": 1
            }"#]],
    );
    check(
        &store,
        "Query",
        json!({
            "TableName": "orders",
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "order"},
            "ExpressionAttributeValues": {":o": {"N": "1"}},
        }),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
              "message": "Query condition missed key schema element: customer"
            }"#]],
    );
    check(
        &store,
        "Query",
        json!({
            "TableName": "orders",
            "IndexName": "nope",
            "KeyConditionExpression": "customer = :c",
            "ExpressionAttributeValues": {":c": {"S": "ann"}},
        }),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
              "message": "The table does not have the specified index: nope"
            }"#]],
    );
    // Paging through a scan two items at a time visits every item once.
    let mut seen = Vec::new();
    let mut start: Option<Value> = None;
    loop {
        let mut request = json!({"TableName": "orders", "Limit": 2});
        if let Some(start) = start.take() {
            request["ExclusiveStartKey"] = start;
        }
        let page = ok(&store, "Scan", request);
        for item in page["Items"].as_array().expect("items") {
            seen.push(format!(
                "{}/{}",
                item["customer"]["S"].as_str().expect("a string"),
                item["order"]["N"].as_str().expect("a number")
            ));
        }
        match page.get("LastEvaluatedKey") {
            Some(key) => start = Some(key.clone()),
            None => break,
        }
    }
    expect!["ann/-2 ann/0 ann/5 ann/7 ann/12 ann/30 ann/100 bob/1"].assert_eq(&seen.join(" "));
    // Parallel scan segments partition the table.
    let mut total = 0;
    for segment in 0..3 {
        let page = ok(
            &store,
            "Scan",
            json!({"TableName": "orders", "Segment": segment, "TotalSegments": 3, "Select": "COUNT"}),
        );
        total += page["Count"].as_u64().expect("count");
    }
    assert_eq!(total, 8);
    check(
        &store,
        "Scan",
        json!({"TableName": "orders", "Segment": 3, "TotalSegments": 3}),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
              "message": "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 3 is not less than TotalSegments: 3"
            }"#]],
    );
    // An update that changes the index key moves the entry; a delete removes it.
    ok(
        &store,
        "UpdateItem",
        json!({
            "TableName": "orders",
            "Key": {"customer": {"S": "ann"}, "order": {"N": "30"}},
            "UpdateExpression": "SET #s = :d",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":d": {"S": "done"}},
        }),
    );
    ok(
        &store,
        "DeleteItem",
        json!({"TableName": "orders", "Key": {"customer": {"S": "ann"}, "order": {"N": "0"}}}),
    );
    check(
        &store,
        "Scan",
        json!({"TableName": "orders", "IndexName": "by-status"}),
        expect![[r#"
            {
              "Count": 7,
              "Items": [
                {
                  "customer": {
                    "S": "ann"
                  },
                  "order": {
                    "N": "5"
                  },
                  "status": {
                    "S": "done"
                  }
                },
                {
                  "customer": {
                    "S": "ann"
                  },
                  "order": {
                    "N": "7"
                  },
                  "status": {
                    "S": "done"
                  }
                },
                {
                  "customer": {
                    "S": "ann"
                  },
                  "order": {
                    "N": "30"
                  },
                  "status": {
                    "S": "done"
                  }
                },
                {
                  "customer": {
                    "S": "ann"
                  },
                  "order": {
                    "N": "-2"
                  },
                  "status": {
                    "S": "open"
                  }
                },
                {
                  "customer": {
                    "S": "bob"
                  },
                  "order": {
                    "N": "1"
                  },
                  "status": {
                    "S": "open"
                  }
                },
                {
                  "customer": {
                    "S": "ann"
                  },
                  "order": {
                    "N": "12"
                  },
                  "status": {
                    "S": "open"
                  }
                },
                {
                  "customer": {
                    "S": "ann"
                  },
                  "order": {
                    "N": "100"
                  },
                  "status": {
                    "S": "open"
                  }
                }
              ],
              "ScannedCount": 7
            }"#]],
    );
    // A GSI added later is backfilled.
    ok(
        &store,
        "UpdateTable",
        json!({
            "TableName": "orders",
            "AttributeDefinitions": [{"AttributeName": "amount", "AttributeType": "N"}],
            "GlobalSecondaryIndexUpdates": [{"Create": {
                "IndexName": "by-amount",
                "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"}, {"AttributeName": "amount", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["status"]},
            }}],
        }),
    );
    check(
        &store,
        "Query",
        json!({
            "TableName": "orders",
            "IndexName": "by-amount",
            "KeyConditionExpression": "customer = :c AND amount >= :t",
            "ExpressionAttributeValues": {":c": {"S": "ann"}, ":t": {"N": "70"}},
        }),
        expect![[r#"
            {
              "Count": 4,
              "Items": [
                {
                  "amount": {
                    "N": "70"
                  },
                  "customer": {
                    "S": "ann"
                  },
                  "order": {
                    "N": "7"
                  },
                  "status": {
                    "S": "done"
                  }
                },
                {
                  "amount": {
                    "N": "120"
                  },
                  "customer": {
                    "S": "ann"
                  },
                  "order": {
                    "N": "12"
                  },
                  "status": {
                    "S": "open"
                  }
                },
                {
                  "amount": {
                    "N": "300"
                  },
                  "customer": {
                    "S": "ann"
                  },
                  "order": {
                    "N": "30"
                  },
                  "status": {
                    "S": "done"
                  }
                },
                {
                  "amount": {
                    "N": "1000"
                  },
                  "customer": {
                    "S": "ann"
                  },
                  "order": {
                    "N": "100"
                  },
                  "status": {
                    "S": "open"
                  }
                }
              ],
              "ScannedCount": 4
            }"#]],
    );
}

#[test]
fn batches_and_transactions() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = open(directory.path());
    create_orders(&store);
    check(
        &store,
        "BatchWriteItem",
        json!({"RequestItems": {"orders": [
            {"PutRequest": {"Item": {"customer": {"S": "ann"}, "order": {"N": "1"}, "amount": {"N": "5"}}}},
            {"PutRequest": {"Item": {"customer": {"S": "ann"}, "order": {"N": "2"}, "amount": {"N": "6"}}}},
            {"DeleteRequest": {"Key": {"customer": {"S": "ann"}, "order": {"N": "3"}}}},
        ]}, "ReturnConsumedCapacity": "TOTAL"}),
        expect![[r#"
            {
              "ConsumedCapacity": [
                {
                  "CapacityUnits": 3.0,
                  "TableName": "orders"
                }
              ],
              "UnprocessedItems": {}
            }"#]],
    );
    check(
        &store,
        "BatchGetItem",
        json!({"RequestItems": {"orders": {"Keys": [
            {"customer": {"S": "ann"}, "order": {"N": "1"}},
            {"customer": {"S": "ann"}, "order": {"N": "9"}},
        ], "ProjectionExpression": "amount"}}}),
        expect![[r#"
            {
              "Responses": {
                "orders": [
                  {
                    "amount": {
                      "N": "5"
                    }
                  }
                ]
              },
              "UnprocessedKeys": {}
            }"#]],
    );
    let transfer = json!({
        "ClientRequestToken": "transfer-1",
        "TransactItems": [
            {"Update": {
                "TableName": "orders",
                "Key": {"customer": {"S": "ann"}, "order": {"N": "1"}},
                "UpdateExpression": "SET amount = amount - :n",
                "ConditionExpression": "amount >= :n",
                "ExpressionAttributeValues": {":n": {"N": "5"}},
            }},
            {"Update": {
                "TableName": "orders",
                "Key": {"customer": {"S": "ann"}, "order": {"N": "2"}},
                "UpdateExpression": "SET amount = amount + :n",
                "ExpressionAttributeValues": {":n": {"N": "5"}},
            }},
        ],
    });
    check(
        &store,
        "TransactWriteItems",
        transfer.clone(),
        expect!["{}"],
    );
    // The same token and request again: not applied a second time.
    check(
        &store,
        "TransactWriteItems",
        transfer.clone(),
        expect!["{}"],
    );
    let mut changed = transfer.clone();
    changed["TransactItems"][0]["Update"]["ExpressionAttributeValues"][":n"] = json!({"N": "1"});
    check(
        &store,
        "TransactWriteItems",
        changed,
        expect![[r#"
        {
          "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
          "message": "Request parameters do not match the original request with the same ClientRequestToken"
        }"#]],
    );
    let mut retry = transfer;
    retry["ClientRequestToken"] = json!("transfer-2");
    retry["TransactItems"][0]["Update"]["ReturnValuesOnConditionCheckFailure"] = json!("ALL_OLD");
    check(
        &store,
        "TransactWriteItems",
        retry,
        expect![[r#"
        {
          "CancellationReasons": [
            {
              "Code": "ConditionalCheckFailed",
              "Item": {
                "amount": {
                  "N": "0"
                },
                "customer": {
                  "S": "ann"
                },
                "order": {
                  "N": "1"
                }
              },
              "Message": "The conditional request failed"
            },
            {
              "Code": "None"
            }
          ],
          "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None]",
          "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException"
        }"#]],
    );
    check(
        &store,
        "TransactGetItems",
        json!({"TransactItems": [
            {"Get": {"TableName": "orders", "Key": {"customer": {"S": "ann"}, "order": {"N": "1"}}}},
            {"Get": {"TableName": "orders", "Key": {"customer": {"S": "ann"}, "order": {"N": "2"}}, "ProjectionExpression": "amount"}},
            {"Get": {"TableName": "orders", "Key": {"customer": {"S": "ann"}, "order": {"N": "3"}}}},
        ]}),
        expect![[r#"
            {
              "Responses": [
                {
                  "Item": {
                    "amount": {
                      "N": "0"
                    },
                    "customer": {
                      "S": "ann"
                    },
                    "order": {
                      "N": "1"
                    }
                  }
                },
                {
                  "Item": {
                    "amount": {
                      "N": "11"
                    }
                  }
                },
                {}
              ]
            }"#]],
    );
    check(
        &store,
        "TransactWriteItems",
        json!({"TransactItems": [
            {"ConditionCheck": {"TableName": "orders", "Key": {"customer": {"S": "ann"}, "order": {"N": "1"}}, "ConditionExpression": "attribute_exists(amount)"}},
            {"Delete": {"TableName": "orders", "Key": {"customer": {"S": "ann"}, "order": {"N": "1"}}}},
        ]}),
        expect![[r#"
            {
              "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
              "message": "Transaction request cannot include multiple operations on one item"
            }"#]],
    );
}

#[test]
fn ttl_sweep_deletes_expired_items() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = open(directory.path());
    create_orders(&store);
    ok(
        &store,
        "UpdateTimeToLive",
        json!({"TableName": "orders", "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "expires"}}),
    );
    for (order, expires) in [(1, NOW - 10.0), (2, NOW + 10.0)] {
        ok(
            &store,
            "PutItem",
            json!({"TableName": "orders", "Item": {
                "customer": {"S": "ann"}, "order": {"N": order.to_string()}, "status": {"S": "open"},
                "expires": {"N": expires.to_string()},
            }}),
        );
    }
    assert_eq!(store.expire_items().expect("sweep"), 1);
    check(
        &store,
        "Scan",
        json!({"TableName": "orders", "IndexName": "by-status", "Select": "COUNT"}),
        expect![[r#"
            {
              "Count": 1,
              "ScannedCount": 1
            }"#]],
    );
}

#[test]
fn acknowledged_writes_survive_reopening() {
    let directory = tempfile::tempdir().expect("temporary directory");
    {
        let store = open(directory.path());
        create_orders(&store);
        put_order(&store, "ann", 1, "open", 10);
    }
    let store = open(directory.path());
    check(
        &store,
        "GetItem",
        json!({"TableName": "orders", "Key": {"customer": {"S": "ann"}, "order": {"N": "1"}}}),
        expect![[r#"
            {
              "Item": {
                "amount": {
                  "N": "10"
                },
                "customer": {
                  "S": "ann"
                },
                "order": {
                  "N": "1"
                },
                "status": {
                  "S": "open"
                }
              }
            }"#]],
    );
    check(
        &store,
        "Query",
        json!({
            "TableName": "orders", "IndexName": "by-status",
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": "open"}},
        }),
        expect![[r#"
            {
              "Count": 1,
              "Items": [
                {
                  "customer": {
                    "S": "ann"
                  },
                  "order": {
                    "N": "1"
                  },
                  "status": {
                    "S": "open"
                  }
                }
              ],
              "ScannedCount": 1
            }"#]],
    );
}

/// Issue 4: a transaction's `ClientRequestToken` outlives reopening the
/// database: a retry within ten minutes replays (the counter moves once), the
/// token with other parameters is refused, and after ten minutes the token is
/// forgotten and the transaction runs again.
#[test]
fn client_request_tokens_survive_reopening_and_expire() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let open_at = |now: f64| {
        let backend =
            SqliteBackend::open(directory.path().join("store.sqlite")).expect("open the database");
        Arc::new(
            Store::open_with_clock(
                Arc::new(backend),
                StoreConfig::default(),
                Box::new(move || now),
            )
            .expect("load the catalog"),
        )
    };
    let increment = |by: &str| {
        json!({"ClientRequestToken": "restart-token", "TransactItems": [{"Update": {
            "TableName": "orders", "Key": {"customer": {"S": "ann"}, "order": {"N": "1"}},
            "UpdateExpression": "ADD amount :by", "ExpressionAttributeValues": {":by": {"N": by}},
        }}]})
    };
    {
        let store = open_at(NOW);
        create_orders(&store);
        put_order(&store, "ann", 1, "open", 10);
        ok(&store, "TransactWriteItems", increment("1"));
    }
    let amount = |store: &Arc<Store>| {
        call(
            store,
            "GetItem",
            json!({"TableName": "orders", "Key": {"customer": {"S": "ann"}, "order": {"N": "1"}}, "ProjectionExpression": "amount"}),
        )["Item"]["amount"]["N"]
            .clone()
    };
    {
        let store = open_at(NOW + 599.0);
        check(&store, "TransactWriteItems", increment("1"), expect!["{}"]);
        assert_eq!(amount(&store), "11", "the retry replayed, not ran again");
        check(
            &store,
            "TransactWriteItems",
            increment("2"),
            expect![[r#"
                {
                  "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                  "message": "Request parameters do not match the original request with the same ClientRequestToken"
                }"#]],
        );
    }
    let store = open_at(NOW + 601.0);
    ok(&store, "TransactWriteItems", increment("2"));
    assert_eq!(
        amount(&store),
        "13",
        "an expired token runs the transaction again"
    );
}

/// Many threads incrementing one counter, half with `ADD`, half with an
/// optimistic version check retried on `ConditionalCheckFailedException`:
/// no increment may be lost.
#[test]
fn concurrent_conditional_writes_lose_nothing() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = open(directory.path());
    create_orders(&store);
    put_order(&store, "ann", 1, "open", 0);
    let key = json!({"customer": {"S": "ann"}, "order": {"N": "1"}});
    let threads: Vec<_> = (0..8)
        .map(|thread| {
            let store = store.clone();
            let key = key.clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    if thread % 2 == 0 {
                        ok(
                            &store,
                            "UpdateItem",
                            json!({"TableName": "orders", "Key": key, "UpdateExpression": "ADD amount :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}),
                        );
                        continue;
                    }
                    loop {
                        let current = ok(&store, "GetItem", json!({"TableName": "orders", "Key": key}));
                        let amount = current["Item"]["amount"]["N"].clone();
                        let next = amount.as_str().and_then(|text| text.parse::<i64>().ok()).expect("a number") + 1;
                        let response = call(
                            &store,
                            "UpdateItem",
                            json!({
                                "TableName": "orders", "Key": key,
                                "UpdateExpression": "SET amount = :next",
                                "ConditionExpression": "amount = :seen",
                                "ExpressionAttributeValues": {":next": {"N": next.to_string()}, ":seen": {"N": amount}},
                            }),
                        );
                        if response.get("__type").is_none() {
                            break;
                        }
                        assert_eq!(
                            response["__type"],
                            "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
                        );
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("writer thread");
    }
    let item = ok(
        &store,
        "GetItem",
        json!({"TableName": "orders", "Key": key}),
    );
    assert_eq!(item["Item"]["amount"]["N"], "200");
}

/// A put that needs no old item is queued and answered after its commit, but whatever
/// reads and writes its key next, or changes the table, sees it, even before that.
#[test]
fn writes_after_a_queued_put_see_it() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = open(directory.path());
    ok(
        &store,
        "CreateTable",
        json!({"TableName": "counters", "BillingMode": "PAY_PER_REQUEST",
               "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
               "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}),
    );
    let key = json!({"id": {"S": "c"}});
    let mut answers = Vec::new();
    for round in 0..50 {
        let (sender, answer) = std::sync::mpsc::channel();
        let put = json!({"TableName": "counters", "Item": {"id": {"S": "c"}, "n": {"N": (round * 10).to_string()}}});
        let blocking = store.start_call(
            "PutItem",
            put.to_string().into_bytes(),
            Box::new(move |outcome| {
                let _ = sender.send(outcome);
            }),
        );
        assert!(blocking.is_none(), "a blind put is queued, not handed back");
        answers.push(answer);
        let updated = ok(
            &store,
            "UpdateItem",
            json!({"TableName": "counters", "Key": key, "UpdateExpression": "ADD n :one",
                   "ExpressionAttributeValues": {":one": {"N": "1"}}, "ReturnValues": "UPDATED_NEW"}),
        );
        assert_eq!(
            updated["Attributes"]["n"]["N"],
            (round * 10 + 1).to_string()
        );
    }
    for answer in answers {
        assert_eq!(
            answer.recv().expect("answered").expect("durable"),
            b"{}".to_vec()
        );
    }
    // A control-plane change waits for queued puts: the new index is backfilled with them.
    let (sender, answer) = std::sync::mpsc::channel();
    let put = json!({"TableName": "counters", "Item": {"id": {"S": "d"}, "group": {"S": "g"}}});
    assert!(store
        .start_call(
            "PutItem",
            put.to_string().into_bytes(),
            Box::new(move |outcome| {
                let _ = sender.send(outcome);
            })
        )
        .is_none());
    ok(
        &store,
        "UpdateTable",
        json!({"TableName": "counters",
               "AttributeDefinitions": [{"AttributeName": "group", "AttributeType": "S"}],
               "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "by_group",
                   "KeySchema": [{"AttributeName": "group", "KeyType": "HASH"}],
                   "Projection": {"ProjectionType": "KEYS_ONLY"}}}]}),
    );
    answer.recv().expect("answered").expect("durable");
    let found = ok(
        &store,
        "Query",
        json!({"TableName": "counters", "IndexName": "by_group", "KeyConditionExpression": "#g = :g",
               "ExpressionAttributeNames": {"#g": "group"}, "ExpressionAttributeValues": {":g": {"S": "g"}}}),
    );
    assert_eq!(found["Count"], 1);
}

/// The environment variable that turns [`killed_writer_child`] into a writer.
const CHILD_DIRECTORY: &str = "SERVERFUL_STORE_KILL_TEST_DIRECTORY";

/// Not a test on its own: run by [`kill_9_loses_no_acknowledged_write`] in a
/// child process, it writes items forever and prints each acknowledged one.
#[test]
fn killed_writer_child() {
    use std::io::Write as _;
    let Some(directory) = std::env::var_os(CHILD_DIRECTORY) else {
        return;
    };
    let store = open(Path::new(&directory));
    let stdout = std::io::stdout();
    for order in 0.. {
        put_order(&store, "ann", order, "open", order);
        let mut out = stdout.lock();
        writeln!(out, "acknowledged {order}").expect("the parent reads stdout");
        out.flush().expect("the parent reads stdout");
    }
}

/// kill -9 during writes: every write acknowledged before the kill is there
/// after reopening (SPEC §13 reliability).
#[test]
fn kill_9_loses_no_acknowledged_write() {
    use std::io::BufRead as _;
    let directory = tempfile::tempdir().expect("temporary directory");
    {
        let store = open(directory.path());
        create_orders(&store);
    }
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "killed_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIRECTORY, directory.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut last = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        if let Some(order) = line.strip_prefix("acknowledged ") {
            last = Some(order.parse::<i64>().expect("a number"));
            if last >= Some(200) {
                break;
            }
        }
    }
    child.kill().expect("SIGKILL the writer");
    child.wait().expect("reap the writer");
    let last = last.expect("the writer acknowledged writes");
    let store = open(directory.path());
    let count = ok(
        &store,
        "Query",
        json!({
            "TableName": "orders", "Select": "COUNT",
            "KeyConditionExpression": "customer = :c AND #o <= :last",
            "ExpressionAttributeNames": {"#o": "order"},
            "ExpressionAttributeValues": {":c": {"S": "ann"}, ":last": {"N": last.to_string()}},
        }),
    );
    assert_eq!(
        count["Count"],
        last + 1,
        "acknowledged writes 0..={last} are all there"
    );
}

/// Concurrent first calls with one `ClientRequestToken` run the transaction
/// once; the others replay its success (a guarded put would fail if rerun).
#[test]
fn concurrent_calls_with_one_token_run_once() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = Arc::new(open(directory.path()));
    create_orders(&store);
    let request = json!({
        "ClientRequestToken": "once",
        "TransactItems": [{"Put": {
            "TableName": "orders",
            "Item": {"customer": {"S": "ann"}, "order": {"N": "1"}},
            "ConditionExpression": "attribute_not_exists(customer)",
        }}],
    });
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (store, request, barrier) = (store.clone(), request.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                call(&store, "TransactWriteItems", request)
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().expect("caller thread"), json!({}));
    }
}

/// Stream records are written with their item change and survive a restart.
#[test]
fn stream_records_survive_reopening() {
    let directory = tempfile::tempdir().expect("temporary directory");
    {
        let store = open(directory.path());
        ok(
            &store,
            "CreateTable",
            json!({
                "TableName": "events",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"},
            }),
        );
        ok(
            &store,
            "PutItem",
            json!({"TableName": "events", "Item": {"id": {"S": "a"}, "n": {"N": "1"}}}),
        );
    }
    let store = open(directory.path());
    let arn = ok(&store, "ListStreams", json!({"TableName": "events"}))["Streams"][0]["StreamArn"]
        .clone();
    let shard = ok(&store, "DescribeStream", json!({"StreamArn": arn}))["StreamDescription"]
        ["Shards"][0]["ShardId"]
        .clone();
    let iterator = ok(
        &store,
        "GetShardIterator",
        json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    );
    let records = ok(
        &store,
        "GetRecords",
        json!({"ShardIterator": iterator["ShardIterator"]}),
    );
    check(
        &store,
        "GetRecords",
        json!({"ShardIterator": iterator["ShardIterator"]}),
        expect![[r#"
            {
              "NextShardIterator": "events|2023-11-14T22:13:20.000|1",
              "Records": [
                {
                  "awsRegion": "us-east-1",
                  "dynamodb": {
                    "ApproximateCreationDateTime": 1700000000.0,
                    "Keys": {
                      "id": {
                        "S": "a"
                      }
                    },
                    "SequenceNumber": "000000000000000000001",
                    "SizeBytes": 3,
                    "StreamViewType": "KEYS_ONLY"
                  },
                  "eventID": "dbb31b7cf2d324d90000000000000001",
                  "eventName": "INSERT",
                  "eventSource": "aws:dynamodb",
                  "eventVersion": "1.1"
                }
              ]
            }"#]],
    );
    assert_eq!(records["Records"].as_array().map(Vec::len), Some(1));
}
