//! The running mappings of every stack: started with a stack version, replaced by the next
//! one (which continues from the same checkpoints), stopped when the stack goes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serverful_invoke::Invoke;
use serverful_store::Store;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

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

struct Running {
    mapping: Mapping,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct StackMappings {
    /// The [`StreamMappings::next_switch`] number of the call that set the running
    /// mappings: an earlier switch whose call arrives late changes nothing.
    switch: u64,
    running: Vec<Running>,
}

/// Every stack's stream mappings.
pub struct StreamMappings {
    services: Arc<Services>,
    stacks: Mutex<HashMap<String, StackMappings>>,
    switches: AtomicU64,
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
                invoker,
                checkpoints,
                destination,
                settings,
            }),
            stacks: Mutex::new(HashMap::new()),
            switches: AtomicU64::new(1),
        }
    }

    /// A number for the next [`StreamMappings::set_stack`], taken when a stack switches
    /// versions (in order), so that switches applied in the background keep that order
    /// (a rollback goes to a lower version number, so those cannot serve).
    pub fn next_switch(&self) -> u64 {
        self.switches.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes `mappings` the stack's mappings as of switch number `switch`
    /// ([`StreamMappings::next_switch`]): the previous version's consumers finish the
    /// batch they are delivering and stop, then the new ones start from the checkpoints
    /// (a mapping with the same key continues where the old one stopped). Ignored when a
    /// later switch was applied already.
    pub async fn set_stack(&self, stack: &str, switch: u64, mappings: Vec<Mapping>) {
        let mut stacks = self.stacks.lock().await;
        let entry = stacks.entry(stack.to_owned()).or_default();
        if switch < entry.switch {
            return;
        }
        stop_all(std::mem::take(&mut entry.running)).await;
        entry.switch = switch;
        entry.running = mappings
            .into_iter()
            .map(|mapping| self.start(mapping))
            .collect();
    }

    /// Stops the stack's mappings; with `forget`, also deletes their checkpoints (the
    /// stack was deleted).
    pub async fn remove_stack(&self, stack: &str, forget: bool) {
        let removed = self.stacks.lock().await.remove(stack);
        let Some(removed) = removed else {
            return;
        };
        let keys: Vec<String> = removed
            .running
            .iter()
            .map(|running| running.mapping.key.clone())
            .collect();
        stop_all(removed.running).await;
        if forget {
            for key in keys {
                let checkpoints = self.services.checkpoints.clone();
                let deleted = tokio::task::spawn_blocking(move || checkpoints.delete(&key)).await;
                if let Ok(Err(error)) = deleted {
                    tracing::error!("failed to {error}");
                }
            }
        }
    }

    /// The mappings of every stack, enabled or not.
    pub async fn list(&self) -> Vec<Mapping> {
        let stacks = self.stacks.lock().await;
        stacks
            .values()
            .flat_map(|stack| stack.running.iter().map(|running| running.mapping.clone()))
            .collect()
    }

    /// Stops every consumer (the server stops); checkpoints stay.
    pub async fn shutdown(&self) {
        let mut stacks = self.stacks.lock().await;
        for (_, stack) in stacks.drain() {
            stop_all(stack.running).await;
        }
    }

    fn start(&self, mapping: Mapping) -> Running {
        let (stop, stop_receiver) = watch::channel(false);
        let task = mapping.enabled.then(|| {
            let consumer = Consumer {
                mapping: mapping.clone(),
                services: self.services.clone(),
                stop: stop_receiver,
                window: None,
            };
            tokio::spawn(consumer.run())
        });
        Running {
            mapping,
            stop,
            task,
        }
    }
}

async fn stop_all(running: Vec<Running>) {
    for running in &running {
        // Receivers may be gone already (the task ended): nothing to tell.
        let _ = running.stop.send(true);
    }
    for running in running {
        if let Some(task) = running.task {
            if let Err(error) = task.await {
                tracing::error!(mapping = %running.mapping.key, "stream consumer ended badly: {error}");
            }
        }
    }
}
