//! Consistent copies of live SQLite databases, through SQLite's online backup API.
//!
//! Every database is *pinned* first: a connection of our own opens a read transaction on
//! each, one after the other, before any page is copied. Then each pinned database is
//! copied into a staging file with `sqlite3_backup_step` from that same connection, whose
//! open read transaction the backup API uses as it is, so every page comes from the one
//! snapshot that transaction sees, however long the copy takes and whatever writers do
//! meanwhile.
//!
//! What a snapshot holds: in WAL mode a read transaction sees every transaction
//! committed before it began (the WAL index in `-shm` is shared by every connection of
//! every process), and none after. The Serverful store acknowledges a write only after
//! its commit *and* an fsync of the log that began after it, so a write acknowledged
//! before [`snapshot_all`] was called is committed before the read transaction begins,
//! and is in the copy. A write committed but not yet acknowledged may be in it too.
//!
//! What it costs writers, in WAL mode: nothing blocks them. A checkpoint cannot copy
//! past the oldest open read transaction's mark, so the log grows by what is written
//! during the copy, and shrinks back at the first checkpoint after it. (A database in a
//! rollback-journal mode would hold writers off while pinned; the store is always WAL.)
//!
//! The connection is our own, in this process or another, and through the same bundled
//! SQLite as the store's: POSIX locks belong to a process, and SQLite keeps a
//! process's connections to one file from releasing each other's locks only when they
//! share one copy of the library (cargo links one `libsqlite3-sys`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::error::BackupError;

/// How long a connection waits for a lock before it gives up (the store's writer holds
/// its write lock for one group commit at a time, milliseconds).
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// One database to copy: its file, and where the copy goes.
pub(crate) struct SnapshotRequest<'a> {
    pub database: &'a Path,
    pub copy: PathBuf,
}

/// Pins every database, then copies each into its `copy` file. Returns once every copy
/// is complete; the read transactions end then.
pub(crate) fn snapshot_all(requests: &[SnapshotRequest<'_>]) -> Result<(), BackupError> {
    let mut pinned = Vec::with_capacity(requests.len());
    for request in requests {
        pinned.push(pin(request.database)?);
    }
    for (request, source) in requests.iter().zip(&pinned) {
        copy(source, request)?;
    }
    Ok(())
}

/// Opens `database` read-only and starts a read transaction on it.
fn pin(database: &Path) -> Result<Connection, BackupError> {
    let sqlite = |action| {
        move |source| BackupError::Sqlite {
            action,
            path: database.to_path_buf(),
            source,
        }
    };
    if !database.is_file() {
        return Err(BackupError::WrongSource {
            path: database.to_path_buf(),
            expected: "a SQLite database file",
        });
    }
    // Read-only: the copy never writes to the live database, and a read-only connection
    // never checkpoints or removes the log when it closes.
    let connection = Connection::open_with_flags(
        database,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite("open"))?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite("set the busy timeout"))?;
    // `BEGIN` alone defers the snapshot to the first read; the query takes it now.
    connection
        .execute_batch("BEGIN")
        .map_err(sqlite("start the read transaction"))?;
    connection
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| {
            row.get::<_, i64>(0)
        })
        .map_err(sqlite("start the read transaction"))?;
    Ok(connection)
}

/// Copies the pinned `source` into `request.copy`.
fn copy(source: &Connection, request: &SnapshotRequest<'_>) -> Result<(), BackupError> {
    let sqlite = |action| {
        move |source| BackupError::Sqlite {
            action,
            path: request.database.to_path_buf(),
            source,
        }
    };
    let mut destination = Connection::open(&request.copy).map_err(sqlite("create the copy"))?;
    // The copy is a staging file, hashed and streamed once complete and thrown away
    // after: it needs neither a journal nor syncs.
    destination
        .pragma_update(None, "journal_mode", "OFF")
        .map_err(sqlite("prepare the copy"))?;
    destination
        .pragma_update(None, "synchronous", "OFF")
        .map_err(sqlite("prepare the copy"))?;
    let backup = Backup::new(source, &mut destination).map_err(sqlite("start the copy"))?;
    // One step copies every page. The source's read transaction stays open across steps
    // anyway, so smaller steps would see the same snapshot; one step simply has no pause
    // in which anything could happen.
    loop {
        match backup.step(-1).map_err(sqlite("copy the snapshot"))? {
            StepResult::Done => break,
            StepResult::More => {}
            // Busy or locked: only our own staging file could be, and nothing else opens
            // it; wait a moment and try again.
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    Ok(())
}
