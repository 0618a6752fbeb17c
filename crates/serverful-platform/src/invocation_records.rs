//! The invocation records' actions: `Invocations` (a page of records), `InvocationRecord`
//! (one whole) and `Replay` (a recorded event run again against its stack's current
//! deploy through [`Platform::invoke_version_with`], so the replay is recorded too, with
//! the trigger `replay of ID`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serverful_invocations::{InvocationRecord, ListQuery, RecordOutcome, Recorder};
use serverful_invoke::FunctionRef;

use crate::action::{ActionError, InvocationsRequest, Outcome, ReplayAnswer};
pub use crate::records::outcome_of;
use crate::records::REPLAY_PREFIX;
use crate::server::Platform;

/// Records listed when the request does not say how many.
const DEFAULT_LIMIT: usize = 100;

/// How long a read (or a replay) waits for the records queued before it to be written, so
/// that it sees every call made before it.
const RECORD_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

fn recorder(platform: &Platform) -> Result<Arc<Recorder>, ActionError> {
    platform.config().invocation_records.clone().ok_or_else(|| {
        ActionError::internal(
            "invocations",
            "this server keeps no invocation records: its record store failed to open (see its output at start)",
        )
    })
}

/// A page of records, newest first.
pub(crate) async fn list(
    platform: &Arc<Platform>,
    request: InvocationsRequest,
) -> Result<Outcome, ActionError> {
    let recorder = recorder(platform)?;
    let before = match request.before.as_deref() {
        Some(cursor) => Some(cursor.parse::<i64>().map_err(|_| {
            ActionError::invalid(
                "invocations",
                format!("`{cursor}` is not a record cursor: a cursor is the `next` a previous page returned"),
            )
        })?),
        None => None,
    };
    let query = ListQuery {
        stack: request.stack,
        function: request.function,
        since_ms: request.since_ms,
        errors_only: request.errors_only,
        limit: request.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, 10_000),
        before,
    };
    // The writer lingers up to a second before writing; a reader has it write now.
    let page = tokio::task::spawn_blocking(move || {
        recorder.flush(RECORD_FLUSH_TIMEOUT);
        recorder.backend().list(&query)
    })
    .await
    .map_err(|error| ActionError::internal("invocations", error.to_string()))?
    .map_err(|error| ActionError::internal("invocations", error.to_string()))?;
    Ok(Outcome::Invocations {
        records: page.records,
        next: page.next,
    })
}

/// The record `id`, or the error that says it is gone.
async fn get(recorder: &Arc<Recorder>, id: &str) -> Result<InvocationRecord, ActionError> {
    let reader = recorder.clone();
    let key = id.to_owned();
    let record = tokio::task::spawn_blocking(move || {
        reader.flush(RECORD_FLUSH_TIMEOUT);
        reader.backend().get(&key)
    })
    .await
    .map_err(|error| ActionError::internal("invocations", error.to_string()))?
    .map_err(|error| ActionError::internal("invocations", error.to_string()))?;
    record.ok_or_else(|| {
        ActionError::not_found(
            "invocations",
            unknown_record(id, &recorder.settings().bounds()),
        )
    })
}

/// What a client is told of an id the store does not have.
pub fn unknown_record(id: &str, bounds: &str) -> String {
    format!(
        "no invocation record {id}: it may have been pruned (the store keeps {bounds}); list them with serverful invocations"
    )
}

/// What a client is told of a record whose event cannot be replayed.
pub fn truncated_event(record: &InvocationRecord) -> String {
    format!(
        "the event of invocation record {} was cut to {} of its {} bytes when it was recorded (--invocation-payload-cap): it cannot be replayed",
        record.id,
        record.event.text.len(),
        record.event.bytes
    )
}

/// One record whole.
pub(crate) async fn show(platform: &Arc<Platform>, id: &str) -> Result<Outcome, ActionError> {
    let recorder = recorder(platform)?;
    let record = get(&recorder, id).await?;
    Ok(Outcome::InvocationRecord {
        record: Box::new(record),
    })
}

/// Runs the recorded event of `id` again against its stack's current deploy.
pub(crate) async fn replay(platform: &Arc<Platform>, id: &str) -> Result<Outcome, ActionError> {
    let recorder = recorder(platform)?;
    let recorded = get(&recorder, id).await?;
    if recorded.event.truncated {
        return Err(ActionError::invalid("replay", truncated_event(&recorded)));
    }
    let Some(version) = platform.current(&recorded.stack) else {
        return Err(ActionError::not_found(
            "replay",
            format!(
                "stack {} is not running: the record's function cannot run",
                recorded.stack
            ),
        ));
    };
    if !version
        .app
        .functions
        .iter()
        .any(|function| function.logical_id == recorded.function)
    {
        return Err(ActionError::not_found(
            "replay",
            format!(
                "the current deploy ({}) of stack {} has no function {}",
                version.record.number, recorded.stack, recorded.function
            ),
        ));
    }
    if platform.is_http_mode(&recorded.stack, &recorded.function) {
        return Err(ActionError::invalid(
            "replay",
            format!(
                "{} is an HTTP-mode function: its records keep the request without its body, which cannot be sent again",
                recorded.function
            ),
        ));
    }
    let mut target = FunctionRef::new(recorded.stack.as_str(), recorded.function.as_str())
        .with_trigger(format!("{REPLAY_PREFIX}{}", recorded.id));
    // An alias resolves in the current deploy; a version number would run old code.
    if let Some(alias) = recorded
        .qualifier
        .as_deref()
        .filter(|qualifier| qualifier.parse::<u64>().is_err())
    {
        target = target.with_qualifier(alias);
    }
    let report = serverful_runtime::ReportSlot::new();
    let context = serverful_runtime::InvokeContext {
        report: Some(report.clone()),
        ..Default::default()
    };
    let started = Instant::now();
    let (executed_version, result) = platform
        .invoke_version_with(&target, Bytes::from(recorded.event.text.clone()), context)
        .await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (outcome, payload) = match result {
        Ok(body) => (RecordOutcome::Success, body),
        Err(error) => outcome_of(&error),
    };
    let ran = report.get();
    let record_id = ran.as_ref().map(|ran| ran.request_id.clone());
    if record_id.is_some() {
        let flushing = recorder.clone();
        let _ = tokio::task::spawn_blocking(move || flushing.flush(RECORD_FLUSH_TIMEOUT)).await;
    }
    Ok(Outcome::Replayed {
        recorded: Box::new(recorded),
        replay: ReplayAnswer {
            record_id,
            outcome,
            payload: String::from_utf8_lossy(&payload).into_owned(),
            executed_version,
            deploy: Some(version.record.number),
            duration_ms: ran.map_or(elapsed_ms, |ran| ran.report.duration.as_secs_f64() * 1000.0),
        },
    })
}
