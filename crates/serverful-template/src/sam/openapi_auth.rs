//! Authorizers declared in an OpenAPI definition and the `security` that applies them:
//! `securityDefinitions` (Swagger 2.0) or `components.securitySchemes` (OpenAPI 3) with
//! `x-amazon-apigateway-authorizer` (REST `token`/`request`, HTTP `jwt`/`request`), and
//! `x-amazon-apigateway-authtype: awsSigv4` schemes (`AWS_IAM`). An operation's `security`
//! wins over the definition's; with neither, the API's SAM `DefaultAuthorizer` applies, as
//! SAM sets it on every path of the definition.

use super::properties::{expect_number, expect_string, expect_string_or_strings, mapping};
use super::websockets::function_of_uri;
use crate::auth::{AuthorizerKind, JwtAuthorizer, LambdaAuthorizer};
use crate::model::{ApiKind, Function, PayloadFormat};
use crate::node::{Node, NodeKind};
use crate::{Authorizer, Problem, RouteAuth};

/// The authorization schemes of one definition.
#[derive(Default)]
pub(super) struct DefinitionAuth {
    /// Lambda and JWT authorizers, named by their scheme.
    pub(super) authorizers: Vec<Authorizer>,
    /// Schemes meaning `AWS_IAM`.
    iam_schemes: Vec<String>,
    /// Schemes Serverful does not run (Cognito user pools): routes naming them stay open,
    /// and the template's warning says so.
    unsupported: Vec<String>,
}

/// The schemes of `definition` (at `location`), for an API of `kind`.
pub(super) fn definition_auth(
    definition: &Node,
    location: &str,
    kind: ApiKind,
    functions: &[Function],
    unsupported: &mut Vec<String>,
) -> Result<DefinitionAuth, Problem> {
    let (schemes, schemes_location) = match definition.get("securityDefinitions") {
        Some(schemes) => (schemes, format!("{location}.securityDefinitions")),
        None => match definition
            .get("components")
            .and_then(|components| components.get("securitySchemes"))
        {
            Some(schemes) => (schemes, format!("{location}.components.securitySchemes")),
            None => return Ok(DefinitionAuth::default()),
        },
    };
    let mut auth = DefinitionAuth::default();
    for entry in mapping(schemes, &schemes_location)? {
        let scheme_location = format!("{schemes_location}.{}", entry.key);
        let scheme = &entry.value;
        let auth_type = scheme
            .get("x-amazon-apigateway-authtype")
            .and_then(Node::as_scalar)
            .map(str::to_ascii_lowercase);
        if auth_type.as_deref() == Some("awssigv4") {
            auth.iam_schemes.push(entry.key.clone());
            continue;
        }
        let Some(authorizer) = scheme.get("x-amazon-apigateway-authorizer") else {
            continue;
        };
        let authorizer_location = format!("{scheme_location}.x-amazon-apigateway-authorizer");
        let field = |key: &str| -> Result<Option<String>, Problem> {
            authorizer
                .get(key)
                .map(|node| expect_string(node, &format!("{authorizer_location}.{key}")))
                .transpose()
        };
        let Some(authorizer_type) = field("type")? else {
            return Err(Problem::at(
                authorizer.span,
                format!("{authorizer_location}.type: missing; use token or request (REST APIs), jwt or request (HTTP APIs)"),
            ));
        };
        let authorizer_type = authorizer_type.to_ascii_lowercase();
        let kind_of = match (kind, authorizer_type.as_str()) {
            (_, "cognito_user_pools") => {
                unsupported.push(format!(
                    "{scheme_location} (Cognito user pool authorizers are not run: its routes stay open)"
                ));
                auth.unsupported.push(entry.key.clone());
                continue;
            }
            (ApiKind::Http, "jwt") => {
                let Some(configuration) = authorizer.get("jwtConfiguration") else {
                    return Err(Problem::at(
                        authorizer.span,
                        format!("{authorizer_location}.jwtConfiguration: missing; a jwt authorizer needs issuer and audience"),
                    ));
                };
                let configuration_location = format!("{authorizer_location}.jwtConfiguration");
                let Some(issuer) = configuration.get("issuer") else {
                    return Err(Problem::at(
                        configuration.span,
                        format!("{configuration_location}.issuer: missing; name the token issuer"),
                    ));
                };
                let audience = match configuration.get("audience") {
                    None => Vec::new(),
                    Some(node) => expect_string_or_strings(
                        node,
                        &format!("{configuration_location}.audience"),
                    )?,
                };
                AuthorizerKind::Jwt(JwtAuthorizer {
                    issuer: expect_string(issuer, &format!("{configuration_location}.issuer"))?,
                    audience,
                    identity_source: field("identitySource")?
                        .unwrap_or_else(|| "$request.header.Authorization".to_owned()),
                    scopes: Vec::new(),
                })
            }
            (_, "token" | "request") if !(kind == ApiKind::Http && authorizer_type == "token") => {
                let Some(uri) = field("authorizerUri")? else {
                    return Err(Problem::at(
                        authorizer.span,
                        format!("{authorizer_location}.authorizerUri: missing; use Fn::Sub: arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{MyAuthorizer.Arn}}/invocations"),
                    ));
                };
                let function = function_of_uri(&uri, functions).ok_or_else(|| {
                    Problem::at(
                        authorizer.get("authorizerUri").map_or(authorizer.span, |node| node.span),
                        format!("{authorizer_location}.authorizerUri: '{uri}' names no function of this template; use arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations with ${{MyAuthorizer.Arn}}"),
                    )
                })?;
                let token = authorizer_type == "token";
                let identity_sources = match field("identitySource")? {
                    Some(sources) => sources
                        .split(',')
                        .map(str::trim)
                        .filter(|source| !source.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    // A token authorizer reads the header its scheme names.
                    None if token => {
                        let header = scheme
                            .get("name")
                            .and_then(Node::as_scalar)
                            .unwrap_or("Authorization");
                        vec![format!("method.request.header.{header}")]
                    }
                    None => Vec::new(),
                };
                let validation_expression = field("identityValidationExpression")?;
                if let (Some(expression), Some(node)) = (
                    &validation_expression,
                    authorizer.get("identityValidationExpression"),
                ) {
                    super::auth::check_expression(
                        expression,
                        node,
                        &format!("{authorizer_location}.identityValidationExpression"),
                    )?;
                }
                let ttl_secs = match authorizer.get("authorizerResultTtlInSeconds") {
                    Some(node) => expect_number(
                        node,
                        &format!("{authorizer_location}.authorizerResultTtlInSeconds"),
                        0..=3600,
                    )?,
                    None if kind == ApiKind::Rest => 300,
                    None => 0,
                };
                let payload_format = match (kind, field("authorizerPayloadFormatVersion")?) {
                    (ApiKind::Rest, _) | (ApiKind::Http, None) => PayloadFormat::V1,
                    (ApiKind::Http, Some(version)) => match version.as_str() {
                        "1.0" => PayloadFormat::V1,
                        "2.0" => PayloadFormat::V2,
                        other => {
                            return Err(Problem::at(
                                authorizer.span,
                                format!("{authorizer_location}.authorizerPayloadFormatVersion: expected \"1.0\" or \"2.0\", found '{other}'"),
                            ))
                        }
                    },
                };
                let simple_responses = authorizer
                    .get("enableSimpleResponses")
                    .and_then(Node::as_scalar)
                    .is_some_and(|value| value.eq_ignore_ascii_case("true"));
                if simple_responses && payload_format != PayloadFormat::V2 {
                    return Err(Problem::at(
                        authorizer.span,
                        format!("{authorizer_location}.enableSimpleResponses: needs authorizerPayloadFormatVersion 2.0"),
                    ));
                }
                AuthorizerKind::Lambda(LambdaAuthorizer {
                    function,
                    token,
                    identity_sources,
                    validation_expression,
                    ttl_secs,
                    payload_format,
                    simple_responses,
                })
            }
            (_, other) => {
                let known = match kind {
                    ApiKind::Rest => "token, request or cognito_user_pools",
                    ApiKind::Http => "jwt or request",
                };
                return Err(Problem::at(
                    authorizer.span,
                    format!("{authorizer_location}.type: '{other}' is not an authorizer type of this API; use {known}"),
                ));
            }
        };
        auth.authorizers.push(Authorizer {
            name: entry.key.clone(),
            kind: kind_of,
        });
    }
    Ok(auth)
}

impl DefinitionAuth {
    /// How an operation is protected: by its own `security`, else the definition's, else
    /// `default` (SAM's `DefaultAuthorizer`). `authorizers` are the API's SAM authorizers,
    /// which a definition's `security` may name too.
    pub(super) fn operation_auth(
        &self,
        operation_security: Option<&Node>,
        definition_security: Option<&Node>,
        authorizers: &[Authorizer],
        default: &RouteAuth,
    ) -> RouteAuth {
        let Some(requirements) = operation_security.or(definition_security) else {
            return default.clone();
        };
        let NodeKind::Sequence(requirements) = &requirements.kind else {
            return default.clone();
        };
        for requirement in requirements {
            for entry in requirement.as_mapping().unwrap_or_default() {
                if self.iam_schemes.contains(&entry.key) {
                    return RouteAuth::AwsIam;
                }
                if self.unsupported.contains(&entry.key) {
                    return RouteAuth::None;
                }
                let known = self
                    .authorizers
                    .iter()
                    .chain(authorizers)
                    .any(|authorizer| authorizer.name == entry.key);
                if known {
                    let scopes = match &entry.value.kind {
                        NodeKind::Sequence(items) => items
                            .iter()
                            .filter_map(|item| item.as_scalar().map(str::to_owned))
                            .collect(),
                        _ => Vec::new(),
                    };
                    return RouteAuth::Authorizer {
                        name: entry.key.clone(),
                        scopes,
                    };
                }
            }
        }
        // Only API keys (or nothing, `security: []`): no authorizer.
        RouteAuth::None
    }
}
