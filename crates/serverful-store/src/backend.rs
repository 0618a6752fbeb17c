//! The storage interface the engine runs on: a table catalog, ordered key
//! spaces of opaque byte values, and atomic write batches. No DynamoDB
//! semantics live behind it; backends (SQLite, PostgreSQL, [`MemoryBackend`]
//! for tests) only store bytes in key order.
//!
//! Every row lives in a [`Space`] — a table's items, or one secondary index's
//! entries — under a partition key and a sort key, both in the
//! order-preserving encoding of [`crate::key`], so plain byte order is
//! DynamoDB's order. The engine serializes all read-check-write sequences with
//! its own locks, so a backend only one process writes needs no isolation beyond
//! atomic batches. A backend several processes share ([`Backend::is_shared`], the
//! PostgreSQL one of cluster mode) also excludes the other processes: the engine
//! asks it for [`Backend::exclude`] after its own locks, and keeps what it gets until
//! its write is durable.
//!
//! Durability contract: when [`Backend::write`] returns `Ok`, the batch is
//! durable and visible to every later read.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Mutex;

/// Errors a backend reports; the engine turns them into `InternalServerError`.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The storage layer failed (IO, database error).
    #[error("storage failed: {0}")]
    Storage(String),
    /// The backend was shut down or its writer thread is gone.
    #[error("storage is closed")]
    Closed,
}

/// Where rows live: one table's items (`index` empty) or one index's entries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Space {
    /// The table's id, unique for the life of the database (a re-created table
    /// gets a new one, so old rows can never leak into it).
    pub table_id: u64,
    /// The index name, or empty for the table itself.
    pub index: String,
}

impl Space {
    /// The table's own items.
    pub fn table(table_id: u64) -> Space {
        Space {
            table_id,
            index: String::new(),
        }
    }

    /// A secondary index's entries.
    pub fn index(table_id: u64, index: &str) -> Space {
        Space {
            table_id,
            index: index.to_owned(),
        }
    }
}

/// One stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Encoded partition key.
    pub partition: Vec<u8>,
    /// Encoded sort key (empty when the space has none).
    pub sort: Vec<u8>,
    /// The stored value.
    pub value: Vec<u8>,
}

/// One stream record as stored, with the sequence number the backend gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    /// Increases with every appended record, across all streams, never reused.
    pub sequence: u64,
    /// When it was written, seconds since the epoch.
    pub created: i64,
    /// The engine's serialized record.
    pub record: Vec<u8>,
}

/// A transaction's `ClientRequestToken` as stored: what the engine recorded
/// about the request, and when it committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The engine's serialized request.
    pub request: Vec<u8>,
    /// When the transaction committed, milliseconds since the epoch.
    pub created_millis: i64,
}

/// Which sort keys of one partition a range read returns, and in which order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortRange {
    /// Lowest sort key.
    pub lower: Bound<Vec<u8>>,
    /// Highest sort key.
    pub upper: Bound<Vec<u8>>,
    /// Highest first when true.
    pub reverse: bool,
}

/// One change in an atomic batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Creates or replaces a catalog entry.
    PutTable {
        /// Table name.
        name: String,
        /// The engine's serialized table metadata.
        metadata: Vec<u8>,
    },
    /// Removes a catalog entry (its rows go with [`Write::DropSpace`]).
    DeleteTable {
        /// Table name.
        name: String,
    },
    /// Creates or replaces a row.
    Put {
        /// Where.
        space: Space,
        /// Encoded partition key.
        partition: Vec<u8>,
        /// Encoded sort key.
        sort: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Removes a row if present.
    Delete {
        /// Where.
        space: Space,
        /// Encoded partition key.
        partition: Vec<u8>,
        /// Encoded sort key.
        sort: Vec<u8>,
    },
    /// Appends a record to a stream; the backend assigns its sequence number.
    AppendStream {
        /// The stream's key (the engine uses table id and stream label).
        stream: String,
        /// Seconds since the epoch, for retention.
        created: i64,
        /// The serialized record.
        record: Vec<u8>,
    },
    /// Removes every stream record created before `before` (retention).
    ExpireStreamRecords {
        /// Seconds since the epoch.
        before: i64,
    },
    /// Records a committed transaction's `ClientRequestToken`, replacing an
    /// earlier record of the same token.
    PutToken {
        /// The token.
        token: String,
        /// The engine's serialized request.
        request: Vec<u8>,
        /// Milliseconds since the epoch.
        created_millis: i64,
    },
    /// Forgets every token recorded before `before_millis` (expiry).
    ExpireTokens {
        /// Milliseconds since the epoch.
        before_millis: i64,
    },
    /// Removes every row of a table and its indexes (`index: None`) or of one
    /// index.
    DropSpace {
        /// The table.
        table_id: u64,
        /// One index, or everything of the table.
        index: Option<String>,
    },
}

/// What a read-check-write or a catalog change excludes other processes from (see
/// [`Backend::exclude`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion<'a> {
    /// Items, by a hash of table id and key that every process computes alike
    /// (collisions only serialize more); also keeps the catalog from changing.
    Keys(&'a [u64]),
    /// The catalog: no item lock is held anywhere while this is.
    Catalog,
}

/// Held exclusion: the other processes wait until it is dropped.
pub struct Held {
    /// The catalog's version when the exclusion was granted (see
    /// [`Backend::catalog_version`]).
    pub catalog_version: u64,
    /// Lets go when dropped.
    pub release: Box<dyn Send>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("catalog_version", &self.catalog_version)
            .finish_non_exhaustive()
    }
}

/// Storage for the engine. Implementations must be safe to call from many
/// threads at once.
pub trait Backend: Send + Sync {
    /// Every catalog entry: table name and metadata.
    fn tables(&self) -> Result<Vec<(String, Vec<u8>)>, BackendError>;

    /// One row's value.
    fn get(
        &self,
        space: &Space,
        partition: &[u8],
        sort: &[u8],
    ) -> Result<Option<Vec<u8>>, BackendError>;

    /// Up to `limit` rows of one partition within `range`, in sort key order
    /// (reversed when asked).
    fn query(
        &self,
        space: &Space,
        partition: &[u8],
        range: &SortRange,
        limit: usize,
    ) -> Result<Vec<Entry>, BackendError>;

    /// Up to `limit` rows of a space in (partition, sort) order, starting after
    /// the given position.
    fn scan(
        &self,
        space: &Space,
        after: Option<(&[u8], &[u8])>,
        limit: usize,
    ) -> Result<Vec<Entry>, BackendError>;

    /// The number of rows in a space and the sum of their value sizes.
    fn count(&self, space: &Space) -> Result<(u64, u64), BackendError>;

    /// Up to `limit` records of a stream with sequence numbers above `after`,
    /// in sequence order.
    fn stream_records(
        &self,
        stream: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StreamRecord>, BackendError>;

    /// Applies every change or none; durable when it returns `Ok`.
    fn write(&self, batch: Vec<Write>) -> Result<(), BackendError>;

    /// The record of a transaction's `ClientRequestToken`, if one was written
    /// ([`Write::PutToken`]) and not expired since.
    fn token(&self, token: &str) -> Result<Option<TokenRecord>, BackendError>;

    /// Like [`Backend::write`] without waiting: queues the batch and calls `done` with
    /// the outcome once it is durable (or has failed), possibly on another thread.
    /// Batches queued one after the other are applied in that order, also relative to
    /// later [`Backend::write`] calls. The default writes right away and then calls
    /// `done`; backends with a writer thread hand the batch over instead.
    fn write_then(&self, batch: Vec<Write>, done: WriteDone) {
        done(self.write(batch));
    }

    /// Whether other processes write the same data (the engine's own locks then do
    /// not suffice: it asks for [`Backend::exclude`] as well, writes nothing without
    /// it, and rereads the catalog when [`Backend::catalog_version`] moves).
    fn is_shared(&self) -> bool {
        false
    }

    /// Waits until no other process holds what `what` names, and keeps them out until
    /// the answer is dropped. `None` for a backend only this process writes.
    fn exclude(&self, what: Exclusion<'_>) -> Result<Option<Held>, BackendError> {
        let _ = what;
        Ok(None)
    }

    /// A number that changes whenever any process writes the catalog
    /// ([`Write::PutTable`], [`Write::DeleteTable`]); constant for a backend only this
    /// process writes.
    fn catalog_version(&self) -> Result<u64, BackendError> {
        Ok(0)
    }
}

/// What [`Backend::write_then`] calls once a batch is durable or has failed.
pub type WriteDone = Box<dyn FnOnce(Result<(), BackendError>) + Send>;

/// The in-memory state of [`MemoryBackend`].
#[derive(Debug, Default)]
struct MemoryState {
    tables: BTreeMap<String, Vec<u8>>,
    rows: Rows,
    streams: BTreeMap<(String, u64), (i64, Vec<u8>)>,
    last_sequence: u64,
    tokens: BTreeMap<String, TokenRecord>,
}

type Rows = BTreeMap<(Space, Vec<u8>, Vec<u8>), Vec<u8>>;

/// A backend in memory, for tests and throwaway stores. Not durable.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    state: Mutex<MemoryState>,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A panic while holding the lock cannot leave the maps half-changed in
        // a way later readers could misread, so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn in_range(sort: &[u8], range: &SortRange) -> bool {
    let above = match &range.lower {
        Bound::Included(lower) => sort >= lower.as_slice(),
        Bound::Excluded(lower) => sort > lower.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match &range.upper {
        Bound::Included(upper) => sort <= upper.as_slice(),
        Bound::Excluded(upper) => sort < upper.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

impl Backend for MemoryBackend {
    fn tables(&self) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        Ok(self
            .lock()
            .tables
            .iter()
            .map(|(name, metadata)| (name.clone(), metadata.clone()))
            .collect())
    }

    fn get(
        &self,
        space: &Space,
        partition: &[u8],
        sort: &[u8],
    ) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self
            .lock()
            .rows
            .get(&(space.clone(), partition.to_vec(), sort.to_vec()))
            .cloned())
    }

    fn query(
        &self,
        space: &Space,
        partition: &[u8],
        range: &SortRange,
        limit: usize,
    ) -> Result<Vec<Entry>, BackendError> {
        let state = self.lock();
        let start = (space.clone(), partition.to_vec(), Vec::new());
        let rows = state
            .rows
            .range(start..)
            .take_while(|((row_space, row_partition, _), _)| {
                row_space == space && row_partition == partition
            })
            .filter(|((_, _, sort), _)| in_range(sort, range))
            .map(|((_, partition, sort), value)| Entry {
                partition: partition.clone(),
                sort: sort.clone(),
                value: value.clone(),
            });
        let mut rows: Vec<Entry> = rows.collect();
        if range.reverse {
            rows.reverse();
        }
        rows.truncate(limit);
        Ok(rows)
    }

    fn scan(
        &self,
        space: &Space,
        after: Option<(&[u8], &[u8])>,
        limit: usize,
    ) -> Result<Vec<Entry>, BackendError> {
        let state = self.lock();
        let lower = match after {
            Some((partition, sort)) => {
                Bound::Excluded((space.clone(), partition.to_vec(), sort.to_vec()))
            }
            None => Bound::Included((space.clone(), Vec::new(), Vec::new())),
        };
        Ok(state
            .rows
            .range((lower, Bound::Unbounded))
            .take_while(|((row_space, _, _), _)| row_space == space)
            .take(limit)
            .map(|((_, partition, sort), value)| Entry {
                partition: partition.clone(),
                sort: sort.clone(),
                value: value.clone(),
            })
            .collect())
    }

    fn count(&self, space: &Space) -> Result<(u64, u64), BackendError> {
        let state = self.lock();
        let (count, bytes) = state
            .rows
            .range((space.clone(), Vec::new(), Vec::new())..)
            .take_while(|((row_space, _, _), _)| row_space == space)
            .fold((0u64, 0u64), |(count, bytes), (_, value)| {
                (count + 1, bytes + value.len() as u64)
            });
        Ok((count, bytes))
    }

    fn stream_records(
        &self,
        stream: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StreamRecord>, BackendError> {
        let state = self.lock();
        Ok(state
            .streams
            .range((stream.to_owned(), after.saturating_add(1))..)
            .take_while(|((name, _), _)| name == stream)
            .take(limit)
            .map(|((_, sequence), (created, record))| StreamRecord {
                sequence: *sequence,
                created: *created,
                record: record.clone(),
            })
            .collect())
    }

    fn token(&self, token: &str) -> Result<Option<TokenRecord>, BackendError> {
        Ok(self.lock().tokens.get(token).cloned())
    }

    fn write(&self, batch: Vec<Write>) -> Result<(), BackendError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let (tables, rows) = (&mut state.tables, &mut state.rows);
        for write in batch {
            match write {
                Write::PutTable { name, metadata } => {
                    tables.insert(name, metadata);
                }
                Write::DeleteTable { name } => {
                    tables.remove(&name);
                }
                Write::Put {
                    space,
                    partition,
                    sort,
                    value,
                } => {
                    rows.insert((space, partition, sort), value);
                }
                Write::Delete {
                    space,
                    partition,
                    sort,
                } => {
                    rows.remove(&(space, partition, sort));
                }
                Write::AppendStream {
                    stream,
                    created,
                    record,
                } => {
                    state.last_sequence += 1;
                    state
                        .streams
                        .insert((stream, state.last_sequence), (created, record));
                }
                Write::ExpireStreamRecords { before } => {
                    state.streams.retain(|_, (created, _)| *created >= before);
                }
                Write::PutToken {
                    token,
                    request,
                    created_millis,
                } => {
                    state.tokens.insert(
                        token,
                        TokenRecord {
                            request,
                            created_millis,
                        },
                    );
                }
                Write::ExpireTokens { before_millis } => {
                    state
                        .tokens
                        .retain(|_, record| record.created_millis >= before_millis);
                }
                Write::DropSpace { table_id, index } => rows.retain(|(space, _, _), _| {
                    space.table_id != table_id
                        || index.as_ref().is_some_and(|index| *index != space.index)
                }),
            }
        }
        Ok(())
    }
}
