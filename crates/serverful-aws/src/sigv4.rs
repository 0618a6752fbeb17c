//! AWS Signature Version 4 verification, for requests signed in the `Authorization`
//! header and for presigned URLs (`X-Amz-Signature` in the query).
//!
//! Everything here is a pure function of the request's method, raw path, raw query,
//! headers and body, so it can be unit-tested against AWS's published test suite and
//! fuzzed without a server. The checks run in the order AWS runs them, and each failure
//! carries AWS's exact message, because SDKs and people read them:
//!
//! 1. no `Authorization` header and no presigned query → `MissingAuthenticationToken`;
//! 2. missing parameters, malformed date, algorithm or credential → `IncompleteSignature`;
//! 3. date outside ±15 minutes (or a presigned URL past `X-Amz-Expires`), `host` not
//!    signed, credential scope for another service or a malformed region →
//!    `InvalidSignature`;
//! 4. unknown access key → `UnrecognizedClient`;
//! 5. signature mismatch (compared in constant time) → `InvalidSignature`.

use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::credentials::Credentials;
use crate::error::AwsError;

type HmacSha256 = Hmac<Sha256>;

/// The only signing algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's date may be from the server's clock, as on AWS.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(15);
/// The longest lifetime a presigned URL may ask for (seven days), as on AWS.
pub const MAX_PRESIGNED_EXPIRES_SECONDS: i64 = 604_800;
/// The payload hash clients use when the body is not signed (presigned URLs).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// Why a request was not authenticated; [`AuthError::to_aws_error`] gives the wire error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Neither an `Authorization` header nor presigned query parameters.
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,
    /// The signature's parts are missing or malformed.
    #[error("{0}")]
    IncompleteSignature(String),
    /// The signature is expired, scoped wrongly, or does not match.
    #[error("{0}")]
    InvalidSignature(String),
    /// The access key is not one this server knows.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
}

impl AuthError {
    /// The error as AWS sends it: all four are 400s from the coral front end.
    pub fn to_aws_error(&self) -> AwsError {
        let type_name = match self {
            AuthError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            AuthError::IncompleteSignature(_) => "IncompleteSignatureException",
            AuthError::InvalidSignature(_) => "InvalidSignatureException",
            AuthError::UnrecognizedClient => "UnrecognizedClientException",
        };
        AwsError::coral(type_name, self.to_string())
    }

    fn mismatch() -> Self {
        AuthError::InvalidSignature(SIGNATURE_MISMATCH.to_owned())
    }
}

/// The parts of an HTTP request a signature covers, exactly as received.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path as on the request line, still percent-encoded.
    pub path: &'a str,
    /// The query string without `?`, still percent-encoded; empty when absent.
    pub query: &'a str,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The whole body.
    pub body: &'a [u8],
}

/// The secrets of the access keys a server accepts.
pub trait SigningKeys {
    /// The secret of `access_key_id`, if the key is known.
    fn secret_access_key(&self, access_key_id: &str) -> Option<&str>;
}

/// One key pair accepts only itself.
impl SigningKeys for Credentials {
    fn secret_access_key(&self, access_key_id: &str) -> Option<&str> {
        (access_key_id == self.access_key_id).then_some(self.secret_access_key.as_str())
    }
}

impl std::fmt::Debug for Expectations<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expectations")
            .field("service", &self.service)
            .field("required_signed_headers", &self.required_signed_headers)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// What the server expects of a request's signature.
#[derive(Clone, Copy)]
pub struct Expectations<'a> {
    /// The key pairs requests may be signed with.
    pub keys: &'a dyn SigningKeys,
    /// The signing name of the service the request is for, e.g. `dynamodb`.
    pub service: &'a str,
    /// Headers that must be among the signed ones besides `host` (lowercase), e.g.
    /// `x-amz-target`, whose value picks the operation.
    pub required_signed_headers: &'a [&'a str],
    /// The server's clock.
    pub now: OffsetDateTime,
}

/// What a verified signature tells about the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The access key the request was signed with.
    pub access_key_id: String,
    /// The region in the credential scope, e.g. `us-east-1`.
    pub region: String,
    /// Whether the signature came in the query string (a presigned URL).
    pub presigned: bool,
}

/// The `Authorization` header or the presigned query parameters, parsed but not checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParameters {
    /// `AWS4-HMAC-SHA256`.
    pub algorithm: String,
    /// `AKID/20150830/us-east-1/service/aws4_request`.
    pub credential: String,
    /// Lowercase header names, in the order given.
    pub signed_headers: Vec<String>,
    /// Lowercase hex.
    pub signature: String,
    /// `X-Amz-Date` (header or query).
    pub date: String,
    /// `X-Amz-Expires` of a presigned URL; `None` for the header form.
    pub expires: Option<String>,
}

/// The credential scope, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope<'a> {
    /// The access key ID.
    pub access_key_id: &'a str,
    /// `YYYYMMDD`.
    pub date: &'a str,
    /// `us-east-1`.
    pub region: &'a str,
    /// `dynamodb`.
    pub service: &'a str,
    /// `aws4_request`.
    pub terminator: &'a str,
}

/// Verifies a request's SigV4 signature.
pub fn verify(
    request: &SignedRequest<'_>,
    expect: &Expectations<'_>,
) -> Result<Verified, AuthError> {
    let parameters = if let Some(authorization) = request.headers.get(http::header::AUTHORIZATION) {
        let authorization = String::from_utf8_lossy(authorization.as_bytes());
        if !authorization.trim_start().starts_with("AWS4-") {
            return Err(AuthError::MissingAuthenticationToken);
        }
        let date = match header_str(request.headers, "x-amz-date") {
            Some(date) => Some(date.to_owned()),
            // Clients sign with `Date` instead when the caller set one (botocore does);
            // the string to sign still carries the basic-format date.
            None => header_str(request.headers, "date").map(|date| {
                parse_http_date(date).map_or_else(|| date.to_owned(), format_basic_date)
            }),
        };
        parse_authorization_header(&authorization, date.as_deref())?
    } else if is_presigned(request.query) {
        parse_presigned_query(request.query)?
    } else {
        return Err(AuthError::MissingAuthenticationToken);
    };
    let presigned = parameters.expires.is_some();

    let request_time = parse_basic_date(&parameters.date).ok_or_else(|| {
        AuthError::IncompleteSignature(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
            parameters.date
        ))
    })?;
    check_time(request_time, parameters.expires.as_deref(), expect.now)?;

    if !parameters.signed_headers.iter().any(|name| name == "host") {
        return Err(AuthError::InvalidSignature(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ));
    }
    for required in expect.required_signed_headers {
        if request.headers.contains_key(*required)
            && !parameters
                .signed_headers
                .iter()
                .any(|name| name == required)
        {
            return Err(AuthError::InvalidSignature(format!(
                "'{}' must be a 'SignedHeader' in the AWS Authorization.",
                display_header_name(required)
            )));
        }
    }
    if parameters.algorithm != ALGORITHM {
        return Err(AuthError::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{}' (only {ALGORITHM} for now). ",
            parameters.algorithm
        )));
    }
    let scope = parse_credential(&parameters.credential)?;
    check_scope(&scope, &parameters.date, expect.service)?;

    let secret_access_key = expect
        .keys
        .secret_access_key(scope.access_key_id)
        .ok_or(AuthError::UnrecognizedClient)?;

    let provided = decode_hex(&parameters.signature).ok_or_else(AuthError::mismatch)?;
    let body_hash = hex_sha256(request.body);
    let payload_hashes: Vec<&str> = match header_str(request.headers, "x-amz-content-sha256") {
        Some(UNSIGNED_PAYLOAD) if presigned => vec![UNSIGNED_PAYLOAD],
        // A declared hash is what the client signed, but it must also be the body's:
        // otherwise the body could be swapped under a valid signature.
        Some(declared) if declared == body_hash => vec![body_hash.as_str()],
        Some(_) => return Err(AuthError::mismatch()),
        // Presigning clients sign `UNSIGNED-PAYLOAD`; some sign the (empty) body's hash.
        None if presigned => vec![UNSIGNED_PAYLOAD, body_hash.as_str()],
        None => vec![body_hash.as_str()],
    };
    let key = cached_signing_key(secret_access_key, scope.date, scope.region, scope.service);
    let scope_string = format!(
        "{}/{}/{}/{}",
        scope.date, scope.region, scope.service, scope.terminator
    );
    for payload_hash in payload_hashes {
        let canonical =
            canonical_request(request, &parameters.signed_headers, payload_hash, presigned);
        let to_sign = string_to_sign(&parameters.date, &scope_string, &canonical);
        let mut mac = hmac(&key);
        mac.update(to_sign.as_bytes());
        // `verify_slice` compares in constant time.
        if mac.verify_slice(&provided).is_ok() {
            return Ok(Verified {
                access_key_id: scope.access_key_id.to_owned(),
                region: scope.region.to_owned(),
                presigned,
            });
        }
    }
    Err(AuthError::mismatch())
}

/// The service named in a request's credential scope (from the `Authorization` header,
/// else from a presigned URL's `X-Amz-Credential`), without checking anything else.
pub fn credential_service(headers: &HeaderMap, query: &str) -> Option<String> {
    let credential = match headers.get(http::header::AUTHORIZATION) {
        Some(authorization) => {
            let authorization = authorization.to_str().ok()?;
            let start = authorization.find("Credential=")? + "Credential=".len();
            let rest = &authorization[start..];
            let end = rest
                .find(|c: char| c == ',' || c.is_ascii_whitespace())
                .unwrap_or(rest.len());
            rest[..end].to_owned()
        }
        None => query_pairs(query)
            .find(|(key, _)| key == "X-Amz-Credential")
            .map(|(_, value)| value)?,
    };
    let scope = parse_credential(&credential).ok()?;
    Some(scope.service.to_owned())
}

/// Whether the query string carries SigV4 presigned parameters.
pub fn is_presigned(query: &str) -> bool {
    query_pairs(query).any(|(key, _)| {
        key == "X-Amz-Signature" || key == "X-Amz-Credential" || key == "X-Amz-Algorithm"
    })
}

/// Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
pub fn parse_authorization_header(
    authorization: &str,
    date: Option<&str>,
) -> Result<SignatureParameters, AuthError> {
    let trimmed = authorization.trim();
    let (algorithm, rest) = trimmed
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((trimmed, ""));
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((key, value)) = part.split_once('=') else {
            return Err(AuthError::IncompleteSignature(format!(
                "'{part}' not a valid key=value pair (missing equal-sign) in Authorization header: '{authorization}'."
            )));
        };
        match key.trim() {
            "Credential" => credential = Some(value.trim().to_owned()),
            "SignedHeaders" => signed_headers = Some(value.trim().to_owned()),
            "Signature" => signature = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let mut message = String::new();
    for (name, value) in [
        ("Credential", &credential),
        ("Signature", &signature),
        ("SignedHeaders", &signed_headers),
    ] {
        if value.as_deref().is_none_or(str::is_empty) {
            message.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if date.is_none() {
        message.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    if !message.is_empty() {
        message.push_str(&format!("Authorization={authorization}"));
        return Err(AuthError::IncompleteSignature(message));
    }
    Ok(SignatureParameters {
        algorithm: algorithm.to_owned(),
        credential: credential.unwrap_or_default(),
        signed_headers: split_signed_headers(&signed_headers.unwrap_or_default()),
        signature: signature.unwrap_or_default(),
        date: date.unwrap_or_default().to_owned(),
        expires: None,
    })
}

/// Parses the `X-Amz-*` parameters of a presigned URL's query string.
pub fn parse_presigned_query(query: &str) -> Result<SignatureParameters, AuthError> {
    let mut algorithm = None;
    let mut credential = None;
    let mut date = None;
    let mut expires = None;
    let mut signed_headers = None;
    let mut signature = None;
    for (key, value) in query_pairs(query) {
        let slot = match key.as_str() {
            "X-Amz-Algorithm" => &mut algorithm,
            "X-Amz-Credential" => &mut credential,
            "X-Amz-Date" => &mut date,
            "X-Amz-Expires" => &mut expires,
            "X-Amz-SignedHeaders" => &mut signed_headers,
            "X-Amz-Signature" => &mut signature,
            _ => continue,
        };
        *slot = Some(value);
    }
    let mut message = String::new();
    for (name, value) in [
        ("X-Amz-Algorithm", &algorithm),
        ("X-Amz-Credential", &credential),
        ("X-Amz-Signature", &signature),
        ("X-Amz-Date", &date),
        ("X-Amz-SignedHeaders", &signed_headers),
        ("X-Amz-Expires", &expires),
    ] {
        if value.as_deref().is_none_or(str::is_empty) {
            message.push_str(&format!(
                "AWS query-string parameters must include '{name}'. "
            ));
        }
    }
    if !message.is_empty() {
        message.push_str("Re-examine the query-string parameters.");
        return Err(AuthError::IncompleteSignature(message));
    }
    Ok(SignatureParameters {
        algorithm: algorithm.unwrap_or_default(),
        credential: credential.unwrap_or_default(),
        signed_headers: split_signed_headers(&signed_headers.unwrap_or_default()),
        signature: signature.unwrap_or_default(),
        date: date.unwrap_or_default(),
        expires,
    })
}

/// Splits `keyid/date/region/service/aws4_request` (trailing slashes ignored, as AWS does).
pub fn parse_credential(credential: &str) -> Result<CredentialScope<'_>, AuthError> {
    let trimmed = credential.trim_end_matches('/');
    let parts: Vec<&str> = trimmed.split('/').collect();
    match parts.as_slice() {
        [access_key_id, date, region, service, terminator] => Ok(CredentialScope {
            access_key_id,
            date,
            region,
            service,
            terminator,
        }),
        _ => Err(AuthError::IncompleteSignature(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{trimmed}'"
        ))),
    }
}

/// Checks the scope's region shape, service, terminator and date against the request's.
fn check_scope(
    scope: &CredentialScope<'_>,
    request_date: &str,
    service: &str,
) -> Result<(), AuthError> {
    let mut problems = Vec::new();
    if !is_well_formed_region(scope.region) {
        problems.push(format!(
            "Credential should be scoped to a valid region, not '{}'.",
            scope.region
        ));
    }
    if scope.service != service {
        problems.push(format!(
            "Credential should be scoped to correct service: '{service}'."
        ));
    }
    if scope.terminator != "aws4_request" {
        problems.push(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            scope.terminator
        ));
    }
    let request_day = request_date.get(..8).unwrap_or(request_date);
    if scope.date != request_day {
        problems.push(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{request_day}', from '{request_date}'.",
            scope.date
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AuthError::InvalidSignature(problems.join(" ")))
    }
}

/// A region name as AWS spells them: lowercase letters, digits and dashes, starting with
/// a letter (`us-east-1`, `eu-central-2`; `local` is accepted too).
pub fn is_well_formed_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 64
        && region.starts_with(|c: char| c.is_ascii_lowercase())
        && !region.ends_with('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Checks the request date against the clock (±15 min) and a presigned URL's lifetime.
fn check_time(
    request_time: OffsetDateTime,
    expires: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), AuthError> {
    if request_time < now - MAX_CLOCK_SKEW && expires.is_none() {
        return Err(AuthError::InvalidSignature(format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            format_basic_date(request_time),
            format_basic_date(now - MAX_CLOCK_SKEW),
            format_basic_date(now)
        )));
    }
    if request_time > now + MAX_CLOCK_SKEW {
        return Err(AuthError::InvalidSignature(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            format_basic_date(request_time),
            format_basic_date(now + MAX_CLOCK_SKEW),
            format_basic_date(now)
        )));
    }
    if let Some(expires) = expires {
        let seconds = expires
            .parse::<i64>()
            .ok()
            .filter(|seconds| (0..=MAX_PRESIGNED_EXPIRES_SECONDS).contains(seconds))
            .ok_or_else(|| {
                AuthError::IncompleteSignature(format!(
                    "X-Amz-Expires must be a whole number of seconds from 0 to {MAX_PRESIGNED_EXPIRES_SECONDS}, got '{expires}'."
                ))
            })?;
        let expired = request_time
            .checked_add(Duration::seconds(seconds))
            .is_none_or(|expiry| now > expiry);
        if expired {
            return Err(AuthError::InvalidSignature(format!(
                "Signature expired: {} is now earlier than {} ({} - {seconds} sec.)",
                format_basic_date(request_time),
                format_basic_date(now - Duration::seconds(seconds)),
                format_basic_date(now)
            )));
        }
    }
    Ok(())
}

/// Builds the canonical request: method, URI, query, headers, signed headers, payload hash.
pub fn canonical_request(
    request: &SignedRequest<'_>,
    signed_headers: &[String],
    payload_hash: &str,
    presigned: bool,
) -> String {
    let mut canonical = String::with_capacity(256 + request.query.len());
    canonical.push_str(request.method);
    canonical.push('\n');
    canonical.push_str(&canonical_uri(request.path));
    canonical.push('\n');
    canonical.push_str(&canonical_query_string(request.query, presigned));
    canonical.push('\n');
    canonical.push_str(&canonical_headers(request.headers, signed_headers));
    canonical.push('\n');
    canonical.push_str(&signed_headers.join(";"));
    canonical.push('\n');
    canonical.push_str(payload_hash);
    canonical
}

/// The canonical URI of a (non-S3) request: dot segments and empty segments removed,
/// then every byte outside the unreserved set percent-encoded, so an already encoded
/// path is encoded a second time, as AWS SDKs do for every service but S3.
pub fn canonical_uri(raw_path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in raw_path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    let ends_with_slash =
        raw_path.ends_with('/') || raw_path.ends_with("/.") || raw_path.ends_with("/..");
    let mut uri = String::with_capacity(raw_path.len() + 8);
    for segment in &segments {
        uri.push('/');
        uri.push_str(&uri_encode(segment.as_bytes()));
    }
    if uri.is_empty() || ends_with_slash {
        uri.push('/');
    }
    uri
}

/// The canonical query string: pairs decoded, re-encoded strictly, sorted by key then
/// value; `X-Amz-Signature` left out of presigned URLs.
pub fn canonical_query_string(raw_query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                uri_encode(&percent_decode(key)),
                uri_encode(&percent_decode(value)),
            )
        })
        .filter(|(key, _)| !(presigned && key == "X-Amz-Signature"))
        .collect();
    pairs.sort();
    let mut canonical = String::with_capacity(raw_query.len() + 16);
    for (index, (key, value)) in pairs.iter().enumerate() {
        if index > 0 {
            canonical.push('&');
        }
        canonical.push_str(key);
        canonical.push('=');
        canonical.push_str(value);
    }
    canonical
}

/// `name:value\n` for every signed header, values of repeated headers joined with `,`,
/// each value trimmed and its inner runs of spaces collapsed.
pub fn canonical_headers(headers: &HeaderMap, signed_headers: &[String]) -> String {
    let mut canonical = String::new();
    for name in signed_headers {
        canonical.push_str(name);
        canonical.push(':');
        for (index, value) in headers.get_all(name.as_str()).iter().enumerate() {
            if index > 0 {
                canonical.push(',');
            }
            let value = String::from_utf8_lossy(value.as_bytes());
            let mut words = value.split_ascii_whitespace();
            if let Some(first) = words.next() {
                canonical.push_str(first);
                for word in words {
                    canonical.push(' ');
                    canonical.push_str(word);
                }
            }
        }
        canonical.push('\n');
    }
    canonical
}

/// `AWS4-HMAC-SHA256\n<date>\n<scope>\n<hex sha256 of the canonical request>`.
pub fn string_to_sign(date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{date}\n{scope}\n{}",
        hex_sha256(canonical_request.as_bytes())
    )
}

/// The signing key: `HMAC("AWS4"+secret, date)`, then region, service, `aws4_request`.
pub fn signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut key = hmac_bytes(
        format!("AWS4{secret_access_key}").as_bytes(),
        date.as_bytes(),
    );
    for part in [region, service, "aws4_request"] {
        key = hmac_bytes(&key, part.as_bytes());
    }
    key
}

/// A signing key and what it was derived from.
struct CachedSigningKey {
    secret_access_key: String,
    date: String,
    region: String,
    service: String,
    key: [u8; 32],
}

/// How many signing keys each thread remembers: one per key pair signing to it at once
/// (the master keys and each stack's, for each service), more than a busy server sees.
const CACHED_SIGNING_KEYS: usize = 8;

thread_local! {
    /// The signing keys this thread derived last, the most recent first. A client signs a
    /// whole day's requests to one region and service with the same key, so the four
    /// HMACs that derive it are paid once per thread, key pair and day rather than once
    /// per request.
    static SIGNING_KEYS: std::cell::RefCell<Vec<CachedSigningKey>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// [`signing_key`], remembered per thread for the last few secrets, dates, regions and
/// services.
fn cached_signing_key(
    secret_access_key: &str,
    date: &str,
    region: &str,
    service: &str,
) -> [u8; 32] {
    SIGNING_KEYS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let hit = cache.iter().position(|cached| {
            cached.date == date
                && cached.region == region
                && cached.service == service
                && cached.secret_access_key == secret_access_key
        });
        if let Some(position) = hit {
            let key = cache[position].key;
            if position > 0 {
                let cached = cache.remove(position);
                cache.insert(0, cached);
            }
            return key;
        }
        let key = signing_key(secret_access_key, date, region, service);
        cache.truncate(CACHED_SIGNING_KEYS - 1);
        cache.insert(
            0,
            CachedSigningKey {
                secret_access_key: secret_access_key.to_owned(),
                date: date.to_owned(),
                region: region.to_owned(),
                service: service.to_owned(),
                key,
            },
        );
        key
    })
}

/// The hex signature of a string to sign; used by tests and by clients of this crate.
pub fn sign(key: &[u8; 32], string_to_sign: &str) -> String {
    hex(&hmac_bytes(key, string_to_sign.as_bytes()))
}

/// Parses `20150830T123600Z`.
pub fn parse_basic_date(date: &str) -> Option<OffsetDateTime> {
    let bytes = date.as_bytes();
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = date.get(range)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(number(4..6)?).ok()?).ok()?;
    let day = u8::try_from(number(6..8)?).ok()?;
    let hour = u8::try_from(number(9..11)?).ok()?;
    let minute = u8::try_from(number(11..13)?).ok()?;
    let second = u8::try_from(number(13..15)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let time = time::Time::from_hms(hour, minute, second).ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_utc())
}

/// Parses an HTTP date (`Mon, 23 Nov 2026 08:00:00 GMT`, RFC 7231's preferred form, or
/// with the zone written `-0000`/`+0000`/`UTC`, as Python's `formatdate` writes it).
pub fn parse_http_date(date: &str) -> Option<OffsetDateTime> {
    let mut fields = date.split_ascii_whitespace();
    let _weekday = fields.next()?.strip_suffix(',')?;
    let day = fields.next()?;
    let month = match fields.next()? {
        "Jan" => "01",
        "Feb" => "02",
        "Mar" => "03",
        "Apr" => "04",
        "May" => "05",
        "Jun" => "06",
        "Jul" => "07",
        "Aug" => "08",
        "Sep" => "09",
        "Oct" => "10",
        "Nov" => "11",
        "Dec" => "12",
        _ => return None,
    };
    let year = fields.next()?;
    let clock = fields.next()?;
    let zone = fields.next()?;
    if !matches!(zone, "GMT" | "UTC" | "+0000" | "-0000")
        || fields.next().is_some()
        || day.len() != 2
        || year.len() != 4
    {
        return None;
    }
    let (hour, rest) = clock.split_once(':')?;
    let (minute, second) = rest.split_once(':')?;
    parse_basic_date(&format!("{year}{month}{day}T{hour}{minute}{second}Z"))
}

/// Formats a time as `20150830T123600Z`.
pub fn format_basic_date(moment: OffsetDateTime) -> String {
    let moment = moment.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        moment.year(),
        u8::from(moment.month()),
        moment.day(),
        moment.hour(),
        moment.minute(),
        moment.second()
    )
}

/// Query pairs, percent-decoded (`+` stays a plus, as in SigV4).
pub fn query_pairs(raw_query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                String::from_utf8_lossy(&percent_decode(key)).into_owned(),
                String::from_utf8_lossy(&percent_decode(value)).into_owned(),
            )
        })
}

/// SigV4's `UriEncode`: every byte but `A-Z a-z 0-9 - . _ ~` as `%XX` (uppercase hex).
pub fn uri_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    encoded
}

/// Decodes `%XX` escapes; malformed escapes are kept as they are.
pub fn percent_decode(text: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(text).collect()
}

/// Lowercase hex of SHA-256.
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn split_signed_headers(signed_headers: &str) -> Vec<String> {
    signed_headers
        .split(';')
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn display_header_name(lowercase: &str) -> String {
    match lowercase {
        "x-amz-target" => "X-Amz-Target".to_owned(),
        other => other.to_owned(),
    }
}

fn hmac(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

fn hmac_bytes(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = hmac(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    text
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests;
