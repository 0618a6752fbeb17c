//! Object events: what happened to an object (created by a put, a copy or a multipart
//! upload; removed by a delete), told to the [`ObjectEventSink`] the server sets, which
//! delivers S3's event notifications to functions, queues and topics. The sink is awaited
//! before the request is answered, so an acknowledged change has had its notifications
//! handed to their (durable) queues.

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

/// Delivers object events (the platform: to the functions, queues and topics of the
/// bucket's notification configuration).
pub trait ObjectEventSink: Send + Sync + 'static {
    fn deliver(&self, event: ObjectEvent) -> BoxFuture<'static, ()>;
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
    fn sequencers_grow() {
        let first = sequencer();
        let second = sequencer();
        assert_eq!(first.len(), 16);
        assert!(second > first, "{second} > {first}");
    }
}
