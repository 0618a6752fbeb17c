//! Runtimes: the interpreter that runs each Lambda runtime identifier on this host (the
//! nearest version installed; the identifiers themselves are `serverful-catalog`'s),
//! start-up validation of handlers, and Serverful's own Node.js, Python and Ruby
//! bootstraps (embedded in the binary, written once under `data_dir/runtimes/`); Java's,
//! compiled once per JDK, is in [`java`].

mod java;

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serverful_catalog::{Language, Version};

use crate::{FunctionConfig, RuntimeError};

/// The Node.js bootstrap, an ES module speaking the Runtime API.
const NODE_BOOTSTRAP: &str = include_str!("bootstrap/nodejs/bootstrap.mjs");
/// The Python bootstrap, speaking the Runtime API with `http.client`.
const PYTHON_BOOTSTRAP: &str = include_str!("bootstrap/python/bootstrap.py");
/// The Ruby bootstrap, speaking the Runtime API with `net/http`.
const RUBY_BOOTSTRAP: &str = include_str!("bootstrap/ruby/bootstrap.rb");

const NODE_BOOTSTRAP_PATH: &str = "nodejs/bootstrap.mjs";
const PYTHON_BOOTSTRAP_PATH: &str = "python/bootstrap.py";
const RUBY_BOOTSTRAP_PATH: &str = "ruby/bootstrap.rb";

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

impl Interpreter {
    fn language_version(&self) -> Option<Version> {
        Version::parse_leading(&self.version)
    }
}

/// Results of running interpreters once each, shared across functions.
#[derive(Debug, Default)]
pub(crate) struct InterpreterProbes {
    found: HashMap<String, Option<Interpreter>>,
    /// Where to look instead of the server's PATH (tests).
    search_path: Option<OsString>,
    /// Where to look for Java installations instead of the host's usual places (tests).
    java_search: Option<java::JavaSearch>,
    /// The Java installations found, once looked for.
    java_installations: Option<Vec<java::Installation>>,
    /// `data_dir/runtimes`, where Java's bootstrap is compiled while functions are
    /// validated; without it (a check only) nothing is compiled.
    runtime_dir: Option<PathBuf>,
}

/// How to ask an interpreter for its real path and version, each on a line of its own.
#[derive(Debug, Clone, Copy)]
enum ProbeScript {
    Node,
    Python,
    Ruby,
}

impl ProbeScript {
    fn args(self) -> &'static [&'static str] {
        match self {
            ProbeScript::Node => &[
                "-e",
                "console.log(process.execPath); console.log(process.versions.node)",
            ],
            ProbeScript::Python => &[
                "-c",
                "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])",
            ],
            ProbeScript::Ruby => &["-e", "puts RbConfig.ruby; puts RUBY_VERSION"],
        }
    }
}

impl InterpreterProbes {
    /// Probes whose validation also prepares the bootstraps that must be built per
    /// interpreter (Java's) in `runtime_dir`.
    pub(crate) fn with_runtime_dir(runtime_dir: PathBuf) -> InterpreterProbes {
        InterpreterProbes {
            runtime_dir: Some(runtime_dir),
            ..InterpreterProbes::default()
        }
    }

    /// Runs `command` (a name looked up on PATH, or an absolute path) to learn its real
    /// path and version; `None` when it is not installed or does not run.
    fn probe(&mut self, command: &str, script: ProbeScript) -> Option<Interpreter> {
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
        let executable = if Path::new(command).is_absolute() {
            Some(PathBuf::from(command)).filter(|path| is_executable_file(path))
        } else {
            find_on_path(command, &search_path)
        };
        let found = executable.and_then(|path| {
            let output = Command::new(&path).args(script.args()).output().ok()?;
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

    /// The interpreter for `wanted`: the first of `exact` that runs and has that version,
    /// else the one nearest to it among `others` (on a tie the newer), among versions
    /// `usable` accepts. The flag says whether the version is the one wanted.
    fn nearest(
        &mut self,
        script: ProbeScript,
        wanted: Version,
        same: fn(Version, Version) -> bool,
        exact: &[String],
        others: &[String],
        usable: fn(Version) -> bool,
    ) -> Option<(Interpreter, bool)> {
        let mut best: Option<(Interpreter, Version)> = None;
        for command in exact.iter().chain(others) {
            let Some(found) = self.probe(command, script) else {
                continue;
            };
            let Some(version) = found.language_version().filter(|v| usable(*v)) else {
                continue;
            };
            if same(version, wanted) {
                return Some((found, true));
            }
            let closer = match &best {
                None => true,
                Some((_, best_version)) => {
                    let (distance, best_distance) =
                        (version.distance(wanted), best_version.distance(wanted));
                    distance < best_distance
                        || (distance == best_distance && version > *best_version)
                }
            };
            if closer {
                best = Some((found, version));
            }
        }
        best.map(|(found, _)| (found, false))
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

/// Node.js installations under nvm's folder (`$NVM_DIR`, else `~/.nvm`), newest first.
fn nvm_nodes() -> Vec<String> {
    let root = std::env::var_os("NVM_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".nvm")));
    let Some(versions) = root.map(|root| root.join("versions/node")) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(versions) else {
        return Vec::new();
    };
    let mut nodes: Vec<(Version, String)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = Version::parse_leading(name.strip_prefix('v')?)?;
            let node = entry.path().join("bin/node");
            Some((version, node.to_str()?.to_owned()))
        })
        .collect();
    nodes.sort_by_key(|node| std::cmp::Reverse(node.0));
    nodes.into_iter().map(|(_, node)| node).collect()
}

/// The Python minor versions Lambda has had, for looking up `python3.N` commands.
const PYTHON3_MINORS: std::ops::RangeInclusive<u32> = 6..=14;

/// Versioned Ruby commands a host may have besides `ruby`: Debian names its binary
/// `ruby3.1`, other distributions `ruby3.3` or `ruby2.7`.
fn versioned_ruby_commands() -> impl Iterator<Item = String> {
    let twos = (5..=7).map(|minor| format!("ruby2.{minor}"));
    let threes = (0..=5).map(|minor| format!("ruby3.{minor}"));
    twos.chain(threes)
        .chain(std::iter::once("ruby4.0".to_owned()))
}

/// Rubies installed by version managers, newest first: rbenv (`$RBENV_ROOT`, else
/// `~/.rbenv`), rvm (`$rvm_path`, else `~/.rvm`, and its system-wide `/usr/local/rvm`) and
/// ruby-install/chruby (`~/.rubies`, `/opt/rubies`).
fn managed_rubies() -> Vec<String> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut roots: Vec<PathBuf> = Vec::new();
    match std::env::var_os("RBENV_ROOT") {
        Some(root) => roots.push(PathBuf::from(root).join("versions")),
        None => roots.extend(home.as_ref().map(|home| home.join(".rbenv/versions"))),
    }
    match std::env::var_os("rvm_path") {
        Some(root) => roots.push(PathBuf::from(root).join("rubies")),
        None => roots.extend(home.as_ref().map(|home| home.join(".rvm/rubies"))),
    }
    roots.push(PathBuf::from("/usr/local/rvm/rubies"));
    roots.extend(home.as_ref().map(|home| home.join(".rubies")));
    roots.push(PathBuf::from("/opt/rubies"));
    rubies_under(&roots)
}

/// The `bin/ruby` of each version folder under `roots`, newest first.
fn rubies_under(roots: &[PathBuf]) -> Vec<String> {
    let mut rubies: Vec<(Version, String)> = Vec::new();
    for root in roots {
        let Ok(entries) = std::fs::read_dir(root) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // rbenv names its folders `3.3.0`; rvm and ruby-install `ruby-3.3.0`.
            let Some(version) = Version::parse_leading(name.strip_prefix("ruby-").unwrap_or(&name))
            else {
                continue;
            };
            let ruby = entry.path().join("bin/ruby");
            if let Some(ruby) = ruby.to_str() {
                rubies.push((version, ruby.to_owned()));
            }
        }
    }
    rubies.sort_by_key(|ruby| std::cmp::Reverse(ruby.0));
    rubies.into_iter().map(|(_, ruby)| ruby).collect()
}

/// Whether the bootstrap can run on a Ruby of `version`: 2.5 and later. (Ruby 1.8 and 1.9
/// would parse as 8.0 and 9.0, Java's old numbering; they are too old anyway.)
fn ruby_can_run_the_bootstrap(version: Version) -> bool {
    version >= Version::new(2, 5) && version.major < 8
}

/// Which interpreter runs `function`'s runtime on this host, with the warning line for a
/// version other than the runtime's or a runtime AWS no longer runs; the error when the
/// runtime is unknown or its language cannot run here. This is what can be known before
/// the function is built: [`validate`] checks the built code.
pub(crate) fn resolve(
    function: &str,
    runtime_id: &str,
    probes: &mut InterpreterProbes,
) -> Result<Resolved, RuntimeError> {
    let runtime = serverful_catalog::parse(runtime_id).map_err(|unknown| {
        RuntimeError::UnsupportedRuntime {
            function: function.to_owned(),
            runtime: runtime_id.to_owned(),
            reason: unknown.to_string(),
        }
    })?;
    let wanted = runtime.version;
    let missing = |detail: String| RuntimeError::MissingInterpreter {
        function: function.to_owned(),
        runtime: runtime_id.to_owned(),
        language: runtime.language.name(),
        detail,
    };
    let (interpreter, exact) = match runtime.language {
        Language::NodeJs => {
            let exact = [format!("node{}", wanted.major)];
            let mut others = vec!["node".to_owned(), "nodejs".to_owned()];
            others.extend(nvm_nodes());
            let found = probes.nearest(
                ProbeScript::Node,
                wanted,
                |a, b| a.major == b.major,
                &exact,
                &others,
                |_| true,
            );
            let (interpreter, exact) = found.ok_or_else(|| {
                missing("`node` was not found on PATH; install Node.js (https://nodejs.org)".to_owned())
            })?;
            (Some(interpreter), exact)
        }
        Language::Python => {
            let exact = [format!("python{}.{}", wanted.major, wanted.minor)];
            let mut others = vec!["python3".to_owned()];
            others.extend(PYTHON3_MINORS.map(|minor| format!("python3.{minor}")));
            // The bootstrap is Python 3: a python2.7 function runs on the nearest Python 3.
            let found = probes.nearest(
                ProbeScript::Python,
                wanted,
                |a, b| a == b,
                &exact,
                &others,
                |version| version.major == 3,
            );
            let (interpreter, exact) = found.ok_or_else(|| {
                missing(format!(
                    "neither `{}` nor `python3` was found on PATH; install Python 3",
                    exact[0]
                ))
            })?;
            (Some(interpreter), exact)
        }
        Language::Ruby => {
            let exact = [format!("ruby{}.{}", wanted.major, wanted.minor)];
            let mut others = vec!["ruby".to_owned()];
            others.extend(versioned_ruby_commands());
            others.extend(managed_rubies());
            let found = probes.nearest(
                ProbeScript::Ruby,
                wanted,
                |a, b| a == b,
                &exact,
                &others,
                ruby_can_run_the_bootstrap,
            );
            let (interpreter, exact) = found.ok_or_else(|| {
                missing(format!(
                    "neither `{}` nor `ruby` (2.5 or later) was found on PATH, under rbenv or under rvm; install Ruby (Debian: `apt-get install ruby`)",
                    exact[0]
                ))
            })?;
            (Some(interpreter), exact)
        }
        Language::Java => {
            let (interpreter, exact) = java::resolve(probes, wanted).map_err(missing)?;
            (Some(interpreter), exact)
        }
        Language::DotNet => {
            return Err(RuntimeError::MissingInterpreter {
                function: function.to_owned(),
                runtime: runtime_id.to_owned(),
                language: ".NET",
                detail: "Serverful does not run .NET functions; publish the function as a native AOT executable named `bootstrap` and use Runtime: provided.al2023".to_owned(),
            })
        }
        Language::Go | Language::OsOnly => (None, true),
    };
    let mut warning = None;
    if let Some(interpreter) = &interpreter {
        let running = format!("{} {}", runtime.language.name(), interpreter.version);
        warning = match (runtime.is_deprecated(), exact) {
            (false, true) => None,
            (false, false) => Some(format!(
                "{function}: runtime {runtime_id} wants {}, running with {running}",
                runtime.describe()
            )),
            (true, true) => Some(format!(
                "{function}: runtime {runtime_id} is deprecated: AWS Lambda no longer runs it; running with {running}"
            )),
            (true, false) => Some(format!(
                "{function}: runtime {runtime_id} is deprecated: AWS Lambda no longer runs it; running with {running} instead of {}",
                runtime.describe()
            )),
        };
    } else if runtime.is_deprecated() {
        warning = Some(format!(
            "{function}: runtime {runtime_id} is deprecated: AWS Lambda no longer runs it; running the function's own executable"
        ));
    }
    Ok(Resolved {
        language: runtime.language,
        interpreter: interpreter.map(|interpreter| interpreter.path),
        warning,
    })
}

/// What [`resolve`] decided.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    language: Language,
    /// The interpreter for languages Serverful bootstraps; `None` for `provided*`/`go1.x`.
    interpreter: Option<PathBuf>,
    /// One line for the user, if the runtime does not run exactly as on Lambda.
    pub warning: Option<String>,
}

/// Checks, before anything is built, that every function's runtime is one Lambda has and
/// that its language can run here, so that a bad runtime fails in a second. HTTP-mode
/// functions start their own server, so only their runtime's name is checked. Warnings
/// come later, from [`crate::Runtime::new`].
pub fn check_runtimes(functions: &[FunctionConfig]) -> Result<(), RuntimeError> {
    let mut probes = InterpreterProbes::default();
    for function in functions {
        let http_mode = matches!(
            crate::http_mode::FunctionMode::from_environment(&function.environment),
            Ok(crate::http_mode::FunctionMode::Http(_))
        );
        if http_mode {
            serverful_catalog::parse(&function.runtime).map_err(|unknown| {
                RuntimeError::UnsupportedRuntime {
                    function: function.name.clone(),
                    runtime: function.runtime.clone(),
                    reason: unknown.to_string(),
                }
            })?;
        } else {
            resolve(&function.name, &function.runtime, &mut probes)?;
        }
    }
    Ok(())
}

/// Checks that `function` can start on this host and decides how to start it. Warnings
/// (an interpreter of another version, a deprecated runtime) are appended to `warnings`.
pub(crate) fn validate(
    function: &FunctionConfig,
    probes: &mut InterpreterProbes,
    warnings: &mut Vec<String>,
) -> Result<Launch, RuntimeError> {
    let name = &function.name;
    let runtime = &function.runtime;
    let resolved = resolve(name, runtime, probes)?;
    if !function.code_dir.is_dir() {
        return Err(RuntimeError::MissingCodeDir {
            function: name.clone(),
            path: function.code_dir.clone(),
        });
    }
    warnings.extend(resolved.warning.clone());
    match (resolved.language, resolved.interpreter) {
        (Language::NodeJs, Some(interpreter)) => {
            check_node_handler(function)?;
            Ok(Launch {
                program: interpreter,
                bootstrap: Some(NODE_BOOTSTRAP_PATH),
                interpreter_args: node_heap_args(function.memory_mb),
                execution_env: Some(format!("AWS_Lambda_{runtime}")),
            })
        }
        (Language::Ruby, Some(interpreter)) => {
            check_ruby_handler(function)?;
            Ok(Launch {
                program: interpreter,
                bootstrap: Some(RUBY_BOOTSTRAP_PATH),
                // Lambda's Ruby reads and writes UTF-8 by default; a host without the
                // `en_US.UTF-8` locale would otherwise make it US-ASCII.
                interpreter_args: vec!["-E".to_owned(), "UTF-8".to_owned()],
                execution_env: Some(format!("AWS_Lambda_{runtime}")),
            })
        }
        (Language::Python, Some(interpreter)) => {
            check_python_handler(function)?;
            Ok(Launch {
                program: interpreter,
                bootstrap: Some(PYTHON_BOOTSTRAP_PATH),
                // Unbuffered output, so that log lines appear as they are printed.
                interpreter_args: vec!["-u".to_owned()],
                execution_env: Some(format!("AWS_Lambda_{runtime}")),
            })
        }
        (Language::Java, Some(interpreter)) => java::launch(function, &interpreter, probes),
        (language, _) => {
            let go = language == Language::Go;
            let bootstrap = function.code_dir.join("bootstrap");
            let program = if go && !bootstrap.exists() {
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
                execution_env: go.then(|| "AWS_Lambda_go1.x".to_owned()),
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

/// Ruby handlers are `file.method` or `file.Module::Class.method`, split on dots as AWS's
/// Ruby runtime splits them; the file (`file.rb`, which may be in a subfolder: `lib/app`)
/// lies in the code folder.
fn check_ruby_handler(function: &FunctionConfig) -> Result<(), RuntimeError> {
    const FORMS: &str = "a Ruby handler looks like `file.method` or `file.Module::Class.method`, e.g. `app.lambda_handler`";
    let parts: Vec<&str> = function.handler.split('.').collect();
    if !matches!(parts.len(), 2 | 3) || parts.iter().any(|part| part.is_empty()) {
        return Err(bad_handler(function, FORMS.to_owned()));
    }
    if let [_, class, _] = parts[..] {
        let is_constant = |name: &str| name.chars().next().is_some_and(char::is_uppercase);
        if !class.split("::").all(is_constant) {
            return Err(bad_handler(
                function,
                format!("`{class}` is not a class or module name: each part of `Module::Class` starts with a capital letter"),
            ));
        }
    }
    let file = format!("{}.rb", parts[0]);
    if function.code_dir.join(&file).is_file() {
        Ok(())
    } else {
        Err(bad_handler(
            function,
            format!("no file {file} in {}", function.code_dir.display()),
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
        (RUBY_BOOTSTRAP_PATH, RUBY_BOOTSTRAP),
    ] {
        let path = runtime_dir.join(relative);
        write_if_changed(&runtime_dir, &path, content).map_err(|source| {
            RuntimeError::WriteBootstraps {
                path: path.clone(),
                source,
            }
        })?;
    }
    Ok(runtime_dir)
}

/// Folders functions read from: enterable and readable by every user.
const OPEN_DIR_MODE: u32 = 0o755;
/// Files functions read: readable by every user.
const OPEN_FILE_MODE: u32 = 0o644;

/// Writes `content` to `path` under `root` unless it is there already, with the file and
/// the folders from `root` down readable by every user whatever the umask: functions run
/// as a user of their own (inside the sandbox, a host uid that owns no file).
fn write_if_changed(root: &Path, path: &Path, content: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
        for folder in parent
            .ancestors()
            .take_while(|folder| folder.starts_with(root))
        {
            set_mode(folder, OPEN_DIR_MODE)?;
        }
    }
    if std::fs::read(path).is_ok_and(|existing| existing == content.as_bytes()) {
        return set_mode(path, OPEN_FILE_MODE);
    }
    // Write beside and rename, so that a process starting meanwhile never reads half a file.
    // Unique per call: several runtimes (threads or processes) may install at once.
    let temporary = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&temporary, content)?;
    set_mode(&temporary, OPEN_FILE_MODE)?;
    std::fs::rename(&temporary, path)
}

/// Sets `path`'s permission bits to `mode` unless they are that already.
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    let current = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    if current == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn function(runtime: &str, handler: &str, code_dir: &Path) -> FunctionConfig {
        FunctionConfig {
            name: "HelloFunction".to_owned(),
            function_name: "HelloFunction".to_owned(),
            runtime: runtime.to_owned(),
            handler: handler.to_owned(),
            code_dir: code_dir.to_owned(),
            timeout: Duration::from_secs(3),
            memory_mb: 128,
            environment: BTreeMap::new(),
            reserved_concurrency: None,
            tmp_size_mb: 512,
            network: None,
            layers_dir: None,
            logging: Default::default(),
        }
    }

    fn check(config: &FunctionConfig) -> Result<(Launch, Vec<String>), String> {
        let mut warnings = Vec::new();
        validate(config, &mut InterpreterProbes::default(), &mut warnings)
            .map(|launch| (launch, warnings))
            .map_err(|error| error.to_string())
    }

    #[test]
    fn unknown_runtime_suggests_the_nearest_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = check(&function("python3.15", "app.handler", dir.path()))
            .expect_err("validation must fail");
        assert_eq!(
            error,
            "HelloFunction: runtime python3.15 is not a Lambda runtime; did you mean python3.14?"
        );
    }

    #[test]
    fn dotnet_names_what_to_do_instead() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = check(&function(
            "dotnet8",
            "App::App.Function::Handler",
            dir.path(),
        ))
        .expect_err("validation must fail");
        assert!(
            error.starts_with(
                "HelloFunction: runtime dotnet8 needs .NET: Serverful does not run .NET functions;"
            ),
            "{error}"
        );
        assert!(error.contains("provided.al2023"), "{error}");
    }

    #[test]
    fn deprecated_os_only_runtimes_warn() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bootstrap = dir.path().join("bootstrap");
        std::fs::write(&bootstrap, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let (_, warnings) = check(&function("provided", "", dir.path())).expect("valid");
        assert_eq!(
            warnings,
            ["HelloFunction: runtime provided is deprecated: AWS Lambda no longer runs it; running the function's own executable"]
        );
    }

    /// A folder of fake interpreters: shell scripts that answer the probe with their own
    /// path and the given version.
    fn fake_interpreters(versions: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (command, version) in versions {
            let path = dir.path().join(command);
            std::fs::write(&path, format!("#!/bin/sh\necho \"$0\"\necho {version}\n"))
                .expect("write");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        dir
    }

    fn resolve_with(bin: &Path, runtime: &str) -> Result<(PathBuf, Option<String>), String> {
        let mut probes = InterpreterProbes {
            search_path: Some(bin.as_os_str().to_owned()),
            ..InterpreterProbes::default()
        };
        resolve("Fn", runtime, &mut probes)
            .map(|resolved| {
                (
                    resolved.interpreter.expect("an interpreter"),
                    resolved.warning,
                )
            })
            .map_err(|error| error.to_string())
    }

    #[test]
    fn the_exact_version_runs_without_a_warning() {
        let bin = fake_interpreters(&[("node", "20.20.2"), ("node24", "24.1.0")]);
        let (path, warning) = resolve_with(bin.path(), "nodejs24.x").expect("found");
        assert_eq!(path, bin.path().join("node24"));
        assert_eq!(warning, None);
        let (path, warning) = resolve_with(bin.path(), "nodejs20.x").expect("found");
        assert_eq!(path, bin.path().join("node"));
        assert_eq!(warning, None);
    }

    #[test]
    fn the_nearest_version_runs_with_a_warning_naming_both() {
        let bin = fake_interpreters(&[
            ("python3", "3.11.7"),
            ("python3.9", "3.9.18"),
            ("python3.13", "3.13.1"),
        ]);
        let (path, warning) = resolve_with(bin.path(), "python3.14").expect("found");
        assert_eq!(path, bin.path().join("python3.13"));
        assert_eq!(
            warning.as_deref(),
            Some("Fn: runtime python3.14 wants Python 3.14, running with Python 3.13.1")
        );
        let (path, warning) = resolve_with(bin.path(), "python3.12").expect("found");
        // 3.11 and 3.13 are as near; the newer wins.
        assert_eq!(path, bin.path().join("python3.13"));
        assert!(warning.is_some());
    }

    #[test]
    fn deprecated_runtimes_run_with_a_warning() {
        let bin = fake_interpreters(&[("node", "20.20.2"), ("python3", "3.11.7")]);
        let (_, warning) = resolve_with(bin.path(), "nodejs12.x").expect("found");
        assert_eq!(
            warning.as_deref(),
            Some("Fn: runtime nodejs12.x is deprecated: AWS Lambda no longer runs it; running with Node.js 20.20.2 instead of Node.js 12")
        );
        let (_, warning) = resolve_with(bin.path(), "python2.7").expect("found");
        assert_eq!(
            warning.as_deref(),
            Some("Fn: runtime python2.7 is deprecated: AWS Lambda no longer runs it; running with Python 3.11.7 instead of Python 2.7")
        );
    }

    #[test]
    fn python_2_never_runs_the_python_3_bootstrap() {
        let bin = fake_interpreters(&[("python2.7", "2.7.18"), ("python3", "3.8.10")]);
        let (path, _) = resolve_with(bin.path(), "python2.7").expect("found");
        assert_eq!(path, bin.path().join("python3"));
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
    fn ruby_runs_on_the_nearest_ruby_with_a_warning_naming_both() {
        // Debian's only Ruby is `ruby3.1`, with `ruby` a link to it.
        let bin = fake_interpreters(&[("ruby", "3.1.2"), ("ruby3.1", "3.1.2")]);
        let (_, warning) = resolve_with(bin.path(), "ruby3.3").expect("found");
        assert_eq!(
            warning.as_deref(),
            Some("Fn: runtime ruby3.3 wants Ruby 3.3, running with Ruby 3.1.2")
        );
        let (_, warning) = resolve_with(bin.path(), "ruby2.7").expect("found");
        assert_eq!(
            warning.as_deref(),
            Some("Fn: runtime ruby2.7 is deprecated: AWS Lambda no longer runs it; running with Ruby 3.1.2 instead of Ruby 2.7")
        );
    }

    #[test]
    fn ruby_of_the_runtimes_version_wins_without_a_warning() {
        let bin = fake_interpreters(&[
            ("ruby", "3.1.2"),
            ("ruby3.4", "3.4.1"),
            ("ruby2.7", "2.7.8"),
        ]);
        let (path, warning) = resolve_with(bin.path(), "ruby3.4").expect("found");
        assert_eq!(path, bin.path().join("ruby3.4"));
        assert_eq!(warning, None);
        // 3.2 is nearer to 3.1 than to 3.4.
        let (path, _) = resolve_with(bin.path(), "ruby3.2").expect("found");
        assert_eq!(path, bin.path().join("ruby"));
        let (path, _) = resolve_with(bin.path(), "ruby2.5").expect("found");
        assert_eq!(path, bin.path().join("ruby2.7"));
    }

    #[test]
    fn rubies_too_old_for_the_bootstrap_are_passed_over() {
        let bin = fake_interpreters(&[("ruby", "2.3.8")]);
        let error = resolve_with(bin.path(), "ruby3.3").expect_err("too old");
        assert_eq!(
            error,
            "Fn: runtime ruby3.3 needs Ruby: neither `ruby3.3` nor `ruby` (2.5 or later) was found on PATH, under rbenv or under rvm; install Ruby (Debian: `apt-get install ruby`)"
        );
    }

    #[test]
    fn rubies_of_version_managers_are_listed_newest_first() {
        let rbenv = tempfile::tempdir().expect("tempdir");
        let rvm = tempfile::tempdir().expect("tempdir");
        for folder in [
            rbenv.path().join("3.2.2"),
            rbenv.path().join("3.4.1"),
            rvm.path().join("ruby-3.3.6"),
        ] {
            std::fs::create_dir_all(folder.join("bin")).expect("mkdir");
        }
        std::fs::create_dir_all(rvm.path().join("default")).expect("mkdir");
        let listed = rubies_under(&[rbenv.path().to_owned(), rvm.path().to_owned()]);
        let expected: Vec<String> = [
            rbenv.path().join("3.4.1/bin/ruby"),
            rvm.path().join("ruby-3.3.6/bin/ruby"),
            rbenv.path().join("3.2.2/bin/ruby"),
        ]
        .iter()
        .map(|path| path.display().to_string())
        .collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn ruby_handlers_name_a_file_and_a_method_or_a_class_method() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("lib")).expect("mkdir");
        std::fs::write(dir.path().join("app.rb"), "").expect("write");
        std::fs::write(dir.path().join("lib/app.rb"), "").expect("write");
        for handler in [
            "app.lambda_handler",
            "lib/app.handler",
            "app.Handler.process",
            "app.Billing::Handler.process",
        ] {
            let config = function("ruby3.3", handler, dir.path());
            assert!(check_ruby_handler(&config).is_ok(), "{handler}");
        }
        let check_error = |handler: &str| {
            check_ruby_handler(&function("ruby3.3", handler, dir.path()))
                .expect_err("validation must fail")
                .to_string()
        };
        for malformed in ["handler", "app.", ".handler", "app.A.b.c", "app..handler"] {
            assert_eq!(
                check_error(malformed),
                format!("HelloFunction: handler {malformed}: a Ruby handler looks like `file.method` or `file.Module::Class.method`, e.g. `app.lambda_handler`")
            );
        }
        assert_eq!(
            check_error("app.billing::Handler.process"),
            "HelloFunction: handler app.billing::Handler.process: `billing::Handler` is not a class or module name: each part of `Module::Class` starts with a capital letter"
        );
        assert_eq!(
            check_error("function.handler"),
            format!(
                "HelloFunction: handler function.handler: no file function.rb in {}",
                dir.path().display()
            )
        );
    }

    #[test]
    fn ruby_launches_the_bootstrap_with_utf_8_and_its_execution_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("app.rb"), "").expect("write");
        let bin = fake_interpreters(&[("ruby3.3", "3.3.6")]);
        let mut probes = InterpreterProbes {
            search_path: Some(bin.path().as_os_str().to_owned()),
            ..InterpreterProbes::default()
        };
        let mut warnings = Vec::new();
        let launch = validate(
            &function("ruby3.3", "app.handler", dir.path()),
            &mut probes,
            &mut warnings,
        )
        .expect("valid");
        assert_eq!(launch.program, bin.path().join("ruby3.3"));
        assert_eq!(launch.bootstrap, Some(RUBY_BOOTSTRAP_PATH));
        assert_eq!(launch.interpreter_args, ["-E", "UTF-8"]);
        assert_eq!(launch.execution_env.as_deref(), Some("AWS_Lambda_ruby3.3"));
        assert!(warnings.is_empty(), "{warnings:?}");
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
            "HelloFunction: runtime nodejs20.x needs Node.js: `node` was not found on PATH; install Node.js (https://nodejs.org)"
        );
        let python = validate(
            &function("python3.12", "app.handler", dir.path()),
            &mut probes,
            &mut warnings,
        )
        .expect_err("no python");
        assert_eq!(
            python.to_string(),
            "HelloFunction: runtime python3.12 needs Python: neither `python3.12` nor `python3` was found on PATH; install Python 3"
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
        assert_eq!(
            std::fs::read_to_string(runtime_dir.join(RUBY_BOOTSTRAP_PATH)).expect("read"),
            RUBY_BOOTSTRAP
        );
        let modified = node.metadata().and_then(|m| m.modified()).expect("mtime");
        install(dir.path()).expect("install again");
        let again = node.metadata().and_then(|m| m.modified()).expect("mtime");
        assert_eq!(modified, again);
    }
}
