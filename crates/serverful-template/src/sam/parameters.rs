//! The `Parameters` section: each parameter's value from `--parameter-overrides` or its
//! `Default`, checked against its type, `AllowedValues` and bounds as CloudFormation does.

use std::collections::BTreeMap;

use super::properties::mapping;
use crate::intrinsics::ParameterValue;
use crate::node::{Node, NodeKind, Span};
use crate::{LoadOptions, Problem};

pub(super) fn parameters(
    node: Option<&Node>,
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<BTreeMap<String, ParameterValue>, Problem> {
    let entries = match node {
        Some(node) => mapping(node, "Parameters")?,
        None => &[],
    };
    for name in options.parameter_overrides.keys() {
        if !entries.iter().any(|entry| &entry.key == name) {
            let known: Vec<&str> = entries.iter().map(|entry| entry.key.as_str()).collect();
            let hint = if known.is_empty() {
                "the template has no Parameters".to_owned()
            } else {
                format!("its parameters are {}", known.join(", "))
            };
            return Err(Problem::nowhere(format!(
                "--parameter-overrides sets '{name}', which is not a parameter of this template; {hint}"
            )));
        }
    }
    let mut values = BTreeMap::new();
    for entry in entries {
        let name = &entry.key;
        let location = format!("Parameters.{name}");
        let definition = &entry.value;
        if definition.as_mapping().is_none() {
            return Err(Problem::at(
                definition.span,
                format!(
                    "{location}: expected a mapping with Type and Default, found {}",
                    definition.describe()
                ),
            ));
        }
        let Some(type_name) = definition.get("Type").and_then(Node::as_scalar) else {
            return Err(Problem::at(
                entry.key_span,
                format!("{location}.Type: missing or not a string; use String, Number, CommaDelimitedList or List<Number>"),
            ));
        };
        let (raw, span, source) = match (options.parameter_overrides.get(name), definition.get("Default")) {
            (Some(value), _) => (value.clone(), entry.key_span, " (from --parameter-overrides)"),
            (None, Some(default)) => (literal_text(default, &format!("{location}.Default"))?, default.span, ""),
            (None, None) => {
                return Err(Problem::at(
                    entry.key_span,
                    format!("{location}: parameter '{name}' has no Default and no value was given; pass --parameter-overrides {name}=Value"),
                ))
            }
        };
        let allowed: Option<Vec<String>> = match definition.get("AllowedValues") {
            None => None,
            Some(node) => match &node.kind {
                NodeKind::Sequence(items) if node.tag.is_none() => Some(
                    items
                        .iter()
                        .map(|item| literal_text(item, &format!("{location}.AllowedValues")))
                        .collect::<Result<_, _>>()?,
                ),
                _ => {
                    return Err(Problem::at(
                        node.span,
                        format!(
                            "{location}.AllowedValues: expected a list, found {}",
                            node.describe()
                        ),
                    ))
                }
            },
        };
        let check_number = |value: &str| -> Result<(), Problem> {
            match value.trim().parse::<f64>() {
                Ok(_) => Ok(()),
                Err(_) => Err(Problem::at(
                    span,
                    format!("{location}: '{value}'{source} is not a number, which a {type_name} parameter needs"),
                )),
            }
        };
        let split = |text: &str| -> Vec<String> {
            text.split(',').map(|item| item.trim().to_owned()).collect()
        };
        let value = match type_name {
            "String" => ParameterValue::String(raw),
            "Number" => {
                check_number(&raw)?;
                ParameterValue::Number(raw.trim().to_owned())
            }
            "CommaDelimitedList" => ParameterValue::List(split(&raw)),
            "List<Number>" => {
                let items = split(&raw);
                for item in &items {
                    check_number(item)?;
                }
                ParameterValue::List(items)
            }
            // AWS-specific types (SSM parameters, EC2 ids) are plain values locally.
            other if other.starts_with("AWS::") || other.starts_with("List<AWS::") => {
                unsupported.push(format!("Parameters.{name} (Type {other})"));
                if other.starts_with("List<") {
                    ParameterValue::List(split(&raw))
                } else {
                    ParameterValue::String(raw)
                }
            }
            other => {
                return Err(Problem::at(
                    definition.get("Type").map_or(entry.key_span, |node| node.span),
                    format!("{location}.Type: unknown parameter type '{other}'; use String, Number, CommaDelimitedList or List<Number>"),
                ))
            }
        };
        if let Some(allowed) = &allowed {
            let given: Vec<&str> = match &value {
                ParameterValue::String(text) | ParameterValue::Number(text) => vec![text.as_str()],
                ParameterValue::List(items) => items.iter().map(String::as_str).collect(),
            };
            for item in given {
                if !allowed.iter().any(|allowed| allowed == item) {
                    return Err(Problem::at(
                        span,
                        format!(
                            "{location}: '{item}'{source} is not one of the AllowedValues: {}",
                            allowed.join(", ")
                        ),
                    ));
                }
            }
        }
        check_parameter_bounds(definition, &value, span, &location, source)?;
        values.insert(name.clone(), value);
    }
    Ok(values)
}

/// `MinLength`/`MaxLength` for strings and `MinValue`/`MaxValue` for numbers, as CloudFormation
/// checks them; `ConstraintDescription`, when given, is shown as CloudFormation shows it.
fn check_parameter_bounds(
    definition: &Node,
    value: &ParameterValue,
    span: Span,
    location: &str,
    source: &str,
) -> Result<(), Problem> {
    let bound = |key: &str| -> Result<Option<f64>, Problem> {
        let Some(node) = definition.get(key) else {
            return Ok(None);
        };
        let text = literal_text(node, &format!("{location}.{key}"))?;
        text.trim().parse::<f64>().map(Some).map_err(|_| {
            Problem::at(
                node.span,
                format!("{location}.{key}: expected a number, found '{text}'"),
            )
        })
    };
    let hint = definition
        .get("ConstraintDescription")
        .and_then(Node::as_scalar)
        .map(|description| format!(" ({description})"))
        .unwrap_or_default();
    let items: Vec<&str> = match value {
        ParameterValue::String(text) | ParameterValue::Number(text) => vec![text.as_str()],
        ParameterValue::List(items) => items.iter().map(String::as_str).collect(),
    };
    let is_number = !matches!(value, ParameterValue::String(_));
    let checks: [(&str, bool); 2] = if is_number {
        [("MinValue", true), ("MaxValue", false)]
    } else {
        [("MinLength", true), ("MaxLength", false)]
    };
    for (key, is_minimum) in checks {
        let Some(limit) = bound(key)? else {
            continue;
        };
        for item in &items {
            let measured = if is_number {
                // Numbers were checked when the parameter was read; a list of strings
                // (CommaDelimitedList) has no numeric bounds to break.
                item.trim().parse::<f64>().unwrap_or(limit)
            } else {
                item.chars().count() as f64
            };
            let broken = if is_minimum {
                measured < limit
            } else {
                measured > limit
            };
            if broken {
                return Err(Problem::at(
                    span,
                    format!("{location}: '{item}'{source} breaks {key} {limit}{hint}"),
                ));
            }
        }
    }
    Ok(())
}

/// A parameter `Default` or allowed value: a literal, where a list means a comma-joined string.
fn literal_text(node: &Node, location: &str) -> Result<String, Problem> {
    if let Some(text) = node.as_scalar() {
        return Ok(text.to_owned());
    }
    if let (NodeKind::Sequence(items), None) = (&node.kind, &node.tag) {
        let texts: Option<Vec<&str>> = items.iter().map(Node::as_scalar).collect();
        if let Some(texts) = texts {
            return Ok(texts.join(","));
        }
    }
    Err(Problem::at(
        node.span,
        format!(
            "{location}: expected a literal value, found {}",
            node.describe()
        ),
    ))
}
