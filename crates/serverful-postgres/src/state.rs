//! The platform's state in the shared database (component `platform_state`): stacks,
//! their versions and which one is current, the Lambda versions their deploys published,
//! each stack's access keys, the event-source mappings made at run time, and the source
//! folder each version runs from, so that every node serves what any node deployed.
//!
//! This module is the SQL only. Records are kept as the platform encodes them (JSON
//! text); `serverful_platform::cluster_versions` turns them into its types and implements
//! its `StateBackend` over [`PostgresState`], with the same semantics as the SQLite
//! backend: each call is one transaction.
//!
//! Every change of a stack's current version (a deploy, a rollback, a delete) and of
//! a mapping made at run time raises one counter, [`PostgresState::generation`], in the same transaction: a node polls it
//! and, when it moved, reads the stacks again.
//!
//! A version's source folder is kept as a tar archive cut in chunks of [`CHUNK`] bytes,
//! one `bytea` row each, keyed by stack and source (the folder's name, which is the
//! digest of its content): written and read a chunk at a time, never whole in memory.
//! Rows, rather than large objects, so that a source goes with its stack in the same
//! transaction as the rest of its state (large objects are unlinked apart, and
//! PostgreSQL-compatible databases such as CockroachDB have none).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fallible_iterator::FallibleIterator as _;
use postgres::Transaction;

use crate::pool::{Database, DatabaseError};

/// Bytes of archive per row.
pub const CHUNK: usize = 1 << 20;

const MIGRATIONS: &[&str] = &["
CREATE TABLE IF NOT EXISTS platform_stacks (
    name text PRIMARY KEY,
    current bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS platform_versions (
    stack text NOT NULL,
    number bigint NOT NULL,
    source text NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (stack, number)
);
CREATE TABLE IF NOT EXISTS platform_function_versions (
    stack text NOT NULL,
    function text NOT NULL,
    number bigint NOT NULL,
    deploy bigint NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (stack, function, number)
);
CREATE TABLE IF NOT EXISTS platform_function_version_counters (
    stack text NOT NULL,
    function text NOT NULL,
    highest bigint NOT NULL,
    PRIMARY KEY (stack, function)
);
CREATE TABLE IF NOT EXISTS platform_stack_keys (
    stack text PRIMARY KEY,
    access_key_id text NOT NULL UNIQUE,
    secret_access_key text NOT NULL,
    session_token text NOT NULL
);
CREATE TABLE IF NOT EXISTS platform_event_source_mappings (
    uuid text PRIMARY KEY,
    record text NOT NULL
);
CREATE TABLE IF NOT EXISTS platform_sources (
    stack text NOT NULL,
    source text NOT NULL,
    bytes bigint NOT NULL,
    uploaded_at timestamptz NOT NULL,
    PRIMARY KEY (stack, source)
);
CREATE TABLE IF NOT EXISTS platform_source_chunks (
    stack text NOT NULL,
    source text NOT NULL,
    seq integer NOT NULL,
    chunk bytea NOT NULL,
    PRIMARY KEY (stack, source, seq)
);
CREATE TABLE IF NOT EXISTS platform_changes (
    id integer PRIMARY KEY,
    generation bigint NOT NULL
);
INSERT INTO platform_changes (id, generation) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
"];

/// A stack as kept: its current version and every version's record, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRow {
    pub name: String,
    pub current: u64,
    pub versions: Vec<String>,
}

/// A published Lambda version as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionVersionRow {
    pub stack: String,
    pub function: String,
    pub number: u32,
    pub deploy: u64,
    pub record: String,
}

/// A stack's access keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

/// The platform's state in PostgreSQL.
#[derive(Debug)]
pub struct PostgresState {
    database: Arc<Database>,
}

fn failed(error: impl std::fmt::Display) -> DatabaseError {
    DatabaseError::failed(error)
}

fn int(number: u64) -> i64 {
    i64::try_from(number).unwrap_or(i64::MAX)
}

fn unsigned(number: i64) -> u64 {
    u64::try_from(number).unwrap_or_default()
}

/// The channel a change is announced on, after its commit: a speed-up only, since a
/// notification can be lost (a listener reconnecting) and PostgreSQL-compatible
/// databases may have none; the counter is what nodes rely on.
pub const CHANNEL: &str = "serverful_platform_changes";

/// Announces a committed change, if the database takes notifications.
fn announce(client: &mut postgres::Client) {
    if let Err(error) = client.batch_execute(&format!("NOTIFY {CHANNEL}")) {
        tracing::debug!("no notification of a platform change: {error}");
    }
}

/// Raises the change counter (inside the caller's transaction).
fn bump(transaction: &mut Transaction<'_>) -> Result<(), DatabaseError> {
    transaction
        .execute(
            "UPDATE platform_changes SET generation = generation + 1 WHERE id = 1",
            &[],
        )
        .map_err(failed)?;
    Ok(())
}

fn insert_function_versions(
    transaction: &mut Transaction<'_>,
    published: &[FunctionVersionRow],
) -> Result<(), DatabaseError> {
    for version in published {
        let number = i64::from(version.number);
        transaction
            .execute(
                "INSERT INTO platform_function_versions (stack, function, number, deploy, record)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &version.stack,
                    &version.function,
                    &number,
                    &int(version.deploy),
                    &version.record,
                ],
            )
            .map_err(failed)?;
        transaction
            .execute(
                "INSERT INTO platform_function_version_counters (stack, function, highest)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (stack, function) DO UPDATE
                 SET highest = GREATEST(platform_function_version_counters.highest, EXCLUDED.highest)",
                &[&version.stack, &version.function, &number],
            )
            .map_err(failed)?;
    }
    Ok(())
}

impl PostgresState {
    /// Creates or upgrades the tables.
    pub fn new(database: Arc<Database>) -> Result<PostgresState, DatabaseError> {
        database.migrate("platform_state", MIGRATIONS)?;
        Ok(PostgresState { database })
    }

    /// Every stack with its versions' records, by name.
    pub fn stacks(&self) -> Result<Vec<StackRow>, DatabaseError> {
        self.database.run(|client| {
            // One snapshot for both reads.
            let mut transaction = client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(failed)?;
            let mut stacks: Vec<StackRow> = transaction
                .query(
                    "SELECT name, current FROM platform_stacks ORDER BY name",
                    &[],
                )
                .map_err(failed)?
                .iter()
                .map(|row| StackRow {
                    name: row.get(0),
                    current: unsigned(row.get(1)),
                    versions: Vec::new(),
                })
                .collect();
            let rows = transaction
                .query(
                    "SELECT stack, record FROM platform_versions ORDER BY stack, number",
                    &[],
                )
                .map_err(failed)?;
            for row in rows {
                let stack: String = row.get(0);
                if let Some(found) = stacks.iter_mut().find(|found| found.name == stack) {
                    found.versions.push(row.get(1));
                }
            }
            transaction.commit().map_err(failed)?;
            Ok(stacks)
        })
    }

    /// Records version `number` of `stack` (its source's key is `source`), with the
    /// Lambda versions it published, and makes it current.
    pub fn add_version(
        &self,
        stack: &str,
        number: u64,
        source: &str,
        record: String,
        published: Vec<FunctionVersionRow>,
    ) -> Result<(), DatabaseError> {
        let (stack, source) = (stack.to_owned(), source.to_owned());
        self.database.run(move |client| {
            let mut transaction = client.transaction().map_err(failed)?;
            transaction
                .execute(
                    "INSERT INTO platform_versions (stack, number, source, record) VALUES ($1, $2, $3, $4)",
                    &[&stack, &int(number), &source, &record],
                )
                .map_err(|error| {
                    if error.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
                        DatabaseError::Failed(format!(
                            "a deploy through another node recorded version {number} of stack {stack} first; deploy again"
                        ))
                    } else {
                        failed(error)
                    }
                })?;
            transaction
                .execute(
                    "INSERT INTO platform_stacks (name, current) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET current = EXCLUDED.current",
                    &[&stack, &int(number)],
                )
                .map_err(failed)?;
            insert_function_versions(&mut transaction, &published)?;
            bump(&mut transaction)?;
            transaction.commit().map_err(failed)?;
            announce(client);
            Ok(())
        })
    }

    /// Rewrites version `number`'s record with `change` (given the record kept) and
    /// records the Lambda versions it published. Fails when there is no such version.
    pub fn update_version(
        &self,
        stack: &str,
        number: u64,
        change: impl FnOnce(String) -> Result<String, String> + Send + 'static,
        published: Vec<FunctionVersionRow>,
    ) -> Result<(), DatabaseError> {
        let stack = stack.to_owned();
        self.database.run(move |client| {
            let mut transaction = client.transaction().map_err(failed)?;
            let record: String = transaction
                .query_opt(
                    "SELECT record FROM platform_versions WHERE stack = $1 AND number = $2 FOR UPDATE",
                    &[&stack, &int(number)],
                )
                .map_err(failed)?
                .map(|row| row.get(0))
                .ok_or_else(|| {
                    DatabaseError::Failed(format!("stack {stack} has no version {number}"))
                })?;
            let record = change(record).map_err(DatabaseError::Failed)?;
            transaction
                .execute(
                    "UPDATE platform_versions SET record = $3 WHERE stack = $1 AND number = $2",
                    &[&stack, &int(number), &record],
                )
                .map_err(failed)?;
            insert_function_versions(&mut transaction, &published)?;
            transaction.commit().map_err(failed)
        })
    }

    /// The records of `stack`'s Lambda versions, by function and number.
    pub fn function_versions(&self, stack: &str) -> Result<Vec<String>, DatabaseError> {
        let stack = stack.to_owned();
        self.database.run(move |client| {
            Ok(client
                .query(
                    "SELECT record FROM platform_function_versions WHERE stack = $1 ORDER BY function, number",
                    &[&stack],
                )
                .map_err(failed)?
                .iter()
                .map(|row| row.get(0))
                .collect())
        })
    }

    /// The highest Lambda version number each function of `stack` has had.
    pub fn highest_function_versions(
        &self,
        stack: &str,
    ) -> Result<BTreeMap<String, u32>, DatabaseError> {
        let stack = stack.to_owned();
        self.database.run(move |client| {
            Ok(client
                .query(
                    "SELECT function, highest FROM platform_function_version_counters WHERE stack = $1",
                    &[&stack],
                )
                .map_err(failed)?
                .iter()
                .map(|row| {
                    (
                        row.get::<_, String>(0),
                        u32::try_from(row.get::<_, i64>(1)).unwrap_or(u32::MAX),
                    )
                })
                .collect())
        })
    }

    /// Makes `number` the current version of `stack`.
    pub fn set_current(&self, stack: &str, number: u64) -> Result<(), DatabaseError> {
        let stack = stack.to_owned();
        self.database.run(move |client| {
            let mut transaction = client.transaction().map_err(failed)?;
            transaction
                .execute(
                    "UPDATE platform_stacks SET current = $2 WHERE name = $1",
                    &[&stack, &int(number)],
                )
                .map_err(failed)?;
            bump(&mut transaction)?;
            transaction.commit().map_err(failed)?;
            announce(client);
            Ok(())
        })
    }

    /// Forgets `stack`: its versions, Lambda versions and their counters, keys and
    /// sources.
    pub fn delete_stack(&self, stack: &str) -> Result<(), DatabaseError> {
        let stack = stack.to_owned();
        self.database.run(move |client| {
            let mut transaction = client.transaction().map_err(failed)?;
            for statement in [
                "DELETE FROM platform_versions WHERE stack = $1",
                "DELETE FROM platform_stacks WHERE name = $1",
                "DELETE FROM platform_function_versions WHERE stack = $1",
                "DELETE FROM platform_function_version_counters WHERE stack = $1",
                "DELETE FROM platform_stack_keys WHERE stack = $1",
                "DELETE FROM platform_source_chunks WHERE stack = $1",
                "DELETE FROM platform_sources WHERE stack = $1",
            ] {
                transaction.execute(statement, &[&stack]).map_err(failed)?;
            }
            bump(&mut transaction)?;
            transaction.commit().map_err(failed)?;
            announce(client);
            Ok(())
        })
    }

    /// The keys recorded for `stack`, or else `fresh`, recorded now.
    pub fn stack_keys(&self, stack: &str, fresh: KeyRow) -> Result<KeyRow, DatabaseError> {
        let stack = stack.to_owned();
        self.database.run(move |client| {
            let mut transaction = client.transaction().map_err(failed)?;
            transaction
                .execute(
                    "INSERT INTO platform_stack_keys (stack, access_key_id, secret_access_key, session_token)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (stack) DO NOTHING",
                    &[
                        &stack,
                        &fresh.access_key_id,
                        &fresh.secret_access_key,
                        &fresh.session_token,
                    ],
                )
                .map_err(failed)?;
            let row = transaction
                .query_one(
                    "SELECT access_key_id, secret_access_key, session_token FROM platform_stack_keys WHERE stack = $1",
                    &[&stack],
                )
                .map_err(failed)?;
            transaction.commit().map_err(failed)?;
            Ok(KeyRow {
                access_key_id: row.get(0),
                secret_access_key: row.get(1),
                session_token: row.get(2),
            })
        })
    }

    /// Forgets the versions of `stack` that `decide` names (given the current number,
    /// every version's record oldest first, and every Lambda version's record), with
    /// the Lambda versions they published and the sources no version kept runs from
    /// (unless uploaded in the last hour: a deploy under way elsewhere may be about to
    /// record one). Returns the records forgotten.
    pub fn prune(
        &self,
        stack: &str,
        decide: impl FnOnce(u64, &[(u64, String)], &[String]) -> Result<Vec<u64>, String>
            + Send
            + 'static,
    ) -> Result<Vec<String>, DatabaseError> {
        let stack = stack.to_owned();
        self.database.run(move |client| {
            let mut transaction = client.transaction().map_err(failed)?;
            let Some(current) = transaction
                .query_opt(
                    "SELECT current FROM platform_stacks WHERE name = $1 FOR UPDATE",
                    &[&stack],
                )
                .map_err(failed)?
                .map(|row| unsigned(row.get(0)))
            else {
                return Ok(Vec::new());
            };
            let versions: Vec<(u64, String)> = transaction
                .query(
                    "SELECT number, record FROM platform_versions WHERE stack = $1 ORDER BY number",
                    &[&stack],
                )
                .map_err(failed)?
                .iter()
                .map(|row| (unsigned(row.get(0)), row.get(1)))
                .collect();
            let function_versions: Vec<String> = transaction
                .query(
                    "SELECT record FROM platform_function_versions WHERE stack = $1",
                    &[&stack],
                )
                .map_err(failed)?
                .iter()
                .map(|row| row.get(0))
                .collect();
            let pruned =
                decide(current, &versions, &function_versions).map_err(DatabaseError::Failed)?;
            let numbers: Vec<i64> = pruned.iter().copied().map(int).collect();
            transaction
                .execute(
                    "DELETE FROM platform_versions WHERE stack = $1 AND number = ANY($2)",
                    &[&stack, &numbers],
                )
                .map_err(failed)?;
            transaction
                .execute(
                    "DELETE FROM platform_function_versions WHERE stack = $1 AND deploy = ANY($2)",
                    &[&stack, &numbers],
                )
                .map_err(failed)?;
            let unused = "source NOT IN (SELECT source FROM platform_versions WHERE stack = $1)
                          AND source IN (SELECT source FROM platform_sources WHERE stack = $1
                                         AND uploaded_at < now() - interval '1 hour')";
            transaction
                .execute(
                    &format!("DELETE FROM platform_source_chunks WHERE stack = $1 AND {unused}"),
                    &[&stack],
                )
                .map_err(failed)?;
            transaction
                .execute(
                    &format!("DELETE FROM platform_sources WHERE stack = $1 AND {unused}"),
                    &[&stack],
                )
                .map_err(failed)?;
            transaction.commit().map_err(failed)?;
            Ok(versions
                .into_iter()
                .rev()
                .filter(|(number, _)| pruned.contains(number))
                .map(|(_, record)| record)
                .collect())
        })
    }

    /// The records of the event-source mappings made at run time, by UUID.
    pub fn event_source_mappings(&self) -> Result<Vec<String>, DatabaseError> {
        self.database.run(|client| {
            Ok(client
                .query(
                    "SELECT record FROM platform_event_source_mappings ORDER BY uuid",
                    &[],
                )
                .map_err(failed)?
                .iter()
                .map(|row| row.get(0))
                .collect())
        })
    }

    /// Records a mapping made or changed at run time.
    pub fn put_event_source_mapping(
        &self,
        uuid: &str,
        record: String,
    ) -> Result<(), DatabaseError> {
        let uuid = uuid.to_owned();
        self.database.run(move |client| {
            let mut transaction = client.transaction().map_err(failed)?;
            transaction
                .execute(
                    "INSERT INTO platform_event_source_mappings (uuid, record) VALUES ($1, $2)
                     ON CONFLICT (uuid) DO UPDATE SET record = EXCLUDED.record",
                    &[&uuid, &record],
                )
                .map_err(failed)?;
            bump(&mut transaction)?;
            transaction.commit().map_err(failed)?;
            announce(client);
            Ok(())
        })
    }

    /// Forgets a mapping made at run time.
    pub fn delete_event_source_mapping(&self, uuid: &str) -> Result<(), DatabaseError> {
        let uuid = uuid.to_owned();
        self.database.run(move |client| {
            let mut transaction = client.transaction().map_err(failed)?;
            transaction
                .execute(
                    "DELETE FROM platform_event_source_mappings WHERE uuid = $1",
                    &[&uuid],
                )
                .map_err(failed)?;
            bump(&mut transaction)?;
            transaction.commit().map_err(failed)?;
            announce(client);
            Ok(())
        })
    }

    /// Calls `wake` whenever a change is announced on [`CHANNEL`], on a connection of
    /// its own to `url` (made again, after a pause, when it is lost), for as long as
    /// `wake` returns true. A database without notifications only never wakes it.
    pub fn listen(
        url: &str,
        wake: impl Fn() -> bool + Send + 'static,
    ) -> Result<(), DatabaseError> {
        let config: postgres::Config = url.parse().map_err(failed)?;
        std::thread::Builder::new()
            .name("postgres-listen".into())
            .spawn(move || loop {
                if let Ok(mut client) = config.connect(postgres::NoTls) {
                    if client.batch_execute(&format!("LISTEN {CHANNEL}")).is_ok() {
                        loop {
                            let next = {
                                let mut notifications = client.notifications();
                                let mut waiting =
                                    notifications.timeout_iter(std::time::Duration::from_secs(5));
                                waiting.next().map(|found| found.is_some())
                            };
                            match next {
                                Ok(true) => {
                                    if !wake() {
                                        return;
                                    }
                                }
                                Ok(false) if !client.is_closed() => {}
                                _ => break,
                            }
                        }
                    }
                }
                std::thread::sleep(std::time::Duration::from_secs(5));
            })
            .map_err(failed)?;
        Ok(())
    }

    /// The change counter: it moves with every deploy, rollback and delete, and every
    /// change to a mapping made at run time.
    pub fn generation(&self) -> Result<i64, DatabaseError> {
        self.database.run(|client| {
            Ok(client
                .query_one("SELECT generation FROM platform_changes WHERE id = 1", &[])
                .map_err(failed)?
                .get(0))
        })
    }

    /// Keeps the folder `dir` as `stack`'s source `source`, unless it is kept already
    /// (sources are named by their content). One transaction: another node sees the
    /// whole source or none of it.
    pub fn put_source(&self, stack: &str, source: &str, dir: &Path) -> Result<(), DatabaseError> {
        let (stack, source, dir) = (stack.to_owned(), source.to_owned(), dir.to_owned());
        self.database.run(move |client| {
            let mut transaction = client.transaction().map_err(failed)?;
            let inserted = transaction
                .execute(
                    "INSERT INTO platform_sources (stack, source, bytes, uploaded_at) VALUES ($1, $2, 0, now())
                     ON CONFLICT (stack, source) DO NOTHING",
                    &[&stack, &source],
                )
                .map_err(failed)?;
            if inserted == 0 {
                return transaction.commit().map_err(failed);
            }
            let mut builder = tar::Builder::new(ChunkWriter {
                transaction: &mut transaction,
                stack: &stack,
                source: &source,
                buffer: Vec::with_capacity(CHUNK),
                seq: 0,
                bytes: 0,
            });
            builder.follow_symlinks(false);
            builder
                .append_dir_all(".", &dir)
                .map_err(|error| failed(format!("archive {}: {error}", dir.display())))?;
            let mut writer = builder
                .into_inner()
                .map_err(|error| failed(format!("archive {}: {error}", dir.display())))?;
            writer.flush().map_err(failed)?;
            let bytes = writer.bytes;
            drop(writer);
            transaction
                .execute(
                    "UPDATE platform_sources SET bytes = $3 WHERE stack = $1 AND source = $2",
                    &[&stack, &source, &bytes],
                )
                .map_err(failed)?;
            transaction.commit().map_err(failed)
        })
    }

    /// Unpacks `stack`'s source `source` into the folder `into` (made through a scratch
    /// folder beside it, renamed into place whole). Returns false when no such source is
    /// kept.
    pub fn fetch_source(
        &self,
        stack: &str,
        source: &str,
        into: &Path,
    ) -> Result<bool, DatabaseError> {
        let (stack, source, into) = (stack.to_owned(), source.to_owned(), into.to_owned());
        self.database.run(move |client| {
            let mut transaction = client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(failed)?;
            let kept = transaction
                .query_opt(
                    "SELECT bytes FROM platform_sources WHERE stack = $1 AND source = $2",
                    &[&stack, &source],
                )
                .map_err(failed)?
                .is_some();
            if !kept {
                return Ok(false);
            }
            let parent = into
                .parent()
                .map(Path::to_owned)
                .unwrap_or_else(|| PathBuf::from("."));
            std::fs::create_dir_all(&parent)
                .map_err(|error| failed(format!("create {}: {error}", parent.display())))?;
            let scratch = tempfile::Builder::new()
                .prefix(".fetch-")
                .tempdir_in(&parent)
                .map_err(|error| {
                    failed(format!("create a folder in {}: {error}", parent.display()))
                })?;
            let mut archive = tar::Archive::new(ChunkReader {
                transaction: &mut transaction,
                stack: &stack,
                source: &source,
                chunk: Vec::new(),
                at: 0,
                seq: 0,
            });
            archive.set_preserve_permissions(true);
            archive
                .unpack(scratch.path())
                .map_err(|error| failed(format!("unpack source {source} of {stack}: {error}")))?;
            drop(archive);
            transaction.commit().map_err(failed)?;
            let scratch = scratch.keep();
            if let Err(error) = std::fs::rename(&scratch, &into) {
                let _ = std::fs::remove_dir_all(&scratch);
                // Another fetch put it there first: sources never change.
                if !into.is_dir() {
                    return Err(failed(format!(
                        "move the source to {}: {error}",
                        into.display()
                    )));
                }
            }
            Ok(true)
        })
    }
}

/// Writes an archive as chunk rows.
struct ChunkWriter<'a, 'b> {
    transaction: &'a mut Transaction<'b>,
    stack: &'a str,
    source: &'a str,
    buffer: Vec<u8>,
    seq: i32,
    bytes: i64,
}

impl ChunkWriter<'_, '_> {
    fn store(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.transaction
            .execute(
                "INSERT INTO platform_source_chunks (stack, source, seq, chunk) VALUES ($1, $2, $3, $4)",
                &[&self.stack, &self.source, &self.seq, &self.buffer],
            )
            .map_err(std::io::Error::other)?;
        self.bytes += i64::try_from(self.buffer.len()).unwrap_or(i64::MAX);
        self.seq += 1;
        self.buffer.clear();
        Ok(())
    }
}

impl Write for ChunkWriter<'_, '_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK - self.buffer.len();
        let taken = data.len().min(room);
        self.buffer.extend_from_slice(&data[..taken]);
        if self.buffer.len() == CHUNK {
            self.store()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.store()
    }
}

/// Reads an archive back a chunk row at a time.
struct ChunkReader<'a, 'b> {
    transaction: &'a mut Transaction<'b>,
    stack: &'a str,
    source: &'a str,
    chunk: Vec<u8>,
    at: usize,
    seq: i32,
}

impl Read for ChunkReader<'_, '_> {
    fn read(&mut self, into: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.chunk.len() {
            let row = self
                .transaction
                .query_opt(
                    "SELECT chunk FROM platform_source_chunks WHERE stack = $1 AND source = $2 AND seq = $3",
                    &[&self.stack, &self.source, &self.seq],
                )
                .map_err(std::io::Error::other)?;
            let Some(row) = row else { return Ok(0) };
            self.chunk = row.get(0);
            self.at = 0;
            self.seq += 1;
        }
        let taken = into.len().min(self.chunk.len() - self.at);
        into[..taken].copy_from_slice(&self.chunk[self.at..self.at + taken]);
        self.at += taken;
        Ok(taken)
    }
}
