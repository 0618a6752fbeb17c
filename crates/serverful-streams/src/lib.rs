//! DynamoDB Streams → functions: Lambda's event-source mappings for streams, run in process.
//!
//! A [`Mapping`] (from a SAM `DynamoDB` event, an `AWS::Lambda::EventSourceMapping` or the
//! Lambda API) names a table's stream and a function. [`StreamMappings`] runs one consumer
//! per enabled mapping: it reads the table's shard from the store directly
//! ([`serverful_store::Store::read_stream`]), is woken by the store the moment new records
//! are durable ([`serverful_store::Store::watch_stream`]), filters them
//! ([`serverful_eventbridge::EventPattern`], Lambda's filter language), calls the function
//! through [`serverful_invoke::Invoke`] with `{"Records": [...]}` in AWS's shape, and moves
//! its checkpoint ([`CheckpointStore`]) only past batches that are done.
//!
//! Delivery is at least once and in order: a failing batch blocks its shard until it
//! succeeds, its records grow older than `MaximumRecordAgeInSeconds` or it exhausts
//! `MaximumRetryAttempts` (bisected first when `BisectBatchOnFunctionError` is set); then
//! the failure destination ([`FailureDestination`]) gets AWS's record and the shard moves on.
//!
//! Architecture invariant: this crate knows neither the platform nor the template; it gets
//! mappings, a store, a way to call functions and a way to reach destinations.

mod checkpoint;
mod consumer;
mod destination;
mod event;
mod lag;
mod mapping;
mod mappings;

pub use checkpoint::{
    Checkpoint, CheckpointError, CheckpointStore, MemoryCheckpoints, SqliteCheckpoints, WindowState,
};
pub use destination::{DestinationError, FailureDestination, NoDestinations};
pub use lag::IteratorAge;
pub use mapping::{table_of_stream_arn, Mapping, MappingError, StartingPosition};
pub use mappings::{StreamMappings, StreamsSettings};
