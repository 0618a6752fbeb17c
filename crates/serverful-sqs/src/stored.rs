//! How messages and queue records are stored, shared by every backend (SQLite here,
//! PostgreSQL in `serverful-postgres`): attribute maps as JSON text, FIFO sequence
//! numbers from a message's position, and receipt tokens. Backends agree on these so
//! that their rows read the same.

use std::collections::BTreeMap;

use base64::Engine as _;

use crate::message::{MessageAttributeValue, MessageAttributes};

/// A queue's attributes or tags as the JSON object text they are stored as.
pub fn map_to_json(map: &BTreeMap<String, String>) -> String {
    serde_json::Value::Object(
        map.iter()
            .map(|(key, value)| (key.clone(), serde_json::Value::String(value.clone())))
            .collect(),
    )
    .to_string()
}

/// Reads [`map_to_json`]'s text (anything else reads as empty).
pub fn map_from_json(text: &str) -> BTreeMap<String, String> {
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
        .map(|object| {
            object
                .into_iter()
                .filter_map(|(key, value)| value.as_str().map(|value| (key, value.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Message attributes as the JSON text they are stored as (`None` when there are none):
/// `{name: {"t": type, "s": string, "b": base64 binary}}`.
pub fn attributes_to_json(attributes: &MessageAttributes) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let object: serde_json::Map<String, serde_json::Value> = attributes
        .iter()
        .map(|(name, value)| {
            let mut entry = serde_json::Map::new();
            entry.insert("t".into(), value.data_type.clone().into());
            if let Some(string) = &value.string_value {
                entry.insert("s".into(), string.clone().into());
            }
            if let Some(binary) = &value.binary_value {
                entry.insert(
                    "b".into(),
                    base64::engine::general_purpose::STANDARD
                        .encode(binary)
                        .into(),
                );
            }
            (name.clone(), serde_json::Value::Object(entry))
        })
        .collect();
    Some(serde_json::Value::Object(object).to_string())
}

/// Reads [`attributes_to_json`]'s text.
pub fn attributes_from_json(text: Option<String>) -> MessageAttributes {
    let Some(text) = text else {
        return MessageAttributes::new();
    };
    let Ok(object) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
    else {
        return MessageAttributes::new();
    };
    object
        .into_iter()
        .map(|(name, entry)| {
            let text = |key: &str| entry.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            let value = MessageAttributeValue {
                data_type: text("t").unwrap_or_default(),
                string_value: text("s"),
                binary_value: text("b")
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok()),
            };
            (name, value)
        })
        .collect()
}

/// A FIFO message's sequence number: its position in the store, as the 20-digit decimal
/// SQS's numbers look like.
pub fn sequence_number(seq: i64) -> String {
    format!("{:020}", seq + 10_000_000_000_000_000)
}

/// A fresh receipt token: a receive's part of its receipt handles.
pub fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
