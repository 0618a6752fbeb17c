//! The DynamoDB stream mappings' durable checkpoints (`DATA/streams.sqlite`) and their
//! retry timing, with `SERVERFUL_STREAM_RETRY_DELAY_MS` to shorten it for development and
//! tests.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serverful_platform::streams::StreamsConfig;
use serverful_streams::{SqliteCheckpoints, StreamsSettings};

/// The first retry delay of a failed stream batch, in milliseconds (it doubles per retry,
/// up to 64 times this or 30 s).
const RETRY_DELAY_VARIABLE: &str = "SERVERFUL_STREAM_RETRY_DELAY_MS";

pub(crate) fn config(
    data_dir: &Path,
    cluster: Option<&crate::cluster::Cluster>,
) -> anyhow::Result<StreamsConfig> {
    let checkpoints: Arc<dyn serverful_streams::CheckpointStore> = match cluster {
        Some(cluster) => Arc::new(
            serverful_postgres::checkpoints::PostgresCheckpoints::new(cluster.database.clone())
                .context("open the stream checkpoints in PostgreSQL")?,
        ),
        None => {
            let path = data_dir.join("streams.sqlite");
            Arc::new(
                SqliteCheckpoints::open(&path)
                    .with_context(|| format!("open {}", path.display()))?,
            )
        }
    };
    let mut settings = StreamsSettings::default();
    if let Ok(text) = std::env::var(RETRY_DELAY_VARIABLE) {
        let millis: u64 = text.trim().parse().with_context(|| {
            format!("read {RETRY_DELAY_VARIABLE}={text:?}: expected a whole number of milliseconds")
        })?;
        settings.retry_base = Duration::from_millis(millis);
        settings.retry_max = settings
            .retry_max
            .min(settings.retry_base.saturating_mul(64));
    }
    Ok(StreamsConfig {
        checkpoints,
        settings,
    })
}
