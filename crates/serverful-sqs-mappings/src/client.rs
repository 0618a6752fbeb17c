//! What a poller needs from a queue: the few SQS operations Lambda's pollers use, as a trait
//! the server implements over its queue engine (and tests over an in-memory queue).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;

/// A queue's settings that matter to its pollers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    /// A FIFO queue (`FifoQueue: true`): its batches keep the order of each message group.
    pub fifo: bool,
    /// The queue's `VisibilityTimeout`: how long a received message stays hidden.
    pub visibility_timeout: Duration,
}

/// A message attribute's value, as `ReceiveMessage` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttributeValue {
    /// `String`, `Number`, `Binary`, or one of those with a custom suffix (`Number.int`).
    pub data_type: String,
    /// For `String` and `Number` types.
    pub string_value: Option<String>,
    /// For `Binary` types: the raw bytes (the event shows them in base64).
    pub binary_value: Option<Bytes>,
}

/// One message as `ReceiveMessage` returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    /// The handle of this receive, for [`QueueClient::delete`] and
    /// [`QueueClient::change_visibility`].
    pub receipt_handle: String,
    pub body: String,
    /// The message's system attributes, as `ReceiveMessage` with `AttributeNames: [All]`
    /// gives them, by their SQS names: `ApproximateReceiveCount`, `SentTimestamp`,
    /// `SenderId`, `ApproximateFirstReceiveTimestamp`, and when they apply
    /// `AWSTraceHeader`, `DeadLetterQueueSourceArn`, and for FIFO queues
    /// `MessageGroupId`, `MessageDeduplicationId`, `SequenceNumber`. They go into the
    /// event's `attributes` as they are.
    pub attributes: BTreeMap<String, String>,
    /// The message attributes (`MessageAttributeNames: [All]`).
    pub message_attributes: BTreeMap<String, MessageAttributeValue>,
    /// The MD5 digest of the body, in hex.
    pub md5_of_body: String,
    /// The MD5 digest of the message attributes, in hex; `None` when there are none.
    pub md5_of_message_attributes: Option<String>,
}

impl ReceivedMessage {
    /// The FIFO message group of the message, if it has one.
    pub fn message_group_id(&self) -> Option<&str> {
        self.attributes.get("MessageGroupId").map(String::as_str)
    }
}

/// Why a queue operation failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum QueueError {
    /// No queue has this ARN (not created yet, or deleted).
    #[error("the queue {0} does not exist")]
    NoSuchQueue(String),
    /// Anything else (the queue's storage failed, the server is stopping); holds the reason.
    #[error("{0}")]
    Unavailable(String),
}

/// The SQS operations a poller uses, on queues named by ARN. Implementations are cheap to
/// call concurrently: a mapping has one receive under way and up to `MaximumConcurrency`
/// batches deleting or changing visibility at once.
pub trait QueueClient: Send + Sync + 'static {
    /// The queue's settings, or [`QueueError::NoSuchQueue`] while it does not exist.
    fn attributes(&self, queue_arn: &str) -> BoxFuture<'static, Result<QueueInfo, QueueError>>;

    /// `ReceiveMessage` with every system and message attribute: at most `max_messages`
    /// messages (the implementation may return fewer, e.g. SQS's 10), waiting up to `wait`
    /// (a long poll, which returns as soon as a message is available; sub-second waits
    /// are honoured or rounded up) when none is, hidden for `visibility_timeout` or the
    /// queue's own when `None`. FIFO queues hand out a message group's messages in order
    /// and none while an earlier one of the group is in flight.
    ///
    /// The future may be dropped while it waits (the mapping stops): that must receive
    /// nothing, or leave what it received to reappear after the visibility timeout.
    fn receive(
        &self,
        queue_arn: &str,
        max_messages: usize,
        wait: Duration,
        visibility_timeout: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<ReceivedMessage>, QueueError>>;

    /// `DeleteMessageBatch` for the messages of these receipt handles. A handle whose
    /// message was deleted already, or received again since, is skipped without an error
    /// (the message stays or is gone, as SQS decides).
    fn delete(
        &self,
        queue_arn: &str,
        receipt_handles: Vec<String>,
    ) -> BoxFuture<'static, Result<(), QueueError>>;

    /// `ChangeMessageVisibilityBatch`: the messages of these receipt handles become visible
    /// again after `timeout` (zero: at once). Stale handles are skipped as in
    /// [`QueueClient::delete`].
    fn change_visibility(
        &self,
        queue_arn: &str,
        receipt_handles: Vec<String>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<(), QueueError>>;
}
