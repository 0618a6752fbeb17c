//! Topics in SQLite (`DATA/topics.sqlite`): WAL with `synchronous=FULL`, so a published
//! message is on disk before `Publish` is answered.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension as _};

use crate::backend::{
    BackendError, ClaimedDelivery, NewMessage, Published, SubscriptionRecord, TopicBackend,
    TopicRecord, DEDUPLICATION_WINDOW_MS,
};

/// The schema's version in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;

/// Topics kept in one SQLite file.
#[derive(Debug)]
pub struct SqliteTopics {
    connection: Mutex<Connection>,
}

fn storage(action: &'static str) -> impl FnOnce(rusqlite::Error) -> BackendError {
    move |error| BackendError::Storage {
        action,
        message: error.to_string(),
    }
}

fn to_json(map: &BTreeMap<String, String>) -> String {
    serde_json::to_string(map).expect("a map of strings serializes")
}

fn from_json(text: &str) -> BTreeMap<String, String> {
    serde_json::from_str(text).unwrap_or_default()
}

impl SqliteTopics {
    /// Opens (or creates) the state at `path`. Deliveries claimed by a server that
    /// stopped are due again.
    pub fn open(path: &Path) -> Result<SqliteTopics, BackendError> {
        let connection = Connection::open(path).map_err(storage("open the SNS topics"))?;
        connection
            .execute_batch(
                "PRAGMA journal_mode=WAL;
                 PRAGMA synchronous=FULL;
                 PRAGMA busy_timeout=5000;
                 PRAGMA foreign_keys=ON;",
            )
            .map_err(storage("set up the SNS topics"))?;
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(storage("read the SNS topics' schema version"))?;
        if version == 0 {
            connection
                .execute_batch(&format!(
                    "CREATE TABLE IF NOT EXISTS topics (
                        name TEXT PRIMARY KEY,
                        attributes TEXT NOT NULL,
                        tags TEXT NOT NULL,
                        sequence INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE TABLE IF NOT EXISTS subscriptions (
                        arn TEXT PRIMARY KEY,
                        topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
                        protocol TEXT NOT NULL,
                        endpoint TEXT NOT NULL,
                        attributes TEXT NOT NULL,
                        pending_token TEXT
                    );
                    CREATE INDEX IF NOT EXISTS subscriptions_topic ON subscriptions (topic, arn);
                    CREATE TABLE IF NOT EXISTS messages (
                        id TEXT PRIMARY KEY,
                        topic TEXT NOT NULL,
                        payload BLOB NOT NULL,
                        sequence_number TEXT,
                        queued_at_ms INTEGER NOT NULL
                    );
                    CREATE TABLE IF NOT EXISTS deliveries (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
                        subscription TEXT NOT NULL REFERENCES subscriptions(arn) ON DELETE CASCADE,
                        group_id TEXT,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        due_at_ms INTEGER NOT NULL,
                        claimed INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (claimed, due_at_ms);
                    CREATE INDEX IF NOT EXISTS deliveries_message ON deliveries (message_id);
                    CREATE INDEX IF NOT EXISTS deliveries_group ON deliveries (subscription, group_id, id);
                    CREATE TABLE IF NOT EXISTS deduplication (
                        topic TEXT NOT NULL,
                        deduplication_id TEXT NOT NULL,
                        message_id TEXT NOT NULL,
                        sequence_number TEXT,
                        published_at_ms INTEGER NOT NULL,
                        PRIMARY KEY (topic, deduplication_id)
                    );
                    PRAGMA user_version = {SCHEMA_VERSION};"
                ))
                .map_err(storage("create the SNS topics"))?;
        } else if version != SCHEMA_VERSION {
            return Err(BackendError::Storage {
                action: "open the SNS topics",
                message: format!(
                    "its schema version is {version}, newer than this server's {SCHEMA_VERSION}; run a newer serverful"
                ),
            });
        }
        connection
            .execute("UPDATE deliveries SET claimed = 0 WHERE claimed = 1", [])
            .map_err(storage("release the deliveries claimed before a restart"))?;
        Ok(SqliteTopics {
            connection: Mutex::new(connection),
        })
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll
        // back on drop), so the connection stays usable.
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn subscription_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SubscriptionRecord> {
    Ok(SubscriptionRecord {
        arn: row.get(0)?,
        topic: row.get(1)?,
        protocol: row.get(2)?,
        endpoint: row.get(3)?,
        attributes: from_json(&row.get::<_, String>(4)?),
        pending_token: row.get(5)?,
    })
}

impl TopicBackend for SqliteTopics {
    fn create_topic(&self, topic: &TopicRecord) -> Result<TopicRecord, BackendError> {
        let connection = self.connection();
        connection
            .execute(
                "INSERT OR IGNORE INTO topics (name, attributes, tags) VALUES (?1, ?2, ?3)",
                params![topic.name, to_json(&topic.attributes), to_json(&topic.tags)],
            )
            .map_err(storage("create a topic"))?;
        drop(connection);
        self.topic(&topic.name)?.ok_or(BackendError::Storage {
            action: "create a topic",
            message: "the topic vanished after it was created".to_owned(),
        })
    }

    fn topic(&self, name: &str) -> Result<Option<TopicRecord>, BackendError> {
        self.connection()
            .query_row(
                "SELECT attributes, tags FROM topics WHERE name = ?1",
                [name],
                |row| {
                    Ok(TopicRecord {
                        name: name.to_owned(),
                        attributes: from_json(&row.get::<_, String>(0)?),
                        tags: from_json(&row.get::<_, String>(1)?),
                    })
                },
            )
            .optional()
            .map_err(storage("read a topic"))
    }

    fn update_topic(&self, topic: &TopicRecord) -> Result<(), BackendError> {
        self.connection()
            .execute(
                "UPDATE topics SET attributes = ?2, tags = ?3 WHERE name = ?1",
                params![topic.name, to_json(&topic.attributes), to_json(&topic.tags)],
            )
            .map_err(storage("update a topic"))?;
        Ok(())
    }

    fn list_topics(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, BackendError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached("SELECT name FROM topics WHERE name > ?1 ORDER BY name LIMIT ?2")
            .map_err(storage("list topics"))?;
        let names = statement
            .query_map(params![after.unwrap_or(""), limit as i64], |row| row.get(0))
            .and_then(Iterator::collect)
            .map_err(storage("list topics"))?;
        Ok(names)
    }

    fn delete_topic(&self, name: &str) -> Result<bool, BackendError> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(storage("delete a topic"))?;
        transaction
            .execute(
                "DELETE FROM deliveries WHERE subscription IN (SELECT arn FROM subscriptions WHERE topic = ?1)",
                [name],
            )
            .map_err(storage("delete a topic's deliveries"))?;
        transaction
            .execute("DELETE FROM messages WHERE topic = ?1", [name])
            .map_err(storage("delete a topic's messages"))?;
        transaction
            .execute("DELETE FROM deduplication WHERE topic = ?1", [name])
            .map_err(storage("delete a topic's deduplication ids"))?;
        let deleted = transaction
            .execute("DELETE FROM topics WHERE name = ?1", [name])
            .map_err(storage("delete a topic"))?;
        transaction.commit().map_err(storage("delete a topic"))?;
        Ok(deleted > 0)
    }

    fn put_subscription(&self, subscription: &SubscriptionRecord) -> Result<(), BackendError> {
        self.connection()
            .execute(
                "INSERT INTO subscriptions (arn, topic, protocol, endpoint, attributes, pending_token)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (arn) DO UPDATE SET attributes = excluded.attributes,
                     pending_token = excluded.pending_token",
                params![
                    subscription.arn,
                    subscription.topic,
                    subscription.protocol,
                    subscription.endpoint,
                    to_json(&subscription.attributes),
                    subscription.pending_token,
                ],
            )
            .map_err(storage("save a subscription"))?;
        Ok(())
    }

    fn subscription(&self, arn: &str) -> Result<Option<SubscriptionRecord>, BackendError> {
        self.connection()
            .query_row(
                "SELECT arn, topic, protocol, endpoint, attributes, pending_token
                 FROM subscriptions WHERE arn = ?1",
                [arn],
                subscription_from_row,
            )
            .optional()
            .map_err(storage("read a subscription"))
    }

    fn list_subscriptions(
        &self,
        topic: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SubscriptionRecord>, BackendError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT arn, topic, protocol, endpoint, attributes, pending_token
                 FROM subscriptions WHERE (?1 IS NULL OR topic = ?1) AND arn > ?2
                 ORDER BY arn LIMIT ?3",
            )
            .map_err(storage("list subscriptions"))?;
        let subscriptions = statement
            .query_map(
                params![topic, after.unwrap_or(""), limit as i64],
                subscription_from_row,
            )
            .and_then(Iterator::collect)
            .map_err(storage("list subscriptions"))?;
        Ok(subscriptions)
    }

    fn delete_subscription(&self, arn: &str) -> Result<bool, BackendError> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(storage("delete a subscription"))?;
        transaction
            .execute("DELETE FROM deliveries WHERE subscription = ?1", [arn])
            .map_err(storage("delete a subscription's deliveries"))?;
        let deleted = transaction
            .execute("DELETE FROM subscriptions WHERE arn = ?1", [arn])
            .map_err(storage("delete a subscription"))?;
        transaction
            .execute(
                "DELETE FROM messages WHERE NOT EXISTS (SELECT 1 FROM deliveries WHERE message_id = messages.id)",
                [],
            )
            .map_err(storage("delete delivered messages"))?;
        transaction
            .commit()
            .map_err(storage("delete a subscription"))?;
        Ok(deleted > 0)
    }

    fn publish(&self, message: &NewMessage, now_ms: i64) -> Result<Published, BackendError> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(storage("publish a message"))?;
        if let Some((deduplication_id, _)) = &message.deduplication {
            transaction
                .execute(
                    "DELETE FROM deduplication WHERE topic = ?1 AND published_at_ms < ?2",
                    params![message.topic, now_ms - DEDUPLICATION_WINDOW_MS],
                )
                .map_err(storage("forget old deduplication ids"))?;
            let earlier: Option<(String, Option<String>)> = transaction
                .query_row(
                    "SELECT message_id, sequence_number FROM deduplication
                     WHERE topic = ?1 AND deduplication_id = ?2",
                    params![message.topic, deduplication_id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(storage("look up a deduplication id"))?;
            if let Some((message_id, sequence_number)) = earlier {
                return Ok(Published::Duplicate {
                    message_id,
                    sequence_number,
                });
            }
        }
        let sequence_number = if message.sequenced {
            let sequence: i64 = transaction
                .query_row(
                    "UPDATE topics SET sequence = sequence + 1 WHERE name = ?1 RETURNING sequence",
                    [&message.topic],
                    |row| row.get(0),
                )
                .map_err(storage("number a FIFO message"))?;
            // SNS's sequence numbers are 20-digit decimal strings that only grow.
            Some(format!("{:020}", 10_000_000_000_000_000i64 + sequence))
        } else {
            None
        };
        if let Some((deduplication_id, published_at_ms)) = &message.deduplication {
            transaction
                .execute(
                    "INSERT INTO deduplication (topic, deduplication_id, message_id, sequence_number, published_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![message.topic, deduplication_id, message.id, sequence_number, published_at_ms],
                )
                .map_err(storage("record a deduplication id"))?;
        }
        if !message.deliveries.is_empty() {
            transaction
                .execute(
                    "INSERT INTO messages (id, topic, payload, sequence_number, queued_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        message.id,
                        message.topic,
                        message.payload,
                        sequence_number,
                        now_ms
                    ],
                )
                .map_err(storage("store a message"))?;
            let mut insert = transaction
                .prepare_cached(
                    "INSERT INTO deliveries (message_id, subscription, group_id, due_at_ms)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(storage("queue deliveries"))?;
            for subscription in &message.deliveries {
                insert
                    .execute(params![message.id, subscription, message.group, now_ms])
                    .map_err(storage("queue a delivery"))?;
            }
        }
        transaction.commit().map_err(storage("publish a message"))?;
        Ok(Published::Queued { sequence_number })
    }

    fn claim_due(&self, now_ms: i64, limit: usize) -> Result<Vec<ClaimedDelivery>, BackendError> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(storage("claim deliveries"))?;
        let claimed: Vec<ClaimedDelivery> = {
            let mut statement = transaction
                .prepare_cached(
                    "SELECT d.id, d.message_id, d.subscription, m.payload, m.sequence_number,
                            d.attempts, m.queued_at_ms
                     FROM deliveries d JOIN messages m ON m.id = d.message_id
                     WHERE d.claimed = 0 AND d.due_at_ms <= ?1
                       AND (d.group_id IS NULL OR NOT EXISTS (
                           SELECT 1 FROM deliveries e
                           WHERE e.subscription = d.subscription AND e.group_id = d.group_id
                             AND e.id < d.id))
                     ORDER BY d.due_at_ms, d.id LIMIT ?2",
                )
                .map_err(storage("claim deliveries"))?;
            statement
                .query_map(params![now_ms, limit as i64], |row| {
                    Ok(ClaimedDelivery {
                        id: row.get(0)?,
                        message_id: row.get(1)?,
                        subscription: row.get(2)?,
                        payload: row.get(3)?,
                        sequence_number: row.get(4)?,
                        attempts: row.get(5)?,
                        queued_at_ms: row.get(6)?,
                    })
                })
                .and_then(Iterator::collect)
                .map_err(storage("claim deliveries"))?
        };
        {
            let mut mark = transaction
                .prepare_cached("UPDATE deliveries SET claimed = 1 WHERE id = ?1")
                .map_err(storage("claim deliveries"))?;
            for delivery in &claimed {
                mark.execute([delivery.id])
                    .map_err(storage("claim a delivery"))?;
            }
        }
        transaction.commit().map_err(storage("claim deliveries"))?;
        Ok(claimed)
    }

    fn next_due(&self) -> Result<Option<i64>, BackendError> {
        self.connection()
            .query_row(
                "SELECT MIN(due_at_ms) FROM deliveries WHERE claimed = 0",
                [],
                |row| row.get(0),
            )
            .map_err(storage("find the next delivery"))
    }

    fn reschedule(&self, id: i64, attempts: u32, due_at_ms: i64) -> Result<(), BackendError> {
        self.connection()
            .execute(
                "UPDATE deliveries SET claimed = 0, attempts = ?2, due_at_ms = ?3 WHERE id = ?1",
                params![id, attempts, due_at_ms],
            )
            .map_err(storage("reschedule a delivery"))?;
        Ok(())
    }

    fn finish(&self, id: i64) -> Result<(), BackendError> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(storage("finish a delivery"))?;
        let message_id: Option<String> = transaction
            .query_row(
                "DELETE FROM deliveries WHERE id = ?1 RETURNING message_id",
                [id],
                |row| row.get(0),
            )
            .optional()
            .map_err(storage("finish a delivery"))?;
        if let Some(message_id) = message_id {
            transaction
                .execute(
                    "DELETE FROM messages WHERE id = ?1
                     AND NOT EXISTS (SELECT 1 FROM deliveries WHERE message_id = ?1)",
                    [message_id],
                )
                .map_err(storage("delete a delivered message"))?;
        }
        transaction.commit().map_err(storage("finish a delivery"))?;
        Ok(())
    }

    fn queued(&self) -> Result<usize, BackendError> {
        self.connection()
            .query_row("SELECT COUNT(*) FROM deliveries", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|count| count as usize)
            .map_err(storage("count deliveries"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str) -> TopicRecord {
        TopicRecord {
            name: name.to_owned(),
            attributes: BTreeMap::new(),
            tags: BTreeMap::new(),
        }
    }

    fn subscription(topic: &str, arn: &str) -> SubscriptionRecord {
        SubscriptionRecord {
            arn: arn.to_owned(),
            topic: topic.to_owned(),
            protocol: "sqs".to_owned(),
            endpoint: "arn:aws:sqs:us-east-1:123456789012:q".to_owned(),
            attributes: BTreeMap::new(),
            pending_token: None,
        }
    }

    fn message(id: &str, group: Option<&str>, dedup: Option<&str>) -> NewMessage {
        NewMessage {
            id: id.to_owned(),
            topic: "t.fifo".to_owned(),
            payload: id.as_bytes().to_vec(),
            deliveries: vec!["s1".to_owned()],
            group: group.map(str::to_owned),
            deduplication: dedup.map(|dedup| (dedup.to_owned(), 1000)),
            sequenced: true,
        }
    }

    #[test]
    fn fifo_groups_deliver_in_order_and_duplicates_are_dropped() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("topics.sqlite");
        let backend = SqliteTopics::open(&path).expect("open");
        backend.create_topic(&topic("t.fifo")).expect("topic");
        backend
            .put_subscription(&subscription("t.fifo", "s1"))
            .expect("subscription");
        let first = backend
            .publish(&message("m1", Some("g"), Some("d1")), 1000)
            .expect("publish");
        let Published::Queued {
            sequence_number: Some(first_number),
        } = first
        else {
            panic!("first publish queued with a number, got {first:?}");
        };
        backend
            .publish(&message("m2", Some("g"), Some("d2")), 1000)
            .expect("publish");
        backend
            .publish(&message("m3", Some("h"), Some("d3")), 1000)
            .expect("publish");
        let duplicate = backend
            .publish(&message("m4", Some("g"), Some("d1")), 1000)
            .expect("publish");
        assert_eq!(
            duplicate,
            Published::Duplicate {
                message_id: "m1".to_owned(),
                sequence_number: Some(first_number)
            }
        );
        let claimed = backend.claim_due(2000, 10).expect("claim");
        let ids: Vec<&str> = claimed.iter().map(|d| d.message_id.as_str()).collect();
        assert_eq!(ids, ["m1", "m3"], "one per group, oldest first");
        assert!(backend.claim_due(2000, 10).expect("claim").is_empty());
        backend.finish(claimed[0].id).expect("finish");
        let next = backend.claim_due(2000, 10).expect("claim");
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].message_id, "m2");
        drop(backend);
        // A restart releases claims: m2 and m3 are due again.
        let reopened = SqliteTopics::open(&path).expect("reopen");
        assert_eq!(reopened.claim_due(2000, 10).expect("claim").len(), 2);
        assert!(reopened.delete_topic("t.fifo").expect("delete"));
        assert_eq!(reopened.queued().expect("count"), 0);
    }
}
