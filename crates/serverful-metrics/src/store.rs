//! The store's series: DynamoDB operations by operation and outcome, and their latency,
//! counted where the AWS endpoint dispatches them.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::labels::{encode_pairs, OneLabel};

/// DynamoDB's operations, as `X-Amz-Target` names them: the only values of the
/// `operation` label, so that a client cannot make series by sending made-up names.
const OPERATIONS: [&str; 36] = [
    "BatchExecuteStatement",
    "BatchGetItem",
    "BatchWriteItem",
    "CreateBackup",
    "CreateGlobalTable",
    "CreateTable",
    "DeleteBackup",
    "DeleteItem",
    "DeleteTable",
    "DescribeBackup",
    "DescribeContinuousBackups",
    "DescribeEndpoints",
    "DescribeLimits",
    "DescribeTable",
    "DescribeTimeToLive",
    "ExecuteStatement",
    "ExecuteTransaction",
    "GetItem",
    "ListBackups",
    "ListTables",
    "ListTagsOfResource",
    "PutItem",
    "Query",
    "Scan",
    "TagResource",
    "TransactGetItems",
    "TransactWriteItems",
    "UntagResource",
    "UpdateContinuousBackups",
    "UpdateItem",
    "UpdateTable",
    "UpdateTimeToLive",
    // DynamoDB Streams, on the same endpoint.
    "DescribeStream",
    "GetRecords",
    "GetShardIterator",
    "ListStreams",
];

/// The `operation` label of `operation`: itself when DynamoDB has it, else `Unknown`.
fn operation_label(operation: &str) -> &'static str {
    match OPERATIONS.iter().find(|known| **known == operation) {
        Some(known) => known,
        None => "Unknown",
    }
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    Success,
    /// The request was refused as the client's error (a 4xx: validation, a failed
    /// condition, a missing table).
    ClientError,
    /// The store failed (a 5xx).
    ServerError,
}

impl StoreOutcome {
    /// The outcome an HTTP status stands for.
    pub fn of_status(status: u16) -> StoreOutcome {
        match status {
            400..=499 => StoreOutcome::ClientError,
            500..=599 => StoreOutcome::ServerError,
            _ => StoreOutcome::Success,
        }
    }

    fn label(self) -> &'static str {
        match self {
            StoreOutcome::Success => "success",
            StoreOutcome::ClientError => "client_error",
            StoreOutcome::ServerError => "server_error",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct OperationLabels {
    operation: &'static str,
    outcome: &'static str,
}

impl EncodeLabelSet for OperationLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        encode_pairs(
            encoder,
            &[("operation", self.operation), ("outcome", self.outcome)],
        )
    }
}

#[derive(Clone, Copy)]
struct LatencyBuckets;

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 13] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

impl MetricConstructor<Histogram> for LatencyBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(LATENCY_BUCKETS.iter().copied())
    }
}

pub(crate) struct Families {
    operations: Family<OperationLabels, Counter>,
    duration: Family<OneLabel, Histogram, LatencyBuckets>,
}

impl Families {
    pub fn register(registry: &mut Registry) -> Arc<Families> {
        let families = Families {
            operations: Family::default(),
            duration: Family::new_with_constructor(LatencyBuckets),
        };
        registry.register(
            "serverful_dynamodb_operations",
            "DynamoDB operations on the AWS endpoint, by operation and outcome (CloudWatch SuccessfulRequestLatency's count, UserErrors, SystemErrors)",
            families.operations.clone(),
        );
        registry.register(
            "serverful_dynamodb_operation_duration_seconds",
            "Time each DynamoDB operation took on the AWS endpoint (CloudWatch SuccessfulRequestLatency)",
            families.duration.clone(),
        );
        Arc::new(families)
    }
}

/// The store's handle; does nothing when metrics are off.
#[derive(Clone, Default)]
pub struct DynamoDbMetrics(pub(crate) Option<Arc<Families>>);

impl std::fmt::Debug for DynamoDbMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DynamoDbMetrics")
            .field(&self.0.is_some())
            .finish()
    }
}

impl DynamoDbMetrics {
    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Counts one operation (`PutItem`) that ended with `outcome` after `elapsed`.
    pub fn observe(&self, operation: &str, outcome: StoreOutcome, elapsed: Duration) {
        let Some(families) = &self.0 else {
            return;
        };
        let operation = operation_label(operation);
        families
            .operations
            .get_or_create(&OperationLabels {
                operation,
                outcome: outcome.label(),
            })
            .inc();
        families
            .duration
            .get_or_create(&OneLabel {
                name: "operation",
                value: operation.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }
}
