//! A scratch PostgreSQL for the store benchmark's PostgreSQL rows: `initdb` into a folder,
//! started on 127.0.0.1 at a free port with `fsync` on (PostgreSQL's defaults otherwise),
//! stopped when dropped. As root the cluster belongs to the `postgres` user, as in the
//! end-to-end tests (PostgreSQL refuses to run as root).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{bail, Context as _};

/// The user PostgreSQL runs as when the benchmark runs as root.
const SERVICE_USER: &str = "postgres";
/// The database superuser `initdb` makes; loopback connections need no password.
pub const USER: &str = "bench";

/// The newest `/usr/lib/postgresql/N/bin` with an `initdb`.
fn bin_dir() -> anyhow::Result<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("read /usr/lib/postgresql (is the postgresql package installed?)")?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .context("no /usr/lib/postgresql/N/bin/initdb")
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// A running scratch cluster.
pub struct ScratchPostgres {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl ScratchPostgres {
    /// `initdb`s `root/data` (a fresh folder) and starts the server.
    pub fn start(root: &Path) -> anyhow::Result<ScratchPostgres> {
        let _ = std::fs::remove_dir_all(root);
        std::fs::create_dir_all(root).context("create PostgreSQL's folder")?;
        if running_as_root() {
            let status = Command::new("chown")
                .args(["-R", SERVICE_USER])
                .arg(root)
                .status()
                .context("run chown")?;
            if !status.success() {
                bail!("chown {SERVICE_USER} failed: is the postgresql package installed?");
            }
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("find a free port")?
            .port();
        let postgres = ScratchPostgres {
            root: root.to_owned(),
            bin: bin_dir()?,
            port,
        };
        let data = postgres.data_dir();
        let output = postgres.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ],
        )?;
        if !output.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        // fsync on (the default) and synchronous_commit on: a write is acknowledged once
        // PostgreSQL's WAL is on disk, as serverful's SQLite store does with its log.
        let options = format!(
            "-h 127.0.0.1 -p {port} -k {} -c fsync=on -c synchronous_commit=on -c max_connections=200",
            root.display()
        );
        let log = root.join("server.log");
        let output = postgres.run(
            "pg_ctl",
            &[
                "-D",
                &data.display().to_string(),
                "-l",
                &log.display().to_string(),
                "-o",
                &options,
                "-w",
                "start",
            ],
        )?;
        if !output.status.success() {
            bail!(
                "pg_ctl start failed: {}{}",
                String::from_utf8_lossy(&output.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        Ok(postgres)
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<Output> {
        let path = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", SERVICE_USER, "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        command
            .args(args)
            .current_dir(&self.root)
            .output()
            .with_context(|| format!("run {}", path.display()))
    }

    /// The URL of database `name` (made by [`ScratchPostgres::create_database`], or
    /// `postgres`).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Makes an empty database, so that each contender has its own.
    pub fn create_database(&self, name: &str) -> anyhow::Result<()> {
        let output = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!("CREATE DATABASE \"{name}\""))
            .arg(self.url("postgres"))
            .output()
            .context("run psql")?;
        if !output.status.success() {
            bail!(
                "CREATE DATABASE {name}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    /// The postmaster's process id (first line of `postmaster.pid`).
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data_dir().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// CPU time of the postmaster and every backend alive now.
    pub fn cpu(&self) -> Option<Duration> {
        let pid = self.pid()?;
        let own = crate::cpu::process_cpu(pid)?;
        let children: Duration = crate::cpu::descendants_cpu(pid).values().copied().sum();
        Some(own + children)
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        let data = self.data_dir().display().to_string();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
