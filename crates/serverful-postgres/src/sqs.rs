//! SQS's queues in PostgreSQL (cluster mode): queues, messages, deduplication ids and
//! message move tasks in the database every node shares, with the same semantics as the
//! SQLite backend (`serverful_sqs::SqliteQueues`, the reference).
//!
//! How several nodes stay correct at once:
//! - Every call is one transaction (retried on a deadlock or serialization failure), so
//!   a send, a receive with its redrive, or a batch of deletes is all or nothing. The hot
//!   paths of standard queues are one statement each, committing on its own: a send
//!   batch (`INSERT … SELECT FROM UNNEST`), a receive without a redrive policy
//!   (`WITH picked AS (… FOR UPDATE SKIP LOCKED) UPDATE … RETURNING`), and a delete batch
//!   (`DELETE … USING UNNEST`, the handles it did not delete then examined one by one).
//! - Statements go out with their parameters' types (`*_typed`): one round trip each,
//!   where a prepared statement would cost a prepare first.
//! - A standard queue's receive claims its messages with `FOR UPDATE SKIP LOCKED`:
//!   receivers on any node take different messages, and a message claimed is invisible
//!   (its `available_at_ms` is in the future) to every later receive until its
//!   visibility timeout passes.
//! - A FIFO queue's receives are serialized per queue by a row lock on the queue's
//!   record (`FOR NO KEY UPDATE`, which sends' foreign-key checks do not wait for), so
//!   that "no message behind an in-flight message of its group" holds across nodes.
//!   FIFO sends hold a transaction-scoped advisory lock per message group, so that
//!   sequence numbers (taken from a sequence) are in commit order within a group.
//! - A FIFO deduplication id is claimed by an `INSERT … ON CONFLICT` on its row, which
//!   waits for a concurrent send of the same id and then sees it.
//! - Messages reference their queue's record (`ON DELETE CASCADE`): a send to a queue
//!   another node deleted fails with `QueueDoesNotExist` instead of leaving orphans.
//! - `sqs_catalog.version` moves with every queue created, changed or deleted, so each
//!   node's engine knows when to reread the queues.
//! - What the engine would otherwise keep per node lives here too: FIFO receive
//!   attempts' answers (`sqs_receive_attempts`, forgotten in the transaction that deletes
//!   a FIFO message or changes its visibility), the last purge of each queue, and which
//!   node runs a message move task (`runner`, `lease_until_ms`).
//!
//! Features beyond plain SQL it relies on: `FOR UPDATE SKIP LOCKED`, `FOR NO KEY UPDATE`,
//! `pg_advisory_xact_lock` with `hashtext`, and `INSERT … ON CONFLICT … WHERE`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::Type;
use postgres::{Client, Row, Transaction};
use serverful_sqs::stored::{
    attributes_from_json, attributes_to_json, map_from_json, map_to_json, new_token,
    sequence_number,
};
use serverful_sqs::{
    Claim, Claimed, Counts, Deduplication, MoveTask, PeekedMessage, QueueBackend, QueueRecord,
    Receipt, ReceiptOutcome, Sent, SqsError, StoredMessage, MOVE_TASKS_KEPT,
};

use crate::pool::{Database, DatabaseError};

/// The queues' schema, one step per version (see [`Database::migrate`]).
const MIGRATIONS: &[&str] = &["
CREATE TABLE sqs_queues (
    name text PRIMARY KEY,
    attributes text NOT NULL,
    tags text NOT NULL,
    created_at_ms bigint NOT NULL,
    modified_at_ms bigint NOT NULL,
    last_purge_ms bigint
);
CREATE TABLE sqs_catalog (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version bigint NOT NULL
);
INSERT INTO sqs_catalog (version) VALUES (1);
CREATE TABLE sqs_messages (
    seq bigserial PRIMARY KEY,
    queue text NOT NULL REFERENCES sqs_queues (name) ON DELETE CASCADE,
    message_id text NOT NULL UNIQUE,
    body text NOT NULL,
    attributes text,
    system_attributes text,
    sent_at_ms bigint NOT NULL,
    available_at_ms bigint NOT NULL,
    receive_count integer NOT NULL DEFAULT 0,
    first_received_at_ms bigint,
    receipt_token text,
    group_id text,
    dedup_id text,
    sender_id text NOT NULL,
    dead_letter_source text
);
CREATE INDEX sqs_messages_available ON sqs_messages (queue, available_at_ms, seq);
CREATE INDEX sqs_messages_group ON sqs_messages (queue, group_id, seq)
    WHERE group_id IS NOT NULL;
-- The retention sweep, which every node may run once a second per queue.
CREATE INDEX sqs_messages_sent ON sqs_messages (queue, sent_at_ms);
CREATE TABLE sqs_deduplication (
    queue text NOT NULL REFERENCES sqs_queues (name) ON DELETE CASCADE,
    scope text NOT NULL,
    dedup_id text NOT NULL,
    message_id text NOT NULL,
    sequence_number text,
    until_ms bigint NOT NULL,
    PRIMARY KEY (queue, scope, dedup_id)
);
CREATE TABLE sqs_receive_attempts (
    queue text NOT NULL REFERENCES sqs_queues (name) ON DELETE CASCADE,
    attempt_id text NOT NULL,
    until_ms bigint NOT NULL,
    answer text NOT NULL,
    PRIMARY KEY (queue, attempt_id)
);
CREATE TABLE sqs_move_tasks (
    position bigserial,
    handle text PRIMARY KEY,
    source_arn text NOT NULL,
    destination_arn text,
    max_per_second integer,
    status text NOT NULL,
    moved bigint NOT NULL,
    to_move bigint NOT NULL,
    failure_reason text,
    started_at_ms bigint NOT NULL,
    runner text,
    lease_until_ms bigint
);
"];

/// The columns of a message, in the order [`message_from_row`] reads them.
const MESSAGE_COLUMNS: &str = "seq, message_id, body, attributes, system_attributes, sent_at_ms,
    available_at_ms, receive_count, first_received_at_ms, receipt_token, group_id, dedup_id,
    sender_id, dead_letter_source";

/// How often a transaction that met a deadlock or serialization failure is tried again.
const RETRIES: u32 = 5;

/// The queues in a PostgreSQL database.
pub struct PostgresQueues {
    database: Arc<Database>,
}

impl std::fmt::Debug for PostgresQueues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresQueues")
            .field("database", &self.database)
            .finish()
    }
}

/// A call's failure: the database's error (which may be worth retrying) or SQS's.
#[derive(Debug)]
enum Failure {
    Database(postgres::Error),
    Sqs(SqsError),
}

impl From<postgres::Error> for Failure {
    fn from(error: postgres::Error) -> Failure {
        Failure::Database(error)
    }
}

impl From<SqsError> for Failure {
    fn from(error: SqsError) -> Failure {
        Failure::Sqs(error)
    }
}

impl Failure {
    fn into_sqs(self, action: &'static str) -> SqsError {
        match self {
            Failure::Sqs(error) => error,
            // A message or deduplication id whose queue another node deleted.
            Failure::Database(error) if error.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
                SqsError::QueueDoesNotExist
            }
            Failure::Database(error) => SqsError::Storage {
                action,
                message: match error.as_db_error() {
                    Some(db) => db.message().to_owned(),
                    None => error.to_string(),
                },
            },
        }
    }

    fn retryable(&self) -> bool {
        matches!(self, Failure::Database(error)
            if matches!(error.code(), Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::T_R_SERIALIZATION_FAILURE))
    }
}

/// The pool's errors as SQS's (the pool's `run` needs a type of this crate).
#[derive(Debug)]
struct PoolFailure(SqsError);

impl From<DatabaseError> for PoolFailure {
    fn from(error: DatabaseError) -> PoolFailure {
        PoolFailure(SqsError::Storage {
            action: "reach the queues' database",
            message: error.to_string(),
        })
    }
}

/// Runs `work` in a transaction on `client`, again (from the start) when PostgreSQL
/// ended it for a deadlock or a serialization failure.
fn transact<T>(
    client: &mut Client,
    action: &'static str,
    mut work: impl FnMut(&mut Transaction<'_>) -> Result<T, Failure>,
) -> Result<T, SqsError> {
    retrying(action, || {
        let mut transaction = client.transaction()?;
        let value = work(&mut transaction)?;
        transaction.commit()?;
        Ok(value)
    })
}

/// Runs `call` (a transaction, or a statement that commits on its own), again when
/// PostgreSQL ended it for a deadlock or a serialization failure.
fn retrying<T>(
    action: &'static str,
    mut call: impl FnMut() -> Result<T, Failure>,
) -> Result<T, SqsError> {
    let mut attempt = 0;
    loop {
        match call() {
            Ok(value) => return Ok(value),
            Err(failure) if failure.retryable() && attempt < RETRIES => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(u64::from(attempt) * 5));
            }
            Err(failure) => return Err(failure.into_sqs(action)),
        }
    }
}

fn message_from_row(row: &Row) -> (i64, StoredMessage) {
    let seq: i64 = row.get(0);
    let group_id: Option<String> = row.get(10);
    let receive_count: i32 = row.get(7);
    (
        seq,
        StoredMessage {
            message_id: row.get(1),
            body: row.get(2),
            attributes: attributes_from_json(row.get(3)),
            system_attributes: attributes_from_json(row.get(4)),
            sent_at_ms: row.get(5),
            available_at_ms: row.get(6),
            receive_count: u32::try_from(receive_count).unwrap_or(0),
            first_received_at_ms: row.get(8),
            receipt_token: row.get(9),
            sequence_number: group_id.as_ref().map(|_| sequence_number(seq)),
            group_id,
            deduplication_id: row.get(11),
            sender_id: row.get(12),
            dead_letter_source_arn: row.get(13),
        },
    )
}

fn record_from_row(row: &Row) -> QueueRecord {
    QueueRecord {
        name: row.get(0),
        attributes: map_from_json(row.get(1)),
        tags: map_from_json(row.get(2)),
        created_at_ms: row.get(3),
        modified_at_ms: row.get(4),
    }
}

/// A count or limit as PostgreSQL's `bigint`.
fn big(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A count PostgreSQL answered, as the trait's.
fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl PostgresQueues {
    /// The queues on `database`, whose schema it creates or upgrades.
    pub fn new(database: Arc<Database>) -> Result<PostgresQueues, SqsError> {
        database
            .migrate("sqs", MIGRATIONS)
            .map_err(|error| PoolFailure::from(error).0)?;
        Ok(PostgresQueues { database })
    }

    /// Connects to `url` with `connections` connections (tests and tools; the server
    /// shares one [`Database`] among its backends).
    pub fn open(url: &str, connections: u32) -> Result<PostgresQueues, SqsError> {
        let database =
            Database::open(url, connections).map_err(|error| PoolFailure::from(error).0)?;
        PostgresQueues::new(Arc::new(database))
    }

    /// Runs `call` on a data connection and waits for its answer.
    fn run<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut Client) -> Result<T, SqsError> + Send + 'static,
    ) -> Result<T, SqsError> {
        self.database
            .run(move |client| call(client).map_err(PoolFailure))
            .map_err(|failure: PoolFailure| failure.0)
    }

    /// [`PostgresQueues::run`] for async callers: the future ends with the answer, and
    /// no thread of theirs waits for it.
    fn run_async<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut Client) -> Result<T, SqsError> + Send + 'static,
    ) -> Pin<Box<dyn Future<Output = Result<T, SqsError>> + Send + 'static>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let spawned = self.database.spawn(move |client| {
            let _ = reply.send(call(client));
        });
        Box::pin(async move {
            spawned.map_err(|error| PoolFailure::from(error).0)?;
            answer
                .await
                .map_err(|_| PoolFailure::from(DatabaseError::Closed).0)?
        })
    }
}

/// The calls, each one transaction on one connection.
mod calls {
    use super::*;

    pub(super) fn queues(client: &mut Client) -> Result<Vec<QueueRecord>, SqsError> {
        let rows = client
            .query_typed(
                "SELECT name, attributes, tags, created_at_ms, modified_at_ms FROM sqs_queues",
                &[],
            )
            .map_err(|error| Failure::from(error).into_sqs("list the queues"))?;
        Ok(rows.iter().map(record_from_row).collect())
    }

    pub(super) fn queue(client: &mut Client, name: &str) -> Result<Option<QueueRecord>, SqsError> {
        let row = client
            .query_typed_opt(
                "SELECT name, attributes, tags, created_at_ms, modified_at_ms FROM sqs_queues
                 WHERE name = $1",
                &[(&name, Type::TEXT)],
            )
            .map_err(|error| Failure::from(error).into_sqs("read a queue"))?;
        Ok(row.as_ref().map(record_from_row))
    }

    pub(super) fn catalog_version(client: &mut Client) -> Result<u64, SqsError> {
        let row = client
            .query_typed_one("SELECT version FROM sqs_catalog", &[])
            .map_err(|error| Failure::from(error).into_sqs("read the queues' version"))?;
        Ok(count(row.get(0)))
    }

    pub(super) fn put_queue(client: &mut Client, queue: &QueueRecord) -> Result<(), SqsError> {
        let (attributes, tags) = (map_to_json(&queue.attributes), map_to_json(&queue.tags));
        transact(client, "store a queue", |transaction| {
            transaction.execute_typed(
                "INSERT INTO sqs_queues (name, attributes, tags, created_at_ms, modified_at_ms)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (name) DO UPDATE SET attributes = EXCLUDED.attributes,
                    tags = EXCLUDED.tags, created_at_ms = EXCLUDED.created_at_ms,
                    modified_at_ms = EXCLUDED.modified_at_ms",
                &[
                    (&queue.name, Type::TEXT),
                    (&attributes, Type::TEXT),
                    (&tags, Type::TEXT),
                    (&queue.created_at_ms, Type::INT8),
                    (&queue.modified_at_ms, Type::INT8),
                ],
            )?;
            transaction.execute_typed("UPDATE sqs_catalog SET version = version + 1", &[])?;
            Ok(())
        })
    }

    pub(super) fn insert_queue(
        client: &mut Client,
        queue: &QueueRecord,
    ) -> Result<Option<QueueRecord>, SqsError> {
        let (attributes, tags) = (map_to_json(&queue.attributes), map_to_json(&queue.tags));
        transact(client, "store a queue", |transaction| {
            let inserted = transaction.execute_typed(
                "INSERT INTO sqs_queues (name, attributes, tags, created_at_ms, modified_at_ms)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (name) DO NOTHING",
                &[
                    (&queue.name, Type::TEXT),
                    (&attributes, Type::TEXT),
                    (&tags, Type::TEXT),
                    (&queue.created_at_ms, Type::INT8),
                    (&queue.modified_at_ms, Type::INT8),
                ],
            )?;
            if inserted == 0 {
                // A concurrent insert of the same name was waited for: it is there now.
                let existing = transaction.query_typed_one(
                    "SELECT name, attributes, tags, created_at_ms, modified_at_ms FROM sqs_queues
                     WHERE name = $1",
                    &[(&queue.name, Type::TEXT)],
                )?;
                return Ok(Some(record_from_row(&existing)));
            }
            transaction.execute_typed("UPDATE sqs_catalog SET version = version + 1", &[])?;
            Ok(None)
        })
    }

    pub(super) fn delete_queue(client: &mut Client, name: &str) -> Result<(), SqsError> {
        transact(client, "delete a queue", |transaction| {
            // Its messages and deduplication ids go with it (ON DELETE CASCADE).
            transaction.execute_typed(
                "DELETE FROM sqs_queues WHERE name = $1",
                &[(&name, Type::TEXT)],
            )?;
            transaction.execute_typed("UPDATE sqs_catalog SET version = version + 1", &[])?;
            Ok(())
        })
    }

    pub(super) fn send(
        client: &mut Client,
        queue: &str,
        messages: &[(StoredMessage, Option<Deduplication>)],
    ) -> Result<Vec<Sent>, SqsError> {
        if messages
            .iter()
            .all(|(message, deduplication)| message.group_id.is_none() && deduplication.is_none())
        {
            return send_standard(client, queue, messages);
        }
        // Each FIFO group's lock, taken in one order so that batches cannot deadlock.
        let mut groups: Vec<&str> = messages
            .iter()
            .filter_map(|(message, _)| message.group_id.as_deref())
            .collect();
        groups.sort_unstable();
        groups.dedup();
        transact(client, "store a message", |transaction| {
            for group in &groups {
                transaction.execute_typed(
                    "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))",
                    &[(&queue, Type::TEXT), (group, Type::TEXT)],
                )?;
            }
            let mut outcomes = Vec::with_capacity(messages.len());
            for (message, deduplication) in messages {
                let seq: Option<i64> = match message.group_id {
                    Some(_) => Some(
                        transaction
                            .query_typed_one("SELECT nextval('sqs_messages_seq_seq')", &[])?
                            .get(0),
                    ),
                    None => None,
                };
                let sequence = seq.map(sequence_number);
                if let Some(deduplication) = deduplication {
                    // Claims the id unless a live claim holds it (waiting for a
                    // concurrent send of the same id to commit or roll back).
                    let claimed = transaction.query_typed_opt(
                        "INSERT INTO sqs_deduplication
                            (queue, scope, dedup_id, message_id, sequence_number, until_ms)
                         VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (queue, scope, dedup_id) DO UPDATE SET
                            message_id = EXCLUDED.message_id,
                            sequence_number = EXCLUDED.sequence_number,
                            until_ms = EXCLUDED.until_ms
                         WHERE sqs_deduplication.until_ms <= $7
                         RETURNING 1",
                        &[
                            (&queue, Type::TEXT),
                            (&deduplication.scope, Type::TEXT),
                            (&deduplication.id, Type::TEXT),
                            (&message.message_id, Type::TEXT),
                            (&sequence, Type::TEXT),
                            (&deduplication.until_ms, Type::INT8),
                            (&message.sent_at_ms, Type::INT8),
                        ],
                    )?;
                    if claimed.is_none() {
                        let earlier = transaction.query_typed_one(
                            "SELECT message_id, sequence_number FROM sqs_deduplication
                             WHERE queue = $1 AND scope = $2 AND dedup_id = $3",
                            &[
                                (&queue, Type::TEXT),
                                (&deduplication.scope, Type::TEXT),
                                (&deduplication.id, Type::TEXT),
                            ],
                        )?;
                        outcomes.push(Sent {
                            message_id: earlier.get(0),
                            sequence_number: earlier.get(1),
                            duplicate: true,
                        });
                        continue;
                    }
                }
                let attributes = attributes_to_json(&message.attributes);
                let system_attributes = attributes_to_json(&message.system_attributes);
                transaction.execute_typed(
                    "INSERT INTO sqs_messages (seq, queue, message_id, body, attributes,
                        system_attributes, sent_at_ms, available_at_ms, group_id, dedup_id,
                        sender_id, dead_letter_source)
                     VALUES (COALESCE($1, nextval('sqs_messages_seq_seq')), $2, $3, $4, $5,
                        $6, $7, $8, $9, $10, $11, $12)",
                    &[
                        (&seq, Type::INT8),
                        (&queue, Type::TEXT),
                        (&message.message_id, Type::TEXT),
                        (&message.body, Type::TEXT),
                        (&attributes, Type::TEXT),
                        (&system_attributes, Type::TEXT),
                        (&message.sent_at_ms, Type::INT8),
                        (&message.available_at_ms, Type::INT8),
                        (&message.group_id, Type::TEXT),
                        (&message.deduplication_id, Type::TEXT),
                        (&message.sender_id, Type::TEXT),
                        (&message.dead_letter_source_arn, Type::TEXT),
                    ],
                )?;
                outcomes.push(Sent {
                    message_id: message.message_id.clone(),
                    sequence_number: sequence,
                    duplicate: false,
                });
            }
            if messages
                .iter()
                .any(|(_, deduplication)| deduplication.is_some())
            {
                let now = messages
                    .first()
                    .map_or(0, |(message, _)| message.sent_at_ms);
                transaction.execute_typed(
                    "DELETE FROM sqs_deduplication WHERE queue = $1 AND until_ms <= $2",
                    &[(&queue, Type::TEXT), (&now, Type::INT8)],
                )?;
            }
            Ok(outcomes)
        })
    }

    /// A standard queue's send: one statement for the whole batch (no group, no
    /// deduplication id, so nothing to check first), which commits on its own.
    fn send_standard(
        client: &mut Client,
        queue: &str,
        messages: &[(StoredMessage, Option<Deduplication>)],
    ) -> Result<Vec<Sent>, SqsError> {
        let column = |pick: &dyn Fn(&StoredMessage) -> Option<String>| -> Vec<Option<String>> {
            messages.iter().map(|(message, _)| pick(message)).collect()
        };
        let ids = column(&|message| Some(message.message_id.clone()));
        let bodies = column(&|message| Some(message.body.clone()));
        let attributes = column(&|message| attributes_to_json(&message.attributes));
        let system_attributes = column(&|message| attributes_to_json(&message.system_attributes));
        let senders = column(&|message| Some(message.sender_id.clone()));
        let sources = column(&|message| message.dead_letter_source_arn.clone());
        let sent_at: Vec<i64> = messages
            .iter()
            .map(|(message, _)| message.sent_at_ms)
            .collect();
        let available_at: Vec<i64> = messages
            .iter()
            .map(|(message, _)| message.available_at_ms)
            .collect();
        client
            .execute_typed(
                "INSERT INTO sqs_messages (queue, message_id, body, attributes, system_attributes,
                    sent_at_ms, available_at_ms, sender_id, dead_letter_source)
                 SELECT $1, message_id, body, attributes, system_attributes, sent_at_ms,
                    available_at_ms, sender_id, dead_letter_source
                 FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::int8[],
                    $7::int8[], $8::text[], $9::text[]) WITH ORDINALITY
                    AS batch (message_id, body, attributes, system_attributes, sent_at_ms,
                        available_at_ms, sender_id, dead_letter_source, position)
                 ORDER BY position",
                &[
                    (&queue, Type::TEXT),
                    (&ids, Type::TEXT_ARRAY),
                    (&bodies, Type::TEXT_ARRAY),
                    (&attributes, Type::TEXT_ARRAY),
                    (&system_attributes, Type::TEXT_ARRAY),
                    (&sent_at, Type::INT8_ARRAY),
                    (&available_at, Type::INT8_ARRAY),
                    (&senders, Type::TEXT_ARRAY),
                    (&sources, Type::TEXT_ARRAY),
                ],
            )
            .map_err(|error| Failure::from(error).into_sqs("store a message"))?;
        Ok(messages
            .iter()
            .map(|(message, _)| Sent {
                message_id: message.message_id.clone(),
                sequence_number: None,
                duplicate: false,
            })
            .collect())
    }

    pub(super) fn receive(
        client: &mut Client,
        queue: &str,
        claim: &Claim,
    ) -> Result<Claimed, SqsError> {
        if claim.sweep_expired {
            // Its own statement, skipping what others hold: a sweep never waits.
            client
                .execute_typed(
                    "DELETE FROM sqs_messages WHERE seq IN (
                        SELECT seq FROM sqs_messages WHERE queue = $1 AND sent_at_ms < $2
                        FOR UPDATE SKIP LOCKED)",
                    &[
                        (&queue, Type::TEXT),
                        (&claim.retention_cutoff_ms, Type::INT8),
                    ],
                )
                .map_err(|error| Failure::from(error).into_sqs("drop expired messages"))?;
        }
        // One token for the whole receive: a receipt is the message id with it.
        let token = new_token();
        if !claim.fifo && claim.redrive.is_none() {
            return claim_standard(client, queue, claim, &token);
        }
        transact(client, "receive messages", |transaction| {
            claim_messages(transaction, queue, claim, &token)
        })
    }

    /// A standard queue's receive without a redrive policy: one statement that picks
    /// visible messages no other receive holds and claims them, committing on its own.
    fn claim_standard(
        client: &mut Client,
        queue: &str,
        claim: &Claim,
        token: &str,
    ) -> Result<Claimed, SqsError> {
        let rows = client
            .query_typed(
                &format!(
                    "WITH picked AS (
                        SELECT seq FROM sqs_messages
                        WHERE queue = $1 AND available_at_ms <= $2 AND sent_at_ms >= $4
                        ORDER BY available_at_ms, seq LIMIT $3
                        FOR UPDATE SKIP LOCKED)
                     UPDATE sqs_messages AS m SET available_at_ms = $5,
                        receive_count = m.receive_count + 1,
                        first_received_at_ms = COALESCE(m.first_received_at_ms, $2),
                        receipt_token = $6
                     FROM picked WHERE m.seq = picked.seq
                     RETURNING {}",
                    MESSAGE_COLUMNS
                        .split(',')
                        .map(|column| format!("m.{}", column.trim()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                &[
                    (&queue, Type::TEXT),
                    (&claim.now_ms, Type::INT8),
                    (&big(claim.max_messages), Type::INT8),
                    (&claim.retention_cutoff_ms, Type::INT8),
                    (&claim.visible_until_ms, Type::INT8),
                    (&token, Type::TEXT),
                ],
            )
            .map_err(|error| Failure::from(error).into_sqs("receive messages"))?;
        let mut messages: Vec<(i64, StoredMessage)> = rows.iter().map(message_from_row).collect();
        // In the order they were sent (a claim's rows come back in any order).
        messages.sort_by_key(|(seq, _)| *seq);
        Ok(Claimed {
            messages: messages.into_iter().map(|(_, message)| message).collect(),
            dead_lettered: 0,
        })
    }

    fn claim_messages(
        transaction: &mut Transaction<'_>,
        queue: &str,
        claim: &Claim,
        token: &str,
    ) -> Result<Claimed, Failure> {
        if claim.fifo {
            // One FIFO receive of this queue at a time, on every node.
            let found = transaction.query_typed_opt(
                "SELECT 1 FROM sqs_queues WHERE name = $1 FOR NO KEY UPDATE",
                &[(&queue, Type::TEXT)],
            )?;
            if found.is_none() {
                return Ok(Claimed::default());
            }
        }
        let mut claimed = Claimed::default();
        let mut skipped_groups: std::collections::HashSet<String> =
            std::collections::HashSet::new();
        // Redrive and claiming repeat until enough messages are claimed or none are left:
        // dead-lettered messages free places in the batch.
        loop {
            let wanted = claim.max_messages - claimed.messages.len();
            if wanted == 0 {
                break;
            }
            let candidates: Vec<(i64, StoredMessage)> = if claim.fifo {
                // Visible messages in order, but none behind a message of its group that
                // is in flight or delayed: a group's order holds, one batch at a time.
                let rows = transaction.query_typed(
                    &format!(
                        "SELECT {MESSAGE_COLUMNS} FROM sqs_messages AS m
                         WHERE m.queue = $1 AND m.group_id IS NOT NULL
                           AND m.available_at_ms <= $2 AND m.sent_at_ms >= $4
                           AND NOT EXISTS (
                               SELECT 1 FROM sqs_messages AS b
                               WHERE b.queue = $1 AND b.group_id = m.group_id
                                 AND b.seq < m.seq AND b.available_at_ms > $2)
                         ORDER BY m.seq LIMIT $3
                         FOR UPDATE OF m"
                    ),
                    &[
                        (&queue, Type::TEXT),
                        (&claim.now_ms, Type::INT8),
                        (&big(wanted + skipped_groups.len() * 10), Type::INT8),
                        (&claim.retention_cutoff_ms, Type::INT8),
                    ],
                )?;
                rows.iter()
                    .map(message_from_row)
                    .filter(|(_, message)| {
                        // Groups whose head went to the dead-letter queue in this receive
                        // wait for the next one.
                        !skipped_groups.contains(message.group_id.as_deref().unwrap_or(""))
                    })
                    .take(wanted)
                    .collect()
            } else {
                let rows = transaction.query_typed(
                    &format!(
                        "SELECT {MESSAGE_COLUMNS} FROM sqs_messages
                         WHERE queue = $1 AND available_at_ms <= $2 AND sent_at_ms >= $4
                         ORDER BY available_at_ms, seq LIMIT $3
                         FOR UPDATE SKIP LOCKED"
                    ),
                    &[
                        (&queue, Type::TEXT),
                        (&claim.now_ms, Type::INT8),
                        (&big(wanted), Type::INT8),
                        (&claim.retention_cutoff_ms, Type::INT8),
                    ],
                )?;
                rows.iter().map(message_from_row).collect()
            };
            if candidates.is_empty() {
                break;
            }
            let mut dead_lettered: Vec<i64> = Vec::new();
            let mut taken: Vec<i64> = Vec::new();
            for (seq, mut message) in candidates {
                if let Some((max_receives, _, _)) = &claim.redrive {
                    if message.receive_count >= *max_receives {
                        dead_lettered.push(seq);
                        if let Some(group) = &message.group_id {
                            // Its group's later messages wait for the next receive, so
                            // that order within the group holds.
                            skipped_groups.insert(group.clone());
                        }
                        continue;
                    }
                }
                if let Some(group) = &message.group_id {
                    if skipped_groups.contains(group) {
                        continue;
                    }
                }
                message.receive_count += 1;
                message.available_at_ms = claim.visible_until_ms;
                message.first_received_at_ms.get_or_insert(claim.now_ms);
                message.receipt_token = Some(token.to_owned());
                taken.push(seq);
                claimed.messages.push(message);
            }
            if let Some((_, dead_letter_queue, source_arn)) =
                claim.redrive.as_ref().filter(|_| !dead_lettered.is_empty())
            {
                // Received as often as allowed: to the dead-letter queue, as new,
                // never-received messages there.
                transaction.execute_typed(
                    "UPDATE sqs_messages SET queue = $2, available_at_ms = $3, receive_count = 0,
                        first_received_at_ms = NULL, receipt_token = NULL,
                        dead_letter_source = $4
                     WHERE seq = ANY($1)",
                    &[
                        (&dead_lettered, Type::INT8_ARRAY),
                        (dead_letter_queue, Type::TEXT),
                        (&claim.now_ms, Type::INT8),
                        (source_arn, Type::TEXT),
                    ],
                )?;
                claimed.dead_lettered += dead_lettered.len();
            }
            if !taken.is_empty() {
                transaction.execute_typed(
                    "UPDATE sqs_messages SET available_at_ms = $2,
                        receive_count = receive_count + 1,
                        first_received_at_ms = COALESCE(first_received_at_ms, $3),
                        receipt_token = $4
                     WHERE seq = ANY($1)",
                    &[
                        (&taken, Type::INT8_ARRAY),
                        (&claim.visible_until_ms, Type::INT8),
                        (&claim.now_ms, Type::INT8),
                        (&token, Type::TEXT),
                    ],
                )?;
            }
            if dead_lettered.is_empty() {
                break;
            }
        }
        Ok(claimed)
    }

    pub(super) fn next_visible_at(
        client: &mut Client,
        queue: &str,
        now_ms: i64,
    ) -> Result<Option<i64>, SqsError> {
        let row = client
            .query_typed_one(
                "SELECT MIN(available_at_ms) FROM sqs_messages
                 WHERE queue = $1 AND available_at_ms > $2",
                &[(&queue, Type::TEXT), (&now_ms, Type::INT8)],
            )
            .map_err(|error| {
                Failure::from(error).into_sqs("find a queue's next visible message")
            })?;
        Ok(row.get(0))
    }

    pub(super) fn delete(
        client: &mut Client,
        queue: &str,
        receipts: &[Receipt],
        now_ms: i64,
    ) -> Result<Vec<ReceiptOutcome>, SqsError> {
        // The usual case in one statement that commits on its own: every handle is its
        // message's latest (and a FIFO message's still in flight). Only the handles it
        // did not delete are looked at one by one, to tell why.
        let ids: Vec<&str> = receipts
            .iter()
            .map(|receipt| receipt.message_id.as_str())
            .collect();
        let tokens: Vec<&str> = receipts
            .iter()
            .map(|receipt| receipt.token.as_str())
            .collect();
        let rows = retrying("delete messages", || {
            Ok(client.query_typed(
                "DELETE FROM sqs_messages AS m
                 USING UNNEST($2::text[], $3::text[]) AS receipt (message_id, token)
                 WHERE m.queue = $1 AND m.message_id = receipt.message_id
                   AND m.receipt_token = receipt.token
                   AND (m.group_id IS NULL OR m.available_at_ms > $4)
                 RETURNING m.message_id, m.receipt_token, m.group_id IS NOT NULL",
                &[
                    (&queue, Type::TEXT),
                    (&ids, Type::TEXT_ARRAY),
                    (&tokens, Type::TEXT_ARRAY),
                    (&now_ms, Type::INT8),
                ],
            )?)
        })?;
        let mut fifo_deleted = false;
        let deleted: std::collections::HashSet<(String, String)> = rows
            .iter()
            .map(|row| {
                fifo_deleted |= row.get::<_, bool>(2);
                (row.get(0), row.get(1))
            })
            .collect();
        let is_deleted = |receipt: &Receipt| {
            deleted.contains(&(receipt.message_id.clone(), receipt.token.clone()))
        };
        let rest: Vec<&Receipt> = receipts
            .iter()
            .filter(|receipt| !is_deleted(receipt))
            .collect();
        let mut rest_outcomes = if rest.is_empty() && !fifo_deleted {
            Vec::new()
        } else {
            transact(client, "delete messages", |transaction| {
                let mut fifo_deleted_here = false;
                let outcomes = rest
                    .iter()
                    .map(|receipt| {
                        delete_one(transaction, queue, receipt, now_ms, &mut fifo_deleted_here)
                    })
                    .collect::<Result<Vec<_>, Failure>>()?;
                if fifo_deleted || fifo_deleted_here {
                    forget_receive_attempts(transaction, queue)?;
                }
                Ok(outcomes)
            })?
        }
        .into_iter();
        Ok(receipts
            .iter()
            .map(|receipt| {
                if is_deleted(receipt) {
                    ReceiptOutcome::Done
                } else {
                    rest_outcomes.next().unwrap_or(ReceiptOutcome::Gone)
                }
            })
            .collect())
    }

    /// A queue's FIFO receive attempts are answered no more once one of its messages
    /// was deleted or had its visibility changed (as the engine forgets its own).
    fn forget_receive_attempts(
        transaction: &mut Transaction<'_>,
        queue: &str,
    ) -> Result<(), Failure> {
        transaction.execute_typed(
            "DELETE FROM sqs_receive_attempts WHERE queue = $1",
            &[(&queue, Type::TEXT)],
        )?;
        Ok(())
    }

    fn delete_one(
        transaction: &mut Transaction<'_>,
        queue: &str,
        receipt: &Receipt,
        now_ms: i64,
        fifo_deleted: &mut bool,
    ) -> Result<ReceiptOutcome, Failure> {
        // The usual case in one statement: the handle is the message's latest and, for a
        // FIFO message, still in flight. Only when nothing was deleted is the message
        // looked at, to tell why.
        let deleted = transaction.query_typed_opt(
            "DELETE FROM sqs_messages
             WHERE message_id = $1 AND queue = $2 AND receipt_token = $3
               AND (group_id IS NULL OR available_at_ms > $4)
             RETURNING group_id IS NOT NULL",
            &[
                (&receipt.message_id, Type::TEXT),
                (&queue, Type::TEXT),
                (&receipt.token, Type::TEXT),
                (&now_ms, Type::INT8),
            ],
        )?;
        if let Some(row) = deleted {
            *fifo_deleted |= row.get::<_, bool>(0);
            return Ok(ReceiptOutcome::Done);
        }
        let current = transaction.query_typed_opt(
            "SELECT receipt_token, available_at_ms, group_id FROM sqs_messages
             WHERE message_id = $1 AND queue = $2",
            &[(&receipt.message_id, Type::TEXT), (&queue, Type::TEXT)],
        )?;
        let Some(current) = current else {
            return Ok(ReceiptOutcome::Gone);
        };
        let token: Option<String> = current.get(0);
        let available_at_ms: i64 = current.get(1);
        let group_id: Option<String> = current.get(2);
        if token.as_deref() != Some(receipt.token.as_str()) {
            return Ok(ReceiptOutcome::Stale);
        }
        if group_id.is_some() && available_at_ms <= now_ms {
            // A FIFO message whose visibility timeout passed may go to another consumer
            // in order; the old receipt may no longer delete it.
            return Ok(ReceiptOutcome::NotInFlight);
        }
        // It matched when read: a concurrent change (a visibility change through
        // another node) moved it between the two statements. Once more, then.
        let deleted = transaction.execute_typed(
            "DELETE FROM sqs_messages WHERE message_id = $1 AND queue = $2 AND receipt_token = $3",
            &[
                (&receipt.message_id, Type::TEXT),
                (&queue, Type::TEXT),
                (&receipt.token, Type::TEXT),
            ],
        )?;
        if deleted == 0 {
            return Ok(ReceiptOutcome::Gone);
        }
        *fifo_deleted |= group_id.is_some();
        Ok(ReceiptOutcome::Done)
    }

    pub(super) fn change_visibility(
        client: &mut Client,
        queue: &str,
        receipt: &Receipt,
        now_ms: i64,
        visible_at_ms: i64,
    ) -> Result<ReceiptOutcome, SqsError> {
        transact(client, "change a message's visibility", |transaction| {
            let changed = transaction.execute_typed(
                "UPDATE sqs_messages SET available_at_ms = $5
                 WHERE message_id = $1 AND queue = $2 AND receipt_token = $3
                   AND available_at_ms > $4",
                &[
                    (&receipt.message_id, Type::TEXT),
                    (&queue, Type::TEXT),
                    (&receipt.token, Type::TEXT),
                    (&now_ms, Type::INT8),
                    (&visible_at_ms, Type::INT8),
                ],
            )?;
            if changed > 0 {
                forget_receive_attempts(transaction, queue)?;
                return Ok(ReceiptOutcome::Done);
            }
            let current = transaction.query_typed_opt(
                "SELECT receipt_token FROM sqs_messages WHERE message_id = $1 AND queue = $2",
                &[(&receipt.message_id, Type::TEXT), (&queue, Type::TEXT)],
            )?;
            let Some(current) = current else {
                return Ok(ReceiptOutcome::Gone);
            };
            let token: Option<String> = current.get(0);
            if token.as_deref() != Some(receipt.token.as_str()) {
                return Ok(ReceiptOutcome::Stale);
            }
            Ok(ReceiptOutcome::NotInFlight)
        })
    }

    pub(super) fn claim_purge(
        client: &mut Client,
        queue: &str,
        now_ms: i64,
        interval_ms: i64,
    ) -> Result<bool, SqsError> {
        let claimed = client
            .execute_typed(
                "UPDATE sqs_queues SET last_purge_ms = $2
                 WHERE name = $1 AND (last_purge_ms IS NULL OR last_purge_ms <= $3)",
                &[
                    (&queue, Type::TEXT),
                    (&now_ms, Type::INT8),
                    (&(now_ms - interval_ms), Type::INT8),
                ],
            )
            .map_err(|error| Failure::from(error).into_sqs("purge a queue"))?;
        Ok(claimed > 0)
    }

    pub(super) fn receive_attempt(
        client: &mut Client,
        queue: &str,
        attempt_id: &str,
        now_ms: i64,
    ) -> Result<Option<String>, SqsError> {
        let row = client
            .query_typed_opt(
                "SELECT answer FROM sqs_receive_attempts
                 WHERE queue = $1 AND attempt_id = $2 AND until_ms > $3",
                &[
                    (&queue, Type::TEXT),
                    (&attempt_id, Type::TEXT),
                    (&now_ms, Type::INT8),
                ],
            )
            .map_err(|error| Failure::from(error).into_sqs("read a receive attempt"))?;
        Ok(row.map(|row| row.get(0)))
    }

    pub(super) fn put_receive_attempt(
        client: &mut Client,
        queue: &str,
        attempt_id: &str,
        now_ms: i64,
        until_ms: i64,
        answer: &str,
    ) -> Result<(), SqsError> {
        transact(client, "record a receive attempt", |transaction| {
            transaction.execute_typed(
                "INSERT INTO sqs_receive_attempts (queue, attempt_id, until_ms, answer)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (queue, attempt_id) DO UPDATE SET
                    until_ms = EXCLUDED.until_ms, answer = EXCLUDED.answer",
                &[
                    (&queue, Type::TEXT),
                    (&attempt_id, Type::TEXT),
                    (&until_ms, Type::INT8),
                    (&answer, Type::TEXT),
                ],
            )?;
            transaction.execute_typed(
                "DELETE FROM sqs_receive_attempts WHERE queue = $1 AND until_ms <= $2",
                &[(&queue, Type::TEXT), (&now_ms, Type::INT8)],
            )?;
            Ok(())
        })
    }

    pub(super) fn purge(client: &mut Client, queue: &str) -> Result<u64, SqsError> {
        let removed = client
            .execute_typed(
                "DELETE FROM sqs_messages WHERE queue = $1",
                &[(&queue, Type::TEXT)],
            )
            .map_err(|error| Failure::from(error).into_sqs("purge a queue"))?;
        Ok(removed)
    }

    pub(super) fn counts(
        client: &mut Client,
        queue: &str,
        now_ms: i64,
    ) -> Result<Counts, SqsError> {
        let row = client
            .query_typed_one(
                "SELECT
                    COUNT(*) FILTER (WHERE available_at_ms <= $2),
                    COUNT(*) FILTER (WHERE available_at_ms > $2 AND receive_count > 0),
                    COUNT(*) FILTER (WHERE available_at_ms > $2 AND receive_count = 0)
                 FROM sqs_messages WHERE queue = $1",
                &[(&queue, Type::TEXT), (&now_ms, Type::INT8)],
            )
            .map_err(|error| Failure::from(error).into_sqs("count a queue's messages"))?;
        Ok(Counts {
            visible: count(row.get(0)),
            not_visible: count(row.get(1)),
            delayed: count(row.get(2)),
        })
    }

    pub(super) fn peek(
        client: &mut Client,
        queue: &str,
        limit: usize,
    ) -> Result<Vec<PeekedMessage>, SqsError> {
        let rows = client
            .query_typed(
                "SELECT message_id, body, sent_at_ms, available_at_ms, receive_count, group_id
                 FROM sqs_messages WHERE queue = $1 ORDER BY seq LIMIT $2",
                &[(&queue, Type::TEXT), (&big(limit), Type::INT8)],
            )
            .map_err(|error| Failure::from(error).into_sqs("peek at a queue"))?;
        Ok(rows
            .iter()
            .map(|row| PeekedMessage {
                message_id: row.get(0),
                body: row.get(1),
                sent_at_ms: row.get(2),
                available_at_ms: row.get(3),
                receive_count: u32::try_from(row.get::<_, i32>(4)).unwrap_or(0),
                group_id: row.get(5),
            })
            .collect())
    }

    pub(super) fn move_messages(
        client: &mut Client,
        from: &str,
        to: Option<&str>,
        limit: usize,
        now_ms: i64,
        queue_of_arn: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, u64>, SqsError> {
        transact(client, "move messages", |transaction| {
            let candidates = transaction.query_typed(
                "SELECT seq, dead_letter_source FROM sqs_messages
                 WHERE queue = $1 AND available_at_ms <= $2 ORDER BY seq LIMIT $3
                 FOR UPDATE SKIP LOCKED",
                &[
                    (&from, Type::TEXT),
                    (&now_ms, Type::INT8),
                    (&big(limit), Type::INT8),
                ],
            )?;
            let mut by_destination: BTreeMap<String, Vec<i64>> = BTreeMap::new();
            for row in &candidates {
                let source: Option<String> = row.get(1);
                let destination = match to {
                    Some(to) => Some(to.to_owned()),
                    None => source.and_then(|arn| queue_of_arn.get(&arn).cloned()),
                };
                if let Some(destination) = destination {
                    by_destination
                        .entry(destination)
                        .or_default()
                        .push(row.get(0));
                }
            }
            let mut moved = BTreeMap::new();
            for (destination, seqs) in by_destination {
                let count = transaction.execute_typed(
                    "UPDATE sqs_messages SET queue = $2, available_at_ms = $3, receive_count = 0,
                        first_received_at_ms = NULL, receipt_token = NULL,
                        dead_letter_source = NULL
                     WHERE seq = ANY($1)",
                    &[
                        (&seqs, Type::INT8_ARRAY),
                        (&destination, Type::TEXT),
                        (&now_ms, Type::INT8),
                    ],
                )?;
                moved.insert(destination, count);
            }
            Ok(moved)
        })
    }

    pub(super) fn move_tasks(client: &mut Client) -> Result<Vec<MoveTask>, SqsError> {
        let rows = client
            .query_typed(
                "SELECT handle, source_arn, destination_arn, max_per_second, status, moved,
                        to_move, failure_reason, started_at_ms
                 FROM sqs_move_tasks ORDER BY started_at_ms, position",
                &[],
            )
            .map_err(|error| Failure::from(error).into_sqs("read the message move tasks"))?;
        Ok(rows
            .iter()
            .map(|row| MoveTask {
                task_handle: row.get(0),
                source_arn: row.get(1),
                destination_arn: row.get(2),
                max_messages_per_second: row
                    .get::<_, Option<i32>>(3)
                    .and_then(|rate| u32::try_from(rate).ok()),
                status: row.get(4),
                moved: count(row.get(5)),
                to_move: count(row.get(6)),
                failure_reason: row.get(7),
                started_at_ms: row.get(8),
            })
            .collect())
    }

    pub(super) fn claim_move_task(
        client: &mut Client,
        handle: &str,
        runner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<bool, SqsError> {
        let claimed = client
            .execute_typed(
                "UPDATE sqs_move_tasks SET runner = $2, lease_until_ms = $4
                 WHERE handle = $1 AND status IN ('RUNNING', 'CANCELLING')
                   AND (runner IS NULL OR runner = $2 OR lease_until_ms <= $3)",
                &[
                    (&handle, Type::TEXT),
                    (&runner, Type::TEXT),
                    (&now_ms, Type::INT8),
                    (&(now_ms + lease_ms), Type::INT8),
                ],
            )
            .map_err(|error| Failure::from(error).into_sqs("claim a message move task"))?;
        Ok(claimed > 0)
    }

    pub(super) fn put_move_task(client: &mut Client, task: &MoveTask) -> Result<(), SqsError> {
        let rate = task
            .max_messages_per_second
            .map(|rate| i32::try_from(rate).unwrap_or(i32::MAX));
        let (moved, to_move) = (
            i64::try_from(task.moved).unwrap_or(i64::MAX),
            i64::try_from(task.to_move).unwrap_or(i64::MAX),
        );
        transact(client, "save a message move task", |transaction| {
            // A cancel from another node is not undone by the running node's progress.
            transaction.execute_typed(
                "INSERT INTO sqs_move_tasks (handle, source_arn, destination_arn, max_per_second,
                        status, moved, to_move, failure_reason, started_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (handle) DO UPDATE SET
                    status = CASE WHEN sqs_move_tasks.status = 'CANCELLING'
                                   AND EXCLUDED.status = 'RUNNING'
                                  THEN sqs_move_tasks.status ELSE EXCLUDED.status END,
                    moved = EXCLUDED.moved, failure_reason = EXCLUDED.failure_reason",
                &[
                    (&task.task_handle, Type::TEXT),
                    (&task.source_arn, Type::TEXT),
                    (&task.destination_arn, Type::TEXT),
                    (&rate, Type::INT4),
                    (&task.status, Type::TEXT),
                    (&moved, Type::INT8),
                    (&to_move, Type::INT8),
                    (&task.failure_reason, Type::TEXT),
                    (&task.started_at_ms, Type::INT8),
                ],
            )?;
            transaction.execute_typed(
                "DELETE FROM sqs_move_tasks WHERE source_arn = $1 AND status <> 'RUNNING'
                   AND handle NOT IN (SELECT handle FROM sqs_move_tasks WHERE source_arn = $1
                                      ORDER BY started_at_ms DESC, position DESC LIMIT $2)",
                &[
                    (&task.source_arn, Type::TEXT),
                    (&big(MOVE_TASKS_KEPT), Type::INT8),
                ],
            )?;
            Ok(())
        })
    }
}

impl QueueBackend for PostgresQueues {
    fn queues(&self) -> Result<Vec<QueueRecord>, SqsError> {
        self.run(calls::queues)
    }

    fn queue(&self, name: &str) -> Result<Option<QueueRecord>, SqsError> {
        let name = name.to_owned();
        self.run(move |client| calls::queue(client, &name))
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn catalog_version(&self) -> Result<u64, SqsError> {
        self.run(calls::catalog_version)
    }

    fn put_queue(&self, queue: &QueueRecord) -> Result<(), SqsError> {
        let queue = queue.clone();
        self.run(move |client| calls::put_queue(client, &queue))
    }

    fn insert_queue(&self, queue: &QueueRecord) -> Result<Option<QueueRecord>, SqsError> {
        let queue = queue.clone();
        self.run(move |client| calls::insert_queue(client, &queue))
    }

    fn delete_queue(&self, name: &str) -> Result<(), SqsError> {
        let name = name.to_owned();
        self.run(move |client| calls::delete_queue(client, &name))
    }

    fn send(
        &self,
        queue: &str,
        messages: &[(StoredMessage, Option<Deduplication>)],
    ) -> Result<Vec<Sent>, SqsError> {
        let (queue, messages) = (queue.to_owned(), messages.to_vec());
        self.run(move |client| calls::send(client, &queue, &messages))
    }

    fn receive(&self, queue: &str, claim: &Claim) -> Result<Claimed, SqsError> {
        let (queue, claim) = (queue.to_owned(), claim.clone());
        self.run(move |client| calls::receive(client, &queue, &claim))
    }

    fn delete(
        &self,
        queue: &str,
        receipts: &[Receipt],
        now_ms: i64,
    ) -> Result<Vec<ReceiptOutcome>, SqsError> {
        let (queue, receipts) = (queue.to_owned(), receipts.to_vec());
        self.run(move |client| calls::delete(client, &queue, &receipts, now_ms))
    }

    fn send_async(
        &self,
        queue: &str,
        messages: Vec<(StoredMessage, Option<Deduplication>)>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Sent>, SqsError>> + Send + 'static>> {
        let queue = queue.to_owned();
        self.run_async(move |client| calls::send(client, &queue, &messages))
    }

    fn receive_async(
        &self,
        queue: &str,
        claim: Claim,
    ) -> Pin<Box<dyn Future<Output = Result<(Claimed, Option<i64>), SqsError>> + Send + 'static>>
    {
        let queue = queue.to_owned();
        self.run_async(move |client| {
            let claimed = calls::receive(client, &queue, &claim)?;
            let next = if claimed.messages.is_empty() {
                calls::next_visible_at(client, &queue, claim.now_ms)?
            } else {
                None
            };
            Ok((claimed, next))
        })
    }

    fn delete_async(
        &self,
        queue: &str,
        receipts: Vec<Receipt>,
        now_ms: i64,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<ReceiptOutcome>, SqsError>> + Send + 'static>> {
        let queue = queue.to_owned();
        self.run_async(move |client| calls::delete(client, &queue, &receipts, now_ms))
    }

    fn change_visibility(
        &self,
        queue: &str,
        receipt: &Receipt,
        now_ms: i64,
        visible_at_ms: i64,
    ) -> Result<ReceiptOutcome, SqsError> {
        let (queue, receipt) = (queue.to_owned(), receipt.clone());
        self.run(move |client| {
            calls::change_visibility(client, &queue, &receipt, now_ms, visible_at_ms)
        })
    }

    fn purge(&self, queue: &str) -> Result<u64, SqsError> {
        let queue = queue.to_owned();
        self.run(move |client| calls::purge(client, &queue))
    }

    fn receive_attempt(
        &self,
        queue: &str,
        attempt_id: &str,
        now_ms: i64,
    ) -> Result<Option<String>, SqsError> {
        let (queue, attempt_id) = (queue.to_owned(), attempt_id.to_owned());
        self.run(move |client| calls::receive_attempt(client, &queue, &attempt_id, now_ms))
    }

    fn put_receive_attempt(
        &self,
        queue: &str,
        attempt_id: &str,
        now_ms: i64,
        until_ms: i64,
        answer: String,
    ) {
        let (queue, attempt_id) = (queue.to_owned(), attempt_id.to_owned());
        // Not waited for (see the trait): the receive's answer is on its way already.
        let recorded = self.database.spawn(move |client| {
            if let Err(error) =
                calls::put_receive_attempt(client, &queue, &attempt_id, now_ms, until_ms, &answer)
            {
                // A storage error says "failed to …" itself.
                tracing::warn!("{error}");
            }
        });
        if let Err(error) = recorded {
            tracing::warn!("failed to record a receive attempt: {error}");
        }
    }

    fn claim_purge(&self, queue: &str, now_ms: i64, interval_ms: i64) -> Result<bool, SqsError> {
        let queue = queue.to_owned();
        self.run(move |client| calls::claim_purge(client, &queue, now_ms, interval_ms))
    }

    fn counts(&self, queue: &str, now_ms: i64) -> Result<Counts, SqsError> {
        let queue = queue.to_owned();
        self.run(move |client| calls::counts(client, &queue, now_ms))
    }

    fn peek(&self, queue: &str, limit: usize) -> Result<Vec<PeekedMessage>, SqsError> {
        let queue = queue.to_owned();
        self.run(move |client| calls::peek(client, &queue, limit))
    }

    fn next_visible_at(&self, queue: &str, now_ms: i64) -> Result<Option<i64>, SqsError> {
        let queue = queue.to_owned();
        self.run(move |client| calls::next_visible_at(client, &queue, now_ms))
    }

    fn move_messages(
        &self,
        from: &str,
        to: Option<&str>,
        limit: usize,
        now_ms: i64,
        queue_of_arn: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, u64>, SqsError> {
        let (from, to, queue_of_arn) =
            (from.to_owned(), to.map(str::to_owned), queue_of_arn.clone());
        self.run(move |client| {
            calls::move_messages(client, &from, to.as_deref(), limit, now_ms, &queue_of_arn)
        })
    }

    fn move_tasks(&self) -> Result<Vec<MoveTask>, SqsError> {
        self.run(calls::move_tasks)
    }

    fn put_move_task(&self, task: &MoveTask) -> Result<(), SqsError> {
        let task = task.clone();
        self.run(move |client| calls::put_move_task(client, &task))
    }

    fn claim_move_task(
        &self,
        handle: &str,
        runner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<bool, SqsError> {
        let (handle, runner) = (handle.to_owned(), runner.to_owned());
        self.run(move |client| calls::claim_move_task(client, &handle, &runner, now_ms, lease_ms))
    }
}
