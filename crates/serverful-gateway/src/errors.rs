//! The error responses API Gateway itself produces: a status and a `{"message": ...}` body.

use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderValue, StatusCode};

/// Why the gateway answers instead of the function.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GatewayError {
    #[error("no route matches the request")]
    NotFound,
    /// The request body is over API Gateway's 10 MB payload limit.
    #[error("request body over the gateway's limit")]
    RequestTooLarge,
    /// The function failed, could not run, or returned something that is not a response.
    #[error("integration failed")]
    InternalServerError,
    #[error("function timed out")]
    Timeout,
    #[error("function throttled")]
    Throttled,
    /// The invocation payload is over Lambda's limit.
    #[error("invocation payload over Lambda's limit")]
    PayloadTooLarge,
}

impl GatewayError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            GatewayError::NotFound => StatusCode::NOT_FOUND,
            GatewayError::RequestTooLarge | GatewayError::PayloadTooLarge => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            GatewayError::InternalServerError => StatusCode::BAD_GATEWAY,
            GatewayError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::Throttled => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The `message` API Gateway's default gateway response carries.
    pub(crate) fn message(&self) -> &'static str {
        match self {
            GatewayError::NotFound => "Not Found",
            GatewayError::RequestTooLarge | GatewayError::PayloadTooLarge => "Request Too Long",
            GatewayError::InternalServerError => "Internal server error",
            GatewayError::Timeout => "Endpoint request timed out",
            GatewayError::Throttled => "Too Many Requests",
        }
    }

    pub(crate) fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message() }).to_string();
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = self.status();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}
