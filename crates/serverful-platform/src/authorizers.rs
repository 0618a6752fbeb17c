//! The template's authorizers and routes' protection, as the gateway applies them: the
//! authorizer functions of a live version named like its routes' functions.

use std::sync::Arc;
use std::time::Duration;

use serverful_gateway as gateway;
use serverful_invoke::FunctionRef;
use serverful_template as template;

use crate::server::LiveVersion;

pub(crate) fn route_auth(auth: &template::RouteAuth) -> gateway::RouteAuth {
    match auth {
        template::RouteAuth::None => gateway::RouteAuth::None,
        template::RouteAuth::AwsIam => gateway::RouteAuth::AwsIam,
        template::RouteAuth::Authorizer { name, scopes } => gateway::RouteAuth::Authorizer {
            name: name.clone(),
            scopes: scopes.clone(),
        },
    }
}

/// An API's authorizers; Lambda authorizers call this version's function (by its alias
/// under `AutoPublishAlias`, as SAM's permissions name it).
pub(crate) fn authorizer_specs(
    version: &LiveVersion,
    api: &template::Api,
) -> Vec<gateway::AuthorizerSpec> {
    api.authorizers
        .iter()
        .map(|authorizer| gateway::AuthorizerSpec {
            name: authorizer.name.clone(),
            kind: match &authorizer.kind {
                template::AuthorizerKind::Jwt(jwt) => {
                    gateway::AuthorizerKind::Jwt(gateway::JwtConfig {
                        issuer: jwt.issuer.clone(),
                        audience: jwt.audience.clone(),
                        identity_source: jwt.identity_source.clone(),
                    })
                }
                template::AuthorizerKind::Lambda(lambda) => {
                    gateway::AuthorizerKind::Lambda(gateway::LambdaConfig {
                        target: FunctionRef {
                            stack: Arc::from(version.record.stack.as_str()),
                            function: Arc::from(lambda.function.as_str()),
                            deploy: Some(version.record.number),
                            qualifier: version
                                .app
                                .functions
                                .iter()
                                .find(|function| function.logical_id == lambda.function)
                                .and_then(|function| function.auto_publish_alias.as_deref())
                                .map(Arc::from),
                            trigger: Some(Arc::from(format!("authorizer {}", authorizer.name))),
                        },
                        token: lambda.token,
                        identity_sources: lambda.identity_sources.clone(),
                        validation_expression: lambda.validation_expression.clone(),
                        ttl: Duration::from_secs(u64::from(lambda.ttl_secs)),
                        payload_format: match lambda.payload_format {
                            template::PayloadFormat::V1 => gateway::PayloadFormat::V1,
                            template::PayloadFormat::V2 => gateway::PayloadFormat::V2,
                        },
                        simple_responses: lambda.simple_responses,
                    })
                }
            },
        })
        .collect()
}
