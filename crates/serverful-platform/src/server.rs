//! The running stacks: each stack's live versions (the current one and those still
//! draining), the deploy pipeline that makes a version beside the running one and
//! switches to it atomically, rollback, delete and list, and function calls by
//! [`FunctionRef`].
//!
//! A switch replaces the gateway's routes in one step. Routes name the version they
//! belong to (`FunctionRef::deploy`), so a request that took the old routes finishes on
//! the old version, which stays alive until its requests are done.
//!
//! A deploy also publishes Lambda versions (`lambda_versions`): a call qualified by a
//! version number or an alias (`FunctionRef::qualifier`) runs on the deploy's own runtime
//! when that version is the deploy's build, else on the version's own build, started on
//! demand (`older`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use serverful_gateway as gateway;
use serverful_invoke::{
    FunctionMode, FunctionRef, HttpTarget, InvokeError, InvokeResponse, ResponseStream,
};
use serverful_runtime as runtime;
use serverful_store::Store;
use serverful_template as template;

use crate::action::{Action, ActionError, ApiUrl, DeployRequest, ErrorKind, Outcome, StackSummary};
use crate::keys::{Owned, StackKeys};
use crate::lambda_versions::{self, CodeHashes, FunctionDigest};
use crate::older::OlderRuntimes;
use crate::prepare::{self, CodeVersions, Progress, StackDirs};
use crate::state::{FunctionVersionRecord, StateBackend, VersionRecord};
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
    /// Settings every function's runtime gets (each stack's own keys replace its
    /// credentials).
    pub runtime: runtime::RuntimeOptions,
    /// The AWS endpoint's keys, where the platform publishes each stack's own and what
    /// they may reach.
    pub keys: Arc<serverful_aws::KeyRing>,
    /// How functions run from their folders.
    pub code_versions: CodeVersions,
    /// Where functions' log lines are kept (`Action::Logs` reads them); `None` when the
    /// store could not be opened.
    pub logs: Option<crate::logs::LogReader>,
    /// Where invocations are recorded (`Action::Invocations` reads them); `None` when the
    /// store could not be opened. Its settings say whether recording is on.
    pub invocation_records: Option<Arc<serverful_invocations::Recorder>>,
    /// The server's version, recorded in backups.
    pub serverful_version: String,
    /// Where schedules keep their state (`DATA/schedules.sqlite`); `None` runs no schedule.
    pub schedules: Option<Arc<dyn serverful_scheduler::ScheduleBackend>>,
    /// How long a schedule minute lasts: 60 s, shorter only for tests.
    pub schedule_minute: Duration,
    /// The queue of asynchronous invocations (`Invoke` with `InvocationType: Event`);
    /// `None` runs them in the background without a queue (`serverful invoke`).
    pub async_invocations: Option<Arc<serverful_async::AsyncInvocations>>,
    /// Checkpoints and timing of the DynamoDB stream mappings.
    pub streams: crate::streams::StreamsConfig,
    /// SQS's queues (`DATA/queues.sqlite`), also served on the AWS endpoint.
    pub queues: Option<Arc<serverful_sqs::Queues>>,
    /// SNS topics (`DATA/topics.sqlite`), when the server runs them.
    pub topics: Option<Arc<serverful_sns::Topics>>,
    /// S3's buckets (`DATA/s3.sqlite`, `DATA/s3/`), also served on the AWS endpoint.
    pub buckets: Option<serverful_s3::S3Store>,
    /// API keys' values and usage plans' quota counts (`DATA/api-keys.sqlite`); `None`
    /// refuses every method that requires a key.
    pub api_keys: Option<Arc<dyn crate::api_keys::ApiKeyBackend>>,
    /// WebSocket APIs and their connections, when the gateway serves them.
    pub websockets: Option<serverful_websocket::WebSockets>,
    /// This node's cluster, when it is one of several sharing a database (`ls` lists
    /// the nodes).
    pub membership: Option<Membership>,
    /// In a cluster: the state in the shared database, through which every version's
    /// source reaches the other nodes (`crate::cluster_versions`).
    pub shared_versions: Option<Arc<crate::cluster_versions::SharedState>>,
}

/// Which cluster this node belongs to, which node it is, and its leases on shared work.
#[derive(Clone)]
pub struct Membership {
    pub nodes: Arc<dyn serverful_cluster::Nodes>,
    pub node_id: String,
    /// Who runs each stream and queue mapping (one node at a time).
    pub leases: Arc<dyn serverful_cluster::Leases>,
}

impl PlatformConfig {
    /// The leases of work one node does at a time: the cluster's, or all this server's.
    fn leases(&self) -> Arc<dyn serverful_cluster::Leases> {
        match &self.membership {
            Some(membership) => membership.leases.clone(),
            None => Arc::new(serverful_cluster::SingleNode),
        }
    }
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

/// How recently a node must have been heard from to be listed as up.
const NODE_SILENCE: Duration = Duration::from_secs(5);

/// One version of a stack, running (or draining).
pub struct LiveVersion {
    pub record: VersionRecord,
    pub app: template::App,
    /// What starting the version did to each of its tables.
    pub tables: Vec<(String, tables::TableSetup)>,
    /// By logical id; replaced in place by `up --watch`.
    functions: RwLock<BTreeMap<String, Arc<runtime::Runtime>>>,
    /// Each function's code and configuration hashes, by logical id, as it started.
    pub(crate) digests: BTreeMap<String, FunctionDigest>,
    /// The functions as the version was started with them, by logical id: a deploy
    /// compares its own with these to find the functions it changes.
    configs: BTreeMap<String, runtime::FunctionConfig>,
    /// Its EventBridge rules' patterns, parsed on first use (index by `app.event_rules`).
    rule_patterns: std::sync::OnceLock<Vec<Option<Arc<serverful_eventbridge::EventPattern>>>>,
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
    /// The pattern of its `index`th EventBridge rule, parsed once per version (`None`
    /// for a pattern that does not parse: the template check refused those already).
    pub(crate) fn rule_pattern(
        &self,
        index: usize,
    ) -> Option<Arc<serverful_eventbridge::EventPattern>> {
        let patterns = self.rule_patterns.get_or_init(|| {
            self.app
                .event_rules
                .iter()
                .map(
                    |rule| match serverful_eventbridge::EventPattern::parse(&rule.event_pattern) {
                        Ok(pattern) => Some(Arc::new(pattern)),
                        Err(error) => {
                            tracing::warn!(
                                "rule {} of {} has an invalid pattern: {error}",
                                rule.name,
                                self.record.stack
                            );
                            None
                        }
                    },
                )
                .collect()
        });
        patterns.get(index).cloned().flatten()
    }

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
    /// The Lambda versions the stack's deploys published, as the state keeps them.
    published: Arc<Vec<FunctionVersionRecord>>,
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
    code_hashes: CodeHashes,
    /// Lambda versions running from a build other than their stack's deploys'.
    older: OlderRuntimes,
    /// Each stack's access keys and their scope on the AWS endpoint.
    keys: StackKeys,
    /// Every stack's schedules, switched with its versions.
    scheduler: Option<serverful_scheduler::Scheduler>,
    /// Each stack's DynamoDB stream mappings (`crate::streams`).
    stream_mappings: Arc<serverful_streams::StreamMappings>,
    /// The event-source mappings made at run time (`crate::runtime_mappings`).
    runtime_mappings: crate::runtime_mappings::RuntimeMappings,
    /// Each stack's SQS queue → function mappings, when the server runs queues.
    queue_mappings: Option<Arc<serverful_sqs_mappings::QueueMappings>>,
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
        Arc::new_cyclic(|platform| {
            let queue_mappings = config.queues.clone().map(|queues| {
                let settings = serverful_sqs_mappings::QueueSettings {
                    retry_base: config.streams.settings.retry_base,
                    ..serverful_sqs_mappings::QueueSettings::default()
                };
                Arc::new(
                    serverful_sqs_mappings::QueueMappings::new(
                        Arc::new(crate::queues::SqsClient(queues)),
                        Arc::new(WeakInvoker(platform.clone())),
                        settings,
                    )
                    .with_leases(config.leases(), serverful_cluster::LeaseTiming::default()),
                )
            });
            Platform {
                scheduler: crate::schedules::scheduler(
                    config.schedules.clone(),
                    platform.clone(),
                    &config.region,
                    &config.account_id,
                    config.schedule_minute,
                ),
                keys: StackKeys::new(config.keys.clone(), &config.account_id),
                stream_mappings: Arc::new(
                    serverful_streams::StreamMappings::new(
                        store.clone(),
                        Arc::new(WeakInvoker(platform.clone())),
                        config.streams.checkpoints.clone(),
                        Arc::new(crate::messaging::PlatformFailureDestination(
                            platform.clone(),
                        )),
                        config.streams.settings.clone(),
                    )
                    .with_leases(config.leases(), serverful_cluster::LeaseTiming::default()),
                ),
                config,
                store,
                state,
                stacks: RwLock::new(BTreeMap::new()),
                locks: Mutex::new(BTreeMap::new()),
                routes,
                code_hashes: CodeHashes::default(),
                older: OlderRuntimes::default(),
                runtime_mappings: Default::default(),
                queue_mappings,
            }
        })
    }

    pub fn config(&self) -> &PlatformConfig {
        &self.config
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Every stack's DynamoDB stream mappings.
    pub fn stream_mappings(&self) -> &Arc<serverful_streams::StreamMappings> {
        &self.stream_mappings
    }

    pub(crate) fn runtime_mappings(&self) -> &crate::runtime_mappings::RuntimeMappings {
        &self.runtime_mappings
    }

    pub(crate) fn queue_mappings(&self) -> Option<&Arc<serverful_sqs_mappings::QueueMappings>> {
        self.queue_mappings.as_ref()
    }

    pub(crate) fn state(&self) -> &Arc<dyn StateBackend> {
        &self.state
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
            let legacy = record.lambda_versions.is_none();
            match self
                .start_version(record, None, Warm::Nothing, progress.clone())
                .await
            {
                Ok((version, _warnings, published)) => {
                    if legacy {
                        self.record_lambda_versions(&version, &published);
                    }
                    self.switch(&stack.name, version);
                    self.refresh_published(&stack.name);
                }
                Err(error) => {
                    self.settle_keys(&stack.name);
                    failures.push(ActionError {
                        message: format!("stack {}: {}", stack.name, error.message),
                        ..error
                    });
                }
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
        let stack = action.stack().map(str::to_owned);
        let _guard = match &stack {
            Some(stack) => Some(self.lock(stack)?),
            None => None,
        };
        let outcome = self.run(action, progress).await;
        if let Some(stack) = &stack {
            self.settle_keys(stack);
        }
        log_outcome(stack.as_deref(), &outcome);
        outcome
    }

    async fn run(
        self: &Arc<Self>,
        action: Action,
        progress: Arc<dyn Progress>,
    ) -> Result<Outcome, ActionError> {
        match action {
            Action::Deploy(request) => self.deploy(request, progress).await,
            Action::Rollback { stack, to } => self.rollback(&stack, to, progress).await,
            Action::Delete {
                stack,
                delete_tables,
            } => self.delete(&stack, delete_tables).await,
            Action::List => Ok(Outcome::Stacks {
                stacks: self.summaries(),
                nodes: self.nodes().await,
            }),
            Action::Describe { stack } => {
                let version = self
                    .current_versions()
                    .into_iter()
                    .find(|version| version.record.stack == stack)
                    .ok_or_else(|| {
                        ActionError::new(
                            "stack",
                            ErrorKind::NotFound,
                            format!("no stack named {stack} is serving; `serverful ls` lists them"),
                        )
                    })?;
                let records = self.state.stacks().unwrap_or_default();
                let record = records.iter().find(|record| record.name == stack);
                Ok(Outcome::Described {
                    stack: crate::describe::describe(&version, record),
                })
            }
            Action::Messages(request) => self.messages(request).await,
            Action::Table {
                table,
                operation,
                request,
            } => {
                let owned = self.current_versions().iter().any(|version| {
                    version
                        .app
                        .tables
                        .iter()
                        .any(|owned| owned.table_name == table)
                });
                if !owned {
                    return Err(ActionError::new(
                        "table",
                        ErrorKind::NotFound,
                        format!("no stack has a table named {table}"),
                    ));
                }
                let store = self.store.clone();
                tokio::task::spawn_blocking(move || {
                    crate::describe::table_call(&store, &table, &operation, &request)
                })
                .await
                .map_err(|error| ActionError::internal("table", error.to_string()))?
            }
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
                // S3 bodies that lose their record while the backup runs stay until it ends.
                let hold = self.config.buckets.as_ref().map(|s3| s3.hold_removals());
                let written = tokio::task::spawn_blocking(move || {
                    crate::backup::write(&data_dir, &version, sink)
                })
                .await;
                drop(hold);
                written.map_err(|error| ActionError::internal("backup", error.to_string()))?
            }
            Action::Invoke(request) => crate::invocation::invoke(self, request).await,
            Action::Invocations(request) => crate::invocation_records::list(self, request).await,
            Action::InvocationRecord { id } => crate::invocation_records::show(self, &id).await,
            Action::Replay { id } => crate::invocation_records::replay(self, &id).await,
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

    /// The runtime settings of `stack`'s functions: the server's, with the stack named (log
    /// lines are kept under it) and the stack's own keys as their credentials (none before
    /// the stack has keys: `start_version` makes them first).
    fn runtime_options(&self, stack: &str, app: &template::App) -> runtime::RuntimeOptions {
        let (access_key_id, secret_access_key, session_token) = match self.keys.credentials(stack) {
            Some(keys) => (
                keys.credentials.access_key_id,
                keys.credentials.secret_access_key,
                Some(keys.session_token),
            ),
            None => Default::default(),
        };
        let mut options = runtime::RuntimeOptions {
            stack: stack.to_owned(),
            access_key_id,
            secret_access_key,
            session_token,
            ..self.config.runtime.clone()
        };
        // Inside the sandbox, the stack's APIs answer on their AWS host names too (the
        // management API of its WebSocket APIs on `https://{domainName}/{stage}`).
        if let Some(hosts) = &mut options.aws_hosts {
            let api_ids = app
                .apis
                .iter()
                .map(|api| api.api_id.as_str())
                .chain(app.websocket_apis.iter().map(|api| api.api_id.as_str()));
            for api_id in api_ids {
                hosts.names.push(format!(
                    "{api_id}.execute-api.{}.amazonaws.com",
                    self.config.region
                ));
                hosts
                    .names
                    .push(format!("{api_id}.execute-api.{}", self.config.domain));
            }
            // And its buckets on S3's virtual-hosted names.
            for bucket in &app.buckets {
                hosts.names.push(format!(
                    "{}.s3.{}.amazonaws.com",
                    bucket.name, self.config.region
                ));
                hosts
                    .names
                    .push(format!("{}.s3.amazonaws.com", bucket.name));
            }
        }
        options
    }

    /// Lets the stack's keys reach what its live versions and a version being started own.
    fn publish_scope(&self, stack: &str) {
        let live: Vec<Owned> = self
            .stacks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(stack)
            .map(|live| {
                live.current
                    .iter()
                    .chain(&live.draining)
                    .map(|version| Owned::of(&version.app))
                    .collect()
            })
            .unwrap_or_default();
        self.keys.publish(stack, live);
    }

    /// After an action on `stack`: a version it started is live or gone, so the keys'
    /// scope is the live versions'; a stack that is neither recorded nor running (deleted,
    /// or whose first deploy failed) loses its keys.
    fn settle_keys(&self, stack: &str) {
        self.keys.started(stack);
        let recorded = self
            .state
            .stacks()
            .map(|stacks| stacks.iter().any(|record| record.name == stack));
        let running = self
            .stacks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains_key(stack);
        if recorded.is_ok_and(|recorded| !recorded) && !running {
            if let Err(error) = self.state.delete_stack(stack) {
                tracing::warn!("failed to forget the keys of stack {stack}: {error}");
            }
            self.keys.forget(stack);
        } else {
            self.publish_scope(stack);
        }
    }

    /// Where a stack's files go.
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
            // Published as the version starts.
            lambda_versions: None,
        };
        let live = self.current(&stack);
        let old_app = live.as_ref().map(|version| version.app.clone());
        // Under `serve`, every function the deploy changes is warmed before the switch: one
        // that fails its init fails the deploy, while the running version keeps serving.
        let warm = if request.warm_before_switch {
            Warm::Replacing(live)
        } else {
            Warm::Nothing
        };
        let (version, warnings, published) = self
            .start_version(record, current.as_ref(), warm, progress.clone())
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
        if let Some(shared) = self.config.shared_versions.clone() {
            // Before the version is recorded: a node that sees it finds its source.
            progress.phase("storing the source for the cluster");
            let record = version.record.clone();
            let stored = tokio::task::spawn_blocking(move || shared.upload(&record))
                .await
                .map_err(|error| error.to_string())
                .and_then(|stored| stored.map_err(|error| error.to_string()));
            if let Err(message) = stored {
                shut_down(version).await;
                return Err(ActionError::internal("state", message));
            }
        }
        progress.phase("switching");
        if let Err(error) = self.state.add_version(&version.record, &published) {
            shut_down(version).await;
            return Err(ActionError::internal("state", error.to_string()));
        }
        let previous = self.switch(&stack, version.clone());
        self.prune(&stack).await;
        self.refresh_published(&stack);
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
    ///
    /// A record without Lambda version numbers (a new deploy, or one recorded before
    /// Serverful published versions) publishes them over `previous` (the deploy it
    /// replaces), and comes back with them in its record, with the versions it published
    /// for the caller to record.
    async fn start_version(
        self: &Arc<Self>,
        mut record: VersionRecord,
        previous: Option<&VersionRecord>,
        warm: Warm,
        progress: Arc<dyn Progress>,
    ) -> Result<(Arc<LiveVersion>, Vec<String>, Vec<FunctionVersionRecord>), ActionError> {
        let stack = record.stack.clone();
        if let Some(shared) = self.config.shared_versions.clone() {
            // Deployed through another node: its source comes from the database.
            let wanted = record.clone();
            tokio::task::spawn_blocking(move || shared.ensure_source(&wanted))
                .await
                .map_err(|error| ActionError::internal("source", error.to_string()))?
                .map_err(|error| ActionError::internal("source", error.to_string()))?;
        }
        progress.phase("loading the template");
        let mut app = self.load_template(&record, record.version_numbers())?;
        // The functions get the stack's own keys, which may reach the new version's
        // tables and functions from now on (its functions may use them before the switch).
        self.keys
            .ensure(&*self.state, &stack)
            .map_err(|error| ActionError::internal("keys", error.to_string()))?;
        self.keys.starting(&stack, Owned::of(&app));
        self.publish_scope(&stack);
        let mut warnings = Vec::new();
        if !app.unsupported.is_empty() {
            let warning = format!("not supported yet, ignored: {}", app.unsupported.join(", "));
            progress.warning(&warning);
            warnings.push(warning);
        }

        progress.phase("building");
        let mut configs = self.prepare(&stack, &app, progress.clone()).await?;
        let mut digests = self.digests(&stack, &configs).await?;
        let mut published = Vec::new();
        if record.lambda_versions.is_none() {
            let highest = self
                .state
                .highest_function_versions(&stack)
                .map_err(|error| ActionError::internal("state", error.to_string()))?;
            let now = now_rfc3339();
            let deploy = lambda_versions::Deploy {
                app: &app,
                stack: &stack,
                number: record.number,
                digests: &digests,
                live_source: record.digest.is_empty(),
                now: &now,
            };
            let publication = lambda_versions::publish(&deploy, previous, &highest)
                .map_err(|message| ActionError::invalid("versions", message))?;
            // `Ref` and `GetAtt` of the versions now give their real numbers; when that
            // changes a function (its environment names a version), it is prepared again
            // (its build is cached).
            let numbered = self.load_template(&record, publication.numbers())?;
            published = publication.published;
            if numbered.functions != app.functions {
                configs = self.prepare(&stack, &numbered, progress.clone()).await?;
                digests = self.digests(&stack, &configs).await?;
                // What the new versions run is the function as numbered.
                for version in &mut published {
                    let digest = digests.get(&version.function);
                    let function = numbered
                        .functions
                        .iter()
                        .find(|function| function.logical_id == version.function);
                    if let (Some(digest), Some(function)) = (digest, function) {
                        version.code_sha256 = digest.code_sha256.clone();
                        version.config_sha256 = digest.config_sha256.clone();
                        version.settings = lambda_versions::settings(function, digest.code_size);
                    }
                }
            }
            app = numbered;
            record.lambda_versions = Some(publication.lambda_versions);
        }

        progress.phase("creating tables");
        let store = self.store.clone();
        let table_list = app.tables.clone();
        let table_setups =
            tokio::task::spawn_blocking(move || tables::ensure_tables(&store, &table_list))
                .await
                .map_err(|error| ActionError::internal("tables", error.to_string()))?
                .map_err(|message| ActionError::invalid("tables", message))?;
        crate::streams::check(&self.store, &app)?;
        progress.phase("creating queues and topics");
        crate::queues::ensure(self, &app).await?;
        progress.phase("creating buckets");
        crate::buckets::ensure(self, &stack, &app).await?;

        progress.phase("starting functions");
        let mut functions = BTreeMap::new();
        let mut started_configs = BTreeMap::new();
        for config in configs {
            let name = config.name.clone();
            started_configs.insert(name.clone(), config.clone());
            let (function_runtime, function_warnings) =
                runtime::Runtime::new(vec![config], self.runtime_options(&stack, &app))
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
            digests,
            configs: started_configs,
            rule_patterns: std::sync::OnceLock::new(),
        });
        if let Warm::Replacing(previous) = warm {
            let plan = warm_plan(&version, previous.as_deref());
            if !plan.is_empty() {
                progress.phase("warming functions");
            }
            if let Err(error) = warm_functions(plan).await {
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
        Ok((version, warnings, published))
    }

    /// Loads `record`'s template with its Lambda versions numbered `version_numbers`.
    fn load_template(
        &self,
        record: &VersionRecord,
        version_numbers: BTreeMap<String, u32>,
    ) -> Result<template::App, ActionError> {
        let options = template::LoadOptions {
            parameter_overrides: record.parameters.clone(),
            region: self.config.region.clone(),
            account_id: self.config.account_id.clone(),
            stack_name: record.stack.clone(),
            version_numbers,
            queue_url_base: self.config.runtime.aws_endpoint_url.clone(),
        };
        template::load(&record.template_path, &options)
            .map_err(|error| ActionError::invalid("template", error.to_string()))
    }

    /// Builds every function of `app` (cached builds are not redone): the runtime's view
    /// of each.
    async fn prepare(
        &self,
        stack: &str,
        app: &template::App,
        progress: Arc<dyn Progress>,
    ) -> Result<Vec<runtime::FunctionConfig>, ActionError> {
        let dirs = self.dirs(stack);
        let versions = self.config.code_versions;
        let build_app = app.clone();
        tokio::task::spawn_blocking(move || {
            prepare::prepare_functions(&build_app, &dirs, None, versions, &*progress)
        })
        .await
        .map_err(|error| ActionError::internal("build", error.to_string()))?
        .map_err(|error| {
            let step = match error {
                prepare::PrepareError::Runtime(_) => "functions",
                _ => "build",
            };
            ActionError::invalid(step, error.to_string())
        })
    }

    /// The code and configuration hashes of built functions.
    async fn digests(
        self: &Arc<Self>,
        stack: &str,
        configs: &[runtime::FunctionConfig],
    ) -> Result<BTreeMap<String, FunctionDigest>, ActionError> {
        let dirs = self.dirs(stack);
        // Builds and inline code are content-addressed: a folder there never changes.
        let immutable = vec![dirs.build_root, dirs.inline_root];
        let platform = self.clone();
        let configs = configs.to_vec();
        tokio::task::spawn_blocking(move || platform.code_hashes.digests(&configs, &immutable))
            .await
            .map_err(|error| ActionError::internal("build", error.to_string()))?
            .map_err(|error| ActionError::internal("build", format!("failed to {error}")))
    }

    /// Records the Lambda versions a deploy recorded before they existed has published.
    fn record_lambda_versions(&self, version: &LiveVersion, published: &[FunctionVersionRecord]) {
        let record = &version.record;
        let lambda_versions = record.lambda_versions.clone().unwrap_or_default();
        if let Err(error) = self.state.record_lambda_versions(
            &record.stack,
            record.number,
            &lambda_versions,
            published,
        ) {
            tracing::warn!(
                "failed to record the Lambda versions of {} version {}: {error}",
                record.stack,
                record.number
            );
        }
    }

    /// Reads the stack's Lambda versions from the state again (after a deploy, a
    /// rollback, a prune).
    fn refresh_published(&self, stack: &str) {
        let published = match self.state.function_versions(stack) {
            Ok(published) => Arc::new(published),
            Err(error) => {
                tracing::warn!("failed to read the Lambda versions of {stack}: {error}");
                return;
            }
        };
        let mut stacks = self
            .stacks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(live) = stacks.get_mut(stack) {
            live.published = published;
        }
    }

    /// The Lambda versions of `stack`'s functions.
    pub fn published(&self, stack: &str) -> Arc<Vec<FunctionVersionRecord>> {
        self.stacks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(stack)
            .map(|live| live.published.clone())
            .unwrap_or_default()
    }

    /// Makes `version` its stack's current one, routes switched in one step, and drains
    /// the version it replaces in the background. Returns the replaced version's number.
    fn switch(self: &Arc<Self>, stack: &str, version: Arc<LiveVersion>) -> Option<u64> {
        // The version's schedules replace the old version's timers as its routes do.
        if let Some(scheduler) = &self.scheduler {
            for error in scheduler.replace_stack(stack, crate::schedules::specs(stack, &version)) {
                tracing::warn!("failed to start a schedule: {error}");
            }
        }
        self.switch_streams(stack, &version);
        self.switch_queue_mappings(stack, &version);
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
        self.keys.started(stack);
        self.publish_scope(stack);
        self.publish_routes();
        let old = old?;
        let number = old.record.number;
        let platform = self.clone();
        let stack = stack.to_owned();
        tokio::spawn(async move {
            if let Some(current) = platform.current(&stack) {
                crate::queues::retire_subscriptions(&platform, &old.app, Some(&current.app)).await;
            }
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
        drop(stacks);
        self.publish_scope(stack);
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
        let legacy = target.lambda_versions.is_none();
        let (version, _warnings, published) = self
            .start_version(
                target.clone(),
                record.current_version(),
                Warm::Nothing,
                progress.clone(),
            )
            .await?;
        progress.phase("switching");
        self.state
            .set_current(stack, target.number)
            .map_err(|error| ActionError::internal("state", error.to_string()))?;
        if legacy {
            self.record_lambda_versions(&version, &published);
        }
        self.switch(stack, version.clone());
        self.refresh_published(stack);
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
        self.stream_mappings.remove_stack(stack, true).await;
        if let Some(queue_mappings) = &self.queue_mappings {
            queue_mappings.remove_stack(stack).await;
        }
        self.publish_routes();
        if let Some(scheduler) = &self.scheduler {
            if let Err(error) = scheduler.remove_stack(stack) {
                tracing::warn!("failed to forget the schedules of {stack}: {error}");
            }
        }
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
        let (queues_deleted, queues_kept) = match live
            .as_ref()
            .and_then(|live| live.current.as_ref())
        {
            Some(version) => crate::queues::delete_stack(self, &version.app, delete_tables).await,
            None => (Vec::new(), Vec::new()),
        };
        if let Some(version) = live.as_ref().and_then(|live| live.current.as_ref()) {
            crate::buckets::delete_stack(self, &version.app, delete_tables).await;
        }
        if let Some(live) = live {
            for version in live.current.into_iter().chain(live.draining) {
                shut_down(version).await;
            }
        }
        self.older.stop_where(stack, |_, _| false).await;
        crate::async_invoke::forget_stack(self.config.async_invocations.as_ref(), stack).await;
        self.state
            .delete_stack(stack)
            .map_err(|error| ActionError::internal("state", error.to_string()))?;
        if let Some(api_keys) = &self.config.api_keys {
            if let Err(error) = api_keys.delete_stack(stack) {
                tracing::warn!("failed to forget the API keys of {stack}: {error}");
            }
        }
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
            queues_deleted,
            queues_kept,
        })
    }

    /// In a cluster: starts the stack's current version as the state has it and switches
    /// to it, unless this node serves it already. False when an action on the stack runs
    /// here (the caller tries again later).
    pub(crate) async fn follow_version(
        self: &Arc<Self>,
        wanted: VersionRecord,
    ) -> Result<bool, ActionError> {
        let stack = wanted.stack.clone();
        let Ok(_guard) = self.lock(&stack) else {
            return Ok(false);
        };
        // Read again under the lock: an action here may have moved it since.
        let state = self.state.clone();
        let record = tokio::task::spawn_blocking(move || state.stacks())
            .await
            .map_err(|error| ActionError::internal("state", error.to_string()))?
            .map_err(|error| ActionError::internal("state", error.to_string()))?
            .into_iter()
            .find(|record| record.name == stack);
        let Some(target) = record.as_ref().and_then(|record| record.current_version()) else {
            return Ok(true);
        };
        if self
            .current(&stack)
            .is_some_and(|live| crate::cluster_versions::same_deploy(&live.record, target))
        {
            return Ok(true);
        }
        let outcome = self
            .start_version(
                target.clone(),
                None,
                Warm::Nothing,
                Arc::new(crate::prepare::Quiet),
            )
            .await;
        let result = match outcome {
            Ok((version, _warnings, _published)) => {
                self.switch(&stack, version);
                self.refresh_published(&stack);
                Ok(true)
            }
            Err(error) => Err(error),
        };
        self.settle_keys(&stack);
        result
    }

    /// In a cluster: stops `stack` on this node after it was deleted through another
    /// (which deleted what the nodes share: its state, tables, queues, buckets). False
    /// when an action on the stack runs here.
    pub(crate) async fn retire_here(self: &Arc<Self>, stack: &str) -> Result<bool, ActionError> {
        let Ok(_guard) = self.lock(stack) else {
            return Ok(false);
        };
        let state = self.state.clone();
        let recorded = tokio::task::spawn_blocking(move || state.stacks())
            .await
            .map_err(|error| ActionError::internal("state", error.to_string()))?
            .map_err(|error| ActionError::internal("state", error.to_string()))?
            .iter()
            .any(|record| record.name == stack);
        if recorded {
            // Deployed again since: the next catch-up starts it.
            return Ok(true);
        }
        let live = self
            .stacks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(stack);
        self.stream_mappings.remove_stack(stack, false).await;
        if let Some(queue_mappings) = &self.queue_mappings {
            queue_mappings.remove_stack(stack).await;
        }
        self.publish_routes();
        if let Some(scheduler) = &self.scheduler {
            if let Err(error) = scheduler.remove_stack(stack) {
                tracing::warn!("failed to forget the schedules of {stack}: {error}");
            }
        }
        if let Some(live) = live {
            for version in live.current.into_iter().chain(live.draining) {
                shut_down(version).await;
            }
        }
        self.older.stop_where(stack, |_, _| false).await;
        self.settle_keys(stack);
        if self.config.layout == Layout::Serve {
            let _ = std::fs::remove_dir_all(stack_root(&self.config.data_dir, stack));
        }
        Ok(true)
    }

    /// Forgets old versions beyond [`VERSIONS_KEPT`] and removes their source copies, and
    /// stops the Lambda versions they published that still ran.
    async fn prune(&self, stack: &str) {
        match self.state.prune_versions(stack, VERSIONS_KEPT) {
            Ok(pruned) => {
                let pruned_deploys: Vec<u64> =
                    pruned.iter().map(|version| version.number).collect();
                let forgotten: Vec<(String, u32)> = self
                    .published(stack)
                    .iter()
                    .filter(|version| pruned_deploys.contains(&version.deploy))
                    .map(|version| (version.function.clone(), version.number))
                    .collect();
                self.older
                    .stop_where(stack, |function, number| {
                        !forgotten
                            .iter()
                            .any(|(gone, gone_number)| gone == function && *gone_number == number)
                    })
                    .await;
                if self.config.layout == Layout::Serve {
                    // Sources are kept by content: a kept version deployed from the same
                    // source (a redeploy of an earlier commit) shares the folder.
                    let still_used: Vec<PathBuf> = match self.state.stacks() {
                        Ok(records) => records
                            .into_iter()
                            .filter(|record| record.name == stack)
                            .flat_map(|record| record.versions)
                            .map(|version| version.source_dir)
                            .collect(),
                        Err(error) => {
                            tracing::warn!("kept every source of {stack}: {error}");
                            return;
                        }
                    };
                    for version in pruned {
                        if version
                            .source_dir
                            .starts_with(stack_root(&self.config.data_dir, stack))
                            && !still_used.contains(&version.source_dir)
                        {
                            let _ = std::fs::remove_dir_all(&version.source_dir);
                        }
                    }
                }
            }
            Err(error) => tracing::warn!("failed to prune old versions of {stack}: {error}"),
        }
    }

    /// The stack's schedules with their next fire times (on the schedule clock).
    pub fn upcoming_schedules(&self, stack: &str) -> Vec<serverful_scheduler::Upcoming> {
        self.scheduler
            .as_ref()
            .map(|scheduler| scheduler.upcoming(stack))
            .unwrap_or_default()
    }

    /// One line per schedule of the stack: its name, expression, functions and next fire
    /// time (`Name rate(1 minute) -> Fn (next 2026-12-07T06:00:00Z)`).
    pub fn schedule_lines(&self, stack: &str) -> Vec<String> {
        self.upcoming_schedules(stack)
            .into_iter()
            .map(|schedule| {
                let next = match (schedule.enabled, schedule.next) {
                    (false, _) => "disabled".to_owned(),
                    (true, Some(next)) => format!(
                        "next {}",
                        next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                    (true, None) => "no fire time left".to_owned(),
                };
                format!(
                    "{} {} -> {} ({next})",
                    schedule.name,
                    schedule.expression,
                    schedule.targets.join(", ")
                )
            })
            .collect()
    }

    /// The function a name, partial ARN or ARN names (each optionally with `:qualifier`,
    /// as Lambda accepts a `FunctionName`) among the stacks' current versions: (stack,
    /// logical id, name, qualifier).
    pub fn function_by_name(&self, name: &str) -> Option<(String, String, String, Option<String>)> {
        let without_arn = name
            .rsplit_once(":function:")
            .map_or(name, |(_, rest)| rest);
        let (bare, qualifier) = match without_arn.split_once(':') {
            Some((bare, qualifier)) => (bare, Some(qualifier.to_owned())),
            None => (without_arn, None),
        };
        self.current_versions().iter().find_map(|version| {
            version
                .app
                .functions
                .iter()
                .find(|function| function.name == bare)
                .map(|function| {
                    (
                        version.record.stack.clone(),
                        function.logical_id.clone(),
                        function.name.clone(),
                        qualifier.clone(),
                    )
                })
        })
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

    pub(crate) fn stack_names(&self) -> Vec<String> {
        self.stacks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// The deploy a call is for: the one its route belongs to (it may be draining), else
    /// the current one.
    fn version_for(&self, function: &FunctionRef) -> Option<Arc<LiveVersion>> {
        let stacks = self
            .stacks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let live = stacks.get(&*function.stack)?;
        match function.deploy {
            Some(number) => live
                .current
                .iter()
                .chain(&live.draining)
                .find(|version| version.record.number == number)
                .cloned(),
            None => live.current.clone(),
        }
    }

    /// The runtime a call runs on, and the Lambda version it runs (`$LATEST` or a
    /// number, as `X-Amz-Executed-Version` says): the deploy's own runtime for `$LATEST`
    /// and for a version that is the deploy's build, else the version's own build,
    /// started if it is not running. An alias picks its version (by weight, if it splits).
    async fn resolve(
        self: &Arc<Self>,
        function: &FunctionRef,
    ) -> Result<(Arc<runtime::Runtime>, String), InvokeError> {
        let unknown = || InvokeError::NoSuchFunction(function.to_string());
        let version = self.version_for(function).ok_or_else(unknown)?;
        let own = version.runtime_of(&function.function).ok_or_else(unknown)?;
        let number = match function.qualifier.as_deref() {
            None | Some("$LATEST") => return Ok((own, "$LATEST".to_owned())),
            Some(number) if number.bytes().all(|byte| byte.is_ascii_digit()) => {
                number.parse::<u32>().map_err(|_| unknown())?
            }
            Some(alias) => {
                let alias = version
                    .app
                    .aliases
                    .iter()
                    .find(|candidate| {
                        *candidate.function == *function.function && candidate.name == alias
                    })
                    .ok_or_else(unknown)?;
                match lambda_versions::pick(&version.app, alias, lambda_versions::roll) {
                    Some(number) => number,
                    None => return Ok((own, "$LATEST".to_owned())),
                }
            }
        };
        let published = self.published(&function.stack);
        let record = published
            .iter()
            .find(|record| *record.function == *function.function && record.number == number)
            .ok_or_else(unknown)?;
        // By what it runs, not by the deploy that published it: `up --watch` reloads a
        // function of the running deploy with other code.
        let own_build = version
            .digests
            .get(&*function.function)
            .is_some_and(|digest| digest.runs(record));
        if own_build {
            return Ok((own, number.to_string()));
        }
        let key = (record.stack.clone(), record.function.clone(), record.number);
        let platform = self.clone();
        let record = record.clone();
        let older = self
            .older
            .get_or_start(key, self.config.runtime.idle_timeout, move || async move {
                platform.start_older(&record).await
            })
            .await?;
        Ok((older, number.to_string()))
    }

    /// Starts Lambda version `version` of its function from its own deploy's build (a
    /// cached build; rebuilt from the deploy's kept source if it was pruned), as a
    /// runtime of that one function.
    async fn start_older(
        self: &Arc<Self>,
        version: &FunctionVersionRecord,
    ) -> Result<runtime::Runtime, InvokeError> {
        let stack = &version.stack;
        let name = format!("version {} of {}", version.number, version.function);
        let unavailable = |reason: String| InvokeError::Unavailable(format!("{name}: {reason}"));
        let deploy = self
            .state
            .stacks()
            .map_err(|error| unavailable(error.to_string()))?
            .into_iter()
            .find(|record| record.name == *stack)
            .and_then(|record| record.version(version.deploy).cloned())
            .ok_or_else(|| {
                unavailable(format!("its deploy {} is no longer kept", version.deploy))
            })?;
        if deploy.digest.is_empty() {
            return Err(unavailable(format!(
                "it was published from {}, the folder `serverful up` runs live, whose code has changed since; only the versions of the code running now can be invoked",
                deploy.source
            )));
        }
        let app = self
            .load_template(&deploy, deploy.version_numbers())
            .map_err(|error| unavailable(error.to_string()))?;
        let options = self.runtime_options(stack, &app);
        let dirs = self.dirs(stack);
        let code_versions = self.config.code_versions;
        let function = version.function.clone();
        let configs = tokio::task::spawn_blocking(move || {
            prepare::prepare_functions(&app, &dirs, Some(&function), code_versions, &prepare::Quiet)
        })
        .await
        .map_err(|error| unavailable(error.to_string()))?
        .map_err(|error| unavailable(format!("failed to build it: {error}")))?;
        let mut config = configs
            .into_iter()
            .next()
            .ok_or_else(|| unavailable("its deploy's template has no such function".to_owned()))?;
        // As on Lambda, the process knows which version it is.
        config.environment.insert(
            "AWS_LAMBDA_FUNCTION_VERSION".to_owned(),
            version.number.to_string(),
        );
        let (function_runtime, warnings) = runtime::Runtime::new(vec![config], options)
            .map_err(|error| unavailable(error.to_string()))?;
        for warning in warnings {
            tracing::warn!("{stack}: {name}: {warning}");
        }
        Ok(function_runtime)
    }

    /// Calls a function with an event and returns its result. A call that reached a
    /// version as it stopped goes to the stack's current version instead.
    pub async fn invoke(
        self: &Arc<Self>,
        function: &FunctionRef,
        event: Bytes,
    ) -> Result<Bytes, InvokeError> {
        self.invoke_version(function, event).await.1
    }

    /// [`Platform::invoke`], also saying which Lambda version ran (`$LATEST` or a
    /// number), when one did (the function may have failed or timed out). A response the
    /// function streams is collected, as Lambda answers callers that do not stream.
    pub async fn invoke_version(
        self: &Arc<Self>,
        function: &FunctionRef,
        event: Bytes,
    ) -> (Option<String>, Result<Bytes, InvokeError>) {
        self.invoke_version_with(function, event, runtime::InvokeContext::default())
            .await
    }

    /// [`Platform::invoke_version`] with the invocation's context (a tail of its log for
    /// the caller, ...).
    pub async fn invoke_version_with(
        self: &Arc<Self>,
        function: &FunctionRef,
        event: Bytes,
        context: runtime::InvokeContext,
    ) -> (Option<String>, Result<Bytes, InvokeError>) {
        let (executed, response) = self
            .invoke_streaming_version(function, event, context)
            .await;
        let result = match response {
            Ok(response) => response.into_bytes(runtime::MAX_PAYLOAD_BYTES).await,
            Err(error) => Err(error),
        };
        (executed, result)
    }

    /// Calls a function for a caller that passes a streamed response on as it comes
    /// (function URLs in `RESPONSE_STREAM` mode, `InvokeWithResponseStream`), saying which
    /// Lambda version ran as [`Platform::invoke_version`] does.
    ///
    /// Every call of a function passes here, and is recorded here (`records.rs`) unless
    /// recording is off.
    pub async fn invoke_streaming_version(
        self: &Arc<Self>,
        function: &FunctionRef,
        event: Bytes,
        mut context: runtime::InvokeContext,
    ) -> (Option<String>, Result<InvokeResponse, InvokeError>) {
        let recording = crate::records::Recording::start(self, function, &event, &mut context);
        let (executed, answer) = self
            .invoke_streaming_unrecorded(function, event, context)
            .await;
        match recording {
            Some(recording) => recording.finish(executed, answer),
            None => (executed, answer),
        }
    }

    async fn invoke_streaming_unrecorded(
        self: &Arc<Self>,
        function: &FunctionRef,
        event: Bytes,
        context: runtime::InvokeContext,
    ) -> (Option<String>, Result<InvokeResponse, InvokeError>) {
        let (function_runtime, executed) = match self.resolve(function).await {
            Ok(resolved) => resolved,
            Err(error) => return (None, Err(error)),
        };
        match function_runtime
            .invoke_streaming(&function.function, event.clone(), context.clone())
            .await
        {
            Err(runtime::InvokeError::ShuttingDown) => {
                // The deploy it reached was drained, or the older version was stopped
                // as idle: the stack's current deploy resolves it again.
                let current = FunctionRef {
                    deploy: None,
                    ..function.clone()
                };
                let (newer, executed) = match self.resolve(&current).await {
                    Ok(resolved) => resolved,
                    Err(error) => return (None, Err(error)),
                };
                if Arc::ptr_eq(&newer, &function_runtime) {
                    return (None, Err(invoke_error(runtime::InvokeError::ShuttingDown)));
                }
                let result = newer
                    .invoke_streaming(&function.function, event, context)
                    .await
                    .map(invoke_response)
                    .map_err(invoke_error);
                (Some(executed), result)
            }
            outcome => (
                Some(executed),
                outcome.map(invoke_response).map_err(invoke_error),
            ),
        }
    }

    /// For an HTTP-mode function: a server ready to take one proxied request.
    pub async fn http_target(
        self: &Arc<Self>,
        function: &FunctionRef,
    ) -> Result<HttpTarget, InvokeError> {
        let (function_runtime, _) = self.resolve(function).await?;
        let lease = match function_runtime.http_lease(&function.function).await {
            Err(runtime::InvokeError::ShuttingDown) => {
                let current = FunctionRef {
                    deploy: None,
                    ..function.clone()
                };
                self.resolve(&current)
                    .await?
                    .0
                    .http_lease(&function.function)
                    .await
            }
            outcome => outcome,
        }
        .map_err(invoke_error)?
        .ok_or_else(|| {
            InvokeError::Unavailable(format!("{function} is not an HTTP-mode function"))
        })?;
        let recording = crate::records::Recording::start_http(self, function, lease.request_id());
        Ok(HttpTarget {
            address: lease.address(),
            remove_base_path: lease.remove_base_path().map(str::to_owned),
            timeout: lease.timeout(),
            lambda_context: Some(lease.lambda_context().to_owned()),
            guard: Box::new(LeaseGuard { lease, recording }),
        })
    }

    /// Replaces one function of a stack's current version in place (`up --watch`): new
    /// requests go to the new runtime at once; the old one drains and stops. A function
    /// with `AutoPublishAlias` whose code changed gets a new Lambda version, and its
    /// alias moves to it, as `sam sync` does.
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
        // The live folder changes under it: hashed afresh, never remembered.
        let digest = self
            .code_hashes
            .digests(std::slice::from_ref(&config), &[])
            .map_err(|error| ActionError::internal("build", format!("failed to {error}")))?
            .remove(&name);
        let mut configs = version.configs.clone();
        configs.insert(name.clone(), config.clone());
        let (function_runtime, warnings) =
            runtime::Runtime::new(vec![config], self.runtime_options(stack, &version.app))
                .map_err(|error| ActionError::invalid("functions", error.to_string()))?;
        let function_runtime = Arc::new(function_runtime);
        let parking = function_runtime.clone();
        tokio::spawn(async move { parking.park_sandboxes().await });

        // The deploy as it is now: this function's new runtime and digest, and SAM's
        // version of it published anew when its code or configuration changed.
        let mut record = version.record.clone();
        let mut app = version.app.clone();
        let mut digests = version.digests.clone();
        let mut published = Vec::new();
        if let Some(digest) = digest {
            if digests.get(&name) != Some(&digest) {
                let highest = self
                    .state
                    .highest_function_versions(stack)
                    .map_err(|error| ActionError::internal("state", error.to_string()))?;
                published = lambda_versions::republish(
                    &mut app,
                    &mut record,
                    &name,
                    &digest,
                    &highest,
                    &now_rfc3339(),
                );
            }
            digests.insert(name.clone(), digest);
        }
        let mut functions = version
            .functions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let old = functions.insert(name.clone(), function_runtime);
        let reloaded = Arc::new(LiveVersion {
            record,
            app,
            tables: version.tables.clone(),
            functions: RwLock::new(functions),
            digests,
            configs,
            rule_patterns: std::sync::OnceLock::new(),
        });
        if !published.is_empty() {
            self.record_lambda_versions(&reloaded, &published);
        }
        {
            let mut stacks = self
                .stacks
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(live) = stacks.get_mut(stack) {
                // The other functions' runtimes are shared with the version replaced,
                // which is dropped, not drained.
                live.current = Some(reloaded);
            }
        }
        self.refresh_published(stack);
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

    /// The API keys of a stack's current version, with their values; empty when it has
    /// none or the key store failed (logged).
    pub fn api_keys(&self, stack: &str) -> Vec<crate::api_keys::KeyListing> {
        self.current(stack)
            .map(|version| self.api_key_listings(&version))
            .unwrap_or_default()
    }

    fn api_key_listings(&self, version: &LiveVersion) -> Vec<crate::api_keys::KeyListing> {
        let Some(backend) = &self.config.api_keys else {
            return Vec::new();
        };
        if version.app.api_keys.is_empty() {
            return Vec::new();
        }
        crate::api_keys::key_listings(backend.as_ref(), &version.record.stack, &version.app)
            .unwrap_or_else(|error| {
                tracing::error!(
                    "{error}; the API keys of {} refuse every request",
                    version.record.stack
                );
                Vec::new()
            })
    }

    fn gateway_keys(
        &self,
        version: &LiveVersion,
        api: &template::Api,
        listings: &[crate::api_keys::KeyListing],
    ) -> gateway::ApiKeys {
        let Some(backend) = &self.config.api_keys else {
            return gateway::ApiKeys::default();
        };
        if version.app.usage_plans.is_empty() {
            return gateway::ApiKeys::default();
        }
        crate::api_keys::gateway_keys(backend, &version.record.stack, &version.app, api, listings)
            .unwrap_or_else(|error| {
                tracing::error!(
                    "{error}; the API keys of {} refuse every request",
                    version.record.stack
                );
                gateway::ApiKeys::default()
            })
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
        let mut function_urls = Vec::new();
        for version in &versions {
            let listings = self.api_key_listings(version);
            // Each stage of an API is served as an API of its own with the same id.
            for api in version.app.apis.iter().flat_map(template::Api::per_stage) {
                let mut spec = api_spec(version, &api);
                spec.api_keys = self.gateway_keys(version, &api, &listings);
                apis.push(spec);
            }
            function_urls.extend(
                version
                    .app
                    .function_urls
                    .iter()
                    .filter_map(|url| function_url_spec(version, url, &self.config.region)),
            );
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
            function_urls,
        });
        if let Some(websockets) = &self.config.websockets {
            websockets.replace(
                versions
                    .iter()
                    .flat_map(|version| {
                        version.app.websocket_apis.iter().flat_map(|api| {
                            // Each stage is served as an API of its own with the same id.
                            let first = websocket_api_spec(version, api);
                            let others: Vec<_> = api
                                .other_stages
                                .iter()
                                .map(|stage| serverful_websocket::ApiSpec {
                                    stage_name: stage.clone(),
                                    ..first.clone()
                                })
                                .collect();
                            std::iter::once(first).chain(others)
                        })
                    })
                    .collect(),
            );
        }
    }

    /// The cluster's live nodes, oldest first (none for a single server, or when the
    /// database cannot say: `ls` still lists the stacks).
    async fn nodes(&self) -> Vec<crate::action::NodeSummary> {
        let Some(membership) = self.config.membership.clone() else {
            return Vec::new();
        };
        let nodes = membership.nodes.clone();
        let listed = tokio::task::spawn_blocking(move || nodes.list(NODE_SILENCE)).await;
        let listed = match listed {
            Ok(Ok(listed)) => listed,
            Ok(Err(error)) => {
                tracing::warn!("failed to list the cluster's nodes: {error}");
                return Vec::new();
            }
            Err(_) => return Vec::new(),
        };
        listed
            .into_iter()
            .map(|node| crate::action::NodeSummary {
                this_node: node.id == membership.node_id,
                started_at: chrono::DateTime::from_timestamp_millis(node.started_ms)
                    .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default(),
                name: node.name,
                admin_url: node.admin_url,
                silent_ms: node.silent_ms,
            })
            .collect()
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
                schedules: Vec::new(),
                api_keys: Vec::new(),
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
                .flat_map(template::Api::per_stage)
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
            schedules: self.schedule_lines(&version.record.stack),
            api_keys: self.api_key_listings(version),
        }
    }

    /// Stops every function of every stack.
    pub async fn shutdown(&self) {
        if let Some(scheduler) = &self.scheduler {
            scheduler.stop();
        }
        self.stream_mappings.shutdown().await;
        if let Some(queue_mappings) = &self.queue_mappings {
            queue_mappings.shutdown().await;
        }
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
        self.older.stop_all().await;
    }
}

/// Which functions of a version are warmed before anything routes to it.
enum Warm {
    /// None: the version served before (a rollback, a restart), or `up` starts it.
    Nothing,
    /// Before a switch from the running version (`None` for a first deploy): see
    /// [`warm_plan`].
    Replacing(Option<Arc<LiveVersion>>),
}

/// The most instances of one function a deploy starts ahead of its switch.
const WARM_MOST: u64 = 8;

/// Which functions of a new `version` to warm before it replaces `previous`, and how
/// many instances of each. Every function whose configuration changed (code, runtime,
/// handler, environment, limits) gets at least one, so that a function that fails its
/// init fails the deploy. And every function gets as many as `previous` runs of it now
/// (up to [`WARM_MOST`]): the requests after the switch then find warm instances, as
/// they did before it, instead of a cold start each.
fn warm_plan(
    version: &LiveVersion,
    previous: Option<&LiveVersion>,
) -> Vec<(String, Arc<runtime::Runtime>, u64)> {
    let functions = version
        .functions
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    functions
        .into_iter()
        .filter_map(|(name, function_runtime)| {
            let changed = previous.and_then(|previous| previous.configs.get(&name))
                != version.configs.get(&name);
            let running = previous
                .and_then(|previous| previous.runtime_of(&name))
                .map_or(0, |old| {
                    old.stats()
                        .iter()
                        .filter(|stats| stats.function == name)
                        .map(|stats| stats.instances)
                        .sum()
                });
            let count = running.max(u64::from(changed)).min(WARM_MOST);
            (count > 0).then_some((name, function_runtime, count))
        })
        .collect()
}

/// Starts the planned instances of each function at once and waits for their inits; the
/// failures, each naming its function and why, are the step's error.
async fn warm_functions(
    plan: Vec<(String, Arc<runtime::Runtime>, u64)>,
) -> Result<(), ActionError> {
    let tasks: Vec<_> = plan
        .into_iter()
        .flat_map(|(name, function_runtime, count)| {
            (0..count).map(move |_| {
                let (name, function_runtime) = (name.clone(), function_runtime.clone());
                tokio::spawn(async move {
                    let result = function_runtime.warm(&name).await;
                    (name, result)
                })
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
    // Several instances of one function fail alike: each failure once.
    failures.dedup_by(|a, b| a.0 == b.0);
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

/// The gateway's view of one API of a live version: its routes name the version, and a
/// function with `AutoPublishAlias` by its alias, since SAM points the function's events
/// at the alias (its weights apply to them too).
/// A WebSocket API as served. Its routes call the stack's current deploy (not this
/// version's), so that connections opened before a deploy reach the new functions.
fn websocket_api_spec(
    version: &LiveVersion,
    api: &template::WebSocketApi,
) -> serverful_websocket::ApiSpec {
    let stack: Arc<str> = Arc::from(version.record.stack.as_str());
    serverful_websocket::ApiSpec {
        stack: version.record.stack.clone(),
        logical_id: api.logical_id.clone(),
        api_id: api.api_id.clone(),
        stage_name: api.stage_name.clone(),
        route_selection_expression: api.route_selection_expression.clone(),
        routes: api
            .routes
            .iter()
            .map(|route| serverful_websocket::RouteSpec {
                route_key: route.route_key.clone(),
                target: current_target(version, &stack, &route.function).with_trigger(format!(
                    "websocket {} (api {})",
                    route.route_key, api.api_id
                )),
                two_way: route.two_way,
            })
            .collect(),
        connect_auth: match &api.connect_auth {
            template::WebSocketAuth::None => serverful_websocket::ConnectAuth::None,
            template::WebSocketAuth::AwsIam => serverful_websocket::ConnectAuth::AwsIam,
            template::WebSocketAuth::Lambda(authorizer) => {
                serverful_websocket::ConnectAuth::Lambda(serverful_websocket::ConnectAuthorizer {
                    name: authorizer.name.clone(),
                    target: current_target(version, &stack, &authorizer.function)
                        .with_trigger(format!("authorizer {}", authorizer.name)),
                    identity_sources: authorizer.identity_sources.clone(),
                })
            }
        },
    }
}

/// A function of the stack at its current deploy, by its alias when SAM's
/// `AutoPublishAlias` gives it one.
fn current_target(version: &LiveVersion, stack: &Arc<str>, function: &str) -> FunctionRef {
    let alias = version
        .app
        .functions
        .iter()
        .find(|candidate| candidate.logical_id == function)
        .and_then(|candidate| candidate.auto_publish_alias.as_deref());
    let target = FunctionRef::new(stack.clone(), function);
    match alias {
        Some(alias) => target.with_qualifier(alias),
        None => target,
    }
}

fn api_spec(version: &LiveVersion, api: &template::Api) -> gateway::ApiSpec {
    let stack: Arc<str> = Arc::from(version.record.stack.as_str());
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
        cors: api.cors.as_ref().map(|cors| gateway::CorsConfig {
            allow_origins: cors.allow_origins.clone(),
            allow_methods: cors.allow_methods.clone(),
            allow_headers: cors.allow_headers.clone(),
            expose_headers: cors.expose_headers.clone(),
            max_age: cors.max_age,
            allow_credentials: cors.allow_credentials,
        }),
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
                        deploy: Some(version.record.number),
                        qualifier: version
                            .app
                            .functions
                            .iter()
                            .find(|function| function.logical_id == route.function)
                            .and_then(|function| function.auto_publish_alias.as_deref())
                            .map(Arc::from),
                        trigger: Some(Arc::from(format!(
                            "route {} {} (api {})",
                            route.method, route.path, api.api_id
                        ))),
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
                    auth: crate::authorizers::route_auth(&route.auth),
                    mock: route.mock.as_ref().map(|mock| gateway::MockAnswer {
                        status_code: mock.status_code,
                        content_type: mock.content_type.clone(),
                        body: mock.body.clone(),
                        headers: mock.headers.clone(),
                    }),
                    api_key_required: route.api_key_required,
                    validation: route.validation.as_ref().map(|validation| {
                        gateway::RequestChecks {
                            body_schema: validation
                                .body_model
                                .as_ref()
                                .map(|(_, schema)| schema.clone()),
                            required_query: validation.required_query.clone(),
                            required_headers: validation.required_headers.clone(),
                        }
                    }),
                }
            })
            .collect(),
        authorizers: crate::authorizers::authorizer_specs(version, api),
        // Filled by `Platform::publish_routes`, which holds the key store.
        api_keys: gateway::ApiKeys::default(),
    }
}

/// A template's function URL as the gateway serves it; `None` if its function is not in
/// the version (the template checked it is).
fn function_url_spec(
    version: &LiveVersion,
    url: &template::FunctionUrl,
    region: &str,
) -> Option<gateway::FunctionUrlSpec> {
    let function = version
        .app
        .functions
        .iter()
        .find(|function| function.logical_id == url.function)?;
    Some(gateway::FunctionUrlSpec {
        stack: version.record.stack.clone(),
        logical_id: url.logical_id.clone(),
        url_id: url.url_id.clone(),
        region: region.to_owned(),
        target: FunctionRef {
            stack: Arc::from(version.record.stack.as_str()),
            function: Arc::from(url.function.as_str()),
            deploy: Some(version.record.number),
            qualifier: url.qualifier.as_deref().map(Arc::from),
            trigger: Some(Arc::from(format!("function-url {}", url.url_id))),
        },
        function_name: function.name.clone(),
        auth_type: match url.auth_type {
            template::FunctionUrlAuthType::None => gateway::FunctionUrlAuthType::None,
            template::FunctionUrlAuthType::AwsIam => gateway::FunctionUrlAuthType::AwsIam,
        },
        cors: url.cors.as_ref().map(|cors| gateway::CorsConfig {
            allow_origins: cors.allow_origins.clone(),
            allow_methods: cors.allow_methods.clone(),
            allow_headers: cors.allow_headers.clone(),
            expose_headers: cors.expose_headers.clone(),
            max_age: cors.max_age,
            allow_credentials: cors.allow_credentials,
        }),
        invoke_mode: match url.invoke_mode {
            template::InvokeMode::Buffered => gateway::FunctionUrlInvokeMode::Buffered,
            template::InvokeMode::ResponseStream => gateway::FunctionUrlInvokeMode::ResponseStream,
        },
    })
}

/// The runtime's failure as callers of functions see it.
/// The runtime's answer as callers of [`serverful_invoke::Invoke`] take it.
fn invoke_response(response: runtime::Response) -> InvokeResponse {
    use futures_util::StreamExt as _;
    match response {
        runtime::Response::Buffered(body) => InvokeResponse::Buffered(body),
        runtime::Response::Streamed(stream) => InvokeResponse::Streamed(ResponseStream {
            content_type: stream.content_type.clone(),
            body: futures_util::stream::unfold(stream, |mut stream| async move {
                let item = stream.next().await?;
                Some((item.map_err(invoke_error), stream))
            })
            .boxed(),
        }),
    }
}

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

/// Calls functions through the platform without keeping it alive: for the event sources
/// the platform owns (stream mappings, schedules), which must not keep it alive in turn.
pub(crate) struct WeakInvoker(pub(crate) std::sync::Weak<Platform>);

impl serverful_invoke::Invoke for WeakInvoker {
    fn invoke_streaming(
        &self,
        function: &FunctionRef,
        event: Bytes,
    ) -> futures_util::future::BoxFuture<'static, Result<InvokeResponse, InvokeError>> {
        let platform = self.0.upgrade();
        let function = function.clone();
        Box::pin(async move {
            match platform {
                Some(platform) => {
                    platform
                        .invoke_streaming_version(&function, event, Default::default())
                        .await
                        .1
                }
                None => Err(InvokeError::Unavailable(
                    "the server is stopping".to_owned(),
                )),
            }
        })
    }

    fn invoke(
        &self,
        function: &FunctionRef,
        event: Bytes,
    ) -> futures_util::future::BoxFuture<'static, Result<Bytes, InvokeError>> {
        let platform = self.0.upgrade();
        let function = function.clone();
        Box::pin(async move {
            match platform {
                Some(platform) => platform.invoke_version(&function, event).await.1,
                None => Err(InvokeError::Unavailable(
                    "the server is stopping".to_owned(),
                )),
            }
        })
    }

    fn http_target(
        &self,
        function: &FunctionRef,
    ) -> futures_util::future::BoxFuture<'static, Result<serverful_invoke::HttpTarget, InvokeError>>
    {
        let platform = self.0.upgrade();
        let function = function.clone();
        Box::pin(async move {
            match platform {
                Some(platform) => platform.http_target(&function).await,
                None => Err(InvokeError::Unavailable(
                    "the server is stopping".to_owned(),
                )),
            }
        })
    }
}

/// A proxied request's hold on its instance, reported back to the runtime when it ends,
/// and its invocation record.
struct LeaseGuard {
    lease: runtime::HttpLease,
    recording: Option<crate::records::Recording>,
}

impl serverful_invoke::ProxyGuard for LeaseGuard {
    fn wants_request(&self) -> bool {
        self.recording.is_some()
    }

    fn request(&mut self, description: Bytes) {
        if let Some(recording) = &mut self.recording {
            recording.set_event(description);
        }
    }

    fn finish(
        self: Box<Self>,
        outcome: serverful_invoke::ProxyOutcome,
    ) -> futures_util::future::BoxFuture<'static, ()> {
        let LeaseGuard { lease, recording } = *self;
        let recorded = recording.map(|recording| (recording, outcome.clone()));
        let outcome = match outcome {
            serverful_invoke::ProxyOutcome::Responded { status } => {
                runtime::HttpOutcome::Responded { status }
            }
            serverful_invoke::ProxyOutcome::TimedOut => runtime::HttpOutcome::TimedOut,
            serverful_invoke::ProxyOutcome::Failed(reason) => runtime::HttpOutcome::Failed(reason),
        };
        Box::pin(async move {
            // END and REPORT first, as for a call through the Runtime API.
            lease.finish(outcome).await;
            if let Some((recording, outcome)) = recorded {
                recording.finish_http(&outcome);
            }
        })
    }
}

/// The gateway calls functions through the platform.
#[derive(Debug, Clone)]
pub struct PlatformInvoker(pub Arc<Platform>);

impl serverful_invoke::Invoke for PlatformInvoker {
    fn invoke_streaming(
        &self,
        function: &FunctionRef,
        event: Bytes,
    ) -> futures_util::future::BoxFuture<'static, Result<InvokeResponse, InvokeError>> {
        let platform = self.0.clone();
        let function = function.clone();
        Box::pin(async move {
            platform
                .invoke_streaming_version(&function, event, Default::default())
                .await
                .1
        })
    }

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

/// The server's own log line for an action that changed a stack (`--log-format json`
/// makes it a record a collector can alert on).
fn log_outcome(stack: Option<&str>, outcome: &Result<Outcome, ActionError>) {
    match outcome {
        Ok(Outcome::Deployed {
            stack,
            version,
            previous,
            ..
        }) => tracing::info!(stack, version, previous, "deployed"),
        Ok(Outcome::RolledBack {
            stack, from, to, ..
        }) => {
            tracing::info!(stack, from, to, "rolled back")
        }
        Ok(Outcome::Deleted { stack, .. }) => tracing::info!(stack, "deleted"),
        Ok(_) => {}
        // Its caller is told (the CLI prints it, the admin API answers it): `info`, so that
        // a collector of `--log-format json` sees it and a terminal does not see it twice.
        Err(error) => match stack {
            Some(stack) => tracing::info!(stack, %error, "action failed"),
            None => tracing::debug!(%error, "action failed"),
        },
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
