//! Schedules on PostgreSQL (issue 22, cluster mode): the schedule state's backend against
//! a scratch PostgreSQL (ticks claimed once, also by many nodes at once; one anchor and
//! one fast clock for every node), then three `serverful up` nodes of one app sharing the
//! database, whose schedule fires each tick once across them, also after one is killed.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serverful_e2e::postgres::Postgres;
use serverful_e2e::{test_app, Server};
use serverful_postgres::{Database, PostgresSchedules};
use serverful_scheduler::{ScheduleBackend, ScheduleKey, ScheduleRecord};

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000 + seconds, 0)
        .single()
        .expect("a time")
}

fn key(name: &str) -> ScheduleKey {
    ScheduleKey {
        stack: "app".to_owned(),
        name: name.to_owned(),
    }
}

/// A node's schedule state: a pool of its own on the database.
fn node(url: &str) -> PostgresSchedules {
    let database = Database::open(url, 4).expect("connect");
    PostgresSchedules::new(Arc::new(database)).expect("open the schedule state")
}

#[test]
fn ticks_fire_once_and_outlive_the_node_that_claimed_them() {
    let postgres = Postgres::start();
    let url = postgres.url();
    let tick = key("tick");
    let first = node(&url);
    assert_eq!(
        first
            .register(&tick, "rate(1 minute)", at(0))
            .expect("register"),
        ScheduleRecord {
            anchor: at(0),
            last_tick: None
        }
    );
    assert!(first.claim(&tick, at(60)).expect("claim"));
    assert!(!first.claim(&tick, at(60)).expect("claim again"));
    assert!(!first.claim(&tick, at(30)).expect("claim an earlier tick"));
    drop(first);

    // Another node (or the same one restarted) keeps the anchor of the same expression;
    // a new expression is anchored anew, and no tick before the last fired one fires.
    let second = node(&url);
    assert_eq!(
        second
            .register(&tick, "rate(1 minute)", at(500))
            .expect("register"),
        ScheduleRecord {
            anchor: at(0),
            last_tick: Some(at(60))
        }
    );
    assert_eq!(
        second
            .register(&tick, "rate(2 minutes)", at(500))
            .expect("register"),
        ScheduleRecord {
            anchor: at(500),
            last_tick: Some(at(60))
        }
    );
    assert!(!second.claim(&tick, at(60)).expect("claim a fired tick"));
    assert!(second.claim(&tick, at(620)).expect("claim"));

    // An unknown schedule claims nothing; a deleted stack's schedules start afresh.
    assert!(!second.claim(&key("unknown"), at(700)).expect("claim"));
    second.forget_stack("app").expect("forget");
    assert_eq!(
        second
            .register(&tick, "rate(2 minutes)", at(900))
            .expect("register"),
        ScheduleRecord {
            anchor: at(900),
            last_tick: None
        }
    );
    assert_eq!(
        postgres.psql("SELECT version FROM serverful_schema WHERE component = 'schedules'"),
        "1"
    );
}

/// Three nodes with four timers each claim every tick at the same moment: one claim of
/// twelve wins each tick. Nodes registering at once agree on one anchor, and nodes with a
/// faster schedule clock on one start.
#[test]
fn of_many_nodes_claiming_a_tick_at_once_one_wins() {
    const NODES: usize = 3;
    const TIMERS: usize = 4;
    const TICKS: i64 = 40;
    let postgres = Postgres::start();
    let url = postgres.url();
    let nodes: Vec<Arc<PostgresSchedules>> = (0..NODES).map(|_| Arc::new(node(&url))).collect();

    let tick = key("tick");
    let registering: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(node_idx, node)| {
            let (node, tick) = (node.clone(), tick.clone());
            let anchor = at(i64::try_from(node_idx).expect("small"));
            std::thread::spawn(move || {
                node.register(&tick, "rate(1 minute)", anchor)
                    .expect("register")
            })
        })
        .collect();
    let records: Vec<ScheduleRecord> = registering
        .into_iter()
        .map(|thread| thread.join().expect("registered"))
        .collect();
    assert!(
        records
            .iter()
            .all(|record| record.anchor == records[0].anchor),
        "{records:?}"
    );

    let barrier = Arc::new(Barrier::new(NODES * TIMERS));
    let timers: Vec<_> = nodes
        .iter()
        .flat_map(|node| (0..TIMERS).map(move |_| node.clone()))
        .map(|node| {
            let (barrier, tick) = (barrier.clone(), tick.clone());
            std::thread::spawn(move || {
                let mut won = Vec::new();
                for minute in 1..=TICKS {
                    barrier.wait();
                    if node.claim(&tick, at(60 * minute)).expect("claim") {
                        won.push(minute);
                    }
                }
                won
            })
        })
        .collect();
    let mut winners: BTreeMap<i64, usize> = BTreeMap::new();
    for timer in timers {
        for minute in timer.join().expect("timer") {
            *winners.entry(minute).or_default() += 1;
        }
    }
    assert_eq!(
        winners,
        (1..=TICKS)
            .map(|minute| (minute, 1))
            .collect::<BTreeMap<_, _>>()
    );

    let minute = Duration::from_millis(1000);
    let origins: Vec<DateTime<Utc>> = nodes
        .iter()
        .enumerate()
        .map(|(node_idx, node)| {
            let proposed = at(1000 + i64::try_from(node_idx).expect("small"));
            node.clock_origin(minute, proposed).expect("origin")
        })
        .collect();
    assert_eq!(origins, [at(1000); NODES]);
    // Another minute length has a clock of its own.
    assert_eq!(
        nodes[1]
            .clock_origin(Duration::from_millis(500), at(2000))
            .expect("origin"),
        at(2000)
    );
}

/// The ticks (their schedule times) a node's functions logged (`TICK <time>`).
fn logged_ticks(server: &Server) -> Vec<String> {
    server
        .all_output()
        .lines()
        .filter_map(|line| {
            line.split_once("TICK ")
                .map(|(_, time)| time.trim().to_owned())
        })
        .collect()
}

/// The schedule times of the ticks recorded in the table, one entry per item.
fn recorded_ticks(server: &Server, table: &str) -> Vec<DateTime<Utc>> {
    let scanned = server.python(
        r#"
import boto3, json, sys
table = boto3.resource("dynamodb").Table(sys.argv[1])
items, start = [], {}
while True:
    page = table.scan(**start)
    items += page["Items"]
    if "LastEvaluatedKey" not in page:
        break
    start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
print(json.dumps([item["time"] for item in items]))
"#,
        &[table],
    );
    let mut times: Vec<DateTime<Utc>> = scanned
        .as_array()
        .expect("a list")
        .iter()
        .map(|time| {
            time.as_str()
                .expect("a time")
                .parse()
                .expect("an RFC 3339 time")
        })
        .collect();
    times.sort();
    times
}

/// Whether the times are one schedule minute apart each, leaving out the newest six
/// minutes: a tick may still be on its way there (a cold start on a busy machine) while
/// a later one, run by a warm node, is recorded already.
fn consecutive(times: &[DateTime<Utc>]) -> bool {
    let Some(newest) = times.last() else {
        return true;
    };
    let settled: Vec<&DateTime<Utc>> = times
        .iter()
        .filter(|time| **time <= *newest - chrono::TimeDelta::minutes(6))
        .collect();
    settled
        .windows(2)
        .all(|pair| *pair[1] - *pair[0] == chrono::TimeDelta::minutes(1))
}

/// Three `serverful up` nodes of one app on one PostgreSQL (`--store`), a schedule minute
/// lasting a second: each tick of its `rate(1 minute)` schedule is recorded once in the
/// app's table (shared through PostgreSQL), whichever node fired it, with none skipped;
/// after one node is killed with `kill -9`, the others go on firing every tick once.
#[test]
fn three_nodes_fire_each_tick_of_a_schedule_once() {
    let postgres = Postgres::start();
    let url = postgres.url();
    let env = [
        ("SERVERFUL_SCHEDULE_MINUTE_MS", "1000"),
        ("SERVERFUL_STORE", url.as_str()),
    ];
    let app = test_app("cluster-ticks");
    let start = || {
        Server::try_start_with_env(&app, &[], &env)
            .unwrap_or_else(|output| panic!("a node did not start:\n{output}"))
    };
    // One after the other: each `up` deploys the app and creates its table if missing.
    let nodes = [start(), start(), start()];
    let table = nodes[0].output("TicksTableName");
    std::thread::sleep(Duration::from_secs(10));
    let before_kill = recorded_ticks(&nodes[0], &table);
    assert!(before_kill.len() >= 6, "{before_kill:?}");
    let mut unique = before_kill.clone();
    unique.dedup();
    assert_eq!(unique, before_kill, "a tick fired twice");
    assert!(
        consecutive(&before_kill),
        "a tick was skipped: {before_kill:?}"
    );

    // Every tick is logged by exactly one node.
    let by_node: Vec<Vec<String>> = nodes.iter().map(logged_ticks).collect();
    let mut logged: Vec<String> = by_node.concat();
    logged.sort();
    let total = logged.len();
    logged.dedup();
    assert_eq!(logged.len(), total, "a tick ran on two nodes: {by_node:?}");

    let [first, second, third] = nodes;
    let _ = Command::new("kill")
        .args(["-9", &first.pid().to_string()])
        .status();
    drop(first);
    std::thread::sleep(Duration::from_secs(15));
    let after = recorded_ticks(&second, &table);
    let mut unique = after.clone();
    unique.dedup();
    assert_eq!(unique, after, "a tick fired twice");
    let later: Vec<DateTime<Utc>> = after
        .iter()
        .filter(|time| **time > *before_kill.last().expect("ticks"))
        .copied()
        .collect();
    // A tick the node claimed as it died may be lost, as AWS drops a missed tick; the
    // ones after it keep coming, once each.
    assert!(later.len() >= 10, "{later:?}");
    assert!(consecutive(&later[4..]), "a tick was skipped: {later:?}");
    // The survivors ran them, once each.
    let survivors = [logged_ticks(&second), logged_ticks(&third)];
    let mut logged = survivors.concat();
    logged.sort();
    let total = logged.len();
    logged.dedup();
    assert_eq!(
        logged.len(),
        total,
        "a tick ran on two nodes: {survivors:?}"
    );
    assert!(
        total >= by_node[1].len() + by_node[2].len() + 8,
        "before the kill {by_node:?}, after {survivors:?}"
    );
}
