//! The queue benchmark's report: one markdown table per workload (every contender's
//! messages/s, latency, errors, the queue check and CPU per message), ElasticMQ's
//! published figure as a reference row, serverful's ratios against each contender, the
//! send → function start latency, and every issue-16 target marked met or MISSED, with the
//! machine and its load, ready to paste into `BENCHMARKS.md`.

use std::fmt::Write as _;

use crate::queue_load::{Check, QueueRun};
use crate::report::{quantile, Machine};
use crate::store_report::{format_rate, format_ratio, format_us, median};

/// Issue 16: serverful at least this many times moto's throughput.
pub const MOTO_TARGET: f64 = 10.0;
/// Issue 16: serverful at least this many times ElasticMQ's published throughput.
pub const ELASTICMQ_TARGET: f64 = 10.0;
/// ElasticMQ's published figure: messages per second through its SQS REST interface, 40
/// client threads on the same machine (a 2012 MacBook Pro), from the Performance section
/// of its README. It needs a JVM and Maven artifacts, which cannot be fetched here.
pub const ELASTICMQ_MESSAGES_PER_SECOND: f64 = 2600.0;
/// Issue 16: send → SQS-triggered function start, median below this (ms).
pub const TRIGGER_P50_TARGET_MS: f64 = 5.0;

/// The two throughput workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Send,
    ReceiveDelete,
}

impl Workload {
    pub const ALL: [Workload; 2] = [Workload::Send, Workload::ReceiveDelete];

    pub fn key(self) -> &'static str {
        match self {
            Workload::Send => "send",
            Workload::ReceiveDelete => "receive+delete",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Workload::Send => "SendMessage",
            Workload::ReceiveDelete => {
                "ReceiveMessage (up to 10) + DeleteMessageBatch, over a filled queue"
            }
        }
    }
}

/// One contender and what each workload measured (or why it did not run).
#[derive(Debug, Clone)]
pub struct ContenderRow {
    /// The `--only` key: `serverful`, `moto`, ...
    pub key: String,
    pub name: String,
    /// Where its messages live and when a send is acknowledged.
    pub durability: String,
    /// The protocol it was spoken to in, once known.
    pub protocol: Option<&'static str>,
    pub runs: Vec<(Workload, Result<QueueRun, String>)>,
    /// Set when the contender did not start at all.
    pub failure: Option<String>,
}

impl ContenderRow {
    fn figures(&self, workload: Workload) -> Option<&QueueRun> {
        self.runs
            .iter()
            .find(|(run_workload, _)| *run_workload == workload)
            .and_then(|(_, outcome)| outcome.as_ref().ok())
    }
}

/// The send → function start measurement (serverful only).
#[derive(Debug, Clone)]
pub enum Trigger {
    NotRun,
    Failed(String),
    /// The time from each send to its function's start, ms.
    Measured(Vec<f64>),
}

/// How the runs were set up.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    pub clients: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub prefill_s: f64,
    pub max_prefill: u64,
    pub load_threads: usize,
    pub request_timeout_s: f64,
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct QueueReport {
    pub machine: Machine,
    pub settings: QueueSettings,
    pub load_before: String,
    pub load_after: String,
    /// Versions of the emulators, as installed for the run.
    pub versions: Vec<String>,
    /// Every round's rows, one per contender, in the same order in every round.
    pub rounds: Vec<Vec<ContenderRow>>,
    pub trigger: Trigger,
}

impl QueueReport {
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let machine = &self.machine;
        let settings = &self.settings;
        let _ = writeln!(out, "## Queues (`bash bench/queues.sh`), issue 16\n");
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
            "Each workload: {} clients, each with one call in flight (closed loop) on its own keep-alive HTTP/1.1 connection, {} s warm-up then {} s recorded, SigV4-signed, in SQS's JSON protocol (the query protocol for a server without it); the load generator is this driver ({} thread{}). Every contender starts fresh on a loopback port. **send**: `SendMessage` of a ~200-byte body, checked against its `MD5OfMessageBody`. **receive+delete**: the queue is first filled with `SendMessageBatch` (10 a call, {} clients) for {} s or {} messages, whichever comes first; then each round trip is `ReceiveMessage` (`MaxNumberOfMessages` 10, no wait, each body checked against its MD5) and `DeleteMessageBatch` of what came (every entry must succeed); messages/s counts the deleted ones, p50/p99 are per round trip. A receive that finds the queue empty ends the recorded part there (\"drained\"). After each run the queue's approximate counts (visible + in flight) must equal what the acknowledged calls left: the **check** column. Errors count failed connections, timeouts ({} s), non-200 answers and wrong answers.\n",
            settings.clients,
            settings.warmup_s,
            settings.duration_s,
            settings.load_threads,
            if settings.load_threads == 1 { "" } else { "s" },
            settings.clients,
            settings.prefill_s,
            format_rate(settings.max_prefill as f64),
            settings.request_timeout_s,
        );
        if self.rounds.len() > 1 {
            let _ = writeln!(
                out,
                "{} rounds: in each round every contender runs both workloads on a fresh server, the contenders taking turns, in reverse order every other round. Tables show each contender's median round (by messages/s) and every round's messages/s; each ratio is the median over the rounds of the ratio within a round, with the lowest and highest.\n",
                self.rounds.len()
            );
        }
        let _ = writeln!(out, "| contender | protocol | durability |");
        let _ = writeln!(out, "|---|---|---|");
        for row in self.contenders() {
            let protocol = self
                .rows_of(&row.key)
                .find_map(|row| row.protocol)
                .unwrap_or("—");
            let _ = writeln!(out, "| {} | {protocol} | {} |", row.name, row.durability);
        }
        let _ = writeln!(
            out,
            "| ElasticMQ (published figure, not run) | query | in memory; JVM, not installable here |\n"
        );
        for workload in Workload::ALL {
            self.write_workload(&mut out, workload);
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
        self.write_ratios(&mut out);
        self.write_trigger(&mut out);
        self.write_targets(&mut out);
        out
    }

    fn write_workload(&self, out: &mut String, workload: Workload) {
        let several = self.rounds.len() > 1;
        let receive = workload == Workload::ReceiveDelete;
        let _ = writeln!(out, "### {}\n", workload.title());
        let _ = writeln!(
            out,
            "| contender | messages/s | {} | p50 | p99 | errors | check | server CPU / message | client CPU / message |{}{}",
            if receive { "round trips/s" } else { "calls/s" },
            if receive { " queue at start | drained |" } else { "" },
            if several { " messages/s per round |" } else { "" }
        );
        let columns = 9 + if receive { 2 } else { 0 } + usize::from(several);
        let _ = writeln!(out, "|---|{}", "---:|".repeat(columns - 1));
        let empty = " |".repeat(columns - 2);
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
            let per_round = if several {
                let rates: Vec<String> = self
                    .rows_of(&row.key)
                    .map(|row| {
                        row.runs
                            .iter()
                            .find(|(run_workload, _)| *run_workload == workload)
                            .and_then(|(_, outcome)| outcome.as_ref().ok())
                            .map_or("—".to_owned(), |run| format_rate(run.messages_per_second))
                    })
                    .collect();
                format!(" {} |", rates.join(" / "))
            } else {
                String::new()
            };
            let outcome = self.median_run(&row.key, workload).or_else(|| {
                row.runs
                    .iter()
                    .find(|(run_workload, _)| *run_workload == workload)
                    .map(|(_, outcome)| outcome)
            });
            match outcome {
                Some(Ok(run)) => {
                    let receive_cells = if receive {
                        format!(
                            " {} | {} |",
                            run.depth_at_start
                                .map_or("—".to_owned(), |depth| format_rate(depth as f64)),
                            run.drained_at_s
                                .map_or("no".to_owned(), |at| format!("after {at:.1} s")),
                        )
                    } else {
                        String::new()
                    };
                    let whole_run = if run.whole_run {
                        " (whole run: no call ended within the recorded part)"
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        out,
                        "| {} | {}{whole_run} | {} | {} | {} | {} | {} | {} | {} |{receive_cells}{per_round}",
                        row.name,
                        format_rate(run.messages_per_second),
                        format_rate(run.calls_per_second),
                        format_us(run.p50_us),
                        format_us(run.p99_us),
                        run.errors,
                        check_cell(&run.check),
                        cpu_per_message(run.server_cpu_s, run.messages_total),
                        cpu_per_message(run.client_cpu_s, run.messages_total),
                    );
                }
                Some(Err(failure)) => {
                    let _ = writeln!(out, "| {} | failed: {}{empty}", row.name, one_line(failure));
                }
                None => {
                    let _ = writeln!(out, "| {} | not run{empty}", row.name);
                }
            }
        }
        let _ = writeln!(
            out,
            "| ElasticMQ (published, 40 threads, 2012 MacBook Pro) | {} |{}",
            format_rate(ELASTICMQ_MESSAGES_PER_SECOND),
            " |".repeat(columns - 2)
        );
        let _ = writeln!(out);
    }

    /// The contenders, as the first round lists them.
    fn contenders(&self) -> &[ContenderRow] {
        self.rounds.first().map_or(&[], Vec::as_slice)
    }

    /// One contender's row in every round.
    fn rows_of<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a ContenderRow> + 'a {
        self.rounds
            .iter()
            .filter_map(move |rows| rows.iter().find(|row| row.key == key))
    }

    /// The contender's run in its median round by messages/s (the lower of the middle two
    /// for an even count), among the rounds where it ran.
    fn median_run<'a>(
        &'a self,
        key: &'a str,
        workload: Workload,
    ) -> Option<&'a Result<QueueRun, String>> {
        let mut runs: Vec<&Result<QueueRun, String>> = self
            .rows_of(key)
            .filter_map(|row| {
                row.runs
                    .iter()
                    .find(|(run_workload, outcome)| *run_workload == workload && outcome.is_ok())
                    .map(|(_, outcome)| outcome)
            })
            .collect();
        runs.sort_by(|a, b| {
            let rate = |run: &&Result<QueueRun, String>| {
                run.as_ref().map_or(0.0, |run| run.messages_per_second)
            };
            rate(a).total_cmp(&rate(b))
        });
        let middle = runs.len().saturating_sub(1) / 2;
        runs.get(middle).copied()
    }

    /// serverful's messages/s ÷ the contender's (or ÷ a fixed figure when `theirs` is
    /// `None`) within each round where both ran: the median, the lowest and the highest.
    fn ratios(&self, theirs: Option<&str>, workload: Workload) -> Option<(f64, f64, f64)> {
        let mut ratios: Vec<f64> = self
            .rounds
            .iter()
            .filter_map(|rows| {
                let rate = |key: &str| {
                    rows.iter()
                        .find(|row| row.key == key)
                        .and_then(|row| row.figures(workload))
                        .map(|run| run.messages_per_second)
                };
                let ours = rate("serverful")?;
                let theirs = match theirs {
                    Some(key) => rate(key)?,
                    None => ELASTICMQ_MESSAGES_PER_SECOND,
                };
                (theirs > 0.0).then(|| ours / theirs)
            })
            .collect();
        let middle = median(&mut ratios)?;
        Some((middle, ratios[0], ratios[ratios.len() - 1]))
    }

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

    /// The comparisons: the contender's key (none for ElasticMQ's figure), the column
    /// title, the target ratio and whether it must be exceeded rather than reached.
    fn comparisons(&self) -> Vec<(Option<String>, String, f64, bool)> {
        let mut comparisons = Vec::new();
        for row in self.contenders() {
            if row.key == "serverful" {
                continue;
            }
            if row.key == "moto" {
                comparisons.push((
                    Some(row.key.clone()),
                    format!("vs {} (≥ 10×)", row.name),
                    MOTO_TARGET,
                    false,
                ));
            } else {
                comparisons.push((
                    Some(row.key.clone()),
                    format!("vs {} (> 1×)", row.name),
                    1.0,
                    true,
                ));
            }
        }
        comparisons.push((
            None,
            "vs ElasticMQ's published 2,600/s (≥ 10×)".to_owned(),
            ELASTICMQ_TARGET,
            false,
        ));
        comparisons
    }

    fn write_ratios(&self, out: &mut String) {
        if !self.contenders().iter().any(|row| row.key == "serverful") {
            return;
        }
        let comparisons = self.comparisons();
        let _ = writeln!(
            out,
            "### serverful's messages/s ÷ each contender's (issue 16 targets)\n"
        );
        let _ = writeln!(
            out,
            "| workload | {} |",
            comparisons
                .iter()
                .map(|(_, title, _, _)| title.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(out, "|---|{}", "---:|".repeat(comparisons.len()));
        for workload in Workload::ALL {
            let cells: Vec<String> = comparisons
                .iter()
                .map(
                    |(key, _, target, strictly)| match self.ratios(key.as_deref(), workload) {
                        Some(ratios) => format!(
                            "{} {}",
                            self.ratio_cell(ratios),
                            verdict(ratios.0, *target, *strictly)
                        ),
                        None => "—".to_owned(),
                    },
                )
                .collect();
            let _ = writeln!(out, "| {} | {} |", workload.key(), cells.join(" | "));
        }
        let _ = writeln!(
            out,
            "\nA **WRONG** check (in the tables above) means the queue's counts after the run do not add up: fewer messages than acknowledged sends left (lost), or more than the deletes left (a message handed to two receivers and deleted twice, or a delete that did not delete).\n"
        );
    }

    fn write_trigger(&self, out: &mut String) {
        let _ = writeln!(out, "### send → SQS-triggered function start (serverful)\n");
        match &self.trigger {
            Trigger::NotRun => {
                let _ = writeln!(out, "Not run.\n");
            }
            Trigger::Failed(failure) => {
                let _ = writeln!(out, "Failed: {}\n", one_line(failure));
            }
            Trigger::Measured(times) => {
                let _ = writeln!(
                    out,
                    "`serverful up` (`--sandbox off`) on an app whose Node.js function has a SAM `SQS` event (`BatchSize: 1`) on its queue; the function reports each record's body to a loopback listener of the driver. {} `SendMessage`s (JSON protocol), one at a time, each once the previous one's function has started, after 5 unrecorded ones (the first starts the instance).\n",
                    times.len()
                );
                let _ = writeln!(out, "| sends | p50 | p99 | max |");
                let _ = writeln!(out, "|---:|---:|---:|---:|");
                let max = times.iter().copied().fold(0.0_f64, f64::max);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {max:.2} ms |\n",
                    times.len(),
                    quantile(times, 0.5).map_or("—".to_owned(), |p50| format!("{p50:.2} ms")),
                    quantile(times, 0.99).map_or("—".to_owned(), |p99| format!("{p99:.2} ms")),
                );
            }
        }
    }

    fn write_targets(&self, out: &mut String) {
        let _ = writeln!(out, "### Targets\n");
        let has_serverful = self.contenders().iter().any(|row| row.key == "serverful");
        for workload in Workload::ALL {
            if !has_serverful {
                break;
            }
            let moto = self.ratios(Some("moto"), workload);
            let _ = writeln!(
                out,
                "- {}: ≥ 10× moto: {}",
                workload.key(),
                moto.map_or("not measured".to_owned(), |ratios| format!(
                    "{} ({})",
                    verdict(ratios.0, MOTO_TARGET, false),
                    format_ratio(ratios.0)
                ))
            );
            let elasticmq = self.ratios(None, workload);
            let _ = writeln!(
                out,
                "- {}: ≥ 10× ElasticMQ's published 2,600 messages/s (26,000/s): {}",
                workload.key(),
                elasticmq.map_or("not measured".to_owned(), |ratios| format!(
                    "{} ({})",
                    verdict(ratios.0, ELASTICMQ_TARGET, false),
                    format_ratio(ratios.0)
                ))
            );
            let behind: Vec<String> = self
                .comparisons()
                .into_iter()
                .filter_map(|(key, _, _, _)| {
                    let key = key?;
                    let name = self
                        .contenders()
                        .iter()
                        .find(|row| row.key == key)
                        .map(|row| row.name.clone())?;
                    match self.ratios(Some(&key), workload) {
                        Some(ratios) if ratios.0 > 1.0 => None,
                        Some(ratios) => Some(format!("{name} ({})", format_ratio(ratios.0))),
                        None => None,
                    }
                })
                .collect();
            let measured = self
                .contenders()
                .iter()
                .filter(|row| row.key != "serverful")
                .filter(|row| self.ratios(Some(&row.key), workload).is_some())
                .count();
            let _ = writeln!(
                out,
                "- {}: ahead of every contender (durable queues): {}",
                workload.key(),
                if self.ratios(Some("serverful"), workload).is_none() {
                    "not measured".to_owned()
                } else if measured == 0 {
                    "not measured (no other contender completed it)".to_owned()
                } else if behind.is_empty() {
                    format!(
                        "met ({measured} contender{} measured)",
                        if measured == 1 { "" } else { "s" }
                    )
                } else {
                    format!("MISSED, behind {}", behind.join(", "))
                }
            );
        }
        let trigger = match &self.trigger {
            Trigger::Measured(times) => match quantile(times, 0.5) {
                Some(p50) => format!(
                    "{} (p50 {p50:.2} ms)",
                    if p50 < TRIGGER_P50_TARGET_MS {
                        "met"
                    } else {
                        "MISSED"
                    }
                ),
                None => "not measured".to_owned(),
            },
            Trigger::Failed(_) => "not measured (failed)".to_owned(),
            Trigger::NotRun => "not run".to_owned(),
        };
        let _ = writeln!(out, "- send → function start p50 < 5 ms: {trigger}");
    }
}

fn verdict(ratio: f64, target: f64, strictly: bool) -> &'static str {
    let met = if strictly {
        ratio > target
    } else {
        ratio >= target
    };
    if met {
        "met"
    } else {
        "MISSED"
    }
}

fn check_cell(check: &Check) -> String {
    match check {
        Check::Held { messages } => format!("ok ({} left)", format_rate(*messages as f64)),
        Check::Wrong { expected, found } => format!(
            "**WRONG**: holds {}, expected {}",
            format_rate(*found as f64),
            format_rate(*expected as f64)
        ),
        Check::Unknown(why) => format!("unknown: {}", one_line(why)),
    }
}

fn cpu_per_message(seconds: Option<f64>, messages: u64) -> String {
    match seconds {
        Some(seconds) if messages > 0 => format!("{:.0} µs", seconds * 1e6 / messages as f64),
        _ => "—".to_owned(),
    }
}

/// A failure message on one table line.
fn one_line(text: &str) -> String {
    let line = text.replace(['\n', '|'], " ");
    if line.chars().count() > 300 {
        format!("{}…", line.chars().take(300).collect::<String>())
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate: f64, check: Check) -> QueueRun {
        QueueRun {
            messages_per_second: rate,
            calls_per_second: rate,
            p50_us: 1500.0,
            p99_us: 25_000.0,
            errors: 0,
            first_error: None,
            messages_total: 1000,
            calls_total: 1000,
            measured_s: 10.0,
            drained_at_s: None,
            whole_run: false,
            depth_at_start: Some(5000),
            check,
            client_cpu_s: Some(0.5),
            server_cpu_s: Some(1.0),
        }
    }

    fn row(key: &str, send: f64, receive: f64, check: Check) -> ContenderRow {
        ContenderRow {
            key: key.to_owned(),
            name: key.to_owned(),
            durability: "somewhere".to_owned(),
            protocol: Some("JSON"),
            runs: vec![
                (Workload::Send, Ok(run(send, check.clone()))),
                (Workload::ReceiveDelete, Ok(run(receive, check))),
            ],
            failure: None,
        }
    }

    fn report(rounds: Vec<Vec<ContenderRow>>, trigger: Trigger) -> String {
        QueueReport {
            machine: Machine::default(),
            settings: QueueSettings {
                clients: 16,
                warmup_s: 2.0,
                duration_s: 10.0,
                prefill_s: 12.0,
                max_prefill: 1_000_000,
                load_threads: 1,
                request_timeout_s: 30.0,
            },
            load_before: "1 1 1".to_owned(),
            load_after: "1 1 1".to_owned(),
            versions: vec![],
            rounds,
            trigger,
        }
        .to_markdown()
    }

    #[test]
    fn judges_every_target() {
        let held = Check::Held { messages: 0 };
        let markdown = report(
            vec![vec![
                row("serverful", 30_000.0, 20_000.0, held.clone()),
                row("moto", 1_000.0, 3_000.0, held.clone()),
                row("fakecloud", 40_000.0, 10_000.0, held),
            ]],
            Trigger::Measured(vec![1.0, 2.0, 3.0, 9.0]),
        );
        assert!(
            markdown.contains("| send | 30× met | 0.75× MISSED | 12× met |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| receive+delete | 6.67× MISSED | 2.00× met | 7.69× MISSED |"),
            "{markdown}"
        );
        assert!(markdown.contains("- send: ahead of every contender (durable queues): MISSED, behind fakecloud (0.75×)"), "{markdown}");
        assert!(markdown.contains("- receive+delete: ahead of every contender (durable queues): met (2 contenders measured)"), "{markdown}");
        assert!(
            markdown.contains("- send → function start p50 < 5 ms: met (p50 2.00 ms)"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| serverful | 30,000 | 30,000 | 1.50 ms | 25.0 ms | 0 | ok (0 left) | 1000 µs | 500 µs |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| ElasticMQ (published, 40 threads, 2012 MacBook Pro) | 2,600 |"),
            "{markdown}"
        );
    }

    #[test]
    fn a_wrong_queue_is_flagged() {
        let markdown = report(
            vec![vec![
                row("serverful", 30_000.0, 30_000.0, Check::Held { messages: 0 }),
                row(
                    "sqslite",
                    1_000.0,
                    1_000.0,
                    Check::Wrong {
                        expected: 10,
                        found: 0,
                    },
                ),
            ]],
            Trigger::Failed("no poller".to_owned()),
        );
        assert!(
            markdown.contains("| send | 30× met | 12× met |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("**WRONG**: holds 0, expected 10"),
            "{markdown}"
        );
        assert!(
            markdown.contains("- send → function start p50 < 5 ms: not measured (failed)"),
            "{markdown}"
        );
    }

    #[test]
    fn ratios_are_medians_over_rounds() {
        let held = Check::Held { messages: 0 };
        let round = |ours: f64, theirs: f64| {
            vec![
                row("serverful", ours, ours, held.clone()),
                row("moto", theirs, theirs, held.clone()),
            ]
        };
        let markdown = report(
            vec![
                round(12_000.0, 1_500.0),
                round(10_000.0, 500.0),
                round(14_000.0, 1_000.0),
            ],
            Trigger::NotRun,
        );
        assert!(
            markdown.contains("| send | 14× (8.00×–20×) met |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("12,000 / 10,000 / 14,000 |"),
            "{markdown}"
        );
    }
}
