//! The durable state of schedules behind [`ScheduleBackend`]: each schedule's rate anchor
//! and the last tick it fired, so that a tick fires once (also across a deploy, a restart
//! or several nodes sharing PostgreSQL, whose backend is `serverful-postgres`'s) and a
//! one-time `at()` schedule never fires again.

use chrono::{DateTime, Utc};

/// Names one schedule: its stack and its name (unique within the stack).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScheduleKey {
    pub stack: String,
    pub name: String,
}

/// What the backend keeps of one schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduleRecord {
    /// Where a rate without a `StartDate` counts its periods from: the moment the
    /// schedule (with this expression) was first started, as AWS counts from a rule's
    /// creation.
    pub anchor: DateTime<Utc>,
    /// The latest tick that fired; no tick at or before it fires again.
    pub last_tick: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("failed to {action} in the schedule state {path}: {message}")]
    Storage {
        action: &'static str,
        path: String,
        message: String,
    },
}

/// Durable schedule state. Implementations must make `claim` atomic: of two callers
/// claiming the same tick, one wins.
pub trait ScheduleBackend: std::fmt::Debug + Send + Sync + 'static {
    /// The schedule's record. A schedule seen for the first time, or whose expression
    /// changed, gets `anchor`; its last tick is kept either way.
    fn register(
        &self,
        key: &ScheduleKey,
        expression: &str,
        anchor: DateTime<Utc>,
    ) -> Result<ScheduleRecord, BackendError>;

    /// Records `tick` as fired when it is later than the last fired tick, durably, before
    /// it returns `true`; `false` when it (or a later one) fired already.
    fn claim(&self, key: &ScheduleKey, tick: DateTime<Utc>) -> Result<bool, BackendError>;

    /// Forgets the schedules of a deleted stack.
    fn forget_stack(&self, stack: &str) -> Result<(), BackendError>;

    /// Where a schedule clock whose minute lasts `minute` (shorter than a real one)
    /// starts: `proposed` (this node's start) for a backend of one node; for one that
    /// several nodes share, the first node's, so that every node's faster clock reads
    /// the same time and they claim the same ticks.
    fn clock_origin(
        &self,
        minute: std::time::Duration,
        proposed: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, BackendError> {
        let _ = minute;
        Ok(proposed)
    }
}
