//! The backup file's layout: a zstd-compressed tar whose first member is the manifest,
//! whose last is the trailer, and whose members between are the backed-up entries in the
//! manifest's order, each under the path it gets in the restored folder.
//!
//! ```text
//! zstd frame (content checksum on)
//! └── tar
//!     ├── .serverful-backup/manifest.json   format, versions, time, every entry with its SHA-256
//!     ├── dynamodb.sqlite                   the entries, in manifest order
//!     ├── build/ …
//!     ├── .serverful-backup/trailer.json    entry count, byte count, the manifest's SHA-256
//!     └── (tar's end-of-archive blocks)
//! zstd skippable frame                      SHA-256 of every byte before it
//! ```
//!
//! The closing frame covers what the others cannot: a changed byte that decompresses to
//! the same content (a frame header's window size) and the frame's own checksum. zstd
//! decoders skip such frames, so the file stays a plain `.tar.zst`.
//!
//! Because the entries sit under their own paths, `tar --zstd -xf` opens a backup with
//! standard tools too (without the checks `restore` makes).

use serde::{Deserialize, Serialize};

/// What the manifest's `format` field says in every backup.
pub const FORMAT_NAME: &str = "serverful-backup";
/// The newest format version this crate writes and reads. A reader refuses newer ones.
pub const FORMAT_VERSION: u32 = 1;

/// The folder inside a backup that holds its own metadata; no entry may use this name.
pub(crate) const RESERVED_FOLDER: &str = ".serverful-backup";
/// The first member of the tar.
pub(crate) const MANIFEST_PATH: &str = ".serverful-backup/manifest.json";
/// The last member of the tar.
pub(crate) const TRAILER_PATH: &str = ".serverful-backup/trailer.json";
/// Every zstd frame starts with these bytes.
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// The magic number of the closing skippable frame (zstd reserves 0x184D2A50 to
/// 0x184D2A5F for frames decoders skip), little-endian as zstd writes it.
pub(crate) const CLOSING_MAGIC: [u8; 4] = [0x53, 0x2a, 0x4d, 0x18];
/// The closing frame: magic, the payload's length (32, little-endian), the SHA-256.
pub(crate) const CLOSING_FRAME_LEN: usize = 4 + 4 + 32;
/// The largest manifest a reader accepts (it is read into memory whole; a million entries
/// take about 150 MiB).
pub(crate) const MAX_MANIFEST_BYTES: u64 = 256 << 20;
/// The largest trailer a reader accepts.
pub(crate) const MAX_TRAILER_BYTES: u64 = 64 << 10;

/// The first member of a backup: what it holds and how to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// The format version the backup was written in.
    pub format_version: u32,
    /// The version of Serverful that wrote it.
    pub serverful_version: String,
    /// When the SQLite snapshots were taken (RFC 3339, UTC): the backup's point in time.
    pub created_at: String,
    /// The permission bits of the restored folder itself.
    pub root_mode: u32,
    /// The sources the backup was made from, in the order given.
    pub sources: Vec<SourceRecord>,
    /// Every entry, parents before children, in the order the tar holds them.
    pub entries: Vec<Entry>,
}

/// One source as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceRecord {
    /// Its path in the restored folder.
    pub name: String,
    /// How it was copied.
    pub kind: SourceKind,
}

/// How a source is copied into a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SourceKind {
    /// A SQLite database, copied from one read transaction.
    Sqlite,
    /// A folder, walked and copied file by file.
    Folder,
    /// One file.
    File,
}

/// One entry of the restored folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The entry's path in the restored folder, `/`-separated and relative.
    pub path: String,
    /// What it is.
    #[serde(flatten)]
    pub kind: EntryKind,
}

/// What an entry is, with what it takes to restore it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum EntryKind {
    /// A folder.
    Directory {
        /// Its permission bits.
        mode: u32,
    },
    /// A regular file.
    File {
        /// Its permission bits (kept on restore: a 0600 key stays 0600).
        mode: u32,
        /// Its length in bytes.
        size: u64,
        /// The SHA-256 of its content, in lowercase hex.
        sha256: String,
        /// Its modification time, in seconds since the Unix epoch.
        modified: i64,
    },
    /// A symbolic link, restored as one.
    Symlink {
        /// What it points at, as written.
        target: String,
    },
}

/// The last member of a backup: present only when the writer finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Trailer {
    /// How many entries came between manifest and trailer.
    pub entries: u64,
    /// The bytes of file content among them.
    pub content_bytes: u64,
    /// The SHA-256 of the manifest member's bytes, tying this trailer to that manifest.
    pub manifest_sha256: String,
}

/// Why `path` cannot be an entry's or a source's path: it must be relative, `/`-separated,
/// with no empty, `.` or `..` component, and outside [`RESERVED_FOLDER`].
pub(crate) fn path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("it is empty");
    }
    if path.starts_with('/') {
        return Some("it is absolute; names are paths relative to the restored folder");
    }
    if path.contains('\0') {
        return Some("it contains a NUL byte");
    }
    for component in path.split('/') {
        match component {
            "" => return Some("it has an empty component (`//` or a trailing `/`)"),
            "." | ".." => return Some("it has a `.` or `..` component"),
            _ => {}
        }
    }
    if path.split('/').next() == Some(RESERVED_FOLDER) {
        return Some("`.serverful-backup` is reserved for the backup's own metadata");
    }
    None
}

/// The closing frame for a file whose bytes before it hash to `digest`.
pub(crate) fn closing_frame(digest: &[u8; 32]) -> [u8; CLOSING_FRAME_LEN] {
    let mut frame = [0u8; CLOSING_FRAME_LEN];
    frame[..4].copy_from_slice(&CLOSING_MAGIC);
    frame[4..8].copy_from_slice(&32u32.to_le_bytes());
    frame[8..].copy_from_slice(digest);
    frame
}

/// Lowercase hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths() {
        let problems: Vec<_> = [
            "dynamodb.sqlite",
            "build/Fn/abc",
            "",
            "/etc/passwd",
            "a//b",
            "a/",
            "a/../b",
            "./a",
            ".serverful-backup/x",
            ".serverful-backups",
        ]
        .iter()
        .map(|path| (*path, path_problem(path)))
        .collect();
        expect_test::expect![[r#"
            [
                (
                    "dynamodb.sqlite",
                    None,
                ),
                (
                    "build/Fn/abc",
                    None,
                ),
                (
                    "",
                    Some(
                        "it is empty",
                    ),
                ),
                (
                    "/etc/passwd",
                    Some(
                        "it is absolute; names are paths relative to the restored folder",
                    ),
                ),
                (
                    "a//b",
                    Some(
                        "it has an empty component (`//` or a trailing `/`)",
                    ),
                ),
                (
                    "a/",
                    Some(
                        "it has an empty component (`//` or a trailing `/`)",
                    ),
                ),
                (
                    "a/../b",
                    Some(
                        "it has a `.` or `..` component",
                    ),
                ),
                (
                    "./a",
                    Some(
                        "it has a `.` or `..` component",
                    ),
                ),
                (
                    ".serverful-backup/x",
                    Some(
                        "`.serverful-backup` is reserved for the backup's own metadata",
                    ),
                ),
                (
                    ".serverful-backups",
                    None,
                ),
            ]
        "#]]
        .assert_debug_eq(&problems);
    }
}
