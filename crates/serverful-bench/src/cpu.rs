//! CPU time of processes, from `/proc/PID/stat`: how the benchmark splits the work of a
//! run between serverful, its function processes and the load generator.

use std::collections::HashMap;
use std::time::Duration;

/// Linux reports `/proc` times in `USER_HZ` ticks, 100 per second on every architecture
/// Rust supports (`getconf CLK_TCK`); reading it would need libc, which this crate avoids.
const TICKS_PER_SECOND: u64 = 100;

/// How deep the process tree is followed below a server.
const MAX_TREE_DEPTH: usize = 8;

/// User + system CPU time the process has used so far (its own, not its reaped children's).
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu(&stat)
}

/// The `utime` and `stime` fields of a `/proc/PID/stat` line, added up.
fn parse_stat_cpu(stat: &str) -> Option<Duration> {
    // The command name is in parentheses and may hold spaces; fields count from after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 3 of the line, utime 14 and stime 15.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis(
        (user + system) * 1000 / TICKS_PER_SECOND,
    ))
}

/// The live children of `pid` (of any of its threads).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        found.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    found
}

/// The live descendants of `pid` (children of any of its threads, and theirs).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut level = vec![pid];
    for _ in 0..MAX_TREE_DEPTH {
        let next: Vec<u32> = level.into_iter().flat_map(children).collect();
        if next.is_empty() {
            break;
        }
        found.extend(&next);
        level = next;
    }
    found
}

/// CPU used so far by each live descendant of `pid` (for serverful, the function
/// processes), by process id.
pub fn descendants_cpu(pid: u32) -> HashMap<u32, Duration> {
    descendants(pid)
        .into_iter()
        .filter_map(|child| Some((child, process_cpu(child)?)))
        .collect()
}

/// The CPU the descendants used between two [`descendants_cpu`] readings: processes
/// started in between count from zero; those that ended in between are missing.
pub fn descendants_cpu_since(
    before: &HashMap<u32, Duration>,
    after: &HashMap<u32, Duration>,
) -> Duration {
    after
        .iter()
        .map(|(pid, cpu)| cpu.saturating_sub(before.get(pid).copied().unwrap_or_default()))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime() {
        let stat = "1234 (node server.js) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 100 0 0";
        assert_eq!(parse_stat_cpu(stat), Some(Duration::from_millis(3000)));
        assert_eq!(parse_stat_cpu("garbage"), None);
    }

    #[test]
    fn this_process_has_a_cpu_time() {
        assert!(process_cpu(std::process::id()).is_some());
    }
}
