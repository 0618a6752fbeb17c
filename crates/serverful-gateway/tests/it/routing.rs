//! Which function a request reaches: by the host it came on (each API's
//! `{api_id}.execute-api.{domain}`, custom domains and their base paths, the bare host),
//! with one call to the invoker per request, and routes swapped while requests run.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use expect_test::{expect, Expect};
use futures_util::future::BoxFuture;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use serverful_gateway::{
    router, ApiKind, ApiSpec, CustomDomain, FunctionMode, FunctionRef, GatewayState, HttpTarget,
    Invoke, InvokeError, PayloadFormat, ProxyGuard, ProxyOutcome, RouteSpec, Routes, RoutesSpec,
};
use tower::ServiceExt as _;

/// Every call the gateway made, in order: `invoke shop/Items` or `http_target shop/Web`.
type Calls = Arc<Mutex<Vec<String>>>;

/// Functions that answer with what their event says about the request's routing; an
/// HTTP-mode function is served by a web server that answers with the path it got.
struct Recorder {
    calls: Calls,
    web_server: Option<SocketAddr>,
}

impl Invoke for Recorder {
    fn invoke(
        &self,
        function: &FunctionRef,
        event: Bytes,
    ) -> BoxFuture<'static, Result<Bytes, InvokeError>> {
        record(&self.calls, format!("invoke {function}"));
        let result = describe(function, &event);
        Box::pin(async move { Ok(result) })
    }

    fn http_target(
        &self,
        function: &FunctionRef,
    ) -> BoxFuture<'static, Result<HttpTarget, InvokeError>> {
        record(&self.calls, format!("http_target {function}"));
        let target = self.web_server.map(|address| HttpTarget {
            address,
            remove_base_path: None,
            timeout: Duration::from_secs(5),
            lambda_context: None,
            guard: Box::new(NoGuard),
        });
        Box::pin(async move { target.ok_or(InvokeError::Unavailable("no server".to_owned())) })
    }
}

struct NoGuard;

impl ProxyGuard for NoGuard {
    fn finish(self: Box<Self>, _: ProxyOutcome) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

fn record(calls: &Calls, call: String) {
    calls
        .lock()
        .expect("no test panics holding the lock")
        .push(call);
}

/// A result whose body says which function ran and what routing put in its event.
fn describe(function: &FunctionRef, event: &[u8]) -> Bytes {
    let event: Value = serde_json::from_slice(event).expect("events are JSON");
    let context = &event["requestContext"];
    let (path, context_path) = if event["version"] == "2.0" {
        (&event["rawPath"], &context["http"]["path"])
    } else {
        (&event["path"], &context["path"])
    };
    let host = event["headers"]
        .get("host")
        .or_else(|| event["headers"].get("Host"))
        .cloned()
        .unwrap_or(Value::Null);
    let text = format!(
        "{function} stage={} path={path} context.path={context_path} domainName={} domainPrefix={} Host={host}",
        context["stage"], context["domainName"], context["domainPrefix"],
    );
    let result = json!({"statusCode": 200, "body": text});
    Bytes::from(result.to_string())
}

fn route(method: &str, path: &str, stack: &str, function: &str) -> RouteSpec {
    RouteSpec {
        method: method.to_owned(),
        path: path.to_owned(),
        target: FunctionRef::new(stack, function),
        mode: FunctionMode::Events,
        payload_format: PayloadFormat::V2,
        auth: serverful_gateway::RouteAuth::None,
        mock: None,
        validation: None,
        api_key_required: false,
    }
}

/// Two stacks: `shop` with a REST API, `blog` with an HTTP API; both have `GET /items`.
fn two_stacks() -> Vec<ApiSpec> {
    vec![
        ApiSpec {
            stack: "shop".to_owned(),
            logical_id: "ShopApi".to_owned(),
            api_id: "shopapi001".to_owned(),
            kind: ApiKind::Rest,
            stage_name: "Prod".to_owned(),
            stage_variables: BTreeMap::new(),
            binary_media_types: Vec::new(),
            cors: None,
            authorizers: Vec::new(),
            api_keys: Default::default(),
            routes: vec![
                route("GET", "/items", "shop", "ListItems"),
                route("GET", "/items/{id}", "shop", "GetItem"),
            ],
        },
        ApiSpec {
            stack: "blog".to_owned(),
            logical_id: "BlogApi".to_owned(),
            api_id: "blogapi001".to_owned(),
            kind: ApiKind::Http,
            stage_name: "$default".to_owned(),
            stage_variables: BTreeMap::new(),
            binary_media_types: Vec::new(),
            cors: None,
            authorizers: Vec::new(),
            api_keys: Default::default(),
            routes: vec![
                route("GET", "/posts", "blog", "ListPosts"),
                route("GET", "/items", "blog", "BlogItems"),
            ],
        },
    ]
}

fn mapping(
    domain_name: &str,
    base_path: Option<&str>,
    api_id: &str,
    stage: Option<&str>,
) -> CustomDomain {
    CustomDomain {
        domain_name: domain_name.to_owned(),
        base_path: base_path.map(str::to_owned),
        api_id: api_id.to_owned(),
        stage: stage.map(str::to_owned),
    }
}

fn spec(bare_host: bool) -> RoutesSpec {
    RoutesSpec {
        apis: two_stacks(),
        domain: "localhost".to_owned(),
        custom_domains: vec![
            mapping("api.example.com", None, "shopapi001", None),
            mapping("api.example.com", Some("blog"), "blogapi001", None),
            mapping(
                "api.example.com",
                Some("/blog/v2/"),
                "shopapi001",
                Some("v2"),
            ),
            mapping("Shop.Example.com", Some(""), "shopapi001", Some("live")),
        ],
        bare_host,
        function_urls: Vec::new(),
    }
}

fn gateway_state(routes: Routes, invoker: Arc<dyn Invoke>) -> GatewayState {
    GatewayState {
        routes,
        invoker,
        domain_name: "127.0.0.1:3000".to_owned(),
        account_id: "123456789012".to_owned(),
        websockets: None,
        auth: serverful_gateway::AuthSettings::default(),
        hosts: Vec::new(),
    }
}

fn request(host: &str, method: &str, path: &str) -> http::Request<Body> {
    let mut builder = http::Request::builder().method(method).uri(path);
    if !host.is_empty() {
        builder = builder.header("host", host);
    }
    builder.body(Body::empty()).expect("a valid test request")
}

/// Sends each `(host, method, path)` through one router and prints, per request, the calls
/// the gateway made and the response.
async fn check_hosts(routes: RoutesSpec, requests: &[(&str, &str, &str)], expect: Expect) {
    let calls = Calls::default();
    let invoker = Arc::new(Recorder {
        calls: calls.clone(),
        web_server: None,
    });
    let app = router(gateway_state(Routes::new(routes), invoker));
    let mut out = String::new();
    for (host, method, path) in requests {
        let response = app
            .clone()
            .oneshot(request(host, method, path))
            .await
            .expect("the router is infallible");
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("an in-memory body")
            .to_bytes();
        let made: Vec<String> = std::mem::take(&mut *calls.lock().expect("calls"));
        out.push_str(&format!(
            "{method} {host}{path}\n  calls: {made:?}\n  {status} {}\n",
            String::from_utf8_lossy(&body)
        ));
    }
    expect.assert_eq(&out);
}

#[tokio::test]
async fn each_api_answers_on_its_own_host() {
    check_hosts(
        spec(false),
        &[
            ("shopapi001.execute-api.localhost:3000", "GET", "/items"),
            ("SHOPAPI001.Execute-Api.LOCALHOST", "GET", "/Prod/items/7"),
            ("shopapi001.execute-api.localhost:3000", "GET", "/posts"),
            ("blogapi001.execute-api.localhost:3000", "GET", "/items"),
        ],
        expect![[r#"
            GET shopapi001.execute-api.localhost:3000/items
              calls: ["invoke shop/ListItems"]
              200 shop/ListItems stage="Prod" path="/items" context.path="/Prod/items" domainName="shopapi001.execute-api.localhost:3000" domainPrefix="shopapi001" Host="shopapi001.execute-api.localhost:3000"
            GET SHOPAPI001.Execute-Api.LOCALHOST/Prod/items/7
              calls: ["invoke shop/GetItem"]
              200 shop/GetItem stage="Prod" path="/items/7" context.path="/Prod/items/7" domainName="SHOPAPI001.Execute-Api.LOCALHOST" domainPrefix="SHOPAPI001" Host="SHOPAPI001.Execute-Api.LOCALHOST"
            GET shopapi001.execute-api.localhost:3000/posts
              calls: []
              404 {"message":"Not Found"}
            GET blogapi001.execute-api.localhost:3000/items
              calls: ["invoke blog/BlogItems"]
              200 blog/BlogItems stage="$default" path="/items" context.path="/items" domainName="blogapi001.execute-api.localhost:3000" domainPrefix="blogapi001" Host="blogapi001.execute-api.localhost:3000"
        "#]],
    )
    .await;
}

#[tokio::test]
async fn custom_domains_map_base_paths_the_longest_first() {
    check_hosts(
        spec(false),
        &[
            // The mapping without a base path takes the whole domain...
            ("api.example.com", "GET", "/items"),
            ("api.example.com", "GET", "/Prod/items/1"),
            // ...except what a base path claims; the base path stays in the event's path.
            ("api.example.com", "GET", "/blog/posts"),
            ("api.example.com:8080", "GET", "/blog/items"),
            // The longest base path wins, with its mapping's stage.
            ("api.example.com", "GET", "/blog/v2/items/9"),
            ("api.example.com", "GET", "/blog/v2"),
            // Base paths are whole segments.
            ("api.example.com", "GET", "/blogs/posts"),
            // A mapping with a stage serves resource paths only.
            ("shop.example.com", "GET", "/items"),
            ("shop.example.com", "GET", "/live/items"),
        ],
        expect![[r#"
            GET api.example.com/items
              calls: ["invoke shop/ListItems"]
              200 shop/ListItems stage="Prod" path="/items" context.path="/items" domainName="api.example.com" domainPrefix="api" Host="api.example.com"
            GET api.example.com/Prod/items/1
              calls: ["invoke shop/GetItem"]
              200 shop/GetItem stage="Prod" path="/Prod/items/1" context.path="/Prod/items/1" domainName="api.example.com" domainPrefix="api" Host="api.example.com"
            GET api.example.com/blog/posts
              calls: ["invoke blog/ListPosts"]
              200 blog/ListPosts stage="$default" path="/blog/posts" context.path="/blog/posts" domainName="api.example.com" domainPrefix="api" Host="api.example.com"
            GET api.example.com:8080/blog/items
              calls: ["invoke blog/BlogItems"]
              200 blog/BlogItems stage="$default" path="/blog/items" context.path="/blog/items" domainName="api.example.com:8080" domainPrefix="api" Host="api.example.com:8080"
            GET api.example.com/blog/v2/items/9
              calls: ["invoke shop/GetItem"]
              200 shop/GetItem stage="v2" path="/blog/v2/items/9" context.path="/blog/v2/items/9" domainName="api.example.com" domainPrefix="api" Host="api.example.com"
            GET api.example.com/blog/v2
              calls: []
              404 {"message":"Not Found"}
            GET api.example.com/blogs/posts
              calls: []
              404 {"message":"Not Found"}
            GET shop.example.com/items
              calls: ["invoke shop/ListItems"]
              200 shop/ListItems stage="live" path="/items" context.path="/items" domainName="shop.example.com" domainPrefix="shop" Host="shop.example.com"
            GET shop.example.com/live/items
              calls: []
              404 {"message":"Not Found"}
        "#]],
    )
    .await;
}

#[tokio::test]
async fn other_hosts_reach_every_api_only_under_up() {
    let requests = [
        ("127.0.0.1:3000", "GET", "/Prod/items/3"),
        ("localhost:3000", "GET", "/posts"),
        ("unknown.execute-api.localhost:3000", "GET", "/items"),
        ("", "GET", "/items"),
    ];
    check_hosts(
        spec(true),
        &requests,
        expect![[r#"
            GET 127.0.0.1:3000/Prod/items/3
              calls: ["invoke shop/GetItem"]
              200 shop/GetItem stage="Prod" path="/items/3" context.path="/Prod/items/3" domainName="127.0.0.1:3000" domainPrefix="127.0.0.1" Host="127.0.0.1:3000"
            GET localhost:3000/posts
              calls: ["invoke blog/ListPosts"]
              200 blog/ListPosts stage="$default" path="/posts" context.path="/posts" domainName="localhost:3000" domainPrefix="localhost" Host="localhost:3000"
            GET unknown.execute-api.localhost:3000/items
              calls: ["invoke shop/ListItems"]
              200 shop/ListItems stage="Prod" path="/items" context.path="/Prod/items" domainName="unknown.execute-api.localhost:3000" domainPrefix="unknown" Host="unknown.execute-api.localhost:3000"
            GET /items
              calls: ["invoke shop/ListItems"]
              200 shop/ListItems stage="Prod" path="/items" context.path="/Prod/items" domainName="127.0.0.1:3000" domainPrefix="127.0.0.1" Host=null
        "#]],
    )
    .await;
    // `serverful serve`: only API hosts and custom domains.
    check_hosts(
        spec(false),
        &requests,
        expect![[r#"
            GET 127.0.0.1:3000/Prod/items/3
              calls: []
              404 {"message":"Not Found"}
            GET localhost:3000/posts
              calls: []
              404 {"message":"Not Found"}
            GET unknown.execute-api.localhost:3000/items
              calls: []
              404 {"message":"Not Found"}
            GET /items
              calls: []
              404 {"message":"Not Found"}
        "#]],
    )
    .await;
}

#[tokio::test]
async fn an_http_mode_function_gets_one_call_and_no_event() {
    // A web server that answers with the path it got.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let app = axum::Router::new()
            .fallback(|uri: http::Uri| async move { format!("web server got {uri}") });
        let _ = axum::serve(listener, app).await;
    });

    let calls = Calls::default();
    let invoker = Arc::new(Recorder {
        calls: calls.clone(),
        web_server: Some(address),
    });
    let mut apis = two_stacks();
    apis[0].routes.push(RouteSpec {
        mode: FunctionMode::Http,
        ..route("ANY", "/web/{proxy+}", "shop", "Web")
    });
    let spec = RoutesSpec {
        apis,
        custom_domains: vec![mapping(
            "www.example.com",
            Some("shop"),
            "shopapi001",
            Some("live"),
        )],
        ..spec(false)
    };
    let app = router(gateway_state(Routes::new(spec), invoker));
    let mut out = String::new();
    for (host, path) in [
        ("shopapi001.execute-api.localhost:3000", "/Prod/web/a?b=c"),
        // On a custom domain the server sees the base path, as the event would report it.
        ("www.example.com", "/shop/web/a"),
        ("shopapi001.execute-api.localhost:3000", "/items"),
    ] {
        let response = app
            .clone()
            .oneshot(request(host, "GET", path))
            .await
            .expect("the router is infallible");
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let made: Vec<String> = std::mem::take(&mut *calls.lock().expect("calls"));
        out.push_str(&format!(
            "{host}{path}: {made:?} -> {}\n",
            String::from_utf8_lossy(&body)
                .lines()
                .next()
                .unwrap_or_default()
        ));
    }
    expect![[r#"
        shopapi001.execute-api.localhost:3000/Prod/web/a?b=c: ["http_target shop/Web"] -> web server got /web/a?b=c
        www.example.com/shop/web/a: ["http_target shop/Web"] -> web server got /shop/web/a
        shopapi001.execute-api.localhost:3000/items: ["invoke shop/ListItems"] -> shop/ListItems stage="Prod" path="/items" context.path="/Prod/items" domainName="shopapi001.execute-api.localhost:3000" domainPrefix="shopapi001" Host="shopapi001.execute-api.localhost:3000"
    "#]]
    .assert_eq(&out);
}

/// Holds every invocation of `stack/Slow` until released, and answers with the function.
struct Gated {
    calls: Calls,
    arrived: tokio::sync::mpsc::UnboundedSender<()>,
    release: Arc<tokio::sync::Semaphore>,
}

impl Invoke for Gated {
    fn invoke(
        &self,
        function: &FunctionRef,
        _event: Bytes,
    ) -> BoxFuture<'static, Result<Bytes, InvokeError>> {
        record(&self.calls, format!("invoke {function}"));
        let gated = &*function.function == "Slow";
        let arrived = self.arrived.clone();
        let release = self.release.clone();
        let answer = json!({"statusCode": 200, "body": function.to_string()}).to_string();
        Box::pin(async move {
            if gated {
                let _ = arrived.send(());
                let _permit = release.acquire().await;
            }
            Ok(Bytes::from(answer))
        })
    }

    fn http_target(&self, _: &FunctionRef) -> BoxFuture<'static, Result<HttpTarget, InvokeError>> {
        Box::pin(async { Err(InvokeError::Unavailable("events only".to_owned())) })
    }
}

fn one_route(stack: &str, function: &str) -> RoutesSpec {
    let mut apis = two_stacks();
    apis.truncate(1);
    apis[0].routes = vec![route("GET", "/items", stack, function)];
    RoutesSpec {
        apis,
        domain: "localhost".to_owned(),
        custom_domains: Vec::new(),
        bare_host: true,
        function_urls: Vec::new(),
    }
}

async fn body_text(response: axum::response::Response) -> String {
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

#[tokio::test]
async fn replaced_routes_serve_new_requests_while_old_ones_finish() {
    let (arrived_sender, mut arrived) = tokio::sync::mpsc::unbounded_channel();
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let calls = Calls::default();
    let invoker = Arc::new(Gated {
        calls: calls.clone(),
        arrived: arrived_sender,
        release: release.clone(),
    });
    let routes = Routes::new(one_route("v1", "Slow"));
    let app = router(gateway_state(routes.clone(), invoker));

    // A request on the old routes is in its function when the routes change.
    let in_flight = tokio::spawn(app.clone().oneshot(request("", "GET", "/items")));
    arrived
        .recv()
        .await
        .expect("the first request reaches its function");
    routes.replace(one_route("v2", "Fast"));

    // A request that starts after the swap sees the new routes at once.
    let after = app
        .clone()
        .oneshot(request("", "GET", "/items"))
        .await
        .expect("the router is infallible");
    assert_eq!(body_text(after).await, "v2/Fast");
    assert!(!in_flight.is_finished(), "the old request is still running");

    // The old request finishes on the function it started with.
    release.add_permits(1);
    let before = in_flight
        .await
        .expect("the request task")
        .expect("the router is infallible");
    assert_eq!(before.status(), 200);
    assert_eq!(body_text(before).await, "v1/Slow");
    let made = calls.lock().expect("calls").clone();
    assert_eq!(made, ["invoke v1/Slow", "invoke v2/Fast"]);
    assert_eq!(
        routes.current().spec().apis[0].routes[0].target,
        FunctionRef::new("v2", "Fast")
    );
}

#[tokio::test]
async fn urls_name_each_api_host_and_custom_domain() {
    let routes = Routes::new(spec(true));
    let urls: Vec<String> = routes
        .current()
        .urls(3000)
        .into_iter()
        .map(|url| {
            let custom = if url.custom_domain {
                " (custom domain)"
            } else {
                ""
            };
            format!(
                "{}/{} {}: {}{custom}",
                url.stack, url.logical_id, url.api_id, url.url
            )
        })
        .collect();
    expect![[r#"
        shop/ShopApi shopapi001: http://shopapi001.execute-api.localhost:3000/Prod
        shop/ShopApi shopapi001: http://api.example.com:3000 (custom domain)
        shop/ShopApi shopapi001: http://api.example.com:3000/blog/v2 (custom domain)
        shop/ShopApi shopapi001: http://shop.example.com:3000 (custom domain)
        blog/BlogApi blogapi001: http://blogapi001.execute-api.localhost:3000
        blog/BlogApi blogapi001: http://api.example.com:3000/blog (custom domain)"#]]
    .assert_eq(&urls.join("\n"));
    assert_eq!(
        routes.current().urls(80)[0].url,
        "http://shopapi001.execute-api.localhost/Prod"
    );
}
