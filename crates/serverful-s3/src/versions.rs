//! Object versions: what versioning (Enabled or Suspended, from the bucket's
//! configuration) means for writes, reads and deletes, and `ListObjectVersions`.
//!
//! The current version of each key is the `objects` record the unversioned operations
//! read; the backend keeps noncurrent versions and delete markers beside it (SQLite's
//! `object_versions`), each noncurrent version keeping its body until that version is
//! deleted. A version id is 32 random hexadecimal characters; `null` is the version of
//! an object written while versioning was off or suspended.

use std::sync::atomic::{AtomicI64, Ordering};

use http::{HeaderMap, HeaderValue};
use s3s::dto;
use s3s::{s3_error, S3Error, S3Result};
use time::OffsetDateTime;

use crate::backend::{ObjectHeaders, ObjectRecord, ObjectVersion};
use crate::configuration::Versioning;
use crate::service::{no_such_key, storage, S3Store};

/// The time now, strictly later than any time this process gave before: versions of one
/// key are ordered by it.
pub(crate) fn now() -> OffsetDateTime {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let wall = i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos()).unwrap_or(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = wall.max(last + 1);
        match LAST.compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => {
                return OffsetDateTime::from_unix_timestamp_nanos(i128::from(next))
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            }
            Err(current) => last = current,
        }
    }
}

fn new_version_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The version a request names: `null`, or one of ours; anything else is S3's
/// `InvalidArgument`.
pub(crate) fn parse_version_id(text: &str) -> S3Result<Option<String>> {
    if text == "null" {
        return Ok(None);
    }
    let ours = text.len() == 32
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte));
    if ours {
        Ok(Some(text.to_owned()))
    } else {
        Err(s3_error!(InvalidArgument, "Invalid version id specified"))
    }
}

/// The `x-amz-version-id` an answer carries: the version's id, `null` for the null
/// version of a bucket whose versioning was ever set, nothing otherwise.
pub(crate) fn version_header(versioning: Versioning, version_id: Option<&str>) -> Option<String> {
    match (version_id, versioning) {
        (Some(id), _) => Some(id.to_owned()),
        (None, Versioning::Unversioned) => None,
        (None, _) => Some("null".to_owned()),
    }
}

fn with_headers(mut error: S3Error, pairs: &[(&'static str, String)]) -> S3Error {
    let mut headers = HeaderMap::new();
    // s3s answers an error's own headers instead of its defaults.
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(*name, value);
        }
    }
    error.set_headers(headers);
    error
}

fn http_date(time: OffsetDateTime) -> String {
    let mut text = Vec::new();
    let _ = dto::Timestamp::from(time).format(dto::TimestampFormat::HttpDate, &mut text);
    String::from_utf8_lossy(&text).into_owned()
}

fn no_such_version() -> S3Error {
    s3_error!(NoSuchVersion, "The specified version does not exist.")
}

/// What deleting a key (or one of its versions) did, as `DeleteObject` answers it.
#[derive(Debug, Default)]
pub(crate) struct Deletion {
    /// The version deleted, or the delete marker made.
    pub version_id: Option<String>,
    /// A delete marker was made, or the version deleted was one.
    pub delete_marker: bool,
    /// The event name to tell (`None`: nothing was there).
    pub event: Option<&'static str>,
}

impl S3Store {
    /// The bucket's versioning state.
    pub(crate) fn versioning(&self, bucket: &str) -> S3Result<Versioning> {
        Ok(crate::configuration::versioning_of(
            self.backend
                .configuration(bucket, crate::backend::ConfigurationKind::Versioning)
                .map_err(storage)?
                .map(|stored| stored.document)
                .as_ref(),
        ))
    }

    /// The versioning state and the version id a new object of `bucket` gets.
    pub(crate) fn next_version(&self, bucket: &str) -> S3Result<(Versioning, Option<String>)> {
        let versioning = self.versioning(bucket)?;
        let id = (versioning == Versioning::Enabled).then(new_version_id);
        Ok((versioning, id))
    }

    /// The object a GET, HEAD or copy reads: the current version, or the one named.
    /// S3's errors: `NoSuchKey` (with the marker's headers when the latest version is a
    /// delete marker), `NoSuchVersion`, `MethodNotAllowed` for a marker named.
    pub(crate) fn readable_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<ObjectRecord> {
        self.require_bucket(bucket)?;
        match version_id {
            Some(text) => {
                let version_id = parse_version_id(text)?;
                let version = self
                    .backend
                    .object_version(bucket, key, version_id.as_deref())
                    .map_err(storage)?
                    .ok_or_else(no_such_version)?;
                if version.delete_marker {
                    let mut error = s3_error!(
                        MethodNotAllowed,
                        "The specified method is not allowed against this resource."
                    );
                    error.set_status_code(http::StatusCode::METHOD_NOT_ALLOWED);
                    return Err(with_headers(
                        error,
                        &[
                            ("x-amz-delete-marker", "true".to_owned()),
                            ("x-amz-version-id", text.to_owned()),
                            ("allow", "DELETE".to_owned()),
                            ("last-modified", http_date(version.record.last_modified)),
                        ],
                    ));
                }
                Ok(version.record)
            }
            None => {
                if let Some(object) = self.backend.object(bucket, key).map_err(storage)? {
                    return Ok(object);
                }
                let marker = self
                    .backend
                    .latest_version(bucket, key)
                    .map_err(storage)?
                    .filter(|latest| latest.delete_marker);
                let error = no_such_key();
                Err(match marker {
                    Some(marker) => with_headers(
                        error,
                        &[
                            ("x-amz-delete-marker", "true".to_owned()),
                            (
                                "x-amz-version-id",
                                marker
                                    .record
                                    .version_id
                                    .unwrap_or_else(|| "null".to_owned()),
                            ),
                        ],
                    ),
                    None => error,
                })
            }
        }
    }

    /// Deletes a key (a delete marker in a versioned bucket) or, with `version_id`, one
    /// version for good. Returns what happened; the bodies no record names are removed.
    pub(crate) async fn delete_key(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<Deletion> {
        if let Some(text) = version_id {
            let version_id = parse_version_id(text)?;
            let deleted = self
                .backend
                .delete_version(bucket, key, version_id.as_deref())
                .map_err(storage)?;
            let Some(deleted) = deleted else {
                // Deleting a version that does not exist succeeds, as on S3.
                return Ok(Deletion {
                    version_id: Some(text.to_owned()),
                    ..Deletion::default()
                });
            };
            if !deleted.delete_marker {
                self.bodies.remove([deleted.record.body.clone()]).await;
            }
            return Ok(Deletion {
                version_id: Some(text.to_owned()),
                delete_marker: deleted.delete_marker,
                event: Some("ObjectRemoved:Delete"),
            });
        }
        let (versioning, marker_id) = self.next_version(bucket)?;
        if versioning == Versioning::Unversioned {
            let body = self.backend.delete_object(bucket, key).map_err(storage)?;
            let existed = body.is_some();
            self.bodies.remove(body).await;
            return Ok(Deletion {
                event: existed.then_some("ObjectRemoved:Delete"),
                ..Deletion::default()
            });
        }
        let marker = ObjectRecord {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: 0,
            etag: String::new(),
            last_modified: now(),
            headers: ObjectHeaders::default(),
            checksums: Default::default(),
            parts_count: None,
            tags: Vec::new(),
            body: String::new(),
            version_id: marker_id.clone(),
        };
        let released = self.backend.put_delete_marker(&marker).map_err(storage)?;
        self.bodies.remove(released).await;
        Ok(Deletion {
            version_id: Some(marker_id.unwrap_or_else(|| "null".to_owned())),
            delete_marker: true,
            event: Some("ObjectRemoved:DeleteMarkerCreated"),
        })
    }

    /// Replaces the tags of the current version of a key, or of the version named;
    /// returns the version's `x-amz-version-id`.
    pub(crate) fn tag_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: &[(String, String)],
    ) -> S3Result<Option<String>> {
        let object = self.readable_version(bucket, key, version_id)?;
        let tagged = self
            .backend
            .set_version_tags(bucket, key, object.version_id.as_deref(), tags)
            .map_err(storage)?;
        if !tagged {
            // Deleted between the read and the write.
            return Err(no_such_key());
        }
        Ok(version_header(
            self.versioning(bucket)?,
            object.version_id.as_deref(),
        ))
    }

    pub(crate) fn list_versions(
        &self,
        input: dto::ListObjectVersionsInput,
    ) -> S3Result<dto::ListObjectVersionsOutput> {
        self.require_bucket(&input.bucket)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let delimiter = input
            .delimiter
            .clone()
            .filter(|delimiter| !delimiter.is_empty());
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000);
        let limit = usize::try_from(max_keys).unwrap_or(0);
        let key_marker = input.key_marker.clone().unwrap_or_default();
        let version_marker = input
            .version_id_marker
            .clone()
            .filter(|marker| !marker.is_empty());
        if version_marker.is_some() && key_marker.is_empty() {
            return Err(s3_error!(
                InvalidArgument,
                "A version-id marker cannot be specified without a key marker."
            ));
        }
        let encode = crate::listing::encoder(input.encoding_type.as_ref());
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut count = 0usize;
        let mut truncated = false;
        let mut next: Option<(String, Option<String>)> = None;
        // With a version marker the listing resumes inside its key; without, after it.
        let mut cursor = key_marker.clone();
        let mut inclusive = version_marker.is_some();
        'keys: loop {
            let keys = self
                .backend
                .versioned_keys(&input.bucket, &prefix, &cursor, inclusive, 1000)
                .map_err(storage)?;
            if keys.is_empty() {
                break;
            }
            let full = keys.len() == 1000;
            for key in keys {
                cursor = key.clone();
                inclusive = false;
                if let Some(delimiter) = &delimiter {
                    let rest = &key[prefix.len()..];
                    if let Some(at) = rest.find(delimiter.as_str()) {
                        let common = format!("{prefix}{}", &rest[..at + delimiter.len()]);
                        if prefixes.last() != Some(&common)
                            && !(common <= key_marker && key_marker.starts_with(&common))
                        {
                            if count == limit {
                                truncated = true;
                                break 'keys;
                            }
                            count += 1;
                            next = Some((common.clone(), None));
                            prefixes.push(common.clone());
                        }
                        cursor = format!("{common}\u{10FFFF}");
                        continue 'keys;
                    }
                }
                let mut all = self
                    .backend
                    .versions_of(&input.bucket, &key)
                    .map_err(storage)?;
                if key == key_marker {
                    match &version_marker {
                        Some(marker) => {
                            let marker = parse_version_id(marker)?;
                            let Some(at) = all
                                .iter()
                                .position(|version| version.record.version_id == marker)
                            else {
                                continue;
                            };
                            all.drain(..=at);
                        }
                        None => continue,
                    }
                }
                for version in all {
                    if count == limit {
                        truncated = true;
                        break 'keys;
                    }
                    count += 1;
                    next = Some((key.clone(), version.record.version_id.clone()));
                    push_version(&version, &encode, &mut versions, &mut markers);
                }
            }
            if !full {
                break;
            }
        }
        let (next_key, next_version) = match (truncated, next) {
            (true, Some((key, version))) => (
                Some(encode(&key)),
                Some(version.unwrap_or_else(|| "null".to_owned())),
            ),
            _ => (None, None),
        };
        Ok(dto::ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: Some(encode(&prefix)),
            key_marker: Some(encode(&key_marker)),
            version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
            max_keys: Some(max_keys),
            delimiter: input.delimiter.map(|delimiter| encode(&delimiter)),
            encoding_type: input.encoding_type,
            is_truncated: Some(truncated),
            next_key_marker: next_key,
            next_version_id_marker: next_version,
            versions: Some(versions),
            delete_markers: Some(markers),
            common_prefixes: Some(
                prefixes
                    .iter()
                    .map(|prefix| dto::CommonPrefix {
                        prefix: Some(encode(prefix)),
                    })
                    .collect(),
            ),
            ..Default::default()
        })
    }
}

fn push_version(
    version: &ObjectVersion,
    encode: &dyn Fn(&str) -> String,
    versions: &mut Vec<dto::ObjectVersion>,
    markers: &mut Vec<dto::DeleteMarkerEntry>,
) {
    let record = &version.record;
    let version_id = Some(
        record
            .version_id
            .clone()
            .unwrap_or_else(|| "null".to_owned()),
    );
    let owner = Some(dto::Owner {
        display_name: Some("serverful".to_owned()),
        id: Some("serverful".to_owned()),
    });
    if version.delete_marker {
        markers.push(dto::DeleteMarkerEntry {
            is_latest: Some(version.latest),
            key: Some(encode(&record.key)),
            last_modified: Some(dto::Timestamp::from(record.last_modified)),
            owner,
            version_id,
        });
    } else {
        versions.push(dto::ObjectVersion {
            e_tag: Some(dto::ETag::Strong(record.etag.clone())),
            is_latest: Some(version.latest),
            key: Some(encode(&record.key)),
            last_modified: Some(dto::Timestamp::from(record.last_modified)),
            owner,
            size: i64::try_from(record.size).ok(),
            storage_class: Some(dto::ObjectVersionStorageClass::from_static(
                dto::ObjectVersionStorageClass::STANDARD,
            )),
            version_id,
            ..Default::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use s3s::S3ErrorCode;

    use super::*;

    #[test]
    fn version_ids_are_ours_or_null() {
        assert_eq!(parse_version_id("null").expect("null"), None);
        let id = new_version_id();
        assert_eq!(parse_version_id(&id).expect("ours"), Some(id));
        for bad in ["", "abc", "../../etc/passwd", &"x".repeat(33)] {
            assert_eq!(
                parse_version_id(bad).expect_err(bad).code(),
                &S3ErrorCode::InvalidArgument
            );
        }
    }

    #[test]
    fn http_dates_are_rfc_7231() {
        let time = crate::lifecycle::parse_date("2026-12-07T15:04:05Z").expect("date");
        assert_eq!(http_date(time), "Mon, 07 Dec 2026 15:04:05 GMT");
    }

    #[test]
    fn times_only_grow() {
        let first = now();
        assert!(now() > first);
    }
}
