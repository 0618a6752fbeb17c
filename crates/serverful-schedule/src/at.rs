//! `at(yyyy-mm-ddThh:mm:ss)`: EventBridge Scheduler's one-time schedule, a local date and
//! time in the schedule's time zone.

use std::fmt;

use chrono::{NaiveDateTime, Timelike};

use crate::error::ScheduleError;

/// A parsed `at(...)`: the local date and time it fires at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct At {
    local: NaiveDateTime,
}

impl At {
    pub fn local(&self) -> NaiveDateTime {
        self.local
    }

    /// Parses what is inside `at(` and `)`; `expression` is the whole text, for errors.
    pub(crate) fn parse(inner: &str, expression: &str) -> Result<At, ScheduleError> {
        let error = |reason: String| ScheduleError::At {
            expression: expression.to_string(),
            reason,
        };
        // The shape is checked byte by byte so that chrono's leniency (a one-digit month, a
        // fraction of a second) cannot let through what AWS's format does not allow.
        let shape = b"dddd-dd-ddTdd:dd:dd";
        let fits = inner.len() == shape.len()
            && inner
                .bytes()
                .zip(shape.iter())
                .all(|(byte, expected)| match expected {
                    b'd' => byte.is_ascii_digit(),
                    other => byte == *other,
                });
        if !fits {
            return Err(error(format!(
                "`{inner}` is not a date and time in the form yyyy-mm-ddThh:mm:ss, as in at(2030-01-31T09:30:00)"
            )));
        }
        let local = NaiveDateTime::parse_from_str(inner, "%Y-%m-%dT%H:%M:%S")
            .ok()
            // chrono reads second 60 as a leap second, which AWS's format has no room for.
            .filter(|local| local.nanosecond() == 0)
            .ok_or_else(|| error(format!("`{inner}` is not a date and time that exists")))?;
        Ok(At { local })
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at({})", self.local.format("%Y-%m-%dT%H:%M:%S"))
    }
}
