//! Function builds, like `sam build`: installs a function's dependencies (pip, npm) or runs
//! its Makefile into a per-function build folder cached by content hash, and provides the
//! AWS SDK that AWS's managed runtimes ship to functions that do not bundle it.
//!
//! The binary calls [`build_all`] before starting functions and runs each function from
//! [`BuildOutput::code_dir`]. This crate does no terminal output: progress and warnings
//! go through [`BuildEvent`]s and [`BuildOutput::warnings`].
//!
//! Codemap:
//! - `files`: walking sources with the skip rules, copying, atomic publishing, pruning.
//! - `hash`: the cache key.
//! - `tool`: running pip, npm and make with their output captured.
//! - `sdk`: the shared boto3 / AWS SDK v3 cache.
//! - `archive`: a `CodeUri` that is a `.zip` or `.jar` package, unpacked.
//! - `java`: Maven and Gradle builds.
//!
//! Layout of [`BuildOptions::build_root`]: `<LogicalId>/<hash prefix>/` per build, the two
//! most recently used kept; dot-named entries are temporary. A build folder exists only
//! once complete, because it is built under a temporary name and renamed into place.

mod archive;
mod error;
mod files;
mod hash;
mod java;
mod sdk;
mod tool;

use std::fs;
use std::path::{Path, PathBuf};

pub use error::BuildError;

use files::TempGuard;
use tool::{PythonChoice, PythonFinder, RunError, ToolCommand};

/// How many builds of one function are kept: the current one and the previous one, so a
/// server still running the previous version (during a deploy, or a second `up`) keeps
/// its files.
const BUILDS_KEPT: usize = 2;

/// One function to build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The function's logical id; names its build folder and the `build-<LogicalId>` target.
    pub logical_id: String,
    /// Lambda runtime identifier: `python3.12`, `nodejs20.x`, `provided.al2023`, `go1.x`, ...
    pub runtime: String,
    /// The function's `CodeUri` folder, absolute.
    pub code_dir: PathBuf,
    /// The resource's `Metadata.BuildMethod`, e.g. `makefile`.
    pub build_method: Option<String>,
}

/// Where builds and the SDK cache live.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Per-function build folders go under here (the binary passes `DATA_DIR/build`).
    pub build_root: PathBuf,
    /// The shared boto3 / AWS SDK v3 cache (`~/.cache/serverful/sdk` or `DATA_DIR/sdk`).
    pub sdk_cache: PathBuf,
    /// Copy functions that need no build into a content-addressed folder too, so each
    /// version of a function runs from files that never change under it (`up --watch`:
    /// an instance started late must not see a newer edit than its version).
    pub snapshot_unbuilt: bool,
}

/// What built a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildKind {
    /// Nothing to build: the function runs from its source folder.
    None,
    /// Nothing to build, but the sources are copied into a content-addressed folder
    /// ([`BuildOptions::snapshot_unbuilt`]).
    Snapshot,
    /// `requirements.txt` installed with pip.
    Pip,
    /// `package.json` installed with npm.
    Npm,
    /// `make build-<LogicalId>` with `ARTIFACTS_DIR`.
    Makefile,
    /// `CodeUri` is a `.zip` or `.jar` package: unpacked, not built.
    Package,
    /// `mvn clean install` and the dependencies copied into `lib/`.
    Maven,
    /// `gradle build`, laid out with the dependencies in `lib/`.
    Gradle,
}

/// A function ready to run.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    pub logical_id: String,
    /// The folder to run the function from: its build folder, or its source folder when
    /// nothing needed building.
    pub code_dir: PathBuf,
    /// What built it.
    pub kind: BuildKind,
    /// True when a previous build with the same content hash was reused and nothing ran.
    pub cached: bool,
    /// A folder to append to `PYTHONPATH` providing boto3, when the function does not
    /// bundle it.
    pub python_sdk_path: Option<PathBuf>,
    /// A `node_modules` folder providing the `@aws-sdk/*` v3 clients, for `NODE_PATH`,
    /// when the function does not bundle them.
    pub node_sdk_path: Option<PathBuf>,
    /// Things the user should know that did not stop the build (an SDK that could not be
    /// installed, an unsupported `BuildMethod`), one sentence each, without the function
    /// name prefix.
    pub warnings: Vec<String>,
}

/// Progress of [`build_all`], for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum BuildEvent<'a> {
    /// A tool starts running for a function: `what` is `pip install`, `npm ci`,
    /// `npm install`, `make build-X`, `installing boto3 into the shared cache`, ...
    /// Never sent for a cached build.
    Started { logical_id: &'a str, what: &'a str },
    /// Something the user should know; also in [`BuildOutput::warnings`].
    Warning {
        logical_id: &'a str,
        message: &'a str,
    },
    /// Sent once per function when it is ready; `cached` as in [`BuildOutput::cached`].
    Finished { logical_id: &'a str, cached: bool },
}

/// Builds every function in order and reports progress through `on_event`. Stops at the
/// first function that fails to build.
pub fn build_all(
    requests: &[BuildRequest],
    options: &BuildOptions,
    on_event: &mut dyn FnMut(BuildEvent<'_>),
) -> Result<Vec<BuildOutput>, BuildError> {
    // Absolute paths, because ARTIFACTS_DIR and pip's target are used from other
    // working directories.
    let options = BuildOptions {
        build_root: absolute(&options.build_root),
        sdk_cache: absolute(&options.sdk_cache),
        snapshot_unbuilt: options.snapshot_unbuilt,
    };
    let mut session = Session {
        options: &options,
        pythons: PythonFinder::default(),
        python_sdk: None,
        node_sdk: None,
    };
    requests
        .iter()
        .map(|request| session.build(request, on_event))
        .collect()
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// State shared by the builds of one [`build_all`] call: interpreter probes and SDK
/// install results, so a failing SDK install is tried (and warned about) once, not once
/// per function.
struct Session<'a> {
    options: &'a BuildOptions,
    pythons: PythonFinder,
    python_sdk: Option<Result<PathBuf, String>>,
    node_sdk: Option<Result<PathBuf, String>>,
}

/// The family a runtime belongs to, for the build and SDK rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Python,
    Node,
    Other,
}

fn family(runtime: &str) -> Family {
    if runtime.starts_with("python") {
        Family::Python
    } else if runtime.starts_with("nodejs") {
        Family::Node
    } else {
        Family::Other
    }
}

impl Session<'_> {
    fn build(
        &mut self,
        request: &BuildRequest,
        on_event: &mut dyn FnMut(BuildEvent<'_>),
    ) -> Result<BuildOutput, BuildError> {
        let logical_id = request.logical_id.as_str();
        if logical_id.is_empty() || !logical_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(BuildError::InvalidLogicalId {
                logical_id: logical_id.to_owned(),
            });
        }
        if !request.code_dir.exists() {
            return Err(BuildError::CodeDirMissing {
                logical_id: logical_id.to_owned(),
                code_dir: request.code_dir.clone(),
            });
        }
        let mut warnings = Vec::new();
        let kind = match choose_kind(request, &mut warnings) {
            BuildKind::None if self.options.snapshot_unbuilt => BuildKind::Snapshot,
            kind => kind,
        };
        for message in &warnings {
            on_event(BuildEvent::Warning {
                logical_id,
                message,
            });
        }
        let (code_dir, cached) = match kind {
            BuildKind::None => (request.code_dir.clone(), false),
            BuildKind::Package => archive::unpack(request, &self.options.build_root, on_event)?,
            _ => self.build_cached(request, kind, on_event)?,
        };

        let mut output = BuildOutput {
            logical_id: logical_id.to_owned(),
            code_dir,
            kind,
            cached,
            python_sdk_path: None,
            node_sdk_path: None,
            warnings,
        };
        self.provide_sdk(request, &mut output, on_event);
        on_event(BuildEvent::Finished {
            logical_id,
            cached: output.cached,
        });
        Ok(output)
    }

    /// Reuses the build for the sources' content hash, or builds it.
    fn build_cached(
        &mut self,
        request: &BuildRequest,
        kind: BuildKind,
        on_event: &mut dyn FnMut(BuildEvent<'_>),
    ) -> Result<(PathBuf, bool), BuildError> {
        let logical_id = request.logical_id.as_str();
        let io_error = |action: String| {
            move |source| BuildError::Io {
                logical_id: logical_id.to_owned(),
                action,
                source,
            }
        };
        let excluded = [
            self.options.build_root.clone(),
            self.options.sdk_cache.clone(),
        ];
        let entries = files::list_sources(&request.code_dir, &excluded).map_err(io_error(
            format!("read the sources in {}", request.code_dir.display()),
        ))?;
        let method = format!("{kind:?} {}", request.build_method.as_deref().unwrap_or(""));
        let hash = hash::content_hash(&request.code_dir, &entries, &request.runtime, &method)
            .map_err(io_error(format!(
                "hash the sources in {}",
                request.code_dir.display()
            )))?;
        let function_dir = self.options.build_root.join(logical_id);
        let target = function_dir.join(&hash[..hash::PREFIX_LEN]);
        if target.is_dir() {
            files::touch(&target);
            return Ok((target, true));
        }

        fs::create_dir_all(&function_dir)
            .map_err(io_error(format!("create {}", function_dir.display())))?;
        let temp = TempGuard::new(files::temp_path(&function_dir, "build"));
        fs::create_dir(temp.path())
            .map_err(io_error(format!("create {}", temp.path().display())))?;
        match kind {
            BuildKind::Pip => {
                copy_sources(request, &entries, temp.path())?;
                self.pip_install(request, temp.path(), &function_dir, on_event)?;
            }
            BuildKind::Npm => {
                copy_sources(request, &entries, temp.path())?;
                npm_install(request, temp.path(), &function_dir, on_event)?;
            }
            BuildKind::Makefile => {
                make_build(request, &entries, temp.path(), &function_dir, on_event)?
            }
            BuildKind::Maven | BuildKind::Gradle => java::build(
                request,
                kind,
                &entries,
                temp.path(),
                &function_dir,
                on_event,
            )?,
            BuildKind::Snapshot => {
                copy_sources(request, &entries, temp.path())?;
                link_skipped_dependencies(request, temp.path())?;
            }
            BuildKind::None | BuildKind::Package => {}
        }
        // Losing the race to a concurrent build of the same sources is fine: its folder
        // holds the same build.
        files::publish(temp, &target).map_err(io_error(format!(
            "move the build into {}",
            target.display()
        )))?;
        files::touch(&target);
        files::prune(&function_dir, &target, BUILDS_KEPT);
        Ok((target, false))
    }

    fn pip_install(
        &mut self,
        request: &BuildRequest,
        build_dir: &Path,
        function_dir: &Path,
        on_event: &mut dyn FnMut(BuildEvent<'_>),
    ) -> Result<(), BuildError> {
        let python = match self.pythons.find(&request.runtime) {
            PythonChoice::Found(python) => python,
            PythonChoice::NoPip(python) => {
                return Err(BuildError::ToolMissing {
                    logical_id: request.logical_id.clone(),
                    tool: "pip".to_owned(),
                    hint: format!("install pip for `{python}` (e.g. `apt install python3-pip`)"),
                })
            }
            PythonChoice::NoPython => {
                return Err(BuildError::ToolMissing {
                    logical_id: request.logical_id.clone(),
                    tool: "python3".to_owned(),
                    hint: format!("install Python 3 with pip (ideally {})", request.runtime),
                })
            }
        };
        let command = ToolCommand::new(&python, build_dir)
            .arg("-m")
            .arg("pip")
            .arg("install")
            .arg("--quiet")
            .arg("--no-input")
            .arg("-r")
            .arg(build_dir.join("requirements.txt"))
            .arg("-t")
            .arg(build_dir)
            // Environment variables rather than flags: an older pip ignores unknown ones
            // but rejects unknown flags.
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_ROOT_USER_ACTION", "ignore");
        run_tool(
            request,
            &command,
            "pip install",
            "pip",
            "install pip for python3",
            function_dir,
            on_event,
        )
    }

    /// Fills in the SDK paths for functions that do not bundle the SDK themselves.
    fn provide_sdk(
        &mut self,
        request: &BuildRequest,
        output: &mut BuildOutput,
        on_event: &mut dyn FnMut(BuildEvent<'_>),
    ) {
        let logical_id = request.logical_id.as_str();
        let sdk_cache = self.options.sdk_cache.clone();
        let result = match family(&request.runtime) {
            Family::Python if !output.code_dir.join("boto3").is_dir() => {
                let pythons = &mut self.pythons;
                let result = self.python_sdk.get_or_insert_with(|| {
                    if let Some(path) = sdk::installed_python(&sdk_cache) {
                        return Ok(path);
                    }
                    let python = sdk::python_for_sdk(pythons.find(&request.runtime))?;
                    sdk::ensure(
                        &sdk_cache,
                        sdk::Sdk::Python { python: &python },
                        &mut |what| on_event(BuildEvent::Started { logical_id, what }),
                    )
                });
                if let Ok(path) = result {
                    output.python_sdk_path = Some(path.clone());
                }
                result.clone()
            }
            Family::Node
                if !output
                    .code_dir
                    .join("node_modules/@aws-sdk/client-dynamodb")
                    .is_dir() =>
            {
                let result = self.node_sdk.get_or_insert_with(|| {
                    let sdk = sdk::Sdk::Node {
                        packages: sdk::NODE_SDK_PACKAGES,
                    };
                    sdk::ensure(&sdk_cache, sdk, &mut |what| {
                        on_event(BuildEvent::Started { logical_id, what })
                    })
                });
                if let Ok(path) = result {
                    output.node_sdk_path = Some(path.clone());
                }
                result.clone()
            }
            _ => return,
        };
        if let Err(warning) = result {
            on_event(BuildEvent::Warning {
                logical_id,
                message: &warning,
            });
            output.warnings.push(warning);
        }
    }
}

/// Picks the build for a request, adding a warning for a `BuildMethod` this crate does
/// not know (the runtime's default rules apply then, which is what most such functions
/// need locally).
fn choose_kind(request: &BuildRequest, warnings: &mut Vec<String>) -> BuildKind {
    if request.code_dir.is_file() {
        if let Some(method) = &request.build_method {
            warnings.push(format!(
                "BuildMethod {method} is not used: CodeUri is a package, which runs as it is"
            ));
        }
        return BuildKind::Package;
    }
    if let Some(method) = &request.build_method {
        if method.eq_ignore_ascii_case("makefile") {
            return BuildKind::Makefile;
        }
        if let Some(kind) = java::build_kind(method) {
            return kind;
        }
        if !method.eq_ignore_ascii_case(&request.runtime) {
            warnings.push(format!(
                "BuildMethod {method} is not supported; building with the {} defaults",
                request.runtime
            ));
        }
    }
    match family(&request.runtime) {
        Family::Python if request.code_dir.join("requirements.txt").is_file() => BuildKind::Pip,
        Family::Node if request.code_dir.join("package.json").is_file() => BuildKind::Npm,
        _ => java::default_kind(request).unwrap_or(BuildKind::None),
    }
}

fn copy_sources(
    request: &BuildRequest,
    entries: &[files::Entry],
    dest: &Path,
) -> Result<(), BuildError> {
    files::copy_entries(&request.code_dir, entries, dest).map_err(|source| BuildError::Io {
        logical_id: request.logical_id.clone(),
        action: format!(
            "copy {} into {}",
            request.code_dir.display(),
            dest.display()
        ),
        source,
    })
}

/// A snapshot keeps using the dependencies the user installed next to the code: the
/// copy skips `node_modules` (it can be huge), so the snapshot links to the source's.
fn link_skipped_dependencies(request: &BuildRequest, dest: &Path) -> Result<(), BuildError> {
    let node_modules = request.code_dir.join("node_modules");
    if !node_modules.is_dir() {
        return Ok(());
    }
    // The real folder, not a link to a link: the sandbox makes the link's target visible
    // at its own path, which must not pass through the app folder's links.
    let target = fs::canonicalize(&node_modules).unwrap_or_else(|_| absolute(&node_modules));
    std::os::unix::fs::symlink(&target, dest.join("node_modules")).map_err(|source| {
        BuildError::Io {
            logical_id: request.logical_id.clone(),
            action: format!("link {} into the snapshot", target.display()),
            source,
        }
    })
}

fn npm_install(
    request: &BuildRequest,
    build_dir: &Path,
    function_dir: &Path,
    on_event: &mut dyn FnMut(BuildEvent<'_>),
) -> Result<(), BuildError> {
    // `npm ci` installs exactly the lock file, as a reproducible build should; without a
    // lock file there is nothing to be exact about.
    let subcommand = if build_dir.join("package-lock.json").is_file() {
        "ci"
    } else {
        "install"
    };
    let command = ToolCommand::new("npm", build_dir)
        .arg(subcommand)
        .arg("--omit=dev")
        .arg("--no-audit")
        .arg("--no-fund")
        .env("NPM_CONFIG_UPDATE_NOTIFIER", "false");
    let what = format!("npm {subcommand}");
    run_tool(
        request,
        &command,
        &what,
        "npm",
        "install Node.js with npm (https://nodejs.org)",
        function_dir,
        on_event,
    )
}

/// Runs `make build-<LogicalId>` in a scratch copy of the sources with `ARTIFACTS_DIR`
/// pointing at the build folder, as `sam build` does; the scratch copy keeps the
/// Makefile's intermediate files out of both the source and the output.
fn make_build(
    request: &BuildRequest,
    entries: &[files::Entry],
    build_dir: &Path,
    function_dir: &Path,
    on_event: &mut dyn FnMut(BuildEvent<'_>),
) -> Result<(), BuildError> {
    let makefile = ["GNUmakefile", "makefile", "Makefile"]
        .iter()
        .map(|name| request.code_dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| BuildError::MakefileMissing {
            logical_id: request.logical_id.clone(),
            code_dir: request.code_dir.clone(),
        })?;
    let scratch = TempGuard::new(files::temp_path(function_dir, "scratch"));
    fs::create_dir(scratch.path()).map_err(|source| BuildError::Io {
        logical_id: request.logical_id.clone(),
        action: format!("create {}", scratch.path().display()),
        source,
    })?;
    copy_sources(request, entries, scratch.path())?;
    let target = format!("build-{}", request.logical_id);
    let command = ToolCommand::new("make", scratch.path())
        .arg(&target)
        .env("ARTIFACTS_DIR", build_dir);
    let result = run_tool(
        request,
        &command,
        &format!("make {target}"),
        "make",
        "install make (e.g. `apt install make`)",
        function_dir,
        on_event,
    );
    match result {
        Err(BuildError::ToolFailed { output, .. })
            if output.contains("No rule to make target") && output.contains(&target) =>
        {
            Err(BuildError::MakeTargetMissing {
                logical_id: request.logical_id.clone(),
                target,
                makefile,
            })
        }
        other => other,
    }
}

/// Runs one build tool, announcing it, and turns its failure into the matching error.
fn run_tool(
    request: &BuildRequest,
    command: &ToolCommand,
    what: &str,
    tool_name: &str,
    hint: &str,
    function_dir: &Path,
    on_event: &mut dyn FnMut(BuildEvent<'_>),
) -> Result<(), BuildError> {
    on_event(BuildEvent::Started {
        logical_id: &request.logical_id,
        what,
    });
    let log = files::temp_path(function_dir, "log");
    match tool::run(command, &log) {
        Ok(_) => Ok(()),
        Err(RunError::NotFound) => Err(BuildError::ToolMissing {
            logical_id: request.logical_id.clone(),
            tool: tool_name.to_owned(),
            hint: hint.to_owned(),
        }),
        Err(RunError::Io(source)) => Err(BuildError::Io {
            logical_id: request.logical_id.clone(),
            action: format!("run `{}`", command.display()),
            source,
        }),
        Err(RunError::Failed { status, output }) => Err(BuildError::ToolFailed {
            logical_id: request.logical_id.clone(),
            command: command.display(),
            status,
            output,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(runtime: &str, code_dir: &Path, build_method: Option<&str>) -> BuildRequest {
        BuildRequest {
            logical_id: "Function".to_owned(),
            runtime: runtime.to_owned(),
            code_dir: code_dir.to_path_buf(),
            build_method: build_method.map(str::to_owned),
        }
    }

    #[test]
    fn kind_follows_build_method_then_manifests() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("requirements.txt"), "").expect("write");
        let mut warnings = Vec::new();
        let kind = |runtime, method, warnings: &mut Vec<String>| {
            choose_kind(&request(runtime, dir.path(), method), warnings)
        };
        assert_eq!(kind("python3.12", None, &mut warnings), BuildKind::Pip);
        assert_eq!(
            kind("python3.12", Some("python3.12"), &mut warnings),
            BuildKind::Pip
        );
        assert_eq!(
            kind("python3.12", Some("Makefile"), &mut warnings),
            BuildKind::Makefile
        );
        // A requirements.txt means nothing to a Node.js function.
        assert_eq!(kind("nodejs20.x", None, &mut warnings), BuildKind::None);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(kind("go1.x", Some("go1.x"), &mut warnings), BuildKind::None);
        assert_eq!(
            kind("provided.al2", Some("rust-cargolambda"), &mut warnings),
            BuildKind::None
        );
        assert_eq!(
            warnings,
            ["BuildMethod rust-cargolambda is not supported; building with the provided.al2 defaults"]
        );
    }

    #[test]
    fn a_missing_tool_names_what_to_install() {
        let dir = tempfile::tempdir().expect("tempdir");
        let command = ToolCommand::new("serverful-no-such-npm", dir.path()).arg("install");
        let mut events = Vec::new();
        let error = run_tool(
            &request("nodejs20.x", dir.path(), None),
            &command,
            "npm install",
            "npm",
            "install Node.js with npm (https://nodejs.org)",
            dir.path(),
            &mut |event| events.push(format!("{event:?}")),
        )
        .expect_err("the tool does not exist");
        assert_eq!(
            error.to_string(),
            "cannot build Function: `npm` was not found; install Node.js with npm (https://nodejs.org)"
        );
        assert_eq!(events.len(), 1, "the start is still announced: {events:?}");
    }
}
