//! One event-source mapping from a DynamoDB stream to a function, with Lambda's settings
//! already checked (the template or the Lambda API did that, with AWS's wording).

use std::time::Duration;

use serverful_eventbridge::EventPattern;
use serverful_invoke::FunctionRef;

/// Where a mapping without a checkpoint starts reading its stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StartingPosition {
    /// The oldest record the stream keeps.
    TrimHorizon,
    /// Only records written after the mapping first starts.
    Latest,
    /// The first record written at or after this time (seconds since the epoch).
    AtTimestamp(f64),
}

impl StartingPosition {
    /// Lambda's name for it.
    pub fn name(&self) -> &'static str {
        match self {
            StartingPosition::TrimHorizon => "TRIM_HORIZON",
            StartingPosition::Latest => "LATEST",
            StartingPosition::AtTimestamp(_) => "AT_TIMESTAMP",
        }
    }
}

/// A DynamoDB stream → function mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// What identifies the mapping across restarts and deploys, and keys its checkpoint:
    /// the template's `stack/Function/Event` (or `stack/MappingLogicalId`), so that the
    /// same mapping in the next deploy of the stack continues where this one stopped.
    pub key: String,
    /// Lambda's `UUID` of the mapping, derived from `key` so that it stays the same
    /// across restarts and deploys.
    pub uuid: String,
    /// The function called with each batch.
    pub function: FunctionRef,
    /// The function's ARN, for failure records.
    pub function_arn: String,
    /// The table whose (current) stream is read.
    pub table_name: String,
    pub starting_position: StartingPosition,
    /// The most records in one invocation (1–10,000; Lambda's default 100).
    pub batch_size: usize,
    /// How long to gather records before calling the function with less than a full
    /// batch (`MaximumBatchingWindowInSeconds`).
    pub batching_window: Duration,
    /// `MaximumRetryAttempts`; `None` is -1, retry until the records expire.
    pub maximum_retry_attempts: Option<u32>,
    /// `MaximumRecordAgeInSeconds`; `None` is -1, records never expire (until the
    /// stream's 24-hour retention drops them).
    pub maximum_record_age: Option<Duration>,
    /// `BisectBatchOnFunctionError`.
    pub bisect_batch_on_function_error: bool,
    /// `ParallelizationFactor` (1–10): how many batches of the shard may run at once,
    /// records of one partition key always in the same lane and in order.
    pub parallelization_factor: usize,
    /// `TumblingWindowInSeconds`: records are grouped into windows of this length (by
    /// their creation time), and the function carries a `state` from one batch of a window
    /// to the next, with a final call when the window closes.
    pub tumbling_window: Option<Duration>,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`.
    pub report_batch_item_failures: bool,
    /// `FilterCriteria.Filters`: a record is delivered when any pattern matches it; no
    /// patterns delivers every record.
    pub filters: Vec<EventPattern>,
    /// The same patterns as written, for the Lambda API.
    pub filter_patterns: Vec<String>,
    /// `DestinationConfig.OnFailure.Destination`: an SQS queue or SNS topic ARN.
    pub on_failure: Option<String>,
    /// `Enabled`: a disabled mapping keeps its checkpoint and reads nothing.
    pub enabled: bool,
}

impl Mapping {
    /// A mapping with Lambda's defaults for a stream: batches of 100, no batching window,
    /// retries until the records expire, no bisection, no filters, no destination.
    pub fn new(
        key: impl Into<String>,
        function: FunctionRef,
        function_arn: impl Into<String>,
        table_name: impl Into<String>,
        starting_position: StartingPosition,
    ) -> Mapping {
        let key = key.into();
        Mapping {
            uuid: uuid_of(&key),
            key,
            function,
            function_arn: function_arn.into(),
            table_name: table_name.into(),
            starting_position,
            batch_size: 100,
            batching_window: Duration::ZERO,
            maximum_retry_attempts: None,
            maximum_record_age: None,
            bisect_batch_on_function_error: false,
            parallelization_factor: 1,
            tumbling_window: None,
            report_batch_item_failures: false,
            filters: Vec::new(),
            filter_patterns: Vec::new(),
            on_failure: None,
            enabled: true,
        }
    }
}

/// A UUID-shaped name that depends only on `key` (FNV-1a, twice with different seeds).
fn uuid_of(key: &str) -> String {
    let hash = |seed: u64| {
        key.bytes().fold(seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let bits =
        (u128::from(hash(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(hash(0x6c62_272e_07bb_0142));
    uuid::Uuid::from_u128(bits).to_string()
}

/// Why a stream ARN names no table.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MappingError {
    #[error("'{0}' is not a DynamoDB stream ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL)")]
    NotAStreamArn(String),
}

/// The table a DynamoDB stream ARN belongs to. The label is not checked: a template's
/// `!GetAtt Table.StreamArn` is resolved before the table exists, and a mapping follows
/// the table's current stream.
pub fn table_of_stream_arn(arn: &str) -> Result<&str, MappingError> {
    let not_a_stream = || MappingError::NotAStreamArn(arn.to_owned());
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("dynamodb"), Some(_region), Some(_account)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(not_a_stream());
    };
    let resource = parts.next().ok_or_else(not_a_stream)?;
    let (table, _label) = resource
        .strip_prefix("table/")
        .and_then(|rest| rest.split_once("/stream/"))
        .ok_or_else(not_a_stream)?;
    if table.is_empty() {
        return Err(not_a_stream());
    }
    Ok(table)
}

impl serverful_switched::Keyed for Mapping {
    fn key(&self) -> &str {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_follow_the_key() {
        assert_eq!(uuid_of("app/F/E"), uuid_of("app/F/E"));
        assert_ne!(uuid_of("app/F/E"), uuid_of("app/F/F"));
        assert_eq!(uuid_of("app/F/E").len(), 36);
    }

    #[test]
    fn stream_arns_name_their_table() {
        assert_eq!(
            table_of_stream_arn(
                "arn:aws:dynamodb:us-east-1:000000000000:table/events/stream/1970-01-01T00:00:00.000"
            ),
            Ok("events")
        );
        for bad in [
            "",
            "arn:aws:dynamodb:us-east-1:000000000000:table/events",
            "arn:aws:sqs:us-east-1:000000000000:table/events/stream/x",
            "arn:aws:dynamodb:us-east-1:000000000000:table//stream/x",
        ] {
            assert!(table_of_stream_arn(bad).is_err(), "{bad}");
        }
    }
}
