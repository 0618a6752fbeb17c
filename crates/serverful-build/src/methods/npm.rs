//! The npm build (Node.js's default when there is a `package.json`), as `sam build` runs
//! it: the sources copied, then `npm install` without dev dependencies, or `npm ci` when
//! `BuildProperties: UseNpmCi` asks for it and there is a lock file. `npm install` keeps a
//! lock file that is out of step with `package.json` from stopping the start.

use std::path::Path;

use super::Step;
use crate::tool::ToolCommand;
use crate::BuildError;

pub(super) fn build(step: &mut Step<'_>) -> Result<(), BuildError> {
    step.copy_sources(step.build_dir)?;
    install(step, step.build_dir, Dependencies::Production)
}

/// Which dependencies an install brings in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dependencies {
    /// What the function needs at run time: dev dependencies left out.
    Production,
    /// Dev dependencies too: a bundler (esbuild) and the type packages it reads.
    All,
}

/// Installs the `package.json` in `dir` into `dir/node_modules`.
pub(super) fn install(
    step: &mut Step<'_>,
    dir: &Path,
    dependencies: Dependencies,
) -> Result<(), BuildError> {
    let has_lock_file =
        dir.join("package-lock.json").is_file() || dir.join("npm-shrinkwrap.json").is_file();
    let subcommand = if step.request.properties.use_npm_ci && has_lock_file {
        "ci"
    } else {
        "install"
    };
    let command = ToolCommand::new("npm", dir).arg(subcommand);
    // Explicit either way, so that NODE_ENV=production in the user's shell cannot drop
    // the bundler an esbuild build needs.
    let command = match dependencies {
        Dependencies::Production => command.arg("--omit=dev"),
        Dependencies::All => command.arg("--include=dev"),
    };
    let command = command
        .arg("--no-audit")
        .arg("--no-fund")
        .env("NPM_CONFIG_UPDATE_NOTIFIER", "false");
    step.run(
        &command,
        &format!("npm {subcommand}"),
        "npm",
        "install Node.js with npm (https://nodejs.org)",
    )
}
