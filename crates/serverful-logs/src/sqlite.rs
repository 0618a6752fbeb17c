//! The SQLite log backend: every function's lines in one file, `DATA/logs.sqlite`.
//!
//! Layout: a `functions` table (stack, function, and running totals of its lines and
//! their bytes, which rotation reads instead of scanning), and a `lines` table whose
//! `AUTOINCREMENT` key is the cursor: increasing in the order lines were appended and
//! never reused, even after the newest lines are deleted, so a follower's cursor never
//! skips a line. An index on `(function_id, seq)` serves both reading a function's lines
//! in order and rotating its oldest ones away.
//!
//! Write-ahead logging with `synchronous=NORMAL`: a commit writes the log without syncing
//! it, so a killed server keeps every committed line and only a power loss may lose the
//! last ones, which is right for logs. Readers (`serverful logs` in another process, the
//! admin API) never wait for the writer. New files use incremental auto-vacuum, so the
//! pages rotation frees are given back to the file system.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension as _, TransactionBehavior};

use crate::{
    Cursor, FunctionLogs, LogBackend, LogError, LogLine, LogQuery, NewLine, Retention, Rotated,
};

/// The schema this code writes; a file with a higher `user_version` is refused.
const SCHEMA_VERSION: i64 = 1;

/// How long a statement waits for another process's write (a `serverful invoke` beside a
/// running server) before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Lines per multi-row insert.
const ROWS_PER_INSERT: usize = 64;

/// `INSERT INTO lines … VALUES (?, ?, ?, ?), …` for [`ROWS_PER_INSERT`] lines.
static INSERT_CHUNK: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let row = "(?, ?, ?, ?)";
    let rows = vec![row; ROWS_PER_INSERT].join(", ");
    format!("INSERT INTO lines (function_id, at_ms, request_id, text) VALUES {rows}")
});

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS functions (
        id INTEGER PRIMARY KEY,
        stack TEXT NOT NULL,
        function TEXT NOT NULL,
        n_lines INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        UNIQUE (stack, function)
    );
    CREATE TABLE IF NOT EXISTS lines (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        function_id INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        request_id TEXT,
        text TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS lines_by_function ON lines (function_id, seq);
";

/// Function logs in one SQLite file. One connection writes (the [`crate::LogWriter`]'s
/// thread, rotation, deletes), another reads.
pub struct SqliteLogs {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLogs")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteLogs {
    /// Opens the store at `path`, creating it if it does not exist.
    pub fn open(path: &Path) -> Result<SqliteLogs, LogError> {
        SqliteLogs::open_with(path, true)
    }

    /// Opens the store of a data folder, `DATA/logs.sqlite`, creating it if needed.
    pub fn open_in(data_dir: &Path) -> Result<SqliteLogs, LogError> {
        SqliteLogs::open(&data_dir.join(crate::FILE_NAME))
    }

    /// Opens a store that must exist already ([`LogError::Missing`] otherwise): for
    /// readers, which must not leave an empty store behind in a folder they only looked at.
    pub fn open_existing(path: &Path) -> Result<SqliteLogs, LogError> {
        if !path.exists() {
            return Err(LogError::Missing {
                path: path.to_owned(),
            });
        }
        SqliteLogs::open_with(path, false)
    }

    fn open_with(path: &Path, create: bool) -> Result<SqliteLogs, LogError> {
        let mut writer = connect(path, create)?;
        create_schema(&mut writer, path)?;
        let reader = connect(path, false)?;
        Ok(SqliteLogs {
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

fn connect(path: &Path, create: bool) -> Result<Connection, LogError> {
    let open_error = |source| LogError::Open {
        path: path.to_owned(),
        source,
    };
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let connection = Connection::open_with_flags(path, flags).map_err(open_error)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    // Must come before the first table exists to take effect; a no-op afterwards.
    connection
        .pragma_update(None, "auto_vacuum", "INCREMENTAL")
        .map_err(open_error)?;
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(open_error)?;
    connection
        .pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_error)?;
    Ok(connection)
}

fn create_schema(connection: &mut Connection, path: &Path) -> Result<(), LogError> {
    let sqlite = |source| LogError::Sqlite {
        action: "create the tables",
        source,
    };
    // Two processes may open a new store at once (`serverful invoke` beside `up`).
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    let version: i64 = transaction
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sqlite)?;
    if version > SCHEMA_VERSION {
        return Err(LogError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    transaction.execute_batch(SCHEMA).map_err(sqlite)?;
    transaction
        .pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(sqlite)?;
    transaction.commit().map_err(sqlite)
}

fn failed(action: &'static str) -> impl Fn(rusqlite::Error) -> LogError {
    move |source| LogError::Sqlite { action, source }
}

impl LogBackend for SqliteLogs {
    fn append(&self, lines: &[NewLine]) -> Result<(), LogError> {
        if lines.is_empty() {
            return Ok(());
        }
        let error = failed("append lines");
        // The batch's functions with their totals (each function's row is updated once
        // per batch), and which one each line is of. A batch holds few functions, often
        // one, so a search from the last one found costs less than hashing every line.
        let mut functions: Vec<BatchFunction<'_>> = Vec::new();
        let mut function_of_line = Vec::with_capacity(lines.len());
        let mut last = 0;
        for line in lines {
            let same = |function: &BatchFunction<'_>| {
                function.function == line.function && function.stack == line.stack
            };
            let index = if functions.get(last).is_some_and(same) {
                last
            } else if let Some(index) = functions.iter().position(same) {
                index
            } else {
                functions.push(BatchFunction {
                    stack: &line.stack,
                    function: &line.function,
                    n_lines: 0,
                    bytes: 0,
                    id: 0,
                });
                functions.len() - 1
            };
            functions[index].n_lines += 1;
            functions[index].bytes += text_bytes(&line.text);
            function_of_line.push(index);
            last = index;
        }
        let mut connection = self.writer();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&error)?;
        {
            let mut upsert = transaction
                .prepare_cached(
                    "INSERT INTO functions (stack, function, n_lines, bytes) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (stack, function) DO UPDATE
                     SET n_lines = n_lines + excluded.n_lines, bytes = bytes + excluded.bytes
                     RETURNING id",
                )
                .map_err(&error)?;
            for function in &mut functions {
                function.id = upsert
                    .query_row(
                        params![
                            function.stack,
                            function.function,
                            function.n_lines,
                            function.bytes
                        ],
                        |row| row.get(0),
                    )
                    .map_err(&error)?;
            }
            let ids: Vec<i64> = function_of_line
                .iter()
                .map(|&index| functions[index].id)
                .collect();
            // Whole chunks go in with one statement each: every execution of an insert into
            // an AUTOINCREMENT table also reads and writes its counter in
            // `sqlite_sequence`, and one execution per line cost a third more.
            let mut line_chunks = lines.chunks_exact(ROWS_PER_INSERT);
            let mut id_chunks = ids.chunks_exact(ROWS_PER_INSERT);
            let mut insert_chunk = transaction.prepare_cached(&INSERT_CHUNK).map_err(&error)?;
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(ROWS_PER_INSERT * 4);
            for (chunk, chunk_ids) in line_chunks.by_ref().zip(id_chunks.by_ref()) {
                values.clear();
                for (line, id) in chunk.iter().zip(chunk_ids) {
                    values.extend_from_slice(&[id, &line.at_ms, &line.request_id, &line.text]);
                }
                insert_chunk.execute(values.as_slice()).map_err(&error)?;
            }
            let mut insert = transaction
                .prepare_cached(
                    "INSERT INTO lines (function_id, at_ms, request_id, text) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(&error)?;
            for (line, id) in line_chunks.remainder().iter().zip(id_chunks.remainder()) {
                insert
                    .execute(params![id, line.at_ms, line.request_id, line.text])
                    .map_err(&error)?;
            }
        }
        transaction.commit().map_err(&error)
    }

    fn read(&self, query: &LogQuery) -> Result<Vec<LogLine>, LogError> {
        let error = failed("read lines");
        let connection = self.reader();
        let mut statement = connection
            .prepare_cached(
                "SELECT lines.seq, lines.at_ms, lines.request_id, lines.text
                 FROM functions JOIN lines ON lines.function_id = functions.id
                 WHERE functions.stack = ?1 AND functions.function = ?2
                   AND lines.seq > ?3 AND lines.at_ms >= ?4
                 ORDER BY lines.seq
                 LIMIT ?5",
            )
            .map_err(&error)?;
        let after = query.after.unwrap_or(Cursor::START).seq();
        let since = query.since_ms.unwrap_or(i64::MIN);
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let rows = statement
            .query_map(
                params![query.stack, query.function, after, since, limit],
                |row| {
                    Ok(LogLine {
                        cursor: Cursor::from_seq(row.get(0)?),
                        stack: query.stack.clone(),
                        function: query.function.clone(),
                        at_ms: row.get(1)?,
                        request_id: row.get(2)?,
                        text: row.get(3)?,
                    })
                },
            )
            .map_err(&error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&error)
    }

    fn functions(&self, stack: Option<&str>) -> Result<Vec<FunctionLogs>, LogError> {
        let error = failed("list the functions with logs");
        let connection = self.reader();
        let mut statement = connection
            .prepare_cached(
                "SELECT stack, function, n_lines, bytes,
                        (SELECT at_ms FROM lines WHERE function_id = functions.id
                         ORDER BY seq DESC LIMIT 1)
                 FROM functions
                 WHERE n_lines > 0 AND (?1 IS NULL OR stack = ?1)
                 ORDER BY stack, function",
            )
            .map_err(&error)?;
        let rows = statement
            .query_map(params![stack], |row| {
                Ok(FunctionLogs {
                    stack: row.get(0)?,
                    function: row.get(1)?,
                    n_lines: row.get::<_, i64>(2)?.max(0).unsigned_abs(),
                    bytes: row.get::<_, i64>(3)?.max(0).unsigned_abs(),
                    last_at_ms: row.get::<_, Option<i64>>(4)?.unwrap_or(0),
                })
            })
            .map_err(&error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&error)
    }

    fn delete_stack(&self, stack: &str) -> Result<u64, LogError> {
        let error = failed("delete a stack's lines");
        let mut connection = self.writer();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&error)?;
        let deleted = transaction
            .execute(
                "DELETE FROM lines WHERE function_id IN (SELECT id FROM functions WHERE stack = ?1)",
                params![stack],
            )
            .map_err(&error)?;
        transaction
            .execute("DELETE FROM functions WHERE stack = ?1", params![stack])
            .map_err(&error)?;
        transaction.commit().map_err(&error)?;
        give_back_free_pages(&connection);
        Ok(deleted as u64)
    }

    fn rotate(&self, retention: &Retention, now_ms: i64) -> Result<Rotated, LogError> {
        let error = failed("rotate old lines away");
        let cutoff_ms = retention
            .max_age
            .map(|age| now_ms.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX)));
        let max_bytes = retention
            .max_bytes_per_function
            .map(|bytes| i64::try_from(bytes).unwrap_or(i64::MAX));
        let mut connection = self.writer();
        let ids: Vec<i64> = {
            let mut statement = connection
                .prepare("SELECT id FROM functions")
                .map_err(&error)?;
            let rows = statement.query_map([], |row| row.get(0)).map_err(&error)?;
            rows.collect::<Result<_, _>>().map_err(&error)?
        };
        let mut rotated = Rotated::default();
        // One transaction per function keeps each one short: a writer in another process
        // waits for at most one function's rotation.
        for id in ids {
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&error)?;
            let Some((mut n_lines, mut bytes)) = transaction
                .query_row(
                    "SELECT n_lines, bytes FROM functions WHERE id = ?1",
                    params![id],
                    |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
                )
                .optional()
                .map_err(&error)?
            else {
                continue;
            };
            // Walk from the oldest line while lines are too old or the function holds too
            // many bytes; the walk touches only the lines it deletes, and one more.
            let mut cut = None;
            {
                let mut oldest_first = transaction
                    .prepare_cached(
                        "SELECT seq, at_ms, length(CAST(text AS BLOB)) FROM lines
                         WHERE function_id = ?1 ORDER BY seq",
                    )
                    .map_err(&error)?;
                let mut rows = oldest_first.query(params![id]).map_err(&error)?;
                while let Some(row) = rows.next().map_err(&error)? {
                    let at_ms: i64 = row.get(1).map_err(&error)?;
                    let expired = cutoff_ms.is_some_and(|cutoff| at_ms < cutoff);
                    let too_big = max_bytes.is_some_and(|max| bytes > max);
                    if !expired && !too_big {
                        break;
                    }
                    let line_bytes: i64 = row.get(2).map_err(&error)?;
                    cut = Some(row.get::<_, i64>(0).map_err(&error)?);
                    n_lines -= 1;
                    bytes -= line_bytes;
                    rotated.n_lines += 1;
                    rotated.bytes += line_bytes.max(0).unsigned_abs();
                }
            }
            let Some(cut) = cut else {
                continue;
            };
            transaction
                .execute(
                    "DELETE FROM lines WHERE function_id = ?1 AND seq <= ?2",
                    params![id, cut],
                )
                .map_err(&error)?;
            if n_lines <= 0 {
                transaction
                    .execute("DELETE FROM functions WHERE id = ?1", params![id])
                    .map_err(&error)?;
            } else {
                transaction
                    .execute(
                        "UPDATE functions SET n_lines = ?2, bytes = ?3 WHERE id = ?1",
                        params![id, n_lines, bytes.max(0)],
                    )
                    .map_err(&error)?;
            }
            transaction.commit().map_err(&error)?;
        }
        if rotated.n_lines > 0 {
            give_back_free_pages(&connection);
        }
        Ok(rotated)
    }
}

/// Returns the pages deleted lines freed to the file system (a no-op for a file made
/// without auto-vacuum). Failing to is harmless: the pages are reused by later lines.
fn give_back_free_pages(connection: &Connection) {
    if let Err(error) = connection.execute_batch("PRAGMA incremental_vacuum") {
        tracing::debug!("failed to give free pages of the log store back: {error}");
    }
}

/// One function of a batch being appended.
struct BatchFunction<'a> {
    stack: &'a str,
    function: &'a str,
    n_lines: i64,
    bytes: i64,
    /// Its row in `functions`, once upserted.
    id: i64,
}

/// The bytes of a line's text as the store counts them (its UTF-8 length).
fn text_bytes(text: &str) -> i64 {
    i64::try_from(text.len()).unwrap_or(i64::MAX)
}
