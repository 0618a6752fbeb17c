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
CREATE TABLE IF NOT EXISTS cluster_settings (
    name text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE IF NOT EXISTS websocket_connections (
    id text PRIMARY KEY,
    node_id text NOT NULL,
    stack text NOT NULL,
    api_id text NOT NULL,
    stage text NOT NULL
);
CREATE INDEX IF NOT EXISTS websocket_connections_by_node ON websocket_connections (node_id);
"];

/// How long a node may stay silent before its connections count as gone.
const NODE_SILENCE_SECS: i64 = 10;

/// A setting every node shares, made by the first node that asks: `candidate` when
/// nobody set it yet, else what the first node set (secrets the nodes must agree on).
pub fn shared_setting(
    database: &Database,
    name: &str,
    candidate: String,
) -> Result<String, ClusterError> {
    let name = name.to_owned();
    database
        .run(move |client| {
            client
                .execute(
                    "INSERT INTO cluster_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                    &[&name, &candidate],
                )
                .map_err(failed)?;
            let row = client
                .query_one("SELECT value FROM cluster_settings WHERE name = $1", &[&name])
                .map_err(failed)?;
            Ok(row.get(0))
        })
        .map_err(|failure: Failure| failure.0)
}

/// A WebSocket connection as the cluster records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    pub id: String,
    pub node_id: String,
    pub stack: String,
    pub api_id: String,
    pub stage: String,
}

/// Which node holds each WebSocket connection.
#[derive(Debug)]
pub struct PostgresConnections {
    database: Arc<Database>,
}

impl PostgresConnections {
    /// The table must exist ([`migrate`]).
    pub fn new(database: Arc<Database>) -> PostgresConnections {
        PostgresConnections { database }
    }

    /// Records a connection held by its node.
    pub fn register(&self, record: &ConnectionRecord) -> Result<(), ClusterError> {
        let record = record.clone();
        self.database
            .run(move |client| {
                client
                    .execute(
                        "INSERT INTO websocket_connections (id, node_id, stack, api_id, stage) VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (id) DO UPDATE SET node_id = EXCLUDED.node_id, stack = EXCLUDED.stack,
                           api_id = EXCLUDED.api_id, stage = EXCLUDED.stage",
                        &[&record.id, &record.node_id, &record.stack, &record.api_id, &record.stage],
                    )
                    .map_err(failed)?;
                Ok(())
            })
            .map_err(|failure: Failure| failure.0)
    }

    /// Forgets a closed connection.
    pub fn unregister(&self, id: &str) -> Result<(), ClusterError> {
        let id = id.to_owned();
        self.database
            .run(move |client| {
                client
                    .execute("DELETE FROM websocket_connections WHERE id = $1", &[&id])
                    .map_err(failed)?;
                Ok(())
            })
            .map_err(|failure: Failure| failure.0)
    }

    /// The connection and the admin URL of the node holding it, when that node is alive
    /// (a dead node's connections died with it, and are forgotten here).
    pub fn locate(&self, id: &str) -> Result<Option<(ConnectionRecord, String)>, ClusterError> {
        let id = id.to_owned();
        self.database
            .run(move |client| {
                let row = client
                    .query_opt(
                        "SELECT c.node_id, c.stack, c.api_id, c.stage, n.admin_url,
                                n.seen_at > now() - make_interval(secs => $2::bigint)
                         FROM websocket_connections c LEFT JOIN cluster_nodes n ON n.id = c.node_id
                         WHERE c.id = $1",
                        &[&id, &NODE_SILENCE_SECS],
                    )
                    .map_err(failed)?;
                let Some(row) = row else { return Ok(None) };
                let alive: Option<bool> = row.get(5);
                if alive != Some(true) {
                    client
                        .execute("DELETE FROM websocket_connections WHERE id = $1", &[&id])
                        .map_err(failed)?;
                    return Ok(None);
                }
                Ok(Some((
                    ConnectionRecord {
                        id: id.clone(),
                        node_id: row.get(0),
                        stack: row.get(1),
                        api_id: row.get(2),
                        stage: row.get(3),
                    },
                    row.get(4),
                )))
            })
            .map_err(|failure: Failure| failure.0)
    }

    /// Forgets every connection a node recorded (it starts afresh, holding none).
    pub fn forget_node(&self, node_id: &str) -> Result<(), ClusterError> {
        let node_id = node_id.to_owned();
        self.database
            .run(move |client| {
                client
                    .execute(
                        "DELETE FROM websocket_connections WHERE node_id = $1",
                        &[&node_id],
                    )
                    .map_err(failed)?;
                Ok(())
            })
            .map_err(|failure: Failure| failure.0)
    }
}

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
                // Nodes gone for an hour (each start is a new node) and the WebSocket
                // connections they held are forgotten, so neither table only grows.
                client
                    .batch_execute(
                        "DELETE FROM websocket_connections c WHERE NOT EXISTS (
                             SELECT 1 FROM cluster_nodes n WHERE n.id = c.node_id
                               AND n.seen_at > now() - interval '1 minute');
                         DELETE FROM cluster_nodes WHERE seen_at < now() - interval '1 hour';",
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
