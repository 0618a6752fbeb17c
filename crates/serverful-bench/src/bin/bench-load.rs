//! The load generator's command line: `bench-load URL` keeps N keep-alive connections busy
//! against a loopback URL for a fixed time and prints one JSON line of results (requests/s,
//! p50/p90/p99 latency in µs, errors by kind, its own CPU time) on stdout.

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use serverful_bench::load;

/// Load one loopback URL with keep-alive connections and report throughput and latency
#[derive(Debug, Parser)]
#[command(name = "bench-load")]
struct Args {
    /// The URL to request, such as http://127.0.0.1:3000/rust (loopback only)
    url: String,
    /// Concurrent keep-alive connections, each with one request in flight
    #[arg(long, short = 'c', default_value_t = 32)]
    connections: usize,
    /// Seconds of recorded load
    #[arg(long, short = 'd', default_value_t = 10.0)]
    duration: f64,
    /// Seconds of unrecorded load first
    #[arg(long, short = 'w', default_value_t = 2.0)]
    warmup: f64,
    /// Seconds after which an unanswered request counts as an error
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
    /// Count a response whose body is not exactly this as an error
    #[arg(long)]
    expect_body: Option<String>,
    /// Worker threads of the generator (it shares the machine with the server under test)
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn seconds(value: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("{what} must be a number of seconds ≥ 0"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let (address, path) = load::parse_loopback_url(&args.url).map_err(|error| error.to_string())?;
    let config = load::LoadConfig {
        address,
        path,
        connections: args.connections,
        warmup: seconds(args.warmup, "--warmup")?,
        duration: seconds(args.duration, "--duration")?,
        request_timeout: seconds(args.timeout, "--timeout")?,
        expect_body: args.expect_body.map(Bytes::from),
        host: None,
        accept_bodies: Vec::new(),
        stop: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .map_err(|error| format!("failed to start the async runtime: {error}"))?;
    let result = runtime
        .block_on(load::run(config))
        .map_err(|error| error.to_string())?;
    let mut json = result.to_json();
    // Its own CPU time says whether the generator, not the server, was the bottleneck.
    if let Some(cpu) = serverful_bench::cpu::process_cpu(std::process::id()) {
        json["cpu_seconds"] = cpu.as_secs_f64().into();
    }
    println!("{json}");
    Ok(())
}
