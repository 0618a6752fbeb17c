//! Leases and node membership ([`serverful_cluster`]) in the shared database. Times are
//! the database's (`now()`), so the nodes' clocks need not agree.

use std::sync::Arc;
use std::time::Duration;

use serverful_cluster::{ClusterError, Leases, NodeInfo, Nodes};

use crate::pool::{Database, DatabaseError};

const MIGRATIONS: &[&str] = &["
CREATE TABLE IF NOT EXISTS cluster_leases (
    name text PRIMARY KEY,
    owner text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS cluster_nodes (
    id text PRIMARY KEY,
    name text NOT NULL,
    admin_url text NOT NULL,
    started_at timestamptz NOT NULL,
    seen_at timestamptz NOT NULL
);
"];

/// The pool's errors as the cluster's.
struct Failure(ClusterError);

impl From<DatabaseError> for Failure {
    fn from(error: DatabaseError) -> Failure {
        Failure(ClusterError(error.to_string()))
    }
}

fn failed(error: impl std::fmt::Display) -> Failure {
    Failure(ClusterError(error.to_string()))
}

/// Creates the cluster's tables (once per database; every node may call it).
pub fn migrate(database: &Database) -> Result<(), ClusterError> {
    database
        .migrate("cluster", MIGRATIONS)
        .map_err(|error| ClusterError(error.to_string()))
}

/// This node's leases.
#[derive(Debug)]
pub struct PostgresLeases {
    database: Arc<Database>,
    /// This node's id ([`NodeInfo::id`]).
    owner: String,
}

impl PostgresLeases {
    /// The leases of node `owner`; the tables must exist ([`migrate`]).
    pub fn new(database: Arc<Database>, owner: &str) -> PostgresLeases {
        PostgresLeases {
            database,
            owner: owner.to_owned(),
        }
    }
}

impl Leases for PostgresLeases {
    fn hold(&self, name: &str, ttl: Duration) -> Result<bool, ClusterError> {
        let (name, owner) = (name.to_owned(), self.owner.clone());
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.database
            .run(move |client| {
                // Taken when free, expired, or already this node's; one statement, so
                // two nodes asking at once cannot both win.
                let granted = client
                    .query_opt(
                        "INSERT INTO cluster_leases (name, owner, expires_at)
                         VALUES ($1, $2, now() + make_interval(secs => $3::bigint / 1000.0))
                         ON CONFLICT (name) DO UPDATE
                           SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
                           WHERE cluster_leases.owner = EXCLUDED.owner
                              OR cluster_leases.expires_at < now()
                         RETURNING owner",
                        &[&name, &owner, &millis],
                    )
                    .map_err(failed)?;
                Ok(granted.is_some())
            })
            .map_err(|failure: Failure| failure.0)
    }

    fn release(&self, name: &str) -> Result<(), ClusterError> {
        let (name, owner) = (name.to_owned(), self.owner.clone());
        self.database
            .run(move |client| {
                client
                    .execute(
                        "DELETE FROM cluster_leases WHERE name = $1 AND owner = $2",
                        &[&name, &owner],
                    )
                    .map_err(failed)?;
                Ok(())
            })
            .map_err(|failure: Failure| failure.0)
    }
}

/// The cluster's nodes.
#[derive(Debug)]
pub struct PostgresNodes {
    database: Arc<Database>,
}

impl PostgresNodes {
    /// The nodes' table must exist ([`migrate`]).
    pub fn new(database: Arc<Database>) -> PostgresNodes {
        PostgresNodes { database }
    }
}

impl Nodes for PostgresNodes {
    fn heartbeat(&self, node: &NodeInfo) -> Result<(), ClusterError> {
        let node = node.clone();
        self.database
            .run(move |client| {
                client
                    .execute(
                        "INSERT INTO cluster_nodes (id, name, admin_url, started_at, seen_at)
                         VALUES ($1, $2, $3, now(), now())
                         ON CONFLICT (id) DO UPDATE SET seen_at = now()",
                        &[&node.id, &node.name, &node.admin_url],
                    )
                    .map_err(failed)?;
                Ok(())
            })
            .map_err(|failure: Failure| failure.0)
    }

    fn list(&self, within: Duration) -> Result<Vec<NodeInfo>, ClusterError> {
        let millis = i64::try_from(within.as_millis()).unwrap_or(i64::MAX);
        self.database
            .run(move |client| {
                let rows = client
                    .query(
                        "SELECT id, name, admin_url,
                                (extract(epoch FROM started_at) * 1000)::bigint,
                                (extract(epoch FROM seen_at) * 1000)::bigint,
                                (extract(epoch FROM now() - seen_at) * 1000)::bigint
                         FROM cluster_nodes
                         WHERE seen_at > now() - make_interval(secs => $1::bigint / 1000.0)
                         ORDER BY started_at, id",
                        &[&millis],
                    )
                    .map_err(failed)?;
                Ok(rows
                    .into_iter()
                    .map(|row| NodeInfo {
                        id: row.get(0),
                        name: row.get(1),
                        admin_url: row.get(2),
                        started_ms: row.get(3),
                        seen_ms: row.get(4),
                        silent_ms: row.get(5),
                    })
                    .collect())
            })
            .map_err(|failure: Failure| failure.0)
    }

    fn leave(&self, id: &str) -> Result<(), ClusterError> {
        let id = id.to_owned();
        self.database
            .run(move |client| {
                client
                    .execute("DELETE FROM cluster_nodes WHERE id = $1", &[&id])
                    .map_err(failed)?;
                Ok(())
            })
            .map_err(|failure: Failure| failure.0)
    }
}
