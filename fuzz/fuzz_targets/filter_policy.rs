//! Fuzzes SNS subscription filter policies: the input is a policy and a message body
//! separated by a NUL byte. Every policy must parse or give SNS's error, in both scopes,
//! and a parsed policy must match the body (and, as attributes, the body's top-level
//! members) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serverful_sns::filter::{FilterPolicy, FilterScope};
use serverful_sns::message::{AttributeValue, MessageAttribute, MessageAttributes};

fuzz_target!(|data: &[u8]| {
    let (policy, body) = match data.iter().position(|byte| *byte == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b"{}"[..]),
    };
    let Ok(policy) = std::str::from_utf8(policy) else { return };
    let body = String::from_utf8_lossy(body);
    let mut attributes = MessageAttributes::new();
    if let Ok(serde_json::Value::Object(members)) = serde_json::from_str(&body) {
        for (name, value) in members {
            let (data_type, text) = match &value {
                serde_json::Value::Number(number) => ("Number", number.to_string()),
                serde_json::Value::Array(_) => ("String.Array", value.to_string()),
                serde_json::Value::String(text) => ("String", text.clone()),
                other => ("String", other.to_string()),
            };
            attributes.insert(
                name,
                MessageAttribute {
                    data_type: data_type.to_owned(),
                    value: AttributeValue::String(text),
                },
            );
        }
    }
    for scope in [FilterScope::MessageAttributes, FilterScope::MessageBody] {
        if let Ok(policy) = FilterPolicy::parse(policy, scope) {
            let _ = policy.matches(&body, &attributes);
        }
    }
});
