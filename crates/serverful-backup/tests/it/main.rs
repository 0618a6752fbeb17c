//! The backup file as a user of `serverful backup` and `serverful restore` meets it
//! (issue #14): round trips of databases and folders, modes kept, every way a file can
//! be cut short or damaged, files that are not backups, and a backup of the DynamoDB
//! store taken while writers keep writing.

mod consistency;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serverful_backup::{
    restore, restore_file, verify, write_backup, write_backup_file, BackupOptions, BackupSource,
    RestoreError,
};

/// What a tree looks like: for every path, its kind, mode and content (or link target).
fn describe_tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, folder: &Path, into: &mut BTreeMap<String, String>) {
        let mut children: Vec<_> = fs::read_dir(folder)
            .expect("list")
            .map(|entry| entry.expect("entry").path())
            .collect();
        children.sort();
        for path in children {
            let name = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            let metadata = fs::symlink_metadata(&path).expect("metadata");
            let mode = metadata.permissions().mode() & 0o7777;
            if metadata.is_symlink() {
                let target = fs::read_link(&path).expect("link");
                into.insert(name, format!("link -> {}", target.display()));
            } else if metadata.is_dir() {
                into.insert(name, format!("dir {mode:o}"));
                walk(root, &path, into);
            } else {
                let content = fs::read(&path).expect("read");
                let shown = if content.len() > 40 {
                    format!("{} bytes", content.len())
                } else {
                    String::from_utf8_lossy(&content).into_owned()
                };
                into.insert(name, format!("file {mode:o} {shown}"));
            }
        }
    }
    let mut tree = BTreeMap::new();
    walk(root, root, &mut tree);
    tree
}

/// A folder of code with a nested folder, a symlink, an empty file, a larger file, an
/// executable and a read-only folder.
fn make_code_folder(root: &Path) {
    fs::create_dir_all(root.join("lib/nested")).expect("mkdir");
    fs::write(
        root.join("app.py"),
        "def handler(event, context):\n    return 1\n",
    )
    .expect("write");
    fs::write(root.join("empty"), "").expect("write");
    let large: Vec<u8> = (0..300_000u32).map(|index| (index % 251) as u8).collect();
    fs::write(root.join("lib/large.bin"), large).expect("write");
    fs::write(root.join("lib/nested/bootstrap"), "#!/bin/sh\n").expect("write");
    fs::set_permissions(
        root.join("lib/nested/bootstrap"),
        fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    std::os::unix::fs::symlink("lib/nested/bootstrap", root.join("bootstrap")).expect("symlink");
    fs::create_dir(root.join("sealed")).expect("mkdir");
    fs::write(root.join("sealed/constant"), "42").expect("write");
    fs::set_permissions(root.join("sealed"), fs::Permissions::from_mode(0o555)).expect("chmod");
}

/// A SQLite database in WAL mode with `rows` rows in table `t`.
fn make_database(path: &Path, rows: i64) {
    let connection = Connection::open(path).expect("open");
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .expect("WAL");
    connection
        .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, value TEXT)")
        .expect("create");
    for id in 0..rows {
        connection
            .execute(
                "INSERT INTO t VALUES (?1, ?2)",
                rusqlite::params![id, format!("v{id}")],
            )
            .expect("insert");
    }
}

fn count_rows(path: &Path) -> i64 {
    Connection::open(path)
        .expect("open")
        .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
        .expect("count")
}

/// A data folder like Serverful's: a database, a code folder and a private key file.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path().to_path_buf();
        let data = root.join("data");
        fs::create_dir(&data).expect("mkdir");
        make_database(&data.join("state.sqlite"), 100);
        make_code_folder(&data.join("code"));
        fs::write(data.join("keys.json"), r#"{"secret":"s3cr3t"}"#).expect("write");
        fs::set_permissions(data.join("keys.json"), fs::Permissions::from_mode(0o600))
            .expect("chmod");
        Fixture { _dir: dir, root }
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn sources(&self) -> Vec<BackupSource> {
        let data = self.data();
        vec![
            BackupSource::sqlite("state.sqlite", data.join("state.sqlite")),
            BackupSource::folder("code", data.join("code")),
            BackupSource::file("keys.json", data.join("keys.json")),
        ]
    }

    fn options(&self) -> BackupOptions {
        BackupOptions {
            staging_dir: Some(self.root.clone()),
            ..BackupOptions::new("0.1.0-test")
        }
    }

    /// The backup of this fixture, in memory.
    fn backup_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        write_backup(&self.sources(), &self.options(), &mut bytes).expect("backup");
        bytes
    }
}

#[test]
fn a_backup_restores_databases_folders_and_modes() {
    let fixture = Fixture::new();
    let file = fixture.root.join("backup.tar.zst");
    let summary = write_backup_file(&fixture.sources(), &fixture.options(), &file).expect("backup");
    assert_eq!(
        fs::metadata(&file)
            .expect("backup file")
            .permissions()
            .mode()
            & 0o777,
        0o600,
        "a backup holds keys"
    );
    assert_eq!(
        summary.written_bytes,
        fs::metadata(&file).expect("size").len()
    );
    assert!(summary.skipped.is_empty());

    let restored = fixture.root.join("restored");
    let restored_summary = restore_file(&file, &restored).expect("restore");
    assert_eq!(restored_summary.manifest, summary.manifest);
    assert_eq!(restored_summary.content_bytes, summary.content_bytes);

    // Everything but the database compares byte for byte, with its mode.
    let mut original = describe_tree(&fixture.data());
    let mut copy = describe_tree(&restored);
    for tree in [&mut original, &mut copy] {
        tree.retain(|path, _| !path.starts_with("state.sqlite"));
    }
    assert_eq!(copy, original);
    expect_test::expect![[r#"
        {
            "code": "dir 755",
            "code/app.py": "file 644 42 bytes",
            "code/bootstrap": "link -> lib/nested/bootstrap",
            "code/empty": "file 644 ",
            "code/lib": "dir 755",
            "code/lib/large.bin": "file 644 300000 bytes",
            "code/lib/nested": "dir 755",
            "code/lib/nested/bootstrap": "file 755 #!/bin/sh\n",
            "code/sealed": "dir 555",
            "code/sealed/constant": "file 644 42",
            "keys.json": "file 600 {\"secret\":\"s3cr3t\"}",
        }
    "#]]
    .assert_debug_eq(&copy);
    // The database is one file (no -wal), whole.
    assert_eq!(count_rows(&restored.join("state.sqlite")), 100);
    assert_eq!(
        fs::metadata(&restored).expect("root").permissions().mode() & 0o777,
        0o755
    );
    // Nothing is left beside the target or the backup.
    let mut left: Vec<String> = fs::read_dir(&fixture.root)
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    left.sort();
    assert_eq!(left, ["backup.tar.zst", "data", "restored"]);
}

#[test]
fn the_file_is_a_tar_zst_with_the_manifest_first_and_the_trailer_last() {
    let fixture = Fixture::new();
    let bytes = fixture.backup_bytes();
    let tar = zstd::decode_all(bytes.as_slice()).expect("zstd");
    let mut archive = tar::Archive::new(tar.as_slice());
    let paths: Vec<String> = archive
        .entries()
        .expect("entries")
        .map(|entry| {
            entry
                .expect("entry")
                .path()
                .expect("path")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    expect_test::expect![[r#"
        [
            ".serverful-backup/manifest.json",
            "state.sqlite",
            "code",
            "code/app.py",
            "code/bootstrap",
            "code/empty",
            "code/lib",
            "code/lib/large.bin",
            "code/lib/nested",
            "code/lib/nested/bootstrap",
            "code/sealed",
            "code/sealed/constant",
            "keys.json",
            ".serverful-backup/trailer.json",
        ]
    "#]]
    .assert_debug_eq(&paths);
}

/// The kind of a restore error, for tables of outcomes.
fn kind(error: &RestoreError) -> &'static str {
    match error {
        RestoreError::NotABackup { .. } => "not a backup",
        RestoreError::Truncated { .. } => "truncated",
        RestoreError::Corrupt { .. } => "corrupt",
        RestoreError::ChecksumMismatch { .. } => "checksum",
        RestoreError::NewerFormat { .. } => "newer format",
        RestoreError::TargetNotEmpty { .. } => "target not empty",
        RestoreError::TargetNotFolder { .. } => "target not a folder",
        RestoreError::Read { .. } => "read",
        RestoreError::Write { .. } => "write",
    }
}

/// A small backup, so that every byte of it can be tried.
fn small_backup() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let data = dir.path().join("data");
    fs::create_dir_all(data.join("code/lib")).expect("mkdir");
    make_database(&data.join("state.sqlite"), 3);
    fs::write(data.join("code/app.py"), "print('hello')\n").expect("write");
    fs::write(data.join("code/lib/util.py"), "X = 1\n").expect("write");
    std::os::unix::fs::symlink("app.py", data.join("code/main.py")).expect("symlink");
    let sources = vec![
        BackupSource::sqlite("state.sqlite", data.join("state.sqlite")),
        BackupSource::folder("code", data.join("code")),
    ];
    let options = BackupOptions {
        staging_dir: Some(dir.path().to_path_buf()),
        ..BackupOptions::new("0.1.0-test")
    };
    let mut bytes = Vec::new();
    write_backup(&sources, &options, &mut bytes).expect("backup");
    (dir, bytes)
}

#[test]
fn a_backup_cut_short_anywhere_is_reported_as_truncated() {
    let (_dir, bytes) = small_backup();
    verify(bytes.as_slice()).expect("the whole file verifies");
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for length in 0..bytes.len() {
        match verify(&bytes[..length]) {
            Ok(_) => panic!("a backup cut to {length} of {} bytes verified", bytes.len()),
            Err(error) => *outcomes.entry(kind(&error)).or_default() += 1,
        }
    }
    // Only the empty file cannot tell a truncated backup from something else.
    assert_eq!(outcomes.get("not a backup"), Some(&1), "{outcomes:?}");
    assert_eq!(
        outcomes.get("truncated"),
        Some(&(bytes.len() - 1)),
        "{outcomes:?}"
    );
}

#[test]
fn a_truncated_restore_leaves_no_folder_behind() {
    let (dir, bytes) = small_backup();
    let target = dir.path().join("restored");
    for length in (1..bytes.len()).step_by(97) {
        let error = restore(&bytes[..length], &target).expect_err("truncated");
        assert_eq!(kind(&error), "truncated", "{error}");
        assert!(!target.exists());
    }
    let mut left: Vec<String> = fs::read_dir(dir.path())
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    left.sort();
    assert_eq!(left, ["data"]);
    let error = restore(&bytes[..bytes.len() - 1], &target).expect_err("truncated");
    expect_test::expect![[r#"the backup is truncated: read the end of the backup: the compressed stream ends early; the file was cut short (an interrupted copy or a full disk): copy it again from where it was written"#]]
        .assert_eq(&error.to_string());
}

#[test]
fn a_damaged_byte_anywhere_is_detected() {
    let (_dir, bytes) = small_backup();
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for position in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[position] ^= 0x20;
        match verify(damaged.as_slice()) {
            Ok(_) => panic!("a backup with byte {position} changed verified"),
            Err(error) => *outcomes.entry(kind(&error)).or_default() += 1,
        }
    }
    // Whatever the layer that notices, no damaged file passes as a backup.
    assert_eq!(outcomes.values().sum::<usize>(), bytes.len());
    assert!(outcomes.contains_key("corrupt"), "{outcomes:?}");
}

#[test]
fn a_content_checksum_mismatch_names_the_entry() {
    // A backup whose compressed bytes are intact but whose entry differs from its
    // manifest: rewrite one file's content in the tar, recompress.
    let (_dir, bytes) = small_backup();
    let tar = zstd::decode_all(bytes.as_slice()).expect("zstd");
    let needle = b"print('hello')";
    let at = tar
        .windows(needle.len())
        .position(|window| window == needle)
        .expect("content in the tar");
    let mut changed = tar.clone();
    changed[at..at + needle.len()].copy_from_slice(b"print('HELLO')");
    let recompressed = zstd::encode_all(changed.as_slice(), 3).expect("zstd");
    let error = verify(recompressed.as_slice()).expect_err("checksum");
    assert_eq!(kind(&error), "checksum", "{error}");
    assert!(
        error
            .to_string()
            .starts_with("the backup is damaged: code/app.py has SHA-256 "),
        "{error}"
    );
}

#[test]
fn files_that_are_not_backups_say_so() {
    let plain_tar = {
        let mut archive = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o644);
        archive
            .append_data(&mut header, "notes.txt", &b"hello"[..])
            .expect("append");
        archive.into_inner().expect("tar")
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty file", Vec::new()),
        ("text", b"hello, world\n".to_vec()),
        ("gzip", vec![0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 3]),
        (
            "zstd of text",
            zstd::encode_all(&b"just some text"[..], 3).expect("zstd"),
        ),
        (
            "tar.zst",
            zstd::encode_all(plain_tar.as_slice(), 3).expect("zstd"),
        ),
    ];
    let messages: Vec<String> = cases
        .iter()
        .map(|(name, bytes)| {
            let error = verify(bytes.as_slice()).expect_err("not a backup");
            format!("{name}: {error}")
        })
        .collect();
    expect_test::expect![[r#"
        [
            "empty file: not a Serverful backup: the file is empty",
            "text: not a Serverful backup: it does not start like a zstd file (a backup is the .tar.zst that `serverful backup` writes)",
            "gzip: not a Serverful backup: it does not start like a zstd file (a backup is the .tar.zst that `serverful backup` writes)",
            "zstd of text: not a Serverful backup: it is a zstd file, but what it holds is not a tar archive",
            "tar.zst: not a Serverful backup: it is a .tar.zst whose first member is \"notes.txt\", not .serverful-backup/manifest.json",
        ]
    "#]]
    .assert_debug_eq(&messages);
}

/// A backup whose manifest is `manifest`, with nothing after it but a trailer.
fn backup_with_manifest(manifest: &serde_json::Value) -> Vec<u8> {
    let bytes = serde_json::to_vec(manifest).expect("json");
    let mut archive = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    archive
        .append_data(
            &mut header,
            ".serverful-backup/manifest.json",
            bytes.as_slice(),
        )
        .expect("append");
    let tar = archive.into_inner().expect("tar");
    zstd::encode_all(tar.as_slice(), 3).expect("zstd")
}

#[test]
fn a_newer_format_version_is_refused_by_name() {
    let manifest = serde_json::json!({
        "format": "serverful-backup",
        "formatVersion": 2,
        "serverfulVersion": "9.0.0",
        "somethingNew": {"that": "version 1 does not know"},
    });
    let error = verify(backup_with_manifest(&manifest).as_slice()).expect_err("newer");
    expect_test::expect![[r#"the backup has format version 2 (written by Serverful 9.0.0), and this Serverful reads format versions up to 1: restore it with Serverful 9.0.0 or newer"#]]
        .assert_eq(&error.to_string());
}

#[test]
fn a_manifest_that_escapes_the_folder_is_refused_before_anything_is_written() {
    let entry = |path: &str, kind: serde_json::Value| {
        let mut entry = kind;
        entry["path"] = serde_json::Value::from(path);
        entry
    };
    let manifest = |entries: Vec<serde_json::Value>| {
        serde_json::json!({
            "format": "serverful-backup",
            "formatVersion": 1,
            "serverfulVersion": "0.1.0",
            "createdAt": "2025-01-01T00:00:00Z",
            "rootMode": 493,
            "sources": [],
            "entries": entries,
        })
    };
    let link = serde_json::json!({"type": "symlink", "target": "/etc"});
    let file =
        serde_json::json!({"type": "file", "mode": 420, "size": 0, "sha256": "", "modified": 0});
    let cases = [
        manifest(vec![entry("../outside", file.clone())]),
        manifest(vec![entry("/etc/passwd", file.clone())]),
        manifest(vec![entry("etc", link), entry("etc/passwd", file.clone())]),
        manifest(vec![entry("a", file.clone()), entry("a", file)]),
    ];
    let dir = tempfile::tempdir().expect("temporary folder");
    let messages: Vec<String> = cases
        .iter()
        .map(|manifest| {
            let target = dir.path().join("restored");
            let error =
                restore(backup_with_manifest(manifest).as_slice(), &target).expect_err("refused");
            assert!(!target.exists());
            error.to_string()
        })
        .collect();
    expect_test::expect![[r#"
        [
            "the backup is damaged: its manifest lists \"../outside\", which it has a `.` or `..` component",
            "the backup is damaged: its manifest lists \"/etc/passwd\", which it is absolute; names are paths relative to the restored folder",
            "the backup is damaged: its manifest lists \"etc/passwd\", which lies under a file or a symbolic link",
            "the backup is damaged: its manifest lists \"a\", which appears twice",
        ]
    "#]]
    .assert_debug_eq(&messages);
}

#[test]
fn restore_refuses_a_folder_that_has_something_in_it() {
    let fixture = Fixture::new();
    let bytes = fixture.backup_bytes();
    let target = fixture.root.join("occupied");
    fs::create_dir(&target).expect("mkdir");
    fs::write(target.join("precious"), "keep me").expect("write");
    let error = restore(bytes.as_slice(), &target).expect_err("refused");
    assert_eq!(
        error.to_string(),
        format!(
            "{} exists and is not empty: restore into a new or empty folder",
            target.display()
        )
    );
    assert_eq!(
        describe_tree(&target),
        BTreeMap::from([("precious".to_owned(), "file 644 keep me".to_owned())])
    );

    let file = fixture.root.join("a-file");
    fs::write(&file, "x").expect("write");
    let error = restore(bytes.as_slice(), &file).expect_err("refused");
    assert_eq!(kind(&error), "target not a folder");

    // An empty folder is fine: it is replaced by the restored one.
    let empty = fixture.root.join("empty");
    fs::create_dir(&empty).expect("mkdir");
    restore(bytes.as_slice(), &empty).expect("restore into an empty folder");
    assert_eq!(count_rows(&empty.join("state.sqlite")), 100);
}

#[test]
fn sources_that_are_not_what_they_say_are_refused() {
    let fixture = Fixture::new();
    let data = fixture.data();
    let cases = [
        vec![BackupSource::folder("keys.json", data.join("keys.json"))],
        vec![BackupSource::file("code", data.join("code"))],
        vec![BackupSource::sqlite(
            "missing.sqlite",
            data.join("missing.sqlite"),
        )],
        vec![BackupSource::sqlite("keys.json", data.join("keys.json"))],
    ];
    let messages: Vec<String> = cases
        .iter()
        .map(|sources| {
            write_backup(sources, &fixture.options(), Vec::new())
                .expect_err("refused")
                .to_string()
                .replace(&fixture.root.display().to_string(), "ROOT")
        })
        .collect();
    expect_test::expect![[r#"
        [
            "backup source ROOT/data/keys.json is not a folder",
            "backup source ROOT/data/code is not a regular file",
            "backup source ROOT/data/missing.sqlite is not a SQLite database file",
            "failed to start the read transaction of SQLite database ROOT/data/keys.json: file is not a database",
        ]
    "#]]
    .assert_debug_eq(&messages);
}

#[test]
fn work_in_progress_names_are_left_out() {
    let fixture = Fixture::new();
    let build = fixture.data().join("build");
    fs::create_dir_all(build.join("Fn/abc")).expect("mkdir");
    fs::create_dir_all(build.join("Fn/.tmp-Fn-1-2-3")).expect("mkdir");
    fs::write(build.join("Fn/abc/app.py"), "x").expect("write");
    fs::write(build.join("Fn/.tmp-Fn-1-2-3/app.py"), "half").expect("write");
    let sources = [BackupSource::folder("build", &build).excluding_names_starting_with(".tmp-")];
    let summary = write_backup(&sources, &fixture.options(), Vec::new()).expect("backup");
    let paths: Vec<&str> = summary
        .manifest
        .entries
        .iter()
        .map(|entry| entry.path.as_str())
        .collect();
    assert_eq!(
        paths,
        ["build", "build/Fn", "build/Fn/abc", "build/Fn/abc/app.py"]
    );
}
