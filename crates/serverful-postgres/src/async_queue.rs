//! The queue of asynchronous invocations ([`QueueBackend`]) in the database every node
//! of a cluster shares: an event accepted by one node may run on any.
//!
//! - An event is a row of `async_events`. A node takes due events with one `UPDATE …
//!   WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`: nodes taking work at once skip each
//!   other's rows instead of waiting, and no event is handed to two of them.
//! - A taken event carries the taking node's id and a lease that runs out
//!   [`Lease::duration`] after it was taken or last renewed, on the database's clock (so
//!   the nodes' clocks need not agree). While a node lives, a thread of its queue renews the leases of every event
//!   it holds each [`Lease::renew_every`], however long the function runs; an event
//!   taken by a node that died, or was cut off from the database, is due again once its
//!   lease runs out, and another node runs it (delivery is at least once, as Lambda's).
//! - The other nodes find work by polling: the workers look at the queue at least once
//!   a second (`serverful_async`'s longest nap), so an event queued on a node whose
//!   workers are all busy, or which died just after answering 202, starts elsewhere
//!   within about a second (or once its lease runs out). No `LISTEN/NOTIFY` is needed.
//! - A node lets go of an event it retries only while it still holds it: one whose lease
//!   ran out and was taken by another node is left to that node.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serverful_async::{FunctionBacklog, NewEvent, QueueBackend, QueueError, QueuedEvent};

use crate::pool::{Database, DatabaseError};

/// The schema, one step per version (see [`Database::migrate`]).
const MIGRATIONS: &[&str] = &["
CREATE TABLE IF NOT EXISTS async_events (
    id text PRIMARY KEY,
    stack text NOT NULL,
    function text NOT NULL,
    qualifier text,
    payload bytea NOT NULL,
    enqueued_at_ms bigint NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    throttles integer NOT NULL DEFAULT 0,
    due_at_ms bigint NOT NULL,
    claimed_by text,
    lease_until_ms bigint
);
CREATE INDEX IF NOT EXISTS async_events_due ON async_events (due_at_ms, enqueued_at_ms);
CREATE INDEX IF NOT EXISTS async_events_claimed_by ON async_events (claimed_by);
CREATE INDEX IF NOT EXISTS async_events_stack ON async_events (stack);
"];

/// The database's clock in milliseconds since the Unix epoch: leases are kept on one
/// clock, whatever the nodes' read.
const DATABASE_NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// How long a node holds an event it took without renewing, and how often it renews.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    /// How long after the last renewal another node may take the event.
    pub duration: Duration,
    /// How often the holder renews (well under `duration`).
    pub renew_every: Duration,
}

impl Default for Lease {
    fn default() -> Lease {
        Lease {
            duration: Duration::from_secs(10),
            renew_every: Duration::from_secs(2),
        }
    }
}

/// The queue in PostgreSQL, as one node sees it.
pub struct PostgresQueue {
    shared: Arc<Shared>,
}

struct Shared {
    database: Arc<Database>,
    /// This node's id on the events it holds (new at every start).
    node: String,
    lease_ms: i64,
}

impl std::fmt::Debug for PostgresQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresQueue")
            .field("database", &self.shared.database)
            .field("node", &self.shared.node)
            .finish()
    }
}

/// The pool's and the client's errors as the queue's, naming what failed.
#[derive(Debug)]
struct Failure(QueueError);

impl From<DatabaseError> for Failure {
    fn from(error: DatabaseError) -> Failure {
        Failure(QueueError::Storage {
            action: "reach the database of asynchronous events",
            message: error.to_string(),
        })
    }
}

fn failed(action: &'static str) -> impl FnOnce(postgres::Error) -> Failure {
    move |error| {
        Failure(QueueError::Storage {
            action,
            message: error.to_string(),
        })
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Shared {
    fn run<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut postgres::Client, &str, i64) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, QueueError> {
        let (node, lease_ms) = (self.node.clone(), self.lease_ms);
        self.database
            .run(move |client| call(client, &node, lease_ms))
            .map_err(|failure| failure.0)
    }

    /// Pushes back the lease of every event this node holds.
    fn renew(&self) -> Result<u64, QueueError> {
        self.run(|client, node, lease_ms| {
            client
                .execute(
                    &format!(
                        "UPDATE async_events SET lease_until_ms = {DATABASE_NOW_MS} + $2 WHERE claimed_by = $1"
                    ),
                    &[&node, &lease_ms],
                )
                .map_err(failed("renew the leases of asynchronous events"))
        })
    }
}

/// Renews `shared`'s leases until the queue is dropped.
fn keep_leases(shared: Weak<Shared>, every: Duration) {
    loop {
        std::thread::sleep(every);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if let Err(error) = shared.renew() {
            // The events' leases run out if this goes on: other nodes then run them.
            tracing::warn!("asynchronous invocations: {error}");
        }
    }
}

impl PostgresQueue {
    /// The queue on `database`, whose schema it creates or upgrades, holding the events
    /// it takes for `lease` (renewed by a thread of its own while it lives).
    pub fn new(database: Arc<Database>, lease: Lease) -> Result<PostgresQueue, QueueError> {
        database
            .migrate("async", MIGRATIONS)
            .map_err(|error| Failure::from(error).0)?;
        let shared = Arc::new(Shared {
            database,
            node: uuid::Uuid::new_v4().to_string(),
            lease_ms: millis(lease.duration),
        });
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("async-leases".to_owned())
            .spawn(move || keep_leases(weak, lease.renew_every))
            .map_err(|error| QueueError::Storage {
                action: "start renewing the leases of asynchronous events",
                message: error.to_string(),
            })?;
        Ok(PostgresQueue { shared })
    }
}

fn queued(row: &postgres::Row) -> QueuedEvent {
    QueuedEvent {
        event: NewEvent {
            id: row.get(0),
            stack: row.get(1),
            function: row.get(2),
            qualifier: row.get(3),
            payload: row.get(4),
            enqueued_at_ms: row.get(5),
        },
        attempts: u32::try_from(row.get::<_, i32>(6)).unwrap_or_default(),
        throttles: u32::try_from(row.get::<_, i32>(7)).unwrap_or_default(),
        due_at_ms: row.get(8),
    }
}

fn count(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

impl QueueBackend for PostgresQueue {
    fn enqueue(&self, event: &NewEvent) -> Result<(), QueueError> {
        let event = event.clone();
        self.shared.run(move |client, _, _| {
            client
                .execute(
                    "INSERT INTO async_events (id, stack, function, qualifier, payload, enqueued_at_ms, due_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $6)",
                    &[
                        &event.id,
                        &event.stack,
                        &event.function,
                        &event.qualifier,
                        &event.payload,
                        &event.enqueued_at_ms,
                    ],
                )
                .map_err(failed("queue an async event"))?;
            Ok(())
        })
    }

    fn claim_due(&self, now_ms: i64, limit: usize) -> Result<Vec<QueuedEvent>, QueueError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.shared.run(move |client, node, lease_ms| {
            let rows = client
                .query(
                    &format!(
                        "UPDATE async_events SET claimed_by = $1, lease_until_ms = {DATABASE_NOW_MS} + $2
                         WHERE id IN (
                             SELECT id FROM async_events
                             WHERE due_at_ms <= $3
                               AND (claimed_by IS NULL OR lease_until_ms < {DATABASE_NOW_MS})
                             ORDER BY due_at_ms, enqueued_at_ms
                             LIMIT $4
                             FOR UPDATE SKIP LOCKED)
                         RETURNING id, stack, function, qualifier, payload, enqueued_at_ms,
                                   attempts, throttles, due_at_ms"
                    ),
                    &[&node, &lease_ms, &now_ms, &limit],
                )
                .map_err(failed("claim due async events"))?;
            let mut events: Vec<QueuedEvent> = rows.iter().map(queued).collect();
            // `RETURNING` keeps no order.
            events.sort_by_key(|queued| (queued.due_at_ms, queued.event.enqueued_at_ms));
            Ok(events)
        })
    }

    fn next_due(&self) -> Result<Option<i64>, QueueError> {
        self.shared.run(|client, _, _| {
            let row = client
                .query_one(
                    &format!(
                        "SELECT MIN(due_at_ms) FROM async_events
                         WHERE claimed_by IS NULL OR lease_until_ms < {DATABASE_NOW_MS}"
                    ),
                    &[],
                )
                .map_err(failed("find the next due async event"))?;
            Ok(row.get::<_, Option<i64>>(0))
        })
    }

    fn reschedule(
        &self,
        id: &str,
        attempts: u32,
        throttles: u32,
        due_at_ms: i64,
    ) -> Result<(), QueueError> {
        let id = id.to_owned();
        self.shared.run(move |client, node, _| {
            client
                .execute(
                    "UPDATE async_events
                     SET attempts = $3, throttles = $4, due_at_ms = $5, claimed_by = NULL,
                         lease_until_ms = NULL
                     WHERE id = $1 AND claimed_by = $2",
                    &[&id, &node, &count(attempts), &count(throttles), &due_at_ms],
                )
                .map_err(failed("reschedule an async event"))?;
            Ok(())
        })
    }

    fn remove(&self, id: &str) -> Result<(), QueueError> {
        let id = id.to_owned();
        self.shared.run(move |client, _, _| {
            client
                .execute("DELETE FROM async_events WHERE id = $1", &[&id])
                .map_err(failed("remove an async event"))?;
            Ok(())
        })
    }

    fn remove_stack(&self, stack: &str) -> Result<usize, QueueError> {
        let stack = stack.to_owned();
        self.shared.run(move |client, _, _| {
            let removed = client
                .execute("DELETE FROM async_events WHERE stack = $1", &[&stack])
                .map_err(failed("remove a stack's async events"))?;
            Ok(usize::try_from(removed).unwrap_or(usize::MAX))
        })
    }

    fn len(&self) -> Result<usize, QueueError> {
        self.shared.run(|client, _, _| {
            let row = client
                .query_one("SELECT COUNT(*) FROM async_events", &[])
                .map_err(failed("count async events"))?;
            Ok(usize::try_from(row.get::<_, i64>(0)).unwrap_or_default())
        })
    }

    fn backlog(&self) -> Result<Vec<FunctionBacklog>, QueueError> {
        self.shared.run(|client, _, _| {
            let rows = client
                .query(
                    "SELECT stack, function, COUNT(*), MIN(enqueued_at_ms) FROM async_events
                     GROUP BY stack, function ORDER BY stack COLLATE \"C\", function COLLATE \"C\"",
                    &[],
                )
                .map_err(failed("count async events per function"))?;
            Ok(rows
                .iter()
                .map(|row| FunctionBacklog {
                    stack: row.get(0),
                    function: row.get(1),
                    events: u64::try_from(row.get::<_, i64>(2)).unwrap_or_default(),
                    oldest_enqueued_at_ms: row.get(3),
                })
                .collect())
        })
    }
}
