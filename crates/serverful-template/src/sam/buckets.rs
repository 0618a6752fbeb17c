//! S3 buckets: `AWS::S3::Bucket` (its name, or CloudFormation's generated one, and the
//! configurations it declares, which the platform writes into S3's configuration store)
//! and `AWS::S3::BucketPolicy` (stored with them; the website host reads public access
//! from it).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::intrinsics::Resolver;
use crate::model::{Bucket, BucketPolicy};
use crate::names::is_valid_bucket_name;
use crate::Problem;

use super::RawResource;

pub(super) const BUCKET: &str = "AWS::S3::Bucket";
pub(super) const BUCKET_POLICY: &str = "AWS::S3::BucketPolicy";

/// Configurations kept with the bucket and applied (`bucket_notifications` reads the
/// notifications; the platform writes them all into S3's configuration store, which
/// serves the website, answers CORS, versions objects and expires them).
const APPLIED: &[&str] = &[
    "NotificationConfiguration",
    "WebsiteConfiguration",
    "CorsConfiguration",
    "VersioningConfiguration",
    "LifecycleConfiguration",
];

/// Properties that mean nothing on one machine (encryption, ownership, access blocks,
/// ...): accepted without a warning.
const IGNORED: &[&str] = &[
    "BucketEncryption",
    "OwnershipControls",
    "PublicAccessBlockConfiguration",
    "AccessControl",
    "ObjectLockEnabled",
    "AccelerateConfiguration",
    "IntelligentTieringConfigurations",
    "MetricsConfigurations",
    "AnalyticsConfigurations",
    "InventoryConfigurations",
    "LoggingConfiguration",
];

fn properties_of(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    location: &str,
) -> Result<Map<String, Value>, Problem> {
    let properties = match raw.properties {
        Some(node) => resolver
            .resolve(node, location)?
            .map_or(Value::Null, |node| node.to_json()),
        None => Value::Null,
    };
    match properties {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(Problem::at(
            raw.properties.map(|node| node.span).unwrap_or_default(),
            format!("{location}: expected a mapping"),
        )),
    }
}

/// A bucket resource.
pub(super) fn bucket(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    unsupported: &mut Vec<String>,
) -> Result<Bucket, Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let properties = properties_of(resolver, raw, &location)?;
    let span = raw.properties.map(|node| node.span).unwrap_or(raw.key_span);
    let name = resolver.physical_name(logical_id, "BucketName")?;
    if !is_valid_bucket_name(&name) {
        return Err(Problem::at(
            span,
            format!("{location}.BucketName: '{name}' is not a valid bucket name; use 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"),
        ));
    }
    let mut bucket = Bucket {
        logical_id: logical_id.clone(),
        name,
        configurations: BTreeMap::new(),
        tags: BTreeMap::new(),
        event_bridge: false,
    };
    for (key, value) in properties {
        match key.as_str() {
            "BucketName" => {}
            "Tags" => {
                for tag in value.as_array().into_iter().flatten() {
                    if let (Some(key), Some(value)) = (
                        tag.get("Key").and_then(Value::as_str),
                        tag.get("Value").and_then(Value::as_str),
                    ) {
                        bucket.tags.insert(key.to_owned(), value.to_owned());
                    }
                }
            }
            "WebsiteConfiguration" => {
                for (setting, _) in value.as_object().into_iter().flatten() {
                    if ![
                        "IndexDocument",
                        "ErrorDocument",
                        "RedirectAllRequestsTo",
                        "RoutingRules",
                    ]
                    .contains(&setting.as_str())
                    {
                        unsupported.push(format!(
                            "{logical_id}.WebsiteConfiguration.{setting} (not yet applied)"
                        ));
                    }
                }
                bucket.configurations.insert(key, value);
            }
            "NotificationConfiguration" => {
                bucket.event_bridge = value
                    .pointer("/EventBridgeConfiguration/EventBridgeEnabled")
                    .is_some_and(|enabled| {
                        enabled.as_bool() == Some(true) || enabled.as_str() == Some("true")
                    });
                bucket.configurations.insert(key, value);
            }
            applied if APPLIED.contains(&applied) => {
                bucket.configurations.insert(key, value);
            }
            ignored if IGNORED.contains(&ignored) => {}
            _ => unsupported.push(format!("{logical_id}.{key}")),
        }
    }
    Ok(bucket)
}

/// A bucket policy resource: its bucket's name and its document.
pub(super) fn bucket_policy(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
) -> Result<BucketPolicy, Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let properties = properties_of(resolver, raw, &location)?;
    let span = raw.properties.map(|node| node.span).unwrap_or(raw.key_span);
    let bucket = properties
        .get("Bucket")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Problem::at(
                span,
                format!("{location}.Bucket: missing (the bucket's name, such as !Ref MyBucket)"),
            )
        })?
        .to_owned();
    let policy_document = properties
        .get("PolicyDocument")
        .cloned()
        .ok_or_else(|| Problem::at(span, format!("{location}.PolicyDocument: missing")))?;
    Ok(BucketPolicy {
        logical_id: logical_id.clone(),
        bucket,
        policy_document,
    })
}
