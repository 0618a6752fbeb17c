//! Asynchronous invocation wired to the platform: which functions exist and how their
//! `EventInvokeConfig` reads (`serverful_async::Directory`, from each stack's current
//! deploy), the workers started over [`PlatformInvoker`], and EventBridge destinations
//! (`PlatformDestinations`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serverful_async::{
    AsyncInvocations, Destination, DestinationKind, DestinationSink, Directory, EventInvokeConfig,
    FunctionTarget, UnsupportedDestinations,
};
use serverful_invoke::FunctionRef;
use serverful_template as template;

use crate::lambda_versions;
use crate::server::{Platform, PlatformInvoker};

/// Starts the asynchronous invocation workers when the platform has a queue.
pub fn start(platform: &Arc<Platform>) {
    let Some(queue) = platform.config().async_invocations.clone() else {
        return;
    };
    queue.start(
        Arc::new(PlatformInvoker(platform.clone())),
        Arc::new(PlatformDirectory(Arc::downgrade(platform))),
        Arc::new(PlatformDestinations(Arc::downgrade(platform))),
    );
}

/// Destinations other than functions: EventBridge buses here (the record goes through
/// the bus's rules); queues and topics are not served yet.
struct PlatformDestinations(Weak<Platform>);

impl DestinationSink for PlatformDestinations {
    fn send(
        &self,
        destination: &Destination,
        record: Bytes,
    ) -> BoxFuture<'static, Result<(), String>> {
        let kind = destination.kind;
        if !matches!(
            kind,
            DestinationKind::EventBridge | DestinationKind::Sqs | DestinationKind::Sns
        ) {
            return UnsupportedDestinations.send(destination, record);
        }
        let platform = self.0.upgrade();
        let arn = destination.arn.clone();
        Box::pin(async move {
            let Some(platform) = platform else {
                return Err("the server is stopping".to_owned());
            };
            if kind == DestinationKind::EventBridge {
                return crate::events_api::put_destination_record(&platform, &arn, &record).await;
            }
            let message = crate::messaging::Message {
                body: String::from_utf8_lossy(&record).into_owned(),
                ..crate::messaging::Message::default()
            };
            platform.send_to(&arn, message).await
        })
    }
}

/// Forgets a deleted stack's queued events.
pub(crate) async fn forget_stack(queue: Option<&Arc<AsyncInvocations>>, stack: &str) {
    if let Some(queue) = queue {
        if let Err(error) = queue.remove_stack(stack).await {
            tracing::warn!("failed to forget the asynchronous events of {stack}: {error}");
        }
    }
}

/// The platform as the workers see it. Weak: the workers must not keep a stopped
/// platform alive.
struct PlatformDirectory(Weak<Platform>);

fn destination(destination: Option<&template::AsyncDestination>) -> Option<Destination> {
    let destination = destination?;
    let kind = match destination.kind.as_str() {
        "Lambda" => DestinationKind::Lambda,
        "EventBridge" => DestinationKind::EventBridge,
        "SQS" => DestinationKind::Sqs,
        "SNS" => DestinationKind::Sns,
        _ => DestinationKind::S3Bucket,
    };
    Some(Destination {
        kind,
        arn: destination.arn.clone(),
    })
}

/// A template's settings over Lambda's defaults.
fn config(settings: Option<&template::EventInvokeConfig>) -> EventInvokeConfig {
    let defaults = EventInvokeConfig::default();
    let Some(settings) = settings else {
        return defaults;
    };
    EventInvokeConfig {
        maximum_retry_attempts: settings
            .maximum_retry_attempts
            .unwrap_or(defaults.maximum_retry_attempts),
        maximum_event_age: settings
            .maximum_event_age_secs
            .map_or(defaults.maximum_event_age, |secs| {
                Duration::from_secs(u64::from(secs))
            }),
        on_success: destination(settings.on_success.as_ref()),
        on_failure: destination(settings.on_failure.as_ref()),
        dead_letter: None,
    }
}

impl Directory for PlatformDirectory {
    fn target(
        &self,
        stack: &str,
        function: &str,
        qualifier: Option<&str>,
    ) -> Option<FunctionTarget> {
        let platform = self.0.upgrade()?;
        let version = platform.current(stack)?;
        let app = &version.app;
        let found = app
            .functions
            .iter()
            .find(|candidate| candidate.logical_id == function)?;
        let qualifier_name = qualifier.unwrap_or("$LATEST");
        let executed_version = if qualifier_name == "$LATEST"
            || qualifier_name.bytes().all(|byte| byte.is_ascii_digit())
        {
            qualifier_name.to_owned()
        } else {
            app.aliases
                .iter()
                .find(|alias| alias.function == function && alias.name == qualifier_name)
                .and_then(|alias| lambda_versions::number_of(app, &alias.version))
                .map_or_else(|| "$LATEST".to_owned(), |number| number.to_string())
        };
        let settings = app
            .event_invoke_configs
            .iter()
            .find(|settings| settings.function == function && settings.qualifier == qualifier_name);
        let mut reference = FunctionRef::new(stack, function).with_trigger(crate::records::ASYNC);
        if let Some(qualifier) = qualifier {
            reference = reference.with_qualifier(qualifier);
        }
        let config_of = platform.config();
        Some(FunctionTarget {
            function: reference,
            arn: format!(
                "arn:aws:lambda:{}:{}:function:{}",
                config_of.region, config_of.account_id, found.name
            ),
            executed_version,
            config: EventInvokeConfig {
                dead_letter: found.dead_letter_arn.as_ref().and_then(|arn| {
                    Some(Destination {
                        kind: DestinationKind::of_arn(arn)?,
                        arn: arn.clone(),
                    })
                }),
                ..config(settings)
            },
        })
    }

    fn function_by_arn(&self, arn: &str) -> Option<(String, String, Option<String>)> {
        let platform = self.0.upgrade()?;
        let (stack, function, _, qualifier) = platform.function_by_name(arn)?;
        Some((stack, function, qualifier))
    }
}
