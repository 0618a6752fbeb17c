//! HTTP-mode functions under the supervisor: an instance is a web-server process on its own
//! loopback port, started on the first request and shared by every request after it (many
//! at once), and the lease a caller holds while it proxies one request to it.
//!
//! The runtime never sees the proxied requests themselves: the caller (the gateway) talks
//! HTTP to the lease's address and reports back how the request ended, so that the runtime
//! can log `START`/`END`/`REPORT`, count the request while it runs (drain, scale to zero),
//! and replace an instance that crashed or timed out.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use time::OffsetDateTime;

use crate::http_mode::{self, HttpModeConfig};
use crate::instance::{self, kill_process_group, FunctionSpec};
use crate::logs;
use crate::output::OutputPipes;
use crate::sandbox::{Sandbox, SandboxedInstance};
use crate::supervisor::{
    watch_process, ExitWatch, InstanceKind, StartContext, StartFailure, Supervisor, Watched,
};
use crate::system_log::ReportStatus;
use crate::{InvokeError, MAX_PAYLOAD_BYTES};

/// How long a failed request waits for its process to exit, to tell a crash (the instance
/// is replaced) from a broken connection (the instance stays).
const CRASH_WAIT: Duration = Duration::from_millis(300);

/// Runs the web server (`"$@"`) and kills its whole process group once its standard input
/// reaches end of file, which happens when Serverful goes away, however it goes (even
/// SIGKILL): a web server, unlike a Lambda-mode process, has no Runtime API connection
/// whose loss would end it. The group's exit status is the web server's: a server killed
/// by a signal ends the shell with the same signal.
///
/// Background jobs of a non-interactive shell read `/dev/null`, so the lifeline is kept
/// on descriptor 3 for the watcher; the server itself gets neither.
const LIFELINE_SCRIPT: &str = r#"exec 3<&0 </dev/null
"$@" 3<&- &
app=$!
( read -r _ <&3; kill -KILL 0 ) >/dev/null 2>&1 &
watcher=$!
exec 3<&-
wait "$app"
status=$?
kill -KILL "$watcher" 2>/dev/null
if [ "$status" -gt 128 ]; then kill -$((status - 128)) $$; fi
exit "$status"
"#;

/// How one proxied request ended, as the caller saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpOutcome {
    /// The app answered with this status and the whole response reached the caller.
    Responded { status: u16 },
    /// The function's `Timeout` passed before the response was complete. The instance is
    /// replaced: new requests go to a new one, and the old one is stopped once its other
    /// requests are done.
    TimedOut,
    /// The connection to the app failed (it crashed, or closed the connection mid-answer).
    Failed(String),
}

/// One running web-server process.
#[derive(Debug)]
pub(crate) struct HttpInstance {
    pid: u32,
    /// Where the app listens.
    address: SocketAddr,
    /// `AWS_LAMBDA_LOG_STREAM_NAME` of the process.
    log_stream: String,
    exit: ExitWatch,
    output: OutputPipes,
    /// Requests leased on this instance right now.
    in_flight: AtomicU64,
    /// Set when a request timed out on it: no new requests, stopped once idle.
    retired: AtomicBool,
    last_used: Mutex<Instant>,
    max_memory_used_mb: AtomicU64,
    /// When `max_memory_used_mb` was last read from /proc.
    memory_sampled_at: Mutex<Option<Instant>>,
    /// The write end of the process group's lifeline (see [`LIFELINE_SCRIPT`]).
    _lifeline: Option<tokio::process::ChildStdin>,
    /// The namespace, relays and cgroup of a sandboxed server; dropped after the kill.
    sandboxed: Option<SandboxedInstance>,
}

impl HttpInstance {
    fn has_exited(&self) -> bool {
        self.exit.borrow().is_some()
    }

    /// Whether the kernel's OOM killer ended a process of this (sandboxed) instance.
    fn oom_killed(&self) -> bool {
        self.sandboxed
            .as_ref()
            .is_some_and(SandboxedInstance::oom_killed)
    }

    fn usable(&self) -> bool {
        !self.has_exited() && !self.retired.load(Ordering::SeqCst)
    }

    fn touch(&self) {
        *self
            .last_used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .elapsed()
    }
}

impl HttpInstance {
    /// This instance's failed start with `error`: the process is killed once the failure
    /// is dropped.
    fn failed(self, error: Bytes) -> StartFailure<Arc<HttpInstance>> {
        StartFailure {
            error,
            exit: Some(self.exit.clone()),
            instance: Some(Arc::new(self)),
        }
    }
}

impl Drop for HttpInstance {
    fn drop(&mut self) {
        // The group outlives its leader when children linger (`run.sh` without `exec`).
        kill_process_group(self.pid);
    }
}

/// The web-server kind of instance: what every instance of one HTTP-mode function shares.
#[derive(Debug)]
pub(crate) struct HttpKind {
    settings: HttpModeConfig,
    /// For direct invocations (`AWS_LWA_PASS_THROUGH_PATH`).
    client: Client<HttpConnector, Full<Bytes>>,
}

/// One HTTP-mode function's instances.
pub(crate) type HttpPool = Supervisor<HttpKind>;

/// A ready instance, leased for one request. Report how the request ended with
/// [`HttpLease::finish`]; a lease dropped without it counts as answered (the caller went
/// away). Until then the request counts as in flight: a drain waits for it and the
/// instance is not stopped for idleness.
#[derive(Debug)]
pub struct HttpLease {
    address: SocketAddr,
    timeout: Duration,
    remove_base_path: Option<String>,
    request_id: String,
    lambda_context: String,
    state: Option<LeaseState>,
}

#[derive(Debug)]
struct LeaseState {
    pool: Arc<HttpPool>,
    instance: Arc<HttpInstance>,
    request_id: String,
    started: Instant,
    /// Set on the request whose arrival started the instance.
    init_duration: Option<Duration>,
    /// Counts the request in the function's concurrent executions while it runs (until
    /// the state is dropped).
    _running: serverful_metrics::Running,
}

impl HttpLease {
    /// Where the instance's web server listens (loopback).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The function's `Timeout`, which bounds the whole request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `AWS_LWA_REMOVE_BASE_PATH`: a prefix to take off request paths, without a
    /// trailing slash.
    pub fn remove_base_path(&self) -> Option<&str> {
        self.remove_base_path.as_deref()
    }

    /// The id of this request in the function's `START`/`END`/`REPORT` lines.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The invocation's context as the Lambda Web Adapter hands it to apps (its
    /// `x-amzn-lambda-context` header): JSON with `request_id`, `deadline` (epoch
    /// milliseconds), `invoked_function_arn`, `xray_trace_id`, `client_context`,
    /// `identity` and `env_config` (`function_name`, `memory`, `version`, `log_stream`,
    /// `log_group`).
    pub fn lambda_context(&self) -> &str {
        &self.lambda_context
    }

    /// Ends the request: logs `END` and `REPORT` after the app's own lines, and replaces
    /// the instance if it crashed or timed out. Returns once that is done, so that a
    /// request sent after a crash reaches a new instance.
    pub async fn finish(mut self, outcome: HttpOutcome) {
        if let Some(state) = self.state.take() {
            finish_request(state, outcome).await;
        }
    }
}

impl Drop for HttpLease {
    fn drop(&mut self) {
        let Some(state) = self.state.take() else {
            return;
        };
        let outcome = HttpOutcome::Responded { status: 0 };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(finish_request(state, outcome));
            }
            // Outside tokio nothing can flush the output; the counts must still be right.
            Err(_) => release(&state),
        }
    }
}

/// Decrements the request counters of a finished request.
fn release(state: &LeaseState) {
    state.instance.touch();
    let left = state.instance.in_flight.fetch_sub(1, Ordering::SeqCst) - 1;
    if left == 0 && state.instance.retired.load(Ordering::SeqCst) {
        kill_process_group(state.instance.pid);
    }
    state.pool.counters.in_flight.fetch_sub(1, Ordering::SeqCst);
}

async fn finish_request(state: LeaseState, outcome: HttpOutcome) {
    let pool = &state.pool;
    let instance = &state.instance;
    let name = &pool.spec.config.name;
    let sink = &pool.spec.options.log_sink;
    let logging = &pool.spec.config.logging;
    let request_id = &state.request_id;
    let duration = state.started.elapsed();
    let counted: Result<(), InvokeError> = match &outcome {
        HttpOutcome::Responded { .. } => Ok(()),
        HttpOutcome::TimedOut => Err(InvokeError::Timeout),
        HttpOutcome::Failed(_) => Err(InvokeError::FunctionError(logs::error_json(
            "Runtime.ExitError",
            "the web server failed the request",
        ))),
    };
    crate::supervisor::record_metrics(&pool.metrics, &counted, Some(duration));
    match &outcome {
        HttpOutcome::Responded { .. } => {
            pool.counters.successes.fetch_add(1, Ordering::Relaxed);
        }
        HttpOutcome::TimedOut => {
            pool.counters.timeouts.fetch_add(1, Ordering::Relaxed);
            instance.retired.store(true, Ordering::SeqCst);
            if let Some(line) = logging.timeout(request_id, pool.spec.config.timeout) {
                sink.emit_request(name, request_id, &line);
            }
        }
        HttpOutcome::Failed(reason) => {
            pool.counters.errors.fetch_add(1, Ordering::Relaxed);
            let mut exit = instance.exit.clone();
            let exited = tokio::time::timeout(CRASH_WAIT, exit.wait_for(Option::is_some))
                .await
                .ok()
                .and_then(|status| status.ok().and_then(|how| how.clone()));
            // Lines the process wrote before it died belong before the error.
            instance.output.flush().await;
            match exited {
                Some(how) => {
                    let message = if how == "exit status 0" {
                        format!(
                            "RequestId: {request_id} Error: Runtime exited without providing a reason"
                        )
                    } else {
                        format!("RequestId: {request_id} Error: Runtime exited with error: {how}")
                    };
                    sink.emit_request(name, request_id, &message);
                    // Killed by the kernel for going past MemorySize, as Lambda says it.
                    let error_type = if instance.oom_killed() {
                        "Runtime.OutOfMemory"
                    } else {
                        "Runtime.ExitError"
                    };
                    sink.emit_request(name, request_id, error_type);
                }
                None => sink.emit_request(
                    name,
                    request_id,
                    &format!(
                        "{} {request_id} ERROR the web server's answer failed: {reason}",
                        logs::timestamp(OffsetDateTime::now_utc())
                    ),
                ),
            }
        }
    }
    instance.output.flush().await;
    let failed = !matches!(outcome, HttpOutcome::Responded { .. });
    let mut memory = max_memory(instance, failed);
    if failed && instance.oom_killed() {
        // Killed at the limit, as Lambda reports it.
        memory = memory.max(u64::from(pool.spec.config.memory_mb));
    }
    if let Some(line) = logging.end(request_id) {
        sink.emit_request(name, request_id, &line);
    }
    let report = logs::Report {
        duration,
        memory_size_mb: pool.spec.config.memory_mb,
        max_memory_used_mb: memory,
        init_duration: state.init_duration,
    };
    let status = match &outcome {
        HttpOutcome::Responded { .. } => ReportStatus::Success,
        HttpOutcome::TimedOut => ReportStatus::Timeout,
        HttpOutcome::Failed(_) if instance.oom_killed() => {
            ReportStatus::Error("Runtime.OutOfMemory")
        }
        HttpOutcome::Failed(_) => ReportStatus::Error("Runtime.ExitError"),
    };
    if let Some(line) = logging.report(request_id, &report, status) {
        sink.emit_request(name, request_id, &line);
    }
    release(&state);
}

/// The highest `Max Memory Used` of the instance so far. Reading /proc on every request
/// costs a noticeable share of the server's CPU under load, and the peak only grows, so
/// it is read at most every [`MEMORY_SAMPLE_INTERVAL`] unless `always` (a failure, where
/// memory may be the reason).
fn max_memory(instance: &HttpInstance, always: bool) -> u64 {
    let due = {
        let mut sampled_at = instance
            .memory_sampled_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let due = always || sampled_at.is_none_or(|at| at.elapsed() >= MEMORY_SAMPLE_INTERVAL);
        if due {
            *sampled_at = Some(Instant::now());
        }
        due
    };
    if !due {
        return instance.max_memory_used_mb.load(Ordering::Relaxed);
    }
    // A sandboxed instance's cgroup knows its peak.
    let now = match instance
        .sandboxed
        .as_ref()
        .and_then(SandboxedInstance::peak_memory_mb)
    {
        Some(peak) => peak,
        None => instance::max_memory_used_mb(instance.pid),
    };
    instance
        .max_memory_used_mb
        .fetch_max(now, Ordering::Relaxed)
        .max(now)
}

/// How often a busy instance's peak memory is read.
const MEMORY_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

impl HttpKind {
    pub fn new(settings: HttpModeConfig) -> HttpKind {
        HttpKind {
            settings,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

impl InstanceKind for HttpKind {
    type Instance = Arc<HttpInstance>;

    const SHARED: bool = true;

    fn start<'a>(
        &'a self,
        spec: &'a FunctionSpec,
        context: StartContext<'a>,
    ) -> impl std::future::Future<Output = Result<Arc<HttpInstance>, StartFailure<Arc<HttpInstance>>>>
           + Send
           + 'a {
        self.start_server(spec, context)
    }

    fn usable(instance: &Arc<HttpInstance>) -> bool {
        instance.usable()
    }

    fn share(instance: &Arc<HttpInstance>) -> Option<Arc<HttpInstance>> {
        instance.in_flight.fetch_add(1, Ordering::SeqCst);
        Some(instance.clone())
    }

    fn idle_for(instance: &Arc<HttpInstance>, _warm_since: Instant) -> Option<Duration> {
        (instance.in_flight.load(Ordering::SeqCst) == 0).then(|| instance.idle_for())
    }
}

impl Supervisor<HttpKind> {
    /// A ready instance for one request, started if there is none (a cold start, whose
    /// failure is the request's function error).
    pub async fn lease(self: &Arc<Self>) -> Result<HttpLease, InvokeError> {
        if self.is_throttled() {
            self.counters.throttles.fetch_add(1, Ordering::Relaxed);
            crate::supervisor::record_metrics::<()>(
                &self.metrics,
                &Err(InvokeError::Throttled),
                None,
            );
            return Err(InvokeError::Throttled);
        }
        self.counters.in_flight.fetch_add(1, Ordering::SeqCst);
        let request_id = uuid::Uuid::new_v4().to_string();
        let leased = match self.admit().await {
            Ok(_unlimited) => self.checkout(&request_id).await,
            Err(error) => Err(error),
        };
        let (instance, init_duration) = match leased {
            Ok(checkout) => (checkout.instance, checkout.cold_start),
            Err(error) => {
                self.counters.count::<()>(&Err(error.clone()));
                crate::supervisor::record_metrics::<()>(&self.metrics, &Err(error.clone()), None);
                self.counters.in_flight.fetch_sub(1, Ordering::SeqCst);
                return Err(error);
            }
        };
        if let Some(line) = self.spec.config.logging.start(&request_id) {
            self.spec
                .options
                .log_sink
                .emit_request(&self.spec.config.name, &request_id, &line);
        }
        let config = &self.spec.config;
        let deadline_ms = std::time::SystemTime::now()
            .checked_add(config.timeout)
            .and_then(|deadline| deadline.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |since_epoch| since_epoch.as_millis());
        let lambda_context = serde_json::json!({
            "request_id": request_id,
            "deadline": deadline_ms,
            "invoked_function_arn": self.spec.function_arn,
            "xray_trace_id": instance::new_trace_id(),
            "client_context": null,
            "identity": null,
            "env_config": {
                "function_name": config.function_name,
                "memory": config.memory_mb,
                "version": "$LATEST",
                "log_stream": instance.log_stream,
                "log_group": format!("/aws/lambda/{}", config.function_name),
            },
        })
        .to_string();
        Ok(HttpLease {
            address: instance.address,
            timeout: self.spec.config.timeout,
            remove_base_path: self.kind.settings.remove_base_path.clone(),
            request_id: request_id.clone(),
            lambda_context,
            state: Some(LeaseState {
                pool: self.clone(),
                instance,
                request_id,
                started: Instant::now(),
                init_duration,
                _running: self.metrics.running(),
            }),
        })
    }
}

impl HttpKind {
    /// Starts a web-server process on a free port and waits until it is ready. On failure
    /// returns Lambda error JSON, already logged.
    async fn start_server(
        &self,
        spec: &FunctionSpec,
        context: StartContext<'_>,
    ) -> Result<Arc<HttpInstance>, StartFailure<Arc<HttpInstance>>> {
        let name = &spec.config.name;
        let sink = context.sink;
        let started = Instant::now();
        let fail = |error_type: &str, message: String| {
            sink.emit(
                name,
                &format!(
                    "{} Init error: {message}",
                    logs::timestamp(OffsetDateTime::now_utc())
                ),
            );
            if let Some(line) = spec
                .config
                .logging
                .init_failure(started.elapsed(), error_type)
            {
                sink.emit(name, &line);
            }
            logs::error_json(error_type, &message)
        };
        let fail_early = |error_type: &str, message: String| {
            StartFailure::before_process(fail(error_type, message))
        };

        let log_stream = logs::log_stream_name(OffsetDateTime::now_utc());
        let mut args: Vec<std::ffi::OsString> = vec![
            "-c".into(),
            LIFELINE_SCRIPT.into(),
            "sh".into(),
            spec.launch.program.clone().into_os_string(),
        ];
        args.extend(spec.launch.interpreter_args.iter().map(Into::into));
        // A sandboxed server listens on its own port inside its own network namespace,
        // reached through a relay on a loopback port of the host; otherwise each instance
        // gets a free port of the host.
        let (mut command, port, address, readiness_address, sandboxed) = match &spec.options.sandbox
        {
            Some(sandbox) => {
                let (mut instance, _runtime_api) =
                    match sandbox.open_network(spec.config.network).await {
                        Ok(opened) => opened,
                        Err(error) => {
                            return Err(fail_early("Runtime.Unknown", format!("sandbox: {error}")))
                        }
                    };
                let port = self.settings.configured_port;
                // The readiness check connects inside the namespace itself.
                let readiness_address = SocketAddr::from((
                    Ipv4Addr::LOCALHOST,
                    self.settings.separate_readiness_port.unwrap_or(port),
                ));
                let address = match Sandbox::relay(&mut instance, port).await {
                    Ok(address) => address,
                    Err(error) => {
                        return Err(fail_early(
                            "Runtime.Unknown",
                            format!("sandbox: relay to the web server: {error}"),
                        ))
                    }
                };
                let environment = http_environment(spec, &self.settings, &log_stream, port);
                let command = match sandbox.command(
                    spec,
                    &mut instance,
                    std::path::Path::new("/bin/sh"),
                    &args,
                    environment,
                ) {
                    Ok(command) => command,
                    Err(error) => {
                        return Err(fail_early("Runtime.Unknown", format!("sandbox: {error}")))
                    }
                };
                (command, port, address, readiness_address, Some(instance))
            }
            None => {
                let port = match free_port() {
                    Ok(port) => port,
                    Err(error) => {
                        return Err(fail_early(
                            "Runtime.Unknown",
                            format!("failed to find a free port for the web server: {error}"),
                        ))
                    }
                };
                let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                let readiness_address = SocketAddr::from((
                    Ipv4Addr::LOCALHOST,
                    self.settings.separate_readiness_port.unwrap_or(port),
                ));
                let environment = http_environment(spec, &self.settings, &log_stream, port);
                let mut command = tokio::process::Command::new("/bin/sh");
                command
                    .args(&args)
                    .env_clear()
                    .envs(environment)
                    .current_dir(&spec.config.code_dir);
                (command, port, address, readiness_address, None)
            }
        };
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that a kill reaches the server `run.sh` started.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                return Err(fail_early(
                    "Runtime.InvalidEntrypoint",
                    format!("failed to start {}: {error}", spec.launch.program.display()),
                ))
            }
        };
        let lifeline = child.stdin.take();
        let Some(Watched { pid, exit, output }) =
            watch_process(child, context.registry, name, sink)
        else {
            return Err(fail_early(
                "Runtime.ExitError",
                "the process exited before it could be watched".to_owned(),
            ));
        };
        let inside = sandboxed.as_ref().map(|instance| instance.net().clone());
        let instance = HttpInstance {
            pid,
            address,
            log_stream,
            exit,
            output,
            in_flight: AtomicU64::new(0),
            retired: AtomicBool::new(false),
            last_used: Mutex::new(Instant::now()),
            max_memory_used_mb: AtomicU64::new(0),
            memory_sampled_at: Mutex::new(None),
            _lifeline: lifeline,
            sandboxed,
        };

        let limit = self.settings.readiness_limit(spec.config.timeout);
        let deadline = tokio::time::Instant::now() + limit;
        let mut exit = instance.exit.clone();
        loop {
            if http_mode::check_ready(&self.settings, readiness_address, inside.as_ref()).await {
                return Ok(Arc::new(instance));
            }
            let waited = tokio::select! {
                status = exit.wait_for(Option::is_some) => Waited::Exited(
                    status
                        .ok()
                        .and_then(|how| how.clone())
                        .unwrap_or_else(|| "signal: killed".to_owned()),
                ),
                _ = tokio::time::sleep_until(deadline) => Waited::OutOfTime,
                _ = tokio::time::sleep(http_mode::READINESS_POLL) => Waited::NotYet,
            };
            match waited {
                Waited::NotYet => {}
                Waited::Exited(how) => {
                    instance.output.flush().await;
                    let error = fail(
                        "Runtime.ExitError",
                        format!("the web server exited before it was ready: {how}"),
                    );
                    return Err(instance.failed(error));
                }
                Waited::OutOfTime => {
                    instance.output.flush().await;
                    let check = match self.settings.readiness_protocol {
                        http_mode::ReadinessProtocol::Http => format!(
                            "GET http://{readiness_address}{} never answered with a healthy status",
                            self.settings.readiness_path
                        ),
                        http_mode::ReadinessProtocol::Tcp => {
                            format!("nothing accepted connections on {readiness_address}")
                        }
                    };
                    let error = fail(
                        "Sandbox.Timedout",
                        format!(
                            "the web server was not ready after {:.2} seconds: {check} \
                             (the app must listen on $PORT, {port} for this instance)",
                            limit.as_secs_f64()
                        ),
                    );
                    return Err(instance.failed(error));
                }
            }
        }
    }
}

impl Supervisor<HttpKind> {
    /// A direct invocation (not through the gateway): the event is posted to the
    /// pass-through path, and the app's answer is the result.
    pub async fn invoke(self: &Arc<Self>, payload: Bytes) -> Result<Bytes, InvokeError> {
        let lease = self.lease().await?;
        let uri = format!(
            "http://{}{}",
            lease.address(),
            self.kind.settings.pass_through_path
        );
        let request = http::Request::post(uri)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(payload));
        let request = match request {
            Ok(request) => request,
            Err(error) => {
                let message = format!("failed to build the pass-through request: {error}");
                lease.finish(HttpOutcome::Failed(message.clone())).await;
                return Err(InvokeError::FunctionError(logs::error_json(
                    "Runtime.Unknown",
                    &message,
                )));
            }
        };
        let exchange = async {
            let response = self.kind.client.request(request).await?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_PAYLOAD_BYTES)
                .collect()
                .await;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
        };
        match tokio::time::timeout(lease.timeout(), exchange).await {
            Err(_elapsed) => {
                lease.finish(HttpOutcome::TimedOut).await;
                Err(InvokeError::Timeout)
            }
            Ok(Err(error)) => {
                lease.finish(HttpOutcome::Failed(error.to_string())).await;
                Err(InvokeError::FunctionError(logs::error_json(
                    "Runtime.ExitError",
                    &format!("the web server's answer failed: {error}"),
                )))
            }
            Ok(Ok((status, Err(_too_large)))) => {
                lease.finish(HttpOutcome::Responded { status }).await;
                Err(InvokeError::PayloadTooLarge)
            }
            Ok(Ok((status, Ok(body)))) => {
                lease.finish(HttpOutcome::Responded { status }).await;
                let body = body.to_bytes();
                if status >= 500 {
                    return Err(InvokeError::FunctionError(logs::error_json(
                        "Runtime.HandlerError",
                        &format!(
                            "the web server answered {status}: {}",
                            String::from_utf8_lossy(&body)
                        ),
                    )));
                }
                Ok(body)
            }
        }
    }
}

/// What a readiness wait saw between two checks.
enum Waited {
    NotYet,
    Exited(String),
    OutOfTime,
}

/// A loopback port nobody listens on right now.
fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Lambda's environment for a web-server process: as for Lambda-mode functions, without
/// a Runtime API, and with the instance's own port in `PORT` and `AWS_LWA_PORT`.
fn http_environment(
    spec: &FunctionSpec,
    settings: &HttpModeConfig,
    log_stream: &str,
    port: u16,
) -> std::collections::BTreeMap<String, String> {
    let mut environment = instance::environment(spec, "", log_stream);
    environment.remove("AWS_LAMBDA_RUNTIME_API");
    let port = port.to_string();
    environment.insert("PORT".to_owned(), port.clone());
    environment.insert("AWS_LWA_PORT".to_owned(), port.clone());
    if settings.separate_readiness_port.is_none() {
        for variable in ["AWS_LWA_READINESS_CHECK_PORT", "READINESS_CHECK_PORT"] {
            if environment.contains_key(variable) {
                environment.insert(variable.to_owned(), port.clone());
            }
        }
    }
    environment
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::Launch;
    use crate::{FunctionConfig, RuntimeOptions};
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn spec(environment: &[(&str, &str)]) -> (FunctionSpec, HttpModeConfig) {
        let environment: BTreeMap<String, String> = environment
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        let settings = HttpModeConfig::from_environment(&environment)
            .expect("valid settings")
            .expect("HTTP mode");
        let config = FunctionConfig {
            name: "Web".to_owned(),
            function_name: "Web".to_owned(),
            runtime: "nodejs20.x".to_owned(),
            handler: "run.sh".to_owned(),
            code_dir: PathBuf::from("/code"),
            timeout: Duration::from_secs(3),
            memory_mb: 256,
            environment,
            reserved_concurrency: None,
            tmp_size_mb: 512,
            network: None,
            layers_dir: None,
            logging: Default::default(),
        };
        let launch = Launch {
            program: PathBuf::from("/code/run.sh"),
            bootstrap: None,
            interpreter_args: Vec::new(),
            execution_env: Some("AWS_Lambda_nodejs20.x".to_owned()),
        };
        let spec = FunctionSpec::new(
            config,
            launch,
            PathBuf::from("/runtimes"),
            Arc::new(RuntimeOptions::default()),
        );
        (spec, settings)
    }

    #[test]
    fn each_instance_gets_its_own_port() {
        let (spec, settings) = spec(&[
            ("AWS_LWA_PORT", "3000"),
            ("PORT", "3000"),
            ("AWS_LWA_READINESS_CHECK_PORT", "3000"),
            ("GREETING", "hi"),
        ]);
        let environment = http_environment(&spec, &settings, "stream", 41234);
        assert_eq!(environment["PORT"], "41234");
        assert_eq!(environment["AWS_LWA_PORT"], "41234");
        assert_eq!(environment["AWS_LWA_READINESS_CHECK_PORT"], "41234");
        assert_eq!(environment["GREETING"], "hi");
        assert_eq!(environment["AWS_LAMBDA_FUNCTION_NAME"], "Web");
        assert_eq!(environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
        assert_eq!(environment["AWS_EXECUTION_ENV"], "AWS_Lambda_nodejs20.x");
        assert!(!environment.contains_key("AWS_LAMBDA_RUNTIME_API"));
    }

    #[test]
    fn a_separate_readiness_port_is_kept() {
        let (spec, settings) = spec(&[
            ("AWS_LWA_PORT", "3000"),
            ("AWS_LWA_READINESS_CHECK_PORT", "3001"),
        ]);
        let environment = http_environment(&spec, &settings, "stream", 41234);
        assert_eq!(environment["AWS_LWA_READINESS_CHECK_PORT"], "3001");
        assert_eq!(environment["PORT"], "41234");
    }
}
