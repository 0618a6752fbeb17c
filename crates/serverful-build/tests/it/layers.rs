//! Layer builds (issue #13): a layer is built as `sam build` builds it, by its
//! `BuildMethod`, cached by content hash, and a function's layers merge into one tree.

use std::fs;

use serverful_build::{
    build_layers, merge_layers, BuildError, BuildEvent, LayerBuildKind, LayerOutput, LayerRequest,
};

use crate::{assert_no_temporary_entries, App};

impl App {
    fn layer(&self, logical_id: &str, folder: &str, build_method: Option<&str>) -> LayerRequest {
        LayerRequest {
            logical_id: logical_id.to_owned(),
            content_dir: self.path(folder),
            build_method: build_method.map(str::to_owned),
        }
    }

    fn build_layers(
        &self,
        requests: &[LayerRequest],
    ) -> (Result<Vec<LayerOutput>, BuildError>, Vec<String>) {
        let mut events = Vec::new();
        let result = build_layers(requests, &self.options, &mut |event| {
            events.push(describe(&event));
        });
        (result, events)
    }

    fn build_layer(&self, request: LayerRequest) -> (LayerOutput, Vec<String>) {
        let (result, events) = self.build_layers(std::slice::from_ref(&request));
        match result {
            Ok(mut outputs) => (outputs.remove(0), events),
            Err(error) => panic!("build of layer {} failed: {error}", request.logical_id),
        }
    }
}

fn describe(event: &BuildEvent<'_>) -> String {
    match event {
        BuildEvent::Started { logical_id, what } => format!("{logical_id}: started {what}"),
        BuildEvent::Warning {
            logical_id,
            message,
        } => format!("{logical_id}: warning {message}"),
        BuildEvent::Finished { logical_id, cached } => {
            format!("{logical_id}: finished cached={cached}")
        }
    }
}

#[test]
fn python_layer_installs_requirements_under_python() {
    let app = App::new();
    app.write("layers/deps/requirements.txt", "six\n");
    app.write("layers/deps/greeting.py", "HELLO = 'hi'\n");
    let request = app.layer("DepsLayer", "layers/deps", Some("python3.12"));
    let (output, events) = app.build_layer(request.clone());
    assert_eq!(
        events,
        [
            "DepsLayer: started pip install",
            "DepsLayer: finished cached=false"
        ]
    );
    assert_eq!(output.kind, LayerBuildKind::Pip);
    assert!(output
        .dir
        .starts_with(app.options.build_root.join("DepsLayer")));
    assert!(output.dir.join("python/six.py").is_file(), "installed");
    assert!(output.dir.join("python/greeting.py").is_file(), "copied");
    assert!(!app.path("layers/deps/six.py").exists(), "source untouched");
    assert_no_temporary_entries(&app.options.build_root.join("DepsLayer"));

    let (again, events) = app.build_layer(request.clone());
    assert!(again.cached);
    assert_eq!(again.dir, output.dir);
    assert_eq!(events, ["DepsLayer: finished cached=true"]);

    app.write("layers/deps/greeting.py", "HELLO = 'hello'\n");
    let (edited, _) = app.build_layer(request);
    assert!(!edited.cached);
    assert_ne!(edited.dir, output.dir);
}

#[test]
fn node_layer_installs_package_json_under_nodejs() {
    let app = App::new();
    app.write(
        "layers/node/package.json",
        r#"{"name":"shared","version":"1.0.0","dependencies":{"is-number":"^7.0.0"}}"#,
    );
    let (output, events) =
        app.build_layer(app.layer("NodeLayer", "layers/node", Some("nodejs20.x")));
    assert_eq!(
        events,
        [
            "NodeLayer: started npm install",
            "NodeLayer: finished cached=false"
        ]
    );
    assert_eq!(output.kind, LayerBuildKind::Npm);
    assert!(output
        .dir
        .join("nodejs/node_modules/is-number/package.json")
        .is_file());
}

#[test]
fn makefile_layer_builds_into_artifacts_dir() {
    let app = App::new();
    app.write(
        "layers/tools/Makefile",
        "build-ToolsLayer:\n\tmkdir -p \"$(ARTIFACTS_DIR)/bin\"\n\tprintf '#!/bin/sh\\necho made\\n' > \"$(ARTIFACTS_DIR)/bin/made\"\n\tchmod +x \"$(ARTIFACTS_DIR)/bin/made\"\n",
    );
    let (output, events) =
        app.build_layer(app.layer("ToolsLayer", "layers/tools", Some("makefile")));
    assert_eq!(
        events,
        [
            "ToolsLayer: started make build-ToolsLayer",
            "ToolsLayer: finished cached=false"
        ]
    );
    assert_eq!(output.kind, LayerBuildKind::Makefile);
    assert!(output.dir.join("bin/made").is_file());
    assert!(!output.dir.join("Makefile").exists(), "only ARTIFACTS_DIR");
}

#[test]
fn layer_without_build_method_is_its_folder_with_its_packages() {
    let app = App::new();
    app.write(
        "layers/plain/nodejs/node_modules/shout/index.js",
        "module.exports = (text) => text.toUpperCase();\n",
    );
    app.write("layers/plain/python/helper.py", "X = 1\n");
    app.write("layers/plain/python/__pycache__/helper.cpython-311.pyc", "");
    app.write("layers/plain/.git/HEAD", "ref: refs/heads/main\n");
    let (output, events) = app.build_layer(app.layer("PlainLayer", "layers/plain", None));
    assert_eq!(events, ["PlainLayer: finished cached=false"]);
    assert_eq!(output.kind, LayerBuildKind::Copy);
    assert!(
        output
            .dir
            .join("nodejs/node_modules/shout/index.js")
            .is_file(),
        "a layer's node_modules is its content"
    );
    assert!(output.dir.join("python/helper.py").is_file());
    assert!(!output.dir.join("python/__pycache__").exists());
    assert!(!output.dir.join(".git").exists());
}

#[test]
fn unsupported_layer_build_method_warns_and_copies() {
    let app = App::new();
    app.write("layers/java/java/lib/dep.jar", "jar");
    let (output, events) = app.build_layer(app.layer("JavaLayer", "layers/java", Some("java21")));
    assert_eq!(output.kind, LayerBuildKind::Copy);
    assert_eq!(
        events,
        [
            "JavaLayer: warning BuildMethod java21 is not supported for layers; the layer's folder is used as it is (use BuildMethod: makefile to build it)",
            "JavaLayer: finished cached=false"
        ]
    );
    assert!(output.dir.join("java/lib/dep.jar").is_file());
}

#[test]
fn missing_layer_folder_names_the_layer_the_path_and_the_fix() {
    let app = App::new();
    let error = match app
        .build_layers(&[app.layer("GoneLayer", "layers/gone", None)])
        .0
    {
        Ok(outputs) => panic!("expected an error, got {outputs:?}"),
        Err(error) => error,
    };
    assert_eq!(
        error.to_string(),
        format!(
            "cannot build layer GoneLayer: its folder {} does not exist; point ContentUri (Content for AWS::Lambda::LayerVersion) at the folder that holds the layer's files",
            app.path("layers/gone").display()
        )
    );
    assert_eq!(error.logical_id(), "GoneLayer");
}

#[test]
fn built_layers_merge_in_order() {
    let app = App::new();
    app.write("layers/base/python/settings.py", "NAME = 'base'\n");
    app.write("layers/base/python/base_only.py", "");
    app.write("layers/override/python/settings.py", "NAME = 'override'\n");
    let (outputs, _) = app.build_layers(&[
        app.layer("BaseLayer", "layers/base", None),
        app.layer("OverrideLayer", "layers/override", None),
    ]);
    let dirs: Vec<_> = outputs
        .expect("layers build")
        .into_iter()
        .map(|output| output.dir)
        .collect();
    let root = app.path(".serverful/layers");
    let merged = merge_layers("Fn", &dirs, &root)
        .expect("merge")
        .expect("there are layers");
    assert_eq!(
        fs::read_to_string(merged.join("python/settings.py")).expect("read"),
        "NAME = 'override'\n"
    );
    assert!(merged.join("python/base_only.py").is_file());
    assert_no_temporary_entries(&root.join("Fn"));
}

#[test]
fn powertools_typescript_installs_once_as_its_layer() {
    let app = App::with_empty_sdk_cache();
    let packages = [
        "@aws-lambda-powertools/commons",
        "@aws-lambda-powertools/logger",
    ];
    let install = serverful_build::PublicLayerInstall::PowertoolsTypeScript {
        major: 2,
        packages: &packages,
    };
    let mut events = Vec::new();
    let dir = serverful_build::install_public_layer(install, &app.options, "Fn", &mut |event| {
        events.push(describe(&event))
    })
    .expect("installed from npm");
    assert_eq!(
        events,
        ["Fn: started installing Powertools for AWS Lambda (TypeScript) v2 into the shared cache"]
    );
    assert_eq!(dir, app.options.sdk_cache.join("powertools-typescript-v2"));
    let manifest = dir.join("nodejs/node_modules/@aws-lambda-powertools/logger/package.json");
    let manifest = fs::read_to_string(manifest).expect("installed");
    assert!(manifest.contains("\"version\": \"2."), "{manifest}");
    assert!(
        !dir.join("nodejs/package.json").exists(),
        "the layer holds the packages, not our manifest"
    );

    let mut n_started = 0;
    let again =
        serverful_build::install_public_layer(install, &app.options, "Fn", &mut |_| n_started += 1)
            .expect("reused");
    assert_eq!(again, dir);
    assert_eq!(n_started, 0, "installed once");
}
