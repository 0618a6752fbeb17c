//! The writer thread: lines pushed from the invocation path end up in the store in order,
//! a store that falls behind costs lines (counted, and said in the log), never a wait.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serverful_logs::{
    FunctionLogs, LogBackend, LogError, LogLine, LogQuery, LogWriter, NewLine, Retention, Rotated,
    SqliteLogs, WriterOptions,
};

use crate::{line, read_all, shared_store, texts};

fn options() -> WriterOptions {
    WriterOptions {
        linger: Duration::from_millis(2),
        ..WriterOptions::default()
    }
}

#[test]
fn pushed_lines_are_written_in_order_once_flushed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = shared_store(dir.path());
    let writer = LogWriter::start(store.clone(), options()).expect("start");
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let writer = &writer;
            scope.spawn(move || {
                for n in 0..250 {
                    assert!(writer.push(line("app", "F", 1, &format!("{thread} {n}"))));
                }
            });
        }
    });
    assert!(writer.flush(Duration::from_secs(10)), "flushed in time");
    let lines = read_all(store.as_ref(), "app", "F");
    assert_eq!(lines.len(), 1000);
    for thread in 0..4 {
        let numbers: Vec<u32> = lines
            .iter()
            .filter_map(|line| {
                let (who, n) = line.text.split_once(' ')?;
                (who == thread.to_string()).then(|| n.parse().expect("number"))
            })
            .collect();
        assert_eq!(numbers, (0..250).collect::<Vec<_>>());
    }
    assert_eq!(writer.dropped(), 0);
}

#[test]
fn closing_writes_what_is_queued() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = shared_store(dir.path());
    let writer = LogWriter::start(
        store.clone(),
        WriterOptions {
            linger: Duration::from_millis(200),
            ..WriterOptions::default()
        },
    )
    .expect("start");
    assert!(writer.push(line("app", "F", 1, "last words")));
    writer.close();
    assert_eq!(texts(&read_all(store.as_ref(), "app", "F")), ["last words"]);
    assert!(!writer.push(line("app", "F", 2, "too late")));
}

/// A store whose appends wait until the test opens the gate: a disk that stalls.
struct Stalled {
    inner: Arc<SqliteLogs>,
    open: Mutex<bool>,
    opened: Condvar,
}

impl Stalled {
    fn open_gate(&self) {
        *self.open.lock().expect("gate") = true;
        self.opened.notify_all();
    }
}

impl LogBackend for Stalled {
    fn append(&self, lines: &[NewLine]) -> Result<(), LogError> {
        let mut open = self.open.lock().expect("gate");
        while !*open {
            open = self.opened.wait(open).expect("gate");
        }
        drop(open);
        self.inner.append(lines)
    }
    fn read(&self, query: &LogQuery) -> Result<Vec<LogLine>, LogError> {
        self.inner.read(query)
    }
    fn functions(&self, stack: Option<&str>) -> Result<Vec<FunctionLogs>, LogError> {
        self.inner.functions(stack)
    }
    fn delete_stack(&self, stack: &str) -> Result<u64, LogError> {
        self.inner.delete_stack(stack)
    }
    fn rotate(&self, retention: &Retention, now_ms: i64) -> Result<Rotated, LogError> {
        self.inner.rotate(retention, now_ms)
    }
}

#[test]
fn a_store_that_falls_behind_costs_lines_not_waiting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = shared_store(dir.path());
    let stalled = Arc::new(Stalled {
        inner: store.clone(),
        open: Mutex::new(false),
        opened: Condvar::new(),
    });
    let writer = LogWriter::start(
        stalled.clone(),
        WriterOptions {
            // Room for about ten lines of this size.
            max_queued_bytes: 10 * (100 + 96),
            linger: Duration::ZERO,
            ..WriterOptions::default()
        },
    )
    .expect("start");
    let text = "y".repeat(100);
    // The first line is taken by the writer, which then stalls in `append`.
    assert!(writer.push(line("app", "F", 1, "first")));
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let accepted = (0..100)
        .filter(|_| writer.push(line("app", "F", 2, &text)))
        .count();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "pushing never waits for the store"
    );
    assert_eq!(accepted, 10);
    assert_eq!(writer.dropped(), 90);

    stalled.open_gate();
    assert!(writer.flush(Duration::from_secs(10)));
    // The marker follows the queued lines in the writer's next batch.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let lines = read_all(store.as_ref(), "app", "F");
        if lines.len() >= 12 || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(lines.len(), 12, "{:?}", texts(&lines));
    assert_eq!(lines[0].text, "first");
    assert_eq!(
        lines[11].text,
        "[serverful] 90 log lines were dropped: the log store fell behind"
    );
    // Room again: nothing more is dropped.
    assert!(writer.push(line("app", "F", 3, "after")));
    assert_eq!(writer.dropped(), 90);
}

#[test]
fn rotation_runs_in_the_background() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = shared_store(dir.path());
    let writer = LogWriter::start(
        store.clone(),
        WriterOptions {
            linger: Duration::ZERO,
            retention: Retention {
                max_bytes_per_function: Some(50),
                max_age: None,
            },
            rotate_every: Duration::from_millis(50),
            ..WriterOptions::default()
        },
    )
    .expect("start");
    for n in 0..20 {
        assert!(writer.push(line("app", "F", n, &format!("line {n:04}"))));
    }
    assert!(writer.flush(Duration::from_secs(10)));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = store.functions(None).expect("list");
        if listed[0].bytes <= 50 {
            break;
        }
        assert!(Instant::now() < deadline, "not rotated: {listed:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // 9-byte lines: five fit in 50 bytes, and they are the newest.
    assert_eq!(
        texts(&read_all(store.as_ref(), "app", "F")),
        [
            "line 0015",
            "line 0016",
            "line 0017",
            "line 0018",
            "line 0019"
        ]
    );
}
