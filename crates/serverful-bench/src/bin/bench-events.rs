//! The event benchmark: `serverful up` runs a Node.js function that reports each event it
//! gets to a loopback HTTP listener of this program. Measured side by side in one run:
//! synchronous `Invoke` through the Lambda API (the baseline), asynchronous `Invoke`
//! (`InvocationType: Event`: throughput and the time from the call to the function's
//! start), and how late a `cron(* * * * ? *)` schedule fires against its tick. Prints a
//! markdown report on stdout, progress on stderr.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serverful_bench::report::{load_average, quantile, Machine};
use serverful_bench::server::ServerProcess;
use serverful_bench::sigv4::Signer;

/// Invoke a function synchronously and asynchronously, trigger it from a table's stream and
/// from PutEvents, and let a schedule fire; report
#[derive(Debug, Parser)]
#[command(name = "bench-events")]
struct Args {
    /// Invocations per phase
    #[arg(long, default_value_t = 2000)]
    invocations: usize,
    /// Concurrent callers
    #[arg(long, short = 'c', default_value_t = 8)]
    connections: usize,
    /// Table writes and PutEvents calls, one at a time, whose triggered start is timed
    #[arg(long, default_value_t = 300)]
    triggers: usize,
    /// Schedule ticks to wait for (each a real minute; 0 skips the schedule). The schedule
    /// is `cron(* * * * ? *)`, whose ticks fall on whole minutes: a `rate` schedule's ticks
    /// fall at its deploy time's fraction of a second, which the event's `time` (whole
    /// seconds, as AWS writes it) leaves out
    #[arg(long, default_value_t = 2)]
    ticks: usize,
    /// The serverful binary [default: beside this one]
    #[arg(long)]
    serverful: Option<std::path::PathBuf>,
}

const TEMPLATE: &str = "Transform: AWS::Serverless-2016-10-31
Parameters:
  Callback: {Type: String}
Globals:
  Function:
    Runtime: nodejs20.x
    CodeUri: src/
    Handler: index.handler
    MemorySize: 256
    Environment:
      Variables:
        CALLBACK: !Ref Callback
Resources:
  Echo:
    Type: AWS::Serverless::Function
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: bench-items
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: KEYS_ONLY}
  StreamEcho:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Items.StreamArn
            StartingPosition: LATEST
            BatchSize: 100
  RuleEcho:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Bench:
          Type: EventBridgeRule
          Properties:
            Pattern: {source: [bench]}
  Ticker:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Tick:
          Type: Schedule
          Properties:
            Schedule: cron(* * * * ? *)
";

/// Reports the event's id (or a schedule's tick time) to the bench, then answers.
const HANDLER: &str = "const http = require('node:http');
const agent = new http.Agent({ keepAlive: true });
const report = (body) => new Promise((resolve, reject) => {
  const request = http.request(process.env.CALLBACK, { method: 'POST', agent }, (response) => {
    response.resume();
    response.on('end', resolve);
  });
  request.on('error', reject);
  request.end(body);
});
exports.handler = async (event) => {
  if (Array.isArray(event.Records)) {
    for (const record of event.Records) await report(`id ${record.dynamodb.Keys.pk.S}`);
  } else if (event['detail-type'] === 'Scheduled Event') {
    await report(`tick ${event.time}`);
  } else if (event.detail !== undefined) {
    await report(`id ${event.detail.id}`);
  } else {
    await report(`id ${event.id}`);
  }
  return { ok: true };
};
";

/// What the function reported: when each id and each tick arrived.
#[derive(Default)]
struct Arrivals {
    ids: HashMap<u64, Instant>,
    ticks: Vec<(String, SystemTime)>,
}

fn main() -> ExitCode {
    serverful_bench::report::print_report(run(Args::parse()))
}

/// The loopback listener the function reports to.
async fn listen(arrivals: Arc<Mutex<Arrivals>>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let arrivals = arrivals.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let arrivals = arrivals.clone();
                        async move {
                            let at = (Instant::now(), SystemTime::now());
                            let body = request.into_body().collect().await?.to_bytes();
                            let text = String::from_utf8_lossy(&body);
                            let mut arrivals = arrivals
                                .lock()
                                .unwrap_or_else(|poisoned| poisoned.into_inner());
                            if let Some(id) = text.strip_prefix("id ") {
                                if let Ok(id) = id.parse() {
                                    arrivals.ids.entry(id).or_insert(at.0);
                                }
                            } else if let Some(time) = text.strip_prefix("tick ") {
                                arrivals.ticks.push((time.to_owned(), at.1));
                            }
                            Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::new())))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(address)
}

/// A signed Lambda API caller on one keep-alive connection.
struct Lambda {
    address: SocketAddr,
    signer: Signer,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Lambda {
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        invocation_type: Option<&str>,
        body: Bytes,
    ) -> anyhow::Result<(u16, Bytes)> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            let stream = tokio::net::TcpStream::connect(self.address).await?;
            stream.set_nodelay(true)?;
            let (sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        let host = self.address.to_string();
        let amz: Vec<(&str, &str)> = invocation_type
            .map(|kind| ("x-amz-invocation-type", kind))
            .into_iter()
            .collect();
        let signature = self.signer.sign_rest(
            method,
            &host,
            path,
            &amz,
            &body,
            time::OffsetDateTime::now_utc(),
        );
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, host)
            .header("x-amz-date", signature.amz_date)
            .header(hyper::header::AUTHORIZATION, signature.authorization);
        for (name, value) in amz {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(body))?;
        let sender = self.sender.as_mut().context("connected above")?;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// One signed JSON-protocol call (`x-amz-target`) on its own connection.
fn json_call(
    address: SocketAddr,
    signer: &mut Signer,
    target: &'static str,
    body: String,
) -> impl std::future::Future<Output = anyhow::Result<(u16, Bytes)>> {
    // Signed now, sent by the future: the signer is not held across the call.
    let host = address.to_string();
    let signature = signer.sign(
        &host,
        target,
        body.as_bytes(),
        time::OffsetDateTime::now_utc(),
    );
    send_json(address, host, signature, target, body)
}

async fn send_json(
    address: SocketAddr,
    host: String,
    signature: serverful_bench::sigv4::Signature,
    target: &'static str,
    body: String,
) -> anyhow::Result<(u16, Bytes)> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = hyper::Request::post("/")
        .header(hyper::header::HOST, host)
        .header(
            hyper::header::CONTENT_TYPE,
            serverful_bench::sigv4::CONTENT_TYPE,
        )
        .header("x-amz-date", signature.amz_date)
        .header("x-amz-target", target)
        .header(hyper::header::AUTHORIZATION, signature.authorization)
        .body(Full::new(Bytes::from(body)))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    Ok((status, response.into_body().collect().await?.to_bytes()))
}

/// Sends `count` triggers one at a time (`send(id)`), each once the previous one's
/// function has started, and returns the time from each send to its function's start.
async fn time_triggers<F, Fut>(
    arrivals: &Arc<Mutex<Arrivals>>,
    first_id: u64,
    count: usize,
    mut send: F,
) -> anyhow::Result<Vec<f64>>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut times = Vec::new();
    for id in first_id..first_id + count as u64 {
        let sent = Instant::now();
        send(id).await?;
        let deadline = sent + Duration::from_secs(30);
        loop {
            let arrived = arrivals
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .ids
                .get(&id)
                .copied();
            if let Some(at) = arrived {
                times.push(ms(at - sent));
                break;
            }
            if Instant::now() > deadline {
                bail!("trigger {id} started no function within 30 s");
            }
            tokio::task::yield_now().await;
        }
    }
    Ok(times)
}

/// Runs `invocations` calls on `connections` callers: each returns the call's start and
/// its time. A failed call is an error.
async fn invoke_all(
    address: SocketAddr,
    keys: &(String, String),
    function: &str,
    invocation_type: &'static str,
    invocations: usize,
    connections: usize,
    first_id: u64,
) -> anyhow::Result<Vec<(u64, Instant, Duration)>> {
    let next = Arc::new(std::sync::atomic::AtomicU64::new(first_id));
    let last = first_id + invocations as u64;
    let path = format!("/2015-03-31/functions/{function}/invocations");
    let callers: Vec<_> = (0..connections)
        .map(|_| {
            let (next, path) = (next.clone(), path.clone());
            let mut lambda = Lambda {
                address,
                signer: Signer::new(&keys.0, &keys.1, "us-east-1", "lambda"),
                sender: None,
            };
            tokio::spawn(async move {
                let mut calls = Vec::new();
                loop {
                    let id = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if id >= last {
                        return Ok::<_, anyhow::Error>(calls);
                    }
                    let body = Bytes::from(format!(r#"{{"id":{id}}}"#));
                    let started = Instant::now();
                    let (status, answer) = lambda
                        .call("POST", &path, Some(invocation_type), body)
                        .await?;
                    let expected = if invocation_type == "Event" { 202 } else { 200 };
                    if status != expected {
                        bail!(
                            "{invocation_type} invocation {id}: status {status}: {}",
                            String::from_utf8_lossy(&answer)
                        );
                    }
                    calls.push((id, started, started.elapsed()));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for caller in callers {
        all.extend(caller.await.context("a caller")??);
    }
    Ok(all)
}

fn write_app(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(dir.join("template.yaml"), TEMPLATE)?;
    std::fs::write(dir.join("src/index.js"), HANDLER)?;
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// p50 / p99 / max of `values` (ms).
fn spread(values: &[f64]) -> String {
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    match (quantile(values, 0.5), quantile(values, 0.99)) {
        (Some(p50), Some(p99)) => format!("{p50:.2} | {p99:.2} | {max:.2}"),
        _ => "- | - | -".to_owned(),
    }
}

async fn run(args: Args) -> anyhow::Result<String> {
    let program = match &args.serverful {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("find this program")?
            .with_file_name("serverful"),
    };
    let scratch = tempfile::tempdir().context("make a scratch folder")?;
    let app = scratch.path().join("app");
    write_app(&app)?;
    let data = scratch.path().join("data");
    let arrivals = Arc::new(Mutex::new(Arrivals::default()));
    let callback = listen(arrivals.clone()).await?;

    eprintln!("starting serverful up");
    let (app_arg, data_arg) = (app.display().to_string(), data.display().to_string());
    let parameter = format!("Callback=http://{callback}/");
    let server = ServerProcess::start(
        &program,
        &[
            "up",
            &app_arg,
            "--data",
            &data_arg,
            "--port",
            "0",
            "--aws-port",
            "0",
            "--admin-port",
            "0",
            // The function reports to this program's loopback listener.
            "--sandbox",
            "off",
            "--parameter-overrides",
            &parameter,
        ],
        scratch.path(),
        "up",
        Duration::from_secs(60),
    )
    .await?;
    let stdout = server.stdout();
    let aws: SocketAddr = stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("AWS endpoint http://")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|address| address.parse().ok())
        })
        .context("up printed no AWS endpoint")?;
    let keys: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("aws-keys.json")).context("read the endpoint's keys")?,
    )?;
    let keys = (
        keys["accessKeyId"].as_str().unwrap_or_default().to_owned(),
        keys["secretAccessKey"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );
    // The function's physical name, from the Lambda API's list.
    let mut lambda = Lambda {
        address: aws,
        signer: Signer::new(&keys.0, &keys.1, "us-east-1", "lambda"),
        sender: None,
    };
    let (_, listing) = lambda
        .call("GET", "/2015-03-31/functions/", None, Bytes::new())
        .await?;
    let listing: serde_json::Value = serde_json::from_slice(&listing)?;
    let function = listing["Functions"]
        .as_array()
        .and_then(|functions| {
            functions
                .iter()
                .filter_map(|function| function["FunctionName"].as_str())
                .find(|name| name.contains("-Echo-"))
        })
        .with_context(|| format!("no Echo function in {listing}"))?
        .to_owned();

    // Warm-up: as many instances as callers, both ways.
    invoke_all(
        aws,
        &keys,
        &function,
        "RequestResponse",
        200,
        args.connections,
        1 << 40,
    )
    .await?;

    eprintln!("{} synchronous invocations", args.invocations);
    let started = Instant::now();
    let sync = invoke_all(
        aws,
        &keys,
        &function,
        "RequestResponse",
        args.invocations,
        args.connections,
        0,
    )
    .await?;
    let sync_elapsed = started.elapsed();

    eprintln!("{} asynchronous invocations", args.invocations);
    let first_async = 1 << 30;
    let started = Instant::now();
    let accepted = invoke_all(
        aws,
        &keys,
        &function,
        "Event",
        args.invocations,
        args.connections,
        first_async,
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let last_arrival = loop {
        let done = {
            let arrivals = arrivals
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let arrived: Vec<Instant> = arrivals
                .ids
                .iter()
                .filter(|(id, _)| **id >= first_async)
                .map(|(_, at)| *at)
                .collect();
            (arrived.len() >= args.invocations).then(|| arrived.into_iter().max())
        };
        if let Some(last) = done {
            break last.unwrap_or_else(Instant::now);
        }
        if Instant::now() > deadline {
            bail!("not every asynchronous event arrived within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let async_elapsed = last_arrival - started;
    let starts: Vec<f64> = {
        let arrivals = arrivals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        accepted
            .iter()
            .filter_map(|(id, sent, _)| arrivals.ids.get(id).map(|at| ms(*at - *sent)))
            .collect()
    };

    eprintln!("{} table writes, one at a time", args.triggers);
    let mut dynamodb = Signer::new(&keys.0, &keys.1, "us-east-1", "dynamodb");
    let stream_starts = time_triggers(&arrivals, 1 << 50, args.triggers, |id| {
        let body = format!(r#"{{"TableName":"bench-items","Item":{{"pk":{{"S":"{id}"}}}}}}"#);
        let call = json_call(aws, &mut dynamodb, "DynamoDB_20120810.PutItem", body);
        async move {
            let (status, answer) = call.await?;
            if status != 200 {
                bail!("PutItem: {status}: {}", String::from_utf8_lossy(&answer));
            }
            Ok(())
        }
    })
    .await?;

    eprintln!("{} PutEvents calls, one at a time", args.triggers);
    let mut events = Signer::new(&keys.0, &keys.1, "us-east-1", "events");
    let rule_starts = time_triggers(&arrivals, 1 << 51, args.triggers, |id| {
        let body = format!(
            r#"{{"Entries":[{{"Source":"bench","DetailType":"bench","Detail":"{{\"id\":{id}}}"}}]}}"#
        );
        let call = json_call(aws, &mut events, "AWSEvents.PutEvents", body);
        async move {
            let (status, answer) = call.await?;
            let failed = serde_json::from_slice::<serde_json::Value>(&answer)
                .ok()
                .and_then(|answer| answer["FailedEntryCount"].as_u64());
            if status != 200 || failed != Some(0) {
                bail!("PutEvents: {status}: {}", String::from_utf8_lossy(&answer));
            }
            Ok(())
        }
    })
    .await?;

    let mut lateness = Vec::new();
    if args.ticks > 0 {
        eprintln!("waiting for {} schedule ticks", args.ticks);
        let deadline = Instant::now() + Duration::from_secs(61 * (args.ticks as u64 + 1));
        loop {
            let ticks = arrivals
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .ticks
                .clone();
            if ticks.len() > args.ticks || Instant::now() > deadline {
                // The first tick may be the one that waited for the Ticker's cold start.
                for (time, at) in ticks.iter().skip(1) {
                    let tick: SystemTime = time::OffsetDateTime::parse(
                        time,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .map(SystemTime::from)
                    .with_context(|| format!("the tick time {time}"))?;
                    lateness.push(ms(at.duration_since(tick).unwrap_or_default()));
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    server.stop().await;

    let machine = Machine::describe();
    let sync_rate = args.invocations as f64 / sync_elapsed.as_secs_f64();
    let async_rate = args.invocations as f64 / async_elapsed.as_secs_f64();
    let sync_latency: Vec<f64> = sync.iter().map(|(_, _, took)| ms(*took)).collect();
    let accept_latency: Vec<f64> = accepted.iter().map(|(_, _, took)| ms(*took)).collect();
    let mut out = format!(
        "Machine: {} cores, {}, {}; load average at the end {}\n\n\
         {} invocations per phase from {} concurrent callers over keep-alive connections, through the Lambda API of `serverful up` (Node.js function, `--sandbox off`).\n\n\
         | phase | invocations/s | p50 ms | p99 ms | max ms | what the time is |\n\
         | --- | ---: | ---: | ---: | ---: | --- |\n",
        machine.cores,
        machine.cpu_model,
        machine.kernel,
        load_average(),
        args.invocations,
        args.connections
    );
    out.push_str(&format!(
        "| synchronous `Invoke` | {sync_rate:.0} | {} | the call, to its answer |\n",
        spread(&sync_latency)
    ));
    out.push_str(&format!(
        "| asynchronous `Invoke` (accepted) | | {} | the call, to its 202 (the event durable) |\n",
        spread(&accept_latency)
    ));
    out.push_str(&format!(
        "| asynchronous `Invoke` (run) | {async_rate:.0} | {} | the call, to the function's start |\n",
        spread(&starts)
    ));
    out.push_str(&format!(
        "| table write → stream-triggered function start | | {} | `PutItem` sent, to the function's start (one write at a time) |\n",
        spread(&stream_starts)
    ));
    out.push_str(&format!(
        "| `PutEvents` → rule-triggered function start | | {} | `PutEvents` sent, to the function's start (one call at a time) |\n",
        spread(&rule_starts)
    ));
    out.push_str(&format!(
        "\n- asynchronous ÷ synchronous throughput: **{:.2}** (target ≥ 0.5)\n",
        async_rate / sync_rate
    ));
    if args.ticks > 0 {
        out.push_str(&format!(
            "- schedule lateness, tick to function start (`cron(* * * * ? *)`, {} ticks after the first): p50 | p99 | max = {} ms (target < 50 ms)\n",
            lateness.len(),
            spread(&lateness)
        ));
    }
    Ok(out)
}
