//! Fuzzes the gateway end to end without sockets: an arbitrary request (method, path,
//! query, headers, body) goes through `router()` to a fake function whose result is
//! arbitrary bytes. Every input must give an HTTP response, never a panic.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use libfuzzer_sys::fuzz_target;
use serverful_gateway::{
    router, ApiKind, ApiSpec, AuthSettings, CustomDomain, FunctionMode, FunctionRef, GatewayState,
    HttpTarget, Invoke, InvokeError, PayloadFormat, RouteAuth, RouteSpec, Routes, RoutesSpec,
};
use tower::ServiceExt as _;

/// A function that answers with whatever the fuzzer chose.
struct Canned(Bytes);

impl Invoke for Canned {
    fn invoke(&self, _function: &FunctionRef, _event: Bytes) -> BoxFuture<'static, Result<Bytes, InvokeError>> {
        let result = self.0.clone();
        Box::pin(async move { Ok(result) })
    }

    fn http_target(&self, function: &FunctionRef) -> BoxFuture<'static, Result<HttpTarget, InvokeError>> {
        let error = InvokeError::Unavailable(format!("{function} takes events"));
        Box::pin(async move { Err(error) })
    }
}

fn api(kind: ApiKind, format: PayloadFormat, prefix: &str) -> ApiSpec {
    let route = |method: &str, path: &str| RouteSpec {
        method: method.to_string(),
        path: format!("{prefix}{path}"),
        target: FunctionRef::new("fuzz", "F"),
        mode: FunctionMode::Events,
        payload_format: format,
        auth: RouteAuth::None,
        mock: None,
        validation: None,
        api_key_required: false,
    };
    ApiSpec {
        stack: "fuzz".to_string(),
        logical_id: format!("Api{prefix}").replace('/', ""),
        api_id: format!("api{prefix}").replace('/', ""),
        kind,
        stage_name: "Prod".to_string(),
        stage_variables: BTreeMap::new(),
        binary_media_types: vec!["image/*".to_string()],
        cors: None,
        routes: vec![route("GET", "/items/{id}"), route("ANY", "/{proxy+}"), route("POST", "/exact")],
        authorizers: Vec::new(),
        api_keys: Default::default(),
    }
}

fuzz_target!(|data: &[u8]| {
    // Layout: request head (method SP target \n header lines) \0 body \0 function result.
    let mut parts = data.splitn(3, |byte| *byte == 0);
    let head = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default().to_vec();
    let result = Bytes::copy_from_slice(parts.next().unwrap_or_default());

    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default();
    let (method, target) = request_line.split_once(' ').unwrap_or(("GET", request_line));
    let mut builder = http::Request::builder().method(method).uri(target);
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            builder = builder.header(name.trim(), value.trim());
        }
    }
    let Ok(request) = builder.body(axum::body::Body::from(body)) else { return };

    // Hosts from the input reach the bare host, an API's own host or a custom domain.
    let spec = RoutesSpec {
        apis: vec![api(ApiKind::Rest, PayloadFormat::V1, "/v1"), api(ApiKind::Http, PayloadFormat::V2, "/v2")],
        domain: "localhost".to_string(),
        custom_domains: vec![CustomDomain {
            domain_name: "api.example.com".to_string(),
            base_path: Some("base".to_string()),
            api_id: "apiv1".to_string(),
            stage: None,
        }],
        bare_host: true,
        function_urls: Vec::new(),
    };
    let state = GatewayState {
        routes: Routes::new(spec),
        invoker: Arc::new(Canned(result)),
        domain_name: "127.0.0.1:3000".to_string(),
        account_id: "123456789012".to_string(),
        websockets: None,
        auth: AuthSettings::default(),
        hosts: Vec::new(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let _ = runtime.block_on(router(state).oneshot(request));
});
