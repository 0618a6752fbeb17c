//! WebSocket APIs: `AWS::ApiGatewayV2::Api` with `ProtocolType: WEBSOCKET` and the
//! `Route`, `Integration`, `Stage`, `Deployment`, `RouteResponse`, `IntegrationResponse`
//! and `Authorizer` resources that name it, read into [`WebSocketApi`]s.
//!
//! Templates write these without SAM's shorthand, as AWS's samples do: a route's `Target`
//! is `integrations/{IntegrationId}` (`!Join ['/', ['integrations', !Ref Integ]]`), an
//! integration's `IntegrationUri` is the Lambda invocation URI built with `!Sub` or
//! `!Join` around the function's ARN. Both are resolved here to the template's function.

use super::properties::{expect_string, mapping};
use super::RawResource;
use crate::intrinsics::Resolver;
use crate::model::{Function, WebSocketApi, WebSocketAuth, WebSocketAuthorizer, WebSocketRoute};
use crate::node::Node;
use crate::{LoadOptions, Problem};

pub(super) const V2_API: &str = "AWS::ApiGatewayV2::Api";
pub(super) const V2_ROUTE: &str = "AWS::ApiGatewayV2::Route";
const V2_INTEGRATION: &str = "AWS::ApiGatewayV2::Integration";
const V2_STAGE: &str = "AWS::ApiGatewayV2::Stage";
const V2_DEPLOYMENT: &str = "AWS::ApiGatewayV2::Deployment";
const V2_ROUTE_RESPONSE: &str = "AWS::ApiGatewayV2::RouteResponse";
const V2_INTEGRATION_RESPONSE: &str = "AWS::ApiGatewayV2::IntegrationResponse";
const V2_AUTHORIZER: &str = "AWS::ApiGatewayV2::Authorizer";

/// The resource types a WebSocket API is made of (besides `AWS::Lambda::Permission`).
pub(super) const TYPES: &[&str] = &[
    V2_API,
    V2_ROUTE,
    V2_INTEGRATION,
    V2_STAGE,
    V2_DEPLOYMENT,
    V2_ROUTE_RESPONSE,
    V2_INTEGRATION_RESPONSE,
    V2_AUTHORIZER,
];

/// Whether an `AWS::ApiGatewayV2::Api`'s `ProtocolType` is literally `WEBSOCKET`.
pub(super) fn is_websocket_api(type_name: &str, properties: Option<&Node>) -> bool {
    type_name == V2_API
        && properties
            .and_then(|properties| properties.get("ProtocolType"))
            .and_then(Node::as_scalar)
            == Some("WEBSOCKET")
}

/// The logical id a resource's `ApiId` names, read as written (`!Ref MyApi`).
fn api_of(raw: &RawResource<'_>) -> Option<String> {
    let node = raw.properties?.get("ApiId")?;
    super::apis::api_reference(node, "ApiId").ok()
}

/// Whether `raw` is one of [`TYPES`] and belongs to a WebSocket API of `websocket_ids`.
pub(super) fn belongs(raw: &RawResource<'_>, websocket_ids: &[String]) -> bool {
    if !TYPES.contains(&raw.type_name.as_str()) {
        return false;
    }
    if raw.type_name == V2_API {
        return websocket_ids.contains(&raw.logical_id);
    }
    api_of(raw).is_some_and(|api| websocket_ids.contains(&api))
}

/// A property resolved to a string, or `None` when absent.
fn string_property(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    key: &str,
) -> Result<Option<(String, crate::node::Span)>, Problem> {
    let Some(node) = raw.properties.and_then(|properties| properties.get(key)) else {
        return Ok(None);
    };
    let location = format!("Resources.{}.Properties.{key}", raw.logical_id);
    let Some(value) = resolver.resolve(node, &location)? else {
        return Ok(None);
    };
    Ok(Some((expect_string(&value, &location)?, value.span)))
}

fn required(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    key: &str,
    why: &str,
) -> Result<(String, crate::node::Span), Problem> {
    string_property(resolver, raw, key)?.ok_or_else(|| {
        Problem::at(
            raw.key_span,
            format!(
                "Resources.{}.Properties.{key}: missing; {why}",
                raw.logical_id
            ),
        )
    })
}

/// An integration: the function it calls.
struct Integration {
    logical_id: String,
    api: String,
    function: String,
}

/// Every WebSocket API of the template, with its routes resolved to functions.
pub(super) fn websocket_apis(
    resolver: &Resolver<'_>,
    created: &[RawResource<'_>],
    functions: &[Function],
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<Vec<WebSocketApi>, Problem> {
    let mut apis = Vec::new();
    for raw in created {
        if !is_websocket_api(&raw.type_name, raw.properties) {
            continue;
        }
        let location = format!("Resources.{}.Properties", raw.logical_id);
        for entry in mapping(
            raw.properties.expect("a WEBSOCKET API has properties"),
            &location,
        )? {
            match entry.key.as_str() {
                "Name"
                | "ProtocolType"
                | "RouteSelectionExpression"
                | "ApiKeySelectionExpression"
                | "Description"
                | "Tags"
                | "DisableSchemaValidation"
                | "Version" => {}
                other => unsupported.push(format!("{}.{other}", raw.logical_id)),
            }
        }
        let name = string_property(resolver, raw, "Name")?.map(|(name, _)| name);
        let (expression, span) = required(
            resolver,
            raw,
            "RouteSelectionExpression",
            "a WEBSOCKET API needs one, such as '$request.body.action'",
        )?;
        if !(expression.starts_with("$request.body") || expression.starts_with("${request.body")) {
            return Err(Problem::at(
                span,
                format!("{location}.RouteSelectionExpression: '{expression}' is not supported; use a JSON path of the message such as '$request.body.action'"),
            ));
        }
        apis.push(WebSocketApi {
            logical_id: raw.logical_id.clone(),
            api_id: crate::intrinsics::derived_id(&options.stack_name, &raw.logical_id),
            name,
            route_selection_expression: expression,
            stage_name: String::new(),
            other_stages: Vec::new(),
            routes: Vec::new(),
            connect_auth: WebSocketAuth::None,
        });
    }
    if apis.is_empty() {
        return Ok(apis);
    }
    let websocket_ids: Vec<String> = apis.iter().map(|api| api.logical_id.clone()).collect();
    // The `ApiId` of each part, checked against the template's WebSocket APIs.
    let api_id_of = |raw: &RawResource<'_>| -> Result<String, Problem> {
        let location = format!("Resources.{}.Properties.ApiId", raw.logical_id);
        let Some(node) = raw
            .properties
            .and_then(|properties| properties.get("ApiId"))
        else {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}: missing; use !Ref of the WebSocket API"),
            ));
        };
        let api = super::apis::api_reference(node, &location)?;
        if !websocket_ids.contains(&api) {
            return Err(Problem::at(
                node.span,
                format!("{location}: '{api}' is not a WebSocket API (AWS::ApiGatewayV2::Api with ProtocolType: WEBSOCKET) of this template"),
            ));
        }
        Ok(api)
    };

    let mut integrations = Vec::new();
    for raw in created.iter().filter(|raw| raw.type_name == V2_INTEGRATION) {
        if !belongs(raw, &websocket_ids) {
            continue;
        }
        let api = api_id_of(raw)?;
        let location = format!("Resources.{}.Properties", raw.logical_id);
        let (integration_type, type_span) = required(
            resolver,
            raw,
            "IntegrationType",
            "use AWS_PROXY with the function's invocation URI",
        )?;
        if integration_type != "AWS_PROXY" {
            return Err(Problem::at(
                type_span,
                format!("{location}.IntegrationType: '{integration_type}' is not supported; use AWS_PROXY to call a function"),
            ));
        }
        let (uri, uri_span) = required(
            resolver,
            raw,
            "IntegrationUri",
            "use !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${MyFunction.Arn}/invocations",
        )?;
        let function = function_of_uri(&uri, functions).ok_or_else(|| {
            Problem::at(
                uri_span,
                format!("{location}.IntegrationUri: '{uri}' names no function of this template; use arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations with !GetAtt MyFunction.Arn"),
            )
        })?;
        integrations.push(Integration {
            logical_id: raw.logical_id.clone(),
            api,
            function,
        });
    }

    let mut authorizers = Vec::new();
    for raw in created.iter().filter(|raw| raw.type_name == V2_AUTHORIZER) {
        if belongs(raw, &websocket_ids) {
            authorizers.push(authorizer(resolver, raw, &api_id_of(raw)?, functions)?);
        }
    }

    let mut two_way = Vec::new();
    for raw in created
        .iter()
        .filter(|raw| raw.type_name == V2_ROUTE_RESPONSE)
    {
        if !belongs(raw, &websocket_ids) {
            continue;
        }
        api_id_of(raw)?;
        let (route, _) = required(resolver, raw, "RouteId", "use !Ref of the route")?;
        two_way.push(route);
    }

    for raw in created.iter().filter(|raw| raw.type_name == V2_ROUTE) {
        if !belongs(raw, &websocket_ids) {
            continue;
        }
        let api_logical_id = api_id_of(raw)?;
        let location = format!("Resources.{}.Properties", raw.logical_id);
        let (route_key, _) = required(
            resolver,
            raw,
            "RouteKey",
            "such as $connect, $disconnect, $default or an action name",
        )?;
        let auth = route_auth(resolver, raw, &route_key, &api_logical_id, &authorizers)?;
        let (target, target_span) = required(
            resolver,
            raw,
            "Target",
            "use !Join ['/', ['integrations', !Ref MyIntegration]]",
        )?;
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
            .expect("api_id_of checked that the API is one of these");
        if api.routes.iter().any(|route| route.route_key == route_key) {
            return Err(Problem::at(
                raw.key_span,
                format!(
                    "{location}.RouteKey: API '{api_logical_id}' already has a route '{route_key}'"
                ),
            ));
        }
        if route_key == "$connect" {
            api.connect_auth = auth;
        }
        api.routes.push(WebSocketRoute {
            route_key,
            function: integration.function.clone(),
            two_way: two_way.contains(&raw.logical_id),
        });
    }

    for raw in created.iter().filter(|raw| raw.type_name == V2_STAGE) {
        if !belongs(raw, &websocket_ids) {
            continue;
        }
        let api_logical_id = api_id_of(raw)?;
        let (stage_name, span) = required(resolver, raw, "StageName", "such as production")?;
        let api = apis
            .iter_mut()
            .find(|api| api.logical_id == api_logical_id)
            .expect("api_id_of checked that the API is one of these");
        if api.stage_name.is_empty() {
            api.stage_name = stage_name;
        } else if api.stage_name == stage_name || api.other_stages.contains(&stage_name) {
            return Err(Problem::at(
                span,
                format!("Resources.{}.Properties.StageName: API '{api_logical_id}' already has a stage '{stage_name}'", raw.logical_id),
            ));
        } else {
            api.other_stages.push(stage_name);
        }
    }
    for raw in created
        .iter()
        .filter(|raw| [V2_DEPLOYMENT, V2_INTEGRATION_RESPONSE].contains(&raw.type_name.as_str()))
    {
        if belongs(raw, &websocket_ids) {
            api_id_of(raw)?;
        }
    }
    for api in &mut apis {
        if api.stage_name.is_empty() {
            let raw = created
                .iter()
                .find(|raw| raw.logical_id == api.logical_id)
                .expect("every API came from a resource");
            return Err(Problem::at(
                raw.key_span,
                format!("Resources.{}: a WebSocket API needs an AWS::ApiGatewayV2::Stage (StageName, ApiId: !Ref {}) to be reachable", api.logical_id, api.logical_id),
            ));
        }
    }
    Ok(apis)
}

/// A Lambda authorizer of a WebSocket API, with the API's logical id.
fn authorizer(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    api: &str,
    functions: &[Function],
) -> Result<(String, WebSocketAuthorizer), Problem> {
    let location = format!("Resources.{}.Properties", raw.logical_id);
    let (kind, kind_span) = required(
        resolver,
        raw,
        "AuthorizerType",
        "WebSocket APIs take REQUEST authorizers",
    )?;
    if kind != "REQUEST" {
        return Err(Problem::at(
            kind_span,
            format!("{location}.AuthorizerType: '{kind}' is not available for WebSocket APIs; use REQUEST with a Lambda function"),
        ));
    }
    let (uri, uri_span) = required(
        resolver,
        raw,
        "AuthorizerUri",
        "use !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${MyAuthorizer.Arn}/invocations",
    )?;
    let function = function_of_uri(&uri, functions).ok_or_else(|| {
        Problem::at(
            uri_span,
            format!("{location}.AuthorizerUri: '{uri}' names no function of this template; use arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations with !GetAtt MyAuthorizer.Arn"),
        )
    })?;
    let name = string_property(resolver, raw, "Name")?
        .map_or_else(|| raw.logical_id.clone(), |(name, _)| name);
    let mut identity_sources = Vec::new();
    if let Some(node) = raw
        .properties
        .and_then(|properties| properties.get("IdentitySource"))
    {
        let source_location = format!("{location}.IdentitySource");
        if let Some(value) = resolver.resolve(node, &source_location)? {
            for item in super::properties::one_or_many(&value) {
                let source = expect_string(item, &source_location)?;
                // `route.request.header.X` and `route.request.querystring.X`; stage and
                // context variables are not served.
                let known = ["route.request.header.", "route.request.querystring."]
                    .iter()
                    .any(|prefix| source.len() > prefix.len() && source.starts_with(prefix));
                if !known {
                    return Err(Problem::at(
                        item.span,
                        format!("{source_location}: '{source}' is not supported; use route.request.header.NAME or route.request.querystring.NAME"),
                    ));
                }
                identity_sources.push(source);
            }
        }
    }
    Ok((
        api.to_owned(),
        WebSocketAuthorizer {
            logical_id: raw.logical_id.clone(),
            name,
            function,
            identity_sources,
        },
    ))
}

/// A route's `AuthorizationType` (with `AuthorizerId`); API Gateway authorizes
/// `$connect` alone.
fn route_auth(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    route_key: &str,
    api: &str,
    authorizers: &[(String, WebSocketAuthorizer)],
) -> Result<WebSocketAuth, Problem> {
    let location = format!("Resources.{}.Properties", raw.logical_id);
    let Some((authorization, span)) = string_property(resolver, raw, "AuthorizationType")? else {
        return Ok(WebSocketAuth::None);
    };
    if authorization != "NONE" && route_key != "$connect" {
        return Err(Problem::at(
            span,
            format!("{location}.AuthorizationType: '{authorization}' on route '{route_key}': API Gateway authorizes only the $connect route; use NONE"),
        ));
    }
    match authorization.as_str() {
        "NONE" => Ok(WebSocketAuth::None),
        "AWS_IAM" => Ok(WebSocketAuth::AwsIam),
        "CUSTOM" => {
            let (id, id_span) = required(
                resolver,
                raw,
                "AuthorizerId",
                "CUSTOM authorization names its AWS::ApiGatewayV2::Authorizer with !Ref",
            )?;
            let (owner, authorizer) = authorizers
                .iter()
                .find(|(_, authorizer)| authorizer.logical_id == id)
                .ok_or_else(|| {
                    Problem::at(
                        id_span,
                        format!("{location}.AuthorizerId: '{id}' names no AWS::ApiGatewayV2::Authorizer of this template"),
                    )
                })?;
            if owner != api {
                return Err(Problem::at(
                    id_span,
                    format!("{location}.AuthorizerId: authorizer '{id}' belongs to API '{owner}', not '{api}'"),
                ));
            }
            Ok(WebSocketAuth::Lambda(authorizer.clone()))
        }
        other => Err(Problem::at(
            span,
            format!("{location}.AuthorizationType: '{other}' is not a WebSocket authorization type; use NONE, AWS_IAM or CUSTOM"),
        )),
    }
}

/// The logical id of the template's function a Lambda invocation URI names
/// (`arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations`), by its
/// ARN or name.
pub(super) fn function_of_uri(uri: &str, functions: &[Function]) -> Option<String> {
    let rest = uri.split_once("/functions/").map_or(uri, |(_, rest)| rest);
    let target = rest.strip_suffix("/invocations").unwrap_or(rest);
    let name = match target.split_once(":function:") {
        // A qualifier (`:live`) after the name is the alias or version the route calls;
        // the function is what matters here.
        Some((_, name)) => name.split(':').next().unwrap_or(name),
        None => target,
    };
    functions
        .iter()
        .find(|function| function.name == name)
        .map(|function| function.logical_id.clone())
}
