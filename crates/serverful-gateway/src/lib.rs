//! The API Gateway emulation: HTTP requests in, API Gateway proxy events out to functions,
//! function results back to HTTP responses, with API Gateway's routing and error shapes.
//!
//! The gateway knows nothing about how functions run: it calls an [`Invoke`] implementation
//! with the event's JSON and gets the function's result JSON back. A function in HTTP mode
//! (a web server) instead gives the gateway an [`HttpTarget`], and the gateway proxies the
//! request to it, streaming both ways.
//!
//! Entry points: [`router`] serves every API of the app on one listener, the way
//! `sam local start-api` does, and [`route_lines`] lists the routes for the start-up banner.
//!
//! Architecture invariant: this crate is the only one that knows API Gateway's wire formats
//! (events, proxy responses, error bodies); it knows nothing of templates, processes or the
//! store. It never panics on client input: every failure is a response.
//!
//! Codemap:
//! - `routes`: the route table and API Gateway's route precedence;
//! - `event`: HTTP request -> payload format 1.0 / 2.0 event;
//! - `response`: function result -> HTTP response, with the 2.0 inference rules;
//! - `errors`: the error responses API Gateway shows;
//! - `proxy`: HTTP-mode functions: the request proxied to a web server, streamed both ways;
//! - `service`: the axum router that ties them together.

mod errors;
mod event;
mod proxy;
mod response;
mod routes;
mod service;

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;

/// Which API Gateway flavour an API emulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKind {
    /// `AWS::Serverless::Api`, `Api` events: a REST API.
    Rest,
    /// `AWS::Serverless::HttpApi`, `HttpApi` events: an HTTP API.
    Http,
}

/// The payload format of the event sent to the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// Format 1.0: the REST API proxy event (`httpMethod`, `multiValueHeaders`, ...).
    V1,
    /// Format 2.0: the HTTP API event (`routeKey`, `rawPath`, `cookies`, ...).
    V2,
}

/// One API with its routes, as the gateway serves it.
#[derive(Debug, Clone)]
pub struct ApiSpec {
    /// Logical id of the API resource (`ServerlessRestApi`, `ServerlessHttpApi`, or explicit).
    pub logical_id: String,
    /// The API's 10-character id, reported as `requestContext.apiId`.
    pub api_id: String,
    pub kind: ApiKind,
    /// Stage name (`Prod` for implicit REST APIs, `$default` for implicit HTTP APIs).
    pub stage_name: String,
    /// Stage variables reported in events.
    pub stage_variables: std::collections::BTreeMap<String, String>,
    /// `BinaryMediaTypes` of a REST API (`image/png`, `image/*`, `*/*`; the template's
    /// `~1` escape for `/` is accepted too). Request bodies of these types reach the function
    /// base64-encoded, and base64 response bodies are decoded for them. Ignored by HTTP APIs,
    /// which decide from the content type alone.
    pub binary_media_types: Vec<String>,
    pub routes: Vec<RouteSpec>,
}

/// One route: method + path template -> function.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// Path template such as `/hello/{user}` or `/{proxy+}`, or `$default` (HTTP APIs).
    pub path: String,
    /// Logical id of the function to invoke.
    pub function: String,
    pub payload_format: PayloadFormat,
}

/// Why an invocation produced no normal result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvokeError {
    /// The function ran and failed (handler threw, process crashed, init failed).
    /// Holds Lambda's error JSON (`errorMessage`, `errorType`, ...).
    #[error("function error")]
    FunctionError(Bytes),
    /// The function ran past its `Timeout`.
    #[error("function timed out")]
    Timeout,
    /// Concurrency limit reached and the queue is full.
    #[error("too many requests")]
    Throttled,
    /// The request or response payload is over Lambda's limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// No such function, or it cannot be started.
    #[error("{0}")]
    Unavailable(String),
}

/// Runs a function with an event and returns its result payload.
pub trait Invoke: Send + Sync + 'static {
    fn invoke(
        &self,
        function: &str,
        event: Bytes,
    ) -> BoxFuture<'static, Result<Bytes, InvokeError>>;

    /// For a function in HTTP mode: where to proxy one request, ready to take it. `None`
    /// for a function that takes events through [`Invoke::invoke`] (the default).
    fn http_target(
        &self,
        function: &str,
    ) -> BoxFuture<'static, Result<Option<HttpTarget>, InvokeError>> {
        let _ = function;
        Box::pin(async { Ok(None) })
    }
}

/// A web server ready to take one proxied request.
pub struct HttpTarget {
    /// Where the server listens.
    pub address: std::net::SocketAddr,
    /// A prefix to take off the request path (`AWS_LWA_REMOVE_BASE_PATH`), no trailing `/`.
    pub remove_base_path: Option<String>,
    /// The function's timeout: the whole exchange must finish within it, or the client
    /// gets a 504.
    pub timeout: std::time::Duration,
    /// The invocation's context as JSON (request id, deadline, function name, ...), sent
    /// to the app as `x-amzn-lambda-context`.
    pub lambda_context: Option<String>,
    /// Told how the request ended, once the response has been streamed (or failed).
    pub guard: Box<dyn ProxyGuard>,
}

impl std::fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTarget")
            .field("address", &self.address)
            .field("remove_base_path", &self.remove_base_path)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// How a proxied request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyOutcome {
    /// The server answered with this status and the whole response went out.
    Responded { status: u16 },
    /// The function's timeout passed first.
    TimedOut,
    /// The exchange with the server failed (the connection broke, the server crashed).
    Failed(String),
}

/// Held while a proxied request runs; dropping it without [`ProxyGuard::finish`] means the
/// client went away.
pub trait ProxyGuard: Send + 'static {
    /// Reports how the request ended; the gateway answers the client once this is done.
    fn finish(self: Box<Self>, outcome: ProxyOutcome) -> BoxFuture<'static, ()>;
}

/// Everything the gateway router needs.
#[derive(Clone)]
pub struct GatewayState {
    pub apis: Arc<Vec<ApiSpec>>,
    pub invoker: Arc<dyn Invoke>,
    /// `host:port` the gateway is reachable at, reported as `domainName`/`Host` defaults.
    pub domain_name: String,
    /// Account id reported in `requestContext.accountId`.
    pub account_id: String,
}

pub use routes::route_lines;
pub use service::{router, MAX_REQUEST_BODY_BYTES};
