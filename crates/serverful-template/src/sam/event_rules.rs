//! Event-pattern rules and buses: SAM's `EventBridgeRule` and `CloudWatchEvent` events,
//! `AWS::Events::Rule` resources with an `EventPattern` and Lambda targets, and
//! `AWS::Events::EventBus`.
//!
//! Patterns and target inputs are checked here with `serverful-eventbridge`, so a bad one
//! fails the load with the file, the line and AWS's wording.

use serverful_eventbridge::input::TargetInput;
use serverful_eventbridge::EventPattern;

use super::properties::{expect_string, mapping};
use super::{function_events, RawResource};
use crate::event_rules::{
    EventBus, EventRule, EventRuleMessageTarget, EventRuleTarget, EventTargetInput, DEFAULT_BUS,
};
use crate::intrinsics::Resolver;
use crate::model::Function;
use crate::names::{generated_name, NameRule};
use crate::node::{Node, NodeKind, Span};
use crate::{LoadOptions, Problem};

pub(super) const EVENT_BUS: &str = "AWS::Events::EventBus";

/// Rule names: up to 64 characters; CloudFormation's suffix has 12 (as for scheduled rules).
const RULE_NAME: NameRule = NameRule {
    max_len: 64,
    suffix_len: 12,
};

/// Whether an `AWS::Events::Rule` is read here: it has no `ScheduleExpression` (those are
/// `sam::schedules`' rules).
pub(super) fn is_pattern_rule(raw: &RawResource<'_>) -> bool {
    raw.properties
        .and_then(|properties| properties.get("ScheduleExpression"))
        .is_none()
}

/// The `EventBridgeRule` and `CloudWatchEvent` events of one function.
pub(super) fn event_rule_events(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    function: &Function,
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<Vec<EventRule>, Problem> {
    let logical_id = &raw.logical_id;
    let (location, events) = function_events(raw, &["EventBridgeRule", "CloudWatchEvent"])?;
    let mut rules = Vec::new();
    for (event, sam_type) in events {
        let event_name = &event.key;
        let event_location = format!("{location}.{event_name}.Properties");
        let owner = format!("{logical_id}.Events.{event_name}");
        let generated_id = format!("{logical_id}{event_name}");
        let mut pattern = None;
        let mut bus = None;
        let mut name = None;
        let mut enabled = true;
        let mut target_id = format!("{generated_id}LambdaTarget");
        let mut input_fields = InputFields::default();
        if let Some(properties) = event.value.get("Properties") {
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
                    "Pattern" => pattern = Some(read_pattern(&value, &property_location)?),
                    "EventBusName" => bus = Some(bus_name(&value, &property_location)?),
                    "RuleName" if sam_type == "EventBridgeRule" => {
                        name = Some(expect_string(&value, &property_location)?)
                    }
                    "State" => enabled = read_state(&value, &property_location)?,
                    "Input" | "InputPath" => input_fields.read(key, value, &property_location)?,
                    "InputTransformer" if sam_type == "EventBridgeRule" => {
                        input_fields.read(key, value, &property_location)?
                    }
                    "Target" if sam_type == "EventBridgeRule" => {
                        if let Some(id) = value.get("Id") {
                            target_id = expect_string(id, &format!("{property_location}.Id"))?;
                        }
                    }
                    other => unsupported.push(format!("{owner}.{other}")),
                }
            }
        }
        let Some((pattern, span)) = pattern else {
            return Err(Problem::at(
                event.key_span,
                format!("{event_location}.Pattern: missing; write the event pattern to match, such as {{source: [my.app]}}"),
            ));
        };
        let input = input_fields.check(&target_id, &event_location)?;
        let name =
            name.unwrap_or_else(|| generated_name(&options.stack_name, &generated_id, RULE_NAME));
        rules.push(rule(
            generated_id,
            name,
            bus,
            None,
            (pattern, span),
            enabled,
            (
                vec![EventRuleTarget {
                    id: target_id,
                    function: logical_id.clone(),
                    qualifier: function.auto_publish_alias.clone(),
                    input,
                }],
                Vec::new(),
            ),
            options,
        ));
    }
    Ok(rules)
}

/// An `AWS::Events::Rule` with an `EventPattern` (see [`is_pattern_rule`]).
pub(super) fn pattern_rule(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    functions: &[Function],
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<EventRule, Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let mut pattern = None;
    let mut bus = None;
    let mut name = None;
    let mut description = None;
    let mut enabled = true;
    let mut targets = (Vec::new(), Vec::new());
    if let Some(properties) = raw.properties {
        for entry in mapping(properties, &location)? {
            let key = entry.key.as_str();
            let property_location = format!("{location}.{key}");
            if key == "RoleArn" {
                continue;
            }
            let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            match key {
                "EventPattern" => pattern = Some(read_pattern(&value, &property_location)?),
                "EventBusName" => bus = Some(bus_name(&value, &property_location)?),
                "Name" => name = Some(expect_string(&value, &property_location)?),
                "Description" => description = Some(expect_string(&value, &property_location)?),
                "State" => enabled = read_state(&value, &property_location)?,
                "Targets" => {
                    targets = read_targets(
                        &value,
                        &property_location,
                        logical_id,
                        functions,
                        unsupported,
                    )?
                }
                other => unsupported.push(format!("{logical_id}.{other}")),
            }
        }
    }
    let Some((pattern, span)) = pattern else {
        return Err(Problem::at(
            raw.key_span,
            format!(
                "{location}: an AWS::Events::Rule needs an EventPattern or a ScheduleExpression"
            ),
        ));
    };
    let name = name.unwrap_or_else(|| generated_name(&options.stack_name, logical_id, RULE_NAME));
    Ok(rule(
        logical_id.clone(),
        name,
        bus,
        description,
        (pattern, span),
        enabled,
        targets,
        options,
    ))
}

/// An `AWS::Events::EventBus`.
pub(super) fn event_bus(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<EventBus, Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let mut name = None;
    if let Some(properties) = raw.properties {
        for entry in mapping(properties, &location)? {
            let key = entry.key.as_str();
            let property_location = format!("{location}.{key}");
            let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
                continue;
            };
            match key {
                "Name" => name = Some((expect_string(&value, &property_location)?, value.span)),
                // Tags and descriptions change nothing locally.
                "Tags" | "Description" => {}
                other => unsupported.push(format!("{logical_id}.{other}")),
            }
        }
    }
    let Some((name, span)) = name else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.Name: missing; an event bus needs a Name"),
        ));
    };
    if name == DEFAULT_BUS {
        return Err(Problem::at(
            span,
            format!(
                "{location}.Name: the default event bus already exists; give the bus another name"
            ),
        ));
    }
    Ok(EventBus {
        logical_id: logical_id.clone(),
        arn: format!(
            "arn:aws:events:{}:{}:event-bus/{name}",
            options.region, options.account_id
        ),
        name,
    })
}

#[expect(
    clippy::too_many_arguments,
    reason = "the parts of a rule, each read apart"
)]
fn rule(
    logical_id: String,
    name: String,
    bus: Option<String>,
    description: Option<String>,
    (event_pattern, span): (String, Span),
    enabled: bool,
    (targets, message_targets): (Vec<EventRuleTarget>, Vec<EventRuleMessageTarget>),
    options: &LoadOptions,
) -> EventRule {
    let event_bus_name = bus.unwrap_or_else(|| DEFAULT_BUS.to_owned());
    let path = if event_bus_name == DEFAULT_BUS {
        name.clone()
    } else {
        format!("{event_bus_name}/{name}")
    };
    EventRule {
        logical_id,
        arn: format!(
            "arn:aws:events:{}:{}:rule/{path}",
            options.region, options.account_id
        ),
        name,
        event_bus_name,
        description,
        event_pattern,
        enabled,
        targets,
        message_targets,
        line: span.line,
    }
}

/// A pattern (a mapping, or JSON text), checked as `PutRule` checks it.
fn read_pattern(node: &Node, location: &str) -> Result<(String, Span), Problem> {
    let text = if node.as_mapping().is_some() {
        node.to_json().to_string()
    } else {
        expect_string(node, location)?
    };
    EventPattern::parse(&text)
        .map_err(|error| Problem::at(node.span, format!("{location}: {error}")))?;
    Ok((text, node.span))
}

/// A bus's name, or its ARN (`arn:aws:events:REGION:ACCOUNT:event-bus/NAME`) reduced to it.
fn bus_name(node: &Node, location: &str) -> Result<String, Problem> {
    let text = expect_string(node, location)?;
    Ok(match text.split_once(":event-bus/") {
        Some((_, name)) => name.to_owned(),
        None => text,
    })
}

fn read_state(node: &Node, location: &str) -> Result<bool, Problem> {
    match expect_string(node, location)?.as_str() {
        "ENABLED" | "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" => Ok(true),
        "DISABLED" => Ok(false),
        other => Err(Problem::at(
            node.span,
            format!("{location}: '{other}' is not a state; use ENABLED or DISABLED"),
        )),
    }
}

/// A target's `Input`, `InputPath` and `InputTransformer`, as written.
#[derive(Default)]
struct InputFields {
    input: Option<String>,
    path: Option<String>,
    transformer: Option<(Vec<(String, String)>, String)>,
    span: Option<Span>,
}

impl InputFields {
    fn read(&mut self, key: &str, value: Node, location: &str) -> Result<(), Problem> {
        self.span.get_or_insert(value.span);
        match key {
            "Input" => {
                self.input = Some(if value.as_mapping().is_some() {
                    value.to_json().to_string()
                } else {
                    expect_string(&value, location)?
                })
            }
            "InputPath" => self.path = Some(expect_string(&value, location)?),
            _ => {
                let mut paths = Vec::new();
                let mut template = None;
                for entry in mapping(&value, location)? {
                    let entry_location = format!("{location}.{}", entry.key);
                    match entry.key.as_str() {
                        "InputPathsMap" => {
                            for path in mapping(&entry.value, &entry_location)? {
                                let path_location = format!("{entry_location}.{}", path.key);
                                paths.push((path.key.clone(), expect_string(&path.value, &path_location)?));
                            }
                        }
                        "InputTemplate" => template = Some(expect_string(&entry.value, &entry_location)?),
                        other => {
                            return Err(Problem::at(
                                entry.key_span,
                                format!("{location}: unknown property {other}; use InputPathsMap and InputTemplate"),
                            ))
                        }
                    }
                }
                let Some(template) = template else {
                    return Err(Problem::at(
                        value.span,
                        format!("{location}.InputTemplate: missing; write the text the target receives, with <name> for each InputPathsMap entry"),
                    ));
                };
                self.transformer = Some((paths, template));
            }
        }
        Ok(())
    }

    /// Checks the settings as `PutTargets` does.
    fn check(self, target_id: &str, location: &str) -> Result<EventTargetInput, Problem> {
        let transformer = self
            .transformer
            .as_ref()
            .map(|(paths, template)| (paths.as_slice(), template.as_str()));
        if let Err(error) = TargetInput::new(
            target_id,
            self.input.as_deref(),
            self.path.as_deref(),
            transformer,
        ) {
            let span = self.span.unwrap_or_default();
            return Err(Problem::at(span, format!("{location}: {error}")));
        }
        Ok(match (self.input, self.path, self.transformer) {
            (Some(input), _, _) => EventTargetInput::Constant(input),
            (_, Some(path), _) => EventTargetInput::Path(path),
            (_, _, Some((paths, template))) => EventTargetInput::Transformer { paths, template },
            _ => EventTargetInput::Event,
        })
    }
}

/// `Targets`: each function, queue or topic target with its input; other services'
/// targets are unsupported.
fn read_targets(
    node: &Node,
    location: &str,
    logical_id: &str,
    functions: &[Function],
    unsupported: &mut Vec<String>,
) -> Result<(Vec<EventRuleTarget>, Vec<EventRuleMessageTarget>), Problem> {
    let NodeKind::Sequence(items) = &node.kind else {
        return Err(Problem::at(
            node.span,
            format!(
                "{location}: expected a list of targets, found {}",
                node.describe()
            ),
        ));
    };
    let mut targets = Vec::new();
    let mut message_targets = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let target_location = format!("{location}[{index}]");
        let mut arn = None;
        let mut id = None;
        let mut message_group_id = None;
        let mut input_fields = InputFields::default();
        for entry in mapping(item, &target_location)? {
            let key = entry.key.as_str();
            let property_location = format!("{target_location}.{key}");
            match key {
                "Arn" => {
                    arn = Some((
                        expect_string(&entry.value, &property_location)?,
                        entry.value.span,
                    ))
                }
                "Id" => id = Some(expect_string(&entry.value, &property_location)?),
                "Input" | "InputPath" | "InputTransformer" => {
                    input_fields.read(key, entry.value.clone(), &property_location)?
                }
                "RoleArn" => {}
                "SqsParameters" => {
                    if let Some(group) = entry.value.get("MessageGroupId") {
                        message_group_id = Some(expect_string(
                            group,
                            &format!("{property_location}.MessageGroupId"),
                        )?);
                    }
                }
                other => unsupported.push(format!("{logical_id}.Targets[{index}].{other}")),
            }
        }
        let Some((arn, span)) = arn else {
            return Err(Problem::at(
                item.span,
                format!(
                    "{target_location}.Arn: missing; name the function with !GetAtt MyFunction.Arn"
                ),
            ));
        };
        let Some(id) = id else {
            return Err(Problem::at(
                item.span,
                format!("{target_location}.Id: missing; give the target an Id"),
            ));
        };
        let Some((function, qualifier)) =
            lambda_function(&arn, span, functions, &format!("{target_location}.Arn"))?
        else {
            if arn.starts_with("arn:aws:sqs:") || arn.starts_with("arn:aws:sns:") {
                let input = input_fields.check(&id, &target_location)?;
                message_targets.push(EventRuleMessageTarget {
                    id,
                    arn,
                    input,
                    message_group_id,
                });
            } else {
                unsupported.push(format!("{logical_id}.Targets[{index}] ({arn})"));
            }
            continue;
        };
        let input = input_fields.check(&id, &target_location)?;
        targets.push(EventRuleTarget {
            id,
            function,
            qualifier,
            input,
        });
    }
    Ok((targets, message_targets))
}

/// The function a Lambda ARN names and its qualifier; `None` for another service's ARN.
fn lambda_function(
    arn: &str,
    span: Span,
    functions: &[Function],
    location: &str,
) -> Result<Option<(String, Option<String>)>, Problem> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 7 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" {
        return Ok(None);
    }
    let qualifier = parts.get(7).map(|qualifier| (*qualifier).to_owned());
    match functions.iter().find(|function| function.name == parts[6]) {
        Some(function) => Ok(Some((function.logical_id.clone(), qualifier))),
        None => Err(Problem::at(
            span,
            format!("{location}: {arn} is not a function of this template; name one with !GetAtt MyFunction.Arn"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::{load_str, App, EventTargetInput, LoadOptions};

    fn load(template: &str) -> Result<App, String> {
        let options = LoadOptions {
            stack_name: "demo".to_owned(),
            ..LoadOptions::default()
        };
        load_str(template, Path::new("/app/template.yaml"), &options)
            .map_err(|error| error.to_string())
    }

    const HEADER: &str = "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: app.handler\n      FunctionName: fn\n";

    #[test]
    fn sam_event_bridge_rule_and_cloudwatch_event() {
        let template = format!(
            "{HEADER}      Events:\n        Orders:\n          Type: EventBridgeRule\n          Properties:\n            Pattern:\n              source: [shop.orders]\n              detail:\n                amount: [{{numeric: ['>', 10]}}]\n            RuleName: orders-rule\n            EventBusName: !Ref Bus\n            InputTransformer:\n              InputPathsMap:\n                id: $.detail.id\n              InputTemplate: '{{\"order\": <id>}}'\n        Legacy:\n          Type: CloudWatchEvent\n          Properties:\n            Pattern: '{{\"source\": [\"legacy\"]}}'\n            InputPath: $.detail\n            State: DISABLED\n  Bus:\n    Type: AWS::Events::EventBus\n    Properties:\n      Name: shop\n"
        );
        let app = load(&template).expect("loads");
        assert_eq!(app.event_buses.len(), 1);
        assert_eq!(app.event_buses[0].name, "shop");
        assert_eq!(app.event_rules.len(), 2);
        let orders = &app.event_rules[0];
        assert_eq!(orders.logical_id, "FnOrders");
        assert_eq!(orders.name, "orders-rule");
        assert_eq!(orders.event_bus_name, "shop");
        assert_eq!(
            orders.arn,
            "arn:aws:events:us-east-1:123456789012:rule/shop/orders-rule"
        );
        assert!(orders.enabled);
        assert_eq!(orders.targets[0].id, "FnOrdersLambdaTarget");
        assert_eq!(orders.targets[0].function, "Fn");
        assert_eq!(
            orders.targets[0].input,
            EventTargetInput::Transformer {
                paths: vec![("id".to_owned(), "$.detail.id".to_owned())],
                template: "{\"order\": <id>}".to_owned(),
            }
        );
        let legacy = &app.event_rules[1];
        assert_eq!(legacy.event_bus_name, "default");
        assert!(!legacy.enabled);
        assert!(legacy.name.starts_with("demo-FnLegacy-"));
        assert_eq!(
            legacy.targets[0].input,
            EventTargetInput::Path("$.detail".to_owned())
        );
        assert!(app.unsupported.is_empty(), "{:?}", app.unsupported);
    }

    #[test]
    fn events_rule_resource_with_targets() {
        let template = format!(
            "{HEADER}  Rule:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern:\n        detail-type: [Created]\n      Targets:\n        - Id: one\n          Arn: !GetAtt Fn.Arn\n          Input: '{{\"fixed\": true}}'\n        - Id: two\n          Arn: arn:aws:sqs:us-east-1:123456789012:q\n"
        );
        let app = load(&template).expect("loads");
        let rule = &app.event_rules[0];
        assert_eq!(rule.logical_id, "Rule");
        assert_eq!(rule.targets.len(), 1);
        assert_eq!(rule.targets[0].id, "one");
        assert_eq!(
            rule.targets[0].input,
            EventTargetInput::Constant("{\"fixed\": true}".to_owned())
        );
        assert_eq!(rule.event_pattern, r#"{"detail-type":["Created"]}"#);
        assert_eq!(rule.message_targets.len(), 1);
        assert_eq!(
            rule.message_targets[0].arn,
            "arn:aws:sqs:us-east-1:123456789012:q"
        );
        assert_eq!(rule.message_targets[0].input, EventTargetInput::Event);
        assert!(app.unsupported.is_empty(), "{:?}", app.unsupported);
        assert!(app.schedules.is_empty());
    }

    #[test]
    fn invalid_pattern_fails_with_line_and_aws_wording() {
        let template = format!(
            "{HEADER}  Rule:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern:\n        source: shop\n      Targets:\n        - Id: one\n          Arn: !GetAtt Fn.Arn\n"
        );
        let error = load(&template).expect_err("the pattern is refused");
        assert!(error.starts_with("/app/template.yaml:13:"), "{error}");
        assert!(
            error.contains(
                "Resources.Rule.Properties.EventPattern: Event pattern is not valid. Reason: "
            ),
            "{error}"
        );
    }

    #[test]
    fn two_input_settings_are_refused() {
        let template = format!(
            "{HEADER}      Events:\n        Orders:\n          Type: EventBridgeRule\n          Properties:\n            Pattern: {{source: [a]}}\n            Input: '{{}}'\n            InputPath: $.detail\n"
        );
        let error = load(&template).expect_err("refused");
        assert!(
            error.contains("Only one of Input, InputPath, or InputTransformer must be provided for target FnOrdersLambdaTarget."),
            "{error}"
        );
    }
}
