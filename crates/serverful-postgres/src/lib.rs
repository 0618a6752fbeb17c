//! Serverful's PostgreSQL backends (issue 22, cluster mode): every node of a cluster
//! keeps its durable state in one PostgreSQL database, which holds it and arbitrates
//! between the nodes.
//!
//! - [`pool`]: one node's connections, each on a worker thread, and schema migrations
//!   under a lock with a version per component.
//! - [`store`]: the DynamoDB store's backend.

pub mod pool;
pub mod sqs;
pub mod store;

pub use pool::{Database, DatabaseError, PoolSize};
pub use store::PostgresBackend;
