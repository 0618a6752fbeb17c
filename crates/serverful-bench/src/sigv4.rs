//! AWS Signature Version 4 for the store benchmark's client: signs a DynamoDB JSON-protocol
//! `POST /` in the `Authorization` header, as the AWS SDKs do, so that every contender is
//! sent the same signed requests (serverful checks them; the emulators accept any).
//!
//! Only what the benchmark sends is covered: path `/`, no query, the headers `content-type`,
//! `host`, `x-amz-date` and `x-amz-target` signed, and the body's SHA-256 in the canonical
//! request. The derived signing key is kept for the day it belongs to.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

type HmacSha256 = Hmac<Sha256>;

/// The content type of the DynamoDB JSON protocol.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// The headers to add to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// `x-amz-date`, such as `20261123T082100Z`.
    pub amz_date: String,
    /// `Authorization`.
    pub authorization: String,
}

/// Signs requests with one key pair for one region and service.
#[derive(Debug, Clone)]
pub struct Signer {
    access_key_id: String,
    secret_access_key: String,
    region: String,
    service: String,
    /// The day (`YYYYMMDD`) the signing key was derived for, and the key.
    cached_key: Option<(String, [u8; 32])>,
}

impl Signer {
    pub fn new(access_key_id: &str, secret_access_key: &str, region: &str, service: &str) -> Self {
        Signer {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            cached_key: None,
        }
    }

    /// Signs `POST /` to `host` with `x-amz-target: target` and `body`, at `now`.
    pub fn sign(
        &mut self,
        host: &str,
        target: &str,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Signature {
        let amz_date = amz_date(now);
        let day = amz_date[..8].to_owned();
        let payload_hash = hex(&Sha256::digest(body));
        let canonical_request = format!(
            "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{host}\nx-amz-date:{amz_date}\nx-amz-target:{target}\n\ncontent-type;host;x-amz-date;x-amz-target\n{payload_hash}"
        );
        let scope = format!("{day}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical_request.as_bytes()))
        );
        let key = self.signing_key(&day);
        let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
        Signature {
            authorization: format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={signature}",
                self.access_key_id
            ),
            amz_date,
        }
    }

    /// Signs a REST request (`method` `path` to `host`, no query string) with the
    /// `x-amz-*` headers in `amz_headers` (lower-case names, sorted) and `body`, at `now`:
    /// the `Authorization` header, and the `x-amz-date` to send with it.
    pub fn sign_rest(
        &mut self,
        method: &str,
        host: &str,
        path: &str,
        amz_headers: &[(&str, &str)],
        body: &[u8],
        now: OffsetDateTime,
    ) -> Signature {
        let payload_hash = hex(&Sha256::digest(body));
        self.sign_request(method, host, path, "", amz_headers, &payload_hash, now)
    }

    /// Signs a REST request with a query string (its canonical form: names and values
    /// URI-encoded, sorted) and the payload hash the request declares (its
    /// `x-amz-content-sha256`, such as `UNSIGNED-PAYLOAD`, which S3 takes; that header
    /// is then to be among `amz_headers`).
    #[allow(clippy::too_many_arguments)]
    pub fn sign_request(
        &mut self,
        method: &str,
        host: &str,
        path: &str,
        canonical_query: &str,
        amz_headers: &[(&str, &str)],
        payload_hash: &str,
        now: OffsetDateTime,
    ) -> Signature {
        let amz_date = amz_date(now);
        let day = amz_date[..8].to_owned();
        let mut headers = vec![("host", host), ("x-amz-date", amz_date.as_str())];
        headers.extend_from_slice(amz_headers);
        headers.sort_unstable();
        let canonical_headers: String = headers
            .iter()
            .map(|(name, value)| format!("{name}:{}\n", value.trim()))
            .collect();
        let signed_headers = headers
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(";");
        let canonical_request =
            format!("{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}");
        let scope = format!("{day}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical_request.as_bytes()))
        );
        let key = self.signing_key(&day);
        let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
        Signature {
            authorization: format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                self.access_key_id
            ),
            amz_date,
        }
    }

    fn signing_key(&mut self, day: &str) -> [u8; 32] {
        if let Some((cached_day, key)) = &self.cached_key {
            if cached_day == day {
                return *key;
            }
        }
        let secret = format!("AWS4{}", self.secret_access_key);
        let date_key = hmac(secret.as_bytes(), day.as_bytes());
        let region_key = hmac(&date_key, self.region.as_bytes());
        let service_key = hmac(&region_key, self.service.as_bytes());
        let key = hmac(&service_key, b"aws4_request");
        self.cached_key = Some((day.to_owned(), key));
        key
    }
}

/// `YYYYMMDDTHHMMSSZ` in UTC.
fn amz_date(now: OffsetDateTime) -> String {
    let now = now.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC-SHA256 takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_key_matches_the_aws_documentation_example() {
        // AWS's "derive a signing key" example: secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
        // 20120215, us-east-1, iam.
        let mut signer = Signer::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(&signer.signing_key("20120215")),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn signs_with_the_scope_and_headers() {
        let mut signer = Signer::new("AK", "SK", "us-east-1", "dynamodb");
        let now = OffsetDateTime::from_unix_timestamp(1_795_000_000).expect("a valid time");
        let signature = signer.sign("127.0.0.1:1", "DynamoDB_20120810.GetItem", b"{}", now);
        assert_eq!(signature.amz_date, "20261118T110640Z");
        assert!(signature.authorization.starts_with(
            "AWS4-HMAC-SHA256 Credential=AK/20261118/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
        ));
        // Deterministic: the same request at the same time signs the same.
        assert_eq!(
            signer.sign("127.0.0.1:1", "DynamoDB_20120810.GetItem", b"{}", now),
            signature
        );
    }

    #[test]
    fn serverful_accepts_the_signature() {
        let mut signer = Signer::new("AKBENCH", "secret", "us-east-1", "dynamodb");
        let now = OffsetDateTime::now_utc();
        let body = br#"{"TableName":"bench"}"#;
        let target = "DynamoDB_20120810.DescribeTable";
        let signature = signer.sign("127.0.0.1:8000", target, body, now);
        let mut headers = http::HeaderMap::new();
        let mut add = |name: &'static str, value: &str| {
            headers.insert(name, value.parse().expect("a valid header value"));
        };
        add("content-type", CONTENT_TYPE);
        add("host", "127.0.0.1:8000");
        add("x-amz-date", &signature.amz_date);
        add("x-amz-target", target);
        add("authorization", &signature.authorization);
        let credentials = serverful_aws::Credentials {
            access_key_id: "AKBENCH".to_owned(),
            secret_access_key: "secret".to_owned(),
        };
        let request = serverful_aws::sigv4::SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body,
        };
        let expectations = serverful_aws::sigv4::Expectations {
            keys: &credentials,
            service: "dynamodb",
            required_signed_headers: &["x-amz-target"],
            now,
        };
        let verified = serverful_aws::sigv4::verify(&request, &expectations).expect("verified");
        assert_eq!(verified.access_key_id, "AKBENCH");
    }
}
