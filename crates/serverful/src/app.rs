//! Loading an app for any command: the template, the data folder, and the conversion of
//! the template's functions into the runtime's view.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use serverful_cli::AppArgs;
use serverful_runtime as runtime;
use serverful_template as template;

/// The account id functions, ARNs and events report: the AWS endpoint's, spelled once.
pub(crate) const ACCOUNT_ID: &str = serverful_aws::DEFAULT_ACCOUNT_ID;

/// An app whose template loaded, with its data folder created.
pub(crate) struct LoadedApp {
    pub app: template::App,
    pub data_dir: PathBuf,
    /// `--stack-name`, else the app folder's name.
    pub stack_name: String,
    pub overrides: BTreeMap<String, String>,
}

/// Reads the template (printing its unsupported features as one warning line) and
/// prepares the data folder. Errors are messages for the user, printed by `main` as
/// `error: …` with exit status 1.
pub(crate) fn load(args: &AppArgs) -> anyhow::Result<LoadedApp> {
    let overrides = parse_parameter_overrides(&args.parameter_overrides)?;
    let stack_name = stack_name(args);
    let options = template::LoadOptions {
        parameter_overrides: overrides.clone(),
        region: args.region.clone(),
        account_id: ACCOUNT_ID.to_string(),
        stack_name: stack_name.clone(),
        version_numbers: BTreeMap::new(),
        queue_url_base: None,
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
    Ok(LoadedApp {
        app,
        data_dir,
        stack_name,
        overrides,
    })
}

pub(crate) use serverful_platform::CodeVersions;

/// Builds the given functions (all of them when `only` is `None`) and returns the
/// runtime's view of each, running from its build folder, with progress on stderr.
pub(crate) async fn prepare_functions(
    app: &template::App,
    data_dir: &Path,
    only: Option<&str>,
    versions: CodeVersions,
) -> anyhow::Result<Vec<runtime::FunctionConfig>> {
    let app = app.clone();
    let dirs = serverful_platform::StackDirs {
        data_dir: data_dir.to_path_buf(),
        build_root: data_dir.join("build"),
        layers_root: data_dir.join("layers"),
        inline_root: data_dir.join("inline"),
    };
    let only = only.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let progress = crate::builds::TerminalProgress::new();
        let prepared = serverful_platform::prepare::prepare_functions(
            &app,
            &dirs,
            only.as_deref(),
            versions,
            &progress,
        );
        progress.finish();
        prepared
    })
    .await
    .context("run the build")?
    .map_err(|error| anyhow::anyhow!("{error}"))
}

/// Runtime settings shared by every command that runs functions: their log lines are
/// kept in the data folder's log store, under the app's stack name.
pub(crate) fn runtime_options(args: &AppArgs, data_dir: &Path) -> runtime::RuntimeOptions {
    runtime::RuntimeOptions {
        region: args.region.clone(),
        account_id: ACCOUNT_ID.to_string(),
        data_dir: data_dir.to_path_buf(),
        stack: stack_name(args),
        log_store: crate::logs::open_store(data_dir, None, crate::logs::retention(&args.logs))
            .map(|opened| opened.store),
        ..runtime::RuntimeOptions::default()
    }
}

/// Isolation for the app's functions as `--sandbox` and `--network` ask, serving
/// `endpoints` inside every instance's network namespace. Returns the sandbox (`None` when
/// isolation is off) and the line that says so at start-up; an error when
/// `--sandbox required` cannot be met, naming the step that failed.
pub(crate) async fn sandbox(
    sandbox: serverful_cli::SandboxMode,
    network: serverful_cli::NetworkMode,
    data_dir: &Path,
    endpoints: Vec<runtime::sandbox::PlatformEndpoint>,
) -> anyhow::Result<(Option<Arc<runtime::sandbox::Sandbox>>, String)> {
    use serverful_cli::{NetworkMode, SandboxMode};
    let mode = match sandbox {
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
    let network = match network {
        NetworkMode::None => serverful_sandbox::Network::None,
        NetworkMode::Egress => serverful_sandbox::Network::Egress,
    };
    let shared = vec![serverful_platform::sdk_cache_dir(data_dir)];
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

/// The app's stack name: `--stack-name`, else the app folder's name.
pub(crate) fn stack_name(args: &AppArgs) -> String {
    args.stack_name
        .clone()
        .unwrap_or_else(|| default_stack_name(&args.dir))
}

/// The stack name defaults to the app folder's name, as `sam deploy --guided` suggests,
/// made into a name CloudFormation takes (a letter, then letters, digits and hyphens).
pub(crate) fn default_stack_name(app_path: &Path) -> String {
    let folder = if app_path.is_file() {
        app_path.parent()
    } else {
        Some(app_path)
    };
    let name = folder
        .and_then(|folder| folder.canonicalize().ok())
        .and_then(|folder| {
            folder
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    stack_name_from(&name)
}

/// `name` with every character a stack name cannot hold made a hyphen, starting with a
/// letter, at most 128 characters; `serverful` when nothing is left.
fn stack_name_from(name: &str) -> String {
    let mut cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_owned();
    if cleaned.is_empty() {
        return "serverful".to_owned();
    }
    if !cleaned.starts_with(|c: char| c.is_ascii_alphabetic()) {
        cleaned.insert_str(0, "app-");
    }
    cleaned.truncate(128);
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_become_stack_names() {
        assert_eq!(stack_name_from("birthday"), "birthday");
        assert_eq!(stack_name_from("my_app.v2"), "my-app-v2");
        assert_eq!(stack_name_from("tmp.k7CRrO74rJ"), "tmp-k7CRrO74rJ");
        assert_eq!(stack_name_from("2026-app"), "app-2026-app");
        assert_eq!(stack_name_from("..."), "serverful");
    }

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
