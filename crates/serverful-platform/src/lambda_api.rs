//! The Lambda API on the AWS endpoint: `Invoke`, `InvokeWithResponseStream` (answered in
//! `lambda_stream`), `ListFunctions`, `GetFunction`,
//! `GetFunctionConfiguration`, `ListVersionsByFunction`, `ListAliases` and `GetAlias`,
//! over every stack's functions (as their current deploys have them), in Lambda's
//! REST-JSON shapes, so the AWS SDKs and CLI (`aws lambda invoke --endpoint-url ...`) can
//! call functions by name or ARN, qualified by `$LATEST`, a version number or an alias.
//! A caller reaches only the functions its principal may (a stack's keys: the stack's
//! own), and lists only those.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, Response, StatusCode};
use serde_json::{json, Value};
use serverful_aws::{Action, AwsError, Principal, Resource, RestRequest, RestService, Route};
use serverful_invoke::{FunctionRef, InvokeError};
use serverful_runtime as runtime;
use serverful_template as template;

use crate::lambda_stream;
use crate::lambda_versions;
use crate::server::{LiveVersion, Platform};
use crate::state::{FunctionSettings, FunctionVersionRecord};

/// The API version prefix every Lambda path starts with.
const PREFIX: &str = "/2015-03-31/functions";

/// The prefix of `InvokeWithResponseStream`, which has an API version of its own.
const STREAMING_PREFIX: &str = "/2021-11-15/functions";

/// The most versions `ListVersionsByFunction` returns at once, as on Lambda; also the
/// default page of `ListAliases`.
const PAGE_MAX: usize = 50;

/// One function of a stack's current deploy, with what the Lambda API reports about it.
#[derive(Debug, Clone)]
struct FunctionInfo {
    /// The stack it belongs to.
    stack: String,
    /// Its key in the stack (the logical id).
    logical_id: String,
    /// `$LATEST`'s configuration.
    latest: FunctionSettings,
    /// `$LATEST`'s `CodeSha256`.
    code_sha256: String,
    /// The deploy it is part of: its aliases and versions.
    deploy: Arc<LiveVersion>,
    /// The stack's published versions.
    published: Arc<Vec<FunctionVersionRecord>>,
}

impl FunctionInfo {
    /// The published versions of this function, by number.
    fn versions(&self) -> impl Iterator<Item = &FunctionVersionRecord> {
        self.published
            .iter()
            .filter(|version| version.function == self.logical_id)
    }

    fn version(&self, number: u32) -> Option<&FunctionVersionRecord> {
        self.versions().find(|version| version.number == number)
    }

    /// Its aliases, by name.
    fn aliases(&self) -> Vec<&template::Alias> {
        let mut aliases: Vec<&template::Alias> = self
            .deploy
            .app
            .aliases
            .iter()
            .filter(|alias| alias.function == self.logical_id)
            .collect();
        aliases.sort_by(|a, b| a.name.cmp(&b.name));
        aliases
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
                let published = self.platform.published(&version.record.stack);
                version
                    .app
                    .functions
                    .iter()
                    .map(|function| {
                        let digest = version.digests.get(&function.logical_id);
                        FunctionInfo {
                            stack: version.record.stack.clone(),
                            logical_id: function.logical_id.clone(),
                            latest: lambda_versions::settings(
                                function,
                                digest.map(|digest| digest.code_size).unwrap_or_default(),
                            ),
                            code_sha256: digest
                                .map(|digest| digest.code_sha256.clone())
                                .unwrap_or_default(),
                            deploy: version.clone(),
                            published: published.clone(),
                        }
                    })
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
        (route.path.starts_with(PREFIX) || route.path.starts_with(STREAMING_PREFIX))
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

    fn call_streaming(
        &self,
        request: RestRequest,
    ) -> BoxFuture<'static, Result<Response<axum::body::Body>, AwsError>> {
        if !request.path.starts_with(STREAMING_PREFIX) {
            let call = self.call(request);
            return Box::pin(async move {
                call.await
                    .map(|response| response.map(axum::body::Body::from))
            });
        }
        let platform = self.platform.clone();
        let infos = self.infos();
        let account_id = platform.config().account_id.clone();
        Box::pin(async move { dispatch_streaming(request, platform, &infos, &account_id).await })
    }
}

/// `InvokeWithResponseStream`, the one operation under [`STREAMING_PREFIX`].
async fn dispatch_streaming(
    request: RestRequest,
    platform: Arc<Platform>,
    infos: &[FunctionInfo],
    account_id: &str,
) -> Result<Response<axum::body::Body>, AwsError> {
    let rest = request
        .path
        .strip_prefix(STREAMING_PREFIX)
        .unwrap_or_default();
    let segments: Vec<&str> = rest
        .trim_matches('/')
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    let [name, "response-streaming-invocations"] = segments.as_slice() else {
        return Err(unknown_operation());
    };
    if request.method != Method::POST {
        return Err(unknown_operation());
    }
    authorize(&request, &segments)?;
    let arns = Arns {
        region: &request.region,
        account_id,
    };
    let (info, qualifier) = find(infos, name, &request, &arns)?;
    // An unknown qualifier is refused before anything runs, a dry run included.
    configuration(info, &arns, qualifier.as_deref())?;
    let asked = lambda_stream::check_request(&request)?;
    let payload = invocation_payload(&request)?;
    if asked.dry_run {
        return Ok(empty_response(StatusCode::NO_CONTENT).map(axum::body::Body::from));
    }
    let mut function =
        FunctionRef::new(info.stack.as_str(), info.logical_id.as_str()).with_trigger("lambda-api");
    if let Some(qualifier) = &qualifier {
        function = function.with_qualifier(qualifier.as_str());
    }
    lambda_stream::invoke(
        platform,
        lambda_stream::StreamCall {
            function,
            payload,
            timeout_secs: u64::from(info.latest.timeout_secs),
            log_tail: asked.log_tail.then(runtime::LogTail::new),
        },
    )
    .await
}

fn unknown_operation() -> AwsError {
    AwsError::new(
        StatusCode::NOT_FOUND,
        "com.amazonaws.lambda",
        "UnknownOperationException",
        "Unknown operation",
    )
}

/// The event of an invocation: the body, `{}` when empty; a body over Lambda's 6 MB or
/// that is not JSON is refused as Lambda refuses it.
fn invocation_payload(request: &RestRequest) -> Result<Bytes, AwsError> {
    let payload = if request.body.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        request.body.clone()
    };
    if payload.len() > runtime::MAX_PAYLOAD_BYTES {
        return Err(AwsError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "com.amazonaws.lambda",
            "RequestTooLargeException",
            format!(
                "Request must be smaller than {} bytes for the InvokeFunction operation",
                runtime::MAX_PAYLOAD_BYTES
            ),
        ));
    }
    if serde_json::from_slice::<Value>(&payload).is_err() {
        return Err(AwsError::new(
            StatusCode::BAD_REQUEST,
            "com.amazonaws.lambda",
            "InvalidRequestContentException",
            "Could not parse request body into json: the payload is not valid JSON",
        ));
    }
    Ok(payload)
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
    let arns = Arns {
        region: &request.region,
        account_id,
    };
    match (&request.method, segments.as_slice()) {
        (&Method::GET, []) => {
            let list: Vec<Value> = infos
                .iter()
                .filter(|info| visible(&request.principal, info))
                .map(|info| configuration(info, &arns, None).unwrap_or(Value::Null))
                .collect();
            json_response(StatusCode::OK, &json!({"Functions": list}))
        }
        (&Method::GET, [name]) => {
            let (info, qualifier) = find(infos, name, &request, &arns)?;
            let body = json!({
                "Configuration": configuration(info, &arns, qualifier.as_deref())?,
                "Code": {"RepositoryType": "Local"},
            });
            json_response(StatusCode::OK, &body)
        }
        (&Method::GET, [name, "configuration"]) => {
            let (info, qualifier) = find(infos, name, &request, &arns)?;
            json_response(
                StatusCode::OK,
                &configuration(info, &arns, qualifier.as_deref())?,
            )
        }
        (&Method::GET, [name, "versions"]) => {
            let (info, _) = find(infos, name, &request, &arns)?;
            list_versions(info, &arns, &request)
        }
        (&Method::GET, [name, "aliases"]) => {
            let (info, _) = find(infos, name, &request, &arns)?;
            list_aliases(info, &arns, &request)
        }
        (&Method::GET, [name, "aliases", alias]) => {
            let (info, _) = find(infos, name, &request, &arns)?;
            let alias_name = percent_decode(alias);
            let alias = info
                .aliases()
                .into_iter()
                .find(|alias| alias.name == alias_name)
                .ok_or_else(|| {
                    not_found(format!(
                        "Alias not found: {}",
                        arns.qualified(info, &alias_name)
                    ))
                })?;
            json_response(StatusCode::OK, &alias_configuration(info, &arns, alias))
        }
        (&Method::POST, [name, "invocations"]) => {
            let (info, qualifier) = find(infos, name, &request, &arns)?;
            // An unknown qualifier is refused before anything runs, whatever the
            // invocation type.
            configuration(info, &arns, qualifier.as_deref())?;
            invoke(request, platform.clone(), info.clone(), qualifier).await
        }
        _ => Err(unknown_operation()),
    }
}

/// Makes the ARNs of functions, versions and aliases.
struct Arns<'a> {
    region: &'a str,
    account_id: &'a str,
}

impl Arns<'_> {
    fn function(&self, info: &FunctionInfo) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, info.latest.name
        )
    }

    fn qualified(&self, info: &FunctionInfo, qualifier: &str) -> String {
        format!("{}:{qualifier}", self.function(info))
    }
}

fn not_found(message: String) -> AwsError {
    AwsError::new(
        StatusCode::NOT_FOUND,
        "com.amazonaws.lambda",
        "ResourceNotFoundException",
        message,
    )
}

fn invalid_parameter(message: String) -> AwsError {
    AwsError::new(
        StatusCode::BAD_REQUEST,
        "com.amazonaws.lambda",
        "InvalidParameterValueException",
        message,
    )
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
        (&Method::POST, ["invocations" | "response-streaming-invocations"]) => "InvokeFunction",
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
            name: &info.latest.name,
            qualifier: None,
        },
    )
}

/// Lambda accepts a name, a partial ARN (`123456789012:function:name`) or a full ARN,
/// each with an optional `:qualifier`, or the `Qualifier` query parameter. Returns the
/// function and the qualifier, unchecked.
fn find<'a>(
    infos: &'a [FunctionInfo],
    raw_name: &str,
    request: &RestRequest,
    arns: &Arns<'_>,
) -> Result<(&'a FunctionInfo, Option<String>), AwsError> {
    let (name, qualifier) = name_and_qualifier(
        &percent_decode(raw_name),
        query_parameter(&request.query, "Qualifier"),
    )?;
    // By the function's name only, as on AWS: a logical id means nothing to Lambda.
    match infos.iter().find(|info| info.latest.name == name) {
        Some(info) => Ok((info, qualifier)),
        None => Err(not_found(format!(
            "Function not found: arn:aws:lambda:{}:{}:function:{name}{}",
            arns.region,
            arns.account_id,
            qualifier
                .map(|qualifier| format!(":{qualifier}"))
                .unwrap_or_default()
        ))),
    }
}

/// The function name and the qualifier in `FunctionName` (a name, a partial or full ARN,
/// each with an optional `:qualifier`) and the `Qualifier` parameter, which must agree
/// when both are given.
fn name_and_qualifier(
    function_name: &str,
    in_query: Option<String>,
) -> Result<(String, Option<String>), AwsError> {
    let without_arn = function_name
        .rsplit_once(":function:")
        .map_or(function_name, |(_, rest)| rest);
    let (name, in_name) = match without_arn.split_once(':') {
        Some((name, qualifier)) => (name, Some(qualifier.to_owned())),
        None => (without_arn, None),
    };
    let qualifier = match (in_name, in_query) {
        // Lambda's own words for it.
        (Some(in_name), Some(in_query)) if in_name != in_query => return Err(invalid_parameter(
            "The derived qualifier from the function name does not match the specified qualifier."
                .to_owned(),
        )),
        (in_name, in_query) => in_name.or(in_query),
    };
    Ok((name.to_owned(), qualifier))
}

/// A function's configuration as `GetFunctionConfiguration` returns it: `$LATEST` for
/// no qualifier (with the unqualified ARN) or `$LATEST`, a published version, or the
/// version an alias points at (with the ARN as qualified).
fn configuration(
    info: &FunctionInfo,
    arns: &Arns<'_>,
    qualifier: Option<&str>,
) -> Result<Value, AwsError> {
    let Some(qualifier) = qualifier else {
        return Ok(latest_configuration(info, arns.function(info)));
    };
    let arn = arns.qualified(info, qualifier);
    let missing = || not_found(format!("Function not found: {arn}"));
    let number = if qualifier == "$LATEST" {
        None
    } else if qualifier.bytes().all(|byte| byte.is_ascii_digit()) {
        Some(qualifier.parse::<u32>().map_err(|_| missing())?)
    } else {
        let alias = info
            .aliases()
            .into_iter()
            .find(|alias| alias.name == qualifier)
            .ok_or_else(missing)?;
        lambda_versions::number_of(&info.deploy.app, &alias.version)
    };
    match number {
        None => Ok(latest_configuration(info, arn)),
        Some(number) => {
            let version = info.version(number).ok_or_else(missing)?;
            Ok(version_configuration(info, version, arn))
        }
    }
}

fn latest_configuration(info: &FunctionInfo, arn: String) -> Value {
    let mut value = settings_json(&info.latest, arn);
    value["Version"] = "$LATEST".into();
    value["CodeSha256"] = info.code_sha256.clone().into();
    value["Description"] = "".into();
    value["LastModified"] = lambda_time(&info.deploy.record.deployed_at).into();
    value["Role"] = role(info).into();
    value
}

fn version_configuration(
    info: &FunctionInfo,
    version: &FunctionVersionRecord,
    arn: String,
) -> Value {
    let mut value = settings_json(&version.settings, arn);
    value["Version"] = version.number.to_string().into();
    value["CodeSha256"] = version.code_sha256.clone().into();
    value["Description"] = version.description.clone().into();
    value["LastModified"] = lambda_time(&version.published_at).into();
    value["Role"] = role(info).into();
    value
}

fn role(info: &FunctionInfo) -> String {
    format!("{}Role", info.logical_id)
}

fn settings_json(settings: &FunctionSettings, arn: String) -> Value {
    json!({
        "FunctionName": settings.name,
        "FunctionArn": arn,
        "Runtime": settings.runtime,
        "Handler": settings.handler,
        "Timeout": settings.timeout_secs,
        "MemorySize": settings.memory_mb,
        "CodeSize": settings.code_size,
        "Environment": {"Variables": settings.environment},
        "Architectures": settings.architectures,
        "PackageType": "Zip",
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "TracingConfig": {"Mode": "PassThrough"},
        "EphemeralStorage": {"Size": settings.ephemeral_storage_mb},
    })
}

/// RFC 3339 as Lambda writes `LastModified`: `2024-05-01T12:00:00.000+0000`.
fn lambda_time(rfc3339: &str) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000"
    );
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|at| at.to_offset(time::UtcOffset::UTC).format(&format).ok())
        .unwrap_or_else(|| rfc3339.to_owned())
}

/// `MaxItems`: from 1 to `max`, `max` when absent.
fn max_items(request: &RestRequest, max: usize) -> Result<usize, AwsError> {
    match query_parameter(&request.query, "MaxItems") {
        None => Ok(max),
        Some(text) => match text.parse::<usize>() {
            Ok(items) if (1..=10_000).contains(&items) => Ok(items.min(max)),
            _ => Err(invalid_parameter(format!(
                "1 validation error detected: Value '{text}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000"
            ))),
        },
    }
}

/// One page of `items` (each with its marker) from `Marker` on: the page, and the
/// `NextMarker` when more follow.
fn page<T>(
    items: Vec<(String, T)>,
    request: &RestRequest,
    max: usize,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let take = max_items(request, max)?;
    let start = match query_parameter(&request.query, "Marker") {
        None => 0,
        Some(marker) => items
            .iter()
            .position(|(item_marker, _)| *item_marker == marker)
            .ok_or_else(|| {
                invalid_parameter(format!(
                    "Marker '{marker}' is not one this listing returned; start again without it"
                ))
            })?,
    };
    let mut rest = items.into_iter().skip(start);
    let page: Vec<T> = rest.by_ref().take(take).map(|(_, item)| item).collect();
    let next = rest.next().map(|(marker, _)| marker);
    Ok((page, next))
}

/// `ListVersionsByFunction`: `$LATEST` first (its ARN qualified, as Lambda lists it),
/// then every published version by number.
fn list_versions(
    info: &FunctionInfo,
    arns: &Arns<'_>,
    request: &RestRequest,
) -> Result<Response<Bytes>, AwsError> {
    let mut items = vec![(
        "$LATEST".to_owned(),
        latest_configuration(info, arns.qualified(info, "$LATEST")),
    )];
    items.extend(info.versions().map(|version| {
        let number = version.number.to_string();
        let configuration = version_configuration(info, version, arns.qualified(info, &number));
        (number, configuration)
    }));
    let (versions, next) = page(items, request, PAGE_MAX)?;
    let mut body = json!({"Versions": versions});
    if let Some(next) = next {
        body["NextMarker"] = next.into();
    }
    json_response(StatusCode::OK, &body)
}

/// `ListAliases`, by name, only those invoking `FunctionVersion` when it is given.
fn list_aliases(
    info: &FunctionInfo,
    arns: &Arns<'_>,
    request: &RestRequest,
) -> Result<Response<Bytes>, AwsError> {
    let wanted = query_parameter(&request.query, "FunctionVersion");
    let items: Vec<(String, Value)> = info
        .aliases()
        .into_iter()
        .map(|alias| (alias.name.clone(), alias_configuration(info, arns, alias)))
        .filter(|(_, alias)| {
            wanted
                .as_deref()
                .is_none_or(|wanted| alias["FunctionVersion"] == wanted)
        })
        .collect();
    let (aliases, next) = page(items, request, PAGE_MAX)?;
    let mut body = json!({"Aliases": aliases});
    if let Some(next) = next {
        body["NextMarker"] = next.into();
    }
    json_response(StatusCode::OK, &body)
}

/// An alias as `GetAlias` returns it.
fn alias_configuration(info: &FunctionInfo, arns: &Arns<'_>, alias: &template::Alias) -> Value {
    let version_name = |version: &template::AliasVersion| {
        lambda_versions::number_of(&info.deploy.app, version)
            .map_or_else(|| "$LATEST".to_owned(), |number| number.to_string())
    };
    let mut value = json!({
        "AliasArn": arns.qualified(info, &alias.name),
        "Name": alias.name,
        "FunctionVersion": version_name(&alias.version),
        "Description": alias.description.clone().unwrap_or_default(),
    });
    if !alias.additional_versions.is_empty() {
        let weights: serde_json::Map<String, Value> = alias
            .additional_versions
            .iter()
            .map(|weight| (version_name(&weight.version), weight.weight.into()))
            .collect();
        value["RoutingConfig"] = json!({"AdditionalVersionWeights": weights});
    }
    // Changes exactly when the alias does, as Lambda's does on an update.
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(value.to_string().as_bytes());
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&digest[..16]);
    value["RevisionId"] = uuid::Uuid::from_bytes(bytes).to_string().into();
    value
}

async fn invoke(
    request: RestRequest,
    platform: Arc<Platform>,
    info: FunctionInfo,
    qualifier: Option<String>,
) -> Result<Response<Bytes>, AwsError> {
    let mut function =
        FunctionRef::new(info.stack.as_str(), info.logical_id.as_str()).with_trigger("lambda-api");
    if let Some(qualifier) = &qualifier {
        function = function.with_qualifier(qualifier.as_str());
    }
    let invocation_type =
        header(&request, "x-amz-invocation-type").unwrap_or_else(|| "RequestResponse".to_owned());
    let payload = invocation_payload(&request)?;
    match invocation_type.as_str() {
        "RequestResponse" => {}
        "Event" => {
            let Some(queue) = platform.config().async_invocations.clone() else {
                // No queue (`serverful invoke`): run in the background, unretried.
                tokio::spawn(async move {
                    if let Err(error) = platform.invoke(&function, payload).await {
                        tracing::warn!("asynchronous invocation of {function} failed: {error}");
                    }
                });
                return Ok(empty_response(StatusCode::ACCEPTED));
            };
            // Answered only once the event is durable: a restart loses nothing accepted.
            queue
                .submit(
                    request.request_id.clone(),
                    &info.stack,
                    &info.logical_id,
                    qualifier.as_deref(),
                    payload,
                )
                .await
                .map_err(|error| {
                    tracing::error!("failed to queue an asynchronous invocation of {function}: {error}");
                    AwsError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "com.amazonaws.lambda",
                        "ServiceException",
                        format!("the event could not be queued: {error}"),
                    )
                })?;
            let mut response = empty_response(StatusCode::ACCEPTED);
            // As Lambda answers an Event invocation: no body, the request id (added by
            // the router) and a trace id.
            if let Ok(trace) = HeaderValue::from_str(&trace_id()) {
                response.headers_mut().insert("x-amzn-trace-id", trace);
            }
            return Ok(response);
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
    let log_tail = lambda_stream::log_type(&request)?.then(runtime::LogTail::new);
    let context = runtime::InvokeContext {
        log_tail: log_tail.clone(),
        ..Default::default()
    };
    let (executed, outcome) = platform
        .invoke_version_with(&function, payload, context)
        .await;
    let executed_header = executed
        .and_then(|executed| HeaderValue::from_str(&executed).ok())
        .unwrap_or_else(|| HeaderValue::from_static("$LATEST"));
    let log_result = log_tail
        .as_ref()
        .and_then(|tail| HeaderValue::from_str(&lambda_stream::log_result(tail)).ok());
    let respond = |body: Bytes| {
        let mut response = payload_response(StatusCode::OK, body);
        response
            .headers_mut()
            .insert("x-amz-executed-version", executed_header.clone());
        if let Some(log_result) = &log_result {
            response
                .headers_mut()
                .insert("x-amz-log-result", log_result.clone());
        }
        response
    };
    let function_error = |body: Bytes| {
        let mut response = respond(body);
        response.headers_mut().insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
        response
    };
    match outcome {
        Ok(result) => Ok(respond(result)),
        Err(InvokeError::FunctionError(error)) => Ok(function_error(error)),
        Err(InvokeError::Timeout) => Ok(function_error(Bytes::from(
            json!({
                "errorType": "Sandbox.Timedout",
                "errorMessage": format!("Task timed out after {}.00 seconds", info.latest.timeout_secs),
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
        Err(InvokeError::NoSuchFunction(_)) => Err(not_found(format!(
            "Function not found: arn:aws:lambda:{}:{}:function:{}{}",
            request.region,
            platform.config().account_id,
            info.latest.name,
            qualifier
                .map(|qualifier| format!(":{qualifier}"))
                .unwrap_or_default()
        ))),
        Err(InvokeError::Unavailable(reason)) => Err(AwsError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "com.amazonaws.lambda",
            "ServiceException",
            reason,
        )),
    }
}

/// An X-Ray trace id as Lambda gives an asynchronous invocation:
/// `root=1-{epoch seconds, hex}-{24 hex digits};sampled=0`.
fn trace_id() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or_default();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("root=1-{seconds:08x}-{};sampled=0", &random[..24])
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
    response
}

fn empty_response(status: StatusCode) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(function_name: &str, query: Option<&str>) -> Result<(String, Option<String>), String> {
        name_and_qualifier(function_name, query.map(str::to_owned)).map_err(|error| {
            format!(
                "{} {}: {}",
                error.status.as_u16(),
                error.type_name,
                error.message.unwrap_or_default()
            )
        })
    }

    fn named(name: &str, qualifier: Option<&str>) -> Result<(String, Option<String>), String> {
        Ok((name.to_owned(), qualifier.map(str::to_owned)))
    }

    #[test]
    fn the_qualifier_comes_from_the_name_the_arn_or_the_parameter() {
        assert_eq!(split("greeter", None), named("greeter", None));
        assert_eq!(split("greeter:7", None), named("greeter", Some("7")));
        assert_eq!(
            split("greeter", Some("live")),
            named("greeter", Some("live"))
        );
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:greeter";
        assert_eq!(split(arn, None), named("greeter", None));
        assert_eq!(
            split(&format!("{arn}:$LATEST"), None),
            named("greeter", Some("$LATEST"))
        );
        assert_eq!(
            split("123456789012:function:greeter:live", None),
            named("greeter", Some("live"))
        );
        // Both, agreeing: fine; disagreeing: refused in Lambda's words.
        assert_eq!(
            split(&format!("{arn}:live"), Some("live")),
            named("greeter", Some("live"))
        );
        assert_eq!(
            split("greeter:1", Some("2")),
            Err("400 InvalidParameterValueException: The derived qualifier from the function name does not match the specified qualifier.".to_owned())
        );
    }

    fn request(query: &str) -> RestRequest {
        RestRequest {
            method: Method::GET,
            path: format!("{PREFIX}/greeter/versions"),
            query: query.to_owned(),
            headers: http::HeaderMap::new(),
            body: Bytes::new(),
            region: "us-east-1".to_owned(),
            access_key_id: "AKIDEXAMPLE".to_owned(),
            principal: Arc::new(Principal::root("123456789012")),
            request_id: "test".to_owned(),
        }
    }

    #[test]
    fn listings_page_by_marker_and_max_items() {
        let items = || -> Vec<(String, u32)> {
            ["$LATEST", "1", "2", "3"]
                .iter()
                .zip(0..)
                .map(|(marker, item)| ((*marker).to_owned(), item))
                .collect()
        };
        assert_eq!(
            page(items(), &request(""), PAGE_MAX).expect("page"),
            (vec![0, 1, 2, 3], None)
        );
        assert_eq!(
            page(items(), &request("MaxItems=2"), PAGE_MAX).expect("page"),
            (vec![0, 1], Some("2".to_owned()))
        );
        assert_eq!(
            page(items(), &request("Marker=2&MaxItems=2"), PAGE_MAX).expect("page"),
            (vec![2, 3], None)
        );
        // Never more than the operation's own page, whatever MaxItems asks.
        assert_eq!(
            page(items(), &request("MaxItems=100"), 3).expect("page"),
            (vec![0, 1, 2], Some("3".to_owned()))
        );
        for bad in ["MaxItems=0", "MaxItems=x", "Marker=9"] {
            let error = page(items(), &request(bad), PAGE_MAX).expect_err(bad);
            assert_eq!(error.type_name, "InvalidParameterValueException", "{bad}");
        }
    }

    #[test]
    fn last_modified_is_written_as_lambda_writes_it() {
        assert_eq!(
            lambda_time("2026-12-07T02:52:50.123456Z"),
            "2026-12-07T02:52:50.123+0000"
        );
        assert_eq!(
            lambda_time("2026-12-07T04:52:50+02:00"),
            "2026-12-07T02:52:50.000+0000"
        );
    }
}
