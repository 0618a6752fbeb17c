//! APIs and their routes: `AWS::Serverless::Api` and `HttpApi` resources, the implicit
//! APIs, the stages SAM generates for them, and the `Api`/`HttpApi` events of functions.

use std::collections::BTreeMap;

use super::auth::{api_auth, event_auth, ApiAuth};
use super::domains::{sam_domain, SamDomain};
use super::properties::{
    expect_number, expect_string, expect_string_map, expect_strings, mapping, resolved_properties,
    PropertyRules,
};
use super::{RawResource, HTTP_API, IMPLICIT_HTTP_API, IMPLICIT_REST_API, REST_API};
use crate::intrinsics::{derived_id, Resolver, Resource, ResourceKind};
use crate::model::{Api, ApiKind, Cors, PayloadFormat, Route};
use crate::node::{Node, NodeKind, Span};
use crate::{LoadOptions, Problem};

const HTTP_METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// The stage and deployment SAM generates for an explicit API, named as SAM names them and
/// referenceable as `MyApi.Stage` and `MyApi.Deployment`.
pub(super) fn register_stage(resolver: &mut Resolver<'_>, api: &Api) {
    let (stage_id, stage_type) = match api.kind {
        ApiKind::Http if api.stage_name == "$default" => (
            format!("{}ApiGatewayDefaultStage", api.logical_id),
            "AWS::ApiGatewayV2::Stage",
        ),
        ApiKind::Http => (
            format!("{}{}Stage", api.logical_id, alphanumeric(&api.stage_name)),
            "AWS::ApiGatewayV2::Stage",
        ),
        ApiKind::Rest => (
            format!("{}{}Stage", api.logical_id, alphanumeric(&api.stage_name)),
            "AWS::ApiGateway::Stage",
        ),
    };
    let mut generated = vec![(
        stage_id,
        stage_type,
        ResourceKind::Stage {
            stage_name: api.stage_name.clone(),
        },
    )];
    if api.kind == ApiKind::Rest {
        generated.push((
            format!("{}Deployment", api.logical_id),
            "AWS::ApiGateway::Deployment",
            ResourceKind::Deployment,
        ));
    }
    for (logical_id, type_name, kind) in generated {
        // SAM's referenceable properties: `!Ref MyApi.Stage`, `!Ref MyApi.Deployment`.
        let property = match kind {
            ResourceKind::Stage { .. } => "Stage",
            _ => "Deployment",
        };
        resolver
            .referenceable
            .insert(format!("{}.{property}", api.logical_id), logical_id.clone());
        resolver.resources.entry(logical_id).or_insert(Resource {
            type_name: type_name.to_owned(),
            properties: None,
            kind,
        });
    }
}

fn alphanumeric(text: &str) -> String {
    text.chars().filter(char::is_ascii_alphanumeric).collect()
}

const REST_API_PROPERTIES: PropertyRules<'static> = PropertyRules {
    supported: &[
        "StageName",
        "Variables",
        "BinaryMediaTypes",
        "Domain",
        "Cors",
        "Auth",
        "ApiKeySourceType",
    ],
    // `DefinitionBody` and `DefinitionUri` are read by `openapi`, `Models` by
    // `request_models`.
    ignored: &[
        "Name",
        "Description",
        "Tags",
        "DefinitionBody",
        "DefinitionUri",
        "Models",
    ],
};

const HTTP_API_PROPERTIES: PropertyRules<'static> = PropertyRules {
    supported: &[
        "StageName",
        "StageVariables",
        "Domain",
        "CorsConfiguration",
        "Auth",
    ],
    ignored: &[
        "Name",
        "Description",
        "Tags",
        "DefinitionBody",
        "DefinitionUri",
    ],
};

/// The logical id an event's or a mapping's `RestApiId`/`ApiId` refers to, read as written
/// (`!Ref MyApi`).
pub(super) fn api_reference(node: &Node, location: &str) -> Result<String, Problem> {
    let target = match (&node.kind, node.tag.as_deref()) {
        (NodeKind::Scalar { text, .. }, Some("!Ref")) => Some(text.clone()),
        (NodeKind::Mapping(entries), None) => match entries.as_slice() {
            [entry] if entry.key == "Ref" => entry.value.as_scalar().map(str::to_owned),
            _ => None,
        },
        _ => None,
    };
    target.ok_or_else(|| {
        Problem::at(
            node.span,
            format!(
                "{location}: expected !Ref of an API in this template, found {}",
                node.describe()
            ),
        )
    })
}

pub(super) fn events(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    api_auths: &BTreeMap<String, ApiAuth>,
    api_models: &BTreeMap<String, super::request_models::Models>,
    unsupported: &mut Vec<String>,
) -> Result<Vec<(String, Route)>, Problem> {
    let logical_id = &raw.logical_id;
    let Some(events_node) = raw
        .properties
        .and_then(|properties| properties.get("Events"))
    else {
        return Ok(Vec::new());
    };
    let location = format!("Resources.{logical_id}.Properties.Events");
    let mut routes = Vec::new();
    for event in mapping(events_node, &location)? {
        let event_name = &event.key;
        let event_location = format!("{location}.{event_name}");
        mapping(&event.value, &event_location)?;
        let Some(type_node) = event.value.get("Type") else {
            return Err(Problem::at(
                event.key_span,
                format!("{event_location}.Type: missing; use Api, HttpApi, Schedule, ..."),
            ));
        };
        // SAM reads event types before any intrinsic is resolved, so they are literals.
        let Some(event_type) = type_node.as_scalar() else {
            return Err(Problem::at(
                type_node.span,
                format!(
                    "{event_location}.Type: expected a literal event type such as Api, found {}",
                    type_node.describe()
                ),
            ));
        };
        let kind = match event_type {
            "Api" => ApiKind::Rest,
            "HttpApi" => ApiKind::Http,
            // Read by `schedules`.
            "Schedule" | "ScheduleV2" => continue,
            // Read by `streams`.
            "DynamoDB" => continue,
            // Read by `queues`.
            "SQS" | "SNS" => continue,
            // Read by `event_rules`.
            "EventBridgeRule" | "CloudWatchEvent" => continue,
            // Read by `bucket_notifications`.
            "S3" => continue,
            other => {
                unsupported.push(format!("{logical_id}.Events.{event_name} ({other})"));
                continue;
            }
        };
        let properties_location = format!("{event_location}.Properties");
        let empty = Node::plain("", event.key_span);
        let event_properties = event.value.get("Properties").unwrap_or(&empty);
        let mut path = None;
        let mut method = None;
        let mut api = None;
        let mut auth_node = None;
        let mut request_model = None;
        let mut request_parameters = None;
        let mut payload_format = match kind {
            ApiKind::Rest => PayloadFormat::V1,
            ApiKind::Http => PayloadFormat::V2,
        };
        for entry in mapping(event_properties, &properties_location)? {
            let property_location = format!("{properties_location}.{}", entry.key);
            match (kind, entry.key.as_str()) {
                (ApiKind::Rest, "RestApiId") | (ApiKind::Http, "ApiId") => {
                    api = Some((
                        api_reference(&entry.value, &property_location)?,
                        entry.value.span,
                    ));
                }
                (_, "Auth") => auth_node = Some((&entry.value, property_location)),
                (ApiKind::Rest, "RequestModel" | "RequestParameters") => {
                    let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
                        continue;
                    };
                    if entry.key == "RequestModel" {
                        request_model = Some((value, property_location));
                    } else {
                        request_parameters = Some((value, property_location));
                    }
                }
                (_, "Path" | "Method" | "PayloadFormatVersion") => {
                    let Some(value) = resolver.resolve(&entry.value, &property_location)? else {
                        continue;
                    };
                    let text = expect_string(&value, &property_location)?;
                    match entry.key.as_str() {
                        "Path" => path = Some((text, value.span)),
                        "Method" => method = Some((text, value.span)),
                        _ if kind == ApiKind::Rest => {
                            unsupported.push(format!("{logical_id}.Events.{event_name}.PayloadFormatVersion"));
                        }
                        _ => {
                            payload_format = match text.as_str() {
                                "1.0" => PayloadFormat::V1,
                                "2.0" => PayloadFormat::V2,
                                _ => {
                                    return Err(Problem::at(
                                        value.span,
                                        format!("{property_location}: expected \"1.0\" or \"2.0\", found '{text}'"),
                                    ))
                                }
                            }
                        }
                    }
                }
                (_, other) => unsupported.push(format!("{logical_id}.Events.{event_name}.{other}")),
            }
        }
        let (path, method) = match (path, method, kind) {
            (None, None, ApiKind::Http) => ("$default".to_owned(), "ANY".to_owned()),
            (Some((path, path_span)), Some((method, method_span)), _) => {
                let is_default_route = kind == ApiKind::Http && path == "$default";
                if !(path.starts_with('/') || is_default_route) {
                    return Err(Problem::at(
                        path_span,
                        format!("{properties_location}.Path: '{path}' must start with '/'"),
                    ));
                }
                let method = method.to_uppercase();
                if !HTTP_METHODS.contains(&method.as_str()) {
                    return Err(Problem::at(
                        method_span,
                        format!("{properties_location}.Method: unknown method '{method}'; use one of {} (any case)", HTTP_METHODS.join(", ")),
                    ));
                }
                (path, method)
            }
            (None, _, _) => {
                return Err(Problem::at(
                    event.key_span,
                    format!("{properties_location}.Path: missing; an {event_type} event needs Path and Method"),
                ))
            }
            (Some(_), None, _) => {
                return Err(Problem::at(
                    event.key_span,
                    format!("{properties_location}.Method: missing; an {event_type} event needs Path and Method"),
                ))
            }
        };
        let api_logical_id = match api {
            None => match kind {
                ApiKind::Rest => IMPLICIT_REST_API.to_owned(),
                ApiKind::Http => IMPLICIT_HTTP_API.to_owned(),
            },
            Some((target, span)) => {
                let (expected_type, key) = match kind {
                    ApiKind::Rest => (REST_API, "RestApiId"),
                    ApiKind::Http => (HTTP_API, "ApiId"),
                };
                let target_location = format!("{properties_location}.{key}");
                if let Some(condition) = resolver.dropped_resources.get(&target) {
                    return Err(Problem::at(
                        span,
                        format!("{target_location}: '{target}' is not created because its condition '{condition}' is false"),
                    ));
                }
                match resolver.resources.get(&target) {
                    Some(resource) if resource.type_name == expected_type => target,
                    Some(resource) => {
                        return Err(Problem::at(
                            span,
                            format!("{target_location}: '{target}' is of type {}, not {expected_type}", resource.type_name),
                        ))
                    }
                    None => {
                        return Err(Problem::at(
                            span,
                            format!("{target_location}: unknown resource '{target}'; declare it as an {expected_type}"),
                        ))
                    }
                }
            }
        };
        let validation = super::request_models::event_validation(
            api_models.get(&api_logical_id),
            &api_logical_id,
            request_model
                .as_ref()
                .map(|(node, location)| (node, location.as_str())),
            request_parameters
                .as_ref()
                .map(|(node, location)| (node, location.as_str())),
        )?;
        let none = ApiAuth::none();
        let api_auth = api_auths.get(&api_logical_id).unwrap_or(&none);
        let api_key_required = match auth_node
            .as_ref()
            .and_then(|(node, _)| node.get("ApiKeyRequired"))
        {
            None => api_auth.api_key_required,
            Some(node) => {
                let key_location = format!("{properties_location}.Auth.ApiKeyRequired");
                let required = resolver
                    .resolve(node, &key_location)?
                    .is_some_and(|value| super::validators::is_true(&value));
                if kind == ApiKind::Http {
                    unsupported.push(format!(
                        "{logical_id}.Events.{event_name}.Auth.ApiKeyRequired (HTTP APIs have no API keys)"
                    ));
                }
                required && kind == ApiKind::Rest
            }
        };
        let auth = match auth_node {
            None => api_auth.default_auth.clone(),
            Some((node, auth_location)) => match resolver.resolve(node, &auth_location)? {
                Some(resolved) => event_auth(
                    &api_logical_id,
                    api_auth,
                    &resolved,
                    &auth_location,
                    unsupported,
                    &format!("{logical_id}.Events.{event_name}"),
                )?,
                None => api_auth.default_auth.clone(),
            },
        };
        routes.push((
            api_logical_id,
            Route {
                method,
                path,
                function: logical_id.clone(),
                payload_format,
                event_name: event_name.clone(),
                auth,
                mock: None,
                validation,
                api_key_required,
            },
        ));
    }
    Ok(routes)
}

/// An API resource (after globals), and its `Domain` when it has one.
pub(super) fn api(
    resolver: &Resolver<'_>,
    logical_id: &str,
    key_span: Span,
    kind: ApiKind,
    properties: Option<&Node>,
    options: &LoadOptions,
    unsupported: &mut Vec<String>,
) -> Result<(Api, Option<SamDomain>, ApiAuth), Problem> {
    let location = format!("Resources.{logical_id}.Properties");
    let mut domain = None;
    let mut auth = ApiAuth::none();
    let mut stage_name = None;
    let mut stage_variables = BTreeMap::new();
    let mut binary_media_types = Vec::new();
    let mut cors = None;
    let mut api_key_source = crate::ApiKeySource::Header;
    let rules = match kind {
        ApiKind::Rest => &REST_API_PROPERTIES,
        ApiKind::Http => &HTTP_API_PROPERTIES,
    };
    for (key, value) in resolved_properties(resolver, logical_id, properties, rules, unsupported)? {
        let property_location = format!("{location}.{key}");
        match (kind, key.as_str()) {
            (_, "StageName") => stage_name = Some(expect_string(&value, &property_location)?),
            (_, "Domain") => {
                domain = Some(sam_domain(
                    &value,
                    &property_location,
                    logical_id,
                    unsupported,
                )?);
            }
            (ApiKind::Rest, "Variables") | (ApiKind::Http, "StageVariables") => {
                stage_variables = expect_string_map(&value, &property_location)?;
            }
            (ApiKind::Rest, "BinaryMediaTypes") => {
                // SAM escapes '/' as '~1' in media types, as in JSON pointers.
                binary_media_types = expect_strings(&value, &property_location)?
                    .into_iter()
                    .map(|media_type| media_type.replace("~1", "/"))
                    .collect();
            }
            (ApiKind::Rest, "Cors") => cors = Some(rest_cors(&value, &property_location)?),
            (_, "Auth") => {
                auth = api_auth(
                    resolver,
                    logical_id,
                    kind,
                    &value,
                    &property_location,
                    unsupported,
                )?;
            }
            (ApiKind::Http, "CorsConfiguration") => {
                cors = http_cors(&value, &property_location)?;
            }
            (ApiKind::Rest, "ApiKeySourceType") => {
                api_key_source = super::api_keys::api_key_source(&value, &property_location)?;
            }
            // `resolved_properties` returns supported properties only.
            _ => {}
        }
    }
    let stage_name = match (stage_name, kind) {
        (Some(stage_name), _) => stage_name,
        (None, ApiKind::Http) => "$default".to_owned(),
        // The implicit REST API's stage is set by the caller; SAM names it Prod.
        (None, ApiKind::Rest) if logical_id == IMPLICIT_REST_API => "Prod".to_owned(),
        (None, ApiKind::Rest) => {
            return Err(Problem::at(
                key_span,
                format!(
                    "{location}.StageName: missing; an {REST_API} needs a StageName, such as Prod"
                ),
            ))
        }
    };
    let api = Api {
        logical_id: logical_id.to_owned(),
        api_id: derived_id(&options.stack_name, logical_id),
        kind,
        stage_name,
        stage_variables,
        other_stages: Vec::new(),
        binary_media_types,
        cors,
        routes: Vec::new(),
        authorizers: auth.authorizers.clone(),
        api_key_source,
    };
    Ok((api, domain, auth))
}

/// A REST API's `Cors`: a quoted origin (`"'*'"`), or `AllowOrigin`, `AllowMethods`,
/// `AllowHeaders`, `MaxAge` (each a quoted string, as SAM puts them into the `OPTIONS`
/// method's response headers) and `AllowCredentials`.
fn rest_cors(value: &Node, location: &str) -> Result<Cors, Problem> {
    let unquote = |node: &Node, location: &str| -> Result<String, Problem> {
        let text = expect_string(node, location)?;
        let trimmed = text.trim();
        match trimmed
            .strip_prefix('\'')
            .and_then(|rest| rest.strip_suffix('\''))
        {
            Some(inner) => Ok(inner.to_owned()),
            None => Err(Problem::at(
                node.span,
                format!("{location}: '{text}' must be quoted in single quotes inside the string, as SAM passes it to API Gateway: \"'{text}'\""),
            )),
        }
    };
    let list = |text: String| -> Vec<String> {
        text.split(',')
            .map(|item| item.trim().to_owned())
            .filter(|item| !item.is_empty())
            .collect()
    };
    if value.as_scalar().is_some() {
        return Ok(Cors {
            allow_origins: vec![unquote(value, location)?],
            allow_methods: Vec::new(),
            allow_headers: Vec::new(),
            expose_headers: Vec::new(),
            max_age: None,
            allow_credentials: false,
        });
    }
    let mut cors = Cors {
        allow_origins: Vec::new(),
        allow_methods: Vec::new(),
        allow_headers: Vec::new(),
        expose_headers: Vec::new(),
        max_age: None,
        allow_credentials: false,
    };
    for entry in mapping(value, location)? {
        let entry_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "AllowOrigin" => cors.allow_origins = vec![unquote(&entry.value, &entry_location)?],
            "AllowMethods" => cors.allow_methods = list(unquote(&entry.value, &entry_location)?),
            "AllowHeaders" => cors.allow_headers = list(unquote(&entry.value, &entry_location)?),
            "MaxAge" => {
                let text = unquote(&entry.value, &entry_location)?;
                cors.max_age = Some(text.parse().map_err(|_| {
                    Problem::at(
                        entry.value.span,
                        format!("{entry_location}: expected a number of seconds, such as \"'600'\""),
                    )
                })?);
            }
            "AllowCredentials" => {
                cors.allow_credentials = matches!(
                    entry.value.as_scalar().map(str::trim),
                    Some("true" | "True" | "TRUE")
                );
            }
            other => {
                return Err(Problem::at(
                    entry.key_span,
                    format!("{location}.{other}: not a Cors setting; use AllowOrigin, AllowMethods, AllowHeaders, MaxAge or AllowCredentials"),
                ))
            }
        }
    }
    if cors.allow_origins.is_empty() {
        return Err(Problem::at(
            value.span,
            format!("{location}.AllowOrigin: missing; name the allowed origin, such as \"'*'\""),
        ));
    }
    Ok(cors)
}

/// An HTTP API's `CorsConfiguration`: `true` (every origin, header and method) or
/// `AllowOrigins`, `AllowHeaders`, `AllowMethods`, `ExposeHeaders`, `MaxAge` and
/// `AllowCredentials`.
fn http_cors(value: &Node, location: &str) -> Result<Option<Cors>, Problem> {
    if let Some(text) = value.as_scalar() {
        return match text.trim() {
            "true" | "True" | "TRUE" => Ok(Some(Cors {
                allow_origins: vec!["*".to_owned()],
                allow_methods: vec!["*".to_owned()],
                allow_headers: vec!["*".to_owned()],
                expose_headers: Vec::new(),
                max_age: None,
                allow_credentials: false,
            })),
            "false" | "False" | "FALSE" => Ok(None),
            _ => Err(Problem::at(
                value.span,
                format!("{location}: expected true, false or a mapping of AllowOrigins, AllowHeaders, AllowMethods, ExposeHeaders, MaxAge and AllowCredentials"),
            )),
        };
    }
    let mut cors = Cors {
        allow_origins: Vec::new(),
        allow_methods: Vec::new(),
        allow_headers: Vec::new(),
        expose_headers: Vec::new(),
        max_age: None,
        allow_credentials: false,
    };
    for entry in mapping(value, location)? {
        let entry_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "AllowOrigins" => cors.allow_origins = expect_strings(&entry.value, &entry_location)?,
            "AllowMethods" => cors.allow_methods = expect_strings(&entry.value, &entry_location)?,
            "AllowHeaders" => cors.allow_headers = expect_strings(&entry.value, &entry_location)?,
            "ExposeHeaders" => {
                cors.expose_headers = expect_strings(&entry.value, &entry_location)?
            }
            "MaxAge" => cors.max_age = Some(expect_number(&entry.value, &entry_location, 0..=86_400)?),
            "AllowCredentials" => {
                cors.allow_credentials = matches!(
                    entry.value.as_scalar().map(str::trim),
                    Some("true" | "True" | "TRUE")
                );
            }
            other => {
                return Err(Problem::at(
                    entry.key_span,
                    format!("{location}.{other}: not a CorsConfiguration setting; use AllowOrigins, AllowHeaders, AllowMethods, ExposeHeaders, MaxAge or AllowCredentials"),
                ))
            }
        }
    }
    if cors.allow_credentials && cors.allow_origins.iter().any(|origin| origin == "*") {
        return Err(Problem::at(
            value.span,
            format!("{location}: AllowCredentials cannot be true with AllowOrigins \"*\" (API Gateway refuses it); list the origins"),
        ));
    }
    Ok(Some(cors))
}
