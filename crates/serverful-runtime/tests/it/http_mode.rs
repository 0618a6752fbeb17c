//! HTTP-mode functions through the runtime: leases on a ready web server, drains that wait
//! for leased requests, scale to zero, direct invocations and start-up failures. The web
//! server is Python's own `http.server`, started by `run.sh`.

use std::time::Duration;

use bytes::Bytes;
use serverful_runtime::{HttpOutcome, InvokeError, RuntimeError};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::App;

const SERVER: &str = r#"
import http.server, json, os

class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.answer(200, {"path": self.path, "pid": os.getpid(), "port": os.environ["PORT"],
                          "lwaPort": os.environ["AWS_LWA_PORT"],
                          "runtimeApi": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
                          "name": os.environ["AWS_LAMBDA_FUNCTION_NAME"]})

    def do_POST(self):
        length = int(self.headers.get("content-length", 0))
        event = json.loads(self.rfile.read(length))
        self.answer(200, {"path": self.path, "event": event})

    def log_message(self, *args):
        pass

print("serving", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"#;

const RUN: &str = "#!/bin/sh\nexec python3 -u server.py\n";

/// An app with one HTTP-mode function `Web` (and its environment extended by `extra`).
fn web_app(app: &App, extra: &[(&str, &str)]) -> serverful_runtime::FunctionConfig {
    app.write("web", "server.py", SERVER, false);
    app.write("web", "run.sh", RUN, true);
    let mut function = app.function("Web", "python3.12", "run.sh", "web");
    function
        .environment
        .insert("AWS_LWA_PORT".to_owned(), "8080".to_owned());
    for (key, value) in extra {
        function
            .environment
            .insert((*key).to_owned(), (*value).to_owned());
    }
    function
}

/// A plain HTTP/1.0 GET, answered with the body.
async fn get(address: std::net::SocketAddr, path: &str) -> serde_json::Value {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    let (_, body) = answer.split_once("\r\n\r\n").expect("a body");
    serde_json::from_str(body).expect("JSON")
}

#[tokio::test]
async fn a_lease_is_a_ready_server_on_its_own_port() {
    let app = App::new();
    let lambda_mode = app.function("Plain", "python3.12", "app.handler", "plain");
    app.write(
        "plain",
        "app.py",
        "def handler(event, context):\n    return 1\n",
        false,
    );
    let (runtime, _) = app.runtime(vec![web_app(&app, &[]), lambda_mode]);
    assert!(runtime.is_http_mode("Web"));
    assert!(!runtime.is_http_mode("Plain"));
    assert!(matches!(runtime.http_lease("Plain").await, Ok(None)));
    assert!(matches!(
        runtime.http_lease("Nobody").await,
        Err(InvokeError::NoSuchFunction(_))
    ));

    let lease = runtime
        .http_lease("Web")
        .await
        .expect("started")
        .expect("HTTP mode");
    assert_eq!(lease.timeout(), Duration::from_secs(3));
    let seen = get(lease.address(), "/hello?x=1").await;
    assert_eq!(seen["path"], "/hello?x=1");
    assert_eq!(seen["port"], lease.address().port().to_string());
    assert_eq!(seen["lwaPort"], seen["port"]);
    assert_eq!(seen["runtimeApi"], serde_json::Value::Null);
    assert_eq!(seen["name"], "app-Web-0123456789AB");
    let request_id = lease.request_id().to_owned();
    let context: serde_json::Value =
        serde_json::from_str(lease.lambda_context()).expect("context JSON");
    assert_eq!(context["request_id"], request_id.as_str());
    assert_eq!(
        context["invoked_function_arn"],
        "arn:aws:lambda:eu-west-1:111122223333:function:app-Web-0123456789AB"
    );
    assert_eq!(
        context["env_config"]["function_name"],
        "app-Web-0123456789AB"
    );
    assert_eq!(context["env_config"]["memory"], 128);
    assert_eq!(
        context["env_config"]["log_group"],
        "/aws/lambda/app-Web-0123456789AB"
    );
    assert!(context["deadline"].as_u64().expect("deadline") > 1_700_000_000_000);
    assert!(context["xray_trace_id"]
        .as_str()
        .expect("trace id")
        .starts_with("Root=1-"));
    lease.finish(HttpOutcome::Responded { status: 200 }).await;

    // The next request finds the same, warm server.
    let again = runtime
        .http_lease("Web")
        .await
        .expect("warm")
        .expect("HTTP mode");
    assert_eq!(get(again.address(), "/").await["pid"], seen["pid"]);
    again.finish(HttpOutcome::Responded { status: 200 }).await;

    let lines = app.logs.lines();
    let mine: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains(&request_id))
        .collect();
    assert_eq!(mine.len(), 3, "{lines:#?}");
    assert!(mine[0].starts_with("START RequestId: "));
    assert!(mine[1].starts_with("END RequestId: "));
    assert!(mine[2].starts_with("REPORT RequestId: "));
    assert!(mine[2].contains("Init Duration: "), "{}", mine[2]);
    assert!(lines.iter().any(|line| line == "serving"), "{lines:#?}");
    let stats = runtime.stats();
    let web = stats.iter().find(|s| s.function == "Web").expect("stats");
    assert_eq!((web.successes, web.cold_starts, web.instances), (2, 1, 1));
    runtime.shutdown().await;
}

#[tokio::test]
async fn drain_waits_for_a_leased_request() {
    let app = App::new();
    let (runtime, _) = app.runtime(vec![web_app(&app, &[])]);
    let runtime = std::sync::Arc::new(runtime);
    let lease = runtime
        .http_lease("Web")
        .await
        .expect("started")
        .expect("HTTP mode");
    let draining = {
        let runtime = runtime.clone();
        tokio::spawn(async move { runtime.drain(Duration::from_secs(10)).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !draining.is_finished(),
        "the leased request is still running"
    );
    lease.finish(HttpOutcome::Responded { status: 200 }).await;
    let left = tokio::time::timeout(Duration::from_secs(5), draining)
        .await
        .expect("drain ends once the request ends")
        .expect("drain task");
    assert_eq!(left, 0);
    assert!(matches!(
        runtime.http_lease("Web").await,
        Err(InvokeError::ShuttingDown)
    ));
}

#[tokio::test]
async fn idle_servers_scale_to_zero_and_timed_out_ones_are_replaced() {
    let mut app = App::new();
    app.idle_timeout = Some(Duration::from_millis(200));
    let (runtime, _) = app.runtime(vec![web_app(&app, &[])]);
    let lease = runtime
        .http_lease("Web")
        .await
        .expect("started")
        .expect("HTTP mode");
    let first_pid = get(lease.address(), "/").await["pid"].clone();
    // A running request keeps the server alive past the idle timeout.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(runtime.stats()[0].instances, 1);
    lease.finish(HttpOutcome::Responded { status: 200 }).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while runtime.stats()[0].instances > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(runtime.stats()[0].instances, 0, "scaled to zero");

    let lease = runtime
        .http_lease("Web")
        .await
        .expect("started again")
        .expect("HTTP mode");
    let second_pid = get(lease.address(), "/").await["pid"].clone();
    assert_ne!(first_pid, second_pid);
    lease.finish(HttpOutcome::TimedOut).await;
    let lease = runtime
        .http_lease("Web")
        .await
        .expect("a new server after a timeout")
        .expect("HTTP mode");
    assert_ne!(get(lease.address(), "/").await["pid"], second_pid);
    lease.finish(HttpOutcome::Responded { status: 200 }).await;
    let stats = &runtime.stats()[0];
    assert_eq!(
        (stats.cold_starts, stats.timeouts, stats.successes),
        (3, 1, 2)
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn direct_invocations_go_to_the_pass_through_path() {
    let app = App::new();
    let (runtime, _) = app.runtime(vec![web_app(
        &app,
        &[("AWS_LWA_PASS_THROUGH_PATH", "/lambda-events")],
    )]);
    let answer = runtime
        .invoke("Web", Bytes::from_static(br#"{"source":"aws.events"}"#))
        .await
        .expect("answered");
    let answer: serde_json::Value = serde_json::from_slice(&answer).expect("JSON");
    assert_eq!(
        answer,
        serde_json::json!({"path": "/lambda-events", "event": {"source": "aws.events"}})
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_server_that_exits_at_start_is_an_init_error() {
    let app = App::new();
    app.write(
        "broken",
        "run.sh",
        "#!/bin/sh\necho 'no config' >&2\nexit 1\n",
        true,
    );
    let mut function = app.function("Broken", "nodejs20.x", "run.sh", "broken");
    function
        .environment
        .insert("AWS_LWA_PORT".to_owned(), "3000".to_owned());
    let (runtime, _) = app.runtime(vec![function]);
    let started = std::time::Instant::now();
    let error = match runtime.http_lease("Broken").await {
        Err(InvokeError::FunctionError(error)) => error,
        other => panic!("expected an init error, got {other:?}"),
    };
    assert!(started.elapsed() < Duration::from_secs(5));
    let error: serde_json::Value = serde_json::from_slice(&error).expect("error JSON");
    assert_eq!(error["errorType"], "Runtime.ExitError");
    let lines = app.logs.lines();
    assert!(lines.iter().any(|line| line == "no config"), "{lines:#?}");
    assert!(
        lines.iter().any(|line| line
            .ends_with("Init error: the web server exited before it was ready: exit status 1")),
        "{lines:#?}"
    );
    assert!(lines
        .iter()
        .any(|line| line.starts_with("INIT_REPORT") && line.contains("Runtime.ExitError")));
    runtime.shutdown().await;
}

#[test]
fn start_up_checks_name_the_problem() {
    let app = App::new();
    let mut missing = app.function("Missing", "nodejs20.x", "run.sh", "missing");
    missing
        .environment
        .insert("AWS_LWA_PORT".to_owned(), "3000".to_owned());
    let error =
        serverful_runtime::Runtime::new(vec![missing], app.options()).expect_err("no run.sh");
    assert!(
        matches!(error, RuntimeError::MissingStartScript { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("HTTP-mode function"), "{error}");

    // Validation runs outside any tokio runtime, as the binary's start-up may.
    let (runtime, warnings) =
        serverful_runtime::Runtime::new(vec![web_app(&app, &[])], app.options())
            .expect("a valid HTTP-mode function");
    assert!(
        warnings.is_empty(),
        "no interpreter is probed: {warnings:?}"
    );
    assert!(runtime.is_http_mode("Web"));
    drop(runtime);

    let mut bad = web_app(&app, &[("AWS_LWA_READINESS_CHECK_PROTOCOL", "udp")]);
    bad.name = "Bad".to_owned();
    let error = serverful_runtime::Runtime::new(vec![bad], app.options()).expect_err("bad setting");
    assert_eq!(
        error.to_string(),
        r#"Bad: AWS_LWA_READINESS_CHECK_PROTOCOL="udp": use `http` or `tcp`"#
    );
}

#[tokio::test]
async fn requests_waiting_for_a_failed_start_share_its_error() {
    let app = App::new();
    app.write("slow", "run.sh", "#!/bin/sh\nsleep 1\nexit 2\n", true);
    let mut function = app.function("Slow", "nodejs20.x", "run.sh", "slow");
    function
        .environment
        .insert("AWS_LWA_PORT".to_owned(), "3000".to_owned());
    let (runtime, _) = app.runtime(vec![function]);
    let runtime = std::sync::Arc::new(runtime);
    let started = std::time::Instant::now();
    let requests: Vec<_> = (0..4)
        .map(|_| {
            let runtime = runtime.clone();
            tokio::spawn(async move { runtime.http_lease("Slow").await })
        })
        .collect();
    for request in requests {
        let result = request.await.expect("request task");
        assert!(
            matches!(result, Err(InvokeError::FunctionError(_))),
            "{result:?}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "one failed start, not four in turn: {:?}",
        started.elapsed()
    );
    let stats = &runtime.stats()[0];
    assert_eq!(
        (stats.cold_starts, stats.errors, stats.in_flight),
        (1, 4, 0)
    );
    // A later request tries again.
    assert!(runtime.http_lease("Slow").await.is_err());
    assert_eq!(runtime.stats()[0].cold_starts, 2);
    runtime.shutdown().await;
}

/// Warming an HTTP-mode function starts its web server and waits until it is ready; the
/// first lease then shares that server. A server that exits at start fails the warm-up
/// with its exit and last lines.
#[tokio::test]
async fn warm_starts_the_server_or_reports_why_it_did_not() {
    let app = App::new();
    app.write(
        "broken",
        "run.sh",
        "#!/bin/sh\necho 'no config' >&2\nexit 1\n",
        true,
    );
    let mut broken = app.function("Broken", "nodejs20.x", "run.sh", "broken");
    broken
        .environment
        .insert("AWS_LWA_PORT".to_owned(), "3000".to_owned());
    let (runtime, _) = app.runtime(vec![web_app(&app, &[]), broken]);

    runtime.warm("Web").await.expect("the server starts");
    // Warm already: a second warm-up starts nothing.
    runtime.warm("Web").await.expect("still warm");
    let lease = runtime
        .http_lease("Web")
        .await
        .expect("lease")
        .expect("HTTP mode");
    let answer = get(lease.address(), "/hello").await;
    assert_eq!(answer["path"], "/hello");
    lease.finish(HttpOutcome::Responded { status: 200 }).await;
    let stats = runtime.stats();
    let web = stats.iter().find(|s| s.function == "Web").expect("Web");
    assert_eq!((web.cold_starts, web.instances), (1, 1));

    let Err(serverful_runtime::WarmError::Init { function, failure }) =
        runtime.warm("Broken").await
    else {
        panic!("a server that exits at start fails its warm-up");
    };
    assert_eq!(function, "Broken");
    assert_eq!(failure.error_type, "Runtime.ExitError");
    assert_eq!(
        failure.error_message,
        "the web server exited before it was ready: exit status 1"
    );
    assert_eq!(failure.exit.as_deref(), Some("exit status 1"));
    assert!(
        failure.last_lines.iter().any(|line| line == "no config"),
        "{failure:#?}"
    );
    runtime.shutdown().await;
}
