//! Listing a bucket as ListObjects and ListObjectsV2 do: keys in byte order from a
//! cursor, rolled up into common prefixes at a delimiter, with S3's `url` encoding type
//! and opaque continuation tokens.

use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::backend::{ObjectRecord, S3Backend, StorageError};

/// How many records are read from the backend at a time.
const BATCH: usize = 1000;

/// What a listing found.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<ObjectRecord>,
    pub prefixes: Vec<String>,
    /// Whether more keys or prefixes follow.
    pub truncated: bool,
    /// The last key or common prefix listed: where the next page starts.
    pub last: Option<String>,
}

/// The largest character: a cursor of `prefix` then this sorts after every key that
/// starts with `prefix` (keys are UTF-8, so no key has a larger character after it).
const AFTER_EVERYTHING: char = '\u{10FFFF}';

/// Up to `max_keys` objects and common prefixes whose keys start with `prefix` and sort
/// after `after`.
pub fn list(
    backend: &dyn S3Backend,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    after: &str,
    max_keys: usize,
) -> Result<Listing, StorageError> {
    let mut listing = Listing::default();
    // A cursor inside a common prefix (a marker that is one) skips the rest of it.
    let mut cursor = match delimiter {
        Some(delimiter) => match rolled_up(after, prefix, delimiter) {
            Some(common) if common == after => format!("{common}{AFTER_EVERYTHING}"),
            _ => after.to_owned(),
        },
        None => after.to_owned(),
    };
    'batches: loop {
        let batch = backend.list_objects(bucket, prefix, &cursor, BATCH)?;
        if batch.is_empty() {
            break;
        }
        let full = batch.len() == BATCH;
        for object in batch {
            let common = delimiter.and_then(|delimiter| rolled_up(&object.key, prefix, delimiter));
            if listing.objects.len() + listing.prefixes.len() == max_keys {
                listing.truncated = true;
                break 'batches;
            }
            match common {
                Some(common) => {
                    cursor = format!("{common}{AFTER_EVERYTHING}");
                    listing.last = Some(common.clone());
                    listing.prefixes.push(common);
                    continue 'batches;
                }
                None => {
                    cursor = object.key.clone();
                    listing.last = Some(object.key.clone());
                    listing.objects.push(object);
                }
            }
        }
        if !full {
            break;
        }
    }
    Ok(listing)
}

/// The common prefix `key` rolls up into: up to and including the first `delimiter`
/// after `prefix`.
fn rolled_up(key: &str, prefix: &str, delimiter: &str) -> Option<String> {
    let rest = key.strip_prefix(prefix)?;
    let at = rest.find(delimiter)?;
    Some(format!("{prefix}{}", &rest[..at + delimiter.len()]))
}

/// A continuation token: the cursor, opaque to clients.
pub fn encode_token(last: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last)
}

/// The cursor a continuation token carries.
pub fn decode_token(token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// What `encoding-type=url` leaves alone: unreserved characters and `/`.
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// How keys and prefixes are printed: as they are, or URL-encoded when asked.
pub fn encoder(encoding_type: Option<&s3s::dto::EncodingType>) -> Box<dyn Fn(&str) -> String> {
    match encoding_type {
        Some(encoding) if encoding.as_str().eq_ignore_ascii_case("url") => {
            Box::new(|text: &str| utf8_percent_encode(text, URL_ENCODE).to_string())
        }
        _ => Box::new(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Bucket, ObjectHeaders};
    use crate::sqlite::SqliteBackend;

    fn backend(keys: &[&str]) -> SqliteBackend {
        let backend = SqliteBackend::in_memory().expect("database");
        backend
            .create_bucket(&Bucket {
                name: "b".to_owned(),
                created: time::OffsetDateTime::UNIX_EPOCH,
                stack: None,
            })
            .expect("bucket");
        for key in keys {
            backend
                .put_object(&ObjectRecord {
                    bucket: "b".to_owned(),
                    key: (*key).to_owned(),
                    size: 0,
                    etag: String::new(),
                    last_modified: time::OffsetDateTime::UNIX_EPOCH,
                    headers: ObjectHeaders::default(),
                    checksums: Default::default(),
                    parts_count: None,
                    tags: Vec::new(),
                    body: format!("body-{key}"),
                    version_id: None,
                })
                .expect("object");
        }
        backend
    }

    fn check(listing: &Listing) -> String {
        let keys: Vec<&str> = listing
            .objects
            .iter()
            .map(|object| object.key.as_str())
            .collect();
        format!(
            "keys={keys:?} prefixes={:?} truncated={} last={:?}",
            listing.prefixes, listing.truncated, listing.last
        )
    }

    #[test]
    fn delimiters_roll_keys_up_into_pages_of_prefixes() {
        let backend = backend(&["a/1", "a/2", "b", "c/d/1", "c/e", "d"]);
        let page = list(&backend, "b", "", Some("/"), "", 2).expect("list");
        assert_eq!(
            check(&page),
            r#"keys=["b"] prefixes=["a/"] truncated=true last=Some("b")"#
        );
        let page = list(&backend, "b", "", Some("/"), "b", 2).expect("list");
        assert_eq!(
            check(&page),
            r#"keys=["d"] prefixes=["c/"] truncated=false last=Some("d")"#
        );
        let page = list(&backend, "b", "c/", Some("/"), "", 10).expect("list");
        assert_eq!(
            check(&page),
            r#"keys=["c/e"] prefixes=["c/d/"] truncated=false last=Some("c/e")"#
        );
        // A marker that is a common prefix skips the whole prefix.
        let page = list(&backend, "b", "", Some("/"), "a/", 10).expect("list");
        assert_eq!(
            check(&page),
            r#"keys=["b", "d"] prefixes=["c/"] truncated=false last=Some("d")"#
        );
        let page = list(&backend, "b", "", None, "a/2", 2).expect("list");
        assert_eq!(
            check(&page),
            r#"keys=["b", "c/d/1"] prefixes=[] truncated=true last=Some("c/d/1")"#
        );
    }

    #[test]
    fn url_encoding_leaves_slashes() {
        let encode = encoder(Some(&s3s::dto::EncodingType::from_static("url")));
        assert_eq!(encode("a b/ü+%"), "a%20b/%C3%BC%2B%25");
        assert_eq!(decode_token(&encode_token("x/y")).as_deref(), Some("x/y"));
    }
}
