//! Per-instance cgroups: the memory limit (`MemorySize`, no swap), the pids limit and a CPU
//! share proportional to memory as on Lambda, plus what the server reads back (OOM kills,
//! peak memory).
//!
//! Which interface: cgroup v2 when a `cgroup2` mount offers the `memory` and `pids`
//! controllers and we can enable them for our subtree; else the v1 hierarchies of
//! `memory`, `pids` and `cpu`; else none (the probe says so and the limits do not hold).
//! Both layouts put an instance at `<mount>/serverful/<server pid>/<instance id>`, so that
//! two servers on one host, or a server and its leftovers after a crash, never collide;
//! the probe removes the empty leftovers of servers that are gone.
//!
//! The init process that starts an instance stays outside these cgroups (it writes its
//! child's pid into `cgroup.procs`), so only the function's own processes are limited and
//! counted.

use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::SandboxError;

/// Which cgroup interface limits instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupLayer {
    V2,
    V1,
}

/// The directory under each hierarchy's root that holds this program's cgroups.
const TOP: &str = "serverful";

/// Lambda gives one vCPU per 1769 MB of memory; a cgroup v1 `cpu.shares` of 1024 is one
/// CPU's worth when the host is busy.
const MB_PER_VCPU: u64 = 1769;

/// The cgroup hierarchies found on this host, and where this server's cgroups go.
#[derive(Debug)]
pub(crate) struct Cgroups {
    layer: CgroupLayer,
    /// Whether moving a process into a cgroup waits for an RCU grace period (several
    /// milliseconds): the kernel's default, unless a hierarchy is mounted with
    /// `favordynmods`.
    slow_moves: bool,
    /// v2: the one directory; v1: one per controller (memory first, then pids, then cpu).
    server_dirs: Vec<PathBuf>,
    /// v1 only: the controllers, in the order of `server_dirs`.
    controllers: Vec<&'static str>,
}

impl fmt::Display for Cgroups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.layer {
            CgroupLayer::V2 => write!(f, "cgroup v2 (memory, pids, cpu)"),
            CgroupLayer::V1 => write!(f, "cgroup v1 ({})", self.controllers.join(", ")),
        }
    }
}

/// Limits of one instance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub memory_mb: u64,
    pub pids_max: u64,
}

impl Cgroups {
    /// Finds the hierarchies from `/proc/self/mountinfo` and prepares this server's
    /// directory in them; an error says why no layer works.
    pub fn detect() -> Result<Cgroups, String> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("read /proc/self/mountinfo: {e}"))?;
        let mounts = parse_mountinfo(&mountinfo);
        let slow_moves = !mounts.iter().any(|m| {
            m.fstype.starts_with("cgroup")
                && m.super_options.split(',').any(|o| o == "favordynmods")
        });
        let server_pid = std::process::id().to_string();

        let mut v2_error = String::from("no cgroup2 mount");
        if let Some(root) = mounts
            .iter()
            .find(|m| m.fstype == "cgroup2")
            .map(|m| m.mount_point.clone())
        {
            match Cgroups::prepare_v2(&root, &server_pid) {
                Ok(cgroups) => {
                    let mut cgroups = cgroups;
                    cgroups.slow_moves = slow_moves;
                    return Ok(cgroups);
                }
                Err(e) => v2_error = e,
            }
        }

        let mut server_dirs = Vec::new();
        let mut controllers = Vec::new();
        for controller in ["memory", "pids", "cpu"] {
            let Some(mount) = mounts.iter().find(|m| {
                m.fstype == "cgroup" && m.super_options.split(',').any(|o| o == controller)
            }) else {
                continue;
            };
            let dir = mount.mount_point.join(TOP).join(&server_pid);
            if std::fs::create_dir_all(&dir).is_ok() {
                remove_stale_servers(&mount.mount_point.join(TOP));
                server_dirs.push(dir);
                controllers.push(controller);
            }
        }
        if controllers.contains(&"memory") && controllers.contains(&"pids") {
            return Ok(Cgroups {
                layer: CgroupLayer::V1,
                slow_moves,
                server_dirs,
                controllers,
            });
        }
        for dir in &server_dirs {
            let _ = std::fs::remove_dir(dir);
        }
        Err(format!(
            "cgroups unavailable ({v2_error}; no writable v1 memory and pids hierarchies)"
        ))
    }

    fn prepare_v2(root: &Path, server_pid: &str) -> Result<Cgroups, String> {
        let available = std::fs::read_to_string(root.join("cgroup.controllers"))
            .map_err(|e| format!("read cgroup2 controllers: {e}"))?;
        let has = |name: &str| available.split_whitespace().any(|c| c == name);
        if !has("memory") || !has("pids") {
            return Err(format!(
                "cgroup v2 lacks the memory and pids controllers (has: {})",
                available.trim()
            ));
        }
        let enable = if has("cpu") {
            "+memory +pids +cpu"
        } else {
            "+memory +pids"
        };
        let top = root.join(TOP);
        let server_dir = top.join(server_pid);
        std::fs::create_dir_all(&server_dir)
            .map_err(|e| format!("create {}: {e}", server_dir.display()))?;
        for dir in [root, top.as_path(), server_dir.as_path()] {
            std::fs::write(dir.join("cgroup.subtree_control"), enable)
                .map_err(|e| format!("enable controllers in {}: {e}", dir.display()))?;
        }
        remove_stale_servers(&top);
        Ok(Cgroups {
            layer: CgroupLayer::V2,
            slow_moves: true,
            server_dirs: vec![server_dir],
            controllers: if has("cpu") {
                vec!["memory", "pids", "cpu"]
            } else {
                vec!["memory", "pids"]
            },
        })
    }

    pub fn layer(&self) -> CgroupLayer {
        self.layer
    }

    pub fn slow_moves(&self) -> bool {
        self.slow_moves
    }

    /// Creates the instance's cgroups with `limits`.
    pub fn create(
        &self,
        instance_id: &str,
        limits: Limits,
    ) -> Result<InstanceCgroup, SandboxError> {
        if instance_id.is_empty() || instance_id.contains('/') || instance_id.starts_with('.') {
            return Err(SandboxError::setup(
                "create cgroup",
                format!("invalid instance id {instance_id:?}"),
            ));
        }
        let dirs: Vec<PathBuf> = self
            .server_dirs
            .iter()
            .map(|dir| dir.join(instance_id))
            .collect();
        let cgroup = InstanceCgroup {
            layer: self.layer,
            memory_dir: dirs[0].clone(),
            dirs,
        };
        for dir in &cgroup.dirs {
            std::fs::create_dir(dir)
                .map_err(|e| SandboxError::setup(format!("create cgroup {}", dir.display()), e))?;
        }
        // From here on, dropping `cgroup` removes the directories again.
        let memory = limits.memory_mb.saturating_mul(1024 * 1024).to_string();
        let cpu_shares = (limits.memory_mb.saturating_mul(1024) / MB_PER_VCPU).max(2);
        match self.layer {
            CgroupLayer::V2 => {
                let dir = &cgroup.dirs[0];
                write_limit(dir, "memory.max", &memory)?;
                // Absent without swap accounting; then there is no swap to limit.
                write_optional(dir, "memory.swap.max", "0")?;
                write_limit(dir, "pids.max", &limits.pids_max.to_string())?;
                write_optional(dir, "cpu.weight", &cpu_weight(cpu_shares).to_string())?;
            }
            CgroupLayer::V1 => {
                for (dir, controller) in cgroup.dirs.iter().zip(&self.controllers) {
                    match *controller {
                        "memory" => {
                            write_limit(dir, "memory.limit_in_bytes", &memory)?;
                            // The same limit for memory + swap means no swap at all, so an
                            // instance past its size is OOM-killed rather than slowed.
                            write_optional(dir, "memory.memsw.limit_in_bytes", &memory)?;
                        }
                        "pids" => write_limit(dir, "pids.max", &limits.pids_max.to_string())?,
                        "cpu" => write_limit(dir, "cpu.shares", &cpu_shares.to_string())?,
                        _ => {}
                    }
                }
            }
        }
        Ok(cgroup)
    }
}

impl Drop for Cgroups {
    /// Removes this server's directories; best effort, as instances may outlive it.
    fn drop(&mut self) {
        for dir in &self.server_dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The systemd conversion of v1 shares (2..262144, default 1024) to v2 weights
/// (1..10000, default 100).
fn cpu_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + (shares - 2) * 9999 / 262_142
}

fn write_limit(dir: &Path, file: &str, value: &str) -> Result<(), SandboxError> {
    std::fs::write(dir.join(file), value)
        .map_err(|e| SandboxError::setup(format!("write {}", dir.join(file).display()), e))
}

fn write_optional(dir: &Path, file: &str, value: &str) -> Result<(), SandboxError> {
    match std::fs::write(dir.join(file), value) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        result => result
            .map_err(|e| SandboxError::setup(format!("write {}", dir.join(file).display()), e)),
    }
}

/// Removes the directories of servers that no longer run (best effort: a directory that
/// still has processes stays).
fn remove_stale_servers(top: &Path) {
    let Ok(entries) = std::fs::read_dir(top) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        if let Ok(instances) = std::fs::read_dir(entry.path()) {
            for instance in instances.flatten() {
                if instance.path().is_dir() {
                    let _ = std::fs::remove_dir(instance.path());
                }
            }
        }
        let _ = std::fs::remove_dir(entry.path());
    }
}

/// One instance's cgroups; dropping it kills what is left in them and removes them.
#[derive(Debug)]
pub(crate) struct InstanceCgroup {
    layer: CgroupLayer,
    /// One per hierarchy (v1) or the one directory (v2); the memory one first.
    dirs: Vec<PathBuf>,
    memory_dir: PathBuf,
}

impl InstanceCgroup {
    /// The `cgroup.procs` files the init writes its child's pid to.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|dir| dir.join("cgroup.procs"))
            .collect()
    }

    pub fn oom_killed(&self) -> bool {
        let (file, key) = match self.layer {
            CgroupLayer::V2 => ("memory.events", "oom_kill"),
            CgroupLayer::V1 => ("memory.oom_control", "oom_kill"),
        };
        read_key(&self.memory_dir.join(file), key).is_some_and(|count| count > 0)
    }

    pub fn peak_memory_mb(&self) -> Option<u64> {
        let file = match self.layer {
            CgroupLayer::V2 => "memory.peak",
            CgroupLayer::V1 => "memory.max_usage_in_bytes",
        };
        let bytes: u64 = std::fs::read_to_string(self.memory_dir.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Some(bytes.div_ceil(1024 * 1024))
    }

    /// Sends `SIGKILL` to every process left in the cgroups.
    fn kill_all(&self) {
        if self.layer == CgroupLayer::V2
            && std::fs::write(self.dirs[0].join("cgroup.kill"), "1").is_ok()
        {
            return;
        }
        for dir in &self.dirs {
            let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
                continue;
            };
            for pid in procs
                .lines()
                .filter_map(|line| line.trim().parse::<i32>().ok())
            {
                // SAFETY: kill has no memory-safety preconditions; the pid was in this
                // instance's cgroup a moment ago, and a process cannot leave its cgroup
                // from inside the sandbox.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

impl Drop for InstanceCgroup {
    fn drop(&mut self) {
        self.kill_all();
        for dir in &self.dirs {
            let mut attempt = 0;
            loop {
                match std::fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == ErrorKind::NotFound => break,
                    // Killed processes leave their cgroup a moment after the signal.
                    Err(_) if attempt < 40 => {
                        attempt += 1;
                        if attempt % 10 == 0 {
                            self.kill_all();
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => {
                        tracing::warn!("failed to remove cgroup {}: {e}", dir.display());
                        break;
                    }
                }
            }
        }
    }
}

/// The number after `key` in a `key value` lines file.
fn read_key(file: &Path, key: &str) -> Option<u64> {
    std::fs::read_to_string(file)
        .ok()?
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(' ')?;
            (name == key).then(|| value.trim().parse().ok())?
        })
}

struct MountEntry {
    mount_point: PathBuf,
    fstype: String,
    super_options: String,
}

/// The mount point, type and super options of each line of `/proc/self/mountinfo`.
fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let mount_point = before.split(' ').nth(4)?;
            let mut after = after.split(' ');
            let fstype = after.next()?;
            let _source = after.next()?;
            let super_options = after.next().unwrap_or("");
            Some(MountEntry {
                mount_point: PathBuf::from(unescape_mountinfo(mount_point)),
                fstype: fstype.to_owned(),
                super_options: super_options.to_owned(),
            })
        })
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        if bytes[idx] == b'\\'
            && idx + 3 < bytes.len()
            && bytes[idx + 1..idx + 4].iter().all(u8::is_ascii_digit)
        {
            let digit = |offset: usize| u32::from(bytes[idx + offset] - b'0');
            out.push((digit(1) * 64 + digit(2) * 8 + digit(3)) as u8);
            idx += 4;
        } else {
            out.push(bytes[idx]);
            idx += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_v1_and_v2_mounts() {
        let text = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 27 254:0 /run/netns /run/net\\040ns rw,relatime shared:1 - ext4 /dev/vda rw";
        let mounts = parse_mountinfo(text);
        assert_eq!(mounts.len(), 4);
        assert_eq!(mounts[1].mount_point, Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(mounts[1].super_options, "rw,memory");
        assert_eq!(mounts[2].fstype, "cgroup2");
        assert_eq!(mounts[3].mount_point, Path::new("/run/net ns"));
    }

    #[test]
    fn cpu_weight_matches_shares() {
        assert_eq!(cpu_weight(1024), 39);
        assert_eq!(cpu_weight(2), 1);
        assert_eq!(cpu_weight(262_144), 10_000);
    }

    #[test]
    fn reads_oom_kill_count() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("memory.oom_control");
        std::fs::write(&file, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").expect("write");
        assert_eq!(read_key(&file, "oom_kill"), Some(2));
        assert_eq!(read_key(&file, "under_oom"), Some(0));
        assert_eq!(read_key(&file, "missing"), None);
    }
}
