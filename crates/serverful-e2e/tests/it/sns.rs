//! SNS on the AWS endpoint (issue #16), driven by the AWS CLI, boto3 and the JS SDK v3:
//! topic CRUD and AWS's errors; an HTTP subscriber on loopback that confirms, receives
//! notifications (filtered on attributes or body, raw or enveloped, retried when it
//! fails) and verifies their signatures against the certificate the endpoint serves; a
//! Lambda subscriber receiving `Records[].Sns`; FIFO topics; and a published message
//! delivered after the server was killed with SIGKILL and restarted.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use serverful_e2e::{test_app, test_deps_dir, Server};

/// Runs the AWS CLI against the server: (exit code, stdout, stderr).
fn aws(server: &Server, args: &[&str]) -> (i32, String, String) {
    let output = Command::new("aws")
        .args(args)
        .envs(server.aws_env())
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap_or_else(|error| {
            panic!("run aws: {error} (scripts/install-test-deps.sh installs it)")
        });
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn json_out(server: &Server, args: &[&str]) -> Value {
    let (code, stdout, stderr) = aws(server, args);
    assert_eq!(
        code,
        0,
        "aws {args:?}\n{stdout}\n{stderr}\n{}",
        server.all_output()
    );
    if stdout.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {stdout}"))
}

/// Runs the CLI expecting AWS's error `code` with a message containing `message`.
fn aws_error(server: &Server, args: &[&str], code: &str, message: &str) {
    let (status, stdout, stderr) = aws(server, args);
    assert_ne!(status, 0, "aws {args:?} succeeded: {stdout}");
    assert!(
        stderr.contains(&format!("({code})")) && stderr.contains(message),
        "aws {args:?}: expected ({code}) {message}, got: {stderr}"
    );
}

/// What an HTTP subscriber received.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
    /// The status it answered.
    status: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// A small HTTP endpoint on loopback that records every POST and answers with the
/// status it is set to.
struct Receiver {
    scheme: &'static str,
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    fn start() -> Receiver {
        Receiver::start_with(None)
    }

    /// An HTTPS endpoint with the certificate and key of `tls`.
    fn start_tls(tls: Arc<rustls::ServerConfig>) -> Receiver {
        Receiver::start_with(Some(tls))
    }

    fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("address").port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let (sink, answer) = (received.clone(), status.clone());
        let scheme = if tls.is_some() { "https" } else { "http" };
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (sink, answer, tls) = (sink.clone(), answer.clone(), tls.clone());
                std::thread::spawn(move || match tls {
                    Some(tls) => {
                        let Ok(connection) = rustls::ServerConnection::new(tls) else {
                            return;
                        };
                        serve_one(rustls::StreamOwned::new(connection, stream), &sink, &answer);
                    }
                    None => serve_one(stream, &sink, &answer),
                });
            }
        });
        Receiver {
            scheme,
            port,
            received,
            status,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}://127.0.0.1:{}{path}", self.scheme, self.port)
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().expect("received lock").clone()
    }

    /// Waits for a request `pick` accepts.
    fn wait_for(&self, what: &str, pick: impl Fn(&Received) -> bool) -> Received {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(found) = self.all().into_iter().find(|request| pick(request)) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; got {:#?}",
                self.all()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the notification whose message id is `id`, answered 2xx.
    fn notification(&self, id: &str) -> Received {
        self.wait_for(&format!("notification {id}"), |request| {
            request.header("x-amz-sns-message-id") == id && request.status < 300
        })
    }

    fn messages_with_id(&self, id: &str) -> usize {
        self.all()
            .iter()
            .filter(|request| request.header("x-amz-sns-message-id") == id)
            .count()
    }
}

fn serve_one(
    stream: impl std::io::Read + std::io::Write,
    sink: &Mutex<Vec<Received>>,
    status: &AtomicU16,
) {
    let mut reader = BufReader::new(stream);
    let mut headers = HashMap::new();
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let answer = status.load(Ordering::SeqCst);
    sink.lock().expect("received lock").push(Received {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        status: answer,
    });
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {answer} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

/// Verifies an SNS message's signature as a subscriber does: the certificate fetched
/// from its `SigningCertURL`, SNS's canonical string, SHA1 or SHA256 by version.
fn signature_verifies(message: &Value) -> bool {
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::signature::Verifier as _;
    use x509_cert::der::{DecodePem as _, Encode as _};

    let text = |name: &str| message[name].as_str().map(str::to_owned);
    let certificate_url = text("SigningCertURL")
        .or_else(|| text("SigningCertUrl"))
        .expect("a SigningCertURL");
    let pem = super::client()
        .get(&certificate_url)
        .send()
        .expect("fetch the signing certificate")
        .text()
        .expect("certificate text");
    let certificate = x509_cert::Certificate::from_pem(pem.as_bytes()).expect("a PEM certificate");
    let key_der = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .expect("DER key");
    let key = rsa::RsaPublicKey::from_public_key_der(&key_der).expect("an RSA key");
    let message_type = text("Type").expect("Type");
    let fields: &[&str] = if message_type == "Notification" {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    let mut canonical = String::new();
    for field in fields {
        if let Some(value) = text(field) {
            canonical.push_str(&format!("{field}\n{value}\n"));
        }
    }
    let signature = base64::engine::general_purpose::STANDARD
        .decode(text("Signature").expect("Signature"))
        .expect("base64 signature");
    let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature.as_slice()) else {
        return false;
    };
    match text("SignatureVersion").as_deref() {
        Some("1") => rsa::pkcs1v15::VerifyingKey::<sha1::Sha1>::new(key)
            .verify(canonical.as_bytes(), &signature)
            .is_ok(),
        Some("2") => rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key)
            .verify(canonical.as_bytes(), &signature)
            .is_ok(),
        other => panic!("unexpected SignatureVersion {other:?}"),
    }
}

fn assert_signed(message: &Value) {
    assert!(
        signature_verifies(message),
        "signature does not verify: {message:#}"
    );
    let mut tampered = message.clone();
    tampered["Message"] = json!("tampered");
    assert!(
        !signature_verifies(&tampered),
        "a tampered message verified"
    );
}

/// Subscribes `endpoint` over HTTP and confirms it by visiting the SubscribeURL it is
/// sent; returns the subscription ARN.
fn subscribe_http(
    server: &Server,
    topic: &str,
    receiver: &Receiver,
    path: &str,
    attributes: &str,
) -> String {
    let endpoint = receiver.url(path);
    let mut args = vec![
        "sns",
        "subscribe",
        "--topic-arn",
        topic,
        "--protocol",
        receiver.scheme,
        "--notification-endpoint",
        &endpoint,
    ];
    if !attributes.is_empty() {
        args.extend(["--attributes", attributes]);
    }
    let answer = json_out(server, &args);
    assert_eq!(
        answer["SubscriptionArn"], "pending confirmation",
        "{answer}"
    );
    let confirmation = receiver.wait_for("a SubscriptionConfirmation", |request| {
        request.header("x-amz-sns-message-type") == "SubscriptionConfirmation"
            && request.json()["TopicArn"] == topic
    });
    let message = confirmation.json();
    assert_eq!(message["Type"], "SubscriptionConfirmation");
    assert_signed(&message);
    let subscribe_url = message["SubscribeURL"].as_str().expect("SubscribeURL");
    let response = super::client()
        .get(subscribe_url)
        .send()
        .expect("visit the SubscribeURL");
    assert_eq!(response.status(), 200);
    let xml = response.text().expect("XML");
    let arn = xml
        .split("<SubscriptionArn>")
        .nth(1)
        .and_then(|rest| rest.split("</SubscriptionArn>").next())
        .unwrap_or_else(|| panic!("no SubscriptionArn in {xml}"))
        .to_owned();
    assert!(arn.starts_with(&format!("{topic}:")), "{arn}");
    arn
}

fn publish(server: &Server, topic: &str, message: &str, extra: &[&str]) -> String {
    let mut args = vec!["sns", "publish", "--topic-arn", topic, "--message", message];
    args.extend_from_slice(extra);
    json_out(server, &args)["MessageId"]
        .as_str()
        .expect("MessageId")
        .to_owned()
}

#[test]
fn topics_are_created_listed_changed_tagged_and_deleted_with_aws_errors() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve_with_env(data.path(), &[]);
    let created = json_out(
        &server,
        &[
            "sns",
            "create-topic",
            "--name",
            "orders",
            "--attributes",
            "DisplayName=Orders",
            "--tags",
            "Key=team,Value=shop",
        ],
    );
    let topic = created["TopicArn"].as_str().expect("TopicArn").to_owned();
    assert_eq!(topic, "arn:aws:sns:us-east-1:123456789012:orders");
    // Creating it again answers the same ARN.
    let again = json_out(&server, &["sns", "create-topic", "--name", "orders"]);
    assert_eq!(again["TopicArn"], topic);
    let listed = json_out(&server, &["sns", "list-topics"]);
    assert_eq!(listed["Topics"], json!([{"TopicArn": topic}]));

    json_out(
        &server,
        &[
            "sns",
            "set-topic-attributes",
            "--topic-arn",
            &topic,
            "--attribute-name",
            "DisplayName",
            "--attribute-value",
            "Shop",
        ],
    );
    let attributes = json_out(
        &server,
        &["sns", "get-topic-attributes", "--topic-arn", &topic],
    )["Attributes"]
        .clone();
    assert_eq!(attributes["DisplayName"], "Shop");
    assert_eq!(attributes["TopicArn"], topic);
    assert_eq!(attributes["Owner"], "123456789012");
    assert_eq!(attributes["SubscriptionsConfirmed"], "0");
    assert_eq!(attributes["SubscriptionsPending"], "0");
    let effective: Value = serde_json::from_str(
        attributes["EffectiveDeliveryPolicy"]
            .as_str()
            .expect("policy"),
    )
    .expect("JSON");
    assert_eq!(
        effective["http"]["defaultHealthyRetryPolicy"]["numRetries"],
        3
    );

    let tags = json_out(
        &server,
        &["sns", "list-tags-for-resource", "--resource-arn", &topic],
    );
    assert_eq!(tags["Tags"], json!([{"Key": "team", "Value": "shop"}]));
    json_out(
        &server,
        &[
            "sns",
            "untag-resource",
            "--resource-arn",
            &topic,
            "--tag-keys",
            "team",
        ],
    );
    let tags = json_out(
        &server,
        &["sns", "list-tags-for-resource", "--resource-arn", &topic],
    );
    assert_eq!(tags["Tags"], json!([]));

    // AWS's errors.
    aws_error(
        &server,
        &["sns", "create-topic", "--name", "bad name"],
        "InvalidParameter",
        "Invalid parameter: Topic Name",
    );
    aws_error(
        &server,
        &[
            "sns",
            "create-topic",
            "--name",
            "jobs",
            "--attributes",
            "FifoTopic=true",
        ],
        "InvalidParameter",
        "Fifo Topic names must end with .fifo",
    );
    aws_error(
        &server,
        &[
            "sns",
            "set-topic-attributes",
            "--topic-arn",
            &topic,
            "--attribute-name",
            "Colour",
            "--attribute-value",
            "x",
        ],
        "InvalidParameter",
        "Invalid parameter: AttributeName",
    );
    let missing = "arn:aws:sns:us-east-1:123456789012:missing";
    aws_error(
        &server,
        &["sns", "publish", "--topic-arn", missing, "--message", "x"],
        "NotFound",
        "Topic does not exist",
    );
    aws_error(
        &server,
        &["sns", "get-topic-attributes", "--topic-arn", missing],
        "NotFound",
        "Topic does not exist",
    );
    aws_error(
        &server,
        &[
            "sns",
            "subscribe",
            "--topic-arn",
            &topic,
            "--protocol",
            "email",
            "--notification-endpoint",
            "a@example.com",
        ],
        "InvalidParameter",
        "does not support this protocol string: email",
    );
    aws_error(
        &server,
        &[
            "sns",
            "subscribe",
            "--topic-arn",
            &topic,
            "--protocol",
            "lambda",
            "--notification-endpoint",
            "not-an-arn",
        ],
        "InvalidParameter",
        "Invalid parameter: Lambda endpoint ARN",
    );
    aws_error(
        &server,
        &[
            "sns",
            "publish",
            "--topic-arn",
            &topic,
            "--message",
            "x",
            "--message-attributes",
            r#"{"n": {"DataType": "Number", "StringValue": "abc"}}"#,
        ],
        "InvalidParameter",
        "Could not cast message attribute 'n' value to number.",
    );
    aws_error(
        &server,
        &[
            "sns",
            "publish",
            "--topic-arn",
            &topic,
            "--message",
            "x",
            "--message-group-id",
            "g",
        ],
        "InvalidParameter",
        "MessageGroupId parameter that is not valid for this topic type",
    );
    aws_error(
        &server,
        &[
            "sns",
            "publish",
            "--topic-arn",
            &topic,
            "--message",
            "{}",
            "--message-structure",
            "json",
        ],
        "InvalidParameter",
        "Message Structure - No default entry in JSON message body",
    );
    let large = data.path().join("large.txt");
    std::fs::write(&large, "x".repeat(262_145)).expect("write a large message");
    let large_url = format!("file://{}", large.display());
    aws_error(
        &server,
        &[
            "sns",
            "publish",
            "--topic-arn",
            &topic,
            "--message",
            &large_url,
        ],
        "InvalidParameter",
        "Invalid parameter: Message too long",
    );

    // Filter policies are checked with SNS's wording, on Subscribe and on change.
    let function = "arn:aws:lambda:us-east-1:123456789012:function:nowhere";
    aws_error(
        &server,
        &[
            "sns",
            "subscribe",
            "--topic-arn",
            &topic,
            "--protocol",
            "lambda",
            "--notification-endpoint",
            function,
            "--attributes",
            r#"{"FilterPolicy": "{\"a\": [{\"wildcard\": \"x*\"}]}"}"#,
        ],
        "InvalidParameter",
        "Invalid parameter: Attributes Reason: FilterPolicy: Unrecognized match type wildcard",
    );
    let subscription = json_out(
        &server,
        &[
            "sns",
            "subscribe",
            "--topic-arn",
            &topic,
            "--protocol",
            "lambda",
            "--notification-endpoint",
            function,
        ],
    )["SubscriptionArn"]
        .as_str()
        .expect("SubscriptionArn")
        .to_owned();
    let six_keys = r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}"#;
    aws_error(
        &server,
        &[
            "sns",
            "set-subscription-attributes",
            "--subscription-arn",
            &subscription,
            "--attribute-name",
            "FilterPolicy",
            "--attribute-value",
            six_keys,
        ],
        "InvalidParameter",
        "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys",
    );
    aws_error(
        &server,
        &[
            "sns",
            "set-subscription-attributes",
            "--subscription-arn",
            &subscription,
            "--attribute-name",
            "FilterPolicy",
            "--attribute-value",
            r#"{"a": {"b": ["c"]}}"#,
        ],
        "InvalidParameter",
        "Filter policy scope MessageAttributes does not support nested filter policy",
    );
    aws_error(
        &server,
        &[
            "sns",
            "set-subscription-attributes",
            "--subscription-arn",
            &subscription,
            "--attribute-name",
            "RawMessageDelivery",
            "--attribute-value",
            "true",
        ],
        "InvalidParameter",
        "Delivery protocol [lambda] does not support raw message delivery",
    );
    json_out(
        &server,
        &[
            "sns",
            "set-subscription-attributes",
            "--subscription-arn",
            &subscription,
            "--attribute-name",
            "RedrivePolicy",
            "--attribute-value",
            r#"{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"}"#,
        ],
    );
    let subscription_attributes = json_out(
        &server,
        &[
            "sns",
            "get-subscription-attributes",
            "--subscription-arn",
            &subscription,
        ],
    )["Attributes"]
        .clone();
    assert_eq!(subscription_attributes["Protocol"], "lambda");
    assert_eq!(subscription_attributes["PendingConfirmation"], "false");
    assert!(subscription_attributes["RedrivePolicy"]
        .as_str()
        .expect("RedrivePolicy")
        .contains(":dlq"));

    // Batches: AWS's whole-request errors, then per-entry failures.
    let entries = |ids: &[&str]| {
        json!(ids
            .iter()
            .map(|id| json!({"Id": id, "Message": format!("m-{id}")}))
            .collect::<Vec<_>>())
        .to_string()
    };
    aws_error(
        &server,
        &[
            "sns",
            "publish-batch",
            "--topic-arn",
            &topic,
            "--publish-batch-request-entries",
            &entries(&["a", "a"]),
        ],
        "BatchEntryIdsNotDistinct",
        "same Id",
    );
    let eleven: Vec<String> = (0..11).map(|index| format!("e{index}")).collect();
    let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
    aws_error(
        &server,
        &[
            "sns",
            "publish-batch",
            "--topic-arn",
            &topic,
            "--publish-batch-request-entries",
            &entries(&eleven),
        ],
        "TooManyEntriesInBatchRequest",
        "more entries than permissible",
    );
    let long_batch = data.path().join("long-batch.json");
    let half = "y".repeat(140_000);
    std::fs::write(
        &long_batch,
        json!([{"Id": "a", "Message": half}, {"Id": "b", "Message": half}]).to_string(),
    )
    .expect("write a long batch");
    let long_batch_url = format!("file://{}", long_batch.display());
    aws_error(
        &server,
        &[
            "sns",
            "publish-batch",
            "--topic-arn",
            &topic,
            "--publish-batch-request-entries",
            &long_batch_url,
        ],
        "BatchRequestTooLong",
        "more than the limit",
    );
    let mixed = json!([
        {"Id": "good", "Message": "fine"},
        {"Id": "bad", "Message": "x", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "abc"}}},
    ]);
    let batch = json_out(
        &server,
        &[
            "sns",
            "publish-batch",
            "--topic-arn",
            &topic,
            "--publish-batch-request-entries",
            &mixed.to_string(),
        ],
    );
    assert_eq!(batch["Successful"][0]["Id"], "good", "{batch}");
    assert!(batch["Successful"][0]["MessageId"].is_string());
    assert_eq!(batch["Failed"][0]["Id"], "bad");
    assert_eq!(batch["Failed"][0]["Code"], "InvalidParameter");
    assert_eq!(batch["Failed"][0]["SenderFault"], true);

    json_out(
        &server,
        &["sns", "unsubscribe", "--subscription-arn", &subscription],
    );
    json_out(&server, &["sns", "delete-topic", "--topic-arn", &topic]);
    let listed = json_out(&server, &["sns", "list-topics"]);
    assert_eq!(listed["Topics"], json!([]));
}

#[test]
fn fifo_topics_number_messages_and_drop_duplicates() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve_with_env(data.path(), &[]);
    let topic = json_out(
        &server,
        &[
            "sns",
            "create-topic",
            "--name",
            "jobs.fifo",
            "--attributes",
            "FifoTopic=true,ContentBasedDeduplication=true",
        ],
    )["TopicArn"]
        .as_str()
        .expect("TopicArn")
        .to_owned();
    let attributes = json_out(
        &server,
        &["sns", "get-topic-attributes", "--topic-arn", &topic],
    )["Attributes"]
        .clone();
    assert_eq!(attributes["FifoTopic"], "true");
    assert_eq!(attributes["ContentBasedDeduplication"], "true");
    aws_error(
        &server,
        &["sns", "publish", "--topic-arn", &topic, "--message", "one"],
        "InvalidParameter",
        "The MessageGroupId parameter is required for FIFO topics",
    );
    aws_error(
        &server,
        &[
            "sns",
            "subscribe",
            "--topic-arn",
            &topic,
            "--protocol",
            "lambda",
            "--notification-endpoint",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
        ],
        "InvalidParameter",
        "Invalid protocol type: lambda",
    );
    let publish_fifo = |message: &str, extra: &[&str]| {
        let mut args = vec![
            "sns",
            "publish",
            "--topic-arn",
            &topic,
            "--message",
            message,
            "--message-group-id",
            "g1",
        ];
        args.extend_from_slice(extra);
        json_out(&server, &args)
    };
    let first = publish_fifo("one", &[]);
    let second = publish_fifo("two", &[]);
    let duplicate = publish_fifo("one", &[]);
    let explicit = publish_fifo("one", &["--message-deduplication-id", "explicit-1"]);
    let first_number: u128 = first["SequenceNumber"]
        .as_str()
        .expect("SequenceNumber")
        .parse()
        .expect("number");
    let second_number: u128 = second["SequenceNumber"]
        .as_str()
        .expect("SequenceNumber")
        .parse()
        .expect("number");
    assert!(second_number > first_number, "{first} {second}");
    assert_eq!(first["SequenceNumber"].as_str().map(str::len), Some(20));
    assert_eq!(
        duplicate["MessageId"], first["MessageId"],
        "content-based deduplication"
    );
    assert_eq!(duplicate["SequenceNumber"], first["SequenceNumber"]);
    assert_ne!(explicit["MessageId"], first["MessageId"]);

    // Without content-based deduplication an id is required.
    let plain = json_out(
        &server,
        &[
            "sns",
            "create-topic",
            "--name",
            "plain.fifo",
            "--attributes",
            "FifoTopic=true",
        ],
    )["TopicArn"]
        .as_str()
        .expect("TopicArn")
        .to_owned();
    aws_error(
        &server,
        &[
            "sns",
            "publish",
            "--topic-arn",
            &plain,
            "--message",
            "x",
            "--message-group-id",
            "g",
        ],
        "InvalidParameter",
        "ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
    );
}

#[test]
fn http_subscribers_confirm_filter_and_verify_signed_notifications() {
    let data = tempfile::tempdir().expect("data dir");
    let server =
        Server::start_serve_with_env(data.path(), &[("SERVERFUL_SNS_RETRY_DELAY_MS", "20")]);
    let topic = json_out(&server, &["sns", "create-topic", "--name", "events"])["TopicArn"]
        .as_str()
        .expect("TopicArn")
        .to_owned();
    let everything = Receiver::start();
    let red_raw = Receiver::start();
    let big_orders = Receiver::start();
    let all_arn = subscribe_http(&server, &topic, &everything, "/all", "");
    let red_arn = subscribe_http(
        &server,
        &topic,
        &red_raw,
        "/red",
        r#"{"FilterPolicy": "{\"color\": [\"red\"]}", "RawMessageDelivery": "true"}"#,
    );
    subscribe_http(
        &server,
        &topic,
        &big_orders,
        "/big",
        r#"{"FilterPolicyScope": "MessageBody", "FilterPolicy": "{\"order\": {\"total\": [{\"numeric\": [\">\", 100]}]}}"}"#,
    );
    let attributes = json_out(
        &server,
        &["sns", "get-topic-attributes", "--topic-arn", &topic],
    )["Attributes"]
        .clone();
    assert_eq!(attributes["SubscriptionsConfirmed"], "3");
    assert_eq!(attributes["SubscriptionsPending"], "0");
    let listed = json_out(
        &server,
        &["sns", "list-subscriptions-by-topic", "--topic-arn", &topic],
    );
    assert_eq!(
        listed["Subscriptions"].as_array().map(Vec::len),
        Some(3),
        "{listed}"
    );

    let blue_big = publish(
        &server,
        &topic,
        r#"{"order": {"total": 150}}"#,
        &[
            "--subject",
            "Big order",
            "--message-attributes",
            r#"{"color": {"DataType": "String", "StringValue": "blue"}}"#,
        ],
    );
    let red_small = publish(
        &server,
        &topic,
        r#"{"order": {"total": 5}}"#,
        &[
            "--message-attributes",
            r#"{"color": {"DataType": "String", "StringValue": "red"}, "n": {"DataType": "Number", "StringValue": "7"}}"#,
        ],
    );
    let notification = everything.notification(&blue_big);
    assert_eq!(
        notification.header("x-amz-sns-message-type"),
        "Notification"
    );
    assert_eq!(notification.header("x-amz-sns-topic-arn"), topic);
    assert_eq!(notification.header("x-amz-sns-subscription-arn"), all_arn);
    let message = notification.json();
    assert_eq!(message["Type"], "Notification");
    assert_eq!(message["MessageId"], blue_big);
    assert_eq!(message["Subject"], "Big order");
    assert_eq!(message["Message"], r#"{"order": {"total": 150}}"#);
    assert_eq!(message["SignatureVersion"], "1");
    assert_eq!(
        message["MessageAttributes"],
        json!({"color": {"Type": "String", "Value": "blue"}})
    );
    assert!(message["UnsubscribeURL"]
        .as_str()
        .expect("UnsubscribeURL")
        .contains(&all_arn));
    assert_signed(&message);
    everything.notification(&red_small);

    let raw = red_raw.notification(&red_small);
    assert_eq!(raw.body, r#"{"order": {"total": 5}}"#);
    assert_eq!(raw.header("x-amz-sns-rawdelivery"), "true");
    assert_eq!(raw.header("x-amz-sns-subscription-arn"), red_arn);
    big_orders.notification(&blue_big);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        red_raw.messages_with_id(&blue_big),
        0,
        "blue is filtered out"
    );
    assert_eq!(
        big_orders.messages_with_id(&red_small),
        0,
        "a total of 5 is filtered out"
    );

    // SignatureVersion 2 signs with SHA256.
    json_out(
        &server,
        &[
            "sns",
            "set-topic-attributes",
            "--topic-arn",
            &topic,
            "--attribute-name",
            "SignatureVersion",
            "--attribute-value",
            "2",
        ],
    );
    let second_version = publish(&server, &topic, "signed with sha256", &[]);
    let message = everything.notification(&second_version).json();
    assert_eq!(message["SignatureVersion"], "2");
    assert_signed(&message);

    // A failing endpoint is retried as the default HTTP policy says (three retries,
    // 20 policy seconds apart), then given up on.
    everything.status.store(500, Ordering::SeqCst);
    let failing = publish(&server, &topic, "retried", &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while everything.messages_with_id(&failing) < 4 {
        assert!(Instant::now() < deadline, "{:#?}", everything.all());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        everything.messages_with_id(&failing),
        4,
        "one attempt and three retries"
    );
    everything.status.store(200, Ordering::SeqCst);

    // The UnsubscribeURL works without credentials, as on AWS.
    let unsubscribe_url = message["UnsubscribeURL"].as_str().expect("UnsubscribeURL");
    let response = super::client()
        .get(unsubscribe_url)
        .send()
        .expect("unsubscribe");
    assert_eq!(response.status(), 200);
    let listed = json_out(&server, &["sns", "list-subscriptions"]);
    let arns: Vec<&str> = listed["Subscriptions"]
        .as_array()
        .expect("Subscriptions")
        .iter()
        .filter_map(|subscription| subscription["SubscriptionArn"].as_str())
        .collect();
    assert_eq!(arns.len(), 2, "{listed}");
    assert!(!arns.contains(&all_arn.as_str()));
    // Subscribing a pending endpoint again sends its confirmation again, same token.
    let late = Receiver::start();
    let late_endpoint = late.url("/late");
    for _ in 0..2 {
        let answer = json_out(
            &server,
            &[
                "sns",
                "subscribe",
                "--topic-arn",
                &topic,
                "--protocol",
                "http",
                "--notification-endpoint",
                &late_endpoint,
            ],
        );
        assert_eq!(answer["SubscriptionArn"], "pending confirmation");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while late.all().len() < 2 {
        assert!(Instant::now() < deadline, "{:#?}", late.all());
        std::thread::sleep(Duration::from_millis(50));
    }
    let tokens: Vec<Value> = late
        .all()
        .iter()
        .map(|request| request.json()["Token"].clone())
        .collect();
    assert_eq!(tokens[0], tokens[1]);
    assert!(tokens[0].is_string());
    // Anything else unsigned is refused.
    let unsigned = super::client()
        .get(format!("{}/?Action=ListTopics", server.aws_url))
        .send()
        .expect("unsigned request");
    assert_eq!(unsigned.status(), 403);
}

#[test]
fn lambda_subscribers_receive_records_sns_from_boto3() {
    let server = Server::start(&test_app("sns"), &[]);
    let table = server.output("NotificationsTableName");
    let function_arn = server.output("SubscriberArn");
    let script = r#"
import json, os, sys, time
import boto3
sns = boto3.client("sns")
ddb = boto3.client("dynamodb")
table, function_arn = sys.argv[1], sys.argv[2]
topic = sns.create_topic(Name="notices")["TopicArn"]
subscription = sns.subscribe(
    TopicArn=topic, Protocol="lambda", Endpoint=function_arn, ReturnSubscriptionArn=True,
    Attributes={"FilterPolicy": json.dumps({"kind": ["order"], "amount": [{"numeric": [">=", 10]}]})},
)["SubscriptionArn"]
matching = sns.publish(
    TopicArn=topic, Subject="Order", MessageStructure="json",
    Message=json.dumps({"default": "for everyone", "lambda": "for lambda"}),
    MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"},
                       "amount": {"DataType": "Number", "StringValue": "12"}},
)["MessageId"]
ignored = sns.publish(
    TopicArn=topic, Message="small",
    MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"},
                       "amount": {"DataType": "Number", "StringValue": "3"}},
)["MessageId"]
deadline = time.time() + 30
items = []
while time.time() < deadline:
    items = ddb.scan(TableName=table)["Items"]
    if items:
        break
    time.sleep(0.2)
time.sleep(1)
items = ddb.scan(TableName=table)["Items"]
# A function publishing with its stack's own keys to a topic its stack does not own.
denied = json.loads(boto3.client("lambda").invoke(
    FunctionName=sys.argv[3], Payload=json.dumps({"TopicArn": topic}))["Payload"].read())
print(json.dumps({"topic": topic, "subscription": subscription, "matching": matching,
                  "ignored": ignored, "denied": denied,
                  "items": [{"id": i["id"]["S"], "event": json.loads(i["body"]["S"])} for i in items]}))
"#;
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&table)
        .arg(&function_arn)
        .arg(server.output("PublisherName"))
        .envs(server.aws_env())
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    let result: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let items = result["items"].as_array().expect("items");
    assert_eq!(
        items.len(),
        1,
        "only the matching message: {result:#}\n{}",
        server.all_output()
    );
    assert_eq!(items[0]["id"], result["matching"]);
    let event = &items[0]["event"];
    let record = &event["Records"][0];
    assert_eq!(event["Records"].as_array().map(Vec::len), Some(1));
    assert_eq!(record["EventSource"], "aws:sns");
    assert_eq!(record["EventVersion"], "1.0");
    assert_eq!(record["EventSubscriptionArn"], result["subscription"]);
    let sns = &record["Sns"];
    assert_eq!(sns["Type"], "Notification");
    assert_eq!(sns["MessageId"], result["matching"]);
    assert_eq!(sns["TopicArn"], result["topic"]);
    assert_eq!(sns["Subject"], "Order");
    assert_eq!(sns["Message"], "for lambda");
    assert_eq!(sns["SignatureVersion"], "1");
    assert_eq!(
        sns["MessageAttributes"],
        json!({"amount": {"Type": "Number", "Value": "12"}, "kind": {"Type": "String", "Value": "order"}})
    );
    assert!(sns["UnsubscribeUrl"]
        .as_str()
        .expect("UnsubscribeUrl")
        .contains("Action=Unsubscribe"));
    assert!(sns["Timestamp"].as_str().expect("Timestamp").ends_with('Z'));
    assert!(
        signature_verifies(sns),
        "the Lambda record's signature verifies: {sns:#}"
    );

    let denied = &result["denied"];
    assert_eq!(denied["Code"], "AuthorizationError", "{denied}");
    assert_eq!(denied["Status"], 403);
    let message = denied["Message"].as_str().expect("Message");
    assert!(
        message.contains("is not authorized to perform: sns:Publish on resource: arn:aws:sns:us-east-1:123456789012:notices"),
        "{message}"
    );
}

#[test]
fn the_js_sdk_v3_creates_publishes_and_reads_aws_errors() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve_with_env(data.path(), &[]);
    let script = r#"
const { SNSClient, CreateTopicCommand, PublishCommand, PublishBatchCommand, ListTopicsCommand,
        GetTopicAttributesCommand, SubscribeCommand, ListSubscriptionsByTopicCommand } = require("@aws-sdk/client-sns");
(async () => {
  const sns = new SNSClient({});
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: "js-topic", Attributes: { DisplayName: "JS" } }));
  const published = await sns.send(new PublishCommand({ TopicArn, Message: "hi",
    MessageAttributes: { list: { DataType: "String.Array", StringValue: '["a","b"]' },
                         blob: { DataType: "Binary", BinaryValue: Buffer.from("bytes") } } }));
  const batch = await sns.send(new PublishBatchCommand({ TopicArn, PublishBatchRequestEntries: [
    { Id: "one", Message: "1" }, { Id: "two", Message: "" } ] }));
  const subscribed = await sns.send(new SubscribeCommand({ TopicArn, Protocol: "lambda",
    Endpoint: "arn:aws:lambda:us-east-1:123456789012:function:js-target" }));
  const subscriptions = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn }));
  const topics = await sns.send(new ListTopicsCommand({}));
  const attributes = await sns.send(new GetTopicAttributesCommand({ TopicArn }));
  let missing;
  try {
    await sns.send(new GetTopicAttributesCommand({ TopicArn: TopicArn + "-missing" }));
  } catch (error) {
    missing = { name: error.name, message: error.message, status: error.$metadata.httpStatusCode };
  }
  console.log(JSON.stringify({ TopicArn, published, batch, subscribed, subscriptions, topics,
    attributes: attributes.Attributes, missing }));
})().catch((error) => { console.error(error); process.exit(1); });
"#;
    let node_modules = test_deps_dir().join("node-sns/node_modules");
    let output = Command::new("node")
        .arg("-e")
        .arg(script)
        .env("NODE_PATH", &node_modules)
        .envs(server.aws_env())
        .output()
        .expect("run node");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    let result: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let topic = result["TopicArn"].as_str().expect("TopicArn");
    assert_eq!(topic, "arn:aws:sns:us-east-1:123456789012:js-topic");
    assert!(result["published"]["MessageId"].is_string(), "{result:#}");
    assert_eq!(result["batch"]["Successful"][0]["Id"], "one");
    assert_eq!(result["batch"]["Failed"][0]["Id"], "two");
    assert_eq!(result["batch"]["Failed"][0]["Code"], "InvalidParameter");
    assert_eq!(
        result["batch"]["Failed"][0]["Message"],
        "Invalid parameter: Empty message"
    );
    assert!(result["subscribed"]["SubscriptionArn"]
        .as_str()
        .expect("arn")
        .starts_with(topic));
    assert_eq!(
        result["subscriptions"]["Subscriptions"][0]["Protocol"],
        "lambda"
    );
    assert_eq!(result["topics"]["Topics"][0]["TopicArn"], topic);
    assert_eq!(result["attributes"]["DisplayName"], "JS");
    assert_eq!(result["attributes"]["SubscriptionsConfirmed"], "1");
    assert_eq!(
        result["missing"],
        json!({"name": "NotFoundException", "message": "Topic does not exist", "status": 404})
    );
}

#[test]
fn an_acknowledged_publish_is_delivered_after_kill_9_and_restart() {
    let data = tempfile::tempdir().expect("data dir");
    let env = [("SERVERFUL_SNS_RETRY_DELAY_MS", "50")];
    let server = Server::start_serve_with_env(data.path(), &env);
    let topic = json_out(&server, &["sns", "create-topic", "--name", "durable"])["TopicArn"]
        .as_str()
        .expect("TopicArn")
        .to_owned();
    let receiver = Receiver::start();
    // Up to 100 retries one policy second (50 ms) apart: enough to outlast the restart.
    subscribe_http(
        &server,
        &topic,
        &receiver,
        "/durable",
        r#"{"DeliveryPolicy": "{\"healthyRetryPolicy\": {\"numRetries\": 100, \"minDelayTarget\": 1, \"maxDelayTarget\": 1}}"}"#,
    );
    receiver.status.store(503, Ordering::SeqCst);
    let retried = publish(&server, &topic, "survives a crash", &[]);
    receiver.wait_for("a failed attempt", |request| {
        request.header("x-amz-sns-message-id") == retried
    });
    // Acknowledged just before the kill.
    let second = publish(&server, &topic, "queued before the crash", &[]);
    drop(server);

    receiver.status.store(200, Ordering::SeqCst);
    let restarted = Server::start_serve_with_env(data.path(), &env);
    let delivered = receiver.notification(&retried).json();
    assert_eq!(delivered["Message"], "survives a crash");
    assert_signed(&delivered);
    let delivered = receiver.notification(&second).json();
    assert_eq!(delivered["Message"], "queued before the crash");
    drop(restarted);
}

#[test]
fn https_subscribers_are_reached_over_verified_tls() {
    let data = tempfile::tempdir().expect("data dir");
    // A certificate for 127.0.0.1, trusted by the server through SSL_CERT_FILE as a
    // private CA would be.
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("a certificate");
    let trusted = data.path().join("trusted.pem");
    std::fs::write(&trusted, certified.cert.pem()).expect("write the certificate");
    let tls = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![certified.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into()),
        )
        .expect("a TLS server configuration");
    let receiver = Receiver::start_tls(Arc::new(tls));
    let trusted = trusted.display().to_string();
    let server = Server::start_serve_with_env(
        data.path(),
        &[
            ("SSL_CERT_FILE", trusted.as_str()),
            ("SERVERFUL_SNS_RETRY_DELAY_MS", "20"),
        ],
    );
    let topic = json_out(&server, &["sns", "create-topic", "--name", "secure"])["TopicArn"]
        .as_str()
        .expect("TopicArn")
        .to_owned();
    let subscription = subscribe_http(&server, &topic, &receiver, "/secure", "");
    let published = publish(&server, &topic, "over TLS", &[]);
    let notification = receiver.notification(&published);
    assert_eq!(
        notification.header("x-amz-sns-subscription-arn"),
        subscription
    );
    let message = notification.json();
    assert_eq!(message["Message"], "over TLS");
    assert_signed(&message);
    drop(server);

    // A server that does not trust the certificate never completes a TLS handshake with
    // the endpoint, so nothing reaches it.
    let untrusting_data = tempfile::tempdir().expect("data dir");
    let untrusting = Server::start_serve_with_env(
        untrusting_data.path(),
        &[
            ("SSL_CERT_FILE", "/nonexistent/trusted.pem"),
            ("SERVERFUL_SNS_RETRY_DELAY_MS", "20"),
        ],
    );
    let before = receiver.all().len();
    let topic = json_out(&untrusting, &["sns", "create-topic", "--name", "untrusted"])["TopicArn"]
        .as_str()
        .expect("TopicArn")
        .to_owned();
    let endpoint = receiver.url("/untrusted");
    json_out(
        &untrusting,
        &[
            "sns",
            "subscribe",
            "--topic-arn",
            &topic,
            "--protocol",
            "https",
            "--notification-endpoint",
            &endpoint,
        ],
    );
    // The confirmation is tried four times (the default policy), then given up on.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !untrusting.all_output().contains("SNS gave up delivering") {
        assert!(
            Instant::now() < deadline,
            "the server never gave up:\n{}",
            untrusting.all_output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(receiver.all().len(), before, "{:#?}", receiver.all());
    let output = untrusting.all_output();
    assert!(
        output.contains("certificate"),
        "the server says why it gave up:\n{output}"
    );
}
