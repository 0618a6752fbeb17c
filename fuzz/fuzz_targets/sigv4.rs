//! Fuzzes SigV4 verification: arbitrary method, path, query, headers and body. Every
//! input is accepted or refused with an AWS error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serverful_aws::sigv4::{verify, Expectations, SignedRequest};
use serverful_aws::Credentials;

fuzz_target!(|data: &[u8]| {
    // Layout: method \n path \n query \n header lines ... \0 body
    let (head, body) = match data.iter().position(|byte| *byte == 0) {
        Some(split) => (&data[..split], &data[split + 1..]),
        None => (data, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let method = lines.next().unwrap_or("POST");
    let path = lines.next().unwrap_or("/");
    let query = lines.next().unwrap_or("");
    let mut headers = http::HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if let (Ok(name), Ok(value)) =
                (http::HeaderName::from_bytes(name.trim().as_bytes()), http::HeaderValue::from_str(value.trim()))
            {
                headers.append(name, value);
            }
        }
    }
    let credentials = Credentials { access_key_id: "AKIDEXAMPLE".to_string(), secret_access_key: "secret".to_string() };
    let request = SignedRequest { method, path, query, headers: &headers, body };
    let expect = Expectations {
        keys: &credentials,
        service: "dynamodb",
        required_signed_headers: &["x-amz-target"],
        now: time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
    };
    let _ = verify(&request, &expect);
});
