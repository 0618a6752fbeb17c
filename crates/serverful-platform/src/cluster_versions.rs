//! Cluster mode's deploys (issue 22): the platform's state in the cluster's PostgreSQL
//! ([`SharedState`], a [`StateBackend`] over `serverful_postgres::state`), every
//! version's source folder kept there too, and each node following the cluster's
//! current versions ([`follow`]).
//!
//! A deploy through any node uploads its source folder (the immutable copy a version is
//! recorded with) before recording the version; a node that starts a version whose
//! folder it lacks (a rollback through it, a restart, the follower) unpacks it from the
//! database first, into the same place in its own data folder. The build runs on each
//! node from that source, as a restart of a single node rebuilds from it.
//!
//! Records keep the deploying node's paths; [`SharedState`] hands each node its own
//! (`DATA/stacks/<stack>/sources/<digest>`, the folder named by the source's content).
//!
//! Every node polls the state's change counter every [`POLL`] (sooner when another node
//! announces a change with `NOTIFY`, which only speeds it up); when it moved (or a
//! switch could not be made yet), it compares each stack's current version with the one
//! it serves and switches with the platform's atomic switch (the one a deploy takes
//! after its build), and stops the stacks deleted elsewhere. So a deploy, rollback or
//! delete through one node reaches every other within `POLL` plus the time to unpack and
//! start the version there. Event-source mappings made at run time through the Lambda
//! API are followed the same way (`crate::runtime_mappings::follow`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serverful_aws::Credentials;
use serverful_postgres::state::{FunctionVersionRow, KeyRow, PostgresState};
use serverful_postgres::{Database, DatabaseError};

use crate::server::{stack_root, Platform};
use crate::state::{
    DeployedVersion, EventSourceMappingRecord, FunctionVersionRecord, StackCredentials,
    StackRecord, StateBackend, StateError, VersionRecord,
};

/// How often a node checks for deploys made through other nodes.
pub const POLL: Duration = Duration::from_secs(1);

/// How long a node waits before it tries again to start a version that failed to start
/// here (its build failed on this node, say), rather than rebuilding it every poll.
pub const RETRY_FAILED: Duration = Duration::from_secs(30);

/// Versions that failed to start here: by stack, the deploy and when it failed.
type Failures = std::collections::BTreeMap<String, (VersionRecord, std::time::Instant)>;

/// The platform's state in the cluster's database, with this node's paths.
pub struct SharedState {
    state: PostgresState,
    /// Woken when another node announces a change (a speed-up of the poll).
    changed: Arc<tokio::sync::Notify>,
    data_dir: PathBuf,
    url: String,
}

impl std::fmt::Debug for SharedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedState")
            .field("url", &self.url)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

fn decode<T: serde::de::DeserializeOwned>(record: &str) -> Result<T, String> {
    serde_json::from_str(record).map_err(|error| format!("read a record: {error}"))
}

fn encode<T: serde::Serialize>(record: &T) -> Result<String, String> {
    serde_json::to_string(record).map_err(|error| format!("write a record: {error}"))
}

/// The name a version's source is kept under: its folder's, which its content names.
fn source_key(record: &VersionRecord) -> String {
    record
        .source_dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn rows(published: &[FunctionVersionRecord]) -> Result<Vec<FunctionVersionRow>, String> {
    published
        .iter()
        .map(|version| {
            Ok(FunctionVersionRow {
                stack: version.stack.clone(),
                function: version.function.clone(),
                number: version.number,
                deploy: version.deploy,
                record: encode(version)?,
            })
        })
        .collect()
}

/// `record` with the paths of the node whose data folder is `data_dir`: its source in
/// `DATA/stacks/<stack>/sources/<source>`, its template at the same place inside.
fn localize(data_dir: &Path, mut record: VersionRecord) -> VersionRecord {
    let local = stack_root(data_dir, &record.stack)
        .join("sources")
        .join(source_key(&record));
    if let Ok(inside) = record.template_path.strip_prefix(&record.source_dir) {
        record.template_path = local.join(inside);
    }
    record.source_dir = local;
    record
}

impl SharedState {
    /// Prepares the tables in `database`; `data_dir` is this node's.
    pub fn open(database: Arc<Database>, data_dir: &Path) -> Result<SharedState, StateError> {
        let url = database.url().to_owned();
        let state = PostgresState::new(database).map_err(|error| StateError {
            path: PathBuf::from(&url),
            action: "create or migrate the tables".to_owned(),
            message: error.to_string(),
        })?;
        Ok(SharedState {
            state,
            changed: Arc::new(tokio::sync::Notify::new()),
            data_dir: data_dir.to_owned(),
            url,
        })
    }

    fn fail(&self, action: &str) -> impl Fn(DatabaseError) -> StateError + '_ {
        let action = action.to_owned();
        move |error| StateError {
            path: PathBuf::from(&self.url),
            action: action.clone(),
            message: error.to_string(),
        }
    }

    fn fail_text(&self, action: &str, message: String) -> StateError {
        StateError {
            path: PathBuf::from(&self.url),
            action: action.to_owned(),
            message,
        }
    }

    /// `record` with this node's paths.
    fn localize(&self, record: VersionRecord) -> VersionRecord {
        localize(&self.data_dir, record)
    }

    /// Listens for changes announced by other nodes on a connection of its own to `url`
    /// (the password included, unlike the pool's display URL), so that the follower
    /// looks at once rather than at its next poll.
    pub fn listen(&self, url: &str) -> Result<(), StateError> {
        let changed = Arc::downgrade(&self.changed);
        PostgresState::listen(url, move || match changed.upgrade() {
            Some(changed) => {
                changed.notify_one();
                true
            }
            None => false,
        })
        .map_err(self.fail("listen for changes"))
    }

    /// The change counter: it moves with every deploy, rollback and delete.
    pub fn generation(&self) -> Result<i64, StateError> {
        self.state
            .generation()
            .map_err(self.fail("read the change counter"))
    }

    /// Keeps `record`'s source folder (this node's) in the database, unless it is there.
    pub fn upload(&self, record: &VersionRecord) -> Result<(), StateError> {
        self.state
            .put_source(&record.stack, &source_key(record), &record.source_dir)
            .map_err(self.fail("store the version's source"))
    }

    /// Makes sure `record`'s source folder (with this node's paths) is here, unpacking
    /// it from the database if not.
    pub fn ensure_source(&self, record: &VersionRecord) -> Result<(), StateError> {
        if record.source_dir.is_dir() {
            return Ok(());
        }
        let found = self
            .state
            .fetch_source(&record.stack, &source_key(record), &record.source_dir)
            .map_err(self.fail("fetch the version's source"))?;
        if found {
            Ok(())
        } else {
            Err(self.fail_text(
                "fetch the version's source",
                format!(
                    "the database keeps no source {} for stack {} version {}",
                    source_key(record),
                    record.stack,
                    record.number
                ),
            ))
        }
    }
}

impl StateBackend for SharedState {
    fn stacks(&self) -> Result<Vec<StackRecord>, StateError> {
        let rows = self.state.stacks().map_err(self.fail("read the stacks"))?;
        rows.into_iter()
            .map(|row| {
                let versions = row
                    .versions
                    .iter()
                    .map(|record| {
                        decode::<VersionRecord>(record).map(|record| self.localize(record))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|message| self.fail_text("read the stacks", message))?;
                Ok(StackRecord {
                    name: row.name,
                    current: row.current,
                    versions,
                })
            })
            .collect()
    }

    fn add_version(
        &self,
        version: &VersionRecord,
        published: &[FunctionVersionRecord],
    ) -> Result<(), StateError> {
        let action = "record the version";
        let record = encode(version).map_err(|message| self.fail_text(action, message))?;
        let published = rows(published).map_err(|message| self.fail_text(action, message))?;
        self.state
            .add_version(
                &version.stack,
                version.number,
                &source_key(version),
                record,
                published,
            )
            .map_err(self.fail(action))
    }

    fn record_lambda_versions(
        &self,
        stack: &str,
        number: u64,
        lambda_versions: &[DeployedVersion],
        published: &[FunctionVersionRecord],
    ) -> Result<(), StateError> {
        let action = "record the Lambda versions";
        let published = rows(published).map_err(|message| self.fail_text(action, message))?;
        let lambda_versions = lambda_versions.to_vec();
        self.state
            .update_version(
                stack,
                number,
                move |record| {
                    let mut record: VersionRecord = decode(&record)?;
                    record.lambda_versions = Some(lambda_versions);
                    encode(&record)
                },
                published,
            )
            .map_err(self.fail(action))
    }

    fn function_versions(&self, stack: &str) -> Result<Vec<FunctionVersionRecord>, StateError> {
        let action = "read the function versions";
        self.state
            .function_versions(stack)
            .map_err(self.fail(action))?
            .iter()
            .map(|record| decode(record))
            .collect::<Result<_, _>>()
            .map_err(|message| self.fail_text(action, message))
    }

    fn highest_function_versions(
        &self,
        stack: &str,
    ) -> Result<std::collections::BTreeMap<String, u32>, StateError> {
        self.state
            .highest_function_versions(stack)
            .map_err(self.fail("read the function version numbers"))
    }

    fn set_current(&self, stack: &str, number: u64) -> Result<(), StateError> {
        self.state
            .set_current(stack, number)
            .map_err(self.fail("switch the current version"))
    }

    fn delete_stack(&self, stack: &str) -> Result<(), StateError> {
        self.state
            .delete_stack(stack)
            .map_err(self.fail("delete the stack"))
    }

    fn stack_keys(
        &self,
        stack: &str,
        fresh: StackCredentials,
    ) -> Result<StackCredentials, StateError> {
        let keys = self
            .state
            .stack_keys(
                stack,
                KeyRow {
                    access_key_id: fresh.credentials.access_key_id,
                    secret_access_key: fresh.credentials.secret_access_key,
                    session_token: fresh.session_token,
                },
            )
            .map_err(self.fail("record the stack's keys"))?;
        Ok(StackCredentials {
            credentials: Credentials {
                access_key_id: keys.access_key_id,
                secret_access_key: keys.secret_access_key,
            },
            session_token: keys.session_token,
        })
    }

    fn prune_versions(&self, stack: &str, keep: usize) -> Result<Vec<VersionRecord>, StateError> {
        let action = "prune old versions";
        let pruned = self
            .state
            .prune(stack, move |current, versions, function_versions| {
                let versions: Vec<VersionRecord> = versions
                    .iter()
                    .map(|(_, record)| decode(record))
                    .collect::<Result<_, _>>()?;
                let function_versions: Vec<FunctionVersionRecord> = function_versions
                    .iter()
                    .map(|record| decode(record))
                    .collect::<Result<_, _>>()?;
                Ok(crate::state::deploys_to_prune(
                    &versions,
                    &function_versions,
                    current,
                    keep,
                ))
            })
            .map_err(self.fail(action))?;
        pruned
            .iter()
            .map(|record| decode::<VersionRecord>(record).map(|record| self.localize(record)))
            .collect::<Result<_, _>>()
            .map_err(|message| self.fail_text(action, message))
    }

    fn event_source_mappings(&self) -> Result<Vec<EventSourceMappingRecord>, StateError> {
        let action = "read the event source mappings";
        self.state
            .event_source_mappings()
            .map_err(self.fail(action))?
            .iter()
            .map(|record| decode(record))
            .collect::<Result<_, _>>()
            .map_err(|message| self.fail_text(action, message))
    }

    fn put_event_source_mapping(
        &self,
        mapping: &EventSourceMappingRecord,
    ) -> Result<(), StateError> {
        let action = "record the event source mapping";
        let record = encode(mapping).map_err(|message| self.fail_text(action, message))?;
        self.state
            .put_event_source_mapping(&mapping.uuid, record)
            .map_err(self.fail(action))
    }

    fn delete_event_source_mapping(&self, uuid: &str) -> Result<(), StateError> {
        self.state
            .delete_event_source_mapping(uuid)
            .map_err(self.fail("delete the event source mapping"))
    }
}

/// Follows the cluster's current versions from now on (see the module's notes): at
/// start too, for stacks a restore did not start.
pub fn follow(platform: &Arc<Platform>, shared: Arc<SharedState>) {
    let platform = Arc::downgrade(platform);
    tokio::spawn(async move {
        let mut seen: Option<i64> = None;
        let mut failures = Failures::new();
        loop {
            let Some(current) = platform.upgrade() else {
                return;
            };
            let reading = shared.clone();
            let generation = tokio::task::spawn_blocking(move || reading.generation())
                .await
                .ok()
                .and_then(|generation| {
                    generation
                        .map_err(|error| tracing::warn!("cluster deploys: {error}"))
                        .ok()
                });
            if let Some(generation) = generation {
                if seen != Some(generation) && catch_up(&current, &mut failures).await {
                    seen = Some(generation);
                }
            }
            drop(current);
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = shared.changed.notified() => {}
            }
        }
    });
}

/// Whether two records are the same deploy: a stack deleted and deployed again starts
/// at version 1 again, so the number alone does not tell.
pub(crate) fn same_deploy(a: &VersionRecord, b: &VersionRecord) -> bool {
    a.number == b.number && a.deployed_at == b.deployed_at && a.digest == b.digest
}

/// Brings this node to the cluster's current versions. False when something is left
/// to do (a stack busy with an action here, a version that failed to start): the next
/// poll tries again.
async fn catch_up(platform: &Arc<Platform>, failures: &mut Failures) -> bool {
    let state = platform.state().clone();
    let records = match tokio::task::spawn_blocking(move || state.stacks()).await {
        Ok(Ok(records)) => records,
        Ok(Err(error)) => {
            tracing::warn!("cluster deploys: {error}");
            return false;
        }
        Err(_) => return false,
    };
    let mut done = true;
    for record in &records {
        let Some(version) = record.current_version() else {
            continue;
        };
        let serving = platform.current(&record.name);
        if serving.is_some_and(|live| same_deploy(&live.record, version)) {
            continue;
        }
        if let Some((failed, at)) = failures.get(&record.name) {
            if same_deploy(failed, version) && at.elapsed() < RETRY_FAILED {
                done = false;
                continue;
            }
        }
        match platform.follow_version(version.clone()).await {
            Ok(true) => {
                failures.remove(&record.name);
                tracing::info!(
                    "stack {} now serves version {}, as the cluster does",
                    record.name,
                    version.number
                );
            }
            Ok(false) => done = false,
            Err(error) => {
                tracing::warn!(
                    "stack {} version {} failed to start on this node (tried again in {} s): {error}",
                    record.name,
                    version.number,
                    RETRY_FAILED.as_secs()
                );
                failures.insert(
                    record.name.clone(),
                    (version.clone(), std::time::Instant::now()),
                );
                done = false;
            }
        }
    }
    let state = platform.state().clone();
    match tokio::task::spawn_blocking(move || state.event_source_mappings()).await {
        Ok(Ok(mappings)) => crate::runtime_mappings::follow(platform, &mappings),
        Ok(Err(error)) => {
            tracing::warn!("cluster deploys: {error}");
            done = false;
        }
        Err(_) => done = false,
    }
    for stack in platform.stack_names() {
        if records.iter().any(|record| record.name == stack) {
            continue;
        }
        match platform.retire_here(&stack).await {
            Ok(true) => tracing::info!("stack {stack} was deleted in the cluster: stopped here"),
            Ok(false) => done = false,
            Err(error) => {
                tracing::warn!("stack {stack} failed to stop: {error}");
                done = false;
            }
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(source_dir: &str, template_path: &str) -> VersionRecord {
        VersionRecord {
            stack: "hello".to_owned(),
            number: 3,
            deployed_at: "2026-12-07T00:00:00Z".to_owned(),
            source: "/apps/hello".to_owned(),
            digest: "0123456789abcdef".to_owned(),
            source_dir: PathBuf::from(source_dir),
            template_path: PathBuf::from(template_path),
            parameters: Default::default(),
            lambda_versions: Some(Vec::new()),
        }
    }

    #[test]
    fn another_nodes_record_gets_this_nodes_paths() {
        let theirs = record(
            "/nodes/b/stacks/hello/sources/0123456789ab",
            "/nodes/b/stacks/hello/sources/0123456789ab/app/template.yaml",
        );
        let ours = localize(Path::new("/nodes/a"), theirs.clone());
        assert_eq!(
            ours.source_dir,
            Path::new("/nodes/a/stacks/hello/sources/0123456789ab")
        );
        assert_eq!(
            ours.template_path,
            Path::new("/nodes/a/stacks/hello/sources/0123456789ab/app/template.yaml")
        );
        assert_eq!(source_key(&ours), "0123456789ab");
        // The rest is the deploy's, and the node that made it reads it unchanged.
        assert!(same_deploy(&ours, &theirs));
        assert_eq!(localize(Path::new("/nodes/b"), theirs.clone()), theirs);
        // A template outside the source (never under `serve`) is left alone.
        let outside = localize(
            Path::new("/nodes/a"),
            record(
                "/nodes/b/stacks/hello/sources/x",
                "/elsewhere/template.yaml",
            ),
        );
        assert_eq!(outside.template_path, Path::new("/elsewhere/template.yaml"));
    }

    #[test]
    fn a_stack_deployed_again_is_another_deploy() {
        let first = record(
            "/d/stacks/hello/sources/a",
            "/d/stacks/hello/sources/a/t.yaml",
        );
        let again = VersionRecord {
            deployed_at: "2026-12-08T00:00:00Z".to_owned(),
            ..first.clone()
        };
        assert!(same_deploy(&first, &first.clone()));
        assert!(!same_deploy(&first, &again));
        let other_number = VersionRecord {
            number: 4,
            ..first.clone()
        };
        assert!(!same_deploy(&first, &other_number));
    }
}
