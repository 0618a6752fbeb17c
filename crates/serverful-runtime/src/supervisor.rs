//! The process supervisor every function runs under, whatever kind of process it is:
//! admission (the concurrency limit and its bounded wait queue), warm instances reused
//! most recently used first, cold starts, crashed instances replaced, idle instances
//! stopped (scale to zero), counters, warming one instance ahead of traffic, and
//! shutdown.
//!
//! What differs between kinds of function is behind [`InstanceKind`]: how an instance
//! starts and becomes ready, and whether one instance takes one request at a time (a
//! Lambda-mode process behind its Runtime API) or many (an HTTP-mode web server). How a
//! request is then delivered to the instance stays with the kind (`pool.rs` hands the
//! event to the Runtime API; `http_pool.rs` leases the server's address to the caller).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{watch, Semaphore, SemaphorePermit};

use crate::instance::{self, kill_process_group, FunctionSpec};
use crate::logs::{LineTail, LogSink};
use crate::output::OutputPipes;
use crate::{FunctionStats, InitFailure, InvokeError, WarmError};

/// How a process ended: `exit status 1`, `signal: killed`, as Lambda words it; `None`
/// while it runs.
pub(crate) type ExitWatch = watch::Receiver<Option<String>>;

/// Every live process of a function, busy or idle, so that shutdown can reach them all.
#[derive(Debug, Clone, Default)]
pub(crate) struct Registry(Arc<Mutex<HashMap<u32, ExitWatch>>>);

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<u32, ExitWatch>> {
        // The map stays consistent even if a holder panicked; keep using it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
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

/// A process the supervisor watches: its id (and process group), how it ended, and the
/// readers of its output.
pub(crate) struct Watched {
    pub pid: u32,
    pub exit: ExitWatch,
    pub output: OutputPipes,
}

/// Watches a freshly spawned `child`: forwards its stdout and stderr line by line to
/// `sink` as lines of `function`, and records in `registry` (and the returned watch) how
/// it ended. `None` when the process is already gone and cannot be watched.
pub(crate) fn watch_process(
    mut child: tokio::process::Child,
    registry: &Registry,
    function: &str,
    sink: &LogSink,
) -> Option<Watched> {
    let pid = child.id()?;
    let mut output = OutputPipes::default();
    let stdout = child.stdout.take().map(|pipe| pipe.into_owned_fd());
    let stderr = child.stderr.take().map(|pipe| pipe.into_owned_fd());
    for fd in [stdout, stderr].into_iter().flatten() {
        let forwarded = fd.and_then(|fd| output.forward(fd, function.to_owned(), sink.clone()));
        if let Err(error) = forwarded {
            // The function still runs; only its output is lost, which the log says.
            sink.emit(
                function,
                &format!("failed to read the function's output: {error}"),
            );
        }
    }
    let (exit_sender, exit) = watch::channel(None);
    registry.lock().insert(pid, exit.clone());
    let registry = registry.clone();
    tokio::spawn(async move {
        let how = match child.wait().await {
            Ok(status) => instance::describe_exit(status),
            Err(error) => format!("wait failed: {error}"),
        };
        // Out of the registry first, so that whoever sees the exit sees it gone too.
        registry.lock().remove(&pid);
        let _ = exit_sender.send(Some(how));
    });
    Some(Watched { pid, exit, output })
}

/// What a kind of instance needs to start one, beyond the function itself.
pub(crate) struct StartContext<'a> {
    /// The invocation whose arrival started the instance (named in init error lines), or
    /// a fresh id when the instance is warmed ahead of traffic.
    pub request_id: &'a str,
    pub registry: &'a Registry,
    /// Where the instance's init lines and output go: the function's sink, or while it
    /// is warmed, that sink keeping a tail of them for the error.
    pub sink: &'a LogSink,
}

/// A start that failed.
pub(crate) struct StartFailure<I> {
    /// Lambda error JSON (`errorType`, `errorMessage`), already logged.
    pub error: Bytes,
    /// How the process ends, when one was started.
    pub exit: Option<ExitWatch>,
    /// The failed instance, if it got that far: its process is killed once this is
    /// dropped, so that a warm-up can first see whether it exited on its own.
    pub instance: Option<I>,
}

impl<I> StartFailure<I> {
    /// A failure before any process ran.
    pub fn before_process(error: Bytes) -> Self {
        StartFailure {
            error,
            exit: None,
            instance: None,
        }
    }
}

/// What differs between kinds of function process.
pub(crate) trait InstanceKind: Send + Sync + Sized + 'static {
    /// A live instance as the supervisor keeps it.
    type Instance: Send + Sync + 'static;

    /// Starts one instance of `spec` and waits until it is ready to take requests (its
    /// init done, its server answering), within the kind's init limit. Failures are
    /// logged to `context.sink` as Lambda logs them.
    fn start<'a>(
        &'a self,
        spec: &'a FunctionSpec,
        context: StartContext<'a>,
    ) -> impl Future<Output = Result<Self::Instance, StartFailure<Self::Instance>>> + Send + 'a;

    /// Whether one instance takes many requests at once (a web server) rather than one
    /// (a process behind Lambda's Runtime API).
    const SHARED: bool;

    /// Whether the instance can take a new request (its process is alive, and it was not
    /// retired).
    fn usable(instance: &Self::Instance) -> bool;

    /// For a kind that shares: another handle on `instance` for one more request, which
    /// it counts. `None` for a kind that does not: the request then takes the instance
    /// itself out of the warm set, and the concurrency limit holds one permit per
    /// instance.
    fn share(instance: &Self::Instance) -> Option<Self::Instance>;

    /// How long the instance has served no request, `None` while it serves one;
    /// `warm_since` is when it (re)entered the warm set.
    fn idle_for(instance: &Self::Instance, warm_since: Instant) -> Option<Duration>;

    /// Called after each cold start with the supervisor, for work the kind does ahead of
    /// the next one (parking a sandbox).
    fn after_cold_start(_supervisor: &Arc<Supervisor<Self>>) {}
}

/// The counters behind [`FunctionStats`]; all but `in_flight` only grow.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub successes: AtomicU64,
    pub errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub throttles: AtomicU64,
    pub rejections: AtomicU64,
    pub cold_starts: AtomicU64,
    pub in_flight: AtomicU64,
}

impl Counters {
    /// Counts one finished request under the counter its result belongs to.
    pub fn count<T>(&self, result: &Result<T, InvokeError>) {
        let counter = match result {
            Ok(_) => &self.successes,
            Err(InvokeError::Timeout) => &self.timeouts,
            Err(InvokeError::Throttled) => &self.throttles,
            Err(InvokeError::ShuttingDown | InvokeError::NoSuchFunction(_)) => &self.rejections,
            Err(InvokeError::FunctionError(_) | InvokeError::PayloadTooLarge) => &self.errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts one finished request in the function's Prometheus series: `duration` is how
/// long the function ran, when it ran. Requests refused at shutdown are not invocations.
pub(crate) fn record_metrics<T>(
    metrics: &serverful_metrics::FunctionMetrics,
    result: &Result<T, InvokeError>,
    duration: Option<Duration>,
) {
    use serverful_metrics::Outcome;
    let error_type;
    let outcome = match result {
        Ok(_) => Outcome::Success,
        Err(InvokeError::Timeout) => Outcome::Timeout,
        Err(InvokeError::Throttled) => Outcome::Throttled,
        Err(InvokeError::ShuttingDown | InvokeError::NoSuchFunction(_)) => return,
        Err(InvokeError::PayloadTooLarge) => Outcome::Error {
            error_type: "Function.ResponseSizeTooLarge",
        },
        Err(InvokeError::FunctionError(error)) => {
            // Errors are the rare path: reading their type is worth the parse.
            (error_type, _) = instance::error_fields(error);
            Outcome::Error {
                error_type: &error_type,
            }
        }
    };
    metrics.finished(outcome, duration);
}

/// A place in the wait queue, given back on drop.
struct QueueSlot<'a>(&'a AtomicU64);

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A ready instance taken for one request.
pub(crate) struct Checkout<I> {
    pub instance: I,
    /// Set when the request started the instance: how long its start took.
    pub cold_start: Option<Duration>,
}

/// One function's instances under supervision.
pub(crate) struct Supervisor<K: InstanceKind> {
    pub spec: FunctionSpec,
    pub kind: K,
    /// Instances (of a one-request kind) or requests that may run at once; 0 means
    /// throttled (Lambda's reserved concurrency 0).
    limit: u32,
    /// One permit per instance that may exist, held by a request while it runs; for a
    /// kind whose instances take many requests at once only its closing matters
    /// (shutdown), since one web server takes them all.
    permits: Semaphore,
    /// Requests waiting for a permit now, and how many may wait before more are throttled.
    waiting: AtomicU64,
    max_queued: u64,
    /// Warm instances with the time each entered the set, most recently used last. An
    /// instance of a kind that shares stays here while it serves.
    warm: Mutex<Vec<(K::Instance, Instant)>>,
    /// Held across a cold start of a kind that shares, so that requests arriving
    /// meanwhile wait for that instance rather than start their own.
    start_gate: tokio::sync::Mutex<()>,
    /// Failed starts so far, and the error of the last one: requests that waited at the
    /// gate for a start that failed share its error rather than each waiting out another
    /// init limit in turn.
    failed_starts: AtomicU64,
    last_start_error: Mutex<Option<Bytes>>,
    pub registry: Registry,
    pub counters: Counters,
    /// The function's Prometheus series (the same for every version of its stack).
    pub metrics: serverful_metrics::FunctionMetrics,
}

impl<K: InstanceKind> std::fmt::Debug for Supervisor<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("function", &self.spec.config.name)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

/// How long shutdown waits for one killed process to be reaped.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// How long a failed warm-up waits for its process to end on its own (a runtime that
/// reported its init error exits right after), to say how it ended.
const WARM_EXIT_WAIT: Duration = Duration::from_secs(1);

/// How many of an instance's last log lines a failed warm-up reports.
const WARM_TAIL_LINES: usize = 20;

impl<K: InstanceKind> Supervisor<K> {
    pub fn new(spec: FunctionSpec, kind: K, max_queued: u32) -> Self {
        let limit = spec
            .config
            .reserved_concurrency
            .unwrap_or(spec.options.max_concurrency.max(1));
        let metrics = spec
            .options
            .metrics
            .function(&spec.options.stack, &spec.config.name);
        let one_request_each = Self::one_request_each();
        let permits = if one_request_each {
            limit as usize
        } else {
            Semaphore::MAX_PERMITS
        };
        Supervisor {
            spec,
            kind,
            limit,
            permits: Semaphore::new(permits),
            waiting: AtomicU64::new(0),
            max_queued: u64::from(max_queued),
            warm: Mutex::new(Vec::new()),
            start_gate: tokio::sync::Mutex::new(()),
            failed_starts: AtomicU64::new(0),
            last_start_error: Mutex::new(None),
            registry: Registry::default(),
            counters: Counters::default(),
            metrics,
        }
    }

    /// Whether each instance takes one request at a time.
    fn one_request_each() -> bool {
        !K::SHARED
    }

    fn warm(&self) -> MutexGuard<'_, Vec<(K::Instance, Instant)>> {
        self.warm.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether requests are refused for good (shutdown has begun).
    pub fn is_closed(&self) -> bool {
        self.permits.is_closed()
    }

    /// Whether the function may run at all (reserved concurrency 0 throttles it).
    pub fn is_throttled(&self) -> bool {
        self.limit == 0
    }

    /// Admission of one request: `Throttled` at reserved concurrency 0; for a kind whose
    /// instances take one request each, a permit at once when an instance slot is free,
    /// else after waiting in the bounded queue, and throttled with the queue full, as
    /// Lambda throttles past a function's concurrency.
    pub async fn admit(&self) -> Result<Option<SemaphorePermit<'_>>, InvokeError> {
        if self.is_throttled() {
            return Err(InvokeError::Throttled);
        }
        if !Self::one_request_each() {
            if self.is_closed() {
                return Err(InvokeError::ShuttingDown);
            }
            return Ok(None);
        }
        match self.permits.try_acquire() {
            Ok(permit) => return Ok(Some(permit)),
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
            .map(Some)
            .map_err(|_closed| InvokeError::ShuttingDown)
    }

    /// A usable warm instance for one request (the most recently used is the warmest:
    /// caches, JIT), dropping instances that died while warm.
    fn take_warm(&self) -> Option<K::Instance> {
        let mut dead = Vec::new();
        let taken = {
            let mut warm = self.warm();
            loop {
                let Some((instance, _since)) = warm.last() else {
                    break None;
                };
                if !K::usable(instance) {
                    if let Some(gone) = warm.pop() {
                        dead.push(gone);
                    }
                    continue;
                }
                match K::share(instance) {
                    Some(shared) => break Some(shared),
                    None => break warm.pop().map(|(instance, _since)| instance),
                }
            }
        };
        // Dropping kills what is left of the process group; done outside the lock.
        drop(dead);
        taken
    }

    /// A ready instance for one admitted request: a warm one, or a cold start, whose
    /// failure (Lambda error JSON, already logged) is the request's function error.
    pub async fn checkout(
        self: &Arc<Self>,
        request_id: &str,
    ) -> Result<Checkout<K::Instance>, InvokeError> {
        if Self::one_request_each() {
            if let Some(instance) = self.take_warm() {
                return Ok(Checkout {
                    instance,
                    cold_start: None,
                });
            }
            return self.cold_start(request_id).await;
        }
        if self.is_closed() {
            return Err(InvokeError::ShuttingDown);
        }
        let failures_before = self.failed_starts.load(Ordering::SeqCst);
        let _gate = self.start_gate.lock().await;
        if self.is_closed() {
            return Err(InvokeError::ShuttingDown);
        }
        if let Some(instance) = self.take_warm() {
            return Ok(Checkout {
                instance,
                cold_start: None,
            });
        }
        if self.failed_starts.load(Ordering::SeqCst) != failures_before {
            let error = self
                .last_start_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some(error) = error {
                return Err(InvokeError::FunctionError(error));
            }
        }
        self.cold_start(request_id).await
    }

    /// Starts an instance for the request `request_id`. One that takes many requests
    /// joins the warm set at once, so that the requests after this one share it.
    async fn cold_start(
        self: &Arc<Self>,
        request_id: &str,
    ) -> Result<Checkout<K::Instance>, InvokeError> {
        self.counters.cold_starts.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let context = StartContext {
            request_id,
            registry: &self.registry,
            sink: &self.spec.options.log_sink,
        };
        let result = self.kind.start(&self.spec, context).await;
        self.metrics
            .cold_start(result.is_ok().then(|| started.elapsed()));
        K::after_cold_start(self);
        let instance = match result {
            Ok(instance) => instance,
            Err(failure) => {
                self.record_failed_start(&failure.error);
                return Err(InvokeError::FunctionError(failure.error));
            }
        };
        // A request to a one-request instance finds out at delivery, as it always has.
        if K::SHARED && self.is_closed() {
            return Err(InvokeError::ShuttingDown);
        }
        let cold_start = Some(started.elapsed());
        match K::share(&instance) {
            Some(shared) => {
                self.warm().push((instance, Instant::now()));
                Ok(Checkout {
                    instance: shared,
                    cold_start,
                })
            }
            None => Ok(Checkout {
                instance,
                cold_start,
            }),
        }
    }

    fn record_failed_start(&self, error: &Bytes) {
        *self
            .last_start_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error.clone());
        self.failed_starts.fetch_add(1, Ordering::SeqCst);
    }

    /// Puts an instance into the warm set: one of a one-request kind after its request,
    /// when it can serve another, or one just warmed. It is dropped (and its process
    /// killed) otherwise, or once shutdown has begun.
    pub fn checkin(&self, instance: K::Instance, keep: bool) {
        if keep && !self.is_closed() {
            self.warm().push((instance, Instant::now()));
        }
    }

    /// Starts one instance ahead of traffic and keeps it warm. Ok once its init succeeded
    /// (or the function already has a usable instance, or may never run: reserved
    /// concurrency 0); the init error otherwise, with how the process ended and its last
    /// log lines.
    pub async fn warm_up(self: &Arc<Self>) -> Result<(), WarmError> {
        let function = &self.spec.config.name;
        if self.is_throttled() {
            return Ok(());
        }
        // A one-request kind holds a permit while it starts, so that warming never makes
        // more instances than the limit allows; with none free the function is busy, so
        // warm already. It never waits in the queue, where it would crowd out requests.
        let _permit = if Self::one_request_each() {
            match self.permits.try_acquire() {
                Ok(permit) => Some(permit),
                Err(tokio::sync::TryAcquireError::Closed) => return Err(WarmError::ShuttingDown),
                Err(tokio::sync::TryAcquireError::NoPermits) => return Ok(()),
            }
        } else {
            None
        };
        let _gate = if Self::one_request_each() {
            None
        } else {
            Some(self.start_gate.lock().await)
        };
        if self.is_closed() {
            return Err(WarmError::ShuttingDown);
        }
        if K::SHARED && self.warm().iter().any(|(instance, _)| K::usable(instance)) {
            return Ok(());
        }
        let tail = Arc::new(LineTail::new(WARM_TAIL_LINES));
        let sink = self.spec.options.log_sink.clone().tailing(tail.clone());
        let request_id = uuid::Uuid::new_v4().to_string();
        self.counters.cold_starts.fetch_add(1, Ordering::Relaxed);
        let context = StartContext {
            request_id: &request_id,
            registry: &self.registry,
            sink: &sink,
        };
        let started = Instant::now();
        let result = self.kind.start(&self.spec, context).await;
        self.metrics
            .cold_start(result.is_ok().then(|| started.elapsed()));
        K::after_cold_start(self);
        match result {
            Ok(instance) => {
                // Lines from now on are the instance's ordinary output.
                tail.close();
                self.checkin(instance, true);
                Ok(())
            }
            Err(failure) => {
                self.record_failed_start(&failure.error);
                let exit = match failure.exit {
                    Some(mut exit) => {
                        tokio::time::timeout(WARM_EXIT_WAIT, exit.wait_for(Option::is_some))
                            .await
                            .ok()
                            .and_then(|status| status.ok().and_then(|how| how.clone()))
                    }
                    None => None,
                };
                drop(failure.instance);
                tail.close();
                let (error_type, error_message) = instance::error_fields(&failure.error);
                Err(WarmError::Init {
                    function: function.clone(),
                    failure: InitFailure {
                        error_type,
                        error_message,
                        exit,
                        last_lines: tail.lines(),
                    },
                })
            }
        }
    }

    /// The counters of this function now.
    pub fn stats(&self) -> FunctionStats {
        let counters = &self.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let idle_instances = self
            .warm()
            .iter()
            .filter(|(instance, since)| K::idle_for(instance, *since).is_some())
            .count();
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
            idle_instances: idle_instances as u64,
        }
    }

    /// Requests inside this function now, running or waiting for an instance.
    pub fn in_flight(&self) -> u64 {
        self.counters.in_flight.load(Ordering::SeqCst)
    }

    /// Refuses new requests, kills every process of this function and waits for them.
    pub async fn shutdown(&self) {
        self.permits.close();
        self.spec.parked.clear().await;
        let warm = std::mem::take(&mut *self.warm());
        drop(warm);
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

    /// Stops the warm instances idle for at least `idle_timeout`, and those that can take
    /// no more requests. An instance that still serves a request (of a kind that shares)
    /// lives on in the hands of that request until it ends.
    pub fn reap_idle(&self, idle_timeout: Duration) {
        let expired: Vec<(K::Instance, Instant)> = {
            let mut warm = self.warm();
            let (expired, kept) =
                std::mem::take(&mut *warm)
                    .into_iter()
                    .partition(|(instance, since)| {
                        !K::usable(instance)
                            || K::idle_for(instance, *since)
                                .is_some_and(|idle| idle >= idle_timeout)
                    });
            *warm = kept;
            expired
        };
        // Dropping kills the process group; done outside the lock.
        drop(expired);
    }
}

/// A supervisor whose idle instances can be stopped, whatever its kind.
pub(crate) trait ReapIdle: Send + Sync {
    /// Stops the instances idle for at least `idle_timeout`.
    fn reap_idle(&self, idle_timeout: Duration);
}

impl<K: InstanceKind> ReapIdle for Supervisor<K> {
    fn reap_idle(&self, idle_timeout: Duration) {
        Supervisor::reap_idle(self, idle_timeout);
    }
}

/// Scales functions to zero: every so often stops instances idle for `idle_timeout`. Ends
/// when the runtime (and so every supervisor) is gone.
pub(crate) async fn reap_idle_instances(
    supervisors: Vec<Weak<dyn ReapIdle>>,
    idle_timeout: Duration,
) {
    let period = (idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
    loop {
        tokio::time::sleep(period).await;
        let mut any_alive = false;
        for supervisor in &supervisors {
            if let Some(supervisor) = supervisor.upgrade() {
                any_alive = true;
                supervisor.reap_idle(idle_timeout);
            }
        }
        if !any_alive {
            return;
        }
    }
}
