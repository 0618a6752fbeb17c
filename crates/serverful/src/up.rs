//! `serverful up`: load the template, start the functions' runtime and the gateway, print
//! the routes, and serve until Ctrl-C.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use serverful_cli::UpArgs;
use serverful_gateway as gateway;
use serverful_runtime as runtime;
use serverful_template as template;

/// The account id functions, ARNs and events report.
const ACCOUNT_ID: &str = "123456789012";

pub(crate) async fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    let app_path = args.dir.clone();
    let overrides = parse_parameter_overrides(&args.parameter_overrides)?;
    let stack_name = args.stack_name.clone().unwrap_or_else(|| default_stack_name(&app_path));
    let options = template::LoadOptions {
        parameter_overrides: overrides,
        region: args.region.clone(),
        account_id: ACCOUNT_ID.to_string(),
        stack_name,
    };
    let app = match template::load(&app_path, &options) {
        Ok(app) => app,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if !app.unsupported.is_empty() {
        eprintln!("warning: not supported yet, ignored: {}", app.unsupported.join(", "));
    }

    let data_dir = match &args.data {
        Some(dir) => dir.clone(),
        None => app.base_dir.join(".serverful"),
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("create the data folder {}", data_dir.display()))?;
    let data_dir = data_dir.canonicalize().context("resolve the data folder")?;

    let functions = app
        .functions
        .iter()
        .map(|function| function_config(function, &data_dir))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let runtime_options = runtime::RuntimeOptions {
        region: args.region.clone(),
        account_id: ACCOUNT_ID.to_string(),
        data_dir: data_dir.clone(),
        aws_endpoint_url: None,
        access_key_id: "serverful".to_string(),
        secret_access_key: "serverful".to_string(),
        max_concurrency: 10,
        ..runtime::RuntimeOptions::default()
    };
    let (function_runtime, warnings) = match runtime::Runtime::new(functions, runtime_options) {
        Ok(started) => started,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let function_runtime = Arc::new(function_runtime);

    let gateway_address = SocketAddr::new(args.host, args.port);
    let listener = match tokio::net::TcpListener::bind(gateway_address).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {gateway_address} for the gateway: {error}");
            if error.kind() == std::io::ErrorKind::AddrInUse {
                eprintln!("hint: another program uses port {}: stop it or pass --port", args.port);
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let bound = listener.local_addr().context("read the gateway's address")?;
    let base_url = format!("http://{bound}");

    let apis: Vec<gateway::ApiSpec> = app.apis.iter().map(api_spec).collect();
    println!("serverful {} running {}", env!("CARGO_PKG_VERSION"), app.template_path.display());
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
        invoker: Arc::new(RuntimeInvoker(function_runtime.clone())),
        domain_name: bound.to_string(),
        account_id: ACCOUNT_ID.to_string(),
    };
    let router = gateway::router(state);
    // Connect info gives events the client's address (`sourceIp`).
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, service).with_graceful_shutdown(shutdown_signal()).await;
    // Stop the functions before reporting anything else, so no process outlives us.
    stop_runtime(&function_runtime).await;
    served.context("serve the gateway")?;
    Ok(ExitCode::SUCCESS)
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
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

async fn stop_runtime(function_runtime: &runtime::Runtime) {
    if tokio::time::timeout(Duration::from_secs(10), function_runtime.shutdown()).await.is_err() {
        tracing::error!("function processes did not stop within 10 s");
    }
}

/// `Key=Value` pairs from `--parameter-overrides`; also accepts CloudFormation's
/// `ParameterKey=Key,ParameterValue=Value` spelling, as `sam` does.
fn parse_parameter_overrides(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut overrides = BTreeMap::new();
    for pair in pairs.iter().filter(|pair| !pair.is_empty()) {
        let parsed = if let Some(rest) = pair.strip_prefix("ParameterKey=") {
            rest.split_once(",ParameterValue=")
        } else {
            pair.split_once('=')
        };
        match parsed {
            Some((key, value)) if !key.is_empty() => {
                overrides.insert(key.to_string(), value.to_string());
            }
            _ => anyhow::bail!(
                "--parameter-overrides takes Key=Value pairs, got `{pair}`\nhint: write it as --parameter-overrides Stage=dev"
            ),
        }
    }
    Ok(overrides)
}

/// The stack name defaults to the app folder's name, as `sam deploy --guided` suggests.
fn default_stack_name(app_path: &Path) -> String {
    let folder = if app_path.is_file() { app_path.parent() } else { Some(app_path) };
    folder
        .and_then(|folder| folder.canonicalize().ok())
        .and_then(|folder| folder.file_name().map(|name| name.to_string_lossy().into_owned()))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "serverful".to_string())
}

fn function_config(function: &template::Function, data_dir: &Path) -> anyhow::Result<runtime::FunctionConfig> {
    let code_dir = match &function.code {
        template::FunctionCode::Dir(dir) => dir.clone(),
        template::FunctionCode::Inline(source) => write_inline_code(function, source, data_dir)?,
    };
    Ok(runtime::FunctionConfig {
        name: function.logical_id.clone(),
        runtime: function.runtime.clone(),
        handler: function.handler.clone(),
        code_dir,
        timeout: Duration::from_secs(u64::from(function.timeout_secs)),
        memory_mb: function.memory_mb,
        environment: function.environment.clone(),
        reserved_concurrency: function.reserved_concurrency,
    })
}

/// `InlineCode` becomes a one-file code folder in the data dir, named as SAM names it
/// (`index.js` for Node.js, `index.py` for Python), so handlers like `index.handler` work.
fn write_inline_code(function: &template::Function, source: &str, data_dir: &Path) -> anyhow::Result<PathBuf> {
    let file_name = if function.runtime.starts_with("nodejs") {
        "index.js"
    } else if function.runtime.starts_with("python") {
        "index.py"
    } else {
        "bootstrap"
    };
    let dir = data_dir.join("inline").join(&function.logical_id);
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let path = dir.join(file_name);
    std::fs::write(&path, source).with_context(|| format!("write the inline code of {}", function.logical_id))?;
    if file_name == "bootstrap" {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("make {} executable", path.display()))?;
    }
    Ok(dir)
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

/// The gateway invokes functions through the runtime.
struct RuntimeInvoker(Arc<runtime::Runtime>);

impl gateway::Invoke for RuntimeInvoker {
    fn invoke(&self, function: &str, event: Bytes) -> BoxFuture<'static, Result<Bytes, gateway::InvokeError>> {
        let function_runtime = self.0.clone();
        let function = function.to_string();
        Box::pin(async move {
            function_runtime.invoke(&function, event).await.map_err(|error| match error {
                runtime::InvokeError::FunctionError(payload) => gateway::InvokeError::FunctionError(payload),
                runtime::InvokeError::Timeout => gateway::InvokeError::Timeout,
                runtime::InvokeError::Throttled => gateway::InvokeError::Throttled,
                runtime::InvokeError::PayloadTooLarge => gateway::InvokeError::PayloadTooLarge,
                runtime::InvokeError::NoSuchFunction(name) => {
                    gateway::InvokeError::Unavailable(format!("no function named {name}"))
                }
                runtime::InvokeError::ShuttingDown => {
                    gateway::InvokeError::Unavailable("the server is shutting down".to_string())
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_overrides_both_spellings() {
        let parsed = parse_parameter_overrides(&[
            "Stage=dev".to_string(),
            "ParameterKey=Name,ParameterValue=a=b".to_string(),
            "Empty=".to_string(),
        ])
        .expect("valid overrides");
        assert_eq!(parsed["Stage"], "dev");
        assert_eq!(parsed["Name"], "a=b");
        assert_eq!(parsed["Empty"], "");
    }

    #[test]
    fn parameter_override_without_equals_says_how_to_fix() {
        let error = parse_parameter_overrides(&["Stage".to_string()]).expect_err("invalid");
        assert!(error.to_string().contains("hint: write it as"), "{error}");
    }
}
