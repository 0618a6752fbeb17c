//! Runtimes: which Lambda runtime identifiers Serverful runs, the interpreter that runs
//! each on this host, start-up validation of handlers, and Serverful's own Node.js and
//! Python bootstraps (embedded in the binary, written once under `data_dir/runtimes/`).

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{FunctionConfig, RuntimeError};

/// Every runtime identifier Serverful accepts.
pub const SUPPORTED_RUNTIMES: &[&str] = &[
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "provided",
    "provided.al2",
    "provided.al2023",
    "go1.x",
];

/// The Node.js bootstrap, an ES module speaking the Runtime API.
const NODE_BOOTSTRAP: &str = include_str!("bootstrap/nodejs/bootstrap.mjs");
/// The Python bootstrap, speaking the Runtime API with `http.client`.
const PYTHON_BOOTSTRAP: &str = include_str!("bootstrap/python/bootstrap.py");

const NODE_BOOTSTRAP_PATH: &str = "nodejs/bootstrap.mjs";
const PYTHON_BOOTSTRAP_PATH: &str = "python/bootstrap.py";

/// The language family of a runtime identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Node {
        major: u32,
    },
    Python {
        minor: u32,
    },
    /// `provided*`: the app's own `bootstrap`.
    Provided,
    /// `go1.x`: the app's `bootstrap`, or the executable the handler names.
    Go,
}

fn family(runtime: &str) -> Option<Family> {
    if !SUPPORTED_RUNTIMES.contains(&runtime) {
        return None;
    }
    if let Some(version) = runtime.strip_prefix("nodejs") {
        let major = version.strip_suffix(".x")?.parse().ok()?;
        return Some(Family::Node { major });
    }
    if let Some(version) = runtime.strip_prefix("python3.") {
        return Some(Family::Python {
            minor: version.parse().ok()?,
        });
    }
    if runtime == "go1.x" {
        return Some(Family::Go);
    }
    Some(Family::Provided)
}

/// How to start one function's process, decided at validation.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    /// The executable: an interpreter or the app's bootstrap.
    pub program: PathBuf,
    /// Where the runtime's bootstrap lies relative to the runtimes folder, for interpreted
    /// runtimes; it becomes the program's argument.
    pub bootstrap: Option<&'static str>,
    /// Extra arguments before the bootstrap: `-u` for unbuffered Python, Node's heap limits.
    pub interpreter_args: Vec<String>,
    /// `AWS_EXECUTION_ENV`, unset for `provided*` as on Lambda.
    pub execution_env: Option<String>,
}

/// A working interpreter found on the host.
#[derive(Debug, Clone)]
struct Interpreter {
    /// The real executable (resolved through shims such as pyenv's).
    path: PathBuf,
    /// `3.11.7`, `20.20.2`.
    version: String,
}

/// Results of running interpreters once each, shared across functions.
#[derive(Debug, Default)]
pub(crate) struct InterpreterProbes {
    found: HashMap<String, Option<Interpreter>>,
    /// Where to look instead of the server's PATH (tests).
    search_path: Option<OsString>,
}

impl InterpreterProbes {
    /// Runs `command` (looked up on PATH) to learn its real path and version; `None` when
    /// it is not installed or does not run.
    fn probe(&mut self, command: &str, script_args: &[&str]) -> Option<Interpreter> {
        if let Some(found) = self.found.get(command) {
            return found.clone();
        }
        let search_path = match &self.search_path {
            Some(path) => path.clone(),
            None => std::env::var_os("PATH").unwrap_or_else(|| OsString::from(DEFAULT_PATH)),
        };
        // Running an interpreter costs tens of milliseconds (more through pyenv shims), and
        // the server builds a runtime per function and again on every reload: results are
        // kept for the life of the process, per PATH.
        let key = (search_path.clone(), command.to_owned());
        let cached = PROBE_CACHE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&key)
            .cloned();
        if let Some(found) = cached {
            self.found.insert(command.to_owned(), found.clone());
            return found;
        }
        let found = find_on_path(command, &search_path).and_then(|path| {
            let output = Command::new(&path).args(script_args).output().ok()?;
            if !output.status.success() {
                return None;
            }
            let text = String::from_utf8_lossy(&output.stdout);
            let mut lines = text.lines();
            let real_path = PathBuf::from(lines.next()?.trim());
            let version = lines.next()?.trim().to_owned();
            Some(Interpreter {
                path: if real_path.is_absolute() {
                    real_path
                } else {
                    path
                },
                version,
            })
        });
        PROBE_CACHE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key, found.clone());
        self.found.insert(command.to_owned(), found.clone());
        found
    }

    fn python(&mut self, command: &str) -> Option<Interpreter> {
        self.probe(
            command,
            &[
                "-c",
                "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])",
            ],
        )
    }

    fn node(&mut self, command: &str) -> Option<Interpreter> {
        self.probe(
            command,
            &[
                "-e",
                "console.log(process.execPath); console.log(process.versions.node)",
            ],
        )
    }
}

/// The search path when the server has no PATH.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Interpreters probed so far in this process, by (PATH, command).
type ProbeCache = HashMap<(OsString, String), Option<Interpreter>>;
static PROBE_CACHE: std::sync::LazyLock<std::sync::Mutex<ProbeCache>> =
    std::sync::LazyLock::new(Default::default);

/// Searches `search_path` for an executable file named `command`.
fn find_on_path(command: &str, search_path: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(search_path)
        .map(|dir| dir.join(command))
        .find(|candidate| is_executable_file(candidate))
}

fn is_executable_file(path: &Path) -> bool {
    path.metadata()
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Checks that `function` can start on this host and decides how to start it. Warnings
/// (an interpreter of another version) are appended to `warnings`.
pub(crate) fn validate(
    function: &FunctionConfig,
    probes: &mut InterpreterProbes,
    warnings: &mut Vec<String>,
) -> Result<Launch, RuntimeError> {
    let name = &function.name;
    let runtime = &function.runtime;
    let family = family(runtime).ok_or_else(|| RuntimeError::UnsupportedRuntime {
        function: name.clone(),
        runtime: runtime.clone(),
    })?;
    if !function.code_dir.is_dir() {
        return Err(RuntimeError::MissingCodeDir {
            function: name.clone(),
            path: function.code_dir.clone(),
        });
    }
    match family {
        Family::Node { major } => {
            check_node_handler(function)?;
            let versioned = format!("node{major}");
            let interpreter = match probes.node(&versioned) {
                Some(found) => found,
                None => {
                    let found =
                        probes
                            .node("node")
                            .ok_or_else(|| RuntimeError::MissingInterpreter {
                                function: name.clone(),
                                runtime: runtime.clone(),
                                language: "Node.js",
                                detail: "`node` was not found on PATH".to_owned(),
                            })?;
                    let found_major = found.version.split('.').next().unwrap_or_default();
                    if found_major != major.to_string() {
                        warnings.push(format!(
                            "{name}: runtime {runtime} wants Node.js {major}, running with the host's node ({})",
                            found.version
                        ));
                    }
                    found
                }
            };
            Ok(Launch {
                program: interpreter.path,
                bootstrap: Some(NODE_BOOTSTRAP_PATH),
                interpreter_args: node_heap_args(function.memory_mb),
                execution_env: Some(format!("AWS_Lambda_{runtime}")),
            })
        }
        Family::Python { minor } => {
            check_python_handler(function)?;
            let versioned = format!("python3.{minor}");
            let interpreter = match probes.python(&versioned) {
                Some(found) => found,
                None => {
                    let found = probes.python("python3").ok_or_else(|| {
                        RuntimeError::MissingInterpreter {
                            function: name.clone(),
                            runtime: runtime.clone(),
                            language: "Python",
                            detail: format!(
                                "neither `{versioned}` nor `python3` was found on PATH"
                            ),
                        }
                    })?;
                    let wanted_prefix = format!("3.{minor}.");
                    if !found.version.starts_with(&wanted_prefix) {
                        warnings.push(format!(
                            "{name}: runtime {runtime} wants {versioned}, running with the host's python3 ({})",
                            found.version
                        ));
                    }
                    found
                }
            };
            Ok(Launch {
                program: interpreter.path,
                bootstrap: Some(PYTHON_BOOTSTRAP_PATH),
                // Unbuffered output, so that log lines appear as they are printed.
                interpreter_args: vec!["-u".to_owned()],
                execution_env: Some(format!("AWS_Lambda_{runtime}")),
            })
        }
        Family::Provided | Family::Go => {
            let bootstrap = function.code_dir.join("bootstrap");
            let program = if family == Family::Go && !bootstrap.exists() {
                // go1.x functions name their executable in the handler.
                function.code_dir.join(&function.handler)
            } else {
                bootstrap
            };
            if !program.is_file() {
                return Err(RuntimeError::MissingBootstrap {
                    function: name.clone(),
                    runtime: runtime.clone(),
                    path: program,
                });
            }
            if !is_executable_file(&program) {
                return Err(RuntimeError::BootstrapNotExecutable {
                    function: name.clone(),
                    path: program,
                });
            }
            Ok(Launch {
                program,
                bootstrap: None,
                interpreter_args: Vec::new(),
                execution_env: (family == Family::Go).then(|| "AWS_Lambda_go1.x".to_owned()),
            })
        }
    }
}

/// Node's heap sized from `MemorySize` the way Lambda's Node.js bootstrap does (a tenth
/// for the young generation, the rest for the old one), so that a function runs out of
/// memory where it would on Lambda rather than growing without bound.
fn node_heap_args(memory_mb: u32) -> Vec<String> {
    let new_space = (memory_mb / 10).max(1);
    let semi_space = (new_space / 2).max(1);
    let old_space = memory_mb.saturating_sub(new_space).max(16);
    vec![
        format!("--max-semi-space-size={semi_space}"),
        format!("--max-old-space-size={old_space}"),
    ]
}

fn bad_handler(function: &FunctionConfig, problem: String) -> RuntimeError {
    RuntimeError::BadHandler {
        function: function.name.clone(),
        handler: function.handler.clone(),
        problem,
    }
}

/// Node handlers are `dir/file.export.path`: the module is everything up to the first dot
/// after the last slash, as in AWS's Node.js runtime.
fn check_node_handler(function: &FunctionConfig) -> Result<(), RuntimeError> {
    let handler = &function.handler;
    let (dir, base) = match handler.rfind('/') {
        Some(slash) => handler.split_at(slash + 1),
        None => ("", handler.as_str()),
    };
    let Some((file, export)) = base.split_once('.') else {
        return Err(bad_handler(
            function,
            "a Node.js handler looks like `file.export`, e.g. `index.handler`".to_owned(),
        ));
    };
    if file.is_empty() || export.is_empty() {
        return Err(bad_handler(
            function,
            "a Node.js handler looks like `file.export`, e.g. `index.handler`".to_owned(),
        ));
    }
    let module = format!("{dir}{file}");
    let found = ["js", "mjs", "cjs"]
        .iter()
        .any(|ext| function.code_dir.join(format!("{module}.{ext}")).is_file());
    if found {
        Ok(())
    } else {
        Err(bad_handler(
            function,
            format!(
                "no file {module}.js, {module}.mjs or {module}.cjs in {}",
                function.code_dir.display()
            ),
        ))
    }
}

/// Python handlers are `module.function`, where the module may be dotted (`pkg.module`) or a
/// path (`pkg/module`).
fn check_python_handler(function: &FunctionConfig) -> Result<(), RuntimeError> {
    let Some((module, func)) = function.handler.rsplit_once('.') else {
        return Err(bad_handler(
            function,
            "a Python handler looks like `module.function`, e.g. `app.handler`".to_owned(),
        ));
    };
    if module.is_empty() || func.is_empty() {
        return Err(bad_handler(
            function,
            "a Python handler looks like `module.function`, e.g. `app.handler`".to_owned(),
        ));
    }
    let relative = module.replace('.', "/");
    let file = function.code_dir.join(format!("{relative}.py"));
    let package = function.code_dir.join(&relative).join("__init__.py");
    if file.is_file() || package.is_file() {
        Ok(())
    } else {
        Err(bad_handler(
            function,
            format!("no file {relative}.py in {}", function.code_dir.display()),
        ))
    }
}

/// Writes the embedded bootstraps under `data_dir/runtimes/` (only files whose content
/// changed) and returns that folder, the functions' `LAMBDA_RUNTIME_DIR`.
pub(crate) fn install(data_dir: &Path) -> Result<PathBuf, RuntimeError> {
    let runtime_dir = data_dir.join("runtimes");
    // Functions run in their own folders, so the path they get must not be relative.
    let runtime_dir = std::path::absolute(&runtime_dir).unwrap_or(runtime_dir);
    for (relative, content) in [
        (NODE_BOOTSTRAP_PATH, NODE_BOOTSTRAP),
        (PYTHON_BOOTSTRAP_PATH, PYTHON_BOOTSTRAP),
    ] {
        let path = runtime_dir.join(relative);
        write_if_changed(&path, content).map_err(|source| RuntimeError::WriteBootstraps {
            path: path.clone(),
            source,
        })?;
    }
    Ok(runtime_dir)
}

fn write_if_changed(path: &Path, content: &str) -> std::io::Result<()> {
    if std::fs::read(path).is_ok_and(|existing| existing == content.as_bytes()) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // Write beside and rename, so that a process starting meanwhile never reads half a file.
    // Unique per call: several runtimes (threads or processes) may install at once.
    let temporary = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&temporary, content)?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn function(runtime: &str, handler: &str, code_dir: &Path) -> FunctionConfig {
        FunctionConfig {
            name: "HelloFunction".to_owned(),
            runtime: runtime.to_owned(),
            handler: handler.to_owned(),
            code_dir: code_dir.to_owned(),
            timeout: Duration::from_secs(3),
            memory_mb: 128,
            environment: BTreeMap::new(),
            reserved_concurrency: None,
            tmp_size_mb: 512,
            network: None,
        }
    }

    fn check(config: &FunctionConfig) -> Result<(Launch, Vec<String>), String> {
        let mut warnings = Vec::new();
        validate(config, &mut InterpreterProbes::default(), &mut warnings)
            .map(|launch| (launch, warnings))
            .map_err(|error| error.to_string())
    }

    #[test]
    fn runtime_families() {
        assert_eq!(family("nodejs20.x"), Some(Family::Node { major: 20 }));
        assert_eq!(family("python3.12"), Some(Family::Python { minor: 12 }));
        assert_eq!(family("provided.al2023"), Some(Family::Provided));
        assert_eq!(family("go1.x"), Some(Family::Go));
        assert_eq!(family("java21"), None);
        assert_eq!(family("nodejs16.x"), None);
    }

    #[test]
    fn unknown_runtime_lists_the_supported_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = check(&function("java21", "app.handler", dir.path()))
            .expect_err("validation must fail");
        assert!(
            error.starts_with(
                "HelloFunction: runtime java21 is not supported; supported runtimes: nodejs18.x,"
            ),
            "{error}"
        );
    }

    #[test]
    fn missing_python_module_names_the_file_and_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = check(&function("python3.11", "app.handler", dir.path()))
            .expect_err("validation must fail");
        assert_eq!(
            error,
            format!(
                "HelloFunction: handler app.handler: no file app.py in {}",
                dir.path().display()
            )
        );
    }

    #[test]
    fn python_handlers_in_packages() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("pkg")).expect("mkdir");
        std::fs::write(dir.path().join("pkg/module.py"), "").expect("write");
        for handler in ["pkg/module.handler", "pkg.module.handler"] {
            let config = function("python3.11", handler, dir.path());
            assert!(check_python_handler(&config).is_ok(), "{handler}");
        }
        let error = check_python_handler(&function("python3.11", "handler", dir.path()))
            .expect_err("validation must fail")
            .to_string();
        assert!(error.contains("looks like `module.function`"), "{error}");
    }

    #[test]
    fn node_handlers_resolve_js_mjs_and_cjs() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
        std::fs::write(dir.path().join("src/index.mjs"), "").expect("write");
        std::fs::write(dir.path().join("legacy.cjs"), "").expect("write");
        assert!(
            check_node_handler(&function("nodejs20.x", "src/index.handler", dir.path())).is_ok()
        );
        assert!(
            check_node_handler(&function("nodejs20.x", "legacy.nested.handler", dir.path()))
                .is_ok()
        );
        let error = check_node_handler(&function("nodejs20.x", "app.handler", dir.path()))
            .expect_err("validation must fail")
            .to_string();
        assert!(
            error.contains("no file app.js, app.mjs or app.cjs in"),
            "{error}"
        );
    }

    #[test]
    fn provided_bootstrap_must_exist_and_be_executable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = function("provided.al2023", "unused", dir.path());
        let error = check(&config).expect_err("validation must fail");
        assert!(error.contains("bootstrap` in its code folder"), "{error}");
        let bootstrap = dir.path().join("bootstrap");
        std::fs::write(&bootstrap, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        let error = check(&config).expect_err("validation must fail");
        assert!(
            error.ends_with(&format!("run `chmod +x {}`", bootstrap.display())),
            "{error}"
        );
        std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let (launch, warnings) = check(&config).expect("valid bootstrap");
        assert_eq!(launch.program, bootstrap);
        assert!(launch.execution_env.is_none());
        assert!(warnings.is_empty());
    }

    #[test]
    fn go_handler_names_the_executable_without_a_bootstrap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let executable = dir.path().join("hello");
        std::fs::write(&executable, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&executable, std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let (launch, _) = check(&function("go1.x", "hello", dir.path())).expect("valid");
        assert_eq!(launch.program, executable);
    }

    #[test]
    fn missing_interpreters_name_the_runtime_and_the_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("index.js"), "").expect("write");
        std::fs::write(dir.path().join("app.py"), "").expect("write");
        let empty_path = tempfile::tempdir().expect("tempdir");
        let mut probes = InterpreterProbes {
            search_path: Some(empty_path.path().as_os_str().to_owned()),
            ..InterpreterProbes::default()
        };
        let mut warnings = Vec::new();
        let node = validate(
            &function("nodejs20.x", "index.handler", dir.path()),
            &mut probes,
            &mut warnings,
        )
        .expect_err("no node");
        assert_eq!(
            node.to_string(),
            "HelloFunction: runtime nodejs20.x needs Node.js: `node` was not found on PATH"
        );
        let python = validate(
            &function("python3.12", "app.handler", dir.path()),
            &mut probes,
            &mut warnings,
        )
        .expect_err("no python");
        assert_eq!(
            python.to_string(),
            "HelloFunction: runtime python3.12 needs Python: neither `python3.12` nor `python3` was found on PATH"
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn node_heap_follows_memory_size() {
        assert_eq!(
            node_heap_args(1024),
            ["--max-semi-space-size=51", "--max-old-space-size=922"]
        );
        assert_eq!(
            node_heap_args(128),
            ["--max-semi-space-size=6", "--max-old-space-size=116"]
        );
    }

    #[test]
    fn install_writes_bootstraps_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime_dir = install(dir.path()).expect("install");
        let node = runtime_dir.join(NODE_BOOTSTRAP_PATH);
        assert_eq!(
            std::fs::read_to_string(&node).expect("read"),
            NODE_BOOTSTRAP
        );
        let modified = node.metadata().and_then(|m| m.modified()).expect("mtime");
        install(dir.path()).expect("install again");
        let again = node.metadata().and_then(|m| m.modified()).expect("mtime");
        assert_eq!(modified, again);
    }
}
