//! A backup of the DynamoDB store's database taken while writers keep putting items
//! through the store, as the AWS endpoint does: every put acknowledged before the backup
//! was called is in the restored copy.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serverful_backup::{restore, write_backup, BackupOptions, BackupSource};
use serverful_store::{Store, StoreConfig};
use serverful_store_sqlite::SqliteBackend;

const TABLE: &str = "Items";
const WRITERS: u64 = 4;
/// Items written before the writers start.
const PRELOADED: u64 = 20_000;

fn open(path: &std::path::Path) -> Arc<Store> {
    let backend = SqliteBackend::open(path).expect("open the database");
    Arc::new(Store::open(Arc::new(backend), StoreConfig::default()).expect("load the catalog"))
}

/// Runs one operation as the AWS endpoint does and waits for its answer: a put is
/// queued to the store's writer and answered once its group's log sync is done.
fn call(store: &Arc<Store>, operation: &str, request: &Value) -> Result<Value, String> {
    let (sender, answer) = std::sync::mpsc::channel();
    let blocking = store.start_call(
        operation,
        request.to_string().into_bytes(),
        Box::new(move |outcome| {
            let _ = sender.send(outcome);
        }),
    );
    if let Some(blocking) = blocking {
        blocking();
    }
    match answer.recv().expect("every started call is answered") {
        Ok(body) => Ok(serde_json::from_slice(&body).expect("responses are JSON")),
        Err(error) => Err(format!("{operation}: {error:?}")),
    }
}

fn item(writer: u64, sequence: u64) -> Value {
    json!({
        "id": {"S": format!("{writer}-{sequence}")},
        "payload": {"S": "x".repeat(200)},
    })
}

fn put(store: &Arc<Store>, writer: u64, sequence: u64) {
    let request = json!({"TableName": TABLE, "Item": item(writer, sequence)});
    call(store, "PutItem", &request).expect("put");
}

#[test]
fn every_write_acknowledged_before_the_backup_is_in_it() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let database = dir.path().join("dynamodb.sqlite");
    let store = open(&database);
    call(
        &store,
        "CreateTable",
        &json!({
            "TableName": TABLE,
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        }),
    )
    .expect("create table");
    // Enough items that the copy takes a while, with writes landing during it.
    for first in (0..PRELOADED).step_by(25) {
        let requests: Vec<Value> = (first..first + 25)
            .map(|sequence| json!({"PutRequest": {"Item": item(WRITERS, sequence)}}))
            .collect();
        call(
            &store,
            "BatchWriteItem",
            &json!({"RequestItems": {TABLE: requests}}),
        )
        .expect("preload");
    }

    // Each writer counts the puts acknowledged so far; the count is raised only after
    // the put returned, so a count read before the backup is a floor of what it must hold.
    let acknowledged: Arc<Vec<AtomicU64>> =
        Arc::new((0..WRITERS).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (store, acknowledged, stop) = (store.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut sequence = 0;
                while !stop.load(Ordering::SeqCst) {
                    put(&store, writer, sequence);
                    sequence += 1;
                    acknowledged[writer as usize].store(sequence, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let started = Instant::now();
    while acknowledged
        .iter()
        .any(|count| count.load(Ordering::SeqCst) < 50)
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "writers stalled"
        );
        std::thread::sleep(Duration::from_millis(5));
    }

    let floor: Vec<u64> = acknowledged
        .iter()
        .map(|count| count.load(Ordering::SeqCst))
        .collect();
    let options = BackupOptions {
        staging_dir: Some(dir.path().to_path_buf()),
        ..BackupOptions::new("test")
    };
    let mut backup = Vec::new();
    write_backup(
        &[BackupSource::sqlite("dynamodb.sqlite", &database)],
        &options,
        &mut backup,
    )
    .expect("backup while writers write");
    let after: Vec<u64> = acknowledged
        .iter()
        .map(|count| count.load(Ordering::SeqCst))
        .collect();
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.join().expect("writer");
    }
    assert!(
        after
            .iter()
            .zip(&floor)
            .any(|(after, before)| after > before),
        "writers kept writing during the backup: {floor:?} then {after:?}"
    );

    let restored = dir.path().join("restored");
    restore(backup.as_slice(), &restored).expect("restore");
    let copy = open(&restored.join("dynamodb.sqlite"));
    for (writer, count) in floor.iter().enumerate() {
        for sequence in 0..*count {
            let item = call(
                &copy,
                "GetItem",
                &json!({"TableName": TABLE, "Key": {"id": {"S": format!("{writer}-{sequence}")}}}),
            )
            .expect("get");
            assert!(
                item.get("Item").is_some(),
                "item {writer}-{sequence} was acknowledged before the backup began but is not in it"
            );
        }
    }
    // And it holds no more than was written by the time the backup returned.
    let mut held = 0;
    let mut start: Option<Value> = None;
    loop {
        let mut request = json!({"TableName": TABLE, "Select": "COUNT"});
        if let Some(start) = start.take() {
            request["ExclusiveStartKey"] = start;
        }
        let page = call(&copy, "Scan", &request).expect("count");
        held += page["Count"].as_u64().expect("count");
        match page.get("LastEvaluatedKey") {
            Some(key) => start = Some(key.clone()),
            None => break,
        }
    }
    let floor_total: u64 = floor.iter().sum::<u64>() + PRELOADED;
    let after_total: u64 = after.iter().sum::<u64>() + PRELOADED + WRITERS;
    assert!(
        (floor_total..=after_total).contains(&held),
        "{held} items, expected between {floor_total} and {after_total}"
    );
}
