//! TLS for the AWS host names Serverful serves, for its functions.
//!
//! SDKs that ignore `AWS_ENDPOINT_URL` (the Node.js SDK v2, older boto3, the Go and Java
//! SDKs) and code that builds AWS URLs itself (`https://{domainName}/{stage}` for the
//! WebSocket management API) call `https://dynamodb.{region}.amazonaws.com` and the like.
//! Inside the sandbox those names resolve to Serverful, which must then answer TLS with a
//! certificate the function trusts. This crate holds the pieces:
//!
//! - [`Authority`]: a certificate authority made once per data folder (`DATA/tls/ca.pem`,
//!   its key in `DATA/tls/ca-key.pem`, 0600), and the leaf certificate it issues for the
//!   served names ([`served_names`]) each time the server starts.
//! - [`Authority::write_bundle`]: the file functions trust through `NODE_EXTRA_CA_CERTS`,
//!   `AWS_CA_BUNDLE`, `REQUESTS_CA_BUNDLE` and `SSL_CERT_FILE`: the system's roots and the
//!   authority, so that TLS to every other host still verifies.
//! - [`TlsListener`]: a TCP listener whose connections are TLS, served by `axum::serve`.
//! - [`service_host_names`] and [`api_host_names`]: the exact names the sandbox's
//!   `/etc/hosts` maps to Serverful (it has no wildcards).
//!
//! Architecture invariant: this crate knows no services and no sandbox; it makes
//! certificates and terminates TLS. Which listener serves what is the binary's choice.

mod authority;
mod listener;
mod names;

pub use authority::{Authority, CA_FILE, CA_KEY_FILE, TLS_DIR};
pub use listener::TlsListener;
pub use names::{
    api_host_names, served_names, service_host_names, AWS_SERVICES, GLOBAL_HOST_NAMES,
};
/// The TLS configuration a [`TlsListener`] serves with.
pub use rustls::ServerConfig;

/// Why the authority or a certificate could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Reading or writing a file of the authority failed.
    #[error("{action} {path}: {source}")]
    File {
        action: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The stored key is not a key rcgen can read (`DATA/tls/ca-key.pem` was edited).
    #[error("read the certificate authority's key {path}: {reason}\nhint: delete {dir} to make a new authority (functions pick it up at their next start)")]
    BadKey {
        path: std::path::PathBuf,
        dir: std::path::PathBuf,
        reason: String,
    },
    /// rcgen refused to make a certificate.
    #[error("make a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the certificate or key.
    #[error("set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
}
