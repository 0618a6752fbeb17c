//! REST APIs written without SAM's shorthand: `AWS::ApiGateway::RestApi` with the
//! `Resource`, `Method`, `Deployment` and `Stage` resources that name it, read into [`Api`]s.
//!
//! A resource's `ParentId` is the API's root (`!GetAtt Api.RootResourceId`) or another
//! resource (`!Ref Parent`); its path is its ancestors' `PathPart`s joined. A method's
//! `Integration` is `AWS_PROXY` (the function its invocation URI names gets the REST proxy
//! event) or `MOCK`, whose answer is worked out here once: the `statusCode` of the request
//! template selects an integration response, as API Gateway selects it for every request.
//!
//! Read in two steps: [`rest_apis`] makes the APIs (with their stage) before any domain
//! mapping is read, and [`rest_routes`] adds their routes once every function is known.

use std::collections::BTreeMap;

use super::properties::{expect_string, expect_string_map, expect_strings, mapping};
use super::RawResource;
use crate::intrinsics::{derived_id, Resolver};
use crate::model::{Api, ApiKind, Function, MockResponse, PayloadFormat, Route};
use crate::node::{Node, NodeKind, Span};
use crate::{LoadOptions, Problem};

pub(super) const REST_API: &str = "AWS::ApiGateway::RestApi";
const RESOURCE: &str = "AWS::ApiGateway::Resource";
pub(super) const METHOD: &str = "AWS::ApiGateway::Method";
const DEPLOYMENT: &str = "AWS::ApiGateway::Deployment";
pub(super) const STAGE: &str = "AWS::ApiGateway::Stage";
pub(super) const MODEL: &str = "AWS::ApiGateway::Model";
pub(super) const REQUEST_VALIDATOR: &str = "AWS::ApiGateway::RequestValidator";

/// The resource types a REST API is made of; `sam` leaves them to this module.
pub(super) const TYPES: &[&str] = &[
    REST_API,
    super::resource_authorizers::REST_AUTHORIZER,
    RESOURCE,
    METHOD,
    DEPLOYMENT,
    STAGE,
    MODEL,
    REQUEST_VALIDATOR,
];

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// `RestApi` properties that change nothing locally.
const IGNORED_API_PROPERTIES: &[&str] = &[
    "Name",
    "Description",
    "EndpointConfiguration",
    "FailOnWarnings",
    "Policy",
    "MinimumCompressionSize",
    "DisableExecuteApiEndpoint",
    "Tags",
    "Parameters",
    "Mode",
    "CloneFrom",
    "BinaryMediaTypes",
    // Read by `openapi`.
    "Body",
    "BodyS3Location",
    // Read by `rest_apis`.
    "ApiKeySourceType",
];

/// A property resolved, or `None` when absent or `AWS::NoValue`.
pub(super) fn property(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    key: &str,
) -> Result<Option<(Node, String)>, Problem> {
    let Some(node) = raw.properties.and_then(|properties| properties.get(key)) else {
        return Ok(None);
    };
    let location = format!("Resources.{}.Properties.{key}", raw.logical_id);
    Ok(resolver
        .resolve(node, &location)?
        .filter(|value| !value.is_null())
        .map(|value| (value, location)))
}

/// A property resolved to a string, with its place.
pub(super) fn string_property(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    key: &str,
) -> Result<Option<(String, Span)>, Problem> {
    match property(resolver, raw, key)? {
        None => Ok(None),
        Some((value, location)) => Ok(Some((expect_string(&value, &location)?, value.span))),
    }
}

/// The logical id of the REST API a part's `RestApiId` names, checked against `api_ids`.
fn rest_api_of(raw: &RawResource<'_>, api_ids: &[String]) -> Result<String, Problem> {
    let location = format!("Resources.{}.Properties.RestApiId", raw.logical_id);
    let Some(node) = raw
        .properties
        .and_then(|properties| properties.get("RestApiId"))
    else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}: missing; use !Ref of the AWS::ApiGateway::RestApi"),
        ));
    };
    let api = super::apis::api_reference(node, &location)?;
    if !api_ids.contains(&api) {
        return Err(Problem::at(
            node.span,
            format!("{location}: '{api}' is not an AWS::ApiGateway::RestApi of this template; use !Ref of one"),
        ));
    }
    Ok(api)
}

/// Every `AWS::ApiGateway::RestApi` of the template, with its stage, without routes yet.
pub(super) fn rest_apis(
    resolver: &Resolver<'_>,
    created: &[RawResource<'_>],
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<Vec<Api>, Problem> {
    let mut apis = Vec::new();
    for raw in created.iter().filter(|raw| raw.type_name == REST_API) {
        let location = format!("Resources.{}.Properties", raw.logical_id);
        if let Some(properties) = raw.properties {
            for entry in mapping(properties, &location)? {
                if !IGNORED_API_PROPERTIES.contains(&entry.key.as_str()) {
                    unsupported.push(format!("{}.{}", raw.logical_id, entry.key));
                }
            }
        }
        let binary_media_types = match property(resolver, raw, "BinaryMediaTypes")? {
            None => Vec::new(),
            Some((value, location)) => expect_strings(&value, &location)?
                .into_iter()
                .map(|media_type| media_type.replace("~1", "/"))
                .collect(),
        };
        let api_key_source = match property(resolver, raw, "ApiKeySourceType")? {
            None => crate::ApiKeySource::Header,
            Some((value, location)) => super::api_keys::api_key_source(&value, &location)?,
        };
        apis.push(Api {
            logical_id: raw.logical_id.clone(),
            authorizers: Vec::new(),
            api_key_source,
            api_id: derived_id(&options.stack_name, &raw.logical_id),
            kind: ApiKind::Rest,
            stage_name: String::new(),
            stage_variables: BTreeMap::new(),
            other_stages: Vec::new(),
            binary_media_types,
            cors: None,
            routes: Vec::new(),
        });
    }
    if apis.is_empty() {
        return Ok(apis);
    }
    let api_ids: Vec<String> = apis.iter().map(|api| api.logical_id.clone()).collect();

    // The stage: an `AWS::ApiGateway::Stage`, else the one a Deployment's `StageName` makes.
    for raw in created.iter().filter(|raw| raw.type_name == STAGE) {
        let api_logical_id = rest_api_of(raw, &api_ids)?;
        let location = format!("Resources.{}.Properties", raw.logical_id);
        let Some((stage_name, _)) = string_property(resolver, raw, "StageName")? else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.StageName: missing; name the stage, such as prod"),
            ));
        };
        let variables = match property(resolver, raw, "Variables")? {
            None => BTreeMap::new(),
            Some((value, location)) => expect_string_map(&value, &location)?,
        };
        if let Some(properties) = raw.properties {
            for entry in mapping(properties, &location)? {
                match entry.key.as_str() {
                    "RestApiId"
                    | "StageName"
                    | "Variables"
                    | "DeploymentId"
                    | "Description"
                    | "Tags"
                    | "TracingEnabled"
                    | "MethodSettings"
                    | "CacheClusterEnabled"
                    | "CacheClusterSize"
                    | "AccessLogSetting"
                    | "DocumentationVersion"
                    | "ClientCertificateId"
                    | "CanarySetting" => {}
                    other => unsupported.push(format!("{}.{other}", raw.logical_id)),
                }
            }
        }
        let api = find_api(&mut apis, &api_logical_id);
        add_stage(api, stage_name, variables, raw, &location)?;
    }
    for raw in created.iter().filter(|raw| raw.type_name == DEPLOYMENT) {
        let api_logical_id = rest_api_of(raw, &api_ids)?;
        let Some((stage_name, _)) = string_property(resolver, raw, "StageName")? else {
            continue;
        };
        let variables = match property(resolver, raw, "StageDescription")? {
            Some((value, location)) => match value.get("Variables") {
                Some(variables) => expect_string_map(variables, &format!("{location}.Variables"))?,
                None => BTreeMap::new(),
            },
            None => BTreeMap::new(),
        };
        let api = find_api(&mut apis, &api_logical_id);
        // A Deployment's StageName makes that stage, unless a Stage resource made it.
        if !api.stage_names().any(|name| name == stage_name) {
            let location = format!("Resources.{}.Properties", raw.logical_id);
            add_stage(api, stage_name, variables, raw, &location)?;
        }
    }
    for api in &apis {
        if api.stage_name.is_empty() {
            let raw = created
                .iter()
                .find(|raw| raw.logical_id == api.logical_id)
                .expect("every API came from a resource");
            return Err(Problem::at(
                raw.key_span,
                format!("Resources.{}: a REST API is reachable only through a stage; add an AWS::ApiGateway::Stage (StageName, RestApiId: !Ref {0}, DeploymentId: !Ref MyDeployment) or give its AWS::ApiGateway::Deployment a StageName", api.logical_id),
            ));
        }
    }
    Ok(apis)
}

/// Adds a stage to `api`: its first, or one more (a stage named twice is an error).
pub(super) fn add_stage(
    api: &mut Api,
    name: String,
    variables: BTreeMap<String, String>,
    raw: &RawResource<'_>,
    location: &str,
) -> Result<(), Problem> {
    if api.stage_name.is_empty() {
        api.stage_name = name;
        api.stage_variables = variables;
        return Ok(());
    }
    if api.stage_names().any(|known| known == name) {
        return Err(Problem::at(
            raw.key_span,
            format!(
                "{location}.StageName: API '{}' already has a stage '{name}'",
                api.logical_id
            ),
        ));
    }
    api.other_stages
        .push(crate::model::ApiStage { name, variables });
    Ok(())
}

fn find_api<'a>(apis: &'a mut [Api], logical_id: &str) -> &'a mut Api {
    apis.iter_mut()
        .find(|api| api.logical_id == logical_id)
        .expect("rest_api_of checked that the API is one of these")
}

/// A resource's place in its API's tree.
struct TreeNode {
    api: String,
    /// The `ParentId` as resolved: an API's root id or another resource's logical id.
    parent: String,
    parent_span: Span,
    path_part: String,
}

/// The routes of the REST APIs in `apis` that came from [`rest_apis`]: one per
/// `AWS::ApiGateway::Method`, in template order.
pub(super) fn rest_routes(
    resolver: &Resolver<'_>,
    created: &[RawResource<'_>],
    functions: &[Function],
    apis: &mut [Api],
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<(), Problem> {
    let api_ids: Vec<String> = created
        .iter()
        .filter(|raw| raw.type_name == REST_API)
        .map(|raw| raw.logical_id.clone())
        .collect();
    if api_ids.is_empty() {
        return Ok(());
    }
    let roots: BTreeMap<String, String> = api_ids
        .iter()
        .map(|api| {
            (
                derived_id(&options.stack_name, &format!("{api}/root")),
                api.clone(),
            )
        })
        .collect();

    let mut tree = BTreeMap::new();
    for raw in created.iter().filter(|raw| raw.type_name == RESOURCE) {
        let api = rest_api_of(raw, &api_ids)?;
        let location = format!("Resources.{}.Properties", raw.logical_id);
        let Some((parent, parent_span)) = string_property(resolver, raw, "ParentId")? else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.ParentId: missing; use !GetAtt {api}.RootResourceId or !Ref of the parent AWS::ApiGateway::Resource"),
            ));
        };
        let Some((path_part, path_span)) = string_property(resolver, raw, "PathPart")? else {
            return Err(Problem::at(
                raw.key_span,
                format!(
                    "{location}.PathPart: missing; name the path segment, such as items or {{id}}"
                ),
            ));
        };
        if path_part.is_empty() || path_part.contains('/') {
            return Err(Problem::at(
                path_span,
                format!("{location}.PathPart: '{path_part}' must be one path segment, without '/'"),
            ));
        }
        tree.insert(
            raw.logical_id.clone(),
            TreeNode {
                api,
                parent,
                parent_span,
                path_part,
            },
        );
    }

    // Every resource's path, checked against unknown parents and cycles.
    let mut paths: BTreeMap<String, String> = BTreeMap::new();
    for logical_id in tree.keys() {
        let mut parts = Vec::new();
        let mut current = logical_id.as_str();
        loop {
            let node = &tree[current];
            parts.push(node.path_part.as_str());
            if parts.len() > tree.len() {
                return Err(Problem::at(
                    node.parent_span,
                    format!("Resources.{logical_id}.Properties.ParentId: the resources' parents form a cycle; one of them must have !GetAtt {}.RootResourceId as its ParentId", node.api),
                ));
            }
            if let Some(root_api) = roots.get(&node.parent) {
                if *root_api != node.api {
                    return Err(Problem::at(
                        node.parent_span,
                        format!("Resources.{current}.Properties.ParentId: the root of '{root_api}', but the resource belongs to '{}'", node.api),
                    ));
                }
                break;
            }
            match tree.get(node.parent.as_str()) {
                Some(parent) if parent.api == node.api => current = node.parent.as_str(),
                Some(parent) => {
                    return Err(Problem::at(
                        node.parent_span,
                        format!("Resources.{current}.Properties.ParentId: '{}' belongs to API '{}', not '{}'", node.parent, parent.api, node.api),
                    ))
                }
                None => {
                    return Err(Problem::at(
                        node.parent_span,
                        format!("Resources.{current}.Properties.ParentId: '{}' is neither an AWS::ApiGateway::Resource of this template nor a RestApi's root; use !GetAtt {}.RootResourceId or !Ref of the parent resource", node.parent, node.api),
                    ))
                }
            }
        }
        parts.reverse();
        paths.insert(logical_id.clone(), format!("/{}", parts.join("/")));
    }

    for raw in created
        .iter()
        .filter(|raw| raw.type_name == super::resource_authorizers::REST_AUTHORIZER)
    {
        let api_logical_id = rest_api_of(raw, &api_ids)?;
        if let Some(authorizer) =
            super::resource_authorizers::rest_authorizer(resolver, raw, functions, unsupported)?
        {
            apis.iter_mut()
                .find(|api| api.logical_id == api_logical_id)
                .expect("rest_apis made every REST API")
                .authorizers
                .push(authorizer);
        }
    }

    for raw in created.iter().filter(|raw| raw.type_name == METHOD) {
        let api_logical_id = rest_api_of(raw, &api_ids)?;
        let location = format!("Resources.{}.Properties", raw.logical_id);
        let Some((resource_id, resource_span)) = string_property(resolver, raw, "ResourceId")?
        else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.ResourceId: missing; use !Ref of an AWS::ApiGateway::Resource or !GetAtt {api_logical_id}.RootResourceId"),
            ));
        };
        let path = match (roots.get(&resource_id), tree.get(&resource_id)) {
            (Some(root_api), _) if *root_api == api_logical_id => "/".to_owned(),
            (_, Some(node)) if node.api == api_logical_id => paths[&resource_id].clone(),
            (Some(other_api), _) => {
                return Err(Problem::at(
                    resource_span,
                    format!("{location}.ResourceId: the root of '{other_api}', but RestApiId is '{api_logical_id}'"),
                ))
            }
            (_, Some(node)) => {
                return Err(Problem::at(
                    resource_span,
                    format!("{location}.ResourceId: '{resource_id}' belongs to API '{}', but RestApiId is '{api_logical_id}'", node.api),
                ))
            }
            (None, None) => {
                return Err(Problem::at(
                    resource_span,
                    format!("{location}.ResourceId: '{resource_id}' is not an AWS::ApiGateway::Resource of this template; use !Ref of one or !GetAtt {api_logical_id}.RootResourceId"),
                ))
            }
        };
        let Some((method, method_span)) = string_property(resolver, raw, "HttpMethod")? else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.HttpMethod: missing; use GET, POST, ... or ANY"),
            ));
        };
        let method = method.to_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(Problem::at(
                method_span,
                format!(
                    "{location}.HttpMethod: unknown method '{method}'; use one of {}",
                    METHODS.join(", ")
                ),
            ));
        }
        let mut auth = crate::RouteAuth::None;
        let api_key_required = property(resolver, raw, "ApiKeyRequired")?
            .is_some_and(|(value, _)| super::validators::is_true(&value));
        if let Some(properties) = raw.properties {
            for entry in mapping(properties, &location)? {
                match entry.key.as_str() {
                    "RestApiId" | "ResourceId" | "HttpMethod" | "Integration"
                    | "MethodResponses" | "OperationName" | "RequestValidatorId"
                    | "RequestModels" | "RequestParameters" | "ApiKeyRequired" => {}
                    "AuthorizationType" => {
                        let authorizers = &apis
                            .iter()
                            .find(|api| api.logical_id == api_logical_id)
                            .expect("rest_apis made every REST API")
                            .authorizers;
                        auth = super::resource_authorizers::method_auth(
                            resolver,
                            raw,
                            &api_logical_id,
                            authorizers,
                            unsupported,
                        )?;
                    }
                    // Read with `AuthorizationType`; scopes are Cognito's.
                    "AuthorizerId" | "AuthorizationScopes" => {}
                    other => unsupported.push(format!("{}.{other}", raw.logical_id)),
                }
            }
        }
        let Some((integration, integration_location)) = property(resolver, raw, "Integration")?
        else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.Integration: missing; use Type: AWS_PROXY with the function's invocation Uri, or Type: MOCK"),
            ));
        };
        let Some(target) = integration_target(
            &integration,
            &integration_location,
            raw,
            resolver,
            functions,
            unsupported,
        )?
        else {
            continue;
        };
        let (function, mock) = match target {
            Target::Function(function) => (function, None),
            Target::Mock(mock) => (String::new(), Some(mock)),
        };
        let validation =
            super::validators::method_validation(resolver, raw, created, &api_logical_id)?;
        let api = find_api(apis, &api_logical_id);
        if api
            .routes
            .iter()
            .any(|route| route.path == path && route.method == method)
        {
            return Err(Problem::at(
                raw.key_span,
                format!(
                    "{location}: API '{api_logical_id}' already has a {method} method on {path}"
                ),
            ));
        }
        api.routes.push(Route {
            method,
            path,
            function,
            payload_format: PayloadFormat::V1,
            event_name: raw.logical_id.clone(),
            auth,
            mock,
            validation,
            api_key_required,
        });
    }
    Ok(())
}

enum Target {
    Function(String),
    Mock(MockResponse),
}

/// What a method's `Integration` does: call a function or answer a mock. `None` for an
/// integration type Serverful does not run (recorded in `unsupported`).
fn integration_target(
    integration: &Node,
    location: &str,
    raw: &RawResource<'_>,
    resolver: &Resolver<'_>,
    functions: &[Function],
    unsupported: &mut Vec<String>,
) -> Result<Option<Target>, Problem> {
    mapping(integration, location)?;
    let Some(type_node) = integration.get("Type") else {
        return Err(Problem::at(
            integration.span,
            format!("{location}.Type: missing; use AWS_PROXY or MOCK"),
        ));
    };
    let integration_type = expect_string(type_node, &format!("{location}.Type"))?;
    match integration_type.to_uppercase().as_str() {
        "AWS_PROXY" => {
            let Some(uri_node) = integration.get("Uri") else {
                return Err(Problem::at(
                    integration.span,
                    format!("{location}.Uri: missing; use !Sub arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{MyFunction.Arn}}/invocations"),
                ));
            };
            let uri = expect_string(uri_node, &format!("{location}.Uri"))?;
            let function = super::websockets::function_of_uri(&uri, functions).ok_or_else(|| {
                Problem::at(
                    uri_node.span,
                    format!("{location}.Uri: '{uri}' names no function of this template; use arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations with !GetAtt MyFunction.Arn"),
                )
            })?;
            Ok(Some(Target::Function(function)))
        }
        "MOCK" => Ok(Some(Target::Mock(mock_response(
            integration,
            location,
            raw,
            resolver,
            unsupported,
        )?))),
        other => {
            unsupported.push(format!(
                "{}.Integration (Type {other}; Serverful runs AWS_PROXY and MOCK)",
                raw.logical_id
            ));
            Ok(None)
        }
    }
}

/// The answer a `MOCK` integration gives every request.
fn mock_response(
    integration: &Node,
    location: &str,
    raw: &RawResource<'_>,
    resolver: &Resolver<'_>,
    unsupported: &mut Vec<String>,
) -> Result<MockResponse, Problem> {
    let status_code = match integration.get("RequestTemplates") {
        None => 200,
        Some(templates) => {
            let templates_location = format!("{location}.RequestTemplates");
            let entries = mapping(templates, &templates_location)?;
            let chosen = entries
                .iter()
                .find(|entry| entry.key == "application/json")
                .or(entries.first());
            match chosen {
                None => 200,
                Some(entry) => {
                    let entry_location = format!("{templates_location}.{}", entry.key);
                    let text = expect_string(&entry.value, &entry_location)?;
                    request_template_status(&text).ok_or_else(|| {
                        Problem::at(
                            entry.value.span,
                            format!("{entry_location}: '{text}' is not a mock request template Serverful can run; write the status the mock answers as JSON, such as '{{\"statusCode\": 200}}'"),
                        )
                    })?
                }
            }
        }
    };
    let status_text = status_code.to_string();
    let responses_location = format!("{location}.IntegrationResponses");
    let responses: &[Node] = match integration.get("IntegrationResponses") {
        None => &[],
        Some(node) => match &node.kind {
            NodeKind::Sequence(items) => items,
            _ => {
                return Err(Problem::at(
                    node.span,
                    format!(
                        "{responses_location}: expected a list, found {}",
                        node.describe()
                    ),
                ))
            }
        },
    };
    let mut selected = None;
    let mut default = None;
    for (response_idx, response) in responses.iter().enumerate() {
        let response_location = format!("{responses_location}[{response_idx}]");
        mapping(response, &response_location)?;
        let pattern = match response.get("SelectionPattern") {
            None => None,
            Some(node) => Some(expect_string(
                node,
                &format!("{response_location}.SelectionPattern"),
            )?),
        };
        match pattern.filter(|pattern| !pattern.is_empty()) {
            None => {
                default.get_or_insert((response_idx, response));
            }
            Some(pattern) => {
                let anchored = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|error| {
                    Problem::at(
                        response.span,
                        format!("{response_location}.SelectionPattern: '{pattern}' is not a regular expression: {error}"),
                    )
                })?;
                if selected.is_none() && anchored.is_match(&status_text) {
                    selected = Some((response_idx, response));
                }
            }
        }
    }
    let Some((response_idx, response)) = selected.or(default) else {
        // API Gateway answers so when no integration response matches.
        return Ok(MockResponse {
            status_code: 500,
            content_type: "application/json".to_owned(),
            body: r#"{"message": "Internal server error"}"#.to_owned(),
            headers: BTreeMap::new(),
        });
    };
    let response_location = format!("{responses_location}[{response_idx}]");
    let status_code = match response.get("StatusCode") {
        None => {
            return Err(Problem::at(
                response.span,
                format!("{response_location}.StatusCode: missing; name the method response's status, such as 200"),
            ))
        }
        Some(node) => {
            let location = format!("{response_location}.StatusCode");
            let text = expect_string(node, &location)?;
            match text.parse::<u16>() {
                Ok(code) if (100..=599).contains(&code) => code,
                _ => {
                    return Err(Problem::at(
                        node.span,
                        format!("{location}: '{text}' is not an HTTP status code"),
                    ))
                }
            }
        }
    };
    let declared_headers = method_response_headers(resolver, raw, status_code)?;
    let (content_type, body) = match response.get("ResponseTemplates") {
        None => ("application/json".to_owned(), String::new()),
        Some(templates) => {
            let templates_location = format!("{response_location}.ResponseTemplates");
            let entries = mapping(templates, &templates_location)?;
            match entries
                .iter()
                .find(|entry| entry.key == "application/json")
                .or(entries.first())
            {
                None => ("application/json".to_owned(), String::new()),
                Some(entry) => {
                    let text = if entry.value.is_null() {
                        String::new()
                    } else {
                        expect_string(&entry.value, &format!("{templates_location}.{}", entry.key))?
                    };
                    if text.contains('$') || text.contains("#set") || text.contains("#if") {
                        unsupported.push(format!(
                            "{}.Integration.IntegrationResponses[{response_idx}].ResponseTemplates (VTL is sent as written)",
                            raw.logical_id
                        ));
                    }
                    (entry.key.clone(), text)
                }
            }
        }
    };
    let mut headers = BTreeMap::new();
    if let Some(parameters) = response.get("ResponseParameters") {
        let parameters_location = format!("{response_location}.ResponseParameters");
        for entry in mapping(parameters, &parameters_location)? {
            let entry_location = format!("{parameters_location}.{}", entry.key);
            let Some(header) = entry.key.strip_prefix("method.response.header.") else {
                return Err(Problem::at(
                    entry.key_span,
                    format!("{entry_location}: expected method.response.header.NAME"),
                ));
            };
            let Some(declared) = &declared_headers else {
                return Err(Problem::at(
                    entry.key_span,
                    format!("{entry_location}: the method has no MethodResponses entry with StatusCode {status_code}; add one"),
                ));
            };
            if !declared
                .iter()
                .any(|name| name.eq_ignore_ascii_case(header))
            {
                return Err(Problem::at(
                    entry.key_span,
                    format!("{entry_location}: the method response {status_code} does not declare this header; add method.response.header.{header}: true to its ResponseParameters"),
                ));
            }
            let value = expect_string(&entry.value, &entry_location)?;
            match value
                .strip_prefix('\'')
                .and_then(|value| value.strip_suffix('\''))
            {
                Some(literal) => {
                    headers.insert(header.to_owned(), literal.to_owned());
                }
                None => unsupported.push(format!(
                    "{}.Integration.IntegrationResponses[{response_idx}].ResponseParameters.{} (only quoted static values)",
                    raw.logical_id, entry.key
                )),
            }
        }
    }
    if declared_headers.is_none() {
        return Err(Problem::at(
            response.span,
            format!("{response_location}.StatusCode: the method has no MethodResponses entry with StatusCode {status_code}; add one"),
        ));
    }
    Ok(MockResponse {
        status_code,
        content_type,
        body,
        headers,
    })
}

/// The `statusCode` of a mock request template (`{"statusCode": 200}`).
fn request_template_status(text: &str) -> Option<u16> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let status = value.get("statusCode")?;
    let code = match status {
        serde_json::Value::Number(number) => number.as_u64()?,
        serde_json::Value::String(text) => text.parse().ok()?,
        _ => return None,
    };
    u16::try_from(code)
        .ok()
        .filter(|code| (100..=599).contains(code))
}

/// The headers the method response for `status_code` declares, or `None` when the method
/// has no response with that status.
fn method_response_headers(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    status_code: u16,
) -> Result<Option<Vec<String>>, Problem> {
    let Some((responses, location)) = property(resolver, raw, "MethodResponses")? else {
        return Ok(None);
    };
    let NodeKind::Sequence(items) = &responses.kind else {
        return Err(Problem::at(
            responses.span,
            format!(
                "{location}: expected a list, found {}",
                responses.describe()
            ),
        ));
    };
    for (response_idx, response) in items.iter().enumerate() {
        let response_location = format!("{location}[{response_idx}]");
        let Some(code) = response.get("StatusCode") else {
            continue;
        };
        if expect_string(code, &format!("{response_location}.StatusCode"))?
            != status_code.to_string()
        {
            continue;
        }
        let mut headers = Vec::new();
        if let Some(parameters) = response.get("ResponseParameters") {
            for entry in mapping(
                parameters,
                &format!("{response_location}.ResponseParameters"),
            )? {
                if let Some(header) = entry.key.strip_prefix("method.response.header.") {
                    headers.push(header.to_owned());
                }
            }
        }
        return Ok(Some(headers));
    }
    Ok(None)
}
