//! What API Gateway checks before a request reaches an API's function, shared by the
//! gateway (REST and HTTP APIs, function URLs) and WebSocket APIs' `$connect`:
//!
//! - the IAM policy documents Lambda authorizers answer with, and how API Gateway matches
//!   them to a request's `methodArn`: a `Deny` that matches wins, else an `Allow` that
//!   matches lets the request through, else it is refused. `Action` and `Resource` take
//!   IAM's wildcards (`*` any run of characters, `?` one character);
//! - the answer of a Lambda authorizer in the policy form (`principalId`,
//!   `policyDocument`, `context`);
//! - `AWS_IAM` authorization: a request's SigV4 signature checked against the endpoint's
//!   keys ([`check_signature`]).

use std::sync::Arc;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::authz::{KeyRing, Principal};
use crate::sigv4::{verify, AuthError, Expectations, SignedRequest};

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    allow: bool,
    actions: Vec<String>,
    resources: Vec<String>,
}

/// What a policy says about one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    /// No statement covers the method.
    NotAllowed,
}

/// Reads `policyDocument`; `Err` says what is malformed (API Gateway then answers 500).
pub fn parse(document: &Value) -> Result<Policy, String> {
    let statements = match document.get("Statement") {
        Some(Value::Array(statements)) => statements.clone(),
        Some(statement @ Value::Object(_)) => vec![statement.clone()],
        _ => return Err("policyDocument has no Statement".to_owned()),
    };
    let mut parsed = Vec::new();
    for statement in &statements {
        let allow = match statement.get("Effect").and_then(Value::as_str) {
            Some(effect) if effect.eq_ignore_ascii_case("allow") => true,
            Some(effect) if effect.eq_ignore_ascii_case("deny") => false,
            _ => return Err("a statement's Effect is neither Allow nor Deny".to_owned()),
        };
        parsed.push(Statement {
            allow,
            actions: strings(statement.get("Action"), "Action")?,
            resources: strings(statement.get("Resource"), "Resource")?,
        });
    }
    Ok(Policy { statements: parsed })
}

fn strings(value: Option<&Value>, field: &str) -> Result<Vec<String>, String> {
    match value {
        Some(Value::String(text)) => Ok(vec![text.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("a statement's {field} holds a non-string"))
            })
            .collect(),
        _ => Err(format!("a statement has no {field}")),
    }
}

impl Policy {
    pub fn decide(&self, method_arn: &str) -> Decision {
        let mut allowed = false;
        for statement in &self.statements {
            let action = statement
                .actions
                .iter()
                .any(|action| wildcard_match(&action.to_ascii_lowercase(), "execute-api:invoke"));
            let resource = statement
                .resources
                .iter()
                .any(|resource| wildcard_match(resource, method_arn));
            if action && resource {
                if !statement.allow {
                    return Decision::ExplicitDeny;
                }
                allowed = true;
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::NotAllowed
        }
    }
}

/// A Lambda authorizer's answer in the policy form.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyAnswer {
    /// `principalId`; only HTTP APIs let it be left out.
    pub principal_id: Option<String>,
    pub policy: Policy,
    /// `context`, passed on to the integration.
    pub context: Map<String, Value>,
}

/// How strictly an authorizer's answer is read: REST and WebSocket APIs want a
/// `principalId` and a flat `context` (strings, numbers, booleans); HTTP APIs take both
/// more loosely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerRules {
    Strict,
    Lenient,
}

/// Reads an authorizer's `context`; `Err` says what is malformed.
pub fn answer_context(answer: &Value, rules: AnswerRules) -> Result<Map<String, Value>, String> {
    match answer.get("context") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(context)) => {
            if rules == AnswerRules::Strict {
                if let Some((key, _)) = context
                    .iter()
                    .find(|(_, value)| value.is_object() || value.is_array() || value.is_null())
                {
                    return Err(format!("context.{key} is not a string, number or boolean"));
                }
            }
            Ok(context.clone())
        }
        Some(_) => Err("context is not an object".to_owned()),
    }
}

/// Reads an authorizer's answer in the policy form; `Err` says what is malformed (API
/// Gateway then answers 500).
pub fn parse_answer(answer: &Value, rules: AnswerRules) -> Result<PolicyAnswer, String> {
    let context = answer_context(answer, rules)?;
    let principal_id = match answer.get("principalId") {
        Some(Value::String(principal_id)) => Some(principal_id.clone()),
        None if rules == AnswerRules::Lenient => None,
        _ => return Err("principalId is missing or not a string".to_owned()),
    };
    let document = answer
        .get("policyDocument")
        .ok_or("policyDocument is missing")?;
    Ok(PolicyAnswer {
        principal_id,
        policy: parse(document)?,
        context,
    })
}

/// A request whose SigV4 signature checked out against the endpoint's keys.
#[derive(Debug, Clone)]
pub struct Signer {
    pub access_key: String,
    /// The region of the signature's credential scope.
    pub region: String,
    pub principal: Arc<Principal>,
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureRefusal {
    /// No signature at all.
    Missing,
    /// A signature that does not check out, with the reason.
    Invalid(String),
}

const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

/// Checks a request's SigV4 signature for `service` (`execute-api`, `lambda`) against
/// `keys` (the AWS endpoint's), and its session token: the one check of `AWS_IAM` routes,
/// function URLs and WebSocket `$connect`s.
pub fn check_signature(
    keys: Option<&KeyRing>,
    request: &SignedRequest<'_>,
    service: &str,
) -> Result<Signer, SignatureRefusal> {
    let Some(keys) = keys else {
        return Err(SignatureRefusal::Invalid(INVALID_TOKEN.to_owned()));
    };
    let identities = keys.snapshot();
    let expect = Expectations {
        keys: identities.as_ref(),
        service,
        required_signed_headers: &[],
        now: OffsetDateTime::now_utc(),
    };
    match verify(request, &expect) {
        Ok(verified) => {
            let identity = identities
                .get(&verified.access_key_id)
                .filter(|identity| identity.accepts_token(request.headers, request.query))
                .ok_or_else(|| SignatureRefusal::Invalid(INVALID_TOKEN.to_owned()))?;
            Ok(Signer {
                principal: identity.principal.clone(),
                access_key: verified.access_key_id,
                region: verified.region,
            })
        }
        Err(AuthError::MissingAuthenticationToken) => Err(SignatureRefusal::Missing),
        Err(error) => Err(SignatureRefusal::Invalid(error.to_string())),
    }
}

/// IAM's wildcard match: `*` matches any run of characters (`/` included), `?` one.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it is matched up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/GET/pets/7";

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ARN));
        assert!(wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/*",
            ARN
        ));
        assert!(wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/GET/pets/?",
            ARN
        ));
        assert!(!wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/POST/*",
            ARN
        ));
        assert!(!wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/GET/pets/??",
            ARN
        ));
        assert!(wildcard_match("a*b*c", "aXbYc"));
        assert!(!wildcard_match("a*b*c", "aXbY"));
    }

    #[test]
    fn deny_wins_over_allow() {
        let policy = parse(&json!({
            "Version": "2012-10-17",
            "Statement": [
                { "Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*" },
                { "Action": ["execute-api:*"], "Effect": "Deny", "Resource": [ARN] }
            ]
        }))
        .expect("well formed");
        assert_eq!(policy.decide(ARN), Decision::ExplicitDeny);
        assert_eq!(
            policy.decide("arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/GET/pets/8"),
            Decision::Allow
        );
    }

    #[test]
    fn uncovered_methods_are_not_allowed() {
        let policy = parse(&json!({
            "Statement": { "Action": "execute-api:Invoke", "Effect": "Allow",
                           "Resource": "arn:aws:execute-api:*:*:abc123/Prod/POST/*" }
        }))
        .expect("well formed");
        assert_eq!(policy.decide(ARN), Decision::NotAllowed);
    }

    #[test]
    fn malformed_policies() {
        assert!(parse(&json!({})).is_err());
        assert!(parse(
            &json!({ "Statement": [{ "Effect": "Maybe", "Action": "*", "Resource": "*" }] })
        )
        .is_err());
        assert!(parse(&json!({ "Statement": [{ "Effect": "Allow", "Resource": "*" }] })).is_err());
    }
}
