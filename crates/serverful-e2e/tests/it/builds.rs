//! The build methods of `sam build` (issue #13): a TypeScript function bundled by esbuild,
//! Go built with `go1.x`, Rust with `rust-cargolambda`, Ruby with Bundler and an old
//! Node.js 12 function using the SDK v2 its runtime carried, each answering through the
//! gateway; and the mistakes that stop `serverful up` with a message saying what to fix.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serverful_e2e::{copy_dir, serverful_bin, test_app, Server};

use crate::{client, json_body};

/// A copy of the `builds` app, with the Ruby gem packed into `ruby/vendor/cache` as
/// `bundle cache` leaves it.
fn builds_app() -> tempfile::TempDir {
    let app = tempfile::tempdir().expect("tempdir");
    copy_dir(&test_app("builds"), app.path());
    let gem_source = app.path().join("ruby/greeter");
    let packed = Command::new("gem")
        .args(["build", "greeter.gemspec"])
        .current_dir(&gem_source)
        .output()
        .expect("run `gem build` (Ruby is installed by scripts/install-test-deps.sh)");
    assert!(
        packed.status.success(),
        "{}",
        String::from_utf8_lossy(&packed.stderr)
    );
    let cache = app.path().join("ruby/vendor/cache");
    std::fs::create_dir_all(&cache).expect("create vendor/cache");
    std::fs::rename(
        gem_source.join("greeter-0.1.0.gem"),
        cache.join("greeter-0.1.0.gem"),
    )
    .expect("move the gem into vendor/cache");
    app
}

#[test]
fn every_build_method_answers_through_the_gateway() {
    let app = builds_app();
    let server = Server::start(app.path(), &[]);
    let http = client();
    let get = |path: &str| {
        let response = http.get(server.url(path)).send().expect("GET");
        assert_eq!(response.status(), 200, "{path}\n{}", server.stderr());
        json_body(response)
    };

    let typescript = get("/typescript/42");
    assert_eq!(typescript["message"], "Hello, 42!");
    assert_eq!(typescript["numeric"], true, "is-number was bundled");
    assert_eq!(
        typescript["files"],
        serde_json::json!(["app.js", "app.js.map"]),
        "the function runs from the bundle alone"
    );

    let go = get("/go/Gopher");
    assert_eq!(go["message"], "Hello, Gopher!");
    assert_eq!(go["goos"], "linux");

    let rust = get("/rust/Ferris");
    assert_eq!(rust["message"], "Hello, Ferris!");
    assert_eq!(rust["language"], "rust");

    let ruby = get("/ruby/Matz");
    assert_eq!(ruby["message"], "Hello, Matz!");
    let gem_dir = ruby["gem_dir"].as_str().expect("gem_dir");
    assert!(
        gem_dir.contains("/vendor/bundle/ruby/") && gem_dir.ends_with("/gems/greeter-0.1.0"),
        "the gem was vendored: {gem_dir}"
    );

    let legacy = get("/legacy/note-1");
    assert_eq!(legacy["id"], "note-1");
    assert_eq!(legacy["note"], "written by the SDK v2");
    let sdk_version = legacy["sdkVersion"].as_str().expect("sdkVersion");
    assert!(sdk_version.starts_with("2."), "{sdk_version}");

    let stderr = server.stderr();
    let rust_build = if stderr.contains("cargo lambda build --release") {
        "building RustFunction: cargo lambda build --release"
    } else {
        "building RustFunction: cargo build --release (cargo lambda is not installed)"
    };
    for line in [
        "building TypeScriptFunction: npm install",
        "building TypeScriptFunction: esbuild app.ts",
        "building GoFunction: go build (GOOS=linux GOARCH=",
        rust_build,
        "building RubyFunction: bundle install --local (gems from vendor/cache)",
    ] {
        assert!(stderr.contains(line), "no `{line}` in:\n{stderr}");
    }
}

/// Runs `serverful up` on `app` until it exits (it must, with an error) and returns its
/// exit code and standard error, and how long it ran.
fn up_failing(app: &Path, path_env: Option<&str>) -> (i32, String, Duration) {
    let data = tempfile::tempdir().expect("data dir");
    let mut command = Command::new(serverful_bin());
    command
        .arg("up")
        .arg(app)
        .args([
            "--port",
            "0",
            "--aws-port",
            "0",
            "--admin-port",
            "0",
            "--data",
        ])
        .arg(data.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    if let Some(path) = path_env {
        command.env("PATH", path);
    }
    let started = Instant::now();
    let output = command.output().expect("run serverful");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        started.elapsed(),
    )
}

/// Rewrites the copied template with `edit`.
fn edit_template(app: &Path, edit: impl FnOnce(String) -> String) {
    let path = app.join("template.yaml");
    let text = std::fs::read_to_string(&path).expect("read template");
    std::fs::write(&path, edit(text)).expect("write template");
}

#[test]
fn a_build_method_that_does_not_exist_stops_the_start_before_any_build() {
    let app = tempfile::tempdir().expect("tempdir");
    copy_dir(&test_app("builds"), app.path());
    edit_template(app.path(), |text| {
        text.replace("BuildMethod: go1.x", "BuildMethod: golang")
    });
    let (code, stderr, elapsed) = up_failing(app.path(), None);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr.lines().last().unwrap_or_default(),
        "error: cannot build GoFunction: BuildMethod golang does not exist; use one of makefile, esbuild, go1.x, rust-cargolambda, bundler, maven, gradle, or the runtime's own name (provided.al2023) for its default build",
        "{stderr}"
    );
    assert!(
        !stderr.contains("building "),
        "nothing was built first:\n{stderr}"
    );
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

/// An app with one function of the `builds` app: its code folder `folder` copied, and a
/// template declaring it with `metadata` and `properties` (YAML flow maps).
fn single_function(folder: &str, metadata: &str, properties: &str) -> tempfile::TempDir {
    let app = tempfile::tempdir().expect("tempdir");
    copy_dir(&test_app("builds").join(folder), &app.path().join(folder));
    let template = format!(
        "Transform: AWS::Serverless-2016-10-31\n\
         Resources:\n\
         \x20 Function:\n\
         \x20   Type: AWS::Serverless::Function\n\
         \x20   Metadata: {metadata}\n\
         \x20   Properties: {{CodeUri: {folder}/, {properties}}}\n"
    );
    std::fs::write(app.path().join("template.yaml"), template).expect("write template");
    app
}

/// The TypeScript function alone, with these esbuild properties.
fn typescript_only(build_properties: &str) -> tempfile::TempDir {
    single_function(
        "typescript",
        &format!("{{BuildMethod: esbuild, BuildProperties: {build_properties}}}"),
        "Handler: app.lambdaHandler, Runtime: nodejs24.x",
    )
}

#[test]
fn a_missing_entry_point_names_the_function_the_file_and_the_folder() {
    let app = typescript_only("{EntryPoints: [src/app.ts]}");
    let (code, stderr, _) = up_failing(app.path(), None);
    assert_eq!(code, 1, "{stderr}");
    let code_dir = app.path().join("typescript");
    let expected = format!(
        "error: cannot build Function: the esbuild entry point src/app.ts is not in {} (set Metadata.BuildProperties.EntryPoints to files in the code folder)",
        code_dir.display()
    );
    assert!(
        stderr.lines().any(|line| line == expected),
        "expected `{expected}` in:\n{stderr}"
    );
}

#[test]
fn a_build_property_of_the_wrong_type_names_the_function_and_property() {
    let app = typescript_only("{Minify: [yes]}");
    let (code, stderr, _) = up_failing(app.path(), None);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.lines().any(|line| line
            == "error: cannot build Function: Metadata.BuildProperties.Minify must be true or false, not the list [\"yes\"]"),
        "{stderr}"
    );
}

#[test]
fn esbuild_that_is_not_installed_says_how_to_add_it() {
    // The function does not list esbuild, and PATH has only Node.js and npm.
    let app = typescript_only("{EntryPoints: [app.ts]}");
    std::fs::write(
        app.path().join("typescript/package.json"),
        r#"{"name":"hello","private":true,"dependencies":{"is-number":"^7.0.0"}}"#,
    )
    .expect("write package.json");
    let bin = tempfile::tempdir().expect("bin dir");
    for tool in ["node", "npm"] {
        let found = which(tool).unwrap_or_else(|| panic!("{tool} is installed"));
        std::os::unix::fs::symlink(found, bin.path().join(tool)).expect("link the tool");
    }
    let (code, stderr, _) = up_failing(app.path(), Some(bin.path().to_str().expect("utf-8")));
    assert_eq!(code, 1, "{stderr}");
    let expected = format!(
        "error: cannot build Function: `esbuild` was not found; add it to the function's dev dependencies (`npm install --save-dev esbuild` in {}) or install it on PATH (`npm install --global esbuild`)",
        app.path().join("typescript").display()
    );
    assert!(
        stderr.lines().any(|line| line == expected),
        "expected `{expected}` in:\n{stderr}"
    );
}

#[test]
fn a_compiler_or_bundler_that_is_not_installed_says_what_to_install() {
    let empty_path = tempfile::tempdir().expect("an empty PATH");
    let path = empty_path.path().to_str().expect("utf-8");
    let provided = "Handler: bootstrap, Runtime: provided.al2023";
    for (folder, method, expected) in [
        (
            "go",
            "go1.x",
            "`go` was not found; install Go (https://go.dev/dl, or `apt install golang-go`)",
        ),
        (
            "rust",
            "rust-cargolambda",
            "`cargo` was not found; install Rust with cargo (https://rustup.rs)",
        ),
        (
            "ruby",
            "bundler",
            "`bundle` was not found; install Ruby's Bundler (`apt install ruby-bundler`, or `gem install bundler`)",
        ),
    ] {
        let app = single_function(folder, &format!("{{BuildMethod: {method}}}"), provided);
        let (code, stderr, _) = up_failing(app.path(), Some(path));
        assert_eq!(code, 1, "{stderr}");
        let expected = format!("error: cannot build Function: {expected}");
        assert!(
            stderr.lines().any(|line| line == expected),
            "expected `{expected}` in:\n{stderr}"
        );
    }
}

/// The absolute path of a program on PATH.
fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}
