//! SNS on the AWS endpoint: the query protocol (form-encoded `Action=...` requests, XML
//! answers in SNS's namespace, `ErrorResponse` errors), each call authorized for its
//! signer, and the links SNS hands to subscribers (the signing certificate, the
//! `SubscribeURL` and `UnsubscribeURL`), served to anyone as on AWS.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, Response, StatusCode};
use serverful_aws::{Action, AwsError, Principal, Resource, RestRequest, RestService, Route};

use crate::error::{ErrorCode, SnsError};
use crate::message::{AttributeValue, MessageAttribute, MessageAttributes};
use crate::topics::{PublishInput, Topics};

/// SNS's XML namespace.
const NAMESPACE: &str = "http://sns.amazonaws.com/doc/2010-03-31/";
/// The most entries of one `PublishBatch`.
const MAX_BATCH_ENTRIES: usize = 10;

/// The SNS API over a [`Topics`] engine.
#[derive(Debug, Clone)]
pub struct SnsService {
    pub topics: Arc<Topics>,
}

/// A failed call: an SNS error, or another code of AWS's front end (`ValidationError`,
/// `InvalidAction`, signature errors).
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    code: String,
    fault: &'static str,
    message: String,
}

impl From<SnsError> for Failure {
    fn from(error: SnsError) -> Failure {
        Failure {
            status: StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::BAD_REQUEST),
            code: error.code.as_str().to_owned(),
            fault: error.code.fault(),
            message: error.message,
        }
    }
}

impl Failure {
    fn validation(message: String) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            code: "ValidationError".to_owned(),
            fault: "Sender",
            message,
        }
    }

    fn denied(error: serverful_aws::AccessDenied) -> Failure {
        SnsError::new(ErrorCode::AuthorizationError, error.message).into()
    }
}

/// Escapes text for XML content.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\r' => escaped.push_str("&#xD;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn xml_response(status: StatusCode, body: String) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml"),
    );
    response
}

fn error_xml(failure: &Failure, request_id: &str) -> Response<Bytes> {
    xml_response(
        failure.status,
        format!(
            "<ErrorResponse xmlns=\"{NAMESPACE}\">\n  <Error>\n    <Type>{}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
            failure.fault,
            escape(&failure.code),
            escape(&failure.message),
            escape(request_id)
        ),
    )
}

/// `<{Action}Response>` with an optional `<{Action}Result>` body.
fn success_xml(action: &str, result: Option<&str>, request_id: &str) -> Response<Bytes> {
    let mut body = format!("<{action}Response xmlns=\"{NAMESPACE}\">\n");
    if let Some(result) = result {
        let _ = write!(body, "  <{action}Result>\n{result}  </{action}Result>\n");
    }
    let _ = write!(
        body,
        "  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n",
        escape(request_id)
    );
    xml_response(StatusCode::OK, body)
}

fn element(name: &str, value: &str) -> String {
    format!("    <{name}>{}</{name}>\n", escape(value))
}

fn attributes_xml(attributes: &BTreeMap<String, String>) -> String {
    let mut xml = String::from("    <Attributes>\n");
    for (key, value) in attributes {
        let _ = write!(
            xml,
            "      <entry>\n        <key>{}</key>\n        <value>{}</value>\n      </entry>\n",
            escape(key),
            escape(value)
        );
    }
    xml.push_str("    </Attributes>\n");
    xml
}

/// The request's parameters: the query string's, then the form body's.
struct Parameters(HashMap<String, String>);

impl Parameters {
    fn parse(query: &str, body: &[u8]) -> Parameters {
        let mut map = HashMap::new();
        for (key, value) in
            form_urlencoded::parse(query.as_bytes()).chain(form_urlencoded::parse(body))
        {
            map.insert(key.into_owned(), value.into_owned());
        }
        Parameters(map)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, Failure> {
        self.get(name).ok_or_else(|| {
            let member = {
                let mut chars = name.chars();
                chars
                    .next()
                    .map(|first| first.to_lowercase().collect::<String>() + chars.as_str())
                    .unwrap_or_default()
            };
            Failure::validation(format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ))
        })
    }

    /// The indices `N` of `{prefix}.N.` parameters, in order.
    fn indices(&self, prefix: &str) -> Vec<u32> {
        let lead = format!("{prefix}.");
        let mut indices: Vec<u32> = self
            .0
            .keys()
            .filter_map(|key| key.strip_prefix(&lead)?.split('.').next()?.parse().ok())
            .collect();
        indices.sort_unstable();
        indices.dedup();
        indices
    }

    /// A map given as `{prefix}.entry.N.key` / `.value` (`Attributes`).
    fn map(&self, prefix: &str) -> BTreeMap<String, String> {
        let entries = format!("{prefix}.entry");
        self.indices(&entries)
            .into_iter()
            .filter_map(|index| {
                let key = self.get(&format!("{entries}.{index}.key"))?;
                let value = self.get(&format!("{entries}.{index}.value")).unwrap_or("");
                Some((key.to_owned(), value.to_owned()))
            })
            .collect()
    }

    /// Tags given as `{prefix}.member.N.Key` / `.Value`.
    fn tags(&self, prefix: &str) -> BTreeMap<String, String> {
        let members = format!("{prefix}.member");
        self.indices(&members)
            .into_iter()
            .filter_map(|index| {
                let key = self.get(&format!("{members}.{index}.Key"))?;
                let value = self.get(&format!("{members}.{index}.Value")).unwrap_or("");
                Some((key.to_owned(), value.to_owned()))
            })
            .collect()
    }

    /// A list given as `{prefix}.member.N`.
    fn list(&self, prefix: &str) -> Vec<String> {
        let members = format!("{prefix}.member");
        self.indices(&members)
            .into_iter()
            .filter_map(|index| self.get(&format!("{members}.{index}")).map(str::to_owned))
            .collect()
    }

    /// Message attributes given as `{prefix}.entry.N.Name` and `.Value.DataType`,
    /// `.Value.StringValue`, `.Value.BinaryValue` (base64).
    fn message_attributes(&self, prefix: &str) -> Result<MessageAttributes, Failure> {
        let entries = format!("{prefix}.entry");
        let mut attributes = MessageAttributes::new();
        for index in self.indices(&entries) {
            let base = format!("{entries}.{index}");
            let Some(name) = self.get(&format!("{base}.Name")) else {
                continue;
            };
            let data_type = self
                .get(&format!("{base}.Value.DataType"))
                .unwrap_or("")
                .to_owned();
            let value = match (
                self.get(&format!("{base}.Value.StringValue")),
                self.get(&format!("{base}.Value.BinaryValue")),
            ) {
                (_, Some(binary)) if data_type.starts_with("Binary") => {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(binary)
                        .map_err(|_| {
                            Failure::from(SnsError::invalid_parameter(format!(
                                "Invalid parameter: The message attribute '{name}' has an invalid BinaryValue: it is not base64"
                            )))
                        })?;
                    AttributeValue::Binary(bytes)
                }
                (Some(text), _) => AttributeValue::String(text.to_owned()),
                (None, Some(_)) | (None, None) => AttributeValue::String(String::new()),
            };
            attributes.insert(name.to_owned(), MessageAttribute { data_type, value });
        }
        Ok(attributes)
    }
}

impl RestService for SnsService {
    fn signing_name(&self) -> &'static str {
        "sns"
    }

    fn handles(&self, route: &Route<'_>) -> bool {
        route.credential_service == Some("sns")
            || (route.credential_service.is_none() && self.serves_anonymously(route))
    }

    fn serves_anonymously(&self, route: &Route<'_>) -> bool {
        *route.method == Method::GET
            && (route.path == "/" || route.path.starts_with("/SimpleNotificationService-"))
    }

    fn call(&self, request: RestRequest) -> BoxFuture<'static, Result<Response<Bytes>, AwsError>> {
        let topics = self.topics.clone();
        Box::pin(async move {
            let request_id = request.request_id.clone();
            Ok(match dispatch(&topics, &request).await {
                Ok(response) => response,
                Err(failure) => error_xml(&failure, &request_id),
            })
        })
    }

    fn error_response(&self, error: &AwsError) -> Response<Bytes> {
        let failure = Failure {
            status: error.status,
            code: error.type_name.to_string(),
            fault: if error.status.is_server_error() {
                "Receiver"
            } else {
                "Sender"
            },
            message: error.message.clone().unwrap_or_default(),
        };
        error_xml(&failure, &uuid::Uuid::new_v4().to_string())
    }
}

fn authorize(
    principal: &Principal,
    action: &str,
    topic: &str,
    topics: &Topics,
) -> Result<(), Failure> {
    principal
        .authorize(
            Action::sns(action),
            Resource::Topic { name: topic },
            &topics.config().region,
        )
        .map_err(Failure::denied)
}

/// The topic named by a topic ARN parameter, for authorization; an ARN that names none
/// is left for the engine to refuse.
fn topic_of<'a>(topics: &Topics, arn: &'a str) -> Result<&'a str, Failure> {
    topics
        .topic_name(arn)
        .ok_or_else(|| SnsError::invalid_parameter("Invalid parameter: TopicArn").into())
}

fn subscription_topic<'a>(topics: &Topics, arn: &'a str) -> Result<&'a str, Failure> {
    topics.subscription_topic(arn).ok_or_else(|| {
        SnsError::invalid_parameter(
            "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not 5",
        )
        .into()
    })
}

async fn dispatch(topics: &Topics, request: &RestRequest) -> Result<Response<Bytes>, Failure> {
    let anonymous = request.access_key_id.is_empty();
    if anonymous && request.path.starts_with("/SimpleNotificationService-") {
        let file = request.path.trim_start_matches('/');
        return match topics.certificate(file) {
            Some(pem) => {
                let mut response = Response::new(Bytes::from(pem.to_owned()));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-x509-ca-cert"),
                );
                Ok(response)
            }
            None => Err(SnsError::not_found("No such signing certificate").into()),
        };
    }
    let parameters = Parameters::parse(&request.query, &request.body);
    let action = parameters.get("Action").unwrap_or("").to_owned();
    let principal = &request.principal;
    let id = &request.request_id;
    if anonymous && action != "ConfirmSubscription" && action != "Unsubscribe" {
        return Err(Failure {
            status: StatusCode::FORBIDDEN,
            code: "MissingAuthenticationToken".to_owned(),
            fault: "Sender",
            message: "Request is missing Authentication Token".to_owned(),
        });
    }
    match action.as_str() {
        "CreateTopic" => {
            let name = parameters.required("Name")?;
            authorize(principal, "CreateTopic", name, topics)?;
            let arn = topics
                .create_topic(name, parameters.map("Attributes"), parameters.tags("Tags"))
                .await?;
            Ok(success_xml(
                "CreateTopic",
                Some(&element("TopicArn", &arn)),
                id,
            ))
        }
        "DeleteTopic" => {
            let arn = parameters.required("TopicArn")?;
            authorize(principal, "DeleteTopic", topic_of(topics, arn)?, topics)?;
            topics.delete_topic(arn).await?;
            Ok(success_xml("DeleteTopic", None, id))
        }
        "ListTopics" => {
            principal
                .authorize(
                    Action::sns("ListTopics"),
                    Resource::Listing,
                    &topics.config().region,
                )
                .map_err(Failure::denied)?;
            let (arns, next) = topics.list_topics(parameters.get("NextToken")).await?;
            let mut result = String::from("    <Topics>\n");
            for arn in arns {
                let visible = topics.topic_name(&arn).is_some_and(|name| {
                    principal.allows(Action::sns("GetTopicAttributes"), Resource::Topic { name })
                });
                if visible {
                    let _ = write!(
                        result,
                        "      <member>\n        <TopicArn>{}</TopicArn>\n      </member>\n",
                        escape(&arn)
                    );
                }
            }
            result.push_str("    </Topics>\n");
            if let Some(next) = next {
                result.push_str(&element("NextToken", &next));
            }
            Ok(success_xml("ListTopics", Some(&result), id))
        }
        "GetTopicAttributes" => {
            let arn = parameters.required("TopicArn")?;
            authorize(
                principal,
                "GetTopicAttributes",
                topic_of(topics, arn)?,
                topics,
            )?;
            let attributes = topics.topic_attributes(arn).await?;
            Ok(success_xml(
                "GetTopicAttributes",
                Some(&attributes_xml(&attributes)),
                id,
            ))
        }
        "SetTopicAttributes" => {
            let arn = parameters.required("TopicArn")?;
            let name = parameters.required("AttributeName")?;
            authorize(
                principal,
                "SetTopicAttributes",
                topic_of(topics, arn)?,
                topics,
            )?;
            topics
                .set_topic_attribute(arn, name, parameters.get("AttributeValue").unwrap_or(""))
                .await?;
            Ok(success_xml("SetTopicAttributes", None, id))
        }
        "Subscribe" => {
            let arn = parameters.required("TopicArn")?;
            let protocol = parameters.required("Protocol")?;
            authorize(principal, "Subscribe", topic_of(topics, arn)?, topics)?;
            let return_arn = parameters
                .get("ReturnSubscriptionArn")
                .is_some_and(|value| value.eq_ignore_ascii_case("true"));
            let subscription = topics
                .subscribe(
                    arn,
                    protocol,
                    parameters.get("Endpoint").unwrap_or(""),
                    parameters.map("Attributes"),
                    return_arn,
                )
                .await?;
            Ok(success_xml(
                "Subscribe",
                Some(&element("SubscriptionArn", &subscription)),
                id,
            ))
        }
        "ConfirmSubscription" => {
            let arn = parameters.required("TopicArn")?;
            let token = parameters.required("Token")?;
            if !anonymous {
                authorize(
                    principal,
                    "ConfirmSubscription",
                    topic_of(topics, arn)?,
                    topics,
                )?;
            }
            let subscription = topics.confirm_subscription(arn, token).await?;
            Ok(success_xml(
                "ConfirmSubscription",
                Some(&element("SubscriptionArn", &subscription)),
                id,
            ))
        }
        "Unsubscribe" => {
            let arn = parameters.required("SubscriptionArn")?;
            if !anonymous {
                authorize(
                    principal,
                    "Unsubscribe",
                    subscription_topic(topics, arn)?,
                    topics,
                )?;
            }
            topics.unsubscribe(arn).await?;
            Ok(success_xml("Unsubscribe", None, id))
        }
        "ListSubscriptions" | "ListSubscriptionsByTopic" => {
            let topic_arn = if action == "ListSubscriptionsByTopic" {
                let arn = parameters.required("TopicArn")?;
                authorize(
                    principal,
                    "ListSubscriptionsByTopic",
                    topic_of(topics, arn)?,
                    topics,
                )?;
                Some(arn)
            } else {
                principal
                    .authorize(
                        Action::sns("ListSubscriptions"),
                        Resource::Listing,
                        &topics.config().region,
                    )
                    .map_err(Failure::denied)?;
                None
            };
            let (subscriptions, next) = topics
                .list_subscriptions(topic_arn, parameters.get("NextToken"))
                .await?;
            let mut result = String::from("    <Subscriptions>\n");
            for subscription in subscriptions {
                let visible = topics
                    .topic_name(&subscription.topic_arn)
                    .is_some_and(|name| {
                        principal.allows(
                            Action::sns("ListSubscriptionsByTopic"),
                            Resource::Topic { name },
                        )
                    });
                if !visible {
                    continue;
                }
                let _ = write!(
                    result,
                    "      <member>\n        <TopicArn>{}</TopicArn>\n        <Protocol>{}</Protocol>\n        <SubscriptionArn>{}</SubscriptionArn>\n        <Owner>{}</Owner>\n        <Endpoint>{}</Endpoint>\n      </member>\n",
                    escape(&subscription.topic_arn),
                    escape(&subscription.protocol),
                    escape(&subscription.arn),
                    escape(&subscription.owner),
                    escape(&subscription.endpoint),
                );
            }
            result.push_str("    </Subscriptions>\n");
            if let Some(next) = next {
                result.push_str(&element("NextToken", &next));
            }
            Ok(success_xml(&action, Some(&result), id))
        }
        "GetSubscriptionAttributes" => {
            let arn = parameters.required("SubscriptionArn")?;
            authorize(
                principal,
                "GetSubscriptionAttributes",
                subscription_topic(topics, arn)?,
                topics,
            )?;
            let attributes = topics.subscription_attributes(arn).await?;
            Ok(success_xml(
                "GetSubscriptionAttributes",
                Some(&attributes_xml(&attributes)),
                id,
            ))
        }
        "SetSubscriptionAttributes" => {
            let arn = parameters.required("SubscriptionArn")?;
            let name = parameters.required("AttributeName")?;
            authorize(
                principal,
                "SetSubscriptionAttributes",
                subscription_topic(topics, arn)?,
                topics,
            )?;
            topics
                .set_subscription_attribute(
                    arn,
                    name,
                    parameters.get("AttributeValue").unwrap_or(""),
                )
                .await?;
            Ok(success_xml("SetSubscriptionAttributes", None, id))
        }
        "Publish" => {
            if parameters.get("PhoneNumber").is_some() {
                return Err(SnsError::invalid_parameter(
                    "Invalid parameter: PhoneNumber Reason: Serverful does not send SMS; publish to a topic",
                )
                .into());
            }
            let arn = parameters
                .get("TopicArn")
                .or_else(|| parameters.get("TargetArn"))
                .unwrap_or("");
            if !arn.is_empty() {
                authorize(principal, "Publish", topic_of(topics, arn)?, topics)?;
            }
            let input = PublishInput {
                topic_arn: arn.to_owned(),
                message: parameters.get("Message").unwrap_or("").to_owned(),
                subject: parameters.get("Subject").map(str::to_owned),
                message_structure: parameters.get("MessageStructure").map(str::to_owned),
                attributes: parameters.message_attributes("MessageAttributes")?,
                group_id: parameters.get("MessageGroupId").map(str::to_owned),
                deduplication_id: parameters.get("MessageDeduplicationId").map(str::to_owned),
            };
            let output = topics.publish(input).await?;
            let mut result = element("MessageId", &output.message_id);
            if let Some(sequence_number) = &output.sequence_number {
                result.push_str(&element("SequenceNumber", sequence_number));
            }
            Ok(success_xml("Publish", Some(&result), id))
        }
        "PublishBatch" => publish_batch(topics, &parameters, principal, id).await,
        "TagResource" => {
            let arn = parameters.required("ResourceArn")?;
            authorize(principal, "TagResource", topic_of(topics, arn)?, topics)?;
            topics.tag(arn, parameters.tags("Tags")).await?;
            Ok(success_xml("TagResource", Some(""), id))
        }
        "UntagResource" => {
            let arn = parameters.required("ResourceArn")?;
            authorize(principal, "UntagResource", topic_of(topics, arn)?, topics)?;
            topics.untag(arn, &parameters.list("TagKeys")).await?;
            Ok(success_xml("UntagResource", Some(""), id))
        }
        "ListTagsForResource" => {
            let arn = parameters.required("ResourceArn")?;
            authorize(
                principal,
                "ListTagsForResource",
                topic_of(topics, arn)?,
                topics,
            )?;
            let tags = topics.tags(arn).await?;
            let mut result = String::from("    <Tags>\n");
            for (key, value) in tags {
                let _ = write!(
                    result,
                    "      <member>\n        <Key>{}</Key>\n        <Value>{}</Value>\n      </member>\n",
                    escape(&key),
                    escape(&value)
                );
            }
            result.push_str("    </Tags>\n");
            Ok(success_xml("ListTagsForResource", Some(&result), id))
        }
        "" => Err(Failure {
            status: StatusCode::BAD_REQUEST,
            code: "MissingAction".to_owned(),
            fault: "Sender",
            message: "Could not find operation for this request: no Action parameter".to_owned(),
        }),
        other => Err(Failure {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidAction".to_owned(),
            fault: "Sender",
            message: format!("The action {other} is not valid for this web service."),
        }),
    }
}

async fn publish_batch(
    topics: &Topics,
    parameters: &Parameters,
    principal: &Principal,
    request_id: &str,
) -> Result<Response<Bytes>, Failure> {
    let arn = parameters.required("TopicArn")?;
    authorize(principal, "Publish", topic_of(topics, arn)?, topics)?;
    let prefix = "PublishBatchRequestEntries.member";
    let indices = parameters.indices(prefix);
    if indices.is_empty() {
        return Err(SnsError::new(
            ErrorCode::EmptyBatchRequest,
            "The batch request doesn't contain any entries.",
        )
        .into());
    }
    if indices.len() > MAX_BATCH_ENTRIES {
        return Err(SnsError::new(
            ErrorCode::TooManyEntriesInBatchRequest,
            "The batch request contains more entries than permissible.",
        )
        .into());
    }
    let mut entries = Vec::new();
    for index in &indices {
        let base = format!("{prefix}.{index}");
        let entry_id = parameters
            .get(&format!("{base}.Id"))
            .unwrap_or("")
            .to_owned();
        let valid_id = !entry_id.is_empty()
            && entry_id.len() <= 80
            && entry_id.chars().all(|character| {
                character.is_ascii_alphanumeric() || character == '-' || character == '_'
            });
        if !valid_id {
            return Err(SnsError::new(
                ErrorCode::InvalidBatchEntryId,
                "The Id of a batch entry in a batch request doesn't abide by the specification.",
            )
            .into());
        }
        entries.push((entry_id, base));
    }
    let mut seen = std::collections::HashSet::new();
    if !entries
        .iter()
        .all(|(entry_id, _)| seen.insert(entry_id.clone()))
    {
        return Err(SnsError::new(
            ErrorCode::BatchEntryIdsNotDistinct,
            "Two or more batch entries in the request have the same Id.",
        )
        .into());
    }
    let total: usize = entries
        .iter()
        .map(|(_, base)| {
            let message = parameters
                .get(&format!("{base}.Message"))
                .map_or(0, str::len);
            let attributes = parameters
                .0
                .iter()
                .filter(|(key, _)| key.starts_with(&format!("{base}.MessageAttributes.")))
                .map(|(_, value)| value.len())
                .sum::<usize>();
            message + attributes
        })
        .sum();
    if total > crate::message::MAX_MESSAGE_BYTES {
        return Err(SnsError::new(
            ErrorCode::BatchRequestTooLong,
            "The length of all the messages put together is more than the limit.",
        )
        .into());
    }
    let mut successful = String::new();
    let mut failed = String::new();
    for (entry_id, base) in entries {
        let attributes = match parameters.message_attributes(&format!("{base}.MessageAttributes")) {
            Ok(attributes) => attributes,
            Err(failure) => {
                push_failure(&mut failed, &entry_id, &failure.code, &failure.message);
                continue;
            }
        };
        let input = PublishInput {
            topic_arn: arn.to_owned(),
            message: parameters
                .get(&format!("{base}.Message"))
                .unwrap_or("")
                .to_owned(),
            subject: parameters
                .get(&format!("{base}.Subject"))
                .map(str::to_owned),
            message_structure: parameters
                .get(&format!("{base}.MessageStructure"))
                .map(str::to_owned),
            attributes,
            group_id: parameters
                .get(&format!("{base}.MessageGroupId"))
                .map(str::to_owned),
            deduplication_id: parameters
                .get(&format!("{base}.MessageDeduplicationId"))
                .map(str::to_owned),
        };
        match topics.publish(input).await {
            Ok(output) => {
                let _ = write!(
                    successful,
                    "      <member>\n        <Id>{}</Id>\n        <MessageId>{}</MessageId>\n",
                    escape(&entry_id),
                    escape(&output.message_id)
                );
                if let Some(sequence_number) = output.sequence_number {
                    let _ = writeln!(
                        successful,
                        "        <SequenceNumber>{}</SequenceNumber>",
                        escape(&sequence_number)
                    );
                }
                successful.push_str("      </member>\n");
            }
            // A missing topic fails the whole batch, as on AWS.
            Err(error) if error.code == ErrorCode::NotFound => return Err(error.into()),
            Err(error) => push_failure(&mut failed, &entry_id, error.code.as_str(), &error.message),
        }
    }
    let result = format!(
        "    <Successful>\n{successful}    </Successful>\n    <Failed>\n{failed}    </Failed>\n"
    );
    Ok(success_xml("PublishBatch", Some(&result), request_id))
}

fn push_failure(failed: &mut String, entry_id: &str, code: &str, message: &str) {
    let _ = write!(
        failed,
        "      <member>\n        <Id>{}</Id>\n        <Code>{}</Code>\n        <Message>{}</Message>\n        <SenderFault>true</SenderFault>\n      </member>\n",
        escape(entry_id),
        escape(code),
        escape(message)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_read_query_protocol_shapes() {
        let body = "Action=Publish&MessageAttributes.entry.1.Name=color&MessageAttributes.entry.1.Value.DataType=String&MessageAttributes.entry.1.Value.StringValue=red&MessageAttributes.entry.2.Name=blob&MessageAttributes.entry.2.Value.DataType=Binary&MessageAttributes.entry.2.Value.BinaryValue=aGk%3D&Attributes.entry.1.key=DisplayName&Attributes.entry.1.value=x&Tags.member.1.Key=team&Tags.member.1.Value=a&TagKeys.member.1=team";
        let parameters = Parameters::parse("", body.as_bytes());
        let attributes = parameters
            .message_attributes("MessageAttributes")
            .expect("valid attributes");
        assert_eq!(
            attributes["color"].value,
            AttributeValue::String("red".to_owned())
        );
        assert_eq!(
            attributes["blob"].value,
            AttributeValue::Binary(b"hi".to_vec())
        );
        assert_eq!(parameters.map("Attributes")["DisplayName"], "x");
        assert_eq!(parameters.tags("Tags")["team"], "a");
        assert_eq!(parameters.list("TagKeys"), ["team"]);
    }

    #[test]
    fn errors_are_xml_in_sns_namespace() {
        let response = error_xml(
            &SnsError::not_found("Topic does not exist").into(),
            "request-1",
        );
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = String::from_utf8(response.body().to_vec()).expect("UTF-8");
        assert!(body.contains("<Code>NotFound</Code>"));
        assert!(body.contains("<Type>Sender</Type>"));
        assert!(body.contains(NAMESPACE));
        assert_eq!(escape("<a&'\">"), "&lt;a&amp;&apos;&quot;&gt;");
    }
}
