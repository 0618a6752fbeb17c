//! The Lambda API on the AWS endpoint: `Invoke`, `ListFunctions`, `GetFunction` and
//! `GetFunctionConfiguration`, over every stack's functions (their current versions),
//! in Lambda's REST-JSON shapes, so the AWS SDKs and CLI (`aws lambda invoke
//! --endpoint-url ...`) can call functions by name or ARN. A caller reaches only the
//! functions its principal may (a stack's keys: the stack's own), and lists only those.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, Response, StatusCode};
use serde_json::{json, Value};
use serverful_aws::{Action, AwsError, Principal, Resource, RestRequest, RestService, Route};
use serverful_invoke::{FunctionRef, InvokeError};
use serverful_runtime as runtime;
use serverful_template as template;

use crate::server::Platform;

/// The API version prefix every Lambda path starts with.
const PREFIX: &str = "/2015-03-31/functions";

/// What the Lambda API reports about one function.
#[derive(Debug, Clone)]
struct FunctionInfo {
    /// The stack it belongs to.
    pub stack: String,
    /// Its key in the stack (the logical id).
    pub logical_id: String,
    /// `FunctionName`, or the name CloudFormation would generate.
    pub name: String,
    pub runtime: String,
    pub handler: String,
    pub timeout_secs: u32,
    pub memory_mb: u32,
    pub architectures: Vec<String>,
    pub environment: std::collections::BTreeMap<String, String>,
}

impl FunctionInfo {
    fn from_template(stack: &str, function: &template::Function) -> FunctionInfo {
        FunctionInfo {
            stack: stack.to_owned(),
            logical_id: function.logical_id.clone(),
            name: function.name.clone(),
            runtime: function.runtime.clone(),
            handler: function.handler.clone(),
            timeout_secs: function.timeout_secs,
            memory_mb: function.memory_mb,
            architectures: function.architectures.clone(),
            environment: function.environment.clone(),
        }
    }
}

/// The Lambda API over a platform's stacks.
#[derive(Debug, Clone)]
pub struct LambdaApi {
    pub platform: Arc<Platform>,
}

impl LambdaApi {
    /// Every stack's functions, as they are now (deploys change them).
    fn infos(&self) -> Vec<FunctionInfo> {
        self.platform
            .current_versions()
            .iter()
            .flat_map(|version| {
                version
                    .app
                    .functions
                    .iter()
                    .map(|function| FunctionInfo::from_template(&version.record.stack, function))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

impl RestService for LambdaApi {
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
        // Lambda's synchronous payload limit, plus room for the request's own framing.
        runtime::MAX_PAYLOAD_BYTES + 1024
    }

    fn call(&self, request: RestRequest) -> BoxFuture<'static, Result<Response<Bytes>, AwsError>> {
        let platform = self.platform.clone();
        let infos = self.infos();
        let account_id = platform.config().account_id.clone();
        Box::pin(async move { dispatch(request, &platform, &infos, &account_id).await })
    }
}

async fn dispatch(
    request: RestRequest,
    platform: &Arc<Platform>,
    infos: &[FunctionInfo],
    account_id: &str,
) -> Result<Response<Bytes>, AwsError> {
    let rest = request.path.strip_prefix(PREFIX).unwrap_or_default();
    let segments: Vec<&str> = rest
        .trim_matches('/')
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    authorize(&request, &segments)?;
    let arn = |info: &FunctionInfo| {
        format!(
            "arn:aws:lambda:{}:{account_id}:function:{}",
            request.region, info.name
        )
    };
    match (&request.method, segments.as_slice()) {
        (&Method::GET, []) => {
            let list: Vec<Value> = infos
                .iter()
                .filter(|info| visible(&request.principal, info))
                .map(|info| configuration(info, &arn(info)))
                .collect();
            json_response(StatusCode::OK, &json!({"Functions": list}))
        }
        (&Method::GET, [name]) => {
            let info = find(infos, name, &request, account_id)?;
            let body = json!({
                "Configuration": configuration(info, &arn(info)),
                "Code": {"RepositoryType": "Local"},
            });
            json_response(StatusCode::OK, &body)
        }
        (&Method::GET, [name, "configuration"]) => {
            let info = find(infos, name, &request, account_id)?;
            json_response(StatusCode::OK, &configuration(info, &arn(info)))
        }
        (&Method::POST, [name, "invocations"]) => {
            let info = find(infos, name, &request, account_id)?.clone();
            invoke(request, platform.clone(), info).await
        }
        _ => Err(AwsError::new(
            StatusCode::NOT_FOUND,
            "com.amazonaws.lambda",
            "UnknownOperationException",
            "Unknown operation",
        )),
    }
}

/// Checks that the caller may act on the function a call names, by the name it gives,
/// before the function is looked up: as on AWS, a caller refused a function cannot tell
/// whether it exists. The name is read exactly as [`find`] reads it (a name, or a full or
/// partial ARN, then `:qualifier` or `?Qualifier=`). A listing is filtered instead
/// ([`visible`]).
fn authorize(request: &RestRequest, segments: &[&str]) -> Result<(), AwsError> {
    let principal = &request.principal;
    if principal.is_unrestricted() {
        return Ok(());
    }
    let Some((raw_name, rest)) = segments.split_first() else {
        return principal
            .authorize(
                Action::lambda("ListFunctions"),
                Resource::Listing,
                &request.region,
            )
            .map_err(|denied| denied.to_lambda_error());
    };
    let action = match (&request.method, rest) {
        (&Method::POST, ["invocations"]) => "InvokeFunction",
        (&Method::GET, ["configuration"]) => "GetFunctionConfiguration",
        (&Method::GET, ["versions"]) => "ListVersionsByFunction",
        (&Method::GET, ["aliases"]) => "ListAliases",
        (&Method::GET, ["aliases", _]) => "GetAlias",
        (&Method::GET, _) => "GetFunction",
        (&Method::DELETE, []) => "DeleteFunction",
        // Every other call on a function changes it.
        _ => "UpdateFunctionConfiguration",
    };
    let decoded = percent_decode(raw_name);
    let without_arn = decoded
        .rsplit_once(":function:")
        .map_or(decoded.as_str(), |(_, rest)| rest);
    let (name, qualifier) = match without_arn.split_once(':') {
        Some((name, qualifier)) => (name, Some(qualifier.to_owned())),
        None => (without_arn, query_parameter(&request.query, "Qualifier")),
    };
    principal
        .authorize(
            Action::lambda(action),
            Resource::Function {
                name,
                qualifier: qualifier.as_deref(),
            },
            &request.region,
        )
        .map_err(|denied| denied.to_lambda_error())
}

/// Whether a listing shows the function to the caller.
fn visible(principal: &Principal, info: &FunctionInfo) -> bool {
    principal.allows(
        Action::lambda("GetFunction"),
        Resource::Function {
            name: &info.name,
            qualifier: None,
        },
    )
}

/// Lambda accepts a name, a partial ARN (`123456789012:function:name`) or a full ARN,
/// each with an optional `:qualifier`; only `$LATEST` (or none) exists here.
fn find<'a>(
    infos: &'a [FunctionInfo],
    raw_name: &str,
    request: &RestRequest,
    account_id: &str,
) -> Result<&'a FunctionInfo, AwsError> {
    let decoded = percent_decode(raw_name);
    let without_arn = decoded
        .rsplit_once(":function:")
        .map_or(decoded.as_str(), |(_, rest)| rest);
    let (name, qualifier) = match without_arn.split_once(':') {
        Some((name, qualifier)) => (name, Some(qualifier)),
        None => (without_arn, None),
    };
    let query_qualifier = query_parameter(&request.query, "Qualifier");
    let qualifier = qualifier.or(query_qualifier.as_deref());
    // By the function's name only, as on AWS: a logical id means nothing to Lambda.
    let info = infos.iter().find(|info| info.name == name);
    match (info, qualifier) {
        (Some(info), None | Some("$LATEST")) => Ok(info),
        _ => Err(AwsError::new(
            StatusCode::NOT_FOUND,
            "com.amazonaws.lambda",
            "ResourceNotFoundException",
            format!(
                "Function not found: arn:aws:lambda:{}:{account_id}:function:{name}{}",
                request.region,
                qualifier
                    .map(|qualifier| format!(":{qualifier}"))
                    .unwrap_or_default()
            ),
        )),
    }
}

async fn invoke(
    request: RestRequest,
    platform: Arc<Platform>,
    info: FunctionInfo,
) -> Result<Response<Bytes>, AwsError> {
    let function = FunctionRef::new(info.stack.as_str(), info.logical_id.as_str());
    let invocation_type =
        header(&request, "x-amz-invocation-type").unwrap_or_else(|| "RequestResponse".to_owned());
    let payload = if request.body.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        request.body.clone()
    };
    if serde_json::from_slice::<Value>(&payload).is_err() {
        return Err(AwsError::new(
            StatusCode::BAD_REQUEST,
            "com.amazonaws.lambda",
            "InvalidRequestContentException",
            "Could not parse request body into json: the payload is not valid JSON",
        ));
    }
    match invocation_type.as_str() {
        "RequestResponse" => {}
        "Event" => {
            // Asynchronous invocation: accepted now, run in the background; its outcome
            // shows only in the function's logs, as on Lambda without destinations.
            tokio::spawn(async move {
                if let Err(error) = platform.invoke(&function, payload).await {
                    tracing::warn!("asynchronous invocation of {} failed: {error}", info.logical_id);
                }
            });
            return Ok(empty_response(StatusCode::ACCEPTED));
        }
        "DryRun" => return Ok(empty_response(StatusCode::NO_CONTENT)),
        other => {
            return Err(AwsError::new(
                StatusCode::BAD_REQUEST,
                "com.amazonaws.lambda",
                "InvalidParameterValueException",
                format!("1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"),
            ))
        }
    }
    let function_error = |body: Bytes| {
        let mut response = payload_response(StatusCode::OK, body);
        response.headers_mut().insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
        response
    };
    match platform.invoke(&function, payload).await {
        Ok(result) => Ok(payload_response(StatusCode::OK, result)),
        Err(InvokeError::FunctionError(error)) => Ok(function_error(error)),
        Err(InvokeError::Timeout) => Ok(function_error(Bytes::from(
            json!({
                "errorType": "Sandbox.Timedout",
                "errorMessage": format!("Task timed out after {}.00 seconds", info.timeout_secs),
            })
            .to_string(),
        ))),
        Err(InvokeError::PayloadTooLarge) => Ok(function_error(Bytes::from(
            json!({
                "errorType": "Function.ResponseSizeTooLarge",
                "errorMessage": format!("Response payload size exceeded maximum allowed payload size ({} bytes).", runtime::MAX_PAYLOAD_BYTES),
            })
            .to_string(),
        ))),
        Err(InvokeError::Throttled) => Err(AwsError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "com.amazonaws.lambda",
            "TooManyRequestsException",
            "Rate Exceeded.",
        )),
        Err(InvokeError::NoSuchFunction(name)) => Err(AwsError::new(
            StatusCode::NOT_FOUND,
            "com.amazonaws.lambda",
            "ResourceNotFoundException",
            format!("Function not found: {name}"),
        )),
        Err(InvokeError::Unavailable(reason)) => Err(AwsError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "com.amazonaws.lambda",
            "ServiceException",
            reason,
        )),
    }
}

fn configuration(info: &FunctionInfo, arn: &str) -> Value {
    json!({
        "FunctionName": info.name,
        "FunctionArn": arn,
        "Runtime": info.runtime,
        "Handler": info.handler,
        "Role": format!("{}Role", info.logical_id),
        "Timeout": info.timeout_secs,
        "MemorySize": info.memory_mb,
        "Version": "$LATEST",
        "Environment": {"Variables": info.environment},
        "Architectures": info.architectures,
        "PackageType": "Zip",
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "TracingConfig": {"Mode": "PassThrough"},
        "EphemeralStorage": {"Size": 512},
    })
}

fn header(request: &RestRequest, name: &str) -> Option<String> {
    request
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

fn query_parameter(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| percent_decode(value))
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn json_response(status: StatusCode, body: &Value) -> Result<Response<Bytes>, AwsError> {
    let mut response = payload_response(status, Bytes::from(body.to_string()));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

fn payload_response(status: StatusCode, body: Bytes) -> Response<Bytes> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    response
}

fn empty_response(status: StatusCode) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = status;
    response
}
