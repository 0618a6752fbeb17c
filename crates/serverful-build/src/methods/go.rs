//! `BuildMethod: go1.x`, as SAM's Go workflow runs it: `go build` in the code folder (its
//! `go.mod`) for Linux, `GOARCH` from the function's architecture, static
//! (`CGO_ENABLED=0`), into the build folder as `bootstrap` for `provided*` runtimes or
//! under the handler's name for the `go1.x` runtime. The build folder holds only the
//! binary, as SAM's does.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use serverful_catalog::Language;

use super::Step;
use crate::files;
use crate::tool::ToolCommand;
use crate::BuildError;

pub(super) fn build(step: &mut Step<'_>) -> Result<(), BuildError> {
    let request = step.request;
    let output = step
        .build_dir
        .join(output_name(&request.runtime, &request.handler));
    if let Some(parent) = output.parent() {
        fs::create_dir_all(parent)
            .map_err(step.io_error(format!("create {}", parent.display())))?;
    }
    let architecture = step.native_architecture();
    let mut command = ToolCommand::new("go", &request.code_dir).arg("build");
    if request.properties.trim_go_path {
        command = command.arg("-trimpath");
    }
    command = command
        .arg("-o")
        .arg(&output)
        .arg(".")
        .env("GOOS", "linux")
        .env("GOARCH", architecture.goarch())
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", goflags());
    for (key, value) in cache_environment(step.build_root) {
        command = command.env(key, value);
    }
    step.run(
        &command,
        &format!("go build (GOOS=linux GOARCH={})", architecture.goarch()),
        "go",
        "install Go (https://go.dev/dl, or `apt install golang-go`)",
    )
}

/// What the binary is called: Lambda runs `bootstrap` on `provided*` runtimes and the
/// handler on `go1.x`.
fn output_name(runtime: &str, handler: &str) -> String {
    let os_only = serverful_catalog::lookup(runtime)
        .is_some_and(|runtime| runtime.language == Language::OsOnly);
    if os_only || handler.is_empty() {
        "bootstrap".to_owned()
    } else {
        handler.to_owned()
    }
}

/// The user's `GOFLAGS` plus `-buildvcs=false`: the code folder may sit in a checkout
/// whose version control Go cannot query (another user's, or a bare export), and the
/// stamp is of no use to a function. Go applies a `GOFLAGS` flag only where it knows it,
/// so older Go versions are not troubled by it.
fn goflags() -> OsString {
    let mut flags = std::env::var_os("GOFLAGS").unwrap_or_default();
    if !flags.is_empty() {
        flags.push(" ");
    }
    flags.push("-buildvcs=false");
    flags
}

/// A Go build cache and module path under the build root when the user has none Go can
/// write to (no `HOME`, or a read-only one, as for a service account).
fn cache_environment(build_root: &Path) -> Vec<(&'static str, PathBuf)> {
    let home = std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(PathBuf::from);
    let mut environment = Vec::new();
    if std::env::var_os("GOCACHE").is_none() {
        let default = std::env::var_os("XDG_CACHE_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|home| home.join(".cache")));
        if !default.as_deref().is_some_and(can_write) {
            environment.push(("GOCACHE", build_root.join(".go").join("cache")));
        }
    }
    if std::env::var_os("GOPATH").is_none() && !home.as_deref().is_some_and(can_write) {
        environment.push(("GOPATH", build_root.join(".go").join("path")));
    }
    environment
}

/// Whether files can be created at `dir`: in it when it exists, else in its nearest
/// existing ancestor (where Go would create it).
fn can_write(dir: &Path) -> bool {
    let Some(existing) = dir.ancestors().find(|ancestor| ancestor.is_dir()) else {
        return false;
    };
    let probe = files::temp_path(existing, "probe");
    let created = fs::File::create(&probe).is_ok();
    let _ = fs::remove_file(&probe);
    created
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provided_runtimes_get_bootstrap_and_go1x_the_handler() {
        assert_eq!(output_name("provided.al2023", "bootstrap"), "bootstrap");
        assert_eq!(output_name("provided.al2", "hello-world"), "bootstrap");
        assert_eq!(output_name("go1.x", "hello-world"), "hello-world");
        assert_eq!(output_name("go1.x", ""), "bootstrap");
    }

    #[test]
    fn writability_is_probed_where_go_would_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(can_write(&dir.path().join("not/yet/made")));
        assert!(!dir.path().join("not").exists(), "probing creates nothing");
        assert!(!can_write(Path::new("/proc/1/serverful")));
    }
}
