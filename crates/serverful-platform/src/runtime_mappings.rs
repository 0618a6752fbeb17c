//! Event-source mappings made at run time through the Lambda API
//! (`CreateEventSourceMapping`, `UpdateEventSourceMapping`, `DeleteEventSourceMapping`):
//! kept in the platform state ([`EventSourceMappingRecord`]), started when the server
//! starts and whenever one is made or changed, each under a consumer group of its own so
//! that changing one leaves the others running. A mapping names its function by stack and
//! logical id and calls that stack's current version, across deploys; a function that is
//! gone makes its mapping wait, as on Lambda, until the mapping is deleted or the function
//! comes back.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serverful_invoke::FunctionRef;
use serverful_template as template;

use crate::server::Platform;
use crate::state::EventSourceMappingRecord;

/// The consumer-group prefix of mappings made at run time (never a stack name: those
/// have no `@`).
pub(crate) const GROUP_PREFIX: &str = "@esm/";

/// The mappings made at run time, by UUID, as the state keeps them.
#[derive(Debug, Default)]
pub(crate) struct RuntimeMappings(Mutex<BTreeMap<String, EventSourceMappingRecord>>);

impl RuntimeMappings {
    pub(crate) fn all(&self) -> Vec<EventSourceMappingRecord> {
        let mappings = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        mappings.values().cloned().collect()
    }

    fn insert(&self, record: EventSourceMappingRecord) {
        let mut mappings = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        mappings.insert(record.uuid.clone(), record);
    }

    fn remove(&self, uuid: &str) {
        let mut mappings = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        mappings.remove(uuid);
    }
}

/// Why a mapping could not be recorded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MappingStateError(String);

/// Loads the mappings made at run time and starts them (the server starts).
pub fn start(platform: &Arc<Platform>) {
    let records = match platform.state().event_source_mappings() {
        Ok(records) => records,
        Err(error) => {
            tracing::error!("event source mappings made at run time do not run: {error}");
            return;
        }
    };
    for record in records {
        platform.runtime_mappings().insert(record.clone());
        platform.run_mapping(&record);
    }
}

/// In a cluster: runs the mappings the state records now (`records`), as made, changed
/// or deleted through other nodes, and stops those it no longer records. Their
/// checkpoints are the cluster's: the node that deleted a mapping deleted its
/// checkpoint.
pub(crate) fn follow(platform: &Arc<Platform>, records: &[EventSourceMappingRecord]) {
    let known = platform.runtime_mappings().all();
    for record in records {
        if known.contains(record) {
            continue;
        }
        platform.runtime_mappings().insert(record.clone());
        platform.run_mapping(record);
    }
    for gone in known
        .iter()
        .filter(|known| !records.iter().any(|record| record.uuid == known.uuid))
    {
        platform.runtime_mappings().remove(&gone.uuid);
        let group = format!("{GROUP_PREFIX}{}", gone.uuid);
        if let Some(queue_mappings) = platform.queue_mappings().cloned() {
            let group = group.clone();
            tokio::spawn(async move { queue_mappings.remove_stack(&group).await });
        }
        let streams = platform.stream_mappings().clone();
        tokio::spawn(async move { streams.remove_stack(&group, false).await });
    }
}

/// The stream mapping a record describes, as a template would declare it.
fn stream_source(record: &EventSourceMappingRecord, table_name: &str) -> template::StreamMapping {
    template::StreamMapping {
        id: record.uuid.clone(),
        function: record.function.clone(),
        qualifier: record.qualifier.clone(),
        stream_arn: record.event_source_arn.clone(),
        table_name: table_name.to_owned(),
        starting_position: record
            .starting_position
            .clone()
            .unwrap_or_else(|| "TRIM_HORIZON".to_owned()),
        starting_position_timestamp: record.starting_position_timestamp,
        batch_size: record.batch_size,
        maximum_batching_window_secs: record.maximum_batching_window_secs,
        maximum_retry_attempts: record.maximum_retry_attempts,
        maximum_record_age_secs: record.maximum_record_age_secs,
        bisect_batch_on_function_error: record.bisect_batch_on_function_error,
        parallelization_factor: record.parallelization_factor,
        tumbling_window_secs: record.tumbling_window_secs,
        report_batch_item_failures: record.report_batch_item_failures,
        filter_patterns: record.filter_patterns.clone(),
        on_failure: record.on_failure.clone(),
        enabled: record.enabled,
    }
}

impl Platform {
    /// Records a new mapping or a change to one, then (re)starts it.
    pub(crate) async fn put_runtime_mapping(
        self: &Arc<Self>,
        record: EventSourceMappingRecord,
    ) -> Result<(), MappingStateError> {
        let platform = self.clone();
        let stored = record.clone();
        tokio::task::spawn_blocking(move || platform.state().put_event_source_mapping(&stored))
            .await
            .map_err(|error| MappingStateError(error.to_string()))?
            .map_err(|error| MappingStateError(error.to_string()))?;
        self.runtime_mappings().insert(record.clone());
        self.run_mapping(&record);
        Ok(())
    }

    /// Forgets a mapping made at run time: its consumer stops and its checkpoint goes.
    pub(crate) async fn delete_runtime_mapping(
        self: &Arc<Self>,
        uuid: &str,
    ) -> Result<(), MappingStateError> {
        let platform = self.clone();
        let key = uuid.to_owned();
        tokio::task::spawn_blocking(move || platform.state().delete_event_source_mapping(&key))
            .await
            .map_err(|error| MappingStateError(error.to_string()))?
            .map_err(|error| MappingStateError(error.to_string()))?;
        self.runtime_mappings().remove(uuid);
        let streams = self.stream_mappings().clone();
        let group = format!("{GROUP_PREFIX}{uuid}");
        if let Some(queue_mappings) = self.queue_mappings().cloned() {
            let group = group.clone();
            tokio::spawn(async move { queue_mappings.remove_stack(&group).await });
        }
        tokio::spawn(async move { streams.remove_stack(&group, true).await });
        Ok(())
    }

    /// Starts (or restarts) the poller of a queue mapping made at run time.
    fn run_queue_mapping(self: &Arc<Self>, group: String, record: &EventSourceMappingRecord) {
        let Some(queue_mappings) = self.queue_mappings().cloned() else {
            tracing::error!(mapping = %record.uuid, "this server runs no queues: {} is not read", record.event_source_arn);
            return;
        };
        let source = template::QueueMapping {
            id: record.uuid.clone(),
            function: record.function.clone(),
            qualifier: record.qualifier.clone(),
            queue_arn: record.event_source_arn.clone(),
            batch_size: record.batch_size,
            maximum_batching_window_secs: record.maximum_batching_window_secs,
            report_batch_item_failures: record.report_batch_item_failures,
            maximum_concurrency: record.maximum_concurrency,
            filter_patterns: record.filter_patterns.clone(),
            enabled: record.enabled,
        };
        let mapping = crate::queues::to_mapping(
            self,
            group.clone(),
            FunctionRef::new(record.stack.as_str(), record.function.as_str()),
            &record.function_name,
            &source,
        );
        let mut mapping = match mapping {
            Ok(mapping) => mapping,
            Err(message) => {
                tracing::error!(mapping = %record.uuid, "event source mapping does not run: {message}");
                return;
            }
        };
        mapping.uuid = record.uuid.clone();
        let switch = queue_mappings.next_switch();
        tokio::spawn(async move {
            queue_mappings
                .set_stack(&group, switch, vec![mapping])
                .await
        });
    }

    /// Starts (or restarts with its new settings) the consumer of a mapping made at run
    /// time.
    fn run_mapping(self: &Arc<Self>, record: &EventSourceMappingRecord) {
        let group = format!("{GROUP_PREFIX}{}", record.uuid);
        if record.event_source_arn.starts_with("arn:aws:sqs:") {
            self.run_queue_mapping(group, record);
            return;
        }
        let Ok(table) = serverful_streams::table_of_stream_arn(&record.event_source_arn) else {
            tracing::error!(
                mapping = %record.uuid,
                "event source mapping reads {}, which Serverful does not serve",
                record.event_source_arn
            );
            return;
        };
        let source = stream_source(record, table);
        let mapping = crate::streams::to_mapping(
            self,
            group.clone(),
            FunctionRef::new(record.stack.as_str(), record.function.as_str()),
            &record.function_name,
            &source,
        );
        let mut mapping = match mapping {
            Ok(mapping) => mapping,
            Err(message) => {
                tracing::error!(mapping = %record.uuid, "event source mapping does not run: {message}");
                return;
            }
        };
        mapping.uuid = record.uuid.clone();
        let streams = self.stream_mappings().clone();
        let switch = streams.next_switch();
        tokio::spawn(async move { streams.set_stack(&group, switch, vec![mapping]).await });
    }
}
