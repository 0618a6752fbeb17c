//! The deploy benchmark: `serverful serve` runs a two-function app (Node.js and Python)
//! under a steady closed-loop load; first the load alone, then the same load while the app
//! is redeployed N times, alternating between two versions whose answers differ, then
//! rolled back. Prints a markdown report on stdout (progress on stderr): failed requests,
//! latency during the switches against the steady state, which version answered, how long
//! each deploy took from the command to the switch, and each rollback.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use clap::Parser;
use serverful_bench::load::{self, LoadConfig, LoadResult};
use serverful_bench::report::{load_average, Machine};
use serverful_bench::server::ServerProcess;

/// Redeploy a two-function app under load and report what the load saw
#[derive(Debug, Parser)]
#[command(name = "bench-deploy")]
struct Args {
    /// Keep-alive connections per function (each with one request in flight)
    #[arg(long, short = 'c', default_value_t = 4)]
    connections: usize,
    /// Seconds of steady load (no deploys) to compare against
    #[arg(long, default_value_t = 20.0)]
    steady: f64,
    /// Seconds of unrecorded load before each phase
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Redeploys under load
    #[arg(long, default_value_t = 10)]
    deploys: usize,
    /// Rollbacks under load, after the deploys
    #[arg(long, default_value_t = 3)]
    rollbacks: usize,
    /// The serverful binary [default: beside this one]
    #[arg(long)]
    serverful: Option<PathBuf>,
}

/// The two functions, as the load reaches them.
const FUNCTIONS: [(&str, &str); 2] = [("node", "/node"), ("python", "/python")];

fn main() -> ExitCode {
    serverful_bench::report::print_report(run(Args::parse()))
}

/// The answer of `function` in app version `version`.
fn body(function: &str, version: &str) -> String {
    format!(r#"{{"function":"{function}","version":"{version}"}}"#)
}

/// Writes the app at `dir`, answering with version `version`.
fn write_app(dir: &Path, version: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("node"))?;
    std::fs::create_dir_all(dir.join("python"))?;
    std::fs::write(
        dir.join("template.yaml"),
        "Transform: AWS::Serverless-2016-10-31\n\
         Resources:\n\
        \x20 NodeFunction:\n\
        \x20   Type: AWS::Serverless::Function\n\
        \x20   Properties:\n\
        \x20     Runtime: nodejs20.x\n\
        \x20     CodeUri: node/\n\
        \x20     Handler: index.handler\n\
        \x20     Events:\n\
        \x20       Get:\n\
        \x20         Type: HttpApi\n\
        \x20         Properties: {Path: /node, Method: GET}\n\
        \x20 PythonFunction:\n\
        \x20   Type: AWS::Serverless::Function\n\
        \x20   Properties:\n\
        \x20     Runtime: python3.12\n\
        \x20     CodeUri: python/\n\
        \x20     Handler: app.handler\n\
        \x20     Events:\n\
        \x20       Get:\n\
        \x20         Type: HttpApi\n\
        \x20         Properties: {Path: /python, Method: GET}\n",
    )?;
    std::fs::write(
        dir.join("node/index.js"),
        format!(
            "exports.handler = async () => ({{ statusCode: 200, headers: {{'content-type': 'application/json'}}, body: '{}' }});\n",
            body("node", version)
        ),
    )?;
    std::fs::write(
        dir.join("python/app.py"),
        format!(
            "def handler(event, context):\n    return {{'statusCode': 200, 'headers': {{'content-type': 'application/json'}}, 'body': '{}'}}\n",
            body("python", version)
        ),
    )?;
    Ok(())
}

/// Runs `serverful ARGS` and returns its stdout and how long it took; a failure is an
/// error with its output.
async fn serverful(program: &Path, args: &[&str]) -> anyhow::Result<(String, Duration)> {
    let started = Instant::now();
    let output = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .with_context(|| format!("run {}", program.display()))?;
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "serverful {} failed ({}): {stdout}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok((stdout, took))
}

/// The loads of both functions, started together; `stop` ends them early.
fn start_loads(
    address: std::net::SocketAddr,
    host: &str,
    connections: usize,
    warmup: Duration,
    duration: Duration,
    stop: Option<Arc<AtomicBool>>,
) -> Vec<tokio::task::JoinHandle<Result<LoadResult, load::ConfigError>>> {
    FUNCTIONS
        .iter()
        .map(|(function, path)| {
            let config = LoadConfig {
                address,
                path: (*path).to_owned(),
                connections,
                warmup,
                duration,
                request_timeout: Duration::from_secs(10),
                expect_body: None,
                host: Some(host.to_owned()),
                accept_bodies: vec![
                    Bytes::from(body(function, "A")),
                    Bytes::from(body(function, "B")),
                ],
                stop: stop.clone(),
            };
            tokio::spawn(load::run(config))
        })
        .collect()
}

async fn finish_loads(
    loads: Vec<tokio::task::JoinHandle<Result<LoadResult, load::ConfigError>>>,
) -> anyhow::Result<Vec<LoadResult>> {
    let mut results = Vec::new();
    for load in loads {
        results.push(load.await.context("the load task")??);
    }
    Ok(results)
}

async fn run(args: Args) -> anyhow::Result<String> {
    let program = match &args.serverful {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("find this program")?
            .with_file_name("serverful"),
    };
    let scratch = tempfile::tempdir().context("make a scratch folder")?;
    let root = scratch.path();
    let (app_a, app_b) = (root.join("app-a"), root.join("app-b"));
    write_app(&app_a, "A")?;
    write_app(&app_b, "B")?;
    let data = root.join("data");
    let data_arg = data.display().to_string();

    eprintln!("starting serverful serve");
    let server = ServerProcess::start(
        &program,
        &[
            "serve",
            "--data",
            &data_arg,
            "--port",
            "0",
            "--aws-port",
            "0",
            "--admin-port",
            "0",
        ],
        root,
        "serve",
        Duration::from_secs(30),
    )
    .await?;
    let admin = server
        .stdout()
        .lines()
        .find_map(|line| {
            line.strip_prefix("Admin API ")
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
        })
        .context("serve printed no Admin API line")?;
    let token = std::fs::read_to_string(data.join("admin-token"))
        .context("read the admin token")?
        .trim()
        .to_owned();
    let remote = ["--stack", "bench", "--endpoint", &admin, "--token", &token];
    let deploy = |dir: &Path| {
        let mut all = vec!["deploy".to_owned(), dir.display().to_string()];
        all.extend(remote.iter().map(|arg| (*arg).to_owned()));
        all
    };

    eprintln!("deploying version A");
    let first = deploy(&app_a);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let (stdout, first_deploy) = serverful(&program, &first).await?;
    let host = stdout
        .lines()
        .find_map(|line| {
            let url = line.split("http://").nth(1)?;
            let host = url.split(':').next()?;
            host.contains(".execute-api.").then(|| host.to_owned())
        })
        .with_context(|| format!("the deploy printed no API URL: {stdout}"))?;

    let warmup = Duration::from_secs_f64(args.warmup);
    eprintln!("steady load for {} s", args.steady);
    let steady = finish_loads(start_loads(
        server.address,
        &host,
        args.connections,
        warmup,
        Duration::from_secs_f64(args.steady),
        None,
    ))
    .await?;

    eprintln!(
        "the same load with {} deploys and {} rollbacks",
        args.deploys, args.rollbacks
    );
    let stop = Arc::new(AtomicBool::new(false));
    let loads = start_loads(
        server.address,
        &host,
        args.connections,
        warmup,
        Duration::from_secs(3600),
        Some(stop.clone()),
    );
    tokio::time::sleep(warmup).await;
    let mut deploy_times = Vec::new();
    let mut failures = Vec::new();
    for n in 0..args.deploys {
        let dir = if n % 2 == 0 { &app_b } else { &app_a };
        let command = deploy(dir);
        let command: Vec<&str> = command.iter().map(String::as_str).collect();
        match serverful(&program, &command).await {
            Ok((_, took)) => {
                eprintln!("  deploy {}: {} ms", n + 1, took.as_millis());
                deploy_times.push(took);
            }
            Err(error) => failures.push(format!("deploy {}: {error:#}", n + 1)),
        }
    }
    let mut rollback_times = Vec::new();
    for n in 0..args.rollbacks {
        let mut command = vec!["rollback"];
        command.extend(remote);
        match serverful(&program, &command).await {
            Ok((_, took)) => {
                eprintln!("  rollback {}: {} ms", n + 1, took.as_millis());
                rollback_times.push(took);
            }
            Err(error) => failures.push(format!("rollback {}: {error:#}", n + 1)),
        }
    }
    // A last stretch after the last switch, so that its answers are counted too.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let switching = finish_loads(loads).await?;
    server.stop().await;

    Ok(report(
        &args,
        &steady,
        &switching,
        first_deploy,
        &deploy_times,
        &rollback_times,
        &failures,
    ))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// min / median / max of `times`, in ms.
fn spread(times: &[Duration]) -> String {
    if times.is_empty() {
        return "none".to_owned();
    }
    let mut sorted: Vec<f64> = times.iter().copied().map(ms).collect();
    sorted.sort_by(f64::total_cmp);
    format!(
        "{:.0} / {:.0} / {:.0}",
        sorted[0],
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    )
}

fn report(
    args: &Args,
    steady: &[LoadResult],
    switching: &[LoadResult],
    first_deploy: Duration,
    deploy_times: &[Duration],
    rollback_times: &[Duration],
    failures: &[String],
) -> String {
    let machine = Machine::describe();
    let mut out = String::new();
    out.push_str(&format!(
        "Machine: {} cores, {}, {}, {}; load average at the end {}\n\n",
        machine.cores,
        machine.cpu_model,
        machine.memory,
        machine.kernel,
        load_average()
    ));
    out.push_str(&format!(
        "Load: {} closed-loop keep-alive connections per function (Node.js and Python), {} s warm-up; steady for {} s, then {} deploys alternating two versions and {} rollbacks.\n\n",
        args.connections, args.warmup, args.steady, args.deploys, args.rollbacks
    ));
    out.push_str("| phase | function | requests | req/s | failed | p50 ms | p99 ms | max ms | answers A / B | most switches on one connection |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |\n");
    for (phase, results) in [("steady", steady), ("deploys", switching)] {
        for ((function, _), result) in FUNCTIONS.iter().zip(results) {
            out.push_str(&format!(
                "| {phase} | {function} | {} | {:.0} | {} | {:.2} | {:.2} | {:.2} | {} / {} | {} |\n",
                result.successes(),
                result.requests_per_second(),
                result.error_count() + result.warmup_errors,
                result.quantile_us(0.50) / 1000.0,
                result.quantile_us(0.99) / 1000.0,
                result.latencies_ns.max() as f64 / 1_000_000.0,
                result.body_counts.first().copied().unwrap_or(0),
                result.body_counts.get(1).copied().unwrap_or(0),
                result.most_switches,
            ));
        }
    }
    out.push('\n');
    for ((function, _), (steady, switching)) in FUNCTIONS.iter().zip(steady.iter().zip(switching)) {
        let ratio = switching.quantile_us(0.99) / steady.quantile_us(0.99).max(f64::MIN_POSITIVE);
        out.push_str(&format!(
            "- {function}: p99 during deploys / steady p99 = **{ratio:.2}×** (target ≤ 2×)\n"
        ));
        if let Some(error) = switching
            .first_error
            .as_ref()
            .or(steady.first_error.as_ref())
        {
            out.push_str(&format!("  - first failure: {error}\n"));
        }
    }
    let failed: u64 = steady
        .iter()
        .chain(switching)
        .map(|result| result.error_count() + result.warmup_errors)
        .sum();
    out.push_str(&format!(
        "- failed requests in all: **{failed}** (target 0)\n\
         - first deploy (build from scratch): {:.0} ms\n\
         - deploy to switched, unchanged dependencies (command start to exit, min / median / max): **{}** ms\n\
         - rollback (command start to exit, min / median / max): **{}** ms (target < 200 ms)\n",
        ms(first_deploy),
        spread(deploy_times),
        spread(rollback_times),
    ));
    for failure in failures {
        out.push_str(&format!("- FAILED: {failure}\n"));
    }
    out
}
