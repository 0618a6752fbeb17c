//! The Lambda API's read side of event-source mappings on the AWS endpoint:
//! `ListEventSourceMappings` (with `FunctionName`, `EventSourceArn`, `Marker`, `MaxItems`)
//! and `GetEventSourceMapping`, over the DynamoDB stream mappings of every stack's current
//! version, in Lambda's shapes (`aws lambda list-event-source-mappings` works). A caller
//! sees only the mappings of functions it may read. Creating, updating and deleting
//! mappings at run time is not supported yet (`UnknownOperationException`).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, Response, StatusCode};
use serde_json::{json, Value};
use serverful_aws::{Action, AwsError, Principal, Resource, RestRequest, RestService, Route};
use serverful_streams::Mapping;

use crate::server::Platform;

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
        64 * 1024
    }

    fn call(&self, request: RestRequest) -> BoxFuture<'static, Result<Response<Bytes>, AwsError>> {
        let platform = self.platform.clone();
        Box::pin(async move {
            let mappings = platform.stream_mappings().list().await;
            dispatch(&request, &platform, mappings)
        })
    }
}

fn lambda_error(status: StatusCode, kind: &'static str, message: String) -> AwsError {
    AwsError::new(status, "com.amazonaws.lambda", kind, message)
}

fn dispatch(
    request: &RestRequest,
    platform: &Platform,
    mappings: Vec<Mapping>,
) -> Result<Response<Bytes>, AwsError> {
    let rest = request.path.strip_prefix(PREFIX).unwrap_or_default();
    let segments: Vec<&str> = rest
        .trim_matches('/')
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    let mut visible: Vec<Mapping> = mappings
        .into_iter()
        .filter(|mapping| may_read(&request.principal, mapping))
        .collect();
    visible.sort_by(|left, right| left.uuid.cmp(&right.uuid));
    match (&request.method, segments.as_slice()) {
        (&Method::GET, []) => {
            let function = query_parameter(&request.query, "FunctionName");
            let source = query_parameter(&request.query, "EventSourceArn");
            let selected: Vec<&Mapping> = visible
                .iter()
                .filter(|mapping| {
                    function
                        .as_deref()
                        .is_none_or(|name| function_name(name) == function_name(&mapping.function_arn))
                })
                .filter(|mapping| {
                    source.as_deref().is_none_or(|arn| {
                        serverful_streams::table_of_stream_arn(arn)
                            .is_ok_and(|table| table == mapping.table_name)
                    })
                })
                .collect();
            let max = match query_parameter(&request.query, "MaxItems") {
                None => PAGE_MAX,
                Some(text) => match text.parse::<usize>() {
                    Ok(items) if (1..=10_000).contains(&items) => items.min(PAGE_MAX),
                    _ => {
                        return Err(lambda_error(
                            StatusCode::BAD_REQUEST,
                            "InvalidParameterValueException",
                            format!("1 validation error detected: Value '{text}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000"),
                        ))
                    }
                },
            };
            let start = match query_parameter(&request.query, "Marker") {
                None => 0,
                Some(marker) => selected
                    .iter()
                    .position(|mapping| mapping.uuid == marker)
                    .ok_or_else(|| {
                        lambda_error(
                            StatusCode::BAD_REQUEST,
                            "InvalidParameterValueException",
                            format!("Marker '{marker}' is not one this listing returned; start again without it"),
                        )
                    })?,
            };
            let page: Vec<Value> = selected
                .iter()
                .skip(start)
                .take(max)
                .map(|mapping| configuration(platform, mapping))
                .collect();
            let mut body = json!({ "EventSourceMappings": page });
            if let Some(next) = selected.get(start + max) {
                body["NextMarker"] = Value::String(next.uuid.clone());
            }
            Ok(json_response(StatusCode::OK, &body))
        }
        (&Method::GET, [uuid]) => {
            let mapping = visible
                .iter()
                .find(|mapping| mapping.uuid == *uuid)
                .ok_or_else(|| {
                    lambda_error(
                        StatusCode::NOT_FOUND,
                        "ResourceNotFoundException",
                        format!("The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {})", request.request_id),
                    )
                })?;
            Ok(json_response(StatusCode::OK, &configuration(platform, mapping)))
        }
        _ => Err(lambda_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "Unknown operation: creating, updating and deleting event source mappings at run time is not supported yet; declare them in the template".to_owned(),
        )),
    }
}

/// The function name of a name, partial ARN or ARN, without its qualifier.
fn function_name(name: &str) -> &str {
    let name = name
        .rsplit_once(":function:")
        .map_or(name, |(_, rest)| rest);
    name.split_once(':').map_or(name, |(bare, _)| bare)
}

fn may_read(principal: &Principal, mapping: &Mapping) -> bool {
    principal.is_unrestricted()
        || principal.allows(
            Action::lambda("GetFunction"),
            Resource::Function {
                name: function_name(&mapping.function_arn),
                qualifier: None,
            },
        )
}

/// `EventSourceMappingConfiguration`.
fn configuration(platform: &Platform, mapping: &Mapping) -> Value {
    let stream = platform
        .store()
        .stream_info(&mapping.table_name)
        .ok()
        .flatten();
    let function_arn = match &mapping.function.qualifier {
        Some(qualifier) => format!("{}:{qualifier}", mapping.function_arn),
        None => mapping.function_arn.clone(),
    };
    let mut body = json!({
        "UUID": mapping.uuid,
        "StartingPosition": mapping.starting_position.name(),
        "BatchSize": mapping.batch_size,
        "MaximumBatchingWindowInSeconds": mapping.batching_window.as_secs(),
        "ParallelizationFactor": mapping.parallelization_factor,
        "EventSourceArn": stream.map(|stream| stream.stream_arn),
        "FunctionArn": function_arn,
        "State": if mapping.enabled { "Enabled" } else { "Disabled" },
        "StateTransitionReason": "User action",
        "LastProcessingResult": "OK",
        "DestinationConfig": {
            "OnFailure": mapping.on_failure.as_ref().map_or(json!({}), |arn| json!({"Destination": arn})),
        },
        "MaximumRecordAgeInSeconds": mapping.maximum_record_age.map_or(-1, |age| age.as_secs() as i64),
        "BisectBatchOnFunctionError": mapping.bisect_batch_on_function_error,
        "MaximumRetryAttempts": mapping.maximum_retry_attempts.map_or(-1, i64::from),
        "TumblingWindowInSeconds": 0,
        "FunctionResponseTypes": if mapping.report_batch_item_failures { json!(["ReportBatchItemFailures"]) } else { json!([]) },
    });
    if let serverful_streams::StartingPosition::AtTimestamp(at) = mapping.starting_position {
        body["StartingPositionTimestamp"] = json!(at);
    }
    if !mapping.filter_patterns.is_empty() {
        body["FilterCriteria"] = json!({
            "Filters": mapping.filter_patterns.iter().map(|pattern| json!({"Pattern": pattern})).collect::<Vec<_>>(),
        });
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
