//! Parked sandboxes (`Host::park`): set up ahead of time, handed their program later
//! through standard input, with the same isolation as a sandbox that starts its program
//! at once.

use std::os::unix::process::ExitStatusExt;

use super::{check_success, sandbox_available, sandboxed, stderr, stdout};

#[test]
fn a_parked_sandbox_isolates_like_a_fresh_one() {
    if !sandbox_available() {
        return;
    }
    let output = sandboxed(
        &["--parked"],
        "id -u; id -g; hostname; grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp)' /proc/self/status; \
         ls /proc | grep -cE '^[0-9]+$'; readlink /proc/self/fd/0; cat; echo end",
    );
    check_success(&output);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(&lines[..3], ["993", "993", "sandbox"], "{text}");
    for field in ["CapEff:\t0000000000000000", "CapBnd:\t0000000000000000"] {
        assert!(text.contains(field), "{field} missing:\n{text}");
    }
    assert!(text.contains("NoNewPrivs:\t1"), "{text}");
    assert!(text.contains("Seccomp:\t2"), "{text}");
    let rest: Vec<&str> = lines
        .iter()
        .skip_while(|line| !line.starts_with("Seccomp"))
        .filter(|line| !line.starts_with("Seccomp"))
        .copied()
        .collect();
    // The init, the shell and the pipeline: nothing of the host.
    let processes: u32 = rest[0].parse().expect("a count");
    assert!(processes <= 6, "{text}");
    // The launch came through standard input; the function gets /dev/null there.
    assert_eq!(rest[1..], ["/dev/null", "end"], "{text}");
}

#[test]
fn a_parked_sandbox_passes_exit_codes_and_signals_through() {
    if !sandbox_available() {
        return;
    }
    let output = sandboxed(&["--parked"], "exit 7");
    assert_eq!(output.status.code(), Some(7));
    let output = sandboxed(&["--parked"], "kill -SEGV $$");
    assert_eq!(output.status.signal(), Some(libc::SIGSEGV));
}

#[test]
fn a_parked_sandbox_names_the_launch_step_that_failed() {
    if !sandbox_available() {
        return;
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sandbox-run"))
        .args(["--parked", "--", "/var/task/bootstrap"])
        .output()
        .expect("run sandbox-run");
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(
        stderr(&output).trim(),
        "serverful sandbox: execve /var/task/bootstrap: ENOENT"
    );

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sandbox-run"))
        .args(["--parked", "--cwd", "/nowhere", "--", "/bin/true"])
        .output()
        .expect("run sandbox-run");
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(
        stderr(&output).trim(),
        "serverful sandbox: change directory to /nowhere: ENOENT"
    );
}
