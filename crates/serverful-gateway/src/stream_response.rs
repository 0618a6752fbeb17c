//! A streamed function response sent on as an HTTP response while the function writes it
//! (function URLs in `RESPONSE_STREAM` mode). A stream of content type
//! `application/vnd.awslambda.http-integration-response` starts with a JSON prelude
//! (status, headers, cookies) and eight NUL bytes; any other stream is the body of a 200
//! whose content type is the stream's (`application/octet-stream` when it names none).
//!
//! The response's head waits for the first bytes of the body (or its end), so a function
//! that fails before writing anything gets the same 502 as a buffered one. A failure
//! midway can only cut the body short: the connection is closed without the chunked
//! body's last chunk, so the client sees the response as incomplete.

use axum::body::Body;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use http::{header, HeaderValue, StatusCode};
use serverful_invoke::{FunctionRef, InvokeError, ResponseStream};

use crate::response::{prelude_head, MalformedResponse};

/// The content type of a stream that starts with an HTTP prelude.
pub(crate) const HTTP_INTEGRATION_RESPONSE: &str =
    "application/vnd.awslambda.http-integration-response";

/// What ends the prelude.
const PRELUDE_DELIMITER: [u8; 8] = [0; 8];

/// The most a prelude may take before its delimiter; a stream that goes on longer has none.
const MAX_PRELUDE_BYTES: usize = 1024 * 1024;

/// Why a stream could not become a response: the function failed before its body began,
/// or its prelude is not one.
pub(crate) enum StreamFailure {
    Invoke(InvokeError),
    Malformed(MalformedResponse),
}

/// The HTTP response for `stream`, whose body follows the function's writes.
pub(crate) async fn streamed_response(
    function: &FunctionRef,
    stream: ResponseStream,
) -> Result<Response, StreamFailure> {
    let ResponseStream {
        content_type,
        mut body,
    } = stream;
    let has_prelude = content_type
        .as_deref()
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| {
            media_type
                .trim()
                .eq_ignore_ascii_case(HTTP_INTEGRATION_RESPONSE)
        });
    let mut read = BytesMut::new();
    let (status, mut headers, first) = if has_prelude {
        let delimiter_at = loop {
            if let Some(at) = read
                .windows(PRELUDE_DELIMITER.len())
                .position(|window| window == PRELUDE_DELIMITER)
            {
                break at;
            }
            if read.len() > MAX_PRELUDE_BYTES {
                return Err(StreamFailure::Malformed(MalformedResponse(
                    "the stream's prelude has no end".to_owned(),
                )));
            }
            match body.next().await {
                Some(Ok(chunk)) => read.extend_from_slice(&chunk),
                Some(Err(error)) => return Err(StreamFailure::Invoke(error)),
                None => {
                    return Err(StreamFailure::Malformed(MalformedResponse(
                        "the stream ended inside its prelude".to_owned(),
                    )))
                }
            }
        };
        let rest = read.split_off(delimiter_at + PRELUDE_DELIMITER.len());
        let (status, headers) =
            prelude_head(&read[..delimiter_at]).map_err(StreamFailure::Malformed)?;
        (status, headers, rest.freeze())
    } else {
        let first = match body.next().await {
            Some(Ok(chunk)) => chunk,
            Some(Err(error)) => return Err(StreamFailure::Invoke(error)),
            None => Bytes::new(),
        };
        let mut headers = http::HeaderMap::new();
        if let Some(value) = content_type.and_then(|value| HeaderValue::from_str(&value).ok()) {
            headers.insert(header::CONTENT_TYPE, value);
        }
        (StatusCode::OK, headers, first)
    };
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
    }
    // The length is unknown until the function is done: the body goes out chunked.
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRANSFER_ENCODING);
    let function = function.clone();
    let rest = body.map(move |item| {
        item.inspect_err(|error| {
            tracing::error!(%function, "streamed response ended midway: {error}");
        })
    });
    let chunks = futures_util::stream::iter((!first.is_empty()).then_some(Ok(first))).chain(rest);
    let mut response = Response::new(Body::from_stream(chunks));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    fn stream(
        content_type: Option<&str>,
        items: Vec<Result<&'static str, InvokeError>>,
    ) -> ResponseStream {
        ResponseStream {
            content_type: content_type.map(str::to_owned),
            body: futures_util::stream::iter(
                items
                    .into_iter()
                    .map(|item| item.map(|text| Bytes::from_static(text.as_bytes()))),
            )
            .boxed(),
        }
    }

    async fn answer(
        stream: ResponseStream,
    ) -> Result<(u16, http::HeaderMap, Result<String, String>), String> {
        let function = FunctionRef::new("app", "Streamer");
        match streamed_response(&function, stream).await {
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map(|collected| String::from_utf8_lossy(&collected.to_bytes()).into_owned())
                    .map_err(|error| error.to_string());
                Ok((status, headers, body))
            }
            Err(StreamFailure::Invoke(error)) => Err(format!("invoke: {error}")),
            Err(StreamFailure::Malformed(error)) => Err(format!("malformed: {error}")),
        }
    }

    #[tokio::test]
    async fn the_prelude_gives_status_headers_and_cookies() {
        let (status, headers, body) = answer(stream(
            Some(HTTP_INTEGRATION_RESPONSE),
            vec![
                Ok(r#"{"statusCode":201,"headers":{"content-type":"text/html","x-a":"1"},"#),
                Ok(r#""cookies":["a=1","b=2"]}"#),
                Ok("\0\0\0\0\0\0\0\0<p>"),
                Ok("hi</p>"),
            ],
        ))
        .await
        .expect("a response");
        assert_eq!(status, 201);
        assert_eq!(headers["content-type"], "text/html");
        assert_eq!(headers["x-a"], "1");
        let cookies: Vec<_> = headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(body.expect("whole"), "<p>hi</p>");
    }

    #[tokio::test]
    async fn a_stream_without_prelude_is_a_200_of_its_content_type() {
        let (status, headers, body) = answer(stream(None, vec![Ok("a"), Ok("b")]))
            .await
            .expect("a response");
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "application/octet-stream");
        assert_eq!(body.expect("whole"), "ab");
        let (_, headers, _) = answer(stream(Some("text/plain"), vec![]))
            .await
            .expect("a response");
        assert_eq!(headers["content-type"], "text/plain");
    }

    #[tokio::test]
    async fn failures_before_the_body_are_errors_and_after_it_cut_it_short() {
        let early = answer(stream(None, vec![Err(InvokeError::Timeout)])).await;
        assert_eq!(
            early.expect_err("no response"),
            "invoke: function timed out"
        );
        let no_end = answer(stream(Some(HTTP_INTEGRATION_RESPONSE), vec![Ok("{}")])).await;
        assert!(no_end.expect_err("no response").starts_with("malformed"));
        let (status, _, body) = answer(stream(None, vec![Ok("a"), Err(InvokeError::Timeout)]))
            .await
            .expect("a response");
        assert_eq!(status, 200);
        assert!(body.is_err(), "the body must end in an error");
    }
}
