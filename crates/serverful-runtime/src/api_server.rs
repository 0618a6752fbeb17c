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

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
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

/// The router of one instance's Runtime API.
pub(crate) fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route(
            "/2018-06-01/runtime/invocation/next",
            get(next_invocation).fallback(method_not_allowed),
        )
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/response",
            post(invocation_response).fallback(method_not_allowed),
        )
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/error",
            post(invocation_error).fallback(method_not_allowed),
        )
        .route(
            "/2018-06-01/runtime/init/error",
            post(init_error).fallback(method_not_allowed),
        )
        .fallback(not_found)
        .with_state(state)
}

fn error_response(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

async fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "InvalidRequest",
        "The Runtime API has no such path; see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html",
    )
}

async fn method_not_allowed() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "InvalidRequest",
        "The Runtime API does not allow this method on this path",
    )
}

fn invalid_state(from: &str, to: &str) -> Response {
    error_response(
        StatusCode::FORBIDDEN,
        "InvalidStateTransition",
        &format!(
            "State transition from {from} to {to} failed for runtime. Error: State transition is not allowed"
        ),
    )
}

fn too_large(limit: usize) -> Response {
    let mut response = error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        &format!("Exceeded maximum allowed payload size ({limit} bytes)."),
    );
    // The rest of the body is never read, so this connection cannot carry another request;
    // saying so spares the runtime a write into a closed socket.
    response
        .headers_mut()
        .insert("connection", HeaderValue::from_static("close"));
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

async fn next_invocation(State(state): State<Arc<ApiState>>) -> Response {
    let event = match next(&state).await {
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
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        // Values are ours (uuids, numbers, ARNs) or the caller's JSON; a value that is no
        // valid header is left out rather than failing the invocation.
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", &event.request_id);
    set("lambda-runtime-deadline-ms", &event.deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        &event.invoked_function_arn,
    );
    set("lambda-runtime-trace-id", &event.trace_id);
    if let Some(client_context) = &event.client_context {
        set("lambda-runtime-client-context", client_context);
    }
    if let Some(identity) = &event.cognito_identity {
        set("lambda-runtime-cognito-identity", identity);
    }
    set("content-type", "application/json");
    (StatusCode::OK, headers, event.payload).into_response()
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
fn request_id_problem(state: &ApiState, request_id: &str, to: &str) -> Option<Response> {
    match check_request_id(state, request_id) {
        Ok(()) => None,
        Err(IdProblem::Answered) => Some(invalid_state("InvocationResponse", to)),
        Err(IdProblem::Unknown) => Some(error_response(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "Invalid request ID",
        )),
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

async fn read_body(body: Body) -> Result<Bytes, BodyError> {
    match http_body_util::Limited::new(body, MAX_PAYLOAD_BYTES)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Unreadable),
    }
}

async fn invocation_response(
    State(state): State<Arc<ApiState>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(response) = request_id_problem(&state, &request_id, "InvocationResponse") {
        return response;
    }
    let streaming = headers
        .get("lambda-runtime-function-response-mode")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|mode| mode.trim().eq_ignore_ascii_case("streaming"));
    if streaming {
        return streamed_response(&state, &request_id, &headers, body).await;
    }
    match read_body(body).await {
        Ok(bytes) => {
            if finish(&state, &request_id, Outcome::Response(bytes)) {
                accepted()
            } else {
                invalid_state("InvocationResponse", "InvocationResponse")
            }
        }
        Err(BodyError::TooLarge) => {
            finish(&state, &request_id, Outcome::ResponseTooLarge);
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
async fn streamed_response(
    state: &ApiState,
    request_id: &str,
    headers: &HeaderMap,
    mut body: Body,
) -> Response {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
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

async fn invocation_error(
    State(state): State<Arc<ApiState>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(response) = request_id_problem(&state, &request_id, "InvocationErrorResponse") {
        return response;
    }
    let body = read_body(body).await.ok();
    let error = error_payload(&headers, body.as_deref());
    if finish(&state, &request_id, Outcome::Error(error)) {
        accepted()
    } else {
        invalid_state("InvocationResponse", "InvocationErrorResponse")
    }
}

async fn init_error(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = read_body(body).await.ok();
    let error = error_payload(&headers, body.as_deref());
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
    use axum::http::Request;
    use tower::ServiceExt;

    struct Harness {
        router: Router,
        invocations: mpsc::Sender<Invocation>,
        init: Option<oneshot::Receiver<InitSignal>>,
    }

    fn harness() -> Harness {
        let (invocations, receiver) = mpsc::channel(1);
        let (init_sender, init) = oneshot::channel();
        Harness {
            router: router(ApiState::new(
                receiver,
                init_sender,
                LogSink::new(|_, _| {}),
                "F".to_owned(),
            )),
            invocations,
            init: Some(init),
        }
    }

    async fn send(router: &Router, method: &str, uri: &str, body: Vec<u8>) -> (u16, String) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("lambda-runtime-function-error-type", "Custom.Error")
            .body(Body::from(body))
            .expect("valid request");
        let response = router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible router");
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
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
            .body(Body::empty())
            .expect("request");
        let response = harness.router.clone().oneshot(request).await.expect("ok");
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
            &harness.router,
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
            &harness.router,
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
            &harness.router,
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
            &harness.router,
            "GET",
            "/2018-06-01/runtime/invocation/next",
            Vec::new(),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = send(
            &harness.router,
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
            &harness.router,
            "GET",
            "/2018-06-01/runtime/invocation/next",
            Vec::new(),
        )
        .await;
        let big = vec![b'x'; MAX_PAYLOAD_BYTES + 1];
        let (status, body) = send(
            &harness.router,
            "POST",
            "/2018-06-01/runtime/invocation/req-3/response",
            big,
        )
        .await;
        assert_eq!(status, 413);
        assert!(body.contains("RequestEntityTooLarge"), "{body}");
        assert!(matches!(outcome.await, Ok(Outcome::ResponseTooLarge)));
    }

    /// A streamed POST of `chunks`, then `trailers` if any.
    fn streamed_request(
        request_id: &str,
        chunks: &[&'static str],
        trailers: Option<HeaderMap>,
    ) -> Request<Body> {
        use hyper::body::Frame;
        let mut frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = chunks
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
        .body(Body::new(body))
        .expect("valid request")
    }

    async fn start_streaming(
        harness: &Harness,
        request: Request<Body>,
        outcome: oneshot::Receiver<Outcome>,
    ) -> (u16, Vec<Bytes>, StreamEnd, Option<String>) {
        let response = tokio::spawn(harness.router.clone().oneshot(request));
        let Ok(Outcome::Streaming(mut start)) = outcome.await else {
            panic!("expected a streamed response");
        };
        let mut chunks = Vec::new();
        while let Some(chunk) = start.chunks.recv().await {
            chunks.push(chunk);
        }
        let end = start.end.await.expect("an end");
        let status = response
            .await
            .expect("handler")
            .expect("infallible router")
            .status()
            .as_u16();
        (status, chunks, end, start.content_type)
    }

    #[tokio::test]
    async fn streamed_responses_pass_chunks_then_the_error_trailers() {
        use base64::Engine as _;
        let harness = harness();
        let (invocation, outcome) = invocation("req-s");
        harness.invocations.send(invocation).await.expect("send");
        send(
            &harness.router,
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
            &harness.router,
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
            &harness.router,
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
        });
        let limited = Harness {
            router: router(state),
            invocations,
            init: None,
        };
        let (second, outcome) = invocation("req-u");
        limited.invocations.send(second).await.expect("send");
        send(
            &limited.router,
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
            &harness.router,
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
            &harness.router,
            "POST",
            "/2018-06-01/runtime/init/error",
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(status, 403);
    }

    #[tokio::test]
    async fn unknown_paths_and_methods() {
        let harness = harness();
        let (status, body) = send(
            &harness.router,
            "GET",
            "/2018-06-01/runtime/nothing",
            Vec::new(),
        )
        .await;
        assert_eq!(status, 404);
        assert!(body.contains("errorType"), "{body}");
        let (status, _) = send(
            &harness.router,
            "POST",
            "/2018-06-01/runtime/invocation/next",
            Vec::new(),
        )
        .await;
        assert_eq!(status, 405);
    }
}
