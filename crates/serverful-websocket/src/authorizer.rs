//! `$connect` authorization: a WebSocket API's Lambda `REQUEST` authorizer or `AWS_IAM`,
//! decided before the handshake completes. What it grants stays with the connection:
//! every later event of it carries the authorizer's `principalId` and `context`
//! (`requestContext.authorizer`), or the signer (`requestContext.identity`).
//!
//! Authorizers of WebSocket APIs answer in the policy form only, their answers are not
//! cached (API Gateway caches HTTP APIs' authorizers alone), and they guard `$connect`
//! alone. The policy documents and SigV4 checks are `serverful_aws::execute_api`'s, the
//! gateway's too.

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use bytes::Bytes;
use http::request::Parts;
use http::StatusCode;
use serde_json::{json, Map, Value};
use serverful_aws::execute_api::{self, AnswerRules, Decision, SignatureRefusal};
use serverful_aws::sigv4::SignedRequest;

use crate::event::{build_event, decode_query_part, short_id, EventKind, EventSite};
use crate::{message_response, ApiSpec, Invoke, InvokeError, WebSockets};

/// How an API's `$connect` is authorized.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ConnectAuth {
    /// Anyone may connect.
    #[default]
    None,
    /// The handshake must be signed with SigV4 for `execute-api` by a key the server knows.
    AwsIam,
    /// A Lambda `REQUEST` authorizer decides.
    Lambda(ConnectAuthorizer),
}

/// A WebSocket API's Lambda authorizer (`AWS::ApiGatewayV2::Authorizer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectAuthorizer {
    /// Its `Name`, for logs.
    pub name: String,
    /// The authorizer function, at the stack's current deploy.
    pub target: crate::FunctionRef,
    /// `route.request.header.X` and `route.request.querystring.X`: a handshake missing one
    /// is refused with 401 before the function runs.
    pub identity_sources: Vec<String>,
}

/// What `$connect` authorization needs from the server.
#[derive(Clone)]
pub struct AuthSettings {
    /// The region of `methodArn`s.
    pub region: String,
    pub account_id: String,
    /// The keys `AWS_IAM` accepts (the AWS endpoint's).
    pub keys: Arc<serverful_aws::KeyRing>,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

/// What a connection was granted, added to each of its events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Granted {
    /// `requestContext.authorizer`: the `principalId` and the `context` of a Lambda
    /// authorizer's answer.
    pub authorizer: Option<Map<String, Value>>,
    /// Fields added to `requestContext.identity` (the signer of an `AWS_IAM` handshake).
    pub identity: Map<String, Value>,
}

impl Granted {
    /// Adds the grant to an event's `requestContext`.
    pub(crate) fn apply(&self, request_context: &mut Map<String, Value>) {
        if let Some(authorizer) = &self.authorizer {
            request_context.insert("authorizer".to_owned(), Value::Object(authorizer.clone()));
        }
        if let Some(Value::Object(identity)) = request_context.get_mut("identity") {
            for (key, value) in &self.identity {
                identity.insert(key.clone(), value.clone());
            }
        }
    }
}

/// How long API Gateway waits for an authorizer before refusing with 500.
const AUTHORIZER_TIMEOUT: Duration = Duration::from_secs(29);

/// Whether the handshake may proceed: what it was granted, or API Gateway's refusal.
pub(crate) async fn authorize(
    websockets: &WebSockets,
    invoker: &Arc<dyn Invoke>,
    api: &ApiSpec,
    parts: &Parts,
    site: &EventSite<'_>,
) -> Result<Granted, Response> {
    let settings = websockets.auth_settings();
    match &api.connect_auth {
        ConnectAuth::None => Ok(Granted::default()),
        ConnectAuth::AwsIam => {
            let signed = SignedRequest {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query().unwrap_or_default(),
                headers: &parts.headers,
                body: &[],
            };
            let keys = settings.map(|settings| settings.keys.as_ref());
            let checked =
                execute_api::check_signature(keys, &signed, "execute-api").and_then(|signer| {
                    // The master keys may connect to any API, a stack's keys to its own.
                    let resource = serverful_aws::authz::Resource::Api {
                        stack: &api.stack,
                        api_id: &api.api_id,
                        stage: &api.stage_name,
                        route: "$connect",
                    };
                    let region = settings.map_or("us-east-1", |settings| &settings.region);
                    signer
                        .principal
                        .authorize(
                            serverful_aws::authz::Action::execute_api("Invoke"),
                            resource,
                            region,
                        )
                        .map_err(|denied| SignatureRefusal::Invalid(denied.message))?;
                    Ok(signer)
                });
            match checked {
                Ok(signer) => {
                    let account_id = settings
                        .map_or(serverful_aws::DEFAULT_ACCOUNT_ID, |settings| {
                            settings.account_id.as_str()
                        });
                    let mut identity = Map::new();
                    identity.insert("accessKey".to_owned(), json!(signer.access_key));
                    identity.insert("accountId".to_owned(), json!(account_id));
                    identity.insert("caller".to_owned(), json!(signer.access_key));
                    identity.insert("user".to_owned(), json!(signer.access_key));
                    identity.insert(
                        "userArn".to_owned(),
                        json!(format!(
                            "arn:aws:iam::{account_id}:user/{}",
                            signer.access_key
                        )),
                    );
                    Ok(Granted {
                        authorizer: None,
                        identity,
                    })
                }
                Err(SignatureRefusal::Missing) => Err(message_response(
                    StatusCode::FORBIDDEN,
                    "Missing Authentication Token",
                )),
                Err(SignatureRefusal::Invalid(reason)) => {
                    tracing::info!(api = %api.logical_id, "$connect refused: {reason}");
                    Err(message_response(StatusCode::FORBIDDEN, &reason))
                }
            }
        }
        ConnectAuth::Lambda(authorizer) => {
            lambda(settings, invoker, api, authorizer, parts, site).await
        }
    }
}

async fn lambda(
    settings: Option<&AuthSettings>,
    invoker: &Arc<dyn Invoke>,
    api: &ApiSpec,
    authorizer: &ConnectAuthorizer,
    parts: &Parts,
    site: &EventSite<'_>,
) -> Result<Granted, Response> {
    let unauthorized = || message_response(StatusCode::UNAUTHORIZED, "Unauthorized");
    let failed = || message_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
    let raw_query = parts.uri.query().unwrap_or_default();
    for source in &authorizer.identity_sources {
        if identity_value(source, &parts.headers, raw_query).is_none_or(|value| value.is_empty()) {
            return Err(unauthorized());
        }
    }
    let (region, account_id) = settings.map_or(
        ("us-east-1", serverful_aws::DEFAULT_ACCOUNT_ID),
        |settings| (settings.region.as_str(), settings.account_id.as_str()),
    );
    let method_arn = format!(
        "arn:aws:execute-api:{region}:{account_id}:{}/{}/$connect",
        api.api_id, api.stage_name
    );
    let mut event = build_event(
        site,
        &EventKind::Connect {
            headers: &parts.headers,
            raw_query,
        },
        &short_id(),
    );
    if let Some(fields) = event.as_object_mut() {
        fields.remove("isBase64Encoded");
        fields.insert("type".to_owned(), json!("REQUEST"));
        fields.insert("methodArn".to_owned(), json!(method_arn));
        fields.insert("stageVariables".to_owned(), json!({}));
    }
    let payload = Bytes::from(event.to_string());
    let call = invoker.invoke(&authorizer.target, payload);
    let output = match tokio::time::timeout(AUTHORIZER_TIMEOUT, call).await {
        Err(_) => {
            tracing::error!(function = %authorizer.target, "authorizer {} timed out", authorizer.name);
            return Err(failed());
        }
        Ok(Ok(output)) => output,
        Ok(Err(InvokeError::FunctionError(details))) => {
            let message = serde_json::from_slice::<Value>(&details)
                .ok()
                .and_then(|error| {
                    error
                        .get("errorMessage")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
            if message.as_deref() == Some("Unauthorized") {
                return Err(unauthorized());
            }
            tracing::error!(function = %authorizer.target, "authorizer {} failed: {}", authorizer.name, String::from_utf8_lossy(&details));
            return Err(failed());
        }
        Ok(Err(error)) => {
            tracing::error!(function = %authorizer.target, "failed to run authorizer {}: {error}", authorizer.name);
            return Err(failed());
        }
    };
    let answer = serde_json::from_slice::<Value>(&output)
        .map_err(|error| format!("not JSON ({error})"))
        .and_then(|answer| execute_api::parse_answer(&answer, AnswerRules::Strict));
    let answer = match answer {
        Ok(answer) => answer,
        Err(problem) => {
            tracing::error!(function = %authorizer.target, "Execution failed due to configuration error: invalid authorizer answer: {problem}");
            return Err(failed());
        }
    };
    match answer.policy.decide(&method_arn) {
        Decision::Allow => {
            let mut granted = Map::new();
            for (key, value) in answer.context {
                // API Gateway hands context values on as strings, numbers and booleans as
                // they were; the principal goes beside them.
                granted.insert(key, value);
            }
            if let Some(principal_id) = answer.principal_id {
                granted.insert("principalId".to_owned(), json!(principal_id));
            }
            Ok(Granted {
                authorizer: Some(granted),
                identity: Map::new(),
            })
        }
        Decision::ExplicitDeny | Decision::NotAllowed => {
            Err(message_response(StatusCode::FORBIDDEN, "Forbidden"))
        }
    }
}

/// The value of an identity source in the handshake: `route.request.header.X` (any case)
/// or `route.request.querystring.X`.
fn identity_value(source: &str, headers: &http::HeaderMap, raw_query: &str) -> Option<String> {
    if let Some(name) = source.strip_prefix("route.request.header.") {
        return headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
    }
    if let Some(name) = source.strip_prefix("route.request.querystring.") {
        return raw_query.split('&').rev().find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_query_part(key) == name).then(|| decode_query_part(value))
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_sources_read_headers_and_query() {
        let mut headers = http::HeaderMap::new();
        headers.insert("auth", http::HeaderValue::from_static("secret"));
        assert_eq!(
            identity_value("route.request.header.Auth", &headers, ""),
            Some("secret".to_owned())
        );
        assert_eq!(
            identity_value(
                "route.request.querystring.token",
                &headers,
                "a=1&token=x%20y"
            ),
            Some("x y".to_owned())
        );
        assert_eq!(
            identity_value("route.request.querystring.token", &headers, "a=1"),
            None
        );
        assert_eq!(identity_value("stageVariables.x", &headers, ""), None);
    }

    #[test]
    fn grants_reach_the_request_context() {
        let mut authorizer = Map::new();
        authorizer.insert("principalId".to_owned(), json!("user-1"));
        let mut identity = Map::new();
        identity.insert("accessKey".to_owned(), json!("AKID"));
        let granted = Granted {
            authorizer: Some(authorizer),
            identity,
        };
        let mut context = json!({ "identity": { "sourceIp": "127.0.0.1" } });
        granted.apply(context.as_object_mut().expect("an object"));
        assert_eq!(
            context,
            json!({
                "identity": { "sourceIp": "127.0.0.1", "accessKey": "AKID" },
                "authorizer": { "principalId": "user-1" }
            })
        );
    }
}
