//! `serverful logs` (issue #14): the lines `serverful up` and `serverful invoke` keep in
//! the data folder's log store, read back by function, since a time, and followed.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;
use serverful_e2e::{repo_root, run_serverful, serverful_bin, Server};

use crate::client;

/// `serverful logs FUNCTION APP --data DATA ARGS…`: (exit code, stdout, stderr).
fn logs(function: &str, app: &str, data: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["logs", function, app, "--data", data];
    all.extend_from_slice(args);
    run_serverful(&all)
}

/// Runs `serverful logs --json` until `done` holds for its lines (the store writes a
/// moment after the server prints), and returns them.
fn json_lines_until(
    app: &str,
    data: &str,
    args: &[&str],
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut with_json = vec!["--json"];
    with_json.extend_from_slice(args);
    loop {
        let (code, stdout, stderr) = logs("GreeterFunction", app, data, &with_json);
        assert_eq!(code, 0, "{stderr}");
        let lines: Vec<Value> = stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect();
        if done(&lines) {
            return lines;
        }
        assert!(Instant::now() < deadline, "not there yet:\n{stdout}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn messages(lines: &[Value]) -> Vec<&str> {
    lines
        .iter()
        .map(|line| line["message"].as_str().expect("message"))
        .collect()
}

fn has_report_for(lines: &[Value], name: &str) -> bool {
    // The greeting and the REPORT after it share the invocation's request id.
    lines.iter().any(|greeting| {
        greeting["message"] == format!("greeting {name}")
            && lines.iter().any(|report| {
                report["requestId"] == greeting["requestId"]
                    && report["message"]
                        .as_str()
                        .is_some_and(|text| text.starts_with("REPORT RequestId: "))
            })
    })
}

#[test]
fn logs_of_a_running_app_by_function_since_a_time_and_followed() {
    let app_path = repo_root().join("examples/hello");
    let server = Server::start(&app_path, &[]);
    let app = app_path.to_str().expect("utf-8 app path");
    let data = server.data_dir().to_str().expect("utf-8 data path");
    let http = client();
    for name in ["alice", "bob"] {
        let response = http
            .get(server.url(&format!("/hello/{name}")))
            .send()
            .expect("GET /hello");
        assert_eq!(response.status(), 200);
    }

    // Every invocation's START, the function's own line, END and REPORT, in that order
    // and with one request id.
    let lines = json_lines_until(app, data, &[], |lines| {
        has_report_for(lines, "alice") && has_report_for(lines, "bob")
    });
    for name in ["alice", "bob"] {
        let greeting = lines
            .iter()
            .find(|line| line["message"] == format!("greeting {name}"))
            .expect("the function's line");
        let request_id = greeting["requestId"].as_str().expect("a request id");
        let of_request: Vec<&str> = lines
            .iter()
            .filter(|line| line["requestId"] == request_id)
            .map(|line| line["message"].as_str().expect("message"))
            .collect();
        assert_eq!(of_request.len(), 4, "{of_request:#?}");
        assert_eq!(
            of_request[0],
            format!("START RequestId: {request_id} Version: $LATEST")
        );
        assert_eq!(of_request[1], format!("greeting {name}"));
        assert_eq!(of_request[2], format!("END RequestId: {request_id}"));
        assert!(of_request[3].starts_with(&format!("REPORT RequestId: {request_id}\tDuration: ")));
    }
    assert!(lines
        .iter()
        .all(|line| line["stack"] == "hello" && line["function"] == "GreeterFunction"));
    let cursors: Vec<u64> = lines
        .iter()
        .map(|line| {
            line["cursor"]
                .as_str()
                .and_then(|cursor| cursor.parse().ok())
                .expect("a numeric cursor")
        })
        .collect();
    assert!(cursors.windows(2).all(|pair| pair[0] < pair[1]));

    // The text form: time, function, line.
    let (code, stdout, stderr) = logs("GreeterFunction", app, data, &[]);
    assert_eq!(code, 0, "{stderr}");
    let text_line = Regex::new(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z GreeterFunction \| (START|END|REPORT) RequestId: |^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z GreeterFunction \| greeting (alice|bob)$",
    )
    .expect("regex");
    let printed: Vec<&str> = stdout.lines().collect();
    assert!(printed.len() >= 8, "{stdout}");
    for line in &printed {
        assert!(
            text_line.is_match(line) || line.contains(" GreeterFunction | "),
            "{line}"
        );
    }
    assert!(printed
        .iter()
        .any(|line| line.ends_with("GreeterFunction | greeting bob")));

    // --since: a later request, and only its lines.
    std::thread::sleep(Duration::from_secs(3));
    let response = http
        .get(server.url("/hello/carol"))
        .send()
        .expect("GET /hello/carol");
    assert_eq!(response.status(), 200);
    let lines = json_lines_until(app, data, &["--since", "2s"], |lines| {
        has_report_for(lines, "carol")
    });
    let texts = messages(&lines);
    assert!(texts.contains(&"greeting carol"), "{texts:#?}");
    assert!(!texts.contains(&"greeting alice"), "{texts:#?}");
    // An RFC 3339 time: from carol's START on.
    let start = lines
        .iter()
        .find(|line| {
            line["message"]
                .as_str()
                .is_some_and(|text| text.starts_with("START"))
        })
        .expect("carol's START");
    let since = start["timestamp"].as_str().expect("timestamp");
    let (code, stdout, stderr) = logs("GreeterFunction", app, data, &["--since", since]);
    assert_eq!(code, 0, "{stderr}");
    let first = stdout.lines().next().expect("a line");
    assert!(
        first.starts_with(&format!("{since} GreeterFunction | START RequestId: ")),
        "{stdout}"
    );
    assert!(stdout.contains("| greeting carol"), "{stdout}");
    assert!(!stdout.contains("greeting bob"), "{stdout}");
    let (code, stdout, _) = logs("GreeterFunction", app, data, &["--since", "1d"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("greeting alice") && stdout.contains("greeting carol"));

    // -f: the lines kept so far, then a line written after it started.
    let mut follower = Command::new(serverful_bin())
        .args(["logs", "GreeterFunction", app, "--data", data, "-f"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serverful logs -f");
    let (sender, followed) = mpsc::channel();
    let stdout = follower.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |wanted: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match followed.recv_timeout(left) {
                Ok(line) if line.ends_with(wanted) => return,
                Ok(_) => {}
                Err(_) => panic!("`serverful logs -f` never printed `{wanted}`"),
            }
        }
    };
    wait_for("| greeting carol");
    let response = http
        .get(server.url("/hello/dave"))
        .send()
        .expect("GET /hello/dave");
    assert_eq!(response.status(), 200);
    wait_for("| greeting dave");
    assert!(
        follower.try_wait().expect("poll the follower").is_none(),
        "-f keeps running"
    );
    follower.kill().expect("stop the follower");
    let _ = follower.wait();
    reader.join().expect("reader thread");
}

#[test]
fn logs_name_the_functions_that_have_logs_and_say_when_there_are_none() {
    let app_path = repo_root().join("examples/hello");
    let app = app_path.to_str().expect("utf-8 app path");
    let data = tempfile::tempdir().expect("data dir");
    let data = data.path().to_str().expect("utf-8 data path");

    // Nothing has run with this data folder yet.
    let (code, stdout, stderr) = logs("GreeterFunction", app, data, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stderr.contains("has no function logs"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");

    // `serverful invoke` keeps its lines too.
    let event = tempfile::NamedTempFile::new().expect("event file");
    std::fs::write(event.path(), r#"{"pathParameters": {"name": "invoked"}}"#)
        .expect("write the event");
    let event = event.path().to_str().expect("utf-8 event path");
    let (code, _, stderr) = run_serverful(&[
        "invoke",
        "GreeterFunction",
        app,
        "--data",
        data,
        "--event",
        event,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = logs("GreeterFunction", app, data, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("GreeterFunction | START RequestId: "),
        "{stdout}"
    );
    assert!(
        stdout.contains("GreeterFunction | greeting invoked"),
        "{stdout}"
    );
    assert!(
        stdout.contains("GreeterFunction | REPORT RequestId: "),
        "{stdout}"
    );

    // A function of the app that has not run: no lines, and a note.
    let (code, stdout, stderr) = logs("CounterFunction", app, data, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("CounterFunction has no logs in stack hello yet"),
        "{stderr}"
    );

    // A name neither in the app nor in the store.
    let (code, _, stderr) = logs("GreeterFunctoin", app, data, &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("error: no logs for function GreeterFunctoin in stack hello"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: functions with logs: GreeterFunction (stack hello)"),
        "{stderr}"
    );

    // Another stack: the function's lines are found under the one they were kept in.
    let (code, _, stderr) = logs("GreeterFunction", app, data, &["--stack", "prod"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr
            .contains("GreeterFunction has no logs in stack prod yet, but has some in stack hello"),
        "{stderr}"
    );

    // A bad --since says what it takes.
    let (code, _, stderr) = logs("GreeterFunction", app, data, &["--since", "yesterday"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("RFC 3339"), "{stderr}");
}

#[test]
fn logs_of_a_served_stack_come_through_the_admin_api_by_any_name_and_followed() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let app = repo_root().join("examples/hello");
    let (code, stdout, stderr) = server.admin(&[
        "deploy",
        app.to_str().expect("utf-8 app path"),
        "--stack",
        "greeter",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let physical = Regex::new(r"function: GreeterFunction \((greeter-GreeterFunction-[A-Z0-9]+)\)")
        .expect("regex")
        .captures(&stdout)
        .unwrap_or_else(|| panic!("the deploy lists the function's name:\n{stdout}"))[1]
        .to_owned();
    let host = Regex::new(r"ServerlessHttpApi: http://([a-z0-9]+\.execute-api\.localhost)")
        .expect("regex")
        .captures(&stdout)
        .unwrap_or_else(|| panic!("the deploy lists the API's URL:\n{stdout}"))[1]
        .to_owned();
    let http = client();
    let greet = |name: &str| {
        let response = http
            .get(server.url(&format!("/hello/{name}")))
            .header("Host", &host)
            .send()
            .expect("GET /hello");
        assert_eq!(response.status(), 200);
    };
    greet("erin");

    // By logical id (one stack has it, so no --stack) and by physical name; the store
    // writes a moment after the function prints.
    let deadline = Instant::now() + Duration::from_secs(10);
    for name in ["GreeterFunction", physical.as_str()] {
        loop {
            let (code, stdout, stderr) = server.admin(&["logs", name, "--json"]);
            assert_eq!(code, 0, "{stderr}");
            let lines: Vec<Value> = stdout
                .lines()
                .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
                .collect();
            if has_report_for(&lines, "erin") {
                assert!(lines.iter().all(|line| line["stack"] == "greeter"));
                break;
            }
            assert!(Instant::now() < deadline, "not there yet:\n{stdout}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // An unknown function: one line naming those that have logs, exit 1.
    let (code, stdout, stderr) = server.admin(&["logs", "NoSuchFunction"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(
        stderr.contains("no function NoSuchFunction has logs; functions with logs: GreeterFunction (stack greeter)"),
        "{stderr}"
    );

    // -f: follows through the admin API.
    let mut follower = Command::new(serverful_bin())
        .args(["logs", "GreeterFunction", "--stack", "greeter", "-f"])
        .args([
            "--endpoint",
            &server.admin_url,
            "--token",
            &server.admin_token,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serverful logs -f");
    let (sender, followed) = mpsc::channel();
    let stdout = follower.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |wanted: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match followed.recv_timeout(left) {
                Ok(line) if line.ends_with(wanted) => return,
                Ok(_) => {}
                Err(_) => panic!("`serverful logs -f` never printed `{wanted}`"),
            }
        }
    };
    wait_for("| greeting erin");
    greet("frank");
    wait_for("| greeting frank");
    follower.kill().expect("stop the follower");
    let _ = follower.wait();
    reader.join().expect("reader thread");
}
