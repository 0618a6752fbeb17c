//! Older Lambda versions at run time: a version whose build is not the one a stack's
//! deploy runs is started on its first call, from its own deploy's build, for its one
//! function, and stopped again once it has been idle as long as the runtime's idle
//! timeout (scale to zero, as for any instance), so that old versions cost nothing until
//! called.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serverful_invoke::InvokeError;
use serverful_runtime as runtime;

/// A Lambda version of a function of a stack: (stack, function's logical id, number).
pub(crate) type VersionKey = (String, String, u32);

/// One older version's runtime, started once however many calls wait for it.
#[derive(Default)]
struct Slot {
    runtime: tokio::sync::OnceCell<Arc<runtime::Runtime>>,
    last_used: Mutex<Option<Instant>>,
}

impl Slot {
    fn touch(&self) {
        *self
            .last_used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
    }

    fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .map(|last| last.elapsed())
            .unwrap_or_default()
    }
}

/// The older versions running now.
#[derive(Default)]
pub(crate) struct OlderRuntimes {
    slots: Arc<Mutex<HashMap<VersionKey, Arc<Slot>>>>,
}

impl std::fmt::Debug for OlderRuntimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f.debug_struct("OlderRuntimes")
            .field("versions", &slots.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl OlderRuntimes {
    /// The runtime of version `key`, started with `start` if it is not running; with an
    /// `idle_timeout`, it stops once no call has used it for that long.
    pub async fn get_or_start<F, Fut>(
        &self,
        key: VersionKey,
        idle_timeout: Option<Duration>,
        start: F,
    ) -> Result<Arc<runtime::Runtime>, InvokeError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<runtime::Runtime, InvokeError>>,
    {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        slot.touch();
        let mut started = false;
        let function_runtime = slot
            .runtime
            .get_or_try_init(|| async {
                started = true;
                start().await.map(Arc::new)
            })
            .await?
            .clone();
        if started {
            let (stack, function, number) = &key;
            tracing::info!("{stack}: started version {number} of {function} from its own build");
            if let Some(idle_timeout) = idle_timeout {
                tokio::spawn(reap_when_idle(
                    self.slots.clone(),
                    key,
                    slot.clone(),
                    idle_timeout,
                ));
            }
        }
        Ok(function_runtime)
    }

    /// Stops the older versions of `stack` that `keep` does not want (all of them for a
    /// deleted stack).
    pub async fn stop_where(&self, stack: &str, keep: impl Fn(&str, u32) -> bool) {
        let stopped: Vec<Arc<Slot>> = {
            let mut slots = self
                .slots
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let keys: Vec<VersionKey> = slots
                .keys()
                .filter(|(key_stack, function, number)| {
                    key_stack == stack && !keep(function, *number)
                })
                .cloned()
                .collect();
            keys.iter().filter_map(|key| slots.remove(key)).collect()
        };
        for slot in stopped {
            if let Some(function_runtime) = slot.runtime.get() {
                function_runtime.shutdown().await;
            }
        }
    }

    /// Stops every older version (the server is stopping).
    pub async fn stop_all(&self) {
        let stopped: Vec<Arc<Slot>> = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .drain()
            .map(|(_, slot)| slot)
            .collect();
        for slot in stopped {
            if let Some(function_runtime) = slot.runtime.get() {
                function_runtime.shutdown().await;
            }
        }
    }
}

/// Checks a started version now and then, and stops it once it has had no call and no
/// request in flight for `idle_timeout`.
async fn reap_when_idle(
    slots: Arc<Mutex<HashMap<VersionKey, Arc<Slot>>>>,
    key: VersionKey,
    slot: Arc<Slot>,
    idle_timeout: Duration,
) {
    let period = (idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    loop {
        tokio::time::sleep(period).await;
        let Some(function_runtime) = slot.runtime.get() else {
            return;
        };
        let in_flight: u64 = function_runtime
            .stats()
            .iter()
            .map(|stats| stats.in_flight)
            .sum();
        if in_flight > 0 || slot.idle_for() < idle_timeout {
            continue;
        }
        {
            let mut slots = slots
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match slots.get(&key) {
                Some(current) if Arc::ptr_eq(current, &slot) => {
                    slots.remove(&key);
                }
                // Stopped already (a delete, a prune) or replaced.
                _ => return,
            }
        }
        // A call that took the runtime just before it left the map gets `ShuttingDown`,
        // and the platform starts the version again for it.
        function_runtime.shutdown().await;
        let (stack, function, number) = &key;
        tracing::info!(
            "{stack}: stopped version {number} of {function} after {idle_timeout:?} idle"
        );
        return;
    }
}
