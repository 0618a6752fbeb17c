//! The store's PostgreSQL backend (issue 22) against a scratch PostgreSQL: rows in key
//! order, ranges, scans, counts, stream records, tokens, atomic batches, the schema made
//! once by nodes opening at the same time, and the DynamoDB engine on top of it.

use std::ops::Bound;
use std::sync::Arc;

use serde_json::json;
use serverful_e2e::postgres::Postgres;
use serverful_postgres::PostgresBackend;
use serverful_store::backend::{Backend, Exclusion, SortRange, Space, Write};
use serverful_store::{Store, StoreConfig};

fn put(space: &Space, partition: &[u8], sort: &[u8], value: &[u8]) -> Write {
    Write::Put {
        space: space.clone(),
        partition: partition.to_vec(),
        sort: sort.to_vec(),
        value: value.to_vec(),
    }
}

fn sorts(entries: &[serverful_store::backend::Entry]) -> Vec<Vec<u8>> {
    entries.iter().map(|entry| entry.sort.clone()).collect()
}

#[test]
fn rows_ranges_streams_and_tokens() {
    let postgres = Postgres::start();
    let backend = PostgresBackend::open(&postgres.url(), 4).expect("open");
    let table = Space::table(7);
    let index = Space::index(7, "by-owner");
    backend
        .write(vec![
            Write::PutTable {
                name: "orders".into(),
                metadata: b"meta".to_vec(),
            },
            put(&table, b"a", &[1], b"one"),
            put(&table, b"a", &[2], b"two"),
            put(&table, b"a", &[0xff], b"high"),
            put(&table, b"b", &[], b"other partition"),
            put(&index, b"a", &[1], b"index entry"),
        ])
        .expect("write");
    assert_eq!(
        backend.tables().expect("tables"),
        vec![("orders".to_owned(), b"meta".to_vec())]
    );
    assert_eq!(
        backend.get(&table, b"a", &[2]).expect("get"),
        Some(b"two".to_vec())
    );
    assert_eq!(backend.get(&table, b"a", &[3]).expect("get"), None);

    let all = SortRange {
        lower: Bound::Unbounded,
        upper: Bound::Unbounded,
        reverse: false,
    };
    assert_eq!(
        sorts(&backend.query(&table, b"a", &all, 10).expect("query")),
        vec![vec![1], vec![2], vec![0xff]]
    );
    let reversed = SortRange {
        reverse: true,
        ..all.clone()
    };
    assert_eq!(
        sorts(&backend.query(&table, b"a", &reversed, 2).expect("query")),
        vec![vec![0xff], vec![2]]
    );
    let between = SortRange {
        lower: Bound::Excluded(vec![1]),
        upper: Bound::Included(vec![0xff]),
        reverse: false,
    };
    assert_eq!(
        sorts(&backend.query(&table, b"a", &between, 10).expect("query")),
        vec![vec![2], vec![0xff]]
    );
    let below = SortRange {
        lower: Bound::Included(vec![1]),
        upper: Bound::Excluded(vec![2]),
        reverse: false,
    };
    assert_eq!(
        sorts(&backend.query(&table, b"a", &below, 10).expect("query")),
        vec![vec![1]]
    );

    let first = backend.scan(&table, None, 2).expect("scan");
    assert_eq!(sorts(&first), vec![vec![1], vec![2]]);
    let rest = backend.scan(&table, Some((b"a", &[2])), 10).expect("scan");
    assert_eq!(
        rest.iter()
            .map(|entry| (entry.partition.clone(), entry.sort.clone()))
            .collect::<Vec<_>>(),
        vec![(b"a".to_vec(), vec![0xff]), (b"b".to_vec(), vec![])]
    );
    assert_eq!(backend.count(&table).expect("count"), (4, 3 + 3 + 4 + 15));
    assert_eq!(backend.count(&index).expect("count"), (1, 11));

    backend
        .write(vec![
            Write::AppendStream {
                stream: "s".into(),
                created: 100,
                record: b"r1".to_vec(),
            },
            Write::AppendStream {
                stream: "t".into(),
                created: 100,
                record: b"other".to_vec(),
            },
            Write::AppendStream {
                stream: "s".into(),
                created: 200,
                record: b"r2".to_vec(),
            },
            Write::PutToken {
                token: "tok".into(),
                request: b"req".to_vec(),
                created_millis: 5,
            },
        ])
        .expect("write");
    let records = backend.stream_records("s", 0, 10).expect("records");
    assert_eq!(
        records
            .iter()
            .map(|record| record.record.clone())
            .collect::<Vec<_>>(),
        vec![b"r1".to_vec(), b"r2".to_vec()]
    );
    assert!(records[0].sequence < records[1].sequence);
    assert_eq!(
        backend
            .stream_records("s", records[0].sequence, 10)
            .expect("records")
            .len(),
        1
    );
    assert_eq!(
        backend
            .token("tok")
            .expect("token")
            .map(|token| token.request),
        Some(b"req".to_vec())
    );
    backend
        .write(vec![
            Write::ExpireStreamRecords { before: 150 },
            Write::ExpireTokens { before_millis: 6 },
            Write::DropSpace {
                table_id: 7,
                index: Some("by-owner".into()),
            },
            Write::Delete {
                space: table.clone(),
                partition: b"b".to_vec(),
                sort: vec![],
            },
        ])
        .expect("write");
    assert_eq!(
        backend.stream_records("s", 0, 10).expect("records").len(),
        1
    );
    assert_eq!(backend.token("tok").expect("token"), None);
    assert_eq!(backend.count(&index).expect("count"), (0, 0));
    assert_eq!(backend.count(&table).expect("count").0, 3);

    // A batch that fails part-way leaves nothing behind (PostgreSQL refuses NUL in text).
    let failed = backend.write(vec![
        put(&table, b"c", &[1], b"never"),
        Write::AppendStream {
            stream: "bad\0name".into(),
            created: 1,
            record: vec![],
        },
    ]);
    assert!(failed.is_err());
    assert_eq!(backend.get(&table, b"c", &[1]).expect("get"), None);
}

#[test]
fn nodes_opening_at_once_share_one_schema_and_see_each_others_tables() {
    let postgres = Postgres::start();
    let url = postgres.url();
    let openers: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresBackend::open(&url, 2).expect("open"))
        })
        .collect();
    let backends: Vec<PostgresBackend> = openers
        .into_iter()
        .map(|opener| opener.join().expect("opened"))
        .collect();
    assert_eq!(
        postgres.psql("SELECT version FROM serverful_schema WHERE component = 'store'"),
        "2"
    );

    let node_a = Store::open(
        Arc::new(backends.into_iter().next().expect("a backend")),
        StoreConfig::default(),
    )
    .expect("store");
    node_a
        .call(
            "CreateTable",
            json!({"TableName": "notes", "BillingMode": "PAY_PER_REQUEST",
                   "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "n", "AttributeType": "N"}],
                   "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}]})
            .to_string()
            .as_bytes(),
        )
        .expect("create");
    for n in [3, 1, 2] {
        node_a
            .call("PutItem", json!({"TableName": "notes", "Item": {"pk": {"S": "a"}, "n": {"N": n.to_string()}}}).to_string().as_bytes())
            .expect("put");
    }
    // Another node opened on the same database sees the table and its items.
    let node_b = Store::open(
        Arc::new(PostgresBackend::open(&url, 2).expect("open")),
        StoreConfig::default(),
    )
    .expect("store");
    let answer = node_b
        .call(
            "Query",
            json!({"TableName": "notes", "KeyConditionExpression": "pk = :a AND n >= :two",
                   "ExpressionAttributeValues": {":a": {"S": "a"}, ":two": {"N": "2"}}, "ScanIndexForward": false})
            .to_string()
            .as_bytes(),
        )
        .expect("query");
    assert_eq!(
        answer["Items"],
        json!([{"pk": {"S": "a"}, "n": {"N": "3"}}, {"pk": {"S": "a"}, "n": {"N": "2"}}])
    );
}

/// `SERVERFUL_STORE=postgres://…` puts a server's DynamoDB tables in PostgreSQL: two
/// `serve` nodes with data folders of their own share one database. A table made and
/// written through one, and its items, are read through the other with boto3; a bad
/// store URL stops the server with a message that says what to use.
#[test]
fn two_servers_share_their_dynamodb_tables_through_postgresql() {
    let postgres = Postgres::start();
    let url = postgres.url();
    let env = [("SERVERFUL_STORE", url.as_str())];
    let first_data = tempfile::tempdir().expect("data folder");
    let second_data = tempfile::tempdir().expect("data folder");
    let first = serverful_e2e::Server::start_serve_with_env(first_data.path(), &env);
    first.python(
        r#"
import boto3, json
ddb = boto3.client("dynamodb")
ddb.create_table(TableName="shared", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
ddb.put_item(TableName="shared", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
print(json.dumps({}))
"#,
        &[],
    );
    let second = serverful_e2e::Server::start_serve_with_env(second_data.path(), &env);
    let seen = second.python(
        r#"
import boto3, json
ddb = boto3.client("dynamodb")
item = ddb.get_item(TableName="shared", Key={"pk": {"S": "a"}})["Item"]
print(json.dumps({"tables": ddb.list_tables()["TableNames"], "item": item}))
"#,
        &[],
    );
    assert_eq!(
        seen,
        json!({"tables": ["shared"], "item": {"pk": {"S": "a"}, "n": {"N": "1"}}})
    );
    assert!(!second_data.path().join("dynamodb.sqlite").exists());

    let third_data = tempfile::tempdir().expect("data folder");
    let output = std::process::Command::new(serverful_e2e::serverful_bin())
        .args(["serve", "--data"])
        .arg(third_data.path())
        .args(["--port", "0", "--aws-port", "0", "--admin-port", "0"])
        .env("SERVERFUL_STORE", "mysql://nope")
        .output()
        .expect("run serverful");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("mysql://nope is not a PostgreSQL URL"),
        "{stderr}"
    );
}

/// Three nodes: three stores, each over its own connections to one database.
fn nodes(url: &str, count: usize) -> Vec<Arc<Store>> {
    (0..count)
        .map(|_| {
            Arc::new(
                Store::open(
                    Arc::new(PostgresBackend::open(url, 4).expect("open")),
                    StoreConfig::default(),
                )
                .expect("store"),
            )
        })
        .collect()
}

fn call(store: &Store, operation: &str, body: serde_json::Value) -> serde_json::Value {
    store
        .call(operation, body.to_string().as_bytes())
        .unwrap_or_else(|error| panic!("{operation}: {error}"))
}

/// A key held by one node keeps another node's hold on it waiting until it is let go;
/// other keys do not wait; the catalog's version moves with every catalog write.
#[test]
fn one_node_holding_a_key_keeps_the_others_out_until_it_lets_go() {
    let postgres = Postgres::start();
    let url = postgres.url();
    let first = Arc::new(PostgresBackend::open(&url, 2).expect("open"));
    let second = Arc::new(PostgresBackend::open(&url, 2).expect("open"));
    assert!(first.is_shared());
    let version = first.catalog_version().expect("version");
    let held = first
        .exclude(Exclusion::Keys(&[7, 9]))
        .expect("exclude")
        .expect("a shared backend holds");
    assert_eq!(held.catalog_version, version);

    // Another key is free at once.
    let other = second.exclude(Exclusion::Keys(&[8])).expect("exclude");
    drop(other);
    let (taken, taken_at) = std::sync::mpsc::channel();
    let waiter = {
        let second = second.clone();
        std::thread::spawn(move || {
            let held = second.exclude(Exclusion::Keys(&[9])).expect("exclude");
            taken.send(std::time::Instant::now()).expect("send");
            drop(held);
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        taken_at.try_recv().is_err(),
        "the second node took a held key"
    );
    let released = std::time::Instant::now();
    drop(held);
    let granted = taken_at
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("granted once let go");
    assert!(granted >= released);
    waiter.join().expect("waiter");

    // The catalog's exclusive hold waits for item holds, and moves the version.
    second
        .write(vec![Write::PutTable {
            name: "t".into(),
            metadata: b"{}".to_vec(),
        }])
        .expect("catalog write");
    assert_eq!(first.catalog_version().expect("version"), version + 1);
    let catalog = first
        .exclude(Exclusion::Catalog)
        .expect("exclude")
        .expect("held");
    assert_eq!(catalog.catalog_version, version + 1);
}

/// Concurrent conditional updates of one counter from three nodes lose no increment,
/// and of three nodes putting one item only if it is absent, exactly one wins each
/// round.
#[test]
fn three_nodes_incrementing_one_counter_lose_no_increment() {
    let postgres = Postgres::start();
    let url = postgres.url();
    let nodes = nodes(&url, 3);
    call(
        &nodes[0],
        "CreateTable",
        json!({"TableName": "counters", "BillingMode": "PAY_PER_REQUEST",
               "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
               "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}),
    );
    const PER_THREAD: usize = 40;
    let threads: Vec<_> = (0..6)
        .map(|thread| {
            let node = nodes[thread % 3].clone();
            std::thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    // Read, then write only if nobody wrote in between: the pattern
                    // that loses increments when two nodes read the same value.
                    loop {
                        let item = call(&node, "GetItem", json!({"TableName": "counters", "Key": {"pk": {"S": "c"}}, "ConsistentRead": true}));
                        let current: u64 = item["Item"]["n"]["N"]
                            .as_str()
                            .map(|n| n.parse().expect("number"))
                            .unwrap_or(0);
                        let condition = if current == 0 {
                            json!({"ConditionExpression": "attribute_not_exists(n)"})
                        } else {
                            json!({"ConditionExpression": "n = :seen", "ExpressionAttributeValues": {":seen": {"N": current.to_string()}, ":next": {"N": (current + 1).to_string()}}})
                        };
                        let mut update = json!({"TableName": "counters", "Key": {"pk": {"S": "c"}},
                                                "UpdateExpression": "SET n = :next",
                                                "ExpressionAttributeValues": {":next": {"N": (current + 1).to_string()}}});
                        for (key, value) in condition.as_object().expect("object") {
                            update[key] = value.clone();
                        }
                        match node.call("UpdateItem", update.to_string().as_bytes()) {
                            Ok(_) => break,
                            Err(error) if error.kind == serverful_store::ErrorKind::ConditionalCheckFailed => continue,
                            Err(error) => panic!("update: {error}"),
                        }
                    }
                    // And the plain atomic counter.
                    call(&node, "UpdateItem", json!({"TableName": "counters", "Key": {"pk": {"S": "atomic"}},
                        "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
    for key in ["c", "atomic"] {
        let item = call(
            &nodes[1],
            "GetItem",
            json!({"TableName": "counters", "Key": {"pk": {"S": key}}}),
        );
        assert_eq!(
            item["Item"]["n"]["N"],
            json!((6 * PER_THREAD).to_string()),
            "{key}"
        );
    }

    // Each round, every node tries to create the same item; one wins.
    for round in 0..20 {
        let winners: usize = std::thread::scope(|scope| {
            let tries: Vec<_> = nodes
                .iter()
                .map(|node| {
                    scope.spawn(move || {
                        node.call(
                            "PutItem",
                            json!({"TableName": "counters", "Item": {"pk": {"S": format!("once-{round}")}},
                                   "ConditionExpression": "attribute_not_exists(pk)"})
                            .to_string()
                            .as_bytes(),
                        )
                        .is_ok()
                    })
                })
                .collect();
            tries
                .into_iter()
                .map(|t| usize::from(t.join().expect("try")))
                .sum()
        });
        assert_eq!(winners, 1, "round {round}");
    }
}

/// A table made on one node is used on another at once; an index added on one node is
/// kept by the other node's writes once it has seen the change.
#[test]
fn catalog_changes_on_one_node_reach_the_others() {
    let postgres = Postgres::start();
    let url = postgres.url();
    let nodes = nodes(&url, 2);
    call(
        &nodes[0],
        "CreateTable",
        json!({"TableName": "late", "BillingMode": "PAY_PER_REQUEST",
               "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
               "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}),
    );
    // The second node opened before the table existed.
    call(
        &nodes[1],
        "PutItem",
        json!({"TableName": "late", "Item": {"pk": {"S": "a"}, "owner": {"S": "ann"}}}),
    );
    let listed = call(&nodes[1], "ListTables", json!({}));
    assert_eq!(listed["TableNames"], json!(["late"]));

    call(
        &nodes[0],
        "UpdateTable",
        json!({"TableName": "late",
               "AttributeDefinitions": [{"AttributeName": "owner", "AttributeType": "S"}],
               "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "by-owner",
                   "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                   "Projection": {"ProjectionType": "ALL"}}}]}),
    );
    // The second node's next write sees the index (its hold reports the moved catalog).
    call(
        &nodes[1],
        "PutItem",
        json!({"TableName": "late", "Item": {"pk": {"S": "b"}, "owner": {"S": "ann"}}}),
    );
    let found = call(
        &nodes[0],
        "Query",
        json!({"TableName": "late", "IndexName": "by-owner", "KeyConditionExpression": "#o = :ann",
               "ExpressionAttributeNames": {"#o": "owner"}, "ExpressionAttributeValues": {":ann": {"S": "ann"}}}),
    );
    assert_eq!(found["Count"], json!(2), "{found}");

    call(&nodes[0], "DeleteTable", json!({"TableName": "late"}));
    let error = nodes[1]
        .call(
            "PutItem",
            json!({"TableName": "late", "Item": {"pk": {"S": "c"}}})
                .to_string()
                .as_bytes(),
        )
        .expect_err("the table is gone");
    assert!(
        matches!(
            error.kind,
            serverful_store::ErrorKind::ResourceNotFound
                | serverful_store::ErrorKind::InternalServerError
        ),
        "{error}"
    );
    nodes[1].refresh_catalog().expect("refresh");
    let listed = call(&nodes[1], "ListTables", json!({}));
    assert_eq!(listed["TableNames"], json!([]));
}

/// The same transaction with one `ClientRequestToken` sent to three nodes at once runs
/// once: the others replay its answer.
#[test]
fn one_client_request_token_on_three_nodes_at_once_runs_once() {
    let postgres = Postgres::start();
    let url = postgres.url();
    let nodes = nodes(&url, 3);
    call(
        &nodes[0],
        "CreateTable",
        json!({"TableName": "ledger", "BillingMode": "PAY_PER_REQUEST",
               "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
               "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}),
    );
    for round in 0..15 {
        let request = json!({"ClientRequestToken": format!("token-{round}"), "TransactItems": [
            {"Update": {"TableName": "ledger", "Key": {"pk": {"S": "total"}},
                        "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}}]});
        std::thread::scope(|scope| {
            let calls: Vec<_> = nodes
                .iter()
                .map(|node| {
                    let request = request.to_string();
                    scope.spawn(move || node.call("TransactWriteItems", request.as_bytes()))
                })
                .collect();
            for outcome in calls {
                outcome.join().expect("call").expect("runs or replays");
            }
        });
        let item = call(
            &nodes[1],
            "GetItem",
            json!({"TableName": "ledger", "Key": {"pk": {"S": "total"}}}),
        );
        assert_eq!(
            item["Item"]["n"]["N"],
            json!((round + 1).to_string()),
            "round {round}"
        );
    }
}
