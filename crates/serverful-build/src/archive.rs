//! Code given as a package: a `CodeUri` that names a `.zip` or `.jar` file (a Lambda
//! deployment package, or the jar a Java build made) is unpacked as Lambda unpacks it into
//! `/var/task`, into a folder under the build root named by the package's content hash, and
//! runs from there as it is: nothing is built. Its extractor, which never writes outside
//! the folder it unpacks into, is shared with deploy sources (`crate::source`).

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::files::{self, TempGuard};
use crate::{BuildError, BuildEvent, BuildRequest};

/// Bumped when unpacking changes, so folders unpacked by an older Serverful are redone.
const UNPACK_FORMAT: &str = "serverful-unpack 1";

/// Whether `path` names a package Lambda would unpack.
fn is_package(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| ext.eq_ignore_ascii_case("zip") || ext.eq_ignore_ascii_case("jar"))
}

/// Unpacks the request's package (its `code_dir` is a file) into
/// `build_root/<LogicalId>/<hash>/`, unless that folder exists; returns it and whether it
/// was reused.
pub(crate) fn unpack(
    request: &BuildRequest,
    build_root: &Path,
    on_event: &mut dyn FnMut(BuildEvent<'_>),
) -> Result<(PathBuf, bool), BuildError> {
    let package = &request.code_dir;
    let bad = |problem: String| BuildError::BadPackage {
        logical_id: request.logical_id.clone(),
        path: package.clone(),
        problem,
    };
    if !is_package(package) {
        return Err(bad(
            "CodeUri names a file, but only a folder or a .zip or .jar package can be run; point CodeUri at the function's folder or package".to_owned(),
        ));
    }
    let io_error = |action: String| {
        move |source| BuildError::Io {
            logical_id: request.logical_id.clone(),
            action,
            source,
        }
    };
    let hash = package_hash(package).map_err(io_error(format!("read {}", package.display())))?;
    let function_dir = build_root.join(&request.logical_id);
    let target = function_dir.join(&hash);
    if target.is_dir() {
        files::touch(&target);
        return Ok((target, true));
    }
    fs::create_dir_all(&function_dir)
        .map_err(io_error(format!("create {}", function_dir.display())))?;
    let name = package
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    on_event(BuildEvent::Started {
        logical_id: &request.logical_id,
        what: &format!("unpacking {name}"),
    });
    let temp = TempGuard::new(files::temp_path(&function_dir, "unpack"));
    fs::create_dir(temp.path()).map_err(io_error(format!("create {}", temp.path().display())))?;
    // No size limit: the package is the app's own file, not something a client sent.
    extract(package, temp.path(), u64::MAX).map_err(|error| match error {
        Unpack::Io(source) => BuildError::Io {
            logical_id: request.logical_id.clone(),
            action: format!("unpack {}", package.display()),
            source,
        },
        problem => bad(problem.to_string()),
    })?;
    files::publish(temp, &target).map_err(io_error(format!(
        "move the unpacked package into {}",
        target.display()
    )))?;
    files::touch(&target);
    files::prune(&function_dir, &target, crate::BUILDS_KEPT);
    Ok((target, false))
}

/// The package's content hash, as a folder name.
fn package_hash(package: &Path) -> io::Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(UNPACK_FORMAT.as_bytes());
    crate::hash::feed(&mut hasher, &mut fs::File::open(package)?)?;
    let digest = hasher.finalize();
    Ok(digest[..crate::hash::PREFIX_LEN / 2]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

/// Why unpacking failed.
#[derive(Debug)]
pub(crate) enum Unpack {
    /// Writing the unpacked files failed (the disk, not the archive).
    Io(io::Error),
    /// The file is not a zip archive. `truncated` when it starts like one: a download or
    /// copy that stopped early.
    NotZip { truncated: bool, detail: String },
    /// An entry's data or name cannot be read: the archive is corrupt.
    Damaged { entry: String, detail: String },
    /// An entry would land outside the folder it is unpacked into, or a link would point
    /// out of it; `reason` completes "entry NAME ...".
    Unsafe { entry: String, reason: String },
    /// The files unpack to more than the caller allows (a zip bomb, or the wrong file).
    TooLarge { limit: u64 },
}

impl From<io::Error> for Unpack {
    fn from(error: io::Error) -> Unpack {
        Unpack::Io(error)
    }
}

impl std::fmt::Display for Unpack {
    /// What is wrong with the archive, as a phrase that follows its path and a colon.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unpack::Io(error) => write!(f, "{error}"),
            Unpack::NotZip {
                truncated: false,
                detail,
            } => write!(f, "not a zip file ({detail})"),
            Unpack::NotZip {
                truncated: true,
                detail,
            } => write!(
                f,
                "a truncated or damaged zip file: it starts like one, but {detail}; copy or download it again"
            ),
            Unpack::Damaged { entry, detail } => write!(
                f,
                "entry {entry} cannot be read ({detail}); the zip file is damaged or truncated"
            ),
            Unpack::Unsafe { entry, reason } => write!(f, "entry {entry} {reason}"),
            Unpack::TooLarge { limit } => {
                write!(f, "its files unpack to more than {limit} bytes")
            }
        }
    }
}

/// The longest link target accepted: far beyond any real one, short enough to read whole.
const MAX_LINK_TARGET: u64 = 4096;

/// Extracts every entry of `package` into the existing folder `dest`, streamed (no entry
/// is held in memory), writing at most `max_bytes` of file data. Files keep their
/// executable bits and are made readable by all (the function runs as another user in the
/// sandbox, and Lambda reads packages the same way).
///
/// Nothing is ever written outside `dest`: every name is checked before the first byte
/// is written (an absolute name or one with a `..` component is refused, never quietly
/// rewritten), a link must point inside by [`link_stays_inside`]'s rule, no entry is
/// written under a path that is a link (a link `a -> ..` followed by an entry `a/x` would
/// otherwise land beside `dest`), and files are created new, never opened through an
/// existing link. On error, what was written stays in `dest` for the caller to remove.
pub(crate) fn extract(package: &Path, dest: &Path, max_bytes: u64) -> Result<(), Unpack> {
    let file = fs::File::open(package)?;
    let mut archive = match zip::ZipArchive::new(io::BufReader::new(file)) {
        Ok(archive) => archive,
        Err(error) => {
            return Err(Unpack::NotZip {
                truncated: starts_like_a_zip(package),
                detail: error.to_string(),
            })
        }
    };
    // Every name first, so that a package with one bad name writes nothing at all.
    let mut paths = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let name = match archive.name_for_index(index) {
            Some(Ok(name)) => name.into_owned(),
            Some(Err(error)) => {
                return Err(Unpack::Damaged {
                    entry: format!("number {}", index + 1),
                    detail: error.to_string(),
                })
            }
            None => break,
        };
        let relative = entry_path(&name).map_err(|reason| Unpack::Unsafe {
            entry: name.clone(),
            reason: reason.to_owned(),
        })?;
        paths.push((name, relative));
    }
    let mut written: u64 = 0;
    for (index, (name, relative)) in paths.into_iter().enumerate() {
        if relative.as_os_str().is_empty() {
            // `./`: the root itself.
            continue;
        }
        let damaged = |error: &dyn std::fmt::Display| Unpack::Damaged {
            entry: name.clone(),
            detail: error.to_string(),
        };
        let mut entry = archive.by_index(index).map_err(|error| damaged(&error))?;
        check_no_link_on_the_way(dest, &relative, &name)?;
        let path = dest.join(&relative);
        if entry.is_dir() {
            fs::create_dir_all(&path)?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        if entry.is_symlink() {
            if entry.size() > MAX_LINK_TARGET {
                return Err(Unpack::Unsafe {
                    entry: name,
                    reason: "is a link with an impossibly long target".to_owned(),
                });
            }
            let mut target = String::new();
            entry
                .read_to_string(&mut target)
                .map_err(|error| damaged(&error))?;
            if !link_stays_inside(&relative, Path::new(&target)) {
                return Err(Unpack::Unsafe {
                    entry: name,
                    reason: format!("is a link to {target}, outside the archive"),
                });
            }
            std::os::unix::fs::symlink(&target, &path).map_err(|error| {
                if error.kind() == io::ErrorKind::AlreadyExists {
                    twice(&name)
                } else {
                    Unpack::Io(error)
                }
            })?;
            continue;
        }
        // `create_new` fails on an existing name, a link included, so a file is never
        // written through a link an earlier entry made.
        let mut out = match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(out) => out,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Err(twice(&name)),
            Err(error) => return Err(Unpack::Io(error)),
        };
        let mut buffer = vec![0_u8; 64 * 1024];
        loop {
            let n_read = entry.read(&mut buffer).map_err(|error| damaged(&error))?;
            if n_read == 0 {
                break;
            }
            written += n_read as u64;
            if written > max_bytes {
                return Err(Unpack::TooLarge { limit: max_bytes });
            }
            out.write_all(&buffer[..n_read])?;
        }
        let executable = entry.unix_mode().is_some_and(|mode| mode & 0o111 != 0);
        let mode = if executable { 0o755 } else { 0o644 };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

fn twice(name: &str) -> Unpack {
    Unpack::Unsafe {
        entry: name.to_owned(),
        reason: "appears twice in the archive".to_owned(),
    }
}

/// Whether the file starts with a zip entry's signature (or an empty archive's), so that a
/// truncated zip gets a more useful message than "not a zip".
fn starts_like_a_zip(path: &Path) -> bool {
    let mut magic = [0_u8; 4];
    fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .is_ok_and(|()| magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06")
}

/// The path an entry named `name` is written to, relative to the destination; an empty
/// path for the root itself. Both `/` and `\` separate components (zips made on Windows
/// use either), and the name is refused rather than rewritten when it is absolute or
/// climbs with `..`: an archive that tries either is broken or hostile.
fn entry_path(name: &str) -> Result<PathBuf, &'static str> {
    if name.contains('\0') {
        return Err("has a NUL character in its name");
    }
    let has_drive =
        name.len() >= 2 && name.as_bytes()[0].is_ascii_alphabetic() && name.as_bytes()[1] == b':';
    if name.starts_with(['/', '\\']) || has_drive {
        return Err(
            "has an absolute path, which would place it outside the folder it is unpacked into",
        );
    }
    let mut path = PathBuf::new();
    for component in name.split(['/', '\\']) {
        match component {
            "" | "." => {}
            ".." => return Err(
                "has a `..` component, which would place it outside the folder it is unpacked into",
            ),
            normal => path.push(normal),
        }
    }
    Ok(path)
}

/// Refuses an entry whose path, or any folder on the way to it, is already a link.
fn check_no_link_on_the_way(dest: &Path, relative: &Path, name: &str) -> Result<(), Unpack> {
    let mut path = dest.to_path_buf();
    let mut so_far = PathBuf::new();
    for component in relative.components() {
        path.push(component);
        so_far.push(component);
        match fs::symlink_metadata(&path) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                return Err(if so_far == relative {
                    twice(name)
                } else {
                    Unpack::Unsafe {
                        entry: name.to_owned(),
                        reason: format!(
                            "lies under the link {}, and nothing is written through a link",
                            so_far.display()
                        ),
                    }
                });
            }
            Ok(_) => {}
            // Nothing further down exists yet.
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// Whether a link at `link` (relative to the archive's or app's root) pointing to `target`
/// resolves inside that root. The target must be relative, and may climb with `..` only
/// at its start: then, provided no folder above the link is itself a link (which the
/// extractor ensures, and a listing that never follows links gives), climbing is counted
/// exactly, and every later step goes down (through links that obey the same rule). A
/// `..` after a name (`a/../..`) could climb out of wherever a link `a` leads, so it is
/// refused even when it looks harmless.
pub(crate) fn link_stays_inside(link: &Path, target: &Path) -> bool {
    if target.as_os_str().is_empty() {
        return false;
    }
    let mut depth = link.components().count().saturating_sub(1);
    let mut descending = false;
    for component in target.components() {
        match component {
            Component::ParentDir if !descending => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            Component::ParentDir => return false,
            Component::Normal(_) => descending = true,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn request(code: &Path) -> BuildRequest {
        BuildRequest::new("Function", "java21", code)
    }

    /// A zip with the given entries: (name, contents, Unix mode); a name ending in `/` is
    /// a folder, a mode of `0o120777` a link whose contents are its target.
    fn write_zip(path: &Path, entries: &[(&str, &str, u32)]) {
        let mut writer = zip::ZipWriter::new(fs::File::create(path).expect("create zip"));
        for (name, contents, mode) in entries {
            let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
            if name.ends_with('/') {
                writer.add_directory(*name, options).expect("folder");
            } else if mode & 0o170000 == 0o120000 {
                writer.add_symlink(*name, *contents, options).expect("link");
            } else {
                writer.start_file(*name, options).expect("file");
                writer.write_all(contents.as_bytes()).expect("write");
            }
        }
        writer.finish().expect("finish zip");
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn a_package_is_unpacked_once_with_readable_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let package = dir.path().join("app.jar");
        write_zip(
            &package,
            &[
                ("example/", "", 0o700),
                ("example/Hello.class", "class bytes", 0o600),
                ("lib/dep.jar", "jar bytes", 0o644),
                ("bootstrap", "#!/bin/sh\n", 0o700),
                ("latest.jar", "lib/dep.jar", 0o120777),
            ],
        );
        let build_root = dir.path().join("build");
        let mut events = Vec::new();
        let (unpacked, cached) = unpack(&request(&package), &build_root, &mut |event| {
            events.push(format!("{event:?}"))
        })
        .expect("unpacked");
        assert!(!cached);
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(events[0].contains("unpacking app.jar"), "{events:?}");
        assert!(unpacked.starts_with(build_root.join("Function")));
        assert_eq!(
            fs::read_to_string(unpacked.join("example/Hello.class")).expect("read"),
            "class bytes"
        );
        assert_eq!(mode(&unpacked.join("example")), 0o755);
        assert_eq!(mode(&unpacked.join("example/Hello.class")), 0o644);
        assert_eq!(mode(&unpacked.join("bootstrap")), 0o755);
        assert_eq!(
            fs::read_link(unpacked.join("latest.jar")).expect("a link"),
            Path::new("lib/dep.jar")
        );
        // The same package again: nothing is unpacked.
        let (again, cached) = unpack(&request(&package), &build_root, &mut |_| {}).expect("again");
        assert_eq!(again, unpacked);
        assert!(cached);
    }

    #[test]
    fn a_package_cannot_reach_outside_its_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let build_root = dir.path().join("build");
        let escaping_link = dir.path().join("link.zip");
        write_zip(&escaping_link, &[("passwd", "../../etc/passwd", 0o120777)]);
        let error = unpack(&request(&escaping_link), &build_root, &mut |_| {})
            .expect_err("refused")
            .to_string();
        assert_eq!(
            error,
            format!(
                "cannot build Function: {}: entry passwd is a link to ../../etc/passwd, outside the archive",
                escaping_link.display()
            )
        );
        let not_zip = dir.path().join("broken.zip");
        fs::write(&not_zip, "not a zip").expect("write");
        let error = unpack(&request(&not_zip), &build_root, &mut |_| {})
            .expect_err("refused")
            .to_string();
        assert!(error.contains("broken.zip: not a zip file"), "{error}");
        let text = dir.path().join("handler.py");
        fs::write(&text, "").expect("write");
        let error = unpack(&request(&text), &build_root, &mut |_| {})
            .expect_err("refused")
            .to_string();
        assert!(
            error.ends_with("handler.py: CodeUri names a file, but only a folder or a .zip or .jar package can be run; point CodeUri at the function's folder or package"),
            "{error}"
        );
        // Nothing was left behind by the failures.
        let leftovers: Vec<_> = fs::read_dir(build_root.join("Function"))
            .map(|entries| entries.flatten().map(|entry| entry.file_name()).collect())
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn links_are_judged_from_where_they_lie() {
        assert!(link_stays_inside(Path::new("a/b/link"), Path::new("../c")));
        assert!(link_stays_inside(Path::new("a/link"), Path::new("./b/c")));
        assert!(link_stays_inside(
            Path::new("a/b/link"),
            Path::new("../../c/d")
        ));
        assert!(!link_stays_inside(Path::new("link"), Path::new("../c")));
        assert!(!link_stays_inside(
            Path::new("a/link"),
            Path::new("../../c")
        ));
        assert!(!link_stays_inside(
            Path::new("a/link"),
            Path::new("/etc/passwd")
        ));
        assert!(!link_stays_inside(Path::new("link"), Path::new("")));
        // A climb after a name may climb out of wherever that name leads, if it is a link.
        assert!(!link_stays_inside(
            Path::new("a/link"),
            Path::new("./b/../c")
        ));
    }

    #[test]
    fn entry_names_are_refused_rather_than_rewritten() {
        assert_eq!(entry_path("a/b.py"), Ok(PathBuf::from("a/b.py")));
        assert_eq!(entry_path("./a//b.py"), Ok(PathBuf::from("a/b.py")));
        assert_eq!(entry_path("a\\b.py"), Ok(PathBuf::from("a/b.py")));
        assert_eq!(entry_path("./"), Ok(PathBuf::new()));
        for name in [
            "/etc/passwd",
            "\\etc\\passwd",
            "C:/x",
            "../x",
            "a/../../x",
            "a/../b",
            "a\\..\\x",
            "a\0b",
        ] {
            assert!(entry_path(name).is_err(), "{name}");
        }
    }

    #[test]
    fn nothing_is_written_through_a_link_an_earlier_entry_made() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("out/dest");
        fs::create_dir_all(&dest).expect("mkdir");
        // `a/up` points at `dest` itself (allowed), so `a/up/x/y` lexically sits three
        // levels down but really one: its link `../../..` would reach beside `dest`, and
        // a file under it, outside.
        let package = dir.path().join("chain.zip");
        write_zip(
            &package,
            &[
                ("a/", "", 0o755),
                ("a/up", "..", 0o120777),
                ("a/up/x/y", "../../..", 0o120777),
                ("a/up/x/y/escaped", "outside", 0o644),
            ],
        );
        match extract(&package, &dest, u64::MAX) {
            Err(Unpack::Unsafe { entry, reason }) => {
                assert_eq!(entry, "a/up/x/y");
                assert_eq!(
                    reason,
                    "lies under the link a/up, and nothing is written through a link"
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(!dir.path().join("out/escaped").exists());
        assert!(!dest.join("x").exists());
    }

    #[test]
    fn unpacking_stops_at_the_size_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let package = dir.path().join("big.zip");
        let big = "x".repeat(100_000);
        write_zip(
            &package,
            &[("a", big.as_str(), 0o644), ("b", big.as_str(), 0o644)],
        );
        let dest = dir.path().join("dest");
        fs::create_dir(&dest).expect("mkdir");
        assert!(matches!(
            extract(&package, &dest, 150_000),
            Err(Unpack::TooLarge { limit: 150_000 })
        ));
        let dest = dir.path().join("dest2");
        fs::create_dir(&dest).expect("mkdir");
        extract(&package, &dest, 200_000).expect("exactly at the limit");
    }
}
