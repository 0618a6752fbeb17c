//! `serverful invoke` (issue #3): one invocation without the gateway.

use std::io::Write as _;
use std::process::{Command, Stdio};

use regex::Regex;
use serde_json::{json, Value};
use serverful_e2e::{repo_root, run_serverful, serverful_bin, test_app, Server};

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

/// The ids in the `store-notes` app's table, read with boto3 through `server`'s AWS
/// endpoint.
fn note_ids(server: &Server) -> Vec<String> {
    let script = test_app("store-notes").join("clients/list_ids.py");
    let output = Command::new("python3")
        .arg(&script)
        .envs(server.aws_env())
        .env("NOTES_TABLE", server.output("NotesTableName"))
        .output()
        .expect("run list_ids.py");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON list of ids")
}

/// An event file for the `store-notes` writer: a note `id` with `text`.
fn note_event(id: &str, text: &str) -> tempfile::NamedTempFile {
    let event = tempfile::NamedTempFile::new().expect("event file");
    let body = json!({"pathParameters": {"id": id}, "body": text});
    std::fs::write(event.path(), body.to_string()).expect("write event");
    event
}

#[test]
fn an_invoked_function_writes_to_the_app_data_folders_table_as_under_up() {
    let data = tempfile::tempdir().expect("data dir");
    let app = test_app("store-notes");
    let event = note_event("from-invoke", "written by serverful invoke");
    let (code, stdout, stderr) = run_serverful(&[
        "invoke",
        "NoteWriterFunction",
        app.to_str().expect("utf-8"),
        "--event",
        event.path().to_str().expect("utf-8"),
        "--data",
        data.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let result: Value = serde_json::from_str(&stdout).expect("stdout is the JSON result");
    assert_eq!(result["statusCode"], 201, "{stdout}");
    let body: Value = serde_json::from_str(result["body"].as_str().expect("body")).expect("body");
    assert!(
        body["table"]
            .as_str()
            .is_some_and(|table| table.starts_with("store-notes-NotesTable-")),
        "the function saw the table's CloudFormation-style name: {body}"
    );

    // `up` on the same data folder finds the note in the same table.
    let server = Server::start(&app, &["--data", data.path().to_str().expect("utf-8")]);
    assert_eq!(server.output("NotesTableName"), body["table"]);
    assert_eq!(note_ids(&server), vec!["from-invoke".to_owned()]);
}

#[test]
fn invoke_with_an_endpoint_runs_the_function_of_a_running_server() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let app = test_app("store-notes");
    let (code, stdout, stderr) = server.admin(&[
        "deploy",
        app.to_str().expect("utf-8"),
        "--stack",
        "store-notes",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // By logical id: the server's function writes into the server's table; its log
    // lines of the call follow on stderr.
    let event = note_event("remote-1", "through the admin API");
    let (code, stdout, stderr) = server.admin(&[
        "invoke",
        "NoteWriterFunction",
        "--event",
        event.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let result: Value = serde_json::from_str(&stdout).expect("stdout is the JSON result");
    assert_eq!(result["statusCode"], 201, "{stdout}");
    assert!(
        stderr.contains("NoteWriterFunction | START RequestId:"),
        "the call's log lines: {stderr}"
    );

    // By physical name, in a named stack, at the current version by qualifier.
    let physical =
        Regex::new(r"function: NoteWriterFunction \((store-notes-NoteWriterFunction-[A-Z0-9]+)\)")
            .expect("regex")
            .captures(&server.admin(&["ls"]).1)
            .map(|captures| captures[1].to_owned());
    let name = physical.unwrap_or_else(|| "NoteWriterFunction".to_owned());
    let event = note_event("remote-2", "by its physical name");
    let (code, stdout, stderr) = server.admin(&[
        "invoke",
        &name,
        "--stack-name",
        "store-notes",
        "--qualifier",
        "$LATEST",
        "--event",
        event.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    let (_, outputs, _) = server.admin(&["ls", "--json"]);
    let table = Regex::new(r"store-notes-NotesTable-[A-Z0-9]+")
        .expect("regex")
        .find(&outputs)
        .map(|found| found.as_str().to_owned());
    let table = table.unwrap_or_else(|| panic!("ls names the table:\n{outputs}"));
    let output = Command::new("python3")
        .arg(test_app("store-notes").join("clients/list_ids.py"))
        .envs(server.aws_env())
        .env("NOTES_TABLE", &table)
        .output()
        .expect("run list_ids.py");
    let ids: Vec<String> = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(ids, vec!["remote-1".to_owned(), "remote-2".to_owned()]);

    // A function error prints Lambda's error JSON and exits 1; an unknown function says
    // which functions there are.
    let bad = tempfile::NamedTempFile::new().expect("event file");
    std::fs::write(bad.path(), "{}").expect("write event");
    let (code, stdout, _) = server.admin(&[
        "invoke",
        "NoteWriterFunction",
        "--event",
        bad.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 1, "{stdout}");
    let error: Value = serde_json::from_str(&stdout).expect("Lambda's error JSON");
    assert_eq!(error["errorType"], "KeyError", "{stdout}");
    let (code, _, stderr) = server.admin(&["invoke", "NoSuchFunction"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("has no function named NoSuchFunction")
            && stderr.contains("NoteWriterFunction (store-notes)"),
        "{stderr}"
    );
}
