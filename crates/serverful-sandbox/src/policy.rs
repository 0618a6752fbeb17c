//! The seccomp policy every function process runs under, kept as data in `policy.json`
//! (seccompiler's JSON format) so that it can be read and reviewed without reading code.
//!
//! The policy is a deny list, not an allow list: functions run arbitrary interpreters and
//! native extensions, and Lambda itself allows nearly every syscall. What it denies is
//! what a function never needs and what widens the kernel attack surface or undoes the
//! rest of the sandbox. Two filters, because a seccomp filter has one action for all its
//! matches:
//!
//! - `deny_eperm` fails with `EPERM`, as a missing privilege would:
//!   - `mount`, `umount2`, `pivot_root`, `chroot` and the new mount API (`fsopen`,
//!     `fsmount`, `fsconfig`, `move_mount`, `open_tree`, `fspick`, `mount_setattr`): the
//!     file system view is built once by the sandbox init; unmounting a mask could reveal
//!     what it hides.
//!   - `unshare`, `setns` and `clone` with any `CLONE_NEW*` bit (one `masked_eq` rule per
//!     bit): a new user namespace would give the function a full set of capabilities over
//!     new namespaces, the usual first step of kernel exploits.
//!   - `ptrace`, `process_vm_readv`, `process_vm_writev`, `kcmp`: no inspecting of other
//!     processes, even the sandbox's own init.
//!   - `kexec_load`, `kexec_file_load`, `init_module`, `finit_module`, `delete_module`,
//!     `reboot`, `swapon`, `swapoff`, `acct`, `quotactl`, `syslog`, `iopl`, `ioperm`,
//!     `vhangup`: host administration (`iopl` and `ioperm` exist only on x86_64);
//!     already refused for lack of capabilities, denied here too so that a kernel bug in
//!     a capability check is not enough.
//!   - `settimeofday`, `clock_settime`, `clock_adjtime`, `adjtimex`: the clock is the
//!     host's.
//!   - `bpf`, `perf_event_open`, `userfaultfd`, `keyctl`, `add_key`, `request_key`,
//!     `io_uring_setup`, `io_uring_enter`, `io_uring_register`: large attack surfaces a
//!     function does not need (keyrings are not namespaced; io_uring performs I/O this
//!     filter never sees).
//!   - `open_by_handle_at`, `name_to_handle_at`: file handles bypass the mount view.
//! - `clone3_enosys` answers `clone3` with `ENOSYS`: its flags live in memory a seccomp
//!   filter cannot read, and `ENOSYS` makes glibc and musl fall back to `clone`, whose
//!   flags `deny_eperm` checks.
//!
//! Each rule in `policy.json` also carries a `comment` saying why.

use seccompiler::{BpfProgram, TargetArch};

/// The policy's source, as checked in.
pub const POLICY_JSON: &str = include_str!("policy.json");

/// The name of the filter that fails denied syscalls with `EPERM`.
const DENY_EPERM: &str = "deny_eperm";
/// The name of the filter that answers `clone3` with `ENOSYS`.
const CLONE3_ENOSYS: &str = "clone3_enosys";

/// A policy that does not compile (a syscall name unknown on this architecture, a
/// malformed rule).
#[derive(Debug, thiserror::Error)]
#[error("seccomp policy: {0}")]
pub struct PolicyError(String);

/// The compiled filters, ready to install with [`Filters::install`] (which does not
/// allocate, so it is safe between `fork` and `exec`).
#[derive(Debug)]
pub struct Filters {
    deny_eperm: BpfProgram,
    clone3_enosys: BpfProgram,
}

impl Filters {
    /// Compiles [`POLICY_JSON`] for the architecture this binary runs on.
    pub fn compile() -> Result<Filters, PolicyError> {
        Filters::compile_for(std::env::consts::ARCH)
    }

    /// Compiles the policy for `arch` (a name as in `std::env::consts::ARCH`). Rules may
    /// carry `"arches": [...]`, our one addition to seccompiler's format, for syscalls
    /// that exist only there (`iopl`, `ioperm` on x86_64); it is removed before compiling.
    fn compile_for(arch: &str) -> Result<Filters, PolicyError> {
        let target = TargetArch::try_from(arch)
            .map_err(|e| PolicyError(format!("architecture {arch}: {e}")))?;
        let mut policy: serde_json::Value =
            serde_json::from_str(POLICY_JSON).map_err(|e| PolicyError(e.to_string()))?;
        for filter in policy
            .as_object_mut()
            .into_iter()
            .flat_map(|f| f.values_mut())
        {
            if let Some(rules) = filter["filter"].as_array_mut() {
                rules.retain(|rule| match rule.get("arches").and_then(|a| a.as_array()) {
                    Some(arches) => arches.iter().any(|a| a == arch),
                    None => true,
                });
                for rule in rules.iter_mut().filter_map(|rule| rule.as_object_mut()) {
                    rule.remove("arches");
                }
            }
        }
        let json = policy.to_string();
        let mut map = seccompiler::compile_from_json(json.as_bytes(), target)
            .map_err(|e| PolicyError(e.to_string()))?;
        let mut take = |name: &str| {
            map.remove(name)
                .ok_or_else(|| PolicyError(format!("no filter named {name}")))
        };
        Ok(Filters {
            deny_eperm: take(DENY_EPERM)?,
            clone3_enosys: take(CLONE3_ENOSYS)?,
        })
    }

    /// The compiled programs as plain numbers, one `u64` per BPF instruction, so that the
    /// server compiles the policy once and every sandbox init receives it ready to install.
    pub(crate) fn to_words(&self) -> [Vec<u64>; 2] {
        let words = |program: &BpfProgram| {
            program
                .iter()
                .map(|insn| {
                    u64::from(insn.code)
                        | u64::from(insn.jt) << 16
                        | u64::from(insn.jf) << 24
                        | u64::from(insn.k) << 32
                })
                .collect()
        };
        [words(&self.deny_eperm), words(&self.clone3_enosys)]
    }

    /// The inverse of [`Filters::to_words`].
    pub(crate) fn from_words(words: &[Vec<u64>; 2]) -> Filters {
        let program = |words: &[u64]| {
            words
                .iter()
                .map(|&word| seccompiler::sock_filter {
                    code: word as u16,
                    jt: (word >> 16) as u8,
                    jf: (word >> 24) as u8,
                    k: (word >> 32) as u32,
                })
                .collect()
        };
        Filters {
            deny_eperm: program(&words[0]),
            clone3_enosys: program(&words[1]),
        }
    }

    /// Installs both filters on the calling thread (setting `no_new_privs`, which seccomp
    /// requires of an unprivileged process). Allocation-free.
    pub fn install(&self) -> Result<(), std::io::Error> {
        for program in [&self.clone3_enosys, &self.deny_eperm] {
            seccompiler::apply_filter(program).map_err(|e| match e {
                seccompiler::Error::Prctl(e) | seccompiler::Error::Seccomp(e) => e,
                _ => std::io::Error::from_raw_os_error(libc::EINVAL),
            })?;
        }
        Ok(())
    }
}

/// Every syscall name the policy mentions, for documentation and tests.
pub fn syscall_names() -> Vec<String> {
    let policy: serde_json::Value =
        serde_json::from_str(POLICY_JSON).expect("policy.json is valid JSON (tested)");
    let mut names: Vec<String> = policy
        .as_object()
        .into_iter()
        .flat_map(|filters| filters.values())
        .filter_map(|filter| filter["filter"].as_array())
        .flatten()
        .filter_map(|rule| rule["syscall"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_on_every_supported_architecture() {
        for arch in ["x86_64", "aarch64", "riscv64"] {
            let filters = Filters::compile_for(arch).expect("policy compiles");
            assert!(!filters.deny_eperm.is_empty());
            assert!(!filters.clone3_enosys.is_empty());
        }
    }

    #[test]
    fn survives_the_trip_to_the_init() {
        let filters = Filters::compile().expect("policy compiles");
        let words = filters.to_words();
        assert_eq!(Filters::from_words(&words).to_words(), words);
        assert_eq!(words[0].len(), filters.deny_eperm.len());
    }

    #[test]
    fn denies_what_the_design_lists() {
        let names = syscall_names();
        for name in [
            "mount",
            "umount2",
            "pivot_root",
            "chroot",
            "ptrace",
            "unshare",
            "setns",
            "bpf",
            "keyctl",
            "userfaultfd",
            "io_uring_setup",
            "clone",
            "clone3",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} missing");
        }
        // Processes and threads are still created: only namespace flags are checked.
        assert!(!names.iter().any(|n| n == "fork" || n == "vfork"));
    }

    #[test]
    fn one_clone_rule_per_namespace_flag() {
        let policy: serde_json::Value = serde_json::from_str(POLICY_JSON).expect("valid JSON");
        let masks: Vec<u64> = policy[DENY_EPERM]["filter"]
            .as_array()
            .expect("a filter list")
            .iter()
            .filter(|rule| rule["syscall"] == "clone")
            .map(|rule| {
                let condition = &rule["args"][0];
                assert_eq!(
                    condition["index"], 0,
                    "clone's flags are its first argument"
                );
                let mask = condition["op"]["masked_eq"].as_u64().expect("masked_eq");
                assert_eq!(condition["val"].as_u64(), Some(mask));
                mask
            })
            .collect();
        let mut expected = vec![
            libc::CLONE_NEWNS,
            libc::CLONE_NEWCGROUP,
            libc::CLONE_NEWUTS,
            libc::CLONE_NEWIPC,
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWPID,
            libc::CLONE_NEWNET,
        ]
        .into_iter()
        .map(|flag| flag as u64)
        .collect::<Vec<_>>();
        expected.sort();
        let mut masks = masks;
        masks.sort();
        assert_eq!(masks, expected);
    }

    /// Installs the filters in a forked child and checks a few syscalls from there.
    #[test]
    fn filter_denies_in_a_child_process() {
        let filters = Filters::compile().expect("policy compiles");
        // SAFETY: the child only makes raw syscalls and `_exit`s: nothing that takes a
        // lock another thread of the test harness may hold.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            let code = (|| {
                if filters.install().is_err() {
                    return 10;
                }
                // SAFETY: plain syscalls with valid arguments.
                unsafe {
                    if libc::unshare(libc::CLONE_NEWUSER) != -1 || errno() != libc::EPERM {
                        return 11;
                    }
                    if libc::syscall(libc::SYS_clone3, 0usize, 0usize) != -1
                        || errno() != libc::ENOSYS
                    {
                        return 12;
                    }
                    let flags = (libc::CLONE_NEWPID | libc::SIGCHLD) as libc::c_ulong;
                    if libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) != -1
                        || errno() != libc::EPERM
                    {
                        return 13;
                    }
                    if libc::getpid() <= 0 {
                        return 14;
                    }
                }
                0
            })();
            // SAFETY: ends the forked child without running the harness's exit handlers.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above; `status` is a valid out pointer.
        let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(waited, pid);
        assert!(libc::WIFEXITED(status), "child status {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), 0, "see the return codes above");
    }

    fn errno() -> i32 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    }
}
