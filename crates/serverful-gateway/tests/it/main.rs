//! Integration tests: `router()` driven through `tower::ServiceExt::oneshot`, no socket, with
//! a fake function that records the event it got and returns a canned result.
//!
//! Every test goes through [`check`], which snapshots the event the function received (with
//! request ids and times masked) and the HTTP response the client got.

mod authorizers;
mod cors;
mod errors;
mod events;
mod proxy;
mod request_ids;
mod responses;
mod routing;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use bytes::Bytes;
use expect_test::Expect;
use futures_util::future::BoxFuture;
use http::Request;
use http_body_util::BodyExt as _;
use serde_json::Value;
use serverful_gateway::{
    router, ApiKind, ApiSpec, FunctionMode, FunctionRef, GatewayState, HttpTarget, Invoke,
    InvokeError, PayloadFormat, RouteSpec, Routes, RoutesSpec,
};
use tower::ServiceExt as _;

/// A function stand-in: records every event and answers with the same canned result.
struct FakeFunction {
    result: Result<Bytes, InvokeError>,
    events: Mutex<Vec<(String, Bytes)>>,
}

impl Invoke for FakeFunction {
    fn invoke(
        &self,
        function: &FunctionRef,
        event: Bytes,
    ) -> BoxFuture<'static, Result<Bytes, InvokeError>> {
        self.events
            .lock()
            .expect("no test thread panics while holding the lock")
            .push((function.to_string(), event));
        let result = self.result.clone();
        Box::pin(async move { result })
    }

    fn http_target(
        &self,
        function: &FunctionRef,
    ) -> BoxFuture<'static, Result<HttpTarget, InvokeError>> {
        let error = InvokeError::Unavailable(format!("{function} takes events"));
        Box::pin(async move { Err(error) })
    }
}

/// The gateway's state for `apis` of the stack `app`, served on every host as under
/// `serverful up`.
fn state(apis: Vec<ApiSpec>, invoker: Arc<dyn Invoke>) -> GatewayState {
    let spec = RoutesSpec {
        apis,
        domain: "localhost".to_owned(),
        custom_domains: Vec::new(),
        bare_host: true,
        function_urls: Vec::new(),
    };
    GatewayState {
        routes: Routes::new(spec),
        invoker,
        domain_name: "127.0.0.1:3000".to_owned(),
        account_id: "123456789012".to_owned(),
        websockets: None,
        auth: serverful_gateway::AuthSettings::default(),
        hosts: Vec::new(),
    }
}

/// The canned result of a function that answers 200 with an empty body (both formats).
const OK: &str = r#"{"statusCode":200}"#;

fn route(method: &str, path: &str, function: &str) -> RouteSpec {
    RouteSpec {
        method: method.to_owned(),
        path: path.to_owned(),
        target: FunctionRef::new("app", function),
        mode: FunctionMode::Events,
        payload_format: PayloadFormat::V2,
        auth: serverful_gateway::RouteAuth::None,
        mock: None,
        validation: None,
        api_key_required: false,
    }
}

/// A REST API with stage `Prod`, stage variables and binary media types.
fn rest_api(routes: Vec<RouteSpec>) -> ApiSpec {
    ApiSpec {
        stack: "app".to_owned(),
        logical_id: "ServerlessRestApi".to_owned(),
        api_id: "restapi123".to_owned(),
        kind: ApiKind::Rest,
        stage_name: "Prod".to_owned(),
        stage_variables: BTreeMap::from([("env".to_owned(), "test".to_owned())]),
        binary_media_types: vec![
            "image~1png".to_owned(),
            "application/octet-stream".to_owned(),
        ],
        cors: None,
        routes,
        authorizers: Vec::new(),
        api_keys: Default::default(),
    }
}

/// An HTTP API on the `$default` stage.
fn http_api(routes: Vec<RouteSpec>) -> ApiSpec {
    ApiSpec {
        stack: "app".to_owned(),
        logical_id: "ServerlessHttpApi".to_owned(),
        api_id: "httpapi123".to_owned(),
        kind: ApiKind::Http,
        stage_name: "$default".to_owned(),
        stage_variables: BTreeMap::new(),
        binary_media_types: Vec::new(),
        cors: None,
        routes,
        authorizers: Vec::new(),
        api_keys: Default::default(),
    }
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .body(Body::empty())
        .expect("a valid test request")
}

/// Sends `request` through the router and snapshots what the function saw and what the
/// client got.
async fn check(
    apis: Vec<ApiSpec>,
    request: Request<Body>,
    result: Result<&[u8], InvokeError>,
    expect: Expect,
) {
    let actual = run(apis, request, result).await;
    expect.assert_eq(&actual);
}

async fn run(
    apis: Vec<ApiSpec>,
    request: Request<Body>,
    result: Result<&[u8], InvokeError>,
) -> String {
    let function = Arc::new(FakeFunction {
        result: result.map(Bytes::copy_from_slice),
        events: Mutex::new(Vec::new()),
    });
    let state = crate::state(apis, function.clone());
    let response = router(state)
        .oneshot(request)
        .await
        .expect("the router is infallible");

    let mut out = String::new();
    let events = function.events.lock().expect("the request is over").clone();
    for (name, event) in events {
        let raw = event;
        let mut event: Value = serde_json::from_slice(&raw).expect("events are JSON");
        // An event is written either from a `Value` (keys in sorted order) or straight
        // from typed structs declared in that order: either way, the same bytes.
        assert_eq!(
            String::from_utf8_lossy(&serde_json::to_vec(&event).expect("a Value serializes")),
            String::from_utf8_lossy(&raw),
            "the event's bytes differ from its sorted-key JSON"
        );
        mask_event(&mut event);
        out.push_str(&format!("invoked {name} with\n"));
        flatten("", &event, &mut out);
    }
    let (parts, body) = response.into_parts();
    out.push_str(&format!("response {}\n", parts.status.as_u16()));
    for (name, value) in &parts.headers {
        let value = match name.as_str() {
            "x-amzn-requestid" | "x-amz-apigw-id" | "apigw-requestid" => "<id>".into(),
            _ => String::from_utf8_lossy(value.as_bytes()),
        };
        out.push_str(&format!("{name}: {value}\n"));
    }
    let body = body.collect().await.expect("an in-memory body").to_bytes();
    match std::str::from_utf8(&body) {
        Ok(text) => out.push_str(&format!("body: {text:?}\n")),
        Err(_) => out.push_str(&format!("body (binary): {:?}\n", body.as_ref())),
    }
    out
}

/// One line per leaf field (`requestContext.http.method = "GET"`), in key order, so a
/// snapshot reads field by field and a change shows up as one line.
fn flatten(prefix: &str, value: &Value, out: &mut String) {
    match value {
        Value::Object(object) if !object.is_empty() => {
            for (key, value) in object {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, value, out);
            }
        }
        Value::Array(items) if items.iter().all(|item| !item.is_object()) => {
            out.push_str(&format!("  {prefix} = {value}\n"));
        }
        Value::Array(items) => {
            for (item_idx, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{item_idx}]"), item, out);
            }
        }
        _ => out.push_str(&format!("  {prefix} = {value}\n")),
    }
}

/// Replaces the values that change on every request.
fn mask_event(event: &mut Value) {
    let Some(context) = event
        .get_mut("requestContext")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for key in [
        "requestId",
        "extendedRequestId",
        "requestTime",
        "requestTimeEpoch",
        "time",
        "timeEpoch",
    ] {
        if let Some(value) = context.get_mut(key) {
            *value = Value::String(format!("<{key}>"));
        }
    }
}
