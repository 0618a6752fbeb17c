//! Cluster mode's deploys (issue 22): three `serve` nodes share one scratch PostgreSQL;
//! a deploy, a second deploy, a rollback and a delete made through one node reach the
//! others within a few seconds, and a node started later serves the current version.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use serverful_e2e::postgres::Postgres;
use serverful_e2e::{copy_dir, repo_root, Server};

use crate::client;

/// Keys every node accepts (each node would otherwise make its own).
const KEYS: [(&str, &str); 2] = [
    ("SERVERFUL_ACCESS_KEY_ID", "AKIACLUSTERTEST00002"),
    (
        "SERVERFUL_SECRET_ACCESS_KEY",
        "cluster-test-secret-key-0000000000000002",
    ),
];

/// How long a change made through one node may take to reach another: the nodes poll
/// every second, then unpack and start the version.
const REACH: Duration = Duration::from_secs(30);

fn start_node(postgres: &Postgres) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("data folder");
    let node = Server::start_serve_with(dir.path(), &["--store", &postgres.url()], &KEYS);
    (node, dir)
}

/// The HTTP API of stack `x` as `ls` on `node` lists it: (`Host`, stage prefix); none
/// while the node serves no such stack.
fn api_of(node: &Server) -> Option<(String, String)> {
    let (code, stdout, stderr) = node.admin(&["ls", "--json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let outcome: Value = serde_json::from_str(&stdout).expect("ls --json");
    let stack = outcome["stacks"]
        .as_array()?
        .iter()
        .find(|stack| stack["name"] == "x")?
        .clone();
    let url = stack["urls"]
        .as_array()?
        .iter()
        .find(|url| url["api"] == "ServerlessHttpApi")?["url"]
        .as_str()?
        .to_owned();
    let rest = url.strip_prefix("http://")?.to_owned();
    let (host, path) = rest
        .split_once('/')
        .map_or((rest.clone(), String::new()), |(host, path)| {
            (host.to_owned(), format!("/{path}"))
        });
    Some((host, path.trim_end_matches('/').to_owned()))
}

/// What `node`'s gateway answers to `GET /hello/you` on stack `x`'s API, with the host
/// `ls` names: the message, or none while the node serves no such stack.
fn message_on(node: &Server) -> Option<String> {
    let (host, prefix) = api_of(node)?;
    let response = client()
        .get(node.url(&format!("{prefix}/hello/you")))
        .header("Host", host)
        .send()
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    let body: Value = serde_json::from_str(&response.text().ok()?).ok()?;
    body["message"].as_str().map(str::to_owned)
}

/// Waits until every node answers `expected` (none: serves no stack `x`), returning how
/// long the slowest took.
fn wait_for(nodes: &[&Server], expected: Option<&str>) -> Duration {
    let started = Instant::now();
    for (index, node) in nodes.iter().enumerate() {
        loop {
            let answer = message_on(node);
            if answer.as_deref() == expected {
                break;
            }
            assert!(
                started.elapsed() < REACH,
                "node {index} answers {answer:?}, not {expected:?}, after {:?}\n{}",
                started.elapsed(),
                node.stdout()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    started.elapsed()
}

/// The hello example, its greeter's message marked with `mark`.
fn write_app(app: &Path, mark: &str) {
    let _ = std::fs::remove_dir_all(app);
    copy_dir(&repo_root().join("examples/hello"), app);
    let handler = app.join("greeter/app.py");
    let code = std::fs::read_to_string(&handler).expect("app.py");
    let marked = code.replace(
        r#""message": f"{greeting}, {name}{punctuation}""#,
        &format!(r#""message": f"{{greeting}} {mark}, {{name}}{{punctuation}}""#),
    );
    assert_ne!(code, marked, "the greeter's message line moved");
    std::fs::write(&handler, marked).expect("write app.py");
}

/// A deploy through node B is served by A and C; a second deploy (changed code) switches
/// all three; a rollback through C switches A and B back; a node started later serves the
/// current version; a delete through A stops the stack everywhere, and a new stack of
/// the same name through C is served everywhere.
#[test]
fn a_deploy_through_one_node_switches_every_node() {
    let postgres = Postgres::start();
    let (a, _a_dir) = start_node(&postgres);
    let (b, _b_dir) = start_node(&postgres);
    let (c, _c_dir) = start_node(&postgres);
    let apps = tempfile::tempdir().expect("apps");
    let app = apps.path().join("hello");
    let app_arg = app.to_str().expect("utf-8 path");

    write_app(&app, "v1");
    let (code, stdout, stderr) = b.admin(&["deploy", app_arg, "--stack", "x"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.starts_with("Deployed x version 1"), "{stdout}");
    assert_eq!(message_on(&b).as_deref(), Some("Hello v1, you!"));
    let took = wait_for(&[&a, &c], Some("Hello v1, you!"));
    eprintln!("first deploy through B reached A and C in {took:?}");

    write_app(&app, "v2");
    let (code, stdout, stderr) = b.admin(&["deploy", app_arg, "--stack", "x"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("Deployed x version 2 (was 1)"),
        "{stdout}"
    );
    let took = wait_for(&[&a, &b, &c], Some("Hello v2, you!"));
    eprintln!("second deploy through B reached every node in {took:?}");

    // The versions are the cluster's: any node lists both and rolls back.
    let (code, stdout, stderr) = c.admin(&["rollback", "--stack", "x"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("Rolled back x from version 2 to version 1"),
        "{stdout}"
    );
    assert_eq!(message_on(&c).as_deref(), Some("Hello v1, you!"));
    let took = wait_for(&[&a, &b], Some("Hello v1, you!"));
    eprintln!("rollback through C reached A and B in {took:?}");

    // A node that joins now serves the current version, without a deploy of its own.
    let (d, _d_dir) = start_node(&postgres);
    let took = wait_for(&[&d], Some("Hello v1, you!"));
    eprintln!("a fourth node served version 1 {took:?} after it started");

    let (code, stdout, stderr) = a.admin(&["delete", "--stack", "x"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.starts_with("Deleted x"), "{stdout}");
    let took = wait_for(&[&a, &b, &c, &d], None);
    eprintln!("delete through A reached every node in {took:?}");
    // Nothing left to roll back to, on any node.
    let (code, _, stderr) = d.admin(&["rollback", "--stack", "x"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("there is no stack x"), "{stderr}");

    // A stack of the same name deployed again starts at version 1 again: every node
    // serves the new one.
    write_app(&app, "v3");
    let (code, stdout, stderr) = c.admin(&["deploy", app_arg, "--stack", "x"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.starts_with("Deployed x version 1"), "{stdout}");
    let took = wait_for(&[&a, &b, &c, &d], Some("Hello v3, you!"));
    eprintln!("a new stack x through C reached every node in {took:?}");
}

/// Runs the AWS CLI against `node` with the cluster's keys: (success, JSON, stderr).
fn aws(node: &Server, args: &[&str]) -> (bool, Value, String) {
    let output = std::process::Command::new("aws")
        .args(args)
        .args(["--output", "json"])
        .env("AWS_ENDPOINT_URL", &node.aws_url)
        .env("AWS_ACCESS_KEY_ID", KEYS[0].1)
        .env("AWS_SECRET_ACCESS_KEY", KEYS[1].1)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run aws (scripts/install-test-deps.sh installs it)");
    (
        output.status.success(),
        serde_json::from_slice(&output.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The event-source mappings a node lists (`UUID`, `State`).
fn mappings_on(node: &Server) -> Vec<(String, String)> {
    let (ok, listed, stderr) = aws(node, &["lambda", "list-event-source-mappings"]);
    assert!(ok, "{stderr}");
    listed["EventSourceMappings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|mapping| {
            (
                mapping["UUID"].as_str().unwrap_or_default().to_owned(),
                mapping["State"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// A mapping made through the Lambda API on one node runs on the others too; a change
/// and a delete through another node reach the first.
#[test]
fn a_mapping_made_at_run_time_reaches_every_node() {
    let postgres = Postgres::start();
    let (a, _a_dir) = start_node(&postgres);
    let (b, _b_dir) = start_node(&postgres);
    let app = serverful_e2e::test_app("stream-windows");
    let (code, stdout, stderr) =
        a.admin(&["deploy", app.to_str().expect("utf-8"), "--stack", "windows"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (ok, streams, stderr) = aws(
        &a,
        &[
            "dynamodbstreams",
            "list-streams",
            "--table-name",
            "windows-events",
        ],
    );
    assert!(ok, "{stderr}");
    let stream_arn = streams["Streams"][0]["StreamArn"]
        .as_str()
        .expect("StreamArn")
        .to_owned();
    let (ok, made, stderr) = aws(
        &a,
        &[
            "lambda",
            "create-event-source-mapping",
            "--function-name",
            "windows-counter",
            "--event-source-arn",
            &stream_arn,
            "--starting-position",
            "LATEST",
        ],
    );
    assert!(ok, "{stderr}");
    let uuid = made["UUID"].as_str().expect("UUID").to_owned();

    let until = |node: &Server, expected: Vec<(String, String)>| {
        let started = Instant::now();
        loop {
            let found = mappings_on(node);
            if found == expected {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < REACH,
                "{found:?}, not {expected:?}\n{}",
                node.stdout()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let took = until(&b, vec![(uuid.clone(), "Enabled".to_owned())]);
    eprintln!("a mapping made on A ran on B {took:?} later");

    let (ok, _, stderr) = aws(
        &b,
        &[
            "lambda",
            "update-event-source-mapping",
            "--uuid",
            &uuid,
            "--no-enabled",
        ],
    );
    assert!(ok, "{stderr}");
    until(&a, vec![(uuid.clone(), "Disabled".to_owned())]);

    let (ok, _, stderr) = aws(
        &b,
        &["lambda", "delete-event-source-mapping", "--uuid", &uuid],
    );
    assert!(ok, "{stderr}");
    until(&a, Vec::new());
}
