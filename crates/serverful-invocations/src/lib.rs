//! Invocation records: every invocation's event, result or error, log lines, timings,
//! version, instance and trigger, kept in a bounded store so that a developer can find the
//! call that broke a function and run its event again (`serverful invocations`,
//! `serverful invoke --replay`, the admin API's `/v1/invocations`).
//!
//! - [`Capture`]: what the platform hands over for one finished invocation, as it was
//!   (the event and result bytes untouched), on the invocation's path.
//! - [`Recorder`]: takes captures without ever blocking the invocation (a bounded queue;
//!   when it is full the capture is dropped and counted) and, on a thread of its own,
//!   turns them into [`InvocationRecord`]s ([`redact`] the named fields, cap payloads at
//!   [`Settings::payload_cap`] bytes and mark them `truncated`) and writes them in batches,
//!   pruning the oldest records past [`Settings::max_records`] or [`Settings::max_bytes`].
//! - [`InvocationBackend`]: the storage, one trait with room for another backend
//!   (PostgreSQL for cluster mode); [`SqliteInvocations`] keeps everything in one SQLite
//!   file, `DATA/invocations.sqlite`.
//!
//! Architecture invariant: this crate knows nothing about processes, HTTP or the runtime;
//! the platform builds [`Capture`]s from what the runtime reports.

mod redact;
mod sqlite;
mod writer;

use std::path::PathBuf;

pub use redact::{redact_json, Redactor};
pub use sqlite::SqliteInvocations;
pub use writer::{Recorder, WriterOptions};

/// The file [`SqliteInvocations`] keeps in a data folder.
pub const FILE_NAME: &str = "invocations.sqlite";

/// What replaces a redacted value.
pub const REDACTED: &str = "***";

/// The environment variable a function sets to `false` (in its template's `Environment`)
/// to keep its invocations out of the records.
pub const OPT_OUT_VARIABLE: &str = "SERVERFUL_RECORD_INVOCATIONS";

/// Whether a function's environment keeps it out of the records
/// ([`OPT_OUT_VARIABLE`] set to `false`, `off`, `0` or `no`).
pub fn opted_out(value: Option<&str>) -> bool {
    value.is_some_and(|value| {
        matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "false" | "off" | "0" | "no"
        )
    })
}

/// What is recorded and how much is kept. Set server-wide (`serve`/`up` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Whether invocations are recorded at all.
    pub enabled: bool,
    /// At most this many records; the oldest go first.
    pub max_records: u64,
    /// At most this many bytes of records (their JSON); the oldest go first.
    pub max_bytes: u64,
    /// Events, results and errors over this many bytes are cut there and marked
    /// `truncated` with their original size.
    pub payload_cap: usize,
    /// Header and JSON field names (case-insensitive) whose values are replaced by
    /// [`REDACTED`] anywhere in events and results before they are kept.
    pub redact: Vec<String>,
}

/// 1000 records.
pub const DEFAULT_MAX_RECORDS: u64 = 1000;
/// 100 MiB of records.
pub const DEFAULT_MAX_BYTES: u64 = 100 * 1024 * 1024;
/// 256 KiB per event, result or error.
pub const DEFAULT_PAYLOAD_CAP: usize = 256 * 1024;

/// The first lines of an invocation's log a record keeps; with [`LOG_TAIL_LINES`].
pub const LOG_HEAD_LINES: usize = 20;
/// The last lines of an invocation's log a record keeps; with [`LOG_HEAD_LINES`].
pub const LOG_TAIL_LINES: usize = 80;
/// Longer log lines are cut to this many bytes.
pub const LOG_LINE_CAP: usize = 2048;

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            enabled: true,
            max_records: DEFAULT_MAX_RECORDS,
            max_bytes: DEFAULT_MAX_BYTES,
            payload_cap: DEFAULT_PAYLOAD_CAP,
            redact: Vec::new(),
        }
    }
}

impl Settings {
    /// `the last N records / X MB`, for messages about records that are gone.
    pub fn bounds(&self) -> String {
        format!(
            "the last {} records / {} MB",
            self.max_records,
            self.max_bytes.div_ceil(1024 * 1024)
        )
    }
}

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordOutcome {
    /// The function answered.
    Success,
    /// The function failed: its handler threw, its process crashed, its init failed.
    Error,
    /// It ran past its timeout.
    Timeout,
    /// Its concurrency limit was reached and the wait queue was full.
    Throttled,
    /// The event or the response was over Lambda's payload limit.
    PayloadTooLarge,
    /// It could not run (it could not start, the server was stopping, no such function).
    Unavailable,
}

impl RecordOutcome {
    /// The outcome's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordOutcome::Success => "success",
            RecordOutcome::Error => "error",
            RecordOutcome::Timeout => "timeout",
            RecordOutcome::Throttled => "throttled",
            RecordOutcome::PayloadTooLarge => "payload_too_large",
            RecordOutcome::Unavailable => "unavailable",
        }
    }
}

/// Timings of an invocation, as its `REPORT` line gives them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    /// The cold start's init duration, when this invocation started the instance.
    pub init_ms: Option<f64>,
    /// How long the function ran (or, when it never ran, how long the call took).
    pub duration_ms: f64,
    /// The duration rounded up to the millisecond, as Lambda bills it.
    pub billed_ms: u64,
    /// The function's memory size.
    pub memory_mb: Option<u32>,
    /// The instance's peak memory.
    pub max_memory_used_mb: Option<u64>,
}

/// An event, result or error as kept: its text, cut at [`Settings::payload_cap`] bytes
/// when `truncated`, and the size it had.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub text: String,
    pub truncated: bool,
    /// The payload's size in bytes as the function got or gave it.
    pub bytes: u64,
}

/// One kept invocation, as `serverful invocations show` and the admin API give it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationRecord {
    /// The Lambda request id (what the function's log lines and `aws lambda invoke` show).
    pub id: String,
    /// When the call began, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub stack: String,
    /// The function's logical id.
    pub function: String,
    /// The function's physical name.
    pub function_name: String,
    /// The stack's deploy (the platform's version number) that ran it.
    pub deploy: Option<u64>,
    /// The Lambda version that ran (`$LATEST` or a number).
    pub executed_version: Option<String>,
    /// The qualifier the caller named (`$LATEST`, a version or an alias).
    pub qualifier: Option<String>,
    /// The instance (process id) that ran it.
    pub instance: Option<String>,
    /// What called it: `route GET /items/{id} (api abc123)`, `schedule Nightly`,
    /// `queue jobs`, `stream Orders`, `lambda-api`, `cli`, `replay of ID`, ...
    pub trigger: String,
    pub outcome: RecordOutcome,
    pub event: Payload,
    /// The function's answer, when it succeeded.
    pub result: Option<Payload>,
    /// Lambda's error JSON (`errorType`, `errorMessage`), when it failed.
    pub error: Option<Payload>,
    /// The invocation's log lines: the first and last ones when there were many, with a
    /// line in between saying how many were left out.
    pub logs: Vec<String>,
    pub timings: Timings,
    /// The record this invocation replayed.
    pub replay_of: Option<String>,
}

impl InvocationRecord {
    /// The record as a list shows it.
    pub fn summary(&self) -> RecordSummary {
        RecordSummary {
            id: self.id.clone(),
            at_ms: self.at_ms,
            stack: self.stack.clone(),
            function: self.function.clone(),
            function_name: self.function_name.clone(),
            executed_version: self.executed_version.clone(),
            trigger: self.trigger.clone(),
            outcome: self.outcome,
            duration_ms: self.timings.duration_ms,
            error_type: self
                .error
                .as_ref()
                .and_then(|error| error_type(&error.text)),
            replay_of: self.replay_of.clone(),
        }
    }
}

/// `errorType` of Lambda's error JSON.
fn error_type(error: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(error).ok()?;
    value.get("errorType")?.as_str().map(str::to_owned)
}

/// One line of `serverful invocations`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordSummary {
    pub id: String,
    pub at_ms: i64,
    pub stack: String,
    pub function: String,
    pub function_name: String,
    pub executed_version: Option<String>,
    pub trigger: String,
    pub outcome: RecordOutcome,
    pub duration_ms: f64,
    pub error_type: Option<String>,
    pub replay_of: Option<String>,
}

/// Which records to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub stack: Option<String>,
    /// The function's logical id or physical name.
    pub function: Option<String>,
    /// Only records of calls that began at or after this time (ms since the Unix epoch).
    pub since_ms: Option<i64>,
    /// Only failed invocations (any outcome but success).
    pub errors_only: bool,
    /// At most this many.
    pub limit: usize,
    /// Only records older than this cursor (the `next` of a previous page).
    pub before: Option<i64>,
}

/// A page of records, newest first.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub records: Vec<RecordSummary>,
    /// Pass it back as `before` for the next (older) page; `None` on the last page.
    pub next: Option<String>,
}

/// How much the store holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreTotals {
    pub n_records: u64,
    pub bytes: u64,
}

/// Storage of invocation records. Shared by threads: the writer inserts while readers
/// list.
pub trait InvocationBackend: Send + Sync {
    /// Keeps `records` (a record with an id already kept replaces it), then deletes the
    /// oldest until at most `max_records` records of at most `max_bytes` bytes remain.
    /// All or none. Returns how many were pruned.
    fn insert(
        &self,
        records: &[InvocationRecord],
        max_records: u64,
        max_bytes: u64,
    ) -> Result<u64, RecordError>;

    /// Records as `query` selects them, newest first.
    fn list(&self, query: &ListQuery) -> Result<Page, RecordError>;

    /// The record with this id, if it is kept.
    fn get(&self, id: &str) -> Result<Option<InvocationRecord>, RecordError>;

    /// Deletes the records of `stack`; returns how many there were.
    fn delete_stack(&self, stack: &str) -> Result<u64, RecordError>;

    /// How many records and bytes are kept.
    fn totals(&self) -> Result<StoreTotals, RecordError>;
}

/// Why the record store failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The data folder has no record store (nothing has been recorded in it yet).
    #[error("{} does not exist: no invocation has been recorded in this data folder yet", path.display())]
    Missing { path: PathBuf },
    #[error("failed to open the invocation records {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// A statement failed; `action` says what it was doing ("insert records").
    #[error("failed to {action} in the invocation records: {source}")]
    Sqlite {
        action: &'static str,
        source: rusqlite::Error,
    },
    /// A shared database's statement failed (cluster mode).
    #[error("failed to {action} in the invocation records: {message}")]
    Storage {
        action: &'static str,
        message: String,
    },
    /// A kept record does not read back (written by another Serverful?).
    #[error("the invocation record {id} is unreadable: {source}")]
    Corrupt {
        id: String,
        source: serde_json::Error,
    },
    /// The file was written by a newer Serverful.
    #[error("the invocation records {} have schema version {found}; this Serverful reads up to {supported}: upgrade Serverful or move the file away", path.display())]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("`{0}` is not a record cursor: a cursor is the `next` a previous page returned")]
    BadCursor(String),
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// Everything the platform knows of one finished invocation, untouched: the writer
/// thread redacts, caps and serializes it, so the invocation's path only moves it.
#[derive(Debug, Clone)]
pub struct Capture {
    pub id: String,
    pub at_ms: i64,
    pub stack: String,
    pub function: String,
    pub function_name: String,
    pub deploy: Option<u64>,
    pub executed_version: Option<String>,
    pub qualifier: Option<String>,
    pub instance: Option<String>,
    pub trigger: String,
    pub outcome: RecordOutcome,
    pub event: CapturedBytes,
    pub result: Option<CapturedBytes>,
    pub error: Option<CapturedBytes>,
    /// The invocation's log lines as the runtime kept them.
    pub logs: Vec<String>,
    pub timings: Timings,
    pub replay_of: Option<String>,
}

/// A payload on its way to the writer: shared bytes (an event is not copied), and its
/// size when the caller already cut it (a streamed response).
#[derive(Debug, Clone)]
pub struct CapturedBytes {
    pub bytes: bytes::Bytes,
    /// The original size, when larger than `bytes`.
    pub original_bytes: Option<u64>,
}

impl CapturedBytes {
    /// Whole bytes.
    pub fn new(bytes: bytes::Bytes) -> CapturedBytes {
        CapturedBytes {
            bytes,
            original_bytes: None,
        }
    }

    /// How many bytes they held as the function got or gave them.
    pub fn size(&self) -> u64 {
        let held = self.bytes.len() as u64;
        self.original_bytes
            .map_or(held, |original| original.max(held))
    }
}

impl Capture {
    /// The bytes it holds, for the writer's queue bound.
    pub(crate) fn held_bytes(&self) -> usize {
        let payload =
            |payload: &Option<CapturedBytes>| payload.as_ref().map_or(0, |p| p.bytes.len());
        self.event.bytes.len()
            + payload(&self.result)
            + payload(&self.error)
            + self.logs.iter().map(String::len).sum::<usize>()
            + 512
    }

    /// The record kept for it under `settings`: named fields redacted, payloads capped,
    /// log lines bounded.
    pub fn into_record(self, redactor: &Redactor, payload_cap: usize) -> InvocationRecord {
        let keep = |payload: &CapturedBytes| redactor.keep(payload, payload_cap);
        InvocationRecord {
            event: keep(&self.event),
            result: self.result.as_ref().map(keep),
            error: self.error.as_ref().map(keep),
            logs: bound_logs(self.logs),
            id: self.id,
            at_ms: self.at_ms,
            stack: self.stack,
            function: self.function,
            function_name: self.function_name,
            deploy: self.deploy,
            executed_version: self.executed_version,
            qualifier: self.qualifier,
            instance: self.instance,
            trigger: self.trigger,
            outcome: self.outcome,
            timings: self.timings,
            replay_of: self.replay_of,
        }
    }
}

/// The first [`LOG_HEAD_LINES`] and last [`LOG_TAIL_LINES`] lines, each at most
/// [`LOG_LINE_CAP`] bytes, with a line saying how many were left out between.
fn bound_logs(mut lines: Vec<String>) -> Vec<String> {
    for line in &mut lines {
        if line.len() > LOG_LINE_CAP {
            let cut = floor_char_boundary(line, LOG_LINE_CAP);
            line.truncate(cut);
            line.push_str(" [serverful: line cut]");
        }
    }
    if lines.len() <= LOG_HEAD_LINES + LOG_TAIL_LINES {
        return lines;
    }
    let n_omitted = lines.len() - LOG_HEAD_LINES - LOG_TAIL_LINES;
    let tail = lines.split_off(lines.len() - LOG_TAIL_LINES);
    lines.truncate(LOG_HEAD_LINES);
    lines.push(format!("[serverful] {n_omitted} log lines left out"));
    lines.extend(tail);
    lines
}

/// The largest index at most `index` that is a character boundary of `text`.
pub(crate) fn floor_char_boundary(text: &str, index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    let mut cut = index;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_logs_keep_their_first_and_last_lines() {
        let lines: Vec<String> = (0..500).map(|n| format!("line {n}")).collect();
        let kept = bound_logs(lines);
        assert_eq!(kept.len(), LOG_HEAD_LINES + 1 + LOG_TAIL_LINES);
        assert_eq!(kept[0], "line 0");
        assert_eq!(kept[LOG_HEAD_LINES], "[serverful] 400 log lines left out");
        assert_eq!(kept.last().map(String::as_str), Some("line 499"));
        let short = bound_logs(vec!["a".to_owned(), "é".repeat(2000)]);
        assert_eq!(short.len(), 2);
        assert!(short[1].len() <= LOG_LINE_CAP + 30);
        assert!(short[1].ends_with("[serverful: line cut]"));
    }

    #[test]
    fn functions_opt_out_with_false() {
        for value in ["false", "FALSE", "off", "0", "no"] {
            assert!(opted_out(Some(value)), "{value}");
        }
        for value in [None, Some("true"), Some(""), Some("on")] {
            assert!(!opted_out(value), "{value:?}");
        }
    }
}
