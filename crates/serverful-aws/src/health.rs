//! The health check AWS's DynamoDB endpoints answer: an unsigned `GET /` gets `200` and
//! `healthy: dynamodb.{region}.amazonaws.com ` (trailing space included, no content type),
//! with DynamoDB's `x-amz-crc32` and request id. Container health checks and tools that
//! wait for DynamoDB to come up poll exactly this. DynamoDB Streams' host answers the same
//! with its own name.

use axum::body::Body;
use axum::response::Response;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Method, StatusCode};

use crate::host::HostService;
use crate::router::{CRC32_HEADER, REQUEST_ID_HEADER};

/// Whether `request` is a health check: an unsigned `GET` or `HEAD` of `/` without a
/// query, no `X-Amz-Target`, to a host DynamoDB answers for.
pub(crate) fn is_health_check(request: &axum::extract::Request, host: HostService) -> bool {
    let method = request.method();
    (method == Method::GET || method == Method::HEAD)
        && request.uri().path() == "/"
        && request.uri().query().is_none_or(str::is_empty)
        && !request.headers().contains_key(AUTHORIZATION)
        && !request.headers().contains_key("x-amz-target")
        && host.is_dynamodb()
}

/// The health check's body for `host` in `region`.
pub(crate) fn body(host: HostService, region: &str) -> String {
    let service = match host {
        HostService::DynamoDbStreams => "streams.dynamodb",
        _ => "dynamodb",
    };
    format!("healthy: {service}.{region}.amazonaws.com ")
}

/// The health check's answer. A `HEAD` gets the same headers; the server sends no body.
pub(crate) fn response(host: HostService, region: &str, request_id: &str) -> Response {
    let body = body(host, region);
    let crc = crc32fast::hash(body.as_bytes());
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CRC32_HEADER, HeaderValue::from(crc));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_name_the_service_and_region_with_a_trailing_space() {
        assert_eq!(
            body(HostService::Unnamed, "us-east-1"),
            "healthy: dynamodb.us-east-1.amazonaws.com "
        );
        assert_eq!(
            body(HostService::DynamoDbStreams, "eu-west-1"),
            "healthy: streams.dynamodb.eu-west-1.amazonaws.com "
        );
        // DynamoDB's own figure for us-east-1, as its clients see it.
        assert_eq!(
            crc32fast::hash(body(HostService::DynamoDb, "us-east-1").as_bytes()),
            3_128_867_991
        );
    }
}
