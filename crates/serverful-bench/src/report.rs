//! The report: markdown tables of the warm and cold-start figures with their ratios to the
//! ceiling and the SPEC §13 targets, plus the machine they were taken on, ready to paste
//! into `BENCHMARKS.md`. Also reads the figures of serverful's `REPORT` lines.

use std::fmt::Write as _;

/// SPEC §13: Lambda-mode warm throughput at least this share of the ceiling's.
pub const THROUGHPUT_TARGET: f64 = 1.0 / 3.0;
/// SPEC §13: median added latency below this, in microseconds.
pub const ADDED_LATENCY_TARGET_US: f64 = 150.0;
/// Issue #19: warm throughput with metrics and invocation records on at least this share
/// of the same function's with both off.
pub const OBSERVED_THROUGHPUT_TARGET: f64 = 0.95;

/// SPEC §13: cold-start overhead of a `provided` function (request arrival to the runtime's
/// first `/next`, sandbox included) below this median, ms. Checked against the whole cold
/// request, response included, which holds that span and more.
pub const COLD_OVERHEAD_TARGET_MS: f64 = 5.0;

/// One load run's figures, as `bench-load` printed them.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadFigures {
    pub requests_per_second: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Successful requests of the whole run, warm-up included.
    pub completed: u64,
    /// The load generator's CPU seconds over the whole run.
    pub load_generator_cpu_s: Option<f64>,
    /// Set by the driver: the server process's CPU seconds over the whole run.
    pub server_cpu_s: Option<f64>,
    /// Set by the driver: CPU seconds of the server's descendants (function processes)
    /// over the whole run; those that exited during it are missing.
    pub functions_cpu_s: Option<f64>,
    /// Set by the driver: median `Duration` of the run's `REPORT` lines, in ms (what
    /// serverful measured from handing the event over to receiving the answer).
    pub function_duration_p50_ms: Option<f64>,
}

impl LoadFigures {
    /// Reads `bench-load`'s JSON line.
    pub fn from_json(value: &serde_json::Value) -> Option<LoadFigures> {
        Some(LoadFigures {
            requests_per_second: value.get("requests_per_second")?.as_f64()?,
            p50_us: value.get("p50_us")?.as_f64()?,
            p99_us: value.get("p99_us")?.as_f64()?,
            errors: value.get("errors")?.as_u64()?,
            first_error: value
                .get("first_error")
                .and_then(|error| error.as_str())
                .map(str::to_owned),
            completed: value.get("completed")?.as_u64()?,
            load_generator_cpu_s: value.get("cpu_seconds").and_then(|cpu| cpu.as_f64()),
            server_cpu_s: None,
            functions_cpu_s: None,
            function_duration_p50_ms: None,
        })
    }

    /// CPU microseconds per completed request.
    fn cpu_per_request_us(&self, seconds: Option<f64>) -> String {
        match seconds {
            Some(seconds) if self.completed > 0 => {
                format!("{:.0} µs", seconds * 1e6 / self.completed as f64)
            }
            _ => "—".to_owned(),
        }
    }
}

/// What kind of contender a row is, which decides the targets it is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ceiling,
    LambdaMode,
    HttpMode,
}

/// What happened to one contender.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "a report has a handful of rows; boxing would only add noise"
)]
pub enum Outcome {
    /// Loaded at the run's concurrency, and unloaded (1 connection) when asked for.
    Measured {
        loaded: LoadFigures,
        unloaded: Option<LoadFigures>,
    },
    /// The feature is not there yet (the reason says how that showed).
    NotSupported(String),
    Failed(String),
}

/// One warm contender.
#[derive(Debug, Clone)]
pub struct WarmRow {
    /// The driver's key for the contender (`rust`, `rust-unobserved`, …).
    pub key: String,
    pub name: String,
    pub kind: Kind,
    pub outcome: Outcome,
}

/// One cold start: a fresh server, one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColdSample {
    /// Client side, from sending the request to the last byte of the answer.
    pub response_ms: f64,
    /// The `REPORT` line's `Init Duration` (process spawn to its first `/next`).
    pub init_ms: f64,
    /// The `REPORT` line's `Duration` (event handed over to answer received).
    pub invoke_ms: f64,
}

/// All cold starts of one runtime.
#[derive(Debug, Clone)]
pub struct ColdRow {
    pub name: String,
    pub is_provided: bool,
    pub samples: Vec<ColdSample>,
    /// Runs that gave no sample, and why.
    pub failures: Vec<String>,
}

/// The numbers of a `REPORT RequestId: …\tDuration: 1.23 ms\t…\tInit Duration: 4.56 ms\t`
/// line: `(duration_ms, init_duration_ms)`, the latter only on cold starts.
pub fn parse_report_line(line: &str) -> Option<(f64, Option<f64>)> {
    let start = line.find("REPORT RequestId:")?;
    let mut duration = None;
    let mut init = None;
    for field in line[start..].split('\t').map(str::trim) {
        let milliseconds = |prefix: &str| {
            field
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix("ms"))
                .and_then(|number| number.trim().parse::<f64>().ok())
        };
        if let Some(value) = milliseconds("Duration:") {
            duration = Some(value);
        } else if let Some(value) = milliseconds("Init Duration:") {
            init = Some(value);
        }
    }
    Some((duration?, init))
}

/// The value below which `quantile` of the samples fall (nearest rank).
pub fn quantile(values: &[f64], quantile: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Where the figures were taken.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    pub memory: String,
    pub kernel: String,
    pub rustc: String,
    pub node: String,
    pub python: String,
}

impl Machine {
    /// Reads /proc and asks `rustc`, `node` and `python3` for their versions.
    pub fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|line| line.starts_with("model name"))
            .and_then(|line| line.split_once(':'))
            .map(|(_, model)| model.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find(|line| line.starts_with("MemTotal:"))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
            .unwrap_or_else(|| "unknown".to_owned());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|release| format!("Linux {}", release.trim()))
            .unwrap_or_else(|_| "unknown".to_owned());
        Machine {
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model,
            memory,
            kernel,
            rustc: version_of("rustc"),
            node: version_of("node"),
            python: version_of("python3"),
        }
    }
}

fn version_of(program: &str) -> String {
    std::process::Command::new(program)
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| {
            let text = if output.stdout.is_empty() {
                output.stderr
            } else {
                output.stdout
            };
            String::from_utf8(text).ok()
        })
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "not found".to_owned())
}

/// The 1-, 5- and 15-minute load averages, as /proc/loadavg has them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// How the run was set up, for the report's header.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connections: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub unloaded_duration_s: f64,
    pub load_threads: usize,
    pub cold_runs: usize,
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct Report {
    pub machine: Machine,
    pub settings: Settings,
    pub load_before: String,
    pub load_after: String,
    pub warm: Vec<WarmRow>,
    pub cold: Vec<ColdRow>,
}

impl Report {
    /// The cost of metrics and invocation records: the Rust function's loaded throughput
    /// with both on (`rust`, the default) against both off (`rust-unobserved`).
    fn write_observability_cost(&self, out: &mut String) -> std::fmt::Result {
        let loaded = |key: &str| {
            self.warm
                .iter()
                .find(|row| row.key == key)
                .and_then(|row| match &row.outcome {
                    Outcome::Measured { loaded, .. } => Some(loaded.requests_per_second),
                    _ => None,
                })
        };
        if let (Some(on), Some(off)) = (loaded("rust"), loaded("rust-unobserved")) {
            let share = on / off;
            writeln!(
                out,
                "Metrics and invocation records on against off (Rust function, loaded): \
                 {on:.0} against {off:.0} req/s, {:.1} % fewer: {} (target ≤ {:.0} % fewer)",
                (1.0 - share) * 100.0,
                met(share >= OBSERVED_THROUGHPUT_TARGET),
                (1.0 - OBSERVED_THROUGHPUT_TARGET) * 100.0
            )?;
            writeln!(out)?;
        }
        Ok(())
    }
}

fn latency(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "missed"
    }
}

fn ceiling_of(rows: &[WarmRow], loaded: bool) -> Option<LoadFigures> {
    rows.iter().find_map(|row| match (&row.kind, &row.outcome) {
        (
            Kind::Ceiling,
            Outcome::Measured {
                loaded: figures, ..
            },
        ) if loaded => Some(figures.clone()),
        (Kind::Ceiling, Outcome::Measured { unloaded, .. }) if !loaded => unloaded.clone(),
        _ => None,
    })
}

impl Report {
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        self.write_markdown(&mut out)
            .expect("writing to a String cannot fail");
        out
    }

    fn write_markdown(&self, out: &mut String) -> std::fmt::Result {
        let machine = &self.machine;
        let settings = &self.settings;
        writeln!(out, "## Invoke path")?;
        writeln!(out)?;
        writeln!(
            out,
            "Machine: {} × {}, {} memory, {}; {}; {}; {}.",
            machine.cores,
            machine.cpu_model,
            machine.memory,
            machine.kernel,
            machine.rustc,
            if machine.node.starts_with('v') {
                format!("node {}", machine.node)
            } else {
                format!("node: {}", machine.node)
            },
            machine.python
        )?;
        writeln!(
            out,
            "Load average (1/5/15 min): {} before the run, {} after. The load generator \
             runs on the same machine ({} thread{}), as does everything under test.",
            self.load_before,
            self.load_after,
            settings.load_threads,
            if settings.load_threads == 1 { "" } else { "s" }
        )?;
        writeln!(out)?;

        let ceiling = ceiling_of(&self.warm, true);
        writeln!(
            out,
            "### Warm: {} keep-alive connections, {} s recorded after {} s warm-up",
            settings.connections, settings.duration_s, settings.warmup_s
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "| contender | req/s | p50 | p99 | errors | throughput vs ceiling | added p50 | targets |"
        )?;
        writeln!(
            out,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        )?;
        for row in &self.warm {
            write_warm_row(out, row, ceiling.as_ref(), true)?;
        }
        writeln!(out)?;
        self.write_observability_cost(out)?;

        if settings.unloaded_duration_s > 0.0 {
            let ceiling = ceiling_of(&self.warm, false);
            writeln!(
                out,
                "### Warm, unloaded: 1 connection, {} s recorded (per-request cost without queueing)",
                settings.unloaded_duration_s
            )?;
            writeln!(out)?;
            writeln!(
                out,
                "| contender | req/s | p50 | p99 | errors | throughput vs ceiling | added p50 | targets |"
            )?;
            writeln!(
                out,
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
            )?;
            for row in &self.warm {
                write_warm_row(out, row, ceiling.as_ref(), false)?;
            }
            writeln!(out)?;
        }

        let mut measured: Vec<(&WarmRow, &LoadFigures, String)> = Vec::new();
        for row in &self.warm {
            if let Outcome::Measured { loaded, unloaded } = &row.outcome {
                measured.push((row, loaded, format!("{} conn.", settings.connections)));
                if let Some(unloaded) = unloaded {
                    measured.push((row, unloaded, "1 conn.".to_owned()));
                }
            }
        }
        if !measured.is_empty() {
            writeln!(out, "### Where the time goes")?;
            writeln!(out)?;
            writeln!(
                out,
                "CPU time per request over the whole run (warm-up included) of the server \
                 process, of its function processes and of the load generator; and the median \
                 `Duration` of serverful's `REPORT` lines (event handed to the function → \
                 answer back) against the client's p50."
            )?;
            writeln!(out)?;
            writeln!(
                out,
                "| contender | run | CPU/req: server | CPU/req: functions | CPU/req: load generator | REPORT Duration p50 | client p50 − REPORT Duration p50 |"
            )?;
            writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: | ---: |")?;
            for (row, figures, run) in measured {
                let (duration, outside) = match figures.function_duration_p50_ms {
                    Some(duration_ms) => (
                        format!("{:.0} µs", duration_ms * 1000.0),
                        latency(figures.p50_us - duration_ms * 1000.0),
                    ),
                    None => ("—".to_owned(), "—".to_owned()),
                };
                writeln!(
                    out,
                    "| {} | {run} | {} | {} | {} | {duration} | {outside} |",
                    row.name,
                    figures.cpu_per_request_us(figures.server_cpu_s),
                    if row.kind == Kind::Ceiling {
                        "—".to_owned()
                    } else {
                        figures.cpu_per_request_us(figures.functions_cpu_s)
                    },
                    figures.cpu_per_request_us(figures.load_generator_cpu_s),
                )?;
            }
            writeln!(out)?;
        }

        if !self.cold.is_empty() {
            writeln!(
                out,
                "### Cold start: a fresh `serverful up` per run, one request, {} runs per runtime",
                settings.cold_runs
            )?;
            writeln!(out)?;
            writeln!(
                out,
                "| runtime | runs | time to response p50 / p90 | Init Duration p50 / p90 | response − init p50 / p90 | invoke Duration p50 | target |"
            )?;
            writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | --- |")?;
            for row in &self.cold {
                write_cold_row(out, row)?;
            }
            writeln!(out)?;
        }

        writeln!(out, "Notes:")?;
        writeln!(
            out,
            "- Added p50 = contender p50 − ceiling p50 in the same table. At {} connections \
             a closed loop's p50 is about connections ÷ throughput, so the loaded table's \
             added p50 mostly restates throughput; the unloaded table shows the cost of one \
             request through the gateway and the function.",
            settings.connections
        )?;
        writeln!(
            out,
            "- Targets (SPEC §13): Lambda-mode throughput ≥ 1/3 of the ceiling; added median \
             latency < {ADDED_LATENCY_TARGET_US:.0} µs; cold-start overhead (request arrival to \
             the runtime's first `/next`, sandbox included) < {COLD_OVERHEAD_TARGET_MS:.0} ms \
             median for `provided`, checked here against the whole cold request (time to \
             response), which contains that span plus the invocation and the answer."
        )?;
        writeln!(
            out,
            "- Init Duration is serverful's own measure, from the start of the cold start \
             (taking the function's parked sandbox, or setting one up when none is ready, \
             then the Runtime API and the process) to the process's first `/next`; for a \
             `provided` function most of it is platform work too, since `lambda_runtime`'s \
             own init is tiny. Sandboxed runs start from the sandbox `serverful up` parks \
             for each function before it says Ready."
        )?;
        let failures: Vec<String> = self
            .warm
            .iter()
            .filter_map(|row| match &row.outcome {
                Outcome::Measured { loaded, unloaded } => {
                    let error = loaded.first_error.clone().or_else(|| {
                        unloaded
                            .as_ref()
                            .and_then(|figures| figures.first_error.clone())
                    })?;
                    Some(format!("{}: first error: {error}", row.name))
                }
                Outcome::NotSupported(reason) | Outcome::Failed(reason) => {
                    Some(format!("{}: {reason}", row.name))
                }
            })
            .chain(self.cold.iter().flat_map(|row| {
                row.failures
                    .iter()
                    .take(3)
                    .map(move |failure| format!("{} cold start: {failure}", row.name))
            }))
            .collect();
        for failure in failures {
            writeln!(out, "- {failure}")?;
        }
        Ok(())
    }
}

fn write_warm_row(
    out: &mut String,
    row: &WarmRow,
    ceiling: Option<&LoadFigures>,
    loaded: bool,
) -> std::fmt::Result {
    let figures = match &row.outcome {
        Outcome::Measured {
            loaded: figures, ..
        } if loaded => figures,
        Outcome::Measured {
            unloaded: Some(figures),
            ..
        } => figures,
        Outcome::Measured { unloaded: None, .. } => {
            return writeln!(out, "| {} | not measured | | | | | | |", row.name)
        }
        Outcome::NotSupported(_) => {
            return writeln!(out, "| {} | not supported yet | | | | | | |", row.name)
        }
        Outcome::Failed(_) => {
            return writeln!(out, "| {} | failed (see notes) | | | | | | |", row.name)
        }
    };
    let (ratio, added, targets) = match (row.kind, ceiling) {
        (Kind::Ceiling, _) => ("1.00".to_owned(), "—".to_owned(), String::new()),
        (_, Some(ceiling)) if ceiling.requests_per_second > 0.0 => {
            let ratio = figures.requests_per_second / ceiling.requests_per_second;
            let added_us = figures.p50_us - ceiling.p50_us;
            let mut targets = Vec::new();
            if row.kind == Kind::LambdaMode && loaded {
                targets.push(format!(
                    "throughput ≥ 0.33: {}",
                    met(ratio >= THROUGHPUT_TARGET)
                ));
            }
            targets.push(format!(
                "added p50 < {ADDED_LATENCY_TARGET_US:.0} µs: {}",
                met(added_us < ADDED_LATENCY_TARGET_US)
            ));
            (format!("{ratio:.2}"), latency(added_us), targets.join("; "))
        }
        _ => ("—".to_owned(), "—".to_owned(), String::new()),
    };
    writeln!(
        out,
        "| {} | {:.0} | {} | {} | {} | {ratio} | {added} | {targets} |",
        row.name,
        figures.requests_per_second,
        latency(figures.p50_us),
        latency(figures.p99_us),
        figures.errors,
    )
}

fn write_cold_row(out: &mut String, row: &ColdRow) -> std::fmt::Result {
    let response: Vec<f64> = row.samples.iter().map(|s| s.response_ms).collect();
    let init: Vec<f64> = row.samples.iter().map(|s| s.init_ms).collect();
    let overhead: Vec<f64> = row
        .samples
        .iter()
        .map(|s| s.response_ms - s.init_ms)
        .collect();
    let invoke: Vec<f64> = row.samples.iter().map(|s| s.invoke_ms).collect();
    let pair = |values: &[f64]| match (quantile(values, 0.5), quantile(values, 0.9)) {
        (Some(p50), Some(p90)) => format!("{p50:.2} / {p90:.2} ms"),
        _ => "—".to_owned(),
    };
    let target = match quantile(&response, 0.5) {
        Some(median) if row.is_provided => format!(
            "cold start < {COLD_OVERHEAD_TARGET_MS:.0} ms: {}",
            met(median < COLD_OVERHEAD_TARGET_MS)
        ),
        _ => String::new(),
    };
    let runs = if row.failures.is_empty() {
        row.samples.len().to_string()
    } else {
        format!("{} ({} failed)", row.samples.len(), row.failures.len())
    };
    writeln!(
        out,
        "| {} | {runs} | {} | {} | {} | {} | {target} |",
        row.name,
        pair(&response),
        pair(&init),
        pair(&overhead),
        quantile(&invoke, 0.5).map_or("—".to_owned(), |p50| format!("{p50:.2} ms")),
    )
}

/// Runs a driver's `run` on a one-thread tokio runtime (the machine is shared with the
/// server under test) and prints its markdown report on stdout, or its error on stderr.
pub fn print_report<F>(run: F) -> std::process::ExitCode
where
    F: std::future::Future<Output = anyhow::Result<String>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run) {
        Ok(report) => {
            print!("{report}");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_report_lines() {
        let cold =
            "RustFunction | REPORT RequestId: abc\tDuration: 0.42 ms\tBilled Duration: 1 ms\t\
                    Memory Size: 128 MB\tMax Memory Used: 3 MB\tInit Duration: 2.75 ms\t";
        assert_eq!(parse_report_line(cold), Some((0.42, Some(2.75))));
        let warm = "REPORT RequestId: abc\tDuration: 1.23 ms\tBilled Duration: 2 ms\t\
                    Memory Size: 128 MB\tMax Memory Used: 45 MB\t";
        assert_eq!(parse_report_line(warm), Some((1.23, None)));
        assert_eq!(parse_report_line("START RequestId: abc"), None);
    }

    #[test]
    fn nearest_rank_quantiles() {
        let values = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&values, 0.5), Some(3.0));
        assert_eq!(quantile(&values, 0.9), Some(5.0));
        assert_eq!(quantile(&values, 0.0), Some(1.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
