//! EventBridge (`AWSEvents`) on the AWS endpoint: `PutEvents` routes each entry to the
//! rules of its bus that match it, in every stack (the default bus is the account's), and
//! queues each matching function target's input as an asynchronous invocation, so
//! delivery gets Lambda's retries, event age and destinations; `TestEventPattern`;
//! `ListRules` and `DescribeRule` over the rules of the stacks' current versions.
//!
//! Rules are read from each stack's current version at the time of the call, so they
//! switch with a deploy and disappear with their stack without any wiring of their own.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde_json::{json, Map, Value};
use serverful_aws::authz::Policy;
use serverful_aws::{AwsError, JsonRequest, JsonService, MessageField, Principal};
use serverful_eventbridge::input::{RuleContext, TargetInput};
use serverful_eventbridge::put_events::{self, EnvelopeContext, Event, PutEventsEntry};
use serverful_eventbridge::EventPattern;
use serverful_template as template;
use time::OffsetDateTime;

use crate::server::{LiveVersion, Platform};

/// The EventBridge API over the platform's stacks.
pub struct EventsApi {
    pub platform: Arc<Platform>,
}

impl JsonService for EventsApi {
    fn target_prefix(&self) -> &'static str {
        "AWSEvents"
    }

    fn signing_name(&self) -> &'static str {
        "events"
    }

    fn call(&self, request: JsonRequest) -> BoxFuture<'static, Result<Bytes, AwsError>> {
        let platform = self.platform.clone();
        Box::pin(async move {
            let body: Value = serde_json::from_slice(&request.body)
                .map_err(|error| AwsError::serialization(Some(error.to_string())))?;
            let answer = match request.operation.as_str() {
                "PutEvents" => put_events(&platform, &request, &body).await?,
                "TestEventPattern" => test_event_pattern(&body)?,
                "ListRules" => list_rules(&platform, &request, &body),
                "DescribeRule" => describe_rule(&platform, &request, &body)?,
                _ => return Err(AwsError::unknown_operation()),
            };
            Ok(Bytes::from(answer.to_string()))
        })
    }
}

/// A bus's name from a name or an ARN (`arn:aws:events:REGION:ACCOUNT:event-bus/NAME`).
fn bus_name(text: Option<&str>) -> String {
    match text.filter(|text| !text.is_empty()) {
        None => template::DEFAULT_BUS.to_owned(),
        Some(text) => text
            .split_once(":event-bus/")
            .map_or(text, |(_, name)| name)
            .to_owned(),
    }
}

/// The stack a restricted caller's keys belong to; `None` for the master keys.
fn caller_stack(principal: &Principal) -> Option<&str> {
    match &principal.policy {
        Policy::Unrestricted => None,
        Policy::Stack(scope) => Some(scope.stack.as_str()),
    }
}

/// Whether a stack's keys may use `bus`: the default bus and the stack's own buses.
fn may_use_bus(platform: &Platform, principal: &Principal, bus: &str) -> bool {
    let Some(stack) = caller_stack(principal) else {
        return true;
    };
    bus == template::DEFAULT_BUS
        || platform.current(stack).is_some_and(|version| {
            version
                .app
                .event_buses
                .iter()
                .any(|declared| declared.name == bus)
        })
}

fn access_denied(principal: &Principal, action: &str, resource: &str) -> AwsError {
    AwsError::coral(
        "AccessDeniedException",
        format!(
            "User: {} is not authorized to perform: events:{action} on resource: {resource} because no identity-based policy allows the events:{action} action",
            principal.arn
        ),
    )
    .with_message_field(MessageField::Upper)
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// An entry as the JSON protocol sends it (`Time` in seconds since the epoch).
fn entry(value: &Value) -> PutEventsEntry {
    PutEventsEntry {
        source: text(value, "Source"),
        detail_type: text(value, "DetailType"),
        detail: text(value, "Detail"),
        resources: value
            .get("Resources")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        time: value
            .get("Time")
            .and_then(Value::as_f64)
            .and_then(|seconds| {
                // Whole milliseconds: EventBridge keeps whole seconds anyway.
                OffsetDateTime::from_unix_timestamp_nanos(
                    i128::from((seconds * 1000.0) as i64) * 1_000_000,
                )
                .ok()
            }),
        event_bus_name: text(value, "EventBusName"),
        trace_header: text(value, "TraceHeader"),
    }
}

async fn put_events(
    platform: &Arc<Platform>,
    request: &JsonRequest,
    body: &Value,
) -> Result<Value, AwsError> {
    let entries: Vec<PutEventsEntry> = body
        .get("Entries")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(entry).collect())
        .unwrap_or_default();
    put_events::check_request(&entries).map_err(|error| AwsError::validation(error.to_string()))?;
    let config = platform.config();
    for entry in &entries {
        let bus = bus_name(entry.event_bus_name.as_deref());
        if !may_use_bus(platform, &request.principal, &bus) {
            let arn = format!(
                "arn:aws:events:{}:{}:event-bus/{bus}",
                request.region, config.account_id
            );
            return Err(access_denied(&request.principal, "PutEvents", &arn));
        }
    }
    let versions = platform.current_versions();
    let now = OffsetDateTime::now_utc();
    let ingestion_time = put_events::format_time(now);
    let mut results = Vec::with_capacity(entries.len());
    let mut failed = 0;
    for entry in &entries {
        let detail = match put_events::check_entry(entry) {
            Ok(detail) => detail,
            Err(error) => {
                failed += 1;
                results.push(json!({"ErrorCode": error.code, "ErrorMessage": error.message}));
                continue;
            }
        };
        let id = uuid::Uuid::new_v4().to_string();
        let event = Event::from_entry(
            entry,
            detail,
            &EnvelopeContext {
                id: &id,
                account: &config.account_id,
                region: &config.region,
                now,
            },
        );
        let bus = bus_name(entry.event_bus_name.as_deref());
        match route(platform, &versions, &bus, &event, &ingestion_time).await {
            Ok(()) => results.push(json!({"EventId": id})),
            Err(message) => {
                failed += 1;
                results.push(json!({"ErrorCode": "InternalFailure", "ErrorMessage": message}));
            }
        }
    }
    Ok(json!({"FailedEntryCount": failed, "Entries": results}))
}

/// Queues the event's input for every function target of every enabled rule of `bus`
/// that matches it.
async fn route(
    platform: &Arc<Platform>,
    versions: &[Arc<LiveVersion>],
    bus: &str,
    event: &Event,
    ingestion_time: &str,
) -> Result<(), String> {
    let value = event.to_value();
    for version in versions {
        let stack = &version.record.stack;
        for (index, rule) in version.app.event_rules.iter().enumerate() {
            if !rule.enabled || rule.event_bus_name != bus {
                continue;
            }
            let Some(pattern) = version.rule_pattern(index) else {
                continue;
            };
            if !pattern.matches(&value) {
                continue;
            }
            let context = RuleContext {
                rule_name: &rule.name,
                rule_arn: &rule.arn,
                ingestion_time,
            };
            for target in &rule.targets {
                let payload = match target_input(target) {
                    Ok(TargetInput::Event) => event.to_json(),
                    Ok(input) => input.render(&value, &context),
                    Err(error) => {
                        tracing::warn!(
                            "target {} of rule {} of {stack}: {error}",
                            target.id,
                            rule.name
                        );
                        continue;
                    }
                };
                deliver(platform, stack, target, payload).await?;
            }
            for target in &rule.message_targets {
                let context = RuleContext {
                    rule_name: &rule.name,
                    rule_arn: &rule.arn,
                    ingestion_time,
                };
                let payload = match input_of(&target.id, &target.input) {
                    Ok(input) => input.render(&value, &context),
                    Err(error) => {
                        tracing::warn!(
                            "target {} of rule {} of {stack}: {error}",
                            target.id,
                            rule.name
                        );
                        continue;
                    }
                };
                let message = crate::messaging::Message {
                    body: payload,
                    group_id: target.message_group_id.clone(),
                    subject: None,
                };
                platform.send_to(&target.arn, message).await?;
            }
        }
    }
    Ok(())
}

fn target_input(
    target: &template::EventRuleTarget,
) -> Result<TargetInput, serverful_eventbridge::input::InputError> {
    input_of(&target.id, &target.input)
}

fn input_of(
    id: &str,
    input: &template::EventTargetInput,
) -> Result<TargetInput, serverful_eventbridge::input::InputError> {
    match input {
        template::EventTargetInput::Event => Ok(TargetInput::Event),
        template::EventTargetInput::Constant(text) => TargetInput::new(id, Some(text), None, None),
        template::EventTargetInput::Path(path) => TargetInput::new(id, None, Some(path), None),
        template::EventTargetInput::Transformer { paths, template } => {
            TargetInput::new(id, None, None, Some((paths.as_slice(), template)))
        }
    }
}

/// Queues one target's input as an asynchronous invocation of its function.
async fn deliver(
    platform: &Arc<Platform>,
    stack: &str,
    target: &template::EventRuleTarget,
    payload: String,
) -> Result<(), String> {
    // Lambda takes JSON: a template that renders plain text reaches it as a JSON string.
    let payload = if serde_json::from_str::<serde::de::IgnoredAny>(&payload).is_ok() {
        payload
    } else {
        Value::String(payload).to_string()
    };
    let function = &target.function;
    let Some(queue) = platform.config().async_invocations.clone() else {
        // No queue (`serverful invoke`): run in the background, unretried.
        let mut reference = serverful_invoke::FunctionRef::new(stack, function.as_str())
            .with_trigger(crate::records::ASYNC);
        if let Some(qualifier) = &target.qualifier {
            reference = reference.with_qualifier(qualifier.as_str());
        }
        let platform = platform.clone();
        tokio::spawn(async move {
            if let Err(error) = platform.invoke(&reference, Bytes::from(payload)).await {
                tracing::warn!("EventBridge delivery to {reference} failed: {error}");
            }
        });
        return Ok(());
    };
    queue
        .submit(
            uuid::Uuid::new_v4().to_string(),
            stack,
            function,
            target.qualifier.as_deref(),
            Bytes::from(payload),
        )
        .await
        .map(|_| ())
        .map_err(|error| {
            tracing::error!(
                "failed to queue an EventBridge delivery to {stack}/{function}: {error}"
            );
            format!("the event could not be queued: {error}")
        })
}

fn test_event_pattern(body: &Value) -> Result<Value, AwsError> {
    let pattern_text = body
        .get("EventPattern")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("EventPattern"))?;
    let event_text = body
        .get("Event")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("Event"))?;
    let pattern = EventPattern::parse(pattern_text)
        .map_err(|error| AwsError::coral(error.aws_code(), error.to_string()))?;
    let event: Value = match serde_json::from_str(event_text) {
        Ok(event @ Value::Object(_)) => event,
        _ => {
            return Err(AwsError::validation(
                "Parameter Event is not valid. Reason: the event is not a JSON object.",
            ))
        }
    };
    // As AWS: the event must carry the envelope's fields.
    for field in ["id", "account", "source", "time", "region", "detail-type"] {
        if event.get(field).is_none() {
            return Err(AwsError::validation(format!(
                "Parameter Event is not valid. Reason: Provided Event must have mandatory field {field}."
            )));
        }
    }
    Ok(json!({"Result": pattern.matches(&event)}))
}

fn missing(parameter: &str) -> AwsError {
    AwsError::validation(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
        lower_first(parameter)
    ))
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The rules a caller may see (the master keys: every stack's; a stack's keys: its own).
fn visible_rules(platform: &Platform, principal: &Principal) -> Vec<template::EventRule> {
    let stack = caller_stack(principal);
    platform
        .current_versions()
        .iter()
        .filter(|version| stack.is_none_or(|stack| version.record.stack == stack))
        .flat_map(|version| version.app.event_rules.clone())
        .collect()
}

fn rule_json(rule: &template::EventRule, account_id: &str, full: bool) -> Value {
    let mut object = Map::new();
    object.insert("Name".to_owned(), rule.name.clone().into());
    object.insert("Arn".to_owned(), rule.arn.clone().into());
    object.insert("EventPattern".to_owned(), rule.event_pattern.clone().into());
    object.insert(
        "State".to_owned(),
        if rule.enabled { "ENABLED" } else { "DISABLED" }.into(),
    );
    if let Some(description) = &rule.description {
        object.insert("Description".to_owned(), description.clone().into());
    }
    object.insert(
        "EventBusName".to_owned(),
        rule.event_bus_name.clone().into(),
    );
    if full {
        object.insert("CreatedBy".to_owned(), account_id.into());
    }
    Value::Object(object)
}

fn list_rules(platform: &Platform, request: &JsonRequest, body: &Value) -> Value {
    let bus = bus_name(body.get("EventBusName").and_then(Value::as_str));
    let prefix = body.get("NamePrefix").and_then(Value::as_str).unwrap_or("");
    let account_id = &platform.config().account_id;
    let mut rules: Vec<Value> = visible_rules(platform, &request.principal)
        .iter()
        .filter(|rule| rule.event_bus_name == bus && rule.name.starts_with(prefix))
        .map(|rule| rule_json(rule, account_id, false))
        .collect();
    rules.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
    json!({ "Rules": rules })
}

fn describe_rule(
    platform: &Platform,
    request: &JsonRequest,
    body: &Value,
) -> Result<Value, AwsError> {
    let name = body
        .get("Name")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("Name"))?;
    let bus = bus_name(body.get("EventBusName").and_then(Value::as_str));
    visible_rules(platform, &request.principal)
        .iter()
        .find(|rule| rule.name == name && rule.event_bus_name == bus)
        .map(|rule| rule_json(rule, &platform.config().account_id, true))
        .ok_or_else(|| {
            AwsError::coral(
                "ResourceNotFoundException",
                format!("Rule {name} does not exist on EventBus {bus}."),
            )
        })
}

/// Puts an asynchronous invocation's record on an EventBridge bus, as Lambda does for an
/// `EventBridge` destination: source `lambda`, detail-type `Lambda Function Invocation
/// Result - Success` (or `- Failure`), the bus's and the function version's ARNs as
/// resources, the record as the detail. The bus's rules then route it like any event.
pub(crate) async fn put_destination_record(
    platform: &Arc<Platform>,
    bus_arn: &str,
    record: &[u8],
) -> Result<(), String> {
    let bus = bus_arn
        .rsplit_once(":event-bus/")
        .map(|(_, name)| name.to_owned())
        .ok_or_else(|| format!("{bus_arn} is not an event bus ARN"))?;
    let detail: Map<String, Value> = serde_json::from_slice(record)
        .map_err(|error| format!("the invocation record is not a JSON object: {error}"))?;
    let succeeded = detail
        .get("requestContext")
        .and_then(|context| context.get("condition"))
        .and_then(Value::as_str)
        == Some("Success");
    let function_arn = detail
        .get("requestContext")
        .and_then(|context| context.get("functionArn"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let detail_type = if succeeded {
        "Lambda Function Invocation Result - Success"
    } else {
        "Lambda Function Invocation Result - Failure"
    };
    put_service_event(
        platform,
        &bus,
        "lambda",
        detail_type,
        detail,
        vec![bus_arn.to_owned(), function_arn],
    )
    .await
}

/// Puts an event an AWS service sends (`source` such as `lambda` or `aws.s3`) on the bus
/// `bus`, whose rules then route it like any event.
pub(crate) async fn put_service_event(
    platform: &Arc<Platform>,
    bus: &str,
    source: &str,
    detail_type: &str,
    detail: Map<String, Value>,
    resources: Vec<String>,
) -> Result<(), String> {
    let entry = PutEventsEntry {
        source: Some(source.to_owned()),
        detail_type: Some(detail_type.to_owned()),
        detail: Some(Value::Object(detail.clone()).to_string()),
        resources,
        time: None,
        event_bus_name: Some(bus.to_owned()),
        trace_header: None,
    };
    let config = platform.config();
    let now = OffsetDateTime::now_utc();
    let id = uuid::Uuid::new_v4().to_string();
    let event = Event::from_entry(
        &entry,
        detail,
        &EnvelopeContext {
            id: &id,
            account: &config.account_id,
            region: &config.region,
            now,
        },
    );
    let versions = platform.current_versions();
    route(
        platform,
        &versions,
        bus,
        &event,
        &put_events::format_time(now),
    )
    .await
}
