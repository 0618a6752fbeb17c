//! DynamoDB tables: `AWS::DynamoDB::Table` and SAM's `SimpleTable` as `CreateTable` requests.

use super::RawResource;
use crate::intrinsics::Resolver;
use crate::model::Table;
use crate::Problem;

pub(super) const DYNAMODB_TABLE: &str = "AWS::DynamoDB::Table";
pub(super) const SIMPLE_TABLE: &str = "AWS::Serverless::SimpleTable";

/// `AWS::DynamoDB::Table` properties that carry straight over to `CreateTable`.
const TABLE_PROPERTIES_KEPT: &[&str] = &[
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "Tags",
];

/// Table properties that mean nothing on one machine (encryption, backups, storage class,
/// ...): accepted without a warning.
const TABLE_PROPERTIES_IGNORED: &[&str] = &[
    "SSESpecification",
    "PointInTimeRecoverySpecification",
    "TableClass",
    "DeletionProtectionEnabled",
    "ContributorInsightsSpecification",
    "OnDemandThroughput",
    "WarmThroughput",
    "ResourcePolicy",
];

/// A table resource as a `CreateTable` request; SAM's `SimpleTable` expands as SAM's
/// transform expands it (a single hash key, `id` of type String unless `PrimaryKey` says).
pub(super) fn table(
    resolver: &Resolver<'_>,
    raw: &RawResource<'_>,
    unsupported: &mut Vec<String>,
) -> Result<Table, Problem> {
    use serde_json::{json, Map, Value};
    let logical_id = &raw.logical_id;
    let location = format!("Resources.{logical_id}.Properties");
    let properties = match raw.properties {
        Some(node) => resolver
            .resolve(node, &location)?
            .map_or(Value::Null, |node| node.to_json()),
        None => Value::Null,
    };
    let properties = match properties {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => {
            return Err(Problem::at(
                raw.properties.map(|node| node.span).unwrap_or_default(),
                format!("{location}: expected a mapping"),
            ))
        }
    };
    let table_name = resolver.physical_name(logical_id, "TableName")?;
    let mut request = Map::new();
    request.insert("TableName".to_owned(), json!(table_name));
    let mut time_to_live_attribute = None;

    if raw.type_name == SIMPLE_TABLE {
        let primary_key = properties.get("PrimaryKey");
        let key_name = primary_key
            .and_then(|key| key.get("Name"))
            .and_then(Value::as_str)
            .unwrap_or("id");
        let key_type = match primary_key.and_then(|key| key.get("Type")).and_then(Value::as_str) {
            None | Some("String") => "S",
            Some("Number") => "N",
            Some("Binary") => "B",
            Some(other) => {
                return Err(Problem::at(
                    raw.properties.map(|node| node.span).unwrap_or_default(),
                    format!("{location}.PrimaryKey.Type: `{other}` is not a key type; use String, Number or Binary"),
                ))
            }
        };
        request.insert(
            "KeySchema".to_owned(),
            json!([{"AttributeName": key_name, "KeyType": "HASH"}]),
        );
        request.insert(
            "AttributeDefinitions".to_owned(),
            json!([{"AttributeName": key_name, "AttributeType": key_type}]),
        );
        match properties.get("ProvisionedThroughput") {
            Some(throughput) => {
                request.insert("BillingMode".to_owned(), json!("PROVISIONED"));
                request.insert("ProvisionedThroughput".to_owned(), throughput.clone());
            }
            None => {
                request.insert("BillingMode".to_owned(), json!("PAY_PER_REQUEST"));
            }
        }
        if let Some(Value::Object(tags)) = properties.get("Tags") {
            let tags: Vec<Value> = tags
                .iter()
                .map(|(key, value)| json!({"Key": key, "Value": value}))
                .collect();
            request.insert("Tags".to_owned(), Value::Array(tags));
        }
        for key in properties.keys() {
            if !matches!(
                key.as_str(),
                "PrimaryKey" | "TableName" | "ProvisionedThroughput" | "Tags" | "SSESpecification"
            ) {
                unsupported.push(format!("{logical_id}.{key}"));
            }
        }
    } else {
        for (key, value) in &properties {
            match key.as_str() {
                "TableName" => {}
                key if TABLE_PROPERTIES_KEPT.contains(&key) => {
                    request.insert(key.to_owned(), value.clone());
                }
                "StreamSpecification" => {
                    // CloudFormation names only the view type; the API also wants the switch.
                    let mut stream = value.as_object().cloned().unwrap_or_default();
                    stream.insert("StreamEnabled".to_owned(), json!(true));
                    request.insert("StreamSpecification".to_owned(), Value::Object(stream));
                }
                "TimeToLiveSpecification" => {
                    let enabled = value
                        .get("Enabled")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    if enabled {
                        time_to_live_attribute = value
                            .get("AttributeName")
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                    }
                }
                key if TABLE_PROPERTIES_IGNORED.contains(&key) => {}
                other => unsupported.push(format!("{logical_id}.{other}")),
            }
        }
        if !request.contains_key("BillingMode") && !request.contains_key("ProvisionedThroughput") {
            // CloudFormation requires one of them; a local table needs neither.
            request.insert("BillingMode".to_owned(), json!("PAY_PER_REQUEST"));
        }
    }
    Ok(Table {
        logical_id: logical_id.clone(),
        table_name,
        create_table: Value::Object(request),
        time_to_live_attribute,
    })
}
