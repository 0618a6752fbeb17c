//! Functions' Prometheus series (issue #19): each finished request counts once, as Lambda's
//! CloudWatch metrics count it: invocations with their errors by type and timeouts,
//! throttles apart, durations of what ran, cold starts with their init duration.

use std::time::Duration;

use serde_json::json;
use serverful_runtime::InvokeError;

use crate::{invoke, App, PYTHON_APP};

/// The value of the sample `series` (name and labels as written) in a scrape of `app`.
fn sample(app: &App, series: &str) -> Option<f64> {
    let text = app.metrics.encode().expect("metrics are on");
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn invocations_errors_timeouts_and_throttles_are_counted_per_function() {
    let mut app = App::new();
    app.metrics = serverful_metrics::Metrics::new();
    app.write("py", "app.py", PYTHON_APP, false);
    let mut sleepy = app.function("Sleepy", "python3.11", "app.sleeps", "py");
    sleepy.timeout = Duration::from_secs(1);
    let mut zero = app.function("Zero", "python3.11", "app.handler", "py");
    zero.reserved_concurrency = Some(0);
    let (runtime, _) = app.runtime(vec![
        app.function("Fails", "python3.11", "app.fails", "py"),
        sleepy,
        zero,
    ]);
    for n in 0..2 {
        let result = invoke(&runtime, "Fails", json!({ "n": n })).await;
        assert!(
            matches!(result, Err(InvokeError::FunctionError(_))),
            "{result:?}"
        );
    }
    invoke(&runtime, "Sleepy", json!({"seconds": 0}))
        .await
        .expect("a quick sleep");
    let result = invoke(&runtime, "Sleepy", json!({"seconds": 30})).await;
    assert!(matches!(result, Err(InvokeError::Timeout)), "{result:?}");
    let result = invoke(&runtime, "Zero", json!({})).await;
    assert!(matches!(result, Err(InvokeError::Throttled)), "{result:?}");

    let series = |name: &str, function: &str, extra: &str| {
        sample(
            &app,
            &format!(r#"{name}{{stack="test-stack",function="{function}"{extra}}}"#),
        )
    };
    assert_eq!(
        series("serverful_lambda_invocations_total", "Fails", ""),
        Some(2.0)
    );
    assert_eq!(
        series(
            "serverful_lambda_errors_total",
            "Fails",
            r#",error_type="Function""#
        ),
        Some(2.0)
    );
    assert_eq!(
        series("serverful_lambda_invocations_total", "Sleepy", ""),
        Some(2.0)
    );
    assert_eq!(
        series("serverful_lambda_timeouts_total", "Sleepy", ""),
        Some(1.0)
    );
    assert_eq!(
        series(
            "serverful_lambda_errors_total",
            "Sleepy",
            r#",error_type="Timeout""#
        ),
        Some(1.0)
    );
    // The timed-out invocation ran about its one-second timeout.
    let slept = series("serverful_lambda_duration_seconds_sum", "Sleepy", "").expect("sum");
    assert!((0.9..5.0).contains(&slept), "{slept}");
    // A throttled request never ran: not an invocation.
    assert_eq!(
        series("serverful_lambda_throttles_total", "Zero", ""),
        Some(1.0)
    );
    assert_eq!(
        series("serverful_lambda_invocations_total", "Zero", ""),
        Some(0.0)
    );
    // Each started one instance (the timed-out one was killed after its invocation).
    assert_eq!(
        series("serverful_lambda_cold_starts_total", "Fails", ""),
        Some(1.0)
    );
    assert_eq!(
        series("serverful_lambda_cold_starts_total", "Sleepy", ""),
        Some(1.0)
    );
    assert_eq!(
        series("serverful_lambda_init_duration_seconds_count", "Fails", ""),
        Some(1.0)
    );
    assert_eq!(
        series("serverful_lambda_concurrent_executions", "Sleepy", ""),
        Some(0.0)
    );
    runtime.shutdown().await;
}
