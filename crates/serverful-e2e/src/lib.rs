//! End-to-end test harness: starts the real `serverful` binary on an app folder, waits
//! until it has printed its routes, and gives tests its URLs and its output.
//!
//! The binary is the one `cargo build --workspace --bins` put next to this test binary
//! (or `SERVERFUL_BIN`); test apps live in `test_data/apps/`, and the third-party packages
//! they bundle are installed by `scripts/install-test-deps.sh`.

pub mod postgres;
pub mod proxy;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use regex::Regex;

/// How long a server may take to build and print its routes: a first release build of a
/// Rust function with its dependencies takes minutes on a busy two-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// The folder holding the cargo-built binaries (`target/debug`).
pub fn bin_dir() -> PathBuf {
    let test_exe = std::env::current_exe().expect("test binary path");
    // target/debug/deps/it-0123 -> target/debug
    test_exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The `serverful` binary under test.
pub fn serverful_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("SERVERFUL_BIN") {
        return PathBuf::from(path);
    }
    let path = bin_dir().join("serverful");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` before the end-to-end tests \
         (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A binary built from this crate's `src/bin`, e.g. `rust-echo`.
pub fn fixture_bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins`",
        path.display()
    );
    path
}

/// Where `scripts/install-test-deps.sh` put the packages test apps bundle.
pub fn test_deps_dir() -> PathBuf {
    if let Some(path) = std::env::var_os("SERVERFUL_TEST_DEPS") {
        return PathBuf::from(path);
    }
    // target/debug -> target/test-deps (also right when CARGO_TARGET_DIR moves target/).
    let dir = bin_dir().parent().expect("target dir").join("test-deps");
    assert!(
        dir.exists(),
        "{} is missing: run `bash scripts/install-test-deps.sh`",
        dir.display()
    );
    dir
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// A test app from `test_data/apps/NAME`.
pub fn test_app(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data/apps")
        .join(name)
}

/// Copies a folder recursively (following symlinks), for apps a test changes or bundles into.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Output captured from the server, with a way to wait for a line.
#[derive(Default)]
struct Captured {
    text: Mutex<String>,
    changed: Condvar,
}

impl Captured {
    fn push_line(&self, line: &str) {
        let mut text = self.text.lock().expect("captured output lock");
        text.push_str(line);
        text.push('\n');
        self.changed.notify_all();
    }
}

/// A running `serverful up`, killed when dropped.
pub struct Server {
    child: Child,
    stdout: Arc<Captured>,
    stderr: Arc<Captured>,
    /// `http://127.0.0.1:PORT` of the gateway.
    pub base_url: String,
    /// `http://127.0.0.1:PORT` of the AWS endpoint.
    pub aws_url: String,
    /// The endpoint's keys, as the server printed them.
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `http://127.0.0.1:PORT` of the admin API.
    pub admin_url: String,
    /// The admin token, as the server printed it when it made it (empty when it was
    /// made by an earlier server on the same data folder).
    pub admin_token: String,
    /// The data folder.
    pub data_dir: PathBuf,
    _data_dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts `serverful up APP --port 0 --aws-port 0` with a fresh data folder and waits
    /// for it to be ready. Panics with the server's output if it does not get there.
    pub fn start(app: &Path, extra_args: &[&str]) -> Server {
        match Server::try_start(app, extra_args) {
            Ok(server) => server,
            Err(output) => panic!("server did not start:\n{output}"),
        }
    }

    /// Like [`Server::start`], but returns the server's output when it exits or never
    /// becomes ready.
    pub fn try_start(app: &Path, extra_args: &[&str]) -> Result<Server, String> {
        Server::try_start_with_env(app, extra_args, &[])
    }

    /// Like [`Server::try_start`], with extra environment variables for the server.
    pub fn try_start_with_env(
        app: &Path,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Server, String> {
        Server::try_start_under(None, app, extra_args, env)
    }

    /// Like [`Server::start`], with the server started by `sh -c "umask 077; exec …"`, as
    /// from the shell of a user whose umask keeps every new file private.
    pub fn start_with_private_umask(app: &Path, extra_args: &[&str]) -> Server {
        Server::try_start_under(
            Some("umask 077 && exec \"$0\" \"$@\""),
            app,
            extra_args,
            &[],
        )
        .unwrap_or_else(|output| panic!("server did not start:\n{output}"))
    }

    /// Starts the server, through `sh -c SCRIPT serverful ARGS…` when a script is given.
    fn try_start_under(
        shell_script: Option<&str>,
        app: &Path,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Server, String> {
        let data_dir = tempfile::tempdir().expect("data dir");
        let mut args: Vec<std::ffi::OsString> = vec!["up".into(), app.into()];
        args.extend(
            [
                "--port",
                "0",
                "--aws-port",
                "0",
                "--admin-port",
                "0",
                "--data",
            ]
            .map(Into::into),
        );
        args.push(data_dir.path().into());
        args.extend(extra_args.iter().map(Into::into));
        let path = data_dir.path().to_owned();
        Server::launch(shell_script, &args, env, path, Some(data_dir))
    }

    /// Starts `serverful serve --data DATA` on free ports and waits for it to be ready.
    /// The data folder is the caller's, so that a test can restart a server on it.
    pub fn start_serve(data_dir: &Path, extra_args: &[&str]) -> Server {
        let mut args: Vec<std::ffi::OsString> =
            vec!["serve".into(), "--data".into(), data_dir.into()];
        args.extend(["--port", "0", "--aws-port", "0", "--admin-port", "0"].map(Into::into));
        args.extend(extra_args.iter().map(Into::into));
        Server::launch(None, &args, &[], data_dir.to_owned(), None)
            .unwrap_or_else(|output| panic!("server did not start:\n{output}"))
    }

    /// Like [`Server::start_serve`], with extra environment variables for the server.
    pub fn start_serve_with_env(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut args: Vec<std::ffi::OsString> =
            vec!["serve".into(), "--data".into(), data_dir.into()];
        args.extend(["--port", "0", "--aws-port", "0", "--admin-port", "0"].map(Into::into));
        Server::launch(None, &args, env, data_dir.to_owned(), None)
            .unwrap_or_else(|output| panic!("server did not start:\n{output}"))
    }

    /// `serverful serve --data DATA` with extra arguments and environment variables.
    pub fn start_serve_with(data_dir: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut args: Vec<std::ffi::OsString> =
            vec!["serve".into(), "--data".into(), data_dir.into()];
        args.extend(["--port", "0", "--aws-port", "0", "--admin-port", "0"].map(Into::into));
        args.extend(extra_args.iter().map(Into::into));
        Server::launch(None, &args, env, data_dir.to_owned(), None)
            .unwrap_or_else(|output| panic!("server did not start:\n{output}"))
    }

    fn launch(
        shell_script: Option<&str>,
        args: &[std::ffi::OsString],
        env: &[(&str, &str)],
        data_path: PathBuf,
        data_dir: Option<tempfile::TempDir>,
    ) -> Result<Server, String> {
        let mut command = match shell_script {
            Some(script) => {
                let mut command = Command::new("sh");
                command.arg("-c").arg(script).arg(serverful_bin());
                command
            }
            None => Command::new(serverful_bin()),
        };
        command
            .args(args)
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn serverful");
        let stdout = Arc::new(Captured::default());
        let stderr = Arc::new(Captured::default());
        pump(child.stdout.take().expect("piped stdout"), stdout.clone());
        pump(child.stderr.take().expect("piped stderr"), stderr.clone());

        let deadline = Instant::now() + START_TIMEOUT;
        let mut server = Server {
            child,
            stdout,
            stderr,
            base_url: String::new(),
            aws_url: String::new(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            admin_url: String::new(),
            admin_token: String::new(),
            data_dir: data_path,
            _data_dir: data_dir,
        };
        loop {
            let stdout = server.stdout();
            if let Some(url) = stdout
                .lines()
                .find_map(|line| line.strip_prefix("Ready on "))
            {
                let first_word = |text: &str| {
                    text.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string()
                };
                let after = |prefix: &str| {
                    stdout
                        .lines()
                        .find_map(|line| line.trim().strip_prefix(prefix))
                        .map(first_word)
                        .unwrap_or_default()
                };
                server.base_url = first_word(url);
                server.aws_url = after("AWS endpoint ");
                server.access_key_id = after("AWS_ACCESS_KEY_ID=");
                server.secret_access_key = after("AWS_SECRET_ACCESS_KEY=");
                server.admin_url = after("Admin API ");
                server.admin_token = after("SERVERFUL_ADMIN_TOKEN=");
                if server.admin_token.is_empty() {
                    server.admin_token =
                        std::fs::read_to_string(server.data_dir.join("admin-token"))
                            .map(|token| token.trim().to_owned())
                            .unwrap_or_default();
                }
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                // Let the pumps drain what the process wrote before it exited.
                std::thread::sleep(Duration::from_millis(100));
                return Err(format!("exited with {status}\n{}", server.all_output()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "not ready after {START_TIMEOUT:?}\n{}",
                    server.all_output()
                ));
            }
            server.wait_for_output(Duration::from_millis(200));
        }
    }

    /// Environment variables that point an AWS SDK or the AWS CLI at this server.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.aws_url.clone()),
            ("AWS_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
        ]
    }

    /// Runs `serverful ARGS --endpoint ADMIN --token TOKEN` against this server's admin
    /// API: (exit code, stdout, stderr).
    pub fn admin(&self, args: &[&str]) -> (i32, String, String) {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--endpoint", &self.admin_url, "--token", &self.admin_token]);
        run_serverful(&all)
    }

    /// The gateway URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Everything the server printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout
            .text
            .lock()
            .expect("captured output lock")
            .clone()
    }

    /// Everything the server printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .text
            .lock()
            .expect("captured output lock")
            .clone()
    }

    pub fn all_output(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout(), self.stderr())
    }

    fn wait_for_output(&self, timeout: Duration) {
        let text = self.stdout.text.lock().expect("captured output lock");
        let _unused = self
            .stdout
            .changed
            .wait_timeout(text, timeout)
            .expect("captured output lock");
    }

    /// Waits until stdout has a line matching `pattern`, and returns that line.
    pub fn wait_for_line(&self, pattern: &regex::Regex, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.stdout().lines().find(|line| pattern.is_match(line)) {
                return line.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no line matching {pattern} after {timeout:?}\n{}",
                self.all_output()
            );
            self.wait_for_output(Duration::from_millis(100));
        }
    }

    /// The value of the template output `name`, as the start-up `Outputs:` lines print it
    /// (`  Name = value`): how a user learns the names CloudFormation-style naming gave
    /// the app's tables and functions.
    pub fn output(&self, name: &str) -> String {
        let stdout = self.stdout();
        let prefix = format!("  {name} = ");
        stdout
            .lines()
            .skip_while(|line| *line != "Outputs:")
            .find_map(|line| line.strip_prefix(&prefix))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no output {name} at start-up\n{}", self.all_output()))
    }

    /// The name of the function of logical id `logical_id`, found as a user finds it:
    /// `aws lambda list-functions` on the server's endpoint, where CloudFormation-style
    /// naming calls it `{stack}-{LogicalId}-{SUFFIX}`.
    pub fn function_name(&self, logical_id: &str) -> String {
        let output = Command::new("aws")
            .args(["lambda", "list-functions", "--output", "json"])
            .envs(self.aws_env())
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap_or_else(|error| {
                panic!("run aws: {error} (scripts/install-test-deps.sh installs it)")
            });
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "aws lambda list-functions failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let listed: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {stdout}"));
        let shape = Regex::new(&format!(r"-{logical_id}-[0-9A-Z]{{12}}$")).expect("regex");
        listed["Functions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|function| function["FunctionName"].as_str())
            .find(|name| shape.is_match(name))
            .unwrap_or_else(|| panic!("no function named like {shape} in {stdout}"))
            .to_owned()
    }

    /// Runs the AWS CLI against this server (`--output json`): whether it succeeded, its
    /// stdout as JSON (`null` when it printed none), and its stderr.
    pub fn aws_cli(&self, args: &[&str]) -> (bool, serde_json::Value, String) {
        let output = Command::new("aws")
            .args(args)
            .args(["--output", "json"])
            .envs(self.aws_env())
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap_or_else(|error| {
                panic!("run aws: {error} (scripts/install-test-deps.sh installs it)")
            });
        (
            output.status.success(),
            serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Runs a Python script (with boto3) against this server; the JSON it prints. Fails
    /// the test, with the server's output, when the script fails.
    pub fn python(&self, script: &str, args: &[&str]) -> serde_json::Value {
        let output = Command::new("python3")
            .args(["-c", script])
            .args(args)
            .envs(self.aws_env())
            .output()
            .expect("run python3 (scripts/install-test-deps.sh installs boto3)");
        assert!(
            output.status.success(),
            "python {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.all_output()
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "python {args:?} printed no JSON ({error}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// Sends SIGINT (Ctrl-C) and waits for the exit status.
    pub fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let _status = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.all_output());
            }
            assert!(
                Instant::now() < deadline,
                "server ignored SIGINT\n{}",
                self.all_output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's data folder (`--data`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pump(stream: impl Read + Send + 'static, into: Arc<Captured>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            into.push_line(&line);
        }
    });
}

/// Runs `serverful` with `args` to completion: (exit code, stdout, stderr).
pub fn run_serverful(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(serverful_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run serverful");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs `serverful up APP --port 0 --aws-port 0` with a fresh data folder to its end, for
/// a start that is to fail before it serves: (exit code, stderr).
pub fn up_until_it_fails(app: &Path) -> (i32, String) {
    let data = tempfile::tempdir().expect("data dir");
    let app = app.to_str().expect("utf-8 app path");
    let data = data.path().to_str().expect("utf-8 data path");
    let (code, _, stderr) = run_serverful(&[
        "up",
        app,
        "--port",
        "0",
        "--aws-port",
        "0",
        "--admin-port",
        "0",
        "--data",
        data,
    ]);
    (code, stderr)
}
