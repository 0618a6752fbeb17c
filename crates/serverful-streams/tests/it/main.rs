//! The stream consumers against a real store (in memory) and a function stand-in that
//! records its events and fails on demand (issue 15).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use serverful_eventbridge::EventPattern;
use serverful_invoke::{FunctionRef, HttpTarget, Invoke, InvokeError};
use serverful_store::{MemoryBackend, Store, StoreConfig};
use serverful_streams::{
    CheckpointStore, DestinationError, FailureDestination, Mapping, MemoryCheckpoints,
    StartingPosition, StreamMappings, StreamsSettings,
};

type Behaviour = Box<dyn Fn(&Value, usize) -> Result<Value, InvokeError> + Send + Sync>;

/// A function that records every event it gets and answers as `behaviour` says (given the
/// event and how many calls came before).
struct Function {
    events: Mutex<Vec<Value>>,
    behaviour: Behaviour,
}

impl Function {
    fn new(
        behaviour: impl Fn(&Value, usize) -> Result<Value, InvokeError> + Send + Sync + 'static,
    ) -> Arc<Function> {
        Arc::new(Function {
            events: Mutex::new(Vec::new()),
            behaviour: Box::new(behaviour),
        })
    }

    fn events(&self) -> Vec<Value> {
        self.events.lock().expect("not poisoned").clone()
    }

    /// The `n` attribute of each record of each call, call by call.
    fn calls(&self) -> Vec<Vec<i64>> {
        self.events()
            .iter()
            .map(|event| {
                event["Records"]
                    .as_array()
                    .expect("Records")
                    .iter()
                    .map(|record| {
                        record["dynamodb"]["NewImage"]["n"]["N"]
                            .as_str()
                            .and_then(|n| n.parse().ok())
                            .expect("n")
                    })
                    .collect()
            })
            .collect()
    }
}

struct Invoker(Arc<Function>);

impl Invoke for Invoker {
    fn invoke(
        &self,
        _: &FunctionRef,
        event: Bytes,
    ) -> BoxFuture<'static, Result<Bytes, InvokeError>> {
        let event: Value = serde_json::from_slice(&event).expect("events are JSON");
        let function = self.0.clone();
        Box::pin(async move {
            let calls = {
                let mut events = function.events.lock().expect("not poisoned");
                events.push(event.clone());
                events.len() - 1
            };
            (function.behaviour)(&event, calls).map(|value| Bytes::from(value.to_string()))
        })
    }

    fn http_target(&self, _: &FunctionRef) -> BoxFuture<'static, Result<HttpTarget, InvokeError>> {
        Box::pin(async { Err(InvokeError::Unavailable("not an HTTP function".to_owned())) })
    }
}

#[derive(Default)]
struct Destinations {
    sent: Mutex<Vec<(String, Value)>>,
}

impl FailureDestination for Destinations {
    fn send(
        &self,
        destination: &str,
        record: Value,
    ) -> BoxFuture<'static, Result<(), DestinationError>> {
        self.sent
            .lock()
            .expect("not poisoned")
            .push((destination.to_owned(), record));
        Box::pin(async { Ok(()) })
    }
}

struct Setup {
    store: Arc<Store>,
    checkpoints: Arc<MemoryCheckpoints>,
    destinations: Arc<Destinations>,
}

impl Setup {
    fn new() -> Setup {
        let store = Store::open(Arc::new(MemoryBackend::new()), StoreConfig::default())
            .expect("an empty store opens");
        let store = Arc::new(store);
        call(
            &store,
            "CreateTable",
            json!({
                "TableName": "events",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
                "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            }),
        );
        Setup {
            store,
            checkpoints: Arc::new(MemoryCheckpoints::default()),
            destinations: Arc::new(Destinations::default()),
        }
    }

    fn mappings(&self, function: &Arc<Function>) -> StreamMappings {
        StreamMappings::new(
            self.store.clone(),
            Arc::new(Invoker(function.clone())),
            self.checkpoints.clone(),
            self.destinations.clone(),
            StreamsSettings {
                retry_base: Duration::from_millis(10),
                retry_max: Duration::from_millis(50),
                idle_poll: Duration::from_secs(1),
            },
        )
    }

    fn put(&self, key: &str, n: i64) {
        call(
            &self.store,
            "PutItem",
            json!({"TableName": "events", "Item": {"pk": {"S": key}, "n": {"N": n.to_string()}}}),
        );
    }
}

fn call(store: &Store, operation: &str, request: Value) -> Value {
    let body = store
        .call_json(operation, request.to_string().as_bytes())
        .unwrap_or_else(|error| panic!("{operation} failed: {error}"));
    serde_json::from_slice(&body).expect("responses are JSON")
}

fn mapping(position: StartingPosition) -> Mapping {
    Mapping::new(
        "app/Projector/Stream",
        FunctionRef::new("app", "Projector"),
        "arn:aws:lambda:us-east-1:000000000000:function:app-Projector",
        "events",
        position,
    )
}

/// Waits until `done` holds, for at most five seconds.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn all_records(function: &Function) -> Vec<i64> {
    function.calls().concat()
}

#[tokio::test]
async fn records_arrive_in_order_in_aws_shape_within_milliseconds() {
    let setup = Setup::new();
    let function = Function::new(|_, _| Ok(Value::Null));
    let mappings = setup.mappings(&function);
    let mut mapping = mapping(StartingPosition::Latest);
    mapping.batch_size = 2;
    setup.put("before", 0);
    mappings.set_stack("app", 1, vec![mapping]).await;
    until("the LATEST checkpoint", || {
        setup
            .checkpoints
            .load("app/Projector/Stream")
            .expect("load")
            .is_some()
    })
    .await;
    let written = Instant::now();
    setup.put("a", 1);
    until("the first record", || !function.events().is_empty()).await;
    assert!(
        written.elapsed() < Duration::from_millis(500),
        "woken, not polled: {:?}",
        written.elapsed()
    );
    for n in 2..=5 {
        setup.put("a", n);
    }
    until("every record", || all_records(&function).len() == 5).await;
    assert_eq!(
        all_records(&function),
        vec![1, 2, 3, 4, 5],
        "LATEST skips the older record"
    );
    assert!(function.calls().iter().all(|batch| batch.len() <= 2));
    let record = &function.events()[0]["Records"][0];
    assert_eq!(record["eventName"], "INSERT");
    assert_eq!(record["eventVersion"], "1.1");
    assert_eq!(record["eventSource"], "aws:dynamodb");
    assert_eq!(record["awsRegion"], "us-east-1");
    assert!(record["eventSourceARN"]
        .as_str()
        .expect("ARN")
        .starts_with("arn:aws:dynamodb:us-east-1:000000000000:table/events/stream/"));
    assert_eq!(record["dynamodb"]["Keys"], json!({"pk": {"S": "a"}}));
    assert_eq!(record["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
    assert!(record["dynamodb"]["SequenceNumber"].is_string());
    assert!(record["dynamodb"]["SizeBytes"].is_number());
    assert!(record["dynamodb"]["ApproximateCreationDateTime"].is_number());
    let second = &function.events()[0]["Records"];
    assert!(second.as_array().expect("records").len() <= 2);
    mappings.shutdown().await;
}

#[tokio::test]
async fn a_failing_batch_blocks_its_shard_until_it_succeeds() {
    let setup = Setup::new();
    // Fails its first three calls, then works.
    let function = Function::new(|_, calls| {
        if calls < 3 {
            Err(InvokeError::FunctionError(Bytes::from_static(
                b"{\"errorMessage\":\"boom\"}",
            )))
        } else {
            Ok(Value::Null)
        }
    });
    for n in 1..=3 {
        setup.put("a", n);
    }
    let mappings = setup.mappings(&function);
    mappings
        .set_stack("app", 1, vec![mapping(StartingPosition::TrimHorizon)])
        .await;
    until("the batch to succeed", || function.calls().len() == 4).await;
    setup.put("a", 4);
    until("the next record", || function.calls().len() == 5).await;
    assert_eq!(
        function.calls(),
        vec![
            vec![1, 2, 3],
            vec![1, 2, 3],
            vec![1, 2, 3],
            vec![1, 2, 3],
            vec![4]
        ]
    );
    assert!(setup
        .destinations
        .sent
        .lock()
        .expect("not poisoned")
        .is_empty());
    mappings.shutdown().await;
}

#[tokio::test]
async fn bisection_isolates_a_bad_record_and_reports_it_when_retries_run_out() {
    let setup = Setup::new();
    let function = Function::new(|event, _| {
        let poisoned = event["Records"]
            .as_array()
            .expect("records")
            .iter()
            .any(|record| record["dynamodb"]["NewImage"]["n"]["N"] == "3");
        if poisoned {
            Err(InvokeError::FunctionError(Bytes::from_static(b"{}")))
        } else {
            Ok(Value::Null)
        }
    });
    for n in 1..=4 {
        setup.put(&format!("k{n}"), n);
    }
    let mut mapping = mapping(StartingPosition::TrimHorizon);
    mapping.bisect_batch_on_function_error = true;
    mapping.maximum_retry_attempts = Some(3);
    mapping.on_failure = Some("arn:aws:sqs:us-east-1:000000000000:failures".to_owned());
    let mappings = setup.mappings(&function);
    mappings.set_stack("app", 1, vec![mapping]).await;
    until("the failure record", || {
        !setup
            .destinations
            .sent
            .lock()
            .expect("not poisoned")
            .is_empty()
    })
    .await;
    setup.put("k5", 5);
    until("the shard to move on", || {
        all_records(&function).contains(&5)
    })
    .await;
    let calls = function.calls();
    // [1,2,3,4] fails; its halves [1,2] works and [3,4] fails; [3] fails until its
    // retries run out, [4] works.
    assert_eq!(calls[0], vec![1, 2, 3, 4]);
    assert_eq!(calls[1], vec![1, 2]);
    assert_eq!(calls[2], vec![3, 4]);
    assert!(
        calls[3..calls.len() - 2]
            .iter()
            .all(|batch| batch == &vec![3]),
        "{calls:?}"
    );
    assert_eq!(calls[calls.len() - 2..], [vec![4], vec![5]]);
    let sent = setup
        .destinations
        .sent
        .lock()
        .expect("not poisoned")
        .clone();
    assert_eq!(sent.len(), 1);
    let (destination, record) = &sent[0];
    assert_eq!(destination, "arn:aws:sqs:us-east-1:000000000000:failures");
    assert_eq!(
        record["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(
        record["requestContext"]["functionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:app-Projector"
    );
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
    assert_eq!(record["DDBStreamBatchInfo"]["batchSize"], 1);
    assert_eq!(record["version"], "1.0");
    mappings.shutdown().await;
}

#[tokio::test]
async fn reported_item_failures_resume_the_batch_from_the_first_failed_record() {
    let setup = Setup::new();
    let function = Function::new(|event, calls| {
        if calls == 0 {
            let second = event["Records"][1]["dynamodb"]["SequenceNumber"].clone();
            Ok(json!({"batchItemFailures": [{"itemIdentifier": second}]}))
        } else if calls == 1 {
            Ok(json!({"batchItemFailures": [{"itemIdentifier": "no such record"}]}))
        } else {
            Ok(json!({"batchItemFailures": []}))
        }
    });
    for n in 1..=3 {
        setup.put("a", n);
    }
    let mut mapping = mapping(StartingPosition::TrimHorizon);
    mapping.report_batch_item_failures = true;
    let mappings = setup.mappings(&function);
    mappings.set_stack("app", 1, vec![mapping]).await;
    until("three calls", || function.calls().len() == 3).await;
    // The malformed answer fails the whole (remaining) batch.
    assert_eq!(
        function.calls(),
        vec![vec![1, 2, 3], vec![2, 3], vec![2, 3]]
    );
    mappings.shutdown().await;
}

#[tokio::test]
async fn filters_drop_records_and_a_new_version_continues_from_the_checkpoint() {
    let setup = Setup::new();
    let function = Function::new(|_, _| Ok(Value::Null));
    let mut filtered = mapping(StartingPosition::TrimHorizon);
    filtered.filters = vec![EventPattern::parse(
        r#"{"dynamodb": {"NewImage": {"n": {"N": [{"anything-but": "2"}]}}}}"#,
    )
    .expect("a valid pattern")];
    let mappings = setup.mappings(&function);
    mappings.set_stack("app", 1, vec![filtered.clone()]).await;
    for n in 1..=3 {
        setup.put("a", n);
    }
    until("records 1 and 3", || all_records(&function) == vec![1, 3]).await;
    // The next version of the stack has the same mapping: nothing is delivered twice.
    let first = mappings.next_switch();
    let second = mappings.next_switch();
    mappings
        .set_stack("app", second, vec![filtered.clone()])
        .await;
    // An earlier switch applied late changes nothing.
    mappings.set_stack("app", first, Vec::new()).await;
    setup.put("a", 4);
    until("record 4", || all_records(&function) == vec![1, 3, 4]).await;
    mappings.shutdown().await;
    // A restart (new consumers over the same checkpoints) reads on after the checkpoint.
    setup.put("a", 5);
    let restarted = setup.mappings(&function);
    restarted.set_stack("app", 2, vec![filtered]).await;
    until("record 5", || all_records(&function) == vec![1, 3, 4, 5]).await;
    restarted.remove_stack("app", true).await;
    assert_eq!(
        setup
            .checkpoints
            .load("app/Projector/Stream")
            .expect("load"),
        None
    );
}

#[tokio::test]
async fn expired_records_go_to_the_destination_without_a_call() {
    let setup = Setup::new();
    let function = Function::new(|_, _| Ok(Value::Null));
    setup.put("a", 1);
    let mut mapping = mapping(StartingPosition::TrimHorizon);
    // Records are stamped with whole seconds: an age of zero expires every record.
    mapping.maximum_record_age = Some(Duration::ZERO);
    mapping.on_failure = Some("arn:aws:sns:us-east-1:000000000000:failures".to_owned());
    let mappings = setup.mappings(&function);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    mappings.set_stack("app", 1, vec![mapping]).await;
    until("the failure record", || {
        !setup
            .destinations
            .sent
            .lock()
            .expect("not poisoned")
            .is_empty()
    })
    .await;
    let sent = setup
        .destinations
        .sent
        .lock()
        .expect("not poisoned")
        .clone();
    assert_eq!(
        sent[0].1["requestContext"]["condition"],
        "RecordAgeExceeded"
    );
    assert_eq!(sent[0].1["requestContext"]["approximateInvokeCount"], 0);
    assert!(function.events().is_empty());
    mappings.shutdown().await;
}

#[tokio::test]
async fn parallel_lanes_keep_each_key_in_order() {
    let setup = Setup::new();
    let function = Function::new(|_, _| Ok(Value::Null));
    let mut mapping = mapping(StartingPosition::TrimHorizon);
    mapping.parallelization_factor = 4;
    mapping.batch_size = 3;
    for n in 0..40 {
        setup.put(&format!("k{}", n % 5), n);
    }
    let mappings = setup.mappings(&function);
    mappings.set_stack("app", 1, vec![mapping]).await;
    until("every record", || all_records(&function).len() == 40).await;
    let delivered = all_records(&function);
    for key in 0..5 {
        let of_key: Vec<i64> = delivered.iter().copied().filter(|n| n % 5 == key).collect();
        let mut sorted = of_key.clone();
        sorted.sort_unstable();
        assert_eq!(of_key, sorted, "key k{key} in order");
    }
    mappings.shutdown().await;
}
