//! The build cache key: a SHA-256 over what a build depends on (runtime, build method with
//! its properties and architecture, and every source file's path, mode and contents).

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::files::{Entry, EntryKind};

/// Bumped when the build steps change, so builds made by an older Serverful are redone.
const BUILD_FORMAT: &str = "serverful-build 2";

/// Hex characters of the hash used as the build folder's name: 64 bits, plenty to tell
/// one function's builds apart.
pub(crate) const PREFIX_LEN: usize = 16;

/// Hashes the inputs of one build. Every field is length-prefixed so that no two
/// different inputs can produce the same byte stream.
pub(crate) fn content_hash(
    root: &Path,
    entries: &[Entry],
    runtime: &str,
    method: &str,
) -> io::Result<String> {
    let mut hasher = Sha256::new();
    field(&mut hasher, BUILD_FORMAT.as_bytes());
    field(&mut hasher, runtime.as_bytes());
    field(&mut hasher, method.as_bytes());
    hash_entries(&mut hasher, root, entries)?;
    Ok(hex(&hasher.finalize()))
}

/// Feeds every listed entry under `root` to `hasher`: its path, its kind, and a link's
/// target or a file's executable bit, length and contents (streamed). Modes other than
/// the executable bit, owners and times are left out, so a copy hashes like its original.
pub(crate) fn hash_entries(hasher: &mut Sha256, root: &Path, entries: &[Entry]) -> io::Result<()> {
    for entry in entries {
        let path = root.join(&entry.relative);
        field(hasher, entry.relative.to_string_lossy().as_bytes());
        match entry.kind {
            EntryKind::Dir => field(hasher, b"dir"),
            EntryKind::Symlink => {
                field(hasher, b"symlink");
                field(hasher, fs::read_link(&path)?.to_string_lossy().as_bytes());
            }
            EntryKind::File => {
                // The executable bit matters: a `bootstrap` or build script that loses it
                // builds or runs differently.
                field(
                    hasher,
                    if is_executable(&fs::metadata(&path)?) {
                        b"exec"
                    } else {
                        b"file"
                    },
                );
                let mut file = fs::File::open(&path)?;
                let length = file.metadata()?.len();
                hasher.update(length.to_le_bytes());
                feed(hasher, &mut file)?;
            }
        }
    }
    Ok(())
}

/// A digest as lowercase hex.
pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Feeds `bytes` to `hasher` after its length, so that no two different sequences of
/// fields produce the same byte stream.
pub(crate) fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

#[cfg(unix)]
fn is_executable(metadata: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_metadata: &fs::Metadata) -> bool {
    false
}

/// Feeds what `reader` holds to `hasher`, streamed, so that large files never sit in
/// memory whole.
pub(crate) fn feed(hasher: &mut Sha256, reader: &mut impl Read) -> io::Result<()> {
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        let n_read = reader.read(&mut buffer)?;
        if n_read == 0 {
            return Ok(());
        }
        hasher.update(&buffer[..n_read]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::list_sources;

    fn hash_of(root: &Path, runtime: &str) -> String {
        let entries = list_sources(root, &crate::files::Skip::default()).expect("list sources");
        content_hash(root, &entries, runtime, "pip").expect("hash")
    }

    #[test]
    fn hash_follows_contents_paths_and_runtime_but_not_skipped_folders() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("app.py"), "print(1)").expect("write");
        let first = hash_of(dir.path(), "python3.12");
        assert_eq!(first.len(), 64);
        assert_eq!(hash_of(dir.path(), "python3.12"), first, "stable");
        assert_ne!(
            hash_of(dir.path(), "python3.11"),
            first,
            "runtime is part of the key"
        );

        fs::create_dir(dir.path().join("__pycache__")).expect("mkdir");
        fs::write(dir.path().join("__pycache__/app.pyc"), "x").expect("write");
        assert_eq!(
            hash_of(dir.path(), "python3.12"),
            first,
            "caches are ignored"
        );

        fs::write(dir.path().join("app.py"), "print(2)").expect("write");
        let edited = hash_of(dir.path(), "python3.12");
        assert_ne!(edited, first, "contents are part of the key");

        fs::rename(dir.path().join("app.py"), dir.path().join("main.py")).expect("rename");
        assert_ne!(
            hash_of(dir.path(), "python3.12"),
            edited,
            "paths are part of the key"
        );
    }
}
