//! The durable queue of asynchronous events, as a trait the workers use: SQLite
//! ([`crate::SqliteQueue`]) on one node, PostgreSQL (`serverful-postgres`) for a cluster,
//! where a claim lasts until its node's lease runs out. Nothing above it knows SQL.

/// An event to queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// The invocation's request id (answered to the caller, and in the records).
    pub id: String,
    pub stack: String,
    /// The function's logical id in the stack.
    pub function: String,
    /// Lambda's qualifier as the caller gave it (`None`: `$LATEST`).
    pub qualifier: Option<String>,
    /// The payload, valid JSON.
    pub payload: Vec<u8>,
    /// When it was accepted, in milliseconds since the Unix epoch.
    pub enqueued_at_ms: i64,
}

/// An event in the queue, with what its attempts so far left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedEvent {
    pub event: NewEvent,
    /// Attempts that ran the function (a throttle is not one).
    pub attempts: u32,
    /// Throttles in a row since the last attempt that ran.
    pub throttles: u32,
    /// When it is due next, in milliseconds since the Unix epoch.
    pub due_at_ms: i64,
}

/// The events one function has waiting, for metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionBacklog {
    pub stack: String,
    pub function: String,
    /// Events queued (claimed or not).
    pub events: u64,
    /// When the oldest of them was accepted, in milliseconds since the Unix epoch.
    pub oldest_enqueued_at_ms: i64,
}

/// What a queue backend can fail with.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue's storage failed; holds the action and the storage's own message.
    #[error("failed to {action}: {message}")]
    Storage {
        action: &'static str,
        message: String,
    },
}

/// The durable queue. Every method blocks on storage: call it off the async threads.
///
/// An event is claimed while a worker delivers it; a claim lasts until the event is
/// rescheduled or removed, or until the queue is opened again (a restart), when every
/// claimed event is due again; a queue shared by several nodes ends a claim when the
/// node holding it stops renewing it (it died). Delivery is at least once.
pub trait QueueBackend: Send + Sync + 'static {
    /// Adds an event, due now. Returns once it is durable (it survives `kill -9`).
    fn enqueue(&self, event: &NewEvent) -> Result<(), QueueError>;
    /// Claims up to `limit` unclaimed events due at `now_ms`, earliest first.
    fn claim_due(&self, now_ms: i64, limit: usize) -> Result<Vec<QueuedEvent>, QueueError>;
    /// When the earliest unclaimed event is due, if any is queued.
    fn next_due(&self) -> Result<Option<i64>, QueueError>;
    /// Releases a claimed event, due again at `due_at_ms` with its counters updated.
    fn reschedule(
        &self,
        id: &str,
        attempts: u32,
        throttles: u32,
        due_at_ms: i64,
    ) -> Result<(), QueueError>;
    /// Removes an event: it was delivered, or given up on.
    fn remove(&self, id: &str) -> Result<(), QueueError>;
    /// Removes every event of a stack (the stack was deleted). Returns how many.
    fn remove_stack(&self, stack: &str) -> Result<usize, QueueError>;
    /// How many events are queued, claimed or not.
    fn len(&self) -> Result<usize, QueueError>;
    /// The events queued per function, claimed or not.
    fn backlog(&self) -> Result<Vec<FunctionBacklog>, QueueError>;
    /// Whether no event is queued.
    fn is_empty(&self) -> Result<bool, QueueError> {
        Ok(self.len()? == 0)
    }
}
