//! The store benchmark's workload, the same for every contender: which keys each client
//! touches, what the items look like, the DynamoDB JSON-protocol request for each
//! operation and how its answer is checked. Only the contender changes between runs.
//!
//! One table, `bench`, keyed by `pk` (string, partition) and `sk` (string, sort):
//! - `put`: each client writes new items, `put-<client>-<n>`, never the same key twice;
//! - `get`: random reads among `get-0` … `get-<get_keys - 1>`, written by the preparation;
//! - `query`: a random partition among `q-0` … `q-<partitions - 1>`, each holding
//!   [`ITEMS_PER_PARTITION`] items, all returned in one page.
//!
//! Every item is about 200 bytes (DynamoDB's measure: attribute names plus values; 240 as
//! JSON): its two keys, a number and a 160-character string.

use std::fmt::Write as _;

/// The table every contender is loaded through.
pub const TABLE: &str = "bench";
/// The sort key of single items (`put` and `get`).
pub const SINGLE_SORT_KEY: &str = "0000";
/// Items in each `query` partition.
pub const ITEMS_PER_PARTITION: u64 = 20;
/// The payload string's length: with the keys and the number, about 200 bytes an item.
const PAYLOAD_LEN: usize = 160;

/// One of the measured workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Put,
    Get,
    Query,
}

impl Workload {
    pub const ALL: [Workload; 3] = [Workload::Put, Workload::Get, Workload::Query];

    pub fn key(self) -> &'static str {
        match self {
            Workload::Put => "put",
            Workload::Get => "get",
            Workload::Query => "query",
        }
    }

    pub fn parse(text: &str) -> Option<Workload> {
        Workload::ALL
            .into_iter()
            .find(|workload| workload.key() == text)
    }

    /// The name in the report.
    pub fn title(self) -> &'static str {
        match self {
            Workload::Put => "PutItem (new keys, ~200-byte items)",
            Workload::Get => "GetItem (existing keys, random)",
            Workload::Query => "Query (one partition of 20 items, one page)",
        }
    }
}

/// How many keys the preparation writes, which bounds the `get` and `query` workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpace {
    pub get_keys: u64,
    pub partitions: u64,
}

impl KeySpace {
    /// Every item the preparation writes: `(pk, sk)` for the `get` keys, then the
    /// partitions' items.
    pub fn prepared_items(self) -> impl Iterator<Item = (String, String)> {
        let singles =
            (0..self.get_keys).map(|key_idx| (get_key(key_idx), SINGLE_SORT_KEY.to_owned()));
        let partitions = (0..self.partitions).flat_map(|partition_idx| {
            (0..ITEMS_PER_PARTITION)
                .map(move |item_idx| (partition_key(partition_idx), format!("{item_idx:04}")))
        });
        singles.chain(partitions)
    }
}

pub fn get_key(key_idx: u64) -> String {
    format!("get-{key_idx}")
}

pub fn partition_key(partition_idx: u64) -> String {
    format!("q-{partition_idx}")
}

/// One operation to send, with what the contender needs to run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Write `item` (DynamoDB JSON) under `pk`/[`SINGLE_SORT_KEY`] or the given sort key.
    Put {
        pk: String,
        sk: String,
        item: String,
    },
    /// Read `pk`/[`SINGLE_SORT_KEY`].
    Get { pk: String },
    /// Read the whole partition `pk`.
    Query { pk: String },
}

impl Operation {
    /// The `X-Amz-Target` header of its request.
    pub fn target(&self) -> &'static str {
        match self {
            Operation::Put { .. } => "DynamoDB_20120810.PutItem",
            Operation::Get { .. } => "DynamoDB_20120810.GetItem",
            Operation::Query { .. } => "DynamoDB_20120810.Query",
        }
    }

    /// The JSON body of its request.
    pub fn body(&self) -> String {
        match self {
            Operation::Put { item, .. } => format!(r#"{{"TableName":"{TABLE}","Item":{item}}}"#),
            Operation::Get { pk } => format!(
                r#"{{"TableName":"{TABLE}","Key":{{"pk":{{"S":"{pk}"}},"sk":{{"S":"{SINGLE_SORT_KEY}"}}}}}}"#
            ),
            Operation::Query { pk } => format!(
                r#"{{"TableName":"{TABLE}","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{{":p":{{"S":"{pk}"}}}}}}"#
            ),
        }
    }

    /// Whether a 200 answer's body is the right one: a `get` found its item, a `query`
    /// returned the whole partition (each item has one `"pk"` attribute, and nothing else in
    /// a one-page answer names it).
    pub fn check_answer(&self, body: &[u8]) -> Result<(), String> {
        match self {
            Operation::Put { .. } => Ok(()),
            Operation::Get { .. } => {
                if count_occurrences(body, br#""Item""#) == 1 {
                    Ok(())
                } else {
                    Err("GetItem answer without the item".to_owned())
                }
            }
            Operation::Query { .. } => {
                let items = count_occurrences(body, br#""pk""#);
                if items == ITEMS_PER_PARTITION as usize {
                    Ok(())
                } else {
                    Err(format!(
                        "Query answer with {items} items, not {ITEMS_PER_PARTITION}"
                    ))
                }
            }
        }
    }
}

fn count_occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|window| *window == needle)
        .count()
}

/// An item in DynamoDB JSON: the keys, a number and the payload string.
pub fn item_json(pk: &str, sk: &str, number: u64) -> String {
    let mut payload = String::with_capacity(PAYLOAD_LEN);
    // Varied but reproducible text, so that nothing compresses it to nothing.
    let mut state = number.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while payload.len() < PAYLOAD_LEN {
        state = xorshift(state);
        let _ = write!(payload, "{:x}", state & 0xffff_ffff);
    }
    payload.truncate(PAYLOAD_LEN);
    format!(
        r#"{{"pk":{{"S":"{pk}"}},"sk":{{"S":"{sk}"}},"n":{{"N":"{number}"}},"payload":{{"S":"{payload}"}}}}"#
    )
}

fn xorshift(mut state: u64) -> u64 {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    state
}

/// The operations of one client: its own `put` keys, and random `get`/`query` keys drawn
/// from a generator seeded by the client's index (reproducible, different per client).
#[derive(Debug, Clone)]
pub struct ClientOperations {
    workload: Workload,
    keys: KeySpace,
    client_idx: usize,
    n_sent: u64,
    random: u64,
}

impl ClientOperations {
    pub fn new(workload: Workload, keys: KeySpace, client_idx: usize) -> Self {
        ClientOperations {
            workload,
            keys,
            client_idx,
            n_sent: 0,
            random: (client_idx as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D) | 1,
        }
    }

    pub fn next_operation(&mut self) -> Operation {
        self.n_sent += 1;
        match self.workload {
            Workload::Put => {
                let pk = format!("put-{}-{}", self.client_idx, self.n_sent);
                let item = item_json(&pk, SINGLE_SORT_KEY, self.n_sent);
                Operation::Put {
                    pk,
                    sk: SINGLE_SORT_KEY.to_owned(),
                    item,
                }
            }
            Workload::Get => Operation::Get {
                pk: get_key(self.random_below(self.keys.get_keys)),
            },
            Workload::Query => Operation::Query {
                pk: partition_key(self.random_below(self.keys.partitions)),
            },
        }
    }

    fn random_below(&mut self, bound: u64) -> u64 {
        self.random = xorshift(self.random);
        self.random % bound.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_about_200_bytes_and_valid_json() {
        let item = item_json("put-3-12345", SINGLE_SORT_KEY, 12345);
        let parsed: serde_json::Value = serde_json::from_str(&item).expect("valid JSON");
        // DynamoDB's item size: attribute names plus values.
        let size: usize = parsed
            .as_object()
            .expect("an object")
            .iter()
            .map(|(name, value)| {
                let text = value.as_object().and_then(|typed| typed.values().next());
                name.len() + text.and_then(|text| text.as_str()).map_or(0, str::len)
            })
            .sum();
        assert!((180..=220).contains(&size), "{size} bytes");
        assert_eq!(parsed["pk"]["S"], "put-3-12345");
        assert_eq!(
            parsed["payload"]["S"].as_str().map(str::len),
            Some(PAYLOAD_LEN)
        );
    }

    #[test]
    fn bodies_are_valid_json() {
        let keys = KeySpace {
            get_keys: 10,
            partitions: 3,
        };
        for workload in Workload::ALL {
            let mut operations = ClientOperations::new(workload, keys, 2);
            let body = operations.next_operation().body();
            let parsed: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
            assert_eq!(parsed["TableName"], TABLE);
        }
    }

    #[test]
    fn put_keys_never_repeat_and_reads_stay_in_the_key_space() {
        let keys = KeySpace {
            get_keys: 10,
            partitions: 3,
        };
        let mut puts = ClientOperations::new(Workload::Put, keys, 1);
        let first = puts.next_operation();
        assert_ne!(first, puts.next_operation());
        let mut gets = ClientOperations::new(Workload::Get, keys, 1);
        for _ in 0..100 {
            let Operation::Get { pk } = gets.next_operation() else {
                panic!("a get workload sends gets");
            };
            let key_idx: u64 = pk["get-".len()..].parse().expect("a number");
            assert!(key_idx < 10);
        }
        assert_eq!(keys.prepared_items().count(), 10 + 3 * 20);
    }

    #[test]
    fn answers_are_checked() {
        let get = Operation::Get { pk: "get-1".into() };
        assert!(get
            .check_answer(br#"{"Item":{"pk":{"S":"get-1"}}}"#)
            .is_ok());
        assert!(get.check_answer(b"{}").is_err());
        let query = Operation::Query { pk: "q-1".into() };
        let items: Vec<String> = (0..20)
            .map(|_| r#"{"pk":{"S":"q-1"}}"#.to_owned())
            .collect();
        let full = format!(r#"{{"Count":20,"Items":[{}]}}"#, items.join(","));
        assert!(query.check_answer(full.as_bytes()).is_ok());
        assert!(query.check_answer(br#"{"Count":0,"Items":[]}"#).is_err());
    }
}
