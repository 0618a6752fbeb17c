//! The SQLite [`S3Backend`]: `DATA/s3.sqlite`, in WAL mode with `synchronous=FULL`, so a
//! record is on disk before its request is answered.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension as _, Row};
use time::OffsetDateTime;

use crate::backend::{
    Bucket, BucketDeletion, ConfigurationKind, ObjectHeaders, ObjectRecord, ObjectVersion, Part,
    S3Backend, StorageError, StoredConfiguration, Upload,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    created INTEGER NOT NULL,
    stack TEXT
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    headers TEXT NOT NULL,
    checksums TEXT NOT NULL,
    parts_count INTEGER,
    tags TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    initiated INTEGER NOT NULL,
    headers TEXT NOT NULL,
    tags TEXT NOT NULL,
    checksum_algorithm TEXT
);
CREATE INDEX IF NOT EXISTS uploads_by_bucket ON uploads (bucket, key, initiated);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    checksums TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (upload_id, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS object_versions (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    version_id TEXT NOT NULL,
    delete_marker INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    headers TEXT NOT NULL,
    checksums TEXT NOT NULL,
    parts_count INTEGER,
    tags TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (bucket, key, version_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bucket_configurations (
    bucket TEXT NOT NULL,
    kind TEXT NOT NULL,
    document TEXT NOT NULL,
    from_template INTEGER NOT NULL,
    PRIMARY KEY (bucket, kind)
) WITHOUT ROWID;
";

/// The SQLite backend.
#[derive(Debug)]
pub struct SqliteBackend {
    connection: Mutex<Connection>,
}

fn storage<E: std::error::Error + Send + Sync + 'static>(
    action: &'static str,
) -> impl FnOnce(E) -> StorageError {
    move |error| StorageError {
        action,
        source: Box::new(error),
    }
}

fn nanos(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

fn from_nanos(value: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(value))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn parse<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

const OBJECT_COLUMNS: &str =
    "bucket, key, size, etag, last_modified, headers, checksums, parts_count, tags, body, version_id";

/// The `null` version's id where a column cannot be NULL (the key of `object_versions`).
const NULL_VERSION: &str = "null";

fn object_row(row: &Row<'_>) -> rusqlite::Result<ObjectRecord> {
    let headers: String = row.get(5)?;
    let checksums: String = row.get(6)?;
    let tags: String = row.get(8)?;
    Ok(ObjectRecord {
        bucket: row.get(0)?,
        key: row.get(1)?,
        size: row.get::<_, i64>(2)?.try_into().unwrap_or(0),
        etag: row.get(3)?,
        last_modified: from_nanos(row.get(4)?),
        headers: parse(&headers),
        checksums: parse::<BTreeMap<String, String>>(&checksums),
        parts_count: row.get(7)?,
        tags: parse(&tags),
        body: row.get(9)?,
        version_id: row
            .get::<_, Option<String>>(10)?
            .filter(|version| version != NULL_VERSION),
    })
}

/// A row of `object_versions` (the object columns, then `delete_marker`).
fn version_row(row: &Row<'_>) -> rusqlite::Result<ObjectVersion> {
    Ok(ObjectVersion {
        record: object_row(row)?,
        delete_marker: row.get(11)?,
        latest: false,
    })
}

/// Whether the bucket's versioning was ever set (then replaced versions are kept).
fn versioning_set(connection: &Connection, bucket: &str) -> rusqlite::Result<bool> {
    Ok(connection
        .query_row(
            "SELECT 1 FROM bucket_configurations WHERE bucket = ?1 AND kind = ?2",
            params![bucket, ConfigurationKind::Versioning.as_str()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn insert_version(
    connection: &Connection,
    object: &ObjectRecord,
    delete_marker: bool,
) -> rusqlite::Result<()> {
    connection.execute(
        &format!(
            "INSERT OR REPLACE INTO object_versions ({OBJECT_COLUMNS}, delete_marker) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ),
        params![
            object.bucket,
            object.key,
            i64::try_from(object.size).unwrap_or(i64::MAX),
            object.etag,
            nanos(object.last_modified),
            json(&object.headers),
            json(&object.checksums),
            object.parts_count,
            json(&object.tags),
            object.body,
            object.version_id.as_deref().unwrap_or(NULL_VERSION),
            delete_marker,
        ],
    )?;
    Ok(())
}

/// Makes room for a new latest version `version_id` of a key: the current object
/// becomes noncurrent in a versioned bucket, unless it is that version; the replaced
/// `null` version (current or not) goes. Returns the body file that is no longer named.
fn retire_current(
    connection: &Connection,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> rusqlite::Result<Option<String>> {
    let current = connection
        .query_row(
            &format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2"),
            params![bucket, key],
            object_row,
        )
        .optional()?;
    let mut released = None;
    if let Some(current) = current {
        let keep =
            versioning_set(connection, bucket)? && current.version_id.as_deref() != version_id;
        if keep {
            insert_version(connection, &current, false)?;
        } else {
            released = Some(current.body.clone());
        }
        connection.execute(
            "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
            params![bucket, key],
        )?;
    }
    let version = version_id.unwrap_or(NULL_VERSION);
    let replaced: Option<(String, bool)> = connection
        .query_row(
            "DELETE FROM object_versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3 \
             RETURNING body, delete_marker",
            params![bucket, key, version],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    if let Some((body, false)) = replaced {
        released = released.or(Some(body));
    }
    Ok(released)
}

/// After the latest version of a key went, the next newest noncurrent version becomes
/// current (a delete marker stays where it is, latest).
fn promote_newest(connection: &Connection, bucket: &str, key: &str) -> rusqlite::Result<()> {
    let has_current = connection
        .query_row(
            "SELECT 1 FROM objects WHERE bucket = ?1 AND key = ?2",
            params![bucket, key],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if has_current {
        return Ok(());
    }
    let newest = connection
        .query_row(
            &format!(
                "SELECT {OBJECT_COLUMNS}, delete_marker FROM object_versions \
                 WHERE bucket = ?1 AND key = ?2 ORDER BY last_modified DESC LIMIT 1"
            ),
            params![bucket, key],
            version_row,
        )
        .optional()?;
    if let Some(newest) = newest.filter(|newest| !newest.delete_marker) {
        let version = newest
            .record
            .version_id
            .clone()
            .unwrap_or_else(|| NULL_VERSION.to_owned());
        connection.execute(
            "DELETE FROM object_versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3",
            params![bucket, key, version],
        )?;
        write_current(connection, &newest.record)?;
    }
    Ok(())
}

const UPLOAD_COLUMNS: &str = "id, bucket, key, initiated, headers, tags, checksum_algorithm";

fn upload_row(row: &Row<'_>) -> rusqlite::Result<Upload> {
    let headers: String = row.get(4)?;
    let tags: String = row.get(5)?;
    Ok(Upload {
        id: row.get(0)?,
        bucket: row.get(1)?,
        key: row.get(2)?,
        initiated: from_nanos(row.get(3)?),
        headers: parse::<ObjectHeaders>(&headers),
        tags: parse(&tags),
        checksum_algorithm: row.get(6)?,
    })
}

fn insert_object(
    connection: &Connection,
    object: &ObjectRecord,
) -> rusqlite::Result<Option<String>> {
    let replaced = retire_current(
        connection,
        &object.bucket,
        &object.key,
        object.version_id.as_deref(),
    )?;
    write_current(connection, object)?;
    Ok(replaced.filter(|body| *body != object.body))
}

fn write_current(connection: &Connection, object: &ObjectRecord) -> rusqlite::Result<()> {
    connection.execute(
        &format!("INSERT OR REPLACE INTO objects ({OBJECT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
        params![
            object.bucket,
            object.key,
            i64::try_from(object.size).unwrap_or(i64::MAX),
            object.etag,
            nanos(object.last_modified),
            json(&object.headers),
            json(&object.checksums),
            object.parts_count,
            json(&object.tags),
            object.body,
            object.version_id,
        ],
    )?;
    Ok(())
}

fn delete_upload(connection: &Connection, upload_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement = connection.prepare("SELECT body FROM parts WHERE upload_id = ?1")?;
    let bodies = statement
        .query_map([upload_id], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    connection.execute("DELETE FROM parts WHERE upload_id = ?1", [upload_id])?;
    connection.execute("DELETE FROM uploads WHERE id = ?1", [upload_id])?;
    Ok(bodies)
}

impl SqliteBackend {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteBackend, StorageError> {
        let connection = Connection::open(path).map_err(storage("open the S3 metadata"))?;
        Self::with_connection(connection)
    }

    /// A database in memory, for tests.
    pub fn in_memory() -> Result<SqliteBackend, StorageError> {
        let connection = Connection::open_in_memory().map_err(storage("open the S3 metadata"))?;
        Self::with_connection(connection)
    }

    fn with_connection(connection: Connection) -> Result<SqliteBackend, StorageError> {
        connection
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;",
            )
            .map_err(storage("set up the S3 metadata"))?;
        connection
            .execute_batch(SCHEMA)
            .map_err(storage("create the S3 metadata tables"))?;
        // Data folders from before versioning have objects without a version column.
        let has_version_column = connection
            .prepare("SELECT 1 FROM pragma_table_info('objects') WHERE name = 'version_id'")
            .and_then(|mut statement| statement.exists([]))
            .map_err(storage("read the S3 metadata tables"))?;
        if !has_version_column {
            connection
                .execute_batch("ALTER TABLE objects ADD COLUMN version_id TEXT")
                .map_err(storage("add object versions to the S3 metadata"))?;
        }
        Ok(SqliteBackend {
            connection: Mutex::new(connection),
        })
    }

    fn with<T>(
        &self,
        action: &'static str,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StorageError> {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&mut connection).map_err(storage(action))
    }
}

impl S3Backend for SqliteBackend {
    fn create_bucket(&self, bucket: &Bucket) -> Result<bool, StorageError> {
        self.with("create a bucket", |connection| {
            let inserted = connection.execute(
                "INSERT OR IGNORE INTO buckets (name, created, stack) VALUES (?1, ?2, ?3)",
                params![bucket.name, nanos(bucket.created), bucket.stack],
            )?;
            Ok(inserted == 1)
        })
    }

    fn bucket(&self, name: &str) -> Result<Option<Bucket>, StorageError> {
        self.with("read a bucket", |connection| {
            connection
                .query_row(
                    "SELECT name, created, stack FROM buckets WHERE name = ?1",
                    [name],
                    |row| {
                        Ok(Bucket {
                            name: row.get(0)?,
                            created: from_nanos(row.get(1)?),
                            stack: row.get(2)?,
                        })
                    },
                )
                .optional()
        })
    }

    fn buckets(&self) -> Result<Vec<Bucket>, StorageError> {
        self.with("list the buckets", |connection| {
            let mut statement =
                connection.prepare("SELECT name, created, stack FROM buckets ORDER BY name")?;
            let buckets = statement
                .query_map([], |row| {
                    Ok(Bucket {
                        name: row.get(0)?,
                        created: from_nanos(row.get(1)?),
                        stack: row.get(2)?,
                    })
                })?
                .collect();
            buckets
        })
    }

    fn delete_bucket(&self, name: &str, force: bool) -> Result<BucketDeletion, StorageError> {
        self.with("delete a bucket", |connection| {
            let transaction = connection.transaction()?;
            let exists = transaction
                .query_row("SELECT 1 FROM buckets WHERE name = ?1", [name], |_| Ok(()))
                .optional()?
                .is_some();
            if !exists {
                return Ok(BucketDeletion::NotFound);
            }
            let has_objects = transaction
                .query_row(
                    "SELECT 1 FROM objects WHERE bucket = ?1 \
                     UNION ALL SELECT 1 FROM object_versions WHERE bucket = ?1 LIMIT 1",
                    [name],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if has_objects && !force {
                return Ok(BucketDeletion::NotEmpty);
            }
            let mut bodies = Vec::new();
            {
                let mut statement =
                    transaction.prepare("SELECT body FROM objects WHERE bucket = ?1")?;
                for body in statement.query_map([name], |row| row.get::<_, String>(0))? {
                    bodies.push(body?);
                }
                let mut statement = transaction.prepare(
                    "SELECT body FROM object_versions WHERE bucket = ?1 AND NOT delete_marker",
                )?;
                for body in statement.query_map([name], |row| row.get::<_, String>(0))? {
                    bodies.push(body?);
                }
                let mut statement =
                    transaction.prepare("SELECT id FROM uploads WHERE bucket = ?1")?;
                let uploads = statement
                    .query_map([name], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                for upload in uploads {
                    bodies.extend(delete_upload(&transaction, &upload)?);
                }
            }
            transaction.execute("DELETE FROM objects WHERE bucket = ?1", [name])?;
            transaction.execute("DELETE FROM object_versions WHERE bucket = ?1", [name])?;
            transaction.execute(
                "DELETE FROM bucket_configurations WHERE bucket = ?1",
                [name],
            )?;
            transaction.execute("DELETE FROM buckets WHERE name = ?1", [name])?;
            transaction.commit()?;
            Ok(BucketDeletion::Deleted { bodies })
        })
    }

    fn put_object(&self, object: &ObjectRecord) -> Result<Option<String>, StorageError> {
        self.with("write an object's record", |connection| {
            let transaction = connection.transaction()?;
            let replaced = insert_object(&transaction, object)?;
            transaction.commit()?;
            Ok(replaced)
        })
    }

    fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StorageError> {
        self.with("read an object's record", |connection| {
            connection
                .query_row(
                    &format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2"),
                    params![bucket, key],
                    object_row,
                )
                .optional()
        })
    }

    fn delete_object(&self, bucket: &str, key: &str) -> Result<Option<String>, StorageError> {
        self.with("delete an object", |connection| {
            connection
                .query_row(
                    "DELETE FROM objects WHERE bucket = ?1 AND key = ?2 RETURNING body",
                    params![bucket, key],
                    |row| row.get(0),
                )
                .optional()
        })
    }

    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>, StorageError> {
        self.with("list objects", |connection| {
            // Keys compare as bytes (SQLite's BINARY collation on UTF-8), as S3 orders them.
            let start = if after >= prefix { after } else { prefix };
            // The keys with the prefix are one range; its end bounds the index scan, so
            // a listing does not read the keys after it. (A key with the prefix followed
            // by four U+10FFFF characters would be left out: no real key looks so.)
            let end = format!("{prefix}{}", "\u{10FFFF}".repeat(4));
            let inclusive = after < prefix;
            let mut statement = connection.prepare(&format!(
                "SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND (key > ?2 OR (?3 AND key = ?2)) \
                 AND substr(key, 1, length(?4)) = ?4 AND (?4 = '' OR key < ?6) ORDER BY key LIMIT ?5"
            ))?;
            let objects = statement
                .query_map(
                    params![
                        bucket,
                        start,
                        inclusive,
                        prefix,
                        i64::try_from(limit).unwrap_or(i64::MAX),
                        end
                    ],
                    object_row,
                )?
                .collect();
            objects
        })
    }

    fn set_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<bool, StorageError> {
        self.with("tag an object", |connection| {
            let changed = connection.execute(
                "UPDATE objects SET tags = ?3 WHERE bucket = ?1 AND key = ?2",
                params![bucket, key, json(&tags)],
            )?;
            Ok(changed == 1)
        })
    }

    fn create_upload(&self, upload: &Upload) -> Result<(), StorageError> {
        self.with("create a multipart upload", |connection| {
            connection.execute(
                &format!(
                    "INSERT INTO uploads ({UPLOAD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                params![
                    upload.id,
                    upload.bucket,
                    upload.key,
                    nanos(upload.initiated),
                    json(&upload.headers),
                    json(&upload.tags),
                    upload.checksum_algorithm,
                ],
            )?;
            Ok(())
        })
    }

    fn upload(&self, id: &str) -> Result<Option<Upload>, StorageError> {
        self.with("read a multipart upload", |connection| {
            connection
                .query_row(
                    &format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = ?1"),
                    [id],
                    upload_row,
                )
                .optional()
        })
    }

    fn uploads(&self, bucket: &str) -> Result<Vec<Upload>, StorageError> {
        self.with("list multipart uploads", |connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE bucket = ?1 ORDER BY key, initiated"
            ))?;
            let uploads = statement.query_map([bucket], upload_row)?.collect();
            uploads
        })
    }

    fn put_part(&self, upload_id: &str, part: &Part) -> Result<Option<String>, StorageError> {
        self.with("record a part", |connection| {
            let transaction = connection.transaction()?;
            let replaced: Option<String> = transaction
                .query_row(
                    "SELECT body FROM parts WHERE upload_id = ?1 AND number = ?2",
                    params![upload_id, part.number],
                    |row| row.get(0),
                )
                .optional()?;
            transaction.execute(
                "INSERT OR REPLACE INTO parts (upload_id, number, size, etag, last_modified, checksums, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    upload_id,
                    part.number,
                    i64::try_from(part.size).unwrap_or(i64::MAX),
                    part.etag,
                    nanos(part.last_modified),
                    json(&part.checksums),
                    part.body,
                ],
            )?;
            transaction.commit()?;
            Ok(replaced)
        })
    }

    fn parts(&self, upload_id: &str) -> Result<Vec<Part>, StorageError> {
        self.with("list parts", |connection| {
            let mut statement = connection.prepare(
                "SELECT number, size, etag, last_modified, checksums, body FROM parts \
                 WHERE upload_id = ?1 ORDER BY number",
            )?;
            let parts = statement
                .query_map([upload_id], |row| {
                    let checksums: String = row.get(4)?;
                    Ok(Part {
                        number: row.get(0)?,
                        size: row.get::<_, i64>(1)?.try_into().unwrap_or(0),
                        etag: row.get(2)?,
                        last_modified: from_nanos(row.get(3)?),
                        checksums: parse(&checksums),
                        body: row.get(5)?,
                    })
                })?
                .collect();
            parts
        })
    }

    fn abort_upload(&self, upload_id: &str) -> Result<Vec<String>, StorageError> {
        self.with("abort a multipart upload", |connection| {
            let transaction = connection.transaction()?;
            let bodies = delete_upload(&transaction, upload_id)?;
            transaction.commit()?;
            Ok(bodies)
        })
    }

    fn complete_upload(
        &self,
        upload_id: &str,
        object: &ObjectRecord,
    ) -> Result<(Option<String>, Vec<String>), StorageError> {
        self.with("complete a multipart upload", |connection| {
            let transaction = connection.transaction()?;
            let replaced = insert_object(&transaction, object)?;
            let parts = delete_upload(&transaction, upload_id)?;
            transaction.commit()?;
            Ok((replaced, parts))
        })
    }

    fn body_files(&self) -> Result<HashSet<String>, StorageError> {
        self.with("list the body files", |connection| {
            let mut files = HashSet::new();
            for table in ["objects", "parts", "object_versions"] {
                let mut statement = connection.prepare(&format!("SELECT body FROM {table}"))?;
                for body in statement.query_map([], |row| row.get::<_, String>(0))? {
                    files.insert(body?);
                }
            }
            Ok(files)
        })
    }

    fn object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectVersion>, StorageError> {
        let versions = self.versions_of(bucket, key)?;
        Ok(versions
            .into_iter()
            .find(|version| version.record.version_id.as_deref() == version_id))
    }

    fn latest_version(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectVersion>, StorageError> {
        Ok(self.versions_of(bucket, key)?.into_iter().next())
    }

    fn put_delete_marker(&self, marker: &ObjectRecord) -> Result<Option<String>, StorageError> {
        self.with("write a delete marker", |connection| {
            let transaction = connection.transaction()?;
            let released = retire_current(
                &transaction,
                &marker.bucket,
                &marker.key,
                marker.version_id.as_deref(),
            )?;
            insert_version(&transaction, marker, true)?;
            transaction.commit()?;
            Ok(released)
        })
    }

    fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectVersion>, StorageError> {
        self.with("delete an object version", |connection| {
            let transaction = connection.transaction()?;
            let current = transaction
                .query_row(
                    &format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2"),
                    params![bucket, key],
                    object_row,
                )
                .optional()?
                .filter(|current| current.version_id.as_deref() == version_id);
            let deleted = match current {
                Some(record) => {
                    transaction.execute(
                        "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
                        params![bucket, key],
                    )?;
                    Some(ObjectVersion {
                        record,
                        delete_marker: false,
                        latest: true,
                    })
                }
                None => transaction
                    .query_row(
                        &format!(
                            "DELETE FROM object_versions WHERE bucket = ?1 AND key = ?2 \
                             AND version_id = ?3 RETURNING {OBJECT_COLUMNS}, delete_marker"
                        ),
                        params![bucket, key, version_id.unwrap_or(NULL_VERSION)],
                        version_row,
                    )
                    .optional()?,
            };
            if deleted.is_some() {
                promote_newest(&transaction, bucket, key)?;
            }
            transaction.commit()?;
            Ok(deleted)
        })
    }

    fn versioned_keys(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        inclusive: bool,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        self.with("list versioned keys", |connection| {
            let mut statement = connection.prepare(
                "SELECT key FROM (SELECT key FROM objects WHERE bucket = ?1 \
                 UNION SELECT key FROM object_versions WHERE bucket = ?1) \
                 WHERE (key > ?2 OR (?3 AND key = ?2)) AND substr(key, 1, length(?4)) = ?4 \
                 ORDER BY key LIMIT ?5",
            )?;
            let keys = statement
                .query_map(
                    params![
                        bucket,
                        after,
                        inclusive,
                        prefix,
                        i64::try_from(limit).unwrap_or(i64::MAX)
                    ],
                    |row| row.get(0),
                )?
                .collect();
            keys
        })
    }

    fn set_version_tags(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<bool, StorageError> {
        self.with("tag an object version", |connection| {
            let changed = connection.execute(
                "UPDATE objects SET tags = ?4 WHERE bucket = ?1 AND key = ?2 AND version_id IS ?3",
                params![bucket, key, version_id, json(&tags)],
            )?;
            if changed == 1 {
                return Ok(true);
            }
            let changed = connection.execute(
                "UPDATE object_versions SET tags = ?4 WHERE bucket = ?1 AND key = ?2 \
                 AND version_id = ?3 AND NOT delete_marker",
                params![bucket, key, version_id.unwrap_or(NULL_VERSION), json(&tags)],
            )?;
            Ok(changed == 1)
        })
    }

    fn versions_of(&self, bucket: &str, key: &str) -> Result<Vec<ObjectVersion>, StorageError> {
        self.with("list an object's versions", |connection| {
            let mut versions: Vec<ObjectVersion> = connection
                .query_row(
                    &format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2"),
                    params![bucket, key],
                    object_row,
                )
                .optional()?
                .map(|record| ObjectVersion {
                    record,
                    delete_marker: false,
                    latest: false,
                })
                .into_iter()
                .collect();
            let mut statement = connection.prepare(&format!(
                "SELECT {OBJECT_COLUMNS}, delete_marker FROM object_versions \
                 WHERE bucket = ?1 AND key = ?2 ORDER BY last_modified DESC, version_id DESC"
            ))?;
            for version in statement.query_map(params![bucket, key], version_row)? {
                versions.push(version?);
            }
            if let Some(first) = versions.first_mut() {
                first.latest = true;
            }
            Ok(versions)
        })
    }

    fn configuration(
        &self,
        bucket: &str,
        kind: ConfigurationKind,
    ) -> Result<Option<StoredConfiguration>, StorageError> {
        self.with("read a bucket configuration", |connection| {
            connection
                .query_row(
                    "SELECT document, from_template FROM bucket_configurations \
                     WHERE bucket = ?1 AND kind = ?2",
                    params![bucket, kind.as_str()],
                    configuration_row,
                )
                .optional()
        })
    }

    fn put_configuration(
        &self,
        bucket: &str,
        kind: ConfigurationKind,
        configuration: &StoredConfiguration,
    ) -> Result<(), StorageError> {
        self.with("write a bucket configuration", |connection| {
            connection.execute(
                "INSERT OR REPLACE INTO bucket_configurations (bucket, kind, document, from_template) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    bucket,
                    kind.as_str(),
                    configuration.document.to_string(),
                    configuration.from_template
                ],
            )?;
            Ok(())
        })
    }

    fn delete_configuration(
        &self,
        bucket: &str,
        kind: ConfigurationKind,
    ) -> Result<bool, StorageError> {
        self.with("delete a bucket configuration", |connection| {
            let deleted = connection.execute(
                "DELETE FROM bucket_configurations WHERE bucket = ?1 AND kind = ?2",
                params![bucket, kind.as_str()],
            )?;
            Ok(deleted == 1)
        })
    }

    fn journal_event(&self, event: &str) -> Result<i64, StorageError> {
        self.with("journal an object event", |connection| {
            connection.execute("INSERT INTO event_journal (event) VALUES (?1)", [event])?;
            Ok(connection.last_insert_rowid())
        })
    }

    fn journaled_events(&self) -> Result<Vec<(i64, String)>, StorageError> {
        self.with("read the object event journal", |connection| {
            let mut statement =
                connection.prepare("SELECT id, event FROM event_journal ORDER BY id")?;
            let events = statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect();
            events
        })
    }

    fn forget_event(&self, id: i64) -> Result<(), StorageError> {
        self.with("forget an object event", |connection| {
            connection.execute("DELETE FROM event_journal WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    fn configurations_of_kind(
        &self,
        kind: ConfigurationKind,
    ) -> Result<Vec<(String, StoredConfiguration)>, StorageError> {
        self.with("list bucket configurations", |connection| {
            let mut statement = connection.prepare(
                "SELECT document, from_template, bucket FROM bucket_configurations \
                 WHERE kind = ?1 ORDER BY bucket",
            )?;
            let configurations = statement
                .query_map([kind.as_str()], |row| {
                    Ok((row.get(2)?, configuration_row(row)?))
                })?
                .collect();
            configurations
        })
    }
}

fn configuration_row(row: &Row<'_>) -> rusqlite::Result<StoredConfiguration> {
    let document: String = row.get(0)?;
    Ok(StoredConfiguration {
        document: serde_json::from_str(&document).unwrap_or(serde_json::Value::Null),
        from_template: row.get(1)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str, body: &str) -> ObjectRecord {
        ObjectRecord {
            bucket: "b".to_owned(),
            key: key.to_owned(),
            size: 1,
            etag: "e".to_owned(),
            last_modified: OffsetDateTime::UNIX_EPOCH,
            headers: ObjectHeaders::default(),
            checksums: BTreeMap::new(),
            parts_count: None,
            tags: Vec::new(),
            body: body.to_owned(),
            version_id: None,
        }
    }

    fn part(number: u32, body: &str) -> Part {
        Part {
            number,
            size: 1,
            etag: "p".to_owned(),
            last_modified: OffsetDateTime::UNIX_EPOCH,
            checksums: BTreeMap::new(),
            body: body.to_owned(),
        }
    }

    #[test]
    fn records_name_the_bodies_they_replace_and_release() {
        let backend = SqliteBackend::in_memory().expect("database");
        let bucket = Bucket {
            name: "b".to_owned(),
            created: OffsetDateTime::UNIX_EPOCH,
            stack: Some("shop".to_owned()),
        };
        assert!(backend.create_bucket(&bucket).expect("create"));
        assert!(!backend.create_bucket(&bucket).expect("create again"));
        assert_eq!(backend.bucket("b").expect("read"), Some(bucket));
        assert_eq!(backend.put_object(&object("k", "one")).expect("put"), None);
        assert_eq!(
            backend.put_object(&object("k", "two")).expect("replace"),
            Some("one".to_owned())
        );
        assert_eq!(
            backend.delete_bucket("b", false).expect("delete"),
            BucketDeletion::NotEmpty
        );
        let upload = Upload {
            id: "u".to_owned(),
            bucket: "b".to_owned(),
            key: "big".to_owned(),
            initiated: OffsetDateTime::UNIX_EPOCH,
            headers: ObjectHeaders::default(),
            tags: Vec::new(),
            checksum_algorithm: None,
        };
        backend.create_upload(&upload).expect("upload");
        assert_eq!(backend.put_part("u", &part(1, "p1")).expect("part"), None);
        assert_eq!(
            backend.put_part("u", &part(1, "p1b")).expect("part again"),
            Some("p1".to_owned())
        );
        backend.put_part("u", &part(2, "p2")).expect("part 2");
        assert_eq!(
            backend.body_files().expect("files"),
            ["two", "p1b", "p2"]
                .map(str::to_owned)
                .into_iter()
                .collect()
        );
        let (replaced, parts) = backend
            .complete_upload("u", &object("big", "whole"))
            .expect("complete");
        assert_eq!(replaced, None);
        assert_eq!(parts, vec!["p1b".to_owned(), "p2".to_owned()]);
        assert_eq!(backend.upload("u").expect("read upload"), None);
        let listed: Vec<String> = backend
            .list_objects("b", "", "", 10)
            .expect("list")
            .into_iter()
            .map(|object| object.key)
            .collect();
        assert_eq!(listed, vec!["big".to_owned(), "k".to_owned()]);
        match backend.delete_bucket("b", true).expect("force") {
            BucketDeletion::Deleted { mut bodies } => {
                bodies.sort();
                assert_eq!(bodies, vec!["two".to_owned(), "whole".to_owned()]);
            }
            other => panic!("expected the bucket deleted, got {other:?}"),
        }
        assert_eq!(
            backend.delete_bucket("b", false).expect("gone"),
            BucketDeletion::NotFound
        );
    }

    fn version(key: &str, body: &str, id: Option<&str>, nanos: i64) -> ObjectRecord {
        ObjectRecord {
            version_id: id.map(str::to_owned),
            last_modified: from_nanos(nanos),
            ..object(key, body)
        }
    }

    fn ids(backend: &SqliteBackend, key: &str) -> Vec<(Option<String>, bool, bool)> {
        backend
            .versions_of("b", key)
            .expect("versions")
            .into_iter()
            .map(|version| {
                (
                    version.record.version_id,
                    version.delete_marker,
                    version.latest,
                )
            })
            .collect()
    }

    #[test]
    fn versions_are_kept_marked_deleted_and_promoted() {
        let backend = SqliteBackend::in_memory().expect("database");
        backend
            .create_bucket(&Bucket {
                name: "b".to_owned(),
                created: OffsetDateTime::UNIX_EPOCH,
                stack: None,
            })
            .expect("bucket");
        // Before versioning: the null version, replaced in place.
        assert_eq!(
            backend
                .put_object(&version("k", "n1", None, 1))
                .expect("put"),
            None
        );
        assert_eq!(
            backend
                .put_object(&version("k", "n2", None, 2))
                .expect("put"),
            Some("n1".to_owned())
        );
        backend
            .put_configuration(
                "b",
                ConfigurationKind::Versioning,
                &StoredConfiguration {
                    document: serde_json::json!({"Status": "Enabled"}),
                    from_template: false,
                },
            )
            .expect("versioning");
        // Enabled: the null version is kept as a noncurrent one.
        assert_eq!(
            backend
                .put_object(&version("k", "v1", Some("v1"), 3))
                .expect("put"),
            None
        );
        assert_eq!(
            backend
                .put_object(&version("k", "v2", Some("v2"), 4))
                .expect("put"),
            None
        );
        let s = |text: &str| Some(text.to_owned());
        assert_eq!(
            ids(&backend, "k"),
            vec![
                (s("v2"), false, true),
                (s("v1"), false, false),
                (None, false, false)
            ]
        );
        // A marker hides the key; the listing of current objects no longer has it.
        let marker = ObjectRecord {
            body: String::new(),
            ..version("k", "", Some("m1"), 5)
        };
        assert_eq!(backend.put_delete_marker(&marker).expect("marker"), None);
        assert_eq!(backend.object("b", "k").expect("read"), None);
        assert!(backend
            .list_objects("b", "", "", 10)
            .expect("list")
            .is_empty());
        assert!(
            backend
                .latest_version("b", "k")
                .expect("latest")
                .expect("some")
                .delete_marker
        );
        // Deleting the marker brings v2 back; deleting v2 brings v1 back.
        let deleted = backend
            .delete_version("b", "k", Some("m1"))
            .expect("delete");
        assert!(deleted.expect("marker deleted").delete_marker);
        assert_eq!(
            backend
                .object("b", "k")
                .expect("read")
                .map(|object| object.body),
            s("v2")
        );
        backend
            .delete_version("b", "k", Some("v2"))
            .expect("delete v2");
        assert_eq!(
            backend
                .object("b", "k")
                .expect("read")
                .map(|object| object.body),
            s("v1")
        );
        assert_eq!(
            backend
                .delete_version("b", "k", Some("nope"))
                .expect("none"),
            None
        );
        // Every kept version's body is still named.
        let files = backend.body_files().expect("files");
        assert!(files.contains("v1") && files.contains("n2") && !files.contains("v2"));
        assert_eq!(
            backend
                .versioned_keys("b", "", "", false, 10)
                .expect("keys"),
            vec!["k".to_owned()]
        );
        assert_eq!(
            backend.delete_bucket("b", false).expect("not empty"),
            BucketDeletion::NotEmpty
        );
    }
}
