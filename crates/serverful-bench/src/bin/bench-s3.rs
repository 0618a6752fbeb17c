//! The S3 benchmark's driver behind `bash bench/s3.sh`: for each contender (`serverful
//! up`, moto, fakecloud in memory and on disk, s3rver, s3s-fs) it starts a fresh server on
//! a loopback port, runs PUT and GET of 4 KB and 1 MB objects in a closed loop and one
//! large multipart upload (with the server's resident memory sampled throughout), all
//! through the same signed client, and stops it; the disk's own durable write speed for
//! the same bytes is measured beside them as the ceiling. Prints one markdown report on
//! stdout; progress goes to stderr. A contender that is not installed or fails to start
//! gets a row saying so, and the run goes on.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Parser;
use serverful_bench::contender::{free_port, Launcher, Started};
use serverful_bench::queue_client::Keys;
use serverful_bench::report::{self, Machine};
use serverful_bench::s3_client::Payload;
use serverful_bench::s3_load::{self, MultipartRun, RunConfig, S3Run, Target};
use serverful_bench::s3_report::{ContenderRow, Multipart, S3Report, Settings, Workload};
use serverful_bench::{cpu, memory};

/// Measure serverful's S3 against moto, fakecloud, s3rver and s3s-fs, and the disk
#[derive(Debug, Parser)]
#[command(name = "bench-s3")]
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
    /// Objects written before each GET run, read round-robin
    #[arg(long, env = "BENCH_GET_OBJECTS", default_value_t = 200)]
    get_objects: usize,
    /// Size of the multipart upload, in MiB
    #[arg(long, env = "BENCH_MULTIPART_MIB", default_value_t = 1024)]
    multipart_mib: u64,
    /// Size of each of its parts, in MiB
    #[arg(long, env = "BENCH_PART_MIB", default_value_t = 16)]
    part_mib: u64,
    /// Parts uploaded at once
    #[arg(long, env = "BENCH_PARTS_IN_FLIGHT", default_value_t = 4)]
    parts_in_flight: usize,
    /// How bodies are signed: `unsigned` (UNSIGNED-PAYLOAD, as the SDKs send over TLS)
    /// or `signed` (their SHA-256, as the SDKs send over plain HTTP)
    #[arg(long, env = "BENCH_PAYLOAD", default_value = "unsigned", value_parser = ["unsigned", "signed"])]
    payload: String,
    /// Seconds a call may take before it counts as a timeout
    #[arg(long, env = "BENCH_REQUEST_TIMEOUT", default_value_t = 120.0)]
    request_timeout: f64,
    /// Where bench/s3.sh installed moto (moto-venv/), fakecloud (fakecloud/bin/),
    /// s3rver (s3rver/) and s3s-fs (s3s-fs/bin/)
    #[arg(long, env = "BENCH_TOOLS")]
    tools: Option<PathBuf>,
    /// The serverful binary (default: the one beside this program)
    #[arg(long, env = "BENCH_SERVERFUL")]
    serverful: Option<PathBuf>,
    /// Run only these parts: ceiling, serverful, moto, fakecloud, fakecloud-disk,
    /// s3rver, s3s-fs, and multipart or small/large objects (comma-separated)
    #[arg(long, env = "BENCH_ONLY", value_delimiter = ',')]
    only: Vec<String>,
    /// Append the process id of every server started to this file (bench/s3.sh kills
    /// them on exit, whatever happens to this program)
    #[arg(long, env = "BENCH_PID_FILE")]
    pid_file: Option<PathBuf>,
    /// Keep the scratch folder (data, server logs) and print its path
    #[arg(long, env = "BENCH_KEEP")]
    keep: bool,
    /// Do not wait for the disk to settle after removing a contender's files (quicker,
    /// but whoever runs next creates files slower)
    #[arg(long, env = "BENCH_NO_SETTLE")]
    no_settle: bool,
}

/// Removes `folder`, then lets the disk settle (see [`SETTLE`]) unless told not to.
async fn remove_and_settle(args: &Args, folder: &Path) {
    let _ = std::fs::remove_dir_all(folder);
    if args.no_settle {
        return;
    }
    eprintln!("  letting the disk settle for {} s", SETTLE.as_secs());
    let _ = tokio::process::Command::new("sync").status().await;
    tokio::time::sleep(SETTLE).await;
}

/// How long a server gets to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the disk settles after files are removed, before the next measurement: ext4
/// avoids reusing inodes freed in the last 60 s (`recently_deleted`), which makes file
/// creation right after a mass removal several times slower for whoever runs next.
const SETTLE: Duration = Duration::from_secs(65);
/// How often the server's memory is sampled during the multipart upload.
const MEMORY_SAMPLE: Duration = Duration::from_millis(50);
/// The bucket every workload writes to.
const BUCKET: &str = "bench";

/// serverful's app: only the bucket (the driver also creates it, as on every contender;
/// CreateBucket of a bucket one owns answers BucketAlreadyOwnedByYou).
const TEMPLATE: &str = "\
Transform: AWS::Serverless-2016-10-31
Resources:
  Bench:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: bench
";

/// One contender.
struct Contender {
    key: &'static str,
    name: &'static str,
    storage: &'static str,
}

const CONTENDERS: [Contender; 6] = [
    Contender {
        key: "serverful",
        name: "serverful up",
        storage: "files under DATA/s3, each body fsync'd and linked into place (and the folder fsync'd) before the answer; metadata in SQLite (WAL)",
    },
    Contender {
        key: "moto",
        name: "moto_server",
        storage: "in memory (bodies in Python objects); HTTP/1.0, a new connection per call",
    },
    Contender {
        key: "fakecloud",
        name: "fakecloud (in memory)",
        storage: "in memory (`--storage-mode memory`, its default)",
    },
    Contender {
        key: "fakecloud-disk",
        name: "fakecloud --storage-mode persistent",
        storage: "on disk (`--storage-mode persistent --data-path`)",
    },
    Contender {
        key: "s3rver",
        name: "s3rver (npm)",
        storage: "files in its `--directory`, not fsync'd",
    },
    Contender {
        key: "s3s-fs",
        name: "s3s-fs (the s3s crate's file-system server)",
        storage: "files in its `--root`, each written to a temporary file and renamed, not fsync'd",
    },
];

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
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
        Ok(markdown) => {
            println!("{markdown}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("find this program")?;
    let path = me.with_file_name(name);
    if !path.exists() {
        bail!(
            "{} not found\nhint: build it with `cargo build --release -p serverful`",
            path.display()
        );
    }
    Ok(path)
}

async fn run(args: &Args) -> anyhow::Result<String> {
    let wanted = |part: &str| args.only.is_empty() || args.only.iter().any(|only| only == part);
    let workloads_named = args
        .only
        .iter()
        .any(|only| matches!(only.as_str(), "small" | "large" | "multipart"));
    let workload_wanted = |part: &str| !workloads_named || wanted(part);
    let scratch = tempfile::Builder::new()
        .prefix("serverful-bench-s3-")
        .tempdir_in(
            std::env::var_os("BENCH_SCRATCH").map_or_else(std::env::temp_dir, PathBuf::from),
        )
        .context("create a scratch folder")?;
    let launcher = Launcher {
        serverful: match &args.serverful {
            Some(path) => path.clone(),
            None => sibling("serverful")?,
        },
        tools: args.tools.clone(),
        scratch: scratch.path().to_owned(),
        pid_file: args.pid_file.clone(),
        ready_timeout: READY_TIMEOUT,
    };
    let config = RunConfig {
        clients: args.clients,
        warmup: Duration::from_secs_f64(args.warmup),
        duration: Duration::from_secs_f64(args.duration),
        request_timeout: Duration::from_secs_f64(args.request_timeout),
    };
    let payload = if args.payload == "signed" {
        Payload::Signed
    } else {
        Payload::Unsigned
    };
    let sizes: Vec<(Workload, usize)> = [
        (Workload::Small, 4 * 1024, "small"),
        (Workload::Large, 1024 * 1024, "large"),
    ]
    .into_iter()
    .filter(|(_, _, part)| workload_wanted(part))
    .map(|(workload, size, _)| (workload, size))
    .collect();
    let multipart = workload_wanted("multipart");
    let load_before = report::load_average();
    eprintln!("load average before the run: {load_before}");

    let mut ceiling = Vec::new();
    let mut ceiling_large = None;
    if wanted("ceiling") || workloads_named {
        for (workload, size) in &sizes {
            eprintln!("ceiling: {size}-byte writes");
            let run = tokio::task::spawn_blocking({
                let folder = scratch.path().join("ceiling");
                let size = *size;
                move || s3_load::ceiling_put(&folder, size, config)
            })
            .await
            .context("the ceiling's writers")??;
            log_run(&run);
            ceiling.push((*workload, run));
            remove_and_settle(args, &scratch.path().join("ceiling")).await;
        }
        if multipart {
            let bytes = args.multipart_mib << 20;
            eprintln!("ceiling: one {bytes}-byte file");
            let folder = scratch.path().join("ceiling-large");
            let seconds =
                tokio::task::spawn_blocking(move || s3_load::ceiling_large(&folder, bytes))
                    .await
                    .context("the ceiling's writer")??;
            eprintln!("    {:.1} s", seconds);
            ceiling_large = Some(seconds);
            let _ = std::fs::remove_dir_all(scratch.path().join("ceiling-large"));
        }
    }

    let mut rows = Vec::new();
    for contender in CONTENDERS.iter().filter(|c| wanted(c.key)) {
        eprintln!("{}", contender.name);
        let mut row = ContenderRow {
            key: contender.key.to_owned(),
            name: contender.name.to_owned(),
            storage: contender.storage.to_owned(),
            runs: Vec::new(),
            multipart: None,
            failure: None,
        };
        let data = scratch.path().join(format!("data-{}", contender.key));
        match start(&launcher, contender.key, &data).await {
            Ok(started) => {
                let target = Target {
                    address: started.address,
                    host: started.host.clone(),
                    keys: started.keys.clone(),
                    payload,
                    bucket: BUCKET.to_owned(),
                };
                if let Err(failure) = target.client().create_bucket(BUCKET).await {
                    row.failure = Some(format!("CreateBucket: {}", failure.message));
                } else {
                    for (workload, size) in &sizes {
                        measure_size(args, &started, &target, *workload, *size, &mut row).await;
                    }
                    if multipart {
                        row.multipart = Some(measure_multipart(args, &started, &target).await);
                    }
                }
                started.server.stop().await;
            }
            Err(error) => row.failure = Some(format!("{error:#}")),
        }
        // Each contender's data goes before the next starts: the disk is shared.
        remove_and_settle(args, &data).await;
        rows.push(row);
    }

    let report = S3Report {
        machine: Machine::describe(),
        settings: Settings {
            clients: args.clients,
            warmup_s: args.warmup,
            duration_s: args.duration,
            get_objects: args.get_objects,
            multipart_bytes: args.multipart_mib << 20,
            part_bytes: args.part_mib << 20,
            parts_in_flight: args.parts_in_flight,
            payload: args.payload.clone(),
        },
        load_before,
        load_after: report::load_average(),
        versions: versions(&launcher),
        ceiling,
        ceiling_large_s: ceiling_large,
        rows,
    };
    if args.keep {
        let kept = scratch.keep();
        eprintln!("scratch folder kept: {}", kept.display());
    }
    Ok(report.to_markdown())
}

/// PUT then GET of objects of `size` bytes.
async fn measure_size(
    args: &Args,
    started: &Started,
    target: &Target,
    workload: Workload,
    size: usize,
    row: &mut ContenderRow,
) {
    let config = RunConfig {
        clients: args.clients,
        warmup: Duration::from_secs_f64(args.warmup),
        duration: Duration::from_secs_f64(args.duration),
        request_timeout: Duration::from_secs_f64(args.request_timeout),
    };
    eprintln!("  PUT {size} bytes");
    let before = Usage::now(&started.server);
    let run = s3_load::run_put(target, size, &format!("put-{size}"), config).await;
    let run = before.charge(run, &started.server);
    log_run(&run);
    row.runs.push((workload, "PUT", Ok(run)));
    eprintln!(
        "  GET {size} bytes ({} objects written first)",
        args.get_objects
    );
    let outcome =
        match s3_load::prefill(target, size, &format!("get-{size}"), args.get_objects).await {
            Ok(keys) => {
                let before = Usage::now(&started.server);
                let run = s3_load::run_get(target, size, keys, config).await;
                let run = before.charge(run, &started.server);
                log_run(&run);
                Ok(run)
            }
            Err(error) => {
                eprintln!("    failed: {error}");
                Err(error)
            }
        };
    row.runs.push((workload, "GET", outcome));
}

/// The multipart upload, with the server's memory (its own and its children's) sampled
/// before and all through it.
async fn measure_multipart(args: &Args, started: &Started, target: &Target) -> Multipart {
    let part_size = usize::try_from(args.part_mib << 20).unwrap_or(usize::MAX);
    let parts = u32::try_from((args.multipart_mib / args.part_mib.max(1)).max(1)).unwrap_or(1);
    let pid = started.server.child.id();
    let rss = move || {
        pid.map(|pid| memory::process_rss(pid).unwrap_or(0) + memory::descendants_rss(pid).0)
    };
    let idle = rss();
    let peak = Arc::new(AtomicU64::new(idle.unwrap_or(0)));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let peak = peak.clone();
        let done = done.clone();
        async move {
            while !done.load(Ordering::Relaxed) {
                if let Some(now) = rss() {
                    peak.fetch_max(now, Ordering::Relaxed);
                }
                tokio::time::sleep(MEMORY_SAMPLE).await;
            }
        }
    });
    eprintln!(
        "  multipart: {parts} parts of {} MiB, {} at a time",
        args.part_mib, args.parts_in_flight
    );
    let outcome: Result<MultipartRun, String> = s3_load::run_multipart(
        target,
        "multipart/large",
        part_size,
        parts,
        args.parts_in_flight,
        Duration::from_secs_f64(args.request_timeout),
    )
    .await;
    done.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    match &outcome {
        Ok(run) => eprintln!(
            "    upload {:.1} s (complete {:.1} s), read {:.1} s",
            run.upload_s, run.complete_s, run.read_s
        ),
        Err(error) => eprintln!("    failed: {error}"),
    }
    Multipart {
        outcome,
        idle_rss: idle,
        peak_rss: idle.map(|_| peak.load(Ordering::Relaxed)),
    }
}

fn log_run(run: &S3Run) {
    eprintln!(
        "    {:.0} objects/s, {:.1} MB/s, p50 {:.0} µs, p99 {:.0} µs, {} errors{}",
        run.objects_per_second,
        run.megabytes_per_second,
        run.p50_us,
        run.p99_us,
        run.errors,
        run.first_error
            .as_deref()
            .map(|error| format!(" (first: {error})"))
            .unwrap_or_default()
    );
}

/// CPU time of the server and of this process at the start of a run.
struct Usage {
    server: Option<Duration>,
    client: Option<Duration>,
}

impl Usage {
    fn now(server: &serverful_bench::server::Spawned) -> Usage {
        Usage {
            server: server.cpu(),
            client: cpu::process_cpu(std::process::id()),
        }
    }

    fn charge(self, mut run: S3Run, server: &serverful_bench::server::Spawned) -> S3Run {
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

async fn start(launcher: &Launcher, key: &str, data: &Path) -> anyhow::Result<Started> {
    if key == "serverful" {
        let app = launcher.scratch.join("app-s3");
        std::fs::create_dir_all(&app).context("create the app folder")?;
        std::fs::write(app.join("template.yaml"), TEMPLATE).context("write template.yaml")?;
        return launcher.start_serverful("serverful", &app, data, &[]).await;
    }
    let port = free_port()?;
    let port_text = port.to_string();
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::fs::create_dir_all(data).context("create the data folder")?;
    let data_text = data.display().to_string();
    let mut server = match key {
        "moto" => launcher.spawn(
            key,
            &launcher.tool("moto-venv/bin/moto_server")?,
            &["-H".into(), "127.0.0.1".into(), "-p".into(), port_text],
        )?,
        "fakecloud" | "fakecloud-disk" => {
            let mut args = vec!["--addr".into(), address.to_string()];
            if key == "fakecloud-disk" {
                args.extend([
                    "--storage-mode".into(),
                    "persistent".into(),
                    "--data-path".into(),
                    data_text,
                ]);
            }
            launcher.spawn(key, &launcher.tool("fakecloud/bin/fakecloud")?, &args)?
        }
        "s3rver" => launcher.spawn(
            key,
            Path::new("node"),
            &[
                launcher
                    .tool("s3rver/node_modules/s3rver/bin/s3rver.js")?
                    .display()
                    .to_string(),
                "--directory".into(),
                data_text,
                "--address".into(),
                "127.0.0.1".into(),
                "--port".into(),
                port_text,
                "--silent".into(),
            ],
        )?,
        "s3s-fs" => launcher.spawn(
            key,
            &launcher.tool("s3s-fs/bin/s3s-fs")?,
            &[
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                port_text,
                "--access-key".into(),
                "bench".into(),
                "--secret-key".into(),
                "bench".into(),
                data_text,
            ],
        )?,
        other => bail!("unknown contender {other}"),
    };
    launcher.wait_until_listening(&mut server, address).await?;
    let keys = if key == "s3rver" {
        // Its one built-in key pair (it checks signatures).
        Keys {
            access_key_id: "S3RVER".to_owned(),
            secret_access_key: "S3RVER".to_owned(),
        }
    } else {
        Keys::any()
    };
    Ok(Started {
        server,
        address,
        host: address.to_string(),
        keys,
    })
}

/// What the contenders are, as installed.
fn versions(launcher: &Launcher) -> Vec<String> {
    let mut versions = Vec::new();
    let Some(tools) = &launcher.tools else {
        return versions;
    };
    let output = |program: &Path, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
            .filter(|text| !text.is_empty())
    };
    if let Some(version) = output(
        &tools.join("moto-venv/bin/python"),
        &["-c", "import moto; print(moto.__version__)"],
    ) {
        versions.push(format!("moto {version}"));
    }
    if let Some(version) = output(&tools.join("fakecloud/bin/fakecloud"), &["--version"]) {
        versions.push(version);
    }
    let package = tools.join("s3rver/node_modules/s3rver/package.json");
    if let Some(version) = std::fs::read_to_string(package)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| json.get("version")?.as_str().map(str::to_owned))
    {
        versions.push(format!("s3rver {version}"));
    }
    if let Some(version) = output(&tools.join("s3s-fs/bin/s3s-fs"), &["--version"]) {
        versions.push(version);
    }
    versions
}
