//! Function builds, like `sam build`: installs a function's dependencies (pip, npm,
//! bundler), bundles it (esbuild), compiles it (go, cargo) or runs its Makefile into a
//! per-function build folder cached by content hash, and provides the AWS SDK that AWS's
//! managed runtimes ship to functions that do not bundle it.
//!
//! The binary calls [`build_all`] before starting functions and runs each function from
//! [`BuildOutput::code_dir`]. This crate does no terminal output: progress and warnings
//! go through [`BuildEvent`]s and [`BuildOutput::warnings`].
//!
//! Codemap:
//! - `methods`: the build methods, one module each, and the dispatch that picks one
//!   (`BuildMethod`, else the runtime's default) and runs it.
//! - `properties`: `Metadata` (`BuildMethod`, `BuildProperties`, `BuildArchitecture`) as
//!   typed settings.
//! - `files`: walking sources with the skip rules, copying, atomic publishing, pruning.
//! - `hash`: the cache key.
//! - `tool`: running build tools with their output captured.
//! - `sdk`: the shared boto3 / AWS SDK for JavaScript (v2 and v3) cache.
//! - `layers`: layer builds ([`build_layers`]), Powertools installed as a layer
//!   ([`install_public_layer`]) and a function's layers merged into one tree
//!   ([`merge_layers`]).
//! - `archive`: a `CodeUri` that is a `.zip` or `.jar` package, unpacked; the safe zip
//!   extractor deploy sources share.
//! - `source`: deploy sources ([`SourceSpec`], [`fetch`]): a folder, a zip or a git
//!   repository made into an immutable, content-addressed folder to build from.
//!
//! Layout of [`BuildOptions::build_root`]: `<LogicalId>/<hash prefix>/` per build, the two
//! most recently used kept; dot-named entries are temporary, or caches a method keeps
//! between builds (`<LogicalId>/.cargo-target`, `.go`). A build folder exists only once
//! complete, because it is built under a temporary name and renamed into place.

mod archive;
mod error;
mod files;
mod hash;
mod layers;
mod methods;
mod properties;
mod sdk;
mod source;
mod tool;

use std::fs;
use std::path::{Path, PathBuf};

pub use error::BuildError;
pub use layers::{
    build_layers, install_public_layer, merge_layers, LayerBuildKind, LayerOutput, LayerRequest,
    PublicLayerInstall,
};
pub use properties::{Architecture, BuildProperties};
pub use source::{
    fetch, fetch_with, FetchOptions, FetchedSource, SourceError, SourceOrigin, SourceSpec,
};

use files::TempGuard;
use serverful_catalog::Language;
use tool::PythonFinder;

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
    /// The function's `Handler` (empty when it has none): names the Go binary of a
    /// `go1.x` function and esbuild's default entry point.
    pub handler: String,
    /// The resource's `Metadata.BuildMethod`, e.g. `makefile`, `esbuild`, `python3.12`.
    pub build_method: Option<String>,
    /// `Metadata.BuildProperties`.
    pub properties: BuildProperties,
    /// What native code is compiled for: `Metadata.BuildArchitecture`, else the first of
    /// `Architectures`.
    pub architecture: Architecture,
}

impl BuildRequest {
    /// A request with no handler, build method or properties, for x86_64.
    pub fn new(
        logical_id: impl Into<String>,
        runtime: impl Into<String>,
        code_dir: impl Into<PathBuf>,
    ) -> BuildRequest {
        BuildRequest {
            logical_id: logical_id.into(),
            runtime: runtime.into(),
            code_dir: code_dir.into(),
            handler: String::new(),
            build_method: None,
            properties: BuildProperties::default(),
            architecture: Architecture::default(),
        }
    }

    /// Takes the build settings from a resource's resolved `Metadata`: `BuildMethod`,
    /// `BuildProperties` and `BuildArchitecture` (which overrides the architecture). A
    /// value of the wrong type is an error naming the function and the property.
    pub fn read_metadata(&mut self, metadata: &serde_json::Value) -> Result<(), BuildError> {
        properties::read_metadata(self, metadata)
    }
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
    /// `BuildMethod: esbuild`: dependencies installed, entry points bundled.
    Esbuild,
    /// `make build-<LogicalId>` with `ARTIFACTS_DIR`.
    Makefile,
    /// `BuildMethod: go1.x`: `go build` for Linux.
    GoBuild,
    /// `BuildMethod: rust-cargolambda`: `cargo lambda build`, or `cargo build`.
    CargoLambda,
    /// `Gemfile` installed with Bundler into `vendor/bundle`.
    Bundler,
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
    /// installed, a build property no method reads), one sentence each, without the
    /// function name prefix.
    pub warnings: Vec<String>,
}

/// Progress of [`build_all`], for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum BuildEvent<'a> {
    /// A tool starts running for a function: `what` is `pip install`, `npm ci`,
    /// `npm install`, `esbuild app.ts`, `go build (GOOS=linux GOARCH=amd64)`,
    /// `cargo lambda build --release`, `make build-X`,
    /// `installing boto3 into the shared cache`, ...
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

/// Builds every function in order and reports progress through `on_event`. Every
/// request is checked first (its logical id, code folder and build method), so a mistake
/// in the last function stops the start before the first one builds; then the builds run
/// in order and stop at the first one that fails.
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
    let kinds = requests.iter().map(check).collect::<Result<Vec<_>, _>>()?;
    let mut session = Session {
        options: &options,
        pythons: PythonFinder::default(),
        python_sdk: None,
        node_sdk: None,
        node_sdk_v2: None,
    };
    requests
        .iter()
        .zip(kinds)
        .map(|(request, kind)| session.build(request, kind, on_event))
        .collect()
}

pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Checks what can be checked before anything builds, and picks the build.
fn check(request: &BuildRequest) -> Result<BuildKind, BuildError> {
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
    methods::choose(request)
}

/// State shared by the builds of one [`build_all`] call: interpreter probes and SDK
/// install results, so a failing SDK install is tried (and warned about) once, not once
/// per function.
struct Session<'a> {
    options: &'a BuildOptions,
    pythons: PythonFinder,
    python_sdk: Option<Result<PathBuf, String>>,
    node_sdk: Option<Result<PathBuf, String>>,
    node_sdk_v2: Option<Result<PathBuf, String>>,
}

impl Session<'_> {
    fn build(
        &mut self,
        request: &BuildRequest,
        kind: BuildKind,
        on_event: &mut dyn FnMut(BuildEvent<'_>),
    ) -> Result<BuildOutput, BuildError> {
        let logical_id = request.logical_id.as_str();
        let mut warnings = Vec::new();
        let kind = match kind {
            BuildKind::None if self.options.snapshot_unbuilt => BuildKind::Snapshot,
            BuildKind::None if !self.readable_in_place(request)? => {
                warnings.push(format!(
                    "{} is not readable by other users, as functions are (a umask of 077 or `mktemp -d` makes folders so): running it from a readable copy; edits need a restart or `up --watch`",
                    request.code_dir.display()
                ));
                BuildKind::Snapshot
            }
            kind => kind,
        };
        for message in &warnings {
            on_event(BuildEvent::Warning {
                logical_id,
                message,
            });
        }
        for property in &request.properties.unknown {
            let message = format!(
                "Metadata.BuildProperties.{property} is not a property any build method reads; it is ignored"
            );
            on_event(BuildEvent::Warning {
                logical_id,
                message: &message,
            });
            warnings.push(message);
        }
        let (code_dir, cached) = match kind {
            BuildKind::None => (request.code_dir.clone(), false),
            BuildKind::Package => archive::unpack(request, &self.options.build_root, on_event)?,
            _ => self.build_cached(request, kind, &mut warnings, on_event)?,
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

    /// Whether a function with nothing to build can run from its source folder: only if
    /// a user other than its owner can read all of it.
    fn readable_in_place(&self, request: &BuildRequest) -> Result<bool, BuildError> {
        let skip = files::Skip {
            excluded: vec![
                self.options.build_root.clone(),
                self.options.sdk_cache.clone(),
            ],
            cargo_output: false,
        };
        let entries =
            files::list_sources(&request.code_dir, &skip).map_err(|source| BuildError::Io {
                logical_id: request.logical_id.clone(),
                action: format!("read the sources in {}", request.code_dir.display()),
                source,
            })?;
        Ok(files::readable_by_others(&request.code_dir, &entries))
    }

    /// Reuses the build for the sources' content hash, or builds it.
    fn build_cached(
        &mut self,
        request: &BuildRequest,
        kind: BuildKind,
        warnings: &mut Vec<String>,
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
        let skip = files::Skip {
            excluded: vec![
                self.options.build_root.clone(),
                self.options.sdk_cache.clone(),
            ],
            cargo_output: methods::skips_cargo_output(kind),
        };
        let entries = files::list_sources(&request.code_dir, &skip).map_err(io_error(format!(
            "read the sources in {}",
            request.code_dir.display()
        )))?;
        let inputs = methods::cache_inputs(kind, request);
        let hash = hash::content_hash(&request.code_dir, &entries, &request.runtime, &inputs)
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
        let mut step = methods::Step {
            request,
            entries: &entries,
            build_dir: temp.path(),
            function_dir: &function_dir,
            build_root: &self.options.build_root,
            pythons: &mut self.pythons,
            on_event,
            warnings,
        };
        methods::run(kind, &mut step)?;
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

    /// Fills in the SDK paths for functions that do not bundle the SDK themselves: boto3
    /// for Python, and for Node.js the SDK its Lambda runtime carried (v2 up to Node.js
    /// 16, v3 after).
    fn provide_sdk(
        &mut self,
        request: &BuildRequest,
        output: &mut BuildOutput,
        on_event: &mut dyn FnMut(BuildEvent<'_>),
    ) {
        let logical_id = request.logical_id.as_str();
        let sdk_cache = self.options.sdk_cache.clone();
        let Some(runtime) = serverful_catalog::lookup(&request.runtime) else {
            return;
        };
        let code_dir = &output.code_dir;
        let (slot, sdk) = match runtime.language {
            Language::Python if !code_dir.join("boto3").is_dir() => {
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
                let result = result.clone();
                return self.warn_unless_ok(result, output, logical_id, on_event);
            }
            Language::NodeJs if runtime.version.major <= sdk::LAST_NODE_WITH_SDK_V2 => {
                if code_dir.join("node_modules/aws-sdk").is_dir() {
                    return;
                }
                (&mut self.node_sdk_v2, sdk::Sdk::NodeV2)
            }
            Language::NodeJs => {
                if code_dir
                    .join("node_modules/@aws-sdk/client-dynamodb")
                    .is_dir()
                {
                    return;
                }
                let sdk = sdk::Sdk::Node {
                    packages: sdk::NODE_SDK_PACKAGES,
                };
                (&mut self.node_sdk, sdk)
            }
            _ => return,
        };
        let result = slot
            .get_or_insert_with(|| {
                sdk::ensure(&sdk_cache, sdk, &mut |what| {
                    on_event(BuildEvent::Started { logical_id, what })
                })
            })
            .clone();
        if let Ok(path) = &result {
            output.node_sdk_path = Some(path.clone());
        }
        self.warn_unless_ok(result, output, logical_id, on_event);
    }

    fn warn_unless_ok(
        &self,
        result: Result<PathBuf, String>,
        output: &mut BuildOutput,
        logical_id: &str,
        on_event: &mut dyn FnMut(BuildEvent<'_>),
    ) {
        if let Err(warning) = result {
            on_event(BuildEvent::Warning {
                logical_id,
                message: &warning,
            });
            output.warnings.push(warning);
        }
    }
}
