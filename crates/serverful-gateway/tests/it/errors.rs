//! Errors as API Gateway shows them: missing routes, failed invocations, oversized requests,
//! and input that must not crash the gateway.

use axum::body::Body;
use bytes::Bytes;
use expect_test::expect;
use http::Request;
use serverful_gateway::{InvokeError, MAX_REQUEST_BODY_BYTES};

use crate::{check, get, http_api, rest_api, route, OK};

#[tokio::test]
async fn missing_routes_are_404() {
    let apis = || vec![rest_api(vec![route("GET", "/items/{id}", "Item")])];
    check(
        apis(),
        get("/nowhere"),
        Ok(OK.as_bytes()),
        expect![[r#"
        response 404
        content-type: application/json
        x-amzn-requestid: <id>
        x-amz-apigw-id: <id>
        content-length: 23
        body: "{\"message\":\"Not Found\"}"
    "#]],
    )
    .await;
    // The resource exists but not with this method.
    let delete = Request::delete("/items/1")
        .body(Body::empty())
        .expect("a valid request");
    check(
        apis(),
        delete,
        Ok(OK.as_bytes()),
        expect![[r#"
        response 404
        content-type: application/json
        x-amzn-requestid: <id>
        x-amz-apigw-id: <id>
        content-length: 23
        body: "{\"message\":\"Not Found\"}"
    "#]],
    )
    .await;
    // An app with only HTTP APIs answers in their style.
    check(
        vec![http_api(vec![route("GET", "/a", "A")])],
        get("/b"),
        Ok(OK.as_bytes()),
        expect![[r#"
            response 404
            content-type: application/json
            apigw-requestid: <id>
            content-length: 23
            body: "{\"message\":\"Not Found\"}"
        "#]],
    )
    .await;
}

#[tokio::test]
async fn invoke_errors_map_to_api_gateway_statuses() {
    let errors = [
        InvokeError::FunctionError(Bytes::from_static(
            br#"{"errorMessage":"boom","errorType":"Error"}"#,
        )),
        InvokeError::Timeout,
        InvokeError::Throttled,
        InvokeError::PayloadTooLarge,
        InvokeError::Unavailable("no such function".to_owned()),
    ];
    let mut out = String::new();
    for error in errors {
        let name = format!("{error:?}");
        let response = crate::run(
            vec![http_api(vec![route("GET", "/f", "F")])],
            get("/f"),
            Err(error),
        )
        .await;
        let summary: Vec<&str> = response
            .lines()
            .skip_while(|line| !line.starts_with("response"))
            .collect();
        out.push_str(&format!("{name}\n{}\n\n", summary.join("\n")));
    }
    expect![[r#"
        FunctionError(b"{\"errorMessage\":\"boom\",\"errorType\":\"Error\"}")
        response 502
        content-type: application/json
        apigw-requestid: <id>
        content-length: 35
        body: "{\"message\":\"Internal server error\"}"

        Timeout
        response 504
        content-type: application/json
        apigw-requestid: <id>
        content-length: 40
        body: "{\"message\":\"Endpoint request timed out\"}"

        Throttled
        response 429
        content-type: application/json
        apigw-requestid: <id>
        content-length: 31
        body: "{\"message\":\"Too Many Requests\"}"

        PayloadTooLarge
        response 413
        content-type: application/json
        apigw-requestid: <id>
        content-length: 30
        body: "{\"message\":\"Request Too Long\"}"

        Unavailable("no such function")
        response 502
        content-type: application/json
        apigw-requestid: <id>
        content-length: 35
        body: "{\"message\":\"Internal server error\"}"

    "#]]
    .assert_eq(&out);
}

#[tokio::test]
async fn request_bodies_over_10_mb_are_413_without_invoking() {
    let api = || vec![rest_api(vec![route("POST", "/upload", "Upload")])];
    let too_big = vec![b'a'; MAX_REQUEST_BODY_BYTES + 1];
    let request = Request::post("/upload")
        .body(Body::from(too_big))
        .expect("a valid request");
    check(
        api(),
        request,
        Ok(OK.as_bytes()),
        expect![[r#"
        response 413
        content-type: application/json
        x-amzn-requestid: <id>
        x-amz-apigw-id: <id>
        content-length: 30
        body: "{\"message\":\"Request Too Long\"}"
    "#]],
    )
    .await;

    // Exactly at the limit still goes through.
    let at_limit = vec![b'a'; MAX_REQUEST_BODY_BYTES];
    let request = Request::post("/upload")
        .body(Body::from(at_limit))
        .expect("a valid request");
    let response = crate::run(api(), request, Ok(OK.as_bytes())).await;
    assert!(
        response.starts_with("invoked app/Upload"),
        "{}",
        response.chars().take(200).collect::<String>()
    );
    assert!(response.contains("response 200"));
}

#[tokio::test]
async fn odd_requests_do_not_crash_the_gateway() {
    let apis = || vec![http_api(vec![route("ANY", "$default", "Default")])];
    let mut out = String::new();
    let huge_header = "x".repeat(64 * 1024);
    let requests = [
        Request::builder()
            .method("BREW")
            .uri("/coffee")
            .body(Body::empty()),
        Request::get("/%FF%FE/%zz?%FF=%FE&a=%").body(Body::empty()),
        Request::get("/h")
            .header("x-bytes", &b"caf\xe9"[..])
            .body(Body::empty()),
        Request::get("/h")
            .header("x-huge", huge_header.as_str())
            .body(Body::empty()),
        Request::get("http://example.com/absolute?q=1").body(Body::empty()),
    ];
    for request in requests {
        let request = request.expect("a valid request");
        let label = format!("{} {}", request.method(), request.uri());
        let response = crate::run(apis(), request, Ok(OK.as_bytes())).await;
        let status = response
            .lines()
            .find(|line| line.starts_with("response"))
            .unwrap_or_default()
            .to_owned();
        let label: String = label.chars().take(60).collect();
        out.push_str(&format!("{label} => {status}\n"));
    }
    expect![[r#"
        BREW /coffee => response 404
        GET /%FF%FE/%zz?%FF=%FE&a=% => response 200
        GET /h => response 200
        GET /h => response 200
        GET http://example.com/absolute?q=1 => response 200
    "#]]
    .assert_eq(&out);
}
