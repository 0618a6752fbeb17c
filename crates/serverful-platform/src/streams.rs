//! The DynamoDB stream mappings of each stack's current version: checked when the version
//! starts (the table exists and has a stream), handed to [`serverful_streams`] at the switch
//! (the same mapping in the next version continues from its checkpoint) and stopped, their
//! checkpoints forgotten, when the stack is deleted.

use std::sync::Arc;
use std::time::Duration;

use serverful_invoke::FunctionRef;
use serverful_store::Store;
use serverful_streams::{CheckpointStore, Mapping, StartingPosition, StreamsSettings};
use serverful_template as template;

use crate::server::{LiveVersion, Platform};
use crate::ActionError;

/// What the server gives the platform for its stream mappings.
#[derive(Clone)]
pub struct StreamsConfig {
    /// Durable checkpoints (`DATA/streams.sqlite`).
    pub checkpoints: Arc<dyn CheckpointStore>,
    /// Retry delays (shortened for development and tests).
    pub settings: StreamsSettings,
}

impl std::fmt::Debug for StreamsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamsConfig")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Checks, once the version's tables exist, that every mapping reads a table that has a
/// stream.
pub(crate) fn check(store: &Store, app: &template::App) -> Result<(), ActionError> {
    for mapping in &app.stream_mappings {
        let problem = match store.stream_info(&mapping.table_name) {
            Ok(Some(_)) => continue,
            Ok(None) => format!(
                "table {} has no stream; add StreamSpecification: {{StreamViewType: NEW_AND_OLD_IMAGES}} (or another view type) to it",
                mapping.table_name
            ),
            Err(_) => format!(
                "Stream not found: {} (no table {} in the store)",
                mapping.stream_arn, mapping.table_name
            ),
        };
        return Err(ActionError::invalid(
            "event source mappings",
            format!("{} of function {}: {problem}", mapping.id, mapping.function),
        ));
    }
    Ok(())
}

/// The mappings of `version` as [`serverful_streams`] runs them.
fn mappings(
    platform: &Platform,
    stack: &str,
    version: &LiveVersion,
) -> Result<Vec<Mapping>, String> {
    version
        .app
        .stream_mappings
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

/// One mapping as [`serverful_streams`] runs it: `key` names its checkpoint, `function`
/// is what it calls (unqualified; the source's qualifier is added) and `function_name`
/// goes into its ARN.
pub(crate) fn to_mapping(
    platform: &Platform,
    key: String,
    mut function: FunctionRef,
    function_name: &str,
    source: &template::StreamMapping,
) -> Result<Mapping, String> {
    let config = platform.config();
    if let Some(qualifier) = &source.qualifier {
        function = function.with_qualifier(qualifier.as_str());
    }
    let function = function.with_trigger(format!("stream {}", source.table_name));
    let position = match source.starting_position.as_str() {
        "LATEST" => StartingPosition::Latest,
        "AT_TIMESTAMP" => {
            StartingPosition::AtTimestamp(source.starting_position_timestamp.unwrap_or(0.0))
        }
        _ => StartingPosition::TrimHorizon,
    };
    let mut mapping = Mapping::new(
        key,
        function,
        format!(
            "arn:aws:lambda:{}:{}:function:{function_name}",
            config.region, config.account_id
        ),
        source.table_name.as_str(),
        position,
    );
    mapping.batch_size = source.batch_size as usize;
    mapping.batching_window = Duration::from_secs(u64::from(source.maximum_batching_window_secs));
    mapping.maximum_retry_attempts = u32::try_from(source.maximum_retry_attempts).ok();
    mapping.maximum_record_age = u64::try_from(source.maximum_record_age_secs)
        .ok()
        .map(Duration::from_secs);
    mapping.bisect_batch_on_function_error = source.bisect_batch_on_function_error;
    mapping.parallelization_factor = source.parallelization_factor as usize;
    mapping.tumbling_window = (source.tumbling_window_secs > 0)
        .then(|| Duration::from_secs(u64::from(source.tumbling_window_secs)));
    mapping.report_batch_item_failures = source.report_batch_item_failures;
    mapping.filters = source
        .filter_patterns
        .iter()
        .map(|pattern| serverful_eventbridge::EventPattern::parse(pattern))
        .collect::<Result<_, _>>()
        .map_err(|error| format!("{}: filter pattern: {error}", source.id))?;
    mapping.filter_patterns = source.filter_patterns.clone();
    mapping.on_failure = source.on_failure.clone();
    mapping.enabled = source.enabled;
    Ok(mapping)
}

impl Platform {
    /// Makes `version`'s mappings the stack's (in the background: the old version's
    /// consumers first finish the batch they deliver).
    pub(crate) fn switch_streams(self: &Arc<Self>, stack: &str, version: &LiveVersion) {
        let mappings = match mappings(self, stack, version) {
            Ok(mappings) => mappings,
            Err(message) => {
                tracing::error!("{stack}: failed to start the stream mappings: {message}");
                Vec::new()
            }
        };
        let streams = self.stream_mappings().clone();
        let stack = stack.to_owned();
        let switch = streams.next_switch();
        tokio::spawn(async move { streams.set_stack(&stack, switch, mappings).await });
    }
}
