//! Invocation records ([`InvocationBackend`]) in the shared database: `serverful
//! invocations` through any node lists the invocations of every node, and the bounds
//! (`--invocation-records-max`, `--invocation-records-max-bytes`) hold for the cluster's
//! records together. The SQLite store's rows, with a sequence for the list's order and
//! cursors; each node's writer inserts a batch and prunes the oldest in one
//! transaction, under an advisory lock that serializes the nodes' prunes.

use std::sync::Arc;

use serverful_invocations::{
    InvocationBackend, InvocationRecord, ListQuery, Page, RecordError, StoreTotals,
};

use crate::pool::{describe, Database, DatabaseError};

const MIGRATIONS: &[&str] = &["
CREATE TABLE IF NOT EXISTS invocation_records (
    seq bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    at_ms bigint NOT NULL,
    stack text NOT NULL,
    function text NOT NULL,
    function_name text NOT NULL,
    outcome text NOT NULL,
    summary text NOT NULL,
    body text NOT NULL,
    bytes bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS invocation_records_by_function ON invocation_records (stack, function, seq);
"];

/// The advisory lock key a batch holds while it inserts and prunes.
const PRUNE_LOCK: i64 = 0x7372_7669;

/// Every node's invocation records.
#[derive(Debug)]
pub struct PostgresInvocations {
    database: Arc<Database>,
}

struct Failure(RecordError);

impl From<DatabaseError> for Failure {
    fn from(error: DatabaseError) -> Failure {
        Failure(RecordError::Storage {
            action: "reach the database",
            message: error.to_string(),
        })
    }
}

fn failed(action: &'static str) -> impl Fn(postgres::Error) -> Failure {
    move |error| {
        Failure(RecordError::Storage {
            action,
            message: describe(&error),
        })
    }
}

impl PostgresInvocations {
    /// Makes the table if need be.
    pub fn new(database: Arc<Database>) -> Result<PostgresInvocations, RecordError> {
        database
            .migrate("invocation_records", MIGRATIONS)
            .map_err(|error| RecordError::Storage {
                action: "create the invocation records",
                message: error.to_string(),
            })?;
        Ok(PostgresInvocations { database })
    }

    fn run<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut postgres::Client) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, RecordError> {
        self.database
            .run(call)
            .map_err(|failure: Failure| failure.0)
    }
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl InvocationBackend for PostgresInvocations {
    fn insert(
        &self,
        records: &[InvocationRecord],
        max_records: u64,
        max_bytes: u64,
    ) -> Result<u64, RecordError> {
        let rows: Vec<(InvocationRecord, String, String)> = records
            .iter()
            .map(|record| {
                let summary = serde_json::to_string(&record.summary())
                    .expect("a record summary always serializes");
                let body = serde_json::to_string(record).expect("a record always serializes");
                (record.clone(), summary, body)
            })
            .collect();
        self.run(move |client| {
            let action = "insert records";
            let mut transaction = client.transaction().map_err(failed(action))?;
            transaction
                .execute("SELECT pg_advisory_xact_lock($1)", &[&PRUNE_LOCK])
                .map_err(failed(action))?;
            for (record, summary, body) in &rows {
                let bytes = count((summary.len() + body.len()) as u64);
                // A record with an id already kept replaces it (and goes to the end).
                transaction
                    .execute("DELETE FROM invocation_records WHERE id = $1", &[&record.id])
                    .map_err(failed(action))?;
                transaction
                    .execute(
                        "INSERT INTO invocation_records (id, at_ms, stack, function, function_name, outcome, summary, body, bytes)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        &[
                            &record.id,
                            &record.at_ms,
                            &record.stack,
                            &record.function,
                            &record.function_name,
                            &record.outcome.as_str(),
                            summary,
                            body,
                            &bytes,
                        ],
                    )
                    .map_err(failed(action))?;
            }
            let totals = transaction
                .query_one(
                    "SELECT count(*), coalesce(sum(bytes), 0)::bigint FROM invocation_records",
                    &[],
                )
                .map_err(failed("prune records"))?;
            let (records, bytes): (i64, i64) = (totals.get(0), totals.get(1));
            let excess_records = records.saturating_sub(count(max_records)).max(0);
            let excess_bytes = bytes.saturating_sub(count(max_bytes)).max(0);
            let mut pruned = 0;
            if excess_records > 0 || excess_bytes > 0 {
                // The oldest records: as many as are over the count, and as many more as it
                // takes to free the bytes over the bound.
                let last = transaction
                    .query_one(
                        "SELECT min(seq) FROM (
                             SELECT seq, row_number() OVER w AS n, sum(bytes) OVER w AS freed
                             FROM invocation_records WINDOW w AS (ORDER BY seq)) oldest
                         WHERE n >= $1 AND freed >= $2",
                        &[&excess_records, &excess_bytes],
                    )
                    .map_err(failed("prune records"))?;
                let last: Option<i64> = last.get(0);
                pruned = match last {
                    Some(last) => transaction.execute(
                        "DELETE FROM invocation_records WHERE seq <= $1",
                        &[&last],
                    ),
                    None => transaction.execute("DELETE FROM invocation_records", &[]),
                }
                .map_err(failed("prune records"))?;
            }
            transaction.commit().map_err(failed(action))?;
            Ok(pruned)
        })
    }

    fn list(&self, query: &ListQuery) -> Result<Page, RecordError> {
        let query = query.clone();
        self.run(move |client| {
            // One more than asked says whether there is a next page.
            let limit = i64::try_from(query.limit.saturating_add(1)).unwrap_or(i64::MAX);
            let rows = client
                .query(
                    "SELECT seq, summary FROM invocation_records
                     WHERE ($1::text IS NULL OR stack = $1)
                       AND ($2::text IS NULL OR function = $2 OR function_name = $2)
                       AND ($3::bigint IS NULL OR at_ms >= $3)
                       AND (NOT $4 OR outcome <> 'success')
                       AND ($5::bigint IS NULL OR seq < $5)
                     ORDER BY seq DESC LIMIT $6",
                    &[
                        &query.stack,
                        &query.function,
                        &query.since_ms,
                        &query.errors_only,
                        &query.before,
                        &limit,
                    ],
                )
                .map_err(failed("list records"))?;
            let mut page = Page::default();
            let mut last_seq: Option<i64> = None;
            for row in rows {
                let (seq, summary): (i64, String) = (row.get(0), row.get(1));
                if page.records.len() == query.limit {
                    page.next = last_seq.map(|seq| seq.to_string());
                    break;
                }
                let summary = serde_json::from_str(&summary).map_err(|source| {
                    Failure(RecordError::Corrupt {
                        id: format!("#{seq}"),
                        source,
                    })
                })?;
                page.records.push(summary);
                last_seq = Some(seq);
            }
            Ok(page)
        })
    }

    fn get(&self, id: &str) -> Result<Option<InvocationRecord>, RecordError> {
        let id = id.to_owned();
        self.run(move |client| {
            let row = client
                .query_opt("SELECT body FROM invocation_records WHERE id = $1", &[&id])
                .map_err(failed("read a record"))?;
            row.map(|row| {
                serde_json::from_str(row.get::<_, &str>(0)).map_err(|source| {
                    Failure(RecordError::Corrupt {
                        id: id.clone(),
                        source,
                    })
                })
            })
            .transpose()
        })
    }

    fn delete_stack(&self, stack: &str) -> Result<u64, RecordError> {
        let stack = stack.to_owned();
        self.run(move |client| {
            client
                .execute("DELETE FROM invocation_records WHERE stack = $1", &[&stack])
                .map_err(failed("delete a stack's records"))
        })
    }

    fn totals(&self) -> Result<StoreTotals, RecordError> {
        self.run(move |client| {
            let row = client
                .query_one(
                    "SELECT count(*), coalesce(sum(bytes), 0)::bigint FROM invocation_records",
                    &[],
                )
                .map_err(failed("count records"))?;
            Ok(StoreTotals {
                n_records: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
                bytes: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
            })
        })
    }
}
