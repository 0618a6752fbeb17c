//! The file-system side of builds: walking a source folder with the skip rules, copying it,
//! publishing a finished folder atomically and pruning old builds.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Names never hashed or copied, at any depth: installed dependencies, caches, VCS data and
/// other tools' build output. Dependencies are skipped because the build installs them
/// itself; hashing them would make every `npm install` in the source look like an edit.
pub(crate) const SKIPPED_NAMES: &[&str] = &[
    "node_modules",
    ".serverful",
    "__pycache__",
    ".git",
    ".aws-sam",
];

/// Temporary and trash entries older than this are leftovers of an interrupted run, never
/// a build still in progress.
const STALE_AFTER: Duration = Duration::from_secs(60 * 60);

/// What a source entry is; symbolic links are kept as links, never followed, so a link
/// pointing outside the code folder cannot pull arbitrary files into the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Dir,
    File,
    Symlink,
}

/// One entry under a source folder.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Path relative to the source root.
    pub(crate) relative: PathBuf,
    pub(crate) kind: EntryKind,
}

/// What [`list_sources`] leaves out besides [`SKIPPED_NAMES`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Skip {
    /// Folders outside the sources: the build root and the SDK cache. With `CodeUri: .`
    /// and the data folder inside the app, the build output would otherwise be part of
    /// its own input.
    pub(crate) excluded: Vec<PathBuf>,
    /// Leave out a `target` folder beside a `Cargo.toml`: cargo's own output, which can
    /// hold gigabytes and is never an input of a Rust build.
    pub(crate) cargo_output: bool,
}

/// Lists `root` depth-first in name order (so the listing, and the hash over it, is
/// deterministic), skipping [`SKIPPED_NAMES`] and what `skip` names.
pub(crate) fn list_sources(root: &Path, skip: &Skip) -> io::Result<Vec<Entry>> {
    walk_listing(root, skip, SKIPPED_NAMES)
}

/// Like [`list_sources`], skipping the names in `skipped` instead of [`SKIPPED_NAMES`]: a
/// layer used as it is keeps its `node_modules`, which is where its Node.js modules are.
pub(crate) fn list_skipping(
    root: &Path,
    excluded: &[PathBuf],
    skipped: &[&str],
) -> io::Result<Vec<Entry>> {
    let skip = Skip {
        excluded: excluded.to_vec(),
        cargo_output: false,
    };
    walk_listing(root, &skip, skipped)
}

fn walk_listing(root: &Path, skip: &Skip, skipped: &[&str]) -> io::Result<Vec<Entry>> {
    // Walking from the canonical root without following links keeps every visited path
    // canonical, so comparing with the canonical excluded folders is exact.
    let root = root.canonicalize()?;
    let skip = Skip {
        excluded: skip
            .excluded
            .iter()
            .filter_map(|path| path.canonicalize().ok())
            .collect(),
        cargo_output: skip.cargo_output,
    };
    let mut entries = Vec::new();
    walk(&root, Path::new(""), &skip, skipped, &mut entries)?;
    Ok(entries)
}

fn walk(
    root: &Path,
    relative: &Path,
    skip: &Skip,
    skipped: &[&str],
    entries: &mut Vec<Entry>,
) -> io::Result<()> {
    let excluded = &skip.excluded;
    let dir = root.join(relative);
    let skips_cargo_target = skip.cargo_output && dir.join("Cargo.toml").is_file();
    let mut children = Vec::new();
    for child in fs::read_dir(&dir)? {
        let child = child?;
        let name = child.file_name();
        if skipped.iter().any(|skipped| OsStr::new(skipped) == name) {
            continue;
        }
        if skips_cargo_target && name == "target" {
            continue;
        }
        children.push((name, child.file_type()?));
    }
    children.sort_by(|(a, _), (b, _)| a.cmp(b));
    for (name, file_type) in children {
        let child_relative = relative.join(&name);
        if file_type.is_symlink() {
            entries.push(Entry {
                relative: child_relative,
                kind: EntryKind::Symlink,
            });
        } else if file_type.is_dir() {
            let absolute = root.join(&child_relative);
            if excluded.contains(&absolute) {
                continue;
            }
            let position = entries.len();
            entries.push(Entry {
                relative: child_relative.clone(),
                kind: EntryKind::Dir,
            });
            walk(root, &child_relative, skip, skipped, entries)?;
            // A folder holding nothing but an excluded one (`data/` around `data/build`)
            // is left out too: it exists only once the first build has run, and must not
            // change the hash of the second.
            let holds_only_excluded = entries.len() == position + 1
                && excluded.iter().any(|path| path.starts_with(&absolute));
            if holds_only_excluded {
                entries.truncate(position);
            }
        } else if file_type.is_file() {
            entries.push(Entry {
                relative: child_relative,
                kind: EntryKind::File,
            });
        }
        // Sockets, FIFOs and devices are not code; leaving them out keeps copies safe.
    }
    Ok(())
}

/// Copies the listed entries from `source` into the existing folder `dest`, keeping
/// permissions (an executable `bootstrap` must stay executable) and links as links.
pub(crate) fn copy_entries(source: &Path, entries: &[Entry], dest: &Path) -> io::Result<()> {
    for entry in entries {
        let from = source.join(&entry.relative);
        let to = dest.join(&entry.relative);
        match entry.kind {
            EntryKind::Dir => fs::create_dir_all(&to)?,
            EntryKind::File => {
                fs::copy(&from, &to)?;
            }
            EntryKind::Symlink => copy_symlink(&from, &to)?,
        }
    }
    Ok(())
}

#[cfg(unix)]
fn copy_symlink(from: &Path, to: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(fs::read_link(from)?, to)
}

#[cfg(not(unix))]
fn copy_symlink(from: &Path, to: &Path) -> io::Result<()> {
    // Without Unix links, copy what the link points at; a dangling link is skipped.
    match fs::metadata(from) {
        Ok(metadata) if metadata.is_file() => fs::copy(from, to).map(|_| ()),
        _ => Ok(()),
    }
}

/// A fresh, unused path beside the final one: `parent/.tmp-<label>-<pid>-<n>-<nanos>`. The
/// dot keeps it out of [`prune`]'s list of builds, and pid plus counter keep two servers
/// (or two builds in one server) from sharing one.
pub(crate) fn temp_path(parent: &Path, label: &str) -> PathBuf {
    unique_path(parent, ".tmp", label)
}

fn unique_path(parent: &Path, prefix: &str, label: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    parent.join(format!(
        "{prefix}-{label}-{}-{n}-{nanos}",
        std::process::id()
    ))
}

/// A temporary folder or file removed when dropped unless [`TempGuard::keep`] is called,
/// so a failed or panicking build leaves nothing behind.
pub(crate) struct TempGuard {
    path: Option<PathBuf>,
}

impl TempGuard {
    pub(crate) fn new(path: PathBuf) -> TempGuard {
        TempGuard { path: Some(path) }
    }

    pub(crate) fn path(&self) -> &Path {
        self.path
            .as_deref()
            .expect("a guard's path is only taken by keep(), which consumes it")
    }

    /// Stops the guard from removing the path (it has been renamed into place).
    pub(crate) fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            remove_any(&path);
        }
    }
}

/// Removes a file or folder, ignoring errors: used for temporary data only, where a
/// leftover is cleaned up later by [`remove_stale`].
pub(crate) fn remove_any(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => {
            let _ = fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// How [`publish`] ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Published {
    /// The temporary folder is now the final one.
    Renamed,
    /// Another build published the same folder first; ours was discarded.
    AlreadyThere,
}

/// Renames the finished `temp` folder to `target`, readable by every user first (see
/// [`open_modes`]). The rename is atomic, so `target` existing always means a complete
/// build; when a concurrent build won the race (the rename fails on a non-empty target),
/// its result is used and ours is dropped.
pub(crate) fn publish(temp: TempGuard, target: &Path) -> io::Result<Published> {
    open_modes(temp.path())?;
    match fs::rename(temp.path(), target) {
        Ok(()) => {
            temp.keep();
            Ok(Published::Renamed)
        }
        Err(error) => {
            if target.is_dir() {
                Ok(Published::AlreadyThere)
            } else {
                Err(error)
            }
        }
    }
}

/// Read permission for the owner, group and others.
const READ_ALL: u32 = 0o444;
/// Execute (for folders: enter) permission for the owner, group and others.
const EXECUTE_ALL: u32 = 0o111;

/// Makes everything under `root` (and `root`) readable by every user, as a Lambda
/// deployment package is readable by its function: functions run as a user of their own
/// (inside the sandbox a host uid that owns no file, so only the "other" bits count), and
/// a build made under a umask of 077 would otherwise be closed to them. Folders become
/// enterable by all, files readable by all and executable by all when their owner may
/// execute them; links are left alone. Nothing is taken away.
pub(crate) fn open_modes(root: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = fs::symlink_metadata(root)?;
    if metadata.file_type().is_symlink() {
        return Ok(());
    }
    let mode = metadata.permissions().mode();
    let wanted = if metadata.is_dir() || mode & 0o100 != 0 {
        mode | READ_ALL | EXECUTE_ALL
    } else {
        mode | READ_ALL
    };
    if wanted != mode {
        fs::set_permissions(root, fs::Permissions::from_mode(wanted))?;
    }
    if metadata.is_dir() {
        for child in fs::read_dir(root)? {
            open_modes(&child?.path())?;
        }
    }
    Ok(())
}

/// Whether a user who is neither the owner nor in the group can enter `root` and every
/// listed folder and read every listed file: what a function running as its own user
/// needs of a code folder it runs from in place.
pub(crate) fn readable_by_others(root: &Path, entries: &[Entry]) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    let open = |path: &Path, needed: u32| {
        fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & needed == needed)
    };
    open(root, 0o005)
        && entries.iter().all(|entry| match entry.kind {
            EntryKind::Dir => open(&root.join(&entry.relative), 0o005),
            EntryKind::File => open(&root.join(&entry.relative), 0o004),
            // A link is as readable as what it points at, which is checked where it lies.
            EntryKind::Symlink => true,
        })
}

/// Moves `path` out of the way under a dot-name, then deletes it: an interrupted delete
/// then leaves a `.trash-*` entry, never a half-deleted folder under a build's name.
pub(crate) fn trash(path: &Path) {
    let Some(parent) = path.parent() else { return };
    let label = path.file_name().and_then(OsStr::to_str).unwrap_or("entry");
    let trash = unique_path(parent, ".trash", label);
    if fs::rename(path, &trash).is_ok() {
        remove_any(&trash);
    }
}

/// Deletes `.tmp-*` entries older than an hour (interrupted builds) and every `.trash-*`
/// entry (interrupted deletes) in `dir`. Errors are ignored: this is housekeeping.
pub(crate) fn remove_stale(dir: &Path) {
    let Ok(children) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for child in children.flatten() {
        let name = child.file_name();
        let Some(name) = name.to_str() else { continue };
        let stale = if name.starts_with(".trash-") {
            true
        } else if name.starts_with(".tmp-") {
            child
                .metadata()
                .and_then(|metadata| metadata.modified())
                .ok()
                .and_then(|modified| now.duration_since(modified).ok())
                .is_some_and(|age| age > STALE_AFTER)
        } else {
            false
        };
        if stale {
            remove_any(&child.path());
        }
    }
}

/// Marks a build folder as just used, so [`prune`] keeps the builds used most recently
/// rather than the ones built most recently.
pub(crate) fn touch(dir: &Path) {
    if let Ok(file) = fs::File::open(dir) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// Keeps `current` and the newest `keep - 1` other build folders in `function_dir`,
/// trashing the rest, so the build root does not grow with every edit.
pub(crate) fn prune(function_dir: &Path, current: &Path, keep: usize) {
    remove_stale(function_dir);
    let Ok(children) = fs::read_dir(function_dir) else {
        return;
    };
    let mut others: Vec<(SystemTime, PathBuf)> = children
        .flatten()
        .filter(|child| !child.file_name().to_string_lossy().starts_with('.'))
        .filter(|child| child.path() != current)
        .filter_map(|child| {
            let metadata = child.metadata().ok()?;
            metadata.is_dir().then_some(())?;
            Some((
                metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                child.path(),
            ))
        })
        .collect();
    others.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    for (_, path) in others.into_iter().skip(keep.saturating_sub(1)) {
        trash(&path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_trees_are_opened_to_other_users() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |path: &Path| fs::metadata(path).expect("metadata").permissions().mode() & 0o777;
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("tree");
        fs::create_dir_all(root.join("lib")).expect("mkdir");
        fs::write(root.join("lib/module.py"), "").expect("write");
        fs::write(root.join("bootstrap"), "").expect("write");
        fs::set_permissions(root.join("bootstrap"), fs::Permissions::from_mode(0o700))
            .expect("chmod");
        fs::set_permissions(
            root.join("lib/module.py"),
            fs::Permissions::from_mode(0o600),
        )
        .expect("chmod");
        fs::set_permissions(root.join("lib"), fs::Permissions::from_mode(0o700)).expect("chmod");
        let entries = list_sources(&root, &Skip::default()).expect("list");
        assert!(!readable_by_others(&root, &entries));
        open_modes(&root).expect("open");
        assert_eq!(mode(&root.join("lib")), 0o755);
        assert_eq!(mode(&root.join("lib/module.py")), 0o644);
        assert_eq!(mode(&root.join("bootstrap")), 0o755);
        assert!(readable_by_others(&root, &entries));
    }

    fn write(root: &Path, relative: &str, contents: &str) {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().expect("test paths have a parent"))
            .expect("create test folder");
        fs::write(path, contents).expect("write test file");
    }

    fn names(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .map(|entry| entry.relative.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn listing_skips_dependency_and_tool_folders_and_the_build_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "app.py", "");
        write(dir.path(), "lib/b.py", "");
        write(dir.path(), "lib/a.py", "");
        write(dir.path(), "lib/__pycache__/a.pyc", "");
        write(dir.path(), "node_modules/x/index.js", "");
        write(dir.path(), ".git/HEAD", "");
        write(dir.path(), ".aws-sam/build/x", "");
        write(dir.path(), ".serverful/build/F/1/app.py", "");
        write(dir.path(), "data/build/F/1/app.py", "");
        let skip = Skip {
            excluded: vec![dir.path().join("data/build")],
            cargo_output: false,
        };
        let entries = list_sources(dir.path(), &skip).expect("list");
        assert_eq!(names(&entries), ["app.py", "lib", "lib/a.py", "lib/b.py"]);
    }

    #[test]
    fn cargo_output_is_skipped_only_beside_a_cargo_toml_when_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "Cargo.toml", "");
        write(dir.path(), "target/release/app", "");
        write(dir.path(), "assets/target/x", "");
        let names_with = |cargo_output| {
            let skip = Skip {
                excluded: Vec::new(),
                cargo_output,
            };
            names(&list_sources(dir.path(), &skip).expect("list"))
        };
        assert_eq!(
            names_with(true),
            ["Cargo.toml", "assets", "assets/target", "assets/target/x"]
        );
        assert_eq!(names_with(false).len(), 7);
    }

    #[test]
    fn prune_keeps_current_and_newest_other() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, age) in [
            ("old", 300),
            ("older", 600),
            ("newer", 100),
            ("current", 900),
        ] {
            let path = dir.path().join(name);
            fs::create_dir(&path).expect("create build folder");
            let file = fs::File::open(&path).expect("open build folder");
            file.set_modified(SystemTime::now() - Duration::from_secs(age))
                .expect("set mtime");
        }
        fs::create_dir(dir.path().join(".tmp-fresh")).expect("create temp folder");
        prune(dir.path(), &dir.path().join("current"), 2);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .expect("read")
            .flatten()
            .map(|child| child.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        // A fresh temporary folder may be a build in progress elsewhere: kept.
        assert_eq!(left, [".tmp-fresh", "current", "newer"]);
    }

    #[test]
    fn publish_loses_a_race_gracefully() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("build");
        write(&target, "done", "first");
        let temp = TempGuard::new(temp_path(dir.path(), "x"));
        write(temp.path(), "done", "second");
        let temp_path = temp.path().to_path_buf();
        assert_eq!(
            publish(temp, &target).expect("publish"),
            Published::AlreadyThere
        );
        assert!(!temp_path.exists(), "the losing copy is removed");
        assert_eq!(
            fs::read_to_string(target.join("done")).expect("read"),
            "first"
        );
    }
}
