//! WebSocket APIs (issue #17): the websocket-chat app, written with raw
//! `AWS::ApiGatewayV2` resources as AWS's sample writes it, driven by real clients: Python
//! `websockets` and Node.js `ws` connect, `$connect` refuses a wrong token, `$default`
//! echoes (a two-way route), `sendmessage` posts to every connection through boto3's
//! management client inside the function; boto3's `apigatewaymanagementapi` from outside
//! reads, posts to and deletes connections; a dropped connection gets its `$disconnect`
//! and posts to it answer 410; a message over 128 KB closes with 1009; a connection
//! outlives a deploy of its stack and reaches the new version's function.
//!
//! The edge cases, on the `websocket-edges` app: `$connect` refusing with its own status
//! or failing (502), a message no route takes without `$default` (API Gateway's Forbidden
//! frame), text that is not UTF-8 (1007), messages and frames over the limits (1009), each
//! while another connection carries on; a stack posting to another stack's connection
//! (403); idle connections closed after the idle timeout (`SERVERFUL_WEBSOCKET_IDLE_MS`).

use std::process::Command;

use serde_json::Value;
use serverful_e2e::{copy_dir, test_app, test_deps_dir, up_until_it_fails, Server};

/// Runs a Python script with the bundled `websockets` and boto3, the gateway's WebSocket
/// URL of the stage as `sys.argv[1]` and the gateway's HTTP URL as `sys.argv[2]`; the JSON
/// it prints.
fn python_client(server: &Server, script: &str) -> Value {
    python_on_stage(server, "production", script)
}

/// Like [`python_client`], for the WebSocket API of stage `stage`.
fn python_on_stage(server: &Server, stage: &str, script: &str) -> Value {
    let http = server.url("");
    let ws = format!("{}/{stage}", http.replacen("http://", "ws://", 1));
    let output = Command::new("python3")
        .args(["-c", script, &ws, &http])
        .env("PYTHONPATH", test_deps_dir().join("python-websockets"))
        .envs(server.aws_env())
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "python client failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "python client printed no JSON ({error}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

const CHAT: &str = r#"
import asyncio, json, sys, time
import boto3, websockets

URL, HTTP = sys.argv[1], sys.argv[2]
result = {}

async def recv(ws):
    return await asyncio.wait_for(ws.recv(), 15)

async def main():
    try:
        async with websockets.connect(URL + "?token=wrong"):
            result["wrong_token"] = "accepted"
    except websockets.exceptions.InvalidStatus as error:
        result["wrong_token"] = error.response.status_code

    async with websockets.connect(URL + "?token=letmein&name=a", user_agent_header="chat-test/1.0") as a, \
               websockets.connect(URL + "?token=letmein&name=b") as b:
        await a.send("hello")
        result["echo"] = json.loads(await recv(a))
        await a.send("fail")
        result["failure"] = json.loads(await recv(a))

        await a.send(json.dumps({"action": "sendmessage", "data": "hi all"}))
        result["a_got"] = json.loads(await recv(a))
        result["b_got"] = json.loads(await recv(b))
        sender = result["a_got"]["from"]

        # From outside, with boto3's management client on the AWS endpoint...
        management = boto3.client("apigatewaymanagementapi")
        connection = management.get_connection(ConnectionId=sender)
        result["get_connection"] = {
            "SourceIp": connection["Identity"]["SourceIp"],
            "UserAgent": connection["Identity"].get("UserAgent"),
            "ConnectedAt": connection["ConnectedAt"].timestamp(),
            "LastActiveAt": connection["LastActiveAt"].timestamp(),
        }
        management.post_to_connection(ConnectionId=sender, Data=b"from boto3")
        result["posted"] = await recv(a)
        # ...and on the API's stage, as functions do with domainName and stage.
        on_stage = boto3.client("apigatewaymanagementapi", endpoint_url=HTTP + "/production")
        on_stage.post_to_connection(ConnectionId=sender, Data=b"via the stage")
        result["posted_on_stage"] = await recv(a)

        # b drops without a close frame: its $disconnect runs, and posts to it answer 410.
        b.transport.abort()
        await asyncio.sleep(1.5)
        await a.send(json.dumps({"action": "sendmessage", "data": "anyone?"}))
        result["after_drop"] = json.loads(await recv(a))

        # DeleteConnection closes the socket from the server's side.
        management.delete_connection(ConnectionId=sender)
        try:
            await recv(a)
            result["deleted"] = "still open"
        except websockets.exceptions.ConnectionClosed as closed:
            result["deleted"] = closed.rcvd.code if closed.rcvd else None
        time.sleep(1.5)
        try:
            management.post_to_connection(ConnectionId=sender, Data=b"late")
            result["post_to_deleted"] = "delivered"
        except management.exceptions.GoneException as error:
            result["post_to_deleted"] = error.response["ResponseMetadata"]["HTTPStatusCode"]
        try:
            management.get_connection(ConnectionId="AAAAAAAAAAAAAAA=")
        except management.exceptions.GoneException as error:
            result["unknown"] = error.response["ResponseMetadata"]["HTTPStatusCode"]

    async with websockets.connect(URL + "?token=letmein", max_size=None) as big:
        await big.send("x" * (129 * 1024))
        try:
            await recv(big)
            result["too_big"] = "answered"
        except websockets.exceptions.ConnectionClosed as closed:
            result["too_big"] = closed.rcvd.code if closed.rcvd else None

asyncio.run(main())
print(json.dumps(result))
"#;

/// The item the app's handlers wrote to the Events table for `connection_id`.
fn recorded_events(server: &Server, connection_id: &str) -> Value {
    let table = server.output("EventsTableName");
    let (ok, item, stderr) = server.aws_cli(&[
        "dynamodb",
        "get-item",
        "--table-name",
        &table,
        "--key",
        &format!(r#"{{"connectionId":{{"S":"{connection_id}"}}}}"#),
    ]);
    assert!(ok, "{stderr}");
    item
}

#[test]
fn the_chat_app_runs_for_python_clients_and_boto3() {
    let server = Server::start(&test_app("websocket-chat"), &[]);
    let result = python_client(&server, CHAT);

    assert_eq!(result["wrong_token"], 401, "{result:#}");
    assert_eq!(
        result["echo"],
        serde_json::json!({"echo": "hello", "routeKey": "$default", "eventType": "MESSAGE", "version": "1"})
    );
    assert_eq!(result["failure"]["message"], "Internal server error");
    assert!(result["failure"]["connectionId"].is_string(), "{result:#}");
    assert!(result["failure"]["requestId"].is_string(), "{result:#}");

    let sender = result["a_got"]["from"].as_str().expect("sender id");
    assert_eq!(sender.len(), 16, "{sender}");
    assert!(sender.ends_with('='), "{sender}");
    assert_eq!(result["a_got"]["data"], "hi all");
    assert_eq!(result["b_got"], result["a_got"]);

    let connection = &result["get_connection"];
    assert_eq!(connection["SourceIp"], "127.0.0.1");
    assert_eq!(connection["UserAgent"], "chat-test/1.0");
    let connected_at = connection["ConnectedAt"].as_f64().expect("ConnectedAt");
    let last_active = connection["LastActiveAt"].as_f64().expect("LastActiveAt");
    assert!(last_active >= connected_at, "{connection}");
    assert_eq!(result["posted"], "from boto3");
    assert_eq!(result["posted_on_stage"], "via the stage");

    // The dropped connection was removed by its $disconnect before the next broadcast,
    // which reached only the sender.
    assert_eq!(result["after_drop"]["data"], "anyone?");
    assert_eq!(result["deleted"], 1000, "{result:#}");
    assert_eq!(result["post_to_deleted"], 410);
    assert_eq!(result["unknown"], 410);
    assert_eq!(result["too_big"], 1009, "{result:#}");

    // The events the sender's functions saw, as API Gateway sends them.
    let item = recorded_events(&server, sender);
    let connect: Value = serde_json::from_str(
        item["Item"]["connect"]["S"]
            .as_str()
            .expect("connect event"),
    )
    .expect("JSON");
    let context = &connect["requestContext"];
    assert_eq!(context["routeKey"], "$connect");
    assert_eq!(context["eventType"], "CONNECT");
    assert_eq!(context["connectionId"], sender);
    assert_eq!(context["stage"], "production");
    assert_eq!(context["messageDirection"], "IN");
    assert_eq!(context["identity"]["userAgent"], "chat-test/1.0");
    assert_eq!(context["apiId"], server.output("ApiId"));
    assert!(context["connectedAt"].is_u64() && context["requestTimeEpoch"].is_u64());
    assert_eq!(connect["queryStringParameters"]["token"], "letmein");
    assert_eq!(
        connect["multiValueQueryStringParameters"]["name"],
        serde_json::json!(["a"])
    );
    assert!(connect["headers"]["Host"].is_string(), "{connect:#}");
    let disconnect: Value = serde_json::from_str(
        item["Item"]["disconnect"]["S"]
            .as_str()
            .expect("disconnect event"),
    )
    .expect("JSON");
    assert_eq!(disconnect["requestContext"]["eventType"], "DISCONNECT");
    assert_eq!(disconnect["requestContext"]["disconnectStatusCode"], 1000);
}

#[test]
fn a_dropped_connection_gets_its_disconnect_and_posts_to_it_answer_410() {
    let server = Server::start(&test_app("websocket-chat"), &[]);
    let result = python_client(
        &server,
        r#"
import asyncio, json, sys, time
import boto3, websockets

async def main():
    async with websockets.connect(sys.argv[1] + "?token=letmein") as a:
        await a.send(json.dumps({"action": "sendmessage", "data": "me"}))
        me = json.loads(await asyncio.wait_for(a.recv(), 15))["from"]
        a.transport.abort()
    started = time.time()
    management = boto3.client("apigatewaymanagementapi")
    while True:
        try:
            management.post_to_connection(ConnectionId=me, Data=b"late")
        except management.exceptions.GoneException:
            break
        await asyncio.sleep(0.05)
    print(json.dumps({"id": me, "gone_after": time.time() - started}))

asyncio.run(main())
"#,
    );
    let id = result["id"].as_str().expect("connection id");
    assert!(
        result["gone_after"].as_f64().expect("seconds") < 1.0,
        "{result}"
    );
    // $disconnect runs within a second of the drop.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let disconnect = loop {
        let item = recorded_events(&server, id);
        if let Some(text) = item["Item"]["disconnect"]["S"].as_str() {
            break serde_json::from_str::<Value>(text).expect("JSON");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no $disconnect recorded\n{}",
            server.all_output()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(disconnect["requestContext"]["routeKey"], "$disconnect");
    assert_eq!(disconnect["requestContext"]["disconnectStatusCode"], 1006);
    assert!(disconnect["requestContext"]["disconnectReason"].is_string());
}

#[test]
fn node_ws_clients_chat_too() {
    let server = Server::start(&test_app("websocket-chat"), &[]);
    let url = format!(
        "{}/production",
        server.url("").replacen("http://", "ws://", 1)
    );
    let script = r#"
const WebSocket = require("ws");
const url = process.argv[1];
const open = (query) => new Promise((resolve, reject) => {
  const ws = new WebSocket(url + query);
  ws.once("open", () => resolve(ws));
  ws.once("unexpected-response", (req, res) => {
    res.resume();
    req.destroy();
    reject(new Error("status " + res.statusCode));
  });
  ws.once("error", reject);
});
const next = (ws) => new Promise((resolve) => ws.once("message", (data) => resolve(data.toString())));
let step = "start";
setTimeout(() => { console.error("stuck at " + step); process.exit(2); }, 30000);
(async () => {
  let refused;
  try { await open("?token=nope"); } catch (error) { refused = error.message; }
  step = "open a";
  const a = await open("?token=letmein");
  step = "open b";
  const b = await open("?token=letmein");
  step = "echo";
  a.send("from node");
  const echo = JSON.parse(await next(a));
  step = "broadcast";
  const got = next(b);
  a.send(JSON.stringify({ action: "sendmessage", data: "node says hi" }));
  const broadcast = JSON.parse(await got);
  a.close(); b.close();
  console.log(JSON.stringify({ refused, echo, broadcast }));
  process.exit(0);
})().catch((error) => { console.error(error); process.exit(1); });
"#;
    let output = Command::new("node")
        .args(["-e", script, &url])
        .env("NODE_PATH", test_deps_dir().join("node-ws/node_modules"))
        .output()
        .expect("run node");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    let result: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(result["refused"], "status 401");
    assert_eq!(result["echo"]["echo"], "from node");
    assert_eq!(result["broadcast"]["data"], "node says hi");
}

#[test]
fn a_connection_outlives_a_deploy_and_reaches_the_new_version() {
    let server = Server::start(&test_app("websocket-chat"), &[]);
    let work = tempfile::tempdir().expect("temp dir");
    let v2 = work.path().join("websocket-chat");
    copy_dir(&test_app("websocket-chat"), &v2);
    let code = v2.join("src/app.py");
    let source = std::fs::read_to_string(&code).expect("read app.py");
    std::fs::write(&code, source.replace("VERSION = \"1\"", "VERSION = \"2\"")).expect("write");
    let v2_path = v2.to_str().expect("utf-8 path").to_owned();
    let script = format!(
        r#"
import asyncio, json, subprocess, sys
import websockets

async def main():
    async with websockets.connect(sys.argv[1] + "?token=letmein") as ws:
        await ws.send("before")
        before = json.loads(await asyncio.wait_for(ws.recv(), 15))
        deploy = subprocess.run({deploy:?}, capture_output=True, text=True)
        await ws.send("after")
        after = json.loads(await asyncio.wait_for(ws.recv(), 30))
        print(json.dumps({{"before": before, "after": after, "deploy": deploy.returncode, "out": deploy.stdout + deploy.stderr}}))

asyncio.run(main())
"#,
        deploy = deploy_command(&server, &v2_path)
    );
    let result = python_client(&server, &script);
    assert_eq!(result["deploy"], 0, "{result:#}");
    assert_eq!(result["before"]["version"], "1");
    assert_eq!(result["after"]["version"], "2", "{result:#}");
}

/// `serverful deploy DIR --stack websocket-chat` against the server's admin API, as argv.
fn deploy_command(server: &Server, source: &str) -> Vec<String> {
    let (endpoint, token) = (server.admin_url.clone(), server.admin_token.clone());
    vec![
        serverful_e2e::serverful_bin().display().to_string(),
        "deploy".to_owned(),
        source.to_owned(),
        "--stack".to_owned(),
        "websocket-chat".to_owned(),
        "--endpoint".to_owned(),
        endpoint,
        "--token".to_owned(),
        token,
    ]
}

#[test]
fn a_route_naming_an_unknown_integration_fails_at_start() {
    let work = tempfile::tempdir().expect("temp dir");
    let app = work.path().join("websocket-chat");
    copy_dir(&test_app("websocket-chat"), &app);
    let template = app.join("template.yaml");
    let text = std::fs::read_to_string(&template).expect("read template");
    std::fs::write(
        &template,
        text.replace("!Ref SendInteg]]", "!Ref MissingInteg]]"),
    )
    .expect("write template");
    let (code, stderr) = up_until_it_fails(&app);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("template.yaml:")
            && stderr.contains("Resources.SendRoute.Properties.Target")
            && stderr.contains("MissingInteg"),
        "{stderr}"
    );
}

const EDGES: &str = r#"
import asyncio, json, sys
import websockets

URL = sys.argv[1]
result = {}

async def handshake(query):
    try:
        async with websockets.connect(URL + query):
            return "accepted"
    except websockets.exceptions.InvalidStatus as error:
        return error.response.status_code

async def ping(ws, data="x"):
    await ws.send(json.dumps({"action": "ping", "data": data}))
    return json.loads(await asyncio.wait_for(ws.recv(), 15))

async def closed_by_server(ws):
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 15)
    except websockets.exceptions.ConnectionClosed as closed:
        return [closed.rcvd.code, closed.rcvd.reason] if closed.rcvd else None

async def main():
    result["handshakes"] = {q: await handshake(q) for q in ["", "?status=201", "?status=301", "?status=403", "?status=501", "?fail"]}

    async with websockets.connect(URL, max_size=None) as steady:
        result["steady_first"] = await ping(steady)

        # No route for the message and no $default: the Forbidden frame, and the
        # connection stays.
        await steady.send(json.dumps({"action": "nothing-here"}))
        result["forbidden_raw"] = await asyncio.wait_for(steady.recv(), 15)
        await steady.send("not json at all")
        result["forbidden_not_json"] = json.loads(await asyncio.wait_for(steady.recv(), 15))
        result["after_forbidden"] = await ping(steady)

        # A text frame that is not UTF-8 closes that connection with 1007.
        async with websockets.connect(URL) as bad:
            await bad.send(b"\xff\xfe{", text=True)
            result["not_utf8"] = await closed_by_server(bad)
        result["steady_after_not_utf8"] = await ping(steady)

        # A message over 128 KB, in frames of 30 KB, closes with 1009; so does one frame
        # over 32 KB. 100 KB in frames of 25 KB goes through.
        async with websockets.connect(URL, max_size=None) as big:
            await big.send(["x" * (30 * 1024)] * 5)
            result["message_over_128k"] = await closed_by_server(big)
        async with websockets.connect(URL, max_size=None) as big:
            await big.send("x" * (40 * 1024))
            result["frame_over_32k"] = await closed_by_server(big)
        async with websockets.connect(URL, max_size=None) as fits:
            body = json.dumps({"action": "ping", "data": "y" * (100 * 1024)})
            await fits.send([body[i:i + 25 * 1024] for i in range(0, len(body), 25 * 1024)])
            result["fragmented_100k"] = json.loads(await asyncio.wait_for(fits.recv(), 15))
            result["fragmented_100k_length"] = len(body)
        result["steady_last"] = await ping(steady)

asyncio.run(main())
print(json.dumps(result))
"#;

#[test]
fn edge_cases_get_api_gateways_answers_and_leave_other_connections_alone() {
    let server = Server::start(&test_app("websocket-edges"), &[]);
    let result = python_on_stage(&server, "edge", EDGES);

    // $connect decides the handshake with its own status; a failing one is a 502.
    assert_eq!(
        result["handshakes"],
        serde_json::json!({
            "": "accepted", "?status=201": "accepted", "?status=301": 301,
            "?status=403": 403, "?status=501": 501, "?fail": 502,
        }),
        "{}",
        server.all_output()
    );

    // The Forbidden frame, byte for byte as API Gateway spaces it.
    let raw = result["forbidden_raw"].as_str().expect("a text frame");
    assert!(
        raw.starts_with(r#"{"message": "Forbidden", "connectionId":""#),
        "{raw}"
    );
    let frame: Value = serde_json::from_str(raw).expect("JSON");
    assert_eq!(frame["connectionId"].as_str().map(str::len), Some(16));
    assert!(frame["requestId"].is_string(), "{frame}");
    assert_eq!(result["forbidden_not_json"]["message"], "Forbidden");
    assert_eq!(
        result["forbidden_not_json"]["connectionId"],
        frame["connectionId"]
    );

    assert_eq!(result["not_utf8"][0], 1007, "{result:#}");
    assert_eq!(result["message_over_128k"][0], 1009, "{result:#}");
    assert_eq!(result["frame_over_32k"][0], 1009, "{result:#}");
    assert_eq!(
        result["fragmented_100k"]["pong"], result["fragmented_100k_length"],
        "{result:#}"
    );
    // The steady connection answered before, between and after all of it.
    for step in [
        "steady_first",
        "after_forbidden",
        "steady_after_not_utf8",
        "steady_last",
    ] {
        assert_eq!(result[step]["pong"], 31, "{step}: {result:#}");
    }
}

#[test]
fn a_stack_cannot_post_to_another_stacks_connection() {
    let server = Server::start(&test_app("websocket-chat"), &[]);
    let (code, stdout, stderr) = server.admin(&[
        "deploy",
        test_app("websocket-edges").to_str().expect("utf-8 path"),
        "--stack",
        "edges",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}\n{}", server.all_output());
    let result = python_client(
        &server,
        r#"
import asyncio, json, sys
import websockets

CHAT, EDGES = sys.argv[1], sys.argv[1].rsplit("/", 1)[0] + "/edge"

async def main():
    async with websockets.connect(CHAT + "?token=letmein") as chat, websockets.connect(EDGES) as edge:
        await chat.send(json.dumps({"action": "sendmessage", "data": "me"}))
        chat_id = json.loads(await asyncio.wait_for(chat.recv(), 15))["from"]
        await edge.send(json.dumps({"action": "poke", "target": chat_id}))
        other_stack = json.loads(await asyncio.wait_for(edge.recv(), 15))
        await edge.send(json.dumps({"action": "nothing-here"}))
        edge_id = json.loads(await asyncio.wait_for(edge.recv(), 15))["connectionId"]
        await edge.send(json.dumps({"action": "poke", "target": edge_id}))
        own = [await asyncio.wait_for(edge.recv(), 15) for _ in range(2)]
        print(json.dumps({"other_stack": other_stack, "own": sorted(own), "chat_id": chat_id}))

asyncio.run(main())
"#,
    );
    assert_eq!(result["other_stack"]["status"], 403, "{result:#}");
    assert_eq!(result["other_stack"]["code"], "ForbiddenException");
    let message = result["other_stack"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("is not authorized to perform: execute-api:ManageConnections")
            && message.contains(result["chat_id"].as_str().expect("id")),
        "{message}"
    );
    // Its own connections it may post to.
    assert_eq!(
        result["own"],
        serde_json::json!(["poked", r#"{"status": 200}"#])
    );
}

#[test]
fn idle_connections_close_after_the_idle_timeout() {
    let server = Server::try_start_with_env(
        &test_app("websocket-edges"),
        &[],
        &[("SERVERFUL_WEBSOCKET_IDLE_MS", "1500")],
    )
    .unwrap_or_else(|output| panic!("server did not start:\n{output}"));
    let result = python_on_stage(
        &server,
        "edge",
        r#"
import asyncio, json, sys, time
import websockets

URL = sys.argv[1]

async def idle():
    async with websockets.connect(URL) as ws:
        started = time.time()
        try:
            await asyncio.wait_for(ws.recv(), 15)
            return {"closed": None}
        except websockets.exceptions.ConnectionClosed as closed:
            return {"closed": closed.rcvd.code if closed.rcvd else None, "after": time.time() - started}

async def busy():
    async with websockets.connect(URL) as ws:
        started = time.time()
        while time.time() - started < 3.5:
            await ws.send(json.dumps({"action": "ping"}))
            await asyncio.wait_for(ws.recv(), 15)
            await asyncio.sleep(0.4)
        return {"open_after": time.time() - started}

async def main():
    idle_result, busy_result = await asyncio.gather(idle(), busy())
    print(json.dumps({"idle": idle_result, "busy": busy_result}))

asyncio.run(main())
"#,
    );
    assert_eq!(result["idle"]["closed"], 1001, "{result:#}");
    let after = result["idle"]["after"].as_f64().expect("seconds");
    assert!((1.4..5.0).contains(&after), "closed after {after} s");
    assert!(
        result["busy"]["open_after"].as_f64().expect("seconds") >= 3.5,
        "{result:#}"
    );
}

const AUTH: &str = r#"
import asyncio, json, os, sys
import websockets
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

BASE = sys.argv[1].rsplit("/", 1)[0]
HTTP = sys.argv[2]
result = {}

async def handshake(path, headers):
    try:
        async with websockets.connect(BASE + path, additional_headers=headers) as ws:
            await ws.send(json.dumps({"action": "whoami"}))
            return json.loads(await asyncio.wait_for(ws.recv(), 15))
    except websockets.exceptions.InvalidStatus as error:
        return error.response.status_code

def signed(path, secret=None):
    credentials = Credentials(os.environ["AWS_ACCESS_KEY_ID"], secret or os.environ["AWS_SECRET_ACCESS_KEY"])
    request = AWSRequest(method="GET", url=HTTP + path)
    SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    return dict(request.headers.items())

async def main():
    guarded = {}
    for auth in ["alice", "deny", "elsewhere", "throw", "boom", "slow", "malformed"]:
        guarded[auth] = await handshake("/guarded?room=blue", {"Auth": auth})
    guarded["no_header"] = await handshake("/guarded?room=blue", {})
    guarded["no_room"] = await handshake("/guarded", {"Auth": "alice"})
    result["guarded"] = guarded
    result["iam_signed"] = await handshake("/iam", signed("/iam"))
    result["iam_next"] = await handshake("/iam-next", signed("/iam-next"))
    result["iam_unsigned"] = await handshake("/iam", {})
    result["iam_bad_signature"] = await handshake("/iam", signed("/iam", secret="not-the-secret"))

asyncio.run(main())
print(json.dumps(result))
"#;

#[test]
fn connect_authorizers_and_aws_iam_decide_the_handshake() {
    let server = Server::start(&test_app("websocket-auth"), &[]);
    let result = python_on_stage(&server, "guarded", AUTH);
    let guarded = &result["guarded"];
    let output = server.all_output();

    // Allowed: the authorizer's principal and context reach the connection's events.
    let alice = &guarded["alice"];
    let authorizer = &alice["authorizer"];
    assert_eq!(
        authorizer["principalId"], "user-alice",
        "{result:#}\n{output}"
    );
    assert_eq!(authorizer["room"], "blue", "{result:#}");
    assert_eq!(authorizer["level"], 3, "{result:#}");
    assert_eq!(authorizer["admin"], false, "{result:#}");
    // The authorizer got API Gateway's REQUEST event for $connect.
    let seen: Value =
        serde_json::from_str(authorizer["seen"].as_str().expect("a string")).expect("JSON");
    let api_id = server.output("GuardedApiId");
    assert_eq!(seen["type"], "REQUEST");
    assert_eq!(
        seen["methodArn"],
        format!("arn:aws:execute-api:us-east-1:123456789012:{api_id}/guarded/$connect"),
        "{seen:#}"
    );
    assert_eq!(seen["routeKey"], "$connect");
    assert_eq!(seen["eventType"], "CONNECT");
    assert_eq!(seen["connectionId"], alice["connectionId"]);
    assert_eq!(seen["hasBody"], false);

    // Refusals, as API Gateway answers the handshake.
    for (case, status) in [
        ("deny", 403),
        ("elsewhere", 403),
        ("throw", 401),
        ("boom", 500),
        ("slow", 500),
        ("malformed", 500),
        ("no_header", 401),
        ("no_room", 401),
    ] {
        assert_eq!(guarded[case], status, "{case}: {result:#}");
    }

    // AWS_IAM: a signed handshake connects and its events name the signer.
    let identity = &result["iam_signed"]["identity"];
    let access_key = &server.aws_env()[1].1;
    assert_eq!(
        identity["accessKey"],
        access_key.as_str(),
        "{result:#}\n{output}"
    );
    assert_eq!(identity["accountId"], "123456789012", "{result:#}");
    assert_eq!(result["iam_signed"]["stage"], "iam", "{result:#}");
    // The API's second stage takes handshakes too, and its events name it.
    assert_eq!(result["iam_next"]["stage"], "iam-next", "{result:#}");
    assert_eq!(result["iam_unsigned"], 403, "{result:#}");
    assert_eq!(result["iam_bad_signature"], 403, "{result:#}");
}
