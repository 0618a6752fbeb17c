//! Object events: what happened to an object (created by a put, a copy or a multipart
//! upload; removed by a delete), told to the [`ObjectEventSink`] the server sets, which
//! delivers S3's event notifications to functions, queues and topics. The sink is awaited
//! before the request is answered, so an acknowledged change has had its notifications
//! handed to their (durable) queues.
//!
//! At least once, crashes included: an event for a bucket the sink wants is written to the
//! journal (`S3Backend::journal_event`) before its change is committed, and forgotten
//! once the sink has taken it. At start, the journal's events whose change did happen
//! (the object is there with that ETag, or gone) are delivered again.

use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::BoxFuture;
use time::OffsetDateTime;

/// One change to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    /// As S3 names it in `eventName`: `ObjectCreated:Put`, `ObjectCreated:Copy`,
    /// `ObjectCreated:CompleteMultipartUpload`, `ObjectRemoved:Delete`,
    /// `ObjectRemoved:DeleteMarkerCreated`, `LifecycleExpiration:Delete`, ...
    pub name: &'static str,
    pub bucket: String,
    pub key: String,
    /// Created objects only.
    pub size: Option<u64>,
    /// Created objects only, without quotes.
    pub etag: Option<String>,
    /// The version created or removed (or the delete marker made), in a versioned bucket.
    pub version_id: Option<String>,
    /// Orders the events of one key: later events have greater sequencers.
    pub sequencer: String,
    /// The access key that signed the request, if any.
    pub principal: Option<String>,
    pub source_ip: String,
    pub request_id: String,
    pub time: OffsetDateTime,
}

/// Every event name S3 tells, so that a journaled one reads back as the same `&'static`.
const NAMES: [&str; 7] = [
    "ObjectCreated:Put",
    "ObjectCreated:Copy",
    "ObjectCreated:CompleteMultipartUpload",
    "ObjectRemoved:Delete",
    "ObjectRemoved:DeleteMarkerCreated",
    "LifecycleExpiration:Delete",
    "LifecycleExpiration:DeleteMarkerCreated",
];

impl ObjectEvent {
    /// The event as the journal keeps it.
    pub(crate) fn to_journal(&self) -> String {
        serde_json::json!({
            "name": self.name,
            "bucket": self.bucket,
            "key": self.key,
            "size": self.size,
            "etag": self.etag,
            "versionId": self.version_id,
            "sequencer": self.sequencer,
            "principal": self.principal,
            "sourceIp": self.source_ip,
            "requestId": self.request_id,
            "time": self.time.unix_timestamp_nanos().to_string(),
        })
        .to_string()
    }

    /// An event from the journal; `None` for one this build does not know.
    pub(crate) fn from_journal(text: &str) -> Option<ObjectEvent> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let text_of = |name: &str| value.get(name)?.as_str().map(str::to_owned);
        let name = value.get("name")?.as_str()?;
        Some(ObjectEvent {
            name: NAMES.iter().find(|known| **known == name)?,
            bucket: text_of("bucket")?,
            key: text_of("key")?,
            size: value.get("size").and_then(serde_json::Value::as_u64),
            etag: text_of("etag"),
            version_id: text_of("versionId"),
            sequencer: text_of("sequencer")?,
            principal: text_of("principal"),
            source_ip: text_of("sourceIp")?,
            request_id: text_of("requestId")?,
            time: OffsetDateTime::from_unix_timestamp_nanos(text_of("time")?.parse().ok()?).ok()?,
        })
    }
}

/// Delivers object events (the platform: to the functions, queues and topics of the
/// bucket's notification configuration).
pub trait ObjectEventSink: Send + Sync + 'static {
    fn deliver(&self, event: ObjectEvent) -> BoxFuture<'static, ()>;

    /// Whether events of `bucket` go anywhere (those of no other bucket are neither
    /// journaled nor delivered).
    fn wants(&self, bucket: &str) -> bool {
        let _ = bucket;
        true
    }
}

/// Hex sequencers that grow with time and, within one process, with each event.
pub(crate) fn sequencer() -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos()).unwrap_or(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return format!("{next:016X}"),
            Err(current) => last = current,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_back_from_the_journal_as_they_were() {
        let event = ObjectEvent {
            name: "ObjectRemoved:DeleteMarkerCreated",
            bucket: "b".to_owned(),
            key: "a key/é".to_owned(),
            size: None,
            etag: None,
            version_id: Some("v1".to_owned()),
            sequencer: sequencer(),
            principal: Some("AK".to_owned()),
            source_ip: "127.0.0.1".to_owned(),
            request_id: "R".to_owned(),
            time: OffsetDateTime::from_unix_timestamp_nanos(1_795_000_000_123_456_789)
                .expect("a time"),
        };
        assert_eq!(ObjectEvent::from_journal(&event.to_journal()), Some(event));
        let created = ObjectEvent {
            name: "ObjectCreated:Put",
            size: Some(5),
            etag: Some("e".to_owned()),
            version_id: None,
            principal: None,
            ..ObjectEvent::from_journal(&ObjectEvent::to_journal(&ObjectEvent {
                name: "ObjectCreated:Put",
                bucket: "b".to_owned(),
                key: "k".to_owned(),
                size: None,
                etag: None,
                version_id: None,
                sequencer: "0".to_owned(),
                principal: None,
                source_ip: "s".to_owned(),
                request_id: "r".to_owned(),
                time: OffsetDateTime::UNIX_EPOCH,
            }))
            .expect("read back")
        };
        assert_eq!(
            ObjectEvent::from_journal(&created.to_journal()),
            Some(created)
        );
        assert_eq!(
            ObjectEvent::from_journal(r#"{"name": "Unknown:Thing"}"#),
            None
        );
        assert_eq!(ObjectEvent::from_journal("not json"), None);
    }

    #[test]
    fn sequencers_grow() {
        let first = sequencer();
        let second = sequencer();
        assert_eq!(first.len(), 16);
        assert!(second > first, "{second} > {first}");
    }
}
