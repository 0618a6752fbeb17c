//! The running queue mappings of every stack: started with a stack version, replaced by the
//! next one, stopped when the stack goes.

use std::sync::Arc;
use std::time::Duration;

use serverful_invoke::Invoke;
use serverful_switched::Switched;

use crate::client::QueueClient;
use crate::mapping::QueueMapping;
use crate::poller::{Poller, Services};

/// Timing and scale of the pollers.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// How many batches of one mapping run at once when it sets no
    /// `ScalingConfig.MaximumConcurrency`. Lambda starts five pollers per queue and scales
    /// up; on one machine five concurrent batches is the ceiling instead.
    pub default_concurrency: usize,
    /// The long poll of an idle mapping (SQS's longest, 20 seconds): the queue answers as
    /// soon as a message arrives, so this only bounds how long a poll is parked.
    pub long_poll: Duration,
    /// The back-off after a batch that failed as a whole or whose function could not run
    /// (throttled, unavailable): the batch keeps its concurrency slot that long, and the
    /// messages of one that could not run are hidden that long (never longer than the
    /// queue's visibility timeout) rather than for the whole timeout. It doubles with each
    /// such batch in a row, up to `retry_max`; a batch that ran resets it.
    pub retry_base: Duration,
    /// The longest back-off.
    pub retry_max: Duration,
    /// How often a mapping whose queue does not exist looks for it again.
    pub missing_queue_poll: Duration,
}

impl Default for QueueSettings {
    fn default() -> QueueSettings {
        QueueSettings {
            default_concurrency: 5,
            long_poll: Duration::from_secs(20),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            missing_queue_poll: Duration::from_secs(1),
        }
    }
}

/// Every stack's queue mappings.
pub struct QueueMappings {
    services: Arc<Services>,
    running: Switched<QueueMapping>,
}

impl std::fmt::Debug for QueueMappings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueMappings").finish_non_exhaustive()
    }
}

impl QueueMappings {
    pub fn new(
        client: Arc<dyn QueueClient>,
        invoker: Arc<dyn Invoke>,
        settings: QueueSettings,
    ) -> QueueMappings {
        QueueMappings {
            services: Arc::new(Services {
                client,
                leases: Arc::new(serverful_cluster::SingleNode),
                lease_timing: serverful_cluster::LeaseTiming::default(),
                invoker,
                settings,
            }),
            running: Switched::new("queue poller"),
        }
    }

    /// Shares the pollers' work with the other nodes of a cluster through `leases`: one
    /// node at a time polls each mapping's queue. Call before any stack is set.
    pub fn with_leases(
        mut self,
        leases: Arc<dyn serverful_cluster::Leases>,
        timing: serverful_cluster::LeaseTiming,
    ) -> QueueMappings {
        match Arc::get_mut(&mut self.services) {
            Some(services) => {
                services.leases = leases;
                services.lease_timing = timing;
            }
            None => tracing::error!("queue mappings got their leases after they started"),
        }
        self
    }

    /// A number for the next [`QueueMappings::set_stack`], taken when a stack switches
    /// versions (in order), so that switches applied in the background keep that order.
    pub fn next_switch(&self) -> u64 {
        self.running.next_switch()
    }

    /// Makes `mappings` the stack's mappings as of switch number `switch`
    /// ([`QueueMappings::next_switch`]): the previous version's pollers stop receiving,
    /// finish the batches they are delivering (and make what they had received but not
    /// delivered visible again), then the new ones start. Ignored when a later switch was
    /// applied already.
    pub async fn set_stack(&self, stack: &str, switch: u64, mappings: Vec<QueueMapping>) {
        self.running
            .set_stack(stack, switch, mappings, |mapping, stop| {
                mapping.enabled.then(|| {
                    let poller = Poller::new(mapping.clone(), self.services.clone(), stop);
                    tokio::spawn(poller.run())
                })
            })
            .await;
    }

    /// Stops the stack's mappings (the stack was deleted or stopped).
    pub async fn remove_stack(&self, stack: &str) {
        self.running.remove_stack(stack).await;
    }

    /// The mappings of every stack, enabled or not.
    pub async fn list(&self) -> Vec<QueueMapping> {
        self.running.list().await
    }

    /// Stops every poller (the server stops), letting batches under way finish.
    pub async fn shutdown(&self) {
        self.running.shutdown().await;
    }
}
