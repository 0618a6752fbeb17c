//! Each stack's queues, topics, subscriptions and queue → function mappings, as its
//! template declares them: made (or brought to the template's settings) when a version
//! starts, kept across deploys as tables are, the subscriptions a new version no longer
//! declares removed at the switch, the mappings handed to [`serverful_sqs_mappings`] at the
//! switch; and the adapter through which those mappings read the server's queues
//! ([`SqsClient`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serverful_invoke::FunctionRef;
use serverful_sqs::{Queues, ReceiveOptions, SqsError};
use serverful_sqs_mappings::{
    MessageAttributeValue, QueueClient, QueueError, QueueInfo, QueueMapping, ReceivedMessage,
};
use serverful_template as template;

use crate::server::{LiveVersion, Platform};
use crate::ActionError;

/// Makes the app's queues and topics, or brings existing ones to the template's
/// attributes and tags, then subscribes what its subscriptions name. Checks each queue
/// mapping's queue, as Lambda does when a mapping is created.
pub(crate) async fn ensure(platform: &Platform, app: &template::App) -> Result<(), ActionError> {
    let config = platform.config();
    if let Some(queues) = config.queues.clone() {
        // A dead-letter queue must exist before a queue that names it.
        let mut pending: Vec<template::Queue> = app.queues.clone();
        pending.sort_by_key(|queue| queue.attributes.contains_key("RedrivePolicy"));
        let ensured = tokio::task::spawn_blocking(move || {
            for queue in &pending {
                queues
                    .ensure_queue(&queue.name, &queue.attributes, &queue.tags)
                    .map_err(|error| format!("{} ({}): {error}", queue.logical_id, queue.name))?;
            }
            Ok::<(), String>(())
        })
        .await
        .map_err(|error| ActionError::internal("queues", error.to_string()))?;
        ensured.map_err(|message| ActionError::invalid("queues", message))?;
    } else if !app.queues.is_empty() {
        return Err(ActionError::invalid(
            "queues",
            "this server runs no SQS queues".to_owned(),
        ));
    }
    if let Some(topics) = config.topics.clone() {
        for topic in &app.topics {
            let arn = topics.topic_arn(&topic.name);
            let located = |error: serverful_sns::SnsError| {
                ActionError::invalid(
                    "topics",
                    format!("{} ({}): {error}", topic.logical_id, topic.name),
                )
            };
            if topics.topic_attributes(&arn).await.is_err() {
                topics
                    .create_topic(&topic.name, topic.attributes.clone(), topic.tags.clone())
                    .await
                    .map_err(located)?;
            } else {
                for (name, value) in &topic.attributes {
                    if matches!(name.as_str(), "FifoTopic") {
                        continue;
                    }
                    topics
                        .set_topic_attribute(&arn, name, value)
                        .await
                        .map_err(located)?;
                }
            }
        }
        for subscription in &app.subscriptions {
            let located = |error: serverful_sns::SnsError| {
                ActionError::invalid(
                    "subscriptions",
                    format!(
                        "{} ({} to {}): {error}",
                        subscription.id, subscription.protocol, subscription.topic_arn
                    ),
                )
            };
            let arn = topics
                .subscribe(
                    &subscription.topic_arn,
                    &subscription.protocol,
                    &subscription.endpoint,
                    BTreeMap::new(),
                    true,
                )
                .await
                .map_err(located)?;
            for (name, value) in &subscription.attributes {
                topics
                    .set_subscription_attribute(&arn, name, value)
                    .await
                    .map_err(located)?;
            }
        }
    } else if !app.topics.is_empty() || !app.subscriptions.is_empty() {
        return Err(ActionError::invalid(
            "topics",
            "this server runs no SNS topics".to_owned(),
        ));
    }
    check_mappings(platform, app)
}

/// Each queue mapping's queue exists, and its visibility timeout leaves the function
/// time to finish (Lambda's rule).
fn check_mappings(platform: &Platform, app: &template::App) -> Result<(), ActionError> {
    let Some(queues) = platform.config().queues.clone() else {
        if app.queue_mappings.is_empty() {
            return Ok(());
        }
        return Err(ActionError::invalid(
            "event source mappings",
            "this server runs no SQS queues".to_owned(),
        ));
    };
    for mapping in &app.queue_mappings {
        let problem = |message: String| {
            ActionError::invalid(
                "event source mappings",
                format!("{} of function {}: {message}", mapping.id, mapping.function),
            )
        };
        let name = queues
            .queue_of_arn(&mapping.queue_arn)
            .filter(|name| queues.exists(name))
            .ok_or_else(|| {
                problem(format!(
                    "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. (the queue {} does not exist; declare it in the template)",
                    mapping.queue_arn
                ))
            })?;
        let settings = queues
            .settings(&name)
            .map_err(|error| problem(error.to_string()))?;
        let timeout = app
            .functions
            .iter()
            .find(|function| function.logical_id == mapping.function)
            .map_or(3, |function| function.timeout_secs);
        if settings.visibility_timeout < timeout {
            return Err(problem(format!(
                "Queue visibility timeout: {} seconds is less than Function timeout: {timeout} seconds; raise the queue's VisibilityTimeout",
                settings.visibility_timeout
            )));
        }
    }
    Ok(())
}

/// Unsubscribes what `previous` declared and `next` does not (a deploy switched).
pub(crate) async fn retire_subscriptions(
    platform: &Platform,
    previous: &template::App,
    next: Option<&template::App>,
) {
    let Some(topics) = platform.config().topics.clone() else {
        return;
    };
    let kept: BTreeSet<(&str, &str, &str)> = next
        .map(|app| {
            app.subscriptions
                .iter()
                .map(|subscription| {
                    (
                        subscription.topic_arn.as_str(),
                        subscription.protocol.as_str(),
                        subscription.endpoint.as_str(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for subscription in &previous.subscriptions {
        let key = (
            subscription.topic_arn.as_str(),
            subscription.protocol.as_str(),
            subscription.endpoint.as_str(),
        );
        if kept.contains(&key) {
            continue;
        }
        let Ok((listed, _)) = topics
            .list_subscriptions(Some(&subscription.topic_arn), None)
            .await
        else {
            continue;
        };
        for found in listed {
            if found.protocol == subscription.protocol && found.endpoint == subscription.endpoint {
                if let Err(error) = topics.unsubscribe(&found.arn).await {
                    tracing::warn!("failed to unsubscribe {}: {error}", found.arn);
                }
            }
        }
    }
}

/// Deletes a deleted stack's topics (their subscriptions go with them) and, with
/// `with_queues`, its queues and their messages. Returns the queues kept.
pub(crate) async fn delete_stack(
    platform: &Platform,
    app: &template::App,
    with_queues: bool,
) -> (Vec<String>, Vec<String>) {
    if let Some(topics) = platform.config().topics.clone() {
        retire_subscriptions(platform, app, None).await;
        for topic in &app.topics {
            if let Err(error) = topics.delete_topic(&topics.topic_arn(&topic.name)).await {
                tracing::warn!("failed to delete the topic {}: {error}", topic.name);
            }
        }
    }
    let names: Vec<String> = app.queues.iter().map(|queue| queue.name.clone()).collect();
    let Some(queues) = platform.config().queues.clone() else {
        return (Vec::new(), names);
    };
    if !with_queues {
        return (Vec::new(), names);
    }
    let deleted = names.clone();
    let _ = tokio::task::spawn_blocking(move || {
        for name in &deleted {
            if let Err(error) = queues.delete_queue(name) {
                tracing::warn!("failed to delete the queue {name}: {error}");
            }
        }
    })
    .await;
    (names, Vec::new())
}

/// The queue mappings of `version` as [`serverful_sqs_mappings`] runs them.
fn mappings(
    platform: &Platform,
    stack: &str,
    version: &LiveVersion,
) -> Result<Vec<QueueMapping>, String> {
    version
        .app
        .queue_mappings
        .iter()
        .map(|source| {
            let function_name = version
                .app
                .functions
                .iter()
                .find(|function| function.logical_id == source.function)
                .map_or(source.function.as_str(), |function| function.name.as_str());
            let function =
                FunctionRef::new(stack, source.function.as_str()).in_deploy(version.record.number);
            to_mapping(
                platform,
                format!("{stack}/{}", source.id),
                function,
                function_name,
                source,
            )
        })
        .collect()
}

/// One queue mapping as [`serverful_sqs_mappings`] runs it.
pub(crate) fn to_mapping(
    platform: &Platform,
    key: String,
    mut function: FunctionRef,
    function_name: &str,
    source: &template::QueueMapping,
) -> Result<QueueMapping, String> {
    let config = platform.config();
    if let Some(qualifier) = &source.qualifier {
        function = function.with_qualifier(qualifier.as_str());
    }
    let queue_name = source
        .queue_arn
        .rsplit(':')
        .next()
        .unwrap_or(&source.queue_arn);
    let function = function.with_trigger(format!("queue {queue_name}"));
    let mut mapping = QueueMapping::new(
        key,
        function,
        format!(
            "arn:aws:lambda:{}:{}:function:{function_name}",
            config.region, config.account_id
        ),
        source.queue_arn.as_str(),
    );
    mapping.batch_size = source.batch_size as usize;
    mapping.batching_window = Duration::from_secs(u64::from(source.maximum_batching_window_secs));
    mapping.maximum_concurrency = source.maximum_concurrency.map(|limit| limit as usize);
    mapping.report_batch_item_failures = source.report_batch_item_failures;
    mapping.filters = source
        .filter_patterns
        .iter()
        .map(|pattern| serverful_eventbridge::EventPattern::parse(pattern))
        .collect::<Result<_, _>>()
        .map_err(|error| format!("{}: filter pattern: {error}", source.id))?;
    mapping.filter_patterns = source.filter_patterns.clone();
    mapping.enabled = source.enabled;
    Ok(mapping)
}

impl Platform {
    /// Makes `version`'s queue mappings the stack's (in the background: the old version's
    /// pollers first finish the batch they deliver).
    pub(crate) fn switch_queue_mappings(self: &Arc<Self>, stack: &str, version: &LiveVersion) {
        let Some(queue_mappings) = self.queue_mappings().cloned() else {
            return;
        };
        let mappings = match mappings(self, stack, version) {
            Ok(mappings) => mappings,
            Err(message) => {
                tracing::error!("{stack}: failed to start the queue mappings: {message}");
                Vec::new()
            }
        };
        let stack = stack.to_owned();
        let switch = queue_mappings.next_switch();
        tokio::spawn(async move { queue_mappings.set_stack(&stack, switch, mappings).await });
    }
}

/// The server's queues as the queue mappings read them.
pub(crate) struct SqsClient(pub Arc<Queues>);

fn queue_error(error: SqsError) -> QueueError {
    match error {
        SqsError::QueueDoesNotExist => QueueError::NoSuchQueue(error.to_string()),
        other => QueueError::Unavailable(other.to_string()),
    }
}

impl SqsClient {
    fn name(&self, arn: &str) -> Result<String, QueueError> {
        self.0
            .queue_of_arn(arn)
            .ok_or_else(|| QueueError::NoSuchQueue(format!("{arn} is not a queue of this server")))
    }
}

impl QueueClient for SqsClient {
    fn attributes(&self, queue_arn: &str) -> BoxFuture<'static, Result<QueueInfo, QueueError>> {
        let found = self.name(queue_arn).and_then(|name| {
            self.0
                .settings(&name)
                .map(|settings| QueueInfo {
                    fifo: settings.fifo,
                    visibility_timeout: Duration::from_secs(u64::from(settings.visibility_timeout)),
                })
                .map_err(queue_error)
        });
        Box::pin(async move { found })
    }

    fn receive(
        &self,
        queue_arn: &str,
        max_messages: usize,
        wait: Duration,
        visibility_timeout: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<ReceivedMessage>, QueueError>> {
        let queues = self.0.clone();
        let name = self.name(queue_arn);
        Box::pin(async move {
            let name = name?;
            let options = ReceiveOptions {
                max_messages: Some(max_messages.clamp(1, 10) as u32),
                visibility_timeout: visibility_timeout.map(|timeout| timeout.as_secs() as u32),
                // Whole seconds: a wait under a second is one.
                wait_seconds: Some(if wait.is_zero() {
                    0
                } else {
                    (wait.as_secs_f64().ceil() as u32).min(serverful_sqs::MAX_WAIT_SECONDS)
                }),
                attribute_names: vec!["All".to_owned()],
                message_attribute_names: vec!["All".to_owned()],
                request_attempt_id: None,
            };
            let received = queues.receive(&name, options).await.map_err(queue_error)?;
            Ok(received
                .into_iter()
                .map(|message| ReceivedMessage {
                    message_id: message.message_id,
                    receipt_handle: message.receipt_handle,
                    body: message.body,
                    attributes: message.attributes,
                    message_attributes: message
                        .message_attributes
                        .into_iter()
                        .map(|(name, value)| {
                            (
                                name,
                                MessageAttributeValue {
                                    data_type: value.data_type,
                                    string_value: value.string_value,
                                    binary_value: value.binary_value.map(Bytes::from),
                                },
                            )
                        })
                        .collect(),
                    md5_of_body: message.md5_of_body,
                    md5_of_message_attributes: message.md5_of_message_attributes,
                })
                .collect())
        })
    }

    fn delete(
        &self,
        queue_arn: &str,
        receipt_handles: Vec<String>,
    ) -> BoxFuture<'static, Result<(), QueueError>> {
        let queues = self.0.clone();
        let name = self.name(queue_arn);
        Box::pin(async move {
            let name = name?;
            tokio::task::spawn_blocking(move || {
                for handle in &receipt_handles {
                    match queues.delete_message(&name, handle) {
                        Ok(()) => {}
                        Err(SqsError::QueueDoesNotExist) => {
                            return Err(QueueError::NoSuchQueue(name.clone()))
                        }
                        // A handle gone stale (the message came back to the queue) is
                        // skipped, as SQS does.
                        Err(error) => tracing::debug!("delete {name}: {error}"),
                    }
                }
                Ok(())
            })
            .await
            .map_err(|error| QueueError::Unavailable(error.to_string()))?
        })
    }

    fn change_visibility(
        &self,
        queue_arn: &str,
        receipt_handles: Vec<String>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<(), QueueError>> {
        let queues = self.0.clone();
        let name = self.name(queue_arn);
        Box::pin(async move {
            let name = name?;
            let seconds = timeout.as_secs() as u32;
            tokio::task::spawn_blocking(move || {
                for handle in &receipt_handles {
                    match queues.change_visibility(&name, handle, seconds) {
                        Ok(()) => {}
                        Err(SqsError::QueueDoesNotExist) => {
                            return Err(QueueError::NoSuchQueue(name.clone()))
                        }
                        Err(error) => tracing::debug!("change visibility {name}: {error}"),
                    }
                }
                Ok(())
            })
            .await
            .map_err(|error| QueueError::Unavailable(error.to_string()))?
        })
    }
}
