//! The build methods and the one place that picks and runs them.
//!
//! Each method is a module with a `build(step)` function that fills [`Step::build_dir`].
//! Adding one is a local edit: a [`BuildKind`] variant, its `BuildMethod` name in
//! [`NAMED`] (or a rule in [`default_for`]), the module, and its line in [`run`].

mod bundler;
mod cargo;
mod esbuild;
mod go;
mod java;
mod makefile;
mod npm;
mod pip;

use std::fs;
use std::io;
use std::path::Path;

use serverful_catalog::Language;

use crate::files::{self, Entry, TempGuard};
use crate::tool::{self, PythonFinder, RunError, ToolCommand};
use crate::{BuildError, BuildEvent, BuildKind, BuildRequest};

/// The methods a template can name in `Metadata: BuildMethod` (matched without regard to
/// case). A runtime's own name (`python3.12`, `nodejs20.x`) asks for its default build.
pub(crate) const NAMED: &[(&str, BuildKind)] = &[
    ("makefile", BuildKind::Makefile),
    ("esbuild", BuildKind::Esbuild),
    ("go1.x", BuildKind::GoBuild),
    ("rust-cargolambda", BuildKind::CargoLambda),
    ("bundler", BuildKind::Bundler),
    ("maven", BuildKind::Maven),
    ("gradle", BuildKind::Gradle),
];

/// Picks the build for a request as `sam build` does: the named `BuildMethod`, else the
/// default for the runtime's language and the manifests in the code folder.
pub(crate) fn choose(request: &BuildRequest) -> Result<BuildKind, BuildError> {
    // A `.zip` or `.jar` package runs as it is, unpacked: there is nothing to build.
    if request.code_dir.is_file() {
        return Ok(BuildKind::Package);
    }
    let Some(method) = &request.build_method else {
        let language = serverful_catalog::lookup(&request.runtime).map(|runtime| runtime.language);
        return Ok(language.map_or(BuildKind::None, |language| {
            default_for(language, &request.code_dir)
        }));
    };
    if let Some((_, kind)) = NAMED
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(method))
    {
        return Ok(*kind);
    }
    match serverful_catalog::lookup(method) {
        // .NET has a build in SAM, but not here (nothing runs .NET here either).
        Some(runtime) if runtime.language != Language::DotNet => {
            Ok(default_for(runtime.language, &request.code_dir))
        }
        _ => Err(BuildError::UnknownBuildMethod {
            logical_id: request.logical_id.clone(),
            method: method.clone(),
            runtime: request.runtime.clone(),
            known: NAMED
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// `sam build`'s default for a language: the dependency manager whose manifest is there.
/// Go and OS-only runtimes build nothing unless a method is named.
fn default_for(language: Language, code_dir: &Path) -> BuildKind {
    match language {
        Language::Python if code_dir.join("requirements.txt").is_file() => BuildKind::Pip,
        Language::NodeJs if code_dir.join("package.json").is_file() => BuildKind::Npm,
        Language::Ruby if code_dir.join("Gemfile").is_file() => BuildKind::Bundler,
        Language::Java => java::default_kind(code_dir).unwrap_or(BuildKind::None),
        _ => BuildKind::None,
    }
}

/// Runs the build of `kind` into `step.build_dir`.
pub(crate) fn run(kind: BuildKind, step: &mut Step<'_>) -> Result<(), BuildError> {
    match kind {
        BuildKind::None => Ok(()),
        BuildKind::Snapshot => snapshot(step),
        BuildKind::Pip => pip::build(step),
        BuildKind::Npm => npm::build(step),
        BuildKind::Esbuild => esbuild::build(step),
        BuildKind::Makefile => makefile::build(step),
        BuildKind::GoBuild => go::build(step),
        BuildKind::CargoLambda => cargo::build(step),
        BuildKind::Bundler => bundler::build(step),
        BuildKind::Maven | BuildKind::Gradle => java::build(step, kind),
        // Unpacked before any build runs (`crate::archive`).
        BuildKind::Package => Ok(()),
    }
}

/// What a build of `kind` depends on besides the sources, for the cache key: the method
/// and its settings, so that changing any of them builds again.
pub(crate) fn cache_inputs(kind: BuildKind, request: &BuildRequest) -> String {
    let mut inputs = format!(
        "{kind:?} method={} architecture={} properties={:?}",
        request.build_method.as_deref().unwrap_or(""),
        request.architecture.name(),
        request.properties,
    );
    // The handler names the Go binary and the default esbuild entry point.
    if matches!(kind, BuildKind::GoBuild | BuildKind::Esbuild) {
        inputs.push_str(" handler=");
        inputs.push_str(&request.handler);
    }
    inputs
}

/// Whether a method builds from the source folder itself rather than from a copy, and so
/// must not list cargo's `target` folder among its inputs.
pub(crate) fn skips_cargo_output(kind: BuildKind) -> bool {
    kind == BuildKind::CargoLambda
}

/// One build in progress: the request, its listed sources, the empty folder to fill, and
/// the channel for progress and warnings.
pub(crate) struct Step<'a> {
    pub(crate) request: &'a BuildRequest,
    /// The sources as listed for the hash (skip rules applied).
    pub(crate) entries: &'a [Entry],
    /// The folder the function will run from (`ARTIFACTS_DIR`): empty, to fill.
    pub(crate) build_dir: &'a Path,
    /// `BUILD_ROOT/<LogicalId>`: where scratch folders, logs and kept caches go.
    pub(crate) function_dir: &'a Path,
    /// `BUILD_ROOT`, for caches shared by every function of the app.
    pub(crate) build_root: &'a Path,
    pub(crate) pythons: &'a mut PythonFinder,
    pub(crate) on_event: &'a mut dyn FnMut(BuildEvent<'_>),
    pub(crate) warnings: &'a mut Vec<String>,
}

impl Step<'_> {
    pub(crate) fn logical_id(&self) -> &str {
        &self.request.logical_id
    }

    /// Tells the user something that does not stop the build.
    pub(crate) fn warn(&mut self, message: String) {
        (self.on_event)(BuildEvent::Warning {
            logical_id: &self.request.logical_id,
            message: &message,
        });
        self.warnings.push(message);
    }

    fn announce(&mut self, what: &str) {
        (self.on_event)(BuildEvent::Started {
            logical_id: &self.request.logical_id,
            what,
        });
    }

    /// Turns an IO error into a build error naming the action.
    pub(crate) fn io_error(&self, action: String) -> impl FnOnce(io::Error) -> BuildError {
        let logical_id = self.request.logical_id.clone();
        move |source| BuildError::Io {
            logical_id,
            action,
            source,
        }
    }

    /// Copies the sources into `dest`, an existing folder.
    pub(crate) fn copy_sources(&self, dest: &Path) -> Result<(), BuildError> {
        files::copy_entries(&self.request.code_dir, self.entries, dest).map_err(self.io_error(
            format!(
                "copy {} into {}",
                self.request.code_dir.display(),
                dest.display()
            ),
        ))
    }

    /// A scratch copy of the sources beside the build, removed when dropped: where tools
    /// that leave intermediate files behind (make, npm before bundling) run.
    pub(crate) fn scratch_copy(&self) -> Result<TempGuard, BuildError> {
        let scratch = TempGuard::new(files::temp_path(self.function_dir, "scratch"));
        fs::create_dir(scratch.path())
            .map_err(self.io_error(format!("create {}", scratch.path().display())))?;
        self.copy_sources(scratch.path())?;
        Ok(scratch)
    }

    /// Runs one build tool, announcing it as `what`, and turns its failure into the
    /// matching error: `tool` and `hint` say what to install when it is missing.
    pub(crate) fn run(
        &mut self,
        command: &ToolCommand,
        what: &str,
        tool: &str,
        hint: &str,
    ) -> Result<(), BuildError> {
        self.announce(what);
        self.run_quietly(command, tool, hint)
    }

    /// [`Step::run`] without the announcement, for the later commands of one step.
    pub(crate) fn run_quietly(
        &mut self,
        command: &ToolCommand,
        tool: &str,
        hint: &str,
    ) -> Result<(), BuildError> {
        let log = files::temp_path(self.function_dir, "log");
        tool::run(command, &log)
            .map(drop)
            .map_err(|error| self.tool_error(command, error, tool, hint))
    }

    /// Runs a tool for its standard output (a machine-readable answer).
    pub(crate) fn stdout_of(
        &self,
        command: &ToolCommand,
        tool: &str,
        hint: &str,
    ) -> Result<String, BuildError> {
        tool::stdout_of(command).map_err(|error| self.tool_error(command, error, tool, hint))
    }

    fn tool_error(
        &self,
        command: &ToolCommand,
        error: RunError,
        tool: &str,
        hint: &str,
    ) -> BuildError {
        let logical_id = self.request.logical_id.clone();
        match error {
            RunError::NotFound => BuildError::ToolMissing {
                logical_id,
                tool: tool.to_owned(),
                hint: hint.to_owned(),
            },
            RunError::Io(source) => BuildError::Io {
                logical_id,
                action: format!("run `{}`", command.display()),
                source,
            },
            RunError::Failed { status, output } => BuildError::ToolFailed {
                logical_id,
                command: command.display(),
                status,
                output,
            },
        }
    }

    /// The architecture to compile native code for: the function's, when this host can
    /// run it (natively or through an emulator registered with the kernel); otherwise
    /// the host's, with a warning, because a binary this host cannot execute would fail
    /// every request.
    pub(crate) fn native_architecture(&mut self) -> crate::Architecture {
        let wanted = self.request.architecture;
        if wanted.runs_here() {
            return wanted;
        }
        let Some(host) = crate::Architecture::host() else {
            return wanted;
        };
        self.warn(format!(
            "the function is for {} but this host is {} and cannot run {} binaries; built for {} so that it runs here (set Metadata.BuildArchitecture: {} to say so)",
            wanted.name(),
            host.name(),
            wanted.name(),
            host.name(),
            host.name(),
        ));
        host
    }
}

/// A copy of the sources (functions that need no build, under `up --watch`), keeping the
/// dependencies the user installed next to the code: the copy skips `node_modules` (it can
/// be huge), so the snapshot links to the source's.
fn snapshot(step: &mut Step<'_>) -> Result<(), BuildError> {
    step.copy_sources(step.build_dir)?;
    let node_modules = step.request.code_dir.join("node_modules");
    if !node_modules.is_dir() {
        return Ok(());
    }
    // The real folder, not a link to a link: the sandbox makes the link's target visible
    // at its own path, which must not pass through the app folder's links.
    let target = fs::canonicalize(&node_modules).unwrap_or_else(|_| crate::absolute(&node_modules));
    std::os::unix::fs::symlink(&target, step.build_dir.join("node_modules"))
        .map_err(step.io_error(format!("link {} into the snapshot", target.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(runtime: &str, code_dir: &Path, build_method: Option<&str>) -> BuildRequest {
        let mut request = BuildRequest::new("Function", runtime, code_dir);
        request.build_method = build_method.map(str::to_owned);
        request
    }

    fn kind(runtime: &str, code_dir: &Path, method: Option<&str>) -> BuildKind {
        choose(&request(runtime, code_dir, method)).expect("a known method")
    }

    #[test]
    fn named_methods_then_the_runtime_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dir = dir.path();
        fs::write(dir.join("requirements.txt"), "").expect("write");
        assert_eq!(kind("python3.12", dir, None), BuildKind::Pip);
        assert_eq!(kind("python3.12", dir, Some("python3.12")), BuildKind::Pip);
        // An older runtime name, as templates keep after a runtime upgrade.
        assert_eq!(kind("python3.14", dir, Some("python3.9")), BuildKind::Pip);
        assert_eq!(
            kind("python3.12", dir, Some("Makefile")),
            BuildKind::Makefile
        );
        // A requirements.txt means nothing to a Node.js function.
        assert_eq!(kind("nodejs20.x", dir, None), BuildKind::None);
        fs::write(dir.join("package.json"), "{}").expect("write");
        fs::write(dir.join("Gemfile"), "").expect("write");
        assert_eq!(kind("nodejs20.x", dir, None), BuildKind::Npm);
        assert_eq!(kind("nodejs24.x", dir, Some("nodejs24.x")), BuildKind::Npm);
        assert_eq!(kind("nodejs24.x", dir, Some("esbuild")), BuildKind::Esbuild);
        assert_eq!(kind("ruby3.3", dir, None), BuildKind::Bundler);
        assert_eq!(
            kind("provided.al2023", dir, Some("bundler")),
            BuildKind::Bundler
        );
        // Go and OS-only runtimes build only when asked.
        assert_eq!(kind("go1.x", dir, None), BuildKind::None);
        assert_eq!(kind("provided.al2", dir, None), BuildKind::None);
        assert_eq!(kind("go1.x", dir, Some("go1.x")), BuildKind::GoBuild);
        assert_eq!(
            kind("provided.al2023", dir, Some("go1.x")),
            BuildKind::GoBuild
        );
        assert_eq!(
            kind("provided.al2", dir, Some("rust-cargolambda")),
            BuildKind::CargoLambda
        );
        assert_eq!(kind("java21", dir, None), BuildKind::None);
    }

    #[test]
    fn an_unknown_method_names_the_function_and_the_methods_that_exist() {
        let dir = tempfile::tempdir().expect("tempdir");
        for method in ["esbiuld", "dotnet8"] {
            let error = choose(&request("nodejs20.x", dir.path(), Some(method)))
                .expect_err("no such method");
            assert_eq!(
                error.to_string(),
                format!("cannot build Function: BuildMethod {method} does not exist; use one of makefile, esbuild, go1.x, rust-cargolambda, bundler, maven, gradle, or the runtime's own name (nodejs20.x) for its default build")
            );
        }
    }

    #[test]
    fn a_missing_tool_names_what_to_install() {
        let dir = tempfile::tempdir().expect("tempdir");
        let request = request("nodejs20.x", dir.path(), None);
        let command = ToolCommand::new("serverful-no-such-npm", dir.path()).arg("install");
        let mut events = Vec::new();
        let mut pythons = PythonFinder::default();
        let mut warnings = Vec::new();
        let mut on_event = |event: BuildEvent<'_>| events.push(format!("{event:?}"));
        let mut step = Step {
            request: &request,
            entries: &[],
            build_dir: dir.path(),
            function_dir: dir.path(),
            build_root: dir.path(),
            pythons: &mut pythons,
            on_event: &mut on_event,
            warnings: &mut warnings,
        };
        let error = step
            .run(
                &command,
                "npm install",
                "npm",
                "install Node.js with npm (https://nodejs.org)",
            )
            .expect_err("the tool does not exist");
        assert_eq!(
            error.to_string(),
            "cannot build Function: `npm` was not found; install Node.js with npm (https://nodejs.org)"
        );
        assert_eq!(events.len(), 1, "the start is still announced: {events:?}");
    }
}
