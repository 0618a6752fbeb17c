//! Stream mappings' checkpoints ([`serverful_streams::CheckpointStore`]) in the shared
//! database, so that the node that takes over a mapping's lease continues where the
//! last owner got to.

use std::sync::Arc;

use serverful_streams::{Checkpoint, CheckpointError, CheckpointStore, WindowState};

use crate::pool::{Database, DatabaseError};

const MIGRATIONS: &[&str] = &["
CREATE TABLE IF NOT EXISTS stream_checkpoints (
    mapping text PRIMARY KEY,
    stream_arn text NOT NULL,
    sequence bigint NOT NULL,
    window_start bigint,
    window_state text,
    updated_at timestamptz NOT NULL
);
"];

/// A checkpoint operation's failure.
struct Failure(CheckpointError);

impl From<DatabaseError> for Failure {
    fn from(error: DatabaseError) -> Failure {
        Failure(CheckpointError {
            action: "reach the checkpoints' database",
            message: error.to_string(),
        })
    }
}

fn failed(action: &'static str) -> impl Fn(postgres::Error) -> Failure {
    move |error| {
        Failure(CheckpointError {
            action,
            message: error.to_string(),
        })
    }
}

/// The checkpoints of every node's stream mappings.
#[derive(Debug)]
pub struct PostgresCheckpoints {
    database: Arc<Database>,
}

impl PostgresCheckpoints {
    /// Creates the table if need be.
    pub fn new(database: Arc<Database>) -> Result<PostgresCheckpoints, CheckpointError> {
        database
            .migrate("stream_checkpoints", MIGRATIONS)
            .map_err(|error| CheckpointError {
                action: "create the stream checkpoints",
                message: error.to_string(),
            })?;
        Ok(PostgresCheckpoints { database })
    }
}

impl CheckpointStore for PostgresCheckpoints {
    fn load(&self, mapping: &str) -> Result<Option<Checkpoint>, CheckpointError> {
        let mapping = mapping.to_owned();
        self.database
            .run(move |client| {
                let action = "read a stream checkpoint";
                let Some(row) = client
                    .query_opt(
                        "SELECT stream_arn, sequence, window_start, window_state FROM stream_checkpoints WHERE mapping = $1",
                        &[&mapping],
                    )
                    .map_err(failed(action))?
                else {
                    return Ok(None);
                };
                let window = match (row.get::<_, Option<i64>>(2), row.get::<_, Option<String>>(3)) {
                    (Some(start), Some(state)) => Some(WindowState {
                        start,
                        state: serde_json::from_str(&state).map_err(|error| {
                            Failure(CheckpointError {
                                action,
                                message: error.to_string(),
                            })
                        })?,
                    }),
                    _ => None,
                };
                Ok(Some(Checkpoint {
                    stream_arn: row.get(0),
                    sequence: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
                    window,
                }))
            })
            .map_err(|failure: Failure| failure.0)
    }

    fn save(&self, mapping: &str, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let mapping = mapping.to_owned();
        let stream_arn = checkpoint.stream_arn.clone();
        let sequence = i64::try_from(checkpoint.sequence).unwrap_or(i64::MAX);
        let window_start = checkpoint.window.as_ref().map(|window| window.start);
        let window_state = checkpoint
            .window
            .as_ref()
            .map(|window| window.state.to_string());
        self.database
            .run(move |client| {
                client
                    .execute(
                        "INSERT INTO stream_checkpoints (mapping, stream_arn, sequence, window_start, window_state, updated_at)
                         VALUES ($1, $2, $3, $4, $5, now())
                         ON CONFLICT (mapping) DO UPDATE SET stream_arn = EXCLUDED.stream_arn,
                           sequence = EXCLUDED.sequence, window_start = EXCLUDED.window_start,
                           window_state = EXCLUDED.window_state, updated_at = now()",
                        &[&mapping, &stream_arn, &sequence, &window_start, &window_state],
                    )
                    .map_err(failed("save a stream checkpoint"))?;
                Ok(())
            })
            .map_err(|failure: Failure| failure.0)
    }

    fn delete(&self, mapping: &str) -> Result<(), CheckpointError> {
        let mapping = mapping.to_owned();
        self.database
            .run(move |client| {
                client
                    .execute(
                        "DELETE FROM stream_checkpoints WHERE mapping = $1",
                        &[&mapping],
                    )
                    .map_err(failed("delete a stream checkpoint"))?;
                Ok(())
            })
            .map_err(|failure: Failure| failure.0)
    }
}
