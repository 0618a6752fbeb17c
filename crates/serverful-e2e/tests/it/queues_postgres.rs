//! SQS's queues on PostgreSQL (issue 22, cluster mode) against a scratch PostgreSQL: the
//! engine over `PostgresQueues` keeps SQS's semantics (receipts, visibility, receive
//! counts, FIFO groups and deduplication, redrive, moves, peek, counts, purge); two
//! "nodes" (engines with pools of their own) see each other's queues; concurrent
//! receivers on both take every message exactly once while its visibility holds, and a
//! FIFO group stays in order across them. The e2e with two `serve` nodes and boto3 is
//! the last test.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use serverful_e2e::postgres::Postgres;
use serverful_postgres::sqs::PostgresQueues;
use serverful_sqs::{
    QueueBackend, Queues, QueuesConfig, ReceiveOptions, ReceivedMessage, SendMessage, SqsError,
};

fn config() -> QueuesConfig {
    QueuesConfig {
        region: "us-east-1".to_owned(),
        account_id: "123456789012".to_owned(),
        endpoint_url: "http://127.0.0.1:4566".to_owned(),
    }
}

/// One node's engine over the database at `url`, with a pool of its own.
fn node(url: &str) -> Arc<Queues> {
    let backend = PostgresQueues::open(url, 4).expect("open the queues in PostgreSQL");
    Arc::new(Queues::open(Arc::new(backend), config()).expect("engine"))
}

fn attributes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

fn receive(queues: &Queues, name: &str, max: u32, visibility: u32) -> Vec<ReceivedMessage> {
    queues
        .receive_now(
            name,
            &ReceiveOptions {
                max_messages: Some(max),
                visibility_timeout: Some(visibility),
                attribute_names: vec!["All".to_owned()],
                message_attribute_names: vec!["All".to_owned()],
                ..ReceiveOptions::default()
            },
        )
        .expect("receive")
}

fn bodies(messages: &[ReceivedMessage]) -> Vec<&str> {
    messages
        .iter()
        .map(|message| message.body.as_str())
        .collect()
}

fn fifo_message(body: &str, group: &str) -> SendMessage {
    SendMessage {
        group_id: Some(group.to_owned()),
        ..SendMessage::body(body)
    }
}

fn count(queues: &Queues, name: &str, attribute: &str) -> String {
    queues
        .get_attributes(name, &[attribute.to_owned()])
        .expect("attributes")[attribute]
        .clone()
}

#[test]
fn standard_queues_keep_receipts_visibility_counts_and_attributes() {
    let postgres = Postgres::start();
    let queues = node(&postgres.url());
    queues
        .create_queue("q", &BTreeMap::new(), &attributes(&[("team", "a")]))
        .expect("create");
    // Two nodes opening the same database share one schema.
    let _again = node(&postgres.url());
    assert_eq!(
        postgres.psql("SELECT version FROM serverful_schema WHERE component = 'sqs'"),
        "1"
    );

    let mut with_attribute = SendMessage::body("first");
    with_attribute.attributes.insert(
        "kind".to_owned(),
        serverful_sqs::MessageAttributeValue {
            data_type: "Binary".to_owned(),
            string_value: None,
            binary_value: Some(vec![0, 1, 2, 255]),
        },
    );
    let sent = queues.send("q", with_attribute, "me").expect("send");
    queues
        .send(
            "q",
            SendMessage {
                delay_seconds: Some(60),
                ..SendMessage::body("delayed")
            },
            "me",
        )
        .expect("send delayed");
    assert_eq!(count(&queues, "q", "ApproximateNumberOfMessages"), "1");
    assert_eq!(
        count(&queues, "q", "ApproximateNumberOfMessagesDelayed"),
        "1"
    );

    let got = receive(&queues, "q", 10, 1);
    assert_eq!(bodies(&got), ["first"]);
    assert_eq!(got[0].message_id, sent.message_id);
    assert_eq!(got[0].attributes["ApproximateReceiveCount"], "1");
    assert_eq!(got[0].attributes["SenderId"], "me");
    assert_eq!(
        got[0].message_attributes["kind"].binary_value,
        Some(vec![0, 1, 2, 255])
    );
    assert_eq!(got[0].md5_of_body, sent.md5_of_body);
    // In flight: not received again, counted as not visible.
    assert!(receive(&queues, "q", 10, 1).is_empty());
    assert_eq!(
        count(&queues, "q", "ApproximateNumberOfMessagesNotVisible"),
        "1"
    );
    // Its visibility timeout passes: received again, with a new receipt; the old one
    // deletes nothing, and a visibility change by it is refused.
    std::thread::sleep(Duration::from_millis(1100));
    let again = receive(&queues, "q", 10, 30);
    assert_eq!(bodies(&again), ["first"]);
    assert_eq!(again[0].attributes["ApproximateReceiveCount"], "2");
    assert_eq!(
        again[0].attributes["ApproximateFirstReceiveTimestamp"],
        got[0].attributes["ApproximateFirstReceiveTimestamp"]
    );
    assert_ne!(again[0].receipt_handle, got[0].receipt_handle);
    queues
        .delete_message("q", &got[0].receipt_handle)
        .expect("a stale receipt's delete succeeds");
    assert!(matches!(
        queues.change_visibility("q", &got[0].receipt_handle, 0),
        Err(SqsError::InvalidParameterValue(_))
    ));
    // The latest receipt makes it visible at once, then deletes it.
    queues
        .change_visibility("q", &again[0].receipt_handle, 0)
        .expect("change visibility");
    let third = receive(&queues, "q", 10, 30);
    assert_eq!(bodies(&third), ["first"]);
    queues
        .delete_message("q", &third[0].receipt_handle)
        .expect("delete");
    assert!(matches!(
        queues.change_visibility("q", &third[0].receipt_handle, 10),
        Err(SqsError::InvalidParameterValue(_))
    ));
    assert_eq!(count(&queues, "q", "ApproximateNumberOfMessages"), "0");

    // Peek reads without receiving; purge drops everything.
    let peeked = queues.peek("q", 10).expect("peek");
    assert_eq!(peeked.len(), 1);
    assert_eq!(peeked[0].body, "delayed");
    assert_eq!(peeked[0].receive_count, 0);
    assert_eq!(queues.purge("q").expect("purge"), 1);
    assert!(queues.peek("q", 10).expect("peek").is_empty());

    // Attributes and tags are stored: a node opened now reads them.
    queues
        .set_attributes("q", &attributes(&[("VisibilityTimeout", "45")]))
        .expect("set attributes");
    let other = node(&postgres.url());
    assert_eq!(
        other
            .get_attributes("q", &["VisibilityTimeout".to_owned()])
            .expect("attributes")["VisibilityTimeout"],
        "45"
    );
    assert_eq!(other.tags("q").expect("tags"), attributes(&[("team", "a")]));

    // A deleted queue takes its messages with it.
    queues
        .send("q", SendMessage::body("gone"), "me")
        .expect("send");
    queues.delete_queue("q").expect("delete queue");
    assert_eq!(postgres.psql("SELECT count(*) FROM sqs_messages"), "0");
    assert_eq!(
        queues.send("q", SendMessage::body("x"), "me"),
        Err(SqsError::QueueDoesNotExist)
    );
}

#[test]
fn fifo_groups_deduplication_redrive_and_moves() {
    let postgres = Postgres::start();
    let queues = node(&postgres.url());
    queues
        .create_queue(
            "dead.fifo",
            &attributes(&[("FifoQueue", "true")]),
            &BTreeMap::new(),
        )
        .expect("create the dead-letter queue");
    queues
        .create_queue(
            "q.fifo",
            &attributes(&[
                ("FifoQueue", "true"),
                ("ContentBasedDeduplication", "true"),
                (
                    "RedrivePolicy",
                    r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dead.fifo","maxReceiveCount":"2"}"#,
                ),
            ]),
            &BTreeMap::new(),
        )
        .expect("create");
    let a1 = queues
        .send("q.fifo", fifo_message("a1", "a"), "me")
        .expect("send");
    queues
        .send("q.fifo", fifo_message("b1", "b"), "me")
        .expect("send");
    let a2 = queues
        .send("q.fifo", fifo_message("a2", "a"), "me")
        .expect("send");
    let duplicate = queues
        .send("q.fifo", fifo_message("a1", "a"), "me")
        .expect("duplicate");
    assert_eq!(duplicate.message_id, a1.message_id);
    assert_eq!(duplicate.sequence_number, a1.sequence_number);
    assert!(a1.sequence_number < a2.sequence_number);
    assert_eq!(postgres.psql("SELECT count(*) FROM sqs_messages"), "3");

    let first = receive(&queues, "q.fifo", 1, 30);
    assert_eq!(bodies(&first), ["a1"]);
    assert_eq!(
        first[0].attributes["SequenceNumber"],
        a1.sequence_number.clone().expect("a sequence number")
    );
    // Group a is in flight: only b is available.
    let second = receive(&queues, "q.fifo", 10, 1);
    assert_eq!(bodies(&second), ["b1"]);
    queues
        .delete_message("q.fifo", &first[0].receipt_handle)
        .expect("delete");
    assert_eq!(bodies(&receive(&queues, "q.fifo", 10, 30)), ["a2"]);

    // b1 is received twice without a delete; the third receive moves it to the
    // dead-letter queue instead, as a new message there.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(bodies(&receive(&queues, "q.fifo", 10, 1)), ["b1"]);
    std::thread::sleep(Duration::from_millis(1100));
    assert!(receive(&queues, "q.fifo", 10, 1).is_empty());
    let dead = queues.peek("dead.fifo", 10).expect("peek");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "b1");
    assert_eq!(dead[0].receive_count, 0);
    let from_dead = receive(&queues, "dead.fifo", 1, 0);
    assert_eq!(
        from_dead[0].attributes["DeadLetterQueueSourceArn"],
        "arn:aws:sqs:us-east-1:123456789012:q.fifo"
    );

    // Moving messages back (what a move task does) sends them to the queue they came
    // from.
    let backend = PostgresQueues::open(&postgres.url(), 1).expect("open");
    let lookup = BTreeMap::from([(
        "arn:aws:sqs:us-east-1:123456789012:q.fifo".to_owned(),
        "q.fifo".to_owned(),
    )]);
    let moved = backend
        .move_messages("dead.fifo", None, 10, serverful_sqs::now_ms(), &lookup)
        .expect("move");
    assert_eq!(moved, BTreeMap::from([("q.fifo".to_owned(), 1)]));
    assert_eq!(
        postgres.psql("SELECT queue FROM sqs_messages WHERE body = 'b1'"),
        "q.fifo"
    );

    // Move tasks are stored, oldest first; a cancel from another node is not undone by
    // the running node's progress.
    let task = serverful_sqs::MoveTask {
        task_handle: "task-1".to_owned(),
        status: "RUNNING".to_owned(),
        source_arn: "arn:aws:sqs:us-east-1:123456789012:dead.fifo".to_owned(),
        destination_arn: None,
        max_messages_per_second: Some(5),
        moved: 0,
        to_move: 1,
        failure_reason: None,
        started_at_ms: 1,
    };
    backend.put_move_task(&task).expect("save");
    backend
        .put_move_task(&serverful_sqs::MoveTask {
            status: "CANCELLING".to_owned(),
            ..task.clone()
        })
        .expect("cancel");
    backend
        .put_move_task(&serverful_sqs::MoveTask {
            moved: 1,
            ..task.clone()
        })
        .expect("progress");
    let tasks = backend.move_tasks().expect("tasks");
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        (tasks[0].status.as_str(), tasks[0].moved),
        ("CANCELLING", 1)
    );
    assert_eq!(tasks[0].max_messages_per_second, Some(5));
}

#[test]
fn a_queue_made_changed_or_deleted_on_one_node_is_seen_on_the_other() {
    let postgres = Postgres::start();
    let node_a = node(&postgres.url());
    let node_b = node(&postgres.url());
    node_a
        .create_queue("shared", &BTreeMap::new(), &BTreeMap::new())
        .expect("create on a");
    // B has never heard of it: it looks it up at once.
    node_b
        .send("shared", SendMessage::body("from b"), "me")
        .expect("send on b");
    assert_eq!(bodies(&receive(&node_a, "shared", 1, 30)), ["from b"]);
    assert_eq!(node_b.list_queues(None), ["shared"]);
    // The same name with other attributes on B is refused, as on one node.
    assert!(matches!(
        node_b.create_queue(
            "shared",
            &attributes(&[("VisibilityTimeout", "5")]),
            &BTreeMap::new()
        ),
        Err(SqsError::QueueAlreadyExists { .. })
    ));

    node_a
        .set_attributes("shared", &attributes(&[("VisibilityTimeout", "77")]))
        .expect("set on a");
    node_b.refresh_catalog().expect("refresh");
    assert_eq!(
        node_b
            .get_attributes("shared", &["VisibilityTimeout".to_owned()])
            .expect("attributes")["VisibilityTimeout"],
        "77"
    );

    // A change on B right after one on A keeps A's: B rereads the record first.
    node_a
        .tag_queue("shared", &attributes(&[("team", "a")]))
        .expect("tag on a");
    node_b
        .set_attributes("shared", &attributes(&[("DelaySeconds", "3")]))
        .expect("set on b");
    let fresh = node(&postgres.url());
    assert_eq!(
        fresh.tags("shared").expect("tags"),
        attributes(&[("team", "a")])
    );
    assert_eq!(
        fresh
            .get_attributes(
                "shared",
                &["DelaySeconds".to_owned(), "VisibilityTimeout".to_owned()]
            )
            .expect("attributes"),
        attributes(&[("DelaySeconds", "3"), ("VisibilityTimeout", "77")])
    );

    node_a.delete_queue("shared").expect("delete on a");
    // Before B rereads, a send through it is refused by the database, not orphaned.
    assert_eq!(
        node_b.send("shared", SendMessage::body("late"), "me"),
        Err(SqsError::QueueDoesNotExist)
    );
    node_b.refresh_catalog().expect("refresh");
    assert!(node_b.list_queues(None).is_empty());
    assert!(!node_b.exists("shared"));
    // Its name is held on B as on A.
    assert_eq!(
        node_b.create_queue("shared", &BTreeMap::new(), &BTreeMap::new()),
        Err(SqsError::QueueDeletedRecently)
    );

    // A purge through A holds off another through B for 60 s.
    node_a
        .create_queue("purged", &BTreeMap::new(), &BTreeMap::new())
        .expect("create");
    node_a
        .send("purged", SendMessage::body("x"), "me")
        .expect("send");
    assert_eq!(node_a.purge("purged").expect("purge"), 1);
    assert!(matches!(
        node_b.purge("purged"),
        Err(SqsError::PurgeQueueInProgress(_))
    ));
}

/// Nodes creating one queue at once with different attributes: one creates it, every
/// other is told it exists with other attributes (none replaces it); with the same
/// attributes every one gets its URL.
#[test]
fn nodes_creating_one_queue_at_once_agree_on_it() {
    let postgres = Postgres::start();
    let nodes = [node(&postgres.url()), node(&postgres.url())];
    let create = |name: &'static str, same: bool| {
        let creators: Vec<_> = (0..8_u32)
            .map(|creator| {
                let queues = Arc::clone(&nodes[creator as usize % 2]);
                std::thread::spawn(move || {
                    let timeout = if same { 30 } else { 10 + creator };
                    queues.create_queue(
                        name,
                        &attributes(&[("VisibilityTimeout", &timeout.to_string())]),
                        &BTreeMap::new(),
                    )
                })
            })
            .collect();
        creators
            .into_iter()
            .map(|creator| creator.join().expect("creator"))
            .collect::<Vec<_>>()
    };
    let different = create("raced", false);
    assert_eq!(
        different.iter().filter(|result| result.is_ok()).count(),
        1,
        "{different:?}"
    );
    for result in different.iter().filter(|result| result.is_err()) {
        assert_eq!(
            result,
            &Err(SqsError::QueueAlreadyExists {
                attribute: "VisibilityTimeout".to_owned()
            })
        );
    }
    let same = create("agreed", true);
    assert!(same.iter().all(Result::is_ok), "{same:?}");
}

/// A FIFO receive retried through another node with the same `ReceiveRequestAttemptId`
/// answers the same messages, until one of the queue's messages is deleted.
#[test]
fn fifo_receive_attempts_are_answered_by_any_node() {
    let postgres = Postgres::start();
    let (node_a, node_b) = (node(&postgres.url()), node(&postgres.url()));
    node_a
        .create_queue(
            "attempts.fifo",
            &attributes(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
            &BTreeMap::new(),
        )
        .expect("create");
    for body in ["a1", "a2", "b1"] {
        node_a
            .send("attempts.fifo", fifo_message(body, &body[..1]), "me")
            .expect("send");
    }
    let attempt = |queues: &Queues, id: &str| {
        queues
            .receive_now(
                "attempts.fifo",
                &ReceiveOptions {
                    max_messages: Some(2),
                    visibility_timeout: Some(60),
                    request_attempt_id: Some(id.to_owned()),
                    ..ReceiveOptions::default()
                },
            )
            .expect("receive")
    };
    let first = attempt(&node_a, "try-1");
    assert_eq!(bodies(&first), ["a1", "a2"]);
    // The answer is recorded without the receive waiting for it.
    std::thread::sleep(Duration::from_millis(300));
    let retried = attempt(&node_b, "try-1");
    assert_eq!(
        retried, first,
        "the retry through b answers what a answered"
    );
    assert_eq!(bodies(&attempt(&node_b, "try-2")), ["b1"]);
    node_b
        .delete_message("attempts.fifo", &first[0].receipt_handle)
        .expect("delete");
    // After a delete the attempt is a new receive: group a still has a2 in flight.
    assert!(attempt(&node_a, "try-1").is_empty());
}

/// The database drops every connection of a node (as when PostgreSQL restarts): calls
/// fail with a storage error (SQS's `InternalError`, which clients retry) until the
/// node's connections are made again, which needs no one's help, and nothing sent
/// before is lost.
#[test]
fn a_node_recovers_alone_when_its_connections_are_cut() {
    let postgres = Postgres::start();
    let queues = node(&postgres.url());
    queues
        .create_queue("steady", &BTreeMap::new(), &BTreeMap::new())
        .expect("create");
    for index in 0..5 {
        queues
            .send("steady", SendMessage::body(format!("before-{index}")), "me")
            .expect("send");
    }
    postgres.psql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'",
    );
    // Each cut connection fails the one call that finds it cut (4 here, one per data
    // connection), then its worker connects again.
    let mut failures = 0;
    for index in 0..5 {
        let body = format!("after-{index}");
        let mut tries = 0;
        loop {
            tries += 1;
            match queues.send("steady", SendMessage::body(body.clone()), "me") {
                Ok(_) => break,
                Err(error @ SqsError::Storage { .. }) => {
                    assert!(tries < 20, "still failing after {tries} tries: {error}");
                    failures += 1;
                }
                Err(error) => panic!("not a storage error: {error:?}"),
            }
        }
    }
    let mut received = Vec::new();
    for _ in 0..20 {
        match queues.receive_now(
            "steady",
            &ReceiveOptions {
                max_messages: Some(10),
                ..ReceiveOptions::default()
            },
        ) {
            Ok(messages) if messages.is_empty() && received.len() == 10 => break,
            Ok(messages) => received.extend(messages.into_iter().map(|message| message.body)),
            Err(SqsError::Storage { .. }) => failures += 1,
            Err(error) => panic!("not a storage error: {error:?}"),
        }
    }
    received.sort();
    let mut expected: Vec<String> = (0..5)
        .flat_map(|index| [format!("after-{index}"), format!("before-{index}")])
        .collect();
    expected.sort();
    assert_eq!(received, expected, "after {failures} failed calls");
}

/// A message move task runs on one node at a time: another node that tries to carry it
/// on (as every node does at start) leaves it to the node holding its claim, and takes
/// it over once that node stops; every message is moved once.
#[test]
fn a_move_task_runs_on_one_node_and_another_takes_it_over() {
    let postgres = Postgres::start();
    let (node_a, node_b) = (node(&postgres.url()), node(&postgres.url()));
    node_a
        .create_queue("dead", &BTreeMap::new(), &BTreeMap::new())
        .expect("create the dead-letter queue");
    node_a
        .create_queue(
            "source",
            &attributes(&[(
                "RedrivePolicy",
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dead","maxReceiveCount":"1"}"#,
            )]),
            &BTreeMap::new(),
        )
        .expect("create");
    const MESSAGES: usize = 6;
    for index in 0..MESSAGES {
        node_a
            .send("dead", SendMessage::body(format!("m{index}")), "me")
            .expect("send");
    }
    let runtime = |name: &str| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()
            .expect("runtime")
    };
    let (runtime_a, runtime_b) = (runtime("node-a"), runtime("node-b"));
    // One message a second: the task takes six seconds on its own.
    let handle = runtime_a
        .block_on(async {
            node_a.start_move_task(
                "arn:aws:sqs:us-east-1:123456789012:dead",
                Some("arn:aws:sqs:us-east-1:123456789012:source"),
                Some(1),
            )
        })
        .expect("start the task");
    runtime_b.block_on(async {
        node_b.resume_move_tasks();
        node_b.spawn_catalog_watch();
    });
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        postgres.psql("SELECT count(DISTINCT runner) FROM sqs_move_tasks"),
        "1"
    );
    let runner_a = postgres.psql("SELECT runner FROM sqs_move_tasks");
    // Node a stops (its runtime and the task's runner with it).
    runtime_a.shutdown_background();
    let started = Instant::now();
    let finished = loop {
        let tasks = node_b
            .list_move_tasks("arn:aws:sqs:us-east-1:123456789012:dead", Some(1))
            .expect("list");
        if tasks[0].status != "RUNNING" || started.elapsed() > Duration::from_secs(30) {
            break tasks[0].clone();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(finished.task_handle, handle);
    assert_eq!(finished.status, "COMPLETED", "{finished:?}");
    assert_ne!(
        postgres.psql("SELECT runner FROM sqs_move_tasks"),
        runner_a,
        "node b took the task over"
    );
    let mut moved: Vec<String> = node_b
        .peek("source", 100)
        .expect("peek")
        .into_iter()
        .map(|message| message.body)
        .collect();
    moved.sort();
    assert_eq!(
        moved,
        (0..MESSAGES)
            .map(|index| format!("m{index}"))
            .collect::<Vec<_>>()
    );
    assert!(node_b.peek("dead", 100).expect("peek").is_empty());
    drop(runtime_b);
}

/// Eight receivers on two nodes take 400 messages at once, each message exactly once
/// while its visibility timeout holds (they delete only half of what they get, so the
/// rest stays in flight, never handed out twice).
#[test]
fn concurrent_receivers_on_two_nodes_get_every_message_exactly_once() {
    let postgres = Postgres::start();
    let nodes = [node(&postgres.url()), node(&postgres.url())];
    nodes[0]
        .create_queue("work", &BTreeMap::new(), &BTreeMap::new())
        .expect("create");
    const MESSAGES: usize = 400;
    for batch in 0..MESSAGES / 10 {
        let messages = (0..10)
            .map(|index| SendMessage::body(format!("m{}", batch * 10 + index)))
            .collect();
        for result in nodes[batch % 2]
            .send_batch("work", messages, "me")
            .expect("send batch")
        {
            result.expect("sent");
        }
    }
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let receivers: Vec<_> = (0..8)
        .map(|receiver| {
            let queues = Arc::clone(&nodes[receiver % 2]);
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut empty_in_a_row = 0;
                let mut received = 0_usize;
                while empty_in_a_row < 3 {
                    let got = receive(&queues, "work", 10, 120);
                    if got.is_empty() {
                        empty_in_a_row += 1;
                        continue;
                    }
                    empty_in_a_row = 0;
                    let mut handles = Vec::new();
                    for message in got {
                        received += 1;
                        if received.is_multiple_of(2) {
                            handles.push(message.receipt_handle.clone());
                        }
                        seen.lock().expect("seen").push(message.body);
                    }
                    for result in queues.delete_messages("work", &handles).expect("delete") {
                        result.expect("deleted");
                    }
                }
                received
            })
        })
        .collect();
    let per_receiver: Vec<usize> = receivers
        .into_iter()
        .map(|receiver| receiver.join().expect("receiver"))
        .collect();
    let seen = seen.lock().expect("seen").clone();
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(
        seen.len(),
        MESSAGES,
        "received {seen_len}",
        seen_len = seen.len()
    );
    assert_eq!(distinct.len(), MESSAGES);
    assert!(
        per_receiver.iter().filter(|count| **count > 0).count() > 1,
        "the receivers shared the work: {per_receiver:?}"
    );
    // What was not deleted is still in flight.
    assert_eq!(
        count(&nodes[1], "work", "ApproximateNumberOfMessagesNotVisible"),
        (MESSAGES - per_receiver.iter().map(|count| count / 2).sum::<usize>()).to_string()
    );
}

/// Receivers on two nodes consume a FIFO queue at once: every message once, and each
/// group's messages in the order they were sent (a group with a message in flight is
/// skipped by every node).
#[test]
fn concurrent_fifo_receivers_keep_each_group_in_order() {
    let postgres = Postgres::start();
    let nodes = [node(&postgres.url()), node(&postgres.url())];
    nodes[0]
        .create_queue(
            "orders.fifo",
            &attributes(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
            &BTreeMap::new(),
        )
        .expect("create");
    const GROUPS: usize = 4;
    const PER_GROUP: usize = 15;
    // Senders on both nodes, one thread per group.
    let senders: Vec<_> = (0..GROUPS)
        .map(|group| {
            let queues = Arc::clone(&nodes[group % 2]);
            std::thread::spawn(move || {
                for index in 0..PER_GROUP {
                    queues
                        .send(
                            "orders.fifo",
                            fifo_message(&format!("{group}:{index}"), &format!("g{group}")),
                            "me",
                        )
                        .expect("send");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().expect("sender");
    }
    // What the receivers got, in order, and which receiver holds each group in flight.
    let order: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let held: Arc<Mutex<HashMap<usize, u32>>> = Arc::default();
    let receivers: Vec<_> = (0..6_u32)
        .map(|receiver| {
            let queues = Arc::clone(&nodes[receiver as usize % 2]);
            let (order, held) = (Arc::clone(&order), Arc::clone(&held));
            std::thread::spawn(move || {
                let mut empty_in_a_row = 0;
                while empty_in_a_row < 5 {
                    // Batches of different sizes, so that batches overlap within groups.
                    let got = receive(&queues, "orders.fifo", (1 + receiver * 2).min(10), 120);
                    if got.is_empty() {
                        empty_in_a_row += 1;
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    empty_in_a_row = 0;
                    let mut handles = Vec::new();
                    let mut groups = HashSet::new();
                    {
                        // Recorded before the delete lets the group go on.
                        let mut order = order.lock().expect("order");
                        let mut held = held.lock().expect("held");
                        for message in &got {
                            let (group, index) = message.body.split_once(':').expect("group:index");
                            let group: usize = group.parse().expect("group");
                            let holder = *held.entry(group).or_insert(receiver);
                            assert_eq!(
                                holder, receiver,
                                "group {group} is in flight at two receivers"
                            );
                            groups.insert(group);
                            order.push((group, index.parse().expect("index")));
                            handles.push(message.receipt_handle.clone());
                        }
                    }
                    // Working on them a moment: another receiver given a message of a
                    // group held here would be caught above.
                    std::thread::sleep(Duration::from_millis(30));
                    held.lock()
                        .expect("held")
                        .retain(|group, _| !groups.contains(group));
                    for result in queues
                        .delete_messages("orders.fifo", &handles)
                        .expect("delete")
                    {
                        result.expect("deleted");
                    }
                }
            })
        })
        .collect();
    for receiver in receivers {
        receiver.join().expect("receiver");
    }
    let order = order.lock().expect("order").clone();
    assert_eq!(order.len(), GROUPS * PER_GROUP, "{order:?}");
    let mut per_group: HashMap<usize, Vec<usize>> = HashMap::new();
    for (group, index) in order {
        per_group.entry(group).or_default().push(index);
    }
    for group in 0..GROUPS {
        assert_eq!(
            per_group[&group],
            (0..PER_GROUP).collect::<Vec<_>>(),
            "group {group}"
        );
    }
}

/// Concurrent sends of one deduplication id through two nodes store one message.
#[test]
fn concurrent_duplicates_on_two_nodes_store_one_message() {
    let postgres = Postgres::start();
    let nodes = [node(&postgres.url()), node(&postgres.url())];
    nodes[0]
        .create_queue(
            "once.fifo",
            &attributes(&[("FifoQueue", "true")]),
            &BTreeMap::new(),
        )
        .expect("create");
    let senders: Vec<_> = (0..8)
        .map(|sender| {
            let queues = Arc::clone(&nodes[sender % 2]);
            std::thread::spawn(move || {
                (0..20)
                    .map(|round| {
                        queues
                            .send(
                                "once.fifo",
                                SendMessage {
                                    deduplication_id: Some(format!("id-{round}")),
                                    ..fifo_message(&format!("{sender}"), &format!("g{sender}"))
                                },
                                "me",
                            )
                            .expect("send")
                            .message_id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let answers: Vec<Vec<String>> = senders
        .into_iter()
        .map(|sender| sender.join().expect("sender"))
        .collect();
    // Every sender of round n got the one message id stored for it.
    for round in 0..20 {
        let ids: HashSet<&String> = answers.iter().map(|ids| &ids[round]).collect();
        assert_eq!(ids.len(), 1, "round {round}: {ids:?}");
    }
    assert_eq!(postgres.psql("SELECT count(*) FROM sqs_messages"), "20");
}

/// Two `serve` nodes on one PostgreSQL with boto3: a queue created through A is used
/// through B; 200 messages sent through A are received and deleted through both at
/// once, each exactly once; a long poll on B returns a message sent on A within about a
/// second; a message not deleted reappears on the other node after its visibility
/// timeout.
#[test]
fn two_serve_nodes_share_their_queues_through_postgresql() {
    let postgres = Postgres::start();
    let url = postgres.url();
    let env = [("SERVERFUL_STORE", url.as_str())];
    let first_data = tempfile::tempdir().expect("data folder");
    let second_data = tempfile::tempdir().expect("data folder");
    let node_a = serverful_e2e::Server::start_serve_with_env(first_data.path(), &env);
    let node_b = serverful_e2e::Server::start_serve_with_env(second_data.path(), &env);

    let created = node_a.python(
        r#"
import boto3, json
sqs = boto3.client("sqs")
url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
for batch in range(20):
    sent = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": "job-%d" % (batch * 10 + i)} for i in range(10)])
    assert not sent.get("Failed"), sent
print(json.dumps({"url": url}))
"#,
        &[],
    );
    assert!(created["url"]
        .as_str()
        .is_some_and(|url| url.ends_with("/jobs")));
    assert!(!second_data.path().join("queues.sqlite").exists());

    // Both nodes drain the queue at once, each with its own boto3 client.
    // Both start at one moment (argv[1]), ready, so that neither drains the queue alone.
    let drain = r#"
import boto3, json, sys, time
sqs = boto3.client("sqs")
url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
got, empty = [], 0
while empty < 2:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    if not messages:
        empty += 1
        continue
    empty = 0
    got += [m["Body"] for m in messages]
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
    assert not deleted.get("Failed"), deleted
print(json.dumps(got))
"#;
    let start_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
        + 3.0;
    let start_at = format!("{start_at:.3}");
    let (from_a, from_b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| node_a.python(drain, &[&start_at]));
        let b = scope.spawn(|| node_b.python(drain, &[&start_at]));
        (a.join().expect("node a"), b.join().expect("node b"))
    });
    let mut all: Vec<String> = from_a
        .as_array()
        .into_iter()
        .chain(from_b.as_array())
        .flatten()
        .filter_map(|body| body.as_str().map(str::to_owned))
        .collect();
    let (count_a, count_b) = (
        from_a.as_array().map_or(0, Vec::len),
        from_b.as_array().map_or(0, Vec::len),
    );
    all.sort();
    let mut expected: Vec<String> = (0..200).map(|n| format!("job-{n}")).collect();
    expected.sort();
    assert_eq!(all, expected, "a got {count_a}, b got {count_b}");
    assert!(
        count_a > 0 && count_b > 0,
        "both nodes received: a {count_a}, b {count_b}"
    );

    // A long poll on B wakes for a message sent through A.
    let long_poll = std::thread::spawn({
        let script = r#"
import boto3, json, time
sqs = boto3.client("sqs")
url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
print("polling", flush=True)
started = time.time()
messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20, VisibilityTimeout=2).get("Messages", [])
print(json.dumps({"bodies": [m["Body"] for m in messages], "ended": time.time()}))
"#;
        let env = node_b.aws_env();
        move || {
            let output = std::process::Command::new("python3")
                .args(["-c", script])
                .envs(env)
                .output()
                .expect("python3");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            let last = stdout.lines().last().unwrap_or_default().to_owned();
            serde_json::from_str::<serde_json::Value>(&last).expect("json")
        }
    });
    std::thread::sleep(Duration::from_secs(3));
    let sent_at = node_a.python(
        r#"
import boto3, json, time
sqs = boto3.client("sqs")
url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
sqs.send_message(QueueUrl=url, MessageBody="wake up")
print(json.dumps({"sent": time.time()}))
"#,
        &[],
    );
    let polled = long_poll.join().expect("long poll");
    assert_eq!(polled["bodies"], json!(["wake up"]));
    let waited =
        polled["ended"].as_f64().unwrap_or_default() - sent_at["sent"].as_f64().unwrap_or_default();
    assert!(
        waited < 1.5,
        "the long poll on b took {waited:.2} s after the send on a"
    );

    // "wake up" was received on B with a 2 s visibility timeout and not deleted: after
    // it, A receives it again, as its second receive.
    let started = Instant::now();
    let again = node_a.python(
        r#"
import boto3, json
sqs = boto3.client("sqs")
url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10, AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
print(json.dumps([[m["Body"], m["Attributes"]["ApproximateReceiveCount"]] for m in messages]))
"#,
        &[],
    );
    assert_eq!(again, json!([["wake up", "2"]]));
    assert!(started.elapsed() < Duration::from_secs(10));
}
