//! Property tests: fire times strictly increase, match every field of their expression and
//! skip no matching minute; Display round-trips; the parser never panics.

use chrono::{DateTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use serverful_schedule::{Schedule, Timetable};

use crate::generate::{valid_cron, Rng};

const ZONES: [Tz; 6] = [
    chrono_tz::UTC,
    chrono_tz::America::New_York,
    chrono_tz::Europe::London,
    chrono_tz::Australia::Lord_Howe, // a half-hour daylight-saving change
    chrono_tz::Pacific::Auckland,
    chrono_tz::Asia::Kolkata, // a half-hour offset, no daylight saving
];

fn instant(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).single().expect("in range")
}

/// A valid cron expression picked by seed.
fn cron_from(seed: u64) -> Option<Schedule> {
    Schedule::parse(&valid_cron(&mut Rng::new(seed))).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn fire_times_strictly_increase_and_match_the_fields(
        seed in any::<u64>(),
        // 2000-01-01 to 2060-01-01.
        seconds in 946_684_800i64..2_840_140_800,
        zone in 0..ZONES.len(),
    ) {
        let Some(schedule) = cron_from(seed) else { return Ok(()) };
        let Schedule::Cron(cron) = &schedule else { unreachable!("a cron expression") };
        let zone = ZONES[zone];
        let mut previous = instant(seconds);
        for fire in schedule.fire_times(previous, zone).take(5) {
            prop_assert!(fire > previous, "{schedule}: {fire} after {previous}");
            let local = fire.with_timezone(&zone).naive_local();
            prop_assert_eq!(local.second(), 0, "{} fires on a whole minute", &schedule);
            prop_assert!(cron.matches(local), "{schedule}: {fire} ({local} local) does not match");
            previous = fire;
        }
    }

    #[test]
    fn no_matching_minute_is_skipped_in_utc(
        seed in any::<u64>(),
        seconds in 946_684_800i64..2_840_140_800,
    ) {
        let Some(schedule) = cron_from(seed) else { return Ok(()) };
        let Schedule::Cron(cron) = &schedule else { unreachable!("a cron expression") };
        let after = instant(seconds);
        let next = schedule.next_after(after, chrono_tz::UTC);
        // Walk minute by minute for up to two days (or to the next fire time).
        let limit = next.unwrap_or(after + TimeDelta::days(2)).min(after + TimeDelta::days(2));
        let mut minute = after.with_second(0).expect("valid") + TimeDelta::minutes(1);
        while minute < limit {
            prop_assert!(!cron.matches(minute.naive_utc()), "{schedule}: {minute} matches but next_after({after}) is {next:?}");
            minute += TimeDelta::minutes(1);
        }
    }

    #[test]
    fn display_round_trips(seed in any::<u64>()) {
        let text = valid_cron(&mut Rng::new(seed));
        if let Ok(schedule) = Schedule::parse(&text) {
            let shown = schedule.to_string();
            prop_assert_eq!(Schedule::parse(&shown), Ok(schedule.clone()), "{} shown as {}", text, shown);
            prop_assert_eq!(Schedule::parse(&shown).map(|again| again.to_string()), Ok(shown));
        }
    }

    #[test]
    fn rates_round_trip_and_step_by_their_period(value in 1u32..100_000, unit in 0usize..3, seconds in 0i64..4_000_000_000) {
        let word = ["minute", "hour", "day"][unit];
        let text = if value == 1 { format!("rate(1 {word})") } else { format!("rate({value} {word}s)") };
        let schedule = Schedule::parse(&text).expect("a valid rate");
        prop_assert_eq!(schedule.to_string(), text);
        let Schedule::Rate(rate) = &schedule else { unreachable!("a rate") };
        let after = instant(seconds);
        prop_assert_eq!(schedule.next_after(after, chrono_tz::UTC), Some(after + rate.period()));
        // With a start date, fire times stay on the start date's grid.
        let start = instant(seconds / 2);
        let timetable = Timetable::new(schedule.clone(), chrono_tz::UTC, Some(start), None).expect("no end");
        let next = timetable.next_after(after).expect("a rate never ends");
        prop_assert!(next > after);
        prop_assert_eq!((next - start).num_seconds() % rate.period().num_seconds(), 0);
        prop_assert!(next - after <= rate.period());
    }

    #[test]
    fn the_parser_never_panics(text in "(cron|rate|at)\\([0-9A-Z?*/,#LW\\- :T]{0,40}\\)") {
        let _ = Schedule::parse(&text);
    }

    #[test]
    fn the_parser_never_panics_on_any_text(text in any::<String>()) {
        let _ = Schedule::parse(&text);
        let _ = Schedule::parse(&format!("cron({text})"));
    }
}
