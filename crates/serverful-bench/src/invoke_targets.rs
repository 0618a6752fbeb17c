//! The invoke report's target and memory sections (issue #20): throughput against
//! serverless-offline and against the Rust function, the server's CPU per request against
//! the ceiling's, the added p50 at one connection, and the resident memory of the idle
//! server and of each warm function process. Every ratio is the median over the rounds of
//! the ratio within a round.

use std::fmt::Write as _;

use crate::memory::InstanceMemory;
use crate::report::{
    added_latency_target_us, figures_in, met, throughput_ratio, Kind, Report, WarmRow,
};
use crate::rounds::Spread;

/// Issue #20: the Node.js contender's throughput at least this many times
/// serverless-offline's on the same handler.
pub const PEER_TARGET: f64 = 10.0;
/// Issue #20: the Node.js and Python contenders' throughput at least this share of the
/// Rust `lambda_runtime` function's.
pub const RUST_SHARE_TARGET: f64 = 0.5;
/// Issue #20: the server's own CPU per warm invocation at most this many times the bare
/// hyper server's CPU per request.
pub const SERVER_CPU_TARGET: f64 = 3.0;
/// SPEC §13 and issue #20: the idle server's resident memory below this, bytes.
pub const IDLE_MEMORY_TARGET: u64 = 30 * 1024 * 1024;

/// A figure within one round, of its loaded run (`true`) or its unloaded one.
type RoundFigure = Box<dyn Fn(&[WarmRow], bool) -> Option<f64>>;

/// One line of the targets table: what it checks, per run (loaded, then one connection).
struct Target {
    label: String,
    figure: RoundFigure,
    /// Whether the median meets the target.
    meets: Box<dyn Fn(f64) -> bool>,
    /// How a median shows.
    format: fn(f64) -> String,
    /// Whether the loaded run is held to it (the added-p50 targets are for one connection).
    loaded_too: bool,
}

fn times(value: f64) -> String {
    format!("{value:.2}×")
}

fn microseconds(value: f64) -> String {
    crate::report::latency(value)
}

/// The server's own CPU per request of `key`, over the ceiling's, within one round.
fn server_cpu_ratio(rows: &[WarmRow], key: &str, loaded: bool) -> Option<f64> {
    let ours = figures_in(rows, key, loaded)?;
    let ceiling = crate::report::ceiling_in(rows, loaded)?;
    let ours = ours.cpu_us(ours.server_cpu_s)?;
    let theirs = ceiling.cpu_us(ceiling.server_cpu_s)?;
    (theirs > 0.0).then(|| ours / theirs)
}

fn targets() -> Vec<Target> {
    let mut targets = vec![Target {
        label: format!("Node.js ≥ {PEER_TARGET:.0}× serverless-offline's req/s (same handler)"),
        figure: Box::new(|rows, loaded| throughput_ratio(rows, "node", Some("offline"), loaded)),
        meets: Box::new(|ratio| ratio >= PEER_TARGET),
        format: times,
        loaded_too: true,
    }];
    for (key, name) in [("node", "Node.js"), ("python", "Python")] {
        targets.push(Target {
            label: format!("{name} ≥ ½ of the Rust `lambda_runtime` row's req/s"),
            figure: Box::new(move |rows, loaded| throughput_ratio(rows, key, Some("rust"), loaded)),
            meets: Box::new(|ratio| ratio >= RUST_SHARE_TARGET),
            format: times,
            loaded_too: true,
        });
    }
    for (key, name) in [("rust", "Rust"), ("node", "Node.js"), ("python", "Python")] {
        targets.push(Target {
            label: format!(
                "serverful's own CPU per request ≤ {SERVER_CPU_TARGET:.0}× the ceiling's: {name}"
            ),
            figure: Box::new(move |rows, loaded| server_cpu_ratio(rows, key, loaded)),
            meets: Box::new(|ratio| ratio <= SERVER_CPU_TARGET),
            format: times,
            loaded_too: true,
        });
    }
    for (key, name) in [("rust", "Rust"), ("node", "Node.js"), ("python", "Python")] {
        let target = added_latency_target_us(key, false);
        targets.push(Target {
            label: format!("added p50 at 1 connection < {target:.0} µs: {name}"),
            figure: Box::new(move |rows, loaded| crate::report::added_p50(rows, key, loaded)),
            meets: Box::new(move |added| added < target),
            format: microseconds,
            loaded_too: false,
        });
    }
    targets
}

/// The targets table, with a line for each target whose contenders ran.
pub(crate) fn write_targets(report: &Report, out: &mut String) -> std::fmt::Result {
    let cell = |spread: Option<Spread>, target: &Target| match spread {
        Some(spread) => {
            let median = (target.format)(spread.median);
            let range = if report.several_rounds() && spread.lowest < spread.highest {
                format!(
                    " ({}–{})",
                    (target.format)(spread.lowest),
                    (target.format)(spread.highest)
                )
            } else {
                String::new()
            };
            format!("{median}{range}: {}", met((target.meets)(spread.median)))
        }
        None => "—".to_owned(),
    };
    let mut lines = Vec::new();
    for target in targets() {
        let loaded = if target.loaded_too {
            report.spread(|rows| (target.figure)(rows, true))
        } else {
            None
        };
        let unloaded = report.spread(|rows| (target.figure)(rows, false));
        if loaded.is_none() && unloaded.is_none() {
            continue;
        }
        lines.push(format!(
            "| {} | {} | {} |",
            target.label,
            cell(loaded, &target),
            cell(unloaded, &target)
        ));
    }
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(out, "### Targets (issue #20)")?;
    writeln!(out)?;
    writeln!(
        out,
        "Each figure is {}; the CPU is the server process's own (not its function \
         processes'), per request completed, against the bare hyper server's.",
        if report.several_rounds() {
            "the median over the rounds of the figure within a round (lowest–highest)"
        } else {
            "the run's"
        }
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| target | {} connections | 1 connection |",
        report.settings.connections
    )?;
    writeln!(out, "| --- | --- | --- |")?;
    for line in lines {
        writeln!(out, "{line}")?;
    }
    writeln!(out)
}

fn megabytes(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1024.0 / 1024.0)
}

/// The memory table: the idle server, the server and its function instances after the
/// loaded run, per contender, medians over the rounds.
pub(crate) fn write_memory(report: &Report, out: &mut String) -> std::fmt::Result {
    let memory_of =
        |rows: &[WarmRow], key: &str| rows.iter().find(|row| row.key == key).map(|row| row.memory);
    let mut lines = Vec::new();
    for row in report.contenders() {
        let key = row.key.as_str();
        let idle = report.spread(|rows| Some(memory_of(rows, key)?.server_idle? as f64));
        let loaded = report.spread(|rows| Some(memory_of(rows, key)?.server_loaded? as f64));
        let instances = |figure: fn(&InstanceMemory) -> Option<f64>| {
            report.spread(|rows| figure(&memory_of(rows, key)?.instances_loaded?))
        };
        let count = instances(|m| Some(m.instances as f64));
        let runtime =
            instances(|m| (m.instances > 0).then(|| m.runtimes_rss as f64 / m.instances as f64));
        let whole =
            instances(|m| (m.instances > 0).then(|| m.instances_rss as f64 / m.instances as f64));
        let parked = instances(|m| Some(m.parked as f64));
        let parked_rss = instances(|m| Some(m.parked_rss as f64));
        if idle.is_none() && loaded.is_none() {
            continue;
        }
        let show =
            |spread: Option<Spread>| spread.map_or("—".to_owned(), |s| megabytes(s.median));
        let serverful = matches!(row.kind, Kind::LambdaMode | Kind::HttpMode);
        let (count, runtime, whole, parked) = if serverful {
            (
                count.map_or("—".to_owned(), |s| format!("{:.0}", s.median)),
                show(runtime),
                show(whole),
                match (parked, parked_rss) {
                    (Some(parked), Some(rss)) => {
                        format!("{:.0}, {}", parked.median, megabytes(rss.median))
                    }
                    _ => "—".to_owned(),
                },
            )
        } else if row.kind == Kind::Peer {
            let inside = "in the server".to_owned();
            (inside.clone(), inside.clone(), inside, "—".to_owned())
        } else {
            (
                "—".to_owned(),
                "—".to_owned(),
                "—".to_owned(),
                "—".to_owned(),
            )
        };
        let target = match (serverful, idle) {
            (true, Some(idle)) => format!(
                "idle < {}: {}",
                megabytes(IDLE_MEMORY_TARGET as f64),
                met(idle.median < IDLE_MEMORY_TARGET as f64)
            ),
            _ => String::new(),
        };
        lines.push(format!(
            "| {} | {} | {} | {count} | {runtime} | {whole} | {parked} | {target} |",
            row.name,
            show(idle),
            show(loaded),
        ));
    }
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(out, "### Memory")?;
    writeln!(out)?;
    writeln!(
        out,
        "Resident set size (`VmRSS`) from `/proc`: the server process once it said it was \
         ready, before the first request (idle), and after the loaded run; then, after the \
         loaded run, serverful's warm instances of the function under test (each a \
         sandbox's helper processes and the runtime process, `node`, `python3` or \
         `bootstrap`) with the RSS per instance of the runtime process alone and with its \
         sandbox helpers, and the sandboxes parked empty for the app's functions (pages \
         shared between processes count once per process). serverless-offline runs the \
         handler inside its own process: its whole process tree is in the server \
         columns.{}",
        if report.several_rounds() {
            " Medians over the rounds."
        } else {
            ""
        }
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| contender | server idle | server after the loaded run | warm instances | per instance: runtime process | per instance: with sandbox helpers | parked sandboxes | target |"
    )?;
    writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    )?;
    for line in lines {
        writeln!(out, "{line}")?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{LoadFigures, Machine, MemoryFigures, Outcome, Settings};

    fn figures(requests_per_second: f64, p50_us: f64, server_cpu_s: f64) -> LoadFigures {
        LoadFigures {
            requests_per_second,
            p50_us,
            p99_us: p50_us * 2.0,
            errors: 0,
            first_error: None,
            completed: 1000,
            load_generator_cpu_s: None,
            server_cpu_s: Some(server_cpu_s),
            functions_cpu_s: None,
            function_duration_p50_ms: None,
        }
    }

    fn row(key: &str, kind: Kind, loaded: LoadFigures, unloaded: LoadFigures) -> WarmRow {
        WarmRow {
            key: key.to_owned(),
            name: key.to_owned(),
            kind,
            outcome: Outcome::Measured {
                loaded,
                unloaded: Some(unloaded),
            },
            memory: MemoryFigures {
                server_idle: Some(20 * 1024 * 1024),
                ..MemoryFigures::default()
            },
        }
    }

    /// One round: the ceiling, the Node.js function and serverless-offline at the given
    /// loaded req/s; the unloaded runs a tenth of those.
    fn round(ceiling: f64, node: f64, offline: f64) -> Vec<WarmRow> {
        let both = |rate: f64, p50: f64, cpu: f64| {
            (
                figures(rate, p50, cpu),
                figures(rate / 10.0, p50 / 10.0, cpu),
            )
        };
        let (c, cu) = both(ceiling, 1000.0, 0.05);
        let (n, nu) = both(node, 1400.0, 0.1);
        let (o, ou) = both(offline, 5000.0, 0.5);
        vec![
            row("ceiling", Kind::Ceiling, c, cu),
            row("node", Kind::LambdaMode, n, nu),
            row("offline", Kind::Peer, o, ou),
        ]
    }

    fn report(rounds: Vec<Vec<WarmRow>>) -> Report {
        Report {
            machine: Machine::default(),
            settings: Settings {
                connections: 32,
                warmup_s: 1.0,
                duration_s: 1.0,
                unloaded_duration_s: 1.0,
                load_threads: 1,
                cold_runs: 0,
                rounds: rounds.len(),
            },
            load_before: String::new(),
            load_after: String::new(),
            rounds,
            cold: Vec::new(),
            peers: Vec::new(),
        }
    }

    #[test]
    fn targets_are_medians_of_the_ratios_within_rounds() {
        // Node ÷ offline per round: 12, 6, 30 → median 12 (met); the ratio of the
        // medians (9000 ÷ 1000 = 9) would miss.
        let report = report(vec![
            round(50_000.0, 12_000.0, 1_000.0),
            round(50_000.0, 6_000.0, 1_000.0),
            round(50_000.0, 9_000.0, 300.0),
        ]);
        let mut out = String::new();
        write_targets(&report, &mut out).expect("write");
        let line = out
            .lines()
            .find(|line| line.contains("serverless-offline's req/s"))
            .expect("the serverless-offline target");
        assert!(
            line.contains("12.00× (6.00×–30.00×): met | 12.00× (6.00×–30.00×): met"),
            "{line}"
        );
        // 0.1 s against 0.05 s of CPU for as many requests: 2× the ceiling's, met.
        let cpu = out
            .lines()
            .find(|line| line.contains("CPU per request") && line.contains("Node.js"))
            .expect("the CPU target");
        assert!(cpu.contains("2.00×: met"), "{cpu}");
        // Added p50 at one connection: 140 − 100 = 40 µs; only the 1-connection column.
        let added = out
            .lines()
            .find(|line| line.contains("added p50 at 1 connection < 150 µs: Node.js"))
            .expect("the added p50 target");
        assert!(added.contains("| — | 40 µs: met |"), "{added}");
        // No Rust or Python row ran: no line for them.
        assert!(!out.contains("Python"));
        assert!(!out.contains(": Rust"));
    }

    #[test]
    fn the_memory_table_holds_serverful_to_the_idle_target() {
        let report = report(vec![round(50_000.0, 12_000.0, 1_000.0)]);
        let mut out = String::new();
        write_memory(&report, &mut out).expect("write");
        let node = out
            .lines()
            .find(|line| line.starts_with("| node |"))
            .expect("the node row");
        assert!(node.contains("| 20.0 MB |"), "{node}");
        assert!(node.contains("idle < 30.0 MB: met"), "{node}");
        let offline = out
            .lines()
            .find(|line| line.starts_with("| offline |"))
            .expect("the offline row");
        assert!(!offline.contains("idle <"), "{offline}");
    }
}
