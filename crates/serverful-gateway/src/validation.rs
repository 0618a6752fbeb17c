//! REST API request validation: the checks a method's request validator makes before the
//! function is called, answered with API Gateway's 400s when they fail.
//!
//! As API Gateway does: required parameters first (present and not blank; all the missing
//! ones named, in the order of their `method.request.*` keys), then the body against the
//! method's model (JSON Schema draft 4; an empty body is validated as `{}`).

use axum::body::{Body, Bytes};
use axum::response::Response;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use percent_encoding::percent_decode_str;

/// What API Gateway checks before calling a method's integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestChecks {
    /// The JSON Schema (draft 4) bodies must match; `None` does not check bodies.
    pub body_schema: Option<serde_json::Value>,
    /// Query string parameters that must be present and not blank.
    pub required_query: Vec<String>,
    /// Headers that must be present and not blank.
    pub required_headers: Vec<String>,
}

impl RequestChecks {
    /// API Gateway's 400 when a required parameter is missing or blank.
    pub(crate) fn check_parameters(
        &self,
        raw_query: &str,
        headers: &HeaderMap,
    ) -> Option<Response> {
        let mut missing: Vec<(String, &str)> = Vec::new();
        for name in &self.required_headers {
            let present = headers
                .get_all(name.as_str())
                .iter()
                .any(|value| !value.as_bytes().trim_ascii().is_empty());
            if !present {
                missing.push((format!("method.request.header.{name}"), name));
            }
        }
        for name in &self.required_query {
            let present = raw_query.split('&').any(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                decode(key) == *name && !decode(value).trim().is_empty()
            });
            if !present {
                missing.push((format!("method.request.querystring.{name}"), name));
            }
        }
        if missing.is_empty() {
            return None;
        }
        missing.sort();
        let names: Vec<&str> = missing.iter().map(|(_, name)| *name).collect();
        Some(bad_request(&format!(
            "Missing required request parameters: [{}]",
            names.join(", ")
        )))
    }

    /// API Gateway's 400 when the body does not match the model.
    pub(crate) fn check_body(&self, body: &Bytes) -> Option<Response> {
        let schema = self.body_schema.as_ref()?;
        let instance: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
            serde_json::json!({})
        } else {
            match serde_json::from_slice(body) {
                Ok(instance) => instance,
                Err(_) => return Some(bad_request("Invalid request body")),
            }
        };
        let valid = match jsonschema::draft4::new(schema) {
            Ok(validator) => validator.is_valid(&instance),
            Err(error) => {
                // The template loader checks schemas, so this is a schema from elsewhere.
                tracing::error!("failed to compile a request model's schema: {error}");
                false
            }
        };
        (!valid).then(|| bad_request("Invalid request body"))
    }
}

fn decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

fn bad_request(message: &str) -> Response {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
