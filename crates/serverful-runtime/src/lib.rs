//! The function runtime: long-lived function processes speaking the AWS Lambda Runtime API,
//! pooled per function and reused while warm, with Lambda's environment and log lines.
//!
//! This crate knows nothing about HTTP APIs or the template: callers give it
//! [`FunctionConfig`]s and invoke functions by name with an event payload.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// One function as the runtime runs it.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// Logical id; also `AWS_LAMBDA_FUNCTION_NAME` and the log prefix.
    pub name: String,
    /// Lambda runtime identifier: `python3.12`, `nodejs20.x`, `provided.al2023`, `go1.x`, ...
    pub runtime: String,
    /// `_HANDLER`: `app.handler`, `src/index.handler`, or the bootstrap's own notion.
    pub handler: String,
    /// Absolute folder mounted as `LAMBDA_TASK_ROOT` (for `InlineCode`, a folder the caller
    /// wrote the code into).
    pub code_dir: PathBuf,
    pub timeout: Duration,
    pub memory_mb: u32,
    /// The function's `Environment.Variables`, already resolved.
    pub environment: BTreeMap<String, String>,
    /// `ReservedConcurrentExecutions`, if set.
    pub reserved_concurrency: Option<u32>,
}

/// Server-wide settings of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    pub region: String,
    pub account_id: String,
    /// Folder the runtime may write to (bootstrap scripts, per-instance scratch).
    pub data_dir: PathBuf,
    /// `AWS_ENDPOINT_URL` handed to functions, if the AWS endpoint runs.
    pub aws_endpoint_url: Option<String>,
    /// Credentials handed to functions.
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Instances per function when `reserved_concurrency` is unset.
    pub max_concurrency: u32,
}

/// How long Lambda allows for a function's init phase.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
