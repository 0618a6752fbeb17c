//! The invocation record a destination receives, in Lambda's shape: `version`,
//! `timestamp`, `requestContext` (`requestId`, `functionArn`, `condition`,
//! `approximateInvokeCount`), `requestPayload`, `responseContext` (`statusCode`,
//! `executedVersion`, `functionError`) and `responsePayload`.

use serde_json::{json, Map, Value};

/// Why the record was sent, as Lambda names it in `requestContext.condition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    Success,
    RetriesExhausted,
    EventAgeExceeded,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Success => "Success",
            Condition::RetriesExhausted => "RetriesExhausted",
            Condition::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// The last attempt's outcome, when the function ran at least once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The version that ran (`$LATEST` or a number).
    pub executed_version: String,
    /// `Unhandled` when the function failed.
    pub function_error: Option<String>,
    /// What the function returned, or its error document.
    pub payload: Vec<u8>,
}

/// Everything a record says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub request_id: &'a str,
    /// The function's unqualified ARN; the record qualifies it with the version.
    pub function_arn: &'a str,
    pub condition: Condition,
    /// Attempts that ran the function.
    pub invoke_count: u32,
    pub request_payload: &'a [u8],
    pub response: Option<Response>,
    /// When the record was made, RFC 3339 with milliseconds.
    pub timestamp: String,
}

/// A payload as the record carries it: its JSON, or the text when it is not JSON.
fn payload_value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// The record as JSON, members in Lambda's order.
pub fn to_json(record: &Record<'_>) -> Value {
    let version = record
        .response
        .as_ref()
        .map_or("$LATEST", |response| response.executed_version.as_str());
    let mut value = json!({
        "version": "1.0",
        "timestamp": record.timestamp,
        "requestContext": {
            "requestId": record.request_id,
            "functionArn": format!("{}:{version}", record.function_arn),
            "condition": record.condition.as_str(),
            "approximateInvokeCount": record.invoke_count,
        },
        "requestPayload": payload_value(record.request_payload),
    });
    if let Some(response) = &record.response {
        let mut context = Map::new();
        context.insert("statusCode".to_owned(), 200.into());
        context.insert(
            "executedVersion".to_owned(),
            response.executed_version.clone().into(),
        );
        if let Some(error) = &response.function_error {
            context.insert("functionError".to_owned(), error.clone().into());
        }
        value["responseContext"] = Value::Object(context);
        value["responsePayload"] = payload_value(&response.payload);
    }
    value
}

/// Now, as Lambda writes a record's `timestamp` (`2019-11-14T18:16:05.568Z`).
pub fn timestamp_now() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_record_has_lambdas_shape() {
        let record = Record {
            request_id: "e4b46cbf-0000-4000-8000-a18cdf61200e",
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:app-Fails-ABC",
            condition: Condition::RetriesExhausted,
            invoke_count: 3,
            request_payload: br#"{"order":7}"#,
            response: Some(Response {
                executed_version: "$LATEST".to_owned(),
                function_error: Some("Unhandled".to_owned()),
                payload: br#"{"errorMessage":"boom","errorType":"Error"}"#.to_vec(),
            }),
            timestamp: "2019-11-14T18:16:05.568Z".to_owned(),
        };
        assert_eq!(
            to_json(&record),
            json!({
                "version": "1.0",
                "timestamp": "2019-11-14T18:16:05.568Z",
                "requestContext": {
                    "requestId": "e4b46cbf-0000-4000-8000-a18cdf61200e",
                    "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:app-Fails-ABC:$LATEST",
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": 3
                },
                "requestPayload": {"order": 7},
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": "Unhandled"
                },
                "responsePayload": {"errorMessage": "boom", "errorType": "Error"}
            })
        );
    }

    #[test]
    fn a_success_record_has_no_function_error_and_an_expired_event_no_response() {
        let success = to_json(&Record {
            request_id: "r",
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f",
            condition: Condition::Success,
            invoke_count: 1,
            request_payload: b"{}",
            response: Some(Response {
                executed_version: "3".to_owned(),
                function_error: None,
                payload: b"\"done\"".to_vec(),
            }),
            timestamp: timestamp_now(),
        });
        assert_eq!(
            success["responseContext"],
            json!({"statusCode": 200, "executedVersion": "3"})
        );
        assert_eq!(success["responsePayload"], "done");
        assert_eq!(
            success["requestContext"]["functionArn"],
            "arn:aws:lambda:us-east-1:123456789012:function:f:3"
        );
        let expired = to_json(&Record {
            request_id: "r",
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f",
            condition: Condition::EventAgeExceeded,
            invoke_count: 0,
            request_payload: b"{}",
            response: None,
            timestamp: timestamp_now(),
        });
        assert_eq!(expired["requestContext"]["condition"], "EventAgeExceeded");
        assert!(expired.get("responseContext").is_none());
        assert!(expired["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')));
    }
}
