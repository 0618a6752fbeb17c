//! The store's PostgreSQL backend (issue 22) against a scratch PostgreSQL: rows in key
//! order, ranges, scans, counts, stream records, tokens, atomic batches, the schema made
//! once by nodes opening at the same time, and the DynamoDB engine on top of it.

use std::ops::Bound;
use std::sync::Arc;

use serde_json::json;
use serverful_e2e::postgres::Postgres;
use serverful_postgres::PostgresBackend;
use serverful_store::backend::{Backend, SortRange, Space, Write};
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
