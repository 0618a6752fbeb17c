//! How far behind each mapping is: the age of the oldest record its function has not yet
//! processed (Lambda's `IteratorAge`, read when asked rather than at each batch, so it
//! also shows a mapping stuck on a failing batch growing older).

use crate::mappings::StreamMappings;

/// One enabled mapping's lag.
#[derive(Debug, Clone, PartialEq)]
pub struct IteratorAge {
    pub stack: String,
    /// The function's logical id.
    pub function: String,
    pub table: String,
    /// Seconds since the oldest record after the mapping's checkpoint was written; 0 when
    /// the mapping has processed every record.
    pub age_seconds: f64,
}

impl StreamMappings {
    /// The lag of every enabled mapping that has started reading, at `now` (seconds since
    /// the epoch). Reads checkpoints and the store: call it from blocking code.
    pub async fn iterator_ages(&self, now: i64) -> Vec<IteratorAge> {
        let mut ages = Vec::new();
        for mapping in self.list().await {
            if !mapping.enabled {
                continue;
            }
            let services = self.services();
            let Ok(Some(checkpoint)) = services.checkpoints.load(&mapping.key) else {
                continue;
            };
            let store = &services.store;
            // A checkpoint of an earlier stream of the table does not apply to this one.
            let current = store
                .stream_info(&mapping.table_name)
                .ok()
                .flatten()
                .is_some_and(|stream| stream.stream_arn == checkpoint.stream_arn);
            if !current {
                continue;
            }
            let Ok(next) = store.read_stream(&mapping.table_name, checkpoint.sequence, 1) else {
                continue;
            };
            let age_seconds = next.first().map_or(0.0, |record| {
                now.saturating_sub(record.created).max(0) as f64
            });
            ages.push(IteratorAge {
                stack: mapping.function.stack.to_string(),
                function: mapping.function.function.to_string(),
                table: mapping.table_name.clone(),
                age_seconds,
            });
        }
        ages
    }
}
