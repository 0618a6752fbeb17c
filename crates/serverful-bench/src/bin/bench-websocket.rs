//! The WebSocket benchmark's driver behind `bash bench/websocket.sh`: for each contender
//! (`serverful up`, then serverless-offline on the same Node.js handler) it starts a fresh
//! server, reads its idle memory, opens `--connections` WebSocket connections and reads its
//! memory again, then posts to `--targets` of them through the management API
//! (PostToConnection) from `--posters` posters in a closed loop, and from one poster alone,
//! timing each frame from its post to its arrival. Prints one markdown report on stdout;
//! progress goes to stderr. A contender that is not installed or fails gets a row saying
//! so, and the run goes on.

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use serverful_bench::report::{load_average, quantile, Machine};
use serverful_bench::ws_load::{self, Check, Endpoint, FanoutConfig, FanoutRun, Management};
use serverful_bench::{cpu, memory};

/// Hold WebSocket connections and fan out PostToConnection through serverful and
/// serverless-offline
#[derive(Debug, Parser)]
#[command(name = "bench-websocket")]
struct Args {
    /// WebSocket connections opened and held per contender
    #[arg(long, env = "BENCH_CONNECTIONS", default_value_t = 10_000)]
    connections: usize,
    /// Connections that learn their id and are posted to in turn
    #[arg(long, env = "BENCH_TARGETS", default_value_t = 1000)]
    targets: usize,
    /// Concurrent posters, each with one PostToConnection in flight
    #[arg(long, env = "BENCH_POSTERS", default_value_t = 16)]
    posters: usize,
    /// Seconds recorded per fan-out run
    #[arg(long, env = "BENCH_DURATION", default_value_t = 10.0)]
    duration: f64,
    /// Seconds of unrecorded warm-up per fan-out run
    #[arg(long, env = "BENCH_WARMUP", default_value_t = 2.0)]
    warmup: f64,
    /// Seconds recorded with one poster (delivery latency without queueing; 0 skips it)
    #[arg(long, env = "BENCH_UNLOADED_DURATION", default_value_t = 5.0)]
    unloaded_duration: f64,
    /// Bytes of each posted message
    #[arg(long, env = "BENCH_MESSAGE_BYTES", default_value_t = 128)]
    message_bytes: usize,
    /// Loopback source addresses the connections are spread over (127.0.0.1, 127.0.0.2,
    /// ...): each gives about 28,000 local ports
    #[arg(long, env = "BENCH_SOURCES", default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=250))]
    sources: u8,
    /// Handshakes in flight at once while opening
    #[arg(long, env = "BENCH_CONNECT_CONCURRENCY", default_value_t = 16)]
    connect_concurrency: usize,
    /// Seconds a handshake or a post may take before it counts as a failure
    #[arg(long, env = "BENCH_REQUEST_TIMEOUT", default_value_t = 30.0)]
    request_timeout: f64,
    /// Worker threads of the load generator (this program)
    #[arg(long, env = "BENCH_LOAD_THREADS", default_value_t = 1)]
    load_threads: usize,
    /// Where bench/websocket.sh installed serverless and serverless-offline (serverless/)
    #[arg(long, env = "BENCH_TOOLS")]
    tools: Option<PathBuf>,
    /// The serverful binary (default: the one beside this program)
    #[arg(long, env = "BENCH_SERVERFUL")]
    serverful: Option<PathBuf>,
    /// Run only these contenders: serverful, offline (comma-separated)
    #[arg(long, env = "BENCH_ONLY", value_delimiter = ',')]
    only: Vec<String>,
    /// Append the process id of every server started to this file (bench/websocket.sh
    /// kills them on exit, whatever happens to this program)
    #[arg(long, env = "BENCH_PID_FILE")]
    pid_file: Option<PathBuf>,
    /// Keep the scratch folder (apps, server logs)
    #[arg(long, env = "BENCH_KEEP")]
    keep: bool,
}

/// How long a server may take to start listening.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Time given to a server before its memory is read, idle and with its connections.
const SETTLE: Duration = Duration::from_secs(2);

/// The handler both contenders run: `$connect` and `$disconnect` accept, a message (to
/// `$default`, a two-way route) is answered with the connection's id, which the client
/// needs to be posted to. The posts themselves come from the management API, not from the
/// handler. Messages are told by `eventType`: serverless-offline puts the selected value
/// (`whoami`) in `routeKey` where API Gateway puts `$default`.
const HANDLER: &str = "exports.handler = async (event) => {
  const { eventType, connectionId } = event.requestContext;
  if (eventType === 'MESSAGE') {
    return { statusCode: 200, body: JSON.stringify({ connectionId }) };
  }
  return { statusCode: 200 };
};
";

const TEMPLATE: &str = "AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: BenchApi
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: $request.body.action
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $connect
      AuthorizationType: NONE
      Target: !Join ['/', ['integrations', !Ref Integration]]
  DisconnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $disconnect
      Target: !Join ['/', ['integrations', !Ref Integration]]
  DefaultRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $default
      RouteResponseSelectionExpression: $default
      Target: !Join ['/', ['integrations', !Ref Integration]]
  DefaultRouteResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties:
      ApiId: !Ref Api
      RouteId: !Ref DefaultRoute
      RouteResponseKey: $default
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Handler.Arn}/invocations
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      StageName: production
      ApiId: !Ref Api
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      CodeUri: src/
      Handler: index.handler
";

const SERVERLESS_YML: &str = "service: bench-websocket
frameworkVersion: '3'
provider:
  name: aws
  runtime: nodejs20.x
  stage: production
functions:
  handler:
    handler: index.handler
    events:
      - websocket: {route: $connect}
      - websocket: {route: $disconnect}
      - websocket: {route: $default, routeResponseSelectionExpression: $default}
plugins:
  - serverless-offline
";

/// A contender: its key for `--only` and its name in the report.
struct Contender {
    key: &'static str,
    name: &'static str,
}

const CONTENDERS: [Contender; 2] = [
    Contender {
        key: "serverful",
        name: "serverful up",
    },
    Contender {
        key: "offline",
        name: "serverless-offline",
    },
];

/// Programs and folders of a run.
struct Setup {
    serverful: PathBuf,
    tools: Option<PathBuf>,
    scratch: PathBuf,
    pid_file: Option<PathBuf>,
}

/// What one contender measured, or why it did not run.
struct Row {
    name: &'static str,
    held: Option<Held>,
    loaded: Result<FanoutRun, String>,
    unloaded: Option<Result<FanoutRun, String>>,
    failure: Option<String>,
}

/// The connections and the server's memory.
struct Held {
    asked: usize,
    opened: usize,
    failures: u64,
    first_failure: Option<String>,
    open_s: f64,
    handshake_ms: Vec<f64>,
    /// Still open after the fan-out runs.
    alive_after: usize,
    idle_rss: Option<u64>,
    held_rss: Option<u64>,
    after_rss: Option<u64>,
    /// RSS of the server's child processes (function instances, parked sandboxes) with
    /// the connections open, and how many.
    children_rss: (u64, usize),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.load_threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> anyhow::Result<String> {
    for only in &args.only {
        if !CONTENDERS.iter().any(|contender| contender.key == only) {
            bail!("unknown contender `{only}` in --only\nhint: choose among serverful, offline");
        }
    }
    if args.targets > args.connections {
        bail!(
            "--targets ({}) is more than --connections ({})",
            args.targets,
            args.connections
        );
    }
    let scratch = tempfile::Builder::new()
        .prefix("serverful-bench-websocket-")
        .tempdir_in(
            std::env::var_os("BENCH_SCRATCH").map_or_else(std::env::temp_dir, PathBuf::from),
        )
        .context("create a scratch folder")?;
    let setup = Setup {
        serverful: match &args.serverful {
            Some(path) => path.clone(),
            None => std::env::current_exe()
                .context("find this program's path")?
                .with_file_name("serverful"),
        },
        tools: args.tools.clone(),
        scratch: scratch.path().to_owned(),
        pid_file: args.pid_file.clone(),
    };
    let load_before = load_average();
    eprintln!("load average before the run: {load_before}");
    let mut rows = Vec::new();
    for contender in CONTENDERS
        .iter()
        .filter(|contender| args.only.is_empty() || args.only.iter().any(|o| o == contender.key))
    {
        eprintln!("{}", contender.name);
        let row = measure(args, &setup, contender).await;
        if let Some(failure) = &row.failure {
            eprintln!("  did not run: {failure}");
        }
        rows.push(row);
    }
    let load_after = load_average();
    let versions = versions(&setup);
    if args.keep {
        let kept = scratch.keep();
        eprintln!("scratch folder kept: {}", kept.display());
    }
    Ok(markdown(
        args,
        &Machine::describe(),
        &load_before,
        &load_after,
        &versions,
        &rows,
    ))
}

async fn measure(args: &Args, setup: &Setup, contender: &Contender) -> Row {
    let mut row = Row {
        name: contender.name,
        held: None,
        loaded: Err("not run".to_owned()),
        unloaded: None,
        failure: None,
    };
    let started = match start(setup, contender.key).await {
        Ok(started) => started,
        Err(error) => {
            row.failure = Some(format!("{error:#}"));
            return row;
        }
    };
    let pid = started.server.child.id();
    tokio::time::sleep(SETTLE).await;
    let idle_rss = pid.and_then(memory::process_rss);

    eprintln!(
        "  opening {} connections ({} at a time, from {} source addresses)",
        args.connections, args.connect_concurrency, args.sources
    );
    let sources: Vec<Ipv4Addr> = (1..=args.sources)
        .map(|n| Ipv4Addr::new(127, 0, 0, n))
        .collect();
    let opened = ws_load::open(
        &started.endpoint,
        &ws_load::OpenConfig {
            count: args.connections,
            identify: args.targets,
            sources,
            concurrency: args.connect_concurrency,
            timeout: Duration::from_secs_f64(args.request_timeout),
        },
    )
    .await;
    eprintln!(
        "  {} open in {:.1} s, {} failed{}",
        opened.fleet.alive(),
        opened.elapsed.as_secs_f64(),
        opened.failures,
        opened
            .first_failure
            .as_deref()
            .map(|failure| format!(" (first: {failure})"))
            .unwrap_or_default()
    );
    tokio::time::sleep(SETTLE).await;
    let held_rss = pid.and_then(memory::process_rss);
    let children_rss = pid.map(memory::descendants_rss).unwrap_or_default();
    let opened_count = opened.handshake_ms.len();

    let fanout = |posters: usize, warmup: f64, duration: f64| FanoutConfig {
        posters,
        warmup: Duration::from_secs_f64(warmup),
        duration: Duration::from_secs_f64(duration),
        message_bytes: args.message_bytes,
        request_timeout: Duration::from_secs_f64(args.request_timeout),
    };
    eprintln!(
        "  fan-out: {} posters to {} connections, {} s + {} s",
        args.posters,
        opened.fleet.ids.len(),
        args.warmup,
        args.duration
    );
    row.loaded = charged(&started, || {
        ws_load::fanout(
            &opened.fleet,
            &started.management,
            fanout(args.posters, args.warmup, args.duration),
        )
    })
    .await;
    log_run(&row.loaded);
    if args.unloaded_duration > 0.0 {
        eprintln!("  fan-out: 1 poster, {} s", args.unloaded_duration);
        let unloaded = charged(&started, || {
            ws_load::fanout(
                &opened.fleet,
                &started.management,
                fanout(1, 1.0, args.unloaded_duration),
            )
        })
        .await;
        log_run(&unloaded);
        row.unloaded = Some(unloaded);
    }
    let after_rss = pid.and_then(memory::process_rss);
    row.held = Some(Held {
        asked: args.connections,
        opened: opened_count,
        failures: opened.failures,
        first_failure: opened.first_failure.clone(),
        open_s: opened.elapsed.as_secs_f64(),
        handshake_ms: opened.handshake_ms.clone(),
        alive_after: opened.fleet.alive(),
        idle_rss,
        held_rss,
        after_rss,
        children_rss,
    });
    // The server first: closing 10,000 client sockets would run as many `$disconnect`s.
    started.server.stop().await;
    drop(opened);
    row
}

/// Runs `run` with the CPU time of the server (and its children) and of this process
/// charged to its figures.
async fn charged<F, Fut>(started: &Started, run: F) -> Result<FanoutRun, String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<FanoutRun, String>>,
{
    let server_before = started.server.cpu();
    let client_before = cpu::process_cpu(std::process::id());
    let mut result = run().await;
    if let Ok(run) = &mut result {
        let spent = |before: Option<Duration>, after: Option<Duration>| {
            before
                .zip(after)
                .map(|(before, after)| after.saturating_sub(before).as_secs_f64())
        };
        run.server_cpu_s = spent(server_before, started.server.cpu());
        run.client_cpu_s = spent(client_before, cpu::process_cpu(std::process::id()));
    }
    result
}

fn log_run(run: &Result<FanoutRun, String>) {
    match run {
        Ok(run) => eprintln!(
            "    {:.0} posts/s answered, {:.0} messages/s delivered, p50 {:.0} µs, p99 {:.0} µs, {} errors, check {:?}{}",
            run.acknowledged_per_second,
            run.delivered_per_second,
            run.delivery_p50_us,
            run.delivery_p99_us,
            run.errors,
            run.check,
            run.first_error
                .as_deref()
                .map(|error| format!(" (first error: {error})"))
                .unwrap_or_default()
        ),
        Err(error) => eprintln!("    failed: {error}"),
    }
}

/// A contender's server process.
type Server = serverful_bench::server::Spawned;

/// A started contender: where its WebSocket stage and management API are.
struct Started {
    server: Server,
    endpoint: Endpoint,
    management: Management,
}

fn spawn(
    setup: &Setup,
    label: &str,
    program: &Path,
    args: &[String],
    cwd: Option<&Path>,
    env: &[(&str, &str)],
) -> anyhow::Result<Server> {
    let stdout_path = setup.scratch.join(format!("{label}.stdout"));
    let stderr_path = setup.scratch.join(format!("{label}.stderr"));
    let stdout = std::fs::File::create(&stdout_path).context("create a log file")?;
    let stderr = std::fs::File::create(&stderr_path).context("create a log file")?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        // A driver that dies mid-run must not leave servers behind.
        .kill_on_drop(true);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let child = command
        .spawn()
        .with_context(|| format!("start {}", program.display()))?;
    if let (Some(pid_file), Some(pid)) = (&setup.pid_file, child.id()) {
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(pid_file)
        {
            let _ = writeln!(file, "{pid}");
        }
    }
    Ok(Server {
        label: label.to_owned(),
        child,
        stdout_path,
        stderr_path,
    })
}

/// A free loopback port, for servers that cannot be asked to pick one.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("find a free port")?;
    Ok(listener.local_addr().context("read the free port")?.port())
}

/// Waits until what `server` has written (`stdout` or `stderr`, as `output` reads it)
/// makes `ready` give a value.
async fn wait_for<T>(
    server: &mut Server,
    output: fn(&Server) -> String,
    ready: impl Fn(&str) -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(found) = ready(&output(server)) {
            return Ok(found);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            bail!(
                "{} exited ({status}) before it was ready: {}",
                server.label,
                server.stderr_tail()
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "{} was not ready within {READY_TIMEOUT:?}: {}",
                server.label,
                server.stderr_tail()
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

fn write_app(dir: &Path, manifest: (&str, &str), code_dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(code_dir).context("create the app folder")?;
    std::fs::write(dir.join(manifest.0), manifest.1).context("write the app's manifest")?;
    std::fs::write(code_dir.join("index.js"), HANDLER).context("write the handler")?;
    Ok(())
}

async fn start(setup: &Setup, key: &str) -> anyhow::Result<Started> {
    match key {
        "serverful" => start_serverful(setup).await,
        "offline" => start_offline(setup).await,
        other => bail!("unknown contender {other}"),
    }
}

/// `serverful up APP` with every port picked free; the WebSocket stage on the gateway's
/// bare host, the management API on the AWS endpoint with the keys it printed.
async fn start_serverful(setup: &Setup) -> anyhow::Result<Started> {
    let app = setup.scratch.join("app-serverful");
    write_app(&app, ("template.yaml", TEMPLATE), &app.join("src"))?;
    let data = setup.scratch.join("data-serverful");
    let args: Vec<String> = vec![
        "up".into(),
        app.display().to_string(),
        "--port".into(),
        "0".into(),
        "--aws-port".into(),
        "0".into(),
        "--admin-port".into(),
        "0".into(),
        "--data".into(),
        data.display().to_string(),
    ];
    let mut server = spawn(setup, "serverful", &setup.serverful, &args, None, &[])?;
    let gateway = wait_for(&mut server, Server::stdout, |stdout| {
        serverful_bench::server::ready_address(stdout)
    })
    .await?;
    let stdout = server.stdout();
    let aws = stdout
        .lines()
        .find_map(|line| {
            let rest = line.split("AWS endpoint http://").nth(1)?;
            rest.split(|c: char| c == '/' || c.is_whitespace())
                .next()?
                .parse::<SocketAddr>()
                .ok()
        })
        .context("serverful printed no `AWS endpoint http://ADDR` line")?;
    let keys: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("aws-keys.json")).context("read the AWS endpoint's keys")?,
    )
    .context("read the AWS endpoint's keys")?;
    let key = |name: &str| keys[name].as_str().unwrap_or_default().to_owned();
    Ok(Started {
        server,
        endpoint: Endpoint {
            address: gateway,
            host: gateway.to_string(),
            path: "/production".to_owned(),
        },
        management: Management {
            address: aws,
            host: aws.to_string(),
            keys: (key("accessKeyId"), key("secretAccessKey")),
        },
    })
}

/// `serverless offline` (serverless v3 with serverless-offline) on the same handler, with
/// its default settings but free ports; the WebSocket server and the management API share
/// the websocket port.
async fn start_offline(setup: &Setup) -> anyhow::Result<Started> {
    let tools = setup.tools.as_ref().context(
        "no --tools folder\nhint: run it through `bash bench/websocket.sh`, which installs serverless-offline",
    )?;
    let modules = tools.join("serverless/node_modules");
    let cli = modules.join("serverless/bin/serverless.js");
    if !cli.is_file() || !modules.join("serverless-offline").is_dir() {
        bail!(
            "serverless and serverless-offline are not installed in {}",
            modules.display()
        );
    }
    let app = setup.scratch.join("app-offline");
    write_app(&app, ("serverless.yml", SERVERLESS_YML), &app)?;
    // Plugins are found in the service's node_modules.
    std::os::unix::fs::symlink(&modules, app.join("node_modules"))
        .context("link node_modules into the app")?;
    let websocket_port = free_port()?;
    let args: Vec<String> = vec![
        cli.display().to_string(),
        "offline".into(),
        "start".into(),
        "--host".into(),
        "127.0.0.1".into(),
        "--httpPort".into(),
        free_port()?.to_string(),
        "--lambdaPort".into(),
        free_port()?.to_string(),
        "--websocketPort".into(),
        websocket_port.to_string(),
    ];
    let mut server = spawn(
        setup,
        "offline",
        Path::new("node"),
        &args,
        Some(&app),
        &[
            ("SLS_TELEMETRY_DISABLED", "1"),
            ("SLS_NOTIFICATIONS_MODE", "off"),
            ("SLS_DEPRECATION_DISABLE", "*"),
            ("AWS_ACCESS_KEY_ID", "bench"),
            ("AWS_SECRET_ACCESS_KEY", "bench"),
            ("AWS_REGION", "us-east-1"),
        ],
    )?;
    let needle = format!("ws://127.0.0.1:{websocket_port}");
    // serverless-offline logs to stderr.
    wait_for(&mut server, Server::stderr, |stderr| {
        stderr.contains(&needle).then_some(())
    })
    .await?;
    let address = SocketAddr::from(([127, 0, 0, 1], websocket_port));
    Ok(Started {
        server,
        endpoint: Endpoint {
            address,
            host: address.to_string(),
            path: "/".to_owned(),
        },
        management: Management {
            address,
            host: address.to_string(),
            keys: ("bench".to_owned(), "bench".to_owned()),
        },
    })
}

fn versions(setup: &Setup) -> Vec<String> {
    let mut versions = Vec::new();
    if let Ok(output) = std::process::Command::new(&setup.serverful)
        .arg("--version")
        .output()
    {
        versions.push(String::from_utf8_lossy(&output.stdout).trim().to_owned());
    }
    if let Some(tools) = &setup.tools {
        for package in ["serverless", "serverless-offline"] {
            let manifest = tools.join(format!("serverless/node_modules/{package}/package.json"));
            if let Some(version) = std::fs::read(&manifest)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
                .and_then(|value| value["version"].as_str().map(str::to_owned))
            {
                versions.push(format!("{package} {version}"));
            }
        }
    }
    versions
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or("—".to_owned(), |bytes| {
        format!("{:.1} MB", bytes as f64 / 1024.0 / 1024.0)
    })
}

fn us(value: f64) -> String {
    if value.is_nan() {
        "—".to_owned()
    } else if value >= 1000.0 {
        format!("{:.2} ms", value / 1000.0)
    } else {
        format!("{value:.0} µs")
    }
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn markdown(
    args: &Args,
    machine: &Machine,
    load_before: &str,
    load_after: &str,
    versions: &[String],
    rows: &[Row],
) -> String {
    let mut out = format!(
        "Machine: {} cores, {}, {}, {}; load average before {load_before}, after {load_after}; {}, {}\n\n",
        machine.cores, machine.cpu_model, machine.memory, machine.kernel, machine.node, versions.join(", ")
    );
    out.push_str(&format!(
        "Settings: {} connections per contender from {} loopback source addresses ({} handshakes at a time), {} of them posted to in turn by {} posters (one post in flight each) for {} s after {} s of warm-up, then by 1 poster for {} s; {}-byte messages; the load generator runs on {} thread(s) of the same machine.\n\n",
        args.connections, args.sources, args.connect_concurrency, args.targets, args.posters, args.duration, args.warmup, args.unloaded_duration, args.message_bytes, args.load_threads
    ));
    out.push_str(
        "**Connections held** (each handshake runs the `$connect` function before its 101)\n\n",
    );
    out.push_str("| server | open | failed | time to open all | handshake p50 | handshake p99 | still open after the fan-out | server RSS idle | server RSS with the connections | per connection | server RSS after the fan-out | child processes (RSS) |\n");
    out.push_str(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for row in rows {
        let Some(held) = &row.held else {
            out.push_str(&format!(
                "| {} | did not run: {} | | | | | | | | | | |\n",
                row.name,
                row.failure
                    .as_deref()
                    .unwrap_or("unknown")
                    .replace('|', "/")
            ));
            continue;
        };
        let per_connection = held
            .idle_rss
            .zip(held.held_rss)
            .filter(|_| held.opened > 0)
            .map_or("—".to_owned(), |(idle, with)| {
                format!(
                    "{:.1} KB",
                    with.saturating_sub(idle) as f64 / 1024.0 / held.opened as f64
                )
            });
        let quantile_ms = |q: f64| {
            quantile(&held.handshake_ms, q).map_or("—".to_owned(), |ms| format!("{ms:.1} ms"))
        };
        out.push_str(&format!(
            "| {} | {} of {} | {} | {:.1} s | {} | {} | {} | {} | {} | {} | {} | {} ({}) |\n",
            row.name,
            held.opened,
            held.asked,
            held.failures,
            held.open_s,
            quantile_ms(0.5),
            quantile_ms(0.99),
            held.alive_after,
            mb(held.idle_rss),
            mb(held.held_rss),
            per_connection,
            mb(held.after_rss),
            mb(Some(held.children_rss.0)),
            held.children_rss.1,
        ));
    }
    for row in rows {
        if let Some(failure) = row
            .held
            .as_ref()
            .and_then(|held| held.first_failure.as_ref())
        {
            out.push_str(&format!(
                "\n{}'s first failed connection: {failure}\n",
                row.name
            ));
        }
    }

    out.push_str("\n**Fan-out**: `POST /@connections/{id}` to the connections in turn. Posts answered/s: posts sent in the recorded part and answered 2xx; messages/s delivered: frames read by the clients during the recorded part; delivery: from a post sent in the recorded part to its frame read by the client\n\n");
    out.push_str("| server | posters | posts answered/s | messages/s delivered | delivery p50 | delivery p99 | delivery max | post answered p50 | post answered p99 | errors | every post delivered once | server CPU per message | driver CPU per message |\n");
    out.push_str(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |\n",
    );
    let mut fanout_rows: Vec<(&str, &Result<FanoutRun, String>, usize)> = Vec::new();
    for row in rows.iter().filter(|row| row.held.is_some()) {
        fanout_rows.push((row.name, &row.loaded, args.posters));
    }
    for row in rows.iter().filter(|row| row.held.is_some()) {
        if let Some(unloaded) = &row.unloaded {
            fanout_rows.push((row.name, unloaded, 1));
        }
    }
    for (name, run, posters) in &fanout_rows {
        match run {
            Ok(run) => {
                let per_message = |cpu: Option<f64>| {
                    cpu.filter(|_| run.acknowledged > 0)
                        .map_or("—".to_owned(), |cpu| {
                            us(cpu * 1e6 / run.acknowledged as f64)
                        })
                };
                let check = match &run.check {
                    Check::Held => "yes".to_owned(),
                    Check::Wrong {
                        acknowledged,
                        delivered,
                        unexpected,
                    } => format!(
                        "**WRONG**: {acknowledged} acknowledged, {delivered} delivered, {unexpected} unexpected"
                    ),
                };
                out.push_str(&format!(
                    "| {name} | {posters} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} | {check} | {} | {} |\n",
                    run.acknowledged_per_second,
                    run.delivered_per_second,
                    us(run.delivery_p50_us),
                    us(run.delivery_p99_us),
                    us(run.delivery_max_us),
                    us(run.post_p50_us),
                    us(run.post_p99_us),
                    run.errors,
                    per_message(run.server_cpu_s),
                    per_message(run.client_cpu_s),
                ));
            }
            Err(error) => out.push_str(&format!(
                "| {name} | {posters} | failed: {} | | | | | | | | | | |\n",
                error.replace('|', "/")
            )),
        }
    }
    for (name, run, posters) in &fanout_rows {
        if let Ok(FanoutRun {
            first_error: Some(error),
            ..
        }) = run
        {
            out.push_str(&format!(
                "\n{name} ({posters} posters), first error: {error}\n"
            ));
        }
    }

    out.push_str("\n**Targets** (issue 17)\n\n");
    let serverful = rows.iter().find(|row| row.name == "serverful up");
    let offline = rows.iter().find(|row| row.name == "serverless-offline");
    if let Some(held) = serverful.and_then(|row| row.held.as_ref()) {
        out.push_str(&format!(
            "- idle connections held by one node: {} of {} open, {} still open after the fan-out (target ≥ 10,000: {})\n",
            held.opened,
            held.asked,
            held.alive_after,
            met(held.opened >= 10_000 && held.alive_after >= 10_000)
        ));
        if let Some(idle) = held.idle_rss {
            out.push_str(&format!(
                "- idle server: {} (target < 30 MB: {})\n",
                mb(Some(idle)),
                met(idle < 30 * 1024 * 1024)
            ));
        }
    }
    let rate = |row: Option<&Row>| {
        row.and_then(|row| row.loaded.as_ref().ok())
            .map(|run| run.delivered_per_second)
    };
    match (rate(serverful), rate(offline)) {
        (Some(ours), Some(theirs)) if theirs > 0.0 => out.push_str(&format!(
            "- fan-out throughput (messages delivered/s), serverful ÷ serverless-offline ({} posters): **{:.1}×** ({ours:.0} against {theirs:.0} messages/s; target ≥ 10×: {})\n",
            args.posters,
            ours / theirs,
            met(ours / theirs >= 10.0)
        )),
        _ => out.push_str("- fan-out throughput ratio: not measured (a contender did not run)\n"),
    }
    out
}
