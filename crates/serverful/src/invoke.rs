//! `serverful invoke FUNCTION [DIR] --event FILE|-`: one invocation without the gateway,
//! like `sam local invoke -e`. The result goes to stdout, the function's logs to stderr;
//! a function error prints Lambda's error JSON and exits 1.
//!
//! The function gets the environment `up` gives it: an AWS endpoint on loopback over the
//! app data folder's store (its tables created as `up` creates them) and its keys. With
//! `--endpoint`, the running server at that admin API runs the function instead, among its
//! stacks, with its store.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use serverful_cli::InvokeArgs;
use serverful_platform::{InvokeRequest, LogsRequest, Outcome};
use serverful_runtime as runtime;

use crate::app::{self, ACCOUNT_ID};
use crate::server;

pub(crate) async fn run(args: InvokeArgs) -> anyhow::Result<ExitCode> {
    if let Some(endpoint) = &args.remote.endpoint {
        if let Some(id) = &args.replay {
            return crate::invocations::replay_remote(endpoint, args.remote.token.as_deref(), id)
                .await;
        }
        return run_remote(&args, endpoint).await;
    }
    let loaded = app::load(&args.app)?;
    // A replay runs the recorded event of the recorded function.
    let (name, event, recorded) = match &args.replay {
        Some(id) => match crate::invocations::record_to_replay(&loaded.data_dir, id)? {
            Ok(record)
                if args.function.as_ref().is_some_and(|named| {
                    *named != record.function && *named != record.function_name
                }) =>
            {
                eprintln!(
                    "error: invocation record {id} is of function {}, not {}",
                    record.function,
                    args.function.as_deref().unwrap_or_default()
                );
                return Ok(ExitCode::FAILURE);
            }
            Ok(record) => (
                record.function.clone(),
                Bytes::from(record.event.text.clone()),
                Some(record),
            ),
            Err(code) => return Ok(code),
        },
        None => match read_event(args.event.as_deref()) {
            Ok(event) => (args.function.clone().unwrap_or_default(), event, None),
            Err(message) => {
                eprintln!("error: {message}");
                return Ok(ExitCode::FAILURE);
            }
        },
    };
    let functions = &loaded.app.functions;
    let Some(function) = functions
        .iter()
        .find(|function| function.logical_id == name || function.name == name)
    else {
        let known: Vec<&str> = functions
            .iter()
            .map(|function| function.logical_id.as_str())
            .collect();
        eprintln!("error: the template has no function named {name}");
        if known.is_empty() {
            eprintln!(
                "hint: {} defines no AWS::Serverless::Function",
                loaded.app.template_path.display()
            );
        } else {
            eprintln!("hint: functions in this template: {}", known.join(", "));
        }
        return Ok(ExitCode::FAILURE);
    };

    let mut configs = app::prepare_functions(
        &loaded.app,
        &loaded.data_dir,
        Some(&function.logical_id),
        app::CodeVersions::Live,
    )
    .await?;
    anyhow::ensure!(
        configs.len() == 1,
        "expected exactly one function named {}",
        function.logical_id
    );
    let config = configs.remove(0);
    let endpoint = AwsEndpoint::start(&loaded, &args.app.region).await?;
    let (sandbox, sandbox_line) = app::sandbox(
        args.app.sandbox,
        args.app.network,
        &loaded.data_dir,
        vec![endpoint.for_sandbox()],
    )
    .await?;
    eprintln!("{sandbox_line}");
    let options = runtime::RuntimeOptions {
        sandbox,
        aws_endpoint_url: Some(endpoint.url.clone()),
        access_key_id: endpoint.credentials.access_key_id.clone(),
        secret_access_key: endpoint.credentials.secret_access_key.clone(),
        // Logs go to stderr so stdout carries only the result.
        log_sink: runtime::LogSink::new(|function, line| {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{function} | {line}");
        }),
        ..app::runtime_options(&args.app, &loaded.data_dir)
    };
    let (function_runtime, warnings) = match runtime::Runtime::new(vec![config], options) {
        Ok(started) => started,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let started = std::time::Instant::now();
    let outcome = function_runtime.invoke(&function.logical_id, event).await;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    function_runtime.shutdown().await;
    endpoint.stop();
    if let Some(recorded) = recorded {
        let (outcome, payload) = match outcome {
            Ok(result) => (serverful_invocations::RecordOutcome::Success, result),
            Err(error) => serverful_platform::invocation_records::outcome_of(&invoke_error(error)),
        };
        let replay = serverful_platform::ReplayAnswer {
            record_id: None,
            outcome,
            payload: String::from_utf8_lossy(&payload).into_owned(),
            executed_version: Some("$LATEST".to_owned()),
            deploy: None,
            duration_ms,
        };
        return crate::invocations::print_replay(&recorded, &replay);
    }

    let mut stdout = std::io::stdout().lock();
    match outcome {
        Ok(result) => {
            stdout.write_all(&result).context("write the result")?;
            writeln!(stdout).context("write the result")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(runtime::InvokeError::FunctionError(error)) => {
            stdout.write_all(&error).context("write the error")?;
            writeln!(stdout).context("write the error")?;
            Ok(ExitCode::FAILURE)
        }
        Err(runtime::InvokeError::Timeout) => {
            let error = serde_json::json!({
                "errorType": "Sandbox.Timedout",
                "errorMessage": format!("Task timed out after {}.00 seconds", function.timeout_secs),
            });
            writeln!(stdout, "{error}").context("write the error")?;
            Ok(ExitCode::FAILURE)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The runtime's failure as the platform's callers see it.
fn invoke_error(error: runtime::InvokeError) -> serverful_invoke::InvokeError {
    use serverful_invoke::InvokeError;
    match error {
        runtime::InvokeError::FunctionError(payload) => InvokeError::FunctionError(payload),
        runtime::InvokeError::Timeout => InvokeError::Timeout,
        runtime::InvokeError::Throttled => InvokeError::Throttled,
        runtime::InvokeError::PayloadTooLarge => InvokeError::PayloadTooLarge,
        runtime::InvokeError::NoSuchFunction(name) => InvokeError::NoSuchFunction(name),
        runtime::InvokeError::ShuttingDown => {
            InvokeError::Unavailable("the function stopped".to_owned())
        }
    }
}

/// The AWS endpoint a locally invoked function reaches, as under `up`: DynamoDB over the
/// app data folder's store, on a loopback port of its own.
struct AwsEndpoint {
    url: String,
    port: u16,
    credentials: serverful_aws::Credentials,
    router: axum::Router,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl AwsEndpoint {
    async fn start(loaded: &app::LoadedApp, region: &str) -> anyhow::Result<AwsEndpoint> {
        let data_dir = &loaded.data_dir;
        let (credentials, _) = serverful_aws::load_or_generate_credentials(data_dir)
            .map_err(|error| {
                anyhow::anyhow!("{error}\nhint: set both SERVERFUL_ACCESS_KEY_ID and SERVERFUL_SECRET_ACCESS_KEY, or neither")
            })?;
        let store = serverful_platform::tables::open_store(data_dir, None, region, ACCOUNT_ID)
            .map_err(anyhow::Error::msg)?;
        let tables = loaded.app.tables.clone();
        let tables_store = store.clone();
        tokio::task::spawn_blocking(move || {
            serverful_platform::tables::ensure_tables(&tables_store, &tables)
        })
        .await
        .context("create the app's tables")?
        .map_err(anyhow::Error::msg)?;
        let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .context("listen on a loopback port for the AWS endpoint")?;
        let address = listener
            .local_addr()
            .context("read the AWS endpoint's address")?;
        // The function gets the endpoint's own keys: there is no stack here to scope them to.
        let state = serverful_aws::AwsState::new(credentials.clone()).with_region(region);
        let queues = server::open_queues(data_dir, None, region, &format!("http://{address}"))?;
        let topics = server::open_topics(data_dir, None, region, &format!("http://{address}"))?;
        let s3 = serverful_s3::open_in(data_dir, state.keys.clone(), region)
            .context("open the S3 buckets")?;
        let router = server::aws_endpoint(
            state,
            store,
            Some(queues),
            None,
            Some(topics),
            None,
            Some(s3),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = router.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(error) =
                server::serve_aws(listener, served, "the AWS endpoint", shutdown).await
            {
                tracing::warn!("the AWS endpoint stopped: {error}");
            }
        });
        Ok(AwsEndpoint {
            url: format!("http://{address}"),
            port: address.port(),
            credentials,
            router,
            stop,
        })
    }

    /// The same endpoint inside a sandboxed function's own network namespace.
    fn for_sandbox(&self) -> runtime::sandbox::PlatformEndpoint {
        let router = Arc::new(std::sync::OnceLock::new());
        let _ = router.set(self.router.clone());
        server::sandbox_endpoint(self.port, router, tokio::runtime::Handle::current())
    }

    fn stop(self) {
        let _ = self.stop.send(());
    }
}

/// `invoke --endpoint`: the running server calls its function; its log lines of the call
/// follow the result on stderr.
async fn run_remote(args: &InvokeArgs, endpoint: &str) -> anyhow::Result<ExitCode> {
    let event = match read_event(args.event.as_deref()) {
        Ok(event) => event,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let client = crate::remote::client_for(endpoint, args.remote.token.as_deref())?;
    let request = InvokeRequest {
        function: args.function.clone().unwrap_or_default(),
        stack: args.app.stack_name.clone(),
        qualifier: args.qualifier.clone(),
        event: event.to_vec(),
    };
    let outcome = match client.invoke(&request).await {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let Outcome::Invoked {
        stack,
        function,
        payload,
        failed,
        executed_version,
        started_ms,
    } = outcome
    else {
        anyhow::bail!("the server answered the invocation with {outcome:?}");
    };
    print_call_logs(&client, &stack, &function, started_ms).await;
    if let Some(version) = executed_version {
        eprintln!("executed version: {version}");
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{payload}").context("write the result")?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The function's log lines since the call began, on stderr as a local invoke prints
/// them. The server writes lines in batches a few tens of milliseconds apart, so the
/// lines are read once the call's last batch is in.
async fn print_call_logs(
    client: &serverful_admin::Client,
    stack: &str,
    function: &str,
    started_ms: i64,
) {
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let mut request = LogsRequest {
        function: function.to_owned(),
        stack: Some(stack.to_owned()),
        since_ms: Some(started_ms),
        after: None,
        limit: 1000,
    };
    loop {
        let Ok(Outcome::Logs { lines, cursor, .. }) = client.logs(&request).await else {
            return;
        };
        let mut err = std::io::stderr().lock();
        for line in &lines {
            let _ = writeln!(err, "{function} | {}", line.message);
        }
        if lines.len() < request.limit || cursor.is_none() {
            return;
        }
        request.after = cursor;
    }
}

/// The event: a file, standard input for `-`, or `{}` when none is given. It must be
/// JSON, as Lambda's Invoke API requires.
fn read_event(source: Option<&std::path::Path>) -> Result<Bytes, String> {
    let (text, origin) = match source {
        None => return Ok(Bytes::from_static(b"{}")),
        Some(path) if path.as_os_str() == "-" => {
            let mut text = Vec::new();
            std::io::stdin()
                .read_to_end(&mut text)
                .map_err(|error| format!("cannot read the event from standard input: {error}"))?;
            (text, "standard input".to_string())
        }
        Some(path) => {
            let text = std::fs::read(path).map_err(|error| {
                format!("cannot read the event file {}: {error}", path.display())
            })?;
            (text, path.display().to_string())
        }
    };
    if let Err(error) = serde_json::from_slice::<serde_json::Value>(&text) {
        return Err(format!("the event from {origin} is not JSON: {error}\nhint: pass a JSON document, e.g. --event event.json"));
    }
    Ok(Bytes::from(text))
}
