//! Where each mapping has read its stream to: the sequence number after which nothing is
//! left to deliver. Behind [`CheckpointStore`], with a SQLite file of its own in the data
//! folder ([`SqliteCheckpoints`]) and an in-memory one for tests.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

/// How far a mapping got in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The stream read (a table's stream changes when it is turned off and on again: a
    /// checkpoint of another stream does not apply).
    pub stream_arn: String,
    /// Every record up to and including this sequence number is done.
    pub sequence: u64,
    /// With a tumbling window: the window open at that point and the state the function
    /// returned so far, so that a restart continues the window where it was.
    pub window: Option<WindowState>,
}

/// An open tumbling window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowState {
    /// Its start, seconds since the epoch (a multiple of the window's length).
    pub start: i64,
    /// The `state` the function returned last (a JSON object).
    pub state: serde_json::Value,
}

impl Eq for WindowState {}

/// A checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{action}: {message}")]
pub struct CheckpointError {
    pub action: &'static str,
    pub message: String,
}

impl CheckpointError {
    fn new(action: &'static str, error: impl std::fmt::Display) -> CheckpointError {
        CheckpointError {
            action,
            message: error.to_string(),
        }
    }
}

/// Durable checkpoints by mapping key. A saved checkpoint survives `kill -9` once `save`
/// has returned.
pub trait CheckpointStore: Send + Sync + 'static {
    /// The mapping's checkpoint, if it has one.
    fn load(&self, mapping: &str) -> Result<Option<Checkpoint>, CheckpointError>;
    /// Replaces the mapping's checkpoint.
    fn save(&self, mapping: &str, checkpoint: &Checkpoint) -> Result<(), CheckpointError>;
    /// Forgets the mapping's checkpoint (the mapping was deleted).
    fn delete(&self, mapping: &str) -> Result<(), CheckpointError>;
}

/// Checkpoints in memory: for tests, lost on exit.
#[derive(Debug, Default)]
pub struct MemoryCheckpoints {
    checkpoints: Mutex<HashMap<String, Checkpoint>>,
}

impl CheckpointStore for MemoryCheckpoints {
    fn load(&self, mapping: &str) -> Result<Option<Checkpoint>, CheckpointError> {
        let checkpoints = self
            .checkpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(checkpoints.get(mapping).cloned())
    }

    fn save(&self, mapping: &str, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let mut checkpoints = self
            .checkpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        checkpoints.insert(mapping.to_owned(), checkpoint.clone());
        Ok(())
    }

    fn delete(&self, mapping: &str) -> Result<(), CheckpointError> {
        let mut checkpoints = self
            .checkpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        checkpoints.remove(mapping);
        Ok(())
    }
}

/// Checkpoints in a SQLite file (WAL, `synchronous=FULL`: a saved checkpoint is on disk).
pub struct SqliteCheckpoints {
    connection: Mutex<rusqlite::Connection>,
}

impl std::fmt::Debug for SqliteCheckpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteCheckpoints").finish_non_exhaustive()
    }
}

impl SqliteCheckpoints {
    /// Opens (or creates) the checkpoint file.
    pub fn open(path: &Path) -> Result<SqliteCheckpoints, CheckpointError> {
        let action = "open the stream checkpoints";
        let connection = rusqlite::Connection::open(path)
            .map_err(|error| CheckpointError::new(action, error))?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA busy_timeout = 5000;
                 CREATE TABLE IF NOT EXISTS stream_checkpoints (
                     mapping TEXT PRIMARY KEY,
                     stream_arn TEXT NOT NULL,
                     sequence INTEGER NOT NULL,
                     updated_millis INTEGER NOT NULL
                 );",
            )
            .map_err(|error| CheckpointError::new(action, error))?;
        // Files from before tumbling windows lack the window's columns.
        let has_window: bool = connection
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('stream_checkpoints') WHERE name = 'window_start'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map(|count| count > 0)
            .map_err(|error| CheckpointError::new(action, error))?;
        if !has_window {
            connection
                .execute_batch(
                    "ALTER TABLE stream_checkpoints ADD COLUMN window_start INTEGER;
                     ALTER TABLE stream_checkpoints ADD COLUMN window_state TEXT;",
                )
                .map_err(|error| CheckpointError::new(action, error))?;
        }
        Ok(SqliteCheckpoints {
            connection: Mutex::new(connection),
        })
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        // A failed statement leaves the connection usable.
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

impl CheckpointStore for SqliteCheckpoints {
    fn load(&self, mapping: &str) -> Result<Option<Checkpoint>, CheckpointError> {
        let action = "read a stream checkpoint";
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT stream_arn, sequence, window_start, window_state FROM stream_checkpoints WHERE mapping = ?1",
            )
            .map_err(|error| CheckpointError::new(action, error))?;
        let mut rows = statement
            .query([mapping])
            .map_err(|error| CheckpointError::new(action, error))?;
        let Some(row) = rows
            .next()
            .map_err(|error| CheckpointError::new(action, error))?
        else {
            return Ok(None);
        };
        let stream_arn: String = row
            .get(0)
            .map_err(|error| CheckpointError::new(action, error))?;
        let sequence: i64 = row
            .get(1)
            .map_err(|error| CheckpointError::new(action, error))?;
        let window_start: Option<i64> = row
            .get(2)
            .map_err(|error| CheckpointError::new(action, error))?;
        let window_state: Option<String> = row
            .get(3)
            .map_err(|error| CheckpointError::new(action, error))?;
        let window = match (window_start, window_state) {
            (Some(start), Some(state)) => Some(WindowState {
                start,
                state: serde_json::from_str(&state)
                    .map_err(|error| CheckpointError::new(action, error))?,
            }),
            _ => None,
        };
        Ok(Some(Checkpoint {
            stream_arn,
            sequence: u64::try_from(sequence).unwrap_or(0),
            window,
        }))
    }

    fn save(&self, mapping: &str, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let sequence = i64::try_from(checkpoint.sequence)
            .map_err(|error| CheckpointError::new("save a stream checkpoint", error))?;
        self.connection()
            .prepare_cached(
                "INSERT INTO stream_checkpoints
                     (mapping, stream_arn, sequence, updated_millis, window_start, window_state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (mapping) DO UPDATE SET
                     stream_arn = excluded.stream_arn,
                     sequence = excluded.sequence,
                     updated_millis = excluded.updated_millis,
                     window_start = excluded.window_start,
                     window_state = excluded.window_state",
            )
            .and_then(|mut statement| {
                statement.execute(rusqlite::params![
                    mapping,
                    checkpoint.stream_arn,
                    sequence,
                    now_millis(),
                    checkpoint.window.as_ref().map(|window| window.start),
                    checkpoint
                        .window
                        .as_ref()
                        .map(|window| window.state.to_string()),
                ])
            })
            .map_err(|error| CheckpointError::new("save a stream checkpoint", error))?;
        Ok(())
    }

    fn delete(&self, mapping: &str) -> Result<(), CheckpointError> {
        self.connection()
            .execute(
                "DELETE FROM stream_checkpoints WHERE mapping = ?1",
                [mapping],
            )
            .map_err(|error| CheckpointError::new("delete a stream checkpoint", error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_checkpoints_survive_reopening() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("streams.sqlite");
        let checkpoints = SqliteCheckpoints::open(&path).expect("open");
        assert_eq!(checkpoints.load("app/F/E").expect("load"), None);
        let checkpoint = Checkpoint {
            stream_arn: "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x".to_owned(),
            sequence: 42,
            window: None,
        };
        checkpoints.save("app/F/E", &checkpoint).expect("save");
        checkpoints
            .save(
                "app/F/E",
                &Checkpoint {
                    sequence: 43,
                    window: Some(WindowState {
                        start: 60,
                        state: serde_json::json!({"count": 2}),
                    }),
                    ..checkpoint.clone()
                },
            )
            .expect("save again");
        drop(checkpoints);
        let checkpoints = SqliteCheckpoints::open(&path).expect("reopen");
        assert_eq!(
            checkpoints.load("app/F/E").expect("load"),
            Some(Checkpoint {
                sequence: 43,
                window: Some(WindowState {
                    start: 60,
                    state: serde_json::json!({"count": 2}),
                }),
                ..checkpoint
            })
        );
        checkpoints.delete("app/F/E").expect("delete");
        assert_eq!(checkpoints.load("app/F/E").expect("load"), None);
    }
}
