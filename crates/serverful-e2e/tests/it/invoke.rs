//! `serverful invoke` (issue #3): one invocation without the gateway.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use serverful_e2e::{repo_root, run_serverful, serverful_bin, test_app};

/// Runs `serverful invoke ARGS` with `stdin` as standard input: (exit code, stdout, stderr).
fn invoke_with_stdin(args: &[&str], stdin: &str) -> (i32, String, String) {
    let data = tempfile::tempdir().expect("data dir");
    let mut child = Command::new(serverful_bin())
        .arg("invoke")
        .args(args)
        .arg("--data")
        .arg(data.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serverful invoke");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("wait");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn invoke_prints_the_result_on_stdout_and_the_logs_on_stderr() {
    let app = repo_root().join("examples/hello");
    let (code, stdout, stderr) = invoke_with_stdin(
        &[
            "GreeterFunction",
            app.to_str().expect("utf-8"),
            "--event",
            "-",
        ],
        r#"{"pathParameters": {"name": "cli"}}"#,
    );
    assert_eq!(code, 0, "{stderr}");
    let result: Value = serde_json::from_str(&stdout).expect("stdout is the JSON result only");
    assert_eq!(result["message"], "Hello, cli!");
    assert!(
        stderr.contains("GreeterFunction | START RequestId:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("GreeterFunction | greeting cli"),
        "{stderr}"
    );
    assert!(stderr.contains("\tInit Duration: "), "{stderr}");
}

#[test]
fn invoke_from_an_event_file() {
    let event = tempfile::NamedTempFile::new().expect("event file");
    std::fs::write(event.path(), r#"{"pathParameters": {"shape": "object"}}"#)
        .expect("write event");
    let app = test_app("payloads");
    let (code, stdout, stderr) = run_serverful(&[
        "invoke",
        "NodeEcho",
        app.to_str().expect("utf-8"),
        "--event",
        event.path().to_str().expect("utf-8"),
        "--data",
        tempfile::tempdir()
            .expect("data")
            .path()
            .to_str()
            .expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).expect("JSON"),
        json!({"hello": "world"})
    );
}

#[test]
fn a_function_error_prints_lambdas_error_json_and_exits_1() {
    let app = test_app("payloads");
    let (code, stdout, stderr) = invoke_with_stdin(
        &["PythonEcho", app.to_str().expect("utf-8"), "-e", "-"],
        r#"{"rawPath": "/v2/throw"}"#,
    );
    assert_eq!(code, 1, "{stderr}");
    let error: Value = serde_json::from_str(&stdout).expect("error JSON on stdout");
    assert_eq!(error["errorType"], "ValueError");
    assert_eq!(error["errorMessage"], "asked to throw");
    assert!(error["stackTrace"].is_array());
    assert!(
        stderr.contains("[ERROR] ValueError: asked to throw"),
        "{stderr}"
    );
}

#[test]
fn bad_invocations_say_what_to_fix() {
    let app = repo_root().join("examples/hello");
    let app = app.to_str().expect("utf-8");

    let (code, stdout, stderr) = invoke_with_stdin(&["Nope", app], "");
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("no function named Nope")
            && stderr.contains("GreeterFunction, CounterFunction"),
        "{stderr}"
    );

    let (code, _, stderr) =
        invoke_with_stdin(&["GreeterFunction", app, "--event", "-"], "not json");
    assert_eq!(code, 1);
    assert!(
        stderr.contains("not JSON") && stderr.contains("hint:"),
        "{stderr}"
    );

    let (code, _, stderr) = invoke_with_stdin(
        &["GreeterFunction", app, "--event", "/nonexistent/event.json"],
        "",
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot read the event file /nonexistent/event.json"),
        "{stderr}"
    );
}
