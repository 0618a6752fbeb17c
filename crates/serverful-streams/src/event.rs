//! The JSON the function and the failure destination get, in AWS's shapes: the
//! `{"Records": [...]}` event of a DynamoDB stream batch, and the invocation record with
//! `DDBStreamBatchInfo` sent to `OnFailure`.

use serde_json::{json, Value};
use serverful_store::{ShardRecord, StreamInfo};
use time::OffsetDateTime;

/// The event of one batch: each record as the stream keeps it plus its `eventSourceARN`.
pub(crate) fn batch_event(stream: &StreamInfo, records: &[ShardRecord]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|record| {
            let mut value = record.record.clone();
            value["eventSourceARN"] = Value::String(stream.stream_arn.clone());
            value
        })
        .collect();
    json!({ "Records": records })
}

/// Adds a tumbling window's properties to a batch event: `window` (`start`, `end`),
/// `state`, `shardId`, `eventSourceARN`, `isFinalInvokeForWindow` and
/// `isWindowTerminatedEarly`.
pub(crate) fn window_properties(
    event: &mut Value,
    stream: &StreamInfo,
    length: std::time::Duration,
    window: &crate::checkpoint::WindowState,
    last: bool,
    early: bool,
) {
    event["window"] = json!({
        "start": seconds_text(window.start),
        "end": seconds_text(window.start + length.as_secs() as i64),
    });
    event["state"] = window.state.clone();
    event["shardId"] = Value::String(stream.shard_id.clone());
    event["eventSourceARN"] = Value::String(stream.stream_arn.clone());
    event["isFinalInvokeForWindow"] = Value::Bool(last);
    event["isWindowTerminatedEarly"] = Value::Bool(early);
}

/// Why a batch was given up on (`requestContext.condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureCondition {
    RetryAttemptsExhausted,
    RecordAgeExceeded,
}

impl FailureCondition {
    fn name(self) -> &'static str {
        match self {
            FailureCondition::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            FailureCondition::RecordAgeExceeded => "RecordAgeExceeded",
        }
    }
}

/// How the last invocation of a batch that was given up on ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LastInvocation {
    /// `Unhandled` (the function threw or timed out) or `None` when the batch was never
    /// invoked (its records expired first) or the function reported item failures.
    pub function_error: Option<&'static str>,
    pub invoke_count: u32,
}

fn seconds_text(seconds: i64) -> String {
    let time = OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

fn now_text() -> String {
    let now = OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

/// The record `OnFailure` gets for the records given up on (never empty).
pub(crate) fn failure_record(
    function_arn: &str,
    stream: &StreamInfo,
    records: &[ShardRecord],
    condition: FailureCondition,
    last: &LastInvocation,
) -> Value {
    let first = records.first();
    let last_record = records.last();
    let sequence = |record: Option<&ShardRecord>| {
        record.map_or(Value::Null, |record| {
            record.record["dynamodb"]["SequenceNumber"].clone()
        })
    };
    let arrival = |record: Option<&ShardRecord>| {
        record.map_or(Value::Null, |record| {
            Value::String(seconds_text(record.created))
        })
    };
    let mut response_context = json!({
        "statusCode": 200,
        "executedVersion": "$LATEST",
    });
    if let Some(function_error) = last.function_error {
        response_context["functionError"] = Value::String(function_error.to_owned());
    }
    json!({
        "requestContext": {
            "requestId": uuid::Uuid::new_v4().to_string(),
            "functionArn": function_arn,
            "condition": condition.name(),
            "approximateInvokeCount": last.invoke_count,
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": now_text(),
        "DDBStreamBatchInfo": {
            "shardId": stream.shard_id,
            "startSequenceNumber": sequence(first),
            "endSequenceNumber": sequence(last_record),
            "approximateArrivalOfFirstRecord": arrival(first),
            "approximateArrivalOfLastRecord": arrival(last_record),
            "batchSize": records.len(),
            "streamArn": stream.stream_arn,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> StreamInfo {
        StreamInfo {
            stream_arn:
                "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2026-01-01T00:00:00.000"
                    .to_owned(),
            shard_id: "shardId-00000000000000000000-00000000".to_owned(),
            view_type: "NEW_IMAGE".to_owned(),
        }
    }

    fn record(sequence: u64, created: i64) -> ShardRecord {
        ShardRecord {
            sequence,
            created,
            record: json!({
                "eventID": "1",
                "eventName": "INSERT",
                "dynamodb": {"SequenceNumber": format!("{sequence:021}")},
            }),
        }
    }

    #[test]
    fn events_carry_the_stream_arn() {
        let event = batch_event(&stream(), &[record(7, 0)]);
        assert_eq!(
            event["Records"][0]["eventSourceARN"],
            json!(stream().stream_arn)
        );
        assert_eq!(event["Records"][0]["eventName"], json!("INSERT"));
    }

    #[test]
    fn failure_records_describe_the_batch() {
        let records = [record(7, 1_700_000_000), record(9, 1_700_000_005)];
        let last = LastInvocation {
            function_error: Some("Unhandled"),
            invoke_count: 3,
        };
        let value = failure_record(
            "arn:aws:lambda:us-east-1:000000000000:function:f",
            &stream(),
            &records,
            FailureCondition::RetryAttemptsExhausted,
            &last,
        );
        assert_eq!(
            value["requestContext"]["condition"],
            "RetryAttemptsExhausted"
        );
        assert_eq!(value["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(value["responseContext"]["functionError"], "Unhandled");
        let info = &value["DDBStreamBatchInfo"];
        assert_eq!(info["startSequenceNumber"], "000000000000000000007");
        assert_eq!(info["endSequenceNumber"], "000000000000000000009");
        assert_eq!(
            info["approximateArrivalOfFirstRecord"],
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(info["batchSize"], 2);
        assert_eq!(info["shardId"], stream().shard_id);
    }
}
