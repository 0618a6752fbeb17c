//! Bucket configurations over the API: CORS, policy, website, tags, versioning,
//! lifecycle and (read only) notifications. Each is kept behind the backend as one JSON
//! document per bucket and kind, in the shape of the `AWS::S3::Bucket` property that
//! declares it (`CorsConfiguration.CorsRules[].AllowedOrigins`, ...), so that a stack's
//! template configuration is stored as the template gives it and the API's XML is
//! converted to the same shape. Everything that applies a configuration (the website
//! host, CORS, versioning, the lifecycle sweep) reads it from here.

use s3s::dto;
use s3s::{s3_error, S3Error, S3ErrorCode, S3Result};
use serde_json::{json, Map, Value};

use crate::backend::{ConfigurationKind, StoredConfiguration};
use crate::service::S3Store;

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn text(value: &Value, name: &str) -> Option<String> {
    match value.get(name)? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A number that CloudFormation may give as a string.
pub(crate) fn number(value: &Value, name: &str) -> Option<i64> {
    match value.get(name)? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean that CloudFormation may give as a string.
pub(crate) fn flag(value: &Value, name: &str) -> Option<bool> {
    match value.get(name)? {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) => match text.as_str() {
            "true" | "True" => Some(true),
            "false" | "False" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn insert_some(map: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(name.to_owned(), value);
    }
}

pub(crate) fn malformed_xml() -> S3Error {
    s3_error!(
        MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema"
    )
}

/// One CORS rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i64>,
}

/// The rules of a `CorsConfiguration` document.
pub fn cors_rules(document: &Value) -> Vec<CorsRule> {
    document
        .get("CorsRules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|rule| CorsRule {
            id: text(rule, "Id"),
            allowed_origins: strings(rule.get("AllowedOrigins")),
            allowed_methods: strings(rule.get("AllowedMethods")),
            allowed_headers: strings(rule.get("AllowedHeaders")),
            expose_headers: strings(rule.get("ExposedHeaders")),
            max_age_seconds: number(rule, "MaxAge"),
        })
        .collect()
}

fn cors_document(rules: &[dto::CORSRule]) -> Value {
    let rules: Vec<Value> = rules
        .iter()
        .map(|rule| {
            let mut map = Map::new();
            insert_some(&mut map, "Id", rule.id.clone().map(Value::String));
            map.insert("AllowedOrigins".into(), json!(rule.allowed_origins));
            map.insert("AllowedMethods".into(), json!(rule.allowed_methods));
            insert_some(
                &mut map,
                "AllowedHeaders",
                rule.allowed_headers.as_ref().map(|headers| json!(headers)),
            );
            insert_some(
                &mut map,
                "ExposedHeaders",
                rule.expose_headers.as_ref().map(|headers| json!(headers)),
            );
            insert_some(
                &mut map,
                "MaxAge",
                rule.max_age_seconds.map(|age| json!(age)),
            );
            Value::Object(map)
        })
        .collect();
    json!({ "CorsRules": rules })
}

fn cors_dto(rule: CorsRule) -> dto::CORSRule {
    let some = |items: Vec<String>| (!items.is_empty()).then_some(items);
    dto::CORSRule {
        id: rule.id,
        allowed_origins: rule.allowed_origins,
        allowed_methods: rule.allowed_methods,
        allowed_headers: some(rule.allowed_headers),
        expose_headers: some(rule.expose_headers),
        max_age_seconds: rule.max_age_seconds.and_then(|age| i32::try_from(age).ok()),
    }
}

/// Checks a CORS configuration as S3 does: at most 100 rules, each with an origin and a
/// method S3 knows, and at most one `*` in an origin.
fn check_cors(rules: &[dto::CORSRule]) -> S3Result<()> {
    if rules.is_empty() || rules.len() > 100 {
        return Err(malformed_xml());
    }
    for rule in rules {
        if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
            return Err(malformed_xml());
        }
        for method in &rule.allowed_methods {
            if !["GET", "PUT", "HEAD", "POST", "DELETE"].contains(&method.as_str()) {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    format!(
                        "Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                    ),
                ));
            }
        }
        for origin in &rule.allowed_origins {
            if origin.matches('*').count() > 1 {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    format!("AllowedOrigin \"{origin}\" can not have more than one wildcard."),
                ));
            }
        }
    }
    Ok(())
}

/// The website configuration in the shape of `WebsiteConfiguration`.
fn website_document(config: &dto::WebsiteConfiguration) -> Value {
    let mut map = Map::new();
    insert_some(
        &mut map,
        "IndexDocument",
        config
            .index_document
            .as_ref()
            .map(|index| json!(index.suffix)),
    );
    insert_some(
        &mut map,
        "ErrorDocument",
        config.error_document.as_ref().map(|error| json!(error.key)),
    );
    insert_some(
        &mut map,
        "RedirectAllRequestsTo",
        config.redirect_all_requests_to.as_ref().map(|redirect| {
            let mut map = Map::new();
            map.insert("HostName".into(), json!(redirect.host_name));
            insert_some(
                &mut map,
                "Protocol",
                redirect
                    .protocol
                    .as_ref()
                    .map(|protocol| json!(protocol.as_str())),
            );
            Value::Object(map)
        }),
    );
    insert_some(
        &mut map,
        "RoutingRules",
        config.routing_rules.as_ref().map(|rules| {
            Value::Array(
                rules
                    .iter()
                    .map(|rule| {
                        let mut out = Map::new();
                        if let Some(condition) = &rule.condition {
                            let mut map = Map::new();
                            insert_some(
                                &mut map,
                                "HttpErrorCodeReturnedEquals",
                                condition
                                    .http_error_code_returned_equals
                                    .clone()
                                    .map(Value::String),
                            );
                            insert_some(
                                &mut map,
                                "KeyPrefixEquals",
                                condition.key_prefix_equals.clone().map(Value::String),
                            );
                            out.insert("RoutingRuleCondition".into(), Value::Object(map));
                        }
                        let redirect = &rule.redirect;
                        let mut map = Map::new();
                        insert_some(
                            &mut map,
                            "HostName",
                            redirect.host_name.clone().map(Value::String),
                        );
                        insert_some(
                            &mut map,
                            "HttpRedirectCode",
                            redirect.http_redirect_code.clone().map(Value::String),
                        );
                        insert_some(
                            &mut map,
                            "Protocol",
                            redirect
                                .protocol
                                .as_ref()
                                .map(|protocol| json!(protocol.as_str())),
                        );
                        insert_some(
                            &mut map,
                            "ReplaceKeyPrefixWith",
                            redirect.replace_key_prefix_with.clone().map(Value::String),
                        );
                        insert_some(
                            &mut map,
                            "ReplaceKeyWith",
                            redirect.replace_key_with.clone().map(Value::String),
                        );
                        out.insert("RedirectRule".into(), Value::Object(map));
                        Value::Object(out)
                    })
                    .collect(),
            )
        }),
    );
    Value::Object(map)
}

fn website_dto(document: &Value) -> dto::GetBucketWebsiteOutput {
    let index = text(document, "IndexDocument").or_else(|| {
        document
            .get("IndexDocument")
            .and_then(|index| text(index, "Suffix"))
    });
    let error = text(document, "ErrorDocument").or_else(|| {
        document
            .get("ErrorDocument")
            .and_then(|error| text(error, "Key"))
    });
    let redirect_all = document.get("RedirectAllRequestsTo").and_then(|redirect| {
        Some(dto::RedirectAllRequestsTo {
            host_name: text(redirect, "HostName")?,
            protocol: text(redirect, "Protocol").map(dto::Protocol::from),
        })
    });
    let routing_rules = document
        .get("RoutingRules")
        .and_then(Value::as_array)
        .map(|rules| {
            rules
                .iter()
                .map(|rule| {
                    let redirect = rule.get("RedirectRule").cloned().unwrap_or(Value::Null);
                    dto::RoutingRule {
                        condition: rule.get("RoutingRuleCondition").map(|condition| {
                            dto::Condition {
                                http_error_code_returned_equals: text(
                                    condition,
                                    "HttpErrorCodeReturnedEquals",
                                ),
                                key_prefix_equals: text(condition, "KeyPrefixEquals"),
                            }
                        }),
                        redirect: dto::Redirect {
                            host_name: text(&redirect, "HostName"),
                            http_redirect_code: text(&redirect, "HttpRedirectCode"),
                            protocol: text(&redirect, "Protocol").map(dto::Protocol::from),
                            replace_key_prefix_with: text(&redirect, "ReplaceKeyPrefixWith"),
                            replace_key_with: text(&redirect, "ReplaceKeyWith"),
                        },
                    }
                })
                .collect()
        });
    dto::GetBucketWebsiteOutput {
        index_document: index.map(|suffix| dto::IndexDocument { suffix }),
        error_document: error.map(|key| dto::ErrorDocument { key }),
        redirect_all_requests_to: redirect_all,
        routing_rules,
    }
}

/// Tags of a `Tags` document (`[{Key, Value}]`).
pub fn tags_of(document: &Value) -> Vec<(String, String)> {
    document
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|tag| Some((text(tag, "Key")?, text(tag, "Value").unwrap_or_default())))
        .collect()
}

/// Whether a bucket's versioning is enabled, suspended, or was never set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioning {
    Unversioned,
    Enabled,
    Suspended,
}

/// The versioning of a `VersioningConfiguration` document.
pub fn versioning_of(document: Option<&Value>) -> Versioning {
    match document
        .and_then(|document| text(document, "Status"))
        .as_deref()
    {
        Some("Enabled") => Versioning::Enabled,
        Some("Suspended") => Versioning::Suspended,
        _ => Versioning::Unversioned,
    }
}

/// The lifecycle configuration of the API in the shape of `LifecycleConfiguration`
/// (with the API's `Filter` kept as such, which CloudFormation's shape lacks).
fn lifecycle_document(rules: &[dto::LifecycleRule]) -> Value {
    let tag = |tag: &dto::Tag| json!({"Key": tag.key, "Value": tag.value});
    let rules: Vec<Value> = rules
        .iter()
        .map(|rule| {
            let mut map = Map::new();
            insert_some(&mut map, "Id", rule.id.clone().map(Value::String));
            map.insert("Status".into(), json!(rule.status.as_str()));
            insert_some(&mut map, "Prefix", rule.prefix.clone().map(Value::String));
            if let Some(filter) = &rule.filter {
                let mut out = Map::new();
                insert_some(&mut out, "Prefix", filter.prefix.clone().map(Value::String));
                insert_some(&mut out, "Tag", filter.tag.as_ref().map(tag));
                insert_some(
                    &mut out,
                    "ObjectSizeGreaterThan",
                    filter.object_size_greater_than.map(|size| json!(size)),
                );
                insert_some(
                    &mut out,
                    "ObjectSizeLessThan",
                    filter.object_size_less_than.map(|size| json!(size)),
                );
                insert_some(
                    &mut out,
                    "And",
                    filter.and.as_ref().map(|and| {
                        let mut map = Map::new();
                        insert_some(&mut map, "Prefix", and.prefix.clone().map(Value::String));
                        insert_some(
                            &mut map,
                            "Tags",
                            and.tags
                                .as_ref()
                                .map(|tags| Value::Array(tags.iter().map(tag).collect())),
                        );
                        insert_some(
                            &mut map,
                            "ObjectSizeGreaterThan",
                            and.object_size_greater_than.map(|size| json!(size)),
                        );
                        insert_some(
                            &mut map,
                            "ObjectSizeLessThan",
                            and.object_size_less_than.map(|size| json!(size)),
                        );
                        Value::Object(map)
                    }),
                );
                map.insert("Filter".into(), Value::Object(out));
            }
            if let Some(expiration) = &rule.expiration {
                insert_some(
                    &mut map,
                    "ExpirationInDays",
                    expiration.days.map(|days| json!(days)),
                );
                insert_some(
                    &mut map,
                    "ExpirationDate",
                    expiration.date.clone().map(|date| {
                        json!(crate::lifecycle::date_text(time::OffsetDateTime::from(
                            date
                        )))
                    }),
                );
                insert_some(
                    &mut map,
                    "ExpiredObjectDeleteMarker",
                    expiration.expired_object_delete_marker.map(Value::Bool),
                );
            }
            if let Some(noncurrent) = &rule.noncurrent_version_expiration {
                let mut out = Map::new();
                insert_some(
                    &mut out,
                    "NoncurrentDays",
                    noncurrent.noncurrent_days.map(|days| json!(days)),
                );
                insert_some(
                    &mut out,
                    "NewerNoncurrentVersions",
                    noncurrent
                        .newer_noncurrent_versions
                        .map(|count| json!(count)),
                );
                map.insert("NoncurrentVersionExpiration".into(), Value::Object(out));
            }
            if let Some(abort) = &rule.abort_incomplete_multipart_upload {
                map.insert(
                    "AbortIncompleteMultipartUpload".into(),
                    json!({"DaysAfterInitiation": abort.days_after_initiation}),
                );
            }
            Value::Object(map)
        })
        .collect();
    json!({ "Rules": rules })
}

fn lifecycle_dto(rule: &crate::lifecycle::LifecycleRule) -> dto::LifecycleRule {
    let tag = |(key, value): &(String, String)| dto::Tag {
        key: Some(key.clone()),
        value: Some(value.clone()),
    };
    let filter = &rule.filter;
    let (prefix, filter) = if rule.legacy_prefix {
        (Some(filter.prefix.clone()), None)
    } else {
        let n_conditions = usize::from(!filter.prefix.is_empty())
            + filter.tags.len()
            + usize::from(filter.size_greater_than.is_some())
            + usize::from(filter.size_less_than.is_some());
        let filter = if n_conditions > 1 {
            dto::LifecycleRuleFilter {
                and: Some(dto::LifecycleRuleAndOperator {
                    prefix: (!filter.prefix.is_empty()).then(|| filter.prefix.clone()),
                    tags: (!filter.tags.is_empty()).then(|| filter.tags.iter().map(tag).collect()),
                    object_size_greater_than: filter.size_greater_than,
                    object_size_less_than: filter.size_less_than,
                }),
                ..Default::default()
            }
        } else {
            dto::LifecycleRuleFilter {
                prefix: filter
                    .tags
                    .is_empty()
                    .then(|| filter.prefix.clone())
                    .filter(|prefix| {
                        !prefix.is_empty()
                            || (filter.size_greater_than.is_none()
                                && filter.size_less_than.is_none())
                    }),
                tag: filter.tags.first().map(tag),
                object_size_greater_than: filter.size_greater_than,
                object_size_less_than: filter.size_less_than,
                and: None,
            }
        };
        (None, Some(filter))
    };
    let expiration = (rule.expiration_days.is_some()
        || rule.expiration_date.is_some()
        || rule.expired_object_delete_marker)
        .then(|| dto::LifecycleExpiration {
            days: rule
                .expiration_days
                .and_then(|days| i32::try_from(days).ok()),
            date: rule.expiration_date.map(dto::Timestamp::from),
            expired_object_delete_marker: rule.expired_object_delete_marker.then_some(true),
        });
    dto::LifecycleRule {
        id: rule.id.clone(),
        status: dto::ExpirationStatus::from(
            if rule.enabled { "Enabled" } else { "Disabled" }.to_owned(),
        ),
        prefix,
        filter,
        expiration,
        noncurrent_version_expiration: (rule.noncurrent_days.is_some()
            || rule.newer_noncurrent_versions.is_some())
        .then(|| dto::NoncurrentVersionExpiration {
            noncurrent_days: rule
                .noncurrent_days
                .and_then(|days| i32::try_from(days).ok()),
            newer_noncurrent_versions: rule
                .newer_noncurrent_versions
                .and_then(|count| i32::try_from(count).ok()),
        }),
        abort_incomplete_multipart_upload: rule.abort_after_days.map(|days| {
            dto::AbortIncompleteMultipartUpload {
                days_after_initiation: i32::try_from(days).ok(),
            }
        }),
        noncurrent_version_transitions: None,
        transitions: None,
    }
}

/// Checks a lifecycle configuration as S3 does (the rules' actions and ids).
fn check_lifecycle(rules: &[dto::LifecycleRule]) -> S3Result<()> {
    if rules.is_empty() || rules.len() > 1000 {
        return Err(malformed_xml());
    }
    let mut ids = std::collections::HashSet::new();
    for rule in rules {
        let status = rule.status.as_str();
        if status != "Enabled" && status != "Disabled" {
            return Err(malformed_xml());
        }
        if let Some(id) = &rule.id {
            if id.len() > 255 {
                return Err(s3_error!(
                    InvalidArgument,
                    "ID length should not exceed allowed limit of 255"
                ));
            }
            if !ids.insert(id.clone()) {
                return Err(s3_error!(
                    InvalidArgument,
                    "Rule ID must be unique. Found same ID for more than one rule"
                ));
            }
        }
        if rule.prefix.is_some() && rule.filter.is_some() {
            return Err(malformed_xml());
        }
        let has_action = rule.expiration.is_some()
            || rule.noncurrent_version_expiration.is_some()
            || rule.abort_incomplete_multipart_upload.is_some()
            || rule
                .transitions
                .as_ref()
                .is_some_and(|list| !list.is_empty())
            || rule
                .noncurrent_version_transitions
                .as_ref()
                .is_some_and(|list| !list.is_empty());
        if !has_action {
            return Err(s3_error!(
                InvalidRequest,
                "At least one action needs to be specified in a rule"
            ));
        }
        if let Some(expiration) = &rule.expiration {
            let n_set = usize::from(expiration.days.is_some())
                + usize::from(expiration.date.is_some())
                + usize::from(expiration.expired_object_delete_marker.is_some());
            if n_set != 1 {
                return Err(malformed_xml());
            }
            if expiration.days.is_some_and(|days| days <= 0) {
                return Err(s3_error!(
                    InvalidArgument,
                    "'Days' for Expiration action must be a positive integer"
                ));
            }
        }
        if rule
            .noncurrent_version_expiration
            .as_ref()
            .and_then(|noncurrent| noncurrent.noncurrent_days)
            .is_some_and(|days| days <= 0)
        {
            return Err(s3_error!(
                InvalidArgument,
                "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"
            ));
        }
        if rule
            .abort_incomplete_multipart_upload
            .as_ref()
            .and_then(|abort| abort.days_after_initiation)
            .is_some_and(|days| days <= 0)
        {
            return Err(s3_error!(
                InvalidArgument,
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer"
            ));
        }
    }
    Ok(())
}

fn notification_filter(entry: &Value) -> Option<dto::NotificationConfigurationFilter> {
    let rules = entry.pointer("/Filter/S3Key/Rules")?.as_array()?;
    Some(dto::NotificationConfigurationFilter {
        key: Some(dto::S3KeyFilter {
            filter_rules: Some(
                rules
                    .iter()
                    .map(|rule| dto::FilterRule {
                        name: text(rule, "Name")
                            .map(|name| dto::FilterRuleName::from(name.to_ascii_lowercase())),
                        value: text(rule, "Value"),
                    })
                    .collect(),
            ),
        }),
    })
}

fn notification_dto(document: &Value) -> dto::GetBucketNotificationConfigurationOutput {
    let entries = |name: &str| -> Vec<&Value> {
        document
            .get(name)
            .and_then(Value::as_array)
            .map(|entries| entries.iter().collect())
            .unwrap_or_default()
    };
    let events = |entry: &Value| -> Vec<dto::Event> {
        strings(entry.get("Event"))
            .into_iter()
            .chain(strings(entry.get("Events")))
            .map(dto::Event::from)
            .collect()
    };
    let lambda: Vec<dto::LambdaFunctionConfiguration> = entries("LambdaConfigurations")
        .into_iter()
        .map(|entry| dto::LambdaFunctionConfiguration {
            events: events(entry),
            filter: notification_filter(entry),
            id: text(entry, "Id"),
            lambda_function_arn: text(entry, "Function").unwrap_or_default(),
        })
        .collect();
    let queues: Vec<dto::QueueConfiguration> = entries("QueueConfigurations")
        .into_iter()
        .map(|entry| dto::QueueConfiguration {
            events: events(entry),
            filter: notification_filter(entry),
            id: text(entry, "Id"),
            queue_arn: text(entry, "Queue").unwrap_or_default(),
        })
        .collect();
    let topics: Vec<dto::TopicConfiguration> = entries("TopicConfigurations")
        .into_iter()
        .map(|entry| dto::TopicConfiguration {
            events: events(entry),
            filter: notification_filter(entry),
            id: text(entry, "Id"),
            topic_arn: text(entry, "Topic").unwrap_or_default(),
        })
        .collect();
    let event_bridge = document
        .get("EventBridgeConfiguration")
        .is_some_and(|config| flag(config, "EventBridgeEnabled") == Some(true));
    dto::GetBucketNotificationConfigurationOutput {
        event_bridge_configuration: event_bridge.then_some(dto::EventBridgeConfiguration {}),
        lambda_function_configurations: (!lambda.is_empty()).then_some(lambda),
        queue_configurations: (!queues.is_empty()).then_some(queues),
        topic_configurations: (!topics.is_empty()).then_some(topics),
    }
}

/// The bucket policy must be a JSON document (an object).
fn parse_policy(policy: &str) -> S3Result<Value> {
    match serde_json::from_str::<Value>(policy) {
        Ok(document @ Value::Object(_)) => {
            if document.get("Statement").is_none() {
                return Err(s3_error!(
                    MalformedPolicy,
                    "Missing required field Statement"
                ));
            }
            Ok(document)
        }
        _ => Err(s3_error!(
            MalformedPolicy,
            "Policies must be valid JSON and the first byte must be '{{'"
        )),
    }
}

impl S3Store {
    /// A bucket's configuration of one kind (its document), if it has one; the bucket
    /// must exist.
    pub(crate) fn bucket_configuration(
        &self,
        bucket: &str,
        kind: ConfigurationKind,
    ) -> S3Result<Option<Value>> {
        self.require_bucket(bucket)?;
        Ok(self
            .backend
            .configuration(bucket, kind)
            .map_err(crate::service::storage)?
            .map(|stored| stored.document))
    }

    fn set_bucket_configuration(
        &self,
        bucket: &str,
        kind: ConfigurationKind,
        document: Value,
    ) -> S3Result<()> {
        self.require_bucket(bucket)?;
        self.backend
            .put_configuration(
                bucket,
                kind,
                &StoredConfiguration {
                    document,
                    from_template: false,
                },
            )
            .map_err(crate::service::storage)
    }

    fn remove_bucket_configuration(&self, bucket: &str, kind: ConfigurationKind) -> S3Result<()> {
        self.require_bucket(bucket)?;
        self.backend
            .delete_configuration(bucket, kind)
            .map_err(crate::service::storage)?;
        Ok(())
    }

    /// Writes (or, with `None`, removes) the configuration a stack's template gives a
    /// bucket. A configuration the API set is replaced by the template's, and kept when
    /// the template has none.
    pub fn set_template_configuration(
        &self,
        bucket: &str,
        kind: ConfigurationKind,
        document: Option<Value>,
    ) -> Result<(), crate::StorageError> {
        match document {
            Some(document) => self.backend.put_configuration(
                bucket,
                kind,
                &StoredConfiguration {
                    document,
                    from_template: true,
                },
            ),
            None => {
                let stored = self.backend.configuration(bucket, kind)?;
                match stored {
                    Some(stored) if stored.from_template => {
                        // Versioning, once enabled, can only be suspended.
                        if kind == ConfigurationKind::Versioning
                            && versioning_of(Some(&stored.document)) != Versioning::Unversioned
                        {
                            return self.backend.put_configuration(
                                bucket,
                                kind,
                                &StoredConfiguration {
                                    document: json!({"Status": "Suspended"}),
                                    from_template: true,
                                },
                            );
                        }
                        self.backend.delete_configuration(bucket, kind)?;
                        Ok(())
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    pub(crate) fn put_cors(&self, input: dto::PutBucketCorsInput) -> S3Result<()> {
        let rules = &input.cors_configuration.cors_rules;
        check_cors(rules)?;
        self.set_bucket_configuration(&input.bucket, ConfigurationKind::Cors, cors_document(rules))
    }

    pub(crate) fn get_cors(&self, bucket: &str) -> S3Result<dto::GetBucketCorsOutput> {
        let document = self
            .bucket_configuration(bucket, ConfigurationKind::Cors)?
            .ok_or_else(|| {
                s3_error!(
                    NoSuchCORSConfiguration,
                    "The CORS configuration does not exist"
                )
            })?;
        Ok(dto::GetBucketCorsOutput {
            cors_rules: Some(cors_rules(&document).into_iter().map(cors_dto).collect()),
        })
    }

    pub(crate) fn delete_cors(&self, bucket: &str) -> S3Result<()> {
        self.remove_bucket_configuration(bucket, ConfigurationKind::Cors)
    }

    pub(crate) fn put_policy(&self, input: &dto::PutBucketPolicyInput) -> S3Result<()> {
        let document = parse_policy(&input.policy)?;
        self.set_bucket_configuration(&input.bucket, ConfigurationKind::Policy, document)
    }

    pub(crate) fn get_policy(&self, bucket: &str) -> S3Result<dto::GetBucketPolicyOutput> {
        let document = self
            .bucket_configuration(bucket, ConfigurationKind::Policy)?
            .ok_or_else(|| s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist"))?;
        Ok(dto::GetBucketPolicyOutput {
            policy: Some(document.to_string()),
        })
    }

    pub(crate) fn delete_policy(&self, bucket: &str) -> S3Result<()> {
        self.remove_bucket_configuration(bucket, ConfigurationKind::Policy)
    }

    pub(crate) fn put_website(&self, input: &dto::PutBucketWebsiteInput) -> S3Result<()> {
        let config = &input.website_configuration;
        if config.redirect_all_requests_to.is_some()
            && (config.index_document.is_some()
                || config.error_document.is_some()
                || config.routing_rules.is_some())
        {
            return Err(s3_error!(
                InvalidArgument,
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing/Redirect configurations."
            ));
        }
        if config.redirect_all_requests_to.is_none() && config.index_document.is_none() {
            return Err(s3_error!(
                InvalidArgument,
                "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty"
            ));
        }
        if let Some(index) = &config.index_document {
            if index.suffix.is_empty() || index.suffix.contains('/') {
                return Err(s3_error!(
                    InvalidArgument,
                    "The IndexDocument Suffix is not well formed"
                ));
            }
        }
        if let Some(rules) = &config.routing_rules {
            let invalid = |error: crate::website_routing::InvalidRoutingRule| {
                S3Error::with_message(S3ErrorCode::InvalidRequest, error.0)
            };
            crate::website_routing::check_rule_count(rules.len()).map_err(invalid)?;
            for rule in rules {
                crate::website_routing::RoutingRule::from_dto(rule).map_err(invalid)?;
            }
        }
        self.set_bucket_configuration(
            &input.bucket,
            ConfigurationKind::Website,
            website_document(config),
        )
    }

    pub(crate) fn get_website(&self, bucket: &str) -> S3Result<dto::GetBucketWebsiteOutput> {
        let document = self
            .bucket_configuration(bucket, ConfigurationKind::Website)?
            .ok_or_else(no_such_website)?;
        Ok(website_dto(&document))
    }

    pub(crate) fn delete_website(&self, bucket: &str) -> S3Result<()> {
        self.remove_bucket_configuration(bucket, ConfigurationKind::Website)
    }

    pub(crate) fn put_bucket_tags(&self, input: &dto::PutBucketTaggingInput) -> S3Result<()> {
        let tags: Vec<(String, String)> = input
            .tagging
            .tag_set
            .iter()
            .map(|tag| {
                (
                    tag.key.clone().unwrap_or_default(),
                    tag.value.clone().unwrap_or_default(),
                )
            })
            .collect();
        if tags.len() > 50 {
            return Err(s3_error!(
                InvalidTag,
                "Bucket tag count cannot be greater than 50"
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (key, value) in &tags {
            if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
                return Err(s3_error!(
                    InvalidTag,
                    "The TagKey you have provided is invalid"
                ));
            }
            if !seen.insert(key) {
                return Err(s3_error!(
                    InvalidTag,
                    "Cannot provide multiple Tags with the same key"
                ));
            }
            if key.starts_with("aws:") {
                return Err(s3_error!(
                    InvalidTag,
                    "System tags cannot be added/updated by requester"
                ));
            }
        }
        let document = Value::Array(
            tags.iter()
                .map(|(key, value)| json!({"Key": key, "Value": value}))
                .collect(),
        );
        self.set_bucket_configuration(&input.bucket, ConfigurationKind::Tagging, document)
    }

    pub(crate) fn get_bucket_tags(&self, bucket: &str) -> S3Result<dto::GetBucketTaggingOutput> {
        let document = self
            .bucket_configuration(bucket, ConfigurationKind::Tagging)?
            .filter(|document| !tags_of(document).is_empty())
            .ok_or_else(|| s3_error!(NoSuchTagSet, "The TagSet does not exist"))?;
        Ok(dto::GetBucketTaggingOutput {
            tag_set: tags_of(&document)
                .into_iter()
                .map(|(key, value)| dto::Tag {
                    key: Some(key),
                    value: Some(value),
                })
                .collect(),
        })
    }

    pub(crate) fn delete_bucket_tags(&self, bucket: &str) -> S3Result<()> {
        self.remove_bucket_configuration(bucket, ConfigurationKind::Tagging)
    }

    pub(crate) fn put_versioning(&self, input: &dto::PutBucketVersioningInput) -> S3Result<()> {
        let status = input
            .versioning_configuration
            .status
            .as_ref()
            .map(|status| status.as_str().to_owned())
            .ok_or_else(malformed_xml)?;
        if status != "Enabled" && status != "Suspended" {
            return Err(malformed_xml());
        }
        self.set_bucket_configuration(
            &input.bucket,
            ConfigurationKind::Versioning,
            json!({ "Status": status }),
        )
    }

    pub(crate) fn get_versioning(&self, bucket: &str) -> S3Result<dto::GetBucketVersioningOutput> {
        let document = self.bucket_configuration(bucket, ConfigurationKind::Versioning)?;
        let status = match versioning_of(document.as_ref()) {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some("Enabled"),
            Versioning::Suspended => Some("Suspended"),
        };
        Ok(dto::GetBucketVersioningOutput {
            status: status.map(|status| dto::BucketVersioningStatus::from(status.to_owned())),
            mfa_delete: None,
        })
    }

    pub(crate) fn put_lifecycle(
        &self,
        input: &dto::PutBucketLifecycleConfigurationInput,
    ) -> S3Result<()> {
        let rules = input
            .lifecycle_configuration
            .as_ref()
            .map(|config| config.rules.as_slice())
            .ok_or_else(malformed_xml)?;
        check_lifecycle(rules)?;
        self.set_bucket_configuration(
            &input.bucket,
            ConfigurationKind::Lifecycle,
            lifecycle_document(rules),
        )
    }

    pub(crate) fn get_lifecycle(
        &self,
        bucket: &str,
    ) -> S3Result<dto::GetBucketLifecycleConfigurationOutput> {
        let document = self
            .bucket_configuration(bucket, ConfigurationKind::Lifecycle)?
            .ok_or_else(|| {
                s3_error!(
                    NoSuchLifecycleConfiguration,
                    "The lifecycle configuration does not exist"
                )
            })?;
        Ok(dto::GetBucketLifecycleConfigurationOutput {
            rules: Some(
                crate::lifecycle::rules_of(&document)
                    .iter()
                    .map(lifecycle_dto)
                    .collect(),
            ),
            transition_default_minimum_object_size: None,
        })
    }

    pub(crate) fn delete_lifecycle(&self, bucket: &str) -> S3Result<()> {
        self.remove_bucket_configuration(bucket, ConfigurationKind::Lifecycle)
    }

    pub(crate) fn get_notifications(
        &self,
        bucket: &str,
    ) -> S3Result<dto::GetBucketNotificationConfigurationOutput> {
        let document = self
            .bucket_configuration(bucket, ConfigurationKind::Notification)?
            .unwrap_or(Value::Null);
        Ok(notification_dto(&document))
    }
}

pub(crate) fn no_such_website() -> S3Error {
    s3_error!(
        NoSuchWebsiteConfiguration,
        "The specified bucket does not have a website configuration"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_rules_read_cloudformation_and_round_trip_the_api() {
        let api = vec![dto::CORSRule {
            id: Some("web".to_owned()),
            allowed_origins: vec!["https://*.example.com".to_owned()],
            allowed_methods: vec!["GET".to_owned(), "PUT".to_owned()],
            allowed_headers: Some(vec!["*".to_owned()]),
            expose_headers: Some(vec!["ETag".to_owned()]),
            max_age_seconds: Some(300),
        }];
        let document = cors_document(&api);
        assert_eq!(
            document,
            json!({"CorsRules": [{"Id": "web", "AllowedOrigins": ["https://*.example.com"],
                "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"],
                "ExposedHeaders": ["ETag"], "MaxAge": 300}]})
        );
        let back: Vec<dto::CORSRule> = cors_rules(&document).into_iter().map(cors_dto).collect();
        assert_eq!(back, api);
        let template = json!({"CorsRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "MaxAge": "60"}]});
        assert_eq!(cors_rules(&template)[0].max_age_seconds, Some(60));
    }

    #[test]
    fn cors_methods_are_checked() {
        let rule = |method: &str| dto::CORSRule {
            allowed_origins: vec!["*".to_owned()],
            allowed_methods: vec![method.to_owned()],
            ..Default::default()
        };
        assert!(check_cors(&[rule("GET")]).is_ok());
        let error = check_cors(&[rule("PATCH")]).expect_err("PATCH");
        assert_eq!(error.code(), &S3ErrorCode::InvalidRequest);
        assert_eq!(
            check_cors(&[]).expect_err("empty").code(),
            &S3ErrorCode::MalformedXML
        );
    }

    #[test]
    fn policies_must_be_json_objects() {
        assert!(parse_policy(r#"{"Version":"2012-10-17","Statement":[]}"#).is_ok());
        for bad in ["not json", "[]", "{}"] {
            assert_eq!(
                parse_policy(bad).expect_err(bad).code(),
                &S3ErrorCode::MalformedPolicy
            );
        }
    }

    #[test]
    fn lifecycle_rules_round_trip_the_api() {
        let tag = |key: &str, value: &str| dto::Tag {
            key: Some(key.to_owned()),
            value: Some(value.to_owned()),
        };
        let rule = |id: &str, status: &str| dto::LifecycleRule {
            id: Some(id.to_owned()),
            status: dto::ExpirationStatus::from(status.to_owned()),
            abort_incomplete_multipart_upload: None,
            expiration: None,
            filter: None,
            noncurrent_version_expiration: None,
            noncurrent_version_transitions: None,
            prefix: None,
            transitions: None,
        };
        let rules = vec![
            dto::LifecycleRule {
                filter: Some(dto::LifecycleRuleFilter {
                    and: Some(dto::LifecycleRuleAndOperator {
                        prefix: Some("logs/".to_owned()),
                        tags: Some(vec![tag("a", "1"), tag("b", "2")]),
                        object_size_greater_than: Some(100),
                        object_size_less_than: None,
                    }),
                    ..Default::default()
                }),
                expiration: Some(dto::LifecycleExpiration {
                    days: Some(30),
                    ..Default::default()
                }),
                noncurrent_version_expiration: Some(dto::NoncurrentVersionExpiration {
                    noncurrent_days: Some(7),
                    newer_noncurrent_versions: Some(2),
                }),
                abort_incomplete_multipart_upload: Some(dto::AbortIncompleteMultipartUpload {
                    days_after_initiation: Some(1),
                }),
                ..rule("and", "Enabled")
            },
            dto::LifecycleRule {
                filter: Some(dto::LifecycleRuleFilter {
                    tag: Some(tag("tmp", "yes")),
                    ..Default::default()
                }),
                expiration: Some(dto::LifecycleExpiration {
                    expired_object_delete_marker: Some(true),
                    ..Default::default()
                }),
                ..rule("tag", "Disabled")
            },
            dto::LifecycleRule {
                prefix: Some("old/".to_owned()),
                expiration: Some(dto::LifecycleExpiration {
                    date: Some(dto::Timestamp::from(
                        crate::lifecycle::parse_date("2030-01-01").expect("date"),
                    )),
                    ..Default::default()
                }),
                ..rule("legacy", "Enabled")
            },
        ];
        assert!(check_lifecycle(&rules).is_ok());
        let document = lifecycle_document(&rules);
        let back: Vec<dto::LifecycleRule> = crate::lifecycle::rules_of(&document)
            .iter()
            .map(lifecycle_dto)
            .collect();
        assert_eq!(back, rules);
    }

    #[test]
    fn websites_round_trip() {
        let config = dto::WebsiteConfiguration {
            index_document: Some(dto::IndexDocument {
                suffix: "index.html".to_owned(),
            }),
            error_document: Some(dto::ErrorDocument {
                key: "404.html".to_owned(),
            }),
            routing_rules: Some(vec![dto::RoutingRule {
                condition: Some(dto::Condition {
                    key_prefix_equals: Some("docs/".to_owned()),
                    http_error_code_returned_equals: None,
                }),
                redirect: dto::Redirect {
                    replace_key_prefix_with: Some("documents/".to_owned()),
                    ..Default::default()
                },
            }]),
            redirect_all_requests_to: None,
        };
        let document = website_document(&config);
        assert_eq!(document["IndexDocument"], json!("index.html"));
        let back = website_dto(&document);
        assert_eq!(back.index_document, config.index_document);
        assert_eq!(back.error_document, config.error_document);
        assert_eq!(back.routing_rules, config.routing_rules);
    }
}
