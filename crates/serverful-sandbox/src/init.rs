//! The sandbox init: the process [`crate::Host::prepare`]'s command starts, which builds
//! the sandbox and starts the function inside it.
//!
//! Three processes, each for a reason:
//!
//! - **P**, the init proper, is the server's own binary re-executed (`/proc/self/exe`
//!   with [`MARKER`] as its first argument and the spec as JSON in [`PAYLOAD_ENV`]),
//!   because only a fresh single-threaded process may fork freely and `setns`. P stays in
//!   the host's user namespace as root. It sets the rlimits (raising `RLIMIT_NOFILE`
//!   needs host privilege), clears its supplementary groups (their host gids would still
//!   grant access to group-readable files), and builds the new root in a mount namespace
//!   of its own (`build_root` says why there). It joins the instance's network namespace
//!   (created by the server, see `net`) and `clone`s C into new user, pid, mount, ipc and
//!   uts namespaces. Only a process outside a user namespace can map an arbitrary host id
//!   into it, so P writes C's `uid_map` and `gid_map`, then puts C into the instance's
//!   cgroups (P stays outside, so its memory is not charged to the function) and releases
//!   C through a pipe. P then waits for C, and ends the way the function did (same exit
//!   code, or the same signal), so that the server sees `signal: 9` for an OOM kill. It
//!   watches the server through a pidfd rather than `PR_SET_PDEATHSIG`, which fires when
//!   the *thread* that spawned P ends: a server that spawns from a blocking-pool thread
//!   would lose its instances when that thread retires.
//! - **C** has every capability, but only in its new user namespace. Its copy of P's
//!   mounts is locked (it cannot unmount a mask or make a read-only mount writable). The
//!   root P built is a tmpfs with read-only recursive bind mounts of the system paths and
//!   the function's mounts, masks over `/etc`'s secrets, a private `/tmp` and a minimal
//!   `/dev`; C adds a `/proc` for its pid namespace, `pivot_root`s into the root and drops
//!   the old one, sets the hostname, and drops to uid/gid 993 (Lambda's `sbx_user1051`)
//!   with no capabilities, no bounding set and `no_new_privs`. C then stays as the namespace's
//!   pid 1: it reaps orphans, and when it exits the kernel kills everything left in the
//!   namespace. It reports the function's raw wait status to P.
//! - **G** is the function: a new session, default signal dispositions, the seccomp
//!   filter (installed last, as it forbids `mount` and friends), then `execve`.
//!
//! A parked sandbox (no program in the payload) goes through all of this up to G's
//! seccomp filter, and G then waits for its [`Launch`] on standard input (P's, inherited):
//! once the server writes it and closes the pipe, G swaps standard input for `/dev/null`,
//! changes directory and `execve`s. An empty input means the sandbox was not needed: G
//! exits 0 and the rest with it.
//!
//! `/tmp` and `/dev/shm` are tmpfs: their pages are charged to the instance's memory
//! cgroup, so a function's `/tmp` and its memory together stay within `MemorySize` (on
//! Lambda `/tmp` is disk). Swap is off for instances, so a full `/tmp` cannot be swapped
//! out either.
//!
//! Any failure before the function's `execve` is reported to P over a pipe as
//! `<step>: <ERRNO>` (`mount /var/task read-only: EPERM`); P writes it to the instance's
//! error file and to stderr (`serverful sandbox: …`) and exits 125.
//!
//! C is made with a raw `clone` without `CLONE_VM` and without a new stack, which behaves
//! like `fork`; C and G therefore avoid libc functions that rely on the thread id libc
//! cached (`raise`, pthread calls) and end with `_exit`.

use std::ffi::{CString, OsStr};
use std::fs::DirBuilder;
use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

use crate::policy::Filters;
use crate::{Launch, Mount};

/// The first argument that makes a binary the sandbox init.
pub(crate) const MARKER: &str = "__serverful-sandbox-init";
/// The environment variable carrying the [`Payload`] as JSON.
const PAYLOAD_ENV: &str = "SERVERFUL_SANDBOX_PAYLOAD";

/// The uid and gid functions run as inside, as on Lambda (`sbx_user1051`).
pub(crate) const SANDBOX_ID: u32 = 993;
/// The host uid and gid that [`SANDBOX_ID`] maps to when the server runs as root: far
/// above the ids distributions hand out to system and human users, so that files on the
/// host are never owned by it and a function gets only the "other" permission bits.
/// (Without root, the server's own uid is the only one it may map.)
const HOST_ID_WHEN_ROOT: u32 = 10_000_993;

/// The exit code of an init that failed before starting the function.
pub(crate) const SETUP_FAILED: i32 = 125;

/// The files in `/etc` hidden behind an empty, unreadable file.
const MASKED_ETC_FILES: &[&str] = &["shadow", "shadow-", "gshadow", "gshadow-", "sudoers"];
/// The directories in `/etc` hidden behind an empty read-only tmpfs.
const MASKED_ETC_DIRS: &[&str] = &["sudoers.d", "ssh"];
/// Device nodes bound from the host's `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// What the init needs, serialized by the server into [`PAYLOAD_ENV`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Payload {
    /// The program; `None` parks the sandbox: C reads the launch from its standard input
    /// once everything is set up.
    pub launch: Option<Launch>,
    /// System mounts, then the instance's; targets absolute, without `..`.
    pub mounts: Vec<Mount>,
    pub tmp_size_mb: u64,
    pub max_open_files: u64,
    pub hostname: String,
    /// An empty host directory the new root's tmpfs is mounted on (in C's private mount
    /// namespace, so the host never sees it).
    pub root_dir: PathBuf,
    /// The `cgroup.procs` files to put C into.
    pub cgroup_procs: Vec<PathBuf>,
    /// The network namespace the server made, if it made one; else C gets a new
    /// namespace with only loopback.
    pub netns: Option<NamespaceRef>,
    pub error_file: PathBuf,
    pub server_pid: u32,
    /// The seccomp programs, compiled once by the server ([`Filters::to_words`]).
    pub seccomp: [Vec<u64>; 2],
    /// Set everything up, then exit 0 instead of starting the program.
    pub dry_run: bool,
}

/// A namespace descriptor of the server, as P opens it: through the server's
/// `/proc/<pid>/fd`, checked against the namespace's inode, so that a descriptor closed
/// and reused meanwhile cannot stand in for it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct NamespaceRef {
    pub path: PathBuf,
    pub device: u64,
    pub inode: u64,
}

/// The command that starts P. `netns` must stay open until P has joined it (for as long
/// as the instance lives, in practice). P opens it by path rather than inheriting it, so
/// that the command needs no `pre_exec` hook and the standard library can start it with
/// `posix_spawn` (a `vfork`) instead of copying the server's whole address space.
pub(crate) fn command(
    mut payload: Payload,
    netns: Option<BorrowedFd<'_>>,
) -> Result<Command, crate::SandboxError> {
    payload.netns = netns
        .map(|fd| {
            let stat = nix::sys::stat::fstat(fd)?;
            Ok::<_, Errno>(NamespaceRef {
                path: PathBuf::from(format!(
                    "/proc/{}/fd/{}",
                    payload.server_pid,
                    fd.as_raw_fd()
                )),
                device: stat.st_dev as u64,
                inode: stat.st_ino as u64,
            })
        })
        .transpose()
        .map_err(|e| crate::SandboxError::setup("read the network namespace descriptor", e))?;
    let json = serde_json::to_string(&payload)
        .map_err(|e| crate::SandboxError::setup("serialize sandbox spec", e))?;
    let mut command = Command::new("/proc/self/exe");
    command
        .arg0("serverful-sandbox-init")
        .arg(MARKER)
        .env_clear()
        .env(PAYLOAD_ENV, json);
    Ok(command)
}

/// P: opens the server's namespace descriptor `netns` and checks it is still the same
/// namespace.
fn open_namespace(netns: &NamespaceRef) -> Result<OwnedFd, Failure> {
    let step = || "join network namespace".to_owned();
    let fd = nix::fcntl::open(
        &netns.path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .step(step)?;
    let stat = nix::sys::stat::fstat(&fd).step(step)?;
    if stat.st_dev as u64 != netns.device || stat.st_ino as u64 != netns.inode {
        return Err(Failure {
            step: step(),
            errno: Errno::ESTALE,
        });
    }
    Ok(fd)
}

/// Runs the sandbox init when this process was started as one (by a command from
/// [`crate::Host::prepare`]) and never returns then; otherwise returns at once. Call it
/// first thing in `main`, before any thread starts.
pub fn run_init_if_requested() {
    if std::env::args_os().nth(1).as_deref() != Some(OsStr::new(MARKER)) {
        return;
    }
    let payload = std::env::var(PAYLOAD_ENV)
        .map_err(|e| e.to_string())
        .and_then(|json| serde_json::from_str::<Payload>(&json).map_err(|e| e.to_string()));
    let payload = match payload {
        Ok(payload) => payload,
        Err(e) => {
            eprintln!("serverful sandbox: read sandbox spec: {e}");
            std::process::exit(SETUP_FAILED);
        }
    };
    match init(&payload) {
        Ok(status) => end_like(status),
        Err(failure) => {
            report_failure(&payload.error_file, &failure.to_string());
            std::process::exit(SETUP_FAILED);
        }
    }
}

/// A step that failed, with the errno that says why.
#[derive(Debug)]
struct Failure {
    step: String,
    errno: Errno,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {:?}", self.step, self.errno)
    }
}

/// Names the step of a fallible call.
trait Step<T> {
    fn step(self, step: impl FnOnce() -> String) -> Result<T, Failure>;
}

impl<T> Step<T> for nix::Result<T> {
    fn step(self, step: impl FnOnce() -> String) -> Result<T, Failure> {
        self.map_err(|errno| Failure {
            step: step(),
            errno,
        })
    }
}

impl<T> Step<T> for std::io::Result<T> {
    fn step(self, step: impl FnOnce() -> String) -> Result<T, Failure> {
        self.map_err(|e| Failure {
            step: step(),
            errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        })
    }
}

/// The result of a raw syscall returning -1 on error.
fn check(result: libc::c_long) -> nix::Result<libc::c_long> {
    if result == -1 {
        Err(Errno::last())
    } else {
        Ok(result)
    }
}

fn report_failure(error_file: &Path, message: &str) {
    let _ = std::fs::write(error_file, format!("{message}\n"));
    eprintln!("serverful sandbox: {message}");
}

/// P: returns the raw wait status to end with.
fn init(payload: &Payload) -> Result<i32, Failure> {
    // The server's pidfd, to end with it; checked against our parent so that a reused pid
    // cannot stand in for a server that is already gone. Kernels before 5.3 have no
    // pidfds; there the parent death signal has to do, with its thread caveat.
    let server = match pidfd_open(payload.server_pid as i32) {
        Ok(server) => Some(server),
        Err(Errno::ENOSYS) => {
            // SAFETY: prctl with integer arguments.
            check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) }.into())
                .step(|| "set parent death signal".into())?;
            None
        }
        Err(errno) => {
            return Err(Failure {
                step: "watch the server".into(),
                errno,
            })
        }
    };
    if nix::unistd::getppid().as_raw() != payload.server_pid as i32 {
        return Err(Failure {
            step: "watch the server".into(),
            errno: Errno::ESRCH,
        });
    }

    let is_root = nix::unistd::geteuid().is_root();
    let host_uid = if is_root {
        HOST_ID_WHEN_ROOT
    } else {
        nix::unistd::geteuid().as_raw()
    };
    let host_gid = if is_root {
        HOST_ID_WHEN_ROOT
    } else {
        nix::unistd::getegid().as_raw()
    };

    use nix::sys::resource::{setrlimit, Resource};
    setrlimit(
        Resource::RLIMIT_NOFILE,
        payload.max_open_files,
        payload.max_open_files,
    )
    .step(|| format!("set open files limit to {}", payload.max_open_files))?;
    // No core files: the root is read-only anyway, and P re-raising a crash signal must not
    // dump the server's binary.
    setrlimit(Resource::RLIMIT_CORE, 0, 0).step(|| "set core file limit".into())?;
    if is_root {
        nix::unistd::setgroups(&[]).step(|| "clear supplementary groups".into())?;
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));

    let filters = Filters::from_words(&payload.seccomp);
    // A bad program fails before anything is built; a parked sandbox checks its launch
    // when it arrives.
    let exec = payload.launch.as_ref().map(Exec::new).transpose()?;
    build_root(payload)?;

    let mut flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS;
    match &payload.netns {
        Some(netns) => {
            let netns = open_namespace(netns)?;
            nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET)
                .step(|| "join network namespace".into())?;
        }
        None => flags |= libc::CLONE_NEWNET,
    }

    let (release_read, release_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).step(|| "create pipe".into())?;
    let (report_read, report_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).step(|| "create pipe".into())?;

    // SAFETY: a raw clone without CLONE_VM and without a new stack is a fork: the child
    // continues here on a copy of this single-threaded process's memory (see the module
    // docs for what the child avoids).
    let pid = check(unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    })
    .step(|| "clone namespaces".into())?;
    if pid == 0 {
        drop(release_write);
        drop(report_read);
        drop(server);
        child(payload, exec, &filters, release_read, report_write, flags);
    }
    let child_pid = pid as i32;
    drop(release_read);
    drop(report_write);

    let prepared = (|| {
        let proc_dir = PathBuf::from(format!("/proc/{child_pid}"));
        std::fs::write(proc_dir.join("setgroups"), "deny").step(|| "write setgroups".into())?;
        std::fs::write(
            proc_dir.join("uid_map"),
            format!("{SANDBOX_ID} {host_uid} 1\n"),
        )
        .step(|| "write uid_map".into())?;
        std::fs::write(
            proc_dir.join("gid_map"),
            format!("{SANDBOX_ID} {host_gid} 1\n"),
        )
        .step(|| "write gid_map".into())?;
        for procs in &payload.cgroup_procs {
            std::fs::write(procs, child_pid.to_string())
                .step(|| format!("move into cgroup {}", display_dir(procs)))?;
        }
        nix::unistd::write(&release_write, b"1").step(|| "release the sandbox".into())?;
        Ok(())
    })();
    if let Err(failure) = prepared {
        // SAFETY: kill has no memory-safety preconditions; child_pid is our unreaped child.
        unsafe { libc::kill(child_pid, libc::SIGKILL) };
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child_pid), None);
        return Err(failure);
    }

    let child_status = wait_for_child(child_pid, server.as_ref())?;
    // C and everything in its pid namespace are gone now, so the report pipe is at EOF
    // once its contents are read.
    let mut report = Vec::new();
    let _ = std::fs::File::from(report_read).read_to_end(&mut report);
    drop(release_write);
    match parse_report(&report) {
        Report::Failure(message) => {
            report_failure(&payload.error_file, &message);
            std::process::exit(SETUP_FAILED);
        }
        Report::Status(status) => Ok(status),
        Report::Nothing => Ok(child_status),
    }
}

/// Waits for C, or kills it when the server goes away first; returns C's wait status.
fn wait_for_child(child_pid: i32, server: Option<&OwnedFd>) -> Result<i32, Failure> {
    // Without pidfds, block in waitpid; the parent death signal ends P with the server.
    let pidfds = server.zip(pidfd_open(child_pid).ok());
    loop {
        if let Some((server, child)) = &pidfds {
            let mut fds = [
                libc::pollfd {
                    fd: server.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: child.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if ready == -1 {
                if Errno::last() == Errno::EINTR {
                    continue;
                }
                return Err(Failure {
                    step: "wait for the sandbox".into(),
                    errno: Errno::last(),
                });
            }
            if fds[0].revents != 0 && fds[1].revents == 0 {
                // SAFETY: kill has no memory-safety preconditions; C is our child.
                unsafe { libc::kill(child_pid, libc::SIGKILL) };
            }
        }
        let mut status = 0;
        // SAFETY: `status` is a valid out pointer; C is our child.
        let waited = unsafe { libc::waitpid(child_pid, &mut status, 0) };
        if waited == child_pid {
            return Ok(status);
        }
        if Errno::last() != Errno::EINTR {
            return Err(Failure {
                step: "wait for the sandbox".into(),
                errno: Errno::last(),
            });
        }
    }
}

fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor we own.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// What C and G tell P.
#[derive(Debug, PartialEq)]
enum Report {
    Failure(String),
    Status(i32),
    Nothing,
}

const REPORT_FAILURE: u8 = b'E';
const REPORT_STATUS: u8 = b'S';

/// A failure anywhere wins over a status: G's failed `execve` is followed by C's report
/// of G's exit 125.
fn parse_report(mut bytes: &[u8]) -> Report {
    let mut report = Report::Nothing;
    while let Some((&tag, rest)) = bytes.split_first() {
        match tag {
            REPORT_FAILURE => {
                let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                return Report::Failure(String::from_utf8_lossy(&rest[..end]).into_owned());
            }
            REPORT_STATUS if rest.len() >= 4 => {
                report = Report::Status(i32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]));
                bytes = &rest[4..];
            }
            _ => break,
        }
    }
    report
}

/// Sends a report in one `write` (atomic: far below `PIPE_BUF`).
fn send(report: &OwnedFd, tag: u8, body: &[u8]) {
    let mut message = Vec::with_capacity(body.len() + 2);
    message.push(tag);
    message.extend_from_slice(body);
    if tag == REPORT_FAILURE {
        message.push(b'\n');
    }
    let _ = nix::unistd::write(report, &message);
}

/// Ends this process the way the function ended: its exit code, or its signal re-raised
/// with the default disposition.
fn end_like(status: i32) -> ! {
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        // SAFETY: plain syscalls on this process; a non-dumpable process leaves no core
        // dump when the signal is a crash signal.
        unsafe {
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
            libc::signal(signal, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, signal);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), signal);
        }
        std::process::exit(128 + signal);
    }
    std::process::exit(libc::WEXITSTATUS(status))
}

/// G's `execve` arguments and working directory, built before forking.
struct Exec {
    program: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: PathBuf,
}

/// G of a parked sandbox: reads the [`Launch`] the server writes to standard input and
/// closes, then puts `/dev/null` in its place for the function. An empty input means the
/// server dropped the sandbox unused: G ends quietly, and C and P with it.
fn receive_launch() -> Result<Launch, Failure> {
    let mut message = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        // SAFETY: standard input is open for the whole life of G (P's stdin, inherited).
        let stdin = unsafe { BorrowedFd::borrow_raw(libc::STDIN_FILENO) };
        match nix::unistd::read(stdin, &mut chunk) {
            Ok(0) => break,
            Ok(read) => message.extend_from_slice(&chunk[..read]),
            Err(Errno::EINTR) => continue,
            Err(errno) => {
                return Err(Failure {
                    step: "read the launch".into(),
                    errno,
                })
            }
        }
    }
    if message.is_empty() {
        // SAFETY: ends G, unused; C reports its exit 0.
        unsafe { libc::_exit(0) };
    }
    let launch = serde_json::from_slice::<Launch>(&message).map_err(|_| Failure {
        step: "read the launch".into(),
        errno: Errno::EINVAL,
    })?;
    let null = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .step(|| "open /dev/null".into())?;
    // SAFETY: dup2 onto standard input, which G owns; `null` stays open until then.
    check(unsafe { libc::dup2(null.as_raw_fd(), libc::STDIN_FILENO) }.into())
        .step(|| "redirect standard input".into())?;
    Ok(launch)
}

impl Exec {
    fn new(launch: &Launch) -> Result<Exec, Failure> {
        let invalid = |what: &str| Failure {
            step: format!("{what} of {}", launch.program.display()),
            errno: Errno::EINVAL,
        };
        let program = cstring(launch.program.as_os_str()).ok_or_else(|| invalid("path"))?;
        let mut argv = vec![program.clone()];
        for arg in &launch.args {
            argv.push(cstring(arg).ok_or_else(|| invalid("argument"))?);
        }
        let mut envp = Vec::with_capacity(launch.env.len());
        for (name, value) in &launch.env {
            let mut pair = name.clone();
            pair.push("=");
            pair.push(value);
            envp.push(cstring(&pair).ok_or_else(|| invalid("environment"))?);
        }
        Ok(Exec {
            program,
            argv,
            envp,
            cwd: launch.cwd.clone(),
        })
    }
}

fn cstring(text: &OsStr) -> Option<CString> {
    CString::new(text.as_bytes()).ok()
}

fn path_cstring(path: &Path) -> Result<CString, Failure> {
    cstring(path.as_os_str()).ok_or_else(|| Failure {
        step: format!("path {}", path.display()),
        errno: Errno::EINVAL,
    })
}

/// C: builds the sandbox, then runs G as its child and reports G's status. Never returns.
fn child(
    payload: &Payload,
    exec: Option<Exec>,
    filters: &Filters,
    release: OwnedFd,
    report: OwnedFd,
    clone_flags: libc::c_int,
) -> ! {
    let result = (|| -> Result<Option<Exec>, Failure> {
        // SAFETY: prctl with integer arguments.
        check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) }.into())
            .step(|| "set parent death signal".into())?;
        // P writes one byte once the uid maps and cgroups are in place; EOF means P died.
        let mut byte = [0u8; 1];
        if nix::unistd::read(&release, &mut byte).unwrap_or(0) != 1 {
            // SAFETY: ends this process without running anything inherited from P.
            unsafe { libc::_exit(SETUP_FAILED) };
        }
        if clone_flags & libc::CLONE_NEWNET != 0 {
            loopback_up().step(|| "bring up loopback".into())?;
        }
        enter_root(payload)?;
        nix::unistd::sethostname(&payload.hostname)
            .step(|| format!("set hostname {}", payload.hostname))?;
        drop_privileges()?;
        // Changing credentials cleared the parent death signal; set it again, then make
        // sure P did not die in between (P holds the release pipe's write end until it
        // ends).
        // SAFETY: prctl with integer arguments.
        check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) }.into())
            .step(|| "set parent death signal".into())?;
        let mut poll = [libc::pollfd {
            fd: release.as_raw_fd(),
            events: 0,
            revents: 0,
        }];
        // SAFETY: a valid one-element pollfd array, zero timeout.
        if unsafe { libc::poll(poll.as_mut_ptr(), 1, 0) } != 0 {
            // SAFETY: ends this process; P is gone.
            unsafe { libc::_exit(SETUP_FAILED) };
        }
        // SAFETY: prctl with integer arguments.
        check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }.into())
            .step(|| "set no_new_privs".into())?;
        // A parked sandbox's G changes directory once its launch arrives.
        if let Some(exec) = &exec {
            nix::unistd::chdir(&exec.cwd)
                .step(|| format!("change directory to {}", exec.cwd.display()))?;
            if payload.dry_run {
                // The program must exist and be executable by the function's user.
                nix::unistd::access(exec.program.as_c_str(), nix::unistd::AccessFlags::X_OK)
                    .step(|| format!("execve {}", exec.program.to_string_lossy()))?;
                // SAFETY: ends the dry run successfully.
                unsafe { libc::_exit(0) };
            }
        }
        Ok(exec)
    })();
    let exec = match result {
        Ok(exec) => exec,
        Err(failure) => {
            send(&report, REPORT_FAILURE, failure.to_string().as_bytes());
            // SAFETY: ends C; the kernel ends the pid namespace with it.
            unsafe { libc::_exit(SETUP_FAILED) };
        }
    };

    // A parked sandbox forks G now too: G sets itself up as far as it can and then waits
    // for its launch, so that starting the function costs only the hand-over and execve.
    // SAFETY: C is single-threaded; G only makes syscalls (and, parked, reads and parses
    // its launch) and execs or `_exit`s.
    let function = unsafe { libc::fork() };
    if function == -1 {
        send(
            &report,
            REPORT_FAILURE,
            format!("fork the function: {:?}", Errno::last()).as_bytes(),
        );
        // SAFETY: ends C.
        unsafe { libc::_exit(SETUP_FAILED) };
    }
    if function == 0 {
        drop(release);
        function_process(exec.as_ref(), filters, &report);
    }
    drop(release);
    // Pid 1: reap every orphan until the function itself ends.
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid == function {
            send(&report, REPORT_STATUS, &status.to_le_bytes());
            // SAFETY: ends C, and with it every process left in the namespace.
            unsafe { libc::_exit(0) };
        }
        if pid == -1 && Errno::last() != Errno::EINTR {
            // SAFETY: no children left (cannot happen while G is unreaped).
            unsafe { libc::_exit(SETUP_FAILED) };
        }
    }
}

/// G: becomes the function. Never returns. A parked G (`exec` is `None`) installs the
/// seccomp filter and then waits for its launch; the filter allows what is left to do
/// (read, open `/dev/null`, `dup2`, `chdir`, `execve`).
fn function_process(exec: Option<&Exec>, filters: &Filters, report: &OwnedFd) -> ! {
    // SAFETY: setsid, signal and sigprocmask with valid arguments; the signal set is a
    // local. Dispositions go back to default: the Rust runtime of P ignored SIGPIPE, and
    // ignored signals survive execve.
    unsafe {
        libc::setsid();
        for signal in 1..32 {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
    // A descriptor the server leaked without close-on-exec must not reach the function;
    // the report pipe closes at exec too. (Kernels before 5.11 lack close_range; there
    // only what the server marked close-on-exec is closed.)
    // SAFETY: close_range with integer arguments only sets flags on descriptors.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
    let fail = |message: String| -> ! {
        send(report, REPORT_FAILURE, message.as_bytes());
        // SAFETY: ends G.
        unsafe { libc::_exit(SETUP_FAILED) }
    };
    if let Err(e) = filters.install() {
        let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        fail(format!("install seccomp filter: {errno:?}"));
    }
    let received;
    let exec = match exec {
        Some(exec) => exec,
        None => {
            let launched = receive_launch()
                .and_then(|launch| Exec::new(&launch))
                .and_then(|exec| {
                    nix::unistd::chdir(&exec.cwd)
                        .step(|| format!("change directory to {}", exec.cwd.display()))?;
                    Ok(exec)
                });
            match launched {
                Ok(exec) => {
                    received = exec;
                    &received
                }
                Err(failure) => fail(failure.to_string()),
            }
        }
    };
    let mut argv: Vec<*const libc::c_char> = exec.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = exec.envp.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: program, argv and envp are NUL-terminated strings and NULL-terminated
    // arrays that outlive the call; execve returns only on failure.
    unsafe { libc::execve(exec.program.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    fail(format!(
        "execve {}: {:?}",
        String::from_utf8_lossy(exec.program.as_bytes()),
        Errno::last()
    ))
}

/// Sets `IFF_UP` on `lo` in C's own network namespace.
fn loopback_up() -> nix::Result<()> {
    // SAFETY: socket returns a new descriptor we own, or -1.
    let socket = check(
        unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) }.into(),
    )?;
    // SAFETY: the kernel just returned this descriptor to us.
    let socket = unsafe { OwnedFd::from_raw_fd(socket as RawFd) };
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write `request`, a valid ifreq.
    unsafe {
        check(libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request).into())?;
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        check(libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request).into())?;
    }
    Ok(())
}

/// The path of `target` (absolute, as seen inside) below the new root.
fn below(root: &Path, target: &Path) -> PathBuf {
    root.join(target.strip_prefix("/").unwrap_or(target))
}

fn make_dirs(path: &Path) -> Result<(), Failure> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .step(|| format!("create mount point {}", path.display()))
}

/// P: builds the new root at `payload.root_dir` in a mount namespace of its own. P does
/// this as host root rather than leaving it to C: files created on a tmpfs mounted inside
/// a user namespace must be owned by an id mapped there (host root is not: `EOVERFLOW`),
/// and a read-only remount there must repeat every flag the host locked. Copied into C's
/// namespace, all these mounts become locked to each other, so the function cannot
/// unmount a mask or make a read-only mount writable again.
fn build_root(payload: &Payload) -> Result<(), Failure> {
    let root = payload.root_dir.as_path();
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .step(|| "create mount namespace".into())?;
    // Nothing done below may propagate back to the host's mounts.
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .step(|| "make mounts private".into())?;
    nix::mount::mount(
        Some("tmpfs"),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755,size=1m"),
    )
    .step(|| "mount the new root".into())?;

    let mut mounts: Vec<&Mount> = payload.mounts.iter().collect();
    // Parents before children: a mount below another goes on top of it.
    mounts.sort_by_key(|mount| mount.target.components().count());
    for mount in mounts {
        place_mount(root, mount)?;
    }
    mask_etc(root)?;

    let tmp = below(root, Path::new("/tmp"));
    make_dirs(&tmp)?;
    nix::mount::mount(
        Some("tmpfs"),
        &tmp,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(format!("mode=1777,size={}m", payload.tmp_size_mb).as_str()),
    )
    .step(|| "mount /tmp".into())?;
    build_dev(root)?;
    // C mounts its own /proc here: only a process in the new pid namespace can.
    make_dirs(&below(root, Path::new("/proc")))?;
    let empty = below(root, Path::new(EMPTY_FILE));
    if empty.exists() {
        std::fs::remove_file(&empty).step(|| format!("remove {EMPTY_FILE}"))?;
    }
    remount_read_only(root, MsFlags::MS_NOSUID | MsFlags::MS_NODEV)
        .step(|| "remount / read-only".into())?;
    Ok(())
}

/// C: mounts `/proc` for its pid namespace and `pivot_root`s into the root P built.
fn enter_root(payload: &Payload) -> Result<(), Failure> {
    let root = payload.root_dir.as_path();
    // Copied from P's namespace, the root is locked to the mount below it, and
    // pivot_root refuses a locked new root; a bind of it onto itself is not locked.
    nix::mount::mount(
        Some(root),
        root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .step(|| "bind the new root".into())?;
    nix::mount::mount(
        Some("proc"),
        &below(root, Path::new("/proc")),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .step(|| "mount /proc".into())?;
    // pivot_root(".", ".") stacks the old root under the new one at "/"; detaching it
    // leaves only the new root, with no directory for the old one.
    nix::unistd::chdir(root).step(|| "change directory to the new root".into())?;
    nix::unistd::pivot_root(".", ".").step(|| "pivot_root".into())?;
    nix::mount::umount2(".", MntFlags::MNT_DETACH).step(|| "detach the old root".into())?;
    nix::unistd::chdir("/").step(|| "change directory to /".into())?;
    Ok(())
}

/// The unreadable empty file masks are bound from; removed once they are in place.
const EMPTY_FILE: &str = "/.serverful-empty";

fn place_mount(root: &Path, mount: &Mount) -> Result<(), Failure> {
    let target = below(root, &mount.target);
    let metadata = std::fs::symlink_metadata(&mount.source).step(|| {
        format!(
            "mount {} at {}",
            mount.source.display(),
            mount.target.display()
        )
    })?;
    if metadata.file_type().is_symlink() && mount.source == mount.target {
        // `/bin -> usr/bin` on merged-/usr hosts: the same relative link works inside.
        let link = std::fs::read_link(&mount.source)
            .step(|| format!("read link {}", mount.source.display()))?;
        if link.is_relative() {
            if let Some(parent) = target.parent() {
                make_dirs(parent)?;
            }
            return std::os::unix::fs::symlink(&link, &target)
                .step(|| format!("create link {}", mount.target.display()));
        }
    }
    if std::fs::metadata(&mount.source)
        .step(|| {
            format!(
                "mount {} at {}",
                mount.source.display(),
                mount.target.display()
            )
        })?
        .is_dir()
    {
        make_dirs(&target)?;
    } else {
        if let Some(parent) = target.parent() {
            make_dirs(parent)?;
        }
        if std::fs::symlink_metadata(&target).is_err() {
            std::fs::File::create(&target)
                .step(|| format!("create mount point {}", mount.target.display()))?;
        }
    }
    let mut attributes = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;
    if !mount.writable {
        attributes |= libc::MOUNT_ATTR_RDONLY;
    }
    bind(&mount.source, &target, attributes, &mount.target)
}

/// Binds `source` (with every mount below it) at `target` with `attributes` set on all of
/// them. The new mount API (`open_tree`, `mount_setattr`, `move_mount`) applies the
/// attributes to every mount of the tree and only ever adds flags; a classic bind
/// remount applies to the top mount only, and must repeat the flags it keeps.
fn bind(source: &Path, target: &Path, attributes: u64, shown_as: &Path) -> Result<(), Failure> {
    let source_c = path_cstring(source)?;
    let target_c = path_cstring(target)?;
    let read_only = attributes & libc::MOUNT_ATTR_RDONLY != 0;
    let step = || {
        format!(
            "mount {}{}",
            shown_as.display(),
            if read_only { " read-only" } else { "" }
        )
    };
    // SAFETY: open_tree takes a NUL-terminated path and flags and returns a descriptor of
    // a detached copy of the mount tree, which we own.
    let tree = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            source_c.as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as libc::c_uint,
        )
    };
    if tree == -1 && Errno::last() == Errno::ENOSYS {
        return bind_classic(source, target, attributes).step(step);
    }
    let tree =
        check(tree).step(|| format!("mount {} at {}", source.display(), shown_as.display()))?;
    // SAFETY: the kernel just returned this descriptor to us.
    let tree = unsafe { OwnedFd::from_raw_fd(tree as RawFd) };
    let attr = libc::mount_attr {
        attr_set: attributes,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr reads `attr` (its size passed along) and an empty path
    // relative to our descriptor.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    })
    .step(step)?;
    // SAFETY: move_mount takes our tree descriptor with an empty path and a
    // NUL-terminated target path.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target_c.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
    .step(|| format!("mount {} at {}", source.display(), shown_as.display()))?;
    Ok(())
}

/// `bind` for kernels before 5.12: a recursive bind, then a remount of its top that adds
/// `attributes` to the flags the source mount has.
fn bind_classic(source: &Path, target: &Path, attributes: u64) -> nix::Result<()> {
    nix::mount::mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )?;
    let mut flags = MsFlags::empty();
    for (attribute, flag) in [
        (libc::MOUNT_ATTR_RDONLY, MsFlags::MS_RDONLY),
        (libc::MOUNT_ATTR_NOSUID, MsFlags::MS_NOSUID),
        (libc::MOUNT_ATTR_NODEV, MsFlags::MS_NODEV),
        (libc::MOUNT_ATTR_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if attributes & attribute != 0 {
            flags |= flag;
        }
    }
    remount_with(target, flags)
}

/// Remounts the mount at `path` read-only with `extra` flags.
fn remount_read_only(path: &Path, extra: MsFlags) -> nix::Result<()> {
    remount_with(path, extra | MsFlags::MS_RDONLY)
}

/// A bind remount with `flags` added to the mount's current ones (a bind remount replaces
/// them all, so a read-only source must stay read-only, and a mount with flags locked by
/// the kernel cannot lose them).
fn remount_with(path: &Path, flags: MsFlags) -> nix::Result<()> {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let current = statvfs(path)?.flags();
    let mut flags = flags;
    for (fs_flag, ms_flag) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if current.contains(fs_flag) {
            flags |= ms_flag;
        }
    }
    nix::mount::mount(
        None::<&str>,
        path,
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | flags,
        None::<&str>,
    )
}

/// Hides `/etc`'s secrets when `/etc` is part of the root.
fn mask_etc(root: &Path) -> Result<(), Failure> {
    let etc = below(root, Path::new("/etc"));
    if !etc.is_dir() {
        return Ok(());
    }
    let empty = below(root, Path::new(EMPTY_FILE));
    let mut have_empty = false;
    for name in MASKED_ETC_FILES {
        let path = etc.join(name);
        let shown = Path::new("/etc").join(name);
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        if !have_empty {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o000)
                .open(&empty)
                .step(|| "create the mask file".into())?;
            have_empty = true;
        }
        bind(
            &empty,
            &path,
            libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV,
            &shown,
        )
        .map_err(|failure| Failure {
            step: format!("mask {}", shown.display()),
            errno: failure.errno,
        })?;
    }
    for name in MASKED_ETC_DIRS {
        let path = etc.join(name);
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        nix::mount::mount(
            Some("tmpfs"),
            &path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("mode=0755,size=4k"),
        )
        .step(|| format!("mask /etc/{name}"))?;
    }
    Ok(())
}

/// A minimal `/dev`: a few host device nodes, the standard links and a `/dev/shm`.
fn build_dev(root: &Path) -> Result<(), Failure> {
    let dev = below(root, Path::new("/dev"));
    make_dirs(&dev)?;
    nix::mount::mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=0755,size=64k"),
    )
    .step(|| "mount /dev".into())?;
    for name in DEVICES {
        let host = Path::new("/dev").join(name);
        if std::fs::symlink_metadata(&host).is_err() {
            continue;
        }
        let target = dev.join(name);
        std::fs::File::create(&target).step(|| format!("create mount point {}", host.display()))?;
        // Not nodev: these binds are the host's device nodes, usable as such.
        bind(
            &host,
            &target,
            libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOEXEC,
            &host,
        )?;
    }
    for (name, link) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(link, dev.join(name))
            .step(|| format!("create link /dev/{name}"))?;
    }
    let shm = dev.join("shm");
    make_dirs(&shm)?;
    nix::mount::mount(
        Some("tmpfs"),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777,size=64m"),
    )
    .step(|| "mount /dev/shm".into())?;
    remount_read_only(&dev, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC)
        .step(|| "remount /dev read-only".into())?;
    Ok(())
}

/// Version 3 of the capability header, as `capset(2)` takes it.
#[repr(C)]
struct CapabilityHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapabilityData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Becomes uid/gid 993 with no capabilities at all. The kernel clears capabilities on a
/// uid change only when leaving uid 0 *of the namespace*, and C never had that uid (host
/// root is unmapped here), so everything is dropped explicitly.
fn drop_privileges() -> Result<(), Failure> {
    for capability in 0..64 {
        // SAFETY: prctl with integer arguments; EINVAL past the last capability is ignored.
        let result = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, capability, 0, 0, 0) };
        if result == -1 && Errno::last() != Errno::EINVAL {
            return Err(Failure {
                step: "drop the capability bounding set".into(),
                errno: Errno::last(),
            });
        }
    }
    let id = nix::unistd::Gid::from_raw(SANDBOX_ID);
    nix::unistd::setresgid(id, id, id).step(|| format!("setresgid {SANDBOX_ID}"))?;
    let id = nix::unistd::Uid::from_raw(SANDBOX_ID);
    nix::unistd::setresuid(id, id, id).step(|| format!("setresuid {SANDBOX_ID}"))?;
    // SAFETY: prctl with integer arguments.
    let cleared = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    check(cleared.into()).step(|| "clear ambient capabilities".into())?;
    let header = CapabilityHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapabilityData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset reads a version-3 header and two data structures, as passed.
    check(unsafe {
        libc::syscall(
            libc::SYS_capset,
            &header as *const CapabilityHeader,
            data.as_ptr(),
        )
    })
    .step(|| "clear capabilities".into())?;
    Ok(())
}

fn display_dir(procs: &Path) -> String {
    procs.parent().unwrap_or(procs).display().to_string()
}

/// Checks that mount targets are absolute paths without `..`.
pub(crate) fn valid_target(target: &Path) -> bool {
    target.is_absolute()
        && target
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
}

pub(crate) fn system_mounts() -> Vec<Mount> {
    let mut mounts: Vec<Mount> = [
        "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc",
    ]
    .into_iter()
    .filter(|path| std::fs::symlink_metadata(path).is_ok())
    .map(|path| Mount::read_only(path, path))
    .collect();
    let etc_resolv_conf = Path::new("/etc/resolv.conf");
    if let Ok(resolved) = std::fs::canonicalize(etc_resolv_conf) {
        let text = std::fs::read_to_string(&resolved).unwrap_or_default();
        let upstream = Path::new(SYSTEMD_RESOLVED_UPSTREAM);
        mounts.extend(resolver_mount(
            &resolved,
            &text,
            upstream.is_file().then_some(upstream),
        ));
    }
    mounts
}

/// systemd-resolved's list of the upstream name servers it forwards to.
const SYSTEMD_RESOLVED_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";

/// What makes name resolution work inside, given the file `/etc/resolv.conf` resolves to
/// on the host and its text: outside `/etc` (systemd-resolved's link into `/run`), that
/// file must be mounted at its path, or the link dangles inside. A resolver on the host's
/// loopback (`127.0.0.53`) is out of a sandbox's reach, so where systemd-resolved's
/// upstream list exists, that list is shown instead.
fn resolver_mount(resolved: &Path, text: &str, upstream: Option<&Path>) -> Option<Mount> {
    let target = if resolved.starts_with("/etc") {
        PathBuf::from("/etc/resolv.conf")
    } else {
        resolved.to_owned()
    };
    let source = match upstream {
        Some(upstream) if only_loopback_name_servers(text) => upstream.to_owned(),
        _ => resolved.to_owned(),
    };
    // A file in /etc is visible as it is.
    if source.starts_with("/etc") && target.starts_with("/etc") {
        return None;
    }
    Some(Mount::read_only(source, target))
}

/// Whether every `nameserver` line names a loopback address (and there is one at least).
fn only_loopback_name_servers(text: &str) -> bool {
    let mut servers = text.lines().filter_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("nameserver"))
            .then(|| words.next())
            .flatten()
    });
    let mut any = false;
    servers.all(|server| {
        any = true;
        server
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
    }) && any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_resolution_works_inside_on_systemd_resolved_hosts() {
        let upstream = Path::new(SYSTEMD_RESOLVED_UPSTREAM);
        // A plain file with a reachable server: nothing to add.
        let plain = "search example.com\nnameserver 10.0.0.2\n";
        assert_eq!(
            resolver_mount(Path::new("/etc/resolv.conf"), plain, Some(upstream)),
            None
        );
        // systemd-resolved's stub: the link into /run gets the upstream list at its end.
        let stub = "nameserver 127.0.0.53\noptions edns0 trust-ad\n";
        let stub_path = Path::new("/run/systemd/resolve/stub-resolv.conf");
        assert_eq!(
            resolver_mount(stub_path, stub, Some(upstream)),
            Some(Mount::read_only(upstream, stub_path))
        );
        // Without the upstream list the stub is all there is; the link still resolves.
        assert_eq!(
            resolver_mount(stub_path, stub, None),
            Some(Mount::read_only(stub_path, stub_path))
        );
        // A loopback resolver written straight into /etc/resolv.conf.
        assert_eq!(
            resolver_mount(
                Path::new("/etc/resolv.conf"),
                "nameserver ::1\n",
                Some(upstream)
            ),
            Some(Mount::read_only(upstream, "/etc/resolv.conf"))
        );
        // Mixed servers: the reachable one is enough.
        assert!(!only_loopback_name_servers(
            "nameserver 127.0.0.53\nnameserver 1.1.1.1\n"
        ));
        assert!(!only_loopback_name_servers("# no servers\n"));
    }

    #[test]
    fn failures_win_over_statuses() {
        let mut bytes = vec![REPORT_FAILURE];
        bytes.extend_from_slice(b"execve /var/task/bootstrap: ENOENT\n");
        bytes.push(REPORT_STATUS);
        bytes.extend_from_slice(&(125i32 << 8).to_le_bytes());
        assert_eq!(
            parse_report(&bytes),
            Report::Failure("execve /var/task/bootstrap: ENOENT".into())
        );
        let mut bytes = vec![REPORT_STATUS];
        bytes.extend_from_slice(&9i32.to_le_bytes());
        assert_eq!(parse_report(&bytes), Report::Status(9));
        assert_eq!(parse_report(b""), Report::Nothing);
    }

    #[test]
    fn reports_travel_through_a_pipe() {
        let (read, write) = nix::unistd::pipe().expect("pipe");
        send(&write, REPORT_STATUS, &256i32.to_le_bytes());
        drop(write);
        let mut bytes = Vec::new();
        std::fs::File::from(read)
            .read_to_end(&mut bytes)
            .expect("read");
        assert_eq!(parse_report(&bytes), Report::Status(256));
    }

    #[test]
    fn mount_targets_stay_below_the_root() {
        assert!(valid_target(Path::new("/var/task")));
        assert!(!valid_target(Path::new("var/task")));
        assert!(!valid_target(Path::new("/var/../etc")));
        assert_eq!(
            below(Path::new("/state/root"), Path::new("/var/task")),
            Path::new("/state/root/var/task")
        );
    }
}
