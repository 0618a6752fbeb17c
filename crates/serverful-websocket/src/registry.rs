//! The connection registry: every open WebSocket connection by its id, with what
//! `GetConnection` reports and the channel that reaches its socket.
//!
//! [`ConnectionRegistry`] is the seam for cluster mode, where connection ownership is kept
//! in PostgreSQL and a post reaches the node that holds the socket; [`InProcessRegistry`]
//! is the one-node implementation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use tokio::sync::{mpsc, oneshot};

/// How long a `PostToConnection` waits for its frame to be written to the socket before it
/// is answered anyway (a client that stops reading would otherwise hold the post).
pub const WRITE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A message on its way to the socket, with whoever waits to hear it was written.
#[derive(Debug)]
pub struct Queued {
    pub message: Outgoing,
    /// Told once the frame is written; dropped unsaid if the connection ends first.
    pub written: Option<oneshot::Sender<()>>,
}

/// Something to send down a connection's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Text(String),
    Binary(Vec<u8>),
    /// Close the connection with this code and reason (`DeleteConnection`, limits).
    Close(u16, String),
}

/// One open connection.
#[derive(Debug)]
pub struct Connection {
    /// AWS's shape: 16 characters of URL-safe base64 ending in `=`.
    pub id: String,
    pub api_id: String,
    pub stage: String,
    /// The stack whose API it connected to: whose keys may post to it.
    pub stack: String,
    /// Milliseconds since the epoch.
    pub connected_at_ms: u64,
    pub source_ip: String,
    pub user_agent: Option<String>,
    /// Milliseconds since the epoch of the last message either way.
    last_active_ms: AtomicU64,
    sender: mpsc::UnboundedSender<Queued>,
    /// What `$connect` authorization granted, added to each event of the connection.
    pub granted: std::sync::OnceLock<crate::Granted>,
}

impl Connection {
    pub fn new(
        api_id: &str,
        stage: &str,
        stack: &str,
        source_ip: &str,
        user_agent: Option<String>,
        sender: mpsc::UnboundedSender<Queued>,
    ) -> Connection {
        let now = now_ms();
        Connection {
            id: new_connection_id(),
            api_id: api_id.to_owned(),
            stage: stage.to_owned(),
            stack: stack.to_owned(),
            connected_at_ms: now,
            source_ip: source_ip.to_owned(),
            user_agent,
            last_active_ms: AtomicU64::new(now),
            sender,
            granted: std::sync::OnceLock::new(),
        }
    }

    pub fn last_active_ms(&self) -> u64 {
        self.last_active_ms.load(Ordering::Relaxed)
    }

    /// Records activity now.
    pub fn touch(&self) {
        self.last_active_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Queues `message` for the socket; `false` if the connection has already ended.
    pub fn send(&self, message: Outgoing) -> bool {
        self.sender
            .send(Queued {
                message,
                written: None,
            })
            .is_ok()
    }

    /// Queues `message` and waits until the socket has taken it (at most [`WRITE_WAIT`]):
    /// what `PostToConnection` answers after, so that posters are held back by the
    /// connections they write to instead of queueing without bound. `false` if the
    /// connection ended before the frame was written.
    pub async fn deliver(&self, message: Outgoing) -> bool {
        let (written, heard) = oneshot::channel();
        let queued = Queued {
            message,
            written: Some(written),
        };
        if self.sender.send(queued).is_err() {
            return false;
        }
        match tokio::time::timeout(WRITE_WAIT, heard).await {
            Ok(outcome) => outcome.is_ok(),
            // Still queued behind a slow reader: it will be written if the socket moves.
            Err(_) => true,
        }
    }
}

/// Where open connections are found by id.
pub trait ConnectionRegistry: Send + Sync + 'static {
    fn insert(&self, connection: Arc<Connection>);
    fn get(&self, id: &str) -> Option<Arc<Connection>>;
    fn remove(&self, id: &str) -> Option<Arc<Connection>>;
    /// How many connections are open.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The connections of this process.
#[derive(Debug, Default)]
pub struct InProcessRegistry {
    connections: Mutex<HashMap<String, Arc<Connection>>>,
}

impl InProcessRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Connection>>> {
        self.connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ConnectionRegistry for InProcessRegistry {
    fn insert(&self, connection: Arc<Connection>) {
        self.lock().insert(connection.id.clone(), connection);
    }

    fn get(&self, id: &str) -> Option<Arc<Connection>> {
        self.lock().get(id).cloned()
    }

    fn remove(&self, id: &str) -> Option<Arc<Connection>> {
        self.lock().remove(id)
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// 11 random bytes in URL-safe base64 with padding: 16 characters ending in `=`, like
/// API Gateway's ids (`L0SM9cOFvHcCIhw=`), and safe in a URL path.
fn new_connection_id() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    base64::engine::general_purpose::URL_SAFE.encode(&bytes[..11])
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::new_connection_id;

    #[test]
    fn connection_ids_have_aws_shape() {
        for _ in 0..100 {
            let id = new_connection_id();
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.ends_with('='), "{id}");
            assert!(id[..15]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        }
    }
}
