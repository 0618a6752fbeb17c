//! The gateway's series: requests by API route and status, and their latency.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::labels::encode_pairs;

/// The `route` label of requests that matched no API route (a 404, a function URL, a
/// WebSocket upgrade or a website): one series for all of them, whatever their path.
pub const UNMATCHED_ROUTE: &str = "$unmatched";

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

/// Which route of which API a request took: the route key (`GET /items/{id}`), never the
/// raw path, so the number of series stays that of the routes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Default)]
pub struct RouteKey {
    pub stack: String,
    /// The API's logical id (`ServerlessRestApi`, `MyHttpApi`).
    pub api: String,
    pub stage: String,
    /// `METHOD /path/{template}`, `$default`, or [`UNMATCHED_ROUTE`].
    pub route: String,
}

impl RouteKey {
    /// The key of requests that matched no route.
    pub fn unmatched() -> RouteKey {
        RouteKey {
            route: UNMATCHED_ROUTE.to_owned(),
            ..RouteKey::default()
        }
    }

    fn pairs(&self) -> [(&str, &str); 4] {
        [
            ("stack", &self.stack),
            ("api", &self.api),
            ("stage", &self.stage),
            ("route", &self.route),
        ]
    }
}

impl EncodeLabelSet for RouteKey {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        encode_pairs(encoder, &self.pairs())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct StatusLabels {
    route: RouteKey,
    status: u16,
}

impl EncodeLabelSet for StatusLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        self.route.encode(encoder)?;
        let status = self.status.to_string();
        encode_pairs(encoder, &[("status", &status)])
    }
}

#[derive(Clone, Copy)]
struct LatencyBuckets;

impl MetricConstructor<Histogram> for LatencyBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(LATENCY_BUCKETS.iter().copied())
    }
}

#[derive(Clone)]
pub(crate) struct Families {
    requests: Family<StatusLabels, Counter>,
    duration: Family<RouteKey, Histogram, LatencyBuckets>,
}

impl Families {
    pub fn register(registry: &mut Registry) -> Arc<Families> {
        let families = Families {
            requests: Family::default(),
            duration: Family::new_with_constructor(LatencyBuckets),
        };
        registry.register(
            "serverful_gateway_requests",
            "Requests the API gateway answered, by API route and HTTP status (CloudWatch Count, 4XXError, 5XXError)",
            families.requests.clone(),
        );
        registry.register(
            "serverful_gateway_request_duration_seconds",
            "Time from a request's arrival to its response's head, by API route (CloudWatch Latency)",
            families.duration.clone(),
        );
        Arc::new(families)
    }
}

/// The gateway's handle; does nothing when metrics are off.
#[derive(Clone, Default)]
pub struct GatewayMetrics(pub(crate) Option<Arc<Families>>);

impl std::fmt::Debug for GatewayMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("GatewayMetrics")
            .field(&self.0.is_some())
            .finish()
    }
}

impl GatewayMetrics {
    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Counts one answered request of `route` with `status`, which took `elapsed`.
    pub fn observe(&self, route: RouteKey, status: u16, elapsed: Duration) {
        let Some(families) = &self.0 else {
            return;
        };
        families
            .duration
            .get_or_create(&route)
            .observe(elapsed.as_secs_f64());
        families
            .requests
            .get_or_create(&StatusLabels { route, status })
            .inc();
    }
}
