//! A scratch PostgreSQL for tests (issue 22, cluster mode): Debian's `postgresql` package
//! (installed by `scripts/install-test-deps.sh`), `initdb` into a temporary folder, a
//! server listening on loopback only at a free port, stopped and deleted when dropped.
//!
//! PostgreSQL refuses to run as root; as root (CI), the cluster belongs to the `postgres`
//! user the package creates, and its commands run through `runuser`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The folder of Debian's PostgreSQL server programs: `SERVERFUL_PG_BIN` when set, else the
/// newest `/usr/lib/postgresql/N/bin` with an `initdb`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SERVERFUL_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!("no PostgreSQL under /usr/lib/postgresql: run `bash scripts/install-test-deps.sh` (apt-get install postgresql)")
    })
}

/// A PostgreSQL server of its own, for one test.
pub struct Postgres {
    root: tempfile::TempDir,
    bin: PathBuf,
    /// The port it listens on, on 127.0.0.1 only.
    pub port: u16,
}

/// The user PostgreSQL runs as when the tests run as root.
const SERVICE_USER: &str = "postgres";
/// The database superuser `initdb` makes; connections on loopback need no password.
pub const USER: &str = "serverful";

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

impl Postgres {
    /// `initdb`s a cluster into a temporary folder and starts it on 127.0.0.1 at a free
    /// port (Unix sockets in the same folder, none in /var/run).
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let root = tempfile::Builder::new()
            .prefix("serverful-pg-")
            .tempdir()
            .expect("temporary folder");
        if running_as_root() {
            let status = Command::new("chown")
                .args(["-R", SERVICE_USER])
                .arg(root.path())
                .status()
                .expect("run chown");
            assert!(
                status.success(),
                "chown {SERVICE_USER} failed: is the postgresql package installed?"
            );
        }
        let postgres = Postgres {
            root,
            bin,
            port: free_port(),
        };
        let data = postgres.data_dir();
        let output = postgres.run(
            "initdb",
            &[
                "-D",
                data.to_str().expect("utf-8 path"),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        );
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        postgres.start_server();
        postgres
    }

    fn start_server(&self) {
        let data = self.data_dir();
        let options = format!(
            "-h 127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.root.path().display()
        );
        let log = self.root.path().join("server.log");
        let output = self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("utf-8 path"),
                "-l",
                log.to_str().expect("utf-8 path"),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
        assert!(
            output.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the server at once (as a crash would: connections cut, no checkpoint), keeps
    /// it down for `down`, and starts it again on the same port and data.
    pub fn crash_and_restart(&self, down: std::time::Duration) {
        self.stop_now();
        std::thread::sleep(down);
        self.start_server();
    }

    fn stop_now(&self) {
        let data = self.data_dir();
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// Runs one of the server's programs, as the `postgres` user when the tests are root.
    fn run(&self, program: &str, args: &[&str]) -> Output {
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
            .current_dir(self.root.path())
            .output()
            .unwrap_or_else(|error| panic!("run {}: {error}", path.display()))
    }

    /// The connection URL of the `postgres` database, for `--store`.
    pub fn url(&self) -> String {
        self.url_via(self.port)
    }

    /// The same database through another port of loopback (a [`crate::proxy::Proxy`]).
    pub fn url_via(&self, port: u16) -> String {
        format!("postgres://{USER}@127.0.0.1:{port}/postgres")
    }

    /// Where the server listens.
    pub fn address(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Runs SQL through `psql` over TCP and returns what it printed (unaligned, tuples only).
    pub fn psql(&self, sql: &str) -> String {
        let output = Command::new("psql")
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .arg(self.url())
            .output()
            .expect("run psql (postgresql-client)");
        assert!(
            output.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// The folder of the cluster (data, log, sockets).
    pub fn root(&self) -> &Path {
        self.root.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop_now();
    }
}
