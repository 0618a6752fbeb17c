//! The running queue mappings of every stack: started with a stack version, replaced by the
//! next one, stopped when the stack goes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serverful_invoke::Invoke;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

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

struct Running {
    mapping: QueueMapping,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct StackMappings {
    /// The [`QueueMappings::next_switch`] number of the call that set the running
    /// mappings: an earlier switch whose call arrives late changes nothing.
    switch: u64,
    running: Vec<Running>,
}

/// Every stack's queue mappings.
pub struct QueueMappings {
    services: Arc<Services>,
    stacks: Mutex<HashMap<String, StackMappings>>,
    switches: AtomicU64,
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
                invoker,
                settings,
            }),
            stacks: Mutex::new(HashMap::new()),
            switches: AtomicU64::new(1),
        }
    }

    /// A number for the next [`QueueMappings::set_stack`], taken when a stack switches
    /// versions (in order), so that switches applied in the background keep that order.
    pub fn next_switch(&self) -> u64 {
        self.switches.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes `mappings` the stack's mappings as of switch number `switch`
    /// ([`QueueMappings::next_switch`]): the previous version's pollers stop receiving,
    /// finish the batches they are delivering (and make what they had received but not
    /// delivered visible again), then the new ones start. Ignored when a later switch was
    /// applied already.
    pub async fn set_stack(&self, stack: &str, switch: u64, mappings: Vec<QueueMapping>) {
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

    /// Stops the stack's mappings (the stack was deleted or stopped).
    pub async fn remove_stack(&self, stack: &str) {
        let removed = self.stacks.lock().await.remove(stack);
        if let Some(removed) = removed {
            stop_all(removed.running).await;
        }
    }

    /// The mappings of every stack, enabled or not.
    pub async fn list(&self) -> Vec<QueueMapping> {
        let stacks = self.stacks.lock().await;
        stacks
            .values()
            .flat_map(|stack| stack.running.iter().map(|running| running.mapping.clone()))
            .collect()
    }

    /// Stops every poller (the server stops), letting batches under way finish.
    pub async fn shutdown(&self) {
        let mut stacks = self.stacks.lock().await;
        for (_, stack) in stacks.drain() {
            stop_all(stack.running).await;
        }
    }

    fn start(&self, mapping: QueueMapping) -> Running {
        let (stop, stop_receiver) = watch::channel(false);
        let task = mapping.enabled.then(|| {
            let poller = Poller::new(mapping.clone(), self.services.clone(), stop_receiver);
            tokio::spawn(poller.run())
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
                tracing::error!(mapping = %running.mapping.key, "queue poller ended badly: {error}");
            }
        }
    }
}
