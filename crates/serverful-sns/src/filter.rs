//! Subscription filter policies: SNS's checks and limits with SNS's error wording, and
//! matching against a message's attributes or its JSON body.
//!
//! SNS's policy language is a subset of EventBridge's event patterns (exact strings and
//! numbers, `prefix`, `suffix`, `equals-ignore-case`, `anything-but` with its prefix and
//! suffix forms, `numeric`, `exists`, `cidr`, `$or`), and its matching is the same: a key
//! matches when any of its alternatives does, an array value when any element does, and
//! every key of the policy must match. So a policy is checked here the way SNS checks it
//! (its operators, its 5 keys and 150 combinations, MessageAttributes' flat shape, its
//! messages), then compiled and matched by `serverful-eventbridge`'s matcher. What
//! differs is the input: under `MessageAttributes` the matched document is built from the
//! message attributes (`String` as a string, `Number` as a number, `String.Array` as its
//! array; `Binary` attributes are never matched), under `MessageBody` it is the message
//! parsed as JSON (a body that is not a JSON object matches no policy).

use serde_json::{Map, Value};
use serverful_eventbridge::EventPattern;

use crate::message::{AttributeValue, MessageAttributes};

/// Which part of a message a policy filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilterScope {
    /// The message attributes (the default).
    #[default]
    MessageAttributes,
    /// The message body, parsed as JSON.
    MessageBody,
}

impl FilterScope {
    /// Reads `FilterPolicyScope`'s value.
    pub fn parse(text: &str) -> Option<FilterScope> {
        match text {
            "MessageAttributes" => Some(FilterScope::MessageAttributes),
            "MessageBody" => Some(FilterScope::MessageBody),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FilterScope::MessageAttributes => "MessageAttributes",
            FilterScope::MessageBody => "MessageBody",
        }
    }
}

/// The most keys at a policy's top level.
pub const MAX_KEYS: usize = 5;
/// The most value combinations a policy may describe.
pub const MAX_COMBINATIONS: u64 = 150;
/// The operators SNS knows inside a match expression.
const OPERATORS: &[&str] = &[
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "numeric",
    "cidr",
];

/// A refused policy; `Display` is what follows SNS's `Invalid parameter: ` (and, in
/// `Subscribe`, `Attributes Reason: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterPolicyError(pub String);

fn refuse<T>(reason: impl std::fmt::Display) -> Result<T, FilterPolicyError> {
    Err(FilterPolicyError(format!("FilterPolicy: {reason}")))
}

/// A checked, compiled filter policy.
#[derive(Debug, Clone)]
pub struct FilterPolicy {
    pattern: EventPattern,
    scope: FilterScope,
}

impl FilterPolicy {
    /// Checks `text` as SNS does for `scope`, and compiles it.
    pub fn parse(text: &str, scope: FilterScope) -> Result<FilterPolicy, FilterPolicyError> {
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(error) => return refuse(format!("failed to parse JSON. {error}")),
        };
        let Value::Object(members) = &value else {
            return refuse("Filter policy must be a JSON object");
        };
        if members.is_empty() {
            return refuse("Filter policy must not be empty");
        }
        if members.len() > MAX_KEYS {
            return refuse(format!(
                "Filter policy can not have more than {MAX_KEYS} keys"
            ));
        }
        let combinations = check_object(members, 1, scope)?;
        if combinations > MAX_COMBINATIONS {
            return refuse("Filter policy is too complex");
        }
        let pattern = EventPattern::parse(text).or_else(|error| refuse(reason_of(&error)))?;
        Ok(FilterPolicy { pattern, scope })
    }

    pub fn scope(&self) -> FilterScope {
        self.scope
    }

    /// Whether a message with this body and these attributes passes the policy.
    pub fn matches(&self, body: &str, attributes: &MessageAttributes) -> bool {
        match self.scope {
            FilterScope::MessageAttributes => {
                self.pattern.matches(&attributes_document(attributes))
            }
            FilterScope::MessageBody => match serde_json::from_str::<Value>(body) {
                Ok(document @ Value::Object(_)) => self.pattern.matches(&document),
                _ => false,
            },
        }
    }
}

/// EventBridge's message without its `Event pattern is not valid. Reason: ` prefix.
fn reason_of(error: &serverful_eventbridge::PatternError) -> String {
    match error {
        serverful_eventbridge::PatternError::Invalid { reason } => reason.clone(),
        other => other.to_string(),
    }
}

/// The document a `MessageAttributes` policy is matched against.
pub fn attributes_document(attributes: &MessageAttributes) -> Value {
    let mut document = Map::new();
    for (name, attribute) in attributes {
        let value = match &attribute.value {
            AttributeValue::String(text) => match attribute.data_type.as_str() {
                data_type if data_type == "Number" || data_type.starts_with("Number.") => {
                    number_value(text).unwrap_or_else(|| Value::String(text.clone()))
                }
                "String.Array" => serde_json::from_str::<Value>(text)
                    .ok()
                    .filter(Value::is_array)
                    .unwrap_or_else(|| Value::String(text.clone())),
                _ => Value::String(text.clone()),
            },
            // SNS never matches binary attributes.
            AttributeValue::Binary(_) => continue,
        };
        document.insert(name.clone(), value);
    }
    Value::Object(document)
}

fn number_value(text: &str) -> Option<Value> {
    let parsed: f64 = text.trim().parse().ok()?;
    serde_json::Number::from_f64(parsed).map(Value::Number)
}

/// Checks one level of a policy; returns its number of combinations.
fn check_object(
    members: &Map<String, Value>,
    depth: u64,
    scope: FilterScope,
) -> Result<u64, FilterPolicyError> {
    let mut combinations: u64 = 1;
    for (key, value) in members {
        match value {
            Value::Object(nested) => {
                if scope == FilterScope::MessageAttributes {
                    return Err(FilterPolicyError(
                        "Filter policy scope MessageAttributes does not support nested filter policy"
                            .to_owned(),
                    ));
                }
                if nested.is_empty() {
                    return refuse("Empty objects are not allowed");
                }
                combinations = combinations.saturating_mul(check_object(nested, depth + 1, scope)?);
            }
            Value::Array(items) if key == "$or" => {
                let mut sum: u64 = 0;
                for item in items {
                    let Value::Object(alternative) = item else {
                        return refuse("Only JSON object is allowed in array of $or relationship.");
                    };
                    sum = sum.saturating_add(check_object(alternative, depth, scope)?);
                }
                if items.len() < 2 {
                    return refuse("There must have at least 2 Objects in $or relationship.");
                }
                combinations = combinations.saturating_mul(sum);
            }
            Value::Array(items) => {
                if items.is_empty() {
                    return refuse("Empty arrays are not allowed");
                }
                for item in items {
                    check_rule(item)?;
                }
                combinations =
                    combinations.saturating_mul((items.len() as u64).saturating_mul(depth));
            }
            _ => return refuse(format!("\"{key}\" must be an object or an array")),
        }
    }
    Ok(combinations)
}

/// Checks one alternative of a key.
fn check_rule(rule: &Value) -> Result<(), FilterPolicyError> {
    match rule {
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
        Value::Number(number) => check_number(number.as_f64()),
        Value::Object(expression) => {
            let mut entries = expression.iter();
            let (Some((operator, operand)), None) = (entries.next(), entries.next()) else {
                return refuse("Only one key allowed in match expression");
            };
            if !OPERATORS.contains(&operator.as_str()) {
                return refuse(format!("Unrecognized match type {operator}"));
            }
            match (operator.as_str(), operand) {
                ("equals-ignore-case" | "prefix" | "suffix", Value::String(_)) => Ok(()),
                ("equals-ignore-case" | "prefix" | "suffix", _) => {
                    refuse(format!("{operator} match pattern must be a string"))
                }
                ("exists", Value::Bool(_)) => Ok(()),
                ("exists", _) => refuse("exists match pattern must be either true or false."),
                ("anything-but", operand) => check_anything_but(operand),
                ("numeric", operand) => check_numeric(operand),
                ("cidr", operand) => check_cidr(operand),
                _ => refuse(format!("Unrecognized match type {operator}")),
            }
        }
        Value::Array(_) => refuse("Match value must be String, number, true, false, or null"),
    }
}

fn check_number(value: Option<f64>) -> Result<(), FilterPolicyError> {
    match value {
        Some(number) if number.abs() <= 1.0e9 => Ok(()),
        _ => refuse("Numeric match values must be between -1000000000 and 1000000000"),
    }
}

fn check_anything_but(operand: &Value) -> Result<(), FilterPolicyError> {
    match operand {
        Value::String(_) => Ok(()),
        Value::Number(number) => check_number(number.as_f64()),
        Value::Array(items) => {
            if items.is_empty() {
                return refuse("Empty arrays are not allowed");
            }
            let strings = items.iter().all(Value::is_string);
            let numbers = items.iter().all(Value::is_number);
            if !strings && !numbers {
                return refuse("Inside anything but list, start|null|boolean is not supported.");
            }
            for item in items {
                if let Value::Number(number) = item {
                    check_number(number.as_f64())?;
                }
            }
            Ok(())
        }
        Value::Object(inner) => {
            let mut entries = inner.iter();
            let (Some((operator, value)), None) = (entries.next(), entries.next()) else {
                return refuse("Only one key allowed in match expression");
            };
            if operator != "prefix" && operator != "suffix" {
                return refuse(format!("Unsupported anything-but pattern: {operator}"));
            }
            match value {
                Value::String(_) => Ok(()),
                _ => refuse(format!("{operator} match pattern must be a string")),
            }
        }
        _ => refuse("Inside anything but list, start|null|boolean is not supported."),
    }
}

fn check_numeric(operand: &Value) -> Result<(), FilterPolicyError> {
    let Value::Array(terms) = operand else {
        return refuse("Value of numeric must be an array.");
    };
    let mut terms = terms.iter();
    let Some(first) = terms.next() else {
        return refuse("Invalid member in numeric match: ]");
    };
    let Value::String(operator) = first else {
        return refuse(format!("Invalid member in numeric match: {first}"));
    };
    if !["<", "<=", "=", ">", ">="].contains(&operator.as_str()) {
        return refuse(format!("Unrecognized numeric range operator: {operator}"));
    }
    let shown = if operator == "=" { "equals" } else { operator };
    let Some(Value::Number(bottom)) = terms.next() else {
        return refuse(format!("Value of {shown} must be numeric"));
    };
    check_number(bottom.as_f64())?;
    let Some(second) = terms.next() else {
        return Ok(());
    };
    if operator != ">" && operator != ">=" {
        return refuse("Too many elements in numeric expression");
    }
    let Value::String(second_operator) = second else {
        return refuse(format!("Bad value in numeric range: {second}"));
    };
    if second_operator != "<" && second_operator != "<=" {
        return refuse(format!("Bad numeric range operator: {second_operator}"));
    }
    let Some(Value::Number(top)) = terms.next() else {
        return refuse(format!("Value of {second_operator} must be numeric"));
    };
    check_number(top.as_f64())?;
    if top.as_f64() <= bottom.as_f64() {
        return refuse("Bottom must be less than top");
    }
    if terms.next().is_some() {
        return refuse("Too many terms in numeric range expression");
    }
    Ok(())
}

fn check_cidr(operand: &Value) -> Result<(), FilterPolicyError> {
    let Value::String(text) = operand else {
        return refuse("prefix match pattern must be a string");
    };
    let Some((address, bits)) = text.split_once('/') else {
        return refuse("Malformed CIDR, one '/' required");
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return refuse("Malformed CIDR, mask bits must be an integer");
    };
    let limit = match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => 32,
        Ok(std::net::IpAddr::V6(_)) => 128,
        Err(_) => return refuse(format!("Nonstandard IP address: {address}")),
    };
    if bits > limit {
        return refuse(format!("Nonstandard IP address: {address}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageAttribute;
    use proptest::prelude::*;

    fn attributes(pairs: &[(&str, &str, &str)]) -> MessageAttributes {
        pairs
            .iter()
            .map(|(name, data_type, value)| {
                (
                    (*name).to_owned(),
                    MessageAttribute {
                        data_type: (*data_type).to_owned(),
                        value: AttributeValue::String((*value).to_owned()),
                    },
                )
            })
            .collect()
    }

    fn check_error(policy: &str, scope: FilterScope, expected: &str) {
        let error = FilterPolicy::parse(policy, scope).expect_err("the policy is invalid");
        assert_eq!(error.0, expected, "for {policy}");
    }

    #[test]
    fn attribute_policies_match_as_sns_documents() {
        let message = attributes(&[
            ("store", "String", "example_corp"),
            ("event", "String", "order_placed"),
            ("price_usd", "Number", "210.75"),
            (
                "customer_interests",
                "String.Array",
                r#"["soccer","rugby","hockey"]"#,
            ),
            ("source", "String", "10.0.1.17"),
        ]);
        let cases: &[(&str, bool)] = &[
            (r#"{"store":["example_corp"]}"#, true),
            (r#"{"store":["other"]}"#, false),
            (r#"{"store":[{"prefix":"example"}]}"#, true),
            (r#"{"store":[{"suffix":"_corp"}]}"#, true),
            (r#"{"store":[{"equals-ignore-case":"EXAMPLE_CORP"}]}"#, true),
            (r#"{"store":[{"anything-but":"example_corp"}]}"#, false),
            (r#"{"store":[{"anything-but":{"prefix":"other"}}]}"#, true),
            (r#"{"store":[{"anything-but":{"suffix":"corp"}}]}"#, false),
            (r#"{"price_usd":[{"numeric":[">=",100,"<",300]}]}"#, true),
            (r#"{"price_usd":[{"numeric":["<",100]}]}"#, false),
            (r#"{"price_usd":[210.75]}"#, true),
            (r#"{"customer_interests":["rugby"]}"#, true),
            (r#"{"customer_interests":["golf"]}"#, false),
            (r#"{"missing":[{"exists":false}]}"#, true),
            (r#"{"store":[{"exists":false}]}"#, false),
            (r#"{"missing":[{"anything-but":"x"}]}"#, false),
            (r#"{"source":[{"cidr":"10.0.0.0/16"}]}"#, true),
            (r#"{"source":[{"cidr":"10.1.0.0/16"}]}"#, false),
            (
                r#"{"store":["other"],"$or":[{"event":["order_placed"]},{"x":["y"]}]}"#,
                false,
            ),
            (
                r#"{"$or":[{"store":["other"]},{"event":["order_placed"]}]}"#,
                true,
            ),
        ];
        for (policy, expected) in cases {
            let compiled = FilterPolicy::parse(policy, FilterScope::MessageAttributes)
                .unwrap_or_else(|error| panic!("{policy}: {error}"));
            assert_eq!(compiled.matches("body", &message), *expected, "{policy}");
        }
    }

    #[test]
    fn body_policies_match_nested_keys() {
        let body = r#"{"order":{"status":"paid","total":42,"tags":["a","b"]},"region":"eu"}"#;
        let none = MessageAttributes::new();
        let check = |policy: &str| {
            FilterPolicy::parse(policy, FilterScope::MessageBody)
                .unwrap_or_else(|error| panic!("{policy}: {error}"))
                .matches(body, &none)
        };
        assert!(check(r#"{"order":{"status":["paid"]}}"#));
        assert!(check(
            r#"{"order":{"total":[{"numeric":[">",40]}]},"region":["eu"]}"#
        ));
        assert!(check(r#"{"order":{"tags":["b"]}}"#));
        assert!(!check(r#"{"order":{"status":["refunded"]}}"#));
        let policy =
            FilterPolicy::parse(r#"{"a":["b"]}"#, FilterScope::MessageBody).expect("valid policy");
        assert!(!policy.matches("not json", &none));
    }

    #[test]
    fn refusals_use_sns_wording() {
        let attributes = FilterScope::MessageAttributes;
        check_error(
            r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}"#,
            attributes,
            "FilterPolicy: Filter policy can not have more than 5 keys",
        );
        let many: Vec<String> = (0..151).map(|index| format!("\"v{index}\"")).collect();
        check_error(
            &format!(r#"{{"a":[{}]}}"#, many.join(",")),
            attributes,
            "FilterPolicy: Filter policy is too complex",
        );
        check_error(
            r#"{"a":{"b":["c"]}}"#,
            attributes,
            "Filter policy scope MessageAttributes does not support nested filter policy",
        );
        check_error(
            r#"{"a":"b"}"#,
            attributes,
            r#"FilterPolicy: "a" must be an object or an array"#,
        );
        check_error(
            r#"{"a":[]}"#,
            attributes,
            "FilterPolicy: Empty arrays are not allowed",
        );
        check_error(
            r#"{"a":[{"wildcard":"x*"}]}"#,
            attributes,
            "FilterPolicy: Unrecognized match type wildcard",
        );
        check_error(
            r#"{"a":[{"prefix":1}]}"#,
            attributes,
            "FilterPolicy: prefix match pattern must be a string",
        );
        check_error(
            r#"{"a":[{"numeric":["<",5,"<",6]}]}"#,
            attributes,
            "FilterPolicy: Too many elements in numeric expression",
        );
        check_error(
            r#"{"a":[{"numeric":[">",5,"<",1]}]}"#,
            attributes,
            "FilterPolicy: Bottom must be less than top",
        );
        check_error(
            r#"{"a":[{"numeric":["!",5]}]}"#,
            attributes,
            "FilterPolicy: Unrecognized numeric range operator: !",
        );
        check_error(
            r#"{"a":[{"exists":"yes"}]}"#,
            attributes,
            "FilterPolicy: exists match pattern must be either true or false.",
        );
        check_error(
            r#"{"a":[{"cidr":"10.0.0.0"}]}"#,
            attributes,
            "FilterPolicy: Malformed CIDR, one '/' required",
        );
        check_error(
            r#"{"a":[{"anything-but":{"equals-ignore-case":"x"}}]}"#,
            attributes,
            "FilterPolicy: Unsupported anything-but pattern: equals-ignore-case",
        );
        assert!(FilterPolicy::parse("{", attributes)
            .expect_err("not JSON")
            .0
            .starts_with("FilterPolicy: failed to parse JSON."));
        assert!(FilterPolicy::parse(r#"{"a":{"b":["c"]}}"#, FilterScope::MessageBody).is_ok());
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in ".{0,200}") {
            let _ = FilterPolicy::parse(&text, FilterScope::MessageAttributes);
            let _ = FilterPolicy::parse(&text, FilterScope::MessageBody);
        }

        #[test]
        fn an_exact_string_matches_itself_only(value in "[a-z]{1,12}", other in "[a-z]{1,12}") {
            let policy = FilterPolicy::parse(
                &serde_json::json!({"key": [value.clone()]}).to_string(),
                FilterScope::MessageAttributes,
            ).expect("valid policy");
            let matching = attributes(&[("key", "String", &value)]);
            prop_assert!(policy.matches("", &matching));
            let different = attributes(&[("key", "String", &other)]);
            prop_assert_eq!(policy.matches("", &different), value == other);
            prop_assert!(!policy.matches("", &MessageAttributes::new()));
        }

        #[test]
        fn numeric_ranges_agree_with_comparisons(low in -1000i32..1000, width in 1i32..1000, value in -3000i32..3000) {
            let high = low + width;
            let policy = FilterPolicy::parse(
                &format!(r#"{{"n":[{{"numeric":[">=",{low},"<",{high}]}}]}}"#),
                FilterScope::MessageAttributes,
            ).expect("valid policy");
            let message = attributes(&[("n", "Number", &value.to_string())]);
            prop_assert_eq!(policy.matches("", &message), value >= low && value < high);
        }

        #[test]
        fn string_arrays_match_when_any_element_does(elements in proptest::collection::vec("[a-c]{1,2}", 0..5), wanted in "[a-c]{1,2}") {
            let policy = FilterPolicy::parse(
                &serde_json::json!({"tags": [wanted.clone()]}).to_string(),
                FilterScope::MessageAttributes,
            ).expect("valid policy");
            let array = serde_json::to_string(&elements).expect("strings serialize");
            let message = attributes(&[("tags", "String.Array", &array)]);
            prop_assert_eq!(policy.matches("", &message), elements.contains(&wanted));
        }
    }
}
