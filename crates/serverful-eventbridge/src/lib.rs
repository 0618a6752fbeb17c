//! EventBridge's semantics for Serverful, as pure functions over JSON: event patterns,
//! what a rule's target receives (`Input`, `InputPath`, `InputTransformer`) and how a
//! `PutEvents` entry becomes the event that rules see. No IO, no clock of its own: the
//! service that routes events calls it.

pub mod input;
mod json;
pub mod pattern;
pub mod put_events;

pub use pattern::{EventPattern, PatternError};
