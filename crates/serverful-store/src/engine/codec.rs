//! The stored form of items: a compact binary encoding, tagged by a version
//! byte so the format can change (JSON, the first format, starts with `{` and
//! still decodes).
//!
//! Layout after the version byte `0x01`: a map is a count then (name, value)
//! pairs; a value is a tag byte then its payload; every count and length is an
//! unsigned LEB128 varint; numbers are kept as their canonical decimal text.

use crate::error::{StoreError, StoreResult};
use crate::value::{item_from_json, AttributeValue, Item, Number, MAX_NESTING_DEPTH};

const VERSION: u8 = 0x01;

const S: u8 = 0;
const N: u8 = 1;
const B: u8 = 2;
const SS: u8 = 3;
const NS: u8 = 4;
const BS: u8 = 5;
const M: u8 = 6;
const L: u8 = 7;
const NULL: u8 = 8;
const FALSE: u8 = 9;
const TRUE: u8 = 10;

/// Encodes an item for storage.
pub(crate) fn encode(item: &Item) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(VERSION);
    encode_map(item, &mut out);
    out
}

fn varint(mut value: usize, out: &mut Vec<u8>) {
    loop {
        let low = (value & 0x7F) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn bytes(data: &[u8], out: &mut Vec<u8>) {
    varint(data.len(), out);
    out.extend_from_slice(data);
}

fn encode_map(map: &Item, out: &mut Vec<u8>) {
    varint(map.len(), out);
    for (name, value) in map {
        bytes(name.as_bytes(), out);
        encode_value(value, out);
    }
}

fn encode_value(value: &AttributeValue, out: &mut Vec<u8>) {
    match value {
        AttributeValue::S(text) => {
            out.push(S);
            bytes(text.as_bytes(), out);
        }
        AttributeValue::N(number) => {
            out.push(N);
            bytes(number.to_string().as_bytes(), out);
        }
        AttributeValue::B(data) => {
            out.push(B);
            bytes(data, out);
        }
        AttributeValue::SS(members) => {
            out.push(SS);
            varint(members.len(), out);
            for member in members {
                bytes(member.as_bytes(), out);
            }
        }
        AttributeValue::NS(members) => {
            out.push(NS);
            varint(members.len(), out);
            for member in members {
                bytes(member.to_string().as_bytes(), out);
            }
        }
        AttributeValue::BS(members) => {
            out.push(BS);
            varint(members.len(), out);
            for member in members {
                bytes(member, out);
            }
        }
        AttributeValue::M(map) => {
            out.push(M);
            encode_map(map, out);
        }
        AttributeValue::L(list) => {
            out.push(L);
            varint(list.len(), out);
            for element in list {
                encode_value(element, out);
            }
        }
        AttributeValue::Null => out.push(NULL),
        AttributeValue::Bool(false) => out.push(FALSE),
        AttributeValue::Bool(true) => out.push(TRUE),
    }
}

/// Decodes a stored item, in either format.
pub(crate) fn decode(data: &[u8]) -> StoreResult<Item> {
    match data.first() {
        Some(&VERSION) => {
            let mut reader = Reader {
                data,
                position: 1,
                depth: 0,
            };
            let item = reader.map()?;
            if reader.position != data.len() {
                return Err(corrupt());
            }
            Ok(item)
        }
        Some(b'{') => {
            let json: serde_json::Value = serde_json::from_slice(data)
                .map_err(|error| StoreError::internal(format!("corrupt stored item: {error}")))?;
            item_from_json(&json)
        }
        _ => Err(corrupt()),
    }
}

fn corrupt() -> StoreError {
    StoreError::internal("corrupt stored item")
}

struct Reader<'a> {
    data: &'a [u8],
    position: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> StoreResult<u8> {
        let byte = *self.data.get(self.position).ok_or_else(corrupt)?;
        self.position += 1;
        Ok(byte)
    }

    fn varint(&mut self) -> StoreResult<usize> {
        let mut value: usize = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= usize::from(byte & 0x7F)
                .checked_shl(shift)
                .ok_or_else(corrupt)?;
            if byte & 0x80 == 0 {
                // No count or length can exceed the bytes left.
                if value > self.data.len() {
                    return Err(corrupt());
                }
                return Ok(value);
            }
        }
        Err(corrupt())
    }

    fn bytes(&mut self) -> StoreResult<&'a [u8]> {
        let length = self.varint()?;
        let end = self.position.checked_add(length).ok_or_else(corrupt)?;
        let slice = self.data.get(self.position..end).ok_or_else(corrupt)?;
        self.position = end;
        Ok(slice)
    }

    fn text(&mut self) -> StoreResult<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| corrupt())
    }

    fn number(&mut self) -> StoreResult<Number> {
        let text = std::str::from_utf8(self.bytes()?).map_err(|_| corrupt())?;
        Number::parse(text).map_err(|_| corrupt())
    }

    fn map(&mut self) -> StoreResult<Item> {
        let count = self.varint()?;
        let mut map = Item::new();
        for _ in 0..count {
            let name = self.text()?;
            let value = self.value()?;
            map.insert(name, value);
        }
        Ok(map)
    }

    fn value(&mut self) -> StoreResult<AttributeValue> {
        Ok(match self.byte()? {
            S => AttributeValue::S(self.text()?),
            N => AttributeValue::N(self.number()?),
            B => AttributeValue::B(self.bytes()?.to_vec()),
            SS => {
                let count = self.varint()?;
                let members = (0..count)
                    .map(|_| self.text())
                    .collect::<StoreResult<Vec<_>>>()?;
                AttributeValue::string_set(members)
            }
            NS => {
                let count = self.varint()?;
                let members = (0..count)
                    .map(|_| self.number())
                    .collect::<StoreResult<Vec<_>>>()?;
                AttributeValue::number_set(members)
            }
            BS => {
                let count = self.varint()?;
                let members = (0..count)
                    .map(|_| self.bytes().map(<[u8]>::to_vec))
                    .collect::<StoreResult<Vec<_>>>()?;
                AttributeValue::binary_set(members)
            }
            tag @ (M | L) => {
                self.depth += 1;
                if self.depth > MAX_NESTING_DEPTH + 1 {
                    return Err(corrupt());
                }
                let value = if tag == M {
                    AttributeValue::M(self.map()?)
                } else {
                    let count = self.varint()?;
                    AttributeValue::L(
                        (0..count)
                            .map(|_| self.value())
                            .collect::<StoreResult<Vec<_>>>()?,
                    )
                };
                self.depth -= 1;
                value
            }
            NULL => AttributeValue::Null,
            FALSE => AttributeValue::Bool(false),
            TRUE => AttributeValue::Bool(true),
            _ => return Err(corrupt()),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::value::item_to_json;

    #[test]
    fn round_trips_every_type_and_reads_json() {
        let item = item_from_json(&json!({
            "s": {"S": "héllo"}, "n": {"N": "-12.5e3"}, "b": {"B": "AAEC"},
            "ss": {"SS": ["b", "a"]}, "ns": {"NS": ["1", "0.5"]}, "bs": {"BS": ["AA==", "AQ=="]},
            "m": {"M": {"x": {"L": [{"NULL": true}, {"BOOL": false}, {"BOOL": true}]}}},
            "": {"S": ""},
        }))
        .expect("a valid item");
        let encoded = encode(&item);
        assert_eq!(decode(&encoded).expect("decodes"), item);
        let json = serde_json::to_vec(&item_to_json(&item)).expect("JSON");
        assert_eq!(decode(&json).expect("JSON decodes"), item);
        assert!(
            encoded.len() < json.len() / 2,
            "{} vs {}",
            encoded.len(),
            json.len()
        );
    }

    proptest! {
        #[test]
        fn corrupt_bytes_never_panic(mut data in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Some(first) = data.first_mut() {
                *first = VERSION;
            }
            let _ = decode(&data);
        }
    }
}
