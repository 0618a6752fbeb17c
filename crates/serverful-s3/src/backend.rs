//! What S3 keeps besides the bodies: buckets, objects' metadata, multipart uploads and
//! their parts, behind [`S3Backend`] so that another store can hold them.
//!
//! A record names its body by the file the [`crate::bodies::Bodies`] store wrote; the
//! backend never reads or writes bodies.

use std::collections::{BTreeMap, HashSet};

use time::OffsetDateTime;

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    pub created: OffsetDateTime,
    /// The stack whose template declares it; `None` for a bucket made through the API.
    pub stack: Option<String>,
}

/// The headers S3 keeps with an object and answers on GET and HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectHeaders {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
    /// User metadata (`x-amz-meta-*`), names lowercased.
    pub metadata: BTreeMap<String, String>,
    /// `x-amz-website-redirect-location`: where the bucket's website sends a request for
    /// the object (a 301), a key starting with `/` or an absolute URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_redirect_location: Option<String>,
}

/// An object's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// The ETag without its quotes: an MD5 in hex, or `hex-N` for a multipart upload.
    pub etag: String,
    pub last_modified: OffsetDateTime,
    pub headers: ObjectHeaders,
    /// Checksums by algorithm (`CRC32`, `SHA256`, ...), base64 as S3 prints them.
    pub checksums: BTreeMap<String, String>,
    /// How many parts a multipart upload made it of.
    pub parts_count: Option<u32>,
    pub tags: Vec<(String, String)>,
    /// The body's file name in the body store.
    pub body: String,
    /// Its version in a versioned bucket; `None` is the `null` version (every object of a
    /// bucket that was never versioned, and those written while versioning is suspended).
    pub version_id: Option<String>,
}

/// One version of a key in a versioned bucket: an object, or a delete marker (whose
/// record has no body, size or ETag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub record: ObjectRecord,
    pub delete_marker: bool,
    /// Whether it is the key's latest version.
    pub latest: bool,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub initiated: OffsetDateTime,
    pub headers: ObjectHeaders,
    pub tags: Vec<(String, String)>,
    /// The checksum algorithm the upload was created with, if any.
    pub checksum_algorithm: Option<String>,
}

/// An uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub number: u32,
    pub size: u64,
    pub etag: String,
    pub last_modified: OffsetDateTime,
    pub checksums: BTreeMap<String, String>,
    pub body: String,
}

/// What deleting a bucket did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketDeletion {
    /// Deleted; these body files are no longer referenced.
    Deleted {
        bodies: Vec<String>,
    },
    NotFound,
    NotEmpty,
}

/// Why the backend failed.
#[derive(Debug, thiserror::Error)]
#[error("failed to {action}: {source}")]
pub struct StorageError {
    pub action: &'static str,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// The metadata store. Calls are short and synchronous; each is atomic.
pub trait S3Backend: Send + Sync {
    /// Creates a bucket; `false` if one by that name exists.
    fn create_bucket(&self, bucket: &Bucket) -> Result<bool, StorageError>;
    fn bucket(&self, name: &str) -> Result<Option<Bucket>, StorageError>;
    /// Every bucket, by name.
    fn buckets(&self) -> Result<Vec<Bucket>, StorageError>;
    /// Deletes a bucket: only an empty one unless `force`, which deletes its objects and
    /// uploads too (a stack's deletion).
    fn delete_bucket(&self, name: &str, force: bool) -> Result<BucketDeletion, StorageError>;

    /// Writes an object's record as the key's latest version; returns the body file it
    /// replaced. In a bucket whose versioning was ever set, the key's current version is
    /// kept as a noncurrent one unless it is the version written (the `null` version
    /// while suspended, which also replaces a noncurrent `null` version).
    fn put_object(&self, object: &ObjectRecord) -> Result<Option<String>, StorageError>;
    fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StorageError>;
    /// Deletes an object's record; returns its body file.
    fn delete_object(&self, bucket: &str, key: &str) -> Result<Option<String>, StorageError>;
    /// Up to `limit` objects whose keys start with `prefix` and sort after `after`, in
    /// key order (bytes of UTF-8).
    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>, StorageError>;
    /// Replaces an object's tags; `false` if there is no such object.
    fn set_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<bool, StorageError>;

    fn create_upload(&self, upload: &Upload) -> Result<(), StorageError>;
    fn upload(&self, id: &str) -> Result<Option<Upload>, StorageError>;
    /// The bucket's uploads in progress, by key then initiation.
    fn uploads(&self, bucket: &str) -> Result<Vec<Upload>, StorageError>;
    /// Records a part, replacing one of the same number; returns the replaced body file.
    fn put_part(&self, upload_id: &str, part: &Part) -> Result<Option<String>, StorageError>;
    /// The upload's parts by number.
    fn parts(&self, upload_id: &str) -> Result<Vec<Part>, StorageError>;
    /// Forgets an upload; returns its parts' body files.
    fn abort_upload(&self, upload_id: &str) -> Result<Vec<String>, StorageError>;
    /// In one transaction: writes the completed object and forgets its upload. Returns
    /// the replaced object's body file and the parts' body files.
    fn complete_upload(
        &self,
        upload_id: &str,
        object: &ObjectRecord,
    ) -> Result<(Option<String>, Vec<String>), StorageError>;

    /// Every body file a record names (objects, their noncurrent versions and parts), to
    /// sweep away the rest at start.
    fn body_files(&self) -> Result<HashSet<String>, StorageError>;

    /// One version of a key (`None`: the `null` version), current or not, or a marker.
    fn object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectVersion>, StorageError>;
    /// The key's latest version: its current object or a delete marker.
    fn latest_version(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectVersion>, StorageError>;
    /// Makes a delete marker (a record without a body) the key's latest version; the
    /// current object becomes noncurrent, or is replaced when it has the marker's version
    /// (`null`). Returns the body file it replaced.
    fn put_delete_marker(&self, marker: &ObjectRecord) -> Result<Option<String>, StorageError>;
    /// Deletes one version (or marker) for good; the next newest becomes the latest.
    /// Returns what was deleted.
    fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectVersion>, StorageError>;
    /// Up to `limit` keys that have versions or markers, starting with `prefix`, after
    /// `after` (or from it when `inclusive`), in key order.
    fn versioned_keys(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        inclusive: bool,
        limit: usize,
    ) -> Result<Vec<String>, StorageError>;
    /// Replaces one version's tags (`None`: the `null` version); `false` if there is no
    /// such version.
    fn set_version_tags(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<bool, StorageError>;
    /// Every version and marker of a key, latest first.
    fn versions_of(&self, bucket: &str, key: &str) -> Result<Vec<ObjectVersion>, StorageError>;

    /// A bucket's configuration of one kind (its document as stored), if it has one.
    fn configuration(
        &self,
        bucket: &str,
        kind: ConfigurationKind,
    ) -> Result<Option<StoredConfiguration>, StorageError>;
    /// Sets a bucket's configuration of one kind, replacing the one it had.
    fn put_configuration(
        &self,
        bucket: &str,
        kind: ConfigurationKind,
        configuration: &StoredConfiguration,
    ) -> Result<(), StorageError>;
    /// Removes a bucket's configuration of one kind; `false` if it had none.
    fn delete_configuration(
        &self,
        bucket: &str,
        kind: ConfigurationKind,
    ) -> Result<bool, StorageError>;
    /// Writes an object event (as [`crate::ObjectEvent`] journals itself) before the
    /// change it tells of is committed; its id.
    fn journal_event(&self, event: &str) -> Result<i64, StorageError>;
    /// The journal's events, oldest first: those a crash left undelivered.
    fn journaled_events(&self) -> Result<Vec<(i64, String)>, StorageError>;
    /// Removes a delivered (or dropped) event from the journal.
    fn forget_event(&self, id: i64) -> Result<(), StorageError>;
    /// Every bucket that has a configuration of this kind, with it (the lifecycle sweep
    /// reads them).
    fn configurations_of_kind(
        &self,
        kind: ConfigurationKind,
    ) -> Result<Vec<(String, StoredConfiguration)>, StorageError>;
}

/// The kinds of bucket configuration, named as the `AWS::S3::Bucket` properties that
/// declare them (the bucket policy and tags are kinds too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigurationKind {
    Cors,
    Policy,
    Website,
    Tagging,
    Versioning,
    Lifecycle,
    Notification,
}

impl ConfigurationKind {
    pub const ALL: [ConfigurationKind; 7] = [
        ConfigurationKind::Cors,
        ConfigurationKind::Policy,
        ConfigurationKind::Website,
        ConfigurationKind::Tagging,
        ConfigurationKind::Versioning,
        ConfigurationKind::Lifecycle,
        ConfigurationKind::Notification,
    ];

    /// The name it is stored under: the CloudFormation property's.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigurationKind::Cors => "CorsConfiguration",
            ConfigurationKind::Policy => "PolicyDocument",
            ConfigurationKind::Website => "WebsiteConfiguration",
            ConfigurationKind::Tagging => "Tags",
            ConfigurationKind::Versioning => "VersioningConfiguration",
            ConfigurationKind::Lifecycle => "LifecycleConfiguration",
            ConfigurationKind::Notification => "NotificationConfiguration",
        }
    }

    pub fn parse(name: &str) -> Option<ConfigurationKind> {
        ConfigurationKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// A stored bucket configuration: its document, in the shape of the CloudFormation
/// property of its kind (JSON), and whether the bucket's stack template set it (a
/// redeploy replaces or removes those, and leaves alone what the API set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConfiguration {
    pub document: serde_json::Value,
    pub from_template: bool,
}
