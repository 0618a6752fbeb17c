//! Lambda's `InvokeWithResponseStream` (`POST /2021-11-15/functions/{name}/response-
//! streaming-invocations`): the function's response as an AWS event stream
//! (`application/vnd.amazon.eventstream`), one `PayloadChunk` event per chunk the function
//! writes, as it writes it, then one `InvokeComplete` event that says how the invocation
//! ended (`ErrorCode` and `ErrorDetails` when it failed, `LogResult` when asked for).
//! A function that does not stream is answered with its whole response as one
//! `PayloadChunk`, as Lambda answers it.
//!
//! The framing (prelude with lengths and CRC32, headers, message CRC) is
//! `aws-smithy-eventstream`'s, the AWS SDK's own encoder.

use std::sync::Arc;

use aws_smithy_types::event_stream::{Header, HeaderValue as EventHeaderValue, Message};
use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt as _;
use http::{HeaderValue, Response, StatusCode};
use serde_json::{Map, Value};
use serverful_aws::{AwsError, RestRequest};
use serverful_invoke::{FunctionRef, InvokeError, InvokeResponse};
use serverful_runtime::LogTail;

use crate::server::Platform;

/// The invocation types `InvokeWithResponseStream` accepts.
const INVOCATION_TYPES: &str = "[RequestResponse, DryRun]";

/// One event of the stream, framed.
fn event(event_type: &'static str, content_type: &'static str, payload: Bytes) -> Bytes {
    let message = Message::new(payload)
        .add_header(Header::new(
            ":event-type",
            EventHeaderValue::String(event_type.into()),
        ))
        .add_header(Header::new(
            ":content-type",
            EventHeaderValue::String(content_type.into()),
        ))
        .add_header(Header::new(
            ":message-type",
            EventHeaderValue::String("event".into()),
        ));
    let mut frame = Vec::new();
    // Writing fails only past the format's limits (16 MB per message), which
    // `payload_chunks` keeps every payload under.
    match aws_smithy_eventstream::frame::write_message_to(&message, &mut frame) {
        Ok(()) => Bytes::from(frame),
        Err(error) => {
            tracing::error!("failed to frame an event stream message: {error}");
            Bytes::new()
        }
    }
}

/// The most payload one `PayloadChunk` carries: the event stream format allows 16 MB per
/// message, headers included.
const MAX_CHUNK_PAYLOAD: usize = 8 * 1024 * 1024;

/// `PayloadChunk` events for `chunk`, split to fit the format.
fn payload_chunks(chunk: Bytes) -> Vec<Bytes> {
    let mut frames = Vec::new();
    let mut rest = chunk;
    while !rest.is_empty() {
        let piece = rest.split_to(rest.len().min(MAX_CHUNK_PAYLOAD));
        frames.push(event("PayloadChunk", "application/octet-stream", piece));
    }
    frames
}

/// How the invocation ended, as `InvokeComplete` says it: the error's type and message,
/// or nothing when it succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Completion {
    pub error_code: Option<String>,
    pub error_details: Option<String>,
    pub log_result: Option<String>,
}

/// The `InvokeComplete` event.
fn invoke_complete(completion: &Completion) -> Bytes {
    let mut object = Map::new();
    let mut put = |key: &str, value: &Option<String>| {
        if let Some(value) = value {
            object.insert(key.to_owned(), Value::String(value.clone()));
        }
    };
    put("ErrorCode", &completion.error_code);
    put("ErrorDetails", &completion.error_details);
    put("LogResult", &completion.log_result);
    event(
        "InvokeComplete",
        "application/json",
        Bytes::from(Value::Object(object).to_string()),
    )
}

/// How a failed invocation is reported in `InvokeComplete`, with Lambda's error types for
/// what the platform itself ends (a timeout, a response over the limit).
fn completion_of(error: &InvokeError, timeout_secs: u64) -> Completion {
    let (code, details) = match error {
        InvokeError::FunctionError(json) => {
            let value: Value = serde_json::from_slice(json).unwrap_or_default();
            let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
            (
                field("errorType").unwrap_or_else(|| "Unhandled".to_owned()),
                field("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(json).into_owned()),
            )
        }
        InvokeError::Timeout => (
            "Sandbox.Timedout".to_owned(),
            format!("Task timed out after {timeout_secs}.00 seconds"),
        ),
        InvokeError::PayloadTooLarge => (
            "Function.ResponseSizeTooLarge".to_owned(),
            format!(
                "Response payload size exceeded maximum allowed payload size ({} bytes).",
                serverful_runtime::MAX_PAYLOAD_BYTES
            ),
        ),
        other => ("ServiceException".to_owned(), other.to_string()),
    };
    Completion {
        error_code: Some(code),
        error_details: Some(details),
        log_result: None,
    }
}

/// The function to call and what the caller asked for.
pub(crate) struct StreamCall {
    pub function: FunctionRef,
    pub payload: Bytes,
    /// The function's timeout, for `Sandbox.Timedout`'s message.
    pub timeout_secs: u64,
    /// Set when the caller asked for the log's tail (`X-Amz-Log-Type: Tail`).
    pub log_tail: Option<LogTail>,
}

/// The log's tail as `LogResult` and `X-Amz-Log-Result` carry it: base64.
pub(crate) fn log_result(tail: &LogTail) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(tail.text())
}

/// What an `InvokeWithResponseStream` call asks for, once checked.
pub(crate) struct Asked {
    /// `DryRun`: answered 204 without running anything.
    pub dry_run: bool,
    /// `X-Amz-Log-Type: Tail`.
    pub log_tail: bool,
}

/// Checks the invocation type and log type of an `InvokeWithResponseStream` call.
pub(crate) fn check_request(request: &RestRequest) -> Result<Asked, AwsError> {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let invalid = |message: String| {
        AwsError::new(
            StatusCode::BAD_REQUEST,
            "com.amazonaws.lambda",
            "InvalidParameterValueException",
            message,
        )
    };
    let dry_run = match header("x-amz-invocation-type").as_deref() {
        None | Some("RequestResponse") => false,
        Some("DryRun") => true,
        Some(other) => {
            return Err(invalid(format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: {INVOCATION_TYPES}"
            )))
        }
    };
    let log_tail = log_type(request)?;
    Ok(Asked { dry_run, log_tail })
}

/// Whether `X-Amz-Log-Type` asks for the log's tail (`Tail`; `None` or no header does not).
pub(crate) fn log_type(request: &RestRequest) -> Result<bool, AwsError> {
    match request
        .headers
        .get("x-amz-log-type")
        .map(|value| value.to_str().unwrap_or_default())
    {
        None | Some("None") => Ok(false),
        Some("Tail") => Ok(true),
        Some(other) => Err(AwsError::new(
            StatusCode::BAD_REQUEST,
            "com.amazonaws.lambda",
            "InvalidParameterValueException",
            format!(
                "1 validation error detected: Value '{other}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [Tail, None]"
            ),
        )),
    }
}

/// Runs the call and answers with its event stream. Refusals that happen before the
/// function runs (throttled, unavailable, unknown) are ordinary Lambda errors; once it
/// runs, the answer is 200 and the stream's last event says how it ended.
pub(crate) async fn invoke(
    platform: Arc<Platform>,
    call: StreamCall,
) -> Result<Response<Body>, AwsError> {
    let StreamCall {
        function,
        payload,
        timeout_secs,
        log_tail,
    } = call;
    let context = serverful_runtime::InvokeContext {
        log_tail: log_tail.clone(),
        ..Default::default()
    };
    let (executed, outcome) = platform
        .invoke_streaming_version(&function, payload, context)
        .await;
    // `InvokeComplete` is written once the invocation is over, so the tail is whole.
    let complete = move |completion: Completion| {
        invoke_complete(&Completion {
            log_result: log_tail.as_ref().map(log_result),
            ..completion
        })
    };
    let frames = match outcome {
        Err(InvokeError::Throttled) => {
            return Err(AwsError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "com.amazonaws.lambda",
                "TooManyRequestsException",
                "Rate Exceeded.",
            ))
        }
        Err(InvokeError::Unavailable(reason)) => {
            return Err(AwsError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "com.amazonaws.lambda",
                "ServiceException",
                reason,
            ))
        }
        Err(InvokeError::NoSuchFunction(name)) => {
            return Err(AwsError::new(
                StatusCode::NOT_FOUND,
                "com.amazonaws.lambda",
                "ResourceNotFoundException",
                format!("Function not found: {name}"),
            ))
        }
        Err(error) => {
            futures_util::stream::iter([complete(completion_of(&error, timeout_secs))]).boxed()
        }
        Ok(InvokeResponse::Buffered(body)) => {
            let mut frames = payload_chunks(body);
            frames.push(complete(Completion::default()));
            futures_util::stream::iter(frames).boxed()
        }
        Ok(InvokeResponse::Streamed(stream)) => {
            // Each chunk goes out as it comes; the end (or the error that cut the stream
            // short) becomes the last event.
            let complete = Arc::new(complete);
            futures_util::stream::unfold(Some(stream.body), move |body| {
                let complete = complete.clone();
                async move {
                    let mut body = body?;
                    match body.next().await {
                        Some(Ok(chunk)) => Some((payload_chunks(chunk), Some(body))),
                        Some(Err(error)) => {
                            Some((vec![complete(completion_of(&error, timeout_secs))], None))
                        }
                        None => Some((vec![complete(Completion::default())], None)),
                    }
                }
            })
            .flat_map(futures_util::stream::iter)
            .boxed()
        }
    };
    let body = Body::from_stream(frames.map(Ok::<Bytes, std::convert::Infallible>));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    let executed = executed
        .and_then(|executed| HeaderValue::from_str(&executed).ok())
        .unwrap_or_else(|| HeaderValue::from_static("$LATEST"));
    headers.insert("x-amz-executed-version", executed);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;

    fn decoded(frame: Bytes) -> (Vec<(String, String)>, Bytes) {
        let message = read_message_from(frame).expect("a valid frame");
        let headers = message
            .headers()
            .iter()
            .map(|header| {
                let value = header
                    .value()
                    .as_string()
                    .expect("string headers")
                    .as_str()
                    .to_owned();
                (header.name().as_str().to_owned(), value)
            })
            .collect();
        (headers, message.payload().clone())
    }

    #[test]
    fn payload_chunks_and_invoke_complete_are_framed_as_aws_event_streams() {
        let frames = payload_chunks(Bytes::from_static(b"hello"));
        assert_eq!(frames.len(), 1);
        let (headers, payload) = decoded(frames[0].clone());
        assert_eq!(
            headers,
            [
                (":event-type".to_owned(), "PayloadChunk".to_owned()),
                (
                    ":content-type".to_owned(),
                    "application/octet-stream".to_owned()
                ),
                (":message-type".to_owned(), "event".to_owned()),
            ]
        );
        assert_eq!(payload, "hello");
        let (headers, payload) = decoded(invoke_complete(&completion_of(&InvokeError::Timeout, 3)));
        assert_eq!(headers[0].1, "InvokeComplete");
        assert_eq!(headers[1].1, "application/json");
        assert_eq!(
            payload,
            r#"{"ErrorCode":"Sandbox.Timedout","ErrorDetails":"Task timed out after 3.00 seconds"}"#
        );
        let (_, payload) = decoded(invoke_complete(&Completion::default()));
        assert_eq!(payload, "{}");
        assert!(payload_chunks(Bytes::new()).is_empty());
    }

    #[test]
    fn function_errors_report_their_type_and_message() {
        let error = InvokeError::FunctionError(Bytes::from_static(
            br#"{"errorMessage":"midway","errorType":"Error","trace":[]}"#,
        ));
        let completion = completion_of(&error, 3);
        assert_eq!(completion.error_code.as_deref(), Some("Error"));
        assert_eq!(completion.error_details.as_deref(), Some("midway"));
    }
}
