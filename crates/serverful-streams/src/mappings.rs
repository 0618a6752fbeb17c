//! The running mappings of every stack: started with a stack version, replaced by the next
//! one (which continues from the same checkpoints), stopped when the stack goes.

use std::sync::Arc;
use std::time::Duration;

use serverful_invoke::Invoke;
use serverful_store::Store;
use serverful_switched::Switched;

use crate::checkpoint::CheckpointStore;
use crate::consumer::{Consumer, Services};
use crate::destination::FailureDestination;
use crate::mapping::Mapping;

/// Timing of the consumers.
#[derive(Debug, Clone)]
pub struct StreamsSettings {
    /// The wait before the first retry of a failed batch; it doubles with each retry.
    pub retry_base: Duration,
    /// The longest wait between retries.
    pub retry_max: Duration,
    /// How often an idle consumer looks at its stream without being woken (a replaced
    /// stream, a table created later).
    pub idle_poll: Duration,
}

impl Default for StreamsSettings {
    fn default() -> StreamsSettings {
        StreamsSettings {
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            idle_poll: Duration::from_secs(1),
        }
    }
}

/// Every stack's stream mappings.
pub struct StreamMappings {
    services: Arc<Services>,
    running: Switched<Mapping>,
}

impl std::fmt::Debug for StreamMappings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamMappings").finish_non_exhaustive()
    }
}

impl StreamMappings {
    pub fn new(
        store: Arc<Store>,
        invoker: Arc<dyn Invoke>,
        checkpoints: Arc<dyn CheckpointStore>,
        destination: Arc<dyn FailureDestination>,
        settings: StreamsSettings,
    ) -> StreamMappings {
        StreamMappings {
            services: Arc::new(Services {
                store,
                leases: Arc::new(serverful_cluster::SingleNode),
                lease_timing: serverful_cluster::LeaseTiming::default(),
                invoker,
                checkpoints,
                destination,
                settings,
            }),
            running: Switched::new("stream consumer"),
        }
    }

    /// Shares the mappings' work with the other nodes of a cluster through `leases`: one
    /// node at a time consumes each mapping. Call before any stack is set.
    pub fn with_leases(
        mut self,
        leases: Arc<dyn serverful_cluster::Leases>,
        timing: serverful_cluster::LeaseTiming,
    ) -> StreamMappings {
        match Arc::get_mut(&mut self.services) {
            Some(services) => {
                services.leases = leases;
                services.lease_timing = timing;
            }
            None => tracing::error!("stream mappings got their leases after they started"),
        }
        self
    }

    /// A number for the next [`StreamMappings::set_stack`], taken when a stack switches
    /// versions (in order), so that switches applied in the background keep that order
    /// (a rollback goes to a lower version number, so those cannot serve).
    pub fn next_switch(&self) -> u64 {
        self.running.next_switch()
    }

    /// Makes `mappings` the stack's mappings as of switch number `switch`
    /// ([`StreamMappings::next_switch`]): the previous version's consumers finish the
    /// batch they are delivering and stop, then the new ones start from the checkpoints
    /// (a mapping with the same key continues where the old one stopped). Ignored when a
    /// later switch was applied already.
    pub async fn set_stack(&self, stack: &str, switch: u64, mappings: Vec<Mapping>) {
        self.running
            .set_stack(stack, switch, mappings, |mapping, stop| {
                mapping.enabled.then(|| {
                    let consumer = Consumer {
                        mapping: mapping.clone(),
                        services: self.services.clone(),
                        stop,
                        window: None,
                    };
                    tokio::spawn(consumer.run())
                })
            })
            .await;
    }

    /// Stops the stack's mappings; with `forget`, also deletes their checkpoints (the
    /// stack was deleted).
    pub async fn remove_stack(&self, stack: &str, forget: bool) {
        let removed = self.running.remove_stack(stack).await;
        if forget {
            for mapping in removed {
                let checkpoints = self.services.checkpoints.clone();
                let deleted =
                    tokio::task::spawn_blocking(move || checkpoints.delete(&mapping.key)).await;
                if let Ok(Err(error)) = deleted {
                    tracing::error!("failed to {error}");
                }
            }
        }
    }

    /// The mappings of every stack, enabled or not.
    pub async fn list(&self) -> Vec<Mapping> {
        self.running.list().await
    }

    /// What the consumers share: the store and the checkpoints.
    pub(crate) fn services(&self) -> &Services {
        &self.services
    }

    /// Stops every consumer (the server stops); checkpoints stay.
    pub async fn shutdown(&self) {
        self.running.shutdown().await;
    }
}
