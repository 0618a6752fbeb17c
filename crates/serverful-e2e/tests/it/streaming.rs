//! Lambda response streaming (issue 17): a Node.js `awslambda.streamifyResponse` handler
//! and a `provided.al2023` runtime that posts the Runtime API's streaming response mode
//! itself, behind `RESPONSE_STREAM` function URLs (the first chunk reaches the client
//! while the function still runs) and through `InvokeWithResponseStream` from boto3 and
//! the JS SDK v3 (`PayloadChunk` events, then `InvokeComplete`).

use std::io::Read as _;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;
use serverful_e2e::{test_deps_dir, Server};

use crate::client;

const TEMPLATE: &str = r#"Transform: AWS::Serverless-2016-10-31
Resources:
  Streamer:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: stream.handler
      CodeUri: .
      Timeout: 3
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: RESPONSE_STREAM
        Cors:
          AllowOrigins: [https://app.example]
  BufferedStreamer:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: stream.handler
      CodeUri: .
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: BUFFERED
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: plain.handler
      CodeUri: .
  Custom:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2023
      Handler: unused
      CodeUri: custom/
      Timeout: 5
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: RESPONSE_STREAM
"#;

/// What the function does comes from the URL's path or the event's `mode`.
const STREAM_CODE: &str = r#"
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  const mode = (event.rawPath || '').slice(1) || event.mode || 'slow';
  console.log('streaming', mode);
  if (mode === 'early') {
    throw new TypeError('refused before writing');
  }
  if (mode === 'chunks') {
    responseStream.setContentType('text/plain');
    responseStream.write('one ');
    await sleep(300);
    responseStream.write('two ');
    await sleep(300);
    responseStream.end('three');
    return;
  }
  if (mode === 'big') {
    for (let i = 0; i < 7; i++) responseStream.write(Buffer.alloc(1024 * 1024, 'x'));
    responseStream.end();
    return;
  }
  if (mode === 'midway') {
    responseStream.write('partial ');
    await sleep(200);
    throw new Error('broke midway');
  }
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 207,
    headers: { 'content-type': 'text/plain', 'x-streamed': 'yes' },
    cookies: ['s=1'],
  });
  stream.write('first ');
  await sleep(1000);
  if (mode === 'throw') throw new Error('broke midway');
  if (mode === 'hang') await sleep(10000);
  stream.write('second');
  stream.end();
});
"#;

const PLAIN_CODE: &str = r#"
exports.handler = async (event) => ({ plain: true, got: event });
"#;

/// A custom runtime that speaks the Runtime API itself: chunked POSTs with the streaming
/// response mode header, and an error as trailers.
const CUSTOM_BOOTSTRAP: &str = "#!/bin/sh\nexec python3 \"$LAMBDA_TASK_ROOT/runtime.py\"\n";
const CUSTOM_RUNTIME: &str = r#"
import base64, http.client, json, os, socket, time

api = os.environ["AWS_LAMBDA_RUNTIME_API"]
host, port = api.rsplit(":", 1)
while True:
    next_conn = http.client.HTTPConnection(host, int(port))
    next_conn.request("GET", "/2018-06-01/runtime/invocation/next")
    answer = next_conn.getresponse()
    event = json.loads(answer.read())
    request_id = answer.getheader("Lambda-Runtime-Aws-Request-Id")
    next_conn.close()
    mode = (event.get("rawPath") or "/")[1:] or event.get("mode") or "ok"
    sock = socket.create_connection((host, int(port)))
    sock.sendall((
        f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\n"
        f"Host: {api}\r\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Content-Type: text/plain\r\n"
        "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
        "\r\n"
    ).encode())
    def chunk(data):
        sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
    chunk(b"custom-1 ")
    time.sleep(1)
    if mode == "fail":
        error = json.dumps({"errorMessage": "custom failure", "errorType": "CustomError"})
        encoded = base64.b64encode(error.encode()).decode()
        sock.sendall((
            "0\r\n"
            "Lambda-Runtime-Function-Error-Type: CustomError\r\n"
            f"Lambda-Runtime-Function-Error-Body: {encoded}\r\n"
            "\r\n"
        ).encode())
    else:
        chunk(b"custom-2")
        sock.sendall(b"0\r\n\r\n")
    sock.recv(65536)
    sock.close()
"#;

fn start() -> (tempfile::TempDir, Server) {
    let app = tempfile::tempdir().expect("temp dir");
    std::fs::write(app.path().join("template.yaml"), TEMPLATE).expect("write template");
    std::fs::write(app.path().join("stream.js"), STREAM_CODE).expect("write code");
    std::fs::write(app.path().join("plain.js"), PLAIN_CODE).expect("write code");
    let custom = app.path().join("custom");
    std::fs::create_dir(&custom).expect("custom folder");
    std::fs::write(custom.join("runtime.py"), CUSTOM_RUNTIME).expect("write runtime");
    let bootstrap = custom.join("bootstrap");
    std::fs::write(&bootstrap, CUSTOM_BOOTSTRAP).expect("write bootstrap");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755))
        .expect("chmod bootstrap");
    let server = Server::start(app.path(), &[]);
    (app, server)
}

/// The host a function URL answers on, from `up`'s banner.
fn url_host(server: &Server, logical_id: &str) -> String {
    let pattern =
        Regex::new(&format!(r"  {logical_id} \(\w+\): http://([^/\s]+)/")).expect("regex");
    let stdout = server.stdout();
    pattern
        .captures(&stdout)
        .unwrap_or_else(|| panic!("no function URL {logical_id} in\n{stdout}"))[1]
        .to_owned()
}

/// What a client saw of one streamed response: the status, the headers, each piece of the
/// body with when it came (from the request's start), and how the body ended.
struct Received {
    status: u16,
    headers: reqwest::header::HeaderMap,
    pieces: Vec<(String, Duration)>,
    ended_in_error: bool,
}

impl Received {
    fn body(&self) -> String {
        self.pieces
            .iter()
            .map(|(piece, _)| piece.as_str())
            .collect()
    }

    /// When the first piece containing `text` arrived.
    fn arrival_of(&self, text: &str) -> Duration {
        let mut so_far = String::new();
        for (piece, at) in &self.pieces {
            so_far.push_str(piece);
            if so_far.contains(text) {
                return *at;
            }
        }
        panic!("{text:?} never arrived in {:?}", self.body())
    }
}

fn get_streamed(server: &Server, host: &str, path: &str) -> Received {
    let started = Instant::now();
    let mut response = client()
        .get(server.url(path))
        .header("Host", host)
        .header("Origin", "https://app.example")
        .send()
        .expect("GET");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut pieces = Vec::new();
    let mut buffer = [0u8; 65536];
    let ended_in_error = loop {
        match response.read(&mut buffer) {
            Ok(0) => break false,
            Ok(read) => pieces.push((
                String::from_utf8_lossy(&buffer[..read]).into_owned(),
                started.elapsed(),
            )),
            Err(_) => break true,
        }
    };
    Received {
        status,
        headers,
        pieces,
        ended_in_error,
    }
}

#[test]
fn response_stream_urls_send_chunks_as_the_function_writes_them() {
    let (_app, server) = start();
    let host = url_host(&server, "StreamerUrl");

    // The prelude's status, headers and cookies; the first chunk long before the second,
    // which the function writes a second later.
    let received = get_streamed(&server, &host, "/slow");
    assert_eq!(received.status, 207, "{}", server.all_output());
    assert_eq!(received.headers["content-type"], "text/plain");
    assert_eq!(received.headers["x-streamed"], "yes");
    assert_eq!(received.headers["set-cookie"], "s=1");
    assert_eq!(received.headers["transfer-encoding"], "chunked");
    // CORS still applies.
    assert_eq!(
        received.headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(received.body(), "first second");
    assert!(!received.ended_in_error);
    let gap = received.arrival_of("second") - received.arrival_of("first");
    // The function writes them a second apart; a buffered answer would bring both at once.
    assert!(
        gap >= Duration::from_millis(500),
        "the first chunk came only {gap:?} before the last"
    );

    // Without a prelude: a 200 with the stream's own content type.
    let received = get_streamed(&server, &host, "/chunks");
    assert_eq!(received.status, 200);
    assert_eq!(received.headers["content-type"], "text/plain");
    assert_eq!(received.body(), "one two three");
    assert!(
        received.arrival_of("three") - received.arrival_of("one") >= Duration::from_millis(400)
    );

    // A throw midway cuts the body short: the client sees what was written, then an
    // incomplete response; the function's log has the error.
    let received = get_streamed(&server, &host, "/throw");
    assert_eq!(received.status, 207);
    assert_eq!(received.body(), "first ");
    assert!(received.ended_in_error, "the body must end incomplete");
    server.wait_for_line(
        &Regex::new(r"Invoke Error.*broke midway").expect("regex"),
        Duration::from_secs(10),
    );

    // A throw before anything was written is the ordinary 502.
    let received = get_streamed(&server, &host, "/early");
    assert_eq!(received.status, 502);
    assert_eq!(received.body(), "Internal Server Error");

    // The function's timeout covers the whole stream: at 3 s the body is cut short.
    let received = get_streamed(&server, &host, "/hang");
    assert_eq!(received.status, 207);
    assert_eq!(received.body(), "first ");
    assert!(received.ended_in_error);
    server.wait_for_line(
        &Regex::new(r"Task timed out after 3\.00 seconds").expect("regex"),
        Duration::from_secs(10),
    );

    // A client that goes away midway stops nothing: the function runs to its end (its
    // REPORT is logged) and the next request is served.
    let reports = || server.stdout().matches("REPORT RequestId").count();
    // The timed-out invocation's REPORT follows its timeout line closely.
    std::thread::sleep(Duration::from_millis(300));
    let reports_before = reports();
    let mut response = client()
        .get(server.url("/slow"))
        .header("Host", &host)
        .send()
        .expect("GET");
    let mut buffer = [0u8; 64];
    let read = response.read(&mut buffer).expect("the first chunk");
    assert_eq!(&buffer[..read], b"first ");
    drop(response);
    let deadline = Instant::now() + Duration::from_secs(10);
    while reports() == reports_before {
        assert!(Instant::now() < deadline, "{}", server.all_output());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get_streamed(&server, &host, "/slow").body(), "first second");

    // The same function behind a BUFFERED URL: the client gets everything at the end.
    let buffered_host = url_host(&server, "BufferedStreamerUrl");
    let received = get_streamed(&server, &buffered_host, "/chunks");
    assert_eq!(received.status, 200);
    assert_eq!(received.body(), "one two three");
    assert_eq!(received.pieces.len(), 1, "a buffered answer comes whole");
}

#[test]
fn a_custom_runtime_streams_through_the_runtime_api_with_error_trailers() {
    let (_app, server) = start();
    let host = url_host(&server, "CustomUrl");
    let received = get_streamed(&server, &host, "/ok");
    assert_eq!(received.status, 200, "{}", server.all_output());
    assert_eq!(received.headers["content-type"], "text/plain");
    assert_eq!(received.body(), "custom-1 custom-2");
    assert!(
        received.arrival_of("custom-2") - received.arrival_of("custom-1")
            >= Duration::from_millis(500)
    );
    let received = get_streamed(&server, &host, "/fail");
    assert_eq!(received.body(), "custom-1 ");
    assert!(received.ended_in_error);

    // Callers that do not stream get the collected body, or the trailers' error.
    let function = server.function_name("Custom");
    let ok: Value = server.python(INVOKE, &[&function, r#"{"mode":"ok"}"#]);
    assert_eq!(ok["payload"], "custom-1 custom-2", "{ok}");
    assert!(ok.get("functionError").is_none(), "{ok}");
    let failed: Value = server.python(INVOKE, &[&function, r#"{"mode":"fail"}"#]);
    assert_eq!(failed["functionError"], "Unhandled", "{failed}");
    let error: Value =
        serde_json::from_str(failed["payload"].as_str().expect("payload")).expect("error JSON");
    assert_eq!(error["errorType"], "CustomError");
    assert_eq!(error["errorMessage"], "custom failure");

    // InvokeWithResponseStream reports the trailers' error in InvokeComplete.
    let streamed: Value = server.python(STREAM_INVOKE, &[&function, r#"{"mode":"fail"}"#]);
    assert_eq!(
        streamed["chunks"],
        serde_json::json!(["custom-1 "]),
        "{streamed}"
    );
    assert_eq!(
        streamed["complete"]["ErrorCode"], "CustomError",
        "{streamed}"
    );
    assert_eq!(streamed["complete"]["ErrorDetails"], "custom failure");
}

/// `Invoke` from boto3: argv[1] the function, argv[2] the payload, argv[3] optional
/// extra parameters as JSON.
const INVOKE: &str = r#"
import boto3, json, sys
extra = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
answer = boto3.client("lambda").invoke(FunctionName=sys.argv[1], Payload=sys.argv[2].encode(), **extra)
out = {"payload": answer["Payload"].read().decode()}
for key in ["FunctionError", "LogResult"]:
    if key in answer:
        out[key[0].lower() + key[1:]] = answer[key]
print(json.dumps(out))
"#;

/// A `LogResult`, decoded.
fn decode_log(log_result: &Value) -> String {
    use base64::Engine as _;
    let encoded = log_result
        .as_str()
        .unwrap_or_else(|| panic!("no LogResult: {log_result}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    String::from_utf8(bytes).expect("utf-8")
}

/// `InvokeWithResponseStream` from boto3: argv[1] the function, argv[2] the payload,
/// argv[3] optional extra parameters as JSON. Prints the response's fields, each chunk
/// with when it came, and the `InvokeComplete` event; or the error's code.
const STREAM_INVOKE: &str = r#"
import boto3, json, sys, time
from botocore.exceptions import ClientError
extra = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
started = time.monotonic()
try:
    answer = boto3.client("lambda").invoke_with_response_stream(
        FunctionName=sys.argv[1], Payload=sys.argv[2].encode(), **extra)
except ClientError as error:
    print(json.dumps({"error": error.response["Error"]["Code"],
                      "message": error.response["Error"].get("Message"),
                      "status": error.response["ResponseMetadata"]["HTTPStatusCode"]}))
    sys.exit(0)
out = {"status": answer["StatusCode"], "version": answer.get("ExecutedVersion"),
       "contentType": answer.get("ResponseStreamContentType"), "chunks": [], "at": []}
for event in answer.get("EventStream", []):
    if "PayloadChunk" in event:
        out["chunks"].append(event["PayloadChunk"]["Payload"].decode())
        out["at"].append(time.monotonic() - started)
    if "InvokeComplete" in event:
        out["complete"] = event["InvokeComplete"]
print(json.dumps(out))
"#;

#[test]
fn invoke_with_response_stream_from_boto3() {
    let (_app, server) = start();
    let streamer = server.function_name("Streamer");
    let streamed: Value = server.python(STREAM_INVOKE, &[&streamer, r#"{"mode":"chunks"}"#]);
    assert_eq!(streamed["status"], 200, "{streamed}");
    assert_eq!(streamed["version"], "$LATEST");
    assert_eq!(
        streamed["contentType"],
        "application/vnd.amazon.eventstream"
    );
    assert_eq!(
        streamed["chunks"],
        serde_json::json!(["one ", "two ", "three"]),
        "{streamed}"
    );
    assert_eq!(streamed["complete"], serde_json::json!({}), "{streamed}");
    let at: Vec<f64> = streamed["at"]
        .as_array()
        .expect("times")
        .iter()
        .map(|at| at.as_f64().expect("seconds"))
        .collect();
    assert!(at[2] - at[0] >= 0.3, "chunks came together: {at:?}");

    // `LogType: Tail`: InvokeComplete carries the invocation's log, base64.
    let tailed: Value = server.python(
        STREAM_INVOKE,
        &[&streamer, r#"{"mode":"chunks"}"#, r#"{"LogType":"Tail"}"#],
    );
    let log = decode_log(&tailed["complete"]["LogResult"]);
    for expected in [
        "START RequestId: ",
        "INFO\tstreaming chunks",
        "END RequestId: ",
        "REPORT RequestId: ",
    ] {
        assert!(
            log.contains(expected),
            "{expected:?} not in the log tail:\n{log}"
        );
    }
    let bad_log_type: Value = server.python(
        STREAM_INVOKE,
        &[&streamer, "{}", r#"{"LogType":"Everything"}"#],
    );
    assert_eq!(
        bad_log_type["error"], "InvalidParameterValueException",
        "{bad_log_type}"
    );

    // A throw midway: the chunks written, then InvokeComplete with the error.
    let midway: Value = server.python(STREAM_INVOKE, &[&streamer, r#"{"mode":"midway"}"#]);
    assert_eq!(
        midway["chunks"],
        serde_json::json!(["partial "]),
        "{midway}"
    );
    assert_eq!(midway["complete"]["ErrorCode"], "Error", "{midway}");
    assert_eq!(midway["complete"]["ErrorDetails"], "broke midway");

    // The timeout covers the stream.
    let hang: Value = server.python(STREAM_INVOKE, &[&streamer, r#"{"mode":"hang"}"#]);
    assert_eq!(hang["complete"]["ErrorCode"], "Sandbox.Timedout", "{hang}");
    assert_eq!(
        hang["complete"]["ErrorDetails"],
        "Task timed out after 3.00 seconds"
    );

    // An ordinary function answers with one PayloadChunk.
    let plain = server.function_name("Plain");
    let answered: Value = server.python(STREAM_INVOKE, &[&plain, r#"{"n":1}"#]);
    assert_eq!(
        answered["chunks"].as_array().map(Vec::len),
        Some(1),
        "{answered}"
    );
    let payload: Value =
        serde_json::from_str(answered["chunks"][0].as_str().expect("chunk")).expect("JSON");
    assert_eq!(payload, serde_json::json!({"plain": true, "got": {"n": 1}}));
    assert_eq!(answered["complete"], serde_json::json!({}));

    // Plain Invoke of a streaming function gets the whole body; over 6 MB it is refused as
    // Lambda refuses an oversized response.
    let whole: Value = server.python(
        INVOKE,
        &[&streamer, r#"{"mode":"chunks"}"#, r#"{"LogType":"Tail"}"#],
    );
    assert_eq!(whole["payload"], "one two three");
    assert!(decode_log(&whole["logResult"]).contains("INFO\tstreaming chunks"));
    let big: Value = server.python(INVOKE, &[&streamer, r#"{"mode":"big"}"#]);
    assert_eq!(big["functionError"], "Unhandled", "{big}");
    assert!(
        big["payload"]
            .as_str()
            .is_some_and(|payload| payload.contains("Function.ResponseSizeTooLarge")),
        "{big}"
    );
    // Streamed, the same 7 MB goes through.
    let big_streamed: Value = server.python(STREAM_INVOKE, &[&streamer, r#"{"mode":"big"}"#]);
    let streamed_bytes: usize = big_streamed["chunks"]
        .as_array()
        .expect("chunks")
        .iter()
        .map(|chunk| chunk.as_str().expect("text").len())
        .sum();
    assert_eq!(streamed_bytes, 7 * 1024 * 1024);
    assert_eq!(big_streamed["complete"], serde_json::json!({}));

    // A throw before anything was written: no chunk, the error in InvokeComplete.
    let early: Value = server.python(STREAM_INVOKE, &[&streamer, r#"{"mode":"early"}"#]);
    assert_eq!(early["chunks"], serde_json::json!([]), "{early}");
    assert_eq!(early["complete"]["ErrorCode"], "TypeError");

    // DryRun runs nothing; Event is not a streaming invocation type.
    let dry: Value = server.python(
        STREAM_INVOKE,
        &[&streamer, "{}", r#"{"InvocationType":"DryRun"}"#],
    );
    assert_eq!(dry["status"], 204, "{dry}");
    let event: Value = server.python(
        STREAM_INVOKE,
        &[&streamer, "{}", r#"{"InvocationType":"Event"}"#],
    );
    assert_eq!(event["error"], "InvalidParameterValueException", "{event}");

    // Bad input: an unknown function, an unknown qualifier, a payload over 6 MB.
    let unknown: Value = server.python(STREAM_INVOKE, &["nope", "{}"]);
    assert_eq!(unknown["error"], "ResourceNotFoundException", "{unknown}");
    assert_eq!(unknown["status"], 404);
    let qualified: Value = server.python(
        STREAM_INVOKE,
        &[&streamer, "{}", r#"{"Qualifier":"missing"}"#],
    );
    assert_eq!(
        qualified["error"], "ResourceNotFoundException",
        "{qualified}"
    );
    let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(6 * 1024 * 1024 + 10));
    let huge_path = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(huge_path.path(), huge).expect("write payload");
    let too_large: Value = server.python(
        &STREAM_INVOKE.replace(
            "Payload=sys.argv[2].encode()",
            "Payload=open(sys.argv[2], 'rb').read()",
        ),
        &[&streamer, huge_path.path().to_str().expect("utf-8 path")],
    );
    assert_eq!(too_large["status"], 413, "{too_large}");
    assert_eq!(too_large["error"], "RequestTooLargeException");
}

/// `InvokeWithResponseStreamCommand` from the AWS SDK for JavaScript v3.
const NODE_STREAM_INVOKE: &str = r#"
const { LambdaClient, InvokeWithResponseStreamCommand } = require('@aws-sdk/client-lambda');
(async () => {
  const client = new LambdaClient({});
  const out = {};
  for (const [name, payload] of [[process.argv[2], { mode: 'chunks' }], [process.argv[3], { n: 2 }]]) {
    const response = await client.send(new InvokeWithResponseStreamCommand({
      FunctionName: name,
      Payload: Buffer.from(JSON.stringify(payload)),
    }));
    const chunks = [];
    let complete;
    for await (const event of response.EventStream) {
      if (event.PayloadChunk) chunks.push(Buffer.from(event.PayloadChunk.Payload).toString());
      if (event.InvokeComplete) complete = event.InvokeComplete;
    }
    out[payload.mode || 'plain'] = { status: response.StatusCode, version: response.ExecutedVersion, chunks, complete };
  }
  try {
    await client.send(new InvokeWithResponseStreamCommand({ FunctionName: 'nope', Payload: Buffer.from('{}') }));
  } catch (error) {
    out.unknown = { name: error.name, status: error.$metadata && error.$metadata.httpStatusCode };
  }
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"#;

#[test]
fn invoke_with_response_stream_from_the_js_sdk() {
    let (_app, server) = start();
    let node_modules = test_deps_dir().join("node-dynamodb/node_modules");
    assert!(
        node_modules.join("@aws-sdk/client-lambda").exists(),
        "{} is missing: run `bash scripts/install-test-deps.sh`",
        node_modules.display()
    );
    let script = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(script.path(), NODE_STREAM_INVOKE).expect("write script");
    let streamer = server.function_name("Streamer");
    let plain = server.function_name("Plain");
    let output = std::process::Command::new("node")
        .arg(script.path())
        .args([&streamer, &plain])
        .envs(server.aws_env())
        .env_remove("AWS_PROFILE")
        .env("NODE_PATH", &node_modules)
        .output()
        .expect("run node");
    assert!(
        output.status.success(),
        "node failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    let out: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(out["chunks"]["status"], 200, "{out}");
    assert_eq!(out["chunks"]["version"], "$LATEST");
    assert_eq!(
        out["chunks"]["chunks"],
        serde_json::json!(["one ", "two ", "three"])
    );
    assert_eq!(out["chunks"]["complete"], serde_json::json!({}));
    assert_eq!(
        out["plain"]["chunks"].as_array().map(Vec::len),
        Some(1),
        "{out}"
    );
    assert_eq!(out["unknown"]["name"], "ResourceNotFoundException", "{out}");
    assert_eq!(out["unknown"]["status"], 404);
}
