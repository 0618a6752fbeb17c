//! The S3 benchmark's workloads, and the disk's own ceiling for the same bytes.
//!
//! - **PUT** of an object of a given size: N clients in a closed loop, each writing new
//!   keys; an answer counts when its ETag is the MD5 of the bytes sent.
//! - **GET** of objects written first: N clients reading them round-robin; an answer
//!   counts when its body is exactly the bytes written.
//! - **Multipart**: one large object in parts, a few parts in flight at once, completed
//!   and checked by its `-N` ETag, then read back whole as it streams.
//! - **Ceiling**: the same PUT done straight on the disk with the durability serverful
//!   gives an acknowledged upload: a new file written, fsync'd, renamed into its folder
//!   and the folder fsync'd.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;

use crate::queue_client::{Failure, Keys};
use crate::s3_client::{md5_hex, Payload, S3Client};

/// The largest latency the histograms hold; anything slower is a timeout anyway.
const HIGHEST_LATENCY_NS: u64 = 120_000_000_000;

/// Where to send and how to sign.
#[derive(Debug, Clone)]
pub struct Target {
    pub address: SocketAddr,
    pub host: String,
    pub keys: Keys,
    pub payload: Payload,
    pub bucket: String,
}

impl Target {
    pub fn client(&self) -> S3Client {
        S3Client::new(self.address, &self.host, &self.keys, self.payload)
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

/// What one closed-loop run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Run {
    pub objects_per_second: f64,
    /// Object bytes moved per second, in MB (10^6 bytes).
    pub megabytes_per_second: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// Failed calls of the recorded part.
    pub errors: u64,
    pub first_error: Option<String>,
    /// Successful calls over the whole run, warm-up included.
    pub calls_total: u64,
    /// CPU seconds of the server and of this program over the whole run.
    pub server_cpu_s: Option<f64>,
    pub client_cpu_s: Option<f64>,
}

/// What the clients of a run share.
struct Shared {
    histogram: Mutex<Histogram<u64>>,
    recorded: AtomicU64,
    errors: AtomicU64,
    total: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            histogram: Mutex::new(
                Histogram::new_with_bounds(1_000, HIGHEST_LATENCY_NS, 3)
                    .expect("valid histogram bounds"),
            ),
            recorded: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            total: AtomicU64::new(0),
            first_error: Mutex::new(None),
        }
    }

    fn fail(&self, recording: bool, message: String) {
        if recording {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let mut first = self.first_error.lock().expect("not poisoned");
        if first.is_none() {
            *first = Some(message);
        }
    }

    fn into_run(self, size: usize, duration: Duration) -> S3Run {
        let histogram = self.histogram.into_inner().expect("not poisoned");
        let recorded = self.recorded.load(Ordering::Relaxed);
        let seconds = duration.as_secs_f64();
        let objects_per_second = recorded as f64 / seconds;
        S3Run {
            objects_per_second,
            megabytes_per_second: objects_per_second * size as f64 / 1e6,
            p50_us: histogram.value_at_quantile(0.5) as f64 / 1_000.0,
            p99_us: histogram.value_at_quantile(0.99) as f64 / 1_000.0,
            errors: self.errors.load(Ordering::Relaxed),
            first_error: self.first_error.into_inner().expect("not poisoned"),
            calls_total: self.total.load(Ordering::Relaxed),
            server_cpu_s: None,
            client_cpu_s: None,
        }
    }
}

/// A body of `size` bytes that compresses poorly (so that no layer gets it for free).
pub fn body_of(size: usize, seed: u64) -> Bytes {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut bytes = Vec::with_capacity(size + 8);
    while bytes.len() < size {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size);
    Bytes::from(bytes)
}

/// Runs `call` in a closed loop on each of `config.clients` clients, timing every call.
async fn closed_loop<F, Fut>(config: RunConfig, size: usize, call: F) -> S3Run
where
    F: Fn(usize, u64, S3ClientSlot) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (S3ClientSlot, Result<(), Failure>)> + Send,
{
    let shared = Arc::new(Shared::new());
    let call = Arc::new(call);
    let start = Instant::now();
    let recording_from = start + config.warmup;
    let end = recording_from + config.duration;
    let mut tasks = Vec::with_capacity(config.clients);
    for client_index in 0..config.clients {
        let shared = shared.clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut slot = S3ClientSlot::None;
            let mut n = 0u64;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let recording = sent >= recording_from;
                let outcome = tokio::time::timeout(
                    config.request_timeout,
                    call(client_index, n, std::mem::take(&mut slot)),
                )
                .await;
                n += 1;
                match outcome {
                    Ok((returned, Ok(()))) => {
                        slot = returned;
                        shared.total.fetch_add(1, Ordering::Relaxed);
                        if recording && Instant::now() <= end {
                            let nanos = u64::try_from(sent.elapsed().as_nanos())
                                .unwrap_or(u64::MAX)
                                .clamp(1_000, HIGHEST_LATENCY_NS);
                            let _ = shared.histogram.lock().expect("not poisoned").record(nanos);
                            shared.recorded.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok((returned, Err(failure))) => {
                        slot = if failure.drop_connection {
                            S3ClientSlot::None
                        } else {
                            returned
                        };
                        shared.fail(recording, format!("{}: {}", failure.kind, failure.message));
                    }
                    Err(_) => shared.fail(
                        recording,
                        format!("timeout after {:?}", config.request_timeout),
                    ),
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let shared = Arc::try_unwrap(shared).unwrap_or_else(|_| unreachable!("every task ended"));
    shared.into_run(size, config.duration)
}

/// A client carried from one call of a closed loop to the next (`None` after a
/// timeout or a dropped connection: the next call dials again).
#[derive(Default)]
pub enum S3ClientSlot {
    #[default]
    None,
    Some(Box<S3Client>),
}

impl S3ClientSlot {
    fn take_or(self, target: &Target) -> Box<S3Client> {
        match self {
            S3ClientSlot::Some(client) => client,
            S3ClientSlot::None => Box::new(target.client()),
        }
    }
}

/// PUTs of new `size`-byte objects under `prefix/`.
pub async fn run_put(target: &Target, size: usize, prefix: &str, config: RunConfig) -> S3Run {
    let body = body_of(size, size as u64);
    let md5: Arc<str> = md5_hex(&body).into();
    let target = Arc::new(target.clone());
    let prefix: Arc<str> = prefix.into();
    closed_loop(config, size, move |client_index, n, slot| {
        let target = target.clone();
        let body = body.clone();
        let md5 = md5.clone();
        let prefix = prefix.clone();
        async move {
            let mut client = slot.take_or(&target);
            let key = format!("{prefix}/{client_index}/{n}");
            let outcome = client.put_object(&target.bucket, &key, body, &md5).await;
            (S3ClientSlot::Some(client), outcome)
        }
    })
    .await
}

/// Writes `count` objects of `size` bytes for the GET run: their keys.
pub async fn prefill(
    target: &Target,
    size: usize,
    prefix: &str,
    count: usize,
) -> Result<Vec<String>, String> {
    let body = body_of(size, size as u64 + 1);
    let md5 = md5_hex(&body);
    let mut client = target.client();
    let mut keys = Vec::with_capacity(count);
    for index in 0..count {
        let key = format!("{prefix}/{index}");
        client
            .put_object(&target.bucket, &key, body.clone(), &md5)
            .await
            .map_err(|failure| format!("prefill: {}", failure.message))?;
        keys.push(key);
    }
    Ok(keys)
}

/// GETs of the prefilled objects, round-robin from a different start per client.
pub async fn run_get(target: &Target, size: usize, keys: Vec<String>, config: RunConfig) -> S3Run {
    let expected = body_of(size, size as u64 + 1);
    let target = Arc::new(target.clone());
    let keys = Arc::new(keys);
    closed_loop(config, size, move |client_index, n, slot| {
        let target = target.clone();
        let expected = expected.clone();
        let keys = keys.clone();
        async move {
            let mut client = slot.take_or(&target);
            let index = (client_index * 7919 + n as usize) % keys.len().max(1);
            let outcome = client
                .get_object(&target.bucket, &keys[index], &expected)
                .await;
            (S3ClientSlot::Some(client), outcome)
        }
    })
    .await
}

/// What the multipart upload measured.
#[derive(Debug, Clone, PartialEq)]
pub struct MultipartRun {
    pub bytes: u64,
    pub parts: u32,
    /// Create, every part, complete.
    pub upload_s: f64,
    /// The completion alone.
    pub complete_s: f64,
    /// Reading the object back whole.
    pub read_s: f64,
}

/// Uploads `parts` parts of `part_size` bytes as one object, `in_flight` at a time,
/// completes it and reads it back.
pub async fn run_multipart(
    target: &Target,
    key: &str,
    part_size: usize,
    parts: u32,
    in_flight: usize,
    timeout: Duration,
) -> Result<MultipartRun, String> {
    let part = body_of(part_size, 42);
    let part_md5 = md5_hex(&part);
    let started = Instant::now();
    let mut client = target.client();
    let upload_id = client
        .create_multipart_upload(&target.bucket, key)
        .await
        .map_err(|failure| failure.message)?;
    let next = Arc::new(AtomicU64::new(1));
    let mut uploaders = Vec::new();
    for _ in 0..in_flight.max(1) {
        let target = target.clone();
        let next = next.clone();
        let part = part.clone();
        let part_md5 = part_md5.clone();
        let upload_id = upload_id.clone();
        let key = key.to_owned();
        uploaders.push(tokio::spawn(async move {
            let mut client = target.client();
            loop {
                let number = next.fetch_add(1, Ordering::Relaxed);
                if number > u64::from(parts) {
                    return Ok::<(), String>(());
                }
                let number = u32::try_from(number).unwrap_or(u32::MAX);
                tokio::time::timeout(
                    timeout,
                    client.upload_part(
                        &target.bucket,
                        &key,
                        &upload_id,
                        number,
                        part.clone(),
                        &part_md5,
                    ),
                )
                .await
                .map_err(|_| format!("UploadPart {number}: timeout after {timeout:?}"))?
                .map_err(|failure| failure.message)?;
            }
        }));
    }
    for uploader in uploaders {
        uploader
            .await
            .map_err(|error| format!("an uploader failed: {error}"))??;
    }
    let completing = Instant::now();
    let md5s = vec![part_md5; parts as usize];
    tokio::time::timeout(
        timeout,
        client.complete_multipart_upload(&target.bucket, key, &upload_id, &md5s),
    )
    .await
    .map_err(|_| format!("CompleteMultipartUpload: timeout after {timeout:?}"))?
    .map_err(|failure| failure.message)?;
    let complete_s = completing.elapsed().as_secs_f64();
    let upload_s = started.elapsed().as_secs_f64();
    let reading = Instant::now();
    let bytes = part_size as u64 * u64::from(parts);
    let (size, etag) =
        tokio::time::timeout(timeout, client.get_object_counted(&target.bucket, key))
            .await
            .map_err(|_| format!("GetObject: timeout after {timeout:?}"))?
            .map_err(|failure| failure.message)?;
    if size != bytes {
        return Err(format!("GetObject: {size} bytes, not {bytes}"));
    }
    if etag != crate::s3_client::multipart_etag(&md5s) {
        return Err(format!("GetObject: ETag {etag}, not the multipart ETag"));
    }
    Ok(MultipartRun {
        bytes,
        parts,
        upload_s,
        complete_s,
        read_s: reading.elapsed().as_secs_f64(),
    })
}

/// The disk's ceiling for PUTs of `size` bytes with `clients` writers: each write is a
/// new file in `folder`, fsync'd, renamed and the folder fsync'd (what serverful does
/// before it answers an upload). The files stay; the caller removes `folder`.
pub fn ceiling_put(folder: &Path, size: usize, config: RunConfig) -> std::io::Result<S3Run> {
    std::fs::create_dir_all(folder.join("objects"))?;
    let body = body_of(size, size as u64);
    let shared = Arc::new(Shared::new());
    let start = Instant::now();
    let recording_from = start + config.warmup;
    let end = recording_from + config.duration;
    let mut threads = Vec::new();
    for client_index in 0..config.clients {
        let shared = shared.clone();
        let body = body.clone();
        let folder = folder.to_owned();
        threads.push(std::thread::spawn(move || {
            let objects = folder.join("objects");
            let mut n = 0u64;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let recording = sent >= recording_from;
                let temporary = folder.join(format!(".tmp-{client_index}-{n}"));
                let written = (|| -> std::io::Result<()> {
                    let mut file = std::fs::File::create(&temporary)?;
                    file.write_all(&body)?;
                    file.sync_all()?;
                    std::fs::rename(&temporary, objects.join(format!("{client_index}-{n}")))?;
                    std::fs::File::open(&objects)?.sync_all()
                })();
                n += 1;
                match written {
                    Ok(()) => {
                        shared.total.fetch_add(1, Ordering::Relaxed);
                        if recording && Instant::now() <= end {
                            let nanos = u64::try_from(sent.elapsed().as_nanos())
                                .unwrap_or(u64::MAX)
                                .clamp(1_000, HIGHEST_LATENCY_NS);
                            let _ = shared.histogram.lock().expect("not poisoned").record(nanos);
                            shared.recorded.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(error) => shared.fail(recording, format!("write: {error}")),
                }
            }
        }));
    }
    for thread in threads {
        let _ = thread.join();
    }
    let shared = Arc::try_unwrap(shared).unwrap_or_else(|_| unreachable!("every thread ended"));
    Ok(shared.into_run(size, config.duration))
}

/// The disk's ceiling for one large object: `bytes` written to one file in 1 MiB
/// writes and fsync'd; seconds taken. The file stays; the caller removes `folder`.
pub fn ceiling_large(folder: &Path, bytes: u64) -> std::io::Result<f64> {
    std::fs::create_dir_all(folder)?;
    let chunk = body_of(1 << 20, 7);
    let path = folder.join("large");
    let started = Instant::now();
    let mut file = std::fs::File::create(&path)?;
    let mut written = 0u64;
    while written < bytes {
        let take = usize::try_from((bytes - written).min(chunk.len() as u64)).unwrap_or(0);
        file.write_all(&chunk[..take])?;
        written += take as u64;
    }
    file.sync_all()?;
    Ok(started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_deterministic_and_of_the_size_asked() {
        assert_eq!(body_of(10, 1).len(), 10);
        assert_eq!(body_of(4096, 3), body_of(4096, 3));
        assert_ne!(body_of(4096, 3), body_of(4096, 4));
    }

    #[test]
    fn the_ceiling_writes_every_object_it_counts() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let config = RunConfig {
            clients: 2,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(200),
            request_timeout: Duration::from_secs(5),
        };
        let run = ceiling_put(&folder.path().join("ceiling"), 4096, config).expect("runs");
        assert!(run.objects_per_second > 0.0);
        assert_eq!(run.errors, 0);
        let written = std::fs::read_dir(folder.path().join("ceiling/objects"))
            .expect("the objects")
            .count();
        assert_eq!(written as u64, run.calls_total);
    }
}
