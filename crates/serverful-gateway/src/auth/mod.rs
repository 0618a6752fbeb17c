//! Authorizers: who may call a route, decided before the route's function runs, and what
//! the decision tells the function (`requestContext.authorizer`).
//!
//! - `identity`: identity sources (`method.request.header.X`, `$request.querystring.X`, ...);
//! - `jwt`: HTTP APIs' JWT authorizers, with the issuers' keys fetched and cached;
//! - `lambda`: Lambda authorizers of REST and HTTP APIs: their events, answers and cache;
//! - `iam`: `AWS_IAM` routes: SigV4 for `execute-api`, checked against the server's keys;
//!
//! The policy documents and SigV4 checks themselves are `serverful_aws::execute_api`'s,
//! shared with WebSocket APIs' `$connect`.
//! - `responses`: the refusals API Gateway sends, per API flavour.

pub(crate) mod iam;
mod identity;
mod jwt;
mod lambda;
mod responses;

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::event::{RequestData, Site};
use crate::routes::RouteMatch;
use crate::{ApiKind, ApiSpec, FunctionRef, GatewayState, PayloadFormat, RouteSpec};

/// One of an API's authorizers.
#[derive(Debug, Clone)]
pub struct AuthorizerSpec {
    /// What routes name it by (SAM's key under `Auth.Authorizers`).
    pub name: String,
    pub kind: AuthorizerKind,
}

#[derive(Debug, Clone)]
pub enum AuthorizerKind {
    /// An HTTP API's JWT authorizer.
    Jwt(JwtConfig),
    /// A Lambda authorizer of a REST or an HTTP API.
    Lambda(LambdaConfig),
}

/// A JWT authorizer's configuration.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The `iss` tokens must carry; `{issuer}/.well-known/openid-configuration` names the
    /// signing keys (`jwks_uri`).
    pub issuer: String,
    /// One of these must be the token's `aud`, or its `client_id` when it has no `aud`.
    pub audience: Vec<String>,
    /// Where the token is: `$request.header.Authorization` (a `Bearer ` prefix is taken off).
    pub identity_source: String,
}

/// A Lambda authorizer's configuration.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// The authorizer function.
    pub target: FunctionRef,
    /// A REST API's `TOKEN` authorizer (the event carries the token alone); else `REQUEST`.
    pub token: bool,
    /// API Gateway's identity source expressions; a request missing one is refused with a
    /// 401 before the function runs, and together they key the cache.
    pub identity_sources: Vec<String>,
    /// A `TOKEN` authorizer's `ValidationExpression`: other tokens get a 401 without a call.
    pub validation_expression: Option<String>,
    /// How long an answer is reused for the same identity; zero disables the cache.
    pub ttl: Duration,
    /// An HTTP API authorizer's payload format (REST APIs: 1.0).
    pub payload_format: PayloadFormat,
    /// HTTP APIs, format 2.0: the function answers `{"isAuthorized": ..., "context": ...}`.
    pub simple_responses: bool,
}

/// How a route is protected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RouteAuth {
    /// Open.
    #[default]
    None,
    /// Requests must be signed with SigV4 for `execute-api` by a key the server knows.
    AwsIam,
    /// One of the API's authorizers, by name, with the scopes a JWT must grant one of.
    Authorizer { name: String, scopes: Vec<String> },
}

/// What authorizers need from the server.
#[derive(Clone, Default)]
pub struct AuthSettings {
    /// The region in `methodArn`s and that SigV4 signatures are scoped to
    /// (`us-east-1` when empty).
    pub region: String,
    /// The keys `AWS_IAM` routes accept (the AWS endpoint's); without them every signed
    /// request to such a route is refused.
    pub keys: Option<Arc<serverful_aws::KeyRing>>,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("region", &self.region)
            .field("keys", &self.keys.is_some())
            .finish()
    }
}

impl AuthSettings {
    fn region(&self) -> &str {
        if self.region.is_empty() {
            "us-east-1"
        } else {
            &self.region
        }
    }
}

/// The authorizers' state across requests: JWKS and Lambda answers, cached.
pub(crate) struct Authorizers {
    keys: jwt::KeyCache,
    answers: lambda::AnswerCache,
}

impl Authorizers {
    pub(crate) fn new() -> Authorizers {
        Authorizers {
            keys: jwt::KeyCache::new(),
            answers: lambda::AnswerCache::default(),
        }
    }
}

/// What an authorizer let through, and what the function hears of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Grant {
    Open,
    Jwt {
        claims: Map<String, Value>,
        scopes: Option<Vec<String>>,
    },
    Lambda {
        principal_id: Option<String>,
        context: Map<String, Value>,
        /// The answer's `usageIdentifierKey`: the API key, where the API takes keys from
        /// its authorizer.
        usage_identifier_key: Option<String>,
    },
    Iam(iam::Caller),
}

/// One request as authorizers see it.
pub(crate) struct AuthRequest<'a> {
    pub(crate) state: &'a GatewayState,
    pub(crate) site: Site<'a>,
    pub(crate) api: &'a ApiSpec,
    pub(crate) route: &'a RouteSpec,
    pub(crate) found: &'a RouteMatch,
    /// The request; its body is what AWS_IAM signatures cover.
    pub(crate) data: &'a RequestData,
}

impl AuthRequest<'_> {
    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}`: the
    /// `methodArn` (REST) or `routeArn` (HTTP) policies are matched against.
    fn method_arn(&self) -> String {
        let stage = self.found.stage.as_deref().unwrap_or(&self.api.stage_name);
        format!(
            "arn:aws:execute-api:{}:{}:{}/{}/{}{}",
            self.state.auth.region(),
            self.site.account_id,
            self.api.api_id,
            stage,
            self.data.method,
            self.found.api_path
        )
    }
}

/// Whether the route's protection lets the request through: the grant, or API Gateway's
/// refusal.
pub(crate) async fn authorize(
    authorizers: &Authorizers,
    request: &AuthRequest<'_>,
) -> Result<Grant, Response> {
    let kind = request.api.kind;
    match &request.route.auth {
        RouteAuth::None => Ok(Grant::Open),
        RouteAuth::AwsIam => {
            iam::authorize(request)
                .map(Grant::Iam)
                .map_err(|refusal| match refusal {
                    iam::IamRefusal::Signature(message) => responses::iam_refusal(kind, &message),
                    iam::IamRefusal::Denied(message) => responses::iam_denied(kind, &message),
                })
        }
        RouteAuth::Authorizer { name, scopes } => {
            let Some(authorizer) = request
                .api
                .authorizers
                .iter()
                .find(|authorizer| &authorizer.name == name)
            else {
                tracing::error!(api = %request.api.logical_id, "route names an unknown authorizer {name}");
                return Err(responses::authorizer_error(kind));
            };
            match &authorizer.kind {
                AuthorizerKind::Jwt(config) => {
                    jwt::authorize(&authorizers.keys, config, scopes, request).await
                }
                AuthorizerKind::Lambda(config) => {
                    lambda::authorize(&authorizers.answers, authorizer, config, request).await
                }
            }
        }
    }
}

impl Grant {
    /// The API key a Lambda authorizer answered with (`usageIdentifierKey`).
    pub(crate) fn usage_identifier_key(&self) -> Option<&str> {
        match self {
            Grant::Lambda {
                usage_identifier_key,
                ..
            } => usage_identifier_key.as_deref(),
            _ => None,
        }
    }

    /// Puts what the authorizer decided into the function's event, where API Gateway puts it.
    pub(crate) fn apply(&self, api: &ApiSpec, route: &RouteSpec, event: &mut Value) {
        let v2 = api.kind == ApiKind::Http && route.payload_format == PayloadFormat::V2;
        let Some(request_context) = event.get_mut("requestContext") else {
            return;
        };
        let authorizer = match self {
            Grant::Open => return,
            Grant::Jwt { claims, scopes } => {
                let jwt = json!({ "claims": claims, "scopes": scopes });
                if v2 {
                    json!({ "jwt": jwt })
                } else {
                    jwt
                }
            }
            Grant::Lambda {
                principal_id,
                context,
                ..
            } => {
                if v2 {
                    json!({ "lambda": context })
                } else {
                    let mut flat = Map::new();
                    for (key, value) in context {
                        // REST APIs hand context values to the integration as strings.
                        let text = match value {
                            Value::String(text) => Value::String(text.clone()),
                            other if api.kind == ApiKind::Rest => Value::String(other.to_string()),
                            other => other.clone(),
                        };
                        flat.insert(key.clone(), text);
                    }
                    if let Some(principal_id) = principal_id {
                        flat.insert("principalId".to_owned(), json!(principal_id));
                    }
                    flat.insert("integrationLatency".to_owned(), json!(0));
                    Value::Object(flat)
                }
            }
            Grant::Iam(caller) => {
                if v2 {
                    json!({ "iam": caller.v2_json() })
                } else {
                    caller.fill_identity(request_context);
                    return;
                }
            }
        };
        request_context["authorizer"] = authorizer;
    }
}
