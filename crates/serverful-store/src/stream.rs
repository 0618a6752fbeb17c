//! DynamoDB Streams semantics: whether a write produces a record, its event
//! name, and which images a stream keeps for its `StreamViewType`.

use crate::key::KeySchema;
use crate::value::Item;

/// `StreamViewType`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamViewType {
    /// Only the key attributes.
    KeysOnly,
    /// The item after the change.
    NewImage,
    /// The item before the change.
    OldImage,
    /// Both.
    NewAndOldImages,
}

/// `eventName` of a stream record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    /// A new item.
    Insert,
    /// A changed item.
    Modify,
    /// A deleted item.
    Remove,
}

impl EventName {
    /// The wire name (`INSERT`, `MODIFY`, `REMOVE`).
    pub fn name(self) -> &'static str {
        match self {
            EventName::Insert => "INSERT",
            EventName::Modify => "MODIFY",
            EventName::Remove => "REMOVE",
        }
    }
}

/// The contents of one stream record.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamChange {
    /// What happened.
    pub event_name: EventName,
    /// The item's key attributes.
    pub keys: Item,
    /// `NewImage`, when the view type includes it.
    pub new_image: Option<Item>,
    /// `OldImage`, when the view type includes it.
    pub old_image: Option<Item>,
}

/// The record a write produces, or `None` when it changed nothing (DynamoDB
/// writes no record for a put or update that leaves the item as it was).
pub fn stream_change(
    view_type: StreamViewType,
    key_schema: &KeySchema,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Option<StreamChange> {
    let (event_name, any) = match (old, new) {
        (None, None) => return None,
        (Some(old), Some(new)) if old == new => return None,
        (None, Some(new)) => (EventName::Insert, new),
        (Some(_), Some(new)) => (EventName::Modify, new),
        (Some(old), None) => (EventName::Remove, old),
    };
    let wants_new = matches!(
        view_type,
        StreamViewType::NewImage | StreamViewType::NewAndOldImages
    );
    let wants_old = matches!(
        view_type,
        StreamViewType::OldImage | StreamViewType::NewAndOldImages
    );
    Some(StreamChange {
        event_name,
        keys: key_schema.key_of(any),
        new_image: if wants_new { new.cloned() } else { None },
        old_image: if wants_old { old.cloned() } else { None },
    })
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::key::{KeyAttribute, ScalarType};
    use crate::value::item_from_json;

    #[test]
    fn records() {
        let schema = KeySchema {
            partition_key: KeyAttribute {
                name: "pk".into(),
                scalar_type: ScalarType::S,
            },
            sort_key: None,
        };
        let old =
            item_from_json(&serde_json::json!({"pk": {"S": "1"}, "v": {"N": "1"}})).expect("valid");
        let new =
            item_from_json(&serde_json::json!({"pk": {"S": "1"}, "v": {"N": "2"}})).expect("valid");
        let render = |change: Option<StreamChange>| format!("{change:?}");
        expect![[r#"Some(StreamChange { event_name: Modify, keys: {"pk": {S: 1}}, new_image: Some({"pk": {S: 1}, "v": {N: 2}}), old_image: None })"#]]
            .assert_eq(&render(stream_change(StreamViewType::NewImage, &schema, Some(&old), Some(&new))));
        expect![[r#"Some(StreamChange { event_name: Remove, keys: {"pk": {S: 1}}, new_image: None, old_image: None })"#]]
            .assert_eq(&render(stream_change(StreamViewType::KeysOnly, &schema, Some(&old), None)));
        expect![[r#"Some(StreamChange { event_name: Insert, keys: {"pk": {S: 1}}, new_image: Some({"pk": {S: 1}, "v": {N: 2}}), old_image: None })"#]]
            .assert_eq(&render(stream_change(StreamViewType::NewAndOldImages, &schema, None, Some(&new))));
        expect!["None"].assert_eq(&render(stream_change(
            StreamViewType::NewAndOldImages,
            &schema,
            Some(&old),
            Some(&old),
        )));
    }
}
