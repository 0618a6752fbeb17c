//! The platform's durable state: which stacks exist, their versions and which one is
//! current, behind [`StateBackend`] so that cluster mode can keep it in PostgreSQL;
//! [`SqliteState`] keeps it in `DATA/platform.sqlite`.
//!
//! A version is recorded with everything needed to run it again without the user's
//! source: the folder its source was copied to (immutable), its parameters, and what it
//! was deployed from, so that a restart or a rollback starts exactly that version. Each
//! stack's access keys (what its functions sign AWS requests with) are kept beside it,
//! made on its first deploy and forgotten with it.
//!
//! The database carries its schema version (`PRAGMA user_version`); opening it applies the
//! migrations it has not had yet, so a data folder written by an older Serverful keeps
//! working.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serverful_aws::Credentials;

/// The keys a stack's functions sign AWS requests with: a key pair and the session token
/// that goes with it, as a Lambda function's role session gives it (`AWS_SESSION_TOKEN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackCredentials {
    pub credentials: Credentials,
    pub session_token: String,
}

impl StackCredentials {
    /// A fresh pair and token.
    pub fn generate() -> StackCredentials {
        StackCredentials {
            credentials: serverful_aws::credentials::generate_credentials(),
            session_token: serverful_aws::credentials::generate_session_token(),
        }
    }
}

/// One deployed version of a stack.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VersionRecord {
    pub stack: String,
    /// 1, 2, 3...: never reused within a stack.
    pub number: u64,
    /// RFC 3339, UTC.
    pub deployed_at: String,
    /// What it was deployed from: a folder path, a zip and its digest, a git URL and commit.
    pub source: String,
    /// The content hash of the source, so that an unchanged redeploy is "no changes".
    pub digest: String,
    /// The immutable folder holding the version's source (its template and code).
    pub source_dir: PathBuf,
    /// The template file inside `source_dir` (or the live folder, under `up`).
    pub template_path: PathBuf,
    /// `--parameter-overrides` the version was deployed with.
    pub parameters: BTreeMap<String, String>,
}

/// A stack as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRecord {
    pub name: String,
    /// The version serving now.
    pub current: u64,
    /// Every version kept, oldest first.
    pub versions: Vec<VersionRecord>,
}

impl StackRecord {
    pub fn version(&self, number: u64) -> Option<&VersionRecord> {
        self.versions
            .iter()
            .find(|version| version.number == number)
    }

    pub fn current_version(&self) -> Option<&VersionRecord> {
        self.version(self.current)
    }
}

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("platform state {}: failed to {action}: {message}", path.display())]
pub struct StateError {
    pub path: PathBuf,
    pub action: String,
    pub message: String,
}

/// Where stacks and versions are kept. Every method is one transaction: a crash leaves
/// either the old state or the new one.
pub trait StateBackend: Send + Sync {
    /// Every stack, with its versions.
    fn stacks(&self) -> Result<Vec<StackRecord>, StateError>;
    /// Records `version` (a new number of its stack) and makes it the stack's current one.
    fn add_version(&self, version: &VersionRecord) -> Result<(), StateError>;
    /// Makes `number` the current version of `stack` (a rollback).
    fn set_current(&self, stack: &str, number: u64) -> Result<(), StateError>;
    /// Forgets a stack, its versions and its access keys.
    fn delete_stack(&self, stack: &str) -> Result<(), StateError>;
    /// The access keys of `stack`'s functions: those recorded, or else `fresh`, recorded
    /// now. Each stack has one pair for its whole life, across deploys and restarts.
    fn stack_keys(
        &self,
        stack: &str,
        fresh: StackCredentials,
    ) -> Result<StackCredentials, StateError>;
    /// Forgets the versions of `stack` older than the newest `keep` (never the current one),
    /// returning those forgotten so their folders can be removed.
    fn prune_versions(&self, stack: &str, keep: usize) -> Result<Vec<VersionRecord>, StateError>;
}

/// [`StateBackend`] in a SQLite database.
pub struct SqliteState {
    path: PathBuf,
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteState")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The schema's migrations, oldest first: a database at `user_version` N has had the
/// first N. The first is the schema of data folders from before versioning, which had
/// these tables (hence `IF NOT EXISTS`) and `user_version` 0.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE IF NOT EXISTS stacks (
        name TEXT PRIMARY KEY,
        current INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS versions (
        stack TEXT NOT NULL,
        number INTEGER NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (stack, number)
    );
    ",
    // Each stack's access keys. A stack deployed before keys existed gets its pair when
    // it next starts.
    "
    CREATE TABLE stack_keys (
        stack TEXT PRIMARY KEY,
        access_key_id TEXT NOT NULL UNIQUE,
        secret_access_key TEXT NOT NULL,
        session_token TEXT NOT NULL
    );
    ",
];

/// Brings the database's schema up to date, one transaction per migration.
fn migrate(connection: &mut Connection) -> Result<(), rusqlite::Error> {
    let applied: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (number, migration) in MIGRATIONS.iter().enumerate() {
        let version = i64::try_from(number).unwrap_or(i64::MAX) + 1;
        if version <= applied {
            continue;
        }
        let transaction = connection.transaction()?;
        transaction.execute_batch(migration)?;
        // PRAGMA takes no parameters; the number is ours.
        transaction.execute_batch(&format!("PRAGMA user_version = {version}"))?;
        transaction.commit()?;
    }
    Ok(())
}

impl SqliteState {
    /// Opens (or creates) the state database at `path`.
    pub fn open(path: &Path) -> Result<SqliteState, StateError> {
        let fail = |action: &str, error: rusqlite::Error| StateError {
            path: path.to_owned(),
            action: action.to_owned(),
            message: error.to_string(),
        };
        let mut connection = Connection::open(path).map_err(|error| fail("open", error))?;
        connection
            .execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
            .map_err(|error| fail("set the journal mode", error))?;
        migrate(&mut connection).map_err(|error| fail("update the schema", error))?;
        Ok(SqliteState {
            path: path.to_owned(),
            connection: Mutex::new(connection),
        })
    }

    fn with<T>(
        &self,
        action: &str,
        run: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StateError> {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        run(&mut connection).map_err(|error| StateError {
            path: self.path.clone(),
            action: action.to_owned(),
            message: error.to_string(),
        })
    }
}

fn decode(record: &str) -> Result<VersionRecord, rusqlite::Error> {
    serde_json::from_str(record).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(error))
    })
}

fn encode(version: &VersionRecord) -> Result<String, rusqlite::Error> {
    serde_json::to_string(version)
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))
}

impl StateBackend for SqliteState {
    fn stacks(&self) -> Result<Vec<StackRecord>, StateError> {
        self.with("read the stacks", |connection| {
            let mut stacks: Vec<StackRecord> = connection
                .prepare("SELECT name, current FROM stacks ORDER BY name")?
                .query_map([], |row| {
                    Ok(StackRecord {
                        name: row.get(0)?,
                        current: row.get::<_, i64>(1)?.try_into().unwrap_or_default(),
                        versions: Vec::new(),
                    })
                })?
                .collect::<Result<_, _>>()?;
            let mut versions = connection
                .prepare("SELECT record FROM versions WHERE stack = ?1 ORDER BY number")?;
            for stack in &mut stacks {
                stack.versions = versions
                    .query_map([&stack.name], |row| row.get::<_, String>(0))?
                    .map(|record| record.and_then(|record| decode(&record)))
                    .collect::<Result<_, _>>()?;
            }
            Ok(stacks)
        })
    }

    fn add_version(&self, version: &VersionRecord) -> Result<(), StateError> {
        let record = self.with("encode the version", |_| encode(version))?;
        self.with("record the version", |connection| {
            let transaction = connection.transaction()?;
            transaction.execute(
                "INSERT INTO versions (stack, number, record) VALUES (?1, ?2, ?3)",
                params![version.stack, version.number as i64, record],
            )?;
            transaction.execute(
                "INSERT INTO stacks (name, current) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET current = excluded.current",
                params![version.stack, version.number as i64],
            )?;
            transaction.commit()
        })
    }

    fn set_current(&self, stack: &str, number: u64) -> Result<(), StateError> {
        self.with("switch the current version", |connection| {
            connection.execute(
                "UPDATE stacks SET current = ?2 WHERE name = ?1",
                params![stack, number as i64],
            )?;
            Ok(())
        })
    }

    fn delete_stack(&self, stack: &str) -> Result<(), StateError> {
        self.with("delete the stack", |connection| {
            let transaction = connection.transaction()?;
            transaction.execute("DELETE FROM versions WHERE stack = ?1", [stack])?;
            transaction.execute("DELETE FROM stacks WHERE name = ?1", [stack])?;
            transaction.execute("DELETE FROM stack_keys WHERE stack = ?1", [stack])?;
            transaction.commit()
        })
    }

    fn stack_keys(
        &self,
        stack: &str,
        fresh: StackCredentials,
    ) -> Result<StackCredentials, StateError> {
        self.with("record the stack's keys", |connection| {
            let transaction = connection.transaction()?;
            transaction.execute(
                "INSERT INTO stack_keys (stack, access_key_id, secret_access_key, session_token)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT(stack) DO NOTHING",
                params![
                    stack,
                    fresh.credentials.access_key_id,
                    fresh.credentials.secret_access_key,
                    fresh.session_token
                ],
            )?;
            let keys = transaction.query_row(
                "SELECT access_key_id, secret_access_key, session_token
                 FROM stack_keys WHERE stack = ?1",
                [stack],
                |row| {
                    Ok(StackCredentials {
                        credentials: Credentials {
                            access_key_id: row.get(0)?,
                            secret_access_key: row.get(1)?,
                        },
                        session_token: row.get(2)?,
                    })
                },
            )?;
            transaction.commit()?;
            Ok(keys)
        })
    }

    fn prune_versions(&self, stack: &str, keep: usize) -> Result<Vec<VersionRecord>, StateError> {
        self.with("prune old versions", |connection| {
            let transaction = connection.transaction()?;
            let current: Option<i64> = transaction
                .query_row(
                    "SELECT current FROM stacks WHERE name = ?1",
                    [stack],
                    |row| row.get(0),
                )
                .optional()?;
            let Some(current) = current else {
                return Ok(Vec::new());
            };
            let old: Vec<VersionRecord> = {
                let mut statement = transaction.prepare(
                    "SELECT record FROM versions WHERE stack = ?1 AND number != ?2
                     ORDER BY number DESC LIMIT -1 OFFSET ?3",
                )?;
                let rows = statement
                    .query_map(
                        params![stack, current, keep.saturating_sub(1) as i64],
                        |row| row.get::<_, String>(0),
                    )?
                    .map(|record| record.and_then(|record| decode(&record)))
                    .collect::<Result<Vec<_>, _>>()?;
                rows
            };
            for version in &old {
                transaction.execute(
                    "DELETE FROM versions WHERE stack = ?1 AND number = ?2",
                    params![stack, version.number as i64],
                )?;
            }
            transaction.commit()?;
            Ok(old)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(stack: &str, number: u64) -> VersionRecord {
        VersionRecord {
            stack: stack.to_owned(),
            number,
            deployed_at: "2026-12-07T00:00:00Z".to_owned(),
            source: "/apps/hello".to_owned(),
            digest: format!("digest{number}"),
            source_dir: PathBuf::from(format!("/data/stacks/{stack}/sources/{number}")),
            template_path: PathBuf::from("template.yaml"),
            parameters: BTreeMap::from([("Stage".to_owned(), "prod".to_owned())]),
        }
    }

    #[test]
    fn versions_survive_a_reopen_and_the_current_one_moves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("platform.sqlite");
        {
            let state = SqliteState::open(&path).expect("open");
            state.add_version(&version("hello", 1)).expect("add");
            state.add_version(&version("hello", 2)).expect("add");
            state.add_version(&version("other", 1)).expect("add");
            state.set_current("hello", 1).expect("rollback");
        }
        let state = SqliteState::open(&path).expect("reopen");
        let stacks = state.stacks().expect("stacks");
        assert_eq!(stacks.len(), 2);
        assert_eq!(stacks[0].name, "hello");
        assert_eq!(stacks[0].current, 1);
        assert_eq!(
            stacks[0].versions,
            [version("hello", 1), version("hello", 2)]
        );
        assert_eq!(stacks[0].current_version(), Some(&version("hello", 1)));
        state.delete_stack("hello").expect("delete");
        let names: Vec<String> = state
            .stacks()
            .expect("stacks")
            .into_iter()
            .map(|stack| stack.name)
            .collect();
        assert_eq!(names, ["other"]);
    }

    #[test]
    fn a_stacks_keys_are_made_once_and_forgotten_with_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("platform.sqlite");
        let first = StackCredentials::generate();
        {
            let state = SqliteState::open(&path).expect("open");
            assert_eq!(
                state.stack_keys("hello", first.clone()).expect("keys"),
                first
            );
        }
        let state = SqliteState::open(&path).expect("reopen");
        let again = StackCredentials::generate();
        assert_eq!(
            state.stack_keys("hello", again.clone()).expect("keys"),
            first
        );
        let other = state.stack_keys("other", again.clone()).expect("keys");
        assert_eq!(other, again);
        state.delete_stack("hello").expect("delete");
        let fresh = StackCredentials::generate();
        assert_eq!(
            state.stack_keys("hello", fresh.clone()).expect("keys"),
            fresh
        );
        assert_eq!(state.stack_keys("other", fresh).expect("keys"), again);
    }

    /// A data folder from before the schema had versions: its stacks are kept, and its
    /// stacks get keys.
    #[test]
    fn an_unversioned_database_is_migrated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("platform.sqlite");
        {
            let connection = Connection::open(&path).expect("open");
            connection
                .execute_batch(
                    "CREATE TABLE stacks (name TEXT PRIMARY KEY, current INTEGER NOT NULL);
                     CREATE TABLE versions (stack TEXT NOT NULL, number INTEGER NOT NULL,
                         record TEXT NOT NULL, PRIMARY KEY (stack, number));",
                )
                .expect("the old schema");
            let record = encode(&version("hello", 1)).expect("encode");
            connection
                .execute(
                    "INSERT INTO versions (stack, number, record) VALUES ('hello', 1, ?1)",
                    [record],
                )
                .expect("a version");
            connection
                .execute("INSERT INTO stacks (name, current) VALUES ('hello', 1)", [])
                .expect("a stack");
        }
        let state = SqliteState::open(&path).expect("migrate");
        assert_eq!(
            state.stacks().expect("stacks")[0].current_version(),
            Some(&version("hello", 1))
        );
        let keys = StackCredentials::generate();
        assert_eq!(state.stack_keys("hello", keys.clone()).expect("keys"), keys);
        drop(state);
        // Opening it again applies nothing twice.
        let state = SqliteState::open(&path).expect("reopen");
        let user_version: i64 = state
            .with("read the schema version", |connection| {
                connection.query_row("PRAGMA user_version", [], |row| row.get(0))
            })
            .expect("user_version");
        assert_eq!(user_version, MIGRATIONS.len() as i64);
    }

    #[test]
    fn pruning_keeps_the_newest_and_the_current() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = SqliteState::open(&dir.path().join("platform.sqlite")).expect("open");
        for number in 1..=6 {
            state.add_version(&version("hello", number)).expect("add");
        }
        state.set_current("hello", 2).expect("rollback");
        let pruned: Vec<u64> = state
            .prune_versions("hello", 3)
            .expect("prune")
            .iter()
            .map(|version| version.number)
            .collect();
        assert_eq!(pruned, [4, 3, 1]);
        let kept: Vec<u64> = state.stacks().expect("stacks")[0]
            .versions
            .iter()
            .map(|version| version.number)
            .collect();
        assert_eq!(kept, [2, 5, 6]);
    }
}
