//! Builds the event a function receives: payload format 1.0 (REST API proxy event) or 2.0
//! (HTTP API event), field for field as API Gateway sends them.
//!
//! Fields API Gateway sends as `null` in 1.0 (absent headers, query, path parameters, stage
//! variables, body) are `null` here too; 2.0 omits them instead, as API Gateway does.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::percent_decode;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::routes::{RouteMatch, DEFAULT_ROUTE};
use crate::{ApiKind, ApiSpec, RouteSpec};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// What the gateway knows about one request, gathered before the route's event is built.
#[derive(Debug, Clone)]
pub(crate) struct RequestData {
    pub(crate) method: String,
    /// The path as received, percent-encoded, with any stage prefix.
    pub(crate) raw_path: String,
    /// The query as received, without `?`; empty when there is none.
    pub(crate) raw_query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// `HTTP/1.1`, `HTTP/2.0`, ...
    pub(crate) protocol: String,
    pub(crate) source_ip: String,
    /// `requestContext.requestId`.
    pub(crate) request_id: String,
    /// `requestContext.extendedRequestId` (REST APIs).
    pub(crate) extended_request_id: String,
    pub(crate) time: OffsetDateTime,
}

/// The gateway-wide values events report.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site<'a> {
    /// `host[:port]` when the request has no `Host` header.
    pub(crate) default_domain_name: &'a str,
    pub(crate) account_id: &'a str,
}

/// The event for `route`, in the payload format API Gateway uses for it.
pub(crate) fn build_event(
    site: Site<'_>,
    api: &ApiSpec,
    route: &RouteSpec,
    found: &RouteMatch,
    request: &RequestData,
) -> Value {
    match (api.kind, route.payload_format) {
        (ApiKind::Http, crate::PayloadFormat::V2) => v2_event(site, api, route, found, request),
        // REST APIs only know format 1.0, whatever the route says.
        _ => v1_event(site, api, route, found, request),
    }
}

fn v1_event(
    site: Site<'_>,
    api: &ApiSpec,
    route: &RouteSpec,
    found: &RouteMatch,
    request: &RequestData,
) -> Value {
    let mut headers = Map::new();
    let mut multi_value_headers: Map<String, Value> = Map::new();
    for (name, value) in &forwarded_headers(site, request) {
        let value = header_text(value.as_bytes());
        // A repeated header keeps its last value in `headers`, all of them in the multi map.
        headers.insert(name.as_str().to_owned(), Value::String(value.clone()));
        push_multi(&mut multi_value_headers, name.as_str(), value);
    }

    let query = parse_query(&request.raw_query);
    let mut query_string_parameters = Map::new();
    let mut multi_value_query: Map<String, Value> = Map::new();
    for (key, value) in query {
        query_string_parameters.insert(key.clone(), Value::String(value.clone()));
        push_multi(&mut multi_value_query, &key, value);
    }

    // A `$default` route of an HTTP API reached with format 1.0 reports the request path as
    // its resource, as API Gateway's own 1.0 example shows.
    let resource = if route.path == DEFAULT_ROUTE {
        found.api_path.clone()
    } else {
        route.path.clone()
    };
    let (body, is_base64_encoded) = v1_body(api, request);
    let domain_name = domain_name(site, request);
    let stage = found.stage.as_deref().unwrap_or(&api.stage_name);
    // REST APIs pass the path still percent-encoded and report it under the stage
    // (`/Prod/hello`) in the request context; on a custom domain both are the path as the
    // client sent it, base path included. HTTP APIs decode it.
    let (path, stage_path) = match api.kind {
        ApiKind::Rest if found.via_custom_domain => {
            (request.raw_path.clone(), request.raw_path.clone())
        }
        ApiKind::Rest => (
            found.api_path.clone(),
            format!("/{stage}{}", found.api_path),
        ),
        ApiKind::Http => {
            let decoded = percent_decode(request.raw_path.as_bytes())
                .decode_utf8_lossy()
                .into_owned();
            (decoded.clone(), decoded)
        }
    };

    let mut request_context = json!({
        "accountId": site.account_id,
        "apiId": api.api_id,
        "domainName": domain_name,
        "domainPrefix": domain_prefix(&domain_name),
        "extendedRequestId": request.extended_request_id,
        "httpMethod": request.method,
        "identity": {
            "accessKey": null,
            "accountId": null,
            "apiKey": null,
            "apiKeyId": null,
            "caller": null,
            "cognitoAuthenticationProvider": null,
            "cognitoAuthenticationType": null,
            "cognitoIdentityId": null,
            "cognitoIdentityPoolId": null,
            "principalOrgId": null,
            "sourceIp": request.source_ip,
            "user": null,
            "userAgent": user_agent(request),
            "userArn": null,
        },
        "path": stage_path,
        "protocol": request.protocol,
        "requestId": request.request_id,
        "requestTime": format_request_time(request.time),
        "requestTimeEpoch": epoch_millis(request.time),
        "resourceId": resource_id(&api.api_id, &route.method, &route.path),
        "resourcePath": resource,
        "stage": stage,
    });
    if api.kind == ApiKind::Http {
        // HTTP APIs have no resources: API Gateway sends `null` there.
        request_context["resourceId"] = Value::Null;
    }

    let mut event = json!({
        "resource": resource,
        "path": path,
        "httpMethod": request.method,
        "headers": object_or_null(headers),
        "multiValueHeaders": object_or_null(multi_value_headers),
        "queryStringParameters": object_or_null(query_string_parameters),
        "multiValueQueryStringParameters": object_or_null(multi_value_query),
        "pathParameters": string_map_or_null(&found.path_parameters),
        "stageVariables": string_map_or_null(&api.stage_variables),
        "requestContext": request_context,
        "body": body,
        "isBase64Encoded": is_base64_encoded,
    });
    if api.kind == ApiKind::Http {
        event["version"] = json!("1.0");
    }
    event
}

fn v2_event(
    site: Site<'_>,
    api: &ApiSpec,
    route: &RouteSpec,
    found: &RouteMatch,
    request: &RequestData,
) -> Value {
    let headers = forwarded_headers(site, request);
    let event = V2Event::new(site, api, route, found, request, &headers);
    serde_json::to_value(&event).expect("a V2Event always converts to JSON")
}

/// The payload format 2.0 event as bytes, written straight from the request without the
/// `serde_json::Value` tree [`build_event`] returns (building and dropping that tree was a
/// tenth of the gateway's own CPU per invocation). For a route whose answer needs no
/// change after it is built: no authorizer to add.
pub(crate) fn v2_payload(
    site: Site<'_>,
    api: &ApiSpec,
    route: &RouteSpec,
    found: &RouteMatch,
    request: &RequestData,
) -> Vec<u8> {
    let headers = forwarded_headers(site, request);
    let event = V2Event::new(site, api, route, found, request, &headers);
    serde_json::to_vec(&event).expect("a V2Event always serializes")
}

/// An HTTP API's payload format 2.0 event. Its fields are declared in the order of their
/// names, as `serde_json::Value`'s sorted maps write them, so that both ways of building
/// the event give the same bytes.
#[derive(serde::Serialize)]
struct V2Event<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cookies: Vec<String>,
    headers: BTreeMap<&'a str, String>,
    #[serde(rename = "isBase64Encoded")]
    is_base64_encoded: bool,
    #[serde(rename = "pathParameters", skip_serializing_if = "BTreeMap::is_empty")]
    path_parameters: &'a BTreeMap<String, String>,
    #[serde(
        rename = "queryStringParameters",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    query_string_parameters: BTreeMap<String, String>,
    #[serde(rename = "rawPath")]
    raw_path: String,
    #[serde(rename = "rawQueryString")]
    raw_query_string: &'a str,
    #[serde(rename = "requestContext")]
    request_context: V2RequestContext<'a>,
    #[serde(rename = "routeKey")]
    route_key: String,
    #[serde(rename = "stageVariables", skip_serializing_if = "BTreeMap::is_empty")]
    stage_variables: &'a BTreeMap<String, String>,
    version: &'static str,
}

/// `requestContext` of [`V2Event`], fields in name order.
#[derive(serde::Serialize)]
struct V2RequestContext<'a> {
    #[serde(rename = "accountId")]
    account_id: &'a str,
    #[serde(rename = "apiId")]
    api_id: &'a str,
    #[serde(rename = "domainName")]
    domain_name: String,
    #[serde(rename = "domainPrefix")]
    domain_prefix: String,
    http: V2Http<'a>,
    #[serde(rename = "requestId")]
    request_id: &'a str,
    #[serde(rename = "routeKey")]
    route_key: String,
    stage: &'a str,
    time: String,
    #[serde(rename = "timeEpoch")]
    time_epoch: i64,
}

/// `requestContext.http` of [`V2Event`], fields in name order.
#[derive(serde::Serialize)]
struct V2Http<'a> {
    method: &'a str,
    path: String,
    protocol: &'a str,
    #[serde(rename = "sourceIp")]
    source_ip: &'a str,
    /// Always a string in format 2.0, empty when the client sent none.
    #[serde(rename = "userAgent")]
    user_agent: String,
}

impl<'a> V2Event<'a> {
    /// The event of `request` on `route`, with `headers` (the request's and the
    /// `X-Forwarded-*` ones API Gateway adds).
    fn new(
        site: Site<'a>,
        api: &'a ApiSpec,
        route: &'a RouteSpec,
        found: &'a RouteMatch,
        request: &'a RequestData,
        headers: &'a HeaderMap,
    ) -> V2Event<'a> {
        let mut cookies = Vec::new();
        let mut header_values: BTreeMap<&str, String> = BTreeMap::new();
        for (name, value) in headers {
            let value = header_text(value.as_bytes());
            if name == http::header::COOKIE {
                // Cookies travel in their own field, one entry per cookie, not in `headers`.
                cookies.extend(
                    value
                        .split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                );
                continue;
            }
            // Header names are already lower case in `http`; repeated values join with
            // commas.
            match header_values.get_mut(name.as_str()) {
                Some(joined) => {
                    joined.push(',');
                    joined.push_str(&value);
                }
                None => {
                    header_values.insert(name.as_str(), value);
                }
            }
        }

        let mut query_string_parameters: BTreeMap<String, String> = BTreeMap::new();
        for (key, value) in parse_query(&request.raw_query) {
            match query_string_parameters.get_mut(&key) {
                Some(joined) => {
                    joined.push(',');
                    joined.push_str(&value);
                }
                None => {
                    query_string_parameters.insert(key, value);
                }
            }
        }

        let route_key = if route.path == DEFAULT_ROUTE {
            DEFAULT_ROUTE.to_owned()
        } else {
            format!("{} {}", route.method, route.path)
        };
        let domain_name = domain_name(site, request);
        // Despite its name, HTTP APIs send `rawPath` percent-decoded; the query stays
        // encoded.
        let raw_path = percent_decode(request.raw_path.as_bytes())
            .decode_utf8_lossy()
            .into_owned();
        let (body, is_base64_encoded) = v2_body(request);
        V2Event {
            body,
            cookies,
            headers: header_values,
            is_base64_encoded,
            path_parameters: &found.path_parameters,
            query_string_parameters,
            raw_path: raw_path.clone(),
            raw_query_string: &request.raw_query,
            request_context: V2RequestContext {
                account_id: site.account_id,
                api_id: &api.api_id,
                domain_prefix: domain_prefix(&domain_name),
                domain_name,
                http: V2Http {
                    method: &request.method,
                    path: raw_path,
                    protocol: &request.protocol,
                    source_ip: &request.source_ip,
                    user_agent: user_agent(request).unwrap_or_default(),
                },
                request_id: &request.request_id,
                route_key: route_key.clone(),
                stage: found.stage.as_deref().unwrap_or(&api.stage_name),
                time: format_request_time(request.time),
                time_epoch: epoch_millis(request.time),
            },
            route_key,
            stage_variables: &api.stage_variables,
            version: "2.0",
        }
    }
}

/// The request's headers plus the `X-Forwarded-*` headers API Gateway adds, so functions
/// can rebuild the URL the client used and see the client's address.
pub(crate) fn forwarded_headers(site: Site<'_>, request: &RequestData) -> HeaderMap {
    let mut headers = request.headers.clone();
    let forwarded_for = match headers.get(X_FORWARDED_FOR) {
        // API Gateway appends the address it saw to the chain the client sent.
        Some(chain) => format!("{}, {}", header_text(chain.as_bytes()), request.source_ip),
        None => request.source_ip.clone(),
    };
    let domain_name = domain_name(site, request);
    let port = match domain_name.rsplit_once(':') {
        Some((_, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => port,
        _ => "80",
    };
    let mut set = |name: HeaderName, value: &str, replace: bool| {
        if replace || !headers.contains_key(&name) {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
    };
    set(X_FORWARDED_FOR, &forwarded_for, true);
    set(X_FORWARDED_PORT, port, false);
    // The gateway listens on plain HTTP; a TLS proxy in front sets its own value.
    set(X_FORWARDED_PROTO, "http", false);
    headers
}

/// Format 1.0 body: text unless the content type is one of the API's binary media types or
/// the bytes are not UTF-8 (a JSON string cannot carry them).
fn v1_body(api: &ApiSpec, request: &RequestData) -> (Value, bool) {
    if request.body.is_empty() {
        return (Value::Null, false);
    }
    let content_type = content_type(&request.headers);
    let is_binary_type = content_type
        .as_deref()
        .is_some_and(|ct| matches_media_types(ct, &api.binary_media_types));
    match std::str::from_utf8(&request.body) {
        Ok(text) if !is_binary_type => (Value::String(text.to_owned()), false),
        _ => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(&request.body)),
            true,
        ),
    }
}

/// Format 2.0 body: HTTP APIs pass text content types as text and base64-encode the rest.
pub(crate) fn v2_body(request: &RequestData) -> (Option<String>, bool) {
    if request.body.is_empty() {
        return (None, false);
    }
    let is_text_type = content_type(&request.headers)
        .as_deref()
        .is_some_and(is_textual_media_type);
    match std::str::from_utf8(&request.body) {
        Ok(text) if is_text_type => (Some(text.to_owned()), false),
        _ => (
            Some(base64::engine::general_purpose::STANDARD.encode(&request.body)),
            true,
        ),
    }
}

/// The media type of a `Content-Type` value, lower case, without parameters.
pub(crate) fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::CONTENT_TYPE)?;
    Some(media_type(&String::from_utf8_lossy(value.as_bytes())))
}

/// Whether `content_type` is one of `binary_media_types` (`image/png`, `image/*`, `*/*`).
pub(crate) fn matches_media_types(content_type: &str, binary_media_types: &[String]) -> bool {
    let media = media_type(content_type);
    let (kind, subtype) = media.split_once('/').unwrap_or((media.as_str(), ""));
    binary_media_types.iter().any(|pattern| {
        // SAM templates write `/` as `~1` (JSON pointer escaping) in BinaryMediaTypes.
        let pattern = media_type(&pattern.replace("~1", "/"));
        let (pattern_kind, pattern_subtype) =
            pattern.split_once('/').unwrap_or((pattern.as_str(), ""));
        (pattern_kind == "*" || pattern_kind == kind)
            && (pattern_subtype == "*" || pattern_subtype == subtype)
    })
}

/// The media types HTTP APIs hand to functions as text.
fn is_textual_media_type(media: &str) -> bool {
    let media = media_type(media);
    media.starts_with("text/")
        || media.ends_with("+json")
        || media.ends_with("+xml")
        || matches!(
            media.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/ecmascript"
                | "application/x-javascript"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
                | "application/yaml"
                | "application/x-yaml"
        )
}

/// Splits a raw query into decoded pairs, in order. `+` is a space, as in HTML forms; a key
/// without `=` has an empty value.
pub(crate) fn parse_query(raw_query: &str) -> Vec<(String, String)> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_query_part(key), decode_query_part(value))
        })
        .collect()
}

fn decode_query_part(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_decode(spaced.as_bytes())
        .decode_utf8_lossy()
        .into_owned()
}

/// Header values may hold any byte but `\r\n\0`; functions get them as (lossy) UTF-8.
pub(crate) fn header_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn push_multi(map: &mut Map<String, Value>, key: &str, value: String) {
    match map.get_mut(key) {
        Some(Value::Array(values)) => values.push(Value::String(value)),
        _ => {
            map.insert(key.to_owned(), Value::Array(vec![Value::String(value)]));
        }
    }
}

fn object_or_null(map: Map<String, Value>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}

fn string_map_or_null(map: &BTreeMap<String, String>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        json!(map)
    }
}

pub(crate) fn user_agent(request: &RequestData) -> Option<String> {
    request
        .headers
        .get(http::header::USER_AGENT)
        .map(|v| header_text(v.as_bytes()))
}

pub(crate) fn domain_name(site: Site<'_>, request: &RequestData) -> String {
    match request.headers.get(http::header::HOST) {
        Some(host) if !host.is_empty() => header_text(host.as_bytes()),
        _ => site.default_domain_name.to_owned(),
    }
}

/// The first DNS label of the domain (`abc` of `abc.execute-api...`); an IP address or a
/// one-label name is its own prefix.
pub(crate) fn domain_prefix(domain_name: &str) -> String {
    let host = match domain_name.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => domain_name,
    };
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return host.to_owned();
    }
    host.split('.').next().unwrap_or(host).to_owned()
}

/// API Gateway's `requestTime`/`time` format: `09/Apr/2015:12:34:56 +0000`.
pub(crate) fn format_request_time(time: OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let utc = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        utc.day(),
        MONTHS[usize::from(u8::from(utc.month())) - 1],
        utc.year(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

pub(crate) fn epoch_millis(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A stable 10-character id for a REST resource, like the ids API Gateway assigns.
fn resource_id(api_id: &str, method: &str, path: &str) -> String {
    // FNV-1a: stable across runs and platforms, unlike the std hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in api_id
        .bytes()
        .chain([0])
        .chain(method.bytes())
        .chain([0])
        .chain(path.bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(6);
    for _ in 0..6 {
        id.push(char::from(ALPHABET[(hash % 36) as usize]));
        hash /= 36;
    }
    id
}

#[cfg(test)]
mod tests {
    use expect_test::{expect, Expect};

    use super::*;

    fn check_query(raw: &str, expect: Expect) {
        expect.assert_eq(&format!("{:?}", parse_query(raw)));
    }

    #[test]
    fn query_decoding() {
        check_query("", expect![[r#"[]"#]]);
        check_query(
            "a=1&a=2&b",
            expect![[r#"[("a", "1"), ("a", "2"), ("b", "")]"#]],
        );
        check_query(
            "q=hello+world%21&%C3%A9=%E2%82%AC&x=a%3Db&&bad=%ZZ&nonutf8=%FF",
            expect![[
                r#"[("q", "hello world!"), ("é", "€"), ("x", "a=b"), ("bad", "%ZZ"), ("nonutf8", "�")]"#
            ]],
        );
    }

    #[test]
    fn binary_media_type_patterns() {
        let types = vec![
            "image/png".to_owned(),
            "application~1octet-stream".to_owned(),
            "audio/*".to_owned(),
        ];
        let results: Vec<bool> = [
            "image/png",
            "IMAGE/PNG; q=1",
            "image/jpeg",
            "application/octet-stream",
            "audio/mpeg",
        ]
        .iter()
        .map(|ct| matches_media_types(ct, &types))
        .collect();
        expect![[r#"[true, true, false, true, true]"#]].assert_eq(&format!("{results:?}"));
        assert!(matches_media_types("text/plain", &["*/*".to_owned()]));
        assert!(!matches_media_types("text/plain", &[]));
    }

    #[test]
    fn textual_media_types() {
        let results: Vec<bool> = [
            "text/html; charset=utf-8",
            "application/json",
            "application/vnd.api+json",
            "application/x-www-form-urlencoded",
            "image/png",
            "application/octet-stream",
            "",
        ]
        .iter()
        .map(|media| is_textual_media_type(media))
        .collect();
        expect![[r#"[true, true, true, true, false, false, false]"#]]
            .assert_eq(&format!("{results:?}"));
    }

    #[test]
    fn request_time_format() {
        let time = OffsetDateTime::from_unix_timestamp(1_428_582_896).expect("a valid timestamp");
        expect![[r#"09/Apr/2015:12:34:56 +0000"#]].assert_eq(&format_request_time(time));
        assert_eq!(epoch_millis(time), 1_428_582_896_000);
    }

    #[test]
    fn domain_prefixes() {
        let prefixes: Vec<String> = [
            "abc.execute-api.us-east-1.amazonaws.com",
            "localhost:3000",
            "127.0.0.1:3000",
            "[::1]:3000",
        ]
        .iter()
        .map(|d| domain_prefix(d))
        .collect();
        expect![[r#"["abc", "localhost", "127.0.0.1", "[::1]"]"#]]
            .assert_eq(&format!("{prefixes:?}"));
    }

    #[test]
    fn resource_ids_are_stable() {
        let id = resource_id("abcdefghij", "GET", "/hello");
        assert_eq!(id.len(), 6);
        assert_eq!(id, resource_id("abcdefghij", "GET", "/hello"));
        assert_ne!(id, resource_id("abcdefghij", "GET", "/hello2"));
    }
}
