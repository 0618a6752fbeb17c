//! OpenAPI definitions of APIs: `DefinitionBody`/`DefinitionUri` (`AWS::Serverless::Api`,
//! `AWS::Serverless::HttpApi`) and `Body`/`BodyS3Location` (`AWS::ApiGateway::RestApi`,
//! `AWS::ApiGatewayV2::Api`), inline or a local file (YAML or JSON), read into routes.
//!
//! Each path's operations (`get`, ..., `x-amazon-apigateway-any-method`) become routes
//! through their `x-amazon-apigateway-integration`: `aws_proxy` calls the function its
//! `uri` names; `mock` answers the `default` response. Intrinsics inside the definition
//! resolve. SAM's routes from function events are added to the definition's, replacing an
//! operation of the same path and method, as SAM merges them.

use std::path::Path;

use super::properties::{expect_string, mapping};
use super::websockets::function_of_uri;
use super::RawResource;
use crate::intrinsics::Resolver;
use crate::model::{ApiKind, Function, MockResponse, PayloadFormat, Route};
use crate::node::{Node, Span};
use crate::Problem;

const OPERATIONS: &[(&str, &str)] = &[
    ("get", "GET"),
    ("post", "POST"),
    ("put", "PUT"),
    ("patch", "PATCH"),
    ("delete", "DELETE"),
    ("head", "HEAD"),
    ("options", "OPTIONS"),
    ("x-amazon-apigateway-any-method", "ANY"),
];

/// The definition of an API resource, resolved, with where it came from for messages; or
/// `None` when the API has none.
fn definition(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    base_dir: &Path,
) -> Result<Option<(Node, String)>, Problem> {
    let Some(properties) = raw.properties else {
        return Ok(None);
    };
    let location = format!("Resources.{}.Properties", raw.logical_id);
    for key in ["DefinitionBody", "Body"] {
        if let Some(body) = properties.get(key) {
            let body_location = format!("{location}.{key}");
            // `Fn::Transform: {Name: AWS::Include, Parameters: {Location: file}}` includes a
            // local file in place, as CloudFormation includes one from S3.
            if let Some(transform) = body.get("Fn::Transform") {
                let transform_location = format!("{body_location}.Fn::Transform");
                let name = transform.get("Name").and_then(Node::as_scalar);
                let file = transform
                    .get("Parameters")
                    .and_then(|parameters| parameters.get("Location"));
                let (Some("AWS::Include"), Some(file)) = (name, file) else {
                    return Err(Problem::at(
                        transform.span,
                        format!("{transform_location}: only Name: AWS::Include with Parameters: {{Location: a local file}} is supported here"),
                    ));
                };
                let location = format!("{transform_location}.Parameters.Location");
                return load_file(resolver, file, &location, base_dir).map(Some);
            }
            let Some(resolved) = resolver.resolve(body, &body_location)? else {
                return Ok(None);
            };
            return Ok(Some((resolved, body_location)));
        }
    }
    for key in ["DefinitionUri", "BodyS3Location"] {
        let Some(uri) = properties.get(key) else {
            continue;
        };
        let uri_location = format!("{location}.{key}");
        return load_file(resolver, uri, &uri_location, base_dir).map(Some);
    }
    Ok(None)
}

/// A definition in a local file (YAML or JSON) named by `uri`, resolved; problems in the
/// file are reported at `uri` with the file's line.
fn load_file(
    resolver: &Resolver<'_>,
    uri: &Node,
    uri_location: &str,
    base_dir: &Path,
) -> Result<(Node, String), Problem> {
    let Some(uri_value) = resolver.resolve(uri, uri_location)? else {
        return Err(Problem::at(
            uri.span,
            format!("{uri_location}: AWS::NoValue cannot be used here; name a local file"),
        ));
    };
    let Some(path_text) = uri_value.as_scalar() else {
        return Err(Problem::at(
            uri.span,
            format!("{uri_location}: only a local file path is supported here (an S3 location needs AWS); use a path relative to the template such as openapi.yaml"),
        ));
    };
    if path_text.starts_with("s3://") {
        return Err(Problem::at(
            uri.span,
            format!("{uri_location}: '{path_text}' is in S3; use a local file path relative to the template"),
        ));
    }
    let path = base_dir.join(path_text);
    let source = std::fs::read_to_string(&path).map_err(|error| {
        Problem::at(
            uri.span,
            format!("{uri_location}: cannot read {}: {error}", path.display()),
        )
    })?;
    let in_file = |span: Span, message: String| {
        Problem::at(
            uri.span,
            format!(
                "{uri_location}: {}:{}:{}: {message}",
                path.display(),
                span.line,
                span.column
            ),
        )
    };
    let parsed = crate::node::parse(&source)
        .map_err(|error| in_file(error.span, error.message))?
        .ok_or_else(|| in_file(Span::default(), "the file is empty".to_owned()))?;
    let resolved = resolver
        .resolve(&parsed, "definition")
        .map_err(|problem| in_file(problem.span.unwrap_or_default(), problem.message))?
        .ok_or_else(|| in_file(parsed.span, "the definition is AWS::NoValue".to_owned()))?;
    Ok((resolved, format!("{uri_location} ({})", path.display())))
}

/// The names of a definition's security schemes that are API Gateway's API keys: type
/// `apiKey`, named `x-api-key`, in the header (`securityDefinitions` of Swagger 2.0,
/// `components.securitySchemes` of OpenAPI 3).
fn api_key_schemes(definition: &Node) -> Vec<String> {
    let schemes = definition.get("securityDefinitions").or_else(|| {
        definition
            .get("components")
            .and_then(|components| components.get("securitySchemes"))
    });
    schemes
        .and_then(Node::as_mapping)
        .unwrap_or_default()
        .iter()
        .filter(|entry| {
            let field = |key: &str| entry.value.get(key).and_then(Node::as_scalar);
            field("type") == Some("apiKey")
                && field("name").is_some_and(|name| name.eq_ignore_ascii_case("x-api-key"))
                && field("in") == Some("header")
        })
        .map(|entry| entry.key.clone())
        .collect()
}

/// Whether a `security` requirement list names one of the API key schemes; `None` when
/// there is no list.
fn requires_api_key(security: Option<&Node>, schemes: &[String]) -> Option<bool> {
    let requirements = security?.as_sequence()?;
    Some(requirements.iter().any(|requirement| {
        requirement
            .as_mapping()
            .unwrap_or_default()
            .iter()
            .any(|entry| schemes.contains(&entry.key))
    }))
}

/// What an API's OpenAPI definition makes.
#[derive(Default)]
pub(super) struct Defined {
    /// In the definition's order, but for the operations the functions' events replace.
    pub(super) routes: Vec<Route>,
    /// `x-amazon-apigateway-api-key-source`.
    pub(super) api_key_source: Option<crate::ApiKeySource>,
    /// The authorizers of its security schemes (`x-amazon-apigateway-authorizer`).
    pub(super) authorizers: Vec<crate::Authorizer>,
}

/// The API's side of a definition: its SAM `Auth` authorizers (which `security` may
/// name) and the protection of operations that name none (SAM's `DefaultAuthorizer`).
pub(super) struct ApiSide<'a> {
    pub(super) kind: ApiKind,
    pub(super) authorizers: &'a [crate::Authorizer],
    pub(super) default_auth: &'a crate::RouteAuth,
}

/// What an API's OpenAPI definition makes, but for the operations (method, path) in
/// `from_events`, which the functions' events replace.
pub(super) fn definition_routes(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    base_dir: &Path,
    api: &ApiSide<'_>,
    functions: &[Function],
    from_events: &[(&str, &str)],
    unsupported: &mut Vec<String>,
) -> Result<Defined, Problem> {
    let kind = api.kind;
    let Some((definition, location)) = definition(resolver, raw, base_dir)? else {
        return Ok(Defined::default());
    };
    let definition_auth =
        super::openapi_auth::definition_auth(&definition, &location, kind, functions, unsupported)?;
    let key_schemes = api_key_schemes(&definition);
    let api_requires_key = requires_api_key(definition.get("security"), &key_schemes);
    let api_key_source = match definition.get("x-amazon-apigateway-api-key-source") {
        None => None,
        Some(node) => Some(super::api_keys::api_key_source(
            node,
            &format!("{location}.x-amazon-apigateway-api-key-source"),
        )?),
    };
    let Some(paths) = definition.get("paths") else {
        return Err(Problem::at(
            definition.span,
            format!("{location}: an OpenAPI definition needs paths"),
        ));
    };
    let mut routes = Vec::new();
    for path_entry in mapping(paths, &format!("{location}.paths"))? {
        let path = &path_entry.key;
        let path_location = format!("{location}.paths.{path}");
        for operation in mapping(&path_entry.value, &path_location)? {
            let Some((_, method)) = OPERATIONS
                .iter()
                .find(|(key, _)| operation.key.eq_ignore_ascii_case(key))
            else {
                continue;
            };
            let operation_location = format!("{path_location}.{}", operation.key);
            if from_events.contains(&(*method, path.as_str())) {
                continue;
            }
            let Some(integration) = operation.value.get("x-amazon-apigateway-integration") else {
                return Err(Problem::at(
                    operation.key_span,
                    format!("{operation_location}: no x-amazon-apigateway-integration; add one with type: aws_proxy, httpMethod: POST and the function's invocation uri"),
                ));
            };
            let integration_location =
                format!("{operation_location}.x-amazon-apigateway-integration");
            let integration_type = match integration.get("type") {
                Some(node) => expect_string(node, &format!("{integration_location}.type"))?,
                None => {
                    return Err(Problem::at(
                        integration.span,
                        format!("{integration_location}.type: missing; use aws_proxy or mock"),
                    ))
                }
            };
            let (function, mock) = match integration_type.to_lowercase().as_str() {
                "aws_proxy" => {
                    let Some(uri_node) = integration.get("uri") else {
                        return Err(Problem::at(
                            integration.span,
                            format!("{integration_location}.uri: missing; use Fn::Sub: arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{MyFunction.Arn}}/invocations"),
                        ));
                    };
                    let uri = expect_string(uri_node, &format!("{integration_location}.uri"))?;
                    let function = function_of_uri(&uri, functions).ok_or_else(|| {
                        Problem::at(
                            uri_node.span,
                            format!("{integration_location}.uri: '{uri}' names no function of this template; use arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations with ${{MyFunction.Arn}}"),
                        )
                    })?;
                    (function, None)
                }
                "mock" => (String::new(), Some(mock(integration, &integration_location)?)),
                other => {
                    return Err(Problem::at(
                        integration.span,
                        format!("{integration_location}.type: '{other}' is not supported; use aws_proxy or mock"),
                    ))
                }
            };
            let payload_format = match (kind, integration.get("payloadFormatVersion")) {
                (ApiKind::Rest, _) => PayloadFormat::V1,
                (ApiKind::Http, None) => PayloadFormat::V2,
                (ApiKind::Http, Some(node)) => {
                    match expect_string(node, &format!("{integration_location}.payloadFormatVersion"))?.as_str() {
                        "1.0" => PayloadFormat::V1,
                        "2.0" => PayloadFormat::V2,
                        other => {
                            return Err(Problem::at(
                                node.span,
                                format!("{integration_location}.payloadFormatVersion: expected \"1.0\" or \"2.0\", found '{other}'"),
                            ))
                        }
                    }
                }
            };
            let route_path = if kind == ApiKind::Http && path == "$default" {
                "$default".to_owned()
            } else {
                path.clone()
            };
            let validation = match kind {
                ApiKind::Rest => super::request_models::openapi_validation(
                    &definition,
                    &path_entry.value,
                    &operation.value,
                    &location,
                    &operation_location,
                )?,
                ApiKind::Http => None,
            };
            routes.push(Route {
                method: (*method).to_owned(),
                path: route_path,
                function,
                payload_format,
                event_name: format!("paths.{path}.{}", operation.key),
                auth: definition_auth.operation_auth(
                    operation.value.get("security"),
                    definition.get("security"),
                    api.authorizers,
                    api.default_auth,
                ),
                mock,
                validation,
                api_key_required: kind == ApiKind::Rest
                    && requires_api_key(operation.value.get("security"), &key_schemes)
                        .or(api_requires_key)
                        .unwrap_or(false),
            });
        }
    }
    Ok(Defined {
        routes,
        api_key_source,
        authorizers: definition_auth.authorizers,
    })
}

/// A `mock` integration's `default` response (or the one matching its request template's
/// status).
fn mock(integration: &Node, location: &str) -> Result<MockResponse, Problem> {
    let status = integration
        .get("requestTemplates")
        .and_then(|templates| templates.get("application/json"))
        .and_then(Node::as_scalar)
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .and_then(|value| value.get("statusCode").and_then(serde_json::Value::as_u64))
        .unwrap_or(200)
        .to_string();
    let responses = integration.get("responses");
    let chosen = responses
        .and_then(|responses| responses.get(&status))
        .or_else(|| responses.and_then(|responses| responses.get("default")));
    let Some(response) = chosen else {
        return Ok(MockResponse {
            status_code: 500,
            content_type: "application/json".to_owned(),
            body: r#"{"message": "Internal server error"}"#.to_owned(),
            headers: Default::default(),
        });
    };
    let status_code = match response.get("statusCode") {
        None => 200,
        Some(node) => expect_string(node, &format!("{location}.responses.statusCode"))?
            .parse()
            .map_err(|_| {
                Problem::at(
                    node.span,
                    format!("{location}.responses.statusCode: not an HTTP status code"),
                )
            })?,
    };
    let (content_type, body) = match response
        .get("responseTemplates")
        .and_then(Node::as_mapping)
        .and_then(|entries| {
            entries
                .iter()
                .find(|entry| entry.key == "application/json")
                .or(entries.first())
        }) {
        None => ("application/json".to_owned(), String::new()),
        Some(entry) => (
            entry.key.clone(),
            entry.value.as_scalar().unwrap_or_default().to_owned(),
        ),
    };
    let mut headers = std::collections::BTreeMap::new();
    for entry in response
        .get("responseParameters")
        .and_then(Node::as_mapping)
        .unwrap_or_default()
    {
        if let (Some(header), Some(value)) = (
            entry.key.strip_prefix("method.response.header."),
            entry
                .value
                .as_scalar()
                .and_then(|value| value.strip_prefix('\''))
                .and_then(|value| value.strip_suffix('\'')),
        ) {
            headers.insert(header.to_owned(), value.to_owned());
        }
    }
    Ok(MockResponse {
        status_code,
        content_type,
        body,
        headers,
    })
}
