//! [`SqliteSchedules`]: the schedule state in `DATA/schedules.sqlite` (WAL,
//! `synchronous=FULL`, since a claimed tick must survive `kill -9` or it would fire again).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use crate::backend::{BackendError, ScheduleBackend, ScheduleKey, ScheduleRecord};

/// The file name in the data folder.
pub const FILE_NAME: &str = "schedules.sqlite";

pub struct SqliteSchedules {
    path: PathBuf,
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteSchedules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteSchedules")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteSchedules {
    /// Opens (or creates) `DATA/schedules.sqlite` in `data_dir`.
    pub fn open_in(data_dir: &Path) -> Result<SqliteSchedules, BackendError> {
        SqliteSchedules::open(&data_dir.join(FILE_NAME))
    }

    pub fn open(path: &Path) -> Result<SqliteSchedules, BackendError> {
        let error = |action: &'static str| {
            let path = path.display().to_string();
            move |error: rusqlite::Error| BackendError::Storage {
                action,
                path,
                message: error.to_string(),
            }
        };
        let connection = Connection::open(path).map_err(error("open the database"))?;
        connection
            .execute_batch(
                "PRAGMA journal_mode=WAL;
                 PRAGMA synchronous=FULL;
                 PRAGMA busy_timeout=5000;
                 CREATE TABLE IF NOT EXISTS schedules (
                     stack TEXT NOT NULL,
                     name TEXT NOT NULL,
                     expression TEXT NOT NULL,
                     anchor_ms INTEGER NOT NULL,
                     last_tick_ms INTEGER,
                     PRIMARY KEY (stack, name)
                 ) WITHOUT ROWID;",
            )
            .map_err(error("create the schema"))?;
        Ok(SqliteSchedules {
            path: path.to_owned(),
            connection: Mutex::new(connection),
        })
    }

    fn error(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> BackendError + '_ {
        move |error| BackendError::Storage {
            action,
            path: self.path.display().to_string(),
            message: error.to_string(),
        }
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl ScheduleBackend for SqliteSchedules {
    fn register(
        &self,
        key: &ScheduleKey,
        expression: &str,
        anchor: DateTime<Utc>,
    ) -> Result<ScheduleRecord, BackendError> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(self.error("register a schedule"))?;
        let existing: Option<(String, i64, Option<i64>)> = transaction
            .query_row(
                "SELECT expression, anchor_ms, last_tick_ms FROM schedules WHERE stack = ?1 AND name = ?2",
                params![key.stack, key.name],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(self.error("read a schedule"))?;
        let record = match existing {
            Some((known, anchor_ms, last_tick_ms)) if known == expression => ScheduleRecord {
                anchor: from_ms(anchor_ms),
                last_tick: last_tick_ms.map(from_ms),
            },
            existing => {
                let last_tick_ms = existing.and_then(|(_, _, last_tick_ms)| last_tick_ms);
                transaction
                    .execute(
                        "INSERT INTO schedules (stack, name, expression, anchor_ms, last_tick_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (stack, name) DO UPDATE SET expression = ?3, anchor_ms = ?4",
                        params![
                            key.stack,
                            key.name,
                            expression,
                            anchor.timestamp_millis(),
                            last_tick_ms
                        ],
                    )
                    .map_err(self.error("record a schedule"))?;
                ScheduleRecord {
                    anchor,
                    last_tick: last_tick_ms.map(from_ms),
                }
            }
        };
        transaction
            .commit()
            .map_err(self.error("record a schedule"))?;
        Ok(record)
    }

    fn claim(&self, key: &ScheduleKey, tick: DateTime<Utc>) -> Result<bool, BackendError> {
        let tick_ms = tick.timestamp_millis();
        let changed = self
            .connection()
            .execute(
                "UPDATE schedules SET last_tick_ms = ?3
                 WHERE stack = ?1 AND name = ?2 AND (last_tick_ms IS NULL OR last_tick_ms < ?3)",
                params![key.stack, key.name, tick_ms],
            )
            .map_err(self.error("claim a tick"))?;
        Ok(changed == 1)
    }

    fn forget_stack(&self, stack: &str) -> Result<(), BackendError> {
        self.connection()
            .execute("DELETE FROM schedules WHERE stack = ?1", params![stack])
            .map_err(self.error("forget a stack's schedules"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_750_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn ticks_fire_once_and_survive_reopening() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let key = ScheduleKey {
            stack: "app".to_owned(),
            name: "tick".to_owned(),
        };
        let backend = SqliteSchedules::open_in(folder.path()).expect("open");
        let record = backend
            .register(&key, "rate(1 minute)", at(0))
            .expect("register");
        assert_eq!(
            record,
            ScheduleRecord {
                anchor: at(0),
                last_tick: None
            }
        );
        assert!(backend.claim(&key, at(60)).expect("claim"));
        assert!(!backend.claim(&key, at(60)).expect("claim again"));
        assert!(!backend.claim(&key, at(30)).expect("claim an earlier tick"));
        drop(backend);

        let backend = SqliteSchedules::open_in(folder.path()).expect("reopen");
        // The same expression keeps its anchor; a new one is anchored anew, and no tick
        // before the last fired one fires either way.
        let record = backend
            .register(&key, "rate(1 minute)", at(500))
            .expect("register");
        assert_eq!(
            record,
            ScheduleRecord {
                anchor: at(0),
                last_tick: Some(at(60))
            }
        );
        let record = backend
            .register(&key, "rate(2 minutes)", at(500))
            .expect("register");
        assert_eq!(
            record,
            ScheduleRecord {
                anchor: at(500),
                last_tick: Some(at(60))
            }
        );
        assert!(backend.claim(&key, at(620)).expect("claim"));

        backend.forget_stack("app").expect("forget");
        let record = backend
            .register(&key, "rate(2 minutes)", at(900))
            .expect("register");
        assert_eq!(
            record,
            ScheduleRecord {
                anchor: at(900),
                last_tick: None
            }
        );
    }
}
