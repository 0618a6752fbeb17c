//! Failing functions and bad input: clear messages, the right status codes, no panics,
//! and a server that keeps serving.

use std::time::Duration;

use regex::Regex;
use serde_json::json;
use serverful_e2e::{test_app, Server};

use crate::{client, json_body};

#[test]
fn a_handler_that_throws_gives_502_and_logs_the_error_and_the_next_request_works() {
    let server = Server::start(&test_app("payloads"), &[]);
    let http = client();

    let python = http.get(server.url("/v2/throw")).send().expect("GET");
    assert_eq!(python.status(), 502);
    assert_eq!(
        json_body(python),
        json!({"message": "Internal server error"})
    );
    server.wait_for_line(
        &Regex::new(r"PythonEcho.*ValueError.*asked to throw").expect("regex"),
        Duration::from_secs(5),
    );
    assert_eq!(
        http.get(server.url("/v2/items/1"))
            .send()
            .expect("GET")
            .status(),
        200
    );

    let node = http.get(server.url("/node/throw")).send().expect("GET");
    assert_eq!(node.status(), 502);
    server.wait_for_line(
        &Regex::new(r"NodeEcho.*TypeError.*node was asked to throw").expect("regex"),
        Duration::from_secs(5),
    );
    assert_eq!(
        http.get(server.url("/node/object"))
            .send()
            .expect("GET")
            .status(),
        200
    );

    // A 2.0 route whose function returns a malformed proxy response.
    let malformed = http.get(server.url("/node/malformed")).send().expect("GET");
    assert_eq!(malformed.status(), 502);
}

#[test]
fn a_handler_that_is_not_exported_fails_each_request_clearly_and_the_server_keeps_serving() {
    let server = Server::start(&test_app("missing-export"), &[]);
    let http = client();
    for _ in 0..2 {
        let response = http.get(server.url("/no-export")).send().expect("GET");
        assert_eq!(response.status(), 502);
        assert_eq!(
            json_body(response),
            json!({"message": "Internal server error"})
        );
    }
    server.wait_for_line(
        &Regex::new(r"NoExportFunction.*Runtime\.HandlerNotFound").expect("regex"),
        Duration::from_secs(5),
    );
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[test]
fn a_malformed_template_names_file_and_line() {
    let error = Server::try_start(&test_app("bad-yaml"), &[])
        .err()
        .expect("start-up fails");
    assert!(error.contains("exited with exit status: 1"), "{error}");
    assert!(
        Regex::new(r"error: .*template\.yaml:\d+")
            .expect("regex")
            .is_match(&error),
        "{error}"
    );
    assert!(!error.contains("panicked"), "{error}");
}

#[test]
fn a_missing_handler_file_says_which_function_and_file() {
    let error = Server::try_start(&test_app("missing-handler"), &[])
        .err()
        .expect("start-up fails");
    assert!(error.contains("exited with exit status: 1"), "{error}");
    assert!(
        error.contains("GhostFunction") && error.contains("nowhere"),
        "{error}"
    );
}

#[test]
fn a_runtime_that_is_not_installed_is_named() {
    // A PATH without node: the Node.js function cannot run.
    let empty = tempfile::tempdir().expect("empty dir");
    let path = empty.path().to_str().expect("utf-8 path");
    let error = Server::try_start_with_env(&test_app("missing-export"), &[], &[("PATH", path)])
        .err()
        .expect("start-up fails");
    assert!(error.contains("exited with exit status: 1"), "{error}");
    assert!(
        error.contains("nodejs20.x") && error.contains("node"),
        "{error}"
    );
}

#[test]
fn a_port_in_use_says_what_to_do() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port().to_string();
    let error = Server::try_start(&test_app("payloads"), &["--port", &port])
        .err()
        .expect("start-up fails");
    assert!(error.contains("exited with exit status: 1"), "{error}");
    assert!(
        error.contains(&format!("port {port}")) && error.contains("--port"),
        "{error}"
    );
}

#[test]
fn a_folder_without_a_template_says_so() {
    let empty = tempfile::tempdir().expect("empty dir");
    let error = Server::try_start(empty.path(), &[])
        .err()
        .expect("start-up fails");
    assert!(error.contains("exited with exit status: 1"), "{error}");
    assert!(error.contains("template.yaml"), "{error}");
}

#[test]
fn code_in_a_private_folder_still_runs_as_on_lambda() {
    // `mktemp -d` and a umask of 077 make folders only their owner can read; the
    // sandboxed function runs as a user of its own and must still read its code (a Lambda
    // deployment package is readable by its function), and everything the server writes
    // for functions under that umask must be readable too.
    let app = tempfile::tempdir().expect("tempdir");
    serverful_e2e::copy_dir(&test_app("runtime-names"), app.path());
    let src = app.path().join("src");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::fs::set_permissions(src.join("app.py"), std::fs::Permissions::from_mode(0o600))
        .expect("chmod");
    let server = Server::start_with_private_umask(app.path(), &[]);
    let http = client();
    for path in ["/python314", "/node24"] {
        let response = http.get(server.url(path)).send().expect("GET");
        assert_eq!(response.status(), 200, "{path}\n{}", server.stdout());
    }
    let stderr = server.stderr();
    assert!(
        stderr.contains("is not readable by other users, as functions are"),
        "{stderr}"
    );
}
