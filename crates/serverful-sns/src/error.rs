//! SNS's errors: the code a client matches on (`NotFound`, `InvalidParameter`, ...), its
//! HTTP status, and the message, worded as SNS words it.

/// An SNS error code, as the query protocol's `<Code>` carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidParameter,
    InvalidParameterValue,
    NotFound,
    ResourceNotFound,
    AuthorizationError,
    TagLimitExceeded,
    TooManyEntriesInBatchRequest,
    BatchEntryIdsNotDistinct,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    BatchRequestTooLong,
    InvalidAction,
    MissingParameter,
    InternalError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidParameter => "InvalidParameter",
            ErrorCode::InvalidParameterValue => "ParameterValueInvalid",
            ErrorCode::NotFound => "NotFound",
            ErrorCode::ResourceNotFound => "ResourceNotFound",
            ErrorCode::AuthorizationError => "AuthorizationError",
            ErrorCode::TagLimitExceeded => "TagLimitExceeded",
            ErrorCode::TooManyEntriesInBatchRequest => "TooManyEntriesInBatchRequest",
            ErrorCode::BatchEntryIdsNotDistinct => "BatchEntryIdsNotDistinct",
            ErrorCode::EmptyBatchRequest => "EmptyBatchRequest",
            ErrorCode::InvalidBatchEntryId => "InvalidBatchEntryId",
            ErrorCode::BatchRequestTooLong => "BatchRequestTooLong",
            ErrorCode::InvalidAction => "InvalidAction",
            ErrorCode::MissingParameter => "MissingParameter",
            ErrorCode::InternalError => "InternalError",
        }
    }

    /// The HTTP status SNS answers the code with.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::NotFound | ErrorCode::ResourceNotFound => 404,
            ErrorCode::AuthorizationError => 403,
            ErrorCode::InternalError => 500,
            _ => 400,
        }
    }

    /// Whether the caller (`Sender`) or SNS (`Receiver`) is at fault.
    pub fn fault(self) -> &'static str {
        match self {
            ErrorCode::InternalError => "Receiver",
            _ => "Sender",
        }
    }
}

/// An SNS error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct SnsError {
    pub code: ErrorCode,
    pub message: String,
}

impl SnsError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> SnsError {
        SnsError {
            code,
            message: message.into(),
        }
    }

    /// `InvalidParameter` with a message that already starts `Invalid parameter: `.
    pub fn invalid_parameter(message: impl Into<String>) -> SnsError {
        SnsError::new(ErrorCode::InvalidParameter, message)
    }

    pub fn not_found(message: impl Into<String>) -> SnsError {
        SnsError::new(ErrorCode::NotFound, message)
    }

    /// Storage failed: SNS's `InternalError`, the cause logged here where it is handled.
    pub fn internal(action: &str, cause: impl std::fmt::Display) -> SnsError {
        tracing::error!("failed to {action}: {cause}");
        SnsError::new(
            ErrorCode::InternalError,
            format!("failed to {action}: {cause}"),
        )
    }
}
