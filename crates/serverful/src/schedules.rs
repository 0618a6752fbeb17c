//! The `Schedules:` lines of `up`'s banner and of `serve`'s start: each schedule with its
//! expression, its functions and its next fire time.

use serverful_platform::Platform;

/// One line per schedule of `stack`, indented by `indent`; empty when it has none.
pub(crate) fn lines(platform: &Platform, stack: &str, indent: &str) -> Vec<String> {
    platform
        .schedule_lines(stack)
        .into_iter()
        .map(|line| format!("{indent}{line}"))
        .collect()
}
