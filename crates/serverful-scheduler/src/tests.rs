//! Unit tests: real timers on a fast schedule clock, a recording invoker, the SQLite state.

use std::sync::Mutex;

use bytes::Bytes;
use chrono::{TimeZone, Timelike};
use futures_util::future::BoxFuture;
use serverful_invoke::HttpTarget;

use super::*;

/// Records every event it is handed, with the schedule clock's time of arrival.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(String, serde_json::Value)>>,
}

impl Invoke for Recorder {
    fn invoke(
        &self,
        function: &FunctionRef,
        event: Bytes,
    ) -> BoxFuture<'static, Result<Bytes, InvokeError>> {
        let event = serde_json::from_slice(&event).expect("schedules deliver JSON");
        self.calls
            .lock()
            .expect("not poisoned")
            .push((function.to_string(), event));
        Box::pin(async { Ok(Bytes::from_static(b"null")) })
    }

    fn http_target(&self, _: &FunctionRef) -> BoxFuture<'static, Result<HttpTarget, InvokeError>> {
        Box::pin(async { Err(InvokeError::Unavailable("not an HTTP function".to_owned())) })
    }
}

fn scheduler(minute_ms: u64) -> (Scheduler, Arc<Recorder>, tempfile::TempDir) {
    let folder = tempfile::tempdir().expect("temporary folder");
    let backend = Arc::new(SqliteSchedules::open_in(folder.path()).expect("open the state"));
    let recorder = Arc::new(Recorder::default());
    let scheduler = Scheduler::new(
        backend,
        recorder.clone(),
        SchedulerOptions {
            region: "eu-west-1".to_owned(),
            account_id: "123456789012".to_owned(),
            minute: Duration::from_millis(minute_ms),
        },
    );
    (scheduler, recorder, folder)
}

fn spec(name: &str, kind: ScheduleKind, expression: &str, input: Option<&str>) -> ScheduleSpec {
    ScheduleSpec {
        name: name.to_owned(),
        kind,
        arn: format!("arn:aws:events:eu-west-1:123456789012:rule/{name}"),
        schedule: Schedule::parse(expression).expect("valid expression"),
        time_zone: serverful_schedule::chrono_tz::UTC,
        start: None,
        end: None,
        enabled: true,
        targets: vec![ScheduleTarget {
            function: FunctionRef::new("app", "Ticker").in_deploy(1),
            input: input.map(str::to_owned),
        }],
        retry: RetryPolicy::default(),
    }
}

fn times(recorder: &Recorder, field: &str) -> Vec<DateTime<Utc>> {
    recorder
        .calls
        .lock()
        .expect("not poisoned")
        .iter()
        .map(|(_, event)| {
            DateTime::parse_from_rfc3339(event[field].as_str().expect("a time"))
                .expect("RFC 3339")
                .with_timezone(&Utc)
        })
        .collect()
}

#[tokio::test]
async fn a_rate_fires_every_period_with_the_scheduled_event() {
    let (scheduler, recorder, _folder) = scheduler(200);
    scheduler.replace_stack(
        "app",
        vec![spec("tick", ScheduleKind::Rule, "rate(1 minute)", None)],
    );
    let listed = scheduler.upcoming("app");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].targets, ["Ticker"]);
    let first = listed[0].next.expect("a next fire time");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let fired = times(&recorder, "time");
    assert_eq!(fired.len(), 3, "three ticks in 3.5 minutes: {fired:?}");
    // Ticks are whole seconds in the payload, a minute apart, from the listed one.
    assert_eq!(fired[0], first.with_nanosecond(0).expect("valid"));
    assert_eq!(fired[1] - fired[0], TimeDelta::minutes(1));
    let calls = recorder.calls.lock().expect("not poisoned");
    let (function, event) = &calls[0];
    assert_eq!(function, "app/Ticker");
    // The payload's text, members in AWS's order, is checked in `payloads`.
    assert_eq!(event.as_object().expect("an object").len(), 9);
    assert_eq!(event["version"], "0");
    assert_eq!(event["account"], "123456789012");
    assert_eq!(event["region"], "eu-west-1");
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["source"], "aws.events");
    assert_eq!(
        event["resources"][0],
        "arn:aws:events:eu-west-1:123456789012:rule/tick"
    );
    assert_eq!(event["detail"], serde_json::json!({}));
}

#[tokio::test]
async fn one_time_schedules_fire_once_even_when_deployed_again() {
    let (scheduler, recorder, _folder) = scheduler(200);
    let at = (scheduler.now() + TimeDelta::seconds(61))
        .format("at(%Y-%m-%dT%H:%M:%S)")
        .to_string();
    let once = spec(
        "once",
        ScheduleKind::Scheduler,
        &at,
        Some(r#"{"at":"<aws.scheduler.scheduled-time>","n":"<aws.scheduler.attempt-number>"}"#),
    );
    scheduler.replace_stack("app", vec![once.clone()]);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(recorder.calls.lock().expect("not poisoned").len(), 1);
    // A deploy of the same schedule, and time going on: nothing more.
    scheduler.replace_stack("app", vec![once]);
    assert_eq!(scheduler.upcoming("app")[0].next, None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls = recorder.calls.lock().expect("not poisoned");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].1["n"], "1");
    assert!(at.contains(
        calls[0].1["at"]
            .as_str()
            .expect("a time")
            .trim_end_matches('Z')
    ));
}

#[tokio::test]
async fn a_new_version_switches_the_expression_and_a_deleted_stack_stops() {
    let (scheduler, recorder, _folder) = scheduler(100);
    scheduler.replace_stack(
        "app",
        vec![spec(
            "tick",
            ScheduleKind::Scheduler,
            "rate(1 minute)",
            None,
        )],
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let before = recorder.calls.lock().expect("not poisoned").len();
    assert!(
        (3..=4).contains(&before),
        "{before} calls at rate(1 minute) in 3.5 minutes"
    );
    scheduler.replace_stack(
        "app",
        vec![spec(
            "tick",
            ScheduleKind::Scheduler,
            "rate(5 minutes)",
            None,
        )],
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        recorder.calls.lock().expect("not poisoned").len(),
        before,
        "rate(5 minutes) has not ticked yet"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        recorder.calls.lock().expect("not poisoned").len(),
        before + 1
    );
    assert_eq!(
        recorder.calls.lock().expect("not poisoned")[0].1,
        serde_json::json!({})
    );
    scheduler.remove_stack("app").expect("remove");
    assert!(scheduler.upcoming("app").is_empty());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        recorder.calls.lock().expect("not poisoned").len(),
        before + 1
    );
}

#[tokio::test]
async fn missed_ticks_are_not_replayed() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let backend = Arc::new(SqliteSchedules::open_in(folder.path()).expect("open"));
    let key = ScheduleKey {
        stack: "app".to_owned(),
        name: "tick".to_owned(),
    };
    // The schedule last fired an hour ago, anchored a day ago: the server was down since.
    let now = Utc::now();
    backend
        .register(&key, "cron(* * * * ? *)", now - TimeDelta::days(1))
        .expect("register");
    backend
        .claim(&key, now - TimeDelta::hours(1))
        .expect("claim");
    let recorder = Arc::new(Recorder::default());
    let scheduler = Scheduler::new(
        backend,
        recorder.clone(),
        SchedulerOptions {
            region: "eu-west-1".to_owned(),
            account_id: "123456789012".to_owned(),
            minute: Duration::from_millis(100),
        },
    );
    let started = scheduler.now();
    scheduler.replace_stack(
        "app",
        vec![spec("tick", ScheduleKind::Rule, "cron(* * * * ? *)", None)],
    );
    let next = scheduler.upcoming("app")[0].next.expect("next");
    assert!(next > started && next - started <= TimeDelta::minutes(1));
    tokio::time::sleep(Duration::from_millis(350)).await;
    let fired = times(&recorder, "time");
    assert!(
        (3..=4).contains(&fired.len()),
        "one a minute for 3.5 minutes: {fired:?}"
    );
    let minute_started = started.with_second(0).expect("valid");
    assert!(
        fired.iter().all(|time| *time >= minute_started),
        "nothing of the last hour fires: {fired:?}"
    );
}

#[test]
fn payloads() {
    let tick = Utc.with_ymd_and_hms(2025, 3, 1, 8, 30, 0).unwrap();
    expect_test_free_check(
        &rule_event(
            "id-1",
            "123456789012",
            "eu-west-1",
            tick,
            "arn:aws:events:eu-west-1:123456789012:rule/r",
        ),
        r#"{"version":"0","id":"id-1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2025-03-01T08:30:00Z","region":"eu-west-1","resources":["arn:aws:events:eu-west-1:123456789012:rule/r"],"detail":{}}"#,
    );
    expect_test_free_check(&scheduler_input(None, "arn", tick, "abc", 1), "{}");
    expect_test_free_check(
        &scheduler_input(
            Some(
                r#"{"a":"<aws.scheduler.schedule-arn>","t":"<aws.scheduler.scheduled-time>","e":"<aws.scheduler.execution-id>","n":<aws.scheduler.attempt-number>}"#,
            ),
            "arn:s",
            tick,
            "abc",
            2,
        ),
        r#"{"a":"arn:s","t":"2025-03-01T08:30:00Z","e":"abc","n":2}"#,
    );
}

fn expect_test_free_check(actual: &str, expected: &str) {
    assert_eq!(actual, expected);
}
