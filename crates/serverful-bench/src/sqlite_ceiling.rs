//! The store benchmark's ceiling: raw SQLite (rusqlite, bundled) doing the same durable
//! writes and the same reads as the DynamoDB contenders, with no HTTP, no SigV4, no
//! DynamoDB semantics in between.
//!
//! It is built the way a single-node store on SQLite would be: `journal_mode=WAL`,
//! `synchronous=FULL` (SQLite's own durable setting: the write-ahead log is synced inside
//! every commit, before the write is acknowledged); one writer thread owns the
//! only read-write connection and group-commits every write queued since its last commit in
//! one transaction, then acknowledges each; every reading client has its own read-only
//! connection, which under WAL never waits for the writer. Items are stored as their
//! DynamoDB JSON text in one `WITHOUT ROWID` table keyed by `(pk, sk)`.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use rusqlite::{params, Connection, OpenFlags};

/// The most writes committed in one transaction (the same bound serverful's backend uses).
const MAX_GROUP: usize = 512;

/// One write waiting for the writer thread.
struct WriteJob {
    pk: String,
    sk: String,
    item: String,
    reply: SyncSender<Result<(), String>>,
}

/// The database and its writer thread. Dropping it lets the writer finish and stop.
pub struct Ceiling {
    path: PathBuf,
    jobs: Option<Sender<WriteJob>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Ceiling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ceiling").field("path", &self.path).finish()
    }
}

impl Ceiling {
    /// Opens (creating if needed) `dir/ceiling.sqlite3` and starts the writer thread.
    pub fn open(dir: &Path) -> Result<Ceiling, String> {
        std::fs::create_dir_all(dir)
            .map_err(|error| format!("create {}: {error}", dir.display()))?;
        let path = dir.join("ceiling.sqlite3");
        let connection =
            Connection::open(&path).map_err(|error| format!("open {}: {error}", path.display()))?;
        let setup = || -> rusqlite::Result<()> {
            connection.pragma_update(None, "journal_mode", "WAL")?;
            connection.pragma_update(None, "synchronous", "FULL")?;
            connection.execute_batch(
                "CREATE TABLE IF NOT EXISTS items (
                    pk TEXT NOT NULL,
                    sk TEXT NOT NULL,
                    item TEXT NOT NULL,
                    PRIMARY KEY (pk, sk)
                ) WITHOUT ROWID;",
            )
        };
        setup().map_err(|error| format!("set up {}: {error}", path.display()))?;
        let (jobs, queue) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("ceiling-writer".to_owned())
            .spawn(move || write_loop(connection, queue))
            .map_err(|error| format!("start the writer thread: {error}"))?;
        Ok(Ceiling {
            path,
            jobs: Some(jobs),
            writer: Some(writer),
        })
    }

    /// Writes one item and returns once its commit is durable.
    pub fn put(&self, pk: String, sk: String, item: String) -> Result<(), String> {
        let (reply, answer) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or("the writer has stopped")?;
        jobs.send(WriteJob {
            pk,
            sk,
            item,
            reply,
        })
        .map_err(|_| "the writer has stopped".to_owned())?;
        answer
            .recv()
            .map_err(|_| "the writer stopped before committing".to_owned())?
    }

    /// A read-only connection for one reading client.
    pub fn reader(&self) -> Result<Reader, String> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|error| format!("open {} to read: {error}", self.path.display()))?;
        Ok(Reader { connection })
    }
}

impl Drop for Ceiling {
    fn drop(&mut self) {
        // Closing the queue ends the writer's loop once it has drained it.
        self.jobs = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The writer thread: takes every queued write, commits them together, acknowledges each.
fn write_loop(mut connection: Connection, queue: Receiver<WriteJob>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let outcome = commit_group(&mut connection, &group).map_err(|error| error.to_string());
        for job in group {
            let _ = job.reply.send(outcome.clone());
        }
    }
}

fn commit_group(connection: &mut Connection, group: &[WriteJob]) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    {
        let mut insert = transaction
            .prepare_cached("INSERT OR REPLACE INTO items (pk, sk, item) VALUES (?1, ?2, ?3)")?;
        for job in group {
            insert.execute(params![job.pk, job.sk, job.item])?;
        }
    }
    transaction.commit()
}

/// One client's read-only connection.
pub struct Reader {
    connection: Connection,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

impl Reader {
    /// The item stored under `pk`/`sk`, if any.
    pub fn get(&self, pk: &str, sk: &str) -> Result<Option<String>, String> {
        let mut select = self
            .connection
            .prepare_cached("SELECT item FROM items WHERE pk = ?1 AND sk = ?2")
            .map_err(|error| error.to_string())?;
        let mut rows = select
            .query(params![pk, sk])
            .map_err(|error| error.to_string())?;
        match rows.next().map_err(|error| error.to_string())? {
            Some(row) => row.get(0).map(Some).map_err(|error| error.to_string()),
            None => Ok(None),
        }
    }

    /// Every item of partition `pk`, in sort-key order.
    pub fn query(&self, pk: &str) -> Result<Vec<String>, String> {
        let mut select = self
            .connection
            .prepare_cached("SELECT item FROM items WHERE pk = ?1 ORDER BY sk")
            .map_err(|error| error.to_string())?;
        let rows = select
            .query_map(params![pk], |row| row.get(0))
            .map_err(|error| error.to_string())?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
            .map_err(|error| error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_read_back() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let ceiling = Ceiling::open(dir.path()).expect("open");
        ceiling
            .put("p".into(), "0001".into(), "second".into())
            .expect("put");
        ceiling
            .put("p".into(), "0000".into(), "first".into())
            .expect("put");
        let reader = ceiling.reader().expect("reader");
        assert_eq!(
            reader.get("p", "0000").expect("get").as_deref(),
            Some("first")
        );
        assert_eq!(reader.get("p", "0002").expect("get"), None);
        assert_eq!(reader.query("p").expect("query"), ["first", "second"]);
    }
}
