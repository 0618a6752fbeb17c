//! What a snapshot of a live store database costs the store's writers, for the two ways
//! SQLite offers (the online backup API, which `serverful-backup` uses, and `VACUUM
//! INTO`), and how fast zstd and gzip compress the copy:
//! `cargo run --release --example snapshot_load -p serverful-backup [DIR] [ITEMS]`.
//!
//! Four threads keep putting items through the store's SQLite backend (each put waits for
//! its durable acknowledgement, as the AWS endpoint's do) while each method copies the
//! database; the report compares the writers' throughput and latency during each copy
//! with the seconds before it. The figures are in ARCHITECTURE.md.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use serverful_store::backend::{Backend, Space, Write};
use serverful_store_sqlite::SqliteBackend;

const WRITERS: u64 = 4;

/// An item value of about 200 bytes, partly repetitive like real attribute maps.
fn value(seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut bytes =
        format!("{{\"name\":\"user {seed}\",\"status\":\"active\",\"tags\":[").into_bytes();
    while bytes.len() < 200 {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
        bytes.push(b'a' + ((state >> 59) as u8 % 26));
    }
    bytes
}

fn put(key: u64) -> Write {
    Write::Put {
        space: Space::table(1),
        partition: key.to_be_bytes().to_vec(),
        sort: Vec::new(),
        value: value(key),
    }
}

/// One acknowledged put: when it started, and how long it waited.
type Sample = (Instant, Duration);

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("serverful-snapshot-load-{}", std::process::id()));
    let items: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(300_000);
    std::fs::create_dir_all(&dir).expect("create the folder");
    let database = dir.join("store.sqlite");
    let backend = Arc::new(SqliteBackend::open(&database).expect("open"));
    for start in (0..items).step_by(2000) {
        backend
            .write((start..(start + 2000).min(items)).map(put).collect())
            .expect("fill");
    }
    // The fill's dirty pages are flushed before anything is measured.
    std::fs::File::open(&database)
        .and_then(|file| file.sync_all())
        .expect("sync the database");
    let size = std::fs::metadata(&database).expect("size").len();
    println!("database: {items} items, {:.1} MiB", mebibytes(size));

    let stop = Arc::new(AtomicBool::new(false));
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (backend, stop, samples) = (backend.clone(), stop.clone(), samples.clone());
            std::thread::spawn(move || {
                let mut local = Vec::new();
                let mut key = items + writer;
                while !stop.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    backend.write(vec![put(key)]).expect("put");
                    local.push((started, started.elapsed()));
                    key += WRITERS;
                }
                samples.lock().expect("samples").extend(local);
            })
        })
        .collect();

    std::thread::sleep(Duration::from_secs(3));
    let mut windows = Vec::new();
    // Each method twice, alternating, so neither always comes first.
    for (round, method) in ["VACUUM INTO", "backup API", "VACUUM INTO", "backup API"]
        .into_iter()
        .enumerate()
    {
        let before = Instant::now() - Duration::from_secs(3);
        let copy = dir.join(format!("{}-{round}.sqlite", method.replace(' ', "-")));
        let started = Instant::now();
        match method {
            "backup API" => backup_api(&database, &copy),
            _ => vacuum_into(&database, &copy),
        }
        let ended = Instant::now();
        let log = std::fs::metadata(dir.join("store.sqlite-wal"))
            .map(|metadata| metadata.len())
            .unwrap_or(0);
        windows.push((method, before, started, ended, log));
        if round < 3 {
            let _ = std::fs::remove_file(&copy);
        }
        std::thread::sleep(Duration::from_secs(3));
    }
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.join().expect("writer");
    }
    let samples = samples.lock().expect("samples");
    println!(
        "{:<12} {:>9} {:>13} {:>13} {:>10} {:>10} {:>10} {:>9}",
        "method",
        "copy",
        "puts/s before",
        "puts/s during",
        "p50 during",
        "p99 before",
        "p99 during",
        "log after"
    );
    for (method, before, started, ended, log) in &windows {
        let baseline = window(&samples, *before, *started);
        let during = window(&samples, *started, *ended);
        println!(
            "{:<12} {:>7.0}ms {:>13.0} {:>13.0} {:>8.2}ms {:>8.2}ms {:>8.2}ms {:>6.1}MiB",
            method,
            (*ended - *started).as_secs_f64() * 1000.0,
            baseline.rate,
            during.rate,
            during.p50,
            baseline.p99,
            during.p99,
            mebibytes(*log),
        );
    }

    let copy = std::fs::read(dir.join("backup-API-3.sqlite")).expect("read the copy");
    println!(
        "compressing the {:.1} MiB copy on one core:",
        mebibytes(copy.len() as u64)
    );
    for (name, compress) in [
        (
            "zstd -1",
            Box::new(|data: &[u8]| zstd::encode_all(data, 1).expect("zstd"))
                as Box<dyn Fn(&[u8]) -> Vec<u8>>,
        ),
        (
            "zstd -3",
            Box::new(|data: &[u8]| zstd::encode_all(data, 3).expect("zstd")),
        ),
        ("gzip -1", Box::new(|data: &[u8]| gzip(data, 1))),
        ("gzip -6", Box::new(|data: &[u8]| gzip(data, 6))),
    ] {
        let started = Instant::now();
        let compressed = compress(&copy);
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "  {name}: {:.0} MiB/s, {:.1}% of the size",
            mebibytes(copy.len() as u64) / seconds,
            100.0 * compressed.len() as f64 / copy.len() as f64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

/// What the writers did in a window of time.
struct Window {
    rate: f64,
    p50: f64,
    p99: f64,
}

fn window(samples: &[Sample], from: Instant, to: Instant) -> Window {
    let mut latencies: Vec<f64> = samples
        .iter()
        .filter(|(started, _)| *started >= from && *started < to)
        .map(|(_, latency)| latency.as_secs_f64() * 1000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let at = |quantile: f64| {
        latencies
            .get(
                ((latencies.len() as f64 * quantile) as usize)
                    .min(latencies.len().saturating_sub(1)),
            )
            .copied()
            .unwrap_or(0.0)
    };
    Window {
        rate: latencies.len() as f64 / (to - from).as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
    }
}

fn read_only(database: &Path) -> Connection {
    Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open")
}

/// The method `serverful-backup` uses: one read transaction, every page in one step.
fn backup_api(database: &Path, copy: &Path) {
    let source = read_only(database);
    source.execute_batch("BEGIN").expect("begin");
    source
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| {
            row.get::<_, i64>(0)
        })
        .expect("read");
    let mut destination = Connection::open(copy).expect("create");
    destination
        .pragma_update(None, "journal_mode", "OFF")
        .expect("journal");
    destination
        .pragma_update(None, "synchronous", "OFF")
        .expect("synchronous");
    let backup = rusqlite::backup::Backup::new(&source, &mut destination).expect("backup");
    while backup.step(-1).expect("step") != rusqlite::backup::StepResult::Done {}
}

fn vacuum_into(database: &Path, copy: &Path) {
    read_only(database)
        .execute("VACUUM INTO ?1", [copy.to_str().expect("utf-8 path")])
        .expect("VACUUM INTO");
}

fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
