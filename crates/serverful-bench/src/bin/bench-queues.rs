//! The queue benchmark: SQS `SendMessage`, and `ReceiveMessage` + `DeleteMessageBatch`,
//! through `serverful serve`'s AWS endpoint (durable: `DATA/queues.sqlite`), moto's server
//! and fakecloud when bench/queues.sh could install them, loaded side by side in one run
//! by the same closed-loop client sending SigV4-signed JSON-protocol requests. Prints a
//! markdown report on stdout, progress on stderr.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serverful_bench::report::{load_average, print_report, Machine};
use serverful_bench::sigv4::{Signer, CONTENT_TYPE};

/// Send to and receive from an SQS queue on serverful, moto and fakecloud; report
#[derive(Debug, Parser)]
#[command(name = "bench-queues")]
struct Args {
    /// Seconds each phase runs
    #[arg(long, default_value_t = 5)]
    duration: u64,
    /// Concurrent clients, each with one keep-alive connection
    #[arg(long, short = 'c', default_value_t = 16)]
    clients: usize,
    /// Bytes in each message body
    #[arg(long, default_value_t = 100)]
    body_bytes: usize,
    /// Where bench/queues.sh installed moto (moto-venv/) and fakecloud (fakecloud/bin/)
    #[arg(long)]
    tools: PathBuf,
    /// Scratch folder for data and logs
    #[arg(long)]
    scratch: PathBuf,
    /// Run only these contenders (comma-separated: serverful, moto, fakecloud)
    #[arg(long, env = "BENCH_ONLY")]
    only: Option<String>,
}

const REGION: &str = "us-east-1";
/// How long a contender gets to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args = Args::parse();
    print_report(run(args))
}

/// One phase's figures.
#[derive(Debug, Default)]
struct Phase {
    messages: u64,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
    latencies_us: Option<Histogram<u64>>,
}

impl Phase {
    fn per_second(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn quantile_ms(&self, quantile: f64) -> f64 {
        self.latencies_us.as_ref().map_or(f64::NAN, |histogram| {
            histogram.value_at_quantile(quantile) as f64 / 1000.0
        })
    }
}

/// A contender's row.
struct Row {
    name: String,
    storage: &'static str,
    outcome: Result<(Phase, Phase), String>,
}

async fn run(args: Args) -> anyhow::Result<String> {
    std::fs::create_dir_all(&args.scratch).context("create the scratch folder")?;
    let wanted = |key: &str| {
        args.only
            .as_deref()
            .is_none_or(|only| only.split(',').any(|item| item.trim() == key))
    };
    let mut rows = Vec::new();
    if wanted("serverful") {
        eprintln!("serverful: starting");
        rows.push(Row {
            name: "serverful serve".to_owned(),
            storage: "SQLite on disk (WAL, synchronous=FULL: every acknowledged send durable)",
            outcome: measure_serverful(&args)
                .await
                .map_err(|error| format!("{error:#}")),
        });
    }
    if wanted("moto") {
        let program = args.tools.join("moto-venv/bin/moto_server");
        rows.push(Row {
            name: "moto_server".to_owned(),
            storage: "in memory",
            outcome: if program.exists() {
                eprintln!("moto: starting");
                let port = free_port()?;
                measure_process(
                    &args,
                    "moto",
                    &program,
                    &["-p".to_owned(), port.to_string()],
                    port,
                )
                .await
                .map_err(|error| format!("{error:#}"))
            } else {
                Err("did not run: moto did not install (see the install log)".to_owned())
            },
        });
    }
    if wanted("fakecloud") {
        let program = args.tools.join("fakecloud/bin/fakecloud");
        rows.push(Row {
            name: "fakecloud".to_owned(),
            storage: "in memory (its default)",
            outcome: if program.exists() {
                eprintln!("fakecloud: starting");
                let port = free_port()?;
                measure_process(
                    &args,
                    "fakecloud",
                    &program,
                    &["--addr".to_owned(), format!("127.0.0.1:{port}")],
                    port,
                )
                .await
                .map_err(|error| format!("{error:#}"))
            } else {
                Err(
                    "did not run: fakecloud did not install from crates.io (see the install log)"
                        .to_owned(),
                )
            },
        });
    }
    Ok(report(&args, &rows))
}

fn report(args: &Args, rows: &[Row]) -> String {
    let machine = Machine::describe();
    let mut out = String::new();
    out.push_str("## Queues (SQS)\n\n");
    out.push_str(&format!(
        "{} clients in a closed loop for {} s per phase, {}-byte bodies, SigV4-signed JSON-protocol requests over keep-alive HTTP/1.1. Machine: {} cores ({}), {} memory, kernel {}; load average before: {}.\n\n",
        args.clients,
        args.duration,
        args.body_bytes,
        machine.cores,
        machine.cpu_model,
        machine.memory,
        machine.kernel,
        load_average()
    ));
    out.push_str("| contender | storage | SendMessage msg/s | send p50 ms | send p99 ms | receive+delete msg/s | receive+delete p50 ms | p99 ms | errors |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for row in rows {
        match &row.outcome {
            Ok((send, receive)) => {
                let errors = send.errors + receive.errors;
                let first = send
                    .first_error
                    .as_ref()
                    .or(receive.first_error.as_ref())
                    .map(|error| format!(" (first: {})", error.replace('|', "/")))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "| {} | {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {errors}{first} |\n",
                    row.name,
                    row.storage,
                    send.per_second(),
                    send.quantile_ms(0.5),
                    send.quantile_ms(0.99),
                    receive.per_second(),
                    receive.quantile_ms(0.5),
                    receive.quantile_ms(0.99),
                ));
            }
            Err(reason) => out.push_str(&format!(
                "| {} | {} | {} | | | | | | |\n",
                row.name,
                row.storage,
                reason.replace('|', "/")
            )),
        }
    }
    out.push_str("\nreceive+delete: each request pair is `ReceiveMessage` (up to 10 messages) and `DeleteMessageBatch` of what it got; its rate counts messages, its latency the pair.\n");
    out
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("find a free port")?;
    Ok(listener.local_addr().context("read the free port")?.port())
}

async fn measure_serverful(args: &Args) -> anyhow::Result<(Phase, Phase)> {
    let binary = std::env::current_exe()
        .context("find this program")?
        .with_file_name("serverful");
    let data = args.scratch.join("serverful-data");
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).context("create serverful's data folder")?;
    let port = free_port()?;
    let stdout =
        std::fs::File::create(args.scratch.join("serverful.stdout")).context("create the log")?;
    let stderr =
        std::fs::File::create(args.scratch.join("serverful.stderr")).context("create the log")?;
    let mut child = tokio::process::Command::new(&binary)
        .args(["serve", "--data"])
        .arg(&data)
        .args([
            "--port",
            "0",
            "--admin-port",
            "0",
            "--aws-port",
            &port.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", binary.display()))?;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    wait_listening(address).await?;
    let keys: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("aws-keys.json")).context("read serverful's keys")?,
    )
    .context("parse serverful's keys")?;
    let key = |name: &str| keys[name].as_str().unwrap_or_default().to_owned();
    let keys = (key("accessKeyId"), key("secretAccessKey"));
    let measured = measure(args, address, &keys).await;
    let _ = child.start_kill();
    let _ = child.wait().await;
    measured
}

async fn measure_process(
    args: &Args,
    label: &str,
    program: &Path,
    program_args: &[String],
    port: u16,
) -> anyhow::Result<(Phase, Phase)> {
    let stdout = std::fs::File::create(args.scratch.join(format!("{label}.stdout")))
        .context("create the log")?;
    let stderr = std::fs::File::create(args.scratch.join(format!("{label}.stderr")))
        .context("create the log")?;
    let mut child = tokio::process::Command::new(program)
        .args(program_args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", program.display()))?;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    wait_listening(address).await?;
    let keys = ("AKIDBENCHMARK".to_owned(), "benchmark-secret".to_owned());
    let measured = measure(args, address, &keys).await;
    let _ = child.start_kill();
    let _ = child.wait().await;
    measured
}

async fn wait_listening(address: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(address).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("nothing listened on {address} within {START_TIMEOUT:?}")
}

/// A keep-alive connection to one SQS endpoint, dialled again when the server closes it.
struct Client {
    address: SocketAddr,
    host: String,
    signer: Signer,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    fn new(address: SocketAddr, keys: &(String, String)) -> Client {
        Client {
            address,
            host: address.to_string(),
            signer: Signer::new(&keys.0, &keys.1, REGION, "sqs"),
            sender: None,
        }
    }

    /// Sends one operation; answers its JSON, or why it failed.
    async fn call(&mut self, operation: &str, body: String) -> Result<serde_json::Value, String> {
        if self.sender.as_ref().is_some_and(SendRequest::is_closed) {
            self.sender = None;
        }
        let sender = match self.sender.as_mut() {
            Some(sender) => sender,
            None => {
                let stream = tokio::net::TcpStream::connect(self.address)
                    .await
                    .map_err(|error| format!("connect: {error}"))?;
                let _ = stream.set_nodelay(true);
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(|error| format!("handshake: {error}"))?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                self.sender.insert(sender)
            }
        };
        let target = format!("AmazonSQS.{operation}");
        let signature = self.signer.sign(
            &self.host,
            &target,
            body.as_bytes(),
            time::OffsetDateTime::now_utc(),
        );
        let request = hyper::Request::post("/")
            .header(hyper::header::HOST, self.host.as_str())
            .header(hyper::header::CONTENT_TYPE, CONTENT_TYPE)
            .header("x-amz-date", signature.amz_date)
            .header("x-amz-target", target)
            .header(hyper::header::AUTHORIZATION, signature.authorization)
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| format!("build the request: {error}"))?;
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
        let (status, body, closes) = match exchanged {
            Ok(exchanged) => exchanged,
            Err(error) => {
                self.sender = None;
                return Err(format!("transport: {error}"));
            }
        };
        if closes {
            self.sender = None;
        }
        if status != 200 {
            return Err(format!(
                "{operation}: status {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ));
        }
        serde_json::from_slice(&body).map_err(|error| format!("{operation}: not JSON: {error}"))
    }
}

/// Creates the queue, then runs the send phase and the receive+delete phase.
async fn measure(
    args: &Args,
    address: SocketAddr,
    keys: &(String, String),
) -> anyhow::Result<(Phase, Phase)> {
    let mut setup = Client::new(address, keys);
    let created = setup
        .call(
            "CreateQueue",
            serde_json::json!({"QueueName": "bench"}).to_string(),
        )
        .await
        .map_err(anyhow::Error::msg)
        .context("create the queue")?;
    let url = created["QueueUrl"]
        .as_str()
        .context("CreateQueue answered no QueueUrl")?
        .to_owned();
    eprintln!("  sending for {} s", args.duration);
    let send = phase(args, address, keys, &url, Work::Send).await;
    eprintln!("  sent {} messages; receiving and deleting", send.messages);
    let receive = phase(args, address, keys, &url, Work::ReceiveDelete).await;
    eprintln!("  received and deleted {} messages", receive.messages);
    Ok((send, receive))
}

#[derive(Debug, Clone, Copy)]
enum Work {
    Send,
    ReceiveDelete,
}

async fn phase(
    args: &Args,
    address: SocketAddr,
    keys: &(String, String),
    url: &str,
    work: Work,
) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let emptied = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let body = "m".repeat(args.body_bytes);
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let mut client = Client::new(address, keys);
        let (url, body, stop, emptied) =
            (url.to_owned(), body.clone(), stop.clone(), emptied.clone());
        let clients = args.clients as u64;
        tasks.push(tokio::spawn(async move {
            let mut phase = Phase {
                latencies_us: Histogram::new_with_bounds(1, 120_000_000, 3).ok(),
                ..Phase::default()
            };
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                let began = Instant::now();
                let outcome = match work {
                    Work::Send => client
                        .call(
                            "SendMessage",
                            serde_json::json!({"QueueUrl": url, "MessageBody": body}).to_string(),
                        )
                        .await
                        .map(|_| 1),
                    Work::ReceiveDelete => receive_delete(&mut client, &url).await,
                };
                phase.requests += 1;
                match outcome {
                    Ok(0) => {
                        // Every client found the queue empty: the phase is over.
                        if emptied.fetch_add(1, Ordering::Relaxed) + 1 >= clients * 2 {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                    Ok(count) => {
                        phase.messages += count;
                        if let Some(histogram) = phase.latencies_us.as_mut() {
                            let _ = histogram.record(began.elapsed().as_micros().max(1) as u64);
                        }
                    }
                    Err(error) => {
                        phase.errors += 1;
                        phase.first_error.get_or_insert(error);
                    }
                }
            }
            phase
        }));
    }
    let mut total = Phase {
        latencies_us: Histogram::new_with_bounds(1, 120_000_000, 3).ok(),
        ..Phase::default()
    };
    for task in tasks {
        if let Ok(phase) = task.await {
            total.messages += phase.messages;
            total.requests += phase.requests;
            total.errors += phase.errors;
            if total.first_error.is_none() {
                total.first_error = phase.first_error;
            }
            if let (Some(all), Some(one)) =
                (total.latencies_us.as_mut(), phase.latencies_us.as_ref())
            {
                let _ = all.add(one);
            }
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// One `ReceiveMessage` and the `DeleteMessageBatch` of what it got: how many.
async fn receive_delete(client: &mut Client, url: &str) -> Result<u64, String> {
    let received = client
        .call(
            "ReceiveMessage",
            serde_json::json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 60, "WaitTimeSeconds": 0}).to_string(),
        )
        .await?;
    let handles: Vec<serde_json::Value> = received["Messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .enumerate()
                .map(|(index, message)| {
                    serde_json::json!({"Id": index.to_string(), "ReceiptHandle": message["ReceiptHandle"]})
                })
                .collect()
        })
        .unwrap_or_default();
    if handles.is_empty() {
        return Ok(0);
    }
    let count = handles.len() as u64;
    let deleted = client
        .call(
            "DeleteMessageBatch",
            serde_json::json!({"QueueUrl": url, "Entries": handles}).to_string(),
        )
        .await?;
    if deleted["Failed"]
        .as_array()
        .is_some_and(|failed| !failed.is_empty())
    {
        return Err(format!(
            "DeleteMessageBatch failed entries: {}",
            deleted["Failed"]
        ));
    }
    Ok(count)
}
