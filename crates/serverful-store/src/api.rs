//! The DynamoDB operations' typed inputs and outputs, with DynamoDB's JSON
//! member names, for the AWS edge: [`from_slice`] a request body into an input,
//! call the [`crate::Store`] method, `serde_json::to_vec` the output, and render
//! errors with [`error_body`].
//!
//! Attribute values (de)serialize straight from and to the wire, with no
//! `serde_json::Value` in between, and malformed values get DynamoDB's
//! `SerializationException` or `ValidationException`. Required members are
//! `Option`s here: the engine reports a missing one with DynamoDB's
//! "Value null at ..." message instead of a deserializer error. Unknown
//! members are ignored, as DynamoDB ignores them.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use crate::error::{ErrorKind, StoreError, StoreResult};
use crate::value::{AttributeValue, Item};

/// Marks a [`StoreError`] smuggled through serde's string-only custom errors.
const MARK: char = '\u{1f}';

const KINDS: [ErrorKind; 2] = [ErrorKind::Validation, ErrorKind::Serialization];

/// Attribute values parse straight from the request (see `value::wire`); DynamoDB's
/// verdict on an invalid one travels through serde's string-only custom error.
impl<'de> Deserialize<'de> for AttributeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match crate::value::wire::deserialize_value(deserializer)? {
            Ok(value) => Ok(value),
            // Judged later in the request, where DynamoDB judges it (see `deferred`).
            Err(error)
                if error.kind == ErrorKind::Validation && crate::deferred::defer(error.clone()) =>
            {
                Ok(AttributeValue::Null)
            }
            Err(error) => Err(smuggle(&error)),
        }
    }
}

/// A [`StoreError`] as a serde error, to be told apart again by [`from_slice`].
fn smuggle<E: serde::de::Error>(error: &StoreError) -> E {
    let kind = KINDS
        .iter()
        .position(|kind| *kind == error.kind)
        .unwrap_or(0);
    E::custom(format!("{MARK}{kind}{MARK}{}{MARK}", error.message))
}

/// Each entry of a map of attribute values with DynamoDB's verdict on it.
type Verdicts = Vec<(String, StoreResult<AttributeValue>)>;

/// Reads a map of attribute values, keeping each value's verdict, in the request's order,
/// straight from the request (no `serde_json::Value` in between).
fn value_verdicts<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Verdicts>, D::Error> {
    struct VerdictSeed;

    impl<'de> serde::de::DeserializeSeed<'de> for VerdictSeed {
        type Value = StoreResult<AttributeValue>;

        fn deserialize<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            crate::value::wire::deserialize_value(deserializer)
        }
    }

    struct VerdictsVisitor;

    impl<'de> serde::de::Visitor<'de> for VerdictsVisitor {
        type Value = Option<Verdicts>;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("a map of attribute values")
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_map(self)
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut verdicts = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                let verdict = map.next_value_seed(VerdictSeed)?;
                verdicts.push((key, verdict));
            }
            Ok(Some(verdicts))
        }
    }

    deserializer.deserialize_option(VerdictsVisitor)
}

/// `ExpressionAttributeValues`: DynamoDB names an invalid value by its placeholder
/// ("ExpressionAttributeValues contains invalid value: … for key :v"), unless a
/// placeholder is itself malformed, which the expression check reports first.
fn expression_values<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Item>, D::Error> {
    let Some(verdicts) = value_verdicts(deserializer)? else {
        return Ok(None);
    };
    let keys_well_formed = verdicts
        .iter()
        .all(|(key, _)| crate::expression::is_value_placeholder(key));
    let mut item = Item::new();
    for (key, verdict) in verdicts {
        match verdict {
            Ok(value) => {
                item.insert(key, value);
            }
            Err(error) if error.kind == ErrorKind::Serialization => return Err(smuggle(&error)),
            Err(error) if keys_well_formed => {
                let error = StoreError::validation(format!(
                    "ExpressionAttributeValues contains invalid value: {} for key {key}",
                    error.message
                ));
                if !crate::deferred::defer_at(crate::deferred::Place::Values, error.clone()) {
                    return Err(smuggle(&error));
                }
                item.insert(key, AttributeValue::Null);
            }
            // The malformed placeholder is reported instead; the value is never used.
            Err(_) => {
                item.insert(key, AttributeValue::Null);
            }
        }
    }
    Ok(Some(item))
}

/// `ExclusiveStartKey`: DynamoDB prefixes most verdicts on its values with "The provided
/// starting key is invalid: ", but not those about numbers and duplicate set members.
fn start_key<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Item>, D::Error> {
    let Some(verdicts) = value_verdicts(deserializer)? else {
        return Ok(None);
    };
    let mut item = Item::new();
    for (key, verdict) in verdicts {
        match verdict {
            Ok(value) => {
                item.insert(key, value);
            }
            Err(error) if error.kind == ErrorKind::Serialization => return Err(smuggle(&error)),
            Err(error) => {
                let unprefixed = [
                    "contains duplicates",
                    "number set",
                    "numeric value",
                    "significant digits",
                    "number with magnitude",
                ]
                .iter()
                .any(|marker| error.message.contains(marker));
                let error = if unprefixed {
                    error
                } else {
                    StoreError::validation(format!(
                        "The provided starting key is invalid: {}",
                        error.message
                    ))
                };
                if !crate::deferred::defer_at(crate::deferred::Place::StartKey, error.clone()) {
                    return Err(smuggle(&error));
                }
                item.insert(key, AttributeValue::Null);
            }
        }
    }
    Ok(Some(item))
}

/// A legacy condition's values, whose verdicts wait for the condition's check.
fn condition_values<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    let _place = crate::deferred::within(crate::deferred::Place::Condition);
    Option::<T>::deserialize(deserializer)
}

/// Query's `KeyConditions`, whose values' verdicts wait for the key conditions' check.
fn key_condition_values<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    let _place = crate::deferred::at(crate::deferred::Place::KeyCondition);
    Option::<T>::deserialize(deserializer)
}

/// Parses a request body into an operation's input, with DynamoDB's errors:
/// invalid values keep their own error, JSON of the wrong shape is a
/// `SerializationException` worded as DynamoDB's Java deserializer words it.
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(body).map_err(|error| decode_error(&error))
}

fn decode_error(error: &serde_json::Error) -> StoreError {
    let text = error.to_string();
    let mut parts = text.split(MARK);
    if let (Some(_), Some(kind), Some(message), Some(_)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    {
        let kind = kind
            .parse::<usize>()
            .ok()
            .and_then(|index| KINDS.get(index))
            .copied()
            .unwrap_or(ErrorKind::Serialization);
        return StoreError::new(kind, message);
    }
    if error.is_syntax() || error.is_eof() {
        return StoreError::serialization("Start of structure or map found where not expected");
    }
    // serde: "invalid type: integer `1`, expected a string at line 1 column 2".
    let message = text
        .strip_prefix("invalid type: ")
        .and_then(|rest| rest.split_once(", expected "))
        .map(|(found, expected)| {
            let found_name = if found.starts_with("string") {
                "STRING_VALUE"
            } else if found.starts_with("integer") {
                "NUMBER_VALUE"
            } else if found.starts_with("floating") {
                "DECIMAL_VALUE"
            } else if found.starts_with("boolean `true`") {
                "TRUE_VALUE"
            } else if found.starts_with("boolean") {
                "FALSE_VALUE"
            } else if found.starts_with("map") {
                return "Start of structure or map found where not expected".to_owned();
            } else if found.starts_with("sequence") {
                return "Start of list found where not expected".to_owned();
            } else {
                return "Unexpected value type in payload".to_owned();
            };
            let java_type = if expected.contains("string") {
                "String"
            } else if expected.contains("bool") {
                "Boolean"
            } else if expected.contains("i64")
                || expected.contains("u32")
                || expected.contains("integer")
            {
                "Long"
            } else if expected.contains("sequence") {
                return "Unrecognized collection type".to_owned();
            } else {
                "Structure"
            };
            format!("{found_name} cannot be converted to {java_type}")
        })
        .unwrap_or_else(|| "Unexpected value type in payload".to_owned());
    StoreError::serialization(message)
}

/// The JSON body of an error response: `__type` in its long form, `message`,
/// and `CancellationReasons`/`Item` when the error carries them.
pub fn error_body(error: &StoreError) -> Value {
    let mut body = json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{}", error.type_name()),
    });
    let message_key = if error.kind == ErrorKind::TransactionCanceled {
        "Message"
    } else {
        "message"
    };
    body[message_key] = Value::String(error.message.clone());
    if let Some(details) = &error.details {
        if !details.cancellation_reasons.is_empty() {
            body["CancellationReasons"] = details
                .cancellation_reasons
                .iter()
                .map(|reason| {
                    let mut entry = json!({"Code": reason.code});
                    if let Some(message) = &reason.message {
                        entry["Message"] = Value::String(message.clone());
                    }
                    if let Some(item) = &reason.item {
                        entry["Item"] = crate::value::item_to_json(item);
                    }
                    entry
                })
                .collect();
        }
        if let Some(item) = &details.item {
            body["Item"] = crate::value::item_to_json(item);
        }
    }
    body
}

/// `ExpressionAttributeNames`
pub type Names = BTreeMap<String, String>;

/// `AttributeDefinitions` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    /// `AttributeName`
    pub attribute_name: Option<String>,
    /// `AttributeType`: S, N or B.
    pub attribute_type: Option<String>,
}

/// `KeySchema` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchemaElement {
    /// `AttributeName`
    pub attribute_name: Option<String>,
    /// `KeyType`: HASH or RANGE.
    pub key_type: Option<String>,
}

/// An index's `Projection`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Projection {
    /// `ProjectionType`: ALL, KEYS_ONLY or INCLUDE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection_type: Option<String>,
    /// `NonKeyAttributes` (INCLUDE only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub non_key_attributes: Option<Vec<String>>,
}

/// `ProvisionedThroughput`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedThroughput {
    /// `ReadCapacityUnits`
    pub read_capacity_units: Option<i64>,
    /// `WriteCapacityUnits`
    pub write_capacity_units: Option<i64>,
}

/// `ProvisionedThroughput` as described back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedThroughputDescription {
    /// `NumberOfDecreasesToday`
    pub number_of_decreases_today: i64,
    /// `ReadCapacityUnits`
    pub read_capacity_units: i64,
    /// `WriteCapacityUnits`
    pub write_capacity_units: i64,
}

/// A GSI in `CreateTable` or `UpdateTable`'s `Create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GlobalSecondaryIndex {
    /// `IndexName`
    pub index_name: Option<String>,
    /// `KeySchema`
    pub key_schema: Option<Vec<KeySchemaElement>>,
    /// `Projection`
    pub projection: Option<Projection>,
    /// `ProvisionedThroughput`
    pub provisioned_throughput: Option<ProvisionedThroughput>,
}

/// An LSI in `CreateTable`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LocalSecondaryIndex {
    /// `IndexName`
    pub index_name: Option<String>,
    /// `KeySchema`
    pub key_schema: Option<Vec<KeySchemaElement>>,
    /// `Projection`
    pub projection: Option<Projection>,
}

/// `StreamSpecification`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpecification {
    /// `StreamEnabled`
    pub stream_enabled: Option<bool>,
    /// `StreamViewType`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_view_type: Option<String>,
}

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// `Key`
    pub key: Option<String>,
    /// `Value`
    pub value: Option<String>,
}

/// `CreateTable` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTableInput {
    /// `TableName`
    pub table_name: Option<String>,
    /// `AttributeDefinitions`
    pub attribute_definitions: Option<Vec<AttributeDefinition>>,
    /// `KeySchema`
    pub key_schema: Option<Vec<KeySchemaElement>>,
    /// `LocalSecondaryIndexes`
    pub local_secondary_indexes: Option<Vec<LocalSecondaryIndex>>,
    /// `GlobalSecondaryIndexes`
    pub global_secondary_indexes: Option<Vec<GlobalSecondaryIndex>>,
    /// `BillingMode`: PROVISIONED (default) or PAY_PER_REQUEST.
    pub billing_mode: Option<String>,
    /// `ProvisionedThroughput`
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    /// `StreamSpecification`
    pub stream_specification: Option<StreamSpecification>,
    /// `Tags`
    pub tags: Option<Vec<Tag>>,
    /// `DeletionProtectionEnabled`
    pub deletion_protection_enabled: Option<bool>,
}

/// `BillingModeSummary`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BillingModeSummary {
    /// `BillingMode`
    pub billing_mode: String,
    /// `LastUpdateToPayPerRequestDateTime`
    pub last_update_to_pay_per_request_date_time: f64,
}

/// An index as `DescribeTable` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexDescription {
    /// `IndexName`
    pub index_name: String,
    /// `KeySchema`
    pub key_schema: Vec<KeySchemaElement>,
    /// `Projection`
    pub projection: Projection,
    /// `IndexStatus` (GSIs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_status: Option<String>,
    /// `ProvisionedThroughput` (GSIs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned_throughput: Option<ProvisionedThroughputDescription>,
    /// `IndexSizeBytes`
    pub index_size_bytes: u64,
    /// `ItemCount`
    pub item_count: u64,
    /// `IndexArn`
    pub index_arn: String,
}

/// `TableDescription`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDescription {
    /// `AttributeDefinitions`
    pub attribute_definitions: Vec<AttributeDefinition>,
    /// `TableName`
    pub table_name: String,
    /// `KeySchema`
    pub key_schema: Vec<KeySchemaElement>,
    /// `TableStatus`: always ACTIVE here, DELETING in DeleteTable's answer.
    pub table_status: String,
    /// `CreationDateTime`, epoch seconds.
    pub creation_date_time: f64,
    /// `ProvisionedThroughput`
    pub provisioned_throughput: ProvisionedThroughputDescription,
    /// `TableSizeBytes`
    pub table_size_bytes: u64,
    /// `ItemCount`
    pub item_count: u64,
    /// `TableArn`
    pub table_arn: String,
    /// `TableId`
    pub table_id: String,
    /// `BillingModeSummary` (PAY_PER_REQUEST tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_mode_summary: Option<BillingModeSummary>,
    /// `LocalSecondaryIndexes`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_secondary_indexes: Option<Vec<IndexDescription>>,
    /// `GlobalSecondaryIndexes`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_secondary_indexes: Option<Vec<IndexDescription>>,
    /// `StreamSpecification`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_specification: Option<StreamSpecification>,
    /// `LatestStreamLabel`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_stream_label: Option<String>,
    /// `LatestStreamArn`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_stream_arn: Option<String>,
    /// `DeletionProtectionEnabled`
    pub deletion_protection_enabled: bool,
}

/// `CreateTable` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTableOutput {
    /// `TableDescription`
    pub table_description: TableDescription,
}

/// `DescribeTable` and `DeleteTable` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableNameInput {
    /// `TableName`
    pub table_name: Option<String>,
}

/// `DescribeTable` request.
pub type DescribeTableInput = TableNameInput;
/// `DeleteTable` request.
pub type DeleteTableInput = TableNameInput;
/// `DescribeTimeToLive` request.
pub type DescribeTimeToLiveInput = TableNameInput;

/// `DescribeTable` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTableOutput {
    /// `Table`
    pub table: TableDescription,
}

/// `DeleteTable` and `UpdateTable` response.
pub type DeleteTableOutput = CreateTableOutput;
/// `UpdateTable` response.
pub type UpdateTableOutput = CreateTableOutput;

/// `ListTables` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTablesInput {
    /// `ExclusiveStartTableName`
    pub exclusive_start_table_name: Option<String>,
    /// `Limit` (1 to 100).
    pub limit: Option<i64>,
}

/// `ListTables` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTablesOutput {
    /// `TableNames`
    pub table_names: Vec<String>,
    /// `LastEvaluatedTableName`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_table_name: Option<String>,
}

/// `GlobalSecondaryIndexUpdates` entry: one of the actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GlobalSecondaryIndexUpdate {
    /// `Create`
    pub create: Option<GlobalSecondaryIndex>,
    /// `Delete`
    pub delete: Option<DeleteGlobalSecondaryIndexAction>,
    /// `Update` (throughput only; accepted and ignored).
    pub update: Option<Value>,
}

/// `Delete` of a GSI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteGlobalSecondaryIndexAction {
    /// `IndexName`
    pub index_name: Option<String>,
}

/// `UpdateTable` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateTableInput {
    /// `TableName`
    pub table_name: Option<String>,
    /// `AttributeDefinitions` (for new GSIs).
    pub attribute_definitions: Option<Vec<AttributeDefinition>>,
    /// `BillingMode`
    pub billing_mode: Option<String>,
    /// `ProvisionedThroughput`
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    /// `GlobalSecondaryIndexUpdates`
    pub global_secondary_index_updates: Option<Vec<GlobalSecondaryIndexUpdate>>,
    /// `StreamSpecification`
    pub stream_specification: Option<StreamSpecification>,
    /// `DeletionProtectionEnabled`
    pub deletion_protection_enabled: Option<bool>,
}

/// `TimeToLiveSpecification`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLiveSpecification {
    /// `Enabled`
    pub enabled: Option<bool>,
    /// `AttributeName`
    pub attribute_name: Option<String>,
}

/// `UpdateTimeToLive` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateTimeToLiveInput {
    /// `TableName`
    pub table_name: Option<String>,
    /// `TimeToLiveSpecification`
    pub time_to_live_specification: Option<TimeToLiveSpecification>,
}

/// `UpdateTimeToLive` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateTimeToLiveOutput {
    /// `TimeToLiveSpecification`
    pub time_to_live_specification: TimeToLiveSpecification,
}

/// `TimeToLiveDescription`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLiveDescription {
    /// `TimeToLiveStatus`: ENABLED or DISABLED.
    pub time_to_live_status: String,
    /// `AttributeName`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute_name: Option<String>,
}

/// `DescribeTimeToLive` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTimeToLiveOutput {
    /// `TimeToLiveDescription`
    pub time_to_live_description: TimeToLiveDescription,
}

/// `TagResource` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    /// `ResourceArn`
    pub resource_arn: Option<String>,
    /// `Tags`
    pub tags: Option<Vec<Tag>>,
}

/// `UntagResource` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    /// `ResourceArn`
    pub resource_arn: Option<String>,
    /// `TagKeys`
    pub tag_keys: Option<Vec<String>>,
}

/// `ListTagsOfResource` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsOfResourceInput {
    /// `ResourceArn`
    pub resource_arn: Option<String>,
    /// `NextToken`
    pub next_token: Option<String>,
}

/// `ListTagsOfResource` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsOfResourceOutput {
    /// `Tags`
    pub tags: Vec<Tag>,
}

/// An empty response body (`TagResource`, `UntagResource`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EmptyOutput {}

/// `Expected` entry (legacy conditions).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExpectedAttributeValue {
    /// `Value`
    #[serde(default, deserialize_with = "condition_values")]
    pub value: Option<AttributeValue>,
    /// `Exists`
    pub exists: Option<bool>,
    /// `ComparisonOperator`
    pub comparison_operator: Option<String>,
    /// `AttributeValueList`
    #[serde(default, deserialize_with = "condition_values")]
    pub attribute_value_list: Option<Vec<AttributeValue>>,
}

/// `KeyConditions`, `QueryFilter` and `ScanFilter` entry (legacy).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Condition {
    /// `ComparisonOperator`
    pub comparison_operator: Option<String>,
    /// `AttributeValueList`
    #[serde(default, deserialize_with = "condition_values")]
    pub attribute_value_list: Option<Vec<AttributeValue>>,
}

/// `AttributeUpdates` entry (legacy).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeValueUpdate {
    /// `Value`
    pub value: Option<AttributeValue>,
    /// `Action`: PUT (default), ADD or DELETE.
    pub action: Option<String>,
}

/// `ConsumedCapacity` of one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConsumedCapacity {
    /// `TableName`
    pub table_name: String,
    /// `CapacityUnits`
    pub capacity_units: f64,
    /// `ReadCapacityUnits`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_capacity_units: Option<f64>,
    /// `WriteCapacityUnits`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_capacity_units: Option<f64>,
    /// `Table` (with `ReturnConsumedCapacity: INDEXES`, when the table itself was read
    /// or written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<Capacity>,
    /// `LocalSecondaryIndexes` (with `INDEXES`): each local index read or written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_secondary_indexes: Option<BTreeMap<String, Capacity>>,
    /// `GlobalSecondaryIndexes` (with `INDEXES`): each global index read or written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_secondary_indexes: Option<BTreeMap<String, Capacity>>,
}

/// `Capacity`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Capacity {
    /// `CapacityUnits`
    pub capacity_units: f64,
}

/// `PutItem` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutItemInput {
    /// `TableName`
    pub table_name: Option<String>,
    /// `Item`
    pub item: Option<Item>,
    /// `ConditionExpression`
    pub condition_expression: Option<String>,
    /// `ExpressionAttributeNames`
    pub expression_attribute_names: Option<Names>,
    /// `ExpressionAttributeValues`
    #[serde(default, deserialize_with = "expression_values")]
    pub expression_attribute_values: Option<Item>,
    /// `ReturnValues`: NONE or ALL_OLD.
    pub return_values: Option<String>,
    /// `ReturnConsumedCapacity`: NONE, TOTAL or INDEXES.
    pub return_consumed_capacity: Option<String>,
    /// `ReturnItemCollectionMetrics`: SIZE or NONE.
    pub return_item_collection_metrics: Option<String>,
    /// `ReturnValuesOnConditionCheckFailure`: NONE or ALL_OLD.
    pub return_values_on_condition_check_failure: Option<String>,
    /// `Expected` (legacy).
    pub expected: Option<BTreeMap<String, ExpectedAttributeValue>>,
    /// `ConditionalOperator` (legacy).
    pub conditional_operator: Option<String>,
}

/// `PutItem`, `UpdateItem` and `DeleteItem` response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WriteItemOutput {
    /// `Attributes`, as `ReturnValues` asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Item>,
    /// `ConsumedCapacity`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<ConsumedCapacity>,
    /// `ItemCollectionMetrics`: with `ReturnItemCollectionMetrics` `SIZE` on
    /// a table with local secondary indexes (DynamoDB reports nothing for
    /// other tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_collection_metrics: Option<ItemCollectionMetrics>,
}

/// `ItemCollectionMetrics`: the size of the item collection (the items of
/// one partition key value) that a write touched.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ItemCollectionMetrics {
    /// `ItemCollectionKey`: the partition key attribute.
    pub item_collection_key: Item,
    /// `SizeEstimateRangeGB`: lower and upper bound of the collection's size.
    #[serde(rename = "SizeEstimateRangeGB")]
    pub size_estimate_range_gb: [f64; 2],
}

/// `PutItem` response.
pub type PutItemOutput = WriteItemOutput;
/// `UpdateItem` response.
pub type UpdateItemOutput = WriteItemOutput;
/// `DeleteItem` response.
pub type DeleteItemOutput = WriteItemOutput;

/// `GetItem` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetItemInput {
    /// `TableName`
    pub table_name: Option<String>,
    /// `Key`
    pub key: Option<Item>,
    /// `ProjectionExpression`
    pub projection_expression: Option<String>,
    /// `ExpressionAttributeNames`
    pub expression_attribute_names: Option<Names>,
    /// `AttributesToGet` (legacy).
    pub attributes_to_get: Option<Vec<String>>,
    /// `ConsistentRead`
    pub consistent_read: Option<bool>,
    /// `ReturnConsumedCapacity`
    pub return_consumed_capacity: Option<String>,
}

/// `GetItem` response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetItemOutput {
    /// `Item`, absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Item>,
    /// `ConsumedCapacity`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<ConsumedCapacity>,
}

/// `UpdateItem` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateItemInput {
    /// `TableName`
    pub table_name: Option<String>,
    /// `Key`
    pub key: Option<Item>,
    /// `UpdateExpression`
    pub update_expression: Option<String>,
    /// `ConditionExpression`
    pub condition_expression: Option<String>,
    /// `ExpressionAttributeNames`
    pub expression_attribute_names: Option<Names>,
    /// `ExpressionAttributeValues`
    #[serde(default, deserialize_with = "expression_values")]
    pub expression_attribute_values: Option<Item>,
    /// `ReturnValues`: NONE, ALL_OLD, UPDATED_OLD, ALL_NEW or UPDATED_NEW.
    pub return_values: Option<String>,
    /// `ReturnConsumedCapacity`
    pub return_consumed_capacity: Option<String>,
    /// `ReturnItemCollectionMetrics`: SIZE or NONE.
    pub return_item_collection_metrics: Option<String>,
    /// `ReturnValuesOnConditionCheckFailure`
    pub return_values_on_condition_check_failure: Option<String>,
    /// `AttributeUpdates` (legacy).
    pub attribute_updates: Option<BTreeMap<String, AttributeValueUpdate>>,
    /// `Expected` (legacy).
    pub expected: Option<BTreeMap<String, ExpectedAttributeValue>>,
    /// `ConditionalOperator` (legacy).
    pub conditional_operator: Option<String>,
}

/// `DeleteItem` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteItemInput {
    /// `TableName`
    pub table_name: Option<String>,
    /// `Key`
    pub key: Option<Item>,
    /// `ConditionExpression`
    pub condition_expression: Option<String>,
    /// `ExpressionAttributeNames`
    pub expression_attribute_names: Option<Names>,
    /// `ExpressionAttributeValues`
    #[serde(default, deserialize_with = "expression_values")]
    pub expression_attribute_values: Option<Item>,
    /// `ReturnValues`: NONE or ALL_OLD.
    pub return_values: Option<String>,
    /// `ReturnConsumedCapacity`
    pub return_consumed_capacity: Option<String>,
    /// `ReturnItemCollectionMetrics`: SIZE or NONE.
    pub return_item_collection_metrics: Option<String>,
    /// `ReturnValuesOnConditionCheckFailure`
    pub return_values_on_condition_check_failure: Option<String>,
    /// `Expected` (legacy).
    pub expected: Option<BTreeMap<String, ExpectedAttributeValue>>,
    /// `ConditionalOperator` (legacy).
    pub conditional_operator: Option<String>,
}

/// `Query` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryInput {
    /// `TableName`
    pub table_name: Option<String>,
    /// `IndexName`
    pub index_name: Option<String>,
    /// `Select`
    pub select: Option<String>,
    /// `AttributesToGet` (legacy).
    pub attributes_to_get: Option<Vec<String>>,
    /// `Limit`
    pub limit: Option<i64>,
    /// `ConsistentRead`
    pub consistent_read: Option<bool>,
    /// `KeyConditions` (legacy).
    #[serde(default, deserialize_with = "key_condition_values")]
    pub key_conditions: Option<BTreeMap<String, Condition>>,
    /// `QueryFilter` (legacy).
    pub query_filter: Option<BTreeMap<String, Condition>>,
    /// `ConditionalOperator` (legacy).
    pub conditional_operator: Option<String>,
    /// `ScanIndexForward`
    pub scan_index_forward: Option<bool>,
    /// `ExclusiveStartKey`
    #[serde(default, deserialize_with = "start_key")]
    pub exclusive_start_key: Option<Item>,
    /// `ReturnConsumedCapacity`
    pub return_consumed_capacity: Option<String>,
    /// `ProjectionExpression`
    pub projection_expression: Option<String>,
    /// `FilterExpression`
    pub filter_expression: Option<String>,
    /// `KeyConditionExpression`
    pub key_condition_expression: Option<String>,
    /// `ExpressionAttributeNames`
    pub expression_attribute_names: Option<Names>,
    /// `ExpressionAttributeValues`
    #[serde(default, deserialize_with = "expression_values")]
    pub expression_attribute_values: Option<Item>,
}

/// `Scan` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScanInput {
    /// `TableName`
    pub table_name: Option<String>,
    /// `IndexName`
    pub index_name: Option<String>,
    /// `AttributesToGet` (legacy).
    pub attributes_to_get: Option<Vec<String>>,
    /// `Limit`
    pub limit: Option<i64>,
    /// `Select`
    pub select: Option<String>,
    /// `ScanFilter` (legacy).
    pub scan_filter: Option<BTreeMap<String, Condition>>,
    /// `ConditionalOperator` (legacy).
    pub conditional_operator: Option<String>,
    /// `ExclusiveStartKey`
    #[serde(default, deserialize_with = "start_key")]
    pub exclusive_start_key: Option<Item>,
    /// `ReturnConsumedCapacity`
    pub return_consumed_capacity: Option<String>,
    /// `TotalSegments`
    pub total_segments: Option<i64>,
    /// `Segment`
    pub segment: Option<i64>,
    /// `ProjectionExpression`
    pub projection_expression: Option<String>,
    /// `FilterExpression`
    pub filter_expression: Option<String>,
    /// `ExpressionAttributeNames`
    pub expression_attribute_names: Option<Names>,
    /// `ExpressionAttributeValues`
    #[serde(default, deserialize_with = "expression_values")]
    pub expression_attribute_values: Option<Item>,
    /// `ConsistentRead`
    pub consistent_read: Option<bool>,
}

/// `Query` and `Scan` response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReadOutput {
    /// `Items` (absent with `Select: COUNT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Item>>,
    /// `Count`: items after the filter.
    pub count: usize,
    /// `ScannedCount`: items before the filter.
    pub scanned_count: usize,
    /// `LastEvaluatedKey`, when there may be more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_key: Option<Item>,
    /// `ConsumedCapacity`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<ConsumedCapacity>,
}

/// `Query` response.
pub type QueryOutput = ReadOutput;
/// `Scan` response.
pub type ScanOutput = ReadOutput;

/// `KeysAndAttributes` of `BatchGetItem`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeysAndAttributes {
    /// `Keys`
    pub keys: Option<Vec<Item>>,
    /// `AttributesToGet` (legacy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes_to_get: Option<Vec<String>>,
    /// `ConsistentRead`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistent_read: Option<bool>,
    /// `ProjectionExpression`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection_expression: Option<String>,
    /// `ExpressionAttributeNames`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Option<Names>,
}

/// `BatchGetItem` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetItemInput {
    /// `RequestItems`
    pub request_items: Option<BTreeMap<String, KeysAndAttributes>>,
    /// `ReturnConsumedCapacity`
    pub return_consumed_capacity: Option<String>,
}

/// `BatchGetItem` response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetItemOutput {
    /// `Responses`
    pub responses: BTreeMap<String, Vec<Item>>,
    /// `UnprocessedKeys`: always empty here.
    pub unprocessed_keys: BTreeMap<String, KeysAndAttributes>,
    /// `ConsumedCapacity`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<Vec<ConsumedCapacity>>,
}

/// `PutRequest`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRequest {
    /// `Item`
    pub item: Option<Item>,
}

/// `DeleteRequest`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteRequest {
    /// `Key`
    pub key: Option<Item>,
}

/// `WriteRequest`: exactly one of the two.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WriteRequest {
    /// `PutRequest`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub put_request: Option<PutRequest>,
    /// `DeleteRequest`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_request: Option<DeleteRequest>,
}

/// `BatchWriteItem` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchWriteItemInput {
    /// `RequestItems`
    pub request_items: Option<BTreeMap<String, Vec<WriteRequest>>>,
    /// `ReturnConsumedCapacity`
    pub return_consumed_capacity: Option<String>,
    /// `ReturnItemCollectionMetrics`: SIZE or NONE.
    pub return_item_collection_metrics: Option<String>,
}

/// `BatchWriteItem` response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchWriteItemOutput {
    /// `UnprocessedItems`: always empty here.
    pub unprocessed_items: BTreeMap<String, Vec<WriteRequest>>,
    /// `ConsumedCapacity`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<Vec<ConsumedCapacity>>,
    /// `ItemCollectionMetrics`: with `ReturnItemCollectionMetrics` `SIZE`,
    /// per table with a local secondary index, one entry per write to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_collection_metrics: Option<BTreeMap<String, Vec<ItemCollectionMetrics>>>,
}

/// One write of `TransactWriteItems` with its table, key or item and condition.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactOperation {
    /// `TableName`
    pub table_name: Option<String>,
    /// `Key` (ConditionCheck, Delete, Update).
    pub key: Option<Item>,
    /// `Item` (Put).
    pub item: Option<Item>,
    /// `UpdateExpression` (Update).
    pub update_expression: Option<String>,
    /// `ConditionExpression`
    pub condition_expression: Option<String>,
    /// `ExpressionAttributeNames`
    pub expression_attribute_names: Option<Names>,
    /// `ExpressionAttributeValues`
    #[serde(default, deserialize_with = "expression_values")]
    pub expression_attribute_values: Option<Item>,
    /// `ReturnValuesOnConditionCheckFailure`
    pub return_values_on_condition_check_failure: Option<String>,
}

/// `TransactItems` entry of `TransactWriteItems`: exactly one member.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItem {
    /// `ConditionCheck`
    pub condition_check: Option<TransactOperation>,
    /// `Put`
    pub put: Option<TransactOperation>,
    /// `Delete`
    pub delete: Option<TransactOperation>,
    /// `Update`
    pub update: Option<TransactOperation>,
}

/// `TransactWriteItems` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItemsInput {
    /// `TransactItems`
    pub transact_items: Option<Vec<TransactWriteItem>>,
    /// `ClientRequestToken`
    pub client_request_token: Option<String>,
    /// `ReturnConsumedCapacity`
    pub return_consumed_capacity: Option<String>,
    /// `ReturnItemCollectionMetrics`: SIZE or NONE.
    pub return_item_collection_metrics: Option<String>,
}

/// `TransactWriteItems` response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItemsOutput {
    /// `ConsumedCapacity`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<Vec<ConsumedCapacity>>,
    /// `ItemCollectionMetrics`: with `ReturnItemCollectionMetrics` `SIZE`,
    /// per table with a local secondary index, one entry per Put, Update or
    /// Delete on it (condition checks write nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_collection_metrics: Option<BTreeMap<String, Vec<ItemCollectionMetrics>>>,
}

/// `Get` of `TransactGetItems`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGet {
    /// `TableName`
    pub table_name: Option<String>,
    /// `Key`
    pub key: Option<Item>,
    /// `ProjectionExpression`
    pub projection_expression: Option<String>,
    /// `ExpressionAttributeNames`
    pub expression_attribute_names: Option<Names>,
}

/// `TransactItems` entry of `TransactGetItems`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGetItem {
    /// `Get`
    pub get: Option<TransactGet>,
}

/// `TransactGetItems` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGetItemsInput {
    /// `TransactItems`
    pub transact_items: Option<Vec<TransactGetItem>>,
    /// `ReturnConsumedCapacity`
    pub return_consumed_capacity: Option<String>,
}

/// `ItemResponse`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ItemResponse {
    /// `Item`, absent when not found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Item>,
}

/// `TransactGetItems` response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGetItemsOutput {
    /// `Responses`, in request order.
    pub responses: Vec<ItemResponse>,
    /// `ConsumedCapacity`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<Vec<ConsumedCapacity>>,
}

/// `ListStreams` request (DynamoDB Streams).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsInput {
    /// `TableName`
    pub table_name: Option<String>,
    /// `Limit`
    pub limit: Option<i64>,
    /// `ExclusiveStartStreamArn`
    pub exclusive_start_stream_arn: Option<String>,
}

/// One stream in `ListStreams`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSummary {
    /// `StreamArn`
    pub stream_arn: String,
    /// `TableName`
    pub table_name: String,
    /// `StreamLabel`
    pub stream_label: String,
}

/// `ListStreams` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsOutput {
    /// `Streams`
    pub streams: Vec<StreamSummary>,
    /// `LastEvaluatedStreamArn`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_stream_arn: Option<String>,
}

/// `DescribeStream` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamInput {
    /// `StreamArn`
    pub stream_arn: Option<String>,
    /// `Limit` (of shards).
    pub limit: Option<i64>,
    /// `ExclusiveStartShardId`
    pub exclusive_start_shard_id: Option<String>,
}

/// `SequenceNumberRange`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SequenceNumberRange {
    /// `StartingSequenceNumber`
    pub starting_sequence_number: String,
    /// `EndingSequenceNumber`, once the shard is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ending_sequence_number: Option<String>,
}

/// `Shard`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Shard {
    /// `ShardId`
    pub shard_id: String,
    /// `SequenceNumberRange`
    pub sequence_number_range: SequenceNumberRange,
}

/// `StreamDescription`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDescription {
    /// `StreamArn`
    pub stream_arn: String,
    /// `StreamLabel`
    pub stream_label: String,
    /// `StreamStatus`: ENABLED or DISABLED.
    pub stream_status: String,
    /// `StreamViewType`
    pub stream_view_type: String,
    /// `CreationRequestDateTime`
    pub creation_request_date_time: f64,
    /// `TableName`
    pub table_name: String,
    /// `KeySchema`
    pub key_schema: Vec<KeySchemaElement>,
    /// `Shards`
    pub shards: Vec<Shard>,
}

/// `DescribeStream` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamOutput {
    /// `StreamDescription`
    pub stream_description: StreamDescription,
}

/// `GetShardIterator` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorInput {
    /// `StreamArn`
    pub stream_arn: Option<String>,
    /// `ShardId`
    pub shard_id: Option<String>,
    /// `ShardIteratorType`: TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER or
    /// AFTER_SEQUENCE_NUMBER.
    pub shard_iterator_type: Option<String>,
    /// `SequenceNumber`
    pub sequence_number: Option<String>,
}

/// `GetShardIterator` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorOutput {
    /// `ShardIterator`
    pub shard_iterator: String,
}

/// `GetRecords` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsInput {
    /// `ShardIterator`
    pub shard_iterator: Option<String>,
    /// `Limit` (1 to 1000).
    pub limit: Option<i64>,
}

/// `GetRecords` response: records in DynamoDB Streams' JSON shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsOutput {
    /// `Records`
    pub records: Vec<Value>,
    /// `NextShardIterator`, absent once a closed shard is drained.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_shard_iterator: Option<String>,
}

/// `ExecuteStatement` request (PartiQL).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecuteStatementInput {
    /// `Statement`
    pub statement: Option<String>,
    /// `Parameters`, bound to `?` in order.
    pub parameters: Option<Vec<AttributeValue>>,
    /// `ConsistentRead`
    pub consistent_read: Option<bool>,
    /// `NextToken`
    pub next_token: Option<String>,
    /// `Limit`
    pub limit: Option<i64>,
    /// `ReturnConsumedCapacity` (accepted, not reported).
    pub return_consumed_capacity: Option<String>,
    /// `ReturnValuesOnConditionCheckFailure`
    pub return_values_on_condition_check_failure: Option<String>,
}

/// `ExecuteStatement` response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecuteStatementOutput {
    /// `Items`
    pub items: Vec<Item>,
    /// `NextToken`, when a SELECT has more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// `LastEvaluatedKey`, when a SELECT has more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_key: Option<Item>,
}

/// One statement of `BatchExecuteStatement`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchStatementRequest {
    /// `Statement`
    pub statement: Option<String>,
    /// `Parameters`
    pub parameters: Option<Vec<AttributeValue>>,
    /// `ConsistentRead`
    pub consistent_read: Option<bool>,
    /// `ReturnValuesOnConditionCheckFailure`
    pub return_values_on_condition_check_failure: Option<String>,
}

/// `BatchExecuteStatement` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchExecuteStatementInput {
    /// `Statements` (1 to 25).
    pub statements: Option<Vec<BatchStatementRequest>>,
    /// `ReturnConsumedCapacity` (accepted, not reported).
    pub return_consumed_capacity: Option<String>,
}

/// `Error` of one batch statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchStatementError {
    /// `Code`, e.g. `ConditionalCheckFailed`, `DuplicateItem`, `ValidationError`.
    pub code: String,
    /// `Message`
    pub message: String,
    /// `Item`, with `ReturnValuesOnConditionCheckFailure: ALL_OLD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Item>,
}

/// One response of `BatchExecuteStatement`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchStatementResponse {
    /// `TableName`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
    /// `Item` (reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Item>,
    /// `Error`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<BatchStatementError>,
}

/// `BatchExecuteStatement` response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchExecuteStatementOutput {
    /// `Responses`, in request order.
    pub responses: Vec<BatchStatementResponse>,
}

/// `ParameterizedStatement` of `ExecuteTransaction`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterizedStatement {
    /// `Statement`
    pub statement: Option<String>,
    /// `Parameters`
    pub parameters: Option<Vec<AttributeValue>>,
    /// `ReturnValuesOnConditionCheckFailure`
    pub return_values_on_condition_check_failure: Option<String>,
}

/// `ExecuteTransaction` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecuteTransactionInput {
    /// `TransactStatements` (1 to 100): all reads or all writes.
    pub transact_statements: Option<Vec<ParameterizedStatement>>,
    /// `ClientRequestToken`
    pub client_request_token: Option<String>,
    /// `ReturnConsumedCapacity` (accepted, not reported).
    pub return_consumed_capacity: Option<String>,
}

/// `ExecuteTransaction` response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecuteTransactionOutput {
    /// `Responses` (read transactions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responses: Option<Vec<ItemResponse>>,
}

#[cfg(test)]
mod tests {
    use expect_test::{expect, Expect};

    use super::*;

    fn check<T: DeserializeOwned + std::fmt::Debug>(body: &str, expect: Expect) {
        let rendered = match from_slice::<T>(body.as_bytes()) {
            Ok(value) => format!("{value:?}"),
            Err(error) => format!("{}: {}", error.type_name(), error.message),
        };
        expect.assert_eq(&rendered);
    }

    #[test]
    fn decoding() {
        check::<TableNameInput>(
            r#"{"TableName": "t", "Unknown": 1}"#,
            expect![[r#"TableNameInput { table_name: Some("t") }"#]],
        );
        check::<TableNameInput>(
            r#"{"TableName": 5}"#,
            expect!["SerializationException: NUMBER_VALUE cannot be converted to String"],
        );
        check::<GetItemInput>(
            r#"{"TableName": "t", "Key": {"a": {"N": "x"}}}"#,
            expect!["ValidationException: The parameter cannot be converted to a numeric value: x"],
        );
        check::<GetItemInput>(
            r#"{"TableName": "t", "Key": {"a": {"S": 1}}}"#,
            expect!["SerializationException: NUMBER_VALUE cannot be converted to String"],
        );
        check::<ListTablesInput>(
            r#"{"Limit": "x"}"#,
            expect!["SerializationException: STRING_VALUE cannot be converted to Long"],
        );
        check::<TableNameInput>(
            r#"{"TableName": "t""#,
            expect!["SerializationException: Start of structure or map found where not expected"],
        );
    }
}
