//! Instances inside the sandbox (`serverful-sandbox`): the instance's view of the host
//! (its code at `/var/task`, the bootstraps at `/var/runtime`, its layers at `/opt`, the
//! interpreter at its own path), its network namespace holding the platform's listeners,
//! its cgroup.
//!
//! Every sandboxed instance gets a network namespace of its own in which the server binds
//! the Runtime API on `127.0.0.1:9001` (Lambda's address), the AWS endpoint on the port
//! functions are told about and whatever other [`PlatformEndpoint`]s the server gives (the
//! TLS listeners of AWS's host names, see `crate::aws_hosts`); those listeners are the
//! only way out of a `none` namespace, and each instance's Runtime API exists only in its
//! own namespace.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use serverful_sandbox::{
    Host, InstanceHandle, InstanceSpec, Launch, Mount, NetNs, NetPool, Network,
};
use tokio::task::JoinHandle;

use crate::instance::FunctionSpec;

/// Lambda's Runtime API address inside an execution environment.
pub const RUNTIME_API_PORT: u16 = 9001;

/// Where the function's code appears inside.
const TASK_ROOT: &str = "/var/task";
/// Where Serverful's bootstraps appear inside.
const RUNTIME_ROOT: &str = "/var/runtime";

/// Namespaces kept ready per network kind, so cold starts do not wait for one.
const READY_NAMESPACES: usize = 2;

/// Serves a platform endpoint (the AWS endpoint) on a listener inside a sandbox's network
/// namespace until the returned task is aborted.
pub type ServeFn = Arc<dyn Fn(tokio::net::TcpListener) -> JoinHandle<()> + Send + Sync>;

/// A platform endpoint reachable from inside every sandbox at `127.0.0.1:<port>`.
#[derive(Clone)]
pub struct PlatformEndpoint {
    pub port: u16,
    pub serve: ServeFn,
}

impl std::fmt::Debug for PlatformEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformEndpoint")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// Server-wide sandbox settings, shared by every function.
#[derive(Debug)]
pub struct Sandbox {
    host: Host,
    default_network: Network,
    endpoints: Vec<PlatformEndpoint>,
    /// Host paths every instance sees read-only at the same path (the shared SDK cache).
    shared_read_only: Vec<PathBuf>,
    none_pool: NetPool,
    egress_pool: Option<NetPool>,
}

impl Sandbox {
    /// Isolation on `host` (which must be [`Host::enabled`]); functions that choose no
    /// network get `default_network`; `endpoints` are served inside every namespace.
    pub fn new(
        host: Host,
        default_network: Network,
        endpoints: Vec<PlatformEndpoint>,
        shared_read_only: Vec<PathBuf>,
    ) -> Sandbox {
        let listen: Vec<u16> = std::iter::once(RUNTIME_API_PORT)
            .chain(endpoints.iter().map(|endpoint| endpoint.port))
            .collect();
        let none_pool = NetPool::new(Network::None, listen.clone(), READY_NAMESPACES);
        let egress_pool = host
            .egress()
            .then(|| NetPool::new(Network::Egress, listen, READY_NAMESPACES));
        Sandbox {
            host,
            default_network,
            endpoints,
            shared_read_only,
            none_pool,
            egress_pool,
        }
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Waits (up to a second) until the namespaces made ahead of demand are all made
    /// again, e.g. after parking sandboxes took some, so that nothing is left running in
    /// the background when the server says it is ready.
    pub async fn settle(self: &Arc<Self>) {
        let sandbox = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let limit = std::time::Duration::from_secs(1);
            sandbox.none_pool.wait_filled(limit);
            if let Some(pool) = &sandbox.egress_pool {
                pool.wait_filled(limit);
            }
        })
        .await;
    }

    /// The network an instance of a function with `choice` gets on this host.
    pub fn network_for(&self, choice: Option<Network>) -> Network {
        match choice.unwrap_or(self.default_network) {
            Network::Egress if self.egress_pool.is_some() => Network::Egress,
            _ => Network::None,
        }
    }

    /// A network namespace for a new instance, with the platform endpoints served inside;
    /// returns the Runtime API listener too.
    pub(crate) async fn open_network(
        self: &Arc<Self>,
        choice: Option<Network>,
    ) -> Result<(SandboxedInstance, tokio::net::TcpListener), String> {
        let network = self.network_for(choice);
        let sandbox = self.clone();
        let taken = tokio::task::spawn_blocking(move || match network {
            Network::Egress => match &sandbox.egress_pool {
                Some(pool) => pool.take(),
                None => sandbox.none_pool.take(),
            },
            Network::None => sandbox.none_pool.take(),
        })
        .await
        .map_err(|error| format!("network namespace: {error}"))?
        .map_err(|error| format!("network namespace: {error}"))?;
        let (net, listeners) = taken;
        let mut listeners = listeners.into_iter().map(|listener| {
            listener.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(listener)
        });
        let runtime_api = listeners
            .next()
            .ok_or("network namespace: no Runtime API listener")?
            .map_err(|error| format!("Runtime API listener: {error}"))?;
        let mut tasks = Vec::new();
        for (endpoint, listener) in self.endpoints.iter().zip(listeners) {
            let listener = listener.map_err(|error| format!("platform listener: {error}"))?;
            tasks.push((endpoint.serve)(listener));
        }
        Ok((
            SandboxedInstance {
                net: Arc::new(net),
                handle: None,
                tasks,
            },
            runtime_api,
        ))
    }

    /// The command that starts `program` with `args` and `env` (host paths) inside the
    /// instance's sandbox; the instance keeps the cgroup handle.
    pub(crate) fn command(
        &self,
        spec: &FunctionSpec,
        instance: &mut SandboxedInstance,
        program: &Path,
        args: &[OsString],
        env: BTreeMap<String, String>,
    ) -> Result<tokio::process::Command, String> {
        let instance_spec = self.instance_spec(spec, program)?;
        let launch = self.launch(spec, program, args, env);
        let prepared = self
            .host
            .prepare(&instance_spec, &launch, Some(&instance.net))
            .map_err(|error| error.to_string())?;
        instance.handle = Some(prepared.instance);
        Ok(tokio::process::Command::from(prepared.command))
    }

    /// Sets up the sandbox of `spec`'s next instance ahead of demand: its network
    /// namespace with the platform's listeners, its root, cgroups and namespaces, all but
    /// the program, which [`launch_parked`] hands over. Its output goes to pipes,
    /// in its own process group, like any instance's.
    pub(crate) async fn park(
        self: &Arc<Self>,
        spec: &FunctionSpec,
    ) -> Result<ParkedSandbox, String> {
        let (mut instance, runtime_api) = self.open_network(spec.config.network).await?;
        let instance_spec = self.instance_spec(spec, &spec.launch.program)?;
        // Creating cgroups and spawning block for a while: not on an async thread, where
        // they would hold up requests in flight.
        let sandbox = self.clone();
        let net = instance.net.clone();
        let (handle, child) = tokio::task::spawn_blocking(move || {
            let prepared = sandbox
                .host
                .park(&instance_spec, Some(&net))
                .map_err(|error| error.to_string())?;
            let mut command = tokio::process::Command::from(prepared.command);
            command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true);
            let child = command
                .spawn()
                .map_err(|error| format!("start the sandbox init: {error}"))?;
            Ok::<_, String>((prepared.instance, child))
        })
        .await
        .map_err(|error| format!("set up the sandbox: {error}"))??;
        instance.handle = Some(handle);
        Ok(ParkedSandbox {
            instance,
            runtime_api,
            child,
        })
    }

    /// What an instance of `spec` that runs `program` sees: the code at `/var/task`, the
    /// bootstraps at `/var/runtime`, the layers at `/opt`, the interpreter's prefix, its
    /// limits.
    fn instance_spec(&self, spec: &FunctionSpec, program: &Path) -> Result<InstanceSpec, String> {
        let config = &spec.config;
        let view = View {
            code_dir: &config.code_dir,
            runtime_dir: &spec.runtime_dir,
        };
        let mut mounts = vec![
            Mount::read_only(&config.code_dir, TASK_ROOT),
            Mount::read_only(&spec.runtime_dir, RUNTIME_ROOT),
        ];
        // The root the sandbox builds has nothing at `/opt` (the host's is not shown), so
        // the function's merged layers are all there is, as on Lambda.
        if let Some(layers_dir) = &config.layers_dir {
            mounts.push(Mount::read_only(layers_dir, crate::instance::LAYERS_ROOT));
        }
        for path in &self.shared_read_only {
            if path.exists() {
                mounts.push(Mount::read_only(path, path));
            }
        }
        let data_dir = std::fs::canonicalize(&spec.options.data_dir)
            .unwrap_or_else(|_| spec.options.data_dir.clone());
        mounts.extend(linked_folders(&config.code_dir, &data_dir));
        if let Some(hosts) = &spec.options.aws_hosts {
            mounts.extend(hosts.mounts(&data_dir)?);
        }
        // With `CodeUri: ./` the data folder (the store, the keys, builds) lies inside the
        // code folder: an empty folder hides it.
        if let Ok(inside) = data_dir.strip_prefix(&config.code_dir) {
            let empty = data_dir.join("sandbox").join("empty");
            std::fs::create_dir_all(&empty)
                .map_err(|error| format!("create {}: {error}", empty.display()))?;
            mounts.push(Mount::read_only(&empty, Path::new(TASK_ROOT).join(inside)));
        }
        if let Some(prefix) = interpreter_prefix(program, &view) {
            mounts.push(Mount::read_only(&prefix, &prefix));
        }
        Ok(InstanceSpec {
            id: format!(
                "{}-{}",
                config.name,
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            ),
            mounts,
            tmp_size_mb: u64::from(config.tmp_size_mb),
            memory_mb: u64::from(config.memory_mb),
            pids_max: serverful_sandbox::DEFAULT_PIDS_MAX,
            max_open_files: serverful_sandbox::DEFAULT_MAX_OPEN_FILES,
            hostname: "localhost".to_owned(),
        })
    }

    /// `program` with `args` and `env` (host paths) as started inside: paths translated,
    /// `PATH`, `HOME` and the AWS endpoint set for the sandbox.
    pub(crate) fn launch(
        &self,
        spec: &FunctionSpec,
        program: &Path,
        args: &[OsString],
        mut env: BTreeMap<String, String>,
    ) -> Launch {
        let config = &spec.config;
        let view = View {
            code_dir: &config.code_dir,
            runtime_dir: &spec.runtime_dir,
        };
        env.insert("LAMBDA_TASK_ROOT".to_owned(), TASK_ROOT.to_owned());
        env.insert("LAMBDA_RUNTIME_DIR".to_owned(), RUNTIME_ROOT.to_owned());
        env.insert("HOME".to_owned(), "/tmp".to_owned());
        if !config.environment.contains_key("PATH") {
            let mut path = String::new();
            if let Some(prefix) = interpreter_prefix(program, &view) {
                path.push_str(&prefix.join("bin").display().to_string());
                path.push(':');
            }
            path.push_str("/usr/local/bin:/usr/bin:/bin:/opt/bin");
            env.insert("PATH".to_owned(), path);
        }
        // The AWS endpoint answers inside at 127.0.0.1 on the port the server uses.
        let aws_port = self.endpoints.first().map(|endpoint| endpoint.port);
        if let (Some(_), Some(port)) = (&spec.options.aws_endpoint_url, aws_port) {
            if !config.environment.contains_key("AWS_ENDPOINT_URL") {
                env.insert(
                    "AWS_ENDPOINT_URL".to_owned(),
                    format!("http://127.0.0.1:{port}"),
                );
            }
        }
        if spec.options.aws_hosts.is_some() {
            for key in crate::aws_hosts::CA_BUNDLE_VARIABLES {
                if !config.environment.contains_key(key) {
                    env.insert(
                        key.to_owned(),
                        crate::aws_hosts::CA_BUNDLE_INSIDE.to_owned(),
                    );
                }
            }
        }
        Launch {
            program: view.inside(program),
            args: args
                .iter()
                .map(|arg| view.inside(Path::new(arg)).into_os_string())
                .collect(),
            env: env
                .into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
            cwd: PathBuf::from(TASK_ROOT),
        }
    }

    /// A loopback address on the host that reaches `port` inside the instance's namespace
    /// (HTTP-mode instances listen on their own port there).
    pub(crate) async fn relay(
        instance: &mut SandboxedInstance,
        port: u16,
    ) -> std::io::Result<std::net::SocketAddr> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let net = instance.net.clone();
        instance.tasks.push(tokio::spawn(async move {
            loop {
                let Ok((mut incoming, _)) = listener.accept().await else {
                    return;
                };
                let _ = incoming.set_nodelay(true);
                let net = net.clone();
                tokio::spawn(async move {
                    let Ok(mut outgoing) = connect_inside(&net, port).await else {
                        return;
                    };
                    let _ = outgoing.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut incoming, &mut outgoing).await;
                });
            }
        }));
        Ok(address)
    }
}

/// A connection to `127.0.0.1:port` inside the namespace `net`.
pub(crate) async fn connect_inside(
    net: &Arc<NetNs>,
    port: u16,
) -> std::io::Result<tokio::net::TcpStream> {
    let net = net.clone();
    let socket = tokio::task::spawn_blocking(move || net.socket())
        .await
        .map_err(std::io::Error::other)??;
    socket.set_nonblocking(true)?;
    let socket = tokio::net::TcpSocket::from_std_stream(socket.into());
    socket
        .connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .await
}

/// How host paths appear inside.
struct View<'a> {
    code_dir: &'a Path,
    runtime_dir: &'a Path,
}

impl View<'_> {
    fn inside(&self, path: &Path) -> PathBuf {
        // The runtimes folder first: with `CodeUri: ./` it lies inside the code folder.
        if let Ok(rest) = path.strip_prefix(self.runtime_dir) {
            return Path::new(RUNTIME_ROOT).join(rest);
        }
        if let Ok(rest) = path.strip_prefix(self.code_dir) {
            return Path::new(TASK_ROOT).join(rest);
        }
        path.to_owned()
    }
}

/// The installation prefix of an interpreter outside the system folders every sandbox
/// sees (`/root/.pyenv/versions/3.11.7` for its `bin/python3.11`), to be mounted too.
fn interpreter_prefix(program: &Path, view: &View<'_>) -> Option<PathBuf> {
    if program.starts_with(view.code_dir) || program.starts_with(view.runtime_dir) {
        return None;
    }
    let system = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32"];
    if system.iter().any(|root| program.starts_with(root)) {
        return None;
    }
    let bin = program.parent()?;
    if bin.file_name()? != "bin" {
        return Some(bin.to_owned());
    }
    bin.parent().map(Path::to_owned)
}

/// Folders that symlinks at the top of the code folder point to with absolute paths (a
/// `node_modules` linked from elsewhere, as pnpm and monorepos do), made visible at those
/// paths so the links resolve inside. Links into the data folder stay dangling.
fn linked_folders(code_dir: &Path, data_dir: &Path) -> Vec<Mount> {
    let Ok(entries) = std::fs::read_dir(code_dir) else {
        return Vec::new();
    };
    let mut mounts = Vec::new();
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|kind| kind.is_symlink()) {
            continue;
        }
        let Ok(link) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if !link.is_absolute() {
            continue;
        }
        let Ok(target) = std::fs::canonicalize(&link) else {
            continue;
        };
        let exposes_data = target.starts_with(data_dir) || data_dir.starts_with(&target);
        if exposes_data || target.starts_with(code_dir) || target == Path::new("/") {
            continue;
        }
        mounts.push(Mount::read_only(target, link));
    }
    mounts
}

/// A sandbox set up ahead of demand for one function, waiting for its program.
#[derive(Debug)]
pub(crate) struct ParkedSandbox {
    pub instance: SandboxedInstance,
    /// The Runtime API listener inside its namespace (`127.0.0.1:9001`).
    pub runtime_api: tokio::net::TcpListener,
    /// The sandbox init, with its launch pipe and output pipes.
    pub child: tokio::process::Child,
}

impl ParkedSandbox {
    /// Whether the sandbox is still waiting; one whose set-up failed has ended.
    fn is_waiting(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Starts `launch` in the parked sandbox whose init is `child`: the launch message, then
/// end of input.
pub(crate) async fn launch_parked(
    child: &mut tokio::process::Child,
    launch: &Launch,
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("the sandbox was launched already"))?;
    stdin.write_all(&launch.to_message()).await
}

/// One function's parked sandbox, if any: taken by its next cold start, filled again
/// afterwards. A filler holds the lock while it works, so a cold start that comes in
/// meanwhile waits for that sandbox rather than building another.
#[derive(Debug, Default, Clone)]
pub(crate) struct ParkSlot(Arc<tokio::sync::Mutex<Option<ParkedSandbox>>>);

impl ParkSlot {
    /// The parked sandbox, if one is waiting (or being set up).
    pub async fn take(&self) -> Option<ParkedSandbox> {
        let mut parked = self.0.lock().await.take()?;
        parked.is_waiting().then_some(parked)
    }

    /// The slot to fill, when it is empty and nobody is filling it.
    pub fn to_fill(&self) -> Option<tokio::sync::OwnedMutexGuard<Option<ParkedSandbox>>> {
        let guard = self.0.clone().try_lock_owned().ok()?;
        guard.is_none().then_some(guard)
    }

    /// Ends the parked sandbox, if any (its init is killed with its pipes closed).
    pub async fn clear(&self) {
        drop(self.0.lock().await.take());
    }
}

/// What a sandboxed instance holds on to: its namespace (and the platform listeners served
/// in it) and its cgroup. Dropping it stops the listeners and removes the cgroup.
#[derive(Debug)]
pub(crate) struct SandboxedInstance {
    net: Arc<NetNs>,
    handle: Option<InstanceHandle>,
    tasks: Vec<JoinHandle<()>>,
}

impl SandboxedInstance {
    /// The instance's network namespace.
    pub fn net(&self) -> &Arc<NetNs> {
        &self.net
    }

    /// Whether the kernel's OOM killer ended a process of the instance.
    pub fn oom_killed(&self) -> bool {
        self.handle.as_ref().is_some_and(InstanceHandle::oom_killed)
    }

    pub fn peak_memory_mb(&self) -> Option<u64> {
        self.handle
            .as_ref()
            .and_then(InstanceHandle::peak_memory_mb)
    }

    /// The sandbox set-up step that failed, if the instance ended before its program ran.
    pub fn setup_error(&self) -> Option<String> {
        self.handle.as_ref().and_then(InstanceHandle::setup_error)
    }
}

impl Drop for SandboxedInstance {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_the_sandbox() {
        let view = View {
            code_dir: Path::new("/data/build/Fn/abc"),
            runtime_dir: Path::new("/data/runtimes"),
        };
        assert_eq!(
            view.inside(Path::new("/data/build/Fn/abc/bootstrap")),
            Path::new("/var/task/bootstrap")
        );
        assert_eq!(
            view.inside(Path::new("/data/runtimes/python/bootstrap.py")),
            Path::new("/var/runtime/python/bootstrap.py")
        );
        assert_eq!(
            view.inside(Path::new("/usr/bin/node")),
            Path::new("/usr/bin/node")
        );
        assert_eq!(
            interpreter_prefix(
                Path::new("/root/.pyenv/versions/3.11.7/bin/python3.11"),
                &view
            ),
            Some(PathBuf::from("/root/.pyenv/versions/3.11.7"))
        );
        assert_eq!(interpreter_prefix(Path::new("/usr/bin/node"), &view), None);
        assert_eq!(
            interpreter_prefix(Path::new("/data/build/Fn/abc/bootstrap"), &view),
            None
        );
    }
}
