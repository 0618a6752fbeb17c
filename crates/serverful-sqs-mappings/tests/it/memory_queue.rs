//! An in-memory queue with SQS's receive semantics, for the pollers to run against: messages
//! hidden for a visibility timeout once received, receive counts, receipt handles that go
//! stale when a message is received again, long polls woken by sends, and FIFO queues that
//! hand out a message group in order with at most one batch of a group in flight.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use serverful_sqs_mappings::{
    MessageAttributeValue, QueueClient, QueueError, QueueInfo, ReceivedMessage,
};
use tokio::sync::watch;

struct Message {
    id: String,
    body: String,
    group: Option<String>,
    attributes: BTreeMap<String, MessageAttributeValue>,
    sent_ms: u128,
    first_receive_ms: Option<u128>,
    receive_count: u32,
    /// The handle of the latest receive; older handles are stale.
    handle: Option<String>,
    visible_at: Instant,
    sequence: u64,
}

struct Queue {
    fifo: bool,
    visibility_timeout: Duration,
    /// In send order.
    messages: Vec<Message>,
}

#[derive(Default)]
struct State {
    queues: HashMap<String, Queue>,
    next_id: u64,
    receive_calls: u64,
}

/// The queues; clones share them.
#[derive(Clone)]
pub struct MemoryQueues(Arc<Queues>);

impl std::ops::Deref for MemoryQueues {
    type Target = Queues;
    fn deref(&self) -> &Queues {
        &self.0
    }
}

pub struct Queues {
    state: Mutex<State>,
    /// Bumped on every change that can make a message visible, to wake long polls.
    changed: watch::Sender<u64>,
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis())
}

impl MemoryQueues {
    pub fn new() -> MemoryQueues {
        MemoryQueues(Arc::new(Queues {
            state: Mutex::new(State::default()),
            changed: watch::channel(0).0,
        }))
    }
}

impl Queues {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("not poisoned")
    }

    fn wake(&self) {
        self.changed.send_modify(|version| *version += 1);
    }

    pub fn create(&self, arn: &str, fifo: bool, visibility_timeout: Duration) {
        self.state().queues.insert(
            arn.to_owned(),
            Queue {
                fifo,
                visibility_timeout,
                messages: Vec::new(),
            },
        );
        self.wake();
    }

    pub fn delete_queue(&self, arn: &str) {
        self.state().queues.remove(arn);
        self.wake();
    }

    pub fn send(&self, arn: &str, body: &str) -> String {
        self.send_with(arn, body, None, BTreeMap::new())
    }

    /// Sends a message; returns its id.
    pub fn send_with(
        &self,
        arn: &str,
        body: &str,
        group: Option<&str>,
        attributes: BTreeMap<String, MessageAttributeValue>,
    ) -> String {
        let id = {
            let mut state = self.state();
            state.next_id += 1;
            let sequence = state.next_id;
            let id = format!("00000000-0000-4000-8000-{sequence:012}");
            let queue = state.queues.get_mut(arn).expect("the queue exists");
            queue.messages.push(Message {
                id: id.clone(),
                body: body.to_owned(),
                group: group.map(str::to_owned),
                attributes,
                sent_ms: now_ms(),
                first_receive_ms: None,
                receive_count: 0,
                handle: None,
                visible_at: Instant::now(),
                sequence,
            });
            id
        };
        self.wake();
        id
    }

    /// The bodies of the messages still on the queue (visible or in flight).
    pub fn bodies(&self, arn: &str) -> Vec<String> {
        self.state().queues[arn]
            .messages
            .iter()
            .map(|message| message.body.clone())
            .collect()
    }

    /// How many messages of the queue are visible now.
    pub fn visible(&self, arn: &str) -> usize {
        let now = Instant::now();
        self.state().queues[arn]
            .messages
            .iter()
            .filter(|message| message.visible_at <= now)
            .count()
    }

    /// How many times each message still on the queue was received, by body.
    pub fn receive_counts(&self, arn: &str) -> BTreeMap<String, u32> {
        self.state().queues[arn]
            .messages
            .iter()
            .map(|message| (message.body.clone(), message.receive_count))
            .collect()
    }

    pub fn receive_calls(&self) -> u64 {
        self.state().receive_calls
    }

    /// Takes up to `max` visible messages, or none.
    fn take(
        &self,
        arn: &str,
        max: usize,
        hide_for: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let mut state = self.state();
        state.receive_calls += 1;
        let queue = state
            .queues
            .get_mut(arn)
            .ok_or_else(|| QueueError::NoSuchQueue(arn.to_owned()))?;
        let now = Instant::now();
        let hide_for = hide_for.unwrap_or(queue.visibility_timeout);
        // A FIFO group with a message in flight hands out nothing more until it is back.
        let mut blocked: BTreeSet<String> = queue
            .messages
            .iter()
            .filter(|message| message.visible_at > now)
            .filter_map(|message| message.group.clone())
            .collect();
        let fifo = queue.fifo;
        let mut taken = Vec::new();
        for message in &mut queue.messages {
            if taken.len() == max.min(10) {
                break;
            }
            if fifo {
                let group = message.group.clone().unwrap_or_default();
                if blocked.contains(&group) {
                    continue;
                }
                if message.visible_at > now {
                    blocked.insert(group);
                    continue;
                }
            } else if message.visible_at > now {
                continue;
            }
            message.receive_count += 1;
            message.first_receive_ms.get_or_insert_with(now_ms);
            let handle = format!("{}#{}", message.id, message.receive_count);
            message.handle = Some(handle.clone());
            message.visible_at = now + hide_for;
            let mut attributes = BTreeMap::from([
                (
                    "ApproximateReceiveCount".to_owned(),
                    message.receive_count.to_string(),
                ),
                ("SentTimestamp".to_owned(), message.sent_ms.to_string()),
                ("SenderId".to_owned(), "AIDAIENQZJOLO23YVJ4VO".to_owned()),
                (
                    "ApproximateFirstReceiveTimestamp".to_owned(),
                    message.first_receive_ms.unwrap_or_default().to_string(),
                ),
            ]);
            if let Some(group) = &message.group {
                attributes.insert("MessageGroupId".to_owned(), group.clone());
                attributes.insert("MessageDeduplicationId".to_owned(), message.id.clone());
                attributes.insert(
                    "SequenceNumber".to_owned(),
                    format!("{:020}", message.sequence),
                );
            }
            taken.push(ReceivedMessage {
                message_id: message.id.clone(),
                receipt_handle: handle,
                body: message.body.clone(),
                attributes,
                message_attributes: message.attributes.clone(),
                // The digests are the engine's business; the poller passes them through.
                md5_of_body: format!("md5-of-body-{}", message.sequence),
                md5_of_message_attributes: (!message.attributes.is_empty())
                    .then(|| format!("md5-of-attributes-{}", message.sequence)),
            });
        }
        Ok(taken)
    }

    /// When the next hidden message of the queue becomes visible.
    fn next_visible(&self, arn: &str) -> Option<Instant> {
        let now = Instant::now();
        self.state().queues.get(arn).and_then(|queue| {
            queue
                .messages
                .iter()
                .map(|message| message.visible_at)
                .filter(|at| *at > now)
                .min()
        })
    }
}

impl QueueClient for MemoryQueues {
    fn attributes(&self, queue_arn: &str) -> BoxFuture<'static, Result<QueueInfo, QueueError>> {
        let found = self
            .state()
            .queues
            .get(queue_arn)
            .map(|queue| QueueInfo {
                fifo: queue.fifo,
                visibility_timeout: queue.visibility_timeout,
            })
            .ok_or_else(|| QueueError::NoSuchQueue(queue_arn.to_owned()));
        Box::pin(async move { found })
    }

    fn receive(
        &self,
        queue_arn: &str,
        max_messages: usize,
        wait: Duration,
        visibility_timeout: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<ReceivedMessage>, QueueError>> {
        let queues = self.clone();
        let arn = queue_arn.to_owned();
        Box::pin(async move {
            let deadline = Instant::now() + wait;
            let mut changes = queues.changed.subscribe();
            loop {
                changes.borrow_and_update();
                let taken = queues.take(&arn, max_messages, visibility_timeout)?;
                let now = Instant::now();
                if !taken.is_empty() || now >= deadline {
                    return Ok(taken);
                }
                let wake_at = queues
                    .next_visible(&arn)
                    .map_or(deadline, |at| at.min(deadline));
                let _ = tokio::time::timeout(wake_at - now, changes.changed()).await;
            }
        })
    }

    fn delete(
        &self,
        queue_arn: &str,
        receipt_handles: Vec<String>,
    ) -> BoxFuture<'static, Result<(), QueueError>> {
        let deleted = match self.state().queues.get_mut(queue_arn) {
            None => Err(QueueError::NoSuchQueue(queue_arn.to_owned())),
            Some(queue) => {
                queue.messages.retain(|message| {
                    message
                        .handle
                        .as_ref()
                        .is_none_or(|handle| !receipt_handles.contains(handle))
                });
                Ok(())
            }
        };
        self.wake();
        Box::pin(async move { deleted })
    }

    fn change_visibility(
        &self,
        queue_arn: &str,
        receipt_handles: Vec<String>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<(), QueueError>> {
        let changed = match self.state().queues.get_mut(queue_arn) {
            None => Err(QueueError::NoSuchQueue(queue_arn.to_owned())),
            Some(queue) => {
                let visible_at = Instant::now() + timeout;
                for message in &mut queue.messages {
                    if message
                        .handle
                        .as_ref()
                        .is_some_and(|handle| receipt_handles.contains(handle))
                    {
                        message.visible_at = visible_at;
                    }
                }
                Ok(())
            }
        };
        self.wake();
        Box::pin(async move { changed })
    }
}
