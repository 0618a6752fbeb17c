//! Serverful's PostgreSQL backends (issue 22, cluster mode): every node of a cluster
//! keeps its durable state in one PostgreSQL database, which holds it and arbitrates
//! between the nodes.
//!
//! - [`pool`]: one node's connections, each on a worker thread, and schema migrations
//!   under a lock with a version per component.
//! - [`store`]: the DynamoDB store's backend.
//! - [`cluster`]: leases on work and the nodes' heartbeats.
//! - [`checkpoints`]: how far each stream mapping got.
//! - [`schedules`]: the schedules' state (a tick fires once across the cluster).
//! - [`state`]: the platform's stacks, versions and their sources (a deploy through
//!   one node is served by all).
//! - [`async_queue`]: the queue of asynchronous invocations (any node runs them).

pub mod api_keys;
pub mod async_queue;
pub mod checkpoints;
pub mod cluster;
pub mod invocations;
pub mod logs;
pub mod pool;
pub mod schedules;
pub mod sns;
pub mod sqs;
pub mod state;
pub mod store;

pub use async_queue::{Lease, PostgresQueue};
pub use pool::{Database, DatabaseError, PoolSize};
pub use schedules::PostgresSchedules;
pub use store::PostgresBackend;
