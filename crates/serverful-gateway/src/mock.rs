//! A REST API `MOCK` integration: API Gateway answers the request itself with the
//! integration response the template selects, and no function is called.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderName, HeaderValue, StatusCode};

/// What a `MOCK` integration answers every request with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockAnswer {
    pub status_code: u16,
    /// `Content-Type` of the answer: the response template's content type.
    pub content_type: String,
    pub body: String,
    /// Static `method.response.header.*` values.
    pub headers: BTreeMap<String, String>,
}

impl MockAnswer {
    pub(crate) fn response(&self) -> Response {
        let mut response = Response::new(Body::from(self.body.clone()));
        *response.status_mut() =
            StatusCode::from_u16(self.status_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&self.content_type) {
            headers.insert(header::CONTENT_TYPE, value);
        }
        for (name, value) in &self.headers {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(name), Ok(value)) => {
                    headers.insert(name, value);
                }
                _ => tracing::warn!(
                    "mock response header {name}: {value} is not a valid header; left out"
                ),
            }
        }
        response
    }
}
