//! The DynamoDB store's PostgreSQL backend: tables, rows, stream records and
//! transaction tokens in the database every node of a cluster shares.
//!
//! - Rows are `(table_id, index_name, partition, sort, value)` with the keys as `bytea`
//!   in the order-preserving encoding of `serverful_store::key`: PostgreSQL compares
//!   `bytea` byte by byte, so its order is DynamoDB's, as in the SQLite backend.
//! - A [`Backend::write`] batch is one PostgreSQL transaction: all or nothing, durable
//!   when it commits.
//! - Stream records get their sequence numbers from a sequence while the batch holds a
//!   transaction-scoped advisory lock, so sequence order is commit order and a reader
//!   reading "after N" never skips a record that commits later with a smaller number.
//! - Isolation across nodes ([`Backend::exclude`]): the engine's read-check-write holds
//!   transaction-scoped advisory locks on its keys' hashes, and a shared lock on the
//!   catalog, in a transaction on a connection of the pool's held group, from before it
//!   reads until its write has committed. A catalog change holds the catalog's lock
//!   exclusively. A node that dies lets go with its connection; one that stalls is cut
//!   off by `idle_in_transaction_session_timeout`, and a lock not granted within
//!   `lock_timeout` fails the request with a retryable error.
//! - `store_catalog.version` moves with every catalog write, so each node sees when to
//!   reread the catalog.

use std::ops::Bound;
use std::sync::mpsc;
use std::sync::Arc;

use postgres::types::ToSql;
use postgres::Client;
use serverful_store::backend::{
    Backend, BackendError, Entry, Exclusion, Held, SortRange, Space, StreamRecord, TokenRecord,
    Write,
};

use crate::pool::{Database, DatabaseError};

/// The store's schema, one step per version (see [`Database::migrate`]).
const MIGRATIONS: &[&str] = &[
    "
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
",
    "
CREATE TABLE store_catalog (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version bigint NOT NULL
);
INSERT INTO store_catalog (version) VALUES (1);
",
];

/// The advisory lock key a batch holds while it appends stream records (any constant).
const STREAM_APPEND_LOCK: i64 = 0x7372_7667;
/// The advisory lock key of the catalog: shared by item writers, exclusive for changes.
/// Item locks use the one-key form with the key's hash; this one uses the two-key form,
/// whose space is separate.
const CATALOG_LOCK: (i32, i32) = (0x7372_7666, 1);
/// How long a node waits for another's lock before the request fails (retryably).
const LOCK_TIMEOUT: &str = "10s";
/// How long a node may hold locks without a word before PostgreSQL ends its session
/// (a node cut off from the database must not block the others for long).
const HELD_IDLE_TIMEOUT: &str = "15s";

/// The store's data in a PostgreSQL database.
pub struct PostgresBackend {
    database: Arc<Database>,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend")
            .field("database", &self.database)
            .finish()
    }
}

fn storage(error: postgres::Error) -> BackendError {
    BackendError::Storage(crate::pool::describe(&error))
}

/// The pool's errors as the store's.
#[derive(Debug)]
struct StoreFailure(BackendError);

impl From<DatabaseError> for StoreFailure {
    fn from(error: DatabaseError) -> StoreFailure {
        StoreFailure(match error {
            DatabaseError::Closed => BackendError::Closed,
            DatabaseError::Failed(message) => BackendError::Storage(message),
        })
    }
}

impl From<BackendError> for StoreFailure {
    fn from(error: BackendError) -> StoreFailure {
        StoreFailure(error)
    }
}

/// A `u64` table id as PostgreSQL's `bigint` (ids are small; the cast is lossless).
fn table_id(space: &Space) -> i64 {
    i64::try_from(space.table_id).unwrap_or(i64::MAX)
}

impl PostgresBackend {
    /// The store on `database`, whose schema it creates or upgrades.
    pub fn new(database: Arc<Database>) -> Result<PostgresBackend, BackendError> {
        database
            .migrate("store", MIGRATIONS)
            .map_err(|error| StoreFailure::from(error).0)?;
        Ok(PostgresBackend { database })
    }

    /// Connects to `url` with `connections` connections (tests and tools; the server
    /// shares one [`Database`] among its backends).
    pub fn open(url: &str, connections: u32) -> Result<PostgresBackend, BackendError> {
        let database =
            Database::open(url, connections).map_err(|error| StoreFailure::from(error).0)?;
        PostgresBackend::new(Arc::new(database))
    }

    /// Runs `call` on a data connection and waits for its answer.
    fn run<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut Client) -> Result<T, BackendError> + Send + 'static,
    ) -> Result<T, BackendError> {
        self.database
            .run(move |client| call(client).map_err(StoreFailure))
            .map_err(|failure: StoreFailure| failure.0)
    }
}

/// Takes the locks `statements` name in a transaction, answers the catalog's version
/// through `granted`, and holds them until `release` hangs up; then commits.
fn hold_locks(
    client: &mut Client,
    statements: String,
    granted: mpsc::SyncSender<Result<u64, BackendError>>,
    release: mpsc::Receiver<()>,
) {
    let taken = client
        .simple_query(&statements)
        .map_err(storage)
        .and_then(|messages| {
            messages
                .iter()
                .rev()
                .find_map(|message| match message {
                    postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                    _ => None,
                })
                .and_then(|version| version.parse::<u64>().ok())
                .ok_or_else(|| BackendError::Storage("the catalog version is missing".into()))
        });
    let failed = taken.is_err();
    let _ = granted.send(taken);
    if failed {
        let _ = client.batch_execute("ROLLBACK");
        return;
    }
    // Until the holder drops its end.
    let _ = release.recv();
    let _ = client.batch_execute("COMMIT");
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

    fn is_shared(&self) -> bool {
        true
    }

    fn exclude(&self, what: Exclusion<'_>) -> Result<Option<Held>, BackendError> {
        let (catalog_key, catalog_mode) = (
            CATALOG_LOCK,
            match what {
                Exclusion::Keys(_) => "pg_advisory_xact_lock_shared",
                Exclusion::Catalog => "pg_advisory_xact_lock",
            },
        );
        // One round trip: the locks in the order given (the engine sorts the keys, so
        // two nodes never wait on each other in a cycle), then the catalog's version.
        let mut statements = format!(
            "BEGIN; SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; SET LOCAL idle_in_transaction_session_timeout = '{HELD_IDLE_TIMEOUT}'; SELECT {catalog_mode}({}, {});",
            catalog_key.0, catalog_key.1
        );
        if let Exclusion::Keys(keys) = what {
            for key in keys {
                // The hash's bits as a signed bigint.
                statements.push_str(&format!(" SELECT pg_advisory_xact_lock({});", *key as i64));
            }
        }
        statements.push_str(" SELECT version FROM store_catalog;");
        let (granted, answer) = mpsc::sync_channel(1);
        let (release, released) = mpsc::sync_channel::<()>(0);
        self.database
            .spawn_held(move |client| hold_locks(client, statements, granted, released))
            .map_err(|error| StoreFailure::from(error).0)?;
        let catalog_version = answer.recv().map_err(|_| BackendError::Closed)??;
        Ok(Some(Held {
            catalog_version,
            release: Box::new(release),
        }))
    }

    fn catalog_version(&self) -> Result<u64, BackendError> {
        self.run(|client| {
            let row = client
                .query_one("SELECT version FROM store_catalog", &[])
                .map_err(storage)?;
            Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
        })
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
    if batch
        .iter()
        .any(|write| matches!(write, Write::PutTable { .. } | Write::DeleteTable { .. }))
    {
        transaction
            .execute("UPDATE store_catalog SET version = version + 1", &[])
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
