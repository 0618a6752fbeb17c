//! Asynchronous invocations on PostgreSQL (issue 22, cluster mode): the queue's backend
//! against a scratch PostgreSQL (the SQLite queue's semantics; nodes taking work at once
//! never share an event and lose none; an event held by a node that died comes back when
//! its lease runs out, and not before), then three `serverful up` nodes on one database:
//! an event accepted by one runs once, one queued by a node that never runs it is found
//! by the others within seconds, and one whose node is killed while it runs is run again.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serverful_async::{FunctionBacklog, NewEvent, QueueBackend, QueuedEvent};
use serverful_e2e::postgres::Postgres;
use serverful_e2e::{test_app, Server};
use serverful_postgres::{Database, Lease, PostgresQueue};

fn event(id: &str, at: i64) -> NewEvent {
    NewEvent {
        id: id.to_owned(),
        stack: "app".to_owned(),
        function: "Worker".to_owned(),
        qualifier: None,
        payload: br#"{"n":1}"#.to_vec(),
        enqueued_at_ms: at,
    }
}

fn ids(events: &[QueuedEvent]) -> Vec<&str> {
    events
        .iter()
        .map(|queued| queued.event.id.as_str())
        .collect()
}

/// A node's queue: a pool of its own on the database, holding what it takes for `lease`.
fn node(url: &str, lease: Lease) -> PostgresQueue {
    let database = Database::open(url, 4).expect("connect");
    PostgresQueue::new(Arc::new(database), lease).expect("open the queue")
}

const SHORT: Lease = Lease {
    duration: Duration::from_millis(1500),
    renew_every: Duration::from_millis(300),
};

#[test]
fn events_are_claimed_when_due_in_order_and_once() {
    let postgres = Postgres::start();
    let queue = node(&postgres.url(), Lease::default());
    queue.enqueue(&event("b", 20)).expect("enqueue");
    queue.enqueue(&event("a", 10)).expect("enqueue");
    queue.enqueue(&event("c", 30)).expect("enqueue");
    assert!(queue.enqueue(&event("a", 40)).is_err(), "a duplicate id");
    assert_eq!(queue.next_due().expect("next"), Some(10));
    assert!(queue.claim_due(5, 10).expect("claim").is_empty());
    let claimed = queue.claim_due(25, 10).expect("claim");
    assert_eq!(ids(&claimed), ["a", "b"]);
    assert_eq!(claimed[0].event, event("a", 10));
    assert_eq!((claimed[0].attempts, claimed[0].throttles), (0, 0));
    // Claimed events are not handed out twice, by this node or another.
    let other = node(&postgres.url(), Lease::default());
    assert_eq!(ids(&other.claim_due(100, 10).expect("claim")), ["c"]);
    assert!(queue.claim_due(100, 10).expect("claim").is_empty());
    assert_eq!(queue.next_due().expect("next"), None);

    queue.reschedule("a", 1, 2, 50).expect("reschedule");
    queue.remove("b").expect("remove");
    assert_eq!(queue.len().expect("len"), 2);
    assert_eq!(other.next_due().expect("next"), Some(50));
    let again = other.claim_due(60, 10).expect("claim");
    assert_eq!(ids(&again), ["a"]);
    assert_eq!(
        (again[0].attempts, again[0].throttles, again[0].due_at_ms),
        (1, 2, 50)
    );
    // The first node no longer holds it: its reschedule leaves it to the other.
    queue.reschedule("a", 5, 0, 60).expect("reschedule");
    assert!(other.claim_due(100, 10).expect("claim").is_empty());

    let mut elsewhere = event("d", 70);
    elsewhere.stack = "other".to_owned();
    other.enqueue(&elsewhere).expect("enqueue");
    assert_eq!(other.remove_stack("app").expect("remove"), 2);
    assert_eq!(ids(&queue.claim_due(100, 10).expect("claim")), ["d"]);
    assert_eq!(
        postgres.psql("SELECT version FROM serverful_schema WHERE component = 'async'"),
        "1"
    );
}

#[test]
fn the_backlog_counts_each_functions_events_claimed_or_not_with_the_oldest() {
    let postgres = Postgres::start();
    let queue = node(&postgres.url(), Lease::default());
    queue.enqueue(&event("a", 30)).expect("enqueue");
    queue.enqueue(&event("b", 10)).expect("enqueue");
    queue
        .enqueue(&NewEvent {
            function: "Other".to_owned(),
            ..event("c", 20)
        })
        .expect("enqueue");
    assert_eq!(queue.claim_due(100, 1).expect("claim").len(), 1);
    let backlog = |stack: &str, function: &str, events, oldest| FunctionBacklog {
        stack: stack.to_owned(),
        function: function.to_owned(),
        events,
        oldest_enqueued_at_ms: oldest,
    };
    assert_eq!(
        queue.backlog().expect("backlog"),
        [
            backlog("app", "Other", 1, 20),
            backlog("app", "Worker", 2, 10)
        ]
    );
    queue.remove("b").expect("remove");
    queue.remove("c").expect("remove");
    assert_eq!(
        queue.backlog().expect("backlog"),
        [backlog("app", "Worker", 1, 30)]
    );
}

/// A node holds what it took as long as it lives (its leases renewed, however long it
/// works); what a node that died held is due again once its lease ran out, and only then.
#[test]
fn what_a_dead_node_held_comes_back_when_its_lease_runs_out() {
    let postgres = Postgres::start();
    let url = postgres.url();
    let living = node(&url, SHORT);
    let dying = node(&url, SHORT);
    let other = node(&url, SHORT);
    for (id_idx, id) in ["e0", "e1", "e2", "e3"].iter().enumerate() {
        living
            .enqueue(&event(id, i64::try_from(id_idx).expect("small")))
            .expect("enqueue");
    }
    assert_eq!(ids(&living.claim_due(100, 2).expect("claim")), ["e0", "e1"]);
    assert_eq!(ids(&dying.claim_due(100, 2).expect("claim")), ["e2", "e3"]);
    drop(dying);
    assert!(other.claim_due(100, 10).expect("claim").is_empty());
    assert_eq!(other.next_due().expect("next"), None);
    std::thread::sleep(SHORT.duration * 3);
    assert_eq!(other.next_due().expect("next"), Some(2));
    assert_eq!(ids(&other.claim_due(100, 10).expect("claim")), ["e2", "e3"]);
    // The living node's events stayed its own, past three lease durations.
    living.reschedule("e0", 1, 0, 200).expect("reschedule");
    living.remove("e1").expect("remove");
    assert_eq!(ids(&other.claim_due(300, 10).expect("claim")), ["e0"]);
    assert_eq!(other.len().expect("len"), 3);
}

/// Three nodes with four takers each drain 300 events at once: each event is taken by
/// one taker, once, and every event is taken.
#[test]
fn nodes_taking_events_at_once_share_none_and_lose_none() {
    const NODES: usize = 3;
    const TAKERS: usize = 4;
    const EVENTS: usize = 300;
    let postgres = Postgres::start();
    let url = postgres.url();
    let nodes: Vec<Arc<PostgresQueue>> = (0..NODES)
        .map(|_| Arc::new(node(&url, Lease::default())))
        .collect();
    for event_idx in 0..EVENTS {
        nodes[event_idx % NODES]
            .enqueue(&event(
                &format!("event-{event_idx:03}"),
                i64::try_from(event_idx).expect("small"),
            ))
            .expect("enqueue");
    }
    let taken: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let takers: Vec<_> = nodes
        .iter()
        .flat_map(|node| (0..TAKERS).map(move |_| node.clone()))
        .map(|node| {
            let taken = taken.clone();
            std::thread::spawn(move || {
                let mut empty_in_a_row = 0;
                while empty_in_a_row < 3 {
                    let claimed = node.claim_due(i64::MAX, 7).expect("claim");
                    if claimed.is_empty() {
                        empty_in_a_row += 1;
                        continue;
                    }
                    empty_in_a_row = 0;
                    for queued in claimed {
                        *taken
                            .lock()
                            .expect("lock")
                            .entry(queued.event.id.clone())
                            .or_default() += 1;
                        node.remove(&queued.event.id).expect("remove");
                    }
                }
            })
        })
        .collect();
    for taker in takers {
        taker.join().expect("taker");
    }
    let taken = taken.lock().expect("lock");
    assert_eq!(taken.len(), EVENTS);
    assert!(taken.values().all(|times| *times == 1), "{taken:?}");
    assert_eq!(nodes[0].len().expect("len"), 0);
}

/// The lines `PREFIX <id>` a node's functions logged.
fn logged(server: &Server, prefix: &str, id: &str) -> usize {
    let line = format!("{prefix} {id}");
    server
        .all_output()
        .lines()
        .filter(|text| text.trim_end().ends_with(&line))
        .count()
}

/// The events of the items in the runs table, one entry per finished run.
fn finished_runs(server: &Server, table: &str) -> Vec<String> {
    let scanned = server.python(
        r#"
import boto3, json, sys
items = boto3.resource("dynamodb").Table(sys.argv[1]).scan()["Items"]
print(json.dumps(sorted(item["event"] for item in items)))
"#,
        &[table],
    );
    scanned
        .as_array()
        .expect("a list")
        .iter()
        .map(|event| event.as_str().expect("an id").to_owned())
        .collect()
}

fn invoke_event(server: &Server, function: &str, id: &str) {
    let (ok, result, stderr) = server.aws_cli(&[
        "lambda",
        "invoke",
        "--function-name",
        function,
        "--invocation-type",
        "Event",
        "--payload",
        &format!(r#"{{"id":"{id}"}}"#),
        "/dev/null",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(result["StatusCode"], 202, "{result}");
}

/// Waits for `done` (checked every 200 ms) or fails with `what`.
fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Three `serverful up` nodes of one app on one PostgreSQL: an event accepted through
/// node A (`aws lambda invoke --invocation-type Event`) runs once on one node; one
/// queued in the database by no node's own workers starts within seconds; an event
/// whose node is killed with `kill -9` while its function runs is run again by another
/// node once the dead node's lease ran out, and finishes once.
#[test]
fn an_event_runs_once_in_a_cluster_also_when_its_node_dies() {
    let postgres = Postgres::start();
    let url = postgres.url();
    let env = [("SERVERFUL_STORE", url.as_str())];
    let app = test_app("cluster-async");
    let start = || {
        Server::try_start_with_env(&app, &[], &env)
            .unwrap_or_else(|output| panic!("a node did not start:\n{output}"))
    };
    let nodes = vec![start(), start(), start()];
    let table = nodes[0].output("RunsTableName");
    let function = nodes[0].function_name("SlowFunction");
    let started = |nodes: &[Server], id: &str| -> Vec<usize> {
        nodes
            .iter()
            .map(|node| logged(node, "STARTED", id))
            .collect()
    };

    invoke_event(&nodes[0], &function, "calm");
    wait_until(Duration::from_secs(60), "the calm event's run", || {
        finished_runs(&nodes[1], &table) == ["calm"]
    });
    assert_eq!(started(&nodes, "calm").iter().sum::<usize>(), 1);

    // An event queued by a node that never takes it (the test's own queue, as a node that
    // died right after answering 202): another node's workers find it by polling.
    let stack = function
        .rsplit_once("-SlowFunction-")
        .map(|(stack, _)| stack.to_owned())
        .expect("a generated function name");
    let orphaning = node(&url, Lease::default());
    let queued_at = Instant::now();
    orphaning
        .enqueue(&NewEvent {
            id: "orphan-request".to_owned(),
            stack,
            function: "SlowFunction".to_owned(),
            qualifier: None,
            payload: br#"{"id":"orphan"}"#.to_vec(),
            enqueued_at_ms: i64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("after 1970")
                    .as_millis(),
            )
            .expect("a time in milliseconds"),
        })
        .expect("enqueue");
    drop(orphaning);
    wait_until(
        Duration::from_secs(30),
        "a node to start the orphan",
        || started(&nodes, "orphan").iter().sum::<usize>() == 1,
    );
    assert!(
        queued_at.elapsed() < Duration::from_secs(5),
        "{:?}",
        queued_at.elapsed()
    );
    wait_until(Duration::from_secs(30), "the orphan's run", || {
        finished_runs(&nodes[1], &table) == ["calm", "orphan"]
    });

    invoke_event(&nodes[0], &function, "doomed");
    wait_until(Duration::from_secs(30), "the doomed event to start", || {
        started(&nodes, "doomed").iter().sum::<usize>() == 1
    });
    let runner = started(&nodes, "doomed")
        .iter()
        .position(|count| *count == 1)
        .expect("a node started it");
    // The function sleeps 4 s before it records its run: kill its node meanwhile.
    let mut nodes = nodes;
    let dead = nodes.remove(runner);
    let _ = Command::new("kill")
        .args(["-9", &dead.pid().to_string()])
        .status();
    let dead_output = dead.all_output();
    drop(dead);
    let killed_at = Instant::now();
    let deadline = killed_at + Duration::from_secs(60);
    while finished_runs(&nodes[0], &table) != ["calm", "doomed", "orphan"] {
        assert!(
            Instant::now() < deadline,
            "no other node finished the event; queued: {:?}\n{}\n{}\n{dead_output}",
            postgres.psql(
                "SELECT id, claimed_by, lease_until_ms, due_at_ms, attempts FROM async_events"
            ),
            nodes[0].all_output(),
            nodes[1].all_output(),
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Not before the dead node's lease (10 s) could run out.
    assert!(
        killed_at.elapsed() >= Duration::from_secs(8),
        "{:?}",
        killed_at.elapsed()
    );
    assert_eq!(started(&nodes, "doomed").iter().sum::<usize>(), 1);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        finished_runs(&nodes[0], &table),
        ["calm", "doomed", "orphan"]
    );
    assert_eq!(postgres.psql("SELECT COUNT(*) FROM async_events"), "0");
}
