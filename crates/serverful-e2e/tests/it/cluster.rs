//! Cluster mode (issue 22): several `serve` nodes on loopback share one scratch
//! PostgreSQL through `--store`, and a client spreads its requests over them.

use serde_json::json;
use serverful_e2e::postgres::Postgres;
use serverful_e2e::Server;

/// Keys every node accepts (each node would otherwise make its own).
const KEYS: [(&str, &str); 2] = [
    ("SERVERFUL_ACCESS_KEY_ID", "AKIACLUSTERTEST00001"),
    (
        "SERVERFUL_SECRET_ACCESS_KEY",
        "cluster-test-secret-key-0000000000000000",
    ),
];

fn start_nodes(postgres: &Postgres, count: usize) -> (Vec<Server>, Vec<tempfile::TempDir>) {
    let url = postgres.url();
    let mut dirs = Vec::new();
    let mut nodes = Vec::new();
    for _ in 0..count {
        let dir = tempfile::tempdir().expect("data folder");
        nodes.push(Server::start_serve_with(
            dir.path(),
            &["--store", &url],
            &KEYS,
        ));
        dirs.push(dir);
    }
    (nodes, dirs)
}

/// `serverful up` of the test app `app` on `count` nodes of one database, one after
/// another (each finds the tables the first made).
fn start_up_nodes(postgres: &Postgres, app: &str, count: usize) -> Vec<Server> {
    let url = postgres.url();
    let app = serverful_e2e::test_app(app);
    (0..count)
        .map(|_| {
            Server::try_start_with_env(&app, &["--store", &url], &KEYS)
                .unwrap_or_else(|output| panic!("node did not start:\n{output}"))
        })
        .collect()
}

/// The environment of a client of the cluster (its keys).
fn cluster_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", KEYS[0].1),
        ("AWS_SECRET_ACCESS_KEY", KEYS[1].1),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ]
}

/// Three nodes behind a round-robin client: a table made through one is used through
/// the others at once, and concurrent conditional updates of one counter (read, then
/// write only if unchanged; and `ADD`) from all three lose no increment. Each node
/// names the database and itself when it starts.
#[test]
fn three_nodes_share_tables_and_lose_no_increment() {
    let postgres = Postgres::start();
    let (nodes, _dirs) = start_nodes(&postgres, 3);
    for node in &nodes {
        let stdout = node.stdout();
        assert!(
            stdout.contains(&format!("Store: PostgreSQL {} (node ", postgres.url())),
            "{stdout}"
        );
    }
    let endpoints: Vec<String> = nodes.iter().map(|node| node.aws_url.clone()).collect();
    let answer = nodes[0].python(
        r#"
import boto3, json, sys, threading
from botocore.config import Config
endpoints = sys.argv[1:]
clients = [boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
    aws_access_key_id="AKIACLUSTERTEST00001", aws_secret_access_key="cluster-test-secret-key-0000000000000000",
    config=Config(retries={"max_attempts": 10, "mode": "standard"})) for url in endpoints]
clients[0].create_table(TableName="votes", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
# Made on node 0, used on node 2 at once.
clients[2].put_item(TableName="votes", Item={"pk": {"S": "seen"}})
PER_THREAD = 25
conflicts = [0]
def worker(number):
    for step in range(PER_THREAD):
        client = clients[(number + step) % len(clients)]
        client.update_item(TableName="votes", Key={"pk": {"S": "atomic"}},
            UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}})
        while True:
            client = clients[(number + step + 1) % len(clients)]
            item = client.get_item(TableName="votes", Key={"pk": {"S": "checked"}}, ConsistentRead=True).get("Item")
            current = int(item["n"]["N"]) if item else 0
            try:
                if current == 0:
                    client.put_item(TableName="votes", Item={"pk": {"S": "checked"}, "n": {"N": "1"}},
                        ConditionExpression="attribute_not_exists(pk)")
                else:
                    client.update_item(TableName="votes", Key={"pk": {"S": "checked"}},
                        UpdateExpression="SET n = :next", ConditionExpression="n = :seen",
                        ExpressionAttributeValues={":seen": {"N": str(current)}, ":next": {"N": str(current + 1)}})
                break
            except client.exceptions.ConditionalCheckFailedException:
                conflicts[0] += 1
threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
for t in threads: t.start()
for t in threads: t.join()
counts = {key: clients[key_index].get_item(TableName="votes", Key={"pk": {"S": key}}, ConsistentRead=True)["Item"]["n"]["N"]
          for key_index, key in enumerate(["atomic", "checked"])}
print(json.dumps({"counts": counts, "tables": [c.list_tables()["TableNames"] for c in clients], "conflicts": conflicts[0]}))
"#,
        &endpoints.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(
        answer["counts"],
        json!({"atomic": "150", "checked": "150"}),
        "{answer}"
    );
    assert_eq!(answer["tables"], json!([["votes"], ["votes"], ["votes"]]));

    // `serverful ls` through any node lists the three, and says which one answered.
    let (code, stdout, stderr) = nodes[1].admin(&["ls"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Nodes (3):"), "{stdout}");
    for node in &nodes {
        assert!(stdout.contains(&node.admin_url), "{stdout}");
    }
    let this_line = stdout
        .lines()
        .find(|line| line.contains("(this node)"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(this_line.contains(&nodes[1].admin_url), "{stdout}");

    // A node stopped cleanly leaves the list at once.
    let mut nodes = nodes;
    let stopped = nodes.remove(2);
    let (status, _) = stopped.interrupt();
    assert!(status.success());
    let (code, stdout, stderr) = nodes[0].admin(&["ls"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Nodes (2):"), "{stdout}");
}

/// `--store` with something other than PostgreSQL stops the node with a message that
/// says what to give; a database that cannot be reached is waited for, and named.
#[test]
fn a_wrong_or_unreachable_store_says_what_to_fix() {
    let dir = tempfile::tempdir().expect("data folder");
    let output = std::process::Command::new(serverful_e2e::serverful_bin())
        .args(["serve", "--data"])
        .arg(dir.path())
        .args(["--port", "0", "--aws-port", "0", "--admin-port", "0"])
        .args(["--store", "sqlite:///tmp/x"])
        .output()
        .expect("run serverful");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("sqlite:///tmp/x is not a PostgreSQL URL: use postgres://"),
        "{stderr}"
    );

    // Nothing listens on this port: the node says it waits, then gives up with the
    // address (the password hidden) and a hint.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let output = std::process::Command::new(serverful_e2e::serverful_bin())
        .args(["serve", "--data"])
        .arg(dir.path())
        .args(["--port", "0", "--aws-port", "0", "--admin-port", "0"])
        .args([
            "--store",
            &format!("postgres://app:hunter2@127.0.0.1:{port}/app"),
        ])
        .env("SERVERFUL_STORE_CONNECT_SECS", "2")
        .output()
        .expect("run serverful");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("waiting for PostgreSQL"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot reach PostgreSQL at postgres://app:***@127.0.0.1:{port}/app"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(stderr.contains("hint: check --store"), "{stderr}");
}

/// The stream projector's client (see `stream_mappings`) against one node, with the
/// cluster's keys.
fn projector_client(node: &Server, args: &[&str]) -> String {
    let output = std::process::Command::new("python3")
        .args(["-c", crate::stream_mappings::CLIENT])
        .args(args)
        .env("AWS_ENDPOINT_URL", &node.aws_url)
        .envs(cluster_env())
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "client {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        node.all_output()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

type Copies = std::collections::BTreeMap<String, Vec<i64>>;

fn projector_copies(node: &Server) -> Copies {
    serde_json::from_str(&projector_client(node, &["copies"])).expect("copies are JSON")
}

/// A stream mapping deployed through one of two nodes (both run it) is consumed by one of them (the lease's
/// owner); killed with `kill -9` in the middle of the stream, its lease moves to the
/// other node within seconds, which delivers every record at least once, in order per
/// key.
#[test]
fn a_stream_mapping_moves_to_a_live_node_when_its_owner_is_killed() {
    let postgres = Postgres::start();
    let (mut nodes, _dirs) = start_nodes(&postgres, 2);
    let app = serverful_e2e::test_app("stream-projector");
    // Deployed through one node, the stack is the cluster's: the other starts it too.
    let (code, stdout, stderr) = nodes[0].admin(&[
        "deploy",
        app.to_str().expect("utf-8 path"),
        "--stack",
        "projector",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let started = std::time::Instant::now();
    loop {
        let (code, stdout, stderr) = nodes[1].admin(&["ls"]);
        assert_eq!(code, 0, "{stderr}");
        if stdout.contains("projector") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "node 1 does not serve the stack:\n{stdout}\n{}",
            nodes[1].all_output()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    projector_client(&nodes[0], &["write", "0", "119", "4"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let copied: usize = projector_copies(&nodes[1]).values().map(Vec::len).sum();
        if copied >= 10 {
            assert!(
                copied < 120,
                "the kill should land mid-stream: {copied} copied"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing copied:\n{}\n{}",
            nodes[0].all_output(),
            nodes[1].all_output()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let owner_index = lease_owner(&postgres, "stream-mapping/", &[&nodes[0], &nodes[1]])
        .expect("a node owns the mapping");
    kill_9(nodes.remove(owner_index));

    let survivor = &nodes[0];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let copies = loop {
        let copies = projector_copies(survivor);
        let complete = (0..120).all(|n| {
            copies
                .get(&format!("k{}", n % 4))
                .is_some_and(|seen| seen.contains(&n))
        });
        if complete {
            break copies;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the survivor did not finish the stream: {copies:?}\n{}",
            survivor.all_output()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    crate::stream_mappings::assert_in_order(&copies);
    // The killed node drops out of `ls` once it has been silent a few seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (code, stdout, stderr) = survivor.admin(&["ls"]);
        assert_eq!(code, 0, "{stderr}");
        if stdout.contains("Nodes (1):") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{stdout}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_eq!(
        lease_owner(&postgres, "stream-mapping/", &[survivor]),
        Some(0)
    );
}

/// The chat app on three `up` nodes: a client on node A gets a message another client
/// sent through node C (C's function posts to A's socket, handed over by C); boto3's
/// management client on node B, which holds neither socket, reads, posts to and deletes
/// them; a closed connection answers 410 everywhere.
#[test]
fn a_websocket_client_on_one_node_gets_what_is_posted_on_another() {
    let postgres = Postgres::start();
    let nodes = start_up_nodes(&postgres, "websocket-chat", 3);
    let ws = |node: &Server| {
        format!(
            "{}/production",
            node.url("").replacen("http://", "ws://", 1)
        )
    };
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            CHAT_ACROSS_NODES,
            &ws(&nodes[0]),
            &ws(&nodes[2]),
            &nodes[1].aws_url,
        ])
        .env(
            "PYTHONPATH",
            serverful_e2e::test_deps_dir().join("python-websockets"),
        )
        .envs(cluster_env())
        .output()
        .expect("run python3");
    let all_output = || {
        nodes
            .iter()
            .map(Server::all_output)
            .collect::<Vec<_>>()
            .join("\n---\n")
    };
    assert!(
        output.status.success(),
        "python client failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        all_output()
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(result["x_got"]["data"], json!("hi from C"), "{result}");
    assert_eq!(result["x_got"]["from"], result["y_id"], "{result}");
    assert_eq!(result["y_got"]["data"], json!("hi from C"), "{result}");
    assert_eq!(result["posted_via_b"], json!("from B"), "{result}");
    assert_eq!(result["get_via_b"], json!(true), "{result}");
    assert_eq!(result["deleted_via_b"], json!(1000), "{result}");
    assert_eq!(result["post_after_close"], json!(410), "{result}");
}

/// argv: node A's WebSocket URL, node C's, node B's AWS endpoint.
const CHAT_ACROSS_NODES: &str = r#"
import asyncio, json, sys, time
import boto3, websockets

A, C, B_AWS = sys.argv[1], sys.argv[2], sys.argv[3]
result = {}

async def recv(ws):
    return await asyncio.wait_for(ws.recv(), 15)

async def main():
    management = boto3.client("apigatewaymanagementapi", endpoint_url=B_AWS)
    async with websockets.connect(A + "?token=letmein&name=x") as x, \
               websockets.connect(C + "?token=letmein&name=y") as y:
        await y.send(json.dumps({"action": "sendmessage", "data": "hi from C"}))
        result["y_got"] = json.loads(await recv(y))
        result["x_got"] = json.loads(await recv(x))
        result["y_id"] = result["y_got"]["from"]
        # x's id: it is the other connection the function posted to.
        await x.send(json.dumps({"action": "sendmessage", "data": "who am i"}))
        x_id = json.loads(await recv(x))["from"]
        await recv(y)

        connection = management.get_connection(ConnectionId=x_id)
        result["get_via_b"] = "SourceIp" in connection["Identity"]
        management.post_to_connection(ConnectionId=x_id, Data=b"from B")
        result["posted_via_b"] = await recv(x)

        management.delete_connection(ConnectionId=result["y_id"])
        try:
            await recv(y)
            result["deleted_via_b"] = "still open"
        except websockets.exceptions.ConnectionClosed as closed:
            result["deleted_via_b"] = closed.rcvd.code if closed.rcvd else None
    time.sleep(1.0)
    try:
        management.post_to_connection(ConnectionId=x_id, Data=b"late")
        result["post_after_close"] = "delivered"
    except management.exceptions.GoneException as error:
        result["post_after_close"] = error.response["ResponseMetadata"]["HTTPStatusCode"]

asyncio.run(main())
print(json.dumps(result))
"#;

/// PostgreSQL crashes and comes back while a client writes through a node: the writes
/// in between fail with errors SDKs retry (5xx), every acknowledged write is there
/// afterwards, and the node serves again without a restart of its own.
#[test]
fn a_database_restart_under_load_fails_requests_retryably_and_recovers_alone() {
    let postgres = Postgres::start();
    let (nodes, _dirs) = start_nodes(&postgres, 1);
    let node = &nodes[0];
    let writer = {
        let aws_url = node.aws_url.clone();
        std::thread::spawn(move || {
            let output = std::process::Command::new("python3")
                .args(["-c", WRITES_THROUGH_A_RESTART, &aws_url])
                .envs(cluster_env())
                .output()
                .expect("run python3");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("JSON")
        })
    };
    // Let the writes get going, then crash the database for two seconds.
    std::thread::sleep(std::time::Duration::from_secs(3));
    postgres.crash_and_restart(std::time::Duration::from_secs(2));
    let result = writer.join().expect("writer");
    eprintln!("writes through a database restart: {result}");
    let failures = result["failures"].as_object().expect("failures");
    assert!(
        !failures.is_empty(),
        "no write failed while the database was down: {result}"
    );
    for (kind, count) in failures {
        assert!(
            kind.starts_with('5'),
            "a non-retryable answer while the database was down: {kind} x{count}\n{result}"
        );
    }
    assert!(
        result["late_successes"].as_u64().expect("count") > 0,
        "{result}\n{}",
        node.all_output()
    );
    assert_eq!(result["missing"], json!([]), "{result}");
}

/// argv: the node's AWS endpoint. Writes item after item for 14 s without SDK retries,
/// then checks that each acknowledged one is there.
const WRITES_THROUGH_A_RESTART: &str = r#"
import json, sys, time
import boto3
from botocore.config import Config
db = boto3.client("dynamodb", endpoint_url=sys.argv[1],
    config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30))
db.create_table(TableName="journal", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "n", "AttributeType": "N"}],
    KeySchema=[{"AttributeName": "n", "KeyType": "HASH"}])
acknowledged, failures, late = [], {}, 0
start = time.time()
n = 0
while time.time() - start < 14:
    n += 1
    try:
        db.put_item(TableName="journal", Item={"n": {"N": str(n)}}, ConditionExpression="attribute_not_exists(n)")
        acknowledged.append(n)
        if time.time() - start > 10:
            late += 1
    except db.exceptions.ClientError as error:
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        code = error.response["Error"]["Code"]
        key = f"{status} {code}"
        failures[key] = failures.get(key, 0) + 1
        time.sleep(0.05)
retry = boto3.client("dynamodb", endpoint_url=sys.argv[1])
missing = [n for n in acknowledged
           if "Item" not in retry.get_item(TableName="journal", Key={"n": {"N": str(n)}}, ConsistentRead=True)]
print(json.dumps({"acknowledged": len(acknowledged), "failures": failures, "late_successes": late, "missing": missing}))
"#;

/// A node killed with `kill -9` while clients move money between accounts with
/// transactions through it and through another node: nothing is half-written (the
/// total stays what it was) and the other node carries on.
#[test]
fn a_node_killed_mid_transaction_leaves_nothing_half_written() {
    let postgres = Postgres::start();
    let (mut nodes, _dirs) = start_nodes(&postgres, 2);
    let endpoints = [nodes[0].aws_url.clone(), nodes[1].aws_url.clone()];
    let setup = std::process::Command::new("python3")
        .args(["-c", TRANSFERS, "setup", &endpoints[1]])
        .envs(cluster_env())
        .output()
        .expect("python3");
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let movers: Vec<_> = endpoints
        .iter()
        .map(|endpoint| {
            std::process::Command::new("python3")
                .args(["-c", TRANSFERS, "move", endpoint])
                .envs(cluster_env())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("python3")
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_secs(3));
    kill_9(nodes.remove(0));
    let mut moved = Vec::new();
    for mover in movers {
        let output = mover.wait_with_output().expect("mover");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        moved.push(serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("JSON"));
    }
    let check = std::process::Command::new("python3")
        .args(["-c", TRANSFERS, "check", &endpoints[1]])
        .envs(cluster_env())
        .output()
        .expect("python3");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let totals: serde_json::Value = serde_json::from_slice(&check.stdout).expect("JSON");
    eprintln!("transfers: {moved:?}, totals: {totals}");
    assert_eq!(totals["total"], json!(1000), "{totals}");
    assert!(totals["nonnegative"].as_bool().expect("bool"), "{totals}");
    // Both movers got transfers through; the survivor's kept going after the kill.
    assert!(moved[0]["done"].as_u64().expect("count") > 0, "{moved:?}");
    assert!(moved[1]["late"].as_u64().expect("count") > 0, "{moved:?}");
}

/// argv: setup|move|check, and a node's AWS endpoint. Ten accounts of 100; movers make
/// random transfers for 8 s, each debit conditional on the balance covering it.
const TRANSFERS: &str = r#"
import json, random, sys, time
import boto3
from botocore.config import Config
command, endpoint = sys.argv[1], sys.argv[2]
db = boto3.client("dynamodb", endpoint_url=endpoint,
    config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))
ACCOUNTS = [f"acct-{i}" for i in range(10)]
if command == "setup":
    db.create_table(TableName="bank", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    for account in ACCOUNTS:
        db.put_item(TableName="bank", Item={"id": {"S": account}, "balance": {"N": "100"}})
    print("{}")
elif command == "move":
    done, failed, late, start = 0, 0, 0, time.time()
    while time.time() - start < 8:
        source, target = random.sample(ACCOUNTS, 2)
        amount = str(random.randint(1, 30))
        try:
            db.transact_write_items(TransactItems=[
                {"Update": {"TableName": "bank", "Key": {"id": {"S": source}},
                    "UpdateExpression": "SET balance = balance - :a", "ConditionExpression": "balance >= :a",
                    "ExpressionAttributeValues": {":a": {"N": amount}}}},
                {"Update": {"TableName": "bank", "Key": {"id": {"S": target}},
                    "UpdateExpression": "SET balance = balance + :a",
                    "ExpressionAttributeValues": {":a": {"N": amount}}}},
            ])
            done += 1
            if time.time() - start > 5:
                late += 1
        except Exception:
            failed += 1
            time.sleep(0.05)
    print(json.dumps({"done": done, "failed": failed, "late": late}))
else:
    items = db.scan(TableName="bank", ConsistentRead=True)["Items"]
    balances = [int(item["balance"]["N"]) for item in items]
    print(json.dumps({"total": sum(balances), "nonnegative": all(b >= 0 for b in balances), "accounts": len(balances)}))
"#;

/// Which node (by index in `nodes`) holds the lease whose name starts with `prefix`
/// (`stream-mapping/`, `queue-mapping/`), if any: lease owners are node ids, which name
/// the node's admin port.
fn lease_owner(postgres: &Postgres, prefix: &str, nodes: &[&Server]) -> Option<usize> {
    let owner = postgres.psql(&format!(
        "SELECT owner FROM cluster_leases WHERE name LIKE '{prefix}%'"
    ));
    nodes.iter().position(|node| {
        let port = node
            .admin_url
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        owner.contains(&format!(":{port}/"))
    })
}

/// Kills a node as a crash would (`kill -9`).
fn kill_9(node: Server) {
    let status = std::process::Command::new("kill")
        .args(["-9", &node.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    drop(node);
}

fn wait_until(what: &str, limit: std::time::Duration, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A network partition between the node consuming a stream and the database (a proxy
/// that stops every byte without closing anything): the node's lease runs out, the other
/// node takes the mapping over and delivers every record, and once the partition heals
/// the cut-off node does not take it back while the other holds it.
#[test]
fn a_node_cut_off_from_the_database_loses_its_stream_to_a_live_node() {
    let postgres = Postgres::start();
    let proxy = serverful_e2e::proxy::Proxy::start(postgres.address());
    let (cut_dir, live_dir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let cut_node = Server::start_serve_with(
        cut_dir.path(),
        &["--store", &postgres.url_via(proxy.port())],
        &KEYS,
    );
    let live_node = Server::start_serve_with(live_dir.path(), &["--store", &postgres.url()], &KEYS);
    let app = serverful_e2e::test_app("stream-projector");
    let deploy = |node: &Server| {
        let (code, stdout, stderr) = node.admin(&[
            "deploy",
            app.to_str().expect("utf-8"),
            "--stack",
            "projector",
        ]);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
    };
    // The node behind the proxy deploys first and takes the mapping.
    deploy(&cut_node);
    wait_until(
        "the first node takes the mapping",
        std::time::Duration::from_secs(20),
        || lease_owner(&postgres, "stream-mapping/", &[&cut_node, &live_node]) == Some(0),
    );
    // The stack is the cluster's: the live node starts it too, without a deploy.
    wait_until(
        "the live node serves the stack",
        std::time::Duration::from_secs(30),
        || live_node.admin(&["ls"]).1.contains("projector"),
    );
    projector_client(&live_node, &["write", "0", "39", "4"]);
    wait_until("copies start", std::time::Duration::from_secs(30), || {
        projector_copies(&live_node)
            .values()
            .map(Vec::len)
            .sum::<usize>()
            >= 10
    });

    proxy.cut();
    let cut_at = std::time::Instant::now();
    projector_client(&live_node, &["write", "40", "119", "4"]);
    wait_until(
        "the live node takes the mapping",
        std::time::Duration::from_secs(30),
        || lease_owner(&postgres, "stream-mapping/", &[&cut_node, &live_node]) == Some(1),
    );
    let taken_after = cut_at.elapsed();
    let mut copies = Copies::new();
    wait_until(
        "every record copied",
        std::time::Duration::from_secs(60),
        || {
            copies = projector_copies(&live_node);
            (0..120).all(|n| {
                copies
                    .get(&format!("k{}", n % 4))
                    .is_some_and(|seen| seen.contains(&n))
            })
        },
    );
    crate::stream_mappings::assert_in_order(&copies);
    eprintln!("the live node took the mapping {taken_after:?} after the cut");

    // Healed, the first node finds the lease held and leaves it.
    proxy.heal();
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert_eq!(
        lease_owner(&postgres, "stream-mapping/", &[&cut_node, &live_node]),
        Some(1)
    );
    let (code, stdout, stderr) = live_node.admin(&["ls"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("Nodes (2):"),
        "the healed node is back: {stdout}"
    );
}

/// The birthday greeter on three `up` nodes of one database: a user saved through any
/// node is greeted through every other, and a changed date is seen everywhere at once.
#[test]
fn the_birthday_app_works_through_any_node() {
    use crate::birthday::{birthday_app, get, put, start_birthday_app_with, Date, AGE_YEARS};
    let postgres = Postgres::start();
    let url = postgres.url();
    let nodes: Vec<Server> = (0..3)
        .map(|_| start_birthday_app_with(&birthday_app(), &["--store", &url], &KEYS))
        .collect();
    let today = Date::today();
    let in_ten_days = today.plus_days(10).years_earlier(AGE_YEARS).to_string();
    let born_today = today.years_earlier(AGE_YEARS).to_string();
    assert_eq!(put(&nodes[0], "Ann", &in_ten_days), (204, String::new()));
    assert_eq!(put(&nodes[2], "Bob", &born_today), (204, String::new()));
    for node in &nodes {
        assert_eq!(
            get(node, "Ann"),
            (
                200,
                json!({"message": "Hello, Ann! Your birthday is in 10 day(s)"})
            )
        );
        assert_eq!(
            get(node, "Bob"),
            (200, json!({"message": "Hello, Bob! Happy birthday!"}))
        );
    }
    let tomorrow = today.plus_days(1).years_earlier(AGE_YEARS).to_string();
    assert_eq!(put(&nodes[1], "Ann", &tomorrow), (204, String::new()));
    for node in &nodes {
        assert_eq!(
            get(node, "Ann"),
            (
                200,
                json!({"message": "Hello, Ann! Your birthday is in 1 day(s)"})
            )
        );
    }

    // `serverful invocations` through one node lists every node's invocations (3 PUTs
    // and 9 GETs in all), and `show` reads one that another node ran.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let listed = loop {
        let (code, stdout, stderr) = nodes[2].admin(&["invocations", "--json"]);
        assert_eq!(code, 0, "{stderr}");
        let listed: Vec<serde_json::Value> = stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("JSON line"))
            .collect();
        if listed.len() >= 12 || std::time::Instant::now() > deadline {
            break listed;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let triggers: Vec<&str> = listed
        .iter()
        .map(|record| record["trigger"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(listed.len(), 12, "{triggers:?}");
    assert_eq!(
        triggers
            .iter()
            .filter(|trigger| trigger.contains("PUT"))
            .count(),
        3,
        "{triggers:?}"
    );
    let first = listed.last().expect("a record")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (code, shown, stderr) = nodes[2].admin(&["invocations", "show", &first, "--json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(shown.contains("\"trigger\": \"route "), "{shown}");

    // `serverful logs` through one node reads the function's lines of all three nodes:
    // a START line for each of the 12 invocations.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (code, stdout, stderr) = nodes[0].admin(&["logs", "BirthdayFunction", "--json"]);
        assert_eq!(code, 0, "{stderr}");
        let starts = stdout
            .lines()
            .filter(|line| line.contains("START RequestId"))
            .count();
        if starts == 12 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline && starts < 12,
            "{starts} START lines:\n{stdout}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// SNS on two nodes of one database: a topic made through A is listed and subscribed to
/// through B; messages published through either reach the SQS queue subscribed to it
/// (queues are shared too) once each; a FIFO topic's duplicate, published through the
/// other node, is dropped, and its messages keep their group's order.
#[test]
fn topics_and_their_deliveries_are_shared_by_the_nodes() {
    let postgres = Postgres::start();
    let (nodes, _dirs) = start_nodes(&postgres, 2);
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            TOPICS_ACROSS_NODES,
            &nodes[0].aws_url,
            &nodes[1].aws_url,
        ])
        .envs(cluster_env())
        .output()
        .expect("python3");
    assert!(
        output.status.success(),
        "{}\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        nodes[0].all_output(),
        nodes[1].all_output()
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(result["listed_on_b"], json!(true), "{result}");
    let mut bodies: Vec<String> = serde_json::from_value(result["standard"].clone()).expect("list");
    bodies.sort();
    let expected: Vec<String> = {
        let mut all: Vec<String> = (0..20).map(|n| format!("m{n}")).collect();
        all.sort();
        all
    };
    assert_eq!(bodies, expected, "{result}");
    assert_eq!(result["fifo"], json!(["f0", "f1", "f2", "f3"]), "{result}");
    assert_eq!(result["duplicate_id"], result["first_id"], "{result}");
}

/// argv: node A's and node B's AWS endpoints.
const TOPICS_ACROSS_NODES: &str = r#"
import json, sys, time
import boto3
A, B = sys.argv[1], sys.argv[2]
sns_a, sns_b = boto3.client("sns", endpoint_url=A), boto3.client("sns", endpoint_url=B)
sqs_a, sqs_b = boto3.client("sqs", endpoint_url=A), boto3.client("sqs", endpoint_url=B)
result = {}

topic = sns_a.create_topic(Name="news")["TopicArn"]
result["listed_on_b"] = topic in [t["TopicArn"] for t in sns_b.list_topics()["Topics"]]
queue = sqs_a.create_queue(QueueName="news-inbox")["QueueUrl"]
queue_arn = sqs_a.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sns_b.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
for n in range(20):
    (sns_a if n % 2 else sns_b).publish(TopicArn=topic, Message=f"m{n}")

def drain(client, url, count, deadline=30):
    got, end = [], time.time() + deadline
    while len(got) < count and time.time() < end:
        for m in client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            got.append(m["Body"])
            client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    time.sleep(1.5)
    for m in client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
        got.append(m["Body"])
    return got
result["standard"] = drain(sqs_b, queue, 20)

fifo = sns_b.create_topic(Name="orders.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
fifo_queue = sqs_b.create_queue(QueueName="orders.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
fifo_arn = sqs_b.get_queue_attributes(QueueUrl=fifo_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sns_a.subscribe(TopicArn=fifo, Protocol="sqs", Endpoint=fifo_arn, Attributes={"RawMessageDelivery": "true"})
first = sns_a.publish(TopicArn=fifo, Message="f0", MessageGroupId="g", MessageDeduplicationId="d0")
duplicate = sns_b.publish(TopicArn=fifo, Message="f0 again", MessageGroupId="g", MessageDeduplicationId="d0")
result["first_id"], result["duplicate_id"] = first["MessageId"], duplicate["MessageId"]
for n in range(1, 4):
    (sns_a if n % 2 else sns_b).publish(TopicArn=fifo, Message=f"f{n}", MessageGroupId="g", MessageDeduplicationId=f"d{n}")
result["fifo"] = drain(sqs_a, fifo_queue, 4)
print(json.dumps(result))
"#;

/// API keys on two `up` nodes of one database: the generated key has one value on both,
/// and a plan's quota (5 requests a day) counts the requests of both nodes together.
#[test]
fn an_api_key_and_its_quota_are_the_clusters() {
    use crate::api_keys::{get, key_value};
    let postgres = Postgres::start();
    let nodes = start_up_nodes(&postgres, "api-keys", 2);
    let shared = key_value(&nodes[0], "ServerlessApiKey");
    assert_eq!(key_value(&nodes[1], "ServerlessApiKey"), shared);
    for (index, path) in [
        "/counted",
        "/counted-too",
        "/counted",
        "/counted-too",
        "/counted",
    ]
    .iter()
    .enumerate()
    {
        let (status, body) = get(&nodes[index % 2], path, Some(&shared));
        assert_eq!(status, 200, "{path}: {body:#}");
    }
    let limit_exceeded = (429, json!({"message": "Limit Exceeded"}));
    assert_eq!(get(&nodes[0], "/counted", Some(&shared)), limit_exceeded);
    assert_eq!(
        get(&nodes[1], "/counted-too", Some(&shared)),
        limit_exceeded
    );
}

/// Expired items (TTL) are deleted once in a cluster: by the one node holding the sweep's
/// lease.
#[test]
fn one_node_sweeps_expired_items_for_the_cluster() {
    let postgres = Postgres::start();
    let (nodes, _dirs) = start_nodes(&postgres, 2);
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            r#"
import json, sys, time
import boto3
a, b = (boto3.client("dynamodb", endpoint_url=url) for url in sys.argv[1:3])
a.create_table(TableName="sessions", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
b.update_time_to_live(TableName="sessions", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
past, future = int(time.time()) - 60, int(time.time()) + 3600
b.put_item(TableName="sessions", Item={"id": {"S": "old"}, "expires": {"N": str(past)}})
a.put_item(TableName="sessions", Item={"id": {"S": "new"}, "expires": {"N": str(future)}})
deadline = time.time() + 30
while time.time() < deadline and "Item" in a.get_item(TableName="sessions", Key={"id": {"S": "old"}}, ConsistentRead=True):
    time.sleep(0.5)
left = sorted(item["id"]["S"] for item in b.scan(TableName="sessions", ConsistentRead=True)["Items"])
print(json.dumps({"left": left}))
"#,
            &nodes[0].aws_url,
            &nodes[1].aws_url,
        ])
        .envs(cluster_env())
        .output()
        .expect("python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(result["left"], json!(["new"]), "{result}");
    let owners = postgres.psql("SELECT count(*) FROM cluster_leases WHERE name = 'ttl-sweep'");
    assert_eq!(owners, "1");
}

/// A node started while the database cannot be reached (its traffic dropped, so every
/// attempt times out) says that it waits, and starts once the database answers.
#[test]
fn a_node_waits_for_an_unreachable_database_and_starts_once_it_answers() {
    let postgres = Postgres::start();
    let proxy = serverful_e2e::proxy::Proxy::start(postgres.address());
    proxy.cut();
    let dir = tempfile::tempdir().expect("data folder");
    let url = postgres.url_via(proxy.port());
    let healer = {
        let started = std::time::Instant::now();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(8));
            proxy.heal();
            (proxy, started.elapsed())
        })
    };
    let node = Server::start_serve_with(dir.path(), &["--store", &url], &KEYS);
    let (_proxy, healed_after) = healer.join().expect("healer");
    assert!(healed_after >= std::time::Duration::from_secs(8));
    let output = node.all_output();
    assert!(output.contains("waiting for PostgreSQL"), "{output}");
    let (code, stdout, stderr) = node.admin(&["ls"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Nodes (1):"), "{stdout}");
}

/// The planning-poker app (`examples/pajthy`) on three `up` nodes of one database: its
/// REST API through node A, every voter's WebSocket on node C. Each change made through A
/// is pushed by A's functions to the sockets C holds; a dropped socket's subscription is
/// removed, and a push that meets a dead connection held by no node gets 410; concurrent
/// votes through A all count (the app's optimistic locking on the shared table).
#[test]
fn the_voting_app_works_across_nodes() {
    let postgres = Postgres::start();
    let url = postgres.url();
    let app = serverful_e2e::repo_root().join("examples/pajthy");
    let nodes: Vec<Server> = (0..3)
        .map(|_| {
            Server::try_start_with_env(&app, &["--store", &url], &KEYS)
                .unwrap_or_else(|output| panic!("node did not start:\n{output}"))
        })
        .collect();
    let http = nodes[0].url("");
    let ws = format!("{}/live", nodes[2].url("").replacen("http://", "ws://", 1));
    let connections = nodes[0].output("ConnectionsTableName");
    let output = std::process::Command::new("python3")
        .arg(crate::pajthy::script("session_flow.py"))
        .args([&http, &ws, &connections])
        .env(
            "PYTHONPATH",
            serverful_e2e::test_deps_dir().join("python-websockets"),
        )
        .env("AWS_ENDPOINT_URL", &nodes[1].aws_url)
        .envs(cluster_env())
        .output()
        .expect("python3");
    let all_output = || {
        nodes
            .iter()
            .map(Server::all_output)
            .collect::<Vec<_>>()
            .join("\n---\n")
    };
    assert!(
        output.status.success(),
        "session_flow.py failed: {}{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        all_output()
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(result["create"][0], 201, "{result:#}");
    assert_eq!(result["joins"], json!([201, 201, 201]));
    for seen in result["everyone_sees_three"].as_array().expect("views") {
        assert_eq!(*seen, json!(["ana", "bo", "cy"]));
    }
    assert_eq!(
        result["everyone_sees_open"],
        json!([true, true, true, true])
    );
    assert_eq!(
        result["disconnect_removed_subscription"], true,
        "{result:#}"
    );
    assert_eq!(result["gone_subscription_removed"], true, "{result:#}");
    for who in ["controller", "ana", "bo"] {
        assert_eq!(
            result["after_ana_votes"][who]["voters"][0],
            json!({"name": "ana", "voted": true}),
            "{who}"
        );
    }
    assert_eq!(result["concurrent_votes"], json!([200, 200, 200, 200, 200]));
}

/// The orders app on two `up` nodes of one database: its queue's worker runs on the node
/// holding the queue mapping's lease; killed with `kill -9` while orders flow, the other
/// node takes the mapping over and every order is stored (messages the dead node held come
/// back after their visibility timeout).
#[test]
fn a_queue_consumer_moves_to_a_live_node_when_its_owner_is_killed() {
    use crate::orders::{orders, post_order};
    let postgres = Postgres::start();
    let app = serverful_e2e::repo_root().join("examples/orders");
    let url = postgres.url();
    let mut nodes: Vec<Server> = (0..2)
        .map(|_| {
            Server::try_start_with_env(&app, &["--store", &url], &KEYS)
                .unwrap_or_else(|output| panic!("node did not start:\n{output}"))
        })
        .collect();
    let mut posted = Vec::new();
    for n in 0..30 {
        posted.push(post_order(
            &nodes[n % 2],
            &json!({"item": format!("tea-{n}"), "quantity": 1}),
        ));
    }
    wait_until(
        "orders start to be stored",
        std::time::Duration::from_secs(30),
        || orders(&nodes[0]).len() >= 5,
    );
    let owner_index = lease_owner(&postgres, "queue-mapping/", &[&nodes[0], &nodes[1]])
        .expect("a node owns the queue mapping");
    kill_9(nodes.remove(owner_index));
    let survivor = &nodes[0];
    for n in 30..40 {
        posted.push(post_order(
            survivor,
            &json!({"item": format!("tea-{n}"), "quantity": 1}),
        ));
    }
    let mut stored = Vec::new();
    wait_until(
        "every order stored",
        std::time::Duration::from_secs(60),
        || {
            stored = orders(survivor)
                .iter()
                .filter_map(|order| order["orderId"].as_str().map(str::to_owned))
                .collect();
            posted.iter().all(|id| stored.contains(id))
        },
    );
    assert_eq!(
        lease_owner(&postgres, "queue-mapping/", &[survivor]),
        Some(0)
    );
}
