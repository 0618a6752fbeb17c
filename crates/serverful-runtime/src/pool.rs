//! The instances of one function: warm ones waiting for work, a concurrency limit
//! (reserved concurrency, else the server-wide one), and cold starts when none is free.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Semaphore;

use crate::bootstrap::Launch;
use crate::instance::{kill_process_group, ExitWatch, FunctionSpec, Instance, InvokeOutcome};
use crate::{FunctionConfig, FunctionStats, InvokeContext, InvokeError, RuntimeOptions};

/// Every live process of a function, busy or idle, so that shutdown can reach them all.
#[derive(Debug, Clone, Default)]
pub(crate) struct Registry(Arc<Mutex<HashMap<u32, ExitWatch>>>);

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, ExitWatch>> {
        // The map stays consistent even if a holder panicked; keep using it.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn add(&self, pid: u32, exit: ExitWatch) {
        self.lock().insert(pid, exit);
    }

    pub fn remove(&self, pid: u32) {
        self.lock().remove(&pid);
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn all(&self) -> Vec<(u32, ExitWatch)> {
        self.lock()
            .iter()
            .map(|(pid, exit)| (*pid, exit.clone()))
            .collect()
    }
}

/// One function's instances.
#[derive(Debug)]
pub(crate) struct Pool {
    spec: FunctionSpec,
    /// One permit per instance that may exist; a request holds one while it runs.
    permits: Semaphore,
    /// 0 means throttled (Lambda's reserved concurrency 0).
    limit: u32,
    /// Requests waiting for a permit now, and how many may wait before more are throttled.
    waiting: AtomicU64,
    max_queued: u64,
    /// Warm instances waiting for a request with the time they became idle, most recently
    /// used last.
    idle: Mutex<Vec<(Instance, Instant)>>,
    registry: Registry,
    counters: Counters,
}

/// A place in a pool's wait queue, given back on drop.
struct QueueSlot<'a>(&'a AtomicU64);

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The counters behind [`FunctionStats`]; all but `in_flight` only grow.
#[derive(Debug, Default)]
struct Counters {
    successes: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    throttles: AtomicU64,
    rejections: AtomicU64,
    cold_starts: AtomicU64,
    in_flight: AtomicU64,
}

impl Pool {
    pub fn new(
        config: FunctionConfig,
        launch: Launch,
        runtime_dir: PathBuf,
        options: Arc<RuntimeOptions>,
    ) -> Pool {
        let limit = config
            .reserved_concurrency
            .unwrap_or(options.max_concurrency.max(1));
        let max_queued = u64::from(options.max_queued);
        let function_arn = format!(
            "arn:aws:lambda:{}:{}:function:{}",
            options.region, options.account_id, config.function_name
        );
        Pool {
            spec: FunctionSpec {
                config,
                launch,
                runtime_dir,
                options,
                function_arn,
                parked: Default::default(),
            },
            permits: Semaphore::new(limit as usize),
            limit,
            waiting: AtomicU64::new(0),
            max_queued,
            idle: Mutex::new(Vec::new()),
            registry: Registry::default(),
            counters: Counters::default(),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<(Instance, Instant)>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs one invocation on a warm instance, or a new one, once a permit is free.
    pub async fn invoke(
        self: Arc<Self>,
        payload: Bytes,
        context: InvokeContext,
    ) -> Result<Bytes, InvokeError> {
        let counters = &self.counters;
        counters.in_flight.fetch_add(1, Ordering::SeqCst);
        let result = self.run(payload, context).await;
        // After a cold start the next one finds a sandbox ready. It is set up now, with
        // this invocation done, so as not to slow that down.
        self.park_ahead();
        let counter = match &result {
            Ok(_) => &counters.successes,
            Err(InvokeError::Timeout) => &counters.timeouts,
            Err(InvokeError::Throttled) => &counters.throttles,
            Err(InvokeError::ShuttingDown | InvokeError::NoSuchFunction(_)) => &counters.rejections,
            Err(InvokeError::FunctionError(_) | InvokeError::PayloadTooLarge) => &counters.errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        counters.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// The counters of this function now.
    pub fn stats(&self) -> FunctionStats {
        let counters = &self.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        FunctionStats {
            function: self.spec.config.name.clone(),
            successes: load(&counters.successes),
            errors: load(&counters.errors),
            timeouts: load(&counters.timeouts),
            throttles: load(&counters.throttles),
            rejections: load(&counters.rejections),
            cold_starts: load(&counters.cold_starts),
            in_flight: load(&counters.in_flight),
            instances: self.registry.len() as u64,
            idle_instances: self.idle().len() as u64,
        }
    }

    /// Requests inside this pool now, running or waiting for an instance.
    pub fn in_flight(&self) -> u64 {
        self.counters.in_flight.load(Ordering::SeqCst)
    }

    async fn run(
        self: &Arc<Self>,
        payload: Bytes,
        context: InvokeContext,
    ) -> Result<Bytes, InvokeError> {
        if self.limit == 0 {
            return Err(InvokeError::Throttled);
        }
        let _permit = self.permit().await?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut attempts = 0;
        let outcome = loop {
            attempts += 1;
            let mut instance = self.acquire(&request_id).await?;
            let outcome = instance
                .invoke(&self.spec, &request_id, payload.clone(), context.clone())
                .await;
            if let InvokeOutcome::NotDelivered = outcome {
                // The instance died while idle; another one takes the request, a bounded
                // number of times so that a function that always dies cannot loop us.
                if attempts < MAX_DELIVERY_ATTEMPTS {
                    continue;
                }
                break outcome;
            }
            if outcome.keeps_instance() && !self.permits.is_closed() {
                self.idle().push((instance, Instant::now()));
            }
            break outcome;
        };
        match outcome {
            InvokeOutcome::Response(body) => Ok(body),
            InvokeOutcome::FunctionError(error) | InvokeOutcome::Exited(error) => {
                Err(InvokeError::FunctionError(error))
            }
            InvokeOutcome::ResponseTooLarge => Err(InvokeError::PayloadTooLarge),
            InvokeOutcome::Timeout => Err(InvokeError::Timeout),
            InvokeOutcome::NotDelivered => {
                Err(InvokeError::FunctionError(crate::logs::error_json(
                    "Runtime.ExitError",
                    &format!(
                        "RequestId: {request_id} Error: Runtime exited before taking the request"
                    ),
                )))
            }
        }
    }

    /// A permit to run: at once when an instance slot is free, else after waiting in the
    /// bounded queue; with the queue full the request is throttled, as Lambda throttles
    /// past a function's concurrency.
    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, InvokeError> {
        match self.permits.try_acquire() {
            Ok(permit) => return Ok(permit),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(InvokeError::ShuttingDown),
            Err(tokio::sync::TryAcquireError::NoPermits) => {}
        }
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        // Leaves the queue however the wait ends, including the caller giving up.
        let _leave = QueueSlot(&self.waiting);
        if queued >= self.max_queued {
            return Err(InvokeError::Throttled);
        }
        self.permits
            .acquire()
            .await
            .map_err(|_closed| InvokeError::ShuttingDown)
    }

    /// A warm instance, or a new one (a cold start). A failed cold start is the request's
    /// function error.
    async fn acquire(self: &Arc<Self>, request_id: &str) -> Result<Instance, InvokeError> {
        loop {
            // The most recently used instance is the warmest (caches, JIT).
            let candidate = self.idle().pop().map(|(instance, _since)| instance);
            match candidate {
                Some(instance) if !instance.has_exited() => return Ok(instance),
                // An instance that died while idle is dropped; try the next one.
                Some(_dead) => continue,
                None => {
                    self.counters.cold_starts.fetch_add(1, Ordering::Relaxed);
                    let started = Instance::start(&self.spec, request_id, &self.registry).await;
                    // The next sandbox is parked when this invocation ends (see `invoke`),
                    // or a little later if it runs long, so that a cold start arriving
                    // meanwhile still finds one.
                    if self.spec.options.sandbox.is_some() {
                        let pool = self.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(PARK_AGAIN_AFTER).await;
                            pool.park_ahead();
                        });
                    }
                    return started.map_err(InvokeError::FunctionError);
                }
            }
        }
    }

    /// Sets up a sandbox for the next cold start in the background, unless the function
    /// runs without one or a parked sandbox is ready or on its way. Returns the task.
    pub fn park_ahead(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let sandbox = self.spec.options.sandbox.clone()?;
        // A function throttled to zero never starts an instance.
        if self.permits.is_closed() || self.limit == 0 {
            return None;
        }
        let mut slot = self.spec.parked.to_fill()?;
        let pool = self.clone();
        Some(tokio::spawn(async move {
            match sandbox.park(&pool.spec).await {
                // Shutdown may have come meanwhile: then the sandbox ends here.
                Ok(parked) if !pool.permits.is_closed() => *slot = Some(parked),
                Ok(_) => {}
                // The next cold start sets one up itself, and reports what fails.
                Err(error) => tracing::debug!(
                    function = pool.spec.config.name,
                    "parking a sandbox: {error}"
                ),
            }
        }))
    }

    /// Refuses new requests, kills every process of this function and waits for them.
    pub async fn shutdown(&self) {
        self.permits.close();
        self.spec.parked.clear().await;
        let idle = std::mem::take(&mut *self.idle());
        drop(idle);
        for (pid, mut exit) in self.registry.all() {
            kill_process_group(pid);
            // The waiter task records the exit as soon as the kernel reaps the process; the
            // bound keeps shutdown finite should the kill itself have failed.
            let waited = tokio::time::timeout(SHUTDOWN_WAIT, exit.wait_for(Option::is_some)).await;
            if waited.is_err() {
                tracing::warn!(
                    function = self.spec.config.name,
                    "process {pid} did not exit within {SHUTDOWN_WAIT:?} of SIGKILL"
                );
            }
        }
    }

    /// Stops instances idle for longer than `idle_timeout`.
    fn reap_idle(&self, idle_timeout: Duration) {
        let expired: Vec<(Instance, Instant)> = {
            let mut idle = self.idle();
            let (expired, warm) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|(_, since)| since.elapsed() >= idle_timeout);
            *idle = warm;
            expired
        };
        // Dropping kills the process group; done outside the lock.
        drop(expired);
    }
}

/// How long after a cold start a long-running first invocation waits before the function
/// parks its next sandbox anyway.
const PARK_AGAIN_AFTER: Duration = Duration::from_millis(50);

/// How many instances one request may try when they die before taking it.
const MAX_DELIVERY_ATTEMPTS: u32 = 3;

/// How long shutdown waits for one killed process to be reaped.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// A pool whose idle instances can be stopped: Lambda-mode and HTTP-mode pools alike.
pub(crate) trait ReapIdle {
    /// Stops the instances idle for at least `idle_timeout`.
    fn reap_idle(&self, idle_timeout: Duration);
}

impl ReapIdle for Pool {
    fn reap_idle(&self, idle_timeout: Duration) {
        Pool::reap_idle(self, idle_timeout);
    }
}

/// Scales functions to zero: every so often stops instances idle for `idle_timeout`. Ends
/// when the runtime (and so every pool) is gone.
pub(crate) async fn reap_idle_instances<P: ReapIdle>(pools: Vec<Weak<P>>, idle_timeout: Duration) {
    let period = (idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
    loop {
        tokio::time::sleep(period).await;
        let mut any_alive = false;
        for pool in &pools {
            if let Some(pool) = pool.upgrade() {
                any_alive = true;
                pool.reap_idle(idle_timeout);
            }
        }
        if !any_alive {
            return;
        }
    }
}
