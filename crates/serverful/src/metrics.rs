//! The server's metrics wired into what `up` and `serve` run: the switch (`--no-metrics`),
//! the layers that count the gateway's requests by route and the AWS endpoint's DynamoDB
//! operations, listeners that count their open connections, and the queue depths read
//! at each scrape.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use serverful_cli::MetricsArgs;
use serverful_metrics::{
    ConnectionGauge, DynamoDbMetrics, GatewayMetrics, Gauge, GaugeFamily, Kind, Metrics,
    OpenConnection, RouteKey, StoreOutcome,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The server's metrics as the flags ask: collected unless `--no-metrics`.
pub(crate) fn from_args(args: MetricsArgs) -> Metrics {
    if args.no_metrics {
        Metrics::disabled()
    } else {
        Metrics::new()
    }
}

/// The gateway's router, counting each request under the API route that answered it
/// (`gateway::MatchedRoute`), or under one series for requests no route answered.
pub(crate) fn count_gateway_requests(
    router: axum::Router,
    metrics: GatewayMetrics,
) -> axum::Router {
    if !metrics.is_enabled() {
        return router;
    }
    router.layer(axum::middleware::from_fn(move |request, next| {
        observe_gateway(metrics.clone(), request, next)
    }))
}

async fn observe_gateway(metrics: GatewayMetrics, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let key = match response
        .extensions()
        .get::<serverful_gateway::MatchedRoute>()
    {
        Some(matched) => RouteKey {
            stack: matched.stack().to_owned(),
            api: matched.api().to_owned(),
            stage: matched.stage().to_owned(),
            route: matched.route_key(),
        },
        None => RouteKey::unmatched(),
    };
    metrics.observe(key, response.status().as_u16(), started.elapsed());
    response
}

/// The AWS endpoint's router, counting DynamoDB and DynamoDB Streams operations (by
/// their `X-Amz-Target`) with their outcome and latency.
pub(crate) fn count_dynamodb_operations(
    router: axum::Router,
    metrics: DynamoDbMetrics,
) -> axum::Router {
    if !metrics.is_enabled() {
        return router;
    }
    router.layer(axum::middleware::from_fn(move |request, next| {
        observe_dynamodb(metrics.clone(), request, next)
    }))
}

async fn observe_dynamodb(metrics: DynamoDbMetrics, request: Request, next: Next) -> Response {
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .and_then(|target| {
            target
                .strip_prefix("DynamoDB_20120810.")
                .or_else(|| target.strip_prefix("DynamoDBStreams_20120810."))
        })
        .map(str::to_owned);
    let Some(operation) = operation else {
        return next.run(request).await;
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let outcome = StoreOutcome::of_status(response.status().as_u16());
    metrics.observe(&operation, outcome, started.elapsed());
    response
}

/// A listener whose connections count in `serverful_open_connections` while they are
/// open.
pub(crate) struct CountedListener<L> {
    inner: L,
    gauge: ConnectionGauge,
}

impl<L> CountedListener<L> {
    pub fn new(inner: L, gauge: ConnectionGauge) -> Self {
        CountedListener { inner, gauge }
    }
}

impl<L: axum::serve::Listener> axum::serve::Listener for CountedListener<L> {
    type Io = CountedIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, address) = self.inner.accept().await;
        let open = self.gauge.open();
        (CountedIo { io, _open: open }, address)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// One connection, counted as open until it is dropped.
pub(crate) struct CountedIo<T> {
    io: T,
    _open: OpenConnection,
}

impl<T> CountedIo<T> {
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.io
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CountedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// SQS's queues as `serverful_sqs_queue_messages{queue,state}`, read at each scrape
/// (`GetQueueAttributes`' approximate counts) rather than counted on every send.
pub(crate) struct QueueDepths(pub Arc<serverful_sqs::Queues>);

/// The attributes each state's count comes from.
const QUEUE_STATES: [(&str, &str); 3] = [
    ("visible", "ApproximateNumberOfMessages"),
    ("in_flight", "ApproximateNumberOfMessagesNotVisible"),
    ("delayed", "ApproximateNumberOfMessagesDelayed"),
];

impl serverful_metrics::Source for QueueDepths {
    fn collect(&self) -> Vec<GaugeFamily> {
        let wanted: Vec<String> = QUEUE_STATES
            .iter()
            .map(|(_, attribute)| (*attribute).to_owned())
            .collect();
        let mut gauges = Vec::new();
        for queue in self.0.list_queues(None) {
            // A queue deleted since the listing has no depth to report.
            let Ok(attributes) = self.0.get_attributes(&queue, &wanted) else {
                continue;
            };
            for (state, attribute) in QUEUE_STATES {
                let value = attributes
                    .get(attribute)
                    .and_then(|count| count.parse::<f64>().ok())
                    .unwrap_or_default();
                gauges.push(Gauge {
                    labels: vec![("queue", queue.clone()), ("state", state.to_owned())],
                    value,
                });
            }
        }
        vec![GaugeFamily {
            name: "serverful_sqs_queue_messages",
            kind: Kind::Gauge,
            help: "Messages in each SQS queue by state: visible, in_flight (received, not deleted), delayed (CloudWatch ApproximateNumberOfMessagesVisible, ...NotVisible, ...Delayed)",
            gauges,
        }]
    }
}

/// Each stream mapping's `IteratorAge` as `serverful_stream_iterator_age_seconds`, read
/// at each scrape from its checkpoint and the stream.
pub(crate) struct StreamAges(pub Arc<serverful_platform::Platform>);

impl serverful_metrics::Source for StreamAges {
    fn collect(&self) -> Vec<GaugeFamily> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs() as i64);
        let mappings = self.0.stream_mappings().clone();
        // Scrapes are encoded on a blocking thread of the server's runtime, which can wait
        // for the mapping list there.
        let ages = match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle.block_on(mappings.iterator_ages(now)),
            Err(_) => Vec::new(),
        };
        let gauges = ages
            .into_iter()
            .map(|age| Gauge {
                labels: vec![
                    ("stack", age.stack),
                    ("function", age.function),
                    ("table", age.table),
                ],
                value: age.age_seconds,
            })
            .collect();
        vec![GaugeFamily {
            name: "serverful_stream_iterator_age_seconds",
            kind: Kind::Gauge,
            help: "Age of the oldest stream record each DynamoDB stream mapping has not yet processed, 0 when it is caught up (CloudWatch IteratorAge)",
            gauges,
        }]
    }
}

/// Asynchronous invocations per function, read at each scrape: events waiting, the age of
/// the oldest, and events given up on (Lambda's `AsyncEventAge` and
/// `AsyncEventsDropped`).
pub(crate) struct AsyncBacklog(pub Arc<serverful_async::AsyncInvocations>);

impl serverful_metrics::Source for AsyncBacklog {
    fn collect(&self) -> Vec<GaugeFamily> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as i64);
        let labels = |stack: &str, function: &str| {
            vec![
                ("stack", stack.to_owned()),
                ("function", function.to_owned()),
            ]
        };
        let backlog = match self.0.backlog() {
            Ok(backlog) => backlog,
            Err(error) => {
                tracing::warn!("metrics: {error}");
                Vec::new()
            }
        };
        let queued = backlog
            .iter()
            .map(|function| Gauge {
                labels: labels(&function.stack, &function.function),
                value: function.events as f64,
            })
            .collect();
        let ages = backlog
            .iter()
            .map(|function| Gauge {
                labels: labels(&function.stack, &function.function),
                value: (now_ms - function.oldest_enqueued_at_ms).max(0) as f64 / 1000.0,
            })
            .collect();
        let dropped = self
            .0
            .dropped()
            .into_iter()
            .map(|(stack, function, count)| Gauge {
                labels: labels(&stack, &function),
                value: count as f64,
            })
            .collect();
        vec![
            GaugeFamily {
                name: "serverful_lambda_async_events_queued",
                help: "Asynchronous invocation events waiting for each function, retries included",
                kind: Kind::Gauge,
                gauges: queued,
            },
            GaugeFamily {
                name: "serverful_lambda_async_event_age_seconds",
                help: "Age of the oldest asynchronous event waiting for each function (CloudWatch AsyncEventAge)",
                kind: Kind::Gauge,
                gauges: ages,
            },
            GaugeFamily {
                name: "serverful_lambda_async_events_dropped",
                help: "Asynchronous events given up on since start-up: expired, out of retries, or their function gone (CloudWatch AsyncEventsDropped)",
                kind: Kind::Counter,
                gauges: dropped,
            },
        ]
    }
}
