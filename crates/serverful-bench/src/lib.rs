//! The benchmarks behind `bash bench/invoke.sh` and `bash bench/store.sh`.
//!
//! The invoke path: how much slower a request is when `serverful up` runs it through a
//! function than when a bare hyper server answers it.
//!
//! The binaries are thin: `bench-load` (the load generator), `bench-ceiling` (the bare
//! hyper server), `bench-hello-rust` (the Rust `lambda_runtime` function) and
//! `bench-invoke` (the driver that starts every contender, measures it and prints the
//! report). The library holds what they share:
//! - [`load`]: keep-alive connections in a closed loop, every latency in a histogram.
//! - [`cpu`]: CPU time per process, to split a run's work between the processes.
//! - [`server`]: starting a server process, waiting for its `Ready on` line, stopping it.
//! - [`apps`]: the SAM apps the functions run in, written into a scratch folder.
//! - [`offline`]: serverless-offline on the same Node.js handler, the peer contender.
//! - [`rounds`]: the order of the contenders in each round, medians over rounds.
//! - [`memory`]: resident memory of the server and its function processes.
//! - [`report`]: the markdown tables and the machine description.
//! - [`invoke_targets`]: the report's issue #20 targets and its memory table.
//!
//! The store: DynamoDB `PutItem`/`GetItem`/`Query` throughput of `serverful up`'s AWS
//! endpoint against raw SQLite doing the same durable writes, moto, dynalite and Dynoxide.
//! `bench-store-load` is its load generator and `bench-store` its driver:
//! - [`store_workload`]: the table, keys, items, requests and answer checks.
//! - [`sigv4`]: signing the requests.
//! - [`store_load`]: the closed-loop client over HTTP, and over SQLite for the ceiling.
//! - [`sqlite_ceiling`]: raw SQLite with serverful's durability settings.
//! - [`store_report`]: the store benchmark's markdown report.
//! - [`store_postgres`]: the scratch PostgreSQL of the `serverful-pg*` and ExtendDB rows.
//!
//! The queues: SQS `SendMessage` and receive+delete throughput of `serverful up`'s AWS
//! endpoint against moto, fakecloud and sqslite, and send → SQS-triggered function start.
//! `bench-queues` is its driver:
//! - [`queue_client`]: a signed SQS client in the JSON and query protocols.
//! - [`queue_load`]: the closed-loop workloads and the queue checks after them.
//! - [`queue_report`]: the queue benchmark's markdown report.
//!
//! S3: PUT and GET of 4 KB and 1 MB objects and a large multipart upload through
//! `serverful up`'s AWS endpoint against moto, fakecloud, s3rver and s3s-fs, beside the
//! disk's durable ceiling. `bench-s3` is its driver:
//! - [`contender`]: starting emulators and `serverful up` (shared with `bench-queues`).
//! - [`s3_client`]: a signed path-style S3 client that checks ETags and bodies.
//! - [`s3_load`]: the closed-loop PUT and GET, the multipart upload, the ceiling.
//! - [`s3_report`]: the S3 benchmark's markdown report.
//!
//! The WebSocket APIs: connections held per node with the server's memory, and fan-out
//! through the management API (PostToConnection) against serverless-offline.
//! `bench-websocket` is its driver:
//! - [`ws_load`]: the client connections (spread over loopback source addresses) and the
//!   fan-out posters, every delivery timed from its post.
//! - [`memory`]: resident memory of processes.

pub mod apps;
pub mod contender;
pub mod cpu;
pub mod invoke_targets;
pub mod load;
pub mod memory;
pub mod offline;
pub mod queue_client;
pub mod queue_load;
pub mod queue_report;
pub mod report;
pub mod rounds;
pub mod s3_client;
pub mod s3_load;
pub mod s3_report;
pub mod server;
pub mod sigv4;
pub mod sqlite_ceiling;
pub mod store_load;
pub mod store_postgres;
pub mod store_report;
pub mod store_workload;
pub mod ws_load;

/// The body every contender answers with, and that the load generator checks.
pub const HELLO_BODY: &str = r#"{"message":"hello"}"#;
