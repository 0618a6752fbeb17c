//! `serverful backup` and `serverful restore FILE --data NEWDIR`: the commands over
//! `serverful-backup`. Which parts of a data folder are its state is the platform's
//! `backup::data_folder_sources`, which a running server backs itself up with too.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serverful_backup::{BackupOptions, BackupSummary, RestoreSummary, SourceKind};
use serverful_cli::{BackupArgs, RestoreArgs};

/// `serverful backup`: of a data folder on this machine (`--data`), or of a running server
/// through its admin API (`--endpoint`).
pub(crate) async fn backup(args: &BackupArgs) -> anyhow::Result<ExitCode> {
    match (&args.data, &args.remote.endpoint) {
        (Some(data), _) => backup_folder(data, &args.output),
        (None, Some(endpoint)) => backup_remote(endpoint, args).await,
        (None, None) => anyhow::bail!(
            "say what to back up: --data DIR for a data folder on this machine, or --endpoint URL for a running server (its admin API, e.g. http://127.0.0.1:4599)"
        ),
    }
}

/// `serverful backup --endpoint URL -o FILE`: the server writes the backup and streams
/// it; it lands under a temporary name and is checked whole before it takes FILE's name.
async fn backup_remote(endpoint: &str, args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let client = crate::remote::client_for(endpoint, args.remote.token.as_deref())?;
    let started = std::time::Instant::now();
    if args.output.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut stdout = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
        let received = client
            .backup(&mut |chunk| stdout.write_all(chunk))
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        stdout
            .flush()
            .context("write the backup to standard output")?;
        eprintln!(
            "Backed up the server at {endpoint} to standard output in {:.1?}: {} written",
            started.elapsed(),
            human_bytes(received)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let output = &args.output;
    let parent = match output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = output
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .with_context(|| format!("{} is not a file name", output.display()))?;
    let mut partial = tempfile::Builder::new()
        .prefix(&format!(".{name}.partial-"))
        .tempfile_in(&parent)
        .with_context(|| format!("create a file in {}", parent.display()))?;
    let received = {
        let mut writer = std::io::BufWriter::with_capacity(1 << 20, partial.as_file_mut());
        let received = client
            .backup(&mut |chunk| writer.write_all(chunk))
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        writer.flush().context("write the backup")?;
        received
    };
    partial.as_file().sync_all().context("write the backup")?;
    let path = partial.path().to_owned();
    let summary = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path)?;
        serverful_backup::verify(std::io::BufReader::new(file))
            .map_err(|error| std::io::Error::other(error.to_string()))
    })
    .await
    .context("check the backup")?
    .with_context(|| format!("the backup the server at {endpoint} sent is not whole"))?;
    partial
        .persist(output)
        .with_context(|| format!("move the backup into place as {}", output.display()))?;
    let manifest = &summary.manifest;
    print!(
        "Backed up the server at {endpoint} to {} in {:.1?}\n  point in time {}: {} entries, {} of content, {} written\n",
        output.display(),
        started.elapsed(),
        manifest.created_at,
        manifest.entries.len(),
        human_bytes(summary.content_bytes),
        human_bytes(received),
    );
    Ok(ExitCode::SUCCESS)
}

/// `serverful backup --data DIR -o FILE`.
fn backup_folder(data: &Path, output: &Path) -> anyhow::Result<ExitCode> {
    let data = data
        .canonicalize()
        .with_context(|| format!("open the data folder {}", data.display()))?;
    anyhow::ensure!(data.is_dir(), "{} is not a folder", data.display());
    let to_stdout = output.as_os_str() == "-";
    let sources =
        serverful_platform::backup::data_folder_sources(&data, (!to_stdout).then_some(output))
            .map_err(anyhow::Error::msg)?;
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
        serverful_backup::write_backup_file(&sources, &options, output)
            .with_context(|| format!("write the backup {}", output.display()))?
    };
    // With the backup on stdout, the report goes to stderr.
    let report = backup_report(&data, output, &summary, started.elapsed());
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

/// Restores the backup `file` (`-`: standard input) into the new data folder `data`.
pub(crate) fn restore_into(file: &Path, data: &Path) -> anyhow::Result<RestoreSummary> {
    let from_stdin = file.as_os_str() == "-";
    let outcome: Result<RestoreSummary, _> = if from_stdin {
        let stdin = std::io::stdin();
        serverful_backup::restore(stdin.lock(), data)
    } else {
        serverful_backup::restore_file(file, data)
    };
    outcome.with_context(|| {
        format!(
            "restore {} into {}",
            if from_stdin {
                PathBuf::from("standard input")
            } else {
                file.to_owned()
            }
            .display(),
            data.display()
        )
    })
}

/// `serverful restore FILE --data NEWDIR`.
pub(crate) fn restore(args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let summary = restore_into(&args.file, &args.data)?;
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
        "  start it with: serverful serve --data {} (or serverful up APP --data {})",
        args.data.display(),
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
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 << 30), "5.0 GiB");
    }
}
