//! Resident memory of processes, from `/proc/PID/status`: what a server holds when idle
//! and with its WebSocket connections open, and what each of serverful's function
//! instances holds.

/// The first argument of the helper processes serverful's sandbox runs a function under
/// (and parks ready for the next instance).
const SANDBOX_HELPER: &str = "serverful-sandbox-init";

/// One child of a server and the processes below it: for serverful, a function instance
/// (its sandbox's helper processes and the runtime process they started), or a sandbox
/// parked for the next instance (helpers only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessGroup {
    /// The resident sizes of every process of the group, added up.
    pub rss: u64,
    /// The resident sizes of its processes other than sandbox helpers (the runtime: `node`,
    /// `python3`, a `bootstrap`), added up; 0 for a parked sandbox.
    pub runtime_rss: u64,
    /// How many of its processes are not sandbox helpers.
    pub runtime_processes: usize,
}

impl ProcessGroup {
    /// Whether a function runs in it (rather than a sandbox parked empty).
    pub fn is_instance(&self) -> bool {
        self.runtime_processes > 0
    }
}

/// What a server's function instances and parked sandboxes hold, from its
/// [`process_groups`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstanceMemory {
    /// Function instances.
    pub instances: usize,
    /// Their processes' resident sizes, sandbox helpers included, added up.
    pub instances_rss: u64,
    /// Their runtime processes' resident sizes alone, added up.
    pub runtimes_rss: u64,
    /// Sandboxes parked without a function.
    pub parked: usize,
    pub parked_rss: u64,
}

impl InstanceMemory {
    pub fn of(groups: &[ProcessGroup]) -> InstanceMemory {
        let mut memory = InstanceMemory::default();
        for group in groups {
            if group.is_instance() {
                memory.instances += 1;
                memory.instances_rss += group.rss;
                memory.runtimes_rss += group.runtime_rss;
            } else {
                memory.parked += 1;
                memory.parked_rss += group.rss;
            }
        }
        memory
    }
}

/// The groups of processes below each child of `pid`.
pub fn process_groups(pid: u32) -> Vec<ProcessGroup> {
    crate::cpu::children(pid)
        .into_iter()
        .map(|child| {
            let mut group = ProcessGroup::default();
            for process in std::iter::once(child).chain(crate::cpu::descendants(child)) {
                let Some(rss) = process_rss(process) else {
                    continue;
                };
                group.rss += rss;
                let cmdline = std::fs::read(format!("/proc/{process}/cmdline")).unwrap_or_default();
                if !is_sandbox_helper(&cmdline) {
                    group.runtime_rss += rss;
                    group.runtime_processes += 1;
                }
            }
            group
        })
        .collect()
}

/// Whether a `/proc/PID/cmdline` (arguments separated by NULs) is a sandbox helper's.
fn is_sandbox_helper(cmdline: &[u8]) -> bool {
    cmdline
        .split(|byte| *byte == 0)
        .next()
        .is_some_and(|first| first == SANDBOX_HELPER.as_bytes())
}

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
    fn tells_sandbox_helpers_from_runtimes() {
        assert!(is_sandbox_helper(
            b"serverful-sandbox-init\0__serverful-sandbox-init\0"
        ));
        assert!(!is_sandbox_helper(
            b"/usr/bin/node\0/var/runtime/nodejs/bootstrap.mjs\0"
        ));
        assert!(!is_sandbox_helper(b""));
    }

    #[test]
    fn instances_and_parked_sandboxes_add_up_apart() {
        let instance = ProcessGroup {
            rss: 30,
            runtime_rss: 20,
            runtime_processes: 1,
        };
        let parked = ProcessGroup {
            rss: 7,
            runtime_rss: 0,
            runtime_processes: 0,
        };
        let memory = InstanceMemory::of(&[instance, parked, instance]);
        assert_eq!(memory.instances, 2);
        assert_eq!(memory.instances_rss, 60);
        assert_eq!(memory.runtimes_rss, 40);
        assert_eq!(memory.parked, 1);
        assert_eq!(memory.parked_rss, 7);
    }

    #[test]
    fn a_child_process_is_a_group() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("start sleep");
        let groups = process_groups(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(groups
            .iter()
            .any(|group| group.is_instance() && group.rss > 0 && group.rss == group.runtime_rss));
    }

    #[test]
    fn this_process_is_resident() {
        assert!(process_rss(std::process::id()).is_some_and(|bytes| bytes > 0));
    }
}
