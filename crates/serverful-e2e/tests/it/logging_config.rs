//! Functions' `LoggingConfig` (issue #19): `LogFormat: JSON` turns Lambda's system lines
//! into `platform.start`/`platform.report` objects and the Node.js and Python runtimes'
//! own logging into JSON records, `ApplicationLogLevel` and `SystemLogLevel` filter them,
//! and `LogGroup` is what the function is told. A level with `LogFormat: Text` is refused
//! as Lambda refuses it.

use std::time::{Duration, Instant};

use serde_json::Value;
use serverful_e2e::{up_until_it_fails, Server};

use crate::client;

const TEMPLATE: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 10
Resources:
  NodeJson:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      CodeUri: node/
      LoggingConfig:
        LogFormat: JSON
        ApplicationLogLevel: WARN
        LogGroup: /custom/node-json
      Events:
        Get:
          Type: HttpApi
          Properties: {Path: /node, Method: GET}
  PythonJson:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: python/
      LoggingConfig:
        LogFormat: JSON
        ApplicationLogLevel: DEBUG
        SystemLogLevel: WARN
      Events:
        Get:
          Type: HttpApi
          Properties: {Path: /python, Method: GET}
  NodeText:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      CodeUri: node/
      Events:
        Get:
          Type: HttpApi
          Properties: {Path: /text, Method: GET}
"#;

const NODE: &str = r#"
exports.handler = async (event) => {
  console.debug("node debug line");
  console.info("node info line");
  console.warn("node warn line");
  console.error("node error line", new TypeError("bad input"));
  return { statusCode: 200, body: JSON.stringify({
    format: process.env.AWS_LAMBDA_LOG_FORMAT,
    level: process.env.AWS_LAMBDA_LOG_LEVEL || null,
    group: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
  }) };
};
"#;

const PYTHON: &str = r#"
import logging
import os
logger = logging.getLogger("app")

def handler(event, context):
    logger.debug("python debug line")
    logger.info("python info line", extra={"orderId": 42})
    try:
        raise ValueError("broken order")
    except ValueError:
        logger.exception("python failed")
    return {"statusCode": 200, "body": os.environ["AWS_LAMBDA_LOG_FORMAT"]}
"#;

fn write_app(dir: &std::path::Path, template: &str) {
    std::fs::create_dir_all(dir.join("node")).expect("node dir");
    std::fs::create_dir_all(dir.join("python")).expect("python dir");
    std::fs::write(dir.join("template.yaml"), template).expect("template");
    std::fs::write(dir.join("node/index.js"), NODE).expect("node code");
    std::fs::write(dir.join("python/app.py"), PYTHON).expect("python code");
}

/// The JSON objects the server printed for `function` (its lines are `Function | line`).
fn json_lines(server: &Server, function: &str) -> Vec<Value> {
    let prefix = format!("{function} | ");
    server
        .stdout()
        .lines()
        .filter_map(|line| line.split_once(&prefix).map(|(_, rest)| rest.to_owned()))
        .filter_map(|rest| serde_json::from_str::<Value>(&rest).ok())
        .filter(Value::is_object)
        .collect()
}

fn wait_for(server: &Server, what: &str, done: impl Fn(&Server) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done(server) {
        assert!(
            Instant::now() < deadline,
            "{what} never came:\n{}",
            server.all_output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn json_logs_and_levels_as_lambda_writes_them() {
    let app = tempfile::tempdir().expect("tempdir");
    write_app(app.path(), TEMPLATE);
    let server = Server::start(app.path(), &[]);
    let http = client();

    // Node.js, JSON at WARN: only warn and error lines, as records; the system lines as
    // platform events; the function told its format, level and log group.
    let told: Value = serde_json::from_str(
        &http
            .get(server.url("/node"))
            .send()
            .expect("GET /node")
            .text()
            .expect("body"),
    )
    .expect("JSON body");
    assert_eq!(told["format"], "JSON");
    assert_eq!(told["level"], "WARN");
    assert_eq!(told["group"], "/custom/node-json");
    wait_for(&server, "the Node.js report", |server| {
        json_lines(server, "NodeJson")
            .iter()
            .any(|line| line["type"] == "platform.report")
    });
    let node = json_lines(&server, "NodeJson");
    let start = node
        .iter()
        .find(|line| line["type"] == "platform.start")
        .expect("platform.start");
    let request_id = start["record"]["requestId"].as_str().expect("request id");
    let app_lines: Vec<&Value> = node
        .iter()
        .filter(|line| line.get("level").is_some())
        .collect();
    let levels: Vec<&str> = app_lines
        .iter()
        .map(|line| line["level"].as_str().expect("level"))
        .collect();
    assert_eq!(levels, ["WARN", "ERROR"], "{app_lines:#?}");
    assert_eq!(app_lines[0]["message"], "node warn line");
    assert_eq!(app_lines[0]["requestId"], request_id);
    assert_eq!(app_lines[1]["errorType"], "TypeError");
    assert_eq!(app_lines[1]["errorMessage"], "bad input");
    let report = node
        .iter()
        .find(|line| line["type"] == "platform.report")
        .expect("platform.report");
    assert_eq!(report["record"]["requestId"], request_id);
    assert_eq!(report["record"]["status"], "success");
    assert!(report["record"]["metrics"]["durationMs"].is_number());
    assert!(report["record"]["metrics"]["initDurationMs"].is_number());
    assert!(
        !server
            .stdout()
            .contains(&format!("END RequestId: {request_id}")),
        "JSON logs have no END line"
    );

    // Python, JSON at DEBUG with system lines at WARN: every logging record as JSON (with
    // `extra=` fields and the exception), and no platform.start or successful report.
    let response = http.get(server.url("/python")).send().expect("GET /python");
    assert_eq!(response.text().expect("body"), "JSON");
    wait_for(&server, "the Python error record", |server| {
        json_lines(server, "PythonJson")
            .iter()
            .any(|line| line["message"] == "python failed")
    });
    let python = json_lines(&server, "PythonJson");
    let debug = python
        .iter()
        .find(|line| line["message"] == "python debug line")
        .expect("DEBUG passes");
    assert_eq!(debug["level"], "DEBUG");
    assert_eq!(debug["logger"], "app");
    let info = python
        .iter()
        .find(|line| line["message"] == "python info line")
        .expect("INFO passes");
    assert_eq!(info["orderId"], 42);
    assert!(info["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    let failed = python
        .iter()
        .find(|line| line["message"] == "python failed")
        .expect("the exception record");
    assert_eq!(failed["level"], "ERROR");
    assert_eq!(failed["errorType"], "ValueError");
    assert_eq!(failed["errorMessage"], "broken order");
    assert!(
        python.iter().all(|line| line.get("type").is_none()),
        "{python:#?}"
    );

    // Text stays Lambda's classic lines, told `Text`, no level.
    let told: Value = serde_json::from_str(
        &http
            .get(server.url("/text"))
            .send()
            .expect("GET /text")
            .text()
            .expect("body"),
    )
    .expect("JSON body");
    assert_eq!(told["format"], "Text");
    assert_eq!(told["level"], Value::Null);
    wait_for(&server, "the text REPORT", |server| {
        server
            .stdout()
            .lines()
            .any(|line| line.contains("NodeText | REPORT RequestId: "))
    });
    assert!(server
        .stdout()
        .lines()
        .any(|line| line.contains("NodeText | ") && line.contains("\tDEBUG\tnode debug line")));
}

#[test]
fn a_log_level_without_json_is_refused_where_it_is_written() {
    let app = tempfile::tempdir().expect("tempdir");
    let template = TEMPLATE.replace(
        "        LogFormat: JSON\n        ApplicationLogLevel: WARN\n",
        "        ApplicationLogLevel: WARN\n",
    );
    write_app(app.path(), &template);
    let (code, output) = up_until_it_fails(app.path());
    assert_ne!(code, 0, "{output}");
    assert!(
        output.contains("LoggingConfig.ApplicationLogLevel: log levels apply to JSON logs only; add LogFormat: JSON"),
        "{output}"
    );
    let template = TEMPLATE.replace("SystemLogLevel: WARN", "SystemLogLevel: ERROR");
    write_app(app.path(), &template);
    let (code, output) = up_until_it_fails(app.path());
    assert_ne!(code, 0, "{output}");
    assert!(
        output.contains("LoggingConfig.SystemLogLevel: 'ERROR' is not one of DEBUG, INFO, WARN"),
        "{output}"
    );
}

#[test]
fn the_server_writes_json_lines_with_log_format_json() {
    let app = tempfile::tempdir().expect("tempdir");
    write_app(app.path(), TEMPLATE);
    let server = Server::start(app.path(), &["--log-format", "json"]);
    let response = client().get(server.url("/text")).send().expect("GET /text");
    assert_eq!(response.status(), 200);
    // The server's own diagnostics on stderr: `serving` with its listeners.
    wait_for(&server, "the serving record", |server| {
        server
            .stderr()
            .lines()
            .any(|line| line.contains("\"serving\""))
    });
    let serving: Value = server
        .stderr()
        .lines()
        .find(|line| line.contains("\"serving\""))
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .expect("serving");
    assert_eq!(serving["level"], "INFO");
    assert!(serving["fields"]["admin"]
        .as_str()
        .is_some_and(|url| url.starts_with("http://")));
    // Function lines on stdout as objects naming their function.
    wait_for(&server, "the function's JSON line", |server| {
        server.stdout().lines().any(|line| {
            serde_json::from_str::<Value>(line).is_ok_and(|object| {
                object["function"] == "NodeText"
                    && object["message"]
                        .as_str()
                        .is_some_and(|message| message.starts_with("REPORT RequestId: "))
            })
        })
    });
}
