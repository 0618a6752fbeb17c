//! HTTP-mode functions: the gateway proxies the request to a web server (a real one on
//! loopback here) and reports how the request ended to the function's guard.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use bytes::Bytes;
use expect_test::{expect, Expect};
use futures_util::future::BoxFuture;
use http_body_util::BodyExt as _;
use serverful_gateway::{
    router, ApiSpec, FunctionMode, FunctionRef, HttpTarget, Invoke, InvokeError, ProxyGuard,
    ProxyOutcome, RouteSpec,
};
use tower::ServiceExt as _;

use crate::{http_api, rest_api};

/// A route to a function in HTTP mode.
fn route(method: &str, path: &str, function: &str) -> RouteSpec {
    RouteSpec {
        mode: FunctionMode::Http,
        ..crate::route(method, path, function)
    }
}

/// A web server that answers every request with what it received, after `?sleep=ms`.
async fn echo_server() -> SocketAddr {
    async fn echo(
        request: Request,
    ) -> (http::StatusCode, [(&'static str, &'static str); 2], String) {
        let sleep_ms = request
            .uri()
            .query()
            .and_then(|query| query.strip_prefix("sleep="))
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
        let mut text = format!("{} {}\n", request.method(), request.uri());
        // Headers sorted by name: the proxy's removals may reorder them.
        let mut headers: Vec<_> = request.headers().iter().collect();
        headers.sort_by_key(|(name, _)| name.as_str());
        for (name, value) in headers {
            let value = value.to_str().unwrap_or("?");
            match name.as_str() {
                "host" => {}
                "x-amzn-request-context" => {
                    let mut context: serde_json::Value =
                        serde_json::from_str(value).expect("the request context is JSON");
                    for key in [
                        "requestId",
                        "extendedRequestId",
                        "requestTime",
                        "requestTimeEpoch",
                    ] {
                        context[key] = serde_json::Value::String(format!("<{key}>"));
                    }
                    text.push_str(&format!("{name}: {context}\n"));
                }
                _ => text.push_str(&format!("{name}: {value}\n")),
            }
        }
        let body = request
            .into_body()
            .collect()
            .await
            .map(|body| body.to_bytes())
            .unwrap_or_default();
        text.push_str(&format!("body: {:?}\n", String::from_utf8_lossy(&body)));
        (
            http::StatusCode::CREATED,
            [("x-from-app", "yes"), ("connection", "keep-alive")],
            text,
        )
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::Router::new().fallback(echo)).await;
    });
    address
}

/// Records how the proxied request ended.
struct Recorder(Arc<Mutex<Vec<ProxyOutcome>>>);

impl ProxyGuard for Recorder {
    fn finish(self: Box<Self>, outcome: ProxyOutcome) -> BoxFuture<'static, ()> {
        self.0.lock().expect("outcomes").push(outcome);
        Box::pin(async {})
    }
}

/// A function in HTTP mode, served at `address`.
struct WebFunction {
    address: SocketAddr,
    remove_base_path: Option<String>,
    timeout: Duration,
    outcomes: Arc<Mutex<Vec<ProxyOutcome>>>,
}

impl Invoke for WebFunction {
    fn invoke(&self, _: &FunctionRef, _: Bytes) -> BoxFuture<'static, Result<Bytes, InvokeError>> {
        Box::pin(async { Err(InvokeError::Unavailable("events go nowhere".to_owned())) })
    }

    fn http_target(
        &self,
        _function: &FunctionRef,
    ) -> BoxFuture<'static, Result<HttpTarget, InvokeError>> {
        let target = HttpTarget {
            address: self.address,
            remove_base_path: self.remove_base_path.clone(),
            timeout: self.timeout,
            lambda_context: Some(r#"{"request_id":"r1"}"#.to_owned()),
            guard: Box::new(Recorder(self.outcomes.clone())),
        };
        Box::pin(async move { Ok(target) })
    }
}

async fn check_proxy(
    apis: Vec<ApiSpec>,
    address: SocketAddr,
    remove_base_path: Option<&str>,
    timeout: Duration,
    request: http::Request<Body>,
    expect: Expect,
) {
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let function = WebFunction {
        address,
        remove_base_path: remove_base_path.map(str::to_owned),
        timeout,
        outcomes: outcomes.clone(),
    };
    let state = crate::state(apis, Arc::new(function));
    let response = router(state)
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let (parts, body) = response.into_parts();
    let mut out = format!("response {}\n", parts.status.as_u16());
    for (name, value) in &parts.headers {
        if [
            "x-amzn-requestid",
            "x-amz-apigw-id",
            "apigw-requestid",
            "date",
        ]
        .contains(&name.as_str())
        {
            continue;
        }
        out.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or("?")));
    }
    let body = body.collect().await.expect("body").to_bytes();
    out.push_str(&String::from_utf8_lossy(&body));
    out.push('\n');
    // The guard hears of the end of a streamed body from a task of its own.
    for _ in 0..100 {
        if !outcomes.lock().expect("outcomes").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out.push_str(&format!(
        "outcomes: {:?}\n",
        outcomes.lock().expect("outcomes")
    ));
    expect.assert_eq(&out);
}

#[tokio::test]
async fn the_request_reaches_the_server_without_stage_and_base_path() {
    let address = echo_server().await;
    let request = http::Request::post("/Prod/api/users/7?sort=asc&x=%20y")
        .header("host", "localhost:3000")
        .header("cookie", "a=1; b=2")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "dropped")
        .header("x-forwarded-for", "10.0.0.1")
        .header("x-amzn-lambda-context", "forged by the client")
        .body(Body::from("hello"))
        .expect("request");
    check_proxy(
        vec![rest_api(vec![route("ANY", "/{proxy+}", "Web")])],
        address,
        Some("/api"),
        Duration::from_secs(5),
        request,
        expect![[r#"
            response 201
            content-type: text/plain; charset=utf-8
            x-from-app: yes
            content-length: 912
            POST /users/7?sort=asc&x=%20y
            content-length: 5
            cookie: a=1; b=2
            x-amzn-lambda-context: {"request_id":"r1"}
            x-amzn-request-context: {"accountId":"123456789012","apiId":"restapi123","domainName":"localhost:3000","domainPrefix":"localhost","extendedRequestId":"<extendedRequestId>","httpMethod":"POST","identity":{"accessKey":null,"accountId":null,"apiKey":null,"apiKeyId":null,"caller":null,"cognitoAuthenticationProvider":null,"cognitoAuthenticationType":null,"cognitoIdentityId":null,"cognitoIdentityPoolId":null,"principalOrgId":null,"sourceIp":"127.0.0.1","user":null,"userAgent":null,"userArn":null},"path":"/Prod/api/users/7","protocol":"HTTP/1.1","requestId":"<requestId>","requestTime":"<requestTime>","requestTimeEpoch":"<requestTimeEpoch>","resourceId":"5umuh7","resourcePath":"/{proxy+}","stage":"Prod"}
            x-forwarded-for: 10.0.0.1, 127.0.0.1
            x-forwarded-port: 3000
            x-forwarded-proto: http
            body: "hello"

            outcomes: [Responded { status: 201 }]
        "#]],
    )
    .await;
}

#[tokio::test]
async fn a_slow_server_times_out_with_504() {
    let address = echo_server().await;
    check_proxy(
        vec![http_api(vec![route("GET", "/slow", "Web")])],
        address,
        None,
        Duration::from_millis(100),
        crate::get("/slow?sleep=2000"),
        expect![[r#"
            response 504
            content-type: application/json
            content-length: 40
            {"message":"Endpoint request timed out"}
            outcomes: [TimedOut]
        "#]],
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_server_is_502() {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let out = {
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let function = WebFunction {
            address,
            remove_base_path: None,
            timeout: Duration::from_secs(5),
            outcomes: outcomes.clone(),
        };
        let state = crate::state(
            vec![http_api(vec![route("GET", "/down", "Web")])],
            Arc::new(function),
        );
        let response = router(state)
            .oneshot(crate::get("/down"))
            .await
            .expect("the router is infallible");
        let status = response.status().as_u16();
        let outcomes = outcomes.lock().expect("outcomes").clone();
        (status, outcomes)
    };
    assert_eq!(out.0, 502);
    assert!(
        matches!(out.1.as_slice(), [ProxyOutcome::Failed(reason)] if reason.contains("onnect")),
        "{:?}",
        out.1
    );
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_413_before_any_server_starts() {
    let request = http::Request::post("/up")
        .header("content-length", (10 * 1024 * 1024 + 1).to_string())
        .body(Body::empty())
        .expect("request");
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let address = listener.local_addr().expect("address");
    check_proxy(
        vec![http_api(vec![route("POST", "/up", "Web")])],
        address,
        None,
        Duration::from_secs(5),
        request,
        expect![[r#"
            response 413
            content-type: application/json
            content-length: 30
            {"message":"Request Too Long"}
            outcomes: []
        "#]],
    )
    .await;
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_413() {
    let address = echo_server().await;
    // No content-length: the body streams to the server until it passes the limit.
    let chunks = (0..11).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 1024 * 1024])));
    let request = http::Request::post("/up")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .expect("request");
    check_proxy(
        vec![http_api(vec![route("POST", "/up", "Web")])],
        address,
        None,
        Duration::from_secs(5),
        request,
        expect![[r#"
            response 413
            content-type: application/json
            content-length: 30
            {"message":"Request Too Long"}
            outcomes: [Failed("the request body is over the gateway's limit")]
        "#]],
    )
    .await;
}

/// Calls the router with a web function at `address`, returning the response.
async fn send(address: SocketAddr, request: http::Request<Body>) -> axum::response::Response {
    let function = WebFunction {
        address,
        remove_base_path: None,
        timeout: Duration::from_secs(5),
        outcomes: Arc::new(Mutex::new(Vec::new())),
    };
    let state = crate::state(
        vec![http_api(vec![route("ANY", "/{proxy+}", "Web")])],
        Arc::new(function),
    );
    router(state)
        .oneshot(request)
        .await
        .expect("the router is infallible")
}

#[tokio::test]
async fn both_bodies_stream_through_the_proxy() {
    // The server echoes each request chunk as a response chunk as soon as it arrives.
    async fn echo_chunks(request: Request) -> Body {
        Body::from_stream(request.into_body().into_data_stream())
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::Router::new().fallback(echo_chunks)).await;
    });

    // The client sends its second chunk only after the first came back: a proxy that
    // buffered either body whole would never answer.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let request = http::Request::post("/echo")
        .body(Body::from_stream(tokio_stream_from(receiver)))
        .expect("request");
    sender
        .send(Ok(Bytes::from_static(b"first")))
        .await
        .expect("send");
    let response = send(address, request).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("the first chunk comes back before the request ends")
        .expect("a frame")
        .expect("data");
    assert_eq!(
        first.into_data().expect("data"),
        Bytes::from_static(b"first")
    );
    sender
        .send(Ok(Bytes::from_static(b"second")))
        .await
        .expect("send");
    drop(sender);
    let rest = body.collect().await.expect("rest").to_bytes();
    assert_eq!(rest, Bytes::from_static(b"second"));
}

/// A stream of what `receiver` gets, until its senders are gone.
fn tokio_stream_from<T: Send + 'static>(
    receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}
