//! Lambda authorizers of HTTP APIs (issue 17): the format 2.0 event the authorizer gets,
//! simple responses allowing and refusing, and the context reaching the function.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use expect_test::{expect, Expect};
use futures_util::future::BoxFuture;
use http::Request;
use http_body_util::BodyExt as _;
use serde_json::Value;
use serverful_gateway::{
    router, ApiKind, AuthorizerKind, AuthorizerSpec, FunctionRef, HttpTarget, Invoke, InvokeError,
    LambdaConfig, PayloadFormat, RouteAuth,
};
use tower::ServiceExt as _;

use crate::{flatten, http_api, mask_event, rest_api, route};

/// The authorizer (`Auth`) answers `isAuthorized` from the `x-user` header; every other
/// function answers 200. Records every event.
struct Functions {
    events: Mutex<Vec<(String, Bytes)>>,
}

impl Invoke for Functions {
    fn invoke(
        &self,
        function: &FunctionRef,
        event: Bytes,
    ) -> BoxFuture<'static, Result<Bytes, InvokeError>> {
        self.events
            .lock()
            .expect("no test thread panics while holding the lock")
            .push((function.to_string(), event.clone()));
        let is_authorizer = function.to_string().ends_with("Auth");
        Box::pin(async move {
            if !is_authorizer {
                return Ok(Bytes::from_static(br#"{"statusCode":200,"body":"ok"}"#));
            }
            let event: Value = serde_json::from_slice(&event).expect("JSON event");
            let user = event["headers"]["x-user"].as_str().unwrap_or_default();
            let answer = match event["methodArn"].as_str() {
                // A REST API's authorizer answers with a policy for the API.
                Some(method_arn) => serde_json::json!({
                    "principalId": user,
                    "policyDocument": { "Statement": [{
                        "Effect": if user == "alice" { "Allow" } else { "Deny" },
                        "Action": "execute-api:Invoke",
                        "Resource": format!("{}/*", method_arn.split('/').next().unwrap_or_default()),
                    }]},
                    "context": { "user": user, "level": 3, "admin": true },
                }),
                None => serde_json::json!({
                    "isAuthorized": user == "alice",
                    "context": { "user": user, "level": 3 },
                }),
            };
            Ok(Bytes::from(answer.to_string()))
        })
    }

    fn http_target(
        &self,
        function: &FunctionRef,
    ) -> BoxFuture<'static, Result<HttpTarget, InvokeError>> {
        let error = InvokeError::Unavailable(format!("{function} takes events"));
        Box::pin(async move { Err(error) })
    }
}

async fn check(user: Option<&str>, expect: Expect) {
    check_api(ApiKind::Http, user, expect).await;
}

async fn check_api(kind: ApiKind, user: Option<&str>, expect: Expect) {
    let mut guarded = route("GET", "/items", "Fn");
    guarded.auth = RouteAuth::Authorizer {
        name: "Simple".to_owned(),
        scopes: Vec::new(),
    };
    let (mut api, identity_source, payload_format) = match kind {
        ApiKind::Http => (
            http_api(vec![guarded]),
            "$request.header.x-user",
            PayloadFormat::V2,
        ),
        ApiKind::Rest => {
            guarded.payload_format = PayloadFormat::V1;
            (
                rest_api(vec![guarded]),
                "method.request.header.x-user",
                PayloadFormat::V1,
            )
        }
    };
    api.authorizers.push(AuthorizerSpec {
        name: "Simple".to_owned(),
        kind: AuthorizerKind::Lambda(LambdaConfig {
            target: FunctionRef::new("app", "Auth"),
            token: false,
            identity_sources: vec![identity_source.to_owned()],
            validation_expression: None,
            ttl: Duration::ZERO,
            payload_format,
            simple_responses: kind == ApiKind::Http,
        }),
    });
    let functions = Arc::new(Functions {
        events: Mutex::new(Vec::new()),
    });
    let state = crate::state(vec![api], functions.clone());
    let mut request = Request::get("/items?q=1");
    if let Some(user) = user {
        request = request.header("x-user", user);
    }
    let request = request
        .body(axum::body::Body::empty())
        .expect("a valid test request");
    let response = router(state)
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let mut out = String::new();
    for (name, event) in functions.events.lock().expect("request over").iter() {
        let mut event: Value = serde_json::from_slice(event).expect("events are JSON");
        mask_event(&mut event);
        out.push_str(&format!("invoked {name} with\n"));
        let keep = |line: &str| {
            let line = line.trim_start();
            line.starts_with("type")
                || line.starts_with("routeArn")
                || line.starts_with("methodArn")
                || line.starts_with("resource ")
                || line.starts_with("headers.x-user")
                || line.starts_with("identitySource")
                || line.starts_with("routeKey")
                || line.starts_with("requestContext.authorizer")
                || line.starts_with("body")
        };
        let mut flat = String::new();
        flatten("", &event, &mut flat);
        for line in flat.lines().filter(|line| keep(line)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("an in-memory body")
        .to_bytes();
    out.push_str(&format!(
        "response {status}: {}\n",
        String::from_utf8_lossy(&body)
    ));
    expect.assert_eq(&out);
}

#[tokio::test]
async fn simple_response_allows_with_context() {
    check(
        Some("alice"),
        expect![[r#"
            invoked app/Auth with
              headers.x-user = "alice"
              identitySource = ["alice"]
              routeArn = "arn:aws:execute-api:us-east-1:123456789012:httpapi123/$default/GET/items"
              routeKey = "GET /items"
              type = "REQUEST"
            invoked app/Fn with
              headers.x-user = "alice"
              requestContext.authorizer.lambda.level = 3
              requestContext.authorizer.lambda.user = "alice"
              routeKey = "GET /items"
            response 200: ok
        "#]],
    )
    .await;
}

#[tokio::test]
async fn simple_response_refuses() {
    check(
        Some("bob"),
        expect![[r#"
            invoked app/Auth with
              headers.x-user = "bob"
              identitySource = ["bob"]
              routeArn = "arn:aws:execute-api:us-east-1:123456789012:httpapi123/$default/GET/items"
              routeKey = "GET /items"
              type = "REQUEST"
            response 403: {"message":"Forbidden"}
        "#]],
    )
    .await;
}

#[tokio::test]
async fn missing_identity_source_is_401_without_a_call() {
    check(
        None,
        expect![[r#"
        response 401: {"message":"Unauthorized"}
    "#]],
    )
    .await;
}

#[tokio::test]
async fn rest_request_authorizer_policy_and_context() {
    check_api(
        ApiKind::Rest,
        Some("alice"),
        expect![[r#"
        invoked app/Auth with
          headers.x-user = "alice"
          methodArn = "arn:aws:execute-api:us-east-1:123456789012:restapi123/Prod/GET/items"
          resource = "/items"
          type = "REQUEST"
        invoked app/Fn with
          body = null
          headers.x-user = "alice"
          requestContext.authorizer.admin = "true"
          requestContext.authorizer.integrationLatency = 0
          requestContext.authorizer.level = "3"
          requestContext.authorizer.principalId = "alice"
          requestContext.authorizer.user = "alice"
          resource = "/items"
        response 200: ok
    "#]],
    )
    .await;
}

#[tokio::test]
async fn rest_request_authorizer_explicit_deny() {
    check_api(ApiKind::Rest, Some("bob"), expect![[r#"
        invoked app/Auth with
          headers.x-user = "bob"
          methodArn = "arn:aws:execute-api:us-east-1:123456789012:restapi123/Prod/GET/items"
          resource = "/items"
          type = "REQUEST"
        response 403: {"Message":"User is not authorized to access this resource with an explicit deny"}
    "#]]).await;
}
