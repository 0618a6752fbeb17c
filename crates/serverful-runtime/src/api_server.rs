//! The Lambda Runtime API (`/2018-06-01/runtime/...`) that one instance's process talks to.
//!
//! Every instance gets its own listener, so a process can only ever see its own
//! invocations. Errors are the Runtime API's documented responses
//! (`{"errorMessage": …, "errorType": …}` with 400, 403, 404, 413 or 500), never a panic.
//!
//! A response posted with `Lambda-Runtime-Function-Response-Mode: streaming` is passed on
//! chunk by chunk as it arrives ([`Outcome::Streaming`]), never collected here; an error
//! midway comes as the trailers `Lambda-Runtime-Function-Error-Type` and
//! `Lambda-Runtime-Function-Error-Body` (the error JSON in base64).

use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http::header::{HeaderName, ALLOW, CONNECTION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Body;
use tokio::sync::{mpsc, oneshot};

use crate::logs::LogSink;
use crate::{MAX_PAYLOAD_BYTES, MAX_STREAMED_RESPONSE_BYTES};

/// One invocation waiting for the process's `/next`.
#[derive(Debug)]
pub(crate) struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    /// Epoch milliseconds.
    pub deadline_ms: u128,
    pub invoked_function_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    /// The system line that starts the invocation's log (`START RequestId: …` or
    /// `platform.start`), written as the event is handed over; `None` when the function's
    /// `SystemLogLevel` leaves it out.
    pub start_line: Option<String>,
    /// Told when the process has taken the invocation from `/next`.
    pub delivered: oneshot::Sender<()>,
    /// Where the process's answer goes.
    pub outcome: oneshot::Sender<Outcome>,
}

/// How the process answered an invocation.
#[derive(Debug)]
pub(crate) enum Outcome {
    Response(Bytes),
    /// Lambda error JSON.
    Error(Bytes),
    /// The response exceeded [`MAX_PAYLOAD_BYTES`].
    ResponseTooLarge,
    /// The process began a streamed response; its chunks follow as they arrive.
    Streaming(StreamStart),
}

/// A streamed response as it begins.
#[derive(Debug)]
pub(crate) struct StreamStart {
    /// The `Content-Type` the process declared for its stream.
    pub content_type: Option<String>,
    /// The body's chunks, in order; closed when the body ends.
    pub chunks: mpsc::Receiver<Bytes>,
    /// How the body ended, sent once the last chunk is in `chunks`.
    pub end: oneshot::Receiver<StreamEnd>,
}

/// How a streamed response ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StreamEnd {
    /// The body ended normally.
    Complete,
    /// The error trailers came: Lambda error JSON.
    Error(Bytes),
    /// The body passed the streamed response limit; what was over it was not passed on.
    TooLarge,
    /// The body broke off (the process died or dropped its connection).
    Broken,
}

/// How many chunks may wait for a slow caller before the process's writes wait too.
pub(crate) const STREAM_BUFFER: usize = 16;

/// How the process's init phase ended.
#[derive(Debug)]
pub(crate) enum InitSignal {
    /// The first `/next`: init is done.
    Ready,
    /// `/init/error`, with Lambda error JSON.
    Failed(Bytes),
}

/// The invocation the process is working on.
#[derive(Debug)]
struct InFlight {
    request_id: String,
    outcome: oneshot::Sender<Outcome>,
}

#[derive(Debug, Default)]
struct Progress {
    in_flight: Option<InFlight>,
    /// The last answered request id, to tell a repeated answer (403) from a wrong id (400).
    last_answered: Option<String>,
}

/// State shared by the handlers of one instance's API.
#[derive(Debug)]
pub(crate) struct ApiState {
    invocations: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    progress: Mutex<Progress>,
    init: Mutex<Option<oneshot::Sender<InitSignal>>>,
    /// `START` is logged here, as the event is handed over, so that it precedes every line
    /// the function prints for the invocation.
    pub(crate) sink: LogSink,
    pub(crate) function: String,
    /// The most a streamed response may carry ([`MAX_STREAMED_RESPONSE_BYTES`]).
    pub(crate) stream_limit: usize,
    /// The `Lambda-Runtime-Invoked-Function-Arn` of the first `/next`, kept so that later
    /// ones (every invocation of an instance names the same function) reuse it instead of
    /// copying and checking the ARN again.
    arn_header: OnceLock<HeaderValue>,
}

impl ApiState {
    pub fn new(
        invocations: mpsc::Receiver<Invocation>,
        init: oneshot::Sender<InitSignal>,
        sink: LogSink,
        function: String,
    ) -> Arc<ApiState> {
        Arc::new(ApiState {
            invocations: tokio::sync::Mutex::new(invocations),
            progress: Mutex::new(Progress::default()),
            init: Mutex::new(Some(init)),
            sink,
            function,
            stream_limit: MAX_STREAMED_RESPONSE_BYTES,
            arn_header: OnceLock::new(),
        })
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        // A poisoned lock only means a handler panicked mid-update; the data is still usable.
        self.progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn take_init(&self) -> Option<oneshot::Sender<InitSignal>> {
        self.init
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

/// What the Runtime API answers: every body is whole when the answer is made.
pub(crate) type ApiResponse = Response<Full<Bytes>>;

/// A path of the Runtime API, with the request id it names (as it came, percent-encoded).
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Next,
    Response(&'a str),
    Error(&'a str),
    InitError,
}

impl Route<'_> {
    /// The one method the path takes, and its `Allow` header.
    fn method(&self) -> (Method, &'static str) {
        match self {
            Route::Next => (Method::GET, "GET"),
            Route::Response(_) | Route::Error(_) | Route::InitError => (Method::POST, "POST"),
        }
    }
}

/// The route of `path`, split at its slashes; `None` for a path the Runtime API does not
/// have (a trailing slash, an empty request id or one more segment included).
fn route(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix("/2018-06-01/runtime/")?;
    if rest == "init/error" {
        return Some(Route::InitError);
    }
    let rest = rest.strip_prefix("invocation/")?;
    if rest == "next" {
        return Some(Route::Next);
    }
    let (request_id, action) = rest.split_once('/')?;
    if request_id.is_empty() {
        return None;
    }
    match action {
        "response" => Some(Route::Response(request_id)),
        "error" => Some(Route::Error(request_id)),
        _ => None,
    }
}

/// Answers one HTTP request of an instance's Runtime API. Generic over the request body so
/// that tests can send bodies of their own making; the listener sends hyper's.
pub(crate) async fn handle<B>(state: &ApiState, request: Request<B>) -> ApiResponse
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = request.into_parts();
    let Some(route) = route(parts.uri.path()) else {
        return not_found();
    };
    let (method, allow) = route.method();
    // HEAD is refused on `/next` too: answering it would hand over an invocation whose
    // event no one reads.
    if parts.method != method {
        return method_not_allowed(allow);
    }
    match route {
        Route::Next => next_invocation(state).await,
        Route::Response(request_id) => match decode_request_id(request_id) {
            Some(request_id) => invocation_response(state, &request_id, &parts.headers, body).await,
            None => invalid_request_id(),
        },
        Route::Error(request_id) => match decode_request_id(request_id) {
            Some(request_id) => invocation_error(state, &request_id, &parts.headers, body).await,
            None => invalid_request_id(),
        },
        Route::InitError => init_error(state, &parts.headers, body).await,
    }
}

/// The request id a path segment names, percent-decoded (runtime clients send ids as they
/// got them, so this borrows); `None` when it decodes to no UTF-8, which no id is.
fn decode_request_id(segment: &str) -> Option<std::borrow::Cow<'_, str>> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
}

fn with_content_type(status: StatusCode, body: Bytes) -> ApiResponse {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error_response(status: StatusCode, error_type: &str, message: &str) -> ApiResponse {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    with_content_type(status, Bytes::from(body.to_string()))
}

/// The body of every 202.
const ACCEPTED_BODY: &[u8] = br#"{"status":"OK"}"#;

fn accepted() -> ApiResponse {
    with_content_type(StatusCode::ACCEPTED, Bytes::from_static(ACCEPTED_BODY))
}

fn not_found() -> ApiResponse {
    error_response(
        StatusCode::NOT_FOUND,
        "InvalidRequest",
        "The Runtime API has no such path; see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html",
    )
}

fn method_not_allowed(allow: &'static str) -> ApiResponse {
    let mut response = error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "InvalidRequest",
        "The Runtime API does not allow this method on this path",
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

fn invalid_request_id() -> ApiResponse {
    error_response(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

fn invalid_state(from: &str, to: &str) -> ApiResponse {
    error_response(
        StatusCode::FORBIDDEN,
        "InvalidStateTransition",
        &format!(
            "State transition from {from} to {to} failed for runtime. Error: State transition is not allowed"
        ),
    )
}

fn too_large(limit: usize) -> ApiResponse {
    let mut response = error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        &format!("Exceeded maximum allowed payload size ({limit} bytes)."),
    );
    // The rest of the body is never read, so this connection cannot carry another request;
    // saying so spares the runtime a write into a closed socket.
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// What the process receives for one invocation: the event and its context.
#[derive(Debug)]
pub(crate) struct Event {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_ms: u128,
    pub invoked_function_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
}

/// Why the process got no event.
#[derive(Debug)]
pub(crate) enum NoEvent {
    /// An invocation is in flight: the process must answer it first.
    InFlight,
    /// The instance is being torn down.
    ShuttingDown,
}

/// The process asks for its next invocation (the Runtime API's `/next`, or the frame
/// channel's `n`): marks init done the first time, waits for an invocation, logs its
/// `START` and makes it the one in flight.
pub(crate) async fn next(state: &ApiState) -> Result<Event, NoEvent> {
    if let Some(init) = state.take_init() {
        // The receiver is gone only when the instance is being torn down.
        let _ = init.send(InitSignal::Ready);
    }
    if state.progress().in_flight.is_some() {
        return Err(NoEvent::InFlight);
    }
    // Only one `/next` may wait at a time; a second one queues behind the lock.
    let invocation = {
        let mut invocations = state.invocations.lock().await;
        invocations.recv().await
    };
    let Some(Invocation {
        request_id,
        payload,
        deadline_ms,
        invoked_function_arn,
        trace_id,
        client_context,
        cognito_identity,
        start_line,
        delivered,
        outcome,
    }) = invocation
    else {
        return Err(NoEvent::ShuttingDown);
    };
    if let Some(line) = &start_line {
        state.sink.emit_request(&state.function, &request_id, line);
    }
    // The invoker may have given up meanwhile (timeout); the answer will then find no one.
    let _ = delivered.send(());
    state.progress().in_flight = Some(InFlight {
        request_id: request_id.clone(),
        outcome,
    });
    Ok(Event {
        request_id,
        payload,
        deadline_ms,
        invoked_function_arn,
        trace_id,
        client_context,
        cognito_identity,
    })
}

// The header names of `/next`'s answer, made once: `HeaderName::from_static` checks and
// lower-cases its argument each time it runs outside a constant.
const REQUEST_ID: HeaderName = HeaderName::from_static("lambda-runtime-aws-request-id");
const DEADLINE_MS: HeaderName = HeaderName::from_static("lambda-runtime-deadline-ms");
const INVOKED_FUNCTION_ARN: HeaderName =
    HeaderName::from_static("lambda-runtime-invoked-function-arn");
const TRACE_ID: HeaderName = HeaderName::from_static("lambda-runtime-trace-id");
const CLIENT_CONTEXT: HeaderName = HeaderName::from_static("lambda-runtime-client-context");
const COGNITO_IDENTITY: HeaderName = HeaderName::from_static("lambda-runtime-cognito-identity");

/// A header value that takes over `value`'s buffer rather than copying it; `None` when
/// it is no valid header value.
fn owned_header_value(value: String) -> Option<HeaderValue> {
    HeaderValue::from_maybe_shared(Bytes::from(value)).ok()
}

async fn next_invocation(state: &ApiState) -> ApiResponse {
    let event = match next(state).await {
        Ok(event) => event,
        Err(NoEvent::InFlight) => return invalid_state("InvocationStart", "InvocationNext"),
        Err(NoEvent::ShuttingDown) => {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "The instance is shutting down",
            )
        }
    };
    let mut headers = HeaderMap::with_capacity(8);
    // Values are ours (uuids, numbers, ARNs) or the caller's JSON; a value that is no
    // valid header is left out rather than failing the invocation.
    let mut set = |name: HeaderName, value: Option<HeaderValue>| {
        if let Some(value) = value {
            headers.insert(name, value);
        }
    };
    set(REQUEST_ID, owned_header_value(event.request_id));
    let mut deadline = itoa::Buffer::new();
    set(
        DEADLINE_MS,
        HeaderValue::from_str(deadline.format(event.deadline_ms)).ok(),
    );
    set(
        INVOKED_FUNCTION_ARN,
        arn_header(state, &event.invoked_function_arn),
    );
    set(TRACE_ID, owned_header_value(event.trace_id));
    set(
        CLIENT_CONTEXT,
        event.client_context.and_then(owned_header_value),
    );
    set(
        COGNITO_IDENTITY,
        event.cognito_identity.and_then(owned_header_value),
    );
    set(
        CONTENT_TYPE,
        Some(HeaderValue::from_static("application/json")),
    );
    let mut response = Response::new(Full::new(event.payload));
    *response.headers_mut() = headers;
    response
}

/// The ARN's header value: the one kept from the first `/next` when `arn` is the same
/// (cloning a `HeaderValue` only counts a reference), else made from `arn`.
fn arn_header(state: &ApiState, arn: &str) -> Option<HeaderValue> {
    if let Some(kept) = state.arn_header.get() {
        if kept.as_bytes() == arn.as_bytes() {
            return Some(kept.clone());
        }
    }
    let value = HeaderValue::from_str(arn).ok()?;
    // Only the first ARN is kept; another one (there is none today) is made each time.
    let _ = state.arn_header.set(value.clone());
    Some(value)
}

/// Why an answer does not fit the invocation in flight.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IdProblem {
    /// The invocation was already answered.
    Answered,
    /// No such invocation.
    Unknown,
}

/// Whether `request_id` is the invocation in flight.
pub(crate) fn check_request_id(state: &ApiState, request_id: &str) -> Result<(), IdProblem> {
    let progress = state.progress();
    match &progress.in_flight {
        Some(in_flight) if in_flight.request_id == request_id => Ok(()),
        _ if progress.last_answered.as_deref() == Some(request_id) => Err(IdProblem::Answered),
        _ => Err(IdProblem::Unknown),
    }
}

/// The error response when `request_id` is not the invocation in flight.
fn request_id_problem(state: &ApiState, request_id: &str, to: &str) -> Option<ApiResponse> {
    match check_request_id(state, request_id) {
        Ok(()) => None,
        Err(IdProblem::Answered) => Some(invalid_state("InvocationResponse", to)),
        Err(IdProblem::Unknown) => Some(invalid_request_id()),
    }
}

/// Hands `outcome` to the invoker of `request_id`; false if another answer came first.
pub(crate) fn finish(state: &ApiState, request_id: &str, outcome: Outcome) -> bool {
    let mut progress = state.progress();
    match progress.in_flight.take() {
        Some(in_flight) if in_flight.request_id == request_id => {
            progress.last_answered = Some(in_flight.request_id);
            // The invoker is gone only if it already gave up (timeout); nothing to tell.
            let _ = in_flight.outcome.send(outcome);
            true
        }
        other => {
            progress.in_flight = other;
            false
        }
    }
}

enum BodyError {
    TooLarge,
    Unreadable,
}

async fn read_body<B>(body: B) -> Result<Bytes, BodyError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match http_body_util::Limited::new(body, MAX_PAYLOAD_BYTES)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Unreadable),
    }
}

async fn invocation_response<B>(
    state: &ApiState,
    request_id: &str,
    headers: &HeaderMap,
    body: B,
) -> ApiResponse
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if let Some(response) = request_id_problem(state, request_id, "InvocationResponse") {
        return response;
    }
    let streaming = headers
        .get("lambda-runtime-function-response-mode")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|mode| mode.trim().eq_ignore_ascii_case("streaming"));
    if streaming {
        return streamed_response(state, request_id, headers, body).await;
    }
    match read_body(body).await {
        Ok(bytes) => {
            if finish(state, request_id, Outcome::Response(bytes)) {
                accepted()
            } else {
                invalid_state("InvocationResponse", "InvocationResponse")
            }
        }
        Err(BodyError::TooLarge) => {
            finish(state, request_id, Outcome::ResponseTooLarge);
            too_large(MAX_PAYLOAD_BYTES)
        }
        Err(BodyError::Unreadable) => error_response(
            StatusCode::BAD_REQUEST,
            "TruncatedHTTPRequest",
            "The response body could not be read",
        ),
    }
}

/// Passes a streamed response on chunk by chunk, as the process writes it, then how it
/// ended. A caller that went away stops nothing: the rest is read and dropped, and the
/// function runs to its end, as on Lambda.
async fn streamed_response<B>(
    state: &ApiState,
    request_id: &str,
    headers: &HeaderMap,
    mut body: B,
) -> ApiResponse
where
    B: Body<Data = Bytes> + Unpin,
{
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let Some(mut relay) = StreamRelay::start(state, request_id, content_type) else {
        return invalid_state("InvocationResponse", "InvocationResponse");
    };
    let ending = loop {
        let frame = match body.frame().await {
            None => break StreamEnd::Complete,
            Some(Err(_)) => break StreamEnd::Broken,
            Some(Ok(frame)) => frame,
        };
        match frame.into_data() {
            Ok(data) => {
                if !relay.admit(data.len()) {
                    break StreamEnd::TooLarge;
                }
                relay.pass(data).await;
            }
            Err(frame) => {
                if let Some(error) = frame
                    .into_trailers()
                    .ok()
                    .and_then(|trailers| trailer_error(&trailers))
                {
                    break StreamEnd::Error(error);
                }
            }
        }
    };
    let over_limit = ending == StreamEnd::TooLarge;
    relay.end(ending);
    if over_limit {
        too_large(state.stream_limit)
    } else {
        accepted()
    }
}

/// The server's end of a streamed response, whichever transport carries it: passes the
/// chunks on to the invoker within the streamed response limit, then how the stream
/// ended, after its last chunk. A caller that went away stops nothing: later chunks are
/// dropped. Dropped without [`StreamRelay::end`], the stream reads as broken off.
pub(crate) struct StreamRelay {
    chunks: Option<mpsc::Sender<Bytes>>,
    end: Option<oneshot::Sender<StreamEnd>>,
    streamed: usize,
    limit: usize,
}

impl StreamRelay {
    /// Answers `request_id` with a stream of `content_type`; `None` when another answer
    /// came first.
    pub(crate) fn start(
        state: &ApiState,
        request_id: &str,
        content_type: Option<String>,
    ) -> Option<StreamRelay> {
        let (chunk_sender, chunks) = mpsc::channel(STREAM_BUFFER);
        let (end_sender, end) = oneshot::channel();
        let start = StreamStart {
            content_type,
            chunks,
            end,
        };
        finish(state, request_id, Outcome::Streaming(start)).then_some(StreamRelay {
            chunks: Some(chunk_sender),
            end: Some(end_sender),
            streamed: 0,
            limit: state.stream_limit,
        })
    }

    /// Counts `len` more bytes against the limit: false when the stream has passed it,
    /// which ends it as too large.
    pub(crate) fn admit(&mut self, len: usize) -> bool {
        self.streamed = self.streamed.saturating_add(len);
        if self.streamed > self.limit {
            self.end(StreamEnd::TooLarge);
            return false;
        }
        true
    }

    /// Passes a chunk on, waiting while the invoker's buffer is full.
    pub(crate) async fn pass(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        if let Some(sender) = &self.chunks {
            if sender.send(data).await.is_err() {
                self.chunks = None;
            }
        }
    }

    /// Ends the stream (only the first ending counts).
    pub(crate) fn end(&mut self, ending: StreamEnd) {
        // Closing the chunks first: the caller reads every chunk before the end.
        self.chunks = None;
        if let Some(end) = self.end.take() {
            // The invoker is gone only when it already gave up (timeout).
            let _ = end.send(ending);
        }
    }
}

/// Lambda error JSON from a streamed response's error trailers, if it has them: the
/// decoded `Lambda-Runtime-Function-Error-Body` when it is a JSON object, else an error of
/// the `Lambda-Runtime-Function-Error-Type` with the body as its message.
fn trailer_error(trailers: &HeaderMap) -> Option<Bytes> {
    use base64::Engine as _;
    let error_type = trailers.get("lambda-runtime-function-error-type");
    let encoded = trailers.get("lambda-runtime-function-error-body");
    if error_type.is_none() && encoded.is_none() {
        return None;
    }
    let body = encoded.and_then(|value| {
        base64::engine::general_purpose::STANDARD
            .decode(value.as_bytes().trim_ascii())
            .ok()
    });
    Some(error_payload(trailers, body.as_deref()))
}

/// Lambda error JSON from what a runtime posted: the body when it is a JSON object,
/// otherwise an error built from the `Lambda-Runtime-Function-Error-Type` header, as Lambda
/// does when the payload is missing or unreadable.
fn error_payload(headers: &HeaderMap, body: Option<&[u8]>) -> Bytes {
    let error_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|value| value.to_str().ok());
    lambda_error(error_type, body)
}

/// Lambda error JSON from an error a runtime sent: `body` when it is a JSON object,
/// otherwise an error of `error_type` (`Runtime.Unknown` when none) with the body as its
/// message.
pub(crate) fn lambda_error(error_type: Option<&str>, body: Option<&[u8]>) -> Bytes {
    if let Some(body) = body {
        if let Ok(serde_json::Value::Object(_)) = serde_json::from_slice(body) {
            return Bytes::copy_from_slice(body);
        }
    }
    let error_type = error_type
        .filter(|value| !value.is_empty())
        .unwrap_or("Runtime.Unknown");
    let message = body
        .map(|body| String::from_utf8_lossy(body).trim().to_owned())
        .unwrap_or_default();
    crate::logs::error_json(error_type, &message)
}

async fn invocation_error<B>(
    state: &ApiState,
    request_id: &str,
    headers: &HeaderMap,
    body: B,
) -> ApiResponse
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if let Some(response) = request_id_problem(state, request_id, "InvocationErrorResponse") {
        return response;
    }
    let body = read_body(body).await.ok();
    let error = error_payload(headers, body.as_deref());
    if finish(state, request_id, Outcome::Error(error)) {
        accepted()
    } else {
        invalid_state("InvocationResponse", "InvocationErrorResponse")
    }
}

async fn init_error<B>(state: &ApiState, headers: &HeaderMap, body: B) -> ApiResponse
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let body = read_body(body).await.ok();
    let error = error_payload(headers, body.as_deref());
    match state.take_init() {
        Some(init) => {
            let _ = init.send(InitSignal::Failed(error));
            accepted()
        }
        None => invalid_state("Ready", "InitError"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::body::Frame;
    use std::convert::Infallible;

    struct Harness {
        state: Arc<ApiState>,
        invocations: mpsc::Sender<Invocation>,
        init: Option<oneshot::Receiver<InitSignal>>,
    }

    fn harness() -> Harness {
        let (invocations, receiver) = mpsc::channel(1);
        let (init_sender, init) = oneshot::channel();
        Harness {
            state: ApiState::new(
                receiver,
                init_sender,
                LogSink::new(|_, _| {}),
                "F".to_owned(),
            ),
            invocations,
            init: Some(init),
        }
    }

    async fn send(state: &ApiState, method: &str, uri: &str, body: Vec<u8>) -> (u16, String) {
        let response = answer(state, method, uri, body).await;
        let status = response.status().as_u16();
        (status, body_text(response).await)
    }

    async fn answer(state: &ApiState, method: &str, uri: &str, body: Vec<u8>) -> ApiResponse {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("lambda-runtime-function-error-type", "Custom.Error")
            .body(Full::new(Bytes::from(body)))
            .expect("valid request");
        handle(state, request).await
    }

    async fn body_text(response: ApiResponse) -> String {
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a whole body")
            .to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn invocation(request_id: &str) -> (Invocation, oneshot::Receiver<Outcome>) {
        let (outcome, receiver) = oneshot::channel();
        let (delivered, _) = oneshot::channel();
        let invocation = Invocation {
            request_id: request_id.to_owned(),
            payload: Bytes::from_static(b"{\"a\":1}"),
            deadline_ms: 1_700_000_000_000,
            invoked_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:F".to_owned(),
            trace_id: "Root=1-0-0".to_owned(),
            client_context: None,
            cognito_identity: Some("{\"cognitoIdentityId\":\"x\"}".to_owned()),
            start_line: Some(crate::logs::start_line(request_id)),
            delivered,
            outcome,
        };
        (invocation, receiver)
    }

    #[tokio::test]
    async fn next_then_response() {
        let mut harness = harness();
        let (invocation, outcome) = invocation("req-1");
        harness.invocations.send(invocation).await.expect("send");
        let request = Request::get("/2018-06-01/runtime/invocation/next")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = handle(&harness.state, request).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers["lambda-runtime-aws-request-id"], "req-1");
        assert_eq!(headers["lambda-runtime-deadline-ms"], "1700000000000");
        assert_eq!(
            headers["lambda-runtime-invoked-function-arn"],
            "arn:aws:lambda:us-east-1:123456789012:function:F"
        );
        assert_eq!(
            headers["lambda-runtime-cognito-identity"],
            "{\"cognitoIdentityId\":\"x\"}"
        );
        assert!(headers.get("lambda-runtime-client-context").is_none());
        assert!(matches!(
            harness.init.take().expect("init").await,
            Ok(InitSignal::Ready)
        ));

        let wrong = send(
            &harness.state,
            "POST",
            "/2018-06-01/runtime/invocation/nope/response",
            b"1".to_vec(),
        )
        .await;
        assert_eq!(
            wrong,
            (
                400,
                r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#
                    .to_owned()
            )
        );

        let ok = send(
            &harness.state,
            "POST",
            "/2018-06-01/runtime/invocation/req-1/response",
            b"{\"ok\":true}".to_vec(),
        )
        .await;
        assert_eq!(ok, (202, r#"{"status":"OK"}"#.to_owned()));
        match outcome.await.expect("outcome") {
            Outcome::Response(body) => assert_eq!(body, Bytes::from_static(b"{\"ok\":true}")),
            other => panic!("unexpected outcome {other:?}"),
        }

        let again = send(
            &harness.state,
            "POST",
            "/2018-06-01/runtime/invocation/req-1/response",
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(again.0, 403);
        assert!(
            again.1.contains("\"errorType\":\"InvalidStateTransition\""),
            "{}",
            again.1
        );
    }

    #[tokio::test]
    async fn error_bodies_fall_back_to_the_error_type_header() {
        let harness = harness();
        let (invocation, outcome) = invocation("req-2");
        harness.invocations.send(invocation).await.expect("send");
        let (status, _) = send(
            &harness.state,
            "GET",
            "/2018-06-01/runtime/invocation/next",
            Vec::new(),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = send(
            &harness.state,
            "POST",
            "/2018-06-01/runtime/invocation/req-2/error",
            b"not json".to_vec(),
        )
        .await;
        assert_eq!(status, 202);
        match outcome.await.expect("outcome") {
            Outcome::Error(body) => assert_eq!(
                body,
                Bytes::from_static(br#"{"errorMessage":"not json","errorType":"Custom.Error"}"#)
            ),
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    #[tokio::test]
    async fn oversized_response_is_413_and_reaches_the_invoker() {
        let harness = harness();
        let (invocation, outcome) = invocation("req-3");
        harness.invocations.send(invocation).await.expect("send");
        send(
            &harness.state,
            "GET",
            "/2018-06-01/runtime/invocation/next",
            Vec::new(),
        )
        .await;
        let big = vec![b'x'; MAX_PAYLOAD_BYTES + 1];
        let response = answer(
            &harness.state,
            "POST",
            "/2018-06-01/runtime/invocation/req-3/response",
            big,
        )
        .await;
        assert_eq!(response.status(), 413);
        // The rest of the body was not read: the connection cannot carry another request.
        assert_eq!(response.headers()["connection"], "close");
        let body = body_text(response).await;
        assert!(body.contains("RequestEntityTooLarge"), "{body}");
        assert!(matches!(outcome.await, Ok(Outcome::ResponseTooLarge)));
    }

    /// The body of a streamed POST: its frames as a test lists them.
    type StreamedBody = http_body_util::StreamBody<
        futures_util::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>,
    >;

    /// A streamed POST of `chunks`, then `trailers` if any.
    fn streamed_request(
        request_id: &str,
        chunks: &[&'static str],
        trailers: Option<HeaderMap>,
    ) -> Request<StreamedBody> {
        let mut frames: Vec<Result<Frame<Bytes>, Infallible>> = chunks
            .iter()
            .map(|chunk| Ok(Frame::data(Bytes::from_static(chunk.as_bytes()))))
            .collect();
        if let Some(trailers) = trailers {
            frames.push(Ok(Frame::trailers(trailers)));
        }
        let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
        Request::post(format!(
            "/2018-06-01/runtime/invocation/{request_id}/response"
        ))
        .header("lambda-runtime-function-response-mode", "streaming")
        .header("content-type", "text/plain")
        .body(body)
        .expect("valid request")
    }

    async fn start_streaming(
        harness: &Harness,
        request: Request<StreamedBody>,
        outcome: oneshot::Receiver<Outcome>,
    ) -> (u16, Vec<Bytes>, StreamEnd, Option<String>) {
        let state = harness.state.clone();
        let response = tokio::spawn(async move { handle(&state, request).await });
        let Ok(Outcome::Streaming(mut start)) = outcome.await else {
            panic!("expected a streamed response");
        };
        let mut chunks = Vec::new();
        while let Some(chunk) = start.chunks.recv().await {
            chunks.push(chunk);
        }
        let end = start.end.await.expect("an end");
        let status = response.await.expect("handler").status().as_u16();
        (status, chunks, end, start.content_type)
    }

    #[tokio::test]
    async fn streamed_responses_pass_chunks_then_the_error_trailers() {
        use base64::Engine as _;
        let harness = harness();
        let (invocation, outcome) = invocation("req-s");
        harness.invocations.send(invocation).await.expect("send");
        send(
            &harness.state,
            "GET",
            "/2018-06-01/runtime/invocation/next",
            Vec::new(),
        )
        .await;
        let mut trailers = HeaderMap::new();
        trailers.insert(
            "lambda-runtime-function-error-type",
            HeaderValue::from_static("Error"),
        );
        let body = base64::engine::general_purpose::STANDARD
            .encode(br#"{"errorMessage":"midway","errorType":"Error"}"#);
        trailers.insert(
            "lambda-runtime-function-error-body",
            HeaderValue::from_str(&body).expect("base64 is a header value"),
        );
        let request = streamed_request("req-s", &["one", "two"], Some(trailers));
        let (status, chunks, end, content_type) = start_streaming(&harness, request, outcome).await;
        assert_eq!(status, 202);
        assert_eq!(chunks, ["one", "two"]);
        assert_eq!(
            end,
            StreamEnd::Error(Bytes::from_static(
                br#"{"errorMessage":"midway","errorType":"Error"}"#
            ))
        );
        assert_eq!(content_type.as_deref(), Some("text/plain"));
        // The invocation is answered: a second answer is refused.
        let again = send(
            &harness.state,
            "POST",
            "/2018-06-01/runtime/invocation/req-s/response",
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(again.0, 403);
    }

    #[tokio::test]
    async fn streamed_responses_end_complete_or_over_the_limit() {
        let harness = harness();
        let (first, outcome) = invocation("req-t");
        harness.invocations.send(first).await.expect("send");
        send(
            &harness.state,
            "GET",
            "/2018-06-01/runtime/invocation/next",
            Vec::new(),
        )
        .await;
        let request = streamed_request("req-t", &["a", "", "b"], None);
        let (status, chunks, end, _) = start_streaming(&harness, request, outcome).await;
        assert_eq!(
            (status, chunks, end),
            (
                202,
                vec![Bytes::from("a"), Bytes::from("b")],
                StreamEnd::Complete
            )
        );

        let (invocations, receiver) = mpsc::channel(1);
        let (init_sender, _init) = oneshot::channel();
        let state = Arc::new(ApiState {
            invocations: tokio::sync::Mutex::new(receiver),
            progress: Mutex::new(Progress::default()),
            init: Mutex::new(Some(init_sender)),
            sink: LogSink::new(|_, _| {}),
            function: "F".to_owned(),
            stream_limit: 4,
            arn_header: OnceLock::new(),
        });
        let limited = Harness {
            state,
            invocations,
            init: None,
        };
        let (second, outcome) = invocation("req-u");
        limited.invocations.send(second).await.expect("send");
        send(
            &limited.state,
            "GET",
            "/2018-06-01/runtime/invocation/next",
            Vec::new(),
        )
        .await;
        let request = streamed_request("req-u", &["abc", "de", "f"], None);
        let (status, chunks, end, _) = start_streaming(&limited, request, outcome).await;
        assert_eq!(
            (status, chunks, end),
            (413, vec![Bytes::from("abc")], StreamEnd::TooLarge)
        );
    }

    #[tokio::test]
    async fn init_error_once_then_forbidden() {
        let mut harness = harness();
        let (status, _) = send(
            &harness.state,
            "POST",
            "/2018-06-01/runtime/init/error",
            br#"{"errorMessage":"m","errorType":"Runtime.ImportModuleError"}"#.to_vec(),
        )
        .await;
        assert_eq!(status, 202);
        match harness.init.take().expect("init").await.expect("signal") {
            InitSignal::Failed(body) => assert!(body.starts_with(b"{\"errorMessage\":\"m\"")),
            InitSignal::Ready => panic!("expected an init failure"),
        }
        let (status, _) = send(
            &harness.state,
            "POST",
            "/2018-06-01/runtime/init/error",
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(status, 403);
    }

    /// Each request's answer as `METHOD URI: STATUS [allow: …] BODY`, one line each.
    async fn check(state: &ApiState, requests: &[(&str, &str)], expect: expect_test::Expect) {
        let mut answers = String::new();
        for (method, uri) in requests {
            let response = answer(state, method, uri, b"{}".to_vec()).await;
            let status = response.status().as_u16();
            let allow = response
                .headers()
                .get("allow")
                .map(|allow| format!(" [allow: {}]", allow.to_str().expect("ascii")))
                .unwrap_or_default();
            let body = body_text(response).await;
            answers.push_str(&format!("{method} {uri}: {status}{allow} {body}\n"));
        }
        expect.assert_eq(&answers);
    }

    #[tokio::test]
    async fn unknown_paths_and_methods() {
        let harness = harness();
        check(
            &harness.state,
            &[
                ("GET", "/2018-06-01/runtime/nothing"),
                ("GET", "/2018-06-01/runtime/invocation/next/"),
                ("POST", "/2018-06-01/runtime/invocation//response"),
                ("POST", "/2018-06-01/runtime/invocation/a/b/response"),
                ("POST", "/2018-06-01/runtime/invocation/a/respond"),
                ("POST", "/2018-06-01/runtime/init/error/"),
                ("GET", "/2018-06-01/runtime/init"),
                ("POST", "/2018-06-01/runtime/invocation/next"),
                // HEAD is no GET here: it would take an event no one reads.
                ("HEAD", "/2018-06-01/runtime/invocation/next"),
                ("GET", "/2018-06-01/runtime/invocation/a/response"),
                ("PUT", "/2018-06-01/runtime/invocation/a/error"),
                ("GET", "/2018-06-01/runtime/init/error"),
                ("POST", "/2018-06-01/runtime/invocation/a/response?x=1"),
                ("POST", "/2018-06-01/runtime/invocation/%FF/error"),
            ],
            expect_test::expect![[r#"
                GET /2018-06-01/runtime/nothing: 404 {"errorMessage":"The Runtime API has no such path; see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html","errorType":"InvalidRequest"}
                GET /2018-06-01/runtime/invocation/next/: 404 {"errorMessage":"The Runtime API has no such path; see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html","errorType":"InvalidRequest"}
                POST /2018-06-01/runtime/invocation//response: 404 {"errorMessage":"The Runtime API has no such path; see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html","errorType":"InvalidRequest"}
                POST /2018-06-01/runtime/invocation/a/b/response: 404 {"errorMessage":"The Runtime API has no such path; see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html","errorType":"InvalidRequest"}
                POST /2018-06-01/runtime/invocation/a/respond: 404 {"errorMessage":"The Runtime API has no such path; see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html","errorType":"InvalidRequest"}
                POST /2018-06-01/runtime/init/error/: 404 {"errorMessage":"The Runtime API has no such path; see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html","errorType":"InvalidRequest"}
                GET /2018-06-01/runtime/init: 404 {"errorMessage":"The Runtime API has no such path; see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html","errorType":"InvalidRequest"}
                POST /2018-06-01/runtime/invocation/next: 405 [allow: GET] {"errorMessage":"The Runtime API does not allow this method on this path","errorType":"InvalidRequest"}
                HEAD /2018-06-01/runtime/invocation/next: 405 [allow: GET] {"errorMessage":"The Runtime API does not allow this method on this path","errorType":"InvalidRequest"}
                GET /2018-06-01/runtime/invocation/a/response: 405 [allow: POST] {"errorMessage":"The Runtime API does not allow this method on this path","errorType":"InvalidRequest"}
                PUT /2018-06-01/runtime/invocation/a/error: 405 [allow: POST] {"errorMessage":"The Runtime API does not allow this method on this path","errorType":"InvalidRequest"}
                GET /2018-06-01/runtime/init/error: 405 [allow: POST] {"errorMessage":"The Runtime API does not allow this method on this path","errorType":"InvalidRequest"}
                POST /2018-06-01/runtime/invocation/a/response?x=1: 400 {"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}
                POST /2018-06-01/runtime/invocation/%FF/error: 400 {"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}
            "#]],
        )
        .await;
    }

    #[tokio::test]
    async fn request_ids_are_percent_decoded() {
        let harness = harness();
        let (invocation, outcome) = invocation("req 1");
        harness.invocations.send(invocation).await.expect("send");
        let (status, _) = send(
            &harness.state,
            "GET",
            "/2018-06-01/runtime/invocation/next",
            Vec::new(),
        )
        .await;
        assert_eq!(status, 200);
        let answered = send(
            &harness.state,
            "POST",
            "/2018-06-01/runtime/invocation/req%201/response",
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(answered, (202, r#"{"status":"OK"}"#.to_owned()));
        assert!(matches!(outcome.await, Ok(Outcome::Response(_))));
    }

    #[tokio::test]
    async fn next_reuses_the_arn_and_leaves_out_invalid_values() {
        let harness = harness();
        for request_id in ["req-a", "req-b"] {
            let (mut invocation, _outcome) = invocation(request_id);
            // A newline is no header value: the header is left out, the event still goes.
            invocation.client_context = Some("{\n}".to_owned());
            harness.invocations.send(invocation).await.expect("send");
            let request = Request::get("/2018-06-01/runtime/invocation/next")
                .body(Full::new(Bytes::new()))
                .expect("request");
            let response = handle(&harness.state, request).await;
            assert_eq!(response.status(), 200);
            let headers = response.headers();
            let mut names: Vec<&str> = headers.keys().map(|name| name.as_str()).collect();
            names.sort_unstable();
            assert_eq!(
                names,
                [
                    "content-type",
                    "lambda-runtime-aws-request-id",
                    "lambda-runtime-cognito-identity",
                    "lambda-runtime-deadline-ms",
                    "lambda-runtime-invoked-function-arn",
                    "lambda-runtime-trace-id",
                ]
            );
            assert_eq!(headers["lambda-runtime-aws-request-id"], request_id);
            assert_eq!(headers["lambda-runtime-deadline-ms"], "1700000000000");
            assert_eq!(
                headers["lambda-runtime-invoked-function-arn"],
                "arn:aws:lambda:us-east-1:123456789012:function:F"
            );
            assert_eq!(headers["lambda-runtime-trace-id"], "Root=1-0-0");
            assert_eq!(headers["content-type"], "application/json");
            assert_eq!(body_text(response).await, r#"{"a":1}"#);
            assert!(finish(
                &harness.state,
                request_id,
                Outcome::Response(Bytes::new())
            ));
        }
        assert!(harness.state.arn_header.get().is_some());
    }
}
