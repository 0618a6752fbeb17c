//! In-process readers of DynamoDB Streams (the event-source mappings that feed functions):
//! a table's shard read from a sequence number on, and a wake-up call each time records are
//! appended to it, so that a reader starts within microseconds of the write that made the
//! record durable instead of polling `GetRecords`.
//!
//! The wake-up is a decorator around the store's backend: it sees every batch that contains
//! [`Write::AppendStream`] and, once the backend reports the batch durable, calls the
//! listeners registered for those streams. Listeners must be quick (they run on the writing
//! thread, or on the backend's syncer thread for queued writes): a reader's listener only
//! wakes its task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use serde_json::Value;

use super::streams::{render_record, shard_id, stream_key};
use super::Store;
use crate::backend::{
    Backend, BackendError, Entry, Exclusion, Held, SortRange, Space, StreamRecord, TokenRecord,
    Write, WriteDone,
};
use crate::error::{StoreError, StoreResult};

type Listener = Arc<dyn Fn() + Send + Sync>;

/// Who wants to hear about which stream (by the backend's stream key).
#[derive(Default)]
pub(crate) struct StreamListeners {
    next_id: AtomicU64,
    by_stream: Mutex<HashMap<String, Vec<(u64, Listener)>>>,
}

impl StreamListeners {
    fn notify(&self, streams: &[String]) {
        let listeners: Vec<Listener> = {
            let by_stream = self
                .by_stream
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            streams
                .iter()
                .filter_map(|stream| by_stream.get(stream))
                .flatten()
                .map(|(_, listener)| listener.clone())
                .collect()
        };
        for listener in listeners {
            listener();
        }
    }
}

/// The streams a batch appends to.
fn appended_streams(batch: &[Write]) -> Vec<String> {
    let mut streams: Vec<String> = batch
        .iter()
        .filter_map(|write| match write {
            Write::AppendStream { stream, .. } => Some(stream.clone()),
            _ => None,
        })
        .collect();
    streams.dedup();
    streams
}

/// The store's backend, telling [`StreamListeners`] about appended records once durable.
pub(crate) struct NotifyingBackend {
    pub(crate) inner: Arc<dyn Backend>,
    pub(crate) listeners: Arc<StreamListeners>,
}

impl Backend for NotifyingBackend {
    fn tables(&self) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        self.inner.tables()
    }

    fn get(
        &self,
        space: &Space,
        partition: &[u8],
        sort: &[u8],
    ) -> Result<Option<Vec<u8>>, BackendError> {
        self.inner.get(space, partition, sort)
    }

    fn query(
        &self,
        space: &Space,
        partition: &[u8],
        range: &SortRange,
        limit: usize,
    ) -> Result<Vec<Entry>, BackendError> {
        self.inner.query(space, partition, range, limit)
    }

    fn scan(
        &self,
        space: &Space,
        after: Option<(&[u8], &[u8])>,
        limit: usize,
    ) -> Result<Vec<Entry>, BackendError> {
        self.inner.scan(space, after, limit)
    }

    fn count(&self, space: &Space) -> Result<(u64, u64), BackendError> {
        self.inner.count(space)
    }

    fn stream_records(
        &self,
        stream: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StreamRecord>, BackendError> {
        self.inner.stream_records(stream, after, limit)
    }

    fn write(&self, batch: Vec<Write>) -> Result<(), BackendError> {
        let streams = appended_streams(&batch);
        self.inner.write(batch)?;
        if !streams.is_empty() {
            self.listeners.notify(&streams);
        }
        Ok(())
    }

    fn token(&self, token: &str) -> Result<Option<TokenRecord>, BackendError> {
        self.inner.token(token)
    }

    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }

    fn exclude(&self, what: Exclusion<'_>) -> Result<Option<Held>, BackendError> {
        self.inner.exclude(what)
    }

    fn catalog_version(&self) -> Result<u64, BackendError> {
        self.inner.catalog_version()
    }

    fn write_then(&self, batch: Vec<Write>, done: WriteDone) {
        let streams = appended_streams(&batch);
        if streams.is_empty() {
            return self.inner.write_then(batch, done);
        }
        let listeners = self.listeners.clone();
        self.inner.write_then(
            batch,
            Box::new(move |outcome| {
                let durable = outcome.is_ok();
                done(outcome);
                if durable {
                    listeners.notify(&streams);
                }
            }),
        );
    }
}

/// A registered listener; dropping it unregisters it.
pub struct StreamWatch {
    listeners: Weak<StreamListeners>,
    stream: String,
    id: u64,
}

impl std::fmt::Debug for StreamWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWatch")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl Drop for StreamWatch {
    fn drop(&mut self) {
        if let Some(listeners) = self.listeners.upgrade() {
            let mut by_stream = listeners
                .by_stream
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(entries) = by_stream.get_mut(&self.stream) {
                entries.retain(|(id, _)| *id != self.id);
                if entries.is_empty() {
                    by_stream.remove(&self.stream);
                }
            }
        }
    }
}

/// A table's current stream, as an in-process reader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// The stream's ARN (with its real label), the records' `eventSourceARN`.
    pub stream_arn: String,
    /// The id of its one shard (as `DescribeStream` shows it).
    pub shard_id: String,
    /// `KEYS_ONLY`, `NEW_IMAGE`, `OLD_IMAGE` or `NEW_AND_OLD_IMAGES`.
    pub view_type: String,
}

/// One record of a shard, read in process.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardRecord {
    /// Its position in the shard; read on after it.
    pub sequence: u64,
    /// When it was written, seconds since the epoch.
    pub created: i64,
    /// The record as `GetRecords` shows it (`eventID`, `eventName`, `dynamodb`...).
    pub record: Value,
}

impl Store {
    /// The table's current stream, or `None` when the table has no stream enabled.
    /// Fails with `ResourceNotFoundException` when there is no such table.
    pub fn stream_info(&self, table_name: &str) -> StoreResult<Option<StreamInfo>> {
        let table = self.table(table_name)?;
        let (Some(view_type), Some(label)) =
            (&table.meta.stream_view_type, &table.meta.stream_label)
        else {
            return Ok(None);
        };
        Ok(Some(StreamInfo {
            stream_arn: self.stream_arn(&table, label),
            shard_id: shard_id(&table, label),
            view_type: view_type.clone(),
        }))
    }

    /// Up to `limit` records of the table's current stream after sequence number `after`
    /// (0: from the oldest record kept), in order. Empty when the table has no stream.
    pub fn read_stream(
        &self,
        table_name: &str,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<ShardRecord>> {
        let table = self.table(table_name)?;
        let Some(label) = &table.meta.stream_label else {
            return Ok(Vec::new());
        };
        let stored = self
            .backend
            .stream_records(&stream_key(&table, label), after, limit)?;
        stored
            .iter()
            .map(|record| {
                Ok(ShardRecord {
                    sequence: record.sequence,
                    created: record.created,
                    record: render_record(&table, record)?,
                })
            })
            .collect()
    }

    /// The sequence number of the newest record of the table's stream (0 when it has none):
    /// where a reader that starts at `LATEST` reads on from.
    pub fn stream_latest(&self, table_name: &str) -> StoreResult<u64> {
        let table = self.table(table_name)?;
        let Some(label) = &table.meta.stream_label else {
            return Ok(0);
        };
        let key = stream_key(&table, label);
        let mut after = 0;
        loop {
            let records = self.backend.stream_records(&key, after, 1000)?;
            match records.last() {
                Some(record) => after = record.sequence,
                None => return Ok(after),
            }
        }
    }

    /// Calls `listener` each time records are appended to the table's current stream and
    /// durable, until the returned watch is dropped. The listener must return quickly: it
    /// runs on the writer's thread.
    pub fn watch_stream(
        &self,
        table_name: &str,
        listener: Arc<dyn Fn() + Send + Sync>,
    ) -> StoreResult<StreamWatch> {
        let table = self.table(table_name)?;
        let Some(label) = &table.meta.stream_label else {
            return Err(StoreError::validation(format!(
                "Table {table_name} has no stream"
            )));
        };
        let stream = stream_key(&table, label);
        let id = self
            .stream_listeners
            .next_id
            .fetch_add(1, Ordering::Relaxed);
        self.stream_listeners
            .by_stream
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(stream.clone())
            .or_default()
            .push((id, listener));
        Ok(StreamWatch {
            listeners: Arc::downgrade(&self.stream_listeners),
            stream,
            id,
        })
    }
}
