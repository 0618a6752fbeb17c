//! The queue benchmark's SQS client: one keep-alive HTTP/1.1 connection to a loopback
//! endpoint, SigV4-signed requests in SQS's JSON protocol (`X-Amz-Target: AmazonSQS.*`,
//! what current SDKs send) or, for a server without it, the query protocol (form fields,
//! XML answers). Every answer is checked as an SDK would check it: the status, the MD5
//! digests of sent and received bodies, and every entry of a batch.
//!
//! Only what the benchmark sends is covered: CreateQueue, SendMessage(Batch),
//! ReceiveMessage, DeleteMessageBatch and GetQueueAttributes's two approximate counts.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use md5::{Digest as _, Md5};
use serde_json::{json, Value};

use crate::sigv4::{Signer, CONTENT_TYPE};

/// The query protocol's content type.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// The query protocol's API version.
const QUERY_VERSION: &str = "2012-11-05";
/// The region requests are signed for.
pub const REGION: &str = "us-east-1";
/// How long a client waits before it dials again after a failed connect.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);

/// The key pair requests are signed with.
#[derive(Clone)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Keys {
    /// The keys for emulators that accept any signature.
    pub fn any() -> Keys {
        Keys {
            access_key_id: "bench".to_owned(),
            secret_access_key: "bench".to_owned(),
        }
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Which of SQS's wire protocols a server is spoken to in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `X-Amz-Target: AmazonSQS.<Operation>`, JSON bodies.
    Json,
    /// `Action=<Operation>` form fields, XML answers.
    Query,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Json => "JSON",
            Protocol::Query => "query",
        }
    }
}

/// A failed call: how to count it, what to say, whether the connection is still usable.
#[derive(Debug)]
pub struct Failure {
    pub kind: String,
    pub message: String,
    pub drop_connection: bool,
}

impl Failure {
    pub(crate) fn transport(error: hyper::Error) -> Failure {
        Failure {
            kind: "transport".to_owned(),
            message: format!("transport: {error}"),
            drop_connection: true,
        }
    }

    /// An answer that is not what SQS answers.
    pub fn wrong(message: String) -> Failure {
        Failure {
            kind: "wrong answer".to_owned(),
            message,
            drop_connection: false,
        }
    }

    pub(crate) fn status(operation: &str, status: u16, body: &[u8]) -> Failure {
        Failure {
            kind: format!("status {status}"),
            message: format!(
                "{operation}: status {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ),
            drop_connection: false,
        }
    }
}

/// A received message: what its deletion needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
}

/// One keep-alive connection to an SQS endpoint, reopened after transport errors and
/// after answers that close it (moto answers in HTTP/1.0).
pub struct SqsClient {
    address: SocketAddr,
    host: String,
    signer: Signer,
    protocol: Protocol,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl std::fmt::Debug for SqsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsClient")
            .field("address", &self.address)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl SqsClient {
    /// A client of the loopback address `address` (any other is refused) that sends
    /// `host` as the `Host` header.
    pub fn new(
        address: SocketAddr,
        host: &str,
        keys: &Keys,
        protocol: Protocol,
    ) -> Result<SqsClient, String> {
        if !address.ip().is_loopback() {
            return Err(format!(
                "{address} is not a loopback address: the benchmark only loads this machine"
            ));
        }
        Ok(SqsClient {
            address,
            host: host.to_owned(),
            signer: Signer::new(&keys.access_key_id, &keys.secret_access_key, REGION, "sqs"),
            protocol,
            sender: None,
        })
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Forgets the connection, after a timeout left it in an unknown state.
    pub fn reset(&mut self) {
        self.sender = None;
    }

    /// Finds the protocol the server speaks by creating `queue` in the JSON protocol and,
    /// if that is not answered as SQS answers, in the query protocol (only the one in
    /// `only`, when given). Returns the client set to that protocol and the queue's URL.
    pub async fn detect(
        address: SocketAddr,
        host: &str,
        keys: &Keys,
        queue: &str,
        only: Option<Protocol>,
    ) -> Result<(SqsClient, String), String> {
        if let Some(protocol) = only {
            let mut client = SqsClient::new(address, host, keys, protocol)?;
            return match client.create_queue(queue).await {
                Ok(url) => Ok((client, url)),
                Err(failure) => Err(format!(
                    "CreateQueue in the {} protocol: {}",
                    protocol.name(),
                    failure.message
                )),
            };
        }
        let mut json = SqsClient::new(address, host, keys, Protocol::Json)?;
        let json_failure = match json.create_queue(queue).await {
            Ok(url) => return Ok((json, url)),
            Err(failure) => failure.message,
        };
        let mut query = SqsClient::new(address, host, keys, Protocol::Query)?;
        match query.create_queue(queue).await {
            Ok(url) => Ok((query, url)),
            Err(failure) => Err(format!(
                "CreateQueue failed in both protocols: JSON: {json_failure}; query: {}",
                failure.message
            )),
        }
    }

    /// Sends one signed request of `operation` and returns the status and the whole body.
    /// `json` is the JSON protocol's input; the query protocol's form fields are `form`.
    async fn call(
        &mut self,
        operation: &str,
        json: &Value,
        form: &[(String, String)],
    ) -> Result<(u16, Bytes), Failure> {
        let sender = open_sender(&mut self.sender, self.address).await?;
        let now = time::OffsetDateTime::now_utc();
        let request = match self.protocol {
            Protocol::Json => {
                let target = format!("AmazonSQS.{operation}");
                let body = json.to_string();
                let signature = self.signer.sign(&self.host, &target, body.as_bytes(), now);
                Request::post("/")
                    .header(hyper::header::HOST, self.host.as_str())
                    .header(hyper::header::CONTENT_TYPE, CONTENT_TYPE)
                    .header("x-amz-date", signature.amz_date)
                    .header("x-amz-target", target)
                    .header(hyper::header::AUTHORIZATION, signature.authorization)
                    .body(Full::new(Bytes::from(body)))
            }
            Protocol::Query => {
                let mut serializer = form_urlencoded::Serializer::new(String::new());
                serializer.append_pair("Action", operation);
                serializer.append_pair("Version", QUERY_VERSION);
                for (name, value) in form {
                    serializer.append_pair(name, value);
                }
                let body = serializer.finish();
                let signature = self.signer.sign_rest(
                    "POST",
                    &self.host,
                    "/",
                    &[("content-type", FORM_CONTENT_TYPE)],
                    body.as_bytes(),
                    now,
                );
                Request::post("/")
                    .header(hyper::header::HOST, self.host.as_str())
                    .header(hyper::header::CONTENT_TYPE, FORM_CONTENT_TYPE)
                    .header("x-amz-date", signature.amz_date)
                    .header(hyper::header::AUTHORIZATION, signature.authorization)
                    .body(Full::new(Bytes::from(body)))
            }
        }
        .map_err(|error| Failure::wrong(format!("build the request: {error}")))?;
        let exchanged = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            let closes = response.version() < hyper::Version::HTTP_11
                || response
                    .headers()
                    .get(hyper::header::CONNECTION)
                    .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body, closes))
        }
        .await;
        match exchanged {
            Ok((status, body, closes)) => {
                // A server that closes its connections is dialled again for the next
                // request: its cost, not an error.
                if closes {
                    self.sender = None;
                }
                if status != 200 {
                    return Err(Failure::status(operation, status, &body));
                }
                Ok((status, body))
            }
            Err(error) => {
                self.sender = None;
                Err(Failure::transport(error))
            }
        }
    }

    /// Creates `name` (or finds it, if it exists with the same attributes) and returns its
    /// URL.
    pub async fn create_queue(&mut self, name: &str) -> Result<String, Failure> {
        let (_, body) = self
            .call(
                "CreateQueue",
                &json!({ "QueueName": name }),
                &[("QueueName".to_owned(), name.to_owned())],
            )
            .await?;
        self.text_field(&body, "QueueUrl")
            .ok_or_else(|| Failure::wrong(format!("CreateQueue: no QueueUrl in {}", lossy(&body))))
    }

    /// The URL of the existing queue `name`.
    pub async fn queue_url(&mut self, name: &str) -> Result<String, Failure> {
        let (_, body) = self
            .call(
                "GetQueueUrl",
                &json!({ "QueueName": name }),
                &[("QueueName".to_owned(), name.to_owned())],
            )
            .await?;
        self.text_field(&body, "QueueUrl")
            .ok_or_else(|| Failure::wrong(format!("GetQueueUrl: no QueueUrl in {}", lossy(&body))))
    }

    /// Sends one message; the answer must carry a message id and the body's MD5.
    pub async fn send(&mut self, queue_url: &str, body: &str) -> Result<(), Failure> {
        let (_, answer) = self
            .call(
                "SendMessage",
                &json!({ "QueueUrl": queue_url, "MessageBody": body }),
                &[
                    ("QueueUrl".to_owned(), queue_url.to_owned()),
                    ("MessageBody".to_owned(), body.to_owned()),
                ],
            )
            .await?;
        let digest = self.text_field(&answer, "MD5OfMessageBody");
        if self.text_field(&answer, "MessageId").is_none() {
            return Err(Failure::wrong(format!(
                "SendMessage: no MessageId in {}",
                lossy(&answer)
            )));
        }
        if digest.as_deref() != Some(md5_hex(body).as_str()) {
            return Err(Failure::wrong(format!(
                "SendMessage: MD5OfMessageBody {digest:?} is not the body's {}",
                md5_hex(body)
            )));
        }
        Ok(())
    }

    /// Sends up to 10 messages in one call; every one must be acknowledged with its MD5.
    pub async fn send_batch(&mut self, queue_url: &str, bodies: &[String]) -> Result<(), Failure> {
        let entries: Vec<Value> = bodies
            .iter()
            .enumerate()
            .map(|(idx, body)| json!({ "Id": idx.to_string(), "MessageBody": body }))
            .collect();
        let mut form = vec![("QueueUrl".to_owned(), queue_url.to_owned())];
        for (idx, body) in bodies.iter().enumerate() {
            let prefix = format!("SendMessageBatchRequestEntry.{}", idx + 1);
            form.push((format!("{prefix}.Id"), idx.to_string()));
            form.push((format!("{prefix}.MessageBody"), body.clone()));
        }
        let (_, answer) = self
            .call(
                "SendMessageBatch",
                &json!({ "QueueUrl": queue_url, "Entries": entries }),
                &form,
            )
            .await?;
        let acknowledged: Vec<(String, String)> = match self.protocol {
            Protocol::Json => {
                let answer: Value = parse_json("SendMessageBatch", &answer)?;
                if let Some(failed) = answer["Failed"].as_array().filter(|f| !f.is_empty()) {
                    return Err(Failure::wrong(format!(
                        "SendMessageBatch: failed entries {failed:?}"
                    )));
                }
                answer["Successful"]
                    .as_array()
                    .map(|entries| {
                        entries
                            .iter()
                            .map(|entry| {
                                (
                                    entry["Id"].as_str().unwrap_or_default().to_owned(),
                                    entry["MD5OfMessageBody"]
                                        .as_str()
                                        .unwrap_or_default()
                                        .to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }
            Protocol::Query => {
                let text = lossy(&answer);
                if text.contains("<BatchResultErrorEntry>") {
                    return Err(Failure::wrong(format!(
                        "SendMessageBatch: failed entries in {text}"
                    )));
                }
                xml_elements(&text, "SendMessageBatchResultEntry")
                    .iter()
                    .map(|entry| {
                        (
                            xml_value(entry, "Id").unwrap_or_default(),
                            xml_value(entry, "MD5OfMessageBody").unwrap_or_default(),
                        )
                    })
                    .collect()
            }
        };
        for (idx, body) in bodies.iter().enumerate() {
            let id = idx.to_string();
            let digest = acknowledged
                .iter()
                .find(|(entry_id, _)| *entry_id == id)
                .map(|(_, digest)| digest.as_str());
            if digest != Some(md5_hex(body).as_str()) {
                return Err(Failure::wrong(format!(
                    "SendMessageBatch: entry {id} not acknowledged with its body's MD5 (got {digest:?}) in {}",
                    lossy(&answer[..answer.len().min(400)])
                )));
            }
        }
        Ok(())
    }

    /// Receives up to `max` messages without waiting; each must carry its body's MD5.
    pub async fn receive(&mut self, queue_url: &str, max: u32) -> Result<Vec<Received>, Failure> {
        let (_, answer) = self
            .call(
                "ReceiveMessage",
                &json!({ "QueueUrl": queue_url, "MaxNumberOfMessages": max, "WaitTimeSeconds": 0 }),
                &[
                    ("QueueUrl".to_owned(), queue_url.to_owned()),
                    ("MaxNumberOfMessages".to_owned(), max.to_string()),
                    ("WaitTimeSeconds".to_owned(), "0".to_owned()),
                ],
            )
            .await?;
        let messages: Vec<(Received, String)> = match self.protocol {
            Protocol::Json => {
                let answer: Value = parse_json("ReceiveMessage", &answer)?;
                answer["Messages"]
                    .as_array()
                    .map(|messages| {
                        messages
                            .iter()
                            .map(|message| {
                                let text = |name: &str| {
                                    message[name].as_str().unwrap_or_default().to_owned()
                                };
                                (
                                    Received {
                                        message_id: text("MessageId"),
                                        receipt_handle: text("ReceiptHandle"),
                                        body: text("Body"),
                                    },
                                    text("MD5OfBody"),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }
            Protocol::Query => xml_elements(&lossy(&answer), "Message")
                .iter()
                .map(|message| {
                    let text = |name: &str| xml_value(message, name).unwrap_or_default();
                    (
                        Received {
                            message_id: text("MessageId"),
                            receipt_handle: text("ReceiptHandle"),
                            body: text("Body"),
                        },
                        text("MD5OfBody"),
                    )
                })
                .collect(),
        };
        if messages.len() > max as usize {
            return Err(Failure::wrong(format!(
                "ReceiveMessage: {} messages for MaxNumberOfMessages {max}",
                messages.len()
            )));
        }
        let mut received = Vec::with_capacity(messages.len());
        for (message, digest) in messages {
            if message.receipt_handle.is_empty() || message.message_id.is_empty() {
                return Err(Failure::wrong(
                    "ReceiveMessage: a message without MessageId or ReceiptHandle".to_owned(),
                ));
            }
            if digest != md5_hex(&message.body) {
                return Err(Failure::wrong(format!(
                    "ReceiveMessage: MD5OfBody {digest} is not the body's {}",
                    md5_hex(&message.body)
                )));
            }
            received.push(message);
        }
        Ok(received)
    }

    /// Deletes received messages in one call; every entry must be deleted.
    pub async fn delete_batch(
        &mut self,
        queue_url: &str,
        messages: &[Received],
    ) -> Result<(), Failure> {
        let entries: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(idx, message)| {
                json!({ "Id": idx.to_string(), "ReceiptHandle": message.receipt_handle })
            })
            .collect();
        let mut form = vec![("QueueUrl".to_owned(), queue_url.to_owned())];
        for (idx, message) in messages.iter().enumerate() {
            let prefix = format!("DeleteMessageBatchRequestEntry.{}", idx + 1);
            form.push((format!("{prefix}.Id"), idx.to_string()));
            form.push((
                format!("{prefix}.ReceiptHandle"),
                message.receipt_handle.clone(),
            ));
        }
        let (_, answer) = self
            .call(
                "DeleteMessageBatch",
                &json!({ "QueueUrl": queue_url, "Entries": entries }),
                &form,
            )
            .await?;
        let deleted: Vec<String> = match self.protocol {
            Protocol::Json => {
                let answer: Value = parse_json("DeleteMessageBatch", &answer)?;
                if let Some(failed) = answer["Failed"].as_array().filter(|f| !f.is_empty()) {
                    return Err(Failure::wrong(format!(
                        "DeleteMessageBatch: failed entries {failed:?}"
                    )));
                }
                answer["Successful"]
                    .as_array()
                    .map(|entries| {
                        entries
                            .iter()
                            .filter_map(|entry| entry["Id"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            }
            Protocol::Query => {
                let text = lossy(&answer);
                if text.contains("<BatchResultErrorEntry>") {
                    return Err(Failure::wrong(format!(
                        "DeleteMessageBatch: failed entries in {text}"
                    )));
                }
                xml_elements(&text, "DeleteMessageBatchResultEntry")
                    .iter()
                    .filter_map(|entry| xml_value(entry, "Id"))
                    .collect()
            }
        };
        for idx in 0..messages.len() {
            if !deleted.contains(&idx.to_string()) {
                return Err(Failure::wrong(format!(
                    "DeleteMessageBatch: entry {idx} not in the answer's successful entries"
                )));
            }
        }
        Ok(())
    }

    /// `ApproximateNumberOfMessages` and `ApproximateNumberOfMessagesNotVisible`.
    pub async fn counts(&mut self, queue_url: &str) -> Result<(u64, u64), Failure> {
        let names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ];
        let (_, answer) = self
            .call(
                "GetQueueAttributes",
                &json!({ "QueueUrl": queue_url, "AttributeNames": names }),
                &[
                    ("QueueUrl".to_owned(), queue_url.to_owned()),
                    ("AttributeName.1".to_owned(), names[0].to_owned()),
                    ("AttributeName.2".to_owned(), names[1].to_owned()),
                ],
            )
            .await?;
        let value_of = |name: &str| -> Option<u64> {
            match self.protocol {
                Protocol::Json => {
                    let answer: Value = serde_json::from_slice(&answer).ok()?;
                    answer["Attributes"][name].as_str()?.parse().ok()
                }
                Protocol::Query => xml_elements(&lossy(&answer), "Attribute")
                    .iter()
                    .find(|attribute| xml_value(attribute, "Name").as_deref() == Some(name))
                    .and_then(|attribute| xml_value(attribute, "Value")?.parse().ok()),
            }
        };
        // A server that does not report messages in flight (sqslite) counts them among
        // the others, or has none: the sum is what is compared.
        match (value_of(names[0]), value_of(names[1])) {
            (Some(visible), invisible) => Ok((visible, invisible.unwrap_or(0))),
            _ => Err(Failure::wrong(format!(
                "GetQueueAttributes: no approximate counts in {}",
                lossy(&answer)
            ))),
        }
    }

    /// A top-level text member of an answer, in either protocol.
    fn text_field(&self, answer: &[u8], name: &str) -> Option<String> {
        match self.protocol {
            Protocol::Json => {
                let answer: Value = serde_json::from_slice(answer).ok()?;
                answer[name].as_str().map(str::to_owned)
            }
            Protocol::Query => xml_value(&lossy(answer), name),
        }
    }
}

/// The connection's sender, dialled again if there is none or it was closed; a failed
/// dial is a `connect` failure, after a short pause.
pub(crate) async fn open_sender(
    slot: &mut Option<SendRequest<Full<Bytes>>>,
    address: SocketAddr,
) -> Result<&mut SendRequest<Full<Bytes>>, Failure> {
    if slot.as_ref().is_some_and(SendRequest::is_closed) {
        *slot = None;
    }
    match slot {
        Some(sender) => Ok(sender),
        None => match connect(address).await {
            Ok(sender) => Ok(slot.insert(sender)),
            Err(error) => {
                tokio::time::sleep(RECONNECT_PAUSE).await;
                Err(Failure {
                    kind: "connect".to_owned(),
                    message: format!("connect: {error}"),
                    drop_connection: true,
                })
            }
        },
    }
}

pub(crate) async fn connect(address: SocketAddr) -> std::io::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    // The connection's driver ends when the sender is dropped or the peer closes; its
    // errors also reach the sender, where they are counted.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

fn parse_json(operation: &str, body: &[u8]) -> Result<Value, Failure> {
    serde_json::from_slice(body).map_err(|error| {
        Failure::wrong(format!("{operation}: not JSON ({error}): {}", lossy(body)))
    })
}

fn lossy(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

/// The lower-case hex MD5 of a text, as SQS digests message bodies.
pub fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The inner text of every `<name>…</name>` element (no attributes on the tag, as SQS's
/// answers have none), in order.
fn xml_elements(xml: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        found.push(after[..end].to_owned());
        rest = &after[end + close.len()..];
    }
    found
}

/// The unescaped text of the first `<name>…</name>` element.
fn xml_value(xml: &str, name: &str) -> Option<String> {
    xml_elements(xml, name)
        .into_iter()
        .next()
        .map(|text| unescape_xml(&text))
}

/// XML's five named entities and numeric character references.
fn unescape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semicolon) = after.find(';') else {
            out.push_str(&rest[amp..]);
            return out;
        };
        let entity = &after[..semicolon];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(character) => {
                out.push(character);
                rest = &after[semicolon + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_is_sqs_digest() {
        // The MD5 of "hello", as every SQS SDK checks it.
        assert_eq!(md5_hex("hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn serverful_accepts_a_query_protocol_signature() {
        let mut signer = Signer::new("AKBENCH", "secret", REGION, "sqs");
        let now = time::OffsetDateTime::now_utc();
        let body = b"Action=SendMessage&Version=2012-11-05&QueueUrl=x&MessageBody=a+b";
        let signature = signer.sign_rest(
            "POST",
            "localhost:4566",
            "/",
            &[("content-type", FORM_CONTENT_TYPE)],
            body,
            now,
        );
        let mut headers = http::HeaderMap::new();
        let mut add = |name: &'static str, value: &str| {
            headers.insert(name, value.parse().expect("a valid header value"));
        };
        add("content-type", FORM_CONTENT_TYPE);
        add("host", "localhost:4566");
        add("x-amz-date", &signature.amz_date);
        add("authorization", &signature.authorization);
        let credentials = serverful_aws::Credentials {
            access_key_id: "AKBENCH".to_owned(),
            secret_access_key: "secret".to_owned(),
        };
        let request = serverful_aws::sigv4::SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body,
        };
        let expectations = serverful_aws::sigv4::Expectations {
            keys: &credentials,
            service: "sqs",
            required_signed_headers: &[],
            now,
        };
        let verified = serverful_aws::sigv4::verify(&request, &expectations).expect("verified");
        assert_eq!(verified.access_key_id, "AKBENCH");
    }

    #[test]
    fn reads_query_protocol_answers() {
        let xml = "<ReceiveMessageResponse><ReceiveMessageResult>\
            <Message><MessageId>m1</MessageId><ReceiptHandle>a&amp;b</ReceiptHandle><MD5OfBody>x</MD5OfBody><Body>&lt;1&#x41;&#66;</Body></Message>\
            <Message><MessageId>m2</MessageId><ReceiptHandle>r2</ReceiptHandle><Body>2</Body></Message>\
            </ReceiveMessageResult></ReceiveMessageResponse>";
        let messages = xml_elements(xml, "Message");
        assert_eq!(messages.len(), 2);
        assert_eq!(
            xml_value(&messages[0], "ReceiptHandle").as_deref(),
            Some("a&b")
        );
        assert_eq!(xml_value(&messages[0], "Body").as_deref(), Some("<1AB"));
        assert_eq!(xml_value(&messages[1], "MessageId").as_deref(), Some("m2"));
        assert_eq!(xml_value(xml, "Missing"), None);
        assert_eq!(unescape_xml("a & b &unknown; c"), "a & b &unknown; c");
    }
}
