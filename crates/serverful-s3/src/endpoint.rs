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
        Box::pin(async move {
            let request_id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
            let response = tower::Service::call(&mut service, request).await;
            let mut response = match response {
                Ok(response) => response.map(axum::body::Body::new),
                Err(error) => {
                    tracing::error!("failed to serve an S3 request: {:?}", error);
                    let mut response = Response::new(axum::body::Body::empty());
                    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    response
                }
            };
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert("x-amz-request-id", value);
            }
            if let Some(cors) = cors {
                cors.apply(response.headers_mut());
            }
            response
        })
    }
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
}
