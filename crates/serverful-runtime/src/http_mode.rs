//! HTTP mode: functions whose process is a web server, following the AWS Lambda Web
//! Adapter's conventions. This module reads the adapter's settings from a function's
//! environment, decides which file starts the server, and checks when the server is ready.
//!
//! A function is in HTTP mode when its environment sets `AWS_LWA_PORT`, or sets `PORT`
//! together with `AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap` (what the adapter's layer asks
//! for). Its process is the code's `bootstrap` for `provided*` runtimes and otherwise the
//! file its `Handler` names (`run.sh`, which typically `exec`s `node index.js`).
//!
//! Settings honoured, as the adapter documents them:
//! - `AWS_LWA_PORT` (else `PORT`, else 8080): the port the app expects. Many instances of
//!   one function share this host, so every instance gets its own free loopback port
//!   instead, set as both `PORT` and `AWS_LWA_PORT` in its environment (overriding the
//!   template's value); apps that read either variable work unchanged.
//! - `AWS_LWA_READINESS_CHECK_PORT`: checked instead of the app port when it differs from
//!   the configured app port (then only one instance of the function can run at a time);
//!   otherwise it follows the allocated port too.
//! - `AWS_LWA_READINESS_CHECK_PATH` (default `/`), `AWS_LWA_READINESS_CHECK_PROTOCOL`
//!   (`http` or `tcp`), `AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS` (default 500) and
//!   `AWS_LWA_READINESS_CHECK_HEALTHY_STATUS` (`200-399`, `200,204,301-399`).
//! - `AWS_LWA_REMOVE_BASE_PATH`: a prefix taken off request paths before they reach the app.
//! - `AWS_LWA_ASYNC_INIT`: the readiness wait may run past the 10 s init limit, for up to
//!   the function's `Timeout` more, as the adapter moves a slow init into the first request.
//! - `AWS_LWA_PASS_THROUGH_PATH` (default `/events`): where direct invocations (not through
//!   the gateway) are posted.
//! - `AWS_LWA_INVOKE_MODE` (`buffered` or `response_stream`) is checked but changes
//!   nothing: responses always stream locally.
//!
//! The deprecated unprefixed spellings (`READINESS_CHECK_PATH`, `REMOVE_BASE_PATH`, ...)
//! are read when the prefixed ones are unset, as the adapter still does.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bootstrap::Launch;
use crate::{FunctionConfig, RuntimeError};

/// The port the adapter assumes when nothing sets one.
pub const DEFAULT_PORT: u16 = 8080;

/// How often readiness is checked while an instance starts, as the adapter does.
pub const READINESS_POLL: Duration = Duration::from_millis(10);

/// How long one readiness attempt may take before it counts as "not ready yet".
const READINESS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);

/// How the runtime runs a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionMode {
    /// The process speaks the Lambda Runtime API.
    Lambda,
    /// The process is a web server the gateway proxies requests to.
    Http(HttpModeConfig),
}

impl FunctionMode {
    /// The mode `environment` asks for; an error names the setting that is wrong.
    pub fn from_environment(
        environment: &BTreeMap<String, String>,
    ) -> Result<FunctionMode, HttpSettingError> {
        Ok(match HttpModeConfig::from_environment(environment)? {
            Some(config) => FunctionMode::Http(config),
            None => FunctionMode::Lambda,
        })
    }
}

/// How readiness is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadinessProtocol {
    /// A `GET` on the readiness path answered with a healthy status.
    Http,
    /// A TCP connection accepted on the readiness port.
    Tcp,
}

/// The Lambda Web Adapter settings of one HTTP-mode function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpModeConfig {
    /// The port the template configures (the instance gets its own port instead).
    pub configured_port: u16,
    /// A readiness port distinct from `configured_port`, checked as is.
    pub separate_readiness_port: Option<u16>,
    pub readiness_path: String,
    pub readiness_protocol: ReadinessProtocol,
    /// Statuses at or above this one mean "not ready".
    pub min_unhealthy_status: u16,
    /// When set, only these statuses mean "ready" (overrides `min_unhealthy_status`).
    pub healthy_statuses: Option<Vec<RangeInclusive<u16>>>,
    /// Taken off the front of request paths (`/api` turns `/api/users` into `/users`).
    pub remove_base_path: Option<String>,
    pub async_init: bool,
    /// Where direct invocations are posted.
    pub pass_through_path: String,
}

/// A Lambda Web Adapter setting with a value the adapter would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?}: {problem}")]
pub struct HttpSettingError {
    pub variable: String,
    pub value: String,
    pub problem: String,
}

impl HttpModeConfig {
    /// The HTTP-mode settings of a function, or `None` for a Lambda-mode function.
    pub fn from_environment(
        environment: &BTreeMap<String, String>,
    ) -> Result<Option<HttpModeConfig>, HttpSettingError> {
        let get = |name: &str| {
            environment
                .get(&format!("AWS_LWA_{name}"))
                .map(|value| (format!("AWS_LWA_{name}"), value))
                .or_else(|| environment.get(name).map(|value| (name.to_owned(), value)))
        };
        let lwa_port = environment.get("AWS_LWA_PORT");
        let wrapped = environment
            .get("AWS_LAMBDA_EXEC_WRAPPER")
            .map(String::as_str)
            == Some("/opt/bootstrap");
        if lwa_port.is_none() && !(wrapped && environment.contains_key("PORT")) {
            return Ok(None);
        }
        let configured_port = match get("PORT") {
            Some((variable, value)) => parse_port(&variable, value)?,
            None => DEFAULT_PORT,
        };
        let separate_readiness_port = match get("READINESS_CHECK_PORT") {
            Some((variable, value)) => {
                Some(parse_port(&variable, value)?).filter(|port| *port != configured_port)
            }
            None => None,
        };
        let readiness_path = match get("READINESS_CHECK_PATH") {
            Some((variable, value)) => {
                if !value.starts_with('/') {
                    return Err(setting_error(&variable, value, "a path starts with `/`"));
                }
                value.clone()
            }
            None => "/".to_owned(),
        };
        let readiness_protocol = match get("READINESS_CHECK_PROTOCOL") {
            Some((variable, value)) => match value.to_ascii_lowercase().as_str() {
                "http" => ReadinessProtocol::Http,
                "tcp" => ReadinessProtocol::Tcp,
                _ => return Err(setting_error(&variable, value, "use `http` or `tcp`")),
            },
            None => ReadinessProtocol::Http,
        };
        let min_unhealthy_status = match get("READINESS_CHECK_MIN_UNHEALTHY_STATUS") {
            Some((variable, value)) => parse_status(&variable, value)?,
            None => 500,
        };
        let healthy_statuses = match environment.get("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS") {
            Some(value) => Some(parse_status_list(
                "AWS_LWA_READINESS_CHECK_HEALTHY_STATUS",
                value,
            )?),
            None => None,
        };
        let remove_base_path = match get("REMOVE_BASE_PATH") {
            Some((_, value)) if value.is_empty() || value == "/" => None,
            Some((variable, value)) => {
                if !value.starts_with('/') {
                    return Err(setting_error(&variable, value, "a path starts with `/`"));
                }
                Some(value.trim_end_matches('/').to_owned())
            }
            None => None,
        };
        let async_init = match get("ASYNC_INIT") {
            Some((variable, value)) => parse_bool(&variable, value)?,
            None => false,
        };
        if let Some((variable, value)) = get("INVOKE_MODE") {
            if !matches!(
                value.to_ascii_lowercase().as_str(),
                "buffered" | "response_stream"
            ) {
                return Err(setting_error(
                    &variable,
                    value,
                    "use `buffered` or `response_stream`",
                ));
            }
        }
        let pass_through_path = match get("PASS_THROUGH_PATH") {
            Some((variable, value)) => {
                if !value.starts_with('/') {
                    return Err(setting_error(&variable, value, "a path starts with `/`"));
                }
                value.clone()
            }
            None => "/events".to_owned(),
        };
        Ok(Some(HttpModeConfig {
            configured_port,
            separate_readiness_port,
            readiness_path,
            readiness_protocol,
            min_unhealthy_status,
            healthy_statuses,
            remove_base_path,
            async_init,
            pass_through_path,
        }))
    }

    /// Whether a readiness answer with `status` means the app is ready.
    pub fn is_healthy(&self, status: u16) -> bool {
        match &self.healthy_statuses {
            Some(ranges) => ranges.iter().any(|range| range.contains(&status)),
            None => (100..self.min_unhealthy_status).contains(&status),
        }
    }

    /// How long an instance may take to become ready.
    pub fn readiness_limit(&self, function_timeout: Duration) -> Duration {
        if self.async_init {
            crate::INIT_TIMEOUT + function_timeout
        } else {
            crate::INIT_TIMEOUT
        }
    }
}

fn setting_error(variable: &str, value: &str, problem: &str) -> HttpSettingError {
    HttpSettingError {
        variable: variable.to_owned(),
        value: value.to_owned(),
        problem: problem.to_owned(),
    }
}

fn parse_port(variable: &str, value: &str) -> Result<u16, HttpSettingError> {
    match value.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(setting_error(
            variable,
            value,
            "a port is a number from 1 to 65535",
        )),
    }
}

fn parse_status(variable: &str, value: &str) -> Result<u16, HttpSettingError> {
    match value.trim().parse::<u16>() {
        Ok(status) if (100..=599).contains(&status) => Ok(status),
        _ => Err(setting_error(
            variable,
            value,
            "an HTTP status is a number from 100 to 599",
        )),
    }
}

/// `200-399`, `200,201,204,301-399`.
fn parse_status_list(
    variable: &str,
    value: &str,
) -> Result<Vec<RangeInclusive<u16>>, HttpSettingError> {
    let invalid = || {
        setting_error(
            variable,
            value,
            "list statuses and ranges, e.g. `200-399` or `200,204,301-399`",
        )
    };
    let mut ranges = Vec::new();
    for part in value.split(',').map(str::trim) {
        let range = match part.split_once('-') {
            Some((low, high)) => {
                let low = parse_status(variable, low).map_err(|_| invalid())?;
                let high = parse_status(variable, high).map_err(|_| invalid())?;
                if low > high {
                    return Err(invalid());
                }
                low..=high
            }
            None => {
                let status = parse_status(variable, part).map_err(|_| invalid())?;
                status..=status
            }
        };
        ranges.push(range);
    }
    Ok(ranges)
}

fn parse_bool(variable: &str, value: &str) -> Result<bool, HttpSettingError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err(setting_error(variable, value, "use `true` or `false`")),
    }
}

/// Decides which file starts an HTTP-mode function's server: the code's `bootstrap` for
/// `provided*` runtimes, otherwise the file the handler names, which must be executable.
pub(crate) fn validate(function: &FunctionConfig) -> Result<Launch, RuntimeError> {
    let name = &function.name;
    let runtime = &function.runtime;
    if let Err(unknown) = serverful_catalog::parse(runtime) {
        return Err(RuntimeError::UnsupportedRuntime {
            function: name.clone(),
            runtime: runtime.clone(),
            reason: unknown.to_string(),
        });
    }
    if !function.code_dir.is_dir() {
        return Err(RuntimeError::MissingCodeDir {
            function: name.clone(),
            path: function.code_dir.clone(),
        });
    }
    let provided = runtime.starts_with("provided");
    let program = if provided {
        function.code_dir.join("bootstrap")
    } else {
        if function.handler.is_empty() {
            return Err(RuntimeError::MissingStartScript {
                function: name.clone(),
                path: function.code_dir.clone(),
            });
        }
        function.code_dir.join(&function.handler)
    };
    if !program.is_file() {
        return Err(if provided {
            RuntimeError::MissingBootstrap {
                function: name.clone(),
                runtime: runtime.clone(),
                path: program,
            }
        } else {
            RuntimeError::MissingStartScript {
                function: name.clone(),
                path: program,
            }
        });
    }
    if !is_executable(&program) {
        return Err(RuntimeError::BootstrapNotExecutable {
            function: name.clone(),
            path: program,
        });
    }
    Ok(Launch {
        program,
        bootstrap: None,
        interpreter_args: Vec::new(),
        execution_env: (!provided).then(|| format!("AWS_Lambda_{runtime}")),
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .map(|meta| meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// One readiness attempt on `address`: true when the app is ready.
///
/// With `inside`, `address` is in that network namespace (a sandboxed server): a relay on
/// the host would accept connections before the server does, so the check connects there.
pub(crate) async fn check_ready(
    config: &HttpModeConfig,
    address: SocketAddr,
    inside: Option<&std::sync::Arc<serverful_sandbox::NetNs>>,
) -> bool {
    let attempt = async {
        let mut stream = match inside {
            Some(net) => crate::sandbox::connect_inside(net, address.port())
                .await
                .ok()?,
            None => tokio::net::TcpStream::connect(address).await.ok()?,
        };
        if config.readiness_protocol == ReadinessProtocol::Tcp {
            return Some(true);
        }
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: serverful-readiness-check\r\nConnection: close\r\n\r\n",
            config.readiness_path
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        // The status line fits in the first bytes; the rest of the answer is not needed.
        let mut head = Vec::with_capacity(64);
        let mut buffer = [0_u8; 64];
        while !head.contains(&b'\n') && head.len() < 1024 {
            let n = stream.read(&mut buffer).await.ok()?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buffer[..n]);
        }
        let status = parse_status_line(&head)?;
        Some(config.is_healthy(status))
    };
    tokio::time::timeout(READINESS_ATTEMPT_TIMEOUT, attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// The status of `HTTP/1.1 200 OK`.
fn parse_status_line(head: &[u8]) -> Option<u16> {
    let line = head.split(|&byte| byte == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<Option<HttpModeConfig>, String> {
        HttpModeConfig::from_environment(&env(pairs)).map_err(|error| error.to_string())
    }

    fn config(pairs: &[(&str, &str)]) -> HttpModeConfig {
        parse(pairs)
            .expect("valid settings")
            .expect("an HTTP-mode function")
    }

    #[test]
    fn lambda_mode_unless_the_adapter_is_configured() {
        assert_eq!(parse(&[]), Ok(None));
        // PORT alone is an ordinary variable of a Lambda-mode function.
        assert_eq!(parse(&[("PORT", "3000")]), Ok(None));
        assert_eq!(
            parse(&[("AWS_LAMBDA_EXEC_WRAPPER", "/opt/bootstrap")]),
            Ok(None)
        );
        assert_eq!(
            FunctionMode::from_environment(&env(&[])),
            Ok(FunctionMode::Lambda)
        );
    }

    #[test]
    fn defaults_as_the_adapter_documents_them() {
        let settings = config(&[("AWS_LWA_PORT", "8000")]);
        assert_eq!(
            settings,
            HttpModeConfig {
                configured_port: 8000,
                separate_readiness_port: None,
                readiness_path: "/".to_owned(),
                readiness_protocol: ReadinessProtocol::Http,
                min_unhealthy_status: 500,
                healthy_statuses: None,
                remove_base_path: None,
                async_init: false,
                pass_through_path: "/events".to_owned(),
            }
        );
        assert!(settings.is_healthy(200));
        assert!(settings.is_healthy(404));
        assert!(!settings.is_healthy(500));
        assert!(!settings.is_healthy(503));
        assert_eq!(
            settings.readiness_limit(Duration::from_secs(30)),
            crate::INIT_TIMEOUT
        );
    }

    #[test]
    fn the_layers_exec_wrapper_with_port() {
        let settings = config(&[
            ("AWS_LAMBDA_EXEC_WRAPPER", "/opt/bootstrap"),
            ("PORT", "3000"),
        ]);
        assert_eq!(settings.configured_port, 3000);
    }

    #[test]
    fn every_setting() {
        let settings = config(&[
            ("AWS_LWA_PORT", "3000"),
            ("AWS_LWA_READINESS_CHECK_PORT", "3001"),
            ("AWS_LWA_READINESS_CHECK_PATH", "/healthz"),
            ("AWS_LWA_READINESS_CHECK_PROTOCOL", "TCP"),
            ("AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS", "400"),
            ("AWS_LWA_REMOVE_BASE_PATH", "/api/"),
            ("AWS_LWA_ASYNC_INIT", "true"),
            ("AWS_LWA_INVOKE_MODE", "response_stream"),
            ("AWS_LWA_PASS_THROUGH_PATH", "/lambda-events"),
        ]);
        assert_eq!(settings.separate_readiness_port, Some(3001));
        assert_eq!(settings.readiness_path, "/healthz");
        assert_eq!(settings.readiness_protocol, ReadinessProtocol::Tcp);
        assert!(settings.is_healthy(399));
        assert!(!settings.is_healthy(400));
        assert_eq!(settings.remove_base_path.as_deref(), Some("/api"));
        assert!(settings.async_init);
        assert_eq!(
            settings.readiness_limit(Duration::from_secs(30)),
            crate::INIT_TIMEOUT + Duration::from_secs(30)
        );
        assert_eq!(settings.pass_through_path, "/lambda-events");
    }

    #[test]
    fn a_readiness_port_equal_to_the_app_port_follows_the_instance() {
        let settings = config(&[
            ("AWS_LWA_PORT", "3000"),
            ("AWS_LWA_READINESS_CHECK_PORT", "3000"),
        ]);
        assert_eq!(settings.separate_readiness_port, None);
    }

    #[test]
    fn deprecated_spellings_are_read_when_the_prefixed_ones_are_unset() {
        let settings = config(&[
            ("AWS_LWA_PORT", "3000"),
            ("READINESS_CHECK_PATH", "/old"),
            ("AWS_LWA_REMOVE_BASE_PATH", "/new"),
            ("REMOVE_BASE_PATH", "/old"),
        ]);
        assert_eq!(settings.readiness_path, "/old");
        assert_eq!(settings.remove_base_path.as_deref(), Some("/new"));
    }

    #[test]
    fn healthy_status_lists() {
        let settings = config(&[
            ("AWS_LWA_PORT", "3000"),
            ("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", "200,204, 301-399"),
        ]);
        assert!(settings.is_healthy(200));
        assert!(settings.is_healthy(204));
        assert!(settings.is_healthy(302));
        assert!(!settings.is_healthy(201));
        assert!(!settings.is_healthy(404));
    }

    #[test]
    fn bad_settings_say_what_to_write() {
        let error = |pairs: &[(&str, &str)]| {
            let mut all = vec![("AWS_LWA_PORT", "3000")];
            all.extend_from_slice(pairs);
            parse(&all).expect_err("invalid setting")
        };
        assert_eq!(
            parse(&[("AWS_LWA_PORT", "http")]).expect_err("invalid port"),
            r#"AWS_LWA_PORT="http": a port is a number from 1 to 65535"#
        );
        assert_eq!(
            error(&[("AWS_LWA_READINESS_CHECK_PROTOCOL", "grpc")]),
            r#"AWS_LWA_READINESS_CHECK_PROTOCOL="grpc": use `http` or `tcp`"#
        );
        assert_eq!(
            error(&[("AWS_LWA_READINESS_CHECK_PATH", "healthz")]),
            r#"AWS_LWA_READINESS_CHECK_PATH="healthz": a path starts with `/`"#
        );
        assert_eq!(
            error(&[("AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS", "42")]),
            r#"AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS="42": an HTTP status is a number from 100 to 599"#
        );
        assert!(
            error(&[("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", "300-200")])
                .contains("e.g. `200-399`")
        );
        assert_eq!(
            error(&[("AWS_LWA_ASYNC_INIT", "maybe")]),
            r#"AWS_LWA_ASYNC_INIT="maybe": use `true` or `false`"#
        );
        assert!(error(&[("AWS_LWA_INVOKE_MODE", "stream")]).contains("response_stream"));
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(parse_status_line(b"HTTP/1.0 503\r\nx: y"), Some(503));
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status_line(b""), None);
    }

    /// Serves `answers` in turn, one connection each, then stops.
    async fn serve(answers: Vec<&'static str>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            for answer in answers {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let mut request = [0_u8; 1024];
                let _ = stream.read(&mut request).await;
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        address
    }

    #[tokio::test]
    async fn http_readiness_follows_the_status() {
        let settings = config(&[
            ("AWS_LWA_PORT", "3000"),
            ("AWS_LWA_READINESS_CHECK_PATH", "/healthz"),
        ]);
        let address = serve(vec![
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
        ])
        .await;
        assert!(!check_ready(&settings, address, None).await);
        // Below the minimum unhealthy status: a 404 still means the server answers.
        assert!(check_ready(&settings, address, None).await);
    }

    #[tokio::test]
    async fn tcp_readiness_only_needs_a_listener() {
        let settings = config(&[
            ("AWS_LWA_PORT", "3000"),
            ("AWS_LWA_READINESS_CHECK_PROTOCOL", "tcp"),
        ]);
        let address = serve(vec!["not http at all"]).await;
        assert!(check_ready(&settings, address, None).await);
    }

    #[tokio::test]
    async fn nothing_listening_is_not_ready() {
        let settings = config(&[("AWS_LWA_PORT", "3000")]);
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let address = listener.local_addr().expect("address");
        drop(listener);
        assert!(!check_ready(&settings, address, None).await);
    }

    #[test]
    fn start_script_checks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let function = FunctionConfig {
            name: "Web".to_owned(),
            function_name: "Web".to_owned(),
            runtime: "nodejs20.x".to_owned(),
            handler: "run.sh".to_owned(),
            code_dir: dir.path().to_owned(),
            timeout: Duration::from_secs(3),
            memory_mb: 128,
            environment: env(&[("AWS_LWA_PORT", "3000")]),
            reserved_concurrency: None,
            tmp_size_mb: 512,
            network: None,
            layers_dir: None,
            logging: Default::default(),
        };
        let error = validate(&function).expect_err("missing run.sh");
        assert!(error.to_string().contains("run.sh is missing"), "{error}");
        std::fs::write(dir.path().join("run.sh"), "#!/bin/sh\n").expect("write");
        let error = validate(&function).expect_err("not executable");
        assert!(error.to_string().contains("chmod +x"), "{error}");
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(
                dir.path().join("run.sh"),
                std::fs::Permissions::from_mode(0o755),
            )
            .expect("chmod");
        }
        let launch = validate(&function).expect("valid");
        assert_eq!(launch.program, dir.path().join("run.sh"));
        assert_eq!(
            launch.execution_env.as_deref(),
            Some("AWS_Lambda_nodejs20.x")
        );

        let provided = FunctionConfig {
            runtime: "provided.al2023".to_owned(),
            ..function
        };
        let error = validate(&provided).expect_err("missing bootstrap");
        assert!(error.to_string().contains("bootstrap"), "{error}");
    }
}
