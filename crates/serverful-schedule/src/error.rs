//! The errors of parsing a schedule expression, a time zone or a schedule's date bounds.
//!
//! EventBridge answers every bad expression with one sentence, "Parameter ScheduleExpression
//! is not valid." Each message here starts with AWS's sentence, so a user who searches for
//! it finds AWS's documentation, and goes on to say what exactly is wrong and how to fix it.

use std::fmt;

/// Why a schedule expression, time zone or date bound was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The text is none of `rate(...)`, `cron(...)` and `at(...)`.
    #[error(
        "Parameter ScheduleExpression is not valid. `{expression}` is not a schedule expression: write rate(value unit), cron(minutes hours day-of-month month day-of-week year) or at(yyyy-mm-ddThh:mm:ss)"
    )]
    UnknownForm { expression: String },
    /// A `rate(value unit)` expression broke one of AWS's rules.
    #[error("Parameter ScheduleExpression is not valid. `{expression}`: {reason}")]
    Rate { expression: String, reason: String },
    /// A `cron(...)` expression broke one of AWS's rules; `field` is the field at fault,
    /// when one is.
    #[error("Parameter ScheduleExpression is not valid. `{expression}`: {}{reason}", field_prefix(*field))]
    Cron {
        expression: String,
        field: Option<CronField>,
        reason: String,
    },
    /// An `at(yyyy-mm-ddThh:mm:ss)` expression is malformed or names a date that does not
    /// exist.
    #[error("Parameter ScheduleExpression is not valid. `{expression}`: {reason}")]
    At { expression: String, reason: String },
    /// `ScheduleExpressionTimezone` is not an IANA time zone name.
    #[error(
        "Parameter ScheduleExpressionTimezone is not valid. `{name}` is not an IANA time zone name: write one such as UTC, Europe/Paris or America/New_York"
    )]
    TimeZone { name: String },
    /// `StartDate` comes after `EndDate`.
    #[error("Parameter EndDate is not valid. The EndDate {end} must not be before the StartDate {start}")]
    Bounds { start: String, end: String },
}

/// The six fields of a cron expression, in their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CronField {
    Minutes,
    Hours,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

impl CronField {
    /// The fields in the order a cron expression writes them.
    pub const ALL: [CronField; 6] = [
        CronField::Minutes,
        CronField::Hours,
        CronField::DayOfMonth,
        CronField::Month,
        CronField::DayOfWeek,
        CronField::Year,
    ];
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Minutes => "Minutes",
            CronField::Hours => "Hours",
            CronField::DayOfMonth => "Day-of-month",
            CronField::Month => "Month",
            CronField::DayOfWeek => "Day-of-week",
            CronField::Year => "Year",
        })
    }
}

fn field_prefix(field: Option<CronField>) -> String {
    match field {
        Some(field) => format!("the {field} field: "),
        None => String::new(),
    }
}
