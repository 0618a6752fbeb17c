//! The embedded SQLite backend of the Serverful store: a
//! [`serverful_store::Backend`] in one database file.
//!
//! Layout: one `catalog` table (table name → the engine's metadata), one
//! `rows` table holding every table's items and every index's entries, found
//! through its unique index `rows_by_key` on `(table_id, idx, pk, sk)`, and one
//! `stream_records` table whose `AUTOINCREMENT` key gives stream records
//! increasing, never reused sequence numbers, and one `request_tokens` table
//! of the transactions' `ClientRequestToken`s, so idempotency outlives a
//! restart. Keys are
//! BLOBs in the order-preserving encoding of `serverful_store::key`, and
//! SQLite compares BLOBs with `memcmp`, so index order is DynamoDB's order.
//!
//! Why `rows` is a rowid table with a separate key index, not a `WITHOUT ROWID`
//! table clustered by key: every write is paid for in whole pages of the
//! write-ahead log, and each acknowledgement waits for the log to be synced. A
//! `WITHOUT ROWID` table keeps entire rows in its interior pages as well as its
//! leaves, so a new item with a ~200-byte value lands on a random leaf that
//! fills after a dozen rows and splits, rewriting several siblings and their
//! parent: about two 4 KiB pages a write. Here a new item is appended to the
//! rowid table's last page (shared by every write of a commit), and only its
//! short key entry goes to a random leaf of the index, which holds a hundred
//! of them; an overwrite updates its row in place (an upsert keeps the rowid)
//! and leaves the index alone. New databases use 2 KiB pages, the size at which
//! those page writes cost the fewest bytes for DynamoDB-sized items. Databases
//! written by the earlier `WITHOUT ROWID` layout are moved into this one when
//! they are opened (see [`migrate_rows`]); their page size stays.
//!
//! Writes are group-committed: one writer thread owns the only read-write
//! connection, takes every batch queued since its last commit, applies each in
//! its own savepoint (a failing batch rolls back alone) inside one
//! transaction, commits once, and acknowledges each batch once the commit is
//! durable (below). Reads use
//! a small pool of read-only connections; under WAL they see the last
//! committed state and never wait for the writer.
//!
//! Durability: `journal_mode=WAL`, and a write is acknowledged only after
//! an fsync of the write-ahead log that began after its commit, so an
//! acknowledged write survives both a killed process and a power loss (as
//! far as the disk honours fsync). The writer does not wait for that fsync
//! itself: it runs with `synchronous=NORMAL` (commits write the log without
//! syncing it; checkpoints sync the log before copying it into the database
//! and the database after, so a power loss never corrupts the file) and hands
//! each committed group to a syncer thread, which `fdatasync`s the log and
//! then acknowledges every group committed before that sync began. While one
//! group's log is being synced the writer commits the next, so the disk's
//! flush latency and the writer's CPU overlap instead of adding up
//! (`synchronous=FULL` syncs inside every commit and leaves the writer idle
//! meanwhile). A reader may see a committed write a moment before it is
//! acknowledged, as with any store that applies a write before answering it.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use serverful_store::backend::{
    Backend, BackendError, Entry, SortRange, Space, StreamRecord, TokenRecord, Write, WriteDone,
};

/// The most batches committed in one transaction.
const MAX_GROUP: usize = 512;
/// Read connections kept open between reads.
const MAX_IDLE_READERS: usize = 64;
/// The page size of new databases (see the module documentation).
const PAGE_SIZE: i64 = 2048;

/// Errors opening the database.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// SQLite refused to open or prepare the file.
    #[error("failed to open SQLite database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The write-ahead log could not be opened for syncing.
    #[error("failed to open the write-ahead log {path}: {source}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The writer thread could not be started.
    #[error("failed to start the SQLite writer thread: {0}")]
    Thread(std::io::Error),
}

/// One queued write batch and where to send its outcome.
struct Job {
    batch: Vec<Write>,
    reply: Reply,
}

/// Who is told a batch's outcome: a caller blocked in `write`, or a callback from
/// `write_then`, called on the syncer thread.
enum Reply {
    Waiting(SyncSender<Result<(), BackendError>>),
    Callback(WriteDone),
}

impl Reply {
    fn send(self, outcome: Result<(), BackendError>) {
        match self {
            // The caller may have given up waiting; nothing to tell then.
            Reply::Waiting(sender) => {
                let _ = sender.send(outcome);
            }
            Reply::Callback(done) => done(outcome),
        }
    }
}

/// The SQLite backend. Dropping it finishes queued writes and stops the writer.
pub struct SqliteBackend {
    path: PathBuf,
    jobs: Mutex<Option<Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn storage(error: rusqlite::Error) -> BackendError {
    BackendError::Storage(error.to_string())
}

fn table_id(id: u64) -> Result<i64, BackendError> {
    i64::try_from(id).map_err(|_| BackendError::Storage(format!("table id {id} out of range")))
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS catalog (
        name TEXT PRIMARY KEY,
        metadata BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS rows (
        id INTEGER PRIMARY KEY,
        table_id INTEGER NOT NULL,
        idx TEXT NOT NULL,
        pk BLOB NOT NULL,
        sk BLOB NOT NULL,
        value BLOB NOT NULL
    );
    CREATE UNIQUE INDEX IF NOT EXISTS rows_by_key ON rows (table_id, idx, pk, sk);
    CREATE TABLE IF NOT EXISTS stream_records (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        stream TEXT NOT NULL,
        created INTEGER NOT NULL,
        record BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS stream_records_by_stream ON stream_records (stream, sequence);
    CREATE INDEX IF NOT EXISTS stream_records_by_age ON stream_records (created);
    CREATE TABLE IF NOT EXISTS request_tokens (
        token TEXT PRIMARY KEY,
        request BLOB NOT NULL,
        created_millis INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS request_tokens_by_age ON request_tokens (created_millis);
";

impl SqliteBackend {
    /// Opens (creating if needed) the database at `path` and starts its writer.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteBackend, OpenError> {
        let path = path.as_ref().to_path_buf();
        let sqlite = |source| OpenError::Sqlite {
            path: path.clone(),
            source,
        };
        let mut connection = Connection::open(&path).map_err(sqlite)?;
        // Takes effect only while the file is still empty.
        connection
            .pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(sqlite)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite)?;
        connection
            .busy_timeout(Duration::from_secs(30))
            .map_err(sqlite)?;
        migrate_rows(&mut connection).map_err(sqlite)?;
        connection.execute_batch(SCHEMA).map_err(sqlite)?;
        stable_plans(&connection).map_err(sqlite)?;
        // The log exists once the schema has been written, and stays (same
        // file, reset in place) while the writer's connection is open.
        let log = std::fs::File::open(wal_path(&path)).map_err(|source| OpenError::Log {
            path: wal_path(&path),
            source,
        })?;
        let writer_log = log.try_clone().map_err(|source| OpenError::Log {
            path: wal_path(&path),
            source,
        })?;
        let (sender, receiver) = mpsc::channel();
        let (committed, to_sync) = mpsc::channel();
        let syncer = std::thread::Builder::new()
            .name("serverful-sqlite-syncer".to_owned())
            .spawn(move || sync_loop(to_sync, move || log.sync_data()))
            .map_err(OpenError::Thread)?;
        let writer = std::thread::Builder::new()
            .name("serverful-sqlite-writer".to_owned())
            .spawn(move || {
                let mut connection = connection;
                write_loop(&mut connection, receiver, committed, &writer_log);
                // The last groups are answered before the connection closes.
                let _ = syncer.join();
                drop(connection);
            })
            .map_err(OpenError::Thread)?;
        Ok(SqliteBackend {
            path,
            jobs: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn queue(&self, job: Job) -> Result<(), BackendError> {
        self.queue_or_return(job).map_err(|_| BackendError::Closed)
    }

    /// Queues a job for the writer, or hands it back if the writer is gone.
    fn queue_or_return(&self, job: Job) -> Result<(), Job> {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        match jobs.as_ref() {
            Some(sender) => sender.send(job).map_err(|error| error.0),
            None => Err(job),
        }
    }

    fn with_reader<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, BackendError> {
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let connection = match pooled {
            Some(connection) => connection,
            None => {
                let connection = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(storage)?;
                connection
                    .busy_timeout(Duration::from_secs(30))
                    .map_err(storage)?;
                stable_plans(&connection).map_err(storage)?;
                connection
            }
        };
        let result = read(&connection).map_err(storage);
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if readers.len() < MAX_IDLE_READERS {
            readers.push(connection);
        }
        result
    }
}

impl Drop for SqliteBackend {
    fn drop(&mut self) {
        // Closing the queue ends the writer loop after it drains what is queued.
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = writer.join();
        }
    }
}

/// Moves the items of a database written with the earlier layout, where `rows`
/// was a `WITHOUT ROWID` table keyed by `(table_id, idx, pk, sk)`, into the
/// current one: a rowid table and its unique key index. One transaction, so a
/// crash part-way leaves the old table as it was, to be moved at the next open.
fn migrate_rows(connection: &mut Connection) -> rusqlite::Result<()> {
    if !has_rows_without_rowid(connection)? {
        return Ok(());
    }
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    transaction.execute_batch("ALTER TABLE rows RENAME TO rows_without_rowid;")?;
    transaction.execute_batch(SCHEMA)?;
    transaction.execute_batch(
        "INSERT INTO rows (table_id, idx, pk, sk, value)
             SELECT table_id, idx, pk, sk, value FROM rows_without_rowid
             ORDER BY table_id, idx, pk, sk;
         DROP TABLE rows_without_rowid;",
    )?;
    transaction.commit()
}

/// Whether the database has a `rows` table in the earlier `WITHOUT ROWID`
/// layout (no `id` column).
fn has_rows_without_rowid(connection: &Connection) -> rusqlite::Result<bool> {
    connection.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'rows' \
         AND NOT EXISTS (SELECT 1 FROM pragma_table_info('rows') WHERE name = 'id')",
        [],
        |row| row.get(0),
    )
}

/// Turns on SQLite's query planner stability guarantee. The bundled SQLite
/// is built with STAT4, under which a statement with range conditions on
/// bound parameters is re-prepared whenever the parameters change, which is
/// every Query; our key ranges always want the same plan (the primary key).
fn stable_plans(connection: &Connection) -> rusqlite::Result<()> {
    connection.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// The write-ahead log of the database at `path`.
fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// A committed group on its way to the syncer: each job with its outcome.
type Committed = Vec<(Job, Result<(), BackendError>)>;

fn write_loop(
    connection: &mut Connection,
    jobs: Receiver<Job>,
    syncer: Sender<Committed>,
    log: &std::fs::File,
) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let outcomes = commit_group(connection, &group);
        let committed: Committed = group.into_iter().zip(outcomes).collect();
        if let Err(unsent) = syncer.send(committed) {
            // The syncer is gone (an answer's callback panicked): sync here.
            sync_and_answer(unsent.0, &mut || log.sync_data());
        }
    }
}

/// Takes every committed group waiting, syncs the log once for all of them,
/// then answers them. Every group taken was committed before the sync began,
/// so the sync covers it.
fn sync_loop(committed: Receiver<Committed>, mut sync: impl FnMut() -> std::io::Result<()>) {
    while let Ok(first) = committed.recv() {
        let mut waiting = first;
        while let Ok(more) = committed.try_recv() {
            waiting.extend(more);
        }
        sync_and_answer(waiting, &mut sync);
    }
}

fn sync_and_answer(committed: Committed, sync: &mut dyn FnMut() -> std::io::Result<()>) {
    let synced = sync();
    for (job, outcome) in committed {
        let outcome = match (&synced, outcome) {
            (Ok(()), outcome) => outcome,
            (Err(error), Ok(())) => Err(BackendError::Storage(format!(
                "sync the write-ahead log: {error}"
            ))),
            (Err(_), failed) => failed,
        };
        job.reply.send(outcome);
    }
}

/// Commits a group of batches in one transaction, acknowledging all of them
/// once it commits. Batches do not fail on their own in practice (every
/// statement is an upsert or a delete), so the group runs without savepoints;
/// if anything fails, each batch is retried in its own transaction so one bad
/// batch cannot fail the others.
fn commit_group(connection: &mut Connection, group: &[Job]) -> Vec<Result<(), BackendError>> {
    let together = (|| -> rusqlite::Result<()> {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for job in group {
            for write in &job.batch {
                apply(&transaction, write)?;
            }
        }
        transaction.commit()
    })();
    match together {
        Ok(()) => group.iter().map(|_| Ok(())).collect(),
        Err(_) if group.len() > 1 => group
            .iter()
            .map(|job| commit_alone(connection, std::slice::from_ref(job)).remove(0))
            .collect(),
        Err(error) => vec![Err(storage(error))],
    }
}

/// Commits batches in one transaction with a savepoint each.
fn commit_alone(connection: &mut Connection, group: &[Job]) -> Vec<Result<(), BackendError>> {
    let everyone = |error: rusqlite::Error| {
        let message = error.to_string();
        group
            .iter()
            .map(|_| Err(BackendError::Storage(message.clone())))
            .collect()
    };
    let mut transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate)
    {
        Ok(transaction) => transaction,
        Err(error) => return everyone(error),
    };
    let mut outcomes = Vec::with_capacity(group.len());
    for job in group {
        let outcome = (|| -> rusqlite::Result<()> {
            let savepoint = transaction.savepoint()?;
            for write in &job.batch {
                apply(&savepoint, write)?;
            }
            savepoint.commit()
        })();
        outcomes.push(outcome.map_err(storage));
    }
    match transaction.commit() {
        Ok(()) => outcomes,
        Err(error) => everyone(error),
    }
}

fn apply(connection: &Connection, write: &Write) -> rusqlite::Result<()> {
    let id =
        |id: u64| i64::try_from(id).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, 0));
    match write {
        Write::PutTable { name, metadata } => {
            connection
                .prepare_cached("INSERT OR REPLACE INTO catalog (name, metadata) VALUES (?1, ?2)")?
                .execute(params![name, metadata])?;
        }
        Write::DeleteTable { name } => {
            connection
                .prepare_cached("DELETE FROM catalog WHERE name = ?1")?
                .execute(params![name])?;
        }
        Write::Put {
            space,
            partition,
            sort,
            value,
        } => {
            connection
                .prepare_cached(
                    "INSERT INTO rows (table_id, idx, pk, sk, value) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (table_id, idx, pk, sk) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![id(space.table_id)?, space.index, partition, sort, value])?;
        }
        Write::Delete {
            space,
            partition,
            sort,
        } => {
            connection
                .prepare_cached(
                    "DELETE FROM rows WHERE table_id = ?1 AND idx = ?2 AND pk = ?3 AND sk = ?4",
                )?
                .execute(params![id(space.table_id)?, space.index, partition, sort])?;
        }
        Write::AppendStream {
            stream,
            created,
            record,
        } => {
            connection
                .prepare_cached(
                    "INSERT INTO stream_records (stream, created, record) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![stream, created, record])?;
        }
        Write::ExpireStreamRecords { before } => {
            connection
                .prepare_cached("DELETE FROM stream_records WHERE created < ?1")?
                .execute(params![before])?;
        }
        Write::PutToken {
            token,
            request,
            created_millis,
        } => {
            connection
                .prepare_cached(
                    "INSERT OR REPLACE INTO request_tokens (token, request, created_millis) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![token, request, created_millis])?;
        }
        Write::ExpireTokens { before_millis } => {
            connection
                .prepare_cached("DELETE FROM request_tokens WHERE created_millis < ?1")?
                .execute(params![before_millis])?;
        }
        Write::DropSpace { table_id, index } => match index {
            Some(index) => {
                connection
                    .prepare_cached("DELETE FROM rows WHERE table_id = ?1 AND idx = ?2")?
                    .execute(params![id(*table_id)?, index])?;
            }
            None => {
                connection
                    .prepare_cached("DELETE FROM rows WHERE table_id = ?1")?
                    .execute(params![id(*table_id)?])?;
            }
        },
    }
    Ok(())
}

fn entries(
    statement: &mut rusqlite::CachedStatement<'_>,
    values: Vec<Value>,
) -> rusqlite::Result<Vec<Entry>> {
    let rows = statement.query_map(rusqlite::params_from_iter(values), |row| {
        Ok(Entry {
            partition: row.get(0)?,
            sort: row.get(1)?,
            value: row.get(2)?,
        })
    })?;
    rows.collect()
}

fn limit_value(limit: usize) -> Value {
    Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX))
}

impl Backend for SqliteBackend {
    fn tables(&self) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        self.with_reader(|connection| {
            let mut statement =
                connection.prepare_cached("SELECT name, metadata FROM catalog ORDER BY name")?;
            let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        })
    }

    fn get(
        &self,
        space: &Space,
        partition: &[u8],
        sort: &[u8],
    ) -> Result<Option<Vec<u8>>, BackendError> {
        let id = table_id(space.table_id)?;
        self.with_reader(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT value FROM rows WHERE table_id = ?1 AND idx = ?2 AND pk = ?3 AND sk = ?4",
            )?;
            let mut rows = statement.query(params![id, space.index, partition, sort])?;
            match rows.next()? {
                Some(row) => Ok(Some(row.get(0)?)),
                None => Ok(None),
            }
        })
    }

    fn query(
        &self,
        space: &Space,
        partition: &[u8],
        range: &SortRange,
        limit: usize,
    ) -> Result<Vec<Entry>, BackendError> {
        let id = table_id(space.table_id)?;
        let mut sql = String::from(
            "SELECT pk, sk, value FROM rows WHERE table_id = ?1 AND idx = ?2 AND pk = ?3",
        );
        let mut values = vec![
            Value::Integer(id),
            Value::Text(space.index.clone()),
            Value::Blob(partition.to_vec()),
        ];
        for (bound, inclusive, exclusive) in [(&range.lower, ">=", ">"), (&range.upper, "<=", "<")]
        {
            let (operator, value) = match bound {
                Bound::Included(value) => (inclusive, value),
                Bound::Excluded(value) => (exclusive, value),
                Bound::Unbounded => continue,
            };
            values.push(Value::Blob(value.clone()));
            sql.push_str(&format!(" AND sk {operator} ?{}", values.len()));
        }
        values.push(limit_value(limit));
        sql.push_str(&format!(
            " ORDER BY sk {} LIMIT ?{}",
            if range.reverse { "DESC" } else { "ASC" },
            values.len()
        ));
        self.with_reader(|connection| entries(&mut connection.prepare_cached(&sql)?, values))
    }

    fn scan(
        &self,
        space: &Space,
        after: Option<(&[u8], &[u8])>,
        limit: usize,
    ) -> Result<Vec<Entry>, BackendError> {
        let id = table_id(space.table_id)?;
        let mut values = vec![Value::Integer(id), Value::Text(space.index.clone())];
        let sql = match after {
            Some((partition, sort)) => {
                values.push(Value::Blob(partition.to_vec()));
                values.push(Value::Blob(sort.to_vec()));
                values.push(limit_value(limit));
                "SELECT pk, sk, value FROM rows WHERE table_id = ?1 AND idx = ?2 AND (pk, sk) > (?3, ?4) ORDER BY pk, sk LIMIT ?5"
            }
            None => {
                values.push(limit_value(limit));
                "SELECT pk, sk, value FROM rows WHERE table_id = ?1 AND idx = ?2 ORDER BY pk, sk LIMIT ?3"
            }
        };
        self.with_reader(|connection| entries(&mut connection.prepare_cached(sql)?, values))
    }

    fn count(&self, space: &Space) -> Result<(u64, u64), BackendError> {
        let id = table_id(space.table_id)?;
        self.with_reader(|connection| {
            connection
                .prepare_cached(
                    "SELECT count(*), coalesce(sum(length(value)), 0) FROM rows WHERE table_id = ?1 AND idx = ?2",
                )?
                .query_row(params![id, space.index], |row| {
                    let count: i64 = row.get(0)?;
                    let bytes: i64 = row.get(1)?;
                    Ok((count.max(0) as u64, bytes.max(0) as u64))
                })
        })
    }

    fn stream_records(
        &self,
        stream: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StreamRecord>, BackendError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        self.with_reader(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT sequence, created, record FROM stream_records WHERE stream = ?1 AND sequence > ?2 ORDER BY sequence LIMIT ?3",
            )?;
            let rows = statement.query_map(params![stream, after, limit_value(limit)], |row| {
                let sequence: i64 = row.get(0)?;
                Ok(StreamRecord {
                    sequence: sequence.max(0) as u64,
                    created: row.get(1)?,
                    record: row.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    fn token(&self, token: &str) -> Result<Option<TokenRecord>, BackendError> {
        self.with_reader(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT request, created_millis FROM request_tokens WHERE token = ?1",
            )?;
            let mut rows = statement.query(params![token])?;
            match rows.next()? {
                Some(row) => Ok(Some(TokenRecord {
                    request: row.get(0)?,
                    created_millis: row.get(1)?,
                })),
                None => Ok(None),
            }
        })
    }

    fn write(&self, batch: Vec<Write>) -> Result<(), BackendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let (reply, outcome) = mpsc::sync_channel(1);
        self.queue(Job {
            batch,
            reply: Reply::Waiting(reply),
        })?;
        outcome.recv().map_err(|_| BackendError::Closed)?
    }

    /// Hands the batch to the writer thread; the syncer calls `done` once its group is durable.
    fn write_then(&self, batch: Vec<Write>, done: WriteDone) {
        if batch.is_empty() {
            return done(Ok(()));
        }
        if let Err(job) = self.queue_or_return(Job {
            batch,
            reply: Reply::Callback(done),
        }) {
            job.reply.send(Err(BackendError::Closed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(partition: &[u8], sort: &[u8], value: &[u8]) -> Write {
        Write::Put {
            space: Space::table(7),
            partition: partition.to_vec(),
            sort: sort.to_vec(),
            value: value.to_vec(),
        }
    }

    /// The values of table 7's items in `partition` within `range`, in order.
    fn values_in(backend: &SqliteBackend, partition: &[u8], range: &SortRange) -> Vec<Vec<u8>> {
        backend
            .query(&Space::table(7), partition, range, 10)
            .expect("query")
            .into_iter()
            .map(|entry| entry.value)
            .collect()
    }

    #[test]
    fn a_database_in_the_without_rowid_layout_is_moved_into_the_current_one() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("db.sqlite");
        {
            // The layout before the rowid table, with an item and an index entry.
            let connection = Connection::open(&path).expect("open");
            connection
                .pragma_update(None, "journal_mode", "WAL")
                .expect("WAL");
            connection
                .execute_batch(
                    "CREATE TABLE catalog (name TEXT PRIMARY KEY, metadata BLOB NOT NULL) WITHOUT ROWID;
                     CREATE TABLE rows (
                         table_id INTEGER NOT NULL, idx TEXT NOT NULL, pk BLOB NOT NULL,
                         sk BLOB NOT NULL, value BLOB NOT NULL,
                         PRIMARY KEY (table_id, idx, pk, sk)
                     ) WITHOUT ROWID;
                     INSERT INTO rows VALUES (7, '', x'61', x'01', x'31');
                     INSERT INTO rows VALUES (7, '', x'61', x'02', x'32');
                     INSERT INTO rows VALUES (7, 'byValue', x'31', x'6101', x'');",
                )
                .expect("old layout");
        }
        let backend = SqliteBackend::open(&path).expect("open");
        assert_eq!(
            backend.get(&Space::table(7), b"a", b"\x02").expect("get"),
            Some(b"2".to_vec())
        );
        let index = Space {
            table_id: 7,
            index: "byValue".to_owned(),
        };
        assert_eq!(
            backend.get(&index, b"1", b"a\x01").expect("get"),
            Some(Vec::new())
        );
        backend
            .write(vec![put(b"a", b"\x01", b"one")])
            .expect("overwrite");
        backend
            .write(vec![put(b"a", b"\x03", b"3")])
            .expect("write");
        let range = SortRange {
            lower: Bound::Unbounded,
            upper: Bound::Unbounded,
            reverse: false,
        };
        let values = values_in(&backend, b"a", &range);
        assert_eq!(values, vec![b"one".to_vec(), b"2".to_vec(), b"3".to_vec()]);
        drop(backend);
        let connection = Connection::open(&path).expect("open");
        let tables: Vec<String> = connection
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .expect("prepare")
            .query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("names");
        assert!(
            !tables.contains(&"rows_without_rowid".to_owned()),
            "{tables:?}"
        );
        assert!(tables.contains(&"rows".to_owned()), "{tables:?}");
        assert!(!has_rows_without_rowid(&connection).expect("layout"));
    }

    #[test]
    fn new_databases_use_small_pages_and_overwrites_keep_one_row() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("db.sqlite");
        let backend = SqliteBackend::open(&path).expect("open");
        for value in [b"1", b"2", b"3"] {
            backend.write(vec![put(b"a", b"", value)]).expect("write");
        }
        drop(backend);
        let connection = Connection::open(&path).expect("open");
        let page_size: i64 = connection
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .expect("page size");
        assert_eq!(page_size, PAGE_SIZE);
        let (count, value): (i64, Vec<u8>) = connection
            .query_row("SELECT count(*), max(value) FROM rows", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .expect("rows");
        assert_eq!((count, value), (1, b"3".to_vec()));
    }

    #[test]
    fn ranges_and_scans_in_byte_order() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let backend = SqliteBackend::open(directory.path().join("db.sqlite")).expect("open");
        backend
            .write(vec![
                put(b"a", b"\x02", b"2"),
                put(b"a", b"\x01", b"1"),
                put(b"a", b"\xff", b"3"),
                put(b"b", b"", b"4"),
            ])
            .expect("write");
        let range = SortRange {
            lower: Bound::Excluded(b"\x01".to_vec()),
            upper: Bound::Unbounded,
            reverse: true,
        };
        let values = values_in(&backend, b"a", &range);
        assert_eq!(values, vec![b"3".to_vec(), b"2".to_vec()]);
        let scanned: Vec<Vec<u8>> = backend
            .scan(&Space::table(7), Some((b"a", b"\x02")), 10)
            .expect("scan")
            .into_iter()
            .map(|entry| entry.value)
            .collect();
        assert_eq!(scanned, vec![b"3".to_vec(), b"4".to_vec()]);
        assert_eq!(backend.count(&Space::table(7)).expect("count"), (4, 4));
        backend
            .write(vec![Write::DropSpace {
                table_id: 7,
                index: None,
            }])
            .expect("drop");
        assert_eq!(backend.count(&Space::table(7)).expect("count"), (0, 0));
    }

    /// The partition keys of test table 7, in order.
    fn partitions(backend: &SqliteBackend) -> Vec<Vec<u8>> {
        backend
            .scan(&Space::table(7), None, 10)
            .expect("scan")
            .into_iter()
            .map(|entry| entry.partition)
            .collect()
    }

    /// One failing batch in a group fails alone; the others commit.
    #[test]
    fn a_failing_batch_does_not_fail_its_group() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("db.sqlite");
        drop(SqliteBackend::open(&path).expect("create the schema"));
        let mut connection = Connection::open(&path).expect("open");
        let job = |batch: Vec<Write>| {
            let (reply, _outcome) = mpsc::sync_channel(1);
            Job {
                batch,
                reply: Reply::Waiting(reply),
            }
        };
        let bad = Write::Put {
            space: Space::table(u64::MAX),
            partition: Vec::new(),
            sort: Vec::new(),
            value: Vec::new(),
        };
        let group = [
            job(vec![put(b"a", b"", b"1")]),
            job(vec![put(b"b", b"", b"2"), bad]),
            job(vec![put(b"c", b"", b"3")]),
        ];
        let outcomes: Vec<bool> = commit_group(&mut connection, &group)
            .iter()
            .map(Result::is_ok)
            .collect();
        assert_eq!(outcomes, vec![true, false, true]);
        drop(connection);
        let backend = SqliteBackend::open(&path).expect("reopen");
        assert_eq!(partitions(&backend), vec![b"a".to_vec(), b"c".to_vec()]);
    }

    /// Answers as recorded: the job's name, syncs finished by then, success.
    type Answers = std::sync::Arc<Mutex<Vec<(&'static str, usize, bool)>>>;

    /// A job whose answer is recorded with the number of syncs finished by then.
    fn recorded_job(
        name: &'static str,
        syncs: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
        answers: &Answers,
    ) -> (Job, Result<(), BackendError>) {
        let (syncs, answers) = (syncs.clone(), answers.clone());
        let done: WriteDone = Box::new(move |outcome| {
            let finished = syncs.load(std::sync::atomic::Ordering::SeqCst);
            answers
                .lock()
                .expect("answers")
                .push((name, finished, outcome.is_ok()));
        });
        (
            Job {
                batch: Vec::new(),
                reply: Reply::Callback(done),
            },
            Ok(()),
        )
    }

    #[test]
    fn a_write_is_answered_only_after_a_sync_that_began_after_its_commit() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let syncs = Arc::new(AtomicUsize::new(0));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let (committed, to_sync) = mpsc::channel();
        let (started, sync_started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let counter = syncs.clone();
        let syncer = std::thread::spawn(move || {
            sync_loop(to_sync, move || {
                started.send(()).expect("test listening");
                released.recv().expect("test releases the sync");
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        });
        committed
            .send(vec![recorded_job("first", &syncs, &answers)])
            .expect("syncer");
        sync_started.recv().expect("first sync begins");
        // Committed while the first sync runs: that sync does not cover it.
        committed
            .send(vec![
                recorded_job("second", &syncs, &answers),
                recorded_job("third", &syncs, &answers),
            ])
            .expect("syncer");
        release.send(()).expect("release the first sync");
        sync_started.recv().expect("second sync begins");
        assert_eq!(
            *answers.lock().expect("answers"),
            vec![("first", 1, true)],
            "the second group waits for the second sync"
        );
        release.send(()).expect("release the second sync");
        drop(committed);
        syncer.join().expect("syncer ends");
        assert_eq!(
            *answers.lock().expect("answers"),
            vec![("first", 1, true), ("second", 2, true), ("third", 2, true)]
        );
    }

    #[test]
    fn a_failed_sync_fails_the_writes_it_was_to_make_durable() {
        use std::sync::atomic::AtomicUsize;
        use std::sync::Arc;
        let syncs = Arc::new(AtomicUsize::new(0));
        let answers = Arc::new(Mutex::new(Vec::new()));
        sync_and_answer(vec![recorded_job("lost", &syncs, &answers)], &mut || {
            Err(std::io::Error::from_raw_os_error(5))
        });
        assert_eq!(*answers.lock().expect("answers"), vec![("lost", 0, false)]);
    }

    #[test]
    fn acknowledged_writes_are_in_the_database_after_a_reopen() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("db.sqlite");
        let backend = SqliteBackend::open(&path).expect("open");
        let (done, answered) = mpsc::channel();
        for partition in [b"x", b"y"] {
            let done = done.clone();
            backend.write_then(
                vec![put(partition, b"", b"v")],
                Box::new(move |outcome| done.send(outcome.is_ok()).expect("test listening")),
            );
        }
        backend.write(vec![put(b"z", b"", b"v")]).expect("write");
        assert_eq!(
            answered.iter().take(2).collect::<Vec<_>>(),
            vec![true, true]
        );
        drop(backend);
        let backend = SqliteBackend::open(&path).expect("reopen");
        assert_eq!(
            partitions(&backend),
            vec![b"x".to_vec(), b"y".to_vec(), b"z".to_vec()]
        );
    }
}
