//! A server process under test: started with its stdout and stderr going to files (so
//! that nothing has to drain them while it is loaded), ready once its stdout says
//! `Ready on http://ADDR` (or what another server says), stopped with SIGTERM so that it
//! can stop its own children.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// How often the files are read while waiting for a line.
const POLL_INTERVAL: Duration = Duration::from_millis(2);

/// How long a stopped server gets to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A running server.
pub struct ServerProcess {
    child: tokio::process::Child,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    /// Where it listens, from its `Ready on` line.
    pub address: SocketAddr,
}

impl ServerProcess {
    /// Starts `program args…` with output in `log_dir/label.{stdout,stderr}` and waits up
    /// to `ready_timeout` for its `Ready on` line.
    pub async fn start(
        program: &Path,
        args: &[&str],
        log_dir: &Path,
        label: &str,
        ready_timeout: Duration,
    ) -> anyhow::Result<ServerProcess> {
        let mut command = tokio::process::Command::new(program);
        command.args(args);
        ServerProcess::start_command(command, log_dir, label, ready_timeout, ready_address).await
    }

    /// Starts `command` (its arguments, environment and folder already set) with output
    /// in `log_dir/label.{stdout,stderr}` and waits up to `ready_timeout` until `ready`
    /// finds in its stdout or its stderr so far the address it listens on (a server that
    /// says so its own way).
    pub async fn start_command(
        mut command: tokio::process::Command,
        log_dir: &Path,
        label: &str,
        ready_timeout: Duration,
        ready: impl Fn(&str) -> Option<SocketAddr>,
    ) -> anyhow::Result<ServerProcess> {
        let stdout_path = log_dir.join(format!("{label}.stdout"));
        let stderr_path = log_dir.join(format!("{label}.stderr"));
        let stdout = std::fs::File::create(&stdout_path)
            .with_context(|| format!("create {}", stdout_path.display()))?;
        let stderr = std::fs::File::create(&stderr_path)
            .with_context(|| format!("create {}", stderr_path.display()))?;
        let program = command.as_std().get_program().to_owned();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            // A driver that dies mid-run must not leave servers behind.
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", program.to_string_lossy()))?;
        let deadline = Instant::now() + ready_timeout;
        loop {
            let text = std::fs::read_to_string(&stdout_path).unwrap_or_default();
            let found = ready(&text).or_else(|| {
                // Only servers that say it on stderr pay for reading it.
                ready(&std::fs::read_to_string(&stderr_path).unwrap_or_default())
            });
            if let Some(address) = found {
                return Ok(ServerProcess {
                    child,
                    stdout_path,
                    stderr_path,
                    address,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                bail!(
                    "{label} exited ({status}) before it was ready: {}",
                    last_lines(&stderr, 5)
                );
            }
            if Instant::now() >= deadline {
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                let _ = child.kill().await;
                bail!(
                    "{label} was not ready within {ready_timeout:?}: {}",
                    last_lines(&stderr, 5)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Everything it has written to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// How many bytes it has written to stdout so far, to read only later lines.
    pub fn stdout_len(&self) -> u64 {
        std::fs::metadata(&self.stdout_path).map_or(0, |metadata| metadata.len())
    }

    /// What it has written to stdout after the first `offset` bytes.
    pub fn stdout_since(&self, offset: u64) -> String {
        let bytes = std::fs::read(&self.stdout_path).unwrap_or_default();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The last lines of its stderr, to explain a failure.
    pub fn stderr_tail(&self) -> String {
        last_lines(
            &std::fs::read_to_string(&self.stderr_path).unwrap_or_default(),
            5,
        )
    }

    /// Waits up to `timeout` for a stdout line containing `needle`, and returns it.
    pub async fn wait_for_line(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.stdout();
            if let Some(line) = text.lines().find(|line| line.contains(needle)) {
                return Some(line.to_owned());
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within a few seconds.
    pub async fn stop(mut self) {
        terminate(&mut self.child).await;
    }
}

/// The address of a `Ready on http://127.0.0.1:PORT ...` line.
pub fn ready_address(stdout: &str) -> Option<SocketAddr> {
    stdout.lines().find_map(|line| {
        let rest = line.split("Ready on http://").nth(1)?;
        let authority = rest.split(|c: char| c == '/' || c.is_whitespace()).next()?;
        authority.parse().ok()
    })
}

/// SIGTERM, so that a server can stop its own children, then SIGKILL if it has not exited
/// within [`STOP_GRACE`]. Whether it exited on its own (or had already).
async fn terminate(child: &mut tokio::process::Child) -> bool {
    let Some(pid) = child.id() else {
        return true;
    };
    // `kill(1)` rather than libc: this crate has no unsafe code.
    let _ = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
    if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
        return true;
    }
    let _ = child.kill().await;
    false
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join(" | ")
}

/// A contender's server started by a driver that decides for itself when it is ready
/// (each emulator says so its own way): its output files, its CPU with its children's,
/// and a stop that lets it stop its own children first.
pub struct Spawned {
    /// The contender's name, in messages.
    pub label: String,
    pub child: tokio::process::Child,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
}

impl Spawned {
    /// The CPU time it and its descendants have used so far.
    pub fn cpu(&self) -> Option<Duration> {
        let pid = self.child.id()?;
        let own = crate::cpu::process_cpu(pid)?;
        let children: Duration = crate::cpu::descendants_cpu(pid).values().copied().sum();
        Some(own + children)
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// Everything it has written to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Its last five lines on stderr, joined.
    pub fn stderr_tail(&self) -> String {
        last_lines(&self.stderr(), 5)
    }

    /// SIGTERM, then SIGKILL if it has not exited within [`STOP_GRACE`].
    pub async fn stop(mut self) {
        if !terminate(&mut self.child).await {
            eprintln!(
                "  {} did not stop within {STOP_GRACE:?}: killed",
                self.label
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ready_line() {
        let stdout = "serverful 0.1.0 running x\nRoutes:\n  GET http://127.0.0.1:1/x -> F\nReady on http://127.0.0.1:45678 (Ctrl-C to stop)\n";
        assert_eq!(
            ready_address(stdout),
            Some("127.0.0.1:45678".parse().expect("address"))
        );
        assert_eq!(ready_address("Routes:\n"), None);
    }
}
