//! SNS topics ([`TopicBackend`]) in the database every node of a cluster shares: a topic,
//! subscription or message made through one node is every node's, and each delivery is
//! run by one node.
//!
//! - The rows are the SQLite backend's (`sns_topics`, `sns_subscriptions`,
//!   `sns_messages`, `sns_deliveries`, `sns_deduplication`).
//! - A worker claims due deliveries with one `UPDATE … FROM (SELECT … FOR UPDATE SKIP
//!   LOCKED)` that writes its node's id into them, so two nodes never claim one
//!   delivery. A claim whose node is no longer alive (not heard from in
//!   `cluster_nodes` for 10 s: it died, or restarted with a new id) is claimable again,
//!   as SQLite's claims are released when a server reopens its file: at least once.
//! - Of a FIFO message group only a subscription's oldest delivery is claimable; the
//!   `NOT EXISTS` on older deliveries sees rows other nodes hold locked, so a group's
//!   next delivery waits for the one in flight anywhere.
//! - A FIFO topic numbers its messages under its row's lock; a deduplication id is
//!   checked and recorded under a transaction-scoped advisory lock on the topic and id.

use std::collections::BTreeMap;
use std::sync::Arc;

use postgres::Transaction;
use serverful_sns::backend::{
    BackendError, ClaimedDelivery, NewMessage, Published, SubscriptionRecord, TopicBackend,
    TopicRecord, DEDUPLICATION_WINDOW_MS,
};

use crate::pool::{Database, DatabaseError};

const MIGRATIONS: &[&str] = &["
CREATE TABLE IF NOT EXISTS sns_topics (
    name text PRIMARY KEY,
    attributes text NOT NULL,
    tags text NOT NULL,
    sequence bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sns_subscriptions (
    arn text PRIMARY KEY,
    topic text NOT NULL REFERENCES sns_topics(name) ON DELETE CASCADE,
    protocol text NOT NULL,
    endpoint text NOT NULL,
    attributes text NOT NULL,
    pending_token text
);
CREATE INDEX IF NOT EXISTS sns_subscriptions_topic ON sns_subscriptions (topic, arn);
CREATE TABLE IF NOT EXISTS sns_messages (
    id text PRIMARY KEY,
    topic text NOT NULL,
    payload bytea NOT NULL,
    sequence_number text,
    queued_at_ms bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS sns_deliveries (
    id bigserial PRIMARY KEY,
    message_id text NOT NULL REFERENCES sns_messages(id) ON DELETE CASCADE,
    subscription text NOT NULL REFERENCES sns_subscriptions(arn) ON DELETE CASCADE,
    group_id text,
    attempts integer NOT NULL DEFAULT 0,
    due_at_ms bigint NOT NULL,
    claimed_by text
);
CREATE INDEX IF NOT EXISTS sns_deliveries_due ON sns_deliveries (due_at_ms, id);
CREATE INDEX IF NOT EXISTS sns_deliveries_message ON sns_deliveries (message_id);
CREATE INDEX IF NOT EXISTS sns_deliveries_group ON sns_deliveries (subscription, group_id, id);
CREATE TABLE IF NOT EXISTS sns_deduplication (
    topic text NOT NULL,
    deduplication_id text NOT NULL,
    message_id text NOT NULL,
    sequence_number text,
    published_at_ms bigint NOT NULL,
    PRIMARY KEY (topic, deduplication_id)
);
"];

/// How long a node may stay silent before its claims count as abandoned.
const NODE_SILENCE_SECS: i64 = 10;

/// The topics of a cluster, as one node sees them.
#[derive(Debug)]
pub struct PostgresTopics {
    database: Arc<Database>,
    /// This node's id (`cluster_nodes.id`), written into the deliveries it claims.
    node_id: String,
}

struct Failure(BackendError);

impl From<DatabaseError> for Failure {
    fn from(error: DatabaseError) -> Failure {
        Failure(BackendError::Storage {
            action: "reach the database",
            message: error.to_string(),
        })
    }
}

fn failed(action: &'static str) -> impl Fn(postgres::Error) -> Failure {
    move |error| {
        Failure(BackendError::Storage {
            action,
            message: crate::pool::describe(&error),
        })
    }
}

fn to_json(map: &BTreeMap<String, String>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned())
}

fn from_json(text: &str) -> BTreeMap<String, String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn subscription_from_row(row: &postgres::Row) -> SubscriptionRecord {
    SubscriptionRecord {
        arn: row.get(0),
        topic: row.get(1),
        protocol: row.get(2),
        endpoint: row.get(3),
        attributes: from_json(row.get(4)),
        pending_token: row.get(5),
    }
}

impl PostgresTopics {
    /// The topics of node `node_id`; makes the tables if need be. The cluster's tables
    /// (`cluster_nodes`) must exist.
    pub fn new(database: Arc<Database>, node_id: &str) -> Result<PostgresTopics, BackendError> {
        database
            .migrate("sns", MIGRATIONS)
            .map_err(|error| BackendError::Storage {
                action: "create the SNS topics",
                message: error.to_string(),
            })?;
        Ok(PostgresTopics {
            database,
            node_id: node_id.to_owned(),
        })
    }

    fn run<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut postgres::Client) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, BackendError> {
        self.database
            .run(call)
            .map_err(|failure: Failure| failure.0)
    }
}

/// Deletes messages no delivery needs any more.
fn forget_delivered(
    transaction: &mut Transaction<'_>,
    message_id: Option<&str>,
) -> Result<(), Failure> {
    match message_id {
        Some(id) => transaction.execute(
            "DELETE FROM sns_messages WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM sns_deliveries WHERE message_id = $1)",
            &[&id],
        ),
        None => transaction.execute(
            "DELETE FROM sns_messages m WHERE NOT EXISTS (SELECT 1 FROM sns_deliveries d WHERE d.message_id = m.id)",
            &[],
        ),
    }
    .map_err(failed("delete delivered messages"))?;
    Ok(())
}

impl TopicBackend for PostgresTopics {
    fn create_topic(&self, topic: &TopicRecord) -> Result<TopicRecord, BackendError> {
        let topic = topic.clone();
        self.run(move |client| {
            client
                .execute(
                    "INSERT INTO sns_topics (name, attributes, tags) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                    &[&topic.name, &to_json(&topic.attributes), &to_json(&topic.tags)],
                )
                .map_err(failed("create a topic"))?;
            let row = client
                .query_one("SELECT attributes, tags FROM sns_topics WHERE name = $1", &[&topic.name])
                .map_err(failed("read a topic"))?;
            Ok(TopicRecord {
                name: topic.name,
                attributes: from_json(row.get(0)),
                tags: from_json(row.get(1)),
            })
        })
    }

    fn topic(&self, name: &str) -> Result<Option<TopicRecord>, BackendError> {
        let name = name.to_owned();
        self.run(move |client| {
            let row = client
                .query_opt(
                    "SELECT attributes, tags FROM sns_topics WHERE name = $1",
                    &[&name],
                )
                .map_err(failed("read a topic"))?;
            Ok(row.map(|row| TopicRecord {
                name,
                attributes: from_json(row.get(0)),
                tags: from_json(row.get(1)),
            }))
        })
    }

    fn update_topic(&self, topic: &TopicRecord) -> Result<(), BackendError> {
        let topic = topic.clone();
        self.run(move |client| {
            client
                .execute(
                    "UPDATE sns_topics SET attributes = $2, tags = $3 WHERE name = $1",
                    &[
                        &topic.name,
                        &to_json(&topic.attributes),
                        &to_json(&topic.tags),
                    ],
                )
                .map_err(failed("update a topic"))?;
            Ok(())
        })
    }

    fn list_topics(&self, after: Option<&str>, count: usize) -> Result<Vec<String>, BackendError> {
        let after = after.unwrap_or_default().to_owned();
        self.run(move |client| {
            let rows = client
                .query(
                    "SELECT name FROM sns_topics WHERE name > $1 ORDER BY name LIMIT $2",
                    &[&after, &limit(count)],
                )
                .map_err(failed("list topics"))?;
            Ok(rows.into_iter().map(|row| row.get(0)).collect())
        })
    }

    fn delete_topic(&self, name: &str) -> Result<bool, BackendError> {
        let name = name.to_owned();
        self.run(move |client| {
            let action = "delete a topic";
            let mut transaction = client.transaction().map_err(failed(action))?;
            transaction
                .execute(
                    "DELETE FROM sns_deliveries WHERE subscription IN (SELECT arn FROM sns_subscriptions WHERE topic = $1)",
                    &[&name],
                )
                .map_err(failed(action))?;
            transaction
                .execute("DELETE FROM sns_messages WHERE topic = $1", &[&name])
                .map_err(failed(action))?;
            transaction
                .execute("DELETE FROM sns_deduplication WHERE topic = $1", &[&name])
                .map_err(failed(action))?;
            let deleted = transaction
                .execute("DELETE FROM sns_topics WHERE name = $1", &[&name])
                .map_err(failed(action))?;
            transaction.commit().map_err(failed(action))?;
            Ok(deleted > 0)
        })
    }

    fn put_subscription(&self, subscription: &SubscriptionRecord) -> Result<(), BackendError> {
        let subscription = subscription.clone();
        self.run(move |client| {
            client
                .execute(
                    "INSERT INTO sns_subscriptions (arn, topic, protocol, endpoint, attributes, pending_token)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (arn) DO UPDATE SET attributes = EXCLUDED.attributes,
                         pending_token = EXCLUDED.pending_token",
                    &[
                        &subscription.arn,
                        &subscription.topic,
                        &subscription.protocol,
                        &subscription.endpoint,
                        &to_json(&subscription.attributes),
                        &subscription.pending_token,
                    ],
                )
                .map_err(failed("save a subscription"))?;
            Ok(())
        })
    }

    fn subscription(&self, arn: &str) -> Result<Option<SubscriptionRecord>, BackendError> {
        let arn = arn.to_owned();
        self.run(move |client| {
            let row = client
                .query_opt(
                    "SELECT arn, topic, protocol, endpoint, attributes, pending_token FROM sns_subscriptions WHERE arn = $1",
                    &[&arn],
                )
                .map_err(failed("read a subscription"))?;
            Ok(row.as_ref().map(subscription_from_row))
        })
    }

    fn list_subscriptions(
        &self,
        topic: Option<&str>,
        after: Option<&str>,
        count: usize,
    ) -> Result<Vec<SubscriptionRecord>, BackendError> {
        let topic = topic.map(str::to_owned);
        let after = after.unwrap_or_default().to_owned();
        self.run(move |client| {
            let rows = client
                .query(
                    "SELECT arn, topic, protocol, endpoint, attributes, pending_token
                     FROM sns_subscriptions WHERE ($1::text IS NULL OR topic = $1) AND arn > $2
                     ORDER BY arn LIMIT $3",
                    &[&topic, &after, &limit(count)],
                )
                .map_err(failed("list subscriptions"))?;
            Ok(rows.iter().map(subscription_from_row).collect())
        })
    }

    fn delete_subscription(&self, arn: &str) -> Result<bool, BackendError> {
        let arn = arn.to_owned();
        self.run(move |client| {
            let action = "delete a subscription";
            let mut transaction = client.transaction().map_err(failed(action))?;
            transaction
                .execute(
                    "DELETE FROM sns_deliveries WHERE subscription = $1",
                    &[&arn],
                )
                .map_err(failed(action))?;
            let deleted = transaction
                .execute("DELETE FROM sns_subscriptions WHERE arn = $1", &[&arn])
                .map_err(failed(action))?;
            forget_delivered(&mut transaction, None)?;
            transaction.commit().map_err(failed(action))?;
            Ok(deleted > 0)
        })
    }

    fn publish(&self, message: &NewMessage, now_ms: i64) -> Result<Published, BackendError> {
        let message = message.clone();
        self.run(move |client| {
            let action = "publish a message";
            let mut transaction = client.transaction().map_err(failed(action))?;
            if let Some((deduplication_id, _)) = &message.deduplication {
                // Two nodes publishing one deduplication id at once: the second waits,
                // then finds the first's.
                transaction
                    .execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2::text, 0))",
                        &[&message.topic, deduplication_id],
                    )
                    .map_err(failed("lock a deduplication id"))?;
                transaction
                    .execute(
                        "DELETE FROM sns_deduplication WHERE topic = $1 AND published_at_ms < $2",
                        &[&message.topic, &(now_ms - DEDUPLICATION_WINDOW_MS)],
                    )
                    .map_err(failed("forget old deduplication ids"))?;
                let earlier = transaction
                    .query_opt(
                        "SELECT message_id, sequence_number FROM sns_deduplication WHERE topic = $1 AND deduplication_id = $2",
                        &[&message.topic, deduplication_id],
                    )
                    .map_err(failed("look up a deduplication id"))?;
                if let Some(row) = earlier {
                    return Ok(Published::Duplicate {
                        message_id: row.get(0),
                        sequence_number: row.get(1),
                    });
                }
            }
            let sequence_number = if message.sequenced {
                let row = transaction
                    .query_one(
                        "UPDATE sns_topics SET sequence = sequence + 1 WHERE name = $1 RETURNING sequence",
                        &[&message.topic],
                    )
                    .map_err(failed("number a FIFO message"))?;
                let sequence: i64 = row.get(0);
                // SNS's sequence numbers are 20-digit decimal strings that only grow.
                Some(format!("{:020}", 10_000_000_000_000_000i64 + sequence))
            } else {
                None
            };
            if let Some((deduplication_id, published_at_ms)) = &message.deduplication {
                transaction
                    .execute(
                        "INSERT INTO sns_deduplication (topic, deduplication_id, message_id, sequence_number, published_at_ms)
                         VALUES ($1, $2, $3, $4, $5)",
                        &[&message.topic, deduplication_id, &message.id, &sequence_number, published_at_ms],
                    )
                    .map_err(failed("record a deduplication id"))?;
            }
            if !message.deliveries.is_empty() {
                transaction
                    .execute(
                        "INSERT INTO sns_messages (id, topic, payload, sequence_number, queued_at_ms) VALUES ($1, $2, $3, $4, $5)",
                        &[&message.id, &message.topic, &message.payload, &sequence_number, &now_ms],
                    )
                    .map_err(failed("store a message"))?;
                transaction
                    .execute(
                        "INSERT INTO sns_deliveries (message_id, subscription, group_id, due_at_ms)
                         SELECT $1, subscription, $3, $4 FROM unnest($2::text[]) WITH ORDINALITY AS s(subscription, n) ORDER BY n",
                        &[&message.id, &message.deliveries, &message.group, &now_ms],
                    )
                    .map_err(failed("queue deliveries"))?;
            }
            transaction.commit().map_err(failed(action))?;
            Ok(Published::Queued { sequence_number })
        })
    }

    fn claim_due(&self, now_ms: i64, count: usize) -> Result<Vec<ClaimedDelivery>, BackendError> {
        let node_id = self.node_id.clone();
        self.run(move |client| {
            let rows = client
                .query(
                    "UPDATE sns_deliveries d SET claimed_by = $3
                     FROM (
                         SELECT c.id FROM sns_deliveries c
                         WHERE c.due_at_ms <= $1
                           AND (c.claimed_by IS NULL OR NOT EXISTS (
                               SELECT 1 FROM cluster_nodes n
                               WHERE n.id = c.claimed_by AND n.seen_at > now() - make_interval(secs => $4::bigint)))
                           AND (c.group_id IS NULL OR NOT EXISTS (
                               SELECT 1 FROM sns_deliveries e
                               WHERE e.subscription = c.subscription AND e.group_id = c.group_id AND e.id < c.id))
                         ORDER BY c.due_at_ms, c.id LIMIT $2
                         FOR UPDATE SKIP LOCKED
                     ) picked, sns_messages m
                     WHERE d.id = picked.id AND m.id = d.message_id
                     RETURNING d.id, d.message_id, d.subscription, m.payload, m.sequence_number, d.attempts, m.queued_at_ms, d.due_at_ms",
                    &[&now_ms, &limit(count), &node_id, &NODE_SILENCE_SECS],
                )
                .map_err(failed("claim deliveries"))?;
            let mut claimed: Vec<(i64, ClaimedDelivery)> = rows
                .into_iter()
                .map(|row| {
                    let attempts: i32 = row.get(5);
                    (
                        row.get(7),
                        ClaimedDelivery {
                            id: row.get(0),
                            message_id: row.get(1),
                            subscription: row.get(2),
                            payload: row.get(3),
                            sequence_number: row.get(4),
                            attempts: u32::try_from(attempts).unwrap_or(0),
                            queued_at_ms: row.get(6),
                        },
                    )
                })
                .collect();
            claimed.sort_by_key(|(due, delivery)| (*due, delivery.id));
            Ok(claimed.into_iter().map(|(_, delivery)| delivery).collect())
        })
    }

    fn next_due(&self) -> Result<Option<i64>, BackendError> {
        self.run(move |client| {
            let row = client
                .query_one(
                    "SELECT min(due_at_ms) FROM sns_deliveries WHERE claimed_by IS NULL",
                    &[],
                )
                .map_err(failed("find the next delivery"))?;
            Ok(row.get(0))
        })
    }

    fn reschedule(&self, id: i64, attempts: u32, due_at_ms: i64) -> Result<(), BackendError> {
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        self.run(move |client| {
            client
                .execute(
                    "UPDATE sns_deliveries SET claimed_by = NULL, attempts = $2, due_at_ms = $3 WHERE id = $1",
                    &[&id, &attempts, &due_at_ms],
                )
                .map_err(failed("reschedule a delivery"))?;
            Ok(())
        })
    }

    fn finish(&self, id: i64) -> Result<(), BackendError> {
        self.run(move |client| {
            let action = "finish a delivery";
            let mut transaction = client.transaction().map_err(failed(action))?;
            let row = transaction
                .query_opt(
                    "DELETE FROM sns_deliveries WHERE id = $1 RETURNING message_id",
                    &[&id],
                )
                .map_err(failed(action))?;
            if let Some(row) = row {
                let message_id: String = row.get(0);
                forget_delivered(&mut transaction, Some(&message_id))?;
            }
            transaction.commit().map_err(failed(action))?;
            Ok(())
        })
    }

    fn queued(&self) -> Result<usize, BackendError> {
        self.run(move |client| {
            let row = client
                .query_one("SELECT count(*) FROM sns_deliveries", &[])
                .map_err(failed("count deliveries"))?;
            Ok(usize::try_from(row.get::<_, i64>(0)).unwrap_or(0))
        })
    }
}
