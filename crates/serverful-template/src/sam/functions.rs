//! `AWS::Serverless::Function`: its properties (after globals) into a [`Function`].

use std::collections::BTreeMap;
use std::path::Path;

use super::layers::function_layers;
use super::properties::{
    expect_number, expect_string, expect_string_map, expect_strings, mapping, resolved_properties,
    PropertyRules,
};
use super::{normalize, RawResource};
use crate::intrinsics::Resolver;
use crate::model::{Function, FunctionCode, Logging, Network};
use crate::node::Node;
use crate::Problem;

const FUNCTION_PROPERTIES: PropertyRules<'static> = PropertyRules {
    supported: &[
        "Runtime",
        "Handler",
        "CodeUri",
        "InlineCode",
        "Timeout",
        "MemorySize",
        "ReservedConcurrentExecutions",
        "Architectures",
        "Environment",
        "PackageType",
        "EphemeralStorage",
        "AutoPublishAlias",
        "AutoPublishCodeSha256",
        "DeadLetterQueue",
        "DeadLetterConfig",
        "LoggingConfig",
    ],
    // `Events` hold references (RestApiId) read as written; `FunctionName` is read by
    // `Ref`; `Layers` are read item by item, to report a wrong reference where it is;
    // `VersionDescription` and `AutoPublishAliasAllProperties` shape the version
    // `versions` makes for `AutoPublishAlias`.
    ignored: &[
        "Events",
        "FunctionName",
        "Description",
        "Tags",
        "Layers",
        "VersionDescription",
        "AutoPublishAliasAllProperties",
        // Read by `async_config`.
        "EventInvokeConfig",
        // Read by `function_urls`.
        "FunctionUrlConfig",
    ],
};

pub(super) fn function(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    properties: Option<&Node>,
    base_dir: &Path,
    unsupported: &mut Vec<String>,
) -> Result<Function, Problem> {
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let mut runtime = None;
    let mut handler = None;
    let mut code_uri = None;
    let mut inline_code = None;
    let mut timeout_secs = 3;
    let mut memory_mb = 128;
    let mut environment = BTreeMap::new();
    let mut reserved_concurrency = None;
    let mut architectures = vec!["x86_64".to_owned()];
    let mut ephemeral_storage_mb = 512;
    let mut auto_publish_alias = None;
    let mut auto_publish_code_sha256 = None;
    let mut dead_letter_arn = None;
    let mut logging = Logging::default();
    let layers = function_layers(
        resolver,
        logical_id,
        properties.and_then(|properties| properties.get("Layers")),
    )?;
    let properties = resolved_properties(
        resolver,
        logical_id,
        properties,
        &FUNCTION_PROPERTIES,
        unsupported,
    )?;
    for (key, value) in properties {
        let property_location = format!("{location}.{key}");
        match key.as_str() {
            "Runtime" => runtime = Some(expect_string(&value, &property_location)?),
            "Handler" => handler = Some(expect_string(&value, &property_location)?),
            "CodeUri" => {
                let uri = match value.as_scalar() {
                    Some(uri) if !uri.starts_with("s3://") => uri.to_owned(),
                    Some(_) => return Err(code_in_s3(&value, &property_location)),
                    None if value.get("Bucket").is_some() => {
                        return Err(code_in_s3(&value, &property_location))
                    }
                    None => {
                        return Err(Problem::at(
                            value.span,
                            format!(
                                "{property_location}: expected a folder path, found {}",
                                value.describe()
                            ),
                        ))
                    }
                };
                code_uri = Some((uri, value.span));
            }
            "DeadLetterQueue" | "DeadLetterConfig" => {
                let target = value.get("TargetArn").ok_or_else(|| {
                    Problem::at(
                        value.span,
                        format!("{property_location}.TargetArn: missing; name an SQS queue or SNS topic ARN"),
                    )
                })?;
                let arn = expect_string(target, &format!("{property_location}.TargetArn"))?;
                if !arn.starts_with("arn:aws:sqs:") && !arn.starts_with("arn:aws:sns:") {
                    return Err(Problem::at(
                        target.span,
                        format!("{property_location}.TargetArn: '{arn}' is not an SQS queue or SNS topic ARN; use !GetAtt MyQueue.Arn or !Ref MyTopic"),
                    ));
                }
                dead_letter_arn = Some(arn);
            }
            "LoggingConfig" => logging = logging_config(&value, &property_location)?,
            "InlineCode" => {
                inline_code = Some((expect_string(&value, &property_location)?, value.span))
            }
            "Timeout" => timeout_secs = expect_number(&value, &property_location, 1..=900)?,
            "MemorySize" => memory_mb = expect_number(&value, &property_location, 128..=10240)?,
            "ReservedConcurrentExecutions" => {
                reserved_concurrency =
                    Some(expect_number(&value, &property_location, 0..=u32::MAX)?);
            }
            "Architectures" => {
                let given = expect_strings(&value, &property_location)?;
                let known = given
                    .iter()
                    .all(|architecture| matches!(architecture.as_str(), "x86_64" | "arm64"));
                // Lambda takes exactly one; the function's own list replaces the Globals'
                // one rather than joining it.
                let Some(first) = given.first().filter(|_| known) else {
                    return Err(Problem::at(
                        value.span,
                        format!(
                            "{property_location}: expected [x86_64] or [arm64], found [{}]",
                            given.join(", ")
                        ),
                    ));
                };
                architectures = vec![first.clone()];
            }
            "Environment" => {
                for entry in mapping(&value, &property_location)? {
                    if entry.key == "Variables" {
                        environment = expect_string_map(
                            &entry.value,
                            &format!("{property_location}.Variables"),
                        )?;
                    } else {
                        unsupported.push(format!("{logical_id}.Environment.{}", entry.key));
                    }
                }
            }
            "EphemeralStorage" => {
                for entry in mapping(&value, &property_location)? {
                    if entry.key == "Size" {
                        ephemeral_storage_mb = expect_number(
                            &entry.value,
                            &format!("{property_location}.Size"),
                            512..=10240,
                        )?;
                    } else {
                        unsupported.push(format!("{logical_id}.EphemeralStorage.{}", entry.key));
                    }
                }
            }
            // Checked when `versions` made the alias.
            "AutoPublishAlias" => {
                auto_publish_alias = Some(expect_string(&value, &property_location)?);
            }
            "AutoPublishCodeSha256" => {
                auto_publish_code_sha256 = Some(expect_string(&value, &property_location)?);
            }
            "PackageType" => {
                let package_type = expect_string(&value, &property_location)?;
                if package_type != "Zip" {
                    return Err(Problem::at(
                        value.span,
                        format!("{property_location}: {package_type} functions are not supported; use PackageType: Zip with a CodeUri folder"),
                    ));
                }
            }
            // `resolved_properties` returns supported properties only.
            _ => {}
        }
    }
    let Some(runtime) = runtime else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.Runtime: missing; set Runtime (such as python3.12) on the function or under Globals.Function"),
        ));
    };
    let handler = match handler {
        Some(handler) => handler,
        // Custom runtimes run `bootstrap` and may leave the handler out.
        None if runtime.starts_with("provided") => String::new(),
        None => {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.Handler: missing; a {runtime} function needs a Handler such as app.handler"),
            ))
        }
    };
    let code = match (code_uri, inline_code) {
        (Some(_), Some((_, span))) => {
            return Err(Problem::at(
                span,
                format!(
                    "{location}.InlineCode: a function has either CodeUri or InlineCode, not both"
                ),
            ))
        }
        (Some((uri, _)), None) => FunctionCode::Dir(normalize(&base_dir.join(uri))),
        (None, Some((code, _))) => FunctionCode::Inline(code),
        (None, None) => FunctionCode::Dir(base_dir.to_owned()),
    };
    let metadata_node = match raw.metadata {
        None => None,
        Some(node) => resolver.resolve(node, &format!("Resources.{logical_id}.Metadata"))?,
    };
    let network = match &metadata_node {
        Some(node) => function_network(
            node,
            &format!("Resources.{logical_id}.Metadata"),
            logical_id,
            unsupported,
        )?,
        None => None,
    };
    let metadata = metadata_node.map_or(serde_json::Value::Null, |node| node.to_json());
    Ok(Function {
        logical_id: logical_id.clone(),
        name: resolver.physical_name(logical_id, "FunctionName")?,
        runtime,
        handler,
        code,
        timeout_secs,
        memory_mb,
        environment,
        reserved_concurrency,
        architectures,
        ephemeral_storage_mb,
        network,
        metadata,
        layers,
        auto_publish_alias,
        auto_publish_code_sha256,
        dead_letter_arn,
        logging,
    })
}

/// `LoggingConfig`, with Lambda's rules: the levels take effect only with `LogFormat:
/// JSON`, so a level given with `Text` is refused as Lambda refuses it.
fn logging_config(value: &Node, location: &str) -> Result<Logging, Problem> {
    const APPLICATION_LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    const SYSTEM_LEVELS: &[&str] = &["DEBUG", "INFO", "WARN"];
    let mut logging = Logging::default();
    let mut level_span = None;
    let one_of = |node: &Node, at: &str, allowed: &[&str]| -> Result<String, Problem> {
        let given = expect_string(node, at)?;
        if allowed.contains(&given.as_str()) {
            Ok(given)
        } else {
            Err(Problem::at(
                node.span,
                format!("{at}: '{given}' is not one of {}", allowed.join(", ")),
            ))
        }
    };
    for entry in mapping(value, location)? {
        let at = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "LogFormat" => logging.json = one_of(&entry.value, &at, &["JSON", "Text"])? == "JSON",
            "ApplicationLogLevel" => {
                logging.application_level = Some(one_of(&entry.value, &at, APPLICATION_LEVELS)?);
                level_span.get_or_insert((entry.value.span, at));
            }
            "SystemLogLevel" => {
                logging.system_level = Some(one_of(&entry.value, &at, SYSTEM_LEVELS)?);
                level_span.get_or_insert((entry.value.span, at));
            }
            "LogGroup" => {
                let group = expect_string(&entry.value, &at)?;
                let valid = !group.is_empty()
                    && group.len() <= 512
                    && group
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c));
                if !valid {
                    return Err(Problem::at(
                        entry.value.span,
                        format!("{at}: '{group}' is not a log group name (1 to 512 letters, digits and . _ - / #)"),
                    ));
                }
                logging.log_group = Some(group);
            }
            other => {
                return Err(Problem::at(
                    entry.key_span,
                    format!("{location}: unknown property {other}; expected LogFormat, ApplicationLogLevel, SystemLogLevel or LogGroup"),
                ))
            }
        }
    }
    if let (false, Some((span, at))) = (logging.json, level_span) {
        return Err(Problem::at(
            span,
            format!("{at}: log levels apply to JSON logs only; add LogFormat: JSON to the LoggingConfig"),
        ));
    }
    Ok(logging)
}

/// `Metadata: {Serverful: {Network: none | egress}}`: what the function's instances may
/// reach. Other keys under `Serverful` are listed as not supported, so that a typo shows in
/// the start-up warning.
fn function_network(
    metadata: &Node,
    location: &str,
    logical_id: &str,
    unsupported: &mut Vec<String>,
) -> Result<Option<Network>, Problem> {
    let Some(serverful) = metadata.get("Serverful") else {
        return Ok(None);
    };
    let location = format!("{location}.Serverful");
    let mut network = None;
    for entry in mapping(serverful, &location)? {
        let entry_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "Network" => {
                let value = expect_string(&entry.value, &entry_location)?;
                network = Some(match value.as_str() {
                    "none" => Network::None,
                    "egress" => Network::Egress,
                    other => {
                        return Err(Problem::at(
                            entry.value.span,
                            format!("{entry_location}: {other} is not a network; use none (only the platform's endpoints) or egress (outbound allowed)"),
                        ))
                    }
                });
            }
            other => unsupported.push(format!("{logical_id}.Metadata.Serverful.{other}")),
        }
    }
    Ok(network)
}

fn code_in_s3(value: &Node, location: &str) -> Problem {
    Problem::at(
        value.span,
        format!("{location}: code in S3 cannot run locally; point CodeUri at a local folder, such as CodeUri: hello_world/"),
    )
}
