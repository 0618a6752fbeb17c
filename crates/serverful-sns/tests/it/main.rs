//! The SNS engine end to end within the crate: `Topics` over `SqliteTopics`, its worker
//! delivering through a recording `Deliveries` (what the platform implements for queues
//! and functions): SQS envelopes and raw messages, FIFO order with group and
//! deduplication ids, the Lambda event, and the dead-letter queue after the last retry.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde_json::Value;
use serverful_sns::backend::TopicBackend as _;
use serverful_sns::message::{AttributeValue, MessageAttribute, MessageAttributes};
use serverful_sns::{
    Deliveries, PublishInput, QueueMessage, Signer, SqliteTopics, Topics, TopicsConfig,
};

/// What the worker handed over.
#[derive(Default)]
struct Recorder {
    queued: Mutex<Vec<(String, QueueMessage)>>,
    invoked: Mutex<Vec<(String, String)>>,
}

impl Deliveries for Recorder {
    fn to_queue(
        &self,
        queue_arn: &str,
        message: QueueMessage,
    ) -> BoxFuture<'static, Result<(), String>> {
        self.queued
            .lock()
            .expect("lock")
            .push((queue_arn.to_owned(), message));
        Box::pin(async { Ok(()) })
    }

    fn to_function(
        &self,
        function_arn: &str,
        event: String,
    ) -> BoxFuture<'static, Result<(), String>> {
        self.invoked
            .lock()
            .expect("lock")
            .push((function_arn.to_owned(), event));
        Box::pin(async { Ok(()) })
    }
}

struct Fixture {
    topics: Arc<Topics>,
    backend: Arc<SqliteTopics>,
    recorder: Arc<Recorder>,
    _folder: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let folder = tempfile::tempdir().expect("temporary folder");
    let backend = Arc::new(SqliteTopics::open(&folder.path().join("topics.sqlite")).expect("open"));
    let signer = Signer::load_or_generate(&folder.path().join("sns")).expect("signer");
    let topics = Topics::new(
        backend.clone(),
        signer,
        TopicsConfig {
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            endpoint_url: "http://127.0.0.1:4566".to_owned(),
            // One policy second lasts a millisecond.
            retry_unit: Duration::from_millis(1),
        },
    );
    let recorder = Arc::new(Recorder::default());
    topics.start(recorder.clone());
    Fixture {
        topics,
        backend,
        recorder,
        _folder: folder,
    }
}

fn string_attribute(value: &str) -> MessageAttribute {
    MessageAttribute {
        data_type: "String".to_owned(),
        value: AttributeValue::String(value.to_owned()),
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until no delivery is queued: each leaves once its outcome is recorded, just
/// after the subscriber got it.
async fn wait_until_delivered(topics: &Topics) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while topics.queued_deliveries().await.expect("count") != 0 {
        assert!(Instant::now() < deadline, "a delivery stays queued");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn attributes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_subscribers_get_the_envelope_or_the_raw_message() {
    let fixture = fixture();
    let topic = fixture
        .topics
        .create_topic("orders", BTreeMap::new(), BTreeMap::new())
        .await
        .expect("topic");
    let enveloped = "arn:aws:sqs:us-east-1:123456789012:enveloped";
    let raw = "arn:aws:sqs:us-east-1:123456789012:raw";
    let enveloped_subscription = fixture
        .topics
        .subscribe(&topic, "sqs", enveloped, BTreeMap::new(), false)
        .await
        .expect("subscribe");
    fixture
        .topics
        .subscribe(
            &topic,
            "sqs",
            raw,
            attributes(&[("RawMessageDelivery", "true")]),
            false,
        )
        .await
        .expect("subscribe");
    let mut message_attributes = MessageAttributes::new();
    message_attributes.insert("kind".to_owned(), string_attribute("order"));
    let published = fixture
        .topics
        .publish(PublishInput {
            topic_arn: topic.clone(),
            message: "hello".to_owned(),
            subject: Some("Greeting".to_owned()),
            attributes: message_attributes.clone(),
            ..PublishInput::default()
        })
        .await
        .expect("publish");
    wait_until("both queues", || {
        fixture.recorder.queued.lock().expect("lock").len() == 2
    })
    .await;
    let queued = fixture.recorder.queued.lock().expect("lock").clone();
    let (_, envelope) = queued
        .iter()
        .find(|(arn, _)| arn == enveloped)
        .expect("the enveloped queue got it");
    let body: Value = serde_json::from_str(&envelope.body).expect("JSON envelope");
    assert_eq!(body["Type"], "Notification");
    assert_eq!(body["MessageId"], published.message_id.as_str());
    assert_eq!(body["TopicArn"], topic.as_str());
    assert_eq!(body["Subject"], "Greeting");
    assert_eq!(body["Message"], "hello");
    assert_eq!(body["SignatureVersion"], "1");
    assert!(body["Signature"]
        .as_str()
        .is_some_and(|text| !text.is_empty()));
    assert!(body["UnsubscribeURL"]
        .as_str()
        .is_some_and(|url| url.ends_with(&enveloped_subscription)));
    assert_eq!(
        body["MessageAttributes"]["kind"],
        serde_json::json!({"Type": "String", "Value": "order"})
    );
    assert!(envelope.attributes.is_empty());
    let (_, raw_message) = queued
        .iter()
        .find(|(arn, _)| arn == raw)
        .expect("the raw queue got it");
    assert_eq!(raw_message.body, "hello");
    assert_eq!(raw_message.attributes, message_attributes);
    wait_until_delivered(&fixture.topics).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_topics_deliver_each_group_in_order_with_its_ids() {
    let fixture = fixture();
    let topic = fixture
        .topics
        .create_topic(
            "jobs.fifo",
            attributes(&[("FifoTopic", "true")]),
            BTreeMap::new(),
        )
        .await
        .expect("topic");
    let queue = "arn:aws:sqs:us-east-1:123456789012:jobs.fifo";
    fixture
        .topics
        .subscribe(&topic, "sqs", queue, BTreeMap::new(), false)
        .await
        .expect("subscribe");
    let mut numbers = Vec::new();
    for index in 0..20 {
        let output = fixture
            .topics
            .publish(PublishInput {
                topic_arn: topic.clone(),
                message: format!("job {index}"),
                group_id: Some("group".to_owned()),
                deduplication_id: Some(format!("dedup-{index}")),
                ..PublishInput::default()
            })
            .await
            .expect("publish");
        numbers.push(output.sequence_number.expect("a sequence number"));
    }
    wait_until("twenty messages", || {
        fixture.recorder.queued.lock().expect("lock").len() == 20
    })
    .await;
    let queued = fixture.recorder.queued.lock().expect("lock").clone();
    for (index, (_, message)) in queued.iter().enumerate() {
        let body: Value = serde_json::from_str(&message.body).expect("JSON envelope");
        assert_eq!(body["Message"], format!("job {index}"), "in publish order");
        assert_eq!(body["SequenceNumber"], numbers[index].as_str());
        assert_eq!(message.group_id.as_deref(), Some("group"));
        assert_eq!(
            message.deduplication_id.as_deref(),
            Some(format!("dedup-{index}").as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_subscribers_get_the_records_event() {
    let fixture = fixture();
    let topic = fixture
        .topics
        .create_topic("notices", BTreeMap::new(), BTreeMap::new())
        .await
        .expect("topic");
    let function = "arn:aws:lambda:us-east-1:123456789012:function:notify:live";
    let subscription = fixture
        .topics
        .subscribe(&topic, "lambda", function, BTreeMap::new(), false)
        .await
        .expect("subscribe");
    let published = fixture
        .topics
        .publish(PublishInput {
            topic_arn: topic.clone(),
            message: r#"{"default": "d", "lambda": "for lambda"}"#.to_owned(),
            message_structure: Some("json".to_owned()),
            ..PublishInput::default()
        })
        .await
        .expect("publish");
    wait_until("the invocation", || {
        !fixture.recorder.invoked.lock().expect("lock").is_empty()
    })
    .await;
    let (arn, event) = fixture.recorder.invoked.lock().expect("lock")[0].clone();
    assert_eq!(arn, function, "the qualifier is kept");
    let event: Value = serde_json::from_str(&event).expect("JSON event");
    let record = &event["Records"][0];
    assert_eq!(record["EventSource"], "aws:sns");
    assert_eq!(record["EventSubscriptionArn"], subscription.as_str());
    assert_eq!(record["Sns"]["MessageId"], published.message_id.as_str());
    assert_eq!(record["Sns"]["Message"], "for lambda");
    assert_eq!(record["Sns"]["Subject"], Value::Null);
    assert_eq!(record["Sns"]["MessageAttributes"], serde_json::json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_http_deliveries_go_to_the_dead_letter_queue() {
    let fixture = fixture();
    let topic = fixture
        .topics
        .create_topic("alerts", BTreeMap::new(), BTreeMap::new())
        .await
        .expect("topic");
    // Nothing listens on port 9 of loopback: every attempt is refused.
    let subscription = fixture
        .topics
        .subscribe(
            &topic,
            "http",
            "http://127.0.0.1:9/hook",
            attributes(&[
                (
                    "DeliveryPolicy",
                    r#"{"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 1, "maxDelayTarget": 1}}"#,
                ),
                (
                    "RedrivePolicy",
                    r#"{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:alerts-dlq"}"#,
                ),
            ]),
            true,
        )
        .await
        .expect("subscribe");
    let token = fixture
        .backend
        .subscription(&subscription)
        .expect("read")
        .and_then(|record| record.pending_token)
        .expect("pending with a token");
    let attributes = fixture
        .topics
        .subscription_attributes(&subscription)
        .await
        .expect("attributes");
    assert_eq!(attributes["PendingConfirmation"], "true");
    let confirmed = fixture
        .topics
        .confirm_subscription(&topic, &token)
        .await
        .expect("confirm");
    assert_eq!(confirmed, subscription);
    let published = fixture
        .topics
        .publish(PublishInput {
            topic_arn: topic.clone(),
            message: "disk full".to_owned(),
            ..PublishInput::default()
        })
        .await
        .expect("publish");
    wait_until("the dead-letter queue", || {
        !fixture.recorder.queued.lock().expect("lock").is_empty()
    })
    .await;
    let (queue, message) = fixture.recorder.queued.lock().expect("lock")[0].clone();
    assert_eq!(queue, "arn:aws:sqs:us-east-1:123456789012:alerts-dlq");
    let body: Value = serde_json::from_str(&message.body).expect("JSON envelope");
    assert_eq!(body["MessageId"], published.message_id.as_str());
    assert_eq!(body["Message"], "disk full");
    wait_until_delivered(&fixture.topics).await;
}
