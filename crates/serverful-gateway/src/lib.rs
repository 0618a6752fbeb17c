//! The API Gateway emulation: HTTP requests in, API Gateway proxy events out to functions,
//! function results back to HTTP responses, with API Gateway's routing and error shapes.
//!
//! The gateway knows nothing about how functions run: each route names a [`FunctionRef`]
//! and its [`FunctionMode`], and a request makes one call to an [`Invoke`] implementation
//! (the vocabulary of `serverful-invoke`, re-exported here): an event's JSON in and the
//! function's result JSON out, or, for a function in HTTP mode (a web server), an
//! [`HttpTarget`] the gateway proxies the request to, streaming both ways.
//!
//! Entry points: [`router`] serves every API of every stack on one listener; [`Routes`] is
//! the swappable set of routes it serves, each API on its own host name
//! (`{api_id}.execute-api.{domain}`), on custom domains, and (under `serverful up`) on any
//! other host the way `sam local start-api` does; [`route_lines`] and [`RouteSet::urls`]
//! list routes and URLs for banners.
//!
//! Architecture invariant: this crate is the only one that knows API Gateway's wire formats
//! (events, proxy responses, error bodies); it knows nothing of templates, processes or the
//! store. It never panics on client input: every failure is a response.
//!
//! Codemap:
//! - `route_set`: which API a request's host (and base path) selects; the swappable handle;
//! - `routes`: the route table and API Gateway's route precedence;
//! - `event`: HTTP request -> payload format 1.0 / 2.0 event;
//! - `response`: function result -> HTTP response, with the 2.0 inference rules;
//! - `errors`: the error responses API Gateway shows;
//! - `cors`: an API's CORS: preflights answered, headers on responses;
//! - `auth`: authorizers (JWT, Lambda, `AWS_IAM`): who may call a route, and what the
//!   function hears of it;
//! - `mock`: REST APIs' `MOCK` integrations, answered by the gateway itself;
//! - `validation`: REST APIs' request validators (required parameters, body models);
//! - `api_keys`: REST APIs' API keys and usage plans (throttles, quotas);
//! - `function_url`: Lambda function URLs on their own hosts: event, IAM check, CORS;
//! - `matched`: which route answered, marked on the response for layers around the gateway;
//! - `proxy`: HTTP-mode functions: the request proxied to a web server, streamed both ways;
//! - `service`: the axum router that ties them together.

mod api_keys;
mod auth;
mod cors;
mod errors;
mod event;
mod function_url;
mod matched;
mod mock;
mod proxy;
mod response;
mod route_set;
mod routes;
mod service;
mod stream_response;
mod validation;

use std::sync::Arc;

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
    /// The stack (deployed app) the API belongs to.
    pub stack: String,
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
    /// CORS, as API Gateway applies the API's configuration ([`CorsConfig`]).
    pub cors: Option<CorsConfig>,
    pub routes: Vec<RouteSpec>,
    /// The API's authorizers, which routes name in [`RouteSpec::auth`].
    pub authorizers: Vec<AuthorizerSpec>,
    /// REST APIs: the keys of the usage plans of the API's stage, for routes that require
    /// one ([`RouteSpec::api_key_required`]).
    pub api_keys: ApiKeys,
}

/// One route: method + path template -> function.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// Path template such as `/hello/{user}` or `/{proxy+}`, or `$default` (HTTP APIs).
    pub path: String,
    /// The function the route calls.
    pub target: FunctionRef,
    /// How the function takes requests: the gateway sends it an event or proxies to it.
    pub mode: FunctionMode,
    pub payload_format: PayloadFormat,
    /// Who may call it.
    pub auth: RouteAuth,
    /// A REST API `MOCK` integration: the gateway answers with this and `target` is not
    /// called.
    pub mock: Option<MockAnswer>,
    /// What a REST API's request validator checks before `target` is called.
    pub validation: Option<RequestChecks>,
    /// REST APIs: callers need a key of [`ApiSpec::api_keys`], within its plan's limits.
    pub api_key_required: bool,
}

/// Everything the gateway serves, and on which host names.
#[derive(Debug, Clone)]
pub struct RoutesSpec {
    /// Every API of every stack.
    pub apis: Vec<ApiSpec>,
    /// API `X` answers on the host `{X}.execute-api.{domain}` (any port, compared without
    /// it and case-insensitively), as on AWS. `localhost` by default (`--domain`).
    pub domain: String,
    /// Host names (and base paths on them) mapped to APIs.
    pub custom_domains: Vec<CustomDomain>,
    /// `true` under `serverful up`: a request on any other host (`127.0.0.1:3000`,
    /// `localhost`) is routed over all APIs together, stage prefixes included, the way
    /// `sam local start-api` does. `false`: such a request gets a 404.
    pub bare_host: bool,
    /// Lambda function URLs, each on its host `{url_id}.lambda-url.{region}.{domain}`.
    pub function_urls: Vec<FunctionUrlSpec>,
}

/// A custom domain's mapping of a base path to an API (SAM's `Domain`,
/// `AWS::ApiGateway::BasePathMapping`, `AWS::ApiGatewayV2::ApiMapping`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomDomain {
    /// The host name, `api.example.com`.
    pub domain_name: String,
    /// The first path segments that select the API (`v1`, `orders/v2`); `None` or empty
    /// maps the whole domain. They are taken off the path before routing; the longest
    /// matching base path of a domain wins.
    pub base_path: Option<String>,
    /// The API's id ([`ApiSpec::api_id`]).
    pub api_id: String,
    /// The stage events report; `None` is the API's own stage, which a request path may
    /// then start with.
    pub stage: Option<String>,
}

/// Everything the gateway router needs.
#[derive(Clone)]
pub struct GatewayState {
    /// The routes, swappable while the gateway serves.
    pub routes: Routes,
    pub invoker: Arc<dyn Invoke>,
    /// `host:port` the gateway is reachable at, reported as `domainName`/`Host` defaults.
    pub domain_name: String,
    /// Account id reported in `requestContext.accountId`.
    pub account_id: String,
    /// WebSocket APIs: requests that reach one of their stages are handed over whole.
    pub websockets: Option<serverful_websocket::WebSockets>,
    /// What authorizers need: the region of `methodArn`s, the keys of `AWS_IAM` routes.
    pub auth: AuthSettings,
    /// Other services on the gateway's listener, chosen by host (S3's website
    /// endpoints), asked before any API.
    pub hosts: Vec<Arc<dyn HostService>>,
}

/// A service that answers the requests of some host names on the gateway's listener.
pub trait HostService: Send + Sync + 'static {
    /// Whether `host` (lower case, without its port) is one of its names.
    fn claims(&self, host: &str) -> bool;

    /// Answers a request on one of its names.
    fn serve(
        &self,
        host: &str,
        request: axum::extract::Request,
    ) -> futures_util::future::BoxFuture<'static, axum::response::Response>;
}

pub use api_keys::{
    ApiKeySource, ApiKeys, KeyGrant, MemoryQuotas, PlanLimits, Quota, QuotaPeriod, QuotaStore,
    Throttle,
};
pub use auth::{AuthSettings, AuthorizerKind, AuthorizerSpec, JwtConfig, LambdaConfig, RouteAuth};
pub use cors::CorsConfig;
pub use function_url::{FunctionUrlAuthType, FunctionUrlInvokeMode, FunctionUrlSpec};
pub use matched::MatchedRoute;
pub use mock::MockAnswer;
pub use route_set::{ApiUrl, FunctionUrlListing, RouteSet, Routes};
pub use routes::route_lines;
pub use serverful_invoke::{
    FunctionMode, FunctionRef, HttpTarget, Invoke, InvokeError, InvokeResponse, ProxyGuard,
    ProxyOutcome, ResponseStream,
};
pub use service::{router, MAX_REQUEST_BODY_BYTES};
pub use validation::RequestChecks;
