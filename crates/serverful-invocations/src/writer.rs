//! Recording without slowing down the invocations recorded: a bounded queue that the
//! invocation path pushes [`Capture`]s onto, and one thread that redacts, caps and writes
//! what queued up in one transaction.
//!
//! [`Recorder::record`] takes a lock, pushes onto a vector and returns; only the first
//! capture into an empty queue wakes the thread, which then lingers (20 ms by default) so
//! that a burst is written in one batch. When the queue holds
//! [`WriterOptions::max_queued`] captures or [`WriterOptions::max_queued_bytes`] bytes
//! (the store fell behind), new captures are dropped and counted rather than making
//! requests wait.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{Capture, InvocationBackend, Redactor, Settings};

/// Settings of a [`Recorder`]'s queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// Captures that may wait for the writer; more are dropped and counted. 4096.
    pub max_queued: usize,
    /// Bytes of captures (events, results, logs) that may wait for the writer. 64 MiB.
    pub max_queued_bytes: usize,
    /// How long the writer waits after the first capture of a burst before writing it.
    pub linger: Duration,
}

impl Default for WriterOptions {
    fn default() -> WriterOptions {
        WriterOptions {
            max_queued: 4096,
            max_queued_bytes: 64 * 1024 * 1024,
            linger: Duration::from_millis(20),
        }
    }
}

/// How often a writer that keeps failing says so.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Takes captures from any thread without blocking and writes them as records to an
/// [`InvocationBackend`] on a thread of its own. Stops (after writing what is queued) when
/// closed or dropped.
pub struct Recorder {
    settings: Settings,
    backend: Arc<dyn InvocationBackend>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("settings", &self.settings)
            .field("dropped", &self.dropped())
            .finish()
    }
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when the first capture enters an empty queue, and on close.
    work: Condvar,
    /// Signalled each time a batch has been written.
    written: Condvar,
    dropped: AtomicU64,
    failed: AtomicU64,
    pruned: AtomicU64,
    options: WriterOptions,
}

#[derive(Default)]
struct State {
    queue: Vec<Capture>,
    queued_bytes: usize,
    /// Captures taken by `record` so far, and how many of them the writer is done with.
    n_accepted: u64,
    n_done: u64,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Recorder {
    /// Starts the writer thread.
    pub fn start(
        backend: Arc<dyn InvocationBackend>,
        settings: Settings,
        options: WriterOptions,
    ) -> std::io::Result<Recorder> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            written: Condvar::new(),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            pruned: AtomicU64::new(0),
            options,
        });
        let thread_shared = shared.clone();
        let thread_backend = backend.clone();
        let thread_settings = settings.clone();
        let thread = std::thread::Builder::new()
            .name("serverful-invocation-records".to_owned())
            .spawn(move || write_loop(&thread_shared, thread_backend.as_ref(), &thread_settings))?;
        Ok(Recorder {
            settings,
            backend,
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// What is recorded and kept.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The store records are written to (and read from).
    pub fn backend(&self) -> &Arc<dyn InvocationBackend> {
        &self.backend
    }

    /// Queues one capture. Never blocks on the store: returns false when it was dropped
    /// because the queue is full (or the writer has stopped).
    pub fn record(&self, capture: Capture) -> bool {
        let bytes = capture.held_bytes();
        let options = &self.shared.options;
        let mut state = self.shared.lock();
        if state.closed {
            return false;
        }
        if state.queue.len() >= options.max_queued
            || state.queued_bytes + bytes > options.max_queued_bytes
        {
            drop(state);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let was_empty = state.queue.is_empty();
        state.queue.push(capture);
        state.queued_bytes += bytes;
        state.n_accepted += 1;
        drop(state);
        if was_empty {
            self.shared.work.notify_one();
        }
        true
    }

    /// Waits until every capture queued before the call is written (or failed to be), at
    /// most `timeout`; false if the time ran out.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        let target = state.n_accepted;
        while state.n_done < target {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .shared
                .written
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Captures dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Records lost so far because the store failed to write them.
    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::Relaxed)
    }

    /// Records pruned so far to keep the store within its bounds.
    pub fn pruned(&self) -> u64 {
        self.shared.pruned.load(Ordering::Relaxed)
    }

    /// Writes what is queued, then stops the thread; later captures are dropped.
    pub fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_one();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::warn!("the invocation records' writer thread panicked");
            }
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.close();
    }
}

fn write_loop(shared: &Shared, backend: &dyn InvocationBackend, settings: &Settings) {
    let redactor = Redactor::new(&settings.redact);
    let mut last_warning: Option<Instant> = None;
    let mut dropped_told = 0;
    let mut last_drop_warning: Option<Instant> = None;
    loop {
        let mut state = shared.lock();
        while state.queue.is_empty() && !state.closed {
            state = shared
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if !state.queue.is_empty() && !state.closed && !shared.options.linger.is_zero() {
            // Let the burst that woke us gather: captures pushed meanwhile do not wake us.
            drop(state);
            std::thread::sleep(shared.options.linger);
            state = shared.lock();
        }
        let batch = std::mem::take(&mut state.queue);
        state.queued_bytes = 0;
        let n_taken = state.n_accepted;
        let closed = state.closed;
        drop(state);

        if !batch.is_empty() {
            let n_records = batch.len() as u64;
            let records: Vec<_> = batch
                .into_iter()
                .map(|capture| capture.into_record(&redactor, settings.payload_cap))
                .collect();
            match backend.insert(&records, settings.max_records, settings.max_bytes) {
                Ok(pruned) => {
                    shared.pruned.fetch_add(pruned, Ordering::Relaxed);
                }
                Err(error) => {
                    shared.failed.fetch_add(n_records, Ordering::Relaxed);
                    if last_warning.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                        tracing::warn!("{n_records} invocation records were not kept: {error}");
                        last_warning = Some(Instant::now());
                    }
                }
            }
        }
        let dropped = shared.dropped.load(Ordering::Relaxed);
        if dropped > dropped_told && last_drop_warning.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            tracing::warn!(
                "{} invocation records were dropped: the record store fell behind",
                dropped - dropped_told
            );
            dropped_told = dropped;
            last_drop_warning = Some(Instant::now());
        }
        shared.lock().n_done = n_taken;
        shared.written.notify_all();
        if closed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        CapturedBytes, InvocationRecord, ListQuery, Page, RecordError, RecordOutcome,
        SqliteInvocations, StoreTotals, Timings,
    };
    use bytes::Bytes;

    fn capture(id: &str, event: &str) -> Capture {
        Capture {
            id: id.to_owned(),
            at_ms: 1,
            stack: "app".to_owned(),
            function: "Hello".to_owned(),
            function_name: "app-Hello-ABC".to_owned(),
            deploy: Some(1),
            executed_version: None,
            qualifier: None,
            instance: None,
            trigger: "cli".to_owned(),
            outcome: RecordOutcome::Success,
            event: CapturedBytes::new(Bytes::from(event.to_owned())),
            result: Some(CapturedBytes::new(Bytes::from_static(b"{\"token\":\"t\"}"))),
            error: None,
            logs: Vec::new(),
            timings: Timings::default(),
            replay_of: None,
        }
    }

    /// Counts the batches it is handed, and blocks while `gate` is held.
    #[derive(Default)]
    struct Batches {
        sizes: Mutex<Vec<usize>>,
        gate: Mutex<()>,
    }

    impl InvocationBackend for Batches {
        fn insert(&self, records: &[InvocationRecord], _: u64, _: u64) -> Result<u64, RecordError> {
            let _gate = self.gate.lock().expect("gate");
            self.sizes.lock().expect("sizes").push(records.len());
            Ok(0)
        }
        fn list(&self, _: &ListQuery) -> Result<Page, RecordError> {
            Ok(Page::default())
        }
        fn get(&self, _: &str) -> Result<Option<InvocationRecord>, RecordError> {
            Ok(None)
        }
        fn delete_stack(&self, _: &str) -> Result<u64, RecordError> {
            Ok(0)
        }
        fn totals(&self) -> Result<StoreTotals, RecordError> {
            Ok(StoreTotals::default())
        }
    }

    #[test]
    fn a_burst_is_written_in_one_batch() {
        let backend = Arc::new(Batches::default());
        let recorder = Recorder::start(
            backend.clone(),
            Settings::default(),
            WriterOptions {
                linger: Duration::from_millis(100),
                ..WriterOptions::default()
            },
        )
        .expect("start");
        for n in 0..50 {
            assert!(recorder.record(capture(&format!("r{n}"), "{}")));
        }
        assert!(recorder.flush(Duration::from_secs(5)));
        assert_eq!(*backend.sizes.lock().expect("sizes"), [50]);
    }

    #[test]
    fn a_full_queue_drops_and_counts_rather_than_waits() {
        let backend = Arc::new(Batches::default());
        let gate = backend.gate.lock().expect("gate");
        let recorder = Recorder::start(
            backend.clone(),
            Settings::default(),
            WriterOptions {
                max_queued: 3,
                linger: Duration::ZERO,
                ..WriterOptions::default()
            },
        )
        .expect("start");
        // The first is taken by the writer, which then waits on the gate.
        assert!(recorder.record(capture("r0", "{}")));
        let started = Instant::now();
        while backend.sizes.lock().expect("sizes").is_empty()
            && recorder.shared.lock().queue.len() == 1
            && started.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let accepted = (1..10)
            .filter(|n| recorder.record(capture(&format!("r{n}"), "{}")))
            .count();
        assert_eq!(accepted, 3);
        assert_eq!(recorder.dropped(), 6);
        drop(gate);
        assert!(recorder.flush(Duration::from_secs(5)));
        assert_eq!(
            backend.sizes.lock().expect("sizes").iter().sum::<usize>(),
            4
        );
    }

    #[test]
    fn records_are_redacted_and_capped_before_they_are_kept() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let backend = Arc::new(SqliteInvocations::open_in(dir.path()).expect("open"));
        let settings = Settings {
            payload_cap: 64,
            redact: vec!["Token".to_owned()],
            ..Settings::default()
        };
        let recorder =
            Recorder::start(backend.clone(), settings, WriterOptions::default()).expect("start");
        let big = format!(r#"{{"data":"{}"}}"#, "x".repeat(5 * 1024 * 1024));
        assert!(recorder.record(capture("big", &big)));
        assert!(recorder.flush(Duration::from_secs(10)));
        let record = backend.get("big").expect("get").expect("kept");
        assert!(record.event.truncated);
        assert_eq!(record.event.bytes, big.len() as u64);
        assert_eq!(record.event.text.len(), 64);
        let result = record.result.expect("a result");
        assert_eq!(result.text, r#"{"token":"***"}"#);
        assert!(!result.truncated);
        recorder.close();
        assert!(!recorder.record(capture("late", "{}")));
    }
}
