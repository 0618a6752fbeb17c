//! `rate(value unit)`: a fixed interval, as EventBridge rules and EventBridge Scheduler
//! define it.
//!
//! AWS's rules: the value is a positive whole number; the unit is `minute`, `hour` or `day`
//! for the value 1 and `minutes`, `hours` or `days` for any larger value (`rate(1 hours)` and
//! `rate(5 hour)` are refused). A day is 24 hours on the clock whatever the time zone does:
//! Scheduler documents that a rate of days stays 24 hours apart across a daylight-saving
//! change, so a rate never looks at a time zone.

use std::fmt;

use chrono::TimeDelta;

use crate::error::ScheduleError;

/// The unit of a rate expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateUnit {
    Minutes,
    Hours,
    Days,
}

impl RateUnit {
    fn seconds(self) -> i64 {
        match self {
            RateUnit::Minutes => 60,
            RateUnit::Hours => 3_600,
            RateUnit::Days => 86_400,
        }
    }

    fn word(self, value: u32) -> &'static str {
        match (self, value == 1) {
            (RateUnit::Minutes, true) => "minute",
            (RateUnit::Minutes, false) => "minutes",
            (RateUnit::Hours, true) => "hour",
            (RateUnit::Hours, false) => "hours",
            (RateUnit::Days, true) => "day",
            (RateUnit::Days, false) => "days",
        }
    }
}

/// A parsed `rate(value unit)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    value: u32,
    unit: RateUnit,
}

impl Rate {
    /// The number of units between two fire times (at least 1).
    pub fn value(&self) -> u32 {
        self.value
    }

    pub fn unit(&self) -> RateUnit {
        self.unit
    }

    /// The time between two fire times.
    pub fn period(&self) -> TimeDelta {
        TimeDelta::seconds(i64::from(self.value) * self.unit.seconds())
    }

    /// Parses what is inside `rate(` and `)`; `expression` is the whole text, for errors.
    pub(crate) fn parse(inner: &str, expression: &str) -> Result<Rate, ScheduleError> {
        let error = |reason: String| ScheduleError::Rate {
            expression: expression.to_string(),
            reason,
        };
        let Some((value_text, unit_text)) = inner.split_once(' ') else {
            return Err(error(
                "a rate expression has two fields separated by one space, a value and a unit, as in rate(5 minutes)"
                    .to_string(),
            ));
        };
        if value_text.is_empty() || !value_text.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(error(format!(
                "the value `{value_text}` is not a positive whole number"
            )));
        }
        let value: u32 = value_text.parse().map_err(|_| {
            error(format!(
                "the value `{value_text}` is too large (at most {})",
                u32::MAX
            ))
        })?;
        if value == 0 {
            return Err(error(
                "the value must be a positive number, not 0".to_string(),
            ));
        }
        let (unit, plural) = match unit_text {
            "minute" => (RateUnit::Minutes, false),
            "minutes" => (RateUnit::Minutes, true),
            "hour" => (RateUnit::Hours, false),
            "hours" => (RateUnit::Hours, true),
            "day" => (RateUnit::Days, false),
            "days" => (RateUnit::Days, true),
            other => {
                return Err(error(format!(
                    "the unit `{other}` is not one of minute, minutes, hour, hours, day, days"
                )))
            }
        };
        if plural != (value > 1) {
            let right = unit.word(value);
            return Err(error(format!(
                "the unit must be singular for the value 1 and plural for larger values: write rate({value} {right})"
            )));
        }
        Ok(Rate { value, unit })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate({} {})", self.value, self.unit.word(self.value))
    }
}
