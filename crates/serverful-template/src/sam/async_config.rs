//! Asynchronous invocation settings: a function's `EventInvokeConfig` property (SAM) and
//! `AWS::Lambda::EventInvokeConfig` resources, with Lambda's own validation wording.

use super::properties::{expect_string, mapping, resolved_properties, PropertyRules};
use super::RawResource;
use crate::intrinsics::Resolver;
use crate::model::{AsyncDestination, EventInvokeConfig, Function};
use crate::node::Node;
use crate::Problem;

pub(super) const LAMBDA_EVENT_INVOKE_CONFIG: &str = "AWS::Lambda::EventInvokeConfig";

/// The destination types SAM's `DestinationConfig` takes.
const DESTINATION_TYPES: &[&str] = &["SQS", "SNS", "Lambda", "EventBridge", "S3Bucket"];

const RESOURCE_PROPERTIES: PropertyRules<'static> = PropertyRules {
    supported: &[
        "FunctionName",
        "Qualifier",
        "MaximumRetryAttempts",
        "MaximumEventAgeInSeconds",
        "DestinationConfig",
    ],
    ignored: &[],
};

/// What `MaximumRetryAttempts`, `MaximumEventAgeInSeconds` and `DestinationConfig` say,
/// shared by the property and the resource.
#[derive(Default)]
struct Settings {
    maximum_retry_attempts: Option<u32>,
    maximum_event_age_secs: Option<u32>,
    on_success: Option<AsyncDestination>,
    on_failure: Option<AsyncDestination>,
}

/// Lambda's check of a number, in its words ("1 validation error detected: Value '5' at
/// 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than
/// or equal to 2"), after the place in the template.
fn lambda_number(
    node: &Node,
    location: &str,
    member: &str,
    min: i64,
    max: i64,
) -> Result<u32, Problem> {
    let text = node.as_scalar().unwrap_or_default().trim().to_owned();
    let Ok(number) = text.parse::<i64>() else {
        return Err(Problem::at(
            node.span,
            format!(
                "{location}: expected a whole number, found {}",
                node.describe()
            ),
        ));
    };
    let constraint = if number < min {
        format!("greater than or equal to {min}")
    } else if number > max {
        format!("less than or equal to {max}")
    } else {
        return Ok(u32::try_from(number).unwrap_or_default());
    };
    Err(Problem::at(
        node.span,
        format!("{location}: 1 validation error detected: Value '{number}' at '{member}' failed to satisfy constraint: Member must have value {constraint}"),
    ))
}

/// One `OnSuccess`/`OnFailure`: `Destination` (an ARN) and, in SAM, `Type`.
fn destination(
    node: &Node,
    location: &str,
    sam: bool,
) -> Result<Option<AsyncDestination>, Problem> {
    let arn = match node.get("Destination") {
        Some(value) => expect_string(value, &format!("{location}.Destination"))?,
        None if sam => {
            // SAM makes a queue or topic itself when only the type is given.
            return Err(Problem::at(
                node.span,
                format!("{location}.Destination: missing; give the destination's ARN (a queue or topic SAM creates is not supported yet)"),
            ));
        }
        None => {
            return Err(Problem::at(
                node.span,
                format!("{location}.Destination: missing; give the destination's ARN"),
            ))
        }
    };
    let from_arn = match arn.split(':').nth(2) {
        Some("lambda") => Some("Lambda"),
        Some("events") => Some("EventBridge"),
        Some("sqs") => Some("SQS"),
        Some("sns") => Some("SNS"),
        Some("s3") => Some("S3Bucket"),
        _ => None,
    };
    let kind = match node.get("Type") {
        Some(value) if sam => {
            let kind = expect_string(value, &format!("{location}.Type"))?;
            if !DESTINATION_TYPES.contains(&kind.as_str()) {
                return Err(Problem::at(
                    value.span,
                    format!(
                        "{location}.Type: '{kind}' is not a destination type; use one of {}",
                        DESTINATION_TYPES.join(", ")
                    ),
                ));
            }
            kind
        }
        _ => match from_arn {
            Some(kind) => kind.to_owned(),
            None => {
                return Err(Problem::at(
                    node.span,
                    format!("{location}.Destination: '{arn}' is not the ARN of a function, event bus, queue, topic or bucket"),
                ))
            }
        },
    };
    Ok(Some(AsyncDestination { kind, arn }))
}

/// Reads one member of the settings into `settings`; false when it is not one of them.
fn apply(
    settings: &mut Settings,
    key: &str,
    value: &Node,
    location: &str,
    sam: bool,
) -> Result<bool, Problem> {
    let entry_location = format!("{location}.{key}");
    match key {
        "MaximumRetryAttempts" => {
            settings.maximum_retry_attempts = Some(lambda_number(
                value,
                &entry_location,
                "maximumRetryAttempts",
                0,
                2,
            )?);
        }
        "MaximumEventAgeInSeconds" => {
            settings.maximum_event_age_secs = Some(lambda_number(
                value,
                &entry_location,
                "maximumEventAgeInSeconds",
                60,
                21_600,
            )?);
        }
        "DestinationConfig" => {
            for destination_entry in mapping(value, &entry_location)? {
                let place = format!("{entry_location}.{}", destination_entry.key);
                match destination_entry.key.as_str() {
                    "OnSuccess" => {
                        settings.on_success = destination(&destination_entry.value, &place, sam)?
                    }
                    "OnFailure" => {
                        settings.on_failure = destination(&destination_entry.value, &place, sam)?
                    }
                    other => {
                        return Err(Problem::at(
                            destination_entry.key_span,
                            format!(
                            "{entry_location}: unknown member {other}; use OnSuccess or OnFailure"
                        ),
                        ))
                    }
                }
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn config(function: &str, qualifier: String, settings: Settings) -> EventInvokeConfig {
    EventInvokeConfig {
        function: function.to_owned(),
        qualifier,
        maximum_retry_attempts: settings.maximum_retry_attempts,
        maximum_event_age_secs: settings.maximum_event_age_secs,
        on_success: settings.on_success,
        on_failure: settings.on_failure,
    }
}

/// SAM's `EventInvokeConfig` property of a function (after globals): on the function's
/// `AutoPublishAlias` when it has one, as SAM attaches it, else on `$LATEST`.
pub(super) fn function_event_invoke_config(
    resolver: &Resolver<'_>,
    function: &Function,
    properties: Option<&Node>,
) -> Result<Option<EventInvokeConfig>, Problem> {
    let Some(node) = properties.and_then(|properties| properties.get("EventInvokeConfig")) else {
        return Ok(None);
    };
    let location = format!(
        "Resources.{}.Properties.EventInvokeConfig",
        function.logical_id
    );
    let Some(resolved) = resolver.resolve(node, &location)? else {
        return Ok(None);
    };
    let mut settings = Settings::default();
    for entry in mapping(&resolved, &location)? {
        if !apply(&mut settings, &entry.key, &entry.value, &location, true)? {
            return Err(Problem::at(
                entry.key_span,
                format!("{location}: unknown member {}; use MaximumRetryAttempts, MaximumEventAgeInSeconds or DestinationConfig", entry.key),
            ));
        }
    }
    let qualifier = function
        .auto_publish_alias
        .clone()
        .unwrap_or_else(|| "$LATEST".to_owned());
    Ok(Some(config(&function.logical_id, qualifier, settings)))
}

/// An `AWS::Lambda::EventInvokeConfig` resource, on a function of the template named by
/// `FunctionName` (its name or ARN).
pub(super) fn event_invoke_config_resource(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    functions: &[Function],
    unsupported: &mut Vec<String>,
) -> Result<EventInvokeConfig, Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let properties = resolved_properties(
        resolver,
        logical_id,
        raw.properties,
        &RESOURCE_PROPERTIES,
        unsupported,
    )?;
    let mut function_name = None;
    let mut qualifier = None;
    for (key, value) in &properties {
        match key.as_str() {
            "FunctionName" => {
                function_name = Some((
                    expect_string(value, &format!("{location}.FunctionName"))?,
                    value.span,
                ))
            }
            "Qualifier" => {
                qualifier = Some(expect_string(value, &format!("{location}.Qualifier"))?)
            }
            _ => {}
        }
    }
    let Some((name, span)) = function_name else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.FunctionName: missing; name the function (!Ref MyFunction)"),
        ));
    };
    let Some(qualifier) = qualifier else {
        return Err(Problem::at(
            raw.key_span,
            format!(
                "{location}.Qualifier: missing; use $LATEST, a version number or an alias name"
            ),
        ));
    };
    let bare = name
        .rsplit_once(":function:")
        .map_or(name.as_str(), |(_, rest)| rest);
    let bare = bare.split(':').next().unwrap_or(bare);
    let Some(function) = functions.iter().find(|function| function.name == bare) else {
        return Err(Problem::at(
            span,
            format!("{location}.FunctionName: no function of the template is named {name}; use !Ref MyFunction"),
        ));
    };
    let mut settings = Settings::default();
    for (key, value) in &properties {
        apply(&mut settings, key, value, &location, false)?;
    }
    Ok(config(&function.logical_id, qualifier, settings))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use crate::model::{AsyncDestination, EventInvokeConfig};
    use crate::{load_str, LoadOptions};

    fn load(template: &str) -> Result<(Vec<EventInvokeConfig>, Vec<String>), String> {
        let options = LoadOptions {
            parameter_overrides: BTreeMap::new(),
            region: "eu-west-1".to_owned(),
            account_id: "123456789012".to_owned(),
            stack_name: "demo".to_owned(),
            version_numbers: BTreeMap::new(),
            queue_url_base: None,
        };
        load_str(template, Path::new("/app/template.yaml"), &options)
            .map(|app| (app.event_invoke_configs, app.unsupported))
            .map_err(|error| error.to_string())
    }

    const HEAD: &str = "Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: nodejs20.x, Handler: index.handler, CodeUri: src/}
Resources:
  Target:
    Type: AWS::Serverless::Function
";

    #[test]
    fn the_sam_property_and_the_resource_are_read() {
        let template = format!(
            "{HEAD}  Worker:
    Type: AWS::Serverless::Function
    Properties:
      DeadLetterQueue: {{Type: SQS, TargetArn: arn:aws:sqs:eu-west-1:123456789012:dlq}}
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        MaximumEventAgeInSeconds: 120
        DestinationConfig:
          OnFailure: {{Type: Lambda, Destination: !GetAtt Target.Arn}}
          OnSuccess: {{Type: EventBridge, Destination: arn:aws:events:eu-west-1:123456789012:event-bus/default}}
  Config:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref Target
      Qualifier: $LATEST
      MaximumRetryAttempts: 0
      DestinationConfig:
        OnSuccess: {{Destination: !GetAtt Worker.Arn}}
"
        );
        let (configs, unsupported) = load(&template).expect("loads");
        let arn = |name: &str| format!("arn:aws:lambda:eu-west-1:123456789012:function:{name}");
        let destination = |kind: &str, arn: String| {
            Some(AsyncDestination {
                kind: kind.to_owned(),
                arn,
            })
        };
        assert_eq!(
            configs,
            [
                EventInvokeConfig {
                    function: "Worker".to_owned(),
                    qualifier: "$LATEST".to_owned(),
                    maximum_retry_attempts: Some(1),
                    maximum_event_age_secs: Some(120),
                    on_success: destination(
                        "EventBridge",
                        "arn:aws:events:eu-west-1:123456789012:event-bus/default".to_owned()
                    ),
                    on_failure: destination("Lambda", arn("demo-Target-DYB5QHCGNWSE")),
                },
                EventInvokeConfig {
                    function: "Target".to_owned(),
                    qualifier: "$LATEST".to_owned(),
                    maximum_retry_attempts: Some(0),
                    maximum_event_age_secs: None,
                    on_success: destination("Lambda", arn("demo-Worker-UPAGFNTBMWTP")),
                    on_failure: None,
                },
            ]
        );
        assert!(unsupported.is_empty(), "{unsupported:?}");
    }

    #[test]
    fn out_of_range_values_fail_in_lambdas_words_with_the_line() {
        let bad = |body: &str| {
            load(&format!(
                "{HEAD}    Properties:\n      EventInvokeConfig:\n        {body}\n"
            ))
            .expect_err("invalid")
        };
        let error = bad("MaximumRetryAttempts: 5");
        assert!(error.contains("Resources.Target.Properties.EventInvokeConfig.MaximumRetryAttempts: 1 validation error detected: Value '5' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"), "{error}");
        assert!(error.contains(":9:"), "names the line: {error}");
        let error = bad("MaximumEventAgeInSeconds: 59");
        assert!(error.contains("Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"), "{error}");
        let error = bad("MaximumEventAgeInSeconds: 21601");
        assert!(
            error.contains("Member must have value less than or equal to 21600"),
            "{error}"
        );
        let error = bad("DestinationConfig: {OnFailure: {Type: Queue, Destination: x}}");
        assert!(
            error.contains("'Queue' is not a destination type"),
            "{error}"
        );
        let error = bad("Retries: 1");
        assert!(error.contains("unknown member Retries"), "{error}");
    }

    #[test]
    fn the_resource_must_name_a_function_of_the_template() {
        let error = load(&format!(
            "{HEAD}  Config:
    Type: AWS::Lambda::EventInvokeConfig
    Properties: {{FunctionName: elsewhere, Qualifier: $LATEST}}
"
        ))
        .expect_err("unknown function");
        assert!(
            error.contains("no function of the template is named elsewhere"),
            "{error}"
        );
    }
}
