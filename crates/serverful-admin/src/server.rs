//! The admin API's server side: an axum router over the platform.
//!
//! - `GET  /v1/stacks`: `ls`;
//! - `POST /v1/stacks/{stack}/deploy`: a zip of the app as the body (`Content-Type:
//!   application/zip`), or `?git=URL[&ref=REF]` with no body; `?parameter=Key=Value`
//!   (repeated), `?delete_tables=true`, `?description=...` (what the client deployed
//!   from, shown by `ls`);
//! - `POST /v1/stacks/{stack}/rollback[?to=N]`;
//! - `DELETE /v1/stacks/{stack}[?delete_tables=true]`;
//! - `GET  /v1/logs?function=F[&stack=S][&since_ms=T][&after=CURSOR][&limit=N]`: a page
//!   of a function's log lines (the client pages and follows with the returned cursor);
//! - `POST /v1/invoke?function=F[&stack=S][&qualifier=Q]`: the body is the event (JSON);
//!   the outcome is the function's result or error;
//! - `GET  /v1/backup`: the body is a backup file (`.tar.zst`) written as it streams;
//! - `GET  /v1/stacks/{stack}`: the stack in detail (`described`: its deploy history,
//!   functions with their triggers, routes, tables, queues, topics), for the console;
//! - `POST /v1/tables/{table}/{operation}`: the console's item browser: one DynamoDB
//!   operation (`DescribeTable`, `Scan`, `Query`, `GetItem`, `PutItem`, `DeleteItem`) on
//!   a stack's table, the body DynamoDB's request JSON, the outcome `table_answered` with
//!   DynamoDB's answer, or DynamoDB's error (`ValidationException: …`) as the failure;
//! - `GET  /v1/queues/{queue}/messages[?limit=N]`: the console's peek at a stack's queue
//!   (`messages`: its first messages in the order sent, read without receiving them);
//!   `POST` the same path sends the body as a message; `POST /v1/queues/{queue}/purge`;
//!   `POST /v1/topics/{topic}/publish[?subject=S]` publishes the body;
//! - `GET  /` and `/console/`: the web console (no token needed for the page itself).
//! - `GET  /metrics`: Prometheus metrics (`crate::metrics`), with the token unless public.
//! - `GET  /v1/invocations[?function=F][&stack=S][&since_ms=T][&errors=true][&limit=N]
//!   [&before=CURSOR]`: invocation records, newest first (`limit` 100 by default). The
//!   `done` line's result is `{"outcome": "invocations", "records": [SUMMARY...], "next":
//!   CURSOR|null}`, each SUMMARY `{"id", "atMs", "stack", "function", "functionName",
//!   "executedVersion", "trigger", "outcome", "durationMs", "errorType", "replayOf"}`
//!   (`outcome` is `success`, `error`, `timeout`, `throttled`, `payload_too_large` or
//!   `unavailable`; `id` is the Lambda request id); pass `next` back as `before` for the
//!   next page;
//! - `GET  /v1/invocations/{id}`: one record, `{"outcome": "invocation_record", "record":
//!   RECORD}`, RECORD being the summary's fields (`duration` under `timings`) and
//!   `"deploy"`, `"qualifier"`, `"instance"`, `"event"`, `"result"` and `"error"` (each
//!   `{"text", "truncated", "bytes"}` or null; `bytes` is the original size), `"logs"`
//!   (lines) and `"timings": {"initMs", "durationMs", "billedMs", "memoryMb",
//!   "maxMemoryUsedMb"}`; an unknown or pruned id fails with kind `not_found` (HTTP 200,
//!   the `failed` line, as every action);
//! - `POST /v1/invocations/{id}/replay`: runs the recorded event again against the
//!   stack's current deploy (recorded as a new record, trigger `replay of {id}`):
//!   `{"outcome": "replayed", "recorded": RECORD, "replay": {"recordId", "outcome",
//!   "payload", "executedVersion", "deploy", "durationMs"}}`; a record whose event was
//!   truncated fails with kind `invalid`.
//!
//! Every action but the backup answers 200 with NDJSON [`Event`]s ending in `done` or
//! `failed`; the backup's body is the file itself, cut short if the backup fails (the
//! file's closing checksum then tells the client).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use bytes::Bytes;
use futures_util::StreamExt as _;
use serverful_build as build;
use serverful_platform::{
    Action, ActionError, BackupSink, DeployRequest, InvocationsRequest, InvokeRequest, LogsRequest,
    MessagesRequest, Platform, Progress, Source,
};

use crate::wire::Event;
use crate::PREFIX;

/// The largest app a deploy may upload: a zip of sources, not of dependencies.
const MAX_UPLOAD_BYTES: usize = 512 * 1024 * 1024;

/// What the admin API serves.
#[derive(Clone, Debug)]
pub struct AdminState {
    pub platform: Arc<Platform>,
    pub token: Arc<str>,
    /// Where uploads and fetched sources go: `DATA/stacks`.
    pub stacks_root: PathBuf,
    /// `GET /metrics` (see `crate::metrics`).
    pub metrics: crate::metrics::MetricsAccess,
    /// In cluster mode, the secret other nodes present when they hand over a
    /// `@connections` call for a socket held here (`None` refuses such calls).
    pub node_secret: Option<Arc<str>>,
}

/// The header carrying [`AdminState::node_secret`].
pub const NODE_SECRET_HEADER: &str = "x-serverful-node-secret";

/// The admin API as an axum router.
pub fn router(state: AdminState) -> Router {
    let authorized = state.clone();
    let api = Router::new()
        .route(&format!("{PREFIX}/stacks"), get(list))
        .route(&format!("{PREFIX}/stacks/{{stack}}/deploy"), post(deploy))
        .route(
            &format!("{PREFIX}/stacks/{{stack}}/rollback"),
            post(rollback),
        )
        .route(&format!("{PREFIX}/stacks/{{stack}}"), delete(delete_stack))
        .route(&format!("{PREFIX}/logs"), get(logs))
        .route(&format!("{PREFIX}/backup"), get(backup))
        .route(&format!("{PREFIX}/invoke"), post(invoke))
        .route(&format!("{PREFIX}/stacks/{{stack}}"), get(describe))
        .route(
            &format!("{PREFIX}/tables/{{table}}/{{operation}}"),
            post(table_call),
        )
        .route(
            &format!("{PREFIX}/queues/{{queue}}/messages"),
            get(peek).post(send),
        )
        .route(&format!("{PREFIX}/queues/{{queue}}/purge"), post(purge))
        .route(&format!("{PREFIX}/topics/{{topic}}/publish"), post(publish))
        .route(&format!("{PREFIX}/invocations"), get(invocations))
        .route(
            &format!("{PREFIX}/invocations/{{id}}"),
            get(invocation_record),
        )
        .route(&format!("{PREFIX}/invocations/{{id}}/replay"), post(replay))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        .layer(axum::middleware::from_fn(move |request, next| {
            check_token(authorized.token.clone(), request, next)
        }))
        // After the token layer, which they do not go through: they check on their own.
        .route(
            &format!("{PREFIX}/cluster/connections/{{id}}"),
            axum::routing::any(forwarded_connection),
        )
        .merge(crate::metrics::routes(
            state.metrics.clone(),
            state.token.clone(),
        ))
        .with_state(state);
    // The console's own files need no token: the page asks for it.
    crate::console::router().merge(api)
}

/// A `@connections` call another node of the cluster handed over (it checked the
/// caller's keys), for a WebSocket connection held here.
async fn forwarded_connection(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    method: axum::http::Method,
    body: Bytes,
) -> Response {
    let presented = headers
        .get(NODE_SECRET_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let accepted = state
        .node_secret
        .as_deref()
        .is_some_and(|secret| same_secret(secret.as_bytes(), presented.as_bytes()));
    if !accepted {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "not a node of this cluster",
            Some(
                "nodes hand over calls with the cluster's node secret, kept in the shared database",
            ),
        );
    }
    let Some(websockets) = state.platform.config().websockets.clone() else {
        return StatusCode::GONE.into_response();
    };
    let answer = serverful_websocket::serve_forwarded(&websockets, &id, &method, body).await;
    let (parts, body) = answer.into_parts();
    Response::from_parts(parts, Body::from(body))
}

/// Compares secrets in time that does not depend on where they differ.
fn same_secret(expected: &[u8], presented: &[u8]) -> bool {
    expected.len() == presented.len()
        && expected
            .iter()
            .zip(presented)
            .fold(0u8, |differ, (a, b)| differ | (a ^ b))
            == 0
}

/// A JSON error body: `{"error": "...", "hint": "..."}`.
fn json_error(status: StatusCode, error: &str, hint: Option<&str>) -> Response {
    let mut body = serde_json::json!({ "error": error });
    if let Some(hint) = hint {
        body["hint"] = serde_json::Value::String(hint.to_owned());
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn check_token(token: Arc<str>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match presented {
        Some(presented) if constant_time_equal(presented.as_bytes(), token.as_bytes()) => {
            next.run(request).await
        }
        Some(_) => json_error(
            StatusCode::UNAUTHORIZED,
            "the admin token is wrong",
            Some("use the token the server printed when it made it (DATA/admin-token), or SERVERFUL_ADMIN_TOKEN"),
        ),
        None => json_error(
            StatusCode::UNAUTHORIZED,
            "no admin token: send Authorization: Bearer TOKEN",
            Some("pass --token or set SERVERFUL_ADMIN_TOKEN"),
        ),
    }
}

/// Compares without stopping at the first difference, so that timing tells nothing.
pub(crate) fn constant_time_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn not_found() -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        "no such admin API path",
        Some("the paths are GET /v1/stacks, POST /v1/stacks/{stack}/deploy, POST /v1/stacks/{stack}/rollback, DELETE /v1/stacks/{stack}, GET /v1/logs?function=F, POST /v1/invoke?function=F, GET /v1/invocations, GET /v1/invocations/{id}, POST /v1/invocations/{id}/replay, GET /v1/backup"),
    )
}

/// Progress sent down the response as events.
struct StreamProgress(tokio::sync::mpsc::UnboundedSender<Event>);

impl Progress for StreamProgress {
    fn phase(&self, phase: &str) {
        let _ = self.0.send(Event::Phase {
            phase: phase.to_owned(),
        });
    }

    fn steps(&self, n: usize) {
        let _ = self.0.send(Event::Steps { n });
    }

    fn build(&self, event: build::BuildEvent<'_>) {
        let event = match event {
            build::BuildEvent::Started { logical_id, what } => Event::Build {
                function: logical_id.to_owned(),
                what: what.to_owned(),
            },
            build::BuildEvent::Warning {
                logical_id,
                message,
            } => Event::Warning {
                message: format!("{logical_id}: {message}"),
            },
            build::BuildEvent::Finished { logical_id, cached } => Event::Built {
                function: logical_id.to_owned(),
                cached,
            },
        };
        let _ = self.0.send(event);
    }

    fn warning(&self, message: &str) {
        let _ = self.0.send(Event::Warning {
            message: message.to_owned(),
        });
    }
}

/// Runs `work` (which gets the progress to report to) and streams its events, then its
/// outcome, as NDJSON. The work goes on if the client disconnects: a deploy half-watched
/// still finishes or fails as a whole.
fn stream_action<F, Fut>(work: F) -> Response
where
    F: FnOnce(Arc<dyn Progress>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<serverful_platform::Outcome, ActionError>> + Send,
{
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let progress: Arc<dyn Progress> = Arc::new(StreamProgress(sender.clone()));
    tokio::spawn(async move {
        let last = match work(progress).await {
            Ok(result) => Event::Done {
                result: Box::new(result),
            },
            Err(error) => Event::Failed { error },
        };
        let _ = sender.send(last);
    });
    let lines = tokio_stream_of(receiver).map(|event| {
        let mut line = serde_json::to_vec(&event).unwrap_or_default();
        line.push(b'\n');
        Ok::<_, std::convert::Infallible>(Bytes::from(line))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(lines))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The receiver as a stream that ends when every sender is gone.
fn tokio_stream_of(
    mut receiver: tokio::sync::mpsc::UnboundedReceiver<Event>,
) -> impl futures_util::Stream<Item = Event> {
    futures_util::stream::poll_fn(move |context| receiver.poll_recv(context))
}

async fn list(State(state): State<AdminState>) -> Response {
    let platform = state.platform.clone();
    stream_action(move |progress| async move { platform.handle(Action::List, progress).await })
}

/// The query's `key=value` pairs, decoded, in order.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| {
                percent_encoding::percent_decode_str(&text.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(key), decode(value))
        })
        .collect()
}

fn flag(pairs: &[(String, String)], name: &str) -> bool {
    pairs
        .iter()
        .any(|(key, value)| key == name && matches!(value.as_str(), "" | "true" | "1"))
}

/// `?since_ms=`: milliseconds since the Unix epoch, if given; a 400 if it is no number.
fn since_ms(pairs: &[(String, String)]) -> Result<Option<i64>, Box<Response>> {
    value(pairs, "since_ms")
        .map(str::parse::<i64>)
        .transpose()
        .map_err(|_| {
            Box::new(json_error(
                StatusCode::BAD_REQUEST,
                "?since_ms= takes milliseconds since the Unix epoch",
                None,
            ))
        })
}

fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

async fn deploy(
    State(state): State<AdminState>,
    Path(stack): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs = query_pairs(query.as_deref());
    let mut parameters = BTreeMap::new();
    for (key, value) in &pairs {
        if key == "parameter" {
            match value.split_once('=') {
                Some((name, parameter_value)) if !name.is_empty() => {
                    parameters.insert(name.to_owned(), parameter_value.to_owned());
                }
                _ => {
                    return json_error(
                        StatusCode::BAD_REQUEST,
                        &format!("parameter `{value}` is not Key=Value"),
                        None,
                    )
                }
            }
        }
    }
    let delete_tables = flag(&pairs, "delete_tables");
    let git = value(&pairs, "git").map(str::to_owned);
    let git_ref = value(&pairs, "ref").map(str::to_owned);
    let description = value(&pairs, "description").map(str::to_owned);
    let is_zip = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/zip"));
    if git.is_none() && (!is_zip || body.is_empty()) {
        return json_error(
            StatusCode::BAD_REQUEST,
            "a deploy needs the app: a zip body (Content-Type: application/zip) or ?git=URL",
            None,
        );
    }
    let platform = state.platform.clone();
    let stacks_root = state.stacks_root.clone();
    stream_action(move |progress| async move {
        serverful_platform::server::check_stack_name(&stack)?;
        progress.phase("fetching the source");
        let staging = stacks_root.join(&stack).join("sources");
        // The upload lives until the fetch has copied it.
        let upload = match &git {
            Some(_) => None,
            None => Some(
                save_upload(&stacks_root, &body)
                    .await
                    .map_err(|message| ActionError::internal("source", message))?,
            ),
        };
        let spec = match (&git, &upload) {
            // Parsed as a user would type it, so that every form the CLI takes is
            // checked the same way here (no option-like URL, a known scheme, a sane REF).
            (Some(url), _) => {
                let typed = match &git_ref {
                    Some(reference) => format!("{url}#{reference}"),
                    None => url.clone(),
                };
                match build::SourceSpec::parse(&typed) {
                    Ok(spec @ build::SourceSpec::Git { .. }) => spec,
                    Ok(_) => {
                        return Err(ActionError::invalid(
                            "source",
                            format!("{url} is not a git repository URL"),
                        ))
                    }
                    Err(error) => return Err(ActionError::invalid("source", error.to_string())),
                }
            }
            (None, Some(file)) => build::SourceSpec::Zip {
                path: file.path().to_owned(),
            },
            (None, None) => return Err(ActionError::invalid("source", "no source")),
        };
        let fetched = tokio::task::spawn_blocking(move || build::fetch(&spec, &staging))
            .await
            .map_err(|error| ActionError::internal("source", error.to_string()))?
            .map_err(|error| ActionError::invalid("source", error.to_string()))?;
        drop(upload);
        let source = Source {
            dir: fetched.dir,
            template_path: fetched.template_path,
            description: match (&git, description) {
                (None, Some(description)) => {
                    format!("{description} (zip {})", short(&fetched.digest))
                }
                _ => fetched.description,
            },
            digest: fetched.digest,
        };
        let request = DeployRequest {
            stack,
            source,
            parameter_overrides: parameters,
            delete_tables,
            warm_before_switch: true,
        };
        platform.handle(Action::Deploy(request), progress).await
    })
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}

/// Writes an uploaded zip to a temporary file under `root`, removed when dropped.
async fn save_upload(
    root: &std::path::Path,
    body: &Bytes,
) -> Result<tempfile::NamedTempFile, String> {
    let root = root.to_owned();
    let body = body.clone();
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&root)
            .map_err(|error| format!("create {}: {error}", root.display()))?;
        let mut file = tempfile::Builder::new()
            .prefix(".upload-")
            .suffix(".zip")
            .tempfile_in(&root)
            .map_err(|error| format!("save the upload: {error}"))?;
        std::io::Write::write_all(&mut file, &body)
            .map_err(|error| format!("save the upload: {error}"))?;
        Ok(file)
    })
    .await
    .map_err(|error| error.to_string())?
}

async fn rollback(
    State(state): State<AdminState>,
    Path(stack): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = query_pairs(query.as_deref());
    let to = match value(&pairs, "to").map(str::parse::<u64>) {
        None => None,
        Some(Ok(number)) => Some(number),
        Some(Err(_)) => {
            return json_error(StatusCode::BAD_REQUEST, "?to= takes a version number", None)
        }
    };
    let platform = state.platform.clone();
    stream_action(move |progress| async move {
        platform
            .handle(Action::Rollback { stack, to }, progress)
            .await
    })
}

async fn delete_stack(
    State(state): State<AdminState>,
    Path(stack): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = query_pairs(query.as_deref());
    let delete_tables = flag(&pairs, "delete_tables");
    let platform = state.platform.clone();
    stream_action(move |progress| async move {
        platform
            .handle(
                Action::Delete {
                    stack,
                    delete_tables,
                },
                progress,
            )
            .await
    })
}

async fn logs(State(state): State<AdminState>, RawQuery(query): RawQuery) -> Response {
    let pairs = query_pairs(query.as_deref());
    let Some(function) = value(&pairs, "function").filter(|name| !name.is_empty()) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "?function= names the function whose logs to read",
            None,
        );
    };
    let number = |name: &str| value(&pairs, name).map(str::parse::<i64>);
    let since_ms = match since_ms(&pairs) {
        Ok(since_ms) => since_ms,
        Err(refused) => return *refused,
    };
    let limit = match number("limit") {
        None => 1000,
        Some(Ok(limit)) if limit > 0 => usize::try_from(limit).unwrap_or(usize::MAX),
        Some(_) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "?limit= takes a number of lines above 0",
                None,
            )
        }
    };
    let request = LogsRequest {
        function: function.to_owned(),
        stack: value(&pairs, "stack").map(str::to_owned),
        since_ms,
        after: value(&pairs, "after").map(str::to_owned),
        limit,
    };
    let platform = state.platform.clone();
    stream_action(
        move |progress| async move { platform.handle(Action::Logs(request), progress).await },
    )
}

async fn describe(State(state): State<AdminState>, Path(stack): Path<String>) -> Response {
    let platform = state.platform.clone();
    stream_action(move |progress| async move {
        platform.handle(Action::Describe { stack }, progress).await
    })
}

async fn messages(state: AdminState, request: MessagesRequest) -> Response {
    let platform = state.platform.clone();
    stream_action(move |progress| async move {
        platform.handle(Action::Messages(request), progress).await
    })
}

async fn peek(
    State(state): State<AdminState>,
    Path(queue): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = query_pairs(query.as_deref());
    let limit = match value(&pairs, "limit").map(str::parse::<usize>) {
        None => 20,
        Some(Ok(limit)) if limit > 0 => limit,
        Some(_) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "?limit= takes a number of messages from 1 to 100",
                None,
            )
        }
    };
    messages(state, MessagesRequest::Peek { queue, limit }).await
}

async fn send(State(state): State<AdminState>, Path(queue): Path<String>, body: Bytes) -> Response {
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "the message body must be UTF-8 text",
            None,
        );
    };
    messages(state, MessagesRequest::Send { queue, body }).await
}

async fn purge(State(state): State<AdminState>, Path(queue): Path<String>) -> Response {
    messages(state, MessagesRequest::Purge { queue }).await
}

async fn publish(
    State(state): State<AdminState>,
    Path(topic): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let pairs = query_pairs(query.as_deref());
    let Ok(message) = String::from_utf8(body.to_vec()) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "the message must be UTF-8 text",
            None,
        );
    };
    let subject = value(&pairs, "subject").map(str::to_owned);
    messages(
        state,
        MessagesRequest::Publish {
            topic,
            message,
            subject,
        },
    )
    .await
}

async fn table_call(
    State(state): State<AdminState>,
    Path((table, operation)): Path<(String, String)>,
    request: Bytes,
) -> Response {
    let platform = state.platform.clone();
    stream_action(move |progress| async move {
        platform
            .handle(
                Action::Table {
                    table,
                    operation,
                    request: request.to_vec(),
                },
                progress,
            )
            .await
    })
}

async fn invoke(
    State(state): State<AdminState>,
    RawQuery(query): RawQuery,
    event: Bytes,
) -> Response {
    let pairs = query_pairs(query.as_deref());
    let Some(function) = value(&pairs, "function").filter(|name| !name.is_empty()) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "?function= names the function to invoke",
            None,
        );
    };
    let request = InvokeRequest {
        function: function.to_owned(),
        stack: value(&pairs, "stack").map(str::to_owned),
        qualifier: value(&pairs, "qualifier").map(str::to_owned),
        event: if event.is_empty() {
            b"{}".to_vec()
        } else {
            event.to_vec()
        },
    };
    let platform = state.platform.clone();
    stream_action(move |progress| async move {
        platform.handle(Action::Invoke(request), progress).await
    })
}

async fn invocations(State(state): State<AdminState>, RawQuery(query): RawQuery) -> Response {
    let pairs = query_pairs(query.as_deref());
    let number = |name: &str| value(&pairs, name).map(str::parse::<i64>);
    let since_ms = match since_ms(&pairs) {
        Ok(since_ms) => since_ms,
        Err(refused) => return *refused,
    };
    let limit = match number("limit") {
        None => None,
        Some(Ok(limit)) if limit > 0 => Some(usize::try_from(limit).unwrap_or(usize::MAX)),
        Some(_) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "?limit= takes a number of records above 0",
                None,
            )
        }
    };
    let non_empty = |name: &str| {
        value(&pairs, name)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    let request = InvocationsRequest {
        function: non_empty("function"),
        stack: non_empty("stack"),
        since_ms,
        errors_only: flag(&pairs, "errors"),
        limit,
        before: non_empty("before"),
    };
    let platform = state.platform.clone();
    stream_action(move |progress| async move {
        platform
            .handle(Action::Invocations(request), progress)
            .await
    })
}

async fn invocation_record(State(state): State<AdminState>, Path(id): Path<String>) -> Response {
    let platform = state.platform.clone();
    stream_action(move |progress| async move {
        platform
            .handle(Action::InvocationRecord { id }, progress)
            .await
    })
}

async fn replay(State(state): State<AdminState>, Path(id): Path<String>) -> Response {
    let platform = state.platform.clone();
    stream_action(
        move |progress| async move { platform.handle(Action::Replay { id }, progress).await },
    )
}

/// A writer that hands what is written to the response body, chunk by chunk; the
/// platform writes the backup into it from a blocking thread.
struct ChannelWriter(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn backup(State(state): State<AdminState>) -> Response {
    let (sender, mut receiver) = tokio::sync::mpsc::channel(16);
    let platform = state.platform.clone();
    let failure = sender.clone();
    tokio::spawn(async move {
        let sink = BackupSink(Box::new(ChannelWriter(sender)));
        let outcome = platform
            .handle(Action::Backup(sink), Arc::new(serverful_platform::Quiet))
            .await;
        match outcome {
            Ok(_) => tracing::info!("backup sent"),
            Err(error) => {
                tracing::error!("backup failed: {error}");
                // Breaks the response off: the client sees the file end early.
                let _ = failure
                    .send(Err(std::io::Error::other(error.to_string())))
                    .await;
            }
        }
    });
    let chunks = futures_util::stream::poll_fn(move |context| receiver.poll_recv(context));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/zstd")
        .body(Body::from_stream(chunks))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_equal(b"secret", b"secret"));
        assert!(!constant_time_equal(b"secret", b"secreT"));
        assert!(!constant_time_equal(b"secret", b"secret2"));
    }

    #[test]
    fn query_pairs_are_decoded() {
        let pairs = query_pairs(Some(
            "parameter=Stage%3Dprod&delete_tables=true&description=my+app",
        ));
        assert_eq!(value(&pairs, "parameter"), Some("Stage=prod"));
        assert!(flag(&pairs, "delete_tables"));
        assert_eq!(value(&pairs, "description"), Some("my app"));
        assert!(!flag(&pairs, "missing"));
    }
}
