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
        .env("AWS_ACCESS_KEY_ID", KEYS[0].1)
        .env("AWS_SECRET_ACCESS_KEY", KEYS[1].1)
        .env("AWS_DEFAULT_REGION", "us-east-1")
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
    let owner =
        postgres.psql("SELECT owner FROM cluster_leases WHERE name LIKE 'stream-mapping/%'");
    let owner_index = nodes
        .iter()
        .position(|node| {
            let port = node
                .admin_url
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .to_owned();
            owner.contains(&format!(":{port}/"))
        })
        .unwrap_or_else(|| panic!("no node owns the mapping: {owner:?}"));
    let owner_node = nodes.remove(owner_index);
    let status = std::process::Command::new("kill")
        .args(["-9", &owner_node.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    drop(owner_node);

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
    let survivor_port = survivor
        .admin_url
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let owner =
        postgres.psql("SELECT owner FROM cluster_leases WHERE name LIKE 'stream-mapping/%'");
    assert!(owner.contains(&format!(":{survivor_port}/")), "{owner}");
}
