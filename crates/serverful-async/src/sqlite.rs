//! The queue in SQLite (`DATA/async.sqlite`): one row per event, WAL with
//! `synchronous=FULL`, so an event is on disk before the caller is answered 202.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use crate::backend::{FunctionBacklog, NewEvent, QueueBackend, QueueError, QueuedEvent};

/// The schema's version in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;

/// A queue kept in one SQLite file.
#[derive(Debug)]
pub struct SqliteQueue {
    connection: Mutex<Connection>,
}

fn storage(action: &'static str) -> impl FnOnce(rusqlite::Error) -> QueueError {
    move |error| QueueError::Storage {
        action,
        message: error.to_string(),
    }
}

impl SqliteQueue {
    /// Opens (or creates) the queue at `path`. Events claimed by a server that stopped are
    /// due again: they may have run, but their outcome was never recorded.
    pub fn open(path: &Path) -> Result<SqliteQueue, QueueError> {
        let connection = Connection::open(path).map_err(storage("open the async event queue"))?;
        connection
            .execute_batch(
                "PRAGMA journal_mode=WAL;
                 PRAGMA synchronous=FULL;
                 PRAGMA busy_timeout=5000;",
            )
            .map_err(storage("set up the async event queue"))?;
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(storage("read the async event queue's schema version"))?;
        if version == 0 {
            connection
                .execute_batch(&format!(
                    "CREATE TABLE IF NOT EXISTS events (
                        id TEXT PRIMARY KEY,
                        stack TEXT NOT NULL,
                        function TEXT NOT NULL,
                        qualifier TEXT,
                        payload BLOB NOT NULL,
                        enqueued_at_ms INTEGER NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        throttles INTEGER NOT NULL DEFAULT 0,
                        due_at_ms INTEGER NOT NULL,
                        claimed INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX IF NOT EXISTS events_due ON events (claimed, due_at_ms);
                    CREATE INDEX IF NOT EXISTS events_stack ON events (stack);
                    PRAGMA user_version = {SCHEMA_VERSION};"
                ))
                .map_err(storage("create the async event queue"))?;
        } else if version != SCHEMA_VERSION {
            return Err(QueueError::Storage {
                action: "open the async event queue",
                message: format!(
                    "its schema version is {version}, newer than this server's {SCHEMA_VERSION}; run a newer serverful"
                ),
            });
        }
        connection
            .execute("UPDATE events SET claimed = 0 WHERE claimed = 1", [])
            .map_err(storage("release the events claimed before a restart"))?;
        Ok(SqliteQueue {
            connection: Mutex::new(connection),
        })
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl QueueBackend for SqliteQueue {
    fn enqueue(&self, event: &NewEvent) -> Result<(), QueueError> {
        self.connection()
            .execute(
                "INSERT INTO events (id, stack, function, qualifier, payload, enqueued_at_ms, due_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![
                    event.id,
                    event.stack,
                    event.function,
                    event.qualifier,
                    event.payload,
                    event.enqueued_at_ms
                ],
            )
            .map_err(storage("queue an async event"))?;
        Ok(())
    }

    fn claim_due(&self, now_ms: i64, limit: usize) -> Result<Vec<QueuedEvent>, QueueError> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(storage("claim due async events"))?;
        let events = {
            let mut statement = transaction
                .prepare_cached(
                    "SELECT id, stack, function, qualifier, payload, enqueued_at_ms, attempts,
                            throttles, due_at_ms
                     FROM events WHERE claimed = 0 AND due_at_ms <= ?1
                     ORDER BY due_at_ms, enqueued_at_ms LIMIT ?2",
                )
                .map_err(storage("claim due async events"))?;
            let rows = statement
                .query_map(
                    params![now_ms, i64::try_from(limit).unwrap_or(i64::MAX)],
                    |row| {
                        Ok(QueuedEvent {
                            event: NewEvent {
                                id: row.get(0)?,
                                stack: row.get(1)?,
                                function: row.get(2)?,
                                qualifier: row.get(3)?,
                                payload: row.get(4)?,
                                enqueued_at_ms: row.get(5)?,
                            },
                            attempts: row.get(6)?,
                            throttles: row.get(7)?,
                            due_at_ms: row.get(8)?,
                        })
                    },
                )
                .map_err(storage("claim due async events"))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(storage("claim due async events"))?
        };
        for event in &events {
            transaction
                .execute(
                    "UPDATE events SET claimed = 1 WHERE id = ?1",
                    params![event.event.id],
                )
                .map_err(storage("claim due async events"))?;
        }
        transaction
            .commit()
            .map_err(storage("claim due async events"))?;
        Ok(events)
    }

    fn next_due(&self) -> Result<Option<i64>, QueueError> {
        self.connection()
            .query_row(
                "SELECT MIN(due_at_ms) FROM events WHERE claimed = 0",
                [],
                |row| row.get::<_, Option<i64>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(storage("find the next due async event"))
    }

    fn reschedule(
        &self,
        id: &str,
        attempts: u32,
        throttles: u32,
        due_at_ms: i64,
    ) -> Result<(), QueueError> {
        self.connection()
            .execute(
                "UPDATE events SET attempts = ?2, throttles = ?3, due_at_ms = ?4, claimed = 0
                 WHERE id = ?1",
                params![id, attempts, throttles, due_at_ms],
            )
            .map_err(storage("reschedule an async event"))?;
        Ok(())
    }

    fn remove(&self, id: &str) -> Result<(), QueueError> {
        self.connection()
            .execute("DELETE FROM events WHERE id = ?1", params![id])
            .map_err(storage("remove an async event"))?;
        Ok(())
    }

    fn remove_stack(&self, stack: &str) -> Result<usize, QueueError> {
        self.connection()
            .execute("DELETE FROM events WHERE stack = ?1", params![stack])
            .map_err(storage("remove a stack's async events"))
    }

    fn len(&self) -> Result<usize, QueueError> {
        self.connection()
            .query_row("SELECT COUNT(*) FROM events", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|count| usize::try_from(count).unwrap_or_default())
            .map_err(storage("count async events"))
    }

    fn backlog(&self) -> Result<Vec<FunctionBacklog>, QueueError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT stack, function, COUNT(*), MIN(enqueued_at_ms) FROM events
                 GROUP BY stack, function ORDER BY stack, function",
            )
            .map_err(storage("count async events per function"))?;
        let rows = statement
            .query_map([], |row| {
                Ok(FunctionBacklog {
                    stack: row.get(0)?,
                    function: row.get(1)?,
                    events: u64::try_from(row.get::<_, i64>(2)?).unwrap_or_default(),
                    oldest_enqueued_at_ms: row.get(3)?,
                })
            })
            .map_err(storage("count async events per function"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(storage("count async events per function"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, at: i64) -> NewEvent {
        NewEvent {
            id: id.to_owned(),
            stack: "app".to_owned(),
            function: "Worker".to_owned(),
            qualifier: None,
            payload: br#"{"n":1}"#.to_vec(),
            enqueued_at_ms: at,
        }
    }

    fn ids(events: &[QueuedEvent]) -> Vec<&str> {
        events
            .iter()
            .map(|queued| queued.event.id.as_str())
            .collect()
    }

    #[test]
    fn events_are_claimed_when_due_in_order_and_once() {
        let folder = tempfile::tempdir().expect("temp dir");
        let queue = SqliteQueue::open(&folder.path().join("async.sqlite")).expect("open");
        queue.enqueue(&event("b", 20)).expect("enqueue");
        queue.enqueue(&event("a", 10)).expect("enqueue");
        queue.enqueue(&event("c", 30)).expect("enqueue");
        assert_eq!(queue.next_due().expect("next"), Some(10));
        assert!(queue.claim_due(5, 10).expect("claim").is_empty());
        let claimed = queue.claim_due(25, 10).expect("claim");
        assert_eq!(ids(&claimed), ["a", "b"]);
        assert_eq!(claimed[0].event, event("a", 10));
        // Claimed events are not handed out twice.
        assert_eq!(ids(&queue.claim_due(100, 10).expect("claim")), ["c"]);
        assert_eq!(queue.next_due().expect("next"), None);

        queue.reschedule("a", 1, 0, 50).expect("reschedule");
        queue.remove("b").expect("remove");
        assert_eq!(queue.len().expect("len"), 2);
        let again = queue.claim_due(60, 10).expect("claim");
        assert_eq!(ids(&again), ["a"]);
        assert_eq!((again[0].attempts, again[0].due_at_ms), (1, 50));
    }

    #[test]
    fn the_backlog_counts_each_functions_events_claimed_or_not_with_the_oldest() {
        let folder = tempfile::tempdir().expect("temp dir");
        let queue = SqliteQueue::open(&folder.path().join("async.sqlite")).expect("open");
        queue.enqueue(&event("a", 30)).expect("enqueue");
        queue.enqueue(&event("b", 10)).expect("enqueue");
        queue
            .enqueue(&NewEvent {
                function: "Other".to_owned(),
                ..event("c", 20)
            })
            .expect("enqueue");
        assert_eq!(queue.claim_due(100, 1).expect("claim").len(), 1);
        let backlog = |stack: &str, function: &str, events, oldest| FunctionBacklog {
            stack: stack.to_owned(),
            function: function.to_owned(),
            events,
            oldest_enqueued_at_ms: oldest,
        };
        assert_eq!(
            queue.backlog().expect("backlog"),
            [
                backlog("app", "Other", 1, 20),
                backlog("app", "Worker", 2, 10)
            ]
        );
        queue.remove("b").expect("remove");
        queue.remove("c").expect("remove");
        assert_eq!(
            queue.backlog().expect("backlog"),
            [backlog("app", "Worker", 1, 30)]
        );
    }

    #[test]
    fn a_reopened_queue_hands_out_what_was_claimed_and_keeps_everything() {
        let folder = tempfile::tempdir().expect("temp dir");
        let path = folder.path().join("async.sqlite");
        {
            let queue = SqliteQueue::open(&path).expect("open");
            for id_idx in 0..5 {
                queue
                    .enqueue(&event(&format!("e{id_idx}"), id_idx))
                    .expect("enqueue");
            }
            assert_eq!(queue.claim_due(100, 2).expect("claim").len(), 2);
            // Dropped without releasing its claims, as a killed server would.
        }
        let queue = SqliteQueue::open(&path).expect("reopen");
        assert_eq!(
            ids(&queue.claim_due(100, 10).expect("claim")),
            ["e0", "e1", "e2", "e3", "e4"]
        );
    }

    #[test]
    fn deleting_a_stack_removes_only_its_events() {
        let folder = tempfile::tempdir().expect("temp dir");
        let queue = SqliteQueue::open(&folder.path().join("async.sqlite")).expect("open");
        queue.enqueue(&event("a", 1)).expect("enqueue");
        let mut other = event("b", 2);
        other.stack = "other".to_owned();
        queue.enqueue(&other).expect("enqueue");
        assert_eq!(queue.remove_stack("app").expect("remove"), 1);
        assert_eq!(ids(&queue.claim_due(10, 10).expect("claim")), ["b"]);
    }
}
