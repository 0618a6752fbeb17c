//! The schedules' durable state ([`ScheduleBackend`]) in the database every node of a
//! cluster shares, so that a tick fires once across the cluster.
//!
//! - `schedules` holds each schedule's expression, rate anchor and last fired tick, as
//!   the SQLite backend does. [`ScheduleBackend::register`] is one `INSERT … ON
//!   CONFLICT` that keeps the stored anchor while the expression is unchanged: nodes
//!   starting a schedule at different moments all count its periods from the first
//!   one's anchor, so they compute the same ticks.
//! - [`ScheduleBackend::claim`] is one conditional `UPDATE … WHERE last_tick_ms <
//!   tick`: PostgreSQL's row lock makes the second of two nodes claiming one tick wait
//!   for the first and then find the condition false, so one node wins each tick.
//! - `schedule_clocks` holds where a faster schedule clock (tests' and demos'
//!   `SERVERFUL_SCHEDULE_MINUTE_MS`) starts, per minute length: the first node's start.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serverful_scheduler::{BackendError, ScheduleBackend, ScheduleKey, ScheduleRecord};

use crate::pool::{Database, DatabaseError};

/// The schema, one step per version (see [`Database::migrate`]).
const MIGRATIONS: &[&str] = &["
CREATE TABLE IF NOT EXISTS schedules (
    stack text NOT NULL,
    name text NOT NULL,
    expression text NOT NULL,
    anchor_ms bigint NOT NULL,
    last_tick_ms bigint,
    PRIMARY KEY (stack, name)
);
CREATE TABLE IF NOT EXISTS schedule_clocks (
    minute_ms bigint PRIMARY KEY,
    origin_ms bigint NOT NULL
);
"];

/// The schedules' state in PostgreSQL.
pub struct PostgresSchedules {
    database: Arc<Database>,
}

impl std::fmt::Debug for PostgresSchedules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSchedules")
            .field("database", &self.database)
            .finish()
    }
}

/// The pool's and the client's errors as the scheduler's, naming what failed.
#[derive(Debug)]
struct Failure(BackendError);

impl From<DatabaseError> for Failure {
    fn from(error: DatabaseError) -> Failure {
        Failure(BackendError::Storage {
            action: "reach the database",
            path: "PostgreSQL".to_owned(),
            message: error.to_string(),
        })
    }
}

fn failed(action: &'static str) -> impl FnOnce(postgres::Error) -> Failure {
    move |error| {
        Failure(BackendError::Storage {
            action,
            path: "PostgreSQL".to_owned(),
            message: error.to_string(),
        })
    }
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl PostgresSchedules {
    /// The schedules' state on `database`, whose schema it creates or upgrades.
    pub fn new(database: Arc<Database>) -> Result<PostgresSchedules, BackendError> {
        database
            .migrate("schedules", MIGRATIONS)
            .map_err(|error| Failure::from(error).0)?;
        Ok(PostgresSchedules { database })
    }

    fn run<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut postgres::Client) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, BackendError> {
        self.database.run(call).map_err(|failure| failure.0)
    }
}

impl ScheduleBackend for PostgresSchedules {
    fn register(
        &self,
        key: &ScheduleKey,
        expression: &str,
        anchor: DateTime<Utc>,
    ) -> Result<ScheduleRecord, BackendError> {
        let (stack, name, expression) =
            (key.stack.clone(), key.name.clone(), expression.to_owned());
        let anchor_ms = anchor.timestamp_millis();
        self.run(move |client| {
            // One statement: of nodes registering at once, the first inserts and the
            // others wait for its row lock, then keep its anchor.
            let row = client
                .query_one(
                    "INSERT INTO schedules AS known (stack, name, expression, anchor_ms)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (stack, name) DO UPDATE SET
                         anchor_ms = CASE WHEN known.expression = EXCLUDED.expression
                                          THEN known.anchor_ms ELSE EXCLUDED.anchor_ms END,
                         expression = EXCLUDED.expression
                     RETURNING anchor_ms, last_tick_ms",
                    &[&stack, &name, &expression, &anchor_ms],
                )
                .map_err(failed("register a schedule"))?;
            Ok(ScheduleRecord {
                anchor: from_ms(row.get(0)),
                last_tick: row.get::<_, Option<i64>>(1).map(from_ms),
            })
        })
    }

    fn claim(&self, key: &ScheduleKey, tick: DateTime<Utc>) -> Result<bool, BackendError> {
        let (stack, name) = (key.stack.clone(), key.name.clone());
        let tick_ms = tick.timestamp_millis();
        self.run(move |client| {
            let changed = client
                .execute(
                    "UPDATE schedules SET last_tick_ms = $3
                     WHERE stack = $1 AND name = $2 AND (last_tick_ms IS NULL OR last_tick_ms < $3)",
                    &[&stack, &name, &tick_ms],
                )
                .map_err(failed("claim a tick"))?;
            Ok(changed == 1)
        })
    }

    fn forget_stack(&self, stack: &str) -> Result<(), BackendError> {
        let stack = stack.to_owned();
        self.run(move |client| {
            client
                .execute("DELETE FROM schedules WHERE stack = $1", &[&stack])
                .map_err(failed("forget a stack's schedules"))?;
            Ok(())
        })
    }

    fn clock_origin(
        &self,
        minute: Duration,
        proposed: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, BackendError> {
        let minute_ms = i64::try_from(minute.as_millis()).unwrap_or(i64::MAX);
        let proposed_ms = proposed.timestamp_millis();
        self.run(move |client| {
            // The no-op update makes `RETURNING` answer the stored row too.
            let row = client
                .query_one(
                    "INSERT INTO schedule_clocks AS known (minute_ms, origin_ms) VALUES ($1, $2)
                     ON CONFLICT (minute_ms) DO UPDATE SET origin_ms = known.origin_ms
                     RETURNING origin_ms",
                    &[&minute_ms, &proposed_ms],
                )
                .map_err(failed("share the schedule clock"))?;
            Ok(from_ms(row.get(0)))
        })
    }
}
