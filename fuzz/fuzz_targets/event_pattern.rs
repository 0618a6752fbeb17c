//! Fuzzes EventBridge event patterns: the input is a pattern and an event separated by a
//! NUL byte. Every pattern must parse or give AWS's error, and matching a parsed pattern
//! against any JSON event must answer, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serverful_eventbridge::EventPattern;

fuzz_target!(|data: &[u8]| {
    let (pattern, event) = match data.iter().position(|byte| *byte == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b"{}"[..]),
    };
    let Ok(pattern) = std::str::from_utf8(pattern) else { return };
    let Ok(pattern) = EventPattern::parse(pattern) else { return };
    if let Ok(event) = serde_json::from_slice::<serde_json::Value>(event) {
        let _ = pattern.matches(&event);
    }
});
