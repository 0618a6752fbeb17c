//! Fuzzes SQS's query protocol end to end, in memory: the input is a form body
//! (`Action=...&Attribute.1.Name=...`), read into the operation layer's input shape and
//! run on an in-memory engine, the answer rendered as XML and JSON. Every input gives an
//! answer or an SQS error, never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use serverful_sqs::operations::{self, CallContext};
use serverful_sqs::{wire, Queues, QueuesConfig, SqliteQueues};

fn queues() -> &'static Arc<Queues> {
    static QUEUES: OnceLock<Arc<Queues>> = OnceLock::new();
    QUEUES.get_or_init(|| {
        let backend = SqliteQueues::in_memory().expect("in-memory queues");
        let config = QueuesConfig {
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            endpoint_url: "http://127.0.0.1:4566".to_owned(),
        };
        let queues = Queues::open(Arc::new(backend), config).expect("engine");
        let none = Default::default();
        queues.create_queue("fuzz", &none, &none).expect("create the fuzzing queue");
        Arc::new(queues)
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(data)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        // Long polls and deletes of the fuzzing queue would only slow the fuzzer down.
        .filter(|(key, _)| key != "WaitTimeSeconds")
        .collect();
    let Some(action) = pairs.iter().find(|(key, _)| key == "Action").map(|(_, value)| value.clone()) else {
        return;
    };
    if action == "DeleteQueue" || action == "PurgeQueue" {
        return;
    }
    let mut input = wire::form_to_json(&pairs);
    input.insert("WaitTimeSeconds".to_owned(), serde_json::Value::from(0));
    let context = CallContext {
        principal: Arc::new(serverful_aws::Principal::root("123456789012")),
        region: "us-east-1".to_owned(),
        path_queue: Some("fuzz".to_owned()),
    };
    let answer = runtime().block_on(operations::call(queues(), &action, input, context));
    if let Ok(answer) = answer {
        let _ = wire::xml_response(&action, answer.as_ref(), "request");
        let _ = answer.map(|out| out.to_json().to_string());
    }
});
