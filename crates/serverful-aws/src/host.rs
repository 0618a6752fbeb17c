//! Which service a request's `Host` names, for the answers the endpoint gives before it
//! knows the operation (the health check, CORS preflights, errors of requests no service
//! claims). AWS serves each API on its own host (`dynamodb.{region}.amazonaws.com`,
//! `streams.dynamodb.…`, `sqs.…`); the endpoint serves them all on one port, so a host
//! that names no service (an IP address, `localhost`, a custom name) gets DynamoDB's
//! answers, DynamoDB being the API an unqualified endpoint is most often pointed at.

use http::HeaderMap;

use crate::request_id;

/// The service a request's host names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostService {
    /// `dynamodb.{region}.amazonaws.com`.
    DynamoDb,
    /// `streams.dynamodb.{region}.amazonaws.com`.
    DynamoDbStreams,
    /// Another AWS host (`sqs.…`, `sns.…`, `lambda.…`, a bucket's `….s3.…`).
    Other,
    /// A host that names no service: answered as DynamoDB.
    Unnamed,
}

impl HostService {
    /// The service the `Host` header (or the URI's authority) of a request names.
    pub fn of(headers: &HeaderMap, authority: Option<&str>) -> HostService {
        let host = headers
            .get(http::header::HOST)
            .and_then(|value| value.to_str().ok())
            .or(authority)
            .unwrap_or("");
        HostService::of_host(host)
    }

    /// The service `host` (with or without a port) names.
    pub fn of_host(host: &str) -> HostService {
        let name = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
        if name.starts_with("streams.dynamodb.") {
            HostService::DynamoDbStreams
        } else if name.starts_with("dynamodb.") {
            HostService::DynamoDb
        } else if name.ends_with(".amazonaws.com") || name.ends_with(".amazonaws.com.cn") {
            HostService::Other
        } else {
            HostService::Unnamed
        }
    }

    /// Whether the endpoint answers as DynamoDB (or its Streams) for this host.
    pub fn is_dynamodb(self) -> bool {
        self != HostService::Other
    }

    /// A request id in the shape the named service uses.
    pub fn new_request_id(self) -> String {
        if self.is_dynamodb() {
            request_id::dynamodb()
        } else {
            request_id::uuid()
        }
    }
}

/// `host` without its `:port`; an IPv6 literal keeps its brackets.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|byte| byte.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_name_services() {
        let cases = [
            ("dynamodb.us-east-1.amazonaws.com", HostService::DynamoDb),
            (
                "DynamoDB.eu-west-1.amazonaws.com:443",
                HostService::DynamoDb,
            ),
            (
                "streams.dynamodb.us-east-1.amazonaws.com",
                HostService::DynamoDbStreams,
            ),
            ("sqs.us-east-1.amazonaws.com", HostService::Other),
            ("photos.s3.us-east-1.amazonaws.com", HostService::Other),
            ("localhost:4566", HostService::Unnamed),
            ("127.0.0.1:4566", HostService::Unnamed),
            ("[::1]:4566", HostService::Unnamed),
            ("", HostService::Unnamed),
        ];
        for (host, expected) in cases {
            assert_eq!(HostService::of_host(host), expected, "{host}");
        }
    }
}
