//! The function runtime: long-lived function processes speaking the AWS Lambda Runtime API,
//! pooled per function and reused while warm, with Lambda's environment and log lines.
//!
//! This crate knows nothing about HTTP APIs or the template: callers give it
//! [`FunctionConfig`]s and invoke functions by name with an event payload.
//!
//! ```no_run
//! # async fn demo(functions: Vec<serverful_runtime::FunctionConfig>) -> Result<(), Box<dyn std::error::Error>> {
//! use serverful_runtime::{Runtime, RuntimeOptions};
//! let (runtime, warnings) = Runtime::new(functions, RuntimeOptions::default())?;
//! for warning in warnings {
//!     eprintln!("warning: {warning}");
//! }
//! let response = runtime.invoke("HelloFunction", r#"{"name":"ada"}"#.into()).await?;
//! println!("{}", String::from_utf8_lossy(&response));
//! runtime.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Architecture invariant: every instance has its own Runtime API listener, so a process
//! can only ever take its own invocations (the sandbox then makes it the only port the
//! process reaches). The crate does no HTTP beyond that API and knows nothing of events,
//! routes or the store.
//!
//! Codemap:
//! - [`bootstrap`]: which runtimes exist, which interpreter runs them, start-up validation,
//!   and Serverful's own Node.js, Python, Ruby and Java bootstraps.
//! - `supervisor`: the instances of one function, whatever their kind: admission and
//!   concurrency limits, warm reuse, cold starts and their failures, idle reaping,
//!   warming ahead of traffic, shutdown; `InstanceKind` is what differs between kinds.
//! - `pool`: Lambda-mode functions under the supervisor, invoked through the Runtime API.
//! - `instance`: one function process with its own Runtime API listener.
//! - `api_server`: the Lambda Runtime API one instance talks to, buffered and streamed
//!   responses.
//! - [`streaming`]: streamed responses as callers receive them.
//! - [`logs`]: the log sink and Lambda's `START`/`END`/`REPORT` lines.
//! - `output`: a process's stdout and stderr, line by line into the sink.
//! - [`http_mode`]: HTTP-mode functions (web servers, the Lambda Web Adapter's settings)
//!   and their readiness check; `http_pool`: their kind of instance under the supervisor,
//!   and [`HttpLease`]s.

mod api_server;
pub mod aws_hosts;
pub mod bootstrap;
pub mod frames;
pub mod http_mode;
mod http_pool;
mod instance;
mod listener;
pub mod logs;
mod output;
mod pool;
pub mod sandbox;
pub mod streaming;
mod supervisor;
pub mod system_log;

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use bootstrap::check_runtimes;
pub use http_pool::{HttpLease, HttpOutcome};
pub use logs::{
    flush_stdout, InvocationReport, LogRecord, LogSink, LogStore, LogTail, Report, ReportSlot,
};
pub use streaming::{Response, ResponseStream};
pub use system_log::{LogFormat, LoggingConfig, SystemLogLevel};

/// One function as the runtime runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    /// Logical id: the runtime's key for the function and the prefix of its log lines.
    pub name: String,
    /// The name the function has on AWS (its `FunctionName`, or the one CloudFormation
    /// generates): `AWS_LAMBDA_FUNCTION_NAME`, the log group and the invoked function ARN.
    pub function_name: String,
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
    /// Size of the sandbox's private `/tmp` in MB (`EphemeralStorage`).
    pub tmp_size_mb: u32,
    /// The network the function chose (`Metadata: Serverful: Network`); the server-wide
    /// default otherwise.
    pub network: Option<serverful_sandbox::Network>,
    /// The function's layers merged into one read-only folder, shown at `/opt` inside the
    /// sandbox (and used at its own path without one); `None` without layers.
    pub layers_dir: Option<PathBuf>,
    /// `LoggingConfig`: the format of the system lines around each invocation, which of
    /// them are written, and what the function's runtime is told about its own.
    pub logging: LoggingConfig,
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
    /// Credentials handed to functions (left unset when `access_key_id` is empty). A
    /// function's own `environment` may override them, e.g. with per-function keys.
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, for temporary credentials; unset when `None`, since SDKs reject
    /// or mis-sign with an empty token.
    pub session_token: Option<String>,
    /// Instances per function when `reserved_concurrency` is unset.
    pub max_concurrency: u32,
    /// Requests per function that may wait for a free instance once the concurrency limit
    /// is reached; past that they are throttled ([`InvokeError::Throttled`]).
    pub max_queued: u32,
    /// Where function output and `START`/`END`/`REPORT` lines go; by default the server's
    /// stdout, each line prefixed with the function name.
    pub log_sink: LogSink,
    /// Where those lines are also kept, as lines of [`RuntimeOptions::stack`], with their
    /// time and request id (`serverful logs` reads them back); `None` keeps nothing.
    pub log_store: Option<Arc<dyn LogStore>>,
    /// The stack (deployed app) these functions belong to, under which their lines are
    /// kept.
    pub stack: String,
    /// Instances idle this long are stopped (scale to zero); `None` keeps them warm until
    /// shutdown.
    pub idle_timeout: Option<Duration>,
    /// Isolation for instances; `None` runs them as plain processes.
    pub sandbox: Option<Arc<sandbox::Sandbox>>,
    /// The CA bundle functions trust and, sandboxed, the AWS host names that resolve to
    /// Serverful; `None` sets neither.
    pub aws_hosts: Option<aws_hosts::AwsHosts>,
    /// Where each function's invocations, errors, durations and cold starts are counted,
    /// under [`RuntimeOptions::stack`] and its logical id; off by default.
    pub metrics: serverful_metrics::Metrics,
}

impl Default for RuntimeOptions {
    /// Development defaults: the account and region `sam local` uses, data under
    /// `.serverful/`, ten instances per function, logs on stdout, instances stopped after
    /// [`DEFAULT_IDLE_TIMEOUT`] without requests.
    fn default() -> Self {
        RuntimeOptions {
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            data_dir: PathBuf::from(".serverful"),
            aws_endpoint_url: None,
            access_key_id: String::new(),
            secret_access_key: String::new(),
            session_token: None,
            max_concurrency: 10,
            max_queued: DEFAULT_MAX_QUEUED,
            log_sink: LogSink::default(),
            log_store: None,
            stack: DEFAULT_STACK.to_owned(),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            sandbox: None,
            aws_hosts: None,
            metrics: serverful_metrics::Metrics::disabled(),
        }
    }
}

/// The stack name when none is given, as the template loader's default.
pub const DEFAULT_STACK: &str = "serverful";

/// How long [`Runtime::shutdown`] waits for the log store to take the last lines.
const LOG_STORE_FLUSH: Duration = Duration::from_secs(5);

/// Requests per function that may wait for an instance by default.
pub const DEFAULT_MAX_QUEUED: u32 = 100;

/// How long an instance stays warm without requests by default, in the range Lambda keeps
/// idle execution environments.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// How long Lambda allows for a function's init phase.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often [`Runtime::drain`] looks whether requests are still running.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// Largest synchronous invocation payload, request or response, as on Lambda (6 MB).
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// Largest streamed response, as on Lambda (200 MB, the limit Lambda's documentation
/// gives for response streaming).
pub const MAX_STREAMED_RESPONSE_BYTES: usize = 200 * 1024 * 1024;

/// A function configuration that cannot run; every message names the function and says
/// what to fix.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The runtime is not one Lambda has, or Serverful cannot run its language yet.
    #[error("{function}: runtime {reason}")]
    UnsupportedRuntime {
        function: String,
        runtime: String,
        /// Starts with the runtime's name: `python3.15 is not a Lambda runtime; did you
        /// mean python3.14?`.
        reason: String,
    },
    /// No interpreter for the runtime's language is installed.
    #[error("{function}: runtime {runtime} needs {language}: {detail}")]
    MissingInterpreter {
        function: String,
        runtime: String,
        language: &'static str,
        detail: String,
    },
    /// The handler string is malformed or names a module file that does not exist.
    #[error("{function}: handler {handler}: {problem}")]
    BadHandler {
        function: String,
        handler: String,
        problem: String,
    },
    #[error("{function}: code folder {} does not exist", path.display())]
    MissingCodeDir { function: String, path: PathBuf },
    #[error(
        "{function}: {} is missing: a {runtime} function needs an executable `bootstrap` in its code folder",
        path.display()
    )]
    MissingBootstrap {
        function: String,
        runtime: String,
        path: PathBuf,
    },
    #[error("{function}: {} is not executable; run `chmod +x {}`", path.display(), path.display())]
    BootstrapNotExecutable { function: String, path: PathBuf },
    /// An HTTP-mode function (`AWS_LWA_PORT`) whose handler names no file.
    #[error(
        "{function}: {} is missing: an HTTP-mode function (AWS_LWA_PORT set) starts the executable file its Handler names, e.g. `run.sh`",
        path.display()
    )]
    MissingStartScript { function: String, path: PathBuf },
    /// A Lambda Web Adapter setting in the function's environment is invalid.
    #[error("{function}: {source}")]
    BadHttpSetting {
        function: String,
        source: http_mode::HttpSettingError,
    },
    #[error("function {0} is defined twice")]
    DuplicateFunction(String),
    /// `javac` could not compile Serverful's Java bootstrap.
    #[error("{function}: failed to compile Serverful's Java bootstrap with {}: {output}", javac.display())]
    CompileBootstrap {
        function: String,
        javac: PathBuf,
        /// What the compiler printed.
        output: String,
    },
    #[error("failed to write the runtime bootstraps into {}: {source}", path.display())]
    WriteBootstraps {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why an invocation produced no result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvokeError {
    #[error("function {0} does not exist")]
    NoSuchFunction(String),
    /// The function (or its runtime) failed; the bytes are Lambda's error JSON,
    /// `{"errorMessage": …, "errorType": …, …}`.
    #[error("function error: {}", String::from_utf8_lossy(.0))]
    FunctionError(Bytes),
    /// The function ran past its `Timeout`; its instance was killed.
    #[error("the function timed out")]
    Timeout,
    /// The function may not run now: its reserved concurrency is 0, or every instance it
    /// may have is busy and the wait queue is full.
    #[error("rate exceeded: the function is at its concurrency limit")]
    Throttled,
    /// The request or the response exceeds [`MAX_PAYLOAD_BYTES`].
    #[error("payload exceeds the {MAX_PAYLOAD_BYTES} bytes Lambda allows")]
    PayloadTooLarge,
    /// [`Runtime::shutdown`] has begun.
    #[error("the runtime is shutting down")]
    ShuttingDown,
}

/// Why a function could not be warmed ([`Runtime::warm`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum WarmError {
    #[error("function {0} does not exist")]
    NoSuchFunction(String),
    /// The instance's init failed: it crashed, reported an init error, or was not ready
    /// within its init limit.
    #[error("function {function} failed its init: {failure}")]
    Init {
        function: String,
        failure: InitFailure,
    },
    /// [`Runtime::shutdown`] has begun.
    #[error("the runtime is shutting down")]
    ShuttingDown,
}

/// How an instance's init failed, as Lambda reports it and as the process showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitFailure {
    /// Lambda's `errorType`: the function's own (`Error`, `ImportModuleError`) or the
    /// runtime's (`Runtime.ExitError`, `Sandbox.Timedout`).
    pub error_type: String,
    pub error_message: String,
    /// How the process ended (`exit status 1`), when it ended on its own.
    pub exit: Option<String>,
    /// The last lines the instance logged during its init, oldest first.
    pub last_lines: Vec<String>,
}

impl std::fmt::Display for InitFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error_type)?;
        if !self.error_message.is_empty() {
            write!(f, ": {}", self.error_message)?;
        }
        if let Some(exit) = &self.exit {
            write!(f, " (the process ended with {exit})")?;
        }
        if !self.last_lines.is_empty() {
            write!(f, "\nlast log lines:")?;
            for line in &self.last_lines {
                write!(f, "\n  {line}")?;
            }
        }
        Ok(())
    }
}

/// Optional invocation metadata that reaches the function as `Lambda-Runtime-*` headers.
#[derive(Debug, Clone, Default)]
pub struct InvokeContext {
    /// `Lambda-Runtime-Client-Context`: the client context JSON (mobile SDK).
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`: `{"cognitoIdentityId":…,"cognitoIdentityPoolId":…}`.
    pub cognito_identity: Option<String>,
    /// `Lambda-Runtime-Trace-Id`; generated when unset.
    pub trace_id: Option<String>,
    /// Where the invocation's log lines also go, for a caller that asked for their tail.
    pub log_tail: Option<LogTail>,
    /// Where the runtime reports the invocation's request id, instance and timings when it
    /// ends, for a caller that records invocations.
    pub report: Option<ReportSlot>,
}

/// What one function has done since the runtime started, for metrics. Every finished
/// request counts once in exactly one of the outcome counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionStats {
    pub function: String,
    /// Requests answered with a response.
    pub successes: u64,
    /// Function errors, failed inits, crashed processes and oversized responses.
    pub errors: u64,
    pub timeouts: u64,
    pub throttles: u64,
    /// Requests refused because the runtime was shutting down.
    pub rejections: u64,
    /// Processes started (successful or not).
    pub cold_starts: u64,
    /// Requests running or waiting for an instance right now.
    pub in_flight: u64,
    /// Live processes right now, busy or idle.
    pub instances: u64,
    /// Warm processes waiting for a request right now.
    pub idle_instances: u64,
}

/// One function under the supervisor, by the kind of its instances.
#[derive(Debug, Clone)]
enum Function {
    Lambda(Arc<pool::Pool>),
    Http(Arc<http_pool::HttpPool>),
}

impl Function {
    fn stats(&self) -> FunctionStats {
        match self {
            Function::Lambda(pool) => pool.stats(),
            Function::Http(pool) => pool.stats(),
        }
    }

    fn in_flight(&self) -> u64 {
        match self {
            Function::Lambda(pool) => pool.in_flight(),
            Function::Http(pool) => pool.in_flight(),
        }
    }

    async fn shutdown(&self) {
        match self {
            Function::Lambda(pool) => pool.shutdown().await,
            Function::Http(pool) => pool.shutdown().await,
        }
    }

    async fn warm_up(&self) -> Result<(), WarmError> {
        match self {
            Function::Lambda(pool) => pool.warm_up().await,
            Function::Http(pool) => pool.warm_up().await,
        }
    }

    fn reaper(&self) -> std::sync::Weak<dyn supervisor::ReapIdle> {
        match self {
            Function::Lambda(pool) => {
                Arc::downgrade(pool) as std::sync::Weak<dyn supervisor::ReapIdle>
            }
            Function::Http(pool) => {
                Arc::downgrade(pool) as std::sync::Weak<dyn supervisor::ReapIdle>
            }
        }
    }
}

/// All functions of an app, each with its supervised instances.
pub struct Runtime {
    functions: HashMap<String, Function>,
    idle_timeout: Option<Duration>,
    /// The idle reaper starts with the first invocation (`new` may run outside a tokio
    /// runtime).
    reaper: std::sync::Once,
    /// The tokio runtime `new` ran in, if any: invocations and instances run there, even
    /// when the caller is on another one (the Lambda API on the AWS endpoint's runtime).
    tasks: Option<tokio::runtime::Handle>,
    /// Flushed on shutdown, so that a command's last lines are kept before it exits.
    log_store: Option<Arc<dyn LogStore>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.functions.keys().collect();
        names.sort();
        f.debug_struct("Runtime")
            .field("functions", &names)
            .finish()
    }
}

impl Runtime {
    /// Validates every function up front: runtime supported, interpreter installed, handler
    /// file or bootstrap present and executable. Returns the runtime and warnings (such as
    /// an interpreter version that differs from the one the runtime names).
    pub fn new(
        mut functions: Vec<FunctionConfig>,
        options: RuntimeOptions,
    ) -> Result<(Runtime, Vec<String>), RuntimeError> {
        for function in &mut functions {
            // A relative folder would mean something else once the process runs inside it.
            if let Ok(absolute) = std::path::absolute(&function.code_dir) {
                function.code_dir = absolute;
            }
        }
        let mut warnings = Vec::new();
        // Installed first: validating a Java function compiles its bootstrap in there.
        let runtime_dir = bootstrap::install(&options.data_dir)?;
        let mut probes = bootstrap::InterpreterProbes::with_runtime_dir(runtime_dir.clone());
        let mut launches = Vec::with_capacity(functions.len());
        for function in &functions {
            let mode = http_mode::FunctionMode::from_environment(&function.environment).map_err(
                |source| RuntimeError::BadHttpSetting {
                    function: function.name.clone(),
                    source,
                },
            )?;
            let launch = match &mode {
                http_mode::FunctionMode::Lambda => {
                    bootstrap::validate(function, &mut probes, &mut warnings)?
                }
                http_mode::FunctionMode::Http(_) => http_mode::validate(function)?,
            };
            launches.push((mode, launch));
        }
        let idle_timeout = options.idle_timeout;
        let mut options = options;
        let log_store = options.log_store.clone();
        if let Some(store) = &log_store {
            options.log_sink = options
                .log_sink
                .clone()
                .keeping(store.clone(), options.stack.clone());
        }
        let options = Arc::new(options);
        let mut supervised = HashMap::new();
        for (function, (mode, launch)) in functions.into_iter().zip(launches) {
            let name = function.name.clone();
            if supervised.contains_key(&name) {
                return Err(RuntimeError::DuplicateFunction(name));
            }
            let max_queued = options.max_queued;
            let spec =
                instance::FunctionSpec::new(function, launch, runtime_dir.clone(), options.clone());
            let function = match mode {
                http_mode::FunctionMode::Http(settings) => {
                    let kind = http_pool::HttpKind::new(settings);
                    Function::Http(Arc::new(supervisor::Supervisor::new(
                        spec, kind, max_queued,
                    )))
                }
                http_mode::FunctionMode::Lambda => Function::Lambda(Arc::new(
                    supervisor::Supervisor::new(spec, pool::LambdaKind, max_queued),
                )),
            };
            supervised.insert(name, function);
        }
        let runtime = Runtime {
            functions: supervised,
            idle_timeout,
            reaper: std::sync::Once::new(),
            tasks: tokio::runtime::Handle::try_current().ok(),
            log_store,
        };
        Ok((runtime, warnings))
    }

    /// Names of the functions this runtime runs, sorted.
    pub fn function_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.functions.keys().cloned().collect();
        names.sort();
        names
    }

    /// The configuration `function` runs with, if this runtime runs it.
    pub fn function_config(&self, function: &str) -> Option<&FunctionConfig> {
        match self.functions.get(function)? {
            Function::Lambda(pool) => Some(&pool.spec.config),
            Function::Http(pool) => Some(&pool.spec.config),
        }
    }

    /// Whether `function` runs in HTTP mode (a web server the caller proxies to).
    pub fn is_http_mode(&self, function: &str) -> bool {
        matches!(self.functions.get(function), Some(Function::Http(_)))
    }

    /// For an HTTP-mode function: a ready instance to proxy one request to, started if
    /// needed. `Ok(None)` for a Lambda-mode function, which takes events through
    /// [`Runtime::invoke`] instead.
    pub async fn http_lease(&self, function: &str) -> Result<Option<HttpLease>, InvokeError> {
        let pool = match self.functions.get(function) {
            Some(Function::Http(pool)) => pool,
            Some(Function::Lambda(_)) => return Ok(None),
            None => return Err(InvokeError::NoSuchFunction(function.to_owned())),
        };
        self.start_reaper();
        // A cold start runs in its own task, so that a caller who stops waiting does not
        // leave a half-started process behind.
        let pool = pool.clone();
        match self.spawn(async move { pool.lease().await }).await {
            Ok(result) => result.map(Some),
            Err(join_error) => {
                tracing::error!(function, "lease task failed: {join_error}");
                Err(InvokeError::FunctionError(logs::error_json(
                    "Runtime.Unknown",
                    "The invocation failed inside Serverful",
                )))
            }
        }
    }

    /// Starts scaling idle instances to zero, once.
    fn start_reaper(&self) {
        if let Some(idle_timeout) = self.idle_timeout {
            self.reaper.call_once(|| {
                let supervisors = self.functions.values().map(Function::reaper).collect();
                self.spawn(supervisor::reap_idle_instances(supervisors, idle_timeout));
            });
        }
    }

    /// Spawns `task` on the runtime the functions run on (see `tasks`), else on the
    /// caller's.
    fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.tasks {
            Some(handle) => handle.spawn(task),
            None => tokio::spawn(task),
        }
    }

    /// Invokes `function` with `payload` (the event JSON) and returns its response JSON.
    pub async fn invoke(&self, function: &str, payload: Bytes) -> Result<Bytes, InvokeError> {
        self.invoke_with(function, payload, InvokeContext::default())
            .await
    }

    /// [`Runtime::invoke`] with client context, Cognito identity or trace id. A response
    /// the function streams is collected (at most [`MAX_PAYLOAD_BYTES`]), as Lambda
    /// answers callers that do not stream.
    pub async fn invoke_with(
        &self,
        function: &str,
        payload: Bytes,
        context: InvokeContext,
    ) -> Result<Bytes, InvokeError> {
        match self.invoke_streaming(function, payload, context).await? {
            Response::Buffered(body) => Ok(body),
            Response::Streamed(stream) => stream.collect(MAX_PAYLOAD_BYTES).await,
        }
    }

    /// Invokes `function` for a caller that passes a streamed response on as it comes: a
    /// function that streams (the Runtime API's streaming response mode) is answered as
    /// soon as it starts, with its chunks to follow; any other with its whole response.
    pub async fn invoke_streaming(
        &self,
        function: &str,
        payload: Bytes,
        context: InvokeContext,
    ) -> Result<Response, InvokeError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(InvokeError::PayloadTooLarge);
        }
        let pool = match self.functions.get(function) {
            Some(Function::Lambda(pool)) => pool,
            Some(Function::Http(http_pool)) => {
                // Not through the gateway: the event goes to AWS_LWA_PASS_THROUGH_PATH.
                self.start_reaper();
                let http_pool = http_pool.clone();
                return match self
                    .spawn(async move { http_pool.invoke(payload).await })
                    .await
                {
                    Ok(result) => result.map(Response::Buffered),
                    Err(join_error) => {
                        tracing::error!(function, "invocation task failed: {join_error}");
                        Err(InvokeError::FunctionError(logs::error_json(
                            "Runtime.Unknown",
                            "The invocation failed inside Serverful",
                        )))
                    }
                };
            }
            None => return Err(InvokeError::NoSuchFunction(function.to_owned())),
        };
        self.start_reaper();
        // The invocation runs in its own task so that a caller who stops waiting (a client
        // that disconnects) does not kill the instance halfway through a request. The task
        // answers once: a stream as it starts (and runs on until it ends), else the result.
        let (head, answer) = tokio::sync::oneshot::channel();
        let pool = pool.clone();
        self.spawn(async move {
            let mut head = Some(head);
            let result = pool.invoke(payload, context, &mut head).await;
            if let Some(head) = head {
                // The caller may have stopped waiting.
                let _ = head.send(result.map(|body| Response::Buffered(body.unwrap_or_default())));
            }
        });
        match answer.await {
            Ok(answer) => answer,
            Err(_) => {
                // The task ends without answering only if it panicked.
                tracing::error!(function, "invocation task failed");
                Err(InvokeError::FunctionError(logs::error_json(
                    "Runtime.Unknown",
                    "The invocation failed inside Serverful",
                )))
            }
        }
    }

    /// Counters of every function, sorted by name.
    pub fn stats(&self) -> Vec<FunctionStats> {
        let mut stats: Vec<FunctionStats> = self.functions.values().map(Function::stats).collect();
        stats.sort_by(|a, b| a.function.cmp(&b.function));
        stats
    }

    /// For a switch to a new version: waits until no request is running or waiting (the
    /// caller has stopped sending new ones), at most `grace`, then shuts down. Returns how
    /// many requests were still in flight when the grace period ran out.
    pub async fn drain(&self, grace: Duration) -> u64 {
        let deadline = tokio::time::Instant::now() + grace;
        let in_flight = || {
            self.functions
                .values()
                .map(Function::in_flight)
                .sum::<u64>()
        };
        while in_flight() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(DRAIN_POLL).await;
        }
        let left = in_flight();
        self.shutdown().await;
        left
    }

    /// Sets up a sandbox ahead of each sandboxed Lambda-mode function's next cold start,
    /// and waits until they are ready (a few milliseconds each). Without it the first cold
    /// start of each function sets up its own sandbox.
    pub async fn park_sandboxes(&self) {
        let tasks: Vec<_> = self
            .functions
            .values()
            .filter_map(|function| match function {
                Function::Lambda(pool) => pool.park_ahead(),
                Function::Http(_) => None,
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    }

    /// Starts one instance of `function` ahead of traffic and keeps it warm for the first
    /// request: Ok once its init succeeded (a web server: once it is ready), or when it
    /// has a usable instance already or may never run (reserved concurrency 0); the init
    /// error otherwise, with how the process ended and its last log lines. A deploy warms
    /// a new version's functions this way before switching to it, so that a function that
    /// crashes at init fails the deploy instead of the requests after it.
    pub async fn warm(&self, function: &str) -> Result<(), WarmError> {
        let function_ref = self
            .functions
            .get(function)
            .ok_or_else(|| WarmError::NoSuchFunction(function.to_owned()))?
            .clone();
        self.start_reaper();
        // In its own task, like a cold start: a caller who stops waiting leaves no
        // half-started process behind.
        match self
            .spawn(async move { function_ref.warm_up().await })
            .await
        {
            Ok(result) => result,
            Err(join_error) => {
                tracing::error!(function, "warm-up task failed: {join_error}");
                Err(WarmError::Init {
                    function: function.to_owned(),
                    failure: InitFailure {
                        error_type: "Runtime.Unknown".to_owned(),
                        error_message: "The warm-up failed inside Serverful".to_owned(),
                        exit: None,
                        last_lines: Vec::new(),
                    },
                })
            }
        }
    }

    /// Kills every function process (and its children) and waits for them, then for the
    /// log store to take their last lines.
    pub async fn shutdown(&self) {
        for function in self.functions.values() {
            function.shutdown().await;
        }
        if let Some(store) = self.log_store.clone() {
            let flushed = tokio::task::spawn_blocking(move || store.flush(LOG_STORE_FLUSH)).await;
            if let Err(error) = flushed {
                tracing::warn!("failed to flush the log store: {error}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_is_shared_across_tasks() {
        // The gateway holds one runtime behind an `Arc` in many request tasks.
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Runtime>();
        assert_send_sync::<InvokeError>();
        assert_send_sync::<RuntimeError>();
    }

    #[test]
    fn default_options_are_usable() {
        let options = RuntimeOptions::default();
        assert_eq!(options.region, "us-east-1");
        assert_eq!(options.account_id.len(), 12);
        assert!(options.max_concurrency > 0);
        assert_eq!(options.idle_timeout, Some(DEFAULT_IDLE_TIMEOUT));
    }
}
