//! `cron(Minutes Hours Day-of-month Month Day-of-week Year)`: AWS's six-field cron dialect,
//! parsed into a syntax tree (for `Display`) and compiled into bit sets (for matching).
//!
//! The rules, from AWS's cron reference for EventBridge and Scheduler:
//!
//! | field        | values              | wildcards       |
//! |--------------|---------------------|-----------------|
//! | Minutes      | 0-59                | `, - * /`       |
//! | Hours        | 0-23                | `, - * /`       |
//! | Day-of-month | 1-31                | `, - * ? / L W` |
//! | Month        | 1-12 or JAN-DEC     | `, - * /`       |
//! | Day-of-week  | 1-7 or SUN-SAT      | `, - * ? L #`   |
//! | Year         | 1970-2199           | `, - * /`       |
//!
//! One of Day-of-month and Day-of-week must be `?` and the other must not. `#` stands alone
//! in its field (AWS: `3#1,6#3` is refused), and so do `L`, `LW` and `nW`. The finest
//! resolution is a minute, which six fields without seconds cannot go below.
//!
//! Where AWS's reference is silent, this follows the Quartz scheduler, whose dialect AWS's
//! is (the same wildcards, the same 1970-2199 years, Sunday as 1): names in any case
//! (`mon`), a range that wraps (`FRI-MON`, `22-2`), a step at most the field's largest value
//! (`*/60` in Minutes is refused), `L` alone in Day-of-week meaning Saturday, the last day
//! of the week, and `nW` the weekday nearest the nth in the same month (`1W` on a Saturday
//! is Monday the 3rd; for a day the month does not have, the weekday nearest it).

use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike};

use crate::error::{CronField, ScheduleError};

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// The first and last year a cron expression can name.
pub const FIRST_YEAR: i32 = 1970;
pub const LAST_YEAR: i32 = 2199;

/// One value of a field, remembering whether it was written as a name (`MON`) so that
/// `Display` writes it back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Value {
    pub number: u16,
    pub named: bool,
}

/// Where a step (`/`) starts counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepStart {
    /// `*/5`: the whole field.
    All,
    /// `3/10`: from 3 to the field's last value.
    From(Value),
    /// `10-40/5`: within the range.
    Range(Value, Value),
}

/// One item of a comma-separated list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Item {
    Value(Value),
    /// `a-b`, wrapping past the field's last value when `a > b`.
    Range(Value, Value),
    Step {
        start: StepStart,
        step: u16,
    },
}

/// A field made of `*` or a list of items.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Set {
    All,
    Items(Vec<Item>),
}

/// The Day-of-month field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DayOfMonth {
    /// `?`: Day-of-week decides.
    Any,
    Set(Set),
    /// `L`: the last day of the month.
    Last,
    /// `LW`: the last weekday (Monday to Friday) of the month.
    LastWeekday,
    /// `15W`: the weekday nearest the 15th, in the same month.
    NearestWeekday(u8),
}

/// The Day-of-week field (1 is Sunday, 7 is Saturday).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DayOfWeek {
    /// `?`: Day-of-month decides.
    Any,
    Set(Set),
    /// `L`: the last day of the week, Saturday.
    Last,
    /// `5L`: the last such day of the month (`5L` is the last Thursday).
    LastOf(Value),
    /// `3#2`: the nth such day of the month (`3#2` is the second Tuesday).
    Nth(Value, u8),
}

/// A parsed cron expression: the syntax as written and the values each field allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cron {
    minutes: Set,
    hours: Set,
    day_of_month: DayOfMonth,
    month: Set,
    day_of_week: DayOfWeek,
    year: Set,
    allowed: Allowed,
}

/// Bit sets of the allowed values of the plain fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Allowed {
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    days_of_week: u8,
    /// Bit `year - FIRST_YEAR`.
    years: [u64; 4],
}

/// What a field allows, for the parser.
struct FieldSpec {
    field: CronField,
    min: u16,
    max: u16,
    names: &'static [&'static str],
    steps: bool,
    wraps: bool,
}

const MINUTES: FieldSpec = FieldSpec {
    field: CronField::Minutes,
    min: 0,
    max: 59,
    names: &[],
    steps: true,
    wraps: true,
};
const HOURS: FieldSpec = FieldSpec {
    field: CronField::Hours,
    min: 0,
    max: 23,
    names: &[],
    steps: true,
    wraps: true,
};
const DAYS_OF_MONTH: FieldSpec = FieldSpec {
    field: CronField::DayOfMonth,
    min: 1,
    max: 31,
    names: &[],
    steps: true,
    wraps: true,
};
const MONTHS: FieldSpec = FieldSpec {
    field: CronField::Month,
    min: 1,
    max: 12,
    names: &MONTH_NAMES,
    steps: true,
    wraps: true,
};
// AWS's reference lists no `/` for Day-of-week.
const DAYS_OF_WEEK: FieldSpec = FieldSpec {
    field: CronField::DayOfWeek,
    min: 1,
    max: 7,
    names: &DAY_NAMES,
    steps: false,
    wraps: true,
};
// A year range cannot wrap: there is no year after 2199 to wrap through.
const YEARS: FieldSpec = FieldSpec {
    field: CronField::Year,
    min: FIRST_YEAR as u16,
    max: LAST_YEAR as u16,
    names: &[],
    steps: true,
    wraps: false,
};

struct Parser<'a> {
    expression: &'a str,
}

impl Parser<'_> {
    fn error(&self, field: Option<CronField>, reason: impl Into<String>) -> ScheduleError {
        ScheduleError::Cron {
            expression: self.expression.to_string(),
            field,
            reason: reason.into(),
        }
    }

    fn value(&self, spec: &FieldSpec, text: &str) -> Result<Value, ScheduleError> {
        if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
            let number = text
                .parse::<u16>()
                .ok()
                .filter(|number| (spec.min..=spec.max).contains(number));
            return match number {
                Some(number) => Ok(Value {
                    number,
                    named: false,
                }),
                None => Err(self.error(
                    Some(spec.field),
                    format!(
                        "`{text}` is out of range: the values are {}-{}",
                        spec.min, spec.max
                    ),
                )),
            };
        }
        if let Some(index) = spec.names.iter().position(|name| *name == text) {
            let number = spec.min + u16::try_from(index).expect("at most 12 names");
            return Ok(Value {
                number,
                named: true,
            });
        }
        let names = match spec.names.first().zip(spec.names.last()) {
            Some((first, last)) => format!(" or {first}-{last}"),
            None => String::new(),
        };
        Err(self.error(
            Some(spec.field),
            format!(
                "`{text}` is not a value: the values are {}-{}{names}",
                spec.min, spec.max
            ),
        ))
    }

    fn range(&self, spec: &FieldSpec, text: &str) -> Result<(Value, Value), ScheduleError> {
        let (from, to) = text.split_once('-').expect("the caller saw a dash");
        let (from, to) = (self.value(spec, from)?, self.value(spec, to)?);
        if from.number > to.number && !spec.wraps {
            return Err(self.error(
                Some(spec.field),
                format!("the range `{text}` runs backwards: write the smaller value first"),
            ));
        }
        Ok((from, to))
    }

    fn item(&self, spec: &FieldSpec, text: &str) -> Result<Item, ScheduleError> {
        if let Some((start, step)) = text.split_once('/') {
            if !spec.steps {
                return Err(self.error(
                    Some(spec.field),
                    format!("`{text}`: the {} field takes no `/` increments", spec.field),
                ));
            }
            let start = if start == "*" {
                StepStart::All
            } else if start.contains('-') {
                let (from, to) = self.range(spec, start)?;
                StepStart::Range(from, to)
            } else {
                StepStart::From(self.value(spec, start)?)
            };
            let largest = spec.max;
            let step = Some(step)
                .filter(|step| !step.is_empty() && step.bytes().all(|byte| byte.is_ascii_digit()))
                .and_then(|step| step.parse::<u16>().ok())
                .filter(|step| (1..=largest).contains(step));
            return match step {
                Some(step) => Ok(Item::Step { start, step }),
                None => Err(self.error(
                    Some(spec.field),
                    format!("`{text}`: the increment after `/` must be a whole number from 1 to {largest}"),
                )),
            };
        }
        if text.contains('-') {
            let (from, to) = self.range(spec, text)?;
            return Ok(Item::Range(from, to));
        }
        Ok(Item::Value(self.value(spec, text)?))
    }

    fn set(&self, spec: &FieldSpec, text: &str) -> Result<Set, ScheduleError> {
        if text == "*" {
            return Ok(Set::All);
        }
        if text == "?" {
            return Err(self.error(
                Some(spec.field),
                format!(
                    "`?` is allowed only in Day-of-month and Day-of-week, not in {}",
                    spec.field
                ),
            ));
        }
        let mut items = Vec::new();
        for item in text.split(',') {
            if item.is_empty() {
                return Err(
                    self.error(Some(spec.field), format!("`{text}` has an empty list item"))
                );
            }
            if item == "*" {
                return Err(self.error(
                    Some(spec.field),
                    format!("`{text}`: `*` already means every value and cannot be part of a list"),
                ));
            }
            // Names such as JUL and WED hold the letters of wildcards, so a wildcard is
            // blamed only for an item that does not parse.
            let parsed = self.item(spec, item).map_err(|error| {
                match item.chars().find(|c| matches!(c, '?' | 'L' | 'W' | '#')) {
                    Some(wildcard) => self.error(
                        Some(spec.field),
                        special_wildcard_reason(spec.field, text, wildcard),
                    ),
                    None => error,
                }
            })?;
            items.push(parsed);
        }
        Ok(Set::Items(items))
    }

    fn day_of_month(&self, text: &str) -> Result<DayOfMonth, ScheduleError> {
        match text {
            "?" => return Ok(DayOfMonth::Any),
            "L" => return Ok(DayOfMonth::Last),
            "LW" => return Ok(DayOfMonth::LastWeekday),
            _ => {}
        }
        if let Some(day) = text.strip_suffix('W') {
            if !day.is_empty() && day.bytes().all(|byte| byte.is_ascii_digit()) {
                let day = self.value(&DAYS_OF_MONTH, day)?;
                return Ok(DayOfMonth::NearestWeekday(
                    u8::try_from(day.number).expect("a day is at most 31"),
                ));
            }
        }
        Ok(DayOfMonth::Set(self.set(&DAYS_OF_MONTH, text)?))
    }

    fn day_of_week(&self, text: &str) -> Result<DayOfWeek, ScheduleError> {
        match text {
            "?" => return Ok(DayOfWeek::Any),
            "L" => return Ok(DayOfWeek::Last),
            _ => {}
        }
        if !text.contains(',') {
            if let Some(day) = text.strip_suffix('L') {
                if !day.contains(['L', '#', '-', '*']) {
                    return Ok(DayOfWeek::LastOf(self.value(&DAYS_OF_WEEK, day)?));
                }
            }
            if let Some((day, nth)) = text.split_once('#') {
                let day = self.value(&DAYS_OF_WEEK, day)?;
                let nth = Some(nth)
                    .filter(|nth| !nth.is_empty() && nth.bytes().all(|byte| byte.is_ascii_digit()))
                    .and_then(|nth| nth.parse::<u8>().ok())
                    .filter(|nth| (1..=5).contains(nth));
                return match nth {
                    Some(nth) => Ok(DayOfWeek::Nth(day, nth)),
                    None => Err(self.error(
                        Some(CronField::DayOfWeek),
                        format!("`{text}`: the number after `#` must be from 1 to 5 (the nth such day of the month)"),
                    )),
                };
            }
        }
        Ok(DayOfWeek::Set(self.set(&DAYS_OF_WEEK, text)?))
    }
}

fn special_wildcard_reason(field: CronField, text: &str, wildcard: char) -> String {
    let allowed = matches!(
        (field, wildcard),
        (CronField::DayOfMonth, '?' | 'L' | 'W') | (CronField::DayOfWeek, '?' | 'L' | '#')
    );
    if !allowed {
        return format!("`{text}`: the {field} field takes no `{wildcard}` wildcard");
    }
    match wildcard {
        '?' => format!("`{text}`: `?` stands alone in its field"),
        '#' => format!(
            "`{text}`: a `#` expression stands alone in the Day-of-week field (`3#1,6#3` is two expressions)"
        ),
        _ if field == CronField::DayOfMonth => format!(
            "`{text}`: `L`, `LW` and `nW` (a single day, as in 15W) stand alone in the Day-of-month field"
        ),
        _ => format!("`{text}`: `L` and `nL` (a single day, as in 5L) stand alone in the Day-of-week field"),
    }
}

impl Cron {
    /// Parses what is inside `cron(` and `)`; `expression` is the whole text, for errors.
    pub(crate) fn parse(inner: &str, expression: &str) -> Result<Cron, ScheduleError> {
        let parser = Parser { expression };
        let upper = inner.to_ascii_uppercase();
        let fields: Vec<&str> = upper.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(parser.error(
                None,
                format!(
                    "a cron expression has six fields (Minutes Hours Day-of-month Month Day-of-week Year), this one has {}",
                    fields.len()
                ),
            ));
        }
        let minutes = parser.set(&MINUTES, fields[0])?;
        let hours = parser.set(&HOURS, fields[1])?;
        let day_of_month = parser.day_of_month(fields[2])?;
        let month = parser.set(&MONTHS, fields[3])?;
        let day_of_week = parser.day_of_week(fields[4])?;
        let year = parser.set(&YEARS, fields[5])?;
        match (&day_of_month, &day_of_week) {
            (DayOfMonth::Any, DayOfWeek::Any) => {
                return Err(parser.error(
                    None,
                    "Day-of-month and Day-of-week cannot both be `?`: give one of them (`*` for every day), as in cron(0 10 * * ? *)",
                ))
            }
            (DayOfMonth::Any, _) | (_, DayOfWeek::Any) => {}
            _ => {
                return Err(parser.error(
                    None,
                    "Day-of-month and Day-of-week cannot both be specified: use `?` in one of them, as in cron(0 10 * * ? *) or cron(0 10 ? * MON-FRI *)",
                ))
            }
        }
        let allowed = Allowed {
            minutes: bits(&MINUTES, &minutes),
            hours: u32::try_from(bits(&HOURS, &hours)).expect("24 bits"),
            days_of_month: match &day_of_month {
                DayOfMonth::Set(set) => u32::try_from(bits(&DAYS_OF_MONTH, set)).expect("32 bits"),
                _ => 0,
            },
            months: u16::try_from(bits(&MONTHS, &month)).expect("13 bits"),
            days_of_week: match &day_of_week {
                DayOfWeek::Set(set) => u8::try_from(bits(&DAYS_OF_WEEK, set)).expect("8 bits"),
                _ => 0,
            },
            years: year_bits(&year),
        };
        Ok(Cron {
            minutes,
            hours,
            day_of_month,
            month,
            day_of_week,
            year,
            allowed,
        })
    }

    pub fn day_of_month(&self) -> &DayOfMonth {
        &self.day_of_month
    }

    pub fn day_of_week(&self) -> &DayOfWeek {
        &self.day_of_week
    }

    fn year_allowed(&self, year: i32) -> bool {
        (FIRST_YEAR..=LAST_YEAR).contains(&year) && {
            let index = usize::try_from(year - FIRST_YEAR).expect("in range");
            self.allowed.years[index / 64] & (1 << (index % 64)) != 0
        }
    }

    fn month_allowed(&self, month: u32) -> bool {
        self.allowed.months & (1 << month) != 0
    }

    /// Whether the expression's date fields (Year, Month and the two day fields) allow `date`.
    pub fn matches_date(&self, date: NaiveDate) -> bool {
        self.year_allowed(date.year()) && self.month_allowed(date.month()) && self.day_allowed(date)
    }

    /// Whether every field allows the local date and time `at` (seconds ignored).
    pub fn matches(&self, at: NaiveDateTime) -> bool {
        self.matches_date(at.date())
            && self.allowed.hours & (1 << at.hour()) != 0
            && self.allowed.minutes & (1 << at.minute()) != 0
    }

    fn day_allowed(&self, date: NaiveDate) -> bool {
        let day = date.day();
        let last = last_day_of_month(date);
        match &self.day_of_month {
            DayOfMonth::Any => {}
            DayOfMonth::Set(_) => return self.allowed.days_of_month & (1 << day) != 0,
            DayOfMonth::Last => return day == last,
            DayOfMonth::LastWeekday => return day == nearest_weekday(date, last),
            DayOfMonth::NearestWeekday(target) => {
                return day == nearest_weekday(date, u32::from(*target))
            }
        }
        // 1 is Sunday, as in AWS's Day-of-week field.
        let weekday = date.weekday().number_from_sunday();
        match &self.day_of_week {
            DayOfWeek::Any => false,
            DayOfWeek::Set(_) => self.allowed.days_of_week & (1 << weekday) != 0,
            DayOfWeek::Last => weekday == 7,
            DayOfWeek::LastOf(value) => weekday == u32::from(value.number) && day + 7 > last,
            DayOfWeek::Nth(value, nth) => {
                weekday == u32::from(value.number) && (day - 1) / 7 + 1 == u32::from(*nth)
            }
        }
    }

    /// The first local date and time at or after `from` (whole minutes) that the expression
    /// allows, or `None` when no year up to 2199 has one.
    pub(crate) fn first_at_or_after(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut date = from.date();
        let mut floor = Some((from.hour(), from.minute()));
        loop {
            let year = date.year();
            if year > LAST_YEAR {
                return None;
            }
            if !self.year_allowed(year) {
                let next_year = (year.max(FIRST_YEAR - 1) + 1..=LAST_YEAR)
                    .find(|year| self.year_allowed(*year))?;
                date = NaiveDate::from_ymd_opt(next_year, 1, 1).expect("January 1st exists");
                floor = None;
                continue;
            }
            if !self.month_allowed(date.month()) {
                date = first_of_next_month(date);
                floor = None;
                continue;
            }
            if self.day_allowed(date) {
                if let Some(time) = self.first_time_at_or_after(floor) {
                    return Some(date.and_time(time));
                }
            }
            date = date.succ_opt()?;
            floor = None;
        }
    }

    fn first_time_at_or_after(&self, floor: Option<(u32, u32)>) -> Option<NaiveTime> {
        let (floor_hour, floor_minute) = floor.unwrap_or((0, 0));
        for hour in floor_hour..24 {
            if self.allowed.hours & (1 << hour) == 0 {
                continue;
            }
            let first_minute = if hour == floor_hour { floor_minute } else { 0 };
            let minutes = self.allowed.minutes >> first_minute;
            if minutes != 0 {
                let minute = first_minute + minutes.trailing_zeros();
                return NaiveTime::from_hms_opt(hour, minute, 0);
            }
        }
        None
    }
}

/// The weekday (Monday to Friday) of `date`'s month nearest the day `target`, which may be
/// past the month's last day; of two equally near, the earlier.
fn nearest_weekday(date: NaiveDate, target: u32) -> u32 {
    let last = last_day_of_month(date);
    let first_of_month = date.with_day(1).expect("the 1st exists");
    let is_weekday = |day: u32| {
        let weekday = (first_of_month + TimeDelta::days(i64::from(day) - 1))
            .weekday()
            .number_from_monday();
        weekday <= 5
    };
    (1..=last)
        .filter(|day| is_weekday(*day))
        .min_by_key(|day| (day.abs_diff(target), *day))
        .expect("every month has a weekday")
}

fn last_day_of_month(date: NaiveDate) -> u32 {
    first_of_next_month(date)
        .pred_opt()
        .expect("a day before the 1st")
        .day()
}

fn first_of_next_month(date: NaiveDate) -> NaiveDate {
    let (year, month) = if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1).expect("the 1st of a month exists")
}

/// The values `set` allows, as bits numbered by value.
fn bits(spec: &FieldSpec, set: &Set) -> u64 {
    values(spec, set).fold(0, |bits, value| bits | 1 << value)
}

fn year_bits(set: &Set) -> [u64; 4] {
    let mut bits = [0u64; 4];
    for year in values(&YEARS, set) {
        let index = usize::from(year - YEARS.min);
        bits[index / 64] |= 1 << (index % 64);
    }
    bits
}

/// Every value `set` allows in `spec`'s field, possibly repeated.
fn values<'a>(spec: &'a FieldSpec, set: &'a Set) -> Box<dyn Iterator<Item = u16> + 'a> {
    let span = spec.max - spec.min + 1;
    // The values from `from` to `to`, wrapping past the field's end, every `step`.
    let walk = move |from: u16, to: u16, step: u16| {
        let length = if from <= to {
            to - from
        } else {
            span - (from - to)
        };
        (0..=length).step_by(usize::from(step)).map(move |offset| {
            let value = from + offset;
            if value > spec.max {
                value - span
            } else {
                value
            }
        })
    };
    match set {
        Set::All => Box::new(spec.min..=spec.max),
        Set::Items(items) => Box::new(items.iter().flat_map(
            move |item| -> Box<dyn Iterator<Item = u16>> {
                match *item {
                    Item::Value(value) => Box::new(std::iter::once(value.number)),
                    Item::Range(from, to) => Box::new(walk(from.number, to.number, 1)),
                    Item::Step { start, step } => match start {
                        StepStart::All => Box::new(walk(spec.min, spec.max, step)),
                        StepStart::From(from) => Box::new(walk(from.number, spec.max, step)),
                        StepStart::Range(from, to) => Box::new(walk(from.number, to.number, step)),
                    },
                }
            },
        )),
    }
}

struct ShowValue<'a>(Value, &'a [&'a str], u16);

impl fmt::Display for ShowValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ShowValue(value, names, min) = *self;
        match names.get(usize::from(value.number - min)) {
            Some(name) if value.named => f.write_str(name),
            _ => write!(f, "{}", value.number),
        }
    }
}

fn write_set(f: &mut fmt::Formatter<'_>, spec: &FieldSpec, set: &Set) -> fmt::Result {
    let show = |value: Value| ShowValue(value, spec.names, spec.min);
    match set {
        Set::All => f.write_str("*"),
        Set::Items(items) => {
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    f.write_str(",")?;
                }
                match *item {
                    Item::Value(value) => write!(f, "{}", show(value))?,
                    Item::Range(from, to) => write!(f, "{}-{}", show(from), show(to))?,
                    Item::Step { start, step } => match start {
                        StepStart::All => write!(f, "*/{step}")?,
                        StepStart::From(from) => write!(f, "{}/{step}", show(from))?,
                        StepStart::Range(from, to) => {
                            write!(f, "{}-{}/{step}", show(from), show(to))?
                        }
                    },
                }
            }
            Ok(())
        }
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cron(")?;
        write_set(f, &MINUTES, &self.minutes)?;
        f.write_str(" ")?;
        write_set(f, &HOURS, &self.hours)?;
        f.write_str(" ")?;
        match &self.day_of_month {
            DayOfMonth::Any => f.write_str("?")?,
            DayOfMonth::Set(set) => write_set(f, &DAYS_OF_MONTH, set)?,
            DayOfMonth::Last => f.write_str("L")?,
            DayOfMonth::LastWeekday => f.write_str("LW")?,
            DayOfMonth::NearestWeekday(day) => write!(f, "{day}W")?,
        }
        f.write_str(" ")?;
        write_set(f, &MONTHS, &self.month)?;
        f.write_str(" ")?;
        let show = |value: Value| ShowValue(value, &DAY_NAMES, 1);
        match &self.day_of_week {
            DayOfWeek::Any => f.write_str("?")?,
            DayOfWeek::Set(set) => write_set(f, &DAYS_OF_WEEK, set)?,
            DayOfWeek::Last => f.write_str("L")?,
            DayOfWeek::LastOf(value) => write!(f, "{}L", show(*value))?,
            DayOfWeek::Nth(value, nth) => write!(f, "{}#{nth}", show(*value))?,
        }
        f.write_str(" ")?;
        write_set(f, &YEARS, &self.year)?;
        f.write_str(")")
    }
}
