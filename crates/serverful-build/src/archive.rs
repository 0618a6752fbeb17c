//! Code given as a package: a `CodeUri` that names a `.zip` or `.jar` file (a Lambda
//! deployment package, or the jar a Java build made) is unpacked as Lambda unpacks it into
//! `/var/task`, into a folder under the build root named by the package's content hash, and
//! runs from there as it is: nothing is built.

use std::fs;
use std::io::{self, Read};
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
    extract(package, temp.path()).map_err(|error| match error {
        Unpack::Io(source) => BuildError::Io {
            logical_id: request.logical_id.clone(),
            action: format!("unpack {}", package.display()),
            source,
        },
        Unpack::Bad(problem) => bad(problem),
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
enum Unpack {
    Io(io::Error),
    /// The package is not a zip file, or holds an entry that would land outside its folder.
    Bad(String),
}

impl From<io::Error> for Unpack {
    fn from(error: io::Error) -> Unpack {
        Unpack::Io(error)
    }
}

/// Extracts every entry of `package` into `dest`. Files keep their executable bits and are
/// made readable by all (the function runs as another user in the sandbox, and Lambda
/// reads packages the same way); links must stay inside the package.
fn extract(package: &Path, dest: &Path) -> Result<(), Unpack> {
    let file = fs::File::open(package)?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file))
        .map_err(|error| Unpack::Bad(format!("not a zip file: {error}")))?;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|error| Unpack::Bad(format!("entry {index} cannot be read: {error}")))?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(Unpack::Bad(format!(
                "entry {} would land outside the package's folder",
                entry.name().unwrap_or_default()
            )));
        };
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
            let mut target = String::new();
            entry.read_to_string(&mut target)?;
            if !stays_inside(&relative, Path::new(&target)) {
                return Err(Unpack::Bad(format!(
                    "link {} points outside the package ({target})",
                    relative.display()
                )));
            }
            std::os::unix::fs::symlink(&target, &path)?;
            continue;
        }
        let mut out = fs::File::create(&path)?;
        io::copy(&mut entry, &mut out)?;
        let executable = entry.unix_mode().is_some_and(|mode| mode & 0o111 != 0);
        let mode = if executable { 0o755 } else { 0o644 };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Whether a link at `link` (relative to the package root) pointing to `target` resolves
/// inside the package.
fn stays_inside(link: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth = link.components().count().saturating_sub(1);
    for component in target.components() {
        match component {
            Component::ParentDir => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            Component::Normal(_) => depth += 1,
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
                "cannot build Function: {}: link passwd points outside the package (../../etc/passwd)",
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
        assert!(stays_inside(Path::new("a/b/link"), Path::new("../c")));
        assert!(stays_inside(Path::new("a/link"), Path::new("./b/../c")));
        assert!(!stays_inside(Path::new("link"), Path::new("../c")));
        assert!(!stays_inside(Path::new("a/link"), Path::new("../../c")));
        assert!(!stays_inside(Path::new("a/link"), Path::new("/etc/passwd")));
    }
}
