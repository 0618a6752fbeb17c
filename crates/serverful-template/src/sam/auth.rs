//! SAM's `Auth` of APIs (`Authorizers`, `DefaultAuthorizer`) and of `Api`/`HttpApi` events
//! (`Authorizer`, `AuthorizationScopes`), read into [`Authorizer`]s and each route's
//! [`RouteAuth`].

use super::properties::{expect_number, expect_string, expect_strings, mapping};
use crate::auth::{AuthorizerKind, JwtAuthorizer, LambdaAuthorizer};
use crate::intrinsics::{Resolver, ResourceKind};
use crate::model::{ApiKind, PayloadFormat};
use crate::node::Node;
use crate::{Authorizer, Problem, RouteAuth};

/// An API's `Auth`: its authorizers and the protection of routes that choose none.
pub(super) struct ApiAuth {
    pub(super) authorizers: Vec<Authorizer>,
    pub(super) default_auth: RouteAuth,
    /// Authorizers Serverful does not run (Cognito user pools): routes naming them stay
    /// open, and the template's warning says so.
    pub(super) unsupported_authorizers: Vec<String>,
    /// `ApiKeyRequired` (REST APIs): the default of routes whose event does not say.
    pub(super) api_key_required: bool,
    /// `UsagePlan` (REST APIs).
    pub(super) usage_plan: Option<super::api_keys::SamUsagePlan>,
}

impl ApiAuth {
    pub(super) fn none() -> ApiAuth {
        ApiAuth {
            authorizers: Vec::new(),
            default_auth: RouteAuth::None,
            unsupported_authorizers: Vec::new(),
            api_key_required: false,
            usage_plan: None,
        }
    }
}

/// An API's resolved `Auth` property.
pub(super) fn api_auth(
    resolver: &Resolver<'_>,
    logical_id: &str,
    kind: ApiKind,
    value: &Node,
    location: &str,
    unsupported: &mut Vec<String>,
) -> Result<ApiAuth, Problem> {
    let mut auth = ApiAuth::none();
    let mut default = None;
    for entry in mapping(value, location)? {
        let entry_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "Authorizers" => {
                for authorizer in mapping(&entry.value, &entry_location)? {
                    let authorizer_location = format!("{entry_location}.{}", authorizer.key);
                    let name = authorizer.key.clone();
                    let read = match kind {
                        ApiKind::Rest => {
                            rest_authorizer(resolver, &authorizer.value, &authorizer_location)?
                        }
                        ApiKind::Http => {
                            http_authorizer(resolver, &authorizer.value, &authorizer_location)?
                        }
                    };
                    match read {
                        Some(kind) => auth.authorizers.push(Authorizer { name, kind }),
                        None => {
                            unsupported.push(format!(
                                "{logical_id}.Auth.Authorizers.{name} (Cognito user pool authorizer; its routes are open)"
                            ));
                            auth.unsupported_authorizers.push(name);
                        }
                    }
                }
            }
            "DefaultAuthorizer" => {
                default = Some((
                    expect_string(&entry.value, &entry_location)?,
                    entry.value.span,
                ));
            }
            "ApiKeyRequired" if kind == ApiKind::Rest => {
                auth.api_key_required = super::validators::is_true(&entry.value);
            }
            "UsagePlan" if kind == ApiKind::Rest => {
                auth.usage_plan = Some(super::api_keys::sam_usage_plan(
                    &entry.value,
                    &entry_location,
                )?);
            }
            // Preflights stay open, as they are unless this is set.
            "AddDefaultAuthorizerToCorsPreflight"
            | "AddApiKeyRequiredToCorsPreflight"
            | "EnableIamAuthorizer"
            | "InvokeRole" => {}
            other => unsupported.push(format!("{logical_id}.Auth.{other}")),
        }
    }
    if let Some((name, span)) = default {
        auth.default_auth = match route_auth(&auth, &name, Vec::new()) {
            Some(route_auth) => route_auth,
            None => {
                return Err(Problem::at(
                    span,
                    format!(
                        "{location}.DefaultAuthorizer: unknown authorizer '{name}'; {}",
                        known_names(&auth)
                    ),
                ))
            }
        };
    }
    Ok(auth)
}

/// What naming `name` means on an API with `auth`; `None` for an unknown name.
fn route_auth(auth: &ApiAuth, name: &str, scopes: Vec<String>) -> Option<RouteAuth> {
    match name {
        "NONE" => Some(RouteAuth::None),
        "AWS_IAM" => Some(RouteAuth::AwsIam),
        _ if auth
            .unsupported_authorizers
            .iter()
            .any(|known| known == name) =>
        {
            Some(RouteAuth::None)
        }
        _ => {
            let authorizer = auth.authorizers.iter().find(|known| known.name == name)?;
            let scopes = match (&authorizer.kind, scopes.is_empty()) {
                (AuthorizerKind::Jwt(jwt), true) => jwt.scopes.clone(),
                _ => scopes,
            };
            Some(RouteAuth::Authorizer {
                name: name.to_owned(),
                scopes,
            })
        }
    }
}

fn known_names(auth: &ApiAuth) -> String {
    let mut names: Vec<&str> = auth
        .authorizers
        .iter()
        .map(|authorizer| authorizer.name.as_str())
        .chain(auth.unsupported_authorizers.iter().map(String::as_str))
        .collect();
    names.extend(["AWS_IAM", "NONE"]);
    format!("use one of {}", names.join(", "))
}

/// An event's resolved `Auth`: the route's protection on `api`.
pub(super) fn event_auth(
    api_logical_id: &str,
    api_auth: &ApiAuth,
    value: &Node,
    location: &str,
    unsupported: &mut Vec<String>,
    event_id: &str,
) -> Result<RouteAuth, Problem> {
    let mut authorizer = None;
    let mut scopes = Vec::new();
    for entry in mapping(value, location)? {
        let entry_location = format!("{location}.{}", entry.key);
        match entry.key.as_str() {
            "Authorizer" => {
                authorizer = Some((
                    expect_string(&entry.value, &entry_location)?,
                    entry.value.span,
                ))
            }
            "AuthorizationScopes" => scopes = expect_strings(&entry.value, &entry_location)?,
            // Read by `apis`, beside the authorizer.
            "InvokeRole" | "ApiKeyRequired" => {}
            other => unsupported.push(format!("{event_id}.Auth.{other}")),
        }
    }
    match authorizer {
        None if scopes.is_empty() => Ok(api_auth.default_auth.clone()),
        None => match &api_auth.default_auth {
            RouteAuth::Authorizer { name, .. } => Ok(RouteAuth::Authorizer {
                name: name.clone(),
                scopes,
            }),
            other => Ok(other.clone()),
        },
        Some((name, span)) => route_auth(api_auth, &name, scopes).ok_or_else(|| {
            Problem::at(
                span,
                format!(
                    "{location}.Authorizer: unknown authorizer '{name}' of {}; {}",
                    api_logical_id,
                    known_names(api_auth)
                ),
            )
        }),
    }
}

/// A REST API's authorizer: a Lambda `TOKEN` or `REQUEST` authorizer, or `None` for a
/// Cognito one.
fn rest_authorizer(
    resolver: &Resolver<'_>,
    value: &Node,
    location: &str,
) -> Result<Option<AuthorizerKind>, Problem> {
    if value.get("UserPoolArn").is_some() {
        return Ok(None);
    }
    let function = authorizer_function(resolver, value, location)?;
    let token = match value.get("FunctionPayloadType") {
        None => true,
        Some(node) => {
            match expect_string(node, &format!("{location}.FunctionPayloadType"))?.as_str() {
                "TOKEN" => true,
                "REQUEST" => false,
                other => {
                    return Err(Problem::at(
                        node.span,
                        format!(
                    "{location}.FunctionPayloadType: expected TOKEN or REQUEST, found '{other}'"
                ),
                    ))
                }
            }
        }
    };
    let identity_location = format!("{location}.Identity");
    let empty = Node::plain("", value.span);
    let identity = value.get("Identity").unwrap_or(&empty);
    let mut authorizer = LambdaAuthorizer {
        function,
        token,
        identity_sources: Vec::new(),
        validation_expression: None,
        ttl_secs: 300,
        payload_format: PayloadFormat::V1,
        simple_responses: false,
    };
    let mut header = "Authorization".to_owned();
    for entry in mapping(identity, &identity_location)? {
        let entry_location = format!("{identity_location}.{}", entry.key);
        match (token, entry.key.as_str()) {
            (_, "ReauthorizeEvery") => {
                authorizer.ttl_secs = expect_number(&entry.value, &entry_location, 0..=3600)?
            }
            (true, "Header") => header = expect_string(&entry.value, &entry_location)?,
            (true, "ValidationExpression") => {
                let expression = expect_string(&entry.value, &entry_location)?;
                check_expression(&expression, &entry.value, &entry_location)?;
                authorizer.validation_expression = Some(expression);
            }
            (false, "Headers" | "QueryStrings" | "StageVariables" | "Context") => {
                let prefix = match entry.key.as_str() {
                    "Headers" => "method.request.header.",
                    "QueryStrings" => "method.request.querystring.",
                    "StageVariables" => "stageVariables.",
                    _ => "context.",
                };
                for name in expect_strings(&entry.value, &entry_location)? {
                    authorizer.identity_sources.push(format!("{prefix}{name}"));
                }
            }
            (_, other) => {
                let known = if token {
                    "Header, ValidationExpression or ReauthorizeEvery"
                } else {
                    "Headers, QueryStrings, StageVariables, Context or ReauthorizeEvery"
                };
                return Err(Problem::at(
                    entry.key_span,
                    format!("{identity_location}.{other}: not an Identity setting of a {} authorizer; use {known}", if token { "TOKEN" } else { "REQUEST" }),
                ));
            }
        }
    }
    if token {
        authorizer.identity_sources = vec![format!("method.request.header.{header}")];
    }
    Ok(Some(AuthorizerKind::Lambda(authorizer)))
}

/// An HTTP API's authorizer: JWT (`JwtConfiguration`) or Lambda (`FunctionArn`).
fn http_authorizer(
    resolver: &Resolver<'_>,
    value: &Node,
    location: &str,
) -> Result<Option<AuthorizerKind>, Problem> {
    if let Some(jwt) = value.get("JwtConfiguration") {
        let jwt_location = format!("{location}.JwtConfiguration");
        let mut issuer = None;
        let mut audience = Vec::new();
        for entry in mapping(jwt, &jwt_location)? {
            let entry_location = format!("{jwt_location}.{}", entry.key);
            match entry.key.as_str() {
                "issuer" | "Issuer" => issuer = Some(expect_string(&entry.value, &entry_location)?),
                "audience" | "Audience" => audience = expect_strings(&entry.value, &entry_location)?,
                other => {
                    return Err(Problem::at(
                        entry.key_span,
                        format!("{jwt_location}.{other}: not a JwtConfiguration setting; use issuer and audience"),
                    ))
                }
            }
        }
        let Some(issuer) = issuer else {
            return Err(Problem::at(
                jwt.span,
                format!("{jwt_location}.issuer: missing; name the token issuer, such as https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc"),
            ));
        };
        let identity_source = match value.get("IdentitySource") {
            Some(node) => expect_string(node, &format!("{location}.IdentitySource"))?,
            None => "$request.header.Authorization".to_owned(),
        };
        let scopes = match value.get("AuthorizationScopes") {
            Some(node) => expect_strings(node, &format!("{location}.AuthorizationScopes"))?,
            None => Vec::new(),
        };
        return Ok(Some(AuthorizerKind::Jwt(JwtAuthorizer {
            issuer,
            audience,
            identity_source,
            scopes,
        })));
    }
    let function = authorizer_function(resolver, value, location)?;
    let payload_format = match value.get("AuthorizerPayloadFormatVersion") {
        Some(node) => {
            let format_location = format!("{location}.AuthorizerPayloadFormatVersion");
            match expect_string(node, &format_location)?.as_str() {
                "1.0" => PayloadFormat::V1,
                "2.0" => PayloadFormat::V2,
                other => {
                    return Err(Problem::at(
                        node.span,
                        format!("{format_location}: expected \"1.0\" or \"2.0\", found '{other}'"),
                    ))
                }
            }
        }
        None => {
            return Err(Problem::at(
                value.span,
                format!("{location}.AuthorizerPayloadFormatVersion: missing; a Lambda authorizer of an HTTP API needs \"1.0\" or \"2.0\""),
            ))
        }
    };
    let simple_responses = match value.get("EnableSimpleResponses") {
        Some(node) => matches!(
            node.as_scalar().map(str::trim),
            Some("true" | "True" | "TRUE")
        ),
        None => false,
    };
    if simple_responses && payload_format == PayloadFormat::V1 {
        return Err(Problem::at(
            value.span,
            format!(
                "{location}.EnableSimpleResponses: needs AuthorizerPayloadFormatVersion \"2.0\""
            ),
        ));
    }
    let mut authorizer = LambdaAuthorizer {
        function,
        token: false,
        identity_sources: Vec::new(),
        validation_expression: None,
        ttl_secs: 0,
        payload_format,
        simple_responses,
    };
    if let Some(identity) = value.get("Identity") {
        let identity_location = format!("{location}.Identity");
        for entry in mapping(identity, &identity_location)? {
            let entry_location = format!("{identity_location}.{}", entry.key);
            let prefix = match entry.key.as_str() {
                "ReauthorizeEvery" => {
                    authorizer.ttl_secs = expect_number(&entry.value, &entry_location, 0..=3600)?;
                    continue;
                }
                "Headers" => "$request.header.",
                "QueryStrings" => "$request.querystring.",
                "StageVariables" => "$stageVariables.",
                "Context" => "$context.",
                other => {
                    return Err(Problem::at(
                        entry.key_span,
                        format!("{identity_location}.{other}: not an Identity setting; use Headers, QueryStrings, StageVariables, Context or ReauthorizeEvery"),
                    ))
                }
            };
            for name in expect_strings(&entry.value, &entry_location)? {
                authorizer.identity_sources.push(format!("{prefix}{name}"));
            }
        }
    }
    Ok(Some(AuthorizerKind::Lambda(authorizer)))
}

/// The logical id of the template function `FunctionArn` names.
fn authorizer_function(
    resolver: &Resolver<'_>,
    value: &Node,
    location: &str,
) -> Result<String, Problem> {
    let arn_location = format!("{location}.FunctionArn");
    let Some(node) = value.get("FunctionArn") else {
        return Err(Problem::at(
            value.span,
            format!("{arn_location}: missing; name the authorizer's function with !GetAtt MyAuthFunction.Arn"),
        ));
    };
    let arn = expect_string(node, &arn_location)?;
    let name = arn
        .split(':')
        .collect::<Vec<_>>()
        .get(6)
        .map(|name| (*name).to_owned())
        .filter(|_| arn.starts_with("arn:") && arn.contains(":lambda:"));
    for (logical_id, resource) in &resolver.resources {
        if !matches!(resource.kind, ResourceKind::Function) {
            continue;
        }
        let physical = resolver.physical_name(logical_id, "FunctionName")?;
        if name.as_deref() == Some(physical.as_str()) || arn == *logical_id {
            return Ok(logical_id.clone());
        }
    }
    Err(Problem::at(
        node.span,
        format!("{arn_location}: {arn} is not a function of this template; name one with !GetAtt MyAuthFunction.Arn"),
    ))
}

/// Checks a `ValidationExpression` compiles, as API Gateway does on deploy.
pub(super) fn check_expression(
    expression: &str,
    node: &Node,
    location: &str,
) -> Result<(), Problem> {
    match regex::Regex::new(&format!("^(?:{expression})$")) {
        Ok(_) => Ok(()),
        Err(error) => Err(Problem::at(
            node.span,
            format!("{location}: not a regular expression ({error})"),
        )),
    }
}
