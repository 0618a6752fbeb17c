//! `serverful up`: the one-command dev mode. A server (as `serve` runs) with one stack,
//! deployed at start from the app's own folder; its APIs also answer on the bare host.
//! Prints every URL and route, and serves until Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;

use serverful_cli::UpArgs;
use serverful_gateway as gateway;
use serverful_platform::{Action, DeployRequest, Layout, Source};
use serverful_template as template;

use crate::app::{self, LoadedApp};
use crate::server::{self, ServerSettings};

/// `aws` is the tokio runtime the AWS endpoint is served on (see `crate::main`).
pub(crate) async fn run(args: UpArgs, aws: tokio::runtime::Handle) -> anyhow::Result<ExitCode> {
    let LoadedApp {
        app,
        data_dir,
        stack_name,
        overrides,
    } = app::load(&args.app)?;
    let code_versions = if args.watch {
        app::CodeVersions::Pinned
    } else {
        app::CodeVersions::Live
    };
    let started = server::start(ServerSettings {
        data_dir: data_dir.clone(),
        store: args.store.clone(),
        host: args.host,
        port: args.port,
        aws_port: args.aws_port,
        admin_host: args.host,
        admin_port: args.admin_port,
        domain: args.domain.clone(),
        region: args.app.region.clone(),
        layout: Layout::Up,
        code_versions,
        sandbox: args.app.sandbox,
        network: args.app.network,
        max_concurrency: args.max_concurrency,
        max_queued: args.max_queued,
        idle_timeout: args.idle_timeout,
        log_retention: crate::logs::retention(&args.app.logs),
        records: crate::invocations::settings(&args.app.records),
        aws,
        metrics: args.metrics,
    })
    .await;
    let server = match started {
        Ok(server) => server,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Ok(ExitCode::FAILURE);
        }
    };

    // The stack runs from the user's own folder: edits show up as instances start (or,
    // with --watch, as functions reload).
    let request = DeployRequest {
        stack: stack_name.clone(),
        source: Source {
            dir: app.base_dir.clone(),
            template_path: app.template_path.clone(),
            description: app.base_dir.display().to_string(),
            digest: String::new(),
        },
        parameter_overrides: overrides,
        delete_tables: false,
        // A development server starts even with a function that fails its init: that
        // function's requests show the error.
        warm_before_switch: false,
    };
    let progress = Arc::new(crate::builds::TerminalProgress::new());
    let outcome = server
        .platform
        .handle(Action::Deploy(request), progress.clone())
        .await;
    progress.finish();
    if let Err(error) = outcome {
        eprintln!("error: {}", error.message);
        return Ok(ExitCode::FAILURE);
    }
    let Some(version) = server.platform.current(&stack_name) else {
        eprintln!("error: the stack {stack_name} did not start");
        return Ok(ExitCode::FAILURE);
    };
    serverful_platform::bucket_events::redeliver(&server.platform);

    println!(
        "serverful {} running {}",
        env!("CARGO_PKG_VERSION"),
        app.template_path.display()
    );
    println!("{}", server.sandbox_line);
    println!("{}", server.store_line);
    server.print_endpoints();
    if !version.tables.is_empty() {
        println!("Tables:");
        for (name, setup) in &version.tables {
            let how = match setup {
                serverful_platform::tables::TableSetup::Created => "created",
                serverful_platform::tables::TableSetup::Existing => "existing, kept",
            };
            println!("  {name} ({how})");
        }
    }
    if let Some(queues) = &server.platform.config().queues {
        if !version.app.queues.is_empty() {
            println!("Queues:");
            for queue in &version.app.queues {
                println!("  {} {}", queue.logical_id, queues.queue_url(&queue.name));
            }
        }
    }
    if let Some(topics) = &server.platform.config().topics {
        if !version.app.topics.is_empty() {
            println!("Topics:");
            for topic in &version.app.topics {
                println!("  {} {}", topic.logical_id, topics.topic_arn(&topic.name));
            }
        }
    }
    if !version.app.outputs.is_empty() {
        println!("Outputs:");
        for output in &version.app.outputs {
            println!("  {} = {}", output.name, output.value);
        }
    }
    print_routes(&server, &stack_name, &version.app);
    print_api_keys(&server, &stack_name);
    let schedules = crate::schedules::lines(&server.platform, &stack_name, "  ");
    if !schedules.is_empty() {
        println!("Schedules:");
        for line in schedules {
            println!("{line}");
        }
    }
    if args.watch {
        let platform = server.platform.clone();
        if let Err(error) = crate::watch::spawn(
            Arc::new(version.app.clone()),
            data_dir.clone(),
            stack_name.clone(),
            platform,
        ) {
            eprintln!("error: --watch: failed to {error:#}");
            return Ok(ExitCode::FAILURE);
        }
    }
    println!("Ready on {} (Ctrl-C to stop)", server.base_url);
    if let Err(error) = server.serve().await {
        eprintln!("error: {error:#}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `API keys:`, each with its name, id and the value callers send in `x-api-key`.
fn print_api_keys(server: &server::Server, stack: &str) {
    let keys = server.platform.api_keys(stack);
    if keys.is_empty() {
        return;
    }
    println!("API keys:");
    for key in keys {
        let disabled = if key.enabled { "" } else { " (disabled)" };
        println!(
            "  {} {} (id {}): {}{disabled}",
            key.logical_id, key.name, key.id, key.value
        );
    }
}

/// `Routes:` with each route on the bare host, then each API's own host name.
fn print_routes(server: &server::Server, stack: &str, app: &template::App) {
    let apis: Vec<gateway::ApiSpec> = app
        .apis
        .iter()
        .map(|api| gateway::ApiSpec {
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
            cors: None,
            routes: api
                .routes
                .iter()
                .map(|route| gateway::RouteSpec {
                    method: route.method.clone(),
                    path: route.path.clone(),
                    target: serverful_invoke::FunctionRef::new(stack, route.function.as_str())
                        .with_trigger(format!(
                            "route {} {} (api {})",
                            route.method, route.path, api.api_id
                        )),
                    mode: if server.platform.is_http_mode(stack, &route.function) {
                        serverful_invoke::FunctionMode::Http
                    } else {
                        serverful_invoke::FunctionMode::Events
                    },
                    payload_format: gateway::PayloadFormat::V2,
                    auth: gateway::RouteAuth::None,
                    mock: route.mock.as_ref().map(|mock| gateway::MockAnswer {
                        status_code: mock.status_code,
                        content_type: mock.content_type.clone(),
                        body: mock.body.clone(),
                        headers: mock.headers.clone(),
                    }),
                    validation: None,
                    api_key_required: false,
                })
                .collect(),
            authorizers: Vec::new(),
            api_keys: Default::default(),
        })
        .collect();
    let route_lines = gateway::route_lines(&apis, &server.base_url);
    let port: u16 = server
        .base_url
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(0);
    print_websocket_apis(server, app, port);
    print_function_urls(server, port);
    print_websites(server, app, port);
    if route_lines.is_empty() {
        if app.websocket_apis.is_empty() && app.function_urls.is_empty() {
            println!("No routes: the template has no Api or HttpApi events");
        }
        return;
    }
    println!("Routes:");
    for line in route_lines {
        println!("  {line}");
    }
    for api_url in server.platform.routes().current().urls(port) {
        println!("  (also {})", api_url.url);
    }
}

/// `Websites:` with each bucket that has a website configuration, on its website host.
fn print_websites(server: &server::Server, app: &template::App, port: u16) {
    let sites: Vec<&template::Bucket> = app
        .buckets
        .iter()
        .filter(|bucket| bucket.configurations.contains_key("WebsiteConfiguration"))
        .collect();
    if sites.is_empty() {
        return;
    }
    println!("Websites:");
    let domain = &server.platform.config().domain;
    for bucket in sites {
        println!(
            "  {}: http://{}.s3-website.{domain}:{port}/",
            bucket.logical_id, bucket.name
        );
    }
}

/// `Function URLs:` with each URL on its own host.
fn print_function_urls(server: &server::Server, port: u16) {
    let urls = server.platform.routes().current().function_urls(port);
    if urls.is_empty() {
        return;
    }
    println!("Function URLs:");
    for url in urls {
        println!("  {} ({}): {}", url.logical_id, url.function, url.url);
    }
}

/// `WebSocket APIs:` with each API's URL on its own host and on the bare host.
fn print_websocket_apis(server: &server::Server, app: &template::App, port: u16) {
    if app.websocket_apis.is_empty() {
        return;
    }
    let bare = server.base_url.replacen("http://", "ws://", 1);
    println!("WebSocket APIs:");
    for api in &app.websocket_apis {
        println!(
            "  {}: ws://{}.execute-api.{}:{port}/{} (also {bare}/{})",
            api.logical_id,
            api.api_id,
            server.platform.config().domain,
            api.stage_name,
            api.stage_name
        );
    }
}
