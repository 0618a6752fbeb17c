//! What a publisher sends: message attributes and their checks, `MessageStructure: json`,
//! subjects and the size limit, with SNS's error wording.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::SnsError;

/// The largest message, attributes included: 256 KiB.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// The longest subject.
pub const MAX_SUBJECT_CHARS: usize = 100;

/// A message attribute's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeValue {
    /// `StringValue` (for `String`, `Number` and `String.Array` types).
    String(String),
    /// `BinaryValue`, decoded.
    Binary(Vec<u8>),
}

/// One message attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttribute {
    /// `String`, `Number`, `Binary` or `String.Array`, optionally with a custom suffix
    /// (`Number.float`).
    pub data_type: String,
    pub value: AttributeValue,
}

impl MessageAttribute {
    /// The value as the JSON envelope carries it: the string, or base64 of the bytes.
    pub fn envelope_value(&self) -> String {
        match &self.value {
            AttributeValue::String(text) => text.clone(),
            AttributeValue::Binary(bytes) => {
                base64::engine::general_purpose::STANDARD.encode(bytes)
            }
        }
    }

    /// How many bytes it counts toward the message size.
    fn size(&self, name: &str) -> usize {
        name.len()
            + self.data_type.len()
            + match &self.value {
                AttributeValue::String(text) => text.len(),
                AttributeValue::Binary(bytes) => bytes.len(),
            }
    }
}

/// A message's attributes by name, in name order (as SNS renders them).
pub type MessageAttributes = BTreeMap<String, MessageAttribute>;

/// Checks a message's attributes as `Publish` does.
pub fn check_attributes(attributes: &MessageAttributes) -> Result<(), SnsError> {
    for (name, attribute) in attributes {
        check_attribute_name(name)?;
        let base = attribute
            .data_type
            .split_once('.')
            .map_or(attribute.data_type.as_str(), |(base, _)| base);
        if attribute.data_type.is_empty() {
            return Err(SnsError::invalid_parameter(format!(
                "Invalid parameter: The message attribute '{name}' must contain non-empty message attribute type."
            )));
        }
        if !matches!(base, "String" | "Number" | "Binary") {
            return Err(SnsError::invalid_parameter(format!(
                "Invalid parameter: The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        match (&attribute.value, base) {
            (AttributeValue::Binary(bytes), "Binary") if !bytes.is_empty() => {}
            (AttributeValue::String(text), "String" | "Number") if !text.is_empty() => {
                if base == "Number" && !is_number(text) {
                    return Err(SnsError::invalid_parameter(format!(
                        "Invalid parameter: Could not cast message attribute '{name}' value to number."
                    )));
                }
                if attribute.data_type == "String.Array" && !is_string_array(text) {
                    return Err(SnsError::invalid_parameter(format!(
                        "Invalid parameter: Message attribute '{name}' of type String.Array must hold a JSON array of strings, numbers, true, false or null."
                    )));
                }
            }
            _ => {
                return Err(SnsError::invalid_parameter(format!(
                    "Invalid parameter: The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{}'.",
                    attribute.data_type
                )));
            }
        }
    }
    Ok(())
}

/// SNS's rules for attribute names: up to 256 characters of letters, digits, `_`, `-`
/// and `.`, no leading, trailing or doubled `.`, and no `AWS.`/`Amazon.` prefix.
fn check_attribute_name(name: &str) -> Result<(), SnsError> {
    let invalid = |reason: &str| {
        Err(SnsError::invalid_parameter(format!(
            "Invalid parameter: Message attribute name '{name}' {reason}"
        )))
    };
    if name.is_empty() || name.len() > 256 {
        return invalid("must be between 1 and 256 characters long.");
    }
    if !name
        .chars()
        .all(|character| character.is_ascii_alphanumeric() || "_-.".contains(character))
    {
        return invalid("has an invalid character. Valid characters are A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.).");
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return invalid("can not start or end with a period, or have two periods in a row.");
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("aws.") || lower.starts_with("amazon.") {
        return invalid("can not start with 'AWS.' or 'Amazon.', which are reserved.");
    }
    Ok(())
}

fn is_number(text: &str) -> bool {
    text.trim()
        .parse::<f64>()
        .is_ok_and(|number| number.is_finite() && number.abs() <= 1.0e9)
}

fn is_string_array(text: &str) -> bool {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(items)) => items.iter().all(|item| {
            !matches!(
                item,
                serde_json::Value::Array(_) | serde_json::Value::Object(_)
            )
        }),
        _ => false,
    }
}

/// Checks a subject: up to 100 printable ASCII characters, no line breaks.
pub fn check_subject(subject: &str) -> Result<(), SnsError> {
    if subject.is_empty()
        || subject.chars().count() > MAX_SUBJECT_CHARS
        || !subject
            .chars()
            .all(|character| character.is_ascii() && !character.is_ascii_control())
    {
        return Err(SnsError::invalid_parameter("Invalid parameter: Subject"));
    }
    Ok(())
}

/// Checks the message and its size with its attributes.
pub fn check_message(message: &str, attributes: &MessageAttributes) -> Result<(), SnsError> {
    if message.is_empty() {
        return Err(SnsError::invalid_parameter(
            "Invalid parameter: Empty message",
        ));
    }
    let size = message.len()
        + attributes
            .iter()
            .map(|(name, attribute)| attribute.size(name))
            .sum::<usize>();
    if size > MAX_MESSAGE_BYTES {
        return Err(SnsError::invalid_parameter(
            "Invalid parameter: Message too long",
        ));
    }
    Ok(())
}

/// The per-protocol messages of `MessageStructure: json`: a JSON object of strings with
/// a `default` entry.
pub fn parse_structure(message: &str) -> Result<BTreeMap<String, String>, SnsError> {
    let failed = |reason: &str| {
        Err(SnsError::invalid_parameter(format!(
            "Invalid parameter: Message Structure - {reason}"
        )))
    };
    let Ok(serde_json::Value::Object(members)) = serde_json::from_str(message) else {
        return failed("JSON message body failed to parse");
    };
    let mut messages = BTreeMap::new();
    for (protocol, value) in members {
        let serde_json::Value::String(text) = value else {
            return failed(&format!(
                "Invalid value for protocol '{protocol}': the value must be a string"
            ));
        };
        messages.insert(protocol, text);
    }
    if !messages.contains_key("default") {
        return failed("No default entry in JSON message body");
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(data_type: &str, value: &str) -> MessageAttributes {
        let mut attributes = MessageAttributes::new();
        attributes.insert(
            "name".to_owned(),
            MessageAttribute {
                data_type: data_type.to_owned(),
                value: AttributeValue::String(value.to_owned()),
            },
        );
        attributes
    }

    #[test]
    fn attributes_are_checked_as_sns_does() {
        assert!(check_attributes(&attribute("String", "x")).is_ok());
        assert!(check_attributes(&attribute("Number", "12.5")).is_ok());
        assert!(check_attributes(&attribute("Number.int", "12")).is_ok());
        assert!(check_attributes(&attribute("String.Array", r#"["a",1,null]"#)).is_ok());
        let message = |attributes| check_attributes(&attributes).expect_err("invalid").message;
        assert_eq!(
            message(attribute("Number", "twelve")),
            "Invalid parameter: Could not cast message attribute 'name' value to number."
        );
        assert_eq!(
            message(attribute("Float", "1")),
            "Invalid parameter: The message attribute 'name' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
        );
        assert_eq!(
            message(attribute("String", "")),
            "Invalid parameter: The message attribute 'name' must contain non-empty message attribute value for message attribute type 'String'."
        );
        assert!(message(attribute("String.Array", r#"[["nested"]]"#)).contains("String.Array"));
    }

    #[test]
    fn structures_need_a_default() {
        let parsed = parse_structure(r#"{"default":"d","sqs":"q"}"#).expect("valid");
        assert_eq!(parsed["sqs"], "q");
        assert_eq!(
            parse_structure(r#"{"sqs":"q"}"#)
                .expect_err("no default")
                .message,
            "Invalid parameter: Message Structure - No default entry in JSON message body"
        );
        assert_eq!(
            parse_structure("nope").expect_err("not JSON").message,
            "Invalid parameter: Message Structure - JSON message body failed to parse"
        );
    }

    #[test]
    fn size_counts_attributes() {
        let big = "x".repeat(MAX_MESSAGE_BYTES - 10);
        assert!(check_message(&big, &MessageAttributes::new()).is_ok());
        assert!(check_message(&big, &attribute("String", "0123456789")).is_err());
        assert!(check_message("", &MessageAttributes::new()).is_err());
        assert!(check_subject("hello").is_ok());
        assert!(check_subject("line\nbreak").is_err());
        assert!(check_subject(&"s".repeat(101)).is_err());
    }
}
