//! AWS's host names for functions: the data folder's certificate authority, the bundle
//! functions trust, and the TLS listeners inside each sandbox (`127.0.0.1:443`, and the
//! gateway's port, where `https://{domainName}/{stage}/@connections/{id}` lands when the
//! client reached the gateway by address). They dispatch on the host as the plain
//! listeners do: an API's host goes to the gateway, everything else (and every management
//! call) to the AWS endpoint.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::response::{IntoResponse as _, Response};
use serverful_runtime as runtime;
use tower::ServiceExt as _;

/// The HTTPS port AWS's host names are reached on.
const HTTPS_PORT: u16 = 443;

/// What `up` and `serve` set up for TLS: the bundle functions trust and the server
/// configuration the sandboxes' listeners present.
pub(crate) struct Tls {
    pub ca_bundle: std::path::PathBuf,
    pub config: Arc<serverful_tls::ServerConfig>,
    region: String,
    domain: String,
}

/// Loads (or makes, the first time) the authority of `data_dir`, writes the bundle and
/// issues the certificate of the names served for `region` and `domain`.
pub(crate) fn set_up(data_dir: &Path, region: &str, domain: &str) -> anyhow::Result<Tls> {
    let authority = serverful_tls::Authority::load_or_create(data_dir)
        .context("set up the certificate authority")?;
    let ca_bundle = authority
        .write_bundle()
        .context("write the CA bundle for functions")?;
    let config = authority
        .server_config(&serverful_tls::served_names(region, domain))
        .context("issue the certificate of AWS's host names")?;
    Ok(Tls {
        ca_bundle,
        config,
        region: region.to_owned(),
        domain: domain.to_owned(),
    })
}

/// The routers the TLS listeners hand requests to, set once the server has made them.
#[derive(Clone, Default)]
pub(crate) struct Routers {
    pub aws: Arc<OnceLock<axum::Router>>,
    pub gateway: Arc<OnceLock<axum::Router>>,
}

/// How one TLS listener picks a router for a request.
struct Dispatch {
    routers: Routers,
    /// `.execute-api.{region}.amazonaws.com`: AWS's name for an API.
    aws_api_suffix: String,
    /// `.execute-api.{domain}`: Serverful's.
    own_api_suffix: String,
    /// Whether this listener is on the gateway's port, where a bare address means the
    /// gateway, as on the plain listener.
    on_gateway_port: bool,
}

/// The TLS listeners inside every sandbox: port 443 and the gateway's port, unless the
/// AWS endpoint's plain listener already has it.
pub(crate) fn sandbox_endpoints(
    tls: &Tls,
    aws_port: u16,
    gateway_port: u16,
    routers: Routers,
    handle: tokio::runtime::Handle,
) -> Vec<runtime::sandbox::PlatformEndpoint> {
    let mut ports = vec![HTTPS_PORT, gateway_port];
    ports.dedup();
    ports.retain(|port| *port != aws_port);
    ports
        .into_iter()
        .map(|port| {
            let dispatch = Arc::new(Dispatch {
                routers: routers.clone(),
                aws_api_suffix: format!(".execute-api.{}.amazonaws.com", tls.region),
                own_api_suffix: format!(".execute-api.{}", tls.domain),
                on_gateway_port: port == gateway_port,
            });
            let handle = handle.clone();
            let config = tls.config.clone();
            runtime::sandbox::PlatformEndpoint {
                port,
                serve: Arc::new(move |listener: tokio::net::TcpListener| {
                    let router = axum::Router::new()
                        .fallback(dispatch_request)
                        .with_state(dispatch.clone());
                    let config = config.clone();
                    // As the plain listener: served on the AWS endpoint's runtime.
                    let listener = listener.into_std();
                    handle.spawn(async move {
                        let served = match listener {
                            Ok(listener) => serve(listener, config, router).await,
                            Err(error) => Err(error),
                        };
                        if let Err(error) = served {
                            tracing::debug!("TLS endpoint inside a sandbox stopped: {error}");
                        }
                    })
                }),
            }
        })
        .collect()
}

async fn serve(
    listener: std::net::TcpListener,
    config: Arc<serverful_tls::ServerConfig>,
    router: axum::Router,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let listener = serverful_tls::TlsListener::new(listener, config, "sandbox's TLS endpoint")?;
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<Peer>(),
    )
    .await
}

/// The caller's address on a TLS connection, which [`dispatch_request`] hands on to the
/// gateway as the `ConnectInfo<SocketAddr>` its events take `sourceIp` from (axum provides
/// that one for plain TCP listeners only).
#[derive(Clone, Copy)]
struct Peer(SocketAddr);

impl
    axum::extract::connect_info::Connected<
        axum::serve::IncomingStream<'_, serverful_tls::TlsListener>,
    > for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, serverful_tls::TlsListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

/// Hands `request` to the gateway when its host names an API (AWS's name rewritten to
/// Serverful's, `{id}.execute-api.{domain}`, which the gateway routes under `up` and
/// `serve` alike) or when it reached the gateway's port by address; management calls and
/// everything else go to the AWS endpoint.
async fn dispatch_request(
    State(dispatch): State<Arc<Dispatch>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<Peer>,
    mut request: Request,
) -> Response {
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer.0));
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|byte| byte.is_ascii_digit()) => {
            (name.to_owned(), Some(port.to_owned()))
        }
        _ => (host.clone(), None),
    };
    let management = request.uri().path().contains("/@connections/");
    let api_id = name
        .strip_suffix(&dispatch.aws_api_suffix)
        .or_else(|| name.strip_suffix(&dispatch.own_api_suffix))
        .filter(|id| !id.is_empty() && !id.contains('.'));
    let to_gateway = !management && (api_id.is_some() || dispatch.on_gateway_port);
    let routers = &dispatch.routers;
    let router = if to_gateway {
        if let Some(api_id) = api_id {
            let own = match port {
                Some(port) => format!("{api_id}{}:{port}", dispatch.own_api_suffix),
                None => format!("{api_id}{}", dispatch.own_api_suffix),
            };
            if let Ok(value) = http::HeaderValue::from_str(&own) {
                request.headers_mut().insert(http::header::HOST, value);
            }
        }
        routers.gateway.get()
    } else {
        routers.aws.get()
    };
    match router {
        Some(router) => match router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        // Only before start-up finished, when no function runs yet.
        None => http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// What functions get: the bundle, and sandboxed, the names that resolve to Serverful
/// (the region's services; the platform adds each stack's APIs).
pub(crate) fn aws_hosts(tls: &Tls, region: &str, sandboxed: bool) -> runtime::aws_hosts::AwsHosts {
    runtime::aws_hosts::AwsHosts {
        ca_bundle: tls.ca_bundle.clone(),
        names: if sandboxed {
            serverful_tls::service_host_names(region)
        } else {
            Vec::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which router `host` and `path` reach on a listener (`on_gateway_port` or 443), and
    /// the host the gateway saw.
    async fn check(host: &str, path: &str, on_gateway_port: bool) -> String {
        let routers = Routers::default();
        let _ = routers
            .aws
            .set(axum::Router::new().fallback(|| async { "aws".to_owned() }));
        let _ = routers
            .gateway
            .set(axum::Router::new().fallback(|request: Request| async move {
                let host = request
                    .headers()
                    .get(http::header::HOST)
                    .and_then(|host| host.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let peer = request
                    .extensions()
                    .get::<axum::extract::ConnectInfo<SocketAddr>>()
                    .map(|info| info.0.to_string())
                    .unwrap_or_default();
                format!("gateway {host} from {peer}")
            }));
        let dispatch = Arc::new(Dispatch {
            routers,
            aws_api_suffix: ".execute-api.eu-west-1.amazonaws.com".to_owned(),
            own_api_suffix: ".execute-api.localhost".to_owned(),
            on_gateway_port,
        });
        let router = axum::Router::new()
            .fallback(dispatch_request)
            .with_state(dispatch);
        let mut request = Request::builder()
            .uri(path)
            .header(http::header::HOST, host)
            .body(axum::body::Body::empty())
            .expect("a request");
        let peer: SocketAddr = "127.0.0.1:5555".parse().expect("an address");
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(Peer(peer)));
        let response = router.oneshot(request).await.expect("infallible");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("a body");
        String::from_utf8_lossy(&body).into_owned()
    }

    #[tokio::test]
    async fn requests_go_where_their_host_says() {
        let api = "abc123defg.execute-api.eu-west-1.amazonaws.com";
        assert_eq!(
            check(api, "/prod/hello", false).await,
            "gateway abc123defg.execute-api.localhost from 127.0.0.1:5555"
        );
        assert_eq!(
            check("abc123defg.execute-api.localhost:3000", "/prod/hello", true).await,
            "gateway abc123defg.execute-api.localhost:3000 from 127.0.0.1:5555"
        );
        assert_eq!(
            check("127.0.0.1:3000", "/prod/hello", true).await,
            "gateway 127.0.0.1:3000 from 127.0.0.1:5555"
        );
        // Management calls and the services go to the AWS endpoint.
        assert_eq!(check(api, "/prod/@connections/abc=", false).await, "aws");
        assert_eq!(
            check("127.0.0.1:3000", "/prod/@connections/abc=", true).await,
            "aws"
        );
        assert_eq!(
            check("dynamodb.eu-west-1.amazonaws.com", "/", false).await,
            "aws"
        );
        assert_eq!(
            check("execute-api.eu-west-1.amazonaws.com", "/", false).await,
            "aws"
        );
        assert_eq!(check("localhost", "/", false).await, "aws");
        // A name with more labels before the suffix is no API's.
        assert_eq!(
            check("a.b.execute-api.eu-west-1.amazonaws.com", "/", false).await,
            "aws"
        );
    }
}
