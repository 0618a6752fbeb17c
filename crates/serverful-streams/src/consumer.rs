//! One mapping's consumer: reads its table's shard after the checkpoint, filters, batches,
//! calls the function, handles failures as Lambda does, and moves the checkpoint only past
//! batches that are done.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::Value;
use serverful_invoke::{Invoke, InvokeError};
use serverful_store::{ShardRecord, Store, StreamInfo};
use tokio::sync::{watch, Notify};

use crate::checkpoint::{Checkpoint, CheckpointStore, WindowState};
use crate::destination::FailureDestination;
use crate::event::{
    batch_event, failure_record, window_properties, FailureCondition, LastInvocation,
};
use crate::mapping::{Mapping, StartingPosition};
use crate::mappings::StreamsSettings;

/// What a consumer needs from the server.
pub(crate) struct Services {
    pub store: Arc<Store>,
    /// Who owns each mapping's shard in a cluster ([`serverful_cluster::SingleNode`] on
    /// one server).
    pub leases: Arc<dyn serverful_cluster::Leases>,
    pub lease_timing: serverful_cluster::LeaseTiming,
    pub invoker: Arc<dyn Invoke>,
    pub checkpoints: Arc<dyn CheckpointStore>,
    pub destination: Arc<dyn FailureDestination>,
    pub settings: StreamsSettings,
}

/// The consumer was asked to stop (a deploy replaced its mapping, or the server stops).
struct Stopped;

pub(crate) struct Consumer {
    pub mapping: Mapping,
    pub services: Arc<Services>,
    pub stop: watch::Receiver<bool>,
    /// The open tumbling window, when the mapping has them.
    pub window: Option<WindowState>,
}

/// How one invocation of a batch ended.
enum Outcome {
    Success,
    /// Records from this index on failed (`batchItemFailures`); those before are done.
    FailedFrom(usize),
    /// The whole batch failed; the function's own error kind, if it ran.
    Failed(Option<&'static str>),
    /// The function could not be called (throttled, unavailable): try again later without
    /// counting it as an attempt.
    NotRun(String),
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

impl Consumer {
    /// Consumes while this node holds the mapping's lease: in a cluster one node reads a
    /// shard at a time, and when it dies or is cut off another takes over from the
    /// checkpoint (records after it are delivered again: at least once, as Lambda).
    pub(crate) async fn run(mut self) {
        let key = self.mapping.key.clone();
        let lease_name = format!("stream-mapping/{key}");
        loop {
            let mut stop = self.stop.clone();
            let Some(mut lease) = serverful_cluster::acquire(
                self.services.leases.clone(),
                &lease_name,
                self.services.lease_timing,
                &mut stop,
            )
            .await
            else {
                tracing::debug!(mapping = %key, "stream consumer stopped");
                return;
            };
            tokio::select! {
                outcome = self.consume() => {
                    if let Err(Stopped) = outcome {
                        tracing::debug!(mapping = %key, "stream consumer stopped");
                    }
                    return;
                }
                () = lease.lost() => {
                    tracing::warn!(mapping = %key, "this node lost the mapping's lease; it stops reading and waits to take it again");
                    // The next owner continues from the checkpoint, window included.
                    self.window = None;
                }
            }
        }
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Waits for `duration`, unless asked to stop first.
    async fn sleep(&mut self, duration: Duration) -> Result<(), Stopped> {
        tokio::select! {
            () = tokio::time::sleep(duration) => Ok(()),
            _ = self.stop.wait_for(|stop| *stop) => Err(Stopped),
        }
    }

    /// Waits for new records (or `timeout`), unless asked to stop first.
    async fn wait_for_records(&mut self, wake: &Notify, timeout: Duration) -> Result<(), Stopped> {
        tokio::select! {
            () = wake.notified() => Ok(()),
            () = tokio::time::sleep(timeout) => Ok(()),
            _ = self.stop.wait_for(|stop| *stop) => Err(Stopped),
        }
    }

    /// The table's stream once it exists, and a wake-up for its new records.
    async fn attach(
        &mut self,
        wake: &Arc<Notify>,
    ) -> Result<(StreamInfo, serverful_store::StreamWatch), Stopped> {
        let table = self.mapping.table_name.clone();
        let mut complained = false;
        loop {
            let store = &self.services.store;
            let attached = store.stream_info(&table).and_then(|info| {
                let waker = wake.clone();
                let watch = store.watch_stream(&table, Arc::new(move || waker.notify_one()))?;
                Ok((info, watch))
            });
            match attached {
                Ok((Some(info), watch)) => return Ok((info, watch)),
                outcome => {
                    if !complained {
                        let reason = match outcome {
                            Err(error) => error.to_string(),
                            Ok(_) => "the table has no stream".to_owned(),
                        };
                        tracing::warn!(
                            mapping = %self.mapping.key,
                            table = %table,
                            "event source mapping waits for the table's stream: {reason}"
                        );
                        complained = true;
                    }
                }
            }
            self.sleep(Duration::from_secs(1)).await?;
        }
    }

    /// The position to read on from: the checkpoint, or the starting position (saved at
    /// once, so that `LATEST` means "when the mapping was created", also after a restart).
    async fn start_position(&mut self, stream: &StreamInfo) -> Result<u64, Stopped> {
        loop {
            match self.initial_position(stream).await {
                Ok(position) => return Ok(position),
                Err(message) => {
                    tracing::error!(mapping = %self.mapping.key, "failed to {message}");
                    self.sleep(Duration::from_secs(1)).await?;
                }
            }
        }
    }

    async fn initial_position(&mut self, stream: &StreamInfo) -> Result<u64, String> {
        let checkpoints = self.services.checkpoints.clone();
        let key = self.mapping.key.clone();
        let loaded = tokio::task::spawn_blocking(move || checkpoints.load(&key))
            .await
            .map_err(|error| format!("read the checkpoint: {error}"))?
            .map_err(|error| error.to_string())?;
        if let Some(checkpoint) = loaded {
            if checkpoint.stream_arn == stream.stream_arn {
                if self.mapping.tumbling_window.is_some() {
                    self.window = checkpoint.window;
                }
                return Ok(checkpoint.sequence);
            }
        }
        let store = &self.services.store;
        let table = &self.mapping.table_name;
        let position = match self.mapping.starting_position {
            StartingPosition::TrimHorizon => 0,
            StartingPosition::Latest => store
                .stream_latest(table)
                .map_err(|error| format!("find the end of the stream of {table}: {error}"))?,
            StartingPosition::AtTimestamp(at) => {
                let mut after = 0;
                loop {
                    let records = store
                        .read_stream(table, after, 1000)
                        .map_err(|error| format!("read the stream of {table}: {error}"))?;
                    match records
                        .iter()
                        .find(|record| record.created as f64 >= at.floor())
                    {
                        Some(record) => break record.sequence - 1,
                        None => match records.last() {
                            Some(record) => after = record.sequence,
                            None => break after,
                        },
                    }
                }
            }
        };
        self.save(stream, position).await?;
        Ok(position)
    }

    async fn save(&self, stream: &StreamInfo, sequence: u64) -> Result<(), String> {
        let checkpoints = self.services.checkpoints.clone();
        let key = self.mapping.key.clone();
        let checkpoint = Checkpoint {
            stream_arn: stream.stream_arn.clone(),
            sequence,
            window: self.window.clone(),
        };
        tokio::task::spawn_blocking(move || checkpoints.save(&key, &checkpoint))
            .await
            .map_err(|error| format!("save the checkpoint: {error}"))?
            .map_err(|error| error.to_string())
    }

    async fn consume(&mut self) -> Result<(), Stopped> {
        let wake = Arc::new(Notify::new());
        let (stream, _watch) = self.attach(&wake).await?;
        let mut position = self.start_position(&stream).await?;
        let table = self.mapping.table_name.clone();
        let read_size = self.mapping.batch_size * self.mapping.parallelization_factor.max(1);
        loop {
            if self.stopped() {
                return Err(Stopped);
            }
            let mut records = match self.services.store.read_stream(&table, position, read_size) {
                Ok(records) => records,
                Err(error) => {
                    tracing::error!(mapping = %self.mapping.key, "failed to read the stream of {table}: {error}");
                    self.sleep(Duration::from_secs(1)).await?;
                    continue;
                }
            };
            if records.is_empty() {
                // The store wakes us when records arrive; the timeout also notices a
                // stream that was replaced (turned off and on again), and the end of an
                // open tumbling window.
                let mut timeout = self.services.settings.idle_poll;
                if let Some(until_end) = self.until_window_end() {
                    if until_end.is_zero() {
                        self.close_window(&stream, false).await?;
                        self.save_until_done(&stream, position).await?;
                        continue;
                    }
                    timeout = timeout.min(until_end);
                }
                self.wait_for_records(&wake, timeout).await?;
                continue;
            }
            if !self.mapping.batching_window.is_zero() && records.len() < read_size {
                let deadline = Instant::now() + self.mapping.batching_window;
                while records.len() < read_size {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    self.wait_for_records(&wake, left).await?;
                    if let Ok(more) = self.services.store.read_stream(&table, position, read_size) {
                        records = more;
                    }
                }
            }
            let last = records.last().map_or(position, |record| record.sequence);
            let delivered: Vec<ShardRecord> = records
                .into_iter()
                .filter(|record| self.passes_filters(&record.record, &stream))
                .collect();
            if self.mapping.tumbling_window.is_some() {
                self.deliver_windowed(&stream, delivered).await?;
            } else {
                self.deliver(&stream, delivered).await?;
            }
            position = last;
            self.save_until_done(&stream, position).await?;
        }
    }

    async fn save_until_done(&mut self, stream: &StreamInfo, position: u64) -> Result<(), Stopped> {
        while let Err(message) = self.save(stream, position).await {
            tracing::error!(mapping = %self.mapping.key, "failed to {message}");
            self.sleep(Duration::from_secs(1)).await?;
        }
        Ok(())
    }

    /// How long until the open tumbling window ends (zero once it has).
    fn until_window_end(&self) -> Option<Duration> {
        let length = self.mapping.tumbling_window?;
        let window = self.window.as_ref()?;
        let end = window.start as f64 + length.as_secs_f64();
        Some(Duration::from_secs_f64((end - now_seconds()).max(0.0)))
    }

    /// Closes the open window: the function gets its state once more with
    /// `isFinalInvokeForWindow` (and `isWindowTerminatedEarly` when the state outgrew
    /// Lambda's 1 MB), retried until it succeeds, as Lambda holds the shard until then.
    async fn close_window(&mut self, stream: &StreamInfo, early: bool) -> Result<(), Stopped> {
        let (Some(length), Some(window)) = (self.mapping.tumbling_window, self.window.take())
        else {
            return Ok(());
        };
        let mut event = batch_event(stream, &[]);
        window_properties(&mut event, stream, length, &window, true, early);
        let body = Bytes::from(serde_json::to_vec(&event).expect("JSON values serialize"));
        let mut attempts = 0u32;
        loop {
            match self
                .services
                .invoker
                .invoke(&self.mapping.function, body.clone())
                .await
            {
                Ok(_) => return Ok(()),
                Err(error) => {
                    attempts += 1;
                    tracing::warn!(
                        mapping = %self.mapping.key,
                        function = %self.mapping.function,
                        attempts,
                        "the final invocation of a tumbling window failed: {error}"
                    );
                    let delay = retry_delay(&self.services.settings, attempts);
                    self.sleep(delay).await?;
                }
            }
        }
    }

    /// Delivers records with a tumbling window: one lane, records grouped by the window
    /// their creation time falls in, the state carried from batch to batch of a window,
    /// and a window closed when a record of a later one arrives.
    async fn deliver_windowed(
        &mut self,
        stream: &StreamInfo,
        records: Vec<ShardRecord>,
    ) -> Result<(), Stopped> {
        let Some(length) = self.mapping.tumbling_window else {
            return self.deliver(stream, records).await;
        };
        let length_secs = length.as_secs().max(1) as i64;
        let start_of =
            |record: &ShardRecord| record.created - record.created.rem_euclid(length_secs);
        let batch_size = self.mapping.batch_size.max(1);
        let mut index = 0;
        while index < records.len() {
            let start = start_of(&records[index]);
            let end = records[index..]
                .iter()
                .position(|record| start_of(record) != start)
                .map_or(records.len(), |offset| index + offset);
            if self
                .window
                .as_ref()
                .is_some_and(|window| window.start != start)
            {
                self.close_window(stream, false).await?;
            }
            for batch in records[index..end].chunks(batch_size) {
                let window = self.window.take().unwrap_or(WindowState {
                    start,
                    state: Value::Object(serde_json::Map::new()),
                });
                let mut runner = LaneRunner {
                    mapping: &self.mapping,
                    services: &self.services,
                    stop: self.stop.clone(),
                    stream,
                    window: Some(window),
                };
                runner.process(batch.to_vec()).await?;
                self.window = runner.window;
                let too_big = self
                    .window
                    .as_ref()
                    .is_some_and(|window| window.state.to_string().len() > WINDOW_STATE_MAX);
                if too_big {
                    self.close_window(stream, true).await?;
                    self.window = Some(WindowState {
                        start,
                        state: Value::Object(serde_json::Map::new()),
                    });
                }
            }
            index = end;
        }
        Ok(())
    }

    /// Lambda matches filters against the record as the function would get it.
    fn passes_filters(&self, record: &Value, stream: &StreamInfo) -> bool {
        if self.mapping.filters.is_empty() {
            return true;
        }
        let mut record = record.clone();
        record["eventSourceARN"] = Value::String(stream.stream_arn.clone());
        self.mapping
            .filters
            .iter()
            .any(|filter| filter.matches(&record))
    }

    /// Delivers what was read: one lane per parallelization slot (a partition key always in
    /// the same lane), each lane in batches of `batch_size`, lanes at once.
    async fn deliver(
        &mut self,
        stream: &StreamInfo,
        records: Vec<ShardRecord>,
    ) -> Result<(), Stopped> {
        let lanes = self.mapping.parallelization_factor.max(1);
        let mut by_lane: Vec<Vec<ShardRecord>> = (0..lanes).map(|_| Vec::new()).collect();
        for record in records {
            let lane = if lanes == 1 {
                0
            } else {
                lane_of(&record, lanes)
            };
            by_lane[lane].push(record);
        }
        let batch_size = self.mapping.batch_size.max(1);
        let runs = by_lane
            .into_iter()
            .filter(|lane| !lane.is_empty())
            .map(|lane| {
                let mut consumer = LaneRunner {
                    mapping: &self.mapping,
                    services: &self.services,
                    stop: self.stop.clone(),
                    stream,
                    window: None,
                };
                async move {
                    for batch in lane.chunks(batch_size) {
                        consumer.process(batch.to_vec()).await?;
                    }
                    Ok::<(), Stopped>(())
                }
            });
        let outcomes = futures_util::future::join_all(runs).await;
        outcomes.into_iter().collect()
    }
}

/// The lane of a record: by its item's partition key, so that one item's records stay in
/// order.
fn lane_of(record: &ShardRecord, lanes: usize) -> usize {
    let keys = record.record["dynamodb"]["Keys"].to_string();
    let hash = keys.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (hash % lanes as u64) as usize
}

/// Lambda ends a tumbling window early when its state grows past 1 MB.
const WINDOW_STATE_MAX: usize = 1024 * 1024;

fn retry_delay(settings: &crate::mappings::StreamsSettings, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
    settings
        .retry_base
        .saturating_mul(factor)
        .min(settings.retry_max)
}

/// Runs batches of one lane.
struct LaneRunner<'a> {
    mapping: &'a Mapping,
    services: &'a Services,
    stop: watch::Receiver<bool>,
    stream: &'a StreamInfo,
    /// With a tumbling window: the window the batches belong to, its state updated by
    /// each invocation.
    window: Option<WindowState>,
}

impl LaneRunner<'_> {
    async fn sleep(&mut self, duration: Duration) -> Result<(), Stopped> {
        tokio::select! {
            () = tokio::time::sleep(duration) => Ok(()),
            _ = self.stop.wait_for(|stop| *stop) => Err(Stopped),
        }
    }

    fn retry_delay(&self, attempt: u32) -> Duration {
        retry_delay(&self.services.settings, attempt)
    }

    /// Processes one batch until every record is done: delivered, or given up on (expired,
    /// retries exhausted) and reported to the failure destination.
    async fn process(&mut self, batch: Vec<ShardRecord>) -> Result<(), Stopped> {
        // Each entry: records still to deliver, the failed attempts they have had, and how
        // the last one ended.
        let mut pending: VecDeque<(Vec<ShardRecord>, u32, Option<&'static str>)> =
            VecDeque::from([(batch, 0, None)]);
        while let Some((mut records, attempts, last_error)) = pending.pop_front() {
            if let Some(maximum_age) = self.mapping.maximum_record_age {
                let oldest_allowed = now_seconds() - maximum_age.as_secs_f64();
                let expired = records
                    .iter()
                    .take_while(|record| (record.created as f64) < oldest_allowed)
                    .count();
                if expired > 0 {
                    let rest = records.split_off(expired);
                    self.give_up(
                        &records,
                        FailureCondition::RecordAgeExceeded,
                        &LastInvocation {
                            function_error: last_error,
                            invoke_count: attempts,
                        },
                    )
                    .await;
                    records = rest;
                }
            }
            if records.is_empty() {
                continue;
            }
            match self.invoke(&records).await {
                Outcome::Success => {}
                Outcome::NotRun(reason) => {
                    tracing::warn!(
                        mapping = %self.mapping.key,
                        function = %self.mapping.function,
                        "stream batch waits for the function: {reason}"
                    );
                    self.sleep(self.retry_delay(attempts + 1)).await?;
                    pending.push_front((records, attempts, last_error));
                }
                Outcome::FailedFrom(index) => {
                    let failed = records.split_off(index);
                    self.after_failure(&mut pending, failed, attempts + 1, None)
                        .await?;
                }
                Outcome::Failed(function_error) => {
                    self.after_failure(&mut pending, records, attempts + 1, function_error)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Queues a failed batch again (bisected when asked), or gives up on it once its retries
    /// are exhausted.
    async fn after_failure(
        &mut self,
        pending: &mut VecDeque<(Vec<ShardRecord>, u32, Option<&'static str>)>,
        mut records: Vec<ShardRecord>,
        attempts: u32,
        function_error: Option<&'static str>,
    ) -> Result<(), Stopped> {
        tracing::warn!(
            mapping = %self.mapping.key,
            function = %self.mapping.function,
            attempts,
            records = records.len(),
            "stream batch failed"
        );
        // The first invocation is not a retry: `MaximumRetryAttempts: 2` makes 3 calls.
        let retries = attempts - 1;
        if self
            .mapping
            .maximum_retry_attempts
            .is_some_and(|maximum| retries >= maximum)
        {
            self.give_up(
                &records,
                FailureCondition::RetryAttemptsExhausted,
                &LastInvocation {
                    function_error,
                    invoke_count: attempts,
                },
            )
            .await;
            return Ok(());
        }
        self.sleep(self.retry_delay(attempts)).await?;
        if self.mapping.bisect_batch_on_function_error && records.len() > 1 {
            let second = records.split_off(records.len() / 2);
            pending.push_front((second, attempts, function_error));
        }
        pending.push_front((records, attempts, function_error));
        Ok(())
    }

    async fn give_up(
        &self,
        records: &[ShardRecord],
        condition: FailureCondition,
        last: &LastInvocation,
    ) {
        let record = failure_record(
            &self.mapping.function_arn,
            self.stream,
            records,
            condition,
            last,
        );
        let Some(destination) = &self.mapping.on_failure else {
            tracing::warn!(
                mapping = %self.mapping.key,
                "skipped {} stream records ({condition:?}); no OnFailure destination: {record}",
                records.len()
            );
            return;
        };
        if let Err(error) = self
            .services
            .destination
            .send(destination, record.clone())
            .await
        {
            tracing::error!(
                mapping = %self.mapping.key,
                "failed to {error}; the records are skipped: {record}"
            );
        }
    }

    async fn invoke(&mut self, records: &[ShardRecord]) -> Outcome {
        let mut event = batch_event(self.stream, records);
        if let (Some(length), Some(window)) = (self.mapping.tumbling_window, &self.window) {
            window_properties(&mut event, self.stream, length, window, false, false);
        }
        let body = Bytes::from(serde_json::to_vec(&event).expect("JSON values serialize"));
        match self
            .services
            .invoker
            .invoke(&self.mapping.function, body)
            .await
        {
            Ok(response) if self.window.is_some() => {
                // A windowed function must answer with its `state`; without it the
                // invocation failed.
                let Some(state) = serde_json::from_slice::<Value>(response.trim_ascii())
                    .ok()
                    .and_then(|answer| answer.get("state").cloned())
                    .filter(Value::is_object)
                else {
                    return Outcome::Failed(None);
                };
                let outcome = if self.mapping.report_batch_item_failures {
                    batch_item_failures(&response, records)
                } else {
                    Outcome::Success
                };
                if let Some(window) = &mut self.window {
                    window.state = state;
                }
                outcome
            }
            Ok(response) if self.mapping.report_batch_item_failures => {
                batch_item_failures(&response, records)
            }
            Ok(_) => Outcome::Success,
            Err(InvokeError::FunctionError(_) | InvokeError::Timeout) => {
                Outcome::Failed(Some("Unhandled"))
            }
            Err(InvokeError::PayloadTooLarge) => Outcome::Failed(None),
            Err(
                error @ (InvokeError::Throttled
                | InvokeError::Unavailable(_)
                | InvokeError::NoSuchFunction(_)),
            ) => Outcome::NotRun(error.to_string()),
        }
    }
}

/// Reads a `ReportBatchItemFailures` response as Lambda does: nothing, `null`, an empty
/// object or an empty or null `batchItemFailures` is success; the lowest reported sequence
/// number is where the batch resumes; an entry without a non-empty `itemIdentifier` naming
/// a record of the batch fails the whole batch.
fn batch_item_failures(response: &[u8], records: &[ShardRecord]) -> Outcome {
    let whole_batch = Outcome::Failed(None);
    let trimmed = response.trim_ascii();
    if trimmed.is_empty() {
        return Outcome::Success;
    }
    let Ok(value) = serde_json::from_slice::<Value>(trimmed) else {
        return whole_batch;
    };
    let failures = match &value {
        Value::Null => return Outcome::Success,
        Value::Object(object) => match object.get("batchItemFailures") {
            None | Some(Value::Null) => return Outcome::Success,
            Some(Value::Array(failures)) => failures,
            Some(_) => return whole_batch,
        },
        _ => return whole_batch,
    };
    let mut first_failed: Option<usize> = None;
    for failure in failures {
        let Some(identifier) = failure.get("itemIdentifier").and_then(Value::as_str) else {
            return whole_batch;
        };
        let Some(index) = records.iter().position(|record| {
            record.record["dynamodb"]["SequenceNumber"].as_str() == Some(identifier)
        }) else {
            return whole_batch;
        };
        first_failed = Some(first_failed.map_or(index, |first| first.min(index)));
    }
    match first_failed {
        None => Outcome::Success,
        Some(index) => Outcome::FailedFrom(index),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn records() -> Vec<ShardRecord> {
        (1..=3)
            .map(|sequence| ShardRecord {
                sequence,
                created: 0,
                record: json!({"dynamodb": {"SequenceNumber": format!("{sequence:021}")}}),
            })
            .collect()
    }

    fn check(response: &str) -> String {
        match batch_item_failures(response.as_bytes(), &records()) {
            Outcome::Success => "success".to_owned(),
            Outcome::FailedFrom(index) => format!("failed from {index}"),
            Outcome::Failed(_) => "whole batch failed".to_owned(),
            Outcome::NotRun(reason) => reason,
        }
    }

    #[test]
    fn batch_item_failures_read_as_lambda_does() {
        assert_eq!(check(""), "success");
        assert_eq!(check("null"), "success");
        assert_eq!(check("{}"), "success");
        assert_eq!(check(r#"{"batchItemFailures": []}"#), "success");
        assert_eq!(check(r#"{"batchItemFailures": null}"#), "success");
        assert_eq!(
            check(
                r#"{"batchItemFailures": [{"itemIdentifier": "000000000000000000003"}, {"itemIdentifier": "000000000000000000002"}]}"#
            ),
            "failed from 1"
        );
        for malformed in [
            r#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": null}]}"#,
            r#"{"batchItemFailures": [{"identifier": "000000000000000000002"}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": "000000000000000000009"}]}"#,
            r#"{"batchItemFailures": "all"}"#,
            "not json",
            "[1]",
        ] {
            assert_eq!(check(malformed), "whole batch failed", "{malformed}");
        }
    }
}
