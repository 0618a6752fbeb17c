//! S3 event notifications: an object event of a stack's bucket goes to each function,
//! queue and topic that one of the stack's current notifications names (SAM `S3` events,
//! the bucket's `NotificationConfiguration`), as S3's event record (`Records[].s3`), and to
//! the default event bus as an `aws.s3` event when the bucket turns EventBridge on.
//! Functions are invoked asynchronously through the durable queue, queues and topics get
//! the record as their message; each is handed over before the S3 request is answered.

use std::sync::{Arc, Weak};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};
use serverful_s3::{ObjectEvent, ObjectEventSink};
use serverful_template as template;
use time::format_description::well_known::Rfc3339;

use crate::server::Platform;

/// Starts delivering the S3 store's object events, when the platform has buckets.
pub fn start(platform: &Arc<Platform>) {
    if let Some(s3) = &platform.config().buckets {
        s3.set_event_sink(Arc::new(PlatformObjectEvents(Arc::downgrade(platform))));
    }
}

/// Delivers the object events a crash left in S3's journal (at least once); run once the
/// stacks' versions are current, so that their notifications are known.
pub fn redeliver(platform: &Arc<Platform>) {
    let Some(s3) = platform.config().buckets.clone() else {
        return;
    };
    tokio::spawn(async move {
        match s3.deliver_journaled_events().await {
            Ok(0) => {}
            Ok(delivered) => {
                tracing::info!(
                    delivered,
                    "delivered S3 events a previous run left undelivered"
                );
            }
            Err(error) => tracing::error!("failed to deliver S3's journaled events: {error}"),
        }
    });
}

struct PlatformObjectEvents(Weak<Platform>);

impl ObjectEventSink for PlatformObjectEvents {
    fn deliver(&self, event: ObjectEvent) -> BoxFuture<'static, ()> {
        let platform = self.0.upgrade();
        Box::pin(async move {
            if let Some(platform) = platform {
                deliver(&platform, &event).await;
            }
        })
    }

    fn wants(&self, bucket: &str) -> bool {
        let Some(platform) = self.0.upgrade() else {
            return false;
        };
        platform.current_versions().iter().any(|version| {
            let app = &version.app;
            app.buckets
                .iter()
                .any(|candidate| candidate.name == bucket && candidate.event_bridge)
                || app
                    .bucket_notifications
                    .iter()
                    .any(|notification| notification.bucket == bucket)
        })
    }
}

/// What S3 encodes in an event's object key: as a form (`+` for a space), `/` kept.
const KEY_ENCODING: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'*')
    .remove(b'/')
    .remove(b' ');

/// The object key as event records carry it: URL-encoded, a space as `+`.
fn encoded_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_ENCODING)
        .to_string()
        .replace(' ', "+")
}

/// S3's event record (`{"Records": [...]}`) for `event` under the notification
/// `configuration_id`.
fn record(event: &ObjectEvent, configuration_id: &str, region: &str) -> Value {
    let time = event
        .time
        .replace_nanosecond(event.time.millisecond() as u32 * 1_000_000)
        .unwrap_or(event.time)
        .format(&Rfc3339)
        .unwrap_or_default();
    let mut object = json!({
        "key": encoded_key(&event.key),
        "sequencer": event.sequencer,
    });
    if let Some(size) = event.size {
        object["size"] = json!(size);
    }
    if let Some(etag) = &event.etag {
        object["eTag"] = json!(etag);
    }
    if let Some(version_id) = &event.version_id {
        object["versionId"] = json!(version_id);
    }
    let principal = event
        .principal
        .clone()
        .unwrap_or_else(|| "anonymous".to_owned());
    json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": region,
            "eventTime": time,
            "eventName": event.name,
            "userIdentity": { "principalId": principal },
            "requestParameters": { "sourceIPAddress": event.source_ip },
            "responseElements": {
                "x-amz-request-id": event.request_id,
                "x-amz-id-2": format!("{}/serverful", event.request_id),
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": configuration_id,
                "bucket": {
                    "name": event.bucket,
                    "ownerIdentity": { "principalId": principal },
                    "arn": format!("arn:aws:s3:::{}", event.bucket),
                },
                "object": object,
            },
        }]
    })
}

/// The detail-type and detail of the EventBridge event S3 sends for `event`.
fn bus_event(event: &ObjectEvent, account_id: &str) -> (&'static str, Map<String, Value>) {
    let created = event.name.starts_with("ObjectCreated");
    let mut object = Map::new();
    object.insert("key".to_owned(), json!(event.key));
    if let Some(size) = event.size {
        object.insert("size".to_owned(), json!(size));
    }
    if let Some(etag) = &event.etag {
        object.insert("etag".to_owned(), json!(etag));
    }
    if let Some(version_id) = &event.version_id {
        object.insert("version-id".to_owned(), json!(version_id));
    }
    object.insert("sequencer".to_owned(), json!(event.sequencer));
    let reason = match event.name {
        "ObjectCreated:Copy" => "CopyObject",
        "ObjectCreated:CompleteMultipartUpload" => "CompleteMultipartUpload",
        "ObjectRemoved:Delete" | "ObjectRemoved:DeleteMarkerCreated" => "DeleteObject",
        name if name.starts_with("LifecycleExpiration:") => "Lifecycle Expiration",
        _ => "PutObject",
    };
    let mut detail = Map::new();
    detail.insert("version".to_owned(), json!("0"));
    detail.insert("bucket".to_owned(), json!({ "name": event.bucket }));
    detail.insert("object".to_owned(), Value::Object(object));
    detail.insert("request-id".to_owned(), json!(event.request_id));
    detail.insert("requester".to_owned(), json!(account_id));
    detail.insert("source-ip-address".to_owned(), json!(event.source_ip));
    detail.insert("reason".to_owned(), json!(reason));
    if !created {
        let marker = event.name.ends_with("DeleteMarkerCreated");
        detail.insert(
            "deletion-type".to_owned(),
            json!(if marker {
                "Delete Marker Created"
            } else {
                "Permanently Deleted"
            }),
        );
    }
    let detail_type = if created {
        "Object Created"
    } else {
        "Object Deleted"
    };
    (detail_type, detail)
}

async fn deliver(platform: &Arc<Platform>, event: &ObjectEvent) {
    let region = platform.config().region.clone();
    for version in platform.current_versions() {
        let app = &version.app;
        if !app.buckets.iter().any(|bucket| bucket.name == event.bucket) {
            continue;
        }
        let stack = version.record.stack.clone();
        let to_bus = app
            .buckets
            .iter()
            .any(|bucket| bucket.name == event.bucket && bucket.event_bridge);
        if to_bus {
            let (detail_type, detail) = bus_event(event, &platform.config().account_id);
            let resources = vec![format!("arn:aws:s3:::{}", event.bucket)];
            let put = crate::events_api::put_service_event(
                platform,
                template::DEFAULT_BUS,
                "aws.s3",
                detail_type,
                detail,
                resources,
            )
            .await;
            if let Err(error) = put {
                tracing::error!(bucket = %event.bucket, key = %event.key, "S3 event not put on the default bus: {error}");
            }
        }
        for notification in &app.bucket_notifications {
            if notification.bucket != event.bucket || !notification.takes(event.name, &event.key) {
                continue;
            }
            let body = record(event, &notification.id, &region).to_string();
            let delivered = match &notification.target {
                template::NotificationTarget::Function(function) => {
                    invoke(platform, &stack, app, function, body).await
                }
                template::NotificationTarget::Queue(arn) => {
                    let message = crate::messaging::Message {
                        body,
                        ..crate::messaging::Message::default()
                    };
                    platform.send_to(arn, message).await
                }
                template::NotificationTarget::Topic(arn) => {
                    let message = crate::messaging::Message {
                        body,
                        subject: Some("Amazon S3 Notification".to_owned()),
                        ..crate::messaging::Message::default()
                    };
                    platform.send_to(arn, message).await
                }
            };
            if let Err(error) = delivered {
                tracing::error!(
                    bucket = %event.bucket,
                    key = %event.key,
                    notification = %notification.id,
                    "S3 event notification not delivered: {error}"
                );
            }
        }
    }
}

/// Queues the asynchronous invocation of the stack's `function` (at its SAM alias, as
/// SAM points the event at it).
async fn invoke(
    platform: &Platform,
    stack: &str,
    app: &template::App,
    function: &str,
    body: String,
) -> Result<(), String> {
    let Some(queue) = platform.config().async_invocations.clone() else {
        return Err("this server has no queue of asynchronous invocations".to_owned());
    };
    let qualifier = app
        .functions
        .iter()
        .find(|candidate| candidate.logical_id == function)
        .and_then(|candidate| candidate.auto_publish_alias.as_deref());
    queue
        .submit(
            uuid::Uuid::new_v4().to_string(),
            stack,
            function,
            qualifier,
            Bytes::from(body),
        )
        .await
        .map(|_| ())
        .map_err(|error| format!("failed to queue the invocation of {function}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_as_s3_encodes_them() {
        assert_eq!(encoded_key("red flower.jpg"), "red+flower.jpg");
        assert_eq!(
            encoded_key("uploads/a b/c&d=é.png"),
            "uploads/a+b/c%26d%3D%C3%A9.png"
        );
    }

    #[test]
    fn records_have_s3s_shape() {
        let event = ObjectEvent {
            name: "ObjectCreated:Put",
            bucket: "photos".to_owned(),
            key: "in/cat 1.jpg".to_owned(),
            size: Some(12),
            etag: Some("abc".to_owned()),
            version_id: None,
            sequencer: "0000000000000001".to_owned(),
            principal: Some("AKID".to_owned()),
            source_ip: "127.0.0.1".to_owned(),
            request_id: "REQ".to_owned(),
            time: time::macros::datetime!(2026-12-07 12:00:00.123456 UTC),
        };
        let record = record(&event, "Thumbnails/Upload", "eu-west-1");
        let first = &record["Records"][0];
        assert_eq!(first["eventTime"], "2026-12-07T12:00:00.123Z");
        assert_eq!(first["eventName"], "ObjectCreated:Put");
        assert_eq!(first["awsRegion"], "eu-west-1");
        assert_eq!(first["s3"]["configurationId"], "Thumbnails/Upload");
        assert_eq!(first["s3"]["bucket"]["arn"], "arn:aws:s3:::photos");
        assert_eq!(first["s3"]["object"]["key"], "in/cat+1.jpg");
        assert_eq!(first["s3"]["object"]["size"], 12);
        assert_eq!(first["s3"]["object"]["eTag"], "abc");
    }
}
