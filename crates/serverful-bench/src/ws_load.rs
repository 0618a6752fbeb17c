//! The WebSocket benchmark's client: many WebSocket connections held open at once (each
//! bound to one of several loopback source addresses, so that 10,000 of them do not run
//! out of local ports), and fan-out through the management API: posters in a closed loop
//! call `POST /@connections/{id}` (PostToConnection, SigV4-signed for `execute-api`) for
//! the connections in turn, and every frame that arrives is timed from its post.
//!
//! Each post's body carries its sequence number and the time it was sent (nanoseconds
//! since the run's start, in this process), so a connection's reader times the delivery
//! without asking anyone. After a run, every acknowledged post must have arrived exactly
//! once: the count and the sum of the sequence numbers are checked.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::sigv4::Signer;

/// The largest latency the histograms hold; anything slower is a timeout anyway.
const HIGHEST_LATENCY_NS: u64 = 120_000_000_000;
/// How long the frames of acknowledged posts may take to arrive after the last post.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The message a client sends to learn its connection id: it names no route, so it goes
/// to `$default`, whose handler answers with `requestContext.connectionId`.
const WHOAMI: &str = r#"{"action":"whoami"}"#;
/// The client's read buffer: small, as frames are small and connections many (the
/// default, 128 KiB, is zero-filled on first read: 1.3 GB for 10,000 connections).
const CLIENT_READ_BUFFER: usize = 4096;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_LATENCY_NS, 3).expect("static histogram bounds")
}

/// A WebSocket stage to connect to.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub address: SocketAddr,
    /// The `Host` header of the handshake.
    pub host: String,
    /// The stage's path, `/production`, or `/`.
    pub path: String,
}

/// How to open the connections.
#[derive(Debug, Clone)]
pub struct OpenConfig {
    pub count: usize,
    /// The first this many connections learn their connection id (the fan-out targets).
    pub identify: usize,
    /// Source addresses, used in turn (each gives about 28,000 local ports).
    pub sources: Vec<Ipv4Addr>,
    /// Handshakes in flight at once.
    pub concurrency: usize,
    /// A connection not open (or not identified) within this is a failure.
    pub timeout: Duration,
}

/// What opening the connections did.
#[derive(Debug)]
pub struct Opened {
    pub fleet: Fleet,
    pub failures: u64,
    pub first_failure: Option<String>,
    pub elapsed: Duration,
    /// Time of each successful handshake (TCP connect to the 101, which waits for the
    /// server's `$connect` function), in milliseconds.
    pub handshake_ms: Vec<f64>,
}

/// The open connections: one reader task each, ended when the fleet is dropped.
#[derive(Debug)]
pub struct Fleet {
    deliveries: Arc<Deliveries>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    /// The connection ids of the identified connections (the fan-out targets).
    pub ids: Vec<String>,
}

impl Fleet {
    /// How many connections are still open (their reader has not seen a close or an
    /// error).
    pub fn alive(&self) -> usize {
        self.deliveries.alive.load(Ordering::Relaxed)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

/// What the readers saw during one fan-out run.
#[derive(Debug)]
struct Tally {
    /// Latency of the frames whose post was sent in the recorded window.
    latency: Histogram<u64>,
    /// Frames that arrived within the recorded window, whenever their post was sent.
    arrived_in_window: u64,
    delivered: u64,
    sequence_sum: u128,
    unexpected: u64,
    first_unexpected: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: histogram(),
            arrived_in_window: 0,
            delivered: 0,
            sequence_sum: 0,
            unexpected: 0,
            first_unexpected: None,
        }
    }
}

/// Shared by the readers: the clock posts are stamped with, the recorded window, and the
/// tally of the run in progress.
#[derive(Debug)]
struct Deliveries {
    base: Instant,
    window_start_ns: AtomicU64,
    window_end_ns: AtomicU64,
    tally: Mutex<Tally>,
    alive: AtomicUsize,
}

impl Deliveries {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A frame arrived: `{sequence} {sent_ns} {padding}`.
    fn arrived(&self, text: &str) {
        let now = self.now_ns();
        let mut fields = text.split(' ');
        let parsed = fields
            .next()
            .and_then(|sequence| sequence.parse::<u64>().ok())
            .zip(fields.next().and_then(|sent| sent.parse::<u64>().ok()));
        let mut tally = self.tally();
        let Some((sequence, sent)) = parsed else {
            tally.unexpected += 1;
            if tally.first_unexpected.is_none() {
                tally.first_unexpected = Some(text.chars().take(120).collect());
            }
            return;
        };
        tally.delivered += 1;
        tally.sequence_sum += u128::from(sequence);
        let start = self.window_start_ns.load(Ordering::Relaxed);
        let end = self.window_end_ns.load(Ordering::Relaxed);
        if (start..end).contains(&now) {
            tally.arrived_in_window += 1;
        }
        if (start..end).contains(&sent) {
            let _ = tally.latency.record(now.saturating_sub(sent).max(1));
        }
    }
}

/// Opens `config.count` connections to `endpoint`, `config.concurrency` at a time.
pub async fn open(endpoint: &Endpoint, config: &OpenConfig) -> Opened {
    let deliveries = Arc::new(Deliveries {
        base: Instant::now(),
        window_start_ns: AtomicU64::new(u64::MAX),
        window_end_ns: AtomicU64::new(u64::MAX),
        tally: Mutex::new(Tally::new()),
        alive: AtomicUsize::new(0),
    });
    struct Shared {
        readers: Vec<tokio::task::JoinHandle<()>>,
        ids: Vec<(usize, String)>,
        failures: u64,
        first_failure: Option<String>,
        handshake_ms: Vec<f64>,
    }
    let shared = Arc::new(Mutex::new(Shared {
        readers: Vec::with_capacity(config.count),
        ids: Vec::new(),
        failures: 0,
        first_failure: None,
        handshake_ms: Vec::with_capacity(config.count),
    }));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..config.concurrency.max(1))
        .map(|_| {
            let (endpoint, config) = (endpoint.clone(), config.clone());
            let (next, shared, deliveries) = (next.clone(), shared.clone(), deliveries.clone());
            tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= config.count {
                        return;
                    }
                    let source = config.sources[index % config.sources.len().max(1)];
                    let identify = index < config.identify;
                    let result =
                        tokio::time::timeout(config.timeout, connect(&endpoint, source, identify))
                            .await
                            .unwrap_or_else(|_| {
                                Err(format!("not open within {:?}", config.timeout))
                            });
                    let mut shared = shared
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    match result {
                        Ok((stream, id, handshake)) => {
                            shared.handshake_ms.push(handshake.as_secs_f64() * 1000.0);
                            if let Some(id) = id {
                                shared.ids.push((index, id));
                            }
                            deliveries.alive.fetch_add(1, Ordering::Relaxed);
                            let deliveries = deliveries.clone();
                            shared
                                .readers
                                .push(tokio::spawn(read_frames(stream, deliveries)));
                        }
                        Err(error) => {
                            shared.failures += 1;
                            if shared.first_failure.is_none() {
                                shared.first_failure =
                                    Some(format!("connection {index} from {source}: {error}"));
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    let elapsed = started.elapsed();
    let mut shared = shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut ids = std::mem::take(&mut shared.ids);
    ids.sort_unstable();
    Opened {
        fleet: Fleet {
            deliveries,
            readers: std::mem::take(&mut shared.readers),
            ids: ids.into_iter().map(|(_, id)| id).collect(),
        },
        failures: shared.failures,
        first_failure: shared.first_failure.take(),
        elapsed,
        handshake_ms: std::mem::take(&mut shared.handshake_ms),
    }
}

type Stream = WebSocketStream<TcpStream>;

/// One connection from `source`: the handshake timed, then (if `identify`) its id asked.
async fn connect(
    endpoint: &Endpoint,
    source: Ipv4Addr,
    identify: bool,
) -> Result<(Stream, Option<String>, Duration), String> {
    let started = Instant::now();
    let socket = TcpSocket::new_v4().map_err(|error| format!("socket: {error}"))?;
    socket
        .bind(SocketAddr::from((source, 0)))
        .map_err(|error| format!("bind {source}: {error}"))?;
    let tcp = socket
        .connect(endpoint.address)
        .await
        .map_err(|error| format!("connect: {error}"))?;
    tcp.set_nodelay(true)
        .map_err(|error| format!("nodelay: {error}"))?;
    let url = format!("ws://{}{}", endpoint.host, endpoint.path);
    let request = url
        .as_str()
        .into_client_request()
        .map_err(|error| format!("request {url}: {error}"))?;
    let config = WebSocketConfig::default()
        .read_buffer_size(CLIENT_READ_BUFFER)
        .write_buffer_size(0);
    let (mut stream, _response) =
        tokio_tungstenite::client_async_with_config(request, tcp, Some(config))
            .await
            .map_err(|error| format!("handshake: {error}"))?;
    let handshake = started.elapsed();
    if !identify {
        return Ok((stream, None, handshake));
    }
    stream
        .send(Message::text(WHOAMI))
        .await
        .map_err(|error| format!("send whoami: {error}"))?;
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => {
                let id = serde_json::from_str::<serde_json::Value>(text.as_str())
                    .ok()
                    .and_then(|value| value["connectionId"].as_str().map(str::to_owned))
                    .ok_or_else(|| format!("whoami answered {text}"))?;
                return Ok((stream, Some(id), handshake));
            }
            Some(Ok(Message::Close(frame))) => return Err(format!("closed: {frame:?}")),
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(format!("read whoami: {error}")),
            None => return Err("closed before answering whoami".to_owned()),
        }
    }
}

/// Reads every frame until the connection ends.
async fn read_frames(mut stream: Stream, deliveries: Arc<Deliveries>) {
    while let Some(message) = stream.next().await {
        match message {
            Ok(Message::Text(text)) => deliveries.arrived(text.as_str()),
            Ok(Message::Binary(bytes)) => deliveries.arrived(&String::from_utf8_lossy(&bytes)),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    deliveries.alive.fetch_sub(1, Ordering::Relaxed);
}

/// Where the management API is and how to sign for it.
#[derive(Debug, Clone)]
pub struct Management {
    pub address: SocketAddr,
    /// The `Host` header.
    pub host: String,
    /// `(access key id, secret access key)`; requests are signed for `execute-api` in
    /// `us-east-1` (a server that checks nothing gets the same requests).
    pub keys: (String, String),
}

/// How long to post, with how many posters.
#[derive(Debug, Clone, Copy)]
pub struct FanoutConfig {
    pub posters: usize,
    /// Posts sent before this much time has passed are not recorded.
    pub warmup: Duration,
    pub duration: Duration,
    /// Bytes of each post's body (at least what the sequence number and time take).
    pub message_bytes: usize,
    /// A post not answered within this is an error.
    pub request_timeout: Duration,
}

/// Whether every acknowledged post arrived exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Held,
    Wrong {
        acknowledged: u64,
        delivered: u64,
        unexpected: u64,
    },
}

/// What one fan-out run measured.
#[derive(Debug, Clone)]
pub struct FanoutRun {
    pub posters: usize,
    pub targets: usize,
    /// Frames that arrived per second of the recorded window.
    pub delivered_per_second: f64,
    /// Posts sent in the recorded window and answered 2xx, per second: above the
    /// delivered rate when the server accepts posts faster than it writes their frames.
    pub acknowledged_per_second: f64,
    /// Post sent to frame read by the client, of the posts sent in the recorded window.
    pub delivery_p50_us: f64,
    pub delivery_p99_us: f64,
    pub delivery_max_us: f64,
    /// Post sent to its answer.
    pub post_p50_us: f64,
    pub post_p99_us: f64,
    /// Failed posts (transport errors, timeouts, answers outside 2xx), whole run.
    pub errors: u64,
    pub first_error: Option<String>,
    /// Posts answered 2xx over the whole run, warm-up included (what CPU is divided by).
    pub acknowledged: u64,
    pub check: Check,
    /// CPU seconds of the server (and its children) and of this process over the whole
    /// run; set by the driver.
    pub server_cpu_s: Option<f64>,
    pub client_cpu_s: Option<f64>,
}

/// What one poster did.
#[derive(Default)]
struct PosterTally {
    acknowledged: u64,
    acknowledged_in_window: u64,
    sequence_sum: u128,
    errors: u64,
    first_error: Option<String>,
}

/// Posts to `targets` (connection ids of `fleet`) in turn from `config.posters` posters,
/// each with one post in flight on its own keep-alive connection.
pub async fn fanout(
    fleet: &Fleet,
    management: &Management,
    config: FanoutConfig,
) -> Result<FanoutRun, String> {
    let targets: Arc<Vec<String>> = Arc::new(fleet.ids.clone());
    if targets.is_empty() {
        return Err("no connection learnt its id: nothing to post to".to_owned());
    }
    let deliveries = fleet.deliveries.clone();
    *deliveries.tally() = Tally::new();
    let start = deliveries.now_ns();
    let nanos = |duration: Duration| u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    let window_start = start + nanos(config.warmup);
    let window_end = window_start + nanos(config.duration);
    deliveries
        .window_start_ns
        .store(window_start, Ordering::Relaxed);
    deliveries
        .window_end_ns
        .store(window_end, Ordering::Relaxed);

    let next = Arc::new(AtomicU64::new(0));
    let posters: Vec<_> = (0..config.posters.max(1))
        .map(|_| {
            let (targets, deliveries, next) = (targets.clone(), deliveries.clone(), next.clone());
            let management = management.clone();
            tokio::spawn(async move {
                let mut poster = Poster {
                    signer: Signer::new(
                        &management.keys.0,
                        &management.keys.1,
                        "us-east-1",
                        "execute-api",
                    ),
                    management,
                    sender: None,
                };
                let mut tally = PosterTally::default();
                let mut post_latency = histogram();
                let padding = "x".repeat(config.message_bytes);
                loop {
                    let sent = deliveries.now_ns();
                    if sent >= window_end {
                        return (tally, post_latency);
                    }
                    let sequence = next.fetch_add(1, Ordering::Relaxed);
                    let target = &targets[(sequence % targets.len() as u64) as usize];
                    let mut body = format!("{sequence} {sent} ");
                    let pad = config.message_bytes.saturating_sub(body.len());
                    body.push_str(&padding[..pad]);
                    let result =
                        tokio::time::timeout(config.request_timeout, poster.post(target, body))
                            .await
                            .unwrap_or_else(|_| {
                                Err(format!("no answer within {:?}", config.request_timeout))
                            });
                    match result {
                        Ok(()) => {
                            tally.acknowledged += 1;
                            tally.sequence_sum += u128::from(sequence);
                            if sent >= window_start {
                                tally.acknowledged_in_window += 1;
                                let took = deliveries.now_ns().saturating_sub(sent).max(1);
                                let _ = post_latency.record(took);
                            }
                        }
                        Err(error) => {
                            // The connection may be broken: the next post dials again.
                            poster.sender = None;
                            tally.errors += 1;
                            if tally.first_error.is_none() {
                                tally.first_error = Some(error);
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let mut acknowledged = 0;
    let mut acknowledged_in_window = 0;
    let mut sequence_sum = 0u128;
    let mut errors = 0;
    let mut first_error = None;
    let mut post_latency = histogram();
    for poster in posters {
        let (tally, latency) = poster
            .await
            .map_err(|error| format!("a poster panicked: {error}"))?;
        acknowledged += tally.acknowledged;
        acknowledged_in_window += tally.acknowledged_in_window;
        sequence_sum += tally.sequence_sum;
        errors += tally.errors;
        first_error = first_error.or(tally.first_error);
        let _ = post_latency.add(&latency);
    }

    // Every acknowledged post's frame, then nothing more.
    let drain_deadline = Instant::now() + DRAIN_TIMEOUT;
    while deliveries.tally().delivered < acknowledged && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let tally = deliveries.tally();
    let check = if tally.delivered == acknowledged
        && tally.sequence_sum == sequence_sum
        && tally.unexpected == 0
    {
        Check::Held
    } else {
        Check::Wrong {
            acknowledged,
            delivered: tally.delivered,
            unexpected: tally.unexpected,
        }
    };
    if let (Some(unexpected), None) = (&tally.first_unexpected, &first_error) {
        first_error = Some(format!("unexpected frame: {unexpected}"));
    }
    let us = |ns: u64| ns as f64 / 1000.0;
    let quantile = |histogram: &Histogram<u64>, q: f64| {
        if histogram.is_empty() {
            f64::NAN
        } else {
            us(histogram.value_at_quantile(q))
        }
    };
    Ok(FanoutRun {
        posters: config.posters.max(1),
        targets: targets.len(),
        delivered_per_second: tally.arrived_in_window as f64 / config.duration.as_secs_f64(),
        acknowledged_per_second: acknowledged_in_window as f64 / config.duration.as_secs_f64(),
        delivery_p50_us: quantile(&tally.latency, 0.5),
        delivery_p99_us: quantile(&tally.latency, 0.99),
        delivery_max_us: if tally.latency.is_empty() {
            f64::NAN
        } else {
            us(tally.latency.max())
        },
        post_p50_us: quantile(&post_latency, 0.5),
        post_p99_us: quantile(&post_latency, 0.99),
        errors,
        first_error,
        acknowledged,
        check,
        server_cpu_s: None,
        client_cpu_s: None,
    })
}

/// One poster's keep-alive connection to the management API.
struct Poster {
    management: Management,
    signer: Signer,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Poster {
    /// `POST /@connections/{id}` with `body`; an answer outside 2xx is an error.
    async fn post(&mut self, connection_id: &str, body: String) -> Result<(), String> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            let stream = TcpStream::connect(self.management.address)
                .await
                .map_err(|error| format!("connect: {error}"))?;
            stream
                .set_nodelay(true)
                .map_err(|error| format!("nodelay: {error}"))?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|error| format!("handshake: {error}"))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        // Sent with the id's `=` percent-encoded, as the SDKs send it; signed over the
        // path encoded once more, as SigV4 wants for every service but S3.
        let encoded_id = encode(connection_id);
        let path = format!("/@connections/{encoded_id}");
        let canonical_path = format!("/%40connections/{}", encode(&encoded_id));
        let signature = self.signer.sign_rest(
            "POST",
            &self.management.host,
            &canonical_path,
            &[],
            body.as_bytes(),
            time::OffsetDateTime::now_utc(),
        );
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, &self.management.host)
            .header(hyper::header::CONTENT_TYPE, "application/octet-stream")
            .header("x-amz-date", signature.amz_date)
            .header(hyper::header::AUTHORIZATION, signature.authorization)
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| format!("request: {error}"))?;
        let sender = self.sender.as_mut().ok_or("connected above")?;
        sender
            .ready()
            .await
            .map_err(|error| format!("connection: {error}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| format!("post: {error}"))?;
        let status = response.status().as_u16();
        let answer = response
            .into_body()
            .collect()
            .await
            .map_err(|error| format!("answer: {error}"))?
            .to_bytes();
        // API Gateway answers 200; serverless-offline answers 204.
        if !(200..300).contains(&status) {
            return Err(format!(
                "PostToConnection answered {status}: {}",
                String::from_utf8_lossy(&answer)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ));
        }
        Ok(())
    }
}

/// Percent-encodes every byte outside SigV4's unreserved set.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_sigv4() {
        assert_eq!(encode("L0SM9cOFvHcCIhw="), "L0SM9cOFvHcCIhw%3D");
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(encode("%3D"), "%253D");
    }

    #[test]
    fn times_frames_of_the_window() {
        let deliveries = Deliveries {
            base: Instant::now(),
            window_start_ns: AtomicU64::new(0),
            window_end_ns: AtomicU64::new(u64::MAX),
            tally: Mutex::new(Tally::new()),
            alive: AtomicUsize::new(0),
        };
        deliveries.arrived("7 0 xxxx");
        deliveries.arrived("8 0 ");
        deliveries.arrived("garbage");
        let tally = deliveries.tally();
        assert_eq!(tally.delivered, 2);
        assert_eq!(tally.sequence_sum, 15);
        assert_eq!(tally.arrived_in_window, 2);
        assert_eq!(tally.latency.len(), 2);
        assert_eq!(tally.unexpected, 1);
        assert_eq!(tally.first_unexpected.as_deref(), Some("garbage"));
    }
}
