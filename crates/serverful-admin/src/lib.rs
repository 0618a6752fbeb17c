//! The admin API: the platform's [`serverful_platform::Action`]s over HTTP + JSON on a listener of their own,
//! every request behind `Authorization: Bearer TOKEN`, and the client the CLI commands
//! (`deploy`, `rollback`, `delete`, `ls`) use.
//!
//! Actions answer with a stream of JSON lines (NDJSON): progress events as they happen,
//! then one last line with the outcome or the error, so that a long deploy shows its
//! progress on the client's terminal. A missing or wrong token gets 401 with a JSON error
//! before anything runs. `GET /metrics` (Prometheus's text, `metrics`) checks the token
//! itself, in plain text, and skips it when the server makes metrics public.
//!
//! It also serves the web console (`console.rs`), a page that drives the same API.
//!
//! Architecture invariant: this crate only translates; every decision is the platform's.

pub mod client;
pub mod console;
mod metrics;
mod server;
mod token;
mod wire;

pub use client::{Client, ClientError, ClientSource};
pub use metrics::{MetricsAccess, METRICS_PATH};
pub use server::{router, AdminState, NODE_SECRET_HEADER};
pub use token::{load_or_generate_token, TokenSource};
pub use wire::Event;

/// The default admin port: next to the AWS endpoint's 4566.
pub const DEFAULT_ADMIN_PORT: u16 = 4599;

/// The API version every path starts with.
pub const PREFIX: &str = "/v1";
