//! DynamoDB Streams: a record per item change on tables with a stream
//! (written in the same atomic batch as the change), and the Streams API —
//! ListStreams, DescribeStream, GetShardIterator, GetRecords — over one shard
//! per stream, with 24 hours of retention.

use std::sync::{Arc, PoisonError};

use serde_json::{json, Value};

use super::validate::Violations;
use super::{Store, Table};
use crate::api::{
    DescribeStreamInput, DescribeStreamOutput, GetRecordsInput, GetRecordsOutput,
    GetShardIteratorInput, GetShardIteratorOutput, KeySchemaElement, ListStreamsInput,
    ListStreamsOutput, SequenceNumberRange, Shard, StreamDescription, StreamSummary,
};
use crate::backend::{StreamRecord, Write};
use crate::error::{ErrorKind, StoreError, StoreResult};
use crate::stream::{stream_change, StreamViewType};
use crate::value::{item_size, item_to_json, Item};

/// How long stream records are kept.
pub(crate) const RETENTION_SECONDS: i64 = 24 * 60 * 60;
/// The most records one GetRecords returns.
const MAX_RECORDS: usize = 1000;

fn view_type(name: &str) -> Option<StreamViewType> {
    match name {
        "KEYS_ONLY" => Some(StreamViewType::KeysOnly),
        "NEW_IMAGE" => Some(StreamViewType::NewImage),
        "OLD_IMAGE" => Some(StreamViewType::OldImage),
        "NEW_AND_OLD_IMAGES" => Some(StreamViewType::NewAndOldImages),
        _ => None,
    }
}

/// The backend's key for a table's stream with a given label.
pub(super) fn stream_key(table: &Table, label: &str) -> String {
    format!("{}/{label}", table.meta.id)
}

/// Sequence numbers as DynamoDB shows them: decimal strings that sort in
/// numeric order.
fn sequence_text(sequence: u64) -> String {
    format!("{sequence:021}")
}

/// FNV-1a: stable across builds, so shard ids and event ids never change
/// under a running consumer.
fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub(super) fn shard_id(table: &Table, label: &str) -> String {
    format!(
        "shardId-{:020}-{:08x}",
        (table.meta.created * 1000.0) as u64,
        stable_hash(label.as_bytes()) as u32
    )
}

fn not_found(arn: &str) -> StoreError {
    StoreError::new(
        ErrorKind::ResourceNotFound,
        format!("Requested resource not found: Stream: {arn} not found"),
    )
}

fn invalid_iterator() -> StoreError {
    StoreError::validation("Invalid ShardIterator")
}

/// A stored record as `GetRecords` shows it: with its `eventID` and `SequenceNumber`.
pub(super) fn render_record(table: &Table, record: &StreamRecord) -> StoreResult<Value> {
    let mut value: Value = serde_json::from_slice(&record.record)
        .map_err(|error| StoreError::internal(format!("corrupt stream record: {error}")))?;
    let seed = format!("{}/{}", table.meta.id, record.sequence);
    value["eventID"] = Value::String(format!(
        "{:016x}{:016x}",
        stable_hash(seed.as_bytes()),
        record.sequence
    ));
    value["dynamodb"]["SequenceNumber"] = Value::String(sequence_text(record.sequence));
    Ok(value)
}

impl Store {
    /// Appends the stream record of a change, when the table has a stream and
    /// the change is one.
    pub(crate) fn stream_write(
        &self,
        table: &Table,
        old: Option<&Item>,
        new: Option<&Item>,
        by_ttl: bool,
        writes: &mut Vec<Write>,
    ) {
        let (Some(view_name), Some(label)) =
            (&table.meta.stream_view_type, &table.meta.stream_label)
        else {
            return;
        };
        let Some(view) = view_type(view_name) else {
            return;
        };
        let Some(change) = stream_change(view, &table.key, old, new) else {
            return;
        };
        let now = self.now();
        let size = item_size(&change.keys)
            + change.new_image.as_ref().map_or(0, item_size)
            + change.old_image.as_ref().map_or(0, item_size);
        let mut dynamodb = json!({
            "ApproximateCreationDateTime": now.floor(),
            "Keys": item_to_json(&change.keys),
            "SizeBytes": size,
            "StreamViewType": view_name,
        });
        if let Some(image) = &change.new_image {
            dynamodb["NewImage"] = item_to_json(image);
        }
        if let Some(image) = &change.old_image {
            dynamodb["OldImage"] = item_to_json(image);
        }
        let mut record = json!({
            "awsRegion": self.config.region,
            "dynamodb": dynamodb,
            "eventName": change.event_name.name(),
            "eventSource": "aws:dynamodb",
            "eventVersion": "1.1",
        });
        if by_ttl {
            record["userIdentity"] =
                json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
        }
        writes.push(Write::AppendStream {
            stream: stream_key(table, label),
            created: now.floor() as i64,
            record: serde_json::to_vec(&record).expect("JSON values serialize"),
        });
    }

    /// The writes of a TTL deletion: like a user delete, but its stream record
    /// names the DynamoDB service as the actor.
    pub(crate) fn expiry_writes(
        &self,
        table: &Table,
        key: &(Vec<u8>, Vec<u8>),
        current: &Item,
        writes: &mut Vec<Write>,
    ) -> StoreResult<()> {
        let mut item_writes = Vec::new();
        self.item_writes(table, key, Some(current), None, &mut item_writes)?;
        // Replace the user-attributed record item_writes added, if any.
        item_writes.retain(|write| !matches!(write, Write::AppendStream { .. }));
        self.stream_write(table, Some(current), None, true, writes);
        writes.extend(item_writes);
        Ok(())
    }

    pub(super) fn stream_arn(&self, table: &Table, label: &str) -> String {
        format!(
            "{}/stream/{label}",
            super::table_arn(
                &self.config.region,
                &self.config.account_id,
                &table.meta.name
            )
        )
    }

    /// The table and label a stream ARN names.
    fn stream_of_arn(&self, arn: &str) -> StoreResult<(Arc<Table>, String)> {
        let prefix = super::table_arn(&self.config.region, &self.config.account_id, "");
        let (name, label) = arn
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split_once("/stream/"))
            .ok_or_else(|| not_found(arn))?;
        let table = self.table(name).map_err(|_| not_found(arn))?;
        if table.meta.stream_label.as_deref() != Some(label) {
            return Err(not_found(arn));
        }
        Ok((table, label.to_owned()))
    }

    /// `ListStreams` (DynamoDB Streams): the latest stream of each table.
    pub fn list_streams(&self, input: ListStreamsInput) -> StoreResult<ListStreamsOutput> {
        self.list_streams_where(input, &|_| true)
    }

    /// `ListStreams` over the streams of the tables `visible` keeps: pages, limits and
    /// `LastEvaluatedStreamArn` count only those.
    pub fn list_streams_where(
        &self,
        input: ListStreamsInput,
        visible: &dyn Fn(&str) -> bool,
    ) -> StoreResult<ListStreamsOutput> {
        let mut violations = Violations::new();
        if let Some(name) = &input.table_name {
            violations.name_pattern(name, "tableName");
        }
        violations.at_least(input.limit, "limit", 1);
        violations.at_most(input.limit, "limit", 100);
        violations.finish()?;
        let limit = usize::try_from(input.limit.unwrap_or(100)).unwrap_or(100);
        let tables = self.tables.read().unwrap_or_else(PoisonError::into_inner);
        let mut streams: Vec<StreamSummary> = tables
            .values()
            .filter(|table| visible(&table.meta.name))
            .filter(|table| {
                input
                    .table_name
                    .as_ref()
                    .is_none_or(|name| *name == table.meta.name)
            })
            .filter_map(|table| {
                let label = table.meta.stream_label.as_ref()?;
                Some(StreamSummary {
                    stream_arn: self.stream_arn(table, label),
                    table_name: table.meta.name.clone(),
                    stream_label: label.clone(),
                })
            })
            .filter(|summary| {
                input
                    .exclusive_start_stream_arn
                    .as_ref()
                    .is_none_or(|start| summary.stream_arn > *start)
            })
            .collect();
        let more = streams.len() > limit;
        streams.truncate(limit);
        Ok(ListStreamsOutput {
            last_evaluated_stream_arn: if more {
                streams.last().map(|summary| summary.stream_arn.clone())
            } else {
                None
            },
            streams,
        })
    }

    /// `DescribeStream`: one shard per stream.
    pub fn describe_stream(&self, input: DescribeStreamInput) -> StoreResult<DescribeStreamOutput> {
        let mut violations = Violations::new();
        violations.required(input.stream_arn.as_ref(), "streamArn");
        violations.finish()?;
        let arn = input.stream_arn.unwrap_or_default();
        let (table, label) = self.stream_of_arn(&arn)?;
        let key = stream_key(&table, &label);
        let first = self.backend.stream_records(&key, 0, 1)?;
        let enabled = table.meta.stream_view_type.is_some();
        let ending = if enabled {
            None
        } else {
            // A closed shard ends at its last record.
            let mut last = None;
            let mut after = 0;
            loop {
                let records = self.backend.stream_records(&key, after, MAX_RECORDS)?;
                match records.last() {
                    Some(record) => {
                        after = record.sequence;
                        last = Some(record.sequence);
                    }
                    None => break,
                }
            }
            Some(sequence_text(last.unwrap_or(0)))
        };
        let key_schema = std::iter::once(KeySchemaElement {
            attribute_name: Some(table.meta.partition_key.clone()),
            key_type: Some("HASH".to_owned()),
        })
        .chain(table.meta.sort_key.as_ref().map(|sort| KeySchemaElement {
            attribute_name: Some(sort.clone()),
            key_type: Some("RANGE".to_owned()),
        }))
        .collect();
        Ok(DescribeStreamOutput {
            stream_description: StreamDescription {
                stream_arn: arn,
                stream_status: if enabled { "ENABLED" } else { "DISABLED" }.to_owned(),
                stream_view_type: table.meta.last_stream_view_type.clone().unwrap_or_default(),
                creation_request_date_time: table.meta.created,
                table_name: table.meta.name.clone(),
                key_schema,
                shards: vec![Shard {
                    shard_id: shard_id(&table, &label),
                    sequence_number_range: SequenceNumberRange {
                        starting_sequence_number: sequence_text(
                            first.first().map_or(1, |record| record.sequence),
                        ),
                        ending_sequence_number: ending,
                    },
                }],
                stream_label: label,
            },
        })
    }

    /// `GetShardIterator`
    pub fn get_shard_iterator(
        &self,
        input: GetShardIteratorInput,
    ) -> StoreResult<GetShardIteratorOutput> {
        let mut violations = Violations::new();
        violations.required(input.stream_arn.as_ref(), "streamArn");
        violations.required(input.shard_id.as_ref(), "shardId");
        violations.required(input.shard_iterator_type.as_ref(), "shardIteratorType");
        violations.one_of(
            input.shard_iterator_type.as_ref(),
            "shardIteratorType",
            &[
                "TRIM_HORIZON",
                "LATEST",
                "AT_SEQUENCE_NUMBER",
                "AFTER_SEQUENCE_NUMBER",
            ],
        );
        violations.finish()?;
        let arn = input.stream_arn.clone().unwrap_or_default();
        let (table, label) = self.stream_of_arn(&arn)?;
        let shard = input.shard_id.clone().unwrap_or_default();
        if shard != shard_id(&table, &label) {
            return Err(StoreError::new(
                ErrorKind::ResourceNotFound,
                format!("Requested resource not found: Shard does not exist: {shard}"),
            ));
        }
        let key = stream_key(&table, &label);
        let sequence = || -> StoreResult<u64> {
            input
                .sequence_number
                .as_deref()
                .and_then(|text| text.parse::<u64>().ok())
                .ok_or_else(|| {
                    StoreError::validation(
                        "Must provide a valid sequence number with AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER",
                    )
                })
        };
        let after = match input.shard_iterator_type.as_deref() {
            Some("LATEST") => {
                let mut after = 0;
                loop {
                    let records = self.backend.stream_records(&key, after, MAX_RECORDS)?;
                    match records.last() {
                        Some(record) => after = record.sequence,
                        None => break after,
                    }
                }
            }
            Some("AT_SEQUENCE_NUMBER") => sequence()?.saturating_sub(1),
            Some("AFTER_SEQUENCE_NUMBER") => sequence()?,
            _ => 0,
        };
        Ok(GetShardIteratorOutput {
            shard_iterator: format!("{}|{label}|{after}", table.meta.name),
        })
    }

    /// `GetRecords`: up to `Limit` records after the iterator's position.
    pub fn get_records(&self, input: GetRecordsInput) -> StoreResult<GetRecordsOutput> {
        let mut violations = Violations::new();
        violations.required(input.shard_iterator.as_ref(), "shardIterator");
        violations.at_least(input.limit, "limit", 1);
        violations.at_most(input.limit, "limit", 1000);
        violations.finish()?;
        let iterator = input.shard_iterator.unwrap_or_default();
        let mut parts = iterator.rsplitn(3, '|');
        let (Some(after), Some(label), Some(name)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid_iterator());
        };
        let after = after.parse::<u64>().map_err(|_| invalid_iterator())?;
        let table = self.table(name).map_err(|_| invalid_iterator())?;
        if table.meta.stream_label.as_deref() != Some(label) {
            return Err(StoreError::new(
                ErrorKind::ExpiredIterator,
                "Iterator expired. The iterator was created over 15 minutes ago or the stream no longer exists.",
            ));
        }
        let limit = usize::try_from(input.limit.unwrap_or(1000)).unwrap_or(MAX_RECORDS);
        let stored = self
            .backend
            .stream_records(&stream_key(&table, label), after, limit)?;
        let records = stored
            .iter()
            .map(|record| render_record(&table, record))
            .collect::<StoreResult<Vec<Value>>>()?;
        let position = stored.last().map_or(after, |record| record.sequence);
        let closed = table.meta.stream_view_type.is_none();
        Ok(GetRecordsOutput {
            next_shard_iterator: if closed && stored.is_empty() {
                None
            } else {
                Some(format!("{}|{label}|{position}", table.meta.name))
            },
            records,
        })
    }
}
