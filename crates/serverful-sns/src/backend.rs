//! Durable state of topics, as a trait the engine uses: SQLite now
//! ([`crate::SqliteTopics`]), PostgreSQL later. Nothing above it knows SQL.

use std::collections::BTreeMap;

/// A topic as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRecord {
    pub name: String,
    /// Its attributes as set (`DisplayName`, `Policy`, `FifoTopic`, ...), without the
    /// ones SNS computes.
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// A subscription as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// `{topic ARN}:{uuid}`.
    pub arn: String,
    pub topic: String,
    /// `lambda`, `sqs`, `http` or `https`.
    pub protocol: String,
    pub endpoint: String,
    /// Its attributes as set (`FilterPolicy`, `RawMessageDelivery`, ...).
    pub attributes: BTreeMap<String, String>,
    /// The token a `ConfirmSubscription` must bring, while it is pending.
    pub pending_token: Option<String>,
}

/// A message to queue for delivery to subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub id: String,
    pub topic: String,
    /// The stored message (JSON, the engine's own shape).
    pub payload: Vec<u8>,
    /// The subscriptions it goes to, each with the FIFO message group it is ordered in.
    pub deliveries: Vec<String>,
    /// The FIFO message group, which orders deliveries per subscription.
    pub group: Option<String>,
    /// FIFO deduplication: the id, and when it was published (ms since the epoch).
    pub deduplication: Option<(String, i64)>,
    /// Whether the topic numbers its messages (FIFO).
    pub sequenced: bool,
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// Queued, with its FIFO sequence number.
    Queued { sequence_number: Option<String> },
    /// A duplicate within the deduplication window: the first message's id and number.
    Duplicate {
        message_id: String,
        sequence_number: Option<String>,
    },
}

/// A delivery taken by a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub message_id: String,
    pub subscription: String,
    pub payload: Vec<u8>,
    pub sequence_number: Option<String>,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the message was queued, in milliseconds since the Unix epoch.
    pub queued_at_ms: i64,
}

/// What a backend can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("failed to {action}: {message}")]
    Storage {
        action: &'static str,
        message: String,
    },
}

/// How long FIFO deduplication ids are remembered.
pub const DEDUPLICATION_WINDOW_MS: i64 = 5 * 60 * 1000;

/// The durable state of topics. Every method blocks on storage: call it off the async
/// threads. A delivery is claimed while a worker runs it; claims are released when the
/// state is opened again, so a delivery in flight at a crash runs again (at least once).
pub trait TopicBackend: Send + Sync + 'static {
    /// Creates the topic unless it exists; returns the stored one.
    fn create_topic(&self, topic: &TopicRecord) -> Result<TopicRecord, BackendError>;
    fn topic(&self, name: &str) -> Result<Option<TopicRecord>, BackendError>;
    /// Replaces a topic's attributes and tags.
    fn update_topic(&self, topic: &TopicRecord) -> Result<(), BackendError>;
    /// Topic names after `after`, in order, at most `limit`.
    fn list_topics(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, BackendError>;
    /// Deletes a topic, its subscriptions and their queued deliveries.
    fn delete_topic(&self, name: &str) -> Result<bool, BackendError>;

    fn put_subscription(&self, subscription: &SubscriptionRecord) -> Result<(), BackendError>;
    fn subscription(&self, arn: &str) -> Result<Option<SubscriptionRecord>, BackendError>;
    /// Subscriptions (of one topic, or all) whose ARN sorts after `after`.
    fn list_subscriptions(
        &self,
        topic: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SubscriptionRecord>, BackendError>;
    /// Deletes a subscription and its queued deliveries.
    fn delete_subscription(&self, arn: &str) -> Result<bool, BackendError>;

    /// Queues a message for its deliveries, durably (it survives `kill -9`), unless it is
    /// a FIFO duplicate.
    fn publish(&self, message: &NewMessage, now_ms: i64) -> Result<Published, BackendError>;
    /// Claims up to `limit` unclaimed deliveries due at `now_ms`; of a FIFO message group,
    /// only a subscription's oldest delivery is ever claimable.
    fn claim_due(&self, now_ms: i64, limit: usize) -> Result<Vec<ClaimedDelivery>, BackendError>;
    /// When the earliest unclaimed delivery is due.
    fn next_due(&self) -> Result<Option<i64>, BackendError>;
    /// Releases a claimed delivery, due again at `due_at_ms`.
    fn reschedule(&self, id: i64, attempts: u32, due_at_ms: i64) -> Result<(), BackendError>;
    /// Removes a delivery: done or given up on.
    fn finish(&self, id: i64) -> Result<(), BackendError>;
    /// How many deliveries are queued.
    fn queued(&self) -> Result<usize, BackendError>;
}
