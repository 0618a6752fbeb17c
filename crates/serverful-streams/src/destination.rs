//! Where a mapping sends the record of a batch it gave up on (`DestinationConfig.OnFailure`):
//! an SQS queue or an SNS topic on AWS. The queues and topics arrive with their own issue;
//! they plug in by implementing [`FailureDestination`].

use futures_util::future::BoxFuture;
use serde_json::Value;

/// A failure record could not be delivered.
#[derive(Debug, Clone, thiserror::Error)]
#[error("send the failure record to {destination}: {message}")]
pub struct DestinationError {
    pub destination: String,
    pub message: String,
}

/// Delivers failure records to destinations by ARN.
pub trait FailureDestination: Send + Sync + 'static {
    /// Sends `record` (AWS's invocation record with `DDBStreamBatchInfo`) to `destination`.
    fn send(
        &self,
        destination: &str,
        record: Value,
    ) -> BoxFuture<'static, Result<(), DestinationError>>;
}

/// No destination can be reached yet: every send fails with a message that says so (the
/// mapping logs the record, and moves on as AWS does when a destination fails).
#[derive(Debug, Default)]
pub struct NoDestinations;

impl FailureDestination for NoDestinations {
    fn send(
        &self,
        destination: &str,
        _record: Value,
    ) -> BoxFuture<'static, Result<(), DestinationError>> {
        let error = DestinationError {
            destination: destination.to_owned(),
            message: "SQS queues and SNS topics are not supported yet".to_owned(),
        };
        Box::pin(async move { Err(error) })
    }
}
