//! One event-source mapping from an SQS queue to a function, with Lambda's settings already
//! checked (the template or the Lambda API did that, with AWS's wording).

use std::time::Duration;

use serverful_eventbridge::EventPattern;
use serverful_invoke::FunctionRef;

/// An SQS queue → function mapping.
#[derive(Debug, Clone)]
pub struct QueueMapping {
    /// What identifies the mapping across restarts and deploys: the template's
    /// `stack/Function/Event` (or `stack/MappingLogicalId`).
    pub key: String,
    /// Lambda's `UUID` of the mapping, derived from `key` so that it stays the same across
    /// restarts and deploys.
    pub uuid: String,
    /// The function called with each batch.
    pub function: FunctionRef,
    /// The function's ARN, for the Lambda API.
    pub function_arn: String,
    /// The queue polled (`arn:aws:sqs:REGION:ACCOUNT:NAME`); its region is the event's
    /// `awsRegion`.
    pub queue_arn: String,
    /// The most messages in one invocation (1–10,000; Lambda's default 10; above 10 needs
    /// a batching window).
    pub batch_size: usize,
    /// How long to gather messages before calling the function with less than a full
    /// batch (`MaximumBatchingWindowInSeconds`, 0–300); zero calls it with what one
    /// receive returned.
    pub batching_window: Duration,
    /// `ScalingConfig.MaximumConcurrency` (2–1000): how many batches of this mapping run
    /// at once; `None` takes [`crate::QueueSettings::default_concurrency`].
    pub maximum_concurrency: Option<usize>,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`.
    pub report_batch_item_failures: bool,
    /// `FilterCriteria.Filters`: a message is delivered when any pattern matches it (with
    /// its `body` parsed when it is JSON); the others are deleted. No patterns delivers
    /// every message.
    pub filters: Vec<EventPattern>,
    /// The same patterns as written, for the Lambda API.
    pub filter_patterns: Vec<String>,
    /// `Enabled`: a disabled mapping receives nothing.
    pub enabled: bool,
}

impl QueueMapping {
    /// A mapping with Lambda's defaults for a queue: batches of 10, no batching window,
    /// the default concurrency, no partial batch responses, no filters, enabled.
    pub fn new(
        key: impl Into<String>,
        function: FunctionRef,
        function_arn: impl Into<String>,
        queue_arn: impl Into<String>,
    ) -> QueueMapping {
        let key = key.into();
        QueueMapping {
            uuid: uuid_of(&key),
            key,
            function,
            function_arn: function_arn.into(),
            queue_arn: queue_arn.into(),
            batch_size: 10,
            batching_window: Duration::ZERO,
            maximum_concurrency: None,
            report_batch_item_failures: false,
            filters: Vec::new(),
            filter_patterns: Vec::new(),
            enabled: true,
        }
    }
}

/// A UUID-shaped name that depends only on `key` (FNV-1a, twice with different seeds; the
/// stream mappings derive theirs the same way).
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

/// Why a string is not a queue ARN.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MappingError {
    #[error("'{0}' is not an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)")]
    NotAQueueArn(String),
}

/// The parts of a queue ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueArn<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub name: &'a str,
}

impl<'a> QueueArn<'a> {
    /// Splits `arn:PARTITION:sqs:REGION:ACCOUNT:NAME`.
    pub fn parse(arn: &'a str) -> Result<QueueArn<'a>, MappingError> {
        let not_a_queue = || MappingError::NotAQueueArn(arn.to_owned());
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(_partition), Some("sqs"), Some(region), Some(account), Some(name)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(not_a_queue());
        };
        if name.is_empty() || name.contains([':', '/']) {
            return Err(not_a_queue());
        }
        Ok(QueueArn {
            region,
            account,
            name,
        })
    }
}

/// The name of the queue an ARN names.
pub fn queue_name_of_arn(arn: &str) -> Result<&str, MappingError> {
    QueueArn::parse(arn).map(|parsed| parsed.name)
}

impl serverful_switched::Keyed for QueueMapping {
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
    fn queue_arns_name_their_queue() {
        assert_eq!(
            QueueArn::parse("arn:aws:sqs:eu-west-1:123456789012:orders.fifo"),
            Ok(QueueArn {
                region: "eu-west-1",
                account: "123456789012",
                name: "orders.fifo"
            })
        );
        assert_eq!(
            queue_name_of_arn("arn:aws:sqs:us-east-1:000000000000:jobs"),
            Ok("jobs")
        );
        for bad in [
            "",
            "jobs",
            "arn:aws:sns:us-east-1:000000000000:jobs",
            "arn:aws:sqs:us-east-1:000000000000:",
            "arn:aws:sqs:us-east-1:000000000000:a/b",
            "arn:aws:sqs:us-east-1:000000000000:a:b",
        ] {
            assert!(queue_name_of_arn(bad).is_err(), "{bad}");
        }
    }
}
