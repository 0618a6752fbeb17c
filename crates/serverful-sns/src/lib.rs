//! SNS for Serverful: topics and subscriptions, filter policies, durable publishing with
//! signed deliveries in AWS's envelopes, and the query-protocol API on the AWS endpoint.
//!
//! Codemap:
//! - `topics`: [`Topics`], the engine (every operation, and the delivery worker).
//! - `backend`: [`TopicBackend`], the durable state as a trait; `sqlite`: [`SqliteTopics`].
//! - `filter`: subscription filter policies (SNS's checks, `serverful-eventbridge`'s
//!   matcher).
//! - `message`: message attributes, `MessageStructure: json`, subjects, sizes.
//! - `envelope`: what subscribers receive (the JSON envelope, the Lambda event).
//! - `signing`: the key pair and certificate, and SNS's signatures.
//! - `delivery`: the [`Deliveries`] seam for queues and functions, retry policies.
//! - `api`: the query-protocol service on the AWS endpoint ([`SnsService`]).
//!
//! Architecture invariant: no rusqlite type crosses the backend trait, and the crate
//! knows neither the platform nor SQS: queues and functions are reached through
//! [`Deliveries`].

pub mod api;
pub mod backend;
pub mod delivery;
pub mod envelope;
pub mod error;
pub mod filter;
pub mod message;
pub mod signing;
pub mod sqlite;
pub mod topics;

pub use api::SnsService;
pub use backend::TopicBackend;
pub use delivery::{Deliveries, QueueMessage};
pub use error::{ErrorCode, SnsError};
pub use signing::Signer;
pub use sqlite::SqliteTopics;
pub use topics::{PublishInput, PublishOutput, Topics, TopicsConfig};
