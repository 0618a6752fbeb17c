//! `Action::Backup`, and which parts of a data folder are its state.
//!
//! Every `*.sqlite` file at the top of the data folder (the store, the platform's stacks
//! and versions, the function logs, the invocation records) is a database and is copied consistently while the
//! server writes to it; every other file and folder (keys, the admin token, the stacks'
//! sources and builds) is copied as it is, except what the server makes again at start.
//! [`data_folder_sources`] is the one place that knows this, for `serverful backup --data`
//! and for a server backing itself up alike.

use std::path::Path;

use serverful_backup::{BackupOptions, BackupSource, EntryKind};

use crate::action::{ActionError, BackupSink, Outcome};

/// Top-level entries of a data folder that are not state, and why they are left out.
const NOT_STATE: &[(&str, &str)] = &[
    (
        "sandbox",
        "the roots and mount points of running function instances, made at start",
    ),
    (
        "runtimes",
        "the bootstraps, written from the binary at each start (Java's compiled by the local javac)",
    ),
    (
        "sdk",
        "the AWS SDK download cache, filled again on the first build that needs it",
    ),
];

/// Names inside folders that are work in progress: `serverful-build` builds into
/// `.tmp-*` and renames into place, and moves what it removes to `.trash-*` first.
const WORK_IN_PROGRESS: &[&str] = &[".tmp-", ".trash-"];

/// A database's side files, which the database's snapshot already covers.
const SQLITE_SIDE_FILES: &[&str] = &["-wal", "-shm", "-journal"];

/// Prefix of the staging folder `serverful-backup` makes beside the backup file.
const STAGING_PREFIX: &str = ".serverful-backup-staging-";

/// The sources that make up the state of the data folder `data`. `output` is the backup
/// file being written, left out (with its temporary name) if it lies in the folder.
pub fn data_folder_sources(
    data: &Path,
    output: Option<&Path>,
) -> Result<Vec<BackupSource>, String> {
    let listing = std::fs::read_dir(data)
        .map_err(|error| format!("cannot list the data folder {}: {error}", data.display()))?;
    let mut names = Vec::new();
    for entry in listing {
        let entry = entry
            .map_err(|error| format!("cannot list the data folder {}: {error}", data.display()))?;
        names.push(entry.file_name());
    }
    names.sort();
    let own_output = output.and_then(|output| {
        let parent = match output.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let in_data = parent.canonicalize().ok()? == data;
        in_data
            .then(|| output.file_name())
            .flatten()
            .map(|name| name.to_string_lossy().into_owned())
    });
    let mut sources = Vec::new();
    for name in names {
        let path = data.join(&name);
        let Some(name) = name.to_str().map(str::to_owned) else {
            return Err(format!(
                "{} has a name that is not UTF-8; move it out of the data folder",
                path.display()
            ));
        };
        if NOT_STATE.iter().any(|(left_out, _)| *left_out == name)
            || name.starts_with(STAGING_PREFIX)
            || SQLITE_SIDE_FILES
                .iter()
                .any(|suffix| name.ends_with(&format!(".sqlite{suffix}")))
        {
            continue;
        }
        if let Some(own) = &own_output {
            if name == *own || name.starts_with(&format!(".{own}.partial-")) {
                continue;
            }
        }
        // Followed: a data folder's entry may be a link to another disk.
        let metadata = std::fs::metadata(&path)
            .map_err(|error| format!("cannot inspect {}: {error}", path.display()))?;
        if metadata.is_dir() {
            let mut source = BackupSource::folder(name, path);
            for prefix in WORK_IN_PROGRESS {
                source = source.excluding_names_starting_with(*prefix);
            }
            sources.push(source);
        } else if metadata.is_file() && name.ends_with(".sqlite") {
            sources.push(BackupSource::sqlite(name, path));
        } else if metadata.is_file() {
            sources.push(BackupSource::file(name, path));
        }
        // Sockets and pipes at the top are endpoints of a running process, not state.
    }
    Ok(sources)
}

/// Writes a backup of `data` into `sink`; blocking, for a thread of its own.
pub(crate) fn write(
    data: &Path,
    serverful_version: &str,
    sink: BackupSink,
) -> Result<Outcome, ActionError> {
    let sources =
        data_folder_sources(data, None).map_err(|error| ActionError::internal("backup", error))?;
    let mut options = BackupOptions::new(serverful_version);
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(metadata) = std::fs::metadata(data) {
            options.root_mode = metadata.permissions().mode() & 0o7777;
        }
    }
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, sink.0);
    let summary = serverful_backup::write_backup(&sources, &options, &mut writer)
        .map_err(|error| ActionError::internal("backup", error.to_string()))?;
    std::io::Write::flush(&mut writer).map_err(|error| {
        ActionError::internal("backup", format!("cannot send the backup: {error}"))
    })?;
    let manifest = &summary.manifest;
    Ok(Outcome::BackedUp {
        created_at: manifest.created_at.clone(),
        files: manifest
            .entries
            .iter()
            .filter(|entry| matches!(entry.kind, EntryKind::File { .. }))
            .count(),
        content_bytes: summary.content_bytes,
        written_bytes: summary.written_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_folder_is_its_databases_keys_and_builds_without_what_start_remakes() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let data = dir.path().canonicalize().expect("canonical");
        for folder in [
            "build/Fn/abc",
            "build/Fn/.tmp-Fn-1",
            "layers",
            "inline/Fn",
            "sandbox/root",
            "runtimes/java",
        ] {
            std::fs::create_dir_all(data.join(folder)).expect("mkdir");
        }
        for file in [
            "dynamodb.sqlite",
            "dynamodb.sqlite-wal",
            "dynamodb.sqlite-shm",
            "aws-keys.json",
            "backup.tar.zst",
            ".backup.tar.zst.partial-abc",
        ] {
            std::fs::write(data.join(file), "").expect("write");
        }
        std::fs::create_dir(data.join(".serverful-backup-staging-x")).expect("mkdir");
        let sources =
            data_folder_sources(&data, Some(&data.join("backup.tar.zst"))).expect("sources");
        let described: Vec<String> = sources
            .iter()
            .map(|source| format!("{} {:?}", source.name(), source.kind()))
            .collect();
        assert_eq!(
            described,
            [
                "aws-keys.json File",
                "build Folder",
                "dynamodb.sqlite Sqlite",
                "inline Folder",
                "layers Folder",
            ]
        );
    }
}
