//! The events WebSocket routes send to functions, field for field as API Gateway sends
//! them: `$connect` with the handshake's headers and query string, messages with their
//! body, `$disconnect` with the close code and reason.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::registry::Connection;

/// What every event of one connection shares.
pub struct EventSite<'a> {
    pub connection: &'a Connection,
    /// The host the client connected to, as it addressed it.
    pub domain_name: &'a str,
}

/// The kind of event, with what only it carries.
pub enum EventKind<'a> {
    Connect {
        headers: &'a http::HeaderMap,
        raw_query: &'a str,
    },
    Message {
        route_key: &'a str,
        body: MessageBody<'a>,
    },
    Disconnect {
        status_code: u16,
        reason: &'a str,
    },
}

/// A message as the client sent it.
pub enum MessageBody<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// A request's ids: a UUID-shaped `requestId` is what REST APIs send; WebSocket APIs send
/// a short base64 id in both `requestId` and `extendedRequestId`.
pub(crate) fn short_id() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    base64::engine::general_purpose::STANDARD.encode(&bytes[..11])
}

/// API Gateway's `requestTime`: `09/Apr/2015:12:34:56 +0000`.
fn request_time(time: OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        time.day(),
        MONTHS[usize::from(u8::from(time.month())) - 1],
        time.year(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// The event for `kind` on the connection, with its request id.
pub fn build_event(site: &EventSite<'_>, kind: &EventKind<'_>, request_id: &str) -> Value {
    let now = OffsetDateTime::now_utc();
    let epoch_ms = (now.unix_timestamp_nanos() / 1_000_000) as u64;
    let connection = site.connection;
    let (route_key, event_type) = match kind {
        EventKind::Connect { .. } => ("$connect", "CONNECT"),
        EventKind::Message { route_key, .. } => (*route_key, "MESSAGE"),
        EventKind::Disconnect { .. } => ("$disconnect", "DISCONNECT"),
    };
    let mut identity = Map::new();
    identity.insert("sourceIp".to_owned(), json!(connection.source_ip));
    if let Some(user_agent) = &connection.user_agent {
        identity.insert("userAgent".to_owned(), json!(user_agent));
    }
    let mut context = Map::new();
    context.insert("routeKey".to_owned(), json!(route_key));
    if let EventKind::Message { .. } = kind {
        context.insert("messageId".to_owned(), json!(short_id()));
    }
    if let EventKind::Disconnect {
        status_code,
        reason,
    } = kind
    {
        context.insert("disconnectStatusCode".to_owned(), json!(status_code));
        context.insert("disconnectReason".to_owned(), json!(reason));
    }
    context.insert("eventType".to_owned(), json!(event_type));
    context.insert("extendedRequestId".to_owned(), json!(request_id));
    context.insert("requestTime".to_owned(), json!(request_time(now)));
    context.insert("messageDirection".to_owned(), json!("IN"));
    context.insert("stage".to_owned(), json!(connection.stage));
    context.insert("connectedAt".to_owned(), json!(connection.connected_at_ms));
    context.insert("requestTimeEpoch".to_owned(), json!(epoch_ms));
    context.insert("identity".to_owned(), Value::Object(identity));
    context.insert("requestId".to_owned(), json!(request_id));
    context.insert("domainName".to_owned(), json!(site.domain_name));
    context.insert("connectionId".to_owned(), json!(connection.id));
    context.insert("apiId".to_owned(), json!(connection.api_id));
    if let Some(granted) = connection.granted.get() {
        granted.apply(&mut context);
    }

    let mut event = Map::new();
    match kind {
        EventKind::Connect { headers, raw_query } => {
            let (single, multi) = header_maps(headers);
            event.insert("headers".to_owned(), single);
            event.insert("multiValueHeaders".to_owned(), multi);
            let (single, multi) = query_maps(raw_query);
            // API Gateway leaves both out when the handshake had no query string.
            if let Some(single) = single {
                event.insert("queryStringParameters".to_owned(), single);
            }
            if let Some(multi) = multi {
                event.insert("multiValueQueryStringParameters".to_owned(), multi);
            }
        }
        EventKind::Message { body, .. } => match body {
            MessageBody::Text(text) => {
                event.insert("body".to_owned(), json!(text));
            }
            MessageBody::Binary(bytes) => {
                event.insert(
                    "body".to_owned(),
                    json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
                );
            }
        },
        EventKind::Disconnect { .. } => {}
    }
    event.insert("requestContext".to_owned(), Value::Object(context));
    let is_base64 = matches!(
        kind,
        EventKind::Message {
            body: MessageBody::Binary(_),
            ..
        }
    );
    event.insert("isBase64Encoded".to_owned(), json!(is_base64));
    Value::Object(event)
}

/// `headers` (the last value of each, names as sent) and `multiValueHeaders`.
fn header_maps(headers: &http::HeaderMap) -> (Value, Value) {
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        multi
            .entry(canonical_header_name(name.as_str()))
            .or_default()
            .push(text);
    }
    let single: Map<String, Value> = multi
        .iter()
        .filter_map(|(name, values)| Some((name.clone(), json!(values.last()?))))
        .collect();
    (Value::Object(single), json!(multi))
}

/// `Sec-WebSocket-Key`: API Gateway reports header names capitalized as clients usually
/// send them; HTTP/1 header names reach here lower-cased.
fn canonical_header_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A query string's name or value, decoded (`+` is a space).
pub(crate) fn decode_query_part(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn query_maps(raw_query: &str) -> (Option<Value>, Option<Value>) {
    if raw_query.is_empty() {
        return (None, None);
    }
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in raw_query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        multi
            .entry(decode_query_part(name))
            .or_default()
            .push(decode_query_part(value));
    }
    let single: Map<String, Value> = multi
        .iter()
        .filter_map(|(name, values)| Some((name.clone(), json!(values.last()?))))
        .collect();
    (Some(Value::Object(single)), Some(json!(multi)))
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use tokio::sync::mpsc;

    use super::{build_event, EventKind, EventSite, MessageBody};
    use crate::registry::Connection;

    /// The event with its time-dependent and random fields replaced by their names.
    fn render(kind: EventKind<'_>) -> String {
        let (sender, _receiver) = mpsc::unbounded_channel();
        let connection = Connection::new(
            "abc123defg",
            "production",
            "chat",
            "192.0.2.7",
            Some("test-agent/1.0".to_owned()),
            sender,
        );
        let site = EventSite {
            connection: &connection,
            domain_name: "abc123defg.execute-api.localhost:3000",
        };
        let mut event = build_event(&site, &kind, "REQUESTID=");
        let context = event["requestContext"]
            .as_object_mut()
            .expect("events have a requestContext");
        assert_eq!(context["connectionId"].as_str().map(str::len), Some(16));
        for (field, placeholder) in [
            ("connectionId", "CONNECTION"),
            ("connectedAt", "CONNECTED_AT"),
            ("requestTimeEpoch", "EPOCH_MS"),
            ("requestTime", "TIME"),
            ("messageId", "MESSAGE_ID"),
        ] {
            if context.contains_key(field) {
                context.insert(field.to_owned(), serde_json::json!(placeholder));
            }
        }
        serde_json::to_string_pretty(&event).expect("JSON values serialize")
    }

    #[test]
    fn connect_events_carry_headers_and_query() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "host",
            "abc123defg.execute-api.localhost:3000"
                .parse()
                .expect("valid"),
        );
        headers.insert("sec-websocket-version", "13".parse().expect("valid"));
        let event = render(EventKind::Connect {
            headers: &headers,
            raw_query: "token=s%20cret&room=a&room=b",
        });
        expect![[r#"
            {
              "headers": {
                "Host": "abc123defg.execute-api.localhost:3000",
                "Sec-Websocket-Version": "13"
              },
              "isBase64Encoded": false,
              "multiValueHeaders": {
                "Host": [
                  "abc123defg.execute-api.localhost:3000"
                ],
                "Sec-Websocket-Version": [
                  "13"
                ]
              },
              "multiValueQueryStringParameters": {
                "room": [
                  "a",
                  "b"
                ],
                "token": [
                  "s cret"
                ]
              },
              "queryStringParameters": {
                "room": "b",
                "token": "s cret"
              },
              "requestContext": {
                "apiId": "abc123defg",
                "connectedAt": "CONNECTED_AT",
                "connectionId": "CONNECTION",
                "domainName": "abc123defg.execute-api.localhost:3000",
                "eventType": "CONNECT",
                "extendedRequestId": "REQUESTID=",
                "identity": {
                  "sourceIp": "192.0.2.7",
                  "userAgent": "test-agent/1.0"
                },
                "messageDirection": "IN",
                "requestId": "REQUESTID=",
                "requestTime": "TIME",
                "requestTimeEpoch": "EPOCH_MS",
                "routeKey": "$connect",
                "stage": "production"
              }
            }"#]]
        .assert_eq(&event);
    }

    #[test]
    fn message_events_carry_the_body_and_a_message_id() {
        let event = render(EventKind::Message {
            route_key: "sendmessage",
            body: MessageBody::Text(r#"{"action":"sendmessage"}"#),
        });
        expect![[r#"
            {
              "body": "{\"action\":\"sendmessage\"}",
              "isBase64Encoded": false,
              "requestContext": {
                "apiId": "abc123defg",
                "connectedAt": "CONNECTED_AT",
                "connectionId": "CONNECTION",
                "domainName": "abc123defg.execute-api.localhost:3000",
                "eventType": "MESSAGE",
                "extendedRequestId": "REQUESTID=",
                "identity": {
                  "sourceIp": "192.0.2.7",
                  "userAgent": "test-agent/1.0"
                },
                "messageDirection": "IN",
                "messageId": "MESSAGE_ID",
                "requestId": "REQUESTID=",
                "requestTime": "TIME",
                "requestTimeEpoch": "EPOCH_MS",
                "routeKey": "sendmessage",
                "stage": "production"
              }
            }"#]]
        .assert_eq(&event);
        let binary = render(EventKind::Message {
            route_key: "$default",
            body: MessageBody::Binary(&[0, 1, 2]),
        });
        assert!(binary.contains(r#""body": "AAEC""#), "{binary}");
        assert!(binary.contains(r#""isBase64Encoded": true"#), "{binary}");
    }

    #[test]
    fn disconnect_events_carry_the_close_code_and_reason() {
        let event = render(EventKind::Disconnect {
            status_code: 1001,
            reason: "Going away",
        });
        expect![[r#"
            {
              "isBase64Encoded": false,
              "requestContext": {
                "apiId": "abc123defg",
                "connectedAt": "CONNECTED_AT",
                "connectionId": "CONNECTION",
                "disconnectReason": "Going away",
                "disconnectStatusCode": 1001,
                "domainName": "abc123defg.execute-api.localhost:3000",
                "eventType": "DISCONNECT",
                "extendedRequestId": "REQUESTID=",
                "identity": {
                  "sourceIp": "192.0.2.7",
                  "userAgent": "test-agent/1.0"
                },
                "messageDirection": "IN",
                "requestId": "REQUESTID=",
                "requestTime": "TIME",
                "requestTimeEpoch": "EPOCH_MS",
                "routeKey": "$disconnect",
                "stage": "production"
              }
            }"#]]
        .assert_eq(&event);
    }
}
