//! Recording invocations: the one place every call of a function passes
//! ([`Platform::invoke_streaming_version`]) hands what it saw to the
//! [`serverful_invocations::Recorder`] of [`crate::PlatformConfig::invocation_records`].
//!
//! Before the call, [`Recording::start`] asks the runtime for the invocation's log lines
//! (a `LogTail`) and its report (a `ReportSlot`: request id, instance, timings). After it,
//! [`Recording::finish`] builds a [`Capture`] (the event and result bytes are shared, not
//! copied; redaction and caps are the writer thread's job) and queues it, which never
//! waits. A streamed response is recorded when its stream ends (or its caller drops it),
//! with its first [`serverful_invocations::Settings::payload_cap`] bytes.
//!
//! A function opts out with `SERVERFUL_RECORD_INVOCATIONS: false` in its template's
//! `Environment` (read from the stack's current deploy); the server with
//! `--record-invocations off`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use serverful_invocations::{Capture, CapturedBytes, RecordOutcome, Recorder, Timings};
use serverful_invoke::{FunctionRef, InvokeError, InvokeResponse, ResponseStream};
use serverful_runtime as runtime;

use crate::server::Platform;

/// The trigger prefix of a replay, followed by the replayed record's id.
pub(crate) const REPLAY_PREFIX: &str = "replay of ";

/// The trigger of asynchronous invocations (the queue behind `InvocationType: Event`,
/// schedules, EventBridge rules, S3 notifications, SNS subscriptions).
pub(crate) const ASYNC: &str = "async";

/// Events past this size are not read for their source.
const MAX_SNIFFED_EVENT_BYTES: usize = 64 * 1024;

/// What sent an asynchronous invocation, as its event says: `schedule RULE` (EventBridge's
/// `Scheduled Event`), `eventbridge SOURCE`, `bucket NAME` (an S3 notification), `topic
/// NAME` (an SNS message); `None` for any other event.
fn async_trigger(event: &[u8]) -> Option<String> {
    if event.len() > MAX_SNIFFED_EVENT_BYTES {
        return None;
    }
    let event: serde_json::Value = serde_json::from_slice(event).ok()?;
    let last_segment = |arn: &str| arn.rsplit([':', '/']).next().unwrap_or(arn).to_owned();
    if let Some(detail_type) = event.get("detail-type").and_then(|value| value.as_str()) {
        if detail_type == "Scheduled Event" {
            let rule = event["resources"][0].as_str().map(last_segment)?;
            return Some(format!("schedule {rule}"));
        }
        let source = event.get("source").and_then(|value| value.as_str())?;
        return Some(format!("eventbridge {source}"));
    }
    let record = &event["Records"][0];
    if record["eventSource"] == "aws:s3" {
        let bucket = record["s3"]["bucket"]["name"].as_str()?;
        return Some(format!("bucket {bucket}"));
    }
    if record["EventSource"] == "aws:sns" {
        let topic = record["Sns"]["TopicArn"].as_str().map(last_segment)?;
        return Some(format!("topic {topic}"));
    }
    None
}

/// One invocation being recorded.
pub(crate) struct Recording {
    recorder: Arc<Recorder>,
    capture: Capture,
    started: Instant,
    /// The call's log lines, for a call through the Runtime API.
    log_tail: Option<runtime::LogTail>,
    /// The runtime's report of the call, for a call through the Runtime API.
    report: Option<runtime::ReportSlot>,
}

impl Recording {
    /// Starts recording a call of `function` unless recording is off (server-wide or for
    /// the function); sets up `context` so the runtime reports the invocation.
    pub(crate) fn start(
        platform: &Platform,
        function: &FunctionRef,
        event: &Bytes,
        context: &mut runtime::InvokeContext,
    ) -> Option<Recording> {
        let mut recording = Recording::begin(platform, function, event.clone())?;
        recording.log_tail = Some(
            context
                .log_tail
                .get_or_insert_with(runtime::LogTail::new)
                .clone(),
        );
        recording.report = Some(
            context
                .report
                .get_or_insert_with(runtime::ReportSlot::new)
                .clone(),
        );
        Some(recording)
    }

    /// Starts recording a request proxied to an HTTP-mode function's server, unless
    /// recording is off; its event is the request's description, when the gateway gives
    /// it ([`Recording::set_event`]).
    pub(crate) fn start_http(
        platform: &Platform,
        function: &FunctionRef,
        request_id: &str,
    ) -> Option<Recording> {
        let mut recording = Recording::begin(platform, function, Bytes::new())?;
        request_id.clone_into(&mut recording.capture.id);
        Some(recording)
    }

    pub(crate) fn set_event(&mut self, event: Bytes) {
        self.capture.event = CapturedBytes::new(event);
    }

    /// Records how a proxied request ended: its status, or why it failed.
    pub(crate) fn finish_http(mut self, outcome: &serverful_invoke::ProxyOutcome) {
        match outcome {
            serverful_invoke::ProxyOutcome::Responded { status } => {
                self.capture.result = Some(CapturedBytes::new(Bytes::from(
                    serde_json::json!({ "statusCode": status }).to_string(),
                )));
            }
            serverful_invoke::ProxyOutcome::TimedOut => self.fail(&InvokeError::Timeout),
            serverful_invoke::ProxyOutcome::Failed(reason) => {
                self.capture.outcome = RecordOutcome::Error;
                self.capture.error = Some(CapturedBytes::new(Bytes::from(
                    serde_json::json!({"errorType": "Runtime.HttpError", "errorMessage": reason})
                        .to_string(),
                )));
            }
        }
        self.queue();
    }

    /// What every recording starts with; `None` when recording is off.
    fn begin(platform: &Platform, function: &FunctionRef, event: Bytes) -> Option<Recording> {
        let recorder = platform.config().invocation_records.as_ref()?;
        if !recorder.settings().enabled {
            return None;
        }
        let version = platform.current(&function.stack)?;
        let template_function = version
            .app
            .functions
            .iter()
            .find(|candidate| *candidate.logical_id == *function.function)?;
        if serverful_invocations::opted_out(
            template_function
                .environment
                .get(serverful_invocations::OPT_OUT_VARIABLE)
                .map(String::as_str),
        ) {
            return None;
        }
        let trigger = match function.trigger.as_deref() {
            // The asynchronous queue keeps no trigger; the event says where it came from.
            Some(ASYNC) => async_trigger(&event).unwrap_or_else(|| ASYNC.to_owned()),
            Some(trigger) => trigger.to_owned(),
            None => "unknown".to_owned(),
        };
        let replay_of = trigger.strip_prefix(REPLAY_PREFIX).map(str::to_owned);
        Some(Recording {
            recorder: recorder.clone(),
            capture: Capture {
                id: String::new(),
                at_ms: serverful_invocations::now_ms(),
                stack: function.stack.to_string(),
                function: function.function.to_string(),
                function_name: template_function.name.clone(),
                deploy: Some(function.deploy.unwrap_or(version.record.number)),
                executed_version: None,
                qualifier: function.qualifier.as_deref().map(str::to_owned),
                instance: None,
                trigger,
                outcome: RecordOutcome::Success,
                event: CapturedBytes::new(event),
                result: None,
                error: None,
                logs: Vec::new(),
                timings: Timings {
                    memory_mb: Some(template_function.memory_mb),
                    ..Timings::default()
                },
                replay_of,
            },
            started: Instant::now(),
            log_tail: None,
            report: None,
        })
    }

    /// Records how the call ended and gives its answer back; a streamed answer is recorded
    /// when its stream ends.
    pub(crate) fn finish(
        mut self,
        executed: Option<String>,
        answer: Result<InvokeResponse, InvokeError>,
    ) -> (Option<String>, Result<InvokeResponse, InvokeError>) {
        self.capture.executed_version.clone_from(&executed);
        let answer = match answer {
            Ok(InvokeResponse::Buffered(body)) => {
                self.capture.result = Some(CapturedBytes::new(body.clone()));
                self.queue();
                Ok(InvokeResponse::Buffered(body))
            }
            Ok(InvokeResponse::Streamed(stream)) => Ok(InvokeResponse::Streamed(ResponseStream {
                content_type: stream.content_type,
                body: Box::pin(RecordedStream {
                    inner: stream.body,
                    kept: BytesMut::new(),
                    size: 0,
                    recording: Some(self),
                }),
            })),
            Err(error) => {
                self.fail(&error);
                self.queue();
                Err(error)
            }
        };
        (executed, answer)
    }

    fn fail(&mut self, error: &InvokeError) {
        let (outcome, payload) = outcome_of(error);
        self.capture.outcome = outcome;
        self.capture.error = Some(CapturedBytes::new(payload));
    }

    /// Fills in what the runtime reported and queues the capture (never waits).
    fn queue(mut self) {
        let report = self.report.as_ref().and_then(runtime::ReportSlot::get);
        let elapsed_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        match report {
            Some(report) => {
                self.capture.id = report.request_id.clone();
                self.capture.instance = Some(format!("pid {}", report.instance));
                self.capture.timings = Timings {
                    init_ms: report
                        .report
                        .init_duration
                        .map(|init| init.as_secs_f64() * 1000.0),
                    duration_ms: report.report.duration.as_secs_f64() * 1000.0,
                    billed_ms: report.billed_ms(),
                    memory_mb: Some(report.report.memory_size_mb),
                    max_memory_used_mb: Some(report.report.max_memory_used_mb),
                };
            }
            None => {
                // It never ran on an instance (throttled, not started), its caller left a
                // stream early, or it was proxied: the call's own time, under its request
                // id or one of its own.
                if self.capture.id.is_empty() {
                    self.capture.id = uuid::Uuid::new_v4().to_string();
                }
                self.capture.timings.duration_ms = elapsed_ms;
                self.capture.timings.billed_ms = elapsed_ms.ceil() as u64;
            }
        }
        if let Some(log_tail) = &self.log_tail {
            self.capture.logs = log_tail.lines();
        }
        self.recorder.record(self.capture);
    }
}

/// A failed call's outcome and Lambda's error JSON for it.
pub fn outcome_of(error: &InvokeError) -> (RecordOutcome, Bytes) {
    let json = |error_type: &str, message: &str| {
        Bytes::from(
            serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string(),
        )
    };
    match error {
        InvokeError::FunctionError(payload) => (RecordOutcome::Error, payload.clone()),
        InvokeError::Timeout => (
            RecordOutcome::Timeout,
            json("Sandbox.Timedout", "Task timed out"),
        ),
        InvokeError::Throttled => (
            RecordOutcome::Throttled,
            json("TooManyRequestsException", "Rate Exceeded."),
        ),
        InvokeError::PayloadTooLarge => (
            RecordOutcome::PayloadTooLarge,
            json(
                "RequestTooLargeException",
                "The payload is over Lambda's limit",
            ),
        ),
        InvokeError::NoSuchFunction(_) | InvokeError::Unavailable(_) => (
            RecordOutcome::Unavailable,
            json("ServiceException", &error.to_string()),
        ),
    }
}

/// A streamed response passed on as it comes, its first bytes kept for the record, which
/// is queued when the stream ends or its caller drops it.
struct RecordedStream {
    inner: futures_util::stream::BoxStream<'static, Result<Bytes, InvokeError>>,
    kept: BytesMut,
    size: u64,
    recording: Option<Recording>,
}

impl RecordedStream {
    fn end(&mut self, error: Option<&InvokeError>) {
        let Some(mut recording) = self.recording.take() else {
            return;
        };
        match error {
            Some(error) => recording.fail(error),
            None => {
                recording.capture.result = Some(CapturedBytes {
                    bytes: std::mem::take(&mut self.kept).freeze(),
                    original_bytes: Some(self.size),
                });
            }
        }
        recording.queue();
    }
}

impl Stream for RecordedStream {
    type Item = Result<Bytes, InvokeError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = self.inner.as_mut().poll_next(cx);
        match &item {
            Poll::Ready(Some(Ok(chunk))) => {
                self.size += chunk.len() as u64;
                let cap = self
                    .recording
                    .as_ref()
                    .map_or(0, |recording| recording.recorder.settings().payload_cap);
                let room = cap.saturating_sub(self.kept.len());
                let take = room.min(chunk.len());
                self.kept.extend_from_slice(&chunk[..take]);
            }
            Poll::Ready(Some(Err(error))) => self.end(Some(error)),
            Poll::Ready(None) => self.end(None),
            Poll::Pending => {}
        }
        item
    }
}

impl Drop for RecordedStream {
    fn drop(&mut self) {
        // A caller that went away before the end: what it got is what is recorded.
        self.end(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asynchronous_events_name_their_source() {
        let trigger = |event: &str| async_trigger(event.as_bytes());
        assert_eq!(
            trigger(
                r#"{"detail-type":"Scheduled Event","source":"aws.events","resources":["arn:aws:events:us-east-1:123456789012:rule/nightly"]}"#
            ),
            Some("schedule nightly".to_owned())
        );
        assert_eq!(
            trigger(r#"{"detail-type":"OrderPlaced","source":"shop.orders","resources":[]}"#),
            Some("eventbridge shop.orders".to_owned())
        );
        assert_eq!(
            trigger(r#"{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"uploads"}}}]}"#),
            Some("bucket uploads".to_owned())
        );
        assert_eq!(
            trigger(
                r#"{"Records":[{"EventSource":"aws:sns","Sns":{"TopicArn":"arn:aws:sns:us-east-1:123456789012:alerts"}}]}"#
            ),
            Some("topic alerts".to_owned())
        );
        assert_eq!(trigger(r#"{"hello":"world"}"#), None);
        assert_eq!(trigger("not json"), None);
    }
}
