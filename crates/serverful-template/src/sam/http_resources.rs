//! HTTP APIs written without SAM's shorthand: `AWS::ApiGatewayV2::Api` with
//! `ProtocolType: HTTP` and the `Route`, `Integration`, `Stage` and `Deployment` resources
//! that name it, read into [`Api`]s; also the quick-create form, where the API's own
//! `Target` (a function ARN) and `RouteKey` make its one route and a `$default` stage.
//!
//! An integration's `IntegrationUri` is the function's ARN or its Lambda invocation URI;
//! both are resolved to the template's function as WebSocket APIs resolve them.
//!
//! Read in two steps like REST APIs: [`http_apis`] makes the APIs with their stage, and
//! [`http_routes`] adds their routes once every function is known.

use std::collections::BTreeMap;

use super::properties::{expect_string_map, mapping};
use super::resource_authorizers;
use super::rest_resources::{property, string_property};
use super::websockets::{function_of_uri, TYPES, V2_API};
use super::RawResource;
use crate::intrinsics::{derived_id, Resolver};
use crate::model::{Api, ApiKind, Function, PayloadFormat, Route};
use crate::node::Node;
use crate::{LoadOptions, Problem};

const V2_ROUTE: &str = "AWS::ApiGatewayV2::Route";
const V2_INTEGRATION: &str = "AWS::ApiGatewayV2::Integration";
const V2_STAGE: &str = "AWS::ApiGatewayV2::Stage";

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// Whether an `AWS::ApiGatewayV2::Api`'s `ProtocolType` is literally `HTTP`.
pub(super) fn is_http_api(type_name: &str, properties: Option<&Node>) -> bool {
    type_name == V2_API
        && properties
            .and_then(|properties| properties.get("ProtocolType"))
            .and_then(Node::as_scalar)
            == Some("HTTP")
}

/// Whether `raw` is an `AWS::ApiGatewayV2::*` part of one of the HTTP APIs `http_ids`.
pub(super) fn belongs(raw: &RawResource<'_>, http_ids: &[String]) -> bool {
    if !TYPES.contains(&raw.type_name.as_str()) {
        return false;
    }
    if raw.type_name == V2_API {
        return http_ids.contains(&raw.logical_id);
    }
    api_of(raw).is_some_and(|api| http_ids.contains(&api))
}

fn api_of(raw: &RawResource<'_>) -> Option<String> {
    let node = raw.properties?.get("ApiId")?;
    super::apis::api_reference(node, "ApiId").ok()
}

/// Every HTTP API of the template written as `AWS::ApiGatewayV2::Api`, with its stage,
/// without routes yet.
pub(super) fn http_apis(
    resolver: &Resolver<'_>,
    created: &[RawResource<'_>],
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<Vec<Api>, Problem> {
    let mut apis = Vec::new();
    for raw in created
        .iter()
        .filter(|raw| is_http_api(&raw.type_name, raw.properties))
    {
        let location = format!("Resources.{}.Properties", raw.logical_id);
        for entry in mapping(
            raw.properties.expect("an HTTP API has properties"),
            &location,
        )? {
            match entry.key.as_str() {
                "Name"
                | "ProtocolType"
                | "Description"
                | "Tags"
                | "Version"
                | "Target"
                | "RouteKey"
                | "DisableExecuteApiEndpoint"
                | "DisableSchemaValidation"
                | "FailOnWarnings"
                | "CredentialsArn"
                | "Body"
                | "BodyS3Location" => {}
                other => unsupported.push(format!("{}.{other}", raw.logical_id)),
            }
        }
        let quick_create = raw
            .properties
            .and_then(|properties| properties.get("Target"))
            .is_some();
        apis.push(Api {
            logical_id: raw.logical_id.clone(),
            authorizers: Vec::new(),
            api_key_source: crate::ApiKeySource::Header,
            api_id: derived_id(&options.stack_name, &raw.logical_id),
            kind: ApiKind::Http,
            // Quick create makes a `$default` stage that deploys automatically.
            stage_name: if quick_create {
                "$default".to_owned()
            } else {
                String::new()
            },
            stage_variables: BTreeMap::new(),
            other_stages: Vec::new(),
            binary_media_types: Vec::new(),
            cors: None,
            routes: Vec::new(),
        });
    }
    if apis.is_empty() {
        return Ok(apis);
    }
    let http_ids: Vec<String> = apis.iter().map(|api| api.logical_id.clone()).collect();
    for raw in created.iter().filter(|raw| raw.type_name == V2_STAGE) {
        if !belongs(raw, &http_ids) {
            continue;
        }
        let api_logical_id = api_of(raw).expect("belongs read the ApiId");
        let location = format!("Resources.{}.Properties", raw.logical_id);
        let Some((stage_name, _)) = string_property(resolver, raw, "StageName")? else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.StageName: missing; use $default or a name such as prod"),
            ));
        };
        let variables = match property(resolver, raw, "StageVariables")? {
            None => BTreeMap::new(),
            Some((value, location)) => expect_string_map(&value, &location)?,
        };
        let api = apis
            .iter_mut()
            .find(|api| api.logical_id == api_logical_id)
            .expect("belongs checked the API");
        super::rest_resources::add_stage(api, stage_name, variables, raw, &location)?;
    }
    for api in &apis {
        if api.stage_name.is_empty() {
            let raw = created
                .iter()
                .find(|raw| raw.logical_id == api.logical_id)
                .expect("every API came from a resource");
            return Err(Problem::at(
                raw.key_span,
                format!("Resources.{0}: an HTTP API is reachable only through a stage; add an AWS::ApiGatewayV2::Stage (ApiId: !Ref {0}, StageName: $default, AutoDeploy: true)", api.logical_id),
            ));
        }
    }
    Ok(apis)
}

/// An integration: the function it calls and the payload format it sends.
struct Integration {
    logical_id: String,
    api: String,
    function: String,
    payload_format: PayloadFormat,
}

fn payload_format(
    text: &str,
    span: crate::node::Span,
    location: &str,
) -> Result<PayloadFormat, Problem> {
    match text {
        "1.0" => Ok(PayloadFormat::V1),
        "2.0" => Ok(PayloadFormat::V2),
        _ => Err(Problem::at(
            span,
            format!("{location}: expected \"1.0\" or \"2.0\", found '{text}'"),
        )),
    }
}

/// A route key (`GET /items/{id}`, `ANY /x`, `$default`) as a method and path.
fn route_key(
    key: &str,
    span: crate::node::Span,
    location: &str,
) -> Result<(String, String), Problem> {
    if key == "$default" {
        return Ok(("ANY".to_owned(), "$default".to_owned()));
    }
    let parsed = key.split_once(' ').and_then(|(method, path)| {
        let method = method.to_uppercase();
        (METHODS.contains(&method.as_str()) && path.starts_with('/'))
            .then(|| (method, path.to_owned()))
    });
    parsed.ok_or_else(|| {
        Problem::at(
            span,
            format!("{location}: '{key}' is not a route key; use $default or METHOD /path, such as 'GET /items/{{id}}' or 'ANY /{{proxy+}}'"),
        )
    })
}

/// The routes of the HTTP APIs in `apis` that came from [`http_apis`].
pub(super) fn http_routes(
    resolver: &Resolver<'_>,
    created: &[RawResource<'_>],
    functions: &[Function],
    apis: &mut [Api],
) -> Result<(), Problem> {
    let http_ids: Vec<String> = created
        .iter()
        .filter(|raw| is_http_api(&raw.type_name, raw.properties))
        .map(|raw| raw.logical_id.clone())
        .collect();
    if http_ids.is_empty() {
        return Ok(());
    }
    let function_named = |uri: &str, span, location: &str| {
        function_of_uri(uri, functions).ok_or_else(|| {
            Problem::at(
                span,
                format!("{location}: '{uri}' names no function of this template; use !GetAtt MyFunction.Arn or the invocation URI arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations"),
            )
        })
    };

    // Quick create: the API's own `Target` and `RouteKey`.
    for raw in created
        .iter()
        .filter(|raw| is_http_api(&raw.type_name, raw.properties))
    {
        let Some((target, target_span)) = string_property(resolver, raw, "Target")? else {
            continue;
        };
        let location = format!("Resources.{}.Properties", raw.logical_id);
        let function = function_named(&target, target_span, &format!("{location}.Target"))?;
        let (method, path) = match string_property(resolver, raw, "RouteKey")? {
            None => ("ANY".to_owned(), "$default".to_owned()),
            Some((key, span)) => route_key(&key, span, &format!("{location}.RouteKey"))?,
        };
        let api = apis
            .iter_mut()
            .find(|api| api.logical_id == raw.logical_id)
            .expect("http_apis made every HTTP API");
        api.routes.push(Route {
            method,
            path,
            function,
            payload_format: PayloadFormat::V2,
            event_name: raw.logical_id.clone(),
            auth: crate::RouteAuth::None,
            mock: None,
            validation: None,
            api_key_required: false,
        });
    }

    for raw in created
        .iter()
        .filter(|raw| raw.type_name == resource_authorizers::V2_AUTHORIZER)
    {
        if !belongs(raw, &http_ids) {
            continue;
        }
        let api_logical_id = api_of(raw).expect("belongs read the ApiId");
        let authorizer = resource_authorizers::authorizer(resolver, raw, functions)?;
        apis.iter_mut()
            .find(|api| api.logical_id == api_logical_id)
            .expect("http_apis made every HTTP API")
            .authorizers
            .push(authorizer);
    }

    let mut integrations = Vec::new();
    for raw in created.iter().filter(|raw| raw.type_name == V2_INTEGRATION) {
        if !belongs(raw, &http_ids) {
            continue;
        }
        let api = api_of(raw).expect("belongs read the ApiId");
        let location = format!("Resources.{}.Properties", raw.logical_id);
        let Some((integration_type, type_span)) =
            string_property(resolver, raw, "IntegrationType")?
        else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.IntegrationType: missing; use AWS_PROXY with the function's ARN as IntegrationUri"),
            ));
        };
        if integration_type != "AWS_PROXY" {
            return Err(Problem::at(
                type_span,
                format!("{location}.IntegrationType: '{integration_type}' is not supported; use AWS_PROXY to call a function"),
            ));
        }
        let Some((uri, uri_span)) = string_property(resolver, raw, "IntegrationUri")? else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.IntegrationUri: missing; use !GetAtt MyFunction.Arn"),
            ));
        };
        let function = function_named(&uri, uri_span, &format!("{location}.IntegrationUri"))?;
        let Some((format_text, format_span)) =
            string_property(resolver, raw, "PayloadFormatVersion")?
        else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.PayloadFormatVersion: missing; an HTTP API's Lambda integration needs \"2.0\" (or \"1.0\" for the REST event)"),
            ));
        };
        integrations.push(Integration {
            logical_id: raw.logical_id.clone(),
            api,
            function,
            payload_format: payload_format(
                &format_text,
                format_span,
                &format!("{location}.PayloadFormatVersion"),
            )?,
        });
    }

    for raw in created.iter().filter(|raw| raw.type_name == V2_ROUTE) {
        if !belongs(raw, &http_ids) {
            continue;
        }
        let api_logical_id = api_of(raw).expect("belongs read the ApiId");
        let location = format!("Resources.{}.Properties", raw.logical_id);
        let Some((key, key_span)) = string_property(resolver, raw, "RouteKey")? else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.RouteKey: missing; use $default or METHOD /path such as 'GET /items/{{id}}'"),
            ));
        };
        let (method, path) = route_key(&key, key_span, &format!("{location}.RouteKey"))?;
        let Some((target, target_span)) = string_property(resolver, raw, "Target")? else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.Target: missing; use !Join ['/', ['integrations', !Ref MyIntegration]]"),
            ));
        };
        let integration_id = target.strip_prefix("integrations/").unwrap_or(&target);
        let Some(integration) = integrations
            .iter()
            .find(|integration| integration.logical_id == integration_id)
        else {
            return Err(Problem::at(
                target_span,
                format!("{location}.Target: '{target}' names no AWS::ApiGatewayV2::Integration of this template; use !Join ['/', ['integrations', !Ref MyIntegration]]"),
            ));
        };
        if integration.api != api_logical_id {
            return Err(Problem::at(
                target_span,
                format!("{location}.Target: integration '{}' belongs to API '{}', not '{api_logical_id}'", integration.logical_id, integration.api),
            ));
        }
        let api = apis
            .iter_mut()
            .find(|api| api.logical_id == api_logical_id)
            .expect("http_apis made every HTTP API");
        let auth =
            resource_authorizers::route_auth(resolver, raw, &api_logical_id, &api.authorizers)?;
        if api
            .routes
            .iter()
            .any(|route| route.method == method && route.path == path)
        {
            return Err(Problem::at(
                key_span,
                format!("{location}.RouteKey: API '{api_logical_id}' already has a route '{key}'"),
            ));
        }
        api.routes.push(Route {
            method,
            path,
            function: integration.function.clone(),
            payload_format: integration.payload_format,
            event_name: raw.logical_id.clone(),
            auth,
            mock: None,
            validation: None,
            api_key_required: false,
        });
    }
    Ok(())
}
