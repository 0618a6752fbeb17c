//! The benchmark driver behind `bash bench/invoke.sh`: starts each contender in turn (the
//! bare hyper ceiling, then `serverful up` with Rust, Node.js, Python, Ruby, Java and
//! HTTP-mode functions, and serverless-offline on the same Node.js handler), loads it with
//! `bench-load`, over one or more rounds in alternating order, then times cold starts on
//! fresh servers, and prints one markdown report on stdout. Progress goes to stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Parser;
use serverful_bench::report::{
    self, ColdRow, ColdSample, Kind, LoadFigures, MemoryFigures, Outcome, WarmRow,
};
use serverful_bench::server::ServerProcess;
use serverful_bench::{apps, contender, cpu, load, memory, offline, rounds, HELLO_BODY};

/// Measure serverful's invoke path against a bare hyper server, side by side in one run
#[derive(Debug, Parser)]
#[command(name = "bench-invoke")]
struct Args {
    /// Concurrent keep-alive connections of the loaded runs
    #[arg(long, env = "BENCH_CONNECTIONS", default_value_t = 32)]
    connections: usize,
    /// Seconds recorded per contender
    #[arg(long, env = "BENCH_DURATION", default_value_t = 10.0)]
    duration: f64,
    /// Seconds of unrecorded warm-up per contender
    #[arg(long, env = "BENCH_WARMUP", default_value_t = 2.0)]
    warmup: f64,
    /// Seconds of the 1-connection (unloaded) run per contender; 0 skips it
    #[arg(long, env = "BENCH_UNLOADED_DURATION", default_value_t = 5.0)]
    unloaded_duration: f64,
    /// Cold starts per runtime; 0 skips them
    #[arg(long, env = "BENCH_COLD_RUNS", default_value_t = 20)]
    cold_runs: usize,
    /// Worker threads of the load generator
    #[arg(long, env = "BENCH_LOAD_THREADS", default_value_t = 1)]
    load_threads: usize,
    /// The serverful binary (default: the one beside this program)
    #[arg(long, env = "BENCH_SERVERFUL")]
    serverful: Option<PathBuf>,
    /// Run only these parts: ceiling, rust, rust-unobserved, node, python, ruby, java,
    /// http, offline, cold (comma-separated)
    #[arg(long, env = "BENCH_ONLY", value_delimiter = ',')]
    only: Vec<String>,
    /// Rounds of the warm runs: every selected contender runs once per round, in the
    /// contender list's order, reversed every other round; figures are medians over the
    /// rounds and each ratio the median of the ratios within a round
    #[arg(long, env = "BENCH_ROUNDS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Where `bench/install-peers.sh` installed serverless and serverless-offline (the
    /// offline contender); default: `bench-peers` beside the folder of this program
    /// (`$CARGO_TARGET_DIR/bench-peers`)
    #[arg(long, env = "BENCH_PEERS")]
    peers: Option<PathBuf>,
    /// Keep the scratch folder (apps, data, server logs) and print its path
    #[arg(long, env = "BENCH_KEEP")]
    keep: bool,
}

/// How long a server gets to print its `Ready on` line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `serverless offline` gets to say `Server ready` (the framework loads a few
/// hundred modules first).
const OFFLINE_READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long the first request may take: a cold start, or serverful's init timeout (10 s)
/// when the function never becomes ready.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long to wait for a cold start's `REPORT` line after its response.
const REPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// One warm contender.
struct Contender {
    key: &'static str,
    name: &'static str,
    kind: Kind,
    path: &'static str,
}

/// The flags of the contender that runs with metrics and invocation records off.
const UNOBSERVED: [&str; 3] = ["--no-metrics", "--record-invocations", "off"];

const CONTENDERS: [Contender; 9] = [
    Contender {
        key: "ceiling",
        name: "bare hyper server (ceiling)",
        kind: Kind::Ceiling,
        path: "/",
    },
    Contender {
        key: "rust",
        name: "serverful → Rust `lambda_runtime` (provided.al2023)",
        kind: Kind::LambdaMode,
        path: "/rust",
    },
    Contender {
        key: "rust-unobserved",
        name: "serverful → Rust, metrics and invocation records off",
        kind: Kind::LambdaMode,
        path: "/rust",
    },
    Contender {
        key: "node",
        name: "serverful → Node.js handler (nodejs20.x)",
        kind: Kind::LambdaMode,
        path: "/node",
    },
    Contender {
        key: "python",
        name: "serverful → Python handler (python3.12)",
        kind: Kind::LambdaMode,
        path: "/python",
    },
    Contender {
        key: "ruby",
        name: "serverful → Ruby handler (ruby3.3)",
        kind: Kind::LambdaMode,
        path: "/ruby",
    },
    Contender {
        key: "java",
        name: "serverful → Java static method (java21)",
        kind: Kind::LambdaMode,
        path: "/java",
    },
    Contender {
        key: "http",
        name: "serverful → Node.js `http` server (HTTP mode)",
        kind: Kind::HttpMode,
        path: "/http",
    },
    Contender {
        key: "offline",
        name: "serverless-offline → the same Node.js handler",
        kind: Kind::Peer,
        path: offline::ROUTE,
    },
];

/// The parts `--only` may name besides the warm contenders.
const OTHER_PARTS: [&str; 1] = ["cold"];

/// The runtimes whose cold starts are timed: key, name, route, whether `provided`. Keys
/// ending in `-unsandboxed` run with `--sandbox off`, so that the sandbox's share of a cold
/// start shows side by side.
const COLD_RUNTIMES: [(&str, &str, &str, bool); 6] = [
    (
        "rust",
        "Rust `lambda_runtime` (provided.al2023), sandboxed",
        "/rust",
        true,
    ),
    (
        "rust-unsandboxed",
        "Rust `lambda_runtime` (provided.al2023), `--sandbox off`",
        "/rust",
        true,
    ),
    ("node", "Node.js (nodejs20.x)", "/node", false),
    ("python", "Python (python3.12)", "/python", false),
    ("ruby", "Ruby (ruby3.3)", "/ruby", false),
    ("java", "Java (java21)", "/java", false),
];

/// The programs and folders a run uses.
struct Setup {
    bench_load: PathBuf,
    ceiling: PathBuf,
    serverful: PathBuf,
    apps: apps::BenchApps,
    scratch: PathBuf,
    /// Where serverless and serverless-offline are installed.
    peers: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("find this program's path")?;
    let path = exe
        .parent()
        .context("find this program's folder")?
        .join(name);
    if !path.is_file() {
        bail!(
            "{} is missing\nhint: build with `cargo build --release -p serverful -p serverful-bench`",
            path.display()
        );
    }
    Ok(path)
}

async fn run(args: Args) -> anyhow::Result<()> {
    for only in &args.only {
        if !CONTENDERS.iter().any(|c| c.key == only) && !OTHER_PARTS.contains(&only.as_str()) {
            let known: Vec<&str> = CONTENDERS
                .iter()
                .map(|c| c.key)
                .chain(OTHER_PARTS)
                .collect();
            bail!(
                "unknown part `{only}` in --only\nhint: choose among {}",
                known.join(", ")
            );
        }
    }
    let wanted = |key: &str| args.only.is_empty() || args.only.iter().any(|only| only == key);
    let scratch = tempfile::Builder::new()
        .prefix("serverful-bench-")
        .tempdir()
        .context("create a scratch folder")?;
    let serverful = match &args.serverful {
        Some(path) => path.clone(),
        None => sibling("serverful")?,
    };
    let peers = match &args.peers {
        Some(path) => path.clone(),
        None => default_peers()?,
    };
    let setup = Setup {
        bench_load: sibling("bench-load")?,
        ceiling: sibling("bench-ceiling")?,
        serverful,
        apps: apps::write(scratch.path(), &sibling("bench-hello-rust")?)?,
        scratch: scratch.path().to_owned(),
        peers,
    };
    let load_before = report::load_average();
    eprintln!("load average before the run: {load_before}");

    let selected: Vec<&Contender> = CONTENDERS.iter().filter(|c| wanted(c.key)).collect();
    let mut warm_rounds = Vec::new();
    for round in 1..=args.rounds as usize {
        let mut rows: Vec<(usize, WarmRow)> = Vec::new();
        for index in rounds::order(selected.len(), round) {
            let contender = selected[index];
            if args.rounds > 1 {
                eprintln!("round {round}/{}: warm: {}", args.rounds, contender.name);
            } else {
                eprintln!("warm: {}", contender.name);
            }
            let (outcome, memory) = measure_warm(&args, &setup, contender, round).await;
            if let Outcome::Failed(reason) | Outcome::NotSupported(reason) = &outcome {
                eprintln!("  {reason}");
            }
            rows.push((
                index,
                WarmRow {
                    key: contender.key.to_owned(),
                    name: contender.name.to_owned(),
                    kind: contender.kind,
                    outcome,
                    memory,
                },
            ));
        }
        // The report lists every round's rows in the contender list's order.
        rows.sort_by_key(|(index, _)| *index);
        warm_rounds.push(rows.into_iter().map(|(_, row)| row).collect::<Vec<_>>());
    }

    let mut cold = Vec::new();
    if args.cold_runs > 0 && wanted("cold") {
        for (key, name, path, is_provided) in COLD_RUNTIMES {
            eprintln!("cold: {name}, {} runs", args.cold_runs);
            cold.push(measure_cold(&args, &setup, key, name, path, is_provided).await);
        }
    }

    let report = report::Report {
        machine: report::Machine::describe(),
        settings: report::Settings {
            connections: args.connections,
            warmup_s: args.warmup,
            duration_s: args.duration,
            unloaded_duration_s: args.unloaded_duration,
            load_threads: args.load_threads,
            cold_runs: args.cold_runs,
            rounds: args.rounds as usize,
        },
        load_before,
        load_after: report::load_average(),
        rounds: warm_rounds,
        cold,
        peers: if wanted("offline") {
            peer_lines(&setup)
        } else {
            Vec::new()
        },
    };
    println!("{}", report.to_markdown());
    if args.keep {
        let kept = scratch.keep();
        eprintln!("scratch folder kept: {}", kept.display());
    }
    Ok(())
}

/// `$CARGO_TARGET_DIR/bench-peers`: this program is `$CARGO_TARGET_DIR/release/bench-invoke`.
fn default_peers() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("find this program's path")?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .context("find the build's target folder")?;
    Ok(target.join("bench-peers"))
}

/// The report's line on serverless-offline: its versions and how it runs the handler.
fn peer_lines(setup: &Setup) -> Vec<String> {
    match offline::Installed::find(&setup.peers) {
        Ok(installed) => vec![format!(
            "serverless-offline contender: {}, handler run {}, timeouts on, HTTP API route \
             without the stage prefix.",
            installed.versions().join(", "),
            offline::MODE
        )],
        Err(_) => Vec::new(),
    }
}

/// Starts the contender's server, reads its idle memory, checks one request, loads it,
/// reads its memory again, stops it.
async fn measure_warm(
    args: &Args,
    setup: &Setup,
    contender: &Contender,
    round: usize,
) -> (Outcome, MemoryFigures) {
    let server = match start_contender(setup, contender.key, round).await {
        Ok(server) => server,
        Err(error) => {
            return (
                Outcome::Failed(format!("failed to start: {error:#}")),
                MemoryFigures::default(),
            )
        }
    };
    let mut memory = MemoryFigures {
        server_idle: server_rss(&server, contender.kind),
        ..MemoryFigures::default()
    };
    let outcome = load_contender(args, setup, contender, &server, &mut memory).await;
    server.stop().await;
    (outcome, memory)
}

/// The server's resident memory: its own process, or for a peer its whole process tree.
fn server_rss(server: &ServerProcess, kind: Kind) -> Option<u64> {
    let pid = server.pid()?;
    let own = memory::process_rss(pid)?;
    Some(match kind {
        Kind::Peer => own + memory::descendants_rss(pid).0,
        _ => own,
    })
}

async fn start_contender(setup: &Setup, key: &str, round: usize) -> anyhow::Result<ServerProcess> {
    let label = format!("warm-{key}-{round}");
    if key == "offline" {
        return start_offline(setup, &label).await;
    }
    if key == "ceiling" {
        return ServerProcess::start(&setup.ceiling, &[], &setup.scratch, &label, READY_TIMEOUT)
            .await;
    }
    if key == "rust-unobserved" {
        return start_serverful_with(setup, app_of(setup, key), &label, &UNOBSERVED).await;
    }
    start_serverful(setup, app_of(setup, key), &label).await
}

/// `serverless offline` on the Lambda-mode app's folder, whose `node/index.js` is the
/// handler the serverful Node.js contender runs, on free loopback ports.
async fn start_offline(setup: &Setup, label: &str) -> anyhow::Result<ServerProcess> {
    let installed = offline::Installed::find(&setup.peers)?;
    let app = &setup.apps.lambda_mode;
    installed.write_manifest(app)?;
    let command = installed.command(app, contender::free_port()?, contender::free_port()?);
    ServerProcess::start_command(
        command,
        &setup.scratch,
        label,
        OFFLINE_READY_TIMEOUT,
        offline::ready_address,
    )
    .await
}

/// The app a contender or cold-start runtime runs in.
fn app_of<'a>(setup: &'a Setup, key: &str) -> &'a Path {
    match key {
        "http" => &setup.apps.http_mode,
        "ruby" => &setup.apps.ruby,
        "java" => &setup.apps.java,
        _ => &setup.apps.lambda_mode,
    }
}

async fn start_serverful(setup: &Setup, app: &Path, label: &str) -> anyhow::Result<ServerProcess> {
    start_serverful_with(setup, app, label, &[]).await
}

async fn start_serverful_with(
    setup: &Setup,
    app: &Path,
    label: &str,
    extra: &[&str],
) -> anyhow::Result<ServerProcess> {
    let data = setup.scratch.join(format!("data-{label}"));
    let app = app.to_string_lossy();
    let data = data.to_string_lossy();
    let mut args = vec![
        "up",
        &app,
        "--port",
        "0",
        "--aws-port",
        "0",
        "--admin-port",
        "0",
        "--data",
        &data,
    ];
    args.extend_from_slice(extra);
    ServerProcess::start(
        &setup.serverful,
        &args,
        &setup.scratch,
        label,
        READY_TIMEOUT,
    )
    .await
}

async fn load_contender(
    args: &Args,
    setup: &Setup,
    contender: &Contender,
    server: &ServerProcess,
    memory: &mut MemoryFigures,
) -> Outcome {
    // One request first: it starts the first instance, and shows whether the contender
    // answers at all (HTTP mode may not be built yet).
    match load::timed_request(server.address, contender.path, PROBE_TIMEOUT).await {
        Ok((200, body, _)) if body == HELLO_BODY.as_bytes() => {}
        answer => {
            let reason = match answer {
                Ok((status, body, _)) => format!(
                    "first request answered {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                ),
                Err(error) => format!("first request failed: {error}"),
            };
            let reason = format!("{reason} (server stderr: {})", server.stderr_tail());
            return match contender.kind {
                Kind::HttpMode => Outcome::NotSupported(reason),
                _ => Outcome::Failed(reason),
            };
        }
    }
    let url = format!("http://{}{}", server.address, contender.path);
    let loaded = match run_load(
        setup,
        server,
        contender.kind,
        &url,
        args.connections,
        args.warmup,
        args.duration,
        args.load_threads,
    )
    .await
    {
        Ok(figures) => figures,
        Err(error) => return Outcome::Failed(format!("load run failed: {error:#}")),
    };
    memory.server_loaded = server_rss(server, contender.kind);
    if let (Some(pid), Kind::LambdaMode | Kind::HttpMode) = (server.pid(), contender.kind) {
        memory.instances_loaded = Some(memory::InstanceMemory::of(&memory::process_groups(pid)));
    }
    let unloaded = if args.unloaded_duration > 0.0 {
        match run_load(
            setup,
            server,
            contender.kind,
            &url,
            1,
            1.0,
            args.unloaded_duration,
            1,
        )
        .await
        {
            Ok(figures) => Some(figures),
            Err(error) => {
                eprintln!("  unloaded run failed: {error:#}");
                None
            }
        }
    } else {
        None
    };
    Outcome::Measured { loaded, unloaded }
}

/// Runs `bench-load` as its own process and reads its JSON line, then adds what the
/// server and its functions spent: CPU time, and the `REPORT` lines' durations. A peer's
/// descendants count as the server (it is gateway and runtime at once).
#[expect(
    clippy::too_many_arguments,
    reason = "one call per run shape; a struct would only rename them"
)]
async fn run_load(
    setup: &Setup,
    server: &ServerProcess,
    kind: Kind,
    url: &str,
    connections: usize,
    warmup: f64,
    duration: f64,
    threads: usize,
) -> anyhow::Result<LoadFigures> {
    let limit = Duration::from_secs_f64(warmup + duration + 30.0);
    let stdout_offset = server.stdout_len();
    let pid = server.pid();
    let server_cpu_before = pid.and_then(cpu::process_cpu);
    let functions_cpu_before = pid.map(cpu::descendants_cpu);
    let child = tokio::process::Command::new(&setup.bench_load)
        .args([
            url,
            "--connections",
            &connections.to_string(),
            "--warmup",
            &warmup.to_string(),
            "--duration",
            &duration.to_string(),
            "--threads",
            &threads.to_string(),
            "--expect-body",
            HELLO_BODY,
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("start bench-load")?;
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .context("bench-load ran past its time")?
        .context("wait for bench-load")?;
    if !output.status.success() {
        bail!("bench-load exited with {}", output.status);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .last()
        .context("bench-load printed nothing")?;
    let json: serde_json::Value =
        serde_json::from_str(line).context("read bench-load's JSON line")?;
    let mut figures = LoadFigures::from_json(&json).context("bench-load's JSON lacks a figure")?;
    let server_cpu_after = pid.and_then(cpu::process_cpu);
    if let (Some(before), Some(after)) = (server_cpu_before, server_cpu_after) {
        figures.server_cpu_s = Some(after.saturating_sub(before).as_secs_f64());
    }
    if let (Some(before), Some(pid)) = (functions_cpu_before, pid) {
        let spent = cpu::descendants_cpu_since(&before, &cpu::descendants_cpu(pid));
        if kind == Kind::Peer {
            figures.server_cpu_s = figures.server_cpu_s.map(|own| own + spent.as_secs_f64());
        } else {
            figures.functions_cpu_s = Some(spent.as_secs_f64());
        }
    }
    let durations: Vec<f64> = server
        .stdout_since(stdout_offset)
        .lines()
        .filter_map(report::parse_report_line)
        .map(|(duration_ms, _init)| duration_ms)
        .collect();
    figures.function_duration_p50_ms = report::quantile(&durations, 0.5);
    eprintln!(
        "  {connections} connection(s): {:.0} req/s, p50 {:.0} µs, p99 {:.0} µs, {} errors",
        figures.requests_per_second, figures.p50_us, figures.p99_us, figures.errors
    );
    Ok(figures)
}

/// `runs` fresh servers, one request each.
async fn measure_cold(
    args: &Args,
    setup: &Setup,
    key: &str,
    name: &str,
    path: &str,
    is_provided: bool,
) -> ColdRow {
    let mut row = ColdRow {
        name: name.to_owned(),
        is_provided,
        samples: Vec::new(),
        failures: Vec::new(),
    };
    for run_idx in 0..args.cold_runs {
        match cold_start(setup, key, path, run_idx).await {
            Ok(sample) => row.samples.push(sample),
            Err(error) => {
                eprintln!("  run {run_idx}: {error:#}");
                row.failures.push(format!("{error:#}"));
            }
        }
    }
    row
}

async fn cold_start(
    setup: &Setup,
    key: &str,
    path: &str,
    run_idx: usize,
) -> anyhow::Result<ColdSample> {
    let label = format!("cold-{key}-{run_idx}");
    let server = if key.ends_with("-unsandboxed") {
        start_serverful_with(
            setup,
            &setup.apps.lambda_mode,
            &label,
            &["--sandbox", "off"],
        )
        .await?
    } else {
        start_serverful(setup, app_of(setup, key), &label).await?
    };
    let sample = time_cold_request(&server, path).await;
    server.stop().await;
    sample
}

async fn time_cold_request(server: &ServerProcess, path: &str) -> anyhow::Result<ColdSample> {
    let (status, body, elapsed) = load::timed_request(server.address, path, PROBE_TIMEOUT)
        .await
        .map_err(anyhow::Error::msg)?;
    if status != 200 || body != HELLO_BODY.as_bytes() {
        bail!(
            "answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        );
    }
    let line = server
        .wait_for_line("REPORT RequestId:", REPORT_TIMEOUT)
        .await
        .context("no REPORT line on serverful's stdout")?;
    let (invoke_ms, init_ms) = report::parse_report_line(&line).context("read the REPORT line")?;
    let init_ms = init_ms.context("the REPORT line has no Init Duration")?;
    Ok(ColdSample {
        response_ms: elapsed.as_secs_f64() * 1000.0,
        init_ms,
        invoke_ms,
    })
}
