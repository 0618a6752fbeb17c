//! What the host supports, found once at start-up ([`Host::probe`]), and the entry points
//! the server uses per instance ([`Host::prepare`], [`Host::trial`]).
//!
//! The probe is cheap and has no lasting effect beyond creating the state directory and
//! this server's cgroup directories: it `clone`s a child into all the namespaces an
//! instance gets (the child exits at once), asks the kernel whether seccomp can return
//! errors, compiles the policy, and picks the cgroup layer. It cannot prove that every
//! mount of a given function works; [`Host::trial`] does that for one spec.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use nix::errno::Errno;

use crate::cgroup::{Cgroups, Limits};
use crate::init::{self, Payload};
use crate::policy::Filters;
use crate::{InstanceHandle, InstanceSpec, Launch, Mode, NetNs, Prepared, SandboxError};

/// The limits that hold without isolation, for the warning.
const LIMITS_WITHOUT_SANDBOX: &str = "timeout, concurrency, memory reporting";

/// The host's isolation capabilities, found once at start-up.
#[derive(Debug)]
pub struct Host {
    mode: Mode,
    /// Why isolation is off under [`Mode::Auto`] (`None` when it is on, or off by choice).
    unavailable: Option<String>,
    cgroups: Option<Cgroups>,
    /// Why no cgroup layer works, when none does.
    cgroup_error: Option<String>,
    egress: Result<(), String>,
    state_dir: PathBuf,
    /// The seccomp policy, compiled once here for every instance.
    seccomp: Option<[Vec<u64>; 2]>,
}

impl Host {
    /// Finds out what this host supports under `mode`; `state_dir` holds per-instance
    /// scratch (the new roots, setup error files). Under [`Mode::Required`] a host that
    /// cannot isolate is an error naming the step that failed.
    pub fn probe(mode: Mode, state_dir: &Path) -> Result<Host, SandboxError> {
        let mut host = Host {
            mode,
            unavailable: None,
            cgroups: None,
            cgroup_error: None,
            egress: Err("sandbox off".into()),
            state_dir: state_dir.to_owned(),
            seccomp: None,
        };
        if mode == Mode::Off {
            return Ok(host);
        }
        match host.check_isolation() {
            Ok(filters) => host.seccomp = Some(filters.to_words()),
            Err(reason) if mode == Mode::Required => return Err(SandboxError::Unavailable(reason)),
            Err(reason) => {
                host.unavailable = Some(reason);
                return Ok(host);
            }
        }
        match Cgroups::detect() {
            Ok(cgroups) => host.cgroups = Some(cgroups),
            Err(reason) if mode == Mode::Required => return Err(SandboxError::Unavailable(reason)),
            Err(reason) => host.cgroup_error = Some(reason),
        }
        host.egress = crate::net::setup_egress();
        Ok(host)
    }

    fn check_isolation(&self) -> Result<Filters, String> {
        check_namespaces()?;
        check_seccomp()?;
        let filters = Filters::compile().map_err(|e| e.to_string())?;
        std::fs::create_dir_all(self.root_dir()).map_err(|e| {
            format!(
                "state directory {} unusable ({:?})",
                self.state_dir.display(),
                Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
            )
        })?;
        Ok(filters)
    }

    /// The directory each instance's new root is mounted on, in the instance's own mount
    /// namespace only: one directory serves every instance.
    fn root_dir(&self) -> PathBuf {
        self.state_dir.join("root")
    }

    /// Whether instances are isolated.
    pub fn enabled(&self) -> bool {
        self.mode != Mode::Off && self.unavailable.is_none()
    }

    /// Whether [`crate::Network::Egress`] works (else instances get only loopback).
    pub fn egress(&self) -> bool {
        self.enabled() && self.egress.is_ok()
    }

    /// Which cgroup interface limits instances, if any.
    pub fn cgroup_layer(&self) -> Option<crate::CgroupLayer> {
        self.cgroups.as_ref().map(Cgroups::layer)
    }

    /// One line for start-up: `sandbox: user/pid/mount/ipc/uts/net namespaces, cgroup v1
    /// (memory, pids, cpu), seccomp, network egress via NAT`.
    pub fn summary(&self) -> String {
        if self.mode == Mode::Off {
            return "sandbox: off (--sandbox off); functions run unisolated".into();
        }
        if let Some(reason) = &self.unavailable {
            return format!("sandbox: off: {reason}");
        }
        let cgroups = match (&self.cgroups, &self.cgroup_error) {
            (Some(cgroups), _) => cgroups.to_string(),
            (None, Some(reason)) => format!("no cgroup limits ({reason})"),
            (None, None) => "no cgroup limits".into(),
        };
        let network = match &self.egress {
            Ok(()) => "network egress via NAT".to_owned(),
            Err(reason) => format!("network egress unavailable: {reason}"),
        };
        format!("sandbox: user/pid/mount/ipc/uts/net namespaces, {cgroups}, seccomp, {network}")
    }

    /// The one-line warning when isolation is off, saying which limits still hold.
    pub fn warning(&self) -> Option<String> {
        if let Some(reason) = &self.unavailable {
            return Some(format!(
                "warning: sandbox off: {reason}; functions run unisolated; limits that still \
                 hold: {LIMITS_WITHOUT_SANDBOX}"
            ));
        }
        if self.enabled() && self.cgroups.is_none() {
            return Some(format!(
                "warning: sandbox without cgroups: {}; memory, process and CPU limits do \
                 not hold",
                self.cgroup_error.as_deref().unwrap_or("no cgroup layer")
            ));
        }
        None
    }

    /// A one-line hint for start-up about making instances start faster, if there is one.
    pub fn hint(&self) -> Option<String> {
        let cgroups = self
            .cgroups
            .as_ref()
            .filter(|c| c.slow_moves() && self.enabled())?;
        let _ = cgroups;
        Some(
            "hint: each instance start waits ~10 ms for the kernel to move it into its cgroups; \
             mounting a cgroup hierarchy with favordynmods removes that wait (e.g. \
             mount -o remount,favordynmods /sys/fs/cgroup/unified)"
                .into(),
        )
    }

    /// Creates the instance's cgroups and the command that starts it sandboxed. The
    /// command re-executes this binary, whose `main` must call
    /// [`crate::run_init_if_requested`] first.
    pub fn prepare(
        &self,
        spec: &InstanceSpec,
        launch: &Launch,
        net: Option<&NetNs>,
    ) -> Result<Prepared, SandboxError> {
        self.prepare_with(spec, Some(launch), net, false)
    }

    /// Like [`Host::prepare`], but the sandbox sets itself up completely and then waits,
    /// parked, for its program: spawn the command with a piped standard input, and write
    /// [`Launch::to_message`] to it and close it to start the program. Closing it without
    /// writing ends the parked sandbox quietly (exit 0).
    pub fn park(&self, spec: &InstanceSpec, net: Option<&NetNs>) -> Result<Prepared, SandboxError> {
        self.prepare_with(spec, None, net, false)
    }

    fn prepare_with(
        &self,
        spec: &InstanceSpec,
        launch: Option<&Launch>,
        net: Option<&NetNs>,
        dry_run: bool,
    ) -> Result<Prepared, SandboxError> {
        if !self.enabled() {
            return Err(SandboxError::Unavailable(
                self.unavailable
                    .clone()
                    .unwrap_or_else(|| "the sandbox is off".into()),
            ));
        }
        if spec.id.is_empty() || spec.id.contains('/') || spec.id.starts_with('.') {
            return Err(SandboxError::setup(
                "prepare instance",
                format!("invalid instance id {:?}", spec.id),
            ));
        }
        let mut mounts = crate::system_mounts();
        mounts.extend(spec.mounts.iter().cloned());
        if let Some(mount) = mounts.iter().find(|m| !init::valid_target(&m.target)) {
            return Err(SandboxError::setup(
                format!("mount {}", mount.source.display()),
                format!(
                    "target {} is not an absolute path without ..",
                    mount.target.display()
                ),
            ));
        }
        let error_file = self.state_dir.join(format!("{}.error", spec.id));
        let cgroup = match &self.cgroups {
            Some(cgroups) => Some(cgroups.create(
                &spec.id,
                Limits {
                    memory_mb: spec.memory_mb,
                    pids_max: spec.pids_max,
                },
            )?),
            None => None,
        };
        let instance = InstanceHandle { cgroup, error_file };
        let _ = std::fs::remove_file(&instance.error_file);
        let payload = Payload {
            launch: launch.cloned(),
            mounts,
            tmp_size_mb: spec.tmp_size_mb,
            max_open_files: spec.max_open_files,
            hostname: spec.hostname.clone(),
            root_dir: self.root_dir(),
            cgroup_procs: instance
                .cgroup
                .as_ref()
                .map(|cgroup| cgroup.procs_files())
                .unwrap_or_default(),
            netns: None,
            error_file: instance.error_file.clone(),
            server_pid: std::process::id(),
            seccomp: self.seccomp.clone().unwrap_or_default(),
            dry_run,
        };
        let command = init::command(payload, net.map(std::os::fd::AsFd::as_fd))?;
        Ok(Prepared { command, instance })
    }

    /// Sets up a sandbox for `spec` completely and stops before starting the program:
    /// `--sandbox required` uses it to refuse functions that cannot be isolated.
    /// Blocking (a few milliseconds).
    pub fn trial(&self, spec: &InstanceSpec, launch: &Launch) -> Result<(), SandboxError> {
        let Prepared {
            mut command,
            instance,
        } = self.prepare_with(spec, Some(launch), None, true)?;
        let status = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| SandboxError::setup("start the sandbox init", e))?;
        if status.success() {
            return Ok(());
        }
        Err(match instance.setup_error() {
            Some(error) => match error.rsplit_once(": ") {
                Some((step, reason)) => SandboxError::setup(step, reason),
                None => SandboxError::setup(error, "failed"),
            },
            None => SandboxError::setup("sandbox init", format!("ended with {status}")),
        })
    }
}

impl Drop for InstanceHandle {
    fn drop(&mut self) {
        // The cgroup field's own Drop then kills what is left and removes the cgroups.
        if let Err(e) = std::fs::remove_file(&self.error_file) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(
                    "failed to remove sandbox error file {}: {e}",
                    self.error_file.display()
                );
            }
        }
    }
}

/// Clones a child into every namespace an instance gets; it exits at once. On failure,
/// tries the namespaces one by one to name the one the host refuses.
fn check_namespaces() -> Result<(), String> {
    let all = [
        (libc::CLONE_NEWUSER, "user"),
        (libc::CLONE_NEWPID, "pid"),
        (libc::CLONE_NEWNS, "mount"),
        (libc::CLONE_NEWIPC, "ipc"),
        (libc::CLONE_NEWUTS, "uts"),
        (libc::CLONE_NEWNET, "network"),
    ];
    let flags = all.iter().fold(0, |flags, (flag, _)| flags | flag);
    let Err(errno) = clone_and_exit(flags) else {
        // The init builds the root as host root in a mount namespace of its own.
        return clone_and_exit(libc::CLONE_NEWNS).map_err(|errno| {
            format!("building the sandbox's root needs root (mount namespace: {errno:?})")
        });
    };
    for (flag, name) in all {
        // Other namespaces need privilege over a user namespace to be created without root.
        let flag = if flag == libc::CLONE_NEWUSER {
            flag
        } else {
            flag | libc::CLONE_NEWUSER
        };
        if let Err(errno) = clone_and_exit(flag) {
            return Err(format!("{name} namespaces unavailable ({errno:?})"));
        }
    }
    Err(format!("namespaces unavailable ({errno:?})"))
}

fn clone_and_exit(flags: libc::c_int) -> Result<(), Errno> {
    // SAFETY: a raw clone without CLONE_VM is a fork; the child only calls `_exit`, which
    // is async-signal-safe even when the parent has other threads.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid == -1 {
        return Err(Errno::last());
    }
    if pid == 0 {
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(0) };
    }
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
    Ok(())
}

/// Whether seccomp filters that return an errno are available.
fn check_seccomp() -> Result<(), String> {
    let action: u32 = libc::SECCOMP_RET_ERRNO;
    // SAFETY: SECCOMP_GET_ACTION_AVAIL reads the u32 it is given and changes nothing.
    let result = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        )
    };
    if result == -1 {
        return Err(format!("seccomp unavailable ({:?})", Errno::last()));
    }
    Ok(())
}
