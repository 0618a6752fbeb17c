//! DynamoDB (`DynamoDB_20120810`) and DynamoDB Streams (`DynamoDBStreams_20120810`) on
//! the endpoint: the JSON protocol over the store's engine. The store does the semantics
//! and speaks DynamoDB's request and response shapes; this module authorizes each call
//! before the store runs it (the tables it names, read by the store as the operation reads
//! them, against the caller's [`crate::authz::Principal`]; listings show only what the
//! caller may see), decides where a call runs (what the store can start without waiting
//! inline, the rest off the async threads) and renders the store's errors as DynamoDB
//! sends them.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::StatusCode;
use serde_json::{json, Value};
use serverful_store::api::{from_slice, ListStreamsInput, ListTablesInput};
use serverful_store::{value::item_to_json, ErrorKind, RequestTargets, Store, StoreError};

use crate::authz::{Action, Resource};
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

    fn new_request_id(&self) -> String {
        crate::request_id::dynamodb()
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

    fn new_request_id(&self) -> String {
        crate::request_id::dynamodb()
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
        // The master keys may do anything: only restricted callers pay for reading what a
        // request names.
        if !request.principal.is_unrestricted() {
            match authorize(&store, &request)? {
                Authorized::Call => {}
                Authorized::Listing => return visible_listing(&store, &request),
            }
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

/// How an authorized call goes on.
enum Authorized {
    /// To the store as it came.
    Call,
    /// A listing, answered with only what the caller may see.
    Listing,
}

/// Checks every table `request` would act on against its principal, before the store
/// runs it: the first refused one answers `AccessDeniedException`.
fn authorize(store: &Store, request: &JsonRequest) -> Result<Authorized, AwsError> {
    let targets = store
        .request_targets(&request.operation, &request.body)
        .map_err(aws_error)?;
    let principal = &request.principal;
    let accesses = match targets {
        RequestTargets::Listing => {
            principal
                .authorize(
                    Action::dynamodb(&request.operation),
                    Resource::Listing,
                    &request.region,
                )
                .map_err(|denied| denied.to_json_error())?;
            return Ok(Authorized::Listing);
        }
        RequestTargets::Tables(accesses) => accesses,
    };
    for access in &accesses {
        let resource = if access.stream {
            Resource::Stream {
                table: &access.table,
            }
        } else {
            Resource::Table {
                name: &access.table,
                index: access.index.as_deref(),
            }
        };
        principal
            .authorize(Action::dynamodb(access.action), resource, &request.region)
            .map_err(|denied| denied.to_json_error())?;
    }
    Ok(Authorized::Call)
}

/// `ListTables`, or `ListStreams` of every table, counting only the tables the caller may
/// describe: pages and their last evaluated name never mention another's.
fn visible_listing(store: &Store, request: &JsonRequest) -> Result<Bytes, AwsError> {
    let body: &[u8] = if request.body.is_empty() {
        b"{}"
    } else {
        &request.body
    };
    let principal = &request.principal;
    let response = match request.operation.as_str() {
        "ListTables" => {
            let input: ListTablesInput = from_slice(body).map_err(aws_error)?;
            let visible = |name: &str| {
                principal.allows(
                    Action::dynamodb("DescribeTable"),
                    Resource::Table { name, index: None },
                )
            };
            let output = store
                .list_tables_where(input, &visible)
                .map_err(aws_error)?;
            serde_json::to_vec(&output)
        }
        "ListStreams" => {
            let input: ListStreamsInput = from_slice(body).map_err(aws_error)?;
            let visible = |table: &str| {
                principal.allows(
                    Action::dynamodb("DescribeStream"),
                    Resource::Stream { table },
                )
            };
            let output = store
                .list_streams_where(input, &visible)
                .map_err(aws_error)?;
            serde_json::to_vec(&output)
        }
        other => {
            return Err(AwsError::internal(format!(
                "{other} is not a listing the endpoint can filter"
            )))
        }
    };
    response
        .map(Bytes::from)
        .map_err(|error| AwsError::internal(format!("failed to encode the response: {error}")))
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
