//! Which tables a request names, read before the request runs, so that the AWS edge can
//! authorize the caller first: [`Store::request_targets`].
//!
//! The store knows nothing about who calls it; this only answers "what would this call
//! touch". The answer must be exactly what the operation itself reads from the same body,
//! or a caller could name one table to the check and another to the store. So each reader
//! below takes the same members, with the same types and the same serde rules (unknown
//! members ignored, a repeated member an error), as the operation's input in `api`, and
//! streams, shard iterators and resource ARNs are taken apart by the same rules the
//! operations use. Anything it cannot read is refused rather than guessed at.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::Store;
use crate::api::{
    from_slice, BatchExecuteStatementInput, ExecuteStatementInput, ExecuteTransactionInput,
};
use crate::error::{StoreError, StoreResult};
use crate::partiql::{parse, Statement};

/// What a request acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestTargets {
    /// The call reads or changes these tables, and no other. Empty for calls that touch
    /// no table (`DescribeLimits`) and for calls whose table is missing or whose statement
    /// does not parse: those fail inside the store before any table is touched.
    Tables(Vec<TableAccess>),
    /// `ListTables`, or `ListStreams` without a `TableName`: a listing over every table,
    /// which a restricted caller gets through [`Store::list_tables_where`] or
    /// [`Store::list_streams_where`].
    Listing,
}

/// One table a request acts on, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableAccess {
    /// DynamoDB's action for it, as IAM names it without the `dynamodb:` prefix:
    /// usually the operation (`GetItem`), but each part of a transaction is its own
    /// action (`ConditionCheckItem`, `PutItem`...) and PartiQL statements are
    /// `PartiQLSelect`, `PartiQLInsert`, `PartiQLUpdate` or `PartiQLDelete`.
    pub action: &'static str,
    /// The table's name as the request gives it (a name that is not a table's only
    /// fails to match).
    pub table: String,
    /// The secondary index read, for `Query`, `Scan` and PartiQL `SELECT`s of an index.
    pub index: Option<String>,
    /// Whether the call is on the table's stream (the Streams API).
    pub stream: bool,
}

impl TableAccess {
    fn table(action: &'static str, table: String) -> TableAccess {
        TableAccess {
            action,
            table,
            index: None,
            stream: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Named {
    table_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NamedWithIndex {
    table_name: Option<String>,
    index_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ByResourceArn {
    resource_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Batch {
    request_items: Option<BTreeMap<String, IgnoredAny>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactWrite {
    transact_items: Option<Vec<TransactWriteItem>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactWriteItem {
    condition_check: Option<Named>,
    put: Option<Named>,
    delete: Option<Named>,
    update: Option<Named>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactGet {
    transact_items: Option<Vec<TransactGetItem>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactGetItem {
    get: Option<Named>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ByStreamArn {
    stream_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ByShardIterator {
    shard_iterator: Option<String>,
}

impl Store {
    /// The tables `operation` (an `X-Amz-Target` operation of [`super::OPERATIONS`] or
    /// [`super::STREAMS_OPERATIONS`]) would act on with this request body, read as the
    /// operation reads them. A body the operation could not decode is an error here too;
    /// an unknown operation names no table (the store refuses it).
    pub fn request_targets(&self, operation: &str, body: &[u8]) -> StoreResult<RequestTargets> {
        let body = if body.is_empty() { b"{}" } else { body };
        let named = |action: &'static str| -> StoreResult<RequestTargets> {
            let input: Named = from_slice(body)?;
            Ok(RequestTargets::Tables(
                input
                    .table_name
                    .map(|table| TableAccess::table(action, table))
                    .into_iter()
                    .collect(),
            ))
        };
        let targets = match operation {
            "CreateTable" => named("CreateTable")?,
            "DescribeTable" => named("DescribeTable")?,
            "DeleteTable" => named("DeleteTable")?,
            "UpdateTable" => named("UpdateTable")?,
            "UpdateTimeToLive" => named("UpdateTimeToLive")?,
            "DescribeTimeToLive" => named("DescribeTimeToLive")?,
            "DescribeContinuousBackups" => named("DescribeContinuousBackups")?,
            "PutItem" => named("PutItem")?,
            "GetItem" => named("GetItem")?,
            "UpdateItem" => named("UpdateItem")?,
            "DeleteItem" => named("DeleteItem")?,
            "Query" | "Scan" => {
                let action = if operation == "Query" {
                    "Query"
                } else {
                    "Scan"
                };
                let input: NamedWithIndex = from_slice(body)?;
                RequestTargets::Tables(
                    input
                        .table_name
                        .map(|table| TableAccess {
                            index: input.index_name,
                            ..TableAccess::table(action, table)
                        })
                        .into_iter()
                        .collect(),
                )
            }
            "ListTables" => RequestTargets::Listing,
            "DescribeLimits" => RequestTargets::Tables(Vec::new()),
            "TagResource" | "UntagResource" | "ListTagsOfResource" => {
                let action = match operation {
                    "TagResource" => "TagResource",
                    "UntagResource" => "UntagResource",
                    _ => "ListTagsOfResource",
                };
                let input: ByResourceArn = from_slice(body)?;
                RequestTargets::Tables(
                    input
                        .resource_arn
                        .map(|arn| TableAccess::table(action, self.table_of_resource_arn(&arn)))
                        .into_iter()
                        .collect(),
                )
            }
            "BatchGetItem" | "BatchWriteItem" => {
                let action = if operation == "BatchGetItem" {
                    "BatchGetItem"
                } else {
                    "BatchWriteItem"
                };
                let input: Batch = from_slice(body)?;
                RequestTargets::Tables(
                    input
                        .request_items
                        .unwrap_or_default()
                        .into_keys()
                        .map(|table| TableAccess::table(action, table))
                        .collect(),
                )
            }
            "TransactWriteItems" => {
                let input: TransactWrite = from_slice(body)?;
                let mut accesses = Vec::new();
                for item in input.transact_items.unwrap_or_default() {
                    let parts = [
                        ("ConditionCheckItem", item.condition_check),
                        ("PutItem", item.put),
                        ("DeleteItem", item.delete),
                        ("UpdateItem", item.update),
                    ];
                    for (action, part) in parts {
                        if let Some(table) = part.and_then(|part| part.table_name) {
                            accesses.push(TableAccess::table(action, table));
                        }
                    }
                }
                RequestTargets::Tables(accesses)
            }
            "TransactGetItems" => {
                let input: TransactGet = from_slice(body)?;
                RequestTargets::Tables(
                    input
                        .transact_items
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|item| item.get.and_then(|get| get.table_name))
                        .map(|table| TableAccess::table("GetItem", table))
                        .collect(),
                )
            }
            // A statement that does not parse fails inside the store the same way (the
            // same parser, the same text and parameters) before it touches a table; in a
            // batch, only that statement fails.
            "ExecuteStatement" => {
                let input: ExecuteStatementInput = from_slice(body)?;
                RequestTargets::Tables(
                    statement_access(input.statement.as_deref(), input.parameters.as_deref())
                        .into_iter()
                        .collect(),
                )
            }
            "BatchExecuteStatement" => {
                let input: BatchExecuteStatementInput = from_slice(body)?;
                RequestTargets::Tables(
                    input
                        .statements
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|request| {
                            statement_access(
                                request.statement.as_deref(),
                                request.parameters.as_deref(),
                            )
                        })
                        .collect(),
                )
            }
            "ExecuteTransaction" => {
                let input: ExecuteTransactionInput = from_slice(body)?;
                RequestTargets::Tables(
                    input
                        .transact_statements
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|request| {
                            statement_access(
                                request.statement.as_deref(),
                                request.parameters.as_deref(),
                            )
                        })
                        .collect(),
                )
            }
            "ListStreams" => {
                let input: Named = from_slice(body)?;
                match input.table_name {
                    Some(table) => RequestTargets::Tables(vec![TableAccess {
                        stream: true,
                        ..TableAccess::table("ListStreams", table)
                    }]),
                    None => RequestTargets::Listing,
                }
            }
            "DescribeStream" | "GetShardIterator" => {
                let action = if operation == "DescribeStream" {
                    "DescribeStream"
                } else {
                    "GetShardIterator"
                };
                let input: ByStreamArn = from_slice(body)?;
                RequestTargets::Tables(
                    input
                        .stream_arn
                        .map(|arn| TableAccess {
                            stream: true,
                            ..TableAccess::table(action, self.table_of_stream_arn(&arn))
                        })
                        .into_iter()
                        .collect(),
                )
            }
            "GetRecords" => {
                let input: ByShardIterator = from_slice(body)?;
                RequestTargets::Tables(
                    input
                        .shard_iterator
                        .map(|iterator| TableAccess {
                            stream: true,
                            ..TableAccess::table("GetRecords", table_of_shard_iterator(&iterator))
                        })
                        .into_iter()
                        .collect(),
                )
            }
            // An operation the store runs must be read above: one that is not would
            // pass unchecked, so it is refused until it is.
            other
                if super::OPERATIONS.contains(&other)
                    || super::STREAMS_OPERATIONS.contains(&other) =>
            {
                return Err(StoreError::internal(format!(
                    "the tables of {other} requests cannot be read before they run"
                )))
            }
            // The store refuses operations it does not know, touching nothing.
            _ => RequestTargets::Tables(Vec::new()),
        };
        Ok(targets)
    }

    /// The table a tagging call's `ResourceArn` names, as `table_of_arn` reads it; an ARN
    /// of another account or region, or no table ARN at all, stays whole, so that it
    /// matches no table's name.
    fn table_of_resource_arn(&self, arn: &str) -> String {
        let prefix = super::table_arn(&self.config.region, &self.config.account_id, "");
        arn.strip_prefix(&prefix).unwrap_or(arn).to_owned()
    }

    /// The table a stream ARN names, as `stream_of_arn` reads it; otherwise the ARN
    /// whole.
    fn table_of_stream_arn(&self, arn: &str) -> String {
        let prefix = super::table_arn(&self.config.region, &self.config.account_id, "");
        arn.strip_prefix(&prefix)
            .and_then(|rest| rest.split_once("/stream/"))
            .map_or(arn, |(table, _label)| table)
            .to_owned()
    }
}

/// The table a shard iterator (`table|label|position`) names, as `GetRecords` reads it;
/// otherwise the iterator whole.
fn table_of_shard_iterator(iterator: &str) -> String {
    let mut parts = iterator.rsplitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_position), Some(_label), Some(table)) => table.to_owned(),
        _ => iterator.to_owned(),
    }
}

/// The table a PartiQL statement acts on, and IAM's action for it; `None` when the
/// statement is missing or does not parse.
fn statement_access(
    statement: Option<&str>,
    parameters: Option<&[crate::value::AttributeValue]>,
) -> Option<TableAccess> {
    let statement = parse(statement?, parameters.unwrap_or_default()).ok()?;
    let (action, table, index) = match statement {
        Statement::Select { table, index, .. } | Statement::Exists { table, index, .. } => {
            ("PartiQLSelect", table, index)
        }
        Statement::Insert { table, .. } => ("PartiQLInsert", table, None),
        Statement::Update { table, .. } => ("PartiQLUpdate", table, None),
        Statement::Delete { table, .. } => ("PartiQLDelete", table, None),
    };
    Some(TableAccess {
        index,
        ..TableAccess::table(action, table)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use expect_test::{expect, Expect};
    use serde_json::{json, Value};

    use super::*;
    use crate::backend::MemoryBackend;
    use crate::engine::{StoreConfig, OPERATIONS, STREAMS_OPERATIONS};

    fn store() -> Store {
        Store::open(Arc::new(MemoryBackend::new()), StoreConfig::default())
            .expect("an empty catalog loads")
    }

    /// One line per table access (`action table[/index/i][ (stream)]`), `listing`, or
    /// the error.
    fn render(outcome: StoreResult<RequestTargets>) -> String {
        match outcome {
            Ok(RequestTargets::Listing) => "listing".to_owned(),
            Ok(RequestTargets::Tables(accesses)) if accesses.is_empty() => "none".to_owned(),
            Ok(RequestTargets::Tables(accesses)) => accesses
                .iter()
                .map(|access| {
                    let mut line = format!("{} {}", access.action, access.table);
                    if let Some(index) = &access.index {
                        line.push_str(&format!("/index/{index}"));
                    }
                    if access.stream {
                        line.push_str(" (stream)");
                    }
                    line
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(error) => format!("error {}: {}", error.kind.type_name(), error.message),
        }
    }

    fn check(operation: &str, body: &str, expect: Expect) {
        expect.assert_eq(&render(store().request_targets(operation, body.as_bytes())));
    }

    fn check_json(operation: &str, body: Value, expect: Expect) {
        check(operation, &body.to_string(), expect);
    }

    #[test]
    fn single_table_operations_name_their_table_and_index() {
        check_json(
            "GetItem",
            json!({"TableName": "t", "Key": {}}),
            expect!["GetItem t"],
        );
        check_json(
            "Query",
            json!({"TableName": "t", "IndexName": "byDate"}),
            expect!["Query t/index/byDate"],
        );
        check_json(
            "CreateTable",
            json!({"TableName": "new"}),
            expect!["CreateTable new"],
        );
        check("PutItem", "", expect!["none"]);
        check("DescribeLimits", "{}", expect!["none"]);
        check("ListTables", "{}", expect!["listing"]);
    }

    #[test]
    fn bodies_the_operation_could_not_read_are_refused() {
        // A repeated member: the operation's own input refuses it too, so the check cannot
        // see one table and the store another.
        check(
            "GetItem",
            r#"{"TableName": "mine", "TableName": "theirs"}"#,
            expect!["error SerializationException: Unexpected value type in payload"],
        );
        check(
            "GetItem",
            r#"{"TableName": 5}"#,
            expect!["error SerializationException: NUMBER_VALUE cannot be converted to String"],
        );
        check(
            "Scan",
            "[",
            expect![
                "error SerializationException: Start of structure or map found where not expected"
            ],
        );
    }

    #[test]
    fn batches_and_transactions_name_every_table() {
        check(
            "BatchGetItem",
            r#"{"RequestItems": {"a": {"Keys": []}, "b": {}, "a": {}}}"#,
            expect![[r#"
                BatchGetItem a
                BatchGetItem b"#]],
        );
        check_json(
            "BatchWriteItem",
            json!({"RequestItems": {"a": [], "c": []}}),
            expect![[r#"
                BatchWriteItem a
                BatchWriteItem c"#]],
        );
        check_json(
            "TransactWriteItems",
            json!({"TransactItems": [
                {"Put": {"TableName": "a", "Item": {}}},
                {"Update": {"TableName": "b"}, "Delete": {"TableName": "c"}},
                {"ConditionCheck": {"TableName": "d"}},
            ]}),
            expect![[r#"
                PutItem a
                DeleteItem c
                UpdateItem b
                ConditionCheckItem d"#]],
        );
        check_json(
            "TransactGetItems",
            json!({"TransactItems": [{"Get": {"TableName": "a"}}, {"Get": {"TableName": "b"}}]}),
            expect![[r#"
                GetItem a
                GetItem b"#]],
        );
    }

    #[test]
    fn partiql_statements_name_their_table() {
        check_json(
            "ExecuteStatement",
            json!({"Statement": "SELECT * FROM \"t\".\"i\" WHERE pk = ?", "Parameters": [{"S": "a"}]}),
            expect!["PartiQLSelect t/index/i"],
        );
        check_json(
            "BatchExecuteStatement",
            json!({"Statements": [
                {"Statement": "INSERT INTO a VALUE {'pk': 'x'}"},
                {"Statement": "not PartiQL"},
                {"Statement": "DELETE FROM b WHERE pk = 'x'"},
            ]}),
            expect![[r#"
                PartiQLInsert a
                PartiQLDelete b"#]],
        );
        check_json(
            "ExecuteTransaction",
            json!({"TransactStatements": [
                {"Statement": "UPDATE a SET n = 1 WHERE pk = 'x'"},
                {"Statement": "EXISTS(SELECT * FROM b WHERE pk = 'y' AND n = 2)"},
            ]}),
            expect![[r#"
                PartiQLUpdate a
                PartiQLSelect b"#]],
        );
    }

    #[test]
    fn arns_and_iterators_are_read_as_their_operations_read_them() {
        // The store's own region and account (`StoreConfig::default`).
        let own = "arn:aws:dynamodb:us-east-1:000000000000:table/t";
        check_json(
            "ListTagsOfResource",
            json!({"ResourceArn": own}),
            expect!["ListTagsOfResource t"],
        );
        // Another account's table ARN matches no table name.
        check_json(
            "TagResource",
            json!({"ResourceArn": "arn:aws:dynamodb:us-east-1:111122223333:table/t"}),
            expect!["TagResource arn:aws:dynamodb:us-east-1:111122223333:table/t"],
        );
        check_json(
            "DescribeStream",
            json!({"StreamArn": format!("{own}/stream/2024-01-01T00:00:00.000")}),
            expect!["DescribeStream t (stream)"],
        );
        check_json(
            "GetRecords",
            json!({"ShardIterator": "t|2024-01-01T00:00:00.000|17"}),
            expect!["GetRecords t (stream)"],
        );
        check_json(
            "GetRecords",
            json!({"ShardIterator": "junk"}),
            expect!["GetRecords junk (stream)"],
        );
        check_json(
            "ListStreams",
            json!({"TableName": "t"}),
            expect!["ListStreams t (stream)"],
        );
        check("ListStreams", "{}", expect!["listing"]);
    }

    #[test]
    fn every_operation_the_store_runs_is_read() {
        let store = store();
        for operation in OPERATIONS.iter().chain(STREAMS_OPERATIONS) {
            let outcome = store.request_targets(operation, b"{}");
            assert!(outcome.is_ok(), "{operation}: {outcome:?}");
        }
        assert_eq!(
            store.request_targets("DropEverything", b"{}"),
            Ok(RequestTargets::Tables(Vec::new()))
        );
    }

    #[test]
    fn listings_count_only_what_the_caller_may_see() {
        let store = store();
        for name in ["aaa", "bbb", "ccc", "ddd"] {
            store
                .call(
                    "CreateTable",
                    json!({
                        "TableName": name,
                        "BillingMode": "PAY_PER_REQUEST",
                        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                        "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"},
                    })
                    .to_string()
                    .as_bytes(),
                )
                .expect("CreateTable");
        }
        let visible = |name: &str| name == "bbb" || name == "ddd";
        let page = store
            .list_tables_where(
                crate::api::ListTablesInput {
                    exclusive_start_table_name: None,
                    limit: Some(1),
                },
                &visible,
            )
            .expect("ListTables");
        assert_eq!(page.table_names, ["bbb"]);
        assert_eq!(page.last_evaluated_table_name.as_deref(), Some("bbb"));
        let page = store
            .list_tables_where(
                crate::api::ListTablesInput {
                    exclusive_start_table_name: Some("bbb".to_owned()),
                    limit: Some(1),
                },
                &visible,
            )
            .expect("ListTables");
        assert_eq!(page.table_names, ["ddd"]);
        assert_eq!(page.last_evaluated_table_name, None);
        let streams = store
            .list_streams_where(crate::api::ListStreamsInput::default(), &visible)
            .expect("ListStreams");
        let tables: Vec<&str> = streams
            .streams
            .iter()
            .map(|stream| stream.table_name.as_str())
            .collect();
        assert_eq!(tables, ["bbb", "ddd"]);
    }
}
