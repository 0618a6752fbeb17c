//! A stack's bucket configurations, written from its template into S3's configuration
//! store when a version starts: each bucket's `CorsConfiguration`,
//! `VersioningConfiguration`, `LifecycleConfiguration`, `WebsiteConfiguration` and
//! `Tags`, its `AWS::S3::BucketPolicy` and its notifications (the bucket's own and SAM's
//! `S3` events, with functions by ARN). What the template no longer gives is removed,
//! unless the API set it.

use serde_json::{json, Value};
use serverful_s3::{ConfigurationKind, S3Store, StorageError};
use serverful_template as template;

/// The documents the template gives `bucket`, by kind; `None` where it gives none.
fn documents(
    app: &template::App,
    bucket: &template::Bucket,
    region: &str,
    account_id: &str,
) -> Vec<(ConfigurationKind, Option<Value>)> {
    let property = |name: &str| bucket.configurations.get(name).cloned();
    let tags = (!bucket.tags.is_empty()).then(|| {
        Value::Array(
            bucket
                .tags
                .iter()
                .map(|(key, value)| json!({"Key": key, "Value": value}))
                .collect(),
        )
    });
    let policy = app
        .bucket_policies
        .iter()
        .find(|policy| policy.bucket == bucket.name)
        .map(|policy| policy.policy_document.clone());
    vec![
        (ConfigurationKind::Cors, property("CorsConfiguration")),
        (
            ConfigurationKind::Versioning,
            property("VersioningConfiguration"),
        ),
        (
            ConfigurationKind::Lifecycle,
            property("LifecycleConfiguration"),
        ),
        (ConfigurationKind::Website, property("WebsiteConfiguration")),
        (ConfigurationKind::Tagging, tags),
        (ConfigurationKind::Policy, policy),
        (
            ConfigurationKind::Notification,
            notifications(app, bucket, region, account_id),
        ),
    ]
}

/// The bucket's notifications in `NotificationConfiguration`'s shape.
fn notifications(
    app: &template::App,
    bucket: &template::Bucket,
    region: &str,
    account_id: &str,
) -> Option<Value> {
    let mut lambda = Vec::new();
    let mut queues = Vec::new();
    let mut topics = Vec::new();
    for notification in app
        .bucket_notifications
        .iter()
        .filter(|notification| notification.bucket == bucket.name)
    {
        let mut rules = Vec::new();
        if let Some(prefix) = &notification.prefix {
            rules.push(json!({"Name": "prefix", "Value": prefix}));
        }
        if let Some(suffix) = &notification.suffix {
            rules.push(json!({"Name": "suffix", "Value": suffix}));
        }
        let mut entry = json!({"Id": notification.id, "Events": notification.events});
        if !rules.is_empty() {
            entry["Filter"] = json!({"S3Key": {"Rules": rules}});
        }
        match &notification.target {
            template::NotificationTarget::Function(logical_id) => {
                let name = app
                    .functions
                    .iter()
                    .find(|function| &function.logical_id == logical_id)
                    .map_or(logical_id.as_str(), |function| function.name.as_str());
                entry["Function"] = json!(format!(
                    "arn:aws:lambda:{region}:{account_id}:function:{name}"
                ));
                lambda.push(entry);
            }
            template::NotificationTarget::Queue(arn) => {
                entry["Queue"] = json!(arn);
                queues.push(entry);
            }
            template::NotificationTarget::Topic(arn) => {
                entry["Topic"] = json!(arn);
                topics.push(entry);
            }
        }
    }
    let mut document = serde_json::Map::new();
    for (name, entries) in [
        ("LambdaConfigurations", lambda),
        ("QueueConfigurations", queues),
        ("TopicConfigurations", topics),
    ] {
        if !entries.is_empty() {
            document.insert(name.to_owned(), Value::Array(entries));
        }
    }
    if bucket.event_bridge {
        document.insert(
            "EventBridgeConfiguration".to_owned(),
            json!({"EventBridgeEnabled": true}),
        );
    }
    (!document.is_empty()).then_some(Value::Object(document))
}

/// Writes every bucket's template configurations (blocking: call off the runtime).
pub(crate) fn write(
    s3: &S3Store,
    app: &template::App,
    region: &str,
    account_id: &str,
) -> Result<(), String> {
    for bucket in &app.buckets {
        for (kind, document) in documents(app, bucket, region, account_id) {
            s3.set_template_configuration(&bucket.name, kind, document)
                .map_err(|error: StorageError| {
                    format!("{} ({}): {error}", bucket.logical_id, bucket.name)
                })?;
        }
    }
    Ok(())
}
