//! The platform's whole interface: one [`Action`] in, one [`Outcome`] or [`ActionError`]
//! out. The CLI (`serverful up` in process) and the admin API (for `serve`) both drive the
//! platform this way, so every command works against either.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Something to do to the server's stacks.
#[derive(Debug)]
pub enum Action {
    /// Build a new version of a stack beside the running one, start it, switch to it
    /// atomically and drain the old one.
    Deploy(DeployRequest),
    /// Make an earlier version current again, without building: `to` names it, else the
    /// version before the current one.
    Rollback { stack: String, to: Option<u64> },
    /// Stop a stack's functions and forget it; its tables are kept unless asked.
    Delete { stack: String, delete_tables: bool },
    /// Every stack with its current version.
    List,
    /// A page of one function's kept log lines.
    Logs(LogsRequest),
    /// A consistent snapshot of the whole state (tables, stacks and their versions' code,
    /// keys, logs), written to the sink while the server goes on serving.
    Backup(BackupSink),
    /// One call of a running function with an event (`serverful invoke --endpoint`).
    Invoke(InvokeRequest),
    /// A stack's deploy history, functions with their triggers, routes, tables, queues
    /// and topics (the web console's stack page).
    Describe { stack: String },
    /// One DynamoDB operation of the item browser on a stack's table: `operation` is one
    /// of [`crate::describe::TABLE_OPERATIONS`], `request` DynamoDB's request JSON.
    Table {
        table: String,
        operation: String,
        request: Vec<u8>,
    },
    /// The console's queues and topics: peek, send, purge, publish.
    Messages(crate::queue_browser::MessagesRequest),
    /// A page of kept invocation records, newest first (`serverful invocations`).
    Invocations(InvocationsRequest),
    /// One invocation record whole (`serverful invocations show ID`).
    InvocationRecord { id: String },
    /// A recorded event run again against its stack's current deploy, through the same
    /// invoke path as any call (`serverful invoke --replay ID`).
    Replay { id: String },
}

impl Action {
    /// The stack the action changes, whose lock it holds while it runs.
    pub fn stack(&self) -> Option<&str> {
        match self {
            Action::Deploy(request) => Some(&request.stack),
            Action::Rollback { stack, .. } | Action::Delete { stack, .. } => Some(stack),
            Action::List
            | Action::Logs(_)
            | Action::Backup(_)
            | Action::Invoke(_)
            | Action::Describe { .. }
            | Action::Table { .. }
            | Action::Messages(_)
            | Action::Invocations(_)
            | Action::InvocationRecord { .. }
            | Action::Replay { .. } => None,
        }
    }
}

/// Which log lines to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsRequest {
    /// The function: its logical id, its physical name or its ARN.
    pub function: String,
    /// The stack; unneeded when the function's name says it (a physical name, or a logical
    /// id only one stack has).
    pub stack: Option<String>,
    /// Only lines written at or after this time (milliseconds since the Unix epoch).
    pub since_ms: Option<i64>,
    /// Only lines after this cursor (the `cursor` of a previous page).
    pub after: Option<String>,
    /// At most this many lines.
    pub limit: usize,
}

/// Which invocation records to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvocationsRequest {
    /// Only this function's: its logical id or physical name.
    pub function: Option<String>,
    pub stack: Option<String>,
    /// Only calls that began at or after this time (milliseconds since the Unix epoch).
    pub since_ms: Option<i64>,
    /// Only failed calls (any outcome but `success`).
    pub errors_only: bool,
    /// At most this many (100 when unset).
    pub limit: Option<usize>,
    /// Only records older than this cursor (the `next` of a previous page).
    pub before: Option<String>,
}

/// Which function to call, with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeRequest {
    /// The function: its logical id, its physical name or its ARN (qualified or not).
    pub function: String,
    /// The stack; unneeded when only one running stack has a function of that name.
    pub stack: Option<String>,
    /// Lambda's qualifier: `$LATEST` (the default), a published version number or an
    /// alias.
    pub qualifier: Option<String>,
    /// The event, a JSON document.
    pub event: Vec<u8>,
}

/// Where a backup goes: a writer the platform writes the backup file into, from a thread
/// of its own (the admin API streams it to the client as it is written).
pub struct BackupSink(pub Box<dyn std::io::Write + Send>);

impl std::fmt::Debug for BackupSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackupSink")
    }
}

/// A deploy: which stack, from which source folder, with which parameters.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    pub stack: String,
    pub source: Source,
    pub parameter_overrides: BTreeMap<String, String>,
    /// Delete tables the new version's template no longer has (kept otherwise).
    pub delete_tables: bool,
    /// Warm the new version before the switch (`serve`): one instance of each function
    /// the deploy changes, so that one failing its init fails the deploy while the running
    /// version keeps serving, and as many instances of each function as the running
    /// version has, so that the requests after the switch find them warm. Without it
    /// (`up`, a development server) every function starts on its first request, which
    /// gets a failing init as its error.
    pub warm_before_switch: bool,
}

/// An app's source, already on this machine.
#[derive(Debug, Clone)]
pub struct Source {
    /// The folder to build from. Under `serve` it is an immutable copy the server owns;
    /// under `up` it is the user's own folder.
    pub dir: PathBuf,
    /// The template file.
    pub template_path: PathBuf,
    /// What it was deployed from, for `ls`: a folder, a zip and its digest, a git commit.
    pub description: String,
    /// Content hash of the source; equal digests and parameters mean "no changes". Empty
    /// for a live folder (`up`), which is always deployed.
    pub digest: String,
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A new version serves.
    Deployed {
        stack: String,
        version: u64,
        /// The version it replaced, if any.
        previous: Option<u64>,
        /// Things the user should know (warnings of the build and the runtime).
        warnings: Vec<String>,
        summary: StackSummary,
    },
    /// The source and parameters equal the current version's: nothing was deployed.
    NoChanges { stack: String, version: u64 },
    RolledBack {
        stack: String,
        from: u64,
        to: u64,
        summary: StackSummary,
    },
    Deleted {
        stack: String,
        /// Tables deleted with it.
        tables_deleted: Vec<String>,
        /// Tables kept.
        tables_kept: Vec<String>,
        /// Queues deleted with it (with their messages), as tables are.
        #[serde(default)]
        queues_deleted: Vec<String>,
        /// Queues kept.
        #[serde(default)]
        queues_kept: Vec<String>,
    },
    Stacks {
        stacks: Vec<StackSummary>,
        /// The cluster's live nodes; empty for a server that is the only one.
        #[serde(default)]
        nodes: Vec<NodeSummary>,
    },
    /// One stack in detail.
    Described { stack: crate::describe::StackDetail },
    /// What a queue or topic call of the console did: the messages peeked at, the id of
    /// the message sent or published, or how many messages a purge removed.
    Messages {
        name: String,
        messages: Vec<crate::queue_browser::QueueMessage>,
        sent: Option<String>,
        purged: Option<u64>,
    },
    /// DynamoDB's answer to an item browser call.
    TableAnswered {
        table: String,
        operation: String,
        answer: serde_json::Value,
    },
    /// A page of log lines, oldest first.
    Logs {
        stack: String,
        /// The function's logical id (lines are kept under it).
        function: String,
        lines: Vec<LogEntry>,
        /// Pass it back as `after` to read the lines written since; the request's own
        /// `after` when the page is empty.
        cursor: Option<String>,
    },
    /// A function ran: its result, or its error (Lambda's error JSON) when `failed`.
    Invoked {
        stack: String,
        /// The function's logical id.
        function: String,
        payload: String,
        failed: bool,
        /// The Lambda version that ran (`$LATEST` or a number), when one did.
        executed_version: Option<String>,
        /// When the call began (milliseconds since the Unix epoch): the function's log
        /// lines of the call are those since.
        started_ms: i64,
    },
    /// A page of invocation records, newest first.
    Invocations {
        records: Vec<serverful_invocations::RecordSummary>,
        /// Pass it back as `before` for the next (older) page.
        next: Option<String>,
    },
    /// One invocation record.
    InvocationRecord {
        record: Box<serverful_invocations::InvocationRecord>,
    },
    /// A recorded event ran again: the record and how the new call went.
    Replayed {
        recorded: Box<serverful_invocations::InvocationRecord>,
        replay: ReplayAnswer,
    },
    /// A backup was written in full.
    BackedUp {
        /// The backup's point in time (RFC 3339).
        created_at: String,
        files: usize,
        content_bytes: u64,
        written_bytes: u64,
    },
}

/// How a replayed event went this time.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayAnswer {
    /// The new invocation's record (its request id), when it was recorded.
    pub record_id: Option<String>,
    pub outcome: serverful_invocations::RecordOutcome,
    /// The result, or Lambda's error JSON when the call failed.
    pub payload: String,
    pub executed_version: Option<String>,
    /// The stack's deploy it ran against (none for `serverful invoke --replay` without a
    /// server, which runs the app folder's code).
    pub deploy: Option<u64>,
    pub duration_ms: f64,
}

/// One kept log line, as `serverful logs --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// RFC 3339 in UTC with milliseconds.
    pub timestamp: String,
    pub stack: String,
    pub function: String,
    pub request_id: Option<String>,
    pub message: String,
    pub cursor: String,
}

/// A node of a cluster as `ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeSummary {
    /// Host name and admin port.
    pub name: String,
    pub admin_url: String,
    /// When it started, RFC 3339.
    pub started_at: String,
    /// Milliseconds since it last said it was alive.
    pub silent_ms: i64,
    /// Whether it is the node that answered.
    pub this_node: bool,
}

/// A stack as `ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StackSummary {
    pub name: String,
    pub version: u64,
    /// Every version kept, oldest first.
    pub versions: Vec<u64>,
    pub source: String,
    pub deployed_at: String,
    pub status: String,
    /// `LogicalId (physical name)` of each function.
    pub functions: Vec<String>,
    /// Each API's URL.
    pub urls: Vec<ApiUrl>,
    pub tables: Vec<String>,
    pub outputs: Vec<(String, String)>,
    /// Each schedule with its next fire time ([`crate::Platform::schedule_lines`]).
    #[serde(default)]
    pub schedules: Vec<String>,
    /// Each API key with its value, what callers send in `x-api-key`.
    #[serde(default)]
    pub api_keys: Vec<crate::api_keys::KeyListing>,
}

/// Where one API of a stack answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiUrl {
    /// The API's logical id (`ServerlessHttpApi`, `MyApi`).
    pub api: String,
    /// `http://{api_id}.execute-api.{domain}:{port}[/{stage}]`.
    pub url: String,
}

/// Why an action failed. The running stacks are untouched by any failed action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{step}: {message}")]
pub struct ActionError {
    /// Which step failed: `template`, `build`, `tables`, `functions`, `state`, `stack`, ...
    pub step: String,
    pub message: String,
    /// The kind of failure, for the admin API's status code.
    pub kind: ErrorKind,
}

/// How an [`ActionError`] maps to what a client did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request names something that does not exist (a stack, a version).
    NotFound,
    /// The request cannot be done as asked (a bad template, a failed build).
    Invalid,
    /// Another action on the same stack is under way.
    Conflict,
    /// The server failed (disk, state).
    Internal,
}

impl ActionError {
    pub fn new(step: &str, kind: ErrorKind, message: impl Into<String>) -> ActionError {
        ActionError {
            step: step.to_owned(),
            message: message.into(),
            kind,
        }
    }

    pub fn invalid(step: &str, message: impl Into<String>) -> ActionError {
        ActionError::new(step, ErrorKind::Invalid, message)
    }

    pub fn not_found(step: &str, message: impl Into<String>) -> ActionError {
        ActionError::new(step, ErrorKind::NotFound, message)
    }

    pub fn internal(step: &str, message: impl Into<String>) -> ActionError {
        ActionError::new(step, ErrorKind::Internal, message)
    }
}
