//! Reading a backup: check what it is, stream every entry while checking it against the
//! manifest, and accept it only once the trailer has been read and the stream has ended
//! where the writer ended it. A restore writes into a temporary folder beside the target
//! and renames it into place only after all of that, so the target is either the whole
//! backup or untouched.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use sha2::{Digest as _, Sha256};

use crate::error::RestoreError;
use crate::format::{
    closing_frame, hex, path_problem, EntryKind, Manifest, Trailer, CLOSING_FRAME_LEN,
    CLOSING_MAGIC, FORMAT_NAME, FORMAT_VERSION, MANIFEST_PATH, MAX_MANIFEST_BYTES,
    MAX_TRAILER_BYTES, TRAILER_PATH, ZSTD_MAGIC,
};
use crate::write::sync_folder;

/// What a backup held, once read whole and checked.
#[derive(Debug, Clone)]
pub struct RestoreSummary {
    /// Its manifest.
    pub manifest: Manifest,
    /// The bytes of file content it held.
    pub content_bytes: u64,
}

/// Reads the backup file at `backup` and restores it into `target`, which must not exist
/// or be an empty folder.
pub fn restore_file(backup: &Path, target: &Path) -> Result<RestoreSummary, RestoreError> {
    let file = fs::File::open(backup).map_err(|source| RestoreError::Read {
        path: backup.to_path_buf(),
        source,
    })?;
    restore_from(io::BufReader::with_capacity(1 << 20, file), backup, target)
}

/// Reads a backup from `input` and restores it into `target`, which must not exist or be
/// an empty folder. Nothing appears at `target` unless the whole backup checked out.
pub fn restore(input: impl Read, target: &Path) -> Result<RestoreSummary, RestoreError> {
    restore_from(input, Path::new("-"), target)
}

/// Reads a backup from `input` whole and checks it, writing nothing.
pub fn verify(input: impl Read) -> Result<RestoreSummary, RestoreError> {
    read_backup(input, Path::new("-"), None)
}

fn restore_from(
    input: impl Read,
    input_path: &Path,
    target: &Path,
) -> Result<RestoreSummary, RestoreError> {
    let write_error = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| RestoreError::Write {
            action,
            path,
            source,
        }
    };
    match fs::symlink_metadata(target) {
        Ok(metadata) if metadata.is_dir() => {
            let mut listing =
                fs::read_dir(target).map_err(write_error("list the target folder", target))?;
            if listing.next().is_some() {
                return Err(RestoreError::TargetNotEmpty {
                    path: target.to_path_buf(),
                });
            }
        }
        Ok(_) => {
            return Err(RestoreError::TargetNotFolder {
                path: target.to_path_buf(),
            })
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(write_error("inspect", target)(error)),
    }
    let parent = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(write_error("create", &parent))?;
    let name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Beside the target, so the final rename stays on one file system.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.restoring-"))
        .tempdir_in(&parent)
        .map_err(write_error("create a temporary folder in", &parent))?;
    let summary = read_backup(input, input_path, Some(staging.path()))?;
    fs::set_permissions(
        staging.path(),
        fs::Permissions::from_mode(summary.manifest.root_mode & 0o7777),
    )
    .map_err(write_error("set the mode of", staging.path()))?;
    sync_folder(staging.path()).map_err(write_error("sync", staging.path()))?;
    let staged = staging.keep();
    // rename(2) replaces an empty folder, and fails if something was put into the
    // target meanwhile, in which case the staged copy is removed.
    if let Err(error) = fs::rename(&staged, target) {
        let _ = fs::remove_dir_all(&staged);
        return Err(match error.kind() {
            io::ErrorKind::DirectoryNotEmpty => RestoreError::TargetNotEmpty {
                path: target.to_path_buf(),
            },
            _ => write_error("rename the restored folder into place at", target)(error),
        });
    }
    sync_folder(&parent).map_err(write_error("sync", &parent))?;
    Ok(summary)
}

/// What went wrong underneath tar, as the readers saw it.
#[derive(Debug, Default)]
struct Underneath {
    /// The input itself failed to read.
    input_failed: Cell<bool>,
    /// zstd found its frame cut short.
    frame_incomplete: Cell<bool>,
    /// zstd found bytes that are no valid frame.
    frame_invalid: Cell<bool>,
    /// What the closing frame is checked against.
    closing: RefCell<Closing>,
}

/// The raw input, noting its own read errors and hashing every byte but the last
/// [`CLOSING_FRAME_LEN`], which it keeps: at the end they are the closing frame.
struct Input<R> {
    inner: R,
    underneath: Rc<Underneath>,
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer).inspect_err(|error| {
            if error.kind() != io::ErrorKind::Interrupted {
                self.underneath.input_failed.set(true);
            }
        })?;
        let mut closing = self.underneath.closing.borrow_mut();
        closing.tail.extend_from_slice(&buffer[..read]);
        if closing.tail.len() > CLOSING_FRAME_LEN {
            let passed = closing.tail.len() - CLOSING_FRAME_LEN;
            let Closing { hasher, tail } = &mut *closing;
            hasher.update(&tail[..passed]);
            tail.drain(..passed);
        }
        Ok(read)
    }
}

/// The hash of the input so far, less its last bytes.
#[derive(Debug, Default)]
struct Closing {
    hasher: Sha256,
    tail: Vec<u8>,
}

/// The decompressed stream, noting how zstd failed.
struct Decompressed<R> {
    inner: R,
    underneath: Rc<Underneath>,
}

impl<R: Read> Read for Decompressed<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buffer).inspect_err(|error| {
            if self.underneath.input_failed.get() || error.kind() == io::ErrorKind::Interrupted {
                return;
            }
            if error.kind() == io::ErrorKind::UnexpectedEof {
                self.underneath.frame_incomplete.set(true);
            } else {
                self.underneath.frame_invalid.set(true);
            }
        })
    }
}

/// Reads and checks a whole backup, writing its entries under `destination` if given.
fn read_backup(
    input: impl Read,
    input_path: &Path,
    destination: Option<&Path>,
) -> Result<RestoreSummary, RestoreError> {
    let underneath = Rc::new(Underneath::default());
    let mut input = Input {
        inner: input,
        underneath: underneath.clone(),
    };
    let magic = read_magic(&mut input, input_path)?;
    let decoder = zstd::Decoder::new(io::Cursor::new(magic).chain(input)).map_err(|source| {
        RestoreError::Read {
            path: input_path.to_path_buf(),
            source,
        }
    })?;
    let mut archive = tar::Archive::new(Decompressed {
        inner: decoder,
        underneath: underneath.clone(),
    });
    let failed = |context: String| {
        let underneath = underneath.clone();
        let input_path = input_path.to_path_buf();
        move |error: io::Error| explain(&underneath, &input_path, context, error)
    };

    let mut members = archive
        .entries()
        .map_err(failed("start reading the archive".to_owned()))?;

    // The manifest.
    let first = match members.next() {
        None if underneath.frame_incomplete.get() => {
            return Err(RestoreError::Truncated {
                detail: "it ends before its manifest".to_owned(),
            })
        }
        None => {
            return Err(RestoreError::NotABackup {
                reason: "it is a zstd file holding no tar archive".to_owned(),
            })
        }
        Some(Err(error)) => {
            return Err(
                match explain(
                    &underneath,
                    input_path,
                    "read the manifest".to_owned(),
                    error,
                ) {
                    RestoreError::Corrupt { .. } if !underneath.frame_invalid.get() => {
                        RestoreError::NotABackup {
                            reason: "it is a zstd file, but what it holds is not a tar archive"
                                .to_owned(),
                        }
                    }
                    other => other,
                },
            )
        }
        Some(Ok(member)) => member,
    };
    let first_path = member_path(&first);
    if first_path != MANIFEST_PATH {
        return Err(RestoreError::NotABackup {
            reason: format!(
                "it is a .tar.zst whose first member is {first_path:?}, not {MANIFEST_PATH}"
            ),
        });
    }
    if first.size() > MAX_MANIFEST_BYTES {
        return Err(RestoreError::Corrupt {
            detail: format!("its manifest claims {} bytes", first.size()),
        });
    }
    let mut manifest_bytes = Vec::new();
    let mut first = first;
    first
        .read_to_end(&mut manifest_bytes)
        .map_err(failed("read the manifest".to_owned()))?;
    if (manifest_bytes.len() as u64) < first.size() {
        return Err(RestoreError::Truncated {
            detail: "it ends inside its manifest".to_owned(),
        });
    }
    drop(first);
    let manifest = parse_manifest(&manifest_bytes)?;
    check_manifest(&manifest)?;

    // The entries, in manifest order.
    let mut content_bytes = 0u64;
    let mut directories = Vec::new();
    for (index, entry) in manifest.entries.iter().enumerate() {
        let context = || {
            format!(
                "entry {} of {} ({})",
                index + 1,
                manifest.entries.len(),
                entry.path
            )
        };
        let mut member = match members.next() {
            Some(Ok(member)) => member,
            Some(Err(error)) => return Err(failed(format!("read {}", context()))(error)),
            None => {
                return Err(RestoreError::Truncated {
                    detail: format!("it ends before {}", context()),
                })
            }
        };
        let path = member_path(&member);
        if path != entry.path {
            return Err(RestoreError::Corrupt {
                detail: format!("{} is {path:?} in the archive", context()),
            });
        }
        let header_type = member.header().entry_type();
        let target = destination.map(|root| root.join(&entry.path));
        match &entry.kind {
            EntryKind::Directory { mode } => {
                if header_type != tar::EntryType::Directory {
                    return Err(kind_mismatch(context(), "a folder"));
                }
                if let Some(target) = &target {
                    create_parents(target)?;
                    fs::create_dir(target).map_err(write_error("create", target))?;
                    directories.push((target.clone(), *mode));
                }
            }
            EntryKind::Symlink {
                target: link_target,
            } => {
                let recorded = member
                    .link_name()
                    .map_err(failed(format!("read {}", context())))?
                    .map(|name| name.to_string_lossy().into_owned());
                if header_type != tar::EntryType::Symlink
                    || recorded.as_deref() != Some(link_target.as_str())
                {
                    return Err(kind_mismatch(context(), "a symbolic link"));
                }
                if let Some(target) = &target {
                    create_parents(target)?;
                    std::os::unix::fs::symlink(link_target, target)
                        .map_err(write_error("create the link", target))?;
                }
            }
            EntryKind::File {
                mode,
                size,
                sha256,
                modified,
            } => {
                if header_type != tar::EntryType::Regular {
                    return Err(kind_mismatch(context(), "a file"));
                }
                if member.size() != *size {
                    return Err(RestoreError::Corrupt {
                        detail: format!(
                            "{} has {} bytes in the archive, {size} in the manifest",
                            context(),
                            member.size()
                        ),
                    });
                }
                let mut file = match &target {
                    Some(target) => {
                        create_parents(target)?;
                        // Private until complete; its own mode is set after.
                        let file = fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .mode(0o600)
                            .open(target)
                            .map_err(write_error("create", target))?;
                        Some(file)
                    }
                    None => None,
                };
                let (copied, actual) =
                    copy_hashing(&mut member, file.as_mut()).map_err(|error| match error {
                        CopyError::Read(error) => failed(format!("read {}", context()))(error),
                        CopyError::Write(error) => {
                            write_error("write", target.as_deref().unwrap_or(Path::new("-")))(error)
                        }
                    })?;
                if copied < *size {
                    return Err(RestoreError::Truncated {
                        detail: format!("it ends inside {}", context()),
                    });
                }
                if actual != *sha256 {
                    return Err(RestoreError::ChecksumMismatch {
                        path: entry.path.clone(),
                        expected: sha256.clone(),
                        actual,
                    });
                }
                if let (Some(file), Some(target)) = (file, &target) {
                    let modified = SystemTime::UNIX_EPOCH
                        + Duration::from_secs(u64::try_from(*modified).unwrap_or(0));
                    file.set_modified(modified)
                        .map_err(write_error("set the time of", target))?;
                    file.sync_all().map_err(write_error("sync", target))?;
                    fs::set_permissions(target, fs::Permissions::from_mode(*mode & 0o7777))
                        .map_err(write_error("set the mode of", target))?;
                }
                content_bytes += *size;
            }
        }
    }

    // The trailer: the writer finished, and wrote this manifest.
    let mut trailer_member = match members.next() {
        Some(Ok(member)) => member,
        Some(Err(error)) => return Err(failed("read the trailer".to_owned())(error)),
        None => {
            return Err(RestoreError::Truncated {
                detail: format!(
                    "it ends after all {} entries, before its trailer",
                    manifest.entries.len()
                ),
            })
        }
    };
    let trailer_path = member_path(&trailer_member);
    if trailer_path != TRAILER_PATH || trailer_member.size() > MAX_TRAILER_BYTES {
        return Err(RestoreError::Corrupt {
            detail: format!(
                "after the last entry comes {trailer_path:?}, not the trailer {TRAILER_PATH}"
            ),
        });
    }
    let mut trailer_bytes = Vec::new();
    trailer_member
        .read_to_end(&mut trailer_bytes)
        .map_err(failed("read the trailer".to_owned()))?;
    if (trailer_bytes.len() as u64) < trailer_member.size() {
        return Err(RestoreError::Truncated {
            detail: "it ends inside its trailer".to_owned(),
        });
    }
    drop(trailer_member);
    let trailer: Trailer =
        serde_json::from_slice(&trailer_bytes).map_err(|error| RestoreError::Corrupt {
            detail: format!("its trailer is not valid JSON: {error}"),
        })?;
    let manifest_sha256 = hex(&Sha256::digest(&manifest_bytes));
    if trailer.manifest_sha256 != manifest_sha256
        || trailer.entries != manifest.entries.len() as u64
        || trailer.content_bytes != content_bytes
    {
        return Err(RestoreError::Corrupt {
            detail: "its trailer does not match its manifest".to_owned(),
        });
    }

    // Then the end: tar's end-of-archive blocks, and the frame's end (and checksum).
    match members.next() {
        None => {}
        Some(Err(error)) => return Err(failed("read the end of the archive".to_owned())(error)),
        Some(Ok(member)) => {
            return Err(RestoreError::Corrupt {
                detail: format!("a member follows the trailer: {:?}", member_path(&member)),
            })
        }
    }
    let mut rest = archive.into_inner();
    let mut buffer = vec![0; 64 << 10];
    loop {
        let read = match rest.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Err(explain(
                    &underneath,
                    input_path,
                    "read the end of the backup".to_owned(),
                    error,
                ))
            }
        };
        if buffer[..read].iter().any(|byte| *byte != 0) {
            return Err(RestoreError::Corrupt {
                detail: "data follows the end of the archive".to_owned(),
            });
        }
    }

    // Last, the closing frame: the hash of every byte before it.
    let closing = underneath.closing.borrow();
    if closing.tail.len() < CLOSING_FRAME_LEN || closing.tail[..4] != CLOSING_MAGIC {
        return Err(RestoreError::Truncated {
            detail: "it ends before its closing checksum".to_owned(),
        });
    }
    let digest: [u8; 32] = closing.hasher.clone().finalize().into();
    if closing.tail[..] != closing_frame(&digest)[..] {
        return Err(RestoreError::Corrupt {
            detail: "the checksum of the whole file does not match its bytes".to_owned(),
        });
    }
    drop(closing);

    // Folders get their own modes last (one may be read-only), deepest first; each is
    // synced so the entries created in it are on disk before the rename.
    for (directory, mode) in directories.iter().rev() {
        fs::set_permissions(directory, fs::Permissions::from_mode(*mode & 0o7777))
            .map_err(write_error("set the mode of", directory))?;
        sync_folder(directory).map_err(write_error("sync", directory))?;
    }
    Ok(RestoreSummary {
        manifest,
        content_bytes,
    })
}

/// Reads the first four bytes, which must be zstd's magic number.
fn read_magic(input: &mut impl Read, input_path: &Path) -> Result<[u8; 4], RestoreError> {
    let mut magic = [0u8; 4];
    let mut filled = 0;
    while filled < magic.len() {
        match input.read(&mut magic[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(RestoreError::Read {
                    path: input_path.to_path_buf(),
                    source,
                })
            }
        }
    }
    if magic[..filled] != ZSTD_MAGIC[..filled] {
        return Err(RestoreError::NotABackup {
            reason: "it does not start like a zstd file (a backup is the .tar.zst that \
                     `serverful backup` writes)"
                .to_owned(),
        });
    }
    if filled == 0 {
        return Err(RestoreError::NotABackup {
            reason: "the file is empty".to_owned(),
        });
    }
    if filled < magic.len() {
        return Err(RestoreError::Truncated {
            detail: format!("it is only {filled} bytes long"),
        });
    }
    Ok(magic)
}

/// Turns a read error into what it means, from what the layers underneath saw.
fn explain(
    underneath: &Underneath,
    input_path: &Path,
    context: String,
    error: io::Error,
) -> RestoreError {
    let context = if context.is_empty() {
        String::new()
    } else {
        format!("{context}: ")
    };
    if underneath.input_failed.get() {
        RestoreError::Read {
            path: input_path.to_path_buf(),
            source: error,
        }
    } else if underneath.frame_incomplete.get() {
        RestoreError::Truncated {
            detail: format!("{context}the compressed stream ends early"),
        }
    } else if underneath.frame_invalid.get() {
        RestoreError::Corrupt {
            detail: format!("{context}the compressed stream is invalid ({error})"),
        }
    } else {
        RestoreError::Corrupt {
            detail: format!("{context}the archive inside is invalid ({error})"),
        }
    }
}

/// A member's path as the manifest spells it.
fn member_path<R: Read>(member: &tar::Entry<'_, R>) -> String {
    match member.path() {
        Ok(path) => path.to_string_lossy().trim_end_matches('/').to_owned(),
        Err(_) => String::from("(unreadable path)"),
    }
}

fn kind_mismatch(context: String, expected: &str) -> RestoreError {
    RestoreError::Corrupt {
        detail: format!("{context} is {expected} in the manifest but not in the archive"),
    }
}

fn write_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> RestoreError {
    let path = path.to_path_buf();
    move |source| RestoreError::Write {
        action,
        path,
        source,
    }
}

/// Creates the folders above an entry that no entry of their own creates (a source
/// named `keys/admin` has no `keys` entry), readable like a default data folder.
fn create_parents(target: &Path) -> Result<(), RestoreError> {
    if let Some(parent) = target.parent() {
        if !parent.exists() {
            fs::create_dir_all(parent).map_err(write_error("create", parent))?;
        }
    }
    Ok(())
}

/// Reads the manifest: its format name and version first, so that a newer version is
/// named as such rather than as a field this version does not know.
fn parse_manifest(bytes: &[u8]) -> Result<Manifest, RestoreError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|error| RestoreError::Corrupt {
            detail: format!("its manifest is not valid JSON: {error}"),
        })?;
    if value["format"] != FORMAT_NAME {
        return Err(RestoreError::NotABackup {
            reason: format!(
                "its manifest's format is {}, not {FORMAT_NAME:?}",
                value["format"]
            ),
        });
    }
    let version = value["formatVersion"].as_u64().unwrap_or(0);
    if version > u64::from(FORMAT_VERSION) {
        return Err(RestoreError::NewerFormat {
            found: u32::try_from(version).unwrap_or(u32::MAX),
            supported: FORMAT_VERSION,
            written_by: value["serverfulVersion"]
                .as_str()
                .unwrap_or("(unknown)")
                .to_owned(),
        });
    }
    serde_json::from_value(value).map_err(|error| RestoreError::Corrupt {
        detail: format!("its manifest does not have the expected fields: {error}"),
    })
}

/// Checks the manifest's paths before anything is written: each valid, each once, none
/// under a file or a symbolic link (which could point outside the restored folder).
fn check_manifest(manifest: &Manifest) -> Result<(), RestoreError> {
    let mut seen = HashSet::new();
    let mut not_folders = HashSet::new();
    for entry in &manifest.entries {
        let corrupt = |why: &str| RestoreError::Corrupt {
            detail: format!("its manifest lists {:?}, which {why}", entry.path),
        };
        if let Some(problem) = path_problem(&entry.path) {
            return Err(corrupt(problem));
        }
        if !seen.insert(entry.path.as_str()) {
            return Err(corrupt("appears twice"));
        }
        let mut ancestor = entry.path.as_str();
        while let Some((parent, _)) = ancestor.rsplit_once('/') {
            if not_folders.contains(parent) {
                return Err(corrupt("lies under a file or a symbolic link"));
            }
            ancestor = parent;
        }
        if !matches!(entry.kind, EntryKind::Directory { .. }) {
            not_folders.insert(entry.path.as_str());
        }
    }
    Ok(())
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Copies a member's content into `file` (or nowhere), hashing it.
fn copy_hashing(
    member: &mut impl Read,
    mut file: Option<&mut fs::File>,
) -> Result<(u64, String), CopyError> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 256 << 10];
    let mut copied = 0u64;
    loop {
        let read = match member.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(CopyError::Read(error)),
        };
        hasher.update(&buffer[..read]);
        if let Some(file) = file.as_mut() {
            file.write_all(&buffer[..read]).map_err(CopyError::Write)?;
        }
        copied += read as u64;
    }
    Ok((copied, hex(&hasher.finalize())))
}
