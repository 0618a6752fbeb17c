//! Submission and delivery: [`AsyncInvocations::submit`] makes an event durable, the
//! workers ([`AsyncInvocations::start`]) claim due events, run them through
//! [`Invoke`], retry function errors on the [`RetrySchedule`], let throttled events wait
//! for concurrency, and send invocation records to destinations.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serverful_invoke::{FunctionRef, Invoke, InvokeError};
use tokio::sync::{Notify, Semaphore};

use crate::backend::{NewEvent, QueueBackend, QueueError, QueuedEvent};
use crate::config::{Destination, DestinationKind, EventInvokeConfig};
use crate::record::{self, Condition, Record, Response};
use crate::retry::RetrySchedule;

/// How many events are delivered at once, across functions. Each function's own
/// concurrency limit still applies: an event over it is throttled and waits.
const MAX_IN_FLIGHT: usize = 64;

/// The longest the workers sleep without looking at the queue, so that a clock change or
/// a missed wake-up delays nothing for long.
const LONGEST_NAP: Duration = Duration::from_secs(1);

/// A function as an event reaches it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionTarget {
    /// What to call through [`Invoke`].
    pub function: FunctionRef,
    /// Its unqualified ARN, for the records.
    pub arn: String,
    /// The version the qualifier runs (`$LATEST` or a number), for the records.
    pub executed_version: String,
    /// Its settings (Lambda's defaults when it has none).
    pub config: EventInvokeConfig,
}

/// What the platform tells the workers about functions.
pub trait Directory: Send + Sync + 'static {
    /// The function an event names, as the stack's current deploy has it; `None` while it
    /// does not exist (its stack is not started yet after a restart, or it was removed).
    fn target(
        &self,
        stack: &str,
        function: &str,
        qualifier: Option<&str>,
    ) -> Option<FunctionTarget>;

    /// The function a destination's ARN names: (stack, logical id, qualifier).
    fn function_by_arn(&self, arn: &str) -> Option<(String, String, Option<String>)>;
}

/// Delivers records to destinations that are not functions (EventBridge buses, queues,
/// topics): the seam their services plug into.
pub trait DestinationSink: Send + Sync + 'static {
    fn send(
        &self,
        destination: &Destination,
        record: Bytes,
    ) -> BoxFuture<'static, Result<(), String>>;
}

/// The sink while no service delivers to destinations other than functions: each record
/// sent to one is logged as not delivered.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnsupportedDestinations;

impl DestinationSink for UnsupportedDestinations {
    fn send(
        &self,
        destination: &Destination,
        _record: Bytes,
    ) -> BoxFuture<'static, Result<(), String>> {
        let message = format!(
            "{} destinations are not supported yet; only Lambda destinations receive records",
            destination.kind.sam_name()
        );
        Box::pin(async move { Err(message) })
    }
}

/// The asynchronous invocation service: the queue and its workers.
pub struct AsyncInvocations {
    backend: Arc<dyn QueueBackend>,
    retry: RetrySchedule,
    wake: Notify,
    /// Events given up on since start-up, by stack and function (Lambda's
    /// `AsyncEventsDropped`).
    dropped: std::sync::Mutex<std::collections::BTreeMap<(String, String), u64>>,
}

impl std::fmt::Debug for AsyncInvocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncInvocations")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Runs a blocking backend call off the async threads.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, QueueError> + Send + 'static,
) -> Result<T, QueueError> {
    tokio::task::spawn_blocking(call)
        .await
        .unwrap_or_else(|error| {
            Err(QueueError::Storage {
                action: "run a queue operation",
                message: error.to_string(),
            })
        })
}

impl AsyncInvocations {
    pub fn new(backend: Arc<dyn QueueBackend>, retry: RetrySchedule) -> Arc<AsyncInvocations> {
        Arc::new(AsyncInvocations {
            backend,
            retry,
            wake: Notify::new(),
            dropped: std::sync::Mutex::default(),
        })
    }

    /// Queues an event for `stack`'s `function` under the request id `id` (the `Invoke`
    /// call's), returned once the event is durable.
    pub async fn submit(
        &self,
        id: String,
        stack: &str,
        function: &str,
        qualifier: Option<&str>,
        payload: Bytes,
    ) -> Result<String, QueueError> {
        let event = NewEvent {
            id,
            stack: stack.to_owned(),
            function: function.to_owned(),
            qualifier: qualifier.map(str::to_owned),
            payload: payload.to_vec(),
            enqueued_at_ms: now_ms(),
        };
        let id = event.id.clone();
        let backend = self.backend.clone();
        blocking(move || backend.enqueue(&event)).await?;
        self.wake.notify_one();
        Ok(id)
    }

    /// Forgets every queued event of a deleted stack.
    pub async fn remove_stack(&self, stack: &str) -> Result<usize, QueueError> {
        let backend = self.backend.clone();
        let stack = stack.to_owned();
        blocking(move || backend.remove_stack(&stack)).await
    }

    /// The events queued per function. Blocks on storage: call it off the async threads.
    pub fn backlog(&self) -> Result<Vec<crate::FunctionBacklog>, QueueError> {
        self.backend.backlog()
    }

    /// Events given up on since start-up (expired, out of retries, or their function
    /// gone; after any dead-letter queue or failure destination got them), as (stack,
    /// function, count).
    pub fn dropped(&self) -> Vec<(String, String, u64)> {
        self.dropped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|((stack, function), count)| (stack.clone(), function.clone(), *count))
            .collect()
    }

    fn count_dropped(&self, event: &NewEvent) {
        *self
            .dropped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry((event.stack.clone(), event.function.clone()))
            .or_default() += 1;
    }

    /// How many events are queued (delivered ones are gone).
    pub async fn queued(&self) -> Result<usize, QueueError> {
        let backend = self.backend.clone();
        blocking(move || backend.len()).await
    }

    /// Starts the workers on the current tokio runtime. They run until the runtime stops;
    /// an event in flight then is delivered again after the restart.
    pub fn start(
        self: &Arc<Self>,
        invoker: Arc<dyn Invoke>,
        directory: Arc<dyn Directory>,
        sink: Arc<dyn DestinationSink>,
    ) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let delivery = Arc::new(Delivery {
                service: service.clone(),
                invoker,
                directory,
                sink,
            });
            service.run(delivery).await;
        })
    }

    async fn run(self: Arc<Self>, delivery: Arc<Delivery>) {
        let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        loop {
            let free = slots.available_permits();
            let now = now_ms();
            let claimed = if free == 0 {
                Ok(Vec::new())
            } else {
                let backend = self.backend.clone();
                blocking(move || backend.claim_due(now, free)).await
            };
            let claimed = match claimed {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::error!("asynchronous invocations: {error}");
                    tokio::time::sleep(LONGEST_NAP).await;
                    continue;
                }
            };
            let full_batch = free > 0 && claimed.len() == free;
            for queued in claimed {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let delivery = delivery.clone();
                tokio::spawn(async move {
                    delivery.deliver(queued).await;
                    drop(slot);
                    delivery.service.wake.notify_one();
                });
            }
            if full_batch {
                continue;
            }
            let backend = self.backend.clone();
            let nap = match blocking(move || backend.next_due()).await {
                Ok(Some(due)) => Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0)),
                Ok(None) => LONGEST_NAP,
                Err(error) => {
                    tracing::error!("asynchronous invocations: {error}");
                    LONGEST_NAP
                }
            };
            if nap.is_zero() && slots.available_permits() > 0 {
                continue;
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(nap.min(LONGEST_NAP)) => {}
            }
        }
    }
}

/// What one delivery needs.
struct Delivery {
    service: Arc<AsyncInvocations>,
    invoker: Arc<dyn Invoke>,
    directory: Arc<dyn Directory>,
    sink: Arc<dyn DestinationSink>,
}

/// How one attempt ended, for the queue.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Done with it (delivered, or given up on and reported).
    Remove,
    /// Try again at this time with these counters.
    Retry {
        attempts: u32,
        throttles: u32,
        due_at_ms: i64,
    },
}

impl Delivery {
    async fn deliver(&self, queued: QueuedEvent) {
        let id = queued.event.id.clone();
        let next = self.attempt(queued).await;
        let backend = self.service.backend.clone();
        let result = match next {
            Next::Remove => blocking(move || backend.remove(&id)).await,
            Next::Retry {
                attempts,
                throttles,
                due_at_ms,
            } => blocking(move || backend.reschedule(&id, attempts, throttles, due_at_ms)).await,
        };
        if let Err(error) = result {
            tracing::error!("asynchronous invocations: {error}");
        }
    }

    fn wait_for_concurrency(&self, queued: &QueuedEvent) -> Next {
        let throttles = queued.throttles.saturating_add(1);
        Next::Retry {
            attempts: queued.attempts,
            throttles,
            due_at_ms: now_ms() + millis(self.service.retry.after_throttle(throttles)),
        }
    }

    async fn attempt(&self, queued: QueuedEvent) -> Next {
        let event = &queued.event;
        let name = format!("{}/{}", event.stack, event.function);
        let age =
            Duration::from_millis(u64::try_from(now_ms() - event.enqueued_at_ms).unwrap_or(0));
        let Some(target) =
            self.directory
                .target(&event.stack, &event.function, event.qualifier.as_deref())
        else {
            // Its stack may not be started yet after a restart: it waits, up to Lambda's
            // longest event age.
            if age > EventInvokeConfig::default().maximum_event_age {
                tracing::warn!(
                    "asynchronous event {} for {name} dropped: the function no longer exists",
                    event.id
                );
                self.service.count_dropped(event);
                return Next::Remove;
            }
            return self.wait_for_concurrency(&queued);
        };
        if age > target.config.maximum_event_age {
            tracing::warn!(
                "asynchronous event {} for {name} expired after {}s (MaximumEventAgeInSeconds)",
                event.id,
                age.as_secs()
            );
            self.report(&target, &queued, Condition::EventAgeExceeded, None)
                .await;
            self.service.count_dropped(event);
            return Next::Remove;
        }
        let outcome = self
            .invoker
            .invoke(&target.function, Bytes::from(event.payload.clone()))
            .await;
        let attempts = queued.attempts.saturating_add(1);
        let error_document = match outcome {
            Ok(result) => {
                let response = Response {
                    executed_version: target.executed_version.clone(),
                    function_error: None,
                    payload: result.to_vec(),
                };
                let done = QueuedEvent {
                    attempts,
                    ..queued.clone()
                };
                self.report(&target, &done, Condition::Success, Some(response))
                    .await;
                return Next::Remove;
            }
            // No concurrency free, or the function could not start: Lambda's 429 and
            // 500-series, which wait in the queue rather than count as attempts.
            Err(InvokeError::Throttled | InvokeError::Unavailable(_)) => {
                return self.wait_for_concurrency(&queued)
            }
            Err(InvokeError::NoSuchFunction(_)) => return self.wait_for_concurrency(&queued),
            Err(InvokeError::FunctionError(document)) => document.to_vec(),
            Err(InvokeError::Timeout) => serde_json::json!({
                "errorType": "Sandbox.Timedout",
                "errorMessage": "Task timed out",
            })
            .to_string()
            .into_bytes(),
            Err(InvokeError::PayloadTooLarge) => serde_json::json!({
                "errorType": "Function.ResponseSizeTooLarge",
                "errorMessage": "Response payload size exceeded maximum allowed payload size.",
            })
            .to_string()
            .into_bytes(),
        };
        if attempts > target.config.maximum_retry_attempts {
            tracing::warn!(
                "asynchronous event {} for {name} failed {attempts} time(s); giving up (MaximumRetryAttempts {})",
                event.id,
                target.config.maximum_retry_attempts
            );
            let response = Response {
                executed_version: target.executed_version.clone(),
                function_error: Some("Unhandled".to_owned()),
                payload: error_document,
            };
            let done = QueuedEvent {
                attempts,
                ..queued.clone()
            };
            self.report(&target, &done, Condition::RetriesExhausted, Some(response))
                .await;
            self.service.count_dropped(event);
            return Next::Remove;
        }
        Next::Retry {
            attempts,
            throttles: 0,
            due_at_ms: now_ms() + millis(self.service.retry.after_error(attempts)),
        }
    }

    /// Sends the record of an event's end to the destination its condition names, if any.
    async fn report(
        &self,
        target: &FunctionTarget,
        queued: &QueuedEvent,
        condition: Condition,
        response: Option<Response>,
    ) {
        if condition != Condition::Success {
            if let Some(dead_letter) = &target.config.dead_letter {
                let payload = Bytes::from(queued.event.payload.clone());
                if let Err(error) = self.sink.send(dead_letter, payload).await {
                    tracing::warn!(
                        "asynchronous event {}: not sent to the dead-letter queue {}: {error}",
                        queued.event.id,
                        dead_letter.arn
                    );
                }
            }
        }
        let destination = match condition {
            Condition::Success => target.config.on_success.as_ref(),
            Condition::RetriesExhausted | Condition::EventAgeExceeded => {
                target.config.on_failure.as_ref()
            }
        };
        let Some(destination) = destination else {
            return;
        };
        let record = record::to_json(&Record {
            request_id: &queued.event.id,
            function_arn: &target.arn,
            condition,
            invoke_count: queued.attempts,
            request_payload: &queued.event.payload,
            response,
            timestamp: record::timestamp_now(),
        });
        let body = Bytes::from(record.to_string());
        let result = match destination.kind {
            // A function destination is invoked asynchronously, as on AWS: its record is
            // queued like any event, durably, before this event is removed.
            DestinationKind::Lambda => match self.directory.function_by_arn(&destination.arn) {
                Some((stack, function, qualifier)) => self
                    .service
                    .submit(
                        uuid::Uuid::new_v4().to_string(),
                        &stack,
                        &function,
                        qualifier.as_deref(),
                        body,
                    )
                    .await
                    .map(|_| ())
                    .map_err(|error| error.to_string()),
                None => Err(format!("no function has the ARN {}", destination.arn)),
            },
            _ => self.sink.send(destination, body).await,
        };
        if let Err(error) = result {
            tracing::warn!(
                "asynchronous event {}: the {} record was not sent to {}: {error}",
                queued.event.id,
                condition.as_str(),
                destination.arn
            );
        }
    }
}
