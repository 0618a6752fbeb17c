//! What goes into a backup: the caller's sources, and the list of entries (with their
//! sizes and SHA-256) they expand to, which becomes the manifest.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::error::BackupError;
use crate::format::{hex, path_problem, Entry, EntryKind, SourceKind};

/// One thing to back up, and the path it gets in the restored folder.
#[derive(Debug, Clone)]
pub struct BackupSource {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) kind: SourceKind,
    pub(crate) excluded_prefixes: Vec<String>,
}

impl BackupSource {
    /// A SQLite database, copied consistently through SQLite's online backup API while
    /// its writers keep writing (see the crate documentation for what the copy holds).
    /// Its `-wal` and `-shm` files are not entries: the copy is a whole database.
    pub fn sqlite(name: impl Into<String>, path: impl Into<PathBuf>) -> BackupSource {
        BackupSource::new(name, path, SourceKind::Sqlite)
    }

    /// A folder and everything in it, file by file, symbolic links as links. Meant for
    /// content that is replaced whole rather than rewritten in place (content-addressed
    /// builds, code folders, keys): a file that changes while it is copied fails the
    /// backup rather than going in torn.
    pub fn folder(name: impl Into<String>, path: impl Into<PathBuf>) -> BackupSource {
        BackupSource::new(name, path, SourceKind::Folder)
    }

    /// One regular file (a key file), under the same rule as [`BackupSource::folder`].
    pub fn file(name: impl Into<String>, path: impl Into<PathBuf>) -> BackupSource {
        BackupSource::new(name, path, SourceKind::File)
    }

    fn new(name: impl Into<String>, path: impl Into<PathBuf>, kind: SourceKind) -> BackupSource {
        BackupSource {
            name: name.into(),
            path: path.into(),
            kind,
            excluded_prefixes: Vec::new(),
        }
    }

    /// Leaves out, at any depth of a folder, entries whose name starts with `prefix`: the
    /// work in progress of an owner that writes aside and renames into place.
    pub fn excluding_names_starting_with(mut self, prefix: impl Into<String>) -> BackupSource {
        self.excluded_prefixes.push(prefix.into());
        self
    }

    /// Its path in the restored folder.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its path on disk.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How it is copied.
    pub fn kind(&self) -> SourceKind {
        self.kind
    }
}

/// Checks that every name is a usable path and that no two sources overlap.
pub(crate) fn check_names(sources: &[BackupSource]) -> Result<(), BackupError> {
    for source in sources {
        if let Some(reason) = path_problem(&source.name) {
            return Err(BackupError::InvalidName {
                name: source.name.clone(),
                reason,
            });
        }
    }
    for (index, first) in sources.iter().enumerate() {
        for second in &sources[index + 1..] {
            let inside = |outer: &str, inner: &str| {
                inner == outer
                    || inner
                        .strip_prefix(outer)
                        .is_some_and(|rest| rest.starts_with('/'))
            };
            if inside(&first.name, &second.name) || inside(&second.name, &first.name) {
                return Err(BackupError::Overlap {
                    first: first.name.clone(),
                    second: second.name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// An entry to write, and where its content comes from.
#[derive(Debug)]
pub(crate) struct Planned {
    pub entry: Entry,
    /// The file to stream, for a file entry.
    pub content: Option<PathBuf>,
}

/// What listing the sources found.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub entries: Vec<Planned>,
    /// Sockets, pipes and devices found in folders: endpoints of running processes, not
    /// data, so they are left out.
    pub skipped: Vec<PathBuf>,
}

impl Plan {
    /// Adds a file entry for `path` (read from `content`, with `metadata`'s mode and time).
    pub(crate) fn add_file(
        &mut self,
        name: String,
        content: &Path,
        metadata: &fs::Metadata,
    ) -> Result<(), BackupError> {
        let (size, sha256) = hash_file(content)?;
        self.entries.push(Planned {
            entry: Entry {
                path: name,
                kind: EntryKind::File {
                    mode: metadata.permissions().mode() & 0o7777,
                    size,
                    sha256,
                    modified: metadata.mtime(),
                },
            },
            content: Some(content.to_path_buf()),
        });
        Ok(())
    }

    /// Adds `folder` (already known to be one) and everything under it as `name`.
    pub(crate) fn add_folder(
        &mut self,
        name: String,
        folder: &Path,
        metadata: &fs::Metadata,
        excluded_prefixes: &[String],
    ) -> Result<(), BackupError> {
        self.entries.push(Planned {
            entry: Entry {
                path: name.clone(),
                kind: EntryKind::Directory {
                    mode: metadata.permissions().mode() & 0o7777,
                },
            },
            content: None,
        });
        let listing = fs::read_dir(folder).map_err(|source| BackupError::Source {
            action: "list",
            path: folder.to_path_buf(),
            source,
        })?;
        let mut children = Vec::new();
        for child in listing {
            let child = child.map_err(|source| BackupError::Source {
                action: "list",
                path: folder.to_path_buf(),
                source,
            })?;
            children.push(child.file_name());
        }
        // A stable order, so two backups of the same folder list it alike.
        children.sort();
        for child in children {
            let path = folder.join(&child);
            let Some(child) = child.to_str() else {
                return Err(BackupError::NonUtf8Path { path });
            };
            if excluded_prefixes
                .iter()
                .any(|prefix| child.starts_with(prefix.as_str()))
            {
                continue;
            }
            let metadata = match fs::symlink_metadata(&path) {
                Ok(metadata) => metadata,
                // Gone since the listing: something published by rename replaced it, or
                // an owner removed it; it is not part of this backup either way.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(BackupError::Source {
                        action: "inspect",
                        path,
                        source,
                    })
                }
            };
            let child_name = format!("{name}/{child}");
            let file_type = metadata.file_type();
            if file_type.is_dir() {
                self.add_folder(child_name, &path, &metadata, excluded_prefixes)?;
            } else if file_type.is_file() {
                self.add_file(child_name, &path, &metadata)?;
            } else if file_type.is_symlink() {
                let target = fs::read_link(&path).map_err(|source| BackupError::Source {
                    action: "read the link",
                    path: path.clone(),
                    source,
                })?;
                let Some(target) = target.to_str() else {
                    return Err(BackupError::NonUtf8Path { path: target });
                };
                self.entries.push(Planned {
                    entry: Entry {
                        path: child_name,
                        kind: EntryKind::Symlink {
                            target: target.to_owned(),
                        },
                    },
                    content: None,
                });
            } else {
                self.skipped.push(path);
            }
        }
        Ok(())
    }
}

/// The size and SHA-256 of a file's content, read once.
fn hash_file(path: &Path) -> Result<(u64, String), BackupError> {
    let read_error = |source| BackupError::Source {
        action: "read",
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs::File::open(path).map_err(read_error)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 256 << 10];
    let mut size = 0u64;
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(read_error(error)),
        };
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok((size, hex(&hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_sources_are_refused() {
        let sources = |names: &[&str]| -> Vec<BackupSource> {
            names
                .iter()
                .map(|name| BackupSource::folder(*name, "/nowhere"))
                .collect()
        };
        let outcome = |names: &[&str]| match check_names(&sources(names)) {
            Ok(()) => "ok".to_owned(),
            Err(error) => error.to_string(),
        };
        assert_eq!(outcome(&["build", "builds", "keys/a"]), "ok");
        assert_eq!(
            outcome(&["build", "build/Fn"]),
            r#"backup sources "build" and "build/Fn" overlap: give each path once"#
        );
        assert_eq!(
            outcome(&["a", "b", "a"]),
            r#"backup sources "a" and "a" overlap: give each path once"#
        );
        assert_eq!(
            outcome(&["../etc"]),
            r#"backup source name "../etc" cannot be used: it has a `.` or `..` component"#
        );
    }
}
