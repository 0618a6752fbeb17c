//! Schedules that invoke functions: SAM's `Schedule` events (an EventBridge rule) and
//! `ScheduleV2` events (an EventBridge Scheduler schedule), `AWS::Events::Rule` resources
//! with a `ScheduleExpression` and Lambda targets, and `AWS::Scheduler::Schedule`
//! resources with a Lambda target.
//!
//! Expressions, time zones and dates are checked here with `serverful-schedule`, so a bad
//! one fails the load with the file, the line and AWS's wording.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serverful_schedule::{parse_time_zone, Schedule};

use super::properties::{expect_number, expect_string, mapping};
use super::{function_events, RawResource};
use crate::intrinsics::Resolver;
use crate::model::Function;
use crate::names::{generated_name, NameRule};
use crate::node::{Node, Span};
use crate::schedules::{RetryPolicy, ScheduleKind, ScheduleSource, ScheduleTarget};
use crate::{LoadOptions, Problem};

pub(super) const EVENTS_RULE: &str = "AWS::Events::Rule";
pub(super) const SCHEDULER_SCHEDULE: &str = "AWS::Scheduler::Schedule";

/// EventBridge rule and Scheduler schedule names: up to 64 characters; CloudFormation's
/// suffix for rules has 12.
const RULE_NAME: NameRule = NameRule {
    max_len: 64,
    suffix_len: 12,
};

/// The properties both kinds of schedule share, resolved, with where each was written.
#[derive(Default)]
struct Fields {
    expression: Option<(String, Span)>,
    time_zone: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    input: Option<String>,
    enabled: Option<bool>,
    state: Option<bool>,
    name: Option<String>,
    description: Option<String>,
    flexible_window_minutes: Option<u32>,
    retry_policy: Option<RetryPolicy>,
    omit_name: bool,
}

/// The `Schedule` and `ScheduleV2` events of one function.
pub(super) fn schedule_events(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    function: &Function,
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<Vec<ScheduleSource>, Problem> {
    let logical_id = &raw.logical_id;
    let (location, events) = function_events(raw, &["Schedule", "ScheduleV2"])?;
    let mut schedules = Vec::new();
    for (event, sam_type) in events {
        let kind = if sam_type == "Schedule" {
            ScheduleKind::Rule
        } else {
            ScheduleKind::Scheduler
        };
        let event_name = &event.key;
        let event_location = format!("{location}.{event_name}.Properties");
        let generated_id = format!("{logical_id}{event_name}");
        let (supported, ignored): (&[&str], &[&str]) = match kind {
            ScheduleKind::Rule => (
                &[
                    "Schedule",
                    "Input",
                    "Enabled",
                    "State",
                    "Name",
                    "Description",
                    "RetryPolicy",
                ],
                &[],
            ),
            ScheduleKind::Scheduler => (
                &[
                    "ScheduleExpression",
                    "ScheduleExpressionTimezone",
                    "StartDate",
                    "EndDate",
                    "FlexibleTimeWindow",
                    "Input",
                    "State",
                    "Name",
                    "Description",
                    "RetryPolicy",
                    "OmitName",
                ],
                // Access and encryption settings mean nothing on one machine.
                &["RoleArn", "PermissionsBoundary", "KmsKeyArn", "GroupName"],
            ),
        };
        let fields = read_fields(
            resolver,
            event.value.get("Properties"),
            &event_location,
            &format!("{logical_id}.Events.{event_name}"),
            supported,
            ignored,
            unsupported,
        )?;
        let (expression, span) = fields.expression.clone().ok_or_else(|| {
            let property = match kind {
                ScheduleKind::Rule => "Schedule",
                ScheduleKind::Scheduler => "ScheduleExpression",
            };
            Problem::at(
                event.key_span,
                format!("{event_location}.{property}: missing; write a schedule expression such as rate(5 minutes)"),
            )
        })?;
        let name = match (&fields.name, kind) {
            (Some(name), _) => name.clone(),
            (None, ScheduleKind::Scheduler) if !fields.omit_name => generated_id.clone(),
            (None, _) => generated_name(&options.stack_name, &generated_id, RULE_NAME),
        };
        let target = ScheduleTarget {
            function: logical_id.clone(),
            qualifier: function.auto_publish_alias.clone(),
            input: fields.input.clone(),
        };
        schedules.push(source(
            kind,
            generated_id,
            name,
            (expression, span),
            fields,
            vec![target],
            options,
            &event_location,
        )?);
    }
    Ok(schedules)
}

/// An `AWS::Events::Rule`: `None` when it has no `ScheduleExpression` (an event-pattern
/// rule, read elsewhere).
pub(super) fn events_rule(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    functions: &[Function],
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<Option<ScheduleSource>, Problem> {
    let logical_id = &raw.logical_id;
    let has_expression = raw
        .properties
        .and_then(|properties| properties.get("ScheduleExpression"))
        .is_some();
    if !has_expression {
        return Ok(None);
    }
    let location = format!("Resources.{logical_id}.Properties");
    let mut targets_node = None;
    let fields = read_fields_with(
        resolver,
        raw.properties,
        &location,
        logical_id,
        &["ScheduleExpression", "State", "Name", "Description"],
        &["RoleArn", "EventBusName"],
        unsupported,
        |key, value| {
            if key == "Targets" {
                targets_node = Some(value.clone());
                true
            } else {
                false
            }
        },
    )?;
    let expression = fields.expression.clone().expect("checked above");
    let mut targets = Vec::new();
    if let Some(node) = &targets_node {
        let Some(items) = node_items(node) else {
            return Err(Problem::at(
                node.span,
                format!(
                    "{location}.Targets: expected a list of targets, found {}",
                    node.describe()
                ),
            ));
        };
        for (target_idx, item) in items.iter().enumerate() {
            let target_location = format!("{location}.Targets[{target_idx}]");
            let mut arn = None;
            let mut input = None;
            for entry in mapping(item, &target_location)? {
                let property_location = format!("{target_location}.{}", entry.key);
                match entry.key.as_str() {
                    "Arn" => {
                        arn = Some((
                            expect_string(&entry.value, &property_location)?,
                            entry.value.span,
                        ))
                    }
                    "Input" => input = Some(json_input(&entry.value, &property_location)?),
                    "Id" | "RoleArn" => {}
                    other => {
                        unsupported.push(format!("{logical_id}.Targets[{target_idx}].{other}"))
                    }
                }
            }
            let Some((arn, span)) = arn else {
                return Err(Problem::at(
                    item.span,
                    format!("{target_location}.Arn: missing; name the function with !GetAtt MyFunction.Arn"),
                ));
            };
            match lambda_target(&arn, span, functions, &format!("{target_location}.Arn"))? {
                Some((function, qualifier)) => targets.push(ScheduleTarget {
                    function,
                    qualifier,
                    input,
                }),
                None => unsupported.push(format!("{logical_id}.Targets[{target_idx}] ({arn})")),
            }
        }
    }
    let name = fields
        .name
        .clone()
        .unwrap_or_else(|| generated_name(&options.stack_name, logical_id, RULE_NAME));
    source(
        ScheduleKind::Rule,
        logical_id.clone(),
        name,
        expression,
        fields,
        targets,
        options,
        &location,
    )
    .map(Some)
}

/// An `AWS::Scheduler::Schedule` whose target is a function of the template.
pub(super) fn scheduler_schedule(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    functions: &[Function],
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<ScheduleSource, Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let mut target_node = None;
    let fields = read_fields_with(
        resolver,
        raw.properties,
        &location,
        logical_id,
        &[
            "ScheduleExpression",
            "ScheduleExpressionTimezone",
            "StartDate",
            "EndDate",
            "FlexibleTimeWindow",
            "State",
            "Name",
            "Description",
        ],
        &["GroupName", "KmsKeyArn"],
        unsupported,
        |key, value| {
            if key == "Target" {
                target_node = Some(value.clone());
                true
            } else {
                false
            }
        },
    )?;
    let Some(expression) = fields.expression.clone() else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.ScheduleExpression: missing; write a schedule expression such as rate(5 minutes)"),
        ));
    };
    let Some(target_node) = target_node else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.Target: missing; give the function to invoke as Target: {{Arn: !GetAtt MyFunction.Arn, RoleArn: ...}}"),
        ));
    };
    let target_location = format!("{location}.Target");
    let mut arn = None;
    let mut input = None;
    let mut retry_policy = None;
    for entry in mapping(&target_node, &target_location)? {
        let property_location = format!("{target_location}.{}", entry.key);
        match entry.key.as_str() {
            "Arn" => {
                arn = Some((
                    expect_string(&entry.value, &property_location)?,
                    entry.value.span,
                ))
            }
            "Input" => input = Some(json_input(&entry.value, &property_location)?),
            "RetryPolicy" => {
                retry_policy = Some(read_retry_policy(&entry.value, &property_location)?)
            }
            "RoleArn" => {}
            other => unsupported.push(format!("{logical_id}.Target.{other}")),
        }
    }
    let Some((arn, span)) = arn else {
        return Err(Problem::at(
            target_node.span,
            format!(
                "{target_location}.Arn: missing; name the function with !GetAtt MyFunction.Arn"
            ),
        ));
    };
    let mut targets = Vec::new();
    match lambda_target(&arn, span, functions, &format!("{target_location}.Arn"))? {
        Some((function, qualifier)) => targets.push(ScheduleTarget {
            function,
            qualifier,
            input,
        }),
        None => unsupported.push(format!("{logical_id}.Target ({arn})")),
    }
    let name = fields
        .name
        .clone()
        .unwrap_or_else(|| generated_name(&options.stack_name, logical_id, RULE_NAME));
    let fields = Fields {
        retry_policy: retry_policy.or(fields.retry_policy),
        ..fields
    };
    source(
        ScheduleKind::Scheduler,
        logical_id.clone(),
        name,
        expression,
        fields,
        targets,
        options,
        &location,
    )
}

fn read_fields(
    resolver: &Resolver<'_>,
    properties: Option<&Node>,
    location: &str,
    owner: &str,
    supported: &[&str],
    ignored: &[&str],
    unsupported: &mut Vec<String>,
) -> Result<Fields, Problem> {
    read_fields_with(
        resolver,
        properties,
        location,
        owner,
        supported,
        ignored,
        unsupported,
        |_, _| false,
    )
}

/// Resolves and reads the shared properties; `other` takes the properties only its
/// resource has (and says whether it did).
#[expect(
    clippy::too_many_arguments,
    reason = "one reader for three resource shapes"
)]
fn read_fields_with(
    resolver: &Resolver<'_>,
    properties: Option<&Node>,
    location: &str,
    owner: &str,
    supported: &[&str],
    ignored: &[&str],
    unsupported: &mut Vec<String>,
    mut other: impl FnMut(&str, &Node) -> bool,
) -> Result<Fields, Problem> {
    let mut fields = Fields::default();
    let Some(properties) = properties else {
        return Ok(fields);
    };
    for entry in mapping(properties, location)? {
        let key = entry.key.as_str();
        let property_location = format!("{location}.{key}");
        if ignored.contains(&key) {
            continue;
        }
        let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        if other(key, &value) {
            continue;
        }
        if !supported.contains(&key) {
            unsupported.push(format!("{owner}.{key}"));
            continue;
        }
        match key {
            "Schedule" | "ScheduleExpression" => {
                fields.expression = Some((expect_string(&value, &property_location)?, value.span));
            }
            "ScheduleExpressionTimezone" => {
                let name = expect_string(&value, &property_location)?;
                parse_time_zone(&name).map_err(|error| {
                    Problem::at(value.span, format!("{property_location}: {error}"))
                })?;
                fields.time_zone = Some(name);
            }
            "StartDate" => fields.start_date = Some(read_date(&value, &property_location)?),
            "EndDate" => fields.end_date = Some(read_date(&value, &property_location)?),
            "Input" => fields.input = Some(json_input(&value, &property_location)?),
            "Enabled" => fields.enabled = Some(read_bool(&value, &property_location)?),
            "OmitName" => fields.omit_name = read_bool(&value, &property_location)?,
            "State" => {
                let state = expect_string(&value, &property_location)?;
                fields.state = Some(match state.as_str() {
                    "ENABLED" | "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" => true,
                    "DISABLED" => false,
                    other => {
                        return Err(Problem::at(
                            value.span,
                            format!("{property_location}: '{other}' is not a state; use ENABLED or DISABLED"),
                        ))
                    }
                });
            }
            "Name" => fields.name = Some(expect_string(&value, &property_location)?),
            "Description" => fields.description = Some(expect_string(&value, &property_location)?),
            "FlexibleTimeWindow" => {
                fields.flexible_window_minutes = read_window(&value, &property_location)?
            }
            "RetryPolicy" => {
                fields.retry_policy = Some(read_retry_policy(&value, &property_location)?)
            }
            _ => unsupported.push(format!("{owner}.{key}")),
        }
    }
    Ok(fields)
}

/// Checks the expression and dates and puts the schedule together.
#[expect(
    clippy::too_many_arguments,
    reason = "the parts of a schedule, each read apart"
)]
fn source(
    kind: ScheduleKind,
    logical_id: String,
    name: String,
    (expression, span): (String, Span),
    fields: Fields,
    targets: Vec<ScheduleTarget>,
    options: &LoadOptions,
    location: &str,
) -> Result<ScheduleSource, Problem> {
    let property = match kind {
        ScheduleKind::Rule if location.contains(".Events.") => "Schedule",
        _ => "ScheduleExpression",
    };
    let parsed = Schedule::parse(&expression)
        .map_err(|error| Problem::at(span, format!("{location}.{property}: {error}")))?;
    if kind == ScheduleKind::Rule && matches!(parsed, Schedule::At(_)) {
        return Err(Problem::at(
            span,
            format!("{location}.{property}: Parameter ScheduleExpression is not valid. `{expression}`: EventBridge rules take rate(...) and cron(...) only; a one-time at(...) schedule needs EventBridge Scheduler (a ScheduleV2 event or AWS::Scheduler::Schedule)"),
        ));
    }
    if let (Some(start), Some(end)) = (&fields.start_date, &fields.end_date) {
        if start > end {
            return Err(Problem::at(
                span,
                format!("{location}.EndDate: Parameter EndDate is not valid. The EndDate {end} must not be before the StartDate {start}"),
            ));
        }
    }
    if fields.enabled.is_some() && fields.state.is_some() {
        return Err(Problem::at(
            span,
            format!("{location}: set either Enabled or State, not both"),
        ));
    }
    let arn = match kind {
        ScheduleKind::Rule => format!(
            "arn:aws:events:{}:{}:rule/{name}",
            options.region, options.account_id
        ),
        ScheduleKind::Scheduler => format!(
            "arn:aws:scheduler:{}:{}:schedule/default/{name}",
            options.region, options.account_id
        ),
    };
    Ok(ScheduleSource {
        logical_id,
        kind,
        name,
        arn,
        description: fields.description,
        expression,
        time_zone: fields.time_zone,
        start_date: fields.start_date,
        end_date: fields.end_date,
        enabled: fields.state.or(fields.enabled).unwrap_or(true),
        flexible_window_minutes: fields.flexible_window_minutes,
        retry_policy: fields.retry_policy,
        targets,
        line: span.line,
    })
}

/// The function an ARN names (`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`)
/// and its qualifier; `None` for another service's ARN.
fn lambda_target(
    arn: &str,
    span: Span,
    functions: &[Function],
    location: &str,
) -> Result<Option<(String, Option<String>)>, Problem> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 7 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" {
        return Ok(None);
    }
    let name = parts[6];
    let qualifier = parts.get(7).map(|qualifier| (*qualifier).to_owned());
    match functions.iter().find(|function| function.name == name) {
        Some(function) => Ok(Some((function.logical_id.clone(), qualifier))),
        None => Err(Problem::at(
            span,
            format!("{location}: {arn} is not a function of this template; name one with !GetAtt MyFunction.Arn"),
        )),
    }
}

/// `Input`: JSON text, as AWS requires (a YAML mapping is taken as the JSON it spells).
fn json_input(node: &Node, location: &str) -> Result<String, Problem> {
    if node.as_mapping().is_some() {
        return Ok(node.to_json().to_string());
    }
    let text = expect_string(node, location)?;
    serde_json::from_str::<serde_json::Value>(&text).map_err(|error| {
        Problem::at(
            node.span,
            format!("{location}: Input must be valid JSON text ({error})"),
        )
    })?;
    Ok(text)
}

fn read_bool(node: &Node, location: &str) -> Result<bool, Problem> {
    match node.as_scalar() {
        Some("true" | "True" | "TRUE") => Ok(true),
        Some("false" | "False" | "FALSE") => Ok(false),
        _ => Err(Problem::at(
            node.span,
            format!(
                "{location}: expected true or false, found {}",
                node.describe()
            ),
        )),
    }
}

/// A timestamp such as `2025-06-01T00:00:00Z` (UTC when it has no offset), as RFC 3339 in UTC.
fn read_date(node: &Node, location: &str) -> Result<String, Problem> {
    let text = expect_string(node, location)?;
    let instant = DateTime::parse_from_rfc3339(&text)
        .map(|instant| instant.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
                .map(|local| local.and_utc())
        })
        .map_err(|_| {
            Problem::at(
                node.span,
                format!("{location}: '{text}' is not a timestamp; write one such as 2025-06-01T00:00:00Z"),
            )
        })?;
    Ok(instant.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn read_window(node: &Node, location: &str) -> Result<Option<u32>, Problem> {
    let mut mode = None;
    let mut maximum = None;
    for entry in mapping(node, location)? {
        let property_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "Mode" => {
                mode = Some((
                    expect_string(&entry.value, &property_location)?,
                    entry.value.span,
                ))
            }
            "MaximumWindowInMinutes" => {
                maximum = Some(expect_number(&entry.value, &property_location, 1..=1440)?)
            }
            other => {
                return Err(Problem::at(
                    entry.key_span,
                    format!(
                        "{location}: unknown property {other}; use Mode and MaximumWindowInMinutes"
                    ),
                ))
            }
        }
    }
    match mode {
        Some((mode, _)) if mode == "OFF" => Ok(None),
        Some((mode, span)) if mode == "FLEXIBLE" => maximum.map(Some).ok_or_else(|| {
            Problem::at(
                span,
                format!("{location}.MaximumWindowInMinutes: required when Mode is FLEXIBLE; use 1 to 1440"),
            )
        }),
        Some((mode, span)) => Err(Problem::at(
            span,
            format!("{location}.Mode: '{mode}' is not a mode; use OFF or FLEXIBLE"),
        )),
        None => Err(Problem::at(
            node.span,
            format!("{location}.Mode: missing; use OFF or FLEXIBLE"),
        )),
    }
}

fn read_retry_policy(node: &Node, location: &str) -> Result<RetryPolicy, Problem> {
    let mut policy = RetryPolicy::DEFAULT;
    for entry in mapping(node, location)? {
        let property_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "MaximumRetryAttempts" => {
                policy.maximum_retry_attempts = expect_number(&entry.value, &property_location, 0..=185)?;
            }
            "MaximumEventAgeInSeconds" => {
                policy.maximum_event_age_secs = expect_number(&entry.value, &property_location, 60..=86_400)?;
            }
            other => {
                return Err(Problem::at(
                    entry.key_span,
                    format!("{location}: unknown property {other}; use MaximumRetryAttempts and MaximumEventAgeInSeconds"),
                ))
            }
        }
    }
    Ok(policy)
}

fn node_items(node: &Node) -> Option<&[Node]> {
    match &node.kind {
        crate::node::NodeKind::Sequence(items) if node.tag.is_none() => Some(items),
        _ => None,
    }
}
