//! Integration tests of the runtime: small functions written into a temporary folder, run
//! by the host's `node`, `python3` and `sh`, invoked through [`Runtime`].

mod http_mode;
mod log_store;
mod metrics;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};
use serverful_runtime::{
    FunctionConfig, InvokeContext, InvokeError, LogSink, LogStore, Runtime, RuntimeError,
    RuntimeOptions, WarmError,
};

/// Log lines captured from the runtime's sink, as `(function, line)`.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<(String, String)>>>);

impl Logs {
    fn sink(&self) -> LogSink {
        let lines = self.0.clone();
        LogSink::new(move |function, line| {
            lines
                .lock()
                .expect("log lock")
                .push((function.to_owned(), line.to_owned()));
        })
    }

    fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("log lock")
            .iter()
            .map(|(_, line)| line.clone())
            .collect()
    }

    fn functions(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("log lock")
            .iter()
            .map(|(function, _)| function.clone())
            .collect()
    }
}

/// A folder of function code plus the runtime's data folder.
struct App {
    dir: tempfile::TempDir,
    logs: Logs,
    max_concurrency: u32,
    max_queued: u32,
    idle_timeout: Option<Duration>,
    log_store: Option<Arc<dyn LogStore>>,
    /// Off unless a test turns it on.
    metrics: serverful_metrics::Metrics,
}

impl App {
    fn new() -> App {
        App {
            dir: tempfile::tempdir().expect("tempdir"),
            logs: Logs::default(),
            max_concurrency: 4,
            max_queued: 100,
            idle_timeout: None,
            log_store: None,
            metrics: serverful_metrics::Metrics::disabled(),
        }
    }

    /// Writes `content` to `function_dir/relative`, executable if asked.
    fn write(&self, function_dir: &str, relative: &str, content: &str, executable: bool) {
        let path = self.dir.path().join(function_dir).join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, content).expect("write");
        if executable {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }

    fn function(
        &self,
        name: &str,
        runtime: &str,
        handler: &str,
        function_dir: &str,
    ) -> FunctionConfig {
        let code_dir = self.dir.path().join(function_dir);
        std::fs::create_dir_all(&code_dir).expect("mkdir");
        FunctionConfig {
            name: name.to_owned(),
            // Distinct from the logical id, as CloudFormation's names are, so tests see
            // which of the two each place uses.
            function_name: format!("app-{name}-0123456789AB"),
            runtime: runtime.to_owned(),
            handler: handler.to_owned(),
            code_dir,
            timeout: Duration::from_secs(3),
            memory_mb: 128,
            environment: BTreeMap::new(),
            reserved_concurrency: None,
            tmp_size_mb: 512,
            network: None,
            layers_dir: None,
            logging: Default::default(),
        }
    }

    fn options(&self) -> RuntimeOptions {
        RuntimeOptions {
            region: "eu-west-1".to_owned(),
            account_id: "111122223333".to_owned(),
            data_dir: self.dir.path().join("data"),
            aws_endpoint_url: Some("http://127.0.0.1:4566".to_owned()),
            access_key_id: "AKIDTEST".to_owned(),
            secret_access_key: "secret".to_owned(),
            session_token: Some("token".to_owned()),
            max_concurrency: self.max_concurrency,
            max_queued: self.max_queued,
            log_sink: self.logs.sink(),
            log_store: self.log_store.clone(),
            stack: "test-stack".to_owned(),
            idle_timeout: self.idle_timeout,
            sandbox: None,
            aws_hosts: None,
            metrics: self.metrics.clone(),
        }
    }

    fn runtime(&self, functions: Vec<FunctionConfig>) -> (Runtime, Vec<String>) {
        Runtime::new(functions, self.options()).expect("valid functions")
    }
}

async fn invoke(runtime: &Runtime, function: &str, event: Value) -> Result<Value, InvokeError> {
    let bytes = runtime
        .invoke(function, Bytes::from(event.to_string()))
        .await?;
    Ok(serde_json::from_slice(&bytes).expect("response is JSON"))
}

fn function_error(result: Result<Value, InvokeError>) -> Value {
    match result {
        Err(InvokeError::FunctionError(body)) => serde_json::from_slice(&body).expect("error JSON"),
        other => panic!("expected a function error, got {other:?}"),
    }
}

const NODE_COUNTER: &str = r#"
let invocations = 0;
exports.handler = async (event, context) => {
  invocations += 1;
  console.log("hello from node", { n: invocations });
  return {
    event,
    pid: process.pid,
    invocations,
    context: {
      functionName: context.functionName,
      functionVersion: context.functionVersion,
      invokedFunctionArn: context.invokedFunctionArn,
      memoryLimitInMB: context.memoryLimitInMB,
      awsRequestId: context.awsRequestId,
      logGroupName: context.logGroupName,
      logStreamName: context.logStreamName,
      remaining: context.getRemainingTimeInMillis(),
      waits: context.callbackWaitsForEmptyEventLoop,
      identity: context.identity,
      clientContext: context.clientContext,
    },
  };
};
"#;

#[tokio::test]
async fn node_async_handler_reuses_its_warm_instance() {
    let app = App::new();
    app.write("node", "index.js", NODE_COUNTER, false);
    let (runtime, _warnings) = app.runtime(vec![app.function(
        "Hello",
        "nodejs20.x",
        "index.handler",
        "node",
    )]);

    let first = invoke(&runtime, "Hello", json!({"name": "a"}))
        .await
        .expect("first");
    let second = invoke(&runtime, "Hello", json!({"name": "b"}))
        .await
        .expect("second");
    assert_eq!(first["event"], json!({"name": "a"}));
    assert_eq!(second["event"], json!({"name": "b"}));
    assert_eq!(first["pid"], second["pid"], "a warm instance is reused");
    assert_eq!(second["invocations"], 2);

    let context = &first["context"];
    assert_eq!(context["functionName"], "app-Hello-0123456789AB");
    assert_eq!(context["functionVersion"], "$LATEST");
    assert_eq!(
        context["invokedFunctionArn"],
        "arn:aws:lambda:eu-west-1:111122223333:function:app-Hello-0123456789AB"
    );
    assert_eq!(context["memoryLimitInMB"], "128");
    assert_eq!(
        context["logGroupName"],
        "/aws/lambda/app-Hello-0123456789AB"
    );
    assert!(context["logStreamName"]
        .as_str()
        .expect("stream")
        .contains("/[$LATEST]"));
    assert_eq!(context["awsRequestId"].as_str().expect("id").len(), 36);
    let remaining = context["remaining"].as_i64().expect("remaining");
    assert!(remaining > 1000 && remaining <= 3000, "{remaining}");
    assert_eq!(context["waits"], true);
    runtime.shutdown().await;
}

const NODE_STREAMING: &str = r#"
exports.handler = awslambda.streamifyResponse(async (event, stream) => {
  console.log('writing');
  stream.setContentType('text/plain');
  stream.write('a');
  await new Promise((resolve) => setTimeout(resolve, 500));
  if (event.fail) throw new Error('midway');
  stream.end('b');
});
"#;

#[tokio::test]
async fn node_streams_chunks_as_written_and_plain_callers_get_them_collected() {
    let app = App::new();
    app.write("node", "index.js", NODE_STREAMING, false);
    let (runtime, _) = app.runtime(vec![app.function(
        "Streamer",
        "nodejs20.x",
        "index.handler",
        "node",
    )]);
    let tail = serverful_runtime::LogTail::new();
    let context = InvokeContext {
        log_tail: Some(tail.clone()),
        ..InvokeContext::default()
    };
    let response = runtime
        .invoke_streaming("Streamer", Bytes::from_static(b"{}"), context)
        .await
        .expect("invoke");
    let serverful_runtime::Response::Streamed(mut stream) = response else {
        panic!("expected a streamed response");
    };
    assert_eq!(stream.content_type.as_deref(), Some("text/plain"));
    let first = stream.next().await.expect("a chunk").expect("ok");
    let first_at = std::time::Instant::now();
    assert_eq!(first, "a");
    let second = stream.next().await.expect("a chunk").expect("ok");
    assert_eq!(second, "b");
    assert!(first_at.elapsed() >= std::time::Duration::from_millis(400));
    assert!(stream.next().await.is_none());
    let log = tail.text();
    assert!(log.starts_with("START RequestId: "), "{log}");
    assert!(log.contains("\tINFO\twriting\n"), "{log}");
    assert!(log.contains("\nREPORT RequestId: "), "{log}");

    let collected = runtime
        .invoke("Streamer", Bytes::from_static(b"{}"))
        .await
        .expect("invoke");
    assert_eq!(collected, "ab");
    let failed = runtime
        .invoke("Streamer", Bytes::from_static(br#"{"fail":true}"#))
        .await;
    match failed {
        Err(serverful_runtime::InvokeError::FunctionError(error)) => {
            let error: Value = serde_json::from_slice(&error).expect("error JSON");
            assert_eq!(error["errorMessage"], "midway");
            assert_eq!(error["errorType"], "Error");
        }
        other => panic!("expected the trailers' error, got {other:?}"),
    }
    runtime.shutdown().await;
}

#[tokio::test]
async fn node_context_carries_identity_and_client_context() {
    let app = App::new();
    app.write("node", "index.js", NODE_COUNTER, false);
    let (runtime, _) = app.runtime(vec![app.function(
        "Hello",
        "nodejs20.x",
        "index.handler",
        "node",
    )]);
    let context = InvokeContext {
        client_context: Some(r#"{"custom":{"k":"v"}}"#.to_owned()),
        cognito_identity: Some(
            r#"{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}"#.to_owned(),
        ),
        trace_id: None,
        log_tail: None,
        report: None,
    };
    let bytes = runtime
        .invoke_with("Hello", Bytes::from_static(b"{}"), context)
        .await
        .expect("invoke");
    let result: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(
        result["context"]["identity"],
        json!({"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"})
    );
    assert_eq!(
        result["context"]["clientContext"],
        json!({"custom": {"k": "v"}})
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn node_callback_handlers() {
    let app = App::new();
    app.write(
        "node",
        "cb.js",
        r#"
exports.ok = (event, context, callback) => { setTimeout(() => callback(null, { via: "callback", event }), 10); };
exports.fails = (event, context, callback) => { callback(new TypeError("bad input")); };
exports.succeed = (event, context) => { context.succeed({ via: "succeed" }); };
exports.text = (event, context, callback) => { callback("plain failure"); };
"#,
        false,
    );
    let (runtime, _) = app.runtime(vec![
        app.function("Ok", "nodejs20.x", "cb.ok", "node"),
        app.function("Fails", "nodejs20.x", "cb.fails", "node"),
        app.function("Succeed", "nodejs20.x", "cb.succeed", "node"),
        app.function("Text", "nodejs20.x", "cb.text", "node"),
    ]);
    assert_eq!(
        invoke(&runtime, "Ok", json!(1)).await.expect("ok"),
        json!({"via": "callback", "event": 1})
    );
    let error = function_error(invoke(&runtime, "Fails", json!({})).await);
    assert_eq!(error["errorType"], "TypeError");
    assert_eq!(error["errorMessage"], "bad input");
    assert!(error["trace"][0]
        .as_str()
        .expect("trace")
        .starts_with("TypeError: bad input"));
    assert_eq!(
        invoke(&runtime, "Succeed", json!({}))
            .await
            .expect("succeed"),
        json!({"via": "succeed"})
    );
    let error = function_error(invoke(&runtime, "Text", json!({})).await);
    assert_eq!(error["errorType"], "string");
    assert_eq!(error["errorMessage"], "plain failure");
    let lines = app.logs.lines();
    assert!(
        lines
            .iter()
            .any(|line| line.contains("\tERROR\tInvoke Error \t{\"errorType\":\"TypeError\"")),
        "{lines:#?}"
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn node_es_module_with_nested_export() {
    let app = App::new();
    app.write(
        "esm",
        "src/app.mjs",
        r#"
import { hostname } from "node:os";
export const handlers = { main: async (event) => ({ esm: true, doubled: event.n * 2, host: typeof hostname() }) };
export default { ignored: true };
"#,
        false,
    );
    let (runtime, _) = app.runtime(vec![app.function(
        "Esm",
        "nodejs20.x",
        "src/app.handlers.main",
        "esm",
    )]);
    assert_eq!(
        invoke(&runtime, "Esm", json!({"n": 21}))
            .await
            .expect("invoke"),
        json!({"esm": true, "doubled": 42, "host": "string"})
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn node_missing_export_is_handler_not_found_then_retried() {
    let app = App::new();
    app.write(
        "node",
        "index.js",
        "exports.other = async () => 1;\n",
        false,
    );
    let (runtime, _) = app.runtime(vec![app.function(
        "Missing",
        "nodejs20.x",
        "index.handler",
        "node",
    )]);
    for _ in 0..2 {
        let error = function_error(invoke(&runtime, "Missing", json!({})).await);
        assert_eq!(error["errorType"], "Runtime.HandlerNotFound");
        assert_eq!(
            error["errorMessage"],
            "index.handler is undefined or not exported"
        );
    }
    let lines = app.logs.lines();
    let init_reports = lines
        .iter()
        .filter(|line| {
            line.starts_with("INIT_REPORT Init Duration: ")
                && line.ends_with("Error Type: Runtime.HandlerNotFound")
        })
        .count();
    assert_eq!(
        init_reports, 2,
        "each request tries a fresh instance: {lines:#?}"
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn node_syntax_error_is_reported_at_init() {
    let app = App::new();
    app.write(
        "node",
        "index.mjs",
        "export const handler = async () => {\n",
        false,
    );
    let (runtime, _) = app.runtime(vec![app.function(
        "Broken",
        "nodejs20.x",
        "index.handler",
        "node",
    )]);
    let error = function_error(invoke(&runtime, "Broken", json!({})).await);
    assert_eq!(error["errorType"], "Runtime.UserCodeSyntaxError");
    runtime.shutdown().await;
}

#[tokio::test]
async fn node_process_exit_mid_request_drops_the_instance() {
    let app = App::new();
    app.write(
        "node",
        "index.js",
        r#"
exports.handler = async (event) => {
  if (event.exit) { process.exit(1); }
  return { pid: process.pid };
};
"#,
        false,
    );
    let (runtime, _) = app.runtime(vec![app.function(
        "Exits",
        "nodejs20.x",
        "index.handler",
        "node",
    )]);
    let before = invoke(&runtime, "Exits", json!({})).await.expect("first");
    let error = function_error(invoke(&runtime, "Exits", json!({"exit": true})).await);
    assert_eq!(error["errorType"], "Runtime.ExitError");
    let message = error["errorMessage"].as_str().expect("message");
    assert!(message.starts_with("RequestId: "), "{message}");
    assert!(
        message.ends_with(" Error: Runtime exited with error: exit status 1"),
        "{message}"
    );
    let after = invoke(&runtime, "Exits", json!({})).await.expect("after");
    assert_ne!(
        before["pid"], after["pid"],
        "a new instance serves the next request"
    );
    runtime.shutdown().await;
}

const PYTHON_APP: &str = r#"
import logging
import os
import time

logger = logging.getLogger()
logger.setLevel(logging.INFO)
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    print("plain print", COUNT)
    logger.info("logged %s", event.get("name"))
    return {
        "pid": os.getpid(),
        "count": COUNT,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(),
            "identity_id": context.identity.cognito_identity_id,
            "client_context": context.client_context,
        },
    }

def fails(event, context):
    raise ValueError("boom " + str(event.get("n")))

def sleeps(event, context):
    time.sleep(event.get("seconds", 5))
    return {"slept": True, "pid": os.getpid()}

def exits(event, context):
    os._exit(1)

def big(event, context):
    return "x" * (7 * 1024 * 1024) if event.get("big") else "small"
"#;

#[tokio::test]
async fn python_handler_context_environment_and_logs() {
    let app = App::new();
    app.write("py", "app.py", PYTHON_APP, false);
    let mut function = app.function("PyHello", "python3.11", "app.handler", "py");
    function
        .environment
        .insert("TABLE_NAME".to_owned(), "users".to_owned());
    function
        .environment
        .insert("AWS_REGION".to_owned(), "ap-south-1".to_owned());
    let (runtime, warnings) = app.runtime(vec![function.clone()]);
    assert!(
        warnings.is_empty()
            || warnings[0].starts_with("PyHello: runtime python3.11 wants python3.11"),
        "{warnings:?}"
    );

    let first = invoke(&runtime, "PyHello", json!({"name": "ada"}))
        .await
        .expect("first");
    let second = invoke(&runtime, "PyHello", json!({"name": "bob"}))
        .await
        .expect("second");
    assert_eq!(first["pid"], second["pid"], "a warm instance is reused");
    assert_eq!(second["count"], 2);
    assert_eq!(first["cwd"], function.code_dir.display().to_string());

    let context = &first["context"];
    assert_eq!(context["function_name"], "app-PyHello-0123456789AB");
    assert_eq!(context["function_version"], "$LATEST");
    assert_eq!(
        context["invoked_function_arn"],
        "arn:aws:lambda:eu-west-1:111122223333:function:app-PyHello-0123456789AB"
    );
    assert_eq!(context["memory_limit_in_mb"], "128");
    assert_eq!(
        context["log_group_name"],
        "/aws/lambda/app-PyHello-0123456789AB"
    );
    assert_eq!(context["client_context"], Value::Null);
    let remaining = context["remaining"].as_i64().expect("remaining");
    assert!(remaining > 1000 && remaining <= 3000, "{remaining}");

    let env = &first["env"];
    let request_id = context["aws_request_id"].as_str().expect("request id");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "app-PyHello-0123456789AB");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
    assert_eq!(
        env["AWS_LAMBDA_LOG_GROUP_NAME"],
        "/aws/lambda/app-PyHello-0123456789AB"
    );
    assert_eq!(
        env["AWS_LAMBDA_LOG_STREAM_NAME"],
        context["log_stream_name"]
    );
    let stream = env["AWS_LAMBDA_LOG_STREAM_NAME"].as_str().expect("stream");
    assert!(
        regex::Regex::new(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")
            .expect("regex")
            .is_match(stream),
        "{stream}"
    );
    assert!(env["AWS_LAMBDA_RUNTIME_API"]
        .as_str()
        .expect("api")
        .starts_with("127.0.0.1:"));
    assert_eq!(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
    assert_eq!(env["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.11");
    assert_eq!(env["_HANDLER"], "app.handler");
    assert_eq!(
        env["LAMBDA_TASK_ROOT"],
        function.code_dir.display().to_string()
    );
    assert!(env["LAMBDA_RUNTIME_DIR"]
        .as_str()
        .expect("runtime dir")
        .ends_with("data/runtimes"));
    assert_eq!(
        env["AWS_REGION"], "ap-south-1",
        "the function's own variables win"
    );
    assert_eq!(env["AWS_DEFAULT_REGION"], "eu-west-1");
    assert_eq!(env["TZ"], ":UTC");
    assert_eq!(env["LANG"], "en_US.UTF-8");
    assert_eq!(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:4566");
    assert_eq!(env["AWS_ACCESS_KEY_ID"], "AKIDTEST");
    assert_eq!(env["AWS_SECRET_ACCESS_KEY"], "secret");
    assert_eq!(env["AWS_SESSION_TOKEN"], "token");
    assert_eq!(env["TABLE_NAME"], "users");
    assert!(env["_X_AMZN_TRACE_ID"]
        .as_str()
        .expect("trace")
        .starts_with("Root=1-"));
    assert!(env["PATH"].as_str().is_some());
    // cargo sets this for the test process; it must not leak into functions.
    assert!(std::env::var("CARGO_MANIFEST_DIR").is_ok());
    assert!(
        env.get("CARGO_MANIFEST_DIR").is_none(),
        "server environment leaked"
    );

    let lines = app.logs.lines();
    assert!(lines.contains(&"plain print 1".to_owned()), "{lines:#?}");
    let logged = regex::Regex::new(&format!(
        r"^\[INFO\]\t\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}:\d{{2}}\.\d{{3}}Z\t{request_id}\tlogged ada$"
    ))
    .expect("regex");
    assert!(lines.iter().any(|line| logged.is_match(line)), "{lines:#?}");
    assert!(app
        .logs
        .functions()
        .iter()
        .all(|function| function == "PyHello"));
    runtime.shutdown().await;
}

#[tokio::test]
async fn start_end_report_lines_have_lambdas_format() {
    let app = App::new();
    app.write("node", "index.js", NODE_COUNTER, false);
    let (runtime, _) = app.runtime(vec![app.function(
        "Hello",
        "nodejs20.x",
        "index.handler",
        "node",
    )]);
    let first = invoke(&runtime, "Hello", json!({})).await.expect("first");
    let second = invoke(&runtime, "Hello", json!({})).await.expect("second");
    runtime.shutdown().await;
    let lines = app.logs.lines();
    let report = regex::Regex::new(
        r"^REPORT RequestId: ([0-9a-f-]{36})\tDuration: \d+\.\d{2} ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: [1-9]\d* MB\t(Init Duration: \d+\.\d{2} ms\t)?$",
    )
    .expect("regex");
    for (index, result) in [first, second].iter().enumerate() {
        let id = result["context"]["awsRequestId"].as_str().expect("id");
        let start = lines
            .iter()
            .position(|line| line == &format!("START RequestId: {id} Version: $LATEST"))
            .unwrap_or_else(|| panic!("no START for {id}: {lines:#?}"));
        let end = lines
            .iter()
            .position(|line| line == &format!("END RequestId: {id}"))
            .unwrap_or_else(|| panic!("no END for {id}: {lines:#?}"));
        let report_line = &lines[end + 1];
        let captures = report
            .captures(report_line)
            .unwrap_or_else(|| panic!("bad REPORT: {report_line:?}"));
        assert_eq!(&captures[1], id);
        assert_eq!(
            captures.get(2).is_some(),
            index == 0,
            "Init Duration only on the cold start: {report_line}"
        );
        let console = regex::Regex::new(&format!(
            r"^\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}:\d{{2}}\.\d{{3}}Z\t{id}\tINFO\thello from node \{{ n: {} \}}$",
            index + 1
        ))
        .expect("regex");
        let printed = lines
            .iter()
            .position(|line| console.is_match(line))
            .unwrap_or_else(|| panic!("no console line for {id}: {lines:#?}"));
        assert!(start < printed && printed < end, "{lines:#?}");
    }
}

#[tokio::test]
async fn python_exception_becomes_a_lambda_error() {
    let app = App::new();
    app.write("py", "app.py", PYTHON_APP, false);
    let (runtime, _) = app.runtime(vec![app.function(
        "PyFails",
        "python3.11",
        "app.fails",
        "py",
    )]);
    let error = function_error(invoke(&runtime, "PyFails", json!({"n": 7})).await);
    assert_eq!(error["errorType"], "ValueError");
    assert_eq!(error["errorMessage"], "boom 7");
    assert_eq!(error["requestId"].as_str().expect("request id").len(), 36);
    let stack = error["stackTrace"].as_array().expect("stack");
    assert!(
        stack.iter().any(|frame| frame
            .as_str()
            .is_some_and(|f| f.contains("app.py") && f.contains("in fails"))),
        "{stack:?}"
    );
    let lines = app.logs.lines();
    assert!(
        lines.contains(&"[ERROR] ValueError: boom 7".to_owned()),
        "{lines:#?}"
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn python_import_errors_and_missing_handlers() {
    let app = App::new();
    app.write("py", "app.py", "import not_a_module_anywhere\n", false);
    app.write(
        "py",
        "ok.py",
        "def other(event, context):\n    return 1\n",
        false,
    );
    let (runtime, _) = app.runtime(vec![
        app.function("BadImport", "python3.11", "app.handler", "py"),
        app.function("NoHandler", "python3.11", "ok.handler", "py"),
    ]);
    let error = function_error(invoke(&runtime, "BadImport", json!({})).await);
    assert_eq!(error["errorType"], "Runtime.ImportModuleError");
    assert_eq!(
        error["errorMessage"],
        "Unable to import module 'app': No module named 'not_a_module_anywhere'"
    );
    let error = function_error(invoke(&runtime, "NoHandler", json!({})).await);
    assert_eq!(error["errorType"], "Runtime.HandlerNotFound");
    assert_eq!(
        error["errorMessage"],
        "Handler 'handler' missing on module 'ok'"
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn timeout_kills_the_instance_and_logs_it() {
    let app = App::new();
    app.write("py", "app.py", PYTHON_APP, false);
    let mut function = app.function("Sleepy", "python3.11", "app.sleeps", "py");
    function.timeout = Duration::from_secs(1);
    let (runtime, _) = app.runtime(vec![function]);
    let quick = invoke(&runtime, "Sleepy", json!({"seconds": 0}))
        .await
        .expect("quick");
    let started = Instant::now();
    let result = invoke(&runtime, "Sleepy", json!({"seconds": 30})).await;
    assert!(matches!(result, Err(InvokeError::Timeout)), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let pid = quick["pid"].as_i64().expect("pid");
    assert!(
        wait_until_dead(pid).await,
        "the timed-out instance was killed"
    );
    let lines = app.logs.lines();
    let timed_out = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z [0-9a-f-]{36} Task timed out after 1\.00 seconds$").expect("regex");
    assert!(
        lines.iter().any(|line| timed_out.is_match(line)),
        "{lines:#?}"
    );
    let after = invoke(&runtime, "Sleepy", json!({"seconds": 0}))
        .await
        .expect("after");
    assert_ne!(after["pid"], quick["pid"]);
    runtime.shutdown().await;
}

/// Waits up to five seconds for a killed process to die; whether it did.
async fn wait_until_dead(pid: i64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// Whether a process is still running (a zombie waiting for its parent counts as dead).
fn process_alive(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next());
            state != Some("Z") && state != Some("X")
        }
        Err(_) => false,
    }
}

#[tokio::test]
async fn python_os_exit_mid_request() {
    let app = App::new();
    app.write("py", "app.py", PYTHON_APP, false);
    let (runtime, _) = app.runtime(vec![app.function(
        "PyExits",
        "python3.11",
        "app.exits",
        "py",
    )]);
    let error = function_error(invoke(&runtime, "PyExits", json!({})).await);
    assert_eq!(error["errorType"], "Runtime.ExitError");
    assert!(error["errorMessage"]
        .as_str()
        .expect("message")
        .ends_with("Runtime exited with error: exit status 1"));
    let lines = app.logs.lines();
    assert!(
        lines.contains(&"Runtime.ExitError".to_owned()),
        "{lines:#?}"
    );
    runtime.shutdown().await;
}

const CURL_BOOTSTRAP: &str = r#"#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
HEADERS="$(mktemp)"
while true; do
  EVENT="$(curl -sS -D "$HEADERS" "$API/invocation/next")"
  REQUEST_ID="$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | cut -d: -f2 | tr -d ' \r\n')"
  ARN="$(grep -i '^Lambda-Runtime-Invoked-Function-Arn:' "$HEADERS" | cut -d' ' -f2 | tr -d '\r\n')"
  DEADLINE="$(grep -i '^Lambda-Runtime-Deadline-Ms:' "$HEADERS" | cut -d' ' -f2 | tr -d '\r\n')"
  WRONG="$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$API/invocation/not-the-id/response" -d '{}')"
  BAD_PATH="$(curl -sS -o /dev/null -w '%{http_code}' "$API/invocation/what")"
  echo "shell saw $REQUEST_ID"
  curl -sS -o /dev/null -X POST "$API/invocation/$REQUEST_ID/response" \
    -d "{\"echo\":$EVENT,\"arn\":\"$ARN\",\"wrong_id_status\":$WRONG,\"bad_path_status\":$BAD_PATH,\"handler\":\"$_HANDLER\",\"deadline\":$DEADLINE}"
done
"#;

#[tokio::test]
async fn provided_bootstrap_with_curl() {
    let app = App::new();
    app.write("sh", "bootstrap", CURL_BOOTSTRAP, true);
    let (runtime, warnings) = app.runtime(vec![app.function(
        "Shell",
        "provided.al2023",
        "whatever.handler",
        "sh",
    )]);
    assert!(warnings.is_empty(), "{warnings:?}");
    let result = invoke(&runtime, "Shell", json!({"x": [1, 2]}))
        .await
        .expect("invoke");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    let deadline = result["deadline"].as_i64().expect("deadline");
    assert!(
        deadline > now_ms && deadline <= now_ms + 3_000,
        "deadline {deadline} vs now {now_ms}"
    );
    let mut result = result;
    result.as_object_mut().expect("object").remove("deadline");
    assert_eq!(
        result,
        json!({
            "echo": {"x": [1, 2]},
            "arn": "arn:aws:lambda:eu-west-1:111122223333:function:app-Shell-0123456789AB",
            "wrong_id_status": 400,
            "bad_path_status": 404,
            "handler": "whatever.handler",
        })
    );
    let again = invoke(&runtime, "Shell", json!(2)).await.expect("again");
    assert_eq!(again["echo"], 2);
    let lines = app.logs.lines();
    assert!(
        lines.iter().any(|line| line.starts_with("shell saw ")),
        "{lines:#?}"
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn provided_bootstrap_init_error_and_early_exit() {
    let app = App::new();
    app.write(
        "init-error",
        "bootstrap",
        r#"#!/bin/sh
curl -sS -o /dev/null -X POST -H 'Lambda-Runtime-Function-Error-Type: Runtime.Custom' \
  "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/init/error" \
  -d '{"errorMessage":"config missing","errorType":"Runtime.Custom"}'
exit 1
"#,
        true,
    );
    app.write(
        "early-exit",
        "bootstrap",
        "#!/bin/sh\necho starting\nexit 3\n",
        true,
    );
    let (runtime, _) = app.runtime(vec![
        app.function("InitError", "provided", "h", "init-error"),
        app.function("EarlyExit", "provided.al2", "h", "early-exit"),
    ]);
    let error = function_error(invoke(&runtime, "InitError", json!({})).await);
    assert_eq!(
        error,
        json!({"errorMessage": "config missing", "errorType": "Runtime.Custom"})
    );
    let error = function_error(invoke(&runtime, "EarlyExit", json!({})).await);
    assert_eq!(error["errorType"], "Runtime.ExitError");
    assert!(error["errorMessage"]
        .as_str()
        .expect("message")
        .ends_with("Runtime exited with error: exit status 3"));
    let lines = app.logs.lines();
    assert!(lines.contains(&"starting".to_owned()), "{lines:#?}");
    runtime.shutdown().await;
}

/// Runs `n` invocations of `function` at once and returns their results.
async fn invoke_parallel(runtime: &Arc<Runtime>, function: &str, n: usize) -> Vec<Value> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let runtime = runtime.clone();
            let function = function.to_owned();
            tokio::spawn(async move { invoke(&runtime, &function, json!({})).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task").expect("invoke"));
    }
    results
}

const SLOW_NODE: &str =
    "exports.handler = async () => { await new Promise((r) => setTimeout(r, 300)); return { pid: process.pid }; };\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_run_on_parallel_instances() {
    let app = App::new();
    app.write("node", "slow.js", SLOW_NODE, false);
    let (runtime, _) = app.runtime(vec![app.function(
        "Slow",
        "nodejs20.x",
        "slow.handler",
        "node",
    )]);
    let runtime = Arc::new(runtime);
    // The first round starts four instances; the second measures four warm ones.
    invoke_parallel(&runtime, "Slow", 4).await;
    let started = Instant::now();
    let results = invoke_parallel(&runtime, "Slow", 4).await;
    let elapsed = started.elapsed();
    let mut pids: Vec<i64> = results
        .iter()
        .map(|r| r["pid"].as_i64().expect("pid"))
        .collect();
    pids.sort();
    pids.dedup();
    assert_eq!(
        pids.len(),
        4,
        "four instances served four parallel requests"
    );
    // Serially this would take 4 × 300 ms.
    assert!(elapsed < Duration::from_millis(1200), "took {elapsed:?}");
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_concurrency_makes_requests_wait_for_the_instance() {
    let app = App::new();
    app.write("node", "slow.js", SLOW_NODE, false);
    let mut function = app.function("Slow", "nodejs20.x", "slow.handler", "node");
    function.reserved_concurrency = Some(1);
    let (runtime, _) = app.runtime(vec![function]);
    let runtime = Arc::new(runtime);
    let started = Instant::now();
    let results = invoke_parallel(&runtime, "Slow", 3).await;
    assert!(
        started.elapsed() >= Duration::from_millis(850),
        "requests waited for the one instance"
    );
    assert!(
        results.iter().all(|r| r["pid"] == results[0]["pid"]),
        "{results:?}"
    );
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_limit_queue_then_are_throttled_when_the_queue_is_full() {
    let mut app = App::new();
    app.max_concurrency = 2;
    app.max_queued = 2;
    app.write("node", "slow.js", SLOW_NODE, false);
    let (runtime, _) = app.runtime(vec![app.function(
        "Slow",
        "nodejs20.x",
        "slow.handler",
        "node",
    )]);
    let runtime = Arc::new(runtime);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let runtime = runtime.clone();
            tokio::spawn(async move { invoke(&runtime, "Slow", json!({})).await })
        })
        .collect();
    let mut served = 0;
    let mut throttled = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => served += 1,
            Err(InvokeError::Throttled) => throttled += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    // Two run, two wait for them, and the other four find the queue full.
    assert_eq!((served, throttled), (4, 4));
    assert_eq!(runtime.stats()[0].throttles, 4);
    // Once the burst is over the function serves again.
    assert!(invoke(&runtime, "Slow", json!({})).await.is_ok());
    runtime.shutdown().await;
}

#[tokio::test]
async fn throttles_payload_limits_and_unknown_functions() {
    let app = App::new();
    app.write(
        "node",
        "index.js",
        "exports.handler = async (event) => event.big ? 'x'.repeat(7 * 1024 * 1024) : 'small';\n",
        false,
    );
    let mut throttled = app.function("Zero", "nodejs20.x", "index.handler", "node");
    throttled.reserved_concurrency = Some(0);
    app.write("py", "app.py", PYTHON_APP, false);
    let (runtime, _) = app.runtime(vec![
        app.function("Big", "nodejs20.x", "index.handler", "node"),
        app.function("PyBig", "python3.11", "app.big", "py"),
        throttled,
    ]);
    assert!(matches!(
        invoke(&runtime, "Zero", json!({})).await,
        Err(InvokeError::Throttled)
    ));
    assert!(matches!(
        invoke(&runtime, "Nope", json!({})).await,
        Err(InvokeError::NoSuchFunction(name)) if name == "Nope"
    ));
    let huge = Bytes::from(vec![b' '; 6 * 1024 * 1024 + 1]);
    assert!(matches!(
        runtime.invoke("Big", huge).await,
        Err(InvokeError::PayloadTooLarge)
    ));
    let result = invoke(&runtime, "Big", json!({"big": true})).await;
    assert!(
        matches!(result, Err(InvokeError::PayloadTooLarge)),
        "{result:?}"
    );
    let small = invoke(&runtime, "Big", json!({})).await;
    assert_eq!(small.ok(), Some(json!("small")), "{:#?}", app.logs.lines());
    let result = invoke(&runtime, "PyBig", json!({"big": true})).await;
    assert!(
        matches!(result, Err(InvokeError::PayloadTooLarge)),
        "{result:?}"
    );
    let small = invoke(&runtime, "PyBig", json!({})).await;
    assert_eq!(small.ok(), Some(json!("small")), "{:#?}", app.logs.lines());
    runtime.shutdown().await;
}

#[tokio::test]
async fn shutdown_kills_functions_and_their_children() {
    let app = App::new();
    app.write(
        "node",
        "index.js",
        r#"
const { spawn } = require("node:child_process");
exports.handler = async () => {
  const child = spawn("sleep", ["60"], { stdio: "ignore" });
  return { pid: process.pid, child: child.pid };
};
"#,
        false,
    );
    let (runtime, _) = app.runtime(vec![app.function(
        "Spawner",
        "nodejs20.x",
        "index.handler",
        "node",
    )]);
    let result = invoke(&runtime, "Spawner", json!({}))
        .await
        .expect("invoke");
    let pid = result["pid"].as_i64().expect("pid");
    let child = result["child"].as_i64().expect("child");
    assert!(process_alive(pid) && process_alive(child));
    runtime.shutdown().await;
    assert!(
        wait_until_dead(pid).await,
        "function process survived shutdown"
    );
    assert!(
        wait_until_dead(child).await,
        "child process survived shutdown"
    );
    assert!(matches!(
        invoke(&runtime, "Spawner", json!({})).await,
        Err(InvokeError::ShuttingDown)
    ));
}

#[test]
fn startup_validation_names_the_function_and_the_fix() {
    let app = App::new();
    let check = |function: FunctionConfig| match Runtime::new(vec![function], app.options()) {
        Err(error) => error,
        Ok(_) => panic!("expected a validation error"),
    };
    let error = check(app.function("HelloFunction", "python3.11", "app.handler", "empty"));
    assert_eq!(
        error.to_string(),
        format!(
            "HelloFunction: handler app.handler: no file app.py in {}",
            app.dir.path().join("empty").display()
        )
    );
    let error = check(app.function("HelloFunction", "pyhton3.12", "app.handler", "empty"));
    assert!(matches!(error, RuntimeError::UnsupportedRuntime { .. }));
    assert_eq!(
        error.to_string(),
        "HelloFunction: runtime pyhton3.12 is not a Lambda runtime; did you mean python3.12?"
    );
    app.write("sh", "bootstrap", "#!/bin/sh\n", false);
    let error = check(app.function("HelloFunction", "provided.al2023", "x", "sh"));
    assert!(error.to_string().contains("chmod +x"), "{error}");
}

#[test]
fn interpreter_version_fallback_warns_once_per_function() {
    let app = App::new();
    app.write("py", "app.py", "def handler(e, c):\n    return 1\n", false);
    app.write(
        "node",
        "index.js",
        "exports.handler = async () => 1;\n",
        false,
    );
    let (_runtime, warnings) = app.runtime(vec![
        app.function("HelloFunction", "python3.12", "app.handler", "py"),
        app.function("NodeFunction", "nodejs22.x", "index.handler", "node"),
    ]);
    let python312 = std::process::Command::new("python3.12")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    let python_warning = regex::Regex::new(
        r"^HelloFunction: runtime python3\.12 wants Python 3\.12, running with Python 3\.\d+\.\d+$",
    )
    .expect("regex");
    assert_eq!(
        warnings.iter().any(|w| python_warning.is_match(w)),
        !python312,
        "{warnings:?}"
    );
    let node22 = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).starts_with("v22."));
    let node_warning = regex::Regex::new(
        r"^NodeFunction: runtime nodejs22\.x wants Node\.js 22, running with Node\.js \d+\.\d+\.\d+$",
    )
    .expect("regex");
    assert_eq!(
        warnings.iter().any(|w| node_warning.is_match(w)),
        !node22,
        "{warnings:?}"
    );
}

#[tokio::test]
async fn idle_instances_scale_to_zero() {
    let mut app = App::new();
    app.idle_timeout = Some(Duration::from_millis(300));
    app.write("node", "index.js", NODE_COUNTER, false);
    let (runtime, _) = app.runtime(vec![app.function(
        "Hello",
        "nodejs20.x",
        "index.handler",
        "node",
    )]);
    let first = invoke(&runtime, "Hello", json!({})).await.expect("first");
    let pid = first["pid"].as_i64().expect("pid");
    assert!(wait_until_dead(pid).await, "the idle instance was stopped");
    let second = invoke(&runtime, "Hello", json!({})).await.expect("second");
    assert_ne!(second["pid"], first["pid"]);
    assert_eq!(
        second["invocations"], 1,
        "a cold start after scaling to zero"
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn node_unhandled_rejection_fails_the_request_and_ends_the_instance() {
    let app = App::new();
    app.write(
        "node",
        "index.js",
        r#"
exports.handler = (event, context, callback) => {
  if (event.reject) { Promise.reject(new RangeError("nobody caught me")); return; }
  callback(null, { pid: process.pid });
};
"#,
        false,
    );
    let (runtime, _) = app.runtime(vec![app.function(
        "Rejects",
        "nodejs20.x",
        "index.handler",
        "node",
    )]);
    let before = invoke(&runtime, "Rejects", json!({}))
        .await
        .expect("before");
    let error = function_error(invoke(&runtime, "Rejects", json!({"reject": true})).await);
    assert_eq!(error["errorType"], "Runtime.UnhandledPromiseRejection");
    assert_eq!(error["errorMessage"], "RangeError: nobody caught me");
    let pid = before["pid"].as_i64().expect("pid");
    assert!(
        wait_until_dead(pid).await,
        "the instance ended after the rejection"
    );
    let after = invoke(&runtime, "Rejects", json!({})).await.expect("after");
    assert_ne!(after["pid"], before["pid"]);
    runtime.shutdown().await;
}

#[tokio::test]
async fn commonjs_files_and_python_packages() {
    let app = App::new();
    app.write(
        "node",
        "lib/legacy.cjs",
        "module.exports = { api: { handler: async (event) => ({ cjs: event.v }) } };\n",
        false,
    );
    app.write("py", "pkg/__init__.py", "", false);
    app.write(
        "py",
        "pkg/handlers/users.py",
        "def get(event, context):\n    return {'package': __name__, 'v': event['v']}\n",
        false,
    );
    let (runtime, _) = app.runtime(vec![
        app.function("Cjs", "nodejs18.x", "lib/legacy.api.handler", "node"),
        app.function("PySlash", "python3.13", "pkg/handlers/users.get", "py"),
        app.function("PyDots", "python3.9", "pkg.handlers.users.get", "py"),
    ]);
    assert_eq!(
        invoke(&runtime, "Cjs", json!({"v": 1})).await.expect("cjs"),
        json!({"cjs": 1})
    );
    for function in ["PySlash", "PyDots"] {
        assert_eq!(
            invoke(&runtime, function, json!({"v": 2}))
                .await
                .expect(function),
            json!({"package": "pkg.handlers.users", "v": 2})
        );
    }
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_outcomes_and_drain_waits_for_running_requests() {
    let app = App::new();
    app.write("node", "slow.js", SLOW_NODE, false);
    app.write("py", "app.py", PYTHON_APP, false);
    let (runtime, _) = app.runtime(vec![
        app.function("Slow", "nodejs20.x", "slow.handler", "node"),
        app.function("PyFails", "python3.11", "app.fails", "py"),
    ]);
    let runtime = Arc::new(runtime);
    invoke(&runtime, "Slow", json!({})).await.expect("warm up");
    function_error(invoke(&runtime, "PyFails", json!({})).await);
    function_error(invoke(&runtime, "PyFails", json!({})).await);

    let running = {
        let runtime = runtime.clone();
        tokio::spawn(async move { invoke(&runtime, "Slow", json!({})).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = runtime.stats();
    assert_eq!(stats.len(), 2);
    let slow = &stats[1];
    assert_eq!(slow.function, "Slow");
    assert_eq!(
        (
            slow.successes,
            slow.cold_starts,
            slow.in_flight,
            slow.instances
        ),
        (1, 1, 1, 1)
    );
    let fails = &stats[0];
    assert_eq!(
        (fails.errors, fails.cold_starts, fails.idle_instances),
        (2, 1, 1)
    );

    let left = runtime.drain(Duration::from_secs(5)).await;
    assert_eq!(left, 0);
    running
        .await
        .expect("task")
        .expect("the running request finished");
    assert_eq!(runtime.stats()[1].instances, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_printed_before_the_answer_comes_before_end() {
    let app = App::new();
    app.write(
        "node",
        "index.js",
        "exports.handler = async (e) => { for (let i = 0; i < 50; i++) console.log(`line ${e.n} ${i}`); return e.n; };\n",
        false,
    );
    app.write(
        "py",
        "app.py",
        "import sys\ndef handler(e, c):\n    for i in range(50):\n        print('line', e['n'], i)\n    sys.stderr.write('err %d\\n' % e['n'])\n    return e['n']\n",
        false,
    );
    let (runtime, _) = app.runtime(vec![
        app.function("Node", "nodejs20.x", "index.handler", "node"),
        app.function("Py", "python3.11", "app.handler", "py"),
    ]);
    for n in 0..20 {
        for function in ["Node", "Py"] {
            assert_eq!(
                invoke(&runtime, function, json!({"n": n}))
                    .await
                    .expect("invoke"),
                json!(n)
            );
        }
    }
    runtime.shutdown().await;
    let mut open: Option<usize> = None;
    let mut lines_inside = 0;
    for line in app.logs.lines() {
        if line.starts_with("START ") {
            open = Some(0);
        } else if line.starts_with("END ") {
            let count = open.take().expect("END after START");
            // 50 lines each, plus one stderr line for Python.
            assert!(
                count == 50 || count == 51,
                "{count} lines inside one invocation"
            );
            lines_inside += count;
        } else if let Some(count) = open.as_mut() {
            *count += 1;
        } else {
            assert!(
                line.starts_with("REPORT "),
                "a line outside any invocation: {line:?}"
            );
        }
    }
    assert_eq!(lines_inside, 20 * (50 + 51));
}

#[tokio::test]
async fn go1x_runs_the_executable_its_handler_names() {
    let app = App::new();
    app.write(
        "go",
        "hello",
        r#"#!/bin/sh
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
HEADERS="$(mktemp)"
while true; do
  curl -sS -o /dev/null -D "$HEADERS" "$API/invocation/next"
  REQUEST_ID="$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | cut -d: -f2 | tr -d ' \r\n')"
  curl -sS -o /dev/null -X POST "$API/invocation/$REQUEST_ID/response" -d "\"$AWS_EXECUTION_ENV\""
done
"#,
        true,
    );
    let (runtime, _) = app.runtime(vec![app.function("Go", "go1.x", "hello", "go")]);
    assert_eq!(
        invoke(&runtime, "Go", json!({})).await.expect("invoke"),
        json!("AWS_Lambda_go1.x")
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn node_callback_waits_for_the_event_loop_unless_told_not_to() {
    let app = App::new();
    app.write(
        "node",
        "index.js",
        r#"
let timerFired = false;
exports.handler = (event, context, callback) => {
  const firedBefore = timerFired;
  timerFired = false;
  context.callbackWaitsForEmptyEventLoop = event.wait;
  setTimeout(() => { timerFired = true; }, 300);
  callback(null, { firedBefore });
};
"#,
        false,
    );
    let (runtime, _) = app.runtime(vec![app.function(
        "Waits",
        "nodejs20.x",
        "index.handler",
        "node",
    )]);
    invoke(&runtime, "Waits", json!({"wait": true}))
        .await
        .expect("warm up");
    let started = Instant::now();
    invoke(&runtime, "Waits", json!({"wait": true}))
        .await
        .expect("waits");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "waited for the timer"
    );
    let started = Instant::now();
    let result = invoke(&runtime, "Waits", json!({"wait": false}))
        .await
        .expect("no wait");
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "answered at once"
    );
    assert_eq!(result, json!({"firedBefore": true}));
    runtime.shutdown().await;
}

/// Issue #13: without a sandbox, a function's merged layers are found at their own path
/// through the variables Lambda sets for `/opt`.
#[tokio::test]
async fn layers_are_found_without_a_sandbox() {
    let app = App::new();
    app.write("layers", "python/layer_module.py", "WHO = 'layer'\n", false);
    app.write(
        "layers",
        "bin/layer-tool",
        "#!/bin/sh\necho tool says hi\n",
        true,
    );
    app.write(
        "py",
        "app.py",
        "import os, subprocess\nimport layer_module\n\ndef handler(event, context):\n    tool = subprocess.run(['layer-tool'], capture_output=True, text=True).stdout.strip()\n    return {'who': layer_module.WHO, 'tool': tool, 'path': os.environ['PYTHONPATH']}\n",
        false,
    );
    let mut function = app.function("PyLayers", "python3.11", "app.handler", "py");
    let layers_dir = app.dir.path().join("layers");
    function.layers_dir = Some(layers_dir.clone());
    let (runtime, _) = app.runtime(vec![function]);
    let answer = invoke(&runtime, "PyLayers", json!({}))
        .await
        .expect("answer");
    assert_eq!(answer["who"], "layer");
    assert_eq!(answer["tool"], "tool says hi");
    assert_eq!(
        answer["path"],
        format!(
            "{0}/python/lib/python3.11/site-packages:{0}/python",
            layers_dir.display()
        )
    );
    runtime.shutdown().await;
}

/// A deploy warms a new version's functions before it switches to it: a function that
/// throws at init fails the warm-up with its error, how its process ended and its last
/// lines; one that starts is kept warm, so its first request is no cold start.
#[tokio::test]
async fn warm_reports_init_failures_and_keeps_a_started_instance() {
    let app = App::new();
    app.write(
        "good",
        "index.mjs",
        "console.log('loading config');\nexport const handler = async () => ({ ok: true });\n",
        false,
    );
    app.write(
        "throws",
        "index.mjs",
        "console.log('loading config');\nthrow new Error('DATABASE_URL is not set');\nexport const handler = async () => ({});\n",
        false,
    );
    app.write(
        "exits",
        "bootstrap",
        "#!/bin/sh\necho 'cannot open /etc/app.conf' >&2\nexit 7\n",
        true,
    );
    let (runtime, _) = app.runtime(vec![
        app.function("Good", "nodejs20.x", "index.handler", "good"),
        app.function("Throws", "nodejs20.x", "index.handler", "throws"),
        app.function("Exits", "provided.al2023", "h", "exits"),
    ]);

    runtime.warm("Good").await.expect("Good starts");
    let stats = runtime.stats();
    let good = stats.iter().find(|s| s.function == "Good").expect("Good");
    assert_eq!((good.cold_starts, good.idle_instances), (1, 1));
    let result = invoke(&runtime, "Good", json!({})).await.expect("answer");
    assert_eq!(result, json!({"ok": true}));
    let stats = runtime.stats();
    let good = stats.iter().find(|s| s.function == "Good").expect("Good");
    assert_eq!(good.cold_starts, 1, "the request took the warmed instance");

    let Err(WarmError::Init { function, failure }) = runtime.warm("Throws").await else {
        panic!("a function that throws at init fails its warm-up");
    };
    assert_eq!(function, "Throws");
    assert_eq!(failure.error_type, "Error");
    assert_eq!(failure.error_message, "DATABASE_URL is not set");
    assert_eq!(failure.exit.as_deref(), Some("exit status 1"));
    assert!(
        failure
            .last_lines
            .iter()
            .any(|line| line.ends_with("\tINFO\tloading config")),
        "{failure:#?}"
    );
    let shown = WarmError::Init {
        function: "Throws".to_owned(),
        failure: failure.clone(),
    }
    .to_string();
    assert!(
        shown.starts_with(
            "function Throws failed its init: Error: DATABASE_URL is not set (the process ended with exit status 1)\nlast log lines:\n"
        ),
        "{shown}"
    );

    let Err(WarmError::Init { failure, .. }) = runtime.warm("Exits").await else {
        panic!("a bootstrap that exits at init fails its warm-up");
    };
    assert_eq!(failure.error_type, "Runtime.ExitError");
    assert_eq!(failure.exit.as_deref(), Some("exit status 7"));
    assert!(
        failure
            .last_lines
            .iter()
            .any(|line| line == "cannot open /etc/app.conf"),
        "{failure:#?}"
    );

    assert!(matches!(
        runtime.warm("Nope").await,
        Err(WarmError::NoSuchFunction(name)) if name == "Nope"
    ));
    runtime.shutdown().await;
    assert!(matches!(
        runtime.warm("Good").await,
        Err(WarmError::ShuttingDown)
    ));
}
