//! HTTP APIs' JWT authorizers: the token from the identity source, verified with the
//! issuer's published keys (`{issuer}/.well-known/openid-configuration` → `jwks_uri`), its
//! `iss`, `exp`, `nbf` and audience checked (`aud`, else `client_id`), and the route's
//! scopes against its `scope`/`scp`. Refusals carry the `www-authenticate` header API
//! Gateway sends.
//!
//! Keys are fetched on first use and cached per issuer for an hour; a token signed with a
//! key id the cache does not know refetches them (at most every 30 seconds), so rotated
//! keys are picked up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::response::Response;
use http::StatusCode;
use http_body_util::{BodyExt as _, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::{identity, responses, AuthRequest, Grant, JwtConfig};

/// How long an issuer's keys are kept.
const KEYS_TTL: Duration = Duration::from_secs(3600);
/// How soon keys may be fetched again for a token with an unknown key id.
const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// How long fetching an issuer's configuration or keys may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest configuration or key set read.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Issuers' keys, fetched on demand.
pub(super) struct KeyCache {
    client: HttpsClient,
    issuers: Mutex<HashMap<String, (Instant, Arc<JwkSet>)>>,
}

impl KeyCache {
    pub(super) fn new() -> KeyCache {
        KeyCache {
            client: https_client(),
            issuers: Mutex::new(HashMap::new()),
        }
    }

    /// The issuer's keys, fetched when not cached, stale, or (not too often) when they do
    /// not hold `kid`.
    async fn keys(&self, issuer: &str, kid: Option<&str>) -> Result<Arc<JwkSet>, String> {
        let cached = self
            .issuers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(issuer)
            .cloned();
        if let Some((fetched, keys)) = cached {
            let fresh = fetched.elapsed() < KEYS_TTL;
            let knows_kid = kid.is_none_or(|kid| keys.find(kid).is_some());
            if fresh && (knows_kid || fetched.elapsed() < REFETCH_INTERVAL) {
                return Ok(keys);
            }
        }
        let keys = Arc::new(self.fetch(issuer).await?);
        self.issuers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(issuer.to_owned(), (Instant::now(), keys.clone()));
        Ok(keys)
    }

    async fn fetch(&self, issuer: &str) -> Result<JwkSet, String> {
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let configuration = self.get_json(&discovery).await?;
        let jwks_uri = configuration
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{discovery} names no jwks_uri"))?;
        let keys = self.get_json(jwks_uri).await?;
        serde_json::from_value(keys).map_err(|error| format!("{jwks_uri} is not a JWKS: {error}"))
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let uri: http::Uri = url.parse().map_err(|error| format!("{url}: {error}"))?;
        let fetch = async {
            let response = self
                .client
                .get(uri)
                .await
                .map_err(|error| format!("GET {url}: {error}"))?;
            if !response.status().is_success() {
                return Err(format!("GET {url}: {}", response.status()));
            }
            let body = http_body_util::Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
                .collect()
                .await
                .map_err(|error| format!("GET {url}: {error}"))?
                .to_bytes();
            serde_json::from_slice(&body).map_err(|error| format!("GET {url}: not JSON: {error}"))
        };
        tokio::time::timeout(FETCH_TIMEOUT, fetch)
            .await
            .map_err(|_| format!("GET {url}: timed out"))?
    }
}

/// HTTPS verified against the system's trusted roots (`SSL_CERT_FILE`/`SSL_CERT_DIR`
/// honoured), plain HTTP too (issuers on loopback in development).
#[expect(
    deprecated,
    reason = "ring's provider, chosen over aws-lc-rs's C build, as for SNS's deliveries"
)]
fn https_client() -> HttpsClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(FETCH_TIMEOUT));
    connector.enforce_http(false);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider.clone())
    {
        Ok(builder) => builder,
        Err(error) => {
            tracing::warn!(
                "failed to load the system's trusted certificates for JWT issuers: {error}"
            );
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|config| {
                    config
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                })
                .unwrap_or_else(|_| {
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                });
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    let connector = builder
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Why a token is refused, as `www-authenticate` says it.
fn invalid_token(scopes: &[String], description: &str) -> Response {
    responses::jwt_refusal(
        StatusCode::UNAUTHORIZED,
        &format!(
            "Bearer scope=\"{}\" error=\"invalid_token\" error_description=\"{description}\"",
            scopes.join(" ")
        ),
    )
}

pub(super) async fn authorize(
    cache: &KeyCache,
    config: &JwtConfig,
    scopes: &[String],
    request: &AuthRequest<'_>,
) -> Result<Grant, Response> {
    let Some(source) = identity::value(&config.identity_source, request) else {
        return Err(responses::unauthorized(request.api.kind));
    };
    let token = source
        .strip_prefix("Bearer ")
        .or_else(|| source.strip_prefix("bearer "))
        .unwrap_or(&source)
        .trim();
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| invalid_token(scopes, "the token is malformed"))?;
    if matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(invalid_token(
            scopes,
            &format!("signing method {:?} is invalid", header.alg),
        ));
    }
    let keys = match cache.keys(&config.issuer, header.kid.as_deref()).await {
        Ok(keys) => keys,
        Err(problem) => {
            tracing::error!(issuer = %config.issuer, "failed to fetch the issuer's keys: {problem}");
            return Err(invalid_token(
                scopes,
                "unable to get the issuer's signing keys",
            ));
        }
    };
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or_else(|| invalid_token(scopes, "the token's key id is not one of the issuer's"))?;
    let key = DecodingKey::from_jwk(jwk)
        .map_err(|_| invalid_token(scopes, "the issuer's key cannot verify tokens"))?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = 0;
    validation.validate_nbf = true;
    // The audience is checked below: API Gateway falls back to `client_id` (Cognito's
    // access tokens carry no `aud`).
    validation.validate_aud = false;
    validation.set_issuer(&[config.issuer.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|error| {
            let description = match error.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidIssuer => "the token does not have a valid issuer",
                ErrorKind::InvalidSignature => "the token signature is invalid",
                ErrorKind::MissingRequiredClaim(_) => "the token is missing a required claim",
                _ => "the token is invalid",
            };
            invalid_token(scopes, description)
        })?
        .claims;
    if !config.audience.is_empty() && !audience_matches(&claims, &config.audience) {
        return Err(invalid_token(
            scopes,
            "the token does not have a valid audience",
        ));
    }
    let granted = token_scopes(&claims);
    if !scopes.is_empty()
        && !scopes.iter().any(|scope| {
            granted
                .as_ref()
                .is_some_and(|granted| granted.contains(scope))
        })
    {
        return Err(responses::jwt_refusal(
            StatusCode::FORBIDDEN,
            &format!(
                "Bearer scope=\"{}\" error=\"insufficient_scope\" error_description=\"expected scopes: [{}]\"",
                scopes.join(" "),
                scopes.join(" ")
            ),
        ));
    }
    Ok(Grant::Jwt {
        claims: claims
            .into_iter()
            .map(|(name, value)| (name, Value::String(claim_text(&value))))
            .collect(),
        scopes: granted,
    })
}

/// `aud` (a string or a list) holds one of `audience`; without `aud`, `client_id` must.
fn audience_matches(claims: &Map<String, Value>, audience: &[String]) -> bool {
    let candidates: Vec<&str> = match (claims.get("aud"), claims.get("client_id")) {
        (Some(Value::String(aud)), _) => vec![aud.as_str()],
        (Some(Value::Array(auds)), _) => auds.iter().filter_map(Value::as_str).collect(),
        (Some(_), _) => Vec::new(),
        (None, Some(Value::String(client_id))) => vec![client_id.as_str()],
        (None, _) => Vec::new(),
    };
    candidates
        .iter()
        .any(|candidate| audience.iter().any(|allowed| allowed == candidate))
}

/// The token's scopes: `scope` (space-separated) or `scp` (a list or a string).
fn token_scopes(claims: &Map<String, Value>) -> Option<Vec<String>> {
    let split = |text: &str| text.split_whitespace().map(str::to_owned).collect();
    match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(scope)), _) => Some(split(scope)),
        (_, Some(Value::Array(scopes))) => Some(
            scopes
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        (_, Some(Value::String(scopes))) => Some(split(scopes)),
        _ => None,
    }
}

/// Claims reach the function as strings, lists as `[a b]`, as API Gateway renders them.
fn claim_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(claim_text).collect::<Vec<_>>().join(" ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn audience_or_client_id() {
        let audience = vec!["app".to_owned()];
        assert!(audience_matches(&claims(json!({"aud": "app"})), &audience));
        assert!(audience_matches(
            &claims(json!({"aud": ["x", "app"]})),
            &audience
        ));
        assert!(!audience_matches(
            &claims(json!({"aud": "other", "client_id": "app"})),
            &audience
        ));
        assert!(audience_matches(
            &claims(json!({"client_id": "app"})),
            &audience
        ));
        assert!(!audience_matches(&claims(json!({})), &audience));
    }

    #[test]
    fn scopes_and_claim_texts() {
        assert_eq!(
            token_scopes(&claims(json!({"scope": "read write"}))),
            Some(vec!["read".to_owned(), "write".to_owned()])
        );
        assert_eq!(
            token_scopes(&claims(json!({"scp": ["a"]}))),
            Some(vec!["a".to_owned()])
        );
        assert_eq!(token_scopes(&claims(json!({}))), None);
        assert_eq!(claim_text(&json!(17)), "17");
        assert_eq!(claim_text(&json!(["a", "b"])), "[a b]");
    }
}
