//! Integration tests for `serverful-build`: real pip, npm, esbuild, go, cargo, bundler and
//! make runs against small functions in temporary folders, and deploy sources (folders,
//! zips, git repositories over `file://` and a loopback `git daemon`). The pip, npm and
//! esbuild tests reach PyPI and the npm registry; the others work offline.

mod layers;

use std::fs;
use std::path::{Path, PathBuf};

mod methods;
mod source;

use serverful_build::{
    build_all, Architecture, BuildError, BuildEvent, BuildKind, BuildOptions, BuildOutput,
    BuildRequest,
};

/// A temporary app folder with a build root and an SDK cache. The SDK cache is pre-filled
/// with empty, complete installs so that only the tests about the SDK cache install one.
pub(crate) struct App {
    dir: tempfile::TempDir,
    options: BuildOptions,
}

impl App {
    pub(crate) fn new() -> App {
        let app = App::with_empty_sdk_cache();
        for (folder, module_dir) in [
            ("python", "python"),
            ("node", "node/node_modules"),
            ("node-v2", "node-v2/node_modules"),
        ] {
            fs::create_dir_all(app.options.sdk_cache.join(module_dir)).expect("create fake SDK");
            fs::write(
                app.options
                    .sdk_cache
                    .join(folder)
                    .join(".serverful-complete"),
                "",
            )
            .expect("write marker");
        }
        app
    }

    pub(crate) fn with_empty_sdk_cache() -> App {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = BuildOptions {
            build_root: dir.path().join(".serverful/build"),
            sdk_cache: dir.path().join("sdk"),
            snapshot_unbuilt: false,
        };
        App { dir, options }
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub(crate) fn write(&self, relative: &str, contents: &str) {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().expect("test paths have a parent"))
            .expect("create folder");
        fs::write(path, contents).expect("write file");
    }

    pub(crate) fn request(&self, logical_id: &str, runtime: &str, code_dir: &str) -> BuildRequest {
        BuildRequest::new(logical_id, runtime, self.path(code_dir))
    }

    /// A request with a `Metadata` as a template writes it.
    pub(crate) fn request_with(
        &self,
        logical_id: &str,
        runtime: &str,
        code_dir: &str,
        metadata: serde_json::Value,
    ) -> BuildRequest {
        let mut request = self.request(logical_id, runtime, code_dir);
        request.read_metadata(&metadata).expect("valid metadata");
        request
    }

    pub(crate) fn makefile_request(&self, logical_id: &str, code_dir: &str) -> BuildRequest {
        self.request_with(
            logical_id,
            "provided.al2023",
            code_dir,
            serde_json::json!({"BuildMethod": "makefile"}),
        )
    }

    /// Builds and returns the result with the events as readable lines.
    pub(crate) fn build(
        &self,
        requests: &[BuildRequest],
    ) -> (Result<Vec<BuildOutput>, BuildError>, Vec<String>) {
        let mut events = Vec::new();
        let result = build_all(requests, &self.options, &mut |event| {
            events.push(match event {
                BuildEvent::Started { logical_id, what } => format!("{logical_id}: started {what}"),
                BuildEvent::Warning {
                    logical_id,
                    message,
                } => format!("{logical_id}: warning {message}"),
                BuildEvent::Finished { logical_id, cached } => {
                    format!("{logical_id}: finished cached={cached}")
                }
            })
        });
        (result, events)
    }

    pub(crate) fn build_one(&self, request: BuildRequest) -> (BuildOutput, Vec<String>) {
        let (result, events) = self.build(std::slice::from_ref(&request));
        let mut outputs = match result {
            Ok(outputs) => outputs,
            Err(error) => panic!("build of {} failed: {error}", request.logical_id),
        };
        (outputs.remove(0), events)
    }

    pub(crate) fn build_error(&self, request: BuildRequest) -> BuildError {
        match self.build(&[request]).0 {
            Ok(outputs) => panic!("expected a build error, got {outputs:?}"),
            Err(error) => error,
        }
    }

    /// The build folders of one function, without temporary entries.
    pub(crate) fn builds_of(&self, logical_id: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.options.build_root.join(logical_id))
            .expect("read the function's build folder")
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

pub(crate) fn assert_no_temporary_entries(dir: &Path) {
    let left: Vec<String> = fs::read_dir(dir)
        .expect("read folder")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(
        left.is_empty(),
        "temporary entries left in {}: {left:?}",
        dir.display()
    );
}

#[test]
fn python_requirements_are_installed_once_and_rebuilt_on_edit() {
    let app = App::new();
    app.write(
        "hello/app.py",
        "import six\ndef handler(event, context):\n    return six.PY3\n",
    );
    app.write("hello/requirements.txt", "six\n");
    let request = app.request("Hello", "python3.12", "hello");

    let (first, events) = app.build_one(request.clone());
    assert_eq!(
        events,
        ["Hello: started pip install", "Hello: finished cached=false"]
    );
    assert_eq!(first.kind, BuildKind::Pip);
    assert!(!first.cached);
    assert!(first
        .code_dir
        .starts_with(app.options.build_root.join("Hello")));
    assert!(
        first.code_dir.join("app.py").is_file(),
        "the source is copied"
    );
    assert!(
        first.code_dir.join("six.py").is_file(),
        "the requirement is installed"
    );
    assert!(
        !app.path("hello/six.py").exists(),
        "the source folder is left alone"
    );
    assert_eq!(
        first.python_sdk_path,
        Some(app.options.sdk_cache.join("python"))
    );
    assert_eq!(first.node_sdk_path, None);
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);

    let (second, events) = app.build_one(request.clone());
    assert_eq!(
        events,
        ["Hello: finished cached=true"],
        "nothing runs for an unchanged function"
    );
    assert!(second.cached);
    assert_eq!(second.code_dir, first.code_dir);

    // Python's own caches in the source are not edits.
    app.write("hello/__pycache__/app.cpython-312.pyc", "compiled");
    assert!(app.build_one(request.clone()).0.cached);

    app.write(
        "hello/app.py",
        "def handler(event, context):\n    return 2\n",
    );
    let (third, events) = app.build_one(request.clone());
    assert_eq!(
        events,
        ["Hello: started pip install", "Hello: finished cached=false"]
    );
    assert_ne!(third.code_dir, first.code_dir);
    assert_eq!(
        fs::read_to_string(third.code_dir.join("app.py")).expect("read"),
        "def handler(event, context):\n    return 2\n"
    );
    assert!(first.code_dir.is_dir(), "the previous build is kept");

    app.write(
        "hello/app.py",
        "def handler(event, context):\n    return 3\n",
    );
    let (fourth, _) = app.build_one(request);
    assert!(
        !first.code_dir.exists(),
        "only the newest two builds are kept"
    );
    let mut expected: Vec<String> = [&third, &fourth]
        .iter()
        .map(|output| {
            output
                .code_dir
                .file_name()
                .expect("build folder name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    expected.sort();
    assert_eq!(app.builds_of("Hello"), expected);
}

#[test]
fn node_package_json_is_installed_without_the_source_node_modules() {
    let app = App::new();
    app.write(
        "api/index.js",
        "const isNumber = require('is-number');\nexports.handler = async () => isNumber(1);\n",
    );
    app.write(
        "api/package.json",
        r#"{"name":"api","version":"1.0.0","dependencies":{"is-number":"^7.0.0"},"devDependencies":{"is-odd":"^3.0.1"}}"#,
    );
    app.write(
        "api/node_modules/stale/index.js",
        "left over from a local install",
    );
    let (output, events) = app.build_one(app.request("Api", "nodejs20.x", "api"));
    assert_eq!(
        events,
        ["Api: started npm install", "Api: finished cached=false"]
    );
    assert_eq!(output.kind, BuildKind::Npm);
    assert!(output.code_dir.join("index.js").is_file());
    assert!(output
        .code_dir
        .join("node_modules/is-number/package.json")
        .is_file());
    assert!(
        !output.code_dir.join("node_modules/is-odd").exists(),
        "dev dependencies are omitted"
    );
    assert!(
        !output.code_dir.join("node_modules/stale").exists(),
        "the source's node_modules is not copied"
    );
    assert_eq!(
        output.node_sdk_path,
        Some(app.options.sdk_cache.join("node/node_modules"))
    );
    assert_eq!(output.python_sdk_path, None);

    // A local `npm install` in the source does not invalidate the build.
    app.write("api/node_modules/other/index.js", "");
    assert!(
        app.build_one(app.request("Api", "nodejs20.x", "api"))
            .0
            .cached
    );
}

#[test]
fn makefile_builds_into_artifacts_dir_from_a_scratch_copy() {
    let app = App::new();
    app.write("src/bootstrap.sh", "#!/bin/sh\necho hi\n");
    app.write(
        "src/Makefile",
        "build-MakeFunction:\n\tcp bootstrap.sh intermediate\n\tcp intermediate \"$(ARTIFACTS_DIR)/bootstrap\"\n\tchmod +x \"$(ARTIFACTS_DIR)/bootstrap\"\n",
    );
    let request = app.makefile_request("MakeFunction", "src");
    let (output, events) = app.build_one(request.clone());
    assert_eq!(
        events,
        [
            "MakeFunction: started make build-MakeFunction",
            "MakeFunction: finished cached=false"
        ]
    );
    assert_eq!(output.kind, BuildKind::Makefile);
    assert!(output.code_dir.join("bootstrap").is_file());
    assert!(
        !output.code_dir.join("Makefile").exists(),
        "the output is ARTIFACTS_DIR only"
    );
    assert!(
        !app.path("src/intermediate").exists(),
        "make runs in a scratch copy"
    );
    assert_no_temporary_entries(&app.options.build_root.join("MakeFunction"));
    assert!(app.build_one(request).0.cached);
}

#[test]
fn makefile_without_the_target_is_a_clear_error() {
    let app = App::new();
    app.write("src/Makefile", "build-Other:\n\ttrue\n");
    let request = app.makefile_request("MakeFunction", "src");
    let error = app.build_error(request);
    assert!(
        matches!(error, BuildError::MakeTargetMissing { ref target, .. } if target == "build-MakeFunction"),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.starts_with("cannot build MakeFunction: "),
        "{message}"
    );
    assert!(
        message.contains("has no target `build-MakeFunction`"),
        "{message}"
    );
    assert_no_temporary_entries(&app.options.build_root.join("MakeFunction"));
}

#[test]
fn makefile_build_method_without_a_makefile_is_an_error() {
    let app = App::new();
    app.write("src/main.go", "package main\n");
    let request = app.makefile_request("GoFunction", "src");
    let error = app.build_error(request);
    assert!(
        matches!(error, BuildError::MakefileMissing { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("BuildMethod is makefile but"),
        "{error}"
    );
}

#[test]
fn failing_make_reports_command_status_and_output() {
    let app = App::new();
    app.write(
        "src/Makefile",
        "build-Broken:\n\t@echo compiling\n\t@echo 'error: missing semicolon' >&2; exit 2\n",
    );
    let request = app.makefile_request("Broken", "src");
    match app.build_error(request) {
        BuildError::ToolFailed {
            logical_id,
            command,
            status,
            output,
        } => {
            assert_eq!(logical_id, "Broken");
            assert!(command.starts_with("ARTIFACTS_DIR="), "{command}");
            assert!(command.ends_with(" make build-Broken"), "{command}");
            assert_eq!(status, "exited with status 2");
            assert!(
                output.starts_with("compiling\nerror: missing semicolon"),
                "{output}"
            );
        }
        other => panic!("expected ToolFailed, got {other:?}"),
    }
    assert_eq!(
        app.builds_of("Broken"),
        Vec::<String>::new(),
        "a failed build leaves nothing"
    );
}

#[test]
fn bad_requirement_reports_pips_message() {
    let app = App::new();
    app.write("fn/app.py", "");
    app.write(
        "fn/requirements.txt",
        "serverful-no-such-package-e2f1==0.0.1\n",
    );
    match app.build_error(app.request("Bad", "python3.12", "fn")) {
        BuildError::ToolFailed {
            logical_id,
            command,
            output,
            ..
        } => {
            assert_eq!(logical_id, "Bad");
            assert!(command.contains(" -m pip install "), "{command}");
            assert!(
                output.contains("serverful-no-such-package-e2f1"),
                "pip says which requirement: {output}"
            );
        }
        other => panic!("expected ToolFailed, got {other:?}"),
    }
    assert_eq!(
        app.builds_of("Bad"),
        Vec::<String>::new(),
        "a failed build leaves nothing"
    );
}

#[test]
fn functions_without_manifests_run_from_their_source() {
    let app = App::new();
    app.write("provided/bootstrap", "#!/bin/sh\n");
    app.write("py/app.py", "");
    app.write("js/index.mjs", "");
    let requests = [
        app.request("Provided", "provided.al2023", "provided"),
        app.request("Py", "python3.12", "py"),
        app.request("Js", "nodejs22.x", "js"),
    ];
    let (result, events) = app.build(&requests);
    let outputs = result.expect("nothing to build");
    assert_eq!(
        events,
        [
            "Provided: finished cached=false",
            "Py: finished cached=false",
            "Js: finished cached=false"
        ]
    );
    for (output, request) in outputs.iter().zip(&requests) {
        assert_eq!(output.code_dir, request.code_dir);
        assert_eq!(output.kind, BuildKind::None);
    }
    assert_eq!(
        (
            outputs[0].python_sdk_path.as_ref(),
            outputs[0].node_sdk_path.as_ref()
        ),
        (None, None)
    );
    assert_eq!(
        outputs[1].python_sdk_path,
        Some(app.options.sdk_cache.join("python"))
    );
    assert_eq!(
        outputs[2].node_sdk_path,
        Some(app.options.sdk_cache.join("node/node_modules"))
    );
    assert!(
        !app.options.build_root.exists(),
        "no build folder is made when nothing builds"
    );
}

#[test]
fn snapshots_pin_unbuilt_functions_to_the_content_they_were_built_from() {
    let mut app = App::new();
    app.options.snapshot_unbuilt = true;
    app.write("js/index.js", "v1");
    app.write("js/node_modules/dep/index.js", "dependency");
    let request = app.request("Js", "nodejs20.x", "js");

    let (first, _) = app.build_one(request.clone());
    assert_eq!(first.kind, BuildKind::Snapshot);
    assert_ne!(first.code_dir, request.code_dir, "runs from a copy");
    assert_eq!(
        fs::read_to_string(first.code_dir.join("index.js")).expect("copy"),
        "v1"
    );
    // Dependencies are linked, not copied.
    assert!(fs::symlink_metadata(first.code_dir.join("node_modules"))
        .expect("link")
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::read_to_string(first.code_dir.join("node_modules/dep/index.js")).expect("dependency"),
        "dependency"
    );

    // An edit makes a new snapshot and leaves the old one as it was.
    app.write("js/index.js", "v2");
    let (second, _) = app.build_one(request.clone());
    assert_ne!(second.code_dir, first.code_dir);
    assert_eq!(
        fs::read_to_string(second.code_dir.join("index.js")).expect("copy"),
        "v2"
    );
    assert_eq!(
        fs::read_to_string(first.code_dir.join("index.js")).expect("old copy"),
        "v1"
    );

    // The same content again is the cached snapshot.
    let (third, _) = app.build_one(request);
    assert!(third.cached);
    assert_eq!(third.code_dir, second.code_dir);
}

#[test]
fn functions_bundling_the_sdk_get_no_sdk_path() {
    let app = App::with_empty_sdk_cache();
    app.write("py/app.py", "");
    app.write("py/boto3/__init__.py", "");
    app.write("js/index.js", "");
    app.write(
        "js/node_modules/@aws-sdk/client-dynamodb/package.json",
        "{}",
    );
    let (result, events) = app.build(&[
        app.request("Py", "python3.11", "py"),
        app.request("Js", "nodejs20.x", "js"),
    ]);
    let outputs = result.expect("nothing to build");
    assert_eq!(
        events,
        ["Py: finished cached=false", "Js: finished cached=false"],
        "no SDK install runs"
    );
    assert_eq!(outputs[0].python_sdk_path, None);
    assert_eq!(outputs[1].node_sdk_path, None);
    assert!(!app.options.sdk_cache.exists());
}

#[test]
fn sdk_install_failure_is_a_warning_not_an_error() {
    let mut app = App::with_empty_sdk_cache();
    app.write("not-a-folder", "");
    // The cache path is a file, so creating the cache fails, as it would on a read-only disk.
    app.options.sdk_cache = app.path("not-a-folder");
    app.write("py/app.py", "");
    app.write("py2/app.py", "");
    let (result, events) = app.build(&[
        app.request("Py", "python3.12", "py"),
        app.request("Py2", "python3.12", "py2"),
    ]);
    let outputs = result.expect("the build itself succeeds");
    assert_eq!(outputs[0].python_sdk_path, None);
    assert_eq!(outputs[0].warnings.len(), 1);
    assert!(
        outputs[0].warnings[0].starts_with("could not install boto3 into "),
        "{:?}",
        outputs[0].warnings
    );
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(
        events[0].starts_with("Py: warning could not install boto3"),
        "{events:?}"
    );
    assert_eq!(events[1], "Py: finished cached=false");
    // The install is tried once per build_all; every function without boto3 hears why.
    assert!(
        events[2].starts_with("Py2: warning could not install boto3"),
        "{events:?}"
    );
    assert_eq!(outputs[1].warnings, outputs[0].warnings);
}

#[test]
fn boto3_is_installed_once_into_the_shared_cache() {
    let app = App::with_empty_sdk_cache();
    app.write("py/app.py", "import boto3\n");
    let request = app.request("Py", "python3.12", "py");
    let (output, events) = app.build_one(request.clone());
    assert_eq!(
        events,
        [
            "Py: started installing boto3 into the shared cache",
            "Py: finished cached=false"
        ]
    );
    let sdk_path = output.python_sdk_path.expect("boto3 installed");
    assert_eq!(sdk_path, app.options.sdk_cache.join("python"));
    assert!(sdk_path.join("boto3/__init__.py").is_file());
    assert!(sdk_path.join("botocore").is_dir());
    assert_no_temporary_entries(&app.options.sdk_cache);

    // Another server (another build_all) finds the complete install and runs nothing.
    let (again, events) = app.build_one(request);
    assert_eq!(events, ["Py: finished cached=false"]);
    assert_eq!(again.python_sdk_path, Some(sdk_path));
}

#[test]
fn aws_sdk_v3_is_installed_once_into_the_shared_cache() {
    // The real install of all seven clients takes about 10 s with a warm npm cache.
    let app = App::with_empty_sdk_cache();
    app.write("js/index.mjs", "");
    let request = app.request("Js", "nodejs20.x", "js");
    let (output, events) = app.build_one(request.clone());
    assert_eq!(
        events,
        [
            "Js: started installing the AWS SDK for JavaScript v3 into the shared cache",
            "Js: finished cached=false"
        ]
    );
    let sdk_path = output.node_sdk_path.expect("SDK installed");
    assert_eq!(sdk_path, app.options.sdk_cache.join("node/node_modules"));
    for client in [
        "client-dynamodb",
        "lib-dynamodb",
        "client-sqs",
        "client-sns",
        "client-lambda",
        "client-apigatewaymanagementapi",
        "client-s3",
    ] {
        assert!(
            sdk_path
                .join("@aws-sdk")
                .join(client)
                .join("package.json")
                .is_file(),
            "{client} installed"
        );
    }
    assert_no_temporary_entries(&app.options.sdk_cache);
    let (_, events) = app.build_one(request);
    assert_eq!(events, ["Js: finished cached=false"]);
}

#[test]
fn build_root_inside_the_code_folder_is_not_part_of_the_hash() {
    // `CodeUri: .` with the data folder inside the app under another name than .serverful.
    let mut app = App::new();
    app.options.build_root = app.path("app/data/build");
    app.write("app/app.py", "");
    app.write("app/requirements.txt", "");
    let request = app.request("Root", "python3.12", "app");
    let (first, _) = app.build_one(request.clone());
    assert!(
        !first.code_dir.join("data").exists(),
        "the build root is not copied into itself"
    );
    let (second, events) = app.build_one(request);
    assert_eq!(events, ["Root: finished cached=true"]);
    assert_eq!(second.code_dir, first.code_dir);
}

#[test]
fn unknown_build_method_stops_before_anything_builds() {
    let app = App::new();
    app.write(
        "ok/Makefile",
        "build-Ok:\n\ttouch \"$(ARTIFACTS_DIR)/done\"\n",
    );
    app.write("js/index.js", "");
    let first = app.request_with(
        "Ok",
        "provided.al2023",
        "ok",
        serde_json::json!({"BuildMethod": "makefile"}),
    );
    let second = app.request_with(
        "Js",
        "nodejs20.x",
        "js",
        serde_json::json!({"BuildMethod": "esbiuld"}),
    );
    let (result, events) = app.build(&[first, second]);
    let error = result.expect_err("no such method");
    assert!(
        matches!(error, BuildError::UnknownBuildMethod { ref method, .. } if method == "esbiuld"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "cannot build Js: BuildMethod esbiuld does not exist; use one of makefile, esbuild, go1.x, rust-cargolambda, bundler, maven, gradle, or the runtime's own name (nodejs20.x) for its default build"
    );
    assert!(events.is_empty(), "nothing ran: {events:?}");
    assert!(!app.options.build_root.exists());
}

#[test]
fn unknown_build_properties_are_warned_about() {
    let app = App::new();
    app.write("js/index.js", "");
    let request = app.request_with(
        "Js",
        "nodejs20.x",
        "js",
        serde_json::json!({"BuildProperties": {"Minfy": true}}),
    );
    let (output, events) = app.build_one(request);
    assert_eq!(
        output.warnings,
        ["Metadata.BuildProperties.Minfy is not a property any build method reads; it is ignored"]
    );
    assert_eq!(events.len(), 2, "{events:?}");
}

#[test]
fn the_cache_key_follows_the_architecture_and_properties() {
    let app = App::new();
    app.write(
        "src/Makefile",
        "build-Fn:\n\ttouch \"$(ARTIFACTS_DIR)/done\"\n",
    );
    let request = app.request_with(
        "Fn",
        "provided.al2023",
        "src",
        serde_json::json!({"BuildMethod": "makefile"}),
    );
    let (first, _) = app.build_one(request.clone());
    assert!(app.build_one(request.clone()).0.cached);
    let mut arm = request.clone();
    arm.architecture = Architecture::Arm64;
    let (second, _) = app.build_one(arm);
    assert!(!second.cached);
    assert_ne!(second.code_dir, first.code_dir);
    let mut with_property = request;
    with_property.properties.use_npm_ci = true;
    assert!(!app.build_one(with_property).0.cached);
}

#[test]
fn bad_requests_are_errors_not_panics() {
    let app = App::new();
    let error = app.build_error(app.request("Missing", "python3.12", "nowhere"));
    assert!(
        matches!(error, BuildError::CodeDirMissing { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("cannot build Missing: code folder "),
        "{error}"
    );

    app.write("fn/app.py", "");
    let error = app.build_error(app.request("../escape", "python3.12", "fn"));
    assert!(
        matches!(error, BuildError::InvalidLogicalId { .. }),
        "{error:?}"
    );
    assert_eq!(error.logical_id(), "../escape");
}

/// Writes `package-lock.json` for the `package.json` in `dir` with npm itself.
fn write_lock_file(dir: &Path) {
    let status = std::process::Command::new("npm")
        .args(["install", "--package-lock-only", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("run npm to write the lock file");
    assert!(status.success());
}

#[test]
fn a_lock_file_out_of_step_with_package_json_does_not_stop_the_build() {
    // `sam build` runs `npm install` unless UseNpmCi asks for `npm ci`, so a lock file the
    // user forgot to update after editing package.json still builds.
    let app = App::new();
    app.write("api/index.js", "");
    app.write(
        "api/package.json",
        r#"{"name":"api","version":"1.0.0","dependencies":{"is-number":"^7.0.0"}}"#,
    );
    write_lock_file(&app.path("api"));
    app.write(
        "api/package.json",
        r#"{"name":"api","version":"1.0.0","dependencies":{"is-number":"^7.0.0","is-odd":"^3.0.1"}}"#,
    );
    let (output, events) = app.build_one(app.request("Api", "nodejs20.x", "api"));
    assert_eq!(
        events,
        ["Api: started npm install", "Api: finished cached=false"]
    );
    assert!(output
        .code_dir
        .join("node_modules/is-odd/package.json")
        .is_file());

    // `npm ci` refuses the same lock file, with npm's own explanation.
    let request = app.request_with(
        "Api",
        "nodejs20.x",
        "api",
        serde_json::json!({"BuildProperties": {"UseNpmCi": true}}),
    );
    match app.build_error(request) {
        BuildError::ToolFailed {
            command, output, ..
        } => {
            assert!(command.contains("npm ci"), "{command}");
            assert!(output.contains("is-odd"), "npm names the package: {output}");
        }
        other => panic!("expected ToolFailed, got {other:?}"),
    }
}

#[test]
fn use_npm_ci_with_a_lock_file_means_npm_ci() {
    let app = App::new();
    app.write("api/index.js", "");
    app.write(
        "api/package.json",
        r#"{"name":"api","version":"1.0.0","dependencies":{"is-number":"^7.0.0"}}"#,
    );
    write_lock_file(&app.path("api"));
    let (output, events) = app.build_one(app.request_with(
        "Api",
        "nodejs20.x",
        "api",
        serde_json::json!({"BuildProperties": {"UseNpmCi": true}}),
    ));
    assert_eq!(
        events,
        ["Api: started npm ci", "Api: finished cached=false"]
    );
    assert!(output
        .code_dir
        .join("node_modules/is-number/index.js")
        .is_file());
}

#[test]
fn concurrent_builds_of_one_function_agree() {
    // Two servers starting at once: both build, the first rename wins, both use it.
    let app = App::new();
    app.write(
        "src/Makefile",
        "build-Slow:\n\tsleep 0.3\n\techo $$$$ > \"$(ARTIFACTS_DIR)/built-by\"\n",
    );
    let request = app.makefile_request("Slow", "src");
    let outputs: Vec<BuildOutput> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| app.build_one(request.clone()).0))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("build thread"))
            .collect()
    });
    assert_eq!(outputs[0].code_dir, outputs[1].code_dir);
    assert!(outputs[0].code_dir.join("built-by").is_file());
    assert_eq!(app.builds_of("Slow").len(), 1);
}

#[test]
fn an_interrupted_build_is_not_taken_for_a_complete_one() {
    let app = App::new();
    app.write(
        "src/Makefile",
        "build-Fn:\n\ttouch \"$(ARTIFACTS_DIR)/done\"\n",
    );
    let request = app.makefile_request("Fn", "src");
    // What a build killed half-way leaves: a temporary folder, never the final name.
    app.write(".serverful/build/Fn/.tmp-build-1-0-0/partial", "");
    let (output, events) = app.build_one(request);
    assert_eq!(
        events,
        ["Fn: started make build-Fn", "Fn: finished cached=false"]
    );
    assert!(output.code_dir.join("done").is_file());
    assert!(!output.code_dir.join("partial").exists());
}
