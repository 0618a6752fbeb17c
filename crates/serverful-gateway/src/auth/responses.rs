//! The refusals API Gateway answers for authorizers, in each API flavour's shape: REST APIs'
//! gateway responses (`UNAUTHORIZED`, `ACCESS_DENIED`, `AUTHORIZER_CONFIGURATION_ERROR`,
//! with their `x-amzn-ErrorType`) and HTTP APIs' plain messages.

use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Value};

use crate::ApiKind;

const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

fn response(status: StatusCode, body: Value, error_type: Option<&'static str>) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(error_type) = error_type {
        response
            .headers_mut()
            .insert(ERROR_TYPE, HeaderValue::from_static(error_type));
    }
    response
}

/// No identity, a token the validation expression refuses, or an authorizer that threw
/// `Unauthorized`: 401.
pub(super) fn unauthorized(kind: ApiKind) -> Response {
    let error_type = (kind == ApiKind::Rest).then_some("UnauthorizedException");
    response(
        StatusCode::UNAUTHORIZED,
        json!({ "message": "Unauthorized" }),
        error_type,
    )
}

/// A policy with a `Deny` for the method: 403.
pub(super) fn explicit_deny(kind: ApiKind) -> Response {
    match kind {
        ApiKind::Rest => response(
            StatusCode::FORBIDDEN,
            json!({ "Message": "User is not authorized to access this resource with an explicit deny" }),
            Some("AccessDeniedException"),
        ),
        ApiKind::Http => forbidden(),
    }
}

/// A policy that allows other methods only, or `isAuthorized: false`: 403.
pub(super) fn not_allowed(kind: ApiKind) -> Response {
    match kind {
        ApiKind::Rest => response(
            StatusCode::FORBIDDEN,
            json!({ "Message": "User is not authorized to access this resource" }),
            Some("AccessDeniedException"),
        ),
        ApiKind::Http => forbidden(),
    }
}

/// HTTP APIs' 403.
pub(super) fn forbidden() -> Response {
    response(
        StatusCode::FORBIDDEN,
        json!({ "message": "Forbidden" }),
        None,
    )
}

/// The authorizer failed, timed out, or answered something that is not a valid answer:
/// 500, with REST APIs' famous `null` message.
pub(super) fn authorizer_error(kind: ApiKind) -> Response {
    match kind {
        ApiKind::Rest => response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "message": null }),
            Some("AuthorizerConfigurationException"),
        ),
        ApiKind::Http => response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "message": "Internal Server Error" }),
            None,
        ),
    }
}

/// A JWT refusal: 401 (or 403 for missing scopes) with the `www-authenticate` header
/// saying why, as HTTP APIs send it.
pub(super) fn jwt_refusal(status: StatusCode, www_authenticate: &str) -> Response {
    let body = if status == StatusCode::FORBIDDEN {
        json!({ "message": "Forbidden" })
    } else {
        json!({ "message": "Unauthorized" })
    };
    let mut refusal = response(status, body, None);
    if let Ok(value) = HeaderValue::from_str(www_authenticate) {
        refusal
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    refusal
}

/// An `AWS_IAM` refusal: 403 with the signature problem, as API Gateway words it.
/// A signed request whose signer may not call the route (`execute-api:Invoke`).
pub(super) fn iam_denied(kind: ApiKind, message: &str) -> Response {
    match kind {
        ApiKind::Rest => response(
            StatusCode::FORBIDDEN,
            json!({ "Message": message }),
            Some("AccessDeniedException"),
        ),
        ApiKind::Http => forbidden(),
    }
}

pub(super) fn iam_refusal(kind: ApiKind, message: &str) -> Response {
    match kind {
        ApiKind::Rest => response(
            StatusCode::FORBIDDEN,
            json!({ "message": message }),
            Some(if message == "Missing Authentication Token" {
                "MissingAuthenticationTokenException"
            } else {
                "InvalidSignatureException"
            }),
        ),
        ApiKind::Http => forbidden(),
    }
}
