//! DynamoDB on the AWS endpoint, driven by the clients people use (SPEC §7–§8): boto3,
//! the AWS CLI, the JS SDK v3's DocumentClient and the Rust SDK, plus hand-signed bad
//! requests, a function writing through the endpoint, restarts and SIGKILL crashes.
//!
//! Every test runs the `store-notes` app (a `NotesTable` and a function that writes to
//! it); the client scripts live in its `clients/` folder and print JSON the tests assert on.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use serde_json::{json, Value};
use serverful_e2e::{test_app, test_deps_dir, Server};

use crate::client;

/// The app every test here runs.
const APP: &str = "store-notes";

/// The template's table (a `SimpleTable` keyed by `id`), by the name its `NotesTableName`
/// output gives: without a `TableName`, it is named as CloudFormation would name it
/// (`store-notes-NotesTable-…`).
fn notes_table(server: &Server) -> String {
    server.output("NotesTableName")
}

/// A client script from the app's `clients/` folder.
fn client_script(name: &str) -> PathBuf {
    test_app(APP).join("clients").join(name)
}

/// What a client process did: exit code and output.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// Stdout as JSON, failing with the whole output when the process failed.
    fn json(&self) -> Value {
        assert_eq!(self.code, 0, "{}{}", self.stdout, self.stderr);
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|error| panic!("not JSON ({error}):\n{}{}", self.stdout, self.stderr))
    }
}

/// Runs `program` with the server's endpoint, keys and region in its environment, and
/// `overrides` on top (a wrong secret, `NODE_PATH`).
fn run_client(server: &Server, program: &str, args: &[&str], overrides: &[(&str, &str)]) -> Ran {
    let output = Command::new(program)
        .args(args)
        .envs(server.aws_env())
        .env_remove("AWS_PROFILE")
        .env("AWS_MAX_ATTEMPTS", "1")
        .envs(overrides.iter().copied())
        .output()
        .unwrap_or_else(|error| {
            panic!("run {program}: {error} (scripts/install-test-deps.sh installs it)")
        });
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a Python client script (boto3/botocore) with `NOTES_TABLE` set to the template
/// table's name, and returns the JSON it printed.
fn python_client(server: &Server, script: &str) -> Value {
    let path = client_script(script);
    run_client(
        server,
        "python3",
        &[path.to_str().expect("utf-8 path")],
        &[("NOTES_TABLE", &notes_table(server))],
    )
    .json()
}

/// Runs `aws dynamodb ARGS --endpoint-url URL`, with `overrides` in the environment.
fn aws_cli(server: &Server, args: &[&str], overrides: &[(&str, &str)]) -> Ran {
    let mut full_args = vec!["dynamodb"];
    full_args.extend_from_slice(args);
    full_args.extend_from_slice(&["--endpoint-url", &server.aws_url, "--output", "json"]);
    run_client(server, "aws", &full_args, overrides)
}

/// Runs a Node.js client script with the AWS SDK v3 bundle from install-test-deps.
fn node_client(server: &Server, script: &str) -> Value {
    let node_modules = test_deps_dir().join("node-dynamodb/node_modules");
    assert!(
        node_modules.exists(),
        "{} is missing: run `bash scripts/install-test-deps.sh`",
        node_modules.display()
    );
    let path = client_script(script);
    run_client(
        server,
        "node",
        &[path.to_str().expect("utf-8 path")],
        &[("NODE_PATH", node_modules.to_str().expect("utf-8 path"))],
    )
    .json()
}

/// A Rust SDK client for the server: its endpoint and keys, no retries (a test wants to
/// see each request's own outcome), and the SDK's hyper client without TLS.
async fn rust_client(server: &Server) -> aws_sdk_dynamodb::Client {
    let credentials = aws_sdk_dynamodb::config::Credentials::new(
        &server.access_key_id,
        &server.secret_access_key,
        None,
        None,
        "serverful-e2e",
    );
    // `build_http` is the smithy client builder's plain-HTTP constructor (hidden in its
    // docs); it spares this crate a TLS stack the loopback endpoint never uses.
    let http_client = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&server.aws_url)
        .credentials_provider(credentials)
        .http_client(http_client)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

/// A tokio runtime for a test that uses the Rust SDK.
fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The `__type` of an error body without its namespace.
fn error_type(body: &Value) -> &str {
    let qualified = body["__type"].as_str().unwrap_or_default();
    qualified.rsplit('#').next().unwrap_or_default()
}

#[test]
fn boto3_runs_tables_items_queries_batches_and_transactions() {
    let server = Server::start(&test_app(APP), &[]);
    let seen = python_client(&server, "boto3_tour.py");

    assert_eq!(seen["table_status"], "ACTIVE");
    assert_eq!(seen["index_names"], json!(["by-status"]));

    // The failed conditional put is DynamoDB's error, returns the old item as asked, and
    // leaves the item as it was.
    let conditional = &seen["conditional_put_error"];
    assert_eq!(conditional["Code"], "ConditionalCheckFailedException");
    assert_eq!(conditional["Message"], "The conditional request failed");
    assert_eq!(conditional["Item"]["total"], json!({"N": "25"}), "{seen}");
    assert_eq!(seen["after_conditional_put"]["total"], json!({"N": "25"}));

    assert_eq!(
        seen["update_all_new"],
        json!({
            "customer": {"S": "alice"},
            "order": {"S": "o1"},
            "status": {"S": "shipped"},
            "total": {"N": "27.5"},
            "notes": {"L": [{"S": "gift wrap"}]},
        })
    );

    let orders_of = |items: &Value| -> Vec<String> {
        items
            .as_array()
            .expect("a list of items")
            .iter()
            .map(|item| {
                format!(
                    "{}/{}",
                    item["customer"]["S"].as_str().unwrap_or("?"),
                    item["order"]["S"].as_str().unwrap_or("?")
                )
            })
            .collect()
    };
    assert_eq!(
        orders_of(&seen["query_alice"]),
        ["alice/o1", "alice/o2", "alice/o3"]
    );
    // On the GSI: open orders over 10, by total. alice/o1 is shipped by now; bob/o1's 7
    // is under the floor.
    assert_eq!(orders_of(&seen["query_open_over_10"]), ["alice/o3"]);

    // Five items two at a time: three pages, the last without LastEvaluatedKey; the
    // filter keeps the totals >= 10 (27.5, 100, 60) wherever they fall.
    let pages = seen["scan_pages"].as_array().expect("pages");
    assert_eq!(pages.len(), 3, "{pages:#?}");
    let scanned: Vec<u64> = pages
        .iter()
        .map(|page| page["ScannedCount"].as_u64().expect("ScannedCount"))
        .collect();
    assert_eq!(scanned, [2, 2, 1]);
    assert!(pages[..2]
        .iter()
        .all(|page| page["LastEvaluatedKey"].is_object()));
    assert!(pages[2]["LastEvaluatedKey"].is_null(), "{pages:#?}");
    let mut kept: Vec<String> = pages
        .iter()
        .flat_map(|page| orders_of(&page["Items"]))
        .collect();
    kept.sort();
    assert_eq!(kept, ["alice/o1", "alice/o3", "bob/o2"]);
    let counted: u64 = pages
        .iter()
        .map(|page| page["Count"].as_u64().expect("Count"))
        .sum();
    assert_eq!(counted, 3);

    assert_eq!(seen["batch_unprocessed"], 0);
    assert_eq!(seen["carol_count"], 30);
    let mut batch_got: Vec<Value> = seen["batch_get"].as_array().expect("items").clone();
    batch_got.sort_by_key(|item| item["customer"]["S"].as_str().map(str::to_owned));
    assert_eq!(
        batch_got,
        [
            json!({"customer": {"S": "bob"}, "order": {"S": "o2"}, "total": {"N": "60"}}),
            json!({"customer": {"S": "carol"}, "order": {"S": "c07"}, "total": {"N": "7"}}),
        ]
    );
    assert_eq!(seen["batch_get_unprocessed"], json!({}));

    let transaction = &seen["transaction_error"];
    assert_eq!(
        transaction["Code"], "TransactionCanceledException",
        "{seen}"
    );
    assert!(
        transaction["Message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"),
        "{transaction}"
    );
    let codes: Vec<&str> = transaction["CancellationReasons"]
        .as_array()
        .expect("CancellationReasons in the error response")
        .iter()
        .map(|reason| reason["Code"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(codes, ["None", "ConditionalCheckFailed"]);
    assert!(
        seen["dave_after_transaction"].is_null(),
        "a cancelled transaction wrote its put: {seen}"
    );

    assert_eq!(seen["delete_all_old"]["total"], json!({"N": "60"}));
    assert!(seen["bob_o2_after_delete"].is_null());
}

#[test]
fn the_aws_cli_writes_and_reads_items_and_a_wrong_secret_is_refused() {
    let server = Server::start(&test_app(APP), &[]);
    let table = notes_table(&server);
    assert!(
        table.starts_with("store-notes-NotesTable-"),
        "named {{stack}}-{{LogicalId}}-{{SUFFIX}}: {table}"
    );

    let listed = aws_cli(&server, &["list-tables"], &[]).json();
    assert_eq!(listed["TableNames"], json!([table]));

    let item = json!({"id": {"S": "cli-1"}, "text": {"S": "from the CLI"}, "stars": {"N": "5"}});
    cli_put_note(&server, &item);

    let got = aws_cli(
        &server,
        &[
            "get-item",
            "--table-name",
            &table,
            "--key",
            r#"{"id": {"S": "cli-1"}}"#,
        ],
        &[],
    )
    .json();
    assert_eq!(got["Item"], item);

    let queried = aws_cli(
        &server,
        &[
            "query",
            "--table-name",
            &table,
            "--key-condition-expression",
            "id = :id",
            "--expression-attribute-values",
            r#"{":id": {"S": "cli-1"}}"#,
        ],
        &[],
    )
    .json();
    assert_eq!(queried["Count"], 1);
    assert_eq!(queried["Items"], json!([item]));

    let scanned = aws_cli(&server, &["scan", "--table-name", &table], &[]).json();
    assert_eq!(scanned["Count"], 1);
    assert_eq!(scanned["ScannedCount"], 1);
    assert_eq!(scanned["Items"], json!([item]));

    let refused = aws_cli(
        &server,
        &["list-tables"],
        &[("AWS_SECRET_ACCESS_KEY", "not-the-secret")],
    );
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("InvalidSignatureException"),
        "{}",
        refused.stderr
    );
}

#[test]
fn the_aws_cli_selects_items_with_partiql() {
    let server = Server::start(&test_app(APP), &[]);
    let item = json!({"id": {"S": "sql-1"}, "text": {"S": "selected"}});
    cli_put_note(&server, &item);

    let table = notes_table(&server);
    let statement = format!(r#"SELECT * FROM "{table}""#);
    let selected = aws_cli(
        &server,
        &["execute-statement", "--statement", &statement],
        &[],
    );
    assert_eq!(
        selected.code, 0,
        "ExecuteStatement failed:\n{}{}",
        selected.stdout, selected.stderr
    );
    assert_eq!(selected.json()["Items"], json!([item]));
}

#[test]
fn the_aws_cli_updates_and_deletes_with_partiql_returning() {
    let server = Server::start(&test_app(APP), &[]);
    let item = json!({"id": {"S": "ret-1"}, "text": {"S": "before"}});
    cli_put_note(&server, &item);
    let table = notes_table(&server);
    let run = |statement: String| {
        let output = aws_cli(
            &server,
            &["execute-statement", "--statement", &statement],
            &[],
        );
        assert_eq!(
            output.code, 0,
            "{statement}:\n{}{}",
            output.stdout, output.stderr
        );
        output.json()["Items"].clone()
    };

    let updated = run(format!(
        r#"UPDATE "{table}" SET "text" = 'after' WHERE id = 'ret-1' RETURNING MODIFIED OLD *"#
    ));
    assert_eq!(updated, json!([{"text": {"S": "before"}}]));
    let deleted = run(format!(
        r#"DELETE FROM "{table}" WHERE id = 'ret-1' RETURNING ALL OLD *"#
    ));
    assert_eq!(
        deleted,
        json!([{"id": {"S": "ret-1"}, "text": {"S": "after"}}])
    );
    assert_eq!(
        run(format!(r#"SELECT * FROM "{table}" WHERE id = 'ret-1'"#)),
        json!([])
    );

    // A DELETE cannot return the new item: the CLI gets a ValidationException.
    let refused = aws_cli(
        &server,
        &[
            "execute-statement",
            "--statement",
            &format!(r#"DELETE FROM "{table}" WHERE id = 'ret-1' RETURNING ALL NEW *"#),
        ],
        &[],
    );
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("ValidationException")
            && refused.stderr.contains("DELETE can only return ALL OLD *"),
        "{}",
        refused.stderr
    );
}

#[test]
fn the_js_document_client_round_trips_numbers_and_nested_maps() {
    let server = Server::start(&test_app(APP), &[]);
    let seen = node_client(&server, "document_client.mjs");
    let put = seen["put"].as_array().expect("the items put");

    // What comes back is what went in, numbers and nesting included.
    assert_eq!(seen["got"], put[0]);
    // Underneath, nested objects are maps and numbers are numbers, not strings.
    let location = &seen["rawLocation"]["M"];
    assert_eq!(location["room"], json!({"S": "kitchen"}), "{location}");
    assert_eq!(location["floor"], json!({"N": "0"}), "{location}");
    let position = &location["position"]["M"];
    assert_eq!(position["x"], json!({"N": "-3.25"}), "{location}");
    let tiny: Option<f64> = position["y"]["N"].as_str().and_then(|n| n.parse().ok());
    assert_eq!(tiny, Some(1e-7), "{location}");
    // The query's sort key is a number: 3 < 20 < 100, not "100" < "20" < "3".
    assert_eq!(seen["queried"], json!([put[2], put[1], put[0]]));
}

#[test]
fn the_rust_sdk_orders_number_sort_keys_numerically_with_38_digits() {
    let server = Server::start(&test_app(APP), &[]);
    tokio_runtime().block_on(async {
        let dynamodb = rust_client(&server).await;
        dynamodb
            .create_table()
            .table_name("Scores")
            .key_schema(key("player", KeyType::Hash))
            .key_schema(key("score", KeyType::Range))
            .attribute_definitions(attribute("player", ScalarAttributeType::S))
            .attribute_definitions(attribute("score", ScalarAttributeType::N))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .expect("CreateTable");

        // The largest is 38 digits, as many as a DynamoDB number carries.
        let huge = "12345678901234567890123456789012345678";
        for score in ["100", huge, "2", "10", "-1", "33.5", "0.25"] {
            dynamodb
                .put_item()
                .table_name("Scores")
                .item("player", AttributeValue::S("ada".into()))
                .item("score", AttributeValue::N(score.into()))
                .item("game", AttributeValue::S(format!("game {score}")))
                .send()
                .await
                .expect("PutItem");
        }

        let got = dynamodb
            .get_item()
            .table_name("Scores")
            .key("player", AttributeValue::S("ada".into()))
            .key("score", AttributeValue::N("33.5".into()))
            .send()
            .await
            .expect("GetItem");
        let game = got.item().and_then(|item| item.get("game"));
        assert_eq!(game, Some(&AttributeValue::S("game 33.5".into())));

        let scores = |items: &[std::collections::HashMap<String, AttributeValue>]| -> Vec<String> {
            items
                .iter()
                .map(|item| match item.get("score") {
                    Some(AttributeValue::N(score)) => score.clone(),
                    other => panic!("score is not a number: {other:?}"),
                })
                .collect()
        };
        let ascending = dynamodb
            .query()
            .table_name("Scores")
            .key_condition_expression("player = :player")
            .expression_attribute_values(":player", AttributeValue::S("ada".into()))
            .send()
            .await
            .expect("Query");
        assert_eq!(
            scores(ascending.items()),
            ["-1", "0.25", "2", "10", "33.5", "100", huge]
        );

        let over_two_descending = dynamodb
            .query()
            .table_name("Scores")
            .key_condition_expression("player = :player AND score > :floor")
            .expression_attribute_values(":player", AttributeValue::S("ada".into()))
            .expression_attribute_values(":floor", AttributeValue::N("2".into()))
            .scan_index_forward(false)
            .send()
            .await
            .expect("Query descending");
        assert_eq!(
            scores(over_two_descending.items()),
            [huge, "100", "33.5", "10"]
        );

        let too_precise = dynamodb
            .put_item()
            .table_name("Scores")
            .item("player", AttributeValue::S("ada".into()))
            .item("score", AttributeValue::N(format!("{huge}9")))
            .send()
            .await
            .expect_err("a number of 39 digits")
            .into_service_error();
        assert_eq!(too_precise.code(), Some("ValidationException"));
        assert_eq!(
            too_precise.message(),
            Some("Attempting to store more than 38 significant digits in a Number")
        );

        let missing = dynamodb
            .get_item()
            .table_name("NoSuchTable")
            .key("id", AttributeValue::S("x".into()))
            .send()
            .await
            .expect_err("GetItem on a missing table")
            .into_service_error();
        assert!(missing.is_resource_not_found_exception(), "{missing:?}");
        let message = missing.message();
        assert_eq!(message, Some("Requested resource not found"));
        let not_described = dynamodb
            .describe_table()
            .table_name("NoSuchTable")
            .send()
            .await
            .expect_err("DescribeTable of a missing table")
            .into_service_error();
        assert!(
            not_described.is_resource_not_found_exception(),
            "{not_described:?}"
        );
    });
}

#[test]
fn concurrent_rust_sdk_writers_lose_no_update_and_one_conditional_create_wins() {
    const WRITERS: usize = 8;
    const ADDS_PER_WRITER: usize = 25;
    let server = Server::start(&test_app(APP), &[]);
    let table = notes_table(&server);
    tokio_runtime().block_on(async {
        let dynamodb = rust_client(&server).await;

        // Atomic counters: every acknowledged ADD counts once.
        let mut adders = Vec::new();
        for _ in 0..WRITERS {
            let dynamodb = dynamodb.clone();
            let table = table.clone();
            adders.push(tokio::spawn(async move {
                for _ in 0..ADDS_PER_WRITER {
                    dynamodb
                        .update_item()
                        .table_name(&table)
                        .key("id", AttributeValue::S("counter".into()))
                        .update_expression("ADD hits :one")
                        .expression_attribute_values(":one", AttributeValue::N("1".into()))
                        .send()
                        .await
                        .expect("UpdateItem ADD");
                }
            }));
        }
        for adder in adders {
            adder.await.expect("adder task");
        }
        let counter = dynamodb
            .get_item()
            .table_name(&table)
            .key("id", AttributeValue::S("counter".into()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem");
        let hits = counter.item().and_then(|item| item.get("hits")).cloned();
        assert_eq!(
            hits,
            Some(AttributeValue::N((WRITERS * ADDS_PER_WRITER).to_string()))
        );

        // Conditional creates of one key at once: exactly one wins.
        let mut racers = Vec::new();
        for racer in 0..WRITERS {
            let dynamodb = dynamodb.clone();
            let table = table.clone();
            racers.push(tokio::spawn(async move {
                dynamodb
                    .put_item()
                    .table_name(&table)
                    .item("id", AttributeValue::S("claimed".into()))
                    .item("owner", AttributeValue::N(racer.to_string()))
                    .condition_expression("attribute_not_exists(id)")
                    .send()
                    .await
                    .map(|_| racer)
                    .map_err(|error| error.into_service_error())
            }));
        }
        let mut winners = Vec::new();
        for racer in racers {
            match racer.await.expect("racer task") {
                Ok(winner) => winners.push(winner),
                Err(error) => assert!(error.is_conditional_check_failed_exception(), "{error:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "winners: {winners:?}");
        let claimed = dynamodb
            .get_item()
            .table_name(&table)
            .key("id", AttributeValue::S("claimed".into()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem");
        let owner = claimed.item().and_then(|item| item.get("owner")).cloned();
        assert_eq!(owner, Some(AttributeValue::N(winners[0].to_string())));
    });
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("key schema element")
}

fn attribute(name: &str, attribute_type: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(attribute_type)
        .build()
        .expect("attribute definition")
}

/// `aws dynamodb put-item` of one note into the template's table, which must succeed.
fn cli_put_note(server: &Server, item: &Value) {
    let put = aws_cli(
        server,
        &[
            "put-item",
            "--table-name",
            &notes_table(server),
            "--item",
            &item.to_string(),
        ],
        &[],
    );
    assert_eq!(put.code, 0, "{}", put.stderr);
}

/// `aws dynamodb get-item` of one note from the template's table.
fn cli_get_note(server: &Server, id: &str) -> Value {
    let key = json!({"id": {"S": id}}).to_string();
    aws_cli(
        server,
        &[
            "get-item",
            "--table-name",
            &notes_table(server),
            "--key",
            &key,
        ],
        &[],
    )
    .json()
}

#[test]
fn a_function_writes_through_the_endpoint_and_the_data_survives_a_restart() {
    let data = tempfile::tempdir().expect("data dir");
    let data_arg = data.path().to_str().expect("utf-8 path");
    let server = Server::start(&test_app(APP), &["--data", data_arg]);
    let table = notes_table(&server);
    assert!(
        server.stdout().contains(&format!("  {table} (created)")),
        "{}",
        server.stdout()
    );

    let response = client()
        .post(server.url("/notes/n1"))
        .header("content-type", "text/plain")
        .body("written by the function")
        .send()
        .expect("POST /notes/n1");
    assert_eq!(response.status(), 201, "{}", server.stdout());
    let body: Value = serde_json::from_str(&response.text().expect("body")).expect("JSON body");
    assert_eq!(body["table"], table, "!Ref gives the table's name");

    // The context's function name is the function's own name, as on AWS, not its
    // logical id.
    let expected = json!({
        "id": {"S": "n1"},
        "text": {"S": "written by the function"},
        "writtenBy": {"S": server.output("NoteWriterFunctionName")},
    });
    assert_eq!(cli_get_note(&server, "n1")["Item"], expected);

    let (status, output) = server.interrupt();
    assert!(status.success(), "{output}");

    let restarted = Server::start(&test_app(APP), &["--data", data_arg]);
    assert!(
        restarted
            .stdout()
            .contains(&format!("  {table} (existing, kept)")),
        "{}",
        restarted.stdout()
    );
    assert_eq!(cli_get_note(&restarted, "n1")["Item"], expected);
}

#[test]
fn bad_requests_get_dynamodb_errors_with_request_ids_and_checksums() {
    let server = Server::start(&test_app(APP), &[]);
    let seen = python_client(&server, "raw_requests.py");

    let cases = [
        ("describe", 200, None),
        ("malformed_json", 400, Some("SerializationException")),
        ("unknown_operation", 400, Some("UnknownOperationException")),
        ("unsigned", 400, Some("MissingAuthenticationTokenException")),
        ("too_big", 400, Some("ValidationException")),
        ("too_big_after", 200, None),
    ];
    for (case, status, type_name) in cases {
        let response = &seen[case];
        assert_eq!(response["status"], status, "{case}: {response}");
        if let Some(type_name) = type_name {
            assert_eq!(
                error_type(&response["body"]),
                type_name,
                "{case}: {response}"
            );
        }
        assert!(
            response["request_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "{case}: no x-amzn-RequestId: {response}"
        );
        assert_eq!(
            response["crc32_header"], response["crc32_of_body"],
            "{case}: x-amz-crc32 does not match the body: {response}"
        );
    }

    assert_eq!(
        seen["describe"]["body"]["Table"]["TableName"],
        notes_table(&server)
    );
    assert_eq!(
        seen["unsigned"]["body"]["message"],
        "Request is missing Authentication Token"
    );
    assert_eq!(
        seen["too_big"]["body"]["message"],
        "Item size has exceeded the maximum allowed size"
    );
    assert_eq!(
        seen["too_big_after"]["body"],
        json!({}),
        "the oversized item was not written"
    );
}

/// How many times the crash test kills the server.
const CRASH_ROUNDS: usize = 5;
/// Writers putting items at once during a round.
const CRASH_WRITERS: usize = 4;

#[test]
fn every_acknowledged_write_survives_sigkill() {
    let started = Instant::now();
    let data = tempfile::tempdir().expect("data dir");
    let data_arg = data.path().to_str().expect("utf-8 path");
    let runtime = tokio_runtime();
    let mut acknowledged: Vec<String> = Vec::new();
    let mut server = Server::start(&test_app(APP), &["--data", data_arg]);

    for round in 0..CRASH_ROUNDS {
        let kill_after = Duration::from_millis(500 + random_below(2_000));
        let acknowledged_now = runtime.block_on(write_until_killed(&server, round, kill_after));
        assert!(
            !acknowledged_now.is_empty(),
            "round {round}: no write was acknowledged in {kill_after:?}\n{}",
            server.stderr()
        );
        acknowledged.extend(acknowledged_now);
        drop(server);

        server = Server::start(&test_app(APP), &["--data", data_arg]);
        assert!(
            server
                .stdout()
                .contains(&format!("  {} (existing, kept)", notes_table(&server))),
            "{}",
            server.stdout()
        );
        let stored = runtime.block_on(scan_ids(&server));
        let lost: Vec<&String> = acknowledged
            .iter()
            .filter(|id| !stored.contains(*id))
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} of {} acknowledged writes are gone after SIGKILL, e.g. {:?}",
            lost.len(),
            acknowledged.len(),
            &lost[..lost.len().min(5)]
        );
    }
    eprintln!(
        "checked {} acknowledged writes across {CRASH_ROUNDS} SIGKILLs in {:?}",
        acknowledged.len(),
        started.elapsed()
    );
}

/// Puts items with increasing ids from a few writers until the server dies, SIGKILLs it
/// after `kill_after`, and returns the ids whose PutItem was acknowledged.
async fn write_until_killed(server: &Server, round: usize, kill_after: Duration) -> Vec<String> {
    let dynamodb = rust_client(server).await;
    let table = notes_table(server);
    let next_seq = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for _ in 0..CRASH_WRITERS {
        let dynamodb = dynamodb.clone();
        let table = table.clone();
        let next_seq = next_seq.clone();
        let acknowledged = acknowledged.clone();
        writers.push(tokio::spawn(async move {
            // A bound on the loop, far above what a round can write before the kill.
            for _ in 0..1_000_000 {
                let seq = next_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let id = format!("crash-{round}-{seq:07}");
                let put = dynamodb
                    .put_item()
                    .table_name(&table)
                    .item("id", AttributeValue::S(id.clone()))
                    .item("round", AttributeValue::N(round.to_string()))
                    .send()
                    .await;
                match put {
                    Ok(_) => acknowledged.lock().expect("acknowledged ids").push(id),
                    // The server is gone: this write and every later one are unacknowledged.
                    Err(_) => break,
                }
            }
        }));
    }
    tokio::time::sleep(kill_after).await;
    kill_9(server.pid());
    for writer in writers {
        writer.await.expect("writer task");
    }
    let ids = acknowledged.lock().expect("acknowledged ids").clone();
    ids
}

/// Every `id` in the notes table, read with a paginated scan.
async fn scan_ids(server: &Server) -> HashSet<String> {
    let dynamodb = rust_client(server).await;
    let table = notes_table(server);
    let mut ids = HashSet::new();
    let mut start_key = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(&table)
            .set_exclusive_start_key(start_key)
            .consistent_read(true)
            .send()
            .await
            .expect("Scan");
        for item in page.items() {
            if let Some(AttributeValue::S(id)) = item.get("id") {
                ids.insert(id.clone());
            }
        }
        match page.last_evaluated_key() {
            Some(key) => start_key = Some(key.clone()),
            None => return ids,
        }
    }
}

/// Sends SIGKILL to `pid`.
fn kill_9(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -9 {pid} failed");
}

/// A number in `0..bound`, different on every call, from the standard library's
/// randomly seeded hasher (the crash moment needs no better randomness).
fn random_below(bound: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish() % bound
}

/// Creates `Threads`: keyed by `forum` and `subject`, with a local secondary index on
/// `posted`, so its item collections are reported.
async fn create_threads_table(dynamodb: &aws_sdk_dynamodb::Client) {
    use aws_sdk_dynamodb::types::{LocalSecondaryIndex, Projection, ProjectionType};
    dynamodb
        .create_table()
        .table_name("Threads")
        .key_schema(key("forum", KeyType::Hash))
        .key_schema(key("subject", KeyType::Range))
        .attribute_definitions(attribute("forum", ScalarAttributeType::S))
        .attribute_definitions(attribute("subject", ScalarAttributeType::S))
        .attribute_definitions(attribute("posted", ScalarAttributeType::N))
        .local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("ByPosted")
                .key_schema(key("forum", KeyType::Hash))
                .key_schema(key("posted", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .expect("local secondary index"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("CreateTable");
}

/// One `Threads` item (or key, without `posted`).
fn thread(
    forum: &str,
    subject: &str,
    posted: Option<&str>,
) -> std::collections::HashMap<String, AttributeValue> {
    let mut item = std::collections::HashMap::from([
        ("forum".to_owned(), AttributeValue::S(forum.into())),
        ("subject".to_owned(), AttributeValue::S(subject.into())),
    ]);
    if let Some(posted) = posted {
        item.insert("posted".to_owned(), AttributeValue::N(posted.into()));
    }
    item
}

/// The forums of a table's `ItemCollectionMetrics` entries, in order, each checked to
/// carry the 0–1 GB estimate.
fn collection_forums(metrics: &[aws_sdk_dynamodb::types::ItemCollectionMetrics]) -> Vec<String> {
    metrics
        .iter()
        .map(|entry| {
            assert_eq!(entry.size_estimate_range_gb(), [0.0, 1.0]);
            match entry.item_collection_key().and_then(|key| key.get("forum")) {
                Some(AttributeValue::S(forum)) => forum.clone(),
                other => panic!("no forum in the collection key: {other:?}"),
            }
        })
        .collect()
}

/// Issue 4: `ReturnItemCollectionMetrics: SIZE` on BatchWriteItem and TransactWriteItems
/// reports, per table with a local secondary index, each write's item collection, and
/// the Rust SDK reads it as its model says.
#[test]
fn batch_and_transaction_writes_report_item_collection_metrics() {
    use aws_sdk_dynamodb::types::{
        Put, PutRequest, ReturnItemCollectionMetrics, TransactWriteItem, Update, WriteRequest,
    };
    let server = Server::start(&test_app(APP), &[]);
    tokio_runtime().block_on(async {
        let dynamodb = rust_client(&server).await;
        create_threads_table(&dynamodb).await;
        let put = |forum: &str, subject: &str| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(thread(forum, subject, Some("1"))))
                        .build()
                        .expect("put request"),
                )
                .build()
        };
        let note = |id: &str| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .item("id", AttributeValue::S(id.into()))
                        .build()
                        .expect("put request"),
                )
                .build()
        };
        let batch = dynamodb
            .batch_write_item()
            .request_items("Threads", vec![put("rust", "a"), put("go", "b")])
            .request_items(notes_table(&server), vec![note("icm-1")])
            .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
            .send()
            .await
            .expect("BatchWriteItem");
        let metrics = batch
            .item_collection_metrics()
            .expect("ItemCollectionMetrics");
        assert_eq!(
            metrics.len(),
            1,
            "only Threads has a local index: {metrics:?}"
        );
        assert_eq!(collection_forums(&metrics["Threads"]), ["rust", "go"]);

        let unasked = dynamodb
            .batch_write_item()
            .request_items("Threads", vec![put("rust", "c")])
            .send()
            .await
            .expect("BatchWriteItem without metrics");
        assert_eq!(unasked.item_collection_metrics(), None);

        let transaction = dynamodb
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name("Threads")
                            .set_item(Some(thread("zig", "d", Some("2"))))
                            .build()
                            .expect("put"),
                    )
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name("Threads")
                            .set_key(Some(thread("rust", "a", None)))
                            .update_expression("SET posted = :posted")
                            .expression_attribute_values(":posted", AttributeValue::N("3".into()))
                            .build()
                            .expect("update"),
                    )
                    .build(),
            )
            .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
            .send()
            .await
            .expect("TransactWriteItems");
        let metrics = transaction
            .item_collection_metrics()
            .expect("ItemCollectionMetrics");
        assert_eq!(collection_forums(&metrics["Threads"]), ["zig", "rust"]);
    });
}

/// Issue 4: PartiQL's `size()` and `attribute_type()` filter a SELECT, `set_add` adds set
/// members in an UPDATE, and `EXISTS(SELECT ...)` is the condition check of
/// ExecuteTransaction: one that holds lets the transaction commit, one that fails cancels
/// it with its reason, and outside a transaction it gets DynamoDB's refusal.
#[test]
fn partiql_size_attribute_type_and_exists_through_the_rust_sdk() {
    use aws_sdk_dynamodb::types::ParameterizedStatement;
    let server = Server::start(&test_app(APP), &[]);
    let table = notes_table(&server);
    tokio_runtime().block_on(async {
        let dynamodb = rust_client(&server).await;
        dynamodb
            .put_item()
            .table_name(&table)
            .item("id", AttributeValue::S("pq-1".into()))
            .item("text", AttributeValue::S("four".into()))
            .send()
            .await
            .expect("PutItem");
        let select = |statement: String| {
            let dynamodb = dynamodb.clone();
            async move {
                let output = dynamodb
                    .execute_statement()
                    .statement(statement)
                    .send()
                    .await
                    .expect("ExecuteStatement");
                output.items().len()
            }
        };
        let where_ = |condition: &str| {
            format!(r#"SELECT * FROM "{table}" WHERE id = 'pq-1' AND {condition}"#)
        };
        assert_eq!(select(where_("size(text) = 4")).await, 1);
        assert_eq!(select(where_("size(text) > 4")).await, 0);
        assert_eq!(select(where_("attribute_type(text, 'S')")).await, 1);
        assert_eq!(select(where_("attribute_type(text, 'N')")).await, 0);
        dynamodb
            .execute_statement()
            .statement(format!(
                r#"UPDATE "{table}" SET tags = set_add(tags, <<'b', 'a'>>) WHERE id = 'pq-1'"#
            ))
            .send()
            .await
            .expect("UPDATE with set_add");
        assert_eq!(
            cli_get_note(&server, "pq-1")["Item"]["tags"],
            json!({"SS": ["a", "b"]})
        );

        let statement = |text: String| ParameterizedStatement::builder().statement(text).build();
        let exists = |condition: &str| {
            statement(format!(
                r#"EXISTS(SELECT * FROM "{table}" WHERE id = 'pq-1' AND {condition})"#
            ))
        };
        let insert = |id: &str| {
            statement(format!(
                r#"INSERT INTO "{table}" VALUE {{'id': '{id}'}}"#
            ))
        };
        dynamodb
            .execute_transaction()
            .set_transact_statements(Some(vec![
                exists("size(text) = 4")
                    .expect("statement"),
                insert("pq-2").expect("statement"),
            ]))
            .send()
            .await
            .expect("a transaction whose EXISTS holds");
        let cancelled = dynamodb
            .execute_transaction()
            .set_transact_statements(Some(vec![
                exists("text = 'five'").expect("statement"),
                insert("pq-3").expect("statement"),
            ]))
            .send()
            .await
            .expect_err("a transaction whose EXISTS fails");
        let service_error = cancelled.into_service_error();
        assert_eq!(service_error.code(), Some("TransactionCanceledException"));
        let reasons: Vec<Option<&str>> = match &service_error {
            aws_sdk_dynamodb::operation::execute_transaction::ExecuteTransactionError::TransactionCanceledException(error) => {
                error.cancellation_reasons().iter().map(|reason| reason.code()).collect()
            }
            other => panic!("not a cancellation: {other:?}"),
        };
        assert_eq!(reasons, [Some("ConditionalCheckFailed"), Some("None")]);
        let ids = scan_ids(&server).await;
        assert!(ids.contains("pq-2") && !ids.contains("pq-3"), "{ids:?}");

        let outside = dynamodb
            .execute_statement()
            .statement(format!(
                r#"EXISTS(SELECT * FROM "{table}" WHERE id = 'pq-1' AND size(text) = 4)"#
            ))
            .send()
            .await
            .expect_err("EXISTS outside a transaction");
        assert_eq!(outside.code(), Some("ValidationException"));
        assert_eq!(
            outside.message(),
            Some("EXISTS can only be used in ExecuteTransaction write requests.")
        );
    });
}

/// `IS NULL` in a PartiQL WHERE clause matches an attribute of DynamoDB type NULL and not
/// a missing one, as DynamoDB keeps the two apart; `IS NOT NULL` is its negation.
#[test]
fn partiql_is_null_tells_null_from_missing_through_the_rust_sdk() {
    let server = Server::start(&test_app(APP), &[]);
    let table = notes_table(&server);
    tokio_runtime().block_on(async {
        let dynamodb = rust_client(&server).await;
        for (id, text) in [
            ("null-1", Some(AttributeValue::Null(true))),
            ("null-2", Some(AttributeValue::S("set".into()))),
            ("null-3", None),
        ] {
            let mut put = dynamodb
                .put_item()
                .table_name(&table)
                .item("id", AttributeValue::S(id.into()));
            if let Some(text) = text {
                put = put.item("text", text);
            }
            put.send().await.expect("PutItem");
        }
        let ids = |condition: &'static str| {
            let dynamodb = dynamodb.clone();
            let statement = format!(
                r#"SELECT id FROM "{table}" WHERE begins_with(id, 'null-') AND {condition}"#
            );
            async move {
                let output = dynamodb
                    .execute_statement()
                    .statement(statement)
                    .send()
                    .await
                    .expect("ExecuteStatement");
                let mut ids: Vec<String> = output
                    .items()
                    .iter()
                    .filter_map(|item| item.get("id")?.as_s().ok().cloned())
                    .collect();
                ids.sort();
                ids
            }
        };
        assert_eq!(ids("text IS NULL").await, ["null-1"]);
        assert_eq!(ids("text IS NOT NULL").await, ["null-2", "null-3"]);
        assert_eq!(ids("text IS MISSING").await, ["null-3"]);
    });
}

/// A PartiQL set literal with a repeated member is refused as DynamoDB refuses the same set
/// on the wire, for numbers (`1` and `1.0` are one number) as for strings.
#[test]
fn partiql_set_literals_with_repeated_members_are_refused_through_the_rust_sdk() {
    let server = Server::start(&test_app(APP), &[]);
    let table = notes_table(&server);
    tokio_runtime().block_on(async {
        let dynamodb = rust_client(&server).await;
        let refusal = |set: &'static str| {
            let dynamodb = dynamodb.clone();
            let statement =
                format!(r#"INSERT INTO "{table}" VALUE {{'id': 'dup-1', 'tags': {set}}}"#);
            async move {
                let error = dynamodb
                    .execute_statement()
                    .statement(statement)
                    .send()
                    .await
                    .expect_err("a set with a repeated member");
                (
                    error.code().map(str::to_owned),
                    error.message().map(str::to_owned),
                )
            }
        };
        assert_eq!(
            refusal("<<1, 2, 1.0>>").await,
            (
                Some("ValidationException".to_owned()),
                Some("Input collection contains duplicates".to_owned())
            )
        );
        assert_eq!(
            refusal("<<'a', 'a'>>").await,
            (
                Some("ValidationException".to_owned()),
                Some(
                    "One or more parameter values were invalid: Input collection [a, a] contains duplicates."
                        .to_owned()
                )
            )
        );
        assert!(!scan_ids(&server).await.contains("dup-1"));
    });
}

/// Issue 4: a `ClientRequestToken` outlives a restart of the real server on the same
/// data folder: the retried transaction is not run again, and the token with other
/// parameters is refused with IdempotentParameterMismatchException.
#[test]
fn transaction_tokens_survive_a_server_restart() {
    use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
    let data = tempfile::tempdir().expect("data dir");
    let data_arg = data.path().to_str().expect("utf-8 path");
    let increment = |dynamodb: &aws_sdk_dynamodb::Client, table: &str, by: &str| {
        dynamodb
            .transact_write_items()
            .client_request_token("restart-token-1")
            .transact_items(
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(table)
                            .key("id", AttributeValue::S("counter".into()))
                            .update_expression("ADD hits :by")
                            .expression_attribute_values(":by", AttributeValue::N(by.into()))
                            .build()
                            .expect("update"),
                    )
                    .build(),
            )
            .send()
    };
    let server = Server::start(&test_app(APP), &["--data", data_arg]);
    tokio_runtime().block_on(async {
        let dynamodb = rust_client(&server).await;
        increment(&dynamodb, &notes_table(&server), "1")
            .await
            .expect("first transaction");
    });
    let (status, output) = server.interrupt();
    assert!(status.success(), "{output}");

    let restarted = Server::start(&test_app(APP), &["--data", data_arg]);
    tokio_runtime().block_on(async {
        let dynamodb = rust_client(&restarted).await;
        increment(&dynamodb, &notes_table(&restarted), "1")
            .await
            .expect("the retry after the restart");
        let mismatch = increment(&dynamodb, &notes_table(&restarted), "2")
            .await
            .expect_err("the token with other parameters");
        assert_eq!(
            mismatch.code(),
            Some("IdempotentParameterMismatchException")
        );
    });
    let counter = cli_get_note(&restarted, "counter");
    assert_eq!(
        counter["Item"]["hits"],
        json!({"N": "1"}),
        "the retry replayed instead of running again"
    );
}
