//! Resident memory of processes, from `/proc/PID/status`: what a server holds when idle
//! and with its WebSocket connections open.

/// The resident set size (`VmRSS`) of `pid`, in bytes.
pub fn process_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

/// The resident set sizes of the live descendants of `pid`, added up, and how many there
/// are (for serverful, the function processes and the sandboxes parked for them). Pages
/// they share are counted once per process.
pub fn descendants_rss(pid: u32) -> (u64, usize) {
    let children = crate::cpu::descendants(pid);
    let total = children
        .iter()
        .filter_map(|child| process_rss(*child))
        .sum();
    (total, children.len())
}

/// `VmRSS:   12345 kB` as bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tserverful\nVmPeak:\t  99999 kB\nVmRSS:\t   11264 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(11264 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_is_resident() {
        assert!(process_rss(std::process::id()).is_some_and(|bytes| bytes > 0));
    }
}
