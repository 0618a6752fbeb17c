//! What a record keeps of a payload: the values of named headers and JSON fields replaced
//! by [`REDACTED`](crate::REDACTED) anywhere in it, then the text cut at the payload cap.
//!
//! Names match object keys case-insensitively at any depth, so a header name covers an API
//! Gateway event's `headers` and `multiValueHeaders` alike. A string that holds JSON
//! itself (an API Gateway event's or answer's `body`) is redacted inside too, so a field
//! of a request's body is covered as well as a header. A payload that is not JSON is kept
//! as it is.

use crate::{floor_char_boundary, CapturedBytes, Payload, REDACTED};

/// Redacts payloads by a list of names.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Lowercase names.
    names: Vec<String>,
}

impl Redactor {
    pub fn new(names: &[String]) -> Redactor {
        Redactor {
            names: names
                .iter()
                .map(|name| name.trim().to_ascii_lowercase())
                .filter(|name| !name.is_empty())
                .collect(),
        }
    }

    /// The payload as a record keeps it: redacted, then cut at `cap` bytes.
    pub fn keep(&self, payload: &CapturedBytes, cap: usize) -> Payload {
        let original = payload.size();
        let mut text = String::from_utf8_lossy(&payload.bytes).into_owned();
        if !self.names.is_empty() {
            if let Some(redacted) = redact_json(&text, &self.names) {
                text = redacted;
            }
        }
        let mut truncated = payload
            .original_bytes
            .is_some_and(|size| size > payload.bytes.len() as u64);
        if text.len() > cap {
            text.truncate(floor_char_boundary(&text, cap));
            truncated = true;
        }
        Payload {
            text,
            truncated,
            bytes: original,
        }
    }
}

/// `text` with the values of `names` (lowercase) replaced, if it is JSON and had any;
/// `None` when it is not JSON or nothing matched.
pub fn redact_json(text: &str, names: &[String]) -> Option<String> {
    let mut value: serde_json::Value = serde_json::from_str(text).ok()?;
    if redact_value(&mut value, names) {
        Some(value.to_string())
    } else {
        None
    }
}

/// Redacts in place; true if anything was.
fn redact_value(value: &mut serde_json::Value, names: &[String]) -> bool {
    match value {
        serde_json::Value::Object(fields) => {
            let mut changed = false;
            for (key, field) in fields.iter_mut() {
                if names.iter().any(|name| key.eq_ignore_ascii_case(name)) {
                    *field = serde_json::Value::String(REDACTED.to_owned());
                    changed = true;
                } else {
                    changed |= redact_value(field, names);
                }
            }
            changed
        }
        serde_json::Value::Array(items) => {
            let mut changed = false;
            for item in items {
                changed |= redact_value(item, names);
            }
            changed
        }
        serde_json::Value::String(text) => {
            let trimmed = text.trim_start();
            if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
                return false;
            }
            match redact_json(text, names) {
                Some(redacted) => {
                    *text = redacted;
                    true
                }
                None => false,
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn keep(names: &[&str], text: &str, cap: usize) -> Payload {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        Redactor::new(&names).keep(&CapturedBytes::new(Bytes::from(text.to_owned())), cap)
    }

    #[test]
    fn named_headers_and_fields_are_redacted_anywhere() {
        let event = r#"{"headers":{"Authorization":"Bearer abc","accept":"*/*"},"multiValueHeaders":{"authorization":["Bearer abc"]},"body":"{\"user\":\"ann\",\"Password\":\"hunter2\"}","list":[{"password":1}]}"#;
        let kept = keep(&["authorization", "PASSWORD"], event, 10_000);
        assert!(!kept.truncated);
        assert_eq!(kept.bytes, event.len() as u64);
        let value: serde_json::Value = serde_json::from_str(&kept.text).expect("JSON");
        assert_eq!(value["headers"]["Authorization"], "***");
        assert_eq!(value["headers"]["accept"], "*/*");
        assert_eq!(value["multiValueHeaders"]["authorization"], "***");
        assert_eq!(value["list"][0]["password"], "***");
        let body: serde_json::Value =
            serde_json::from_str(value["body"].as_str().expect("a body")).expect("body JSON");
        assert_eq!(body, serde_json::json!({"user": "ann", "Password": "***"}));
        assert!(!kept.text.contains("hunter2") && !kept.text.contains("Bearer"));
    }

    #[test]
    fn payloads_without_matches_or_json_are_kept_as_they_are() {
        let event = r#"{"a":  1}"#;
        assert_eq!(keep(&["password"], event, 100).text, event);
        assert_eq!(keep(&["password"], "not json", 100).text, "not json");
        assert_eq!(keep(&[], event, 100).text, event);
    }

    #[test]
    fn payloads_over_the_cap_are_cut_and_marked() {
        let event = format!(r#"{{"data":"{}"}}"#, "é".repeat(100));
        let kept = keep(&[], &event, 51);
        assert!(kept.truncated);
        assert_eq!(kept.bytes, event.len() as u64);
        assert!(
            kept.text.len() <= 51 && kept.text.len() >= 50,
            "{}",
            kept.text.len()
        );
        assert!(event.starts_with(&kept.text));

        // A payload the caller already cut is marked even under the cap.
        let cut = CapturedBytes {
            bytes: Bytes::from_static(b"abc"),
            original_bytes: Some(10),
        };
        let kept = Redactor::default().keep(&cut, 100);
        assert!(kept.truncated);
        assert_eq!(kept.bytes, 10);
    }
}
