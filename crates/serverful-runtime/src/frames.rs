//! Serverful's own channel between an instance and Serverful's Node.js and Python
//! bootstraps: length-prefixed frames on a connection to the instance's Runtime API
//! listener, one event and one answer per invocation.
//!
//! The HTTP Runtime API costs two request/response exchanges per invocation (`/next` and
//! `/response`), each parsed by an HTTP library on both sides. The frame channel carries the
//! same facts in two messages: the server writes an event, the bootstrap writes its answer,
//! which also asks for the next event. Third-party runtime clients keep the HTTP Runtime API
//! on the same listener: a connection that starts with [`PREFACE`] (its first byte is NUL,
//! which no HTTP request starts with) speaks frames.
//!
//! A frame is a 9-byte prefix (the kind, then the header's and the body's lengths as
//! big-endian `u32`), the header, then the body:
//!
//! | kind | from | header | body | then |
//! | --- | --- | --- | --- | --- |
//! | `n` next | process | — | — | the next event |
//! | `r` response | process | request id | the response | the next event |
//! | `e` error | process | request id | Lambda error JSON | the next event |
//! | `i` init error | process | — | Lambda error JSON | — |
//! | `s` stream start | process | request id | the content type | `c` frames, then `t` |
//! | `c` chunk | process | — | the next piece of the stream | — |
//! | `t` stream end | process | — | empty, or Lambda error JSON | the next event |
//! | `E` event | server | the context as JSON ([`EventContext`]) | the event | — |
//!
//! Every state rule of the Runtime API holds (one invocation in flight; init errors only
//! during init): both transports drive the same [`ApiState`]. An answer to an invocation
//! already answered (the handler's own code may have posted one to the HTTP Runtime API)
//! is logged and dropped, as HTTP's 403 would be. Any other broken rule, or an unknown
//! kind, ends the channel and is logged, since the bootstraps are our own code.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use crate::api_server::{
    self, ApiState, Event, IdProblem, InitSignal, NoEvent, Outcome, StreamEnd, StreamRelay,
};
use crate::MAX_PAYLOAD_BYTES;

/// What a bootstrap writes first on a frame connection.
pub(crate) const PREFACE: &[u8] = b"\0serverful-frames/1\n";

#[doc(hidden)]
pub const PREFACE_FOR_FUZZING: &[u8] = PREFACE;

/// The length of a frame's fixed prefix: kind, header length, body length.
pub(crate) const PREFIX_LEN: usize = 9;

/// The most a frame's header may carry: a request id, a content type or an event's context.
pub(crate) const MAX_HEADER_BYTES: u32 = 64 * 1024;

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Next,
    Response,
    Error,
    InitError,
    StreamStart,
    Chunk,
    StreamEnd,
    Event,
}

impl Kind {
    pub(crate) fn byte(self) -> u8 {
        match self {
            Kind::Next => b'n',
            Kind::Response => b'r',
            Kind::Error => b'e',
            Kind::InitError => b'i',
            Kind::StreamStart => b's',
            Kind::Chunk => b'c',
            Kind::StreamEnd => b't',
            Kind::Event => b'E',
        }
    }

    fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            b'n' => Kind::Next,
            b'r' => Kind::Response,
            b'e' => Kind::Error,
            b'i' => Kind::InitError,
            b's' => Kind::StreamStart,
            b'c' => Kind::Chunk,
            b't' => Kind::StreamEnd,
            b'E' => Kind::Event,
            _ => return None,
        })
    }
}

/// A frame's fixed prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prefix {
    pub kind: Kind,
    pub header_len: u32,
    pub body_len: u32,
}

/// Why a channel ended before the process closed it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ChannelError {
    #[error("the connection did not start with the frame preface")]
    BadPreface,
    #[error("unknown frame kind {0:#04x}")]
    UnknownKind(u8),
    #[error("a frame header of {0} bytes (the most is {MAX_HEADER_BYTES})")]
    HeaderTooLarge(u32),
    #[error("a `{0}` frame is not allowed here")]
    Unexpected(char),
    #[error("an answer for request {0}, which is not the invocation in flight")]
    UnknownRequest(String),
    #[error("a second answer for request {0}")]
    Answered(String),
    #[error("the process asked for an event with an invocation in flight")]
    NextInFlight,
    #[error("an init error after init")]
    LateInitError,
    #[error("the connection broke mid-frame: {0}")]
    Broken(String),
}

impl From<std::io::Error> for ChannelError {
    fn from(error: std::io::Error) -> ChannelError {
        ChannelError::Broken(error.to_string())
    }
}

/// Reads a frame prefix.
pub(crate) fn parse_prefix(bytes: &[u8; PREFIX_LEN]) -> Result<Prefix, ChannelError> {
    let kind = Kind::from_byte(bytes[0]).ok_or(ChannelError::UnknownKind(bytes[0]))?;
    let header_len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    let body_len = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]);
    if header_len > MAX_HEADER_BYTES {
        return Err(ChannelError::HeaderTooLarge(header_len));
    }
    Ok(Prefix {
        kind,
        header_len,
        body_len,
    })
}

/// One frame, ready to write. Header and body must each fit a `u32`; the callers' are
/// bounded far below that (a header by [`MAX_HEADER_BYTES`], an event by the payload
/// limit).
pub(crate) fn encode(kind: Kind, header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(PREFIX_LEN + header.len() + body.len());
    frame.push(kind.byte());
    frame.extend_from_slice(&frame_len(header.len()).to_be_bytes());
    frame.extend_from_slice(&frame_len(body.len()).to_be_bytes());
    frame.extend_from_slice(header);
    frame.extend_from_slice(body);
    frame
}

fn frame_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// An event's context, the header of an `E` frame: what the HTTP Runtime API sends as
/// `Lambda-Runtime-*` headers, the client context and identity as the same JSON strings.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventContext<'a> {
    pub request_id: &'a str,
    pub deadline_ms: u64,
    pub invoked_function_arn: &'a str,
    pub trace_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_context: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cognito_identity: Option<&'a str>,
}

/// The `E` frame of `event`.
pub(crate) fn event_frame(event: &Event) -> Vec<u8> {
    let context = EventContext {
        request_id: &event.request_id,
        deadline_ms: u64::try_from(event.deadline_ms).unwrap_or(u64::MAX),
        invoked_function_arn: &event.invoked_function_arn,
        trace_id: &event.trace_id,
        client_context: event.client_context.as_deref(),
        cognito_identity: event.cognito_identity.as_deref(),
    };
    // Serializing borrowed strings and a number cannot fail.
    let header = serde_json::to_vec(&context).unwrap_or_default();
    encode(Kind::Event, &header, &event.payload)
}

/// Serves one frame connection (its first byte already seen to be the preface's) until the
/// process closes it. A broken rule is logged to the function's log and ends the channel;
/// the process then exits, and its invocation in flight fails as a crash would.
pub(crate) async fn serve<S>(stream: S, state: Arc<ApiState>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut channel = BufReader::with_capacity(64 * 1024, stream);
    if let Err(problem) = run(&mut channel, &state).await {
        tracing::warn!(
            function = state.function,
            "runtime frame channel: {problem}"
        );
        state.sink.emit(
            &state.function,
            &format!("Serverful runtime channel closed: {problem}"),
        );
    }
}

async fn run<S>(channel: &mut BufReader<S>, state: &ApiState) -> Result<(), ChannelError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut preface = [0u8; PREFACE.len()];
    channel.read_exact(&mut preface).await?;
    if preface != PREFACE {
        return Err(ChannelError::BadPreface);
    }
    loop {
        let Some(prefix) = read_prefix(channel).await? else {
            // The process closed the channel between frames: it is exiting.
            return Ok(());
        };
        match prefix.kind {
            Kind::Next => skip(channel, prefix).await?,
            Kind::Response | Kind::Error => match in_flight_id(channel, state, prefix).await? {
                None => discard(channel, prefix.body_len).await?,
                Some(request_id) => {
                    let outcome = answer_outcome(channel, state, &request_id, prefix).await?;
                    answer(state, request_id, outcome)?;
                }
            },
            Kind::InitError => {
                discard(channel, prefix.header_len).await?;
                let limit = MAX_PAYLOAD_BYTES as u32;
                let body = read_bytes(channel, prefix.body_len.min(limit)).await?;
                discard(channel, prefix.body_len.saturating_sub(limit)).await?;
                let init = state.take_init().ok_or(ChannelError::LateInitError)?;
                let _ = init.send(InitSignal::Failed(api_server::lambda_error(
                    None,
                    Some(&body),
                )));
                // The process exits next; it is owed no event.
                continue;
            }
            Kind::StreamStart => match in_flight_id(channel, state, prefix).await? {
                None => {
                    discard(channel, prefix.body_len).await?;
                    drain_stream(channel).await?;
                }
                Some(request_id) => {
                    let content_type =
                        read_bytes(channel, prefix.body_len.min(MAX_HEADER_BYTES)).await?;
                    discard(channel, prefix.body_len.saturating_sub(MAX_HEADER_BYTES)).await?;
                    let content_type = String::from_utf8_lossy(&content_type).into_owned();
                    if !stream(channel, state, request_id, content_type).await? {
                        return Ok(());
                    }
                }
            },
            Kind::Chunk | Kind::StreamEnd | Kind::Event => {
                return Err(ChannelError::Unexpected(char::from(prefix.kind.byte())));
            }
        }
        if !continue_with_next(channel, state).await? {
            return Ok(());
        }
    }
}

/// Reads the body of an `r` or `e` frame for `request_id` into its outcome. A body over
/// the payload limit is read and dropped: a response is then too large (and the log says
/// so, as the process is told nothing), an error becomes one of unknown type.
async fn answer_outcome<S: AsyncRead + Unpin>(
    channel: &mut BufReader<S>,
    state: &ApiState,
    request_id: &str,
    prefix: Prefix,
) -> Result<Outcome, ChannelError> {
    let body = if prefix.body_len as usize > MAX_PAYLOAD_BYTES {
        discard(channel, prefix.body_len).await?;
        None
    } else {
        Some(read_bytes(channel, prefix.body_len).await?)
    };
    Ok(match (prefix.kind, body) {
        (Kind::Response, Some(body)) => Outcome::Response(body),
        (Kind::Response, None) => {
            state.sink.emit_request(
                &state.function,
                request_id,
                &format!(
                    "Response payload size ({} bytes) exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes).",
                    prefix.body_len
                ),
            );
            Outcome::ResponseTooLarge
        }
        (_, body) => Outcome::Error(api_server::lambda_error(None, body.as_deref())),
    })
}

/// Waits for the next invocation and writes its event; false when the instance is shutting
/// down.
async fn continue_with_next<S>(
    channel: &mut BufReader<S>,
    state: &ApiState,
) -> Result<bool, ChannelError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match api_server::next(state).await {
        Ok(event) => {
            channel.get_mut().write_all(&event_frame(&event)).await?;
            Ok(true)
        }
        Err(NoEvent::InFlight) => Err(ChannelError::NextInFlight),
        Err(NoEvent::ShuttingDown) => Ok(false),
    }
}

/// Reads and drops a stream's frames up to its end.
async fn drain_stream<S: AsyncRead + Unpin>(
    channel: &mut BufReader<S>,
) -> Result<(), ChannelError> {
    loop {
        let prefix = read_prefix(channel)
            .await?
            .ok_or_else(|| ChannelError::Broken("the stream ended early".to_owned()))?;
        match prefix.kind {
            Kind::Chunk => skip(channel, prefix).await?,
            Kind::StreamEnd => return skip(channel, prefix).await,
            other => return Err(ChannelError::Unexpected(char::from(other.byte()))),
        }
    }
}

/// Reads the next prefix; `None` when the connection ends cleanly before one.
async fn read_prefix<S: AsyncRead + Unpin>(
    channel: &mut BufReader<S>,
) -> Result<Option<Prefix>, ChannelError> {
    let mut bytes = [0u8; PREFIX_LEN];
    let first = channel.read(&mut bytes[..1]).await?;
    if first == 0 {
        return Ok(None);
    }
    channel.read_exact(&mut bytes[1..]).await?;
    parse_prefix(&bytes).map(Some)
}

async fn read_bytes<S: AsyncRead + Unpin>(
    channel: &mut BufReader<S>,
    len: u32,
) -> Result<Bytes, ChannelError> {
    let mut bytes = vec![0u8; len as usize];
    channel.read_exact(&mut bytes).await?;
    Ok(Bytes::from(bytes))
}

async fn discard<S: AsyncRead + Unpin>(
    channel: &mut BufReader<S>,
    len: u32,
) -> Result<(), ChannelError> {
    let copied = tokio::io::copy(
        &mut (&mut *channel).take(u64::from(len)),
        &mut tokio::io::sink(),
    )
    .await?;
    if copied < u64::from(len) {
        return Err(ChannelError::Broken("the frame ended early".to_owned()));
    }
    Ok(())
}

/// Skips a frame whose header and body carry nothing this side reads.
async fn skip<S: AsyncRead + Unpin>(
    channel: &mut BufReader<S>,
    prefix: Prefix,
) -> Result<(), ChannelError> {
    discard(channel, prefix.header_len).await?;
    discard(channel, prefix.body_len).await
}

/// Reads an answer's header, the request id, and checks that it is the invocation in
/// flight; `None` (logged) when that invocation was already answered, through the HTTP
/// Runtime API by the handler's own code.
async fn in_flight_id<S: AsyncRead + Unpin>(
    channel: &mut BufReader<S>,
    state: &ApiState,
    prefix: Prefix,
) -> Result<Option<String>, ChannelError> {
    let header = read_bytes(channel, prefix.header_len).await?;
    let request_id = String::from_utf8_lossy(&header).into_owned();
    match api_server::check_request_id(state, &request_id) {
        Ok(()) => Ok(Some(request_id)),
        Err(IdProblem::Answered) => {
            state.sink.emit_request(
                &state.function,
                &request_id,
                &format!("Serverful runtime channel: request {request_id} was already answered; this answer is dropped"),
            );
            Ok(None)
        }
        Err(IdProblem::Unknown) => Err(ChannelError::UnknownRequest(request_id)),
    }
}

fn answer(state: &ApiState, request_id: String, outcome: Outcome) -> Result<(), ChannelError> {
    if api_server::finish(state, &request_id, outcome) {
        Ok(())
    } else {
        Err(ChannelError::Answered(request_id))
    }
}

/// Passes a streamed response on chunk by chunk, then how it ended. Returns false when the
/// connection ended midway (the process died: its exit tells the invoker). A caller that
/// went away stops nothing: the rest is read and dropped, as on Lambda.
async fn stream<S: AsyncRead + Unpin>(
    channel: &mut BufReader<S>,
    state: &ApiState,
    request_id: String,
    content_type: String,
) -> Result<bool, ChannelError> {
    let content_type = Some(content_type).filter(|value| !value.is_empty());
    let mut relay = StreamRelay::start(state, &request_id, content_type)
        .ok_or(ChannelError::Answered(request_id))?;
    loop {
        let prefix = match read_prefix(channel).await {
            Ok(Some(prefix)) => prefix,
            Ok(None) | Err(ChannelError::Broken(_)) => {
                relay.end(StreamEnd::Broken);
                return Ok(false);
            }
            Err(problem) => {
                relay.end(StreamEnd::Broken);
                return Err(problem);
            }
        };
        match prefix.kind {
            Kind::Chunk => {
                discard(channel, prefix.header_len).await?;
                if relay.admit(prefix.body_len as usize) {
                    relay
                        .pass(read_bytes(channel, prefix.body_len).await?)
                        .await;
                } else {
                    // What is over the limit is not passed on; the stream has ended for
                    // the caller, and the rest is read to keep the channel in step.
                    discard(channel, prefix.body_len).await?;
                }
            }
            Kind::StreamEnd => {
                discard(channel, prefix.header_len).await?;
                let body =
                    read_bytes(channel, prefix.body_len.min(MAX_PAYLOAD_BYTES as u32)).await?;
                discard(
                    channel,
                    prefix.body_len.saturating_sub(MAX_PAYLOAD_BYTES as u32),
                )
                .await?;
                relay.end(if body.is_empty() {
                    StreamEnd::Complete
                } else {
                    StreamEnd::Error(api_server::lambda_error(None, Some(&body)))
                });
                return Ok(true);
            }
            other => {
                relay.end(StreamEnd::Broken);
                return Err(ChannelError::Unexpected(char::from(other.byte())));
            }
        }
    }
}

/// Runs the server's side of a frame channel on `input`, taken as all the process wrote,
/// with two invocations (`req-1`, `req-2`) waiting: for the fuzzer, which checks that no
/// input panics or hangs the server.
#[doc(hidden)]
pub async fn drive(input: &[u8]) {
    let (invocations, receiver) = mpsc::channel(2);
    let (init, _init_receiver) = oneshot::channel();
    let state = ApiState::new(
        receiver,
        init,
        crate::logs::LogSink::new(|_, _| {}),
        "F".to_owned(),
    );
    let mut outcomes = Vec::new();
    for request_id in ["req-1", "req-2"] {
        let (outcome, outcome_receiver) = oneshot::channel();
        let (delivered, _) = oneshot::channel();
        outcomes.push(outcome_receiver);
        let invocation = api_server::Invocation {
            request_id: request_id.to_owned(),
            payload: Bytes::from_static(b"{}"),
            deadline_ms: 0,
            invoked_function_arn: String::new(),
            trace_id: String::new(),
            client_context: None,
            cognito_identity: None,
            start_line: None,
            delivered,
            outcome,
        };
        // The channel has room for both.
        let _ = invocations.try_send(invocation);
    }
    // No more invocations: a third `next` finds the instance shutting down.
    drop(invocations);
    let (mut process, server) = tokio::io::duplex(64 * 1024);
    let writer = async {
        let _ = process.write_all(input).await;
        let _ = process.shutdown().await;
        // What the server writes back is read and dropped.
        let _ = tokio::io::copy(&mut process, &mut tokio::io::sink()).await;
    };
    tokio::join!(serve(server, state), writer);
    // A stream's chunks are read by its caller; here by no one, which the server must bear.
    drop(outcomes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_server::Invocation;
    use crate::logs::LogSink;
    use proptest::prelude::*;
    use tokio::io::{duplex, DuplexStream};

    /// A process's end of a frame channel whose server side runs on `state`.
    struct Process {
        stream: DuplexStream,
    }

    impl Process {
        async fn send(&mut self, kind: u8, header: &[u8], body: &[u8]) {
            let mut frame = vec![kind];
            frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
            frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
            frame.extend_from_slice(header);
            frame.extend_from_slice(body);
            self.stream.write_all(&frame).await.expect("write");
        }

        async fn receive(&mut self) -> (u8, Vec<u8>, Vec<u8>) {
            let mut prefix = [0u8; PREFIX_LEN];
            self.stream.read_exact(&mut prefix).await.expect("prefix");
            let header_len = u32::from_be_bytes(prefix[1..5].try_into().expect("4 bytes"));
            let body_len = u32::from_be_bytes(prefix[5..9].try_into().expect("4 bytes"));
            let mut header = vec![0; header_len as usize];
            self.stream.read_exact(&mut header).await.expect("header");
            let mut body = vec![0; body_len as usize];
            self.stream.read_exact(&mut body).await.expect("body");
            (prefix[0], header, body)
        }

        /// Whether the server closed the channel.
        async fn closed(&mut self) -> bool {
            let mut byte = [0u8; 1];
            matches!(self.stream.read(&mut byte).await, Ok(0) | Err(_))
        }
    }

    struct Harness {
        process: Process,
        invocations: mpsc::Sender<Invocation>,
        init: oneshot::Receiver<InitSignal>,
        logged: Arc<std::sync::Mutex<Vec<String>>>,
        server: tokio::task::JoinHandle<()>,
        state: Arc<ApiState>,
    }

    fn harness(stream_limit: usize) -> Harness {
        let (invocations, receiver) = mpsc::channel(1);
        let (init_sender, init) = oneshot::channel();
        let logged = Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = logged.clone();
        let sink = LogSink::new(move |_, line| lines.lock().expect("lock").push(line.to_owned()));
        let mut state = ApiState::new(receiver, init_sender, sink, "F".to_owned());
        Arc::get_mut(&mut state).expect("sole owner").stream_limit = stream_limit;
        let (process, server) = duplex(1 << 20);
        let server = tokio::spawn(serve(server, state.clone()));
        Harness {
            process: Process { stream: process },
            invocations,
            init,
            logged,
            server,
            state,
        }
    }

    fn invocation(
        request_id: &str,
        payload: &'static [u8],
    ) -> (Invocation, oneshot::Receiver<Outcome>) {
        let (outcome, receiver) = oneshot::channel();
        let (delivered, _) = oneshot::channel();
        let invocation = Invocation {
            request_id: request_id.to_owned(),
            payload: Bytes::from_static(payload),
            deadline_ms: 1_700_000_000_000,
            invoked_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:F".to_owned(),
            trace_id: "Root=1-0-0".to_owned(),
            client_context: Some("{\"custom\":{\"a\":\"b\\nc\"}}".to_owned()),
            cognito_identity: None,
            start_line: Some(crate::logs::start_line(request_id)),
            delivered,
            outcome,
        };
        (invocation, receiver)
    }

    /// Queues an invocation with an empty event and reads its event frame off the channel.
    async fn hand_over(harness: &mut Harness, request_id: &str) -> oneshot::Receiver<Outcome> {
        let (queued, outcome) = invocation(request_id, b"{}");
        harness.invocations.send(queued).await.expect("send");
        let (kind, _, _) = harness.process.receive().await;
        assert_eq!(kind, b'E');
        outcome
    }

    async fn started(harness: &mut Harness) {
        harness
            .process
            .stream
            .write_all(PREFACE)
            .await
            .expect("preface");
        harness.process.send(b'n', b"", b"").await;
    }

    #[tokio::test]
    async fn events_and_answers_alternate() {
        let mut harness = harness(1024);
        started(&mut harness).await;
        let (first, first_outcome) = invocation("req-1", b"{\"a\":1}");
        harness.invocations.send(first).await.expect("send");
        assert!(matches!((&mut harness.init).await, Ok(InitSignal::Ready)));
        let (kind, header, body) = harness.process.receive().await;
        assert_eq!(kind, b'E');
        assert_eq!(body, b"{\"a\":1}");
        let context: serde_json::Value = serde_json::from_slice(&header).expect("json");
        assert_eq!(
            context,
            serde_json::json!({
                "requestId": "req-1",
                "deadlineMs": 1_700_000_000_000u64,
                "invokedFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:F",
                "traceId": "Root=1-0-0",
                "clientContext": "{\"custom\":{\"a\":\"b\\nc\"}}",
            })
        );
        assert!(harness.logged.lock().expect("lock")[0].starts_with("START RequestId: req-1"));

        harness.process.send(b'r', b"req-1", b"\"ok\"").await;
        match first_outcome.await {
            Ok(Outcome::Response(body)) => assert_eq!(body, "\"ok\""),
            other => panic!("{other:?}"),
        }
        // The answer asked for the next event.
        let (second, second_outcome) = invocation("req-2", b"{}");
        harness.invocations.send(second).await.expect("send");
        let (kind, _, _) = harness.process.receive().await;
        assert_eq!(kind, b'E');
        harness.process.send(b'e', b"req-2", b"not json").await;
        match second_outcome.await {
            Ok(Outcome::Error(error)) => {
                let error: serde_json::Value = serde_json::from_slice(&error).expect("json");
                assert_eq!(error["errorType"], "Runtime.Unknown");
                assert_eq!(error["errorMessage"], "not json");
            }
            other => panic!("{other:?}"),
        }
        // With no more invocations the channel ends; it ends quietly.
        drop(harness.invocations);
        harness.server.await.expect("server");
        assert_eq!(harness.logged.lock().expect("lock").len(), 2);
    }

    #[tokio::test]
    async fn an_oversized_response_is_read_and_reported() {
        let mut harness = harness(1024);
        started(&mut harness).await;
        let outcome = hand_over(&mut harness, "req-1").await;
        let big = vec![b'x'; MAX_PAYLOAD_BYTES + 1];
        harness.process.send(b'r', b"req-1", &big).await;
        assert!(matches!(outcome.await, Ok(Outcome::ResponseTooLarge)));
        let logged = harness.logged.lock().expect("lock").join("\n");
        assert!(
            logged.contains(&format!(
                "Response payload size ({} bytes) exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes).",
                MAX_PAYLOAD_BYTES + 1
            )),
            "{logged}"
        );
        // The channel is still in step.
        let outcome = hand_over(&mut harness, "req-2").await;
        harness.process.send(b'r', b"req-2", b"1").await;
        assert!(matches!(outcome.await, Ok(Outcome::Response(_))));
    }

    #[tokio::test]
    async fn init_errors_reach_the_starter() {
        let mut harness = harness(1024);
        harness
            .process
            .stream
            .write_all(PREFACE)
            .await
            .expect("preface");
        harness
            .process
            .send(
                b'i',
                b"",
                br#"{"errorType":"Runtime.ImportModuleError","errorMessage":"no"}"#,
            )
            .await;
        match (&mut harness.init).await {
            Ok(InitSignal::Failed(error)) => {
                assert!(String::from_utf8_lossy(&error).contains("Runtime.ImportModuleError"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn streams_pass_chunks_then_how_they_ended() {
        let mut harness = harness(8);
        started(&mut harness).await;
        let outcome = hand_over(&mut harness, "req-1").await;
        harness.process.send(b's', b"req-1", b"text/plain").await;
        harness.process.send(b'c', b"", b"abc").await;
        harness.process.send(b'c', b"", b"").await;
        harness.process.send(b'c', b"", b"def").await;
        harness
            .process
            .send(
                b't',
                b"",
                br#"{"errorType":"Boom","errorMessage":"midway"}"#,
            )
            .await;
        let Ok(Outcome::Streaming(mut start)) = outcome.await else {
            panic!("not a stream")
        };
        assert_eq!(start.content_type.as_deref(), Some("text/plain"));
        assert_eq!(start.chunks.recv().await.expect("chunk"), "abc");
        assert_eq!(start.chunks.recv().await.expect("chunk"), "def");
        assert!(start.chunks.recv().await.is_none());
        match start.end.await {
            Ok(StreamEnd::Error(error)) => {
                assert!(String::from_utf8_lossy(&error).contains("Boom"))
            }
            other => panic!("{other:?}"),
        }

        // Over the limit: the caller's stream ends at once, the rest is read and dropped.
        let outcome = hand_over(&mut harness, "req-2").await;
        harness.process.send(b's', b"req-2", b"").await;
        harness.process.send(b'c', b"", b"12345").await;
        harness.process.send(b'c', b"", b"67890").await;
        harness.process.send(b'c', b"", b"more").await;
        harness.process.send(b't', b"", b"").await;
        let Ok(Outcome::Streaming(mut start)) = outcome.await else {
            panic!("not a stream")
        };
        assert_eq!(start.content_type, None);
        assert_eq!(start.chunks.recv().await.expect("chunk"), "12345");
        assert!(start.chunks.recv().await.is_none());
        assert_eq!(start.end.await, Ok(StreamEnd::TooLarge));

        // A stream the process breaks off mid-way.
        let outcome = hand_over(&mut harness, "req-3").await;
        harness.process.send(b's', b"req-3", b"").await;
        harness.process.send(b'c', b"", b"x").await;
        drop(harness.process);
        let Ok(Outcome::Streaming(start)) = outcome.await else {
            panic!("not a stream")
        };
        assert_eq!(start.end.await, Ok(StreamEnd::Broken));
    }

    #[tokio::test]
    async fn an_answer_to_an_invocation_answered_over_http_is_dropped() {
        let mut harness = harness(1024);
        started(&mut harness).await;
        for (kind, frames) in [
            (b'r', &[(b'r', &b"req-1"[..], &b"late"[..])][..]),
            (
                b's',
                &[
                    (b's', &b"req-2"[..], &b""[..]),
                    (b'c', b"", b"x"),
                    (b't', b"", b""),
                ][..],
            ),
        ] {
            let request_id = if kind == b'r' { "req-1" } else { "req-2" };
            let (first, outcome) = invocation(request_id, b"{}");
            harness.invocations.send(first).await.expect("send");
            harness.process.receive().await;
            // The handler's own code answers through the HTTP Runtime API first.
            assert!(api_server::finish(
                &harness.state,
                request_id,
                Outcome::Response(Bytes::from_static(b"from http"))
            ));
            for (kind, header, body) in frames {
                harness.process.send(*kind, header, body).await;
            }
            match outcome.await {
                Ok(Outcome::Response(body)) => assert_eq!(body, "from http"),
                other => panic!("{other:?}"),
            }
        }
        // The channel is still in step.
        let outcome = hand_over(&mut harness, "req-3").await;
        harness.process.send(b'r', b"req-3", b"3").await;
        assert!(matches!(outcome.await, Ok(Outcome::Response(_))));
        let logged = harness.logged.lock().expect("lock").join("\n");
        assert!(
            logged.contains("request req-1 was already answered; this answer is dropped"),
            "{logged}"
        );
        assert!(
            logged.contains("request req-2 was already answered"),
            "{logged}"
        );
    }

    #[tokio::test]
    async fn broken_rules_end_the_channel_and_are_logged() {
        // A wrong request id.
        let mut harness = harness(1024);
        started(&mut harness).await;
        let _outcome = hand_over(&mut harness, "req-1").await;
        harness.process.send(b'r', b"req-9", b"1").await;
        assert!(harness.process.closed().await);
        let logged = harness.logged.lock().expect("lock").join("\n");
        assert!(
            logged.contains("an answer for request req-9, which is not the invocation in flight"),
            "{logged}"
        );

        // An unknown kind, and a preface that is not ours.
        for (preface, frame, problem) in [
            (PREFACE, b'z', "unknown frame kind 0x7a"),
            (
                &b"\0serverful-frames/9\n"[..],
                b'n',
                "did not start with the frame preface",
            ),
        ] {
            let mut second = self::harness(1024);
            second
                .process
                .stream
                .write_all(preface)
                .await
                .expect("preface");
            second.process.send(frame, b"", b"").await;
            assert!(second.process.closed().await);
            let logged = second.logged.lock().expect("lock").join("\n");
            assert!(logged.contains(problem), "{logged}");
        }
    }

    fn kinds() -> impl Strategy<Value = Kind> {
        prop::sample::select(vec![
            Kind::Next,
            Kind::Response,
            Kind::Error,
            Kind::InitError,
            Kind::StreamStart,
            Kind::Chunk,
            Kind::StreamEnd,
            Kind::Event,
        ])
    }

    proptest! {
        #[test]
        fn encoded_frames_parse_back(kind in kinds(), header in prop::collection::vec(any::<u8>(), 0..512), body in prop::collection::vec(any::<u8>(), 0..2048)) {
            let frame = encode(kind, &header, &body);
            let prefix: [u8; PREFIX_LEN] = frame[..PREFIX_LEN].try_into().expect("prefix");
            let parsed = parse_prefix(&prefix).expect("valid");
            prop_assert_eq!(parsed.kind, kind);
            prop_assert_eq!(parsed.header_len as usize, header.len());
            prop_assert_eq!(parsed.body_len as usize, body.len());
            prop_assert_eq!(&frame[PREFIX_LEN..PREFIX_LEN + header.len()], &header[..]);
            prop_assert_eq!(&frame[PREFIX_LEN + header.len()..], &body[..]);
        }

        #[test]
        fn any_prefix_parses_or_is_refused(bytes in any::<[u8; PREFIX_LEN]>()) {
            match parse_prefix(&bytes) {
                Ok(prefix) => {
                    prop_assert_eq!(prefix.kind.byte(), bytes[0]);
                    prop_assert!(prefix.header_len <= MAX_HEADER_BYTES);
                }
                Err(ChannelError::UnknownKind(byte)) => prop_assert_eq!(byte, bytes[0]),
                Err(ChannelError::HeaderTooLarge(len)) => prop_assert!(len > MAX_HEADER_BYTES),
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
