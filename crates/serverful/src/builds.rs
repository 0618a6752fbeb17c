//! Building functions before they run (like `sam build`), with progress on stderr: an
//! indicatif bar on a terminal, plain lines otherwise.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serverful_build as build;
use serverful_template as template;

/// Where boto3 and the AWS SDK for JavaScript are installed once for every app:
/// `SERVERFUL_SDK_CACHE`, else `$XDG_CACHE_HOME/serverful/sdk`, else `~/.cache/serverful/sdk`,
/// else the app's data folder.
pub(crate) fn sdk_cache_dir(data_dir: &Path) -> PathBuf {
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

/// Builds the given functions, showing progress. Blocking: call it off the async runtime.
/// With `snapshot`, functions with nothing to build run from a content-addressed copy too.
pub(crate) fn build_with_progress(
    requests: &[build::BuildRequest],
    data_dir: &Path,
    snapshot: bool,
) -> Result<Vec<build::BuildOutput>, build::BuildError> {
    let options = build_options(data_dir, snapshot);
    with_progress(requests.len(), |on_event| {
        build::build_all(requests, &options, on_event)
    })
}

/// Where builds go and where the shared SDK cache is.
pub(crate) fn build_options(data_dir: &Path, snapshot: bool) -> build::BuildOptions {
    build::BuildOptions {
        build_root: data_dir.join("build"),
        sdk_cache: sdk_cache_dir(data_dir),
        snapshot_unbuilt: snapshot,
    }
}

/// Runs `work` (`n_items` builds) with its [`build::BuildEvent`]s drawn on stderr: an
/// indicatif bar on a terminal, plain lines otherwise. Blocking.
pub(crate) fn with_progress<T>(
    n_items: usize,
    work: impl FnOnce(&mut dyn FnMut(build::BuildEvent<'_>)) -> T,
) -> T {
    let bar = ProgressBar::new(n_items as u64);
    let interactive = !bar.is_hidden();
    if interactive {
        bar.set_style(
            ProgressStyle::with_template("{spinner} building [{pos}/{len}] {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
    }
    let mut on_event = |event: build::BuildEvent<'_>| match event {
        build::BuildEvent::Started { logical_id, what } => {
            if interactive {
                bar.set_message(format!("{logical_id}: {what}"));
            } else {
                eprintln!("building {logical_id}: {what}");
            }
        }
        build::BuildEvent::Warning {
            logical_id,
            message,
        } => {
            bar.suspend(|| eprintln!("warning: {logical_id}: {message}"));
        }
        build::BuildEvent::Finished { .. } => bar.inc(1),
    };
    let result = work(&mut on_event);
    bar.finish_and_clear();
    result
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
}
