//! `BuildMethod: rust-cargolambda`: `cargo lambda build --release` when Cargo Lambda is
//! installed (as `sam build` runs it), else `cargo build --release`; either way the
//! function's binary ends up in the build folder as `bootstrap`. The progress line says
//! which of the two ran.
//!
//! Cargo runs in the code folder itself, so a package inside a workspace builds as part
//! of it (and cargo may write a missing `Cargo.lock` there, as `sam build` does); its
//! target folder is kept under the function's build folder between builds, so a rebuild
//! compiles only what changed. `BuildProperties: Binary` picks the binary when the
//! package (or the workspace, when the code folder is its root) has several.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Step;
use crate::tool::{self, ToolCommand};
use crate::{Architecture, BuildError};

const HINT: &str = "install Rust with cargo (https://rustup.rs)";

pub(super) fn build(step: &mut Step<'_>) -> Result<(), BuildError> {
    let request = step.request;
    let code_dir = &request.code_dir;
    let manifest = code_dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::ManifestMissing {
            logical_id: request.logical_id.clone(),
            method: "rust-cargolambda".to_owned(),
            manifest: "Cargo.toml".to_owned(),
            code_dir: code_dir.clone(),
        });
    }
    let binary = choose_binary(step, &manifest)?;
    let architecture = step.native_architecture();
    let target_dir = step.function_dir.join(".cargo-target");
    let built = if cargo_lambda_installed() {
        let command = ToolCommand::new("cargo", code_dir)
            .arg("lambda")
            .arg("build")
            .arg("--release")
            .arg("--bin")
            .arg(&binary)
            // Explicit: Cargo Lambda builds for x86_64 by default, whatever the host.
            .arg("--target")
            .arg(architecture.rust_target())
            .arg("--target-dir")
            .arg(&target_dir);
        step.run(&command, "cargo lambda build --release", "cargo", HINT)?;
        target_dir.join("lambda").join(&binary).join("bootstrap")
    } else {
        let mut command = ToolCommand::new("cargo", code_dir)
            .arg("build")
            .arg("--release")
            .arg("--bin")
            .arg(&binary)
            .arg("--target-dir")
            .arg(&target_dir);
        let mut release_dir = target_dir.clone();
        // For the host, no --target: cargo then shares its build with the user's plain
        // `cargo build` settings and needs no extra standard library installed.
        if Architecture::host() != Some(architecture) {
            command = command.arg("--target").arg(architecture.rust_target());
            release_dir.push(architecture.rust_target());
        }
        step.run(
            &command,
            "cargo build --release (cargo lambda is not installed)",
            "cargo",
            HINT,
        )?;
        release_dir.join("release").join(&binary)
    };
    let bootstrap = step.build_dir.join("bootstrap");
    fs::copy(&built, &bootstrap).map_err(step.io_error(format!(
        "copy the built binary {} to {}",
        built.display(),
        bootstrap.display()
    )))?;
    Ok(())
}

fn cargo_lambda_installed() -> bool {
    tool::probe("cargo", &["lambda", "--version"]) == Some(true)
}

/// The binary to build: `BuildProperties: Binary`, or the only one there is.
fn choose_binary(step: &Step<'_>, manifest: &Path) -> Result<String, BuildError> {
    let command = ToolCommand::new("cargo", &step.request.code_dir)
        .arg("metadata")
        .arg("--no-deps")
        .arg("--format-version")
        .arg("1")
        .arg("--manifest-path")
        .arg(manifest);
    let metadata = step.stdout_of(&command, "cargo", HINT)?;
    let binaries = binaries(&metadata, manifest).map_err(|reason| BuildError::CargoBinary {
        logical_id: step.request.logical_id.clone(),
        reason,
    })?;
    pick(
        &binaries,
        step.request.properties.binary.as_deref(),
        manifest,
    )
    .map_err(|reason| BuildError::CargoBinary {
        logical_id: step.request.logical_id.clone(),
        reason,
    })
}

/// The binary targets of the package whose manifest is `manifest`, or of every workspace
/// member when `manifest` is a workspace's root without a package of its own.
fn binaries(metadata: &str, manifest: &Path) -> Result<Vec<String>, String> {
    let metadata: Value = serde_json::from_str(metadata)
        .map_err(|error| format!("`cargo metadata` did not print JSON ({error})"))?;
    let empty = Vec::new();
    let packages = metadata["packages"].as_array().unwrap_or(&empty);
    let manifest = canonical(manifest);
    let own: Vec<&Value> = packages
        .iter()
        .filter(|package| {
            package["manifest_path"]
                .as_str()
                .is_some_and(|path| canonical(Path::new(path)) == manifest)
        })
        .collect();
    let selected = if own.is_empty() {
        let members: Vec<&str> = metadata["workspace_members"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter_map(Value::as_str)
            .collect();
        packages
            .iter()
            .filter(|package| {
                package["id"]
                    .as_str()
                    .is_some_and(|id| members.contains(&id))
            })
            .collect()
    } else {
        own
    };
    let mut names: Vec<String> = selected
        .iter()
        .flat_map(|package| package["targets"].as_array().unwrap_or(&empty))
        .filter(|target| {
            target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"))
        })
        .filter_map(|target| target["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn pick(binaries: &[String], wanted: Option<&str>, manifest: &Path) -> Result<String, String> {
    let list = binaries.join(", ");
    match (wanted, binaries) {
        (Some(wanted), _) if binaries.iter().any(|name| name == wanted) => Ok(wanted.to_owned()),
        (Some(wanted), []) => Err(format!(
            "Metadata.BuildProperties.Binary is {wanted} but {} has no binary target",
            manifest.display()
        )),
        (Some(wanted), _) => Err(format!(
            "Metadata.BuildProperties.Binary is {wanted} but {} has no such binary (it has {list})",
            manifest.display()
        )),
        (None, [only]) => Ok(only.clone()),
        (None, []) => Err(format!(
            "{} has no binary target (a src/main.rs or a [[bin]] section)",
            manifest.display()
        )),
        (None, _) => Err(format!(
            "{} has several binaries ({list}); set Metadata.BuildProperties.Binary to the one this function runs",
            manifest.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn the_only_binary_or_the_one_named() {
        let manifest = Path::new("/app/Cargo.toml");
        assert_eq!(
            pick(&names(&["hello"]), None, manifest),
            Ok("hello".to_owned())
        );
        assert_eq!(
            pick(&names(&["a", "b"]), Some("b"), manifest),
            Ok("b".to_owned())
        );
        assert_eq!(
            pick(&names(&["a", "b"]), None, manifest),
            Err("/app/Cargo.toml has several binaries (a, b); set Metadata.BuildProperties.Binary to the one this function runs".to_owned())
        );
        assert_eq!(
            pick(&names(&["a", "b"]), Some("c"), manifest),
            Err("Metadata.BuildProperties.Binary is c but /app/Cargo.toml has no such binary (it has a, b)".to_owned())
        );
        assert!(pick(&[], None, manifest)
            .expect_err("none")
            .contains("has no binary target"));
    }

    #[test]
    fn binaries_of_the_package_or_of_the_workspace_members() {
        let metadata = r#"{
            "packages": [
                {"id": "a 0.1.0", "manifest_path": "/ws/a/Cargo.toml",
                 "targets": [{"name": "a", "kind": ["bin"]}, {"name": "a", "kind": ["lib"]}]},
                {"id": "b 0.1.0", "manifest_path": "/ws/b/Cargo.toml",
                 "targets": [{"name": "b-one", "kind": ["bin"]}, {"name": "b-two", "kind": ["bin"]}]}
            ],
            "workspace_members": ["a 0.1.0", "b 0.1.0"]
        }"#;
        assert_eq!(
            binaries(metadata, Path::new("/ws/b/Cargo.toml")),
            Ok(names(&["b-one", "b-two"]))
        );
        assert_eq!(
            binaries(metadata, Path::new("/ws/Cargo.toml")),
            Ok(names(&["a", "b-one", "b-two"]))
        );
        assert!(binaries("warning: not json", Path::new("/ws/Cargo.toml")).is_err());
    }
}
