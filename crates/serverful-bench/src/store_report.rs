//! The store benchmark's report: one markdown table per workload (every contender's
//! requests/s, p50, p99, errors and CPU per request), then serverful's throughput ratios
//! against the SPEC §13 store targets, with the machine and its load, ready to paste into
//! `BENCHMARKS.md`. A run of several rounds shows each contender's median round and
//! every round's rate, and each ratio as the median of the ratios within each round.

use std::fmt::Write as _;

use crate::report::Machine;
use crate::store_workload::Workload;

/// SPEC §13: serverful at least this many times moto's throughput.
pub const MOTO_TARGET: f64 = 10.0;
/// SPEC §13: serverful at least this many times dynalite's throughput.
pub const DYNALITE_TARGET: f64 = 2.0;
/// SPEC §13: serverful ahead of Dynoxide.
pub const DYNOXIDE_TARGET: f64 = 1.0;
/// SPEC §13: serverful within 3× of raw SQLite doing the same writes. Only PutItem is
/// the same writes; reads against the ceiling are printed for information.
pub const CEILING_TARGET: f64 = 1.0 / 3.0;

/// One load run's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFigures {
    pub requests_per_second: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Successful operations of the whole run, warm-up included.
    pub completed: u64,
    /// The load generator's CPU seconds over the whole run.
    pub client_cpu_s: Option<f64>,
    /// The server's CPU seconds over the whole run (none for the in-process ceiling).
    pub server_cpu_s: Option<f64>,
}

impl RunFigures {
    /// Reads `bench-store-load`'s JSON line.
    pub fn from_json(value: &serde_json::Value) -> Option<RunFigures> {
        Some(RunFigures {
            requests_per_second: value.get("requests_per_second")?.as_f64()?,
            p50_us: value.get("p50_us")?.as_f64()?,
            p99_us: value.get("p99_us")?.as_f64()?,
            errors: value.get("errors")?.as_u64()?,
            first_error: value
                .get("first_error")
                .and_then(|error| error.as_str())
                .map(str::to_owned),
            completed: value.get("completed")?.as_u64()?,
            client_cpu_s: value.get("cpu_seconds").and_then(|cpu| cpu.as_f64()),
            server_cpu_s: None,
        })
    }

    fn cpu_per_operation(&self, seconds: Option<f64>) -> String {
        match seconds {
            Some(seconds) if self.completed > 0 => {
                format!("{:.0} µs", seconds * 1e6 / self.completed as f64)
            }
            _ => "—".to_owned(),
        }
    }
}

/// Which target a contender's row is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Ceiling,
    /// Serverful's store engine called in process: the ceiling's comparison without HTTP.
    Engine,
    Serverful,
    Moto,
    DynaliteMemory,
    DynaliteDisk,
    DynoxideMemory,
    Dynoxide,
    /// `serverful up --store postgres://…`, one node.
    ServerfulPg,
    /// Two `serverful up` nodes on one PostgreSQL, clients spread over both.
    ServerfulPg2,
    /// ExtendDB on the same PostgreSQL (issue 22's peer).
    ExtendDb,
}

/// One contender and what each workload measured (or why it did not run).
#[derive(Debug, Clone)]
pub struct ContenderRow {
    pub name: String,
    pub role: Role,
    /// Where its data lives and when a write is acknowledged.
    pub durability: String,
    /// One entry per workload, in [`Workload::ALL`] order.
    pub runs: Vec<(Workload, Result<RunFigures, String>)>,
    /// Set when the contender did not start at all.
    pub failure: Option<String>,
}

impl ContenderRow {
    fn figures(&self, workload: Workload) -> Option<&RunFigures> {
        self.runs
            .iter()
            .find(|(run_workload, _)| *run_workload == workload)
            .and_then(|(_, outcome)| outcome.as_ref().ok())
    }
}

/// How the runs were set up.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub clients: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub load_threads: usize,
    pub get_keys: u64,
    pub partitions: u64,
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct StoreReport {
    pub machine: Machine,
    pub settings: StoreSettings,
    pub load_before: String,
    pub load_after: String,
    /// Versions of the emulators, as installed for the run.
    pub versions: Vec<String>,
    /// Every round's rows, one per contender, in the same order in every round.
    pub rounds: Vec<Vec<ContenderRow>>,
}

/// The median of some values (the mean of the middle two for an even count).
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => None,
        length if length % 2 == 1 => Some(values[middle]),
        _ => Some((values[middle - 1] + values[middle]) / 2.0),
    }
}

pub(crate) fn format_ratio(ratio: f64) -> String {
    if ratio >= 10.0 {
        format!("{ratio:.0}×")
    } else {
        format!("{ratio:.2}×")
    }
}

pub(crate) fn format_us(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

pub(crate) fn format_rate(rate: f64) -> String {
    let whole = rate.round() as u64;
    let digits = whole.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|group| std::str::from_utf8(group).expect("ASCII digits split anywhere"))
        .collect();
    groups.join(",")
}

impl StoreReport {
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let machine = &self.machine;
        let settings = &self.settings;
        let _ = writeln!(out, "## Store (`bash bench/store.sh`), SPEC §13\n");
        let _ = writeln!(
            out,
            "Machine: {} × {}, {}, {}, {}, node {}, {}.",
            machine.cores,
            machine.cpu_model,
            machine.memory,
            machine.kernel,
            machine.rustc,
            machine.node,
            machine.python
        );
        if !self.versions.is_empty() {
            let _ = writeln!(out, "Contenders: {}.", self.versions.join(", "));
        }
        let _ = writeln!(
            out,
            "Load average (1/5/15 min) before the run: {}; after: {}.\n",
            self.load_before, self.load_after
        );
        let _ = writeln!(
            out,
            "Each workload: {} clients, each with one operation in flight (closed loop), {} s warm-up then {} s recorded; HTTP contenders through the same SigV4 client (`bench-store-load`, keep-alive HTTP/1.1, {} thread{}), each on a fresh server with the table created and {} items + {} partitions × 20 items written first. Errors count failed connections, timeouts (5 s), non-200 answers and wrong answers (a GetItem without its item, a Query without its 20 items).\n",
            settings.clients,
            settings.warmup_s,
            settings.duration_s,
            settings.load_threads,
            if settings.load_threads == 1 { "" } else { "s" },
            settings.get_keys,
            settings.partitions,
        );
        if self.rounds.len() > 1 {
            let _ = writeln!(
                out,
                "{} rounds: in each round every contender runs every workload on a fresh server, the contenders taking turns, in reverse order every other round. Tables show each contender's median round (by req/s) and every round's req/s; each ratio is the median over the rounds of the ratio within a round, with the lowest and highest.\n",
                self.rounds.len()
            );
        }
        let _ = writeln!(out, "| contender | durability |");
        let _ = writeln!(out, "|---|---|");
        for row in self.contenders() {
            let _ = writeln!(out, "| {} | {} |", row.name, row.durability);
        }
        let _ = writeln!(out);
        for workload in Workload::ALL {
            let _ = writeln!(out, "### {}\n", workload.title());
            let several = self.rounds.len() > 1;
            let _ = writeln!(
                out,
                "| contender | req/s | p50 | p99 | errors | server CPU / op | client CPU / op |{}",
                if several { " req/s per round |" } else { "" }
            );
            let _ = writeln!(
                out,
                "|---|---:|---:|---:|---:|---:|---:|{}",
                if several { "---:|" } else { "" }
            );
            let empty = if several {
                " | | | | | | |"
            } else {
                " | | | | | |"
            };
            for row in self.contenders() {
                if let Some(failure) = &row.failure {
                    let _ = writeln!(
                        out,
                        "| {} | did not run: {}{empty}",
                        row.name,
                        one_line(failure)
                    );
                    continue;
                }
                let outcome = self.median_run(row.role, workload).or_else(|| {
                    row.runs
                        .iter()
                        .find(|(run_workload, _)| *run_workload == workload)
                        .map(|(_, outcome)| outcome)
                });
                let per_round = if several {
                    let rates: Vec<String> = self
                        .rows_of(row.role)
                        .map(|row| {
                            row.figures(workload).map_or("—".to_owned(), |figures| {
                                format_rate(figures.requests_per_second)
                            })
                        })
                        .collect();
                    format!(" {} |", rates.join(" / "))
                } else {
                    String::new()
                };
                match outcome {
                    Some(Ok(figures)) => {
                        let _ = writeln!(
                            out,
                            "| {} | {} | {} | {} | {} | {} | {} |{per_round}",
                            row.name,
                            format_rate(figures.requests_per_second),
                            format_us(figures.p50_us),
                            format_us(figures.p99_us),
                            figures.errors,
                            figures.cpu_per_operation(figures.server_cpu_s),
                            figures.cpu_per_operation(figures.client_cpu_s),
                        );
                    }
                    Some(Err(failure)) => {
                        let _ =
                            writeln!(out, "| {} | failed: {}{empty}", row.name, one_line(failure));
                    }
                    None => {
                        let _ = writeln!(out, "| {} | not run{empty}", row.name);
                    }
                }
            }
            let _ = writeln!(out);
        }
        let errors: Vec<String> = self
            .rounds
            .iter()
            .flatten()
            .flat_map(|row| {
                row.runs.iter().filter_map(move |(workload, outcome)| {
                    let figures = outcome.as_ref().ok()?;
                    let first = figures.first_error.as_ref()?;
                    Some(format!(
                        "{} {}: {}",
                        row.name,
                        workload.key(),
                        one_line(first)
                    ))
                })
            })
            .collect();
        if !errors.is_empty() {
            let _ = writeln!(out, "First error of each run that had one:\n");
            for error in errors {
                let _ = writeln!(out, "- {error}");
            }
            let _ = writeln!(out);
        }
        self.write_targets(&mut out);
        self.write_postgres_targets(&mut out);
        out
    }

    /// The contenders, as the first round lists them.
    fn contenders(&self) -> &[ContenderRow] {
        self.rounds.first().map_or(&[], Vec::as_slice)
    }

    /// One contender's row in every round.
    fn rows_of(&self, role: Role) -> impl Iterator<Item = &ContenderRow> {
        self.rounds
            .iter()
            .filter_map(move |rows| rows.iter().find(|row| row.role == role))
    }

    /// The contender's run of the workload in its median round by req/s (the lower of
    /// the middle two for an even count), among the rounds where it ran.
    fn median_run(&self, role: Role, workload: Workload) -> Option<&Result<RunFigures, String>> {
        let mut runs: Vec<&Result<RunFigures, String>> = self
            .rows_of(role)
            .filter_map(|row| {
                row.runs
                    .iter()
                    .find(|(run_workload, outcome)| *run_workload == workload && outcome.is_ok())
                    .map(|(_, outcome)| outcome)
            })
            .collect();
        runs.sort_by(|a, b| {
            let rate = |run: &&Result<RunFigures, String>| {
                run.as_ref()
                    .map_or(0.0, |figures| figures.requests_per_second)
            };
            rate(a).total_cmp(&rate(b))
        });
        let middle = runs.len().saturating_sub(1) / 2;
        runs.get(middle).copied()
    }

    /// `ours ÷ theirs` within each round where both ran, as the median and the range.
    fn ratios(&self, ours: Role, theirs: Role, workload: Workload) -> Option<(f64, f64, f64)> {
        let mut ratios: Vec<f64> = self
            .rounds
            .iter()
            .filter_map(|rows| {
                let figures = |role: Role| {
                    rows.iter()
                        .find(|row| row.role == role)
                        .and_then(|row| row.figures(workload))
                };
                let (ours, theirs) = (figures(ours)?, figures(theirs)?);
                (theirs.requests_per_second > 0.0)
                    .then(|| ours.requests_per_second / theirs.requests_per_second)
            })
            .collect();
        let middle = median(&mut ratios)?;
        Some((middle, ratios[0], ratios[ratios.len() - 1]))
    }

    /// A ratio cell: the median, and with several rounds the lowest and highest.
    fn ratio_cell(&self, (middle, lowest, highest): (f64, f64, f64)) -> String {
        if self.rounds.len() > 1 {
            format!(
                "{} ({}–{})",
                format_ratio(middle),
                format_ratio(lowest),
                format_ratio(highest)
            )
        } else {
            format_ratio(middle)
        }
    }

    /// Serverful on PostgreSQL (one and two nodes) against ExtendDB on the same database
    /// (issue 22: ahead on every operation), and the second node's gain over the first.
    fn write_postgres_targets(&self, out: &mut String) {
        let has = |role: Role| self.contenders().iter().any(|row| row.role == role);
        if !has(Role::ServerfulPg) && !has(Role::ServerfulPg2) {
            return;
        }
        let comparisons: [(Role, Role, &str); 3] = [
            (
                Role::ServerfulPg,
                Role::ExtendDb,
                "1 node ÷ ExtendDB (> 1×)",
            ),
            (
                Role::ServerfulPg2,
                Role::ExtendDb,
                "2 nodes ÷ ExtendDB (> 1×)",
            ),
            (Role::ServerfulPg2, Role::ServerfulPg, "2 nodes ÷ 1 node"),
        ];
        let _ = writeln!(out, "### serverful on PostgreSQL (issue 22)\n");
        let _ = writeln!(
            out,
            "| workload | {} |",
            comparisons
                .iter()
                .map(|(_, _, title)| *title)
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(out, "|---|{}", "---:|".repeat(comparisons.len()));
        for workload in Workload::ALL {
            let cells: Vec<String> = comparisons
                .iter()
                .map(
                    |&(ours, theirs, _)| match self.ratios(ours, theirs, workload) {
                        Some(ratios) if theirs == Role::ExtendDb => {
                            let verdict = if ratios.0 > 1.0 { "met" } else { "**missed**" };
                            format!("{} {verdict}", self.ratio_cell(ratios))
                        }
                        Some(ratios) => self.ratio_cell(ratios),
                        None => "—".to_owned(),
                    },
                )
                .collect();
            let _ = writeln!(out, "| {} | {} |", workload.key(), cells.join(" | "));
        }
        let _ = writeln!(out);
    }

    fn write_targets(&self, out: &mut String) {
        if !self
            .contenders()
            .iter()
            .any(|row| row.role == Role::Serverful)
        {
            return;
        }
        let comparisons: [(Role, &str, f64); 6] = [
            (Role::Moto, "vs moto (≥ 10×)", MOTO_TARGET),
            (
                Role::DynaliteMemory,
                "vs dynalite in memory (≥ 2×)",
                DYNALITE_TARGET,
            ),
            (
                Role::DynaliteDisk,
                "vs dynalite on disk (≥ 2×)",
                DYNALITE_TARGET,
            ),
            (
                Role::DynoxideMemory,
                "vs Dynoxide in memory (> 1×)",
                DYNOXIDE_TARGET,
            ),
            (
                Role::Dynoxide,
                "vs Dynoxide on disk (> 1×)",
                DYNOXIDE_TARGET,
            ),
            (
                Role::Ceiling,
                "vs raw SQLite (≥ 0.33× for the same writes)",
                CEILING_TARGET,
            ),
        ];
        let _ = writeln!(
            out,
            "### serverful's throughput ÷ each contender's (SPEC §13 targets)\n"
        );
        let _ = writeln!(
            out,
            "| workload | {} |",
            comparisons
                .iter()
                .map(|(_, title, _)| *title)
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(out, "|---|{}", "---:|".repeat(comparisons.len()));
        for workload in Workload::ALL {
            let mut cells = Vec::new();
            for (role, _, target) in comparisons {
                let cell = match self.ratios(Role::Serverful, role, workload) {
                    Some(ratios) => {
                        let ratio = ratios.0;
                        let met = if matches!(role, Role::Dynoxide | Role::DynoxideMemory) {
                            ratio > target
                        } else {
                            ratio >= target
                        };
                        // The raw-SQLite target is about doing the same writes; a read
                        // against the in-process ceiling is shown for information.
                        let verdict = if role == Role::Ceiling && workload != Workload::Put {
                            "(for information)"
                        } else if met {
                            "met"
                        } else {
                            "**missed**"
                        };
                        format!("{} {verdict}", self.ratio_cell(ratios))
                    }
                    None => "—".to_owned(),
                };
                cells.push(cell);
            }
            let _ = writeln!(out, "| {} | {} |", workload.key(), cells.join(" | "));
        }
        let _ = writeln!(out);
        self.write_in_process(out);
    }

    /// The raw-SQLite ratio again without HTTP: the ceiling runs in process, so the
    /// endpoint's ratio also counts HTTP, SigV4 and loopback TCP, which the ceiling never
    /// pays. Printed for reference beside the target, which stays the endpoint's ratio.
    fn write_in_process(&self, out: &mut String) {
        let contenders = self.contenders();
        if ![Role::Engine, Role::Ceiling]
            .iter()
            .all(|role| contenders.iter().any(|row| row.role == *role))
        {
            return;
        }
        let _ = writeln!(
            out,
            "### In process: serverful's store engine ÷ raw SQLite (no HTTP on either side; for reference)\n"
        );
        let _ = writeln!(
            out,
            "| workload | engine req/s | raw SQLite req/s | ratio |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|");
        for workload in Workload::ALL {
            let rate = |role: Role| match self.median_run(role, workload) {
                Some(Ok(figures)) => format_rate(figures.requests_per_second),
                _ => "—".to_owned(),
            };
            let Some(ratios) = self.ratios(Role::Engine, Role::Ceiling, workload) else {
                continue;
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                workload.key(),
                rate(Role::Engine),
                rate(Role::Ceiling),
                self.ratio_cell(ratios)
            );
        }
        let _ = writeln!(out);
    }
}

fn one_line(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut shortened: String = line.chars().take(200).collect();
    if shortened.len() < line.len() {
        shortened.push('…');
    }
    shortened.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(rate: f64) -> RunFigures {
        RunFigures {
            requests_per_second: rate,
            p50_us: 1500.0,
            p99_us: 25_000.0,
            errors: 0,
            first_error: None,
            completed: 1000,
            client_cpu_s: Some(0.5),
            server_cpu_s: Some(1.0),
        }
    }

    /// A report of one round of `rows` at the tests' settings, the load average after
    /// it `load_after`.
    fn one_round(load_after: &str, rows: Vec<ContenderRow>) -> StoreReport {
        StoreReport {
            machine: Machine::default(),
            settings: StoreSettings {
                clients: 16,
                warmup_s: 2.0,
                duration_s: 10.0,
                load_threads: 1,
                get_keys: 2000,
                partitions: 100,
            },
            load_before: "1.00 1.00 1.00".to_owned(),
            load_after: load_after.to_owned(),
            versions: vec![],
            rounds: vec![rows],
        }
    }

    fn row(name: &str, role: Role, rate: f64) -> ContenderRow {
        ContenderRow {
            name: name.to_owned(),
            role,
            durability: "somewhere".to_owned(),
            runs: Workload::ALL
                .into_iter()
                .map(|workload| (workload, Ok(figures(rate))))
                .collect(),
            failure: None,
        }
    }

    /// The PostgreSQL rows are judged against ExtendDB (ahead on every operation), and
    /// two nodes are compared with one.
    #[test]
    fn postgres_rows_are_judged_against_extenddb() {
        let report = one_round(
            "1.00 1.00 1.00",
            vec![
                row("pg", Role::ServerfulPg, 3_000.0),
                row("pg2", Role::ServerfulPg2, 4_500.0),
                row("extenddb", Role::ExtendDb, 4_000.0),
            ],
        );
        let markdown = report.to_markdown();
        assert!(
            markdown.contains("| put | 0.75× **missed** | 1.12× met | 1.50× |"),
            "{markdown}"
        );
    }

    #[test]
    fn ratios_are_judged_against_the_targets() {
        let report = one_round(
            "2.00 1.00 1.00",
            vec![
                row("raw SQLite", Role::Ceiling, 40_000.0),
                row("serverful", Role::Serverful, 12_000.0),
                row("moto", Role::Moto, 1_500.0),
                row("engine", Role::Engine, 20_000.0),
            ],
        );
        let markdown = report.to_markdown();
        assert!(
            markdown.contains("| get | 20,000 | 40,000 | 0.50× |"),
            "the in-process line: {markdown}"
        );
        assert!(
            markdown.contains("| serverful | 12,000 | 1.50 ms | 25.0 ms | 0 | 1000 µs | 500 µs |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| put | 8.00× **missed** | — | — | — | — | 0.30× **missed** |"),
            "{markdown}"
        );
        assert!(
            markdown
                .contains("| get | 8.00× **missed** | — | — | — | — | 0.30× (for information) |"),
            "reads against raw SQLite are not judged: {markdown}"
        );
    }

    /// With rounds, a ratio is the median of each round's own ratio, not the ratio of
    /// the medians, and the tables show every round's rate.
    #[test]
    fn rounds_give_median_ratios_within_rounds() {
        let settings = StoreSettings {
            clients: 16,
            warmup_s: 2.0,
            duration_s: 10.0,
            load_threads: 1,
            get_keys: 2000,
            partitions: 100,
        };
        let round = |serverful: f64, moto: f64| {
            vec![
                row("serverful", Role::Serverful, serverful),
                row("moto", Role::Moto, moto),
            ]
        };
        let report = StoreReport {
            machine: Machine::default(),
            settings,
            load_before: "1.00 1.00 1.00".to_owned(),
            load_after: "1.00 1.00 1.00".to_owned(),
            versions: vec![],
            rounds: vec![
                round(12_000.0, 1_500.0),
                round(10_000.0, 500.0),
                round(14_000.0, 1_000.0),
            ],
        };
        let markdown = report.to_markdown();
        assert!(
            markdown.contains(
                "| serverful | 12,000 | 1.50 ms | 25.0 ms | 0 | 1000 µs | 500 µs | 12,000 / 10,000 / 14,000 |"
            ),
            "{markdown}"
        );
        assert!(
            markdown.contains(
                "| moto | 1,000 | 1.50 ms | 25.0 ms | 0 | 1000 µs | 500 µs | 1,500 / 500 / 1,000 |"
            ),
            "{markdown}"
        );
        assert!(
            markdown.contains("| put | 14× (8.00×–20×) met | — |"),
            "{markdown}"
        );
    }

    #[test]
    fn rates_are_grouped_by_thousands() {
        assert_eq!(format_rate(1234567.4), "1,234,567");
        assert_eq!(format_rate(999.0), "999");
    }
}
