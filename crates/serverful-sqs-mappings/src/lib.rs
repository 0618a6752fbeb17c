//! SQS queues → functions: Lambda's event-source mappings for queues, run in process.
//!
//! A [`QueueMapping`] (from a SAM `SQS` event, an `AWS::Lambda::EventSourceMapping` or the
//! Lambda API) names a queue and a function. [`QueueMappings`] runs one poller per enabled
//! mapping: it long-polls the queue through a [`QueueClient`] (so an idle mapping costs a
//! parked future, and a new message starts the function as soon as the queue wakes the
//! poll), gathers batches (`BatchSize`, `MaximumBatchingWindowInSeconds`, Lambda's 6 MB
//! payload limit), deletes the messages no filter matches
//! ([`serverful_eventbridge::EventPattern`], Lambda's filter language), and calls the
//! function through [`serverful_invoke::Invoke`] with `{"Records": [...]}` in AWS's shape,
//! up to `ScalingConfig.MaximumConcurrency` batches at once.
//!
//! Delivery is at least once, and SQS's own visibility rules do the retrying: a batch that
//! succeeded is deleted; a failed one (or the failed items of a partial batch response) is
//! left in flight and reappears after the queue's visibility timeout, until the queue's
//! redrive policy moves it to its dead-letter queue. A message is deleted only after an
//! invocation that succeeded for it, or because no filter matched it.
//!
//! Architecture invariant: this crate knows neither the platform, the template nor the SQS
//! engine; it gets mappings, a [`QueueClient`] and a way to call functions. The server
//! adapts its queue engine to [`QueueClient`].

mod client;
mod event;
mod mapping;
mod mappings;
mod poller;

pub use client::{MessageAttributeValue, QueueClient, QueueError, QueueInfo, ReceivedMessage};
pub use event::{batch_event, record_of, PAYLOAD_LIMIT};
pub use mapping::{queue_name_of_arn, MappingError, QueueArn, QueueMapping};
pub use mappings::{QueueMappings, QueueSettings};
