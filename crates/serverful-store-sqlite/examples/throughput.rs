//! Rough throughput of durable PutItem, GetItem and Query through the store
//! over SQLite with concurrent callers: `cargo run --release --example
//! throughput -p serverful-store-sqlite [DIR]`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use serverful_store::{Store, StoreConfig};
use serverful_store_sqlite::SqliteBackend;

const THREADS: usize = 16;
const PER_THREAD: usize = 2000;

fn main() {
    let directory = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("serverful-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("create the database directory");
    let backend = SqliteBackend::open(directory.join("store.sqlite")).expect("open the database");
    let store = Arc::new(Store::open(Arc::new(backend), StoreConfig::default()).expect("open"));
    let call = |store: &Store, operation: &str, request: serde_json::Value| {
        store
            .call(operation, request.to_string().as_bytes())
            .unwrap_or_else(|error| panic!("{operation} failed: {error}"))
    };
    call(
        &store,
        "CreateTable",
        json!({"TableName": "bench", "BillingMode": "PAY_PER_REQUEST",
               "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
               "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]}),
    );
    let only = std::env::var("ONLY").ok();
    for operation in ["PutItem", "GetItem", "Query"] {
        if only
            .as_deref()
            .is_some_and(|only| only != operation && operation != "PutItem")
        {
            continue;
        }
        let started = Instant::now();
        let threads: Vec<_> = (0..THREADS)
            .map(|thread| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for n in 0..PER_THREAD {
                        let key = json!({"pk": {"S": format!("user{thread}")}, "sk": {"N": n.to_string()}});
                        let request = match operation {
                            "PutItem" => json!({"TableName": "bench", "Item": {
                                "pk": key["pk"], "sk": key["sk"], "name": {"S": "some name here"}, "count": {"N": "42"}}}),
                            "GetItem" => json!({"TableName": "bench", "Key": key}),
                            _ => json!({"TableName": "bench", "KeyConditionExpression": "pk = :p AND sk = :s",
                                        "ExpressionAttributeValues": {":p": key["pk"], ":s": key["sk"]}}),
                        };
                        store
                            .call(operation, request.to_string().as_bytes())
                            .unwrap_or_else(|error| panic!("{operation} failed: {error}"));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("bench thread");
        }
        let elapsed = started.elapsed();
        let total = THREADS * PER_THREAD;
        println!(
            "{operation}: {total} in {elapsed:.2?} = {:.0}/s",
            total as f64 / elapsed.as_secs_f64()
        );
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&directory);
}
