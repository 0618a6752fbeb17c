//! The server process's own metrics, read from `/proc/self` at each scrape, under the
//! names every Prometheus client uses for them (`process_resident_memory_bytes`, ...).
//! Hand-written: a handful of numbers in three files, where the crates that read
//! `/proc` in general bring far more than this needs.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use crate::sources::{encode_gauges, Gauge, GaugeFamily, Kind};

/// The size of a page and of a clock tick on every Linux Serverful runs on; `/proc`
/// reports memory in pages and CPU time in ticks.
const PAGE_BYTES: f64 = 4096.0;
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug)]
pub(crate) struct ProcessCollector;

/// What `/proc/self` says now; fields it could not read are `None`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ProcessStats {
    pub resident_bytes: Option<f64>,
    pub virtual_bytes: Option<f64>,
    pub cpu_seconds: Option<f64>,
    pub open_fds: Option<f64>,
    pub max_fds: Option<f64>,
    pub threads: Option<f64>,
}

impl ProcessStats {
    pub fn read() -> ProcessStats {
        let mut stats = ProcessStats::default();
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            stats.read_stat(&stat);
        }
        if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
            let mut fields = statm.split_whitespace();
            stats.virtual_bytes = fields
                .next()
                .and_then(|pages| pages.parse::<f64>().ok())
                .map(|pages| pages * PAGE_BYTES);
            stats.resident_bytes = fields
                .next()
                .and_then(|pages| pages.parse::<f64>().ok())
                .map(|pages| pages * PAGE_BYTES);
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            // The listing's own descriptor is among them.
            stats.open_fds = Some(entries.count().saturating_sub(1) as f64);
        }
        if let Ok(limits) = std::fs::read_to_string("/proc/self/limits") {
            stats.max_fds = limits
                .lines()
                .find(|line| line.starts_with("Max open files"))
                .and_then(|line| line.split_whitespace().nth(3))
                .and_then(|soft| soft.parse().ok());
        }
        stats
    }

    /// Reads `/proc/self/stat`: CPU time (user and system) and threads.
    fn read_stat(&mut self, stat: &str) {
        // The command name may hold spaces and parentheses: fields start after the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state): utime is field 14, stime 15, threads 20.
        let field = |number: usize| {
            fields
                .get(number - 3)
                .and_then(|text| text.parse::<f64>().ok())
        };
        if let (Some(user), Some(system)) = (field(14), field(15)) {
            self.cpu_seconds = Some((user + system) / TICKS_PER_SECOND);
        }
        self.threads = field(20);
    }

    fn families(&self) -> Vec<GaugeFamily> {
        let one = |name, help, value: Option<f64>| GaugeFamily {
            name,
            help,
            kind: Kind::Gauge,
            gauges: value
                .map(|value| Gauge {
                    labels: Vec::new(),
                    value,
                })
                .into_iter()
                .collect(),
        };
        vec![
            one(
                "process_resident_memory_bytes",
                "Resident memory of the Serverful server process in bytes",
                self.resident_bytes,
            ),
            one(
                "process_virtual_memory_bytes",
                "Virtual memory of the Serverful server process in bytes",
                self.virtual_bytes,
            ),
            one(
                "process_open_fds",
                "Open file descriptors of the Serverful server process",
                self.open_fds,
            ),
            one(
                "process_max_fds",
                "Maximum number of open file descriptors of the Serverful server process",
                self.max_fds,
            ),
            one(
                "process_threads",
                "Threads of the Serverful server process",
                self.threads,
            ),
        ]
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = ProcessStats::read();
        for family in stats.families() {
            encode_gauges(&mut encoder, &family)?;
        }
        // CPU time only grows: a counter, as every client reports it.
        if let Some(seconds) = stats.cpu_seconds {
            let metric = encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time of the Serverful server process in seconds",
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            prometheus_client::encoding::EncodeMetric::encode(
                &prometheus_client::metrics::counter::ConstCounter::new(seconds),
                metric,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_and_threads_after_a_command_with_parentheses() {
        let mut stats = ProcessStats::default();
        // Fields 3 to 20 after the command; utime 250 and stime 50 ticks, 7 threads.
        stats.read_stat("42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 7 0");
        assert_eq!(stats.cpu_seconds, Some(3.0));
        assert_eq!(stats.threads, Some(7.0));
    }

    #[test]
    fn reads_this_process() {
        let stats = ProcessStats::read();
        assert!(stats.resident_bytes.is_some_and(|bytes| bytes > 0.0));
        assert!(stats.open_fds.is_some_and(|fds| fds >= 3.0));
        assert!(stats.max_fds.is_some());
    }
}
