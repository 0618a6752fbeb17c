//! `serverful serve` and its admin API (issue #14): stacks deployed from a folder, a zip
//! and a git repository, each switched atomically with no failed request under load,
//! rolled back, listed and deleted; failing deploys leave the running version serving;
//! a `kill -9` brings every stack back at its version.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use serverful_e2e::{copy_dir, repo_root, run_serverful, Server};

use crate::client;

/// Runs `serverful ARGS --endpoint ADMIN --token TOKEN`: (exit code, stdout, stderr).
fn admin(server: &Server, args: &[&str]) -> (i32, String, String) {
    server.admin(args)
}

/// `ls --json`: the stacks.
fn stacks(server: &Server) -> Vec<Value> {
    let (code, stdout, stderr) = admin(server, &["ls", "--json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let outcome: Value = serde_json::from_str(&stdout).expect("ls --json");
    outcome["stacks"].as_array().cloned().unwrap_or_default()
}

/// The host and stage path of a stack's HTTP API, from `ls`: (`Host` header, path prefix).
fn api_host(server: &Server, stack: &str) -> (String, String) {
    let stacks = stacks(server);
    let stack = stacks
        .iter()
        .find(|summary| summary["name"] == stack)
        .unwrap_or_else(|| panic!("no stack {stack} in {stacks:?}"));
    let url = stack["urls"]
        .as_array()
        .and_then(|urls| urls.iter().find(|url| url["api"] == "ServerlessHttpApi"))
        .and_then(|url| url["url"].as_str())
        .unwrap_or_else(|| panic!("no HTTP API URL in {stack}"));
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, ""), |(host, path)| (host, path));
    let path = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    (host.to_owned(), path)
}

thread_local! {
    /// One client per thread: a blocking client is a runtime of its own, slow to make and
    /// to drop for every request.
    static CLIENT: reqwest::blocking::Client = client();
}

/// GET `path` on the API whose host is `host`, through the gateway's address.
fn get_on(server: &Server, host: &str, path: &str) -> reqwest::blocking::Response {
    CLIENT.with(|client| {
        client
            .get(server.url(path))
            .header("Host", host)
            .send()
            .expect("GET")
    })
}

fn greeting(server: &Server, host: &str, prefix: &str) -> (u16, Value) {
    let response = get_on(server, host, &format!("{prefix}/hello/you"));
    let status = response.status().as_u16();
    let body = serde_json::from_str(&response.text().unwrap_or_default()).unwrap_or(Value::Null);
    (status, body)
}

fn deploy(server: &Server, source: &str, stack: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["deploy", source, "--stack", stack];
    args.extend_from_slice(extra);
    admin(server, &args)
}

fn hello_app() -> std::path::PathBuf {
    repo_root().join("examples/hello")
}

#[test]
fn a_stack_is_deployed_switched_rolled_back_and_deleted() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let app = hello_app();
    let app = app.to_str().expect("utf-8 path");

    let (code, stdout, stderr) = deploy(
        &server,
        app,
        "hello",
        &["--parameter-overrides", "Greeting=Hello"],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.starts_with("Deployed hello version 1"), "{stdout}");
    let (host, prefix) = api_host(&server, "hello");
    assert!(host.contains(".execute-api.localhost:"), "{host}");
    let (status, body) = greeting(&server, &host, &prefix);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Hello, you!");

    // Under `serve`, the bare host answers nothing.
    let bare = client().get(server.url("/hello/you")).send().expect("GET");
    assert_eq!(bare.status(), 404);

    // The same source and parameters: no new version.
    let (code, stdout, _) = deploy(
        &server,
        app,
        "hello",
        &["--parameter-overrides", "Greeting=Hello"],
    );
    assert_eq!(code, 0);
    assert_eq!(stdout.trim(), "No changes: hello stays at version 1");

    let (code, stdout, stderr) = deploy(
        &server,
        app,
        "hello",
        &["--parameter-overrides", "Greeting=Howdy"],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("Deployed hello version 2 (was 1)"),
        "{stdout}"
    );
    assert_eq!(
        greeting(&server, &host, &prefix).1["message"],
        "Howdy, you!"
    );

    let (code, stdout, stderr) = admin(&server, &["rollback", "--stack", "hello"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("Rolled back hello from version 2 to version 1"),
        "{stdout}"
    );
    assert_eq!(
        greeting(&server, &host, &prefix).1["message"],
        "Hello, you!"
    );

    let (code, _, stderr) = admin(&server, &["rollback", "--stack", "hello", "--to", "7"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("stack hello has no version 7; it has 1, 2"),
        "{stderr}"
    );
    let (code, _, stderr) = admin(&server, &["rollback", "--stack", "nope"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("there is no stack nope; the stacks are hello"),
        "{stderr}"
    );

    let (code, stdout, stderr) = admin(&server, &["delete", "--stack", "hello"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.starts_with("Deleted hello"), "{stdout}");
    assert_eq!(
        get_on(&server, &host, &format!("{prefix}/hello/you")).status(),
        404
    );
    assert!(stacks(&server).is_empty());
}

#[test]
fn a_wrong_or_missing_token_is_refused() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let (code, _, stderr) =
        run_serverful(&["ls", "--endpoint", &server.admin_url, "--token", "wrong"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("the admin API refused the token: the admin token is wrong"),
        "{stderr}"
    );
    let response = client()
        .get(format!("{}/v1/stacks", server.admin_url))
        .send()
        .expect("GET");
    assert_eq!(response.status(), 401);
    let body: Value = serde_json::from_str(&response.text().expect("body")).expect("JSON error");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|error| error.contains("no admin token")),
        "{body}"
    );
}

#[test]
fn failed_deploys_leave_the_running_version_serving() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let work = tempfile::tempdir().expect("app dir");
    copy_dir(&hello_app(), work.path());
    let app = work.path().to_str().expect("utf-8 path");
    let (code, stdout, stderr) = deploy(&server, app, "hello", &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (host, prefix) = api_host(&server, "hello");

    let template = work.path().join("template.yaml");
    let good = std::fs::read_to_string(&template).expect("read");
    type BreakIt = Box<dyn Fn()>;
    let failures: [(&str, BreakIt); 3] = [
        ("template", {
            let template = template.clone();
            Box::new(move || std::fs::write(&template, "Resources: [unclosed").expect("write"))
        }),
        ("build", {
            let dir = work.path().to_owned();
            Box::new(move || {
                std::fs::write(
                    dir.join("greeter/requirements.txt"),
                    "no-such-package-serverful==0\n",
                )
                .expect("write")
            })
        }),
        ("functions", {
            let template = template.clone();
            let good = good.clone();
            Box::new(move || {
                std::fs::write(
                    &template,
                    good.replace("Runtime: python3.12", "Runtime: python9.9"),
                )
                .expect("write")
            })
        }),
    ];
    for (step, break_it) in failures {
        std::fs::write(&template, &good).expect("write");
        let _ = std::fs::remove_file(work.path().join("greeter/requirements.txt"));
        break_it();
        let (code, stdout, stderr) = deploy(&server, app, "hello", &[]);
        assert_eq!(code, 1, "{step}: {stdout}\n{stderr}");
        assert!(
            stderr.contains(&format!("error: {step} failed: ")),
            "{step}: {stderr}"
        );
        let (status, body) = greeting(&server, &host, &prefix);
        assert_eq!(status, 200, "{step}: the old version keeps serving: {body}");
    }
    let summary = &stacks(&server)[0];
    assert_eq!(summary["version"], 1);
}

/// A new version whose function throws at init is warmed before the switch, so the deploy
/// fails naming the function and its error, and every request made meanwhile is answered
/// by the running version (issue #14: "a function that crashes at init").
#[test]
fn a_deploy_whose_function_fails_its_init_is_refused_under_load() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Arc::new(Server::start_serve(data.path(), &[]));
    let work = tempfile::tempdir().expect("app dir");
    copy_dir(&hello_app(), work.path());
    let app = work.path().to_str().expect("utf-8 path").to_owned();
    let (code, stdout, stderr) = deploy(&server, &app, "hello", &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (host, prefix) = api_host(&server, "hello");

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let loaders: Vec<_> = (0..4)
        .map(|_| {
            let (server, stop, host, prefix) =
                (server.clone(), stop.clone(), host.clone(), prefix.clone());
            let (ok, failed) = (ok.clone(), failed.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match greeting(&server, &host, &prefix) {
                        (200, body) if body["message"] == "Hello, you!" => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        (status, body) => {
                            eprintln!("failed request: {status} {body}");
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));

    let handler = work.path().join("greeter/app.py");
    let code_before = std::fs::read_to_string(&handler).expect("read");
    std::fs::write(
        &handler,
        format!("print('reading settings')\nraise RuntimeError('GREETING_TABLE is not set')\n{code_before}"),
    )
    .expect("write");
    for attempt in 0..2 {
        let (code, stdout, stderr) = deploy(&server, &app, "hello", &[]);
        assert_eq!(code, 1, "attempt {attempt}: {stdout}\n{stderr}");
        assert!(
            stderr.contains(
                "error: init failed: function GreeterFunction failed its init: RuntimeError: GREETING_TABLE is not set"
            ),
            "attempt {attempt}: {stderr}"
        );
        // The process's exit and its last lines say what happened.
        assert!(stderr.contains("exit status 1"), "{stderr}");
        assert!(stderr.contains("reading settings"), "{stderr}");
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for loader in loaders {
        loader.join().expect("loader");
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(failed, 0, "{ok} answered, {failed} failed");
    assert!(ok >= 10, "the load ran: {ok} requests");
    let summary = &stacks(&server)[0];
    assert_eq!(summary["version"], 1);

    // Fixed, the app deploys and its new version answers.
    std::fs::write(&handler, &code_before).expect("write");
    let (code, stdout, stderr) = deploy(
        &server,
        &app,
        "hello",
        &["--parameter-overrides", "Greeting=Howdy"],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(
        greeting(&server, &host, &prefix).1["message"],
        "Howdy, you!"
    );
}

#[test]
fn ten_deploys_under_load_fail_no_request_and_every_answer_comes_from_one_version() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Arc::new(Server::start_serve(data.path(), &[]));
    let app = hello_app();
    let app = app.to_str().expect("utf-8 path").to_owned();
    let (code, stdout, stderr) = deploy(
        &server,
        &app,
        "hello",
        &["--parameter-overrides", "Greeting=Hello"],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (host, prefix) = api_host(&server, "hello");

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed, hello, howdy) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let loaders: Vec<_> = (0..4)
        .map(|_| {
            let (server, stop, host, prefix) =
                (server.clone(), stop.clone(), host.clone(), prefix.clone());
            let (ok, failed, hello, howdy) =
                (ok.clone(), failed.clone(), hello.clone(), howdy.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let (status, body) = greeting(&server, &host, &prefix);
                    match (status, body["message"].as_str()) {
                        (200, Some("Hello, you!")) => {
                            hello.fetch_add(1, Ordering::Relaxed);
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        (200, Some("Howdy, you!")) => {
                            howdy.fetch_add(1, Ordering::Relaxed);
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            eprintln!("failed request: {status} {body}");
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    for deploy_idx in 0..10 {
        let greeting_word = if deploy_idx % 2 == 0 {
            "Howdy"
        } else {
            "Hello"
        };
        let parameter = format!("Greeting={greeting_word}");
        let (code, stdout, stderr) = deploy(
            &server,
            &app,
            "hello",
            &["--parameter-overrides", &parameter],
        );
        assert_eq!(code, 0, "deploy {deploy_idx}: {stdout}\n{stderr}");
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    for loader in loaders {
        loader.join().expect("loader");
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(failed, 0, "{ok} answered, {failed} failed");
    // Every switch sends the loaders to a version whose instances start cold (a Python
    // process each, in a debug build on a busy machine): a handful of requests a deploy.
    assert!(ok >= 10, "the load ran: {ok} requests");
    assert!(
        hello.load(Ordering::Relaxed) > 0 && howdy.load(Ordering::Relaxed) > 0,
        "both versions answered"
    );
    assert_eq!(stacks(&server)[0]["version"], 11);

    // Eleven versions from one source: the oldest was forgotten, and the source folder
    // every kept version shares stays, so each can be rolled back to.
    for (to, word) in [(None, "Howdy"), (Some("3"), "Hello"), (Some("2"), "Howdy")] {
        let mut args = vec!["rollback", "--stack", "hello"];
        args.extend(to.iter().flat_map(|to| ["--to", *to]));
        let (code, stdout, stderr) = admin(&server, &args);
        assert_eq!(code, 0, "rollback to {to:?}: {stdout}\n{stderr}");
        let (status, body) = greeting(&server, &host, &prefix);
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["message"],
            format!("{word}, you!"),
            "after rollback to {to:?}"
        );
    }
    let (code, _, stderr) = admin(&server, &["rollback", "--stack", "hello", "--to", "1"]);
    assert_eq!(code, 1, "version 1 was forgotten: {stderr}");
}

#[test]
fn a_killed_server_comes_back_with_every_stack_at_its_version() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let app = hello_app();
    let app = app.to_str().expect("utf-8 path");
    for (stack, word) in [("first", "Hello"), ("second", "Howdy")] {
        let parameter = format!("Greeting={word}");
        let (code, stdout, stderr) =
            deploy(&server, app, stack, &["--parameter-overrides", &parameter]);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
    }
    let (code, _, stderr) = deploy(
        &server,
        app,
        "second",
        &["--parameter-overrides", "Greeting=Hi"],
    );
    assert_eq!(code, 0, "{stderr}");
    let _ = std::process::Command::new("kill")
        .args(["-9", &server.pid().to_string()])
        .status();
    drop(server);

    let server = Server::start_serve(data.path(), &[]);
    let stacks = stacks(&server);
    let versions: Vec<(String, u64)> = stacks
        .iter()
        .map(|stack| {
            (
                stack["name"].as_str().unwrap_or_default().to_owned(),
                stack["version"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [("first".to_owned(), 1), ("second".to_owned(), 2)]
    );
    for (stack, word) in [("first", "Hello"), ("second", "Hi")] {
        let (host, prefix) = api_host(&server, stack);
        let (status, body) = greeting(&server, &host, &prefix);
        assert_eq!(
            (status, body["message"].as_str()),
            (200, Some(format!("{word}, you!").as_str()))
        );
    }
}

#[test]
fn deploys_come_from_a_zip_and_a_git_repository() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let work = tempfile::tempdir().expect("work");
    let repo = work.path().join("repo");
    copy_dir(&hello_app(), &repo);
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_AUTHOR_NAME", "test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .status()
            .expect("git");
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "hello"]);
    git(&["tag", "v1"]);
    let url = format!("file://{}#v1", repo.display());
    let (code, stdout, stderr) = deploy(&server, &url, "from-git", &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let summary = &stacks(&server)[0];
    let source = summary["source"].as_str().unwrap_or_default();
    assert!(
        source.contains("v1") && source.contains("file://"),
        "{source}"
    );
    let (host, prefix) = api_host(&server, "from-git");
    assert_eq!(
        greeting(&server, &host, &prefix).1["message"],
        "Hello, you!"
    );

    // A zip of the same app.
    let zip_path = work.path().join("app.zip");
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import shutil,sys; shutil.make_archive(sys.argv[1][:-4], 'zip', sys.argv[2])",
        ])
        .arg(&zip_path)
        .arg(hello_app())
        .status()
        .expect("python3");
    assert!(status.success());
    let (code, stdout, stderr) =
        deploy(&server, zip_path.to_str().expect("utf-8"), "from-zip", &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (host, prefix) = api_host(&server, "from-zip");
    assert_eq!(
        greeting(&server, &host, &prefix).1["message"],
        "Hello, you!"
    );

    // A git URL nobody answers: refused, nothing changed.
    let (code, _, stderr) = deploy(&server, "http://127.0.0.1:9/nothing.git", "from-git", &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("error: source failed: "), "{stderr}");
}

#[test]
fn two_stacks_answer_side_by_side_by_host_name_and_by_custom_domain() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let app = serverful_e2e::test_app("domains");
    let app = app.to_str().expect("utf-8 path");
    for name in ["one", "two"] {
        let parameter = format!("Name={name}");
        let (code, stdout, stderr) =
            deploy(&server, app, name, &["--parameter-overrides", &parameter]);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
    }
    let port = server
        .base_url
        .rsplit_once(':')
        .map(|(_, port)| port)
        .unwrap_or_default();
    for name in ["one", "two"] {
        // By the custom domain and its base path.
        let response = get_on(&server, &format!("{name}.example.test:{port}"), "/v1/who");
        assert_eq!(response.status(), 200);
        let body: Value = serde_json::from_str(&response.text().expect("body")).expect("JSON");
        assert_eq!(body["name"], name);
        assert!(
            body["function"]
                .as_str()
                .is_some_and(|function| function.starts_with(&format!("{name}-WhoFunction-"))),
            "CloudFormation-style names keep the stacks apart: {body}"
        );
        // By the API's own host name.
        let stacks = stacks(&server);
        let summary = stacks
            .iter()
            .find(|summary| summary["name"] == name)
            .expect("stack");
        let url = summary["urls"][0]["url"].as_str().expect("url");
        let host = url
            .strip_prefix("http://")
            .expect("http")
            .split('/')
            .next()
            .expect("host");
        let response = get_on(&server, host, "/who");
        let body: Value = serde_json::from_str(&response.text().expect("body")).expect("JSON");
        assert_eq!(body["name"], name, "{host}");
    }
    // Without the base path, the custom domain has no route.
    let response = get_on(&server, &format!("one.example.test:{port}"), "/who");
    assert_eq!(response.status(), 404);
}
