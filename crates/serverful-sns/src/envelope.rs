//! What subscribers receive, in AWS's exact shapes: the stored form of a published
//! message, the JSON envelope (SQS and HTTP/S subscribers), the Lambda event
//! (`Records[].Sns`) and the subscription confirmation, each signed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::message::MessageAttributes;
use crate::signing::{canonical_string, Signer};

/// A message as the backend keeps it until every delivery is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub kind: MessageKind,
    pub topic_arn: String,
    pub subject: Option<String>,
    /// The message as published.
    pub message: String,
    /// `MessageStructure: json`: the message per protocol, with `default`.
    pub per_protocol: Option<BTreeMap<String, String>>,
    pub attributes: MessageAttributes,
    /// `2026-01-01T00:00:00.000Z`.
    pub timestamp: String,
    /// The topic's `SignatureVersion` when it was published.
    pub signature_version: String,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
}

/// Which message SNS sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageKind {
    Notification,
    /// The message an HTTP/S endpoint confirms its subscription with.
    SubscriptionConfirmation {
        token: String,
    },
}

impl StoredMessage {
    /// The message text a protocol receives: its own entry of a JSON structure, else
    /// `default`, else the message.
    pub fn text_for(&self, protocol: &str) -> &str {
        match &self.per_protocol {
            Some(messages) => messages
                .get(protocol)
                .or_else(|| messages.get("default"))
                .map_or(self.message.as_str(), String::as_str),
            None => &self.message,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self.kind {
            MessageKind::Notification => "Notification",
            MessageKind::SubscriptionConfirmation { .. } => "SubscriptionConfirmation",
        }
    }
}

/// Where SNS's URLs point: the AWS endpoint's base URL and the certificate's file.
#[derive(Debug, Clone)]
pub struct Urls {
    pub endpoint: String,
    pub certificate_file: String,
}

impl Urls {
    pub fn signing_certificate(&self) -> String {
        format!("{}/{}", self.endpoint, self.certificate_file)
    }

    pub fn unsubscribe(&self, subscription_arn: &str) -> String {
        format!(
            "{}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
            self.endpoint
        )
    }

    pub fn subscribe(&self, topic_arn: &str, token: &str) -> String {
        format!(
            "{}/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}",
            self.endpoint
        )
    }
}

/// Builds a JSON object with members in the order given (AWS's order; `serde_json`'s
/// maps sort their keys).
struct Ordered(String);

impl Ordered {
    fn new() -> Ordered {
        Ordered(String::from("{"))
    }

    fn member(mut self, name: &str, value: &Value) -> Ordered {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push_str(&Value::String(name.to_owned()).to_string());
        self.0.push(':');
        self.0.push_str(&value.to_string());
        self
    }

    fn string(self, name: &str, value: &str) -> Ordered {
        self.member(name, &Value::String(value.to_owned()))
    }

    fn raw(mut self, name: &str, json: &str) -> Ordered {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push_str(&Value::String(name.to_owned()).to_string());
        self.0.push(':');
        self.0.push_str(json);
        self
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// The attributes as the envelope carries them: `{"name": {"Type": ..., "Value": ...}}`.
fn attributes_json(attributes: &MessageAttributes) -> String {
    let mut object = Ordered::new();
    for (name, attribute) in attributes {
        let member = Ordered::new()
            .string("Type", &attribute.data_type)
            .string("Value", &attribute.envelope_value())
            .finish();
        object = object.raw(name, &member);
    }
    object.finish()
}

/// The signature of a message as `protocol` receives it.
fn signature(
    stored: &StoredMessage,
    message_id: &str,
    text: &str,
    signer: &Signer,
    urls: &Urls,
) -> String {
    let subscribe_url = match &stored.kind {
        MessageKind::SubscriptionConfirmation { token } => {
            Some(urls.subscribe(&stored.topic_arn, token))
        }
        MessageKind::Notification => None,
    };
    let token = match &stored.kind {
        MessageKind::SubscriptionConfirmation { token } => Some(token.as_str()),
        MessageKind::Notification => None,
    };
    let canonical = canonical_string(stored.type_name(), |field| match field {
        "Message" => Some(text),
        "MessageId" => Some(message_id),
        "Subject" => stored.subject.as_deref(),
        "Timestamp" => Some(stored.timestamp.as_str()),
        "TopicArn" => Some(stored.topic_arn.as_str()),
        "SubscribeURL" => subscribe_url.as_deref(),
        "Token" => token,
        _ => None,
    });
    signer.sign(&stored.signature_version, &canonical)
}

/// The JSON envelope SQS and HTTP/S subscribers receive (a `Notification` or a
/// `SubscriptionConfirmation`).
pub fn envelope(
    stored: &StoredMessage,
    message_id: &str,
    sequence_number: Option<&str>,
    subscription_arn: &str,
    protocol: &str,
    signer: &Signer,
    urls: &Urls,
) -> String {
    let text = stored.text_for(protocol);
    let signed = signature(stored, message_id, text, signer, urls);
    match &stored.kind {
        MessageKind::SubscriptionConfirmation { token } => Ordered::new()
            .string("Type", "SubscriptionConfirmation")
            .string("MessageId", message_id)
            .string("Token", token)
            .string("TopicArn", &stored.topic_arn)
            .string("Message", text)
            .string("SubscribeURL", &urls.subscribe(&stored.topic_arn, token))
            .string("Timestamp", &stored.timestamp)
            .string("SignatureVersion", &stored.signature_version)
            .string("Signature", &signed)
            .string("SigningCertURL", &urls.signing_certificate())
            .finish(),
        MessageKind::Notification => {
            let mut object = Ordered::new()
                .string("Type", "Notification")
                .string("MessageId", message_id);
            if let Some(sequence_number) = sequence_number {
                object = object.string("SequenceNumber", sequence_number);
            }
            object = object.string("TopicArn", &stored.topic_arn);
            if let Some(subject) = &stored.subject {
                object = object.string("Subject", subject);
            }
            object = object
                .string("Message", text)
                .string("Timestamp", &stored.timestamp)
                .string("SignatureVersion", &stored.signature_version)
                .string("Signature", &signed)
                .string("SigningCertURL", &urls.signing_certificate())
                .string("UnsubscribeURL", &urls.unsubscribe(subscription_arn));
            if !stored.attributes.is_empty() {
                object = object.raw("MessageAttributes", &attributes_json(&stored.attributes));
            }
            object.finish()
        }
    }
}

/// The event a Lambda subscriber is invoked with: `{"Records": [{..., "Sns": {...}}]}`.
pub fn lambda_event(
    stored: &StoredMessage,
    message_id: &str,
    subscription_arn: &str,
    signer: &Signer,
    urls: &Urls,
) -> String {
    let text = stored.text_for("lambda");
    let signed = signature(stored, message_id, text, signer, urls);
    let subject = stored
        .subject
        .as_ref()
        .map_or(Value::Null, |subject| Value::String(subject.clone()));
    let sns = Ordered::new()
        .string("Type", "Notification")
        .string("MessageId", message_id)
        .string("TopicArn", &stored.topic_arn)
        .member("Subject", &subject)
        .string("Message", text)
        .string("Timestamp", &stored.timestamp)
        .string("SignatureVersion", &stored.signature_version)
        .string("Signature", &signed)
        .string("SigningCertUrl", &urls.signing_certificate())
        .string("UnsubscribeUrl", &urls.unsubscribe(subscription_arn))
        .raw("MessageAttributes", &attributes_json(&stored.attributes))
        .finish();
    let record = Ordered::new()
        .string("EventSource", "aws:sns")
        .string("EventVersion", "1.0")
        .string("EventSubscriptionArn", subscription_arn)
        .raw("Sns", &sns)
        .finish();
    format!("{{\"Records\":[{record}]}}")
}

/// The message a confirmation carries.
pub fn confirmation_text(topic_arn: &str) -> String {
    format!(
        "You have chosen to subscribe to the topic {topic_arn}.\nTo confirm the subscription, visit the SubscribeURL included in this message."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{AttributeValue, MessageAttribute};

    #[test]
    fn envelopes_keep_aws_member_order() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let signer = Signer::load_or_generate(folder.path()).expect("signer");
        let urls = Urls {
            endpoint: "http://127.0.0.1:4566".to_owned(),
            certificate_file: signer.certificate_file().to_owned(),
        };
        let mut attributes = MessageAttributes::new();
        attributes.insert(
            "kind".to_owned(),
            MessageAttribute {
                data_type: "String".to_owned(),
                value: AttributeValue::String("order".to_owned()),
            },
        );
        let stored = StoredMessage {
            kind: MessageKind::Notification,
            topic_arn: "arn:aws:sns:us-east-1:123456789012:t".to_owned(),
            subject: None,
            message: r#"{"default":"d","lambda":"for lambda"}"#.to_owned(),
            per_protocol: Some(BTreeMap::from([
                ("default".to_owned(), "d".to_owned()),
                ("lambda".to_owned(), "for lambda".to_owned()),
            ])),
            attributes,
            timestamp: "2026-01-01T00:00:00.000Z".to_owned(),
            signature_version: "1".to_owned(),
            group_id: None,
            deduplication_id: None,
        };
        let sqs = envelope(
            &stored,
            "m1",
            None,
            "arn:aws:sns:us-east-1:123456789012:t:s",
            "sqs",
            &signer,
            &urls,
        );
        let keys: Vec<String> = sqs
            .split("\",\"")
            .filter_map(|part| {
                part.split("\":")
                    .next()
                    .map(|key| key.trim_start_matches("{\"").to_owned())
            })
            .collect();
        assert_eq!(keys[..3], ["Type", "MessageId", "TopicArn"]);
        let parsed: Value = serde_json::from_str(&sqs).expect("JSON");
        assert_eq!(parsed["Message"], "d");
        assert_eq!(parsed["MessageAttributes"]["kind"]["Value"], "order");
        assert!(parsed.get("Subject").is_none());
        let event: Value = serde_json::from_str(&lambda_event(
            &stored,
            "m1",
            "arn:aws:sns:us-east-1:123456789012:t:s",
            &signer,
            &urls,
        ))
        .expect("JSON");
        let sns = &event["Records"][0]["Sns"];
        assert_eq!(sns["Message"], "for lambda");
        assert_eq!(sns["Subject"], Value::Null);
        assert_eq!(event["Records"][0]["EventSource"], "aws:sns");
        assert!(sns["SigningCertUrl"]
            .as_str()
            .expect("a URL")
            .ends_with(".pem"));
    }
}
