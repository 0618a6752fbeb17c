//! Isolation for function instances without Docker: Linux user, pid, mount, ipc, uts and
//! net namespaces, a root built from read-only bind mounts, a private `/tmp`, cgroup
//! limits, rlimits, `no_new_privs` and a seccomp filter.
//!
//! This is the only crate of the workspace with `unsafe` code and raw syscalls; every
//! `unsafe` block says why it is sound in a `// SAFETY:` comment.
//!
//! How an instance starts (see `init`): the server builds an [`InstanceSpec`] and a
//! [`Launch`] and calls [`Host::prepare`], which creates the instance's cgroups and returns a
//! [`std::process::Command`] that re-executes the server's own binary (`/proc/self/exe`)
//! as the sandbox init. Binaries that start sandboxes call [`run_init_if_requested`] first
//! thing in `main`. The init ("P"), still root in the host's user namespace, builds the
//! read-only root in a mount namespace of its own, clones the namespaced child ("C"),
//! writes its uid/gid maps and moves it into the cgroups; C `pivot_root`s into the root,
//! drops every privilege, and stays pid 1 (reaping zombies) while the function ("G") runs
//! as its child under the seccomp filter.
//!
//! A sandbox can also be parked ([`Host::park`]): set up completely, with C waiting for
//! its [`Launch`] on its standard input, so that a cold start that takes a parked sandbox
//! pays only for handing over the launch and `execve`. The server keeps one parked sandbox
//! per function ahead of demand.
//!
//! Networking (see `net`): the server creates each instance's network namespace itself
//! ([`NetNs::create`]) and binds listeners inside it (the Runtime API, the AWS endpoint),
//! so an instance reaches exactly those and, with [`Network::Egress`], the outside world
//! through a veth pair and NAT.
//!
//! Codemap:
//! - `probe`: what the host supports, [`Host::probe`], the start-up summary and warning.
//! - `cgroup`: per-instance cgroups on v2 or v1 controllers, limits, OOM and peak memory.
//! - `init`: the sandbox init process (namespaces, mounts, pivot_root, uid maps, rlimits,
//!   seccomp, exec).
//! - `policy`: the seccomp policy, kept as data in `policy.json`.
//! - `net`: network namespaces, loopback listeners, veth + NAT for egress, the pool of
//!   pre-created namespaces.

mod cgroup;
mod init;
mod net;
pub mod policy;
mod probe;

use std::ffi::OsString;
use std::path::PathBuf;

pub use cgroup::CgroupLayer;
pub use init::run_init_if_requested;
pub use net::{Egress, NetNs, NetPool};
pub use probe::Host;

/// How strict start-up is about isolation (`--sandbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// No isolation at all.
    Off,
    /// Isolate when the host allows it; otherwise run with a one-line warning.
    #[default]
    Auto,
    /// Refuse to start functions that cannot be isolated, saying which step failed.
    Required,
}

/// What an instance may reach on the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// Only loopback inside its own namespace, where the platform's listeners (Runtime
    /// API, AWS endpoint) are.
    None,
    /// Like Lambda: outbound traffic through a veth pair and NAT; the host's own addresses
    /// (loopback, admin interfaces) and other instances stay unreachable.
    #[default]
    Egress,
}

/// A host path made visible inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mount {
    /// The path on the host (a directory or a file).
    pub source: PathBuf,
    /// Where it appears inside (absolute).
    pub target: PathBuf,
    /// Read-only unless set.
    pub writable: bool,
}

impl Mount {
    /// `source` visible read-only at `target`.
    pub fn read_only(source: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Mount {
        Mount {
            source: source.into(),
            target: target.into(),
            writable: false,
        }
    }
}

/// Everything one instance's sandbox needs, apart from the program it runs.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    /// Unique per instance; names its cgroups.
    pub id: String,
    /// Read-only views beyond [`system_mounts`]: the function's code at `/var/task`, the
    /// runtime's bootstraps, the interpreter's prefix, layers at `/opt`.
    pub mounts: Vec<Mount>,
    /// Size of the private `/tmp` (`EphemeralStorage`, 512 MB by default).
    pub tmp_size_mb: u64,
    /// The memory limit (`MemorySize`).
    pub memory_mb: u64,
    /// Processes and threads the instance may have at once.
    pub pids_max: u64,
    /// Open files per process (`RLIMIT_NOFILE`).
    pub max_open_files: u64,
    pub hostname: String,
}

/// The program a sandbox runs; paths are as seen inside.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    pub cwd: PathBuf,
}

impl Launch {
    /// What a parked sandbox ([`Host::park`]) reads on its standard input to start the
    /// program.
    pub fn to_message(&self) -> Vec<u8> {
        // Paths and OsStrings serialize without fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Default limits, as on Lambda.
pub const DEFAULT_PIDS_MAX: u64 = 1024;
pub const DEFAULT_MAX_OPEN_FILES: u64 = 1024;
pub const DEFAULT_TMP_SIZE_MB: u64 = 512;

/// The host's runtime files every instance sees read-only at the same paths: `/usr`,
/// `/lib*`, `/bin`, `/sbin` (symlinks on merged-/usr hosts are recreated as symlinks) and
/// `/etc` with its secrets (`shadow`, `gshadow`, `sudoers` ...) masked. Only paths that
/// exist on this host are listed.
pub fn system_mounts() -> Vec<Mount> {
    init::system_mounts()
}

/// A sandbox that could not be set up: which step failed and why, e.g.
/// `mount /var/task read-only: EPERM`.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A step of setting up isolation failed.
    #[error("{step}: {reason}")]
    Setup { step: String, reason: String },
    /// Isolation was required (`--sandbox required`) and the host cannot provide it.
    #[error("--sandbox required, but {0}; use --sandbox auto to run without isolation")]
    Unavailable(String),
}

impl SandboxError {
    pub(crate) fn setup(step: impl Into<String>, reason: impl std::fmt::Display) -> SandboxError {
        SandboxError::Setup {
            step: step.into(),
            reason: reason.to_string(),
        }
    }
}

/// A sandboxed instance ready to spawn: the caller adds stdio, spawns `command`, and keeps
/// `instance` for as long as the process lives (dropping it removes the cgroups). A parked
/// one ([`Host::park`]) needs a piped standard input that it reads its [`Launch`] from.
#[derive(Debug)]
pub struct Prepared {
    pub command: std::process::Command,
    pub instance: InstanceHandle,
}

/// The server's view of one sandboxed instance.
#[derive(Debug)]
pub struct InstanceHandle {
    pub(crate) cgroup: Option<cgroup::InstanceCgroup>,
    /// Where the init writes the step that failed, if one did.
    pub(crate) error_file: PathBuf,
}

impl InstanceHandle {
    /// Whether the kernel's OOM killer killed a process of this instance.
    pub fn oom_killed(&self) -> bool {
        self.cgroup
            .as_ref()
            .is_some_and(|cgroup| cgroup.oom_killed())
    }

    /// Peak memory of the instance in MB, from its cgroup.
    pub fn peak_memory_mb(&self) -> Option<u64> {
        self.cgroup
            .as_ref()
            .and_then(|cgroup| cgroup.peak_memory_mb())
    }

    /// The setup step that failed (`mount /var/task read-only: EPERM`), when the init
    /// exited before starting the function.
    pub fn setup_error(&self) -> Option<String> {
        std::fs::read_to_string(&self.error_file)
            .ok()
            .filter(|text| !text.trim().is_empty())
            .map(|text| text.trim().to_owned())
    }
}
