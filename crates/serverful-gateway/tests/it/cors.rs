//! CORS as API Gateway applies it: an HTTP API answers preflights itself (allowed and
//! refused origins) and puts its own headers on the function's responses; a REST API with
//! SAM's `Cors` answers `OPTIONS` on its paths with the path's methods, unless the path has
//! its own `OPTIONS` method.

use axum::body::Body;
use expect_test::expect;
use http::Request;
use serverful_gateway::CorsConfig;

use crate::{check, http_api, rest_api, route};

fn options(uri: &str, origin: &str, preflight: bool) -> Request<Body> {
    let mut request = Request::options(uri).header("origin", origin);
    if preflight {
        request = request
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "content-type");
    }
    request.body(Body::empty()).expect("a valid test request")
}

fn strict() -> CorsConfig {
    CorsConfig {
        allow_origins: vec!["https://app.example".to_owned()],
        allow_methods: vec!["GET".to_owned(), "PUT".to_owned()],
        allow_headers: vec!["content-type".to_owned()],
        expose_headers: vec!["x-total".to_owned()],
        max_age: Some(300),
        allow_credentials: true,
    }
}

#[tokio::test]
async fn an_http_api_answers_preflights_for_allowed_origins_only() {
    let mut api = http_api(vec![route("PUT", "/items/{id}", "Items")]);
    api.cors = Some(strict());
    check(
        vec![api.clone()],
        options("/items/7", "https://app.example", true),
        Ok(b"{}"),
        expect![[r#"
            response 204
            access-control-allow-origin: https://app.example
            access-control-allow-methods: GET,PUT
            access-control-allow-headers: content-type
            access-control-max-age: 300
            access-control-allow-credentials: true
            apigw-requestid: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
    check(
        vec![api],
        options("/items/7", "https://evil.example", true),
        Ok(b"{}"),
        expect![[r#"
            response 204
            apigw-requestid: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
}

#[tokio::test]
async fn an_http_api_puts_its_headers_on_the_functions_responses() {
    let mut api = http_api(vec![route("GET", "/items", "Items")]);
    api.cors = Some(strict());
    let request = Request::get("/items")
        .header("origin", "https://app.example")
        .body(Body::empty())
        .expect("a valid test request");
    check(
        vec![api],
        request,
        Ok(br#"{"statusCode":200,"headers":{"access-control-allow-origin":"*","x-total":"3"},"body":"[]"}"#),
        expect![[r#"
            invoked app/Items with
              headers.origin = "https://app.example"
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              isBase64Encoded = false
              rawPath = "/items"
              rawQueryString = ""
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.http.method = "GET"
              requestContext.http.path = "/items"
              requestContext.http.protocol = "HTTP/1.1"
              requestContext.http.sourceIp = "127.0.0.1"
              requestContext.http.userAgent = ""
              requestContext.requestId = "<requestId>"
              requestContext.routeKey = "GET /items"
              requestContext.stage = "$default"
              requestContext.time = "<time>"
              requestContext.timeEpoch = "<timeEpoch>"
              routeKey = "GET /items"
              version = "2.0"
            response 200
            apigw-requestid: <id>
            x-total: 3
            content-type: application/json
            access-control-allow-origin: https://app.example
            access-control-expose-headers: x-total
            access-control-allow-credentials: true
            content-length: 2
            body: "[]"
        "#]],
    )
    .await;
}

#[tokio::test]
async fn a_rest_api_answers_options_with_the_paths_methods() {
    let mut api = rest_api(vec![
        route("GET", "/orders", "List"),
        route("POST", "/orders", "Create"),
        route("OPTIONS", "/custom", "Custom"),
        route("GET", "/custom", "Custom"),
    ]);
    api.cors = Some(CorsConfig {
        allow_origins: vec!["*".to_owned()],
        allow_headers: vec!["content-type".to_owned(), "x-api-key".to_owned()],
        ..CorsConfig::default()
    });
    check(
        vec![api.clone()],
        options("/Prod/orders", "https://app.example", false),
        Ok(b"{}"),
        expect![[r#"
            response 200
            content-type: application/json
            access-control-allow-origin: *
            access-control-allow-methods: GET,OPTIONS,POST
            access-control-allow-headers: content-type,x-api-key
            x-amzn-requestid: <id>
            x-amz-apigw-id: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
    // A path with its own OPTIONS method keeps it.
    check(
        vec![api],
        options("/Prod/custom", "https://app.example", false),
        Ok(br#"{"statusCode":204}"#),
        expect![[r#"
            invoked app/Custom with
              body = null
              headers.origin = "https://app.example"
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              httpMethod = "OPTIONS"
              isBase64Encoded = false
              multiValueHeaders.origin = ["https://app.example"]
              multiValueHeaders.x-forwarded-for = ["127.0.0.1"]
              multiValueHeaders.x-forwarded-port = ["3000"]
              multiValueHeaders.x-forwarded-proto = ["http"]
              multiValueQueryStringParameters = null
              path = "/custom"
              pathParameters = null
              queryStringParameters = null
              requestContext.accountId = "123456789012"
              requestContext.apiId = "restapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.extendedRequestId = "<extendedRequestId>"
              requestContext.httpMethod = "OPTIONS"
              requestContext.identity.accessKey = null
              requestContext.identity.accountId = null
              requestContext.identity.apiKey = null
              requestContext.identity.apiKeyId = null
              requestContext.identity.caller = null
              requestContext.identity.cognitoAuthenticationProvider = null
              requestContext.identity.cognitoAuthenticationType = null
              requestContext.identity.cognitoIdentityId = null
              requestContext.identity.cognitoIdentityPoolId = null
              requestContext.identity.principalOrgId = null
              requestContext.identity.sourceIp = "127.0.0.1"
              requestContext.identity.user = null
              requestContext.identity.userAgent = null
              requestContext.identity.userArn = null
              requestContext.path = "/Prod/custom"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = "lbn4u2"
              requestContext.resourcePath = "/custom"
              requestContext.stage = "Prod"
              resource = "/custom"
              stageVariables.env = "test"
            response 204
            content-type: application/json
            x-amzn-requestid: <id>
            x-amz-apigw-id: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
}
