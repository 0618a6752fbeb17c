//! Fuzzes the DynamoDB request decoder and engine end to end, in memory: the first byte
//! picks an operation, the rest is its JSON body. Every input gives a response or a
//! DynamoDB error, never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use serverful_store::{MemoryBackend, Store, OPERATIONS};

fn store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let store = Store::open(Arc::new(MemoryBackend::new()), Default::default()).expect("store");
        let create = br#"{"TableName":"fuzz","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"N"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"BillingMode":"PAY_PER_REQUEST"}"#;
        store.call("CreateTable", create).expect("create the fuzzing table");
        store
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = data.split_first() else { return };
    let operation = OPERATIONS[usize::from(*selector) % OPERATIONS.len()];
    // Tables are the fuzzer's to create but not to drop: dropping would make most later
    // inputs meet a missing table.
    if operation == "DeleteTable" {
        return;
    }
    let _ = store().call(operation, body);
});
