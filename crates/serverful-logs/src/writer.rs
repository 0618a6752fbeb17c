//! Keeping lines without slowing down the invocations that write them: a bounded queue
//! that the invocation path appends to, and one thread that writes what queued up in one
//! batch and rotates the store in the background.
//!
//! [`LogWriter::push`] takes a lock, pushes onto a vector and returns; only the first line
//! into an empty queue wakes the thread, which then lingers (50 ms by default) so that a
//! burst of lines (an invocation's `START`, output, `END` and `REPORT`, or many
//! invocations under load) is written in one transaction. When the queue holds more than
//! [`WriterOptions::max_queued_bytes`] (the store fell behind, e.g. a slow disk), new lines
//! are dropped rather than making requests wait: the writer counts them per function
//! and, once it catches up, writes one line in their place that says how many were lost.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{now_ms, LogBackend, NewLine, Retention};

/// Settings of a [`LogWriter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// Bytes of text that may wait for the writer; lines past that are dropped and
    /// counted. 32 MiB by default.
    pub max_queued_bytes: usize,
    /// How long the writer waits after the first line of a burst before writing it all.
    /// 50 ms by default: followers poll less often than that, and under load a longer
    /// batch fills its pages, so each line costs the log fewer page writes.
    pub linger: Duration,
    /// What rotation keeps.
    pub retention: Retention,
    /// How often rotation runs, the first time this long after start. A minute by
    /// default; between two rotations a function may exceed its limit by what it writes
    /// meanwhile.
    pub rotate_every: Duration,
}

impl Default for WriterOptions {
    fn default() -> WriterOptions {
        WriterOptions {
            max_queued_bytes: 32 * 1024 * 1024,
            linger: Duration::from_millis(50),
            retention: Retention::default(),
            rotate_every: Duration::from_secs(60),
        }
    }
}

/// What each queued line counts against [`WriterOptions::max_queued_bytes`] besides its
/// text: its names and request id, roughly.
const LINE_OVERHEAD_BYTES: usize = 96;

/// How often a writer that keeps failing says so.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Takes lines from any thread without blocking and writes them to a [`LogBackend`] on a
/// thread of its own. Stops (after writing what is queued) when dropped.
pub struct LogWriter {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("dropped", &self.dropped())
            .finish()
    }
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when the first line enters an empty queue, and on close.
    work: Condvar,
    /// Signalled each time a batch has been written.
    written: Condvar,
    dropped: AtomicU64,
    failed: AtomicU64,
    max_queued_bytes: usize,
}

#[derive(Default)]
struct State {
    queue: Vec<NewLine>,
    queued_bytes: usize,
    /// Lines taken by `push` so far, and how many of them the writer is done with.
    n_accepted: u64,
    n_done: u64,
    /// Lines dropped since the writer last looked, per (stack, function).
    dropped: BTreeMap<(String, String), u64>,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LogWriter {
    /// Starts the writer thread.
    pub fn start(
        backend: Arc<dyn LogBackend>,
        options: WriterOptions,
    ) -> std::io::Result<LogWriter> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            written: Condvar::new(),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            max_queued_bytes: options.max_queued_bytes,
        });
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("serverful-log-store".to_owned())
            .spawn(move || write_loop(&thread_shared, backend.as_ref(), options))?;
        Ok(LogWriter {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues one line. Never blocks on the store: returns false when the line was dropped
    /// because the queue is full (or the writer has stopped).
    pub fn push(&self, line: NewLine) -> bool {
        let bytes = line.text.len() + LINE_OVERHEAD_BYTES;
        let mut state = self.shared.lock();
        if state.closed {
            return false;
        }
        if state.queued_bytes + bytes > self.shared.max_queued_bytes {
            let key = (line.stack, line.function);
            *state.dropped.entry(key).or_default() += 1;
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let was_empty = state.queue.is_empty();
        state.queue.push(line);
        state.queued_bytes += bytes;
        state.n_accepted += 1;
        drop(state);
        if was_empty {
            self.shared.work.notify_one();
        }
        true
    }

    /// Waits until every line queued before the call is written (or failed to be), at
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

    /// Lines dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Lines lost so far because the store failed to write them.
    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::Relaxed)
    }

    /// Writes what is queued, then stops the thread; later lines are dropped.
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
                tracing::warn!("the log store's writer thread panicked");
            }
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.close();
    }
}

fn write_loop(shared: &Shared, backend: &dyn LogBackend, options: WriterOptions) {
    let rotates =
        options.retention.max_age.is_some() || options.retention.max_bytes_per_function.is_some();
    let mut next_rotation = Instant::now() + options.rotate_every;
    let mut last_warning: Option<Instant> = None;
    loop {
        let mut state = shared.lock();
        while state.queue.is_empty() && state.dropped.is_empty() && !state.closed {
            let now = Instant::now();
            if rotates && now >= next_rotation {
                break;
            }
            let wait = if rotates {
                next_rotation - now
            } else {
                Duration::from_secs(3600)
            };
            state = shared
                .work
                .wait_timeout(state, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        if !state.queue.is_empty() && !state.closed && !options.linger.is_zero() {
            // Let the burst that woke us gather: lines pushed meanwhile do not wake us.
            drop(state);
            std::thread::sleep(options.linger);
            state = shared.lock();
        }
        let mut batch = std::mem::take(&mut state.queue);
        state.queued_bytes = 0;
        let dropped = std::mem::take(&mut state.dropped);
        let n_taken = state.n_accepted;
        let closed = state.closed;
        drop(state);

        // The gap goes where the lines were lost: after those that made it into the queue.
        let at_ms = now_ms();
        for ((stack, function), n_lines) in dropped {
            batch.push(NewLine {
                stack,
                function,
                at_ms,
                request_id: None,
                text: format!(
                    "[serverful] {n_lines} log lines were dropped: the log store fell behind"
                ),
            });
        }
        if !batch.is_empty() {
            if let Err(error) = backend.append(&batch) {
                shared
                    .failed
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                if last_warning.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                    tracing::warn!("{} function log lines were not kept: {error}", batch.len());
                    last_warning = Some(Instant::now());
                }
            }
        }
        shared.lock().n_done = n_taken;
        shared.written.notify_all();

        if closed {
            return;
        }
        if rotates && Instant::now() >= next_rotation {
            match backend.rotate(&options.retention, now_ms()) {
                Ok(rotated) if rotated.n_lines > 0 => tracing::debug!(
                    "log rotation deleted {} lines ({} bytes)",
                    rotated.n_lines,
                    rotated.bytes
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!("{error}"),
            }
            next_rotation = Instant::now() + options.rotate_every;
        }
    }
}
