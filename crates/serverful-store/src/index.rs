//! Secondary indexes (GSI and LSI): which items an index holds and which of
//! their attributes it keeps, with DynamoDB's checks on index key values.

use crate::error::{StoreError, StoreResult};
use crate::key::{KeySchema, ScalarType};
use crate::value::{AttributeValue, Item};

/// Which attributes an index stores (`Projection.ProjectionType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexProjection {
    /// `KEYS_ONLY`: the table's and the index's key attributes.
    KeysOnly,
    /// `INCLUDE`: the keys plus `NonKeyAttributes`.
    Include(Vec<String>),
    /// `ALL`: every attribute.
    All,
}

/// A global or local secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondaryIndex {
    /// `IndexName`
    pub name: String,
    /// The index's own key.
    pub key_schema: KeySchema,
    /// What it stores besides keys.
    pub projection: IndexProjection,
}

impl SecondaryIndex {
    /// Checks the index key attributes an item to be written carries: present
    /// ones must have the declared type and not be empty. An item without them
    /// is fine; it is simply absent from the index.
    pub fn check_item(&self, item: &Item) -> StoreResult<()> {
        for attribute in self.key_schema.attributes() {
            let Some(value) = item.get(&attribute.name) else {
                continue;
            };
            let actual = ScalarType::of(value)
                .map_or_else(|| value.attribute_type().name(), ScalarType::name);
            if ScalarType::of(value) != Some(attribute.scalar_type) {
                return Err(StoreError::validation(format!(
                    "One or more parameter values were invalid: Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                    attribute.name,
                    attribute.scalar_type.name(),
                    actual,
                    self.name
                )));
            }
            let empty = match value {
                AttributeValue::S(text) => text.is_empty(),
                AttributeValue::B(bytes) => bytes.is_empty(),
                _ => false,
            };
            if empty {
                let kind = if attribute.scalar_type == ScalarType::S {
                    "string"
                } else {
                    "binary"
                };
                return Err(StoreError::validation(format!(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {kind} value. IndexName: {}, IndexKey: {}",
                    self.name, attribute.name
                )));
            }
        }
        Ok(())
    }

    /// The entry this index holds for an item of a table with `table_key`, or
    /// `None` when the item lacks an index key attribute (a sparse index).
    pub fn entry(&self, table_key: &KeySchema, item: &Item) -> Option<Item> {
        if self
            .key_schema
            .attributes()
            .any(|attribute| !item.contains_key(&attribute.name))
        {
            return None;
        }
        if self.projection == IndexProjection::All {
            return Some(item.clone());
        }
        let keys = table_key
            .attributes()
            .chain(self.key_schema.attributes())
            .map(|attribute| &attribute.name);
        let included: Vec<&String> = match &self.projection {
            IndexProjection::Include(names) => names.iter().collect(),
            _ => Vec::new(),
        };
        Some(
            keys.chain(included)
                .filter_map(|name| item.get(name).map(|value| (name.clone(), value.clone())))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::key::KeyAttribute;
    use crate::value::item_from_json;

    fn table_key() -> KeySchema {
        KeySchema {
            partition_key: KeyAttribute {
                name: "pk".into(),
                scalar_type: ScalarType::S,
            },
            sort_key: None,
        }
    }

    fn index(projection: IndexProjection) -> SecondaryIndex {
        SecondaryIndex {
            name: "by_owner".into(),
            key_schema: KeySchema {
                partition_key: KeyAttribute {
                    name: "owner".into(),
                    scalar_type: ScalarType::S,
                },
                sort_key: Some(KeyAttribute {
                    name: "at".into(),
                    scalar_type: ScalarType::N,
                }),
            },
            projection,
        }
    }

    #[test]
    fn entries() {
        let item = item_from_json(&serde_json::json!({
            "pk": {"S": "1"}, "owner": {"S": "ann"}, "at": {"N": "5"}, "title": {"S": "t"}, "body": {"S": "b"}
        }))
        .expect("valid");
        let render = |entry: Option<Item>| format!("{entry:?}");
        expect![[r#"Some({"at": {N: 5}, "owner": {S: ann}, "pk": {S: 1}})"#]].assert_eq(&render(
            index(IndexProjection::KeysOnly).entry(&table_key(), &item),
        ));
        expect![[r#"Some({"at": {N: 5}, "owner": {S: ann}, "pk": {S: 1}, "title": {S: t}})"#]]
            .assert_eq(&render(
                index(IndexProjection::Include(vec![
                    "title".into(),
                    "absent".into(),
                ]))
                .entry(&table_key(), &item),
            ));
        let mut sparse = item.clone();
        sparse.remove("at");
        expect!["None"].assert_eq(&render(
            index(IndexProjection::All).entry(&table_key(), &sparse),
        ));
    }

    #[test]
    fn key_checks() {
        let wrong = item_from_json(&serde_json::json!({"pk": {"S": "1"}, "at": {"S": "5"}}))
            .expect("valid");
        expect!["ValidationException: One or more parameter values were invalid: Type mismatch for Index Key at Expected: N Actual: S IndexName: by_owner"]
            .assert_eq(&index(IndexProjection::All).check_item(&wrong).expect_err("type").to_string());
        let empty = item_from_json(&serde_json::json!({"pk": {"S": "1"}, "owner": {"S": ""}}))
            .expect("valid");
        expect!["ValidationException: One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: by_owner, IndexKey: owner"]
            .assert_eq(&index(IndexProjection::All).check_item(&empty).expect_err("empty").to_string());
    }
}
