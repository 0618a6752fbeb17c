//! The build methods beyond pip, npm and make (issue #13): esbuild, go1.x,
//! rust-cargolambda and bundler, each run for real on a small function, and the SDK v2
//! for old Node.js runtimes.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::json;
use serverful_build::{BuildError, BuildKind};

use crate::{assert_no_temporary_entries, App};

/// The TypeScript function `sam init` makes, with a runtime dependency to bundle.
fn typescript_app(app: &App) {
    app.write(
        "ts/package.json",
        r#"{"name":"hello","version":"1.0.0","private":true,
            "dependencies":{"is-number":"^7.0.0"},
            "devDependencies":{"esbuild":"^0.25.0"}}"#,
    );
    app.write(
        "ts/app.ts",
        "import isNumber from 'is-number';\n\
         import { greeting } from './greeting';\n\
         export const lambdaHandler = async (event: { name?: string }): Promise<object> => {\n\
         \x20 const name: string = event.name ?? 'world';\n\
         \x20 return { message: greeting(name), numeric: isNumber(name) };\n\
         };\n",
    );
    app.write(
        "ts/greeting.ts",
        "export function greeting(name: string): string {\n  return `Hello, ${name}!`;\n}\n",
    );
}

fn esbuild_metadata() -> serde_json::Value {
    json!({
        "BuildMethod": "esbuild",
        "BuildProperties": {
            "Minify": true,
            "Target": "es2020",
            "Sourcemap": true,
            "EntryPoints": ["app.ts"],
        }
    })
}

/// Runs the built handler with Node.js and returns what it printed.
fn call_handler(code_dir: &Path, file: &str, event: &str) -> String {
    let script = format!(
        "require({:?}).lambdaHandler({event}).then(result => console.log(JSON.stringify(result)))",
        code_dir.join(file)
    );
    let output = Command::new("node")
        .args(["-e", &script])
        .output()
        .expect("run node");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn esbuild_installs_dev_dependencies_and_bundles_each_entry_point() {
    let app = App::new();
    typescript_app(&app);
    let request = app.request_with("Hello", "nodejs24.x", "ts", esbuild_metadata());
    let (output, events) = app.build_one(request.clone());
    assert_eq!(
        events,
        [
            "Hello: started npm install",
            "Hello: started esbuild app.ts",
            "Hello: finished cached=false"
        ]
    );
    assert_eq!(output.kind, BuildKind::Esbuild);
    let mut files: Vec<String> = fs::read_dir(&output.code_dir)
        .expect("read the build")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["app.js", "app.js.map"],
        "only the bundle: no sources, no node_modules"
    );
    let bundle = fs::read_to_string(output.code_dir.join("app.js")).expect("read the bundle");
    assert!(!bundle.contains("function greeting"), "minified:\n{bundle}");
    assert_eq!(
        call_handler(&output.code_dir, "app.js", "{name: '42'}"),
        r#"{"message":"Hello, 42!","numeric":true}"#
    );
    assert!(
        !app.path("ts/node_modules").exists(),
        "the source is left alone"
    );
    assert_no_temporary_entries(&app.options.build_root.join("Hello"));
    // The bundle gets the SDK v3 of its runtime, as an external import would need.
    assert_eq!(
        output.node_sdk_path,
        Some(app.options.sdk_cache.join("node/node_modules"))
    );

    assert!(app.build_one(request.clone()).0.cached);
    let mut unminified = request;
    unminified.properties.minify = Some(false);
    let (rebuilt, _) = app.build_one(unminified);
    assert!(!rebuilt.cached, "a property change builds again");
    let bundle = fs::read_to_string(rebuilt.code_dir.join("app.js")).expect("read the bundle");
    assert!(
        bundle.contains("function greeting"),
        "not minified:\n{bundle}"
    );
}

#[test]
fn esbuild_takes_the_entry_point_from_the_handler_and_uses_the_users_esbuild() {
    // No package.json to install from: esbuild comes from the node_modules the user
    // installed in the code folder with npm (the package.json is then removed, so the
    // build has nothing to install itself).
    let app = App::new();
    app.write(
        "js/package.json",
        r#"{"private":true,"devDependencies":{"esbuild":"^0.25.0"}}"#,
    );
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund"])
        .current_dir(app.path("js"))
        .status()
        .expect("run npm");
    assert!(status.success());
    fs::remove_file(app.path("js/package.json")).expect("remove package.json");
    app.write(
        "js/handlers/hello.js",
        "exports.lambdaHandler = async () => ({ answer: 42 });\n",
    );
    let mut request = app.request_with(
        "Js",
        "nodejs20.x",
        "js",
        json!({"BuildMethod": "esbuild", "BuildProperties": {"Format": "cjs"}}),
    );
    request.handler = "handlers/hello.lambdaHandler".to_owned();
    let (output, events) = app.build_one(request);
    assert_eq!(
        events,
        [
            "Js: started esbuild handlers/hello.js",
            "Js: finished cached=false"
        ]
    );
    assert_eq!(
        call_handler(&output.code_dir, "hello.js", "{}"),
        r#"{"answer":42}"#
    );
}

#[test]
fn a_missing_entry_point_names_the_function_the_file_and_the_folder() {
    let app = App::new();
    app.write("ts/index.ts", "");
    let request = app.request_with("Hello", "nodejs24.x", "ts", esbuild_metadata());
    let error = app.build_error(request);
    assert!(
        matches!(error, BuildError::EntryPointMissing { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "cannot build Hello: the esbuild entry point app.ts is not in {} (set Metadata.BuildProperties.EntryPoints to files in the code folder)",
            app.path("ts").display()
        )
    );
}

#[test]
fn a_failing_esbuild_shows_its_own_message() {
    let app = App::new();
    app.write(
        "ts/package.json",
        r#"{"private":true,"devDependencies":{"esbuild":"^0.25.0"}}"#,
    );
    app.write(
        "ts/app.ts",
        "import { nothing } from './missing';\nexport const h = nothing;\n",
    );
    let request = app.request_with("Broken", "nodejs22.x", "ts", esbuild_metadata());
    match app.build_error(request) {
        BuildError::ToolFailed {
            logical_id,
            command,
            output,
            ..
        } => {
            assert_eq!(logical_id, "Broken");
            assert!(command.contains("esbuild app.ts --bundle"), "{command}");
            assert!(
                output.contains("Could not resolve \"./missing\""),
                "esbuild's own error: {output}"
            );
        }
        other => panic!("expected ToolFailed, got {other:?}"),
    }
    assert_eq!(app.builds_of("Broken"), Vec::<String>::new());
}

const GO_MAIN: &str =
    "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from go\") }\n";

#[test]
fn go_builds_a_static_linux_binary_named_for_the_runtime() {
    let app = App::new();
    app.write("go/go.mod", "module hello\n\ngo 1.19\n");
    app.write("go/main.go", GO_MAIN);
    let request = app.request_with(
        "Go",
        "provided.al2023",
        "go",
        json!({"BuildMethod": "go1.x", "BuildProperties": {"TrimGoPath": true}}),
    );
    let (output, events) = app.build_one(request.clone());
    let goarch = if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "amd64"
    };
    assert_eq!(
        events,
        [
            format!("Go: started go build (GOOS=linux GOARCH={goarch})"),
            "Go: finished cached=false".to_owned()
        ]
    );
    assert_eq!(output.kind, BuildKind::GoBuild);
    let bootstrap = output.code_dir.join("bootstrap");
    let ran = Command::new(&bootstrap)
        .output()
        .expect("run the bootstrap");
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "hello from go\n");
    assert_eq!(
        fs::read_dir(&output.code_dir).expect("read").count(),
        1,
        "only the binary"
    );
    assert!(app.build_one(request).0.cached);

    // The go1.x runtime runs the handler's name.
    let mut request = app.request_with("GoOld", "go1.x", "go", json!({"BuildMethod": "go1.x"}));
    request.handler = "hello-world".to_owned();
    let (output, _) = app.build_one(request);
    assert!(output.code_dir.join("hello-world").is_file());
}

#[test]
fn a_failing_go_build_shows_the_compiler_message() {
    let app = App::new();
    app.write("go/go.mod", "module hello\n\ngo 1.19\n");
    app.write(
        "go/main.go",
        "package main\n\nfunc main() { undefinedThing() }\n",
    );
    let request = app.request_with("Go", "provided.al2", "go", json!({"BuildMethod": "go1.x"}));
    match app.build_error(request) {
        BuildError::ToolFailed {
            command, output, ..
        } => {
            assert!(command.contains("GOOS=linux"), "{command}");
            assert!(command.contains("CGO_ENABLED=0"), "{command}");
            assert!(output.contains("undefined: undefinedThing"), "{output}");
        }
        other => panic!("expected ToolFailed, got {other:?}"),
    }
}

/// A dependency-free binary crate printing `message`.
fn rust_crate(app: &App, dir: &str, package: &str, bins: &[(&str, &str)]) {
    let mut manifest =
        format!("[package]\nname = \"{package}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
    for (bin, message) in bins {
        manifest.push_str(&format!(
            "\n[[bin]]\nname = \"{bin}\"\npath = \"src/{bin}.rs\"\n"
        ));
        app.write(
            &format!("{dir}/src/{bin}.rs"),
            &format!("fn main() {{ println!(\"{message}\"); }}\n"),
        );
    }
    app.write(&format!("{dir}/Cargo.toml"), &manifest);
}

fn run_bootstrap(code_dir: &Path) -> String {
    let ran = Command::new(code_dir.join("bootstrap"))
        .output()
        .expect("run the bootstrap");
    String::from_utf8_lossy(&ran.stdout).trim().to_owned()
}

#[test]
fn rust_builds_the_binary_as_bootstrap_and_keeps_its_target_folder() {
    let app = App::new();
    rust_crate(&app, "rs", "hello", &[("hello", "hello from rust")]);
    app.write(
        "rs/Cargo.toml",
        &format!(
            "{}\n[workspace]\n",
            fs::read_to_string(app.path("rs/Cargo.toml")).expect("read")
        ),
    );
    // The user's own `cargo build` output is neither an input nor copied.
    app.write("rs/target/debug/junk", "left over");
    let request = app.request_with(
        "Rust",
        "provided.al2023",
        "rs",
        json!({"BuildMethod": "rust-cargolambda"}),
    );
    let (output, events) = app.build_one(request.clone());
    let cargo_lambda = Command::new("cargo")
        .args(["lambda", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    let expected = if cargo_lambda {
        "Rust: started cargo lambda build --release"
    } else {
        "Rust: started cargo build --release (cargo lambda is not installed)"
    };
    assert_eq!(events, [expected, "Rust: finished cached=false"]);
    assert_eq!(output.kind, BuildKind::CargoLambda);
    assert_eq!(run_bootstrap(&output.code_dir), "hello from rust");
    let target_dir = app.options.build_root.join("Rust/.cargo-target");
    assert!(target_dir.is_dir(), "the target folder is kept");
    // Cargo runs in the code folder and writes the missing Cargo.lock there, as under
    // `sam build`; that is an edit, so the next build runs again (compiling nothing).
    assert!(app.path("rs/Cargo.lock").is_file());
    assert!(!app.build_one(request.clone()).0.cached);
    assert!(app.build_one(request.clone()).0.cached);
    app.write("rs/target/debug/junk", "changed");
    assert!(
        app.build_one(request.clone()).0.cached,
        "cargo's output is not an input"
    );

    // An edit rebuilds incrementally in the kept target folder.
    app.write("rs/src/hello.rs", "fn main() { println!(\"edited\"); }\n");
    let (edited, _) = app.build_one(request);
    assert!(!edited.cached);
    assert_eq!(run_bootstrap(&edited.code_dir), "edited");
    assert!(target_dir.join("release").is_dir() || target_dir.join("lambda").is_dir());
}

#[test]
fn rust_binary_picks_one_of_several_in_a_workspace() {
    let app = App::new();
    app.write(
        "ws/Cargo.toml",
        "[workspace]\nmembers = [\"first\", \"second\"]\nresolver = \"2\"\n",
    );
    rust_crate(&app, "ws/first", "first", &[("first", "one")]);
    rust_crate(
        &app,
        "ws/second",
        "second",
        &[("second-a", "two a"), ("second-b", "two b")],
    );
    let request = |binary: Option<&str>| {
        let properties = binary.map_or(json!({}), |binary| json!({"Binary": binary}));
        app.request_with(
            "Ws",
            "provided.al2023",
            "ws",
            json!({"BuildMethod": "rust-cargolambda", "BuildProperties": properties}),
        )
    };
    let (output, _) = app.build_one(request(Some("second-b")));
    assert_eq!(run_bootstrap(&output.code_dir), "two b");

    let error = app.build_error(request(None));
    assert_eq!(
        error.to_string(),
        format!(
            "cannot build Ws: {} has several binaries (first, second-a, second-b); set Metadata.BuildProperties.Binary to the one this function runs",
            app.path("ws/Cargo.toml").display()
        )
    );
    let error = app.build_error(request(Some("third")));
    assert!(error.to_string().contains("Binary is third but"), "{error}");

    // A member of the workspace as the code folder builds within the workspace.
    let member = app.request_with(
        "Member",
        "provided.al2023",
        "ws/first",
        json!({"BuildMethod": "rust-cargolambda"}),
    );
    let (output, _) = app.build_one(member);
    assert_eq!(run_bootstrap(&output.code_dir), "one");
}

#[test]
fn rust_without_a_cargo_toml_says_so() {
    let app = App::new();
    app.write("rs/main.rs", "");
    let request = app.request_with(
        "Rust",
        "provided.al2",
        "rs",
        json!({"BuildMethod": "rust-cargolambda"}),
    );
    assert_eq!(
        app.build_error(request).to_string(),
        format!(
            "cannot build Rust: BuildMethod is rust-cargolambda but {} has no Cargo.toml",
            app.path("rs").display()
        )
    );
}

/// A Ruby app whose Gemfile needs one gem, shipped in `vendor/cache` as `bundle cache`
/// leaves it, so the install works without rubygems.org.
pub(crate) fn ruby_app(app: &App, dir: &str) {
    app.write(
        "gem-src/greeter.gemspec",
        "Gem::Specification.new do |spec|\n\
         \x20 spec.name = \"greeter\"\n\
         \x20 spec.version = \"0.1.0\"\n\
         \x20 spec.summary = \"Greets\"\n\
         \x20 spec.authors = [\"Serverful\"]\n\
         \x20 spec.files = [\"lib/greeter.rb\"]\n\
         end\n",
    );
    app.write(
        "gem-src/lib/greeter.rb",
        "module Greeter\n  def self.greet(name) = \"Hello, #{name}!\"\nend\n",
    );
    let built = Command::new("gem")
        .args(["build", "greeter.gemspec"])
        .current_dir(app.path("gem-src"))
        .output()
        .expect("run gem build");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    fs::create_dir_all(app.path(&format!("{dir}/vendor/cache"))).expect("mkdir");
    fs::rename(
        app.path("gem-src/greeter-0.1.0.gem"),
        app.path(&format!("{dir}/vendor/cache/greeter-0.1.0.gem")),
    )
    .expect("move the gem");
    app.write(
        &format!("{dir}/Gemfile"),
        "source \"https://rubygems.org\"\n\ngem \"greeter\"\n",
    );
    app.write(
        &format!("{dir}/app.rb"),
        "require \"greeter\"\n\ndef handler(event:, context:)\n  Greeter.greet(event[\"name\"])\nend\n",
    );
}

#[test]
fn bundler_vendors_the_gems_into_vendor_bundle() {
    let app = App::new();
    ruby_app(&app, "rb");
    // Ruby's default build needs no BuildMethod: the Gemfile is enough.
    let request = app.request("Ruby", "ruby3.3", "rb");
    let (output, events) = app.build_one(request.clone());
    assert_eq!(
        events,
        [
            "Ruby: started bundle install --local (gems from vendor/cache)",
            "Ruby: finished cached=false"
        ]
    );
    assert_eq!(output.kind, BuildKind::Bundler);
    assert!(
        output.code_dir.join("app.rb").is_file(),
        "the source is copied"
    );
    let gems: Vec<_> = fs::read_dir(output.code_dir.join("vendor/bundle/ruby"))
        .expect("vendor/bundle/ruby")
        .flatten()
        .map(|version| version.path().join("gems/greeter-0.1.0/lib/greeter.rb"))
        .collect();
    assert_eq!(gems.len(), 1, "{gems:?}");
    assert!(gems[0].is_file(), "{}", gems[0].display());
    let config = fs::read_to_string(output.code_dir.join(".bundle/config")).expect("config");
    assert!(config.contains("BUNDLE_DEPLOYMENT: \"true\""), "{config}");
    assert!(
        config.contains("BUNDLE_PATH: \"vendor/bundle\""),
        "{config}"
    );
    assert!(
        !app.path("rb/vendor/bundle").exists(),
        "the source is left alone"
    );
    assert!(!app.path("rb/Gemfile.lock").exists());

    // Lambda loads vendored gems through GEM_PATH; so does this check.
    let gem_path = gems[0]
        .ancestors()
        .nth(4)
        .expect("vendor/bundle/ruby/<version>");
    let ran = Command::new("ruby")
        .args([
            "-e",
            "require './app'; puts handler(event: {'name' => 'Ruby'}, context: nil)",
        ])
        .current_dir(&output.code_dir)
        .env("GEM_PATH", gem_path)
        .output()
        .expect("run ruby");
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout),
        "Hello, Ruby!\n",
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(app.build_one(request).0.cached);
}

#[test]
fn bundler_without_a_gemfile_says_so() {
    let app = App::new();
    app.write("rb/app.rb", "");
    let request = app.request_with("Ruby", "ruby3.3", "rb", json!({"BuildMethod": "bundler"}));
    assert_eq!(
        app.build_error(request).to_string(),
        format!(
            "cannot build Ruby: BuildMethod is bundler but {} has no Gemfile",
            app.path("rb").display()
        )
    );
}

#[test]
fn old_node_runtimes_get_the_sdk_v2_and_new_ones_v3() {
    let app = App::new();
    app.write("old/index.js", "");
    app.write("bundled/index.js", "");
    app.write("bundled/node_modules/aws-sdk/package.json", "{}");
    app.write("new/index.mjs", "");
    let (result, _) = app.build(&[
        app.request("Old", "nodejs12.x", "old"),
        app.request("Bundled", "nodejs16.x", "bundled"),
        app.request("New", "nodejs18.x", "new"),
    ]);
    let outputs = result.expect("nothing to build");
    assert_eq!(
        outputs[0].node_sdk_path,
        Some(app.options.sdk_cache.join("node-v2/node_modules"))
    );
    assert_eq!(outputs[1].node_sdk_path, None, "bundles its own");
    assert_eq!(
        outputs[2].node_sdk_path,
        Some(app.options.sdk_cache.join("node/node_modules"))
    );
}

#[test]
fn aws_sdk_v2_is_installed_once_into_the_shared_cache() {
    let app = App::with_empty_sdk_cache();
    app.write("js/index.js", "const AWS = require('aws-sdk');\n");
    let request = app.request("Js", "nodejs12.x", "js");
    let (output, events) = app.build_one(request.clone());
    assert_eq!(
        events,
        [
            "Js: started installing the AWS SDK for JavaScript v2 into the shared cache",
            "Js: finished cached=false"
        ]
    );
    let sdk_path = output.node_sdk_path.expect("SDK installed");
    assert_eq!(sdk_path, app.options.sdk_cache.join("node-v2/node_modules"));
    assert!(sdk_path.join("aws-sdk/clients/dynamodb.js").is_file());
    assert_no_temporary_entries(&app.options.sdk_cache);
    let (_, events) = app.build_one(request);
    assert_eq!(events, ["Js: finished cached=false"]);
}
