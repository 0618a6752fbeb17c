//! The model of schedules that invoke functions: EventBridge rules with a
//! `ScheduleExpression` and EventBridge Scheduler schedules, as the template declares them
//! (SAM's `Schedule` and `ScheduleV2` events, `AWS::Events::Rule`,
//! `AWS::Scheduler::Schedule`), every value final and checked.

/// A schedule that invokes one or more of the app's functions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleSource {
    /// The rule's or schedule's logical id: the resource's, or for a SAM event the one
    /// SAM generates (`{Function}{EventName}`).
    pub logical_id: String,
    pub kind: ScheduleKind,
    /// `Name`, else the name AWS would give it: CloudFormation's generated name for a
    /// rule, the logical id for a SAM `ScheduleV2` schedule.
    pub name: String,
    /// The rule's ARN (`arn:aws:events:REGION:ACCOUNT:rule/NAME`) or the schedule's
    /// (`arn:aws:scheduler:REGION:ACCOUNT:schedule/GROUP/NAME`).
    pub arn: String,
    pub description: Option<String>,
    /// `rate(...)`, `cron(...)` or `at(...)`, as written; checked with AWS's rules.
    pub expression: String,
    /// `ScheduleExpressionTimezone` (Scheduler only; rules evaluate in UTC), checked.
    pub time_zone: Option<String>,
    /// `StartDate` and `EndDate` (Scheduler only) as RFC 3339 instants in UTC.
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    /// `Enabled`/`State`: a disabled schedule is listed but never fires.
    pub enabled: bool,
    /// `FlexibleTimeWindow.MaximumWindowInMinutes` when the mode is `FLEXIBLE`.
    pub flexible_window_minutes: Option<u32>,
    /// `RetryPolicy`, when the template sets one.
    pub retry_policy: Option<RetryPolicy>,
    /// The functions it invokes, in the order of the targets.
    pub targets: Vec<ScheduleTarget>,
    /// The line of the expression in the template, for messages.
    pub line: usize,
}

/// Which service runs a schedule; it decides the payload and the time zone rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleKind {
    /// An EventBridge rule: delivers AWS's `Scheduled Event` unless the target has `Input`;
    /// always in UTC.
    Rule,
    /// EventBridge Scheduler: delivers the target's `Input` (`{}` without one), in the
    /// schedule's time zone between its start and end dates.
    Scheduler,
}

/// A function a schedule invokes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleTarget {
    /// The function's logical id, one of [`crate::App::functions`].
    pub function: String,
    /// The alias or version the target's ARN names (`...:function:NAME:live`), or SAM's
    /// `AutoPublishAlias` for an event.
    pub qualifier: Option<String>,
    /// `Input`: the JSON text delivered instead of the default payload.
    pub input: Option<String>,
}

/// `RetryPolicy`: how often a failed invocation is tried again and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// 0 to 185.
    pub maximum_retry_attempts: u32,
    /// 60 to 86,400.
    pub maximum_event_age_secs: u32,
}

impl RetryPolicy {
    /// AWS's default for both services: 185 retries within 24 hours.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        maximum_retry_attempts: 185,
        maximum_event_age_secs: 86_400,
    };
}
