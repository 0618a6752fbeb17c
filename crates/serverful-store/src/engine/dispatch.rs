//! Operation dispatch by name, for the AWS edge: `X-Amz-Target:
//! DynamoDB_20120810.PutItem` → [`Store::call`]`("PutItem", body)`.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::Store;
use crate::api::from_slice;
use crate::error::{ErrorKind, StoreError, StoreResult};

fn run<I: DeserializeOwned, O: Serialize>(
    body: &[u8],
    operation: impl FnOnce(I) -> StoreResult<O>,
) -> StoreResult<Value> {
    let input = from_slice::<I>(if body.is_empty() { b"{}" } else { body })?;
    let output = operation(input)?;
    serde_json::to_value(output)
        .map_err(|error| StoreError::internal(format!("failed to encode the response: {error}")))
}

/// The DynamoDB (`DynamoDB_20120810`) operations [`Store::call`] runs, by
/// their `X-Amz-Target` names.
pub const OPERATIONS: &[&str] = &[
    "CreateTable",
    "DescribeTable",
    "DeleteTable",
    "ListTables",
    "UpdateTable",
    "UpdateTimeToLive",
    "DescribeTimeToLive",
    "TagResource",
    "UntagResource",
    "ListTagsOfResource",
    "PutItem",
    "GetItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
    "DescribeLimits",
    "DescribeContinuousBackups",
];

/// The DynamoDB Streams (`DynamoDBStreams_20120810`) operations
/// [`Store::call`] runs.
pub const STREAMS_OPERATIONS: &[&str] = &[
    "ListStreams",
    "DescribeStream",
    "GetShardIterator",
    "GetRecords",
];

impl Store {
    /// Runs the operation named as in `X-Amz-Target` (without the
    /// `DynamoDB_20120810.` or `DynamoDBStreams_20120810.` prefix; see
    /// [`OPERATIONS`] and [`STREAMS_OPERATIONS`]) on a JSON request body; the
    /// answer is the response body. Unknown operations get
    /// `UnknownOperationException`.
    pub fn call(&self, operation: &str, body: &[u8]) -> StoreResult<Value> {
        match operation {
            "CreateTable" => run(body, |input| self.create_table(input)),
            "DescribeTable" => run(body, |input| self.describe_table(input)),
            "DeleteTable" => run(body, |input| self.delete_table(input)),
            "ListTables" => run(body, |input| self.list_tables(input)),
            "UpdateTable" => run(body, |input| self.update_table(input)),
            "UpdateTimeToLive" => run(body, |input| self.update_time_to_live(input)),
            "DescribeTimeToLive" => run(body, |input| self.describe_time_to_live(input)),
            "TagResource" => run(body, |input| self.tag_resource(input)),
            "UntagResource" => run(body, |input| self.untag_resource(input)),
            "ListTagsOfResource" => run(body, |input| self.list_tags_of_resource(input)),
            "PutItem" => run(body, |input| self.put_item(input)),
            "GetItem" => run(body, |input| self.get_item(input)),
            "UpdateItem" => run(body, |input| self.update_item(input)),
            "DeleteItem" => run(body, |input| self.delete_item(input)),
            "Query" => run(body, |input| self.query(input)),
            "Scan" => run(body, |input| self.scan(input)),
            "BatchGetItem" => run(body, |input| self.batch_get_item(input)),
            "BatchWriteItem" => run(body, |input| self.batch_write_item(input)),
            "TransactWriteItems" => run(body, |input| self.transact_write_items(input)),
            "TransactGetItems" => run(body, |input| self.transact_get_items(input)),
            "ExecuteStatement" => run(body, |input| self.execute_statement(input)),
            "BatchExecuteStatement" => run(body, |input| self.batch_execute_statement(input)),
            "ExecuteTransaction" => run(body, |input| self.execute_transaction(input)),
            "ListStreams" => run(body, |input| self.list_streams(input)),
            "DescribeStream" => run(body, |input| self.describe_stream(input)),
            "GetShardIterator" => run(body, |input| self.get_shard_iterator(input)),
            "GetRecords" => run(body, |input| self.get_records(input)),
            "DescribeLimits" => Ok(json!({
                "AccountMaxReadCapacityUnits": 80000,
                "AccountMaxWriteCapacityUnits": 80000,
                "TableMaxReadCapacityUnits": 40000,
                "TableMaxWriteCapacityUnits": 40000,
            })),
            "DescribeContinuousBackups" => run(body, |input: crate::api::TableNameInput| {
                self.describe_table(input)?;
                Ok(json!({"ContinuousBackupsDescription": {
                    "ContinuousBackupsStatus": "ENABLED",
                    "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"},
                }}))
            }),
            other => Err(StoreError::new(
                ErrorKind::UnknownOperation,
                format!("Unknown operation: {other}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backend::MemoryBackend;

    #[test]
    fn every_listed_operation_is_dispatched_and_no_other() {
        let store =
            Store::open(Arc::new(MemoryBackend::default()), Default::default()).expect("store");
        for operation in OPERATIONS.iter().chain(STREAMS_OPERATIONS) {
            if let Err(error) = store.call(operation, b"{}") {
                assert_ne!(
                    error.kind,
                    ErrorKind::UnknownOperation,
                    "{operation} is listed but not dispatched"
                );
            }
        }
        let error = store.call("NoSuchOperation", b"{}").expect_err("unknown");
        assert_eq!(error.kind, ErrorKind::UnknownOperation);
    }
}
