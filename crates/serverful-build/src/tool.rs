//! Running build tools: spawning a command with its output captured, telling "not
//! installed" from "failed", probing for optional tools, and finding a Python that has pip.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// The longest tool output kept for an error; its tail, where the reason usually is.
const MAX_OUTPUT: usize = 64 * 1024;

/// One command to run.
#[derive(Debug, Clone)]
pub(crate) struct ToolCommand {
    pub(crate) program: String,
    pub(crate) args: Vec<OsString>,
    pub(crate) cwd: PathBuf,
    pub(crate) envs: Vec<(String, OsString)>,
}

impl ToolCommand {
    pub(crate) fn new(program: &str, cwd: &Path) -> ToolCommand {
        ToolCommand {
            program: program.to_owned(),
            args: Vec::new(),
            cwd: cwd.to_path_buf(),
            envs: Vec::new(),
        }
    }

    pub(crate) fn arg(mut self, arg: impl Into<OsString>) -> ToolCommand {
        self.args.push(arg.into());
        self
    }

    pub(crate) fn env(mut self, key: &str, value: impl Into<OsString>) -> ToolCommand {
        self.envs.push((key.to_owned(), value.into()));
        self
    }

    /// The command line as a user could retype it, with the environment this crate set.
    pub(crate) fn display(&self) -> String {
        let mut words: Vec<String> = self
            .envs
            .iter()
            .map(|(key, value)| format!("{key}={}", quote(&value.to_string_lossy())))
            .collect();
        words.push(quote(&self.program));
        words.extend(self.args.iter().map(|arg| quote(&arg.to_string_lossy())));
        words.join(" ")
    }
}

fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Why a command did not succeed.
#[derive(Debug)]
pub(crate) enum RunError {
    /// The program does not exist on PATH.
    NotFound,
    /// Spawning or capturing failed for another reason.
    Io(io::Error),
    /// The program ran and failed.
    Failed { status: String, output: String },
}

/// Runs `command` with stdin closed and stdout and stderr both written to `log_path`, so
/// the output the user sees on failure is interleaved as the tool printed it, and a
/// chatty tool can never block on a full pipe.
pub(crate) fn run(command: &ToolCommand, log_path: &Path) -> Result<String, RunError> {
    let log = fs::File::create(log_path).map_err(RunError::Io)?;
    let log_for_stderr = log.try_clone().map_err(RunError::Io)?;
    let mut process = Command::new(&command.program);
    process
        .args(&command.args)
        .current_dir(&command.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_for_stderr));
    for (key, value) in &command.envs {
        process.env(key, value);
    }
    let status = match process.status() {
        Ok(status) => status,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let _ = fs::remove_file(log_path);
            return Err(RunError::NotFound);
        }
        Err(error) => {
            let _ = fs::remove_file(log_path);
            return Err(RunError::Io(error));
        }
    };
    let output = read_tail(log_path);
    let _ = fs::remove_file(log_path);
    if status.success() {
        Ok(output)
    } else {
        Err(RunError::Failed {
            status: describe_status(status),
            output,
        })
    }
}

fn read_tail(path: &Path) -> String {
    let Ok(bytes) = fs::read(path) else {
        return String::from("(the tool's output could not be read)");
    };
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_end();
    if text.len() <= MAX_OUTPUT {
        return text.to_owned();
    }
    let mut start = text.len() - MAX_OUTPUT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[… earlier output cut …]\n{}", &text[start..])
}

fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    format!("failed ({status})")
}

/// Runs `command` for its standard output (a tool's machine-readable answer, such as
/// `cargo metadata`), keeping standard error apart for the error when it fails.
pub(crate) fn stdout_of(command: &ToolCommand) -> Result<String, RunError> {
    let mut process = Command::new(&command.program);
    process
        .args(&command.args)
        .current_dir(&command.cwd)
        .stdin(Stdio::null());
    for (key, value) in &command.envs {
        process.env(key, value);
    }
    let output = match process.output() {
        Ok(output) => output,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(RunError::NotFound),
        Err(error) => return Err(RunError::Io(error)),
    };
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    Err(RunError::Failed {
        status: describe_status(output.status),
        output: String::from_utf8_lossy(&output.stderr)
            .trim_end()
            .to_owned(),
    })
}

/// Runs a quick probe command, discarding its output; `None` when it cannot start.
pub(crate) fn probe(program: &str, args: &[&str]) -> Option<bool> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()
        .map(|status| status.success())
}

/// Which Python a Python build uses, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PythonChoice {
    /// This interpreter has pip.
    Found(String),
    /// A Python runs but none of the candidates has pip.
    NoPip(String),
    /// No candidate interpreter runs.
    NoPython,
}

/// Finds a Python with pip for a runtime, remembering answers for the session: the
/// runtime's own version first (`python3.12`, so compiled wheels match the interpreter
/// the runtime crate prefers), then the host's `python3`, as the runtime crate does.
#[derive(Debug, Default)]
pub(crate) struct PythonFinder {
    known: HashMap<String, PythonChoice>,
}

impl PythonFinder {
    pub(crate) fn find(&mut self, runtime: &str) -> PythonChoice {
        if let Some(choice) = self.known.get(runtime) {
            return choice.clone();
        }
        let mut candidates = Vec::new();
        if let Some(version) = serverful_catalog::lookup(runtime)
            .filter(|runtime| runtime.language == serverful_catalog::Language::Python)
            .map(|runtime| runtime.version)
            .filter(|version| version.major == 3)
        {
            candidates.push(format!("python3.{}", version.minor));
        }
        candidates.push("python3".to_owned());
        let mut choice = PythonChoice::NoPython;
        for candidate in &candidates {
            if probe(candidate, &["-m", "pip", "--version"]) == Some(true) {
                choice = PythonChoice::Found(candidate.clone());
                break;
            }
            if choice == PythonChoice::NoPython && probe(candidate, &["--version"]) == Some(true) {
                choice = PythonChoice::NoPip(candidate.clone());
            }
        }
        self.known.insert(runtime.to_owned(), choice.clone());
        choice
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_what_a_shell_would_split() {
        let command = ToolCommand::new("make", Path::new("/"))
            .arg("build-Hello")
            .env("ARTIFACTS_DIR", "/tmp/my build");
        assert_eq!(
            command.display(),
            "ARTIFACTS_DIR='/tmp/my build' make build-Hello"
        );
    }

    #[test]
    fn run_captures_interleaved_output_and_status() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("log");
        let command = ToolCommand::new("sh", dir.path())
            .arg("-c")
            .arg("echo out; echo err >&2; exit 3");
        match run(&command, &log) {
            Err(RunError::Failed { status, output }) => {
                assert_eq!(status, "exited with status 3");
                assert_eq!(output, "out\nerr");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert!(!log.exists(), "the log file is removed");
    }

    #[test]
    fn missing_program_is_not_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let command = ToolCommand::new("serverful-no-such-tool", dir.path());
        assert!(matches!(
            run(&command, &dir.path().join("log")),
            Err(RunError::NotFound)
        ));
    }
}
