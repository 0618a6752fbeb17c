//! CORS as API Gateway applies an API's configuration: an HTTP API answers a preflight
//! (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) itself, 204, and adds its
//! headers to every response to an allowed origin, replacing the function's; a REST API
//! answers `OPTIONS` on each of its paths as the mock method SAM adds for `Cors` does, 200,
//! unless the path has an `OPTIONS` method of its own.

use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::route_set::RouteSet;
use crate::{ApiKind, ApiSpec};

/// An API's CORS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsConfig {
    /// `*` or origins (`https://example.com`).
    pub allow_origins: Vec<String>,
    /// Empty: a REST API allows each path's methods and `OPTIONS`.
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    /// HTTP APIs only.
    pub expose_headers: Vec<String>,
    pub max_age: Option<u32>,
    pub allow_credentials: bool,
}

const ALLOW_ORIGIN: HeaderName = HeaderName::from_static("access-control-allow-origin");
const ALLOW_METHODS: HeaderName = HeaderName::from_static("access-control-allow-methods");
const ALLOW_HEADERS: HeaderName = HeaderName::from_static("access-control-allow-headers");
const EXPOSE_HEADERS: HeaderName = HeaderName::from_static("access-control-expose-headers");
const MAX_AGE: HeaderName = HeaderName::from_static("access-control-max-age");
const ALLOW_CREDENTIALS: HeaderName = HeaderName::from_static("access-control-allow-credentials");
const REQUEST_METHOD: HeaderName = HeaderName::from_static("access-control-request-method");

fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

impl CorsConfig {
    /// The `Access-Control-Allow-Origin` for a request from `origin`, if it is allowed.
    fn allowed_origin(&self, origin: &str) -> Option<String> {
        if self.allow_origins.iter().any(|allowed| allowed == "*") {
            return Some("*".to_owned());
        }
        self.allow_origins
            .iter()
            .find(|allowed| allowed.eq_ignore_ascii_case(origin) || wildcard_match(allowed, origin))
            .map(|_| origin.to_owned())
    }
}

/// API Gateway accepts one `*` inside an origin (`https://*.example.com`).
fn wildcard_match(pattern: &str, origin: &str) -> bool {
    let Some((head, tail)) = pattern.split_once('*') else {
        return false;
    };
    origin.len() >= head.len() + tail.len()
        && origin[..head.len()].eq_ignore_ascii_case(head)
        && origin[origin.len() - tail.len()..].eq_ignore_ascii_case(tail)
}

/// The answer to an `OPTIONS` request that CORS takes instead of a route, if any.
/// `explicit_options` says whether the request found an `OPTIONS` route of its own.
pub(crate) fn preflight(
    routes: &RouteSet,
    host: Option<&str>,
    path: &str,
    headers: &HeaderMap,
    explicit_options: bool,
) -> Option<(ApiKind, Response)> {
    let (api, methods) = routes.resource(host, path)?;
    let cors = api.cors.as_ref()?;
    match api.kind {
        ApiKind::Http => http_preflight(cors, headers, StatusCode::NO_CONTENT)
            .map(|response| (ApiKind::Http, response)),
        ApiKind::Rest => {
            if explicit_options {
                return None;
            }
            let mut response = Response::new(axum::body::Body::empty());
            let headers_out = response.headers_mut();
            set(
                headers_out,
                http::header::CONTENT_TYPE.clone(),
                "application/json",
            );
            set(
                headers_out,
                ALLOW_ORIGIN,
                cors.allow_origins.first().map_or("*", String::as_str),
            );
            let methods = if cors.allow_methods.is_empty() {
                let mut methods = methods;
                methods.push("OPTIONS".to_owned());
                methods.sort();
                methods.dedup();
                methods
            } else {
                cors.allow_methods.clone()
            };
            set(headers_out, ALLOW_METHODS, &methods.join(","));
            if !cors.allow_headers.is_empty() {
                set(headers_out, ALLOW_HEADERS, &cors.allow_headers.join(","));
            }
            if let Some(max_age) = cors.max_age {
                set(headers_out, MAX_AGE, &max_age.to_string());
            }
            if cors.allow_credentials {
                set(headers_out, ALLOW_CREDENTIALS, "true");
            }
            Some((ApiKind::Rest, response))
        }
    }
}

/// The answer to a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
/// as HTTP APIs and function URLs give it, with `status`: the allowed origin, methods,
/// headers, max age and credentials when the origin is allowed, none of them otherwise.
/// `None` when the request is not a preflight.
pub(crate) fn http_preflight(
    cors: &CorsConfig,
    headers: &HeaderMap,
    status: StatusCode,
) -> Option<Response> {
    let origin = headers
        .get(http::header::ORIGIN)
        .and_then(|value| value.to_str().ok());
    if origin.is_none() || !headers.contains_key(REQUEST_METHOD) {
        return None;
    }
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = status;
    if let Some(allowed) = origin.and_then(|origin| cors.allowed_origin(origin)) {
        let headers_out = response.headers_mut();
        set(headers_out, ALLOW_ORIGIN, &allowed);
        if !cors.allow_methods.is_empty() {
            set(headers_out, ALLOW_METHODS, &cors.allow_methods.join(","));
        }
        if !cors.allow_headers.is_empty() {
            set(headers_out, ALLOW_HEADERS, &cors.allow_headers.join(","));
        }
        if let Some(max_age) = cors.max_age {
            set(headers_out, MAX_AGE, &max_age.to_string());
        }
        if cors.allow_credentials {
            set(headers_out, ALLOW_CREDENTIALS, "true");
        }
    }
    Some(response)
}

/// An HTTP API's headers on a response to a request from an allowed origin, in place of
/// any the function set.
pub(crate) fn decorate(
    api: &ApiSpec,
    origin: Option<&HeaderValue>,
    response: Response,
) -> Response {
    match (api.kind, api.cors.as_ref()) {
        (ApiKind::Http, Some(cors)) => decorate_with(cors, origin, response),
        _ => response,
    }
}

/// `cors`'s headers on a response to a request from an allowed origin, in place of any the
/// function set (HTTP APIs and function URLs).
pub(crate) fn decorate_with(
    cors: &CorsConfig,
    origin: Option<&HeaderValue>,
    mut response: Response,
) -> Response {
    let Some(allowed) = origin
        .and_then(|origin| origin.to_str().ok())
        .and_then(|origin| cors.allowed_origin(origin))
    else {
        return response;
    };
    let headers = response.headers_mut();
    for name in [
        ALLOW_ORIGIN,
        ALLOW_METHODS,
        ALLOW_HEADERS,
        EXPOSE_HEADERS,
        MAX_AGE,
        ALLOW_CREDENTIALS,
    ] {
        headers.remove(name);
    }
    set(headers, ALLOW_ORIGIN, &allowed);
    if !cors.expose_headers.is_empty() {
        set(headers, EXPOSE_HEADERS, &cors.expose_headers.join(","));
    }
    if cors.allow_credentials {
        set(headers, ALLOW_CREDENTIALS, "true");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_exactly_by_wildcard_or_star() {
        let cors = CorsConfig {
            allow_origins: vec![
                "https://app.example".to_owned(),
                "https://*.shop.example".to_owned(),
            ],
            ..CorsConfig::default()
        };
        assert_eq!(
            cors.allowed_origin("https://app.example").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            cors.allowed_origin("https://a.shop.example").as_deref(),
            Some("https://a.shop.example")
        );
        assert_eq!(cors.allowed_origin("https://evil.example"), None);
        assert_eq!(cors.allowed_origin("https://shop.example"), None);
        let open = CorsConfig {
            allow_origins: vec!["*".to_owned()],
            ..CorsConfig::default()
        };
        assert_eq!(
            open.allowed_origin("https://any.example").as_deref(),
            Some("*")
        );
    }
}
