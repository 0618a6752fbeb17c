//! `BuildMethod: bundler` (Ruby's default when there is a `Gemfile`), as SAM's Ruby
//! workflow runs it: the sources copied, then `bundle install` without the development
//! and test groups, then again in deployment mode, so the gems are vendored under
//! `vendor/bundle` in the build folder with a `.bundle/config` saying so. Lambda finds
//! them there through `GEM_PATH` (`/var/task/vendor/bundle/ruby/<version>`), and
//! `require "bundler/setup"` finds them through the config.
//!
//! A `vendor/cache` folder (what `bundle cache` makes) means the app ships its gems:
//! they are installed from there with `--local`, without reaching rubygems.org.

use std::path::Path;

use super::Step;
use crate::tool::ToolCommand;
use crate::BuildError;

const HINT: &str = "install Ruby's Bundler (`apt install ruby-bundler`, or `gem install bundler`)";

pub(super) fn build(step: &mut Step<'_>) -> Result<(), BuildError> {
    let code_dir = &step.request.code_dir;
    if !code_dir.join("Gemfile").is_file() {
        return Err(BuildError::ManifestMissing {
            logical_id: step.logical_id().to_owned(),
            method: "bundler".to_owned(),
            manifest: "Gemfile".to_owned(),
            code_dir: code_dir.clone(),
        });
    }
    step.copy_sources(step.build_dir)?;
    let dir = step.build_dir;
    let local = dir.join("vendor").join("cache").is_dir();
    let install: &[&str] = if local {
        &["install", "--local"]
    } else {
        &["install"]
    };
    let what = if local {
        "bundle install --local (gems from vendor/cache)"
    } else {
        "bundle install"
    };
    let commands = [
        bundle(dir, &["config", "set", "--local", "path", "vendor/bundle"]),
        bundle(
            dir,
            &["config", "set", "--local", "without", "development:test"],
        ),
        bundle(dir, install),
        bundle(dir, &["config", "set", "--local", "deployment", "true"]),
        bundle(dir, install),
    ];
    step.run(&commands[0], what, "bundle", HINT)?;
    for command in &commands[1..] {
        step.run_quietly(command, "bundle", HINT)?;
    }
    Ok(())
}

/// `bundle ARGS` in the build folder, with its Gemfile and configuration pinned there
/// whatever the user's environment says.
fn bundle(dir: &Path, args: &[&str]) -> ToolCommand {
    args.iter()
        .fold(ToolCommand::new("bundle", dir), |command, arg| {
            command.arg(*arg)
        })
        .env("BUNDLE_GEMFILE", dir.join("Gemfile"))
        .env("BUNDLE_APP_CONFIG", dir.join(".bundle"))
        .env("BUNDLE_SILENCE_ROOT_WARNING", "1")
}
