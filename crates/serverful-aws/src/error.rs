//! AWS wire errors: the status, `__type` and message a client sees, and their JSON shape.
//!
//! JSON-protocol services (DynamoDB, DynamoDB Streams, SQS) answer errors as
//! `{"__type":"<namespace>#<Type>","message":"..."}`. Which namespace a type carries
//! depends on the layer that raised it, exactly as on AWS: authentication and protocol
//! errors come from the "coral" front end (`com.amazon.coral.service`), input validation
//! from `com.amazon.coral.validate`, and service errors from the service's own namespace
//! (`com.amazonaws.dynamodb.v20120810`). Services build their errors with [`AwsError::new`]
//! or the helpers below; the router renders them.

use std::borrow::Cow;

use bytes::Bytes;
use http::StatusCode;

/// Namespace of errors raised by AWS's request front end (auth, routing, parsing).
pub const CORAL_SERVICE_NAMESPACE: &str = "com.amazon.coral.service";
/// Namespace of DynamoDB's `ValidationException`.
pub const CORAL_VALIDATE_NAMESPACE: &str = "com.amazon.coral.validate";
/// Namespace of DynamoDB's own errors (`ResourceNotFoundException`, ...).
pub const DYNAMODB_NAMESPACE: &str = "com.amazonaws.dynamodb.v20120810";

/// Which key carries the message in the error JSON.
///
/// AWS is not consistent: most errors use `message`, but type errors raised while
/// deserializing a request (`SerializationException`) use `Message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageField {
    /// `"message"`.
    Lower,
    /// `"Message"`.
    Upper,
}

/// An error as an AWS client sees it: HTTP status, error type and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{type_name}: {}", message.as_deref().unwrap_or("(no message)"))]
pub struct AwsError {
    /// HTTP status code, 400 for almost every client error.
    pub status: StatusCode,
    /// The namespace before `#` in `__type`; `None` sends the bare type name.
    pub namespace: Option<Cow<'static, str>>,
    /// The exception name clients match on, e.g. `ValidationException`.
    pub type_name: Cow<'static, str>,
    /// The message; `None` omits the field, as AWS does for `UnknownOperationException`.
    pub message: Option<String>,
    /// Whether the message goes out as `message` or `Message`.
    pub message_field: MessageField,
    /// Further members of the error body after the message, as some errors carry them
    /// (DynamoDB's `CancellationReasons`, or the `Item` of a failed condition).
    pub extra_fields: serde_json::Map<String, serde_json::Value>,
    /// The query protocol's code, sent as `x-amzn-query-error: Code;Sender` (`Receiver`
    /// for a 5xx) by services moved from the query protocol to JSON (SQS), so that SDKs
    /// can match the old codes.
    pub query_error: Option<&'static str>,
}

impl AwsError {
    /// An error with a status, namespace, type and message.
    pub fn new(
        status: StatusCode,
        namespace: impl Into<Cow<'static, str>>,
        type_name: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            namespace: Some(namespace.into()),
            type_name: type_name.into(),
            message: Some(message.into()),
            message_field: MessageField::Lower,
            extra_fields: serde_json::Map::new(),
            query_error: None,
        }
    }

    /// A 400 error from AWS's front end (`com.amazon.coral.service#<type_name>`).
    pub fn coral(type_name: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            CORAL_SERVICE_NAMESPACE,
            type_name,
            message,
        )
    }

    /// DynamoDB's `com.amazon.coral.validate#ValidationException`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            CORAL_VALIDATE_NAMESPACE,
            "ValidationException",
            message,
        )
    }

    /// A 400 error in DynamoDB's own namespace, e.g. `ResourceNotFoundException`.
    pub fn dynamodb(type_name: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            DYNAMODB_NAMESPACE,
            type_name,
            message,
        )
    }

    /// `UnknownOperationException`, which AWS sends without a message.
    pub fn unknown_operation() -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            namespace: Some(Cow::Borrowed(CORAL_SERVICE_NAMESPACE)),
            type_name: Cow::Borrowed("UnknownOperationException"),
            message: None,
            message_field: MessageField::Lower,
            extra_fields: serde_json::Map::new(),
            query_error: None,
        }
    }

    /// `SerializationException`: without a message for a body that is not JSON, with a
    /// `Message` (capital M, as AWS sends it) for a value of the wrong type.
    pub fn serialization(message: Option<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            namespace: Some(Cow::Borrowed(CORAL_SERVICE_NAMESPACE)),
            type_name: Cow::Borrowed("SerializationException"),
            message,
            message_field: MessageField::Upper,
            extra_fields: serde_json::Map::new(),
            query_error: None,
        }
    }

    /// `InternalServerError` (500), for failures that are not the client's fault.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            DYNAMODB_NAMESPACE,
            "InternalServerError",
            message,
        )
    }

    /// The same error with one more member in its body.
    pub fn with_field(mut self, name: impl Into<String>, value: serde_json::Value) -> Self {
        self.extra_fields.insert(name.into(), value);
        self
    }

    /// The same error with an `x-amzn-query-error` header naming the query protocol's
    /// `code`.
    pub fn with_query_error(mut self, code: &'static str) -> Self {
        self.query_error = Some(code);
        self
    }

    /// The `x-amzn-query-error` header's value: the code, and whose fault it is.
    pub fn query_error_header(&self) -> Option<String> {
        let fault = if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        self.query_error.map(|code| format!("{code};{fault}"))
    }

    /// The same error with its message sent as `Message` or `message`.
    pub fn with_message_field(mut self, field: MessageField) -> Self {
        self.message_field = field;
        self
    }

    /// The `__type` value: `namespace#Type`, or the bare type without a namespace.
    pub fn qualified_type(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("{namespace}#{}", self.type_name),
            None => self.type_name.to_string(),
        }
    }

    /// The JSON-protocol body: `{"__type":"...","message":"..."}`, `__type` first as AWS
    /// writes it.
    pub fn to_json_body(&self) -> Bytes {
        let type_json = serde_json::Value::String(self.qualified_type()).to_string();
        let body = match &self.message {
            Some(message) => {
                let key = match self.message_field {
                    MessageField::Lower => "message",
                    MessageField::Upper => "Message",
                };
                let message_json = serde_json::Value::String(message.clone()).to_string();
                format!(r#"{{"__type":{type_json},"{key}":{message_json}}}"#)
            }
            None => format!(r#"{{"__type":{type_json}}}"#),
        };
        if self.extra_fields.is_empty() {
            return Bytes::from(body);
        }
        // The extra members follow the message, inside the same object.
        let mut body = body;
        body.pop();
        for (name, value) in &self.extra_fields {
            body.push(',');
            body.push_str(&serde_json::Value::String(name.clone()).to_string());
            body.push(':');
            body.push_str(&value.to_string());
        }
        body.push('}');
        Bytes::from(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: AwsError, expected: &str) {
        let body = error.to_json_body();
        assert_eq!(std::str::from_utf8(&body).ok(), Some(expected));
    }

    #[test]
    fn error_bodies_match_aws() {
        check(
            AwsError::dynamodb("ResourceNotFoundException", "Requested resource not found"),
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#,
        );
        check(
            AwsError::unknown_operation(),
            r#"{"__type":"com.amazon.coral.service#UnknownOperationException"}"#,
        );
        check(
            AwsError::serialization(None),
            r#"{"__type":"com.amazon.coral.service#SerializationException"}"#,
        );
        check(
            AwsError::serialization(Some("NUMBER_VALUE cannot be converted to String".into())),
            r#"{"__type":"com.amazon.coral.service#SerializationException","Message":"NUMBER_VALUE cannot be converted to String"}"#,
        );
        check(
            AwsError::validation("1 validation error detected"),
            r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"1 validation error detected"}"#,
        );
    }
}
