//! What the nodes of a cluster agree on, through the database they share (issue 22):
//!
//! - [`Leases`]: a named piece of work (a stream mapping's shard, a queue's poller) is
//!   owned by one node at a time, for a bounded time that its owner keeps renewing. A
//!   node that dies or is cut off from the database stops renewing; once the lease has
//!   expired another node takes it, and the cut-off node has stopped by then, since it
//!   counts the lease lost a margin before the database does.
//! - [`Nodes`]: each node says it is alive every second; `serverful ls` lists them.
//!
//! A single server runs with [`SingleNode`]: every lease is its own, for good.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// The shared database could not be asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClusterError(pub String);

/// Leases on named work, in the cluster's database. Methods block on it: call them off
/// the async threads.
pub trait Leases: Send + Sync + 'static {
    /// Takes the lease `name` for this node, or renews it when this node holds it,
    /// until `ttl` from now (by the database's clock). `false` when another node holds
    /// it and it has not expired.
    fn hold(&self, name: &str, ttl: Duration) -> Result<bool, ClusterError>;

    /// Gives up the lease `name` if this node holds it (a clean stop: another node may
    /// take it at once).
    fn release(&self, name: &str) -> Result<(), ClusterError>;

    /// Whether leases ever move (several nodes share the work); `false` for
    /// [`SingleNode`], whose holders need no renewal.
    fn shared(&self) -> bool {
        true
    }
}

/// The leases of a server that is the only node: all of them are its own.
#[derive(Debug, Default, Clone, Copy)]
pub struct SingleNode;

impl Leases for SingleNode {
    fn hold(&self, _name: &str, _ttl: Duration) -> Result<bool, ClusterError> {
        Ok(true)
    }

    fn release(&self, _name: &str) -> Result<(), ClusterError> {
        Ok(())
    }

    fn shared(&self) -> bool {
        false
    }
}

/// How long a lease lasts and how often it is renewed and sought.
#[derive(Debug, Clone, Copy)]
pub struct LeaseTiming {
    /// The lease's length, counted by the database from each renewal.
    pub ttl: Duration,
    /// How often the holder renews it, and a waiting node asks for it.
    pub renew_every: Duration,
}

impl Default for LeaseTiming {
    fn default() -> LeaseTiming {
        LeaseTiming {
            ttl: Duration::from_secs(6),
            renew_every: Duration::from_secs(1),
        }
    }
}

/// A lease this node holds, renewed in the background until dropped (which gives it
/// up). [`HeldLease::lost`] ends once it may no longer be held: renewing failed, or was
/// refused, for longer than is safe.
pub struct HeldLease {
    lost: watch::Receiver<bool>,
    renewal: Option<tokio::task::JoinHandle<()>>,
    release: Option<(Arc<dyn Leases>, String)>,
}

impl std::fmt::Debug for HeldLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldLease")
            .field("lost", &*self.lost.borrow())
            .finish_non_exhaustive()
    }
}

impl HeldLease {
    /// Resolves when the lease is lost (never, for [`SingleNode`]).
    pub async fn lost(&mut self) {
        if self.lost.wait_for(|lost| *lost).await.is_err() {
            // The renewal task is gone without saying: treat the lease as lost, unless
            // there never was one to renew.
            if self.renewal.is_none() {
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        if let Some((leases, name)) = self.release.take() {
            // Off the async threads; the outcome only matters to the next taker's wait.
            std::thread::spawn(move || {
                if let Err(error) = leases.release(&name) {
                    tracing::debug!(lease = %name, "failed to give up the lease: {error}");
                }
            });
        }
    }
}

/// Waits until this node holds the lease `name` (asking every `renew_every`), then keeps
/// renewing it in the background. `None` when `stop` turns true first.
pub async fn acquire(
    leases: Arc<dyn Leases>,
    name: &str,
    timing: LeaseTiming,
    stop: &mut watch::Receiver<bool>,
) -> Option<HeldLease> {
    if !leases.shared() {
        let (_, lost) = watch::channel(false);
        return Some(HeldLease {
            lost,
            renewal: None,
            release: None,
        });
    }
    let mut complained = false;
    loop {
        if *stop.borrow() {
            return None;
        }
        let asked = Instant::now();
        match ask(&leases, name, timing.ttl).await {
            Ok(true) => break,
            Ok(false) => {}
            Err(error) => {
                if !complained {
                    tracing::warn!(lease = %name, "cannot ask for the lease: {error}");
                    complained = true;
                }
            }
        }
        let pause = timing.renew_every.saturating_sub(asked.elapsed());
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stop.wait_for(|stop| *stop) => return None,
        }
    }
    tracing::info!(lease = %name, "this node took the lease");
    let (lost_sender, lost) = watch::channel(false);
    let renewal = tokio::spawn(renew(leases.clone(), name.to_owned(), timing, lost_sender));
    Some(HeldLease {
        lost,
        renewal: Some(renewal),
        release: Some((leases, name.to_owned())),
    })
}

async fn ask(leases: &Arc<dyn Leases>, name: &str, ttl: Duration) -> Result<bool, ClusterError> {
    let leases = leases.clone();
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || leases.hold(&name, ttl))
        .await
        .map_err(|error| ClusterError(error.to_string()))?
}

/// Renews the lease every `renew_every`. The database counts the lease from when it
/// granted a renewal, which is after this node asked; so this node counts it from when
/// it asked, and gives it up a renewal period before that count runs out.
async fn renew(
    leases: Arc<dyn Leases>,
    name: String,
    timing: LeaseTiming,
    lost: watch::Sender<bool>,
) {
    let mut held_since_ask = Instant::now();
    let safe_for = timing.ttl.saturating_sub(timing.renew_every);
    loop {
        tokio::time::sleep(timing.renew_every).await;
        let asked = Instant::now();
        let renewed = tokio::time::timeout(safe_for, ask(&leases, &name, timing.ttl)).await;
        match renewed {
            Ok(Ok(true)) => held_since_ask = asked,
            Ok(Ok(false)) => {
                tracing::warn!(lease = %name, "another node took the lease");
                let _ = lost.send(true);
                return;
            }
            Ok(Err(error)) => {
                tracing::warn!(lease = %name, "failed to renew the lease: {error}");
            }
            Err(_) => tracing::warn!(lease = %name, "renewing the lease timed out"),
        }
        if held_since_ask.elapsed() >= safe_for {
            tracing::warn!(lease = %name, "the lease could not be renewed in time; this node lets go");
            let _ = lost.send(true);
            return;
        }
    }
}

/// One node as the cluster sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Unique for the life of one process.
    pub id: String,
    /// Host name and admin port.
    pub name: String,
    /// Where its admin API listens.
    pub admin_url: String,
    /// When it started, and when it last said it was alive (milliseconds since the
    /// epoch, by the database's clock).
    pub started_ms: i64,
    pub seen_ms: i64,
    /// Milliseconds since it was last seen, by the database's clock.
    pub silent_ms: i64,
}

/// The cluster's nodes, in its database.
pub trait Nodes: Send + Sync + 'static {
    /// Records this node as alive now (registering it the first time).
    fn heartbeat(&self, node: &NodeInfo) -> Result<(), ClusterError>;
    /// Every node seen within `within`, oldest first.
    fn list(&self, within: Duration) -> Result<Vec<NodeInfo>, ClusterError>;
    /// Forgets a node that stopped cleanly.
    fn leave(&self, id: &str) -> Result<(), ClusterError>;
}

/// Says this node is alive every second until the runtime stops or the returned handle
/// aborts it.
pub fn spawn_heartbeat(nodes: Arc<dyn Nodes>, node: NodeInfo) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            ticker.tick().await;
            let (nodes, node) = (nodes.clone(), node.clone());
            let beat = tokio::task::spawn_blocking(move || nodes.heartbeat(&node)).await;
            match beat {
                Ok(Ok(())) => failing = false,
                Ok(Err(error)) if !failing => {
                    tracing::warn!("failed to tell the cluster this node is alive: {error}");
                    failing = true;
                }
                _ => {}
            }
        }
    })
    .abort_handle()
}

#[cfg(test)]
mod tests;
