//! The walls between stacks (issue #14), part of the attack suite: a function of one stack,
//! sandboxed on `serverful serve` with another stack beside it, reaches with its own
//! credentials for the other stack's table and function and for the admin API, and is
//! refused each time, while its own table works and the operator's keys still reach
//! everything. The app (`test_data/apps/stack-walls`) is deployed twice, as stacks `a`
//! and `b`.

use std::process::Command;

use serde_json::Value;
use serverful_e2e::{run_serverful, test_app, Server};

use crate::{client, json_body};

/// The account and region `serve` names in ARNs by default.
const ACCOUNT_ID: &str = "123456789012";
const REGION: &str = "us-east-1";

/// What the test needs of one deployed stack, from `ls --json`.
struct Stack {
    /// The `Host` header its HTTP API answers on, and its stage's path prefix.
    host: String,
    prefix: String,
    table: String,
    function: String,
}

fn stack(server: &Server, name: &str) -> Stack {
    let (code, stdout, stderr) = server.admin(&["ls", "--json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let listing: Value = serde_json::from_str(&stdout).expect("ls --json");
    let summary = listing["stacks"]
        .as_array()
        .and_then(|stacks| stacks.iter().find(|stack| stack["name"] == name))
        .unwrap_or_else(|| panic!("no stack {name} in {listing}"))
        .clone();
    let output = |key: &str| {
        summary["outputs"]
            .as_array()
            .and_then(|outputs| outputs.iter().find(|output| output[0] == key))
            .and_then(|output| output[1].as_str())
            .unwrap_or_else(|| panic!("no output {key} in {summary}"))
            .to_owned()
    };
    let url = summary["urls"][0]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no URL in {summary}"));
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, prefix) = match rest.split_once('/') {
        Some((host, path)) => (host.to_owned(), format!("/{path}")),
        None => (rest.to_owned(), String::new()),
    };
    Stack {
        host,
        prefix,
        table: output("ItemsTableName"),
        function: output("ProbeFunctionName"),
    }
}

/// Has `stack`'s function run `op` with `query`, through the gateway; its report.
fn probe(server: &Server, stack: &Stack, op: &str, query: &str) -> Value {
    let path = format!("{}/probe/{op}?{query}", stack.prefix);
    let response = client()
        .get(server.url(&path))
        .header("Host", &stack.host)
        .send()
        .unwrap_or_else(|error| panic!("GET {path}: {error}"));
    let status = response.status();
    let body = json_body(response);
    assert_eq!(status, 200, "GET {path}: {body:#}");
    body
}

/// The report is a denial of `action` on `resource` to stack `caller`'s role, in AWS's
/// error code, status and wording.
fn assert_denied(report: &Value, caller: &str, action: &str, resource: &str, status: u16) {
    let message = format!(
        "User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/{caller}-FunctionRole/{caller} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
    );
    assert_eq!(
        (
            &report["ok"],
            report["code"].as_str(),
            report["status"].as_u64(),
            report["message"].as_str()
        ),
        (
            &Value::Bool(false),
            Some("AccessDeniedException"),
            Some(u64::from(status)),
            Some(message.as_str())
        ),
        "{report:#}"
    );
}

/// Runs the AWS CLI with the operator's keys (the ones `serve` printed).
fn operator_cli(server: &Server, args: &[&str]) -> Value {
    let output = Command::new("aws")
        .args(args)
        .args(["--endpoint-url", &server.aws_url, "--output", "json"])
        .envs(server.aws_env())
        .env_remove("AWS_PROFILE")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .expect("run aws (scripts/install-test-deps.sh installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "aws {args:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or(Value::Null)
}

#[test]
fn a_stacks_function_reaches_only_its_own_stack_and_never_the_admin_api() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &["--sandbox", "required"]);
    let app = test_app("stack-walls");
    let app = app.to_str().expect("utf-8 path");
    for name in ["a", "b"] {
        let (code, stdout, stderr) = server.admin(&["deploy", app, "--stack", name]);
        assert_eq!(code, 0, "deploy {name}: {stdout}\n{stderr}");
    }
    let (a, b) = (stack(&server, "a"), stack(&server, "b"));

    // Each stack's functions hold keys of their own, as Lambda hands a role's session
    // to a function: not the operator's.
    let a_keys = probe(&server, &a, "whoami", "");
    let b_keys = probe(&server, &b, "whoami", "");
    let a_key = a_keys["access_key_id"].as_str().expect("a's access key id");
    assert!(
        !a_key.is_empty() && a_key != server.access_key_id && a_keys != b_keys,
        "a: {a_keys}, b: {b_keys}, operator: {}",
        server.access_key_id
    );
    assert_eq!(a_keys["has_session_token"], true, "{a_keys}");

    // Its own table works.
    assert_eq!(probe(&server, &a, "put", "")["ok"], true);
    let own = probe(&server, &a, "get", "");
    assert_eq!(own["result"]["by"]["S"], a.function.as_str(), "{own}");
    assert_eq!(
        probe(&server, &a, "list", "")["result"],
        serde_json::json!([a.table]),
        "ListTables shows only the stack's own tables"
    );

    // The other stack's table: no read, no write, no scan.
    let b_table = format!("table={}", b.table);
    let b_arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{}", b.table);
    for (op, action) in [
        ("get", "dynamodb:GetItem"),
        ("put", "dynamodb:PutItem"),
        ("scan", "dynamodb:Scan"),
    ] {
        assert_denied(&probe(&server, &a, op, &b_table), "a", action, &b_arn, 400);
    }
    // Nothing was written there: b's own function finds no item of a's.
    let untouched = probe(&server, &b, "get", "");
    assert_eq!(untouched, serde_json::json!({"ok": true, "result": null}));

    // The other stack's function, through the Lambda API.
    let b_function_arn = format!(
        "arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{}",
        b.function
    );
    assert_denied(
        &probe(&server, &a, "invoke", &format!("function={}", b.function)),
        "a",
        "lambda:InvokeFunction",
        &b_function_arn,
        403,
    );
    let own_invoke = probe(&server, &a, "invoke", &format!("function={}", a.function));
    assert_eq!(
        own_invoke["result"]["pong"],
        a.function.as_str(),
        "{own_invoke}"
    );

    // The admin API: unreachable from the sandbox, or refused without the token.
    let admin_port = server
        .admin_url
        .rsplit(':')
        .next()
        .expect("the admin URL's port")
        .to_owned();
    let admin = probe(&server, &a, "admin", &format!("port={admin_port}"));
    let attempts = admin.as_object().expect("one attempt per host");
    assert!(attempts.len() >= 2, "127.0.0.1 and the gateway: {admin:#}");
    for (host, attempt) in attempts {
        assert!(
            attempt["reached"] == false || attempt["status"] == 401,
            "the admin API at {host}:{admin_port} answered a sandboxed function: {admin:#}"
        );
    }

    // The operator's keys still reach every stack's tables.
    let read = operator_cli(
        &server,
        &[
            "dynamodb",
            "get-item",
            "--table-name",
            &a.table,
            "--key",
            r#"{"id": {"S": "probe"}}"#,
        ],
    );
    assert_eq!(read["Item"]["by"]["S"], a.function.as_str(), "{read}");

    // The stacks' keys are kept in the data folder: after a restart each stack's
    // functions hold the same keys, and the walls stand; a backup carries them to a new
    // data folder.
    drop(server);
    let server = Server::start_serve(data.path(), &["--sandbox", "required"]);
    let a = stack(&server, "a");
    assert_eq!(probe(&server, &a, "whoami", ""), a_keys);
    assert_denied(
        &probe(&server, &a, "get", &b_table),
        "a",
        "dynamodb:GetItem",
        &b_arn,
        400,
    );
    assert_eq!(probe(&server, &a, "get", "")["ok"], true);
    let scratch = tempfile::tempdir().expect("scratch dir");
    let backup = scratch.path().join("backup.tar.zst");
    let restored = scratch.path().join("restored");
    let (code, stdout, stderr) =
        server.admin(&["backup", "-o", backup.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "backup: {stdout}\n{stderr}");
    drop(server);
    let (code, stdout, stderr) = run_serverful(&[
        "restore",
        backup.to_str().expect("utf-8 path"),
        "--data",
        restored.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(code, 0, "restore: {stdout}\n{stderr}");
    let server = Server::start_serve(&restored, &["--sandbox", "required"]);
    let (a, b) = (stack(&server, "a"), stack(&server, "b"));
    assert_eq!(probe(&server, &b, "whoami", ""), b_keys);
    assert_eq!(
        probe(&server, &b, "get", &format!("table={}", a.table))["code"],
        "AccessDeniedException"
    );
}
