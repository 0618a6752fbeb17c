//! The S3 benchmark's markdown report: PUT and GET of small and large objects per
//! contender beside the disk's durable ceiling, the large multipart upload with the
//! server's memory, and the targets (ahead of every contender; at least half the
//! ceiling on 1 MB objects; flat memory on the large upload).

use std::fmt::Write as _;

use crate::report::Machine;
use crate::s3_load::{MultipartRun, S3Run};

/// Object sizes measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// 4 KB objects.
    Small,
    /// 1 MB objects.
    Large,
}

impl Workload {
    pub fn title(self) -> &'static str {
        match self {
            Workload::Small => "4 KB objects",
            Workload::Large => "1 MB objects",
        }
    }
}

/// How the run was set up.
#[derive(Debug, Clone)]
pub struct Settings {
    pub clients: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub get_objects: usize,
    pub multipart_bytes: u64,
    pub part_bytes: u64,
    pub parts_in_flight: usize,
    pub payload: String,
}

/// The multipart upload of one contender, with the server's resident memory (its own
/// and its children's) before it and at its highest during it.
#[derive(Debug, Clone)]
pub struct Multipart {
    pub outcome: Result<MultipartRun, String>,
    pub idle_rss: Option<u64>,
    pub peak_rss: Option<u64>,
}

/// One contender's figures.
#[derive(Debug, Clone)]
pub struct ContenderRow {
    pub key: String,
    pub name: String,
    pub storage: String,
    /// (size, `PUT` or `GET`, run).
    pub runs: Vec<(Workload, &'static str, Result<S3Run, String>)>,
    pub multipart: Option<Multipart>,
    /// Why it did not run.
    pub failure: Option<String>,
}

impl ContenderRow {
    fn run(&self, workload: Workload, operation: &str) -> Option<&Result<S3Run, String>> {
        self.runs
            .iter()
            .find(|(w, o, _)| *w == workload && *o == operation)
            .map(|(_, _, run)| run)
    }
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct S3Report {
    pub machine: Machine,
    pub settings: Settings,
    pub load_before: String,
    pub load_after: String,
    pub versions: Vec<String>,
    /// The disk's durable PUT ceiling per size.
    pub ceiling: Vec<(Workload, S3Run)>,
    /// Seconds to write and fsync the multipart upload's bytes as one file.
    pub ceiling_large_s: Option<f64>,
    pub rows: Vec<ContenderRow>,
}

/// How much a server may grow during the large upload and still count as flat (buffers
/// of the parts in flight), or a sixteenth of the upload if that is more.
const FLAT_GROWTH: u64 = 128 * 1000 * 1000;

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / f64::from(1u32 << 20))
}

impl S3Report {
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let machine = &self.machine;
        let settings = &self.settings;
        let _ = writeln!(out, "## S3 (`bash bench/s3.sh`), issue 18\n");
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
            "Each workload: {} clients, each with one call in flight (closed loop) on its own keep-alive HTTP/1.1 connection, {} s warm-up then {} s recorded, path-style, SigV4-signed with a {} payload. **PUT** writes new keys; an answer counts when its ETag is the MD5 of the bytes sent. **GET** reads {} objects written first, round-robin; an answer counts when its body is the bytes written. Errors count failed connections, timeouts, other statuses and wrong answers. The **ceiling** is the same PUT done by this program straight on the same disk with the durability serverful gives an acknowledged upload (a new file written, fsync'd, renamed, its folder fsync'd), with the same number of writers. CPU is the server's (with its children) per object, over warm-up and recorded part.\n",
            settings.clients,
            settings.warmup_s,
            settings.duration_s,
            if settings.payload == "signed" {
                "SHA-256-signed"
            } else {
                "`UNSIGNED-PAYLOAD`"
            },
            settings.get_objects,
        );
        let _ = writeln!(out, "| contender | storage |");
        let _ = writeln!(out, "|---|---|");
        for row in &self.rows {
            let _ = writeln!(out, "| {} | {} |", row.name, row.storage);
        }
        let _ = writeln!(out);
        for workload in [Workload::Small, Workload::Large] {
            for operation in ["PUT", "GET"] {
                self.write_table(&mut out, workload, operation);
            }
        }
        self.write_multipart(&mut out);
        self.write_targets(&mut out);
        let failures: Vec<String> = self
            .rows
            .iter()
            .filter_map(|row| Some(format!("- {}: {}", row.name, row.failure.as_ref()?)))
            .collect();
        let errors: Vec<String> = self
            .rows
            .iter()
            .flat_map(|row| {
                row.runs
                    .iter()
                    .filter_map(move |(workload, operation, run)| {
                        let message = match run {
                            Ok(run) => run.first_error.clone()?,
                            Err(error) => error.clone(),
                        };
                        Some(format!(
                            "- {} {operation} {}: {message}",
                            row.name,
                            workload.title()
                        ))
                    })
            })
            .collect();
        if !failures.is_empty() || !errors.is_empty() {
            let _ = writeln!(out, "Did not run, or first errors:\n");
            for line in failures.iter().chain(&errors) {
                let _ = writeln!(out, "{line}");
            }
            let _ = writeln!(out);
        }
        out
    }

    fn serverful(&self) -> Option<&ContenderRow> {
        self.rows.iter().find(|row| row.key == "serverful")
    }

    fn write_table(&self, out: &mut String, workload: Workload, operation: &str) {
        let ran: Vec<&ContenderRow> = self
            .rows
            .iter()
            .filter(|row| row.run(workload, operation).is_some())
            .collect();
        let ceiling = (operation == "PUT")
            .then(|| self.ceiling.iter().find(|(w, _)| *w == workload))
            .flatten();
        if ran.is_empty() && ceiling.is_none() {
            return;
        }
        let serverful = self
            .serverful()
            .and_then(|row| row.run(workload, operation))
            .and_then(|run| run.as_ref().ok())
            .map(|run| run.objects_per_second);
        let _ = writeln!(out, "### {operation} of {}\n", workload.title());
        let _ = writeln!(
            out,
            "| contender | objects/s | MB/s | p50 | p99 | errors | server CPU per object | serverful ÷ it |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        if let Some((_, run)) = ceiling {
            let _ = writeln!(
                out,
                "| ceiling (the disk, durable) | {:.0} | {:.1} | {} | {} | {} | — | {} |",
                run.objects_per_second,
                run.megabytes_per_second,
                micros(run.p50_us),
                micros(run.p99_us),
                run.errors,
                ratio(serverful, run.objects_per_second),
            );
        }
        for row in ran {
            match row.run(workload, operation) {
                Some(Ok(run)) => {
                    let per_object = run
                        .server_cpu_s
                        .filter(|_| run.calls_total > 0)
                        .map(|cpu| micros(cpu * 1e6 / run.calls_total as f64))
                        .unwrap_or_else(|| "—".to_owned());
                    let _ = writeln!(
                        out,
                        "| {} | {:.0} | {:.1} | {} | {} | {} | {per_object} | {} |",
                        row.name,
                        run.objects_per_second,
                        run.megabytes_per_second,
                        micros(run.p50_us),
                        micros(run.p99_us),
                        run.errors,
                        if row.key == "serverful" {
                            "—".to_owned()
                        } else {
                            ratio(serverful, run.objects_per_second)
                        },
                    );
                }
                Some(Err(error)) => {
                    let _ = writeln!(out, "| {} | failed: {error} | | | | | | |", row.name);
                }
                None => {}
            }
        }
        let _ = writeln!(out);
    }

    fn write_multipart(&self, out: &mut String) {
        let ran: Vec<(&ContenderRow, &Multipart)> = self
            .rows
            .iter()
            .filter_map(|row| Some((row, row.multipart.as_ref()?)))
            .collect();
        if ran.is_empty() {
            return;
        }
        let settings = &self.settings;
        let _ = writeln!(
            out,
            "### Multipart upload of {}\n\n{} parts of {}, {} in flight at once on their own connections, then `CompleteMultipartUpload` (its ETag checked) and a `GetObject` of the whole object read as it streams (size and ETag checked). Memory is the server's resident set (with its children), before the upload and at its highest during it (sampled every 50 ms).\n",
            mib(settings.multipart_bytes),
            settings.multipart_bytes / settings.part_bytes.max(1),
            mib(settings.part_bytes),
            settings.parts_in_flight,
        );
        let _ = writeln!(
            out,
            "| contender | upload (create, parts, complete) | MB/s | of which complete | read back | memory before | memory at most |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        if let Some(seconds) = self.ceiling_large_s {
            let _ = writeln!(
                out,
                "| ceiling (one file written and fsync'd) | {seconds:.1} s | {:.0} | — | — | — | — |",
                settings.multipart_bytes as f64 / 1e6 / seconds
            );
        }
        for (row, multipart) in ran {
            let memory = |bytes: Option<u64>| {
                bytes.map_or_else(
                    || "—".to_owned(),
                    |bytes| format!("{:.0} MB", bytes as f64 / 1e6),
                )
            };
            match &multipart.outcome {
                Ok(run) => {
                    let _ = writeln!(
                        out,
                        "| {} | {:.1} s | {:.0} | {:.1} s | {:.1} s | {} | {} |",
                        row.name,
                        run.upload_s,
                        run.bytes as f64 / 1e6 / run.upload_s,
                        run.complete_s,
                        run.read_s,
                        memory(multipart.idle_rss),
                        memory(multipart.peak_rss),
                    );
                }
                Err(error) => {
                    let _ = writeln!(
                        out,
                        "| {} | failed: {error} | | | | {} | {} |",
                        row.name,
                        memory(multipart.idle_rss),
                        memory(multipart.peak_rss)
                    );
                }
            }
        }
        let _ = writeln!(out);
    }

    fn write_targets(&self, out: &mut String) {
        let Some(serverful) = self.serverful() else {
            return;
        };
        let _ = writeln!(out, "### Targets\n");
        for workload in [Workload::Small, Workload::Large] {
            for operation in ["PUT", "GET"] {
                let Some(Ok(ours)) = serverful.run(workload, operation) else {
                    continue;
                };
                let behind: Vec<String> = self
                    .rows
                    .iter()
                    .filter(|row| row.key != "serverful")
                    .filter_map(|row| match row.run(workload, operation) {
                        Some(Ok(run)) if run.objects_per_second > ours.objects_per_second => {
                            Some(format!("{} ({:.0}/s)", row.name, run.objects_per_second))
                        }
                        _ => None,
                    })
                    .collect();
                let verdict = if behind.is_empty() {
                    "ahead of every contender that ran".to_owned()
                } else {
                    format!("**behind** {}", behind.join(", "))
                };
                let _ = writeln!(
                    out,
                    "- {operation} of {}: serverful {:.0}/s, {verdict}.",
                    workload.title(),
                    ours.objects_per_second
                );
            }
        }
        if let (Some(Ok(ours)), Some((_, ceiling))) = (
            serverful.run(Workload::Large, "PUT"),
            self.ceiling.iter().find(|(w, _)| *w == Workload::Large),
        ) {
            let share =
                ours.megabytes_per_second / ceiling.megabytes_per_second.max(f64::MIN_POSITIVE);
            let _ = writeln!(
                out,
                "- 1 MB PUT against the disk's durable ceiling: {:.0}% (target ≥ 50%): {}.",
                share * 100.0,
                if share >= 0.5 { "met" } else { "**missed**" }
            );
        }
        if let Some(multipart) = &serverful.multipart {
            if let (Ok(_), Some(idle), Some(peak)) =
                (&multipart.outcome, multipart.idle_rss, multipart.peak_rss)
            {
                let grew = peak.saturating_sub(idle);
                let _ = writeln!(
                    out,
                    "- {} upload with flat memory: the server grew by {:.0} MB at most ({}).",
                    mib(self.settings.multipart_bytes),
                    grew as f64 / 1e6,
                    if grew < FLAT_GROWTH.max(self.settings.multipart_bytes / 16) {
                        "flat: a small fraction of the upload"
                    } else {
                        "**not flat**"
                    }
                );
            }
        }
        let _ = writeln!(out);
    }
}

fn micros(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.1} ms", value / 1000.0)
    } else {
        format!("{value:.0} µs")
    }
}

fn ratio(ours: Option<f64>, theirs: f64) -> String {
    match ours {
        Some(ours) if theirs > 0.0 => format!("{:.2}×", ours / theirs),
        _ => "—".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(objects_per_second: f64, size: f64) -> S3Run {
        S3Run {
            objects_per_second,
            megabytes_per_second: objects_per_second * size / 1e6,
            p50_us: 900.0,
            p99_us: 20_000.0,
            errors: 0,
            first_error: None,
            calls_total: 100,
            server_cpu_s: Some(0.01),
            client_cpu_s: Some(0.01),
        }
    }

    #[test]
    fn reports_ratios_targets_and_failures() {
        let row = |key: &str, puts: f64| ContenderRow {
            key: key.to_owned(),
            name: key.to_owned(),
            storage: "files".to_owned(),
            runs: vec![
                (Workload::Large, "PUT", Ok(run(puts, 1_048_576.0))),
                (Workload::Large, "GET", Err("GET refused".to_owned())),
            ],
            multipart: None,
            failure: None,
        };
        let mut rows = vec![row("serverful", 100.0), row("moto", 50.0)];
        rows[0].multipart = Some(Multipart {
            outcome: Ok(MultipartRun {
                bytes: 1 << 30,
                parts: 64,
                upload_s: 10.0,
                complete_s: 1.0,
                read_s: 2.0,
            }),
            idle_rss: Some(20_000_000),
            peak_rss: Some(40_000_000),
        });
        rows.push(ContenderRow {
            failure: Some("not installed".to_owned()),
            runs: Vec::new(),
            ..row("s3rver", 0.0)
        });
        let report = S3Report {
            machine: Machine::default(),
            settings: Settings {
                clients: 16,
                warmup_s: 2.0,
                duration_s: 10.0,
                get_objects: 200,
                multipart_bytes: 1 << 30,
                part_bytes: 16 << 20,
                parts_in_flight: 4,
                payload: "unsigned".to_owned(),
            },
            load_before: "0.1".to_owned(),
            load_after: "0.2".to_owned(),
            versions: Vec::new(),
            ceiling: vec![(Workload::Large, run(150.0, 1_048_576.0))],
            ceiling_large_s: Some(5.0),
            rows,
        };
        let markdown = report.to_markdown();
        assert!(markdown.contains("| moto | 50 | 52.4 |"), "{markdown}");
        assert!(markdown.contains("| 2.00× |"), "{markdown}");
        assert!(
            markdown.contains("ceiling: 67% (target ≥ 50%): met"),
            "{markdown}"
        );
        assert!(
            markdown.contains("grew by 20 MB at most (flat"),
            "{markdown}"
        );
        assert!(markdown.contains("- s3rver: not installed"), "{markdown}");
        assert!(
            markdown.contains("| serverful | failed: GET refused"),
            "{markdown}"
        );
    }
}
