//! DynamoDB for Serverful, independent of storage and transport.
//!
//! This crate knows DynamoDB's data model and rules — attribute values and their
//! validation, the order of keys, the expression languages and how they evaluate
//! against an item — and runs the DynamoDB operations over a storage
//! [`Backend`]. It knows nothing about HTTP or where bytes are kept. The AWS
//! edge calls [`Store::call_json`] by operation name with the request body and
//! gets the response body (both parsed and written straight from the typed
//! `api`, no `serde_json::Value` in between), trying
//! [`Store::try_call_without_waiting`] first for short reads it can run on its
//! async threads, and renders a [`StoreError`] as DynamoDB does.
//!
//! Codemap:
//! - [`api`]: the operations' typed inputs and outputs with DynamoDB's JSON
//!   member names; request decoding with DynamoDB's errors; error bodies.
//! - [`backend`]: the `Backend` trait (catalog, ordered byte rows per table or
//!   index, atomic durable write batches) and `MemoryBackend` for tests.
//! - `engine` (private; its API is [`Store`]): control plane, item operations,
//!   Query/Scan, batches, transactions, TTL sweep, DynamoDB Streams, PartiQL
//!   statements (rewritten into item operations), request-level validation,
//!   and [`Store::call`] dispatch by `X-Amz-Target` operation name.
//! - [`value`]: `AttributeValue`, `Number` (38 digits), JSON wire shape (serde
//!   straight from and to the wire, in DynamoDB's validation order), item size.
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
//! - [`partiql`]: the PartiQL subset (SELECT, INSERT, UPDATE, DELETE) parsed into statements.
//! - [`paging`]: page limit, `LastEvaluatedKey`/`ExclusiveStartKey`, scan segments.
//! - [`capacity`]: read and write capacity units.
//! - [`error`]: `StoreError`, a DynamoDB `__type` plus message (and the
//!   cancellation reasons or item some errors carry).
//!
//! Architecture invariant: nothing here does IO, spawns threads or knows about
//! HTTP — the engine's only effects go through the `Backend` it is given; every
//! input is untrusted, so no input may panic (property tests feed random text
//! to every parser) and recursion is bounded (values nest at most 32 levels,
//! expressions at most `MAX_DEPTH`).
//!
//! Concurrency invariant: every read-check-write (conditions, updates,
//! transactions, batches) runs under the store's striped key locks, so the
//! backend needs only atomic batches, not isolation.

pub mod api;
pub mod backend;
pub mod capacity;
mod deferred;
mod engine;
pub mod error;
pub mod eval;
pub mod expression;
pub mod index;
pub mod key;
pub mod legacy;
pub mod paging;
pub mod partiql;
pub mod stream;
pub mod ttl;
pub mod value;

pub use backend::{Backend, BackendError, MemoryBackend};
pub use engine::{
    table_arn, Answer, BlockingCall, RequestTargets, ShardRecord, Store, StoreConfig, StreamInfo,
    StreamWatch, TableAccess, NON_WAITING_OPERATIONS, OPERATIONS, STREAMS_OPERATIONS,
};
pub use error::{CancellationReason, ErrorDetails, ErrorKind, StoreError, StoreResult};
pub use value::{AttributeType, AttributeValue, Item, Number};
