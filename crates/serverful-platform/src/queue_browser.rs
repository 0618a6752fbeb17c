//! The web console's queues and topics ([`crate::Action::Messages`]): peek at a stack's
//! queue without receiving (nothing changes), send to it, purge it, and publish to a
//! stack's topic.

use crate::action::{ActionError, ErrorKind, Outcome};
use crate::server::Platform;

/// What the console asks of a queue or topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessagesRequest {
    /// The first `limit` messages, in the order they were sent.
    Peek {
        queue: String,
        limit: usize,
    },
    Send {
        queue: String,
        body: String,
    },
    Purge {
        queue: String,
    },
    Publish {
        topic: String,
        message: String,
        subject: Option<String>,
    },
}

/// A queue's message as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueMessage {
    pub message_id: String,
    pub body: String,
    pub sent_at_ms: i64,
    /// Whether a receiver can take it now (not delayed, not in flight).
    pub visible: bool,
    pub receive_count: u32,
    pub group_id: Option<String>,
}

/// The most messages one peek shows.
const MAX_PEEK: usize = 100;

fn refused(kind: ErrorKind, message: String) -> ActionError {
    ActionError::new("messages", kind, message)
}

impl Platform {
    pub(crate) async fn messages(&self, request: MessagesRequest) -> Result<Outcome, ActionError> {
        let versions = self.current_versions();
        let owns_queue = |name: &str| {
            versions
                .iter()
                .any(|version| version.app.queues.iter().any(|queue| queue.name == name))
        };
        let owns_topic = |name: &str| {
            versions
                .iter()
                .any(|version| version.app.topics.iter().any(|topic| topic.name == name))
        };
        match request {
            MessagesRequest::Publish {
                topic,
                message,
                subject,
            } => {
                if !owns_topic(&topic) {
                    return Err(refused(
                        ErrorKind::NotFound,
                        format!("no stack has a topic named {topic}"),
                    ));
                }
                let Some(topics) = self.config().topics.clone() else {
                    return Err(refused(
                        ErrorKind::Internal,
                        "this server runs no topics".to_owned(),
                    ));
                };
                let published = topics
                    .publish(serverful_sns::PublishInput {
                        topic_arn: topics.topic_arn(&topic),
                        message,
                        subject,
                        message_structure: None,
                        attributes: Default::default(),
                        group_id: None,
                        deduplication_id: None,
                    })
                    .await
                    .map_err(|error| refused(ErrorKind::Invalid, error.to_string()))?;
                Ok(Outcome::Messages {
                    name: topic,
                    messages: Vec::new(),
                    sent: Some(published.message_id),
                    purged: None,
                })
            }
            MessagesRequest::Peek { queue, .. }
            | MessagesRequest::Send { queue, .. }
            | MessagesRequest::Purge { queue }
                if !owns_queue(&queue) =>
            {
                Err(refused(
                    ErrorKind::NotFound,
                    format!("no stack has a queue named {queue}"),
                ))
            }
            request => {
                let Some(queues) = self.config().queues.clone() else {
                    return Err(refused(
                        ErrorKind::Internal,
                        "this server runs no queues".to_owned(),
                    ));
                };
                let sender = self.config().account_id.clone();
                tokio::task::spawn_blocking(move || queue_call(&queues, &sender, request))
                    .await
                    .map_err(|error| ActionError::internal("messages", error.to_string()))?
            }
        }
    }
}

fn queue_call(
    queues: &serverful_sqs::Queues,
    sender: &str,
    request: MessagesRequest,
) -> Result<Outcome, ActionError> {
    let failed = |error: serverful_sqs::SqsError| refused(ErrorKind::Invalid, error.to_string());
    match request {
        MessagesRequest::Peek { queue, limit } => {
            let now = serverful_sqs::now_ms();
            let messages = queues
                .peek(&queue, limit.clamp(1, MAX_PEEK))
                .map_err(failed)?
                .into_iter()
                .map(|message| QueueMessage {
                    visible: message.available_at_ms <= now,
                    message_id: message.message_id,
                    body: message.body,
                    sent_at_ms: message.sent_at_ms,
                    receive_count: message.receive_count,
                    group_id: message.group_id,
                })
                .collect();
            Ok(Outcome::Messages {
                name: queue,
                messages,
                sent: None,
                purged: None,
            })
        }
        MessagesRequest::Send { queue, body } => {
            let fifo = queue.ends_with(".fifo");
            let message = serverful_sqs::SendMessage {
                body,
                // A FIFO queue needs a group and, unless it deduplicates by content, an id.
                group_id: fifo.then(|| "console".to_owned()),
                deduplication_id: fifo.then(|| uuid::Uuid::new_v4().to_string()),
                ..serverful_sqs::SendMessage::default()
            };
            let sent = queues.send(&queue, message, sender).map_err(failed)?;
            Ok(Outcome::Messages {
                name: queue,
                messages: Vec::new(),
                sent: Some(sent.message_id),
                purged: None,
            })
        }
        MessagesRequest::Purge { queue } => {
            let purged = queues.purge(&queue).map_err(failed)?;
            Ok(Outcome::Messages {
                name: queue,
                messages: Vec::new(),
                sent: None,
                purged: Some(purged),
            })
        }
        MessagesRequest::Publish { .. } => Err(refused(
            ErrorKind::Internal,
            "a topic is not a queue".to_owned(),
        )),
    }
}
