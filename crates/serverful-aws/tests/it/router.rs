//! The router through `tower::ServiceExt::oneshot`: routing, authentication, limits and
//! the headers and error shapes of every response.

use axum::body::Body;
use expect_test::{expect, Expect};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::BodyExt as _;
use serverful_aws::request_id::is_dynamodb_request_id;
use serverful_aws::sigv4::{self, SignedRequest};
use time::OffsetDateTime;
use tower::ServiceExt as _;

use crate::{state, ACCESS_KEY_ID, SECRET_ACCESS_KEY};

/// How to build one request.
struct Call {
    method: &'static str,
    uri: &'static str,
    target: Option<&'static str>,
    content_type: &'static str,
    body: Vec<u8>,
    secret: &'static str,
    service: &'static str,
    sign: bool,
    date: OffsetDateTime,
}

impl Default for Call {
    fn default() -> Self {
        Call {
            method: "POST",
            uri: "/",
            target: Some("DynamoDB_20120810.ListTables"),
            content_type: "application/x-amz-json-1.0",
            body: b"{}".to_vec(),
            secret: SECRET_ACCESS_KEY,
            service: "dynamodb",
            sign: true,
            date: OffsetDateTime::now_utc(),
        }
    }
}

/// Builds the request, signing it the way SDKs do (every header but user-agent).
fn build(call: Call) -> Request<Body> {
    let date = sigv4::format_basic_date(call.date);
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:4566"));
    headers.insert("content-type", HeaderValue::from_static(call.content_type));
    headers.insert("x-amz-date", HeaderValue::from_str(&date).expect("date"));
    if let Some(target) = call.target {
        headers.insert("x-amz-target", HeaderValue::from_static(target));
    }
    let (path, query) = call.uri.split_once('?').unwrap_or((call.uri, ""));
    if call.sign {
        let mut signed_headers: Vec<String> = headers.keys().map(|name| name.to_string()).collect();
        signed_headers.sort();
        let request = SignedRequest {
            method: call.method,
            path,
            query,
            headers: &headers,
            body: &call.body,
        };
        let canonical = sigv4::canonical_request(
            &request,
            &signed_headers,
            &sigv4::hex_sha256(&call.body),
            false,
        );
        let day = &date[..8];
        let scope = format!("{day}/us-west-2/{}/aws4_request", call.service);
        let signature = sigv4::sign(
            &sigv4::signing_key(call.secret, day, "us-west-2", call.service),
            &sigv4::string_to_sign(&date, &scope, &canonical),
        );
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/{scope}, SignedHeaders={}, Signature={signature}",
            signed_headers.join(";")
        );
        headers.insert(
            "authorization",
            HeaderValue::from_str(&authorization).expect("authorization"),
        );
    }
    let mut request = Request::builder()
        .method(call.method)
        .uri(call.uri)
        .body(Body::from(call.body))
        .expect("request");
    *request.headers_mut() = headers;
    request
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn send(request: Request<Body>) -> Answer {
    let response = serverful_aws::router(state())
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Sends the call and compares `status content-type body` with the expectation, after
/// checking the headers every response carries.
async fn check(call: Call, expected: Expect) {
    let answer = send(build(call)).await;
    let request_id = answer
        .headers
        .get("x-amzn-requestid")
        .and_then(|value| value.to_str().ok())
        .expect("every response has a request ID");
    // The echo services keep the default shape (UUIDs); what the endpoint answers itself
    // for a host that names no service is DynamoDB's (`request_ids_*` below tell which).
    assert!(
        uuid::Uuid::parse_str(request_id).is_ok() || is_dynamodb_request_id(request_id),
        "{request_id}"
    );
    let crc = answer
        .headers
        .get("x-amz-crc32")
        .and_then(|value| value.to_str().ok())
        .expect("every JSON response has a CRC32");
    assert_eq!(crc, crc32fast::hash(answer.body.as_bytes()).to_string());
    let content_type = answer
        .headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    expected.assert_eq(&format!(
        "{} {content_type} {}",
        answer.status.as_u16(),
        answer.body
    ));
}

#[tokio::test]
async fn signed_call_reaches_the_service() {
    check(
        Call::default(),
        expect![[r#"200 application/x-amz-json-1.0 {"Item":{"body":{"S":"{}"},"operation":{"S":"ListTables"},"region":{"S":"us-west-2"}},"TableNames":["ListTables","us-west-2","{}"]}"#]],
    )
    .await;
}

#[tokio::test]
async fn target_prefix_picks_the_service() {
    check(
        Call {
            target: Some("DynamoDBStreams_20120810.DescribeStream"),
            content_type: "application/x-amz-json-1.1",
            ..Call::default()
        },
        expect![[r#"200 application/x-amz-json-1.1 {"Item":{"body":{"S":"{}"},"operation":{"S":"DescribeStream"},"region":{"S":"us-west-2"}},"TableNames":["DescribeStream","us-west-2","{}"]}"#]],
    )
    .await;
}

#[tokio::test]
async fn unknown_or_missing_target() {
    for target in [
        Some("DynamoDB_20990101.ListTables"),
        Some("DynamoDB_20120810"),
        Some("DynamoDB_20120810."),
        None,
    ] {
        check(
            Call {
                target,
                ..Call::default()
            },
            expect![[r#"400 application/x-amz-json-1.0 {"__type":"com.amazon.coral.service#UnknownOperationException"}"#]],
        )
        .await;
    }
    check(
        Call {
            target: Some("DynamoDB_20120810.Nope"),
            ..Call::default()
        },
        expect![[r#"400 application/x-amz-json-1.0 {"__type":"com.amazon.coral.service#UnknownOperationException"}"#]],
    )
    .await;
    check(
        Call {
            method: "GET",
            ..Call::default()
        },
        expect![[r#"400 application/x-amz-json-1.0 {"__type":"com.amazon.coral.service#UnknownOperationException"}"#]],
    )
    .await;
}

#[tokio::test]
async fn authentication_failures() {
    check(
        Call {
            sign: false,
            ..Call::default()
        },
        expect![[r#"400 application/x-amz-json-1.0 {"__type":"com.amazon.coral.service#MissingAuthenticationTokenException","message":"Request is missing Authentication Token"}"#]],
    )
    .await;
    check(
        Call {
            secret: "wrong",
            ..Call::default()
        },
        expect![[r#"400 application/x-amz-json-1.0 {"__type":"com.amazon.coral.service#InvalidSignatureException","message":"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}"#]],
    )
    .await;
    check(
        Call {
            service: "sqs",
            ..Call::default()
        },
        expect![[r#"400 application/x-amz-json-1.0 {"__type":"com.amazon.coral.service#InvalidSignatureException","message":"Credential should be scoped to correct service: 'dynamodb'."}"#]],
    )
    .await;
    let answer = send(build(Call {
        date: OffsetDateTime::now_utc() - time::Duration::minutes(16),
        ..Call::default()
    }))
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.body.starts_with(
            r#"{"__type":"com.amazon.coral.service#InvalidSignatureException","message":"Signature expired: "#
        ),
        "{}",
        answer.body
    );
    assert!(answer.body.ends_with(r#" - 15 min.)"}"#), "{}", answer.body);
}

#[tokio::test]
async fn service_errors_pass_through_and_panics_are_500s() {
    check(
        Call {
            target: Some("DynamoDB_20120810.DescribeTable"),
            ..Call::default()
        },
        expect![[r#"400 application/x-amz-json-1.0 {"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#]],
    )
    .await;
    check(
        Call {
            target: Some("DynamoDB_20120810.Panic"),
            ..Call::default()
        },
        expect![[r#"500 application/x-amz-json-1.0 {"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"The server encountered an internal error trying to fulfill the request."}"#]],
    )
    .await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    check(
        Call {
            body: vec![b' '; 1025],
            ..Call::default()
        },
        expect![[r#"413 application/x-amz-json-1.0 {"__type":"com.amazon.coral.service#RequestEntityTooLargeException","message":"Request must be smaller than 1024 bytes"}"#]],
    )
    .await;
    // A declared Content-Length over the limit is refused before reading.
    let mut request = build(Call::default());
    request
        .headers_mut()
        .insert("content-length", HeaderValue::from_static("16777217"));
    let answer = send(request).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Without a Content-Length (a stream), the limit applies while reading.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..2)
        .map(|_| Ok(bytes::Bytes::from(vec![b' '; 600])))
        .collect();
    let mut request = build(Call::default());
    *request.body_mut() = Body::from_stream(futures_util::stream::iter(chunks));
    let answer = send(request).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Exactly at the limit is fine (and then fails the signature, which covered `{}`).
    let answer = send({
        let mut request = build(Call::default());
        *request.body_mut() = Body::from(vec![b' '; 1024]);
        request
    })
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.body.contains("InvalidSignatureException"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn rest_services_are_routed_by_path() {
    let answer = send(build(Call {
        uri: "/2015-03-31/functions/my-fn/invocations?Qualifier=%24LATEST",
        target: None,
        content_type: "application/json",
        body: br#"{"a":1}"#.to_vec(),
        service: "lambda",
        ..Call::default()
    }))
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, r#"{"function":"my-fn","payload":"{\"a\":1}"}"#);
    assert_eq!(answer.headers["x-amz-executed-version"], "$LATEST");
    assert!(answer.headers.contains_key("x-amzn-requestid"));

    let answer = send(build(Call {
        uri: "/2015-03-31/functions/missing/invocations",
        target: None,
        service: "lambda",
        ..Call::default()
    }))
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(
        answer.headers["x-amzn-errortype"],
        "ResourceNotFoundException"
    );
    assert_eq!(answer.body, r#"{"message":"Function not found: missing"}"#);

    let answer = send(build(Call {
        uri: "/2015-03-31/functions/my-fn/invocations",
        target: None,
        secret: "wrong",
        service: "lambda",
        ..Call::default()
    }))
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.headers["x-amzn-errortype"],
        "InvalidSignatureException"
    );
}

#[tokio::test]
async fn query_protocol_services_are_routed_by_credential_scope() {
    let answer = send(build(Call {
        target: None,
        content_type: "application/x-www-form-urlencoded",
        body: b"Action=Publish&Message=hi".to_vec(),
        service: "sns",
        ..Call::default()
    }))
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        "<PublishResponse><Body>Action=Publish&Message=hi</Body></PublishResponse>"
    );
    let answer = send(build(Call {
        target: None,
        secret: "wrong",
        service: "sns",
        ..Call::default()
    }))
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.body,
        "<ErrorResponse><Error><Code>InvalidSignatureException</Code></Error></ErrorResponse>"
    );
    // A scope no service claims, without a target: AWS's unknown operation.
    check(
        Call {
            target: None,
            service: "sqs",
            ..Call::default()
        },
        expect![[r#"400 application/x-amz-json-1.0 {"__type":"com.amazon.coral.service#UnknownOperationException"}"#]],
    )
    .await;
}

fn header<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-")
}

/// A DynamoDB-like service that answers with the request id it was given.
struct RequestIdEcho;

impl serverful_aws::JsonService for RequestIdEcho {
    fn target_prefix(&self) -> &'static str {
        "IdEcho_20120810"
    }

    fn signing_name(&self) -> &'static str {
        "dynamodb"
    }

    fn call(
        &self,
        request: serverful_aws::JsonRequest,
    ) -> futures_util::future::BoxFuture<'static, Result<bytes::Bytes, serverful_aws::AwsError>>
    {
        Box::pin(async move { Ok(bytes::Bytes::from(request.request_id)) })
    }

    fn new_request_id(&self) -> String {
        serverful_aws::request_id::dynamodb()
    }
}

async fn send_to(state: serverful_aws::AwsState, request: Request<Body>) -> Answer {
    let response = serverful_aws::router(state)
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

#[tokio::test]
async fn request_ids_take_the_answering_services_shape() {
    // The service sees the id its answer carries, in its own shape.
    let state = state().with_json_service(std::sync::Arc::new(RequestIdEcho));
    let answer = send_to(
        state,
        build(Call {
            target: Some("IdEcho_20120810.Anything"),
            ..Call::default()
        }),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(is_dynamodb_request_id(&answer.body), "{}", answer.body);
    assert_eq!(header(&answer, "x-amzn-requestid"), answer.body);

    // A service with the default keeps UUIDs.
    let answer = send(build(Call::default())).await;
    assert!(uuid::Uuid::parse_str(header(&answer, "x-amzn-requestid")).is_ok());

    // No service claims it: the endpoint answers as DynamoDB, for a host that names none,
    // and with a UUID for one that names another service.
    let answer = send(build(Call {
        target: Some("Nobody_20120810.ListTables"),
        ..Call::default()
    }))
    .await;
    assert!(is_dynamodb_request_id(header(&answer, "x-amzn-requestid")));
    let mut request = build(Call {
        target: Some("Nobody_20120810.ListTables"),
        ..Call::default()
    });
    request.headers_mut().insert(
        "host",
        HeaderValue::from_static("sqs.us-east-1.amazonaws.com"),
    );
    let answer = send(request).await;
    assert!(uuid::Uuid::parse_str(header(&answer, "x-amzn-requestid")).is_ok());
}

fn unsigned(method: &str, host: &'static str) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri("/")
        .body(Body::empty())
        .expect("request");
    request
        .headers_mut()
        .insert("host", HeaderValue::from_static(host));
    request
}

#[tokio::test]
async fn an_unsigned_get_of_the_root_is_dynamodbs_health_check() {
    let answer = send_to(
        state().with_region("ap-south-1"),
        unsigned("GET", "127.0.0.1:4566"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "healthy: dynamodb.ap-south-1.amazonaws.com ");
    assert_eq!(header(&answer, "content-type"), "-");
    assert_eq!(
        header(&answer, "x-amz-crc32"),
        crc32fast::hash(answer.body.as_bytes()).to_string()
    );
    assert!(is_dynamodb_request_id(header(&answer, "x-amzn-requestid")));

    let answer = send(unsigned("GET", "streams.dynamodb.us-east-1.amazonaws.com")).await;
    assert_eq!(
        answer.body,
        "healthy: streams.dynamodb.us-east-1.amazonaws.com "
    );
    let answer = send(unsigned("HEAD", "localhost:4566")).await;
    assert_eq!(answer.status, StatusCode::OK);

    // Not a health check: signed, with a target, another method, another service's host.
    let answer = send(build(Call {
        method: "GET",
        target: None,
        ..Call::default()
    }))
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = send(unsigned("PUT", "127.0.0.1:4566")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = send(unsigned("GET", "sqs.us-east-1.amazonaws.com")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn preflights_are_answered_before_signatures_and_answers_carry_cors_headers() {
    let mut preflight = unsigned("OPTIONS", "127.0.0.1:4566");
    for (name, value) in [
        ("origin", "https://app.example"),
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "content-type,x-amz-target,authorization",
        ),
    ] {
        preflight
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    let answer = send(preflight).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "");
    assert_eq!(header(&answer, "access-control-allow-origin"), "*");
    assert_eq!(header(&answer, "access-control-allow-methods"), "POST");
    assert_eq!(
        header(&answer, "access-control-allow-headers"),
        "content-type,x-amz-target,authorization"
    );
    assert_eq!(header(&answer, "access-control-max-age"), "172800");
    assert!(is_dynamodb_request_id(header(&answer, "x-amzn-requestid")));

    // Lambda's REST path is the REST service's, for the method asked for.
    let mut preflight = Request::builder()
        .method("OPTIONS")
        .uri("/2015-03-31/functions/f/invocations")
        .body(Body::empty())
        .expect("request");
    preflight
        .headers_mut()
        .insert("origin", HeaderValue::from_static("https://app.example"));
    preflight.headers_mut().insert(
        "access-control-request-method",
        HeaderValue::from_static("POST"),
    );
    let answer = send(preflight).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(header(&answer, "access-control-allow-origin"), "*");

    // A signed call, a refused one and an unknown one, from a page: all readable.
    for call in [
        Call::default(),
        Call {
            secret: "wrong",
            ..Call::default()
        },
        Call {
            target: Some("Nobody_20120810.ListTables"),
            ..Call::default()
        },
    ] {
        let mut request = build(call);
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_static("https://app.example"));
        let answer = send(request).await;
        assert_eq!(header(&answer, "access-control-allow-origin"), "*");
        assert!(
            header(&answer, "access-control-expose-headers").contains("x-amzn-RequestId"),
            "{:?}",
            answer.headers
        );
    }
    // Lambda's answers also expose the headers its Invoke reports in.
    let mut request = build(Call {
        uri: "/2015-03-31/functions/my-fn/invocations",
        target: None,
        content_type: "application/json",
        service: "lambda",
        ..Call::default()
    });
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_static("https://app.example"));
    let answer = send(request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(header(&answer, "access-control-allow-origin"), "*");
    assert!(header(&answer, "access-control-expose-headers").contains("x-amz-function-error"));
    assert!(uuid::Uuid::parse_str(header(&answer, "x-amzn-requestid")).is_ok());

    // Not from a page: no CORS headers.
    let answer = send(build(Call::default())).await;
    assert_eq!(header(&answer, "access-control-allow-origin"), "-");
}
