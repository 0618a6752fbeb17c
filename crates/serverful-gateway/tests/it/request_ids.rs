//! The request id a function sees is the one the client gets back, in each API's header.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use serverful_gateway::router;
use tower::ServiceExt as _;

use crate::{get, http_api, rest_api, route, FakeFunction, OK};

/// The response's id headers and the ids in the event, for one request to `api`.
async fn ids(api: serverful_gateway::ApiSpec, uri: &str) -> (http::HeaderMap, Value) {
    let function = Arc::new(FakeFunction {
        result: Ok(bytes::Bytes::from_static(OK.as_bytes())),
        events: Mutex::new(Vec::new()),
    });
    let state = crate::state(vec![api], function.clone());
    let response = router(state)
        .oneshot(get(uri))
        .await
        .expect("the router is infallible");
    let events = function.events.lock().expect("the request is over");
    let (_, event) = events.first().expect("the function was invoked");
    let event: Value = serde_json::from_slice(event).expect("events are JSON");
    (response.headers().clone(), event["requestContext"].clone())
}

#[tokio::test]
async fn rest_responses_carry_the_event_request_ids() {
    let (headers, context) = ids(rest_api(vec![route("GET", "/r", "R")]), "/r").await;
    assert_eq!(
        headers["x-amzn-requestid"],
        context["requestId"].as_str().expect("a string")
    );
    assert_eq!(
        headers["x-amz-apigw-id"],
        context["extendedRequestId"].as_str().expect("a string")
    );
    // A UUID, as REST APIs use.
    assert_eq!(context["requestId"].as_str().map(str::len), Some(36));
}

#[tokio::test]
async fn http_responses_carry_the_event_request_id() {
    let (headers, context) = ids(http_api(vec![route("GET", "/h", "H")]), "/h").await;
    assert_eq!(
        headers["apigw-requestid"],
        context["requestId"].as_str().expect("a string")
    );
    assert!(!headers.contains_key("x-amzn-requestid"));
}
