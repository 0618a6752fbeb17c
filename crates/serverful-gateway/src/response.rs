//! Turns a function's result into the HTTP response API Gateway would send: format 1.0
//! (`statusCode`, `headers`, `multiValueHeaders`, `body`, `isBase64Encoded`) and format 2.0
//! (the same plus `cookies`, and the inference rules for results without `statusCode`).

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value};

use crate::event::{matches_media_types, media_type};

/// A result API Gateway would refuse: it answers 502 and logs the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Malformed Lambda proxy response: {0}")]
pub(crate) struct MalformedResponse(pub(crate) String);

fn malformed(reason: impl Into<String>) -> MalformedResponse {
    MalformedResponse(reason.into())
}

/// The keys a REST API accepts in a proxy response; any other key makes it malformed.
const REST_RESPONSE_KEYS: [&str; 5] = [
    "statusCode",
    "headers",
    "multiValueHeaders",
    "body",
    "isBase64Encoded",
];

/// Which API Gateway reads the 1.0 result, and what the request asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct V1Context<'a> {
    pub(crate) is_rest: bool,
    pub(crate) binary_media_types: &'a [String],
    /// The request's `Accept` header, which REST APIs match against binary media types.
    pub(crate) accept: Option<&'a str>,
}

/// Format 1.0: the result must be an object with an integer `statusCode`.
pub(crate) fn v1_response(
    result: &[u8],
    context: V1Context<'_>,
) -> Result<Response, MalformedResponse> {
    let value: Value = serde_json::from_slice(result)
        .map_err(|e| malformed(format!("result is not JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(malformed("result is not a JSON object"));
    };
    if context.is_rest {
        if let Some(key) = object
            .keys()
            .find(|key| !REST_RESPONSE_KEYS.contains(&key.as_str()))
        {
            return Err(malformed(format!("unexpected key `{key}`")));
        }
    }
    let status = status_code(&object)?.ok_or_else(|| malformed("`statusCode` is missing"))?;
    let mut headers = HeaderMap::new();
    add_multi_value_headers(&mut headers, object.get("multiValueHeaders"))?;
    add_single_value_headers(&mut headers, object.get("headers"), true)?;
    let is_base64_encoded = base64_flag(&object)?;
    let body = match object.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) => {
            let decodes = is_base64_encoded
                && (!context.is_rest
                    || rest_returns_binary(context, headers.get(header::CONTENT_TYPE)));
            if decodes {
                decode_base64(text)?
            } else {
                // REST APIs without a matching binary media type pass the base64 text through.
                Bytes::from(text.clone())
            }
        }
        Some(_) => return Err(malformed("`body` is not a string")),
    };
    set_default_content_type(&mut headers);
    Ok(build(status, headers, body))
}

/// Format 2.0: an object with `statusCode` is a response; any other JSON value is the body of
/// a 200 `application/json` response.
pub(crate) fn v2_response(result: &[u8]) -> Result<Response, MalformedResponse> {
    let value: Value = serde_json::from_slice(result)
        .map_err(|e| malformed(format!("result is not JSON: {e}")))?;
    let object = match value {
        Value::Object(object) if object.contains_key("statusCode") => object,
        Value::String(text) => {
            // A returned string is the body itself, without JSON quotes (AWS's own example).
            return Ok(inferred(Bytes::from(text)));
        }
        _ => {
            // Anything else is sent as the function returned it.
            return Ok(inferred(Bytes::copy_from_slice(trim_ascii(result))));
        }
    };
    // HTTP APIs fall back to 200 for a null status, as for an absent one.
    let status = status_code(&object)?.unwrap_or(StatusCode::OK);
    let mut headers = HeaderMap::new();
    add_multi_value_headers(&mut headers, object.get("multiValueHeaders"))?;
    add_single_value_headers(&mut headers, object.get("headers"), false)?;
    if let Some(cookies) = object.get("cookies") {
        let Value::Array(cookies) = cookies else {
            return Err(malformed("`cookies` is not an array"));
        };
        for cookie in cookies {
            let Value::String(cookie) = cookie else {
                return Err(malformed("a cookie is not a string"));
            };
            let value = HeaderValue::from_str(cookie)
                .map_err(|_| malformed("a cookie is not a valid header value"))?;
            headers.append(header::SET_COOKIE, value);
        }
    }
    let is_base64_encoded = base64_flag(&object)?;
    let body = match object.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) if is_base64_encoded => decode_base64(text)?,
        Some(Value::String(text)) => Bytes::from(text.clone()),
        // HTTP APIs are lenient: a non-string body is sent as its JSON text.
        Some(other) => Bytes::from(other.to_string()),
    };
    set_default_content_type(&mut headers);
    Ok(build(status, headers, body))
}

/// The status and headers of a streamed response's HTTP prelude (the JSON before the eight
/// NUL bytes of `application/vnd.awslambda.http-integration-response`): `statusCode`
/// (200 when absent), `headers` and `cookies`, read with the 2.0 rules.
pub(crate) fn prelude_head(prelude: &[u8]) -> Result<(StatusCode, HeaderMap), MalformedResponse> {
    let value: Value = serde_json::from_slice(prelude)
        .map_err(|e| malformed(format!("the stream's prelude is not JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(malformed("the stream's prelude is not a JSON object"));
    };
    let status = status_code(&object)?.unwrap_or(StatusCode::OK);
    let mut headers = HeaderMap::new();
    add_multi_value_headers(&mut headers, object.get("multiValueHeaders"))?;
    add_single_value_headers(&mut headers, object.get("headers"), false)?;
    if let Some(cookies) = object.get("cookies") {
        let Value::Array(cookies) = cookies else {
            return Err(malformed("`cookies` is not an array"));
        };
        for cookie in cookies {
            let value = cookie
                .as_str()
                .and_then(|cookie| HeaderValue::from_str(cookie).ok())
                .ok_or_else(|| malformed("a cookie is not a valid header value"))?;
            headers.append(header::SET_COOKIE, value);
        }
    }
    Ok((status, headers))
}

fn inferred(body: Bytes) -> Response {
    let mut headers = HeaderMap::new();
    set_default_content_type(&mut headers);
    build(StatusCode::OK, headers, body)
}

fn build(status: StatusCode, headers: HeaderMap, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// `statusCode` as a status, `None` when null; an integer from 100 to 599 is required.
fn status_code(object: &Map<String, Value>) -> Result<Option<StatusCode>, MalformedResponse> {
    match object.get("statusCode") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => {
            // `200.0` is an integer too (some runtimes serialise numbers as floats).
            let integral = number.as_u64().or_else(|| {
                number
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1000.0)
                    .map(|f| f as u64)
            });
            let code = integral
                .and_then(|code| u16::try_from(code).ok())
                .filter(|code| (100..=599).contains(code))
                .ok_or_else(|| malformed(format!("`statusCode` {number} is not an HTTP status")))?;
            let status = StatusCode::from_u16(code)
                .map_err(|_| malformed(format!("`statusCode` {code}")))?;
            Ok(Some(status))
        }
        Some(other) => Err(malformed(format!("`statusCode` {other} is not an integer"))),
    }
}

fn base64_flag(object: &Map<String, Value>) -> Result<bool, MalformedResponse> {
    match object.get("isBase64Encoded") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        // Some runtimes serialise the flag as a string.
        Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(malformed(format!(
            "`isBase64Encoded` {other} is not a boolean"
        ))),
    }
}

fn decode_base64(text: &str) -> Result<Bytes, MalformedResponse> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map(Bytes::from)
        .map_err(|e| malformed(format!("`body` is not valid base64: {e}")))
}

/// A header value from JSON: strings as they are, numbers and booleans as their text.
fn header_value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Headers that describe the connection or the body's framing: the gateway sets them for
/// the body it actually sends, so a function's stale `Content-Length` cannot corrupt it.
fn is_framing_header(name: &HeaderName) -> bool {
    [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
    ]
    .contains(name)
}

fn header_pair(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), MalformedResponse> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| malformed(format!("invalid header name `{name}`")))?;
    let value = HeaderValue::from_str(value)
        .map_err(|_| malformed(format!("invalid value for header `{name}`")))?;
    Ok((name, value))
}

fn add_multi_value_headers(
    headers: &mut HeaderMap,
    multi: Option<&Value>,
) -> Result<(), MalformedResponse> {
    let object = match multi {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(object)) => object,
        Some(_) => return Err(malformed("`multiValueHeaders` is not an object")),
    };
    for (name, values) in object {
        let values = match values {
            Value::Array(values) => values.as_slice(),
            Value::Null => continue,
            _ => {
                return Err(malformed(format!(
                    "`multiValueHeaders.{name}` is not an array"
                )))
            }
        };
        for value in values.iter().filter_map(header_value_text) {
            let (name, value) = header_pair(name, &value)?;
            if !is_framing_header(&name) {
                headers.append(name, value);
            }
        }
    }
    Ok(())
}

/// Adds `headers` after `multiValueHeaders`; with `skip_duplicates` a pair already present
/// is not repeated (format 1.0 merges the two maps that way).
fn add_single_value_headers(
    headers: &mut HeaderMap,
    single: Option<&Value>,
    skip_duplicates: bool,
) -> Result<(), MalformedResponse> {
    let object = match single {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(object)) => object,
        Some(_) => return Err(malformed("`headers` is not an object")),
    };
    for (name, value) in object {
        let Some(value) = header_value_text(value) else {
            continue;
        };
        let (name, value) = header_pair(name, &value)?;
        if is_framing_header(&name) {
            continue;
        }
        if skip_duplicates
            && headers
                .get_all(&name)
                .iter()
                .any(|existing| *existing == value)
        {
            continue;
        }
        headers.append(name, value);
    }
    Ok(())
}

/// API Gateway answers `application/json` when the function sets no content type.
fn set_default_content_type(headers: &mut HeaderMap) {
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
}

/// A REST API turns a base64 body back into bytes only when the client accepts, or the
/// function returns, one of the API's binary media types.
fn rest_returns_binary(context: V1Context<'_>, content_type: Option<&HeaderValue>) -> bool {
    let accepts_binary = context.accept.is_some_and(|accept| {
        accept.split(',').map(media_type).any(|media| {
            !media.is_empty() && matches_media_types(&media, context.binary_media_types)
        })
    });
    let returns_binary = content_type
        .and_then(|value| value.to_str().ok())
        .is_some_and(|content_type| matches_media_types(content_type, context.binary_media_types));
    accepts_binary || returns_binary
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |end| end + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use expect_test::{expect, Expect};
    use http_body_util::BodyExt as _;

    use super::*;

    fn render(result: Result<Response, MalformedResponse>) -> String {
        let response = match result {
            Ok(response) => response,
            Err(error) => return format!("error: {error}"),
        };
        let (parts, body) = response.into_parts();
        let mut out = format!("{}\n", parts.status.as_u16());
        for (name, value) in &parts.headers {
            out.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        let bytes = futures_util::FutureExt::now_or_never(body.collect())
            .expect("an in-memory body is ready at once")
            .expect("an in-memory body cannot fail")
            .to_bytes();
        out.push_str(&format!("{:?}", String::from_utf8_lossy(&bytes)));
        out
    }

    fn check_v1(result: &str, expect: Expect) {
        let context = V1Context {
            is_rest: true,
            binary_media_types: &[],
            accept: None,
        };
        expect.assert_eq(&render(v1_response(result.as_bytes(), context)));
    }

    fn check_v2(result: &str, expect: Expect) {
        expect.assert_eq(&render(v2_response(result.as_bytes())));
    }

    #[test]
    fn v1_results() {
        check_v1(
            r#"{"statusCode":201,"headers":{"X-A":"1","x-b":2},"multiValueHeaders":{"x-a":["1","3"]},"body":"hi"}"#,
            expect![[r#"
                201
                x-a: 1
                x-a: 3
                x-b: 2
                content-type: application/json
                "hi""#]],
        );
        check_v1(
            r#"{"statusCode":200.0,"headers":{"Content-Length":"99","Connection":"close"},"body":"ok"}"#,
            expect![[r#"
                200
                content-type: application/json
                "ok""#]],
        );
        check_v1(
            r#"{"body":"hi"}"#,
            expect![[r#"error: Malformed Lambda proxy response: `statusCode` is missing"#]],
        );
        check_v1(
            r#""hi""#,
            expect![[r#"error: Malformed Lambda proxy response: result is not a JSON object"#]],
        );
        check_v1(
            r#"{"statusCode":"200"}"#,
            expect![[
                r#"error: Malformed Lambda proxy response: `statusCode` "200" is not an integer"#
            ]],
        );
        check_v1(
            r#"{"statusCode":200,"extra":1}"#,
            expect![[r#"error: Malformed Lambda proxy response: unexpected key `extra`"#]],
        );
        check_v1(
            r#"{"statusCode":99}"#,
            expect![[
                r#"error: Malformed Lambda proxy response: `statusCode` 99 is not an HTTP status"#
            ]],
        );
        check_v1(
            r#"{"statusCode":200,"headers":{"bad name":"x"}}"#,
            expect![[r#"error: Malformed Lambda proxy response: invalid header name `bad name`"#]],
        );
        check_v1(
            r#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true,"headers":{"content-type":"image/png"}}"#,
            expect![[r#"
                200
                content-type: image/png
                "aGk=""#]],
        );
    }

    #[test]
    fn v1_binary_with_media_types() {
        let types = ["image/*".to_owned()];
        let context = V1Context {
            is_rest: true,
            binary_media_types: &types,
            accept: Some("image/png"),
        };
        let result = r#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true}"#;
        expect![[r#"
            200
            content-type: application/json
            "hi""#]]
        .assert_eq(&render(v1_response(result.as_bytes(), context)));
    }

    #[test]
    fn v2_inference() {
        check_v2(
            r#""Hello from Lambda!""#,
            expect![[r#"
                200
                content-type: application/json
                "Hello from Lambda!""#]],
        );
        check_v2(
            " 42\n",
            expect![[r#"
                200
                content-type: application/json
                "42""#]],
        );
        check_v2(
            r#"{ "message": "Hello from Lambda!" }"#,
            expect![[r#"
                200
                content-type: application/json
                "{ \"message\": \"Hello from Lambda!\" }""#]],
        );
        check_v2(
            r#"{"statusCode":302,"headers":{"location":"/x"},"cookies":["a=1","b=2; Path=/"]}"#,
            expect![[r#"
                302
                location: /x
                set-cookie: a=1
                set-cookie: b=2; Path=/
                content-type: application/json
                """#]],
        );
        check_v2(
            "not json",
            expect![[
                r#"error: Malformed Lambda proxy response: result is not JSON: expected ident at line 1 column 2"#
            ]],
        );
        check_v2(
            r#"{"statusCode":200,"body":"%%%","isBase64Encoded":true}"#,
            expect![[
                r#"error: Malformed Lambda proxy response: `body` is not valid base64: Invalid symbol 37, offset 0."#
            ]],
        );
    }
}
