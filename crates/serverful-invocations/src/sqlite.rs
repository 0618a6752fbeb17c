//! The SQLite record backend: every stack's invocation records in one file,
//! `DATA/invocations.sqlite`.
//!
//! One `records` table: the columns lists filter on (stack, function and its physical
//! name, time, outcome), the summary a list shows and the whole record, both as JSON, and
//! the record's size, which pruning sums. Its `AUTOINCREMENT` key orders records by when
//! they were written and is the list's cursor. Write-ahead logging with
//! `synchronous=NORMAL`, as for logs: a killed server keeps every committed record, and
//! readers (`serverful invocations` in another process, the admin API) never wait for the
//! writer.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension as _, TransactionBehavior};

use crate::{InvocationBackend, InvocationRecord, ListQuery, Page, RecordError, StoreTotals};

/// The schema this code writes; a file with a higher `user_version` is refused.
const SCHEMA_VERSION: i64 = 1;

/// How long a statement waits for another process's write before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        at_ms INTEGER NOT NULL,
        stack TEXT NOT NULL,
        function TEXT NOT NULL,
        function_name TEXT NOT NULL,
        outcome TEXT NOT NULL,
        summary TEXT NOT NULL,
        body TEXT NOT NULL,
        bytes INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS records_by_function ON records (stack, function, seq);
";

/// Invocation records in one SQLite file. One connection writes (the
/// [`crate::Recorder`]'s thread, deletes), another reads.
pub struct SqliteInvocations {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteInvocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteInvocations")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteInvocations {
    /// Opens the store at `path`, creating it if it does not exist.
    pub fn open(path: &Path) -> Result<SqliteInvocations, RecordError> {
        SqliteInvocations::open_with(path, true)
    }

    /// Opens the store of a data folder, `DATA/invocations.sqlite`, creating it if needed.
    pub fn open_in(data_dir: &Path) -> Result<SqliteInvocations, RecordError> {
        SqliteInvocations::open(&data_dir.join(crate::FILE_NAME))
    }

    /// Opens a store that must exist already ([`RecordError::Missing`] otherwise): for
    /// readers, which must not leave an empty store behind in a folder they only looked at.
    pub fn open_existing(path: &Path) -> Result<SqliteInvocations, RecordError> {
        if !path.exists() {
            return Err(RecordError::Missing {
                path: path.to_owned(),
            });
        }
        SqliteInvocations::open_with(path, false)
    }

    fn open_with(path: &Path, create: bool) -> Result<SqliteInvocations, RecordError> {
        let mut writer = connect(path, create)?;
        create_schema(&mut writer, path)?;
        let reader = connect(path, false)?;
        Ok(SqliteInvocations {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    /// The file the store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no transaction open (rusqlite rolls back
        // on drop), so the connection is still usable.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn connect(path: &Path, create: bool) -> Result<Connection, RecordError> {
    let open_error = |source| RecordError::Open {
        path: path.to_owned(),
        source,
    };
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let connection = Connection::open_with_flags(path, flags).map_err(open_error)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(open_error)?;
    connection
        .pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_error)?;
    Ok(connection)
}

fn create_schema(connection: &mut Connection, path: &Path) -> Result<(), RecordError> {
    let sqlite = failed("create the tables");
    // Two processes may open a new store at once (`serverful invoke` beside `up`).
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&sqlite)?;
    let version: i64 = transaction
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(&sqlite)?;
    if version > SCHEMA_VERSION {
        return Err(RecordError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    transaction.execute_batch(SCHEMA).map_err(&sqlite)?;
    transaction
        .pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(&sqlite)?;
    transaction.commit().map_err(&sqlite)
}

fn failed(action: &'static str) -> impl Fn(rusqlite::Error) -> RecordError {
    move |source| RecordError::Sqlite { action, source }
}

impl InvocationBackend for SqliteInvocations {
    fn insert(
        &self,
        records: &[InvocationRecord],
        max_records: u64,
        max_bytes: u64,
    ) -> Result<u64, RecordError> {
        let error = failed("insert records");
        let mut connection = self.writer();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&error)?;
        {
            let mut insert = transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO records
                     (id, at_ms, stack, function, function_name, outcome, summary, body, bytes)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .map_err(&error)?;
            for record in records {
                let summary = serde_json::to_string(&record.summary())
                    .expect("a record summary always serializes");
                let body = serde_json::to_string(record).expect("a record always serializes");
                let bytes = (summary.len() + body.len()) as i64;
                insert
                    .execute(params![
                        record.id,
                        record.at_ms,
                        record.stack,
                        record.function,
                        record.function_name,
                        record.outcome.as_str(),
                        summary,
                        body,
                        bytes,
                    ])
                    .map_err(&error)?;
            }
        }
        // The pages pruning frees are kept in the file and reused by the next records, so
        // the file stays about as large as the bound instead of shrinking and growing
        // with every batch.
        let pruned = prune(&transaction, max_records, max_bytes)?;
        transaction.commit().map_err(&error)?;
        Ok(pruned)
    }

    fn list(&self, query: &ListQuery) -> Result<Page, RecordError> {
        let error = failed("list records");
        let connection = self.reader();
        let mut statement = connection
            .prepare_cached(
                "SELECT seq, summary FROM records
                 WHERE (?1 IS NULL OR stack = ?1)
                   AND (?2 IS NULL OR function = ?2 OR function_name = ?2)
                   AND (?3 IS NULL OR at_ms >= ?3)
                   AND (?4 = 0 OR outcome != 'success')
                   AND (?5 IS NULL OR seq < ?5)
                 ORDER BY seq DESC LIMIT ?6",
            )
            .map_err(&error)?;
        // One more than asked says whether there is a next page.
        let limit = i64::try_from(query.limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = statement
            .query_map(
                params![
                    query.stack,
                    query.function,
                    query.since_ms,
                    query.errors_only,
                    query.before,
                    limit,
                ],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)),
            )
            .map_err(&error)?;
        let mut page = Page::default();
        let mut last_seq = None;
        for row in rows {
            let (seq, summary) = row.map_err(&error)?;
            if page.records.len() == query.limit {
                page.next = last_seq.map(|seq: i64| seq.to_string());
                break;
            }
            let summary =
                serde_json::from_str(&summary).map_err(|source| RecordError::Corrupt {
                    id: format!("#{seq}"),
                    source,
                })?;
            page.records.push(summary);
            last_seq = Some(seq);
        }
        Ok(page)
    }

    fn get(&self, id: &str) -> Result<Option<InvocationRecord>, RecordError> {
        let error = failed("read a record");
        let connection = self.reader();
        let body: Option<String> = connection
            .query_row("SELECT body FROM records WHERE id = ?", [id], |row| {
                row.get(0)
            })
            .optional()
            .map_err(&error)?;
        body.map(|body| {
            serde_json::from_str(&body).map_err(|source| RecordError::Corrupt {
                id: id.to_owned(),
                source,
            })
        })
        .transpose()
    }

    fn delete_stack(&self, stack: &str) -> Result<u64, RecordError> {
        let deleted = self
            .writer()
            .execute("DELETE FROM records WHERE stack = ?", [stack])
            .map_err(failed("delete a stack's records"))?;
        Ok(deleted as u64)
    }

    fn totals(&self) -> Result<StoreTotals, RecordError> {
        let (n_records, bytes): (i64, i64) = self
            .reader()
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM records",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(failed("count records"))?;
        Ok(StoreTotals {
            n_records: n_records.max(0) as u64,
            bytes: bytes.max(0) as u64,
        })
    }
}

/// Deletes the oldest records until at most `max_records` of at most `max_bytes` remain.
fn prune(
    transaction: &rusqlite::Transaction<'_>,
    max_records: u64,
    max_bytes: u64,
) -> Result<u64, RecordError> {
    let error = failed("prune records");
    let (n_records, bytes): (i64, i64) = transaction
        .query_row(
            "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM records",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(&error)?;
    let excess_records = (n_records.max(0) as u64).saturating_sub(max_records);
    let excess_bytes = (bytes.max(0) as u64).saturating_sub(max_bytes);
    if excess_records == 0 && excess_bytes == 0 {
        return Ok(0);
    }
    // The newest record to delete: the oldest `excess_records`, and as many more of the
    // oldest as it takes to free `excess_bytes`.
    let mut last_seq = None;
    let mut n_deleted = 0_u64;
    let mut freed = 0_u64;
    {
        let mut oldest = transaction
            .prepare("SELECT seq, bytes FROM records ORDER BY seq")
            .map_err(&error)?;
        let mut rows = oldest.query([]).map_err(&error)?;
        while n_deleted < excess_records || freed < excess_bytes {
            let Some(row) = rows.next().map_err(&error)? else {
                break;
            };
            last_seq = Some(row.get::<_, i64>(0).map_err(&error)?);
            freed += row.get::<_, i64>(1).map_err(&error)?.max(0) as u64;
            n_deleted += 1;
        }
    }
    if let Some(last_seq) = last_seq {
        transaction
            .execute("DELETE FROM records WHERE seq <= ?", [last_seq])
            .map_err(&error)?;
    }
    Ok(n_deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Payload, RecordOutcome, Timings};

    pub(crate) fn record(id: &str, function: &str, outcome: RecordOutcome) -> InvocationRecord {
        InvocationRecord {
            id: id.to_owned(),
            at_ms: 1_000,
            stack: "app".to_owned(),
            function: function.to_owned(),
            function_name: format!("app-{function}-ABC"),
            deploy: Some(1),
            executed_version: Some("$LATEST".to_owned()),
            qualifier: None,
            instance: Some("42".to_owned()),
            trigger: "cli".to_owned(),
            outcome,
            event: Payload {
                text: r#"{"n":1}"#.to_owned(),
                truncated: false,
                bytes: 7,
            },
            result: None,
            error: None,
            logs: vec!["START".to_owned()],
            timings: Timings::default(),
            replay_of: None,
        }
    }

    fn ids(page: &Page) -> Vec<&str> {
        page.records
            .iter()
            .map(|record| record.id.as_str())
            .collect()
    }

    #[test]
    fn records_are_listed_newest_first_with_filters_and_pages() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = SqliteInvocations::open_in(dir.path()).expect("open");
        let records = [
            record("r1", "Hello", RecordOutcome::Success),
            record("r2", "Other", RecordOutcome::Error),
            record("r3", "Hello", RecordOutcome::Timeout),
            record("r4", "Hello", RecordOutcome::Success),
        ];
        assert_eq!(store.insert(&records, 100, u64::MAX).expect("insert"), 0);
        let all = ListQuery {
            limit: 10,
            ..ListQuery::default()
        };
        assert_eq!(
            ids(&store.list(&all).expect("list")),
            ["r4", "r3", "r2", "r1"]
        );
        let hello_errors = ListQuery {
            function: Some("app-Hello-ABC".to_owned()),
            errors_only: true,
            ..all.clone()
        };
        assert_eq!(ids(&store.list(&hello_errors).expect("list")), ["r3"]);
        let first = store
            .list(&ListQuery {
                limit: 2,
                ..all.clone()
            })
            .expect("list");
        assert_eq!(ids(&first), ["r4", "r3"]);
        let before = first.next.as_deref().expect("a next page").parse().ok();
        let second = store
            .list(&ListQuery {
                limit: 2,
                before,
                ..all.clone()
            })
            .expect("list");
        assert_eq!(ids(&second), ["r2", "r1"]);
        assert_eq!(second.next, None);
        assert_eq!(
            store.get("r3").expect("get").map(|record| record.outcome),
            Some(RecordOutcome::Timeout)
        );
        assert_eq!(store.get("nope").expect("get"), None);
        assert_eq!(store.delete_stack("app").expect("delete"), 4);
        assert_eq!(store.totals().expect("totals").n_records, 0);
    }

    #[test]
    fn the_oldest_records_are_pruned_by_count_and_by_bytes() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = SqliteInvocations::open_in(dir.path()).expect("open");
        for n in 0..10 {
            let id = format!("r{n}");
            store
                .insert(&[record(&id, "Hello", RecordOutcome::Success)], 5, u64::MAX)
                .expect("insert");
        }
        let totals = store.totals().expect("totals");
        assert_eq!(totals.n_records, 5);
        assert!(store.get("r4").expect("get").is_none());
        assert!(store.get("r5").expect("get").is_some());

        // Each record is some hundreds of bytes: room for two.
        let one = totals.bytes / 5;
        let pruned = store
            .insert(
                &[record("r10", "Hello", RecordOutcome::Success)],
                100,
                one * 2 + one / 2,
            )
            .expect("insert");
        assert_eq!(pruned, 4);
        let left = store
            .list(&ListQuery {
                limit: 10,
                ..ListQuery::default()
            })
            .expect("list");
        assert_eq!(ids(&left), ["r10", "r9"]);
        assert!(store.totals().expect("totals").bytes <= one * 2 + one / 2);
    }

    #[test]
    fn readers_do_not_create_a_store() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join(crate::FILE_NAME);
        let error = SqliteInvocations::open_existing(&path).expect_err("missing");
        assert!(matches!(error, RecordError::Missing { .. }), "{error}");
        assert!(!path.exists());
    }
}
