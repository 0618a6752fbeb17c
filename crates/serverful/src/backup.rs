//! `serverful backup --data DIR -o FILE` and `serverful restore FILE --data NEWDIR`: which
//! parts of a data folder are its state, and the commands over `serverful-backup`.
//!
//! Every `*.sqlite` file at the top of the data folder is a database and is copied
//! consistently while the server writes to it; every other file and folder is copied as
//! it is, except what the server makes again at start (below). [`data_folder_sources`] is
//! the one place that knows this, so a server can back itself up through it too.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serverful_backup::{BackupOptions, BackupSource, BackupSummary, RestoreSummary, SourceKind};
use serverful_cli::{BackupArgs, RestoreArgs};

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
pub(crate) fn data_folder_sources(
    data: &Path,
    output: Option<&Path>,
) -> anyhow::Result<Vec<BackupSource>> {
    let listing = std::fs::read_dir(data)
        .with_context(|| format!("list the data folder {}", data.display()))?;
    let mut names = Vec::new();
    for entry in listing {
        let entry = entry.with_context(|| format!("list the data folder {}", data.display()))?;
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
            anyhow::bail!(
                "{} has a name that is not UTF-8; move it out of the data folder",
                path.display()
            );
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
        let metadata =
            std::fs::metadata(&path).with_context(|| format!("inspect {}", path.display()))?;
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

/// `serverful backup --data DIR -o FILE`.
pub(crate) fn backup(args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let data = args
        .data
        .canonicalize()
        .with_context(|| format!("open the data folder {}", args.data.display()))?;
    anyhow::ensure!(data.is_dir(), "{} is not a folder", data.display());
    let to_stdout = args.output.as_os_str() == "-";
    let sources = data_folder_sources(&data, (!to_stdout).then_some(args.output.as_path()))?;
    anyhow::ensure!(
        !sources.is_empty(),
        "the data folder {} holds nothing to back up",
        data.display()
    );
    let mut options = BackupOptions::new(env!("CARGO_PKG_VERSION"));
    {
        use std::os::unix::fs::PermissionsExt as _;
        let metadata = std::fs::metadata(&data)
            .with_context(|| format!("inspect the data folder {}", data.display()))?;
        options.root_mode = metadata.permissions().mode() & 0o7777;
    }
    let started = std::time::Instant::now();
    let summary = if to_stdout {
        let stdout = std::io::stdout();
        let mut stdout = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
        let summary = serverful_backup::write_backup(&sources, &options, &mut stdout)
            .context("write the backup to standard output")?;
        stdout
            .flush()
            .context("write the backup to standard output")?;
        summary
    } else {
        serverful_backup::write_backup_file(&sources, &options, &args.output)
            .with_context(|| format!("write the backup {}", args.output.display()))?
    };
    // With the backup on stdout, the report goes to stderr.
    let report = backup_report(&data, &args.output, &summary, started.elapsed());
    if to_stdout {
        eprint!("{report}");
    } else {
        print!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

fn backup_report(
    data: &Path,
    output: &Path,
    summary: &BackupSummary,
    elapsed: std::time::Duration,
) -> String {
    let manifest = &summary.manifest;
    let n_files = manifest
        .entries
        .iter()
        .filter(|entry| matches!(entry.kind, serverful_backup::EntryKind::File { .. }))
        .count();
    let mut report = format!(
        "Backed up {} to {} in {:.1?}\n  point in time {}: {} files, {} of content, {} written\n",
        data.display(),
        if output.as_os_str() == "-" {
            "standard output".to_owned()
        } else {
            output.display().to_string()
        },
        elapsed,
        manifest.created_at,
        n_files,
        human_bytes(summary.content_bytes),
        human_bytes(summary.written_bytes),
    );
    for source in &manifest.sources {
        let how = match source.kind {
            SourceKind::Sqlite => "SQLite snapshot",
            SourceKind::Folder => "folder",
            SourceKind::File => "file",
        };
        report.push_str(&format!("  {:<20} {how}\n", source.name));
    }
    for skipped in &summary.skipped {
        report.push_str(&format!(
            "  left out {} (not a file, folder or link)\n",
            skipped.display()
        ));
    }
    report
}

/// `serverful restore FILE --data NEWDIR`.
pub(crate) fn restore(args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let from_stdin = args.file.as_os_str() == "-";
    let outcome: Result<RestoreSummary, _> = if from_stdin {
        let stdin = std::io::stdin();
        serverful_backup::restore(stdin.lock(), &args.data)
    } else {
        serverful_backup::restore_file(&args.file, &args.data)
    };
    let summary = outcome.with_context(|| {
        format!(
            "restore {} into {}",
            if from_stdin {
                PathBuf::from("standard input")
            } else {
                args.file.clone()
            }
            .display(),
            args.data.display()
        )
    })?;
    let manifest = &summary.manifest;
    println!(
        "Restored {} into {}\n  point in time {} (Serverful {}): {} entries, {} of content",
        args.file.display(),
        args.data.display(),
        manifest.created_at,
        manifest.serverful_version,
        manifest.entries.len(),
        human_bytes(summary.content_bytes),
    );
    println!(
        "  start it with: serverful up APP --data {}",
        args.data.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
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

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 << 30), "5.0 GiB");
    }
}
