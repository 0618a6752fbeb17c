//! `serverful up`: load the template, start the functions' runtime and the gateway, print
//! the routes, and serve until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use serverful_cli::{IdleTimeout, UpArgs};
use serverful_gateway as gateway;
use serverful_runtime as runtime;
use serverful_template as template;

use crate::app::{self, LoadedApp, ACCOUNT_ID};
use crate::functions::{Functions, GatewayInvoker};
use crate::lambda_api::{FunctionInfo, LambdaApi};
use crate::tables;

/// `aws` is the tokio runtime the AWS endpoint is served on (see `crate::main`).
pub(crate) async fn run(args: UpArgs, aws: tokio::runtime::Handle) -> anyhow::Result<ExitCode> {
    let LoadedApp { app, data_dir } = app::load(&args.app)?;
    let versions = if args.watch {
        app::CodeVersions::Pinned
    } else {
        app::CodeVersions::Live
    };
    let functions = app::prepare_functions(&app, &data_dir, None, versions).await?;
    // Both listeners first: a port in use stops start-up before any function starts, and
    // functions need the endpoint's address in their environment.
    let Some(gateway_listener) = bind(args.host, args.port, "the gateway", "--port").await else {
        return Ok(ExitCode::FAILURE);
    };
    let Some(aws_listener) = bind(args.host, args.aws_port, "the AWS endpoint", "--aws-port").await
    else {
        return Ok(ExitCode::FAILURE);
    };
    let gateway_address = gateway_listener
        .local_addr()
        .context("read the gateway's address")?;
    let aws_address = aws_listener
        .local_addr()
        .context("read the AWS endpoint's address")?;
    let base_url = format!("http://{gateway_address}");
    let aws_url = format!("http://{}", reachable(aws_address));

    let (credentials, key_source) = match serverful_aws::load_or_generate_credentials(&data_dir) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: {error}");
            eprintln!("hint: set both SERVERFUL_ACCESS_KEY_ID and SERVERFUL_SECRET_ACCESS_KEY, or neither");
            return Ok(ExitCode::FAILURE);
        }
    };

    let store = match tables::open_store(&data_dir, &args.app.region, ACCOUNT_ID) {
        Ok(store) => store,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let table_setups = match tables::ensure_tables(&store, &app.tables) {
        Ok(setups) => setups,
        Err(message) => {
            eprintln!("error: {message}");
            eprintln!(
                "hint: fix the table's definition in {}",
                app.template_path.display()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    tables::spawn_ttl_sweep(store.clone());

    // Sandboxed functions reach the AWS endpoint through a listener inside their own
    // network namespace, served by the same router once it exists (below).
    let aws_router: Arc<std::sync::OnceLock<axum::Router>> = Arc::default();
    let endpoint_router = aws_router.clone();
    let endpoint_runtime = aws.clone();
    let endpoints = vec![runtime::sandbox::PlatformEndpoint {
        port: aws_address.port(),
        serve: Arc::new(move |listener: tokio::net::TcpListener| {
            let router = endpoint_router.get().cloned().unwrap_or_default();
            // The listener moves to the AWS endpoint's runtime, so that its connections
            // are polled there too.
            let listener = listener.into_std();
            endpoint_runtime.spawn(async move {
                let served = match listener {
                    Ok(listener) => {
                        let name = "sandbox's AWS endpoint";
                        serve_aws(listener, router, name, std::future::pending()).await
                    }
                    Err(error) => Err(error),
                };
                if let Err(error) = served {
                    tracing::debug!("AWS endpoint inside a sandbox stopped: {error}");
                }
            })
        }),
    }];
    let (sandbox, sandbox_line) = match app::sandbox(&args.app, &data_dir, endpoints).await {
        Ok(sandbox) => sandbox,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let runtime_options = runtime::RuntimeOptions {
        sandbox,
        max_concurrency: args.max_concurrency,
        max_queued: args.max_queued,
        idle_timeout: match args.idle_timeout {
            IdleTimeout::After(duration) => Some(duration),
            IdleTimeout::Never => None,
        },
        aws_endpoint_url: Some(aws_url.clone()),
        access_key_id: credentials.access_key_id.clone(),
        secret_access_key: credentials.secret_access_key.clone(),
        ..app::runtime_options(&args.app, &data_dir)
    };
    let (functions, warnings) = match Functions::new(functions, runtime_options) {
        Ok(started) => started,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let functions = Arc::new(functions);
    let app = Arc::new(app);
    if args.watch {
        if let Err(error) = crate::watch::spawn(app.clone(), data_dir.clone(), functions.clone()) {
            eprintln!("error: --watch: failed to {error:#}");
            return Ok(ExitCode::FAILURE);
        }
    }

    let stack = app::stack_name(&args.app);
    let apis: Vec<gateway::ApiSpec> = app
        .apis
        .iter()
        .map(|api| api_spec(api, &stack, &functions))
        .collect();
    println!(
        "serverful {} running {}",
        env!("CARGO_PKG_VERSION"),
        app.template_path.display()
    );
    println!("{sandbox_line}");
    match &key_source {
        serverful_aws::KeySource::Environment => {
            println!("AWS endpoint {aws_url} (keys from SERVERFUL_ACCESS_KEY_ID / SERVERFUL_SECRET_ACCESS_KEY)");
        }
        serverful_aws::KeySource::DataDir(path) | serverful_aws::KeySource::Generated(path) => {
            println!("AWS endpoint {aws_url} (keys in {})", path.display());
            println!("  AWS_ACCESS_KEY_ID={}", credentials.access_key_id);
            println!("  AWS_SECRET_ACCESS_KEY={}", credentials.secret_access_key);
        }
    }
    if !table_setups.is_empty() {
        println!("Tables:");
        for (name, setup) in &table_setups {
            let how = match setup {
                tables::TableSetup::Created => "created",
                tables::TableSetup::Existing => "existing, kept",
            };
            println!("  {name} ({how})");
        }
    }
    if !app.outputs.is_empty() {
        println!("Outputs:");
        for output in &app.outputs {
            println!("  {} = {}", output.name, output.value);
        }
    }
    let route_lines = gateway::route_lines(&apis, &base_url);
    // The one stack answers on the bare host, as `sam local start-api` does, and each API
    // on its own host too, as on AWS.
    let routes = gateway::Routes::new(gateway::RoutesSpec {
        apis,
        domain: args.domain.clone(),
        custom_domains: Vec::new(),
        bare_host: true,
    });
    if route_lines.is_empty() {
        println!("No routes: the template has no Api or HttpApi events");
    } else {
        println!("Routes:");
        for line in route_lines {
            println!("  {line}");
        }
        for api_url in routes.current().urls(gateway_address.port()) {
            println!("  (also {})", api_url.url);
        }
    }

    let gateway_state = gateway::GatewayState {
        routes,
        invoker: Arc::new(GatewayInvoker(functions.clone())),
        domain_name: gateway_address.to_string(),
        account_id: ACCOUNT_ID.to_string(),
    };
    let lambda_api = LambdaApi {
        functions: functions.clone(),
        infos: Arc::new(
            app.functions
                .iter()
                .map(FunctionInfo::from_template)
                .collect(),
        ),
        account_id: ACCOUNT_ID.to_string(),
    };
    let aws_state = serverful_aws::AwsState::new(credentials)
        .with_json_service(Arc::new(serverful_aws::DynamoDbService::new(store.clone())))
        .with_json_service(Arc::new(serverful_aws::DynamoDbStreamsService::new(store)))
        .with_rest_service(Arc::new(lambda_api));

    // One signal stops both listeners.
    let (stop_sender, stop_receiver) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_sender.send(true);
    });
    let stopped = |mut receiver: tokio::sync::watch::Receiver<bool>| async move {
        let _ = receiver.wait_for(|stop| *stop).await;
    };
    // Connect info gives events the client's address (`sourceIp`).
    let gateway_service =
        gateway::router(gateway_state).into_make_service_with_connect_info::<SocketAddr>();
    let gateway_listener = gateway_listener.tap_io(|stream| set_nodelay(stream, "gateway"));
    let gateway_served = axum::serve(gateway_listener, gateway_service)
        .with_graceful_shutdown(stopped(stop_receiver.clone()));
    let aws_router = aws_router
        .get_or_init(|| serverful_aws::router(aws_state))
        .clone();
    // Cold starts then find their sandbox set up (a few ms each, in parallel). Parked
    // sandboxes serve the AWS endpoint inside, so its router must exist first.
    functions.park_sandboxes().await;
    println!("Ready on {base_url} (Ctrl-C to stop)");
    // The AWS endpoint is served on its own runtime; its listener is registered there.
    let aws_listener = aws_listener
        .into_std()
        .context("hand over the AWS endpoint")?;
    let aws_served = aws.spawn(serve_aws(
        aws_listener,
        aws_router,
        "AWS endpoint",
        stopped(stop_receiver),
    ));
    let (gateway_result, aws_result) = tokio::join!(gateway_served, aws_served);
    let aws_result = aws_result.unwrap_or_else(|join_error| Err(std::io::Error::other(join_error)));
    // Stop the functions before reporting anything else, so no process outlives us.
    stop_functions(&functions).await;
    runtime::flush_stdout();
    gateway_result.context("serve the gateway")?;
    aws_result.context("serve the AWS endpoint")?;
    Ok(ExitCode::SUCCESS)
}

/// Serves the AWS endpoint's `router` on `listener` (handed over from another tokio
/// runtime: it is registered with the caller's) until `shutdown` completes.
async fn serve_aws(
    listener: std::net::TcpListener,
    router: axum::Router,
    name: &'static str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?
        .tap_io(move |stream| set_nodelay(stream, name));
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Sets TCP_NODELAY on a connection to the `listener` named: without it a response
/// written in several pieces (headers, then streamed body chunks, as HTTP-mode responses
/// are) waits for the client's delayed ACK, about 40 ms per request.
fn set_nodelay(stream: &mut tokio::net::TcpStream, listener: &str) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!("failed to set TCP_NODELAY on a {listener} connection: {error}");
    }
}

/// Binds a listener, or says why not (and what to do) and returns `None`.
async fn bind(
    host: std::net::IpAddr,
    port: u16,
    what: &str,
    flag: &str,
) -> Option<tokio::net::TcpListener> {
    let address = SocketAddr::new(host, port);
    match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => Some(listener),
        Err(error) => {
            eprintln!("error: cannot listen on {address} for {what}: {error}");
            if error.kind() == std::io::ErrorKind::AddrInUse {
                eprintln!("hint: another program uses port {port}: stop it or pass {flag}");
            }
            None
        }
    }
}

/// The address functions and tools use to reach a listener: a wildcard bind is reached
/// over loopback.
fn reachable(address: SocketAddr) -> SocketAddr {
    if address.ip().is_unspecified() {
        let loopback: std::net::IpAddr = if address.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        SocketAddr::new(loopback, address.port())
    } else {
        address
    }
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!("failed to listen for SIGTERM: {error}");
                let _ = interrupt.await;
                return;
            }
        };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
    eprintln!("stopping: killing function processes");
}

async fn stop_functions(functions: &Functions) {
    if tokio::time::timeout(Duration::from_secs(10), functions.shutdown())
        .await
        .is_err()
    {
        tracing::error!("function processes did not stop within 10 s");
    }
}

/// The gateway's view of one API of the app: its routes name the stack's functions and
/// say which ones are web servers (HTTP mode).
fn api_spec(api: &template::Api, stack: &str, functions: &Functions) -> gateway::ApiSpec {
    gateway::ApiSpec {
        stack: stack.to_owned(),
        logical_id: api.logical_id.clone(),
        api_id: api.api_id.clone(),
        kind: match api.kind {
            template::ApiKind::Rest => gateway::ApiKind::Rest,
            template::ApiKind::Http => gateway::ApiKind::Http,
        },
        stage_name: api.stage_name.clone(),
        stage_variables: api.stage_variables.clone(),
        binary_media_types: api.binary_media_types.clone(),
        routes: api
            .routes
            .iter()
            .map(|route| gateway::RouteSpec {
                method: route.method.clone(),
                path: route.path.clone(),
                target: gateway::FunctionRef::new(stack, route.function.as_str()),
                mode: if functions.is_http_mode(&route.function) {
                    gateway::FunctionMode::Http
                } else {
                    gateway::FunctionMode::Events
                },
                payload_format: match route.payload_format {
                    template::PayloadFormat::V1 => gateway::PayloadFormat::V1,
                    template::PayloadFormat::V2 => gateway::PayloadFormat::V2,
                },
            })
            .collect(),
    }
}
