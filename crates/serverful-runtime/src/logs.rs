//! Log output of functions: the sink every line goes to, the store lines are also kept in
//! (for `serverful logs`), and the platform lines Lambda writes around each invocation
//! (`START`, `END`, `REPORT`, timeouts, exits).

use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use time::OffsetDateTime;

/// The shape of a log sink: called with the function name and one line (no newline).
pub type LogFn = dyn Fn(&str, &str) + Send + Sync;

/// One log line handed to a [`LogStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// [`crate::RuntimeOptions::stack`].
    pub stack: String,
    pub function: String,
    /// The invocation the line belongs to: set on `START`, `END`, `REPORT` and the
    /// platform's error lines, and on a Lambda-mode function's own output while it runs an
    /// invocation; unset on init lines and on an HTTP-mode server's output (it serves many
    /// requests at once).
    pub request_id: Option<String>,
    /// When the line reached the runtime, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The line, without its newline.
    pub text: String,
}

/// Where log lines are kept for reading later (`serverful logs`), besides being printed.
/// The runtime only defines it: the binary plugs in a store, so this crate depends on no
/// storage.
pub trait LogStore: Send + Sync + fmt::Debug {
    /// Takes one line. Called on the invocation path, so it must return at once: queue
    /// the line, or drop it when the store cannot keep up, but never wait for storage.
    fn append(&self, record: LogRecord);

    /// Waits until every line appended so far is stored, at most `timeout`.
    fn flush(&self, timeout: Duration);
}

/// One invocation's log lines as its caller gets them back (Lambda's `LogType: Tail`:
/// `START`, the function's output, `END` and `REPORT`), of which the last
/// [`LOG_TAIL_BYTES`] are kept. Cheap to clone: clones share the lines.
#[derive(Debug, Clone, Default)]
pub struct LogTail(Arc<std::sync::Mutex<TailState>>);

/// How much of an invocation's log Lambda returns to a caller who asks for its tail.
pub const LOG_TAIL_BYTES: usize = 4 * 1024;

/// The first lines of an invocation's log a [`LogTail`] keeps whatever comes after, for an
/// invocation record ([`LogTail::lines`]).
pub const LOG_HEAD_LINES: usize = 20;

/// The end of the log a [`LogTail`] keeps for [`LogTail::lines`]; trimmed to it once the
/// text is twice as long.
const KEPT_TAIL_BYTES: usize = 16 * 1024;

#[derive(Debug, Default)]
struct TailState {
    /// The end of the log, at least [`KEPT_TAIL_BYTES`] once it is that long.
    text: String,
    /// The first [`LOG_HEAD_LINES`] lines.
    head: Vec<String>,
    n_lines: usize,
    /// Whether the start of `text` has been cut away.
    trimmed: bool,
}

impl LogTail {
    pub fn new() -> LogTail {
        LogTail::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TailState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds one line.
    pub(crate) fn push(&self, line: &str) {
        let mut state = self.lock();
        state.n_lines += 1;
        if state.head.len() < LOG_HEAD_LINES {
            state.head.push(line.to_owned());
        }
        state.text.push_str(line);
        state.text.push('\n');
        // Trimmed now and then rather than at every line: only the end is ever read.
        if state.text.len() > 2 * KEPT_TAIL_BYTES {
            let cut = tail_start(&state.text, KEPT_TAIL_BYTES);
            state.text.drain(..cut);
            state.trimmed = true;
        }
    }

    /// The last [`LOG_TAIL_BYTES`] of the log (fewer when a character straddles the cut).
    pub fn text(&self) -> String {
        let state = self.lock();
        state.text[tail_start(&state.text, LOG_TAIL_BYTES)..].to_owned()
    }

    /// The log's lines as an invocation record keeps them: all of them, or, when there
    /// were too many to keep, the first [`LOG_HEAD_LINES`], a line saying how many were
    /// left out, and the last ones.
    pub fn lines(&self) -> Vec<String> {
        let state = self.lock();
        if !state.trimmed {
            return state.text.lines().map(str::to_owned).collect();
        }
        // The kept text starts within a line, which is left out.
        let tail: Vec<&str> = state
            .text
            .split_once('\n')
            .map_or("", |(_, rest)| rest)
            .lines()
            .collect();
        let n_left_out = state.n_lines.saturating_sub(state.head.len() + tail.len());
        let mut lines = state.head.clone();
        lines.push(format!("[serverful] {n_left_out} log lines left out"));
        lines.extend(tail.into_iter().map(str::to_owned));
        lines
    }
}

/// What the runtime tells a caller about one invocation it ran ([`ReportSlot`]): what its
/// `REPORT` line says, and which request id and instance it had.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationReport {
    pub request_id: String,
    /// The instance's process id.
    pub instance: u32,
    pub report: Report,
}

impl InvocationReport {
    /// The duration Lambda bills: the run and the cold start's init, rounded up to the
    /// millisecond.
    pub fn billed_ms(&self) -> u64 {
        self.report.milliseconds().1
    }
}

/// Where the runtime puts the [`InvocationReport`] of an invocation whose caller asked for
/// it (`InvokeContext::report`), when its `REPORT` line is written. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ReportSlot(Arc<std::sync::Mutex<Option<InvocationReport>>>);

impl ReportSlot {
    pub fn new() -> ReportSlot {
        ReportSlot::default()
    }

    pub(crate) fn fill(&self, report: InvocationReport) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(report);
    }

    /// The report, once the invocation has ended; `None` if it never ran on an instance
    /// (throttled, not started) or has not ended yet.
    pub fn get(&self) -> Option<InvocationReport> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Where the last `bytes` of `text` begin, on a character boundary.
fn tail_start(text: &str, bytes: usize) -> usize {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    start
}

/// Whether [`LogSink::stdout`] prints JSON objects rather than `Function | line` text.
static JSON_STDOUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes [`LogSink::stdout`] print each line as a JSON object (`timestamp`, `function`,
/// `message`), for a server whose output goes to a log collector (`--log-format json`).
pub fn print_json_lines() {
    JSON_STDOUT.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Where the runtime sends every log line of every function. Cheap to clone.
#[derive(Clone)]
pub struct LogSink {
    print: Arc<LogFn>,
    kept: Option<Arc<KeptIn>>,
}

/// The store a sink also hands lines to, and the stack they belong to.
struct KeptIn {
    store: Arc<dyn LogStore>,
    stack: String,
}

impl LogSink {
    /// A sink calling `f(function, line)` for each line.
    pub fn new(f: impl Fn(&str, &str) + Send + Sync + 'static) -> LogSink {
        LogSink {
            print: Arc::new(f),
            kept: None,
        }
    }

    /// This sink, also handing every line to `store` as a line of `stack` (what
    /// `Runtime::new` does with [`crate::RuntimeOptions::log_store`]).
    pub(crate) fn keeping(self, store: Arc<dyn LogStore>, stack: String) -> LogSink {
        LogSink {
            print: self.print,
            kept: Some(Arc::new(KeptIn { store, stack })),
        }
    }

    /// This sink, also keeping the last lines it sends in `tail` while the tail is open
    /// (a warm-up reports them when the init fails).
    pub(crate) fn tailing(self, tail: Arc<LineTail>) -> LogSink {
        let print = self.print;
        LogSink {
            print: Arc::new(move |function: &str, line: &str| {
                print(function, line);
                tail.push(line);
            }),
            kept: self.kept,
        }
    }

    /// The default sink: `HelloFunction | line` on the server's stdout, written by one
    /// thread that takes lines in order and writes each burst with one system call (under
    /// load, a write per line was a noticeable share of the server's CPU). Call
    /// [`flush_stdout`] before the process exits.
    pub fn stdout() -> LogSink {
        LogSink::new(|function, line| {
            let writer = stdout_writer();
            let line = if JSON_STDOUT.load(std::sync::atomic::Ordering::Relaxed) {
                let object = serde_json::json!({
                    "timestamp": timestamp(OffsetDateTime::now_utc()),
                    "function": function,
                    "message": line,
                });
                object.to_string() + "\n"
            } else {
                format!("{function} | {line}\n")
            };
            if let Err(unsent) = writer.send(StdoutMessage::Line(line)) {
                // The writer thread is gone (it never is in practice): write directly.
                if let StdoutMessage::Line(line) = unsent.0 {
                    let _ = std::io::stdout().lock().write_all(line.as_bytes());
                }
            }
        })
    }

    /// Sends one line that belongs to no invocation in particular.
    pub fn emit(&self, function: &str, line: &str) {
        self.emit_line(function, None, line);
    }

    /// Sends one line of the invocation `request_id`.
    pub fn emit_request(&self, function: &str, request_id: &str, line: &str) {
        self.emit_line(function, Some(request_id), line);
    }

    pub(crate) fn emit_line(&self, function: &str, request_id: Option<&str>, line: &str) {
        (self.print)(function, line);
        if let Some(kept) = &self.kept {
            kept.store.append(LogRecord {
                stack: kept.stack.clone(),
                function: function.to_owned(),
                request_id: request_id.map(str::to_owned),
                timestamp_ms: unix_millis(),
                text: line.to_owned(),
            });
        }
    }
}

/// The last lines a sink sent, at most a given number, while it is open.
#[derive(Debug)]
pub(crate) struct LineTail {
    capacity: usize,
    open: std::sync::atomic::AtomicBool,
    lines: std::sync::Mutex<std::collections::VecDeque<String>>,
}

impl LineTail {
    pub fn new(capacity: usize) -> LineTail {
        LineTail {
            capacity,
            open: std::sync::atomic::AtomicBool::new(true),
            lines: std::sync::Mutex::new(std::collections::VecDeque::with_capacity(capacity)),
        }
    }

    fn push(&self, line: &str) {
        // Once closed, a line costs one load: the sink may live as long as its instance.
        if !self.open.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if lines.len() == self.capacity {
            lines.pop_front();
        }
        lines.push_back(line.to_owned());
    }

    /// Keeps no more lines.
    pub fn close(&self) {
        self.open.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// The lines kept, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

/// Milliseconds since the Unix epoch now.
fn unix_millis() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Report {
    pub duration: Duration,
    pub memory_size_mb: u32,
    pub max_memory_used_mb: u64,
    /// Set on the first invocation of an instance (a cold start).
    pub init_duration: Option<Duration>,
}

impl Report {
    /// The duration, the billed duration and the init duration in milliseconds. Billing
    /// is per millisecond, rounded up, and since August 2025 includes the init phase of
    /// on-demand functions.
    pub(crate) fn milliseconds(&self) -> (f64, u64, Option<f64>) {
        let duration_ms = millis(self.duration);
        let init_ms = self.init_duration.map(millis);
        let billed_ms = (duration_ms + init_ms.unwrap_or(0.0)).ceil().max(1.0);
        (duration_ms, billed_ms as u64, init_ms)
    }
}

/// `REPORT RequestId: …\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax
/// Memory Used: 45 MB\t` plus `Init Duration: 12.34 ms\t` on cold starts. Every field ends
/// with a tab, as on Lambda.
pub(crate) fn report_line(request_id: &str, report: &Report) -> String {
    let (duration_ms, billed_ms, init_ms) = report.milliseconds();
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {billed_ms} ms\t\
         Memory Size: {} MB\tMax Memory Used: {} MB\t",
        report.memory_size_mb, report.max_memory_used_mb
    );
    if let Some(init_ms) = init_ms {
        line.push_str(&format!("Init Duration: {init_ms:.2} ms\t"));
    }
    line
}

/// The duration Lambda bills: the run and the cold start's init, rounded up to the
/// millisecond, at least one.
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
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_log_tail_keeps_the_first_and_last_lines_for_records() {
        let tail = LogTail::new();
        tail.push("START");
        tail.push("hello");
        assert_eq!(tail.lines(), ["START", "hello"]);
        for n in 0..10_000 {
            tail.push(&format!("line {n}"));
        }
        let lines = tail.lines();
        assert_eq!(lines[0], "START");
        assert_eq!(lines[LOG_HEAD_LINES - 1], "line 17");
        let left_out = &lines[LOG_HEAD_LINES];
        assert!(left_out.starts_with("[serverful] ") && left_out.ends_with(" log lines left out"));
        let n_left_out: usize = left_out
            .split(' ')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .expect("a count");
        assert_eq!(n_left_out + lines.len() - 1, 10_002);
        assert_eq!(lines.last().map(String::as_str), Some("line 9999"));
    }

    #[test]
    fn a_log_tail_keeps_the_last_4_kb_on_character_boundaries() {
        let tail = LogTail::new();
        tail.push("START");
        assert_eq!(tail.text(), "START\n");
        for _ in 0..5000 {
            tail.push("é");
        }
        tail.push("END");
        let text = tail.text();
        assert!(text.len() <= LOG_TAIL_BYTES, "{}", text.len());
        assert!(text.len() >= LOG_TAIL_BYTES - 1);
        assert!(text.ends_with("é\nEND\n"));
    }

    #[test]
    fn a_tailing_sink_keeps_the_last_lines_until_closed() {
        let printed = Arc::new(Mutex::new(Vec::new()));
        let printed_by_sink = printed.clone();
        let tail = Arc::new(LineTail::new(2));
        let sink = LogSink::new(move |_, line| {
            printed_by_sink
                .lock()
                .expect("printed lock")
                .push(line.to_owned())
        })
        .tailing(tail.clone());
        for line in ["one", "two", "three"] {
            sink.emit("F", line);
        }
        assert_eq!(tail.lines(), ["two", "three"]);
        tail.close();
        sink.emit("F", "four");
        assert_eq!(tail.lines(), ["two", "three"]);
        assert_eq!(
            *printed.lock().expect("printed lock"),
            ["one", "two", "three", "four"]
        );
    }

    /// A store that remembers what it was handed.
    #[derive(Debug, Default)]
    pub(crate) struct Recorded(Mutex<Vec<LogRecord>>);

    impl Recorded {
        pub(crate) fn records(&self) -> Vec<LogRecord> {
            self.0.lock().expect("records lock").clone()
        }
    }

    impl LogStore for Recorded {
        fn append(&self, record: LogRecord) {
            self.0.lock().expect("records lock").push(record);
        }
        fn flush(&self, _timeout: Duration) {}
    }

    #[test]
    fn a_sink_with_a_store_prints_and_keeps_every_line() {
        let printed = Arc::new(Mutex::new(Vec::new()));
        let printed_by_sink = printed.clone();
        let store = Arc::new(Recorded::default());
        let sink = LogSink::new(move |function, line| {
            printed_by_sink
                .lock()
                .expect("printed lock")
                .push(format!("{function} | {line}"));
        })
        .keeping(store.clone(), "my-app".to_owned());
        let before = unix_millis();
        sink.emit("F", "init line");
        sink.emit_request("F", "r1", &start_line("r1"));
        let after = unix_millis();
        assert_eq!(
            *printed.lock().expect("printed lock"),
            ["F | init line", "F | START RequestId: r1 Version: $LATEST"]
        );
        let records = store.records();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].request_id, None);
        assert_eq!(records[1].request_id.as_deref(), Some("r1"));
        assert_eq!(records[1].text, "START RequestId: r1 Version: $LATEST");
        for record in &records {
            assert_eq!(
                (record.stack.as_str(), record.function.as_str()),
                ("my-app", "F")
            );
            assert!((before..=after).contains(&record.timestamp_ms));
        }
    }

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
