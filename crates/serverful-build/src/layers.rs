//! Layer builds, like `sam build` builds layers, and the merged `/opt` tree of a function.
//!
//! A layer with `Metadata: BuildMethod` set to a runtime installs its dependencies where
//! that runtime looks in `/opt`: `python3.x` copies the folder into `python/` and installs
//! its `requirements.txt` there with pip; `nodejs*` copies it into `nodejs/` and installs
//! its `package.json` into `nodejs/node_modules`. `makefile` runs `make build-<LogicalId>`
//! with `ARTIFACTS_DIR`. Without a `BuildMethod` the folder is the layer as it is. Every
//! layer is built into `BUILD_ROOT/<LogicalId>/<hash>/`, cached by content hash as
//! functions are, so each version of a layer is a folder that never changes.
//!
//! A function's layers are then merged in order into one tree, later layers' files over
//! earlier ones', under `LAYERS_ROOT/<FunctionLogicalId>/<hash>/`, named by the layers it
//! was made from: made once, of hard links where the file system allows (copies where not),
//! and never changed afterwards.
//!
//! Powertools for AWS Lambda, which AWS publishes as public layers, is installed from PyPI
//! or npm once into the shared SDK cache, laid out as its layer is (`python/…`,
//! `nodejs/node_modules/…`), and merged like any other layer.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::files::{self, Entry, EntryKind, TempGuard};
use crate::methods::{self, Step};
use crate::sdk::COMPLETE_MARKER;
use crate::tool::{PythonChoice, PythonFinder, ToolCommand};
use crate::{hash, BuildError, BuildEvent, BuildKind, BuildOptions, BuildRequest, BUILDS_KEPT};
use serverful_catalog::Language;

/// One layer to build.
#[derive(Debug, Clone)]
pub struct LayerRequest {
    /// The layer's logical id; names its build folder and the `build-<LogicalId>` target.
    pub logical_id: String,
    /// The layer's `ContentUri` folder, absolute.
    pub content_dir: PathBuf,
    /// `Metadata.BuildMethod`: a runtime (`python3.12`, `nodejs20.x`), `makefile`, or none.
    pub build_method: Option<String>,
}

/// How a layer was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerBuildKind {
    /// No `BuildMethod` (or one this crate does not build): the folder as it is.
    Copy,
    /// A Python `BuildMethod`: the folder under `python/`, its `requirements.txt` installed
    /// there with pip.
    Pip,
    /// A Node.js `BuildMethod`: the folder under `nodejs/`, its `package.json` installed
    /// into `nodejs/node_modules` with npm.
    Npm,
    /// `make build-<LogicalId>` with `ARTIFACTS_DIR`.
    Makefile,
}

/// A built layer.
#[derive(Debug, Clone)]
pub struct LayerOutput {
    pub logical_id: String,
    /// The layer's files as they appear under `/opt`.
    pub dir: PathBuf,
    pub kind: LayerBuildKind,
    /// True when a previous build with the same content hash was reused.
    pub cached: bool,
    /// What the user should know that did not stop the build, one sentence each.
    pub warnings: Vec<String>,
}

/// Builds every layer in order, reporting progress through `on_event` as function builds
/// do. Stops at the first layer that fails to build.
pub fn build_layers(
    requests: &[LayerRequest],
    options: &BuildOptions,
    on_event: &mut dyn FnMut(BuildEvent<'_>),
) -> Result<Vec<LayerOutput>, BuildError> {
    let options = BuildOptions {
        build_root: crate::absolute(&options.build_root),
        sdk_cache: crate::absolute(&options.sdk_cache),
        snapshot_unbuilt: options.snapshot_unbuilt,
    };
    let mut pythons = PythonFinder::default();
    requests
        .iter()
        .map(|request| build_layer(&options, &mut pythons, request, on_event))
        .collect()
}

fn build_layer(
    options: &BuildOptions,
    pythons: &mut PythonFinder,
    request: &LayerRequest,
    on_event: &mut dyn FnMut(BuildEvent<'_>),
) -> Result<LayerOutput, BuildError> {
    let logical_id = request.logical_id.as_str();
    if logical_id.is_empty() || !logical_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(BuildError::InvalidLogicalId {
            logical_id: logical_id.to_owned(),
        });
    }
    if !request.content_dir.is_dir() {
        return Err(BuildError::LayerContentMissing {
            logical_id: logical_id.to_owned(),
            content_dir: request.content_dir.clone(),
        });
    }
    let mut warnings = Vec::new();
    let kind = choose_layer_kind(request, &mut warnings);
    for message in &warnings {
        on_event(BuildEvent::Warning {
            logical_id,
            message,
        });
    }
    // The pip, npm and make builds build a function; a layer is built the same way, with
    // its `BuildMethod` standing for the runtime.
    let as_function = BuildRequest::new(
        logical_id,
        request.build_method.as_deref().unwrap_or_default(),
        &request.content_dir,
    );
    let io_error = |action: String| {
        move |source| BuildError::Io {
            logical_id: logical_id.to_owned(),
            action,
            source,
        }
    };
    let excluded = [options.build_root.clone(), options.sdk_cache.clone()];
    // A layer used as it is may hold installed packages (`nodejs/node_modules`) and is
    // copied whole; a layer that is built gets its dependencies from the build.
    let skipped: &[&str] = match kind {
        LayerBuildKind::Copy => COPY_SKIPPED_NAMES,
        _ => files::SKIPPED_NAMES,
    };
    let entries = files::list_skipping(&request.content_dir, &excluded, skipped).map_err(
        io_error(format!(
            "read the layer's files in {}",
            request.content_dir.display()
        )),
    )?;
    let method = format!("layer {kind:?}");
    let hash = hash::content_hash(
        &request.content_dir,
        &entries,
        &as_function.runtime,
        &method,
    )
    .map_err(io_error(format!(
        "hash the layer's files in {}",
        request.content_dir.display()
    )))?;
    let layer_dir = options.build_root.join(logical_id);
    let target = layer_dir.join(&hash[..hash::PREFIX_LEN]);
    if target.is_dir() {
        files::touch(&target);
        on_event(BuildEvent::Finished {
            logical_id,
            cached: true,
        });
        return Ok(LayerOutput {
            logical_id: logical_id.to_owned(),
            dir: target,
            kind,
            cached: true,
            warnings,
        });
    }

    fs::create_dir_all(&layer_dir).map_err(io_error(format!("create {}", layer_dir.display())))?;
    let temp = TempGuard::new(files::temp_path(&layer_dir, "layer"));
    fs::create_dir(temp.path()).map_err(io_error(format!("create {}", temp.path().display())))?;
    let copy_into = |dest: &Path| -> Result<(), BuildError> {
        fs::create_dir_all(dest).map_err(io_error(format!("create {}", dest.display())))?;
        files::copy_entries(&request.content_dir, &entries, dest).map_err(io_error(format!(
            "copy {} into {}",
            request.content_dir.display(),
            dest.display()
        )))
    };
    // A build method fills its step's `build_dir` from the layer's files, as it would a
    // function's build folder.
    let mut run_method = |method: BuildKind, build_dir: &Path| -> Result<(), BuildError> {
        fs::create_dir_all(build_dir)
            .map_err(io_error(format!("create {}", build_dir.display())))?;
        let mut step = Step {
            request: &as_function,
            entries: &entries,
            build_dir,
            function_dir: &layer_dir,
            build_root: &options.build_root,
            pythons: &mut *pythons,
            on_event: &mut *on_event,
            warnings: &mut warnings,
        };
        methods::run(method, &mut step)
    };
    match kind {
        LayerBuildKind::Copy => copy_into(temp.path())?,
        // Like `sam build`, a Python layer without requirements is its code alone.
        LayerBuildKind::Pip if request.content_dir.join("requirements.txt").is_file() => {
            run_method(BuildKind::Pip, &temp.path().join("python"))?
        }
        LayerBuildKind::Npm if request.content_dir.join("package.json").is_file() => {
            run_method(BuildKind::Npm, &temp.path().join("nodejs"))?
        }
        LayerBuildKind::Pip => copy_into(&temp.path().join("python"))?,
        LayerBuildKind::Npm => copy_into(&temp.path().join("nodejs"))?,
        LayerBuildKind::Makefile => run_method(BuildKind::Makefile, temp.path())?,
    }
    files::publish(temp, &target).map_err(io_error(format!(
        "move the layer's build into {}",
        target.display()
    )))?;
    files::touch(&target);
    files::prune(&layer_dir, &target, BUILDS_KEPT);
    on_event(BuildEvent::Finished {
        logical_id,
        cached: false,
    });
    Ok(LayerOutput {
        logical_id: logical_id.to_owned(),
        dir: target,
        kind,
        cached: false,
        warnings,
    })
}

/// The build `sam build` gives a layer with this `BuildMethod`; other runtimes' methods
/// (Java, Ruby, `provided`) are not built here, which a warning says.
fn choose_layer_kind(request: &LayerRequest, warnings: &mut Vec<String>) -> LayerBuildKind {
    let Some(method) = &request.build_method else {
        return LayerBuildKind::Copy;
    };
    if method.eq_ignore_ascii_case("makefile") {
        return LayerBuildKind::Makefile;
    }
    match serverful_catalog::lookup(method).map(|runtime| runtime.language) {
        Some(Language::Python) => LayerBuildKind::Pip,
        Some(Language::NodeJs) => LayerBuildKind::Npm,
        _ => {
            warnings.push(format!(
                "BuildMethod {method} is not supported for layers; the layer's folder is used as it is (use BuildMethod: makefile to build it)"
            ));
            LayerBuildKind::Copy
        }
    }
}

/// A public layer this crate can install in place of downloading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicLayerInstall<'a> {
    /// Powertools for AWS Lambda (Python), `aws-lambda-powertools` of this major version,
    /// installed with the Python of `runtime`.
    PowertoolsPython { major: u32, runtime: &'a str },
    /// Powertools for AWS Lambda (TypeScript): these npm packages at this major version.
    PowertoolsTypeScript { major: u32, packages: &'a [&'a str] },
}

impl PublicLayerInstall<'_> {
    fn folder_name(&self) -> String {
        match self {
            PublicLayerInstall::PowertoolsPython { major, .. } => {
                format!("powertools-python-v{major}")
            }
            PublicLayerInstall::PowertoolsTypeScript { major, .. } => {
                format!("powertools-typescript-v{major}")
            }
        }
    }

    fn what(&self) -> String {
        match self {
            PublicLayerInstall::PowertoolsPython { major, .. } => {
                format!("Powertools for AWS Lambda (Python) v{major}")
            }
            PublicLayerInstall::PowertoolsTypeScript { major, .. } => {
                format!("Powertools for AWS Lambda (TypeScript) v{major}")
            }
        }
    }
}

/// Makes `layer` available as a layer folder in the shared SDK cache, installing it
/// unless a complete install is there, and returns the folder. `Err` is a warning for the
/// user: the function still starts, without the layer's files. `logical_id` names the
/// function the progress is shown for.
pub fn install_public_layer(
    layer: PublicLayerInstall<'_>,
    options: &BuildOptions,
    logical_id: &str,
    on_event: &mut dyn FnMut(BuildEvent<'_>),
) -> Result<PathBuf, String> {
    let sdk_cache = crate::absolute(&options.sdk_cache);
    let target = sdk_cache.join(layer.folder_name());
    if target.join(COMPLETE_MARKER).is_file() {
        return Ok(target);
    }
    let what = layer.what();
    let fail = |reason: String| {
        format!(
            "could not install {what} into {}: {reason}",
            sdk_cache.display()
        )
    };
    fs::create_dir_all(&sdk_cache)
        .map_err(|error| fail(format!("cannot create the folder: {error}")))?;
    files::remove_stale(&sdk_cache);
    let temp = TempGuard::new(files::temp_path(&sdk_cache, &layer.folder_name()));
    let command = match layer {
        PublicLayerInstall::PowertoolsPython { major, runtime } => {
            let dest = temp.path().join("python");
            fs::create_dir_all(&dest)
                .map_err(|error| fail(format!("cannot create a temporary folder: {error}")))?;
            let python = match PythonFinder::default().find(runtime) {
                PythonChoice::Found(python) => python,
                PythonChoice::NoPip(python) => return Err(fail(format!("`{python}` has no pip"))),
                PythonChoice::NoPython => return Err(fail("`python3` was not found".to_owned())),
            };
            ToolCommand::new(&python, &dest)
                .arg("-m")
                .arg("pip")
                .arg("install")
                .arg("--quiet")
                .arg("--no-input")
                .arg(format!("aws-lambda-powertools>={major},<{}", major + 1))
                .arg("-t")
                .arg(&dest)
                .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
                .env("PIP_ROOT_USER_ACTION", "ignore")
        }
        PublicLayerInstall::PowertoolsTypeScript { major, packages } => {
            let dest = temp.path().join("nodejs");
            fs::create_dir_all(&dest)
                .map_err(|error| fail(format!("cannot create a temporary folder: {error}")))?;
            // A package.json of our own keeps npm from installing into a parent project.
            fs::write(
                dest.join("package.json"),
                "{\"name\":\"serverful-powertools-layer\",\"private\":true}\n",
            )
            .map_err(|error| fail(format!("cannot write package.json: {error}")))?;
            packages.iter().fold(
                ToolCommand::new("npm", &dest)
                    .arg("install")
                    .arg("--no-audit")
                    .arg("--no-fund")
                    .arg("--omit=dev")
                    .env("NPM_CONFIG_UPDATE_NOTIFIER", "false"),
                |command, package| command.arg(format!("{package}@{major}")),
            )
        }
    };
    let describe = format!("installing {what} into the shared cache");
    on_event(BuildEvent::Started {
        logical_id,
        what: &describe,
    });
    crate::sdk::run_install(&command, &sdk_cache).map_err(fail)?;
    // The manifest was only there for npm; the layer itself holds just the packages.
    if let PublicLayerInstall::PowertoolsTypeScript { .. } = layer {
        for name in ["package.json", "package-lock.json"] {
            let _ = fs::remove_file(temp.path().join("nodejs").join(name));
        }
    }
    // The marker names this install, so that a merged tree made from an older install of
    // the same folder is told apart from one made from this one.
    let installed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    let marker = format!("{installed_at} {}\n", std::process::id());
    crate::sdk::publish_install(temp, &target, &marker).map_err(fail)?;
    Ok(target)
}

/// What a layer used as it is leaves out: version control and tools' data, never the
/// packages it carries.
const COPY_SKIPPED_NAMES: &[&str] = &[".git", ".serverful", ".aws-sam", "__pycache__"];

/// How many merged trees of one function are kept, as for builds.
const MERGES_KEPT: usize = BUILDS_KEPT;

/// Merges `layers` (built layer folders, in the function's order) into one tree under
/// `layers_root/<function>/<hash>/`, later layers' entries replacing earlier ones' at the
/// same path, and returns it; `None` when there are no layers. The tree is made once per
/// list of layer versions and never changed afterwards; every entry in it is readable by
/// anyone, because the sandboxed function runs as another user, and layer files on Lambda
/// are readable by the function.
pub fn merge_layers(
    function: &str,
    layers: &[PathBuf],
    layers_root: &Path,
) -> Result<Option<PathBuf>, BuildError> {
    if layers.is_empty() {
        return Ok(None);
    }
    let io_error = |action: String| {
        move |source| BuildError::Io {
            logical_id: function.to_owned(),
            action,
            source,
        }
    };
    let layers_root = crate::absolute(layers_root);
    let function_dir = layers_root.join(function);
    let target = function_dir.join(merge_key(layers));
    if target.is_dir() {
        files::touch(&target);
        return Ok(Some(target));
    }
    fs::create_dir_all(&function_dir)
        .map_err(io_error(format!("create {}", function_dir.display())))?;
    let temp = TempGuard::new(files::temp_path(&function_dir, "merge"));
    fs::create_dir(temp.path()).map_err(io_error(format!("create {}", temp.path().display())))?;
    for layer in layers {
        // The SDK cache must not be skipped inside a layer: nothing is excluded here but
        // the names every walk skips.
        let entries = files::list_skipping(layer, &[], &[])
            .map_err(io_error(format!("read the layer {}", layer.display())))?;
        overlay(layer, &entries, temp.path()).map_err(io_error(format!(
            "merge the layer {} into {}",
            layer.display(),
            temp.path().display()
        )))?;
    }
    make_readable(temp.path()).map_err(io_error(format!(
        "make the layers in {} readable",
        temp.path().display()
    )))?;
    files::publish(temp, &target).map_err(io_error(format!(
        "move the merged layers into {}",
        target.display()
    )))?;
    files::touch(&target);
    files::prune(&function_dir, &target, MERGES_KEPT);
    Ok(Some(target))
}

/// The merged tree's name: a hash over the layer folders in order, and over the marker
/// of an install in the SDK cache (whose folder name stays the same when it is reinstalled).
fn merge_key(layers: &[PathBuf]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"serverful-layers 1");
    for layer in layers {
        let path = layer.to_string_lossy();
        hasher.update((path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        let marker = fs::read(layer.join(COMPLETE_MARKER)).unwrap_or_default();
        hasher.update((marker.len() as u64).to_le_bytes());
        hasher.update(&marker);
    }
    hasher
        .finalize()
        .iter()
        .take(hash::PREFIX_LEN / 2)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Puts `entries` of `layer` into `dest` over what is there: a folder merges with a
/// folder, anything else replaces what was at its path. Files are hard links when the
/// layer is on the same file system, copies otherwise.
fn overlay(layer: &Path, entries: &[Entry], dest: &Path) -> io::Result<()> {
    for entry in entries {
        if entry.relative.as_os_str() == COMPLETE_MARKER {
            continue;
        }
        let from = layer.join(&entry.relative);
        let to = dest.join(&entry.relative);
        let existing = fs::symlink_metadata(&to).ok();
        match entry.kind {
            EntryKind::Dir => match existing {
                Some(metadata) if metadata.is_dir() => {}
                Some(_) => {
                    fs::remove_file(&to)?;
                    fs::create_dir(&to)?;
                }
                None => fs::create_dir(&to)?,
            },
            EntryKind::File | EntryKind::Symlink => {
                match existing {
                    Some(metadata) if metadata.is_dir() => fs::remove_dir_all(&to)?,
                    Some(_) => fs::remove_file(&to)?,
                    None => {}
                }
                if entry.kind == EntryKind::Symlink {
                    std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
                } else if fs::hard_link(&from, &to).is_err() {
                    fs::copy(&from, &to)?;
                }
            }
        }
    }
    Ok(())
}

/// Adds read permission for everyone to every file and folder under `root` (and search
/// permission to folders and to files their owner may run).
fn make_readable(root: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(root, fs::Permissions::from_mode(0o755))?;
    for entry in files::list_skipping(root, &[], &[])? {
        let path = root.join(&entry.relative);
        if entry.kind == EntryKind::Symlink {
            continue;
        }
        let metadata = fs::metadata(&path)?;
        let mode = metadata.permissions().mode();
        let wanted = if entry.kind == EntryKind::Dir || mode & 0o100 != 0 {
            mode | 0o555
        } else {
            mode | 0o444
        };
        if wanted != mode {
            fs::set_permissions(&path, fs::Permissions::from_mode(wanted))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, relative: &str, contents: &str) {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().expect("test paths have a parent")).expect("mkdir");
        fs::write(path, contents).expect("write");
    }

    #[test]
    fn later_layers_win_and_folders_merge() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        write(&first, "python/shared.py", "first");
        write(&first, "python/only_first.py", "first");
        write(&first, "bin/tool", "first");
        write(&second, "python/shared.py", "second");
        write(&second, "bin/tool/inside", "a folder replaces a file");
        let root = dir.path().join("layers");
        let merged = merge_layers("Fn", &[first.clone(), second.clone()], &root)
            .expect("merge")
            .expect("some layers");
        let read = |relative: &str| fs::read_to_string(merged.join(relative)).expect("read");
        assert_eq!(read("python/shared.py"), "second");
        assert_eq!(read("python/only_first.py"), "first");
        assert_eq!(read("bin/tool/inside"), "a folder replaces a file");
        assert!(merged.starts_with(root.join("Fn")));

        let again = merge_layers("Fn", &[first.clone(), second.clone()], &root)
            .expect("merge")
            .expect("some layers");
        assert_eq!(again, merged, "the same layers give the same tree");
        let reversed = merge_layers("Fn", &[second, first], &root)
            .expect("merge")
            .expect("some layers");
        assert_ne!(reversed, merged, "the order is part of the name");
        assert_eq!(
            fs::read_to_string(reversed.join("python/shared.py")).expect("read"),
            "first"
        );
        assert_eq!(merge_layers("Fn", &[], &root).expect("merge"), None);
    }

    #[test]
    fn merged_files_are_readable_by_anyone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let layer = dir.path().join("layer");
        write(&layer, "lib/secret.so", "x");
        write(&layer, "bin/run", "#!/bin/sh\n");
        fs::set_permissions(
            layer.join("lib/secret.so"),
            fs::Permissions::from_mode(0o600),
        )
        .expect("chmod");
        fs::set_permissions(layer.join("bin/run"), fs::Permissions::from_mode(0o700))
            .expect("chmod");
        fs::set_permissions(layer.join("lib"), fs::Permissions::from_mode(0o700)).expect("chmod");
        let merged = merge_layers("Fn", &[layer], &dir.path().join("layers"))
            .expect("merge")
            .expect("some layers");
        let mode = |relative: &str| {
            fs::metadata(merged.join(relative))
                .expect("stat")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("lib/secret.so"), 0o644);
        assert_eq!(mode("bin/run"), 0o755);
        assert_eq!(mode("lib"), 0o755);
    }
}
