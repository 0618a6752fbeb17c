//! The `x-amzn-RequestId` each response carries, in the shape of the service that answers:
//! DynamoDB (and DynamoDB Streams) use 52 characters of base32hex (`0-9`, `A-V`), such as
//! `6Q2LNM0D1T8OSG4RNGPE9M4R0NVV4KQNSO5AEMVJF66Q9ASUAAJG`; SQS, SNS, Lambda and
//! EventBridge use UUIDs.

/// The characters of DynamoDB's request ids: base32hex, upper case.
const BASE32HEX: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";

/// The length of a DynamoDB request id.
pub const DYNAMODB_REQUEST_ID_LEN: usize = 52;

/// A fresh DynamoDB request id: 52 random base32hex characters (260 bits), from the
/// thread's fast generator (`fastrand`, seeded from the OS): an id must be unique, not
/// unguessable, and taking three UUIDs' worth of OS randomness per request showed in the
/// store's profile.
pub fn dynamodb() -> String {
    let mut id = String::with_capacity(DYNAMODB_REQUEST_ID_LEN);
    let mut pool: u128 = 0;
    let mut pool_bits: u32 = 0;
    while id.len() < DYNAMODB_REQUEST_ID_LEN {
        if pool_bits < 5 {
            pool = fastrand::u128(..);
            pool_bits = 128;
        }
        let index = (pool & 0x1f) as usize;
        id.push(char::from(BASE32HEX[index]));
        pool >>= 5;
        pool_bits -= 5;
    }
    id
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Whether `id` has the shape of a DynamoDB request id.
pub fn is_dynamodb_request_id(id: &str) -> bool {
    id.len() == DYNAMODB_REQUEST_ID_LEN && id.bytes().all(|byte| BASE32HEX.contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_ids_are_52_base32hex_characters() {
        let ids: Vec<String> = (0..200).map(|_| dynamodb()).collect();
        for id in &ids {
            assert!(is_dynamodb_request_id(id), "{id}");
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }

    #[test]
    fn dynamodb_ids_use_the_whole_alphabet_in_every_position() {
        // The fixed bits of a UUID would pin some positions to a few characters if they
        // leaked into the id.
        let ids: Vec<Vec<u8>> = (0..2000).map(|_| dynamodb().into_bytes()).collect();
        for position in 0..DYNAMODB_REQUEST_ID_LEN {
            let seen: std::collections::HashSet<u8> = ids.iter().map(|id| id[position]).collect();
            assert_eq!(seen.len(), 32, "position {position} saw {seen:?}");
        }
    }

    #[test]
    fn a_real_dynamodb_id_has_the_shape() {
        assert!(is_dynamodb_request_id(
            "6Q2LNM0D1T8OSG4RNGPE9M4R0NVV4KQNSO5AEMVJF66Q9ASUAAJG"
        ));
        assert!(!is_dynamodb_request_id(&uuid()));
    }
}
