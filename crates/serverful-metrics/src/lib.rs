//! The server's Prometheus metrics: one registry for the whole server, typed handles per
//! area that the crates doing the work hold, and the text format `/metrics` serves.
//!
//! [`Metrics`] is the cheap, cloneable handle made once at start-up (or
//! [`Metrics::disabled`], which makes every handle it gives a no-op). Each area takes its
//! own handle from it: the runtime one [`FunctionMetrics`] per stack and function (made
//! when the function is set up, so an invocation is a few atomic adds and one histogram
//! observation, with no label lookup), the gateway a [`GatewayMetrics`], the AWS endpoint
//! a [`DynamoDbMetrics`], each listener a [`ConnectionGauge`]. What is cheaper to read
//! than to count (queue depths, asynchronous events waiting, the process's memory) is read
//! at scrape time by [`Source`]s the binary registers.
//!
//! Names follow Prometheus's conventions (base units, `_total` counters) and map onto
//! Lambda's CloudWatch metrics: `Invocations` is `serverful_lambda_invocations_total`,
//! `Errors` `serverful_lambda_errors_total`, `Duration` `serverful_lambda_duration_seconds`,
//! and so on (the README has the table).
//!
//! Architecture invariant: this crate knows no other Serverful crate, no HTTP and no
//! clock of its own; callers pass durations and labels in.

mod connections;
mod gateway;
mod labels;
mod lambda;
mod process;
mod sources;
mod store;

use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::registry::Registry;

pub use connections::{ConnectionGauge, OpenConnection};
pub use gateway::{GatewayMetrics, RouteKey, UNMATCHED_ROUTE};
pub use lambda::{error_type_label, FunctionMetrics, Outcome, Running};
pub use sources::{Gauge, GaugeFamily, Kind, Source};
pub use store::{DynamoDbMetrics, StoreOutcome};

/// The `Content-Type` of [`Metrics::encode`]'s text: Prometheus's text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The server's metrics, or nothing when they are turned off. Clones share one registry.
#[derive(Clone, Default)]
pub struct Metrics(Option<Arc<Inner>>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("enabled", &self.is_enabled())
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// Everything registered; sources are added after start-up, so it is behind a lock
    /// that only registration and scrapes take.
    registry: Mutex<Registry>,
    lambda: lambda::Families,
    gateway: Arc<gateway::Families>,
    dynamodb: Arc<store::Families>,
    connections: connections::Family,
}

impl Metrics {
    /// Metrics collected and encoded, with the process's own metrics (memory, CPU, open
    /// files) read from `/proc/self` at each scrape.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let lambda = lambda::Families::register(&mut registry);
        let gateway = gateway::Families::register(&mut registry);
        let dynamodb = store::Families::register(&mut registry);
        let connections = connections::Family::register(&mut registry);
        registry.register_collector(Box::new(process::ProcessCollector));
        Metrics(Some(Arc::new(Inner {
            registry: Mutex::new(registry),
            lambda,
            gateway,
            dynamodb,
            connections,
        })))
    }

    /// No metrics: every handle it gives does nothing, and [`Metrics::encode`] is `None`.
    pub fn disabled() -> Metrics {
        Metrics(None)
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// The series of one function of one stack. Every version of a stack gets the same
    /// series, so a deploy does not reset them.
    pub fn function(&self, stack: &str, function: &str) -> FunctionMetrics {
        match &self.0 {
            Some(inner) => inner.lambda.function(stack, function),
            None => FunctionMetrics::default(),
        }
    }

    /// The gateway's requests by route and status, and their latency.
    pub fn gateway(&self) -> GatewayMetrics {
        GatewayMetrics(self.0.as_ref().map(|inner| inner.gateway.clone()))
    }

    /// DynamoDB operations on the AWS endpoint, by operation and outcome.
    pub fn dynamodb(&self) -> DynamoDbMetrics {
        DynamoDbMetrics(self.0.as_ref().map(|inner| inner.dynamodb.clone()))
    }

    /// The open connections of the listener named `listener` (`gateway`, `aws`, `admin`).
    pub fn connections(&self, listener: &str) -> ConnectionGauge {
        match &self.0 {
            Some(inner) => inner.connections.gauge(listener),
            None => ConnectionGauge::default(),
        }
    }

    /// Adds metrics read at each scrape (queue depths, asynchronous events waiting).
    /// Nothing happens when metrics are off.
    pub fn register_source(&self, source: Arc<dyn Source>) {
        if let Some(inner) = &self.0 {
            inner
                .registry
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .register_collector(Box::new(sources::SourceCollector(source)));
        }
    }

    /// Every metric in Prometheus's text format ([`CONTENT_TYPE`]); `None` when metrics
    /// are off. It reads `/proc` and asks every [`Source`], which may block on storage:
    /// call it off the async threads (`spawn_blocking`).
    pub fn encode(&self) -> Option<String> {
        let inner = self.0.as_ref()?;
        let registry = inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut text = String::with_capacity(64 * 1024);
        // Writing into a String cannot fail; an encoder error would be a bug in a metric,
        // and a scrape with what was written is then more useful than none.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
        Some(text)
    }
}

#[cfg(test)]
mod tests;
