//! Runtime names (issue #13): today's `sam init` runtimes and the names of old templates
//! start and answer, each with the warning it deserves; a name Lambda never had stops the
//! start before anything is built.

use serverful_e2e::{test_app, up_until_it_fails, Server};

use crate::{client, json_body};

#[test]
fn current_and_deprecated_runtime_names_all_answer() {
    let server = Server::start(&test_app("runtime-names"), &[]);
    let http = client();
    for (path, runtime) in [
        ("/node24", "nodejs24.x"),
        ("/node8", "nodejs8.10"),
        ("/python314", "python3.14"),
        ("/python37", "python3.7"),
    ] {
        let response = http.get(server.url(path)).send().expect("GET");
        assert_eq!(response.status(), 200, "{path}");
        let body = json_body(response);
        assert_eq!(
            body["executionEnv"],
            format!("AWS_Lambda_{runtime}"),
            "{path}: {body}"
        );
    }
    let stderr = server.stderr();
    for deprecated in [
        "NodeOld: runtime nodejs8.10",
        "PythonOld: runtime python3.7",
    ] {
        let line = stderr
            .lines()
            .find(|line| line.contains(deprecated))
            .unwrap_or_else(|| panic!("no warning for {deprecated}:\n{stderr}"));
        assert!(
            line.contains("is deprecated: AWS Lambda no longer runs it; running with"),
            "{line}"
        );
    }
    // The current runtimes warn only when the host lacks their exact version.
    for line in stderr
        .lines()
        .filter(|line| line.contains("Current: runtime"))
    {
        assert!(
            line.contains(" wants Node.js 24, running with Node.js ")
                || line.contains(" wants Python 3.14, running with Python 3."),
            "{line}"
        );
    }
}

#[test]
fn a_runtime_lambda_never_had_fails_at_once_with_the_nearest_name() {
    let app = tempfile::tempdir().expect("tempdir");
    serverful_e2e::copy_dir(&test_app("runtime-names"), app.path());
    let template = app.path().join("template.yaml");
    let text = std::fs::read_to_string(&template).expect("read template");
    std::fs::write(&template, text.replace("python3.7", "pyhton3.7")).expect("write");
    // A requirements file that cannot install: had the build run before the check, the
    // error would be pip's, not the runtime's.
    std::fs::write(
        app.path().join("src/requirements.txt"),
        "no-such-package==0\n",
    )
    .expect("write");
    let (code, stderr) = up_until_it_fails(app.path());
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr.trim(),
        "error: PythonOld: runtime pyhton3.7 is not a Lambda runtime; did you mean python3.7?"
    );
}

/// Serverful's Node.js and Python bootstraps speak their own framed channel to the server,
/// and `AWS_LAMBDA_RUNTIME_API` still serves the HTTP Runtime API beside it: a handler
/// that answers its own invocation there is heard, its bootstrap's later answer is dropped
/// with a log line, and the same process goes on serving.
#[test]
fn handlers_can_still_call_the_http_runtime_api_themselves() {
    let app = tempfile::tempdir().expect("tempdir");
    let write = |path: &str, text: &str| {
        let path = app.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write(
        "template.yaml",
        r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  SelfPython:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: py/
      Events:
        Api:
          Type: HttpApi
          Properties: { Path: /py, Method: GET }
  SelfNode:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      CodeUri: node/
      Events:
        Api:
          Type: HttpApi
          Properties: { Path: /node, Method: GET }
"#,
    );
    write(
        "py/app.py",
        r#"import json, os, urllib.request

def handler(event, context):
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    answer = {"statusCode": 200, "body": json.dumps({"from": "runtime-api", "pid": os.getpid()})}
    request = urllib.request.Request(
        "http://{}/2018-06-01/runtime/invocation/{}/response".format(api, context.aws_request_id),
        data=json.dumps(answer).encode(), method="POST")
    with urllib.request.urlopen(request) as response:
        status = response.status
    return {"statusCode": 500, "body": "the handler's own return after {}".format(status)}
"#,
    );
    write(
        "node/index.js",
        r#"const http = require("node:http");
exports.handler = async (event, context) => {
  const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
  const body = JSON.stringify({ statusCode: 200, body: JSON.stringify({ from: "runtime-api", pid: process.pid }) });
  const status = await new Promise((resolve, reject) => {
    const request = http.request(
      { host, port, method: "POST", path: `/2018-06-01/runtime/invocation/${context.awsRequestId}/response` },
      (response) => { response.resume(); resolve(response.statusCode); });
    request.on("error", reject);
    request.end(body);
  });
  return { statusCode: 500, body: `the handler's own return after ${status}` };
};
"#,
    );
    let server = Server::start(app.path(), &[]);
    let http = client();
    for path in ["/py", "/node"] {
        let mut pids = Vec::new();
        for _ in 0..2 {
            let response = http.get(server.url(path)).send().expect("GET");
            assert_eq!(response.status(), 200, "{path}: {}", server.all_output());
            let body = json_body(response);
            assert_eq!(body["from"], "runtime-api", "{path}: {body}");
            pids.push(body["pid"].as_u64().expect("pid"));
        }
        assert_eq!(pids[0], pids[1], "{path}: one process served both");
    }
    // Each bootstrap's own answer comes after its handler's, and is dropped.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let output = server.all_output();
        let dropped = output
            .matches("was already answered; this answer is dropped")
            .count();
        if dropped == 4 {
            break;
        }
        assert!(
            dropped < 4 && std::time::Instant::now() < deadline,
            "{dropped} dropped answers:\n{output}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
