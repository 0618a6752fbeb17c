//! Messages as senders give them: bodies, message attributes and system attributes,
//! checked as SQS checks them, and the MD5 digests SQS answers with (SDKs verify them).
//!
//! The digest of a set of attributes is SQS's own encoding: the attributes sorted by name,
//! each as its name, its data type (each a 4-byte big-endian length and the UTF-8
//! bytes), a transport byte (1 for a string value, 2 for a binary one) and the value
//! (length and bytes); the MD5 of all of it, as lowercase hex.

use std::collections::BTreeMap;

use md5::{Digest as _, Md5};

use crate::error::SqsError;

/// A message attribute's value: its data type (`String`, `Number`, `Binary`, with an
/// optional custom label after a dot) and the string or binary value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttributeValue {
    pub data_type: String,
    pub string_value: Option<String>,
    pub binary_value: Option<Vec<u8>>,
}

impl MessageAttributeValue {
    /// A `String` attribute.
    pub fn string(value: impl Into<String>) -> Self {
        MessageAttributeValue {
            data_type: "String".to_owned(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }

    /// Whether the value is binary (its data type is `Binary` or `Binary.label`).
    pub fn is_binary(&self) -> bool {
        base_type(&self.data_type) == "Binary"
    }

    /// Bytes the attribute counts towards the message size: name, type and value.
    fn size(&self, name: &str) -> usize {
        name.len()
            + self.data_type.len()
            + self.string_value.as_ref().map_or(0, String::len)
            + self.binary_value.as_ref().map_or(0, Vec::len)
    }
}

/// Message attributes by name.
pub type MessageAttributes = BTreeMap<String, MessageAttributeValue>;

fn base_type(data_type: &str) -> &str {
    data_type
        .split_once('.')
        .map_or(data_type, |(base, _)| base)
}

/// The lowercase hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    let mut hex = String::with_capacity(32);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// `MD5OfMessageAttributes` (and `MD5OfMessageSystemAttributes`): `None` without attributes.
pub fn md5_of_attributes(attributes: &MessageAttributes) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    fn put(hasher: &mut Md5, bytes: &[u8]) {
        let length = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        hasher.update(length.to_be_bytes());
        hasher.update(bytes);
    }
    let mut hasher = Md5::new();
    // A BTreeMap iterates in byte order of the names, which is SQS's order.
    for (name, value) in attributes {
        put(&mut hasher, name.as_bytes());
        put(&mut hasher, value.data_type.as_bytes());
        match (&value.binary_value, &value.string_value) {
            (Some(binary), _) if value.is_binary() => {
                hasher.update([2u8]);
                put(&mut hasher, binary);
            }
            (_, string) => {
                hasher.update([1u8]);
                put(&mut hasher, string.as_deref().unwrap_or("").as_bytes());
            }
        }
    }
    let digest = hasher.finalize();
    Some(digest.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Whether every character is one SQS accepts: #x9, #xA, #xD, #x20 to #xD7FF, #xE000 to
/// #xFFFD and #x10000 to #x10FFFF.
pub fn valid_characters(text: &str) -> bool {
    text.chars().all(|character| {
        matches!(character, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
    })
}

/// Checks a body and its attributes as `SendMessage` does, and returns the size the
/// message counts for (body and every attribute's name, type and value).
pub fn check_message(
    body: &str,
    attributes: &MessageAttributes,
    system_attributes: &MessageAttributes,
    max_bytes: u32,
) -> Result<usize, SqsError> {
    if body.is_empty() {
        return Err(SqsError::InvalidParameterValue(
            "The request must contain the parameter MessageBody.".to_owned(),
        ));
    }
    if !valid_characters(body) {
        return Err(SqsError::InvalidMessageContents);
    }
    check_attributes(attributes, "MessageAttribute")?;
    for (name, value) in system_attributes {
        if name != "AWSTraceHeader" {
            return Err(SqsError::InvalidParameterValue(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        if value.data_type != "String" || value.string_value.is_none() {
            return Err(SqsError::InvalidParameterValue(
                "Message system attribute AWSTraceHeader must have data type String and a string value.".to_owned(),
            ));
        }
    }
    let size = body.len()
        + attributes
            .iter()
            .map(|(name, value)| value.size(name))
            .sum::<usize>();
    if size > max_bytes as usize {
        return Err(SqsError::InvalidParameterValue(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {max_bytes} bytes."
        )));
    }
    Ok(size)
}

fn check_attributes(attributes: &MessageAttributes, what: &str) -> Result<(), SqsError> {
    if attributes.len() > 10 {
        return Err(SqsError::InvalidParameterValue(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            attributes.len()
        )));
    }
    for (name, value) in attributes {
        check_attribute_name(name)?;
        let base = base_type(&value.data_type);
        if value.data_type.is_empty() {
            return Err(SqsError::InvalidParameterValue(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            )));
        }
        if !matches!(base, "String" | "Number" | "Binary") || value.data_type.len() > 256 {
            return Err(SqsError::InvalidParameterValue(format!(
                "The type of message ({what}) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
            )));
        }
        match base {
            "Binary" => {
                if value.binary_value.as_ref().is_none_or(Vec::is_empty) {
                    return Err(SqsError::InvalidParameterValue(format!(
                        "The message attribute '{name}' with type 'Binary' must use field 'Binary'."
                    )));
                }
            }
            _ => {
                let Some(string) = value.string_value.as_deref().filter(|s| !s.is_empty()) else {
                    return Err(SqsError::InvalidParameterValue(format!(
                        "The message attribute '{name}' with type '{base}' must use field 'String'."
                    )));
                };
                if !valid_characters(string) {
                    return Err(SqsError::InvalidMessageContents);
                }
                if base == "Number" && string.trim().parse::<f64>().is_err() {
                    return Err(SqsError::InvalidParameterValue(format!(
                        "Can't cast the value of message ({what}) attribute '{name}' to a number."
                    )));
                }
            }
        }
    }
    Ok(())
}

/// A message attribute name: A-Z, a-z, 0-9, `_`, `-` and `.`, up to 256 characters, not
/// starting with `AWS.` or `Amazon.`, with no leading, trailing or doubled period.
fn check_attribute_name(name: &str) -> Result<(), SqsError> {
    let lower = name.to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.");
    if valid {
        Ok(())
    } else {
        Err(SqsError::InvalidParameterValue(format!(
            "Message (user) attribute '{name}' is invalid. Reason: The message attribute name can only contain alphanumeric characters, hyphens, periods and underscores, may not start with AWS. or Amazon., and may not start or end with a period or contain two periods in a row."
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn attributes(pairs: Vec<(&str, MessageAttributeValue)>) -> MessageAttributes {
        pairs
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    }

    #[test]
    fn body_digest_is_plain_md5() {
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    /// Digests published with an independent implementation of SQS's algorithm.
    #[test]
    fn attribute_digests_match_sqs() {
        let simple = attributes(vec![(
            "attribName1",
            MessageAttributeValue::string("attribValue 1"),
        )]);
        assert_eq!(
            md5_of_attributes(&simple).as_deref(),
            Some("19e27d4e946b072f3f58da80d94fd778")
        );
        let number = MessageAttributeValue {
            data_type: "Number.float".to_owned(),
            string_value: Some("4563442423554324324264524243.32543234".to_owned()),
            binary_value: None,
        };
        let binary = MessageAttributeValue {
            data_type: "Binary".to_owned(),
            string_value: None,
            binary_value: Some(b"Hello binary world!".to_vec()),
        };
        assert_eq!(
            md5_of_attributes(&attributes(vec![(
                "customNumberTypeAttrib",
                number.clone()
            )]))
            .as_deref(),
            Some("9fe1b90bbd9965bdf77bac517c7d2495")
        );
        assert_eq!(
            md5_of_attributes(&attributes(vec![("binaryAttribute", binary.clone())])).as_deref(),
            Some("31a92b15d92f8db860eda32aceb656c3")
        );
        let all = attributes(vec![
            (
                "attribName1",
                MessageAttributeValue::string("attribValue 1"),
            ),
            ("customNumberTypeAttrib", number),
            ("binaryAttribute", binary),
        ]);
        assert_eq!(
            md5_of_attributes(&all).as_deref(),
            Some("c932db14a896c663f83c260297d594ff")
        );
        assert_eq!(md5_of_attributes(&MessageAttributes::new()), None);
    }

    #[test]
    fn messages_are_checked_as_sqs_checks_them() {
        let none = MessageAttributes::new();
        assert_eq!(check_message("hi", &none, &none, 262_144), Ok(2));
        assert_eq!(
            check_message("bad\u{1}", &none, &none, 262_144),
            Err(SqsError::InvalidMessageContents)
        );
        assert!(check_message(&"x".repeat(262_145), &none, &none, 262_144).is_err());
        let reserved = attributes(vec![("AWS.x", MessageAttributeValue::string("v"))]);
        assert!(check_message("hi", &reserved, &none, 262_144).is_err());
        let bad_number = attributes(vec![(
            "n",
            MessageAttributeValue {
                data_type: "Number".to_owned(),
                string_value: Some("abc".to_owned()),
                binary_value: None,
            },
        )]);
        assert!(check_message("hi", &bad_number, &none, 262_144).is_err());
    }

    proptest! {
        /// The digest depends on the attributes, not on the order they were given in.
        #[test]
        fn digest_is_order_independent(unique in proptest::collection::btree_map("[a-z]{1,8}", "[ -~]{1,20}", 1..8)) {
            let entries: Vec<(String, String)> = unique.into_iter().collect();
            let forward: MessageAttributes = entries.iter().map(|(k, v)| (k.clone(), MessageAttributeValue::string(v.clone()))).collect();
            let backward: MessageAttributes = entries.iter().rev().map(|(k, v)| (k.clone(), MessageAttributeValue::string(v.clone()))).collect();
            let digest = md5_of_attributes(&forward);
            prop_assert_eq!(digest.clone(), md5_of_attributes(&backward));
            prop_assert_eq!(digest.map(|d| d.len()), Some(32));
        }

        /// Any body of valid characters within the limit is accepted.
        #[test]
        fn valid_bodies_pass(body in "[\\x20-\\x7e\\t\\n\\u{e000}-\\u{fffd}]{1,200}") {
            let none = MessageAttributes::new();
            prop_assert_eq!(check_message(&body, &none, &none, 262_144), Ok(body.len()));
        }
    }
}
