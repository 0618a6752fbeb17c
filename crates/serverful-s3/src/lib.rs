//! S3 on the AWS endpoint: buckets and objects, durable, with the endpoint's keys.
//!
//! The [`s3s`] crate speaks the protocol: it routes each request (path-style or
//! virtual-hosted-style) to an operation, parses and writes S3's XML and headers,
//! verifies SigV4 (headers, presigned URLs, `aws-chunked` bodies and their trailers) and
//! shapes S3's XML errors. This crate is the rest: the operations ([`S3Store`], our
//! implementation of s3s's `S3` trait), who may call them ([`auth`]), where bodies live
//! ([`bodies`]: files under `DATA/s3/`, fsync'd and renamed into place before an upload
//! is answered) and the metadata behind the [`S3Backend`] trait, kept in SQLite
//! (`DATA/s3.sqlite`, [`SqliteBackend`]). The AWS endpoint hands it requests unbuffered
//! through [`S3Endpoint`], a [`serverful_aws::StreamingService`].

pub mod auth;
pub mod backend;
pub mod bodies;
pub mod checksum;
pub mod configuration;
pub mod cors;
pub mod endpoint;
pub mod events;
pub mod lifecycle;
pub mod listing;
pub mod service;
pub mod sqlite;
pub mod versions;
pub mod website;
pub mod website_routing;

use std::path::Path;
use std::sync::Arc;

pub use backend::{
    Bucket, ConfigurationKind, ObjectVersion, S3Backend, StorageError, StoredConfiguration,
};
pub use endpoint::S3Endpoint;
pub use events::{ObjectEvent, ObjectEventSink};
pub use service::S3Store;
pub use sqlite::SqliteBackend;
pub use website::{PublicRead, Website, WebsiteConfig};
pub use website_routing::RoutingRule;

/// Why S3's state could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("failed to open the S3 bodies folder {path}: {source}")]
    Bodies {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Opens S3's state in the data folder `data_dir`: `s3.sqlite` and the `s3/` bodies,
/// sweeping bodies that a crash left without a record. Requests are signed with the
/// keys of `keys`; buckets are reported in `region`.
pub fn open_in(
    data_dir: &Path,
    keys: Arc<serverful_aws::KeyRing>,
    region: &str,
) -> Result<S3Store, OpenError> {
    let backend = SqliteBackend::open(&data_dir.join("s3.sqlite"))?;
    let root = data_dir.join("s3");
    let bodies_error = |source| OpenError::Bodies {
        path: root.clone(),
        source,
    };
    let bodies = bodies::Bodies::open(&root).map_err(bodies_error)?;
    let referenced = backend.body_files()?;
    let swept = bodies.sweep(&referenced).map_err(bodies_error)?;
    if swept > 0 {
        tracing::info!(
            swept,
            "removed S3 bodies a previous run left without a record"
        );
    }
    Ok(S3Store::new(Arc::new(backend), bodies, keys, region))
}
