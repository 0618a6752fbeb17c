//! DynamoDB (`DynamoDB_20120810`) and DynamoDB Streams (`DynamoDBStreams_20120810`) on
//! the endpoint: the JSON protocol over the store's engine. The store does the semantics
//! and speaks DynamoDB's request and response shapes; this module only decides where a
//! call runs (what the store can start without waiting inline, the rest off the async
//! threads) and renders the store's errors as DynamoDB sends them.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::StatusCode;
use serde_json::{json, Value};
use serverful_store::{value::item_to_json, ErrorKind, Store, StoreError};

use crate::error::AwsError;
use crate::service::{JsonRequest, JsonService};

/// The DynamoDB API over one store.
pub struct DynamoDbService {
    store: Arc<Store>,
}

impl DynamoDbService {
    pub fn new(store: Arc<Store>) -> DynamoDbService {
        DynamoDbService { store }
    }
}

impl JsonService for DynamoDbService {
    fn target_prefix(&self) -> &'static str {
        "DynamoDB_20120810"
    }

    fn signing_name(&self) -> &'static str {
        "dynamodb"
    }

    fn call(&self, request: JsonRequest) -> BoxFuture<'static, Result<Bytes, AwsError>> {
        call_store(self.store.clone(), serverful_store::OPERATIONS, request)
    }
}

/// The DynamoDB Streams API over one store.
pub struct DynamoDbStreamsService {
    store: Arc<Store>,
}

impl DynamoDbStreamsService {
    pub fn new(store: Arc<Store>) -> DynamoDbStreamsService {
        DynamoDbStreamsService { store }
    }
}

impl JsonService for DynamoDbStreamsService {
    fn target_prefix(&self) -> &'static str {
        "DynamoDBStreams_20120810"
    }

    /// The SDKs sign Streams requests with DynamoDB's service name.
    fn signing_name(&self) -> &'static str {
        "dynamodb"
    }

    fn call(&self, request: JsonRequest) -> BoxFuture<'static, Result<Bytes, AwsError>> {
        call_store(
            self.store.clone(),
            serverful_store::STREAMS_OPERATIONS,
            request,
        )
    }
}

/// Runs one of `operations` on the store. The store starts what it can without waiting
/// right here on the async thread: short reads are answered at once, and puts and
/// deletes that need no old item are queued and answered by the store's writer once
/// durable. Only what may wait (read-check-write, control plane) goes to a blocking
/// thread. Each hand-off to a thread and back costs about a third of a GetItem's CPU.
fn call_store(
    store: Arc<Store>,
    operations: &'static [&'static str],
    request: JsonRequest,
) -> BoxFuture<'static, Result<Bytes, AwsError>> {
    Box::pin(async move {
        if !operations.contains(&request.operation.as_str()) {
            return Err(AwsError::unknown_operation());
        }
        let (sender, answer) = tokio::sync::oneshot::channel();
        let blocking = store.start_call(
            &request.operation,
            request.body,
            Box::new(move |outcome| {
                // The request may have been abandoned; nobody to answer then.
                let _ = sender.send(outcome);
            }),
        );
        if let Some(blocking) = blocking {
            tokio::task::spawn_blocking(blocking);
        }
        match answer.await {
            Ok(Ok(response)) => Ok(Bytes::from(response)),
            Ok(Err(error)) => Err(aws_error(error)),
            Err(_) => Err(AwsError::internal("the store call ended without an answer")),
        }
    })
}

/// A store error as DynamoDB's endpoint renders it: the namespace DynamoDB uses for each
/// type, and the extra members some errors carry.
fn aws_error(error: StoreError) -> AwsError {
    let StoreError {
        kind,
        message,
        details,
    } = error;
    let mut aws = match kind {
        ErrorKind::Validation => AwsError::validation(message),
        ErrorKind::Serialization => AwsError::serialization(Some(message)),
        ErrorKind::InternalServerError => AwsError::internal(message),
        ErrorKind::UnknownOperation => AwsError::unknown_operation(),
        ErrorKind::AccessDenied => AwsError::coral("AccessDeniedException", message),
        other => AwsError::dynamodb(other.type_name(), message),
    };
    if let Some(details) = details {
        if !details.cancellation_reasons.is_empty() {
            let reasons: Vec<Value> = details
                .cancellation_reasons
                .iter()
                .map(|reason| {
                    let mut entry = serde_json::Map::new();
                    if let Some(item) = &reason.item {
                        entry.insert("Item".to_owned(), item_to_json(item));
                    }
                    entry.insert("Code".to_owned(), json!(reason.code));
                    if let Some(message) = &reason.message {
                        entry.insert("Message".to_owned(), json!(message));
                    }
                    Value::Object(entry)
                })
                .collect();
            aws = aws.with_field("CancellationReasons", Value::Array(reasons));
        }
        if let Some(item) = &details.item {
            aws = aws.with_field("Item", item_to_json(item));
        }
    }
    if aws.status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(
            "DynamoDB request failed inside the store: {}",
            aws.message.as_deref().unwrap_or("")
        );
    }
    aws
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Access to another account's table is refused by AWS's front end, so
    /// the error comes in the coral namespace, not DynamoDB's.
    #[test]
    fn access_denied_is_a_front_end_error() {
        let error = aws_error(StoreError::new(ErrorKind::AccessDenied, "denied"));
        assert_eq!(
            error.qualified_type(),
            "com.amazon.coral.service#AccessDeniedException"
        );
    }
}
