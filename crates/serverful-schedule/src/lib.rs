//! AWS schedule expressions, as EventBridge rules and EventBridge Scheduler define them:
//! `rate(value unit)`, six-field `cron(...)` and one-time `at(...)`, parsed with AWS's rules
//! and evaluated in an IANA time zone between optional start and end dates. No IO: the
//! caller brings the clock.
//!
//! Hand-written because no crate parses AWS's dialect: the Rust cron crates read Unix's
//! five fields or a seconds-first Quartz variant, without AWS's year field, its `?` rule,
//! its singular/plural rates or `at(...)`.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use serverful_schedule::Schedule;
//!
//! let schedule = Schedule::parse("cron(0 10 ? * MON-FRI *)").expect("valid");
//! let friday = Utc.with_ymd_and_hms(2025, 1, 3, 12, 0, 0).unwrap();
//! let next = schedule.next_after(friday, chrono_tz::UTC);
//! assert_eq!(next, Some(Utc.with_ymd_and_hms(2025, 1, 6, 10, 0, 0).unwrap()));
//! ```
//!
//! # Daylight-saving changes
//! EventBridge rules always evaluate in UTC. EventBridge Scheduler evaluates `cron` and `at`
//! in the schedule's `ScheduleExpressionTimezone` and documents what happens when the clock
//! changes: when it jumps forward, a cron time that falls in the skipped hour does not fire;
//! when it falls back, a cron time in the repeated hour fires once, not twice. This crate
//! does exactly that, and fires at the first of the two moments a repeated local time
//! names, the one a watch reads first. A `rate` is a fixed duration and ignores the time
//! zone (Scheduler: a rate of days stays 24 hours apart when a day has 23 or 25).
//!
//! AWS documents neither case for `at`: a one-time schedule is not a recurrence that can
//! skip a turn, so an `at` in a skipped hour fires at the same local time read with the
//! offset before the change (`02:30` on a spring-forward night fires at `03:30` new time,
//! as Java's `ZonedDateTime` resolves it), and an `at` in a repeated hour fires at its
//! first moment.

mod at;
mod cron;
mod error;
mod rate;

use std::fmt;

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

pub use crate::at::At;
pub use crate::cron::{
    Cron, DayOfMonth, DayOfWeek, Item, Set, StepStart, Value, FIRST_YEAR, LAST_YEAR,
};
pub use crate::error::{CronField, ScheduleError};
pub use crate::rate::{Rate, RateUnit};
pub use chrono_tz;

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Schedule {
    Rate(Rate),
    Cron(Cron),
    At(At),
}

impl Schedule {
    /// Parses a schedule expression with AWS's rules; the error says what is wrong in AWS's
    /// words first.
    pub fn parse(expression: &str) -> Result<Schedule, ScheduleError> {
        let inner = |prefix: &str| {
            expression
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(')'))
        };
        if let Some(inner) = inner("rate(") {
            return Rate::parse(inner, expression).map(Schedule::Rate);
        }
        if let Some(inner) = inner("cron(") {
            return Cron::parse(inner, expression).map(Schedule::Cron);
        }
        if let Some(inner) = inner("at(") {
            return At::parse(inner, expression).map(Schedule::At);
        }
        Err(ScheduleError::UnknownForm {
            expression: expression.to_string(),
        })
    }

    /// The first fire time strictly after `after`, evaluating the expression in `time_zone`
    /// (EventBridge rules: UTC), or `None` when there is none (an `at` in the past, a cron
    /// whose years are over).
    ///
    /// A rate has no grid of its own here: its next fire time is `after` plus its period,
    /// as a rule created at `after` would fire. Anchor it with [`Timetable`]'s start date.
    pub fn next_after(&self, after: DateTime<Utc>, time_zone: Tz) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Rate(rate) => after.checked_add_signed(rate.period()),
            Schedule::At(at) => {
                Some(resolve_at(at.local(), time_zone)).filter(|fire| *fire > after)
            }
            Schedule::Cron(cron) => next_cron(cron, after, time_zone),
        }
    }

    /// The fire times strictly after `after`, in order.
    pub fn fire_times(&self, after: DateTime<Utc>, time_zone: Tz) -> FireTimes {
        FireTimes {
            timetable: Timetable {
                schedule: self.clone(),
                time_zone,
                start: None,
                end: None,
            },
            after: Some(after),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Rate(rate) => rate.fmt(f),
            Schedule::Cron(cron) => cron.fmt(f),
            Schedule::At(at) => at.fmt(f),
        }
    }
}

impl std::str::FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(expression: &str) -> Result<Schedule, ScheduleError> {
        Schedule::parse(expression)
    }
}

/// Reads `ScheduleExpressionTimezone`: an IANA time zone name such as `America/New_York`.
pub fn parse_time_zone(name: &str) -> Result<Tz, ScheduleError> {
    name.parse::<Tz>().map_err(|_| ScheduleError::TimeZone {
        name: name.to_string(),
    })
}

/// A schedule as EventBridge Scheduler runs it: an expression, its time zone and the
/// optional `StartDate` and `EndDate` (instants; Scheduler ignores both for `at`).
///
/// A fire time `t` is kept when `StartDate <= t <= EndDate` (Scheduler: invocations "might
/// occur on, or after, the StartDate" and "might stop on, or before, the EndDate"). A rate
/// with a start date fires at the start date and every period after it; without one, a
/// period after the instant it is asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timetable {
    schedule: Schedule,
    time_zone: Tz,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
}

impl Timetable {
    /// Checks that the start date is not after the end date.
    pub fn new(
        schedule: Schedule,
        time_zone: Tz,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Result<Timetable, ScheduleError> {
        if let (Some(start), Some(end)) = (start, end) {
            if start > end {
                return Err(ScheduleError::Bounds {
                    start: start.to_rfc3339(),
                    end: end.to_rfc3339(),
                });
            }
        }
        Ok(Timetable {
            schedule,
            time_zone,
            start,
            end,
        })
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The first fire time strictly after `after` within the bounds.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (start, end) = match self.schedule {
            Schedule::At(_) => (None, None),
            _ => (self.start, self.end),
        };
        let next = match (&self.schedule, start) {
            (Schedule::Rate(rate), Some(start)) => {
                if after < start {
                    Some(start)
                } else {
                    let period = rate.period().num_seconds();
                    let elapsed = (after - start).num_seconds();
                    let periods = elapsed.div_euclid(period) + 1;
                    start.checked_add_signed(TimeDelta::seconds(periods.checked_mul(period)?))
                }
            }
            (schedule, Some(start)) if after < start => {
                // The start date itself can be a fire time ("on, or after, the StartDate").
                let just_before = start - TimeDelta::nanoseconds(1);
                schedule.next_after(just_before.max(after), self.time_zone)
            }
            (schedule, _) => schedule.next_after(after, self.time_zone),
        };
        next.filter(|next| end.is_none_or(|end| *next <= end))
    }

    /// The fire times strictly after `after`, in order, within the bounds.
    pub fn fire_times(&self, after: DateTime<Utc>) -> FireTimes {
        FireTimes {
            timetable: self.clone(),
            after: Some(after),
        }
    }
}

/// The fire times of a schedule or timetable after an instant, in increasing order.
#[derive(Debug, Clone)]
pub struct FireTimes {
    timetable: Timetable,
    after: Option<DateTime<Utc>>,
}

impl Iterator for FireTimes {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        let next = self.timetable.next_after(self.after?);
        self.after = next;
        next
    }
}

/// The UTC instant of a local time under Scheduler's rules for recurring schedules: the
/// first of a repeated time, none for a skipped one.
fn resolve_recurring(local: NaiveDateTime, time_zone: Tz) -> Option<DateTime<Utc>> {
    match time_zone.from_local_datetime(&local) {
        LocalResult::Single(at) => Some(at.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// The UTC instant of an `at`: a skipped local time is read with the offset in force just
/// before the change (see the crate documentation).
fn resolve_at(local: NaiveDateTime, time_zone: Tz) -> DateTime<Utc> {
    resolve_recurring(local, time_zone).unwrap_or_else(|| {
        // No zone changes its offset twice within a day, so the offset a day before the
        // skipped time is the one in force just before the change.
        let before = local.and_utc() - TimeDelta::days(1);
        let offset = time_zone
            .offset_from_utc_datetime(&before.naive_utc())
            .fix();
        local.and_utc() - TimeDelta::seconds(i64::from(offset.local_minus_utc()))
    })
}

fn next_cron(cron: &Cron, after: DateTime<Utc>, time_zone: Tz) -> Option<DateTime<Utc>> {
    let local_after = after.with_timezone(&time_zone).naive_local();
    let mut from = local_after
        .with_second(0)
        .and_then(|local| local.with_nanosecond(0))
        .expect("second 0 exists")
        .checked_add_signed(TimeDelta::minutes(1))?;
    loop {
        let local = cron.first_at_or_after(from)?;
        // A skipped local time does not fire; a repeated one fires at its first moment,
        // which may already be behind `after` when `after` is in the second pass.
        match resolve_recurring(local, time_zone) {
            Some(fire) if fire > after => return Some(fire),
            _ => from = local.checked_add_signed(TimeDelta::minutes(1))?,
        }
    }
}

#[cfg(test)]
mod tests;
