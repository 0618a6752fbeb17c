//! Primary keys: the key schema, extracting and checking keys in items, and an
//! order-preserving byte encoding of key values.
//!
//! The encoding lets a backend sort keys with plain byte comparison (`memcmp`,
//! SQLite `BLOB` order, PostgreSQL `bytea` order) and still get DynamoDB's order:
//! strings and binaries bytewise, numbers numerically. Every encoded value is
//! self-delimiting, so `encode(partition) ++ encode(sort)` sorts by partition key
//! first and sort key second. The encoding carries no type tag: a table's key
//! types are fixed by its schema, so values of one key never mix types.

use std::cmp::Ordering;

use crate::error::{StoreError, StoreResult};
use crate::value::{AttributeValue, Item, Number};

/// The scalar types a key attribute may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

impl ScalarType {
    /// The wire descriptor (`S`, `N` or `B`).
    pub fn name(self) -> &'static str {
        match self {
            ScalarType::S => "S",
            ScalarType::N => "N",
            ScalarType::B => "B",
        }
    }

    /// The scalar type of a value, if it is a scalar that can be a key.
    pub fn of(value: &AttributeValue) -> Option<ScalarType> {
        match value {
            AttributeValue::S(_) => Some(ScalarType::S),
            AttributeValue::N(_) => Some(ScalarType::N),
            AttributeValue::B(_) => Some(ScalarType::B),
            _ => None,
        }
    }
}

/// One key attribute: its name and declared type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttribute {
    /// The attribute name.
    pub name: String,
    /// The type declared in `AttributeDefinitions`.
    pub scalar_type: ScalarType,
}

/// A table's or index's primary key: a partition key and an optional sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchema {
    /// The partition (HASH) key.
    pub partition_key: KeyAttribute,
    /// The sort (RANGE) key, if the table has one.
    pub sort_key: Option<KeyAttribute>,
}

/// The largest partition key value DynamoDB accepts, in bytes.
pub const MAX_PARTITION_KEY_SIZE: usize = 2048;
/// The largest sort key value DynamoDB accepts, in bytes.
pub const MAX_SORT_KEY_SIZE: usize = 1024;

impl KeySchema {
    /// The key attributes, partition key first.
    pub fn attributes(&self) -> impl Iterator<Item = &KeyAttribute> {
        std::iter::once(&self.partition_key).chain(self.sort_key.as_ref())
    }

    /// True if `name` is one of the key attributes.
    pub fn is_key_attribute(&self, name: &str) -> bool {
        self.attributes().any(|attribute| attribute.name == name)
    }

    /// Checks that an item to be written has its key attributes with the right
    /// types, non-empty and within size limits, as `PutItem` does.
    pub fn check_item(&self, item: &Item) -> StoreResult<()> {
        for (index, attribute) in self.attributes().enumerate() {
            let Some(value) = item.get(&attribute.name) else {
                return Err(StoreError::validation(format!(
                    "One or more parameter values were invalid: Missing the key {} in the item",
                    attribute.name
                )));
            };
            check_key_value(attribute, value, index == 0)?;
        }
        Ok(())
    }

    /// Checks a `Key` parameter (GetItem, DeleteItem, UpdateItem): exactly the key
    /// attributes with the right types, and returns it in order.
    pub fn check_key(&self, key: &Item) -> StoreResult<()> {
        let mismatch =
            || StoreError::validation("The provided key element does not match the schema");
        if key.len() != self.attributes().count() {
            return Err(mismatch());
        }
        for (index, attribute) in self.attributes().enumerate() {
            let value = key.get(&attribute.name).ok_or_else(mismatch)?;
            if ScalarType::of(value) != Some(attribute.scalar_type) {
                return Err(mismatch());
            }
            check_key_value(attribute, value, index == 0)?;
        }
        Ok(())
    }

    /// The key attributes of an item (which must already have them).
    pub fn key_of(&self, item: &Item) -> Item {
        self.attributes()
            .filter_map(|attribute| {
                item.get(&attribute.name)
                    .map(|value| (attribute.name.clone(), value.clone()))
            })
            .collect()
    }

    /// The encoded primary key of an item or key: partition then sort value.
    pub fn encode(&self, item: &Item) -> StoreResult<Vec<u8>> {
        let mut out = Vec::new();
        for attribute in self.attributes() {
            let value = item.get(&attribute.name).ok_or_else(|| {
                StoreError::validation("The provided key element does not match the schema")
            })?;
            encode_key_value_into(value, &mut out)?;
        }
        Ok(out)
    }
}

fn check_key_value(
    attribute: &KeyAttribute,
    value: &AttributeValue,
    is_partition: bool,
) -> StoreResult<()> {
    let Some(actual) = ScalarType::of(value) else {
        return Err(StoreError::validation(format!(
            "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
            attribute.name,
            attribute.scalar_type.name(),
            value.attribute_type()
        )));
    };
    if actual != attribute.scalar_type {
        return Err(StoreError::validation(format!(
            "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
            attribute.name,
            attribute.scalar_type.name(),
            actual.name()
        )));
    }
    let length = match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::B(bytes) => bytes.len(),
        _ => return Ok(()),
    };
    if length == 0 {
        let kind = if actual == ScalarType::S {
            "string"
        } else {
            "binary"
        };
        return Err(StoreError::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {kind} value. Key: {}",
            attribute.name
        )));
    }
    if is_partition && length > MAX_PARTITION_KEY_SIZE {
        return Err(StoreError::validation(
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
        ));
    }
    if !is_partition && length > MAX_SORT_KEY_SIZE {
        return Err(StoreError::validation(
            "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
        ));
    }
    Ok(())
}

/// Marker bytes that order numbers by sign before anything else.
const NEGATIVE: u8 = 0x40;
const ZERO: u8 = 0x80;
const POSITIVE: u8 = 0xC0;
/// Shifts the exponent of `0.ddd × 10^e` (which is -129..=126 for valid
/// numbers) into one unsigned byte.
const EXPONENT_BIAS: i64 = 129;

/// Encodes one key value (S, N or B) so that byte order is DynamoDB order.
pub fn encode_key_value(value: &AttributeValue) -> StoreResult<Vec<u8>> {
    let mut out = Vec::new();
    encode_key_value_into(value, &mut out)?;
    Ok(out)
}

/// Appends the encoding of one key value to `out`.
///
/// Strings and binaries: each byte as is, except `0x00` which becomes
/// `0x00 0xFF`, then the terminator `0x00 0x00`; a terminator sorts before any
/// continuation, so a prefix sorts first. Numbers: a sign byte, then for
/// positives the biased exponent, the digits as `d + 1` and a `0x00` terminator;
/// negatives store the same bytes inverted so that larger magnitudes sort first.
pub fn encode_key_value_into(value: &AttributeValue, out: &mut Vec<u8>) -> StoreResult<()> {
    match value {
        AttributeValue::S(text) => encode_bytes(text.as_bytes(), out),
        AttributeValue::B(bytes) => encode_bytes(bytes, out),
        AttributeValue::N(number) => encode_number(number, out),
        other => {
            return Err(StoreError::validation(format!(
            "Key attributes must be scalars; list, map and set types are not allowed; got type {}",
            other.attribute_type()
        )))
        }
    }
    Ok(())
}

/// The bytes every encoded S or B key value starting with `prefix` starts
/// with, for `begins_with` sort key conditions: the escaped prefix without the
/// terminator. Fails for numbers, which have no prefixes.
pub fn encode_key_prefix(prefix: &AttributeValue) -> StoreResult<Vec<u8>> {
    let bytes = match prefix {
        AttributeValue::S(text) => text.as_bytes(),
        AttributeValue::B(bytes) => bytes.as_slice(),
        other => {
            return Err(StoreError::validation(format!(
                "Incorrect operand type for operator or function; operator or function: begins_with, operand type: {}",
                other.attribute_type()
            )))
        }
    };
    let mut out = Vec::with_capacity(bytes.len());
    for &byte in bytes {
        out.push(byte);
        if byte == 0 {
            out.push(0xFF);
        }
    }
    Ok(out)
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    for &byte in bytes {
        out.push(byte);
        if byte == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

fn encode_number(number: &Number, out: &mut Vec<u8>) {
    if number.is_zero() {
        out.push(ZERO);
        return;
    }
    let exponent = u8::try_from((number.exponent() + EXPONENT_BIAS).clamp(0, 255))
        .expect("clamped into the byte range");
    let invert = |byte: u8| if number.is_negative() { !byte } else { byte };
    out.push(if number.is_negative() {
        NEGATIVE
    } else {
        POSITIVE
    });
    out.push(invert(exponent));
    out.extend(number.digits().iter().map(|&digit| invert(digit + 1)));
    out.push(invert(0));
}

/// Decodes one key value of a known type from the front of `bytes`, returning
/// it with the number of bytes it used.
pub fn decode_key_value(
    bytes: &[u8],
    scalar_type: ScalarType,
) -> StoreResult<(AttributeValue, usize)> {
    let corrupt = || {
        StoreError::new(
            crate::error::ErrorKind::InternalServerError,
            "corrupt encoded key",
        )
    };
    match scalar_type {
        ScalarType::S | ScalarType::B => {
            let mut decoded = Vec::new();
            let mut index = 0;
            loop {
                let byte = *bytes.get(index).ok_or_else(corrupt)?;
                if byte != 0 {
                    decoded.push(byte);
                    index += 1;
                    continue;
                }
                match *bytes.get(index + 1).ok_or_else(corrupt)? {
                    0x00 => break,
                    0xFF => decoded.push(0),
                    _ => return Err(corrupt()),
                }
                index += 2;
            }
            let value = if scalar_type == ScalarType::S {
                AttributeValue::S(String::from_utf8(decoded).map_err(|_| corrupt())?)
            } else {
                AttributeValue::B(decoded)
            };
            Ok((value, index + 2))
        }
        ScalarType::N => {
            let sign = *bytes.first().ok_or_else(corrupt)?;
            if sign == ZERO {
                return Ok((AttributeValue::N(Number::zero()), 1));
            }
            let negative = match sign {
                NEGATIVE => true,
                POSITIVE => false,
                _ => return Err(corrupt()),
            };
            let invert = |byte: u8| if negative { !byte } else { byte };
            let exponent = i64::from(invert(*bytes.get(1).ok_or_else(corrupt)?)) - EXPONENT_BIAS;
            let mut digits = Vec::new();
            let mut index = 2;
            loop {
                let byte = invert(*bytes.get(index).ok_or_else(corrupt)?);
                index += 1;
                match byte {
                    0 => break,
                    1..=10 => digits.push(byte - 1),
                    _ => return Err(corrupt()),
                }
            }
            Ok((
                AttributeValue::N(Number::from_parts(negative, digits, exponent)),
                index,
            ))
        }
    }
}

/// DynamoDB's order between two key values of the same scalar type; `None` when
/// the types differ or a value is not a key scalar.
pub fn compare_key_values(left: &AttributeValue, right: &AttributeValue) -> Option<Ordering> {
    match (left, right) {
        (AttributeValue::S(a), AttributeValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (AttributeValue::B(a), AttributeValue::B(b)) => Some(a.cmp(b)),
        (AttributeValue::N(a), AttributeValue::N(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{expect, Expect};
    use proptest::prelude::*;

    use super::*;

    fn number(text: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(text).expect("valid test number"))
    }

    fn check(value: AttributeValue, expected: Expect) {
        let encoded = encode_key_value(&value).expect("key scalar");
        let hex: Vec<String> = encoded.iter().map(|byte| format!("{byte:02x}")).collect();
        expected.assert_eq(&hex.join(" "));
    }

    #[test]
    fn encodings() {
        check(
            AttributeValue::S("a\0b".into()),
            expect!["61 00 ff 62 00 00"],
        );
        check(AttributeValue::B(vec![]), expect!["00 00"]);
        check(number("0"), expect!["80"]);
        check(number("12.5"), expect!["c0 83 02 03 06 00"]);
        check(number("-12.5"), expect!["40 7c fd fc f9 ff"]);
    }

    fn schema() -> KeySchema {
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

    #[test]
    fn key_checks() {
        let render = |result: StoreResult<()>| match result {
            Ok(()) => "ok".to_owned(),
            Err(error) => error.to_string(),
        };
        let mut item = Item::new();
        item.insert("pk".into(), AttributeValue::S("a".into()));
        expect!["ValidationException: One or more parameter values were invalid: Missing the key sk in the item"]
            .assert_eq(&render(schema().check_item(&item)));
        item.insert("sk".into(), AttributeValue::S("1".into()));
        expect!["ValidationException: One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S"]
            .assert_eq(&render(schema().check_item(&item)));
        item.insert("sk".into(), number("1"));
        expect!["ok"].assert_eq(&render(schema().check_item(&item)));
        expect!["ok"].assert_eq(&render(schema().check_key(&item)));
        item.insert("pk".into(), AttributeValue::S(String::new()));
        expect!["ValidationException: One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"]
            .assert_eq(&render(schema().check_item(&item)));
        item.insert("other".into(), number("1"));
        expect!["ValidationException: The provided key element does not match the schema"]
            .assert_eq(&render(schema().check_key(&item)));
    }

    /// Numbers spread over the whole range: a few significant digits, any
    /// exponent, both signs, and zero.
    fn any_number() -> impl Strategy<Value = Number> {
        prop_oneof![
            (any::<bool>(), "[0-9]{1,38}", -130i64..=88).prop_map(
                |(negative, digits, exponent)| {
                    format!("{}{}E{}", if negative { "-" } else { "" }, digits, exponent)
                }
            ),
            (any::<bool>(), "[1-9]{0,3}", -3i64..=3).prop_map(|(negative, digits, exponent)| {
                format!(
                    "{}{}0E{}",
                    if negative { "-" } else { "" },
                    digits,
                    exponent
                )
            }),
        ]
        .prop_filter_map("out of DynamoDB's range", |text| Number::parse(&text).ok())
    }

    fn any_key_value() -> impl Strategy<Value = AttributeValue> {
        prop_oneof![
            any_number().prop_map(AttributeValue::N),
            "[a\\x00b\u{e9}\u{10000}]{0,6}".prop_map(AttributeValue::S),
            prop::collection::vec(
                prop_oneof![Just(0u8), Just(1u8), Just(255u8), any::<u8>()],
                0..6
            )
            .prop_map(AttributeValue::B),
        ]
    }

    proptest! {
        #[test]
        fn number_encoding_preserves_order(a in any_number(), b in any_number()) {
            let encoded_a = encode_key_value(&AttributeValue::N(a.clone())).expect("scalar");
            let encoded_b = encode_key_value(&AttributeValue::N(b.clone())).expect("scalar");
            prop_assert_eq!(encoded_a.cmp(&encoded_b), a.to_big_decimal().cmp(&b.to_big_decimal()));
        }

        #[test]
        fn encoding_preserves_order_and_round_trips(a in any_key_value(), b in any_key_value()) {
            let encoded_a = encode_key_value(&a).expect("scalar");
            let encoded_b = encode_key_value(&b).expect("scalar");
            if let Some(order) = compare_key_values(&a, &b) {
                prop_assert_eq!(encoded_a.cmp(&encoded_b), order);
            }
            let scalar_type = ScalarType::of(&a).expect("scalar");
            let (decoded, used) = decode_key_value(&encoded_a, scalar_type).expect("decodes");
            prop_assert_eq!(decoded, a);
            prop_assert_eq!(used, encoded_a.len());
        }

        #[test]
        fn composite_keys_sort_by_partition_then_sort(
            pa in "[ab\\x00]{0,3}", sa in any_number(), pb in "[ab\\x00]{0,3}", sb in any_number()
        ) {
            let mut a = encode_key_value(&AttributeValue::S(pa.clone())).expect("scalar");
            a.extend(encode_key_value(&AttributeValue::N(sa.clone())).expect("scalar"));
            let mut b = encode_key_value(&AttributeValue::S(pb.clone())).expect("scalar");
            b.extend(encode_key_value(&AttributeValue::N(sb.clone())).expect("scalar"));
            prop_assert_eq!(a.cmp(&b), pa.as_bytes().cmp(pb.as_bytes()).then(sa.cmp(&sb)));
        }

        #[test]
        fn prefix_encoding_matches_begins_with(value in "[ab\\x00]{0,5}", prefix in "[ab\\x00]{0,3}") {
            let encoded = encode_key_value(&AttributeValue::S(value.clone())).expect("scalar");
            let encoded_prefix = encode_key_prefix(&AttributeValue::S(prefix.clone())).expect("string");
            prop_assert_eq!(encoded.starts_with(&encoded_prefix), value.starts_with(&prefix));
        }

        #[test]
        fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..12)) {
            for scalar_type in [ScalarType::S, ScalarType::N, ScalarType::B] {
                let _ = decode_key_value(&bytes, scalar_type);
            }
        }
    }
}
