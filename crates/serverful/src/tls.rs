//! AWS's host names for functions: the data folder's certificate authority, the bundle
//! functions trust, and the TLS listeners inside each sandbox (`127.0.0.1:443`, and the
//! gateway's port, where `https://{domainName}/{stage}/@connections/{id}` lands when the
//! client reached the gateway by address) serving the AWS endpoint's router.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use serverful_runtime as runtime;

/// The HTTPS port AWS's host names are reached on.
const HTTPS_PORT: u16 = 443;

/// What `up` and `serve` set up for TLS: the bundle functions trust and the server
/// configuration the sandboxes' listeners present.
pub(crate) struct Tls {
    pub ca_bundle: std::path::PathBuf,
    pub config: Arc<serverful_tls::ServerConfig>,
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
    Ok(Tls { ca_bundle, config })
}

/// The TLS listeners inside every sandbox: port 443 and the gateway's port, unless the
/// AWS endpoint's plain listener already has it.
pub(crate) fn sandbox_endpoints(
    tls: &Tls,
    aws_port: u16,
    gateway_port: u16,
    router: Arc<std::sync::OnceLock<axum::Router>>,
    handle: tokio::runtime::Handle,
) -> Vec<runtime::sandbox::PlatformEndpoint> {
    let mut ports = vec![HTTPS_PORT, gateway_port];
    ports.dedup();
    ports.retain(|port| *port != aws_port);
    ports
        .into_iter()
        .map(|port| {
            let router = router.clone();
            let handle = handle.clone();
            let config = tls.config.clone();
            runtime::sandbox::PlatformEndpoint {
                port,
                serve: Arc::new(move |listener: tokio::net::TcpListener| {
                    let router = router.get().cloned().unwrap_or_default();
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
    axum::serve(listener, router).await
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
