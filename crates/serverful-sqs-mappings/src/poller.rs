//! One mapping's poller: long-polls its queue, gathers and filters batches, and runs up to
//! `MaximumConcurrency` of them at once, each deleting only the messages its invocation
//! succeeded for.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use serverful_invoke::{Invoke, InvokeError};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::client::{QueueClient, QueueError, QueueInfo, ReceivedMessage};
use crate::event::{filter_view, record_of, PAYLOAD_LIMIT};
use crate::mapping::{QueueArn, QueueMapping};
use crate::mappings::QueueSettings;

/// What a poller needs from the server.
pub(crate) struct Services {
    pub client: Arc<dyn QueueClient>,
    /// Which node polls each mapping's queue in a cluster
    /// ([`serverful_cluster::SingleNode`] on one server).
    pub leases: Arc<dyn serverful_cluster::Leases>,
    pub lease_timing: serverful_cluster::LeaseTiming,
    pub invoker: Arc<dyn Invoke>,
    pub settings: QueueSettings,
}

/// The poller was asked to stop (a deploy replaced its mapping, or the server stops).
struct Stopped;

/// A received message with its record, ready for a batch.
struct Pending {
    message: ReceivedMessage,
    /// The record as JSON, serialized once: it sizes the batch and goes into the event as
    /// it is.
    record: Vec<u8>,
}

/// How gathering a batch ended without one.
enum GatherEnd {
    /// Asked to stop; holds what had been received for the batch.
    Stopped(Vec<Pending>),
    Queue(QueueError),
}

/// What the batches of one mapping share.
struct Shared {
    mapping: QueueMapping,
    services: Arc<Services>,
    /// Batches in a row that failed as a whole or could not run: the mapping's back-off
    /// grows with it.
    failures_in_a_row: AtomicU32,
}

pub(crate) struct Poller {
    shared: Arc<Shared>,
    region: String,
    stop: watch::Receiver<bool>,
}

impl Poller {
    pub(crate) fn new(
        mapping: QueueMapping,
        services: Arc<Services>,
        stop: watch::Receiver<bool>,
    ) -> Poller {
        // The template and the Lambda API check the ARN; an odd one only loses the region.
        let region = QueueArn::parse(&mapping.queue_arn)
            .map(|arn| arn.region.to_owned())
            .unwrap_or_default();
        Poller {
            shared: Arc::new(Shared {
                mapping,
                services,
                failures_in_a_row: AtomicU32::new(0),
            }),
            region,
            stop,
        }
    }

    /// Polls while this node holds the mapping's lease: in a cluster one node polls a
    /// queue for a mapping at a time, and another takes over when it dies or is cut off
    /// (messages it had received reappear after their visibility timeout, as on AWS).
    pub(crate) async fn run(mut self) {
        let mut batches = JoinSet::new();
        let lease_name = format!("queue-mapping/{}", self.shared.mapping.key);
        loop {
            let mut stop = self.stop.clone();
            let Some(mut lease) = serverful_cluster::acquire(
                self.shared.services.leases.clone(),
                &lease_name,
                self.shared.services.lease_timing,
                &mut stop,
            )
            .await
            else {
                break;
            };
            tokio::select! {
                outcome = self.poll(&mut batches) => {
                    if let Err(Stopped) = outcome {
                        tracing::debug!(mapping = %self.shared.mapping.key, "queue poller stopped");
                    }
                    break;
                }
                () = lease.lost() => {
                    tracing::warn!(mapping = %self.shared.mapping.key, "this node lost the mapping's lease; it stops polling and waits to take it again");
                }
            }
        }
        // Batches under way finish (their messages are deleted or left to reappear as
        // their invocation decides); nothing new is received.
        while let Some(finished) = batches.join_next().await {
            if let Err(error) = finished {
                tracing::error!(mapping = %self.shared.mapping.key, "queue batch ended badly: {error}");
            }
        }
    }

    fn mapping(&self) -> &QueueMapping {
        &self.shared.mapping
    }

    fn client(&self) -> &Arc<dyn QueueClient> {
        &self.shared.services.client
    }

    fn settings(&self) -> &QueueSettings {
        &self.shared.services.settings
    }

    /// Waits for `duration`, unless asked to stop first.
    async fn sleep(&mut self, duration: Duration) -> Result<(), Stopped> {
        tokio::select! {
            () = tokio::time::sleep(duration) => Ok(()),
            _ = self.stop.wait_for(|stop| *stop) => Err(Stopped),
        }
    }

    /// The queue's settings once it exists; says once that the mapping waits for it.
    async fn attach(&mut self) -> Result<QueueInfo, Stopped> {
        let mut complained = false;
        loop {
            let attributes = self.client().attributes(&self.mapping().queue_arn);
            let found = tokio::select! {
                found = attributes => found,
                _ = self.stop.wait_for(|stop| *stop) => return Err(Stopped),
            };
            match found {
                Ok(info) => {
                    if complained {
                        tracing::info!(
                            mapping = %self.mapping().key,
                            queue = %self.mapping().queue_arn,
                            "event source mapping found its queue"
                        );
                    }
                    return Ok(info);
                }
                Err(error) if !complained => {
                    tracing::warn!(
                        mapping = %self.mapping().key,
                        queue = %self.mapping().queue_arn,
                        "event source mapping waits for its queue: {error}"
                    );
                    complained = true;
                }
                Err(_) => {}
            }
            self.sleep(self.settings().missing_queue_poll).await?;
        }
    }

    async fn poll(&mut self, batches: &mut JoinSet<()>) -> Result<(), Stopped> {
        let concurrency = self
            .mapping()
            .maximum_concurrency
            .unwrap_or(self.settings().default_concurrency)
            .max(1);
        let permits = Arc::new(Semaphore::new(concurrency));
        // Messages received for a batch that had no room left for them (its payload would
        // have passed 6 MB): they start the next one.
        let mut carried: Vec<Pending> = Vec::new();
        let mut info = self.attach().await?;
        loop {
            while let Some(finished) = batches.try_join_next() {
                if let Err(error) = finished {
                    tracing::error!(mapping = %self.mapping().key, "queue batch ended badly: {error}");
                }
            }
            // A permit before receiving: messages are only taken off the queue when a
            // batch can run at once, so none waits out its visibility timeout here.
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => Some(permit.expect("the semaphore is never closed")),
                _ = self.stop.wait_for(|stop| *stop) => None,
            };
            let Some(permit) = permit else {
                self.release(std::mem::take(&mut carried)).await;
                return Err(Stopped);
            };
            match self.gather(&mut carried).await {
                Ok(batch) => {
                    let batch_run = run_batch(
                        self.shared.clone(),
                        info.clone(),
                        batch,
                        permit,
                        self.stop.clone(),
                    );
                    batches.spawn(batch_run);
                }
                Err(GatherEnd::Stopped(received)) => {
                    self.release(received).await;
                    self.release(std::mem::take(&mut carried)).await;
                    return Err(Stopped);
                }
                Err(GatherEnd::Queue(QueueError::NoSuchQueue(_))) => {
                    drop(permit);
                    carried.clear();
                    info = self.attach().await?;
                }
                Err(GatherEnd::Queue(QueueError::Unavailable(reason))) => {
                    drop(permit);
                    tracing::error!(
                        mapping = %self.mapping().key,
                        queue = %self.mapping().queue_arn,
                        "failed to receive messages: {reason}"
                    );
                    self.sleep(self.settings().missing_queue_poll).await?;
                }
            }
        }
    }

    /// Gathers the next batch: waits (long polls) for a first message, then, with a
    /// batching window, receives more until the batch is full, its event would pass 6 MB
    /// or the window (from the first message) has passed. Messages no filter matches are
    /// deleted on the way and do not count.
    async fn gather(&mut self, carried: &mut Vec<Pending>) -> Result<Vec<Pending>, GatherEnd> {
        let batch_size = self.mapping().batch_size.max(1);
        let window = self.mapping().batching_window;
        // `{"Records":[]}` and the commas between records.
        let mut size = 14;
        let mut batch: Vec<Pending> = Vec::new();
        let mut deadline = None;
        while !carried.is_empty() && batch.len() < batch_size {
            let pending = carried.remove(0);
            size += pending.record.len() + 1;
            batch.push(pending);
        }
        if !batch.is_empty() {
            deadline = Some(Instant::now() + window);
        }
        loop {
            if batch.len() >= batch_size || !carried.is_empty() {
                return Ok(batch);
            }
            let wait = match deadline {
                None => self.settings().long_poll,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(batch);
                    }
                    left
                }
            };
            let receive = self.client().receive(
                &self.mapping().queue_arn,
                batch_size - batch.len(),
                wait.min(self.settings().long_poll),
                None,
            );
            let received = tokio::select! {
                received = receive => received,
                _ = self.stop.wait_for(|stop| *stop) => return Err(GatherEnd::Stopped(batch)),
            };
            let messages = match received {
                Ok(messages) => messages,
                Err(error) if batch.is_empty() => return Err(GatherEnd::Queue(error)),
                Err(error) => {
                    tracing::error!(
                        mapping = %self.mapping().key,
                        queue = %self.mapping().queue_arn,
                        "failed to receive messages: {error}"
                    );
                    return Ok(batch);
                }
            };
            let had_messages = !messages.is_empty();
            let delivered = self.filter(messages).await;
            for pending in delivered {
                if !batch.is_empty() && size + 1 + pending.record.len() > PAYLOAD_LIMIT {
                    carried.push(pending);
                } else {
                    size += pending.record.len() + 1;
                    batch.push(pending);
                }
            }
            if batch.is_empty() {
                continue;
            }
            if had_messages && deadline.is_none() {
                deadline = Some(Instant::now() + window);
            }
        }
    }

    /// Builds the records of received messages and deletes those no filter matches, as
    /// Lambda does.
    async fn filter(&self, messages: Vec<ReceivedMessage>) -> Vec<Pending> {
        let mapping = self.mapping();
        let mut delivered = Vec::with_capacity(messages.len());
        let mut unmatched = Vec::new();
        for message in messages {
            let record = record_of(&message, &mapping.queue_arn, &self.region);
            let matches = mapping.filters.is_empty() || {
                let view = filter_view(&record);
                mapping.filters.iter().any(|filter| filter.matches(&view))
            };
            if matches {
                let record = serde_json::to_vec(&record).expect("JSON values serialize");
                delivered.push(Pending { message, record });
            } else {
                unmatched.push(message.receipt_handle);
            }
        }
        if !unmatched.is_empty() {
            let count = unmatched.len();
            match self.client().delete(&mapping.queue_arn, unmatched).await {
                Ok(()) => tracing::debug!(
                    mapping = %mapping.key,
                    "deleted {count} messages that matched no filter"
                ),
                Err(error) => tracing::error!(
                    mapping = %mapping.key,
                    "failed to delete {count} messages that matched no filter: {error}"
                ),
            }
        }
        delivered
    }

    /// Makes messages received but not delivered visible again at once (the mapping
    /// stops), rather than after their visibility timeout.
    async fn release(&self, pending: Vec<Pending>) {
        if pending.is_empty() {
            return;
        }
        let handles = pending
            .into_iter()
            .map(|pending| pending.message.receipt_handle)
            .collect();
        if let Err(error) = self
            .client()
            .change_visibility(&self.mapping().queue_arn, handles, Duration::ZERO)
            .await
        {
            tracing::warn!(
                mapping = %self.mapping().key,
                "failed to make undelivered messages visible again: {error}; they reappear after the visibility timeout"
            );
        }
    }
}

/// How one invocation of a batch ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Every message is done: delete them all.
    Success,
    /// The messages at these indexes failed (`batchItemFailures`); the others are done.
    Failed(BTreeSet<usize>),
    /// The whole batch failed: every message stays, to reappear after the visibility
    /// timeout.
    WholeBatch(String),
    /// The function could not be called (throttled, unavailable): the messages come back
    /// soon, without waiting out the visibility timeout.
    NotRun(String),
}

/// Invokes the function with one batch and settles its messages; holds one of the
/// mapping's concurrency permits throughout.
async fn run_batch(
    shared: Arc<Shared>,
    info: QueueInfo,
    batch: Vec<Pending>,
    permit: OwnedSemaphorePermit,
    mut stop: watch::Receiver<bool>,
) {
    let mapping = &shared.mapping;
    let client = &shared.services.client;
    let settings = &shared.services.settings;
    let (messages, records): (Vec<ReceivedMessage>, Vec<Vec<u8>>) = batch
        .into_iter()
        .map(|pending| (pending.message, pending.record))
        .unzip();
    let body = Bytes::from(event_of_records(&records));
    let outcome = match shared
        .services
        .invoker
        .invoke(&mapping.function, body)
        .await
    {
        Ok(response) if mapping.report_batch_item_failures => {
            batch_item_failures(&response, &messages)
        }
        Ok(_) => Outcome::Success,
        Err(error @ (InvokeError::FunctionError(_) | InvokeError::Timeout)) => {
            Outcome::WholeBatch(error.to_string())
        }
        Err(InvokeError::PayloadTooLarge) => {
            Outcome::WholeBatch("the event is over Lambda's payload limit".to_owned())
        }
        Err(
            error @ (InvokeError::Throttled
            | InvokeError::Unavailable(_)
            | InvokeError::NoSuchFunction(_)),
        ) => Outcome::NotRun(error.to_string()),
    };
    // How long this batch keeps its permit after it is settled: batches that failed as a
    // whole, or could not run, make the mapping back off (fewer batches at once, as
    // Lambda scales its pollers down), which also keeps a queue with a short visibility
    // timeout from spinning on a failing function.
    let mut hold = Duration::ZERO;
    let mut back_off = || {
        let in_a_row = shared.failures_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
        let factor = 2u32.saturating_pow(in_a_row.saturating_sub(1).min(16));
        hold = settings
            .retry_base
            .saturating_mul(factor)
            .min(settings.retry_max);
        hold
    };
    let done: Vec<String> = match &outcome {
        Outcome::Success => messages
            .iter()
            .map(|message| message.receipt_handle.clone())
            .collect(),
        Outcome::Failed(failed) => {
            let kept = kept_after_failures(&messages, failed, info.fifo);
            tracing::warn!(
                mapping = %mapping.key,
                function = %mapping.function,
                "{} of {} messages failed; they reappear after the queue's visibility timeout",
                kept.len(),
                messages.len()
            );
            messages
                .iter()
                .enumerate()
                .filter(|(index, _)| !kept.contains(index))
                .map(|(_, message)| message.receipt_handle.clone())
                .collect()
        }
        Outcome::WholeBatch(reason) => {
            back_off();
            tracing::warn!(
                mapping = %mapping.key,
                function = %mapping.function,
                "a batch of {} messages failed ({reason}); they reappear after the queue's visibility timeout",
                messages.len()
            );
            Vec::new()
        }
        Outcome::NotRun(reason) => {
            // Back soon, but never later than a failure would have brought them back.
            let delay = back_off().min(info.visibility_timeout);
            tracing::warn!(
                mapping = %mapping.key,
                function = %mapping.function,
                "the function could not take a batch of {} messages ({reason}); they are tried again in {delay:?}",
                messages.len()
            );
            let handles = messages
                .iter()
                .map(|message| message.receipt_handle.clone())
                .collect();
            if let Err(error) = client
                .change_visibility(&mapping.queue_arn, handles, delay)
                .await
            {
                tracing::warn!(
                    mapping = %mapping.key,
                    "failed to make the batch visible again: {error}; it reappears after the visibility timeout"
                );
            }
            Vec::new()
        }
    };
    if hold.is_zero() {
        shared.failures_in_a_row.store(0, Ordering::Relaxed);
    }
    if !done.is_empty() {
        let count = done.len();
        if let Err(error) = client.delete(&mapping.queue_arn, done).await {
            tracing::error!(
                mapping = %mapping.key,
                "failed to delete {count} processed messages: {error}; they will be delivered again"
            );
        }
    }
    if !hold.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(hold) => {}
            _ = stop.wait_for(|stop| *stop) => {}
        }
    }
    drop(permit);
}

/// `{"Records":[...]}` from records already serialized (what [`crate::batch_event`] makes,
/// without serializing the records again).
fn event_of_records(records: &[Vec<u8>]) -> Vec<u8> {
    let size = records.iter().map(|record| record.len() + 1).sum::<usize>() + 14;
    let mut event = Vec::with_capacity(size);
    event.extend_from_slice(b"{\"Records\":[");
    for (index, record) in records.iter().enumerate() {
        if index > 0 {
            event.push(b',');
        }
        event.extend_from_slice(record);
    }
    event.extend_from_slice(b"]}");
    event
}

/// The indexes of the messages that stay on the queue after a partial batch response: the
/// failed ones, and on a FIFO queue also every later message of a failed one's group, so
/// that the group is delivered again in order.
fn kept_after_failures(
    messages: &[ReceivedMessage],
    failed: &BTreeSet<usize>,
    fifo: bool,
) -> BTreeSet<usize> {
    let mut kept = failed.clone();
    if fifo {
        let mut blocked_groups: BTreeSet<&str> = BTreeSet::new();
        for (index, message) in messages.iter().enumerate() {
            let group = message.message_group_id();
            if failed.contains(&index) {
                if let Some(group) = group {
                    blocked_groups.insert(group);
                }
            } else if group.is_some_and(|group| blocked_groups.contains(group)) {
                kept.insert(index);
            }
        }
    }
    kept
}

/// Reads a `ReportBatchItemFailures` response as Lambda does: nothing, `null`, an empty
/// object or an empty or null `batchItemFailures` is success; an entry without a non-empty
/// `itemIdentifier` naming a message of the batch (by `messageId`), or a response of
/// another shape, fails the whole batch.
fn batch_item_failures(response: &[u8], messages: &[ReceivedMessage]) -> Outcome {
    let whole_batch = |why: &str| Outcome::WholeBatch(format!("the partial batch response {why}"));
    let trimmed = response.trim_ascii();
    if trimmed.is_empty() {
        return Outcome::Success;
    }
    let Ok(value) = serde_json::from_slice::<Value>(trimmed) else {
        return whole_batch("is not JSON");
    };
    let failures = match &value {
        Value::Null => return Outcome::Success,
        Value::Object(object) => match object.get("batchItemFailures") {
            None | Some(Value::Null) => return Outcome::Success,
            Some(Value::Array(failures)) => failures,
            Some(_) => return whole_batch("has a batchItemFailures that is not a list"),
        },
        _ => return whole_batch("is not an object"),
    };
    let mut failed = BTreeSet::new();
    for failure in failures {
        let Some(identifier) = failure
            .get("itemIdentifier")
            .and_then(Value::as_str)
            .filter(|identifier| !identifier.is_empty())
        else {
            return whole_batch("has an entry without an itemIdentifier");
        };
        let Some(index) = messages
            .iter()
            .position(|message| message.message_id == identifier)
        else {
            return whole_batch(&format!(
                "names {identifier}, which is not a message of the batch"
            ));
        };
        failed.insert(index);
    }
    if failed.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failed(failed)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn message(id: &str, group: Option<&str>) -> ReceivedMessage {
        ReceivedMessage {
            message_id: id.to_owned(),
            receipt_handle: format!("handle-{id}"),
            body: String::new(),
            attributes: group
                .map(|group| BTreeMap::from([("MessageGroupId".to_owned(), group.to_owned())]))
                .unwrap_or_default(),
            message_attributes: BTreeMap::new(),
            md5_of_body: String::new(),
            md5_of_message_attributes: None,
        }
    }

    fn check(response: &str) -> String {
        let messages = [message("a", None), message("b", None), message("c", None)];
        match batch_item_failures(response.as_bytes(), &messages) {
            Outcome::Success => "success".to_owned(),
            Outcome::Failed(indexes) => format!("failed {indexes:?}"),
            Outcome::WholeBatch(_) => "whole batch failed".to_owned(),
            Outcome::NotRun(reason) => reason,
        }
    }

    #[test]
    fn batch_item_failures_read_as_lambda_does() {
        assert_eq!(check(""), "success");
        assert_eq!(check(" null "), "success");
        assert_eq!(check("{}"), "success");
        assert_eq!(check(r#"{"batchItemFailures": []}"#), "success");
        assert_eq!(check(r#"{"batchItemFailures": null}"#), "success");
        assert_eq!(
            check(r#"{"batchItemFailures": [{"itemIdentifier": "c"}, {"itemIdentifier": "a"}]}"#),
            "failed {0, 2}"
        );
        for malformed in [
            r#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": null}]}"#,
            r#"{"batchItemFailures": [{"identifier": "a"}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": "handle-a"}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": "z"}]}"#,
            r#"{"batchItemFailures": "all"}"#,
            "not json",
            "[1]",
            "\"a\"",
        ] {
            assert_eq!(check(malformed), "whole batch failed", "{malformed}");
        }
    }

    #[test]
    fn events_join_serialized_records_as_batch_event_would() {
        let records = [json!({"messageId": "a"}), json!({"messageId": "b"})];
        let serialized: Vec<Vec<u8>> = records
            .iter()
            .map(|record| serde_json::to_vec(record).expect("serializes"))
            .collect();
        let joined: Value =
            serde_json::from_slice(&event_of_records(&serialized)).expect("valid JSON");
        assert_eq!(joined, crate::batch_event(records.to_vec()));
        let empty: Value = serde_json::from_slice(&event_of_records(&[])).expect("valid JSON");
        assert_eq!(empty, json!({"Records": []}));
        // The size the gathering counts: `{"Records":[`, `]}`, the records and a comma between.
        assert_eq!(event_of_records(&serialized).len(), 14 + 17 + 1 + 17);
    }

    #[test]
    fn fifo_groups_keep_everything_after_their_first_failure() {
        let messages = [
            message("a1", Some("a")),
            message("b1", Some("b")),
            message("a2", Some("a")),
            message("b2", Some("b")),
            message("a3", Some("a")),
        ];
        let failed = BTreeSet::from([2]);
        assert_eq!(
            kept_after_failures(&messages, &failed, true),
            BTreeSet::from([2, 4])
        );
        assert_eq!(
            kept_after_failures(&messages, &failed, false),
            BTreeSet::from([2])
        );
    }
}
