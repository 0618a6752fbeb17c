//! Queues and topics: `AWS::SQS::Queue`, `AWS::SNS::Topic` (with its inline
//! `Subscription`), `AWS::SNS::Subscription`, SAM `SQS` and `SNS` function events, and
//! `AWS::Lambda::EventSourceMapping` resources whose `EventSourceArn` is a queue. Queue and
//! topic policies are accepted and change nothing locally (every stack's functions may use
//! the stack's own queues and topics).

use std::collections::BTreeMap;

use crate::intrinsics::Resolver;
use crate::model::{Function, Queue, QueueMapping, Subscription, Topic};
use crate::names::{generated_name, NameRule};
use crate::node::{Node, NodeKind};
use crate::{LoadOptions, Problem};

use super::properties::{expect_string, mapping};
use super::streams::{boolean, filter_patterns, function_of_name, integer};
use super::{function_events, RawResource};

pub(super) const QUEUE: &str = "AWS::SQS::Queue";
pub(super) const TOPIC: &str = "AWS::SNS::Topic";
pub(super) const SUBSCRIPTION: &str = "AWS::SNS::Subscription";
/// Resources accepted without effect.
pub(super) const POLICIES: &[&str] = &[
    "AWS::SQS::QueuePolicy",
    "AWS::SQS::QueueInlinePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::SNS::TopicInlinePolicy",
];

/// `CreateQueue`'s attribute names, as `AWS::SQS::Queue` spells them.
const QUEUE_ATTRIBUTES: &[&str] = &[
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
];

/// `CreateTopic`'s attribute names, as `AWS::SNS::Topic` spells them.
const TOPIC_ATTRIBUTES: &[&str] = &[
    "ArchivePolicy",
    "ContentBasedDeduplication",
    "DataProtectionPolicy",
    "DeliveryStatusLogging",
    "DisplayName",
    "FifoThroughputScope",
    "FifoTopic",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
];

/// A property value as an attribute string: JSON for a mapping or list (policies), the
/// text of a scalar.
fn attribute_text(value: &Node) -> String {
    match &value.kind {
        NodeKind::Scalar { text, .. } => text.clone(),
        _ => value.to_json().to_string(),
    }
}

fn tags(value: &Node, location: &str) -> Result<BTreeMap<String, String>, Problem> {
    let NodeKind::Sequence(items) = &value.kind else {
        return Err(Problem::at(
            value.span,
            format!(
                "{location}: expected a list of {{Key, Value}}, found {}",
                value.describe()
            ),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let item_location = format!("{location}[{index}]");
            let key = item
                .get("Key")
                .ok_or_else(|| Problem::at(item.span, format!("{item_location}.Key: missing")))?;
            let text = item.get("Value").map(attribute_text).unwrap_or_default();
            Ok((expect_string(key, &format!("{item_location}.Key"))?, text))
        })
        .collect()
}

/// An `AWS::SQS::Queue`.
pub(super) fn queue(resolver: &Resolver<'_>, raw: &RawResource<'_>) -> Result<Queue, Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let mut queue = Queue {
        logical_id: logical_id.clone(),
        name: resolver.physical_name(logical_id, "QueueName")?,
        attributes: BTreeMap::new(),
        tags: BTreeMap::new(),
    };
    let Some(properties) = raw.properties else {
        return Ok(queue);
    };
    for entry in mapping(properties, &location)? {
        let key = entry.key.as_str();
        let property_location = format!("{location}.{key}");
        let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        match key {
            "QueueName" => {}
            "Tags" => queue.tags = tags(&value, &property_location)?,
            _ if QUEUE_ATTRIBUTES.contains(&key) => {
                queue.attributes.insert(key.to_owned(), attribute_text(&value));
            }
            _ => {
                return Err(Problem::at(
                    entry.key_span,
                    format!("{property_location}: not a property of {QUEUE}; the properties are QueueName, Tags and {}", QUEUE_ATTRIBUTES.join(", ")),
                ))
            }
        }
    }
    let fifo_name = queue.name.ends_with(".fifo");
    let fifo = queue
        .attributes
        .get("FifoQueue")
        .is_some_and(|value| value.eq_ignore_ascii_case("true"));
    if fifo_name != fifo {
        return Err(Problem::at(
            properties.span,
            format!("{location}: a FIFO queue's name must end with .fifo, and only a FIFO queue's may (QueueName {}, FifoQueue {fifo})", queue.name),
        ));
    }
    Ok(queue)
}

/// An `AWS::SNS::Topic`, and the subscriptions its `Subscription` list makes.
pub(super) fn topic(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<(Topic, Vec<Subscription>), Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let mut topic = Topic {
        logical_id: logical_id.clone(),
        name: resolver.physical_name(logical_id, "TopicName")?,
        attributes: BTreeMap::new(),
        tags: BTreeMap::new(),
    };
    let arn = format!(
        "arn:aws:sns:{}:{}:{}",
        options.region, options.account_id, topic.name
    );
    let mut subscriptions = Vec::new();
    let Some(properties) = raw.properties else {
        return Ok((topic, subscriptions));
    };
    for entry in mapping(properties, &location)? {
        let key = entry.key.as_str();
        let property_location = format!("{location}.{key}");
        let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        match key {
            "TopicName" => {}
            "Tags" => topic.tags = tags(&value, &property_location)?,
            "Subscription" => {
                let NodeKind::Sequence(items) = &value.kind else {
                    return Err(Problem::at(
                        value.span,
                        format!("{property_location}: expected a list of {{Protocol, Endpoint}}, found {}", value.describe()),
                    ));
                };
                for (index, item) in items.iter().enumerate() {
                    let item_location = format!("{property_location}[{index}]");
                    let field = |name: &str| -> Result<String, Problem> {
                        let node = item.get(name).ok_or_else(|| {
                            Problem::at(item.span, format!("{item_location}.{name}: missing"))
                        })?;
                        expect_string(node, &format!("{item_location}.{name}"))
                    };
                    subscriptions.push(Subscription {
                        id: format!("{logical_id}/Subscription[{index}]"),
                        topic_arn: arn.clone(),
                        protocol: check_protocol(item, &field("Protocol")?, &item_location)?,
                        endpoint: field("Endpoint")?,
                        attributes: BTreeMap::new(),
                    });
                }
            }
            _ if TOPIC_ATTRIBUTES.contains(&key) => {
                topic
                    .attributes
                    .insert(key.to_owned(), attribute_text(&value));
            }
            _ => unsupported.push(format!("{logical_id}.{key}")),
        }
    }
    let fifo = topic
        .attributes
        .get("FifoTopic")
        .is_some_and(|value| value.eq_ignore_ascii_case("true"));
    if topic.name.ends_with(".fifo") != fifo {
        return Err(Problem::at(
            properties.span,
            format!("{location}: a FIFO topic's name must end with .fifo, and only a FIFO topic's may (TopicName {}, FifoTopic {fifo})", topic.name),
        ));
    }
    Ok((topic, subscriptions))
}

fn check_protocol(node: &Node, protocol: &str, location: &str) -> Result<String, Problem> {
    const PROTOCOLS: &[&str] = &[
        "lambda",
        "sqs",
        "http",
        "https",
        "email",
        "email-json",
        "sms",
        "application",
        "firehose",
    ];
    if PROTOCOLS.contains(&protocol) {
        Ok(protocol.to_owned())
    } else {
        Err(Problem::at(
            node.span,
            format!("{location}.Protocol: Invalid parameter: Protocol '{protocol}'; use lambda, sqs, http or https"),
        ))
    }
}

/// An `AWS::SNS::Subscription`.
pub(super) fn subscription(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    unsupported: &mut Vec<String>,
) -> Result<Subscription, Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let Some(properties) = raw.properties else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}: missing; a subscription needs TopicArn, Protocol and Endpoint"),
        ));
    };
    let mut subscription = Subscription {
        id: logical_id.clone(),
        topic_arn: String::new(),
        protocol: String::new(),
        endpoint: String::new(),
        attributes: BTreeMap::new(),
    };
    for entry in mapping(properties, &location)? {
        let key = entry.key.as_str();
        let property_location = format!("{location}.{key}");
        let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        match key {
            "TopicArn" => subscription.topic_arn = expect_string(&value, &property_location)?,
            "Protocol" => {
                let protocol = expect_string(&value, &property_location)?;
                subscription.protocol = check_protocol(&value, &protocol, &location)?;
            }
            "Endpoint" => subscription.endpoint = expect_string(&value, &property_location)?,
            "FilterPolicy" | "RedrivePolicy" | "DeliveryPolicy" => {
                subscription
                    .attributes
                    .insert(key.to_owned(), attribute_text(&value));
            }
            "FilterPolicyScope" | "RawMessageDelivery" => {
                subscription
                    .attributes
                    .insert(key.to_owned(), attribute_text(&value));
            }
            "Region" | "SubscriptionRoleArn" | "ReplayPolicy" => {}
            _ => unsupported.push(format!("{logical_id}.{key}")),
        }
    }
    for (name, value) in [
        ("TopicArn", &subscription.topic_arn),
        ("Protocol", &subscription.protocol),
        ("Endpoint", &subscription.endpoint),
    ] {
        if value.is_empty() {
            return Err(Problem::at(
                properties.span,
                format!("{location}.{name}: missing"),
            ));
        }
    }
    Ok(subscription)
}

/// What a function's `SQS` and `SNS` events make.
#[derive(Default)]
pub(super) struct FunctionQueueEvents {
    pub(super) queues: Vec<Queue>,
    pub(super) subscriptions: Vec<Subscription>,
    pub(super) mappings: Vec<QueueMapping>,
}

/// The `SQS` and `SNS` events of a function.
pub(super) fn queue_events(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    function: &Function,
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<FunctionQueueEvents, Problem> {
    let logical_id = &raw.logical_id;
    let (location, events) = function_events(raw, &["SQS", "SNS"])?;
    let mut made = FunctionQueueEvents::default();
    let function_arn = format!(
        "arn:aws:lambda:{}:{}:function:{}",
        options.region, options.account_id, function.name
    );
    for (event, kind) in events {
        let event_location = format!("{location}.{}.Properties", event.key);
        let owner = format!("{logical_id}.Events.{}", event.key);
        let Some(properties) = event.value.get("Properties") else {
            return Err(Problem::at(
                event.key_span,
                format!(
                    "{event_location}: missing; an {kind} event needs {}",
                    if kind == "SQS" { "Queue" } else { "Topic" }
                ),
            ));
        };
        let id = format!("{logical_id}/{}", event.key);
        if kind == "SQS" {
            made.mappings.push(mapping_settings(
                resolver,
                properties,
                &event_location,
                "Queue",
                id,
                logical_id.clone(),
                None,
                &owner,
                unsupported,
            )?);
            continue;
        }
        // SNS
        let mut topic = None;
        let mut attributes = BTreeMap::new();
        let mut sqs_subscription: Option<Node> = None;
        for entry in mapping(properties, &event_location)? {
            let key = entry.key.as_str();
            let property_location = format!("{event_location}.{key}");
            let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            match key {
                "Topic" => topic = Some(expect_string(&value, &property_location)?),
                "FilterPolicy" | "RedrivePolicy" => {
                    attributes.insert(key.to_owned(), attribute_text(&value));
                }
                "FilterPolicyScope" => {
                    attributes.insert(key.to_owned(), expect_string(&value, &property_location)?);
                }
                "SqsSubscription" => sqs_subscription = Some(value),
                "Region" => {}
                _ => unsupported.push(format!("{owner}.{key}")),
            }
        }
        let Some(topic) = topic else {
            return Err(Problem::at(
                properties.span,
                format!("{event_location}.Topic: missing; name the topic, such as !Ref MyTopic"),
            ));
        };
        let via_queue = match &sqs_subscription {
            None => false,
            Some(node) => match node.as_scalar() {
                Some(_) => boolean(node, &format!("{event_location}.SqsSubscription"))?,
                None => true,
            },
        };
        if !via_queue {
            made.subscriptions.push(Subscription {
                id,
                topic_arn: topic,
                protocol: "lambda".to_owned(),
                endpoint: function_arn.clone(),
                attributes,
            });
            continue;
        }
        // SAM makes a queue (unless one is named), subscribes it to the topic and maps it
        // to the function.
        let settings = sqs_subscription.filter(|node| node.as_scalar().is_none());
        let sqs_location = format!("{event_location}.SqsSubscription");
        let named_queue = match settings.as_ref().and_then(|node| node.get("QueueArn")) {
            Some(node) => Some(expect_string(node, &format!("{sqs_location}.QueueArn"))?),
            None => None,
        };
        let queue_arn = match named_queue {
            Some(arn) => arn,
            None => {
                let queue_logical_id = format!("{logical_id}{}Queue", event.key);
                let name = generated_name(&options.stack_name, &queue_logical_id, NameRule::QUEUE);
                resolver.set_physical_name(&queue_logical_id, &name);
                made.queues.push(Queue {
                    logical_id: queue_logical_id,
                    name: name.clone(),
                    attributes: BTreeMap::new(),
                    tags: BTreeMap::new(),
                });
                format!(
                    "arn:aws:sqs:{}:{}:{name}",
                    options.region, options.account_id
                )
            }
        };
        made.subscriptions.push(Subscription {
            id: id.clone(),
            topic_arn: topic,
            protocol: "sqs".to_owned(),
            endpoint: queue_arn.clone(),
            attributes,
        });
        let mut mapping = QueueMapping {
            id,
            function: logical_id.clone(),
            qualifier: None,
            queue_arn,
            batch_size: 10,
            maximum_batching_window_secs: 0,
            report_batch_item_failures: false,
            maximum_concurrency: None,
            filter_patterns: Vec::new(),
            enabled: true,
        };
        if let Some(settings) = &settings {
            if let Some(node) = settings.get("BatchSize") {
                mapping.batch_size =
                    integer(node, &format!("{sqs_location}.BatchSize"), 1, 10_000)? as u32;
            }
            if let Some(node) = settings.get("Enabled") {
                mapping.enabled = boolean(node, &format!("{sqs_location}.Enabled"))?;
            }
        }
        made.mappings.push(mapping);
    }
    Ok(made)
}

/// The `AWS::Lambda::EventSourceMapping` resources that read queues.
pub(super) fn queue_event_source_mappings(
    resolver: &Resolver<'_>,
    raws: &[&RawResource<'_>],
    functions: &[Function],
    unsupported: &mut Vec<String>,
) -> Result<Vec<QueueMapping>, Problem> {
    let mut mappings = Vec::new();
    for raw in raws {
        let logical_id = &raw.logical_id;
        let location = format!("Resources.{logical_id}.Properties");
        let Some(properties) = raw.properties else {
            continue;
        };
        let Some(source) = properties.get("EventSourceArn") else {
            continue;
        };
        let source = resolver.resolve_string(source, &format!("{location}.EventSourceArn"))?;
        if !source.starts_with("arn:aws:sqs:") {
            continue;
        }
        let Some(function_node) = properties.get("FunctionName") else {
            return Err(Problem::at(
                raw.key_span,
                format!(
                    "{location}.FunctionName: missing; name the function, such as !Ref MyFunction"
                ),
            ));
        };
        let function_location = format!("{location}.FunctionName");
        let name = resolver.resolve_string(function_node, &function_location)?;
        let (function, qualifier) = function_of_name(&name, functions).ok_or_else(|| {
            Problem::at(
                function_node.span,
                format!("{function_location}: Function not found: '{name}' is not a function of this template"),
            )
        })?;
        mappings.push(mapping_settings(
            resolver,
            properties,
            &location,
            "EventSourceArn",
            logical_id.clone(),
            function,
            qualifier,
            logical_id,
            unsupported,
        )?);
    }
    Ok(mappings)
}

/// A queue mapping's settings, read and checked against Lambda's limits.
#[allow(clippy::too_many_arguments)]
fn mapping_settings(
    resolver: &Resolver<'_>,
    properties: &Node,
    location: &str,
    queue_key: &str,
    id: String,
    function: String,
    qualifier: Option<String>,
    owner: &str,
    unsupported: &mut Vec<String>,
) -> Result<QueueMapping, Problem> {
    let mut made = QueueMapping {
        id,
        function,
        qualifier,
        queue_arn: String::new(),
        batch_size: 10,
        maximum_batching_window_secs: 0,
        report_batch_item_failures: false,
        maximum_concurrency: None,
        filter_patterns: Vec::new(),
        enabled: true,
    };
    let mut batch_span = None;
    for entry in mapping(properties, location)? {
        let key = entry.key.as_str();
        let property_location = format!("{location}.{key}");
        if matches!(key, "FunctionName" | "KmsKeyArn" | "MetricsConfig" | "Tags") {
            continue;
        }
        let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        match key {
            _ if key == queue_key => {
                let arn = expect_string(&value, &property_location)?;
                if !arn.starts_with("arn:aws:sqs:") || arn.split(':').count() != 6 {
                    return Err(Problem::at(
                        value.span,
                        format!("{property_location}: '{arn}' is not an SQS queue ARN; use !GetAtt MyQueue.Arn"),
                    ));
                }
                made.queue_arn = arn;
            }
            "BatchSize" => {
                made.batch_size = integer(&value, &property_location, 1, 10_000)? as u32;
                batch_span = Some(value.span);
            }
            "MaximumBatchingWindowInSeconds" => {
                made.maximum_batching_window_secs =
                    integer(&value, &property_location, 0, 300)? as u32;
            }
            "Enabled" => made.enabled = boolean(&value, &property_location)?,
            "FunctionResponseTypes" => {
                let types = super::properties::expect_strings(&value, &property_location)?;
                for response_type in types {
                    if response_type != "ReportBatchItemFailures" {
                        return Err(Problem::at(
                            value.span,
                            format!("{property_location}: '{response_type}' is not a function response type; the only one is ReportBatchItemFailures"),
                        ));
                    }
                    made.report_batch_item_failures = true;
                }
            }
            "ScalingConfig" => {
                if let Some(node) = value.get("MaximumConcurrency") {
                    made.maximum_concurrency = Some(integer(
                        node,
                        &format!("{property_location}.MaximumConcurrency"),
                        2,
                        1000,
                    )? as u32);
                }
            }
            "FilterCriteria" => made.filter_patterns = filter_patterns(&value, &property_location)?,
            "EventSourceArn" | "Queue" => {}
            _ => unsupported.push(format!("{owner}.{key}")),
        }
    }
    if made.queue_arn.is_empty() {
        return Err(Problem::at(
            properties.span,
            format!("{location}.{queue_key}: missing; name the queue, such as !GetAtt MyQueue.Arn"),
        ));
    }
    if made.batch_size > 10 && made.maximum_batching_window_secs == 0 {
        return Err(Problem::at(
            batch_span.unwrap_or(properties.span),
            format!("{location}.BatchSize: Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"),
        ));
    }
    Ok(made)
}
