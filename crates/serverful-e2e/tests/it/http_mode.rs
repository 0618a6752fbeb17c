//! HTTP mode: web servers (Express, FastAPI with uvicorn) run unchanged behind the gateway,
//! configured as for the AWS Lambda Web Adapter.

use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::{json, Value};
use serverful_e2e::{copy_dir, run_serverful, test_app, test_deps_dir, Server};

use crate::{client, json_body};

/// Whether the server runs its functions sandboxed (it says so at start).
fn sandboxed(server: &Server) -> bool {
    server
        .stdout()
        .lines()
        .any(|line| line.starts_with("sandbox: user/"))
}

/// Copies a test app into a fresh folder with the bundles from install-test-deps next to
/// the code, as a user bundles dependencies for Lambda.
fn app_with_bundle(app: &str, bundle: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("app dir");
    copy_dir(&test_app(app), dir.path());
    let from = test_deps_dir().join(bundle);
    if bundle.starts_with("node-") {
        std::os::unix::fs::symlink(from.join("node_modules"), dir.path().join("node_modules"))
            .expect("link node_modules");
    } else {
        copy_dir(&from, dir.path());
    }
    dir
}

fn express_server() -> (tempfile::TempDir, Server) {
    let app = app_with_bundle("express-http", "node-express");
    let server = Server::start(app.path(), &[]);
    (app, server)
}

/// Sends `n` GETs of `url` at once; returns their JSON bodies and how long all took.
fn parallel_gets(url: &str, n: usize) -> (Vec<Value>, Duration) {
    let started = Instant::now();
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let url = url.to_owned();
            std::thread::spawn(move || {
                let response = client().get(&url).send().expect("GET");
                assert_eq!(response.status(), 200);
                json_body(response)
            })
        })
        .collect();
    let bodies = threads
        .into_iter()
        .map(|thread| thread.join().expect("request thread"))
        .collect();
    (bodies, started.elapsed())
}

fn report_line() -> Regex {
    Regex::new(
        r"^ExpressWebFunction \| REPORT RequestId: \S+\tDuration: [0-9.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB\tMax Memory Used: [1-9]\d* MB\t",
    )
    .expect("regex")
}

#[test]
fn express_answers_its_routes_unchanged() {
    let (_app, server) = express_server();
    let http = client();

    let root = http.get(server.url("/")).send().expect("GET /");
    assert_eq!(root.status(), 200);
    assert_eq!(root.text().expect("body"), "express root");

    let user = http
        .get(server.url("/users/7?sort=asc"))
        .header("cookie", "session=abc; theme=dark")
        .header("x-custom", "kept")
        .send()
        .expect("GET user");
    assert_eq!(user.status(), 200);
    assert_eq!(user.headers()["x-powered-by-test"], "express");
    assert!(user.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .starts_with("visited=yes"));
    assert!(
        user.headers().contains_key("x-amzn-requestid"),
        "API Gateway's headers are added"
    );
    let body = json_body(user);
    let port = server
        .base_url
        .rsplit(':')
        .next()
        .expect("port in base url")
        .to_owned();
    assert_eq!(body["id"], "7");
    assert_eq!(body["path"], "/users/7");
    assert_eq!(body["sort"], "asc");
    assert_eq!(body["cookie"], "session=abc; theme=dark");
    assert_eq!(body["custom"], "kept");
    assert_eq!(body["forwardedFor"], "127.0.0.1");
    assert_eq!(body["forwardedProto"], "http");
    assert_eq!(body["forwardedPort"], port.as_str());
    assert_eq!(body["greeting"], "hello from the template");
    let name = server.function_name("ExpressWebFunction");
    assert_eq!(body["functionName"], name.as_str());
    // Sandboxed, each server listens on the template's port in its own network
    // namespace; otherwise each instance gets a free port of the host.
    if sandboxed(&server) {
        assert_eq!(
            body["port"], "8080",
            "the template's port, inside the sandbox"
        );
    } else {
        assert_ne!(
            body["port"], "8080",
            "each instance gets its own port instead of the template's"
        );
    }
    // The contexts the Lambda Web Adapter hands to apps, as headers.
    assert_eq!(body["requestContext"]["stage"], "Prod");
    assert_eq!(body["requestContext"]["resourcePath"], "/{proxy+}");
    assert_eq!(body["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(
        body["lambdaContext"]["env_config"]["function_name"],
        name.as_str()
    );
    assert_eq!(body["lambdaContext"]["env_config"]["memory"], 256);

    // A REST API's stage prefix does not reach the app.
    let staged = http.get(server.url("/Prod/users/8")).send().expect("GET");
    assert_eq!(staged.status(), 200);
    assert_eq!(json_body(staged)["path"], "/users/8");

    let created = http
        .post(server.url("/users"))
        .header("content-type", "application/json")
        .body(r#"{"name":"ada"}"#)
        .send()
        .expect("POST");
    assert_eq!(created.status(), 201);
    assert_eq!(json_body(created), json!({"created": "ada"}));

    let unknown = http.get(server.url("/nothing/here")).send().expect("GET");
    assert_eq!(unknown.status(), 404, "Express's own 404 comes through");

    // The app's own lines and Lambda's START/END/REPORT, with the init on the first request.
    server.wait_for_line(
        &Regex::new(r"^ExpressWebFunction \| listening on \d+$").expect("regex"),
        Duration::from_secs(5),
    );
    server.wait_for_line(
        &Regex::new(r"^ExpressWebFunction \| START RequestId: \S+ Version: \$LATEST$")
            .expect("regex"),
        Duration::from_secs(5),
    );
    server.wait_for_line(
        &Regex::new(r"^ExpressWebFunction \| END RequestId: \S+$").expect("regex"),
        Duration::from_secs(5),
    );
    let first_report = server.wait_for_line(&report_line(), Duration::from_secs(5));
    assert!(
        first_report.contains("Init Duration: "),
        "the request that started the instance reports its init: {first_report}"
    );
    // The last request's REPORT is written once its response has been sent, so it may
    // come a moment after the client has its answer.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let reports = server
            .stdout()
            .lines()
            .filter(|line| report_line().is_match(line))
            .count();
        if reports >= 5 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "one REPORT per request:\n{}",
            server.stdout()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn express_streams_large_bodies_both_ways() {
    let (_app, server) = express_server();
    let http = client();

    let big = http.get(server.url("/big?mb=5")).send().expect("GET big");
    assert_eq!(big.status(), 200);
    let bytes = big.bytes().expect("body");
    assert_eq!(bytes.len(), 5 * 1024 * 1024);
    assert!(
        bytes.chunks(64 * 1024).all(|chunk| chunk
            .iter()
            .enumerate()
            .all(|(i, &b)| b == 97 + (i % 26) as u8)),
        "the body arrives intact"
    );

    // Over Lambda's 6 MB invocation limit, under API Gateway's 10 MB request limit.
    let upload = http
        .post(server.url("/upload"))
        .header("content-type", "application/octet-stream")
        .body(vec![b'x'; 8 * 1024 * 1024])
        .send()
        .expect("POST upload");
    assert_eq!(upload.status(), 200);
    assert_eq!(json_body(upload), json!({"bytes": 8 * 1024 * 1024}));

    let too_large = http
        .post(server.url("/upload"))
        .body(vec![b'x'; 10 * 1024 * 1024 + 1])
        .send()
        .expect("POST too large");
    assert_eq!(too_large.status(), 413);
}

#[test]
fn one_express_instance_serves_concurrent_requests() {
    let (_app, server) = express_server();
    // Start the instance first, so that the timing below measures only the requests.
    let warm = client().get(server.url("/sleep?ms=1")).send().expect("GET");
    let pid = json_body(warm)["pid"].clone();

    let (bodies, elapsed) = parallel_gets(&server.url("/sleep?ms=300"), 8);
    assert!(
        bodies.iter().all(|body| body["pid"] == pid),
        "every request went to the one instance: {bodies:?}"
    );
    assert!(
        elapsed < Duration::from_millis(1500),
        "8 requests of 300 ms ran concurrently, not one by one: {elapsed:?}"
    );
}

#[test]
fn express_timeout_is_504_and_the_next_request_works() {
    let (_app, server) = express_server();
    let http = client();
    let started = Instant::now();
    let slow = http.get(server.url("/sleep?ms=5000")).send().expect("GET");
    assert_eq!(slow.status(), 504);
    assert!(started.elapsed() < Duration::from_millis(4500));
    assert_eq!(
        json_body(slow),
        json!({"message": "Endpoint request timed out"})
    );
    server.wait_for_line(
        &Regex::new(r"^ExpressWebFunction \| \S+ \S+ Task timed out after 2.00 seconds$")
            .expect("regex"),
        Duration::from_secs(5),
    );

    let next = http.get(server.url("/users/1")).send().expect("GET");
    assert_eq!(next.status(), 200);
}

#[test]
fn express_crash_is_502_and_the_next_request_works() {
    let (_app, server) = express_server();
    let http = client();
    let warm = http.get(server.url("/sleep?ms=1")).send().expect("GET");
    let first_instance = json_body(warm)["instance"].clone();

    let crashed = http.get(server.url("/crash")).send().expect("GET crash");
    assert_eq!(crashed.status(), 502);
    assert_eq!(
        json_body(crashed),
        json!({"message": "Internal server error"})
    );
    server.wait_for_line(
        &Regex::new(r"^ExpressWebFunction \| about to crash$").expect("regex"),
        Duration::from_secs(5),
    );
    server.wait_for_line(
        &Regex::new(r"Runtime exited with error: exit status 3$").expect("regex"),
        Duration::from_secs(5),
    );

    let next = http.get(server.url("/sleep?ms=1")).send().expect("GET");
    assert_eq!(next.status(), 200);
    assert_ne!(
        json_body(next)["instance"],
        first_instance,
        "a new instance took over"
    );
}

#[test]
fn express_past_its_memory_size_is_oom_killed_with_502_and_the_next_request_works() {
    let (_app, server) = express_server();
    if !sandboxed(&server) {
        return;
    }
    let http = client();
    let hog = http
        .get(server.url("/hog?mb=1024"))
        .send()
        .expect("GET hog");
    assert_eq!(hog.status(), 502);
    server.wait_for_line(
        &Regex::new(r"^ExpressWebFunction \| Runtime\.OutOfMemory$").expect("regex"),
        Duration::from_secs(5),
    );
    // The REPORT shows the limit as the memory used, as Lambda's does.
    server.wait_for_line(
        &Regex::new(r"REPORT RequestId: .*Memory Size: 256 MB\tMax Memory Used: 256 MB")
            .expect("regex"),
        Duration::from_secs(5),
    );
    let next = http.get(server.url("/sleep?ms=1")).send().expect("GET");
    assert_eq!(next.status(), 200);
}

#[test]
fn fastapi_with_uvicorn_answers_its_routes_unchanged() {
    let app = app_with_bundle("fastapi-http", "python-fastapi");
    let server = Server::start(app.path(), &[]);
    let http = client();

    // AWS_LWA_REMOVE_BASE_PATH takes `/api` off before the app sees the path.
    let item = http
        .get(server.url("/api/items/5?q=search"))
        .header("user-agent", "e2e")
        .header("cookie", "a=1; b=2")
        .send()
        .expect("GET");
    assert_eq!(item.status(), 200);
    assert!(item.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .starts_with("flavour=oat"));
    let body = json_body(item);
    assert_eq!(body["item_id"], 5);
    assert_eq!(body["q"], "search");
    assert_eq!(body["user_agent"], "e2e");
    assert_eq!(body["path"], "/items/5");
    assert_eq!(body["cookies"], json!({"a": "1", "b": "2"}));
    assert_eq!(body["port"] == "8000", sandboxed(&server));

    let created = http
        .post(server.url("/api/items"))
        .header("content-type", "application/json")
        .body(r#"{"name":"lamp","price":10}"#)
        .send()
        .expect("POST");
    assert_eq!(created.status(), 200);
    assert_eq!(
        json_body(created),
        json!({"created": "lamp", "price_with_tax": 12.0})
    );

    let invalid = http
        .get(server.url("/api/items/not-a-number"))
        .send()
        .expect("GET invalid");
    assert_eq!(invalid.status(), 422);
    let missing = http.get(server.url("/api/missing")).send().expect("GET");
    assert_eq!(missing.status(), 404);
    assert_eq!(json_body(missing), json!({"detail": "nothing here"}));

    let (bodies, elapsed) = parallel_gets(&server.url("/api/sleep?ms=300"), 8);
    let pid = &bodies[0]["pid"];
    assert!(bodies.iter().all(|body| &body["pid"] == pid), "{bodies:?}");
    assert!(
        elapsed < Duration::from_millis(1500),
        "uvicorn took the requests concurrently: {elapsed:?}"
    );
    server.wait_for_line(
        &Regex::new(r"^FastApiWebFunction \| REPORT RequestId: .*Init Duration: ").expect("regex"),
        Duration::from_secs(5),
    );
}

#[test]
fn a_server_that_never_listens_is_an_init_error() {
    let server = Server::start(&test_app("http-never-ready"), &[]);
    let started = Instant::now();
    let response = client().get(server.url("/")).send().expect("GET");
    assert_eq!(response.status(), 502);
    assert_eq!(
        json_body(response),
        json!({"message": "Internal server error"})
    );
    assert!(started.elapsed() >= Duration::from_secs(10));
    server.wait_for_line(
        &Regex::new(r"^NeverReadyFunction \| starting, but never listening$").expect("regex"),
        Duration::from_secs(5),
    );
    server.wait_for_line(
        &Regex::new(
            r"^NeverReadyFunction \| \S+ Init error: the web server was not ready after 10.00 seconds: GET http://127.0.0.1:\d+/ never answered",
        )
        .expect("regex"),
        Duration::from_secs(5),
    );
    server.wait_for_line(
        &Regex::new(
            r"^NeverReadyFunction \| INIT_REPORT Init Duration: .*Error Type: Sandbox.Timedout",
        )
        .expect("regex"),
        Duration::from_secs(5),
    );
}

#[test]
fn serverful_invoke_posts_the_event_to_the_pass_through_path() {
    let app = app_with_bundle("express-http", "node-express");
    let data = tempfile::tempdir().expect("data dir");
    let event = app.path().join("event.json");
    std::fs::write(&event, r#"{"source":"aws.events"}"#).expect("write event");
    let (code, stdout, stderr) = run_serverful(&[
        "invoke",
        "ExpressWebFunction",
        app.path().to_str().expect("utf-8"),
        "--event",
        event.to_str().expect("utf-8"),
        "--data",
        data.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let answer: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(answer, json!({"passedThrough": {"source": "aws.events"}}));
    assert!(stderr.contains("REPORT RequestId: "), "{stderr}");
}

#[test]
fn express_under_watch_serves_each_edit() {
    let app = app_with_bundle("express-http", "node-express");
    let server = Server::start(app.path(), &["--watch"]);
    let http = client();
    let root = http.get(server.url("/")).send().expect("GET /");
    assert_eq!(root.text().expect("body"), "express root");

    let index = app.path().join("index.js");
    let source = std::fs::read_to_string(&index).expect("read index.js");
    std::fs::write(
        &index,
        source.replace("\"express root\"", "\"express root, edited\""),
    )
    .expect("edit index.js");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = http
            .get(server.url("/"))
            .send()
            .expect("GET /")
            .text()
            .expect("body");
        if text == "express root, edited" {
            break;
        }
        assert_eq!(
            text, "express root",
            "only the old or the new version answers"
        );
        assert!(
            Instant::now() < deadline,
            "the edit never showed\n{}",
            server.stdout()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn web_servers_die_with_the_server_even_when_it_is_killed() {
    let (_app, server) = express_server();
    let response = client().get(server.url("/sleep?ms=1")).send().expect("GET");
    assert_eq!(response.status(), 200);
    let processes = crate::hello::descendants_of(server.pid());
    assert!(!processes.is_empty(), "the web server runs");
    // Dropping the harness SIGKILLs serverful: no shutdown code runs.
    drop(server);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let alive: Vec<_> = processes
            .iter()
            .filter(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
            .collect();
        if alive.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the web server's processes {alive:?} outlived serverful"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_provided_bootstrap_can_be_any_web_server() {
    let server = Server::start(&test_app("http-provided"), &[]);
    assert!(
        server.stdout().contains("-> FilesFunction (http mode)"),
        "the route listing marks HTTP-mode functions\n{}",
        server.stdout()
    );
    let http = client();
    let file = http.get(server.url("/hello.txt")).send().expect("GET");
    assert_eq!(file.status(), 200);
    assert_eq!(file.text().expect("body"), "hello from a file\n");
    let missing = http.get(server.url("/nothing.txt")).send().expect("GET");
    assert_eq!(missing.status(), 404);
    server.wait_for_line(
        &Regex::new(r#"^FilesFunction \| .*"GET /hello.txt HTTP/1.1" 200"#).expect("regex"),
        Duration::from_secs(5),
    );
}
