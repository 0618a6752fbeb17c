//! Function logs ([`LogBackend`]) in the shared database: `serverful logs FUNCTION`
//! through any node reads (and follows) the lines of every node's instances, and the
//! retention holds per function across the cluster.
//!
//! Lines are numbered by a sequence while the appending transaction holds an advisory
//! lock, so numbers are in commit order and a follower reading "after N" never skips a
//! line that commits later with a smaller number (as the store's stream records are).

use std::sync::Arc;

use serverful_logs::{
    Cursor, FunctionLogs, LogBackend, LogError, LogLine, LogQuery, NewLine, Retention, Rotated,
};

use crate::pool::{describe, Database, DatabaseError};

const MIGRATIONS: &[&str] = &["
CREATE TABLE IF NOT EXISTS function_log_lines (
    seq bigserial PRIMARY KEY,
    stack text NOT NULL,
    function text NOT NULL,
    at_ms bigint NOT NULL,
    request_id text,
    text text NOT NULL
);
CREATE INDEX IF NOT EXISTS function_log_lines_by_function ON function_log_lines (stack, function, seq);
"];

/// The advisory lock key an append holds while it numbers its lines.
const APPEND_LOCK: i64 = 0x7372_766c;

/// Every node's function logs.
#[derive(Debug)]
pub struct PostgresLogs {
    database: Arc<Database>,
}

struct Failure(LogError);

impl From<DatabaseError> for Failure {
    fn from(error: DatabaseError) -> Failure {
        Failure(LogError::Storage {
            action: "reach the database",
            message: error.to_string(),
        })
    }
}

fn failed(action: &'static str) -> impl Fn(postgres::Error) -> Failure {
    move |error| {
        Failure(LogError::Storage {
            action,
            message: describe(&error),
        })
    }
}

impl PostgresLogs {
    /// Makes the table if need be.
    pub fn new(database: Arc<Database>) -> Result<PostgresLogs, LogError> {
        database
            .migrate("function_logs", MIGRATIONS)
            .map_err(|error| LogError::Storage {
                action: "create the log store",
                message: error.to_string(),
            })?;
        Ok(PostgresLogs { database })
    }

    fn run<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut postgres::Client) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, LogError> {
        self.database
            .run(call)
            .map_err(|failure: Failure| failure.0)
    }
}

fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl LogBackend for PostgresLogs {
    fn append(&self, lines: &[NewLine]) -> Result<(), LogError> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut stacks = Vec::with_capacity(lines.len());
        let mut functions = Vec::with_capacity(lines.len());
        let mut times = Vec::with_capacity(lines.len());
        let mut requests = Vec::with_capacity(lines.len());
        let mut texts = Vec::with_capacity(lines.len());
        for line in lines {
            stacks.push(line.stack.clone());
            functions.push(line.function.clone());
            times.push(line.at_ms);
            requests.push(line.request_id.clone());
            texts.push(line.text.clone());
        }
        self.run(move |client| {
            let action = "append lines";
            let mut transaction = client.transaction().map_err(failed(action))?;
            transaction
                .execute("SELECT pg_advisory_xact_lock($1)", &[&APPEND_LOCK])
                .map_err(failed(action))?;
            // One statement for the batch, numbered in the order given.
            transaction
                .execute(
                    "INSERT INTO function_log_lines (stack, function, at_ms, request_id, text)
                     SELECT stack, function, at_ms, request_id, text
                     FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[])
                          WITH ORDINALITY AS l(stack, function, at_ms, request_id, text, n)
                     ORDER BY n",
                    &[&stacks, &functions, &times, &requests, &texts],
                )
                .map_err(failed(action))?;
            transaction.commit().map_err(failed(action))
        })
    }

    fn read(&self, query: &LogQuery) -> Result<Vec<LogLine>, LogError> {
        let query = query.clone();
        self.run(move |client| {
            let after = query.after.unwrap_or(Cursor::START).seq();
            let since = query.since_ms.unwrap_or(i64::MIN);
            let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
            let rows = client
                .query(
                    "SELECT seq, at_ms, request_id, text FROM function_log_lines
                     WHERE stack = $1 AND function = $2 AND seq > $3 AND at_ms >= $4
                     ORDER BY seq LIMIT $5",
                    &[&query.stack, &query.function, &after, &since, &limit],
                )
                .map_err(failed("read lines"))?;
            Ok(rows
                .into_iter()
                .map(|row| LogLine {
                    cursor: Cursor::from_seq(row.get(0)),
                    stack: query.stack.clone(),
                    function: query.function.clone(),
                    at_ms: row.get(1),
                    request_id: row.get(2),
                    text: row.get(3),
                })
                .collect())
        })
    }

    fn functions(&self, stack: Option<&str>) -> Result<Vec<FunctionLogs>, LogError> {
        let stack = stack.map(str::to_owned);
        self.run(move |client| {
            let rows = client
                .query(
                    "SELECT stack, function, count(*), coalesce(sum(octet_length(text)), 0)::bigint, max(at_ms)
                     FROM function_log_lines WHERE ($1::text IS NULL OR stack = $1)
                     GROUP BY stack, function ORDER BY stack, function",
                    &[&stack],
                )
                .map_err(failed("list functions"))?;
            Ok(rows
                .into_iter()
                .map(|row| FunctionLogs {
                    stack: row.get(0),
                    function: row.get(1),
                    n_lines: unsigned(row.get(2)),
                    bytes: unsigned(row.get(3)),
                    last_at_ms: row.get(4),
                })
                .collect())
        })
    }

    fn delete_stack(&self, stack: &str) -> Result<u64, LogError> {
        let stack = stack.to_owned();
        self.run(move |client| {
            client
                .execute("DELETE FROM function_log_lines WHERE stack = $1", &[&stack])
                .map_err(failed("delete a stack's lines"))
        })
    }

    fn rotate(&self, retention: &Retention, now_ms: i64) -> Result<Rotated, LogError> {
        let oldest = retention
            .max_age
            .map(|age| now_ms.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX)));
        let max_bytes = retention
            .max_bytes_per_function
            .map(|bytes| i64::try_from(bytes).unwrap_or(i64::MAX));
        self.run(move |client| {
            let action = "rotate the logs";
            let mut rotated = Rotated::default();
            let mut add = |rows: Vec<postgres::Row>| {
                for row in rows {
                    rotated.n_lines += 1;
                    rotated.bytes += unsigned(row.get::<_, i32>(0).into());
                }
            };
            if let Some(oldest) = oldest {
                add(client
                    .query(
                        "DELETE FROM function_log_lines WHERE at_ms < $1 RETURNING octet_length(text)",
                        &[&oldest],
                    )
                    .map_err(failed(action))?);
            }
            if let Some(max_bytes) = max_bytes {
                // Each function's newest lines up to the bound stay.
                add(client
                    .query(
                        "DELETE FROM function_log_lines l USING (
                             SELECT seq FROM (
                                 SELECT seq, sum(octet_length(text)) OVER (
                                     PARTITION BY stack, function ORDER BY seq DESC) AS newer
                                 FROM function_log_lines) kept
                             WHERE newer > $1) dropped
                         WHERE l.seq = dropped.seq RETURNING octet_length(l.text)",
                        &[&max_bytes],
                    )
                    .map_err(failed(action))?);
            }
            Ok(rotated)
        })
    }
}
