//! Serverful's PostgreSQL backends (issue 22, cluster mode): every node of a cluster
//! keeps its durable state in one PostgreSQL database, which holds it and arbitrates
//! between the nodes.
//!
//! - [`pool`]: one node's connections, each on a worker thread, and schema migrations
//!   under a lock with a version per component.
//! - [`store`]: the DynamoDB store's backend.
//! - [`cluster`]: leases on work and the nodes' heartbeats.
//! - [`checkpoints`]: how far each stream mapping got.

pub mod checkpoints;
pub mod cluster;
pub mod pool;
pub mod store;

pub use pool::{Database, DatabaseError, PoolSize};
pub use store::PostgresBackend;
