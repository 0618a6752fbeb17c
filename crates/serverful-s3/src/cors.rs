//! Bucket CORS on the S3 endpoint, as S3 answers browsers: an `OPTIONS` preflight is
//! answered from the bucket's CORS rules (the first rule whose origin, method and
//! headers all match), or refused with S3's 403 `AccessForbidden`; an actual request
//! with an `Origin` gets the matching rule's `Access-Control-*` headers on its answer,
//! whatever that answer is. s3s routes no `OPTIONS`, so this wraps it in
//! [`crate::S3Endpoint`], before and after the operation.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::backend::ConfigurationKind;
use crate::configuration::{cors_rules, CorsRule};
use crate::S3Store;

const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/// Whether `origin` matches an `AllowedOrigin`, which may hold one `*` wildcard.
pub fn origin_matches(pattern: &str, origin: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == origin,
        Some((before, after)) => {
            origin.len() >= before.len() + after.len()
                && origin.starts_with(before)
                && origin.ends_with(after)
        }
    }
}

/// Whether a requested header is allowed by `AllowedHeader`s (names compare ignoring
/// case; a header may hold one `*` wildcard).
fn header_allowed(allowed: &[String], header: &str) -> bool {
    let header = header.to_ascii_lowercase();
    allowed
        .iter()
        .any(|pattern| origin_matches(&pattern.to_ascii_lowercase(), &header))
}

/// The first rule that allows `origin` to use `method` with `headers`.
pub fn matching_rule<'r>(
    rules: &'r [CorsRule],
    origin: &str,
    method: &str,
    headers: &[String],
) -> Option<&'r CorsRule> {
    rules.iter().find(|rule| {
        rule.allowed_origins
            .iter()
            .any(|pattern| origin_matches(pattern, origin))
            && rule.allowed_methods.iter().any(|allowed| allowed == method)
            && headers
                .iter()
                .all(|header| header_allowed(&rule.allowed_headers, header))
    })
}

/// The headers S3 adds for a matching rule.
fn allow_headers(
    rule: &CorsRule,
    origin: &str,
    requested_headers: &[String],
    headers: &mut HeaderMap,
) {
    let wildcard = rule.allowed_origins.iter().any(|pattern| pattern == "*");
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(
        "access-control-allow-origin",
        if wildcard { "*" } else { origin },
    );
    set(
        "access-control-allow-methods",
        &rule.allowed_methods.join(", "),
    );
    if !requested_headers.is_empty() {
        set(
            "access-control-allow-headers",
            &requested_headers.join(", "),
        );
    }
    if !rule.expose_headers.is_empty() {
        set(
            "access-control-expose-headers",
            &rule.expose_headers.join(", "),
        );
    }
    if let Some(max_age) = rule.max_age_seconds {
        set("access-control-max-age", &max_age.to_string());
    }
    if !wildcard {
        set("access-control-allow-credentials", "true");
    }
    set("vary", VARY);
}

/// The bucket (and whether a key follows it) a request names: by its host, virtual-hosted
/// style, or by the first segment of its path.
fn bucket_of(request: &axum::extract::Request) -> Option<(String, bool)> {
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str())
        })
        .unwrap_or_default();
    let path = request.uri().path().trim_start_matches('/');
    if let Some(bucket) = crate::endpoint::bucket_of_host(host) {
        return Some((bucket.to_owned(), !path.is_empty()));
    }
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let bucket = percent_encoding::percent_decode_str(bucket)
        .decode_utf8_lossy()
        .into_owned();
    (!bucket.is_empty()).then_some((bucket, !key.is_empty()))
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase()
}

/// S3's XML error for a refused preflight.
fn forbidden(message: &str, method: &str, resource_type: &str) -> Response {
    let request_id = new_request_id();
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessForbidden</Code><Message>{}</Message><Method>{}</Method><ResourceType>{resource_type}</ResourceType><RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>",
        escape(message),
        escape(method),
    );
    let mut response = xml_response(StatusCode::FORBIDDEN, body);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amz-request-id", value);
    }
    response
}

fn xml_response(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}

fn requested_headers(headers: &HeaderMap) -> Vec<String> {
    header_text(headers, "access-control-request-headers")
        .map(|list| {
            list.split(',')
                .map(|header| header.trim().to_ascii_lowercase())
                .filter(|header| !header.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

impl S3Store {
    fn cors_of(&self, bucket: &str) -> Option<Vec<CorsRule>> {
        match self.backend.configuration(bucket, ConfigurationKind::Cors) {
            Ok(stored) => stored.map(|stored| cors_rules(&stored.document)),
            Err(error) => {
                tracing::error!(bucket, "failed to read the CORS configuration: {error}");
                None
            }
        }
    }

    /// Whether a request is a CORS preflight, which S3 answers itself.
    pub(crate) fn is_preflight(request: &axum::extract::Request) -> bool {
        request.method() == Method::OPTIONS
    }

    /// Answers an `OPTIONS` preflight from the bucket's CORS rules.
    pub(crate) fn preflight(&self, request: &axum::extract::Request) -> Response {
        let mut response = self.answer_preflight(request);
        if !response.headers().contains_key("x-amz-request-id") {
            if let Ok(value) = HeaderValue::from_str(&new_request_id()) {
                response.headers_mut().insert("x-amz-request-id", value);
            }
        }
        response
    }

    fn answer_preflight(&self, request: &axum::extract::Request) -> Response {
        let headers = request.headers();
        let Some(origin) = header_text(headers, "origin") else {
            let mut response = xml_response(
                StatusCode::BAD_REQUEST,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>BadRequest</Code><Message>Insufficient information. Origin request header needed.</Message></Error>".to_owned(),
            );
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return response;
        };
        let method = header_text(headers, "access-control-request-method").unwrap_or_default();
        let Some((bucket, with_key)) = bucket_of(request) else {
            return forbidden("CORSResponse: Bucket not found", method, "BUCKET");
        };
        let resource_type = if with_key { "OBJECT" } else { "BUCKET" };
        if method.is_empty() {
            let mut response = xml_response(
                StatusCode::BAD_REQUEST,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>BadRequest</Code><Message>Invalid Access-Control-Request-Method: null</Message></Error>".to_owned(),
            );
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return response;
        }
        match self.backend.bucket(&bucket) {
            Ok(Some(_)) => {}
            Ok(None) => return forbidden("CORSResponse: Bucket not found", method, resource_type),
            Err(error) => {
                tracing::error!(bucket, "failed to read a bucket: {error}");
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return response;
            }
        }
        let Some(rules) = self.cors_of(&bucket) else {
            return forbidden(
                "CORSResponse: CORS is not enabled for this bucket.",
                method,
                resource_type,
            );
        };
        let requested = requested_headers(headers);
        match matching_rule(&rules, origin, method, &requested) {
            Some(rule) => {
                let mut response = Response::new(Body::empty());
                allow_headers(rule, origin, &requested, response.headers_mut());
                response
            }
            None => forbidden(
                "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
                method,
                resource_type,
            ),
        }
    }

    /// What an actual request from a browser (one with an `Origin`) needs on its answer:
    /// the bucket's matching rule, read before the request is served (a request may
    /// delete the bucket's configuration). `None` for a request without an origin.
    pub(crate) fn cors_for(&self, request: &axum::extract::Request) -> Option<CorsAnswer> {
        let origin = header_text(request.headers(), "origin")?.to_owned();
        let (bucket, _) = bucket_of(request)?;
        let rules = self.cors_of(&bucket)?;
        let rule = matching_rule(&rules, &origin, request.method().as_str(), &[]).cloned();
        Some(CorsAnswer { origin, rule })
    }
}

/// The CORS headers an actual request's answer gets.
#[derive(Debug)]
pub(crate) struct CorsAnswer {
    origin: String,
    /// The matching rule; without one the answer only varies by origin.
    rule: Option<CorsRule>,
}

impl CorsAnswer {
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        match &self.rule {
            Some(rule) => allow_headers(rule, &self.origin, &[], headers),
            None => {
                headers.insert("vary", HeaderValue::from_static(VARY));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        let owned = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect();
        CorsRule {
            allowed_origins: owned(origins),
            allowed_methods: owned(methods),
            allowed_headers: owned(headers),
            ..CorsRule::default()
        }
    }

    #[test]
    fn origins_match_with_one_wildcard() {
        assert!(origin_matches("*", "https://anything"));
        assert!(origin_matches(
            "https://*.example.com",
            "https://app.example.com"
        ));
        assert!(!origin_matches(
            "https://*.example.com",
            "https://example.com"
        ));
        assert!(!origin_matches(
            "https://*.example.com",
            "http://app.example.com"
        ));
        assert!(origin_matches(
            "http://localhost:3000",
            "http://localhost:3000"
        ));
        assert!(!origin_matches(
            "http://localhost:3000",
            "http://localhost:3001"
        ));
    }

    #[test]
    fn the_first_rule_matching_origin_method_and_headers_wins() {
        let rules = vec![
            rule(&["https://a.example"], &["GET"], &[]),
            rule(
                &["https://*.example"],
                &["PUT", "GET"],
                &["content-type", "x-amz-*"],
            ),
        ];
        let none: &[String] = &[];
        let matched = |origin: &str, method: &str, headers: &[String]| {
            matching_rule(&rules, origin, method, headers)
                .map(|rule| rules.iter().position(|candidate| candidate == rule))
        };
        assert_eq!(matched("https://a.example", "GET", none), Some(Some(0)));
        assert_eq!(matched("https://a.example", "PUT", none), Some(Some(1)));
        assert_eq!(
            matched(
                "https://b.example",
                "PUT",
                &["Content-Type".to_owned(), "x-amz-meta-owner".to_owned()]
            ),
            Some(Some(1))
        );
        assert_eq!(
            matched("https://b.example", "PUT", &["authorization".to_owned()]),
            None
        );
        assert_eq!(matched("https://b.example", "DELETE", none), None);
        assert_eq!(matched("https://elsewhere.test", "GET", none), None);
    }

    #[test]
    fn a_matching_rule_sets_the_allow_headers() {
        let mut headers = HeaderMap::new();
        let mut allowing = rule(&["https://*.example"], &["GET", "PUT"], &["*"]);
        allowing.expose_headers = vec!["ETag".to_owned()];
        allowing.max_age_seconds = Some(600);
        allow_headers(
            &allowing,
            "https://app.example",
            &["content-type".to_owned()],
            &mut headers,
        );
        let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        assert_eq!(
            text("access-control-allow-origin"),
            Some("https://app.example")
        );
        assert_eq!(text("access-control-allow-methods"), Some("GET, PUT"));
        assert_eq!(text("access-control-allow-headers"), Some("content-type"));
        assert_eq!(text("access-control-expose-headers"), Some("ETag"));
        assert_eq!(text("access-control-max-age"), Some("600"));
        assert_eq!(text("access-control-allow-credentials"), Some("true"));
        assert_eq!(text("vary"), Some(VARY));
        let mut headers = HeaderMap::new();
        allow_headers(&rule(&["*"], &["GET"], &[]), "https://x", &[], &mut headers);
        assert_eq!(
            headers
                .get("access-control-allow-origin")
                .map(|value| value.as_bytes()),
            Some(&b"*"[..])
        );
        assert!(headers.get("access-control-allow-credentials").is_none());
    }
}
