//! Who may call an API's routes: the authorizers of SAM's `Auth` and each route's choice
//! among them, as the gateway applies them.

use crate::PayloadFormat;

/// One entry of an API's `Auth.Authorizers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorizer {
    /// Its key under `Authorizers`, what `DefaultAuthorizer` and routes' `Authorizer` name.
    pub name: String,
    pub kind: AuthorizerKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizerKind {
    /// An HTTP API's JWT authorizer (`JwtConfiguration`).
    Jwt(JwtAuthorizer),
    /// A Lambda (custom) authorizer, of a REST or an HTTP API.
    Lambda(LambdaAuthorizer),
}

/// An HTTP API's JWT authorizer: tokens signed by the issuer's keys, for one of the
/// audiences.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtAuthorizer {
    /// `JwtConfiguration.issuer`: the `iss` tokens must carry; its
    /// `/.well-known/openid-configuration` names the keys (`jwks_uri`).
    pub issuer: String,
    /// `JwtConfiguration.audience`: one of these must be the token's `aud` (or its
    /// `client_id` when it has no `aud`).
    pub audience: Vec<String>,
    /// `IdentitySource`: where the token is, `$request.header.Authorization` by default.
    pub identity_source: String,
    /// `AuthorizationScopes`: the scopes of routes that name none themselves.
    pub scopes: Vec<String>,
}

/// A Lambda authorizer: a function that decides from the request's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LambdaAuthorizer {
    /// The logical id of the function (`FunctionArn`), one of [`crate::App::functions`].
    pub function: String,
    /// `TOKEN` (REST APIs only: the event carries one header's value) or `REQUEST`.
    pub token: bool,
    /// Where the identity comes from, in API Gateway's notation: `method.request.header.X`,
    /// `method.request.querystring.X`, `stageVariables.X`, `context.X` for REST APIs;
    /// `$request.header.X`, `$request.querystring.X`, `$stageVariables.X`, `$context.X` for
    /// HTTP APIs. A request without one of them is refused before the function runs.
    pub identity_sources: Vec<String>,
    /// `Identity.ValidationExpression` of a `TOKEN` authorizer: a token that does not
    /// match it is refused before the function runs.
    pub validation_expression: Option<String>,
    /// `Identity.ReauthorizeEvery`: how long a result is cached by identity (0: not cached).
    pub ttl_secs: u32,
    /// REST APIs: 1.0. HTTP APIs: `AuthorizerPayloadFormatVersion`.
    pub payload_format: PayloadFormat,
    /// `EnableSimpleResponses` (HTTP APIs, format 2.0): the function answers
    /// `{"isAuthorized": bool, "context": {...}}` instead of an IAM policy.
    pub simple_responses: bool,
}

/// How a route is protected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteAuth {
    /// Open to anyone (no default authorizer, or `Authorizer: NONE`).
    None,
    /// `AWS_IAM`: requests signed with SigV4 for `execute-api`.
    AwsIam,
    /// One of the API's [`Authorizer`]s, by name.
    Authorizer {
        name: String,
        /// `AuthorizationScopes` (JWT authorizers): the token must grant one of them.
        scopes: Vec<String>,
    },
}
