//! Recording without slowing down the invocations recorded: a bounded queue that the
//! invocation path pushes [`Capture`]s onto, and one thread that redacts, caps and writes
//! what queued up in one transaction.
//!
//! [`Recorder::record`] takes a lock, pushes onto a queue and returns; only the first
//! capture into an empty queue wakes the thread, which then lingers (a second by default,
//! less when a reader asks with [`Recorder::flush`]) so that a burst is written in one
//! batch. The queue never holds more than the store keeps (`Settings::max_records` and
//! `max_bytes`, and at most [`WriterOptions::max_queued`] captures or
//! [`WriterOptions::max_queued_bytes`] bytes): past that its oldest captures are pruned
//! before they are ever written, as the store would prune them after. Under load the store
//! is then written about once a second with the newest records it keeps, whatever the
//! rate of invocations, and recording never makes a request wait.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{Capture, InvocationBackend, Redactor, Settings};

/// Settings of a [`Recorder`]'s queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// Captures that may wait for the writer (fewer when the store keeps fewer); past
    /// that the oldest are pruned. 4096.
    pub max_queued: usize,
    /// Bytes of captures (events, results, logs) that may wait for the writer. 64 MiB.
    pub max_queued_bytes: usize,
    /// How long the writer waits after the first capture of a burst before writing it
    /// (unless a reader flushes). A second: what a crash may lose.
    pub linger: Duration,
}

impl Default for WriterOptions {
    fn default() -> WriterOptions {
        WriterOptions {
            max_queued: 4096,
            max_queued_bytes: 64 * 1024 * 1024,
            linger: Duration::from_secs(1),
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
    /// Signalled when the first capture enters an empty queue, on a flush and on close.
    work: Condvar,
    /// Signalled each time a batch has been written.
    written: Condvar,
    dropped: AtomicU64,
    failed: AtomicU64,
    pruned: AtomicU64,
    options: WriterOptions,
    /// The most captures and bytes the queue holds: the store's bounds, within the
    /// options'.
    max_queued: usize,
    max_queued_bytes: usize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Capture>,
    queued_bytes: usize,
    /// Captures taken by `record` so far, and how many of them the writer is done with.
    n_accepted: u64,
    n_done: u64,
    /// A reader waits for the queue to be written: the writer stops lingering.
    flushing: bool,
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
            max_queued: options
                .max_queued
                .min(usize::try_from(settings.max_records).unwrap_or(usize::MAX))
                .max(1),
            max_queued_bytes: options
                .max_queued_bytes
                .min(usize::try_from(settings.max_bytes).unwrap_or(usize::MAX)),
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

    /// Queues one capture. Never blocks on the store: when the queue holds all the store
    /// keeps, its oldest capture is pruned (counted in [`Recorder::pruned`]). Returns false
    /// only once the writer has stopped (the capture is dropped and counted).
    pub fn record(&self, capture: Capture) -> bool {
        let bytes = capture.held_bytes();
        let shared = &self.shared;
        let mut state = shared.lock();
        if state.closed {
            drop(state);
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let was_empty = state.queue.is_empty();
        state.queue.push_back(capture);
        state.queued_bytes += bytes;
        state.n_accepted += 1;
        let mut evicted = Vec::new();
        while state.queue.len() > 1
            && (state.queue.len() > shared.max_queued
                || state.queued_bytes > shared.max_queued_bytes)
        {
            if let Some(oldest) = state.queue.pop_front() {
                state.queued_bytes -= oldest.held_bytes();
                evicted.push(oldest);
            }
        }
        drop(state);
        if !evicted.is_empty() {
            shared
                .pruned
                .fetch_add(evicted.len() as u64, Ordering::Relaxed);
        }
        if was_empty {
            shared.work.notify_one();
        }
        true
    }

    /// Waits until every capture queued before the call is written (or failed to be), at
    /// most `timeout`; false if the time ran out.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        let target = state.n_accepted;
        if state.n_done < target {
            state.flushing = true;
            self.shared.work.notify_one();
        }
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

    /// Captures dropped so far because the writer had stopped.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Records lost so far because the store failed to write them.
    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::Relaxed)
    }

    /// Records pruned so far to keep the store within its bounds (before they were written,
    /// when newer ones filled the queue, or from the store).
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
        if !state.queue.is_empty() && !shared.options.linger.is_zero() {
            // Let the burst that woke us gather (captures pushed meanwhile do not wake
            // us), unless a reader is waiting or the recorder closes.
            state = shared
                .work
                .wait_timeout_while(state, shared.options.linger, |state| {
                    !state.flushing && !state.closed
                })
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let batch: Vec<Capture> = std::mem::take(&mut state.queue).into();
        state.queued_bytes = 0;
        state.flushing = false;
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
    fn a_full_queue_prunes_its_oldest_rather_than_waits() {
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
        // Nothing waits and nothing is refused: the queue keeps the newest three, as the
        // store would have pruned the older ones.
        assert_eq!(accepted, 9);
        assert_eq!(recorder.dropped(), 0);
        assert_eq!(recorder.pruned(), 6);
        let queued: Vec<String> = recorder
            .shared
            .lock()
            .queue
            .iter()
            .map(|capture| capture.id.clone())
            .collect();
        assert_eq!(queued, ["r7", "r8", "r9"]);
        drop(gate);
        assert!(recorder.flush(Duration::from_secs(5)));
        assert_eq!(
            backend.sizes.lock().expect("sizes").iter().sum::<usize>(),
            4
        );
    }

    #[test]
    fn a_flush_cuts_the_linger_short() {
        let backend = Arc::new(Batches::default());
        let recorder = Recorder::start(
            backend.clone(),
            Settings::default(),
            WriterOptions {
                linger: Duration::from_secs(30),
                ..WriterOptions::default()
            },
        )
        .expect("start");
        assert!(recorder.record(capture("r0", "{}")));
        let started = Instant::now();
        assert!(recorder.flush(Duration::from_secs(5)));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(*backend.sizes.lock().expect("sizes"), [1]);
    }

    #[test]
    fn the_queue_holds_no_more_than_the_store_keeps() {
        let backend = Arc::new(Batches::default());
        let gate = backend.gate.lock().expect("gate");
        let recorder = Recorder::start(
            backend.clone(),
            Settings {
                max_records: 2,
                ..Settings::default()
            },
            WriterOptions {
                linger: Duration::from_secs(30),
                ..WriterOptions::default()
            },
        )
        .expect("start");
        for n in 0..5 {
            assert!(recorder.record(capture(&format!("r{n}"), "{}")));
        }
        assert_eq!(recorder.pruned(), 3);
        drop(gate);
        assert!(recorder.flush(Duration::from_secs(5)));
        assert_eq!(*backend.sizes.lock().expect("sizes"), [2]);
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
