//! Tests of SigV4 verification: AWS's published test suite, requests signed by botocore,
//! then each failure and its exact message.

use expect_test::{expect, Expect};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::*;

fn fixture(name: &str) -> Value {
    let path = format!("{}/test_data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture file is checked in");
    serde_json::from_str(&text).expect("fixture is valid JSON")
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().expect("fixture field is a string")
}

/// A request of AWS's suite, parsed from its raw HTTP text.
struct RawRequest {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn parse_raw_request(raw: &str) -> RawRequest {
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw, ""));
    let mut lines = head.lines();
    let request_line = lines.next().expect("request line");
    let method = request_line.split(' ').next().expect("method").to_owned();
    let uri = request_line
        .strip_prefix(&format!("{method} "))
        .and_then(|rest| rest.strip_suffix(" HTTP/1.1"))
        .expect("request line ends with the version");
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').expect("header line");
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    RawRequest {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn suite_credentials(suite: &Value) -> Credentials {
    Credentials {
        access_key_id: text(suite, "access_key_id").to_owned(),
        secret_access_key: text(suite, "secret_access_key").to_owned(),
    }
}

#[test]
fn aws_test_suite() {
    let suite = fixture("sigv4-test-suite.json");
    let credentials = suite_credentials(&suite);
    let now = parse_basic_date(text(&suite, "now")).expect("suite date");
    let tests = suite["tests"].as_array().expect("tests");
    assert!(tests.len() >= 24);
    for test in tests {
        let name = text(test, "name");
        let mut raw = parse_raw_request(text(test, "req"));
        let authorization = text(test, "authz");
        raw.headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(authorization).expect("authorization"),
        );
        let request = SignedRequest {
            method: &raw.method,
            path: &raw.path,
            query: &raw.query,
            headers: &raw.headers,
            body: &raw.body,
        };
        let parameters =
            parse_authorization_header(authorization, Some("20150830T123600Z")).expect(name);
        let canonical = canonical_request(
            &request,
            &parameters.signed_headers,
            &hex_sha256(&raw.body),
            false,
        );
        assert_eq!(canonical, text(test, "creq"), "canonical request of {name}");
        let to_sign = string_to_sign(
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
            &canonical,
        );
        assert_eq!(to_sign, text(test, "sts"), "string to sign of {name}");

        let expect = Expectations {
            keys: &credentials,
            service: "service",
            required_signed_headers: &[],
            now,
        };
        let verified = verify(&request, &expect).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(verified.region, "us-east-1");

        let wrong = Credentials {
            access_key_id: credentials.access_key_id.clone(),
            secret_access_key: "not the secret".to_owned(),
        };
        let error = verify(
            &request,
            &Expectations {
                keys: &wrong,
                ..expect
            },
        )
        .expect_err("a wrong secret fails");
        assert_eq!(error, AuthError::mismatch(), "{name}");
    }
}

/// Requests botocore signed (header form and a presigned URL), replayed byte for byte.
#[test]
fn botocore_signatures() {
    let fixtures = fixture("botocore-signatures.json");
    let credentials = suite_credentials(&fixtures);
    let now = parse_basic_date(text(&fixtures, "now")).expect("fixture date");
    for test in fixtures["tests"].as_array().expect("tests") {
        let name = text(test, "name");
        let url = text(test, "url");
        let after_scheme = url.strip_prefix("http://").expect("http URL");
        let (host, path_and_query) = after_scheme.split_at(after_scheme.find('/').expect("path"));
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::HOST,
            HeaderValue::from_str(host).expect("host"),
        );
        for pair in test["headers"].as_array().expect("headers") {
            let name = pair[0].as_str().expect("name");
            let value = pair[1].as_str().expect("value");
            if name.eq_ignore_ascii_case("content-length") {
                continue;
            }
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        let body = text(test, "body").as_bytes();
        let request = SignedRequest {
            method: text(test, "method"),
            path,
            query,
            headers: &headers,
            body,
        };
        let expect = Expectations {
            keys: &credentials,
            service: text(test, "service"),
            required_signed_headers: &["x-amz-target"],
            now,
        };
        let verified = verify(&request, &expect).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(
            verified.presigned,
            test["presigned"] == Value::Bool(true),
            "{name}"
        );
        if !verified.presigned {
            let tampered = [body, b" "].concat();
            let error = verify(
                &SignedRequest {
                    body: &tampered,
                    ..request
                },
                &expect,
            )
            .expect_err("a changed body fails");
            assert_eq!(error, AuthError::mismatch(), "{name}");
        }
    }
}

const NOW: &str = "20261123T080000Z";
const ACCESS_KEY: &str = "AKSFTESTKEY000000001";
const SECRET: &str = "test-secret";

/// A signed DynamoDB request that `edit` may change before or after signing.
struct Case {
    date: String,
    scope: String,
    signed_headers: String,
    authorization_override: Option<String>,
    headers: Vec<(&'static str, String)>,
    query: String,
    secret: String,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            date: NOW.to_owned(),
            scope: format!("{ACCESS_KEY}/20261123/us-east-1/dynamodb/aws4_request"),
            signed_headers: "host;x-amz-date;x-amz-target".to_owned(),
            authorization_override: None,
            headers: vec![],
            query: String::new(),
            secret: SECRET.to_owned(),
        }
    }
}

fn run(case: Case) -> Result<Verified, AuthError> {
    let body = br#"{"TableName":"t"}"#;
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::HOST,
        HeaderValue::from_static("127.0.0.1:4566"),
    );
    headers.insert(
        "x-amz-target",
        HeaderValue::from_static("DynamoDB_20120810.GetItem"),
    );
    headers.insert(
        "x-amz-date",
        HeaderValue::from_str(&case.date).expect("date"),
    );
    for (name, value) in &case.headers {
        headers.insert(*name, HeaderValue::from_str(value).expect("value"));
    }
    let signed_headers = split_signed_headers(&case.signed_headers);
    let unsigned = SignedRequest {
        method: "POST",
        path: "/",
        query: &case.query,
        headers: &headers,
        body,
    };
    let scope_parts: Vec<&str> = case.scope.splitn(2, '/').collect();
    let scope_rest = scope_parts
        .get(1)
        .copied()
        .unwrap_or("")
        .trim_end_matches('/');
    let mut scope_fields = scope_rest.split('/');
    let (day, region, service) = (
        scope_fields.next().unwrap_or(""),
        scope_fields.next().unwrap_or(""),
        scope_fields.next().unwrap_or(""),
    );
    let canonical = canonical_request(&unsigned, &signed_headers, &hex_sha256(body), false);
    let signature = sign(
        &signing_key(&case.secret, day, region, service),
        &string_to_sign(&case.date, scope_rest, &canonical),
    );
    let authorization = case.authorization_override.unwrap_or_else(|| {
        format!(
            "AWS4-HMAC-SHA256 Credential={}, SignedHeaders={}, Signature={signature}",
            case.scope, case.signed_headers
        )
    });
    if !authorization.is_empty() {
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&authorization).expect("authorization"),
        );
    }
    let credentials = Credentials {
        access_key_id: ACCESS_KEY.to_owned(),
        secret_access_key: SECRET.to_owned(),
    };
    let request = SignedRequest {
        method: "POST",
        path: "/",
        query: &case.query,
        headers: &headers,
        body,
    };
    verify(
        &request,
        &Expectations {
            keys: &credentials,
            service: "dynamodb",
            required_signed_headers: &["x-amz-target"],
            now: parse_basic_date(NOW).expect("now"),
        },
    )
}

fn check(case: Case, expected: Expect) {
    let actual = match run(case) {
        Ok(verified) => format!("ok {verified:?}"),
        Err(error) => {
            let aws = error.to_aws_error();
            format!(
                "{} {}",
                aws.status.as_u16(),
                String::from_utf8_lossy(&aws.to_json_body())
            )
        }
    };
    expected.assert_eq(&actual);
}

#[test]
fn valid_request_passes() {
    check(
        Case::default(),
        expect![[
            r#"ok Verified { access_key_id: "AKSFTESTKEY000000001", region: "us-east-1", presigned: false }"#
        ]],
    );
}

#[test]
fn missing_authentication() {
    check(
        Case {
            authorization_override: Some(String::new()),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#MissingAuthenticationTokenException","message":"Request is missing Authentication Token"}"#
        ]],
    );
    check(
        Case {
            authorization_override: Some("Bearer abc".to_owned()),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#MissingAuthenticationTokenException","message":"Request is missing Authentication Token"}"#
        ]],
    );
}

#[test]
fn wrong_secret() {
    check(
        Case {
            secret: "another secret".to_owned(),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#InvalidSignatureException","message":"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}"#
        ]],
    );
}

#[test]
fn unknown_access_key() {
    check(
        Case {
            scope: "AKSFSOMEONEELSE00000/20261123/us-east-1/dynamodb/aws4_request".to_owned(),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"The security token included in the request is invalid."}"#
        ]],
    );
}

#[test]
fn clock_skew() {
    check(
        Case {
            date: "20261123T074459Z".to_owned(),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#InvalidSignatureException","message":"Signature expired: 20261123T074459Z is now earlier than 20261123T074500Z (20261123T080000Z - 15 min.)"}"#
        ]],
    );
    check(
        Case {
            date: "20261123T074500Z".to_owned(),
            ..Case::default()
        },
        expect![[
            r#"ok Verified { access_key_id: "AKSFTESTKEY000000001", region: "us-east-1", presigned: false }"#
        ]],
    );
    check(
        Case {
            date: "20261123T081501Z".to_owned(),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#InvalidSignatureException","message":"Signature not yet current: 20261123T081501Z is still later than 20261123T081500Z (20261123T080000Z + 15 min.)"}"#
        ]],
    );
    check(
        Case {
            date: "2026-11-23T08:00:00Z".to_owned(),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#IncompleteSignatureException","message":"Date must be in ISO-8601 'basic format'. Got '2026-11-23T08:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"}"#
        ]],
    );
}

#[test]
fn credential_scope() {
    check(
        Case {
            scope: format!("{ACCESS_KEY}/20261123/us-east-1/sqs/aws4_request"),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#InvalidSignatureException","message":"Credential should be scoped to correct service: 'dynamodb'."}"#
        ]],
    );
    check(
        Case {
            scope: format!("{ACCESS_KEY}/20261122/Not A Region/dynamodb/aws5_request"),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#InvalidSignatureException","message":"Credential should be scoped to a valid region, not 'Not A Region'. Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261122' != '20261123', from '20261123T080000Z'."}"#
        ]],
    );
    check(
        Case {
            scope: format!("{ACCESS_KEY}/20261123/eu-north-1/dynamodb/aws4_request/"),
            ..Case::default()
        },
        expect![[
            r#"ok Verified { access_key_id: "AKSFTESTKEY000000001", region: "eu-north-1", presigned: false }"#
        ]],
    );
    check(
        Case {
            scope: format!("{ACCESS_KEY}/20261123/dynamodb/aws4_request"),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#IncompleteSignatureException","message":"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKSFTESTKEY000000001/20261123/dynamodb/aws4_request'"}"#
        ]],
    );
}

#[test]
fn signed_headers_must_cover_host_and_target() {
    check(
        Case {
            signed_headers: "x-amz-date;x-amz-target".to_owned(),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#InvalidSignatureException","message":"'Host' must be a 'SignedHeader' in the AWS Authorization."}"#
        ]],
    );
    check(
        Case {
            signed_headers: "host;x-amz-date".to_owned(),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#InvalidSignatureException","message":"'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."}"#
        ]],
    );
}

#[test]
fn incomplete_authorization_header() {
    check(
        Case {
            authorization_override: Some("AWS4-HMAC-SHA256 Credential=a/b/c/d/e".to_owned()),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#IncompleteSignatureException","message":"Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=a/b/c/d/e"}"#
        ]],
    );
    check(
        Case {
            authorization_override: Some("AWS4-HMAC-SHA256 Credential, Signature=x".to_owned()),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#IncompleteSignatureException","message":"'Credential' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential, Signature=x'."}"#
        ]],
    );
    check(
        Case {
            authorization_override: Some(format!(
                "AWS4-HMAC-SHA1 Credential={ACCESS_KEY}/20261123/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-target, Signature=00"
            )),
            ..Case::default()
        },
        expect![[r#"400 {"__type":"com.amazon.coral.service#IncompleteSignatureException","message":"Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1' (only AWS4-HMAC-SHA256 for now). "}"#]],
    );
}

#[test]
fn payload_hash_header_must_match_the_body() {
    check(
        Case {
            headers: vec![("x-amz-content-sha256", hex_sha256(b"another body"))],
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#InvalidSignatureException","message":"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}"#
        ]],
    );
    check(
        Case {
            headers: vec![("x-amz-content-sha256", UNSIGNED_PAYLOAD.to_owned())],
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#InvalidSignatureException","message":"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}"#
        ]],
    );
}

#[test]
fn presigned_query_problems() {
    check(
        Case {
            authorization_override: Some(String::new()),
            query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00".to_owned(),
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#IncompleteSignatureException","message":"AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-Date'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Expires'. Re-examine the query-string parameters."}"#
        ]],
    );
    let query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={ACCESS_KEY}%2F20261123%2Fus-east-1%2Fdynamodb%2Faws4_request&X-Amz-Date=20261123T075000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host%3Bx-amz-target&X-Amz-Signature=00"
    );
    check(
        Case {
            authorization_override: Some(String::new()),
            query,
            ..Case::default()
        },
        expect![[
            r#"400 {"__type":"com.amazon.coral.service#InvalidSignatureException","message":"Signature expired: 20261123T075000Z is now earlier than 20261123T075500Z (20261123T080000Z - 300 sec.)"}"#
        ]],
    );
}

#[test]
fn canonical_uri_double_encodes_like_sdks() {
    assert_eq!(
        canonical_uri("/2015-03-31/functions/arn%3Aaws%3Alambda/invocations"),
        "/2015-03-31/functions/arn%253Aaws%253Alambda/invocations"
    );
    assert_eq!(canonical_uri(""), "/");
    assert_eq!(canonical_uri("/a/./b/../c/"), "/a/c/");
    assert_eq!(canonical_uri("/@connections/x y"), "/%40connections/x%20y");
}

#[test]
fn decoders_survive_garbage() {
    for input in [
        "%",
        "%zz",
        "a=%E1%88",
        "&&==&",
        "\u{0}=\u{ffff}",
        "X-Amz-Date=%",
    ] {
        let _ = canonical_query_string(input, true);
        let _ = parse_presigned_query(input);
        let _ = canonical_uri(input);
    }
    for date in [
        "",
        "20261323T000000Z",
        "2026112XT000000Z",
        "20261123T250000Z",
        "ééééééééZ",
    ] {
        assert_eq!(parse_basic_date(date), None, "{date}");
    }
    assert_eq!(decode_hex("0g"), None);
    assert_eq!(decode_hex("abc"), None);
    assert!(parse_credential("").is_err());
}

#[test]
fn http_date_header_instead_of_x_amz_date() {
    assert_eq!(
        parse_http_date("Mon, 23 Nov 2026 08:00:00 GMT").map(format_basic_date),
        Some("20261123T080000Z".to_owned())
    );
    for date in [
        "Mon, 23 Nov 2026 08:00:00 +0100",
        "23 Nov 2026 08:00:00 GMT",
        "Mon, 23 Nov 2026 8:00:00 GMT",
        "",
    ] {
        assert_eq!(parse_http_date(date), None, "{date}");
    }
}

/// A tiny deterministic fuzzer: random requests must give an error or a verdict, never
/// a panic. (A `cargo fuzz` target can call `verify` the same way.)
#[test]
fn random_requests_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    const PIECES: &[&str] = &[
        "AWS4-HMAC-SHA256",
        " ",
        ",",
        "=",
        "/",
        ";",
        "%",
        "%2F",
        "%E1%88",
        "&",
        "?",
        "..",
        ".",
        "Credential",
        "SignedHeaders",
        "Signature",
        "host",
        "x-amz-target",
        "X-Amz-Expires",
        "X-Amz-Date",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Algorithm",
        "20261123",
        "T080000Z",
        "99999999999999999999",
        "-1",
        "604800",
        "us-east-1",
        "dynamodb",
        "aws4_request",
        ACCESS_KEY,
        "ab",
        "é",
        "\t",
    ];
    let mut random_text = |max: u64| {
        let mut text = String::new();
        for _ in 0..(next() % max) {
            text.push_str(PIECES[usize::try_from(next() % PIECES.len() as u64).unwrap_or(0)]);
        }
        text
    };
    let credentials = Credentials {
        access_key_id: ACCESS_KEY.to_owned(),
        secret_access_key: SECRET.to_owned(),
    };
    for _ in 0..5_000 {
        let path = format!("/{}", random_text(6));
        let query = random_text(12);
        let authorization = random_text(12);
        let date = random_text(3);
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_static("h"));
        for (name, value) in [
            ("authorization", &authorization),
            ("x-amz-date", &date),
            ("x-amz-target", &query),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                if !value.is_empty() {
                    headers.insert(name, value);
                }
            }
        }
        let request = SignedRequest {
            method: "POST",
            path: &path,
            query: &query,
            headers: &headers,
            body: path.as_bytes(),
        };
        let _ = credential_service(&headers, &query);
        let _ = verify(
            &request,
            &Expectations {
                keys: &credentials,
                service: "dynamodb",
                required_signed_headers: &["x-amz-target"],
                now: parse_basic_date(NOW).expect("now"),
            },
        );
    }
}

#[test]
fn credential_service_from_header_or_query() {
    let mut headers = HeaderMap::new();
    assert_eq!(credential_service(&headers, ""), None);
    assert_eq!(
        credential_service(
            &headers,
            "X-Amz-Credential=AK%2F20261123%2Fus-east-1%2Fsns%2Faws4_request&X-Amz-Signature=0"
        )
        .as_deref(),
        Some("sns")
    );
    headers.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_static(
            "AWS4-HMAC-SHA256 Credential=AK/20261123/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=00",
        ),
    );
    assert_eq!(credential_service(&headers, "").as_deref(), Some("lambda"));
    headers.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=AK/x"),
    );
    assert_eq!(credential_service(&headers, ""), None);
}
