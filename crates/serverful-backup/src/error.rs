//! The ways taking or restoring a backup fails, each naming the problem and what to do.

use std::path::PathBuf;

/// Why a backup could not be written.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A source's name cannot be a path in the restored folder.
    #[error("backup source name {name:?} cannot be used: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two sources would write the same path, or one inside the other.
    #[error("backup sources {first:?} and {second:?} overlap: give each path once")]
    Overlap {
        /// One name.
        first: String,
        /// The other.
        second: String,
    },
    /// A source is not what its kind says (a folder that is a file, a missing file).
    #[error("backup source {path} is not {expected}")]
    WrongSource {
        /// The source's path on disk.
        path: PathBuf,
        /// What it should have been ("a folder", "a regular file").
        expected: &'static str,
    },
    /// A file system call on a source failed.
    #[error("failed to {action} {path}: {source}")]
    Source {
        /// What was being done ("read", "list").
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A path cannot be stored in the manifest, which is JSON.
    #[error(
        "{path} has a name that is not UTF-8; rename it, or leave its folder out of the backup"
    )]
    NonUtf8Path {
        /// The path.
        path: PathBuf,
    },
    /// SQLite could not take or copy the snapshot of a database.
    #[error("failed to {action} of SQLite database {path}: {source}")]
    Sqlite {
        /// The step ("open", "start the read transaction", "copy the snapshot").
        action: &'static str,
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A file changed between being listed and being copied. Only content that is
    /// replaced whole (written aside, then renamed) can be backed up while in use.
    #[error("{path} changed while it was being backed up ({detail}); back up folders whose files are replaced whole, not rewritten in place, or stop the writer")]
    Changed {
        /// The file.
        path: PathBuf,
        /// How it changed.
        detail: String,
    },
    /// The folder for the SQLite snapshots could not be made.
    #[error("failed to create a staging folder for the SQLite snapshots in {path}: {source}")]
    Staging {
        /// Where it was to be made.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Writing the backup itself failed.
    #[error("failed to {action} {path}: {source}")]
    Output {
        /// The step ("write", "sync", "rename into place").
        action: &'static str,
        /// The backup file, or `-` for a stream.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Why a backup could not be restored (or verified).
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The input is not a file this crate wrote.
    #[error("not a Serverful backup: {reason}")]
    NotABackup {
        /// What gave it away.
        reason: String,
    },
    /// The input ends before the backup does.
    #[error("the backup is truncated: {detail}; the file was cut short (an interrupted copy or a full disk): copy it again from where it was written")]
    Truncated {
        /// Where it ends.
        detail: String,
    },
    /// The input's bytes are not what was written.
    #[error("the backup is damaged: {detail}")]
    Corrupt {
        /// What does not match.
        detail: String,
    },
    /// An entry's content does not have the SHA-256 the manifest recorded.
    #[error(
        "the backup is damaged: {path} has SHA-256 {actual}, but its manifest recorded {expected}"
    )]
    ChecksumMismatch {
        /// The entry.
        path: String,
        /// What the manifest says.
        expected: String,
        /// What the content hashes to.
        actual: String,
    },
    /// The backup was written in a format version this crate does not know.
    #[error("the backup has format version {found} (written by Serverful {written_by}), and this Serverful reads format versions up to {supported}: restore it with Serverful {written_by} or newer")]
    NewerFormat {
        /// The backup's format version.
        found: u32,
        /// The newest this crate reads.
        supported: u32,
        /// The Serverful version that wrote it.
        written_by: String,
    },
    /// The target exists and has something in it.
    #[error("{path} exists and is not empty: restore into a new or empty folder")]
    TargetNotEmpty {
        /// The target.
        path: PathBuf,
    },
    /// The target exists and is not a folder.
    #[error("{path} exists and is not a folder: restore into a new or empty folder")]
    TargetNotFolder {
        /// The target.
        path: PathBuf,
    },
    /// Reading the input failed (not its content: the file or stream itself).
    #[error("failed to read {path}: {source}")]
    Read {
        /// The backup file, or `-` for a stream.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Writing the restored folder failed.
    #[error("failed to {action} {path}: {source}")]
    Write {
        /// The step ("create", "write", "sync", "rename into place").
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}
