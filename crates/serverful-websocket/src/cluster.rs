//! Connections held by other nodes of a cluster (issue 22): each node records the
//! connections it holds in the shared database, and a `@connections` call that reaches a
//! node without the socket is handed to the node that has it.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::Method;

use crate::registry::Connection;

/// Where a connection held elsewhere lives, and what its authorization needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The node holding the socket, as the cluster names it.
    pub node_id: String,
    /// Where that node takes forwarded calls (its admin API).
    pub node_url: String,
    pub stack: String,
    pub api_id: String,
    pub stage: String,
}

/// What the node holding the socket answered to a forwarded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// The cluster's connections: implemented over the shared database and node-to-node
/// calls (the `serverful` binary), absent on a single server.
pub trait ClusterConnections: Send + Sync + 'static {
    /// Records that this node holds `connection` (before it counts as open).
    fn register(&self, connection: &Connection) -> BoxFuture<'static, ()>;
    /// Forgets it (closed).
    fn unregister(&self, id: &str) -> BoxFuture<'static, ()>;
    /// The live node holding connection `id`, if any.
    fn locate(&self, id: &str) -> BoxFuture<'static, Option<Owner>>;
    /// Hands a `@connections` call to the owner; `Err` when it cannot be reached.
    fn forward(
        &self,
        owner: &Owner,
        id: &str,
        method: Method,
        body: Bytes,
    ) -> BoxFuture<'static, Result<Forwarded, String>>;
}
