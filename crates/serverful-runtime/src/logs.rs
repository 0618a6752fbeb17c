//! Log output of functions: the sink every line goes to, and the platform lines Lambda
//! writes around each invocation (`START`, `END`, `REPORT`, timeouts, exits).

use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use time::OffsetDateTime;

/// The shape of a log sink: called with the function name and one line (no newline).
pub type LogFn = dyn Fn(&str, &str) + Send + Sync;

/// Where the runtime sends every log line of every function. Cheap to clone.
#[derive(Clone)]
pub struct LogSink(Arc<LogFn>);

impl LogSink {
    /// A sink calling `f(function, line)` for each line.
    pub fn new(f: impl Fn(&str, &str) + Send + Sync + 'static) -> LogSink {
        LogSink(Arc::new(f))
    }

    /// The default sink: `HelloFunction | line` on the server's stdout, written by one
    /// thread that takes lines in order and writes each burst with one system call (under
    /// load, a write per line was a noticeable share of the server's CPU). Call
    /// [`flush_stdout`] before the process exits.
    pub fn stdout() -> LogSink {
        LogSink::new(|function, line| {
            let writer = stdout_writer();
            let line = format!("{function} | {line}\n");
            if let Err(unsent) = writer.send(StdoutMessage::Line(line)) {
                // The writer thread is gone (it never is in practice): write directly.
                if let StdoutMessage::Line(line) = unsent.0 {
                    let _ = std::io::stdout().lock().write_all(line.as_bytes());
                }
            }
        })
    }

    /// Sends one line.
    pub fn emit(&self, function: &str, line: &str) {
        (self.0)(function, line);
    }
}

enum StdoutMessage {
    Line(String),
    /// Answered once every line sent before it is written.
    Flush(std::sync::mpsc::SyncSender<()>),
}

/// How long the log writer waits after a first line before it writes what has come.
/// Log lines appear at most this much later; a wake-up per line cost more CPU than the
/// writing itself.
const WRITER_LINGER: Duration = Duration::from_millis(2);

/// The one writer thread behind [`LogSink::stdout`], started on first use.
fn stdout_writer() -> &'static std::sync::mpsc::Sender<StdoutMessage> {
    static WRITER: std::sync::OnceLock<std::sync::mpsc::Sender<StdoutMessage>> =
        std::sync::OnceLock::new();
    WRITER.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel::<StdoutMessage>();
        let spawned = std::thread::Builder::new()
            .name("serverful-log-writer".to_owned())
            .spawn(move || {
                let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
                while let Ok(first) = receiver.recv() {
                    // Let the burst that woke us gather before writing it: lines sent
                    // while this thread sleeps do not wake it, so under load the thread
                    // wakes once per linger instead of once or twice per invocation.
                    if matches!(first, StdoutMessage::Line(_)) {
                        std::thread::sleep(WRITER_LINGER);
                    }
                    let mut acks = Vec::new();
                    let mut message = Some(first);
                    // Take everything queued meanwhile, then write it in one go.
                    while let Some(current) = message {
                        match current {
                            StdoutMessage::Line(line) => {
                                let _ = out.write_all(line.as_bytes());
                            }
                            StdoutMessage::Flush(ack) => acks.push(ack),
                        }
                        message = receiver.try_recv().ok();
                    }
                    let _ = out.flush();
                    for ack in acks {
                        let _ = ack.send(());
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::warn!("failed to start the log writer thread: {error}");
        }
        sender
    })
}

/// Waits (at most 5 s) until every line sent to [`LogSink::stdout`] sinks so far is
/// written.
pub fn flush_stdout() {
    let (ack, done) = std::sync::mpsc::sync_channel(1);
    if stdout_writer().send(StdoutMessage::Flush(ack)).is_ok() {
        let _ = done.recv_timeout(Duration::from_secs(5));
    }
}

impl Default for LogSink {
    fn default() -> Self {
        LogSink::stdout()
    }
}

impl fmt::Debug for LogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogSink")
    }
}

/// `START RequestId: {id} Version: $LATEST`
pub(crate) fn start_line(request_id: &str) -> String {
    format!("START RequestId: {request_id} Version: $LATEST")
}

/// `END RequestId: {id}`
pub(crate) fn end_line(request_id: &str) -> String {
    format!("END RequestId: {request_id}")
}

/// The numbers of one `REPORT` line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Report {
    pub duration: Duration,
    pub memory_size_mb: u32,
    pub max_memory_used_mb: u64,
    /// Set on the first invocation of an instance (a cold start).
    pub init_duration: Option<Duration>,
}

/// `REPORT RequestId: …\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax
/// Memory Used: 45 MB\t` plus `Init Duration: 12.34 ms\t` on cold starts. Every field ends
/// with a tab, as on Lambda. Billing is per millisecond, rounded up, and since August 2025
/// includes the init phase of on-demand functions.
pub(crate) fn report_line(request_id: &str, report: &Report) -> String {
    let duration_ms = millis(report.duration);
    let init_ms = report.init_duration.map(millis);
    let billed_ms = (duration_ms + init_ms.unwrap_or(0.0)).ceil().max(1.0);
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {billed_ms:.0} ms\t\
         Memory Size: {} MB\tMax Memory Used: {} MB\t",
        report.memory_size_mb, report.max_memory_used_mb
    );
    if let Some(init_ms) = init_ms {
        line.push_str(&format!("Init Duration: {init_ms:.2} ms\t"));
    }
    line
}

/// `INIT_REPORT Init Duration: … ms\tPhase: init\tStatus: error\tError Type: …`, what Lambda
/// logs when an instance fails to initialize.
pub(crate) fn init_failure_line(init_duration: Duration, error_type: &str) -> String {
    format!(
        "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: error\tError Type: {error_type}",
        millis(init_duration)
    )
}

/// `2024-01-01T00:00:00.000Z {id} Task timed out after 3.00 seconds`
pub(crate) fn timeout_line(request_id: &str, timeout: Duration) -> String {
    format!(
        "{} {request_id} Task timed out after {:.2} seconds",
        timestamp(OffsetDateTime::now_utc()),
        timeout.as_secs_f64()
    )
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// An ISO 8601 UTC timestamp with milliseconds, as Lambda's log lines carry.
pub(crate) fn timestamp(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    at.format(&format)
        .expect("a fixed UTC format always formats")
}

/// `AWS_LAMBDA_LOG_STREAM_NAME`: `2024/01/31/[$LATEST]` and 32 hex digits, one per instance.
pub(crate) fn log_stream_name(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]/[month]/[day]");
    let date = at
        .format(&format)
        .expect("a fixed date format always formats");
    format!("{date}/[$LATEST]{}", uuid::Uuid::new_v4().simple())
}

/// Lambda's error JSON: `{"errorMessage": …, "errorType": …}`.
pub(crate) fn error_json(error_type: &str, message: &str) -> Bytes {
    let value = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    Bytes::from(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_of_a_warm_invocation() {
        let report = Report {
            duration: Duration::from_micros(1234),
            memory_size_mb: 128,
            max_memory_used_mb: 45,
            init_duration: None,
        };
        assert_eq!(
            report_line("abc", &report),
            "REPORT RequestId: abc\tDuration: 1.23 ms\tBilled Duration: 2 ms\t\
             Memory Size: 128 MB\tMax Memory Used: 45 MB\t"
        );
    }

    #[test]
    fn report_line_of_a_cold_start_bills_the_init_phase() {
        let report = Report {
            duration: Duration::from_micros(395_990),
            memory_size_mb: 512,
            max_memory_used_mb: 301,
            init_duration: Some(Duration::from_micros(265_720)),
        };
        assert_eq!(
            report_line("abc", &report),
            "REPORT RequestId: abc\tDuration: 395.99 ms\tBilled Duration: 662 ms\t\
             Memory Size: 512 MB\tMax Memory Used: 301 MB\tInit Duration: 265.72 ms\t"
        );
    }

    #[test]
    fn start_end_and_timeout_lines() {
        assert_eq!(start_line("r1"), "START RequestId: r1 Version: $LATEST");
        assert_eq!(end_line("r1"), "END RequestId: r1");
        let line = timeout_line("r1", Duration::from_secs(3));
        assert!(
            line.ends_with("Z r1 Task timed out after 3.00 seconds"),
            "{line}"
        );
    }

    #[test]
    fn log_stream_names_look_like_lambdas() {
        let at = OffsetDateTime::from_unix_timestamp(1_704_067_200).expect("valid timestamp");
        let name = log_stream_name(at);
        assert!(name.starts_with("2024/01/01/[$LATEST]"), "{name}");
        assert_eq!(name.len(), "2024/01/01/[$LATEST]".len() + 32);
        assert_eq!(timestamp(at), "2024-01-01T00:00:00.000Z");
    }

    #[test]
    fn error_json_shape() {
        assert_eq!(
            error_json("Runtime.ExitError", "boom"),
            Bytes::from_static(br#"{"errorMessage":"boom","errorType":"Runtime.ExitError"}"#)
        );
    }
}
