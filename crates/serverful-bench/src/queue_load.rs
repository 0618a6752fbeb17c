//! The queue benchmark's workloads: N clients in a closed loop (each sends its next call as
//! soon as the previous one is answered) on their own keep-alive connections, every
//! latency in a histogram, every failure counted, never a panic.
//!
//! - **send**: `SendMessage` of a ~200-byte body.
//! - **receive+delete**: over a queue filled first (`SendMessageBatch`, 10 a call, for a
//!   while), `ReceiveMessage` of up to 10 then `DeleteMessageBatch` of what came, timed
//!   as one round trip. A client that receives nothing has drained the queue; the run's
//!   recorded part ends there.
//!
//! After each run the queue's approximate counts are checked against what was
//! acknowledged: a server that loses or keeps messages it should not is caught.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::queue_client::{Failure, Keys, Protocol, Received, SqsClient};

/// The largest latency the histograms hold; anything slower is a timeout anyway.
const HIGHEST_LATENCY_NS: u64 = 120_000_000_000;
/// The most messages `ReceiveMessage` and the batches take.
pub const BATCH: u32 = 10;
/// How long the counts may take to settle after a run (an emulator that counts lazily).
const COUNTS_TIMEOUT: Duration = Duration::from_secs(5);

/// Where to send and how to sign.
#[derive(Debug, Clone)]
pub struct Target {
    pub address: SocketAddr,
    /// The `Host` header: the address, or a name the server insists on (sqslite only
    /// knows queue URLs on `localhost`).
    pub host: String,
    pub keys: Keys,
    pub protocol: Protocol,
    pub queue_url: String,
}

impl Target {
    pub fn client(&self) -> Result<SqsClient, String> {
        SqsClient::new(self.address, &self.host, &self.keys, self.protocol)
    }
}

/// How long to run, with how many clients.
#[derive(Debug, Clone, Copy)]
pub struct RunConfig {
    pub clients: usize,
    /// Calls before this much time has passed are sent but not recorded.
    pub warmup: Duration,
    /// How long the recorded part lasts.
    pub duration: Duration,
    /// A call not answered within this is an error.
    pub request_timeout: Duration,
}

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRun {
    /// Messages sent (send) or received and deleted (receive+delete) per second of the
    /// recorded part.
    pub messages_per_second: f64,
    /// Calls (send) or round trips (receive+delete) per second of the recorded part.
    pub calls_per_second: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// Failed calls of the recorded part.
    pub errors: u64,
    pub first_error: Option<String>,
    /// Acknowledged messages over the whole run, warm-up included.
    pub messages_total: u64,
    /// Successful calls or round trips over the whole run (what CPU time is divided by).
    pub calls_total: u64,
    /// The recorded part's length, shorter than asked when the queue drained.
    pub measured_s: f64,
    /// Set when a receive found the queue empty: seconds into the recorded part.
    pub drained_at_s: Option<f64>,
    /// Set when no call was answered within the recorded part (each took longer): the
    /// rates are then the whole run's, start to last answer.
    pub whole_run: bool,
    /// Messages in the queue when the run started (receive+delete).
    pub depth_at_start: Option<u64>,
    /// What the queue's counts said after the run, against what was acknowledged.
    pub check: Check,
    /// CPU seconds of the client (this process) and of the server, over the whole run.
    pub client_cpu_s: Option<f64>,
    pub server_cpu_s: Option<f64>,
}

/// The queue's counts after a run against what the acknowledged calls leave in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The counts match.
    Held { messages: u64 },
    /// The counts do not match: messages lost, or deleted ones still there.
    Wrong { expected: u64, found: u64 },
    /// Calls timed out, so what the queue must hold is not known.
    Unknown(String),
}

/// What one client saw.
struct Tally {
    errors: BTreeMap<String, u64>,
    first_error: Option<String>,
    /// Acknowledged messages of the whole run.
    messages_total: u64,
    calls_total: u64,
    timeouts: u64,
    /// When this client received nothing.
    drained_at: Option<Instant>,
    /// Round trips answered, with their time and message count, for a recorded part that
    /// ends early when the queue drains.
    answered: Vec<(Instant, Instant, u64)>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            errors: BTreeMap::new(),
            first_error: None,
            messages_total: 0,
            calls_total: 0,
            timeouts: 0,
            drained_at: None,
            answered: Vec::new(),
        }
    }

    fn error(&mut self, recorded: bool, kind: String, message: String) {
        if recorded {
            *self.errors.entry(kind).or_default() += 1;
        }
        self.first_error.get_or_insert(message);
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_LATENCY_NS, 3)
        .expect("the histogram bounds are constants that hdrhistogram accepts")
}

/// A message body of about 200 bytes, different for every client and message.
pub fn message_body(client_idx: usize, n: u64) -> String {
    format!(
        r#"{{"client":{client_idx},"n":{n},"pad":"{}"}}"#,
        "x".repeat(160)
    )
}

/// Runs `call` on one client in a closed loop and tallies it. `call` returns how many
/// messages it acknowledged; zero means the queue is empty, and ends this client.
async fn drive<F, Fut>(
    target: Arc<Target>,
    config: RunConfig,
    record_from: Instant,
    stop_at: Instant,
    mut call: F,
) -> Tally
where
    F: FnMut(SqsClient) -> Fut,
    Fut: std::future::Future<Output = (SqsClient, Result<u64, Failure>)>,
{
    let mut tally = Tally::new();
    let mut client = match target.client() {
        Ok(client) => client,
        Err(message) => {
            tally.error(true, "client".to_owned(), message);
            return tally;
        }
    };
    while Instant::now() < stop_at {
        let sent = Instant::now();
        let outcome = tokio::time::timeout(config.request_timeout, call(client)).await;
        let answered = Instant::now();
        let recorded = sent >= record_from && answered <= stop_at;
        let (returned, result) = match outcome {
            Ok(pair) => pair,
            Err(_elapsed) => {
                tally.timeouts += 1;
                tally.error(
                    recorded,
                    "timeout".to_owned(),
                    format!("no answer within {:?}", config.request_timeout),
                );
                // The client went with the abandoned call: a new one dials again.
                match target.client() {
                    Ok(fresh) => {
                        client = fresh;
                        continue;
                    }
                    Err(_) => return tally,
                }
            }
        };
        client = returned;
        match result {
            Ok(0) => {
                tally.drained_at = Some(sent);
                break;
            }
            Ok(messages) => {
                tally.calls_total += 1;
                tally.messages_total += messages;
                tally.answered.push((sent, answered, messages));
            }
            Err(failure) => {
                if failure.drop_connection {
                    client.reset();
                }
                tally.error(recorded, failure.kind, failure.message);
            }
        }
    }
    tally
}

/// Merges the clients' tallies: the recorded part ends at `stop_at`, or where the first
/// client found the queue empty.
fn merge(tallies: Vec<Tally>, start: Instant, record_from: Instant, stop_at: Instant) -> QueueRun {
    let drained = tallies.iter().filter_map(|tally| tally.drained_at).min();
    let end = drained.map_or(stop_at, |at| at.clamp(record_from, stop_at));
    let mut latencies = new_histogram();
    let mut errors = 0;
    let mut first_error = None;
    let mut messages_recorded = 0;
    let mut messages_total = 0;
    let mut calls_total = 0;
    let mut calls_recorded = 0;
    let mut last_answer = None;
    for mut tally in tallies {
        last_answer = last_answer.max(
            tally
                .answered
                .iter()
                .map(|(_, answered, _)| *answered)
                .max(),
        );
        for (sent, answered, messages) in tally.answered.drain(..) {
            // Throughput counts what was answered within the recorded part, so that a
            // server whose calls take longer than the warm-up still gets a rate; latency
            // only the calls that lie wholly within it.
            if answered > record_from && answered <= end {
                messages_recorded += messages;
                calls_recorded += 1;
                if sent >= record_from {
                    let nanos = u64::try_from((answered - sent).as_nanos()).unwrap_or(u64::MAX);
                    latencies.saturating_record(nanos.max(1));
                }
            }
        }
        errors += tally.errors.values().sum::<u64>();
        messages_total += tally.messages_total;
        calls_total += tally.calls_total;
        if first_error.is_none() {
            first_error = tally.first_error;
        }
    }
    let mut measured_s = (end - record_from).as_secs_f64();
    let whole_run = calls_recorded == 0 && calls_total > 0;
    if whole_run {
        measured_s = last_answer.map_or(0.0, |last: Instant| (last - start).as_secs_f64());
        messages_recorded = messages_total;
        calls_recorded = calls_total;
    }
    let per_second = |count: u64| {
        if measured_s > 0.0 {
            count as f64 / measured_s
        } else {
            0.0
        }
    };
    let quantile_us = |quantile: f64| {
        if latencies.is_empty() {
            0.0
        } else {
            latencies.value_at_quantile(quantile) as f64 / 1000.0
        }
    };
    QueueRun {
        messages_per_second: per_second(messages_recorded),
        calls_per_second: per_second(calls_recorded),
        p50_us: quantile_us(0.5),
        p99_us: quantile_us(0.99),
        errors,
        first_error,
        messages_total,
        calls_total,
        measured_s,
        drained_at_s: drained.map(|at| at.saturating_duration_since(record_from).as_secs_f64()),
        whole_run,
        depth_at_start: None,
        check: Check::Unknown("not checked".to_owned()),
        client_cpu_s: None,
        server_cpu_s: None,
    }
}

/// Runs every client to the end and merges what they saw.
async fn run_clients<M, F, Fut>(
    target: &Target,
    config: RunConfig,
    make_call: M,
) -> Result<(QueueRun, u64), String>
where
    M: Fn(usize) -> F,
    F: FnMut(SqsClient) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = (SqsClient, Result<u64, Failure>)> + Send + 'static,
{
    if config.clients == 0 {
        return Err("at least one client is needed".to_owned());
    }
    let start = Instant::now();
    let record_from = start + config.warmup;
    let stop_at = record_from + config.duration;
    target.client()?;
    let target = Arc::new(target.clone());
    let mut tasks = Vec::with_capacity(config.clients);
    for client_idx in 0..config.clients {
        tasks.push(tokio::spawn(drive(
            target.clone(),
            config,
            record_from,
            stop_at,
            make_call(client_idx),
        )));
    }
    let mut tallies = Vec::new();
    for task in tasks {
        tallies.push(
            task.await
                .map_err(|error| format!("a client failed: {error}"))?,
        );
    }
    let timeouts = tallies.iter().map(|tally| tally.timeouts).sum();
    Ok((merge(tallies, start, record_from, stop_at), timeouts))
}

/// The send workload: `SendMessage` in a closed loop on every client. The queue must be
/// empty before; after, it must hold every acknowledged message.
pub async fn run_send(target: &Target, config: RunConfig) -> Result<QueueRun, String> {
    let queue_url = Arc::new(target.queue_url.clone());
    let (mut run, timeouts) = run_clients(target, config, |client_idx| {
        let queue_url = queue_url.clone();
        let mut n = 0;
        move |mut client: SqsClient| {
            let queue_url = queue_url.clone();
            n += 1;
            let body = message_body(client_idx, n);
            async move {
                let result = client.send(&queue_url, &body).await.map(|()| 1);
                (client, result)
            }
        }
    })
    .await?;
    run.check = check_counts(target, run.messages_total, timeouts).await;
    Ok(run)
}

/// Fills the queue with `SendMessageBatch` of 10 on every client until `seconds` have
/// passed or `max_messages` are in. Returns how many were acknowledged and how long it
/// took.
pub async fn prefill(
    target: &Target,
    clients: usize,
    seconds: Duration,
    max_messages: u64,
    request_timeout: Duration,
) -> Result<(u64, Duration), String> {
    let started = Instant::now();
    let stop_at = started + seconds;
    let sent = Arc::new(AtomicU64::new(0));
    let reserved = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for client_idx in 0..clients.max(1) {
        let mut client = target.client()?;
        let (queue_url, sent, reserved, first_error) = (
            target.queue_url.clone(),
            sent.clone(),
            reserved.clone(),
            first_error.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < stop_at {
                let taken = reserved.fetch_add(u64::from(BATCH), Ordering::Relaxed);
                if taken >= max_messages {
                    break;
                }
                let count = (max_messages - taken).min(u64::from(BATCH));
                let bodies: Vec<String> = (0..count)
                    .map(|_| {
                        n += 1;
                        message_body(client_idx, n)
                    })
                    .collect();
                match tokio::time::timeout(request_timeout, client.send_batch(&queue_url, &bodies))
                    .await
                {
                    Ok(Ok(())) => {
                        sent.fetch_add(count, Ordering::Relaxed);
                    }
                    Ok(Err(failure)) => {
                        first_error
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .get_or_insert(failure.message);
                        return;
                    }
                    Err(_elapsed) => {
                        first_error
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .get_or_insert(format!(
                                "SendMessageBatch: no answer within {request_timeout:?}"
                            ));
                        return;
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await
            .map_err(|error| format!("a filling client failed: {error}"))?;
    }
    if let Some(error) = first_error
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take()
    {
        return Err(format!("fill the queue: {error}"));
    }
    Ok((sent.load(Ordering::Relaxed), started.elapsed()))
}

/// The receive+delete workload over a queue holding `depth` messages.
pub async fn run_receive_delete(
    target: &Target,
    config: RunConfig,
    depth: u64,
) -> Result<QueueRun, String> {
    let queue_url = Arc::new(target.queue_url.clone());
    let (mut run, timeouts) = run_clients(target, config, |_| {
        let queue_url = queue_url.clone();
        move |mut client: SqsClient| {
            let queue_url = queue_url.clone();
            async move {
                let result = receive_and_delete(&mut client, &queue_url).await;
                (client, result)
            }
        }
    })
    .await?;
    if run.drained_at_s.is_some() && run.measured_s <= 0.0 {
        return Err(format!(
            "the queue's {depth} messages were all taken during the warm-up: fill it for longer (--prefill-seconds)"
        ));
    }
    run.depth_at_start = Some(depth);
    let remaining = depth.saturating_sub(run.messages_total);
    run.check = check_counts(target, remaining, timeouts).await;
    Ok(run)
}

async fn receive_and_delete(client: &mut SqsClient, queue_url: &str) -> Result<u64, Failure> {
    let messages: Vec<Received> = client.receive(queue_url, BATCH).await?;
    if messages.is_empty() {
        return Ok(0);
    }
    client.delete_batch(queue_url, &messages).await?;
    Ok(messages.len() as u64)
}

/// Compares the queue's counts with `expected` messages (none in flight: every received
/// message of the run was deleted).
async fn check_counts(target: &Target, expected: u64, timeouts: u64) -> Check {
    if timeouts > 0 {
        return Check::Unknown(format!(
            "{timeouts} calls timed out, so what the queue holds is not known"
        ));
    }
    let mut client = match target.client() {
        Ok(client) => client,
        Err(message) => return Check::Unknown(message),
    };
    let deadline = Instant::now() + COUNTS_TIMEOUT;
    loop {
        match client.counts(&target.queue_url).await {
            Ok((visible, invisible)) => {
                let found = visible + invisible;
                if found == expected {
                    return Check::Held { messages: found };
                }
                if Instant::now() >= deadline {
                    return Check::Wrong { expected, found };
                }
            }
            Err(failure) => {
                if Instant::now() >= deadline {
                    return Check::Unknown(failure.message);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_about_200_bytes_and_differ() {
        let body = message_body(3, 7);
        assert!((180..=220).contains(&body.len()), "{}", body.len());
        assert_ne!(body, message_body(3, 8));
        assert_ne!(body, message_body(4, 7));
    }

    #[test]
    fn a_drained_queue_ends_the_recorded_part() {
        let start = Instant::now();
        let record_from = start + Duration::from_secs(1);
        let stop_at = record_from + Duration::from_secs(10);
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut first = Tally::new();
        // Warm-up, not recorded; then two recorded round trips of 10; then one after
        // the other client found the queue empty.
        first.answered = vec![
            (at(500), at(600), 10),
            (at(1_100), at(1_200), 10),
            (at(2_000), at(2_500), 10),
            (at(3_500), at(3_600), 10),
        ];
        first.messages_total = 40;
        first.calls_total = 4;
        let mut second = Tally::new();
        second.drained_at = Some(at(3_001));
        let run = merge(vec![first, second], start, record_from, stop_at);
        assert_eq!(run.messages_total, 40);
        assert!((run.measured_s - 2.001).abs() < 1e-6, "{}", run.measured_s);
        assert!((run.messages_per_second - 20.0 / 2.001).abs() < 1e-6);
        assert!((run.drained_at_s.expect("drained") - 2.001).abs() < 1e-6);
        assert!(
            (run.p50_us - 100_000.0).abs() / 100_000.0 < 0.01,
            "{}",
            run.p50_us
        );
        assert!(
            (run.p99_us - 500_000.0).abs() / 500_000.0 < 0.01,
            "{}",
            run.p99_us
        );
        assert!(!run.whole_run);
    }

    #[test]
    fn calls_longer_than_the_recorded_part_give_the_whole_run_rate() {
        let start = Instant::now();
        let record_from = start + Duration::from_secs(2);
        let stop_at = record_from + Duration::from_secs(10);
        let mut slow = Tally::new();
        slow.answered = vec![(start, start + Duration::from_secs(16), 10)];
        slow.messages_total = 10;
        slow.calls_total = 1;
        let run = merge(vec![slow], start, record_from, stop_at);
        assert!(run.whole_run);
        assert!((run.messages_per_second - 10.0 / 16.0).abs() < 1e-9);
        assert_eq!(run.p50_us, 0.0);
    }
}
