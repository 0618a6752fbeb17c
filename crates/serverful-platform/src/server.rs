//! The running stacks: each stack's live versions (the current one and those still
//! draining), the deploy pipeline that makes a version beside the running one and
//! switches to it atomically, rollback, delete and list, and function calls by
//! [`FunctionRef`].
//!
//! A switch replaces the gateway's routes in one step. Routes name the version they
//! belong to (`FunctionRef::qualifier`), so a request that took the old routes finishes on
//! the old version, which stays alive until its requests are done.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use serverful_gateway as gateway;
use serverful_invoke::{FunctionMode, FunctionRef, HttpTarget, InvokeError};
use serverful_runtime as runtime;
use serverful_store::Store;
use serverful_template as template;

use crate::action::{Action, ActionError, ApiUrl, DeployRequest, ErrorKind, Outcome, StackSummary};
use crate::prepare::{self, CodeVersions, Progress, StackDirs};
use crate::state::{StateBackend, VersionRecord};
use crate::tables;

/// Extra time an old version gets, past its functions' longest timeout, to finish in-flight
/// work before it is stopped.
const DRAIN_MARGIN: Duration = Duration::from_secs(2);

/// Versions kept per stack for rollback.
const VERSIONS_KEPT: usize = 10;

/// How the server lays out its files and answers hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `serverful up`: one stack, its builds in `DATA/build` as they always were, its APIs
    /// also on the bare host.
    Up,
    /// `serverful serve`: any number of stacks, each under `DATA/stacks/<stack>/`, APIs on
    /// their own host names only.
    Serve,
}

/// Server-wide settings.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    pub data_dir: PathBuf,
    pub region: String,
    pub account_id: String,
    pub layout: Layout,
    /// `--domain`: API `X` answers on `X.execute-api.{domain}`.
    pub domain: String,
    /// The gateway's port, for the URLs `ls` prints.
    pub gateway_port: u16,
    /// Settings every function's runtime gets.
    pub runtime: runtime::RuntimeOptions,
    /// How functions run from their folders.
    pub code_versions: CodeVersions,
    /// Where functions' log lines are kept (`Action::Logs` reads them); `None` when the
    /// store could not be opened.
    pub logs: Option<crate::logs::LogReader>,
    /// The server's version, recorded in backups.
    pub serverful_version: String,
}

/// One version of a stack, running (or draining).
pub struct LiveVersion {
    pub record: VersionRecord,
    pub app: template::App,
    /// What starting the version did to each of its tables.
    pub tables: Vec<(String, tables::TableSetup)>,
    /// By logical id; replaced in place by `up --watch`.
    functions: RwLock<BTreeMap<String, Arc<runtime::Runtime>>>,
    /// The functions as the version was started with them, by logical id: a deploy
    /// compares its own with these to find the functions it changes.
    configs: BTreeMap<String, runtime::FunctionConfig>,
}

impl std::fmt::Debug for LiveVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveVersion")
            .field("stack", &self.record.stack)
            .field("number", &self.record.number)
            .finish_non_exhaustive()
    }
}

impl LiveVersion {
    fn runtime_of(&self, function: &str) -> Option<Arc<runtime::Runtime>> {
        self.functions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(function)
            .cloned()
    }

    fn runtimes(&self) -> Vec<Arc<runtime::Runtime>> {
        self.functions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The longest function timeout, plus the margin: how long a drain may take.
    fn grace(&self) -> Duration {
        let longest = self
            .app
            .functions
            .iter()
            .map(|function| Duration::from_secs(u64::from(function.timeout_secs)))
            .max()
            .unwrap_or_default();
        longest + DRAIN_MARGIN
    }
}

/// A stack's live versions.
#[derive(Default)]
struct StackLive {
    current: Option<Arc<LiveVersion>>,
    /// Versions switched away from and still finishing their requests.
    draining: Vec<Arc<LiveVersion>>,
}

/// The running server.
pub struct Platform {
    config: PlatformConfig,
    store: Arc<Store>,
    state: Arc<dyn StateBackend>,
    stacks: RwLock<BTreeMap<String, StackLive>>,
    /// One action at a time per stack.
    locks: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
    routes: gateway::Routes,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("data_dir", &self.config.data_dir)
            .finish_non_exhaustive()
    }
}

impl Platform {
    /// A platform over `store` and `state` with no stack running yet; `routes` is the
    /// gateway's route handle it replaces on every switch.
    pub fn new(
        config: PlatformConfig,
        store: Arc<Store>,
        state: Arc<dyn StateBackend>,
        routes: gateway::Routes,
    ) -> Arc<Platform> {
        Arc::new(Platform {
            config,
            store,
            state,
            stacks: RwLock::new(BTreeMap::new()),
            locks: Mutex::new(BTreeMap::new()),
            routes,
        })
    }

    pub fn config(&self) -> &PlatformConfig {
        &self.config
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The gateway's routes, as the last switch left them.
    pub fn routes(&self) -> &gateway::Routes {
        &self.routes
    }

    /// Starts the current version of every stack the state records (a restart of `serve`),
    /// without building what is built already. A stack that fails to start is reported and
    /// left out; the others serve.
    pub async fn restore(self: &Arc<Self>, progress: Arc<dyn Progress>) -> Vec<ActionError> {
        let stacks = match self.state.stacks() {
            Ok(stacks) => stacks,
            Err(error) => return vec![ActionError::internal("state", error.to_string())],
        };
        let mut failures = Vec::new();
        for stack in stacks {
            let Some(record) = stack.current_version().cloned() else {
                continue;
            };
            progress.phase(&format!(
                "starting stack {} version {}",
                stack.name, record.number
            ));
            match self
                .start_version(record, Warm::Nothing, progress.clone())
                .await
            {
                Ok((version, _warnings)) => {
                    self.switch(&stack.name, version);
                }
                Err(error) => failures.push(ActionError {
                    message: format!("stack {}: {}", stack.name, error.message),
                    ..error
                }),
            }
        }
        failures
    }

    /// Carries out `action`, reporting progress as it goes.
    pub async fn handle(
        self: &Arc<Self>,
        action: Action,
        progress: Arc<dyn Progress>,
    ) -> Result<Outcome, ActionError> {
        let _guard = match action.stack() {
            Some(stack) => Some(self.lock(stack)?),
            None => None,
        };
        match action {
            Action::Deploy(request) => self.deploy(request, progress).await,
            Action::Rollback { stack, to } => self.rollback(&stack, to, progress).await,
            Action::Delete {
                stack,
                delete_tables,
            } => self.delete(&stack, delete_tables).await,
            Action::List => Ok(Outcome::Stacks {
                stacks: self.summaries(),
            }),
            Action::Logs(request) => {
                let Some(backend) = self.config.logs.clone() else {
                    return Err(ActionError::internal(
                        "logs",
                        "this server keeps no function logs: its log store failed to open (see its output at start)",
                    ));
                };
                let live = self.current_versions();
                tokio::task::spawn_blocking(move || crate::logs::read(&*backend.0, &live, &request))
                    .await
                    .map_err(|error| ActionError::internal("logs", error.to_string()))?
            }
            Action::Backup(sink) => {
                let data_dir = self.config.data_dir.clone();
                let version = self.config.serverful_version.clone();
                progress.phase("backing up");
                tokio::task::spawn_blocking(move || crate::backup::write(&data_dir, &version, sink))
                    .await
                    .map_err(|error| ActionError::internal("backup", error.to_string()))?
            }
            Action::Invoke(request) => crate::invocation::invoke(self, request).await,
        }
    }

    /// Takes the stack's lock, or says another action holds it.
    fn lock(&self, stack: &str) -> Result<tokio::sync::OwnedMutexGuard<()>, ActionError> {
        let lock = self
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(stack.to_owned())
            .or_default()
            .clone();
        lock.try_lock_owned().map_err(|_| {
            ActionError::new(
                "stack",
                ErrorKind::Conflict,
                format!("another deploy, rollback or delete of stack {stack} is under way; try again when it has finished"),
            )
        })
    }

    /// Where a stack's files go.
    /// The runtime settings of `stack`'s functions: the server's, with the stack named (log
    /// lines are kept under it).
    fn runtime_options(&self, stack: &str) -> runtime::RuntimeOptions {
        runtime::RuntimeOptions {
            stack: stack.to_owned(),
            ..self.config.runtime.clone()
        }
    }

    fn dirs(&self, stack: &str) -> StackDirs {
        let data_dir = &self.config.data_dir;
        match self.config.layout {
            Layout::Up => StackDirs {
                data_dir: data_dir.clone(),
                build_root: data_dir.join("build"),
                layers_root: data_dir.join("layers"),
                inline_root: data_dir.join("inline"),
            },
            Layout::Serve => {
                let root = stack_root(data_dir, stack);
                StackDirs {
                    data_dir: data_dir.clone(),
                    build_root: root.join("build"),
                    layers_root: root.join("layers"),
                    inline_root: root.join("inline"),
                }
            }
        }
    }

    async fn deploy(
        self: &Arc<Self>,
        request: DeployRequest,
        progress: Arc<dyn Progress>,
    ) -> Result<Outcome, ActionError> {
        let stack = request.stack.clone();
        check_stack_name(&stack)?;
        let recorded = self
            .state
            .stacks()
            .map_err(|error| ActionError::internal("state", error.to_string()))?
            .into_iter()
            .find(|record| record.name == stack);
        let current = recorded
            .as_ref()
            .and_then(|record| record.current_version().cloned());
        if let Some(current) = &current {
            let unchanged = !request.source.digest.is_empty()
                && current.digest == request.source.digest
                && current.parameters == request.parameter_overrides;
            if unchanged && self.current(&stack).is_some() {
                return Ok(Outcome::NoChanges {
                    stack,
                    version: current.number,
                });
            }
        }
        let number = recorded
            .as_ref()
            .and_then(|record| record.versions.iter().map(|version| version.number).max())
            .unwrap_or(0)
            + 1;
        let record = VersionRecord {
            stack: stack.clone(),
            number,
            deployed_at: now_rfc3339(),
            source: request.source.description.clone(),
            digest: request.source.digest.clone(),
            source_dir: request.source.dir.clone(),
            template_path: request.source.template_path.clone(),
            parameters: request.parameter_overrides.clone(),
        };
        let current = self.current(&stack);
        let old_app = current.as_ref().map(|version| version.app.clone());
        // Under `serve`, every function the deploy changes is warmed before the switch: one
        // that fails its init fails the deploy, while the running version keeps serving.
        let warm = if request.warm_changed_functions {
            Warm::ChangedSince(current.map(|version| version.configs.clone()))
        } else {
            Warm::Nothing
        };
        let (version, warnings) = self
            .start_version(record.clone(), warm, progress.clone())
            .await?;
        // Tables the new template dropped are kept unless asked.
        if request.delete_tables {
            if let Some(old_app) = &old_app {
                let dropped: Vec<String> = old_app
                    .tables
                    .iter()
                    .map(|table| table.table_name.clone())
                    .filter(|name| {
                        !version
                            .app
                            .tables
                            .iter()
                            .any(|table| table.table_name == *name)
                    })
                    .collect();
                tables::delete_tables(&self.store, &dropped)
                    .map_err(|message| ActionError::internal("tables", message))?;
            }
        }
        progress.phase("switching");
        if let Err(error) = self.state.add_version(&record) {
            shut_down(version).await;
            return Err(ActionError::internal("state", error.to_string()));
        }
        let previous = self.switch(&stack, version.clone());
        self.prune(&stack);
        Ok(Outcome::Deployed {
            stack: stack.clone(),
            version: number,
            previous,
            warnings,
            summary: self.summary(&version),
        })
    }

    /// Loads, builds and starts `record` beside whatever runs: the version is ready to
    /// take requests (sandboxes parked, tables created) but nothing routes to it yet.
    async fn start_version(
        self: &Arc<Self>,
        record: VersionRecord,
        warm: Warm,
        progress: Arc<dyn Progress>,
    ) -> Result<(Arc<LiveVersion>, Vec<String>), ActionError> {
        let stack = record.stack.clone();
        progress.phase("loading the template");
        let options = template::LoadOptions {
            parameter_overrides: record.parameters.clone(),
            region: self.config.region.clone(),
            account_id: self.config.account_id.clone(),
            stack_name: stack.clone(),
            version_numbers: BTreeMap::new(),
        };
        let app = template::load(&record.template_path, &options)
            .map_err(|error| ActionError::invalid("template", error.to_string()))?;
        let mut warnings = Vec::new();
        if !app.unsupported.is_empty() {
            let warning = format!("not supported yet, ignored: {}", app.unsupported.join(", "));
            progress.warning(&warning);
            warnings.push(warning);
        }

        progress.phase("building");
        let dirs = self.dirs(&stack);
        let versions = self.config.code_versions;
        let build_app = app.clone();
        let build_progress = progress.clone();
        let configs = tokio::task::spawn_blocking(move || {
            prepare::prepare_functions(&build_app, &dirs, None, versions, &*build_progress)
        })
        .await
        .map_err(|error| ActionError::internal("build", error.to_string()))?
        .map_err(|error| {
            let step = match error {
                prepare::PrepareError::Runtime(_) => "functions",
                _ => "build",
            };
            ActionError::invalid(step, error.to_string())
        })?;

        progress.phase("creating tables");
        let store = self.store.clone();
        let table_list = app.tables.clone();
        let table_setups =
            tokio::task::spawn_blocking(move || tables::ensure_tables(&store, &table_list))
                .await
                .map_err(|error| ActionError::internal("tables", error.to_string()))?
                .map_err(|message| ActionError::invalid("tables", message))?;

        progress.phase("starting functions");
        let mut functions = BTreeMap::new();
        let mut started_configs = BTreeMap::new();
        for config in configs {
            let name = config.name.clone();
            started_configs.insert(name.clone(), config.clone());
            let (function_runtime, function_warnings) =
                runtime::Runtime::new(vec![config], self.runtime_options(&stack))
                    .map_err(|error| ActionError::invalid("functions", error.to_string()))?;
            for warning in function_warnings {
                progress.warning(&warning);
                warnings.push(warning);
            }
            functions.insert(name, Arc::new(function_runtime));
        }
        let version = Arc::new(LiveVersion {
            record,
            app,
            tables: table_setups,
            functions: RwLock::new(functions),
            configs: started_configs,
        });
        if let Warm::ChangedSince(previous) = warm {
            let changed: Vec<(String, Arc<runtime::Runtime>)> = version
                .functions
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .iter()
                .filter(|(name, _)| {
                    previous.as_ref().and_then(|previous| previous.get(*name))
                        != version.configs.get(*name)
                })
                .map(|(name, function_runtime)| (name.clone(), function_runtime.clone()))
                .collect();
            if !changed.is_empty() {
                progress.phase("warming functions");
            }
            if let Err(error) = warm_functions(changed).await {
                shut_down(version).await;
                return Err(error);
            }
        }
        // Cold starts then find their sandbox set up.
        let parking: Vec<_> = version
            .runtimes()
            .into_iter()
            .map(|function_runtime| {
                tokio::spawn(async move { function_runtime.park_sandboxes().await })
            })
            .collect();
        for task in parking {
            let _ = task.await;
        }
        if let Some(sandbox) = &self.config.runtime.sandbox {
            sandbox.settle().await;
        }
        Ok((version, warnings))
    }

    /// Makes `version` its stack's current one, routes switched in one step, and drains
    /// the version it replaces in the background. Returns the replaced version's number.
    fn switch(self: &Arc<Self>, stack: &str, version: Arc<LiveVersion>) -> Option<u64> {
        let old = {
            let mut stacks = self
                .stacks
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let live = stacks.entry(stack.to_owned()).or_default();
            let old = live.current.replace(version);
            if let Some(old) = &old {
                live.draining.push(old.clone());
            }
            old
        };
        self.publish_routes();
        let old = old?;
        let number = old.record.number;
        let platform = self.clone();
        let stack = stack.to_owned();
        tokio::spawn(async move {
            platform.drain(&stack, old).await;
        });
        Some(number)
    }

    /// Lets `old` finish its requests, stops it, and forgets it.
    async fn drain(&self, stack: &str, old: Arc<LiveVersion>) {
        let grace = old.grace();
        // Functions shared with the current version (`up --watch` keeps unchanged ones)
        // keep running.
        let current = self.current(stack);
        for function_runtime in old.runtimes() {
            let shared = current.as_ref().is_some_and(|current| {
                current
                    .runtimes()
                    .iter()
                    .any(|other| Arc::ptr_eq(other, &function_runtime))
            });
            if shared {
                continue;
            }
            let left = function_runtime.drain(grace).await;
            if left > 0 {
                tracing::warn!(
                    "{stack} version {}: {left} requests still ran after {grace:?}; they were stopped",
                    old.record.number
                );
            }
            function_runtime.shutdown().await;
        }
        let mut stacks = self
            .stacks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(live) = stacks.get_mut(stack) {
            live.draining.retain(|version| !Arc::ptr_eq(version, &old));
        }
    }

    async fn rollback(
        self: &Arc<Self>,
        stack: &str,
        to: Option<u64>,
        progress: Arc<dyn Progress>,
    ) -> Result<Outcome, ActionError> {
        let record = self
            .state
            .stacks()
            .map_err(|error| ActionError::internal("state", error.to_string()))?
            .into_iter()
            .find(|record| record.name == stack)
            .ok_or_else(|| unknown_stack(stack, &self.stack_names()))?;
        let from = record.current;
        let target = match to {
            Some(number) => record.version(number).cloned().ok_or_else(|| {
                ActionError::not_found(
                    "version",
                    format!(
                        "stack {stack} has no version {number}; it has {}",
                        record
                            .versions
                            .iter()
                            .map(|version| version.number.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?,
            None => record
                .versions
                .iter()
                .filter(|version| version.number < from)
                .max_by_key(|version| version.number)
                .cloned()
                .ok_or_else(|| {
                    ActionError::not_found(
                        "version",
                        format!("stack {stack} has no version before {from} to roll back to"),
                    )
                })?,
        };
        if target.number == from {
            return Err(ActionError::invalid(
                "version",
                format!("version {from} of stack {stack} is already the current one"),
            ));
        }
        // The version served before: its functions passed their init then.
        let (version, _warnings) = self
            .start_version(target.clone(), Warm::Nothing, progress.clone())
            .await?;
        progress.phase("switching");
        self.state
            .set_current(stack, target.number)
            .map_err(|error| ActionError::internal("state", error.to_string()))?;
        self.switch(stack, version.clone());
        Ok(Outcome::RolledBack {
            stack: stack.to_owned(),
            from,
            to: target.number,
            summary: self.summary(&version),
        })
    }

    async fn delete(
        self: &Arc<Self>,
        stack: &str,
        delete_tables: bool,
    ) -> Result<Outcome, ActionError> {
        let known = self
            .state
            .stacks()
            .map_err(|error| ActionError::internal("state", error.to_string()))?
            .iter()
            .any(|record| record.name == stack);
        let live = {
            let mut stacks = self
                .stacks
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            stacks.remove(stack)
        };
        if !known && live.is_none() {
            return Err(unknown_stack(stack, &self.stack_names()));
        }
        self.publish_routes();
        let table_names: Vec<String> = live
            .as_ref()
            .and_then(|live| live.current.as_ref())
            .map(|version| {
                version
                    .app
                    .tables
                    .iter()
                    .map(|table| table.table_name.clone())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(live) = live {
            for version in live.current.into_iter().chain(live.draining) {
                shut_down(version).await;
            }
        }
        self.state
            .delete_stack(stack)
            .map_err(|error| ActionError::internal("state", error.to_string()))?;
        let (tables_deleted, tables_kept) = if delete_tables {
            tables::delete_tables(&self.store, &table_names)
                .map_err(|message| ActionError::internal("tables", message))?;
            (table_names, Vec::new())
        } else {
            (Vec::new(), table_names)
        };
        if self.config.layout == Layout::Serve {
            let _ = std::fs::remove_dir_all(stack_root(&self.config.data_dir, stack));
        }
        Ok(Outcome::Deleted {
            stack: stack.to_owned(),
            tables_deleted,
            tables_kept,
        })
    }

    /// Forgets old versions beyond [`VERSIONS_KEPT`] and removes their source copies.
    fn prune(&self, stack: &str) {
        match self.state.prune_versions(stack, VERSIONS_KEPT) {
            Ok(pruned) => {
                if self.config.layout == Layout::Serve {
                    for version in pruned {
                        if version
                            .source_dir
                            .starts_with(stack_root(&self.config.data_dir, stack))
                        {
                            let _ = std::fs::remove_dir_all(&version.source_dir);
                        }
                    }
                }
            }
            Err(error) => tracing::warn!("failed to prune old versions of {stack}: {error}"),
        }
    }

    /// The stack's current version.
    pub fn current(&self, stack: &str) -> Option<Arc<LiveVersion>> {
        self.stacks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(stack)
            .and_then(|live| live.current.clone())
    }

    /// Every stack's current version.
    pub fn current_versions(&self) -> Vec<Arc<LiveVersion>> {
        self.stacks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .filter_map(|live| live.current.clone())
            .collect()
    }

    fn stack_names(&self) -> Vec<String> {
        self.stacks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// The version a call is for: the qualifier's version number (a route names the
    /// version it belongs to; it may be draining), else the current one.
    fn version_for(&self, function: &FunctionRef) -> Option<Arc<LiveVersion>> {
        let stacks = self
            .stacks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let live = stacks.get(&*function.stack)?;
        match function
            .qualifier
            .as_deref()
            .and_then(|qualifier| qualifier.parse::<u64>().ok())
        {
            Some(number) => live
                .current
                .iter()
                .chain(&live.draining)
                .find(|version| version.record.number == number)
                .cloned(),
            None => live.current.clone(),
        }
    }

    fn runtime_for(&self, function: &FunctionRef) -> Result<Arc<runtime::Runtime>, InvokeError> {
        self.version_for(function)
            .and_then(|version| version.runtime_of(&function.function))
            .ok_or_else(|| InvokeError::NoSuchFunction(function.to_string()))
    }

    /// Calls a function with an event and returns its result. A call that reached a
    /// version as it stopped goes to the stack's current version instead.
    pub async fn invoke(&self, function: &FunctionRef, event: Bytes) -> Result<Bytes, InvokeError> {
        let function_runtime = self.runtime_for(function)?;
        match function_runtime
            .invoke(&function.function, event.clone())
            .await
        {
            Err(runtime::InvokeError::ShuttingDown) => {
                let current = FunctionRef {
                    qualifier: None,
                    ..function.clone()
                };
                let newer = self.runtime_for(&current)?;
                if Arc::ptr_eq(&newer, &function_runtime) {
                    return Err(invoke_error(runtime::InvokeError::ShuttingDown));
                }
                newer
                    .invoke(&function.function, event)
                    .await
                    .map_err(invoke_error)
            }
            outcome => outcome.map_err(invoke_error),
        }
    }

    /// For an HTTP-mode function: a server ready to take one proxied request.
    pub async fn http_target(&self, function: &FunctionRef) -> Result<HttpTarget, InvokeError> {
        let function_runtime = self.runtime_for(function)?;
        let lease = match function_runtime.http_lease(&function.function).await {
            Err(runtime::InvokeError::ShuttingDown) => {
                let current = FunctionRef {
                    qualifier: None,
                    ..function.clone()
                };
                self.runtime_for(&current)?
                    .http_lease(&function.function)
                    .await
            }
            outcome => outcome,
        }
        .map_err(invoke_error)?
        .ok_or_else(|| {
            InvokeError::Unavailable(format!("{function} is not an HTTP-mode function"))
        })?;
        Ok(HttpTarget {
            address: lease.address(),
            remove_base_path: lease.remove_base_path().map(str::to_owned),
            timeout: lease.timeout(),
            lambda_context: Some(lease.lambda_context().to_owned()),
            guard: Box::new(LeaseGuard(lease)),
        })
    }

    /// Replaces one function of a stack's current version in place (`up --watch`): new
    /// requests go to the new runtime at once; the old one drains and stops.
    pub fn replace_function(
        self: &Arc<Self>,
        stack: &str,
        config: runtime::FunctionConfig,
    ) -> Result<Vec<String>, ActionError> {
        let version = self
            .current(stack)
            .ok_or_else(|| unknown_stack(stack, &self.stack_names()))?;
        let name = config.name.clone();
        let grace = config.timeout + DRAIN_MARGIN;
        let (function_runtime, warnings) =
            runtime::Runtime::new(vec![config], self.runtime_options(stack))
                .map_err(|error| ActionError::invalid("functions", error.to_string()))?;
        let function_runtime = Arc::new(function_runtime);
        let parking = function_runtime.clone();
        tokio::spawn(async move { parking.park_sandboxes().await });
        let old = version
            .functions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.clone(), function_runtime);
        self.publish_routes();
        if let Some(old) = old {
            tokio::spawn(async move {
                let left = old.drain(grace).await;
                if left > 0 {
                    tracing::warn!("{name}: the old version still had {left} requests after {grace:?}; they were stopped");
                }
                old.shutdown().await;
            });
        }
        Ok(warnings)
    }

    /// Whether a function of a stack's current version runs in HTTP mode.
    pub fn is_http_mode(&self, stack: &str, function: &str) -> bool {
        self.current(stack)
            .and_then(|version| version.runtime_of(function))
            .is_some_and(|function_runtime| function_runtime.is_http_mode(function))
    }

    /// Replaces the gateway's routes with those of every stack's current version.
    fn publish_routes(&self) {
        let versions = self.current_versions();
        let mut apis = Vec::new();
        let mut custom_domains = Vec::new();
        for version in &versions {
            for api in &version.app.apis {
                apis.push(api_spec(version, api));
            }
            // The template's custom domains (SAM `Domain`, base path and API mappings):
            // a host and base path that lead to one of the stack's APIs.
            for mapping in &version.app.domain_mappings {
                let Some(api) = version
                    .app
                    .apis
                    .iter()
                    .find(|api| api.logical_id == mapping.api_logical_id)
                else {
                    continue;
                };
                custom_domains.push(gateway::CustomDomain {
                    domain_name: mapping.domain_name.clone(),
                    base_path: mapping.base_path.clone(),
                    api_id: api.api_id.clone(),
                    stage: mapping.stage.clone(),
                });
            }
        }
        self.routes.replace(gateway::RoutesSpec {
            apis,
            domain: self.config.domain.clone(),
            custom_domains,
            bare_host: self.config.layout == Layout::Up,
        });
    }

    fn summaries(&self) -> Vec<StackSummary> {
        let records = self.state.stacks().unwrap_or_default();
        let mut summaries: Vec<StackSummary> = self
            .current_versions()
            .iter()
            .map(|version| {
                let mut summary = self.summary(version);
                if let Some(record) = records.iter().find(|record| record.name == summary.name) {
                    summary.versions = record
                        .versions
                        .iter()
                        .map(|version| version.number)
                        .collect();
                }
                summary
            })
            .collect();
        // Recorded stacks that could not start still show, with their status.
        for record in &records {
            if summaries.iter().any(|summary| summary.name == record.name) {
                continue;
            }
            let current = record.current_version();
            summaries.push(StackSummary {
                name: record.name.clone(),
                version: record.current,
                versions: record
                    .versions
                    .iter()
                    .map(|version| version.number)
                    .collect(),
                source: current
                    .map(|version| version.source.clone())
                    .unwrap_or_default(),
                deployed_at: current
                    .map(|version| version.deployed_at.clone())
                    .unwrap_or_default(),
                status: "stopped: it failed to start (see the server's log)".to_owned(),
                functions: Vec::new(),
                urls: Vec::new(),
                tables: Vec::new(),
                outputs: Vec::new(),
            });
        }
        summaries.sort_by(|a, b| a.name.cmp(&b.name));
        summaries
    }

    fn summary(&self, version: &LiveVersion) -> StackSummary {
        let port = self.config.gateway_port;
        let domain = &self.config.domain;
        StackSummary {
            name: version.record.stack.clone(),
            version: version.record.number,
            versions: vec![version.record.number],
            source: version.record.source.clone(),
            deployed_at: version.record.deployed_at.clone(),
            status: "serving".to_owned(),
            functions: version
                .app
                .functions
                .iter()
                .map(|function| format!("{} ({})", function.logical_id, function.name))
                .collect(),
            urls: version
                .app
                .apis
                .iter()
                .map(|api| {
                    let stage = match api.kind {
                        template::ApiKind::Rest => format!("/{}", api.stage_name),
                        template::ApiKind::Http if api.stage_name != "$default" => {
                            format!("/{}", api.stage_name)
                        }
                        template::ApiKind::Http => String::new(),
                    };
                    ApiUrl {
                        api: api.logical_id.clone(),
                        url: format!("http://{}.execute-api.{domain}:{port}{stage}", api.api_id),
                    }
                })
                .collect(),
            tables: version
                .app
                .tables
                .iter()
                .map(|table| table.table_name.clone())
                .collect(),
            outputs: version
                .app
                .outputs
                .iter()
                .map(|output| (output.name.clone(), output.value.clone()))
                .collect(),
        }
    }

    /// Stops every function of every stack.
    pub async fn shutdown(&self) {
        let versions: Vec<Arc<LiveVersion>> = {
            let stacks = self
                .stacks
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            stacks
                .values()
                .flat_map(|live| live.current.iter().chain(&live.draining).cloned())
                .collect()
        };
        for version in versions {
            for function_runtime in version.runtimes() {
                function_runtime.shutdown().await;
            }
        }
    }
}

/// Which functions of a version are warmed before anything routes to it.
enum Warm {
    /// None: the version served before (a rollback, a restart), or `up` starts it.
    Nothing,
    /// Those whose configuration differs from these (the running version's, `None` for
    /// a first deploy): code, runtime, handler, environment, limits.
    ChangedSince(Option<BTreeMap<String, runtime::FunctionConfig>>),
}

/// Starts one instance of each function at once and waits for their inits; the failures,
/// each naming its function and why, are the step's error.
async fn warm_functions(
    functions: Vec<(String, Arc<runtime::Runtime>)>,
) -> Result<(), ActionError> {
    let tasks: Vec<_> = functions
        .into_iter()
        .map(|(name, function_runtime)| {
            tokio::spawn(async move {
                let result = function_runtime.warm(&name).await;
                (name, result)
            })
        })
        .collect();
    let mut failures = Vec::new();
    for task in tasks {
        match task.await {
            Ok((_, Ok(()))) => {}
            Ok((name, Err(error))) => failures.push((name, error.to_string())),
            Err(join_error) => failures.push((String::new(), join_error.to_string())),
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    failures.sort();
    let messages: Vec<String> = failures.into_iter().map(|(_, message)| message).collect();
    Err(ActionError::invalid("init", messages.join("\n")))
}

/// Stops every function of a version that never served or no longer does.
async fn shut_down(version: Arc<LiveVersion>) {
    for function_runtime in version.runtimes() {
        function_runtime.shutdown().await;
    }
}

/// `DATA/stacks/<stack>`: a stack's sources, builds and layers under `serve`.
pub fn stack_root(data_dir: &Path, stack: &str) -> PathBuf {
    data_dir.join("stacks").join(stack)
}

/// Stack names as CloudFormation takes them: a letter, then letters, digits and hyphens,
/// at most 128 characters. They name folders too, so nothing else is allowed.
pub fn check_stack_name(stack: &str) -> Result<(), ActionError> {
    let valid = stack.len() <= 128
        && stack
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && stack.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(ActionError::invalid(
            "stack",
            format!("`{stack}` is not a stack name: use a letter, then letters, digits and hyphens (at most 128), as CloudFormation does"),
        ))
    }
}

fn unknown_stack(stack: &str, known: &[String]) -> ActionError {
    let known = if known.is_empty() {
        "there are no stacks".to_owned()
    } else {
        format!("the stacks are {}", known.join(", "))
    };
    ActionError::not_found("stack", format!("there is no stack {stack}; {known}"))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The gateway's view of one API of a live version: its routes name the version.
fn api_spec(version: &LiveVersion, api: &template::Api) -> gateway::ApiSpec {
    let stack: Arc<str> = Arc::from(version.record.stack.as_str());
    let qualifier: Arc<str> = Arc::from(version.record.number.to_string().as_str());
    gateway::ApiSpec {
        stack: version.record.stack.clone(),
        logical_id: api.logical_id.clone(),
        api_id: api.api_id.clone(),
        kind: match api.kind {
            template::ApiKind::Rest => gateway::ApiKind::Rest,
            template::ApiKind::Http => gateway::ApiKind::Http,
        },
        stage_name: api.stage_name.clone(),
        stage_variables: api.stage_variables.clone(),
        binary_media_types: api.binary_media_types.clone(),
        routes: api
            .routes
            .iter()
            .map(|route| {
                let http_mode = version
                    .runtime_of(&route.function)
                    .is_some_and(|function_runtime| function_runtime.is_http_mode(&route.function));
                gateway::RouteSpec {
                    method: route.method.clone(),
                    path: route.path.clone(),
                    target: FunctionRef {
                        stack: stack.clone(),
                        function: Arc::from(route.function.as_str()),
                        qualifier: Some(qualifier.clone()),
                    },
                    mode: if http_mode {
                        FunctionMode::Http
                    } else {
                        FunctionMode::Events
                    },
                    payload_format: match route.payload_format {
                        template::PayloadFormat::V1 => gateway::PayloadFormat::V1,
                        template::PayloadFormat::V2 => gateway::PayloadFormat::V2,
                    },
                }
            })
            .collect(),
    }
}

/// The runtime's failure as callers of functions see it.
fn invoke_error(error: runtime::InvokeError) -> InvokeError {
    match error {
        runtime::InvokeError::FunctionError(payload) => InvokeError::FunctionError(payload),
        runtime::InvokeError::Timeout => InvokeError::Timeout,
        runtime::InvokeError::Throttled => InvokeError::Throttled,
        runtime::InvokeError::PayloadTooLarge => InvokeError::PayloadTooLarge,
        runtime::InvokeError::NoSuchFunction(name) => InvokeError::NoSuchFunction(name),
        runtime::InvokeError::ShuttingDown => {
            InvokeError::Unavailable("the server is shutting down".to_owned())
        }
    }
}

/// A proxied request's hold on its instance, reported back to the runtime when it ends.
struct LeaseGuard(runtime::HttpLease);

impl serverful_invoke::ProxyGuard for LeaseGuard {
    fn finish(
        self: Box<Self>,
        outcome: serverful_invoke::ProxyOutcome,
    ) -> futures_util::future::BoxFuture<'static, ()> {
        let outcome = match outcome {
            serverful_invoke::ProxyOutcome::Responded { status } => {
                runtime::HttpOutcome::Responded { status }
            }
            serverful_invoke::ProxyOutcome::TimedOut => runtime::HttpOutcome::TimedOut,
            serverful_invoke::ProxyOutcome::Failed(reason) => runtime::HttpOutcome::Failed(reason),
        };
        Box::pin(self.0.finish(outcome))
    }
}

/// The gateway calls functions through the platform.
#[derive(Debug, Clone)]
pub struct PlatformInvoker(pub Arc<Platform>);

impl serverful_invoke::Invoke for PlatformInvoker {
    fn invoke(
        &self,
        function: &FunctionRef,
        event: Bytes,
    ) -> futures_util::future::BoxFuture<'static, Result<Bytes, InvokeError>> {
        let platform = self.0.clone();
        let function = function.clone();
        Box::pin(async move { platform.invoke(&function, event).await })
    }

    fn http_target(
        &self,
        function: &FunctionRef,
    ) -> futures_util::future::BoxFuture<'static, Result<HttpTarget, InvokeError>> {
        let platform = self.0.clone();
        let function = function.clone();
        Box::pin(async move { platform.http_target(&function).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names_follow_cloudformation() {
        assert!(check_stack_name("birthday-app").is_ok());
        assert!(check_stack_name("a").is_ok());
        for bad in ["", "1app", "my_app", "../etc", "a/b", &"a".repeat(129)] {
            let error = check_stack_name(bad).expect_err("invalid");
            assert_eq!(error.step, "stack");
            assert!(error.message.contains("is not a stack name"), "{error}");
        }
    }
}
