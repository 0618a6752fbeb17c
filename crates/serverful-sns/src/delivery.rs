//! Delivering queued messages: the [`Deliveries`] seam the platform implements for
//! queues and functions, HTTP/S POSTs, SNS's retry policies, and the dead-letter queue
//! of a subscription's `RedrivePolicy` once they are exhausted.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::message::MessageAttributes;

/// A message for an SQS queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub body: String,
    /// SQS message attributes (raw delivery passes the message's through).
    pub attributes: MessageAttributes,
    /// FIFO topics' message group and deduplication id.
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
}

/// Where SQS and Lambda subscribers are reached: implemented by the platform, which
/// knows the queues and the functions. Errors are messages for the log; the delivery is
/// retried as SNS retries AWS-managed endpoints.
pub trait Deliveries: Send + Sync + 'static {
    /// Sends to the queue with this ARN.
    fn to_queue(
        &self,
        queue_arn: &str,
        message: QueueMessage,
    ) -> BoxFuture<'static, Result<(), String>>;
    /// Invokes the function with this ARN (with a qualifier, if it has one)
    /// asynchronously, as SNS invokes Lambda.
    fn to_function(
        &self,
        function_arn: &str,
        event: String,
    ) -> BoxFuture<'static, Result<(), String>>;
}

/// SNS's `healthyRetryPolicy`: how often and how far apart a failed delivery is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub num_retries: u32,
    pub num_no_delay_retries: u32,
    pub min_delay_target: u32,
    pub num_min_delay_retries: u32,
    pub max_delay_target: u32,
    pub num_max_delay_retries: u32,
    pub backoff: Backoff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    Linear,
    Arithmetic,
    Geometric,
    Exponential,
}

impl Backoff {
    fn parse(text: &str) -> Option<Backoff> {
        match text {
            "linear" => Some(Backoff::Linear),
            "arithmetic" => Some(Backoff::Arithmetic),
            "geometric" => Some(Backoff::Geometric),
            "exponential" => Some(Backoff::Exponential),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Backoff::Linear => "linear",
            Backoff::Arithmetic => "arithmetic",
            Backoff::Geometric => "geometric",
            Backoff::Exponential => "exponential",
        }
    }
}

impl RetryPolicy {
    /// HTTP/S endpoints' default: three retries, 20 seconds apart.
    pub const HTTP_DEFAULT: RetryPolicy = RetryPolicy {
        num_retries: 3,
        num_no_delay_retries: 0,
        min_delay_target: 20,
        num_min_delay_retries: 0,
        max_delay_target: 20,
        num_max_delay_retries: 0,
        backoff: Backoff::Linear,
    };

    /// AWS-managed endpoints (SQS, Lambda): 3 immediate retries, 2 one second apart,
    /// 10 backing off from 1 to 20 seconds, then 100 000 every 20 seconds (23 days).
    pub const MANAGED: RetryPolicy = RetryPolicy {
        num_retries: 100_015,
        num_no_delay_retries: 3,
        min_delay_target: 1,
        num_min_delay_retries: 2,
        max_delay_target: 20,
        num_max_delay_retries: 100_000,
        backoff: Backoff::Exponential,
    };

    /// Reads a `healthyRetryPolicy` object; `None` with SNS's reason when it is invalid.
    pub fn parse(value: &Value) -> Result<RetryPolicy, String> {
        let Value::Object(members) = value else {
            return Err("healthyRetryPolicy must be an object".to_owned());
        };
        let number = |name: &str, default: u32| -> Result<u32, String> {
            match members.get(name) {
                None => Ok(default),
                Some(value) => value
                    .as_u64()
                    .and_then(|number| u32::try_from(number).ok())
                    .ok_or_else(|| format!("{name} must be a non-negative integer")),
            }
        };
        let min_delay_target = number("minDelayTarget", 20)?;
        let max_delay_target = number("maxDelayTarget", 20)?;
        let policy = RetryPolicy {
            num_retries: number("numRetries", 3)?,
            num_no_delay_retries: number("numNoDelayRetries", 0)?,
            min_delay_target,
            num_min_delay_retries: number("numMinDelayRetries", 0)?,
            max_delay_target,
            num_max_delay_retries: number("numMaxDelayRetries", 0)?,
            backoff: match members.get("backoffFunction") {
                None => Backoff::Linear,
                Some(Value::String(text)) => Backoff::parse(text)
                    .ok_or_else(|| format!("backoffFunction '{text}' is not linear, arithmetic, geometric or exponential"))?,
                Some(_) => return Err("backoffFunction must be a string".to_owned()),
            },
        };
        if policy.num_retries > 100 {
            return Err("numRetries must be between 0 and 100".to_owned());
        }
        if min_delay_target == 0 || min_delay_target > max_delay_target {
            return Err("minDelayTarget must be at least 1 and at most maxDelayTarget".to_owned());
        }
        if max_delay_target > 3600 {
            return Err("maxDelayTarget must be at most 3600".to_owned());
        }
        if policy.num_no_delay_retries + policy.num_min_delay_retries + policy.num_max_delay_retries
            > policy.num_retries
        {
            return Err("the retries of each phase add up to more than numRetries".to_owned());
        }
        Ok(policy)
    }

    pub fn to_json(self) -> Value {
        serde_json::json!({
            "minDelayTarget": self.min_delay_target,
            "maxDelayTarget": self.max_delay_target,
            "numRetries": self.num_retries,
            "numMaxDelayRetries": self.num_max_delay_retries,
            "numNoDelayRetries": self.num_no_delay_retries,
            "numMinDelayRetries": self.num_min_delay_retries,
            "backoffFunction": self.backoff.as_str(),
        })
    }

    /// The delay before retry number `retry` (1 for the first), in policy seconds, or
    /// `None` once the retries are spent.
    pub fn delay_before(&self, retry: u32) -> Option<f64> {
        if retry == 0 || retry > self.num_retries {
            return None;
        }
        let no_delay = self.num_no_delay_retries;
        let min_delay = no_delay + self.num_min_delay_retries;
        let backoff_count = self
            .num_retries
            .saturating_sub(min_delay + self.num_max_delay_retries);
        let min = f64::from(self.min_delay_target);
        let max = f64::from(self.max_delay_target);
        if retry <= no_delay {
            return Some(0.0);
        }
        if retry <= min_delay {
            return Some(min);
        }
        if retry <= min_delay + backoff_count {
            let step = f64::from(retry - min_delay);
            let steps = f64::from(backoff_count.max(1));
            let fraction = step / steps;
            let delay = match self.backoff {
                Backoff::Linear => min + (max - min) * fraction,
                Backoff::Arithmetic => min + (max - min) * fraction * fraction,
                Backoff::Geometric => min * (max / min).powf(fraction.sqrt()),
                Backoff::Exponential => min * (max / min).powf(fraction),
            };
            return Some(delay.clamp(min, max));
        }
        Some(max)
    }
}

/// The policy of a subscription: its own `DeliveryPolicy`, else its topic's for its
/// protocol, else SNS's default for the protocol.
pub fn effective_policy(
    protocol: &str,
    subscription_policy: Option<&str>,
    topic_policy: Option<&str>,
) -> RetryPolicy {
    if protocol != "http" && protocol != "https" {
        return RetryPolicy::MANAGED;
    }
    let topic: Option<Value> = topic_policy.and_then(|text| serde_json::from_str(text).ok());
    let topic_section = topic.as_ref().and_then(|topic| topic.get("http"));
    let overrides_disabled = topic_section
        .and_then(|section| section.get("disableSubscriptionOverrides"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !overrides_disabled {
        let own = subscription_policy
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .and_then(|value| value.get("healthyRetryPolicy").cloned())
            .and_then(|value| RetryPolicy::parse(&value).ok());
        if let Some(own) = own {
            return own;
        }
    }
    topic_section
        .and_then(|section| section.get("defaultHealthyRetryPolicy"))
        .and_then(|value| RetryPolicy::parse(value).ok())
        .unwrap_or(RetryPolicy::HTTP_DEFAULT)
}

/// Checks a subscription's `DeliveryPolicy` (`{"healthyRetryPolicy": {...}}`).
pub fn check_subscription_policy(text: &str) -> Result<(), String> {
    let value: Value = serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
    let Value::Object(members) = &value else {
        return Err("must be a JSON object".to_owned());
    };
    if let Some(policy) = members.get("healthyRetryPolicy") {
        RetryPolicy::parse(policy)?;
    }
    Ok(())
}

/// Checks a topic's `DeliveryPolicy` (`{"http": {"defaultHealthyRetryPolicy": {...}}}`).
pub fn check_topic_policy(text: &str) -> Result<(), String> {
    let value: Value = serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
    let Value::Object(members) = &value else {
        return Err("must be a JSON object".to_owned());
    };
    if let Some(section) = members.get("http") {
        if let Some(policy) = section.get("defaultHealthyRetryPolicy") {
            RetryPolicy::parse(policy)?;
        }
    }
    Ok(())
}

/// A topic's `EffectiveDeliveryPolicy`: its HTTP section over SNS's defaults.
pub fn effective_topic_policy(topic_policy: Option<&str>) -> String {
    let policy = effective_policy("http", None, topic_policy);
    serde_json::json!({
        "http": {
            "defaultHealthyRetryPolicy": policy.to_json(),
            "disableSubscriptionOverrides": false,
            "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
        }
    })
    .to_string()
}

/// How long a policy delay of `seconds` lasts when one policy second lasts `unit`.
pub fn scaled(seconds: f64, unit: Duration) -> Duration {
    unit.mul_f64(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policies_follow_sns() {
        let http = RetryPolicy::HTTP_DEFAULT;
        assert_eq!(http.delay_before(1), Some(20.0));
        assert_eq!(http.delay_before(3), Some(20.0));
        assert_eq!(http.delay_before(4), None);
        let managed = RetryPolicy::MANAGED;
        assert_eq!(managed.delay_before(1), Some(0.0));
        assert_eq!(managed.delay_before(4), Some(1.0));
        assert_eq!(managed.delay_before(5), Some(1.0));
        let backoff = managed.delay_before(10).expect("a delay");
        assert!(backoff > 1.0 && backoff < 20.0, "{backoff}");
        assert_eq!(managed.delay_before(15), Some(20.0));
        assert_eq!(managed.delay_before(100_000), Some(20.0));
        assert_eq!(managed.delay_before(100_016), None);
    }

    #[test]
    fn subscription_policies_override_the_topic() {
        let topic = r#"{"http":{"defaultHealthyRetryPolicy":{"numRetries":5,"minDelayTarget":1,"maxDelayTarget":2}}}"#;
        let own =
            r#"{"healthyRetryPolicy":{"numRetries":1,"minDelayTarget":3,"maxDelayTarget":3}}"#;
        assert_eq!(
            effective_policy("http", Some(own), Some(topic)).num_retries,
            1
        );
        assert_eq!(effective_policy("https", None, Some(topic)).num_retries, 5);
        assert_eq!(
            effective_policy("http", None, None),
            RetryPolicy::HTTP_DEFAULT
        );
        assert_eq!(
            effective_policy("lambda", Some(own), None),
            RetryPolicy::MANAGED
        );
        assert!(check_subscription_policy(r#"{"healthyRetryPolicy":{"numRetries":500}}"#).is_err());
        assert!(check_topic_policy("[]").is_err());
    }
}
