//! `PutEvents` entries: their checks, their size as AWS computes it, and the event
//! EventBridge builds from one (the envelope rules match and targets receive).

use serde_json::{Map, Value};
use time::OffsetDateTime;

/// A request's entries (`entry_size` summed) must stay below 256 KB, as AWS documents
/// ("less than 256KB").
pub const MAX_REQUEST_SIZE: usize = 256 * 1024;
/// At most this many entries per request.
pub const MAX_ENTRIES: usize = 10;

/// One entry of a `PutEvents` request, as the wire format gives it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PutEventsEntry {
    pub source: Option<String>,
    pub detail_type: Option<String>,
    /// A JSON object, as text.
    pub detail: Option<String>,
    pub resources: Vec<String>,
    pub time: Option<OffsetDateTime>,
    pub event_bus_name: Option<String>,
    pub trace_header: Option<String>,
}

/// A failed entry: `ErrorCode` and `ErrorMessage` of its result entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct EntryError {
    pub code: &'static str,
    pub message: String,
}

/// A request-wide problem: AWS answers the whole request with `ValidationException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("Total size of the entries in the request is over the limit.")]
    TooLarge { size: usize },
    #[error(
        "1 validation error detected: Value '[...]' at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10"
    )]
    TooManyEntries { count: usize },
    #[error(
        "1 validation error detected: Value '[]' at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1"
    )]
    NoEntries,
}

/// An entry's size as AWS documents it: 14 bytes for a `Time`, plus the UTF-8 bytes of
/// `Source`, `DetailType`, `Detail` and each of `Resources`.
pub fn entry_size(entry: &PutEventsEntry) -> usize {
    let text = |value: &Option<String>| value.as_ref().map_or(0, String::len);
    usize::from(entry.time.is_some()) * 14
        + text(&entry.source)
        + text(&entry.detail_type)
        + text(&entry.detail)
        + entry.resources.iter().map(String::len).sum::<usize>()
}

/// The request-wide checks, made before any entry is looked at.
pub fn check_request(entries: &[PutEventsEntry]) -> Result<(), RequestError> {
    if entries.is_empty() {
        return Err(RequestError::NoEntries);
    }
    if entries.len() > MAX_ENTRIES {
        return Err(RequestError::TooManyEntries {
            count: entries.len(),
        });
    }
    let size: usize = entries.iter().map(entry_size).sum();
    if size >= MAX_REQUEST_SIZE {
        return Err(RequestError::TooLarge { size });
    }
    Ok(())
}

fn required(name: &str) -> EntryError {
    EntryError {
        code: "InvalidArgument",
        message: format!("Parameter {name} is not valid. Reason: {name} is a required argument."),
    }
}

/// Checks one entry as AWS does, in AWS's order, and reads its detail.
pub fn check_entry(entry: &PutEventsEntry) -> Result<Map<String, Value>, EntryError> {
    if entry.source.as_deref().is_none_or(str::is_empty) {
        return Err(required("Source"));
    }
    if entry.detail_type.as_deref().is_none_or(str::is_empty) {
        return Err(required("DetailType"));
    }
    let Some(detail) = entry.detail.as_deref().filter(|detail| !detail.is_empty()) else {
        return Err(required("Detail"));
    };
    match serde_json::from_str::<Value>(detail) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(EntryError {
            code: "MalformedDetail",
            message: "Detail is malformed.".to_string(),
        }),
    }
}

/// What the envelope takes from the bus rather than the entry.
#[derive(Debug, Clone)]
pub struct EnvelopeContext<'a> {
    /// The event's id (a UUID the caller makes: this crate has no randomness).
    pub id: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    /// When the event arrived, used when the entry has no `Time`.
    pub now: OffsetDateTime,
}

/// The event EventBridge delivers for a checked entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub detail_type: String,
    pub source: String,
    pub account: String,
    /// `2015-11-11T21:29:54Z`: UTC, whole seconds.
    pub time: String,
    pub region: String,
    pub resources: Vec<String>,
    pub detail: Map<String, Value>,
}

impl Event {
    /// Builds the envelope from an entry that passed `check_entry`, whose detail it was.
    pub fn from_entry(
        entry: &PutEventsEntry,
        detail: Map<String, Value>,
        context: &EnvelopeContext<'_>,
    ) -> Event {
        Event {
            id: context.id.to_string(),
            detail_type: entry.detail_type.clone().unwrap_or_default(),
            source: entry.source.clone().unwrap_or_default(),
            account: context.account.to_string(),
            time: format_time(entry.time.unwrap_or(context.now)),
            region: context.region.to_string(),
            resources: entry.resources.clone(),
            detail,
        }
    }

    /// The event as a JSON value, for matching and for input paths.
    pub fn to_value(&self) -> Value {
        let mut object = Map::new();
        object.insert("version".to_string(), Value::from("0"));
        object.insert("id".to_string(), Value::from(self.id.as_str()));
        object.insert(
            "detail-type".to_string(),
            Value::from(self.detail_type.as_str()),
        );
        object.insert("source".to_string(), Value::from(self.source.as_str()));
        object.insert("account".to_string(), Value::from(self.account.as_str()));
        object.insert("time".to_string(), Value::from(self.time.as_str()));
        object.insert("region".to_string(), Value::from(self.region.as_str()));
        object.insert("resources".to_string(), Value::from(self.resources.clone()));
        object.insert("detail".to_string(), Value::Object(self.detail.clone()));
        Value::Object(object)
    }

    /// The event as JSON text with its members in AWS's order (`version`, `id`,
    /// `detail-type`, `source`, `account`, `time`, `region`, `resources`, `detail`),
    /// which a `Value` would sort away.
    pub fn to_json(&self) -> String {
        let text = |value: &str| Value::from(value).to_string();
        format!(
            r#"{{"version":"0","id":{},"detail-type":{},"source":{},"account":{},"time":{},"region":{},"resources":{},"detail":{}}}"#,
            text(&self.id),
            text(&self.detail_type),
            text(&self.source),
            text(&self.account),
            text(&self.time),
            text(&self.region),
            Value::from(self.resources.clone()),
            Value::Object(self.detail.clone()),
        )
    }
}

/// EventBridge's event time: UTC, whole seconds, `Z`.
pub fn format_time(time: OffsetDateTime) -> String {
    let utc = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    fn entry() -> PutEventsEntry {
        PutEventsEntry {
            source: Some("com.mycompany.myapp".to_string()),
            detail_type: Some("myDetailType".to_string()),
            detail: Some(r#"{ "key1": "value1", "key2": "value2" }"#.to_string()),
            resources: vec!["resource1".to_string(), "resource2".to_string()],
            ..PutEventsEntry::default()
        }
    }

    #[test]
    fn envelope_has_aws_shape_and_order() {
        let entry = entry();
        let detail = check_entry(&entry).expect("valid entry");
        let context = EnvelopeContext {
            id: "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            account: "123456789012",
            region: "us-east-1",
            now: datetime!(2024-03-01 10:20:30.456 UTC),
        };
        let event = Event::from_entry(&entry, detail, &context);
        assert_eq!(
            event.to_json(),
            r#"{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"myDetailType","source":"com.mycompany.myapp","account":"123456789012","time":"2024-03-01T10:20:30Z","region":"us-east-1","resources":["resource1","resource2"],"detail":{"key1":"value1","key2":"value2"}}"#
        );
        assert_eq!(
            serde_json::from_str::<Value>(&event.to_json()).expect("JSON"),
            event.to_value()
        );
        assert_eq!(
            event.to_value()["detail"],
            json!({"key1": "value1", "key2": "value2"})
        );
    }

    #[test]
    fn entry_time_wins_and_is_written_in_utc() {
        let entry = PutEventsEntry {
            time: Some(datetime!(2017-12-22 20:43:48 +2)),
            ..entry()
        };
        let detail = check_entry(&entry).expect("valid");
        let context = EnvelopeContext {
            id: "x",
            account: "1",
            region: "r",
            now: datetime!(2024-01-01 0:00 UTC),
        };
        assert_eq!(
            Event::from_entry(&entry, detail, &context).time,
            "2017-12-22T18:43:48Z"
        );
    }

    #[test]
    fn entry_errors() {
        let error = |entry: PutEventsEntry| check_entry(&entry).expect_err("refused");
        let missing_source = error(PutEventsEntry {
            source: None,
            ..entry()
        });
        assert_eq!(missing_source.code, "InvalidArgument");
        assert_eq!(
            missing_source.message,
            "Parameter Source is not valid. Reason: Source is a required argument."
        );
        assert_eq!(
            error(PutEventsEntry {
                detail_type: Some(String::new()),
                ..entry()
            })
            .message,
            "Parameter DetailType is not valid. Reason: DetailType is a required argument."
        );
        assert_eq!(
            error(PutEventsEntry {
                detail: None,
                ..entry()
            })
            .message,
            "Parameter Detail is not valid. Reason: Detail is a required argument."
        );
        for malformed in ["{", "[1]", "\"text\"", "5"] {
            let refused = error(PutEventsEntry {
                detail: Some(malformed.to_string()),
                ..entry()
            });
            assert_eq!(
                (refused.code, refused.message.as_str()),
                ("MalformedDetail", "Detail is malformed."),
                "{malformed}"
            );
        }
        // Source is checked before DetailType and Detail.
        assert_eq!(
            error(PutEventsEntry::default()).message,
            "Parameter Source is not valid. Reason: Source is a required argument."
        );
    }

    #[test]
    fn size_as_aws_computes_it() {
        let entry = PutEventsEntry {
            time: Some(datetime!(2024-01-01 0:00 UTC)),
            ..entry()
        };
        let expected = 14
            + "com.mycompany.myapp".len()
            + "myDetailType".len()
            + entry.detail.as_ref().map_or(0, String::len)
            + 18;
        assert_eq!(entry_size(&entry), expected);
        let unicode = PutEventsEntry {
            source: Some("é".to_string()),
            detail_type: Some("t".to_string()),
            ..PutEventsEntry::default()
        };
        assert_eq!(entry_size(&unicode), 3);
    }

    #[test]
    fn request_limits() {
        assert_eq!(check_request(&[]), Err(RequestError::NoEntries));
        assert_eq!(
            check_request(&vec![entry(); 11]),
            Err(RequestError::TooManyEntries { count: 11 })
        );
        let big = PutEventsEntry {
            detail: Some(format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_REQUEST_SIZE))),
            ..entry()
        };
        assert!(matches!(
            check_request(&[big]),
            Err(RequestError::TooLarge { .. })
        ));
        // The size must be below the limit: one byte less passes, the limit itself fails.
        let base = entry_size(&PutEventsEntry {
            detail: Some(String::new()),
            ..entry()
        });
        let below = PutEventsEntry {
            detail: Some("x".repeat(MAX_REQUEST_SIZE - base - 1)),
            ..entry()
        };
        assert_eq!(check_request(std::slice::from_ref(&below)), Ok(()));
        let at = PutEventsEntry {
            detail: Some("x".repeat(MAX_REQUEST_SIZE - base)),
            ..entry()
        };
        assert_eq!(entry_size(&at), MAX_REQUEST_SIZE);
        assert!(matches!(
            check_request(&[at]),
            Err(RequestError::TooLarge { .. })
        ));
        assert_eq!(
            RequestError::TooLarge { size: 1 }.to_string(),
            "Total size of the entries in the request is over the limit."
        );
    }
}
