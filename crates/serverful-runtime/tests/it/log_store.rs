//! The log store hook (issue #14): every line the sink prints is also handed to the
//! runtime's `LogStore`, with the stack, the time and the request id of its invocation.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use serverful_runtime::{LogRecord, LogStore};

use crate::{invoke, App, NODE_COUNTER};

/// A store that remembers every record and how often it was flushed.
#[derive(Debug, Default)]
struct Recorded {
    records: Mutex<Vec<LogRecord>>,
    flushes: AtomicU32,
}

impl LogStore for Recorded {
    fn append(&self, record: LogRecord) {
        self.records.lock().expect("records lock").push(record);
    }

    fn flush(&self, _timeout: Duration) {
        self.flushes.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn every_line_reaches_the_store_with_its_stack_time_and_request_id() {
    let store = Arc::new(Recorded::default());
    let mut app = App::new();
    app.log_store = Some(store.clone());
    app.write("node", "index.js", NODE_COUNTER, false);
    let (runtime, _warnings) = app.runtime(vec![app.function(
        "Hello",
        "nodejs20.x",
        "index.handler",
        "node",
    )]);
    let before = now_ms();
    let first = invoke(&runtime, "Hello", json!({})).await.expect("first");
    let second = invoke(&runtime, "Hello", json!({})).await.expect("second");
    runtime.shutdown().await;
    let after = now_ms();
    assert_eq!(store.flushes.load(Ordering::SeqCst), 1, "shutdown flushes");

    let records = store.records.lock().expect("records lock").clone();
    // The sink still prints every line it hands over, in the same order.
    let kept: Vec<&str> = records.iter().map(|record| record.text.as_str()).collect();
    assert_eq!(kept, app.logs.lines());
    for record in &records {
        assert_eq!(record.stack, "test-stack");
        assert_eq!(record.function, "Hello");
        assert!(
            (before..=after).contains(&record.timestamp_ms),
            "{record:?}"
        );
    }
    for response in [&first, &second] {
        let request_id = response["context"]["awsRequestId"]
            .as_str()
            .expect("request id");
        let of_request: Vec<&str> = records
            .iter()
            .filter(|record| record.request_id.as_deref() == Some(request_id))
            .map(|record| record.text.as_str())
            .collect();
        assert_eq!(of_request.len(), 4, "{of_request:#?}");
        assert!(of_request[0].starts_with("START RequestId: "));
        assert!(
            of_request[1].contains("hello from node"),
            "the function's own line carries its request id: {of_request:#?}"
        );
        assert!(of_request[2].starts_with("END RequestId: "));
        assert!(of_request[3].starts_with("REPORT RequestId: "));
    }
    assert!(
        records
            .windows(2)
            .all(|pair| pair[0].timestamp_ms <= pair[1].timestamp_ms),
        "timestamps follow the order of the lines"
    );
}

fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since_epoch.as_millis()).expect("milliseconds fit")
}
