//! The `Schedules:` lines of `up`'s banner and of `serve`'s start: each schedule with its
//! expression, its functions and its next fire time.

use serverful_platform::Platform;

/// One line per schedule of `stack`, indented by `indent`; empty when it has none.
pub(crate) fn lines(platform: &Platform, stack: &str, indent: &str) -> Vec<String> {
    platform
        .upcoming_schedules(stack)
        .into_iter()
        .map(|schedule| {
            let next = match (schedule.enabled, schedule.next) {
                (false, _) => "disabled".to_owned(),
                (true, Some(next)) => format!(
                    "next {}",
                    next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                (true, None) => "no fire time left".to_owned(),
            };
            format!(
                "{indent}{} {} -> {} ({next})",
                schedule.name,
                schedule.expression,
                schedule.targets.join(", ")
            )
        })
        .collect()
}
