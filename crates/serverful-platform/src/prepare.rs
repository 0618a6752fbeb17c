//! Making a version of a stack ready to run, without terminal output: the template's
//! functions converted to the runtime's view, runtime names checked before anything is
//! built, functions and layers built (like `sam build`) and merged; progress goes to a
//! [`Progress`] the caller draws or streams.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serverful_build as build;
use serverful_catalog::PublicLayer;
use serverful_runtime as runtime;
use serverful_template as template;

/// Where a deploy (or `up`'s start) reports what it does: the CLI draws it on a terminal,
/// the admin API streams it to a remote CLI. Called from blocking threads.
pub trait Progress: Send + Sync {
    /// A step of the deploy begins (`building`, `starting functions`, `switching`).
    fn phase(&self, phase: &str);
    /// `n` build steps follow (functions, layers, public-layer installs).
    fn steps(&self, n: usize);
    /// A build tool started, warned or finished.
    fn build(&self, event: build::BuildEvent<'_>);
    /// Something the user should know that did not stop the deploy.
    fn warning(&self, message: &str);
}

/// A [`Progress`] that reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Progress for Quiet {
    fn phase(&self, _phase: &str) {}
    fn steps(&self, _n: usize) {}
    fn build(&self, _event: build::BuildEvent<'_>) {}
    fn warning(&self, _message: &str) {}
}

/// Why a version could not be made ready. Each message names what failed and why.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("{0}")]
    Runtime(#[from] runtime::RuntimeError),
    #[error("{0}")]
    Build(#[from] build::BuildError),
    #[error("layers: {0}")]
    Layers(String),
    #[error("failed to {action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
}

fn io_error(action: String) -> impl FnOnce(std::io::Error) -> PrepareError {
    move |source| PrepareError::Io { action, source }
}

/// How functions are built before they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeVersions {
    /// Functions with nothing to build run from their source folder (edits show up as
    /// soon as an instance starts): `up` without `--watch`.
    Live,
    /// Every function runs from an immutable, content-addressed copy: a version never
    /// changes under its instances (`up --watch`, deploys).
    Pinned,
}

/// Where a stack's files go.
#[derive(Debug, Clone)]
pub struct StackDirs {
    /// The server's data folder (the shared SDK cache falls back to it).
    pub data_dir: PathBuf,
    /// `DATA/build` under `up`, `DATA/stacks/<stack>/build` under `serve`.
    pub build_root: PathBuf,
    /// Where each function's merged layers go.
    pub layers_root: PathBuf,
    /// Where `InlineCode` is written.
    pub inline_root: PathBuf,
}

/// Builds the given functions of `app` (all of them when `only` is `None`) and returns
/// the runtime's view of each, running from its build folder, with its layers.
/// Blocking: call it off the async runtime.
pub fn prepare_functions(
    app: &template::App,
    dirs: &StackDirs,
    only: Option<&str>,
    versions: CodeVersions,
    progress: &dyn Progress,
) -> Result<Vec<runtime::FunctionConfig>, PrepareError> {
    let selected: Vec<&template::Function> = app
        .functions
        .iter()
        .filter(|function| only.is_none_or(|name| function.logical_id == name))
        .collect();
    let mut configs = selected
        .iter()
        .map(|function| function_config(function, &dirs.inline_root))
        .collect::<Result<Vec<_>, _>>()?;
    // A runtime name that is wrong, or a language that cannot run here, fails before a
    // long build rather than after it.
    runtime::check_runtimes(&configs)?;
    let requests = selected
        .iter()
        .filter_map(|function| request_for(function).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    let options = build_options(
        &dirs.build_root,
        &dirs.data_dir,
        versions == CodeVersions::Pinned,
    );
    progress.steps(requests.len());
    let outputs = build::build_all(&requests, &options, &mut |event| progress.build(event))?;
    for (function, config) in selected.iter().zip(&mut configs) {
        if let Some(output) = outputs
            .iter()
            .find(|output| output.logical_id == function.logical_id)
        {
            apply(output, config);
        }
    }
    let function_layers: Vec<_> = selected
        .iter()
        .map(|function| FunctionLayers::of(function))
        .collect();
    let layer_options = build_options(&dirs.build_root, &dirs.data_dir, false);
    let mut prepared = prepare_layers(
        &app.layers,
        &function_layers,
        &layer_options,
        &dirs.layers_root,
        progress,
    )?;
    for warning in &prepared.warnings {
        progress.warning(warning);
    }
    for config in &mut configs {
        config.layers_dir = prepared.merged.remove(&config.name);
    }
    Ok(configs)
}

/// The runtime's view of a template function.
pub(crate) fn function_config(
    function: &template::Function,
    inline_root: &Path,
) -> Result<runtime::FunctionConfig, PrepareError> {
    let code_dir = match &function.code {
        template::FunctionCode::Dir(dir) => dir.clone(),
        template::FunctionCode::Inline(source) => write_inline_code(function, source, inline_root)?,
    };
    Ok(runtime::FunctionConfig {
        name: function.logical_id.clone(),
        function_name: function.name.clone(),
        runtime: function.runtime.clone(),
        handler: function.handler.clone(),
        code_dir,
        timeout: Duration::from_secs(u64::from(function.timeout_secs)),
        memory_mb: function.memory_mb,
        environment: function.environment.clone(),
        reserved_concurrency: function.reserved_concurrency,
        tmp_size_mb: function.ephemeral_storage_mb,
        network: function.network.map(|network| match network {
            serverful_template::Network::None => serverful_sandbox::Network::None,
            serverful_template::Network::Egress => serverful_sandbox::Network::Egress,
        }),
        // Set once the layers are built (`prepare_functions`).
        layers_dir: None,
        logging: logging_config(&function.logging),
    })
}

/// The template's `LoggingConfig` as the runtime takes it (checked when it was read).
fn logging_config(logging: &serverful_template::Logging) -> runtime::LoggingConfig {
    runtime::LoggingConfig {
        format: if logging.json {
            runtime::LogFormat::Json
        } else {
            runtime::LogFormat::Text
        },
        application_level: logging.application_level.clone(),
        system_level: logging
            .system_level
            .as_deref()
            .and_then(runtime::SystemLogLevel::parse),
        log_group: logging.log_group.clone(),
    }
}

/// `InlineCode` becomes a one-file code folder in the data dir, named as SAM names it
/// (`index.js` for Node.js, `index.py` for Python), so handlers like `index.handler` work.
/// The folder is named by a hash of the code (`inline/<LogicalId>/<hash>/`) and never
/// rewritten with other code: a running version's instances, or an older Lambda version
/// started beside it, keep the code they were started with.
fn write_inline_code(
    function: &template::Function,
    source: &str,
    inline_root: &Path,
) -> Result<PathBuf, PrepareError> {
    let file_name = if function.runtime.starts_with("nodejs") {
        "index.js"
    } else if function.runtime.starts_with("python") {
        "index.py"
    } else {
        "bootstrap"
    };
    use sha2::Digest as _;
    let hash = sha2::Sha256::new()
        .chain_update(file_name.as_bytes())
        .chain_update([0])
        .chain_update(source.as_bytes())
        .finalize();
    let hash: String = hash[..8].iter().map(|byte| format!("{byte:02x}")).collect();
    let function_dir = inline_root.join(&function.logical_id);
    let dir = function_dir.join(hash);
    let path = dir.join(file_name);
    // Written once: an existing folder already holds this very code.
    if std::fs::read(&path).is_ok_and(|written| written == source.as_bytes()) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).map_err(io_error(format!("create {}", dir.display())))?;
    std::fs::write(&path, source).map_err(io_error(format!(
        "write the inline code of {}",
        function.logical_id
    )))?;
    // Readable (and the bootstrap executable) by every user whatever the umask: functions
    // run as a user of their own.
    use std::os::unix::fs::PermissionsExt as _;
    let file_mode = if file_name == "bootstrap" {
        0o755
    } else {
        0o644
    };
    for (target, mode) in [
        (inline_root, 0o755),
        (function_dir.as_path(), 0o755),
        (&dir, 0o755),
        (&path, file_mode),
    ] {
        std::fs::set_permissions(target, std::fs::Permissions::from_mode(mode))
            .map_err(io_error(format!("make {} readable", target.display())))?;
    }
    Ok(dir)
}

/// Where boto3 and the AWS SDK for JavaScript are installed once for every app:
/// `SERVERFUL_SDK_CACHE`, else `$XDG_CACHE_HOME/serverful/sdk`, else `~/.cache/serverful/sdk`,
/// else the app's data folder.
pub fn sdk_cache_dir(data_dir: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("SERVERFUL_SDK_CACHE") {
        return PathBuf::from(dir);
    }
    let cache_home = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")));
    match cache_home {
        Some(cache) => cache.join("serverful").join("sdk"),
        None => data_dir.join("sdk"),
    }
}

/// The build request of a template function; `None` for inline code, which has nothing
/// to build. An error for build settings of the wrong type in its `Metadata`.
pub(crate) fn request_for(
    function: &template::Function,
) -> Result<Option<build::BuildRequest>, build::BuildError> {
    let template::FunctionCode::Dir(code_dir) = &function.code else {
        return Ok(None);
    };
    let mut request = build::BuildRequest::new(
        function.logical_id.clone(),
        function.runtime.clone(),
        code_dir.clone(),
    );
    request.handler = function.handler.clone();
    // The template allows one architecture, x86_64 or arm64.
    if let Some(architecture) = function
        .architectures
        .first()
        .and_then(|name| build::Architecture::from_name(name))
    {
        request.architecture = architecture;
    }
    request.read_metadata(&function.metadata)?;
    Ok(Some(request))
}

/// Where builds go and where the shared SDK cache is.
pub(crate) fn build_options(
    build_root: &Path,
    data_dir: &Path,
    snapshot: bool,
) -> build::BuildOptions {
    build::BuildOptions {
        build_root: build_root.to_owned(),
        sdk_cache: sdk_cache_dir(data_dir),
        snapshot_unbuilt: snapshot,
    }
}

/// Puts a build's outputs into the runtime's view of the function: its code folder and
/// the shared SDK on the module search paths, after the function's own modules.
pub(crate) fn apply(output: &build::BuildOutput, config: &mut serverful_runtime::FunctionConfig) {
    config.code_dir = output.code_dir.clone();
    if let Some(path) = &output.python_sdk_path {
        append_path_variable(&mut config.environment, "PYTHONPATH", path);
    }
    if let Some(path) = &output.node_sdk_path {
        append_path_variable(&mut config.environment, "NODE_PATH", path);
    }
}

fn append_path_variable(
    environment: &mut std::collections::BTreeMap<String, String>,
    name: &str,
    path: &Path,
) {
    let path = path.display().to_string();
    environment
        .entry(name.to_string())
        .and_modify(|value| {
            if !value.is_empty() {
                value.push(':');
            }
            value.push_str(&path);
        })
        .or_insert(path);
}

/// What one function needs from its layers: its name, runtime, whether it runs in HTTP
/// mode, and its `Layers` in order.
#[derive(Debug, Clone)]
pub(crate) struct FunctionLayers {
    pub function: String,
    pub runtime: String,
    pub http_mode: bool,
    pub layers: Vec<template::LayerRef>,
}

impl FunctionLayers {
    pub(crate) fn of(function: &template::Function) -> FunctionLayers {
        let http_mode = matches!(
            runtime::http_mode::FunctionMode::from_environment(&function.environment),
            Ok(runtime::http_mode::FunctionMode::Http(_))
        );
        FunctionLayers {
            function: function.logical_id.clone(),
            runtime: function.runtime.clone(),
            http_mode,
            layers: function.layers.clone(),
        }
    }
}

/// Each function's merged layers folder (functions without layer files have none), and
/// what the user should know about layers that cannot be provided.
#[derive(Debug, Default)]
pub(crate) struct PreparedLayers {
    pub merged: BTreeMap<String, PathBuf>,
    /// One sentence each, for `warning: ` lines.
    pub warnings: Vec<String>,
}

/// Builds and merges the layers of `functions`. Blocking: call it off the async runtime.
pub(crate) fn prepare_layers(
    layers: &[template::Layer],
    functions: &[FunctionLayers],
    options: &build::BuildOptions,
    layers_root: &Path,
    progress: &dyn Progress,
) -> Result<PreparedLayers, PrepareError> {
    let mut warnings = Vec::new();

    // The template's layers that these functions use, each built once, in template order.
    let used: Vec<&template::Layer> = layers
        .iter()
        .filter(|layer| {
            functions.iter().any(|function| {
                function.layers.iter().any(
                    |used| matches!(used, template::LayerRef::Local(id) if *id == layer.logical_id),
                )
            })
        })
        .collect();
    let requests: Vec<build::LayerRequest> = used
        .iter()
        .map(|layer| build::LayerRequest {
            logical_id: layer.logical_id.clone(),
            content_dir: layer.content_dir.clone(),
            build_method: layer.build_method.clone(),
        })
        .collect();
    for function in functions {
        for used in &function.layers {
            let template::LayerRef::Local(id) = used else {
                continue;
            };
            let Some(layer) = layers.iter().find(|layer| layer.logical_id == *id) else {
                continue;
            };
            if !layer.compatible_runtimes.is_empty()
                && !layer.compatible_runtimes.contains(&function.runtime)
            {
                warnings.push(format!(
                    "{}: layer {id} lists CompatibleRuntimes {}, not {}; using it anyway",
                    function.function,
                    layer.compatible_runtimes.join(", "),
                    function.runtime
                ));
            }
        }
    }

    // The layers named by ARN: one decision per ARN, however many functions name it.
    let mut arns: Vec<(&str, Vec<&FunctionLayers>)> = Vec::new();
    for function in functions {
        for used in &function.layers {
            if let template::LayerRef::Arn(arn) = used {
                match arns.iter_mut().find(|(known, _)| *known == arn.as_str()) {
                    Some((_, users)) => users.push(function),
                    None => arns.push((arn.as_str(), vec![function])),
                }
            }
        }
    }
    let n_installs = arns
        .iter()
        .filter(|(arn, _)| {
            matches!(
                serverful_catalog::public_layer(arn),
                Some(
                    PublicLayer::PowertoolsPython { .. } | PublicLayer::PowertoolsTypeScript { .. }
                )
            )
        })
        .count();

    progress.steps(requests.len() + n_installs);
    let on_event = &mut |event: build::BuildEvent<'_>| progress.build(event);
    let (built, installed) = (|| {
        let built = build::build_layers(&requests, options, on_event)?;
        let mut installed: BTreeMap<&str, PathBuf> = BTreeMap::new();
        for (arn, users) in &arns {
            let names: Vec<&str> = users.iter().map(|user| user.function.as_str()).collect();
            let install = match serverful_catalog::public_layer(arn) {
                Some(PublicLayer::PowertoolsPython { major }) => {
                    build::PublicLayerInstall::PowertoolsPython {
                        major,
                        runtime: &users[0].runtime,
                    }
                }
                Some(PublicLayer::PowertoolsTypeScript { major }) => {
                    build::PublicLayerInstall::PowertoolsTypeScript {
                        major,
                        packages: serverful_catalog::powertools_typescript_packages(major),
                    }
                }
                Some(PublicLayer::WebAdapter) => {
                    let lambda_mode: Vec<&str> = users
                        .iter()
                        .filter(|user| !user.http_mode)
                        .map(|user| user.function.as_str())
                        .collect();
                    if !lambda_mode.is_empty() {
                        warnings.push(format!(
                            "layer {arn} (AWS Lambda Web Adapter), used by {}: not needed, Serverful's HTTP mode does what it does; set AWS_LWA_PORT (or AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap and PORT) in the function's environment to run it as a web server",
                            lambda_mode.join(", ")
                        ));
                    }
                    continue;
                }
                None => {
                    warnings.push(format!(
                        "layer {arn}, used by {}, is not in the template and cannot be downloaded; the function runs without it (hint: put the layer's files in a folder and declare it as an AWS::Serverless::LayerVersion with that ContentUri)",
                        names.join(", ")
                    ));
                    continue;
                }
            };
            match build::install_public_layer(install, options, names[0], &mut *on_event) {
                Ok(dir) => {
                    installed.insert(arn, dir);
                }
                Err(warning) => warnings.push(format!(
                    "layer {arn}, used by {}: {warning}; the function runs without it",
                    names.join(", ")
                )),
            }
            on_event(build::BuildEvent::Finished {
                logical_id: names[0],
                cached: false,
            });
        }
        Ok::<_, build::BuildError>((built, installed))
    })()?;

    let mut merged = BTreeMap::new();
    for function in functions {
        let dirs: Vec<PathBuf> = function
            .layers
            .iter()
            .filter_map(|used| match used {
                template::LayerRef::Local(id) => built
                    .iter()
                    .find(|output| output.logical_id == *id)
                    .map(|output| output.dir.clone()),
                template::LayerRef::Arn(arn) => installed.get(arn.as_str()).cloned(),
            })
            .collect();
        if let Some(dir) = build::merge_layers(&function.function, &dirs, layers_root)
            .map_err(|error| PrepareError::Layers(error.to_string()))?
        {
            merged.insert(function.function.clone(), dir);
        }
    }
    Ok(PreparedLayers { merged, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_paths_go_after_the_users_own() {
        let mut environment =
            std::collections::BTreeMap::from([("PYTHONPATH".to_string(), "/mine".to_string())]);
        append_path_variable(&mut environment, "PYTHONPATH", Path::new("/sdk/python"));
        append_path_variable(
            &mut environment,
            "NODE_PATH",
            Path::new("/sdk/node/node_modules"),
        );
        assert_eq!(environment["PYTHONPATH"], "/mine:/sdk/python");
        assert_eq!(environment["NODE_PATH"], "/sdk/node/node_modules");
    }

    fn function(name: &str, http_mode: bool, arns: &[&str]) -> FunctionLayers {
        FunctionLayers {
            function: name.to_owned(),
            runtime: "nodejs20.x".to_owned(),
            http_mode,
            layers: arns
                .iter()
                .map(|arn| template::LayerRef::Arn((*arn).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn public_layers_get_one_warning_each_and_the_web_adapter_is_explained() {
        let data = tempfile::tempdir().expect("tempdir");
        let adapter = "arn:aws:lambda:us-east-1:753240598075:layer:LambdaAdapterLayerX86:25";
        let unknown = "arn:aws:lambda:us-east-1:111111111111:layer:Theirs:2";
        let options = build_options(&data.path().join("build"), data.path(), false);
        let prepared = prepare_layers(
            &[],
            &[
                function("Web", true, &[adapter, unknown]),
                function("Plain", false, &[adapter, unknown]),
            ],
            &options,
            &data.path().join("layers"),
            &Quiet,
        )
        .expect("prepared");
        assert!(prepared.merged.is_empty(), "nothing to merge");
        assert_eq!(
            prepared.warnings,
            [
                format!("layer {adapter} (AWS Lambda Web Adapter), used by Plain: not needed, Serverful's HTTP mode does what it does; set AWS_LWA_PORT (or AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap and PORT) in the function's environment to run it as a web server"),
                format!("layer {unknown}, used by Web, Plain, is not in the template and cannot be downloaded; the function runs without it (hint: put the layer's files in a folder and declare it as an AWS::Serverless::LayerVersion with that ContentUri)"),
            ]
        );

        // In HTTP mode the adapter is what Serverful does anyway: nothing to say.
        let prepared = prepare_layers(
            &[],
            &[function("Web", true, &[adapter])],
            &options,
            &data.path().join("layers"),
            &Quiet,
        )
        .expect("prepared");
        assert!(prepared.warnings.is_empty(), "{:?}", prepared.warnings);
    }
}
