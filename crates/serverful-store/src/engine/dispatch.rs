//! Operation dispatch by name, for the AWS edge: `X-Amz-Target:
//! DynamoDB_20120810.PutItem` → [`Store::call_json`]`("PutItem", body)`.
//! Requests parse straight into the operation's typed input and responses
//! are written straight from its typed output, with no `serde_json::Value`
//! in between.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::{Gate, Store};
use crate::api::from_slice;
use crate::error::{ErrorKind, StoreError, StoreResult};

fn run<I: DeserializeOwned, O: Serialize>(
    body: &[u8],
    operation: impl FnOnce(I) -> StoreResult<O>,
) -> StoreResult<Vec<u8>> {
    let input = from_slice::<I>(if body.is_empty() { b"{}" } else { body })?;
    let output = operation(input)?;
    encode(&output)
}

/// [`run`] for the operations that check their attribute values where DynamoDB does
/// (see [`crate::deferred`]): each asks for the verdicts before it reads or writes.
fn run_checked<I: DeserializeOwned, O: Serialize>(
    body: &[u8],
    operation: impl FnOnce(I) -> StoreResult<O>,
) -> StoreResult<Vec<u8>> {
    let scope = crate::deferred::begin();
    let input = from_slice::<I>(if body.is_empty() { b"{}" } else { body })?;
    let output = operation(input);
    if let (Ok(_), Some(error)) = (&output, scope.unchecked()) {
        debug_assert!(false, "a value's verdict was never checked: {error}");
        return Err(error);
    }
    encode(&output?)
}

pub(super) fn encode(output: &impl Serialize) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(output)
        .map_err(|error| StoreError::internal(format!("failed to encode the response: {error}")))
}

/// The read-only operations [`Store::try_call_without_waiting`] runs: each
/// reads at most one page (1 MB) and takes no key lock.
pub const NON_WAITING_OPERATIONS: &[&str] = &[
    "GetItem",
    "BatchGetItem",
    "Query",
    "Scan",
    "ListTables",
    "DescribeTimeToLive",
    "ListTagsOfResource",
    "DescribeLimits",
];

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
    /// answer is the response body as a JSON value. Unknown operations get
    /// `UnknownOperationException`. [`Store::call_json`] is the same without
    /// the `Value`.
    pub fn call(&self, operation: &str, body: &[u8]) -> StoreResult<Value> {
        let response = self.call_json(operation, body)?;
        serde_json::from_slice(&response).map_err(|error| {
            StoreError::internal(format!("failed to decode the response: {error}"))
        })
    }

    /// Like [`Store::call`], answering the response body as JSON text.
    ///
    /// May wait: for a write's group commit, for key locks, and for a
    /// control-plane operation to finish. Run it off async threads.
    pub fn call_json(&self, operation: &str, body: &[u8]) -> StoreResult<Vec<u8>> {
        // A table another node changed while this one planned a write fails that
        // write before anything is written; by then the catalog is current, so the
        // operation runs again (a second change in between is rarer still).
        let mut attempts = 0;
        loop {
            match self.call_once(operation, body) {
                Err(error) if error.is_table_moved() && attempts < 3 => attempts += 1,
                answer => return answer,
            }
        }
    }

    fn call_once(&self, operation: &str, body: &[u8]) -> StoreResult<Vec<u8>> {
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
            "PutItem" => run_checked(body, |input| self.put_item(input)),
            "GetItem" => run_checked(body, |input| self.get_item(input)),
            "UpdateItem" => run_checked(body, |input| self.update_item(input)),
            "DeleteItem" => run_checked(body, |input| self.delete_item(input)),
            "Query" => run_checked(body, |input| self.query(input)),
            "Scan" => run_checked(body, |input| self.scan(input)),
            "BatchGetItem" => run_checked(body, |input| self.batch_get_item(input)),
            "BatchWriteItem" => run_checked(body, |input| self.batch_write_item(input)),
            "TransactWriteItems" => run(body, |input| self.transact_write_items(input)),
            "TransactGetItems" => run(body, |input| self.transact_get_items(input)),
            "ExecuteStatement" => run(body, |input| self.execute_statement(input)),
            "BatchExecuteStatement" => run(body, |input| self.batch_execute_statement(input)),
            "ExecuteTransaction" => run(body, |input| self.execute_transaction(input)),
            "ListStreams" => run(body, |input| self.list_streams(input)),
            "DescribeStream" => run(body, |input| self.describe_stream(input)),
            "GetShardIterator" => run(body, |input| self.get_shard_iterator(input)),
            "GetRecords" => run(body, |input| self.get_records(input)),
            "DescribeLimits" => describe_limits(),
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

impl Store {
    /// Runs one of [`NON_WAITING_OPERATIONS`] if it can start without waiting,
    /// as [`Store::call_json`] would; `None` for other operations and while a
    /// control-plane operation holds or awaits the schema gate (call
    /// [`Store::call_json`] off the async threads then).
    ///
    /// What it runs is short and bounded (one page, no locks beyond the
    /// schema gate's read side and the backend's own), so the AWS edge runs
    /// it on its async threads and skips a hand-off to a blocking thread.
    pub fn try_call_without_waiting(
        &self,
        operation: &str,
        body: &[u8],
    ) -> Option<StoreResult<Vec<u8>>> {
        if !NON_WAITING_OPERATIONS.contains(&operation) {
            return None;
        }
        let _gate = self.try_read_gate()?;
        Some(match operation {
            "GetItem" => run_checked(body, |input| self.get_item_under(input, Gate::Held)),
            "BatchGetItem" => {
                run_checked(body, |input| self.batch_get_item_under(input, Gate::Held))
            }
            "Query" => run_checked(body, |input| self.query_under(input, Gate::Held)),
            "Scan" => run_checked(body, |input| self.scan_under(input, Gate::Held)),
            "ListTables" => run(body, |input| self.list_tables(input)),
            "DescribeTimeToLive" => run(body, |input| self.describe_time_to_live(input)),
            "ListTagsOfResource" => run(body, |input| self.list_tags_of_resource(input)),
            "DescribeLimits" => describe_limits(),
            _ => return None,
        })
    }
}

fn describe_limits() -> StoreResult<Vec<u8>> {
    encode(&json!({
        "AccountMaxReadCapacityUnits": 80000,
        "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000,
        "TableMaxWriteCapacityUnits": 40000,
    }))
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

    /// Only listed reads run without waiting, and none while a control-plane
    /// operation holds the schema gate.
    #[test]
    fn reads_run_without_waiting_unless_the_schema_gate_is_taken() {
        let store =
            Store::open(Arc::new(MemoryBackend::default()), Default::default()).expect("store");
        for operation in OPERATIONS.iter().chain(STREAMS_OPERATIONS) {
            let ran = store.try_call_without_waiting(operation, b"{}").is_some();
            assert_eq!(
                ran,
                NON_WAITING_OPERATIONS.contains(operation),
                "{operation}"
            );
        }
        let listed = store
            .try_call_without_waiting("ListTables", b"{}")
            .expect("runs")
            .expect("succeeds");
        assert_eq!(
            listed,
            store.call_json("ListTables", b"{}").expect("succeeds")
        );
        let _control_plane = store.write_gate().expect("gate");
        assert!(store.try_call_without_waiting("GetItem", b"{}").is_none());
    }
}
