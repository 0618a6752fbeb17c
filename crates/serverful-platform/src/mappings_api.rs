//! The Lambda API's event-source mappings on the AWS endpoint, in Lambda's shapes (`aws
//! lambda create-event-source-mapping` and Terraform-style tools work):
//! `CreateEventSourceMapping`, `GetEventSourceMapping`, `ListEventSourceMappings` (with
//! `FunctionName`, `EventSourceArn`, `Marker`, `MaxItems`), `UpdateEventSourceMapping` and
//! `DeleteEventSourceMapping`.
//!
//! Two kinds of mapping answer: those a stack's template declares (read-only here: a deploy
//! of the template changes them, as CloudFormation owns its resources), and those made at
//! run time ([`crate::runtime_mappings`]). A caller sees and changes only the mappings of
//! functions it may act on.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, Response, StatusCode};
use serde_json::{json, Map, Value};
use serverful_aws::{Action, AwsError, Principal, Resource, RestRequest, RestService, Route};
use serverful_streams::Mapping;

use crate::runtime_mappings::GROUP_PREFIX;
use crate::server::Platform;
use crate::state::EventSourceMappingRecord;

const PREFIX: &str = "/2015-03-31/event-source-mappings";

/// The most mappings one `ListEventSourceMappings` page holds (Lambda's limit).
const PAGE_MAX: usize = 100;

pub struct EventSourceMappingsApi {
    pub platform: Arc<Platform>,
}

impl RestService for EventSourceMappingsApi {
    fn signing_name(&self) -> &'static str {
        "lambda"
    }

    fn handles(&self, route: &Route<'_>) -> bool {
        route.path.starts_with(PREFIX)
            && route
                .credential_service
                .is_none_or(|service| service == "lambda")
    }

    fn max_request_bytes(&self) -> usize {
        256 * 1024
    }

    fn call(&self, request: RestRequest) -> BoxFuture<'static, Result<Response<Bytes>, AwsError>> {
        let platform = self.platform.clone();
        Box::pin(async move { dispatch(&request, &platform).await })
    }
}

/// A mapping as this API shows it, with whether a template owns it.
struct Listed {
    record: EventSourceMappingRecord,
    from_template: Option<String>,
}

fn lambda_error(status: StatusCode, kind: &'static str, message: String) -> AwsError {
    AwsError::new(status, "com.amazonaws.lambda", kind, message)
}

fn invalid_parameter(message: String) -> AwsError {
    lambda_error(
        StatusCode::BAD_REQUEST,
        "InvalidParameterValueException",
        message,
    )
}

fn not_found(request: &RestRequest) -> AwsError {
    lambda_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        format!(
            "The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {})",
            request.request_id
        ),
    )
}

/// Every mapping: the templates' (as running) and those made at run time.
async fn all_mappings(platform: &Platform) -> Vec<Listed> {
    let mut listed: Vec<Listed> = platform
        .stream_mappings()
        .list()
        .await
        .iter()
        .filter(|mapping| !mapping.key.starts_with(GROUP_PREFIX))
        .map(|mapping| Listed {
            record: template_record(platform, mapping),
            from_template: Some(mapping.function.stack.to_string()),
        })
        .collect();
    if let Some(queue_mappings) = platform.queue_mappings() {
        listed.extend(
            queue_mappings
                .list()
                .await
                .iter()
                .filter(|mapping| !mapping.key.starts_with(GROUP_PREFIX))
                .map(|mapping| Listed {
                    record: template_queue_record(mapping),
                    from_template: Some(mapping.function.stack.to_string()),
                }),
        );
    }
    listed.extend(
        platform
            .runtime_mappings()
            .all()
            .into_iter()
            .map(|record| Listed {
                record,
                from_template: None,
            }),
    );
    listed.sort_by(|left, right| left.record.uuid.cmp(&right.record.uuid));
    listed
}

/// A template's running queue mapping in the shape of a recorded one.
fn template_queue_record(
    mapping: &serverful_sqs_mappings::QueueMapping,
) -> EventSourceMappingRecord {
    EventSourceMappingRecord {
        uuid: mapping.uuid.clone(),
        stack: mapping.function.stack.to_string(),
        function: mapping.function.function.to_string(),
        function_name: function_name(&mapping.function_arn).to_owned(),
        qualifier: mapping.function.qualifier.as_deref().map(str::to_owned),
        event_source_arn: mapping.queue_arn.clone(),
        starting_position: None,
        starting_position_timestamp: None,
        batch_size: mapping.batch_size as u32,
        maximum_batching_window_secs: mapping.batching_window.as_secs() as u32,
        maximum_retry_attempts: -1,
        maximum_record_age_secs: -1,
        bisect_batch_on_function_error: false,
        parallelization_factor: 1,
        tumbling_window_secs: 0,
        report_batch_item_failures: mapping.report_batch_item_failures,
        filter_patterns: mapping.filter_patterns.clone(),
        on_failure: None,
        maximum_concurrency: mapping.maximum_concurrency.map(|limit| limit as u32),
        enabled: mapping.enabled,
        last_modified: 0.0,
    }
}

/// Whether an event source ARN names an SQS queue.
fn is_queue(arn: &str) -> bool {
    arn.starts_with("arn:aws:sqs:")
}

/// A template's running mapping in the shape of a recorded one.
fn template_record(platform: &Platform, mapping: &Mapping) -> EventSourceMappingRecord {
    let stream_arn = platform
        .store()
        .stream_info(&mapping.table_name)
        .ok()
        .flatten()
        .map(|stream| stream.stream_arn)
        .unwrap_or_default();
    let (starting_position_timestamp, starting_position) = match mapping.starting_position {
        serverful_streams::StartingPosition::AtTimestamp(at) => (Some(at), "AT_TIMESTAMP"),
        other => (None, other.name()),
    };
    EventSourceMappingRecord {
        uuid: mapping.uuid.clone(),
        stack: mapping.function.stack.to_string(),
        function: mapping.function.function.to_string(),
        function_name: function_name(&mapping.function_arn).to_owned(),
        qualifier: mapping.function.qualifier.as_deref().map(str::to_owned),
        event_source_arn: stream_arn,
        starting_position: Some(starting_position.to_owned()),
        starting_position_timestamp,
        batch_size: mapping.batch_size as u32,
        maximum_batching_window_secs: mapping.batching_window.as_secs() as u32,
        maximum_retry_attempts: mapping.maximum_retry_attempts.map_or(-1, i64::from),
        maximum_record_age_secs: mapping
            .maximum_record_age
            .map_or(-1, |age| age.as_secs() as i64),
        bisect_batch_on_function_error: mapping.bisect_batch_on_function_error,
        parallelization_factor: mapping.parallelization_factor as u32,
        tumbling_window_secs: mapping
            .tumbling_window
            .map_or(0, |window| window.as_secs() as u32),
        report_batch_item_failures: mapping.report_batch_item_failures,
        filter_patterns: mapping.filter_patterns.clone(),
        on_failure: mapping.on_failure.clone(),
        maximum_concurrency: None,
        enabled: mapping.enabled,
        last_modified: 0.0,
    }
}

async fn dispatch(
    request: &RestRequest,
    platform: &Arc<Platform>,
) -> Result<Response<Bytes>, AwsError> {
    let rest = request.path.strip_prefix(PREFIX).unwrap_or_default();
    let segments: Vec<&str> = rest
        .trim_matches('/')
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    match (&request.method, segments.as_slice()) {
        (&Method::GET, []) => list(request, platform).await,
        (&Method::POST, []) => create(request, platform).await,
        (&Method::GET, [uuid]) => {
            let listed = find(request, platform, uuid, "GetEventSourceMapping").await?;
            let body = configuration(platform, &listed.record, None);
            Ok(json_response(StatusCode::OK, &body))
        }
        (&Method::PUT, [uuid]) => update(request, platform, uuid).await,
        (&Method::DELETE, [uuid]) => delete(request, platform, uuid).await,
        _ => Err(lambda_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "Unknown operation".to_owned(),
        )),
    }
}

async fn list(request: &RestRequest, platform: &Platform) -> Result<Response<Bytes>, AwsError> {
    let function = query_parameter(&request.query, "FunctionName");
    let source = query_parameter(&request.query, "EventSourceArn");
    let selected: Vec<Listed> = all_mappings(platform)
        .await
        .into_iter()
        .filter(|listed| {
            may(
                &request.principal,
                "ListEventSourceMappings",
                &listed.record,
            )
        })
        .filter(|listed| {
            function
                .as_deref()
                .is_none_or(|name| function_name(name) == listed.record.function_name)
        })
        .filter(|listed| {
            source
                .as_deref()
                .is_none_or(|arn| same_source(arn, &listed.record.event_source_arn))
        })
        .collect();
    let max = match query_parameter(&request.query, "MaxItems") {
        None => PAGE_MAX,
        Some(text) => match text.parse::<usize>() {
            Ok(items) if (1..=10_000).contains(&items) => items.min(PAGE_MAX),
            _ => {
                return Err(lambda_error(
                    StatusCode::BAD_REQUEST,
                    "ValidationException",
                    format!("1 validation error detected: Value '{text}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000"),
                ))
            }
        },
    };
    let start = match query_parameter(&request.query, "Marker") {
        None => 0,
        Some(marker) => selected
            .iter()
            .position(|listed| listed.record.uuid == marker)
            .ok_or_else(|| {
                invalid_parameter(format!(
                    "Marker '{marker}' is not one this listing returned; start again without it"
                ))
            })?,
    };
    let page: Vec<Value> = selected
        .iter()
        .skip(start)
        .take(max)
        .map(|listed| configuration(platform, &listed.record, None))
        .collect();
    let mut body = json!({ "EventSourceMappings": page });
    if let Some(next) = selected.get(start + max) {
        body["NextMarker"] = Value::String(next.record.uuid.clone());
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// Two event source ARNs name the same source: a stream ARN names its table's current
/// stream whatever its label.
fn same_source(asked: &str, mapping: &str) -> bool {
    match (
        serverful_streams::table_of_stream_arn(asked),
        serverful_streams::table_of_stream_arn(mapping),
    ) {
        (Ok(asked), Ok(mapping)) => asked == mapping,
        _ => asked == mapping,
    }
}

/// The mapping `uuid`, if the caller may see it (`action` is what it asks to do).
async fn find(
    request: &RestRequest,
    platform: &Platform,
    uuid: &str,
    action: &str,
) -> Result<Listed, AwsError> {
    let listed = all_mappings(platform)
        .await
        .into_iter()
        .find(|listed| listed.record.uuid == uuid)
        .ok_or_else(|| not_found(request))?;
    authorize(request, action, &listed.record)?;
    Ok(listed)
}

fn may(principal: &Principal, action: &str, record: &EventSourceMappingRecord) -> bool {
    principal.is_unrestricted()
        || principal.allows(
            Action::lambda(action),
            Resource::Function {
                name: &record.function_name,
                qualifier: None,
            },
        )
}

fn authorize(
    request: &RestRequest,
    action: &str,
    record: &EventSourceMappingRecord,
) -> Result<(), AwsError> {
    request
        .principal
        .authorize(
            Action::lambda(action),
            Resource::Function {
                name: &record.function_name,
                qualifier: None,
            },
            &request.region,
        )
        .map_err(|denied| denied.to_lambda_error())
}

fn parse_body(request: &RestRequest) -> Result<Map<String, Value>, AwsError> {
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(body)) => Ok(body),
        Ok(_) | Err(_) => Err(lambda_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "Could not parse request body into json: the body must be a JSON object".to_owned(),
        )),
    }
}

/// The stack and logical id of the function a `FunctionName` (name, partial or full ARN,
/// optionally qualified) names, with its name and qualifier.
fn resolve_function(
    platform: &Platform,
    raw: &str,
) -> Result<(String, String, String, Option<String>), AwsError> {
    platform.function_by_name(raw).ok_or_else(|| {
        let config = platform.config();
        let without_arn = raw.rsplit_once(":function:").map_or(raw, |(_, rest)| rest);
        lambda_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!(
                "Function not found: arn:aws:lambda:{}:{}:function:{without_arn}",
                config.region, config.account_id
            ),
        )
    })
}

/// Lambda's modeled limits, checked before anything else; every failed one is listed.
#[derive(Default)]
struct Violations(Vec<String>);

impl Violations {
    fn range(&mut self, field: &str, value: i64, min: i64, max: i64) {
        if value < min {
            self.0.push(format!("Value '{value}' at '{field}' failed to satisfy constraint: Member must have value greater than or equal to {min}"));
        } else if value > max {
            self.0.push(format!("Value '{value}' at '{field}' failed to satisfy constraint: Member must have value less than or equal to {max}"));
        }
    }

    fn into_error(self) -> Result<(), AwsError> {
        match self.0.len() {
            0 => Ok(()),
            count => Err(lambda_error(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                format!(
                    "{count} validation error{} detected: {}",
                    if count == 1 { "" } else { "s" },
                    self.0.join("; ")
                ),
            )),
        }
    }
}

fn bad_content(field: &str, expected: &str) -> AwsError {
    lambda_error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestContentException",
        format!("Could not parse request body into json: {field} must be {expected}"),
    )
}

fn integer(body: &Map<String, Value>, field: &str) -> Result<Option<i64>, AwsError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad_content(field, "a whole number")),
    }
}

fn boolean(body: &Map<String, Value>, field: &str) -> Result<Option<bool>, AwsError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(_) => Err(bad_content(field, "true or false")),
    }
}

fn string(body: &Map<String, Value>, field: &str) -> Result<Option<String>, AwsError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(bad_content(field, "a string")),
    }
}

/// Applies the settings `body` gives onto `record` (Lambda's defaults for a new one),
/// checked as Lambda checks them. `creating` allows the settings only creation takes.
fn apply_settings(
    body: &Map<String, Value>,
    record: &mut EventSourceMappingRecord,
    creating: bool,
) -> Result<(), AwsError> {
    let mut violations = Violations::default();
    let batch_size = integer(body, "BatchSize")?;
    let window = integer(body, "MaximumBatchingWindowInSeconds")?;
    let retries = integer(body, "MaximumRetryAttempts")?;
    let age = integer(body, "MaximumRecordAgeInSeconds")?;
    let parallelization = integer(body, "ParallelizationFactor")?;
    let tumbling = integer(body, "TumblingWindowInSeconds")?;
    for (field, value, min, max) in [
        ("batchSize", batch_size, 1, 10_000),
        ("maximumBatchingWindowInSeconds", window, 0, 300),
        ("maximumRetryAttempts", retries, -1, 10_000),
        ("maximumRecordAgeInSeconds", age, -1, 604_800),
        ("parallelizationFactor", parallelization, 1, 10),
        ("tumblingWindowInSeconds", tumbling, 0, 900),
    ] {
        if let Some(value) = value {
            violations.range(field, value, min, max);
        }
    }
    let position = if creating {
        string(body, "StartingPosition")?
    } else {
        None
    };
    if let Some(position) = &position {
        if !["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"].contains(&position.as_str()) {
            violations.0.push(format!("Value '{position}' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [AT_TIMESTAMP, TRIM_HORIZON, LATEST]"));
        }
    }
    let response_types = match body.get("FunctionResponseTypes") {
        None | Some(Value::Null) => None,
        Some(Value::Array(types)) => {
            let mut report = false;
            for kind in types {
                match kind.as_str() {
                    Some("ReportBatchItemFailures") => report = true,
                    _ => violations.0.push(format!("Value '{kind}' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]")),
                }
            }
            Some(report)
        }
        Some(_) => return Err(bad_content("FunctionResponseTypes", "a list")),
    };
    violations.into_error()?;

    if let Some(age) = age {
        if (0..60).contains(&age) {
            return Err(invalid_parameter(format!(
                "MaximumRecordAgeInSeconds must be -1 (records never expire) or from 60 to 604800; it is {age}"
            )));
        }
        record.maximum_record_age_secs = age;
    }
    if let Some(position) = position {
        if position == "AT_TIMESTAMP" {
            let at = body
                .get("StartingPositionTimestamp")
                .and_then(Value::as_f64)
                .filter(|at| at.is_finite() && *at >= 0.0)
                .ok_or_else(|| {
                    invalid_parameter(
                        "StartingPositionTimestamp is required with StartingPosition AT_TIMESTAMP"
                            .to_owned(),
                    )
                })?;
            record.starting_position_timestamp = Some(at);
        }
        record.starting_position = Some(position);
    }
    if let Some(batch_size) = batch_size {
        record.batch_size = batch_size as u32;
    }
    if let Some(window) = window {
        record.maximum_batching_window_secs = window as u32;
    }
    if let Some(retries) = retries {
        record.maximum_retry_attempts = retries;
    }
    if let Some(parallelization) = parallelization {
        record.parallelization_factor = parallelization as u32;
    }
    if let Some(tumbling) = tumbling {
        record.tumbling_window_secs = tumbling as u32;
    }
    if let Some(report) = response_types {
        record.report_batch_item_failures = report;
    }
    if let Some(bisect) = boolean(body, "BisectBatchOnFunctionError")? {
        record.bisect_batch_on_function_error = bisect;
    }
    if let Some(enabled) = boolean(body, "Enabled")? {
        record.enabled = enabled;
    }
    if let Some(criteria) = body.get("FilterCriteria").filter(|value| !value.is_null()) {
        record.filter_patterns = filter_patterns(criteria)?;
    }
    if let Some(config) = body
        .get("DestinationConfig")
        .filter(|value| !value.is_null())
    {
        record.on_failure = on_failure(config)?;
    }
    if let Some(scaling) = body.get("ScalingConfig").filter(|value| !value.is_null()) {
        record.maximum_concurrency = match scaling.get("MaximumConcurrency") {
            None | Some(Value::Null) => None,
            Some(value) => {
                let concurrency = value.as_i64().ok_or_else(|| {
                    bad_content("ScalingConfig.MaximumConcurrency", "a whole number")
                })?;
                let mut violations = Violations::default();
                violations.range("scalingConfig.maximumConcurrency", concurrency, 2, 1000);
                violations.into_error()?;
                Some(concurrency as u32)
            }
        };
    }
    Ok(())
}

fn filter_patterns(criteria: &Value) -> Result<Vec<String>, AwsError> {
    let filters = match criteria.get("Filters") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(filters)) => filters,
        Some(_) => return Err(bad_content("FilterCriteria.Filters", "a list")),
    };
    if filters.len() > 5 {
        return Err(invalid_parameter(format!(
            "FilterCriteria has {} filters; Lambda allows at most 5",
            filters.len()
        )));
    }
    filters
        .iter()
        .map(|filter| {
            let pattern = filter
                .get("Pattern")
                .and_then(Value::as_str)
                .ok_or_else(|| bad_content("FilterCriteria.Filters[].Pattern", "a string"))?;
            serverful_eventbridge::EventPattern::parse(pattern).map_err(|error| {
                invalid_parameter(format!("Invalid filter pattern definition. {error}"))
            })?;
            Ok(pattern.to_owned())
        })
        .collect()
}

fn on_failure(config: &Value) -> Result<Option<String>, AwsError> {
    let Some(destination) = config
        .get("OnFailure")
        .and_then(|on_failure| on_failure.get("Destination"))
        .filter(|destination| !destination.is_null())
    else {
        return Ok(None);
    };
    let arn = destination
        .as_str()
        .ok_or_else(|| bad_content("DestinationConfig.OnFailure.Destination", "a string"))?;
    if arn.is_empty() {
        return Ok(None);
    }
    let service = arn.split(':').nth(2).unwrap_or_default();
    if !arn.starts_with("arn:") || !["sqs", "sns", "s3"].contains(&service) {
        return Err(invalid_parameter(format!(
            "The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination={arn})) is invalid: use an Amazon SQS queue, Amazon SNS topic or Amazon S3 bucket ARN"
        )));
    }
    Ok(Some(arn.to_owned()))
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |elapsed| (elapsed.as_millis() as f64) / 1000.0)
}

/// Checks that the event source exists and Serverful can read it.
fn check_source(platform: &Platform, arn: &str) -> Result<(), AwsError> {
    if is_queue(arn) {
        let exists = platform.config().queues.as_ref().is_some_and(|queues| {
            queues
                .queue_of_arn(arn)
                .is_some_and(|name| queues.exists(&name))
        });
        return if exists {
            Ok(())
        } else {
            Err(invalid_parameter(format!(
                "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist ({arn})."
            )))
        };
    }
    match serverful_streams::table_of_stream_arn(arn) {
        Ok(table) => match platform.store().stream_info(table) {
            Ok(Some(_)) => Ok(()),
            _ => Err(invalid_parameter(format!("Stream not found: {arn}"))),
        },
        Err(_) if arn.starts_with("arn:aws:dynamodb:") => Err(invalid_parameter(format!(
            "'{arn}' is not a DynamoDB stream ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL)"
        ))),
        Err(_) => Err(invalid_parameter(format!(
            "Unrecognized event source, must be kinesis, dynamodb stream or sqs: Serverful maps DynamoDB streams and SQS queues to functions, not {arn}"
        ))),
    }
}

async fn create(
    request: &RestRequest,
    platform: &Arc<Platform>,
) -> Result<Response<Bytes>, AwsError> {
    let body = parse_body(request)?;
    let function = string(&body, "FunctionName")?;
    let source = string(&body, "EventSourceArn")?;
    let mut violations = Violations::default();
    if function.is_none() {
        violations.0.push(
            "Value null at 'functionName' failed to satisfy constraint: Member must not be null"
                .to_owned(),
        );
    }
    violations.into_error()?;
    let function = function.unwrap_or_default();
    let source = source.ok_or_else(|| {
        invalid_parameter(
            "Unrecognized event source, must be kinesis, dynamodb stream or sqs: EventSourceArn is missing"
                .to_owned(),
        )
    })?;
    let (stack, logical_id, function_name, qualifier) = resolve_function(platform, &function)?;
    let mut record = EventSourceMappingRecord {
        uuid: uuid::Uuid::new_v4().to_string(),
        stack,
        function: logical_id,
        function_name,
        qualifier,
        event_source_arn: source.clone(),
        starting_position: None,
        starting_position_timestamp: None,
        batch_size: if is_queue(&source) { 10 } else { 100 },
        maximum_batching_window_secs: 0,
        maximum_retry_attempts: -1,
        maximum_record_age_secs: -1,
        bisect_batch_on_function_error: false,
        parallelization_factor: 1,
        tumbling_window_secs: 0,
        report_batch_item_failures: false,
        filter_patterns: Vec::new(),
        on_failure: None,
        maximum_concurrency: None,
        enabled: true,
        last_modified: now_seconds(),
    };
    authorize(request, "CreateEventSourceMapping", &record)?;
    apply_settings(&body, &mut record, true)?;
    check_source(platform, &source)?;
    if is_queue(&source) {
        check_queue_settings(&record)?;
    } else if record.starting_position.is_none() {
        return Err(invalid_parameter(
            "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: StartingPosition is required for a DynamoDB stream (TRIM_HORIZON, LATEST or AT_TIMESTAMP)".to_owned(),
        ));
    }
    if let Some(existing) = all_mappings(platform).await.into_iter().find(|listed| {
        listed.record.function_name == record.function_name
            && same_source(&listed.record.event_source_arn, &source)
    }) {
        let message = if is_queue(&source) {
            format!(
                "An event source mapping with SQS arn (\" {source} \") and function (\" {} \") already exists. Please update or delete the existing mapping with UUID {}",
                record.function_name, existing.record.uuid
            )
        } else {
            format!(
                "The event source arn (\" {source} \") and function (\" {} \") provided mapping already exists. Please update or delete the existing mapping with UUID {}",
                record.function_name, existing.record.uuid
            )
        };
        return Err(lambda_error(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            message,
        ));
    }
    platform
        .put_runtime_mapping(record.clone())
        .await
        .map_err(|error| AwsError::internal(error.to_string()))?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &configuration(platform, &record, Some("Creating")),
    ))
}

/// What Lambda refuses of a queue mapping's settings.
fn check_queue_settings(record: &EventSourceMappingRecord) -> Result<(), AwsError> {
    if record.starting_position.is_some() {
        return Err(invalid_parameter(
            "StartingPosition is not valid for SQS event sources.".to_owned(),
        ));
    }
    if record.batch_size > 10 && record.maximum_batching_window_secs == 0 {
        return Err(invalid_parameter(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10".to_owned(),
        ));
    }
    if record.tumbling_window_secs > 0 || record.parallelization_factor > 1 {
        return Err(invalid_parameter(
            "TumblingWindowInSeconds and ParallelizationFactor apply to streams, not SQS event sources.".to_owned(),
        ));
    }
    Ok(())
}

/// A template's mapping cannot be changed here: the next deploy would undo it.
fn owned_by_template(listed: &Listed) -> Result<(), AwsError> {
    match &listed.from_template {
        None => Ok(()),
        Some(stack) => Err(lambda_error(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            format!(
                "The event source mapping {} belongs to stack {stack}'s template; change it there and deploy",
                listed.record.uuid
            ),
        )),
    }
}

async fn update(
    request: &RestRequest,
    platform: &Arc<Platform>,
    uuid: &str,
) -> Result<Response<Bytes>, AwsError> {
    let body = parse_body(request)?;
    let listed = find(request, platform, uuid, "UpdateEventSourceMapping").await?;
    owned_by_template(&listed)?;
    let mut record = listed.record;
    if let Some(function) = string(&body, "FunctionName")? {
        let (stack, logical_id, function_name, qualifier) = resolve_function(platform, &function)?;
        record.stack = stack;
        record.function = logical_id;
        record.function_name = function_name;
        record.qualifier = qualifier;
        authorize(request, "UpdateEventSourceMapping", &record)?;
    }
    apply_settings(&body, &mut record, false)?;
    if is_queue(&record.event_source_arn) {
        check_queue_settings(&record)?;
    }
    record.last_modified = now_seconds();
    platform
        .put_runtime_mapping(record.clone())
        .await
        .map_err(|error| AwsError::internal(error.to_string()))?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &configuration(platform, &record, Some("Updating")),
    ))
}

async fn delete(
    request: &RestRequest,
    platform: &Arc<Platform>,
    uuid: &str,
) -> Result<Response<Bytes>, AwsError> {
    let listed = find(request, platform, uuid, "DeleteEventSourceMapping").await?;
    owned_by_template(&listed)?;
    platform
        .delete_runtime_mapping(uuid)
        .await
        .map_err(|error| AwsError::internal(error.to_string()))?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &configuration(platform, &listed.record, Some("Deleting")),
    ))
}

/// The function name of a name, partial ARN or ARN, without its qualifier.
fn function_name(name: &str) -> &str {
    let name = name
        .rsplit_once(":function:")
        .map_or(name, |(_, rest)| rest);
    name.split_once(':').map_or(name, |(bare, _)| bare)
}

/// `EventSourceMappingConfiguration`; `state` overrides the settled state while a change
/// is being applied (`Creating`, `Updating`, `Deleting`).
fn configuration(
    platform: &Platform,
    record: &EventSourceMappingRecord,
    state: Option<&str>,
) -> Value {
    let config = platform.config();
    let function_arn = format!(
        "arn:aws:lambda:{}:{}:function:{}{}",
        config.region,
        config.account_id,
        record.function_name,
        record
            .qualifier
            .as_ref()
            .map(|qualifier| format!(":{qualifier}"))
            .unwrap_or_default()
    );
    let settled = if record.enabled {
        "Enabled"
    } else {
        "Disabled"
    };
    if is_queue(&record.event_source_arn) {
        let mut body = json!({
            "UUID": record.uuid,
            "EventSourceMappingArn": format!("arn:aws:lambda:{}:{}:event-source-mapping:{}", config.region, config.account_id, record.uuid),
            "BatchSize": record.batch_size,
            "MaximumBatchingWindowInSeconds": record.maximum_batching_window_secs,
            "EventSourceArn": record.event_source_arn,
            "FunctionArn": function_arn,
            "LastModified": record.last_modified,
            "State": state.unwrap_or(settled),
            "StateTransitionReason": "USER_INITIATED",
            "FunctionResponseTypes": if record.report_batch_item_failures { json!(["ReportBatchItemFailures"]) } else { json!([]) },
        });
        if !record.filter_patterns.is_empty() {
            body["FilterCriteria"] = json!({
                "Filters": record.filter_patterns.iter().map(|pattern| json!({"Pattern": pattern})).collect::<Vec<_>>(),
            });
        }
        if let Some(concurrency) = record.maximum_concurrency {
            body["ScalingConfig"] = json!({ "MaximumConcurrency": concurrency });
        }
        return body;
    }
    let mut body = json!({
        "UUID": record.uuid,
        "EventSourceMappingArn": format!("arn:aws:lambda:{}:{}:event-source-mapping:{}", config.region, config.account_id, record.uuid),
        "BatchSize": record.batch_size,
        "MaximumBatchingWindowInSeconds": record.maximum_batching_window_secs,
        "ParallelizationFactor": record.parallelization_factor,
        "EventSourceArn": record.event_source_arn,
        "FunctionArn": function_arn,
        "LastModified": record.last_modified,
        "LastProcessingResult": "No records processed",
        "State": state.unwrap_or(settled),
        "StateTransitionReason": "USER_INITIATED",
        "DestinationConfig": {
            "OnFailure": record.on_failure.as_ref().map_or(json!({}), |arn| json!({"Destination": arn})),
        },
        "MaximumRecordAgeInSeconds": record.maximum_record_age_secs,
        "BisectBatchOnFunctionError": record.bisect_batch_on_function_error,
        "MaximumRetryAttempts": record.maximum_retry_attempts,
        "TumblingWindowInSeconds": record.tumbling_window_secs,
        "FunctionResponseTypes": if record.report_batch_item_failures { json!(["ReportBatchItemFailures"]) } else { json!([]) },
    });
    if let Some(position) = &record.starting_position {
        body["StartingPosition"] = json!(position);
    }
    if let Some(at) = record.starting_position_timestamp {
        body["StartingPositionTimestamp"] = json!(at);
    }
    if !record.filter_patterns.is_empty() {
        body["FilterCriteria"] = json!({
            "Filters": record.filter_patterns.iter().map(|pattern| json!({"Pattern": pattern})).collect::<Vec<_>>(),
        });
    }
    if let Some(concurrency) = record.maximum_concurrency {
        body["ScalingConfig"] = json!({ "MaximumConcurrency": concurrency });
    }
    body
}

fn query_parameter(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| {
            percent_encoding::percent_decode_str(&value.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

fn json_response(status: StatusCode, body: &Value) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
