//! Lambda authorizers: the event API Gateway sends the authorizer function (`TOKEN`, REST
//! `REQUEST`, HTTP API formats 1.0 and 2.0), its answer (an IAM policy with `principalId`
//! and `context`, or HTTP APIs' simple `{"isAuthorized": ...}`), and the cache of answers
//! by identity.
//!
//! A cached answer is reused for every method it reaches: its policy is matched against
//! each request's own `methodArn`, as on AWS (where a policy that names only the first
//! method called refuses the others until the entry expires).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{identity, responses, AuthRequest, AuthorizerSpec, Grant, LambdaConfig};
use crate::event::build_event;
use crate::{ApiKind, InvokeError, PayloadFormat};
use serverful_aws::execute_api::{self, AnswerRules, Decision, Policy};

/// How long API Gateway waits for an authorizer before it answers 500: HTTP APIs give
/// authorizers 10 seconds; REST APIs the integration limit of 29.
fn authorizer_timeout(kind: ApiKind) -> Duration {
    match kind {
        ApiKind::Http => Duration::from_secs(10),
        ApiKind::Rest => Duration::from_secs(29),
    }
}

/// The entries of a cache larger than this are dropped when they expire, on the next store.
const CACHE_SWEEP_ENTRIES: usize = 10_000;

/// Authorizers' answers by API, authorizer and identity.
#[derive(Default)]
pub(super) struct AnswerCache {
    entries: Mutex<HashMap<String, (Instant, Answer)>>,
}

impl AnswerCache {
    fn get(&self, key: &str) -> Option<Answer> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match entries.get(key) {
            Some((expires, answer)) if *expires > Instant::now() => Some(answer.clone()),
            _ => None,
        }
    }

    fn put(&self, key: String, ttl: Duration, answer: Answer) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if entries.len() > CACHE_SWEEP_ENTRIES {
            entries.retain(|_, (expires, _)| *expires > now);
        }
        entries.insert(key, (now + ttl, answer));
    }
}

/// A valid authorizer answer.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Policy {
        principal_id: Option<String>,
        policy: Policy,
        context: Map<String, Value>,
        /// `usageIdentifierKey`: the API key of APIs whose keys come from the authorizer.
        usage_identifier_key: Option<String>,
    },
    Simple {
        authorized: bool,
        context: Map<String, Value>,
    },
}

/// Why the authorizer gave no answer.
enum Failure {
    /// It threw `Unauthorized`.
    Unauthorized,
    /// It failed otherwise, timed out, or answered something malformed.
    Error,
}

pub(super) async fn authorize(
    cache: &AnswerCache,
    authorizer: &AuthorizerSpec,
    config: &LambdaConfig,
    request: &AuthRequest<'_>,
) -> Result<Grant, Response> {
    let kind = request.api.kind;
    let mut identities = Vec::new();
    for source in &config.identity_sources {
        match identity::value(source, request) {
            Some(value) => identities.push(value),
            None => return Err(responses::unauthorized(kind)),
        }
    }
    if let (true, Some(expression), Some(token)) = (
        config.token,
        &config.validation_expression,
        identities.first(),
    ) {
        // A template's expression was checked when it loaded; one that fails here refuses.
        let matches = regex::Regex::new(&format!("^(?:{expression})$"))
            .is_ok_and(|pattern| pattern.is_match(token));
        if !matches {
            return Err(responses::unauthorized(kind));
        }
    }
    let cache_key = (!config.ttl.is_zero() && !identities.is_empty()).then(|| {
        format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            request.api.stack,
            request.api.api_id,
            authorizer.name,
            identities.join("\u{0}")
        )
    });
    let method_arn = request.method_arn();
    let cached = cache_key.as_deref().and_then(|key| cache.get(key));
    let answer = match cached {
        Some(answer) => answer,
        None => {
            let event = authorizer_event(config, request, &identities, &method_arn);
            match call(config, request, event).await {
                Ok(answer) => {
                    if let Some(key) = cache_key {
                        cache.put(key, config.ttl, answer.clone());
                    }
                    answer
                }
                Err(Failure::Unauthorized) => return Err(responses::unauthorized(kind)),
                Err(Failure::Error) => return Err(responses::authorizer_error(kind)),
            }
        }
    };
    match answer {
        Answer::Policy {
            principal_id,
            policy,
            context,
            usage_identifier_key,
        } => match policy.decide(&method_arn) {
            Decision::Allow => Ok(Grant::Lambda {
                principal_id,
                context,
                usage_identifier_key,
            }),
            Decision::ExplicitDeny => Err(responses::explicit_deny(kind)),
            Decision::NotAllowed => Err(responses::not_allowed(kind)),
        },
        Answer::Simple {
            authorized: true,
            context,
        } => Ok(Grant::Lambda {
            principal_id: None,
            context,
            usage_identifier_key: None,
        }),
        Answer::Simple {
            authorized: false, ..
        } => Err(responses::forbidden()),
    }
}

/// The event API Gateway sends the authorizer.
fn authorizer_event(
    config: &LambdaConfig,
    request: &AuthRequest<'_>,
    identities: &[String],
    method_arn: &str,
) -> Value {
    if config.token {
        return json!({
            "type": "TOKEN",
            "authorizationToken": identities.first(),
            "methodArn": method_arn,
        });
    }
    let mut route = request.route.clone();
    route.payload_format = match request.api.kind {
        ApiKind::Rest => PayloadFormat::V1,
        ApiKind::Http => config.payload_format,
    };
    let mut event = build_event(
        request.site,
        request.api,
        &route,
        request.found,
        request.data,
    );
    let Some(fields) = event.as_object_mut() else {
        return event;
    };
    fields.remove("body");
    fields.remove("isBase64Encoded");
    fields.insert("type".to_owned(), json!("REQUEST"));
    match (request.api.kind, config.payload_format) {
        (ApiKind::Rest, _) => {
            fields.insert("methodArn".to_owned(), json!(method_arn));
        }
        (ApiKind::Http, PayloadFormat::V1) => {
            let joined = identities.join(",");
            fields.insert("methodArn".to_owned(), json!(method_arn));
            fields.insert("identitySource".to_owned(), json!(joined));
            fields.insert("authorizationToken".to_owned(), json!(joined));
        }
        (ApiKind::Http, PayloadFormat::V2) => {
            fields.insert("routeArn".to_owned(), json!(method_arn));
            fields.insert("identitySource".to_owned(), json!(identities));
        }
    }
    event
}

/// Runs the authorizer and reads its answer.
async fn call(
    config: &LambdaConfig,
    request: &AuthRequest<'_>,
    event: Value,
) -> Result<Answer, Failure> {
    let kind = request.api.kind;
    let payload =
        Bytes::from(serde_json::to_vec(&event).expect("a serde_json::Value always serializes"));
    let invocation = request.state.invoker.invoke(&config.target, payload);
    let result = match tokio::time::timeout(authorizer_timeout(kind), invocation).await {
        Ok(result) => result,
        Err(_) => {
            tracing::error!(function = %config.target, "authorizer timed out");
            return Err(Failure::Error);
        }
    };
    let output = match result {
        Ok(output) => output,
        Err(InvokeError::FunctionError(details)) => {
            let message = serde_json::from_slice::<Value>(&details)
                .ok()
                .and_then(|error| {
                    error
                        .get("errorMessage")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
            // REST APIs answer 401 to an authorizer that throws `Unauthorized`; any other
            // failure (and any failure of an HTTP API's authorizer) is a 500.
            if kind == ApiKind::Rest && message.as_deref() == Some("Unauthorized") {
                return Err(Failure::Unauthorized);
            }
            tracing::error!(function = %config.target, "authorizer failed: {}", String::from_utf8_lossy(&details));
            return Err(Failure::Error);
        }
        Err(error) => {
            tracing::error!(function = %config.target, "failed to run the authorizer: {error}");
            return Err(Failure::Error);
        }
    };
    parse_answer(config, kind, &output).map_err(|problem| {
        tracing::error!(function = %config.target, "Execution failed due to configuration error: invalid authorizer answer: {problem}");
        Failure::Error
    })
}

/// Reads an authorizer's answer; `Err` says what is malformed.
fn parse_answer(config: &LambdaConfig, kind: ApiKind, output: &[u8]) -> Result<Answer, String> {
    let answer: Value =
        serde_json::from_slice(output).map_err(|error| format!("not JSON ({error})"))?;
    let rules = match kind {
        ApiKind::Rest => AnswerRules::Strict,
        ApiKind::Http => AnswerRules::Lenient,
    };
    if config.simple_responses {
        let context = execute_api::answer_context(&answer, rules)?;
        let authorized = answer
            .get("isAuthorized")
            .and_then(Value::as_bool)
            .ok_or("isAuthorized is missing or not a boolean")?;
        return Ok(Answer::Simple {
            authorized,
            context,
        });
    }
    let usage_identifier_key = answer
        .get("usageIdentifierKey")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let parsed = execute_api::parse_answer(&answer, rules)?;
    Ok(Answer::Policy {
        principal_id: parsed.principal_id,
        policy: parsed.policy,
        context: parsed.context,
        usage_identifier_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(simple_responses: bool) -> LambdaConfig {
        LambdaConfig {
            target: crate::FunctionRef::new("stack", "Authorizer"),
            token: true,
            identity_sources: vec!["method.request.header.Authorization".to_owned()],
            validation_expression: None,
            ttl: Duration::from_secs(300),
            payload_format: PayloadFormat::V1,
            simple_responses,
        }
    }

    #[test]
    fn rest_answers_need_principal_and_flat_context() {
        let good = br#"{"principalId":"user","policyDocument":{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"}]},"context":{"n":1,"b":true,"s":"x"}}"#;
        assert!(matches!(
            parse_answer(&config(false), ApiKind::Rest, good),
            Ok(Answer::Policy { .. })
        ));
        let no_principal = br#"{"policyDocument":{"Statement":[]}}"#;
        assert!(parse_answer(&config(false), ApiKind::Rest, no_principal).is_err());
        let nested =
            br#"{"principalId":"u","policyDocument":{"Statement":[]},"context":{"o":{"a":1}}}"#;
        assert!(parse_answer(&config(false), ApiKind::Rest, nested).is_err());
        assert!(parse_answer(&config(false), ApiKind::Rest, b"not json").is_err());
    }

    #[test]
    fn simple_answers() {
        let answer = parse_answer(
            &config(true),
            ApiKind::Http,
            br#"{"isAuthorized":false,"context":{"a":"b"}}"#,
        );
        assert!(matches!(
            answer,
            Ok(Answer::Simple {
                authorized: false,
                ..
            })
        ));
        assert!(parse_answer(&config(true), ApiKind::Http, br#"{"context":{}}"#).is_err());
    }

    #[test]
    fn cache_entries_expire() {
        let cache = AnswerCache::default();
        let answer = Answer::Simple {
            authorized: true,
            context: Map::new(),
        };
        cache.put("a".to_owned(), Duration::from_secs(60), answer.clone());
        cache.put("b".to_owned(), Duration::ZERO, answer.clone());
        assert_eq!(cache.get("a"), Some(answer));
        assert_eq!(cache.get("b"), None);
    }
}
