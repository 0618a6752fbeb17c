//! The log store as its users drive it (issue #14): the runtime's lines going in through a
//! [`LogWriter`], `serverful logs` and the admin API reading them back with a [`Tail`].

mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serverful_logs::{Cursor, LogBackend, LogError, LogLine, NewLine, Retention, SqliteLogs, Tail};

/// A store in a fresh folder (kept alive by the returned guard).
fn store() -> (tempfile::TempDir, SqliteLogs) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteLogs::open_in(dir.path()).expect("open the store");
    (dir, store)
}

fn line(stack: &str, function: &str, at_ms: i64, text: &str) -> NewLine {
    NewLine {
        stack: stack.to_owned(),
        function: function.to_owned(),
        at_ms,
        request_id: None,
        text: text.to_owned(),
    }
}

/// Every line of a function, read page by page.
fn read_all(store: &dyn LogBackend, stack: &str, function: &str) -> Vec<LogLine> {
    let mut tail = Tail::new(stack, function).page_size(7);
    let mut all = Vec::new();
    loop {
        let page = tail.next_page(store).expect("read a page");
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

fn texts(lines: &[LogLine]) -> Vec<&str> {
    lines.iter().map(|line| line.text.as_str()).collect()
}

#[test]
fn lines_come_back_in_the_order_they_were_written_even_within_one_millisecond() {
    let (_dir, store) = store();
    store
        .append(&[
            line("app", "A", 1000, "a1"),
            line("app", "B", 1000, "b1"),
            line("app", "A", 1000, "a2"),
        ])
        .expect("append");
    store
        .append(&[line("app", "A", 1000, "a3"), line("other", "A", 1000, "x")])
        .expect("append");
    let lines = read_all(&store, "app", "A");
    assert_eq!(texts(&lines), ["a1", "a2", "a3"]);
    assert!(lines.windows(2).all(|pair| pair[0].cursor < pair[1].cursor));
    assert!(lines
        .iter()
        .all(|line| line.stack == "app" && line.function == "A"));
    assert_eq!(texts(&read_all(&store, "app", "B")), ["b1"]);
    assert_eq!(texts(&read_all(&store, "other", "A")), ["x"]);
    assert!(read_all(&store, "app", "Missing").is_empty());
}

#[test]
fn a_large_batch_of_interleaved_functions_keeps_every_line_in_order() {
    let (_dir, store) = store();
    // More lines than one multi-row insert takes, and a remainder after the full chunks.
    let lines: Vec<NewLine> = (0..150)
        .map(|n| {
            let function = ["A", "B", "C"][n % 3];
            line("app", function, 1, &format!("{function}{n}"))
        })
        .collect();
    store.append(&lines).expect("append");
    for (offset, function) in ["A", "B", "C"].into_iter().enumerate() {
        let expected: Vec<String> = (0..150)
            .filter(|n| n % 3 == offset)
            .map(|n| format!("{function}{n}"))
            .collect();
        assert_eq!(texts(&read_all(&store, "app", function)), expected);
    }
    let listed = store.functions(Some("app")).expect("list");
    assert!(listed.iter().all(|function| function.n_lines == 50));
}

#[test]
fn request_ids_are_kept_with_their_lines() {
    let (_dir, store) = store();
    let mut start = line("app", "F", 5, "START RequestId: r1 Version: $LATEST");
    start.request_id = Some("r1".to_owned());
    store
        .append(&[line("app", "F", 4, "init"), start])
        .expect("append");
    let lines = read_all(&store, "app", "F");
    assert_eq!(lines[0].request_id, None);
    assert_eq!(lines[1].request_id.as_deref(), Some("r1"));
    assert_eq!(lines[1].at_ms, 5);
}

#[test]
fn since_skips_older_lines() {
    let (_dir, store) = store();
    let lines: Vec<NewLine> = (0..10)
        .map(|n| line("app", "F", 1000 + n * 100, &format!("line {n}")))
        .collect();
    store.append(&lines).expect("append");
    let mut tail = Tail::new("app", "F").since_ms(1500);
    let page = tail.next_page(&store).expect("read");
    assert_eq!(
        texts(&page),
        ["line 5", "line 6", "line 7", "line 8", "line 9"]
    );
    // Past the last line, a reader is caught up.
    assert!(tail.next_page(&store).expect("read").is_empty());
    let mut future = Tail::new("app", "F").since_ms(10_000);
    assert!(future.next_page(&store).expect("read").is_empty());
}

#[test]
fn a_cursor_pages_through_every_line_once_and_picks_up_new_ones() {
    let (_dir, store) = store();
    let lines: Vec<NewLine> = (0..25)
        .map(|n| line("app", "F", n, &format!("{n}")))
        .collect();
    store.append(&lines).expect("append");
    let mut tail = Tail::new("app", "F").page_size(10);
    let sizes: Vec<usize> = std::iter::from_fn(|| {
        let page = tail.next_page(&store).expect("read");
        (!page.is_empty()).then_some(page.len())
    })
    .collect();
    assert_eq!(sizes, [10, 10, 5]);
    let cursor = tail.cursor().expect("a cursor after reading");

    store
        .append(&[line("app", "F", 30, "new")])
        .expect("append");
    assert_eq!(texts(&tail.next_page(&store).expect("read")), ["new"]);

    // A reader that was interrupted resumes from the cursor it printed, as text.
    let resumed: Cursor = cursor.to_string().parse().expect("cursor");
    let mut again = Tail::new("app", "F").after(resumed);
    assert_eq!(texts(&again.next_page(&store).expect("read")), ["new"]);
}

#[test]
fn follow_waits_for_new_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(serverful_logs::FILE_NAME);
    let store = SqliteLogs::open(&path).expect("open");
    store.append(&[line("app", "F", 1, "old")]).expect("append");
    let mut tail = Tail::new("app", "F");
    assert_eq!(texts(&tail.next_page(&store).expect("read")), ["old"]);

    let poll = Duration::from_millis(20);
    let nothing = tail
        .wait(&store, poll, Duration::from_millis(100))
        .expect("wait");
    assert!(nothing.is_empty());

    let writer_path = path.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        let other = SqliteLogs::open(&writer_path).expect("open");
        other.append(&[line("app", "F", 2, "new")]).expect("append");
    });
    let page = tail
        .wait(&store, poll, Duration::from_secs(10))
        .expect("wait");
    assert_eq!(texts(&page), ["new"]);
    writer.join().expect("writer thread");
}

#[test]
fn functions_with_logs_are_listed_per_stack() {
    let (_dir, store) = store();
    store
        .append(&[
            line("b-stack", "Z", 7, "12345"),
            line("a-stack", "F", 5, "abc"),
            line("a-stack", "F", 9, "é"),
            line("a-stack", "E", 1, "x"),
        ])
        .expect("append");
    let all = store.functions(None).expect("list");
    let names: Vec<(&str, &str, u64, u64, i64)> = all
        .iter()
        .map(|f| {
            (
                f.stack.as_str(),
                f.function.as_str(),
                f.n_lines,
                f.bytes,
                f.last_at_ms,
            )
        })
        .collect();
    // Bytes are the UTF-8 length: `é` is two.
    assert_eq!(
        names,
        [
            ("a-stack", "E", 1, 1, 1),
            ("a-stack", "F", 2, 5, 9),
            ("b-stack", "Z", 1, 5, 7)
        ]
    );
    let one = store.functions(Some("b-stack")).expect("list");
    assert_eq!(one.len(), 1);
    assert!(store.functions(Some("none")).expect("list").is_empty());
}

#[test]
fn deleting_a_stack_deletes_only_its_lines_and_cursors_are_never_reused() {
    let (_dir, store) = store();
    store
        .append(&[line("keep", "F", 1, "kept"), line("drop", "F", 2, "gone")])
        .expect("append");
    let newest_before = read_all(&store, "drop", "F")[0].cursor;
    assert_eq!(store.delete_stack("drop").expect("delete"), 1);
    assert!(read_all(&store, "drop", "F").is_empty());
    assert_eq!(texts(&read_all(&store, "keep", "F")), ["kept"]);
    assert_eq!(store.functions(None).expect("list").len(), 1);
    // The deleted line was the newest: a new line still gets a later cursor, so a
    // follower positioned there cannot miss it.
    store
        .append(&[line("keep", "F", 3, "later")])
        .expect("append");
    let later = read_all(&store, "keep", "F")[1].clone();
    assert!(later.cursor > newest_before);
}

#[test]
fn rotation_by_size_keeps_each_functions_newest_bytes() {
    let (_dir, store) = store();
    let hundred = "x".repeat(100);
    let big: Vec<NewLine> = (0..50)
        .map(|n| line("app", "Big", n, &format!("{n:03}{}", &hundred[3..])))
        .collect();
    store.append(&big).expect("append");
    store
        .append(&[line("app", "Small", 1, &hundred)])
        .expect("append");
    let retention = Retention {
        max_bytes_per_function: Some(1000),
        max_age: None,
    };
    let rotated = store.rotate(&retention, 100).expect("rotate");
    assert_eq!(rotated.n_lines, 40);
    assert_eq!(rotated.bytes, 4000);
    let kept = read_all(&store, "app", "Big");
    assert_eq!(kept.len(), 10);
    assert!(kept[0].text.starts_with("040"), "{}", kept[0].text);
    assert!(kept[9].text.starts_with("049"), "{}", kept[9].text);
    assert_eq!(read_all(&store, "app", "Small").len(), 1);
    let big_logs = store.functions(Some("app")).expect("list");
    assert_eq!(
        (big_logs[0].function.as_str(), big_logs[0].bytes),
        ("Big", 1000)
    );
    // A second rotation has nothing to do.
    assert_eq!(store.rotate(&retention, 100).expect("rotate").n_lines, 0);
}

#[test]
fn rotation_by_age_deletes_old_lines_and_forgets_functions_left_empty() {
    let (_dir, store) = store();
    let day_ms = 24 * 3600 * 1000;
    let now = 100 * day_ms;
    store
        .append(&[
            line("app", "Old", now - 9 * day_ms, "nine days ago"),
            line("app", "Mixed", now - 8 * day_ms, "eight days ago"),
            line("app", "Mixed", now - day_ms, "yesterday"),
            line("app", "Old", now - 8 * day_ms, "eight days ago"),
        ])
        .expect("append");
    let retention = Retention {
        max_bytes_per_function: None,
        max_age: Some(Duration::from_secs(7 * 24 * 3600)),
    };
    let rotated = store.rotate(&retention, now).expect("rotate");
    assert_eq!(rotated.n_lines, 3);
    assert_eq!(texts(&read_all(&store, "app", "Mixed")), ["yesterday"]);
    assert!(read_all(&store, "app", "Old").is_empty());
    let listed: Vec<String> = store
        .functions(None)
        .expect("list")
        .into_iter()
        .map(|f| f.function)
        .collect();
    assert_eq!(listed, ["Mixed"]);
    // The function comes back with its next line.
    store
        .append(&[line("app", "Old", now, "today")])
        .expect("append");
    assert_eq!(texts(&read_all(&store, "app", "Old")), ["today"]);
}

#[test]
fn default_retention_is_ten_megabytes_and_seven_days() {
    let retention = Retention::default();
    assert_eq!(retention.max_bytes_per_function, Some(10 * 1024 * 1024));
    assert_eq!(retention.max_age, Some(Duration::from_secs(7 * 86_400)));
}

#[test]
fn a_reopened_store_keeps_its_lines_and_cursors_go_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first_cursor = {
        let store = SqliteLogs::open_in(dir.path()).expect("open");
        store
            .append(&[
                line("app", "F", 1, "before"),
                line("app", "F", 2, "restart"),
            ])
            .expect("append");
        read_all(&store, "app", "F")[1].cursor
    };
    let store = SqliteLogs::open_in(dir.path()).expect("reopen");
    assert_eq!(texts(&read_all(&store, "app", "F")), ["before", "restart"]);
    store
        .append(&[line("app", "F", 3, "after")])
        .expect("append");
    let lines = read_all(&store, "app", "F");
    assert_eq!(texts(&lines), ["before", "restart", "after"]);
    assert!(lines[2].cursor > first_cursor);
    assert_eq!(store.functions(None).expect("list")[0].n_lines, 3);
}

#[test]
fn opening_a_missing_store_for_reading_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(serverful_logs::FILE_NAME);
    let error = SqliteLogs::open_existing(&path).expect_err("missing");
    assert!(matches!(error, LogError::Missing { .. }), "{error:?}");
    assert!(error.to_string().contains("does not exist"), "{error}");
    assert!(!path.exists());
}

#[test]
fn a_file_that_is_not_a_log_store_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(serverful_logs::FILE_NAME);
    std::fs::write(
        &path,
        "not a database, just text that is long enough to look like a header",
    )
    .expect("write");
    let error = SqliteLogs::open_existing(&path).expect_err("not a store");
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
}

#[test]
fn concurrent_writers_and_a_follower_see_every_line_once_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(serverful_logs::FILE_NAME);
    // Created first, so both writers find the tables.
    drop(SqliteLogs::open(&path).expect("create"));
    const N_WRITERS: usize = 3;
    const N_BATCHES: usize = 40;
    const BATCH: usize = 5;
    let writers: Vec<_> = (0..N_WRITERS)
        .map(|writer| {
            let path = path.clone();
            std::thread::spawn(move || {
                // Each writer has its own store, as a server and a `serverful invoke`
                // writing to one data folder do.
                let store = SqliteLogs::open(&path).expect("open");
                for batch in 0..N_BATCHES {
                    let lines: Vec<NewLine> = (0..BATCH)
                        .map(|n| line("app", "F", 1, &format!("{writer} {}", batch * BATCH + n)))
                        .collect();
                    store.append(&lines).expect("append");
                }
            })
        })
        .collect();
    let reader = SqliteLogs::open_existing(&path).expect("open for reading");
    let mut tail = Tail::new("app", "F").page_size(13);
    let mut seen: Vec<LogLine> = Vec::new();
    let total = N_WRITERS * N_BATCHES * BATCH;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < total && std::time::Instant::now() < deadline {
        seen.extend(
            tail.wait(
                &reader,
                Duration::from_millis(5),
                Duration::from_millis(200),
            )
            .expect("follow"),
        );
    }
    for writer in writers {
        writer.join().expect("writer thread");
    }
    seen.extend(tail.next_page(&reader).expect("read the rest"));
    assert_eq!(seen.len(), total);
    assert!(seen.windows(2).all(|pair| pair[0].cursor < pair[1].cursor));
    // Each writer's lines arrive in the order it wrote them.
    for writer in 0..N_WRITERS {
        let numbers: Vec<usize> = seen
            .iter()
            .filter_map(|line| {
                let (who, n) = line.text.split_once(' ')?;
                (who == writer.to_string()).then(|| n.parse().expect("number"))
            })
            .collect();
        assert_eq!(numbers, (0..N_BATCHES * BATCH).collect::<Vec<_>>());
    }
    assert_eq!(
        reader.functions(None).expect("list")[0].n_lines,
        total as u64
    );
}

/// A store handed to a writer, shared with the test that reads it.
fn shared_store(dir: &Path) -> Arc<SqliteLogs> {
    Arc::new(SqliteLogs::open_in(dir).expect("open"))
}
