//! Who may do what (issue #14, stacks walled off from each other): the real DynamoDB and
//! Streams services over an in-memory store, a key ring with the master keys and two
//! stacks' keys, and signed requests through the router with `oneshot`.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use expect_test::{expect, Expect};
use http::{HeaderMap, HeaderValue, Request};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use serverful_aws::sigv4::{self, SignedRequest};
use serverful_aws::{
    AwsState, Credentials, DynamoDbService, DynamoDbStreamsService, KeyRing, Principal, StackScope,
};
use serverful_store::{MemoryBackend, Store, StoreConfig};
use tower::ServiceExt as _;

use crate::credentials;

const ACCOUNT: &str = "123456789012";

fn keys(id: &str) -> Credentials {
    Credentials {
        access_key_id: id.to_owned(),
        secret_access_key: format!("{id}/secret"),
    }
}

fn scope(stack: &str, tables: &[&str]) -> StackScope {
    StackScope {
        stack: stack.to_owned(),
        tables: tables.iter().map(|table| (*table).to_owned()).collect(),
        functions: BTreeSet::new(),
        queues: BTreeSet::new(),
        ..StackScope::default()
    }
}

/// The endpoint: the master keys, stack `shop` owning `shop-Orders`, stack `blog` owning
/// `blog-Posts`, over a store holding those two tables and one nobody owns.
struct Endpoint {
    state: AwsState,
    ring: Arc<KeyRing>,
}

impl Endpoint {
    fn new() -> Endpoint {
        let store = Arc::new(
            Store::open(
                Arc::new(MemoryBackend::new()),
                StoreConfig {
                    region: "us-east-1".to_owned(),
                    account_id: ACCOUNT.to_owned(),
                },
            )
            .expect("store"),
        );
        for table in ["blog-Posts", "shop-Orders", "spare"] {
            store
                .call(
                    "CreateTable",
                    json!({
                        "TableName": table,
                        "BillingMode": "PAY_PER_REQUEST",
                        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                        "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"},
                    })
                    .to_string()
                    .as_bytes(),
                )
                .expect("CreateTable");
            store
                .call(
                    "PutItem",
                    json!({"TableName": table, "Item": {"id": {"S": "1"}, "of": {"S": table}}})
                        .to_string()
                        .as_bytes(),
                )
                .expect("PutItem");
        }
        let ring = Arc::new(KeyRing::new(credentials(), Principal::root(ACCOUNT)));
        ring.insert(
            keys("AKSFSHOP"),
            Principal::stack(ACCOUNT, scope("shop", &["shop-Orders"])),
        );
        ring.insert(
            keys("AKSFBLOG"),
            Principal::stack(ACCOUNT, scope("blog", &["blog-Posts"])),
        );
        let state = AwsState::with_keys(ring.clone())
            .with_json_service(Arc::new(DynamoDbService::new(store.clone())))
            .with_json_service(Arc::new(DynamoDbStreamsService::new(store)));
        Endpoint { state, ring }
    }

    /// Sends `operation` with `body`, signed with `credentials`: `status body`.
    async fn call(&self, credentials: &Credentials, operation: &str, body: Value) -> String {
        self.call_in_session(credentials, None, operation, body)
            .await
    }

    /// As [`Endpoint::call`], with `X-Amz-Security-Token: session_token` (signed) when
    /// given, as an SDK sends temporary keys.
    async fn call_in_session(
        &self,
        credentials: &Credentials,
        session_token: Option<&str>,
        operation: &str,
        body: Value,
    ) -> String {
        let target = if [
            "ListStreams",
            "DescribeStream",
            "GetShardIterator",
            "GetRecords",
        ]
        .contains(&operation)
        {
            format!("DynamoDBStreams_20120810.{operation}")
        } else {
            format!("DynamoDB_20120810.{operation}")
        };
        let body = body.to_string().into_bytes();
        let date = sigv4::format_basic_date(time::OffsetDateTime::now_utc());
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:4566"));
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        headers.insert("x-amz-date", HeaderValue::from_str(&date).expect("date"));
        headers.insert(
            "x-amz-target",
            HeaderValue::from_str(&target).expect("target"),
        );
        let mut signed_headers: Vec<String> = ["content-type", "host", "x-amz-date"]
            .map(String::from)
            .to_vec();
        if let Some(token) = session_token {
            headers.insert(
                "x-amz-security-token",
                HeaderValue::from_str(token).expect("token"),
            );
            signed_headers.push("x-amz-security-token".to_owned());
        }
        signed_headers.push("x-amz-target".to_owned());
        let canonical = sigv4::canonical_request(
            &SignedRequest {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body: &body,
            },
            &signed_headers,
            &sigv4::hex_sha256(&body),
            false,
        );
        let day = &date[..8];
        let scope = format!("{day}/us-east-1/dynamodb/aws4_request");
        let signature = sigv4::sign(
            &sigv4::signing_key(&credentials.secret_access_key, day, "us-east-1", "dynamodb"),
            &sigv4::string_to_sign(&date, &scope, &canonical),
        );
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
            credentials.access_key_id,
            signed_headers.join(";")
        );
        headers.insert(
            "authorization",
            HeaderValue::from_str(&authorization).expect("authorization"),
        );
        let mut request = Request::builder()
            .method("POST")
            .uri("/")
            .body(Body::from(body))
            .expect("request");
        *request.headers_mut() = headers;
        let response = serverful_aws::router(self.state.clone())
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        format!("{status} {}", String::from_utf8_lossy(&body))
    }

    async fn check(
        &self,
        credentials: &Credentials,
        operation: &str,
        body: Value,
        expected: Expect,
    ) {
        expected.assert_eq(&self.call(credentials, operation, body).await);
    }
}

fn key(id: &str) -> Value {
    json!({"id": {"S": id}})
}

#[tokio::test]
async fn a_stack_reads_its_own_table_and_is_denied_another_stacks() {
    let endpoint = Endpoint::new();
    let shop = keys("AKSFSHOP");
    endpoint
        .check(
            &shop,
            "GetItem",
            json!({"TableName": "shop-Orders", "Key": key("1")}),
            expect![[r#"200 {"Item":{"id":{"S":"1"},"of":{"S":"shop-Orders"}}}"#]],
        )
        .await;
    endpoint
        .check(
            &shop,
            "GetItem",
            json!({"TableName": "blog-Posts", "Key": key("1")}),
            expect![[r#"400 {"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: arn:aws:sts::123456789012:assumed-role/shop-FunctionRole/shop is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/blog-Posts because no identity-based policy allows the dynamodb:GetItem action"}"#]],
        )
        .await;
    // A table nobody owns is not the stack's either, and a missing one neither.
    for table in ["spare", "shop-Missing"] {
        let answer = endpoint
            .call(&shop, "Scan", json!({"TableName": table}))
            .await;
        assert!(
            answer.starts_with("400 ") && answer.contains("AccessDeniedException"),
            "{answer}"
        );
    }
    // The master keys still reach everything.
    endpoint
        .check(
            &credentials(),
            "GetItem",
            json!({"TableName": "blog-Posts", "Key": key("1")}),
            expect![[r#"200 {"Item":{"id":{"S":"1"},"of":{"S":"blog-Posts"}}}"#]],
        )
        .await;
}

#[tokio::test]
async fn every_table_of_a_batch_transaction_or_statement_is_checked() {
    let endpoint = Endpoint::new();
    let shop = keys("AKSFSHOP");
    let denied = |answer: &str, action: &str| {
        assert!(
            answer.starts_with("400 ")
                && answer.contains("AccessDeniedException")
                && answer.contains(&format!("perform: dynamodb:{action} on resource: arn:aws:dynamodb:us-east-1:123456789012:table/blog-Posts ")),
            "{answer}"
        );
    };
    let answer = endpoint
        .call(
            &shop,
            "BatchGetItem",
            json!({"RequestItems": {
                "shop-Orders": {"Keys": [key("1")]},
                "blog-Posts": {"Keys": [key("1")]},
            }}),
        )
        .await;
    denied(&answer, "BatchGetItem");
    let answer = endpoint
        .call(
            &shop,
            "BatchWriteItem",
            json!({"RequestItems": {"blog-Posts": [{"DeleteRequest": {"Key": key("1")}}]}}),
        )
        .await;
    denied(&answer, "BatchWriteItem");
    let answer = endpoint
        .call(
            &shop,
            "TransactWriteItems",
            json!({"TransactItems": [
                {"Put": {"TableName": "shop-Orders", "Item": key("2")}},
                {"Delete": {"TableName": "blog-Posts", "Key": key("1")}},
            ]}),
        )
        .await;
    denied(&answer, "DeleteItem");
    let answer = endpoint
        .call(
            &shop,
            "TransactGetItems",
            json!({"TransactItems": [{"Get": {"TableName": "blog-Posts", "Key": key("1")}}]}),
        )
        .await;
    denied(&answer, "GetItem");
    let answer = endpoint
        .call(
            &shop,
            "ExecuteStatement",
            json!({"Statement": "SELECT * FROM \"blog-Posts\" WHERE id = '1'"}),
        )
        .await;
    denied(&answer, "PartiQLSelect");
    let answer = endpoint
        .call(
            &shop,
            "Query",
            json!({"TableName": "blog-Posts", "KeyConditionExpression": "id = :id",
                   "ExpressionAttributeValues": {":id": {"S": "1"}}}),
        )
        .await;
    denied(&answer, "Query");
    // Nothing was written by the refused transaction.
    endpoint
        .check(
            &shop,
            "GetItem",
            json!({"TableName": "shop-Orders", "Key": key("2")}),
            expect!["200 {}"],
        )
        .await;
    // Its own statements run.
    endpoint
        .check(
            &shop,
            "ExecuteStatement",
            json!({"Statement": "SELECT of FROM \"shop-Orders\" WHERE id = '1'"}),
            expect![[r#"200 {"Items":[{"of":{"S":"shop-Orders"}}]}"#]],
        )
        .await;
}

#[tokio::test]
async fn listings_show_a_stack_only_its_own_and_tables_are_the_templates_to_define() {
    let endpoint = Endpoint::new();
    let shop = keys("AKSFSHOP");
    endpoint
        .check(
            &shop,
            "ListTables",
            json!({}),
            expect![[r#"200 {"TableNames":["shop-Orders"]}"#]],
        )
        .await;
    endpoint
        .check(
            &credentials(),
            "ListTables",
            json!({"Limit": 2}),
            expect![[r#"200 {"TableNames":["blog-Posts","shop-Orders"],"LastEvaluatedTableName":"shop-Orders"}"#]],
        )
        .await;
    let streams = endpoint.call(&shop, "ListStreams", json!({})).await;
    assert!(
        streams.starts_with("200 ") && streams.contains("shop-Orders"),
        "{streams}"
    );
    assert!(
        !streams.contains("blog-Posts") && !streams.contains("spare"),
        "{streams}"
    );
    let answer = endpoint
        .call(&shop, "ListStreams", json!({"TableName": "blog-Posts"}))
        .await;
    assert!(answer.contains("AccessDeniedException"), "{answer}");
    // Another stack's stream, by its ARN or through a shard iterator naming its table.
    let blog_stream = endpoint
        .call(
            &credentials(),
            "ListStreams",
            json!({"TableName": "blog-Posts"}),
        )
        .await;
    let blog_stream: Value =
        serde_json::from_str(blog_stream.trim_start_matches("200 ")).expect("ListStreams");
    let arn = blog_stream["Streams"][0]["StreamArn"]
        .as_str()
        .expect("a stream ARN")
        .to_owned();
    let answer = endpoint
        .call(
            &shop,
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": "shardId-00000000000000000000-00000000", "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await;
    assert!(answer.contains("AccessDeniedException"), "{answer}");
    let label = arn.rsplit('/').next().expect("label");
    let answer = endpoint
        .call(
            &shop,
            "GetRecords",
            json!({"ShardIterator": format!("blog-Posts|{label}|0")}),
        )
        .await;
    assert!(
        answer.contains("AccessDeniedException") && answer.contains("table/blog-Posts/stream/*"),
        "{answer}"
    );
    // Tables are made and dropped by deploys, not by the stack's functions.
    for (operation, body) in [
        ("CreateTable", json!({"TableName": "shop-Extra"})),
        ("DeleteTable", json!({"TableName": "shop-Orders"})),
        (
            "UpdateTable",
            json!({"TableName": "shop-Orders", "BillingMode": "PROVISIONED"}),
        ),
    ] {
        let answer = endpoint.call(&shop, operation, body).await;
        assert!(
            answer.contains("AccessDeniedException")
                && answer.contains(&format!("dynamodb:{operation}")),
            "{operation}: {answer}"
        );
    }
    endpoint
        .check(
            &shop,
            "DescribeTable",
            json!({"TableName": "blog-Posts"}),
            expect![[r#"400 {"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: arn:aws:sts::123456789012:assumed-role/shop-FunctionRole/shop is not authorized to perform: dynamodb:DescribeTable on resource: arn:aws:dynamodb:us-east-1:123456789012:table/blog-Posts because no identity-based policy allows the dynamodb:DescribeTable action"}"#]],
        )
        .await;
}

#[tokio::test]
async fn a_forgotten_key_is_an_unknown_client_and_a_changed_scope_applies_at_once() {
    let endpoint = Endpoint::new();
    let blog = keys("AKSFBLOG");
    let get = json!({"TableName": "spare", "Key": key("1")});
    let answer = endpoint.call(&blog, "GetItem", get.clone()).await;
    assert!(answer.contains("AccessDeniedException"), "{answer}");
    // A deploy that adds the table to the stack.
    endpoint.ring.insert(
        blog.clone(),
        Principal::stack(ACCOUNT, scope("blog", &["blog-Posts", "spare"])),
    );
    let answer = endpoint.call(&blog, "GetItem", get.clone()).await;
    assert!(answer.starts_with("200 "), "{answer}");
    // The stack is deleted.
    endpoint.ring.remove("AKSFBLOG");
    endpoint
        .check(
            &blog,
            "GetItem",
            get,
            expect![[r#"400 {"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"The security token included in the request is invalid."}"#]],
        )
        .await;
}

#[tokio::test]
async fn temporary_keys_need_their_session_token() {
    let endpoint = Endpoint::new();
    let session = keys("ASIASESSION");
    endpoint.ring.insert_session(
        session.clone(),
        "the-token".to_owned(),
        Principal::stack(ACCOUNT, scope("shop", &["shop-Orders"])),
    );
    let get = json!({"TableName": "shop-Orders", "Key": key("1")});
    let answer = endpoint
        .call_in_session(&session, Some("the-token"), "GetItem", get.clone())
        .await;
    assert!(answer.starts_with("200 "), "{answer}");
    let unrecognized = r#"400 {"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"The security token included in the request is invalid."}"#;
    for token in [None, Some("another-token"), Some("the-toke")] {
        let answer = endpoint
            .call_in_session(&session, token, "GetItem", get.clone())
            .await;
        assert_eq!(answer, unrecognized, "token {token:?}");
    }
}
