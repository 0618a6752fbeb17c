//! Query and Scan paging: the 1 MB page limit, `LastEvaluatedKey`,
//! `ExclusiveStartKey` checks and parallel scan segments.

use crate::error::{StoreError, StoreResult};
use crate::key::{encode_key_value, KeySchema, ScalarType};
use crate::value::Item;

/// DynamoDB stops a Query or Scan page once it has read this many bytes.
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// The most segments a parallel Scan may use.
pub const MAX_TOTAL_SEGMENTS: u32 = 1_000_000;

/// The `LastEvaluatedKey` for the last item of a page: the table's key
/// attributes, plus the index's when reading an index.
pub fn last_evaluated_key(
    table_key: &KeySchema,
    index_key: Option<&KeySchema>,
    item: &Item,
) -> Item {
    let mut key = table_key.key_of(item);
    if let Some(index_key) = index_key {
        key.extend(index_key.key_of(item));
    }
    key
}

/// Which read an `ExclusiveStartKey` is for: Query and Scan word some of its faults
/// differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartKeyFor {
    /// `Query`
    Query,
    /// `Scan`
    Scan,
}

/// Checks an `ExclusiveStartKey`: exactly the table's key attributes (and the
/// index's when reading an index), each with its declared type, worded as DynamoDB
/// words each fault:
/// - the wrong number of attributes, or one missing: "The provided starting key is
///   invalid" (a Scan of a table adds ": The provided key element does not match the
///   schema" to a wrong count);
/// - a mistyped attribute of the key being read: "The provided key element does not
///   match the schema", except in a Scan of the table itself, which prefixes it with
///   "The provided starting key is invalid: ";
/// - a mistyped table key attribute while reading an index: the prefixed form.
pub fn check_exclusive_start_key(
    table_key: &KeySchema,
    index_key: Option<&KeySchema>,
    start_key: &Item,
    read: StartKeyFor,
) -> StoreResult<()> {
    const MISMATCH: &str = "The provided key element does not match the schema";
    let invalid = || StoreError::validation("The provided starting key is invalid");
    let invalid_because = |reason: &str| {
        StoreError::validation(format!("The provided starting key is invalid: {reason}"))
    };
    let mut names: Vec<&str> = table_key
        .attributes()
        .chain(index_key.into_iter().flat_map(KeySchema::attributes))
        .map(|attribute| attribute.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    if start_key.len() != names.len() {
        return Err(match (read, index_key) {
            (StartKeyFor::Scan, None) => invalid_because(MISMATCH),
            _ => invalid(),
        });
    }
    let read_key = index_key.unwrap_or(table_key);
    let table_scan = read == StartKeyFor::Scan && index_key.is_none();
    for attribute in read_key.attributes() {
        let value = start_key.get(&attribute.name).ok_or_else(|| {
            if table_scan {
                invalid_because(MISMATCH)
            } else {
                invalid()
            }
        })?;
        if ScalarType::of(value) != Some(attribute.scalar_type) {
            return Err(if table_scan {
                invalid_because(MISMATCH)
            } else {
                StoreError::validation(MISMATCH)
            });
        }
    }
    if index_key.is_some() {
        for attribute in table_key.attributes() {
            let value = start_key.get(&attribute.name).ok_or_else(invalid)?;
            if ScalarType::of(value) != Some(attribute.scalar_type) {
                return Err(invalid_because(MISMATCH));
            }
        }
    }
    Ok(())
}

/// Checks `Segment` and `TotalSegments` of a parallel Scan, as DynamoDB words it.
pub fn check_segments(segment: Option<u32>, total_segments: Option<u32>) -> StoreResult<()> {
    match (segment, total_segments) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(StoreError::validation(
            "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
        )),
        (None, Some(_)) => Err(StoreError::validation(
            "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
        )),
        (Some(segment), Some(total)) if segment >= total => Err(StoreError::validation(format!(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
        ))),
        _ => Ok(()),
    }
}

/// The parallel-scan segment an item belongs to: a stable hash of its encoded
/// partition key, so every item falls in exactly one segment and all items of
/// a partition fall in the same one.
pub fn segment_of(table_key: &KeySchema, item: &Item, total_segments: u32) -> StoreResult<u32> {
    let value = item.get(&table_key.partition_key.name).ok_or_else(|| {
        StoreError::validation("The provided key element does not match the schema")
    })?;
    let encoded = encode_key_value(value)?;
    // FNV-1a: tiny, stable across versions and platforms, good enough spread.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in encoded {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let total = u64::from(total_segments.max(1));
    Ok(u32::try_from(hash % total).expect("the remainder is below a u32 total"))
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::key::KeyAttribute;
    use crate::value::{item_from_json, AttributeValue};

    fn table_key() -> KeySchema {
        KeySchema {
            partition_key: KeyAttribute {
                name: "pk".into(),
                scalar_type: ScalarType::S,
            },
            sort_key: Some(KeyAttribute {
                name: "sk".into(),
                scalar_type: ScalarType::N,
            }),
        }
    }

    fn index_key() -> KeySchema {
        KeySchema {
            partition_key: KeyAttribute {
                name: "owner".into(),
                scalar_type: ScalarType::S,
            },
            sort_key: None,
        }
    }

    #[test]
    fn start_keys() {
        let item = item_from_json(&serde_json::json!({
            "pk": {"S": "a"}, "sk": {"N": "1"}, "owner": {"S": "ann"}, "other": {"S": "x"}
        }))
        .expect("valid");
        let key = last_evaluated_key(&table_key(), Some(&index_key()), &item);
        expect![[r#"{"owner": {S: ann}, "pk": {S: a}, "sk": {N: 1}}"#]]
            .assert_eq(&format!("{key:?}"));
        assert!(check_exclusive_start_key(
            &table_key(),
            Some(&index_key()),
            &key,
            StartKeyFor::Query
        )
        .is_ok());
        let table_only = last_evaluated_key(&table_key(), None, &item);
        expect!["ValidationException: The provided starting key is invalid"].assert_eq(
            &check_exclusive_start_key(
                &table_key(),
                Some(&index_key()),
                &table_only,
                StartKeyFor::Query,
            )
            .expect_err("short")
            .to_string(),
        );
        let mut wrong_type = table_only.clone();
        wrong_type.insert("sk".into(), AttributeValue::S("1".into()));
        assert!(
            check_exclusive_start_key(&table_key(), None, &wrong_type, StartKeyFor::Scan).is_err()
        );
    }

    #[test]
    fn segments() {
        assert!(check_segments(None, None).is_ok());
        expect!["ValidationException: The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 5 is not less than TotalSegments: 5"]
            .assert_eq(&check_segments(Some(5), Some(5)).expect_err("out of range").to_string());
        let mut counts = [0usize; 4];
        for index in 0..400 {
            let item: Item = [("pk".to_owned(), AttributeValue::S(format!("key-{index}")))].into();
            let segment = segment_of(&table_key(), &item, 4).expect("has a partition key");
            counts[segment as usize] += 1;
        }
        assert!(
            counts.iter().all(|&count| count > 50),
            "segments are balanced: {counts:?}"
        );
    }
}
