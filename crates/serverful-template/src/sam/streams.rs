//! DynamoDB stream → function mappings: SAM `DynamoDB` function events and
//! `AWS::Lambda::EventSourceMapping` resources whose `EventSourceArn` is a table's stream,
//! checked against Lambda's limits. Other event sources of a mapping (SQS, Kinesis, Kafka)
//! are listed as not supported.

use crate::intrinsics::Resolver;
use crate::model::{Function, StreamMapping};
use crate::node::{Node, NodeKind};
use crate::Problem;

use super::properties::{expect_string, expect_strings, mapping};
use super::{function_events, RawResource};

pub(super) const EVENT_SOURCE_MAPPING: &str = "AWS::Lambda::EventSourceMapping";

/// The `DynamoDB` events of a function.
pub(super) fn dynamodb_events(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    unsupported: &mut Vec<String>,
) -> Result<Vec<StreamMapping>, Problem> {
    let logical_id = &raw.logical_id;
    let (location, events) = function_events(raw, &["DynamoDB"])?;
    let mut mappings = Vec::new();
    for (event, _) in events {
        let event_location = format!("{location}.{}.Properties", event.key);
        let Some(properties) = event.value.get("Properties") else {
            return Err(Problem::at(
                event.key_span,
                format!(
                    "{event_location}: missing; a DynamoDB event needs Stream and StartingPosition"
                ),
            ));
        };
        let settings = read_settings(
            resolver,
            properties,
            &event_location,
            "Stream",
            &format!("{logical_id}.Events.{}", event.key),
            unsupported,
        )?;
        mappings.push(settings.into_mapping(
            format!("{logical_id}/{}", event.key),
            logical_id.clone(),
            None,
        ));
    }
    Ok(mappings)
}

/// The `AWS::Lambda::EventSourceMapping` resources that read DynamoDB streams.
pub(super) fn event_source_mappings(
    resolver: &Resolver<'_>,
    raws: &[&RawResource<'_>],
    functions: &[Function],
    unsupported: &mut Vec<String>,
) -> Result<Vec<StreamMapping>, Problem> {
    let mut mappings = Vec::new();
    for raw in raws {
        let logical_id = &raw.logical_id;
        let location = format!("Resources.{logical_id}.Properties");
        let Some(properties) = raw.properties else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}: missing; an {EVENT_SOURCE_MAPPING} needs FunctionName and EventSourceArn"),
            ));
        };
        let Some(source) = properties.get("EventSourceArn") else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.EventSourceArn: missing; Serverful reads DynamoDB streams (!GetAtt Table.StreamArn)"),
            ));
        };
        let source = resolver.resolve_string(source, &format!("{location}.EventSourceArn"))?;
        if source.starts_with("arn:aws:sqs:") {
            // `sam::queues` reads those.
            continue;
        }
        if !source.starts_with("arn:aws:dynamodb:") {
            unsupported.push(format!(
                "{logical_id} ({EVENT_SOURCE_MAPPING} from {source})"
            ));
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
        let settings = read_settings(
            resolver,
            properties,
            &location,
            "EventSourceArn",
            logical_id,
            unsupported,
        )?;
        mappings.push(settings.into_mapping(logical_id.clone(), function, qualifier));
    }
    Ok(mappings)
}

/// The logical id and qualifier of a function named by name, ARN or partial ARN, each
/// optionally qualified (`name:alias`), as Lambda accepts in `FunctionName`.
pub(super) fn function_of_name(
    name: &str,
    functions: &[Function],
) -> Option<(String, Option<String>)> {
    let unprefixed = name.split_once(":function:").map_or(name, |(_, rest)| rest);
    let (bare, qualifier) = match unprefixed.split_once(':') {
        Some((bare, qualifier)) => (bare, Some(qualifier.to_owned())),
        None => (unprefixed, None),
    };
    functions
        .iter()
        .find(|function| function.name == bare || function.logical_id == bare)
        .map(|function| (function.logical_id.clone(), qualifier))
}

/// The settings both forms share, read and checked.
struct Settings {
    stream_arn: String,
    table_name: String,
    starting_position: String,
    starting_position_timestamp: Option<f64>,
    batch_size: u32,
    maximum_batching_window_secs: u32,
    maximum_retry_attempts: i64,
    maximum_record_age_secs: i64,
    bisect_batch_on_function_error: bool,
    parallelization_factor: u32,
    tumbling_window_secs: u32,
    report_batch_item_failures: bool,
    filter_patterns: Vec<String>,
    on_failure: Option<String>,
    enabled: bool,
}

impl Settings {
    fn into_mapping(
        self,
        id: String,
        function: String,
        qualifier: Option<String>,
    ) -> StreamMapping {
        StreamMapping {
            id,
            function,
            qualifier,
            stream_arn: self.stream_arn,
            table_name: self.table_name,
            starting_position: self.starting_position,
            starting_position_timestamp: self.starting_position_timestamp,
            batch_size: self.batch_size,
            maximum_batching_window_secs: self.maximum_batching_window_secs,
            maximum_retry_attempts: self.maximum_retry_attempts,
            maximum_record_age_secs: self.maximum_record_age_secs,
            bisect_batch_on_function_error: self.bisect_batch_on_function_error,
            parallelization_factor: self.parallelization_factor,
            tumbling_window_secs: self.tumbling_window_secs,
            report_batch_item_failures: self.report_batch_item_failures,
            filter_patterns: self.filter_patterns,
            on_failure: self.on_failure,
            enabled: self.enabled,
        }
    }
}

pub(super) fn integer(node: &Node, location: &str, min: i64, max: i64) -> Result<i64, Problem> {
    let text = node.as_scalar().unwrap_or_default().trim();
    match text.parse::<i64>() {
        Ok(number) if (min..=max).contains(&number) => Ok(number),
        Ok(number) => Err(Problem::at(
            node.span,
            format!("{location}: {number} is out of range; use a whole number from {min} to {max}"),
        )),
        Err(_) => Err(Problem::at(
            node.span,
            format!(
                "{location}: expected a whole number, found {}",
                node.describe()
            ),
        )),
    }
}

pub(super) fn boolean(node: &Node, location: &str) -> Result<bool, Problem> {
    match node.as_scalar().map(str::trim) {
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

/// The table of a stream ARN (`arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL`).
fn table_of_stream(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let (table, _) = resource.strip_prefix("table/")?.split_once("/stream/")?;
    (!table.is_empty()).then_some(table)
}

fn read_settings(
    resolver: &Resolver<'_>,
    properties: &Node,
    location: &str,
    stream_key: &str,
    owner: &str,
    unsupported: &mut Vec<String>,
) -> Result<Settings, Problem> {
    let mut settings = Settings {
        stream_arn: String::new(),
        table_name: String::new(),
        starting_position: String::new(),
        starting_position_timestamp: None,
        batch_size: 100,
        maximum_batching_window_secs: 0,
        maximum_retry_attempts: -1,
        maximum_record_age_secs: -1,
        bisect_batch_on_function_error: false,
        parallelization_factor: 1,
        tumbling_window_secs: 0,
        report_batch_item_failures: false,
        filter_patterns: Vec::new(),
        on_failure: None,
        enabled: true,
    };
    let mut stream_span = None;
    let mut position_span = None;
    for entry in mapping(properties, location)? {
        let key = entry.key.as_str();
        let property_location = format!("{location}.{key}");
        match key {
            // Read by the caller; `Type` and `FunctionName` belong to the event or resource.
            "FunctionName" => continue,
            // Lambda's own business on AWS: nothing to do locally.
            "KmsKeyArn" | "MetricsConfig" | "Tags" => continue,
            _ => {}
        }
        let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        match key {
            _ if key == stream_key => {
                let arn = expect_string(&value, &property_location)?;
                let table = table_of_stream(&arn).ok_or_else(|| {
                    Problem::at(
                        value.span,
                        format!("{property_location}: '{arn}' is not a DynamoDB stream ARN; use !GetAtt MyTable.StreamArn"),
                    )
                })?;
                settings.table_name = table.to_owned();
                settings.stream_arn = arn;
                stream_span = Some(value.span);
            }
            "StartingPosition" => {
                let position = expect_string(&value, &property_location)?;
                if !["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"].contains(&position.as_str()) {
                    return Err(Problem::at(
                        value.span,
                        format!("{property_location}: '{position}' is not a starting position of a DynamoDB stream; use TRIM_HORIZON, LATEST or AT_TIMESTAMP"),
                    ));
                }
                settings.starting_position = position;
                position_span = Some(value.span);
            }
            "StartingPositionTimestamp" => {
                let text = value.as_scalar().unwrap_or_default().trim().to_owned();
                let seconds = text
                    .parse::<f64>()
                    .ok()
                    .filter(|seconds| seconds.is_finite() && *seconds >= 0.0);
                settings.starting_position_timestamp = Some(seconds.ok_or_else(|| {
                    Problem::at(
                        value.span,
                        format!("{property_location}: expected seconds since the epoch (a number), found {}", value.describe()),
                    )
                })?);
            }
            "BatchSize" => {
                settings.batch_size = integer(&value, &property_location, 1, 10_000)? as u32
            }
            "MaximumBatchingWindowInSeconds" => {
                settings.maximum_batching_window_secs =
                    integer(&value, &property_location, 0, 300)? as u32;
            }
            "MaximumRetryAttempts" => {
                settings.maximum_retry_attempts = integer(&value, &property_location, -1, 10_000)?;
            }
            "MaximumRecordAgeInSeconds" => {
                let age = integer(&value, &property_location, -1, 604_800)?;
                if (0..60).contains(&age) {
                    return Err(Problem::at(
                        value.span,
                        format!("{property_location}: {age} is out of range; use -1 (records never expire) or 60 to 604800"),
                    ));
                }
                settings.maximum_record_age_secs = age;
            }
            "BisectBatchOnFunctionError" => {
                settings.bisect_batch_on_function_error = boolean(&value, &property_location)?;
            }
            "ParallelizationFactor" => {
                settings.parallelization_factor =
                    integer(&value, &property_location, 1, 10)? as u32;
            }
            "Enabled" => settings.enabled = boolean(&value, &property_location)?,
            "FunctionResponseTypes" => {
                for response_type in expect_strings(&value, &property_location)? {
                    if response_type != "ReportBatchItemFailures" {
                        return Err(Problem::at(
                            value.span,
                            format!("{property_location}: '{response_type}' is not a function response type; the only one is ReportBatchItemFailures"),
                        ));
                    }
                    settings.report_batch_item_failures = true;
                }
            }
            "FilterCriteria" => {
                settings.filter_patterns = filter_patterns(&value, &property_location)?
            }
            "DestinationConfig" => {
                settings.on_failure = on_failure(&value, &property_location, owner, unsupported)?
            }
            "TumblingWindowInSeconds" => {
                settings.tumbling_window_secs = integer(&value, &property_location, 0, 900)? as u32;
            }
            _ => unsupported.push(format!("{owner}.{key}")),
        }
    }
    if stream_span.is_none() {
        return Err(Problem::at(
            properties.span,
            format!("{location}.{stream_key}: missing; name the table's stream, such as !GetAtt MyTable.StreamArn"),
        ));
    }
    match (settings.starting_position.as_str(), settings.starting_position_timestamp) {
        ("", _) => {
            return Err(Problem::at(
                properties.span,
                format!("{location}.StartingPosition: missing; a DynamoDB stream mapping needs TRIM_HORIZON, LATEST or AT_TIMESTAMP"),
            ))
        }
        ("AT_TIMESTAMP", None) => {
            return Err(Problem::at(
                position_span.unwrap_or(properties.span),
                format!("{location}.StartingPositionTimestamp: missing; AT_TIMESTAMP needs the time to start from"),
            ))
        }
        _ => {}
    }
    Ok(settings)
}

pub(super) fn filter_patterns(value: &Node, location: &str) -> Result<Vec<String>, Problem> {
    let filters_location = format!("{location}.Filters");
    let Some(filters) = value.get("Filters") else {
        return Ok(Vec::new());
    };
    let NodeKind::Sequence(items) = &filters.kind else {
        return Err(Problem::at(
            filters.span,
            format!(
                "{filters_location}: expected a list of {{Pattern: ...}}, found {}",
                filters.describe()
            ),
        ));
    };
    if items.len() > 5 {
        return Err(Problem::at(
            filters.span,
            format!(
                "{filters_location}: {} filters; Lambda allows at most 5",
                items.len()
            ),
        ));
    }
    let mut patterns = Vec::new();
    for (filter_idx, item) in items.iter().enumerate() {
        let pattern_location = format!("{filters_location}[{filter_idx}].Pattern");
        let Some(pattern) = item.get("Pattern") else {
            return Err(Problem::at(
                item.span,
                format!("{pattern_location}: missing"),
            ));
        };
        // A pattern is a JSON string; YAML authors sometimes write it as a mapping.
        let text = match pattern.as_scalar() {
            Some(text) => text.to_owned(),
            None => pattern.to_json().to_string(),
        };
        if let Err(error) = serverful_eventbridge::EventPattern::parse(&text) {
            return Err(Problem::at(
                pattern.span,
                format!("{pattern_location}: Invalid filter pattern definition. {error}"),
            ));
        }
        patterns.push(text);
    }
    Ok(patterns)
}

fn on_failure(
    value: &Node,
    location: &str,
    owner: &str,
    unsupported: &mut Vec<String>,
) -> Result<Option<String>, Problem> {
    for entry in mapping(value, location)? {
        if entry.key != "OnFailure" {
            unsupported.push(format!("{owner}.DestinationConfig.{}", entry.key));
        }
    }
    let Some(on_failure) = value.get("OnFailure") else {
        return Ok(None);
    };
    let destination_location = format!("{location}.OnFailure.Destination");
    let Some(destination) = on_failure.get("Destination") else {
        return Err(Problem::at(
            on_failure.span,
            format!("{destination_location}: missing; name an SQS queue or SNS topic ARN"),
        ));
    };
    let arn = expect_string(destination, &destination_location)?;
    // SAM's own `Type: SQS|SNS` helper key is redundant with the ARN.
    let service = arn.split(':').nth(2).unwrap_or_default();
    if !["sqs", "sns", "s3"].contains(&service) {
        return Err(Problem::at(
            destination.span,
            format!("{destination_location}: '{arn}' is not a valid destination for a DynamoDB stream; use an Amazon SQS queue, Amazon SNS topic or Amazon S3 bucket ARN (Lambda functions are not stream failure destinations)"),
        ));
    }
    Ok(Some(arn))
}
