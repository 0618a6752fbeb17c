//! `serverful init` (issue #13): every template writes an app that `serverful up` starts
//! at once and that answers as its README says.

use std::path::Path;

use serde_json::{json, Value};
use serverful_e2e::{run_serverful, Server};

use crate::{client, json_body};

/// Runs `serverful init --template NAME DIR` and checks what it printed.
fn init(template: &str, dir: &Path) {
    let dir_text = dir.to_str().expect("utf-8 path");
    let (code, stdout, stderr) = run_serverful(&["init", "--template", template, dir_text]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with(&format!("Created {dir_text}: ")),
        "{stdout}"
    );
    assert!(stdout.contains("  serverful up\n"), "{stdout}");
    assert!(dir.join("template.yaml").is_file());
    assert!(dir.join("README.md").is_file());
}

/// Starts the app `template` writes and checks its hello route.
fn check_hello(template: &str) {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("my-app");
    init(template, &dir);
    let server = Server::start(&dir, &[]);
    let http = client();
    let body = json_body(http.get(server.url("/hello/you")).send().expect("GET"));
    assert_eq!(body["message"], "Hello, you!", "{template}: {body}");
    assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    let body = json_body(http.get(server.url("/hello")).send().expect("GET"));
    assert_eq!(body["message"], "Hello, world!", "{template}: {body}");
}

#[test]
fn the_python_hello_template_answers() {
    check_hello("hello");
}

#[test]
fn the_nodejs_hello_template_answers() {
    check_hello("hello-nodejs");
}

#[test]
fn the_typescript_hello_template_answers() {
    // npm installs esbuild and TypeScript's types from the template's devDependencies.
    check_hello("hello-typescript");
}

#[test]
fn the_go_hello_template_answers() {
    check_hello("hello-go");
}

#[test]
fn the_rust_hello_template_answers() {
    // cargo fetches lambda_runtime and its dependencies from crates.io and builds them in
    // release mode: the slowest start of all the templates.
    check_hello("hello-rust");
}

#[test]
fn the_crud_template_keeps_items_in_its_table() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("crud-app");
    init("crud", &dir);
    let server = Server::start(&dir, &[]);
    let http = client();
    let put = http
        .put(server.url("/items/1"))
        .body(r#"{"name": "pen", "price": 1.5}"#)
        .send()
        .expect("PUT");
    assert_eq!(put.status(), 200);
    assert_eq!(
        json_body(put),
        json!({"id": "1", "name": "pen", "price": 1.5})
    );
    let list = json_body(http.get(server.url("/items")).send().expect("GET"));
    assert_eq!(
        list,
        json!({"items": [{"id": "1", "name": "pen", "price": 1.5}]})
    );
    let missing = http.get(server.url("/items/2")).send().expect("GET");
    assert_eq!(missing.status(), 404);
    let bad = http
        .put(server.url("/items/3"))
        .body("not json")
        .send()
        .expect("PUT");
    assert_eq!(bad.status(), 400);
    let deleted = http.delete(server.url("/items/1")).send().expect("DELETE");
    assert_eq!(deleted.status(), 204);
    let list: Value = json_body(http.get(server.url("/items")).send().expect("GET"));
    assert_eq!(list, json!({"items": []}));
}

#[test]
fn init_lists_templates_and_refuses_to_overwrite() {
    let (code, stdout, _) = run_serverful(&["init", "--list"]);
    assert_eq!(code, 0);
    for name in [
        "hello",
        "hello-nodejs",
        "hello-typescript",
        "hello-go",
        "hello-rust",
        "crud",
    ] {
        assert!(
            stdout
                .lines()
                .any(|line| line.starts_with(&format!("{name} "))),
            "{stdout}"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_text = dir.path().to_str().expect("utf-8 path");
    init("hello", dir.path());
    let (code, _, stderr) = run_serverful(&["init", "--template", "hello", dir_text]);
    assert_eq!(code, 1);
    assert!(stderr.contains("already holds"), "{stderr}");
    let (code, _, stderr) = run_serverful(&["init", "--template", "cobol", dir_text]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("error: there is no template `cobol`; the templates are hello,"),
        "{stderr}"
    );
}
