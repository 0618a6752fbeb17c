//! Schedules that invoke functions on time: EventBridge rules with a schedule expression
//! and EventBridge Scheduler schedules, each a tokio timer that sleeps until its next tick
//! (no polling), claims the tick in the durable state, and calls its functions through
//! [`serverful_invoke::Invoke`] with AWS's payload.
//!
//! What it promises, as AWS does: a tick fires once; a tick missed while the server was
//! down (or the schedule was not deployed) is not replayed; a one-time `at()` schedule
//! fires once. The durable part ([`ScheduleBackend`], [`SqliteSchedules`]) keeps each
//! schedule's rate anchor and last fired tick; the claim is atomic, so a switch between
//! two versions of a stack (or several nodes sharing PostgreSQL, `serverful-postgres`)
//! never fires a tick twice.
//!
//! Schedules belong to a stack version: [`Scheduler::replace_stack`] swaps a stack's
//! timers at the switch, [`Scheduler::remove_stack`] stops them when the stack goes.
//!
//! Time: [`SchedulerOptions::minute`] is how long a schedule minute lasts in real time
//! (60 s, unless a test shortens it): the schedule clock then runs faster than the wall
//! clock from the moment the scheduler starts (in a cluster, the first node's start, which
//! [`ScheduleBackend::clock_origin`] shares, so that every node reads the same time), and
//! every fire time, payload time and retry delay follows it. The firing logic is the same
//! either way.

mod backend;
mod payload;
mod sqlite;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serverful_invoke::{FunctionRef, Invoke, InvokeError};
use serverful_schedule::chrono_tz::Tz;
use serverful_schedule::{Schedule, Timetable};
use tokio::task::JoinHandle;

pub use crate::backend::{BackendError, ScheduleBackend, ScheduleKey, ScheduleRecord};
pub use crate::payload::{rule_event, scheduler_input};
pub use crate::sqlite::{SqliteSchedules, FILE_NAME};

/// Which service a schedule emulates: it decides the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleKind {
    /// An EventBridge rule: AWS's `Scheduled Event`, unless the target has `Input`.
    Rule,
    /// EventBridge Scheduler: the target's `Input` (`{}` without one), its context
    /// attributes (`<aws.scheduler.scheduled-time>`, ...) filled in.
    Scheduler,
}

/// One schedule of a stack version, ready to run.
#[derive(Clone, Debug)]
pub struct ScheduleSpec {
    /// Unique within the stack: the rule's or schedule's name.
    pub name: String,
    pub kind: ScheduleKind,
    pub arn: String,
    pub schedule: Schedule,
    /// UTC for rules.
    pub time_zone: Tz,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// A disabled schedule is listed and never fires.
    pub enabled: bool,
    pub targets: Vec<ScheduleTarget>,
    pub retry: RetryPolicy,
}

/// A function a schedule invokes.
#[derive(Clone, Debug)]
pub struct ScheduleTarget {
    pub function: FunctionRef,
    /// `Input`: delivered instead of the default payload.
    pub input: Option<String>,
}

/// How delivery failures (the function could not be reached: throttled, unavailable) are
/// retried: AWS's `RetryPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub maximum_retry_attempts: u32,
    pub maximum_event_age: Duration,
}

impl Default for RetryPolicy {
    /// AWS's default: 185 retries within 24 hours.
    fn default() -> RetryPolicy {
        RetryPolicy {
            maximum_retry_attempts: 185,
            maximum_event_age: Duration::from_secs(86_400),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SchedulerOptions {
    pub region: String,
    pub account_id: String,
    /// How long a schedule minute lasts in real time: 60 s, shorter only for tests.
    pub minute: Duration,
}

/// A schedule as the start-up listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upcoming {
    pub name: String,
    pub expression: String,
    /// The next fire time on the schedule clock; `None` when it will not fire again (or
    /// is disabled).
    pub next: Option<DateTime<Utc>>,
    pub enabled: bool,
    /// The functions it invokes, as `Function` or `Function:qualifier`.
    pub targets: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("schedule {name} of stack {stack}: {source}")]
    Backend {
        stack: String,
        name: String,
        source: BackendError,
    },
}

/// The schedule clock: the wall clock, or one running `scale` times faster from `origin`.
#[derive(Clone, Copy, Debug)]
struct Clock {
    origin: DateTime<Utc>,
    scale: f64,
}

impl Clock {
    /// A clock whose minute lasts `minute`; a faster one starts where `backend` says
    /// (the same instant on every node sharing it).
    fn new(minute: Duration, backend: &dyn ScheduleBackend) -> Clock {
        let minute_secs = minute.as_secs_f64();
        let scale = if minute_secs > 0.0 {
            60.0 / minute_secs
        } else {
            1.0
        };
        let now = Utc::now();
        let origin = if scale == 1.0 {
            now
        } else {
            backend.clock_origin(minute, now).unwrap_or_else(|error| {
                tracing::warn!("the schedule clock starts now: {error}");
                now
            })
        };
        Clock { origin, scale }
    }

    fn now(&self) -> DateTime<Utc> {
        let real = Utc::now();
        if self.scale == 1.0 {
            return real;
        }
        let elapsed = (real - self.origin).to_std().unwrap_or_default();
        self.origin + TimeDelta::from_std(elapsed.mul_f64(self.scale)).unwrap_or(TimeDelta::MAX)
    }

    /// Real time for `span` of schedule time.
    fn real(&self, span: Duration) -> Duration {
        span.div_f64(self.scale)
    }

    /// Sleeps until the schedule clock reads `until`. Long waits are cut into pieces and
    /// the clock read again, so a wall clock set forward or back is followed.
    async fn sleep_until(&self, until: DateTime<Utc>) {
        loop {
            let Ok(left) = (until - self.now()).to_std() else {
                return;
            };
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(self.real(left).min(Duration::from_secs(30))).await;
        }
    }
}

struct Running {
    spec: Arc<ScheduleSpec>,
    timetable: Timetable,
    task: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

struct Inner {
    backend: Arc<dyn ScheduleBackend>,
    invoker: Arc<dyn Invoke>,
    options: SchedulerOptions,
    clock: Clock,
    stacks: Mutex<BTreeMap<String, Vec<Running>>>,
}

/// Runs every stack's schedules.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    pub fn new(
        backend: Arc<dyn ScheduleBackend>,
        invoker: Arc<dyn Invoke>,
        options: SchedulerOptions,
    ) -> Scheduler {
        Scheduler {
            inner: Arc::new(Inner {
                invoker,
                clock: Clock::new(options.minute, backend.as_ref()),
                backend,
                options,
                stacks: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The schedule clock's time.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Makes `specs` the stack's schedules (its new current version's), stopping the
    /// timers of the ones before. Must run inside a tokio runtime. A schedule whose state
    /// cannot be read does not run; the others do.
    pub fn replace_stack(&self, stack: &str, specs: Vec<ScheduleSpec>) -> Vec<SchedulerError> {
        let mut errors = Vec::new();
        let mut running = Vec::new();
        for spec in specs {
            let key = ScheduleKey {
                stack: stack.to_owned(),
                name: spec.name.clone(),
            };
            let now = self.inner.clock.now();
            let record = match self
                .inner
                .backend
                .register(&key, &spec.schedule.to_string(), now)
            {
                Ok(record) => record,
                Err(source) => {
                    errors.push(SchedulerError::Backend {
                        stack: stack.to_owned(),
                        name: spec.name.clone(),
                        source,
                    });
                    continue;
                }
            };
            let timetable = timetable(&spec, record.anchor);
            let spec = Arc::new(spec);
            let task = spec.enabled.then(|| {
                let after = record.last_tick.map_or(now, |last| last.max(now));
                tokio::spawn(run(
                    self.inner.clone(),
                    key,
                    spec.clone(),
                    timetable.clone(),
                    after,
                ))
            });
            running.push(Running {
                spec,
                timetable,
                task,
            });
        }
        let old = self
            .inner
            .stacks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(stack.to_owned(), running);
        // Dropping the old timers aborts them.
        drop(old);
        errors
    }

    /// Stops a deleted stack's schedules and forgets their state.
    pub fn remove_stack(&self, stack: &str) -> Result<(), BackendError> {
        let old = self
            .inner
            .stacks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(stack);
        drop(old);
        self.inner.backend.forget_stack(stack)
    }

    /// Stops every timer (server shutdown); the state stays.
    pub fn stop(&self) {
        let old = std::mem::take(
            &mut *self
                .inner
                .stacks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        drop(old);
    }

    /// The stack's schedules with their next fire times, in the order they were given.
    pub fn upcoming(&self, stack: &str) -> Vec<Upcoming> {
        let now = self.inner.clock.now();
        self.inner
            .stacks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(stack)
            .map(|running| {
                running
                    .iter()
                    .map(|running| Upcoming {
                        name: running.spec.name.clone(),
                        expression: running.spec.schedule.to_string(),
                        next: running
                            .spec
                            .enabled
                            .then(|| running.timetable.next_after(now))
                            .flatten(),
                        enabled: running.spec.enabled,
                        targets: running
                            .spec
                            .targets
                            .iter()
                            .map(|target| match &target.function.qualifier {
                                Some(qualifier) => {
                                    format!("{}:{qualifier}", target.function.function)
                                }
                                None => target.function.function.to_string(),
                            })
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The spec's timetable; a rate without a start date counts its periods from `anchor`.
fn timetable(spec: &ScheduleSpec, anchor: DateTime<Utc>) -> Timetable {
    let start = match (&spec.schedule, spec.start) {
        (Schedule::Rate(_), None) => Some(anchor),
        (_, start) => start,
    };
    let end = spec
        .end
        .filter(|end| start.is_none_or(|start| start <= *end));
    Timetable::new(spec.schedule.clone(), spec.time_zone, start, end)
        .expect("the start date is not after the end date")
}

/// One schedule's timer: sleeps to each tick, claims it, and hands it to delivery.
async fn run(
    inner: Arc<Inner>,
    key: ScheduleKey,
    spec: Arc<ScheduleSpec>,
    timetable: Timetable,
    mut after: DateTime<Utc>,
) {
    while let Some(tick) = timetable.next_after(after) {
        inner.clock.sleep_until(tick).await;
        let claimed = {
            let backend = inner.backend.clone();
            let key = key.clone();
            tokio::task::spawn_blocking(move || backend.claim(&key, tick)).await
        };
        match claimed {
            Ok(Ok(true)) => {
                let late = inner.clock.now() - tick;
                tracing::debug!(
                    "schedule {} of {} fires its {tick} tick {} ms after it",
                    key.name,
                    key.stack,
                    late.num_milliseconds()
                );
                for target in &spec.targets {
                    tokio::spawn(deliver(inner.clone(), spec.clone(), target.clone(), tick));
                }
            }
            Ok(Ok(false)) => {}
            Ok(Err(error)) => {
                tracing::warn!(
                    "schedule {} of {}: tick {tick} not fired: {error}",
                    key.name,
                    key.stack
                );
            }
            Err(error) => {
                tracing::warn!(
                    "schedule {} of {}: tick {tick} not fired: {error}",
                    key.name,
                    key.stack
                );
            }
        }
        // A tick the timer overslept (the machine was suspended) fires once, late; the
        // ones it slept through are not replayed.
        after = tick.max(inner.clock.now());
    }
}

/// Lambda's retries of an asynchronous invocation whose function failed: two, after one
/// and then two minutes.
const FUNCTION_ERROR_RETRIES: [u64; 2] = [60, 120];

/// Calls one target for one tick. EventBridge and Scheduler invoke Lambda asynchronously:
/// a function error is retried as Lambda retries an asynchronous event (twice); a call
/// that could not reach the function is retried under the schedule's `RetryPolicy`.
async fn deliver(
    inner: Arc<Inner>,
    spec: Arc<ScheduleSpec>,
    target: ScheduleTarget,
    tick: DateTime<Utc>,
) {
    let mut attempt: u32 = 1;
    let mut function_errors = 0usize;
    let mut delivery_retries = 0u32;
    loop {
        let payload = match spec.kind {
            ScheduleKind::Rule => target.input.clone().unwrap_or_else(|| {
                rule_event(
                    &uuid::Uuid::new_v4().to_string(),
                    &inner.options.account_id,
                    &inner.options.region,
                    tick,
                    &spec.arn,
                )
            }),
            ScheduleKind::Scheduler => scheduler_input(
                target.input.as_deref(),
                &spec.arn,
                tick,
                &execution_id(),
                attempt,
            ),
        };
        let result = inner
            .invoker
            .invoke(&target.function, bytes::Bytes::from(payload))
            .await;
        let delay = match result {
            Ok(_) => return,
            Err(InvokeError::FunctionError(_) | InvokeError::Timeout) => {
                let Some(delay) = FUNCTION_ERROR_RETRIES.get(function_errors) else {
                    tracing::warn!(
                        "schedule {}: {} failed its {tick} tick {} times; the event is dropped",
                        spec.name,
                        target.function,
                        function_errors + 1
                    );
                    return;
                };
                function_errors += 1;
                Duration::from_secs(*delay)
            }
            Err(error @ (InvokeError::Throttled | InvokeError::Unavailable(_))) => {
                delivery_retries += 1;
                let age = (inner.clock.now() - tick).to_std().unwrap_or_default();
                if delivery_retries > spec.retry.maximum_retry_attempts
                    || age >= spec.retry.maximum_event_age
                {
                    tracing::warn!(
                        "schedule {}: {} could not take its {tick} tick ({error}); the event is dropped",
                        spec.name,
                        target.function
                    );
                    return;
                }
                Duration::from_secs(1 << delivery_retries.min(6))
            }
            Err(error) => {
                tracing::warn!(
                    "schedule {}: {} cannot take its {tick} tick: {error}",
                    spec.name,
                    target.function
                );
                return;
            }
        };
        attempt += 1;
        tokio::time::sleep(inner.clock.real(delay)).await;
    }
}

/// Scheduler's execution ids: 16 lower-case hexadecimal characters.
fn execution_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}

#[cfg(test)]
mod tests;
