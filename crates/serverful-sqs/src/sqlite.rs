//! The queues in SQLite (`DATA/queues.sqlite`): one row per queue and per message, WAL
//! with `synchronous=FULL`, so a message is on disk before its send is answered.
//!
//! Changes are group-committed: one writer thread owns the connection and runs every
//! call that arrives while the previous group's commit (its fsync) is under way in the
//! next group, one transaction with a savepoint per call, and answers each call once the
//! group is committed. Concurrent sends share one fsync instead of paying one each.
//!
//! What must survive a power loss (sends, queue changes, deletes, purges, moves) commits
//! with `synchronous=FULL`; a group of only receives, visibility changes and reads commits
//! with `synchronous=NORMAL`, which in WAL mode still survives the process being killed
//! (`kill -9`) and loses at most a receive's claim to a power loss: the message is then
//! visible again early, which at-least-once delivery allows.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;

use futures_util::future::BoxFuture;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::backend::{
    Claim, Claimed, Counts, Deduplication, MoveTask, PeekedMessage, QueueBackend, QueueRecord,
    Receipt, ReceiptOutcome, Sent, StoredMessage, MOVE_TASKS_KEPT,
};
use crate::error::{storage, SqsError};
use crate::stored::{
    attributes_from_json, attributes_to_json, map_from_json, map_to_json, new_token,
    sequence_number,
};

/// The schema's version in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 2;

/// The columns of a message, in the order [`message_from_row`] reads them.
const MESSAGE_COLUMNS: &str = "seq, message_id, body, attributes, system_attributes, sent_at_ms,
    available_at_ms, receive_count, first_received_at_ms, receipt_token, group_id, dedup_id,
    sender_id, dead_letter_source";

/// Message move tasks (schema version 2).
const MOVE_TASKS_TABLE: &str = "CREATE TABLE IF NOT EXISTS move_tasks (
        handle TEXT PRIMARY KEY,
        source_arn TEXT NOT NULL,
        destination_arn TEXT,
        max_per_second INTEGER,
        status TEXT NOT NULL,
        moved INTEGER NOT NULL,
        to_move INTEGER NOT NULL,
        failure_reason TEXT,
        started_at_ms INTEGER NOT NULL
    );";

/// The most calls one group commits.
const MAX_GROUP: usize = 256;

/// What a call leaves to do once its group is committed: answer its caller with its
/// result, or with the commit's failure.
type Answer = Box<dyn FnOnce(Option<SqsError>) + Send>;
/// A call for the writer thread: runs on the connection inside the group's transaction,
/// says whether it succeeded (else its savepoint is rolled back), and how to answer.
type Work = Box<dyn FnOnce(&Connection) -> (bool, Answer) + Send>;

/// A call, and whether its group must be synced to disk before it is answered.
struct Job {
    durable: bool,
    work: Work,
}

/// Queues kept in one SQLite file.
#[derive(Debug)]
pub struct SqliteQueues {
    jobs: mpsc::Sender<Job>,
}

impl SqliteQueues {
    /// Opens (or creates) the queues at `path`.
    pub fn open(path: &Path) -> Result<SqliteQueues, SqsError> {
        let connection = Connection::open(path).map_err(storage("open the queues"))?;
        Self::set_up(connection)
    }

    /// Queues in memory, for tests.
    pub fn in_memory() -> Result<SqliteQueues, SqsError> {
        let connection = Connection::open_in_memory().map_err(storage("open the queues"))?;
        Self::set_up(connection)
    }

    fn set_up(connection: Connection) -> Result<SqliteQueues, SqsError> {
        connection
            .execute_batch(
                "PRAGMA journal_mode=WAL;
                 PRAGMA synchronous=FULL;
                 PRAGMA busy_timeout=5000;",
            )
            .map_err(storage("set up the queues"))?;
        // Every statement of the hot paths stays prepared (rusqlite keeps 16 by default).
        connection.set_prepared_statement_cache_capacity(64);
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(storage("read the queues' schema version"))?;
        if version == 0 {
            connection
                .execute_batch(&format!(
                    "CREATE TABLE IF NOT EXISTS queues (
                        name TEXT PRIMARY KEY,
                        attributes TEXT NOT NULL,
                        tags TEXT NOT NULL,
                        created_at_ms INTEGER NOT NULL,
                        modified_at_ms INTEGER NOT NULL
                    );
                    CREATE TABLE IF NOT EXISTS messages (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        queue TEXT NOT NULL,
                        message_id TEXT NOT NULL UNIQUE,
                        body TEXT NOT NULL,
                        attributes TEXT,
                        system_attributes TEXT,
                        sent_at_ms INTEGER NOT NULL,
                        available_at_ms INTEGER NOT NULL,
                        receive_count INTEGER NOT NULL DEFAULT 0,
                        first_received_at_ms INTEGER,
                        receipt_token TEXT,
                        group_id TEXT,
                        dedup_id TEXT,
                        sender_id TEXT NOT NULL,
                        dead_letter_source TEXT
                    );
                    CREATE INDEX IF NOT EXISTS messages_available
                        ON messages (queue, available_at_ms, seq);
                    CREATE INDEX IF NOT EXISTS messages_group
                        ON messages (queue, group_id, seq) WHERE group_id IS NOT NULL;
                    CREATE TABLE IF NOT EXISTS deduplication (
                        queue TEXT NOT NULL,
                        scope TEXT NOT NULL,
                        dedup_id TEXT NOT NULL,
                        message_id TEXT NOT NULL,
                        sequence_number TEXT,
                        until_ms INTEGER NOT NULL,
                        PRIMARY KEY (queue, scope, dedup_id)
                    );
                    {MOVE_TASKS_TABLE}
                    PRAGMA user_version = {SCHEMA_VERSION};"
                ))
                .map_err(storage("create the queues"))?;
        } else if version == 1 {
            // Version 1 kept move tasks in memory only.
            connection
                .execute_batch(&format!(
                    "{MOVE_TASKS_TABLE}
                    PRAGMA user_version = {SCHEMA_VERSION};"
                ))
                .map_err(storage("add move tasks to the queues"))?;
        } else if version != SCHEMA_VERSION {
            return Err(SqsError::Storage {
                action: "open the queues",
                message: format!(
                    "its schema version is {version}, newer than this server's {SCHEMA_VERSION}; run a newer serverful"
                ),
            });
        }
        let (jobs, queued) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqs-writer".to_owned())
            .spawn(move || write_groups(connection, &queued))
            .map_err(|error| SqsError::Storage {
                action: "start the queues' writer",
                message: error.to_string(),
            })?;
        Ok(SqliteQueues { jobs })
    }

    /// Runs `work` on the writer thread in the next group, and answers once the group is
    /// committed (durable).
    fn run<R: Send + 'static>(
        &self,
        durable: bool,
        action: &'static str,
        work: impl FnOnce(&Connection) -> Result<R, SqsError> + Send + 'static,
    ) -> Result<R, SqsError> {
        let (reply, answer) = mpsc::sync_channel::<Result<R, SqsError>>(1);
        self.submit(durable, action, work, move |result| {
            let _ = reply.send(result);
        })?;
        answer.recv().map_err(|_| stopped(action))?
    }

    /// [`SqliteQueues::run`] for async callers: the future ends once the group is
    /// committed, and no thread blocks while it waits (the writer wakes the task).
    fn run_async<R: Send + 'static>(
        &self,
        durable: bool,
        action: &'static str,
        work: impl FnOnce(&Connection) -> Result<R, SqsError> + Send + 'static,
    ) -> BoxFuture<'static, Result<R, SqsError>> {
        let (reply, answer) = tokio::sync::oneshot::channel::<Result<R, SqsError>>();
        let submitted = self.submit(durable, action, work, move |result| {
            let _ = reply.send(result);
        });
        Box::pin(async move {
            submitted?;
            answer.await.map_err(|_| stopped(action))?
        })
    }

    /// Queues `work` for the writer thread; `reply` gets its result once its group is
    /// committed (or the commit's failure).
    fn submit<R: Send + 'static>(
        &self,
        durable: bool,
        action: &'static str,
        work: impl FnOnce(&Connection) -> Result<R, SqsError> + Send + 'static,
        reply: impl FnOnce(Result<R, SqsError>) + Send + 'static,
    ) -> Result<(), SqsError> {
        let work: Work = Box::new(move |connection| {
            let result = work(connection);
            let succeeded = result.is_ok();
            let answer: Answer = Box::new(move |commit_failure| {
                reply(match commit_failure {
                    Some(error) if succeeded => Err(error),
                    _ => result,
                });
            });
            (succeeded, answer)
        });
        self.jobs
            .send(Job { durable, work })
            .map_err(|_| stopped(action))
    }
}

/// The error of a call whose writer thread is gone.
fn stopped(action: &'static str) -> SqsError {
    SqsError::Storage {
        action,
        message: "the queues' writer thread stopped".to_owned(),
    }
}

/// The writer thread: takes the calls waiting, runs them as one transaction, commits,
/// answers them, and goes again until every handle is gone.
fn write_groups(connection: Connection, queued: &mpsc::Receiver<Job>) {
    // The sync mode set last (`true`: FULL), so that it is only set when it changes.
    let mut synced: Option<bool> = None;
    while let Ok(first) = queued.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queued.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let durable = group.iter().any(|job| job.durable);
        if synced != Some(durable) {
            let pragma = if durable {
                "PRAGMA synchronous=FULL"
            } else {
                "PRAGMA synchronous=NORMAL"
            };
            match connection.execute_batch(pragma) {
                Ok(()) => synced = Some(durable),
                Err(error) => {
                    synced = None;
                    tracing::error!("failed to set the queues' sync mode: {error}");
                }
            }
        }
        if let Err(error) = run_cached(&connection, "BEGIN IMMEDIATE") {
            tracing::error!("failed to begin a transaction of queue changes: {error}");
            for job in group {
                // Without a transaction each statement commits (durably) on its own.
                let (_, answer) = (job.work)(&connection);
                answer(None);
            }
            continue;
        }
        let mut answers = Vec::with_capacity(group.len());
        for job in group {
            let savepoint = run_cached(&connection, "SAVEPOINT call");
            let (succeeded, answer) = (job.work)(&connection);
            if savepoint.is_ok() {
                let ended = if succeeded {
                    run_cached(&connection, "RELEASE call")
                } else {
                    run_cached(&connection, "ROLLBACK TO call")
                        .and_then(|()| run_cached(&connection, "RELEASE call"))
                };
                if let Err(error) = ended {
                    tracing::error!("failed to end a queue call's savepoint: {error}");
                }
            }
            answers.push(answer);
        }
        let failure = run_cached(&connection, "COMMIT")
            .err()
            .map(storage("commit queue changes"));
        if failure.is_some() {
            let _ = connection.execute_batch("ROLLBACK");
        }
        for answer in answers {
            answer(failure.clone());
        }
    }
}

/// Runs a statement without parameters or rows (the transaction control of every group
/// and call), prepared once: `execute_batch` would parse it again each time.
fn run_cached(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.execute([])?;
    Ok(())
}

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, StoredMessage)> {
    let seq: i64 = row.get(0)?;
    let group_id: Option<String> = row.get(10)?;
    Ok((
        seq,
        StoredMessage {
            message_id: row.get(1)?,
            body: row.get(2)?,
            attributes: attributes_from_json(row.get(3)?),
            system_attributes: attributes_from_json(row.get(4)?),
            sent_at_ms: row.get(5)?,
            available_at_ms: row.get(6)?,
            receive_count: row.get(7)?,
            first_received_at_ms: row.get(8)?,
            receipt_token: row.get(9)?,
            sequence_number: group_id.as_ref().map(|_| sequence_number(seq)),
            group_id,
            deduplication_id: row.get(11)?,
            sender_id: row.get(12)?,
            dead_letter_source_arn: row.get(13)?,
        },
    ))
}

/// The calls, each run by the writer thread inside its group's transaction.
mod calls {
    use super::*;

    pub(super) fn queues(connection: &Connection) -> Result<Vec<QueueRecord>, SqsError> {
        let mut statement = connection
            .prepare("SELECT name, attributes, tags, created_at_ms, modified_at_ms FROM queues")
            .map_err(storage("list the queues"))?;
        let rows = statement
            .query_map([], |row| {
                Ok(QueueRecord {
                    name: row.get(0)?,
                    attributes: map_from_json(&row.get::<_, String>(1)?),
                    tags: map_from_json(&row.get::<_, String>(2)?),
                    created_at_ms: row.get(3)?,
                    modified_at_ms: row.get(4)?,
                })
            })
            .map_err(storage("list the queues"))?;
        rows.collect::<Result<_, _>>()
            .map_err(storage("list the queues"))
    }

    pub(super) fn put_queue(connection: &Connection, queue: &QueueRecord) -> Result<(), SqsError> {
        connection
            .execute(
                "INSERT INTO queues (name, attributes, tags, created_at_ms, modified_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET attributes = ?2, tags = ?3,
                    created_at_ms = ?4, modified_at_ms = ?5",
                params![
                    queue.name,
                    map_to_json(&queue.attributes),
                    map_to_json(&queue.tags),
                    queue.created_at_ms,
                    queue.modified_at_ms
                ],
            )
            .map_err(storage("store a queue"))?;
        Ok(())
    }

    pub(super) fn delete_queue(connection: &Connection, name: &str) -> Result<(), SqsError> {
        let transaction = connection;
        for statement in [
            "DELETE FROM messages WHERE queue = ?1",
            "DELETE FROM deduplication WHERE queue = ?1",
            "DELETE FROM queues WHERE name = ?1",
        ] {
            transaction
                .execute(statement, [name])
                .map_err(storage("delete a queue"))?;
        }
        Ok(())
    }

    pub(super) fn send(
        connection: &Connection,
        queue: &str,
        messages: &[(StoredMessage, Option<Deduplication>)],
    ) -> Result<Vec<Sent>, SqsError> {
        let transaction = connection;
        let mut outcomes = Vec::with_capacity(messages.len());
        {
            let mut insert = transaction
                .prepare_cached(
                    "INSERT INTO messages (queue, message_id, body, attributes, system_attributes,
                        sent_at_ms, available_at_ms, group_id, dedup_id, sender_id, dead_letter_source)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(storage("store a message"))?;
            for (message, deduplication) in messages {
                if let Some(deduplication) = deduplication {
                    let earlier: Option<(String, Option<String>)> = transaction
                        .query_row(
                            "SELECT message_id, sequence_number FROM deduplication
                             WHERE queue = ?1 AND scope = ?2 AND dedup_id = ?3 AND until_ms > ?4",
                            params![
                                queue,
                                deduplication.scope,
                                deduplication.id,
                                message.sent_at_ms
                            ],
                            |row| Ok((row.get(0)?, row.get(1)?)),
                        )
                        .optional()
                        .map_err(storage("check a message's deduplication id"))?;
                    if let Some((message_id, sequence_number)) = earlier {
                        outcomes.push(Sent {
                            message_id,
                            sequence_number,
                            duplicate: true,
                        });
                        continue;
                    }
                }
                insert
                    .execute(params![
                        queue,
                        message.message_id,
                        message.body,
                        attributes_to_json(&message.attributes),
                        attributes_to_json(&message.system_attributes),
                        message.sent_at_ms,
                        message.available_at_ms,
                        message.group_id,
                        message.deduplication_id,
                        message.sender_id,
                        message.dead_letter_source_arn,
                    ])
                    .map_err(storage("store a message"))?;
                let seq = transaction.last_insert_rowid();
                let sequence = message.group_id.as_ref().map(|_| sequence_number(seq));
                if let Some(deduplication) = deduplication {
                    transaction
                        .execute(
                            "INSERT OR REPLACE INTO deduplication
                                (queue, scope, dedup_id, message_id, sequence_number, until_ms)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            params![
                                queue,
                                deduplication.scope,
                                deduplication.id,
                                message.message_id,
                                sequence,
                                deduplication.until_ms
                            ],
                        )
                        .map_err(storage("record a message's deduplication id"))?;
                }
                outcomes.push(Sent {
                    message_id: message.message_id.clone(),
                    sequence_number: sequence,
                    duplicate: false,
                });
            }
        }
        if messages
            .iter()
            .any(|(_, deduplication)| deduplication.is_some())
        {
            let now = messages
                .first()
                .map_or(0, |(message, _)| message.sent_at_ms);
            transaction
                .execute(
                    "DELETE FROM deduplication WHERE queue = ?1 AND until_ms <= ?2",
                    params![queue, now],
                )
                .map_err(storage("forget expired deduplication ids"))?;
        }
        Ok(outcomes)
    }

    pub(super) fn receive(
        connection: &Connection,
        queue: &str,
        claim: &Claim,
    ) -> Result<Claimed, SqsError> {
        let transaction = connection;
        if claim.sweep_expired {
            transaction
                .execute(
                    "DELETE FROM messages WHERE queue = ?1 AND sent_at_ms < ?2",
                    params![queue, claim.retention_cutoff_ms],
                )
                .map_err(storage("drop expired messages"))?;
        }
        let mut claimed = Claimed::default();
        // Redrive and claiming repeat until enough messages are claimed or none are left:
        // dead-lettered messages free places in the batch.
        let mut skipped_groups: std::collections::HashSet<String> =
            std::collections::HashSet::new();
        loop {
            let wanted = claim.max_messages - claimed.messages.len();
            if wanted == 0 {
                break;
            }
            let candidates: Vec<(i64, StoredMessage)> = if claim.fifo {
                // Visible messages in order, but none behind a message of its group that
                // is in flight or delayed: a group's order holds, one batch at a time.
                let mut statement = transaction
                    .prepare_cached(&format!(
                        "SELECT {MESSAGE_COLUMNS} FROM messages AS m
                         WHERE m.queue = ?1 AND m.group_id IS NOT NULL
                           AND m.available_at_ms <= ?2 AND m.sent_at_ms >= ?4
                           AND NOT EXISTS (
                               SELECT 1 FROM messages AS b
                               WHERE b.queue = ?1 AND b.group_id = m.group_id
                                 AND b.seq < m.seq AND b.available_at_ms > ?2)
                         ORDER BY m.seq LIMIT ?3"
                    ))
                    .map_err(storage("receive messages"))?;
                let rows = statement
                    .query_map(
                        params![
                            queue,
                            claim.now_ms,
                            (wanted + skipped_groups.len() * 10) as i64,
                            claim.retention_cutoff_ms
                        ],
                        message_from_row,
                    )
                    .map_err(storage("receive messages"))?;
                let mut taken = Vec::new();
                for row in rows {
                    let (seq, message) = row.map_err(storage("receive messages"))?;
                    // Groups whose head went to the dead-letter queue in this receive wait
                    // for the next one.
                    if skipped_groups.contains(message.group_id.as_deref().unwrap_or("")) {
                        continue;
                    }
                    taken.push((seq, message));
                    if taken.len() == wanted {
                        break;
                    }
                }
                taken
            } else {
                let mut statement = transaction
                    .prepare_cached(&format!(
                        "SELECT {MESSAGE_COLUMNS} FROM messages
                         WHERE queue = ?1 AND available_at_ms <= ?2 AND sent_at_ms >= ?4
                         ORDER BY available_at_ms, seq LIMIT ?3"
                    ))
                    .map_err(storage("receive messages"))?;
                let rows = statement
                    .query_map(
                        params![
                            queue,
                            claim.now_ms,
                            wanted as i64,
                            claim.retention_cutoff_ms
                        ],
                        message_from_row,
                    )
                    .map_err(storage("receive messages"))?;
                rows.collect::<Result<_, _>>()
                    .map_err(storage("receive messages"))?
            };
            if candidates.is_empty() {
                break;
            }
            let mut moved_any = false;
            for (seq, mut message) in candidates {
                if let Some((max_receives, dead_letter_queue, source_arn)) = &claim.redrive {
                    if message.receive_count >= *max_receives {
                        // Received as often as allowed: to the dead-letter queue, as a
                        // new, never-received message there.
                        transaction
                            .execute(
                                "UPDATE messages SET queue = ?2, available_at_ms = ?3, receive_count = 0,
                                    first_received_at_ms = NULL, receipt_token = NULL,
                                    dead_letter_source = ?4
                                 WHERE seq = ?1",
                                params![seq, dead_letter_queue, claim.now_ms, source_arn],
                            )
                            .map_err(storage("move a message to its dead-letter queue"))?;
                        claimed.dead_lettered += 1;
                        moved_any = true;
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
                let token = new_token();
                message.receive_count += 1;
                message.available_at_ms = claim.visible_until_ms;
                message.first_received_at_ms.get_or_insert(claim.now_ms);
                message.receipt_token = Some(token.clone());
                transaction
                    .prepare_cached(
                        "UPDATE messages SET available_at_ms = ?2, receive_count = ?3,
                            first_received_at_ms = ?4, receipt_token = ?5
                         WHERE seq = ?1",
                    )
                    .and_then(|mut update| {
                        update.execute(params![
                            seq,
                            message.available_at_ms,
                            message.receive_count,
                            message.first_received_at_ms,
                            token
                        ])
                    })
                    .map_err(storage("claim a message"))?;
                claimed.messages.push(message);
            }
            if !moved_any {
                break;
            }
        }
        Ok(claimed)
    }

    pub(super) fn delete(
        connection: &Connection,
        queue: &str,
        receipts: &[Receipt],
        now_ms: i64,
    ) -> Result<Vec<ReceiptOutcome>, SqsError> {
        receipts
            .iter()
            .map(|receipt| delete_one(connection, queue, receipt, now_ms))
            .collect()
    }

    fn delete_one(
        connection: &Connection,
        queue: &str,
        receipt: &Receipt,
        now_ms: i64,
    ) -> Result<ReceiptOutcome, SqsError> {
        // The usual case in one statement: the handle is the message's latest and, for a
        // FIFO message, still in flight. Only when nothing was deleted is the message
        // looked at, to tell why.
        let deleted = connection
            .prepare_cached(
                "DELETE FROM messages
                 WHERE message_id = ?1 AND queue = ?2 AND receipt_token = ?3
                   AND (group_id IS NULL OR available_at_ms > ?4)",
            )
            .and_then(|mut statement| {
                statement.execute(params![receipt.message_id, queue, receipt.token, now_ms])
            })
            .map_err(storage("delete a message"))?;
        if deleted > 0 {
            return Ok(ReceiptOutcome::Done);
        }
        let current: Option<(Option<String>, i64, Option<String>)> = connection
            .prepare_cached(
                "SELECT receipt_token, available_at_ms, group_id FROM messages
                 WHERE message_id = ?1 AND queue = ?2",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![receipt.message_id, queue], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })
                    .optional()
            })
            .map_err(storage("delete a message"))?;
        let Some((token, available_at_ms, group_id)) = current else {
            return Ok(ReceiptOutcome::Gone);
        };
        if token.as_deref() != Some(receipt.token.as_str()) {
            return Ok(ReceiptOutcome::Stale);
        }
        if group_id.is_some() && available_at_ms <= now_ms {
            // A FIFO message whose visibility timeout passed may go to another consumer
            // in order; the old receipt may no longer delete it.
            return Ok(ReceiptOutcome::NotInFlight);
        }
        // Not reached while this call holds the writer (the DELETE above would have
        // matched); kept so that the outcome follows from what was read.
        connection
            .prepare_cached("DELETE FROM messages WHERE message_id = ?1")
            .and_then(|mut statement| statement.execute([&receipt.message_id]))
            .map_err(storage("delete a message"))?;
        Ok(ReceiptOutcome::Done)
    }

    pub(super) fn change_visibility(
        connection: &Connection,
        queue: &str,
        receipt: &Receipt,
        now_ms: i64,
        visible_at_ms: i64,
    ) -> Result<ReceiptOutcome, SqsError> {
        let current: Option<(Option<String>, i64)> = connection
            .query_row(
                "SELECT receipt_token, available_at_ms FROM messages
                 WHERE message_id = ?1 AND queue = ?2",
                params![receipt.message_id, queue],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(storage("change a message's visibility"))?;
        let Some((token, available_at_ms)) = current else {
            return Ok(ReceiptOutcome::Gone);
        };
        if token.as_deref() != Some(receipt.token.as_str()) {
            return Ok(ReceiptOutcome::Stale);
        }
        if available_at_ms <= now_ms {
            return Ok(ReceiptOutcome::NotInFlight);
        }
        connection
            .execute(
                "UPDATE messages SET available_at_ms = ?2 WHERE message_id = ?1",
                params![receipt.message_id, visible_at_ms],
            )
            .map_err(storage("change a message's visibility"))?;
        Ok(ReceiptOutcome::Done)
    }

    pub(super) fn purge(connection: &Connection, queue: &str) -> Result<u64, SqsError> {
        let removed = connection
            .execute("DELETE FROM messages WHERE queue = ?1", [queue])
            .map_err(storage("purge a queue"))?;
        Ok(removed as u64)
    }

    pub(super) fn counts(
        connection: &Connection,
        queue: &str,
        now_ms: i64,
    ) -> Result<Counts, SqsError> {
        connection
            .query_row(
                "SELECT
                    COALESCE(SUM(available_at_ms <= ?2), 0),
                    COALESCE(SUM(available_at_ms > ?2 AND receive_count > 0), 0),
                    COALESCE(SUM(available_at_ms > ?2 AND receive_count = 0), 0)
                 FROM messages WHERE queue = ?1",
                params![queue, now_ms],
                |row| {
                    Ok(Counts {
                        visible: row.get::<_, i64>(0)? as u64,
                        not_visible: row.get::<_, i64>(1)? as u64,
                        delayed: row.get::<_, i64>(2)? as u64,
                    })
                },
            )
            .map_err(storage("count a queue's messages"))
    }

    pub(super) fn peek(
        connection: &Connection,
        queue: &str,
        limit: usize,
    ) -> Result<Vec<PeekedMessage>, SqsError> {
        let mut statement = connection
            .prepare_cached(
                "SELECT message_id, body, sent_at_ms, available_at_ms, receive_count, group_id
                 FROM messages WHERE queue = ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(storage("peek at a queue"))?;
        let rows = statement
            .query_map(params![queue, limit as i64], |row| {
                Ok(PeekedMessage {
                    message_id: row.get(0)?,
                    body: row.get(1)?,
                    sent_at_ms: row.get(2)?,
                    available_at_ms: row.get(3)?,
                    receive_count: row.get::<_, i64>(4)? as u32,
                    group_id: row.get(5)?,
                })
            })
            .map_err(storage("peek at a queue"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(storage("peek at a queue"))
    }

    pub(super) fn next_visible_at(
        connection: &Connection,
        queue: &str,
        now_ms: i64,
    ) -> Result<Option<i64>, SqsError> {
        connection
            .query_row(
                "SELECT MIN(available_at_ms) FROM messages WHERE queue = ?1 AND available_at_ms > ?2",
                params![queue, now_ms],
                |row| row.get(0),
            )
            .map_err(storage("find a queue's next visible message"))
    }

    pub(super) fn move_messages(
        connection: &Connection,
        from: &str,
        to: Option<&str>,
        limit: usize,
        now_ms: i64,
        queue_of_arn: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, u64>, SqsError> {
        let transaction = connection;
        let candidates: Vec<(i64, Option<String>)> = {
            let mut statement = transaction
                .prepare_cached(
                    "SELECT seq, dead_letter_source FROM messages
                     WHERE queue = ?1 AND available_at_ms <= ?2 ORDER BY seq LIMIT ?3",
                )
                .map_err(storage("move messages"))?;
            let rows = statement
                .query_map(params![from, now_ms, limit as i64], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .map_err(storage("move messages"))?;
            rows.collect::<Result<_, _>>()
                .map_err(storage("move messages"))?
        };
        let mut moved = BTreeMap::new();
        for (seq, source) in candidates {
            let destination = match to {
                Some(to) => Some(to.to_owned()),
                None => source.and_then(|arn| queue_of_arn.get(&arn).cloned()),
            };
            let Some(destination) = destination else {
                continue;
            };
            transaction
                .execute(
                    "UPDATE messages SET queue = ?2, available_at_ms = ?3, receive_count = 0,
                        first_received_at_ms = NULL, receipt_token = NULL, dead_letter_source = NULL
                     WHERE seq = ?1",
                    params![seq, destination, now_ms],
                )
                .map_err(storage("move a message"))?;
            *moved.entry(destination).or_insert(0) += 1;
        }
        Ok(moved)
    }
}

impl QueueBackend for SqliteQueues {
    fn queues(&self) -> Result<Vec<QueueRecord>, SqsError> {
        self.run(false, "list the queues", calls::queues)
    }

    fn put_queue(&self, queue: &QueueRecord) -> Result<(), SqsError> {
        let queue = queue.clone();
        self.run(true, "store a queue", move |connection| {
            calls::put_queue(connection, &queue)
        })
    }

    fn delete_queue(&self, name: &str) -> Result<(), SqsError> {
        let name = name.to_owned();
        self.run(true, "delete a queue", move |connection| {
            calls::delete_queue(connection, &name)
        })
    }

    fn send(
        &self,
        queue: &str,
        messages: &[(StoredMessage, Option<Deduplication>)],
    ) -> Result<Vec<Sent>, SqsError> {
        let (queue, messages) = (queue.to_owned(), messages.to_vec());
        self.run(true, "store a message", move |connection| {
            calls::send(connection, &queue, &messages)
        })
    }

    fn receive(&self, queue: &str, claim: &Claim) -> Result<Claimed, SqsError> {
        let (queue, claim) = (queue.to_owned(), claim.clone());
        self.run(false, "receive messages", move |connection| {
            calls::receive(connection, &queue, &claim)
        })
    }

    fn delete(
        &self,
        queue: &str,
        receipts: &[Receipt],
        now_ms: i64,
    ) -> Result<Vec<ReceiptOutcome>, SqsError> {
        let (queue, receipts) = (queue.to_owned(), receipts.to_vec());
        self.run(true, "delete messages", move |connection| {
            calls::delete(connection, &queue, &receipts, now_ms)
        })
    }

    fn send_async(
        &self,
        queue: &str,
        messages: Vec<(StoredMessage, Option<Deduplication>)>,
    ) -> BoxFuture<'static, Result<Vec<Sent>, SqsError>> {
        let queue = queue.to_owned();
        self.run_async(true, "store a message", move |connection| {
            calls::send(connection, &queue, &messages)
        })
    }

    fn receive_async(
        &self,
        queue: &str,
        claim: Claim,
    ) -> BoxFuture<'static, Result<(Claimed, Option<i64>), SqsError>> {
        let queue = queue.to_owned();
        self.run_async(false, "receive messages", move |connection| {
            let claimed = calls::receive(connection, &queue, &claim)?;
            let next = if claimed.messages.is_empty() {
                calls::next_visible_at(connection, &queue, claim.now_ms)?
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
    ) -> BoxFuture<'static, Result<Vec<ReceiptOutcome>, SqsError>> {
        let queue = queue.to_owned();
        self.run_async(true, "delete messages", move |connection| {
            calls::delete(connection, &queue, &receipts, now_ms)
        })
    }

    fn change_visibility(
        &self,
        queue: &str,
        receipt: &Receipt,
        now_ms: i64,
        visible_at_ms: i64,
    ) -> Result<ReceiptOutcome, SqsError> {
        let (queue, receipt) = (queue.to_owned(), receipt.clone());
        self.run(false, "change a message's visibility", move |connection| {
            calls::change_visibility(connection, &queue, &receipt, now_ms, visible_at_ms)
        })
    }

    fn purge(&self, queue: &str) -> Result<u64, SqsError> {
        let queue = queue.to_owned();
        self.run(true, "purge a queue", move |connection| {
            calls::purge(connection, &queue)
        })
    }

    fn peek(&self, queue: &str, limit: usize) -> Result<Vec<PeekedMessage>, SqsError> {
        let queue = queue.to_owned();
        self.run(false, "peek at a queue", move |connection| {
            calls::peek(connection, &queue, limit)
        })
    }

    fn counts(&self, queue: &str, now_ms: i64) -> Result<Counts, SqsError> {
        let queue = queue.to_owned();
        self.run(false, "count a queue's messages", move |connection| {
            calls::counts(connection, &queue, now_ms)
        })
    }

    fn next_visible_at(&self, queue: &str, now_ms: i64) -> Result<Option<i64>, SqsError> {
        let queue = queue.to_owned();
        self.run(
            false,
            "find a queue's next visible message",
            move |connection| calls::next_visible_at(connection, &queue, now_ms),
        )
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
        self.run(true, "move messages", move |connection| {
            calls::move_messages(
                connection,
                &from,
                to.as_deref(),
                limit,
                now_ms,
                &queue_of_arn,
            )
        })
    }

    fn move_tasks(&self) -> Result<Vec<MoveTask>, SqsError> {
        self.run(false, "read the message move tasks", tasks::all)
    }

    fn put_move_task(&self, task: &MoveTask) -> Result<(), SqsError> {
        let task = task.clone();
        self.run(true, "save a message move task", move |connection| {
            tasks::put(connection, &task)
        })
    }
}

/// Message move tasks in `move_tasks`.
mod tasks {
    use super::*;

    pub(super) fn all(connection: &Connection) -> Result<Vec<MoveTask>, SqsError> {
        let mut statement = connection
            .prepare(
                "SELECT handle, source_arn, destination_arn, max_per_second, status, moved,
                        to_move, failure_reason, started_at_ms
                 FROM move_tasks ORDER BY started_at_ms, rowid",
            )
            .map_err(storage("read the message move tasks"))?;
        let rows = statement
            .query_map([], |row| {
                Ok(MoveTask {
                    task_handle: row.get(0)?,
                    source_arn: row.get(1)?,
                    destination_arn: row.get(2)?,
                    max_messages_per_second: row.get(3)?,
                    status: row.get(4)?,
                    moved: row.get(5)?,
                    to_move: row.get(6)?,
                    failure_reason: row.get(7)?,
                    started_at_ms: row.get(8)?,
                })
            })
            .map_err(storage("read the message move tasks"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(storage("read the message move tasks"))
    }

    pub(super) fn put(connection: &Connection, task: &MoveTask) -> Result<(), SqsError> {
        connection
            .execute(
                "INSERT INTO move_tasks (handle, source_arn, destination_arn, max_per_second,
                        status, moved, to_move, failure_reason, started_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (handle) DO UPDATE SET status = excluded.status,
                        moved = excluded.moved, failure_reason = excluded.failure_reason",
                params![
                    task.task_handle,
                    task.source_arn,
                    task.destination_arn,
                    task.max_messages_per_second,
                    task.status,
                    task.moved,
                    task.to_move,
                    task.failure_reason,
                    task.started_at_ms,
                ],
            )
            .map_err(storage("save a message move task"))?;
        connection
            .execute(
                "DELETE FROM move_tasks WHERE source_arn = ?1 AND status != 'RUNNING'
                   AND handle NOT IN (SELECT handle FROM move_tasks WHERE source_arn = ?1
                                      ORDER BY started_at_ms DESC, rowid DESC LIMIT ?2)",
                params![task.source_arn, MOVE_TASKS_KEPT],
            )
            .map_err(storage("forget old message move tasks"))?;
        Ok(())
    }
}
