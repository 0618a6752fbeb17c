//! The invoke-path benchmark behind `bash bench/invoke.sh`: how much slower a request is
//! when `serverful up` runs it through a function than when a bare hyper server answers it.
//!
//! The binaries are thin: `bench-load` (the load generator), `bench-ceiling` (the bare
//! hyper server), `bench-hello-rust` (the Rust `lambda_runtime` function) and
//! `bench-invoke` (the driver that starts every contender, measures it and prints the
//! report). The library holds what they share:
//! - [`load`]: keep-alive connections in a closed loop, every latency in a histogram.
//! - [`cpu`]: CPU time per process, to split a run's work between the processes.
//! - [`server`]: starting a server process, waiting for its `Ready on` line, stopping it.
//! - [`apps`]: the SAM apps the functions run in, written into a scratch folder.
//! - [`report`]: the markdown tables and the machine description.

pub mod apps;
pub mod cpu;
pub mod load;
pub mod report;
pub mod server;

/// The body every contender answers with, and that the load generator checks.
pub const HELLO_BODY: &str = r#"{"message":"hello"}"#;
