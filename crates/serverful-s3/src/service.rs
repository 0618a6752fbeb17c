//! The S3 operations: our implementation of s3s's [`S3`] trait over an [`S3Backend`] and
//! the [`Bodies`] store. s3s has parsed and authenticated the request; this is where
//! buckets and objects are read and written, conditions and checksums are checked, and
//! S3's errors are chosen.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine as _;
use s3s::dto::{self, ETag, ETagCondition, StreamingBlob, Timestamp};
use s3s::{s3_error, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, S3};
use serverful_aws::{Action, KeyRing, Principal, Resource};
use time::OffsetDateTime;

use crate::backend::{
    Bucket, BucketDeletion, ObjectHeaders, ObjectRecord, Part, S3Backend, StorageError, Upload,
};
use crate::bodies::{Bodies, Staged, WriteError};
use crate::checksum::{self, Algorithm};
use crate::listing::{self, Listing};
use crate::website_routing::check_written_redirect_location;

mod part_copy;

/// The smallest part but the last of a multipart upload.
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// The most tags an object may have.
const MAX_TAGS: usize = 10;

/// Who made a request, as object events report it.
pub(crate) struct Origin {
    principal: Option<String>,
    source_ip: String,
}

/// S3's buckets and objects, as the AWS endpoint serves them. Clones share everything.
#[derive(Clone)]
pub struct S3Store {
    pub(crate) backend: Arc<dyn S3Backend>,
    pub(crate) bodies: Bodies,
    keys: Arc<KeyRing>,
    region: String,
    /// Where object events go; set once by the server.
    events: Arc<std::sync::OnceLock<Arc<dyn crate::ObjectEventSink>>>,
    /// Multipart uploads being completed: their parts are the object's from the moment
    /// the parts are chosen, so no part may be replaced then.
    completing: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// An event journaled before its change: delivered once the change is made, dropped
/// from the journal if it fails. Empty when no sink wants the bucket's events.
#[must_use]
pub(crate) struct Pending(Option<(i64, crate::ObjectEvent)>);

impl Pending {
    /// Delivers the event (what the change reports may rename it: a delete that made a
    /// marker, the version it made).
    pub(crate) async fn deliver(self, store: &S3Store) {
        if let Some((id, event)) = self.0 {
            store.deliver(id, event).await;
        }
    }

    /// The change told of a different event than the one journaled (a delete's marker).
    pub(crate) fn retold(mut self, name: &'static str, version_id: Option<String>) -> Pending {
        if let Some((_, event)) = &mut self.0 {
            event.name = name;
            event.version_id = version_id;
        }
        self
    }

    /// The change did not happen: its event goes from the journal.
    pub(crate) fn drop_from(self, store: &S3Store) {
        if let Some((id, _)) = self.0 {
            store.forget(id);
        }
    }
}

/// An upload marked as being completed, until dropped.
struct Completing {
    uploads: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    id: String,
}

impl Completing {
    /// Marks `id`; `None` if another request is completing it.
    fn enter(
        uploads: &Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
        id: &str,
    ) -> Option<Completing> {
        let fresh = uploads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.to_owned());
        fresh.then(|| Completing {
            uploads: uploads.clone(),
            id: id.to_owned(),
        })
    }
}

impl Drop for Completing {
    fn drop(&mut self) {
        self.uploads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.id);
    }
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("bodies", &self.bodies)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

fn internal(error: impl std::error::Error + Send + Sync + 'static) -> S3Error {
    tracing::error!("failed to serve an S3 request: {error}");
    S3Error::internal_error(error)
}

pub(crate) fn storage(error: StorageError) -> S3Error {
    internal(error)
}

fn write_error(error: WriteError) -> S3Error {
    match error {
        WriteError::Body(source) => {
            tracing::debug!("S3 request body failed: {source}");
            let mut error = s3_error!(
                IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header."
            );
            error.set_source(source);
            error
        }
        WriteError::Io(error) => internal(error),
    }
}

fn timestamp(time: OffsetDateTime) -> Timestamp {
    Timestamp::from(time)
}

fn etag(value: &str) -> ETag {
    ETag::Strong(value.to_owned())
}

fn no_such_bucket(_name: &str) -> S3Error {
    s3_error!(NoSuchBucket, "The specified bucket does not exist")
}

pub(crate) fn no_such_key() -> S3Error {
    s3_error!(NoSuchKey, "The specified key does not exist.")
}

/// A part number, which must be 1 to 10,000.
fn part_number(number: i32) -> S3Result<u32> {
    u32::try_from(number)
        .ok()
        .filter(|number| (1..=10_000).contains(number))
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            )
        })
}

fn no_such_upload() -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )
}

/// The `x-amz-tagging` header's form: `k1=v1&k2=v2`.
fn parse_tagging_header(header: &str) -> Vec<(String, String)> {
    header
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| percent_decode(&text.replace('+', " "));
            (decode(key), decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&text[index + 1..index + 3], 16) {
                out.push(byte);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn check_tags(tags: &[(String, String)]) -> S3Result<()> {
    if tags.len() > MAX_TAGS {
        let mut error = S3Error::with_message(
            S3ErrorCode::Custom("BadRequest".into()),
            "Object tags cannot be greater than 10",
        );
        error.set_status_code(http::StatusCode::BAD_REQUEST);
        return Err(error);
    }
    let mut seen = std::collections::HashSet::new();
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(s3_error!(
                InvalidTag,
                "The TagKey you have provided is invalid"
            ));
        }
        if !seen.insert(key) {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key"
            ));
        }
    }
    Ok(())
}

/// The checksum a request asks for: a value in a header, an algorithm named, or a
/// trailer announced (`x-amz-trailer: x-amz-checksum-crc32`).
fn requested_checksum(
    headers: &http::HeaderMap,
    algorithm: Option<&dto::ChecksumAlgorithm>,
) -> S3Result<Option<Algorithm>> {
    for name in ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"] {
        let algorithm = Algorithm::parse(name).expect("a known algorithm");
        if headers.contains_key(algorithm.header().as_str()) {
            return Ok(Some(algorithm));
        }
    }
    if let Some(trailer) = headers
        .get("x-amz-trailer")
        .and_then(|value| value.to_str().ok())
    {
        if let Some(name) = trailer
            .trim()
            .to_ascii_lowercase()
            .strip_prefix("x-amz-checksum-")
        {
            return Algorithm::parse(name)
                .map(Some)
                .ok_or_else(|| s3_error!(InvalidRequest, "Invalid trailer header: {trailer}"));
        }
    }
    match algorithm {
        Some(algorithm) => Algorithm::parse(algorithm.as_str())
            .map(Some)
            .ok_or_else(|| {
                s3_error!(
                    InvalidRequest,
                    "Value for x-amz-checksum-algorithm header is invalid."
                )
            }),
        None => Ok(None),
    }
}

/// Checks the body against `Content-MD5` and the checksum the client sent (in a header
/// or a trailer), and returns the checksums to keep.
fn verify_body<T>(
    request: &S3Request<T>,
    staged: &Staged,
    content_md5: Option<&str>,
) -> S3Result<BTreeMap<String, String>> {
    if let Some(content_md5) = content_md5 {
        let given = base64::engine::general_purpose::STANDARD
            .decode(content_md5.trim())
            .ok()
            .filter(|bytes| bytes.len() == 16)
            .ok_or_else(|| {
                s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid.")
            })?;
        if hex::encode(given) != staged.md5 {
            return Err(s3_error!(
                BadDigest,
                "The Content-MD5 you specified did not match what we received."
            ));
        }
    }
    let mut checksums = BTreeMap::new();
    if let Some((algorithm, computed)) = &staged.checksum {
        let header = algorithm.header();
        let given = request
            .headers
            .get(header.as_str())
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                request.trailing_headers.as_ref().and_then(|trailers| {
                    trailers
                        .read(|headers| {
                            headers
                                .get(header.as_str())
                                .and_then(|value| value.to_str().ok())
                                .map(str::to_owned)
                        })
                        .flatten()
                })
            });
        if let Some(given) = given {
            if given.trim() != computed {
                return Err(S3Error::with_message(
                    S3ErrorCode::BadDigest,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        algorithm.name()
                    ),
                ));
            }
        }
        checksums.insert(algorithm.name().to_owned(), computed.clone());
    }
    Ok(checksums)
}

fn metadata_of(metadata: Option<dto::Metadata>) -> BTreeMap<String, String> {
    metadata
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| (key.to_ascii_lowercase(), value))
        .collect()
}

fn expires_text(expires: Option<Timestamp>) -> Option<String> {
    expires.map(|expires| {
        let mut text = Vec::new();
        let _ = expires.format(dto::TimestampFormat::HttpDate, &mut text);
        String::from_utf8_lossy(&text).into_owned()
    })
}

fn expires_of(text: Option<&String>) -> Option<Timestamp> {
    text.and_then(|text| Timestamp::parse(dto::TimestampFormat::HttpDate, text).ok())
}

fn output_metadata(headers: &ObjectHeaders) -> Option<dto::Metadata> {
    (!headers.metadata.is_empty()).then(|| {
        headers
            .metadata
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect::<HashMap<_, _>>()
    })
}

/// Whole seconds, as HTTP dates carry them.
fn seconds(time: OffsetDateTime) -> i64 {
    time.unix_timestamp()
}

/// The conditional headers of GET and HEAD, as S3 (and RFC 7232) evaluates them.
fn check_conditions(
    object: &ObjectRecord,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
    failed: S3ErrorCode,
    not_modified: S3ErrorCode,
) -> S3Result<()> {
    let matches = |condition: &ETagCondition| match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(tag) => tag.value() == object.etag,
    };
    let modified = seconds(object.last_modified);
    if let Some(condition) = if_match {
        if !matches(condition) {
            return Err(S3Error::with_message(
                failed,
                "At least one of the pre-conditions you specified did not hold",
            ));
        }
    } else if let Some(since) = if_unmodified_since {
        if modified > seconds(OffsetDateTime::from(since.clone())) {
            return Err(S3Error::with_message(
                failed,
                "At least one of the pre-conditions you specified did not hold",
            ));
        }
    }
    if let Some(condition) = if_none_match {
        if matches(condition) {
            return Err(S3Error::new(not_modified));
        }
    } else if let Some(since) = if_modified_since {
        if modified <= seconds(OffsetDateTime::from(since.clone())) {
            return Err(S3Error::new(not_modified));
        }
    }
    Ok(())
}

/// The part of an object of `size` bytes a `Range` asks for: its start, its length and
/// the `Content-Range` to answer with; the whole object without one. A range past the end
/// is S3's 416 `InvalidRange`.
fn requested_range(range: Option<&dto::Range>, size: u64) -> S3Result<(u64, u64, Option<String>)> {
    let Some(range) = range else {
        return Ok((0, size, None));
    };
    let range = range.check(size).map_err(|_| {
        let mut error = s3_error!(InvalidRange, "The requested range is not satisfiable");
        error.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
        error
    })?;
    let content_range = format!(
        "bytes {}-{}/{}",
        range.start,
        range.end.saturating_sub(1),
        size
    );
    Ok((range.start, range.end - range.start, Some(content_range)))
}

impl S3Store {
    /// The store over `backend` and `bodies`, whose callers sign with the keys of `keys`;
    /// `region` is the one it reports buckets in.
    pub fn new(
        backend: Arc<dyn S3Backend>,
        bodies: Bodies,
        keys: Arc<KeyRing>,
        region: impl Into<String>,
    ) -> S3Store {
        S3Store {
            backend,
            bodies,
            keys,
            region: region.into(),
            events: Arc::default(),
            completing: Arc::default(),
        }
    }

    /// Where object events go from now on (set once, before requests are served).
    pub fn set_event_sink(&self, sink: Arc<dyn crate::ObjectEventSink>) {
        let _ = self.events.set(sink);
    }

    /// Who made a request, for its object events.
    fn origin<T>(&self, request: &S3Request<T>) -> Origin {
        Origin {
            principal: request
                .credentials
                .as_ref()
                .map(|credentials| credentials.access_key.clone()),
            source_ip: request
                .headers
                .get("x-forwarded-for")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split(',').next())
                .map_or_else(|| "127.0.0.1".to_owned(), |ip| ip.trim().to_owned()),
        }
    }

    /// Who S3 itself is in the events it makes (a lifecycle rule's expirations).
    pub(crate) fn lifecycle_origin() -> Origin {
        Origin {
            principal: Some("s3.amazonaws.com".to_owned()),
            source_ip: "s3.amazonaws.com".to_owned(),
        }
    }

    /// The event `name` of `key` of `bucket` (created: `size` and `etag` given; removed),
    /// written to the journal before its change is committed when the event sink wants
    /// the bucket's events. [`Pending::deliver`] it once the change is made,
    /// [`Pending::drop_from`] the journal if the change fails.
    pub(crate) fn journal(
        &self,
        origin: &Origin,
        name: &'static str,
        bucket: &str,
        key: &str,
        created: Option<(u64, &str)>,
        version_id: Option<String>,
    ) -> S3Result<Pending> {
        let Some(sink) = self.events.get() else {
            return Ok(Pending(None));
        };
        if !sink.wants(bucket) {
            return Ok(Pending(None));
        }
        let event = crate::ObjectEvent {
            name,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: created.map(|(size, _)| size),
            etag: created.map(|(_, etag)| etag.to_owned()),
            version_id,
            sequencer: crate::events::sequencer(),
            principal: origin.principal.clone(),
            source_ip: origin.source_ip.clone(),
            request_id: uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase(),
            time: OffsetDateTime::now_utc(),
        };
        let id = self
            .backend
            .journal_event(&event.to_journal())
            .map_err(storage)?;
        Ok(Pending(Some((id, event))))
    }

    /// Hands `event` to the sink, then forgets its journal entry `id`.
    async fn deliver(&self, id: i64, event: crate::ObjectEvent) {
        if let Some(sink) = self.events.get() {
            sink.deliver(event).await;
        }
        self.forget(id);
    }

    fn forget(&self, id: i64) {
        if let Err(error) = self.backend.forget_event(id) {
            // Delivered again at the next start: at least once.
            tracing::warn!("failed to forget a delivered S3 event: {error}");
        }
    }

    /// Delivers the events a crash left in the journal whose changes were made: the
    /// object (or the version named) is there with the event's ETag for a creation; the
    /// version named, or the key, is gone (or behind a delete marker) for a removal.
    /// The others are forgotten.
    pub async fn deliver_journaled_events(&self) -> Result<usize, StorageError> {
        let mut delivered = 0;
        for (id, text) in self.backend.journaled_events()? {
            let Some(mut event) = crate::ObjectEvent::from_journal(&text) else {
                tracing::warn!(id, "dropped an S3 event this build cannot read");
                self.forget(id);
                continue;
            };
            let happened = match &event.etag {
                Some(etag) => {
                    let found = match event.version_id.as_deref() {
                        Some(version) => self
                            .backend
                            .object_version(&event.bucket, &event.key, Some(version))?
                            .map(|version| version.record),
                        None => self.backend.object(&event.bucket, &event.key)?,
                    };
                    found.is_some_and(|record| record.etag == *etag)
                }
                None => match event.version_id.as_deref() {
                    Some(version) => self
                        .backend
                        .object_version(&event.bucket, &event.key, Some(version))?
                        .is_none(),
                    None => match self.backend.latest_version(&event.bucket, &event.key)? {
                        None => true,
                        Some(latest) if latest.delete_marker => {
                            event.name = if event.name.starts_with("Lifecycle") {
                                "LifecycleExpiration:DeleteMarkerCreated"
                            } else {
                                "ObjectRemoved:DeleteMarkerCreated"
                            };
                            event.version_id = latest.record.version_id;
                            true
                        }
                        Some(_) => false,
                    },
                },
            };
            if happened {
                self.deliver(id, event).await;
                delivered += 1;
            } else {
                self.forget(id);
            }
        }
        Ok(delivered)
    }

    /// Keeps the bodies of deleted or replaced objects on disk until the hold is dropped:
    /// taken by a backup for as long as it copies the data folder, so that every record
    /// its snapshot holds finds its body.
    pub fn hold_removals(&self) -> crate::bodies::RemovalHold {
        self.bodies.hold_removals()
    }

    /// The region buckets are reported in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The backend, for the platform's buckets.
    pub fn backend(&self) -> &Arc<dyn S3Backend> {
        &self.backend
    }

    /// Creates a stack's bucket if it does not exist yet (deploys keep it).
    pub fn ensure_stack_bucket(&self, name: &str, stack: &str) -> Result<(), StorageError> {
        self.backend.create_bucket(&Bucket {
            name: name.to_owned(),
            created: OffsetDateTime::now_utc(),
            stack: Some(stack.to_owned()),
        })?;
        Ok(())
    }

    /// Deletes a stack's bucket with everything in it (the stack's deletion).
    pub async fn delete_stack_bucket(&self, name: &str) -> Result<(), StorageError> {
        if let BucketDeletion::Deleted { bodies } = self.backend.delete_bucket(name, true)? {
            self.bodies.remove(bodies).await;
        }
        Ok(())
    }

    fn principal<T>(&self, request: &S3Request<T>) -> Option<Arc<Principal>> {
        let credentials = request.credentials.as_ref()?;
        self.keys
            .snapshot()
            .get(&credentials.access_key)
            .map(|identity| identity.principal.clone())
    }

    pub(crate) fn require_bucket(&self, name: &str) -> S3Result<Bucket> {
        self.backend
            .bucket(name)
            .map_err(storage)?
            .ok_or_else(|| no_such_bucket(name))
    }

    fn require_upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<Upload> {
        self.require_bucket(bucket)?;
        self.backend
            .upload(upload_id)
            .map_err(storage)?
            .filter(|upload| upload.bucket == bucket && upload.key == key)
            .ok_or_else(no_such_upload)
    }

    async fn write_body(
        &self,
        body: Option<StreamingBlob>,
        algorithm: Option<Algorithm>,
    ) -> S3Result<Staged> {
        match body {
            Some(body) => self.bodies.write(body, algorithm).await,
            None => {
                self.bodies
                    .write(
                        futures_util::stream::empty::<Result<bytes::Bytes, std::io::Error>>(),
                        algorithm,
                    )
                    .await
            }
        }
        .map_err(write_error)
    }

    /// Deletes `key` (or its `version_id`) as [`S3Store::delete_key`] does, its event
    /// journaled first and delivered after: `ObjectRemoved:*` for a request, or
    /// `LifecycleExpiration:*` for a `lifecycle` rule's expiration.
    pub(crate) async fn delete_and_tell(
        &self,
        origin: &Origin,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        lifecycle: bool,
    ) -> S3Result<crate::versions::Deletion> {
        let intent = if lifecycle {
            "LifecycleExpiration:Delete"
        } else {
            "ObjectRemoved:Delete"
        };
        let pending = self.journal(
            origin,
            intent,
            bucket,
            key,
            None,
            version_id.map(str::to_owned),
        )?;
        let deletion = match self.delete_key(bucket, key, version_id).await {
            Ok(deletion) => deletion,
            Err(error) => {
                pending.drop_from(self);
                return Err(error);
            }
        };
        match deletion.event {
            Some(name) => {
                let name = match (lifecycle, deletion.delete_marker && version_id.is_none()) {
                    (false, _) => name,
                    (true, true) => "LifecycleExpiration:DeleteMarkerCreated",
                    (true, false) => "LifecycleExpiration:Delete",
                };
                pending
                    .retold(name, deletion.version_id.clone())
                    .deliver(self)
                    .await;
            }
            None => pending.drop_from(self),
        }
        Ok(deletion)
    }

    /// Records an uploaded part whose body is in place, unless the upload was aborted
    /// or completed while the part streamed in, or is being completed now: then the
    /// part's body goes and the answer is `NoSuchUpload`. Removes the body it replaced.
    async fn keep_part(&self, upload_id: &str, part: Part) -> S3Result<()> {
        let stored = {
            let completing = self
                .completing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if completing.contains(upload_id) {
                Ok(None)
            } else {
                match self.backend.upload(upload_id) {
                    Ok(Some(_)) => self.backend.put_part(upload_id, &part).map(Some),
                    Ok(None) => Ok(None),
                    Err(error) => Err(error),
                }
            }
        };
        match stored {
            Ok(Some(replaced)) => {
                self.bodies.remove(replaced).await;
                Ok(())
            }
            Ok(None) => {
                self.bodies.remove([part.body]).await;
                Err(no_such_upload())
            }
            Err(error) => {
                self.bodies.remove([part.body]).await;
                Err(storage(error))
            }
        }
    }

    /// Commits an object: the body into place, then its record; then removes the body it
    /// replaced.
    async fn commit_object(&self, staged: Staged, mut record: ObjectRecord) -> S3Result<()> {
        record.body = staged.keep().await.map_err(internal)?;
        let replaced = self.backend.put_object(&record).map_err(storage)?;
        self.bodies.remove(replaced).await;
        Ok(())
    }
}

/// The checksums as s3s's outputs carry them: CRC32, CRC32C, CRC64NVME, SHA1, SHA256.
type ChecksumFields = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn put_checksums(checksums: &BTreeMap<String, String>) -> ChecksumFields {
    (
        checksums.get("CRC32").cloned(),
        checksums.get("CRC32C").cloned(),
        checksums.get("CRC64NVME").cloned(),
        checksums.get("SHA1").cloned(),
        checksums.get("SHA256").cloned(),
    )
}

fn checksum_type(checksums: &BTreeMap<String, String>) -> Option<dto::ChecksumType> {
    let value = checksums.values().next()?;
    Some(if value.contains('-') {
        dto::ChecksumType::from_static(dto::ChecksumType::COMPOSITE)
    } else {
        dto::ChecksumType::from_static(dto::ChecksumType::FULL_OBJECT)
    })
}

#[async_trait::async_trait]
impl S3 for S3Store {
    async fn create_bucket(
        &self,
        request: S3Request<dto::CreateBucketInput>,
    ) -> S3Result<S3Response<dto::CreateBucketOutput>> {
        let name = request.input.bucket;
        let created = self
            .backend
            .create_bucket(&Bucket {
                name: name.clone(),
                created: OffsetDateTime::now_utc(),
                stack: None,
            })
            .map_err(storage)?;
        // For legacy compatibility, S3 answers 200 to its owner re-creating a bucket in
        // us-east-1, and BucketAlreadyOwnedByYou in every other region.
        if !created && self.region != "us-east-1" {
            return Err(s3_error!(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it."
            ));
        }
        Ok(S3Response::new(dto::CreateBucketOutput {
            location: Some(format!("/{name}")),
        }))
    }

    async fn head_bucket(
        &self,
        request: S3Request<dto::HeadBucketInput>,
    ) -> S3Result<S3Response<dto::HeadBucketOutput>> {
        self.require_bucket(&request.input.bucket)?;
        Ok(S3Response::new(dto::HeadBucketOutput {
            bucket_region: Some(self.region.clone()),
            ..Default::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        request: S3Request<dto::GetBucketLocationInput>,
    ) -> S3Result<S3Response<dto::GetBucketLocationOutput>> {
        self.require_bucket(&request.input.bucket)?;
        // Buckets in us-east-1 have no location constraint.
        let location_constraint = (self.region != "us-east-1")
            .then(|| dto::BucketLocationConstraint::from(self.region.clone()));
        Ok(S3Response::new(dto::GetBucketLocationOutput {
            location_constraint,
        }))
    }

    async fn delete_bucket(
        &self,
        request: S3Request<dto::DeleteBucketInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketOutput>> {
        let name = &request.input.bucket;
        match self.backend.delete_bucket(name, false).map_err(storage)? {
            BucketDeletion::Deleted { bodies } => {
                self.bodies.remove(bodies).await;
                Ok(S3Response::new(dto::DeleteBucketOutput {}))
            }
            BucketDeletion::NotFound => Err(no_such_bucket(name)),
            BucketDeletion::NotEmpty => Err(s3_error!(
                BucketNotEmpty,
                "The bucket you tried to delete is not empty"
            )),
        }
    }

    async fn list_buckets(
        &self,
        request: S3Request<dto::ListBucketsInput>,
    ) -> S3Result<S3Response<dto::ListBucketsOutput>> {
        let principal = self.principal(&request);
        let buckets = self
            .backend
            .buckets()
            .map_err(storage)?
            .into_iter()
            .filter(|bucket| {
                principal.as_ref().is_some_and(|principal| {
                    principal.allows(
                        Action::s3("ListBucket"),
                        Resource::Bucket { name: &bucket.name },
                    )
                })
            })
            .map(|bucket| dto::Bucket {
                bucket_region: Some(self.region.clone()),
                creation_date: Some(timestamp(bucket.created)),
                name: Some(bucket.name),
            })
            .collect();
        Ok(S3Response::new(dto::ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(owner()),
            ..Default::default()
        }))
    }

    async fn put_object(
        &self,
        mut request: S3Request<dto::PutObjectInput>,
    ) -> S3Result<S3Response<dto::PutObjectOutput>> {
        let bucket = request.input.bucket.clone();
        let key = request.input.key.clone();
        let origin = self.origin(&request);
        self.require_bucket(&bucket)?;
        if let Some(condition) = &request.input.if_none_match {
            if matches!(condition, ETagCondition::Any)
                && self
                    .backend
                    .object(&bucket, &key)
                    .map_err(storage)?
                    .is_some()
            {
                return Err(s3_error!(
                    PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold"
                ));
            }
        }
        let tags = request
            .input
            .tagging
            .as_deref()
            .map(parse_tagging_header)
            .unwrap_or_default();
        check_tags(&tags)?;
        check_written_redirect_location(request.input.website_redirect_location.as_deref())?;
        let algorithm =
            requested_checksum(&request.headers, request.input.checksum_algorithm.as_ref())?;
        let staged = self
            .write_body(request.input.body.take(), algorithm)
            .await?;
        let checksums = verify_body(&request, &staged, request.input.content_md5.as_deref())?;
        let input = request.input;
        let (versioning, version_id) = self.next_version(&bucket)?;
        let record = ObjectRecord {
            bucket,
            key,
            size: staged.size,
            etag: staged.md5.clone(),
            last_modified: crate::versions::now(),
            headers: ObjectHeaders {
                content_type: input.content_type,
                content_encoding: input.content_encoding,
                content_disposition: input.content_disposition,
                content_language: input.content_language,
                cache_control: input.cache_control,
                expires: expires_text(input.expires),
                metadata: metadata_of(input.metadata),
                website_redirect_location: input.website_redirect_location,
            },
            checksums: checksums.clone(),
            parts_count: None,
            tags,
            body: String::new(),
            version_id: version_id.clone(),
        };
        let etag_value = record.etag.clone();
        let size = record.size;
        let (bucket, key) = (record.bucket.clone(), record.key.clone());
        let pending = self.journal(
            &origin,
            "ObjectCreated:Put",
            &bucket,
            &key,
            Some((size, &etag_value)),
            version_id.clone(),
        )?;
        if let Err(error) = self.commit_object(staged, record).await {
            pending.drop_from(self);
            return Err(error);
        }
        pending.deliver(self).await;
        let (checksum_crc32, checksum_crc32c, checksum_crc64nvme, checksum_sha1, checksum_sha256) =
            put_checksums(&checksums);
        Ok(S3Response::new(dto::PutObjectOutput {
            e_tag: Some(etag(&etag_value)),
            checksum_crc32,
            checksum_crc32c,
            checksum_crc64nvme,
            checksum_sha1,
            checksum_sha256,
            checksum_type: checksum_type(&checksums),
            size: i64::try_from(size).ok(),
            version_id: crate::versions::version_header(versioning, version_id.as_deref()),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        request: S3Request<dto::GetObjectInput>,
    ) -> S3Result<S3Response<dto::GetObjectOutput>> {
        let input = request.input;
        let object =
            self.readable_version(&input.bucket, &input.key, input.version_id.as_deref())?;
        let version_id = crate::versions::version_header(
            self.versioning(&input.bucket)?,
            object.version_id.as_deref(),
        );
        check_conditions(
            &object,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
            S3ErrorCode::PreconditionFailed,
            S3ErrorCode::NotModified,
        )?;
        let (start, length, content_range) = requested_range(input.range.as_ref(), object.size)?;
        let stream = self
            .bodies
            .read(&object.body, start, length)
            .await
            .map_err(internal)?;
        let whole = content_range.is_none();
        let with_checksums = whole
            && input
                .checksum_mode
                .as_ref()
                .is_some_and(|mode| mode.as_str().eq_ignore_ascii_case("ENABLED"));
        let checksums = if with_checksums {
            object.checksums.clone()
        } else {
            BTreeMap::new()
        };
        let (checksum_crc32, checksum_crc32c, checksum_crc64nvme, checksum_sha1, checksum_sha256) =
            put_checksums(&checksums);
        let headers = object.headers.clone();
        let output = dto::GetObjectOutput {
            body: Some(StreamingBlob::wrap(stream)),
            accept_ranges: Some("bytes".to_owned()),
            content_length: i64::try_from(length).ok(),
            content_range: content_range.clone(),
            e_tag: Some(etag(&object.etag)),
            last_modified: Some(timestamp(object.last_modified)),
            content_type: input
                .response_content_type
                .or(headers.content_type.clone())
                .or_else(|| Some("binary/octet-stream".to_owned())),
            content_encoding: input
                .response_content_encoding
                .or(headers.content_encoding.clone()),
            content_disposition: input
                .response_content_disposition
                .or(headers.content_disposition.clone()),
            content_language: input
                .response_content_language
                .or(headers.content_language.clone()),
            cache_control: input
                .response_cache_control
                .or(headers.cache_control.clone()),
            expires: input
                .response_expires
                .or_else(|| expires_of(headers.expires.as_ref())),
            metadata: output_metadata(&headers),
            website_redirect_location: headers.website_redirect_location.clone(),
            // S3 tells a multipart object's part count only when a part is asked for.
            parts_count: input
                .part_number
                .and(object.parts_count)
                .and_then(|count| i32::try_from(count).ok()),
            tag_count: (!object.tags.is_empty())
                .then(|| i32::try_from(object.tags.len()).unwrap_or(0)),
            version_id,
            checksum_type: checksum_type(&checksums),
            checksum_crc32,
            checksum_crc32c,
            checksum_crc64nvme,
            checksum_sha1,
            checksum_sha256,
            ..Default::default()
        };
        let mut response = S3Response::new(output);
        if !whole {
            response.status = Some(http::StatusCode::PARTIAL_CONTENT);
        }
        Ok(response)
    }

    async fn head_object(
        &self,
        request: S3Request<dto::HeadObjectInput>,
    ) -> S3Result<S3Response<dto::HeadObjectOutput>> {
        let input = request.input;
        let object =
            self.readable_version(&input.bucket, &input.key, input.version_id.as_deref())?;
        let version_id = crate::versions::version_header(
            self.versioning(&input.bucket)?,
            object.version_id.as_deref(),
        );
        check_conditions(
            &object,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
            S3ErrorCode::PreconditionFailed,
            S3ErrorCode::NotModified,
        )?;
        let (_, length, content_range) = requested_range(input.range.as_ref(), object.size)?;
        let partial = content_range.is_some();
        let with_checksums = input
            .checksum_mode
            .as_ref()
            .is_some_and(|mode| mode.as_str().eq_ignore_ascii_case("ENABLED"));
        let checksums = if with_checksums {
            object.checksums.clone()
        } else {
            BTreeMap::new()
        };
        let (checksum_crc32, checksum_crc32c, checksum_crc64nvme, checksum_sha1, checksum_sha256) =
            put_checksums(&checksums);
        let headers = &object.headers;
        let mut response = S3Response::new(dto::HeadObjectOutput {
            version_id,
            accept_ranges: Some("bytes".to_owned()),
            content_length: i64::try_from(length).ok(),
            content_range,
            e_tag: Some(etag(&object.etag)),
            last_modified: Some(timestamp(object.last_modified)),
            content_type: input
                .response_content_type
                .or(headers.content_type.clone())
                .or_else(|| Some("binary/octet-stream".to_owned())),
            content_encoding: input
                .response_content_encoding
                .or(headers.content_encoding.clone()),
            content_disposition: input
                .response_content_disposition
                .or(headers.content_disposition.clone()),
            content_language: input
                .response_content_language
                .or(headers.content_language.clone()),
            cache_control: input
                .response_cache_control
                .or(headers.cache_control.clone()),
            expires: input
                .response_expires
                .or_else(|| expires_of(headers.expires.as_ref())),
            metadata: output_metadata(headers),
            website_redirect_location: headers.website_redirect_location.clone(),
            // S3 tells a multipart object's part count only when a part is asked for.
            parts_count: input
                .part_number
                .and(object.parts_count)
                .and_then(|count| i32::try_from(count).ok()),
            checksum_type: checksum_type(&checksums),
            checksum_crc32,
            checksum_crc32c,
            checksum_crc64nvme,
            checksum_sha1,
            checksum_sha256,
            ..Default::default()
        });
        if partial {
            response.status = Some(http::StatusCode::PARTIAL_CONTENT);
        }
        Ok(response)
    }

    async fn delete_object(
        &self,
        request: S3Request<dto::DeleteObjectInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectOutput>> {
        let origin = self.origin(&request);
        let input = request.input;
        self.require_bucket(&input.bucket)?;
        // Deleting a key that does not exist succeeds, as on S3.
        let deletion = self
            .delete_and_tell(
                &origin,
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                false,
            )
            .await?;
        Ok(S3Response::with_status(
            dto::DeleteObjectOutput {
                delete_marker: deletion.delete_marker.then_some(true),
                version_id: deletion.version_id,
                ..Default::default()
            },
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn delete_objects(
        &self,
        request: S3Request<dto::DeleteObjectsInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectsOutput>> {
        let origin = self.origin(&request);
        let input = request.input;
        self.require_bucket(&input.bucket)?;
        if input.delete.objects.len() > 1000 {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for identifier in input.delete.objects {
            let asked_version = identifier.version_id.clone();
            match self
                .delete_and_tell(
                    &origin,
                    &input.bucket,
                    &identifier.key,
                    asked_version.as_deref(),
                    false,
                )
                .await
            {
                Ok(deletion) => {
                    if !quiet {
                        deleted.push(dto::DeletedObject {
                            key: Some(identifier.key),
                            version_id: asked_version.clone(),
                            delete_marker: deletion.delete_marker.then_some(true),
                            delete_marker_version_id: deletion
                                .delete_marker
                                .then_some(deletion.version_id)
                                .flatten(),
                        });
                    }
                }
                Err(error) => {
                    let code = error.code().as_str().to_owned();
                    if code == "InternalError" {
                        tracing::error!("failed to delete an object: {error}");
                    }
                    errors.push(dto::Error {
                        code: Some(code),
                        key: Some(identifier.key),
                        message: error.message().map(str::to_owned),
                        version_id: asked_version,
                    });
                }
            }
        }
        Ok(S3Response::new(dto::DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    async fn copy_object(
        &self,
        request: S3Request<dto::CopyObjectInput>,
    ) -> S3Result<S3Response<dto::CopyObjectOutput>> {
        let principal = self.principal(&request);
        let origin = self.origin(&request);
        let input = request.input;
        self.require_bucket(&input.bucket)?;
        let (source, source_version) = self.copy_source(principal, &input.copy_source)?;
        let (source_bucket, source_key) = (source.bucket.clone(), source.key.clone());
        let source_versioning = self.versioning(&source_bucket)?;
        check_conditions(
            &source,
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
            input.copy_source_if_unmodified_since.as_ref(),
            S3ErrorCode::PreconditionFailed,
            S3ErrorCode::PreconditionFailed,
        )?;
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|directive| directive.as_str().eq_ignore_ascii_case("REPLACE"));
        let replace_tags = input
            .tagging_directive
            .as_ref()
            .is_some_and(|directive| directive.as_str().eq_ignore_ascii_case("REPLACE"));
        check_written_redirect_location(input.website_redirect_location.as_deref())?;
        if source_bucket == input.bucket
            && source_key == input.key
            && source_version.is_none()
            && !replace
            && !replace_tags
            && input.website_redirect_location.is_none()
        {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let headers = if replace {
            ObjectHeaders {
                content_type: input.content_type,
                content_encoding: input.content_encoding,
                content_disposition: input.content_disposition,
                content_language: input.content_language,
                cache_control: input.cache_control,
                expires: expires_text(input.expires),
                metadata: metadata_of(input.metadata),
                website_redirect_location: input.website_redirect_location,
            }
        } else {
            // The copy keeps the source's headers but its redirect location, which S3 never
            // copies: only the one given with the copy applies.
            ObjectHeaders {
                website_redirect_location: input.website_redirect_location,
                ..source.headers.clone()
            }
        };
        let tags = if replace_tags {
            let tags = input
                .tagging
                .as_deref()
                .map(parse_tagging_header)
                .unwrap_or_default();
            check_tags(&tags)?;
            tags
        } else {
            source.tags.clone()
        };
        let body = self.bodies.link(&source.body).await.map_err(internal)?;
        let now = crate::versions::now();
        let (versioning, version_id) = self.next_version(&input.bucket)?;
        let record = ObjectRecord {
            bucket: input.bucket,
            key: input.key,
            size: source.size,
            etag: source.etag.clone(),
            last_modified: now,
            headers,
            checksums: source.checksums.clone(),
            parts_count: source.parts_count,
            tags,
            body,
            version_id: version_id.clone(),
        };
        let pending = self.journal(
            &origin,
            "ObjectCreated:Copy",
            &record.bucket,
            &record.key,
            Some((record.size, &record.etag)),
            version_id.clone(),
        )?;
        let replaced = match self.backend.put_object(&record) {
            Ok(replaced) => replaced,
            Err(error) => {
                pending.drop_from(self);
                self.bodies.remove([record.body.clone()]).await;
                return Err(storage(error));
            }
        };
        self.bodies.remove(replaced).await;
        pending.deliver(self).await;
        let (checksum_crc32, checksum_crc32c, checksum_crc64nvme, checksum_sha1, checksum_sha256) =
            put_checksums(&source.checksums);
        Ok(S3Response::new(dto::CopyObjectOutput {
            copy_object_result: Some(dto::CopyObjectResult {
                e_tag: Some(etag(&source.etag)),
                last_modified: Some(timestamp(now)),
                checksum_crc32,
                checksum_crc32c,
                checksum_crc64nvme,
                checksum_sha1,
                checksum_sha256,
                checksum_type: checksum_type(&source.checksums),
            }),
            version_id: crate::versions::version_header(versioning, version_id.as_deref()),
            copy_source_version_id: crate::versions::version_header(
                source_versioning,
                source.version_id.as_deref(),
            ),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        request: S3Request<dto::ListObjectsV2Input>,
    ) -> S3Result<S3Response<dto::ListObjectsV2Output>> {
        let input = request.input;
        self.require_bucket(&input.bucket)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = match &input.continuation_token {
            Some(token) => listing::decode_token(token).ok_or_else(|| {
                s3_error!(
                    InvalidArgument,
                    "The continuation token provided is incorrect"
                )
            })?,
            None => input.start_after.clone().unwrap_or_default(),
        };
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000);
        let Listing {
            objects,
            prefixes,
            truncated,
            last,
        } = listing::list(
            self.backend.as_ref(),
            &input.bucket,
            &prefix,
            input
                .delimiter
                .as_deref()
                .filter(|delimiter| !delimiter.is_empty()),
            &after,
            usize::try_from(max_keys).unwrap_or(0),
        )
        .map_err(storage)?;
        let encode = listing::encoder(input.encoding_type.as_ref());
        let key_count = i32::try_from(objects.len() + prefixes.len()).unwrap_or(i32::MAX);
        Ok(S3Response::new(dto::ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(encode(&prefix)),
            max_keys: Some(max_keys),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            is_truncated: Some(truncated),
            next_continuation_token: truncated
                .then(|| last.as_deref().map(listing::encode_token))
                .flatten(),
            contents: Some(
                objects
                    .iter()
                    .map(|object| listed(object, &encode))
                    .collect(),
            ),
            common_prefixes: Some(
                prefixes
                    .iter()
                    .map(|prefix| dto::CommonPrefix {
                        prefix: Some(encode(prefix)),
                    })
                    .collect(),
            ),
            delimiter: input.delimiter.map(|delimiter| encode(&delimiter)),
            encoding_type: input.encoding_type,
            start_after: input.start_after.map(|start| encode(&start)),
            ..Default::default()
        }))
    }

    async fn list_objects(
        &self,
        request: S3Request<dto::ListObjectsInput>,
    ) -> S3Result<S3Response<dto::ListObjectsOutput>> {
        let input = request.input;
        self.require_bucket(&input.bucket)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = input.marker.clone().unwrap_or_default();
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000);
        let delimiter = input
            .delimiter
            .as_deref()
            .filter(|delimiter| !delimiter.is_empty());
        let Listing {
            objects,
            prefixes,
            truncated,
            last,
        } = listing::list(
            self.backend.as_ref(),
            &input.bucket,
            &prefix,
            delimiter,
            &after,
            usize::try_from(max_keys).unwrap_or(0),
        )
        .map_err(storage)?;
        let encode = listing::encoder(input.encoding_type.as_ref());
        // S3 returns NextMarker only with a delimiter; without one, clients continue
        // from the last key listed.
        let next_marker = (truncated && delimiter.is_some())
            .then(|| last.map(|last| encode(&last)))
            .flatten();
        Ok(S3Response::new(dto::ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(encode(&prefix)),
            marker: Some(encode(&after)),
            max_keys: Some(max_keys),
            is_truncated: Some(truncated),
            contents: Some(
                objects
                    .iter()
                    .map(|object| listed(object, &encode))
                    .collect(),
            ),
            common_prefixes: Some(
                prefixes
                    .iter()
                    .map(|prefix| dto::CommonPrefix {
                        prefix: Some(encode(prefix)),
                    })
                    .collect(),
            ),
            delimiter: input.delimiter.map(|delimiter| encode(&delimiter)),
            next_marker,
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn put_object_tagging(
        &self,
        request: S3Request<dto::PutObjectTaggingInput>,
    ) -> S3Result<S3Response<dto::PutObjectTaggingOutput>> {
        let input = request.input;
        self.require_bucket(&input.bucket)?;
        let tags: Vec<(String, String)> = input
            .tagging
            .tag_set
            .into_iter()
            .map(|tag| (tag.key.unwrap_or_default(), tag.value.unwrap_or_default()))
            .collect();
        check_tags(&tags)?;
        let version_id = self.tag_version(
            &input.bucket,
            &input.key,
            input.version_id.as_deref(),
            &tags,
        )?;
        Ok(S3Response::new(dto::PutObjectTaggingOutput { version_id }))
    }

    async fn get_object_tagging(
        &self,
        request: S3Request<dto::GetObjectTaggingInput>,
    ) -> S3Result<S3Response<dto::GetObjectTaggingOutput>> {
        let input = request.input;
        let object =
            self.readable_version(&input.bucket, &input.key, input.version_id.as_deref())?;
        let version_id = crate::versions::version_header(
            self.versioning(&input.bucket)?,
            object.version_id.as_deref(),
        );
        Ok(S3Response::new(dto::GetObjectTaggingOutput {
            tag_set: object
                .tags
                .into_iter()
                .map(|(key, value)| dto::Tag {
                    key: Some(key),
                    value: Some(value),
                })
                .collect(),
            version_id,
        }))
    }

    async fn delete_object_tagging(
        &self,
        request: S3Request<dto::DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectTaggingOutput>> {
        let input = request.input;
        let version_id =
            self.tag_version(&input.bucket, &input.key, input.version_id.as_deref(), &[])?;
        Ok(S3Response::with_status(
            dto::DeleteObjectTaggingOutput { version_id },
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn create_multipart_upload(
        &self,
        request: S3Request<dto::CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::CreateMultipartUploadOutput>> {
        let input = request.input;
        self.require_bucket(&input.bucket)?;
        let tags = input
            .tagging
            .as_deref()
            .map(parse_tagging_header)
            .unwrap_or_default();
        check_tags(&tags)?;
        check_written_redirect_location(input.website_redirect_location.as_deref())?;
        let checksum_algorithm = match &input.checksum_algorithm {
            Some(algorithm) => Some(
                Algorithm::parse(algorithm.as_str())
                    .ok_or_else(|| {
                        s3_error!(
                            InvalidRequest,
                            "Value for x-amz-checksum-algorithm header is invalid."
                        )
                    })?
                    .name()
                    .to_owned(),
            ),
            None => None,
        };
        let upload = Upload {
            id: uuid::Uuid::new_v4().simple().to_string(),
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            initiated: OffsetDateTime::now_utc(),
            headers: ObjectHeaders {
                content_type: input.content_type,
                content_encoding: input.content_encoding,
                content_disposition: input.content_disposition,
                content_language: input.content_language,
                cache_control: input.cache_control,
                expires: expires_text(input.expires),
                metadata: metadata_of(input.metadata),
                website_redirect_location: input.website_redirect_location,
            },
            tags,
            checksum_algorithm: checksum_algorithm.clone(),
        };
        self.backend.create_upload(&upload).map_err(storage)?;
        Ok(S3Response::new(dto::CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload.id),
            checksum_algorithm: checksum_algorithm.map(dto::ChecksumAlgorithm::from),
            checksum_type: upload
                .checksum_algorithm
                .as_ref()
                .map(|_| dto::ChecksumType::from_static(dto::ChecksumType::COMPOSITE)),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        mut request: S3Request<dto::UploadPartInput>,
    ) -> S3Result<S3Response<dto::UploadPartOutput>> {
        let (bucket, key, upload_id, number) = (
            request.input.bucket.clone(),
            request.input.key.clone(),
            request.input.upload_id.clone(),
            request.input.part_number,
        );
        let upload = self.require_upload(&bucket, &key, &upload_id)?;
        let number = part_number(number)?;
        let algorithm =
            requested_checksum(&request.headers, request.input.checksum_algorithm.as_ref())?
                .or_else(|| {
                    upload
                        .checksum_algorithm
                        .as_deref()
                        .and_then(Algorithm::parse)
                });
        let staged = self
            .write_body(request.input.body.take(), algorithm)
            .await?;
        let checksums = verify_body(&request, &staged, request.input.content_md5.as_deref())?;
        let part_etag = staged.md5.clone();
        let size = staged.size;
        let body = staged.keep().await.map_err(internal)?;
        let part = Part {
            number,
            size,
            etag: part_etag.clone(),
            last_modified: OffsetDateTime::now_utc(),
            checksums: checksums.clone(),
            body,
        };
        self.keep_part(&upload_id, part).await?;
        let (checksum_crc32, checksum_crc32c, checksum_crc64nvme, checksum_sha1, checksum_sha256) =
            put_checksums(&checksums);
        Ok(S3Response::new(dto::UploadPartOutput {
            e_tag: Some(etag(&part_etag)),
            checksum_crc32,
            checksum_crc32c,
            checksum_crc64nvme,
            checksum_sha1,
            checksum_sha256,
            ..Default::default()
        }))
    }

    async fn upload_part_copy(
        &self,
        request: S3Request<dto::UploadPartCopyInput>,
    ) -> S3Result<S3Response<dto::UploadPartCopyOutput>> {
        self.upload_part_copy_of(request).await
    }

    async fn complete_multipart_upload(
        &self,
        request: S3Request<dto::CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::CompleteMultipartUploadOutput>> {
        let origin = self.origin(&request);
        let input = request.input;
        let upload = self.require_upload(&input.bucket, &input.key, &input.upload_id)?;
        let Some(_completing) = Completing::enter(&self.completing, &upload.id) else {
            return Err(s3_error!(
                InternalError,
                "We encountered an internal error. Please try again."
            ));
        };
        let requested = input
            .multipart_upload
            .and_then(|upload| upload.parts)
            .unwrap_or_default();
        if requested.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        let stored: BTreeMap<u32, Part> = self
            .backend
            .parts(&upload.id)
            .map_err(storage)?
            .into_iter()
            .map(|part| (part.number, part))
            .collect();
        let invalid_part = || {
            s3_error!(
                InvalidPart,
                "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
            )
        };
        let mut chosen: Vec<&Part> = Vec::with_capacity(requested.len());
        let mut previous = 0u32;
        for part in &requested {
            let number = part
                .part_number
                .and_then(|number| u32::try_from(number).ok())
                .ok_or_else(invalid_part)?;
            if number <= previous {
                return Err(s3_error!(
                    InvalidPartOrder,
                    "The list of parts was not in ascending order. The parts list must be specified in order by part number."
                ));
            }
            previous = number;
            let stored = stored.get(&number).ok_or_else(invalid_part)?;
            let given = part.e_tag.as_ref().map(ETag::value).unwrap_or_default();
            if given.trim_matches('"') != stored.etag {
                return Err(invalid_part());
            }
            chosen.push(stored);
        }
        if let Some((_, all_but_last)) = chosen.split_last() {
            if all_but_last.iter().any(|part| part.size < MIN_PART_SIZE) {
                return Err(s3_error!(
                    EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed object size."
                ));
            }
        }
        let etags: Vec<&str> = chosen.iter().map(|part| part.etag.as_str()).collect();
        let object_etag = checksum::multipart_etag(&etags);
        let mut checksums = BTreeMap::new();
        if let Some(algorithm) = upload
            .checksum_algorithm
            .as_deref()
            .and_then(Algorithm::parse)
        {
            let values: Option<Vec<&str>> = chosen
                .iter()
                .map(|part| part.checksums.get(algorithm.name()).map(String::as_str))
                .collect();
            if let Some(composite) =
                values.and_then(|values| checksum::composite_checksum(algorithm, &values))
            {
                checksums.insert(algorithm.name().to_owned(), composite);
            }
        }
        // The object's body is its parts, listed (not copied).
        let segments: Vec<(String, u64)> = chosen
            .iter()
            .map(|part| (part.body.clone(), part.size))
            .collect();
        let size = segments.iter().map(|(_, size)| size).sum();
        let (versioning, version_id) = self.next_version(&input.bucket)?;
        let body = self.bodies.compose(&segments).await.map_err(internal)?;
        let record = ObjectRecord {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            size,
            etag: object_etag.clone(),
            last_modified: crate::versions::now(),
            headers: upload.headers.clone(),
            checksums: checksums.clone(),
            parts_count: u32::try_from(chosen.len()).ok(),
            tags: upload.tags.clone(),
            body,
            version_id: version_id.clone(),
        };
        let pending = self.journal(
            &origin,
            "ObjectCreated:CompleteMultipartUpload",
            &input.bucket,
            &input.key,
            Some((size, &object_etag)),
            version_id.clone(),
        )?;
        let (replaced, parts) = match self.backend.complete_upload(&upload.id, &record) {
            Ok(completed) => completed,
            Err(error) => {
                // The parts stay the upload's; the manifest goes at the next start.
                pending.drop_from(self);
                return Err(storage(error));
            }
        };
        // The chosen parts now belong to the object; the others go.
        let kept: std::collections::HashSet<&str> =
            segments.iter().map(|(name, _)| name.as_str()).collect();
        let unused: Vec<String> = parts
            .into_iter()
            .filter(|part| !kept.contains(part.as_str()))
            .collect();
        self.bodies.remove(replaced.into_iter().chain(unused)).await;
        pending.deliver(self).await;
        let (checksum_crc32, checksum_crc32c, checksum_crc64nvme, checksum_sha1, checksum_sha256) =
            put_checksums(&checksums);
        Ok(S3Response::new(dto::CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            e_tag: Some(etag(&object_etag)),
            location: Some(format!("/{}/{}", input.bucket, input.key)),
            checksum_crc32,
            checksum_crc32c,
            checksum_crc64nvme,
            checksum_sha1,
            checksum_sha256,
            checksum_type: checksum_type(&checksums),
            version_id: crate::versions::version_header(versioning, version_id.as_deref()),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        request: S3Request<dto::AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::AbortMultipartUploadOutput>> {
        let input = request.input;
        let upload = self.require_upload(&input.bucket, &input.key, &input.upload_id)?;
        let bodies = self.backend.abort_upload(&upload.id).map_err(storage)?;
        self.bodies.remove(bodies).await;
        Ok(S3Response::with_status(
            dto::AbortMultipartUploadOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn list_parts(
        &self,
        request: S3Request<dto::ListPartsInput>,
    ) -> S3Result<S3Response<dto::ListPartsOutput>> {
        let input = request.input;
        let upload = self.require_upload(&input.bucket, &input.key, &input.upload_id)?;
        let marker = input.part_number_marker.unwrap_or(0);
        let max_parts = input.max_parts.unwrap_or(1000).clamp(0, 1000);
        let all: Vec<Part> = self
            .backend
            .parts(&upload.id)
            .map_err(storage)?
            .into_iter()
            .filter(|part| i64::from(part.number) > i64::from(marker))
            .collect();
        let limit = usize::try_from(max_parts).unwrap_or(0);
        let truncated = all.len() > limit;
        let parts: Vec<dto::Part> = all
            .iter()
            .take(limit)
            .map(|part| {
                let (
                    checksum_crc32,
                    checksum_crc32c,
                    checksum_crc64nvme,
                    checksum_sha1,
                    checksum_sha256,
                ) = put_checksums(&part.checksums);
                dto::Part {
                    e_tag: Some(etag(&part.etag)),
                    last_modified: Some(timestamp(part.last_modified)),
                    part_number: i32::try_from(part.number).ok(),
                    size: i64::try_from(part.size).ok(),
                    checksum_crc32,
                    checksum_crc32c,
                    checksum_crc64nvme,
                    checksum_sha1,
                    checksum_sha256,
                }
            })
            .collect();
        let next = parts.last().and_then(|part| part.part_number);
        Ok(S3Response::new(dto::ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload.id),
            part_number_marker: Some(marker),
            next_part_number_marker: truncated.then_some(next).flatten(),
            max_parts: Some(max_parts),
            is_truncated: Some(truncated),
            parts: Some(parts),
            owner: Some(owner()),
            checksum_algorithm: upload.checksum_algorithm.map(dto::ChecksumAlgorithm::from),
            storage_class: Some(dto::StorageClass::from_static(dto::StorageClass::STANDARD)),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        request: S3Request<dto::ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<dto::ListMultipartUploadsOutput>> {
        let input = request.input;
        self.require_bucket(&input.bucket)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let key_marker = input.key_marker.clone().unwrap_or_default();
        let max_uploads = input.max_uploads.unwrap_or(1000).clamp(0, 1000);
        let all: Vec<Upload> = self
            .backend
            .uploads(&input.bucket)
            .map_err(storage)?
            .into_iter()
            .filter(|upload| upload.key.starts_with(&prefix) && upload.key > key_marker)
            .collect();
        let limit = usize::try_from(max_uploads).unwrap_or(0);
        let truncated = all.len() > limit;
        let shown = &all[..all.len().min(limit)];
        Ok(S3Response::new(dto::ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: Some(prefix),
            key_marker: Some(key_marker),
            max_uploads: Some(max_uploads),
            is_truncated: Some(truncated),
            next_key_marker: truncated
                .then(|| shown.last().map(|upload| upload.key.clone()))
                .flatten(),
            next_upload_id_marker: truncated
                .then(|| shown.last().map(|upload| upload.id.clone()))
                .flatten(),
            uploads: Some(
                shown
                    .iter()
                    .map(|upload| dto::MultipartUpload {
                        initiated: Some(timestamp(upload.initiated)),
                        key: Some(upload.key.clone()),
                        upload_id: Some(upload.id.clone()),
                        owner: Some(owner()),
                        storage_class: Some(dto::StorageClass::from_static(
                            dto::StorageClass::STANDARD,
                        )),
                        checksum_algorithm: upload
                            .checksum_algorithm
                            .clone()
                            .map(dto::ChecksumAlgorithm::from),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    async fn put_bucket_cors(
        &self,
        request: S3Request<dto::PutBucketCorsInput>,
    ) -> S3Result<S3Response<dto::PutBucketCorsOutput>> {
        self.put_cors(request.input)?;
        Ok(S3Response::new(dto::PutBucketCorsOutput::default()))
    }

    async fn get_bucket_cors(
        &self,
        request: S3Request<dto::GetBucketCorsInput>,
    ) -> S3Result<S3Response<dto::GetBucketCorsOutput>> {
        Ok(S3Response::new(self.get_cors(&request.input.bucket)?))
    }

    async fn delete_bucket_cors(
        &self,
        request: S3Request<dto::DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketCorsOutput>> {
        self.delete_cors(&request.input.bucket)?;
        Ok(S3Response::with_status(
            dto::DeleteBucketCorsOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn put_bucket_policy(
        &self,
        request: S3Request<dto::PutBucketPolicyInput>,
    ) -> S3Result<S3Response<dto::PutBucketPolicyOutput>> {
        self.put_policy(&request.input)?;
        Ok(S3Response::with_status(
            dto::PutBucketPolicyOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn get_bucket_policy(
        &self,
        request: S3Request<dto::GetBucketPolicyInput>,
    ) -> S3Result<S3Response<dto::GetBucketPolicyOutput>> {
        Ok(S3Response::new(self.get_policy(&request.input.bucket)?))
    }

    async fn delete_bucket_policy(
        &self,
        request: S3Request<dto::DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketPolicyOutput>> {
        self.delete_policy(&request.input.bucket)?;
        Ok(S3Response::with_status(
            dto::DeleteBucketPolicyOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn put_bucket_website(
        &self,
        request: S3Request<dto::PutBucketWebsiteInput>,
    ) -> S3Result<S3Response<dto::PutBucketWebsiteOutput>> {
        self.put_website(&request.input)?;
        Ok(S3Response::new(dto::PutBucketWebsiteOutput::default()))
    }

    async fn get_bucket_website(
        &self,
        request: S3Request<dto::GetBucketWebsiteInput>,
    ) -> S3Result<S3Response<dto::GetBucketWebsiteOutput>> {
        Ok(S3Response::new(self.get_website(&request.input.bucket)?))
    }

    async fn delete_bucket_website(
        &self,
        request: S3Request<dto::DeleteBucketWebsiteInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketWebsiteOutput>> {
        self.delete_website(&request.input.bucket)?;
        Ok(S3Response::with_status(
            dto::DeleteBucketWebsiteOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn put_bucket_tagging(
        &self,
        request: S3Request<dto::PutBucketTaggingInput>,
    ) -> S3Result<S3Response<dto::PutBucketTaggingOutput>> {
        self.put_bucket_tags(&request.input)?;
        Ok(S3Response::with_status(
            dto::PutBucketTaggingOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn get_bucket_tagging(
        &self,
        request: S3Request<dto::GetBucketTaggingInput>,
    ) -> S3Result<S3Response<dto::GetBucketTaggingOutput>> {
        Ok(S3Response::new(
            self.get_bucket_tags(&request.input.bucket)?,
        ))
    }

    async fn delete_bucket_tagging(
        &self,
        request: S3Request<dto::DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketTaggingOutput>> {
        self.delete_bucket_tags(&request.input.bucket)?;
        Ok(S3Response::with_status(
            dto::DeleteBucketTaggingOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn put_bucket_versioning(
        &self,
        request: S3Request<dto::PutBucketVersioningInput>,
    ) -> S3Result<S3Response<dto::PutBucketVersioningOutput>> {
        self.put_versioning(&request.input)?;
        Ok(S3Response::new(dto::PutBucketVersioningOutput::default()))
    }

    async fn get_bucket_versioning(
        &self,
        request: S3Request<dto::GetBucketVersioningInput>,
    ) -> S3Result<S3Response<dto::GetBucketVersioningOutput>> {
        Ok(S3Response::new(self.get_versioning(&request.input.bucket)?))
    }

    async fn put_bucket_lifecycle_configuration(
        &self,
        request: S3Request<dto::PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<dto::PutBucketLifecycleConfigurationOutput>> {
        self.put_lifecycle(&request.input)?;
        Ok(S3Response::new(
            dto::PutBucketLifecycleConfigurationOutput::default(),
        ))
    }

    async fn get_bucket_lifecycle_configuration(
        &self,
        request: S3Request<dto::GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<dto::GetBucketLifecycleConfigurationOutput>> {
        Ok(S3Response::new(self.get_lifecycle(&request.input.bucket)?))
    }

    async fn delete_bucket_lifecycle(
        &self,
        request: S3Request<dto::DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketLifecycleOutput>> {
        self.delete_lifecycle(&request.input.bucket)?;
        Ok(S3Response::with_status(
            dto::DeleteBucketLifecycleOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn list_object_versions(
        &self,
        request: S3Request<dto::ListObjectVersionsInput>,
    ) -> S3Result<S3Response<dto::ListObjectVersionsOutput>> {
        Ok(S3Response::new(self.list_versions(request.input)?))
    }

    async fn get_bucket_notification_configuration(
        &self,
        request: S3Request<dto::GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<dto::GetBucketNotificationConfigurationOutput>> {
        Ok(S3Response::new(
            self.get_notifications(&request.input.bucket)?,
        ))
    }
}

fn owner() -> dto::Owner {
    dto::Owner {
        display_name: Some("serverful".to_owned()),
        id: Some("serverful".to_owned()),
    }
}

fn listed(object: &ObjectRecord, encode: &dyn Fn(&str) -> String) -> dto::Object {
    dto::Object {
        key: Some(encode(&object.key)),
        e_tag: Some(etag(&object.etag)),
        last_modified: Some(timestamp(object.last_modified)),
        size: i64::try_from(object.size).ok(),
        storage_class: Some(dto::ObjectStorageClass::from_static(
            dto::ObjectStorageClass::STANDARD,
        )),
        checksum_algorithm: (!object.checksums.is_empty()).then(|| {
            object
                .checksums
                .keys()
                .map(|name| dto::ChecksumAlgorithm::from(name.clone()))
                .collect()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tagging_header_is_a_query_string() {
        assert_eq!(
            parse_tagging_header("a=1&b%20c=two+words&d="),
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b c".to_owned(), "two words".to_owned()),
                ("d".to_owned(), String::new()),
            ]
        );
    }
}
