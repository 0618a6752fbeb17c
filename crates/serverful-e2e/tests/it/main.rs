//! End-to-end tests: the real `serverful` binary on real apps, driven over HTTP.
//!
//! Issue #2 (`serverful up` runs a SAM app's HTTP APIs on Lambda-mode functions).

mod api_keys;
mod api_resources;
mod api_validation;
mod async_invoke;
mod async_postgres;
mod authorizers;
mod aws_hosts;
mod backup;
mod birthday;
mod builds;
mod clients;
mod cluster;
mod cluster_deploys;
mod console;
mod deploys;
mod dynamodb_endpoint;
mod dynamodb_fidelity;
mod eventbridge;
mod examples;
mod failures;
mod function_urls;
mod hello;
mod http_mode;
mod init;
mod invocations;
mod invoke;
mod java;
mod lambda_api;
mod layers;
mod lifecycle;
mod logging_config;
mod logs;
mod metrics;
mod orders;
mod pajthy;
mod payloads;
mod postgres;
mod queue_destinations;
mod queues_postgres;
mod ruby;
mod runtime_mappings;
mod runtimes;
mod s3;
mod s3_config;
mod sandbox;
mod schedules;
mod schedules_postgres;
mod shell_challenge;
mod sns;
mod sqs;
mod state_postgres;
mod store;
mod store_postgres;
mod stream_mappings;
mod streaming;
mod streams;
mod thumbnails;
mod versions;
mod walls;
mod watch;
mod websocket;

use std::time::Duration;

use serde_json::Value;

/// A blocking HTTP client that keeps cookies and redirects out of the way.
fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Parses a response body as JSON, showing the body when it is not.
fn json_body(response: reqwest::blocking::Response) -> Value {
    let text = response.text().expect("response body");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
}
