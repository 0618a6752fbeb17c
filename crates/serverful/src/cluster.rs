//! This node's part in a cluster (`--store postgres://…`, issue 22): the connection to
//! the shared database, the node's name and heartbeat, its leases, the secrets every
//! node must share (the AWS endpoint's keys, the admin token, the node secret), and
//! WebSocket connections held by other nodes.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serverful_cluster::{Leases, NodeInfo, Nodes};
use serverful_postgres::cluster::{ConnectionRecord, PostgresConnections};
use serverful_postgres::Database;
use serverful_websocket::cluster::{ClusterConnections, Forwarded, Owner};

/// This node in a cluster.
pub(crate) struct Cluster {
    pub database: Arc<Database>,
    pub node: NodeInfo,
    pub nodes: Arc<dyn Nodes>,
    pub leases: Arc<dyn Leases>,
    /// What nodes present to each other (see `serverful_admin::NODE_SECRET_HEADER`).
    pub node_secret: Arc<str>,
    /// Stops the heartbeat (a node that stops cleanly leaves the list).
    pub heartbeat: tokio::task::AbortHandle,
}

/// Connects to the cluster's PostgreSQL, waiting (with backoff, saying so) while it
/// cannot be reached, as when the database starts with the node.
pub(crate) async fn connect_database(url: &str) -> anyhow::Result<Arc<Database>> {
    let url = url.to_owned();
    let mut size = serverful_postgres::PoolSize::default();
    if let Ok(text) = std::env::var("SERVERFUL_STORE_CONNECT_SECS") {
        let secs: u64 = text.trim().parse().map_err(|_| {
            anyhow::anyhow!(
                "SERVERFUL_STORE_CONNECT_SECS is '{text}', not a number of seconds\nhint: unset it to wait up to {} s for PostgreSQL at start",
                size.connect_for.as_secs()
            )
        })?;
        size.connect_for = Duration::from_secs(secs);
    }
    let database = tokio::task::spawn_blocking(move || {
        Database::connect(&url, &size, &|error, pause| {
            eprintln!(
                "waiting for PostgreSQL ({error}); retrying in {} ms",
                pause.as_millis()
            )
        })
    })
    .await
    .context("connect to PostgreSQL")?
    .map_err(|error| {
        anyhow::anyhow!(
            "{error}\nhint: check --store (SERVERFUL_STORE) and that PostgreSQL is running and reachable"
        )
    })?;
    Ok(Arc::new(database))
}

/// Joins the cluster: its tables made if need be, this node named and heard from every
/// second, and the shared secrets adopted into `data_dir` (unless the environment sets
/// them), so that any node takes the same keys and token.
pub(crate) async fn join(
    database: Arc<Database>,
    admin_url: &str,
    admin_address: std::net::SocketAddr,
    data_dir: &Path,
) -> anyhow::Result<Cluster> {
    let name = node_name(admin_address);
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let node = NodeInfo {
        id: format!("{name}/{}/{}", std::process::id(), started.as_millis()),
        name,
        admin_url: admin_url.to_owned(),
        started_ms: 0,
        seen_ms: 0,
        silent_ms: 0,
    };
    let (shared, data_dir) = (database.clone(), data_dir.to_owned());
    let node_secret = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        serverful_postgres::cluster::migrate(&shared)
            .map_err(|error| anyhow::anyhow!("prepare the cluster's tables: {error}"))?;
        adopt_shared_secrets(&shared, &data_dir)?;
        let candidate = format!(
            "sfn_{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        serverful_postgres::cluster::shared_setting(&shared, "node_secret", candidate)
            .map_err(|error| anyhow::anyhow!("read the cluster's node secret: {error}"))
    })
    .await
    .context("join the cluster")??;
    let nodes: Arc<dyn Nodes> = Arc::new(serverful_postgres::cluster::PostgresNodes::new(
        database.clone(),
    ));
    let heartbeat = serverful_cluster::spawn_heartbeat(nodes.clone(), node.clone());
    let leases = Arc::new(serverful_postgres::cluster::PostgresLeases::new(
        database.clone(),
        &node.id,
    ));
    Ok(Cluster {
        database,
        node,
        nodes,
        leases,
        node_secret: node_secret.into(),
        heartbeat,
    })
}

/// The AWS endpoint's keys and the admin token are the cluster's: the first node's,
/// written into each node's data folder, where the node reads them as it would alone.
/// Values set in the environment are the operator's choice and stay.
fn adopt_shared_secrets(database: &Database, data_dir: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let write_private = |path: &Path, contents: &str| -> anyhow::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("write {}", path.display()))?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        Ok(())
    };
    let keys_from_environment = std::env::var_os("SERVERFUL_ACCESS_KEY_ID").is_some()
        || std::env::var_os("SERVERFUL_SECRET_ACCESS_KEY").is_some();
    if !keys_from_environment {
        let path = data_dir.join(serverful_aws::KEYS_FILE_NAME);
        let (local, _) = serverful_aws::resolve_credentials(data_dir, None, None)
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        let candidate = serde_json::to_string_pretty(&local).context("encode the keys")?;
        let shared =
            serverful_postgres::cluster::shared_setting(database, "aws_keys", candidate.clone())
                .map_err(|error| anyhow::anyhow!("read the cluster's AWS keys: {error}"))?;
        if shared != candidate {
            write_private(&path, &format!("{shared}\n"))?;
        }
    }
    let token_from_environment =
        std::env::var("SERVERFUL_ADMIN_TOKEN").is_ok_and(|token| !token.trim().is_empty());
    if !token_from_environment {
        let (local, _) = serverful_admin::load_or_generate_token(data_dir, None)
            .context("make the admin token")?;
        let shared =
            serverful_postgres::cluster::shared_setting(database, "admin_token", local.clone())
                .map_err(|error| anyhow::anyhow!("read the cluster's admin token: {error}"))?;
        if shared != local {
            write_private(&data_dir.join("admin-token"), &format!("{shared}\n"))?;
        }
    }
    Ok(())
}

/// This node's name in a cluster: the host's name and the admin port, which tell
/// apart nodes on one machine too.
fn node_name(admin: std::net::SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    format!("{host}:{}", admin.port())
}

/// How long a node waits for another to carry out a handed-over `@connections` call
/// (a post waits up to five seconds for its frame to be written).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// WebSocket connections across the cluster: recorded in the shared database, and
/// calls for another node's sockets handed to its admin API with the node secret.
pub(crate) struct ClusterWebSockets {
    connections: Arc<PostgresConnections>,
    node_id: String,
    node_secret: Arc<str>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl ClusterWebSockets {
    pub(crate) fn new(cluster: &Cluster) -> ClusterWebSockets {
        ClusterWebSockets {
            connections: Arc::new(PostgresConnections::new(cluster.database.clone())),
            node_id: cluster.node.id.clone(),
            node_secret: cluster.node_secret.clone(),
            client: Client::builder(hyper_util::rt::TokioExecutor::new()).build_http(),
        }
    }
}

impl ClusterConnections for ClusterWebSockets {
    fn register(&self, connection: &serverful_websocket::Connection) -> BoxFuture<'static, ()> {
        let record = ConnectionRecord {
            id: connection.id.clone(),
            node_id: self.node_id.clone(),
            stack: connection.stack.clone(),
            api_id: connection.api_id.clone(),
            stage: connection.stage.clone(),
        };
        let connections = self.connections.clone();
        Box::pin(async move {
            let registered =
                tokio::task::spawn_blocking(move || connections.register(&record)).await;
            if let Ok(Err(error)) = registered {
                tracing::warn!("failed to record a WebSocket connection for the cluster: {error}");
            }
        })
    }

    fn unregister(&self, id: &str) -> BoxFuture<'static, ()> {
        let (connections, id) = (self.connections.clone(), id.to_owned());
        Box::pin(async move {
            let forgotten = tokio::task::spawn_blocking(move || connections.unregister(&id)).await;
            if let Ok(Err(error)) = forgotten {
                tracing::warn!("failed to forget a closed WebSocket connection: {error}");
            }
        })
    }

    fn locate(&self, id: &str) -> BoxFuture<'static, Option<Owner>> {
        let (connections, id) = (self.connections.clone(), id.to_owned());
        let this_node = self.node_id.clone();
        Box::pin(async move {
            let found = tokio::task::spawn_blocking(move || connections.locate(&id)).await;
            match found {
                // Recorded as this node's but not held: it closed a moment ago.
                Ok(Ok(Some((record, _)))) if record.node_id == this_node => None,
                Ok(Ok(Some((record, node_url)))) => Some(Owner {
                    node_id: record.node_id,
                    node_url,
                    stack: record.stack,
                    api_id: record.api_id,
                    stage: record.stage,
                }),
                Ok(Ok(None)) => None,
                Ok(Err(error)) => {
                    tracing::warn!(
                        "failed to look up a WebSocket connection in the cluster: {error}"
                    );
                    None
                }
                Err(_) => None,
            }
        })
    }

    fn forward(
        &self,
        owner: &Owner,
        id: &str,
        method: http::Method,
        body: Bytes,
    ) -> BoxFuture<'static, Result<Forwarded, String>> {
        let encoded: String =
            percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let uri = format!(
            "{}{}/cluster/connections/{encoded}",
            owner.node_url.trim_end_matches('/'),
            serverful_admin::PREFIX
        );
        let request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(serverful_admin::NODE_SECRET_HEADER, &*self.node_secret)
            .body(Full::new(body));
        let client = self.client.clone();
        Box::pin(async move {
            let request = request.map_err(|error| error.to_string())?;
            let response = tokio::time::timeout(FORWARD_TIMEOUT, client.request(request))
                .await
                .map_err(|_| "timed out".to_owned())?
                .map_err(|error| error.to_string())?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|error| error.to_string())?
                .to_bytes();
            if status == 401 {
                return Err("the node refused the cluster's node secret".to_owned());
            }
            Ok(Forwarded {
                status,
                content_type,
                body,
            })
        })
    }
}
