//! `sandbox-run`: runs one program in the function sandbox, by hand or from the crate's
//! integration tests.
//!
//! ```text
//! sandbox-run [--memory MB] [--tmp MB] [--pids N] [--network none|egress]
//!             [--mount SOURCE[:TARGET]]... [--env NAME=VALUE]... [--cwd DIR]
//!             [--report] [--trial] [--parked] [--bench N] [--sandbox off|auto|required]
//!             -- PROGRAM ARGS...
//! sandbox-run [--sandbox off|auto|required] --probe
//! ```
//!
//! `--probe` prints what [`Host::probe`] found (summary, warning, hint) and exits.
//!
//! It exits the way the program did (same code, or the same signal). `--report` prints
//! `sandbox-run: oom_killed=… peak_memory_mb=…` to stderr afterwards; `--trial` sets the
//! sandbox up without starting the program ([`Host::trial`]) and prints the outcome on
//! stdout; `--bench N` runs
//! the program N times and prints the spawn-to-exit times (median, min, max) next to the
//! same program started without the sandbox, and the spawn-to-start times when the program
//! prints the wall clock in nanoseconds (`--bench 50 -- /usr/bin/date +%s%N`). `--parked`
//! parks the sandbox first ([`Host::park`]) and hands it the program afterwards, as the
//! server does; with `--bench` it times from that hand-over.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serverful_sandbox::{Host, InstanceSpec, Launch, Mode, Mount, NetNs, Network};

struct Options {
    memory_mb: u64,
    tmp_size_mb: u64,
    pids_max: u64,
    network: Network,
    mounts: Vec<Mount>,
    env: Vec<(OsString, OsString)>,
    cwd: PathBuf,
    report: bool,
    trial: bool,
    parked: bool,
    probe: bool,
    mode: Mode,
    bench: Option<usize>,
    program: PathBuf,
    args: Vec<OsString>,
}

const USAGE: &str = "usage: sandbox-run [--memory MB] [--tmp MB] [--pids N] [--network none|egress] \
[--mount SOURCE[:TARGET]]... [--env NAME=VALUE]... [--cwd DIR] [--report] [--trial] [--parked] [--bench N] [--sandbox off|auto|required] -- PROGRAM ARGS...
       sandbox-run [--sandbox off|auto|required] --probe";

fn main() -> ExitCode {
    serverful_sandbox::run_init_if_requested();
    let options = match parse(std::env::args_os().skip(1).collect()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let state_dir = std::env::temp_dir().join("serverful-sandbox-run");
    let host = match Host::probe(options.mode, &state_dir) {
        Ok(host) => host,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(125);
        }
    };
    if options.probe {
        println!("{}", host.summary());
        for line in [host.warning(), host.hint()].into_iter().flatten() {
            println!("{line}");
        }
        return ExitCode::SUCCESS;
    }
    if options.trial {
        return match host.trial(&spec(&options, 0), &launch(&options)) {
            Ok(()) => {
                println!("trial: ok");
                ExitCode::SUCCESS
            }
            Err(e) => {
                println!("trial: {e:?}");
                ExitCode::from(1)
            }
        };
    }
    match options.bench {
        Some(runs) => bench(&host, &options, runs),
        None => match run(&host, &options, 0) {
            Ok(status) => {
                // Re-raising a signal skips destructors: remove the cgroup directories now.
                drop(host);
                exit_like(status)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(125)
            }
        },
    }
}

fn spec(options: &Options, run_idx: usize) -> InstanceSpec {
    InstanceSpec {
        id: format!("sandbox-run-{}-{run_idx}", std::process::id()),
        mounts: options.mounts.clone(),
        tmp_size_mb: options.tmp_size_mb,
        memory_mb: options.memory_mb,
        pids_max: options.pids_max,
        max_open_files: serverful_sandbox::DEFAULT_MAX_OPEN_FILES,
        hostname: "sandbox".into(),
    }
}

fn launch(options: &Options) -> Launch {
    let mut env = vec![(
        OsString::from("PATH"),
        OsString::from("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
    )];
    env.extend(options.env.iter().cloned());
    Launch {
        program: options.program.clone(),
        args: options.args.clone(),
        env,
        cwd: options.cwd.clone(),
    }
}

fn run(host: &Host, options: &Options, run_idx: usize) -> Result<ExitStatus, String> {
    let net = match options.network {
        Network::None => None,
        Network::Egress => Some(
            NetNs::create(Network::Egress, &[])
                .map_err(|e| e.to_string())?
                .0,
        ),
    };
    let spec = spec(options, run_idx);
    let status = if options.parked {
        let mut prepared = host.park(&spec, net.as_ref()).map_err(|e| e.to_string())?;
        let mut child = prepared
            .command
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| format!("start the sandbox: {e}"))?;
        send_launch(&mut child, &launch(options))?;
        let status = child
            .wait()
            .map_err(|e| format!("wait for the sandbox: {e}"))?;
        (status, prepared.instance)
    } else {
        let mut prepared = host
            .prepare(&spec, &launch(options), net.as_ref())
            .map_err(|e| e.to_string())?;
        let status = prepared
            .command
            .status()
            .map_err(|e| format!("start the sandbox: {e}"))?;
        (status, prepared.instance)
    };
    let (status, instance) = status;
    if options.report {
        eprintln!(
            "sandbox-run: oom_killed={} peak_memory_mb={}",
            instance.oom_killed(),
            instance
                .peak_memory_mb()
                .map_or("unknown".into(), |mb| mb.to_string())
        );
    }
    Ok(status)
}

/// Hands a parked sandbox its program: the launch message, then end of input.
fn send_launch(child: &mut std::process::Child, launch: &Launch) -> Result<(), String> {
    use std::io::Write;
    let mut stdin = child
        .stdin
        .take()
        .ok_or("the parked sandbox has no stdin")?;
    stdin
        .write_all(&launch.to_message())
        .map_err(|e| format!("launch the parked sandbox: {e}"))
}

fn bench(host: &Host, options: &Options, runs: usize) -> ExitCode {
    if options.parked {
        return bench_parked(host, options, runs);
    }
    let mut prepare = Vec::with_capacity(runs);
    let mut sandboxed = Vec::with_capacity(runs);
    let mut sandboxed_start = Vec::with_capacity(runs);
    let mut direct = Vec::with_capacity(runs);
    let mut direct_start = Vec::with_capacity(runs);
    for run_idx in 0..runs {
        // As in the server, the network namespace is made ahead of the instance.
        let net = match NetNs::create(options.network, &[]) {
            Ok((net, _listeners)) => net,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(125);
            }
        };
        let start = Instant::now();
        let mut prepared = match host.prepare(&spec(options, run_idx), &launch(options), Some(&net))
        {
            Ok(prepared) => prepared,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(125);
            }
        };
        prepare.push(start.elapsed());
        let (total, to_start) = timed(&mut prepared.command);
        let Some(total) = total else {
            eprintln!("error: run {run_idx} failed");
            return ExitCode::from(1);
        };
        sandboxed.push(total);
        sandboxed_start.extend(to_start);
        drop(prepared);

        run_direct(options, &mut direct, &mut direct_start);
    }
    let mut rows = vec![
        ("prepare (cgroups, command)", prepare),
        ("spawn to exit, sandboxed", sandboxed),
        ("spawn to exit, direct", direct),
    ];
    if !sandboxed_start.is_empty() {
        rows.push(("spawn to program start, sandboxed", sandboxed_start));
        rows.push(("spawn to program start, direct", direct_start));
    }
    print_rows(rows);
    ExitCode::SUCCESS
}

/// Like [`bench`] with sandboxes parked ahead of time, as the server keeps them: the time
/// from handing over the launch to the program's exit (and start), next to the program
/// started directly.
fn bench_parked(host: &Host, options: &Options, runs: usize) -> ExitCode {
    let mut parked = Vec::with_capacity(runs);
    let mut parked_start = Vec::with_capacity(runs);
    let mut direct = Vec::with_capacity(runs);
    let mut direct_start = Vec::with_capacity(runs);
    for run_idx in 0..runs {
        let spawned = NetNs::create(options.network, &[])
            .map_err(|e| e.to_string())
            .and_then(|(net, _listeners)| {
                let mut prepared = host
                    .park(&spec(options, run_idx), Some(&net))
                    .map_err(|e| e.to_string())?;
                let child = prepared
                    .command
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .map_err(|e| format!("start the sandbox: {e}"))?;
                // The namespace stays open while the sandbox runs.
                Ok((child, prepared.instance, net))
            });
        let (mut child, _instance, _net) = match spawned {
            Ok(spawned) => spawned,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(125);
            }
        };
        // Time enough for the sandbox to set itself up and wait.
        std::thread::sleep(Duration::from_millis(50));
        let launched_at = SystemTime::now();
        let start = Instant::now();
        if let Err(e) = send_launch(&mut child, &launch(options)) {
            eprintln!("error: {e}");
            return ExitCode::from(125);
        }
        let Ok(output) = child.wait_with_output() else {
            eprintln!("error: run {run_idx} failed");
            return ExitCode::from(1);
        };
        if !output.status.success() {
            eprintln!("error: run {run_idx} ended with {}", output.status);
            return ExitCode::from(1);
        }
        parked.push(start.elapsed());
        parked_start.extend(started_after(&output.stdout, launched_at));

        run_direct(options, &mut direct, &mut direct_start);
    }
    let mut rows = vec![
        ("launch to exit, parked sandbox", parked),
        ("spawn to exit, direct", direct),
    ];
    if !parked_start.is_empty() {
        rows.push(("launch to program start, parked sandbox", parked_start));
        rows.push(("spawn to program start, direct", direct_start));
    }
    print_rows(rows);
    ExitCode::SUCCESS
}

/// Runs the program once without the sandbox, for the figures beside the sandboxed ones.
fn run_direct(options: &Options, total: &mut Vec<Duration>, to_start: &mut Vec<Duration>) {
    let mut command = Command::new(&options.program);
    command.args(&options.args);
    let (run_total, run_to_start) = timed(&mut command);
    total.extend(run_total);
    to_start.extend(run_to_start);
}

fn print_rows(rows: Vec<(&str, Vec<Duration>)>) {
    for (name, mut times) in rows {
        if times.is_empty() {
            continue;
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        eprintln!(
            "{name}: median {:.2} ms, min {:.2} ms, max {:.2} ms ({} runs)",
            ms(times[times.len() / 2]),
            ms(times[0]),
            ms(times[times.len() - 1]),
            times.len()
        );
    }
}

/// Runs `command` to its end: the time from spawn to exit, and, when the program prints
/// the wall clock in nanoseconds as it starts (`date +%s%N`), the time from spawn to then.
fn timed(command: &mut Command) -> (Option<Duration>, Option<Duration>) {
    let spawned_at = SystemTime::now();
    let start = Instant::now();
    let Ok(output) = command.stderr(Stdio::inherit()).output() else {
        return (None, None);
    };
    let total = start.elapsed();
    if !output.status.success() {
        return (None, None);
    }
    (Some(total), started_after(&output.stdout, spawned_at))
}

/// How long after `since` the program started, when it printed the wall clock in
/// nanoseconds as it started.
fn started_after(stdout: &[u8], since: SystemTime) -> Option<Duration> {
    let nanos = String::from_utf8_lossy(stdout)
        .trim()
        .parse::<u128>()
        .ok()?;
    let since_epoch = since.duration_since(UNIX_EPOCH).ok()?.as_nanos();
    nanos
        .checked_sub(since_epoch)
        .map(|delta| Duration::from_nanos(delta as u64))
}

/// Ends like the program did: its exit code, or its signal re-raised.
fn exit_like(status: ExitStatus) -> ExitCode {
    if let Some(signal) = status.signal() {
        // SAFETY: restores the default action for `signal` and sends it to this process;
        // no memory is involved.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::kill(libc::getpid(), signal);
        }
        return ExitCode::from(128u8.wrapping_add(signal as u8));
    }
    ExitCode::from(status.code().unwrap_or(1) as u8)
}

fn parse(args: Vec<OsString>) -> Result<Options, String> {
    let mut options = Options {
        memory_mb: 512,
        tmp_size_mb: serverful_sandbox::DEFAULT_TMP_SIZE_MB,
        pids_max: serverful_sandbox::DEFAULT_PIDS_MAX,
        network: Network::None,
        mounts: Vec::new(),
        env: Vec::new(),
        cwd: PathBuf::from("/"),
        report: false,
        trial: false,
        parked: false,
        probe: false,
        mode: Mode::Required,
        bench: None,
        program: PathBuf::new(),
        args: Vec::new(),
    };
    let mut args = args.into_iter();
    let number = |value: Option<OsString>, name: &str| -> Result<u64, String> {
        value
            .and_then(|v| v.into_string().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} takes a number"))
    };
    loop {
        let Some(arg) = args.next() else {
            if options.probe {
                return Ok(options);
            }
            return Err("missing -- PROGRAM".into());
        };
        match arg.to_str().unwrap_or("") {
            "--memory" => options.memory_mb = number(args.next(), "--memory")?,
            "--tmp" => options.tmp_size_mb = number(args.next(), "--tmp")?,
            "--pids" => options.pids_max = number(args.next(), "--pids")?,
            "--bench" => options.bench = Some(number(args.next(), "--bench")? as usize),
            "--report" => options.report = true,
            "--trial" => options.trial = true,
            "--parked" => options.parked = true,
            "--probe" => options.probe = true,
            "--sandbox" => {
                options.mode = match args.next().as_ref().and_then(|v| v.to_str()) {
                    Some("off") => Mode::Off,
                    Some("auto") => Mode::Auto,
                    Some("required") => Mode::Required,
                    _ => return Err("--sandbox takes off, auto or required".into()),
                }
            }
            "--network" => {
                options.network = match args.next().as_ref().and_then(|v| v.to_str()) {
                    Some("none") => Network::None,
                    Some("egress") => Network::Egress,
                    _ => return Err("--network takes none or egress".into()),
                }
            }
            "--mount" => {
                let value = args
                    .next()
                    .and_then(|v| v.into_string().ok())
                    .ok_or("--mount takes SOURCE[:TARGET]")?;
                let (source, target) = value.split_once(':').unwrap_or((&value, &value));
                options.mounts.push(Mount::read_only(source, target));
            }
            "--env" => {
                let value = args
                    .next()
                    .and_then(|v| v.into_string().ok())
                    .ok_or("--env takes NAME=VALUE")?;
                let (name, value) = value.split_once('=').ok_or("--env takes NAME=VALUE")?;
                options.env.push((name.into(), value.into()));
            }
            "--cwd" => options.cwd = args.next().ok_or("--cwd takes a directory")?.into(),
            "--" => break,
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    options.program = args.next().ok_or("missing PROGRAM after --")?.into();
    options.args = args.collect();
    Ok(options)
}
