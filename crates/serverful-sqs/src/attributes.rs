//! Queue names and queue attributes: what `CreateQueue`/`SetQueueAttributes` accept, checked
//! with SQS's rules and wording, and the typed settings the engine runs a queue by.

use std::collections::BTreeMap;

use crate::error::SqsError;

/// The largest message SQS accepts, and every queue's default `MaximumMessageSize`.
pub const MAX_MESSAGE_BYTES: u32 = 262_144;

/// Every attribute a queue can be created or changed with.
pub const SETTABLE_ATTRIBUTES: &[&str] = &[
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "Policy",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
];

/// The attributes `GetQueueAttributes` computes rather than stores.
pub const COMPUTED_ATTRIBUTES: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

/// Where a FIFO queue's deduplication ids are unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeduplicationScope {
    Queue,
    MessageGroup,
}

/// A queue's `RedrivePolicy`: where messages go after `max_receive_count` receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedrivePolicy {
    /// The dead-letter queue's ARN.
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

/// A queue's settings, typed, with SQS's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    pub visibility_timeout: u32,
    pub message_retention_period: u32,
    pub delay_seconds: u32,
    pub receive_message_wait_time_seconds: u32,
    pub maximum_message_size: u32,
    pub redrive_policy: Option<RedrivePolicy>,
    pub fifo: bool,
    pub content_based_deduplication: bool,
    pub deduplication_scope: DeduplicationScope,
    /// The attributes as stored: every settable attribute that has a value, normalized
    /// (what `GetQueueAttributes` shows).
    pub attributes: BTreeMap<String, String>,
}

impl QueueSettings {
    /// The settings of a new queue named `name` with `given` attributes, or the first
    /// attribute SQS would refuse.
    pub fn new(name: &str, given: &BTreeMap<String, String>) -> Result<QueueSettings, SqsError> {
        let fifo = match given.get("FifoQueue").map(String::as_str) {
            None => false,
            Some(value) => parse_bool("FifoQueue", value)?,
        };
        check_queue_name(name, fifo)?;
        let mut attributes = default_attributes(fifo);
        for (key, value) in given {
            if key == "FifoQueue" && !fifo {
                // `FifoQueue: false` (as CloudFormation templates write it) is a standard
                // queue, which has no such attribute.
                continue;
            }
            check_settable(key, value, fifo)?;
            attributes.insert(key.clone(), normalize(key, value));
        }
        Self::from_attributes(attributes)
    }

    /// The settings after `SetQueueAttributes` with `changes`.
    pub fn changed(&self, changes: &BTreeMap<String, String>) -> Result<QueueSettings, SqsError> {
        let mut attributes = self.attributes.clone();
        for (key, value) in changes {
            if key == "FifoQueue" {
                // A queue's type is fixed at creation.
                return Err(invalid_attribute_name(key));
            }
            check_settable(key, value, self.fifo)?;
            if value.is_empty()
                && matches!(
                    key.as_str(),
                    "RedrivePolicy" | "Policy" | "RedriveAllowPolicy" | "KmsMasterKeyId"
                )
            {
                attributes.remove(key);
            } else {
                attributes.insert(key.clone(), normalize(key, value));
            }
        }
        Self::from_attributes(attributes)
    }

    /// Settings from stored (already checked) attributes.
    pub fn from_attributes(
        attributes: BTreeMap<String, String>,
    ) -> Result<QueueSettings, SqsError> {
        let number = |key: &str, default: u32| -> u32 {
            attributes
                .get(key)
                .and_then(|value| value.parse().ok())
                .unwrap_or(default)
        };
        let flag = |key: &str| attributes.get(key).is_some_and(|value| value == "true");
        let redrive_policy = match attributes.get("RedrivePolicy") {
            Some(text) => Some(parse_redrive_policy(text)?),
            None => None,
        };
        Ok(QueueSettings {
            visibility_timeout: number("VisibilityTimeout", 30),
            message_retention_period: number("MessageRetentionPeriod", 345_600),
            delay_seconds: number("DelaySeconds", 0),
            receive_message_wait_time_seconds: number("ReceiveMessageWaitTimeSeconds", 0),
            maximum_message_size: number("MaximumMessageSize", MAX_MESSAGE_BYTES),
            redrive_policy,
            fifo: flag("FifoQueue"),
            content_based_deduplication: flag("ContentBasedDeduplication"),
            deduplication_scope: match attributes.get("DeduplicationScope").map(String::as_str) {
                Some("messageGroup") => DeduplicationScope::MessageGroup,
                _ => DeduplicationScope::Queue,
            },
            attributes,
        })
    }

    /// The first attribute of `given` whose value differs from this queue's, for
    /// `CreateQueue` on an existing queue.
    pub fn first_difference(&self, given: &BTreeMap<String, String>) -> Option<String> {
        given.iter().find_map(|(key, value)| {
            let current = match self.attributes.get(key) {
                Some(current) => current.as_str(),
                None if key == "FifoQueue" => "false",
                None => "",
            };
            (normalize(key, value) != current).then(|| key.clone())
        })
    }
}

/// The attributes every new queue has before its own.
fn default_attributes(fifo: bool) -> BTreeMap<String, String> {
    let mut attributes: BTreeMap<String, String> = [
        ("VisibilityTimeout", "30"),
        ("MessageRetentionPeriod", "345600"),
        ("DelaySeconds", "0"),
        ("ReceiveMessageWaitTimeSeconds", "0"),
        ("MaximumMessageSize", "262144"),
        ("SqsManagedSseEnabled", "true"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect();
    if fifo {
        for (key, value) in [
            ("FifoQueue", "true"),
            ("ContentBasedDeduplication", "false"),
            ("DeduplicationScope", "queue"),
            ("FifoThroughputLimit", "perQueue"),
        ] {
            attributes.insert(key.to_owned(), value.to_owned());
        }
    }
    attributes
}

/// Booleans are stored as SQS shows them, lowercase.
fn normalize(key: &str, value: &str) -> String {
    match key {
        "FifoQueue" | "ContentBasedDeduplication" | "SqsManagedSseEnabled" => {
            value.to_ascii_lowercase()
        }
        _ => value.to_owned(),
    }
}

/// Checks a queue name: 1 to 80 alphanumerics, `-` and `_`, and `.fifo` at the end of a
/// FIFO queue's name (and only there).
pub fn check_queue_name(name: &str, fifo: bool) -> Result<(), SqsError> {
    let stem = if fifo {
        name.strip_suffix(".fifo")
    } else {
        Some(name)
    };
    let valid = stem.is_some_and(|stem| {
        !stem.is_empty()
            && name.len() <= 80
            && stem
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    });
    if valid {
        return Ok(());
    }
    Err(SqsError::InvalidParameterValue(if fifo {
        "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.".to_owned()
    } else if name.ends_with(".fifo") {
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length. A queue whose name ends with .fifo must be created with the FifoQueue attribute set to true.".to_owned()
    } else {
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
            .to_owned()
    }))
}

fn invalid_attribute_value(key: &str) -> SqsError {
    SqsError::InvalidAttributeValue(format!("Invalid value for the parameter {key}."))
}

fn invalid_attribute_name(key: &str) -> SqsError {
    SqsError::InvalidAttributeName(format!("Unknown Attribute {key}."))
}

fn parse_bool(key: &str, value: &str) -> Result<bool, SqsError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid_attribute_value(key)),
    }
}

fn check_range(key: &str, value: &str, low: u32, high: u32) -> Result<(), SqsError> {
    match value.trim().parse::<u32>() {
        Ok(number) if (low..=high).contains(&number) && value.trim() == value => Ok(()),
        _ => Err(invalid_attribute_value(key)),
    }
}

/// Checks one settable attribute's value on a queue of the given type.
fn check_settable(key: &str, value: &str, fifo: bool) -> Result<(), SqsError> {
    match key {
        "DelaySeconds" => check_range(key, value, 0, 900),
        "MaximumMessageSize" => check_range(key, value, 1024, MAX_MESSAGE_BYTES),
        "MessageRetentionPeriod" => check_range(key, value, 60, 1_209_600),
        "ReceiveMessageWaitTimeSeconds" => check_range(key, value, 0, 20),
        "VisibilityTimeout" => check_range(key, value, 0, 43_200),
        "KmsDataKeyReusePeriodSeconds" => check_range(key, value, 60, 86_400),
        "SqsManagedSseEnabled" => parse_bool(key, value).map(drop),
        "KmsMasterKeyId" => Ok(()),
        "Policy" => {
            if value.is_empty()
                || serde_json::from_str::<serde_json::Value>(value).is_ok_and(|v| v.is_object())
            {
                Ok(())
            } else {
                Err(invalid_attribute_value(key))
            }
        }
        "RedrivePolicy" => {
            if value.is_empty() {
                return Ok(());
            }
            parse_redrive_policy(value).map(drop)
        }
        "RedriveAllowPolicy" => {
            if value.is_empty() {
                return Ok(());
            }
            check_redrive_allow_policy(value)
        }
        "FifoQueue" => parse_bool(key, value).map(drop),
        "ContentBasedDeduplication" | "DeduplicationScope" | "FifoThroughputLimit" if !fifo => {
            Err(invalid_attribute_name(key))
        }
        "ContentBasedDeduplication" => parse_bool(key, value).map(drop),
        "DeduplicationScope" => match value {
            "queue" | "messageGroup" => Ok(()),
            _ => Err(invalid_attribute_value(key)),
        },
        "FifoThroughputLimit" => match value {
            "perQueue" | "perMessageGroupId" => Ok(()),
            _ => Err(invalid_attribute_value(key)),
        },
        _ => Err(invalid_attribute_name(key)),
    }
}

/// Parses `{"deadLetterTargetArn": ARN, "maxReceiveCount": N}` (N a number or a string of
/// one, 1 to 1000), worded as SQS words its refusals.
pub fn parse_redrive_policy(text: &str) -> Result<RedrivePolicy, SqsError> {
    let invalid = |reason: &str| {
        SqsError::InvalidParameterValue(format!(
            "Value {text} for parameter RedrivePolicy is invalid. Reason: {reason}"
        ))
    };
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| invalid("Invalid value for the parameter RedrivePolicy."))?;
    let Some(object) = value.as_object() else {
        return Err(invalid("Redrive policy is not a JSON object."));
    };
    let arn = object
        .get("deadLetterTargetArn")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| {
            invalid("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
        })?;
    let count = match object.get("maxReceiveCount") {
        Some(serde_json::Value::Number(number)) => number.as_u64(),
        Some(serde_json::Value::String(text)) => text.parse().ok(),
        None => {
            return Err(invalid(
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
            ))
        }
        Some(_) => None,
    };
    let count = count
        .filter(|count| (1..=1000).contains(count))
        .ok_or_else(|| {
            invalid("Invalid value for maxReceiveCount: must be an integer from 1 to 1000.")
        })?;
    if let Some(extra) = object
        .keys()
        .find(|key| *key != "deadLetterTargetArn" && *key != "maxReceiveCount")
    {
        return Err(invalid(&format!("Only following attributes are supported: [deadLetterTargetArn, maxReceiveCount], found {extra}.")));
    }
    Ok(RedrivePolicy {
        dead_letter_target_arn: arn.to_owned(),
        max_receive_count: u32::try_from(count).unwrap_or(1000),
    })
}

fn check_redrive_allow_policy(text: &str) -> Result<(), SqsError> {
    let invalid = |reason: &str| {
        SqsError::InvalidParameterValue(format!(
            "Value {text} for parameter RedriveAllowPolicy is invalid. Reason: {reason}"
        ))
    };
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| invalid("Invalid value for the parameter RedriveAllowPolicy."))?;
    let permission = value
        .get("redrivePermission")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| {
            invalid("Redrive allow policy does not contain mandatory attribute: redrivePermission.")
        })?;
    let sources = value.get("sourceQueueArns");
    match permission {
        "allowAll" | "denyAll" if sources.is_some() => Err(invalid(
            "Only byQueue redrivePermission can have sourceQueueArns.",
        )),
        "allowAll" | "denyAll" => Ok(()),
        "byQueue" => match sources.and_then(serde_json::Value::as_array) {
            Some(arns) if (1..=10).contains(&arns.len()) && arns.iter().all(serde_json::Value::is_string) => Ok(()),
            _ => Err(invalid("Between 1 and 10 source queue ARNs must be specified for byQueue redrivePermission.")),
        },
        _ => Err(invalid("Invalid value for redrivePermission.")),
    }
}

/// Whether a redrive allow policy lets the queue `source_arn` use this queue as its
/// dead-letter queue.
pub fn redrive_allowed(allow_policy: Option<&str>, source_arn: &str) -> bool {
    let Some(value) =
        allow_policy.and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
    else {
        return true;
    };
    match value
        .get("redrivePermission")
        .and_then(serde_json::Value::as_str)
    {
        Some("denyAll") => false,
        Some("byQueue") => value
            .get("sourceQueueArns")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|arns| arns.iter().any(|arn| arn.as_str() == Some(source_arn))),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn names_follow_aws_rules() {
        assert!(check_queue_name("orders-1_a", false).is_ok());
        assert!(check_queue_name(&"a".repeat(80), false).is_ok());
        assert!(check_queue_name(&"a".repeat(81), false).is_err());
        assert!(check_queue_name("", false).is_err());
        assert!(check_queue_name("bad.name", false).is_err());
        assert!(check_queue_name("q.fifo", true).is_ok());
        assert!(check_queue_name("q", true).is_err());
        assert!(check_queue_name(".fifo", true).is_err());
        assert!(check_queue_name("q.fifo", false).is_err());
    }

    #[test]
    fn attributes_are_checked_with_aws_ranges() {
        let settings =
            QueueSettings::new("q", &given(&[("VisibilityTimeout", "60")])).expect("valid");
        assert_eq!(settings.visibility_timeout, 60);
        assert_eq!(settings.attributes["MaximumMessageSize"], "262144");
        let error = QueueSettings::new("q", &given(&[("VisibilityTimeout", "43201")]))
            .expect_err("too long");
        assert_eq!(
            error.to_string(),
            "Invalid value for the parameter VisibilityTimeout."
        );
        let error = QueueSettings::new("q", &given(&[("Colour", "blue")])).expect_err("unknown");
        assert_eq!(
            error,
            SqsError::InvalidAttributeName("Unknown Attribute Colour.".into())
        );
        assert!(QueueSettings::new("q", &given(&[("ContentBasedDeduplication", "true")])).is_err());
        let fifo = QueueSettings::new(
            "q.fifo",
            &given(&[
                ("FifoQueue", "true"),
                ("DeduplicationScope", "messageGroup"),
            ]),
        )
        .expect("fifo");
        assert!(fifo.fifo);
        let standard =
            QueueSettings::new("q", &given(&[("FifoQueue", "false")])).expect("standard");
        assert!(!standard.fifo && !standard.attributes.contains_key("FifoQueue"));
        assert_eq!(
            standard.first_difference(&given(&[("FifoQueue", "false")])),
            None
        );
        assert_eq!(fifo.deduplication_scope, DeduplicationScope::MessageGroup);
        assert_eq!(
            fifo.first_difference(&given(&[("FifoQueue", "TRUE")])),
            None
        );
        assert_eq!(
            fifo.first_difference(&given(&[("VisibilityTimeout", "31")])),
            Some("VisibilityTimeout".into())
        );
    }

    #[test]
    fn redrive_policies_parse_as_aws_does() {
        let policy = parse_redrive_policy(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq","maxReceiveCount":"3"}"#,
        )
        .expect("valid");
        assert_eq!(policy.max_receive_count, 3);
        assert!(
            parse_redrive_policy(r#"{"deadLetterTargetArn":"x","maxReceiveCount":0}"#).is_err()
        );
        assert!(parse_redrive_policy(r#"{"maxReceiveCount":2}"#).is_err());
        assert!(redrive_allowed(None, "a"));
        assert!(!redrive_allowed(
            Some(r#"{"redrivePermission":"denyAll"}"#),
            "a"
        ));
        assert!(redrive_allowed(
            Some(r#"{"redrivePermission":"byQueue","sourceQueueArns":["a"]}"#),
            "a"
        ));
    }
}
