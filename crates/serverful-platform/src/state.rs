//! The platform's durable state: which stacks exist, their versions and which one is
//! current, behind [`StateBackend`] so that cluster mode can keep it in PostgreSQL;
//! [`SqliteState`] keeps it in `DATA/platform.sqlite`.
//!
//! A version is recorded with everything needed to run it again without the user's
//! source: the folder its source was copied to (immutable), its parameters, what it
//! was deployed from, and the Lambda version number of each of its template's
//! `AWS::Lambda::Version`s, so that a restart or a rollback starts exactly that version.
//!
//! Beside the stack's own versions (deploys) are the Lambda versions its deploys
//! published, per function ([`FunctionVersionRecord`]), and the highest number each
//! function has had, so that numbers are never reused; and each stack's access keys
//! (what its functions sign AWS requests with), made on its first deploy and forgotten
//! with it. And the event-source mappings made at run time through the Lambda API
//! ([`EventSourceMappingRecord`]); those a template declares live in its versions.
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
    /// The Lambda version number of each `AWS::Lambda::Version` in the template (SAM's
    /// `AutoPublishAlias` ones too), as the deploy published or kept them. `None` for a
    /// deploy recorded before Serverful published versions: they are published when it
    /// next starts.
    #[serde(default)]
    pub lambda_versions: Option<Vec<DeployedVersion>>,
}

impl VersionRecord {
    /// Each version logical id's number, as `template::LoadOptions::version_numbers` takes them.
    pub fn version_numbers(&self) -> BTreeMap<String, u32> {
        self.lambda_versions
            .iter()
            .flatten()
            .map(|version| (version.logical_id.clone(), version.number))
            .collect()
    }
}

/// An `AWS::Lambda::Version` of a deploy's template and the number it has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeployedVersion {
    /// The resource's logical id (`MyFunctionVersion0a1b2c3d4e`, `MyVersion`).
    pub logical_id: String,
    /// The function's logical id.
    pub function: String,
    pub number: u32,
    /// What CloudFormation compares to tell an unchanged version resource from a new one
    /// (a hash of its properties, and for SAM's versions of the code): a later deploy
    /// whose version has the same logical id and identity keeps this number.
    pub identity: String,
}

/// A function version as Lambda keeps it once published: immutable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FunctionVersionRecord {
    pub stack: String,
    /// The function's logical id.
    pub function: String,
    /// 1, 2, 3... per function: never reused, also across rollbacks and pruning.
    pub number: u32,
    /// The `AWS::Lambda::Version` it was published for.
    pub logical_id: String,
    /// The deploy (the stack's [`VersionRecord::number`]) whose build it runs.
    pub deploy: u64,
    /// `Description` (SAM's `VersionDescription`); empty when unset, as Lambda shows it.
    pub description: String,
    /// Base64 SHA-256 of the code, as Lambda's `CodeSha256`.
    pub code_sha256: String,
    /// Hex SHA-256 of the rest of the function's configuration: with `code_sha256`, it
    /// tells whether another deploy runs this very function unchanged.
    pub config_sha256: String,
    /// RFC 3339, UTC.
    pub published_at: String,
    /// The configuration the Lambda API reports for it.
    pub settings: FunctionSettings,
}

/// A function's configuration as the Lambda API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FunctionSettings {
    /// The physical name (`FunctionName`).
    pub name: String,
    pub runtime: String,
    pub handler: String,
    pub timeout_secs: u32,
    pub memory_mb: u32,
    pub environment: BTreeMap<String, String>,
    pub architectures: Vec<String>,
    pub ephemeral_storage_mb: u32,
    /// Bytes of code (`CodeSize`).
    pub code_size: u64,
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

/// An event-source mapping made at run time (`CreateEventSourceMapping`), with its
/// settings as checked against Lambda's limits; defaults are Lambda's.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EventSourceMappingRecord {
    /// Lambda's `UUID`.
    pub uuid: String,
    /// The stack of the function it calls, and the function's logical id there.
    pub stack: String,
    pub function: String,
    /// The function's name (its ARN's last part), and the version or alias called.
    pub function_name: String,
    pub qualifier: Option<String>,
    /// `EventSourceArn` as given.
    pub event_source_arn: String,
    /// `TRIM_HORIZON`, `LATEST` or `AT_TIMESTAMP` (streams only).
    pub starting_position: Option<String>,
    pub starting_position_timestamp: Option<f64>,
    pub batch_size: u32,
    pub maximum_batching_window_secs: u32,
    /// -1: retry until the records expire.
    pub maximum_retry_attempts: i64,
    /// -1: records never expire.
    pub maximum_record_age_secs: i64,
    pub bisect_batch_on_function_error: bool,
    pub parallelization_factor: u32,
    /// 0: no tumbling window.
    #[serde(default)]
    pub tumbling_window_secs: u32,
    pub report_batch_item_failures: bool,
    /// `FilterCriteria.Filters[].Pattern`, each checked.
    pub filter_patterns: Vec<String>,
    /// `DestinationConfig.OnFailure.Destination`.
    pub on_failure: Option<String>,
    /// `ScalingConfig.MaximumConcurrency` (queues only).
    #[serde(default)]
    pub maximum_concurrency: Option<u32>,
    pub enabled: bool,
    /// When it was last created or changed, in seconds since the epoch.
    pub last_modified: f64,
}

/// Where stacks and versions are kept. Every method is one transaction: a crash leaves
/// either the old state or the new one.
pub trait StateBackend: Send + Sync {
    /// Every stack, with its versions.
    fn stacks(&self) -> Result<Vec<StackRecord>, StateError>;
    /// Records `version` (a new number of its stack) with the Lambda versions it
    /// published, and makes it the stack's current one.
    fn add_version(
        &self,
        version: &VersionRecord,
        published: &[FunctionVersionRecord],
    ) -> Result<(), StateError>;
    /// Records the Lambda versions of a deploy recorded before they existed (its
    /// `lambda_versions` was `None`), or as `up --watch` published more, with those it
    /// published.
    fn record_lambda_versions(
        &self,
        stack: &str,
        number: u64,
        lambda_versions: &[DeployedVersion],
        published: &[FunctionVersionRecord],
    ) -> Result<(), StateError>;
    /// Every Lambda version of `stack`'s functions, by function and number.
    fn function_versions(&self, stack: &str) -> Result<Vec<FunctionVersionRecord>, StateError>;
    /// The highest Lambda version number each function of `stack` has had (including
    /// versions since forgotten): the next one gets one more.
    fn highest_function_versions(&self, stack: &str) -> Result<BTreeMap<String, u32>, StateError>;
    /// Makes `number` the current version of `stack` (a rollback).
    fn set_current(&self, stack: &str, number: u64) -> Result<(), StateError>;
    /// Forgets a stack, its versions, its functions' Lambda versions (a new stack of the
    /// same name starts again at 1, as a new CloudFormation stack would) and its access
    /// keys.
    fn delete_stack(&self, stack: &str) -> Result<(), StateError>;
    /// The access keys of `stack`'s functions: those recorded, or else `fresh`, recorded
    /// now. Each stack has one pair for its whole life, across deploys and restarts.
    fn stack_keys(
        &self,
        stack: &str,
        fresh: StackCredentials,
    ) -> Result<StackCredentials, StateError>;
    /// Forgets the versions of `stack` older than the newest `keep`, returning those
    /// forgotten so their folders can be removed, and with them the Lambda versions they
    /// published. Never the current one, nor one whose build runs a Lambda version that a
    /// kept one names (its aliases would point at nothing).
    fn prune_versions(&self, stack: &str, keep: usize) -> Result<Vec<VersionRecord>, StateError>;
    /// The event-source mappings made at run time.
    fn event_source_mappings(&self) -> Result<Vec<EventSourceMappingRecord>, StateError>;
    /// Records a mapping made or changed at run time (by its UUID).
    fn put_event_source_mapping(
        &self,
        mapping: &EventSourceMappingRecord,
    ) -> Result<(), StateError>;
    /// Forgets a mapping made at run time.
    fn delete_event_source_mapping(&self, uuid: &str) -> Result<(), StateError>;
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

/// The first schema, kept as it was: data folders made by earlier Serverfuls have it.
const SCHEMA: &str = "
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
";

/// Migrations after [`SCHEMA`], in order: migration `i` takes the database from
/// `user_version` `i` to `i + 1`, in one transaction.
const MIGRATIONS: &[&str] = &[
    // 1: Lambda versions of functions, and the highest number each function has had.
    "
CREATE TABLE function_versions (
    stack TEXT NOT NULL,
    function TEXT NOT NULL,
    number INTEGER NOT NULL,
    deploy INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (stack, function, number)
);
CREATE TABLE function_version_counters (
    stack TEXT NOT NULL,
    function TEXT NOT NULL,
    highest INTEGER NOT NULL,
    PRIMARY KEY (stack, function)
);
",
    // 2: each stack's access keys. A stack deployed before keys existed gets its pair
    // when it next starts.
    "
CREATE TABLE stack_keys (
    stack TEXT PRIMARY KEY,
    access_key_id TEXT NOT NULL UNIQUE,
    secret_access_key TEXT NOT NULL,
    session_token TEXT NOT NULL
);
",
    // 3: event-source mappings made at run time through the Lambda API.
    "
CREATE TABLE event_source_mappings (
    uuid TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
",
];

/// Brings the database to the newest schema, one migration per transaction.
fn migrate(connection: &mut Connection) -> Result<(), rusqlite::Error> {
    connection.execute_batch(SCHEMA)?;
    loop {
        let transaction = connection.transaction()?;
        let at: i64 = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        let Some(migration) = usize::try_from(at).ok().and_then(|at| MIGRATIONS.get(at)) else {
            return Ok(());
        };
        transaction.execute_batch(migration)?;
        transaction.execute_batch(&format!("PRAGMA user_version = {}", at + 1))?;
        transaction.commit()?;
    }
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
        migrate(&mut connection).map_err(|error| fail("create or migrate the tables", error))?;
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

fn decode<T: serde::de::DeserializeOwned>(record: &str) -> Result<T, rusqlite::Error> {
    serde_json::from_str(record).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(error))
    })
}

fn encode<T: serde::Serialize>(record: &T) -> Result<String, rusqlite::Error> {
    serde_json::to_string(record)
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))
}

/// Inserts published Lambda versions and raises their functions' highest numbers.
fn insert_function_versions(
    transaction: &rusqlite::Transaction<'_>,
    published: &[FunctionVersionRecord],
) -> Result<(), rusqlite::Error> {
    for version in published {
        transaction.execute(
            "INSERT INTO function_versions (stack, function, number, deploy, record)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                version.stack,
                version.function,
                version.number,
                version.deploy as i64,
                encode(version)?
            ],
        )?;
        transaction.execute(
            "INSERT INTO function_version_counters (stack, function, highest) VALUES (?1, ?2, ?3)
             ON CONFLICT(stack, function) DO UPDATE SET highest = max(highest, excluded.highest)",
            params![version.stack, version.function, version.number],
        )?;
    }
    Ok(())
}

/// The deploys `prune_versions` forgets: beyond the newest `keep`, not the current one,
/// and not one whose build runs a Lambda version a kept deploy names (and so on, since a
/// deploy kept for that names versions of its own).
pub(crate) fn deploys_to_prune(
    versions: &[VersionRecord],
    function_versions: &[FunctionVersionRecord],
    current: u64,
    keep: usize,
) -> Vec<u64> {
    let mut newest_first: Vec<u64> = versions.iter().map(|version| version.number).collect();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    let mut kept: std::collections::BTreeSet<u64> = newest_first
        .iter()
        .copied()
        .filter(|number| *number != current)
        .take(keep.saturating_sub(1))
        .chain([current])
        .collect();
    loop {
        let needed: Vec<u64> = versions
            .iter()
            .filter(|version| kept.contains(&version.number))
            .flat_map(|version| version.lambda_versions.iter().flatten())
            .filter_map(|named| {
                function_versions
                    .iter()
                    .find(|published| {
                        published.function == named.function && published.number == named.number
                    })
                    .map(|published| published.deploy)
            })
            .filter(|deploy| !kept.contains(deploy))
            .collect();
        if needed.is_empty() {
            break;
        }
        kept.extend(needed);
    }
    newest_first
        .into_iter()
        .filter(|number| !kept.contains(number))
        .collect()
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

    fn add_version(
        &self,
        version: &VersionRecord,
        published: &[FunctionVersionRecord],
    ) -> Result<(), StateError> {
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
            insert_function_versions(&transaction, published)?;
            transaction.commit()
        })
    }

    fn record_lambda_versions(
        &self,
        stack: &str,
        number: u64,
        lambda_versions: &[DeployedVersion],
        published: &[FunctionVersionRecord],
    ) -> Result<(), StateError> {
        self.with("record the Lambda versions", |connection| {
            let transaction = connection.transaction()?;
            let record: Option<String> = transaction
                .query_row(
                    "SELECT record FROM versions WHERE stack = ?1 AND number = ?2",
                    params![stack, number as i64],
                    |row| row.get(0),
                )
                .optional()?;
            let Some(record) = record else {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            };
            let mut record: VersionRecord = decode(&record)?;
            record.lambda_versions = Some(lambda_versions.to_vec());
            transaction.execute(
                "UPDATE versions SET record = ?3 WHERE stack = ?1 AND number = ?2",
                params![stack, number as i64, encode(&record)?],
            )?;
            insert_function_versions(&transaction, published)?;
            transaction.commit()
        })
    }

    fn function_versions(&self, stack: &str) -> Result<Vec<FunctionVersionRecord>, StateError> {
        self.with("read the function versions", |connection| {
            connection
                .prepare(
                    "SELECT record FROM function_versions WHERE stack = ?1 ORDER BY function, number",
                )?
                .query_map([stack], |row| row.get::<_, String>(0))?
                .map(|record| record.and_then(|record| decode(&record)))
                .collect()
        })
    }

    fn highest_function_versions(&self, stack: &str) -> Result<BTreeMap<String, u32>, StateError> {
        self.with("read the function version numbers", |connection| {
            connection
                .prepare(
                    "SELECT function, highest FROM function_version_counters WHERE stack = ?1",
                )?
                .query_map([stack], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
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
            transaction.execute("DELETE FROM function_versions WHERE stack = ?1", [stack])?;
            transaction.execute(
                "DELETE FROM function_version_counters WHERE stack = ?1",
                [stack],
            )?;
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

    fn event_source_mappings(&self) -> Result<Vec<EventSourceMappingRecord>, StateError> {
        self.with("read the event source mappings", |connection| {
            let mut statement =
                connection.prepare("SELECT record FROM event_source_mappings ORDER BY uuid")?;
            let records = statement
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            records.iter().map(|record| decode(record)).collect()
        })
    }

    fn put_event_source_mapping(
        &self,
        mapping: &EventSourceMappingRecord,
    ) -> Result<(), StateError> {
        self.with("record the event source mapping", |connection| {
            connection.execute(
                "INSERT INTO event_source_mappings (uuid, record) VALUES (?1, ?2)
                 ON CONFLICT (uuid) DO UPDATE SET record = excluded.record",
                params![mapping.uuid, encode(mapping)?],
            )?;
            Ok(())
        })
    }

    fn delete_event_source_mapping(&self, uuid: &str) -> Result<(), StateError> {
        self.with("delete the event source mapping", |connection| {
            connection.execute("DELETE FROM event_source_mappings WHERE uuid = ?1", [uuid])?;
            Ok(())
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
            let versions: Vec<VersionRecord> = transaction
                .prepare("SELECT record FROM versions WHERE stack = ?1 ORDER BY number")?
                .query_map([stack], |row| row.get::<_, String>(0))?
                .map(|record| record.and_then(|record| decode(&record)))
                .collect::<Result<_, _>>()?;
            let function_versions: Vec<FunctionVersionRecord> = transaction
                .prepare("SELECT record FROM function_versions WHERE stack = ?1")?
                .query_map([stack], |row| row.get::<_, String>(0))?
                .map(|record| record.and_then(|record| decode(&record)))
                .collect::<Result<_, _>>()?;
            let current = u64::try_from(current).unwrap_or_default();
            let pruned = deploys_to_prune(&versions, &function_versions, current, keep);
            for number in &pruned {
                transaction.execute(
                    "DELETE FROM versions WHERE stack = ?1 AND number = ?2",
                    params![stack, *number as i64],
                )?;
                transaction.execute(
                    "DELETE FROM function_versions WHERE stack = ?1 AND deploy = ?2",
                    params![stack, *number as i64],
                )?;
            }
            transaction.commit()?;
            Ok(versions
                .into_iter()
                .filter(|version| pruned.contains(&version.number))
                .rev()
                .collect())
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
            lambda_versions: Some(Vec::new()),
        }
    }

    /// Lambda version `number` of `function`, published by `deploy`.
    fn function_version(function: &str, number: u32, deploy: u64) -> FunctionVersionRecord {
        FunctionVersionRecord {
            stack: "hello".to_owned(),
            function: function.to_owned(),
            number,
            logical_id: format!("{function}Version{number}"),
            deploy,
            description: String::new(),
            code_sha256: format!("code{number}"),
            config_sha256: "config".to_owned(),
            published_at: "2026-12-07T00:00:00Z".to_owned(),
            settings: FunctionSettings::default(),
        }
    }

    /// Deploy `number` naming `versions` of `Greeter` (logical id, number).
    fn naming(number: u64, versions: &[u32]) -> VersionRecord {
        VersionRecord {
            lambda_versions: Some(
                versions
                    .iter()
                    .map(|version| DeployedVersion {
                        logical_id: format!("GreeterVersion{version}"),
                        function: "Greeter".to_owned(),
                        number: *version,
                        identity: String::new(),
                    })
                    .collect(),
            ),
            ..version("hello", number)
        }
    }

    #[test]
    fn versions_survive_a_reopen_and_the_current_one_moves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("platform.sqlite");
        {
            let state = SqliteState::open(&path).expect("open");
            state.add_version(&version("hello", 1), &[]).expect("add");
            state.add_version(&version("hello", 2), &[]).expect("add");
            state.add_version(&version("other", 1), &[]).expect("add");
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
            state
                .add_version(&version("hello", number), &[])
                .expect("add");
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

    #[test]
    fn function_versions_are_kept_and_their_numbers_never_come_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = SqliteState::open(&dir.path().join("platform.sqlite")).expect("open");
        state
            .add_version(&naming(1, &[1]), &[function_version("Greeter", 1, 1)])
            .expect("add");
        state
            .add_version(&naming(2, &[2]), &[function_version("Greeter", 2, 2)])
            .expect("add");
        let numbers = |state: &SqliteState| -> Vec<(String, u32, u64)> {
            state
                .function_versions("hello")
                .expect("versions")
                .into_iter()
                .map(|version| (version.function, version.number, version.deploy))
                .collect()
        };
        assert_eq!(
            numbers(&state),
            [("Greeter".to_owned(), 1, 1), ("Greeter".to_owned(), 2, 2)]
        );
        assert_eq!(
            state.function_versions("hello").expect("versions")[1],
            function_version("Greeter", 2, 2)
        );
        assert_eq!(
            state.highest_function_versions("hello").expect("highest"),
            BTreeMap::from([("Greeter".to_owned(), 2)])
        );

        // Deploys 3 and 4 publish nothing new; pruning to two keeps deploy 1 anyway,
        // since deploy 4 still names its version 1, and forgets deploy 2 and its version.
        state.add_version(&naming(3, &[1]), &[]).expect("add");
        state.add_version(&naming(4, &[1]), &[]).expect("add");
        let pruned: Vec<u64> = state
            .prune_versions("hello", 2)
            .expect("prune")
            .iter()
            .map(|version| version.number)
            .collect();
        assert_eq!(pruned, [2]);
        assert_eq!(numbers(&state), [("Greeter".to_owned(), 1, 1)]);
        // The highest number stays: the next version is 3, not 2 again.
        assert_eq!(
            state.highest_function_versions("hello").expect("highest"),
            BTreeMap::from([("Greeter".to_owned(), 2)])
        );

        state.delete_stack("hello").expect("delete");
        assert!(numbers(&state).is_empty());
        assert!(state
            .highest_function_versions("hello")
            .expect("highest")
            .is_empty());
    }

    #[test]
    fn a_data_folder_from_before_versions_opens_and_its_deploys_get_them_later() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("platform.sqlite");
        // The database and record as Serverful wrote them before Lambda versions.
        {
            let connection = Connection::open(&path).expect("open");
            connection.execute_batch(SCHEMA).expect("old schema");
            let old_record = serde_json::json!({
                "stack": "hello",
                "number": 1,
                "deployed_at": "2026-12-07T00:00:00Z",
                "source": "/apps/hello",
                "digest": "digest1",
                "source_dir": "/data/stacks/hello/sources/1",
                "template_path": "template.yaml",
                "parameters": {},
            });
            connection
                .execute(
                    "INSERT INTO versions (stack, number, record) VALUES ('hello', 1, ?1)",
                    [old_record.to_string()],
                )
                .expect("insert");
            connection
                .execute("INSERT INTO stacks (name, current) VALUES ('hello', 1)", [])
                .expect("insert");
        }
        let state = SqliteState::open(&path).expect("migrate");
        let stacks = state.stacks().expect("stacks");
        assert_eq!(stacks[0].versions[0].lambda_versions, None);
        assert!(state
            .function_versions("hello")
            .expect("versions")
            .is_empty());

        let named = naming(1, &[1]).lambda_versions.expect("named");
        state
            .record_lambda_versions("hello", 1, &named, &[function_version("Greeter", 1, 1)])
            .expect("record");
        let stacks = state.stacks().expect("stacks");
        assert_eq!(stacks[0].versions[0].lambda_versions, Some(named));
        assert_eq!(stacks[0].versions[0].digest, "digest1");
        assert_eq!(state.function_versions("hello").expect("versions").len(), 1);

        // Opening again runs no migration twice.
        drop(state);
        let state = SqliteState::open(&path).expect("reopen");
        assert_eq!(state.function_versions("hello").expect("versions").len(), 1);
    }
}
