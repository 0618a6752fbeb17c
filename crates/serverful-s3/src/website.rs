//! Static website hosting: a bucket with a website configuration answers plain HTTP `GET`
//! and `HEAD` on its website host (`{bucket}.s3-website.{domain}`, and AWS's
//! `{bucket}.s3-website-{region}.amazonaws.com` and `{bucket}.s3-website.{region}...`),
//! as S3's website endpoint does: the index document for a folder, a redirect to add the
//! missing `/`, the error document for a 404, `RedirectAllRequestsTo`, and only objects
//! the bucket policy lets anyone read (`s3:GetObject` for the principal `*`), and the
//! conditional redirects of [`crate::website_routing`]. Errors are S3's HTML pages.

use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderValue, Method, StatusCode};
use serde_json::Value;

use crate::backend::{ConfigurationKind, ObjectRecord};
use crate::website_routing::{self, RoutingRule};
use crate::S3Store;

/// A bucket's website configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebsiteConfig {
    /// `IndexDocument.Suffix`, such as `index.html`.
    pub index: Option<String>,
    /// `ErrorDocument.Key`, served with the 404.
    pub error: Option<String>,
    /// `RedirectAllRequestsTo`: host name and protocol (`http` when not given).
    pub redirect_all: Option<(String, Option<String>)>,
    /// `RoutingRules`, in order.
    pub routing_rules: Vec<RoutingRule>,
}

impl WebsiteConfig {
    /// The configuration of a stored `WebsiteConfiguration` document (CloudFormation's
    /// shape: `IndexDocument: index.html`; the API's `IndexDocument.Suffix` is read too).
    pub fn from_document(document: &Value) -> WebsiteConfig {
        let text = |pointer: &str| {
            document
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        WebsiteConfig {
            index: text("/IndexDocument").or_else(|| text("/IndexDocument/Suffix")),
            error: text("/ErrorDocument").or_else(|| text("/ErrorDocument/Key")),
            redirect_all: text("/RedirectAllRequestsTo/HostName")
                .map(|host| (host, text("/RedirectAllRequestsTo/Protocol"))),
            // Checked when stored (deploy or PutBucketWebsite).
            routing_rules: website_routing::rules_of_document(document).unwrap_or_default(),
        }
    }
}

/// A website: its configuration and who may read it.
#[derive(Debug, Clone, Default)]
pub struct Website {
    pub config: WebsiteConfig,
    /// The bucket policy's statements about reading objects anonymously.
    pub public: PublicRead,
}

/// What a bucket policy lets anyone (`Principal: "*"`) read: resource patterns of its
/// `Allow` and `Deny` statements naming `s3:GetObject` (or a wildcard of it).
#[derive(Debug, Clone, Default)]
pub struct PublicRead {
    allow: Vec<String>,
    deny: Vec<String>,
}

impl PublicRead {
    /// Reads a bucket policy document; statements about others or other actions are left
    /// out.
    pub fn of_policy(policy: &Value) -> PublicRead {
        let mut read = PublicRead::default();
        let statements = match policy.get("Statement") {
            Some(Value::Array(statements)) => statements.clone(),
            Some(statement @ Value::Object(_)) => vec![statement.clone()],
            _ => Vec::new(),
        };
        for statement in statements {
            let anyone = match statement.get("Principal") {
                Some(Value::String(principal)) => principal == "*",
                Some(Value::Object(principal)) => strings(principal.get("AWS"))
                    .iter()
                    .any(|principal| principal == "*"),
                _ => false,
            };
            let reads = strings(statement.get("Action")).iter().any(|action| {
                serverful_aws::execute_api::wildcard_match(
                    &action.to_ascii_lowercase(),
                    "s3:getobject",
                )
            });
            if !anyone || !reads {
                continue;
            }
            let resources = strings(statement.get("Resource"));
            match statement.get("Effect").and_then(Value::as_str) {
                Some("Allow") => read.allow.extend(resources),
                Some("Deny") => read.deny.extend(resources),
                _ => {}
            }
        }
        read
    }

    /// Whether anyone may read `key` of `bucket`.
    pub fn allows(&self, bucket: &str, key: &str) -> bool {
        let arn = format!("arn:aws:s3:::{bucket}/{key}");
        let matches = |patterns: &[String]| {
            patterns
                .iter()
                .any(|pattern| serverful_aws::execute_api::wildcard_match(pattern, &arn))
        };
        !matches(&self.deny) && matches(&self.allow)
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The bucket a website host names: `{bucket}.s3-website.{domain}`,
/// `{bucket}.s3-website-{region}.amazonaws.com`, `{bucket}.s3-website.{region}.amazonaws.com`
/// (the host lower case, without its port).
pub fn bucket_of_host<'h>(host: &'h str, domain: &str) -> Option<&'h str> {
    if let Some(bucket) = host.strip_suffix(&format!(".s3-website.{domain}")) {
        return Some(bucket);
    }
    let rest = host.strip_suffix(".amazonaws.com")?;
    let (bucket, endpoint) = rest
        .split_once(".s3-website-")
        .or_else(|| rest.split_once(".s3-website."))?;
    (!endpoint.is_empty() && !endpoint.contains('.')).then_some(bucket)
}

fn html(status: StatusCode, code: &str, message: &str, key: Option<&str>) -> Response {
    let reason = status.canonical_reason().unwrap_or_default();
    let request_id = uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase();
    let key_line = key.map_or_else(String::new, |key| {
        format!("<li>Key: {}</li>\n", escape(key))
    });
    let body = format!(
        "<html>\n<head><title>{code_num} {reason}</title></head>\n<body>\n<h1>{code_num} {reason}</h1>\n<ul>\n<li>Code: {code}</li>\n<li>Message: {message}</li>\n{key_line}<li>RequestId: {request_id}</li>\n<li>HostId: {request_id}/serverful</li>\n</ul>\n<hr/>\n</body>\n</html>\n",
        code_num = status.as_u16(),
    );
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// S3's page for a refused read.
fn refusal(status: StatusCode) -> Response {
    if status == StatusCode::FORBIDDEN {
        html(status, "AccessDenied", "Access Denied", None)
    } else {
        html(
            status,
            "InternalError",
            "We encountered an internal error. Please try again.",
            None,
        )
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn redirect(status: StatusCode, location: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

impl S3Store {
    /// The bucket's website, from its stored website configuration and bucket policy;
    /// `None` without a website configuration (or when they could not be read).
    pub fn website(&self, bucket: &str) -> Option<Website> {
        let read = |kind| {
            self.backend
                .configuration(bucket, kind)
                .map_err(|error| tracing::error!(bucket, "website read failed: {error}"))
                .ok()
                .flatten()
        };
        let config = WebsiteConfig::from_document(&read(ConfigurationKind::Website)?.document);
        let public = read(ConfigurationKind::Policy)
            .map(|policy| PublicRead::of_policy(&policy.document))
            .unwrap_or_default();
        Some(Website { config, public })
    }

    /// Answers a request on `bucket`'s website host.
    pub async fn serve_website(&self, bucket: &str, request: axum::extract::Request) -> Response {
        let Some(site) = self.website(bucket) else {
            return html(
                StatusCode::NOT_FOUND,
                "NoSuchWebsiteConfiguration",
                "The specified bucket does not have a website configuration",
                None,
            );
        };
        let path = request.uri().path().to_owned();
        if let Some((host, protocol)) = &site.config.redirect_all {
            let protocol = protocol.as_deref().unwrap_or("http");
            let query = request
                .uri()
                .query()
                .map_or_else(String::new, |query| format!("?{query}"));
            return redirect(
                StatusCode::MOVED_PERMANENTLY,
                &format!("{protocol}://{host}{path}{query}"),
            );
        }
        let method = request.method().clone();
        if method != Method::GET && method != Method::HEAD {
            return html(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
                None,
            );
        }
        let head = method == Method::HEAD;
        let decoded = percent_encoding::percent_decode_str(path.trim_start_matches('/'))
            .decode_utf8_lossy()
            .into_owned();
        // The website's own host, where a rule's redirect goes unless it names another.
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .unwrap_or(bucket)
            .to_owned();
        let routed = |rule: &RoutingRule| {
            let (status, location) = rule.location(&decoded, &host, "http");
            redirect(status, &location)
        };
        if let Some(rule) = website_routing::before_reading(&site.config.routing_rules, &decoded) {
            return routed(rule);
        }
        let index = site.config.index.as_deref().unwrap_or("index.html");
        let key = if decoded.is_empty() || decoded.ends_with('/') {
            format!("{decoded}{index}")
        } else {
            decoded.clone()
        };
        match self.readable(bucket, &key, &site) {
            Ok(Some(object)) => return self.object_response(&object, StatusCode::OK, head).await,
            Ok(None) => {}
            Err(status) => {
                return match website_routing::on_error(&site.config.routing_rules, &decoded, status)
                {
                    Some(rule) => routed(rule),
                    None => refusal(status),
                }
            }
        }
        // `/docs` with `docs/index.html` present: S3 redirects to add the slash.
        if !decoded.is_empty() && !decoded.ends_with('/') {
            let folder_index = format!("{decoded}/{index}");
            if let Ok(Some(_)) = self.readable(bucket, &folder_index, &site) {
                return redirect(StatusCode::FOUND, &format!("{path}/"));
            }
        }
        if let Some(rule) =
            website_routing::on_error(&site.config.routing_rules, &decoded, StatusCode::NOT_FOUND)
        {
            return routed(rule);
        }
        if let Some(error_key) = &site.config.error {
            if let Ok(Some(object)) = self.readable(bucket, error_key, &site) {
                return self
                    .object_response(&object, StatusCode::NOT_FOUND, head)
                    .await;
            }
        }
        html(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
            Some(&key),
        )
    }

    /// The object, if it exists and anyone may read it; the refusal's status (403 when it
    /// may not be read, 500 when it could not be looked up) otherwise.
    fn readable(
        &self,
        bucket: &str,
        key: &str,
        site: &Website,
    ) -> Result<Option<ObjectRecord>, StatusCode> {
        let object = self.backend.object(bucket, key).map_err(|error| {
            tracing::error!(bucket, key, "website read failed: {error}");
            StatusCode::INTERNAL_SERVER_ERROR
        })?;
        if !site.public.allows(bucket, key) {
            // As S3: without public read, every key is forbidden, existing or not.
            return Err(StatusCode::FORBIDDEN);
        }
        Ok(object)
    }

    async fn object_response(
        &self,
        object: &ObjectRecord,
        status: StatusCode,
        head: bool,
    ) -> Response {
        // An object written with `x-amz-website-redirect-location` is a 301 on the website.
        if let Some(location) = &object.headers.website_redirect_location {
            return redirect(StatusCode::MOVED_PERMANENTLY, location);
        }
        let mut response = if head {
            Response::new(Body::empty())
        } else {
            match self.bodies.read(&object.body, 0, object.size).await {
                Ok(stream) => Response::new(Body::from_stream(stream)),
                Err(error) => {
                    tracing::error!(key = %object.key, "website read failed: {error}");
                    return html(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalError",
                        "We encountered an internal error. Please try again.",
                        None,
                    );
                }
            }
        };
        *response.status_mut() = status;
        let headers = response.headers_mut();
        let content_type = object
            .headers
            .content_type
            .as_deref()
            .unwrap_or("binary/octet-stream");
        if let Ok(value) = HeaderValue::from_str(content_type) {
            headers.insert(header::CONTENT_TYPE, value);
        }
        if let Ok(value) = HeaderValue::from_str(&format!("\"{}\"", object.etag)) {
            headers.insert(header::ETAG, value);
        }
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(object.size));
        for (name, value) in [
            (header::CONTENT_ENCODING, &object.headers.content_encoding),
            (header::CACHE_CONTROL, &object.headers.cache_control),
        ] {
            if let Some(value) = value
                .as_deref()
                .and_then(|value| HeaderValue::from_str(value).ok())
            {
                headers.insert(name, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn website_hosts_name_their_bucket() {
        assert_eq!(
            bucket_of_host("site.s3-website.localhost", "localhost"),
            Some("site")
        );
        assert_eq!(
            bucket_of_host("my.site.s3-website-us-east-1.amazonaws.com", "localhost"),
            Some("my.site")
        );
        assert_eq!(
            bucket_of_host("site.s3-website.eu-west-1.amazonaws.com", "localhost"),
            Some("site")
        );
        assert_eq!(bucket_of_host("site.s3.localhost", "localhost"), None);
        assert_eq!(
            bucket_of_host("dynamodb.us-east-1.amazonaws.com", "localhost"),
            None
        );
    }

    #[test]
    fn public_read_follows_the_policy() {
        let read = PublicRead::of_policy(&json!({
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": "arn:aws:s3:::site/*"},
                {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["s3:Get*"],
                 "Resource": "arn:aws:s3:::site/private/*"},
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
                 "Action": "s3:*", "Resource": "arn:aws:s3:::site/*"}
            ]
        }));
        assert!(read.allows("site", "index.html"));
        assert!(!read.allows("site", "private/key.pem"));
        assert!(!read.allows("other", "index.html"));
        assert!(!PublicRead::default().allows("site", "index.html"));
    }
}
