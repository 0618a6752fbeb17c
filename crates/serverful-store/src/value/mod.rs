//! DynamoDB attribute values: the typed model, conversion from and to the JSON
//! wire shape (`{"S": "x"}`, `{"N": "1.5"}`, …) with DynamoDB's validation
//! messages, and the item size DynamoDB charges and limits.

mod number;
pub(crate) mod wire;

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::{StoreError, StoreResult};

pub use number::{Number, MAX_EXPONENT, MAX_SIGNIFICANT_DIGITS, MIN_EXPONENT};

/// An item: attribute names to values, ordered by name for stable output.
pub type Item = BTreeMap<String, AttributeValue>;

/// The largest item DynamoDB stores, in bytes (400 KB).
pub const MAX_ITEM_SIZE: usize = 400 * 1024;

/// One DynamoDB value.
///
/// Sets are kept sorted and without duplicates, so two sets with the same
/// members compare equal whatever order the client sent them in (DynamoDB does
/// not preserve set order either).
#[derive(Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// A UTF-8 string.
    S(String),
    /// A number.
    N(Number),
    /// Binary data (base64 on the wire).
    B(Vec<u8>),
    /// A string set, sorted bytewise.
    SS(Vec<String>),
    /// A number set, sorted numerically.
    NS(Vec<Number>),
    /// A binary set, sorted bytewise.
    BS(Vec<Vec<u8>>),
    /// A map of names to values.
    M(BTreeMap<String, AttributeValue>),
    /// A list of values.
    L(Vec<AttributeValue>),
    /// The null value (`{"NULL": true}`).
    Null,
    /// A boolean.
    Bool(bool),
}

/// The ten DynamoDB data type descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttributeType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
    /// String set.
    SS,
    /// Number set.
    NS,
    /// Binary set.
    BS,
    /// Map.
    M,
    /// List.
    L,
    /// Null.
    Null,
    /// Boolean.
    Bool,
}

impl AttributeType {
    /// The descriptor as it appears on the wire (`S`, `NULL`, `BOOL`, …).
    pub fn name(self) -> &'static str {
        match self {
            AttributeType::S => "S",
            AttributeType::N => "N",
            AttributeType::B => "B",
            AttributeType::SS => "SS",
            AttributeType::NS => "NS",
            AttributeType::BS => "BS",
            AttributeType::M => "M",
            AttributeType::L => "L",
            AttributeType::Null => "NULL",
            AttributeType::Bool => "BOOL",
        }
    }

    /// Parses a wire descriptor; `None` for anything else (case matters).
    pub fn from_name(name: &str) -> Option<AttributeType> {
        Some(match name {
            "S" => AttributeType::S,
            "N" => AttributeType::N,
            "B" => AttributeType::B,
            "SS" => AttributeType::SS,
            "NS" => AttributeType::NS,
            "BS" => AttributeType::BS,
            "M" => AttributeType::M,
            "L" => AttributeType::L,
            "NULL" => AttributeType::Null,
            "BOOL" => AttributeType::Bool,
            _ => return None,
        })
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl AttributeValue {
    /// This value's data type.
    pub fn attribute_type(&self) -> AttributeType {
        match self {
            AttributeValue::S(_) => AttributeType::S,
            AttributeValue::N(_) => AttributeType::N,
            AttributeValue::B(_) => AttributeType::B,
            AttributeValue::SS(_) => AttributeType::SS,
            AttributeValue::NS(_) => AttributeType::NS,
            AttributeValue::BS(_) => AttributeType::BS,
            AttributeValue::M(_) => AttributeType::M,
            AttributeValue::L(_) => AttributeType::L,
            AttributeValue::Null => AttributeType::Null,
            AttributeValue::Bool(_) => AttributeType::Bool,
        }
    }

    /// A string set from members in any order; duplicates are dropped.
    pub fn string_set(members: impl IntoIterator<Item = String>) -> AttributeValue {
        let mut members: Vec<String> = members.into_iter().collect();
        members.sort();
        members.dedup();
        AttributeValue::SS(members)
    }

    /// A number set from members in any order; duplicates are dropped.
    pub fn number_set(members: impl IntoIterator<Item = Number>) -> AttributeValue {
        let mut members: Vec<Number> = members.into_iter().collect();
        members.sort();
        members.dedup();
        AttributeValue::NS(members)
    }

    /// A binary set from members in any order; duplicates are dropped.
    pub fn binary_set(members: impl IntoIterator<Item = Vec<u8>>) -> AttributeValue {
        let mut members: Vec<Vec<u8>> = members.into_iter().collect();
        members.sort();
        members.dedup();
        AttributeValue::BS(members)
    }

    /// Parses the JSON wire shape of one value, validating it as DynamoDB does.
    pub fn from_json(json: &Value) -> StoreResult<AttributeValue> {
        wire::deserialize_value(json).unwrap_or_else(|error| {
            // A `Value` is well-formed JSON by construction.
            Err(StoreError::serialization(error.to_string()))
        })
    }

    /// The JSON wire shape of this value, as a `serde_json::Value` (responses are
    /// serialized straight from the value, through its `Serialize`).
    pub fn to_json(&self) -> Value {
        let (name, payload) = match self {
            AttributeValue::S(text) => ("S", Value::String(text.clone())),
            AttributeValue::N(number) => ("N", Value::String(number.to_string())),
            AttributeValue::B(bytes) => ("B", Value::String(BASE64.encode(bytes))),
            AttributeValue::SS(members) => (
                "SS",
                Value::Array(members.iter().cloned().map(Value::String).collect()),
            ),
            AttributeValue::NS(members) => (
                "NS",
                Value::Array(
                    members
                        .iter()
                        .map(|number| Value::String(number.to_string()))
                        .collect(),
                ),
            ),
            AttributeValue::BS(members) => (
                "BS",
                Value::Array(
                    members
                        .iter()
                        .map(|bytes| Value::String(BASE64.encode(bytes)))
                        .collect(),
                ),
            ),
            AttributeValue::M(map) => ("M", Value::Object(item_to_json_map(map))),
            AttributeValue::L(list) => {
                ("L", Value::Array(list.iter().map(Self::to_json).collect()))
            }
            AttributeValue::Null => ("NULL", Value::Bool(true)),
            AttributeValue::Bool(flag) => ("BOOL", Value::Bool(*flag)),
        };
        let mut object = Map::new();
        object.insert(name.to_owned(), payload);
        Value::Object(object)
    }

    /// The bytes DynamoDB counts for this value (without its attribute name).
    ///
    /// Strings and binaries count their length, numbers about one byte per two
    /// digits plus one, booleans and null one byte; a list or map costs three
    /// bytes plus one byte per element plus its elements (and, for a map, the
    /// element names).
    pub fn size(&self) -> usize {
        match self {
            AttributeValue::S(text) => text.len(),
            AttributeValue::N(number) => number.size(),
            AttributeValue::B(bytes) => bytes.len(),
            AttributeValue::SS(members) => members.iter().map(String::len).sum(),
            AttributeValue::NS(members) => members.iter().map(Number::size).sum(),
            AttributeValue::BS(members) => members.iter().map(Vec::len).sum(),
            AttributeValue::M(map) => {
                3 + map
                    .iter()
                    .map(|(name, value)| name.len() + value.size() + 1)
                    .sum::<usize>()
            }
            AttributeValue::L(list) => 3 + list.iter().map(|value| value.size() + 1).sum::<usize>(),
            AttributeValue::Null | AttributeValue::Bool(_) => 1,
        }
    }
}

/// Nesting deeper than this many maps and lists is rejected, as in DynamoDB.
pub const MAX_NESTING_DEPTH: usize = 32;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn json_kind(value: &Value) -> wire::JsonKind {
    match value {
        Value::Object(_) => wire::JsonKind::Object,
        Value::Array(_) => wire::JsonKind::Array,
        Value::String(_) => wire::JsonKind::String,
        Value::Number(number) if number.is_f64() => wire::JsonKind::Decimal,
        Value::Number(_) => wire::JsonKind::Integer,
        Value::Bool(true) => wire::JsonKind::True,
        Value::Bool(false) => wire::JsonKind::False,
        Value::Null => wire::JsonKind::Null,
    }
}

fn item_from_json_map(fields: &Map<String, Value>) -> StoreResult<Item> {
    fields
        .iter()
        .map(|(name, value)| Ok((name.clone(), AttributeValue::from_json(value)?)))
        .collect()
}

fn item_to_json_map(item: &Item) -> Map<String, Value> {
    item.iter()
        .map(|(name, value)| (name.clone(), value.to_json()))
        .collect()
}

/// Parses an item (`{"name": {"S": "x"}, ...}`) from its JSON wire shape.
pub fn item_from_json(json: &Value) -> StoreResult<Item> {
    match json {
        Value::Object(fields) => item_from_json_map(fields),
        other => Err(json_kind(other).wrong_type("Map")),
    }
}

/// The JSON wire shape of an item.
pub fn item_to_json(item: &Item) -> Value {
    Value::Object(item_to_json_map(item))
}

/// The bytes DynamoDB counts for an item: every attribute name plus its value.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value.size())
        .sum()
}

/// Rejects items above 400 KB with DynamoDB's message.
pub fn check_item_size(item: &Item) -> StoreResult<()> {
    if item_size(item) > MAX_ITEM_SIZE {
        return Err(StoreError::validation(
            "Item size has exceeded the maximum allowed size",
        ));
    }
    Ok(())
}

/// A compact rendering such as `{S: abc}` or `{L: [{N: 1}]}`, the way DynamoDB
/// quotes values inside its error messages. Binary values show as base64.
impl fmt::Debug for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn join<T>(items: &[T], show: impl Fn(&T) -> String) -> String {
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        }
        match self {
            AttributeValue::S(text) => write!(f, "{{S: {text}}}"),
            AttributeValue::N(number) => write!(f, "{{N: {number}}}"),
            AttributeValue::B(bytes) => write!(f, "{{B: {}}}", BASE64.encode(bytes)),
            AttributeValue::SS(members) => write!(f, "{{SS: [{}]}}", members.join(", ")),
            AttributeValue::NS(members) => {
                write!(f, "{{NS: [{}]}}", join(members, |n| n.to_string()))
            }
            AttributeValue::BS(members) => {
                write!(
                    f,
                    "{{BS: [{}]}}",
                    join(members, |bytes| BASE64.encode(bytes))
                )
            }
            AttributeValue::M(map) => {
                let fields: Vec<String> = map
                    .iter()
                    .map(|(name, value)| format!("{name}={value:?}"))
                    .collect();
                write!(f, "{{M: {{{}}}}}", fields.join(", "))
            }
            AttributeValue::L(list) => {
                write!(f, "{{L: [{}]}}", join(list, |value| format!("{value:?}")))
            }
            AttributeValue::Null => f.write_str("{NULL: true}"),
            AttributeValue::Bool(flag) => write!(f, "{{BOOL: {flag}}}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{expect, Expect};
    use proptest::prelude::*;

    use super::*;

    /// Parses a JSON attribute value and renders the result or the error.
    fn check(json: &str, expected: Expect) {
        let value: Value = serde_json::from_str(json).expect("test JSON is valid");
        let actual = match AttributeValue::from_json(&value) {
            Ok(parsed) => format!(
                "{parsed:?} -> {} (size {})",
                parsed.to_json(),
                parsed.size()
            ),
            Err(error) => error.to_string(),
        };
        expected.assert_eq(&actual);
    }

    #[test]
    fn scalars() {
        check(
            r#"{"S": "héllo"}"#,
            expect![[r#"{S: héllo} -> {"S":"héllo"} (size 6)"#]],
        );
        check(
            r#"{"N": "1.50"}"#,
            expect![[r#"{N: 1.5} -> {"N":"1.5"} (size 3)"#]],
        );
        check(
            r#"{"N": "-0"}"#,
            expect![[r#"{N: 0} -> {"N":"0"} (size 1)"#]],
        );
        check(
            r#"{"B": "AAEC"}"#,
            expect![[r#"{B: AAEC} -> {"B":"AAEC"} (size 3)"#]],
        );
        check(
            r#"{"NULL": true}"#,
            expect![[r#"{NULL: true} -> {"NULL":true} (size 1)"#]],
        );
        check(
            r#"{"BOOL": false}"#,
            expect![[r#"{BOOL: false} -> {"BOOL":false} (size 1)"#]],
        );
    }

    #[test]
    fn collections() {
        check(
            r#"{"SS": ["b", "a"]}"#,
            expect![[r#"{SS: [a, b]} -> {"SS":["a","b"]} (size 2)"#]],
        );
        check(
            r#"{"NS": ["10", "9", "-1"]}"#,
            expect![[r#"{NS: [-1, 9, 10]} -> {"NS":["-1","9","10"]} (size 7)"#]],
        );
        check(
            r#"{"BS": ["AQ=="]}"#,
            expect![[r#"{BS: [AQ==]} -> {"BS":["AQ=="]} (size 1)"#]],
        );
        check(
            r#"{"M": {"a": {"L": [{"N": "1"}, {"S": "x"}]}}}"#,
            expect![[
                r#"{M: {a={L: [{N: 1}, {S: x}]}}} -> {"M":{"a":{"L":[{"N":"1"},{"S":"x"}]}}} (size 13)"#
            ]],
        );
        check(r#"{"L": []}"#, expect![[r#"{L: []} -> {"L":[]} (size 3)"#]]);
    }

    #[test]
    fn invalid_values() {
        check(r#"{}"#, expect!["ValidationException: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"]);
        check(r#"{"X": "1"}"#, expect!["ValidationException: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"]);
        check(r#"{"S": "a", "N": "1"}"#, expect!["ValidationException: Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"]);
        check(r#"{"SS": []}"#, expect!["ValidationException: One or more parameter values were invalid: An string set  may not be empty"]);
        check(r#"{"NS": []}"#, expect!["ValidationException: One or more parameter values were invalid: An number set  may not be empty"]);
        check(r#"{"BS": []}"#, expect!["ValidationException: One or more parameter values were invalid: Binary sets should not be empty"]);
        check(r#"{"SS": ["a", "a"]}"#, expect!["ValidationException: One or more parameter values were invalid: Input collection [a, a] contains duplicates."]);
        check(
            r#"{"NS": ["1", "1.0"]}"#,
            expect!["ValidationException: Input collection contains duplicates"],
        );
        check(r#"{"NULL": false}"#, expect!["ValidationException: One or more parameter values were invalid: Null attribute value types must have the value of true"]);
        check(
            r#"{"N": "x1"}"#,
            expect![
                "ValidationException: The parameter cannot be converted to a numeric value: x1"
            ],
        );
        check(r#"{"N": "1E+126"}"#, expect!["ValidationException: Number overflow. Attempting to store a number with magnitude larger than supported range"]);
        check(
            r#"{"S": 5}"#,
            expect!["SerializationException: NUMBER_VALUE cannot be converted to String"],
        );
        check(
            r#"{"S": {}}"#,
            expect!["SerializationException: Start of structure or map found where not expected"],
        );
        check(r#"{"B": "abc"}"#, expect!["SerializationException: Base64 encoded length is expected a multiple of 4 bytes but found: 3"]);
        check(r#"{"L": [{}]}"#, expect!["ValidationException: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"]);
        check(r#"{"M": {"a": {"SS": []}}}"#, expect!["ValidationException: One or more parameter values were invalid: An string set  may not be empty"]);
        check(
            r#""S""#,
            expect!["SerializationException: Unexpected value type in payload"],
        );
    }

    /// Request bodies parse without a `serde_json::Value`, yet report what
    /// parsing one would: members in name order, a repeated member once.
    #[test]
    fn text_is_validated_in_name_order_not_document_order() {
        let check_text = |json: &str, expected: Expect| {
            let actual = match crate::api::from_slice::<AttributeValue>(json.as_bytes()) {
                Ok(parsed) => format!("{parsed:?}"),
                Err(error) => error.to_string(),
            };
            expected.assert_eq(&actual);
        };
        check_text(
            r#"{"S": 5, "B": "abc"}"#,
            expect!["SerializationException: Base64 encoded length is expected a multiple of 4 bytes but found: 3"],
        );
        check_text(
            r#"{"M": {"b": {"S": 1}, "a": {"N": "x"}}}"#,
            expect!["ValidationException: The parameter cannot be converted to a numeric value: x"],
        );
        check_text(
            r#"{"L": [{"S": 1}, {"N": "x"}]}"#,
            expect!["SerializationException: NUMBER_VALUE cannot be converted to String"],
        );
        check_text(r#"{"S": "a", "S": null}"#, expect!["ValidationException: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"]);
        check_text(r#"{"S": null, "S": "b", "X": [1, {}]}"#, expect!["{S: b}"]);
        check_text(
            r#"{"M": {"a": {"N": "1"}, "a": {"N": "2"}}}"#,
            expect!["{M: {a={N: 2}}}"],
        );
        check_text(
            r#"{"SS": ["a", 1, {}]}"#,
            expect!["SerializationException: NUMBER_VALUE cannot be converted to String"],
        );
        check_text(
            r#"{"NS": "1"}"#,
            expect!["SerializationException: Unrecognized collection type class java.lang.String"],
        );
        check_text(
            r#"{"L": {"S": "x"}}"#,
            expect!["SerializationException: Start of structure or map found where not expected"],
        );
        check_text(
            r#"[{"S": "x"}]"#,
            expect!["SerializationException: Unexpected value type in payload"],
        );
    }

    #[test]
    fn nesting_limit() {
        let nested = |levels: usize| {
            let mut json = r#"{"S": "leaf"}"#.to_owned();
            for _ in 0..levels {
                json = format!(r#"{{"L": [{json}]}}"#);
            }
            json
        };
        check(
            &nested(32).replace("leaf", "ok"),
            expect![[
                r#"{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{L: [{S: ok}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]} -> {"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"L":[{"S":"ok"}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]} (size 130)"#
            ]],
        );
        check(
            &nested(33),
            expect!["ValidationException: Nesting Levels have exceeded supported limits"],
        );
    }

    #[test]
    fn item_size_counts_names_and_values() {
        let json = serde_json::json!({"id": {"S": "abc"}, "n": {"N": "12345"}});
        let item = item_from_json(&json).expect("valid item");
        assert_eq!(item_size(&item), 2 + 3 + 1 + 4);
        assert_eq!(item_to_json(&item), json);
        let mut big = Item::new();
        big.insert("a".into(), AttributeValue::S("x".repeat(MAX_ITEM_SIZE)));
        expect!["ValidationException: Item size has exceeded the maximum allowed size"]
            .assert_eq(&check_item_size(&big).expect_err("too big").to_string());
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            "\\PC{0,8}".prop_map(Value::String),
            prop::sample::select(vec![
                "S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL", "1", "AQ=="
            ])
            .prop_map(|text| Value::String(text.to_owned())),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL", "x"
                    ])
                    .prop_map(str::to_owned),
                    inner,
                    0..3
                )
                .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn from_json_never_panics_and_round_trips(json in json_value()) {
            if let Ok(value) = AttributeValue::from_json(&json) {
                let again = AttributeValue::from_json(&value.to_json()).expect("output parses");
                prop_assert_eq!(again, value);
            }
        }
    }
}
