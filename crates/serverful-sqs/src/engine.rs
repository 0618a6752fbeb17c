//! The queue engine: SQS's semantics over a [`QueueBackend`]. Queues' settings live in
//! memory (read at open, written through); messages live in the backend. Long polls wait
//! on a per-queue [`Notify`] that every send wakes, and on a timer for the earliest
//! delayed or in-flight message, never by polling the store.
//!
//! On a shared backend (a cluster's nodes on one PostgreSQL) other nodes change the same
//! queues: a queue missing here is looked up in the backend before it is called missing,
//! the queues are reread when the backend's catalog version moves
//! ([`Queues::refresh_catalog`], every second by [`Queues::spawn_catalog_watch`] and on
//! every `ListQueues`), and a long poll also looks at the store every
//! [`CROSS_NODE_RECHECK`], since a send through another node wakes no one here.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use tokio::sync::Notify;

use crate::attributes::{self, QueueSettings, MAX_MESSAGE_BYTES};
use crate::backend::{
    Claim, Claimed, Deduplication, MoveTask, PeekedMessage, QueueBackend, QueueRecord, Receipt,
    ReceiptOutcome, Sent, StoredMessage,
};
use crate::error::SqsError;
use crate::message::{self, MessageAttributes};

/// How long a FIFO deduplication id (and a receive request attempt id) is remembered.
const DEDUPLICATION_INTERVAL_MS: i64 = 5 * 60 * 1000;
/// How long after a delete a queue of the same name may not be created.
const DELETED_RECENTLY_MS: i64 = 60 * 1000;
/// How long after a purge another purge is refused.
const PURGE_INTERVAL_MS: i64 = 60 * 1000;
/// The longest long poll.
pub const MAX_WAIT_SECONDS: u32 = 20;
/// How often a long poll on a shared backend looks at the store again while it waits
/// (a message sent through another node is received within about this long).
pub const CROSS_NODE_RECHECK: Duration = Duration::from_millis(500);
/// How often a node of a cluster checks whether another node changed the queues.
const CATALOG_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How long a cluster node's claim on a message move task lasts unless renewed (each
/// step of the task renews it, a second apart at most); a task whose node stopped is
/// taken over by another after it.
const MOVE_TASK_LEASE_MS: i64 = 5_000;
/// How many catalog checks apart a cluster node looks for move tasks no node runs.
const ORPHAN_CHECK_TICKS: u32 = 5;

/// Where queues live: the account, region and endpoint their ARNs and URLs name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuesConfig {
    pub region: String,
    pub account_id: String,
    /// The AWS endpoint's URL without a trailing slash: queue URLs are
    /// `{endpoint_url}/{account_id}/{name}`.
    pub endpoint_url: String,
}

/// A message to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendMessage {
    pub body: String,
    /// Overrides the queue's `DelaySeconds` (standard queues only).
    pub delay_seconds: Option<u32>,
    pub attributes: MessageAttributes,
    /// Message system attributes (`AWSTraceHeader`).
    pub system_attributes: MessageAttributes,
    /// FIFO queues: the message group (required).
    pub group_id: Option<String>,
    /// FIFO queues: the deduplication id (required without content-based deduplication).
    pub deduplication_id: Option<String>,
}

impl SendMessage {
    /// A message with only a body.
    pub fn body(body: impl Into<String>) -> Self {
        SendMessage {
            body: body.into(),
            ..SendMessage::default()
        }
    }
}

/// What a send answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    pub message_id: String,
    pub md5_of_body: String,
    pub md5_of_message_attributes: Option<String>,
    pub md5_of_system_attributes: Option<String>,
    pub sequence_number: Option<String>,
}

/// How to receive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveOptions {
    /// 1 to 10; `None` is 1.
    pub max_messages: Option<u32>,
    /// Overrides the queue's `VisibilityTimeout` for the messages received.
    pub visibility_timeout: Option<u32>,
    /// How long to wait for a message, 0 to 20 s; `None` uses the queue's
    /// `ReceiveMessageWaitTimeSeconds`.
    pub wait_seconds: Option<u32>,
    /// System attributes to return (`All`, `SentTimestamp`, ...).
    pub attribute_names: Vec<String>,
    /// Message attributes to return (`All`, `.*`, names, `prefix.*`).
    pub message_attribute_names: Vec<String>,
    /// FIFO: a retried receive with the same id within 5 minutes answers the same messages.
    pub request_attempt_id: Option<String>,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub md5_of_body: String,
    /// The system attributes asked for, as SQS names them.
    pub attributes: BTreeMap<String, String>,
    /// The message attributes asked for.
    pub message_attributes: MessageAttributes,
    /// The digest of the message attributes returned.
    pub md5_of_message_attributes: Option<String>,
}

/// The system attributes a message can carry.
pub const MESSAGE_SYSTEM_ATTRIBUTES: &[&str] = &[
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
];

struct QueueState {
    record: RwLock<(QueueRecord, QueueSettings)>,
    /// Woken by every send (and by moves into the queue), for long polls.
    arrivals: Notify,
    last_purge_ms: Mutex<Option<i64>>,
    /// When messages past their retention were last dropped from the store.
    last_sweep_ms: Mutex<i64>,
    /// FIFO receive attempts: id → when it expires, and what it answered.
    attempts: Mutex<HashMap<String, (i64, Vec<ReceivedMessage>)>>,
}

impl QueueState {
    fn settings(&self) -> QueueSettings {
        self.record
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .1
            .clone()
    }
}

/// SQS: every queue of the account.
pub struct Queues {
    backend: Arc<dyn QueueBackend>,
    config: QueuesConfig,
    queues: RwLock<HashMap<String, Arc<QueueState>>>,
    deleted: Mutex<HashMap<String, i64>>,
    tasks: Arc<Mutex<Vec<MoveTask>>>,
    /// Serializes changes to the queues (create, delete, attributes, tags) and rereads
    /// of a shared backend's queues, so that checks and writes cannot interleave.
    changes: Mutex<()>,
    /// Whether other nodes change the same queues ([`QueueBackend::is_shared`]).
    shared: bool,
    /// The shared backend's catalog version the queues in memory were read at.
    catalog_version: AtomicU64,
    /// This engine's name in move tasks' claims on a shared backend.
    runner: String,
    /// The move tasks running here, by handle.
    running: Arc<Mutex<std::collections::HashSet<String>>>,
}

impl std::fmt::Debug for Queues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queues")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A receipt handle: the message and the receive, opaque to clients.
fn encode_receipt(message_id: &str, token: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("sf1:{message_id}:{token}"))
}

fn decode_receipt(handle: &str) -> Result<Receipt, SqsError> {
    let invalid = || SqsError::ReceiptHandleIsInvalid(handle.to_owned());
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(handle.trim())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let rest = text.strip_prefix("sf1:").ok_or_else(invalid)?;
    let (message_id, token) = rest.split_once(':').ok_or_else(invalid)?;
    if message_id.is_empty() || token.is_empty() {
        return Err(invalid());
    }
    Ok(Receipt {
        message_id: message_id.to_owned(),
        token: token.to_owned(),
    })
}

/// A FIFO group or deduplication id: 1 to 128 alphanumerics and punctuation.
fn check_fifo_id(parameter: &str, value: &str) -> Result<(), SqsError> {
    let valid = !value.is_empty()
        && value.len() <= 128
        && value.bytes().all(|byte| byte.is_ascii_graphic());
    if valid {
        Ok(())
    } else {
        Err(SqsError::invalid_value(
            parameter,
            value,
            &format!("{parameter} can only include alphanumeric and punctuation characters. 1 to 128 in length."),
        ))
    }
}

/// A batch entry id: 1 to 80 alphanumerics, `-` and `_`.
pub fn check_batch_ids<'a>(
    ids: impl IntoIterator<Item = &'a str>,
    entry_shape: &'static str,
) -> Result<(), SqsError> {
    let ids: Vec<&str> = ids.into_iter().collect();
    if ids.is_empty() {
        return Err(SqsError::EmptyBatchRequest(entry_shape));
    }
    if ids.len() > 10 {
        return Err(SqsError::TooManyEntriesInBatchRequest(ids.len()));
    }
    for (index, id) in ids.iter().enumerate() {
        let valid = !id.is_empty()
            && id.len() <= 80
            && id
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if !valid {
            return Err(SqsError::InvalidBatchEntryId);
        }
        if ids[..index].contains(id) {
            return Err(SqsError::BatchEntryIdsNotDistinct((*id).to_owned()));
        }
    }
    Ok(())
}

/// Whether a message attribute `name` is asked for by `names` (`All`, `.*`, exact names,
/// `prefix.*`).
fn attribute_wanted(names: &[String], name: &str) -> bool {
    names.iter().any(|wanted| {
        wanted == "All"
            || wanted == ".*"
            || wanted == name
            || wanted.strip_suffix(".*").is_some_and(|prefix| {
                name.starts_with(prefix) && name[prefix.len()..].starts_with('.')
            })
    })
}

impl Queues {
    /// The engine over `backend`, with the queues it holds.
    pub fn open(backend: Arc<dyn QueueBackend>, config: QueuesConfig) -> Result<Queues, SqsError> {
        let shared = backend.is_shared();
        // Read before the queues: a change in between is then read again.
        let catalog_version = if shared {
            backend.catalog_version()?
        } else {
            0
        };
        let mut queues = HashMap::new();
        for record in backend.queues()? {
            let settings = QueueSettings::from_attributes(record.attributes.clone())?;
            queues.insert(record.name.clone(), Arc::new(new_state(record, settings)));
        }
        let tasks = backend.move_tasks()?;
        Ok(Queues {
            backend,
            config: QueuesConfig {
                endpoint_url: config.endpoint_url.trim_end_matches('/').to_owned(),
                ..config
            },
            queues: RwLock::new(queues),
            deleted: Mutex::default(),
            tasks: Arc::new(Mutex::new(tasks)),
            changes: Mutex::new(()),
            shared,
            catalog_version: AtomicU64::new(catalog_version),
            runner: uuid::Uuid::new_v4().to_string(),
            running: Arc::default(),
        })
    }

    /// Rereads the queues when another node created, changed or deleted one (a shared
    /// backend's catalog version moved); cheap otherwise. Queues kept keep their long
    /// polls; a queue gone ends its long polls, and its name is held as after a delete.
    pub fn refresh_catalog(&self) -> Result<(), SqsError> {
        if !self.shared {
            return Ok(());
        }
        let version = self.backend.catalog_version()?;
        if version == self.catalog_version.load(Ordering::SeqCst) {
            return Ok(());
        }
        let _changes = lock(&self.changes);
        let records = self.backend.queues()?;
        let mut queues = self
            .queues
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut kept = std::collections::HashSet::new();
        for record in records {
            let settings = match QueueSettings::from_attributes(record.attributes.clone()) {
                Ok(settings) => settings,
                Err(error) => {
                    tracing::warn!(
                        queue = record.name,
                        "failed to read a queue's attributes: {error}"
                    );
                    continue;
                }
            };
            kept.insert(record.name.clone());
            match queues.get(&record.name) {
                Some(state) => {
                    let mut guard = state
                        .record
                        .write()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    if guard.0 != record {
                        *guard = (record, settings);
                    }
                }
                None => {
                    queues.insert(record.name.clone(), Arc::new(new_state(record, settings)));
                }
            }
        }
        let gone: Vec<String> = queues
            .keys()
            .filter(|name| !kept.contains(*name))
            .cloned()
            .collect();
        let now = now_ms();
        for name in gone {
            if let Some(state) = queues.remove(&name) {
                lock(&self.deleted).insert(name, now);
                state.arrivals.notify_waiters();
            }
        }
        self.catalog_version.store(version, Ordering::SeqCst);
        Ok(())
    }

    /// Keeps a cluster node's queues within [`CATALOG_CHECK_INTERVAL`] of the database's,
    /// on the current runtime, for as long as the engine lives (nothing on a backend only
    /// this process writes).
    pub fn spawn_catalog_watch(self: &Arc<Self>) {
        if !self.shared {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let queues = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut ticker = tokio::time::interval(CATALOG_CHECK_INTERVAL);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut ticks: u32 = 0;
            loop {
                ticker.tick().await;
                let Some(queues) = queues.upgrade() else {
                    return;
                };
                ticks = ticks.wrapping_add(1);
                if ticks.is_multiple_of(ORPHAN_CHECK_TICKS) {
                    // Move tasks whose node stopped: one node takes each over.
                    let adopter = Arc::clone(&queues);
                    let adopted = tokio::task::spawn_blocking(move || {
                        adopter.reload_tasks()?;
                        adopter.resume_move_tasks();
                        Ok::<(), SqsError>(())
                    })
                    .await;
                    match adopted {
                        Ok(Ok(())) => {}
                        Ok(Err(error)) => {
                            tracing::warn!("failed to reread the move tasks: {error}")
                        }
                        Err(error) => tracing::warn!("the move tasks' check failed: {error}"),
                    }
                }
                match tokio::task::spawn_blocking(move || queues.refresh_catalog()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => tracing::warn!("failed to reread the shared queues: {error}"),
                    Err(error) => tracing::warn!("the shared queues' check failed: {error}"),
                }
            }
        });
    }

    /// Rereads the move tasks of a shared backend (another node may have started or
    /// cancelled one).
    fn reload_tasks(&self) -> Result<(), SqsError> {
        if self.shared {
            let tasks = self.backend.move_tasks()?;
            *lock(&self.tasks) = tasks;
        }
        Ok(())
    }

    /// The engine over `DATA/queues.sqlite`.
    pub fn open_in(data_dir: &std::path::Path, config: QueuesConfig) -> Result<Queues, SqsError> {
        let backend = crate::SqliteQueues::open(&data_dir.join("queues.sqlite"))?;
        Queues::open(Arc::new(backend), config)
    }

    /// Where the queues live.
    pub fn config(&self) -> &QueuesConfig {
        &self.config
    }

    /// A queue's URL.
    pub fn queue_url(&self, name: &str) -> String {
        format!(
            "{}/{}/{name}",
            self.config.endpoint_url, self.config.account_id
        )
    }

    /// A queue's ARN.
    pub fn queue_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:sqs:{}:{}:{name}",
            self.config.region, self.config.account_id
        )
    }

    /// The queue name in a queue URL (any host: only the account and name path counts),
    /// a queue ARN, or a bare name.
    pub fn queue_name(reference: &str) -> Option<String> {
        if let Some(rest) = reference.strip_prefix("arn:") {
            let name = rest.rsplit(':').next()?;
            return (!name.is_empty() && rest.starts_with("aws:sqs:")).then(|| name.to_owned());
        }
        let path = match reference.split_once("://") {
            Some((_, rest)) => rest.split_once('/').map_or("", |(_, path)| path),
            None => reference,
        };
        let path = path.split(['?', '#']).next().unwrap_or("");
        let name = path.trim_end_matches('/').rsplit('/').next()?;
        (!name.is_empty()).then(|| name.to_owned())
    }

    /// The queue a name, URL or ARN refers to: for the calls that take any of them
    /// (sends, receives, deletes: what pollers, topics and destinations use).
    fn resolve<'a>(&self, reference: &'a str) -> Result<std::borrow::Cow<'a, str>, SqsError> {
        if !reference.contains(':') && !reference.contains('/') {
            return Ok(std::borrow::Cow::Borrowed(reference));
        }
        if reference.starts_with("arn:") {
            return self
                .queue_of_arn(reference)
                .map(std::borrow::Cow::Owned)
                .ok_or(SqsError::QueueDoesNotExist);
        }
        Self::queue_name(reference)
            .map(std::borrow::Cow::Owned)
            .ok_or(SqsError::QueueDoesNotExist)
    }

    /// The name of the queue an ARN names, if it exists.
    pub fn queue_of_arn(&self, arn: &str) -> Option<String> {
        let name = Self::queue_name(arn)?;
        (self.queue_arn(&name) == arn && self.exists(&name)).then_some(name)
    }

    /// Whether a queue exists.
    pub fn exists(&self, name: &str) -> bool {
        self.find(name).is_ok_and(|state| state.is_some())
    }

    fn state(&self, name: &str) -> Result<Arc<QueueState>, SqsError> {
        self.find(name)?.ok_or(SqsError::QueueDoesNotExist)
    }

    /// A queue's state before a change of its record: on a shared backend, reread first,
    /// so that a change another node made a moment ago is kept, not overwritten with
    /// what this node read earlier.
    fn state_to_change(&self, name: &str) -> Result<Arc<QueueState>, SqsError> {
        let state = self.state(name)?;
        if self.shared {
            let Some(record) = self.backend.queue(name)? else {
                return Err(SqsError::QueueDoesNotExist);
            };
            let settings = QueueSettings::from_attributes(record.attributes.clone())?;
            let mut guard = state
                .record
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if guard.0 != record {
                *guard = (record, settings);
            }
        }
        Ok(state)
    }

    /// A queue's state; on a shared backend, a queue not known here is looked up there
    /// (another node may have created it a moment ago).
    fn find(&self, name: &str) -> Result<Option<Arc<QueueState>>, SqsError> {
        let cached = self
            .queues
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(name)
            .cloned();
        if cached.is_some() || !self.shared {
            return Ok(cached);
        }
        let Some(record) = self.backend.queue(name)? else {
            return Ok(None);
        };
        let settings = QueueSettings::from_attributes(record.attributes.clone())?;
        let state = self
            .queues
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(new_state(record, settings)))
            .clone();
        Ok(Some(state))
    }

    /// A queue's settings.
    pub fn settings(&self, name: &str) -> Result<QueueSettings, SqsError> {
        Ok(self.state(name)?.settings())
    }

    /// `CreateQueue`: creates a queue, or answers the URL of an existing one whose
    /// attributes match those given.
    pub fn create_queue(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, SqsError> {
        let _changes = lock(&self.changes);
        if let Ok(state) = self.state(name) {
            return self.existing_queue(name, &state.settings(), attributes);
        }
        let settings = QueueSettings::new(name, attributes)?;
        if let Some(deleted_at) = lock(&self.deleted).get(name) {
            if now_ms() - deleted_at < DELETED_RECENTLY_MS {
                return Err(SqsError::QueueDeletedRecently);
            }
        }
        self.check_redrive(name, &settings)?;
        check_tags(name, tags)?;
        let now = now_ms();
        let record = QueueRecord {
            name: name.to_owned(),
            attributes: settings.attributes.clone(),
            tags: tags.clone(),
            created_at_ms: now,
            modified_at_ms: now,
        };
        let (record, settings) = match self.backend.insert_queue(&record)? {
            None => (record, settings),
            // Another node created it since it was looked up: as if it had been here.
            Some(existing) => {
                let existing_settings =
                    QueueSettings::from_attributes(existing.attributes.clone())?;
                self.existing_queue(name, &existing_settings, attributes)?;
                (existing, existing_settings)
            }
        };
        self.queues
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(new_state(record, settings)));
        Ok(self.queue_url(name))
    }

    /// `CreateQueue`'s answer for a queue that exists with `settings`: its URL if the
    /// attributes given match, else the first that differs.
    fn existing_queue(
        &self,
        name: &str,
        settings: &QueueSettings,
        attributes: &BTreeMap<String, String>,
    ) -> Result<String, SqsError> {
        if let Some(attribute) = settings.first_difference(attributes) {
            return Err(SqsError::QueueAlreadyExists { attribute });
        }
        let given_fifo = attributes
            .get("FifoQueue")
            .is_some_and(|value| value.eq_ignore_ascii_case("true"));
        if settings.fifo != given_fifo && attributes.contains_key("FifoQueue") {
            return Err(SqsError::QueueAlreadyExists {
                attribute: "FifoQueue".to_owned(),
            });
        }
        Ok(self.queue_url(name))
    }

    /// Creates a queue, or brings an existing one's attributes and tags to those given
    /// (a template's declared queue, on every deploy). Answers its URL.
    pub fn ensure_queue(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, SqsError> {
        if !self.exists(name) {
            // A template's queue is not held back by a recent delete of its name.
            lock(&self.deleted).remove(name);
            return self.create_queue(name, attributes, tags);
        }
        let mut changes = attributes.clone();
        changes.remove("FifoQueue");
        self.set_attributes(name, &changes)?;
        let _changes = lock(&self.changes);
        let state = self.state_to_change(name)?;
        let record = {
            let mut guard = state
                .record
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            guard.0.tags = tags.clone();
            guard.0.clone()
        };
        self.backend.put_queue(&record)?;
        Ok(self.queue_url(name))
    }

    /// `DeleteQueue`: the queue and its messages go; its name is held for 60 s.
    pub fn delete_queue(&self, name: &str) -> Result<(), SqsError> {
        let _changes = lock(&self.changes);
        let state = self.state(name)?;
        self.backend.delete_queue(name)?;
        self.queues
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(name);
        lock(&self.deleted).insert(name.to_owned(), now_ms());
        // Long polls on it end.
        state.arrivals.notify_waiters();
        Ok(())
    }

    /// Queue names in order, starting with `prefix`.
    pub fn list_queues(&self, prefix: Option<&str>) -> Vec<String> {
        if let Err(error) = self.refresh_catalog() {
            tracing::warn!("failed to reread the shared queues: {error}");
        }
        let mut names: Vec<String> = self
            .queues
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .keys()
            .filter(|name| prefix.is_none_or(|prefix| name.starts_with(prefix)))
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// The queues whose redrive policy names `name` as their dead-letter queue.
    pub fn dead_letter_sources(&self, name: &str) -> Result<Vec<String>, SqsError> {
        self.state(name)?;
        let arn = self.queue_arn(name);
        let queues = self
            .queues
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut sources: Vec<String> = queues
            .iter()
            .filter(|(_, state)| {
                state
                    .settings()
                    .redrive_policy
                    .is_some_and(|policy| policy.dead_letter_target_arn == arn)
            })
            .map(|(name, _)| name.clone())
            .collect();
        sources.sort();
        Ok(sources)
    }

    /// `GetQueueAttributes`: the attributes named (`All` for every one).
    pub fn get_attributes(
        &self,
        name: &str,
        names: &[String],
    ) -> Result<BTreeMap<String, String>, SqsError> {
        let state = self.state(name)?;
        for wanted in names {
            if wanted != "All"
                && !attributes::SETTABLE_ATTRIBUTES.contains(&wanted.as_str())
                && !attributes::COMPUTED_ATTRIBUTES.contains(&wanted.as_str())
            {
                return Err(SqsError::InvalidAttributeName(format!(
                    "Unknown Attribute {wanted}."
                )));
            }
        }
        let all = names.iter().any(|wanted| wanted == "All");
        let wanted = |key: &str| all || names.iter().any(|name| name == key);
        let (record, settings) = state
            .record
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let mut answer: BTreeMap<String, String> = settings
            .attributes
            .iter()
            .filter(|(key, _)| wanted(key))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if names
            .iter()
            .any(|name| name.starts_with("ApproximateNumberOfMessages"))
            || all
        {
            let counts = self.backend.counts(name, now_ms())?;
            for (key, value) in [
                ("ApproximateNumberOfMessages", counts.visible),
                ("ApproximateNumberOfMessagesNotVisible", counts.not_visible),
                ("ApproximateNumberOfMessagesDelayed", counts.delayed),
            ] {
                if wanted(key) {
                    answer.insert(key.to_owned(), value.to_string());
                }
            }
        }
        for (key, value) in [
            (
                "CreatedTimestamp",
                (record.created_at_ms / 1000).to_string(),
            ),
            (
                "LastModifiedTimestamp",
                (record.modified_at_ms / 1000).to_string(),
            ),
            ("QueueArn", self.queue_arn(name)),
        ] {
            if wanted(key) {
                answer.insert(key.to_owned(), value);
            }
        }
        Ok(answer)
    }

    /// `SetQueueAttributes`.
    pub fn set_attributes(
        &self,
        name: &str,
        changes: &BTreeMap<String, String>,
    ) -> Result<(), SqsError> {
        let _changes = lock(&self.changes);
        let state = self.state_to_change(name)?;
        let settings = state.settings().changed(changes)?;
        self.check_redrive(name, &settings)?;
        let record = {
            let mut guard = state
                .record
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            guard.0.attributes = settings.attributes.clone();
            guard.0.modified_at_ms = now_ms();
            guard.1 = settings;
            guard.0.clone()
        };
        self.backend.put_queue(&record)
    }

    /// A redrive policy's dead-letter queue must exist, be of the same type, and allow it.
    fn check_redrive(&self, name: &str, settings: &QueueSettings) -> Result<(), SqsError> {
        let Some(policy) = &settings.redrive_policy else {
            return Ok(());
        };
        let invalid = |reason: &str| {
            SqsError::InvalidParameterValue(format!(
                "Value {} for parameter RedrivePolicy is invalid. Reason: {reason}",
                settings
                    .attributes
                    .get("RedrivePolicy")
                    .map_or("", String::as_str)
            ))
        };
        let Some(target) = self.queue_of_arn(&policy.dead_letter_target_arn) else {
            return Err(invalid("Dead letter target does not exist."));
        };
        let target_settings = self.settings(&target)?;
        if target_settings.fifo != settings.fifo {
            return Err(invalid(if settings.fifo {
                "Dead-letter queue of a FIFO queue must be a FIFO queue."
            } else {
                "Dead-letter queue of a standard queue must be a standard queue."
            }));
        }
        if !attributes::redrive_allowed(
            target_settings
                .attributes
                .get("RedriveAllowPolicy")
                .map(String::as_str),
            &self.queue_arn(name),
        ) {
            return Err(invalid(
                "Queue is not allowed to use the dead letter queue.",
            ));
        }
        Ok(())
    }

    /// `TagQueue`.
    pub fn tag_queue(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), SqsError> {
        let _changes = lock(&self.changes);
        let state = self.state_to_change(name)?;
        let record = {
            let mut guard = state
                .record
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut merged = guard.0.tags.clone();
            merged.extend(tags.iter().map(|(key, value)| (key.clone(), value.clone())));
            check_tags(name, &merged)?;
            guard.0.tags = merged;
            guard.0.clone()
        };
        self.backend.put_queue(&record)
    }

    /// `UntagQueue`.
    pub fn untag_queue(&self, name: &str, keys: &[String]) -> Result<(), SqsError> {
        let _changes = lock(&self.changes);
        let state = self.state_to_change(name)?;
        let record = {
            let mut guard = state
                .record
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for key in keys {
                guard.0.tags.remove(key);
            }
            guard.0.clone()
        };
        self.backend.put_queue(&record)
    }

    /// `ListQueueTags`.
    pub fn tags(&self, name: &str) -> Result<BTreeMap<String, String>, SqsError> {
        let state = self.state(name)?;
        let guard = state
            .record
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(guard.0.tags.clone())
    }

    /// `AddPermission`: a statement labelled `label` in the queue's `Policy`.
    pub fn add_permission(
        &self,
        name: &str,
        label: &str,
        account_ids: &[String],
        actions: &[String],
    ) -> Result<(), SqsError> {
        if account_ids.is_empty() {
            return Err(SqsError::MissingParameter("AWSAccountId".to_owned()));
        }
        if actions.is_empty() {
            return Err(SqsError::MissingParameter("ActionName".to_owned()));
        }
        let arn = self.queue_arn(name);
        let mut policy = self.policy(name)?;
        let statements = policy_statements(&mut policy, &arn);
        if statements
            .iter()
            .any(|statement| statement.get("Sid").and_then(|sid| sid.as_str()) == Some(label))
        {
            return Err(SqsError::invalid_value("Label", label, "Already exists."));
        }
        let principals: Vec<serde_json::Value> = account_ids
            .iter()
            .map(|account| format!("arn:aws:iam::{account}:root").into())
            .collect();
        let actions: Vec<serde_json::Value> = actions
            .iter()
            .map(|action| format!("SQS:{action}").into())
            .collect();
        statements.push(serde_json::json!({
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": if principals.len() == 1 { principals[0].clone() } else { principals.into() }},
            "Action": if actions.len() == 1 { actions[0].clone() } else { actions.into() },
            "Resource": arn,
        }));
        self.set_policy(name, Some(policy))
    }

    /// `RemovePermission`.
    pub fn remove_permission(&self, name: &str, label: &str) -> Result<(), SqsError> {
        let arn = self.queue_arn(name);
        let mut policy = self.policy(name)?;
        let statements = policy_statements(&mut policy, &arn);
        let before = statements.len();
        statements
            .retain(|statement| statement.get("Sid").and_then(|sid| sid.as_str()) != Some(label));
        if statements.len() == before {
            return Err(SqsError::invalid_value(
                "Label",
                label,
                "can't find label on existing policy.",
            ));
        }
        let empty = statements.is_empty();
        self.set_policy(name, (!empty).then_some(policy))
    }

    fn policy(&self, name: &str) -> Result<serde_json::Value, SqsError> {
        let settings = self.settings(name)?;
        Ok(settings
            .attributes
            .get("Policy")
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(serde_json::Value::Null))
    }

    fn set_policy(&self, name: &str, policy: Option<serde_json::Value>) -> Result<(), SqsError> {
        let text = policy.map_or_else(String::new, |policy| policy.to_string());
        self.set_attributes(name, &BTreeMap::from([("Policy".to_owned(), text)]))
    }

    /// `PurgeQueue`: drops every message; refused within 60 s of the last purge.
    pub fn purge(&self, name: &str) -> Result<u64, SqsError> {
        let state = self.state(name)?;
        {
            let mut last = lock(&state.last_purge_ms);
            let now = now_ms();
            if last.is_some_and(|last| now - last < PURGE_INTERVAL_MS) {
                return Err(SqsError::PurgeQueueInProgress(self.queue_url(name)));
            }
            if self.shared && !self.backend.claim_purge(name, now, PURGE_INTERVAL_MS)? {
                return Err(SqsError::PurgeQueueInProgress(self.queue_url(name)));
            }
            *last = Some(now);
        }
        self.backend.purge(name)
    }

    /// The first `limit` messages of the queue `name` (or its URL or ARN), read without
    /// receiving them: the web console's peek, which changes nothing.
    pub fn peek(&self, name: &str, limit: usize) -> Result<Vec<PeekedMessage>, SqsError> {
        self.state(name)?;
        self.backend.peek(name, limit)
    }

    /// `SendMessage` to the queue `name` (or its URL or ARN, as for every message call).
    pub fn send(
        &self,
        name: &str,
        message: SendMessage,
        sender_id: &str,
    ) -> Result<SendOutcome, SqsError> {
        let mut results = self.send_batch(name, vec![message], sender_id)?;
        results.pop().unwrap_or(Err(SqsError::EmptyBatchRequest(
            "SendMessageBatchRequestEntry",
        )))
    }

    /// Sends messages in one durable write; each entry gets its own outcome (a bad entry
    /// does not stop the others).
    pub fn send_batch(
        &self,
        name: &str,
        messages: Vec<SendMessage>,
        sender_id: &str,
    ) -> Result<Vec<Result<SendOutcome, SqsError>>, SqsError> {
        let plan = self.plan_send(name, messages, sender_id)?;
        let sent = if plan.to_store.is_empty() {
            Vec::new()
        } else {
            self.backend.send(&plan.name, &plan.to_store)?
        };
        Ok(plan.finish(sent))
    }

    /// [`Queues::send_batch`] for async callers: no thread waits while the messages
    /// become durable.
    pub async fn send_batch_async(
        &self,
        name: &str,
        messages: Vec<SendMessage>,
        sender_id: &str,
    ) -> Result<Vec<Result<SendOutcome, SqsError>>, SqsError> {
        let mut plan = self.plan_send(name, messages, sender_id)?;
        let sent = if plan.to_store.is_empty() {
            Vec::new()
        } else {
            let to_store = std::mem::take(&mut plan.to_store);
            self.backend.send_async(&plan.name, to_store).await?
        };
        Ok(plan.finish(sent))
    }

    /// [`Queues::send`] for async callers.
    pub async fn send_async(
        &self,
        name: &str,
        message: SendMessage,
        sender_id: &str,
    ) -> Result<SendOutcome, SqsError> {
        let mut results = self
            .send_batch_async(name, vec![message], sender_id)
            .await?;
        results.pop().unwrap_or(Err(SqsError::EmptyBatchRequest(
            "SendMessageBatchRequestEntry",
        )))
    }

    /// Checks a batch's messages against their queue and makes what to store.
    fn plan_send(
        &self,
        name: &str,
        messages: Vec<SendMessage>,
        sender_id: &str,
    ) -> Result<SendPlan, SqsError> {
        let name = self.resolve(name)?.into_owned();
        let state = self.state(&name)?;
        let settings = state.settings();
        let now = now_ms();
        let mut plan = SendPlan {
            name,
            state,
            results: Vec::with_capacity(messages.len()),
            to_store: Vec::new(),
            stored_index: Vec::new(),
        };
        for (index, message) in messages.into_iter().enumerate() {
            match prepare(&settings, message, now, sender_id) {
                Ok((stored, deduplication, outcome)) => {
                    plan.to_store.push((stored, deduplication));
                    plan.stored_index.push(index);
                    plan.results.push(Ok(outcome));
                }
                Err(error) => plan.results.push(Err(error)),
            }
        }
        Ok(plan)
    }

    /// `ReceiveMessage` without waiting: what is visible now.
    pub fn receive_now(
        &self,
        name: &str,
        options: &ReceiveOptions,
    ) -> Result<Vec<ReceivedMessage>, SqsError> {
        let plan = match self.plan_receive(name, options)? {
            ReceivePlan::Answered(answer) => return Ok(answer),
            ReceivePlan::Claim(plan) => plan,
        };
        let claimed = self.backend.receive(&plan.name, &plan.claim)?;
        Ok(self.finish_receive(&plan, claimed, options))
    }

    /// [`Queues::receive_now`] for async callers; when nothing is visible, also when the
    /// earliest message not visible now becomes visible.
    async fn receive_now_async(
        &self,
        name: &str,
        options: &ReceiveOptions,
    ) -> Result<(Vec<ReceivedMessage>, Option<i64>), SqsError> {
        let plan = match self.plan_receive(name, options)? {
            ReceivePlan::Answered(answer) => return Ok((answer, None)),
            ReceivePlan::Claim(plan) => plan,
        };
        let (claimed, next_visible) = self
            .backend
            .receive_async(&plan.name, plan.claim.clone())
            .await?;
        Ok((self.finish_receive(&plan, claimed, options), next_visible))
    }

    /// Checks a receive's options and makes its claim (or finds the answer of an earlier
    /// attempt with the same id).
    fn plan_receive(&self, name: &str, options: &ReceiveOptions) -> Result<ReceivePlan, SqsError> {
        let name = self.resolve(name)?.into_owned();
        let state = self.state(&name)?;
        let settings = state.settings();
        let max_messages = options.max_messages.unwrap_or(1);
        if !(1..=10).contains(&max_messages) {
            return Err(SqsError::invalid_value(
                "MaxNumberOfMessages",
                max_messages,
                "Must be between 1 and 10, if provided.",
            ));
        }
        let visibility = options
            .visibility_timeout
            .unwrap_or(settings.visibility_timeout);
        if visibility > 43_200 {
            return Err(SqsError::invalid_value(
                "VisibilityTimeout",
                visibility,
                "Must be >= 0 and <= 43200, if provided.",
            ));
        }
        let now = now_ms();
        if let Some(attempt) = options
            .request_attempt_id
            .as_deref()
            .filter(|_| settings.fifo)
        {
            if self.shared {
                // Another node may have answered it, or forgotten it after a delete.
                if let Some(answer) = self
                    .backend
                    .receive_attempt(&name, attempt, now)?
                    .and_then(|text| attempt_from_json(&text))
                {
                    return Ok(ReceivePlan::Answered(answer));
                }
            } else {
                let attempts = lock(&state.attempts);
                if let Some((until, answer)) = attempts.get(attempt) {
                    if *until > now {
                        return Ok(ReceivePlan::Answered(answer.clone()));
                    }
                }
            }
        }
        let redrive = settings.redrive_policy.as_ref().and_then(|policy| {
            self.queue_of_arn(&policy.dead_letter_target_arn)
                .map(|target| (policy.max_receive_count, target, self.queue_arn(&name)))
        });
        let claim = Claim {
            now_ms: now,
            max_messages: max_messages as usize,
            visible_until_ms: now + i64::from(visibility) * 1000,
            fifo: settings.fifo,
            redrive,
            retention_cutoff_ms: now - i64::from(settings.message_retention_period) * 1000,
            sweep_expired: {
                let mut last = lock(&state.last_sweep_ms);
                let due = now - *last >= 1000;
                if due {
                    *last = now;
                }
                due
            },
        };
        Ok(ReceivePlan::Claim(ClaimPlan {
            name,
            state,
            fifo: settings.fifo,
            visibility,
            claim,
        }))
    }

    /// What a receive answers for what its claim got.
    fn finish_receive(
        &self,
        plan: &ClaimPlan,
        claimed: Claimed,
        options: &ReceiveOptions,
    ) -> Vec<ReceivedMessage> {
        if claimed.dead_lettered > 0 {
            if let Some((_, target, _)) = &plan.claim.redrive {
                if let Ok(target) = self.state(target) {
                    target.arrivals.notify_waiters();
                }
            }
        }
        let answer: Vec<ReceivedMessage> = claimed
            .messages
            .into_iter()
            .map(|message| received(message, options))
            .collect();
        if let Some(attempt) = options.request_attempt_id.as_deref().filter(|_| plan.fifo) {
            let now = plan.claim.now_ms;
            let mut attempts = lock(&plan.state.attempts);
            attempts.retain(|_, (until, _)| *until > now);
            let until = now + DEDUPLICATION_INTERVAL_MS.min(i64::from(plan.visibility) * 1000);
            if self.shared {
                self.backend.put_receive_attempt(
                    &plan.name,
                    attempt,
                    now,
                    until,
                    attempt_to_json(&answer),
                );
            } else {
                attempts.insert(attempt.to_owned(), (until, answer.clone()));
            }
        }
        answer
    }

    /// `ReceiveMessage`: what is visible, waiting up to the wait time for a first message
    /// (woken at once by a send, or when a delayed or in-flight message becomes visible).
    pub async fn receive(
        self: &Arc<Self>,
        name: &str,
        options: ReceiveOptions,
    ) -> Result<Vec<ReceivedMessage>, SqsError> {
        let name: &str = &self.resolve(name)?;
        let state = self.state(name)?;
        let wait = options
            .wait_seconds
            .unwrap_or(state.settings().receive_message_wait_time_seconds);
        if wait > MAX_WAIT_SECONDS {
            return Err(SqsError::invalid_value(
                "WaitTimeSeconds",
                wait,
                "Must be >= 0 and <= 20, if provided.",
            ));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(wait));
        loop {
            let notified = state.arrivals.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // No thread waits on the store: the writer thread wakes this task.
            let (messages, next_visible) = self.receive_now_async(name, &options).await?;
            if !messages.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(messages);
            }
            let mut wake_at = deadline;
            if let Some(next) = next_visible {
                let in_ms = u64::try_from(next - now_ms()).unwrap_or(0);
                wake_at = wake_at.min(tokio::time::Instant::now() + Duration::from_millis(in_ms));
            }
            if self.shared {
                // Sends through other nodes do not wake this one.
                wake_at = wake_at.min(tokio::time::Instant::now() + CROSS_NODE_RECHECK);
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
            // A deleted queue ends the poll with its error.
            self.state(name)?;
        }
    }

    /// `DeleteMessage`. A handle from an earlier receive of a message received again
    /// since succeeds without deleting it, as on SQS.
    pub fn delete_message(&self, name: &str, receipt_handle: &str) -> Result<(), SqsError> {
        let mut results = self.delete_messages(name, &[receipt_handle.to_owned()])?;
        results.pop().unwrap_or(Ok(()))
    }

    /// Deletes messages by receipt handle in one durable write (`DeleteMessageBatch`):
    /// one result per handle, in order.
    pub fn delete_messages(
        &self,
        name: &str,
        receipt_handles: &[String],
    ) -> Result<Vec<Result<(), SqsError>>, SqsError> {
        let (name, state, decoded, receipts) = self.plan_delete(name, receipt_handles)?;
        let outcomes = if receipts.is_empty() {
            Vec::new()
        } else {
            self.backend.delete(&name, &receipts, now_ms())?
        };
        Ok(finish_delete(&state, decoded, receipt_handles, outcomes))
    }

    /// [`Queues::delete_messages`] for async callers: no thread waits while the deletes
    /// become durable.
    pub async fn delete_messages_async(
        &self,
        name: &str,
        receipt_handles: &[String],
    ) -> Result<Vec<Result<(), SqsError>>, SqsError> {
        let (name, state, decoded, receipts) = self.plan_delete(name, receipt_handles)?;
        let outcomes = if receipts.is_empty() {
            Vec::new()
        } else {
            self.backend.delete_async(&name, receipts, now_ms()).await?
        };
        Ok(finish_delete(&state, decoded, receipt_handles, outcomes))
    }

    /// [`Queues::delete_message`] for async callers.
    pub async fn delete_message_async(
        &self,
        name: &str,
        receipt_handle: &str,
    ) -> Result<(), SqsError> {
        let mut results = self
            .delete_messages_async(name, &[receipt_handle.to_owned()])
            .await?;
        results.pop().unwrap_or(Ok(()))
    }

    /// The queue of a delete, and its handles decoded.
    #[allow(clippy::type_complexity)]
    fn plan_delete(
        &self,
        name: &str,
        receipt_handles: &[String],
    ) -> Result<
        (
            String,
            Arc<QueueState>,
            Vec<Result<Receipt, SqsError>>,
            Vec<Receipt>,
        ),
        SqsError,
    > {
        let name = self.resolve(name)?.into_owned();
        let state = self.state(&name)?;
        let decoded: Vec<Result<Receipt, SqsError>> = receipt_handles
            .iter()
            .map(|handle| decode_receipt(handle))
            .collect();
        let receipts: Vec<Receipt> = decoded
            .iter()
            .filter_map(|r| r.as_ref().ok().cloned())
            .collect();
        Ok((name, state, decoded, receipts))
    }

    /// `ChangeMessageVisibility`: the in-flight message becomes visible `timeout` seconds
    /// from now.
    pub fn change_visibility(
        &self,
        name: &str,
        receipt_handle: &str,
        timeout: u32,
    ) -> Result<(), SqsError> {
        let name: &str = &self.resolve(name)?;
        let state = self.state(name)?;
        let receipt = decode_receipt(receipt_handle)?;
        if timeout > 43_200 {
            return Err(SqsError::invalid_value(
                "VisibilityTimeout",
                timeout,
                "VisibilityTimeout must be an integer between 0 and 43200",
            ));
        }
        let now = now_ms();
        match self.backend.change_visibility(
            name,
            &receipt,
            now,
            now + i64::from(timeout) * 1000,
        )? {
            ReceiptOutcome::Done => {
                lock(&state.attempts).clear();
                if timeout == 0 {
                    state.arrivals.notify_waiters();
                }
                Ok(())
            }
            ReceiptOutcome::NotInFlight => {
                Err(SqsError::MessageNotInflight(receipt_handle.to_owned()))
            }
            ReceiptOutcome::Stale | ReceiptOutcome::Gone => Err(SqsError::invalid_value(
                "ReceiptHandle",
                receipt_handle,
                "Message does not exist or is not available for visibility timeout change.",
            )),
        }
    }

    /// `StartMessageMoveTask`: moves a dead-letter queue's messages back to the queues
    /// they came from, or to `destination_arn`, at most `max_per_second` a second.
    pub fn start_move_task(
        self: &Arc<Self>,
        source_arn: &str,
        destination_arn: Option<&str>,
        max_per_second: Option<u32>,
    ) -> Result<String, SqsError> {
        let Some(source) = self.queue_of_arn(source_arn) else {
            return Err(SqsError::ResourceNotFound(
                "The resource that you specified for the SourceArn parameter doesn't exist."
                    .to_owned(),
            ));
        };
        if self.dead_letter_sources(&source)?.is_empty() {
            return Err(SqsError::InvalidParameterValue(
                "Source queue must be configured as a Dead Letter Queue.".to_owned(),
            ));
        }
        let destination = match destination_arn {
            None => None,
            Some(arn) => Some(self.queue_of_arn(arn).ok_or_else(|| {
                SqsError::ResourceNotFound(
                    "The resource that you specified for the DestinationArn parameter doesn't exist."
                        .to_owned(),
                )
            })?),
        };
        if let Some(rate) = max_per_second {
            if !(1..=500).contains(&rate) {
                return Err(SqsError::invalid_value(
                    "MaxNumberOfMessagesPerSecond",
                    rate,
                    "Must be between 1 and 500.",
                ));
            }
        }
        let to_move = {
            let counts = self.backend.counts(&source, now_ms())?;
            counts.visible + counts.not_visible + counts.delayed
        };
        self.reload_tasks()?;
        let task_handle = base64::engine::general_purpose::STANDARD.encode(
            serde_json::json!({"taskId": uuid::Uuid::new_v4().to_string(), "sourceArn": source_arn})
                .to_string(),
        );
        {
            let mut tasks = lock(&self.tasks);
            if tasks
                .iter()
                .any(|task| task.source_arn == source_arn && task.status == "RUNNING")
            {
                return Err(SqsError::UnsupportedOperation(
                    "There is already a task running. Only one active task is allowed for a source queue arn at a given time.".to_owned(),
                ));
            }
            let task = MoveTask {
                task_handle: task_handle.clone(),
                status: "RUNNING".to_owned(),
                source_arn: source_arn.to_owned(),
                destination_arn: destination_arn.map(str::to_owned),
                max_messages_per_second: max_per_second,
                moved: 0,
                to_move,
                failure_reason: None,
                started_at_ms: now_ms(),
            };
            self.backend.put_move_task(&task)?;
            tasks.push(task);
            forget_old_tasks(&mut tasks, source_arn);
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(SqsError::UnsupportedOperation(
                "message move tasks need the server's runtime".to_owned(),
            ));
        };
        self.spawn_move_task(
            &runtime,
            task_handle.clone(),
            source,
            destination,
            max_per_second,
        );
        Ok(task_handle)
    }

    /// Runs a move task on `runtime` unless it runs here already.
    fn spawn_move_task(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        handle: String,
        source: String,
        destination: Option<String>,
        max_per_second: Option<u32>,
    ) {
        if !lock(&self.running).insert(handle.clone()) {
            return;
        }
        let queues = Arc::clone(self);
        runtime.spawn(async move {
            let running = Arc::clone(&queues.running);
            queues
                .run_move_task(&handle, &source, destination.as_deref(), max_per_second)
                .await;
            lock(&running).remove(&handle);
        });
    }

    /// Carries on the move tasks that were running (or being cancelled) when the server
    /// stopped, on the current runtime: they are durable, as on SQS. A task whose source or
    /// destination queue has gone since fails with the reason. On a shared backend every
    /// node may try; the one holding a task's claim runs it.
    pub fn resume_move_tasks(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let unfinished: Vec<MoveTask> = lock(&self.tasks)
            .iter()
            .filter(|task| task.status == "RUNNING" || task.status == "CANCELLING")
            .filter(|task| !lock(&self.running).contains(&task.task_handle))
            .cloned()
            .collect();
        // A queue found gone, not a lookup that failed (that task waits for a later try).
        let existing = |arn: &str| -> Result<Option<String>, SqsError> {
            let Some(name) = Self::queue_name(arn) else {
                return Ok(None);
            };
            if self.queue_arn(&name) != arn {
                return Ok(None);
            }
            Ok(self.find(&name)?.map(|_| name))
        };
        for task in unfinished {
            let looked_up = existing(&task.source_arn).and_then(|source| {
                let destination = match task.destination_arn.as_deref() {
                    None => None,
                    Some(arn) => Some(existing(arn)?.ok_or(arn)),
                };
                Ok((source, destination))
            });
            let (source, destination) = match looked_up {
                Ok(found) => found,
                Err(error) => {
                    tracing::warn!(
                        task = task.task_handle,
                        "failed to look a move task's queues up: {error}"
                    );
                    continue;
                }
            };
            let (source, destination) = match (source, destination) {
                (Some(source), None) => (source, None),
                (Some(source), Some(Ok(destination))) => (source, Some(destination)),
                (None, _) | (Some(_), Some(Err(_))) => {
                    self.finish_task(
                        &task.task_handle,
                        "FAILED",
                        Some("The queue of the task no longer exists.".to_owned()),
                    );
                    continue;
                }
            };
            self.spawn_move_task(
                &runtime,
                task.task_handle,
                source,
                destination,
                task.max_messages_per_second,
            );
        }
    }

    async fn run_move_task(
        self: Arc<Self>,
        handle: &str,
        source: &str,
        destination: Option<&str>,
        max_per_second: Option<u32>,
    ) {
        let batch = max_per_second.unwrap_or(500) as usize;
        loop {
            if self.shared {
                // Another node may have cancelled it, or run it: this node goes on only
                // while it holds the task's claim, renewed at each step.
                let queues = Arc::clone(&self);
                let task_handle = handle.to_owned();
                let claimed = tokio::task::spawn_blocking(move || {
                    queues.reload_tasks()?;
                    queues.backend.claim_move_task(
                        &task_handle,
                        &queues.runner,
                        now_ms(),
                        MOVE_TASK_LEASE_MS,
                    )
                })
                .await;
                match claimed {
                    Ok(Ok(true)) => {}
                    Ok(Ok(false)) => return,
                    Ok(Err(error)) => {
                        // Its claim lapses; it is tried again later, here or elsewhere.
                        tracing::warn!(task = handle, "failed to claim a move task: {error}");
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(task = handle, "failed to claim a move task: {error}");
                        return;
                    }
                }
            }
            let cancelled = lock(&self.tasks)
                .iter()
                .any(|task| task.task_handle == handle && task.status == "CANCELLING");
            if cancelled {
                self.finish_task_off_runtime(handle, "CANCELLED", None)
                    .await;
                return;
            }
            let queues = Arc::clone(&self);
            let (from, to) = (source.to_owned(), destination.map(str::to_owned));
            let task_handle = handle.to_owned();
            let moved = tokio::task::spawn_blocking(move || {
                let lookup: BTreeMap<String, String> = queues
                    .list_queues(None)
                    .into_iter()
                    .map(|name| (queues.queue_arn(&name), name))
                    .collect();
                let moved =
                    queues
                        .backend
                        .move_messages(&from, to.as_deref(), batch, now_ms(), &lookup)?;
                for queue in moved.keys() {
                    if let Ok(state) = queues.state(queue) {
                        state.arrivals.notify_waiters();
                    }
                }
                let count: u64 = moved.values().sum();
                if count > 0 {
                    queues.update_task(&task_handle, |task| task.moved += count);
                }
                Ok::<u64, SqsError>(count)
            })
            .await;
            let failure = match moved {
                Ok(Ok(0)) => {
                    self.finish_task_off_runtime(handle, "COMPLETED", None)
                        .await;
                    return;
                }
                Ok(Ok(_)) => None,
                Ok(Err(error)) => Some(error.to_string()),
                Err(error) => Some(error.to_string()),
            };
            if let Some(reason) = failure {
                self.finish_task_off_runtime(handle, "FAILED", Some(reason))
                    .await;
                return;
            }
            if max_per_second.is_some() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    /// Changes a task and saves it (blocks on storage). A task that cannot be saved keeps
    /// its change in memory, and the failure is logged: its messages are safe either way.
    fn update_task(&self, handle: &str, change: impl FnOnce(&mut MoveTask)) {
        let changed = {
            let mut tasks = lock(&self.tasks);
            let Some(task) = tasks.iter_mut().find(|task| task.task_handle == handle) else {
                return;
            };
            change(task);
            task.clone()
        };
        if let Err(error) = self.backend.put_move_task(&changed) {
            tracing::error!(task = handle, "cannot save a message move task: {error}");
        }
    }

    fn finish_task(&self, handle: &str, status: &str, failure_reason: Option<String>) {
        self.update_task(handle, |task| {
            task.status = status.to_owned();
            task.failure_reason = failure_reason;
        });
    }

    async fn finish_task_off_runtime(
        self: &Arc<Self>,
        handle: &str,
        status: &'static str,
        failure_reason: Option<String>,
    ) {
        let (queues, handle) = (Arc::clone(self), handle.to_owned());
        let finished = tokio::task::spawn_blocking(move || {
            queues.finish_task(&handle, status, failure_reason)
        })
        .await;
        if let Err(error) = finished {
            tracing::error!("cannot finish a message move task: {error}");
        }
    }

    /// `ListMessageMoveTasks`: the latest `max_results` tasks of a source, newest first.
    pub fn list_move_tasks(
        &self,
        source_arn: &str,
        max_results: Option<u32>,
    ) -> Result<Vec<MoveTask>, SqsError> {
        if self.queue_of_arn(source_arn).is_none() {
            return Err(SqsError::ResourceNotFound(
                "The resource that you specified for the SourceArn parameter doesn't exist."
                    .to_owned(),
            ));
        }
        let max_results = max_results.unwrap_or(1);
        if !(1..=10).contains(&max_results) {
            return Err(SqsError::invalid_value(
                "MaxResults",
                max_results,
                "Must be between 1 and 10, if provided.",
            ));
        }
        self.reload_tasks()?;
        let tasks = lock(&self.tasks);
        Ok(tasks
            .iter()
            .rev()
            .filter(|task| task.source_arn == source_arn)
            .take(max_results as usize)
            .cloned()
            .collect())
    }

    /// `CancelMessageMoveTask`: answers how many messages the task moved.
    pub fn cancel_move_task(&self, task_handle: &str) -> Result<u64, SqsError> {
        self.reload_tasks()?;
        let mut tasks = lock(&self.tasks);
        let Some(task) = tasks
            .iter_mut()
            .find(|task| task.task_handle == task_handle)
        else {
            return Err(SqsError::ResourceNotFound(
                "Task does not exist.".to_owned(),
            ));
        };
        if task.status != "RUNNING" {
            return Err(SqsError::UnsupportedOperation(
                "Only active tasks can be cancelled.".to_owned(),
            ));
        }
        task.status = "CANCELLING".to_owned();
        let (moved, saved) = (task.moved, task.clone());
        drop(tasks);
        self.backend.put_move_task(&saved)?;
        Ok(moved)
    }
}

/// Forgets a source's tasks beyond the latest [`crate::MOVE_TASKS_KEPT`] (the backend does
/// the same with its copies).
fn forget_old_tasks(tasks: &mut Vec<MoveTask>, source_arn: &str) {
    let of_source = tasks
        .iter()
        .filter(|task| task.source_arn == source_arn)
        .count();
    let mut excess = of_source.saturating_sub(crate::MOVE_TASKS_KEPT);
    tasks.retain(|task| {
        if excess > 0 && task.source_arn == source_arn && task.status != "RUNNING" {
            excess -= 1;
            return false;
        }
        true
    });
}

/// A send checked and ready to store: one result per message (errors for those that
/// failed their checks), and the messages to store with their places in the results.
struct SendPlan {
    name: String,
    state: Arc<QueueState>,
    results: Vec<Result<SendOutcome, SqsError>>,
    to_store: Vec<(StoredMessage, Option<Deduplication>)>,
    stored_index: Vec<usize>,
}

impl SendPlan {
    /// The results once the store has `sent` the messages; wakes the queue's long polls.
    fn finish(mut self, sent: Vec<Sent>) -> Vec<Result<SendOutcome, SqsError>> {
        if !self.stored_index.is_empty() {
            for (index, sent) in self.stored_index.iter().zip(sent) {
                if let Some(Ok(outcome)) = self.results.get_mut(*index) {
                    outcome.message_id = sent.message_id;
                    outcome.sequence_number = sent.sequence_number;
                }
            }
            self.state.arrivals.notify_waiters();
        }
        self.results
    }
}

/// A receive's claim, or the answer of an earlier attempt with the same id.
enum ReceivePlan {
    Answered(Vec<ReceivedMessage>),
    Claim(ClaimPlan),
}

/// A receive ready to claim messages.
struct ClaimPlan {
    name: String,
    state: Arc<QueueState>,
    fifo: bool,
    visibility: u32,
    claim: Claim,
}

/// A delete's results, one per handle, from the store's outcomes for the handles that
/// decoded.
fn finish_delete(
    state: &QueueState,
    decoded: Vec<Result<Receipt, SqsError>>,
    receipt_handles: &[String],
    outcomes: Vec<ReceiptOutcome>,
) -> Vec<Result<(), SqsError>> {
    let mut outcomes = outcomes.into_iter();
    let mut deleted_any = false;
    let results = decoded
        .into_iter()
        .zip(receipt_handles)
        .map(|(receipt, handle)| {
            receipt?;
            match outcomes.next() {
                Some(ReceiptOutcome::Done) => {
                    deleted_any = true;
                    Ok(())
                }
                Some(ReceiptOutcome::Stale | ReceiptOutcome::Gone) | None => Ok(()),
                Some(ReceiptOutcome::NotInFlight) => Err(SqsError::invalid_value(
                    "ReceiptHandle",
                    handle,
                    "The receipt handle has expired.",
                )),
            }
        })
        .collect();
    if deleted_any {
        lock(&state.attempts).clear();
    }
    results
}

/// A receive attempt's answer as a shared backend keeps it, for any node to answer a
/// retry with.
fn attempt_to_json(answer: &[ReceivedMessage]) -> String {
    let messages: Vec<serde_json::Value> = answer
        .iter()
        .map(|message| {
            serde_json::json!({
                "id": message.message_id,
                "receipt": message.receipt_handle,
                "body": message.body,
                "md5": message.md5_of_body,
                "attributes": message.attributes,
                "message_attributes": crate::stored::attributes_to_json(&message.message_attributes),
                "md5_attributes": message.md5_of_message_attributes,
            })
        })
        .collect();
    serde_json::Value::Array(messages).to_string()
}

/// Reads [`attempt_to_json`]'s text (`None` if it is not that).
fn attempt_from_json(text: &str) -> Option<Vec<ReceivedMessage>> {
    let messages: Vec<serde_json::Value> = serde_json::from_str(text).ok()?;
    messages
        .iter()
        .map(|message| {
            let text = |key: &str| message.get(key)?.as_str().map(str::to_owned);
            Some(ReceivedMessage {
                message_id: text("id")?,
                receipt_handle: text("receipt")?,
                body: text("body")?,
                md5_of_body: text("md5")?,
                attributes: crate::stored::map_from_json(&message.get("attributes")?.to_string()),
                message_attributes: crate::stored::attributes_from_json(text("message_attributes")),
                md5_of_message_attributes: text("md5_attributes"),
            })
        })
        .collect()
}

fn new_state(record: QueueRecord, settings: QueueSettings) -> QueueState {
    QueueState {
        record: RwLock::new((record, settings)),
        arrivals: Notify::new(),
        last_purge_ms: Mutex::new(None),
        last_sweep_ms: Mutex::new(0),
        attempts: Mutex::default(),
    }
}

fn check_tags(name: &str, tags: &BTreeMap<String, String>) -> Result<(), SqsError> {
    if tags.len() > 50 {
        return Err(SqsError::InvalidParameterValue(format!(
            "Too many tags added for queue {name}."
        )));
    }
    for (key, value) in tags {
        if key.is_empty() || key.len() > 128 || value.len() > 256 {
            return Err(SqsError::InvalidParameterValue(format!(
                "Tag key or value for queue {name} is not valid: keys are 1 to 128 characters, values up to 256."
            )));
        }
    }
    Ok(())
}

/// The statements of a policy document, making it one if it is not.
fn policy_statements<'a>(
    policy: &'a mut serde_json::Value,
    arn: &str,
) -> &'a mut Vec<serde_json::Value> {
    if !policy.is_object() {
        *policy = serde_json::json!({
            "Version": "2012-10-17",
            "Id": format!("{arn}/SQSDefaultPolicy"),
            "Statement": [],
        });
    }
    let object = policy.as_object_mut().expect("made an object above");
    let statements = object
        .entry("Statement")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    if !statements.is_array() {
        let single = statements.take();
        *statements = serde_json::Value::Array(vec![single]);
    }
    statements.as_array_mut().expect("made an array above")
}

/// Checks a message against its queue and makes what is stored and answered.
fn prepare(
    settings: &QueueSettings,
    message: SendMessage,
    now: i64,
    sender_id: &str,
) -> Result<(StoredMessage, Option<Deduplication>, SendOutcome), SqsError> {
    message::check_message(
        &message.body,
        &message.attributes,
        &message.system_attributes,
        settings.maximum_message_size.min(MAX_MESSAGE_BYTES),
    )?;
    if let Some(delay) = message.delay_seconds {
        if settings.fifo {
            return Err(SqsError::invalid_value(
                "DelaySeconds",
                delay,
                "The request include parameter that is not valid for this queue type.",
            ));
        }
        if delay > 900 {
            return Err(SqsError::invalid_value(
                "DelaySeconds",
                delay,
                "DelaySeconds must be >= 0 and <= 900.",
            ));
        }
    }
    let (group_id, deduplication) = if settings.fifo {
        let Some(group_id) = message.group_id.clone() else {
            return Err(SqsError::MissingParameter("MessageGroupId".to_owned()));
        };
        check_fifo_id("MessageGroupId", &group_id)?;
        let id = match &message.deduplication_id {
            Some(id) => {
                check_fifo_id("MessageDeduplicationId", id)?;
                id.clone()
            }
            None if settings.content_based_deduplication => {
                let digest = Sha256::digest(message.body.as_bytes());
                digest.iter().map(|byte| format!("{byte:02x}")).collect()
            }
            None => {
                return Err(SqsError::InvalidParameterValue(
                    "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly".to_owned(),
                ))
            }
        };
        let scope = match settings.deduplication_scope {
            attributes::DeduplicationScope::MessageGroup => group_id.clone(),
            attributes::DeduplicationScope::Queue => String::new(),
        };
        (
            Some(group_id),
            Some(Deduplication {
                scope,
                id,
                until_ms: now + DEDUPLICATION_INTERVAL_MS,
            }),
        )
    } else {
        if let Some(id) = &message.deduplication_id {
            return Err(SqsError::invalid_value(
                "MessageDeduplicationId",
                id,
                "The request include parameter that is not valid for this queue type.",
            ));
        }
        // Standard queues take a group id for fair queueing; order is not kept by it.
        (None, None)
    };
    let delay = message.delay_seconds.unwrap_or(settings.delay_seconds);
    let message_id = new_message_id(now);
    let outcome = SendOutcome {
        message_id: message_id.clone(),
        md5_of_body: message::md5_hex(message.body.as_bytes()),
        md5_of_message_attributes: message::md5_of_attributes(&message.attributes),
        md5_of_system_attributes: message::md5_of_attributes(&message.system_attributes),
        sequence_number: None,
    };
    let stored = StoredMessage {
        message_id,
        body: message.body,
        attributes: message.attributes,
        system_attributes: message.system_attributes,
        sent_at_ms: now,
        available_at_ms: now + i64::from(delay) * 1000,
        receive_count: 0,
        first_received_at_ms: None,
        receipt_token: None,
        deduplication_id: deduplication.as_ref().map(|d| d.id.clone()),
        group_id,
        sequence_number: None,
        sender_id: sender_id.to_owned(),
        dead_letter_source_arn: None,
    };
    Ok((stored, deduplication, outcome))
}

/// A new message id: a UUID whose first 48 bits are the send's time in milliseconds
/// (RFC 9562's version 7), the rest random. It looks like any other SQS message id, and
/// ids sent close together sort together, so the store's index of ids grows at its end
/// instead of taking each insert on a random page (which wrote one more page to disk per
/// message in a group commit).
fn new_message_id(now_ms: i64) -> String {
    let random = uuid::Uuid::new_v4();
    let mut tail = [0u8; 10];
    tail.copy_from_slice(&random.as_bytes()[..10]);
    uuid::Builder::from_unix_timestamp_millis(u64::try_from(now_ms).unwrap_or(0), &tail)
        .into_uuid()
        .to_string()
}

/// A claimed message as a receive answers it, with the attributes asked for.
fn received(message: StoredMessage, options: &ReceiveOptions) -> ReceivedMessage {
    let wanted_system = |name: &str| {
        options
            .attribute_names
            .iter()
            .any(|wanted| wanted == "All" || wanted == name)
    };
    let mut attributes = BTreeMap::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            if wanted_system(name) {
                attributes.insert(name.to_owned(), value);
            }
        }
    };
    put("SenderId", Some(message.sender_id.clone()));
    put("SentTimestamp", Some(message.sent_at_ms.to_string()));
    put(
        "ApproximateReceiveCount",
        Some(message.receive_count.to_string()),
    );
    put(
        "ApproximateFirstReceiveTimestamp",
        message.first_received_at_ms.map(|at| at.to_string()),
    );
    put("SequenceNumber", message.sequence_number.clone());
    put("MessageDeduplicationId", message.deduplication_id.clone());
    put("MessageGroupId", message.group_id.clone());
    put(
        "AWSTraceHeader",
        message
            .system_attributes
            .get("AWSTraceHeader")
            .and_then(|value| value.string_value.clone()),
    );
    put(
        "DeadLetterQueueSourceArn",
        message.dead_letter_source_arn.clone(),
    );
    let message_attributes: MessageAttributes = message
        .attributes
        .into_iter()
        .filter(|(name, _)| attribute_wanted(&options.message_attribute_names, name))
        .collect();
    ReceivedMessage {
        receipt_handle: encode_receipt(
            &message.message_id,
            message.receipt_token.as_deref().unwrap_or(""),
        ),
        md5_of_body: message::md5_hex(message.body.as_bytes()),
        md5_of_message_attributes: message::md5_of_attributes(&message_attributes),
        message_id: message.message_id,
        body: message.body,
        attributes,
        message_attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Arc<Queues> {
        let backend = crate::SqliteQueues::in_memory().expect("in-memory queues");
        Arc::new(
            Queues::open(
                Arc::new(backend),
                QueuesConfig {
                    region: "us-east-1".to_owned(),
                    account_id: "123456789012".to_owned(),
                    endpoint_url: "http://127.0.0.1:4566/".to_owned(),
                },
            )
            .expect("engine"),
        )
    }

    fn attributes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn receive(queues: &Queues, name: &str, max: u32, visibility: u32) -> Vec<ReceivedMessage> {
        queues
            .receive_now(
                name,
                &ReceiveOptions {
                    max_messages: Some(max),
                    visibility_timeout: Some(visibility),
                    attribute_names: vec!["All".to_owned()],
                    ..ReceiveOptions::default()
                },
            )
            .expect("receive")
    }

    fn fifo_message(body: &str, group: &str) -> SendMessage {
        SendMessage {
            group_id: Some(group.to_owned()),
            ..SendMessage::body(body)
        }
    }

    #[test]
    fn names_urls_and_arns() {
        let queues = engine();
        assert_eq!(
            queues.queue_url("q"),
            "http://127.0.0.1:4566/123456789012/q"
        );
        assert_eq!(
            queues.queue_arn("q"),
            "arn:aws:sqs:us-east-1:123456789012:q"
        );
        for reference in [
            "http://localhost:4566/000000000000/q",
            "https://sqs.us-east-1.amazonaws.com/123456789012/q",
            "arn:aws:sqs:us-east-1:123456789012:q",
            "q",
        ] {
            assert_eq!(
                Queues::queue_name(reference).as_deref(),
                Some("q"),
                "{reference}"
            );
        }
        // Sends, receives and deletes take a name, a URL or an ARN.
        queues
            .create_queue("q", &BTreeMap::new(), &BTreeMap::new())
            .expect("create");
        queues
            .send(
                "arn:aws:sqs:us-east-1:123456789012:q",
                SendMessage::body("by arn"),
                "me",
            )
            .expect("send by ARN");
        let got = receive(&queues, "http://localhost:4566/000000000000/q", 1, 30);
        assert_eq!(got[0].body, "by arn");
        queues
            .delete_message("q", &got[0].receipt_handle)
            .expect("delete by name");
        assert_eq!(
            queues.send(
                "arn:aws:sqs:eu-west-1:123456789012:q",
                SendMessage::body("x"),
                "me"
            ),
            Err(SqsError::QueueDoesNotExist)
        );
    }

    #[test]
    fn create_is_idempotent_with_the_same_attributes() {
        let queues = engine();
        let given = attributes(&[("VisibilityTimeout", "60")]);
        let url = queues
            .create_queue("q", &given, &BTreeMap::new())
            .expect("create");
        assert_eq!(queues.create_queue("q", &given, &BTreeMap::new()), Ok(url));
        assert_eq!(
            queues.create_queue(
                "q",
                &attributes(&[("VisibilityTimeout", "61")]),
                &BTreeMap::new()
            ),
            Err(SqsError::QueueAlreadyExists {
                attribute: "VisibilityTimeout".to_owned()
            })
        );
        queues.delete_queue("q").expect("delete");
        assert_eq!(
            queues.create_queue("q", &given, &BTreeMap::new()),
            Err(SqsError::QueueDeletedRecently)
        );
    }

    #[test]
    fn visibility_timeouts_and_receipts_behave_as_sqs() {
        let queues = engine();
        queues
            .create_queue("q", &BTreeMap::new(), &BTreeMap::new())
            .expect("create");
        let sent = queues
            .send("q", SendMessage::body("hello"), "me")
            .expect("send");
        assert_eq!(sent.md5_of_body, "5d41402abc4b2a76b9719d911017c592");
        let first = receive(&queues, "q", 10, 0);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].attributes["ApproximateReceiveCount"], "1");
        // Visibility 0: visible again at once, with a new handle.
        let second = receive(&queues, "q", 10, 30);
        assert_eq!(second.len(), 1);
        assert_ne!(first[0].receipt_handle, second[0].receipt_handle);
        assert_eq!(second[0].attributes["ApproximateReceiveCount"], "2");
        assert!(receive(&queues, "q", 10, 30).is_empty());
        let counts = queues
            .get_attributes("q", &["All".to_owned()])
            .expect("attributes");
        assert_eq!(counts["ApproximateNumberOfMessagesNotVisible"], "1");
        // The old handle succeeds but deletes nothing; the latest deletes.
        queues
            .delete_message("q", &first[0].receipt_handle)
            .expect("stale delete");
        let counts = queues
            .get_attributes("q", &["ApproximateNumberOfMessagesNotVisible".to_owned()])
            .expect("attributes");
        assert_eq!(counts["ApproximateNumberOfMessagesNotVisible"], "1");
        assert!(matches!(
            queues.change_visibility("q", &first[0].receipt_handle, 0),
            Err(SqsError::InvalidParameterValue(_))
        ));
        queues
            .change_visibility("q", &second[0].receipt_handle, 0)
            .expect("change");
        let third = receive(&queues, "q", 1, 30);
        queues
            .delete_message("q", &third[0].receipt_handle)
            .expect("delete");
        assert!(receive(&queues, "q", 10, 0).is_empty());
        assert_eq!(
            queues.delete_message("q", "garbage"),
            Err(SqsError::ReceiptHandleIsInvalid("garbage".to_owned()))
        );
    }

    #[test]
    fn delays_hold_messages_back() {
        let queues = engine();
        queues
            .create_queue("q", &attributes(&[("DelaySeconds", "5")]), &BTreeMap::new())
            .expect("create");
        queues
            .send("q", SendMessage::body("later"), "me")
            .expect("send");
        queues
            .send(
                "q",
                SendMessage {
                    delay_seconds: Some(0),
                    ..SendMessage::body("now")
                },
                "me",
            )
            .expect("send");
        let got = receive(&queues, "q", 10, 30);
        assert_eq!(
            got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["now"]
        );
        let counts = queues
            .get_attributes("q", &["All".to_owned()])
            .expect("attributes");
        assert_eq!(counts["ApproximateNumberOfMessagesDelayed"], "1");
    }

    #[test]
    fn fifo_keeps_group_order_and_deduplicates() {
        let queues = engine();
        queues
            .create_queue(
                "q.fifo",
                &attributes(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
                &BTreeMap::new(),
            )
            .expect("create");
        assert_eq!(
            queues.send("q.fifo", SendMessage::body("x"), "me"),
            Err(SqsError::MissingParameter("MessageGroupId".to_owned()))
        );
        let a1 = queues
            .send("q.fifo", fifo_message("a1", "a"), "me")
            .expect("send");
        queues
            .send("q.fifo", fifo_message("b1", "b"), "me")
            .expect("send");
        queues
            .send("q.fifo", fifo_message("a2", "a"), "me")
            .expect("send");
        let duplicate = queues
            .send("q.fifo", fifo_message("a1", "a"), "me")
            .expect("duplicate");
        assert_eq!(duplicate.message_id, a1.message_id);
        assert!(a1.sequence_number.is_some());
        let first = receive(&queues, "q.fifo", 1, 30);
        assert_eq!(first[0].body, "a1");
        // Group a is in flight: only b is available.
        let second = receive(&queues, "q.fifo", 10, 30);
        assert_eq!(
            second.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["b1"]
        );
        queues
            .delete_message("q.fifo", &first[0].receipt_handle)
            .expect("delete");
        let third = receive(&queues, "q.fifo", 10, 30);
        assert_eq!(
            third.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["a2"]
        );
        assert_eq!(third[0].attributes["MessageGroupId"], "a");
    }

    #[test]
    fn deduplication_scope_and_receive_attempts() {
        let queues = engine();
        queues
            .create_queue(
                "g.fifo",
                &attributes(&[
                    ("FifoQueue", "true"),
                    ("DeduplicationScope", "messageGroup"),
                ]),
                &BTreeMap::new(),
            )
            .expect("create");
        let with_id = |body: &str, group: &str| SendMessage {
            deduplication_id: Some("same".to_owned()),
            ..fifo_message(body, group)
        };
        let first = queues
            .send("g.fifo", with_id("a", "a"), "me")
            .expect("send");
        // The same id in another group is another message; in the same group a duplicate.
        let other = queues
            .send("g.fifo", with_id("b", "b"), "me")
            .expect("send");
        assert_ne!(first.message_id, other.message_id);
        let again = queues
            .send("g.fifo", with_id("a again", "a"), "me")
            .expect("send");
        assert_eq!(again.message_id, first.message_id);
        assert_eq!(
            queues.send("g.fifo", fifo_message("no id", "a"), "me"),
            Err(SqsError::InvalidParameterValue(
                "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly".to_owned()
            ))
        );
        // A retried receive with the same attempt id answers the same messages.
        let options = ReceiveOptions {
            max_messages: Some(10),
            request_attempt_id: Some("try-1".to_owned()),
            ..ReceiveOptions::default()
        };
        let got = queues.receive_now("g.fifo", &options).expect("receive");
        assert_eq!(got.len(), 2);
        assert_eq!(queues.receive_now("g.fifo", &options).expect("retry"), got);
    }

    #[test]
    fn redrive_moves_messages_after_max_receives_and_back() {
        let queues = engine();
        queues
            .create_queue("dlq", &BTreeMap::new(), &BTreeMap::new())
            .expect("dlq");
        let policy = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq","maxReceiveCount":2}"#;
        queues
            .create_queue(
                "src",
                &attributes(&[("RedrivePolicy", policy)]),
                &BTreeMap::new(),
            )
            .expect("source");
        assert!(matches!(
            queues.create_queue(
                "bad",
                &attributes(&[(
                    "RedrivePolicy",
                    r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:nope","maxReceiveCount":2}"#
                )]),
                &BTreeMap::new()
            ),
            Err(SqsError::InvalidParameterValue(_))
        ));
        queues
            .send("src", SendMessage::body("poison"), "me")
            .expect("send");
        assert_eq!(receive(&queues, "src", 1, 0).len(), 1);
        assert_eq!(receive(&queues, "src", 1, 0).len(), 1);
        assert!(receive(&queues, "src", 1, 0).is_empty());
        let dead = receive(&queues, "dlq", 1, 0);
        assert_eq!(dead[0].body, "poison");
        assert_eq!(
            dead[0].attributes["DeadLetterQueueSourceArn"],
            "arn:aws:sqs:us-east-1:123456789012:src"
        );
        assert_eq!(
            queues.dead_letter_sources("dlq"),
            Ok(vec!["src".to_owned()])
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            queues
                .start_move_task("arn:aws:sqs:us-east-1:123456789012:dlq", None, None)
                .expect("start");
            for _ in 0..100 {
                let tasks = queues
                    .list_move_tasks("arn:aws:sqs:us-east-1:123456789012:dlq", None)
                    .expect("tasks");
                if tasks[0].status == "COMPLETED" {
                    assert_eq!(tasks[0].moved, 1);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        assert_eq!(receive(&queues, "src", 1, 30)[0].body, "poison");
    }

    #[test]
    fn async_sends_receives_and_deletes_match_the_blocking_ones() {
        let queues = engine();
        queues
            .create_queue("q", &BTreeMap::new(), &BTreeMap::new())
            .expect("create");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let sent = queues
                .send_batch_async(
                    "q",
                    vec![
                        SendMessage::body("a"),
                        SendMessage::body(""),
                        SendMessage::body("b"),
                    ],
                    "me",
                )
                .await
                .expect("send");
            assert!(sent[0].is_ok() && sent[1].is_err() && sent[2].is_ok());
            let one = queues
                .send_async("q", SendMessage::body("c"), "me")
                .await
                .expect("send one");
            assert_eq!(one.md5_of_body, message::md5_hex(b"c"));
            let options = ReceiveOptions {
                max_messages: Some(10),
                visibility_timeout: Some(0),
                ..ReceiveOptions::default()
            };
            let first = queues.receive("q", options.clone()).await.expect("receive");
            assert_eq!(first.len(), 3);
            // Received again (visibility 0): the first handles are stale and delete
            // nothing, the new ones delete.
            let second = queues.receive("q", options).await.expect("receive again");
            assert_eq!(second.len(), 3);
            let stale: Vec<String> = first.iter().map(|m| m.receipt_handle.clone()).collect();
            let results = queues
                .delete_messages_async("q", &stale)
                .await
                .expect("delete stale");
            assert!(results.iter().all(Result::is_ok));
            assert_eq!(
                queues
                    .backend
                    .counts("q", now_ms())
                    .expect("counts")
                    .visible,
                3
            );
            for message in &second {
                queues
                    .delete_message_async("q", &message.receipt_handle)
                    .await
                    .expect("delete");
            }
            let counts = queues.backend.counts("q", now_ms()).expect("counts");
            assert_eq!(counts.visible + counts.not_visible, 0);
        });
    }

    #[test]
    fn message_ids_are_uuids_ordered_by_time() {
        let earlier = new_message_id(1_700_000_000_000);
        let later = new_message_id(1_700_000_000_001);
        assert!(earlier < later);
        assert_ne!(new_message_id(5), new_message_id(5));
        let parsed = uuid::Uuid::parse_str(&later).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(later.len(), 36);
    }

    #[test]
    fn long_polls_wake_at_once_on_a_send() {
        let queues = engine();
        queues
            .create_queue("q", &BTreeMap::new(), &BTreeMap::new())
            .expect("create");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let waiter = {
                let queues = Arc::clone(&queues);
                tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    let got = queues
                        .receive(
                            "q",
                            ReceiveOptions {
                                wait_seconds: Some(10),
                                ..ReceiveOptions::default()
                            },
                        )
                        .await
                        .expect("receive");
                    (got, started.elapsed())
                })
            };
            tokio::time::sleep(Duration::from_millis(200)).await;
            queues
                .send("q", SendMessage::body("ping"), "me")
                .expect("send");
            let (got, waited) = waiter.await.expect("waiter");
            assert_eq!(got[0].body, "ping");
            assert!(waited < Duration::from_secs(2), "waited {waited:?}");
        });
    }

    #[test]
    fn sends_survive_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = QueuesConfig {
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            endpoint_url: "http://x".to_owned(),
        };
        {
            let queues = Queues::open_in(dir.path(), config.clone()).expect("open");
            queues
                .create_queue(
                    "q",
                    &attributes(&[("VisibilityTimeout", "7")]),
                    &BTreeMap::new(),
                )
                .expect("create");
            queues
                .send("q", SendMessage::body("kept"), "me")
                .expect("send");
        }
        let queues = Queues::open_in(dir.path(), config).expect("reopen");
        assert_eq!(
            queues.settings("q").expect("settings").visibility_timeout,
            7
        );
        assert_eq!(receive(&queues, "q", 1, 30)[0].body, "kept");
    }

    #[test]
    fn move_tasks_survive_reopening_and_a_running_one_carries_on() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = QueuesConfig {
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            endpoint_url: "http://x".to_owned(),
        };
        let dlq = "arn:aws:sqs:us-east-1:123456789012:dlq";
        {
            let queues = Queues::open_in(dir.path(), config.clone()).expect("open");
            for name in ["dlq", "back"] {
                queues
                    .create_queue(name, &BTreeMap::new(), &BTreeMap::new())
                    .expect("create");
            }
            for body in ["a", "b", "c"] {
                queues
                    .send("dlq", SendMessage::body(body), "me")
                    .expect("send");
            }
            // What the store holds when the server stops while a task runs.
            let running = MoveTask {
                task_handle: "task-1".to_owned(),
                status: "RUNNING".to_owned(),
                source_arn: dlq.to_owned(),
                destination_arn: Some("arn:aws:sqs:us-east-1:123456789012:back".to_owned()),
                max_messages_per_second: Some(2),
                moved: 1,
                to_move: 4,
                failure_reason: None,
                started_at_ms: now_ms(),
            };
            queues.backend.put_move_task(&running).expect("save");
        }
        let queues = Arc::new(Queues::open_in(dir.path(), config.clone()).expect("reopen"));
        assert_eq!(
            queues.list_move_tasks(dlq, None).expect("tasks")[0].moved,
            1
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            queues.resume_move_tasks();
            for _ in 0..500 {
                if queues.list_move_tasks(dlq, None).expect("tasks")[0].status == "COMPLETED" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let task = &queues.list_move_tasks(dlq, None).expect("tasks")[0];
        assert_eq!((task.status.as_str(), task.moved), ("COMPLETED", 4));
        assert_eq!(receive(&queues, "back", 10, 30).len(), 3);
        drop(queues);
        let reopened = Queues::open_in(dir.path(), config).expect("reopen again");
        let task = &reopened.list_move_tasks(dlq, None).expect("tasks")[0];
        assert_eq!((task.status.as_str(), task.moved), ("COMPLETED", 4));
    }

    #[test]
    fn batches_are_checked_before_they_run() {
        assert_eq!(
            check_batch_ids([], "X"),
            Err(SqsError::EmptyBatchRequest("X"))
        );
        assert_eq!(
            check_batch_ids(["a", "a"], "X"),
            Err(SqsError::BatchEntryIdsNotDistinct("a".to_owned()))
        );
        assert_eq!(
            check_batch_ids(["a b"], "X"),
            Err(SqsError::InvalidBatchEntryId)
        );
        let eleven: Vec<String> = (0..11).map(|i| i.to_string()).collect();
        assert_eq!(
            check_batch_ids(eleven.iter().map(String::as_str), "X"),
            Err(SqsError::TooManyEntriesInBatchRequest(11))
        );
    }

    #[derive(Debug, Clone)]
    enum Step {
        Send,
        Receive { max: u32, hide: bool },
        Delete(usize),
        Release(usize),
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            Just(Step::Send),
            (1u32..=10, any::<bool>()).prop_map(|(max, hide)| Step::Receive { max, hide }),
            (0usize..20).prop_map(Step::Delete),
            (0usize..20).prop_map(Step::Release),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever clients do, a message is never lost and never comes back once
        /// deleted by its latest receipt: every sent message is deleted or still counted.
        #[test]
        fn no_message_is_lost_or_resurrected(steps in proptest::collection::vec(step(), 1..60)) {
            let queues = engine();
            queues.create_queue("q", &BTreeMap::new(), &BTreeMap::new()).expect("create");
            let mut sent = std::collections::HashSet::new();
            let mut deleted = std::collections::HashSet::new();
            let mut latest: HashMap<String, String> = HashMap::new();
            let mut held: Vec<ReceivedMessage> = Vec::new();
            let total = |queues: &Queues| -> usize {
                let counts = queues.get_attributes("q", &["All".to_owned()]).expect("attributes");
                ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]
                    .iter()
                    .map(|key| counts[*key].parse::<usize>().expect("count"))
                    .sum()
            };
            for (index, step) in steps.into_iter().enumerate() {
                match step {
                    Step::Send => {
                        let outcome = queues.send("q", SendMessage::body(format!("m{index}")), "me").expect("send");
                        sent.insert(outcome.message_id);
                    }
                    Step::Receive { max, hide } => {
                        for message in receive(&queues, "q", max, if hide { 30 } else { 0 }) {
                            proptest::prop_assert!(!deleted.contains(&message.message_id));
                            proptest::prop_assert!(sent.contains(&message.message_id));
                            latest.insert(message.message_id.clone(), message.receipt_handle.clone());
                            held.push(message);
                        }
                    }
                    Step::Delete(pick) if !held.is_empty() => {
                        let message = held.remove(pick % held.len());
                        queues.delete_message("q", &message.receipt_handle).expect("delete");
                        if latest.get(&message.message_id) == Some(&message.receipt_handle) {
                            deleted.insert(message.message_id.clone());
                        }
                    }
                    Step::Release(pick) if !held.is_empty() => {
                        let message = &held[pick % held.len()];
                        let _ = queues.change_visibility("q", &message.receipt_handle, 0);
                    }
                    Step::Delete(_) | Step::Release(_) => {}
                }
                proptest::prop_assert_eq!(total(&queues) + deleted.len(), sent.len());
            }
            // Release what is in flight, then drain: everything not deleted comes back.
            for handle in latest.values() {
                let _ = queues.change_visibility("q", handle, 0);
            }
            let mut remaining = std::collections::HashSet::new();
            loop {
                let got = receive(&queues, "q", 10, 30);
                if got.is_empty() {
                    break;
                }
                for message in got {
                    proptest::prop_assert!(!deleted.contains(&message.message_id));
                    remaining.insert(message.message_id.clone());
                    queues.delete_message("q", &message.receipt_handle).expect("delete");
                }
            }
            let accounted: std::collections::HashSet<_> = remaining.union(&deleted).cloned().collect();
            proptest::prop_assert_eq!(accounted, sent);
        }
    }
}
