//! The shared AWS SDK cache: boto3, the AWS SDK for JavaScript v3 and, for the Node.js
//! runtimes up to 16 that shipped it, the SDK v2 (`aws-sdk`), installed once per machine
//! for every function that does not bundle its own, as AWS's managed runtimes ship them.

use std::fs;
use std::path::{Path, PathBuf};

use crate::files::{self, Published, TempGuard};
use crate::tool::{self, PythonChoice, RunError, ToolCommand};

/// The file written into a finished SDK folder before it is renamed into place; a folder
/// without it was not made by a complete install.
pub(crate) const COMPLETE_MARKER: &str = ".serverful-complete";

/// The AWS SDK v3 clients installed for Node.js: the services Serverful emulates, plus S3
/// which most apps import even when they do not call it locally.
pub(crate) const NODE_SDK_PACKAGES: &[&str] = &[
    "@aws-sdk/client-dynamodb",
    "@aws-sdk/lib-dynamodb",
    "@aws-sdk/client-sqs",
    "@aws-sdk/client-sns",
    "@aws-sdk/client-lambda",
    "@aws-sdk/client-apigatewaymanagementapi",
    "@aws-sdk/client-s3",
];

/// The AWS SDK for JavaScript v2, as Lambda's Node.js runtimes up to 16 carried it.
pub(crate) const NODE_SDK_V2_PACKAGES: &[&str] = &["aws-sdk@2"];

/// The newest Node.js major version whose Lambda runtime carried the SDK v2; later ones
/// carry v3.
pub(crate) const LAST_NODE_WITH_SDK_V2: u32 = 16;

/// Which SDK to install and how.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sdk<'a> {
    /// boto3, with this Python.
    Python { python: &'a str },
    /// The AWS SDK for JavaScript v3: these npm packages.
    Node { packages: &'a [&'a str] },
    /// The AWS SDK for JavaScript v2 (`aws-sdk`).
    NodeV2,
}

impl Sdk<'_> {
    fn folder_name(&self) -> &'static str {
        match self {
            Sdk::Python { .. } => "python",
            Sdk::Node { .. } => "node",
            Sdk::NodeV2 => "node-v2",
        }
    }

    /// What the SDK is called in messages.
    fn name(&self) -> &'static str {
        match self {
            Sdk::Python { .. } => "boto3",
            Sdk::Node { .. } => "the AWS SDK for JavaScript v3",
            Sdk::NodeV2 => "the AWS SDK for JavaScript v2",
        }
    }

    /// What the progress bar says while installing.
    pub(crate) fn describe(&self) -> String {
        format!("installing {} into the shared cache", self.name())
    }
}

/// The folder a function adds to its module path, once `ensure` has succeeded.
pub(crate) fn module_path(sdk_cache: &Path, sdk: Sdk<'_>) -> PathBuf {
    match sdk {
        Sdk::Python { .. } => sdk_cache.join("python"),
        Sdk::Node { .. } | Sdk::NodeV2 => sdk_cache.join(sdk.folder_name()).join("node_modules"),
    }
}

/// The boto3 folder when a complete install is already there. Checked before looking
/// for a Python to install with, because probing interpreters takes a noticeable moment
/// at every start.
pub(crate) fn installed_python(sdk_cache: &Path) -> Option<PathBuf> {
    let folder = sdk_cache.join("python");
    folder.join(COMPLETE_MARKER).is_file().then_some(folder)
}

/// Makes `sdk` available under `sdk_cache`, installing it unless a complete install is
/// already there, and returns the folder for the module path. `Err` is a warning for the
/// user: a missing SDK only matters to functions that import it, so it never fails a build.
///
/// Two servers starting together may both install; each installs into its own temporary
/// folder and the first rename wins, so neither ever sees a half-installed SDK.
pub(crate) fn ensure(
    sdk_cache: &Path,
    sdk: Sdk<'_>,
    on_started: &mut dyn FnMut(&str),
) -> Result<PathBuf, String> {
    let target = sdk_cache.join(sdk.folder_name());
    if target.join(COMPLETE_MARKER).is_file() {
        return Ok(module_path(sdk_cache, sdk));
    }
    let what = sdk.name();
    let fail = |reason: String| {
        format!(
            "could not install {what} into {}: {reason}",
            sdk_cache.display()
        )
    };
    fs::create_dir_all(sdk_cache)
        .map_err(|error| fail(format!("cannot create the folder: {error}")))?;
    files::remove_stale(sdk_cache);
    let temp = TempGuard::new(files::temp_path(sdk_cache, sdk.folder_name()));
    fs::create_dir(temp.path())
        .map_err(|error| fail(format!("cannot create a temporary folder: {error}")))?;

    let command = match sdk {
        Sdk::Python { python } => ToolCommand::new(python, temp.path())
            .arg("-m")
            .arg("pip")
            .arg("install")
            .arg("--quiet")
            .arg("boto3")
            .arg("-t")
            .arg(temp.path())
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_ROOT_USER_ACTION", "ignore"),
        Sdk::Node { .. } | Sdk::NodeV2 => {
            let packages = match sdk {
                Sdk::Node { packages } => packages,
                _ => NODE_SDK_V2_PACKAGES,
            };
            // A package.json of our own keeps npm from walking up to some parent
            // project's package.json and installing there.
            fs::write(
                temp.path().join("package.json"),
                "{\"name\":\"serverful-sdk-cache\",\"private\":true}\n",
            )
            .map_err(|error| fail(format!("cannot write package.json: {error}")))?;
            packages.iter().fold(
                ToolCommand::new("npm", temp.path())
                    .arg("install")
                    .arg("--no-audit")
                    .arg("--no-fund")
                    .arg("--omit=dev")
                    .env("NPM_CONFIG_UPDATE_NOTIFIER", "false"),
                |command, package| command.arg(*package),
            )
        }
    };
    on_started(&sdk.describe());
    run_install(&command, sdk_cache).map_err(fail)?;
    publish_install(temp, &target, "").map_err(fail)?;
    Ok(module_path(sdk_cache, sdk))
}

/// Runs an install `command` of the shared cache; `Err` is the reason, with the tail of
/// the tool's output, to follow `could not install X into Y: `.
pub(crate) fn run_install(command: &ToolCommand, sdk_cache: &Path) -> Result<(), String> {
    let log = files::temp_path(sdk_cache, "log");
    match tool::run(command, &log) {
        Ok(_) => Ok(()),
        Err(RunError::NotFound) => Err(format!("`{}` was not found", command.program)),
        Err(RunError::Io(error)) => Err(format!("`{}` could not run: {error}", command.display())),
        Err(RunError::Failed { status, output }) => {
            let last_lines: Vec<&str> = output.lines().rev().take(5).collect();
            let last_lines: Vec<&str> = last_lines.into_iter().rev().collect();
            Err(format!(
                "`{}` {status}: {}",
                command.display(),
                last_lines.join(" | ")
            ))
        }
    }
}

/// Marks the finished install in `temp` complete (the marker holding `marker`) and renames
/// it to `target`; `Err` is the reason, as for [`run_install`].
pub(crate) fn publish_install(temp: TempGuard, target: &Path, marker: &str) -> Result<(), String> {
    fs::write(temp.path().join(COMPLETE_MARKER), marker)
        .map_err(|error| format!("cannot write the completion marker: {error}"))?;
    // A folder under the final name without the marker was left by something else (or
    // an older layout); it must not block the rename forever.
    if target.exists() && !target.join(COMPLETE_MARKER).is_file() {
        files::trash(target);
    }
    match files::publish(temp, target) {
        Ok(Published::Renamed | Published::AlreadyThere) => Ok(()),
        Err(error) => Err(format!("cannot move the install into place: {error}")),
    }
}

/// The Python to install boto3 with, as a warning when there is none.
pub(crate) fn python_for_sdk(choice: PythonChoice) -> Result<String, String> {
    match choice {
        PythonChoice::Found(python) => Ok(python),
        PythonChoice::NoPip(python) => {
            Err(format!("could not install boto3: `{python}` has no pip"))
        }
        PythonChoice::NoPython => {
            Err("could not install boto3: `python3` was not found".to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_install_is_reused_without_running_anything() {
        let cache = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(cache.path().join("node/node_modules")).expect("mkdir");
        fs::write(cache.path().join("node").join(COMPLETE_MARKER), "").expect("marker");
        let mut n_started = 0;
        let path = ensure(
            cache.path(),
            Sdk::Node {
                packages: NODE_SDK_PACKAGES,
            },
            &mut |_| n_started += 1,
        )
        .expect("reused");
        assert_eq!(path, cache.path().join("node/node_modules"));
        assert_eq!(n_started, 0);
    }

    #[test]
    fn failed_install_is_a_warning_and_leaves_nothing_behind() {
        let cache = tempfile::tempdir().expect("tempdir");
        // A Python that exits with an error stands in for pip failing offline.
        let warning =
            ensure(cache.path(), Sdk::Python { python: "false" }, &mut |_| {}).expect_err("fails");
        assert!(
            warning.starts_with("could not install boto3 into "),
            "{warning}"
        );
        assert!(warning.contains("exited with status 1"), "{warning}");
        let left: Vec<_> = fs::read_dir(cache.path())
            .expect("read")
            .flatten()
            .collect();
        assert!(left.is_empty(), "temporary folders are removed: {left:?}");
    }
}
