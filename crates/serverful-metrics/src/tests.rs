//! The text a scrape gets, for each area's handle.

use std::time::Duration;

use expect_test::{expect, Expect};

use super::*;

/// The lines of `metrics`' text whose metric name starts with `prefix`, HELP and TYPE
/// lines left out, sorted (series come out in no set order).
fn check(metrics: &Metrics, prefix: &str, expected: Expect) {
    let text = metrics.encode().expect("metrics are on");
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with(prefix))
        .collect();
    lines.sort_unstable();
    expected.assert_eq(&lines.join("\n"));
}

#[test]
fn disabled_metrics_do_nothing() {
    let metrics = Metrics::disabled();
    let function = metrics.function("app", "Hello");
    let _running = function.running();
    function.finished(Outcome::Success, Some(Duration::from_millis(5)));
    metrics
        .gateway()
        .observe(RouteKey::unmatched(), 404, Duration::from_millis(1));
    assert!(!metrics.is_enabled());
    assert_eq!(metrics.encode(), None);
}

#[test]
fn counts_invocations_errors_throttles_and_timeouts() {
    let metrics = Metrics::new();
    let function = metrics.function("app", "Hello");
    function.finished(Outcome::Success, Some(Duration::from_millis(3)));
    function.finished(
        Outcome::Error {
            error_type: "ValueError",
        },
        Some(Duration::from_millis(40)),
    );
    function.finished(
        Outcome::Error {
            error_type: "Runtime.ExitError",
        },
        None,
    );
    function.finished(Outcome::Timeout, Some(Duration::from_secs(3)));
    function.finished(Outcome::Throttled, None);
    check(
        &metrics,
        "serverful_lambda_invocations",
        expect![[r#"serverful_lambda_invocations_total{stack="app",function="Hello"} 4"#]],
    );
    check(
        &metrics,
        "serverful_lambda_errors",
        expect![[r#"
            serverful_lambda_errors_total{stack="app",function="Hello",error_type="Function"} 1
            serverful_lambda_errors_total{stack="app",function="Hello",error_type="Runtime.ExitError"} 1
            serverful_lambda_errors_total{stack="app",function="Hello",error_type="Timeout"} 1"#]],
    );
    check(
        &metrics,
        "serverful_lambda_throttles",
        expect![[r#"serverful_lambda_throttles_total{stack="app",function="Hello"} 1"#]],
    );
    check(
        &metrics,
        "serverful_lambda_timeouts",
        expect![[r#"serverful_lambda_timeouts_total{stack="app",function="Hello"} 1"#]],
    );
    check(
        &metrics,
        "serverful_lambda_duration_seconds_count",
        expect![[r#"serverful_lambda_duration_seconds_count{stack="app",function="Hello"} 3"#]],
    );
}

#[test]
fn a_new_version_of_a_function_keeps_its_series() {
    let metrics = Metrics::new();
    metrics
        .function("app", "Hello")
        .finished(Outcome::Success, None);
    // The next deploy sets the function up again.
    let again = metrics.function("app", "Hello");
    again.finished(Outcome::Success, None);
    again.cold_start(Some(Duration::from_millis(120)));
    check(
        &metrics,
        "serverful_lambda_invocations",
        expect![[r#"serverful_lambda_invocations_total{stack="app",function="Hello"} 2"#]],
    );
    check(
        &metrics,
        "serverful_lambda_init_duration_seconds_",
        expect![[r#"
            serverful_lambda_init_duration_seconds_bucket{stack="app",function="Hello",le="+Inf"} 1
            serverful_lambda_init_duration_seconds_bucket{stack="app",function="Hello",le="0.01"} 0
            serverful_lambda_init_duration_seconds_bucket{stack="app",function="Hello",le="0.025"} 0
            serverful_lambda_init_duration_seconds_bucket{stack="app",function="Hello",le="0.05"} 0
            serverful_lambda_init_duration_seconds_bucket{stack="app",function="Hello",le="0.1"} 0
            serverful_lambda_init_duration_seconds_bucket{stack="app",function="Hello",le="0.25"} 1
            serverful_lambda_init_duration_seconds_bucket{stack="app",function="Hello",le="0.5"} 1
            serverful_lambda_init_duration_seconds_bucket{stack="app",function="Hello",le="1"} 1
            serverful_lambda_init_duration_seconds_bucket{stack="app",function="Hello",le="10"} 1
            serverful_lambda_init_duration_seconds_bucket{stack="app",function="Hello",le="2.5"} 1
            serverful_lambda_init_duration_seconds_bucket{stack="app",function="Hello",le="30"} 1
            serverful_lambda_init_duration_seconds_bucket{stack="app",function="Hello",le="5"} 1
            serverful_lambda_init_duration_seconds_count{stack="app",function="Hello"} 1
            serverful_lambda_init_duration_seconds_sum{stack="app",function="Hello"} 0.12"#]],
    );
}

#[test]
fn concurrency_counts_running_invocations() {
    let metrics = Metrics::new();
    let function = metrics.function("app", "Hello");
    let first = function.running();
    let second = function.running();
    drop(first);
    check(
        &metrics,
        "serverful_lambda_concurrent",
        expect![[r#"serverful_lambda_concurrent_executions{stack="app",function="Hello"} 1"#]],
    );
    drop(second);
    check(
        &metrics,
        "serverful_lambda_concurrent",
        expect![[r#"serverful_lambda_concurrent_executions{stack="app",function="Hello"} 0"#]],
    );
}

#[test]
fn gateway_requests_by_route_and_status() {
    let metrics = Metrics::new();
    let gateway = metrics.gateway();
    let route = RouteKey {
        stack: "app".to_owned(),
        api: "ServerlessRestApi".to_owned(),
        stage: "Prod".to_owned(),
        route: "GET /items/{id}".to_owned(),
    };
    gateway.observe(route.clone(), 200, Duration::from_millis(2));
    gateway.observe(route, 502, Duration::from_millis(2));
    gateway.observe(RouteKey::unmatched(), 404, Duration::from_micros(100));
    check(
        &metrics,
        "serverful_gateway_requests",
        expect![[r#"
            serverful_gateway_requests_total{stack="",api="",stage="",route="$unmatched",status="404"} 1
            serverful_gateway_requests_total{stack="app",api="ServerlessRestApi",stage="Prod",route="GET /items/{id}",status="200"} 1
            serverful_gateway_requests_total{stack="app",api="ServerlessRestApi",stage="Prod",route="GET /items/{id}",status="502"} 1"#]],
    );
}

#[test]
fn dynamodb_operations_are_bounded_to_dynamodb_names() {
    let metrics = Metrics::new();
    let store = metrics.dynamodb();
    store.observe("PutItem", StoreOutcome::Success, Duration::from_micros(300));
    store.observe(
        "PutItem",
        StoreOutcome::of_status(400),
        Duration::from_micros(80),
    );
    store.observe("MadeUp", StoreOutcome::of_status(400), Duration::ZERO);
    check(
        &metrics,
        "serverful_dynamodb_operations",
        expect![[r#"
            serverful_dynamodb_operations_total{operation="PutItem",outcome="client_error"} 1
            serverful_dynamodb_operations_total{operation="PutItem",outcome="success"} 1
            serverful_dynamodb_operations_total{operation="Unknown",outcome="client_error"} 1"#]],
    );
}

#[test]
fn open_connections_per_listener() {
    let metrics = Metrics::new();
    let gauge = metrics.connections("gateway");
    let open = gauge.open();
    let _other = gauge.open();
    drop(open);
    check(
        &metrics,
        "serverful_open_connections",
        expect![[r#"serverful_open_connections{listener="gateway"} 1"#]],
    );
}

struct Depths;

impl Source for Depths {
    fn collect(&self) -> Vec<GaugeFamily> {
        vec![GaugeFamily {
            name: "serverful_sqs_queue_messages",
            help: "Messages in each queue",
            kind: Kind::Gauge,
            gauges: vec![Gauge {
                labels: vec![
                    ("queue", "jobs".to_owned()),
                    ("state", "visible".to_owned()),
                ],
                value: 3.0,
            }],
        }]
    }
}

#[test]
fn sources_are_read_at_scrape_time() {
    let metrics = Metrics::new();
    metrics.register_source(std::sync::Arc::new(Depths));
    check(
        &metrics,
        "serverful_sqs",
        expect![[r#"serverful_sqs_queue_messages{queue="jobs",state="visible"} 3.0"#]],
    );
    let text = metrics.encode().expect("metrics are on");
    assert!(text.contains("# TYPE serverful_sqs_queue_messages gauge"));
    assert!(text.contains("# TYPE process_resident_memory_bytes gauge"));
    assert!(text.contains("# TYPE process_cpu_seconds_total counter"));
}
