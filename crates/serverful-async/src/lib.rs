//! Lambda's asynchronous invocation (`InvocationType: Event`): events are written to a
//! durable queue before the caller is answered, and workers deliver them through
//! [`serverful_invoke::Invoke`] with AWS's retry schedule, event age and destinations.
//!
//! The pieces: [`EventInvokeConfig`] and [`Destination`] (a function's settings, as its
//! template or `PutFunctionEventInvokeConfig` give them), [`QueueBackend`] (the durable
//! queue, kept by [`SqliteQueue`] in `DATA/async.sqlite`), [`RetrySchedule`] (when a
//! failed or throttled event is tried again), [`record`] (the invocation record a
//! destination receives) and [`AsyncInvocations`] (submission and the workers).
//!
//! Architecture invariant: this crate knows no platform, template or HTTP. The platform
//! says which functions exist and how they are configured through [`Directory`], and
//! delivers to destinations other than functions through [`DestinationSink`].

mod backend;
mod config;
pub mod record;
mod retry;
mod sqlite;
mod worker;

pub use backend::{FunctionBacklog, NewEvent, QueueBackend, QueueError, QueuedEvent};
pub use config::{Destination, DestinationKind, EventInvokeConfig};
pub use retry::RetrySchedule;
pub use sqlite::SqliteQueue;
pub use worker::{
    AsyncInvocations, DestinationSink, Directory, FunctionTarget, UnsupportedDestinations,
};
