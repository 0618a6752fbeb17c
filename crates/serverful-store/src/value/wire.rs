//! Attribute values to and from their JSON wire shape (`{"S": "x"}`, `{"N": "1.5"}`, …)
//! straight through serde, with no `serde_json::Value` in between: request bodies are
//! parsed into values as they are read, responses are written from values as they are
//! serialized.
//!
//! Parsing keeps DynamoDB's validation order, which is not the order of the document:
//! within one attribute value the type members are checked in name order (`B`, `BOOL`,
//! `BS`, `L`, `M`, `N`, `NS`, `NULL`, `S`, `SS`), within a map the entries in name order,
//! within a list the elements in order, and a repeated member counts only once, with its
//! last payload. So a visitor never stops at the first invalid member it reads: it
//! records each member's outcome, reads to the end of the value, then reports the first
//! failure in that order. Only JSON that is not well formed stops the parse at once.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap as _, SerializeSeq as _};
use serde::{Deserializer, Serialize, Serializer};

use super::{AttributeType, AttributeValue, Number, BASE64, MAX_NESTING_DEPTH};
use crate::error::{StoreError, StoreResult};

impl Serialize for AttributeValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        let name = self.attribute_type().name();
        match self {
            AttributeValue::S(text) => map.serialize_entry(name, text)?,
            AttributeValue::N(number) => map.serialize_entry(name, &Displayed(number))?,
            AttributeValue::B(bytes) => map.serialize_entry(name, &Base64(bytes))?,
            AttributeValue::SS(members) => map.serialize_entry(name, members)?,
            AttributeValue::NS(members) => map.serialize_entry(name, &NumberSet(members))?,
            AttributeValue::BS(members) => map.serialize_entry(name, &BinarySet(members))?,
            AttributeValue::M(fields) => map.serialize_entry(name, fields)?,
            AttributeValue::L(list) => map.serialize_entry(name, list)?,
            AttributeValue::Null => map.serialize_entry(name, &true)?,
            AttributeValue::Bool(flag) => map.serialize_entry(name, flag)?,
        }
        map.end()
    }
}

/// A number as its decimal text.
struct Displayed<'a>(&'a Number);

impl Serialize for Displayed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self.0)
    }
}

/// Binary data as base64 text.
struct Base64<'a>(&'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(self.0))
    }
}

struct NumberSet<'a>(&'a [Number]);

impl Serialize for NumberSet<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for number in self.0 {
            seq.serialize_element(&Displayed(number))?;
        }
        seq.end()
    }
}

struct BinarySet<'a>(&'a [Vec<u8>]);

impl Serialize for BinarySet<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for bytes in self.0 {
            seq.serialize_element(&Base64(bytes))?;
        }
        seq.end()
    }
}

/// Parses one attribute value from any serde deserializer (JSON text or a
/// `serde_json::Value`). The outer error is the deserializer's own (JSON that is not well
/// formed); the inner one is DynamoDB's verdict on a well-formed value.
pub(crate) fn deserialize_value<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<StoreResult<AttributeValue>, D::Error> {
    deserializer.deserialize_any(ValueVisitor { depth: 0 })
}

/// The kinds of JSON value, for DynamoDB's messages about a member of the wrong kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonKind {
    Object,
    Array,
    String,
    Integer,
    Decimal,
    True,
    False,
    Null,
}

impl JsonKind {
    /// The `SerializationException` DynamoDB's Java deserializer raises when a member
    /// meant to be a `java_type` is of this kind.
    pub(crate) fn wrong_type(self, java_type: &str) -> StoreError {
        let message = match self {
            JsonKind::Object => "Start of structure or map found where not expected".to_owned(),
            JsonKind::Array => format!("Unrecognized collection type class java.lang.{java_type}"),
            JsonKind::String => format!("STRING_VALUE cannot be converted to {java_type}"),
            JsonKind::Decimal => format!("DECIMAL_VALUE cannot be converted to {java_type}"),
            JsonKind::Integer => format!("NUMBER_VALUE cannot be converted to {java_type}"),
            JsonKind::True => format!("TRUE_VALUE cannot be converted to {java_type}"),
            JsonKind::False => format!("FALSE_VALUE cannot be converted to {java_type}"),
            JsonKind::Null => "Unexpected value type in payload".to_owned(),
        };
        StoreError::serialization(message)
    }

    /// The error for a member meant to be a list of `java_type` that is of this kind.
    fn not_a_list(self, java_type: &str) -> StoreError {
        match self {
            JsonKind::Object => {
                StoreError::serialization("Start of structure or map found where not expected")
            }
            _ => StoreError::serialization(format!(
                "Unrecognized collection type class java.lang.{java_type}"
            )),
        }
    }
}

/// Reads to the end of an object or array nobody wants the contents of.
fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<Skip, Skip>()?.is_some() {}
    Ok(())
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skip>()?.is_some() {}
    Ok(())
}

/// A JSON value read past. Unlike serde's `IgnoredAny` it descends through the
/// deserializer, so serde_json's nesting limit still applies to it, as it did when
/// attribute values were parsed into a `serde_json::Value` first.
struct Skip;

impl<'de> de::Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SkipVisitor;
        impl<'de> Visitor<'de> for SkipVisitor {
            type Value = Skip;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_none<E: de::Error>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Skip, A::Error> {
                drain_map(map).map(|()| Skip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
                drain_seq(seq).map(|()| Skip)
            }
        }
        deserializer.deserialize_any(SkipVisitor)
    }
}

/// The value of one `{"<type>": <payload>, ...}` object.
struct ValueVisitor {
    depth: usize,
}

/// The type members in the order DynamoDB validates them (their names' byte order).
const VALIDATION_ORDER: [AttributeType; 10] = [
    AttributeType::B,
    AttributeType::Bool,
    AttributeType::BS,
    AttributeType::L,
    AttributeType::M,
    AttributeType::N,
    AttributeType::NS,
    AttributeType::Null,
    AttributeType::S,
    AttributeType::SS,
];

fn validation_rank(attribute_type: AttributeType) -> usize {
    VALIDATION_ORDER
        .iter()
        .position(|candidate| *candidate == attribute_type)
        .expect("every type has a rank")
}

impl ValueVisitor {
    /// An attribute value that is not an object at all.
    fn not_an_object<E>(self) -> Result<StoreResult<AttributeValue>, E> {
        Ok(Err(StoreError::serialization(
            "Unexpected value type in payload",
        )))
    }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = StoreResult<AttributeValue>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an attribute value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // DynamoDB's deserializer ignores unknown members and explicit nulls, so
        // `{"X": 1}` and `{"S": null}` are "empty" rather than malformed.
        let mut members: [Option<StoreResult<AttributeValue>>; 10] = Default::default();
        while let Some(member) = map.next_key::<MemberName>()? {
            match member.0 {
                Some(attribute_type) => {
                    members[validation_rank(attribute_type)] =
                        map.next_value_seed(PayloadSeed {
                            attribute_type,
                            depth: self.depth,
                        })?;
                }
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        let mut present = members.into_iter().flatten();
        let Some(first) = present.next() else {
            return Ok(Err(StoreError::validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            )));
        };
        // Validate every member before complaining about there being several,
        // the order in which DynamoDB reports problems.
        let value = match first {
            Ok(value) => value,
            Err(error) => return Ok(Err(error)),
        };
        let mut several = false;
        for other in present {
            if let Err(error) = other {
                return Ok(Err(error));
            }
            several = true;
        }
        if several {
            return Ok(Err(StoreError::validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            )));
        }
        Ok(Ok(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq)?;
        self.not_an_object()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        self.not_an_object()
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        self.not_an_object()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        self.not_an_object()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        self.not_an_object()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        self.not_an_object()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.not_an_object()
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.not_an_object()
    }
}

/// A member name of an attribute value object: a type descriptor or something ignored.
struct MemberName(Option<AttributeType>);

impl<'de> de::Deserialize<'de> for MemberName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = MemberName;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<MemberName, E> {
                Ok(MemberName(AttributeType::from_name(name)))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// The payload of one type member; `None` for an explicit null (the member is ignored).
struct PayloadSeed {
    attribute_type: AttributeType,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for PayloadSeed {
    type Value = Option<StoreResult<AttributeValue>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl PayloadSeed {
    fn too_deep(&self) -> bool {
        matches!(self.attribute_type, AttributeType::M | AttributeType::L)
            && self.depth >= MAX_NESTING_DEPTH
    }

    /// The error for a payload of the wrong kind for this member.
    fn wrong_kind(&self, kind: JsonKind) -> Option<StoreResult<AttributeValue>> {
        if self.too_deep() {
            return Some(Err(nesting_error()));
        }
        let error = match self.attribute_type {
            AttributeType::S | AttributeType::N => kind.wrong_type("String"),
            AttributeType::B => kind.wrong_type("ByteBuffer"),
            AttributeType::SS | AttributeType::NS => kind.not_a_list("String"),
            AttributeType::BS => kind.not_a_list("ByteBuffer"),
            AttributeType::M => kind.wrong_type("Map"),
            AttributeType::L => kind.not_a_list("AttributeValue"),
            AttributeType::Null | AttributeType::Bool => kind.wrong_type("Boolean"),
        };
        Some(Err(error))
    }
}

fn nesting_error() -> StoreError {
    StoreError::validation("Nesting Levels have exceeded supported limits")
}

impl<'de> Visitor<'de> for PayloadSeed {
    type Value = Option<StoreResult<AttributeValue>>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "the payload of {}", self.attribute_type)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(match self.attribute_type {
            AttributeType::S => Some(Ok(AttributeValue::S(text.to_owned()))),
            AttributeType::N => Some(Number::parse(text).map(AttributeValue::N)),
            AttributeType::B => Some(decode_base64(text).map(AttributeValue::B)),
            _ => self.wrong_kind(JsonKind::String),
        })
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        match self.attribute_type {
            AttributeType::S => Ok(Some(Ok(AttributeValue::S(text)))),
            _ => self.visit_str(&text),
        }
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Self::Value, E> {
        Ok(match (self.attribute_type, flag) {
            (AttributeType::Bool, flag) => Some(Ok(AttributeValue::Bool(flag))),
            (AttributeType::Null, true) => Some(Ok(AttributeValue::Null)),
            (AttributeType::Null, false) => Some(Err(StoreError::validation(
                "One or more parameter values were invalid: Null attribute value types must have the value of true",
            ))),
            (_, true) => self.wrong_kind(JsonKind::True),
            (_, false) => self.wrong_kind(JsonKind::False),
        })
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(self.wrong_kind(JsonKind::Integer))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(self.wrong_kind(JsonKind::Integer))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(self.wrong_kind(JsonKind::Decimal))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if self.attribute_type != AttributeType::M || self.too_deep() {
            drain_map(map)?;
            return Ok(self.wrong_kind(JsonKind::Object));
        }
        // A repeated name keeps its last value; entries are validated in name order.
        let mut fields: BTreeMap<String, StoreResult<AttributeValue>> = BTreeMap::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(ValueSeed {
                depth: self.depth + 1,
            })?;
            fields.insert(name, value);
        }
        let mut item = BTreeMap::new();
        for (name, value) in fields {
            match value {
                Ok(value) => {
                    item.insert(name, value);
                }
                Err(error) => return Ok(Some(Err(error))),
            }
        }
        Ok(Some(Ok(AttributeValue::M(item))))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if self.too_deep() {
            drain_seq(seq)?;
            return Ok(Some(Err(nesting_error())));
        }
        let java_type = match self.attribute_type {
            AttributeType::L => {
                let mut list = Vec::new();
                let mut failure = None;
                while let Some(value) = seq.next_element_seed(ValueSeed {
                    depth: self.depth + 1,
                })? {
                    match value {
                        Ok(value) if failure.is_none() => list.push(value),
                        Ok(_) => {}
                        Err(error) => {
                            failure.get_or_insert(error);
                        }
                    }
                }
                return Ok(Some(match failure {
                    Some(error) => Err(error),
                    None => Ok(AttributeValue::L(list)),
                }));
            }
            AttributeType::SS | AttributeType::NS => "String",
            AttributeType::BS => "ByteBuffer",
            _ => {
                drain_seq(seq)?;
                return Ok(self.wrong_kind(JsonKind::Array));
            }
        };
        // Set members: strings, the first member of another kind is the error.
        let mut texts = Vec::new();
        let mut failure = None;
        while let Some(member) = seq.next_element::<SetMember>()? {
            match member.0 {
                Ok(text) if failure.is_none() => texts.push(text),
                Ok(_) => {}
                Err(kind) => {
                    failure.get_or_insert(kind);
                }
            }
        }
        if let Some(kind) = failure {
            return Ok(Some(Err(kind.wrong_type(java_type))));
        }
        Ok(Some(match self.attribute_type {
            AttributeType::SS => string_set(texts),
            AttributeType::NS => number_set(&texts),
            _ => binary_set(&texts),
        }))
    }
}

/// An attribute value inside a map or list, at some nesting depth.
struct ValueSeed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = StoreResult<AttributeValue>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor { depth: self.depth })
    }
}

/// One member of a set: its text, or the kind of JSON it was instead.
struct SetMember(Result<String, JsonKind>);

impl<'de> de::Deserialize<'de> for SetMember {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MemberVisitor;
        impl<'de> Visitor<'de> for MemberVisitor {
            type Value = SetMember;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a set member")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<SetMember, E> {
                Ok(SetMember(Ok(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<SetMember, E> {
                Ok(SetMember(Ok(text)))
            }
            fn visit_bool<E: de::Error>(self, flag: bool) -> Result<SetMember, E> {
                Ok(SetMember(Err(if flag {
                    JsonKind::True
                } else {
                    JsonKind::False
                })))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<SetMember, E> {
                Ok(SetMember(Err(JsonKind::Integer)))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<SetMember, E> {
                Ok(SetMember(Err(JsonKind::Integer)))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<SetMember, E> {
                Ok(SetMember(Err(JsonKind::Decimal)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<SetMember, E> {
                Ok(SetMember(Err(JsonKind::Null)))
            }
            fn visit_none<E: de::Error>(self) -> Result<SetMember, E> {
                Ok(SetMember(Err(JsonKind::Null)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SetMember, A::Error> {
                drain_map(map)?;
                Ok(SetMember(Err(JsonKind::Object)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<SetMember, A::Error> {
                drain_seq(seq)?;
                Ok(SetMember(Err(JsonKind::Array)))
            }
        }
        deserializer.deserialize_any(MemberVisitor)
    }
}

fn string_set(members: Vec<String>) -> StoreResult<AttributeValue> {
    if members.is_empty() {
        return Err(StoreError::validation(
            "One or more parameter values were invalid: An string set  may not be empty",
        ));
    }
    let n_members = members.len();
    let mut sorted = members.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != n_members {
        return Err(duplicate_strings(&members));
    }
    Ok(AttributeValue::SS(sorted))
}

fn number_set(texts: &[String]) -> StoreResult<AttributeValue> {
    if texts.is_empty() {
        return Err(StoreError::validation(
            "One or more parameter values were invalid: An number set  may not be empty",
        ));
    }
    let members = texts
        .iter()
        .map(|text| Number::parse(text))
        .collect::<StoreResult<Vec<Number>>>()?;
    let set = AttributeValue::number_set(members);
    if set_len(&set) != texts.len() {
        return Err(duplicate_numbers());
    }
    Ok(set)
}

fn binary_set(texts: &[String]) -> StoreResult<AttributeValue> {
    if texts.is_empty() {
        return Err(StoreError::validation(
            "One or more parameter values were invalid: Binary sets should not be empty",
        ));
    }
    let members = texts
        .iter()
        .map(|text| decode_base64(text))
        .collect::<StoreResult<Vec<Vec<u8>>>>()?;
    let set = AttributeValue::binary_set(members);
    if set_len(&set) != texts.len() {
        return Err(duplicate_binaries(texts));
    }
    Ok(set)
}

/// DynamoDB's refusal of a string set with a repeated member, listing the
/// members as given.
pub(crate) fn duplicate_strings(members: &[String]) -> StoreError {
    StoreError::validation(format!(
        "One or more parameter values were invalid: Input collection [{}] contains duplicates.",
        members.join(", ")
    ))
}

/// DynamoDB's refusal of a number set with a repeated member (`1` and `1.0`
/// are the same number); unlike the others it lists nothing.
pub(crate) fn duplicate_numbers() -> StoreError {
    StoreError::validation("Input collection contains duplicates")
}

/// DynamoDB's refusal of a binary set with a repeated member, listing the
/// members in base64.
pub(crate) fn duplicate_binaries(members_base64: &[String]) -> StoreError {
    // Sic: DynamoDB's message has no space before "of type".
    StoreError::validation(format!(
        "One or more parameter values were invalid: Input collection [{}]of type BS contains duplicates.",
        members_base64.join(", ")
    ))
}

fn set_len(set: &AttributeValue) -> usize {
    match set {
        AttributeValue::SS(members) => members.len(),
        AttributeValue::NS(members) => members.len(),
        AttributeValue::BS(members) => members.len(),
        _ => 0,
    }
}

fn decode_base64(text: &str) -> StoreResult<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return Err(StoreError::serialization(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            text.len()
        )));
    }
    BASE64.decode(text).map_err(|error| match error {
        // Sic: "dectected" is DynamoDB's spelling.
        base64::DecodeError::InvalidLastSymbol(..) => {
            StoreError::serialization("Invalid last non-pad Base64 character dectected")
        }
        _ => StoreError::serialization("Invalid Base64 character found in the encoded data"),
    })
}
