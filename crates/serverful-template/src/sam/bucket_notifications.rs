//! S3 event notifications: SAM `S3` events on functions (`Bucket: !Ref B`, `Events`,
//! `Filter.S3Key.Rules`) and a bucket's own `NotificationConfiguration`
//! (`LambdaConfigurations`, `QueueConfigurations`, `TopicConfigurations`), read into
//! [`BucketNotification`]s. Both name the bucket by its physical name; SAM's events must
//! name a bucket of the template, as SAM requires.

use serde_json::Value;

use super::function_events;
use super::properties::{expect_string, mapping, one_or_many};
use super::RawResource;
use crate::intrinsics::Resolver;
use crate::model::{Bucket, BucketNotification, Function, NotificationTarget};
use crate::Problem;

/// The event types a notification may name (`s3:` and a pattern of S3's event names).
const EVENT_TYPES: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
];

fn check_event(event: &str, span: crate::node::Span, location: &str) -> Result<(), Problem> {
    if EVENT_TYPES.contains(&event) {
        return Ok(());
    }
    Err(Problem::at(
        span,
        format!("{location}: '{event}' is not an S3 event type; use one such as s3:ObjectCreated:* or s3:ObjectRemoved:Delete"),
    ))
}

/// `Filter: {S3Key: {Rules: [{Name: prefix|suffix, Value}]}}` as (prefix, suffix), from
/// JSON (a bucket's configuration, already resolved).
fn filter_of_json(
    filter: Option<&Value>,
    location: &str,
    span: crate::node::Span,
) -> Result<(Option<String>, Option<String>), Problem> {
    let mut prefix = None;
    let mut suffix = None;
    let Some(filter) = filter else {
        return Ok((None, None));
    };
    let rules = filter
        .get("S3Key")
        .and_then(|key| key.get("Rules"))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Problem::at(
                span,
                format!("{location}.Filter: expected S3Key.Rules, a list of {{Name: prefix|suffix, Value}}"),
            )
        })?;
    for rule in rules {
        let name = rule.get("Name").and_then(Value::as_str).unwrap_or_default();
        let value = rule
            .get("Value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match name.to_ascii_lowercase().as_str() {
            "prefix" if prefix.is_none() => prefix = Some(value),
            "suffix" if suffix.is_none() => suffix = Some(value),
            _ => {
                return Err(Problem::at(
                    span,
                    format!("{location}.Filter.S3Key.Rules: '{name}' is not a rule name, or is given twice; use one prefix and one suffix"),
                ))
            }
        }
    }
    Ok((prefix, suffix))
}

/// The function a Lambda ARN names, by its name.
fn function_of_arn(arn: &str, functions: &[Function]) -> Option<String> {
    let name = arn.split_once(":function:").map_or(arn, |(_, rest)| rest);
    let name = name.split(':').next().unwrap_or(name);
    functions
        .iter()
        .find(|function| function.name == name)
        .map(|function| function.logical_id.clone())
}

/// The notifications of the buckets' `NotificationConfiguration`s.
pub(super) fn configured(
    buckets: &[Bucket],
    raws: &[RawResource<'_>],
    functions: &[Function],
    unsupported: &mut Vec<String>,
) -> Result<Vec<BucketNotification>, Problem> {
    let mut notifications = Vec::new();
    for bucket in buckets {
        let Some(configuration) = bucket.configurations.get("NotificationConfiguration") else {
            continue;
        };
        let location = format!(
            "Resources.{}.Properties.NotificationConfiguration",
            bucket.logical_id
        );
        let span = raws
            .iter()
            .find(|raw| raw.logical_id == bucket.logical_id)
            .map(|raw| raw.key_span)
            .unwrap_or_default();
        let Some(configuration) = configuration.as_object() else {
            return Err(Problem::at(span, format!("{location}: expected a mapping")));
        };
        for (key, value) in configuration {
            let target_key = match key.as_str() {
                "LambdaConfigurations" => "Function",
                "QueueConfigurations" => "Queue",
                "TopicConfigurations" => "Topic",
                // Read with the bucket (`Bucket::event_bridge`).
                "EventBridgeConfiguration" => continue,
                other => {
                    unsupported.push(format!(
                        "{}.NotificationConfiguration.{other}",
                        bucket.logical_id
                    ));
                    continue;
                }
            };
            let Some(items) = value.as_array() else {
                return Err(Problem::at(
                    span,
                    format!("{location}.{key}: expected a list"),
                ));
            };
            for (index, item) in items.iter().enumerate() {
                let item_location = format!("{location}.{key}[{index}]");
                let Some(event) = item.get("Event").and_then(Value::as_str) else {
                    return Err(Problem::at(
                        span,
                        format!("{item_location}.Event: missing; name the event type, such as s3:ObjectCreated:*"),
                    ));
                };
                check_event(event, span, &format!("{item_location}.Event"))?;
                let Some(arn) = item.get(target_key).and_then(Value::as_str) else {
                    return Err(Problem::at(
                        span,
                        format!("{item_location}.{target_key}: missing; name the target's ARN with !GetAtt"),
                    ));
                };
                let target = match target_key {
                    "Function" => NotificationTarget::Function(
                        function_of_arn(arn, functions).ok_or_else(|| {
                            Problem::at(
                                span,
                                format!("{item_location}.Function: '{arn}' names no function of this template; use !GetAtt MyFunction.Arn"),
                            )
                        })?,
                    ),
                    "Queue" => NotificationTarget::Queue(arn.to_owned()),
                    _ => NotificationTarget::Topic(arn.to_owned()),
                };
                let (prefix, suffix) = filter_of_json(item.get("Filter"), &item_location, span)?;
                let id = item.get("Id").and_then(Value::as_str).map_or_else(
                    || format!("{}/{key}[{index}]", bucket.logical_id),
                    str::to_owned,
                );
                notifications.push(BucketNotification {
                    id,
                    bucket: bucket.name.clone(),
                    target,
                    events: vec![event.to_owned()],
                    prefix,
                    suffix,
                });
            }
        }
    }
    Ok(notifications)
}

/// A function's SAM `S3` events.
pub(super) fn function_s3_events(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    buckets: &[Bucket],
    unsupported: &mut Vec<String>,
) -> Result<Vec<BucketNotification>, Problem> {
    let logical_id = &raw.logical_id;
    let (location, events) = function_events(raw, &["S3"])?;
    let mut notifications = Vec::new();
    for (event, _) in events {
        let event_location = format!("{location}.{}.Properties", event.key);
        let Some(properties) = event.value.get("Properties") else {
            return Err(Problem::at(
                event.key_span,
                format!("{event_location}: missing; an S3 event needs Bucket and Events"),
            ));
        };
        let mut bucket = None;
        let mut types = Vec::new();
        let mut filter = (None, None);
        for entry in mapping(properties, &event_location)? {
            let key = entry.key.as_str();
            let property_location = format!("{event_location}.{key}");
            match key {
                "Bucket" => {
                    let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
                        continue;
                    };
                    let name = expect_string(&value, &property_location)?;
                    if !buckets.iter().any(|known| known.name == name) {
                        return Err(Problem::at(
                            entry.value.span,
                            format!("{property_location}: '{name}' is not an AWS::S3::Bucket of this template; SAM's S3 events name one with !Ref MyBucket"),
                        ));
                    }
                    bucket = Some(name);
                }
                "Events" => {
                    let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
                        continue;
                    };
                    for item in one_or_many(&value) {
                        let name = expect_string(item, &property_location)?;
                        check_event(&name, item.span, &property_location)?;
                        types.push(name);
                    }
                }
                "Filter" => {
                    let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
                        continue;
                    };
                    filter = filter_of_json(Some(&value.to_json()), &event_location, value.span)?;
                }
                _ => unsupported.push(format!("{logical_id}.Events.{}.{key}", event.key)),
            }
        }
        let Some(bucket) = bucket else {
            return Err(Problem::at(
                properties.span,
                format!("{event_location}.Bucket: missing; name the bucket with !Ref MyBucket"),
            ));
        };
        if types.is_empty() {
            return Err(Problem::at(
                properties.span,
                format!("{event_location}.Events: missing; name the event types, such as s3:ObjectCreated:*"),
            ));
        }
        notifications.push(BucketNotification {
            id: format!("{logical_id}/{}", event.key),
            bucket,
            target: NotificationTarget::Function(logical_id.clone()),
            events: types,
            prefix: filter.0,
            suffix: filter.1,
        });
    }
    Ok(notifications)
}
