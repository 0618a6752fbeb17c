//! Layers (issue #13): local layers used as they are and built with `BuildMethod`, merged
//! in order (later layers over earlier ones), found through `PYTHONPATH`, `NODE_PATH` and
//! `PATH` (and by the Ruby and Java bootstraps) at `/opt` in the sandbox and at the merged
//! folder without one; Powertools named
//! by its public ARN installed from PyPI; another public layer warned about.

use serde_json::Value;
use serverful_e2e::{copy_dir, test_app, up_until_it_fails, Server};

use crate::{client, json_body};

/// `GET path` answered 200, with its JSON body.
fn get(server: &Server, path: &str) -> Value {
    let response = client()
        .get(server.url(path))
        .send()
        .unwrap_or_else(|error| panic!("GET {path}: {error}"));
    let status = response.status();
    let body = json_body(response);
    assert_eq!(status, 200, "GET {path}: {body}\n{}", server.stderr());
    body
}

/// What every run of the app answers, wherever the layers are: `opt` is where they are
/// found (`/opt`, or the merged folder without a sandbox).
fn check_answers(server: &Server, opt: &dyn Fn(&str) -> String) {
    let python = get(server, "/python");
    assert_eq!(python["greeting"], "hello from the base layer");
    assert_eq!(python["settings"], "override", "the later layer wins");
    assert_eq!(
        python["settingsFile"],
        opt("PythonFunction") + "/python/settings.py"
    );
    assert_eq!(
        python["camelized"], "LayersWork",
        "built with pip into python/"
    );
    assert_eq!(
        python["tool"],
        format!("layer-hello ran from {}/bin", opt("PythonFunction"))
    );
    let python_path = python["pythonPath"].as_str().expect("PYTHONPATH");
    assert!(
        python_path.starts_with(&format!(
            "{0}/python/lib/python3.12/site-packages:{0}/python:",
            opt("PythonFunction")
        )),
        "layers first, the shared SDK after them: {python_path}"
    );

    let node = get(server, "/node");
    assert_eq!(node["shouted"], "LAYERS!");
    assert_eq!(
        node["shoutFile"],
        opt("NodeFunction") + "/nodejs/node_modules/shout/index.js"
    );
    assert_eq!(
        node["tool"],
        format!("layer-hello ran from {}/bin", opt("NodeFunction"))
    );
    let node_path = node["nodePath"].as_str().expect("NODE_PATH");
    assert!(
        node_path.starts_with(&format!(
            "{0}/nodejs/node20/node_modules:{0}/nodejs/node_modules:",
            opt("NodeFunction")
        )),
        "{node_path}"
    );

    let ruby = get(server, "/ruby");
    assert_eq!(ruby["shouted"], "LAYERS!");
    assert_eq!(
        ruby["shoutFile"],
        opt("RubyFunction") + "/ruby/lib/shout.rb"
    );

    let java = get(server, "/java");
    assert_eq!(java["greeting"], "hello java from a layer jar");
    assert_eq!(java["jar"], opt("JavaFunction") + "/java/lib/greeter.jar");

    let powertools = get(server, "/powertools");
    assert_eq!(powertools["logger"], "Logger");
    assert_eq!(
        powertools["powertoolsFile"],
        opt("PowertoolsFunction") + "/python/aws_lambda_powertools/__init__.py",
        "Powertools comes from its layer, installed from PyPI"
    );

    let stderr = server.stderr();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("LambdaInsightsExtension"))
        .collect();
    assert_eq!(
        warnings,
        ["warning: layer arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:38, used by NodeFunction, is not in the template and cannot be downloaded; the function runs without it (hint: put the layer's files in a folder and declare it as an AWS::Serverless::LayerVersion with that ContentUri)"],
        "{stderr}"
    );
    assert!(
        !stderr
            .lines()
            .any(|line| line.starts_with("warning: layer") && line.contains("017000801446")),
        "Powertools is provided, not warned about:\n{stderr}"
    );
}

#[test]
fn layers_are_merged_and_found_at_opt_in_the_sandbox() {
    let server = Server::start(&test_app("layers"), &[]);
    assert!(
        server.stdout().contains("sandbox: user/pid/mount"),
        "this test checks the sandbox's /opt; the server said:\n{}",
        server.stdout()
    );
    check_answers(&server, &|_| "/opt".to_owned());
}

#[test]
fn layers_are_found_at_the_merged_folder_without_a_sandbox() {
    let server = Server::start(&test_app("layers"), &["--sandbox", "off"]);
    // The merged folder is DATA/layers/<Function>/<hash>; its hash is not known here, so
    // it is read from where the function found a file of the layer.
    let python = get(&server, "/python");
    let settings_file = python["settingsFile"].as_str().expect("path").to_owned();
    let merged_python = settings_file
        .strip_suffix("/python/settings.py")
        .expect("the layer's file is in python/")
        .to_owned();
    assert!(
        merged_python.contains("/layers/PythonFunction/") && !merged_python.starts_with("/opt"),
        "{merged_python}"
    );
    let node = get(&server, "/node");
    let shout_file = node["shoutFile"].as_str().expect("path").to_owned();
    let merged_node = shout_file
        .strip_suffix("/nodejs/node_modules/shout/index.js")
        .expect("the module is in nodejs/node_modules")
        .to_owned();
    let powertools = get(&server, "/powertools");
    let powertools_file = powertools["powertoolsFile"]
        .as_str()
        .expect("path")
        .to_owned();
    let merged_powertools = powertools_file
        .strip_suffix("/python/aws_lambda_powertools/__init__.py")
        .expect("Powertools is in python/")
        .to_owned();
    let ruby = get(&server, "/ruby");
    let merged_ruby = ruby["shoutFile"]
        .as_str()
        .and_then(|path| path.strip_suffix("/ruby/lib/shout.rb"))
        .expect("the library is in ruby/lib")
        .to_owned();
    let java = get(&server, "/java");
    let merged_java = java["jar"]
        .as_str()
        .and_then(|path| path.strip_suffix("/java/lib/greeter.jar"))
        .expect("the jar is in java/lib")
        .to_owned();
    for merged in [&merged_ruby, &merged_java] {
        assert!(
            merged.contains("/layers/") && !merged.starts_with("/opt"),
            "{merged}"
        );
    }
    check_answers(&server, &|function| match function {
        "PythonFunction" => merged_python.clone(),
        "NodeFunction" => merged_node.clone(),
        "RubyFunction" => merged_ruby.clone(),
        "JavaFunction" => merged_java.clone(),
        _ => merged_powertools.clone(),
    });
}

#[test]
fn a_missing_layer_folder_stops_the_start_naming_the_layer_and_the_fix() {
    let app = tempfile::tempdir().expect("tempdir");
    copy_dir(&test_app("layers"), app.path());
    std::fs::remove_dir_all(app.path().join("layers/override")).expect("remove the layer");
    let (code, stderr) = up_until_it_fails(app.path());
    assert_eq!(code, 1, "{stderr}");
    let expected = format!(
        "error: cannot build layer OverrideLayer: its folder {}/layers/override does not exist; point ContentUri (Content for AWS::Lambda::LayerVersion) at the folder that holds the layer's files",
        app.path().canonicalize().expect("canonical").display()
    );
    assert!(
        stderr.lines().any(|line| line == expected),
        "expected `{expected}` in:\n{stderr}"
    );
}

#[test]
fn a_layer_reference_to_a_function_is_a_template_error_with_its_line() {
    let app = tempfile::tempdir().expect("tempdir");
    copy_dir(&test_app("layers"), app.path());
    let template = app.path().join("template.yaml");
    let text = std::fs::read_to_string(&template).expect("read template");
    std::fs::write(
        &template,
        text.replace(
            "        - !Ref OverrideLayer",
            "        - !Ref NodeFunction",
        ),
    )
    .expect("write template");
    let (code, stderr) = up_until_it_fails(app.path());
    assert_eq!(code, 1, "{stderr}");
    let line = text
        .lines()
        .position(|line| line.contains("- !Ref OverrideLayer"))
        .expect("the template names OverrideLayer")
        + 1;
    assert!(
        stderr.contains(&format!(
            "template.yaml:{line}:16: Resources.PythonFunction.Properties.Layers[2]: 'NodeFunction' is of type AWS::Serverless::Function, not a layer"
        )),
        "{stderr}"
    );
}
