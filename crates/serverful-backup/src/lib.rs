//! Online backups of a Serverful data folder, and their restore.
//!
//! A backup is one file, written as a stream: a zstd-compressed tar whose first member is
//! a manifest (format version, Serverful version, time, every entry with its size and
//! SHA-256), whose members are the entries under the paths they get in the restored
//! folder, and whose last member is a trailer, so that a file cut short anywhere is
//! recognised as such ([`format`] has the layout).
//!
//! The caller says what goes in, as [`BackupSource`]s: SQLite databases, copied
//! consistently through SQLite's online backup API while their writers go on
//! ([`BackupSource::sqlite`]: every write acknowledged before [`write_backup`] was called
//! is in the copy), and folders and files whose content is replaced whole rather than
//! rewritten in place (code folders, content-addressed builds, keys), copied as they are
//! with their permission bits. The crate knows nothing of what a data folder holds: the
//! binary (and later the server) lists the sources.
//!
//! [`restore`] reads a backup into a temporary folder beside the target, checks every
//! entry's checksum, the trailer and the end of the stream, and only then renames the
//! folder into place: a failed restore leaves nothing behind.

mod error;
pub mod format;
mod restore;
mod source;
mod sqlite;
mod write;

pub use error::{BackupError, RestoreError};
pub use format::{Entry, EntryKind, Manifest, SourceKind, SourceRecord, FORMAT_VERSION};
pub use restore::{restore, restore_file, verify, RestoreSummary};
pub use source::BackupSource;
pub use write::{write_backup, write_backup_file, BackupOptions, BackupSummary};
