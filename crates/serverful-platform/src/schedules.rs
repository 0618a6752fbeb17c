//! The platform's side of schedules: each stack version's schedules (from its template)
//! handed to `serverful-scheduler` at the switch, stopped with the stack, and the invoker
//! they call functions through.

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serverful_invoke::{FunctionRef, HttpTarget, Invoke, InvokeError};
use serverful_schedule::chrono_tz::Tz;
use serverful_scheduler as scheduler;
use serverful_template as template;

use crate::server::{LiveVersion, Platform, WeakInvoker};

/// Hands the scheduler's events to functions without keeping the platform alive (the
/// platform owns the scheduler): through the asynchronous invocation queue when the
/// server has one, else by calling the function.
pub(crate) struct AsyncHandoff(pub(crate) Weak<Platform>);

impl Invoke for AsyncHandoff {
    fn invoke(
        &self,
        function: &FunctionRef,
        event: Bytes,
    ) -> BoxFuture<'static, Result<Bytes, InvokeError>> {
        let queue = self
            .0
            .upgrade()
            .and_then(|platform| platform.config().async_invocations.clone());
        let Some(queue) = queue else {
            return WeakInvoker(self.0.clone()).invoke(function, event);
        };
        let function = function.clone();
        // EventBridge and Scheduler invoke Lambda asynchronously: the event goes to the
        // durable queue of asynchronous invocations, which runs it with Lambda's retries,
        // event age and the function's destinations. The call succeeds once the event is
        // queued, as Lambda's `Invoke` with `InvocationType: Event` answers 202; a failure
        // to queue is the scheduler's to retry.
        Box::pin(async move {
            queue
                .submit(
                    uuid::Uuid::new_v4().to_string(),
                    &function.stack,
                    &function.function,
                    function.qualifier.as_deref(),
                    event,
                )
                .await
                .map(|_| Bytes::new())
                .map_err(|error| InvokeError::Unavailable(error.to_string()))
        })
    }

    fn http_target(
        &self,
        function: &FunctionRef,
    ) -> BoxFuture<'static, Result<HttpTarget, InvokeError>> {
        WeakInvoker(self.0.clone()).http_target(function)
    }
}

/// The scheduler over `backend`, when the server keeps schedule state.
pub(crate) fn scheduler(
    backend: Option<Arc<dyn scheduler::ScheduleBackend>>,
    platform: Weak<Platform>,
    region: &str,
    account_id: &str,
    minute: Duration,
) -> Option<scheduler::Scheduler> {
    Some(scheduler::Scheduler::new(
        backend?,
        Arc::new(AsyncHandoff(platform)),
        scheduler::SchedulerOptions {
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            minute,
        },
    ))
}

/// The version's schedules, each target naming the function in the version's deploy.
/// The template checked every expression, zone and date.
pub(crate) fn specs(stack: &str, version: &LiveVersion) -> Vec<scheduler::ScheduleSpec> {
    version
        .app
        .schedules
        .iter()
        .filter_map(|source| {
            let schedule = serverful_schedule::Schedule::parse(&source.expression).ok()?;
            let time_zone = match &source.time_zone {
                Some(name) => serverful_schedule::parse_time_zone(name).ok()?,
                None => Tz::UTC,
            };
            let date = |text: &Option<String>| {
                text.as_deref()
                    .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
                    .map(|date| date.with_timezone(&chrono::Utc))
            };
            let retry =
                source
                    .retry_policy
                    .map_or_else(scheduler::RetryPolicy::default, |policy| {
                        scheduler::RetryPolicy {
                            maximum_retry_attempts: policy.maximum_retry_attempts,
                            maximum_event_age: Duration::from_secs(u64::from(
                                policy.maximum_event_age_secs,
                            )),
                        }
                    });
            Some(scheduler::ScheduleSpec {
                name: source.name.clone(),
                kind: match source.kind {
                    template::ScheduleKind::Rule => scheduler::ScheduleKind::Rule,
                    template::ScheduleKind::Scheduler => scheduler::ScheduleKind::Scheduler,
                },
                arn: source.arn.clone(),
                schedule,
                time_zone,
                start: date(&source.start_date),
                end: date(&source.end_date),
                enabled: source.enabled,
                targets: source
                    .targets
                    .iter()
                    .map(|target| {
                        let function = FunctionRef::new(stack, target.function.as_str())
                            .in_deploy(version.record.number)
                            .with_trigger(format!("schedule {}", source.name));
                        scheduler::ScheduleTarget {
                            function: match &target.qualifier {
                                Some(qualifier) => function.with_qualifier(qualifier.as_str()),
                                None => function,
                            },
                            input: target.input.clone(),
                        }
                    })
                    .collect(),
                retry,
            })
        })
        .collect()
}
