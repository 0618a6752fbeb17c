//! DynamoDB semantics for Serverful, independent of storage and transport.
//!
//! This crate knows DynamoDB's data model and rules — attribute values and their
//! validation, the order of keys, the expression languages and how they evaluate
//! against an item — and nothing about HTTP, JSON framing of whole requests, or
//! where items are kept. Backends (SQLite, PostgreSQL) build on it; the AWS edge
//! converts wire JSON with [`value::AttributeValue::from_json`] and renders
//! [`error::StoreError`].

pub mod error;
pub mod eval;
pub mod expression;
pub mod key;
pub mod value;

pub use error::{ErrorKind, StoreError, StoreResult};
pub use value::{AttributeType, AttributeValue, Item, Number};
