//! The engine: topics, subscriptions and publishing over a [`TopicBackend`], and the
//! worker that delivers every queued message to its subscribers. No wire format: the
//! query-protocol service (`api`) calls it with parsed requests.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{Notify, Semaphore};

use crate::backend::{
    BackendError, ClaimedDelivery, NewMessage, Published, SubscriptionRecord, TopicBackend,
    TopicRecord,
};
use crate::delivery::{self, Deliveries, QueueMessage};
use crate::envelope::{self, MessageKind, StoredMessage, Urls};
use crate::error::{ErrorCode, SnsError};
use crate::filter::{FilterPolicy, FilterScope};
use crate::message::{self, MessageAttributes};
use crate::signing::Signer;

/// What the engine needs from the server.
#[derive(Debug, Clone)]
pub struct TopicsConfig {
    pub region: String,
    pub account_id: String,
    /// The AWS endpoint's base URL, for the `SigningCertURL`, `SubscribeURL` and
    /// `UnsubscribeURL` subscribers are sent.
    pub endpoint_url: String,
    /// How long one second of a retry policy lasts (tests shorten it).
    pub retry_unit: Duration,
}

/// The protocols subscriptions may use.
pub const PROTOCOLS: &[&str] = &["lambda", "sqs", "http", "https"];
/// Page size of the listings, as SNS pages them.
const TOPICS_PAGE: usize = 100;
const SUBSCRIPTIONS_PAGE: usize = 100;
/// Deliveries running at once.
const MAX_IN_FLIGHT: usize = 64;
/// How long an HTTP/S endpoint has to answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// The most tags a topic may carry.
const MAX_TAGS: usize = 50;

/// SNS: topics, subscriptions, publishing and delivery.
pub struct Topics {
    backend: Arc<dyn TopicBackend>,
    config: TopicsConfig,
    signer: Arc<Signer>,
    urls: Urls,
    wake: Notify,
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    deliveries: OnceLock<Arc<dyn Deliveries>>,
}

impl std::fmt::Debug for Topics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topics")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A publish request, parsed.
#[derive(Debug, Clone, Default)]
pub struct PublishInput {
    pub topic_arn: String,
    pub message: String,
    pub subject: Option<String>,
    pub message_structure: Option<String>,
    pub attributes: MessageAttributes,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
}

/// What a publish answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOutput {
    pub message_id: String,
    pub sequence_number: Option<String>,
}

/// A subscription as listings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSummary {
    /// The ARN, or `PendingConfirmation`.
    pub arn: String,
    pub owner: String,
    pub protocol: String,
    pub endpoint: String,
    pub topic_arn: String,
}

/// Where a listing continues.
pub type NextToken = Option<String>;

fn backend_error(error: BackendError) -> SnsError {
    SnsError::internal("use the SNS state", error)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BackendError> + Send + 'static,
) -> Result<T, SnsError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(backend_error),
        Err(error) => Err(SnsError::internal("run an SNS storage task", error)),
    }
}

fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// `2026-01-01T00:00:00.000Z`, as SNS writes timestamps.
fn timestamp_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    now.format(&format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

/// Checks a topic name as `CreateTopic` does.
pub fn check_topic_name(name: &str, fifo: bool) -> Result<(), SnsError> {
    let stem = name.strip_suffix(".fifo").unwrap_or(name);
    let valid = !stem.is_empty()
        && name.len() <= 256
        && stem.chars().all(|character| {
            character.is_ascii_alphanumeric() || character == '-' || character == '_'
        });
    if fifo && (!valid || !name.ends_with(".fifo")) {
        return Err(SnsError::invalid_parameter(
            "Invalid parameter: Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.",
        ));
    }
    if !valid || (!fifo && name.ends_with(".fifo")) {
        return Err(SnsError::invalid_parameter("Invalid parameter: Topic Name"));
    }
    Ok(())
}

/// The topic attributes `CreateTopic` and `SetTopicAttributes` accept.
fn check_topic_attribute(
    name: &str,
    value: &str,
    fifo: bool,
    creating: bool,
) -> Result<(), SnsError> {
    let invalid = |reason: &str| {
        Err(SnsError::invalid_parameter(format!(
            "Invalid parameter: {name} Reason: {reason}"
        )))
    };
    let json_object = |value: &str| {
        matches!(
            serde_json::from_str::<serde_json::Value>(value),
            Ok(serde_json::Value::Object(_))
        )
    };
    match name {
        "DisplayName" => {
            if value.chars().count() > 100 {
                return invalid("DisplayName must be at most 100 characters");
            }
        }
        "Policy" | "DataProtectionPolicy" => {
            if !json_object(value) {
                return invalid("the policy is not a JSON object");
            }
        }
        "DeliveryPolicy" => {
            if let Err(reason) = delivery::check_topic_policy(value) {
                return invalid(&reason);
            }
        }
        "KmsMasterKeyId" => {}
        "SignatureVersion" => {
            if value != "1" && value != "2" {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: SignatureVersion",
                ));
            }
        }
        "TracingConfig" => {
            if value != "PassThrough" && value != "Active" {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: TracingConfig: must be PassThrough or Active",
                ));
            }
        }
        "FifoTopic" => {
            if !creating {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: AttributeName Reason: FifoTopic can only be set when the topic is created",
                ));
            }
            if value != "true" && value != "false" {
                return invalid("FifoTopic must be true or false");
            }
        }
        "ContentBasedDeduplication" => {
            if !fifo {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: ContentBasedDeduplication Reason: Content-based deduplication can only be set for FIFO topics",
                ));
            }
            if value != "true" && value != "false" {
                return invalid("ContentBasedDeduplication must be true or false");
            }
        }
        "ArchivePolicy" => {
            if !fifo {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: ArchivePolicy Reason: Archive policies can only be set for FIFO topics",
                ));
            }
            if !json_object(value) {
                return invalid("the policy is not a JSON object");
            }
        }
        "FifoThroughputScope" => {
            if value != "Topic" && value != "MessageGroup" {
                return invalid("FifoThroughputScope must be Topic or MessageGroup");
            }
        }
        // Delivery status logging (`HTTPSuccessFeedbackRoleArn`, ...): accepted.
        other
            if ["Application", "HTTP", "Lambda", "SQS", "Firehose"]
                .iter()
                .any(|prefix| other.starts_with(prefix))
                && (other.ends_with("FeedbackRoleArn")
                    || other.ends_with("FeedbackSampleRate")) => {}
        _ => {
            return Err(SnsError::invalid_parameter(
                "Invalid parameter: AttributeName",
            ))
        }
    }
    Ok(())
}

/// The default access policy SNS gives a topic: its owner may do everything.
fn default_policy(topic_arn: &str, account_id: &str) -> String {
    serde_json::json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic", "SNS:Publish"
            ],
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account_id}}
        }]
    })
    .to_string()
}

fn is_true(attributes: &BTreeMap<String, String>, name: &str) -> bool {
    attributes
        .get(name)
        .is_some_and(|value| value.eq_ignore_ascii_case("true"))
}

/// A random hex token, as SNS's confirmation tokens are.
fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Topics {
    /// The engine over `backend`, signing with the key pair in `signing_folder`.
    pub fn new(
        backend: Arc<dyn TopicBackend>,
        signer: Signer,
        config: TopicsConfig,
    ) -> Arc<Topics> {
        let urls = Urls {
            endpoint: config.endpoint_url.trim_end_matches('/').to_owned(),
            certificate_file: signer.certificate_file().to_owned(),
        };
        Arc::new(Topics {
            backend,
            config,
            signer: Arc::new(signer),
            urls,
            wake: Notify::new(),
            http: http_client(),
            deliveries: OnceLock::new(),
        })
    }

    pub fn config(&self) -> &TopicsConfig {
        &self.config
    }

    /// The signing certificate (PEM) if `file` is its name, as served at the
    /// `SigningCertURL`.
    pub fn certificate(&self, file: &str) -> Option<&str> {
        (file == self.signer.certificate_file()).then(|| self.signer.certificate_pem())
    }

    /// `arn:aws:sns:REGION:ACCOUNT:NAME`.
    pub fn topic_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:sns:{}:{}:{name}",
            self.config.region, self.config.account_id
        )
    }

    /// The topic name in a topic ARN of this account and region.
    pub fn topic_name<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let rest = arn.strip_prefix("arn:aws:sns:")?;
        let mut parts = rest.splitn(3, ':');
        let (_region, _account, name) = (parts.next()?, parts.next()?, parts.next()?);
        (!name.is_empty() && !name.contains(':')).then_some(name)
    }

    /// The topic name in a subscription ARN (`{topic ARN}:{id}`).
    pub fn subscription_topic<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let (topic_arn, id) = arn.rsplit_once(':')?;
        if id.is_empty() {
            return None;
        }
        self.topic_name(topic_arn)
    }

    async fn existing_topic(&self, arn: &str) -> Result<TopicRecord, SnsError> {
        let name = self
            .topic_name(arn)
            .ok_or_else(|| SnsError::invalid_parameter("Invalid parameter: TopicArn"))?
            .to_owned();
        let backend = self.backend.clone();
        blocking(move || backend.topic(&name))
            .await?
            .ok_or_else(|| SnsError::not_found("Topic does not exist"))
    }

    async fn existing_subscription(&self, arn: &str) -> Result<SubscriptionRecord, SnsError> {
        if self.subscription_topic(arn).is_none() {
            return Err(SnsError::invalid_parameter(
                "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not 5",
            ));
        }
        let backend = self.backend.clone();
        let owned = arn.to_owned();
        blocking(move || backend.subscription(&owned))
            .await?
            .ok_or_else(|| SnsError::not_found("Subscription does not exist"))
    }

    /// `CreateTopic`: returns the topic's ARN (the existing one's if it exists with the
    /// same attributes).
    pub async fn create_topic(
        &self,
        name: &str,
        attributes: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    ) -> Result<String, SnsError> {
        let fifo = is_true(&attributes, "FifoTopic");
        check_topic_name(name, fifo)?;
        for (attribute, value) in &attributes {
            check_topic_attribute(attribute, value, fifo, true).map_err(|error| {
                SnsError::invalid_parameter(error.message.replacen(
                    "Invalid parameter: ",
                    "Invalid parameter: Attributes Reason: ",
                    1,
                ))
            })?;
        }
        check_tags(&tags)?;
        let record = TopicRecord {
            name: name.to_owned(),
            attributes: attributes.clone(),
            tags: tags.clone(),
        };
        let backend = self.backend.clone();
        let stored = blocking(move || backend.create_topic(&record)).await?;
        let differs = attributes
            .iter()
            .any(|(attribute, value)| stored.attributes.get(attribute) != Some(value))
            || (fifo != is_true(&stored.attributes, "FifoTopic"));
        if differs {
            return Err(SnsError::invalid_parameter(
                "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
            ));
        }
        if tags
            .iter()
            .any(|(key, value)| stored.tags.get(key) != Some(value))
        {
            return Err(SnsError::invalid_parameter(
                "Invalid parameter: Tags Reason: Topic already exists with different tags",
            ));
        }
        Ok(self.topic_arn(name))
    }

    /// `DeleteTopic`: deleting a topic that does not exist is not an error, as on AWS.
    pub async fn delete_topic(&self, arn: &str) -> Result<(), SnsError> {
        let name = self
            .topic_name(arn)
            .ok_or_else(|| SnsError::invalid_parameter("Invalid parameter: TopicArn"))?
            .to_owned();
        let backend = self.backend.clone();
        blocking(move || backend.delete_topic(&name)).await?;
        Ok(())
    }

    /// `ListTopics`: a page of topic ARNs.
    pub async fn list_topics(
        &self,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, NextToken), SnsError> {
        let after = next_token.map(str::to_owned);
        let backend = self.backend.clone();
        let mut names =
            blocking(move || backend.list_topics(after.as_deref(), TOPICS_PAGE + 1)).await?;
        let next = (names.len() > TOPICS_PAGE).then(|| {
            names.truncate(TOPICS_PAGE);
            names.last().cloned().unwrap_or_default()
        });
        Ok((
            names.iter().map(|name| self.topic_arn(name)).collect(),
            next,
        ))
    }

    /// `GetTopicAttributes`: the attributes set, and those SNS computes.
    pub async fn topic_attributes(&self, arn: &str) -> Result<BTreeMap<String, String>, SnsError> {
        let topic = self.existing_topic(arn).await?;
        let backend = self.backend.clone();
        let name = topic.name.clone();
        let subscriptions =
            blocking(move || backend.list_subscriptions(Some(&name), None, usize::MAX >> 1))
                .await?;
        let pending = subscriptions
            .iter()
            .filter(|subscription| subscription.pending_token.is_some())
            .count();
        let topic_arn = self.topic_arn(&topic.name);
        let mut attributes = topic.attributes.clone();
        attributes
            .entry("Policy".to_owned())
            .or_insert_with(|| default_policy(&topic_arn, &self.config.account_id));
        attributes.entry("DisplayName".to_owned()).or_default();
        attributes.insert(
            "EffectiveDeliveryPolicy".to_owned(),
            delivery::effective_topic_policy(
                topic.attributes.get("DeliveryPolicy").map(String::as_str),
            ),
        );
        attributes.insert("Owner".to_owned(), self.config.account_id.clone());
        attributes.insert(
            "SubscriptionsConfirmed".to_owned(),
            (subscriptions.len() - pending).to_string(),
        );
        attributes.insert("SubscriptionsPending".to_owned(), pending.to_string());
        attributes.insert("SubscriptionsDeleted".to_owned(), "0".to_owned());
        attributes.insert("TopicArn".to_owned(), topic_arn);
        if is_true(&topic.attributes, "FifoTopic") {
            attributes
                .entry("ContentBasedDeduplication".to_owned())
                .or_insert_with(|| "false".to_owned());
        }
        Ok(attributes)
    }

    /// `SetTopicAttributes`.
    pub async fn set_topic_attribute(
        &self,
        arn: &str,
        name: &str,
        value: &str,
    ) -> Result<(), SnsError> {
        let mut topic = self.existing_topic(arn).await?;
        check_topic_attribute(name, value, is_true(&topic.attributes, "FifoTopic"), false)?;
        topic.attributes.insert(name.to_owned(), value.to_owned());
        let backend = self.backend.clone();
        blocking(move || backend.update_topic(&topic)).await
    }

    /// `Subscribe`: the new (or same existing) subscription's ARN, or
    /// `pending confirmation` for an HTTP/S endpoint unless `return_arn`.
    pub async fn subscribe(
        &self,
        topic_arn: &str,
        protocol: &str,
        endpoint: &str,
        attributes: BTreeMap<String, String>,
        return_arn: bool,
    ) -> Result<String, SnsError> {
        let topic = self.existing_topic(topic_arn).await?;
        let protocol = protocol.to_ascii_lowercase();
        if !PROTOCOLS.contains(&protocol.as_str()) {
            return Err(SnsError::invalid_parameter(format!(
                "Invalid parameter: Amazon SNS does not support this protocol string: {protocol} (Serverful delivers to lambda, sqs, http and https)"
            )));
        }
        check_endpoint(&protocol, endpoint)?;
        let fifo = is_true(&topic.attributes, "FifoTopic");
        if fifo && protocol != "sqs" {
            return Err(SnsError::invalid_parameter(format!(
                "Invalid parameter: Invalid protocol type: {protocol}. FIFO topics deliver to SQS queues only"
            )));
        }
        for (name, value) in &attributes {
            check_subscription_attribute(name, value, &protocol, &attributes).map_err(|error| {
                SnsError::invalid_parameter(error.message.replacen(
                    "Invalid parameter: ",
                    "Invalid parameter: Attributes Reason: ",
                    1,
                ))
            })?;
        }
        let topic_arn = self.topic_arn(&topic.name);
        // The same endpoint subscribed again is the same subscription, as on AWS.
        let backend = self.backend.clone();
        let name = topic.name.clone();
        let existing =
            blocking(move || backend.list_subscriptions(Some(&name), None, usize::MAX >> 1))
                .await?
                .into_iter()
                .find(|subscription| {
                    subscription.protocol == protocol && subscription.endpoint == endpoint
                });
        if let Some(existing) = existing {
            if !attributes.is_empty()
                && attributes
                    .iter()
                    .any(|(key, value)| existing.attributes.get(key) != Some(value))
            {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: Attributes Reason: Subscription already exists with different attributes",
                ));
            }
            // Subscribing a pending endpoint again sends its confirmation again, as SNS
            // does, with the same token.
            if let Some(token) = existing.pending_token.clone() {
                self.send_confirmation(&topic, token, existing.arn.clone())
                    .await?;
                if !return_arn {
                    return Ok("pending confirmation".to_owned());
                }
            }
            return Ok(existing.arn);
        }
        let needs_confirmation = protocol == "http" || protocol == "https";
        let token = needs_confirmation.then(new_token);
        let record = SubscriptionRecord {
            arn: format!("{topic_arn}:{}", uuid::Uuid::new_v4()),
            topic: topic.name.clone(),
            protocol: protocol.clone(),
            endpoint: endpoint.to_owned(),
            attributes,
            pending_token: token.clone(),
        };
        let backend = self.backend.clone();
        let saved = record.clone();
        blocking(move || backend.put_subscription(&saved)).await?;
        if let Some(token) = token {
            self.send_confirmation(&topic, token, record.arn.clone())
                .await?;
            if !return_arn {
                return Ok("pending confirmation".to_owned());
            }
        }
        Ok(record.arn)
    }

    /// Queues the `SubscriptionConfirmation` of a pending HTTP/S subscription.
    async fn send_confirmation(
        &self,
        topic: &TopicRecord,
        token: String,
        subscription_arn: String,
    ) -> Result<(), SnsError> {
        let topic_arn = self.topic_arn(&topic.name);
        let stored = StoredMessage {
            kind: MessageKind::SubscriptionConfirmation { token },
            topic_arn: topic_arn.clone(),
            subject: None,
            message: envelope::confirmation_text(&topic_arn),
            per_protocol: None,
            attributes: MessageAttributes::new(),
            timestamp: timestamp_now(),
            signature_version: topic
                .attributes
                .get("SignatureVersion")
                .cloned()
                .unwrap_or_else(|| "1".to_owned()),
            group_id: None,
            deduplication_id: None,
        };
        self.queue(&topic.name, stored, vec![subscription_arn], false)
            .await
            .map(|_| ())
    }

    /// `ConfirmSubscription`: confirms the pending subscription the token was sent to.
    pub async fn confirm_subscription(
        &self,
        topic_arn: &str,
        token: &str,
    ) -> Result<String, SnsError> {
        let topic = self.existing_topic(topic_arn).await?;
        let backend = self.backend.clone();
        let name = topic.name.clone();
        let subscriptions =
            blocking(move || backend.list_subscriptions(Some(&name), None, usize::MAX >> 1))
                .await?;
        let Some(mut subscription) = subscriptions
            .into_iter()
            .find(|subscription| subscription.pending_token.as_deref() == Some(token))
        else {
            return Err(SnsError::invalid_parameter("Invalid token"));
        };
        subscription.pending_token = None;
        let arn = subscription.arn.clone();
        let backend = self.backend.clone();
        blocking(move || backend.put_subscription(&subscription)).await?;
        Ok(arn)
    }

    /// `Unsubscribe`.
    pub async fn unsubscribe(&self, arn: &str) -> Result<(), SnsError> {
        self.existing_subscription(arn).await?;
        let backend = self.backend.clone();
        let owned = arn.to_owned();
        blocking(move || backend.delete_subscription(&owned)).await?;
        Ok(())
    }

    /// `ListSubscriptions` / `ListSubscriptionsByTopic`: a page.
    pub async fn list_subscriptions(
        &self,
        topic_arn: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<(Vec<SubscriptionSummary>, NextToken), SnsError> {
        let topic = match topic_arn {
            Some(arn) => Some(self.existing_topic(arn).await?.name),
            None => None,
        };
        let after = next_token.map(str::to_owned);
        let backend = self.backend.clone();
        let mut subscriptions = blocking(move || {
            backend.list_subscriptions(topic.as_deref(), after.as_deref(), SUBSCRIPTIONS_PAGE + 1)
        })
        .await?;
        let next = (subscriptions.len() > SUBSCRIPTIONS_PAGE).then(|| {
            subscriptions.truncate(SUBSCRIPTIONS_PAGE);
            subscriptions
                .last()
                .map(|subscription| subscription.arn.clone())
                .unwrap_or_default()
        });
        let summaries = subscriptions
            .into_iter()
            .map(|subscription| SubscriptionSummary {
                arn: if subscription.pending_token.is_some() {
                    "PendingConfirmation".to_owned()
                } else {
                    subscription.arn.clone()
                },
                owner: self.config.account_id.clone(),
                topic_arn: self.topic_arn(&subscription.topic),
                protocol: subscription.protocol,
                endpoint: subscription.endpoint,
            })
            .collect();
        Ok((summaries, next))
    }

    /// `GetSubscriptionAttributes`.
    pub async fn subscription_attributes(
        &self,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, SnsError> {
        let subscription = self.existing_subscription(arn).await?;
        let mut attributes = subscription.attributes.clone();
        let pending = subscription.pending_token.is_some();
        attributes.insert("SubscriptionArn".to_owned(), subscription.arn.clone());
        attributes.insert("TopicArn".to_owned(), self.topic_arn(&subscription.topic));
        attributes.insert("Owner".to_owned(), self.config.account_id.clone());
        attributes.insert("Protocol".to_owned(), subscription.protocol.clone());
        attributes.insert("Endpoint".to_owned(), subscription.endpoint.clone());
        attributes.insert("PendingConfirmation".to_owned(), pending.to_string());
        attributes.insert(
            "ConfirmationWasAuthenticated".to_owned(),
            (!pending).to_string(),
        );
        attributes
            .entry("RawMessageDelivery".to_owned())
            .or_insert_with(|| "false".to_owned());
        if attributes.contains_key("FilterPolicy") {
            attributes
                .entry("FilterPolicyScope".to_owned())
                .or_insert_with(|| "MessageAttributes".to_owned());
        }
        if subscription.protocol.starts_with("http") {
            let backend = self.backend.clone();
            let topic_name = subscription.topic.clone();
            let topic = blocking(move || backend.topic(&topic_name)).await?;
            let policy = delivery::effective_policy(
                &subscription.protocol,
                subscription
                    .attributes
                    .get("DeliveryPolicy")
                    .map(String::as_str),
                topic
                    .as_ref()
                    .and_then(|topic| topic.attributes.get("DeliveryPolicy"))
                    .map(String::as_str),
            );
            attributes.insert(
                "EffectiveDeliveryPolicy".to_owned(),
                serde_json::json!({"healthyRetryPolicy": policy.to_json()}).to_string(),
            );
        }
        Ok(attributes)
    }

    /// `SetSubscriptionAttributes`.
    pub async fn set_subscription_attribute(
        &self,
        arn: &str,
        name: &str,
        value: &str,
    ) -> Result<(), SnsError> {
        let mut subscription = self.existing_subscription(arn).await?;
        let mut merged = subscription.attributes.clone();
        merged.insert(name.to_owned(), value.to_owned());
        check_subscription_attribute(name, value, &subscription.protocol, &merged)?;
        if name == "FilterPolicy" && value.trim().is_empty() {
            // An empty policy removes the filter, as on AWS.
            subscription.attributes.remove("FilterPolicy");
        } else {
            subscription.attributes = merged;
        }
        let backend = self.backend.clone();
        blocking(move || backend.put_subscription(&subscription)).await
    }

    /// `Publish`: checks the message, matches it against every confirmed subscription's
    /// filter policy and queues a delivery for each match, durably, before it answers.
    pub async fn publish(&self, input: PublishInput) -> Result<PublishOutput, SnsError> {
        if input.topic_arn.is_empty() {
            return Err(SnsError::invalid_parameter(
                "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter",
            ));
        }
        let topic = self.existing_topic(&input.topic_arn).await?;
        message::check_message(&input.message, &input.attributes)?;
        message::check_attributes(&input.attributes)?;
        if let Some(subject) = &input.subject {
            message::check_subject(subject)?;
        }
        let per_protocol = match input.message_structure.as_deref() {
            None | Some("") => None,
            Some("json") => Some(message::parse_structure(&input.message)?),
            Some(_) => {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: MessageStructure",
                ))
            }
        };
        let fifo = is_true(&topic.attributes, "FifoTopic");
        let deduplication_id = if fifo {
            if input.group_id.as_deref().unwrap_or("").is_empty() {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: The MessageGroupId parameter is required for FIFO topics",
                ));
            }
            check_fifo_id("MessageGroupId", input.group_id.as_deref().unwrap_or(""))?;
            match &input.deduplication_id {
                Some(id) => {
                    check_fifo_id("MessageDeduplicationId", id)?;
                    Some(id.clone())
                }
                None if is_true(&topic.attributes, "ContentBasedDeduplication") => {
                    use sha2::Digest as _;
                    let digest = sha2::Sha256::digest(input.message.as_bytes());
                    Some(digest.iter().map(|byte| format!("{byte:02x}")).collect())
                }
                None => {
                    return Err(SnsError::invalid_parameter(
                        "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                    ))
                }
            }
        } else {
            if input.group_id.is_some() {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: MessageGroupId Reason: The request includes MessageGroupId parameter that is not valid for this topic type",
                ));
            }
            if input.deduplication_id.is_some() {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
                ));
            }
            None
        };
        let topic_arn = self.topic_arn(&topic.name);
        let stored = StoredMessage {
            kind: MessageKind::Notification,
            topic_arn,
            subject: input.subject.clone(),
            message: input.message.clone(),
            per_protocol,
            attributes: input.attributes.clone(),
            timestamp: timestamp_now(),
            signature_version: topic
                .attributes
                .get("SignatureVersion")
                .cloned()
                .unwrap_or_else(|| "1".to_owned()),
            group_id: input.group_id.clone(),
            deduplication_id,
        };
        let backend = self.backend.clone();
        let name = topic.name.clone();
        let subscriptions =
            blocking(move || backend.list_subscriptions(Some(&name), None, usize::MAX >> 1))
                .await?;
        let targets: Vec<String> = subscriptions
            .iter()
            .filter(|subscription| subscription.pending_token.is_none())
            .filter(|subscription| passes_filter(subscription, &stored))
            .map(|subscription| subscription.arn.clone())
            .collect();
        self.queue(&topic.name, stored, targets, fifo).await
    }

    /// Stores a message with its deliveries and wakes the worker.
    async fn queue(
        &self,
        topic: &str,
        stored: StoredMessage,
        targets: Vec<String>,
        fifo: bool,
    ) -> Result<PublishOutput, SnsError> {
        let message_id = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        let new_message = NewMessage {
            id: message_id.clone(),
            topic: topic.to_owned(),
            payload: serde_json::to_vec(&stored).expect("a stored message serializes"),
            deliveries: targets,
            group: stored.group_id.clone(),
            deduplication: stored.deduplication_id.clone().map(|id| (id, now)),
            sequenced: fifo,
        };
        let backend = self.backend.clone();
        let published = blocking(move || backend.publish(&new_message, now)).await?;
        self.wake.notify_one();
        Ok(match published {
            Published::Queued { sequence_number } => PublishOutput {
                message_id,
                sequence_number,
            },
            Published::Duplicate {
                message_id,
                sequence_number,
            } => PublishOutput {
                message_id,
                sequence_number,
            },
        })
    }

    /// `TagResource`.
    pub async fn tag(&self, arn: &str, tags: BTreeMap<String, String>) -> Result<(), SnsError> {
        let mut topic = self.tagged_topic(arn).await?;
        topic.tags.extend(tags);
        check_tags(&topic.tags)?;
        let backend = self.backend.clone();
        blocking(move || backend.update_topic(&topic)).await
    }

    /// `UntagResource`.
    pub async fn untag(&self, arn: &str, keys: &[String]) -> Result<(), SnsError> {
        let mut topic = self.tagged_topic(arn).await?;
        for key in keys {
            topic.tags.remove(key);
        }
        let backend = self.backend.clone();
        blocking(move || backend.update_topic(&topic)).await
    }

    /// `ListTagsForResource`.
    pub async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, SnsError> {
        Ok(self.tagged_topic(arn).await?.tags)
    }

    async fn tagged_topic(&self, arn: &str) -> Result<TopicRecord, SnsError> {
        self.existing_topic(arn).await.map_err(|error| {
            if error.code == ErrorCode::NotFound {
                SnsError::new(ErrorCode::ResourceNotFound, "Resource does not exist")
            } else {
                error
            }
        })
    }

    /// How many deliveries are queued.
    pub async fn queued_deliveries(&self) -> Result<usize, SnsError> {
        let backend = self.backend.clone();
        blocking(move || backend.queued()).await
    }

    /// Starts the delivery worker on the current tokio runtime, delivering to queues and
    /// functions through `deliveries`. It runs until the runtime stops; a delivery in
    /// flight then runs again after the restart.
    pub fn start(self: &Arc<Self>, deliveries: Arc<dyn Deliveries>) {
        if self.deliveries.set(deliveries).is_err() {
            tracing::warn!("the SNS delivery worker was already started");
            return;
        }
        let topics = Arc::clone(self);
        tokio::spawn(async move { topics.run().await });
    }

    async fn run(self: Arc<Self>) {
        let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        loop {
            let free = slots.available_permits().max(1);
            let backend = self.backend.clone();
            let claimed = blocking(move || backend.claim_due(now_ms(), free)).await;
            let claimed = match claimed {
                Ok(claimed) => claimed,
                Err(_) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                let backend = self.backend.clone();
                let next = blocking(move || backend.next_due()).await.ok().flatten();
                let wait = next.map_or(Duration::from_secs(1), |due| {
                    Duration::from_millis(due.saturating_sub(now_ms()).clamp(1, 1000) as u64)
                });
                let _ = tokio::time::timeout(wait, self.wake.notified()).await;
                continue;
            }
            for delivery in claimed {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                let topics = Arc::clone(&self);
                tokio::spawn(async move {
                    topics.deliver(delivery).await;
                    drop(permit);
                    topics.wake.notify_one();
                });
            }
        }
    }

    /// Runs one delivery and records its outcome.
    async fn deliver(&self, delivery: ClaimedDelivery) {
        let id = delivery.id;
        let outcome = self.attempt(&delivery).await;
        let backend = self.backend.clone();
        let recorded = match outcome {
            Attempt::Done => blocking(move || backend.finish(id)).await,
            Attempt::Failed {
                reason,
                policy,
                subscription,
            } => {
                let attempts = delivery.attempts + 1;
                match policy.delay_before(attempts) {
                    Some(seconds) => {
                        tracing::debug!(
                            "SNS delivery to {} failed (attempt {attempts}), retrying: {reason}",
                            subscription.endpoint
                        );
                        let due = now_ms()
                            + delivery::scaled(seconds, self.config.retry_unit).as_millis() as i64;
                        blocking(move || backend.reschedule(id, attempts, due)).await
                    }
                    None => {
                        self.give_up(&delivery, &subscription, &reason).await;
                        let backend = self.backend.clone();
                        blocking(move || backend.finish(id)).await
                    }
                }
            }
        };
        if let Err(error) = recorded {
            tracing::error!("failed to record an SNS delivery's outcome: {error}");
        }
    }

    /// After the last retry: the subscription's dead-letter queue, if it has one.
    async fn give_up(
        &self,
        delivery: &ClaimedDelivery,
        subscription: &SubscriptionRecord,
        reason: &str,
    ) {
        let dead_letter_queue = subscription
            .attributes
            .get("RedrivePolicy")
            .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
            .and_then(|policy| {
                policy
                    .get("deadLetterTargetArn")?
                    .as_str()
                    .map(str::to_owned)
            });
        let confirmation = serde_json::from_slice::<StoredMessage>(&delivery.payload)
            .is_ok_and(|stored| stored.kind != MessageKind::Notification);
        // A confirmation nobody received stays pending; only notifications are redriven.
        let dead_letter_queue = dead_letter_queue.filter(|_| !confirmation);
        let Some(queue_arn) = dead_letter_queue else {
            tracing::warn!(
                "SNS gave up delivering message {} to {} ({}): {reason}",
                delivery.message_id,
                subscription.endpoint,
                subscription.arn
            );
            return;
        };
        let Ok(stored) = serde_json::from_slice::<StoredMessage>(&delivery.payload) else {
            return;
        };
        let body = envelope::envelope(
            &stored,
            &delivery.message_id,
            delivery.sequence_number.as_deref(),
            &subscription.arn,
            &subscription.protocol,
            &self.signer,
            &self.urls,
        );
        let Some(deliveries) = self.deliveries.get() else {
            return;
        };
        let message = QueueMessage {
            body,
            attributes: stored.attributes.clone(),
            group_id: stored.group_id.clone(),
            deduplication_id: stored.deduplication_id.clone(),
        };
        match deliveries.to_queue(&queue_arn, message).await {
            Ok(()) => tracing::info!(
                "SNS moved message {} for {} to its dead-letter queue {queue_arn} after: {reason}",
                delivery.message_id,
                subscription.arn
            ),
            Err(error) => tracing::warn!(
                "SNS gave up delivering message {} to {}: {reason}; its dead-letter queue {queue_arn} refused it too: {error}",
                delivery.message_id,
                subscription.endpoint
            ),
        }
    }

    async fn attempt(&self, delivery: &ClaimedDelivery) -> Attempt {
        let backend = self.backend.clone();
        let arn = delivery.subscription.clone();
        let Ok(Some(subscription)) = blocking(move || backend.subscription(&arn)).await else {
            // Unsubscribed since: nothing to deliver to.
            return Attempt::Done;
        };
        let Ok(stored) = serde_json::from_slice::<StoredMessage>(&delivery.payload) else {
            tracing::error!(
                "dropped SNS message {}: its stored form is unreadable",
                delivery.message_id
            );
            return Attempt::Done;
        };
        let backend = self.backend.clone();
        let topic_name = subscription.topic.clone();
        let topic_policy = blocking(move || backend.topic(&topic_name))
            .await
            .ok()
            .flatten()
            .and_then(|topic| topic.attributes.get("DeliveryPolicy").cloned());
        let policy = delivery::effective_policy(
            &subscription.protocol,
            subscription
                .attributes
                .get("DeliveryPolicy")
                .map(String::as_str),
            topic_policy.as_deref(),
        );
        let result = match subscription.protocol.as_str() {
            "http" | "https" => self.post(&subscription, &stored, delivery).await,
            "lambda" => self.to_function(&subscription, &stored, delivery).await,
            "sqs" => self.to_queue(&subscription, &stored, delivery).await,
            other => Err(format!("protocol {other} is not delivered")),
        };
        match result {
            Ok(()) => Attempt::Done,
            Err(reason) => Attempt::Failed {
                reason,
                policy,
                subscription,
            },
        }
    }

    fn platform(&self) -> Result<&Arc<dyn Deliveries>, String> {
        self.deliveries.get().ok_or_else(|| {
            "the server delivers to queues and functions only once it has started".to_owned()
        })
    }

    async fn to_function(
        &self,
        subscription: &SubscriptionRecord,
        stored: &StoredMessage,
        delivery: &ClaimedDelivery,
    ) -> Result<(), String> {
        let event = envelope::lambda_event(
            stored,
            &delivery.message_id,
            &subscription.arn,
            &self.signer,
            &self.urls,
        );
        self.platform()?
            .to_function(&subscription.endpoint, event)
            .await
    }

    async fn to_queue(
        &self,
        subscription: &SubscriptionRecord,
        stored: &StoredMessage,
        delivery: &ClaimedDelivery,
    ) -> Result<(), String> {
        let raw = is_true(&subscription.attributes, "RawMessageDelivery");
        let message = if raw {
            QueueMessage {
                body: stored.text_for("sqs").to_owned(),
                attributes: stored.attributes.clone(),
                group_id: stored.group_id.clone(),
                deduplication_id: stored.deduplication_id.clone(),
            }
        } else {
            QueueMessage {
                body: envelope::envelope(
                    stored,
                    &delivery.message_id,
                    delivery.sequence_number.as_deref(),
                    &subscription.arn,
                    "sqs",
                    &self.signer,
                    &self.urls,
                ),
                attributes: MessageAttributes::new(),
                group_id: stored.group_id.clone(),
                deduplication_id: stored.deduplication_id.clone(),
            }
        };
        self.platform()?
            .to_queue(&subscription.endpoint, message)
            .await
    }

    /// POSTs to an HTTP/S endpoint; any 2xx is a delivery.
    async fn post(
        &self,
        subscription: &SubscriptionRecord,
        stored: &StoredMessage,
        delivery: &ClaimedDelivery,
    ) -> Result<(), String> {
        let confirmation = matches!(stored.kind, MessageKind::SubscriptionConfirmation { .. });
        let raw = !confirmation && is_true(&subscription.attributes, "RawMessageDelivery");
        let body = if raw {
            stored.text_for(&subscription.protocol).to_owned()
        } else {
            envelope::envelope(
                stored,
                &delivery.message_id,
                delivery.sequence_number.as_deref(),
                &subscription.arn,
                &subscription.protocol,
                &self.signer,
                &self.urls,
            )
        };
        let mut request = http::Request::post(subscription.endpoint.as_str())
            .header("content-type", "text/plain; charset=UTF-8")
            .header("user-agent", "Amazon Simple Notification Service Agent")
            .header("x-amz-sns-message-type", stored.type_name())
            .header("x-amz-sns-message-id", delivery.message_id.as_str())
            .header("x-amz-sns-topic-arn", stored.topic_arn.as_str());
        if !confirmation {
            request = request.header("x-amz-sns-subscription-arn", subscription.arn.as_str());
        }
        if raw {
            request = request.header("x-amz-sns-rawdelivery", "true");
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| format!("cannot POST to {}: {error}", subscription.endpoint))?;
        let response = tokio::time::timeout(HTTP_TIMEOUT, self.http.request(request))
            .await
            .map_err(|_| {
                format!(
                    "{} did not answer within {} s",
                    subscription.endpoint,
                    HTTP_TIMEOUT.as_secs()
                )
            })?
            .map_err(|error| {
                format!(
                    "POST to {} failed: {}",
                    subscription.endpoint,
                    error_chain(&error)
                )
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{} answered {status}", subscription.endpoint))
        }
    }
}

/// An error and its causes, `outer: inner: ...` (hyper's own message is only "client
/// error (Connect)"; the cause says which, such as an untrusted certificate).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The client HTTP/S subscribers are posted with: HTTPS verified against the system's
/// trusted roots (`SSL_CERT_FILE` and `SSL_CERT_DIR` override them, as OpenSSL's do).
/// rustls runs on ring, which rustls now marks deprecated for lacking post-quantum key
/// exchange; its other provider (aws-lc-rs) needs CMake and a long C build, and classic
/// key exchange is what most subscribers' servers offer anyway.
#[expect(
    deprecated,
    reason = "ring's provider, chosen over aws-lc-rs's C build"
)]
fn http_client() -> Client<HttpsConnector<HttpConnector>, Full<Bytes>> {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    connector.enforce_http(false);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider.clone())
    {
        Ok(builder) => builder,
        Err(error) => {
            // Without trusted roots every HTTPS delivery fails its certificate check (and
            // says so), while HTTP deliveries still work.
            tracing::warn!(
                "failed to load the system's trusted certificates for SNS's https subscribers: {error}"
            );
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|config| {
                    config
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                });
            match config {
                Ok(config) => hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config),
                Err(error) => {
                    tracing::error!("failed to set up TLS for SNS's https subscribers: {error}");
                    hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
                        rustls::ClientConfig::builder()
                            .with_root_certificates(rustls::RootCertStore::empty())
                            .with_no_client_auth(),
                    )
                }
            }
        }
    };
    let connector = builder
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    Client::builder(TokioExecutor::new()).build(connector)
}

enum Attempt {
    Done,
    Failed {
        reason: String,
        policy: delivery::RetryPolicy,
        subscription: SubscriptionRecord,
    },
}

/// Whether a message passes a subscription's filter policy (a policy that no longer
/// parses passes nothing; it was checked when it was set).
fn passes_filter(subscription: &SubscriptionRecord, stored: &StoredMessage) -> bool {
    let Some(policy) = subscription.attributes.get("FilterPolicy") else {
        return true;
    };
    let scope = subscription
        .attributes
        .get("FilterPolicyScope")
        .and_then(|scope| FilterScope::parse(scope))
        .unwrap_or_default();
    match FilterPolicy::parse(policy, scope) {
        Ok(policy) => policy.matches(stored.text_for(&subscription.protocol), &stored.attributes),
        Err(_) => false,
    }
}

fn check_fifo_id(name: &str, value: &str) -> Result<(), SnsError> {
    let valid = !value.is_empty()
        && value.len() <= 128
        && value.chars().all(|character| character.is_ascii_graphic());
    if valid {
        Ok(())
    } else {
        Err(SnsError::invalid_parameter(format!(
            "Invalid parameter: {name} Reason: {name} can only include alphanumeric and punctuation characters. 1 to 128 in length."
        )))
    }
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), SnsError> {
    if tags.len() > MAX_TAGS {
        return Err(SnsError::new(
            ErrorCode::TagLimitExceeded,
            "Could not complete request: tag quota of per resource exceeded",
        ));
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(SnsError::invalid_parameter(format!(
                "Invalid parameter: Tags Reason: tag key '{key}' must be 1 to 128 characters and its value at most 256"
            )));
        }
    }
    Ok(())
}

/// Checks an endpoint against its protocol.
fn check_endpoint(protocol: &str, endpoint: &str) -> Result<(), SnsError> {
    let arn_parts = |service: &str| -> Option<Vec<String>> {
        let parts: Vec<String> = endpoint.split(':').map(str::to_owned).collect();
        (parts.len() >= 6 && parts[0] == "arn" && parts[2] == service).then_some(parts)
    };
    match protocol {
        "lambda" => {
            let valid = arn_parts("lambda").is_some_and(|parts| {
                parts[5] == "function"
                    && parts.len() >= 7
                    && parts.len() <= 8
                    && !parts[6].is_empty()
            });
            if !valid {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: Lambda endpoint ARN",
                ));
            }
        }
        "sqs" => {
            let valid =
                arn_parts("sqs").is_some_and(|parts| parts.len() == 6 && !parts[5].is_empty());
            if !valid {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: SQS endpoint ARN",
                ));
            }
        }
        _ => {
            let scheme = format!("{protocol}://");
            let valid = endpoint
                .get(..scheme.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(&scheme))
                && endpoint
                    .parse::<http::Uri>()
                    .is_ok_and(|uri| uri.host().is_some());
            if !valid {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: Endpoint must match the specified protocol",
                ));
            }
        }
    }
    Ok(())
}

/// Checks one subscription attribute (`all` holds the others, for `FilterPolicyScope`).
fn check_subscription_attribute(
    name: &str,
    value: &str,
    protocol: &str,
    all: &BTreeMap<String, String>,
) -> Result<(), SnsError> {
    match name {
        "FilterPolicy" => {
            if value.trim().is_empty() {
                return Ok(());
            }
            let scope = all
                .get("FilterPolicyScope")
                .and_then(|scope| FilterScope::parse(scope))
                .unwrap_or_default();
            FilterPolicy::parse(value, scope).map_err(|error| {
                SnsError::invalid_parameter(format!("Invalid parameter: {error}"))
            })?;
        }
        "FilterPolicyScope" => {
            let Some(scope) = FilterScope::parse(value) else {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: FilterPolicyScope: Invalid filter policy scope, please specify either MessageAttributes or MessageBody",
                ));
            };
            if let Some(policy) = all
                .get("FilterPolicy")
                .filter(|policy| !policy.trim().is_empty())
            {
                FilterPolicy::parse(policy, scope).map_err(|error| {
                    SnsError::invalid_parameter(format!("Invalid parameter: {error}"))
                })?;
            }
        }
        "RawMessageDelivery" => {
            if value != "true" && value != "false" {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: RawMessageDelivery: Invalid value [".to_owned()
                        + value
                        + "]. Must be true or false.",
                ));
            }
            if protocol == "lambda" && value == "true" {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: Delivery protocol [lambda] does not support raw message delivery.",
                ));
            }
        }
        "RedrivePolicy" => {
            let target = serde_json::from_str::<serde_json::Value>(value)
                .ok()
                .and_then(|policy| {
                    policy
                        .get("deadLetterTargetArn")?
                        .as_str()
                        .map(str::to_owned)
                });
            let Some(target) = target else {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: RedrivePolicy: Redrive policy is not a valid JSON object with a deadLetterTargetArn",
                ));
            };
            let parts: Vec<&str> = target.split(':').collect();
            if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[5].is_empty() {
                return Err(SnsError::invalid_parameter(format!(
                    "Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn: {target}"
                )));
            }
        }
        "DeliveryPolicy" => {
            if !protocol.starts_with("http") {
                return Err(SnsError::invalid_parameter(format!(
                    "Invalid parameter: DeliveryPolicy: Delivery protocol [{protocol}] does not support delivery policies"
                )));
            }
            delivery::check_subscription_policy(value).map_err(|reason| {
                SnsError::invalid_parameter(format!("Invalid parameter: DeliveryPolicy: {reason}"))
            })?;
        }
        "SubscriptionRoleArn" | "ReplayPolicy" => {}
        _ => {
            return Err(SnsError::invalid_parameter(
                "Invalid parameter: AttributeName",
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_aws_rules() {
        assert!(check_topic_name("orders-1_a", false).is_ok());
        assert!(check_topic_name("orders.fifo", true).is_ok());
        assert_eq!(
            check_topic_name("bad name", false)
                .expect_err("space")
                .message,
            "Invalid parameter: Topic Name"
        );
        assert!(check_topic_name("orders", true)
            .expect_err("no suffix")
            .message
            .starts_with("Invalid parameter: Fifo Topic names must end with .fifo"));
        assert!(check_topic_name("orders.fifo", false).is_err());
        assert!(check_topic_name(&"a".repeat(257), false).is_err());
        assert!(check_topic_name("", false).is_err());
    }

    #[test]
    fn endpoints_must_fit_their_protocol() {
        assert!(
            check_endpoint("lambda", "arn:aws:lambda:us-east-1:123456789012:function:f").is_ok()
        );
        assert!(check_endpoint(
            "lambda",
            "arn:aws:lambda:us-east-1:123456789012:function:f:live"
        )
        .is_ok());
        assert!(check_endpoint("lambda", "f").is_err());
        assert!(check_endpoint("sqs", "arn:aws:sqs:us-east-1:123456789012:q").is_ok());
        assert!(check_endpoint("sqs", "http://queue").is_err());
        assert!(check_endpoint("http", "http://127.0.0.1:9/x").is_ok());
        assert!(check_endpoint("http", "https://127.0.0.1:9/x").is_err());
    }
}
