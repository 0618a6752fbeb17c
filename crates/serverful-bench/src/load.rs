//! The load generator: N keep-alive HTTP/1.1 connections to one loopback address, each
//! sending its next request as soon as the previous answer has been read in full (a
//! closed loop), recording every latency in a histogram. Anything that goes wrong on the
//! wire is counted as an error, never a panic.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;

/// The largest latency the histograms hold; anything slower is a timeout anyway.
const HIGHEST_LATENCY_NS: u64 = 120_000_000_000;

/// How long a connection waits before it dials again after a failed connect, so that a
/// server that is gone does not turn the generator into a busy loop.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);

/// What to send, where, and for how long.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// A loopback address (the generator refuses any other).
    pub address: SocketAddr,
    /// Path and query of every request, such as `/rust`.
    pub path: String,
    pub connections: usize,
    /// Requests before this much time has passed are sent but not recorded.
    pub warmup: Duration,
    /// How long the recorded part lasts.
    pub duration: Duration,
    /// A request not answered within this is an error, and its connection is replaced.
    pub request_timeout: Duration,
    /// When set, a response whose body differs is an error.
    pub expect_body: Option<Bytes>,
    /// The `Host` header [default: the address], for a server that routes by host name.
    pub host: Option<String>,
    /// When not empty, every body must be one of these (two versions of an app whose
    /// answers differ): each is counted, and so is each change from one to another on a
    /// connection.
    pub accept_bodies: Vec<Bytes>,
    /// Ends the run early when set (the recorded part then lasts until it is set).
    pub stop: Option<Arc<AtomicBool>>,
}

/// Everything one run measured.
#[derive(Debug)]
pub struct LoadResult {
    /// Latencies of the successful requests of the recorded part, in nanoseconds.
    pub latencies_ns: Histogram<u64>,
    /// Failed requests of the recorded part, by kind (`status 502`, `timeout`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Failed requests of the warm-up.
    pub warmup_errors: u64,
    /// One error message, to say what went wrong.
    pub first_error: Option<String>,
    /// The length of the recorded part.
    pub measured: Duration,
    /// Successful requests of the whole run, warm-up included: what the servers' CPU time
    /// over the whole run is divided by.
    pub completed: u64,
    /// With `accept_bodies`: how many answers had each body, in their order.
    pub body_counts: Vec<u64>,
    /// With `accept_bodies`: the most changes of body one connection saw.
    pub most_switches: u64,
}

impl LoadResult {
    pub fn successes(&self) -> u64 {
        self.latencies_ns.len()
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn requests_per_second(&self) -> f64 {
        let seconds = self.measured.as_secs_f64();
        if seconds > 0.0 {
            self.successes() as f64 / seconds
        } else {
            0.0
        }
    }

    /// A latency quantile in microseconds (0 when nothing succeeded).
    pub fn quantile_us(&self, quantile: f64) -> f64 {
        if self.latencies_ns.is_empty() {
            return 0.0;
        }
        self.latencies_ns.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// The one-line JSON that `bench-load` prints and the driver reads back.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.successes(),
            "errors": self.error_count(),
            "error_kinds": self.errors,
            "warmup_errors": self.warmup_errors,
            "first_error": self.first_error,
            "seconds": self.measured.as_secs_f64(),
            "completed": self.completed,
            "requests_per_second": self.requests_per_second(),
            "p50_us": self.quantile_us(0.50),
            "p90_us": self.quantile_us(0.90),
            "p99_us": self.quantile_us(0.99),
            "max_us": self.latencies_ns.max() as f64 / 1000.0,
        })
    }
}

/// Why a configuration cannot run.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Reads `http://127.0.0.1:PORT/path` into an address and a path; only loopback
/// addresses are accepted, since this machine's own servers are the only targets.
pub fn parse_loopback_url(url: &str) -> Result<(SocketAddr, String), ConfigError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| ConfigError(format!("`{url}` is not an http:// URL")))?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let address: SocketAddr = authority.parse().map_err(|_| {
        ConfigError(format!(
            "`{authority}` is not an IP:PORT address (write 127.0.0.1, not localhost)"
        ))
    })?;
    if !address.ip().is_loopback() {
        return Err(ConfigError(format!(
            "{address} is not a loopback address: the benchmark only loads this machine"
        )));
    }
    Ok((address, path.to_owned()))
}

/// What one connection saw.
struct Tally {
    latencies_ns: Histogram<u64>,
    errors: BTreeMap<String, u64>,
    warmup_errors: u64,
    first_error: Option<String>,
    completed: u64,
    body_counts: Vec<u64>,
    last_body: Option<usize>,
    switches: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latencies_ns: new_histogram(),
            errors: BTreeMap::new(),
            warmup_errors: 0,
            first_error: None,
            completed: 0,
            body_counts: Vec::new(),
            last_body: None,
            switches: 0,
        }
    }

    fn error(&mut self, recorded: bool, kind: String, message: String) {
        if recorded {
            *self.errors.entry(kind).or_default() += 1;
        } else {
            self.warmup_errors += 1;
        }
        self.first_error.get_or_insert(message);
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_LATENCY_NS, 3)
        .expect("the histogram bounds are constants that hdrhistogram accepts")
}

/// Runs the load and returns what it measured. Ends by itself after warm-up + duration
/// + one request timeout at most.
pub async fn run(config: LoadConfig) -> Result<LoadResult, ConfigError> {
    if !config.address.ip().is_loopback() {
        return Err(ConfigError(format!(
            "{} is not a loopback address",
            config.address
        )));
    }
    if config.connections == 0 {
        return Err(ConfigError("at least one connection is needed".to_owned()));
    }
    let start = Instant::now();
    let record_from = start + config.warmup;
    let stop_at = record_from + config.duration;
    let config = Arc::new(config);
    let tasks: Vec<_> = (0..config.connections)
        .map(|_| tokio::spawn(drive_connection(config.clone(), record_from, stop_at)))
        .collect();
    let mut result = LoadResult {
        latencies_ns: new_histogram(),
        errors: BTreeMap::new(),
        warmup_errors: 0,
        first_error: None,
        measured: config.duration,
        completed: 0,
        body_counts: vec![0; config.accept_bodies.len()],
        most_switches: 0,
    };
    let mut tallies = Vec::new();
    for task in tasks {
        tallies.push(task.await);
    }
    if config.stop.is_some() {
        result.measured = Instant::now()
            .saturating_duration_since(record_from)
            .min(config.duration);
    }
    for tally in tallies {
        let tally = match tally {
            Ok(tally) => tally,
            Err(error) => {
                *result.errors.entry("task failed".to_owned()).or_default() += 1;
                result.first_error.get_or_insert(error.to_string());
                continue;
            }
        };
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = result.latencies_ns.add(&tally.latencies_ns);
        for (kind, count) in tally.errors {
            *result.errors.entry(kind).or_default() += count;
        }
        result.warmup_errors += tally.warmup_errors;
        result.completed += tally.completed;
        for (total, count) in result.body_counts.iter_mut().zip(&tally.body_counts) {
            *total += count;
        }
        result.most_switches = result.most_switches.max(tally.switches);
        if result.first_error.is_none() {
            result.first_error = tally.first_error;
        }
    }
    Ok(result)
}

/// One connection's closed loop, until `stop_at`.
async fn drive_connection(
    config: Arc<LoadConfig>,
    record_from: Instant,
    stop_at: Instant,
) -> Tally {
    let mut tally = Tally::new();
    tally.body_counts = vec![0; config.accept_bodies.len()];
    let mut connection: Option<SendRequest<Empty<Bytes>>> = None;
    let host = config
        .host
        .clone()
        .unwrap_or_else(|| config.address.to_string());
    let stopped = || {
        config
            .stop
            .as_ref()
            .is_some_and(|stop| stop.load(Ordering::Relaxed))
    };
    while Instant::now() < stop_at && !stopped() {
        let recorded = Instant::now() >= record_from;
        let sender = match connection.as_mut() {
            Some(sender) => sender,
            None => match connect(config.address).await {
                Ok(sender) => connection.insert(sender),
                Err(error) => {
                    tally.error(recorded, "connect".to_owned(), format!("connect: {error}"));
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    continue;
                }
            },
        };
        let request = match Request::get(config.path.as_str())
            .header(hyper::header::HOST, host.as_str())
            .body(Empty::<Bytes>::new())
        {
            Ok(request) => request,
            Err(error) => {
                // The path is the user's; a bad one fails every request the same way.
                tally.error(
                    recorded,
                    "request".to_owned(),
                    format!("build the request: {error}"),
                );
                return tally;
            }
        };
        let sent = Instant::now();
        let exchanged = tokio::time::timeout(
            config.request_timeout,
            exchange(
                sender,
                request,
                config.expect_body.as_ref(),
                &config.accept_bodies,
            ),
        )
        .await;
        let answered = Instant::now();
        let recorded = sent >= record_from && answered <= stop_at;
        match exchanged {
            Ok(Ok(body)) => {
                tally.completed += 1;
                if let Some(index) = body {
                    tally.body_counts[index] += 1;
                    if tally.last_body.is_some_and(|last| last != index) {
                        tally.switches += 1;
                    }
                    tally.last_body = Some(index);
                }
                if recorded {
                    let nanos = u64::try_from((answered - sent).as_nanos()).unwrap_or(u64::MAX);
                    tally.latencies_ns.saturating_record(nanos.max(1));
                }
            }
            Ok(Err(failure)) => {
                tally.error(recorded, failure.kind, failure.message);
                if failure.drop_connection {
                    connection = None;
                }
            }
            Err(_elapsed) => {
                tally.error(
                    recorded,
                    "timeout".to_owned(),
                    format!("no answer within {:?}", config.request_timeout),
                );
                connection = None;
            }
        }
    }
    tally
}

/// A failed request: how to count it, what to say, whether the connection is still usable.
struct Failure {
    kind: String,
    message: String,
    drop_connection: bool,
}

impl Failure {
    fn transport(error: hyper::Error) -> Failure {
        Failure {
            kind: "transport".to_owned(),
            message: format!("transport: {error}"),
            drop_connection: true,
        }
    }
}

async fn connect(address: SocketAddr) -> std::io::Result<SendRequest<Empty<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    // The connection's driver ends when the sender is dropped or the peer closes; its
    // errors also reach the sender, where they are counted.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request and reads the whole answer; with `accept_bodies`, returns which
/// of them it was.
async fn exchange(
    sender: &mut SendRequest<Empty<Bytes>>,
    request: Request<Empty<Bytes>>,
    expect_body: Option<&Bytes>,
    accept_bodies: &[Bytes],
) -> Result<Option<usize>, Failure> {
    sender.ready().await.map_err(Failure::transport)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(Failure::transport)?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(Failure::transport)?
        .to_bytes();
    if !status.is_success() {
        return Err(Failure {
            kind: format!("status {}", status.as_u16()),
            message: format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ),
            drop_connection: false,
        });
    }
    if let Some(expected) = expect_body {
        if body != *expected {
            return Err(Failure {
                kind: "unexpected body".to_owned(),
                message: format!(
                    "unexpected body: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                ),
                drop_connection: false,
            });
        }
    }
    if accept_bodies.is_empty() {
        return Ok(None);
    }
    match accept_bodies.iter().position(|accepted| *accepted == body) {
        Some(index) => Ok(Some(index)),
        None => Err(Failure {
            kind: "unexpected body".to_owned(),
            message: format!(
                "a body of neither version: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ),
            drop_connection: false,
        }),
    }
}

/// One request on a connection opened beforehand, timed from sending it to the last byte
/// of the answer: what a cold start costs the client. Returns the status, body and time.
pub async fn timed_request(
    address: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Bytes, Duration), String> {
    let deadline = Instant::now() + timeout;
    let mut sender = tokio::time::timeout_at(deadline.into(), connect(address))
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|error| format!("connect: {error}"))?;
    let request = Request::get(path)
        .header(hyper::header::HOST, address.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|error| format!("build the request: {error}"))?;
    let sent = Instant::now();
    let answer = tokio::time::timeout_at(deadline.into(), async {
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, body))
    })
    .await
    .map_err(|_| format!("no answer within {timeout:?}"))?
    .map_err(|error| format!("transport: {error}"))?;
    Ok((answer.0, answer.1, sent.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_only() {
        let (address, path) = parse_loopback_url("http://127.0.0.1:3000/rust?x=1").expect("valid");
        assert_eq!(address.port(), 3000);
        assert_eq!(path, "/rust?x=1");
        let (_, path) = parse_loopback_url("http://127.0.0.1:80").expect("valid");
        assert_eq!(path, "/");
        assert!(parse_loopback_url("http://10.0.0.1:80/").is_err());
        assert!(parse_loopback_url("http://localhost:80/").is_err());
        assert!(parse_loopback_url("https://127.0.0.1:80/").is_err());
    }
}
