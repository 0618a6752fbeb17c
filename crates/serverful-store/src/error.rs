//! The store's error type: a DynamoDB `__type` short name plus its message, ready
//! for the HTTP edge to render as `{"__type": ..., "message": ...}`.

use std::fmt;

use crate::value::Item;

/// Every error the store reports to a client, named after DynamoDB's `__type`.
///
/// The message is the text DynamoDB sends; the edge adds the
/// `com.amazonaws.dynamodb.v20120810#` prefix if it wants the long form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StoreError {
    /// Which DynamoDB error this is.
    pub kind: ErrorKind,
    /// The human-readable text, phrased as DynamoDB phrases it.
    pub message: String,
    /// Extra members of the error body: `CancellationReasons` of a cancelled
    /// transaction, or the `Item` a failed condition saw when the request asked
    /// for it with `ReturnValuesOnConditionCheckFailure: ALL_OLD`.
    pub details: Option<Box<ErrorDetails>>,
}

/// The members some errors carry besides `__type` and `message`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorDetails {
    /// One reason per transaction item, in request order (transactions only).
    pub cancellation_reasons: Vec<CancellationReason>,
    /// The item as the failed condition saw it.
    pub item: Option<Item>,
}

/// Why one item of a transaction was cancelled (`Code` `None` when it was not
/// the cause).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancellationReason {
    /// `ConditionalCheckFailed`, `ValidationError`, `TransactionConflict` or `None`.
    pub code: String,
    /// The message, absent for `None`.
    pub message: Option<String>,
    /// The existing item, when `ReturnValuesOnConditionCheckFailure` asked for it.
    pub item: Option<Item>,
}

/// How [`StoreError::table_moved`] messages begin.
const TABLE_MOVED: &str = "The table was changed by another node during this request: ";

/// DynamoDB's error names (the part of `__type` after `#`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Bad input: a malformed value, expression or parameter combination.
    Validation,
    /// A `ConditionExpression` evaluated to false.
    ConditionalCheckFailed,
    /// The table or index does not exist.
    ResourceNotFound,
    /// The table exists already or is being changed.
    ResourceInUse,
    /// A transaction was cancelled; the message lists the reasons.
    TransactionCanceled,
    /// Another transaction holds the item.
    TransactionConflict,
    /// The same `ClientRequestToken` was reused with a different request.
    IdempotentParameterMismatch,
    /// An item collection (one partition key with LSIs) outgrew 10 GB.
    ItemCollectionSizeLimitExceeded,
    /// The request body could not be deserialized (wrong JSON types).
    Serialization,
    /// The `X-Amz-Target` names no operation this store knows.
    UnknownOperation,
    /// A PartiQL INSERT found an item with the same key.
    DuplicateItem,
    /// A stream shard iterator is too old (DynamoDB Streams).
    ExpiredIterator,
    /// A stream read asked for records past the retention window.
    TrimmedDataAccess,
    /// The caller may not touch the resource: a well-formed ARN of another
    /// account or region (AWS's front end answers this, not DynamoDB).
    AccessDenied,
    /// A bug or an unexpected backend failure.
    InternalServerError,
}

impl ErrorKind {
    /// The `__type` short name DynamoDB uses for this error.
    pub fn type_name(self) -> &'static str {
        match self {
            ErrorKind::Validation => "ValidationException",
            ErrorKind::ConditionalCheckFailed => "ConditionalCheckFailedException",
            ErrorKind::ResourceNotFound => "ResourceNotFoundException",
            ErrorKind::ResourceInUse => "ResourceInUseException",
            ErrorKind::TransactionCanceled => "TransactionCanceledException",
            ErrorKind::TransactionConflict => "TransactionConflictException",
            ErrorKind::IdempotentParameterMismatch => "IdempotentParameterMismatchException",
            ErrorKind::ItemCollectionSizeLimitExceeded => {
                "ItemCollectionSizeLimitExceededException"
            }
            ErrorKind::Serialization => "SerializationException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
            ErrorKind::DuplicateItem => "DuplicateItemException",
            ErrorKind::ExpiredIterator => "ExpiredIteratorException",
            ErrorKind::TrimmedDataAccess => "TrimmedDataAccessException",
            ErrorKind::AccessDenied => "AccessDeniedException",
            ErrorKind::InternalServerError => "InternalServerError",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}

impl StoreError {
    /// An error of the given kind with the given message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
            details: None,
        }
    }

    /// A `ValidationException`, by far the most common error.
    pub fn validation(message: impl Into<String>) -> Self {
        StoreError::new(ErrorKind::Validation, message)
    }

    /// A `SerializationException`, for JSON of the wrong shape.
    pub fn serialization(message: impl Into<String>) -> Self {
        StoreError::new(ErrorKind::Serialization, message)
    }

    /// DynamoDB's `ConditionalCheckFailedException` with its fixed message.
    pub fn conditional_check_failed() -> Self {
        StoreError::new(
            ErrorKind::ConditionalCheckFailed,
            "The conditional request failed",
        )
    }

    /// A `ResourceNotFoundException` with DynamoDB's message for item and
    /// index operations on a missing table.
    pub fn resource_not_found() -> Self {
        StoreError::new(ErrorKind::ResourceNotFound, "Requested resource not found")
    }

    /// An `InternalServerError` for a failed backend.
    pub fn internal(message: impl Into<String>) -> Self {
        StoreError::new(ErrorKind::InternalServerError, message)
    }

    /// The `InternalServerError` of a write planned against a table that another
    /// process (a node of a cluster) changed before the write could lock its keys:
    /// nothing was written, and the operation may run again at once.
    pub fn table_moved(table: &str) -> Self {
        StoreError::internal(format!("{TABLE_MOVED}{table}; retry the request"))
    }

    /// Whether this is [`StoreError::table_moved`].
    pub fn is_table_moved(&self) -> bool {
        self.kind == ErrorKind::InternalServerError && self.message.starts_with(TABLE_MOVED)
    }

    /// The `__type` short name, e.g. `ValidationException`.
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }
}

/// Shorthand for results in this crate.
pub type StoreResult<T> = Result<T, StoreError>;
