//! `serverful invocations [FUNCTION]` (a table of recorded invocations, newest first, or
//! one JSON object per record with `--json`), `serverful invocations show ID` (one record
//! whole) and the printing half of `serverful invoke --replay ID` (the recorded outcome and
//! the new one side by side). Records are read from a data folder here
//! (`DATA/invocations.sqlite`), or from a running server's admin API with `--endpoint`.
//! Also opens the record store a server writes to.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use serverful_cli::{InvocationsArgs, InvocationsCommand, OnOff, RecordArgs, RecordsPlace};
use serverful_invocations::{
    InvocationBackend as _, InvocationRecord, ListQuery, Payload, RecordError, RecordOutcome,
    RecordSummary, Recorder, SqliteInvocations,
};
use serverful_platform::invocation_records::{truncated_event, unknown_record};
use serverful_platform::{InvocationsRequest, Outcome, ReplayAnswer};

/// The record settings the flags say.
pub(crate) fn settings(args: &RecordArgs) -> serverful_invocations::Settings {
    serverful_invocations::Settings {
        enabled: args.record_invocations == OnOff::On,
        max_records: args.invocation_records_max,
        max_bytes: args.invocation_records_max_bytes,
        payload_cap: usize::try_from(args.invocation_payload_cap).unwrap_or(usize::MAX),
        redact: args.redact.clone(),
    }
}

/// The record store of `data_dir` with its writer thread; `None` (with a warning) when it
/// cannot be opened: functions still run, unrecorded.
pub(crate) fn open_recorder(
    data_dir: &Path,
    cluster: Option<&crate::cluster::Cluster>,
    settings: &serverful_invocations::Settings,
) -> Option<Arc<Recorder>> {
    let opened: Result<Arc<dyn serverful_invocations::InvocationBackend>, RecordError> =
        match cluster {
            Some(cluster) => {
                serverful_postgres::invocations::PostgresInvocations::new(cluster.database.clone())
                    .map(|store| {
                        Arc::new(store) as Arc<dyn serverful_invocations::InvocationBackend>
                    })
            }
            None => SqliteInvocations::open_in(data_dir)
                .map(|store| Arc::new(store) as Arc<dyn serverful_invocations::InvocationBackend>),
        };
    let started = opened.map_err(|error| error.to_string()).and_then(|store| {
        Recorder::start(
            store,
            settings.clone(),
            serverful_invocations::WriterOptions::default(),
        )
        .map_err(|error| format!("failed to start the record writer thread: {error}"))
    });
    match started {
        Ok(recorder) => Some(Arc::new(recorder)),
        Err(error) => {
            eprintln!("warning: invocations are not recorded: {error}");
            None
        }
    }
}

pub(crate) async fn run(args: &InvocationsArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        Some(InvocationsCommand::Show(show)) => {
            let record = match fetch(&show.place, &show.id).await? {
                Ok(record) => record,
                Err(code) => return Ok(code),
            };
            let mut out = std::io::stdout().lock();
            if show.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&record)?)?;
            } else {
                write!(out, "{}", show_text(&record))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        None => list(args).await,
    }
}

async fn list(args: &InvocationsArgs) -> anyhow::Result<ExitCode> {
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let since_ms = args.since.map(crate::logs::since_ms);
    let records = match &args.place.remote.endpoint {
        Some(endpoint) => {
            let client = crate::remote::client_for(endpoint, args.place.remote.token.as_deref())?;
            let request = InvocationsRequest {
                function: args.function.clone(),
                stack: args.stack.clone(),
                since_ms,
                errors_only: args.errors,
                limit: Some(limit),
                before: None,
            };
            match client.invocations(&request).await {
                Ok(Outcome::Invocations { records, .. }) => records,
                Ok(other) => anyhow::bail!("the server answered the list with {other:?}"),
                Err(error) => {
                    eprintln!("error: {error}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        None => {
            let store = match open_local(&args.place) {
                Ok(store) => store,
                Err(code) => return Ok(code),
            };
            let query = ListQuery {
                stack: args.stack.clone(),
                function: args.function.clone(),
                since_ms,
                errors_only: args.errors,
                limit,
                before: None,
            };
            store.list(&query)?.records
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        for record in &records {
            writeln!(out, "{}", serde_json::to_string(record)?)?;
        }
    } else {
        write!(out, "{}", table(&records))?;
        if records.is_empty() {
            eprintln!("no invocation records match");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The data folder's record store, or the exit code after saying why there is none.
fn open_local(place: &RecordsPlace) -> Result<SqliteInvocations, ExitCode> {
    let data_dir = place
        .data
        .clone()
        .unwrap_or_else(|| place.dir.join(".serverful"));
    local_store(&data_dir)
}

fn local_store(data_dir: &Path) -> Result<SqliteInvocations, ExitCode> {
    match SqliteInvocations::open_existing(&data_dir.join(serverful_invocations::FILE_NAME)) {
        Ok(store) => Ok(store),
        Err(RecordError::Missing { .. }) => {
            eprintln!("error: {} has no invocation records", data_dir.display());
            eprintln!(
                "hint: invocations are recorded once `serverful up` or `serve` runs a function with this data folder; pass the one it used with --data, or ask a running server with --endpoint"
            );
            Err(ExitCode::FAILURE)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// One record, from the data folder or the server; the exit code after saying why not.
async fn fetch(
    place: &RecordsPlace,
    id: &str,
) -> anyhow::Result<Result<InvocationRecord, ExitCode>> {
    if let Some(endpoint) = &place.remote.endpoint {
        let client = crate::remote::client_for(endpoint, place.remote.token.as_deref())?;
        return Ok(match client.invocation_record(id).await {
            Ok(Outcome::InvocationRecord { record }) => Ok(*record),
            Ok(other) => anyhow::bail!("the server answered with {other:?}"),
            Err(error) => {
                eprintln!("error: {error}");
                Err(ExitCode::FAILURE)
            }
        });
    }
    let store = match open_local(place) {
        Ok(store) => store,
        Err(code) => return Ok(Err(code)),
    };
    local_record(&store, id)
}

/// The record `id` of a local store, or the exit code after saying it is gone.
fn local_record(
    store: &SqliteInvocations,
    id: &str,
) -> anyhow::Result<Result<InvocationRecord, ExitCode>> {
    match store.get(id)? {
        Some(record) => Ok(Ok(record)),
        None => {
            // The bounds the server keeps are its own flags; say what the defaults keep.
            let bounds = serverful_invocations::Settings::default().bounds();
            eprintln!("error: {}", unknown_record(id, &bounds));
            Ok(Err(ExitCode::FAILURE))
        }
    }
}

/// For `invoke --replay` here: the record whose event to run again, from `data_dir`.
pub(crate) fn record_to_replay(
    data_dir: &Path,
    id: &str,
) -> anyhow::Result<Result<InvocationRecord, ExitCode>> {
    let store = match local_store(data_dir) {
        Ok(store) => store,
        Err(code) => return Ok(Err(code)),
    };
    let record = match local_record(&store, id)? {
        Ok(record) => record,
        Err(code) => return Ok(Err(code)),
    };
    if record.event.truncated {
        eprintln!("error: {}", truncated_event(&record));
        return Ok(Err(ExitCode::FAILURE));
    }
    Ok(Ok(record))
}

/// `invoke --replay ID --endpoint`: the server runs the recorded event again.
pub(crate) async fn replay_remote(
    endpoint: &str,
    token: Option<&str>,
    id: &str,
) -> anyhow::Result<ExitCode> {
    let client = crate::remote::client_for(endpoint, token)?;
    match client.replay(id).await {
        Ok(Outcome::Replayed { recorded, replay }) => print_replay(&recorded, &replay),
        Ok(other) => anyhow::bail!("the server answered the replay with {other:?}"),
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The recorded outcome and the new one side by side; fails when the new one failed.
pub(crate) fn print_replay(
    recorded: &InvocationRecord,
    replay: &ReplayAnswer,
) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    write!(out, "{}", side_by_side(recorded, replay)).context("write the replay")?;
    Ok(if replay.outcome == RecordOutcome::Success {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Width of each column of the side-by-side view.
const COLUMN: usize = 48;

fn side_by_side(recorded: &InvocationRecord, replay: &ReplayAnswer) -> String {
    let recorded_payload = recorded
        .error
        .as_ref()
        .or(recorded.result.as_ref())
        .map_or_else(String::new, |payload| payload.text.clone());
    let rows = [
        (
            "",
            format!("recorded {}", recorded.id),
            match &replay.record_id {
                Some(id) => format!("now {id}"),
                None => "now".to_owned(),
            },
        ),
        (
            "deploy",
            recorded
                .deploy
                .map_or_else(|| "-".to_owned(), |deploy| deploy.to_string()),
            replay
                .deploy
                .map_or_else(|| "app folder".to_owned(), |deploy| deploy.to_string()),
        ),
        (
            "version",
            recorded.executed_version.clone().unwrap_or_default(),
            replay.executed_version.clone().unwrap_or_default(),
        ),
        (
            "outcome",
            recorded.outcome.as_str().to_owned(),
            replay.outcome.as_str().to_owned(),
        ),
        (
            "duration",
            format!("{:.2} ms", recorded.timings.duration_ms),
            format!("{:.2} ms", replay.duration_ms),
        ),
    ];
    let mut text = String::new();
    for (label, left, right) in rows {
        text.push_str(&format!("{label:<10}{left:<COLUMN$}  {right}\n"));
    }
    // The answers pretty-printed, line beside line; a line longer than the column pushes
    // its neighbour right rather than being cut, so every line reads whole.
    let left = pretty_lines(&recorded_payload);
    let right = pretty_lines(&replay.payload);
    for index in 0..left.len().max(right.len()) {
        let label = if index == 0 { "answer" } else { "" };
        let left = left.get(index).map_or("", String::as_str);
        let right = right.get(index).map_or("", String::as_str);
        text.push_str(&format!("{label:<10}{left:<COLUMN$}  {right}\n"));
    }
    text
}

/// `text` as pretty-printed JSON lines (as it is when it is not JSON).
fn pretty_lines(text: &str) -> Vec<String> {
    let pretty = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| text.to_owned());
    let mut lines: Vec<String> = pretty.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// `TIME  ID  FUNCTION  TRIGGER  OUTCOME  DURATION`, one line per record.
fn table(records: &[RecordSummary]) -> String {
    if records.is_empty() {
        return String::new();
    }
    let rows: Vec<[String; 6]> = records
        .iter()
        .map(|record| {
            let outcome = match &record.error_type {
                Some(error_type) => format!("{} ({error_type})", record.outcome.as_str()),
                None => record.outcome.as_str().to_owned(),
            };
            [
                serverful_platform::logs::timestamp(record.at_ms),
                record.id.clone(),
                format!("{}/{}", record.stack, record.function),
                record.trigger.clone(),
                outcome,
                format!("{:.2} ms", record.duration_ms),
            ]
        })
        .collect();
    let header = ["TIME", "ID", "FUNCTION", "TRIGGER", "OUTCOME", "DURATION"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut line = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if index + 1 == cells.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        line.push('\n');
        line
    };
    let mut text = line(&header);
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        text.push_str(&line(&cells));
    }
    text
}

/// A record pretty-printed: who, when, how it went, timings, the event, the answer and
/// the logs.
fn show_text(record: &InvocationRecord) -> String {
    let mut text = String::new();
    let mut field = |name: &str, value: String| {
        text.push_str(&format!("{name:<16}{value}\n"));
    };
    field("id", record.id.clone());
    field("time", serverful_platform::logs::timestamp(record.at_ms));
    field(
        "function",
        format!(
            "{}/{} ({})",
            record.stack, record.function, record.function_name
        ),
    );
    field(
        "version",
        format!(
            "deploy {}, Lambda version {}{}",
            record
                .deploy
                .map_or_else(|| "-".to_owned(), |deploy| deploy.to_string()),
            record.executed_version.as_deref().unwrap_or("-"),
            record
                .qualifier
                .as_deref()
                .map_or_else(String::new, |qualifier| format!(" (called as {qualifier})")),
        ),
    );
    field(
        "instance",
        record.instance.clone().unwrap_or_else(|| "-".to_owned()),
    );
    field("trigger", record.trigger.clone());
    field("outcome", record.outcome.as_str().to_owned());
    let timings = &record.timings;
    let mut numbers = format!(
        "duration {:.2} ms, billed {} ms",
        timings.duration_ms, timings.billed_ms
    );
    if let Some(init_ms) = timings.init_ms {
        numbers.push_str(&format!(", init {init_ms:.2} ms (cold start)"));
    }
    if let (Some(used), Some(size)) = (timings.max_memory_used_mb, timings.memory_mb) {
        numbers.push_str(&format!(", memory {used} of {size} MB"));
    }
    field("timings", numbers);
    text.push_str(&payload_text("event", Some(&record.event)));
    text.push_str(&payload_text("result", record.result.as_ref()));
    text.push_str(&payload_text("error", record.error.as_ref()));
    text.push_str(&format!("logs ({} lines)\n", record.logs.len()));
    for line in &record.logs {
        text.push_str(&format!("  {line}\n"));
    }
    text
}

fn payload_text(name: &str, payload: Option<&Payload>) -> String {
    let Some(payload) = payload else {
        return String::new();
    };
    let mut heading = format!("{name} ({} bytes", payload.bytes);
    if payload.truncated {
        heading.push_str(&format!(", truncated to {}", payload.text.len()));
    }
    heading.push_str(")\n");
    let body = serde_json::from_str::<serde_json::Value>(&payload.text)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| payload.text.clone());
    let mut text = heading;
    for line in body.lines() {
        text.push_str(&format!("  {line}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serverful_invocations::Timings;

    fn record() -> InvocationRecord {
        InvocationRecord {
            id: "r1".to_owned(),
            at_ms: 0,
            stack: "app".to_owned(),
            function: "Calc".to_owned(),
            function_name: "app-Calc-ABC".to_owned(),
            deploy: Some(1),
            executed_version: Some("$LATEST".to_owned()),
            qualifier: None,
            instance: Some("pid 7".to_owned()),
            trigger: "cli".to_owned(),
            outcome: RecordOutcome::Error,
            event: Payload {
                text: "{}".to_owned(),
                truncated: false,
                bytes: 2,
            },
            result: None,
            error: Some(Payload {
                text: r#"{"errorType":"ValueError","errorMessage":"unlucky"}"#.to_owned(),
                truncated: false,
                bytes: 50,
            }),
            logs: vec!["START RequestId: r1".to_owned()],
            timings: Timings {
                duration_ms: 1.5,
                billed_ms: 2,
                ..Timings::default()
            },
            replay_of: None,
        }
    }

    #[test]
    fn a_replay_shows_both_outcomes_side_by_side() {
        let replay = ReplayAnswer {
            record_id: Some("r2".to_owned()),
            outcome: RecordOutcome::Success,
            payload: r#"{"double":26}"#.to_owned(),
            executed_version: Some("$LATEST".to_owned()),
            deploy: Some(2),
            duration_ms: 0.5,
        };
        let text = side_by_side(&record(), &replay);
        let rows: Vec<Vec<&str>> = text
            .lines()
            .map(|line| line.split_whitespace().collect())
            .collect();
        assert_eq!(rows[0], ["recorded", "r1", "now", "r2"]);
        assert_eq!(rows[1], ["deploy", "1", "2"]);
        assert_eq!(rows[3], ["outcome", "error", "success"]);
        assert_eq!(rows[4], ["duration", "1.50", "ms", "0.50", "ms"]);
        assert_eq!(rows[5], ["answer", "{", "{"]);
        assert_eq!(
            rows[6],
            ["\"errorMessage\":", "\"unlucky\",", "\"double\":", "26"]
        );
        assert_eq!(rows[7], ["\"errorType\":", "\"ValueError\"", "}"]);
        assert_eq!(rows[8], ["}"]);
    }

    #[test]
    fn a_record_shows_its_payloads_pretty_and_its_timings() {
        let text = show_text(&record());
        assert!(
            text.contains("function        app/Calc (app-Calc-ABC)\n"),
            "{text}"
        );
        assert!(
            text.contains("timings         duration 1.50 ms, billed 2 ms\n"),
            "{text}"
        );
        assert!(
            text.contains("error (50 bytes)\n  {\n    \"errorMessage\": \"unlucky\",\n"),
            "{text}"
        );
        assert!(
            text.contains("logs (1 lines)\n  START RequestId: r1\n"),
            "{text}"
        );
    }
}
