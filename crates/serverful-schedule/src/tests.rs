//! Unit tests of every expression feature and every error, through `fires` and `refused`.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::{parse_time_zone, CronField, Schedule, ScheduleError, Timetable};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|error| panic!("test instant {text}: {error}"))
        .with_timezone(&Utc)
}

/// The first `count` fire times of `expression` after `after`, in `time_zone`, written in
/// that zone with their offset.
fn fires_in(expression: &str, time_zone: Tz, after: &str, count: usize) -> Vec<String> {
    let schedule = Schedule::parse(expression).unwrap_or_else(|error| panic!("{error}"));
    schedule
        .fire_times(utc(after), time_zone)
        .take(count)
        .map(|fire| {
            fire.with_timezone(&time_zone)
                .format("%Y-%m-%d %a %H:%M%:z")
                .to_string()
        })
        .collect()
}

fn fires(expression: &str, after: &str, count: usize) -> Vec<String> {
    fires_in(expression, chrono_tz::UTC, after, count)
}

fn refused(expression: &str) -> String {
    match Schedule::parse(expression) {
        Ok(schedule) => panic!("{expression} was accepted as {schedule:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn rate_units_and_plurals() {
    for (expression, seconds) in [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3_600),
        ("rate(12 hours)", 43_200),
        ("rate(1 day)", 86_400),
        ("rate(7 days)", 604_800),
    ] {
        let Ok(Schedule::Rate(rate)) = Schedule::parse(expression) else {
            panic!("{expression} is a rate")
        };
        assert_eq!(rate.period().num_seconds(), seconds, "{expression}");
        assert_eq!(rate.to_string(), expression);
    }
    assert_eq!(
        fires("rate(5 minutes)", "2025-03-01T10:00:30Z", 3),
        [
            "2025-03-01 Sat 10:05+00:00",
            "2025-03-01 Sat 10:10+00:00",
            "2025-03-01 Sat 10:15+00:00"
        ]
    );
}

#[test]
fn rate_errors_use_aws_wording() {
    assert_eq!(
        refused("rate(1 minutes)"),
        "Parameter ScheduleExpression is not valid. `rate(1 minutes)`: the unit must be singular for the value 1 and plural for larger values: write rate(1 minute)"
    );
    assert_eq!(
        refused("rate(5 hour)"),
        "Parameter ScheduleExpression is not valid. `rate(5 hour)`: the unit must be singular for the value 1 and plural for larger values: write rate(5 hours)"
    );
    assert!(refused("rate(0 minutes)").ends_with("the value must be a positive number, not 0"));
    assert!(refused("rate(-1 minutes)").contains("is not a positive whole number"));
    assert!(refused("rate(1.5 hours)").contains("is not a positive whole number"));
    assert!(refused("rate(5 seconds)").contains("the unit `seconds` is not one of"));
    assert!(refused("rate(5 Minutes)").contains("the unit `Minutes` is not one of"));
    assert!(refused("rate(5)").contains("two fields separated by one space"));
    assert!(refused("rate(5  minutes)").contains("is not one of"));
    assert!(refused("rate(99999999999 minutes)").contains("too large"));
    assert!(refused("rate()").contains("two fields"));
    for expression in [
        "",
        "rate 5 minutes",
        "RATE(5 minutes)",
        "rate(5 minutes",
        " rate(5 minutes)",
        "every 5 minutes",
    ] {
        assert!(
            matches!(
                Schedule::parse(expression),
                Err(ScheduleError::UnknownForm { .. })
            ),
            "{expression}"
        );
    }
}

#[test]
fn cron_plain_values_lists_ranges_and_steps() {
    assert_eq!(
        fires("cron(0 10 * * ? *)", "2025-01-01T10:00:00Z", 2),
        ["2025-01-02 Thu 10:00+00:00", "2025-01-03 Fri 10:00+00:00"]
    );
    assert_eq!(
        fires("cron(15,45 8-9 * * ? *)", "2025-01-01T00:00:00Z", 5),
        [
            "2025-01-01 Wed 08:15+00:00",
            "2025-01-01 Wed 08:45+00:00",
            "2025-01-01 Wed 09:15+00:00",
            "2025-01-01 Wed 09:45+00:00",
            "2025-01-02 Thu 08:15+00:00"
        ]
    );
    // 1/10 starts at minute 1 (AWS's example: the 11th, 21st and 31st minutes).
    assert_eq!(
        fires("cron(1/10 0 * * ? *)", "2025-01-01T00:00:00Z", 7),
        [
            "2025-01-01 Wed 00:01+00:00",
            "2025-01-01 Wed 00:11+00:00",
            "2025-01-01 Wed 00:21+00:00",
            "2025-01-01 Wed 00:31+00:00",
            "2025-01-01 Wed 00:41+00:00",
            "2025-01-01 Wed 00:51+00:00",
            "2025-01-02 Thu 00:01+00:00"
        ]
    );
    assert_eq!(
        fires("cron(0 */6 * * ? *)", "2025-01-01T00:00:00Z", 4),
        [
            "2025-01-01 Wed 06:00+00:00",
            "2025-01-01 Wed 12:00+00:00",
            "2025-01-01 Wed 18:00+00:00",
            "2025-01-02 Thu 00:00+00:00"
        ]
    );
    assert_eq!(
        fires("cron(0 10-20/5 * * ? *)", "2025-01-01T00:00:00Z", 4),
        [
            "2025-01-01 Wed 10:00+00:00",
            "2025-01-01 Wed 15:00+00:00",
            "2025-01-01 Wed 20:00+00:00",
            "2025-01-02 Thu 10:00+00:00"
        ]
    );
    // Every minute: AWS's finest resolution.
    assert_eq!(
        fires("cron(* * * * ? *)", "2025-01-01T00:00:59.999Z", 2),
        ["2025-01-01 Wed 00:01+00:00", "2025-01-01 Wed 00:02+00:00"]
    );
    // A day-of-month step: 1, 11, 21, 31.
    assert_eq!(
        fires("cron(0 0 1/10 * ? *)", "2025-01-01T00:00:00Z", 4),
        [
            "2025-01-11 Sat 00:00+00:00",
            "2025-01-21 Tue 00:00+00:00",
            "2025-01-31 Fri 00:00+00:00",
            "2025-02-01 Sat 00:00+00:00"
        ]
    );
}

#[test]
fn cron_names_in_any_case_and_wrapping_ranges() {
    assert_eq!(
        fires("cron(0 18 ? * MON-FRI *)", "2025-01-03T18:00:00Z", 2),
        ["2025-01-06 Mon 18:00+00:00", "2025-01-07 Tue 18:00+00:00"]
    );
    assert_eq!(
        fires("cron(0 0 1 jan,Jul ? *)", "2025-01-01T00:00:00Z", 2),
        ["2025-07-01 Tue 00:00+00:00", "2026-01-01 Thu 00:00+00:00"]
    );
    assert_eq!(
        fires("cron(0 12 ? * FRI-MON *)", "2025-01-01T00:00:00Z", 5),
        [
            "2025-01-03 Fri 12:00+00:00",
            "2025-01-04 Sat 12:00+00:00",
            "2025-01-05 Sun 12:00+00:00",
            "2025-01-06 Mon 12:00+00:00",
            "2025-01-10 Fri 12:00+00:00"
        ]
    );
    assert_eq!(
        fires("cron(30 22-1 * * ? *)", "2025-01-01T00:00:00Z", 4),
        [
            "2025-01-01 Wed 00:30+00:00",
            "2025-01-01 Wed 01:30+00:00",
            "2025-01-01 Wed 22:30+00:00",
            "2025-01-01 Wed 23:30+00:00"
        ]
    );
    assert_eq!(
        fires("cron(0 0 1 NOV-FEB/2 ? *)", "2025-01-01T00:00:00Z", 3),
        [
            "2025-11-01 Sat 00:00+00:00",
            "2026-01-01 Thu 00:00+00:00",
            "2026-11-01 Sun 00:00+00:00"
        ]
    );
    // 1 is Sunday, 7 is Saturday.
    assert_eq!(
        fires("cron(0 9 ? * 1,7 *)", "2025-01-01T00:00:00Z", 2),
        ["2025-01-04 Sat 09:00+00:00", "2025-01-05 Sun 09:00+00:00"]
    );
}

#[test]
fn cron_last_day_and_weekdays() {
    assert_eq!(
        fires("cron(0 0 L * ? *)", "2024-01-31T00:00:00Z", 3),
        [
            "2024-02-29 Thu 00:00+00:00",
            "2024-03-31 Sun 00:00+00:00",
            "2024-04-30 Tue 00:00+00:00"
        ]
    );
    // The last weekday: 2024-03-31 is a Sunday, 2024-08-31 a Saturday.
    assert_eq!(
        fires("cron(0 0 LW 3,8 ? 2024)", "2024-01-01T00:00:00Z", 3),
        ["2024-03-29 Fri 00:00+00:00", "2024-08-30 Fri 00:00+00:00"]
    );
    // 15W: 2024-06-15 is a Saturday (Friday the 14th), 2024-09-15 a Sunday (Monday the 16th),
    // 2024-05-15 a Wednesday.
    assert_eq!(
        fires("cron(0 0 15W 5,6,9 ? 2024)", "2024-01-01T00:00:00Z", 3),
        [
            "2024-05-15 Wed 00:00+00:00",
            "2024-06-14 Fri 00:00+00:00",
            "2024-09-16 Mon 00:00+00:00"
        ]
    );
    // 1W never leaves the month: 2024-06-01 is a Saturday, so Monday the 3rd.
    assert_eq!(
        fires("cron(0 0 1W 6 ? 2024)", "2024-01-01T00:00:00Z", 1),
        ["2024-06-03 Mon 00:00+00:00"]
    );
    // 31W in a month of 30 days whose 30th is a Sunday: the nearest weekday, Friday the 28th.
    assert_eq!(
        fires("cron(0 0 31W 6 ? 2024)", "2024-01-01T00:00:00Z", 1),
        ["2024-06-28 Fri 00:00+00:00"]
    );
    // The last Saturday, Saturday itself being the last day of the week.
    assert_eq!(
        fires("cron(0 0 ? * L *)", "2025-01-01T00:00:00Z", 2),
        ["2025-01-04 Sat 00:00+00:00", "2025-01-11 Sat 00:00+00:00"]
    );
}

#[test]
fn cron_nth_and_last_weekday_of_month() {
    // 3#2: the second Tuesday.
    assert_eq!(
        fires("cron(0 10 ? * 3#2 *)", "2025-01-01T00:00:00Z", 3),
        [
            "2025-01-14 Tue 10:00+00:00",
            "2025-02-11 Tue 10:00+00:00",
            "2025-03-11 Tue 10:00+00:00"
        ]
    );
    // A fifth Friday only in the months that have one.
    assert_eq!(
        fires("cron(0 10 ? * FRI#5 *)", "2025-01-01T00:00:00Z", 3),
        [
            "2025-01-31 Fri 10:00+00:00",
            "2025-05-30 Fri 10:00+00:00",
            "2025-08-29 Fri 10:00+00:00"
        ]
    );
    // 5L: the last Thursday.
    assert_eq!(
        fires("cron(0 10 ? * 5L *)", "2025-01-01T00:00:00Z", 2),
        ["2025-01-30 Thu 10:00+00:00", "2025-02-27 Thu 10:00+00:00"]
    );
    assert_eq!(
        fires("cron(0 10 ? * THUL *)", "2025-01-01T00:00:00Z", 1),
        ["2025-01-30 Thu 10:00+00:00"]
    );
}

#[test]
fn cron_year_field_bounds_the_schedule() {
    assert_eq!(
        fires("cron(0 0 1 1 ? 2026,2030-2031)", "2025-06-01T00:00:00Z", 4),
        [
            "2026-01-01 Thu 00:00+00:00",
            "2030-01-01 Tue 00:00+00:00",
            "2031-01-01 Wed 00:00+00:00"
        ]
    );
    assert_eq!(
        fires("cron(0 0 1 1 ? 2100/50)", "2025-06-01T00:00:00Z", 3),
        ["2100-01-01 Fri 00:00+00:00", "2150-01-01 Thu 00:00+00:00"]
    );
    assert_eq!(
        fires("cron(0 0 1 1 ? 1970)", "2025-06-01T00:00:00Z", 1),
        Vec::<String>::new()
    );
    assert_eq!(
        fires("cron(59 23 31 12 ? *)", "2199-12-31T23:59:00Z", 1),
        Vec::<String>::new()
    );
    // Before 1970 the first fire is in 1970.
    assert_eq!(
        fires("cron(0 0 1 1 ? *)", "1900-06-01T00:00:00Z", 1),
        ["1970-01-01 Thu 00:00+00:00"]
    );
    // February 30th never comes.
    assert_eq!(
        fires("cron(0 0 30 2 ? *)", "2025-06-01T00:00:00Z", 1),
        Vec::<String>::new()
    );
}

#[test]
fn cron_errors_name_the_field_and_the_fix() {
    let expected = [
        ("cron(0 10 * * *)", "a cron expression has six fields (Minutes Hours Day-of-month Month Day-of-week Year), this one has 5"),
        ("cron(0 0 10 * * * *)", "this one has 7"),
        ("cron(0 10 * * * *)", "Day-of-month and Day-of-week cannot both be specified: use `?` in one of them"),
        ("cron(0 10 ? * ? *)", "Day-of-month and Day-of-week cannot both be `?`"),
        ("cron(0 10 1 * MON *)", "cannot both be specified"),
        ("cron(60 10 * * ? *)", "the Minutes field: `60` is out of range: the values are 0-59"),
        ("cron(0 24 * * ? *)", "the Hours field: `24` is out of range: the values are 0-23"),
        ("cron(0 0 0 * ? *)", "the Day-of-month field: `0` is out of range: the values are 1-31"),
        ("cron(0 0 32 * ? *)", "the Day-of-month field: `32` is out of range"),
        ("cron(0 0 1 13 ? *)", "the Month field: `13` is out of range: the values are 1-12"),
        ("cron(0 0 1 JANUARY ? *)", "the Month field: `JANUARY` is not a value: the values are 1-12 or JAN-DEC"),
        ("cron(0 0 ? * 0 *)", "the Day-of-week field: `0` is out of range: the values are 1-7"),
        ("cron(0 0 ? * 8 *)", "the Day-of-week field: `8` is out of range"),
        ("cron(0 0 ? * MONDAY *)", "`MONDAY` is not a value: the values are 1-7 or SUN-SAT"),
        ("cron(0 0 1 * ? 1969)", "the Year field: `1969` is out of range: the values are 1970-2199"),
        ("cron(0 0 1 * ? 2200)", "the Year field: `2200` is out of range"),
        ("cron(0 0 1 * ? 2030-2025)", "the Year field: the range `2030-2025` runs backwards"),
        ("cron(*/60 * * * ? *)", "the Minutes field: `*/60`: the increment after `/` must be a whole number from 1 to 59"),
        ("cron(0/0 * * * ? *)", "from 1 to 59"),
        ("cron(0 */24 * * ? *)", "the Hours field: `*/24`: the increment after `/` must be a whole number from 1 to 23"),
        ("cron(0 0 ? * 1/2 *)", "the Day-of-week field: `1/2`: the Day-of-week field takes no `/` increments"),
        ("cron(? 0 1 * ? *)", "the Minutes field: `?` is allowed only in Day-of-month and Day-of-week"),
        ("cron(L 0 1 * ? *)", "the Minutes field: `L`: the Minutes field takes no `L` wildcard"),
        ("cron(0 0 1 * ? L)", "the Year field: `L`: the Year field takes no `L` wildcard"),
        ("cron(0 0 1#2 * ? *)", "the Day-of-month field: `1#2`: the Day-of-month field takes no `#` wildcard"),
        ("cron(0 0 ? * 2W *)", "the Day-of-week field: `2W`: the Day-of-week field takes no `W` wildcard"),
        ("cron(0 0 ? * 3#1,6#3 *)", "a `#` expression stands alone in the Day-of-week field"),
        ("cron(0 0 ? * 3#6 *)", "the number after `#` must be from 1 to 5"),
        ("cron(0 0 ? * 3#0 *)", "the number after `#` must be from 1 to 5"),
        ("cron(0 0 L,15 * ? *)", "`L`, `LW` and `nW` (a single day, as in 15W) stand alone"),
        ("cron(0 0 L-2 * ? *)", "stand alone in the Day-of-month field"),
        ("cron(0 0 1-5W * ? *)", "stand alone in the Day-of-month field"),
        ("cron(0 0 ? * 5L,6 *)", "`L` and `nL` (a single day, as in 5L) stand alone"),
        ("cron(0 0 1,,2 * ? *)", "has an empty list item"),
        ("cron(0 0 *,1 * ? *)", "`*` already means every value"),
        ("cron(0 0 1- * ? *)", "`` is not a value"),
        ("cron(a 0 1 * ? *)", "the Minutes field: `A` is not a value: the values are 0-59"),
        ("cron()", "this one has 0"),
    ];
    for (expression, reason) in expected {
        let message = refused(expression);
        assert!(
            message.starts_with("Parameter ScheduleExpression is not valid. "),
            "{message}"
        );
        assert!(
            message.contains(reason),
            "{expression}: {message}\n does not contain {reason}"
        );
    }
    assert!(matches!(
        Schedule::parse("cron(60 10 * * ? *)"),
        Err(ScheduleError::Cron {
            field: Some(CronField::Minutes),
            ..
        })
    ));
}

#[test]
fn at_fires_once_in_its_time_zone() {
    assert_eq!(
        fires("at(2030-01-31T09:30:00)", "2025-01-01T00:00:00Z", 3),
        ["2030-01-31 Thu 09:30+00:00"]
    );
    assert_eq!(
        fires_in(
            "at(2030-07-01T09:30:00)",
            chrono_tz::Europe::Paris,
            "2025-01-01T00:00:00Z",
            3
        ),
        ["2030-07-01 Mon 09:30+02:00"]
    );
    assert_eq!(
        fires("at(2020-01-31T09:30:00)", "2025-01-01T00:00:00Z", 1),
        Vec::<String>::new()
    );
    assert_eq!(
        fires("at(2030-01-31T09:30:00)", "2030-01-31T09:30:00Z", 1),
        Vec::<String>::new()
    );
    // Seconds are kept: a one-time schedule names its second.
    let schedule = Schedule::parse("at(2030-01-31T09:30:15)").expect("valid");
    assert_eq!(
        schedule.next_after(utc("2025-01-01T00:00:00Z"), chrono_tz::UTC),
        Some(utc("2030-01-31T09:30:15Z"))
    );
    assert_eq!(schedule.to_string(), "at(2030-01-31T09:30:15)");
}

#[test]
fn at_errors() {
    for (expression, reason) in [
        (
            "at(2030-1-31T09:30:00)",
            "is not a date and time in the form yyyy-mm-ddThh:mm:ss",
        ),
        ("at(2030-01-31 09:30:00)", "in the form yyyy-mm-ddThh:mm:ss"),
        ("at(2030-01-31T09:30)", "in the form yyyy-mm-ddThh:mm:ss"),
        (
            "at(2030-01-31T09:30:00Z)",
            "in the form yyyy-mm-ddThh:mm:ss",
        ),
        (
            "at(2030-01-31T09:30:00.5)",
            "in the form yyyy-mm-ddThh:mm:ss",
        ),
        (
            "at(2030-02-30T09:30:00)",
            "`2030-02-30T09:30:00` is not a date and time that exists",
        ),
        (
            "at(2030-01-31T24:00:00)",
            "is not a date and time that exists",
        ),
        (
            "at(2030-12-31T23:59:60)",
            "is not a date and time that exists",
        ),
        ("at()", "in the form"),
    ] {
        let message = refused(expression);
        assert!(
            message.starts_with("Parameter ScheduleExpression is not valid. "),
            "{message}"
        );
        assert!(message.contains(reason), "{expression}: {message}");
    }
}

#[test]
fn time_zone_names() {
    assert_eq!(
        parse_time_zone("America/New_York"),
        Ok(chrono_tz::America::New_York)
    );
    assert_eq!(parse_time_zone("UTC"), Ok(chrono_tz::UTC));
    assert_eq!(
        parse_time_zone("Mars/Olympus_Mons").map_err(|error| error.to_string()),
        Err("Parameter ScheduleExpressionTimezone is not valid. `Mars/Olympus_Mons` is not an IANA time zone name: write one such as UTC, Europe/Paris or America/New_York".to_string())
    );
    assert!(parse_time_zone("").is_err());
}

#[test]
fn cron_in_a_time_zone() {
    // 09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer.
    let schedule = Schedule::parse("cron(0 9 ? * MON *)").expect("valid");
    let new_york = chrono_tz::America::New_York;
    assert_eq!(
        schedule.next_after(utc("2025-01-01T00:00:00Z"), new_york),
        Some(utc("2025-01-06T14:00:00Z"))
    );
    assert_eq!(
        schedule.next_after(utc("2025-07-01T00:00:00Z"), new_york),
        Some(utc("2025-07-07T13:00:00Z"))
    );
    // The day fields are read in the zone: Monday 00:30 in Tokyo is Sunday in UTC.
    let midnight = Schedule::parse("cron(30 0 ? * MON *)").expect("valid");
    assert_eq!(
        midnight.next_after(utc("2025-01-01T00:00:00Z"), chrono_tz::Asia::Tokyo),
        Some(utc("2025-01-05T15:30:00Z"))
    );
}

#[test]
fn spring_forward_skips_the_missing_hour() {
    // New York, 2025-03-09: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that day.
    assert_eq!(
        fires_in(
            "cron(30 2 * * ? *)",
            chrono_tz::America::New_York,
            "2025-03-07T12:00:00Z",
            3
        ),
        [
            "2025-03-08 Sat 02:30-05:00",
            "2025-03-10 Mon 02:30-04:00",
            "2025-03-11 Tue 02:30-04:00"
        ]
    );
    assert_eq!(
        fires_in(
            "cron(*/30 1-3 * * ? *)",
            chrono_tz::America::New_York,
            "2025-03-09T05:00:00Z",
            5
        ),
        [
            "2025-03-09 Sun 01:00-05:00",
            "2025-03-09 Sun 01:30-05:00",
            "2025-03-09 Sun 03:00-04:00",
            "2025-03-09 Sun 03:30-04:00",
            "2025-03-10 Mon 01:00-04:00"
        ]
    );
}

#[test]
fn fall_back_fires_a_repeated_time_once() {
    // New York, 2025-11-02: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    assert_eq!(
        fires_in(
            "cron(30 1 * * ? *)",
            chrono_tz::America::New_York,
            "2025-11-01T12:00:00Z",
            3
        ),
        [
            "2025-11-02 Sun 01:30-04:00",
            "2025-11-03 Mon 01:30-05:00",
            "2025-11-04 Tue 01:30-05:00"
        ]
    );
    // Every 20 minutes: the repeated hour is not run again.
    assert_eq!(
        fires_in(
            "cron(*/20 * * * ? *)",
            chrono_tz::America::New_York,
            "2025-11-02T05:00:00Z",
            6
        ),
        [
            "2025-11-02 Sun 01:20-04:00",
            "2025-11-02 Sun 01:40-04:00",
            "2025-11-02 Sun 02:00-05:00",
            "2025-11-02 Sun 02:20-05:00",
            "2025-11-02 Sun 02:40-05:00",
            "2025-11-02 Sun 03:00-05:00"
        ]
    );
    // Asked during the second pass, the next fire is after the repeated hour.
    let schedule = Schedule::parse("cron(45 1 * * ? *)").expect("valid");
    assert_eq!(
        schedule.next_after(utc("2025-11-02T06:10:00Z"), chrono_tz::America::New_York),
        Some(utc("2025-11-03T06:45:00Z"))
    );
}

#[test]
fn at_across_daylight_saving_changes() {
    let new_york = chrono_tz::America::New_York;
    // Skipped: 02:30 is read with the offset before the change, so 03:30 EDT.
    let skipped = Schedule::parse("at(2025-03-09T02:30:00)").expect("valid");
    assert_eq!(
        skipped.next_after(utc("2025-01-01T00:00:00Z"), new_york),
        Some(utc("2025-03-09T07:30:00Z"))
    );
    // Repeated: the first 01:30, in EDT.
    let repeated = Schedule::parse("at(2025-11-02T01:30:00)").expect("valid");
    assert_eq!(
        repeated.next_after(utc("2025-01-01T00:00:00Z"), new_york),
        Some(utc("2025-11-02T05:30:00Z"))
    );
}

#[test]
fn rates_ignore_the_time_zone() {
    let schedule = Schedule::parse("rate(1 day)").expect("valid");
    let after = utc("2025-03-08T12:00:00Z");
    assert_eq!(
        schedule.next_after(after, chrono_tz::America::New_York),
        Some(utc("2025-03-09T12:00:00Z"))
    );
}

#[test]
fn timetable_bounds() {
    let cron = Schedule::parse("cron(0 12 * * ? *)").expect("valid");
    let timetable = Timetable::new(
        cron,
        chrono_tz::UTC,
        Some(utc("2025-01-10T12:00:00Z")),
        Some(utc("2025-01-12T12:00:00Z")),
    )
    .expect("start before end");
    // The start date itself fires, and so does the end date.
    let fires: Vec<_> = timetable.fire_times(utc("2025-01-01T00:00:00Z")).collect();
    assert_eq!(
        fires,
        [
            utc("2025-01-10T12:00:00Z"),
            utc("2025-01-11T12:00:00Z"),
            utc("2025-01-12T12:00:00Z")
        ]
    );

    // A rate starts at its start date and keeps its grid.
    let rate = Timetable::new(
        Schedule::parse("rate(2 hours)").expect("valid"),
        chrono_tz::UTC,
        Some(utc("2025-01-10T00:30:00Z")),
        Some(utc("2025-01-10T06:30:00Z")),
    )
    .expect("start before end");
    let fires: Vec<_> = rate.fire_times(utc("2025-01-01T00:00:00Z")).collect();
    assert_eq!(
        fires,
        [
            utc("2025-01-10T00:30:00Z"),
            utc("2025-01-10T02:30:00Z"),
            utc("2025-01-10T04:30:00Z"),
            utc("2025-01-10T06:30:00Z")
        ]
    );
    assert_eq!(
        rate.next_after(utc("2025-01-10T03:00:00Z")),
        Some(utc("2025-01-10T04:30:00Z"))
    );
    assert_eq!(
        rate.next_after(utc("2025-01-10T04:30:00Z")),
        Some(utc("2025-01-10T06:30:00Z"))
    );

    // Scheduler ignores both dates for a one-time schedule.
    let at = Timetable::new(
        Schedule::parse("at(2030-01-01T00:00:00)").expect("valid"),
        chrono_tz::UTC,
        Some(utc("2031-01-01T00:00:00Z")),
        Some(utc("2031-02-01T00:00:00Z")),
    )
    .expect("start before end");
    assert_eq!(
        at.next_after(utc("2025-01-01T00:00:00Z")),
        Some(utc("2030-01-01T00:00:00Z"))
    );

    let backwards = Timetable::new(
        Schedule::parse("rate(1 day)").expect("valid"),
        chrono_tz::UTC,
        Some(utc("2025-02-01T00:00:00Z")),
        Some(utc("2025-01-01T00:00:00Z")),
    );
    assert_eq!(
        backwards.map_err(|error| error.to_string()),
        Err("Parameter EndDate is not valid. The EndDate 2025-01-01T00:00:00+00:00 must not be before the StartDate 2025-02-01T00:00:00+00:00".to_string())
    );
}

#[test]
fn display_writes_back_what_was_parsed() {
    for (written, shown) in [
        ("cron(0 10 * * ? *)", "cron(0 10 * * ? *)"),
        (
            "cron(0/15 8-17 ? * mon-fri 2025-2030/2)",
            "cron(0/15 8-17 ? * MON-FRI 2025-2030/2)",
        ),
        (
            "cron(5,10 */2 L jan,FEB,3 ? *)",
            "cron(5,10 */2 L JAN,FEB,3 ? *)",
        ),
        ("cron(0 0 LW * ? *)", "cron(0 0 LW * ? *)"),
        ("cron(0 0 15W * ? *)", "cron(0 0 15W * ? *)"),
        ("cron(0 0 ? * 3#2 *)", "cron(0 0 ? * 3#2 *)"),
        ("cron(0 0 ? * fri#5 *)", "cron(0 0 ? * FRI#5 *)"),
        ("cron(0 0 ? * 5L *)", "cron(0 0 ? * 5L *)"),
        ("cron(0 0 ? * L *)", "cron(0 0 ? * L *)"),
        ("cron(05  09 * * ?   *)", "cron(5 9 * * ? *)"),
        ("rate(1 minute)", "rate(1 minute)"),
        ("rate(010 days)", "rate(10 days)"),
        ("at(2030-01-31T09:30:00)", "at(2030-01-31T09:30:00)"),
    ] {
        let schedule = Schedule::parse(written).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(schedule.to_string(), shown);
        assert_eq!(Schedule::parse(shown), Ok(schedule));
    }
}

#[test]
fn a_utc_offset_zone_matches_utc_shifted() {
    let schedule = Schedule::parse("cron(0 0 * * ? *)").expect("valid");
    let kolkata = chrono_tz::Asia::Kolkata;
    assert_eq!(
        schedule.next_after(
            Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
                .single()
                .expect("valid"),
            kolkata
        ),
        Some(utc("2025-01-01T18:30:00Z"))
    );
}
