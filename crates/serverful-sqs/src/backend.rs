//! The durable state of queues, as a trait the engine uses: SQLite
//! ([`crate::SqliteQueues`]) for one node, PostgreSQL (`serverful-postgres`) for a
//! cluster's nodes sharing one database ([`QueueBackend::is_shared`]). Each method is one atomic step of SQS's
//! semantics (a send with its deduplication, a receive with its redrive), so that a
//! backend can run it as one transaction. Nothing above it knows SQL.

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;

use crate::error::SqsError;
use crate::message::MessageAttributes;

/// A queue as stored: its name, attributes (already checked) and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub created_at_ms: i64,
    pub modified_at_ms: i64,
}

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub message_id: String,
    pub body: String,
    pub attributes: MessageAttributes,
    pub system_attributes: MessageAttributes,
    /// When it was sent, in milliseconds since the Unix epoch.
    pub sent_at_ms: i64,
    /// When it is next visible (after its delay, or its visibility timeout).
    pub available_at_ms: i64,
    pub receive_count: u32,
    pub first_received_at_ms: Option<i64>,
    /// The token of the latest receive (part of its receipt handle).
    pub receipt_token: Option<String>,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
    /// FIFO queues' sequence number (the message's position in the store).
    pub sequence_number: Option<String>,
    /// The account id (or principal) that sent it.
    pub sender_id: String,
    /// The ARN of the queue it was dead-lettered from, if it was.
    pub dead_letter_source_arn: Option<String>,
}

/// A FIFO send's deduplication: the id, and the scope it is unique in (the group under
/// `DeduplicationScope=messageGroup`, else empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deduplication {
    pub scope: String,
    pub id: String,
    /// Until when a send with the same id is a duplicate.
    pub until_ms: i64,
}

/// What a send stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The id of the message stored, or of the earlier one this send duplicated.
    pub message_id: String,
    pub sequence_number: Option<String>,
    /// Whether the send was a duplicate within the deduplication interval.
    pub duplicate: bool,
}

/// How to claim messages for one receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub now_ms: i64,
    pub max_messages: usize,
    /// When the claimed messages become visible again.
    pub visible_until_ms: i64,
    /// FIFO: in order, at most one group's batch in flight at a time per group.
    pub fifo: bool,
    /// The queue's redrive: messages already received this many times move to the
    /// dead-letter queue named instead of being claimed again.
    pub redrive: Option<(u32, String, String)>,
    /// Messages sent before this are past their retention: never claimed.
    pub retention_cutoff_ms: i64,
    /// Whether to also drop them from the store now (the engine asks at most once a
    /// second per queue, since finding them reads the whole queue).
    pub sweep_expired: bool,
}

/// What a receive claimed, and how many messages it moved to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Claimed {
    pub messages: Vec<StoredMessage>,
    pub dead_lettered: usize,
}

/// Which message a receipt handle refers to, and which receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub message_id: String,
    pub token: String,
}

/// What became of a delete or visibility change by receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// Done.
    Done,
    /// The message was received again since: the handle is no longer its latest.
    Stale,
    /// The message is not in flight (its visibility timeout passed).
    NotInFlight,
    /// No such message (deleted, or never existed).
    Gone,
}

/// The approximate counts of `GetQueueAttributes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub visible: u64,
    pub not_visible: u64,
    pub delayed: u64,
}

/// A message move task's state, as `ListMessageMoveTasks` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveTask {
    pub task_handle: String,
    /// `RUNNING`, `COMPLETED`, `CANCELLING`, `CANCELLED` or `FAILED`.
    pub status: String,
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub max_messages_per_second: Option<u32>,
    pub moved: u64,
    pub to_move: u64,
    pub failure_reason: Option<String>,
    pub started_at_ms: i64,
}

/// How many tasks of one source queue are kept (`ListMessageMoveTasks` shows ten at most).
pub const MOVE_TASKS_KEPT: usize = 10;

/// A message as [`QueueBackend::peek`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeekedMessage {
    pub message_id: String,
    pub body: String,
    pub sent_at_ms: i64,
    /// When it is (or was) visible to receivers.
    pub available_at_ms: i64,
    pub receive_count: u32,
    /// A FIFO queue's message group.
    pub group_id: Option<String>,
}

/// The durable state of every queue. Every method blocks on storage: call it off the
/// async threads; the `_async` ones (the hot paths: send, receive, delete) return a future
/// instead, for async callers. Methods that change messages return (or their futures end)
/// once the change is durable.
pub trait QueueBackend: Send + Sync + 'static {
    /// Every queue.
    fn queues(&self) -> Result<Vec<QueueRecord>, SqsError>;
    /// One queue, if it exists.
    fn queue(&self, name: &str) -> Result<Option<QueueRecord>, SqsError> {
        Ok(self
            .queues()?
            .into_iter()
            .find(|record| record.name == name))
    }
    /// Whether other processes (a cluster's other nodes) change the same queues: the
    /// engine then looks a queue it does not know up in the backend, rereads the queues
    /// when [`QueueBackend::catalog_version`] moves, and long polls look at the backend
    /// again every moment, since a send on another node wakes no one here.
    fn is_shared(&self) -> bool {
        false
    }
    /// A number that changes whenever a queue is created, changed or deleted (only
    /// asked of a shared backend).
    fn catalog_version(&self) -> Result<u64, SqsError> {
        Ok(0)
    }
    /// Creates or replaces a queue's record (its messages stay).
    fn put_queue(&self, queue: &QueueRecord) -> Result<(), SqsError>;
    /// Creates a queue's record unless one of that name exists, which it answers
    /// instead (on a shared backend another node may have created it a moment ago).
    fn insert_queue(&self, queue: &QueueRecord) -> Result<Option<QueueRecord>, SqsError> {
        self.put_queue(queue).map(|()| None)
    }
    /// Deletes a queue and its messages.
    fn delete_queue(&self, name: &str) -> Result<(), SqsError>;
    /// Stores messages in `queue`, skipping those whose deduplication id was seen within
    /// its interval. Returns one outcome per message, in order.
    fn send(
        &self,
        queue: &str,
        messages: &[(StoredMessage, Option<Deduplication>)],
    ) -> Result<Vec<Sent>, SqsError>;
    /// Claims visible messages (see [`Claim`]), giving each a new receipt token.
    fn receive(&self, queue: &str, claim: &Claim) -> Result<Claimed, SqsError>;
    /// Deletes messages by their latest receipts, in one durable write; one outcome per
    /// receipt, in order.
    fn delete(
        &self,
        queue: &str,
        receipts: &[Receipt],
        now_ms: i64,
    ) -> Result<Vec<ReceiptOutcome>, SqsError>;
    /// [`QueueBackend::send`] for async callers: no thread waits while the write
    /// becomes durable.
    fn send_async(
        &self,
        queue: &str,
        messages: Vec<(StoredMessage, Option<Deduplication>)>,
    ) -> BoxFuture<'static, Result<Vec<Sent>, SqsError>>;
    /// [`QueueBackend::receive`] for async callers; when nothing was claimed, also when
    /// the earliest message not visible at the claim's time becomes visible
    /// ([`QueueBackend::next_visible_at`]), read in the same step.
    fn receive_async(
        &self,
        queue: &str,
        claim: Claim,
    ) -> BoxFuture<'static, Result<(Claimed, Option<i64>), SqsError>>;
    /// [`QueueBackend::delete`] for async callers.
    fn delete_async(
        &self,
        queue: &str,
        receipts: Vec<Receipt>,
        now_ms: i64,
    ) -> BoxFuture<'static, Result<Vec<ReceiptOutcome>, SqsError>>;
    /// Makes an in-flight message visible at `visible_at_ms` instead.
    fn change_visibility(
        &self,
        queue: &str,
        receipt: &Receipt,
        now_ms: i64,
        visible_at_ms: i64,
    ) -> Result<ReceiptOutcome, SqsError>;
    /// Deletes every message of a queue. Returns how many.
    fn purge(&self, queue: &str) -> Result<u64, SqsError>;
    /// A FIFO receive attempt's answer (the engine's encoding) recorded by any node and
    /// not expired at `now_ms`. Only a shared backend is asked; it forgets a queue's
    /// attempts when one of its FIFO messages is deleted or has its visibility changed, as
    /// the engine does with its own.
    fn receive_attempt(
        &self,
        _queue: &str,
        _attempt_id: &str,
        _now_ms: i64,
    ) -> Result<Option<String>, SqsError> {
        Ok(None)
    }
    /// Records a FIFO receive attempt's answer until `until_ms` (and forgets the queue's
    /// attempts expired at `now_ms`). It may return before the record is durable: a retry
    /// comes after the answer reached the client, and a lost record only makes the retry
    /// receive anew.
    fn put_receive_attempt(
        &self,
        _queue: &str,
        _attempt_id: &str,
        _now_ms: i64,
        _until_ms: i64,
        _answer: String,
    ) {
    }
    /// Records a purge of `queue` at `now_ms` unless another was recorded less than
    /// `interval_ms` before; answers whether it was recorded. Only a shared backend is
    /// asked (the engine's own guard covers one process): a purge through another node
    /// counts too.
    fn claim_purge(&self, _queue: &str, _now_ms: i64, _interval_ms: i64) -> Result<bool, SqsError> {
        Ok(true)
    }
    /// The approximate counts at `now_ms`.
    fn counts(&self, queue: &str, now_ms: i64) -> Result<Counts, SqsError>;
    /// The first `limit` messages of `queue` in the order they were sent, read without
    /// receiving them: no receipt, no visibility change, no receive count (the web
    /// console's peek).
    fn peek(&self, queue: &str, limit: usize) -> Result<Vec<PeekedMessage>, SqsError>;
    /// When the earliest message that is not visible at `now_ms` becomes visible.
    fn next_visible_at(&self, queue: &str, now_ms: i64) -> Result<Option<i64>, SqsError>;
    /// Moves up to `limit` visible messages of `from` to `to`, or, with `to` `None`, each
    /// back to the queue it was dead-lettered from, found by its ARN in `queue_of_arn`
    /// (messages without one stay). Returns the queues that received messages, with how
    /// many each.
    fn move_messages(
        &self,
        from: &str,
        to: Option<&str>,
        limit: usize,
        now_ms: i64,
        queue_of_arn: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, u64>, SqsError>;
    /// Claims (or renews the claim on) an unfinished move task for `runner` until
    /// `now_ms + lease_ms`, unless another runner's claim is still good; answers whether
    /// `runner` holds it. Only a shared backend is asked: there, one node at a time runs
    /// a task, and another takes it over once its node stops renewing.
    fn claim_move_task(
        &self,
        _handle: &str,
        _runner: &str,
        _now_ms: i64,
        _lease_ms: i64,
    ) -> Result<bool, SqsError> {
        Ok(true)
    }
    /// Every message move task kept, oldest first.
    fn move_tasks(&self) -> Result<Vec<MoveTask>, SqsError>;
    /// Creates or updates a move task, and forgets its source's tasks beyond the latest
    /// [`MOVE_TASKS_KEPT`].
    fn put_move_task(&self, task: &MoveTask) -> Result<(), SqsError>;
}
