//! Authorizers written as resources: `AWS::ApiGatewayV2::Authorizer` of an
//! `AWS::ApiGatewayV2::Api` with `ProtocolType: HTTP` (`JWT` with `JwtConfiguration`, or a
//! Lambda `REQUEST` authorizer) with each `AWS::ApiGatewayV2::Route`'s
//! `AuthorizationType`, `AuthorizerId` and `AuthorizationScopes`; and
//! `AWS::ApiGateway::Authorizer` of a REST API (`TOKEN`, `REQUEST`) with each
//! `AWS::ApiGateway::Method`'s `AuthorizationType` and `AuthorizerId`. They become the same
//! [`Authorizer`]s and [`RouteAuth`]s as SAM's `Auth`, named by the authorizer's logical
//! id (what `AuthorizerId: !Ref` gives).

use super::properties::{expect_string, expect_string_or_strings, expect_strings, mapping};
use super::rest_resources::{property, string_property};
use super::websockets::function_of_uri;
use super::RawResource;
use crate::auth::{Authorizer, AuthorizerKind, JwtAuthorizer, LambdaAuthorizer, RouteAuth};
use crate::intrinsics::Resolver;
use crate::model::{Function, PayloadFormat};
use crate::Problem;

pub(super) const V2_AUTHORIZER: &str = "AWS::ApiGatewayV2::Authorizer";
pub(super) const REST_AUTHORIZER: &str = "AWS::ApiGateway::Authorizer";

/// The longest an HTTP API caches a Lambda authorizer's answer.
const MAX_TTL_SECS: u32 = 3600;

/// An `AWS::ApiGatewayV2::Authorizer` of an HTTP API.
pub(super) fn authorizer(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    functions: &[Function],
) -> Result<Authorizer, Problem> {
    let location = format!("Resources.{}.Properties", raw.logical_id);
    let Some((kind, kind_span)) = string_property(resolver, raw, "AuthorizerType")? else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.AuthorizerType: missing; use JWT or REQUEST"),
        ));
    };
    let identity_sources = match property(resolver, raw, "IdentitySource")? {
        None => Vec::new(),
        Some((value, source_location)) => expect_string_or_strings(&value, &source_location)?,
    };
    for source in &identity_sources {
        let known = [
            "$request.header.",
            "$request.querystring.",
            "$context.",
            "$stageVariables.",
        ]
        .iter()
        .any(|prefix| source.len() > prefix.len() && source.starts_with(prefix));
        if !known {
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.IdentitySource: '{source}' is not an identity source; use $request.header.NAME, $request.querystring.NAME, $context.NAME or $stageVariables.NAME"),
            ));
        }
    }
    let kind = match kind.as_str() {
        "JWT" => {
            let Some((jwt, jwt_location)) = property(resolver, raw, "JwtConfiguration")? else {
                return Err(Problem::at(
                    raw.key_span,
                    format!("{location}.JwtConfiguration: missing; a JWT authorizer needs Issuer and Audience"),
                ));
            };
            let mut issuer = None;
            let mut audience = Vec::new();
            for entry in mapping(&jwt, &jwt_location)? {
                let entry_location = format!("{jwt_location}.{}", entry.key);
                match entry.key.as_str() {
                    "Issuer" => issuer = Some(expect_string(&entry.value, &entry_location)?),
                    "Audience" => audience = expect_strings(&entry.value, &entry_location)?,
                    other => {
                        return Err(Problem::at(
                            entry.key_span,
                            format!("{jwt_location}.{other}: not a JwtConfiguration setting; use Issuer and Audience"),
                        ))
                    }
                }
            }
            let Some(issuer) = issuer else {
                return Err(Problem::at(
                    jwt.span,
                    format!("{jwt_location}.Issuer: missing; name the token issuer, such as https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc"),
                ));
            };
            if identity_sources.len() > 1 {
                return Err(Problem::at(
                    raw.key_span,
                    format!("{location}.IdentitySource: a JWT authorizer takes one source, such as $request.header.Authorization"),
                ));
            }
            AuthorizerKind::Jwt(JwtAuthorizer {
                issuer,
                audience,
                identity_source: identity_sources
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| "$request.header.Authorization".to_owned()),
                scopes: Vec::new(),
            })
        }
        "REQUEST" => {
            let Some((uri, uri_span)) = string_property(resolver, raw, "AuthorizerUri")? else {
                return Err(Problem::at(
                    raw.key_span,
                    format!("{location}.AuthorizerUri: missing; use !Sub arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{MyAuthorizer.Arn}}/invocations"),
                ));
            };
            let function = function_of_uri(&uri, functions).ok_or_else(|| {
                Problem::at(
                    uri_span,
                    format!("{location}.AuthorizerUri: '{uri}' names no function of this template; use arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations with !GetAtt MyAuthorizer.Arn"),
                )
            })?;
            let Some((format_text, format_span)) =
                string_property(resolver, raw, "AuthorizerPayloadFormatVersion")?
            else {
                return Err(Problem::at(
                    raw.key_span,
                    format!("{location}.AuthorizerPayloadFormatVersion: missing; a Lambda authorizer of an HTTP API needs \"1.0\" or \"2.0\""),
                ));
            };
            let payload_format = match format_text.as_str() {
                "1.0" => PayloadFormat::V1,
                "2.0" => PayloadFormat::V2,
                other => {
                    return Err(Problem::at(
                        format_span,
                        format!("{location}.AuthorizerPayloadFormatVersion: expected \"1.0\" or \"2.0\", found '{other}'"),
                    ))
                }
            };
            let simple_responses = match string_property(resolver, raw, "EnableSimpleResponses")? {
                None => false,
                Some((text, span)) => match text.as_str() {
                    "true" | "True" => true,
                    "false" | "False" => false,
                    other => {
                        return Err(Problem::at(
                            span,
                            format!("{location}.EnableSimpleResponses: expected true or false, found '{other}'"),
                        ))
                    }
                },
            };
            if simple_responses && payload_format != PayloadFormat::V2 {
                return Err(Problem::at(
                    raw.key_span,
                    format!("{location}.EnableSimpleResponses: needs AuthorizerPayloadFormatVersion \"2.0\""),
                ));
            }
            let ttl_secs = match property(resolver, raw, "AuthorizerResultTtlInSeconds")? {
                None => 0,
                Some((value, ttl_location)) => {
                    super::properties::expect_number(&value, &ttl_location, 0..=MAX_TTL_SECS)?
                }
            };
            if ttl_secs > 0 && identity_sources.is_empty() {
                return Err(Problem::at(
                    raw.key_span,
                    format!("{location}.IdentitySource: a cached authorizer (AuthorizerResultTtlInSeconds above 0) needs at least one identity source"),
                ));
            }
            AuthorizerKind::Lambda(LambdaAuthorizer {
                function,
                token: false,
                identity_sources,
                validation_expression: None,
                ttl_secs,
                payload_format,
                simple_responses,
            })
        }
        other => {
            return Err(Problem::at(
                kind_span,
                format!("{location}.AuthorizerType: '{other}' is not an HTTP API authorizer type; use JWT or REQUEST"),
            ))
        }
    };
    Ok(Authorizer {
        name: raw.logical_id.clone(),
        kind,
    })
}

/// A route's `AuthorizationType` with its `AuthorizerId` and `AuthorizationScopes`,
/// checked against the API's `authorizers`.
pub(super) fn route_auth(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    api: &str,
    authorizers: &[Authorizer],
) -> Result<RouteAuth, Problem> {
    let location = format!("Resources.{}.Properties", raw.logical_id);
    let kind = string_property(resolver, raw, "AuthorizationType")?;
    let scopes = match property(resolver, raw, "AuthorizationScopes")? {
        None => Vec::new(),
        Some((value, scopes_location)) => expect_strings(&value, &scopes_location)?,
    };
    let Some((kind, kind_span)) = kind else {
        return Ok(RouteAuth::None);
    };
    let wanted = match kind.as_str() {
        "NONE" => return Ok(RouteAuth::None),
        "AWS_IAM" => return Ok(RouteAuth::AwsIam),
        "JWT" => "JWT",
        "CUSTOM" => "REQUEST",
        other => {
            return Err(Problem::at(
                kind_span,
                format!("{location}.AuthorizationType: '{other}' is not an HTTP API authorization type; use NONE, AWS_IAM, JWT or CUSTOM"),
            ))
        }
    };
    let Some((id, id_span)) = string_property(resolver, raw, "AuthorizerId")? else {
        return Err(Problem::at(
            kind_span,
            format!("{location}.AuthorizerId: missing; {kind} authorization names its AWS::ApiGatewayV2::Authorizer with !Ref"),
        ));
    };
    let Some(authorizer) = authorizers.iter().find(|authorizer| authorizer.name == id) else {
        return Err(Problem::at(
            id_span,
            format!("{location}.AuthorizerId: '{id}' names no AWS::ApiGatewayV2::Authorizer of API '{api}'"),
        ));
    };
    let matches = matches!(
        (&authorizer.kind, wanted),
        (AuthorizerKind::Jwt(_), "JWT") | (AuthorizerKind::Lambda(_), "REQUEST")
    );
    if !matches {
        return Err(Problem::at(
            kind_span,
            format!("{location}.AuthorizationType: '{kind}' does not match authorizer '{id}'; use JWT for a JWT authorizer and CUSTOM for a REQUEST one"),
        ));
    }
    if !scopes.is_empty() && wanted != "JWT" {
        return Err(Problem::at(
            kind_span,
            format!("{location}.AuthorizationScopes: only JWT authorization takes scopes"),
        ));
    }
    Ok(RouteAuth::Authorizer { name: id, scopes })
}

/// An `AWS::ApiGateway::Authorizer` of a REST API; `None` for a Cognito user pool one,
/// which Serverful does not run (recorded in `unsupported`).
pub(super) fn rest_authorizer(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    functions: &[Function],
    unsupported: &mut Vec<String>,
) -> Result<Option<Authorizer>, Problem> {
    let location = format!("Resources.{}.Properties", raw.logical_id);
    let Some((kind, kind_span)) = string_property(resolver, raw, "Type")? else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.Type: missing; use TOKEN or REQUEST"),
        ));
    };
    let token = match kind.as_str() {
        "TOKEN" => true,
        "REQUEST" => false,
        "COGNITO_USER_POOLS" => {
            unsupported.push(format!(
                "{} (Cognito user pool authorizers are not run: the methods naming it stay open)",
                raw.logical_id
            ));
            return Ok(None);
        }
        other => {
            return Err(Problem::at(
                kind_span,
                format!("{location}.Type: '{other}' is not a REST API authorizer type; use TOKEN, REQUEST or COGNITO_USER_POOLS"),
            ))
        }
    };
    let Some((uri, uri_span)) = string_property(resolver, raw, "AuthorizerUri")? else {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.AuthorizerUri: missing; use !Sub arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{MyAuthorizer.Arn}}/invocations"),
        ));
    };
    let function = function_of_uri(&uri, functions).ok_or_else(|| {
        Problem::at(
            uri_span,
            format!("{location}.AuthorizerUri: '{uri}' names no function of this template; use arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations with !GetAtt MyAuthorizer.Arn"),
        )
    })?;
    let identity_sources: Vec<String> = string_property(resolver, raw, "IdentitySource")?
        .map(|(sources, _)| {
            sources
                .split(',')
                .map(str::trim)
                .filter(|source| !source.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    for source in &identity_sources {
        let known = [
            "method.request.header.",
            "method.request.querystring.",
            "stageVariables.",
            "context.",
        ]
        .iter()
        .any(|prefix| source.len() > prefix.len() && source.starts_with(prefix));
        if !known || (token && !source.starts_with("method.request.header.")) {
            let expected = if token {
                "a TOKEN authorizer reads one header: method.request.header.NAME"
            } else {
                "use method.request.header.NAME, method.request.querystring.NAME, stageVariables.NAME or context.NAME, separated by commas"
            };
            return Err(Problem::at(
                raw.key_span,
                format!("{location}.IdentitySource: '{source}' is not supported; {expected}"),
            ));
        }
    }
    if token && identity_sources.len() != 1 {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.IdentitySource: a TOKEN authorizer needs one, such as method.request.header.Authorization"),
        ));
    }
    let validation_expression =
        match string_property(resolver, raw, "IdentityValidationExpression")? {
            None => None,
            Some((expression, _)) => {
                let node = raw
                    .properties
                    .and_then(|properties| properties.get("IdentityValidationExpression"))
                    .expect("the property was just read");
                super::auth::check_expression(
                    &expression,
                    node,
                    &format!("{location}.IdentityValidationExpression"),
                )?;
                Some(expression)
            }
        };
    let ttl_secs = match property(resolver, raw, "AuthorizerResultTtlInSeconds")? {
        None => 300,
        Some((value, ttl_location)) => {
            super::properties::expect_number(&value, &ttl_location, 0..=MAX_TTL_SECS)?
        }
    };
    if ttl_secs > 0 && identity_sources.is_empty() {
        return Err(Problem::at(
            raw.key_span,
            format!("{location}.IdentitySource: a cached authorizer (AuthorizerResultTtlInSeconds above 0, 300 by default) needs at least one identity source"),
        ));
    }
    Ok(Some(Authorizer {
        name: raw.logical_id.clone(),
        kind: AuthorizerKind::Lambda(LambdaAuthorizer {
            function,
            token,
            identity_sources,
            validation_expression,
            ttl_secs,
            payload_format: PayloadFormat::V1,
            simple_responses: false,
        }),
    }))
}

/// A REST method's `AuthorizationType` (`NONE`, `AWS_IAM`, `CUSTOM` with `AuthorizerId`,
/// `COGNITO_USER_POOLS`), checked against the API's `authorizers`; `cognito` lists the
/// Cognito authorizers left open.
pub(super) fn method_auth(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    api: &str,
    authorizers: &[Authorizer],
    unsupported: &mut Vec<String>,
) -> Result<RouteAuth, Problem> {
    let location = format!("Resources.{}.Properties", raw.logical_id);
    let Some((kind, kind_span)) = string_property(resolver, raw, "AuthorizationType")? else {
        return Ok(RouteAuth::None);
    };
    match kind.as_str() {
        "NONE" => Ok(RouteAuth::None),
        "AWS_IAM" => Ok(RouteAuth::AwsIam),
        "COGNITO_USER_POOLS" => {
            unsupported.push(format!(
                "{}.AuthorizationType (COGNITO_USER_POOLS: not run, the method stays open)",
                raw.logical_id
            ));
            Ok(RouteAuth::None)
        }
        "CUSTOM" => {
            let Some((id, id_span)) = string_property(resolver, raw, "AuthorizerId")? else {
                return Err(Problem::at(
                    kind_span,
                    format!("{location}.AuthorizerId: missing; CUSTOM authorization names its AWS::ApiGateway::Authorizer with !Ref"),
                ));
            };
            if !authorizers.iter().any(|authorizer| authorizer.name == id) {
                return Err(Problem::at(
                    id_span,
                    format!("{location}.AuthorizerId: '{id}' names no TOKEN or REQUEST AWS::ApiGateway::Authorizer of API '{api}'"),
                ));
            }
            Ok(RouteAuth::Authorizer {
                name: id,
                scopes: Vec::new(),
            })
        }
        other => Err(Problem::at(
            kind_span,
            format!("{location}.AuthorizationType: '{other}' is not a REST authorization type; use NONE, AWS_IAM, CUSTOM or COGNITO_USER_POOLS"),
        )),
    }
}
