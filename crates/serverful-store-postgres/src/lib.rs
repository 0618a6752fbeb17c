//! The store's PostgreSQL backend (issue 22, cluster mode): tables, rows, stream records
//! and transaction tokens in one PostgreSQL database that every node of a cluster shares.
//!
//! - Rows are `(table_id, index_name, partition, sort, value)` with the keys as `bytea`
//!   in the order-preserving encoding of `serverful_store::key`: PostgreSQL compares
//!   `bytea` byte by byte, so its order is DynamoDB's, as in the SQLite backend.
//! - A [`Backend::write`] batch is one PostgreSQL transaction: all or nothing, durable
//!   when it commits.
//! - Stream records get their sequence numbers from a sequence while the batch holds a
//!   transaction-scoped advisory lock, so sequence order is commit order and a reader
//!   reading "after N" never skips a record that commits later with a smaller number.
//! - The schema is created on open under a session advisory lock, with its version in
//!   `serverful_schema`: nodes starting at once wait for each other, and a database of a
//!   newer schema is refused.
//! - Each connection lives on a worker thread of its own, which runs the calls handed to
//!   it. The `postgres` client runs its own async runtime and refuses to block inside
//!   another one, and the engine is called from the server's async threads too; a caller
//!   only waits on a channel, which any thread may.
//!
//! What this backend does not yet do is make the engine's read-check-write safe across
//! nodes: the engine serializes those with in-process locks, which is enough for one node.

use std::ops::Bound;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use postgres::types::ToSql;
use postgres::{Client, NoTls};
use serverful_store::backend::{
    Backend, BackendError, Entry, SortRange, Space, StreamRecord, TokenRecord, Write,
};

/// The schema version this build creates and reads.
pub const SCHEMA_VERSION: i32 = 1;

/// The advisory lock key of schema migrations (any constant; "srvf" in ASCII).
const MIGRATION_LOCK: i64 = 0x7372_7666;
/// The advisory lock key a batch holds while it appends stream records.
const STREAM_APPEND_LOCK: i64 = 0x7372_7667;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS store_tables (
    name text PRIMARY KEY,
    metadata bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS store_rows (
    table_id bigint NOT NULL,
    index_name text NOT NULL,
    partition bytea NOT NULL,
    sort bytea NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (table_id, index_name, partition, sort)
);
CREATE SEQUENCE IF NOT EXISTS store_stream_sequence;
CREATE TABLE IF NOT EXISTS store_streams (
    sequence bigint PRIMARY KEY,
    stream text NOT NULL,
    created bigint NOT NULL,
    record bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS store_streams_by_stream ON store_streams (stream, sequence);
CREATE INDEX IF NOT EXISTS store_streams_by_age ON store_streams (created);
CREATE TABLE IF NOT EXISTS store_tokens (
    token text PRIMARY KEY,
    request bytea NOT NULL,
    created_millis bigint NOT NULL
);
";

/// A call run on a worker's connection.
type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// The store's data in a PostgreSQL database.
pub struct PostgresBackend {
    jobs: Mutex<Sender<Job>>,
}

fn storage(error: impl std::fmt::Display) -> BackendError {
    BackendError::Storage(error.to_string())
}

/// A `u64` table id as PostgreSQL's `bigint` (ids are small; the cast is lossless).
fn table_id(space: &Space) -> i64 {
    i64::try_from(space.table_id).unwrap_or(i64::MAX)
}

/// One connection's thread: runs jobs until the backend is dropped, reconnecting when
/// the connection was lost (the job that found it lost has failed with the error).
fn worker(config: postgres::Config, mut client: Client, jobs: Arc<Mutex<Receiver<Job>>>) {
    loop {
        let job = {
            let Ok(receiver) = jobs.lock() else { return };
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        if client.is_closed() {
            if let Ok(fresh) = config.connect(NoTls) {
                client = fresh;
            }
        }
        job(&mut client);
    }
}

impl PostgresBackend {
    /// Connects to `url` (`postgres://user@host:port/database`) with `connections`
    /// connections, each on a thread of its own, and creates or checks the schema.
    pub fn open(url: &str, connections: u32) -> Result<PostgresBackend, BackendError> {
        let config: postgres::Config = url.parse().map_err(storage)?;
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for number in 0..connections.max(1) {
            // Connect on a thread without an async runtime: the client makes its own.
            let connecting = config.clone();
            let client = std::thread::spawn(move || connecting.connect(NoTls))
                .join()
                .map_err(|_| BackendError::Storage("connecting to PostgreSQL panicked".into()))?
                .map_err(storage)?;
            let config = config.clone();
            let jobs = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("store-postgres-{number}"))
                .spawn(move || worker(config, client, jobs))
                .map_err(storage)?;
        }
        let backend = PostgresBackend {
            jobs: Mutex::new(sender),
        };
        backend.run(migrate)?;
        Ok(backend)
    }

    /// Runs `call` on a worker's connection and waits for its answer.
    fn run<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut Client) -> Result<T, BackendError> + Send + 'static,
    ) -> Result<T, BackendError> {
        let (answer, answered) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client| {
            let _ = answer.send(call(client));
        });
        self.jobs
            .lock()
            .map_err(|_| BackendError::Closed)?
            .send(job)
            .map_err(|_| BackendError::Closed)?;
        answered.recv().map_err(|_| BackendError::Closed)?
    }
}

/// Creates the schema, or checks that the database's is this build's, under a lock that
/// nodes starting at the same time share.
fn migrate(client: &mut Client) -> Result<(), BackendError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .map_err(storage)?;
    let outcome = (|| {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS serverful_schema (component text PRIMARY KEY, version int NOT NULL)",
            )
            .map_err(storage)?;
        let found: Option<i32> = client
            .query_opt(
                "SELECT version FROM serverful_schema WHERE component = 'store'",
                &[],
            )
            .map_err(storage)?
            .map(|row| row.get(0));
        match found {
            Some(version) if version > SCHEMA_VERSION => Err(BackendError::Storage(format!(
                "the database's store schema is version {version}, newer than this build's {SCHEMA_VERSION}: upgrade serverful"
            ))),
            Some(_) => Ok(()),
            None => {
                let mut transaction = client.transaction().map_err(storage)?;
                transaction.batch_execute(SCHEMA).map_err(storage)?;
                transaction
                    .execute(
                        "INSERT INTO serverful_schema (component, version) VALUES ('store', $1)",
                        &[&SCHEMA_VERSION],
                    )
                    .map_err(storage)?;
                transaction.commit().map_err(storage)
            }
        }
    })();
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .map_err(storage)?;
    outcome
}

fn entries(rows: Vec<postgres::Row>) -> Vec<Entry> {
    rows.into_iter()
        .map(|row| Entry {
            partition: row.get(0),
            sort: row.get(1),
            value: row.get(2),
        })
        .collect()
}

impl Backend for PostgresBackend {
    fn tables(&self) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        self.run(|client| {
            let rows = client
                .query("SELECT name, metadata FROM store_tables ORDER BY name", &[])
                .map_err(storage)?;
            Ok(rows
                .into_iter()
                .map(|row| (row.get(0), row.get(1)))
                .collect())
        })
    }

    fn get(
        &self,
        space: &Space,
        partition: &[u8],
        sort: &[u8],
    ) -> Result<Option<Vec<u8>>, BackendError> {
        let (id, index, partition, sort) = (
            table_id(space),
            space.index.clone(),
            partition.to_vec(),
            sort.to_vec(),
        );
        self.run(move |client| {
            let row = client
                .query_opt(
                    "SELECT value FROM store_rows WHERE table_id = $1 AND index_name = $2 AND partition = $3 AND sort = $4",
                    &[&id, &index, &partition, &sort],
                )
                .map_err(storage)?;
            Ok(row.map(|row| row.get(0)))
        })
    }

    fn query(
        &self,
        space: &Space,
        partition: &[u8],
        range: &SortRange,
        limit: usize,
    ) -> Result<Vec<Entry>, BackendError> {
        let (id, index, partition, range) = (
            table_id(space),
            space.index.clone(),
            partition.to_vec(),
            range.clone(),
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |client| {
            let mut sql = String::from(
                "SELECT partition, sort, value FROM store_rows WHERE table_id = $1 AND index_name = $2 AND partition = $3",
            );
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id, &index, &partition];
            for (bound, inclusive, exclusive) in
                [(&range.lower, ">=", ">"), (&range.upper, "<=", "<")]
            {
                match bound {
                    Bound::Included(key) => {
                        params.push(key);
                        sql.push_str(&format!(" AND sort {inclusive} ${}", params.len()));
                    }
                    Bound::Excluded(key) => {
                        params.push(key);
                        sql.push_str(&format!(" AND sort {exclusive} ${}", params.len()));
                    }
                    Bound::Unbounded => {}
                }
            }
            params.push(&limit);
            sql.push_str(&format!(
                " ORDER BY sort {} LIMIT ${}",
                if range.reverse { "DESC" } else { "ASC" },
                params.len()
            ));
            Ok(entries(client.query(&sql, &params).map_err(storage)?))
        })
    }

    fn scan(
        &self,
        space: &Space,
        after: Option<(&[u8], &[u8])>,
        limit: usize,
    ) -> Result<Vec<Entry>, BackendError> {
        let (id, index) = (table_id(space), space.index.clone());
        let after = after.map(|(partition, sort)| (partition.to_vec(), sort.to_vec()));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |client| {
            let rows = match &after {
                None => client.query(
                    "SELECT partition, sort, value FROM store_rows WHERE table_id = $1 AND index_name = $2 ORDER BY partition, sort LIMIT $3",
                    &[&id, &index, &limit],
                ),
                Some((partition, sort)) => client.query(
                    "SELECT partition, sort, value FROM store_rows WHERE table_id = $1 AND index_name = $2 AND (partition, sort) > ($3, $4) ORDER BY partition, sort LIMIT $5",
                    &[&id, &index, partition, sort, &limit],
                ),
            }
            .map_err(storage)?;
            Ok(entries(rows))
        })
    }

    fn count(&self, space: &Space) -> Result<(u64, u64), BackendError> {
        let (id, index) = (table_id(space), space.index.clone());
        self.run(move |client| {
            let row = client
                .query_one(
                    "SELECT count(*), coalesce(sum(octet_length(value)), 0)::bigint FROM store_rows WHERE table_id = $1 AND index_name = $2",
                    &[&id, &index],
                )
                .map_err(storage)?;
            let rows: i64 = row.get(0);
            let bytes: i64 = row.get(1);
            Ok((
                u64::try_from(rows).unwrap_or(0),
                u64::try_from(bytes).unwrap_or(0),
            ))
        })
    }

    fn stream_records(
        &self,
        stream: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StreamRecord>, BackendError> {
        let stream = stream.to_owned();
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |client| {
            let rows = client
                .query(
                    "SELECT sequence, created, record FROM store_streams WHERE stream = $1 AND sequence > $2 ORDER BY sequence LIMIT $3",
                    &[&stream, &after, &limit],
                )
                .map_err(storage)?;
            Ok(rows
                .into_iter()
                .map(|row| StreamRecord {
                    sequence: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
                    created: row.get(1),
                    record: row.get(2),
                })
                .collect())
        })
    }

    fn write(&self, batch: Vec<Write>) -> Result<(), BackendError> {
        self.run(move |client| write_batch(client, &batch))
    }

    fn token(&self, token: &str) -> Result<Option<TokenRecord>, BackendError> {
        let token = token.to_owned();
        self.run(move |client| {
            let row = client
                .query_opt(
                    "SELECT request, created_millis FROM store_tokens WHERE token = $1",
                    &[&token],
                )
                .map_err(storage)?;
            Ok(row.map(|row| TokenRecord {
                request: row.get(0),
                created_millis: row.get(1),
            }))
        })
    }
}

/// Applies one batch in one transaction.
fn write_batch(client: &mut Client, batch: &[Write]) -> Result<(), BackendError> {
    let mut transaction = client.transaction().map_err(storage)?;
    if batch
        .iter()
        .any(|write| matches!(write, Write::AppendStream { .. }))
    {
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&STREAM_APPEND_LOCK])
            .map_err(storage)?;
    }
    for write in batch {
        match write {
            Write::PutTable { name, metadata } => transaction.execute(
                "INSERT INTO store_tables (name, metadata) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET metadata = EXCLUDED.metadata",
                &[name, metadata],
            ),
            Write::DeleteTable { name } => {
                transaction.execute("DELETE FROM store_tables WHERE name = $1", &[name])
            }
            Write::Put {
                space,
                partition,
                sort,
                value,
            } => transaction.execute(
                "INSERT INTO store_rows (table_id, index_name, partition, sort, value) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (table_id, index_name, partition, sort) DO UPDATE SET value = EXCLUDED.value",
                &[&table_id(space), &space.index, partition, sort, value],
            ),
            Write::Delete {
                space,
                partition,
                sort,
            } => transaction.execute(
                "DELETE FROM store_rows WHERE table_id = $1 AND index_name = $2 AND partition = $3 AND sort = $4",
                &[&table_id(space), &space.index, partition, sort],
            ),
            Write::AppendStream {
                stream,
                created,
                record,
            } => transaction.execute(
                "INSERT INTO store_streams (sequence, stream, created, record) VALUES (nextval('store_stream_sequence'), $1, $2, $3)",
                &[stream, created, record],
            ),
            Write::ExpireStreamRecords { before } => transaction.execute(
                "DELETE FROM store_streams WHERE created < $1",
                &[before],
            ),
            Write::PutToken {
                token,
                request,
                created_millis,
            } => transaction.execute(
                "INSERT INTO store_tokens (token, request, created_millis) VALUES ($1, $2, $3) ON CONFLICT (token) DO UPDATE SET request = EXCLUDED.request, created_millis = EXCLUDED.created_millis",
                &[token, request, created_millis],
            ),
            Write::ExpireTokens { before_millis } => transaction.execute(
                "DELETE FROM store_tokens WHERE created_millis < $1",
                &[before_millis],
            ),
            Write::DropSpace { table_id, index } => {
                let id = i64::try_from(*table_id).unwrap_or(i64::MAX);
                match index {
                    None => {
                        transaction.execute("DELETE FROM store_rows WHERE table_id = $1", &[&id])
                    }
                    Some(index) => transaction.execute(
                        "DELETE FROM store_rows WHERE table_id = $1 AND index_name = $2",
                        &[&id, index],
                    ),
                }
            }
        }
        .map_err(storage)?;
    }
    transaction.commit().map_err(storage)
}
