//! REST APIs' API keys and usage plans: a method that requires a key (`ApiKeyRequired`)
//! admits a request only with a key of a usage plan of the API's stage, within that plan's
//! throttle and quota.
//!
//! As API Gateway answers: a missing, unknown or disabled key, or one that no plan of the
//! stage holds, 403 `{"message":"Forbidden"}`; over the throttle, 429
//! `{"message":"Too Many Requests"}`; over the quota, 429 `{"message":"Limit Exceeded"}`.
//! The key is read from the `x-api-key` header, or (`ApiKeySource::Authorizer`) from the
//! `usageIdentifierKey` the route's Lambda authorizer answered, which runs first.
//!
//! Throttles are token buckets kept in memory (one per plan, key and throttled method);
//! quotas are counted by a [`QuotaStore`], which the server backs with its data folder so
//! counts survive restarts and deploys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use time::{Date, Duration, OffsetDateTime};

/// An API's keys: where they come from and which may call its stage.
#[derive(Clone, Default)]
pub struct ApiKeys {
    pub source: ApiKeySource,
    /// Every key a usage plan of the API's stage holds, with that plan's limits.
    pub grants: Vec<KeyGrant>,
    /// Where quotas are counted; `None` counts them in memory (lost on restart).
    pub quotas: Option<Arc<dyn QuotaStore>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("source", &self.source)
            .field("grants", &self.grants.len())
            .field("quotas", &self.quotas.is_some())
            .finish()
    }
}

/// Where a REST API reads a request's API key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ApiKeySource {
    /// The `x-api-key` header.
    #[default]
    Header,
    /// The `usageIdentifierKey` of the route's Lambda authorizer's answer.
    Authorizer,
}

/// One key that may call the API's stage, through one usage plan.
#[derive(Debug, Clone)]
pub struct KeyGrant {
    /// The key's id (`requestContext.identity.apiKeyId`).
    pub key_id: String,
    /// What callers send.
    pub value: String,
    /// A disabled key is refused like an unknown one.
    pub enabled: bool,
    pub plan: Arc<PlanLimits>,
}

/// A usage plan's limits on one API stage.
#[derive(Debug, Clone)]
pub struct PlanLimits {
    /// Unique across stacks (quota counts are kept under it).
    pub plan_id: String,
    /// Per key, on every method but those of `method_throttles`.
    pub throttle: Option<Throttle>,
    /// Per key and method, by `/path/METHOD` as the route declares it.
    pub method_throttles: Vec<(String, Throttle)>,
    pub quota: Option<Quota>,
}

/// A token bucket: `rate_limit` tokens a second, up to `burst_limit`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    pub rate_limit: f64,
    pub burst_limit: u32,
}

/// Requests per key per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    /// Taken off the limit in the period the plan was created in.
    pub offset: u64,
    pub period: QuotaPeriod,
    /// When the plan was created (Unix seconds): its period is the one `offset` applies to.
    pub created_at: i64,
}

/// Quota periods, starting at midnight UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaPeriod {
    Day,
    /// From Sunday.
    Week,
    /// From the first of the month.
    Month,
}

/// Where quota counts live.
pub trait QuotaStore: Send + Sync {
    /// Counts one request of `key_id` under `plan_id` in the period that starts at
    /// `period_start` (Unix seconds) if fewer than `limit` were counted there; returns
    /// whether it was counted. `Err` says why the count could not be read or written.
    fn try_count(
        &self,
        plan_id: &str,
        key_id: &str,
        period_start: i64,
        limit: u64,
    ) -> Result<bool, String>;
}

/// Quota counts in memory: for a gateway without a data folder (tests).
#[derive(Default)]
pub struct MemoryQuotas {
    counts: Mutex<HashMap<(String, String, i64), u64>>,
}

impl QuotaStore for MemoryQuotas {
    fn try_count(
        &self,
        plan_id: &str,
        key_id: &str,
        period_start: i64,
        limit: u64,
    ) -> Result<bool, String> {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let count = counts
            .entry((plan_id.to_owned(), key_id.to_owned(), period_start))
            .or_insert(0);
        if *count >= limit {
            return Ok(false);
        }
        *count += 1;
        Ok(true)
    }
}

/// The key a request was admitted with, for its event (`requestContext.identity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyUse {
    pub(crate) key_id: String,
    pub(crate) value: String,
}

impl KeyUse {
    /// Sets `requestContext.identity.apiKey` and `apiKeyId` in a payload 1.0 event.
    pub(crate) fn apply(&self, event: &mut serde_json::Value) {
        if let Some(identity) = event
            .get_mut("requestContext")
            .and_then(|context| context.get_mut("identity"))
            .and_then(serde_json::Value::as_object_mut)
        {
            identity.insert("apiKey".to_owned(), self.value.clone().into());
            identity.insert("apiKeyId".to_owned(), self.key_id.clone().into());
        }
    }
}

/// The throttles' buckets, across requests (and deploys: a bucket is keyed by plan, key
/// and method, not by version).
#[derive(Default)]
pub(crate) struct Buckets {
    buckets: Mutex<HashMap<(String, String, String), Bucket>>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Buckets {
    /// Takes a token from the bucket of `key`, made full on first use; `false` when empty.
    fn take(&self, key: (String, String, String), throttle: Throttle, now: Instant) -> bool {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let burst = f64::from(throttle.burst_limit);
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            refilled: now,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * throttle.rate_limit).min(burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// Whether the request may call a method that requires a key: the key it was admitted with,
/// or API Gateway's refusal. `authorizer_key` is the `usageIdentifierKey` the route's Lambda
/// authorizer answered, if any.
pub(crate) fn admit(
    buckets: &Buckets,
    keys: &ApiKeys,
    route_key: &str,
    headers: &HeaderMap,
    authorizer_key: Option<&str>,
) -> Result<KeyUse, Refusal> {
    let presented = match keys.source {
        ApiKeySource::Header => headers.get(X_API_KEY).and_then(|value| value.to_str().ok()),
        ApiKeySource::Authorizer => authorizer_key,
    };
    let Some(presented) = presented.filter(|value| !value.is_empty()) else {
        return Err(Refusal::Forbidden);
    };
    let Some(grant) = keys
        .grants
        .iter()
        .find(|grant| grant.enabled && grant.value == presented)
    else {
        return Err(Refusal::Forbidden);
    };
    let plan = &grant.plan;
    let method_throttle = plan
        .method_throttles
        .iter()
        .find(|(method, _)| method == route_key);
    let throttle = match method_throttle {
        Some((method, throttle)) => Some((method.as_str(), *throttle)),
        None => plan.throttle.map(|throttle| ("", throttle)),
    };
    if let Some((method, throttle)) = throttle {
        let bucket = (
            plan.plan_id.clone(),
            grant.key_id.clone(),
            method.to_owned(),
        );
        if !buckets.take(bucket, throttle, Instant::now()) {
            return Err(Refusal::Throttled);
        }
    }
    if let Some(quota) = plan.quota {
        let now = OffsetDateTime::now_utc();
        let period_start = period_start(quota.period, now);
        let initial = OffsetDateTime::from_unix_timestamp(quota.created_at)
            .map(|created| period_start_of(quota.period, created) == period_start)
            .unwrap_or(false);
        let limit = if initial {
            quota.limit.saturating_sub(quota.offset)
        } else {
            quota.limit
        };
        let counted = match &keys.quotas {
            Some(store) => store.try_count(&plan.plan_id, &grant.key_id, period_start, limit),
            None => Err("no quota store".to_owned()),
        };
        match counted {
            Ok(true) => {}
            Ok(false) => return Err(Refusal::LimitExceeded),
            Err(error) => {
                tracing::error!(plan = %plan.plan_id, "failed to count a request against its quota: {error}");
                return Err(Refusal::Unavailable);
            }
        }
    }
    Ok(KeyUse {
        key_id: grant.key_id.clone(),
        value: grant.value.clone(),
    })
}

/// The start of the period `now` is in (Unix seconds, UTC).
fn period_start(period: QuotaPeriod, now: OffsetDateTime) -> i64 {
    period_start_of(period, now)
}

fn period_start_of(period: QuotaPeriod, at: OffsetDateTime) -> i64 {
    let date = at.date();
    let first: Date = match period {
        QuotaPeriod::Day => date,
        QuotaPeriod::Week => {
            date - Duration::days(i64::from(date.weekday().number_days_from_sunday()))
        }
        QuotaPeriod::Month => date.replace_day(1).unwrap_or(date),
    };
    first.midnight().assume_utc().unix_timestamp()
}

/// Why a request that needs a key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No key, an unknown or disabled one, or one no plan of the stage holds.
    Forbidden,
    /// Over the plan's (or the method's) throttle.
    Throttled,
    /// Over the plan's quota for this period.
    LimitExceeded,
    /// The quota could not be counted.
    Unavailable,
}

impl Refusal {
    /// API Gateway's answer.
    pub(crate) fn into_response(self) -> Response {
        match self {
            Refusal::Forbidden => refusal(StatusCode::FORBIDDEN, "Forbidden", "ForbiddenException"),
            Refusal::Throttled => refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests",
                "TooManyRequestsException",
            ),
            Refusal::LimitExceeded => refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "Limit Exceeded",
                "LimitExceededException",
            ),
            Refusal::Unavailable => refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
                "InternalServerErrorException",
            ),
        }
    }
}

fn refusal(status: StatusCode, message: &str, error_type: &'static str) -> Response {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(ERROR_TYPE, HeaderValue::from_static(error_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(throttle: Option<Throttle>, quota: Option<Quota>) -> ApiKeys {
        let plan = Arc::new(PlanLimits {
            plan_id: "plan".to_owned(),
            throttle,
            method_throttles: vec![(
                "/slow/GET".to_owned(),
                Throttle {
                    rate_limit: 0.0,
                    burst_limit: 1,
                },
            )],
            quota,
        });
        ApiKeys {
            source: ApiKeySource::Header,
            grants: vec![
                KeyGrant {
                    key_id: "k1".to_owned(),
                    value: "a".repeat(20),
                    enabled: true,
                    plan: plan.clone(),
                },
                KeyGrant {
                    key_id: "k2".to_owned(),
                    value: "b".repeat(20),
                    enabled: false,
                    plan,
                },
            ],
            quotas: Some(Arc::new(MemoryQuotas::default())),
        }
    }

    fn with_key(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            X_API_KEY,
            HeaderValue::from_str(value).expect("test header"),
        );
        headers
    }

    fn status(result: Result<KeyUse, Refusal>) -> (u16, String) {
        match result.map_err(Refusal::into_response) {
            Ok(key) => (200, key.key_id),
            Err(response) => (
                response.status().as_u16(),
                response.headers()[&ERROR_TYPE]
                    .to_str()
                    .expect("ascii")
                    .to_owned(),
            ),
        }
    }

    #[test]
    fn missing_unknown_and_disabled_keys_are_forbidden() {
        let keys = keys(None, None);
        let buckets = Buckets::default();
        let forbidden = (403, "ForbiddenException".to_owned());
        assert_eq!(
            status(admit(&buckets, &keys, "/x/GET", &HeaderMap::new(), None)),
            forbidden
        );
        assert_eq!(
            status(admit(&buckets, &keys, "/x/GET", &with_key("nope"), None)),
            forbidden
        );
        let disabled = with_key(&"b".repeat(20));
        assert_eq!(
            status(admit(&buckets, &keys, "/x/GET", &disabled, None)),
            forbidden
        );
        let good = with_key(&"a".repeat(20));
        assert_eq!(
            status(admit(&buckets, &keys, "/x/GET", &good, None)),
            (200, "k1".to_owned())
        );
    }

    #[test]
    fn an_authorizer_source_takes_the_authorizers_key_not_the_header() {
        let mut keys = keys(None, None);
        keys.source = ApiKeySource::Authorizer;
        let buckets = Buckets::default();
        let good = "a".repeat(20);
        assert_eq!(
            status(admit(&buckets, &keys, "/x/GET", &with_key(&good), None)),
            (403, "ForbiddenException".to_owned())
        );
        assert_eq!(
            status(admit(
                &buckets,
                &keys,
                "/x/GET",
                &HeaderMap::new(),
                Some(&good)
            )),
            (200, "k1".to_owned())
        );
    }

    #[test]
    fn throttles_per_method_and_quotas() {
        let throttle = Throttle {
            rate_limit: 0.0,
            burst_limit: 2,
        };
        let quota = Quota {
            limit: 3,
            offset: 0,
            period: QuotaPeriod::Day,
            created_at: 0,
        };
        let keys = keys(Some(throttle), Some(quota));
        let buckets = Buckets::default();
        let good = with_key(&"a".repeat(20));
        let statuses: Vec<(u16, String)> = ["/x/GET", "/x/GET", "/x/GET", "/slow/GET", "/slow/GET"]
            .iter()
            .map(|route| status(admit(&buckets, &keys, route, &good, None)))
            .collect();
        assert_eq!(
            statuses,
            [
                (200, "k1".to_owned()),
                (200, "k1".to_owned()),
                (429, "TooManyRequestsException".to_owned()),
                (200, "k1".to_owned()),
                (429, "TooManyRequestsException".to_owned()),
            ]
        );
        // The quota of 3 was used by the three admitted requests.
        let fresh = Buckets::default();
        assert_eq!(
            status(admit(&fresh, &keys, "/x/GET", &good, None)),
            (429, "LimitExceededException".to_owned())
        );
    }

    #[test]
    fn periods_start_at_utc_boundaries() {
        // Wednesday 2026-12-09 15:30 UTC.
        let at = OffsetDateTime::from_unix_timestamp(1_796_830_200).expect("valid");
        let day = OffsetDateTime::from_unix_timestamp(period_start(QuotaPeriod::Day, at));
        let week = OffsetDateTime::from_unix_timestamp(period_start(QuotaPeriod::Week, at));
        let month = OffsetDateTime::from_unix_timestamp(period_start(QuotaPeriod::Month, at));
        let show = |time: Result<OffsetDateTime, _>| time.expect("valid").to_string();
        assert_eq!(show(day), "2026-12-09 0:00:00.0 +00:00:00");
        assert_eq!(show(week), "2026-12-06 0:00:00.0 +00:00:00");
        assert_eq!(show(month), "2026-12-01 0:00:00.0 +00:00:00");
    }
}
