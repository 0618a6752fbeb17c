//! The endpoint's axum router: picks the service (`X-Amz-Target` prefix, else a REST
//! service's path), bounds the body, verifies SigV4 against the [`KeyRing`], resolves
//! who signed the request, calls the service and shapes the response as AWS does
//! (`x-amzn-RequestId` in the service's shape, `x-amz-crc32`, error JSON, CORS headers).
//! Before any of that it answers what AWS answers unsigned: browsers' CORS preflights
//! ([`crate::cors`]) and the health check ([`crate::health`]).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse as _, Response};
use axum::Router;
use bytes::Bytes;
use futures_util::FutureExt as _;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, ORIGIN};
use http::{HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use time::OffsetDateTime;

use crate::authz::{Identities, KeyRing, Principal};
use crate::credentials::Credentials;
use crate::error::AwsError;
use crate::host::HostService;
use crate::service::{JsonRequest, JsonService, RestRequest, RestService, Route, StreamingService};
use crate::sigv4::{self, AuthError, Expectations, SignedRequest, Verified};
use crate::{cors, health, request_id};

/// The JSON protocol's content type, 1.0 (DynamoDB, Streams, SQS).
pub const AMZ_JSON_1_0: &str = "application/x-amz-json-1.0";
/// The JSON protocol's content type, 1.1 (Lambda's control plane, Kinesis, ...).
pub const AMZ_JSON_1_1: &str = "application/x-amz-json-1.1";
/// The header that carries the request ID on every response.
pub const REQUEST_ID_HEADER: &str = "x-amzn-requestid";
/// The header with the CRC32 of the response body, which DynamoDB clients check.
pub const CRC32_HEADER: &str = "x-amz-crc32";
/// The header with the query protocol's error code, on JSON errors of services that moved
/// from the query protocol (SQS).
pub const QUERY_ERROR_HEADER: &str = "x-amzn-query-error";
/// The account [`AwsState::new`] names its root user in.
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";
/// The region a new [`AwsState`] serves until [`AwsState::with_region`] says otherwise.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Everything the router needs: the keys it accepts and the services it serves.
#[derive(Clone)]
pub struct AwsState {
    /// The access keys requests may be signed with, and whose they are.
    pub keys: Arc<KeyRing>,
    /// Services selected by `X-Amz-Target`.
    pub json_services: Vec<Arc<dyn JsonService>>,
    /// Services selected by method and path, tried in order.
    pub rest_services: Vec<Arc<dyn RestService>>,
    /// Services that take requests unbuffered (S3), offered each request first.
    pub streaming_services: Vec<Arc<dyn StreamingService>>,
    /// The clock signatures are checked against (tests pin it).
    pub clock: fn() -> OffsetDateTime,
    /// The region the endpoint serves, named by the health check's answer.
    pub region: String,
}

impl std::fmt::Debug for AwsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsState")
            .field(
                "json_services",
                &self
                    .json_services
                    .iter()
                    .map(|service| service.target_prefix())
                    .collect::<Vec<_>>(),
            )
            .field("rest_services", &self.rest_services.len())
            .finish_non_exhaustive()
    }
}

impl AwsState {
    /// A state that accepts only `credentials`, as the account's root user (allowed
    /// everything), with no services yet and the system clock.
    pub fn new(credentials: Credentials) -> Self {
        Self::with_keys(Arc::new(KeyRing::new(
            credentials,
            Principal::root(DEFAULT_ACCOUNT_ID),
        )))
    }

    /// A state that accepts the keys of `keys`, with no services yet and the system clock.
    pub fn with_keys(keys: Arc<KeyRing>) -> Self {
        Self {
            keys,
            json_services: Vec::new(),
            rest_services: Vec::new(),
            streaming_services: Vec::new(),
            clock: OffsetDateTime::now_utc,
            region: DEFAULT_REGION.to_owned(),
        }
    }

    /// The same state serving `region`.
    pub fn with_region(mut self, region: &str) -> Self {
        region.clone_into(&mut self.region);
        self
    }

    /// Adds a JSON-protocol service.
    pub fn with_json_service(mut self, service: Arc<dyn JsonService>) -> Self {
        self.json_services.push(service);
        self
    }

    /// Adds a service that takes requests unbuffered.
    pub fn with_streaming_service(mut self, service: Arc<dyn StreamingService>) -> Self {
        self.streaming_services.push(service);
        self
    }

    /// Adds a REST-style service.
    pub fn with_rest_service(mut self, service: Arc<dyn RestService>) -> Self {
        self.rest_services.push(service);
        self
    }
}

/// The AWS-compatible endpoint as an axum router (every path, every method).
pub fn router(state: AwsState) -> Router {
    Router::new().fallback(handle).with_state(Arc::new(state))
}

async fn handle(State(state): State<Arc<AwsState>>, request: Request) -> Response {
    let query = request.uri().query().unwrap_or("");
    let credential_service = sigv4::credential_service(request.headers(), query);
    if let Some(service) = state
        .streaming_services
        .iter()
        .find(|service| service.claims(&request, credential_service.as_deref()))
    {
        // S3 answers its own preflights and CORS headers, from each bucket's rules.
        return service.call(request).await;
    }
    let host = HostService::of(
        request.headers(),
        request
            .uri()
            .authority()
            .map(|authority| authority.as_str()),
    );
    // Preflights are never signed: they are answered before anything is verified.
    if cors::is_preflight(request.method(), request.headers())
        && preflight_is_ours(&state, &request)
    {
        return cors::preflight_response(request.headers(), &host.new_request_id());
    }
    let had_origin = request.headers().contains_key(ORIGIN);
    if health::is_health_check(&request, host) {
        let mut response = health::response(host, &state.region, &request_id::dynamodb());
        cors::add_response_headers(&mut response, had_origin, cors::EXPOSE_HEADERS);
        return response;
    }
    if request.headers().contains_key("x-amz-target") {
        let mut response = handle_json(&state, request, host).await;
        cors::add_response_headers(&mut response, had_origin, cors::EXPOSE_HEADERS);
        return response;
    }
    let route = Route {
        method: request.method(),
        path: request.uri().path(),
        credential_service: credential_service.as_deref(),
    };
    let rest_service = state
        .rest_services
        .iter()
        .find(|service| service.handles(&route))
        .cloned();
    match rest_service {
        Some(service) => {
            // An unsigned request the service serves to anyone (SNS's signing certificate
            // and the confirmation links it mails out) skips verification.
            let anonymous =
                route.credential_service.is_none() && service.serves_anonymously(&route);
            let request_id = request_id::uuid();
            let mut response = handle_rest(&state, service, request, &request_id, anonymous).await;
            cors::add_response_headers(&mut response, had_origin, cors::REST_EXPOSE_HEADERS);
            response
        }
        None => {
            let unclaimed = route.credential_service.is_none().then(|| {
                state
                    .streaming_services
                    .iter()
                    .find(|service| service.takes_unclaimed_unsigned())
            });
            match unclaimed.flatten() {
                // S3's own answer, with its own CORS.
                Some(service) => service.call(request).await,
                None => {
                    let mut response = json_error(
                        &AwsError::unknown_operation(),
                        AMZ_JSON_1_0,
                        &host.new_request_id(),
                    );
                    cors::add_response_headers(&mut response, had_origin, cors::EXPOSE_HEADERS);
                    response
                }
            }
        }
    }
}

/// Whether a preflight is for one of the services this module answers CORS for: the JSON
/// and query protocols on `/`, or a REST service's path (Lambda's) for the method the
/// preflight asks for. Any other path may be a path-style S3 bucket's, whose preflight
/// S3 answers from the bucket's rules.
fn preflight_is_ours(state: &AwsState, request: &Request) -> bool {
    let path = request.uri().path();
    if path == "/" {
        return true;
    }
    let method = cors::requested_method(request.headers()).unwrap_or(Method::OPTIONS);
    let route = Route {
        method: &method,
        path,
        credential_service: None,
    };
    state
        .rest_services
        .iter()
        .any(|service| service.handles(&route))
}

async fn handle_json(state: &AwsState, request: Request, host: HostService) -> Response {
    let content_type = response_content_type(request.headers().get(CONTENT_TYPE));
    let Some((service, operation)) =
        find_json_service(state, request.headers().get("x-amz-target"))
    else {
        return json_error(
            &AwsError::unknown_operation(),
            content_type,
            &host.new_request_id(),
        );
    };
    // The id the service sees is the one its answer carries, in the service's shape.
    let request_id = service.new_request_id();
    let request_id = request_id.as_str();
    if request.method() != Method::POST {
        return json_error(&AwsError::unknown_operation(), content_type, request_id);
    }
    let (parts, body) = request.into_parts();
    let body = match read_body(&parts.headers, body, service.max_request_bytes()).await {
        Ok(body) => body,
        Err(error) => return json_error(&error, content_type, request_id),
    };
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body: &body,
    };
    let signed_by = {
        let identities = state.keys.snapshot();
        let expectations = Expectations {
            keys: &*identities,
            service: service.signing_name(),
            required_signed_headers: &["x-amz-target"],
            now: (state.clock)(),
        };
        sigv4::verify(&signed, &expectations)
            .and_then(|verified| signer(&identities, verified, &signed))
    };
    let (verified, principal) = match signed_by {
        Ok(signed_by) => signed_by,
        Err(error) => {
            tracing::debug!(%error, target = service.target_prefix(), "rejected unauthenticated AWS request");
            return json_error(&error.to_aws_error(), content_type, request_id);
        }
    };
    let call = service.call(JsonRequest {
        operation,
        body,
        region: verified.region,
        access_key_id: verified.access_key_id,
        principal,
        request_id: request_id.to_owned(),
    });
    match AssertUnwindSafe(call).catch_unwind().await {
        Ok(Ok(body)) => aws_json_response(StatusCode::OK, body, content_type, request_id),
        Ok(Err(error)) => json_error(&error, content_type, request_id),
        Err(_) => {
            tracing::error!(target = service.target_prefix(), "AWS service panicked");
            json_error(
                &AwsError::internal(
                    "The server encountered an internal error trying to fulfill the request.",
                ),
                content_type,
                request_id,
            )
        }
    }
}

async fn handle_rest(
    state: &AwsState,
    service: Arc<dyn RestService>,
    request: Request,
    request_id: &str,
    anonymous: bool,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match read_body(&parts.headers, body, service.max_request_bytes()).await {
        Ok(body) => body,
        Err(error) => return rest_response(service.error_response(&error), request_id),
    };
    if anonymous {
        let call = service.call(RestRequest {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or("").to_owned(),
            headers: parts.headers.clone(),
            body,
            region: String::new(),
            access_key_id: String::new(),
            principal: Arc::new(Principal::anonymous()),
            request_id: request_id.to_owned(),
        });
        let response = match AssertUnwindSafe(call).catch_unwind().await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => service.error_response(&error),
            Err(_) => {
                tracing::error!(service = service.signing_name(), "AWS service panicked");
                service.error_response(&AwsError::internal(
                    "The server encountered an internal error trying to fulfill the request.",
                ))
            }
        };
        return rest_response(response, request_id);
    }
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body: &body,
    };
    let signed_by = {
        let identities = state.keys.snapshot();
        let expectations = Expectations {
            keys: &*identities,
            service: service.signing_name(),
            required_signed_headers: &[],
            now: (state.clock)(),
        };
        sigv4::verify(&signed, &expectations)
            .and_then(|verified| signer(&identities, verified, &signed))
    };
    let (verified, principal) = match signed_by {
        Ok(signed_by) => signed_by,
        Err(error) => {
            tracing::debug!(%error, service = service.signing_name(), "rejected unauthenticated AWS request");
            return rest_response(service.error_response(&error.to_aws_error()), request_id);
        }
    };
    let call = service.call_streaming(RestRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers.clone(),
        body,
        region: verified.region,
        access_key_id: verified.access_key_id,
        principal,
        request_id: request_id.to_owned(),
    });
    let response = match AssertUnwindSafe(call).catch_unwind().await {
        Ok(Ok(response)) => return streamed_rest_response(response, request_id),
        Ok(Err(error)) => service.error_response(&error),
        Err(_) => {
            tracing::error!(service = service.signing_name(), "AWS service panicked");
            service.error_response(&AwsError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                crate::error::CORAL_SERVICE_NAMESPACE,
                "ServiceException",
                "The server encountered an internal error trying to fulfill the request.",
            ))
        }
    };
    rest_response(response, request_id)
}

/// Who signed a verified request: the principal of its access key, in the snapshot its
/// secret came from. Temporary keys without their session token are refused as AWS
/// refuses them, as unrecognized.
fn signer(
    identities: &Identities,
    verified: Verified,
    signed: &SignedRequest<'_>,
) -> Result<(Verified, Arc<Principal>), AuthError> {
    let principal = identities
        .get(&verified.access_key_id)
        .filter(|identity| identity.accepts_token(signed.headers, signed.query))
        .map(|identity| identity.principal.clone())
        .ok_or(AuthError::UnrecognizedClient)?;
    Ok((verified, principal))
}

/// The service named by `X-Amz-Target: Prefix.Operation`, and the operation.
fn find_json_service(
    state: &AwsState,
    target: Option<&HeaderValue>,
) -> Option<(Arc<dyn JsonService>, String)> {
    let target = target?.to_str().ok()?;
    let (prefix, operation) = target.split_once('.')?;
    if operation.is_empty() {
        return None;
    }
    let service = state
        .json_services
        .iter()
        .find(|service| service.target_prefix() == prefix)?;
    Some((Arc::clone(service), operation.to_owned()))
}

/// Answers in JSON 1.1 to a 1.1 request, else in 1.0.
fn response_content_type(request_type: Option<&HeaderValue>) -> &'static str {
    match request_type.and_then(|value| value.to_str().ok()) {
        Some(value) if value.trim().starts_with(AMZ_JSON_1_1) => AMZ_JSON_1_1,
        _ => AMZ_JSON_1_0,
    }
}

/// Reads the whole body, refusing more than `limit` bytes with a 413.
async fn read_body(headers: &http::HeaderMap, body: Body, limit: usize) -> Result<Bytes, AwsError> {
    let too_large = || {
        AwsError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            crate::error::CORAL_SERVICE_NAMESPACE,
            "RequestEntityTooLargeException",
            format!("Request must be smaller than {limit} bytes"),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(error) => {
            tracing::debug!(%error, "failed to read AWS request body");
            Err(AwsError::serialization(None))
        }
    }
}

fn json_error(error: &AwsError, content_type: &'static str, request_id: &str) -> Response {
    let mut response =
        aws_json_response(error.status, error.to_json_body(), content_type, request_id);
    if let Some(value) = error
        .query_error_header()
        .and_then(|value| HeaderValue::from_str(&value).ok())
    {
        response.headers_mut().insert(QUERY_ERROR_HEADER, value);
    }
    response
}

fn aws_json_response(
    status: StatusCode,
    body: Bytes,
    content_type: &'static str,
    request_id: &str,
) -> Response {
    let crc = crc32fast::hash(&body);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CRC32_HEADER, HeaderValue::from(crc));
    insert_request_id(headers, request_id);
    response
}

fn streamed_rest_response(mut response: Response, request_id: &str) -> Response {
    insert_request_id(response.headers_mut(), request_id);
    response
}

fn rest_response(response: http::Response<Bytes>, request_id: &str) -> Response {
    let mut response = response.map(Body::from);
    insert_request_id(response.headers_mut(), request_id);
    response
}

fn insert_request_id(headers: &mut http::HeaderMap, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
}
