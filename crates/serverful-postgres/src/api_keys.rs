//! API keys' values, usage plans' creation times and quota counts in the shared
//! database, so that a key works through every node and a plan's quota counts the
//! requests of all of them. The SQL only: `serverful_platform::api_keys` implements its
//! `ApiKeyBackend` over [`PostgresApiKeys`].

use std::sync::Arc;

use crate::pool::{describe, Database, DatabaseError};

const MIGRATIONS: &[&str] = &["
CREATE TABLE IF NOT EXISTS api_keys (
    stack text NOT NULL,
    logical_id text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (stack, logical_id)
);
CREATE TABLE IF NOT EXISTS api_usage_plans (
    stack text NOT NULL,
    logical_id text NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (stack, logical_id)
);
CREATE TABLE IF NOT EXISTS api_quota_counts (
    plan_id text NOT NULL,
    key_id text NOT NULL,
    period_start bigint NOT NULL,
    count bigint NOT NULL,
    PRIMARY KEY (plan_id, key_id, period_start)
);
"];

/// The API keys of every node.
#[derive(Debug)]
pub struct PostgresApiKeys {
    database: Arc<Database>,
}

/// What failed, as text for the platform's error.
#[derive(Debug)]
pub struct Failure(pub String);

impl From<DatabaseError> for Failure {
    fn from(error: DatabaseError) -> Failure {
        Failure(error.to_string())
    }
}

fn failed(error: postgres::Error) -> Failure {
    Failure(describe(&error))
}

impl PostgresApiKeys {
    /// Makes the tables if need be.
    pub fn new(database: Arc<Database>) -> Result<PostgresApiKeys, Failure> {
        database.migrate("api_keys", MIGRATIONS)?;
        Ok(PostgresApiKeys { database })
    }

    /// The database's URL (without its password), for messages.
    pub fn url(&self) -> &str {
        self.database.url()
    }

    /// The key's value: `given` (kept from now on), else the one kept, else `fresh`
    /// (kept now). Two nodes deploying at once agree on one value.
    pub fn key_value(
        &self,
        stack: &str,
        logical_id: &str,
        given: Option<&str>,
        fresh: String,
    ) -> Result<String, Failure> {
        let (stack, logical_id, given) = (
            stack.to_owned(),
            logical_id.to_owned(),
            given.map(str::to_owned),
        );
        self.database.run(move |client| {
            if let Some(given) = given {
                let row = client
                    .query_one(
                        "INSERT INTO api_keys (stack, logical_id, value) VALUES ($1, $2, $3)
                         ON CONFLICT (stack, logical_id) DO UPDATE SET value = EXCLUDED.value RETURNING value",
                        &[&stack, &logical_id, &given],
                    )
                    .map_err(failed)?;
                return Ok(row.get(0));
            }
            client
                .execute(
                    "INSERT INTO api_keys (stack, logical_id, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&stack, &logical_id, &fresh],
                )
                .map_err(failed)?;
            // A statement of its own: it sees the value of a node that made it first.
            let row = client
                .query_one(
                    "SELECT value FROM api_keys WHERE stack = $1 AND logical_id = $2",
                    &[&stack, &logical_id],
                )
                .map_err(failed)?;
            Ok(row.get(0))
        })
    }

    /// When the plan was first deployed (Unix seconds), `now` if never before.
    pub fn plan_created(&self, stack: &str, logical_id: &str, now: i64) -> Result<i64, Failure> {
        let (stack, logical_id) = (stack.to_owned(), logical_id.to_owned());
        self.database.run(move |client| {
            client
                .execute(
                    "INSERT INTO api_usage_plans (stack, logical_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&stack, &logical_id, &now],
                )
                .map_err(failed)?;
            let row = client
                .query_one(
                    "SELECT created_at FROM api_usage_plans WHERE stack = $1 AND logical_id = $2",
                    &[&stack, &logical_id],
                )
                .map_err(failed)?;
            Ok(row.get(0))
        })
    }

    /// Forgets a stack's keys, plans and its plans' counts.
    pub fn delete_stack(&self, stack: &str) -> Result<(), Failure> {
        let stack = stack.to_owned();
        self.database.run(move |client| {
            let mut transaction = client.transaction().map_err(failed)?;
            transaction
                .execute("DELETE FROM api_keys WHERE stack = $1", &[&stack])
                .map_err(failed)?;
            transaction
                .execute("DELETE FROM api_usage_plans WHERE stack = $1", &[&stack])
                .map_err(failed)?;
            transaction
                .execute(
                    "DELETE FROM api_quota_counts WHERE starts_with(plan_id, $1 || '/')",
                    &[&stack],
                )
                .map_err(failed)?;
            transaction.commit().map_err(failed)
        })
    }

    /// Counts one request if fewer than `limit` were counted in the period: one
    /// statement, so the nodes' requests together never pass the limit.
    pub fn try_count(
        &self,
        plan_id: &str,
        key_id: &str,
        period_start: i64,
        limit: u64,
    ) -> Result<bool, Failure> {
        let (plan_id, key_id) = (plan_id.to_owned(), key_id.to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.database.run(move |client| {
            let changed = client
                .execute(
                    "INSERT INTO api_quota_counts (plan_id, key_id, period_start, count)
                     SELECT $1, $2, $3, 1 WHERE $4::bigint > 0
                     ON CONFLICT (plan_id, key_id, period_start)
                     DO UPDATE SET count = api_quota_counts.count + 1 WHERE api_quota_counts.count < $4",
                    &[&plan_id, &key_id, &period_start, &limit],
                )
                .map_err(failed)?;
            Ok(changed == 1)
        })
    }
}
