//! Lambda-mode functions under the supervisor: an instance is a process behind its own
//! Runtime API, taking one invocation at a time, so concurrency comes from more instances
//! (up to reserved concurrency, else the server-wide limit); a sandboxed function parks
//! the sandbox of its next cold start ahead of time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::instance::{FunctionSpec, Instance, InvokeOutcome, StreamHead};
use crate::supervisor::{InstanceKind, StartContext, StartFailure, Supervisor};
use crate::{InvokeContext, InvokeError};

/// The Lambda Runtime API kind of instance.
#[derive(Debug)]
pub(crate) struct LambdaKind;

/// One Lambda-mode function's instances.
pub(crate) type Pool = Supervisor<LambdaKind>;

impl InstanceKind for LambdaKind {
    type Instance = Instance;

    const SHARED: bool = false;

    fn start<'a>(
        &'a self,
        spec: &'a FunctionSpec,
        context: StartContext<'a>,
    ) -> impl std::future::Future<Output = Result<Instance, StartFailure<Instance>>> + Send + 'a
    {
        Instance::start(spec, context)
    }

    fn usable(instance: &Instance) -> bool {
        !instance.has_exited()
    }

    fn share(_instance: &Instance) -> Option<Instance> {
        None
    }

    fn idle_for(_instance: &Instance, warm_since: Instant) -> Option<Duration> {
        // Only idle instances are in the warm set: a request takes its instance out.
        Some(warm_since.elapsed())
    }

    fn after_cold_start(pool: &Arc<Pool>) {
        // The next sandbox is parked when this invocation ends (see `invoke`), or a
        // little later if it runs long, so that a cold start arriving meanwhile still
        // finds one.
        if pool.spec.options.sandbox.is_some() {
            let pool = pool.clone();
            tokio::spawn(async move {
                tokio::time::sleep(PARK_AGAIN_AFTER).await;
                pool.park_ahead();
            });
        }
    }
}

impl Supervisor<LambdaKind> {
    /// Runs one invocation on a warm instance, or a new one, once a permit is free. A
    /// streamed response goes to `head` as it starts (then the result is `Ok(None)` or the
    /// error that ended the stream, which the stream reports too), and this returns once
    /// the stream has ended.
    pub async fn invoke(
        self: Arc<Self>,
        payload: Bytes,
        context: InvokeContext,
        head: &mut StreamHead,
    ) -> Result<Option<Bytes>, InvokeError> {
        let counters = &self.counters;
        counters
            .in_flight
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut ran_for = None;
        let result = self.run(payload, context, head, &mut ran_for).await;
        // After a cold start the next one finds a sandbox ready. It is set up now, with
        // this invocation done, so as not to slow that down.
        self.park_ahead();
        counters.count(&result);
        crate::supervisor::record_metrics(&self.metrics, &result, ran_for);
        counters
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        result
    }

    async fn run(
        self: &Arc<Self>,
        payload: Bytes,
        context: InvokeContext,
        head: &mut StreamHead,
        ran_for: &mut Option<Duration>,
    ) -> Result<Option<Bytes>, InvokeError> {
        let _permit = self.admit().await?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut attempts = 0;
        let outcome = loop {
            attempts += 1;
            let mut instance = self.checkout(&request_id).await?.instance;
            let _running = self.metrics.running();
            let started = Instant::now();
            let outcome = instance
                .invoke(
                    &self.spec,
                    &request_id,
                    payload.clone(),
                    context.clone(),
                    head,
                )
                .await;
            *ran_for = Some(started.elapsed());
            if let InvokeOutcome::NotDelivered = outcome {
                // The instance died while idle; another one takes the request, a bounded
                // number of times so that a function that always dies cannot loop us.
                if attempts < MAX_DELIVERY_ATTEMPTS {
                    continue;
                }
                break outcome;
            }
            let keep = outcome.keeps_instance();
            self.checkin(instance, keep);
            break outcome;
        };
        outcome.to_result(&request_id)
    }

    /// Sets up a sandbox for the next cold start in the background, unless the function
    /// runs without one or a parked sandbox is ready or on its way. Returns the task.
    pub fn park_ahead(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let sandbox = self.spec.options.sandbox.clone()?;
        // A function throttled to zero never starts an instance.
        if self.is_closed() || self.is_throttled() {
            return None;
        }
        let mut slot = self.spec.parked.to_fill()?;
        let pool = self.clone();
        Some(tokio::spawn(async move {
            match sandbox.park(&pool.spec).await {
                // Shutdown may have come meanwhile: then the sandbox ends here.
                Ok(parked) if !pool.is_closed() => *slot = Some(parked),
                Ok(_) => {}
                // The next cold start sets one up itself, and reports what fails.
                Err(error) => tracing::debug!(
                    function = pool.spec.config.name,
                    "parking a sandbox: {error}"
                ),
            }
        }))
    }
}

/// How long after a cold start a long-running first invocation waits before the function
/// parks its next sandbox anyway.
const PARK_AGAIN_AFTER: Duration = Duration::from_millis(50);

/// How many instances one request may try when they die before taking it.
const MAX_DELIVERY_ATTEMPTS: u32 = 3;
