//! `serverful up`: load the template, start the functions' runtime and the gateway, print
//! the routes, and serve until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serverful_cli::{IdleTimeout, UpArgs};
use serverful_gateway as gateway;
use serverful_runtime as runtime;
use serverful_template as template;

use crate::app::{self, LoadError, LoadedApp, ACCOUNT_ID};
use crate::functions::{Functions, GatewayInvoker};

pub(crate) async fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    let LoadedApp { app, data_dir } = match app::load(&args.app) {
        Ok(loaded) => loaded,
        Err(LoadError::User(message)) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::FAILURE);
        }
        Err(LoadError::Other(error)) => return Err(error),
    };
    let versions = if args.watch {
        app::CodeVersions::Pinned
    } else {
        app::CodeVersions::Live
    };
    let functions = match app::prepare_functions(&app, &data_dir, None, versions).await {
        Ok(functions) => functions,
        Err(LoadError::User(message)) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::FAILURE);
        }
        Err(LoadError::Other(error)) => return Err(error),
    };
    let runtime_options = runtime::RuntimeOptions {
        max_concurrency: args.max_concurrency,
        max_queued: args.max_queued,
        idle_timeout: match args.idle_timeout {
            IdleTimeout::After(duration) => Some(duration),
            IdleTimeout::Never => None,
        },
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

    let gateway_address = SocketAddr::new(args.host, args.port);
    let listener = match tokio::net::TcpListener::bind(gateway_address).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {gateway_address} for the gateway: {error}");
            if error.kind() == std::io::ErrorKind::AddrInUse {
                eprintln!(
                    "hint: another program uses port {}: stop it or pass --port",
                    args.port
                );
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let bound = listener
        .local_addr()
        .context("read the gateway's address")?;
    let base_url = format!("http://{bound}");

    let apis: Vec<gateway::ApiSpec> = app.apis.iter().map(api_spec).collect();
    println!(
        "serverful {} running {}",
        env!("CARGO_PKG_VERSION"),
        app.template_path.display()
    );
    if !app.outputs.is_empty() {
        println!("Outputs:");
        for output in &app.outputs {
            println!("  {} = {}", output.name, output.value);
        }
    }
    let route_lines = gateway::route_lines(&apis, &base_url);
    if route_lines.is_empty() {
        println!("No routes: the template has no Api or HttpApi events");
    } else {
        println!("Routes:");
        for line in route_lines {
            println!("  {line}");
        }
    }
    println!("Ready on {base_url} (Ctrl-C to stop)");

    let state = gateway::GatewayState {
        apis: Arc::new(apis),
        invoker: Arc::new(GatewayInvoker(functions.clone())),
        domain_name: bound.to_string(),
        account_id: ACCOUNT_ID.to_string(),
    };
    let router = gateway::router(state);
    // Connect info gives events the client's address (`sourceIp`).
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    // Stop the functions before reporting anything else, so no process outlives us.
    stop_functions(&functions).await;
    runtime::flush_stdout();
    served.context("serve the gateway")?;
    Ok(ExitCode::SUCCESS)
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

fn api_spec(api: &template::Api) -> gateway::ApiSpec {
    gateway::ApiSpec {
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
                function: route.function.clone(),
                payload_format: match route.payload_format {
                    template::PayloadFormat::V1 => gateway::PayloadFormat::V1,
                    template::PayloadFormat::V2 => gateway::PayloadFormat::V2,
                },
            })
            .collect(),
    }
}
