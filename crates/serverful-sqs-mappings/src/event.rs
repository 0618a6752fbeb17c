//! The event a function gets for a batch of SQS messages, in AWS's shape, and the view of a
//! record that filters match against.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::client::ReceivedMessage;

/// Lambda's limit on a synchronous invocation's payload (6 MB): a batch stops growing
/// before its event would pass it.
pub const PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// One message as a record of the event (`Records[]`): `messageId`, `receiptHandle`,
/// `body`, `attributes`, `messageAttributes` (each with `stringValue` or `binaryValue` in
/// base64, the empty `stringListValues`/`binaryListValues` SQS reserves, and `dataType`),
/// `md5OfBody`, `md5OfMessageAttributes` when the message has attributes, `eventSource`,
/// `eventSourceARN` and `awsRegion`.
pub fn record_of(message: &ReceivedMessage, queue_arn: &str, region: &str) -> Value {
    let attributes: Map<String, Value> = message
        .attributes
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    let message_attributes: Map<String, Value> = message
        .message_attributes
        .iter()
        .map(|(name, value)| {
            let mut shown = Map::new();
            if let Some(text) = &value.string_value {
                shown.insert("stringValue".to_owned(), Value::String(text.clone()));
            }
            if let Some(bytes) = &value.binary_value {
                let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                shown.insert("binaryValue".to_owned(), Value::String(encoded));
            }
            shown.insert("stringListValues".to_owned(), json!([]));
            shown.insert("binaryListValues".to_owned(), json!([]));
            shown.insert(
                "dataType".to_owned(),
                Value::String(value.data_type.clone()),
            );
            (name.clone(), Value::Object(shown))
        })
        .collect();
    let mut record = Map::new();
    record.insert("messageId".to_owned(), json!(message.message_id));
    record.insert("receiptHandle".to_owned(), json!(message.receipt_handle));
    record.insert("body".to_owned(), json!(message.body));
    record.insert("attributes".to_owned(), Value::Object(attributes));
    record.insert(
        "messageAttributes".to_owned(),
        Value::Object(message_attributes),
    );
    record.insert("md5OfBody".to_owned(), json!(message.md5_of_body));
    if let Some(md5) = &message.md5_of_message_attributes {
        record.insert("md5OfMessageAttributes".to_owned(), json!(md5));
    }
    record.insert("eventSource".to_owned(), json!("aws:sqs"));
    record.insert("eventSourceARN".to_owned(), json!(queue_arn));
    record.insert("awsRegion".to_owned(), json!(region));
    Value::Object(record)
}

/// The event for a batch: `{"Records": [...]}`.
pub fn batch_event(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

/// What filters match against: the record as the function would get it, with `body`
/// parsed when it is JSON (Lambda matches a plain-text body as the string it is).
pub(crate) fn filter_view(record: &Value) -> Value {
    let mut view = record.clone();
    if let Some(body) = record["body"].as_str() {
        if let Ok(parsed) = serde_json::from_str::<Value>(body) {
            view["body"] = parsed;
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::Bytes;

    use super::*;
    use crate::client::MessageAttributeValue;

    fn message() -> ReceivedMessage {
        ReceivedMessage {
            message_id: "059f36b4-87a3-44ab-83d2-661975830a7d".to_owned(),
            receipt_handle: "handle-1".to_owned(),
            body: "{\"foo\": 2}".to_owned(),
            attributes: BTreeMap::from([
                ("ApproximateReceiveCount".to_owned(), "1".to_owned()),
                ("SentTimestamp".to_owned(), "1545082649183".to_owned()),
                ("SenderId".to_owned(), "AIDAIENQZJOLO23YVJ4VO".to_owned()),
                (
                    "ApproximateFirstReceiveTimestamp".to_owned(),
                    "1545082649185".to_owned(),
                ),
            ]),
            message_attributes: BTreeMap::new(),
            md5_of_body: "e4e68fb7bd0e697a0ae8f1bb342846b3".to_owned(),
            md5_of_message_attributes: None,
        }
    }

    #[test]
    fn records_have_aws_shape() {
        let record = record_of(
            &message(),
            "arn:aws:sqs:us-east-2:123456789012:my-queue",
            "us-east-2",
        );
        assert_eq!(
            record,
            json!({
                "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                "receiptHandle": "handle-1",
                "body": "{\"foo\": 2}",
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1545082649183",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1545082649185"
                },
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
                "awsRegion": "us-east-2"
            })
        );
    }

    #[test]
    fn message_attributes_show_as_lambda_shows_them() {
        let mut message = message();
        message.message_attributes = BTreeMap::from([
            (
                "req-id".to_owned(),
                MessageAttributeValue {
                    data_type: "String".to_owned(),
                    string_value: Some("24479a02".to_owned()),
                    binary_value: None,
                },
            ),
            (
                "blob".to_owned(),
                MessageAttributeValue {
                    data_type: "Binary.gz".to_owned(),
                    string_value: None,
                    binary_value: Some(Bytes::from_static(b"1100")),
                },
            ),
        ]);
        message.md5_of_message_attributes = Some("582c92c5c5b6ac403040a4f3ab3115c9".to_owned());
        let record = record_of(&message, "arn:aws:sqs:us-east-1:1:q", "us-east-1");
        assert_eq!(
            record["messageAttributes"],
            json!({
                "req-id": {"stringValue": "24479a02", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
                "blob": {"binaryValue": "MTEwMA==", "stringListValues": [], "binaryListValues": [], "dataType": "Binary.gz"}
            })
        );
        assert_eq!(
            record["md5OfMessageAttributes"],
            "582c92c5c5b6ac403040a4f3ab3115c9"
        );
    }

    #[test]
    fn filters_see_json_bodies_parsed_and_text_bodies_as_text() {
        let record = record_of(&message(), "arn:aws:sqs:us-east-1:1:q", "us-east-1");
        assert_eq!(filter_view(&record)["body"], json!({"foo": 2}));
        let mut plain = message();
        plain.body = "hello {".to_owned();
        let record = record_of(&plain, "arn:aws:sqs:us-east-1:1:q", "us-east-1");
        assert_eq!(filter_view(&record)["body"], json!("hello {"));
    }
}
