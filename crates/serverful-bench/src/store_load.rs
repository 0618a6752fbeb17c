//! The store benchmark's client: N clients in a closed loop (each sends its next operation
//! as soon as the previous one is answered), every latency in a histogram, every failure
//! counted, never a panic.
//!
//! Against an HTTP contender each client is a task with one keep-alive HTTP/1.1
//! connection, sending SigV4-signed DynamoDB JSON-protocol requests; the same code loads
//! serverful, moto, dynalite and Dynoxide. Against the SQLite ceiling each client is a
//! thread calling [`crate::sqlite_ceiling`] directly. Also prepares a contender: creates
//! the table and writes the items the `get` and `query` workloads read.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;

use crate::load::LoadResult;
use crate::sigv4::{Signer, CONTENT_TYPE};
use crate::sqlite_ceiling::Ceiling;
use crate::store_workload::{
    item_json, ClientOperations, KeySpace, Operation, Workload, ITEMS_PER_PARTITION,
    SINGLE_SORT_KEY, TABLE,
};
use serverful_store::{Store, StoreConfig};
use serverful_store_sqlite::SqliteBackend;

/// The largest latency the histograms hold; anything slower is a timeout anyway.
const HIGHEST_LATENCY_NS: u64 = 120_000_000_000;
/// How long a client waits before it dials again after a failed connect.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);
/// How long a table may take to become `ACTIVE` after `CreateTable`.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(30);
/// The region requests are signed for.
const REGION: &str = "us-east-1";

/// The key pair requests are signed with.
#[derive(Clone)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// How to run one load.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub workload: Workload,
    pub keys: KeySpace,
    pub clients: usize,
    /// Operations before this much time has passed are sent but not recorded.
    pub warmup: Duration,
    /// How long the recorded part lasts.
    pub duration: Duration,
    /// An operation not answered within this is an error (HTTP only: a SQLite call cannot
    /// be abandoned, and the run waits for it).
    pub request_timeout: Duration,
}

/// What one client saw.
struct Tally {
    latencies_ns: Histogram<u64>,
    errors: BTreeMap<String, u64>,
    warmup_errors: u64,
    first_error: Option<String>,
    completed: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latencies_ns: new_histogram(),
            errors: BTreeMap::new(),
            warmup_errors: 0,
            first_error: None,
            completed: 0,
        }
    }

    fn success(
        &mut self,
        sent: Instant,
        answered: Instant,
        record_from: Instant,
        stop_at: Instant,
    ) {
        self.completed += 1;
        if sent >= record_from && answered <= stop_at {
            let nanos = u64::try_from((answered - sent).as_nanos()).unwrap_or(u64::MAX);
            self.latencies_ns.saturating_record(nanos.max(1));
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

/// Waits for the client threads and merges what they measured.
fn join_client_threads(
    threads: Vec<std::thread::JoinHandle<Tally>>,
    measured: Duration,
) -> LoadResult {
    let mut tallies = Vec::new();
    let mut failed = Vec::new();
    for thread in threads {
        match thread.join() {
            Ok(tally) => tallies.push(tally),
            Err(_) => failed.push("a client thread panicked".to_owned()),
        }
    }
    merge(tallies, failed, measured)
}

fn merge(tallies: Vec<Tally>, failed_clients: Vec<String>, measured: Duration) -> LoadResult {
    let mut result = LoadResult {
        latencies_ns: new_histogram(),
        errors: BTreeMap::new(),
        warmup_errors: 0,
        first_error: None,
        measured,
        completed: 0,
        body_counts: Vec::new(),
        most_switches: 0,
    };
    for failure in failed_clients {
        *result.errors.entry("client failed".to_owned()).or_default() += 1;
        result.first_error.get_or_insert(failure);
    }
    for tally in tallies {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = result.latencies_ns.add(&tally.latencies_ns);
        for (kind, count) in tally.errors {
            *result.errors.entry(kind).or_default() += count;
        }
        result.warmup_errors += tally.warmup_errors;
        result.completed += tally.completed;
        if result.first_error.is_none() {
            result.first_error = tally.first_error;
        }
    }
    result
}

/// A failed request: how to count it, what to say, whether the connection is still usable.
#[derive(Debug)]
pub struct Failure {
    pub kind: String,
    pub message: String,
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

    fn answer(kind: &str, message: String) -> Failure {
        Failure {
            kind: kind.to_owned(),
            message,
            drop_connection: false,
        }
    }
}

/// One keep-alive connection to a DynamoDB endpoint, reopened after transport errors.
pub struct DynamoClient {
    address: SocketAddr,
    host: String,
    signer: Signer,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl std::fmt::Debug for DynamoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoClient")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl DynamoClient {
    /// A client of the loopback address `address` (any other is refused).
    pub fn new(address: SocketAddr, keys: &Keys) -> Result<DynamoClient, String> {
        if !address.ip().is_loopback() {
            return Err(format!(
                "{address} is not a loopback address: the benchmark only loads this machine"
            ));
        }
        Ok(DynamoClient {
            address,
            host: address.to_string(),
            signer: Signer::new(
                &keys.access_key_id,
                &keys.secret_access_key,
                REGION,
                "dynamodb",
            ),
            sender: None,
        })
    }

    /// Sends one signed request and returns the status and the whole body.
    pub async fn call(&mut self, target: &str, body: String) -> Result<(u16, Bytes), Failure> {
        // A server that closes connections (moto's answers HTTP/1.0 and closes after each
        // one) is dialled again: a new connection per request is its cost, not an error.
        if self.sender.as_ref().is_some_and(SendRequest::is_closed) {
            self.sender = None;
        }
        let sender = match self.sender.as_mut() {
            Some(sender) => sender,
            None => match connect(self.address).await {
                Ok(sender) => self.sender.insert(sender),
                Err(error) => {
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    return Err(Failure::answer("connect", format!("connect: {error}")));
                }
            },
        };
        let signature = self.signer.sign(
            &self.host,
            target,
            body.as_bytes(),
            time::OffsetDateTime::now_utc(),
        );
        let request = Request::post("/")
            .header(hyper::header::HOST, self.host.as_str())
            .header(hyper::header::CONTENT_TYPE, CONTENT_TYPE)
            .header("x-amz-date", signature.amz_date)
            .header("x-amz-target", target)
            .header(hyper::header::AUTHORIZATION, signature.authorization)
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| Failure::answer("request", format!("build the request: {error}")))?;
        let exchanged = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            let closes = response.version() < hyper::Version::HTTP_11
                || response
                    .headers()
                    .get(hyper::header::CONNECTION)
                    .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body, closes))
        }
        .await;
        match exchanged {
            Ok((status, body, closes)) => {
                if closes {
                    self.sender = None;
                }
                Ok((status, body))
            }
            Err(error) => {
                self.sender = None;
                Err(Failure::transport(error))
            }
        }
    }

    /// Sends `operation`; a non-200 status or a wrong answer is a failure.
    pub async fn run(&mut self, operation: &Operation) -> Result<(), Failure> {
        let (status, body) = self.call(operation.target(), operation.body()).await?;
        if status != 200 {
            return Err(Failure::answer(
                &format!("status {status}"),
                format!(
                    "status {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ),
            ));
        }
        operation
            .check_answer(&body)
            .map_err(|message| Failure::answer("wrong answer", message))
    }

    /// Forgets the connection, after a timeout left it in an unknown state.
    fn reset(&mut self) {
        self.sender = None;
    }
}

async fn connect(address: SocketAddr) -> std::io::Result<SendRequest<Full<Bytes>>> {
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

/// Loads an HTTP contender. Ends by itself after warm-up + duration + one request timeout
/// at most.
/// Client `i` sends to `addresses[i % len]`: several nodes of one cluster share the load.
pub async fn run_http(
    addresses: &[SocketAddr],
    keys: &Keys,
    config: &RunConfig,
) -> Result<LoadResult, String> {
    if config.clients == 0 {
        return Err("at least one client is needed".to_owned());
    }
    if addresses.is_empty() {
        return Err("at least one address is needed".to_owned());
    }
    let start = Instant::now();
    let record_from = start + config.warmup;
    let stop_at = record_from + config.duration;
    let config = Arc::new(config.clone());
    let mut tasks = Vec::with_capacity(config.clients);
    for client_idx in 0..config.clients {
        let client = DynamoClient::new(addresses[client_idx % addresses.len()], keys)?;
        let config = config.clone();
        tasks.push(tokio::spawn(drive_http_client(
            client,
            config,
            client_idx,
            record_from,
            stop_at,
        )));
    }
    let mut tallies = Vec::new();
    let mut failed = Vec::new();
    for task in tasks {
        match task.await {
            Ok(tally) => tallies.push(tally),
            Err(error) => failed.push(error.to_string()),
        }
    }
    Ok(merge(tallies, failed, config.duration))
}

async fn drive_http_client(
    mut client: DynamoClient,
    config: Arc<RunConfig>,
    client_idx: usize,
    record_from: Instant,
    stop_at: Instant,
) -> Tally {
    let mut tally = Tally::new();
    let mut operations = ClientOperations::new(config.workload, config.keys, client_idx);
    while Instant::now() < stop_at {
        let operation = operations.next_operation();
        let sent = Instant::now();
        let outcome = tokio::time::timeout(config.request_timeout, client.run(&operation)).await;
        let answered = Instant::now();
        let recorded = sent >= record_from && answered <= stop_at;
        match outcome {
            Ok(Ok(())) => tally.success(sent, answered, record_from, stop_at),
            Ok(Err(failure)) => {
                if failure.drop_connection {
                    client.reset();
                }
                tally.error(recorded, failure.kind, failure.message);
            }
            Err(_elapsed) => {
                client.reset();
                tally.error(
                    recorded,
                    "timeout".to_owned(),
                    format!("no answer within {:?}", config.request_timeout),
                );
            }
        }
    }
    tally
}

/// Creates the table (one that exists already is fine), waits until it is `ACTIVE`, and
/// writes the prepared items with `clients` connections. Returns how many were written.
pub async fn prepare_http(
    address: SocketAddr,
    keys: &Keys,
    key_space: KeySpace,
    clients: usize,
) -> Result<u64, String> {
    let mut client = DynamoClient::new(address, keys)?;
    let create = format!(
        r#"{{"TableName":"{TABLE}","AttributeDefinitions":[{{"AttributeName":"pk","AttributeType":"S"}},{{"AttributeName":"sk","AttributeType":"S"}}],"KeySchema":[{{"AttributeName":"pk","KeyType":"HASH"}},{{"AttributeName":"sk","KeyType":"RANGE"}}],"BillingMode":"PAY_PER_REQUEST"}}"#
    );
    let (status, body) = client
        .call("DynamoDB_20120810.CreateTable", create)
        .await
        .map_err(|failure| format!("CreateTable: {}", failure.message))?;
    let body_text = String::from_utf8_lossy(&body);
    if status != 200 && !body_text.contains("ResourceInUseException") {
        return Err(format!("CreateTable: status {status}: {body_text}"));
    }
    let deadline = Instant::now() + TABLE_ACTIVE_TIMEOUT;
    loop {
        let (status, body) = client
            .call(
                "DynamoDB_20120810.DescribeTable",
                format!(r#"{{"TableName":"{TABLE}"}}"#),
            )
            .await
            .map_err(|failure| format!("DescribeTable: {}", failure.message))?;
        let body_text = String::from_utf8_lossy(&body);
        if status == 200 && body_text.contains("ACTIVE") {
            break;
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the table was not ACTIVE within {TABLE_ACTIVE_TIMEOUT:?}: status {status}: {body_text}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let items: Arc<Vec<(String, String)>> = Arc::new(key_space.prepared_items().collect());
    let clients = clients.max(1);
    let mut tasks = Vec::new();
    for client_idx in 0..clients {
        let items = items.clone();
        let mut client = DynamoClient::new(address, keys)?;
        tasks.push(tokio::spawn(async move {
            let mut number = client_idx as u64;
            for (pk, sk) in items.iter().skip(client_idx).step_by(clients) {
                let operation = Operation::Put {
                    item: item_json(pk, sk, number),
                    pk: pk.clone(),
                    sk: sk.clone(),
                };
                number += clients as u64;
                client
                    .run(&operation)
                    .await
                    .map_err(|failure| format!("write {pk}/{sk}: {}", failure.message))?;
            }
            Ok::<(), String>(())
        }));
    }
    for task in tasks {
        task.await.map_err(|error| error.to_string())??;
    }
    // Check one of each kind before the runs count on them.
    if key_space.get_keys > 0 {
        client
            .run(&Operation::Get {
                pk: crate::store_workload::get_key(key_space.get_keys - 1),
            })
            .await
            .map_err(|failure| format!("read back a prepared item: {}", failure.message))?;
    }
    if key_space.partitions > 0 {
        client
            .run(&Operation::Query {
                pk: crate::store_workload::partition_key(key_space.partitions - 1),
            })
            .await
            .map_err(|failure| format!("query a prepared partition: {}", failure.message))?;
    }
    Ok(items.len() as u64)
}

/// Creates the ceiling's database in `dir` and writes the prepared items.
pub fn prepare_ceiling(dir: &Path, key_space: KeySpace) -> Result<u64, String> {
    let ceiling = Ceiling::open(dir)?;
    let mut n_written = 0;
    for (pk, sk) in key_space.prepared_items() {
        let item = item_json(&pk, &sk, n_written);
        ceiling.put(pk, sk, item)?;
        n_written += 1;
    }
    Ok(n_written)
}

/// Loads the SQLite ceiling in `dir` (prepared by [`prepare_ceiling`]) with one thread per
/// client.
pub fn run_ceiling(dir: &Path, config: &RunConfig) -> Result<LoadResult, String> {
    if config.clients == 0 {
        return Err("at least one client is needed".to_owned());
    }
    let ceiling = Arc::new(Ceiling::open(dir)?);
    let start = Instant::now();
    let record_from = start + config.warmup;
    let stop_at = record_from + config.duration;
    let mut threads = Vec::with_capacity(config.clients);
    for client_idx in 0..config.clients {
        let ceiling = ceiling.clone();
        let config = config.clone();
        let thread = std::thread::Builder::new()
            .name(format!("ceiling-client-{client_idx}"))
            .spawn(move || {
                drive_ceiling_client(&ceiling, &config, client_idx, record_from, stop_at)
            })
            .map_err(|error| format!("start a client thread: {error}"))?;
        threads.push(thread);
    }
    Ok(join_client_threads(threads, config.duration))
}

fn drive_ceiling_client(
    ceiling: &Ceiling,
    config: &RunConfig,
    client_idx: usize,
    record_from: Instant,
    stop_at: Instant,
) -> Tally {
    let mut tally = Tally::new();
    let reader = match ceiling.reader() {
        Ok(reader) => reader,
        Err(message) => {
            tally.error(true, "open".to_owned(), message);
            return tally;
        }
    };
    let mut operations = ClientOperations::new(config.workload, config.keys, client_idx);
    while Instant::now() < stop_at {
        let operation = operations.next_operation();
        let sent = Instant::now();
        let outcome = match operation {
            Operation::Put { pk, sk, item } => ceiling.put(pk, sk, item),
            Operation::Get { pk } => match reader.get(&pk, SINGLE_SORT_KEY) {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(format!("{pk} not found")),
                Err(message) => Err(message),
            },
            Operation::Query { pk } => match reader.query(&pk) {
                Ok(items) if items.len() as u64 == ITEMS_PER_PARTITION => Ok(()),
                Ok(items) => Err(format!("{pk} has {} items", items.len())),
                Err(message) => Err(message),
            },
        };
        let answered = Instant::now();
        match outcome {
            Ok(()) => tally.success(sent, answered, record_from, stop_at),
            Err(message) => tally.error(
                sent >= record_from && answered <= stop_at,
                "sqlite".to_owned(),
                message,
            ),
        }
    }
    tally
}

/// Opens serverful's store engine over its SQLite backend in `dir`, as `serverful up`
/// does (same backend, same settings), with no HTTP in front.
fn open_engine(dir: &Path) -> Result<Arc<Store>, String> {
    std::fs::create_dir_all(dir).map_err(|error| format!("create {}: {error}", dir.display()))?;
    let backend = SqliteBackend::open(dir.join("store.sqlite"))
        .map_err(|error| format!("open the store's database: {error}"))?;
    Store::open(Arc::new(backend), StoreConfig::default())
        .map(Arc::new)
        .map_err(|error| format!("open the store: {error}"))
}

/// Runs one request body on the engine as the AWS endpoint does: started without
/// waiting, and what would have to wait run on this thread (the endpoint's blocking
/// thread); the answer may come from the backend's writer thread.
fn engine_call(store: &Arc<Store>, operation: &str, body: &[u8]) -> Result<Vec<u8>, String> {
    let (sender, answer) = std::sync::mpsc::channel();
    let blocking = store.start_call(
        operation,
        body.to_vec(),
        Box::new(move |outcome| {
            let _ = sender.send(outcome);
        }),
    );
    if let Some(blocking) = blocking {
        blocking();
    }
    answer
        .recv()
        .map_err(|_| format!("{operation}: no answer"))?
        .map_err(|error| format!("{operation}: {error}"))
}

/// The operation name of a `DynamoDB_20120810.X` target.
fn operation_name(target: &str) -> &str {
    target.rsplit('.').next().unwrap_or(target)
}

/// Creates the table in the engine's database in `dir` and writes the prepared items.
pub fn prepare_engine(dir: &Path, key_space: KeySpace) -> Result<u64, String> {
    let store = open_engine(dir)?;
    let create = format!(
        r#"{{"TableName":"{TABLE}","AttributeDefinitions":[{{"AttributeName":"pk","AttributeType":"S"}},{{"AttributeName":"sk","AttributeType":"S"}}],"KeySchema":[{{"AttributeName":"pk","KeyType":"HASH"}},{{"AttributeName":"sk","KeyType":"RANGE"}}],"BillingMode":"PAY_PER_REQUEST"}}"#
    );
    engine_call(&store, "CreateTable", create.as_bytes())?;
    let mut n_written = 0;
    for (pk, sk) in key_space.prepared_items() {
        let operation = Operation::Put {
            item: item_json(&pk, &sk, n_written),
            pk,
            sk,
        };
        engine_call(&store, "PutItem", operation.body().as_bytes())?;
        n_written += 1;
    }
    Ok(n_written)
}

/// Loads the engine in `dir` (prepared by [`prepare_engine`]) with one thread per client,
/// each sending the same request bodies the HTTP clients send.
pub fn run_engine(dir: &Path, config: &RunConfig) -> Result<LoadResult, String> {
    if config.clients == 0 {
        return Err("at least one client is needed".to_owned());
    }
    let store = open_engine(dir)?;
    let start = Instant::now();
    let record_from = start + config.warmup;
    let stop_at = record_from + config.duration;
    let mut threads = Vec::with_capacity(config.clients);
    for client_idx in 0..config.clients {
        let store = store.clone();
        let config = config.clone();
        let thread = std::thread::Builder::new()
            .name(format!("engine-client-{client_idx}"))
            .spawn(move || {
                let mut tally = Tally::new();
                let mut operations =
                    ClientOperations::new(config.workload, config.keys, client_idx);
                while Instant::now() < stop_at {
                    let operation = operations.next_operation();
                    let body = operation.body();
                    let sent = Instant::now();
                    let outcome =
                        engine_call(&store, operation_name(operation.target()), body.as_bytes())
                            .and_then(|answer| operation.check_answer(&answer));
                    let answered = Instant::now();
                    match outcome {
                        Ok(()) => tally.success(sent, answered, record_from, stop_at),
                        Err(message) => tally.error(
                            sent >= record_from && answered <= stop_at,
                            "engine".to_owned(),
                            message,
                        ),
                    }
                }
                tally
            })
            .map_err(|error| format!("start a client thread: {error}"))?;
        threads.push(thread);
    }
    Ok(join_client_threads(threads, config.duration))
}
