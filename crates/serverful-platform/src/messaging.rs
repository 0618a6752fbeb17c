//! Sending to queues and topics by ARN: the one way the platform's event sources and
//! destinations reach SQS and SNS (stream mappings' `OnFailure`, asynchronous
//! invocations' destinations and dead-letter queues, EventBridge rule targets).

use std::sync::{Arc, Weak};

use futures_util::future::BoxFuture;
use serde_json::Value;
use serverful_streams::{DestinationError, FailureDestination};

use crate::server::Platform;

/// A message for a queue or topic.
#[derive(Debug, Clone, Default)]
pub(crate) struct Message {
    pub body: String,
    /// A FIFO queue's or topic's message group.
    pub group_id: Option<String>,
    /// SNS's `Subject`.
    pub subject: Option<String>,
}

impl Platform {
    /// Sends `message` to the SQS queue or SNS topic `arn` names.
    pub(crate) async fn send_to(&self, arn: &str, message: Message) -> Result<(), String> {
        match arn.split(':').nth(2) {
            Some("sqs") => self.send_to_queue(arn, message).await,
            Some("sns") => self.publish_to_topic(arn, message).await,
            _ => Err(format!("{arn} is not an SQS queue or SNS topic ARN")),
        }
    }

    async fn send_to_queue(&self, arn: &str, message: Message) -> Result<(), String> {
        let Some(queues) = self.config().queues.clone() else {
            return Err(format!("send to {arn}: this server runs no queues"));
        };
        let Some(name) = queues.queue_of_arn(arn) else {
            return Err(format!("send to {arn}: not a queue of this server"));
        };
        let sender = self.config().account_id.clone();
        // A FIFO queue needs a group and, without content-based deduplication, an id.
        let deduplication_id = message
            .group_id
            .as_ref()
            .map(|_| uuid::Uuid::new_v4().to_string());
        let send = serverful_sqs::SendMessage {
            body: message.body,
            group_id: message.group_id,
            deduplication_id,
            ..serverful_sqs::SendMessage::default()
        };
        tokio::task::spawn_blocking(move || queues.send(&name, send, &sender))
            .await
            .map_err(|error| format!("send to {arn}: {error}"))?
            .map(|_| ())
            .map_err(|error| format!("send to {arn}: {error}"))
    }

    async fn publish_to_topic(&self, arn: &str, message: Message) -> Result<(), String> {
        let Some(topics) = self.config().topics.clone() else {
            return Err(format!("publish to {arn}: this server runs no topics"));
        };
        let deduplication_id = message
            .group_id
            .as_ref()
            .map(|_| uuid::Uuid::new_v4().to_string());
        topics
            .publish(serverful_sns::PublishInput {
                topic_arn: arn.to_owned(),
                message: message.body,
                subject: message.subject,
                message_structure: None,
                attributes: Default::default(),
                group_id: message.group_id,
                deduplication_id,
            })
            .await
            .map(|_| ())
            .map_err(|error| format!("publish to {arn}: {error}"))
    }
}

/// Stream mappings' failure records, sent to their `OnFailure` queue or topic.
pub(crate) struct PlatformFailureDestination(pub Weak<Platform>);

impl FailureDestination for PlatformFailureDestination {
    fn send(
        &self,
        destination: &str,
        record: Value,
    ) -> BoxFuture<'static, Result<(), DestinationError>> {
        let platform = self.0.upgrade();
        let destination = destination.to_owned();
        Box::pin(async move {
            let failed = |message: String| DestinationError {
                destination: destination.clone(),
                message,
            };
            let platform: Arc<Platform> =
                platform.ok_or_else(|| failed("the server is stopping".to_owned()))?;
            platform
                .send_to(
                    &destination,
                    Message {
                        body: record.to_string(),
                        ..Message::default()
                    },
                )
                .await
                .map_err(failed)
        })
    }
}
