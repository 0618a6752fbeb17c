//! What `up` and `serve` share: the three listeners (gateway, AWS endpoint, admin API),
//! the endpoint's keys and the admin token, the store, the sandbox, the platform with its
//! gateway and AWS services, and serving until Ctrl-C or SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use serverful_cli::{IdleTimeout, NetworkMode, SandboxMode};
use serverful_gateway as gateway;
use serverful_platform::{Layout, Platform, PlatformConfig, PlatformInvoker};
use serverful_runtime as runtime;

use crate::app::ACCOUNT_ID;

/// Everything a server is started with.
pub(crate) struct ServerSettings {
    pub data_dir: PathBuf,
    /// `--store`: the PostgreSQL database of a cluster, or `None` for the data folder.
    pub store: Option<String>,
    pub host: IpAddr,
    pub port: u16,
    pub aws_port: u16,
    pub admin_host: IpAddr,
    pub admin_port: u16,
    pub domain: String,
    pub region: String,
    pub layout: Layout,
    pub code_versions: serverful_platform::CodeVersions,
    pub sandbox: SandboxMode,
    pub network: NetworkMode,
    pub max_concurrency: u32,
    pub max_queued: u32,
    pub idle_timeout: IdleTimeout,
    /// How much of each function's log `DATA/logs.sqlite` keeps.
    pub log_retention: serverful_logs::Retention,
    /// What invocation records `DATA/invocations.sqlite` keeps.
    pub records: serverful_invocations::Settings,
    /// The tokio runtime the AWS endpoint is served on (see `crate::main`).
    pub aws: tokio::runtime::Handle,
    /// `--no-metrics` and `--metrics-public`.
    pub metrics: serverful_cli::MetricsArgs,
}

/// A started server, not yet serving: what the banner prints, and the listeners.
pub(crate) struct Server {
    pub platform: Arc<Platform>,
    pub base_url: String,
    pub aws_url: String,
    pub admin_url: String,
    pub sandbox_line: String,
    /// Where the DynamoDB tables live, and which node this is.
    pub store_line: String,
    /// In a cluster: the nodes' list and this node's id, which it leaves when it stops.
    cluster_node: Option<(
        Arc<dyn serverful_cluster::Nodes>,
        String,
        tokio::task::AbortHandle,
    )>,
    pub credentials: serverful_aws::Credentials,
    pub key_source: serverful_aws::KeySource,
    pub token_source: serverful_admin::TokenSource,
    pub token: String,
    /// The server's metrics (disabled with `--no-metrics`), and whether `/metrics` is
    /// served without the token.
    pub metrics: serverful_metrics::Metrics,
    pub metrics_public: bool,
    gateway_listener: tokio::net::TcpListener,
    aws_listener: tokio::net::TcpListener,
    admin_listener: tokio::net::TcpListener,
    aws_router: Arc<std::sync::OnceLock<axum::Router>>,
    gateway_state: gateway::GatewayState,
    admin_state: serverful_admin::AdminState,
    aws: tokio::runtime::Handle,
}

/// Binds the listeners, opens the store and the stack state, and makes the platform.
/// Errors say what to do (`--port` in use, bad keys).
pub(crate) async fn start(settings: ServerSettings) -> anyhow::Result<Server> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("create the data folder {}", settings.data_dir.display()))?;
    let data_dir = settings
        .data_dir
        .canonicalize()
        .context("resolve the data folder")?;
    // Every listener first: a port in use stops start-up before anything runs, and
    // functions need the endpoint's address in their environment.
    let gateway_listener = bind(settings.host, settings.port, "the gateway", "--port").await?;
    let aws_listener = bind(
        settings.host,
        settings.aws_port,
        "the AWS endpoint",
        "--aws-port",
    )
    .await?;
    let admin_listener = bind(
        settings.admin_host,
        settings.admin_port,
        "the admin API",
        "--admin-port",
    )
    .await?;
    let gateway_address = gateway_listener
        .local_addr()
        .context("read the gateway's address")?;
    let aws_address = aws_listener
        .local_addr()
        .context("read the AWS endpoint's address")?;
    let admin_address = admin_listener
        .local_addr()
        .context("read the admin API's address")?;
    let base_url = format!("http://{gateway_address}");
    let aws_url = format!("http://{}", reachable(aws_address));
    let admin_url = format!("http://{}", reachable(admin_address));

    let database = match &settings.store {
        Some(url) => Some(crate::cluster::connect_database(url).await?),
        None => None,
    };
    let cluster = match &database {
        Some(database) => Some(
            crate::cluster::join(database.clone(), &admin_url, admin_address, &data_dir).await?,
        ),
        None => None,
    };
    let (credentials, key_source) = serverful_aws::load_or_generate_credentials(&data_dir)
        .map_err(|error| {
            anyhow::anyhow!("{error}\nhint: set both SERVERFUL_ACCESS_KEY_ID and SERVERFUL_SECRET_ACCESS_KEY, or neither")
        })?;
    let (token, token_source) = serverful_admin::load_or_generate_token(
        &data_dir,
        std::env::var("SERVERFUL_ADMIN_TOKEN").ok(),
    )
    .context("make the admin token")?;
    let store_line = match &cluster {
        Some(cluster) => format!(
            "Store: PostgreSQL {} (node {})",
            cluster.database.url(),
            cluster.node.name
        ),
        None => format!("Store: SQLite in {}", data_dir.display()),
    };
    let store = serverful_platform::tables::open_store(
        &data_dir,
        database.clone(),
        &settings.region,
        ACCOUNT_ID,
    )
    .map_err(anyhow::Error::msg)?;
    serverful_platform::tables::spawn_ttl_sweep(
        store.clone(),
        match &cluster {
            Some(cluster) => cluster.leases.clone(),
            None => Arc::new(serverful_cluster::SingleNode),
        },
    );
    if database.is_some() {
        serverful_platform::tables::spawn_catalog_watch(store.clone());
    }
    // In a cluster, `serve`'s stacks, versions and their sources are the cluster's
    // (`up` runs the app of its own folder, and keeps its state in that folder).
    let shared_versions = match &database {
        Some(database) if settings.layout == Layout::Serve => Some(Arc::new(
            serverful_platform::cluster_versions::SharedState::open(database.clone(), &data_dir)
                .map_err(anyhow::Error::msg)?,
        )),
        _ => None,
    };
    if let (Some(shared), Some(url)) = (&shared_versions, &settings.store) {
        shared.listen(url).map_err(anyhow::Error::msg)?;
    }
    let state: Arc<dyn serverful_platform::StateBackend> = match &shared_versions {
        Some(shared) => shared.clone(),
        None => Arc::new(
            serverful_platform::SqliteState::open(&data_dir.join("platform.sqlite"))
                .map_err(anyhow::Error::msg)?,
        ),
    };
    let streams = crate::streams::config(&data_dir, cluster.as_ref())?;
    let queues = open_queues(&data_dir, database.clone(), &settings.region, &aws_url)?;
    // Move tasks are the server's to carry on (a local `serverful invoke` leaves them).
    queues.resume_move_tasks();
    // A cluster node follows the queues other nodes create, change and delete.
    queues.spawn_catalog_watch();
    let topics = open_topics(&data_dir, cluster.as_ref(), &settings.region, &aws_url)?;

    // Sandboxed functions reach the AWS endpoint through a listener inside their own
    // network namespace, served by the same router once it exists (below).
    let aws_router: Arc<std::sync::OnceLock<axum::Router>> = Arc::default();
    let mut endpoints = vec![sandbox_endpoint(
        aws_address.port(),
        aws_router.clone(),
        settings.aws.clone(),
    )];
    // AWS's host names answer over TLS inside the sandboxes (`crate::tls`).
    let tls = crate::tls::set_up(&data_dir, &settings.region, &settings.domain)?;
    let tls_routers = crate::tls::Routers {
        aws: aws_router.clone(),
        gateway: Arc::default(),
    };
    endpoints.extend(crate::tls::sandbox_endpoints(
        &tls,
        aws_address.port(),
        gateway_address.port(),
        tls_routers.clone(),
        settings.aws.clone(),
    ));
    let (sandbox, sandbox_line) =
        crate::app::sandbox(settings.sandbox, settings.network, &data_dir, endpoints).await?;
    let aws_hosts = crate::tls::aws_hosts(&tls, &settings.region, sandbox.is_some());
    let logs = crate::logs::open_store(&data_dir, cluster.as_ref(), settings.log_retention);
    let metrics = crate::metrics::from_args(settings.metrics);
    metrics.register_source(Arc::new(crate::metrics::QueueDepths(queues.clone())));
    let async_invocations = open_async_queue(&data_dir, database.as_ref())?;
    metrics.register_source(Arc::new(crate::metrics::AsyncBacklog(
        async_invocations.clone(),
    )));
    let runtime_options = runtime::RuntimeOptions {
        region: settings.region.clone(),
        account_id: ACCOUNT_ID.to_owned(),
        data_dir: data_dir.clone(),
        sandbox,
        max_concurrency: settings.max_concurrency,
        max_queued: settings.max_queued,
        idle_timeout: match settings.idle_timeout {
            IdleTimeout::After(duration) => Some(duration),
            IdleTimeout::Never => None,
        },
        aws_endpoint_url: Some(aws_url.clone()),
        // No function gets the master keys: the platform gives each stack's functions
        // the stack's own (`Platform::runtime_options`).
        log_store: logs.as_ref().map(|opened| opened.store.clone()),
        aws_hosts: Some(aws_hosts),
        metrics: metrics.clone(),
        ..runtime::RuntimeOptions::default()
    };
    // The master keys may do everything, as the account's root user; the platform adds
    // each stack's keys, limited to what the stack owns.
    let keys = Arc::new(serverful_aws::KeyRing::new(
        credentials.clone(),
        serverful_aws::Principal::root(ACCOUNT_ID),
    ));
    let routes = gateway::Routes::new(gateway::RoutesSpec {
        apis: Vec::new(),
        domain: settings.domain.clone(),
        custom_domains: Vec::new(),
        bare_host: settings.layout == Layout::Up,
        function_urls: Vec::new(),
    });
    let websockets = serverful_websocket::WebSockets::new(
        &settings.domain,
        settings.layout == Layout::Up,
        Arc::new(serverful_websocket::InProcessRegistry::default()),
    );
    if let Some(cluster) = &cluster {
        websockets.set_cluster(Arc::new(crate::cluster::ClusterWebSockets::new(cluster)));
    }
    if let Some(idle) = websocket_idle_timeout()? {
        websockets.set_idle_timeout(idle);
    }
    let s3 = serverful_s3::open_in(&data_dir, keys.clone(), &settings.region)
        .context("open the S3 buckets")?;
    let platform = Platform::new(
        PlatformConfig {
            data_dir: data_dir.clone(),
            region: settings.region.clone(),
            account_id: ACCOUNT_ID.to_owned(),
            layout: settings.layout,
            domain: settings.domain.clone(),
            gateway_port: gateway_address.port(),
            runtime: runtime_options,
            keys: keys.clone(),
            code_versions: settings.code_versions,
            logs: logs.map(|opened| serverful_platform::logs::LogReader(opened.backend)),
            invocation_records: crate::invocations::open_recorder(
                &data_dir,
                cluster.as_ref(),
                &settings.records,
            ),
            serverful_version: env!("CARGO_PKG_VERSION").to_owned(),
            schedules: Some(match &database {
                Some(database) => Arc::new(
                    serverful_postgres::PostgresSchedules::new(database.clone())
                        .context("open the schedule state in PostgreSQL")?,
                ),
                None => Arc::new(
                    serverful_scheduler::SqliteSchedules::open_in(&data_dir)
                        .context("open the schedule state")?,
                ),
            }),
            schedule_minute: schedule_minute()?,
            async_invocations: Some(async_invocations),
            streams,
            queues: Some(queues.clone()),
            topics: Some(topics.clone()),
            buckets: Some(s3.clone()),
            websockets: Some(websockets.clone()),
            membership: cluster
                .as_ref()
                .map(|cluster| serverful_platform::Membership {
                    nodes: cluster.nodes.clone(),
                    node_id: cluster.node.id.clone(),
                    leases: cluster.leases.clone(),
                }),
            shared_versions,
            api_keys: Some(match &cluster {
                Some(cluster) => Arc::new(serverful_platform::api_keys::PostgresApiKeys(
                    serverful_postgres::api_keys::PostgresApiKeys::new(cluster.database.clone())
                        .map_err(|failure| {
                            anyhow::anyhow!("open the API keys' state in PostgreSQL: {}", failure.0)
                        })?,
                )),
                None => Arc::new(
                    serverful_platform::api_keys::SqliteApiKeys::open_in(&data_dir)
                        .context("open the API keys' state")?,
                ),
            }),
        },
        store.clone(),
        state,
        routes.clone(),
    );
    metrics.register_source(Arc::new(crate::metrics::StreamAges(platform.clone())));
    serverful_platform::async_invoke::start(&platform);
    serverful_platform::runtime_mappings::start(&platform);
    serverful_platform::sns_deliveries::start(&platform);
    serverful_platform::bucket_events::start(&platform);
    // After the event sink, so that expirations are notified.
    s3.spawn_lifecycle_sweep(s3_lifecycle_day_secs()?);
    let gateway_state = gateway::GatewayState {
        routes,
        invoker: Arc::new(PlatformInvoker(platform.clone())),
        domain_name: gateway_address.to_string(),
        account_id: ACCOUNT_ID.to_owned(),
        websockets: Some(websockets.clone()),
        auth: gateway::AuthSettings {
            region: settings.region.clone(),
            keys: Some(keys.clone()),
        },
        hosts: vec![Arc::new(S3Websites {
            s3: s3.clone(),
            domain: settings.domain.to_ascii_lowercase(),
        })],
    };
    websockets.set_invoker(gateway_state.invoker.clone());
    websockets.set_auth(serverful_websocket::AuthSettings {
        region: settings.region.clone(),
        account_id: ACCOUNT_ID.to_owned(),
        keys: keys.clone(),
    });
    let _ = tls_routers
        .gateway
        .set(gateway::router(gateway_state.clone()));
    let aws = aws_router.get_or_init(|| {
        let router = aws_endpoint(
            serverful_aws::AwsState::with_keys(keys).with_region(&settings.region),
            store,
            Some(queues),
            Some(platform.clone()),
            Some(topics),
            Some(websockets.clone()),
            Some(s3),
        );
        crate::metrics::count_dynamodb_operations(router, metrics.dynamodb())
    });
    websockets.set_management(aws.clone());
    let admin_state = serverful_admin::AdminState {
        platform: platform.clone(),
        token: Arc::from(token.as_str()),
        stacks_root: data_dir.join("stacks"),
        metrics: serverful_admin::MetricsAccess {
            metrics: metrics.clone(),
            public: settings.metrics.metrics_public,
        },
        node_secret: cluster.as_ref().map(|cluster| cluster.node_secret.clone()),
    };
    Ok(Server {
        platform,
        base_url,
        aws_url,
        admin_url,
        sandbox_line,
        store_line,
        cluster_node: cluster.as_ref().map(|cluster| {
            (
                cluster.nodes.clone(),
                cluster.node.id.clone(),
                cluster.heartbeat.clone(),
            )
        }),
        credentials,
        key_source,
        token_source,
        token,
        metrics,
        metrics_public: settings.metrics.metrics_public,
        gateway_listener,
        aws_listener,
        admin_listener,
        aws_router,
        gateway_state,
        admin_state,
        aws: settings.aws,
    })
}

impl Server {
    /// The lines about the AWS endpoint's keys and the admin token, as `up` and `serve`
    /// print them.
    pub(crate) fn print_endpoints(&self) {
        match &self.key_source {
            serverful_aws::KeySource::Environment => {
                println!(
                    "AWS endpoint {} (keys from SERVERFUL_ACCESS_KEY_ID / SERVERFUL_SECRET_ACCESS_KEY)",
                    self.aws_url
                );
            }
            serverful_aws::KeySource::DataDir(path) | serverful_aws::KeySource::Generated(path) => {
                println!("AWS endpoint {} (keys in {})", self.aws_url, path.display());
                println!("  AWS_ACCESS_KEY_ID={}", self.credentials.access_key_id);
                println!(
                    "  AWS_SECRET_ACCESS_KEY={}",
                    self.credentials.secret_access_key
                );
            }
        }
        match &self.token_source {
            serverful_admin::TokenSource::Environment => {
                println!(
                    "Admin API {} (token from SERVERFUL_ADMIN_TOKEN)",
                    self.admin_url
                );
            }
            serverful_admin::TokenSource::DataDir(path) => {
                println!("Admin API {} (token in {})", self.admin_url, path.display());
            }
            serverful_admin::TokenSource::Generated(path) => {
                println!("Admin API {} (token in {})", self.admin_url, path.display());
                println!("  SERVERFUL_ADMIN_TOKEN={}", self.token);
            }
        }
        if !self.metrics.is_enabled() {
            println!("Metrics off (--no-metrics)");
        } else if self.metrics_public {
            println!(
                "Metrics {}{} (public)",
                self.admin_url,
                serverful_admin::METRICS_PATH
            );
        } else {
            println!(
                "Metrics {}{} (with the admin token)",
                self.admin_url,
                serverful_admin::METRICS_PATH
            );
        }
    }

    /// Serves every listener until Ctrl-C or SIGTERM, then stops every function.
    pub(crate) async fn serve(self) -> anyhow::Result<()> {
        tracing::info!(
            gateway = %self.base_url,
            aws = %self.aws_url,
            admin = %self.admin_url,
            "serving"
        );
        let (stop_sender, stop_receiver) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_sender.send(true);
        });
        let stopped = |mut receiver: tokio::sync::watch::Receiver<bool>| async move {
            let _ = receiver.wait_for(|stop| *stop).await;
        };
        // Connect info gives events the client's address (`sourceIp`).
        let gateway_service = crate::metrics::count_gateway_requests(
            gateway::router(self.gateway_state),
            self.metrics.gateway(),
        )
        .into_make_service_with_connect_info::<SocketAddr>();
        let gateway_listener = crate::metrics::CountedListener::new(
            self.gateway_listener,
            self.metrics.connections("gateway"),
        )
        .tap_io(|stream| set_nodelay(stream.get_mut(), "gateway"));
        let gateway_served = axum::serve(gateway_listener, gateway_service)
            .with_graceful_shutdown(stopped(stop_receiver.clone()));
        let admin_served = axum::serve(
            crate::metrics::CountedListener::new(
                self.admin_listener,
                self.metrics.connections("admin"),
            ),
            serverful_admin::router(self.admin_state),
        )
        .with_graceful_shutdown(stopped(stop_receiver.clone()));
        let aws_router = self
            .aws_router
            .get()
            .cloned()
            .context("the AWS endpoint's router")?;
        // The AWS endpoint is served on its own runtime; its listener is registered there.
        let aws_listener = self
            .aws_listener
            .into_std()
            .context("hand over the AWS endpoint")?;
        let aws_served = self.aws.spawn(serve_aws_counted(
            aws_listener,
            aws_router,
            "AWS endpoint",
            stopped(stop_receiver),
            self.metrics.connections("aws"),
        ));
        let (gateway_result, admin_result, aws_result) =
            tokio::join!(gateway_served, admin_served, aws_served);
        let aws_result =
            aws_result.unwrap_or_else(|join_error| Err(std::io::Error::other(join_error)));
        // Stop the functions before reporting anything else, so no process outlives us.
        if tokio::time::timeout(Duration::from_secs(10), self.platform.shutdown())
            .await
            .is_err()
        {
            tracing::error!("function processes did not stop within 10 s");
        }
        if let Some((nodes, id, heartbeat)) = self.cluster_node {
            heartbeat.abort();
            // A clean stop leaves the list at once (a crash drops out after 5 s).
            let left = tokio::task::spawn_blocking(move || nodes.leave(&id)).await;
            if let Ok(Err(error)) = left {
                tracing::warn!("failed to leave the cluster's list of nodes: {error}");
            }
        }
        runtime::flush_stdout();
        gateway_result.context("serve the gateway")?;
        admin_result.context("serve the admin API")?;
        aws_result.context("serve the AWS endpoint")?;
        Ok(())
    }
}

/// The AWS endpoint's router over `state` (its keys): DynamoDB and DynamoDB Streams on
/// `store`, SQS (both protocols) on `queues`, and with a platform, the Lambda API over its
/// functions.
/// `store`, SNS over `topics`, S3 over `s3`, and with a platform, the Lambda API over its
/// functions.
pub(crate) fn aws_endpoint(
    mut state: serverful_aws::AwsState,
    store: Arc<serverful_store::Store>,
    queues: Option<Arc<serverful_sqs::Queues>>,
    platform: Option<Arc<Platform>>,
    topics: Option<Arc<serverful_sns::Topics>>,
    websockets: Option<serverful_websocket::WebSockets>,
    s3: Option<serverful_s3::S3Store>,
) -> axum::Router {
    if let Some(s3) = s3 {
        let region = s3.region().to_owned();
        let endpoint = serverful_s3::S3Endpoint::new(s3, state.keys.clone(), &region);
        state = state.with_streaming_service(Arc::new(endpoint));
    }
    let mut state = state
        .with_json_service(Arc::new(serverful_aws::DynamoDbService::new(store.clone())))
        .with_json_service(Arc::new(serverful_aws::DynamoDbStreamsService::new(store)));
    if let Some(queues) = queues {
        let sqs = Arc::new(serverful_sqs::SqsService::new(queues));
        state = state.with_json_service(sqs.clone()).with_rest_service(sqs);
    }
    if let Some(topics) = topics {
        state = state.with_rest_service(Arc::new(serverful_sns::SnsService { topics }));
    }
    if let Some(websockets) = websockets {
        state =
            state.with_rest_service(Arc::new(serverful_websocket::ManagementApi { websockets }));
    }
    if let Some(platform) = platform {
        state = state.with_rest_service(Arc::new(
            serverful_platform::mappings_api::EventSourceMappingsApi {
                platform: platform.clone(),
            },
        ));
        state = state.with_json_service(Arc::new(serverful_platform::events_api::EventsApi {
            platform: platform.clone(),
        }));
        state = state.with_rest_service(Arc::new(serverful_platform::lambda_api::LambdaApi {
            platform,
        }));
    }
    serverful_aws::router(state)
}

/// How sandboxed functions reach the AWS endpoint on `port`: a listener inside their own
/// network namespace, served on the tokio runtime `handle` by the router `router` holds
/// by then.
pub(crate) fn sandbox_endpoint(
    port: u16,
    router: Arc<std::sync::OnceLock<axum::Router>>,
    handle: tokio::runtime::Handle,
) -> runtime::sandbox::PlatformEndpoint {
    runtime::sandbox::PlatformEndpoint {
        port,
        serve: Arc::new(move |listener: tokio::net::TcpListener| {
            let router = router.get().cloned().unwrap_or_default();
            // The listener moves to the AWS endpoint's runtime, so that its connections
            // are polled there too.
            let listener = listener.into_std();
            handle.spawn(async move {
                let served = match listener {
                    Ok(listener) => {
                        serve_aws(
                            listener,
                            router,
                            "sandbox's AWS endpoint",
                            std::future::pending(),
                        )
                        .await
                    }
                    Err(error) => Err(error),
                };
                if let Err(error) = served {
                    tracing::debug!("AWS endpoint inside a sandbox stopped: {error}");
                }
            })
        }),
    }
}

/// Serves the AWS endpoint's `router` on `listener` (handed over from another tokio
/// runtime: it is registered with the caller's) until `shutdown` completes.
pub(crate) async fn serve_aws(
    listener: std::net::TcpListener,
    router: axum::Router,
    name: &'static str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_aws_counted(
        listener,
        router,
        name,
        shutdown,
        serverful_metrics::ConnectionGauge::default(),
    )
    .await
}

/// [`serve_aws`], counting the open connections in `connections`.
async fn serve_aws_counted(
    listener: std::net::TcpListener,
    router: axum::Router,
    name: &'static str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    connections: serverful_metrics::ConnectionGauge,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let listener = crate::metrics::CountedListener::new(listener, connections)
        .tap_io(move |stream| set_nodelay(stream.get_mut(), name));
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

/// Binds a listener, or says why not and what to do.
async fn bind(
    host: IpAddr,
    port: u16,
    what: &str,
    flag: &str,
) -> anyhow::Result<tokio::net::TcpListener> {
    let address = SocketAddr::new(host, port);
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| {
            let hint = if error.kind() == std::io::ErrorKind::AddrInUse {
                format!("\nhint: another program uses port {port}: stop it or pass {flag}")
            } else {
                String::new()
            };
            anyhow::anyhow!("cannot listen on {address} for {what}: {error}{hint}")
        })
}

/// The address functions and tools use to reach a listener: a wildcard bind is reached
/// over loopback.
fn reachable(address: SocketAddr) -> SocketAddr {
    if address.ip().is_unspecified() {
        let loopback: IpAddr = if address.is_ipv4() {
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

/// How long a schedule minute lasts: `SERVERFUL_SCHEDULE_MINUTE_MS` (milliseconds), so
/// tests and demos see `rate(1 minute)` and `cron(...)` schedules fire in seconds.
fn schedule_minute() -> anyhow::Result<std::time::Duration> {
    match std::env::var("SERVERFUL_SCHEDULE_MINUTE_MS") {
        Err(_) => Ok(std::time::Duration::from_secs(60)),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(ms) if ms >= 10 => Ok(std::time::Duration::from_millis(ms)),
            _ => anyhow::bail!(
                "SERVERFUL_SCHEDULE_MINUTE_MS is '{text}'\nhint: give how long a schedule minute lasts in milliseconds, 10 or more (60000 is real time)"
            ),
        },
    }
}

/// How long a WebSocket connection may stay idle: `SERVERFUL_WEBSOCKET_IDLE_MS`
/// (milliseconds), so tests and demos see API Gateway's 10-minute idle close in seconds.
/// How many seconds an S3 lifecycle day lasts (`SERVERFUL_S3_LIFECYCLE_DAY_SECS`, a real
/// day by default): tests shorten it to see rules expire objects. The sweep runs once a
/// day, at most every hour.
fn s3_lifecycle_day_secs() -> anyhow::Result<u64> {
    match std::env::var("SERVERFUL_S3_LIFECYCLE_DAY_SECS") {
        Err(_) => Ok(serverful_s3::lifecycle::DAY_SECS),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(secs) if secs >= 1 => Ok(secs),
            _ => anyhow::bail!(
                "SERVERFUL_S3_LIFECYCLE_DAY_SECS is '{text}'\nhint: give how many seconds an S3 lifecycle day lasts, 1 or more (86400 is a real day)"
            ),
        },
    }
}

fn websocket_idle_timeout() -> anyhow::Result<Option<std::time::Duration>> {
    match std::env::var("SERVERFUL_WEBSOCKET_IDLE_MS") {
        Err(_) => Ok(None),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(ms) if ms >= 100 => Ok(Some(std::time::Duration::from_millis(ms))),
            _ => anyhow::bail!(
                "SERVERFUL_WEBSOCKET_IDLE_MS is '{text}'\nhint: give how long a WebSocket connection may stay idle in milliseconds, 100 or more (600000 is API Gateway's)"
            ),
        },
    }
}

/// Opens SQS's queues, whose URLs name the AWS endpoint at `aws_url`: in the cluster's
/// `database` when there is one, else in `DATA/queues.sqlite`.
pub(crate) fn open_queues(
    data_dir: &std::path::Path,
    database: Option<Arc<serverful_postgres::Database>>,
    region: &str,
    aws_url: &str,
) -> anyhow::Result<Arc<serverful_sqs::Queues>> {
    let config = serverful_sqs::QueuesConfig {
        region: region.to_owned(),
        account_id: ACCOUNT_ID.to_owned(),
        endpoint_url: aws_url.to_owned(),
    };
    let queues = match database {
        Some(database) => {
            let backend = serverful_postgres::sqs::PostgresQueues::new(database)
                .context("open the SQS queues in PostgreSQL")?;
            serverful_sqs::Queues::open(Arc::new(backend), config)
        }
        None => serverful_sqs::Queues::open_in(data_dir, config),
    }
    .context("open the SQS queues")?;
    Ok(Arc::new(queues))
}

/// Opens the queue of asynchronous invocations (`DATA/async.sqlite`, or the cluster's
/// `database`, where every node runs what any accepted), with the retry delays
/// `SERVERFUL_ASYNC_RETRY_DELAY_MS` sets (Lambda's by default: one minute, then two).
fn open_async_queue(
    data_dir: &std::path::Path,
    database: Option<&Arc<serverful_postgres::Database>>,
) -> anyhow::Result<Arc<serverful_async::AsyncInvocations>> {
    let queue: Arc<dyn serverful_async::QueueBackend> = match database {
        Some(database) => Arc::new(
            serverful_postgres::PostgresQueue::new(
                database.clone(),
                serverful_postgres::Lease::default(),
            )
            .context("open the asynchronous invocation queue in PostgreSQL")?,
        ),
        None => Arc::new(
            serverful_async::SqliteQueue::open(&data_dir.join("async.sqlite"))
                .context("open the asynchronous invocation queue")?,
        ),
    };
    let retry = match std::env::var("SERVERFUL_ASYNC_RETRY_DELAY_MS") {
        Ok(text) => {
            let millis: u64 = text.trim().parse().map_err(|_| {
                anyhow::anyhow!("SERVERFUL_ASYNC_RETRY_DELAY_MS is '{text}', not a number of milliseconds\nhint: unset it for Lambda's delays (60000)")
            })?;
            serverful_async::RetrySchedule::scaled(std::time::Duration::from_millis(millis))
        }
        Err(_) => serverful_async::RetrySchedule::aws(),
    };
    Ok(serverful_async::AsyncInvocations::new(queue, retry))
}

/// Opens SNS's topics (`DATA/topics.sqlite`) and its signing key pair (`DATA/sns/`), with
/// links to the AWS endpoint at `endpoint_url` and the retry delays
/// `SERVERFUL_SNS_RETRY_DELAY_MS` sets (one policy second by default).
pub(crate) fn open_topics(
    data_dir: &std::path::Path,
    cluster: Option<&crate::cluster::Cluster>,
    region: &str,
    endpoint_url: &str,
) -> anyhow::Result<Arc<serverful_sns::Topics>> {
    let backend: Arc<dyn serverful_sns::TopicBackend> = match cluster {
        Some(cluster) => Arc::new(
            serverful_postgres::sns::PostgresTopics::new(
                cluster.database.clone(),
                &cluster.node.id,
            )
            .context("open the SNS topics in PostgreSQL")?,
        ),
        None => Arc::new(
            serverful_sns::SqliteTopics::open(&data_dir.join("topics.sqlite"))
                .context("open the SNS topics")?,
        ),
    };
    let signer = serverful_sns::Signer::load_or_generate(&data_dir.join("sns"))
        .context("open the SNS signing key")?;
    let retry_unit = match std::env::var("SERVERFUL_SNS_RETRY_DELAY_MS") {
        Ok(text) => {
            let millis: u64 = text.trim().parse().map_err(|_| {
                anyhow::anyhow!("SERVERFUL_SNS_RETRY_DELAY_MS is '{text}', not a number of milliseconds\nhint: unset it for SNS's delays (1000 per policy second)")
            })?;
            Duration::from_millis(millis)
        }
        Err(_) => Duration::from_secs(1),
    };
    Ok(serverful_sns::Topics::new(
        backend,
        signer,
        serverful_sns::TopicsConfig {
            region: region.to_owned(),
            account_id: ACCOUNT_ID.to_owned(),
            endpoint_url: endpoint_url.to_owned(),
            retry_unit,
        },
    ))
}

/// S3's website endpoints on the gateway's listener: `{bucket}.s3-website.{domain}` and
/// AWS's `{bucket}.s3-website-{region}.amazonaws.com`.
struct S3Websites {
    s3: serverful_s3::S3Store,
    domain: String,
}

impl gateway::HostService for S3Websites {
    fn claims(&self, host: &str) -> bool {
        serverful_s3::website::bucket_of_host(host, &self.domain).is_some()
    }

    fn serve(
        &self,
        host: &str,
        request: axum::extract::Request,
    ) -> futures_util::future::BoxFuture<'static, axum::response::Response> {
        let s3 = self.s3.clone();
        let bucket = serverful_s3::website::bucket_of_host(host, &self.domain)
            .unwrap_or_default()
            .to_owned();
        Box::pin(async move { s3.serve_website(&bucket, request).await })
    }
}
