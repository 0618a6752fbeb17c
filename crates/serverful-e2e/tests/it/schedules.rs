//! Schedules firing functions (issue 15): a `rate(1 minute)` rule and a Scheduler
//! `cron(0/2 * * * ? *)` fire on time with AWS's payloads, a deploy switches a schedule's
//! expression, a deleted stack's schedules stop, and an invalid expression stops the start.
//!
//! The server runs with `SERVERFUL_SCHEDULE_MINUTE_MS=1000`: a schedule minute lasts one
//! second, so the schedule clock runs 60 times faster; the firing logic is the same.

use std::time::Duration;

use regex::Regex;
use serde_json::Value;
use serverful_e2e::{copy_dir, test_app, up_until_it_fails, Server};

const FAST: [(&str, &str); 1] = [("SERVERFUL_SCHEDULE_MINUTE_MS", "1000")];

/// The events the function logged (`TICK {"receivedAt": ms, "event": ...}`), in order.
fn ticks(server: &Server) -> Vec<(i64, Value)> {
    server
        .all_output()
        .lines()
        .filter_map(|line| line.split_once("TICK ").map(|(_, json)| json))
        .map(|json| {
            let tick: Value = serde_json::from_str(json).expect("the ticker logs JSON");
            (
                tick["receivedAt"].as_i64().expect("a time"),
                tick["event"].clone(),
            )
        })
        .collect()
}

/// The real time between arrivals, from the second arrival on: the first waited for the
/// function's cold start. The bounds leave room for a loaded test machine; the benchmark
/// measures lateness itself.
/// Whether arrivals `period` ms apart on the schedule clock came that far apart in real
/// time, within half a period: a tick is delivered late when the machine is busy (the
/// whole suite runs at once on two cores), never early or dropped. How close to the tick a
/// delivery lands is a benchmark's question, not this test's.
fn on_schedule(gaps: &[i64], period: i64) -> bool {
    gaps.iter()
        .all(|gap| (period / 2..=period + period / 2).contains(gap))
}

fn gaps(times: &[i64]) -> Vec<i64> {
    times
        .iter()
        .skip(1)
        .collect::<Vec<_>>()
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .collect()
}

#[test]
fn rate_and_cron_schedules_fire_on_time_with_aws_payloads() {
    let server = Server::try_start_with_env(&test_app("schedules"), &[], &FAST)
        .unwrap_or_else(|output| panic!("server did not start:\n{output}"));
    let banner = server.stdout();
    assert!(banner.contains("Schedules:"), "{banner}");
    let listing = Regex::new(r"(?m)^  \S+TickerEveryMinute-\w+ rate\(1 minute\) -> Ticker \(next \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$").expect("regex");
    assert!(listing.is_match(&banner), "{banner}");
    assert!(
        banner.contains("  TickerEvenMinutes cron(0/2 * * * ? *) -> Ticker (next "),
        "{banner}"
    );
    std::thread::sleep(Duration::from_millis(6_500));
    let ticks = ticks(&server);

    let rule: Vec<&(i64, Value)> = ticks
        .iter()
        .filter(|(_, event)| event["source"] == "aws.events")
        .collect();
    assert!(
        (5..=7).contains(&rule.len()),
        "{} rule ticks in 6.5 schedule minutes: {ticks:?}",
        rule.len()
    );
    let event = &rule[0].1;
    let mut keys: Vec<&str> = event
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "account",
            "detail",
            "detail-type",
            "id",
            "region",
            "resources",
            "source",
            "time",
            "version"
        ]
    );
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["version"], "0");
    assert_eq!(event["detail"], serde_json::json!({}));
    let rule_arn = Regex::new(r"^arn:aws:events:[a-z0-9-]+:\d{12}:rule/\S+-TickerEveryMinute-\w+$")
        .expect("regex");
    assert!(
        rule_arn.is_match(event["resources"][0].as_str().expect("an ARN")),
        "{event}"
    );
    // A minute apart on the schedule clock, a second apart in real time.
    let times: Vec<chrono::DateTime<chrono::Utc>> = rule
        .iter()
        .map(|(_, event)| {
            event["time"]
                .as_str()
                .expect("a time")
                .parse()
                .expect("RFC 3339")
        })
        .collect();
    assert!(
        times
            .windows(2)
            .all(|pair| pair[1] - pair[0] == chrono::TimeDelta::minutes(1)),
        "{times:?}"
    );
    let arrivals: Vec<i64> = rule.iter().map(|(received, _)| *received).collect();
    assert!(
        on_schedule(&gaps(&arrivals), 1_000),
        "gaps {:?}",
        gaps(&arrivals)
    );

    let cron: Vec<&(i64, Value)> = ticks
        .iter()
        .filter(|(_, event)| event["schedule"] == "even")
        .collect();
    assert!(
        (3..=4).contains(&cron.len()),
        "{} cron ticks in 6.5 schedule minutes: {ticks:?}",
        cron.len()
    );
    for (_, event) in &cron {
        let at: chrono::DateTime<chrono::Utc> = event["at"]
            .as_str()
            .expect("a time")
            .parse()
            .expect("RFC 3339");
        assert_eq!(chrono::Timelike::minute(&at) % 2, 0, "{event}");
        assert_eq!(chrono::Timelike::second(&at), 0, "{event}");
        assert_eq!(
            event.as_object().expect("an object").len(),
            2,
            "Scheduler delivers the Input only: {event}"
        );
    }
    let arrivals: Vec<i64> = cron.iter().map(|(received, _)| *received).collect();
    assert!(
        on_schedule(&gaps(&arrivals), 2_000),
        "gaps {:?}",
        gaps(&arrivals)
    );
}

#[test]
fn a_deploy_switches_the_schedule_and_a_delete_stops_it() {
    let data = tempfile::tempdir().expect("data folder");
    let source = tempfile::tempdir().expect("app folder");
    copy_dir(&test_app("schedules"), source.path());
    let template = source.path().join("template.yaml");
    let original = std::fs::read_to_string(&template).expect("template");
    let only_rule = |expression: &str, version: &str| {
        let text = original.replace("rate(1 minute)", expression).replace(
            "            Schedule: ",
            &format!("            Input: '{{\"v\": {version}}}'\n            Schedule: "),
        );
        let cron_at = text.find("        EvenMinutes:").expect("the cron event");
        std::fs::write(&template, &text[..cron_at]).expect("write the template");
    };
    let server = Server::start_serve_with_env(data.path(), &FAST);
    only_rule("rate(1 minute)", "1");
    let (code, out, err) = server.admin(&[
        "deploy",
        source.path().to_str().expect("utf-8"),
        "--stack",
        "ticks",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    std::thread::sleep(Duration::from_millis(2_500));
    only_rule("rate(2 minutes)", "2");
    let (code, out, err) = server.admin(&[
        "deploy",
        source.path().to_str().expect("utf-8"),
        "--stack",
        "ticks",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // The deploy's report lists the schedule with its next fire time, as `up` does.
    assert!(
        out.lines().any(|line| line.starts_with("  schedule: ")
            && line.contains("rate(2 minutes) -> Ticker (next 20")),
        "{out}"
    );
    let switched = ticks(&server).len();
    std::thread::sleep(Duration::from_millis(4_500));
    let all = ticks(&server);
    let v1 = all.iter().filter(|(_, event)| event["v"] == 1).count();
    assert!(v1 >= 2, "the first version ticked every minute: {all:?}");
    let after: Vec<&(i64, Value)> = all[switched..].iter().collect();
    assert!(
        after.iter().all(|(_, event)| event["v"] == 2),
        "only the new version ticks after the switch: {all:?}"
    );
    assert!(
        (2..=3).contains(&after.len()),
        "rate(2 minutes) for 4.5 minutes: {all:?}"
    );
    let arrivals: Vec<i64> = after.iter().map(|(received, _)| *received).collect();
    assert!(
        on_schedule(&gaps(&arrivals), 2_000),
        "gaps {:?}",
        gaps(&arrivals)
    );

    let (code, out, err) = server.admin(&["delete", "--stack", "ticks"]);
    assert_eq!(code, 0, "{out}{err}");
    let deleted = ticks(&server).len();
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(
        ticks(&server).len(),
        deleted,
        "a deleted stack's schedule does not fire"
    );
}

#[test]
fn an_invalid_expression_stops_the_start_with_the_line_and_aws_words() {
    let (code, output) = up_until_it_fails(&test_app("schedules-bad"));
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("template.yaml:13:"), "{output}");
    assert!(output.contains("Resources.Ticker.Properties.Events.Nightly.Properties.Schedule: Parameter ScheduleExpression is not valid."), "{output}");
}

#[test]
fn the_cron_http_example_records_each_tick_and_serves_the_last_ones() {
    let app = serverful_e2e::repo_root().join("examples/cron-http");
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::try_start_with_env(
        &app,
        &["--data", data.path().to_str().expect("utf-8")],
        &FAST,
    )
    .unwrap_or_else(|output| panic!("server did not start:\n{output}"));
    assert!(server
        .stdout()
        .contains("rate(1 minute) -> TickerFunction (next "));
    std::thread::sleep(Duration::from_millis(4_500));
    let response = crate::client()
        .get(server.url("/ticks?limit=100"))
        .send()
        .expect("GET /ticks");
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_str(&response.text().expect("body")).expect("JSON");
    let ticks = body["ticks"].as_array().expect("a list of ticks");
    assert!(
        (3..=6).contains(&ticks.len()),
        "about one tick a (one-second) schedule minute: {body}"
    );
    // Newest first, each a minute of the schedule's clock after the one before, from the
    // function's rule.
    let times: Vec<chrono::DateTime<chrono::Utc>> = ticks
        .iter()
        .map(|tick| {
            tick["at"]
                .as_str()
                .and_then(|at| at.parse().ok())
                .unwrap_or_else(|| panic!("a tick time: {tick}"))
        })
        .collect();
    for pair in times.windows(2) {
        assert_eq!((pair[0] - pair[1]).num_seconds(), 60, "{body}");
    }
    assert!(
        ticks.iter().all(|tick| tick["rule"]
            .as_str()
            .is_some_and(|rule| rule.contains(":rule/"))),
        "{body}"
    );
    // The Go ticker records the same ticks.
    let response = crate::client()
        .get(server.url("/ticks?limit=100&ticker=go"))
        .send()
        .expect("GET /ticks?ticker=go");
    let go: Value = serde_json::from_str(&response.text().expect("body")).expect("JSON");
    let go_ticks = go["ticks"].as_array().expect("a list of ticks");
    assert!(
        go_ticks.len() >= 2 && go_ticks.iter().all(|tick| tick["ticker"] == "go"),
        "{go}"
    );
    let bad = crate::client()
        .get(server.url("/ticks?limit=0"))
        .send()
        .expect("GET /ticks?limit=0");
    assert_eq!(bad.status(), 400);
}

#[test]
fn a_scheduled_function_that_fails_is_retried_and_reported_as_an_asynchronous_event() {
    let server = Server::try_start_with_env(
        &test_app("schedules-failing"),
        &[],
        &[
            ("SERVERFUL_SCHEDULE_MINUTE_MS", "1000"),
            ("SERVERFUL_ASYNC_RETRY_DELAY_MS", "100"),
        ],
    )
    .unwrap_or_else(|output| panic!("server did not start:\n{output}"));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let records = loop {
        let records: Vec<Value> = server
            .all_output()
            .lines()
            .filter_map(|line| line.split_once("RECORD ").map(|(_, json)| json))
            .map(|json| serde_json::from_str(json).expect("the recorder logs JSON"))
            .collect();
        if records.len() >= 2 || std::time::Instant::now() > deadline {
            break records;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(records.len() >= 2, "{}", server.all_output());
    let output = server.all_output();
    for record in &records {
        assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
        // One retry (MaximumRetryAttempts: 1): two attempts in all.
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 2);
        assert_eq!(record["responseContext"]["functionError"], "Unhandled");
        let payload = &record["requestPayload"];
        assert_eq!(payload["detail-type"], "Scheduled Event", "{record}");
        assert_eq!(payload["source"], "aws.events");
        let time = payload["time"].as_str().expect("the tick's time");
        let attempts = output
            .lines()
            .filter(|line| line.ends_with(&format!("ATTEMPT {time}")))
            .count();
        assert_eq!(attempts, 2, "the tick of {time} ran twice:\n{output}");
    }
}
