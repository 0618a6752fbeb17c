//! `BuildMethod: esbuild`, as SAM's `nodejs_npm_esbuild` workflow runs it: the sources
//! copied to a scratch folder, their `package.json` installed there with dev dependencies
//! (the bundler and the types it reads usually are dev dependencies), then each entry
//! point bundled into the build folder, which holds nothing else.
//!
//! esbuild is the project's own (`node_modules/.bin/esbuild`, after the install or from
//! the user's) or else the one on PATH, as SAM looks for it.

use std::path::{Path, PathBuf};

use super::npm::{self, Dependencies};
use super::Step;
use crate::tool::ToolCommand;
use crate::{BuildError, BuildProperties};

pub(super) fn build(step: &mut Step<'_>) -> Result<(), BuildError> {
    let entry_points = entry_points(step)?;
    let scratch = step.scratch_copy()?;
    if scratch.path().join("package.json").is_file() {
        npm::install(step, scratch.path(), Dependencies::All)?;
    }
    let program = find_esbuild(scratch.path(), &step.request.code_dir);
    let mut command = ToolCommand::new(&program.to_string_lossy(), scratch.path());
    for entry_point in &entry_points {
        command = command.arg(entry_point);
    }
    for arg in arguments(&step.request.properties, step.build_dir) {
        command = command.arg(arg);
    }
    let hint = format!(
        "add it to the function's dev dependencies (`npm install --save-dev esbuild` in {}) or install it on PATH (`npm install --global esbuild`)",
        step.request.code_dir.display()
    );
    step.run(
        &command,
        &format!("esbuild {}", entry_points.join(" ")),
        "esbuild",
        &hint,
    )
}

/// The entry points to bundle, each checked to exist: `EntryPoints`, else the handler's
/// file as SAM takes it (`app` for `app.lambdaHandler`). A name without an extension
/// means the `.ts` file, else the `.js` one.
fn entry_points(step: &Step<'_>) -> Result<Vec<String>, BuildError> {
    let request = step.request;
    let given = match &request.properties.entry_points {
        Some(list) => list.clone(),
        None => request
            .handler
            .split('.')
            .next()
            .filter(|file| !file.is_empty())
            .map(|file| vec![file.to_owned()])
            .unwrap_or_default(),
    };
    if given.is_empty() {
        return Err(BuildError::InvalidMetadata {
            logical_id: request.logical_id.clone(),
            field: "Metadata.BuildProperties.EntryPoints".to_owned(),
            expected: "the files to bundle".to_owned(),
            found: "empty (and there is no Handler to take the file from)".to_owned(),
        });
    }
    given
        .iter()
        .map(|entry_point| {
            resolve(&request.code_dir, entry_point).ok_or_else(|| BuildError::EntryPointMissing {
                logical_id: request.logical_id.clone(),
                entry_point: entry_point.clone(),
                code_dir: request.code_dir.clone(),
            })
        })
        .collect()
}

fn resolve(code_dir: &Path, entry_point: &str) -> Option<String> {
    if Path::new(entry_point).extension().is_some() {
        return code_dir
            .join(entry_point)
            .is_file()
            .then(|| entry_point.to_owned());
    }
    [".ts", ".js"]
        .iter()
        .map(|extension| format!("{entry_point}{extension}"))
        .find(|candidate| code_dir.join(candidate).is_file())
}

/// The project's esbuild (just installed into the scratch copy, or installed by the user
/// in the code folder), else `esbuild` from PATH.
fn find_esbuild(scratch: &Path, code_dir: &Path) -> PathBuf {
    [scratch, code_dir]
        .iter()
        .map(|dir| dir.join("node_modules/.bin/esbuild"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from("esbuild"))
}

/// esbuild's arguments after the entry points: SAM's fixed ones and defaults (bundle for
/// Node.js, `--target=es2020`, `--format=cjs`, minified), then the properties.
fn arguments(properties: &BuildProperties, out_dir: &Path) -> Vec<String> {
    let mut args = vec![
        "--bundle".to_owned(),
        "--platform=node".to_owned(),
        format!("--outdir={}", out_dir.display()),
    ];
    if properties.target.is_none() {
        args.push("--target=es2020".to_owned());
    }
    if properties.format.is_none() {
        args.push("--format=cjs".to_owned());
    }
    if properties.minify != Some(false) {
        args.push("--minify".to_owned());
    }
    if properties.sourcemap == Some(true) {
        args.push("--sourcemap".to_owned());
    }
    let single = [
        ("target", properties.target.clone()),
        ("format", properties.format.clone()),
        ("main-fields", properties.main_fields.clone()),
        (
            "sources-content",
            properties.sources_content.map(|flag| flag.to_string()),
        ),
    ];
    for (flag, value) in single {
        if let Some(value) = value {
            args.push(format!("--{flag}={value}"));
        }
    }
    let multiple = [
        ("external", &properties.external),
        ("loader", &properties.loader),
        ("out-extension", &properties.out_extension),
        ("banner", &properties.banner),
    ];
    for (flag, values) in multiple {
        args.extend(values.iter().map(|value| format!("--{flag}:{value}")));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sam_defaults_then_the_properties() {
        let out = Path::new("/build");
        assert_eq!(
            arguments(&BuildProperties::default(), out),
            [
                "--bundle",
                "--platform=node",
                "--outdir=/build",
                "--target=es2020",
                "--format=cjs",
                "--minify"
            ]
        );
        let properties = BuildProperties {
            minify: Some(false),
            sourcemap: Some(true),
            target: Some("node20".to_owned()),
            format: Some("esm".to_owned()),
            main_fields: Some("module,main".to_owned()),
            sources_content: Some(false),
            external: vec!["@aws-sdk/*".to_owned(), "pg-native".to_owned()],
            loader: vec![".png=dataurl".to_owned()],
            out_extension: vec![".js=.mjs".to_owned()],
            banner: vec!["js=// built".to_owned()],
            ..BuildProperties::default()
        };
        assert_eq!(
            arguments(&properties, out),
            [
                "--bundle",
                "--platform=node",
                "--outdir=/build",
                "--sourcemap",
                "--target=node20",
                "--format=esm",
                "--main-fields=module,main",
                "--sources-content=false",
                "--external:@aws-sdk/*",
                "--external:pg-native",
                "--loader:.png=dataurl",
                "--out-extension:.js=.mjs",
                "--banner:js=// built",
            ]
        );
    }

    #[test]
    fn entry_points_without_an_extension_prefer_typescript() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("app.ts"), "").expect("write");
        std::fs::write(dir.path().join("app.js"), "").expect("write");
        std::fs::write(dir.path().join("other.js"), "").expect("write");
        assert_eq!(resolve(dir.path(), "app").as_deref(), Some("app.ts"));
        assert_eq!(resolve(dir.path(), "other").as_deref(), Some("other.js"));
        assert_eq!(resolve(dir.path(), "app.js").as_deref(), Some("app.js"));
        assert_eq!(resolve(dir.path(), "missing.ts"), None);
        assert_eq!(resolve(dir.path(), "missing"), None);
    }
}
