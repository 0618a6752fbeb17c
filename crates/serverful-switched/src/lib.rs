//! Background tasks that switch with a stack's versions.
//!
//! An event source (a stream consumer, a queue poller) runs one task per mapping of the
//! stack's current version. When the stack switches, the old version's tasks are told to
//! stop and are awaited (they finish what they are delivering) before the new ones start;
//! when the stack goes, its tasks stop. [`Switched`] keeps that per-stack set for any kind
//! of mapping, so each event source only says how one of its mappings runs.
//!
//! Switches are numbered when the stack switches ([`Switched::next_switch`]), not by
//! version: a rollback goes to a lower version number, and switches applied in the
//! background must still keep the order in which they were made.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

/// What a mapping's task is told: `true` once it must stop.
pub type StopSignal = watch::Receiver<bool>;

/// A mapping the registry can name in its logs.
pub trait Keyed {
    /// The mapping's stable key (the same across versions of its stack).
    fn key(&self) -> &str;
}

struct Running<M> {
    mapping: M,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

struct Stack<M> {
    /// The number of the switch that set the running mappings: an earlier switch whose
    /// call arrives late changes nothing.
    switch: u64,
    running: Vec<Running<M>>,
}

/// Every stack's running mappings of one kind.
pub struct Switched<M> {
    /// What the tasks are, for logs ("stream consumer", "queue poller").
    what: &'static str,
    stacks: Mutex<HashMap<String, Stack<M>>>,
    switches: AtomicU64,
}

impl<M> std::fmt::Debug for Switched<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switched")
            .field("what", &self.what)
            .finish_non_exhaustive()
    }
}

impl<M: Keyed + Clone> Switched<M> {
    pub fn new(what: &'static str) -> Switched<M> {
        Switched {
            what,
            stacks: Mutex::new(HashMap::new()),
            switches: AtomicU64::new(1),
        }
    }

    /// A number for the next [`Switched::set_stack`], taken when a stack switches versions
    /// (in order), so that switches applied in the background keep that order.
    pub fn next_switch(&self) -> u64 {
        self.switches.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes `mappings` the stack's mappings as of switch number `switch`: the previous
    /// ones are told to stop and awaited, then `start` starts each new one (`None` for a
    /// mapping that is disabled: listed, not run). Ignored when a later switch was applied
    /// already.
    pub async fn set_stack(
        &self,
        stack: &str,
        switch: u64,
        mappings: Vec<M>,
        mut start: impl FnMut(&M, StopSignal) -> Option<JoinHandle<()>>,
    ) {
        let mut stacks = self.stacks.lock().await;
        let entry = stacks.entry(stack.to_owned()).or_insert(Stack {
            switch: 0,
            running: Vec::new(),
        });
        if switch < entry.switch {
            return;
        }
        self.stop_all(std::mem::take(&mut entry.running)).await;
        entry.switch = switch;
        entry.running = mappings
            .into_iter()
            .map(|mapping| {
                let (stop, signal) = watch::channel(false);
                let task = start(&mapping, signal);
                Running {
                    mapping,
                    stop,
                    task,
                }
            })
            .collect();
    }

    /// Stops the stack's mappings (the stack was deleted or stopped) and answers what they
    /// were.
    pub async fn remove_stack(&self, stack: &str) -> Vec<M> {
        let removed = self.stacks.lock().await.remove(stack);
        let Some(removed) = removed else {
            return Vec::new();
        };
        let mappings = removed
            .running
            .iter()
            .map(|running| running.mapping.clone())
            .collect();
        self.stop_all(removed.running).await;
        mappings
    }

    /// The mappings of every stack, enabled or not.
    pub async fn list(&self) -> Vec<M> {
        let stacks = self.stacks.lock().await;
        stacks
            .values()
            .flat_map(|stack| stack.running.iter().map(|running| running.mapping.clone()))
            .collect()
    }

    /// Stops every task (the server stops), letting the work under way finish.
    pub async fn shutdown(&self) {
        let mut stacks = self.stacks.lock().await;
        for (_, stack) in stacks.drain() {
            self.stop_all(stack.running).await;
        }
    }

    async fn stop_all(&self, running: Vec<Running<M>>) {
        for running in &running {
            // Receivers may be gone already (the task ended): nothing to tell.
            let _ = running.stop.send(true);
        }
        for running in running {
            if let Some(task) = running.task {
                if let Err(error) = task.await {
                    tracing::error!(
                        mapping = %running.mapping.key(),
                        "{} ended badly: {error}",
                        self.what
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Debug, PartialEq)]
    struct Mapping {
        key: String,
        enabled: bool,
    }

    impl Keyed for Mapping {
        fn key(&self) -> &str {
            &self.key
        }
    }

    fn mapping(key: &str, enabled: bool) -> Mapping {
        Mapping {
            key: key.to_owned(),
            enabled,
        }
    }

    /// Starts a task that records its key in `log` when told to stop.
    fn recorder(
        log: &Arc<std::sync::Mutex<Vec<String>>>,
    ) -> impl FnMut(&Mapping, StopSignal) -> Option<JoinHandle<()>> + '_ {
        move |mapping, mut stop| {
            let (log, key) = (log.clone(), mapping.key.clone());
            mapping.enabled.then(|| {
                tokio::spawn(async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                    log.lock().expect("log").push(key);
                })
            })
        }
    }

    #[tokio::test]
    async fn a_switch_stops_the_old_tasks_first_and_late_switches_change_nothing() {
        let switched = Switched::new("test task");
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let first = switched.next_switch();
        let second = switched.next_switch();
        switched
            .set_stack("app", second, vec![mapping("new", true)], recorder(&log))
            .await;
        // The earlier switch arrives late: ignored.
        switched
            .set_stack("app", first, vec![mapping("old", true)], recorder(&log))
            .await;
        assert_eq!(switched.list().await, vec![mapping("new", true)]);
        let third = switched.next_switch();
        switched
            .set_stack(
                "app",
                third,
                vec![mapping("newer", true), mapping("off", false)],
                recorder(&log),
            )
            .await;
        assert_eq!(*log.lock().expect("log"), vec!["new".to_owned()]);
        assert_eq!(switched.list().await.len(), 2);
        let removed = switched.remove_stack("app").await;
        assert_eq!(removed, vec![mapping("newer", true), mapping("off", false)]);
        assert_eq!(
            *log.lock().expect("log"),
            vec!["new".to_owned(), "newer".to_owned()]
        );
        assert!(switched.list().await.is_empty());
        assert!(switched.remove_stack("app").await.is_empty());
    }

    #[tokio::test]
    async fn shutdown_stops_every_stack() {
        let switched = Switched::new("test task");
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        for stack in ["a", "b"] {
            let switch = switched.next_switch();
            switched
                .set_stack(stack, switch, vec![mapping(stack, true)], recorder(&log))
                .await;
        }
        switched.shutdown().await;
        let mut stopped = log.lock().expect("log").clone();
        stopped.sort();
        assert_eq!(stopped, vec!["a".to_owned(), "b".to_owned()]);
        assert!(switched.list().await.is_empty());
    }
}
