//! One connection's life: the handshake decided by `$connect`, messages routed to
//! functions (two-way routes answered), API Gateway's limits, and `$disconnect` on every
//! close.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tower_service_shim::oneshot;

use crate::event::{build_event, short_id, EventKind, EventSite, MessageBody};
use crate::registry::{now_ms, Connection, Outgoing, Queued};
use crate::selection::select_route;
use crate::{Selected, WebSockets, MAX_CONNECTION_DURATION, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};

mod tower_service_shim {
    //! Calls a router once, as a service.
    use axum::extract::Request;
    use axum::response::Response;
    use tower::ServiceExt as _;

    pub(super) async fn oneshot(router: axum::Router, request: Request) -> Response {
        match router.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// The read buffer of each connection. tungstenite's default, 128 KiB, is allocated per
/// connection and zero-filled up to its capacity before every socket read: 128 KiB
/// resident for each open connection (1.3 GB for 10,000) and a 128 KiB `memset` each time
/// a connection's task wakes (BENCHMARKS.md, WebSocket APIs). Frames are small; a larger
/// frame grows the buffer to its announced length, so the limits are unchanged.
const READ_BUFFER_BYTES: usize = 4 * 1024;

pub(crate) fn message_response(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(http::header::CONTENT_TYPE, "application/json")],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

/// Serves a request that reached a WebSocket API's stage: the WebSocket handshake, or a
/// management call (`/{stage}/@connections/{id}`) passed to the AWS endpoint.
pub async fn serve(
    websockets: &WebSockets,
    selected: Selected,
    request: Request,
    source_ip: String,
) -> Response {
    if selected.rest.starts_with("/@connections/") {
        return management(websockets, request).await;
    }
    if !(selected.rest.is_empty() || selected.rest == "/") {
        return message_response(StatusCode::FORBIDDEN, "Forbidden");
    }
    let Some(invoker) = websockets.invoker().cloned() else {
        return message_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
    };
    let (mut parts, _body) = request.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        // API Gateway answers a plain HTTP request to a WebSocket stage with 426.
        Err(_) => return message_response(StatusCode::UPGRADE_REQUIRED, "Upgrade Required"),
    };
    let domain_name = parts
        .headers
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let user_agent = parts
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|agent| agent.to_str().ok())
        .map(str::to_owned);
    let api = selected.api;
    let (sender, receiver) = mpsc::unbounded_channel();
    let connection = Arc::new(Connection::new(
        &api.api_id,
        &api.stage_name,
        &api.stack,
        &source_ip,
        user_agent,
        sender,
    ));
    let site = EventSite {
        connection: &connection,
        domain_name: &domain_name,
    };

    match crate::authorizer::authorize(websockets, &invoker, &api, &parts, &site).await {
        Ok(granted) => {
            if granted != crate::Granted::default() {
                let _ = connection.granted.set(granted);
            }
        }
        Err(refusal) => return refusal,
    }

    if let Some(route) = api.route("$connect") {
        let request_id = short_id();
        let event = build_event(
            &site,
            &EventKind::Connect {
                headers: &parts.headers,
                raw_query: parts.uri.query().unwrap_or_default(),
            },
            &request_id,
        );
        let payload = Bytes::from(event.to_string());
        match invoker.invoke(&route.target, payload).await {
            Ok(result) => {
                let status = result_status(&result);
                if !(200..300).contains(&status) {
                    tracing::info!(connection = %connection.id, "$connect answered {status}: connection refused");
                    let status =
                        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    return message_response(
                        status,
                        status.canonical_reason().unwrap_or("Forbidden"),
                    );
                }
            }
            Err(error) => {
                // API Gateway refuses the handshake with 502 when the `$connect` function
                // fails (throws, times out or cannot start).
                tracing::error!(function = %route.target, "$connect failed: {error}");
                return message_response(StatusCode::BAD_GATEWAY, "Internal server error");
            }
        }
    }

    let websockets = websockets.clone();
    upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            run(
                websockets,
                invoker,
                connection,
                domain_name,
                socket,
                receiver,
            )
            .await;
        })
        .into_response()
}

/// The `statusCode` of a proxy result; a result without one (or not an object) counts as
/// 200, so that a `$connect` handler returning nothing accepts.
fn result_status(result: &Bytes) -> u16 {
    serde_json::from_slice::<Value>(result)
        .ok()
        .and_then(|value| value.get("statusCode").and_then(Value::as_u64))
        .and_then(|status| u16::try_from(status).ok())
        .unwrap_or(200)
}

async fn run(
    websockets: WebSockets,
    invoker: Arc<dyn crate::Invoke>,
    connection: Arc<Connection>,
    domain_name: String,
    mut socket: WebSocket,
    mut outgoing: mpsc::UnboundedReceiver<Queued>,
) {
    // The connection exists from the completed handshake on: the idle clock starts here,
    // not before `$connect` ran.
    connection.touch();
    if let Some(cluster) = websockets.cluster() {
        // Before the connection counts as open, so that a post through any node finds it.
        cluster.register(&connection).await;
    }
    websockets.registry().insert(connection.clone());
    let deadline = tokio::time::sleep(MAX_CONNECTION_DURATION);
    tokio::pin!(deadline);
    let (status_code, reason) = loop {
        let idle_timeout = websockets.idle_timeout();
        let idle_for = Duration::from_millis(now_ms().saturating_sub(connection.last_active_ms()));
        let idle = tokio::time::sleep(idle_timeout.saturating_sub(idle_for));
        tokio::select! {
            incoming = socket.recv() => match incoming {
                None => break (1006, "Connection closed abnormally".to_owned()),
                Some(Err(error)) => {
                    let (code, reason, send) = read_error_close(&error.to_string());
                    tracing::debug!(connection = %connection.id, "closing: {error}");
                    if send {
                        let _ = socket.send(close(code, reason)).await;
                    }
                    break (code, reason.to_owned());
                }
                Some(Ok(Message::Close(frame))) => {
                    break match frame {
                        Some(frame) => (frame.code, frame.reason.as_str().to_owned()),
                        None => (1005, String::new()),
                    };
                }
                Some(Ok(Message::Text(text))) => {
                    connection.touch();
                    let body = text.as_str().to_owned();
                    tokio::spawn(on_message(websockets.clone(), invoker.clone(), connection.clone(), domain_name.clone(), Incoming::Text(body)));
                }
                Some(Ok(Message::Binary(bytes))) => {
                    connection.touch();
                    tokio::spawn(on_message(websockets.clone(), invoker.clone(), connection.clone(), domain_name.clone(), Incoming::Binary(bytes)));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            },
            queued = outgoing.recv() => match queued {
                Some(Queued { message, written }) => {
                    let frame = match message {
                        Outgoing::Text(text) => Message::Text(text.into()),
                        Outgoing::Binary(bytes) => Message::Binary(bytes.into()),
                        Outgoing::Close(code, reason) => {
                            let _ = socket.send(close(code, &reason)).await;
                            if let Some(written) = written {
                                let _ = written.send(());
                            }
                            break (code, reason);
                        }
                    };
                    connection.touch();
                    if socket.send(frame).await.is_err() {
                        break (1006, "Connection closed abnormally".to_owned());
                    }
                    if let Some(written) = written {
                        // The poster may have stopped waiting: nothing to tell then.
                        let _ = written.send(());
                    }
                }
                None => break (1001, "Going away".to_owned()),
            },
            () = idle => {
                if Duration::from_millis(now_ms().saturating_sub(connection.last_active_ms())) >= idle_timeout {
                    let _ = socket.send(close(1001, "Going away")).await;
                    break (1001, "Idle timeout".to_owned());
                }
            }
            () = &mut deadline => {
                let _ = socket.send(close(1001, "Going away")).await;
                break (1001, "Connection duration limit".to_owned());
            }
        }
    };
    websockets.registry().remove(&connection.id);
    if let Some(cluster) = websockets.cluster() {
        cluster.unregister(&connection.id).await;
    }
    // Posts from now on answer 410; anything still queued is dropped with the socket.
    drop(socket);
    disconnect(
        &websockets,
        &invoker,
        &connection,
        &domain_name,
        status_code,
        &reason,
    )
    .await;
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }))
}

/// The close code and reason for a read that failed, and whether to send them: a message
/// or frame over the limits is 1009, text that is not UTF-8 1007, a connection that went
/// away without a close frame 1006 (nothing to send it to), anything else a protocol
/// error (1002).
fn read_error_close(error: &str) -> (u16, &'static str, bool) {
    let lower = error.to_ascii_lowercase();
    if lower.contains("too long") || lower.contains("too big") || lower.contains("space limit") {
        (1009, "Message too big", true)
    } else if lower.contains("utf") {
        (1007, "Invalid frame payload data", true)
    } else if lower.contains("closing handshake")
        || lower.contains("reset")
        || lower.contains("broken pipe")
        || lower.contains("io error")
        || lower.contains("already closed")
    {
        (1006, "Connection closed abnormally", false)
    } else {
        (1002, "Protocol error", true)
    }
}

async fn disconnect(
    websockets: &WebSockets,
    invoker: &Arc<dyn crate::Invoke>,
    connection: &Connection,
    domain_name: &str,
    status_code: u16,
    reason: &str,
) {
    let Some(api) = websockets.api(&connection.api_id, &connection.stage) else {
        return;
    };
    let Some(route) = api.route("$disconnect") else {
        return;
    };
    let site = EventSite {
        connection,
        domain_name,
    };
    let event = build_event(
        &site,
        &EventKind::Disconnect {
            status_code,
            reason,
        },
        &short_id(),
    );
    if let Err(error) = invoker
        .invoke(&route.target, Bytes::from(event.to_string()))
        .await
    {
        tracing::error!(function = %route.target, connection = %connection.id, "$disconnect failed: {error}");
    }
}

enum Incoming {
    Text(String),
    Binary(Bytes),
}

async fn on_message(
    websockets: WebSockets,
    invoker: Arc<dyn crate::Invoke>,
    connection: Arc<Connection>,
    domain_name: String,
    incoming: Incoming,
) {
    let request_id = short_id();
    let Some(api) = websockets.api(&connection.api_id, &connection.stage) else {
        // The stack was deleted while the connection was open.
        connection.send(Outgoing::Close(1001, "Going away".to_owned()));
        return;
    };
    let selection_body = match &incoming {
        Incoming::Text(text) => text.as_str(),
        Incoming::Binary(_) => "",
    };
    let route_key = select_route(
        &api.route_selection_expression,
        selection_body,
        api.routes
            .iter()
            .map(|route| route.route_key.as_str())
            .filter(|key| *key != "$connect" && *key != "$disconnect"),
    );
    let error_frame = |message: &str| error_frame(message, &connection.id, &request_id);
    let Some(route) = route_key.and_then(|key| api.route(key)) else {
        connection.send(Outgoing::Text(error_frame("Forbidden")));
        return;
    };
    let body = match &incoming {
        Incoming::Text(text) => MessageBody::Text(text),
        Incoming::Binary(bytes) => MessageBody::Binary(bytes),
    };
    let site = EventSite {
        connection: &connection,
        domain_name: &domain_name,
    };
    let event = build_event(
        &site,
        &EventKind::Message {
            route_key: &route.route_key,
            body,
        },
        &request_id,
    );
    match invoker
        .invoke(&route.target, Bytes::from(event.to_string()))
        .await
    {
        Ok(result) if route.two_way => {
            if let Some(body) = result_body(&result) {
                connection.send(Outgoing::Text(body));
            }
        }
        Ok(_) => {}
        Err(error) => {
            tracing::error!(function = %route.target, connection = %connection.id, "route {} failed: {error}", route.route_key);
            connection.send(Outgoing::Text(error_frame("Internal server error")));
        }
    }
}

/// The frame API Gateway sends back for a message it could not deliver, spaced as it
/// spaces it: `{"message": "Forbidden", "connectionId":"…", "requestId":"…"}`.
fn error_frame(message: &str, connection_id: &str, request_id: &str) -> String {
    let quoted = |text: &str| Value::from(text).to_string();
    format!(
        "{{\"message\": {}, \"connectionId\":{}, \"requestId\":{}}}",
        quoted(message),
        quoted(connection_id),
        quoted(request_id)
    )
}

/// What a two-way route sends back: the proxy result's `body`, or a result that is not a
/// proxy result as it is.
fn result_body(result: &Bytes) -> Option<String> {
    match serde_json::from_slice::<Value>(result) {
        Ok(Value::Object(object))
            if object.contains_key("statusCode") || object.contains_key("body") =>
        {
            match object.get("body") {
                Some(Value::String(body)) => Some(body.clone()),
                Some(Value::Null) | None => None,
                Some(other) => Some(other.to_string()),
            }
        }
        Ok(Value::Null) => None,
        Ok(Value::String(text)) => Some(text),
        Ok(other) => Some(other.to_string()),
        Err(_) => Some(String::from_utf8_lossy(result).into_owned()),
    }
}

/// `/{stage}/@connections/{id}` on the API's host: the management API, served by the AWS
/// endpoint, which checks the signature (made over this very path) and answers.
async fn management(websockets: &WebSockets, request: Request) -> Response {
    let Some(router) = websockets.inner.management.get().cloned() else {
        return message_response(StatusCode::NOT_FOUND, "Not Found");
    };
    oneshot(router, request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_frames_are_spaced_as_api_gateway_sends_them_and_parse_as_json() {
        let frame = error_frame("Forbidden", "Qyi07eCbtjMCJKw=", "Qyi3UG41tjMFlUg=");
        assert_eq!(
            frame,
            r#"{"message": "Forbidden", "connectionId":"Qyi07eCbtjMCJKw=", "requestId":"Qyi3UG41tjMFlUg="}"#
        );
        let parsed: Value = serde_json::from_str(&error_frame("a \"b\"", "c", "d")).expect("JSON");
        assert_eq!(parsed["message"], "a \"b\"");
    }
}
