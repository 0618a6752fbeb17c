//! Attacks on the sandbox from inside (issue 5), driven through the `sandbox-run` binary:
//! the test harness cannot be the sandbox init itself, since the init re-executes the
//! binary that prepared it.
//!
//! The sandbox needs root (to map ids and create cgroups). Without root the tests print
//! why and pass, except under `CI=true`, where they must run.

mod net;
mod parked;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

fn sandbox_available() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the sandbox tests need root, and CI=true requires them to run");
    }
    eprintln!("skipped: the sandbox tests need root");
    false
}

/// Runs `script` with `/bin/sh` in a sandbox made with `options`.
fn sandboxed(options: &[&str], script: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sandbox-run"));
    command.args(options).args(["--", "/bin/sh", "-c", script]);
    command.output().expect("run sandbox-run")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn check_success(output: &Output) {
    assert!(
        output.status.success(),
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

#[test]
fn runs_as_lambdas_sandbox_user_without_privileges() {
    if !sandbox_available() {
        return;
    }
    let output = sandboxed(
        &[],
        "id -u; id -g; id -G; hostname; grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status",
    );
    check_success(&output);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(&lines[..4], ["993", "993", "993", "sandbox"]);
    for capability in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(
            text.contains(&format!("{capability}:\t0000000000000000")),
            "{capability} not empty:\n{text}"
        );
    }
    assert!(text.contains("NoNewPrivs:\t1"), "{text}");
    assert!(text.contains("Seccomp:\t2"), "{text}");
}

#[test]
fn etc_secrets_are_masked() {
    if !sandbox_available() {
        return;
    }
    let output = sandboxed(
        &[],
        "cat /etc/shadow && echo READ-SHADOW; head -1 /etc/passwd; ls -A /etc/ssh 2>/dev/null | wc -l",
    );
    check_success(&output);
    assert!(
        !stdout(&output).contains("READ-SHADOW"),
        "{}",
        stdout(&output)
    );
    assert!(
        stderr(&output).contains("Permission denied"),
        "{}",
        stderr(&output)
    );
    let text = stdout(&output);
    let mut lines = text.lines();
    assert!(
        lines.next().is_some_and(|line| line.starts_with("root:")),
        "{text}"
    );
    assert_eq!(lines.next(), Some("0"), "/etc/ssh is empty inside");
}

#[test]
fn writes_only_to_tmp() {
    if !sandbox_available() {
        return;
    }
    let task = tempfile::tempdir().expect("temp dir");
    std::fs::write(task.path().join("handler.sh"), "echo hi\n").expect("write handler");
    let mount = format!("{}:/var/task", task.path().display());
    let output = sandboxed(
        &["--mount", &mount],
        "for path in /x /usr/x /etc/x /var/task/x /var/task/handler.sh /dev/x /proc/x \
           /proc/sysrq-trigger /proc/sys/kernel/hostname /sys/x; do \
           (echo pwned > $path) 2>/dev/null && echo WROTE $path; \
         done; \
         cat /var/task/handler.sh; \
         echo ok > /tmp/file && cat /tmp/file; echo ok > /dev/shm/file && cat /dev/shm/file",
    );
    check_success(&output);
    assert_eq!(stdout(&output), "echo hi\nok\nok\n");
    assert_eq!(
        std::fs::read_to_string(task.path().join("handler.sh")).expect("read"),
        "echo hi\n"
    );
    assert!(!task.path().join("x").exists());
}

#[test]
fn tmp_is_limited_to_its_size() {
    if !sandbox_available() {
        return;
    }
    let output = sandboxed(
        &["--tmp", "4"],
        "dd if=/dev/zero of=/tmp/big bs=1M count=8 2>&1; echo dd=$?",
    );
    check_success(&output);
    let text = stdout(&output);
    assert!(text.contains("No space left on device"), "{text}");
    assert!(text.contains("dd=1"), "{text}");
}

#[test]
fn sees_only_its_own_processes() {
    if !sandbox_available() {
        return;
    }
    let output = sandboxed(
        &[],
        "ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '",
    );
    check_success(&output);
    // The init (1), the shell (2) and the pipeline's processes: nothing of the host.
    let pids: Vec<u32> = stdout(&output)
        .split_whitespace()
        .map(|pid| pid.parse().expect("a pid"))
        .collect();
    assert_eq!(pids.first(), Some(&1), "{pids:?}");
    assert!(
        pids.len() <= 6 && pids.iter().all(|&pid| pid < 10),
        "{pids:?}"
    );
}

#[test]
fn cannot_signal_the_host_or_its_own_init() {
    if !sandbox_available() {
        return;
    }
    let mut victim = Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("spawn sleep");
    let script = format!(
        "kill -9 {} 2>&1; kill -9 1; sleep 0.2; echo init-survived",
        victim.id()
    );
    let output = sandboxed(&[], &script);
    check_success(&output);
    assert!(
        stdout(&output).contains("No such process"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("init-survived"));
    assert!(
        victim.try_wait().expect("try_wait").is_none(),
        "the host's sleep was killed"
    );
    victim.kill().expect("kill sleep");
    let _ = victim.wait();
}

#[test]
fn mount_unshare_and_ptrace_are_denied() {
    if !sandbox_available() {
        return;
    }
    let script = "\
        unshare -r true 2>/dev/null && echo UNSHARE-USER; \
        unshare -m true 2>/dev/null && echo UNSHARE-MOUNT; \
        mount -t tmpfs none /tmp 2>/dev/null && echo MOUNTED; \
        umount /proc 2>/dev/null && echo UNMOUNTED; \
        python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
print(\"ptrace\", libc.ptrace(16, 1, 0, 0), ctypes.get_errno())
print(\"unshare\", libc.unshare(0x10000000), ctypes.get_errno())
print(\"setns\", libc.setns(0, 0), ctypes.get_errno())
print(\"chroot\", libc.chroot(b\"/tmp\"), ctypes.get_errno())
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print(\"fork ok\")
'";
    let output = sandboxed(&[], script);
    check_success(&output);
    assert_eq!(
        stdout(&output),
        "ptrace -1 1\nunshare -1 1\nsetns -1 1\nchroot -1 1\nfork ok\n"
    );
}

#[test]
fn fork_bomb_is_contained_by_the_pids_limit() {
    if !sandbox_available() {
        return;
    }
    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_sandbox-run"))
        .args(["--pids", "64", "--", "/bin/bash", "-c"])
        .arg("bomb() { bomb | bomb & }; bomb; sleep 1; echo survived")
        .output()
        .expect("run sandbox-run");
    // The sandbox ends (its init takes every leftover process with it) and the host
    // still starts processes.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert!(
        stderr(&output).contains("Resource temporarily unavailable"),
        "{}",
        stderr(&output)
    );
    assert!(Command::new("true").status().expect("spawn true").success());
}

#[test]
fn memory_hog_is_oom_killed() {
    if !sandbox_available() {
        return;
    }
    let child = Command::new(env!("CARGO_BIN_EXE_sandbox-run"))
        .args(["--memory", "64", "--report", "--", "/usr/bin/python3", "-c"])
        .arg("x = bytearray(256 * 1024 * 1024); print('allocated')")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sandbox-run");
    let server_pid = child.id();
    let output = child.wait_with_output().expect("wait for sandbox-run");
    assert_eq!(output.status.signal(), Some(libc::SIGKILL), "{output:?}");
    assert!(!stdout(&output).contains("allocated"));
    assert!(
        stderr(&output).contains("oom_killed=true"),
        "{}",
        stderr(&output)
    );
    let peak: u64 = stderr(&output)
        .split("peak_memory_mb=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|mb| mb.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory: {}", stderr(&output)));
    assert!((32..=64).contains(&peak), "peak {peak} MB");
    // Dropping the instance removed its cgroups (and the Host its server's directory).
    for controller in ["memory", "pids", "cpu"] {
        let dir = format!("/sys/fs/cgroup/{controller}/serverful/{server_pid}");
        assert!(!std::path::Path::new(&dir).exists(), "{dir} left behind");
    }
}

#[test]
fn exit_codes_and_signals_pass_through() {
    if !sandbox_available() {
        return;
    }
    let output = sandboxed(&[], "exit 7");
    assert_eq!(output.status.code(), Some(7));
    let output = sandboxed(&[], "kill -SEGV $$");
    assert_eq!(output.status.signal(), Some(libc::SIGSEGV));
}

#[test]
fn setup_failures_name_their_step() {
    if !sandbox_available() {
        return;
    }
    let output = sandboxed(&["--mount", "/nonexistent:/var/task"], "true");
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(
        stderr(&output).trim(),
        "serverful sandbox: mount /nonexistent at /var/task: ENOENT"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_sandbox-run"))
        .args(["--", "/var/task/bootstrap"])
        .output()
        .expect("run sandbox-run");
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(
        stderr(&output).trim(),
        "serverful sandbox: execve /var/task/bootstrap: ENOENT"
    );
}

#[test]
fn trial_sets_up_without_running() {
    if !sandbox_available() {
        return;
    }
    let trial = |options: &[&str], program: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_sandbox-run"))
            .arg("--trial")
            .args(options)
            .args(["--", program])
            .output()
            .expect("run sandbox-run");
        stdout(&output).trim().to_owned()
    };
    assert_eq!(trial(&[], "/bin/true"), "trial: ok");
    assert_eq!(
        trial(&["--mount", "/nonexistent:/var/task"], "/bin/true"),
        r#"trial: Setup { step: "mount /nonexistent at /var/task", reason: "ENOENT" }"#
    );
    assert_eq!(
        trial(&[], "/var/task/bootstrap"),
        r#"trial: Setup { step: "execve /var/task/bootstrap", reason: "ENOENT" }"#
    );
}

#[test]
fn no_network_means_only_loopback() {
    if !sandbox_available() {
        return;
    }
    let host_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = host_listener.local_addr().expect("address").port();
    let script = format!(
        "ip -o link 2>/dev/null | wc -l; python3 -c '
import socket
s = socket.socket()
s.settimeout(2)
try:
    s.connect((\"127.0.0.1\", {port}))
    print(\"CONNECTED\")
except OSError as e:
    print(type(e).__name__)
'"
    );
    let output = sandboxed(&["--network", "none"], &script);
    check_success(&output);
    assert_eq!(stdout(&output), "1\nConnectionRefusedError\n");
}

#[test]
fn interpreters_below_root_only_directories_work() {
    if !sandbox_available() {
        return;
    }
    // A pyenv install below /root (mode 0700 on the host), as on this project's hosts.
    let Some(prefix) = std::fs::read_dir("/root/.pyenv/versions")
        .ok()
        .and_then(|mut entries| entries.next())
        .and_then(Result::ok)
        .map(|entry| entry.path())
    else {
        eprintln!("skipped: no pyenv Python below /root");
        return;
    };
    let prefix = prefix.display().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_sandbox-run"))
        .args(["--mount", &prefix, "--"])
        .arg(format!("{prefix}/bin/python3"))
        .args(["-c", "import json, os; print(os.getuid())"])
        .output()
        .expect("run sandbox-run");
    check_success(&output);
    assert_eq!(stdout(&output), "993\n");
}

#[test]
fn descriptors_the_server_leaks_do_not_reach_the_function() {
    if !sandbox_available() {
        return;
    }
    // The "server" inherits /etc/shadow on descriptor 7 without close-on-exec.
    let script = format!(
        "exec 7</etc/shadow; exec {} -- /bin/sh -c 'cat <&7 && echo LEAKED; ls /proc/self/fd'",
        env!("CARGO_BIN_EXE_sandbox-run")
    );
    let output = Command::new("/bin/sh")
        .args(["-c", &script])
        .output()
        .expect("run sandbox-run");
    check_success(&output);
    assert!(!stdout(&output).contains("LEAKED"), "{}", stdout(&output));
    // stdin, stdout, stderr and the directory `ls` reads.
    assert_eq!(stdout(&output), "0\n1\n2\n3\n");
}
