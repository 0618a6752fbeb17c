//! HTTP-mode functions: the client's request proxied to the function's web server and the
//! answer proxied back, both streamed (nothing is buffered whole), over keep-alive
//! connections pooled per server.
//!
//! What changes on the way, as behind the Lambda Web Adapter: the path loses the REST
//! API's stage prefix (when the route matched without it) and `AWS_LWA_REMOVE_BASE_PATH`;
//! hop-by-hop headers are dropped; `x-forwarded-for`, `x-forwarded-proto`,
//! `x-forwarded-port`, `x-amzn-request-context` (the event's `requestContext` as JSON) and
//! `x-amzn-lambda-context` (the invocation's context as JSON) are added. The function's timeout bounds the whole exchange.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::errors::GatewayError;
use crate::service::MAX_REQUEST_BODY_BYTES;
use crate::{HttpTarget, ProxyGuard, ProxyOutcome};

/// The client every proxied request goes through; it keeps idle connections to each web
/// server for reuse.
pub(crate) type ProxyClient = Client<HttpConnector, RequestBody>;

/// How long an unused connection to a web server stays open.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) fn client() -> ProxyClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
        .build(connector)
}

/// The parts of the client's request the proxy needs besides the request itself.
pub(crate) struct Forwarding<'a> {
    /// The path the route matched: without the stage prefix, still percent-encoded.
    pub api_path: &'a str,
    pub source_ip: &'a str,
    /// `host:port` the gateway serves on, for `x-forwarded-port` when `Host` has no port.
    pub gateway_host: &'a str,
    /// The event's `requestContext` as JSON, sent as `x-amzn-request-context`.
    pub request_context: Option<String>,
}

const REQUEST_CONTEXT_HEADER: HeaderName = HeaderName::from_static("x-amzn-request-context");
const LAMBDA_CONTEXT_HEADER: HeaderName = HeaderName::from_static("x-amzn-lambda-context");

/// Headers that describe one connection, not the message, and so never cross a proxy.
/// `expect` too: the gateway has already answered `100-continue` by reading the body.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "expect",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Headers the `Connection` header names are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    // hyper frames the body itself, from the body's length.
    headers.remove(header::TRANSFER_ENCODING);
}

/// `path` without the base path, when it starts with it.
fn strip_base_path<'p>(path: &'p str, base: Option<&str>) -> &'p str {
    let Some(base) = base else {
        return path;
    };
    match path.strip_prefix(base) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

/// The request as a guard that records invocations keeps it: method, path, query and
/// headers (a header sent twice joined with commas), without the body.
fn describe_request(parts: &http::request::Parts) -> Bytes {
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(serde_json::Value::String(earlier)) => {
                earlier.push_str(", ");
                earlier.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), serde_json::Value::String(value));
            }
        }
    }
    let description = serde_json::json!({
        "httpMethod": parts.method.as_str(),
        "path": parts.uri.path(),
        "rawQueryString": parts.uri.query().unwrap_or_default(),
        "headers": headers,
    });
    Bytes::from(description.to_string())
}

/// The port of a `host[:port]`, if it has one.
fn port_of(host: &str) -> Option<u16> {
    let (_, port) = host.rsplit_once(':')?;
    // `[::1]` has colons but no port.
    if port.ends_with(']') {
        return None;
    }
    port.parse().ok()
}

/// Sends `request` to the target and returns the server's response, streaming; failures
/// are API Gateway's error responses.
pub(crate) async fn forward(
    client: &ProxyClient,
    target: HttpTarget,
    request: axum::extract::Request,
    forwarding: Forwarding<'_>,
) -> Response {
    let HttpTarget {
        address,
        remove_base_path,
        timeout,
        lambda_context,
        mut guard,
    } = target;
    let deadline = tokio::time::Instant::now() + timeout;
    let (mut parts, body) = request.into_parts();
    if guard.wants_request() {
        guard.request(describe_request(&parts));
    }

    let path = strip_base_path(forwarding.api_path, remove_base_path.as_deref());
    let uri = match parts.uri.query() {
        Some(query) => format!("http://{address}{path}?{query}"),
        None => format!("http://{address}{path}"),
    };
    let uri = match uri.parse::<http::Uri>() {
        Ok(uri) => uri,
        Err(error) => {
            guard
                .finish(ProxyOutcome::Failed(format!("bad request target: {error}")))
                .await;
            return GatewayError::InternalServerError.into_response();
        }
    };
    parts.uri = uri;
    parts.version = http::Version::HTTP_11;

    let headers = &mut parts.headers;
    remove_hop_by_hop(headers);
    let forwarded_for = match headers
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok())
    {
        Some(earlier) => format!("{earlier}, {}", forwarding.source_ip),
        None => forwarding.source_ip.to_owned(),
    };
    let port = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(port_of)
        .or_else(|| port_of(forwarding.gateway_host))
        .unwrap_or(80);
    if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
        headers.insert("x-forwarded-for", value);
    }
    headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    headers.insert("x-forwarded-port", HeaderValue::from(port));
    // Only the gateway sets the context headers; a client's own are dropped.
    headers.remove(REQUEST_CONTEXT_HEADER);
    headers.remove(LAMBDA_CONTEXT_HEADER);
    for (name, value) in [
        (REQUEST_CONTEXT_HEADER, forwarding.request_context),
        (LAMBDA_CONTEXT_HEADER, lambda_context),
    ] {
        if let Some(value) = value.and_then(|value| HeaderValue::from_str(&value).ok()) {
            headers.insert(name, value);
        }
    }

    let over_limit = Arc::new(AtomicBool::new(false));
    let body = RequestBody {
        inner: body,
        seen_bytes: 0,
        over_limit: over_limit.clone(),
    };
    let outgoing = http::Request::from_parts(parts, body);

    let answer = tokio::time::timeout_at(deadline, client.request(outgoing)).await;
    let response = match answer {
        Err(_elapsed) => {
            guard.finish(ProxyOutcome::TimedOut).await;
            return GatewayError::Timeout.into_response();
        }
        Ok(Err(_)) if over_limit.load(Ordering::SeqCst) => {
            guard
                .finish(ProxyOutcome::Failed(
                    "the request body is over the gateway's limit".to_owned(),
                ))
                .await;
            return GatewayError::RequestTooLarge.into_response();
        }
        Ok(Err(error)) => {
            let reason = describe_error(&error);
            guard.finish(ProxyOutcome::Failed(reason.clone())).await;
            tracing::error!("failed to proxy the request to {address}: {reason}");
            return GatewayError::InternalServerError.into_response();
        }
        Ok(Ok(response)) => response,
    };
    let (mut parts, body) = response.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    let body = ResponseBody {
        inner: body,
        deadline: Box::pin(tokio::time::sleep_until(deadline)),
        guard: Some(guard),
        status: parts.status.as_u16(),
    };
    Response::from_parts(parts, Body::new(body))
}

/// An error with its causes, `a: b: c`.
fn describe_error(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The client's request body on its way to the server, cut off past the gateway's limit.
pub(crate) struct RequestBody {
    inner: Body,
    seen_bytes: usize,
    over_limit: Arc<AtomicBool>,
}

impl HttpBody for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen_bytes += data.len();
                    if this.seen_bytes > MAX_REQUEST_BODY_BYTES {
                        this.over_limit.store(true, Ordering::SeqCst);
                        return Poll::Ready(Some(Err(
                            "request body over the gateway's limit".into()
                        )));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The server's response body on its way to the client. Ends the request (tells the
/// guard) when the body ends, fails, or runs past the function's timeout.
struct ResponseBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    guard: Option<Box<dyn ProxyGuard>>,
    status: u16,
}

impl ResponseBody {
    fn end(&mut self, outcome: ProxyOutcome) {
        if let Some(guard) = self.guard.take() {
            // Polling cannot wait; the guard's work (log lines) runs on its own.
            tokio::spawn(guard.finish(outcome));
        }
    }
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(Some(Err(error))) => {
                let reason = describe_error(&error);
                tracing::error!("the function's response broke off: {reason}");
                this.end(ProxyOutcome::Failed(reason));
                Poll::Ready(Some(Err(error.into())))
            }
            Poll::Ready(None) => {
                let status = this.status;
                this.end(ProxyOutcome::Responded { status });
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    tracing::error!("function timed out while sending its response");
                    this.end(ProxyOutcome::TimedOut);
                    return Poll::Ready(Some(Err("the function timed out".into())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // The server stops polling once a body says it has ended, and a client may go
        // away mid-body; either way the request is over.
        if self.guard.is_some() && tokio::runtime::Handle::try_current().is_ok() {
            let status = self.status;
            self.end(ProxyOutcome::Responded { status });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_come_off_whole_segments() {
        assert_eq!(strip_base_path("/api/users", Some("/api")), "/users");
        assert_eq!(strip_base_path("/api", Some("/api")), "/");
        assert_eq!(strip_base_path("/apiary", Some("/api")), "/apiary");
        assert_eq!(strip_base_path("/users", Some("/api")), "/users");
        assert_eq!(strip_base_path("/users", None), "/users");
    }

    #[test]
    fn ports_of_hosts() {
        assert_eq!(port_of("127.0.0.1:3000"), Some(3000));
        assert_eq!(port_of("example.com"), None);
        assert_eq!(port_of("[::1]"), None);
        assert_eq!(port_of("[::1]:8080"), Some(8080));
    }

    #[test]
    fn hop_by_hop_headers_stay_behind() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-private"),
        );
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert("x-kept", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut headers);
        let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["x-kept"]);
    }
}
