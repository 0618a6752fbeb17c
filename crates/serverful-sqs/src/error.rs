//! SQS's errors, as the engine raises them and both protocols name them: the JSON
//! protocol's shape name (`__type`) and the query protocol's code (which the JSON
//! protocol also sends in `x-amzn-query-error`, for SDKs that match on the old codes).

/// An SQS error: what went wrong, in AWS's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqsError {
    /// The queue a call names does not exist.
    #[error("The specified queue does not exist.")]
    QueueDoesNotExist,
    /// `CreateQueue` named an existing queue with other attribute values.
    #[error(
        "A queue already exists with the same name and a different value for attribute {attribute}"
    )]
    QueueAlreadyExists { attribute: String },
    /// `CreateQueue` within 60 s of deleting a queue of the same name.
    #[error("You must wait 60 seconds after deleting a queue before you can create another with the same name.")]
    QueueDeletedRecently,
    /// A parameter has a value SQS refuses; the message says which and why.
    #[error("{0}")]
    InvalidParameterValue(String),
    /// A required parameter is missing (its name).
    #[error("The request must contain the parameter {0}.")]
    MissingParameter(String),
    /// An attribute name SQS does not know; the message says which.
    #[error("{0}")]
    InvalidAttributeName(String),
    /// A queue attribute's value is out of range or malformed; the message says which.
    #[error("{0}")]
    InvalidAttributeValue(String),
    /// A message body or attribute holds characters outside what SQS accepts.
    #[error("Invalid characters found. Valid characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")]
    InvalidMessageContents,
    /// A receipt handle that is not one SQS gave out.
    #[error("The input receipt handle \"{0}\" is not a valid receipt handle.")]
    ReceiptHandleIsInvalid(String),
    /// `ChangeMessageVisibility` on a message that is not in flight.
    #[error("Value {0} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.")]
    MessageNotInflight(String),
    /// Two entries of a batch share an id.
    #[error("Id {0} repeated.")]
    BatchEntryIdsNotDistinct(String),
    /// A batch without entries (the entry shape's name).
    #[error("There should be at least one {0} in the request.")]
    EmptyBatchRequest(&'static str),
    /// A batch of more than 10 entries (how many).
    #[error("Maximum number of entries per request are 10. You have sent {0}.")]
    TooManyEntriesInBatchRequest(usize),
    /// A batch whose messages add up to more than the queue's limit.
    #[error("Batch requests cannot be longer than {limit} bytes. You have sent {sent} bytes.")]
    BatchRequestTooLong { limit: usize, sent: usize },
    /// A batch entry id with characters other than alphanumerics, `-` and `_`, or too long.
    #[error("A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")]
    InvalidBatchEntryId,
    /// `PurgeQueue` twice within 60 s (the queue's URL).
    #[error("Only one PurgeQueue operation on {0} is allowed every 60 seconds.")]
    PurgeQueueInProgress(String),
    /// A message move task or its source that does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// An operation SQS refuses in this state (e.g. a second move task on one queue).
    #[error("{0}")]
    UnsupportedOperation(String),
    /// A limit was reached (e.g. too many tags or permissions).
    #[error("{0}")]
    OverLimit(String),
    /// The caller's keys may not do this; the message is AWS's denial.
    #[error("{0}")]
    AccessDenied(String),
    /// The query protocol's `Action` names no operation.
    #[error("The action {0} is not valid for this endpoint.")]
    InvalidAction(String),
    /// The queue's storage failed.
    #[error("failed to {action}: {message}")]
    Storage {
        action: &'static str,
        message: String,
    },
}

impl SqsError {
    /// An `InvalidParameterValue` in AWS's usual wording for a parameter's value.
    pub fn invalid_value(parameter: &str, value: impl std::fmt::Display, reason: &str) -> Self {
        SqsError::InvalidParameterValue(format!(
            "Value {value} for parameter {parameter} is invalid. Reason: {reason}"
        ))
    }

    /// The JSON protocol's error shape name (`__type` after `#`).
    pub fn json_type(&self) -> &'static str {
        match self {
            SqsError::QueueDoesNotExist => "QueueDoesNotExist",
            SqsError::QueueAlreadyExists { .. } => "QueueNameExists",
            SqsError::QueueDeletedRecently => "QueueDeletedRecently",
            SqsError::InvalidParameterValue(_) => "InvalidParameterValueException",
            SqsError::MissingParameter(_) => "MissingRequiredParameterException",
            SqsError::InvalidAttributeName(_) => "InvalidAttributeName",
            SqsError::InvalidAttributeValue(_) => "InvalidAttributeValue",
            SqsError::InvalidMessageContents => "InvalidMessageContents",
            SqsError::ReceiptHandleIsInvalid(_) => "ReceiptHandleIsInvalid",
            SqsError::MessageNotInflight(_) => "MessageNotInflight",
            SqsError::BatchEntryIdsNotDistinct(_) => "BatchEntryIdsNotDistinct",
            SqsError::EmptyBatchRequest(_) => "EmptyBatchRequest",
            SqsError::TooManyEntriesInBatchRequest(_) => "TooManyEntriesInBatchRequest",
            SqsError::BatchRequestTooLong { .. } => "BatchRequestTooLong",
            SqsError::InvalidBatchEntryId => "InvalidBatchEntryId",
            SqsError::PurgeQueueInProgress(_) => "PurgeQueueInProgress",
            SqsError::ResourceNotFound(_) => "ResourceNotFoundException",
            SqsError::UnsupportedOperation(_) => "UnsupportedOperation",
            SqsError::OverLimit(_) => "OverLimit",
            SqsError::AccessDenied(_) => "AccessDeniedException",
            SqsError::InvalidAction(_) => "InvalidAction",
            SqsError::Storage { .. } => "InternalError",
        }
    }

    /// The query protocol's error code (also the JSON protocol's `x-amzn-query-error`).
    pub fn query_code(&self) -> &'static str {
        match self {
            SqsError::QueueDoesNotExist => "AWS.SimpleQueueService.NonExistentQueue",
            SqsError::QueueAlreadyExists { .. } => "QueueAlreadyExists",
            SqsError::QueueDeletedRecently => "AWS.SimpleQueueService.QueueDeletedRecently",
            SqsError::InvalidParameterValue(_) => "InvalidParameterValue",
            SqsError::MissingParameter(_) => "MissingParameter",
            SqsError::MessageNotInflight(_) => "AWS.SimpleQueueService.MessageNotInflight",
            SqsError::BatchEntryIdsNotDistinct(_) => {
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
            }
            SqsError::EmptyBatchRequest(_) => "AWS.SimpleQueueService.EmptyBatchRequest",
            SqsError::TooManyEntriesInBatchRequest(_) => {
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
            }
            SqsError::BatchRequestTooLong { .. } => "AWS.SimpleQueueService.BatchRequestTooLong",
            SqsError::InvalidBatchEntryId => "AWS.SimpleQueueService.InvalidBatchEntryId",
            SqsError::PurgeQueueInProgress(_) => "AWS.SimpleQueueService.PurgeQueueInProgress",
            SqsError::UnsupportedOperation(_) => "AWS.SimpleQueueService.UnsupportedOperation",
            SqsError::AccessDenied(_) => "AccessDenied",
            other => other.json_type(),
        }
    }

    /// Whether the caller is at fault (`Sender`) rather than the service (`Receiver`).
    pub fn is_sender_fault(&self) -> bool {
        !matches!(self, SqsError::Storage { .. })
    }

    /// The HTTP status both protocols answer with.
    pub fn status(&self) -> http::StatusCode {
        match self {
            SqsError::AccessDenied(_) => http::StatusCode::FORBIDDEN,
            SqsError::Storage { .. } => http::StatusCode::INTERNAL_SERVER_ERROR,
            _ => http::StatusCode::BAD_REQUEST,
        }
    }

    /// The message as the query protocol words it: the same as the JSON protocol's but
    /// for the missing queue, whose old wording names the WSDL version.
    pub fn query_message(&self) -> String {
        match self {
            SqsError::QueueDoesNotExist => {
                "The specified queue does not exist for this wsdl version.".to_owned()
            }
            other => other.to_string(),
        }
    }
}

pub(crate) fn storage(action: &'static str) -> impl FnOnce(rusqlite::Error) -> SqsError {
    move |error| SqsError::Storage {
        action,
        message: error.to_string(),
    }
}
