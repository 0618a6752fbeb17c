//! DynamoDB semantics for Serverful, independent of storage and transport.
//!
//! This crate knows DynamoDB's data model and rules — attribute values and their
//! validation, the order of keys, the expression languages and how they evaluate
//! against an item — and nothing about HTTP, request framing, or where items are
//! kept. Backends (SQLite, PostgreSQL) build on it; the AWS edge converts wire
//! JSON with [`value::AttributeValue::from_json`] and renders
//! [`error::StoreError`] as `{"__type": ..., "message": ...}`.
//!
//! Codemap:
//! - [`value`]: `AttributeValue`, `Number` (38 digits), JSON wire shape, item size.
//! - [`key`]: key schemas, key checks, order-preserving key encoding for backends.
//! - [`expression`]: lexer and parsers for the five expression kinds, placeholder
//!   resolution and DynamoDB's validation messages; the trees live in
//!   [`expression::ast`].
//! - [`eval`]: conditions, projections and updates applied to items.
//! - [`legacy`]: `Expected`, `QueryFilter`/`ScanFilter`, `KeyConditions`,
//!   `AttributesToGet` and `AttributeUpdates`, validated and turned into the
//!   same trees.
//! - [`index`]: secondary index membership, projection and key checks.
//! - [`stream`]: stream records for a write, by `StreamViewType`.
//! - [`ttl`]: when an item has expired.
//! - [`paging`]: page limit, `LastEvaluatedKey`/`ExclusiveStartKey`, scan segments.
//! - [`capacity`]: read and write capacity units.
//! - [`error`]: `StoreError`, a DynamoDB `__type` plus message.
//!
//! Architecture invariant: nothing here does IO, spawns threads or knows about
//! HTTP; every input is untrusted, so no input may panic (property tests feed
//! random text to every parser) and recursion is bounded (values nest at most 32
//! levels, expressions at most `MAX_DEPTH`).

pub mod api;
pub mod backend;
pub mod capacity;
mod engine;
pub mod error;
pub mod eval;
pub mod expression;
pub mod index;
pub mod key;
pub mod legacy;
pub mod paging;
pub mod stream;
pub mod ttl;
pub mod value;

pub use backend::{Backend, BackendError, MemoryBackend};
pub use engine::{table_arn, Store, StoreConfig};
pub use error::{CancellationReason, ErrorDetails, ErrorKind, StoreError, StoreResult};
pub use value::{AttributeType, AttributeValue, Item, Number};
