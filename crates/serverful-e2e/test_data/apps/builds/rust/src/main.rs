//! Answers GET /rust/{name} through the Lambda Runtime API with the standard library
//! only: one HTTP/1.1 request per connection, so the client stays a few lines long.

use std::io::{Read, Write};
use std::net::TcpStream;

fn main() {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API is set");
    loop {
        let (headers, event) = call(&api, "GET", "/2018-06-01/runtime/invocation/next", "");
        let request_id = header(&headers, "lambda-runtime-aws-request-id");
        let name = path_parameter(&event, "name");
        let body = format!(r#"{{\"message\":\"Hello, {name}!\",\"language\":\"rust\"}}"#);
        let answer = format!(
            r#"{{"statusCode":200,"headers":{{"content-type":"application/json"}},"body":"{body}"}}"#
        );
        let path = format!("/2018-06-01/runtime/invocation/{request_id}/response");
        call(&api, "POST", &path, &answer);
    }
}

/// Sends one request and returns the response's header block and body.
fn call(api: &str, method: &str, path: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(api).expect("connect to the Runtime API");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .expect("send to the Runtime API");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("read from the Runtime API");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (headers, body) = response
        .split_once("\r\n\r\n")
        .expect("an HTTP response has a header block");
    let body = if header(headers, "transfer-encoding").eq_ignore_ascii_case("chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (headers.to_owned(), body)
}

fn header(headers: &str, name: &str) -> String {
    headers
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default()
}

/// The body of a chunked response: hexadecimal sizes, each followed by that many bytes.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

/// A path parameter of an API Gateway event, kept to letters, digits, `-` and `_` so it
/// can go into the answer's JSON as it is.
fn path_parameter(event: &str, name: &str) -> String {
    let Some(start) = event.find("\"pathParameters\"") else {
        return "world".to_owned();
    };
    let key = format!("\"{name}\"");
    let Some(at) = event[start..].find(&key) else {
        return "world".to_owned();
    };
    let value = event[start + at + key.len()..]
        .trim_start_matches([':', ' ', '"'])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect::<String>();
    if value.is_empty() {
        "world".to_owned()
    } else {
        value
    }
}
