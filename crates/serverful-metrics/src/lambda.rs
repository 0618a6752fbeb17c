//! Functions' series, named after Lambda's CloudWatch metrics: invocations, errors by
//! type, throttles, timeouts, duration and init duration, cold starts, concurrent
//! executions.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::labels::{encode_pairs, FunctionLabels};

/// Upper bounds of the duration buckets, in seconds: from a millisecond to Lambda's
/// longest timeout (15 minutes).
const DURATION_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 900.0,
];

/// Upper bounds of the init duration buckets, in seconds, up to Lambda's 10-second init
/// limit.
const INIT_BUCKETS: [f64; 11] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The `errorType`s Lambda and Serverful's runtimes report themselves, kept as labels; a
/// function's own error types (exception classes, which a function can make up without
/// bound) are all counted as `Function`.
const RUNTIME_ERROR_TYPES: [&str; 15] = [
    "Function.ResponseSizeTooLarge",
    "Runtime.BadFunctionCode",
    "Runtime.CallbackHandlerDeprecated",
    "Runtime.ExitError",
    "Runtime.HandlerNotFound",
    "Runtime.ImportModuleError",
    "Runtime.InvalidEntrypoint",
    "Runtime.MalformedHandlerName",
    "Runtime.MarshalError",
    "Runtime.OutOfMemory",
    "Runtime.UnhandledPromiseRejection",
    "Runtime.Unknown",
    "Runtime.UnmarshalError",
    "Runtime.UserCodeSyntaxError",
    "Sandbox.Timedout",
];

/// The `error_type` label of an error whose Lambda `errorType` is `error_type`: the
/// runtime's own types as they are, anything else `Function`.
pub fn error_type_label(error_type: &str) -> &str {
    match RUNTIME_ERROR_TYPES
        .iter()
        .find(|known| **known == error_type)
    {
        Some(known) => known,
        None => "Function",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct ErrorLabels {
    stack: String,
    function: String,
    error_type: String,
}

impl EncodeLabelSet for ErrorLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        encode_pairs(
            encoder,
            &[
                ("stack", &self.stack),
                ("function", &self.function),
                ("error_type", &self.error_type),
            ],
        )
    }
}

/// Makes the histograms of a family with fixed buckets.
#[derive(Clone, Copy)]
struct Buckets(&'static [f64]);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

type Histograms = Family<FunctionLabels, Histogram, Buckets>;

#[derive(Clone)]
pub(crate) struct Families {
    invocations: Family<FunctionLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    throttles: Family<FunctionLabels, Counter>,
    timeouts: Family<FunctionLabels, Counter>,
    cold_starts: Family<FunctionLabels, Counter>,
    concurrent: Family<FunctionLabels, Gauge>,
    duration: Histograms,
    init_duration: Histograms,
}

impl Families {
    pub fn register(registry: &mut Registry) -> Families {
        let families = Families {
            invocations: Family::default(),
            errors: Family::default(),
            throttles: Family::default(),
            timeouts: Family::default(),
            cold_starts: Family::default(),
            concurrent: Family::default(),
            duration: Family::new_with_constructor(Buckets(&DURATION_BUCKETS)),
            init_duration: Family::new_with_constructor(Buckets(&INIT_BUCKETS)),
        };
        registry.register(
            "serverful_lambda_invocations",
            "Invocations of each function that ran, successful or not (CloudWatch Invocations)",
            families.invocations.clone(),
        );
        registry.register(
            "serverful_lambda_errors",
            "Invocations that ended in an error, by Lambda error type: Function for the function's own, Runtime.* and Sandbox.* for the runtime's, Timeout (CloudWatch Errors)",
            families.errors.clone(),
        );
        registry.register(
            "serverful_lambda_throttles",
            "Invocation requests refused at the function's concurrency limit (CloudWatch Throttles)",
            families.throttles.clone(),
        );
        registry.register(
            "serverful_lambda_timeouts",
            "Invocations stopped at the function's Timeout",
            families.timeouts.clone(),
        );
        registry.register(
            "serverful_lambda_cold_starts",
            "Function instances started, for a request or warmed ahead of one",
            families.cold_starts.clone(),
        );
        registry.register(
            "serverful_lambda_concurrent_executions",
            "Invocations running now (CloudWatch ConcurrentExecutions)",
            families.concurrent.clone(),
        );
        registry.register(
            "serverful_lambda_duration_seconds",
            "Time the function spent on each invocation (CloudWatch Duration)",
            families.duration.clone(),
        );
        registry.register(
            "serverful_lambda_init_duration_seconds",
            "Time each successful cold start took to be ready (the REPORT line's Init Duration)",
            families.init_duration.clone(),
        );
        families
    }

    pub fn function(&self, stack: &str, function: &str) -> FunctionMetrics {
        let labels = FunctionLabels {
            stack: stack.to_owned(),
            function: function.to_owned(),
        };
        FunctionMetrics(Some(Arc::new(FunctionSeries {
            invocations: self.invocations.get_or_create_owned(&labels),
            throttles: self.throttles.get_or_create_owned(&labels),
            timeouts: self.timeouts.get_or_create_owned(&labels),
            cold_starts: self.cold_starts.get_or_create_owned(&labels),
            concurrent: self.concurrent.get_or_create_owned(&labels),
            duration: self.duration.get_or_create_owned(&labels),
            init_duration: self.init_duration.get_or_create_owned(&labels),
            errors: self.errors.clone(),
            labels,
        })))
    }
}

/// One function's series, taken once when the function is set up: counting an
/// invocation is then atomic adds and a histogram observation. Does nothing when metrics
/// are off (the default).
#[derive(Clone, Default)]
pub struct FunctionMetrics(Option<Arc<FunctionSeries>>);

impl std::fmt::Debug for FunctionMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(series) => f
                .debug_tuple("FunctionMetrics")
                .field(&series.labels)
                .finish(),
            None => f.write_str("FunctionMetrics(disabled)"),
        }
    }
}

struct FunctionSeries {
    labels: FunctionLabels,
    invocations: Counter,
    throttles: Counter,
    timeouts: Counter,
    cold_starts: Counter,
    concurrent: Gauge,
    duration: Histogram,
    init_duration: Histogram,
    /// Errors are rare and their type is known only when they happen: their series is
    /// looked up then.
    errors: Family<ErrorLabels, Counter>,
}

/// How one invocation request ended, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// The function answered.
    Success,
    /// The function or its runtime failed; Lambda's `errorType` (bounded by
    /// [`error_type_label`]).
    Error { error_type: &'a str },
    /// The function ran past its `Timeout`.
    Timeout,
    /// The function was at its concurrency limit: the request never ran.
    Throttled,
}

impl FunctionMetrics {
    /// Counts the function as running one more invocation until the guard is dropped
    /// (`ConcurrentExecutions`).
    pub fn running(&self) -> Running {
        if let Some(series) = &self.0 {
            series.concurrent.inc();
        }
        Running(self.0.clone())
    }

    /// Counts a finished request: an invocation (and its error) unless it was throttled,
    /// and its duration when it ran.
    pub fn finished(&self, outcome: Outcome<'_>, duration: Option<Duration>) {
        let Some(series) = &self.0 else {
            return;
        };
        let error_type = match outcome {
            Outcome::Throttled => {
                series.throttles.inc();
                return;
            }
            Outcome::Success => None,
            Outcome::Error { error_type } => Some(error_type_label(error_type)),
            Outcome::Timeout => {
                series.timeouts.inc();
                Some("Timeout")
            }
        };
        series.invocations.inc();
        if let Some(duration) = duration {
            series.duration.observe(duration.as_secs_f64());
        }
        if let Some(error_type) = error_type {
            series
                .errors
                .get_or_create(&ErrorLabels {
                    stack: series.labels.stack.clone(),
                    function: series.labels.function.clone(),
                    error_type: error_type.to_owned(),
                })
                .inc();
        }
    }

    /// Counts an instance start; `init` is how long a successful one took.
    pub fn cold_start(&self, init: Option<Duration>) {
        if let Some(series) = &self.0 {
            series.cold_starts.inc();
            if let Some(init) = init {
                series.init_duration.observe(init.as_secs_f64());
            }
        }
    }
}

/// One invocation running, counted in `serverful_lambda_concurrent_executions` until
/// dropped.
#[must_use = "the invocation counts as running until this is dropped"]
pub struct Running(Option<Arc<FunctionSeries>>);

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Running")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(series) = &self.0 {
            series.concurrent.dec();
        }
    }
}
