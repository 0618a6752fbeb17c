//! The running server as a library: stacks (one app each) and their versions, deploys
//! that build a version beside the running one and switch to it atomically, rollback,
//! the Lambda API over every stack's functions. Its whole interface is one [`Action`]
//! type that the CLI (through `serverful up`) and the admin API both drive, as
//! Firecracker's `VmmAction` drives its VMM.
//!
//! Architecture invariant: no terminal output. Progress goes to a [`Progress`] the caller
//! draws (the CLI) or streams (the admin API); errors are values that name the step that
//! failed.
//!
//! Codemap:
//! - `action`: [`Action`], [`Outcome`], [`ActionError`]: the interface.
//! - `server`: [`Platform`]: the running stacks and their versions, the deploy pipeline,
//!   the switch, rollback and delete, calls to functions by [`serverful_invoke::FunctionRef`].
//! - `lambda_api`: the Lambda API on the AWS endpoint, over every stack's functions, their
//!   versions and aliases, each call authorized for its caller.
//! - `keys`: each stack's own access keys for its functions, and the scope the platform
//!   publishes for them in the AWS endpoint's key ring (what the stack owns).
//! - `lambda_versions`: Lambda versions as a deploy publishes them (`CodeSha256`, which
//!   versions are new and their numbers) and where an alias sends an invocation.
//! - `older`: Lambda versions running from their own deploy's build, started on demand
//!   and stopped when idle.
//! - `prepare`: a version made ready to run: runtime names checked, functions and layers
//!   built, the runtime's view of each function.
//! - `state`: stacks and versions kept behind [`StateBackend`] ([`SqliteState`]).
//! - `cluster_versions`: in a cluster, the state and each version's source in PostgreSQL,
//!   and every node following the cluster's current versions.
//! - `tables`: the DynamoDB store, a version's tables, the TTL sweep.
//! - `logs`: a page of one function's kept lines, the function found by any of its names.
//! - `backup`: which parts of a data folder are its state, and a backup of them.
//! - `mappings_api`: `ListEventSourceMappings` and `GetEventSourceMapping` on the AWS
//!   endpoint, over the running stream mappings.
//! - `streams`: each stack's DynamoDB stream mappings, checked at start, switched with the
//!   version, stopped with the stack (the consumers live in `serverful-streams`).
//! - `invocation`: the `Invoke` action, a running function found by any of its names.
//! - `schedules`: each stack version's schedules handed to `serverful-scheduler` at the
//!   switch and stopped with the stack.
//! - `events_api`: EventBridge on the AWS endpoint: `PutEvents` matched against the rules
//!   of the stacks' current versions, each match queued as an asynchronous invocation;
//!   `TestEventPattern`, `ListRules`, `DescribeRule`.
//! - `sns_deliveries`: SNS's deliveries to functions (asynchronous invocations) and queues.

pub mod action;
pub mod api_keys;
pub mod async_invoke;
mod authorizers;
pub mod backup;
mod bucket_configurations;
pub mod bucket_events;
mod buckets;
pub mod cluster_versions;
pub mod describe;
pub mod events_api;
mod invocation;
pub mod invocation_records;
mod keys;
pub mod lambda_api;
mod lambda_stream;
mod lambda_versions;
pub mod logs;
pub mod mappings_api;
mod messaging;
mod older;
pub mod prepare;
mod queue_browser;
mod queues;
mod records;
pub mod runtime_mappings;
mod schedules;
pub mod server;
pub mod sns_deliveries;
pub mod state;
pub mod streams;
pub mod tables;

pub use action::{
    Action, ActionError, ApiUrl, BackupSink, DeployRequest, ErrorKind, InvocationsRequest,
    InvokeRequest, LogEntry, LogsRequest, Outcome, ReplayAnswer, Source, StackSummary,
};
pub use prepare::{sdk_cache_dir, CodeVersions, PrepareError, Progress, Quiet, StackDirs};
pub use queue_browser::{MessagesRequest, QueueMessage};
pub use server::{Layout, LiveVersion, Membership, Platform, PlatformConfig, PlatformInvoker};
pub use state::{
    DeployedVersion, FunctionSettings, FunctionVersionRecord, SqliteState, StackRecord,
    StateBackend, StateError, VersionRecord,
};
