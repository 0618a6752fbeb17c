//! The store benchmark's load generator: prepares a contender (`--workload prepare`: the
//! table and the items the reads need) or loads it with one workload, and prints one JSON
//! line. The target is a DynamoDB endpoint on a loopback address (`http://127.0.0.1:PORT`)
//! or the raw SQLite ceiling (`sqlite:DIR`), or serverful's store engine in process
//! (`engine:DIR`, the same requests without HTTP).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serverful_bench::cpu;
use serverful_bench::load::parse_loopback_url;
use serverful_bench::store_load::{self, Keys, RunConfig};
use serverful_bench::store_workload::{KeySpace, Workload};

/// Load a DynamoDB endpoint (or raw SQLite) with PutItem, GetItem or Query in a closed loop
#[derive(Debug, Parser)]
#[command(name = "bench-store-load")]
struct Args {
    /// `http://127.0.0.1:PORT` (a DynamoDB endpoint; several comma-separated ones for the
    /// nodes of one cluster, clients spread over them), `sqlite:DIR` (the ceiling) or
    /// `engine:DIR` (serverful's store engine in process)
    target: String,
    /// put, get, query, or prepare (create the table and write the items reads need)
    #[arg(long)]
    workload: String,
    /// Concurrent clients, each with one operation in flight
    #[arg(short = 'c', long, default_value_t = 16)]
    clients: usize,
    /// Seconds recorded
    #[arg(short = 'd', long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of unrecorded warm-up
    #[arg(short = 'w', long, default_value_t = 2.0)]
    warmup: f64,
    /// Items `get` reads from
    #[arg(long, default_value_t = 2000)]
    get_keys: u64,
    /// Partitions of 20 items `query` reads from
    #[arg(long, default_value_t = 100)]
    partitions: u64,
    /// Seconds before an unanswered request is an error
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
    /// Worker threads for the HTTP clients (the ceiling uses one thread per client)
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Access key ID to sign with
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = "bench")]
    access_key_id: String,
    /// Secret access key to sign with
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        default_value = "bench",
        hide_env_values = true
    )]
    secret_access_key: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn seconds(value: f64, name: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|_| format!("--{name} must be a number of seconds"))
}

fn run(args: &Args) -> Result<serde_json::Value, String> {
    let key_space = KeySpace {
        get_keys: args.get_keys,
        partitions: args.partitions,
    };
    let keys = Keys {
        access_key_id: args.access_key_id.clone(),
        secret_access_key: args.secret_access_key.clone(),
    };
    let preparing = args.workload == "prepare";
    let workload = if preparing {
        Workload::Put
    } else {
        Workload::parse(&args.workload).ok_or_else(|| {
            format!(
                "unknown workload `{}` (put, get, query, prepare)",
                args.workload
            )
        })?
    };
    let config = RunConfig {
        workload,
        keys: key_space,
        clients: args.clients,
        warmup: seconds(args.warmup, "warmup")?,
        duration: seconds(args.duration, "duration")?,
        request_timeout: seconds(args.timeout, "timeout")?,
    };
    let cpu_before = cpu::process_cpu(std::process::id());
    let result = if let Some(dir) = args.target.strip_prefix("sqlite:") {
        let dir = std::path::Path::new(dir);
        if preparing {
            let n_written = store_load::prepare_ceiling(dir, key_space)?;
            return Ok(serde_json::json!({ "prepared": n_written }));
        }
        store_load::run_ceiling(dir, &config)?
    } else if let Some(dir) = args.target.strip_prefix("engine:") {
        let dir = std::path::Path::new(dir);
        if preparing {
            let n_written = store_load::prepare_engine(dir, key_space)?;
            return Ok(serde_json::json!({ "prepared": n_written }));
        }
        store_load::run_engine(dir, &config)?
    } else {
        // Several nodes of one cluster: `http://A,http://B`; clients are spread over them
        // and the preparing goes through the first.
        let addresses = args
            .target
            .split(',')
            .map(|url| parse_loopback_url(url).map(|(address, _path)| address))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| error.to_string())?;
        let address = addresses[0];
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads.max(1))
            .enable_all()
            .build()
            .map_err(|error| format!("start the async runtime: {error}"))?;
        if preparing {
            let n_written = runtime.block_on(store_load::prepare_http(
                address,
                &keys,
                key_space,
                args.clients,
            ))?;
            return Ok(serde_json::json!({ "prepared": n_written }));
        }
        runtime.block_on(store_load::run_http(&addresses, &keys, &config))?
    };
    let mut line = result.to_json();
    let cpu_used = cpu::process_cpu(std::process::id())
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before).as_secs_f64());
    line["cpu_seconds"] = serde_json::json!(cpu_used);
    Ok(line)
}
