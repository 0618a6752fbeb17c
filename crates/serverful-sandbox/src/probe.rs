//! What the host supports. PLACEHOLDER signatures; the implementation is being written.
#![allow(dead_code, unused_variables, clippy::todo)]

use std::path::{Path, PathBuf};

use crate::{CgroupLayer, InstanceSpec, Mode, NetNs, Prepared, SandboxError};

/// The host's isolation capabilities, found once at start-up.
#[derive(Debug)]
pub struct Host {
    mode: Mode,
    cgroups: Option<CgroupLayer>,
    state_dir: PathBuf,
}

impl Host {
    /// Finds out what this host supports under `mode`; `state_dir` holds per-instance
    /// scratch (the new roots, setup error files). Under [`Mode::Required`] a host that
    /// cannot isolate is an error naming the step that failed.
    pub fn probe(mode: Mode, state_dir: &Path) -> Result<Host, SandboxError> {
        todo!()
    }

    /// Whether instances are isolated.
    pub fn enabled(&self) -> bool {
        todo!()
    }

    /// Whether [`crate::Network::Egress`] works (else instances get only loopback).
    pub fn egress(&self) -> bool {
        todo!()
    }

    /// One line for start-up: `sandbox: namespaces, cgroup v1 (memory, pids, cpu), seccomp`.
    pub fn summary(&self) -> String {
        todo!()
    }

    /// The one-line warning when isolation is off, saying which limits still hold.
    pub fn warning(&self) -> Option<String> {
        todo!()
    }

    /// Creates the instance's cgroups and the command that starts it sandboxed.
    pub fn prepare(
        &self,
        spec: &InstanceSpec,
        net: Option<&NetNs>,
    ) -> Result<Prepared, SandboxError> {
        todo!()
    }

    /// Sets up a sandbox for `spec` completely and stops before starting the program:
    /// `--sandbox required` uses it to refuse functions that cannot be isolated.
    pub fn trial(&self, spec: &InstanceSpec) -> Result<(), SandboxError> {
        todo!()
    }
}
