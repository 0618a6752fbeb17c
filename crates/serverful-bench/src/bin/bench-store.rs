//! The store benchmark's driver behind `bash bench/store.sh`: for each contender (raw
//! SQLite, serverful's store engine in process, `serverful up`, moto, dynalite in memory
//! and on disk, Dynoxide) it starts a
//! fresh server on a loopback port, has `bench-store-load` create the table and write the
//! items the reads need, runs the PutItem, GetItem and Query workloads one after the other
//! through the same client, stops the server, and at the end prints one markdown report on
//! stdout. Progress goes to stderr. A contender that is not installed or fails to start
//! gets a row saying so, and the run goes on.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use serverful_bench::cpu;
use serverful_bench::report::{self, Machine};
use serverful_bench::store_postgres::ScratchPostgres;
use serverful_bench::store_report::{ContenderRow, Role, RunFigures, StoreReport, StoreSettings};
use serverful_bench::store_workload::Workload;

/// Measure serverful's DynamoDB store against raw SQLite, moto, dynalite and Dynoxide
#[derive(Debug, Parser)]
#[command(name = "bench-store")]
struct Args {
    /// Concurrent clients, each with one operation in flight
    #[arg(long, env = "BENCH_CLIENTS", default_value_t = 16)]
    clients: usize,
    /// Seconds recorded per workload and contender
    #[arg(long, env = "BENCH_DURATION", default_value_t = 10.0)]
    duration: f64,
    /// Seconds of unrecorded warm-up per workload and contender
    #[arg(long, env = "BENCH_WARMUP", default_value_t = 2.0)]
    warmup: f64,
    /// Items written first, that GetItem reads
    #[arg(long, env = "BENCH_GET_KEYS", default_value_t = 2000)]
    get_keys: u64,
    /// Partitions of 20 items written first, that Query reads
    #[arg(long, env = "BENCH_PARTITIONS", default_value_t = 100)]
    partitions: u64,
    /// Rounds: every contender runs every workload once per round, the contenders taking
    /// turns, so slow drifts in the machine's load fall on all of them; the report gives
    /// each ratio's median over the rounds
    #[arg(long, env = "BENCH_ROUNDS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Worker threads of the HTTP load generator
    #[arg(long, env = "BENCH_LOAD_THREADS", default_value_t = 1)]
    load_threads: usize,
    /// Where bench/store.sh installed moto (moto-venv/), dynalite (dynalite/) and Dynoxide
    /// (dynoxide/bin/dynoxide)
    #[arg(long, env = "BENCH_TOOLS")]
    tools: Option<PathBuf>,
    /// The serverful binary (default: the one beside this program)
    #[arg(long, env = "BENCH_SERVERFUL")]
    serverful: Option<PathBuf>,
    /// Run only these contenders: sqlite, engine, serverful, moto, dynalite,
    /// dynalite-disk, dynoxide, dynoxide-disk, serverful-pg, serverful-pg2, extenddb
    /// (comma-separated)
    #[arg(long, env = "BENCH_ONLY", value_delimiter = ',')]
    only: Vec<String>,
    /// Append the process id of every server and load generator started to this file
    /// (bench/store.sh kills them on exit, whatever happens to this program)
    #[arg(long, env = "BENCH_PID_FILE")]
    pid_file: Option<PathBuf>,
    /// Keep the scratch folder (data, server logs) and print its path
    #[arg(long, env = "BENCH_KEEP")]
    keep: bool,
}

/// How long a server gets to accept connections (moto and dynalite start interpreters).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopped server gets to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The most a preparation may take (moto writes a few hundred items a second).
const PREPARE_TIMEOUT: Duration = Duration::from_secs(300);
/// How often a child is polled while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The template of serverful's app: just the table.
const TEMPLATE: &str = "\
Transform: AWS::Serverless-2016-10-31
Resources:
  BenchTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: bench
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - AttributeName: pk
          AttributeType: S
        - AttributeName: sk
          AttributeType: S
      KeySchema:
        - AttributeName: pk
          KeyType: HASH
        - AttributeName: sk
          KeyType: RANGE
";

/// One contender.
struct Contender {
    key: &'static str,
    name: &'static str,
    role: Role,
    durability: &'static str,
}

const CONTENDERS: [Contender; 11] = [
    Contender {
        key: "sqlite",
        name: "raw SQLite (ceiling)",
        role: Role::Ceiling,
        durability: "on disk; WAL, synchronous=FULL: fsync before every acknowledgement, one writer thread group-committing, one read-only connection per client",
    },
    Contender {
        key: "engine",
        name: "serverful's store engine in process (no HTTP)",
        role: Role::Engine,
        durability: "on disk (serverful-store-sqlite, as in serverful up); the same request bodies through Store::start_call as the endpoint runs them, one thread per client",
    },
    Contender {
        key: "serverful",
        name: "serverful up",
        role: Role::Serverful,
        durability: "on disk (serverful-store-sqlite: WAL, group commit, log fsync'd before every acknowledgement)",
    },
    Contender {
        key: "moto",
        name: "moto_server",
        role: Role::Moto,
        durability: "in memory (moto has no on-disk store); HTTP/1.0, a new connection per request",
    },
    Contender {
        key: "dynalite",
        name: "dynalite (in memory)",
        role: Role::DynaliteMemory,
        durability: "in memory (LevelDB on memdown)",
    },
    Contender {
        key: "dynalite-disk",
        name: "dynalite --path (on disk)",
        role: Role::DynaliteDisk,
        durability: "on disk (LevelDB; writes not synced: a kill -9 loses nothing, a power loss may)",
    },
    Contender {
        key: "dynoxide",
        name: "Dynoxide (in memory)",
        role: Role::DynoxideMemory,
        durability: "in memory (in-memory SQLite)",
    },
    Contender {
        key: "dynoxide-disk",
        name: "Dynoxide --db-path (on disk)",
        role: Role::Dynoxide,
        durability: "on disk (SQLite file in WAL mode with SQLite's default synchronous=FULL)",
    },
    Contender {
        key: "serverful-pg",
        name: "serverful up --store postgres:// (1 node)",
        role: Role::ServerfulPg,
        durability: "PostgreSQL 15 on loopback, fsync=on, synchronous_commit=on: the WAL is on disk before every acknowledgement",
    },
    Contender {
        key: "serverful-pg2",
        name: "serverful up --store postgres:// (2 nodes)",
        role: Role::ServerfulPg2,
        durability: "the same PostgreSQL, two nodes sharing it, the clients spread over both",
    },
    Contender {
        key: "extenddb",
        name: "ExtendDB on PostgreSQL",
        role: Role::ExtendDb,
        durability: "the same PostgreSQL settings, its own database",
    },
];

/// Keys every serverful node on one PostgreSQL accepts (nodes sharing a database share keys).
const CLUSTER_KEYS: (&str, &str) = (
    "AKIABENCHSTORE000001",
    "bench-store-cluster-secret-000000000000",
);

/// Programs and folders of a run.
struct Setup {
    store_load: PathBuf,
    serverful: PathBuf,
    tools: Option<PathBuf>,
    scratch: PathBuf,
    pid_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
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

fn run(args: &Args) -> anyhow::Result<()> {
    let wanted = |key: &str| args.only.is_empty() || args.only.iter().any(|only| only == key);
    let scratch = tempfile::Builder::new()
        .prefix("serverful-bench-store-")
        .tempdir_in(
            std::env::var_os("BENCH_SCRATCH").map_or_else(std::env::temp_dir, PathBuf::from),
        )
        .context("create a scratch folder")?;
    let setup = Setup {
        store_load: sibling("bench-store-load")?,
        serverful: match &args.serverful {
            Some(path) => path.clone(),
            None => sibling("serverful")?,
        },
        tools: args.tools.clone(),
        scratch: scratch.path().to_owned(),
        pid_file: args.pid_file.clone(),
    };
    let load_before = report::load_average();
    eprintln!("load average before the run: {load_before}");
    let mut rounds = Vec::new();
    let contenders: Vec<&Contender> = CONTENDERS.iter().filter(|c| wanted(c.key)).collect();
    for round in 1..=args.rounds {
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
            let row = measure(args, &setup, contender);
            if let Some(failure) = &row.failure {
                eprintln!("  did not run: {failure}");
            }
            rows.push(row);
        }
        rounds.push(rows);
    }
    let report = StoreReport {
        machine: Machine::describe(),
        settings: StoreSettings {
            clients: args.clients,
            warmup_s: args.warmup,
            duration_s: args.duration,
            load_threads: args.load_threads,
            get_keys: args.get_keys,
            partitions: args.partitions,
        },
        load_before,
        load_after: report::load_average(),
        versions: versions(&setup),
        rounds,
    };
    println!("{}", report.to_markdown());
    if args.keep {
        let kept = scratch.keep();
        eprintln!("scratch folder kept: {}", kept.display());
    }
    Ok(())
}

/// What the emulators are, as installed.
fn versions(setup: &Setup) -> Vec<String> {
    let mut versions = Vec::new();
    let Some(tools) = &setup.tools else {
        return versions;
    };
    let python = tools.join("moto-venv/bin/python");
    if let Ok(output) = Command::new(&python)
        .args(["-c", "import moto; print(moto.__version__)"])
        .output()
    {
        let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if !version.is_empty() {
            versions.push(format!("moto {version}"));
        }
    }
    let package = tools.join("dynalite/node_modules/dynalite/package.json");
    if let Some(version) = std::fs::read_to_string(package)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| json.get("version")?.as_str().map(str::to_owned))
    {
        versions.push(format!("dynalite {version}"));
    }
    // `cargo install` records the crate's version; the binary's `--version` gives its own
    // product version, which differs.
    let installed =
        std::fs::read_to_string(tools.join("dynoxide/.crates.toml")).unwrap_or_default();
    if let Some(version) = installed
        .split("\"dynoxide-rs ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
    {
        let product = Command::new(tools.join("dynoxide/bin/dynoxide"))
            .arg("--version")
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
            .unwrap_or_default();
        versions.push(format!(
            "Dynoxide (crate dynoxide-rs {version}, `--version`: {product})"
        ));
    }
    versions
}

/// Starts the contender, prepares it, runs every workload, stops it.
fn measure(args: &Args, setup: &Setup, contender: &Contender) -> ContenderRow {
    let mut row = ContenderRow {
        name: contender.name.to_owned(),
        role: contender.role,
        durability: contender.durability.to_owned(),
        runs: Vec::new(),
        failure: None,
    };
    let data = setup.scratch.join(format!("data-{}", contender.key));
    // A fresh data folder in every round.
    let _ = std::fs::remove_dir_all(&data);
    let mut postgres = None;
    let (target, servers, keys) = if contender.key == "sqlite" {
        (format!("sqlite:{}", data.display()), Vec::new(), None)
    } else if contender.key == "engine" {
        (format!("engine:{}", data.display()), Vec::new(), None)
    } else if let Some(nodes) = match contender.key {
        "serverful-pg" => Some(1),
        "serverful-pg2" => Some(2),
        _ => None,
    } {
        match start_postgres_nodes(setup, &data, nodes) {
            Ok((pg, started)) => {
                postgres = Some(pg);
                let target = started
                    .iter()
                    .map(|node| format!("http://{}", node.address))
                    .collect::<Vec<_>>()
                    .join(",");
                let keys = started[0].keys.clone();
                (
                    target,
                    started.into_iter().map(|node| node.server).collect(),
                    keys,
                )
            }
            Err(error) => {
                row.failure = Some(format!("{error:#}"));
                return row;
            }
        }
    } else if contender.key == "extenddb" {
        row.failure = Some(EXTENDDB_MISSING.to_owned());
        return row;
    } else {
        match start_server(setup, contender.key, &data) {
            Ok(started) => (
                format!("http://{}", started.address),
                vec![started.server],
                started.keys,
            ),
            Err(error) => {
                row.failure = Some(format!("{error:#}"));
                return row;
            }
        }
    };
    let servers_cpu = || -> Option<Duration> {
        if servers.is_empty() {
            return None;
        }
        servers.iter().map(Server::cpu).sum()
    };
    let load = |workload: &str, timeout: Duration| {
        run_load(args, setup, &target, keys.as_ref(), workload, timeout)
    };
    match load("prepare", PREPARE_TIMEOUT) {
        Ok(_) => {
            let run_timeout =
                Duration::from_secs_f64(args.warmup + args.duration) + Duration::from_secs(30);
            for workload in Workload::ALL {
                eprintln!("  {}", workload.key());
                let server_cpu_before = servers_cpu();
                let database_cpu_before = postgres.as_ref().and_then(ScratchPostgres::cpu);
                let outcome = load(workload.key(), run_timeout).and_then(|line| {
                    RunFigures::from_json(&line)
                        .with_context(|| format!("read bench-store-load's answer: {line}"))
                });
                let outcome = outcome.map(|mut figures| {
                    let server_cpu_after = servers_cpu();
                    let database_cpu_after = postgres.as_ref().and_then(ScratchPostgres::cpu);
                    if let Some((before, after)) = database_cpu_before.zip(database_cpu_after) {
                        // PostgreSQL's CPU per answered request over warm-up and run.
                        let requests = figures.requests_per_second * (args.warmup + args.duration);
                        eprintln!(
                            "    PostgreSQL CPU: {:.2} s, about {:.0} µs per request",
                            after.saturating_sub(before).as_secs_f64(),
                            after.saturating_sub(before).as_secs_f64() * 1e6 / requests.max(1.0)
                        );
                    }
                    figures.server_cpu_s = server_cpu_before
                        .zip(server_cpu_after)
                        .map(|(before, after)| after.saturating_sub(before).as_secs_f64());
                    figures
                });
                if let Err(error) = &outcome {
                    eprintln!("    failed: {error:#}");
                }
                row.runs
                    .push((workload, outcome.map_err(|error| format!("{error:#}"))));
            }
        }
        Err(error) => row.failure = Some(format!("prepare: {error:#}")),
    }
    for server in servers {
        server.stop();
    }
    drop(postgres);
    row
}

/// Runs `bench-store-load` once and returns its JSON line.
fn run_load(
    args: &Args,
    setup: &Setup,
    target: &str,
    keys: Option<&(String, String)>,
    workload: &str,
    timeout: Duration,
) -> anyhow::Result<serde_json::Value> {
    let output_path = setup.scratch.join("load.out");
    let error_path = setup.scratch.join("load.err");
    let mut command = Command::new(&setup.store_load);
    command
        .arg(target)
        .args(["--workload", workload])
        .args(["--clients", &args.clients.to_string()])
        .args(["--duration", &args.duration.to_string()])
        .args(["--warmup", &args.warmup.to_string()])
        .args(["--get-keys", &args.get_keys.to_string()])
        .args(["--partitions", &args.partitions.to_string()])
        .args(["--threads", &args.load_threads.to_string()])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&output_path).context("create the load output file")?)
        .stderr(std::fs::File::create(&error_path).context("create the load error file")?);
    if let Some((access_key_id, secret_access_key)) = keys {
        command
            .env("AWS_ACCESS_KEY_ID", access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", secret_access_key);
    }
    let mut child = command.spawn().context("start bench-store-load")?;
    record_pid(setup, child.id());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().context("wait for bench-store-load")? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("bench-store-load did not finish within {timeout:?}");
        }
        std::thread::sleep(POLL_INTERVAL);
    };
    let stdout = std::fs::read_to_string(&output_path).unwrap_or_default();
    if !status.success() {
        let stderr = std::fs::read_to_string(&error_path).unwrap_or_default();
        bail!(
            "bench-store-load {workload} failed ({status}): {}",
            stderr.trim()
        );
    }
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).with_context(|| format!("read bench-store-load's line `{line}`"))
}

/// A server process, killed when dropped.
struct Server {
    label: String,
    child: Child,
}

impl Server {
    fn cpu(&self) -> Option<Duration> {
        let pid = self.child.id();
        let own = cpu::process_cpu(pid)?;
        let children: Duration = cpu::descendants_cpu(pid).values().copied().sum();
        Some(own + children)
    }

    /// SIGTERM, then SIGKILL if it has not exited within a few seconds.
    fn stop(mut self) {
        // `kill(1)` rather than libc: this crate has no unsafe code.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        eprintln!(
            "  {} did not stop within {STOP_GRACE:?}: killed",
            self.label
        );
        // Drop kills it.
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A started server: where to send requests and the keys to sign them with.
struct Started {
    server: Server,
    address: SocketAddr,
    keys: Option<(String, String)>,
}

/// A free loopback port, for servers that cannot be asked to pick one.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("find a free port")?;
    Ok(listener.local_addr().context("read the free port")?.port())
}

fn spawn(setup: &Setup, label: &str, program: &Path, args: &[String]) -> anyhow::Result<Server> {
    spawn_with_env(setup, label, program, args, &[])
}

fn spawn_with_env(
    setup: &Setup,
    label: &str,
    program: &Path,
    args: &[String],
    env: &[(&str, &str)],
) -> anyhow::Result<Server> {
    let stdout = std::fs::File::create(setup.scratch.join(format!("{label}.stdout")))
        .context("create a log file")?;
    let stderr = std::fs::File::create(setup.scratch.join(format!("{label}.stderr")))
        .context("create a log file")?;
    let child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("start {}", program.display()))?;
    record_pid(setup, child.id());
    Ok(Server {
        label: label.to_owned(),
        child,
    })
}

/// Adds a child's process id to the `--pid-file`, for bench/store.sh to kill on exit.
fn record_pid(setup: &Setup, pid: u32) {
    if let Some(pid_file) = &setup.pid_file {
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(pid_file)
        {
            let _ = writeln!(file, "{pid}");
        }
    }
}

fn tool(setup: &Setup, relative: &str) -> anyhow::Result<PathBuf> {
    let tools = setup
        .tools
        .as_ref()
        .context("no --tools folder\nhint: run it through `bash bench/store.sh`, which installs the emulators")?;
    let path = tools.join(relative);
    if !path.exists() {
        bail!("{} is not installed", path.display());
    }
    Ok(path)
}

fn start_server(setup: &Setup, key: &str, data: &Path) -> anyhow::Result<Started> {
    let data_text = data.display().to_string();
    if key == "serverful" {
        return start_serverful(setup, data);
    }
    let port = free_port()?;
    let port_text = port.to_string();
    let server = match key {
        "moto" => spawn(
            setup,
            key,
            &tool(setup, "moto-venv/bin/moto_server")?,
            &["-H".into(), "127.0.0.1".into(), "-p".into(), port_text],
        )?,
        "dynalite" | "dynalite-disk" => {
            let mut args = vec![
                tool(setup, "dynalite/node_modules/dynalite/cli.js")?
                    .display()
                    .to_string(),
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                port_text,
                "--createTableMs".into(),
                "0".into(),
            ];
            if key == "dynalite-disk" {
                std::fs::create_dir_all(data).context("create dynalite's data folder")?;
                args.extend(["--path".into(), data_text]);
            }
            spawn(setup, key, Path::new("node"), &args)?
        }
        "dynoxide" | "dynoxide-disk" => {
            let mut args = vec![
                "serve".into(),
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                port_text,
            ];
            if key == "dynoxide-disk" {
                std::fs::create_dir_all(data).context("create Dynoxide's data folder")?;
                args.extend([
                    "--db-path".into(),
                    data.join("dynoxide.db").display().to_string(),
                ]);
            }
            spawn(setup, key, &tool(setup, "dynoxide/bin/dynoxide")?, &args)?
        }
        other => bail!("unknown contender {other}"),
    };
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut server = server;
    wait_until_listening(&mut server, address)?;
    Ok(Started {
        server,
        address,
        keys: None,
    })
}

fn wait_until_listening(server: &mut Server, address: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            bail!("{} exited ({status}) before listening", server.label);
        }
        if Instant::now() >= deadline {
            bail!(
                "{} was not listening within {READY_TIMEOUT:?}",
                server.label
            );
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

fn start_serverful(setup: &Setup, data: &Path) -> anyhow::Result<Started> {
    start_serverful_as(setup, "serverful", data, &[], &[])
}

/// `serverful up` with `extra` arguments and `env`, logging to `LABEL.stdout`/`.stderr`.
fn start_serverful_as(
    setup: &Setup,
    label: &str,
    data: &Path,
    extra: &[String],
    env: &[(&str, &str)],
) -> anyhow::Result<Started> {
    let app = setup.scratch.join("app");
    std::fs::create_dir_all(&app).context("create the app folder")?;
    std::fs::write(app.join("template.yaml"), TEMPLATE).context("write template.yaml")?;
    let mut args: Vec<String> = vec![
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
    args.extend(extra.iter().cloned());
    let mut server = spawn_with_env(setup, label, &setup.serverful, &args, env)?;
    let stdout_path = setup.scratch.join(format!("{label}.stdout"));
    let deadline = Instant::now() + READY_TIMEOUT;
    let stdout = loop {
        let text = std::fs::read_to_string(&stdout_path).unwrap_or_default();
        if text.contains("Ready on ") {
            break text;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            let stderr = std::fs::read_to_string(setup.scratch.join(format!("{label}.stderr")))
                .unwrap_or_default();
            bail!(
                "serverful exited ({status}) before it was ready: {}",
                stderr.trim()
            );
        }
        if Instant::now() >= deadline {
            bail!("serverful was not ready within {READY_TIMEOUT:?}");
        }
        std::thread::sleep(POLL_INTERVAL);
    };
    let address = stdout
        .lines()
        .find_map(|line| {
            let rest = line.split("AWS endpoint http://").nth(1)?;
            rest.split(|c: char| c == '/' || c.is_whitespace())
                .next()?
                .parse::<SocketAddr>()
                .ok()
        })
        .context("serverful printed no `AWS endpoint http://ADDR` line")?;
    let value_of = |name: &str| {
        stdout.lines().find_map(|line| {
            line.trim()
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
                .map(str::to_owned)
        })
    };
    let given = |name: &str| {
        env.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    };
    let keys = given("SERVERFUL_ACCESS_KEY_ID")
        .zip(given("SERVERFUL_SECRET_ACCESS_KEY"))
        .or_else(|| value_of("AWS_ACCESS_KEY_ID").zip(value_of("AWS_SECRET_ACCESS_KEY")))
        .context("serverful printed no AWS_ACCESS_KEY_ID=/AWS_SECRET_ACCESS_KEY= lines")?;
    Ok(Started {
        server,
        address,
        keys: Some(keys),
    })
}

/// Why the ExtendDB row is empty: its repository could not be had on this machine.
const EXTENDDB_MISSING: &str = "the repository github:ExtendDB/extenddb could not be fetched on this machine (no snapshot of it is reachable from here), so it was not built";

/// A scratch PostgreSQL with a database `serverful`, and `nodes` `serverful up` nodes on
/// it sharing [`CLUSTER_KEYS`].
fn start_postgres_nodes(
    setup: &Setup,
    data: &Path,
    nodes: usize,
) -> anyhow::Result<(ScratchPostgres, Vec<Started>)> {
    let postgres = ScratchPostgres::start(&data.join("postgres"))?;
    postgres.create_database("serverful")?;
    let url = postgres.url("serverful");
    let mut started = Vec::new();
    for node in 0..nodes {
        let node_data = data.join(format!("node{node}"));
        std::fs::create_dir_all(&node_data).context("create a node's data folder")?;
        let label = format!("serverful-node{node}");
        started.push(start_serverful_as(
            setup,
            &label,
            &node_data,
            &["--store".into(), url.clone()],
            &[
                ("SERVERFUL_ACCESS_KEY_ID", CLUSTER_KEYS.0),
                ("SERVERFUL_SECRET_ACCESS_KEY", CLUSTER_KEYS.1),
            ],
        )?);
    }
    Ok((postgres, started))
}
