//! A function's asynchronous invocation settings (`EventInvokeConfig`) and where its
//! outcomes go (`Destination`).

use std::time::Duration;

/// What Lambda does with an asynchronous event of one function (or version, or alias).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventInvokeConfig {
    /// How many times a function error is retried: 0 to 2, 2 by default.
    pub maximum_retry_attempts: u32,
    /// How long an event may wait in the queue, retries and throttles included: 60 s to
    /// 6 h, 6 h by default.
    pub maximum_event_age: Duration,
    /// Where the record of a successful invocation goes.
    pub on_success: Option<Destination>,
    /// Where the record of an event that failed every attempt, or grew too old, goes.
    pub on_failure: Option<Destination>,
    /// The function's dead-letter queue (an SQS queue or SNS topic): it gets the event
    /// itself when it failed every attempt or grew too old.
    pub dead_letter: Option<Destination>,
}

impl EventInvokeConfig {
    /// Lambda's own limit on retries of a function error.
    pub const MAX_RETRY_ATTEMPTS: u32 = 2;
    /// Lambda's bounds on `MaximumEventAgeInSeconds`.
    pub const MIN_EVENT_AGE_SECS: u32 = 60;
    pub const MAX_EVENT_AGE_SECS: u32 = 21_600;
}

impl Default for EventInvokeConfig {
    /// Lambda's defaults for a function with no configuration.
    fn default() -> EventInvokeConfig {
        EventInvokeConfig {
            maximum_retry_attempts: EventInvokeConfig::MAX_RETRY_ATTEMPTS,
            maximum_event_age: Duration::from_secs(u64::from(
                EventInvokeConfig::MAX_EVENT_AGE_SECS,
            )),
            on_success: None,
            on_failure: None,
            dead_letter: None,
        }
    }
}

/// The kind of resource a destination is, as SAM's `Type` names it (or as its ARN says).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestinationKind {
    Lambda,
    EventBridge,
    Sqs,
    Sns,
    S3Bucket,
}

impl DestinationKind {
    /// The kind an ARN names (`arn:aws:lambda:…`, `arn:aws:events:…`, …), as
    /// `AWS::Lambda::EventInvokeConfig`'s destinations carry no type.
    pub fn of_arn(arn: &str) -> Option<DestinationKind> {
        match arn.split(':').nth(2)? {
            "lambda" => Some(DestinationKind::Lambda),
            "events" => Some(DestinationKind::EventBridge),
            "sqs" => Some(DestinationKind::Sqs),
            "sns" => Some(DestinationKind::Sns),
            "s3" => Some(DestinationKind::S3Bucket),
            _ => None,
        }
    }

    /// SAM's name for the kind (`Type: Lambda`).
    pub fn sam_name(self) -> &'static str {
        match self {
            DestinationKind::Lambda => "Lambda",
            DestinationKind::EventBridge => "EventBridge",
            DestinationKind::Sqs => "SQS",
            DestinationKind::Sns => "SNS",
            DestinationKind::S3Bucket => "S3Bucket",
        }
    }
}

/// Where an invocation record is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub kind: DestinationKind,
    /// The destination's ARN (a function's may be qualified).
    pub arn: String,
}
