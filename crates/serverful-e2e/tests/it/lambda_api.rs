//! The Lambda API on the AWS endpoint, driven by the AWS CLI and boto3 (SPEC §7; issue #3's
//! `TooManyRequestsException` through the Invoke API).

use std::process::Command;

use serde_json::Value;
use serverful_e2e::{repo_root, test_app, Server};

/// Runs a command with the server's AWS environment: (exit code, stdout, stderr).
fn run_with_aws_env(server: &Server, program: &str, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(program)
        .args(args)
        .envs(server.aws_env())
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap_or_else(|error| {
            panic!("run {program}: {error} (scripts/install-test-deps.sh installs it)")
        });
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The functions `aws lambda list-functions` lists: (FunctionName, FunctionArn), by name.
fn list_functions(server: &Server) -> Vec<(String, String)> {
    let (code, stdout, stderr) = run_with_aws_env(server, "aws", &["lambda", "list-functions"]);
    assert_eq!(code, 0, "{stderr}");
    let listed: Value = serde_json::from_str(&stdout).expect("JSON");
    let mut functions: Vec<(String, String)> = listed["Functions"]
        .as_array()
        .expect("Functions")
        .iter()
        .map(|function| {
            let field = |key: &str| function[key].as_str().expect(key).to_owned();
            (field("FunctionName"), field("FunctionArn"))
        })
        .collect();
    functions.sort_unstable();
    functions
}

#[test]
fn the_aws_cli_invokes_and_lists_functions() {
    let server = Server::start(&repo_root().join("examples/hello"), &[]);
    assert!(
        server.aws_url.starts_with("http://127.0.0.1:"),
        "{}",
        server.stdout()
    );
    assert!(
        !server.access_key_id.is_empty() && !server.secret_access_key.is_empty(),
        "keys are printed"
    );

    // Named as CloudFormation names them, after the stack (the app's folder).
    let functions = list_functions(&server);
    let pattern =
        regex::Regex::new(r"^hello-(Counter|Greeter)Function-[0-9A-Z]{12}$").expect("regex");
    assert_eq!(functions.len(), 2, "{functions:?}");
    for (name, arn) in &functions {
        assert!(pattern.is_match(name), "{functions:?}");
        assert_eq!(
            *arn,
            format!("arn:aws:lambda:us-east-1:123456789012:function:{name}")
        );
    }
    let (greeter_name, greeter_arn) = functions
        .iter()
        .find(|(name, _)| name.contains("-GreeterFunction-"))
        .expect("the greeter");

    // By its name and by its ARN, as on AWS.
    for function in [greeter_name, greeter_arn] {
        let out = tempfile::NamedTempFile::new().expect("output file");
        let out_path = out.path().to_str().expect("utf-8");
        let (code, stdout, stderr) = run_with_aws_env(
            &server,
            "aws",
            &[
                "lambda",
                "invoke",
                "--function-name",
                function,
                "--payload",
                r#"{"pathParameters": {"name": "cli"}}"#,
                out_path,
            ],
        );
        assert_eq!(code, 0, "{function}: {stdout}{stderr}");
        let meta: Value = serde_json::from_str(&stdout).expect("invoke metadata");
        assert_eq!(meta["StatusCode"], 200);
        let result: Value =
            serde_json::from_str(&std::fs::read_to_string(out.path()).expect("result"))
                .expect("JSON");
        assert_eq!(result["message"], "Hello, cli!");
    }

    // A logical id is not a function name on AWS, and is not one here either.
    for unknown in ["Nope", "GreeterFunction"] {
        let (code, _, stderr) = run_with_aws_env(
            &server,
            "aws",
            &["lambda", "get-function", "--function-name", unknown],
        );
        assert_ne!(code, 0);
        assert!(
            stderr.contains("ResourceNotFoundException") && stderr.contains("Function not found"),
            "{unknown}: {stderr}"
        );
    }
}

const BOTO3_SCRIPT: &str = r#"
import json, os, sys, threading
import boto3, botocore
from botocore.config import Config

client = boto3.client("lambda", config=Config(retries={"max_attempts": 1}))
mode = sys.argv[1]
if mode == "error":
    response = client.invoke(FunctionName=sys.argv[2], Payload=json.dumps({"rawPath": "/v2/throw"}))
    print(json.dumps({"FunctionError": response.get("FunctionError"), "Payload": json.loads(response["Payload"].read())}))
elif mode == "throttle":
    outcomes = []
    def call():
        try:
            client.invoke(FunctionName=sys.argv[2], Payload=json.dumps({"pathParameters": {"ms": "900"}}))
            outcomes.append("ok")
        except botocore.exceptions.ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    threads = [threading.Thread(target=call) for _ in range(6)]
    [thread.start() for thread in threads]
    [thread.join() for thread in threads]
    print(json.dumps(sorted(outcomes)))
elif mode == "bad-secret":
    bad = boto3.client(
        "lambda",
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key="wrong",
        config=Config(retries={"max_attempts": 1}),
    )
    try:
        bad.list_functions()
        print("no error")
    except botocore.exceptions.ClientError as error:
        print(error.response["Error"]["Code"])
"#;

#[test]
fn boto3_sees_function_errors_throttles_and_bad_signatures_as_on_aws() {
    let payloads = Server::start(&test_app("payloads"), &[]);
    let echo = payloads.function_name("PythonEcho");
    let (code, stdout, stderr) =
        run_with_aws_env(&payloads, "python3", &["-c", BOTO3_SCRIPT, "error", &echo]);
    assert_eq!(code, 0, "{stderr}");
    let error: Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(error["FunctionError"], "Unhandled");
    assert_eq!(error["Payload"]["errorType"], "ValueError");

    let (code, stdout, stderr) =
        run_with_aws_env(&payloads, "python3", &["-c", BOTO3_SCRIPT, "bad-secret"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "InvalidSignatureException");

    let lifecycle = Server::start(
        &test_app("lifecycle"),
        &["--max-concurrency", "1", "--max-queued", "1"],
    );
    let slow = lifecycle.function_name("SlowFunction");
    let (code, stdout, stderr) = run_with_aws_env(
        &lifecycle,
        "python3",
        &["-c", BOTO3_SCRIPT, "throttle", &slow],
    );
    assert_eq!(code, 0, "{stderr}");
    // One runs and one waits; how many of the other four arrive before the first is done
    // depends on thread start-up, but some always find the queue full.
    let outcomes: Vec<String> = serde_json::from_str(stdout.trim()).expect("JSON");
    let served = outcomes.iter().filter(|outcome| *outcome == "ok").count();
    let throttled = outcomes
        .iter()
        .filter(|outcome| *outcome == "TooManyRequestsException")
        .count();
    assert_eq!(served + throttled, 6, "{outcomes:?}");
    assert!(served >= 2 && throttled >= 1, "{outcomes:?}");
}
