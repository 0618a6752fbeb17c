//! Loading an app for any command: the template, the data folder, and the conversion of
//! the template's functions into the runtime's view.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serverful_cli::AppArgs;
use serverful_runtime as runtime;
use serverful_template as template;

/// The account id functions, ARNs and events report.
pub(crate) const ACCOUNT_ID: &str = "123456789012";

/// An app whose template loaded, with its data folder created.
pub(crate) struct LoadedApp {
    pub app: template::App,
    pub data_dir: PathBuf,
}

/// Reads the template (printing its unsupported features as one warning line) and
/// prepares the data folder. Errors are messages for the user, printed by `main` as
/// `error: …` with exit status 1.
pub(crate) fn load(args: &AppArgs) -> anyhow::Result<LoadedApp> {
    let overrides = parse_parameter_overrides(&args.parameter_overrides)?;
    let stack_name = stack_name(args);
    let options = template::LoadOptions {
        parameter_overrides: overrides,
        region: args.region.clone(),
        account_id: ACCOUNT_ID.to_string(),
        stack_name,
    };
    let app = template::load(&args.dir, &options).map_err(|error| anyhow::anyhow!("{error}"))?;
    if !app.unsupported.is_empty() {
        eprintln!(
            "warning: not supported yet, ignored: {}",
            app.unsupported.join(", ")
        );
    }
    let data_dir = match &args.data {
        Some(dir) => dir.clone(),
        None => app.base_dir.join(".serverful"),
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("create the data folder {}", data_dir.display()))?;
    let data_dir = data_dir.canonicalize().context("resolve the data folder")?;
    Ok(LoadedApp { app, data_dir })
}

/// How functions are built before they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeVersions {
    /// Functions with nothing to build run from their source folder (edits show up as
    /// soon as an instance starts).
    Live,
    /// Every function runs from an immutable, content-addressed copy: a version never
    /// changes under its instances (`up --watch`).
    Pinned,
}

/// Builds the given functions (all of them when `only` is `None`) and returns the
/// runtime's view of each, running from its build folder.
pub(crate) async fn prepare_functions(
    app: &template::App,
    data_dir: &Path,
    only: Option<&str>,
    versions: CodeVersions,
) -> anyhow::Result<Vec<runtime::FunctionConfig>> {
    let selected: Vec<&template::Function> = app
        .functions
        .iter()
        .filter(|function| only.is_none_or(|name| function.logical_id == name))
        .collect();
    let mut configs = selected
        .iter()
        .map(|function| function_config(function, data_dir))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // A runtime name that is wrong, or a language that cannot run here, fails before a
    // long build rather than after it.
    runtime::check_runtimes(&configs).map_err(|error| anyhow::anyhow!("{error}"))?;
    let requests = selected
        .iter()
        .filter_map(|function| crate::builds::request_for(function).transpose())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let build_data_dir = data_dir.to_path_buf();
    let snapshot = versions == CodeVersions::Pinned;
    let outputs = tokio::task::spawn_blocking(move || {
        crate::builds::build_with_progress(&requests, &build_data_dir, snapshot)
    })
    .await
    .context("run the build")?
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    for (function, config) in selected.iter().zip(&mut configs) {
        if let Some(output) = outputs
            .iter()
            .find(|output| output.logical_id == function.logical_id)
        {
            crate::builds::apply(output, config);
        }
    }
    let layers = app.layers.clone();
    let function_layers: Vec<_> = selected
        .iter()
        .map(|function| crate::layers::FunctionLayers::of(function))
        .collect();
    let layers_data_dir = data_dir.to_path_buf();
    let mut prepared = tokio::task::spawn_blocking(move || {
        crate::layers::prepare(&layers, &function_layers, &layers_data_dir)
    })
    .await
    .context("prepare the layers")??;
    for warning in &prepared.warnings {
        eprintln!("warning: {warning}");
    }
    for config in &mut configs {
        config.layers_dir = prepared.merged.remove(&config.name);
    }
    Ok(configs)
}

/// Runtime settings shared by every command that runs functions: their log lines are
/// kept in the data folder's log store, under the app's stack name.
pub(crate) fn runtime_options(args: &AppArgs, data_dir: &Path) -> runtime::RuntimeOptions {
    runtime::RuntimeOptions {
        region: args.region.clone(),
        account_id: ACCOUNT_ID.to_string(),
        data_dir: data_dir.to_path_buf(),
        stack: stack_name(args),
        log_store: crate::logs::open_store(data_dir, crate::logs::retention(args)),
        ..runtime::RuntimeOptions::default()
    }
}

/// `--stack-name`, else the app folder's name.
fn stack_name(args: &AppArgs) -> String {
    args.stack_name
        .clone()
        .unwrap_or_else(|| default_stack_name(&args.dir))
}

/// Isolation for the app's functions as `--sandbox` and `--network` ask, serving
/// `endpoints` inside every instance's network namespace. Returns the sandbox (`None` when
/// isolation is off) and the line that says so at start-up; an error when
/// `--sandbox required` cannot be met, naming the step that failed.
pub(crate) async fn sandbox(
    args: &AppArgs,
    data_dir: &Path,
    endpoints: Vec<runtime::sandbox::PlatformEndpoint>,
) -> anyhow::Result<(Option<Arc<runtime::sandbox::Sandbox>>, String)> {
    use serverful_cli::{NetworkMode, SandboxMode};
    let mode = match args.sandbox {
        SandboxMode::Off => serverful_sandbox::Mode::Off,
        SandboxMode::Auto => serverful_sandbox::Mode::Auto,
        SandboxMode::Required => serverful_sandbox::Mode::Required,
    };
    let state_dir = data_dir.join("sandbox");
    let host =
        tokio::task::spawn_blocking(move || serverful_sandbox::Host::probe(mode, &state_dir))
            .await
            .context("probe the sandbox")??;
    if !host.enabled() {
        let line = match host.warning() {
            Some(warning) => warning,
            None => "sandbox: off (--sandbox off); functions run as plain processes".to_owned(),
        };
        return Ok((None, line));
    }
    let line = host.summary();
    let network = match args.network {
        NetworkMode::None => serverful_sandbox::Network::None,
        NetworkMode::Egress => serverful_sandbox::Network::Egress,
    };
    let shared = vec![crate::builds::sdk_cache_dir(data_dir)];
    let sandbox = runtime::sandbox::Sandbox::new(host, network, endpoints, shared);
    Ok((Some(Arc::new(sandbox)), line))
}

/// `Key=Value` pairs from `--parameter-overrides`; also accepts CloudFormation's
/// `ParameterKey=Key,ParameterValue=Value` spelling, as `sam` does.
pub(crate) fn parse_parameter_overrides(
    pairs: &[String],
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut overrides = BTreeMap::new();
    for pair in pairs.iter().filter(|pair| !pair.is_empty()) {
        let parsed = if let Some(rest) = pair.strip_prefix("ParameterKey=") {
            rest.split_once(",ParameterValue=")
        } else {
            pair.split_once('=')
        };
        match parsed {
            Some((key, value)) if !key.is_empty() => {
                overrides.insert(key.to_string(), value.to_string());
            }
            _ => anyhow::bail!(
                "--parameter-overrides takes Key=Value pairs, got `{pair}`\nhint: write it as --parameter-overrides Stage=dev"
            ),
        }
    }
    Ok(overrides)
}

/// The stack name defaults to the app folder's name, as `sam deploy --guided` suggests.
pub(crate) fn default_stack_name(app_path: &Path) -> String {
    let folder = if app_path.is_file() {
        app_path.parent()
    } else {
        Some(app_path)
    };
    folder
        .and_then(|folder| folder.canonicalize().ok())
        .and_then(|folder| {
            folder
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "serverful".to_string())
}

/// The runtime's view of a template function.
pub(crate) fn function_config(
    function: &template::Function,
    data_dir: &Path,
) -> anyhow::Result<runtime::FunctionConfig> {
    let code_dir = match &function.code {
        template::FunctionCode::Dir(dir) => dir.clone(),
        template::FunctionCode::Inline(source) => write_inline_code(function, source, data_dir)?,
    };
    Ok(runtime::FunctionConfig {
        name: function.logical_id.clone(),
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
    })
}

/// `InlineCode` becomes a one-file code folder in the data dir, named as SAM names it
/// (`index.js` for Node.js, `index.py` for Python), so handlers like `index.handler` work.
fn write_inline_code(
    function: &template::Function,
    source: &str,
    data_dir: &Path,
) -> anyhow::Result<PathBuf> {
    let file_name = if function.runtime.starts_with("nodejs") {
        "index.js"
    } else if function.runtime.starts_with("python") {
        "index.py"
    } else {
        "bootstrap"
    };
    let dir = data_dir.join("inline").join(&function.logical_id);
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let path = dir.join(file_name);
    std::fs::write(&path, source)
        .with_context(|| format!("write the inline code of {}", function.logical_id))?;
    // Readable (and the bootstrap executable) by every user whatever the umask: functions
    // run as a user of their own.
    use std::os::unix::fs::PermissionsExt as _;
    let file_mode = if file_name == "bootstrap" {
        0o755
    } else {
        0o644
    };
    for (target, mode) in [
        (&data_dir.join("inline"), 0o755),
        (&dir, 0o755),
        (&path, file_mode),
    ] {
        std::fs::set_permissions(target, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("make {} readable", target.display()))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_overrides_both_spellings() {
        let parsed = parse_parameter_overrides(&[
            "Stage=dev".to_string(),
            "ParameterKey=Name,ParameterValue=a=b".to_string(),
            "Empty=".to_string(),
        ])
        .expect("valid overrides");
        assert_eq!(parsed["Stage"], "dev");
        assert_eq!(parsed["Name"], "a=b");
        assert_eq!(parsed["Empty"], "");
    }

    #[test]
    fn parameter_override_without_equals_says_how_to_fix() {
        let error = parse_parameter_overrides(&["Stage".to_string()]).expect_err("invalid");
        assert!(error.to_string().contains("hint: write it as"), "{error}");
    }
}
