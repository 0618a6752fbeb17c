//! The queue pollers against an in-memory queue with SQS's visibility semantics and a
//! function stand-in that records its events and fails on demand (issue 16).

mod memory_queue;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use serverful_eventbridge::EventPattern;
use serverful_invoke::{FunctionRef, HttpTarget, Invoke, InvokeError};
use serverful_sqs_mappings::{MessageAttributeValue, QueueMapping, QueueMappings, QueueSettings};

use memory_queue::MemoryQueues;

const QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:jobs";
const FIFO_QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:jobs.fifo";

type Behaviour = Box<dyn Fn(&Value, usize) -> Result<Value, InvokeError> + Send + Sync>;

/// A function that records every event it gets, takes `duration` to run, and answers as
/// `behaviour` says (given the event and how many calls came before).
struct Function {
    events: Mutex<Vec<Value>>,
    behaviour: Behaviour,
    duration: Duration,
    running: AtomicUsize,
    most_running: AtomicUsize,
}

impl Function {
    fn new(
        behaviour: impl Fn(&Value, usize) -> Result<Value, InvokeError> + Send + Sync + 'static,
    ) -> Arc<Function> {
        Function::slow(Duration::ZERO, behaviour)
    }

    fn slow(
        duration: Duration,
        behaviour: impl Fn(&Value, usize) -> Result<Value, InvokeError> + Send + Sync + 'static,
    ) -> Arc<Function> {
        Arc::new(Function {
            events: Mutex::new(Vec::new()),
            behaviour: Box::new(behaviour),
            duration,
            running: AtomicUsize::new(0),
            most_running: AtomicUsize::new(0),
        })
    }

    fn events(&self) -> Vec<Value> {
        self.events.lock().expect("not poisoned").clone()
    }

    fn calls(&self) -> usize {
        self.events.lock().expect("not poisoned").len()
    }

    /// The bodies of each call's records, call by call.
    fn bodies(&self) -> Vec<Vec<String>> {
        self.events().iter().map(bodies_of).collect()
    }
}

fn bodies_of(event: &Value) -> Vec<String> {
    event["Records"]
        .as_array()
        .expect("Records")
        .iter()
        .map(|record| record["body"].as_str().expect("body").to_owned())
        .collect()
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
            let running = function.running.fetch_add(1, Ordering::SeqCst) + 1;
            function.most_running.fetch_max(running, Ordering::SeqCst);
            let calls = {
                let mut events = function.events.lock().expect("not poisoned");
                events.push(event.clone());
                events.len() - 1
            };
            tokio::time::sleep(function.duration).await;
            let answer =
                (function.behaviour)(&event, calls).map(|value| Bytes::from(value.to_string()));
            function.running.fetch_sub(1, Ordering::SeqCst);
            answer
        })
    }

    fn http_target(&self, _: &FunctionRef) -> BoxFuture<'static, Result<HttpTarget, InvokeError>> {
        Box::pin(async { Err(InvokeError::Unavailable("not an HTTP function".to_owned())) })
    }
}

fn settings() -> QueueSettings {
    QueueSettings {
        default_concurrency: 5,
        long_poll: Duration::from_secs(20),
        retry_base: Duration::from_millis(50),
        retry_max: Duration::from_millis(200),
        missing_queue_poll: Duration::from_millis(20),
    }
}

fn setup(function: &Arc<Function>) -> (MemoryQueues, QueueMappings) {
    let queues = MemoryQueues::new();
    let mappings = QueueMappings::new(
        Arc::new(queues.clone()),
        Arc::new(Invoker(function.clone())),
        settings(),
    );
    (queues, mappings)
}

fn mapping(queue_arn: &str) -> QueueMapping {
    QueueMapping::new(
        "app/Worker/Jobs",
        FunctionRef::new("app", "Worker"),
        "arn:aws:lambda:eu-west-1:123456789012:function:app-Worker",
        queue_arn,
    )
}

/// Waits until `done` holds, for at most five seconds.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn ok(_: &Value, _: usize) -> Result<Value, InvokeError> {
    Ok(Value::Null)
}

fn failure() -> InvokeError {
    InvokeError::FunctionError(Bytes::from_static(
        br#"{"errorMessage":"boom","errorType":"Error"}"#,
    ))
}

#[tokio::test]
async fn messages_reach_the_function_in_aws_shape_within_milliseconds() {
    let function = Function::new(ok);
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_secs(30));
    mappings.set_stack("app", 1, vec![mapping(QUEUE)]).await;
    // The poller is parked in its long poll before the message arrives.
    until("the first long poll", || queues.receive_calls() > 0).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let sent_at = Instant::now();
    let id = queues.send_with(
        QUEUE,
        "{\"order\": 7}",
        None,
        BTreeMap::from([(
            "trace".to_owned(),
            MessageAttributeValue {
                data_type: "String".to_owned(),
                string_value: Some("abc".to_owned()),
                binary_value: None,
            },
        )]),
    );
    until("the call", || function.calls() == 1).await;
    // The long poll wakes on the send: well under a millisecond on an idle machine; the
    // bound leaves room for a loaded one.
    let latency = sent_at.elapsed();
    assert!(latency < Duration::from_millis(250), "took {latency:?}");
    until("the delete", || queues.bodies(QUEUE).is_empty()).await;

    let record = function.events()[0]["Records"][0].clone();
    let attributes = &record["attributes"];
    assert_eq!(attributes["ApproximateReceiveCount"], "1");
    for name in [
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ] {
        assert!(attributes[name].is_string(), "{name} in {attributes}");
    }
    assert_eq!(record["messageId"], id.as_str());
    assert_eq!(record["receiptHandle"], format!("{id}#1"));
    assert_eq!(record["body"], "{\"order\": 7}");
    assert_eq!(
        record["messageAttributes"],
        json!({"trace": {"stringValue": "abc", "stringListValues": [], "binaryListValues": [], "dataType": "String"}})
    );
    assert!(record["md5OfBody"].is_string());
    assert!(record["md5OfMessageAttributes"].is_string());
    assert_eq!(record["eventSource"], "aws:sqs");
    assert_eq!(record["eventSourceARN"], QUEUE);
    assert_eq!(record["awsRegion"], "eu-west-1");
    mappings.shutdown().await;
}

#[tokio::test]
async fn a_failed_batch_reappears_after_the_visibility_timeout_and_is_never_deleted_unprocessed() {
    let function = Function::new(|_, calls| {
        if calls < 2 {
            Err(failure())
        } else {
            Ok(Value::Null)
        }
    });
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_millis(200));
    queues.send(QUEUE, "a");
    queues.send(QUEUE, "b");
    let started = Instant::now();
    mappings.set_stack("app", 1, vec![mapping(QUEUE)]).await;
    until("the first call", || function.calls() == 1).await;
    // Failed: both messages stay, hidden until their visibility timeout ends.
    assert_eq!(queues.bodies(QUEUE), ["a", "b"]);
    until("the third call", || function.calls() == 3).await;
    assert!(started.elapsed() >= Duration::from_millis(400));
    until("the delete", || queues.bodies(QUEUE).is_empty()).await;
    assert_eq!(function.bodies(), [["a", "b"], ["a", "b"], ["a", "b"]]);
    let counts: Vec<Value> = function
        .events()
        .iter()
        .map(|event| event["Records"][0]["attributes"]["ApproximateReceiveCount"].clone())
        .collect();
    assert_eq!(counts, ["1", "2", "3"]);
    mappings.shutdown().await;
}

#[tokio::test]
async fn a_failing_function_makes_the_mapping_back_off() {
    let function = Function::new(|_, _| Err(failure()));
    let (queues, mappings) = setup(&function);
    // With no visibility timeout, the message is back at once after each failure.
    queues.create(QUEUE, false, Duration::ZERO);
    queues.send(QUEUE, "poison");
    mappings.set_stack("app", 1, vec![mapping(QUEUE)]).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    mappings.shutdown().await;
    // Five slots, each held 50, 100, 200, 200... ms after a failure: a few dozen calls
    // at most, not the thousands of a spinning poller.
    let calls = function.calls();
    assert!((3..40).contains(&calls), "{calls} calls");
    assert_eq!(queues.bodies(QUEUE), ["poison"]);
}

#[tokio::test]
async fn timeouts_leave_the_messages_too() {
    let function = Function::new(|_, _| Err(InvokeError::Timeout));
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_millis(100));
    queues.send(QUEUE, "a");
    mappings.set_stack("app", 1, vec![mapping(QUEUE)]).await;
    until("three attempts", || function.calls() >= 3).await;
    mappings.shutdown().await;
    assert_eq!(queues.bodies(QUEUE), ["a"]);
    assert!(queues.receive_counts(QUEUE)["a"] >= 3);
}

#[tokio::test]
async fn partial_batch_responses_delete_all_but_the_failed_messages() {
    let function = Function::new(|event, calls| {
        let records = event["Records"].as_array().expect("Records");
        if calls == 0 {
            Ok(json!({"batchItemFailures": [{"itemIdentifier": records[1]["messageId"]}]}))
        } else {
            Ok(json!({"batchItemFailures": []}))
        }
    });
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_millis(100));
    for body in ["a", "b", "c"] {
        queues.send(QUEUE, body);
    }
    let mut mapping = mapping(QUEUE);
    mapping.report_batch_item_failures = true;
    mappings.set_stack("app", 1, vec![mapping]).await;
    until("the first call", || function.calls() == 1).await;
    until("the others' delete", || queues.bodies(QUEUE) == ["b"]).await;
    until("the retry", || function.calls() == 2).await;
    until("the delete", || queues.bodies(QUEUE).is_empty()).await;
    assert_eq!(function.bodies(), [vec!["a", "b", "c"], vec!["b"]]);
    mappings.shutdown().await;
}

#[tokio::test]
async fn malformed_partial_batch_responses_fail_the_whole_batch() {
    let function = Function::new(|_, calls| {
        if calls == 0 {
            Ok(json!({"batchItemFailures": [{"itemIdentifier": "not-a-message-of-the-batch"}]}))
        } else {
            Ok(json!({}))
        }
    });
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_millis(100));
    for body in ["a", "b", "c"] {
        queues.send(QUEUE, body);
    }
    let mut mapping = mapping(QUEUE);
    mapping.report_batch_item_failures = true;
    mappings.set_stack("app", 1, vec![mapping]).await;
    until("the delete", || queues.bodies(QUEUE).is_empty()).await;
    assert_eq!(function.bodies(), [["a", "b", "c"], ["a", "b", "c"]]);
    mappings.shutdown().await;
}

#[tokio::test]
async fn without_report_batch_item_failures_a_response_is_success() {
    let function = Function::new(|event, _| {
        Ok(json!({"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}))
    });
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_millis(100));
    queues.send(QUEUE, "a");
    mappings.set_stack("app", 1, vec![mapping(QUEUE)]).await;
    until("the delete", || queues.bodies(QUEUE).is_empty()).await;
    assert_eq!(function.calls(), 1);
    mappings.shutdown().await;
}

#[tokio::test]
async fn messages_no_filter_matches_are_deleted_without_a_call() {
    let function = Function::new(ok);
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_secs(30));
    for body in [
        r#"{"kind": "order", "total": 12}"#,
        r#"{"kind": "refund"}"#,
        "ping",
        "pong",
        r#"{"kind": "order", "total": 3}"#,
    ] {
        queues.send(QUEUE, body);
    }
    let mut mapping = mapping(QUEUE);
    let patterns = [
        r#"{"body": {"kind": ["order"], "total": [{"numeric": [">", 10]}]}}"#,
        r#"{"body": ["ping"]}"#,
    ];
    mapping.filter_patterns = patterns.iter().map(|text| text.to_string()).collect();
    mapping.filters = patterns
        .iter()
        .map(|text| EventPattern::parse(text).expect("a valid pattern"))
        .collect();
    mappings.set_stack("app", 1, vec![mapping]).await;
    until("every message deleted", || queues.bodies(QUEUE).is_empty()).await;
    until("the call", || function.calls() == 1).await;
    assert_eq!(
        function.bodies(),
        [[r#"{"kind": "order", "total": 12}"#, "ping"]]
    );
    // Nothing is left for a later call.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(function.calls(), 1);
    mappings.shutdown().await;
}

#[tokio::test]
async fn a_batching_window_gathers_messages_up_to_the_batch_size() {
    let function = Function::new(ok);
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_secs(30));
    let mut mapping = mapping(QUEUE);
    mapping.batch_size = 25;
    mapping.batching_window = Duration::from_millis(300);
    mappings.set_stack("app", 1, vec![mapping]).await;
    until("the first long poll", || queues.receive_calls() > 0).await;
    let started = Instant::now();
    for n in 0..10 {
        queues.send(QUEUE, &n.to_string());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for n in 10..30 {
        queues.send(QUEUE, &n.to_string());
    }
    until("two calls", || function.calls() == 2).await;
    let sizes: Vec<usize> = function.bodies().iter().map(Vec::len).collect();
    // The first batch filled up before its window ended; the rest waited for theirs.
    assert_eq!(sizes, [25, 5]);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let all: Vec<String> = function.bodies().concat();
    let expected: Vec<String> = (0..30).map(|n| n.to_string()).collect();
    assert_eq!(all, expected);
    mappings.shutdown().await;
}

#[tokio::test]
async fn without_a_window_a_batch_is_what_one_receive_returns() {
    let function = Function::new(ok);
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_secs(30));
    for n in 0..7 {
        queues.send(QUEUE, &n.to_string());
    }
    let mut mapping = mapping(QUEUE);
    mapping.batch_size = 3;
    mapping.maximum_concurrency = Some(2);
    mappings.set_stack("app", 1, vec![mapping]).await;
    until("every message deleted", || queues.bodies(QUEUE).is_empty()).await;
    let mut sizes: Vec<usize> = function.bodies().iter().map(Vec::len).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [1, 3, 3]);
    mappings.shutdown().await;
}

#[tokio::test]
async fn batches_stop_growing_before_six_megabytes() {
    let function = Function::new(ok);
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_secs(30));
    let big = "x".repeat(2_500_000);
    for n in 0..3 {
        queues.send(QUEUE, &format!("{n}{big}"));
    }
    let mut mapping = mapping(QUEUE);
    mapping.batching_window = Duration::from_millis(100);
    mapping.maximum_concurrency = Some(2);
    mappings.set_stack("app", 1, vec![mapping]).await;
    until("every message deleted", || queues.bodies(QUEUE).is_empty()).await;
    let batches: Vec<Vec<char>> = function
        .bodies()
        .iter()
        .map(|bodies| {
            bodies
                .iter()
                .map(|body| body.chars().next().expect("a body"))
                .collect()
        })
        .collect();
    assert_eq!(batches, [vec!['0', '1'], vec!['2']]);
    mappings.shutdown().await;
}

#[tokio::test]
async fn batches_run_up_to_the_maximum_concurrency() {
    for (maximum, expected) in [(Some(3), 3), (None, 5)] {
        let function = Function::slow(Duration::from_millis(100), ok);
        let (queues, mappings) = setup(&function);
        queues.create(QUEUE, false, Duration::from_secs(30));
        for n in 0..20 {
            queues.send(QUEUE, &n.to_string());
        }
        let mut mapping = mapping(QUEUE);
        mapping.batch_size = 1;
        mapping.maximum_concurrency = maximum;
        mappings.set_stack("app", 1, vec![mapping]).await;
        until("every message deleted", || queues.bodies(QUEUE).is_empty()).await;
        assert_eq!(function.calls(), 20);
        assert_eq!(
            function.most_running.load(Ordering::SeqCst),
            expected,
            "{maximum:?}"
        );
        mappings.shutdown().await;
    }
}

#[tokio::test]
async fn fifo_groups_stay_in_order_when_an_item_fails() {
    // On its first delivery, a2 fails; a3 comes after it in its group, so it stays too.
    let function = Function::new(|event, calls| {
        let failed: Vec<Value> = event["Records"]
            .as_array()
            .expect("Records")
            .iter()
            .filter(|record| calls == 0 && record["body"] == "a2")
            .map(|record| json!({"itemIdentifier": record["messageId"]}))
            .collect();
        Ok(json!({ "batchItemFailures": failed }))
    });
    let (queues, mappings) = setup(&function);
    queues.create(FIFO_QUEUE, true, Duration::from_millis(150));
    for body in ["a1", "b1", "a2", "b2", "a3", "b3"] {
        let group = &body[..1];
        queues.send_with(FIFO_QUEUE, body, Some(group), BTreeMap::new());
    }
    let mut mapping = mapping(FIFO_QUEUE);
    mapping.report_batch_item_failures = true;
    mappings.set_stack("app", 1, vec![mapping]).await;
    until("the first call", || function.calls() == 1).await;
    until("the first settling", || {
        queues.bodies(FIFO_QUEUE) == ["a2", "a3"]
    })
    .await;
    until("every message deleted", || {
        queues.bodies(FIFO_QUEUE).is_empty()
    })
    .await;
    assert_eq!(
        function.bodies(),
        [vec!["a1", "b1", "a2", "b2", "a3", "b3"], vec!["a2", "a3"]]
    );
    let record = &function.events()[1]["Records"][0];
    assert_eq!(record["attributes"]["MessageGroupId"], "a");
    assert!(record["attributes"]["SequenceNumber"].is_string());
    assert!(record["attributes"]["MessageDeduplicationId"].is_string());
    mappings.shutdown().await;
}

#[tokio::test]
async fn a_throttled_function_gets_its_messages_back_soon() {
    let function = Function::new(|_, calls| match calls {
        0 => Err(InvokeError::Throttled),
        1 => Err(InvokeError::Unavailable(
            "the function cannot start".to_owned(),
        )),
        _ => Ok(Value::Null),
    });
    let (queues, mappings) = setup(&function);
    // A failure would hide the message for a minute; a throttle only for the retry delay.
    queues.create(QUEUE, false, Duration::from_secs(60));
    queues.send(QUEUE, "a");
    let started = Instant::now();
    mappings.set_stack("app", 1, vec![mapping(QUEUE)]).await;
    until("the delete", || queues.bodies(QUEUE).is_empty()).await;
    assert_eq!(function.calls(), 3);
    let took = started.elapsed();
    // 50 ms, then 100 ms.
    assert!(took >= Duration::from_millis(150), "took {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    mappings.shutdown().await;
}

#[tokio::test]
async fn an_idle_mapping_parks_in_one_long_poll() {
    let function = Function::new(ok);
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_secs(30));
    mappings.set_stack("app", 1, vec![mapping(QUEUE)]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // One receive, parked; the fake counts each look at the queue, and nothing woke it.
    assert_eq!(queues.receive_calls(), 1);
    mappings.shutdown().await;
}

#[tokio::test]
async fn a_mapping_waits_for_its_queue() {
    let function = Function::new(ok);
    let (queues, mappings) = setup(&function);
    mappings.set_stack("app", 1, vec![mapping(QUEUE)]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(queues.receive_calls(), 0);
    queues.create(QUEUE, false, Duration::from_secs(30));
    queues.send(QUEUE, "late");
    until("the call", || function.calls() == 1).await;
    until("the delete", || queues.bodies(QUEUE).is_empty()).await;
    mappings.shutdown().await;
}

#[tokio::test]
async fn a_mapping_whose_queue_goes_waits_for_it_again() {
    let function = Function::new(ok);
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_secs(30));
    mappings.set_stack("app", 1, vec![mapping(QUEUE)]).await;
    queues.send(QUEUE, "before");
    until("the first call", || function.calls() == 1).await;
    queues.delete_queue(QUEUE);
    tokio::time::sleep(Duration::from_millis(100)).await;
    queues.create(QUEUE, false, Duration::from_secs(30));
    queues.send(QUEUE, "after");
    until("the second call", || function.calls() == 2).await;
    assert_eq!(function.bodies(), [["before"], ["after"]]);
    mappings.shutdown().await;
}

#[tokio::test]
async fn stopping_lets_the_batch_under_way_finish() {
    let function = Function::slow(Duration::from_millis(300), ok);
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_secs(30));
    queues.send(QUEUE, "first");
    mappings.set_stack("app", 1, vec![mapping(QUEUE)]).await;
    until("the call", || function.calls() == 1).await;
    let stopping = Instant::now();
    mappings.shutdown().await;
    assert!(stopping.elapsed() >= Duration::from_millis(200));
    assert!(queues.bodies(QUEUE).is_empty());
    // Nothing polls any more.
    queues.send(QUEUE, "second");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(function.calls(), 1);
    assert_eq!(queues.receive_counts(QUEUE)["second"], 0);
}

#[tokio::test]
async fn stopping_while_gathering_makes_the_messages_visible_again() {
    let function = Function::new(ok);
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_secs(30));
    let mut first = mapping(QUEUE);
    first.batch_size = 100;
    first.batching_window = Duration::from_secs(60);
    mappings.set_stack("app", 1, vec![first]).await;
    for body in ["a", "b", "c"] {
        queues.send(QUEUE, body);
    }
    until("the messages in flight", || queues.visible(QUEUE) == 0).await;
    // The next deploy's mapping takes them at once, not after the visibility timeout.
    let switch = mappings.next_switch();
    let started = Instant::now();
    mappings
        .set_stack("app", switch, vec![mapping(QUEUE)])
        .await;
    until("the delete", || queues.bodies(QUEUE).is_empty()).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(function.bodies(), [["a", "b", "c"]]);
    mappings.shutdown().await;
}

#[tokio::test]
async fn disabled_mappings_receive_nothing_and_are_listed() {
    let function = Function::new(ok);
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_secs(30));
    queues.send(QUEUE, "a");
    let mut mapping = mapping(QUEUE);
    mapping.enabled = false;
    mappings.set_stack("app", 1, vec![mapping]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(queues.receive_calls(), 0);
    let listed = mappings.list().await;
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].enabled);
    assert_eq!(
        listed[0].uuid,
        QueueMapping::new(
            "app/Worker/Jobs",
            FunctionRef::new("app", "Worker"),
            "",
            QUEUE
        )
        .uuid
    );
    mappings.remove_stack("app").await;
    assert!(mappings.list().await.is_empty());
}

#[tokio::test]
async fn a_late_switch_changes_nothing() {
    let function = Function::new(ok);
    let (queues, mappings) = setup(&function);
    queues.create(QUEUE, false, Duration::from_secs(30));
    let older = mappings.next_switch();
    let newer = mappings.next_switch();
    let mut current = mapping(QUEUE);
    current.batch_size = 7;
    mappings.set_stack("app", newer, vec![current]).await;
    mappings.set_stack("app", older, Vec::new()).await;
    let listed = mappings.list().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].batch_size, 7);
    queues.send(QUEUE, "a");
    until("the delete", || queues.bodies(QUEUE).is_empty()).await;
    mappings.shutdown().await;
}
