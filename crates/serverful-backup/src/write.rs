//! Writing a backup: snapshot the databases, list and hash everything, then stream the
//! manifest, the entries and the trailer through tar and zstd.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest as _, Sha256};

use crate::error::BackupError;
use crate::format::{
    closing_frame, hex, EntryKind, Manifest, SourceKind, SourceRecord, Trailer, FORMAT_NAME,
    FORMAT_VERSION, MANIFEST_PATH, TRAILER_PATH,
};
use crate::source::{check_names, BackupSource, Plan, Planned};
use crate::sqlite::{snapshot_all, SnapshotRequest};

/// How to write a backup.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// The Serverful version recorded in the manifest.
    pub serverful_version: String,
    /// Where the SQLite snapshots are staged until they are streamed (they need room for
    /// a copy of each database). `None`: beside the backup file, or the system's
    /// temporary folder when writing to a stream.
    pub staging_dir: Option<PathBuf>,
    /// The permission bits the restored folder gets.
    pub root_mode: u32,
    /// zstd's compression level (1–19). 1 by default: on the store's pages it compressed
    /// as well as 3 at over twice the speed (ARCHITECTURE.md), and a backup shares the
    /// machine with the traffic it is taken under.
    pub compression_level: i32,
}

impl BackupOptions {
    /// Defaults: staged beside the output, a 0755 root, zstd level 1.
    pub fn new(serverful_version: impl Into<String>) -> BackupOptions {
        BackupOptions {
            serverful_version: serverful_version.into(),
            staging_dir: None,
            root_mode: 0o755,
            compression_level: 1,
        }
    }
}

/// What a backup holds, once written.
#[derive(Debug, Clone)]
pub struct BackupSummary {
    /// The manifest written (every entry, with sizes and checksums).
    pub manifest: Manifest,
    /// The bytes of file content in it, before compression.
    pub content_bytes: u64,
    /// The bytes written (the compressed file's size).
    pub written_bytes: u64,
    /// Sockets, pipes and devices found in folders and left out.
    pub skipped: Vec<PathBuf>,
}

/// Writes a backup of `sources` to `output` and returns what it holds. The SQLite
/// sources are pinned first, all of them before any is copied: every write their
/// owners acknowledged before this call is in the backup. `output` sees a stream, never
/// the whole state at once.
pub fn write_backup(
    sources: &[BackupSource],
    options: &BackupOptions,
    output: impl Write,
) -> Result<BackupSummary, BackupError> {
    let staging_parent = options
        .staging_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    write_with_staging(sources, options, &staging_parent, output, Path::new("-"))
}

/// Writes a backup of `sources` into the file `path`: written beside it under a
/// temporary name (mode 0600: a backup holds keys), synced, then renamed into place, so
/// `path` is either the whole backup or untouched.
pub fn write_backup_file(
    sources: &[BackupSource],
    options: &BackupOptions,
    path: &Path,
) -> Result<BackupSummary, BackupError> {
    let output_error = |action, source| BackupError::Output {
        action,
        path: path.to_path_buf(),
        source,
    };
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{file_name}.partial-"))
        .tempfile_in(&parent)
        .map_err(|source| output_error("create a temporary file beside", source))?;
    let staging_parent = options.staging_dir.clone().unwrap_or(parent.clone());
    let mut writer = io::BufWriter::with_capacity(1 << 20, partial.as_file());
    let summary = write_with_staging(sources, options, &staging_parent, &mut writer, path)?;
    writer
        .flush()
        .map_err(|source| output_error("write", source))?;
    drop(writer);
    partial
        .as_file()
        .sync_all()
        .map_err(|source| output_error("sync", source))?;
    partial
        .persist(path)
        .map_err(|error| output_error("rename into place", error.error))?;
    sync_folder(&parent).map_err(|source| output_error("sync the folder of", source))?;
    Ok(summary)
}

fn write_with_staging(
    sources: &[BackupSource],
    options: &BackupOptions,
    staging_parent: &Path,
    output: impl Write,
    output_path: &Path,
) -> Result<BackupSummary, BackupError> {
    check_names(sources)?;
    let staging = tempfile::Builder::new()
        .prefix(".serverful-backup-staging-")
        .tempdir_in(staging_parent)
        .map_err(|source| BackupError::Staging {
            path: staging_parent.to_path_buf(),
            source,
        })?;

    // The databases first: the backup's point in time is when they are pinned.
    let created_at = rfc3339(SystemTime::now());
    let requests: Vec<SnapshotRequest<'_>> = sources
        .iter()
        .enumerate()
        .filter(|(_, source)| source.kind == SourceKind::Sqlite)
        .map(|(index, source)| SnapshotRequest {
            database: &source.path,
            copy: staging.path().join(format!("{index}.sqlite")),
        })
        .collect();
    snapshot_all(&requests)?;

    let mut plan = Plan::default();
    for (index, source) in sources.iter().enumerate() {
        let metadata = fs::metadata(&source.path).map_err(|error| BackupError::Source {
            action: "inspect",
            path: source.path.clone(),
            source: error,
        })?;
        match source.kind {
            SourceKind::Sqlite => {
                let copy = staging.path().join(format!("{index}.sqlite"));
                plan.add_file(source.name.clone(), &copy, &metadata)?;
            }
            SourceKind::File if metadata.is_file() => {
                plan.add_file(source.name.clone(), &source.path, &metadata)?;
            }
            SourceKind::Folder if metadata.is_dir() => {
                plan.add_folder(
                    source.name.clone(),
                    &source.path,
                    &metadata,
                    &source.excluded_prefixes,
                )?;
            }
            SourceKind::File | SourceKind::Folder => {
                return Err(BackupError::WrongSource {
                    path: source.path.clone(),
                    expected: if source.kind == SourceKind::File {
                        "a regular file"
                    } else {
                        "a folder"
                    },
                })
            }
        }
    }

    let manifest = Manifest {
        format: FORMAT_NAME.to_owned(),
        format_version: FORMAT_VERSION,
        serverful_version: options.serverful_version.clone(),
        created_at,
        root_mode: options.root_mode & 0o7777,
        sources: sources
            .iter()
            .map(|source| SourceRecord {
                name: source.name.clone(),
                kind: source.kind,
            })
            .collect(),
        entries: plan
            .entries
            .iter()
            .map(|planned| planned.entry.clone())
            .collect(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");

    let output_error = |source| BackupError::Output {
        action: "write",
        path: output_path.to_path_buf(),
        source,
    };
    let counting = Counting {
        inner: output,
        bytes: 0,
        hasher: Sha256::new(),
    };
    let mut encoder =
        zstd::Encoder::new(counting, options.compression_level).map_err(output_error)?;
    // The frame's own checksum catches damage in the compressed bytes before any entry's
    // SHA-256 is computed.
    encoder.include_checksum(true).map_err(output_error)?;
    let mut archive = tar::Builder::new(encoder);
    let modified = unix_seconds(SystemTime::now());

    let mut header = member_header(tar::EntryType::Regular, 0o600, modified);
    header.set_size(manifest_bytes.len() as u64);
    archive
        .append_data(&mut header, MANIFEST_PATH, manifest_bytes.as_slice())
        .map_err(output_error)?;

    let mut content_bytes = 0;
    for planned in &plan.entries {
        content_bytes += append_entry(&mut archive, planned, modified, output_path)?;
    }

    let trailer = Trailer {
        entries: plan.entries.len() as u64,
        content_bytes,
        manifest_sha256: hex(&Sha256::digest(&manifest_bytes)),
    };
    let trailer_bytes = serde_json::to_vec_pretty(&trailer).expect("a trailer serializes");
    let mut header = member_header(tar::EntryType::Regular, 0o600, modified);
    header.set_size(trailer_bytes.len() as u64);
    archive
        .append_data(&mut header, TRAILER_PATH, trailer_bytes.as_slice())
        .map_err(output_error)?;
    let encoder = archive.into_inner().map_err(output_error)?;
    let mut counting = encoder.finish().map_err(output_error)?;
    let digest: [u8; 32] = counting.hasher.clone().finalize().into();
    counting
        .write_all(&closing_frame(&digest))
        .map_err(output_error)?;
    counting.flush().map_err(output_error)?;

    Ok(BackupSummary {
        manifest,
        content_bytes,
        written_bytes: counting.bytes,
        skipped: plan.skipped,
    })
}

/// Appends one entry, re-reading a file's content and checking it against what the
/// listing hashed. Returns the content bytes written.
/// Folders and links carry `now` as their time in the tar (the manifest keeps none).
fn append_entry<W: Write>(
    archive: &mut tar::Builder<W>,
    planned: &Planned,
    now: i64,
    output_path: &Path,
) -> Result<u64, BackupError> {
    let output_error = |source| BackupError::Output {
        action: "write",
        path: output_path.to_path_buf(),
        source,
    };
    let path = planned.entry.path.as_str();
    match &planned.entry.kind {
        EntryKind::Directory { mode } => {
            let mut header = member_header(tar::EntryType::Directory, *mode, now);
            header.set_size(0);
            archive
                .append_data(&mut header, path, io::empty())
                .map_err(output_error)?;
            Ok(0)
        }
        EntryKind::Symlink { target } => {
            let mut header = member_header(tar::EntryType::Symlink, 0o777, now);
            header.set_size(0);
            archive
                .append_link(&mut header, path, target)
                .map_err(output_error)?;
            Ok(0)
        }
        EntryKind::File {
            mode,
            size,
            sha256,
            modified,
        } => {
            let content = planned
                .content
                .as_deref()
                .expect("every planned file has a content path");
            let changed = |detail: String| BackupError::Changed {
                path: content.to_path_buf(),
                detail,
            };
            let file = fs::File::open(content).map_err(|error| {
                if error.kind() == io::ErrorKind::NotFound {
                    changed("it was removed".to_owned())
                } else {
                    BackupError::Source {
                        action: "read",
                        path: content.to_path_buf(),
                        source: error,
                    }
                }
            })?;
            let mut header = member_header(tar::EntryType::Regular, *mode, *modified);
            header.set_size(*size);
            let mut checked = Checked {
                file,
                remaining: *size,
                hasher: Sha256::new(),
                problem: None,
            };
            let appended = archive.append_data(&mut header, path, &mut checked);
            match (checked.problem.take(), appended) {
                (Some(Problem::Shorter), _) => {
                    return Err(changed(format!(
                        "it is shorter than the {size} bytes listed"
                    )))
                }
                (Some(Problem::Read(source)), _) => {
                    return Err(BackupError::Source {
                        action: "read",
                        path: content.to_path_buf(),
                        source,
                    })
                }
                (None, Err(error)) => return Err(output_error(error)),
                (None, Ok(())) => {}
            }
            let mut extra = [0u8; 1];
            if matches!(checked.file.read(&mut extra), Ok(1)) {
                return Err(changed(format!("it grew past the {size} bytes listed")));
            }
            if hex(&checked.hasher.finalize()) != *sha256 {
                return Err(changed(
                    "its content differs from when it was listed".to_owned(),
                ));
            }
            Ok(*size)
        }
    }
}

/// A tar header for a member, with no owner (restores belong to whoever restores).
fn member_header(kind: tar::EntryType, mode: u32, modified: i64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_mtime(u64::try_from(modified).unwrap_or(0));
    header.set_uid(0);
    header.set_gid(0);
    header
}

/// Why a file's content could not be streamed as listed.
enum Problem {
    Shorter,
    Read(io::Error),
}

/// Reads exactly the listed number of bytes of a file, hashing them.
struct Checked {
    file: fs::File,
    remaining: u64,
    hasher: Sha256,
    problem: Option<Problem>,
}

impl Read for Checked {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let limit = buffer
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let read = loop {
            match self.file.read(&mut buffer[..limit]) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    let kind = error.kind();
                    self.problem = Some(Problem::Read(error));
                    return Err(io::Error::new(kind, "the source file could not be read"));
                }
                Ok(read) => break read,
            }
        };
        if read == 0 {
            // tar has written the header with the listed size: stop it here.
            self.problem = Some(Problem::Shorter);
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the source file is shorter than listed",
            ));
        }
        self.hasher.update(&buffer[..read]);
        self.remaining -= read as u64;
        Ok(read)
    }
}

/// A writer that counts and hashes what passes through it.
struct Counting<W> {
    inner: W,
    bytes: u64,
    hasher: Sha256,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buffer)?;
        self.bytes += written as u64;
        self.hasher.update(&buffer[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Syncs a folder, so that a rename into it survives a crash.
pub(crate) fn sync_folder(path: &Path) -> io::Result<()> {
    fs::File::open(path)?.sync_all()
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(elapsed) => i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// RFC 3339 in UTC, to the millisecond.
fn rfc3339(time: SystemTime) -> String {
    let time = time::OffsetDateTime::from(time);
    let millisecond = time.millisecond();
    time.replace_millisecond(millisecond)
        .unwrap_or(time)
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a system time formats as RFC 3339")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends `path` as listed, after `change` has run on it.
    fn append_after(change: impl FnOnce(&Path)) -> Result<u64, BackupError> {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("file");
        fs::write(&path, "0123456789").expect("write");
        let mut plan = Plan::default();
        let metadata = fs::metadata(&path).expect("metadata");
        plan.add_file("file".to_owned(), &path, &metadata)
            .expect("list");
        change(&path);
        let mut archive = tar::Builder::new(Vec::new());
        append_entry(&mut archive, &plan.entries[0], 0, Path::new("-"))
    }

    fn outcome(result: Result<u64, BackupError>) -> String {
        match result {
            Ok(bytes) => format!("ok, {bytes} bytes"),
            Err(error) => {
                let text = error.to_string();
                text[text.find("changed").unwrap_or(0)..].to_owned()
            }
        }
    }

    #[test]
    fn a_file_that_changes_between_listing_and_copy_fails_the_backup() {
        let outcomes = [
            outcome(append_after(|_| {})),
            outcome(append_after(|path| {
                fs::write(path, "0123456789abc").expect("grow");
            })),
            outcome(append_after(|path| {
                fs::write(path, "0123").expect("shrink")
            })),
            outcome(append_after(|path| {
                fs::write(path, "9876543210").expect("rewrite");
            })),
            outcome(append_after(|path| fs::remove_file(path).expect("remove"))),
        ];
        expect_test::expect![[r#"
            [
                "ok, 10 bytes",
                "changed while it was being backed up (it grew past the 10 bytes listed); back up folders whose files are replaced whole, not rewritten in place, or stop the writer",
                "changed while it was being backed up (it is shorter than the 10 bytes listed); back up folders whose files are replaced whole, not rewritten in place, or stop the writer",
                "changed while it was being backed up (its content differs from when it was listed); back up folders whose files are replaced whole, not rewritten in place, or stop the writer",
                "changed while it was being backed up (it was removed); back up folders whose files are replaced whole, not rewritten in place, or stop the writer",
            ]
        "#]]
        .assert_debug_eq(&outcomes);
    }
}
