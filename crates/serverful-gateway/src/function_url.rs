//! Lambda function URLs: each URL answers on its own host,
//! `{url_id}.lambda-url.{region}.{domain}`, with Lambda's function URL event (payload 2.0
//! with `routeKey` and `stage` `$default`), its response rules, its CORS and, for
//! `AWS_IAM` URLs, a SigV4 check (signing name `lambda`) before the function runs. A
//! `RESPONSE_STREAM` URL sends a streamed response on as the function writes it
//! (`stream_response`).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::response::Response;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

use crate::cors::{self, CorsConfig};
use crate::event::{self, RequestData, Site};
use crate::response::v2_response;
use crate::stream_response::{streamed_response, StreamFailure};
use crate::{FunctionRef, InvokeError, InvokeResponse};

/// One function URL, as the gateway serves it.
#[derive(Debug, Clone)]
pub struct FunctionUrlSpec {
    /// The stack (deployed app) the URL belongs to.
    pub stack: String,
    /// The URL's logical id (`{Function}Url` for SAM's `FunctionUrlConfig`).
    pub logical_id: String,
    /// The 32-character id its host starts with, reported as `requestContext.apiId`.
    pub url_id: String,
    /// The region in its host name.
    pub region: String,
    /// The function (and qualifier) it invokes.
    pub target: FunctionRef,
    /// The function's name, as IAM policies name it.
    pub function_name: String,
    pub auth_type: FunctionUrlAuthType,
    pub cors: Option<CorsConfig>,
    pub invoke_mode: FunctionUrlInvokeMode,
}

/// Who may call a function URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionUrlAuthType {
    /// `NONE`: anyone.
    None,
    /// `AWS_IAM`: requests signed with SigV4 for the service `lambda` by keys the AWS
    /// endpoint accepts (`GatewayState::auth`'s), allowed `lambda:InvokeFunctionUrl`.
    AwsIam,
}

/// How a function URL sends the function's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionUrlInvokeMode {
    /// `BUFFERED`: the whole response once the function returns.
    Buffered,
    /// `RESPONSE_STREAM`: the response as the function writes it, when it streams (the
    /// Runtime API's streaming response mode); a function that returns a whole response
    /// gets the buffered rules.
    ResponseStream,
}

/// Who signed a request, as `requestContext.authorizer.iam` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IamCaller {
    pub(crate) access_key: String,
    pub(crate) account_id: String,
    pub(crate) caller_id: String,
    pub(crate) user_arn: String,
    pub(crate) user_id: String,
}

/// Checks the SigV4 signature of a request to an `AWS_IAM` function URL (signing name
/// `lambda`) against the AWS endpoint's keys, and whether its signer may take
/// `lambda:InvokeFunctionUrl` on the URL's function.
fn check_iam(
    keys: Option<&serverful_aws::KeyRing>,
    data: &RequestData,
    url: &FunctionUrlSpec,
) -> Result<IamCaller, String> {
    use crate::auth::iam::{check_signature, SignatureRefusal};
    use serverful_aws::authz::{Action, Resource};
    let signer = check_signature(keys, data, "lambda").map_err(|refusal| match refusal {
        SignatureRefusal::Missing => "the request is not signed".to_owned(),
        SignatureRefusal::Invalid(reason) => reason,
    })?;
    let principal = &signer.principal;
    let resource = Resource::Function {
        name: &url.function_name,
        qualifier: url.target.qualifier.as_deref(),
    };
    principal
        .authorize(
            Action::lambda("InvokeFunctionUrl"),
            resource,
            &signer.region,
        )
        .map_err(|denied| denied.to_string())?;
    Ok(IamCaller {
        account_id: principal.account_id.clone(),
        caller_id: signer.access_key.clone(),
        user_arn: principal.arn.clone(),
        user_id: principal
            .arn
            .rsplit(['/', ':'])
            .next()
            .unwrap_or_default()
            .to_owned(),
        access_key: signer.access_key,
    })
}

const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// Lambda's own answer to a request to a function URL, not the function's.
fn lambda_error(status: StatusCode, error_type: Option<&str>, message: &str) -> Response {
    let mut response = Response::new(Body::from(json!({ "Message": message }).to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(error_type) = error_type.and_then(|value| HeaderValue::from_str(value).ok()) {
        headers.insert(ERROR_TYPE, error_type);
    }
    response
}

/// The request a URL's function gets, and the context the gateway gathered about it.
pub(crate) struct UrlRequest<'a> {
    pub(crate) site: Site<'a>,
    pub(crate) data: RequestData,
    pub(crate) caller: Option<IamCaller>,
}

/// Serves `request` on `url`: checks its signature when the URL wants one, answers CORS
/// preflights, invokes the function with the URL's event and turns its result into the
/// response.
pub(crate) async fn serve(
    url: &FunctionUrlSpec,
    invoker: &Arc<dyn crate::Invoke>,
    keys: Option<&serverful_aws::KeyRing>,
    site: Site<'_>,
    mut data: RequestData,
    request: Request,
) -> Response {
    let origin = request.headers().get(http::header::ORIGIN).cloned();
    let request_id = data.request_id.clone();
    let stamp = |mut response: Response| {
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        response
    };
    let finish = |response: Response| {
        let response = stamp(response);
        match &url.cors {
            Some(cors) => cors::decorate_with(cors, origin.as_ref(), response),
            None => response,
        }
    };
    if data.method == "OPTIONS" {
        if let Some(cors) = &url.cors {
            if let Some(answer) = cors::http_preflight(cors, request.headers(), StatusCode::OK) {
                // The preflight's own headers, not those of an ordinary response.
                return stamp(answer);
            }
        }
    }
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return finish(payload_too_large());
        }
        Err(rejection) => {
            tracing::debug!("failed to read request body: {rejection}");
            return finish(axum::response::IntoResponse::into_response(rejection));
        }
    };
    data.body = body;
    let caller = match url.auth_type {
        FunctionUrlAuthType::None => None,
        FunctionUrlAuthType::AwsIam => {
            let verified = check_iam(keys, &data, url);
            match verified {
                Ok(caller) => Some(caller),
                Err(reason) => {
                    tracing::debug!(url = %url.logical_id, "function URL request refused: {reason}");
                    return finish(lambda_error(
                        StatusCode::FORBIDDEN,
                        Some("AccessDeniedException"),
                        "Forbidden",
                    ));
                }
            }
        }
    };
    let request = UrlRequest { site, data, caller };
    let event = url_event(url, &request);
    let payload =
        Bytes::from(serde_json::to_vec(&event).expect("a serde_json::Value always serializes"));
    let buffered = |result: Bytes| {
        v2_response(&result).unwrap_or_else(|malformed| {
            tracing::error!(function = %url.target, "function URL response is malformed: {malformed}");
            internal_server_error()
        })
    };
    let response = match url.invoke_mode {
        FunctionUrlInvokeMode::Buffered => {
            match invoker.invoke_streaming(&url.target, payload).await {
                Ok(InvokeResponse::Buffered(result)) => buffered(result),
                // A function that streams behind a buffered URL: what it wrote, whole, as
                // the body of a 200 (its prelude, if any, is not read).
                Ok(InvokeResponse::Streamed(stream)) => {
                    let content_type = stream.content_type.clone();
                    match stream.collect(MAX_PAYLOAD_BYTES).await {
                        Ok(body) => collected_response(content_type, body),
                        Err(error) => invoke_error_response(&url.target, error),
                    }
                }
                Err(error) => invoke_error_response(&url.target, error),
            }
        }
        FunctionUrlInvokeMode::ResponseStream => {
            match invoker.invoke_streaming(&url.target, payload).await {
                Ok(InvokeResponse::Buffered(result)) => buffered(result),
                Ok(InvokeResponse::Streamed(stream)) => {
                    match streamed_response(&url.target, stream).await {
                        Ok(response) => response,
                        Err(StreamFailure::Invoke(error)) => {
                            invoke_error_response(&url.target, error)
                        }
                        Err(StreamFailure::Malformed(malformed)) => {
                            tracing::error!(function = %url.target, "function URL response is malformed: {malformed}");
                            internal_server_error()
                        }
                    }
                }
                Err(error) => invoke_error_response(&url.target, error),
            }
        }
    };
    finish(response)
}

/// The most a buffered URL takes from a function that streams: Lambda's synchronous limit.
const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// A streamed response collected for a buffered URL: a 200 of the stream's content type.
fn collected_response(content_type: Option<String>, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    let content_type = content_type
        .and_then(|value| HeaderValue::from_str(&value).ok())
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, content_type);
    response
}

/// Over Lambda's 6 MB limit for a synchronous invocation.
fn payload_too_large() -> Response {
    lambda_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        Some("RequestEntityTooLargeException"),
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
    )
}

/// What a client of a function URL sees when the function fails: a bare 502.
fn internal_server_error() -> Response {
    let mut response = Response::new(Body::from("Internal Server Error"));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

fn invoke_error_response(function: &FunctionRef, error: InvokeError) -> Response {
    match error {
        InvokeError::FunctionError(details) => {
            tracing::error!(%function, "function failed: {}", String::from_utf8_lossy(&details));
            internal_server_error()
        }
        InvokeError::Timeout => {
            tracing::error!(%function, "function timed out");
            internal_server_error()
        }
        InvokeError::Throttled => {
            tracing::warn!(%function, "function throttled");
            lambda_error(
                StatusCode::TOO_MANY_REQUESTS,
                Some("TooManyRequestsException"),
                "Rate Exceeded.",
            )
        }
        InvokeError::PayloadTooLarge => payload_too_large(),
        InvokeError::NoSuchFunction(name) => {
            tracing::error!(%function, "failed to invoke function: no function named {name}");
            internal_server_error()
        }
        InvokeError::Unavailable(reason) => {
            tracing::error!(%function, "failed to invoke function: {reason}");
            internal_server_error()
        }
    }
}

/// The function URL event: payload format 2.0 with `routeKey` and `stage` `$default`, the
/// URL's id as `apiId`, and the signer under `authorizer.iam` for `AWS_IAM` URLs.
pub(crate) fn url_event(url: &FunctionUrlSpec, request: &UrlRequest<'_>) -> Value {
    let data = &request.data;
    let mut cookies = Vec::new();
    let mut headers: Map<String, Value> = Map::new();
    for (name, value) in &event::forwarded_headers(request.site, data) {
        let value = event::header_text(value.as_bytes());
        if name == http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|cookie| !cookie.is_empty())
                    .map(str::to_owned),
            );
            continue;
        }
        match headers.get_mut(name.as_str()) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let mut query: Map<String, Value> = Map::new();
    for (key, value) in event::parse_query(&data.raw_query) {
        match query.get_mut(&key) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                query.insert(key, Value::String(value));
            }
        }
    }
    let domain_name = event::domain_name(request.site, data);
    let raw_path = percent_encoding::percent_decode(data.raw_path.as_bytes())
        .decode_utf8_lossy()
        .into_owned();
    let mut context = json!({
        "accountId": "anonymous",
        "apiId": url.url_id,
        "domainName": domain_name,
        "domainPrefix": event::domain_prefix(&domain_name),
        "http": {
            "method": data.method,
            "path": raw_path,
            "protocol": data.protocol,
            "sourceIp": data.source_ip,
            "userAgent": event::user_agent(data).unwrap_or_default(),
        },
        "requestId": data.request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": event::format_request_time(data.time),
        "timeEpoch": event::epoch_millis(data.time),
    });
    if let Some(caller) = &request.caller {
        context["accountId"] = json!(caller.account_id);
        context["authorizer"] = json!({
            "iam": {
                "accessKey": caller.access_key,
                "accountId": caller.account_id,
                "callerId": caller.caller_id,
                "cognitoIdentity": null,
                "principalOrgId": null,
                "userArn": caller.user_arn,
                "userId": caller.user_id,
            }
        });
    }
    let mut event = Map::new();
    event.insert("version".to_owned(), json!("2.0"));
    event.insert("routeKey".to_owned(), json!("$default"));
    event.insert("rawPath".to_owned(), json!(raw_path));
    event.insert("rawQueryString".to_owned(), json!(data.raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".to_owned(), json!(cookies));
    }
    event.insert("headers".to_owned(), Value::Object(headers));
    if !query.is_empty() {
        event.insert("queryStringParameters".to_owned(), Value::Object(query));
    }
    event.insert("requestContext".to_owned(), context);
    let (body, is_base64_encoded) = event::v2_body(data);
    if let Some(body) = body {
        event.insert("body".to_owned(), Value::String(body));
    }
    event.insert("isBase64Encoded".to_owned(), json!(is_base64_encoded));
    Value::Object(event)
}
