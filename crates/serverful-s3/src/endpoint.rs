//! S3 on the AWS endpoint: which requests are S3's, how a host names a bucket
//! (virtual-hosted style), and the s3s service that answers them with their bodies
//! streaming both ways.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::Response;
use futures_util::future::BoxFuture;
use http::HeaderValue;
use s3s::host::{S3Host, VirtualHost};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::S3Result;
use serverful_aws::{KeyRing, StreamingService};

use crate::auth::{KeyRingAccess, KeyRingAuth};
use crate::service::S3Store;

/// The label that marks a virtual-hosted-style host: `{bucket}.s3.{anything}`.
const S3_LABEL: &str = ".s3.";

/// The bucket a host names, virtual-hosted style: `photos.s3.localhost:4566` names
/// `photos`; `s3.us-east-1.amazonaws.com`, `localhost` or an IP address name none (path
/// style).
pub fn bucket_of_host(host: &str) -> Option<&str> {
    let host = strip_port(host);
    let at = host.find(S3_LABEL)?;
    (at > 0).then(|| &host[..at])
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(address, _)| address);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|byte| byte.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Whether a request is S3's by its host: virtual-hosted style, or `s3.{region}.amazonaws.com`.
fn is_s3_host(host: &str) -> bool {
    let host = strip_port(host);
    bucket_of_host(host).is_some()
        || (host.starts_with("s3.") && host.ends_with(".amazonaws.com"))
        || host == "s3.amazonaws.com"
}

/// s3s's view of the host.
#[derive(Debug)]
struct EndpointHost;

impl S3Host for EndpointHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = strip_port(host);
        Ok(match bucket_of_host(host) {
            Some(bucket) => VirtualHost::new(&name[bucket.len() + 1..]).with_bucket(bucket),
            None => VirtualHost::new(name),
        })
    }
}

/// S3 as a [`StreamingService`] of the AWS endpoint.
#[derive(Clone)]
pub struct S3Endpoint {
    service: S3Service,
    /// The store again, for what s3s does not route: CORS (`cors.rs`).
    store: S3Store,
}

impl std::fmt::Debug for S3Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Endpoint").finish_non_exhaustive()
    }
}

impl S3Endpoint {
    /// The endpoint over `store`, accepting the keys of `keys`.
    pub fn new(store: S3Store, keys: Arc<KeyRing>, region: &str) -> S3Endpoint {
        let mut builder = S3ServiceBuilder::new(store.clone());
        builder.set_auth(KeyRingAuth { keys: keys.clone() });
        builder.set_access(KeyRingAccess {
            keys,
            region: region.to_owned(),
        });
        builder.set_host(EndpointHost);
        S3Endpoint {
            service: builder.build(),
            store,
        }
    }
}

impl StreamingService for S3Endpoint {
    fn claims(&self, request: &Request, credential_service: Option<&str>) -> bool {
        if credential_service == Some("s3") {
            return true;
        }
        let host = request
            .headers()
            .get(http::header::HOST)
            .and_then(|value| value.to_str().ok())
            .or_else(|| {
                request
                    .uri()
                    .authority()
                    .map(|authority| authority.as_str())
            });
        host.is_some_and(is_s3_host)
    }

    fn takes_unclaimed_unsigned(&self) -> bool {
        true
    }

    fn call(&self, request: Request) -> BoxFuture<'static, Response> {
        let mut service = self.service.clone();
        // CORS: a preflight is answered from the bucket's rules; an actual request from
        // a browser gets the matching rule's headers on its answer.
        if S3Store::is_preflight(&request) {
            let response = self.store.preflight(&request);
            return Box::pin(async move { response });
        }
        let cors = self.store.cors_for(&request);
        let unanswered_expect = expects_continue_without_a_body(&request);
        Box::pin(async move {
            let request_id = uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase();
            let response = tower::Service::call(&mut service, request).await;
            let mut response = match response {
                Ok(response) => response.map(axum::body::Body::new),
                Err(error) => {
                    tracing::error!("failed to serve an S3 request: {:?}", error);
                    let mut response = Response::new(axum::body::Body::from(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>",
                    ));
                    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    response.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/xml"),
                    );
                    response
                }
            };
            if response.status().is_client_error() || response.status().is_server_error() {
                response = with_request_id_in_error(response, &request_id).await;
            }
            if unanswered_expect {
                // The empty body is never read, so no `100 Continue` goes out; botocore
                // then misreads the next answer on the connection (it waits 60 s for
                // it). A fresh connection for its next request avoids that.
                response
                    .headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response
                    .headers_mut()
                    .insert("x-amz-request-id", value.clone());
                response.headers_mut().insert("x-amz-id-2", value);
            }
            if let Some(cors) = cors {
                cors.apply(response.headers_mut());
            }
            response
        })
    }
}

/// Whether a request asks for `100 Continue` (`Expect: 100-continue`) but has an empty
/// body (`Content-Length: 0`), which the server answers without one.
fn expects_continue_without_a_body(request: &Request) -> bool {
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    header(http::header::EXPECT).is_some_and(|value| value.eq_ignore_ascii_case("100-continue"))
        && header(http::header::CONTENT_LENGTH) == Some("0")
}

/// The most an error's body may be for its XML to be given a request id.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// An error answer with `<RequestId>` and `<HostId>` in its XML, as S3 writes them (the
/// SDKs show them with the error); other answers, and HEAD's empty ones, unchanged.
async fn with_request_id_in_error(response: Response, request_id: &str) -> Response {
    let xml = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("xml"));
    if !xml {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, ERROR_BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!("failed to read an S3 error's body: {error}");
            return Response::from_parts(parts, axum::body::Body::empty());
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let body = match text.rfind("</Error>") {
        Some(end) if !text.contains("<RequestId>") => {
            let mut with_id = String::with_capacity(text.len() + 96);
            with_id.push_str(&text[..end]);
            with_id.push_str(&format!(
                "<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId>"
            ));
            with_id.push_str(&text[end..]);
            parts.headers.remove(http::header::CONTENT_LENGTH);
            axum::body::Body::from(with_id)
        }
        _ => axum::body::Body::from(bytes),
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_name_buckets_virtual_hosted_style() {
        assert_eq!(bucket_of_host("photos.s3.localhost:4566"), Some("photos"));
        assert_eq!(
            bucket_of_host("my.site.s3.us-east-1.amazonaws.com"),
            Some("my.site")
        );
        assert_eq!(bucket_of_host("s3.us-east-1.amazonaws.com"), None);
        assert_eq!(bucket_of_host("127.0.0.1:4566"), None);
        assert_eq!(bucket_of_host("localhost"), None);
        assert!(is_s3_host("s3.us-east-1.amazonaws.com"));
        assert!(is_s3_host("b.s3.localhost:9000"));
        assert!(!is_s3_host("localhost:4566"));
        assert!(!is_s3_host("[::1]:4566"));
    }

    #[tokio::test]
    async fn errors_carry_their_request_id_in_the_xml() {
        let error = |body: &'static str, content_type: &'static str| {
            let mut response = Response::new(axum::body::Body::from(body));
            *response.status_mut() = http::StatusCode::NOT_FOUND;
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(content_type),
            );
            response
        };
        let text = |response: Response| async move {
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            String::from_utf8(bytes.to_vec()).expect("utf-8")
        };
        let answered = with_request_id_in_error(
            error(
                "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>m</Message></Error>",
                "application/xml",
            ),
            "ABC",
        )
        .await;
        assert_eq!(
            text(answered).await,
            "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>m</Message><RequestId>ABC</RequestId><HostId>ABC</HostId></Error>"
        );
        // Not XML, or already carrying one: as it was.
        let plain = with_request_id_in_error(error("gone", "text/plain"), "ABC").await;
        assert_eq!(text(plain).await, "gone");
        let had = "<Error><Code>X</Code><RequestId>Z</RequestId></Error>";
        let kept = with_request_id_in_error(error(had, "application/xml"), "ABC").await;
        assert_eq!(text(kept).await, had);
    }
}
