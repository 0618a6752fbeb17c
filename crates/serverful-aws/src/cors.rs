//! CORS for the JSON- and query-protocol services (DynamoDB, DynamoDB Streams, SQS, SNS,
//! EventBridge, Lambda), as their AWS endpoints do it, so that a page can call them with the
//! JS SDK: a browser's preflight (`OPTIONS` with `Origin`) is answered before any
//! signature check (preflights are never signed), echoing the requested method and headers
//! for two days; and every answer to a request with `Origin` (errors and authentication
//! failures included, or a page could not read them) allows any origin and exposes the
//! headers SDKs read.
//!
//! S3 is not covered: its CORS is each bucket's configuration (`serverful-s3`'s `cors.rs`),
//! so S3's requests never reach this module.

use axum::body::Body;
use axum::response::Response;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH, ORIGIN,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::router::REQUEST_ID_HEADER;

/// The headers a page's script may read. AWS's JSON endpoints expose the first four;
/// `x-amz-crc32` is added so that an SDK in a browser can check DynamoDB's body checksum
/// as it does outside one (an SDK skips the check when it cannot read the header).
pub const EXPOSE_HEADERS: &str =
    "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date,x-amz-crc32";

/// The headers exposed on the REST- and query-protocol services' answers: the same, and
/// Lambda's (`Invoke` reports a function's failure, its log tail and the version that ran
/// in headers, which AWS's Lambda endpoint exposes).
pub const REST_EXPOSE_HEADERS: &str = "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date,x-amz-crc32,x-amz-log-result,x-amz-function-error,x-amz-executed-version";

/// How long a browser may cache a preflight's answer: two days, as AWS answers.
pub const MAX_AGE_SECONDS: &str = "172800";

/// Whether `method` and `headers` make a CORS preflight: `OPTIONS` with an `Origin`.
pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS && headers.contains_key(ORIGIN)
}

/// The method a preflight asks for (`Access-Control-Request-Method`), if it names one.
pub(crate) fn requested_method(headers: &HeaderMap) -> Option<Method> {
    headers
        .get(ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|value| Method::from_bytes(value.as_bytes()).ok())
}

/// The answer to a preflight: `200`, no body, the requested method and headers allowed
/// for any origin.
pub(crate) fn preflight_response(request_headers: &HeaderMap, request_id: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if let Some(value) = request_headers.get(ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, value.clone());
    }
    if let Some(value) = request_headers.get(ACCESS_CONTROL_REQUEST_METHOD) {
        headers.insert(ACCESS_CONTROL_ALLOW_METHODS, value.clone());
    }
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    headers.insert(
        ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE_SECONDS),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

/// Adds the CORS headers of an actual (not preflight) answer to a request from a page,
/// one that carried `Origin`, exposing `exposed` ([`EXPOSE_HEADERS`] or
/// [`REST_EXPOSE_HEADERS`]).
pub(crate) fn add_response_headers(
    response: &mut Response,
    had_origin: bool,
    exposed: &'static str,
) {
    if !had_origin {
        return;
    }
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(exposed),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflights_echo_what_they_ask_for() {
        let mut request = HeaderMap::new();
        request.insert(ORIGIN, HeaderValue::from_static("https://app.example"));
        request.insert(
            ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("POST"),
        );
        request.insert(
            ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("content-type,x-amz-target,authorization"),
        );
        assert!(is_preflight(&Method::OPTIONS, &request));
        assert!(!is_preflight(&Method::POST, &request));
        assert_eq!(requested_method(&request), Some(Method::POST));
        let response = preflight_response(&request, "ID");
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        assert_eq!(header("access-control-allow-origin"), Some("*"));
        assert_eq!(
            header("access-control-allow-headers"),
            Some("content-type,x-amz-target,authorization")
        );
        assert_eq!(header("access-control-allow-methods"), Some("POST"));
        assert_eq!(header("access-control-max-age"), Some("172800"));
        assert_eq!(
            header("access-control-expose-headers"),
            Some(EXPOSE_HEADERS)
        );
        assert_eq!(header("content-length"), Some("0"));
        assert_eq!(header(REQUEST_ID_HEADER), Some("ID"));
    }

    #[test]
    fn answers_get_headers_only_for_pages() {
        let mut response = Response::new(Body::empty());
        add_response_headers(&mut response, false, EXPOSE_HEADERS);
        assert!(response.headers().is_empty());
        add_response_headers(&mut response, true, REST_EXPOSE_HEADERS);
        assert_eq!(
            response.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN),
            Some(&HeaderValue::from_static("*"))
        );
    }
}
