//! SQS for Serverful: durable queues and the SQS API on the AWS endpoint.
//!
//! The pieces: [`Queues`] (the engine: standard and FIFO queues, delays, visibility
//! timeouts, long polling, dead-letter redrive, message move tasks) over a
//! [`QueueBackend`] (the durable state, kept by [`SqliteQueues`] in
//! `DATA/queues.sqlite`, or by `serverful-postgres` for a cluster); [`attributes`] and
//! [`message`] (SQS's validation rules and MD5 digests); [`stored`] (how backends encode
//! what they store); and [`SqsService`] (both wire protocols, JSON and query, over one
//! typed operation layer in [`operations`]).
//!
//! Architecture invariant: this crate knows no platform, template or function. Others
//! use [`Queues`] through its typed methods (the SQS → Lambda poller, SNS deliveries,
//! destinations); only [`service`] knows HTTP and the wire formats.

pub mod attributes;
mod backend;
mod engine;
mod error;
pub mod message;
pub mod operations;
pub mod service;
mod sqlite;
pub mod stored;
pub mod wire;

pub use backend::{
    Claim, Claimed, Counts, Deduplication, MoveTask, PeekedMessage, QueueBackend, QueueRecord,
    Receipt, ReceiptOutcome, Sent, StoredMessage, MOVE_TASKS_KEPT,
};
pub use engine::{
    check_batch_ids, now_ms, Queues, QueuesConfig, ReceiveOptions, ReceivedMessage, SendMessage,
    SendOutcome, MAX_WAIT_SECONDS, MESSAGE_SYSTEM_ATTRIBUTES,
};
pub use error::SqsError;
pub use message::{MessageAttributeValue, MessageAttributes};
pub use service::SqsService;
pub use sqlite::SqliteQueues;
