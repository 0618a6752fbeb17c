//! Cloning a git source with the `git` command, safely for a URL a client sent: arguments
//! passed as arguments (never through a shell), only the URL's own transport allowed, no
//! prompts, no hooks, and every command killed with its children at a deadline.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::SourceError;

/// The most of git's standard error kept for a message: its tail, where `fatal:` is.
const MAX_STDERR: usize = 4000;

/// Settings for every git command. They come after the user's own configuration, so that
/// proxies and credential helpers an operator set up still apply, but a fetch never runs
/// a hook (a global `core.hooksPath` would run one at checkout), never converts line
/// endings (`core.autocrlf`), never starts a file-system monitor, and never lets ssh ask
/// for a password, a passphrase or a new host key (`BatchMode`; `GIT_SSH_COMMAND` in the
/// environment still wins, for an operator who needs another ssh command).
const CONFIG: &[&str] = &[
    "core.hooksPath=/dev/null",
    "core.autocrlf=false",
    "core.fsmonitor=false",
    "advice.detachedHead=false",
    "core.sshCommand=ssh -o BatchMode=yes",
];

/// Variables that would point git at another repository than the one it is cloning into
/// (set, say, when the server itself is started from a git hook).
const REPOSITORY_VARIABLES: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
];

/// One git fetch: the repository and the limits every command of it runs under.
pub(super) struct GitFetch<'a> {
    /// The `git` program.
    pub(super) program: &'a Path,
    /// The URL or local path, as git gets it.
    pub(super) url: &'a str,
    /// The URL for messages, without a password or token.
    pub(super) shown_url: &'a str,
    /// All commands together must end by then.
    pub(super) deadline: Instant,
    /// The limit the deadline came from, for the message.
    pub(super) timeout: Duration,
    /// A private folder for the commands' output files.
    pub(super) scratch: &'a Path,
}

/// How one git command went wrong, before it is given a meaning.
enum Failure {
    Source(SourceError),
    Failed { status: String, stderr: String },
}

impl From<SourceError> for Failure {
    fn from(error: SourceError) -> Failure {
        Failure::Source(error)
    }
}

impl GitFetch<'_> {
    /// Clones the repository into `checkout` (which must not exist) at `reference`, or at
    /// its default branch, and returns the commit checked out.
    pub(super) fn clone_into(
        &self,
        reference: Option<&str>,
        checkout: &Path,
    ) -> Result<String, SourceError> {
        let destination = checkout.as_os_str().to_owned();
        match reference {
            // The remote's HEAD is its default branch: `.#HEAD` deploys a local
            // repository's current commit, without the edits not committed yet.
            None | Some("HEAD") => self.clone(&["--depth", "1"], destination)?,
            Some(reference) => {
                // Asking first tells a branch or tag (a shallow clone of it) from a commit
                // (which needs the history to find it), and lets a wrong name be answered
                // with the names that exist.
                let refs = self.list_refs()?;
                let name = reference
                    .strip_prefix("refs/heads/")
                    .or_else(|| reference.strip_prefix("refs/tags/"))
                    .unwrap_or(reference);
                if refs
                    .branches
                    .iter()
                    .chain(&refs.tags)
                    .any(|known| known == name)
                {
                    self.clone(&["--depth", "1", "--branch", name], destination)?;
                } else if looks_like_commit(reference) {
                    // Blobs of other commits are never needed: a server that supports
                    // filters sends only the trees, and checkout fetches the blobs of the
                    // one commit; one that does not sends everything.
                    self.clone(&["--no-checkout", "--filter=blob:none"], destination)?;
                    let commit = match self.run(
                        ["rev-parse", "--verify", &format!("{reference}^{{commit}}")],
                        checkout,
                    ) {
                        Ok(stdout) => stdout.trim().to_owned(),
                        Err(Failure::Source(error)) => return Err(error),
                        Err(Failure::Failed { .. }) => {
                            return Err(self.missing(reference, &refs));
                        }
                    };
                    self.run(["checkout", "--quiet", "--detach", &commit], checkout)
                        .map_err(|failure| self.failed("checkout", failure))?;
                } else {
                    return Err(self.missing(reference, &refs));
                }
            }
        }
        match self.run(["rev-parse", "--verify", "HEAD^{commit}"], checkout) {
            Ok(stdout) => Ok(stdout.trim().to_owned()),
            Err(Failure::Source(error)) => Err(error),
            Err(Failure::Failed { .. }) => Err(SourceError::EmptyRepository {
                url: self.shown_url.to_owned(),
            }),
        }
    }

    fn clone(&self, options: &[&str], destination: OsString) -> Result<(), SourceError> {
        let mut args: Vec<OsString> = vec!["clone".into(), "--quiet".into()];
        args.extend(options.iter().map(OsString::from));
        if !self.url.contains("://") && self.url.starts_with('/') {
            // A plain path is otherwise cloned by copying (or hard-linking) the objects,
            // which ignores `--depth` and would copy a repository's whole history.
            args.push("--no-local".into());
        }
        // `--` ends the options: nothing after it is read as one, whatever it starts with.
        args.push("--".into());
        args.push(self.url.into());
        args.push(destination);
        self.run(args, self.scratch)
            .map_err(|failure| self.failed("clone", failure))?;
        Ok(())
    }

    fn list_refs(&self) -> Result<Refs, SourceError> {
        let stdout = self
            .run(
                ["ls-remote", "--heads", "--tags", "--", self.url],
                self.scratch,
            )
            .map_err(|failure| self.failed("ls-remote", failure))?;
        let mut refs = Refs::default();
        for line in stdout.lines() {
            let Some((_, name)) = line.split_once('\t') else {
                continue;
            };
            if let Some(branch) = name.strip_prefix("refs/heads/") {
                refs.branches.push(branch.to_owned());
            } else if let Some(tag) = name.strip_prefix("refs/tags/") {
                // An annotated tag is listed twice, the second time peeled (`v1^{}`).
                if !tag.ends_with("^{}") {
                    refs.tags.push(tag.to_owned());
                }
            }
        }
        Ok(refs)
    }

    fn missing(&self, reference: &str, refs: &Refs) -> SourceError {
        SourceError::RefMissing {
            url: self.shown_url.to_owned(),
            reference: reference.to_owned(),
            known: refs.describe(),
        }
    }

    fn failed(&self, command: &str, failure: Failure) -> SourceError {
        match failure {
            Failure::Source(error) => error,
            Failure::Failed { status, stderr } => SourceError::GitFailed {
                url: self.shown_url.to_owned(),
                command: format!("git {command}"),
                status,
                stderr,
            },
        }
    }

    /// Runs git with `args` in `cwd`, standard input closed and its output in files (a
    /// command killed at the deadline may leave children holding a pipe, never a file);
    /// returns its standard output.
    fn run<I, S>(&self, args: I, cwd: &Path) -> Result<String, Failure>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let command_name = args
            .first()
            .map(|arg| format!("git {}", arg.to_string_lossy()))
            .unwrap_or_else(|| "git".to_owned());
        let io_error = |action: &str| {
            let action = format!("{action} for `{command_name}`");
            move |source| SourceError::Io { action, source }
        };
        let stdout_path = self.scratch.join("git-stdout");
        let stderr_path = self.scratch.join("git-stderr");
        let stdout = fs::File::create(&stdout_path).map_err(io_error("create an output file"))?;
        let stderr = fs::File::create(&stderr_path).map_err(io_error("create an output file"))?;
        let mut command = Command::new(self.program);
        for setting in CONFIG {
            command.arg("-c").arg(setting);
        }
        command
            .args(&args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            // A process group of its own, so that a timeout kills ssh or a remote helper
            // with it.
            .process_group(0)
            // Never a prompt: a terminal prompt would wait for an answer nobody gives, and
            // Git Credential Manager would open a window on a desktop.
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GCM_INTERACTIVE", "never")
            // Only the transport of the URL the user gave (see `allowed_protocols`),
            // overriding any configuration: a redirect or a submodule cannot switch to
            // another, and `ext::` (which runs commands) is never allowed.
            .env("GIT_ALLOW_PROTOCOL", allowed_protocols(self.url))
            // English messages, whatever the server's locale: they are shown to users
            // and read by tests.
            .env("LC_ALL", "C");
        for variable in REPOSITORY_VARIABLES {
            command.env_remove(variable);
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(SourceError::GitMissing {
                    program: self.program.to_path_buf(),
                }
                .into())
            }
            Err(error) => return Err(io_error("start git")(error).into()),
        };
        let status = match self.wait(&mut child) {
            Some(status) => status.map_err(io_error("wait for git"))?,
            None => {
                return Err(SourceError::GitTimeout {
                    url: self.shown_url.to_owned(),
                    command: command_name,
                    timeout: self.timeout,
                }
                .into())
            }
        };
        let stdout = fs::read(&stdout_path).map_err(io_error("read the output"))?;
        if status.success() {
            return Ok(String::from_utf8_lossy(&stdout).into_owned());
        }
        Err(Failure::Failed {
            status: describe_status(status),
            stderr: read_tail(&stderr_path),
        })
    }

    /// Waits for `child` until the deadline; `None` when it had to be killed.
    fn wait(&self, child: &mut Child) -> Option<io::Result<ExitStatus>> {
        let mut pause = Duration::from_millis(2);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(Ok(status)),
                Ok(None) => {}
                Err(error) => return Some(Err(error)),
            }
            let now = Instant::now();
            if now >= self.deadline {
                kill_process_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(pause.min(self.deadline - now));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

/// The branches and tags a repository has.
#[derive(Debug, Default)]
struct Refs {
    branches: Vec<String>,
    tags: Vec<String>,
}

impl Refs {
    /// The names, for a message: `its branches: main, dev; its tags: v1`.
    fn describe(&self) -> String {
        fn some(names: &[String]) -> String {
            const SHOWN: usize = 10;
            let mut text = names
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if names.len() > SHOWN {
                text.push_str(&format!(" and {} more", names.len() - SHOWN));
            }
            text
        }
        match (self.branches.is_empty(), self.tags.is_empty()) {
            (true, true) => "it has no branches or tags".to_owned(),
            (false, true) => format!("its branches: {}", some(&self.branches)),
            (true, false) => format!("its tags: {}", some(&self.tags)),
            (false, false) => format!(
                "its branches: {}; its tags: {}",
                some(&self.branches),
                some(&self.tags)
            ),
        }
    }
}

/// Whether a REF that is no branch or tag could be a commit id: 4 to 64 hex digits (SHA-1
/// or SHA-256, abbreviated or whole).
fn looks_like_commit(reference: &str) -> bool {
    (4..=64).contains(&reference.len()) && reference.chars().all(|c| c.is_ascii_hexdigit())
}

/// `GIT_ALLOW_PROTOCOL` for a URL: its own transport only. An `http://` URL may be
/// redirected to `https://`, never the other way round. A local path or `file://` URL
/// needs `file`, which git's default (`protocol.file.allow=user`) would allow too; that
/// default exists to stop submodules from reading the cloning machine's files, and a
/// fetch here never clones submodules.
fn allowed_protocols(url: &str) -> &'static str {
    let scheme = url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("https") => "https",
        Some("http") => "http:https",
        Some("git") => "git",
        Some("file") => "file",
        Some(_) => "ssh",
        None if url.starts_with('/') => "file",
        // `[user@]host:path`.
        None => "ssh",
    }
}

/// Kills the process group `pgid` with SIGKILL, so that ssh or a remote helper git started
/// dies with it. With the `kill` command: the standard library has no `killpg`, and this
/// crate has no `unsafe`.
fn kill_process_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("failed ({status})"),
    }
}

/// The end of git's standard error, trimmed.
fn read_tail(path: &Path) -> String {
    let Ok(bytes) = fs::read(path) else {
        return "(git's output could not be read)".to_owned();
    };
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    if text.len() <= MAX_STDERR {
        return text.to_owned();
    }
    let mut start = text.len() - MAX_STDERR;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[…]{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_url_allows_only_its_own_transport() {
        assert_eq!(allowed_protocols("https://github.com/o/a"), "https");
        assert_eq!(allowed_protocols("HTTP://host/a"), "http:https");
        assert_eq!(allowed_protocols("git://host/a"), "git");
        assert_eq!(allowed_protocols("ssh://git@host/a"), "ssh");
        assert_eq!(allowed_protocols("git+ssh://host/a"), "ssh");
        assert_eq!(allowed_protocols("git@github.com:o/a.git"), "ssh");
        assert_eq!(allowed_protocols("file:///srv/a.git"), "file");
        assert_eq!(allowed_protocols("/srv/a.git"), "file");
    }

    #[test]
    fn commit_ids_are_hex_of_a_possible_length() {
        assert!(looks_like_commit("0123abcd"));
        assert!(looks_like_commit(&"a".repeat(40)));
        assert!(looks_like_commit(&"A".repeat(64)));
        assert!(!looks_like_commit("abc"));
        assert!(!looks_like_commit("main"));
        assert!(!looks_like_commit(&"a".repeat(65)));
    }

    #[test]
    fn known_names_are_listed_shortly() {
        let refs = Refs {
            branches: (0..12).map(|n| format!("b{n}")).collect(),
            tags: vec!["v1".to_owned()],
        };
        assert_eq!(
            refs.describe(),
            "its branches: b0, b1, b2, b3, b4, b5, b6, b7, b8, b9 and 2 more; its tags: v1"
        );
        assert_eq!(Refs::default().describe(), "it has no branches or tags");
    }
}
