//! A JSON tree that keeps object members in document order, duplicates included.
//!
//! `serde_json::Value` sorts object keys (the workspace does not enable `preserve_order`,
//! and turning it on would change every other crate's output), but EventBridge reports
//! the first problem of a pattern in document order and lets a later duplicate key win,
//! so the pattern parser reads this tree instead.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// One JSON value, objects as ordered member lists.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Node {
    /// Parses JSON text; serde_json's own nesting limit (128) bounds the depth.
    pub(crate) fn parse(text: &str) -> Result<Node, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The text EventBridge's parser shows for this token in its messages: a scalar's
    /// own text, or the opening bracket of a container.
    pub(crate) fn token_text(&self) -> String {
        match self {
            Node::Null => "null".to_string(),
            Node::Bool(value) => value.to_string(),
            Node::Number(number) => number.to_string(),
            Node::String(text) => text.clone(),
            Node::Array(_) => "[".to_string(),
            Node::Object(_) => "{".to_string(),
        }
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Node::Number(number) => number.as_f64(),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Node, E> {
        Ok(Node::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Node, E> {
        Ok(Node::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Node, E> {
        Ok(Node::Number(value.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Node, E> {
        serde_json::Number::from_f64(value)
            .map(Node::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, value: &str) -> Result<Node, E> {
        Ok(Node::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Node, E> {
        Ok(Node::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            members.push((key, value));
        }
        Ok(Node::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_member_order_and_duplicates() {
        let node = Node::parse(r#"{"b": 1, "a": [true, null], "b": "x"}"#).expect("valid JSON");
        let Node::Object(members) = node else {
            panic!("an object")
        };
        let keys: Vec<&str> = members.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["b", "a", "b"]);
        assert_eq!(
            members[1].1,
            Node::Array(vec![Node::Bool(true), Node::Null])
        );
    }

    #[test]
    fn token_text_is_what_messages_show() {
        assert_eq!(Node::parse("[1]").expect("valid").token_text(), "[");
        assert_eq!(Node::parse("2.5").expect("valid").token_text(), "2.5");
        assert_eq!(Node::parse("\"<\"").expect("valid").token_text(), "<");
    }
}
