//! One function instance: a process in its own process group, its own Runtime API
//! listener, its log pipes, and the invocation of one request at a time.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::api_server::{ApiState, InitSignal, Invocation, Outcome, StreamEnd, StreamStart};
use crate::bootstrap::Launch;
use crate::logs;
use crate::output::OutputPipes;
use crate::sandbox::{ParkSlot, ParkedSandbox, SandboxedInstance};
use crate::streaming::{Response, ResponseStream};
use crate::supervisor::{watch_process, ExitWatch, StartContext, StartFailure, Watched};
use crate::system_log::ReportStatus;
use crate::{FunctionConfig, InvokeContext, InvokeError, RuntimeOptions, INIT_TIMEOUT};

/// Everything an instance needs to start, shared by all instances of a function.
#[derive(Debug)]
pub(crate) struct FunctionSpec {
    pub config: FunctionConfig,
    pub launch: Launch,
    pub runtime_dir: std::path::PathBuf,
    pub options: Arc<RuntimeOptions>,
    pub function_arn: String,
    /// The sandbox set up ahead of this function's next cold start (Lambda mode, sandboxed).
    pub parked: ParkSlot,
}

/// A running function process.
#[derive(Debug)]
pub(crate) struct Instance {
    pid: u32,
    invocations: mpsc::Sender<Invocation>,
    exit: ExitWatch,
    server: JoinHandle<()>,
    output: OutputPipes,
    /// Set until the first invocation's REPORT line has shown it.
    init_duration: Option<Duration>,
    /// The highest `Max Memory Used` reported so far.
    max_memory_used_mb: u64,
    /// When `max_memory_used_mb` was last read from /proc.
    memory_sampled_at: Option<std::time::Instant>,
    /// The instance's namespace and cgroup, when it runs sandboxed; dropped after the
    /// process is killed.
    sandboxed: Option<SandboxedInstance>,
}

impl FunctionSpec {
    pub fn new(
        config: FunctionConfig,
        launch: Launch,
        runtime_dir: std::path::PathBuf,
        options: Arc<RuntimeOptions>,
    ) -> FunctionSpec {
        let function_arn = format!(
            "arn:aws:lambda:{}:{}:function:{}",
            options.region, options.account_id, config.function_name
        );
        FunctionSpec {
            config,
            launch,
            runtime_dir,
            options,
            function_arn,
            parked: ParkSlot::default(),
        }
    }
}

/// How often a busy instance's peak memory is read. Reading /proc costs about a tenth of
/// the server's CPU per invocation when done every time; the peak only grows, so a
/// reading at most this old under-reports only what the last moments added.
const MEMORY_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// What became of one invocation on an instance.
#[derive(Debug)]
pub(crate) enum InvokeOutcome {
    Response(Bytes),
    /// A streamed response ended well; its chunks went to the caller as they came.
    Streamed,
    /// Lambda error JSON; the instance stays usable.
    FunctionError(Bytes),
    ResponseTooLarge,
    /// The function ran out of time; the instance must be dropped.
    Timeout,
    /// The process exited mid-request; Lambda error JSON. The instance must be dropped.
    Exited(Bytes),
    /// The process ended before it took the request, which may be retried elsewhere. The
    /// instance must be dropped.
    NotDelivered,
}

impl InvokeOutcome {
    /// Whether the instance can serve another request afterwards.
    pub fn keeps_instance(&self) -> bool {
        matches!(
            self,
            InvokeOutcome::Response(_)
                | InvokeOutcome::Streamed
                | InvokeOutcome::FunctionError(_)
                | InvokeOutcome::ResponseTooLarge
        )
    }

    /// What the caller gets: the response (`None` when it was streamed) or the error.
    pub fn to_result(&self, request_id: &str) -> Result<Option<Bytes>, InvokeError> {
        match self {
            InvokeOutcome::Response(body) => Ok(Some(body.clone())),
            InvokeOutcome::Streamed => Ok(None),
            InvokeOutcome::FunctionError(error) | InvokeOutcome::Exited(error) => {
                Err(InvokeError::FunctionError(error.clone()))
            }
            InvokeOutcome::ResponseTooLarge => Err(InvokeError::PayloadTooLarge),
            InvokeOutcome::Timeout => Err(InvokeError::Timeout),
            InvokeOutcome::NotDelivered => Err(InvokeError::FunctionError(logs::error_json(
                "Runtime.ExitError",
                &format!("RequestId: {request_id} Error: Runtime exited before taking the request"),
            ))),
        }
    }
}

/// Where the caller's answer goes: a streamed response as it starts (taken by the
/// instance, which tells the stream how it ended after its last chunk), else the result
/// once the invocation is over.
pub(crate) type StreamHead = Option<oneshot::Sender<Result<Response, InvokeError>>>;

/// The error JSON of a streamed response over [`crate::MAX_STREAMED_RESPONSE_BYTES`].
fn stream_too_large() -> Bytes {
    logs::error_json(
        "Function.ResponseSizeTooLarge",
        &format!(
            "Response payload size exceeded maximum allowed payload size ({} bytes).",
            crate::MAX_STREAMED_RESPONSE_BYTES
        ),
    )
}

fn epoch_millis(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default()
}

/// An X-Ray trace header as Lambda hands it to functions.
pub(crate) fn new_trace_id() -> String {
    let seconds = epoch_millis(SystemTime::now()) / 1000;
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{seconds:08x}-{};Parent={};Sampled=0",
        &random[..24],
        &random[16..32]
    )
}

/// Lambda's wording of how a process ended.
pub(crate) fn describe_exit(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    let signal = status.signal().unwrap_or_default();
    let name = match signal {
        1 => "hangup",
        2 => "interrupt",
        6 => "aborted",
        9 => "killed",
        11 => "segmentation fault",
        15 => "terminated",
        _ => return format!("signal: {signal}"),
    };
    format!("signal: {name}")
}

/// The `Runtime.ExitError` JSON for a process that ended while serving `request_id`.
fn exit_error(request_id: &str, how: &str) -> Bytes {
    let message = if how == "exit status 0" {
        format!("RequestId: {request_id} Error: Runtime exited without providing a reason")
    } else {
        format!("RequestId: {request_id} Error: Runtime exited with error: {how}")
    };
    logs::error_json("Runtime.ExitError", &message)
}

/// The error type and message inside Lambda error JSON, for log lines.
pub(crate) fn error_fields(error: &[u8]) -> (String, String) {
    let value = serde_json::from_slice::<serde_json::Value>(error).unwrap_or_default();
    let field = |name: &str| value.get(name)?.as_str().map(str::to_owned);
    (
        field("errorType").unwrap_or_else(|| "Runtime.Unknown".to_owned()),
        field("errorMessage").unwrap_or_default(),
    )
}

/// The environment of a function process, as on Lambda, then the function's own variables.
pub(crate) fn environment(
    spec: &FunctionSpec,
    api_address: &str,
    log_stream: &str,
) -> BTreeMap<String, String> {
    let config = &spec.config;
    let options = &spec.options;
    let mut env = BTreeMap::new();
    let mut set = |key: &str, value: String| {
        env.insert(key.to_owned(), value);
    };
    // Only the host basics cross over; the server's own variables (secrets, settings) stay
    // out of the function's reach.
    set(
        "PATH",
        std::env::var("PATH").unwrap_or_else(|_| {
            "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin".to_owned()
        }),
    );
    for key in [
        "HOME",
        "USER",
        "LD_LIBRARY_PATH",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    ] {
        if let Ok(value) = std::env::var(key) {
            set(key, value);
        }
    }
    set("AWS_LAMBDA_FUNCTION_NAME", config.function_name.clone());
    set("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned());
    set(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        config.memory_mb.to_string(),
    );
    set(
        "AWS_LAMBDA_LOG_GROUP_NAME",
        config
            .logging
            .log_group
            .clone()
            .unwrap_or_else(|| format!("/aws/lambda/{}", config.function_name)),
    );
    for (key, value) in config.logging.environment() {
        set(key, value);
    }
    set("AWS_LAMBDA_LOG_STREAM_NAME", log_stream.to_owned());
    set("AWS_LAMBDA_RUNTIME_API", api_address.to_owned());
    set("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned());
    if let Some(execution_env) = &spec.launch.execution_env {
        set("AWS_EXECUTION_ENV", execution_env.clone());
    }
    set("_HANDLER", config.handler.clone());
    set("LAMBDA_TASK_ROOT", config.code_dir.display().to_string());
    set("LAMBDA_RUNTIME_DIR", spec.runtime_dir.display().to_string());
    set("AWS_REGION", options.region.clone());
    set("AWS_DEFAULT_REGION", options.region.clone());
    set("TZ", ":UTC".to_owned());
    set("LANG", "en_US.UTF-8".to_owned());
    if let Some(url) = &options.aws_endpoint_url {
        set("AWS_ENDPOINT_URL", url.clone());
    }
    if let Some(hosts) = &options.aws_hosts {
        // Sandboxed, `Sandbox::launch` points them at the bundle's path inside.
        for key in crate::aws_hosts::CA_BUNDLE_VARIABLES {
            set(key, hosts.ca_bundle.display().to_string());
        }
    }
    if !options.access_key_id.is_empty() {
        set("AWS_ACCESS_KEY_ID", options.access_key_id.clone());
        set("AWS_SECRET_ACCESS_KEY", options.secret_access_key.clone());
        if let Some(token) = &options.session_token {
            set("AWS_SESSION_TOKEN", token.clone());
        }
    }
    for (key, value) in &config.environment {
        set(key, value.clone());
    }
    if let Some(layers_dir) = &config.layers_dir {
        // Sandboxed, the merged layers are at `/opt`, as on Lambda; without a sandbox
        // there is no `/opt` of the function's own, so the paths name the folder itself.
        let opt = if options.sandbox.is_some() {
            std::path::Path::new(LAYERS_ROOT)
        } else {
            layers_dir.as_path()
        };
        add_layer_paths(&config.runtime, &config.environment, opt, &mut env);
        // The Java and Ruby bootstraps look in the layers themselves (`java/lib`,
        // `ruby/gems`, `ruby/lib`); Lambda's are told nothing, since theirs are at `/opt`.
        if options.sandbox.is_none() {
            env.insert(LAYERS_VARIABLE.to_owned(), opt.display().to_string());
        }
    }
    env
}

/// Names the layers' folder for Serverful's own bootstraps when it is not `/opt`.
const LAYERS_VARIABLE: &str = "_SERVERFUL_LAYERS";

/// Where layers appear inside an execution environment.
pub(crate) const LAYERS_ROOT: &str = "/opt";

/// Lambda's search paths into the layers at `opt`, in Lambda's order: a layer's modules
/// come before what the function's environment already names (the shared SDK, which
/// stands for the runtime's own `$LAMBDA_RUNTIME_DIR` and comes after the layers there),
/// and the function's own code comes first anyway (the bootstraps put `/var/task`
/// first; Node.js looks in the handler's own `node_modules` before `NODE_PATH`).
/// `PATH` and `LD_LIBRARY_PATH` end with the layers' `bin` and `lib`, unless the function
/// sets them itself. Python's `site-packages` folder is named by the runtime's version,
/// which is what a layer built for that runtime holds.
pub(crate) fn add_layer_paths(
    runtime: &str,
    function_environment: &BTreeMap<String, String>,
    opt: &std::path::Path,
    env: &mut BTreeMap<String, String>,
) {
    use serverful_catalog::Language;
    let opt = opt.display();
    let language =
        serverful_catalog::lookup(runtime).map(|runtime| (runtime.language, runtime.version));
    let first: Vec<String> = match language {
        Some((Language::Python, version)) => vec![
            format!(
                "{opt}/python/lib/python{}.{}/site-packages",
                version.major, version.minor
            ),
            format!("{opt}/python"),
        ],
        Some((Language::NodeJs, version)) => vec![
            format!("{opt}/nodejs/node{}/node_modules", version.major),
            format!("{opt}/nodejs/node_modules"),
        ],
        _ => Vec::new(),
    };
    let variable = match language {
        Some((Language::Python, _)) => "PYTHONPATH",
        _ => "NODE_PATH",
    };
    if !first.is_empty() {
        let mut value = first.join(":");
        if let Some(rest) = env.get(variable).filter(|rest| !rest.is_empty()) {
            value.push(':');
            value.push_str(rest);
        }
        env.insert(variable.to_owned(), value);
    }
    for (variable, folder) in [("PATH", "bin"), ("LD_LIBRARY_PATH", "lib")] {
        if function_environment.contains_key(variable) {
            continue;
        }
        let entry = format!("{opt}/{folder}");
        match env.get_mut(variable) {
            Some(value) if value.split(':').any(|existing| existing == entry) => {}
            Some(value) if !value.is_empty() => {
                value.push(':');
                value.push_str(&entry);
            }
            _ => {
                env.insert(variable.to_owned(), entry);
            }
        }
    }
}

/// Kills the whole process group `pgid` with SIGKILL, so that children the function started
/// die with it. Uses the `kill` command because the standard library has no `killpg` and
/// this crate has no `unsafe`.
pub(crate) fn kill_process_group(pgid: u32) {
    let result = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if let Err(error) = result {
        tracing::warn!("failed to run kill for process group {pgid}: {error}");
    }
}

/// Peak resident memory of a process and its descendants in MB (`VmHWM`, summed).
pub(crate) fn max_memory_used_mb(pid: u32) -> u64 {
    fn collect(pid: u32, depth: u32, total_kb: &mut u64) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if let Some(kb) = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        {
            *total_kb += kb;
        }
        // Bounded depth guards against a pathological process tree.
        if depth >= 8 {
            return;
        }
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            collect(child, depth + 1, total_kb);
        }
    }
    let mut total_kb = 0;
    collect(pid, 0, &mut total_kb);
    total_kb.div_ceil(1024)
}

impl Instance {
    /// Starts a process and waits for its init phase: its first `/next` within
    /// [`INIT_TIMEOUT`]. On failure returns Lambda error JSON (already logged) for the
    /// invocation `request_id` that triggered the cold start.
    pub async fn start(
        spec: &FunctionSpec,
        context: StartContext<'_>,
    ) -> Result<Instance, StartFailure<Instance>> {
        let StartContext {
            request_id,
            registry,
            sink,
        } = context;
        let name = &spec.config.name;
        let started = Instant::now();
        let fail = |error_type: &str, message: String| {
            sink.emit(
                name,
                &format!(
                    "{} {request_id} {message}",
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
            StartFailure::before_process(logs::error_json(error_type, &message))
        };

        // A sandboxed instance finds its Runtime API at Lambda's 127.0.0.1:9001 inside its
        // own network namespace; otherwise on a free loopback port of the host. It takes
        // the function's parked sandbox when one is ready, else sets one up now.
        let mut parked = None;
        let listener = match &spec.options.sandbox {
            Some(sandbox) => {
                let taken = match spec.parked.take().await {
                    Some(taken) => Ok(taken),
                    None => sandbox.park(spec).await,
                };
                match taken {
                    Ok(ParkedSandbox {
                        instance,
                        runtime_api,
                        child,
                    }) => {
                        parked = Some((instance, child));
                        runtime_api
                    }
                    Err(error) => return Err(fail("Runtime.Unknown", format!("sandbox: {error}"))),
                }
            }
            None => match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
                Ok(listener) => listener,
                Err(error) => {
                    return Err(fail(
                        "Runtime.Unknown",
                        format!("failed to open the Runtime API listener: {error}"),
                    ))
                }
            },
        };
        let api_address = match listener.local_addr() {
            Ok(address) => address.to_string(),
            Err(error) => {
                return Err(fail(
                    "Runtime.Unknown",
                    format!("failed to read the Runtime API address: {error}"),
                ))
            }
        };
        let (invocations, invocation_receiver) = mpsc::channel(1);
        let (init_sender, init_receiver) = oneshot::channel();
        let state = ApiState::new(invocation_receiver, init_sender, sink.clone(), name.clone());
        let server = tokio::spawn(crate::listener::serve(listener, state));

        let log_stream = logs::log_stream_name(OffsetDateTime::now_utc());
        let mut args: Vec<std::ffi::OsString> = spec
            .launch
            .interpreter_args
            .iter()
            .map(Into::into)
            .collect();
        if let Some(bootstrap) = spec.launch.bootstrap {
            args.push(spec.runtime_dir.join(bootstrap).into_os_string());
        }
        let env = environment(spec, &api_address, &log_stream);
        let (child, sandboxed) = match (parked, &spec.options.sandbox) {
            (Some((instance, mut child)), Some(sandbox)) => {
                let launch = sandbox.launch(spec, &spec.launch.program, &args, env);
                if let Err(error) = crate::sandbox::launch_parked(&mut child, &launch).await {
                    // The init is gone or going: its exit, and the set-up step that
                    // failed, are reported below like any early exit.
                    tracing::debug!(function = name, "launching a parked sandbox: {error}");
                    let _ = child.start_kill();
                }
                (child, Some(instance))
            }
            _ => {
                let mut command = tokio::process::Command::new(&spec.launch.program);
                command
                    .args(&args)
                    .env_clear()
                    .envs(env)
                    .current_dir(&spec.config.code_dir)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    // Its own process group, so that a timeout or shutdown kills its
                    // children too.
                    .process_group(0)
                    // Last line of defence: if the tokio runtime drops the waiter task, the
                    // process dies.
                    .kill_on_drop(true);
                match command.spawn() {
                    Ok(child) => (child, None),
                    Err(error) => {
                        server.abort();
                        return Err(fail(
                            "Runtime.InvalidEntrypoint",
                            format!("failed to start {}: {error}", spec.launch.program.display()),
                        ));
                    }
                }
            }
        };
        let Some(Watched { pid, exit, output }) = watch_process(child, registry, name, sink) else {
            server.abort();
            return Err(fail(
                "Runtime.ExitError",
                "the process exited before it could be watched".to_owned(),
            ));
        };
        let mut instance = Instance {
            pid,
            invocations,
            exit,
            server,
            output,
            init_duration: None,
            max_memory_used_mb: 0,
            memory_sampled_at: None,
            sandboxed,
        };
        let mut exit = instance.exit.clone();
        let init = tokio::select! {
            signal = init_receiver => signal.ok(),
            _ = exit.wait_for(Option::is_some) => None,
            _ = tokio::time::sleep(INIT_TIMEOUT) => {
                let error = fail(
                    "Sandbox.Timedout",
                    format!("Init timed out after {:.2} seconds", INIT_TIMEOUT.as_secs_f64()),
                );
                return Err(instance.failed(error.error));
            }
        };
        match init {
            Some(InitSignal::Ready) => {
                instance.init_duration = Some(started.elapsed());
                Ok(instance)
            }
            Some(InitSignal::Failed(error)) => {
                instance.output.flush().await;
                let (error_type, message) = error_fields(&error);
                // Serverful's bootstraps log their init errors themselves; an app's own
                // bootstrap may not, and the error must show somewhere.
                if spec.launch.bootstrap.is_none() {
                    sink.emit(name, &format!("Init error: {error_type}: {message}"));
                }
                if let Some(line) = spec
                    .config
                    .logging
                    .init_failure(started.elapsed(), &error_type)
                {
                    sink.emit(name, &line);
                }
                Err(instance.failed(error))
            }
            None => {
                // Give the waiter a moment to record the status; it is already on its way.
                let how =
                    tokio::time::timeout(Duration::from_secs(1), exit.wait_for(Option::is_some))
                        .await
                        .ok()
                        .and_then(|status| status.ok().and_then(|how| how.clone()))
                        .unwrap_or_else(|| "signal: killed".to_owned());
                instance.output.flush().await;
                if let Some(step) = instance
                    .sandboxed
                    .as_ref()
                    .and_then(SandboxedInstance::setup_error)
                {
                    let error = fail("Runtime.Unknown", format!("sandbox: {step}"));
                    return Err(instance.failed(error.error));
                }
                let error = exit_error(request_id, &how);
                let (error_type, message) = error_fields(&error);
                sink.emit(name, &message);
                sink.emit(name, &error_type);
                if let Some(line) = spec
                    .config
                    .logging
                    .init_failure(started.elapsed(), &error_type)
                {
                    sink.emit(name, &line);
                }
                Err(instance.failed(error))
            }
        }
    }

    /// This instance's failed start with `error`: the process is killed once the failure
    /// is dropped.
    fn failed(self, error: Bytes) -> StartFailure<Instance> {
        StartFailure {
            error,
            exit: Some(self.exit.clone()),
            instance: Some(self),
        }
    }

    /// Whether the process has ended (then the instance is useless).
    pub fn has_exited(&self) -> bool {
        self.exit.borrow().is_some()
    }

    /// Runs one invocation, logging `START`, `END` and `REPORT` around the function's own
    /// lines. A streamed response is handed to `head` as it starts, and the invocation
    /// (with its timeout) runs on until the stream ends; the stream then learns how it
    /// ended.
    pub async fn invoke(
        &mut self,
        spec: &FunctionSpec,
        request_id: &str,
        payload: Bytes,
        context: InvokeContext,
        head: &mut StreamHead,
    ) -> InvokeOutcome {
        let name = &spec.config.name;
        let sink = &spec.options.log_sink;
        let logging = &spec.config.logging;
        let log_tail = context.log_tail.clone();
        let context_report = context.report.clone();
        // The runtime's own lines of the invocation, also kept for a caller who asked for
        // its log's tail.
        let emit = |line: &str| {
            sink.emit_request(name, request_id, line);
            if let Some(tail) = &log_tail {
                tail.push(line);
            }
        };
        let timeout = spec.config.timeout;
        // One timer for the whole invocation, from the moment the event is queued: waiting
        // for the process to take it counts against the function's timeout, as on Lambda.
        let deadline = tokio::time::Instant::now() + timeout;
        let timer = tokio::time::sleep_until(deadline);
        tokio::pin!(timer);
        let (outcome_sender, outcome_receiver) = oneshot::channel();
        let (delivered_sender, delivered_receiver) = oneshot::channel();
        let invocation = Invocation {
            request_id: request_id.to_owned(),
            payload,
            deadline_ms: epoch_millis(SystemTime::now() + timeout),
            invoked_function_arn: spec.function_arn.clone(),
            trace_id: context.trace_id.unwrap_or_else(new_trace_id),
            client_context: context.client_context,
            cognito_identity: context.cognito_identity,
            start_line: logging.start(request_id),
            delivered: delivered_sender,
            outcome: outcome_sender,
        };
        let mut exit = self.exit.clone();
        // What the process writes from now on belongs to this invocation.
        self.output
            .set_request(Some(request_id), context.log_tail.clone());
        if self.invocations.send(invocation).await.is_err() {
            return InvokeOutcome::NotDelivered;
        }
        // A process that dies before it takes the event (it may have crashed right after
        // its previous answer) never saw this request, which can then go elsewhere.
        let delivered = tokio::select! {
            biased;
            delivered = delivered_receiver => delivered.is_ok(),
            _ = exit.wait_for(Option::is_some) => false,
            () = &mut timer => {
                // The process never asked for the event; the request times out below, and
                // its log lines still need their START.
                if let Some(line) = spec.config.logging.start(request_id) {
                    sink.emit_request(name, request_id, &line);
                }
                true
            }
        };
        if !delivered {
            return InvokeOutcome::NotDelivered;
        }
        // The Runtime API has logged START as it handed the event over.
        if let Some(tail) = &log_tail {
            if let Some(line) = spec.config.logging.start(request_id) {
                tail.push(&line);
            }
        }
        let started = Instant::now();
        let exited = |how: Option<String>| {
            let how = how.unwrap_or_else(|| "signal: killed".to_owned());
            InvokeOutcome::Exited(exit_error(request_id, &how))
        };
        let answer = tokio::select! {
            // An answer wins over an exit seen at the same moment: the process may answer
            // and then exit.
            biased;
            outcome = outcome_receiver => match outcome {
                Ok(Outcome::Response(body)) => Ok(InvokeOutcome::Response(body)),
                Ok(Outcome::Error(error)) => Ok(InvokeOutcome::FunctionError(error)),
                Ok(Outcome::ResponseTooLarge) => Ok(InvokeOutcome::ResponseTooLarge),
                Ok(Outcome::Streaming(start)) => Err(start),
                // The sender only goes away without an answer when the timeout below has
                // already fired or the instance is torn down.
                Err(_) => Ok(InvokeOutcome::Exited(exit_error(request_id, "signal: killed"))),
            },
            status = exit.wait_for(Option::is_some) => Ok(exited(status.ok().and_then(|how| how.clone()))),
            () = &mut timer => Ok(InvokeOutcome::Timeout),
        };
        let mut stream_end = None;
        let outcome = match answer {
            Ok(outcome) => outcome,
            Err(StreamStart {
                content_type,
                chunks,
                end,
            }) => {
                let (end_sender, end_receiver) = oneshot::channel();
                if let Some(head) = head.take() {
                    // A caller that went away leaves the stream to be read and dropped.
                    let stream = ResponseStream::new(content_type, chunks, end_receiver);
                    let _ = head.send(Ok(Response::Streamed(stream)));
                }
                stream_end = Some(end_sender);
                // The stream runs within the function's timeout, like any response.
                let ending = tokio::select! {
                    biased;
                    ending = end => Ok(ending),
                    status = exit.wait_for(Option::is_some) => Err(exited(status.ok().and_then(|how| how.clone()))),
                    () = &mut timer => Err(InvokeOutcome::Timeout),
                };
                match ending {
                    Ok(Ok(StreamEnd::Complete)) => InvokeOutcome::Streamed,
                    Ok(Ok(StreamEnd::Error(error))) => InvokeOutcome::FunctionError(error),
                    Ok(Ok(StreamEnd::TooLarge)) => InvokeOutcome::FunctionError(stream_too_large()),
                    // A body that broke off: the process died, which its exit tells.
                    Ok(Ok(StreamEnd::Broken) | Err(_)) => tokio::select! {
                        status = exit.wait_for(Option::is_some) => exited(status.ok().and_then(|how| how.clone())),
                        () = &mut timer => InvokeOutcome::Timeout,
                    },
                    Err(outcome) => outcome,
                }
            }
        };
        let duration = started.elapsed();
        // Every line the function wrote before it answered (or died) belongs before END.
        self.output.flush().await;
        self.output.set_request(None, None);
        // VmHWM is a peak since start; a process that is gone keeps its last reading. A
        // failed invocation is always measured: memory may be why it failed.
        let sample_due = self
            .memory_sampled_at
            .is_none_or(|at| at.elapsed() >= MEMORY_SAMPLE_INTERVAL);
        if sample_due
            || !matches!(
                outcome,
                InvokeOutcome::Response(_) | InvokeOutcome::Streamed
            )
        {
            let used = match self
                .sandboxed
                .as_ref()
                .and_then(SandboxedInstance::peak_memory_mb)
            {
                Some(peak) => peak,
                None => max_memory_used_mb(self.pid),
            };
            self.max_memory_used_mb = self.max_memory_used_mb.max(used);
            self.memory_sampled_at = Some(std::time::Instant::now());
        }
        // A process the kernel killed for exceeding the memory limit is reported as Lambda
        // does: Runtime.OutOfMemory, with the limit as the memory used.
        let outcome = match outcome {
            InvokeOutcome::Exited(_)
                if self
                    .sandboxed
                    .as_ref()
                    .is_some_and(SandboxedInstance::oom_killed) =>
            {
                self.max_memory_used_mb = self
                    .max_memory_used_mb
                    .max(u64::from(spec.config.memory_mb));
                InvokeOutcome::Exited(logs::error_json(
                    "Runtime.OutOfMemory",
                    &format!(
                        "RequestId: {request_id} Error: Runtime exited with error: signal: killed"
                    ),
                ))
            }
            outcome => outcome,
        };
        match &outcome {
            InvokeOutcome::Timeout => {
                if let Some(line) = logging.timeout(request_id, timeout) {
                    emit(&line);
                }
                self.kill();
            }
            InvokeOutcome::Exited(error) => {
                let (error_type, message) = error_fields(error);
                emit(&message);
                emit(&error_type);
            }
            _ => {}
        }
        if let Some(line) = logging.end(request_id) {
            emit(&line);
        }
        let report = logs::Report {
            duration,
            memory_size_mb: spec.config.memory_mb,
            max_memory_used_mb: self.max_memory_used_mb,
            init_duration: self.init_duration.take(),
        };
        let error_type;
        let status = match &outcome {
            InvokeOutcome::Timeout => ReportStatus::Timeout,
            InvokeOutcome::FunctionError(error) | InvokeOutcome::Exited(error) => {
                error_type = error_fields(error).0;
                ReportStatus::Error(&error_type)
            }
            InvokeOutcome::ResponseTooLarge => ReportStatus::Error("Function.ResponseSizeTooLarge"),
            InvokeOutcome::Response(_) | InvokeOutcome::Streamed | InvokeOutcome::NotDelivered => {
                ReportStatus::Success
            }
        };
        if let Some(line) = logging.report(request_id, &report, status) {
            emit(&line);
        }
        if let Some(slot) = &context_report {
            slot.fill(logs::InvocationReport {
                request_id: request_id.to_owned(),
                instance: self.pid,
                report,
            });
        }
        if let Some(stream_end) = stream_end {
            // Told after REPORT, so that a caller that asked for the log's tail has it
            // whole. The stream's caller may be gone (a client that went away).
            let _ = stream_end.send(outcome.to_result(request_id).map(|_| ()));
        }
        outcome
    }

    /// Kills the process group now; the instance is useless afterwards.
    pub fn kill(&self) {
        kill_process_group(self.pid);
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // The group outlives its leader when children linger, so it is killed even if the
        // leader has already exited.
        kill_process_group(self.pid);
        self.server.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_descriptions_match_lambdas() {
        assert_eq!(describe_exit(ExitStatus::from_raw(1 << 8)), "exit status 1");
        assert_eq!(describe_exit(ExitStatus::from_raw(9)), "signal: killed");
        assert_eq!(
            exit_error("r1", "exit status 1"),
            Bytes::from_static(
                br#"{"errorMessage":"RequestId: r1 Error: Runtime exited with error: exit status 1","errorType":"Runtime.ExitError"}"#
            )
        );
        assert!(String::from_utf8_lossy(&exit_error("r1", "exit status 0"))
            .contains("Runtime exited without providing a reason"));
    }

    #[test]
    fn layer_paths_follow_lambdas_order() {
        let opt = std::path::Path::new("/opt");
        let none = BTreeMap::new();
        let mut python = BTreeMap::from([
            ("PYTHONPATH".to_owned(), "/sdk/python".to_owned()),
            ("PATH".to_owned(), "/usr/bin:/bin".to_owned()),
        ]);
        add_layer_paths("python3.12", &none, opt, &mut python);
        assert_eq!(
            python["PYTHONPATH"],
            "/opt/python/lib/python3.12/site-packages:/opt/python:/sdk/python"
        );
        assert_eq!(python["PATH"], "/usr/bin:/bin:/opt/bin");
        assert_eq!(python["LD_LIBRARY_PATH"], "/opt/lib");

        let mut node = BTreeMap::new();
        add_layer_paths("nodejs20.x", &none, opt, &mut node);
        assert_eq!(
            node["NODE_PATH"],
            "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules"
        );

        // Without a sandbox the merged folder stands for /opt; a PATH the function sets
        // is its own.
        let own = BTreeMap::from([("PATH".to_owned(), "/mine".to_owned())]);
        let mut plain = BTreeMap::from([("PATH".to_owned(), "/mine".to_owned())]);
        add_layer_paths(
            "provided.al2023",
            &own,
            std::path::Path::new("/data/layers/Fn/abc"),
            &mut plain,
        );
        assert_eq!(plain["PATH"], "/mine");
        assert_eq!(plain["LD_LIBRARY_PATH"], "/data/layers/Fn/abc/lib");
        assert!(!plain.contains_key("NODE_PATH"));
        assert!(!plain.contains_key("PYTHONPATH"));
    }

    #[test]
    fn trace_ids_look_like_xray_headers() {
        let trace = new_trace_id();
        assert!(trace.starts_with("Root=1-"), "{trace}");
        assert!(trace.ends_with(";Sampled=0"), "{trace}");
        assert_eq!(
            trace.len(),
            "Root=1-".len() + 8 + 1 + 24 + ";Parent=".len() + 16 + ";Sampled=0".len()
        );
    }

    #[test]
    fn error_fields_are_read_from_error_json() {
        assert_eq!(
            error_fields(br#"{"errorType":"Runtime.HandlerNotFound","errorMessage":"m"}"#),
            ("Runtime.HandlerNotFound".to_owned(), "m".to_owned())
        );
        assert_eq!(
            error_fields(b"junk"),
            ("Runtime.Unknown".to_owned(), String::new())
        );
    }

    #[test]
    fn memory_of_this_process_is_positive() {
        assert!(max_memory_used_mb(std::process::id()) > 0);
    }
}
