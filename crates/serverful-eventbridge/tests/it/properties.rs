//! Property tests of event patterns.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use serverful_eventbridge::EventPattern;

/// Scalars an event may hold; numbers stay within the ±5e9 EventBridge compares.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-zA-Z0-9 ._-]{0,12}".prop_map(Value::from),
        (-5_000_000_000i64..=5_000_000_000).prop_map(Value::from),
        (-5.0e9..5.0e9f64).prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ]
}

fn event_object() -> impl Strategy<Value = Map<String, Value>> {
    let leaf = prop_oneof![
        scalar(),
        prop::collection::vec(scalar(), 1..4).prop_map(Value::from)
    ];
    let inner = prop::collection::btree_map("[a-z]{1,6}", leaf.clone(), 1..5)
        .prop_map(|fields| Value::Object(fields.into_iter().collect()));
    prop::collection::btree_map("[a-z]{1,6}", prop_oneof![leaf, inner], 1..6)
        .prop_map(|fields| fields.into_iter().collect())
}

/// An event as EventBridge gets it: parsed from its JSON text, so its numbers went
/// through the same parser as the pattern's.
fn event(value: Value) -> Value {
    serde_json::from_str(&value.to_string()).expect("JSON round trip")
}

/// A pattern asking for exactly the event's own values, field by field.
fn pattern_of(object: &Map<String, Value>) -> Value {
    let fields = object
        .iter()
        .map(|(name, value)| {
            let pattern = match value {
                Value::Object(inner) => pattern_of(inner),
                Value::Array(items) => Value::Array(vec![items[0].clone()]),
                scalar => Value::Array(vec![scalar.clone()]),
            };
            (name.clone(), pattern)
        })
        .collect();
    Value::Object(fields)
}

proptest! {
    #[test]
    fn a_pattern_of_an_events_own_fields_matches_it(object in event_object()) {
        let pattern = EventPattern::parse(&pattern_of(&object).to_string()).expect("a pattern of exact values parses");
        let matched = pattern.matches(&event(Value::Object(object)));
        prop_assert!(matched);
    }

    #[test]
    fn anything_but_never_matches_its_value(text in "[a-zA-Z0-9 ._-]{0,12}", number in -5.0e9..5.0e9f64) {
        let strings = EventPattern::parse(&json!({"f": [{"anything-but": text}]}).to_string()).expect("valid");
        let matched_1 = strings.matches(&event(json!({"f": text})));

        prop_assert!(!matched_1);
        let matched_2 = strings.matches(&event(json!({"f": format!("{text}!")})));

        prop_assert!(matched_2);
        let numbers = EventPattern::parse(&json!({"f": [{"anything-but": number}]}).to_string()).expect("valid");
        let matched_3 = numbers.matches(&event(json!({"f": number})));

        prop_assert!(!matched_3);
        let prefixed = EventPattern::parse(&json!({"f": [{"anything-but": {"prefix": format!("{text}x")}}]}).to_string()).expect("valid");
        let matched_4 = prefixed.matches(&event(json!({"f": format!("{text}xyz")})));

        prop_assert!(!matched_4);
    }

    #[test]
    fn numeric_ranges_agree_with_f64(
        low in -5.0e9..5.0e9f64,
        width in 0.001..1.0e9f64,
        value in -5.0e9..5.0e9f64,
        low_inclusive in any::<bool>(),
        high_inclusive in any::<bool>(),
    ) {
        let high = (low + width).min(5.0e9);
        prop_assume!(high > low);
        let (low_operator, high_operator) = (if low_inclusive { ">=" } else { ">" }, if high_inclusive { "<=" } else { "<" });
        let pattern = EventPattern::parse(&json!({"n": [{"numeric": [low_operator, low, high_operator, high]}]}).to_string()).expect("valid range");
        let above = if low_inclusive { value >= low } else { value > low };
        let below = if high_inclusive { value <= high } else { value < high };
        let in_range = pattern.matches(&event(json!({"n": value})));
        prop_assert_eq!(in_range, above && below);
        let at_low = EventPattern::parse(&json!({"n": [{"numeric": ["=", low]}]}).to_string()).expect("valid");
        let matched_5 = at_low.matches(&event(json!({"n": low})));

        prop_assert!(matched_5);
    }

    #[test]
    fn prefix_suffix_and_ignore_case_agree_with_str(value in "[a-zA-Z]{0,10}", cut in 0usize..10) {
        let cut = cut.min(value.len());
        let (head, tail) = value.split_at(cut);
        let prefix = EventPattern::parse(&json!({"f": [{"prefix": head}]}).to_string()).expect("valid");
        let matched_6 = prefix.matches(&event(json!({"f": value})));

        prop_assert!(matched_6);
        let suffix = EventPattern::parse(&json!({"f": [{"suffix": tail}]}).to_string()).expect("valid");
        let matched_7 = suffix.matches(&event(json!({"f": value})));

        prop_assert!(matched_7);
        let ignore_case = EventPattern::parse(&json!({"f": [{"equals-ignore-case": value.to_uppercase()}]}).to_string()).expect("valid");
        let matched_8 = ignore_case.matches(&event(json!({"f": value.to_lowercase()})));

        prop_assert!(matched_8);
        let wildcard = EventPattern::parse(&json!({"f": [{"wildcard": format!("{head}*")}]}).to_string()).expect("valid");
        let matched_9 = wildcard.matches(&event(json!({"f": value})));

        prop_assert!(matched_9);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in "\\PC{0,64}") {
        let _ = EventPattern::parse(&text);
    }
}
