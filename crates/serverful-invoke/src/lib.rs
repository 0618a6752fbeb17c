//! The vocabulary every caller of functions shares: how a function of a stack is named
//! ([`FunctionRef`]), how it takes requests ([`FunctionMode`]), the one call that runs it
//! ([`Invoke`]), what a function answers when it streams ([`InvokeResponse`]) and the ways
//! that call fails ([`InvokeError`]).
//!
//! The gateway and the Lambda API call functions through it; the event sources will too.
//! Whoever runs functions (the platform, or a test's fake) implements [`Invoke`].
//!
//! Architecture invariant: no IO and no knowledge of processes, HTTP APIs or templates:
//! only names, bytes and futures, so that every caller and every implementation can depend
//! on this crate without pulling in the others.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::StreamExt as _;

/// A function of a stack, as callers name it.
///
/// Two things choose which code runs, and they are kept apart: `deploy` is the stack's own
/// version (one deploy of the whole app), `qualifier` is Lambda's version or alias of the
/// one function within it.
///
/// It also says who calls (`trigger`), for invocation records; that is not part of the
/// function's identity, so two references that differ only in it are equal.
#[derive(Clone, Debug)]
pub struct FunctionRef {
    /// The stack (one deployed app) the function belongs to.
    pub stack: Arc<str>,
    /// The function's logical id in the stack's template.
    pub function: Arc<str>,
    /// The deploy of the stack the caller found the function in (the platform's version
    /// number): a gateway route names the deploy it belongs to, so that a request that
    /// took the old routes finishes on the old deploy while the stack switches. `None` is
    /// the stack's current deploy.
    pub deploy: Option<u64>,
    /// Lambda's qualifier: `$LATEST`, a published version number (`3`) or an alias name
    /// (`live`), resolved in that deploy; `None` is `$LATEST`, as on Lambda.
    pub qualifier: Option<Arc<str>>,
    /// What calls the function through this reference, as invocation records show it:
    /// `route GET /items/{id} (api abc123)`, `schedule Nightly`, `queue jobs`, `stream
    /// Orders`, `topic alerts`, `bucket uploads`, `async`, `lambda-api`, `cli`,
    /// `websocket $default (api abc123)`, `authorizer Auth`, `replay of ID`. Set once where
    /// the caller builds the reference (a route, a mapping, a schedule), so it costs a
    /// clone of an `Arc` per call. `None`: the caller did not say.
    pub trigger: Option<Arc<str>>,
}

/// The function's identity: everything but [`FunctionRef::trigger`].
impl PartialEq for FunctionRef {
    fn eq(&self, other: &FunctionRef) -> bool {
        self.stack == other.stack
            && self.function == other.function
            && self.deploy == other.deploy
            && self.qualifier == other.qualifier
    }
}

impl Eq for FunctionRef {}

impl std::hash::Hash for FunctionRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.stack.hash(state);
        self.function.hash(state);
        self.deploy.hash(state);
        self.qualifier.hash(state);
    }
}

impl FunctionRef {
    /// The function `function` of `stack`, at the stack's current deploy, unqualified.
    pub fn new(stack: impl Into<Arc<str>>, function: impl Into<Arc<str>>) -> FunctionRef {
        FunctionRef {
            stack: stack.into(),
            function: function.into(),
            deploy: None,
            qualifier: None,
            trigger: None,
        }
    }

    /// The same function, called by `trigger` (see [`FunctionRef::trigger`]).
    pub fn with_trigger(self, trigger: impl Into<Arc<str>>) -> FunctionRef {
        FunctionRef {
            trigger: Some(trigger.into()),
            ..self
        }
    }

    /// The same function at a Lambda version number or alias (or `$LATEST`).
    pub fn with_qualifier(self, qualifier: impl Into<Arc<str>>) -> FunctionRef {
        FunctionRef {
            qualifier: Some(qualifier.into()),
            ..self
        }
    }

    /// The same function as the stack's deploy `deploy` has it.
    pub fn in_deploy(self, deploy: u64) -> FunctionRef {
        FunctionRef {
            deploy: Some(deploy),
            ..self
        }
    }
}

/// `stack/function`, or `stack/function:qualifier` (the deploy is the platform's business,
/// not the caller's, and is left out).
impl fmt::Display for FunctionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.stack, self.function)?;
        if let Some(qualifier) = &self.qualifier {
            write!(f, ":{qualifier}")?;
        }
        Ok(())
    }
}

/// How a function takes requests. Known when routes (or event sources) are set up, so that
/// a request needs one call: [`Invoke::invoke`] or [`Invoke::http_target`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionMode {
    /// Over the Lambda Runtime API: an event in, a result out.
    Events,
    /// A web server (the Lambda Web Adapter's convention) that callers proxy requests to.
    Http,
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
    /// No function by that name (stack, function or qualifier unknown); holds the name as
    /// the caller gave it.
    #[error("no function named {0}")]
    NoSuchFunction(String),
    /// The function exists but cannot run now (it cannot be started, the server is
    /// stopping); holds the reason.
    #[error("{0}")]
    Unavailable(String),
}

/// Runs functions. One call per request: [`Invoke::invoke`] for a function in
/// [`FunctionMode::Events`], [`Invoke::http_target`] for one in [`FunctionMode::Http`].
pub trait Invoke: Send + Sync + 'static {
    /// Runs the function with an event and returns its result payload.
    fn invoke(
        &self,
        function: &FunctionRef,
        event: Bytes,
    ) -> BoxFuture<'static, Result<Bytes, InvokeError>>;

    /// For an HTTP-mode function: a server ready to take one proxied request.
    fn http_target(
        &self,
        function: &FunctionRef,
    ) -> BoxFuture<'static, Result<HttpTarget, InvokeError>>;

    /// Runs the function with an event, for a caller that can pass a streamed response
    /// on as it is written (a `RESPONSE_STREAM` function URL, `InvokeWithResponseStream`):
    /// the answer comes as soon as the function starts streaming. [`Invoke::invoke`]
    /// collects a streamed response instead. The default answers
    /// [`InvokeResponse::Buffered`] with what [`Invoke::invoke`] returns, for
    /// implementations whose functions never stream.
    fn invoke_streaming(
        &self,
        function: &FunctionRef,
        event: Bytes,
    ) -> BoxFuture<'static, Result<InvokeResponse, InvokeError>> {
        let call = self.invoke(function, event);
        Box::pin(async move { call.await.map(InvokeResponse::Buffered) })
    }
}

/// What a function answered to [`Invoke::invoke_streaming`].
#[derive(Debug)]
pub enum InvokeResponse {
    /// The whole result, once the function returned.
    Buffered(Bytes),
    /// The result as the function writes it (the Runtime API's streaming response mode).
    Streamed(ResponseStream),
}

impl InvokeResponse {
    /// The whole result: a streamed one is collected, at most `limit` bytes
    /// ([`InvokeError::PayloadTooLarge`] past that), as Lambda answers a caller that does
    /// not stream.
    pub async fn into_bytes(self, limit: usize) -> Result<Bytes, InvokeError> {
        match self {
            InvokeResponse::Buffered(bytes) => Ok(bytes),
            InvokeResponse::Streamed(stream) => stream.collect(limit).await,
        }
    }
}

/// A response the function streams.
pub struct ResponseStream {
    /// The `Content-Type` the function declared for its stream, if any
    /// (`application/vnd.awslambda.http-integration-response` when it starts with an HTTP
    /// prelude).
    pub content_type: Option<String>,
    /// The chunks in the order the function wrote them. An `Err` is the last item: the
    /// function failed midway ([`InvokeError::FunctionError`] with Lambda's error JSON),
    /// ran past its timeout, or streamed more than Lambda allows.
    pub body: BoxStream<'static, Result<Bytes, InvokeError>>,
}

impl fmt::Debug for ResponseStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseStream")
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

impl ResponseStream {
    /// Every chunk in one buffer, at most `limit` bytes.
    pub async fn collect(mut self, limit: usize) -> Result<Bytes, InvokeError> {
        let mut collected = bytes::BytesMut::new();
        while let Some(chunk) = self.body.next().await {
            let chunk = chunk?;
            if collected.len() + chunk.len() > limit {
                return Err(InvokeError::PayloadTooLarge);
            }
            collected.extend_from_slice(&chunk);
        }
        Ok(collected.freeze())
    }
}

/// A web server ready to take one proxied request.
pub struct HttpTarget {
    /// Where the server listens.
    pub address: SocketAddr,
    /// A prefix to take off the request path (`AWS_LWA_REMOVE_BASE_PATH`), no trailing `/`.
    pub remove_base_path: Option<String>,
    /// The function's timeout: the whole exchange must finish within it, or the client
    /// gets a 504.
    pub timeout: Duration,
    /// The invocation's context as JSON (request id, deadline, function name, ...), sent
    /// to the app as `x-amzn-lambda-context`.
    pub lambda_context: Option<String>,
    /// Told how the request ended, once the response has been streamed (or failed).
    pub guard: Box<dyn ProxyGuard>,
}

impl fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
    /// Reports how the request ended; the caller answers its client once this is done.
    fn finish(self: Box<Self>, outcome: ProxyOutcome) -> BoxFuture<'static, ()>;

    /// Whether the guard wants the proxied request described ([`ProxyGuard::request`]):
    /// one that records invocations does. False by default, so that the caller builds
    /// nothing for it.
    fn wants_request(&self) -> bool {
        false
    }

    /// The proxied request as the caller received it, described as a JSON document
    /// (`httpMethod`, `path`, `rawQueryString`, `headers`; not the body), before it is
    /// sent.
    fn request(&mut self, _description: Bytes) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streamed(items: Vec<Result<&'static str, InvokeError>>) -> InvokeResponse {
        InvokeResponse::Streamed(ResponseStream {
            content_type: None,
            body: futures_util::stream::iter(
                items
                    .into_iter()
                    .map(|item| item.map(|text| Bytes::from_static(text.as_bytes()))),
            )
            .boxed(),
        })
    }

    #[test]
    fn a_streamed_response_is_collected_within_the_limit() {
        let collect = |response: InvokeResponse, limit| {
            futures_util::FutureExt::now_or_never(response.into_bytes(limit))
                .expect("ready streams")
        };
        let whole = collect(streamed(vec![Ok("ab"), Ok("cd")]), 4).expect("fits");
        assert_eq!(whole, Bytes::from_static(b"abcd"));
        assert!(matches!(
            collect(streamed(vec![Ok("ab"), Ok("cde")]), 4),
            Err(InvokeError::PayloadTooLarge)
        ));
        assert!(matches!(
            collect(streamed(vec![Ok("ab"), Err(InvokeError::Timeout)]), 4),
            Err(InvokeError::Timeout)
        ));
        let buffered = collect(InvokeResponse::Buffered(Bytes::from_static(b"x")), 0);
        assert_eq!(buffered.expect("buffered"), Bytes::from_static(b"x"));
    }

    #[test]
    fn display_names_stack_function_and_qualifier() {
        let current = FunctionRef::new("shop", "OrdersFunction");
        assert_eq!(current.to_string(), "shop/OrdersFunction");
        let pinned = current.clone().with_qualifier("live");
        assert_eq!(pinned.to_string(), "shop/OrdersFunction:live");
        assert_ne!(current, pinned);
        let routed = pinned.clone().in_deploy(4);
        assert_eq!(routed.to_string(), "shop/OrdersFunction:live");
        assert_ne!(routed, pinned);
    }
}
