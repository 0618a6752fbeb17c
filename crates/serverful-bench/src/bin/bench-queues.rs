//! The queue benchmark's driver behind `bash bench/queues.sh`: for each contender
//! (`serverful up`, moto, fakecloud in memory and on disk, sqslite) it starts a fresh
//! server on a loopback port, finds the SQS protocol it speaks, runs the send and the
//! receive+delete workloads through the same signed client, checks the queues, and stops
//! it; then, for serverful alone, times send → SQS-triggered function start with a Node.js
//! function that reports to a loopback listener here. Prints one markdown report on
//! stdout; progress goes to stderr. A contender that is not installed or fails to start
//! gets a row saying so, and the run goes on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serverful_bench::contender::{free_port, Launcher, Started};
use serverful_bench::cpu;
use serverful_bench::queue_client::{Keys, Protocol, SqsClient};
use serverful_bench::queue_load::{self, QueueRun, RunConfig, Target};
use serverful_bench::queue_report::{ContenderRow, QueueReport, QueueSettings, Trigger, Workload};
use serverful_bench::report::{self, Machine};

/// Measure serverful's SQS against moto, fakecloud and sqslite, and send → function start
#[derive(Debug, Parser)]
#[command(name = "bench-queues")]
struct Args {
    /// Concurrent clients, each with one call in flight
    #[arg(long, env = "BENCH_CLIENTS", default_value_t = 16)]
    clients: usize,
    /// Seconds recorded per workload and contender
    #[arg(long, env = "BENCH_DURATION", default_value_t = 10.0)]
    duration: f64,
    /// Seconds of unrecorded warm-up per workload and contender
    #[arg(long, env = "BENCH_WARMUP", default_value_t = 2.0)]
    warmup: f64,
    /// Seconds spent filling the queue before receive+delete [default: warm-up + duration]
    #[arg(long, env = "BENCH_PREFILL_SECONDS")]
    prefill_seconds: Option<f64>,
    /// The most messages put in the queue before receive+delete
    #[arg(long, env = "BENCH_MAX_PREFILL", default_value_t = 2_000_000)]
    max_prefill: u64,
    /// Rounds: every contender runs both workloads once per round, the contenders taking
    /// turns, so slow drifts in the machine's load fall on all of them; the report gives
    /// each ratio's median over the rounds
    #[arg(long, env = "BENCH_ROUNDS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Sends, one at a time, whose SQS-triggered function start is timed (serverful)
    #[arg(long, env = "BENCH_TRIGGERS", default_value_t = 300)]
    triggers: usize,
    /// Seconds a call may take before it counts as a timeout (moto's receive+delete takes
    /// seconds under load; the SDKs wait 60)
    #[arg(long, env = "BENCH_REQUEST_TIMEOUT", default_value_t = 30.0)]
    request_timeout: f64,
    /// The SQS protocol to speak: `json`, `query`, or `auto` (JSON, and the query
    /// protocol for a server that does not answer JSON as SQS does)
    #[arg(long, env = "BENCH_PROTOCOL", default_value = "auto", value_parser = ["auto", "json", "query"])]
    protocol: String,
    /// Worker threads of the load generator (this program)
    #[arg(long, env = "BENCH_LOAD_THREADS", default_value_t = 1)]
    load_threads: usize,
    /// Where bench/queues.sh installed moto (moto-venv/), fakecloud (fakecloud/bin/) and
    /// sqslite (sqslite/)
    #[arg(long, env = "BENCH_TOOLS")]
    tools: Option<PathBuf>,
    /// The serverful binary (default: the one beside this program)
    #[arg(long, env = "BENCH_SERVERFUL")]
    serverful: Option<PathBuf>,
    /// Run only these parts: serverful, moto, fakecloud, fakecloud-disk, sqslite, trigger
    /// (comma-separated)
    #[arg(long, env = "BENCH_ONLY", value_delimiter = ',')]
    only: Vec<String>,
    /// Append the process id of every server started to this file (bench/queues.sh kills
    /// them on exit, whatever happens to this program)
    #[arg(long, env = "BENCH_PID_FILE")]
    pid_file: Option<PathBuf>,
    /// Keep the scratch folder (data, server logs) and print its path
    #[arg(long, env = "BENCH_KEEP")]
    keep: bool,
}

/// How long a server gets to accept connections (moto and sqslite start interpreters;
/// serverful installs the trigger function's dependencies on its first start).
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a trigger's function may take to start (the first one starts the instance).
const TRIGGER_TIMEOUT: Duration = Duration::from_secs(60);
/// Unrecorded triggers before the timed ones.
const TRIGGER_WARMUP: usize = 5;

/// The queues of the throughput workloads.
const SEND_QUEUE: &str = "bench-send";
const RECEIVE_QUEUE: &str = "bench-receive";
/// The queue whose messages start the trigger app's function.
const TRIGGER_QUEUE: &str = "bench-trigger";

/// serverful's throughput app: only the queues (the driver also creates them, as it does
/// on every contender; CreateQueue finds an existing queue of the same attributes).
const QUEUES_TEMPLATE: &str = "\
Transform: AWS::Serverless-2016-10-31
Resources:
  SendQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: bench-send
  ReceiveQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: bench-receive
";

/// The trigger app: a queue and a Node.js function that its SAM `SQS` event runs with one
/// message a batch.
const TRIGGER_TEMPLATE: &str = "\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Callback: {Type: String}
Resources:
  Triggers:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: bench-trigger
  Started:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      CodeUri: src/
      Handler: index.handler
      MemorySize: 256
      Environment:
        Variables:
          CALLBACK: !Ref Callback
      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt Triggers.Arn
            BatchSize: 1
";

/// Reports each record's body (the trigger's id) to the driver's listener, then answers.
const TRIGGER_HANDLER: &str = "const http = require('node:http');
const agent = new http.Agent({ keepAlive: true });
const report = (body) => new Promise((resolve, reject) => {
  const request = http.request(process.env.CALLBACK, { method: 'POST', agent }, (response) => {
    response.resume();
    response.on('end', resolve);
  });
  request.on('error', reject);
  request.end(body);
});
exports.handler = async (event) => {
  for (const record of event.Records) await report(record.body);
  return {};
};
";

/// One contender.
struct Contender {
    key: &'static str,
    name: &'static str,
    durability: &'static str,
}

const CONTENDERS: [Contender; 5] = [
    Contender {
        key: "serverful",
        name: "serverful up",
        durability: "on disk (DATA/queues.sqlite, SQLite in WAL mode: a send or a delete is answered once it is on disk)",
    },
    Contender {
        key: "moto",
        name: "moto_server",
        durability: "in memory (moto has no on-disk store); HTTP/1.0, a new connection per call",
    },
    Contender {
        key: "fakecloud",
        name: "fakecloud (in memory)",
        durability: "in memory (`--storage-mode memory`, its default)",
    },
    Contender {
        key: "fakecloud-disk",
        name: "fakecloud --storage-mode persistent",
        durability: "on disk (`--storage-mode persistent --data-path`): after every change the whole SQS state is serialized to JSON and written to a fsync'd temporary file renamed over the last",
    },
    Contender {
        key: "sqslite",
        name: "sqslite (npm)",
        durability: "in memory; query protocol only; logs every request (its default)",
    },
];

/// Programs and folders of a run.
type Setup = Launcher;

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

async fn run(args: &Args) -> anyhow::Result<String> {
    let wanted = |key: &str| args.only.is_empty() || args.only.iter().any(|only| only == key);
    for only in &args.only {
        if only != "trigger" && !CONTENDERS.iter().any(|contender| contender.key == only) {
            bail!(
                "unknown part `{only}` in --only\nhint: choose among serverful, moto, fakecloud, fakecloud-disk, sqslite, trigger"
            );
        }
    }
    let scratch = tempfile::Builder::new()
        .prefix("serverful-bench-queues-")
        .tempdir_in(
            std::env::var_os("BENCH_SCRATCH").map_or_else(std::env::temp_dir, PathBuf::from),
        )
        .context("create a scratch folder")?;
    let setup = Setup {
        serverful: match &args.serverful {
            Some(path) => path.clone(),
            None => sibling("serverful")?,
        },
        tools: args.tools.clone(),
        scratch: scratch.path().to_owned(),
        pid_file: args.pid_file.clone(),
        ready_timeout: READY_TIMEOUT,
    };
    let load_before = report::load_average();
    eprintln!("load average before the run: {load_before}");
    let contenders: Vec<&Contender> = CONTENDERS.iter().filter(|c| wanted(c.key)).collect();
    let mut rounds = Vec::new();
    for round in 1..=args.rounds {
        if contenders.is_empty() {
            break;
        }
        let mut rows = Vec::new();
        // Every other round runs the contenders in reverse order: on this kind of machine
        // a run tends to do better right after another one, and alternating spreads that
        // evenly over the contenders.
        let mut order = contenders.clone();
        if round % 2 == 0 {
            order.reverse();
        }
        for contender in order {
            if args.rounds > 1 {
                eprintln!("round {round}/{}: {}", args.rounds, contender.name);
            } else {
                eprintln!("{}", contender.name);
            }
            let row = measure(args, &setup, contender).await;
            if let Some(failure) = &row.failure {
                eprintln!("  did not run: {failure}");
            }
            rows.push(row);
        }
        // The same order in every round's rows, for the report.
        rows.sort_by_key(|row| {
            CONTENDERS
                .iter()
                .position(|contender| contender.key == row.key)
        });
        rounds.push(rows);
    }
    let trigger = if wanted("trigger") && args.triggers > 0 {
        eprintln!(
            "send → SQS-triggered function start, {} sends",
            args.triggers
        );
        match measure_trigger(args, &setup).await {
            Ok(times) => Trigger::Measured(times),
            Err(error) => {
                eprintln!("  failed: {error:#}");
                Trigger::Failed(format!("{error:#}"))
            }
        }
    } else {
        Trigger::NotRun
    };
    let report = QueueReport {
        machine: Machine::describe(),
        settings: QueueSettings {
            clients: args.clients,
            warmup_s: args.warmup,
            duration_s: args.duration,
            prefill_s: prefill_seconds(args),
            max_prefill: args.max_prefill,
            load_threads: args.load_threads,
            request_timeout_s: args.request_timeout,
        },
        load_before,
        load_after: report::load_average(),
        versions: versions(&setup),
        rounds,
        trigger,
    };
    if args.keep {
        let kept = scratch.keep();
        eprintln!("scratch folder kept: {}", kept.display());
    }
    Ok(report.to_markdown())
}

fn prefill_seconds(args: &Args) -> f64 {
    args.prefill_seconds.unwrap_or(args.warmup + args.duration)
}

/// What the emulators are, as installed.
fn versions(setup: &Setup) -> Vec<String> {
    let mut versions = Vec::new();
    let Some(tools) = &setup.tools else {
        return versions;
    };
    if let Ok(output) = std::process::Command::new(tools.join("moto-venv/bin/python"))
        .args(["-c", "import moto; print(moto.__version__)"])
        .output()
    {
        let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if !version.is_empty() {
            versions.push(format!("moto {version}"));
        }
    }
    if let Ok(output) = std::process::Command::new(tools.join("fakecloud/bin/fakecloud"))
        .arg("--version")
        .output()
    {
        let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if !version.is_empty() {
            versions.push(version);
        }
    }
    let package = tools.join("sqslite/node_modules/sqslite/package.json");
    if let Some(version) = std::fs::read_to_string(package)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| json.get("version")?.as_str().map(str::to_owned))
    {
        versions.push(format!("sqslite {version}"));
    }
    versions
}

/// Starts the contender, runs both workloads, stops it.
async fn measure(args: &Args, setup: &Setup, contender: &Contender) -> ContenderRow {
    let mut row = ContenderRow {
        key: contender.key.to_owned(),
        name: contender.name.to_owned(),
        durability: contender.durability.to_owned(),
        protocol: None,
        runs: Vec::new(),
        failure: None,
    };
    let data = setup.scratch.join(format!("data-{}", contender.key));
    // A fresh data folder in every round.
    let _ = std::fs::remove_dir_all(&data);
    let started = match start_server(setup, contender.key, &data).await {
        Ok(started) => started,
        Err(error) => {
            row.failure = Some(format!("{error:#}"));
            return row;
        }
    };
    let outcome = run_workloads(args, &started, &mut row).await;
    if let Err(error) = outcome {
        row.failure = Some(error);
    }
    started.server.stop().await;
    row
}

async fn run_workloads(
    args: &Args,
    started: &Started,
    row: &mut ContenderRow,
) -> Result<(), String> {
    let only = match args.protocol.as_str() {
        "json" => Some(Protocol::Json),
        "query" => Some(Protocol::Query),
        _ => None,
    };
    let (mut client, send_url) = SqsClient::detect(
        started.address,
        &started.host,
        &started.keys,
        SEND_QUEUE,
        only,
    )
    .await?;
    row.protocol = Some(client.protocol().name());
    eprintln!("  {} protocol", client.protocol().name());
    let receive_url = client
        .create_queue(RECEIVE_QUEUE)
        .await
        .map_err(|failure| failure.message)?;
    let config = RunConfig {
        clients: args.clients,
        warmup: Duration::from_secs_f64(args.warmup),
        duration: Duration::from_secs_f64(args.duration),
        request_timeout: Duration::from_secs_f64(args.request_timeout),
    };
    let protocol = client.protocol();
    let target = |queue_url: String| Target {
        address: started.address,
        host: started.host.clone(),
        keys: started.keys.clone(),
        protocol,
        queue_url,
    };

    eprintln!("  send");
    let send_target = target(send_url);
    let before = Usage::now(&started.server);
    let outcome = queue_load::run_send(&send_target, config).await;
    row.runs.push((
        Workload::Send,
        outcome.map(|run| before.charge(run, &started.server)),
    ));
    log_run(&row.runs);

    let receive_target = target(receive_url);
    let prefill = Duration::from_secs_f64(prefill_seconds(args));
    eprintln!("  filling the queue (up to {} s)", prefill.as_secs_f64());
    let outcome = match queue_load::prefill(
        &receive_target,
        args.clients,
        prefill,
        args.max_prefill,
        config.request_timeout,
    )
    .await
    {
        Ok((depth, took)) => {
            eprintln!(
                "  {depth} messages in {:.1} s; receive+delete",
                took.as_secs_f64()
            );
            let before = Usage::now(&started.server);
            queue_load::run_receive_delete(&receive_target, config, depth)
                .await
                .map(|run| before.charge(run, &started.server))
        }
        Err(error) => Err(error),
    };
    row.runs.push((Workload::ReceiveDelete, outcome));
    log_run(&row.runs);
    Ok(())
}

fn log_run(runs: &[(Workload, Result<QueueRun, String>)]) {
    if let Some((_, outcome)) = runs.last() {
        match outcome {
            Ok(run) => eprintln!(
                "    {:.0} messages/s, p50 {:.0} µs, p99 {:.0} µs, {} errors, check {:?}",
                run.messages_per_second, run.p50_us, run.p99_us, run.errors, run.check
            ),
            Err(error) => eprintln!("    failed: {error}"),
        }
    }
}

/// CPU time of the server and of this process at the start of a run.
struct Usage {
    server: Option<Duration>,
    client: Option<Duration>,
}

impl Usage {
    fn now(server: &Server) -> Usage {
        Usage {
            server: server.cpu(),
            client: cpu::process_cpu(std::process::id()),
        }
    }

    /// Puts the CPU time used since `self` into the run's figures.
    fn charge(self, mut run: QueueRun, server: &Server) -> QueueRun {
        let after = Usage::now(server);
        let spent = |before: Option<Duration>, after: Option<Duration>| {
            before
                .zip(after)
                .map(|(before, after)| after.saturating_sub(before).as_secs_f64())
        };
        run.server_cpu_s = spent(self.server, after.server);
        run.client_cpu_s = spent(self.client, after.client);
        run
    }
}

/// A contender's server process.
type Server = serverful_bench::server::Spawned;

async fn start_server(setup: &Setup, key: &str, data: &Path) -> anyhow::Result<Started> {
    if key == "serverful" {
        let app = setup.scratch.join("app-queues");
        std::fs::create_dir_all(&app).context("create the app folder")?;
        std::fs::write(app.join("template.yaml"), QUEUES_TEMPLATE)
            .context("write template.yaml")?;
        return setup.start_serverful("serverful", &app, data, &[]).await;
    }
    let port = free_port()?;
    let port_text = port.to_string();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut server = match key {
        "moto" => setup.spawn(
            key,
            &setup.tool("moto-venv/bin/moto_server")?,
            &["-H".into(), "127.0.0.1".into(), "-p".into(), port_text],
        )?,
        "fakecloud" | "fakecloud-disk" => {
            let mut args = vec!["--addr".into(), address.to_string()];
            if key == "fakecloud-disk" {
                std::fs::create_dir_all(data).context("create fakecloud's data folder")?;
                args.extend([
                    "--storage-mode".into(),
                    "persistent".into(),
                    "--data-path".into(),
                    data.display().to_string(),
                ]);
            }
            setup.spawn(key, &setup.tool("fakecloud/bin/fakecloud")?, &args)?
        }
        "sqslite" => setup.spawn(
            key,
            Path::new("node"),
            &[
                setup
                    .tool("sqslite/node_modules/sqslite/bin/cli.js")?
                    .display()
                    .to_string(),
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                port_text,
            ],
        )?,
        other => bail!("unknown contender {other}"),
    };
    setup.wait_until_listening(&mut server, address).await?;
    // sqslite only recognizes queue URLs on `localhost`, and builds them from the `Host`
    // header: its clients use `http://localhost:PORT`.
    let host = if key == "sqslite" {
        format!("localhost:{port}")
    } else {
        address.to_string()
    };
    Ok(Started {
        server,
        address,
        host,
        keys: Keys::any(),
    })
}

/// When each trigger's function reported its start, by id, and a wake-up for the sender
/// waiting for it (rather than a busy loop that would take a core from the server).
#[derive(Default)]
struct Starts {
    at: Mutex<HashMap<u64, Instant>>,
    arrived: tokio::sync::Notify,
}

type Arrivals = Arc<Starts>;

/// The loopback listener the trigger function reports to.
async fn listen(arrivals: Arrivals) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let arrivals = arrivals.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let arrivals = arrivals.clone();
                        async move {
                            let at = Instant::now();
                            let body = request.into_body().collect().await?.to_bytes();
                            if let Ok(id) = String::from_utf8_lossy(&body).trim().parse() {
                                arrivals
                                    .at
                                    .lock()
                                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                                    .entry(id)
                                    .or_insert(at);
                                arrivals.arrived.notify_waiters();
                            }
                            Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::new())))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(address)
}

/// Starts serverful on the trigger app and times each send to its function's start.
async fn measure_trigger(args: &Args, setup: &Setup) -> anyhow::Result<Vec<f64>> {
    let app = setup.scratch.join("app-trigger");
    std::fs::create_dir_all(app.join("src")).context("create the trigger app")?;
    std::fs::write(app.join("template.yaml"), TRIGGER_TEMPLATE).context("write template.yaml")?;
    std::fs::write(app.join("src/index.js"), TRIGGER_HANDLER).context("write index.js")?;
    let data = setup.scratch.join("data-trigger");
    let _ = std::fs::remove_dir_all(&data);
    let arrivals: Arrivals = Arc::default();
    let callback = listen(arrivals.clone()).await?;
    let started = setup
        .start_serverful(
            "serverful-trigger",
            &app,
            &data,
            &[
                // The function reports to this program's loopback listener.
                "--sandbox".into(),
                "off".into(),
                "--parameter-overrides".into(),
                format!("Callback=http://{callback}/"),
            ],
        )
        .await?;
    let outcome = time_triggers(args, &started, &arrivals).await;
    started.server.stop().await;
    outcome
}

async fn time_triggers(
    args: &Args,
    started: &Started,
    arrivals: &Arrivals,
) -> anyhow::Result<Vec<f64>> {
    let mut client = SqsClient::new(
        started.address,
        &started.host,
        &started.keys,
        Protocol::Json,
    )
    .map_err(anyhow::Error::msg)?;
    let queue_url = client
        .queue_url(TRIGGER_QUEUE)
        .await
        .map_err(|failure| anyhow::anyhow!("find the app's queue: {}", failure.message))?;
    let mut times = Vec::with_capacity(args.triggers);
    for id in 0..(TRIGGER_WARMUP + args.triggers) as u64 {
        let sent = Instant::now();
        client
            .send(&queue_url, &id.to_string())
            .await
            .map_err(|failure| anyhow::anyhow!("send trigger {id}: {}", failure.message))?;
        let deadline = sent + TRIGGER_TIMEOUT;
        let at = loop {
            // Created before the look-up, so that an arrival in between still wakes it.
            let notified = arrivals.arrived.notified();
            let arrived = arrivals
                .at
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .get(&id)
                .copied();
            if let Some(at) = arrived {
                break at;
            }
            let now = Instant::now();
            if now > deadline {
                let log = started.server.stdout();
                let lines: Vec<&str> = log.lines().collect();
                bail!(
                    "trigger {id} started no function within {TRIGGER_TIMEOUT:?}; serverful's last lines: {}",
                    lines[lines.len().saturating_sub(5)..].join(" | ")
                );
            }
            let _ = tokio::time::timeout(deadline - now, notified).await;
        };
        if id as usize >= TRIGGER_WARMUP {
            times.push((at - sent).as_secs_f64() * 1000.0);
        }
    }
    Ok(times)
}
