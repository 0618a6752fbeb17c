//! SNS deliveries wired to the platform: a Lambda subscriber's ARN resolved to the
//! function of a stack's current version and its event queued as an asynchronous
//! invocation (SNS invokes Lambda asynchronously), and the seam for SQS subscribers.

use std::sync::{Arc, Weak};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serverful_sns::{Deliveries, QueueMessage};

use crate::server::Platform;

/// Starts the SNS delivery worker when the platform has topics.
pub fn start(platform: &Arc<Platform>) {
    let Some(topics) = platform.config().topics.clone() else {
        return;
    };
    topics.start(Arc::new(PlatformDeliveries(Arc::downgrade(platform))));
}

/// The platform as SNS's worker sees it. Weak: the worker must not keep a stopped
/// platform alive.
struct PlatformDeliveries(Weak<Platform>);

impl Deliveries for PlatformDeliveries {
    fn to_queue(
        &self,
        queue_arn: &str,
        message: QueueMessage,
    ) -> BoxFuture<'static, Result<(), String>> {
        let platform = self.0.upgrade();
        let queue_arn = queue_arn.to_owned();
        Box::pin(async move {
            let Some(platform) = platform else {
                return Err("the server is stopping".to_owned());
            };
            let Some(queues) = platform.config().queues.clone() else {
                return Err(format!(
                    "this server runs no queues: cannot send to {queue_arn}"
                ));
            };
            let Some(name) = queues.queue_of_arn(&queue_arn) else {
                return Err(format!("{queue_arn} is not a queue of this server"));
            };
            // Raw delivery turns the message's attributes into the queue message's.
            let attributes = message
                .attributes
                .into_iter()
                .map(|(name, attribute)| {
                    let value = match attribute.value {
                        serverful_sns::message::AttributeValue::String(text) => {
                            serverful_sqs::MessageAttributeValue {
                                data_type: attribute.data_type,
                                string_value: Some(text),
                                binary_value: None,
                            }
                        }
                        serverful_sns::message::AttributeValue::Binary(bytes) => {
                            serverful_sqs::MessageAttributeValue {
                                data_type: attribute.data_type,
                                string_value: None,
                                binary_value: Some(bytes),
                            }
                        }
                    };
                    (name, value)
                })
                .collect();
            let send = serverful_sqs::SendMessage {
                body: message.body,
                attributes,
                group_id: message.group_id,
                deduplication_id: message.deduplication_id,
                ..serverful_sqs::SendMessage::default()
            };
            // SNS's own principal sends to subscribed queues.
            let sender = "AIDAIT2UOQQY3AUEKVGXU".to_owned();
            tokio::task::spawn_blocking(move || queues.send(&name, send, &sender))
                .await
                .map_err(|error| error.to_string())?
                .map(|_| ())
                .map_err(|error| format!("send to {queue_arn}: {error}"))
        })
    }

    fn to_function(
        &self,
        function_arn: &str,
        event: String,
    ) -> BoxFuture<'static, Result<(), String>> {
        let platform = self.0.upgrade();
        let function_arn = function_arn.to_owned();
        Box::pin(async move {
            let Some(platform) = platform else {
                return Err("the server is stopping".to_owned());
            };
            let Some(queue) = platform.config().async_invocations.clone() else {
                return Err("this server has no queue of asynchronous invocations".to_owned());
            };
            let Some((stack, function, _, qualifier)) = platform.function_by_name(&function_arn)
            else {
                return Err(format!(
                    "no running stack has the function {function_arn}; deploy it or unsubscribe it"
                ));
            };
            queue
                .submit(
                    uuid::Uuid::new_v4().to_string(),
                    &stack,
                    &function,
                    qualifier.as_deref(),
                    Bytes::from(event),
                )
                .await
                .map(|_| ())
                .map_err(|error| {
                    format!("failed to queue the invocation of {function_arn}: {error}")
                })
        })
    }
}
