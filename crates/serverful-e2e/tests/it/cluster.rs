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
