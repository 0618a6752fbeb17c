//! Fuzzes AWS schedule expressions: every input must parse or give AWS's error, never
//! panic; a parsed expression must print back to itself and give increasing fire times.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use serverful_schedule::Schedule;

fuzz_target!(|data: &[u8]| {
    let Some((zone, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    for expression in [text.to_string(), format!("cron({text})")] {
        let Ok(schedule) = Schedule::parse(&expression) else {
            continue;
        };
        let shown = schedule.to_string();
        assert_eq!(
            Schedule::parse(&shown).as_ref(),
            Ok(&schedule),
            "{expression} printed as {shown}"
        );
        let zones = [
            chrono_tz::UTC,
            chrono_tz::America::New_York,
            chrono_tz::Australia::Lord_Howe,
        ];
        let zone = zones[usize::from(*zone) % zones.len()];
        let start = Utc
            .with_ymd_and_hms(2025, 3, 9, 6, 0, 0)
            .single()
            .expect("a valid instant");
        let mut previous = start;
        for fire in schedule.fire_times(start, zone).take(3) {
            assert!(fire > previous, "{expression}: {fire} after {previous}");
            previous = fire;
        }
    }
});
