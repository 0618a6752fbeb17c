//! Starting the contenders of the AWS-protocol benchmarks (queues, S3): an emulator
//! installed by the bench script under its tools folder, or `serverful up` with every
//! port picked free, whose AWS endpoint and keys are read from what it prints.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::queue_client::Keys;
use crate::server::Spawned;

/// How often a child is polled while waiting for it.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Where a driver starts its servers: the scratch folder for their logs and data, the
/// bench script's tools folder and the file it kills listed processes from.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub serverful: PathBuf,
    pub tools: Option<PathBuf>,
    pub scratch: PathBuf,
    pub pid_file: Option<PathBuf>,
    /// How long a server gets to accept connections.
    pub ready_timeout: Duration,
}

/// A started server: where to send requests and the keys to sign them with.
pub struct Started {
    pub server: Spawned,
    pub address: SocketAddr,
    /// The `Host` header to send.
    pub host: String,
    pub keys: Keys,
}

/// A free loopback port, for servers that cannot be asked to pick one.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("find a free port")?;
    Ok(listener.local_addr().context("read the free port")?.port())
}

impl Launcher {
    /// `program args…` with its output in `SCRATCH/label.{stdout,stderr}`, its process id
    /// added to the pid file.
    pub fn spawn(&self, label: &str, program: &Path, args: &[String]) -> anyhow::Result<Spawned> {
        let stdout_path = self.scratch.join(format!("{label}.stdout"));
        let stderr_path = self.scratch.join(format!("{label}.stderr"));
        let stdout = std::fs::File::create(&stdout_path).context("create a log file")?;
        let stderr = std::fs::File::create(&stderr_path).context("create a log file")?;
        let child = tokio::process::Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            // A driver that dies mid-run must not leave servers behind.
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", program.display()))?;
        if let (Some(pid_file), Some(pid)) = (&self.pid_file, child.id()) {
            if let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(pid_file)
            {
                let _ = writeln!(file, "{pid}");
            }
        }
        Ok(Spawned {
            label: label.to_owned(),
            child,
            stdout_path,
            stderr_path,
        })
    }

    /// `TOOLS/relative`, which the bench script installed.
    pub fn tool(&self, relative: &str) -> anyhow::Result<PathBuf> {
        let tools = self.tools.as_ref().context(
            "no --tools folder\nhint: run it through its bench/*.sh script, which installs the emulators",
        )?;
        let path = tools.join(relative);
        if !path.exists() {
            bail!("{} is not installed", path.display());
        }
        Ok(path)
    }

    /// Waits until `address` takes connections, or `server` exits, or the ready timeout.
    pub async fn wait_until_listening(
        &self,
        server: &mut Spawned,
        address: SocketAddr,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            if tokio::net::TcpStream::connect(address).await.is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                bail!(
                    "{} exited ({status}) before listening: {}",
                    server.label,
                    server.stderr_tail()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} was not listening within {:?}: {}",
                    server.label,
                    self.ready_timeout,
                    server.stderr_tail()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// `serverful up APP` with every port picked free and `--data DATA`; waits for its
    /// `Ready on` line and reads the AWS endpoint and its keys from what it printed.
    pub async fn start_serverful(
        &self,
        label: &str,
        app: &Path,
        data: &Path,
        extra: &[String],
    ) -> anyhow::Result<Started> {
        let mut args: Vec<String> = vec![
            "up".into(),
            app.display().to_string(),
            "--port".into(),
            "0".into(),
            "--aws-port".into(),
            "0".into(),
            "--admin-port".into(),
            "0".into(),
            "--data".into(),
            data.display().to_string(),
        ];
        args.extend(extra.iter().cloned());
        let mut server = self.spawn(label, &self.serverful, &args)?;
        let deadline = Instant::now() + self.ready_timeout;
        let stdout = loop {
            let text = server.stdout();
            if text.contains("Ready on ") {
                break text;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                bail!(
                    "serverful exited ({status}) before it was ready: {}",
                    server.stderr_tail()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "serverful was not ready within {:?}: {}",
                    self.ready_timeout,
                    server.stderr_tail()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        };
        let address = aws_endpoint(&stdout)
            .context("serverful printed no `AWS endpoint http://ADDR` line")?;
        let keys = match printed_keys(&stdout) {
            Some(keys) => keys,
            // Keys kept from an earlier start are not printed again: they are in the file.
            None => {
                let keys: serde_json::Value = serde_json::from_slice(
                    &std::fs::read(data.join("aws-keys.json"))
                        .context("read the AWS endpoint's keys")?,
                )
                .context("read the AWS endpoint's keys")?;
                Keys {
                    access_key_id: keys["accessKeyId"].as_str().unwrap_or_default().to_owned(),
                    secret_access_key: keys["secretAccessKey"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                }
            }
        };
        Ok(Started {
            server,
            address,
            host: address.to_string(),
            keys,
        })
    }
}

/// The address of serverful's `AWS endpoint http://ADDR` line.
fn aws_endpoint(stdout: &str) -> Option<SocketAddr> {
    stdout.lines().find_map(|line| {
        let rest = line.split("AWS endpoint http://").nth(1)?;
        rest.split(|c: char| c == '/' || c.is_whitespace())
            .next()?
            .parse::<SocketAddr>()
            .ok()
    })
}

/// The `AWS_ACCESS_KEY_ID=` and `AWS_SECRET_ACCESS_KEY=` lines serverful prints when it
/// makes the keys.
fn printed_keys(stdout: &str) -> Option<Keys> {
    let value_of = |name: &str| {
        stdout.lines().find_map(|line| {
            line.trim()
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
                .map(str::to_owned)
        })
    };
    let (access_key_id, secret_access_key) =
        value_of("AWS_ACCESS_KEY_ID").zip(value_of("AWS_SECRET_ACCESS_KEY"))?;
    Some(Keys {
        access_key_id,
        secret_access_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_endpoint_and_the_keys_serverful_prints() {
        let stdout = "AWS endpoint http://127.0.0.1:4566 (region us-east-1)\n  AWS_ACCESS_KEY_ID=AKX\n  AWS_SECRET_ACCESS_KEY=secret\n";
        assert_eq!(
            aws_endpoint(stdout),
            Some("127.0.0.1:4566".parse().expect("an address"))
        );
        let keys = printed_keys(stdout).expect("keys");
        assert_eq!(keys.access_key_id, "AKX");
        assert_eq!(keys.secret_access_key, "secret");
        assert!(printed_keys("AWS endpoint http://127.0.0.1:1\n").is_none());
    }
}
