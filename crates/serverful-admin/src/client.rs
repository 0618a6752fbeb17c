//! The admin API's client, for the CLI: sends an action, hands each progress event to the
//! caller as it arrives, and returns the outcome.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serverful_platform::{ActionError, InvokeRequest, LogsRequest, Outcome};

use crate::wire::Event;
use crate::PREFIX;

/// A request's body and what it is.
struct Body {
    bytes: Bytes,
    content_type: &'static str,
}

impl Body {
    fn zip(bytes: Vec<u8>) -> Body {
        Body {
            bytes: Bytes::from(bytes),
            content_type: "application/zip",
        }
    }
}

/// Why a call to the admin API did not give an outcome.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached.
    #[error("cannot reach the admin API at {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    /// The token was refused.
    #[error("the admin API refused the token: {message}")]
    Unauthorized { message: String },
    /// The request itself was refused (a bad argument).
    #[error("{message}")]
    Refused { message: String },
    /// The action ran and failed; the server's stacks are as they were.
    #[error("{0}")]
    Action(ActionError),
    /// The server answered something that is not the admin API.
    #[error("unexpected answer from {endpoint}: {reason}")]
    Protocol { endpoint: String, reason: String },
    /// Reading the source to upload failed.
    #[error("{0}")]
    Source(String),
}

/// What to deploy from, as the user named it.
#[derive(Debug, Clone)]
pub enum ClientSource {
    /// An app folder on this machine: zipped and uploaded.
    Folder(PathBuf),
    /// A zip on this machine: uploaded as it is.
    Zip(PathBuf),
    /// A git repository the server clones.
    Git {
        url: String,
        reference: Option<String>,
    },
}

/// A client of one server's admin API.
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: String,
    token: String,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Client {
    /// `endpoint` is the admin API's base URL (`http://127.0.0.1:4599`).
    pub fn new(endpoint: &str, token: &str) -> Client {
        Client {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// `ls`.
    pub async fn list(&self, on_event: &mut dyn FnMut(&Event)) -> Result<Outcome, ClientError> {
        self.call(
            http::Method::GET,
            &format!("{PREFIX}/stacks"),
            None,
            on_event,
        )
        .await
    }

    /// `deploy`.
    pub async fn deploy(
        &self,
        stack: &str,
        source: &ClientSource,
        parameters: &[(String, String)],
        delete_tables: bool,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<Outcome, ClientError> {
        let mut query = Vec::new();
        for (key, value) in parameters {
            query.push(format!("parameter={}", encode(&format!("{key}={value}"))));
        }
        if delete_tables {
            query.push("delete_tables=true".to_owned());
        }
        let body = match source {
            ClientSource::Git { url, reference } => {
                query.push(format!("git={}", encode(url)));
                if let Some(reference) = reference {
                    query.push(format!("ref={}", encode(reference)));
                }
                None
            }
            ClientSource::Zip(path) => {
                query.push(format!(
                    "description={}",
                    encode(&path.display().to_string())
                ));
                let bytes = std::fs::read(path).map_err(|error| {
                    ClientError::Source(format!("cannot read {}: {error}", path.display()))
                })?;
                Some(Body::zip(bytes))
            }
            ClientSource::Folder(dir) => {
                let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
                query.push(format!(
                    "description={}",
                    encode(&absolute.display().to_string())
                ));
                let dir = dir.clone();
                let bytes = tokio::task::spawn_blocking(move || zip_folder(&dir))
                    .await
                    .map_err(|error| ClientError::Source(error.to_string()))?
                    .map_err(ClientError::Source)?;
                Some(Body::zip(bytes))
            }
        };
        let path = format!(
            "{PREFIX}/stacks/{}/deploy?{}",
            encode(stack),
            query.join("&")
        );
        self.call(http::Method::POST, &path, body, on_event).await
    }

    /// `rollback`.
    pub async fn rollback(
        &self,
        stack: &str,
        to: Option<u64>,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<Outcome, ClientError> {
        let mut path = format!("{PREFIX}/stacks/{}/rollback", encode(stack));
        if let Some(to) = to {
            path.push_str(&format!("?to={to}"));
        }
        self.call(http::Method::POST, &path, None, on_event).await
    }

    /// `delete`.
    pub async fn delete(
        &self,
        stack: &str,
        delete_tables: bool,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<Outcome, ClientError> {
        let mut path = format!("{PREFIX}/stacks/{}", encode(stack));
        if delete_tables {
            path.push_str("?delete_tables=true");
        }
        self.call(http::Method::DELETE, &path, None, on_event).await
    }

    /// A page of a function's log lines (`Outcome::Logs`): `serverful logs` pages and
    /// follows by passing the returned cursor back as `after`.
    pub async fn logs(&self, request: &LogsRequest) -> Result<Outcome, ClientError> {
        let mut query = vec![
            format!("function={}", encode(&request.function)),
            format!("limit={}", request.limit),
        ];
        if let Some(stack) = &request.stack {
            query.push(format!("stack={}", encode(stack)));
        }
        if let Some(since_ms) = request.since_ms {
            query.push(format!("since_ms={since_ms}"));
        }
        if let Some(after) = &request.after {
            query.push(format!("after={}", encode(after)));
        }
        let path = format!("{PREFIX}/logs?{}", query.join("&"));
        self.call(http::Method::GET, &path, None, &mut |_| {}).await
    }

    /// Calls a running function with an event (`Outcome::Invoked`).
    pub async fn invoke(&self, request: &InvokeRequest) -> Result<Outcome, ClientError> {
        let mut query = vec![format!("function={}", encode(&request.function))];
        if let Some(stack) = &request.stack {
            query.push(format!("stack={}", encode(stack)));
        }
        if let Some(qualifier) = &request.qualifier {
            query.push(format!("qualifier={}", encode(qualifier)));
        }
        let path = format!("{PREFIX}/invoke?{}", query.join("&"));
        let body = Body {
            bytes: Bytes::from(request.event.clone()),
            content_type: "application/json",
        };
        self.call(http::Method::POST, &path, Some(body), &mut |_| {})
            .await
    }

    /// A page of invocation records, newest first (`Outcome::Invocations`).
    pub async fn invocations(
        &self,
        request: &serverful_platform::InvocationsRequest,
    ) -> Result<Outcome, ClientError> {
        let mut query = Vec::new();
        if let Some(function) = &request.function {
            query.push(format!("function={}", encode(function)));
        }
        if let Some(stack) = &request.stack {
            query.push(format!("stack={}", encode(stack)));
        }
        if let Some(since_ms) = request.since_ms {
            query.push(format!("since_ms={since_ms}"));
        }
        if request.errors_only {
            query.push("errors=true".to_owned());
        }
        if let Some(limit) = request.limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(before) = &request.before {
            query.push(format!("before={}", encode(before)));
        }
        let path = format!("{PREFIX}/invocations?{}", query.join("&"));
        self.call(http::Method::GET, &path, None, &mut |_| {}).await
    }

    /// One invocation record whole (`Outcome::InvocationRecord`).
    pub async fn invocation_record(&self, id: &str) -> Result<Outcome, ClientError> {
        let path = format!("{PREFIX}/invocations/{}", encode(id));
        self.call(http::Method::GET, &path, None, &mut |_| {}).await
    }

    /// Runs a recorded event again against its stack's current deploy
    /// (`Outcome::Replayed`).
    pub async fn replay(&self, id: &str) -> Result<Outcome, ClientError> {
        let path = format!("{PREFIX}/invocations/{}/replay", encode(id));
        self.call(http::Method::POST, &path, None, &mut |_| {})
            .await
    }

    /// Streams a backup of the server's whole state into `out`, chunk by chunk, and
    /// returns the bytes received. The caller checks the file (its closing checksum says
    /// whether it is whole: a backup that failed on the server arrives cut short).
    pub async fn backup(
        &self,
        out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64, ClientError> {
        let mut body = self
            .send(http::Method::GET, &format!("{PREFIX}/backup"), None)
            .await?;
        let mut received = 0_u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| ClientError::Protocol {
                endpoint: self.endpoint.clone(),
                reason: format!(
                    "the backup broke off after {received} bytes (the server's log says why): {}",
                    describe(&error)
                ),
            })?;
            if let Some(data) = frame.data_ref() {
                out(data).map_err(|error| {
                    ClientError::Source(format!("cannot write the backup: {error}"))
                })?;
                received += data.len() as u64;
            }
        }
        Ok(received)
    }

    async fn call(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Body>,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<Outcome, ClientError> {
        let mut body = self.send(method, path, body).await?;
        let mut pending = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| ClientError::Protocol {
                endpoint: self.endpoint.clone(),
                reason: format!("the answer broke off: {error}"),
            })?;
            let Some(data) = frame.data_ref() else {
                continue;
            };
            pending.extend_from_slice(data);
            while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let event: Event =
                    serde_json::from_slice(&line).map_err(|error| ClientError::Protocol {
                        endpoint: self.endpoint.clone(),
                        reason: format!(
                            "not an admin API event ({error}): {}",
                            String::from_utf8_lossy(&line)
                        ),
                    })?;
                match event {
                    Event::Done { result } => return Ok(*result),
                    Event::Failed { error } => return Err(ClientError::Action(error)),
                    other => on_event(&other),
                }
            }
        }
        Err(ClientError::Protocol {
            endpoint: self.endpoint.clone(),
            reason: "the answer ended before the action's outcome (did the server stop?)"
                .to_owned(),
        })
    }

    /// Sends a request and returns the body of a successful answer; a refusal becomes
    /// the error it says.
    async fn send(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Body>,
    ) -> Result<hyper::body::Incoming, ClientError> {
        let uri = format!("{}{path}", self.endpoint);
        let mut builder = http::Request::builder().method(method).uri(&uri).header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", self.token),
        );
        if let Some(body) = &body {
            builder = builder.header(http::header::CONTENT_TYPE, body.content_type);
        }
        let request = builder
            .body(Full::new(body.map(|body| body.bytes).unwrap_or_default()))
            .map_err(|error| ClientError::Refused {
                message: format!("bad request to {uri}: {error}"),
            })?;
        let response =
            self.http
                .request(request)
                .await
                .map_err(|error| ClientError::Unreachable {
                    endpoint: self.endpoint.clone(),
                    reason: describe(&error),
                })?;
        let status = response.status();
        let body = response.into_body();
        if !status.is_success() {
            let bytes = body
                .collect()
                .await
                .map(|collected| collected.to_bytes())
                .unwrap_or_default();
            let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let message = match (json["error"].as_str(), json["hint"].as_str()) {
                (Some(error), Some(hint)) => format!("{error}\nhint: {hint}"),
                (Some(error), None) => error.to_owned(),
                _ => format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)),
            };
            return Err(if status == http::StatusCode::UNAUTHORIZED {
                ClientError::Unauthorized { message }
            } else {
                ClientError::Refused { message }
            });
        }
        Ok(body)
    }
}

/// The client error's cause chain in one line: hyper's top error says little.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Names never uploaded: the data folder, dependencies the server installs itself, VCS
/// data and other tools' output, as the build skips them.
const NOT_UPLOADED: &[&str] = &[
    ".serverful",
    "node_modules",
    ".git",
    ".aws-sam",
    "__pycache__",
    "target",
];

/// Zips an app folder in memory for upload, links kept as links.
fn zip_folder(dir: &Path) -> Result<Vec<u8>, String> {
    use std::io::Write as _;
    if !dir.join("template.yaml").is_file() && !dir.join("template.yml").is_file() {
        return Err(format!(
            "{} has no template.yaml: deploy the folder that holds the app's template",
            dir.display()
        ));
    }
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        let absolute = dir.join(&relative);
        let mut entries: Vec<_> = std::fs::read_dir(&absolute)
            .map_err(|error| format!("cannot read {}: {error}", absolute.display()))?
            .flatten()
            .collect();
        entries.sort_by_key(|entry| entry.file_name());
        let cargo_project = absolute.join("Cargo.toml").is_file();
        for entry in entries {
            let name = entry.file_name();
            if NOT_UPLOADED.iter().any(|skipped| name == *skipped)
                || (cargo_project && name == "target")
            {
                continue;
            }
            let child = relative.join(&name);
            let child_name = child.to_string_lossy().replace('\\', "/");
            let file_type = entry
                .file_type()
                .map_err(|error| format!("cannot read {}: {error}", entry.path().display()))?;
            let metadata = std::fs::symlink_metadata(entry.path())
                .map_err(|error| format!("cannot read {}: {error}", entry.path().display()))?;
            let mode = {
                use std::os::unix::fs::PermissionsExt as _;
                metadata.permissions().mode()
            };
            let options = zip::write::SimpleFileOptions::default().unix_permissions(mode & 0o7777);
            if file_type.is_dir() {
                writer
                    .add_directory(format!("{child_name}/"), options)
                    .map_err(|error| format!("zip {child_name}: {error}"))?;
                stack.push(child);
            } else if file_type.is_symlink() {
                let target = std::fs::read_link(entry.path())
                    .map_err(|error| format!("cannot read {}: {error}", entry.path().display()))?;
                writer
                    .add_symlink(child_name.clone(), target.to_string_lossy(), options)
                    .map_err(|error| format!("zip {child_name}: {error}"))?;
            } else if file_type.is_file() {
                writer
                    .start_file(child_name.clone(), options)
                    .map_err(|error| format!("zip {child_name}: {error}"))?;
                let content = std::fs::read(entry.path())
                    .map_err(|error| format!("cannot read {}: {error}", entry.path().display()))?;
                writer
                    .write_all(&content)
                    .map_err(|error| format!("zip {child_name}: {error}"))?;
            }
        }
    }
    let cursor = writer
        .finish()
        .map_err(|error| format!("zip {}: {error}", dir.display()))?;
    Ok(cursor.into_inner())
}
