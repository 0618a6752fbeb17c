//! API Gateway WebSocket APIs: connections held open on the gateway's listener, their
//! messages routed to functions as API Gateway's WebSocket events, and the management API
//! (`@connections`) that lets functions and tools post to them.
//!
//! The gateway hands this crate the requests that reach a WebSocket API's stage
//! ([`WebSockets::select`], [`WebSockets::serve`]); the AWS endpoint serves the management
//! API through [`ManagementApi`]. Functions are called through `serverful-invoke`'s
//! [`Invoke`], always at the stack's current deploy: a connection outlives deploys of its
//! stack, and each message reaches the functions of the version serving when it arrives.
//!
//! Codemap:
//! - `authorizer`: `$connect` authorization (a Lambda `REQUEST` authorizer or `AWS_IAM`);
//! - `registry`: open connections by id, behind the [`ConnectionRegistry`] seam;
//! - `selection`: route selection by `RouteSelectionExpression`;
//! - `event`: the `$connect`, message and `$disconnect` events;
//! - `connection`: the handshake and the socket's life (limits, two-way routes, close);
//! - `management`: `PostToConnection`, `GetConnection`, `DeleteConnection`.

mod authorizer;
pub mod cluster;
mod connection;
mod event;
mod management;
mod registry;
mod selection;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

pub use authorizer::{AuthSettings, ConnectAuth, ConnectAuthorizer, Granted};
pub(crate) use connection::message_response;
pub use event::{build_event, EventKind, EventSite, MessageBody};
pub use management::{serve_forwarded, ManagementApi};
pub use registry::{Connection, ConnectionRegistry, InProcessRegistry, Outgoing, Queued};
pub use selection::{select_route, selection_key};
pub use serverful_invoke::{FunctionRef, Invoke, InvokeError};

/// The largest frame a client may send: 32 KB, as on API Gateway.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;
/// The largest message (frames joined): 128 KB; larger ones close the connection (1009).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;
/// A connection without messages either way for this long is closed (1001), unless
/// [`WebSockets::set_idle_timeout`] says otherwise.
pub const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10 * 60);
/// No connection lives longer than this.
pub const MAX_CONNECTION_DURATION: std::time::Duration =
    std::time::Duration::from_secs(2 * 60 * 60);

/// One WebSocket API at its stage, as served.
#[derive(Debug, Clone)]
pub struct ApiSpec {
    /// The stack the API belongs to.
    pub stack: String,
    pub logical_id: String,
    pub api_id: String,
    pub stage_name: String,
    /// `$request.body.action` or another JSON path.
    pub route_selection_expression: String,
    pub routes: Vec<RouteSpec>,
    /// How `$connect` is authorized.
    pub connect_auth: ConnectAuth,
}

/// One route: a route key and the function it calls.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub route_key: String,
    /// At the stack's current deploy (`deploy: None`).
    pub target: FunctionRef,
    /// A route response exists: the function's `body` goes back to the client.
    pub two_way: bool,
}

impl ApiSpec {
    pub(crate) fn route(&self, route_key: &str) -> Option<&RouteSpec> {
        self.routes
            .iter()
            .find(|route| route.route_key == route_key)
    }
}

/// Every WebSocket API served, the open connections, and how functions are called: a
/// cheap handle shared by the gateway, the platform and the AWS endpoint.
#[derive(Clone)]
pub struct WebSockets {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WebSockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSockets")
            .field("apis", &self.apis().len())
            .field("connections", &self.inner.registry.len())
            .finish()
    }
}

struct Inner {
    apis: RwLock<Arc<Vec<ApiSpec>>>,
    /// API `X` answers on `{X}.execute-api.{domain}`.
    domain: String,
    /// Whether other hosts reach APIs by their stage (`serverful up`).
    bare_host: bool,
    registry: Arc<dyn ConnectionRegistry>,
    invoker: OnceLock<Arc<dyn Invoke>>,
    /// The AWS endpoint, which serves `@connections` posted on an API's own host.
    management: OnceLock<axum::Router>,
    /// How long a connection may go without a message either way, in milliseconds.
    idle_timeout_ms: AtomicU64,
    /// The region, account and keys `$connect` authorization uses.
    auth: OnceLock<AuthSettings>,
    /// The other nodes' connections, in cluster mode.
    cluster: OnceLock<Arc<dyn cluster::ClusterConnections>>,
}

/// A request that reaches a WebSocket API.
#[derive(Debug, Clone)]
pub struct Selected {
    pub api: ApiSpec,
    /// The path after `/{stage}`: empty for the connection itself.
    pub rest: String,
}

impl WebSockets {
    pub fn new(domain: &str, bare_host: bool, registry: Arc<dyn ConnectionRegistry>) -> Self {
        WebSockets {
            inner: Arc::new(Inner {
                apis: RwLock::new(Arc::new(Vec::new())),
                domain: domain.to_ascii_lowercase(),
                bare_host,
                registry,
                invoker: OnceLock::new(),
                management: OnceLock::new(),
                idle_timeout_ms: AtomicU64::new(duration_ms(IDLE_TIMEOUT)),
                auth: OnceLock::new(),
                cluster: OnceLock::new(),
            }),
        }
    }

    /// How functions are called; set once, before the gateway serves.
    pub fn set_invoker(&self, invoker: Arc<dyn Invoke>) {
        let _ = self.inner.invoker.set(invoker);
    }

    /// Closes connections idle this long instead of API Gateway's 10 minutes (for tests
    /// and demos); applies to the next wait of every connection.
    pub fn set_idle_timeout(&self, timeout: Duration) {
        self.inner
            .idle_timeout_ms
            .store(duration_ms(timeout).max(1), Ordering::Relaxed);
    }

    /// How long a connection may go without a message either way.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.inner.idle_timeout_ms.load(Ordering::Relaxed))
    }

    /// The region, account and keys of `$connect` authorization; set once, before the
    /// gateway serves. Without them `AWS_IAM` refuses every handshake.
    pub fn set_auth(&self, settings: AuthSettings) {
        let _ = self.inner.auth.set(settings);
    }

    pub(crate) fn auth_settings(&self) -> Option<&AuthSettings> {
        self.inner.auth.get()
    }

    /// The AWS endpoint's router, for `@connections` requests on an API's own host.
    pub fn set_management(&self, router: axum::Router) {
        let _ = self.inner.management.set(router);
    }

    /// Serves `apis` from now on. Open connections stay open; those whose API is gone
    /// are closed (1001) when they next send a message.
    pub fn replace(&self, apis: Vec<ApiSpec>) {
        *self
            .inner
            .apis
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(apis);
    }

    /// The APIs served now.
    pub fn apis(&self) -> Arc<Vec<ApiSpec>> {
        self.inner
            .apis
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The API served now with this id, at this stage.
    pub fn api(&self, api_id: &str, stage: &str) -> Option<ApiSpec> {
        self.apis()
            .iter()
            .find(|api| api.api_id == api_id && api.stage_name == stage)
            .cloned()
    }

    pub fn registry(&self) -> &Arc<dyn ConnectionRegistry> {
        &self.inner.registry
    }

    /// Shares this node's connections with a cluster's other nodes: `@connections`
    /// calls for sockets held elsewhere are handed to their node.
    pub fn set_cluster(&self, cluster: Arc<dyn cluster::ClusterConnections>) {
        let _ = self.inner.cluster.set(cluster);
    }

    /// The cluster's connections, in cluster mode.
    pub fn cluster(&self) -> Option<&Arc<dyn cluster::ClusterConnections>> {
        self.inner.cluster.get()
    }

    /// The WebSocket API a request on `host` for `path` reaches: on the API's own host
    /// (`{api_id}.execute-api.{domain}`), any path under its stage; on other hosts under
    /// `serverful up`, only when `is_upgrade` or for `@connections`, so that HTTP APIs keep
    /// their paths.
    pub fn select(&self, host: Option<&str>, path: &str, is_upgrade: bool) -> Option<Selected> {
        let apis = self.apis();
        if apis.is_empty() {
            return None;
        }
        let host = host
            .map(|host| host.rsplit_once(':').map_or(host, |(name, _)| name))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let under_stage = |api: &ApiSpec| -> Option<String> {
            let rest = path
                .strip_prefix('/')?
                .strip_prefix(api.stage_name.as_str())?;
            (rest.is_empty() || rest.starts_with('/')).then(|| rest.to_owned())
        };
        let suffix = format!(".execute-api.{}", self.inner.domain);
        if let Some(api_id) = host.strip_suffix(&suffix) {
            // Each stage of an API is an `ApiSpec` of its own: the path names the stage.
            return apis
                .iter()
                .filter(|api| api.api_id == api_id)
                .find_map(|api| {
                    Some(Selected {
                        api: api.clone(),
                        rest: under_stage(api)?,
                    })
                });
        }
        if !self.inner.bare_host {
            return None;
        }
        apis.iter().find_map(|api| {
            let rest = under_stage(api)?;
            let wanted = (is_upgrade && (rest.is_empty() || rest == "/"))
                || rest.starts_with("/@connections/");
            wanted.then(|| Selected {
                api: api.clone(),
                rest,
            })
        })
    }

    fn invoker(&self) -> Option<&Arc<dyn Invoke>> {
        self.inner.invoker.get()
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

pub use connection::serve;
