//! What a schedule hands its function: AWS's `Scheduled Event` for an EventBridge rule,
//! and for EventBridge Scheduler the target's `Input` (`{}` without one) with its context
//! attributes filled in.

use chrono::{DateTime, SecondsFormat, Utc};

/// The event an EventBridge rule delivers on its schedule, members in AWS's order.
pub fn rule_event(
    id: &str,
    account: &str,
    region: &str,
    tick: DateTime<Utc>,
    rule_arn: &str,
) -> String {
    let text = |value: &str| serde_json::Value::from(value).to_string();
    format!(
        r#"{{"version":"0","id":{},"detail-type":"Scheduled Event","source":"aws.events","account":{},"time":{},"region":{},"resources":[{}],"detail":{{}}}}"#,
        text(id),
        text(account),
        text(&tick.to_rfc3339_opts(SecondsFormat::Secs, true)),
        text(region),
        text(rule_arn),
    )
}

/// The payload EventBridge Scheduler delivers: `input` (or `{}`), with
/// `<aws.scheduler.schedule-arn>`, `<aws.scheduler.scheduled-time>`,
/// `<aws.scheduler.execution-id>` and `<aws.scheduler.attempt-number>` replaced.
pub fn scheduler_input(
    input: Option<&str>,
    schedule_arn: &str,
    tick: DateTime<Utc>,
    execution_id: &str,
    attempt: u32,
) -> String {
    let Some(input) = input else {
        return "{}".to_owned();
    };
    input
        .replace("<aws.scheduler.schedule-arn>", schedule_arn)
        .replace(
            "<aws.scheduler.scheduled-time>",
            &tick.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
        .replace("<aws.scheduler.execution-id>", execution_id)
        .replace("<aws.scheduler.attempt-number>", &attempt.to_string())
}
