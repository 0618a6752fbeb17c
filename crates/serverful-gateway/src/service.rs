//! The axum router: every API's routes behind one fallback handler that routes the request,
//! builds the event, invokes the function and turns its result (or failure) into a response.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use http::{HeaderName, HeaderValue, StatusCode};
use time::OffsetDateTime;

use crate::api_keys;
use crate::auth::{self, AuthRequest, Grant};
use crate::cors;
use crate::errors::GatewayError;
use crate::event::{build_event, v2_payload, RequestData, Site};
use crate::function_url;
use crate::proxy;
use crate::response::{v1_response, v2_response, V1Context};
use crate::route_set::Routed;
use crate::{
    ApiKind, FunctionMode, FunctionRef, GatewayState, InvokeError, PayloadFormat, RouteAuth,
};

/// API Gateway's payload limit for a request: 10 MB. Larger bodies get a 413 and never reach
/// a function.
pub const MAX_REQUEST_BODY_BYTES: usize = 10 * 1024 * 1024;

const REST_REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-amzn-requestid");
const REST_EXTENDED_ID_HEADER: HeaderName = HeaderName::from_static("x-amz-apigw-id");
const HTTP_REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("apigw-requestid");

struct Shared {
    state: GatewayState,
    /// Connections to HTTP-mode functions' web servers.
    client: proxy::ProxyClient,
    /// Authorizers' caches (issuers' keys, Lambda authorizers' answers).
    authorizers: auth::Authorizers,
    /// Usage plans' throttles.
    buckets: api_keys::Buckets,
}

/// The gateway as an axum router serving every API in `state` on one listener, routed by
/// the host each request came on; `state.routes` can be replaced while it serves.
///
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so events report the
/// client's address as `sourceIp`; without it they report `127.0.0.1`.
pub fn router(state: GatewayState) -> Router {
    let shared = Arc::new(Shared {
        state,
        client: proxy::client(),
        authorizers: auth::Authorizers::new(),
        buckets: api_keys::Buckets::default(),
    });
    Router::new()
        .fallback(handle)
        .with_state(shared)
        // The `Bytes` extractor in `handle` honours this limit and rejects with 413.
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES))
}

/// The request ids of one request, in the shapes each API flavour uses.
struct RequestIds {
    /// A UUID: REST APIs' `requestId` and `x-amzn-RequestId`.
    uuid: String,
    /// A short base64 id: REST APIs' `extendedRequestId`, HTTP APIs' `requestId`.
    short: String,
}

impl RequestIds {
    fn new() -> RequestIds {
        let uuid = uuid::Uuid::new_v4();
        let short_bytes = &uuid::Uuid::new_v4().into_bytes()[..11];
        RequestIds {
            uuid: uuid.to_string(),
            short: base64::engine::general_purpose::STANDARD.encode(short_bytes),
        }
    }

    fn request_id(&self, kind: ApiKind) -> &str {
        match kind {
            ApiKind::Rest => &self.uuid,
            ApiKind::Http => &self.short,
        }
    }

    /// Adds the id headers API Gateway sends with every response.
    fn stamp(&self, kind: ApiKind, mut response: Response) -> Response {
        let headers = response.headers_mut();
        let mut insert = |name: HeaderName, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        match kind {
            ApiKind::Rest => {
                insert(REST_REQUEST_ID_HEADER, &self.uuid);
                insert(REST_EXTENDED_ID_HEADER, &self.short);
            }
            ApiKind::Http => insert(HTTP_REQUEST_ID_HEADER, &self.short),
        }
        response
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let ids = RequestIds::new();
    let time = OffsetDateTime::now_utc();
    // The routes as they are now: this request keeps them to its end, whatever is swapped in.
    let routes = shared.state.routes.current();
    let method = request.method().as_str().to_owned();
    let raw_path = request.uri().path().to_owned();
    let host = request_host(&request);

    if !shared.state.hosts.is_empty() {
        let name = host
            .as_deref()
            .map(|host| host.rsplit_once(':').map_or(host, |(name, _)| name))
            .unwrap_or_default()
            .to_ascii_lowercase();
        if let Some(service) = shared
            .state
            .hosts
            .iter()
            .find(|service| service.claims(&name))
        {
            return service.serve(&name, request).await;
        }
    }

    if let Some(url) = routes.function_url(host.as_deref()) {
        let data = RequestData {
            method,
            raw_path,
            raw_query: request.uri().query().unwrap_or_default().to_owned(),
            headers: request.headers().clone(),
            body: Bytes::new(),
            protocol: format!("{:?}", request.version()),
            source_ip: source_ip(&request),
            request_id: ids.uuid.clone(),
            extended_request_id: ids.short.clone(),
            time,
        };
        let site = Site {
            default_domain_name: &shared.state.domain_name,
            account_id: &shared.state.account_id,
        };
        return function_url::serve(
            url,
            &shared.state.invoker,
            shared.state.auth.keys.as_deref(),
            site,
            data,
            request,
        )
        .await;
    }

    if let Some(websockets) = &shared.state.websockets {
        let is_upgrade = request
            .headers()
            .get(http::header::UPGRADE)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"));
        if let Some(selected) = websockets.select(host.as_deref(), &raw_path, is_upgrade) {
            let source_ip = source_ip(&request);
            return serverful_websocket::serve(websockets, selected, request, source_ip).await;
        }
    }
    let routed = routes.route(host.as_deref(), &method, &raw_path);
    if method == "OPTIONS" {
        let explicit_options = matches!(&routed, Routed::Found(found)
            if routes.api(found.api_idx).routes[found.route_idx].method == "OPTIONS");
        if let Some((kind, answer)) = cors::preflight(
            &routes,
            host.as_deref(),
            &raw_path,
            request.headers(),
            explicit_options,
        ) {
            return ids.stamp(kind, answer);
        }
    }
    let found = match routed {
        Routed::Found(found) => found,
        Routed::NotFound(kind) => return ids.stamp(kind, GatewayError::NotFound.into_response()),
    };
    let api = routes.api(found.api_idx);
    let route = &api.routes[found.route_idx];
    let origin = request.headers().get(http::header::ORIGIN).cloned();
    // Every answer from here on is the API's: stamped with its ids, with its CORS headers,
    // and marked with its route.
    let matched = crate::MatchedRoute::new(routes.clone(), found.api_idx, found.route_idx);
    let finish = |response: Response| {
        let mut response = cors::decorate(api, origin.as_ref(), ids.stamp(api.kind, response));
        response.extensions_mut().insert(matched.clone());
        response
    };
    if let Some(mock) = &route.mock {
        return finish(mock.response());
    }

    let raw_query = request.uri().query().unwrap_or_default().to_owned();
    let headers = request.headers().clone();
    let protocol = format!("{:?}", request.version());
    let source_ip = source_ip(&request);

    let declared_length = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > MAX_REQUEST_BODY_BYTES as u64) {
        discard_body(request).await;
        return finish(GatewayError::RequestTooLarge.into_response());
    }
    if let Some(checks) = &route.validation {
        if let Some(answer) =
            checks.check_parameters(request.uri().query().unwrap_or_default(), &headers)
        {
            return finish(answer);
        }
    }
    let site = Site {
        default_domain_name: &shared.state.domain_name,
        account_id: &shared.state.account_id,
    };

    // The route's authorizer decides before the function runs. `AWS_IAM` signatures cover
    // the body, so those routes read it first (and hand it on).
    let (request, grant) = if route.auth == RouteAuth::None {
        (request, Grant::Open)
    } else {
        let (request, signed_body) = if route.auth == RouteAuth::AwsIam {
            let (parts, body) = request.into_parts();
            match axum::body::to_bytes(body, MAX_REQUEST_BODY_BYTES).await {
                Ok(bytes) => (
                    Request::from_parts(parts, axum::body::Body::from(bytes.clone())),
                    bytes,
                ),
                Err(_) => return finish(GatewayError::RequestTooLarge.into_response()),
            }
        } else {
            (request, Bytes::new())
        };
        let auth_data = RequestData {
            method: method.clone(),
            raw_path: raw_path.clone(),
            raw_query: raw_query.clone(),
            headers: headers.clone(),
            body: signed_body,
            protocol: protocol.clone(),
            source_ip: source_ip.clone(),
            request_id: ids.request_id(api.kind).to_owned(),
            extended_request_id: ids.short.clone(),
            time,
        };
        let auth_request = AuthRequest {
            state: &shared.state,
            site,
            api,
            route,
            found: &found,
            data: &auth_data,
        };
        match auth::authorize(&shared.authorizers, &auth_request).await {
            Ok(grant) => (request, grant),
            Err(refusal) => return finish(refusal),
        }
    };

    // The API key is checked after the authorizer, which may be where it comes from.
    let key_use = if route.api_key_required && api.kind == ApiKind::Rest {
        let route_key = format!("{}/{}", route.path, route.method);
        match api_keys::admit(
            &shared.buckets,
            &api.api_keys,
            &route_key,
            &headers,
            grant.usage_identifier_key(),
        ) {
            Ok(key_use) => Some(key_use),
            Err(refusal) => return finish(refusal.into_response()),
        }
    } else {
        None
    };

    if route.mode == FunctionMode::Http {
        // An HTTP-mode function gets the request itself, streamed, instead of an event.
        let target = match shared.state.invoker.http_target(&route.target).await {
            Ok(target) => target,
            Err(error) => {
                return finish(invoke_error_response(&route.target, error));
            }
        };
        // The request context the event would carry reaches the app as a header, as
        // behind the Lambda Web Adapter (`x-amzn-request-context`).
        let context_data = RequestData {
            method,
            raw_path,
            raw_query,
            headers,
            body: Bytes::new(),
            protocol,
            source_ip,
            request_id: ids.request_id(api.kind).to_owned(),
            extended_request_id: ids.short.clone(),
            time,
        };
        let mut event = build_event(site, api, route, &found, &context_data);
        grant.apply(api, route, &mut event);
        if let Some(key_use) = &key_use {
            key_use.apply(&mut event);
        }
        let request_context = event.get("requestContext").map(|value| value.to_string());
        // The server sees the path its event would report: on a custom domain with the base
        // path (`AWS_LWA_REMOVE_BASE_PATH` takes it off), else without the stage.
        let path = if found.via_custom_domain {
            &context_data.raw_path
        } else {
            &found.api_path
        };
        let forwarding = proxy::Forwarding {
            api_path: path,
            source_ip: &context_data.source_ip,
            gateway_host: &shared.state.domain_name,
            request_context,
        };
        let response = proxy::forward(&shared.client, target, request, forwarding).await;
        return finish(response);
    }

    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return finish(GatewayError::RequestTooLarge.into_response());
        }
        Err(rejection) => {
            // The client went away or sent a broken body; there is nobody to answer properly.
            tracing::debug!("failed to read request body: {rejection}");
            return finish(rejection.into_response());
        }
    };

    if let Some(checks) = &route.validation {
        if let Some(answer) = checks.check_body(&body) {
            return finish(answer);
        }
    }
    let request_data = RequestData {
        method,
        raw_path,
        raw_query,
        headers,
        body,
        protocol,
        source_ip,
        request_id: ids.request_id(api.kind).to_owned(),
        extended_request_id: ids.short.clone(),
        time,
    };
    let is_v2 = api.kind == ApiKind::Http && route.payload_format == PayloadFormat::V2;
    let payload = if is_v2 && matches!(grant, Grant::Open) && key_use.is_none() {
        // Nothing to add to the event once built: it is written straight as bytes.
        Bytes::from(v2_payload(site, api, route, &found, &request_data))
    } else {
        let mut event = build_event(site, api, route, &found, &request_data);
        grant.apply(api, route, &mut event);
        if let Some(key_use) = &key_use {
            key_use.apply(&mut event);
        }
        Bytes::from(serde_json::to_vec(&event).expect("a serde_json::Value always serializes"))
    };

    let result = shared.state.invoker.invoke(&route.target, payload).await;
    let response = match result {
        Ok(result) => {
            let converted =
                if api.kind == ApiKind::Http && route.payload_format == PayloadFormat::V2 {
                    v2_response(&result)
                } else {
                    let accept = request_data
                        .headers
                        .get(http::header::ACCEPT)
                        .and_then(|v| v.to_str().ok());
                    let context = V1Context {
                        is_rest: api.kind == ApiKind::Rest,
                        binary_media_types: &api.binary_media_types,
                        accept,
                    };
                    v1_response(&result, context)
                };
            converted.unwrap_or_else(|malformed| {
                tracing::error!(function = %route.target, "Execution failed due to configuration error: {malformed}");
                GatewayError::InternalServerError.into_response()
            })
        }
        Err(error) => invoke_error_response(&route.target, error),
    };
    finish(response)
}

/// The client's address, or `127.0.0.1` when the router is served without connect info.
fn source_ip(request: &Request) -> String {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(
            || "127.0.0.1".to_owned(),
            |ConnectInfo(address)| address.ip().to_string(),
        )
}

/// The host the client addressed: the `Host` header, or the authority of an absolute-form
/// request target.
fn request_host(request: &Request) -> Option<String> {
    match request.headers().get(http::header::HOST) {
        Some(host) => host.to_str().ok().map(str::to_owned),
        None => request
            .uri()
            .authority()
            .map(|authority| authority.to_string()),
    }
}

/// Most clients send the whole body before they read the answer; one that is cut off
/// mid-body sees a broken connection instead of the 413. So a too-large body is read and
/// thrown away first, within bounds.
async fn discard_body(request: Request) {
    use http_body_util::BodyExt as _;
    let mut body = request.into_body();
    let mut discarded = 0_usize;
    let drain = async {
        while let Some(Ok(frame)) = body.frame().await {
            discarded += frame.data_ref().map_or(0, |data| data.len());
            if discarded > MAX_DISCARDED_BODY_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DISCARD_TIMEOUT, drain).await;
}

/// How much of a too-large body the gateway reads before answering 413 anyway.
const MAX_DISCARDED_BODY_BYTES: usize = 4 * MAX_REQUEST_BODY_BYTES;

/// How long the gateway reads a too-large body before answering 413 anyway.
const DISCARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn invoke_error_response(function: &FunctionRef, error: InvokeError) -> Response {
    let gateway_error = match error {
        InvokeError::FunctionError(details) => {
            tracing::error!(
                %function,
                "function failed: {}",
                String::from_utf8_lossy(&details)
            );
            GatewayError::InternalServerError
        }
        InvokeError::Timeout => {
            tracing::error!(%function, "function timed out");
            GatewayError::Timeout
        }
        InvokeError::Throttled => {
            tracing::warn!(%function, "function throttled");
            GatewayError::Throttled
        }
        InvokeError::PayloadTooLarge => {
            tracing::error!(%function, "invocation payload over Lambda's limit");
            GatewayError::PayloadTooLarge
        }
        InvokeError::NoSuchFunction(name) => {
            tracing::error!(%function, "failed to invoke function: no function named {name}");
            GatewayError::InternalServerError
        }
        InvokeError::Unavailable(reason) => {
            tracing::error!(%function, "failed to invoke function: {reason}");
            GatewayError::InternalServerError
        }
    };
    gateway_error.into_response()
}
