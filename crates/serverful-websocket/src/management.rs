//! The API Gateway Management API on the AWS endpoint (signing name `execute-api`):
//! `POST` (PostToConnection), `GET` (GetConnection) and `DELETE` (DeleteConnection) on
//! `/@connections/{id}`, also as `/{stage}/@connections/{id}` when a client addresses the
//! API's own host (the endpoint functions build from `domainName` and `stage`).

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{Method, Response, StatusCode};
use serde_json::json;
use serverful_aws::authz::{Action, Resource};
use serverful_aws::{AwsError, RestRequest, RestService, Route};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::registry::Outgoing;
use crate::{WebSockets, MAX_MESSAGE_BYTES};

const NAMESPACE: &str = "com.amazonaws.apigatewaymanagementapi";

/// The management API as a [`RestService`] of the AWS endpoint.
pub struct ManagementApi {
    pub websockets: WebSockets,
}

/// The connection id of a management path, still percent-encoded: `/@connections/{id}`
/// or `/{stage}/@connections/{id}`.
fn connection_id(path: &str) -> Option<&str> {
    let (before, id) = path.split_once("/@connections/")?;
    // Nothing, or one stage segment, before it.
    let prefix_ok = before.is_empty() || (before.starts_with('/') && !before[1..].contains('/'));
    (prefix_ok && !id.is_empty() && !id.contains('/')).then_some(id)
}

/// 410 for a connection that is closed or never existed; AWS sends no message.
fn gone() -> AwsError {
    let mut error = AwsError::new(StatusCode::GONE, NAMESPACE, "GoneException", "");
    error.message = None;
    error
}

impl RestService for ManagementApi {
    fn signing_name(&self) -> &'static str {
        "execute-api"
    }

    fn handles(&self, route: &Route<'_>) -> bool {
        connection_id(route.path).is_some()
            && route
                .credential_service
                .is_none_or(|service| service == "execute-api")
    }

    fn max_request_bytes(&self) -> usize {
        MAX_MESSAGE_BYTES + 1024
    }

    fn call(&self, request: RestRequest) -> BoxFuture<'static, Result<Response<Bytes>, AwsError>> {
        let websockets = self.websockets.clone();
        Box::pin(async move { dispatch(&websockets, request).await })
    }
}

async fn dispatch(
    websockets: &WebSockets,
    request: RestRequest,
) -> Result<Response<Bytes>, AwsError> {
    let raw_id = connection_id(&request.path).unwrap_or_default();
    let id = percent_encoding::percent_decode_str(raw_id)
        .decode_utf8_lossy()
        .into_owned();
    let Some(connection) = websockets.registry().get(&id) else {
        return Err(gone());
    };
    // A stack's keys reach only its own APIs' connections; on AWS its role would need
    // `execute-api:ManageConnections` on them.
    let route = format!("{}/@connections/{id}", request.method);
    let resource = Resource::Api {
        stack: &connection.stack,
        api_id: &connection.api_id,
        stage: &connection.stage,
        route: &route,
    };
    if let Err(denied) = request.principal.authorize(
        Action::execute_api("ManageConnections"),
        resource,
        &request.region,
    ) {
        return Err(AwsError::new(
            StatusCode::FORBIDDEN,
            NAMESPACE,
            "ForbiddenException",
            denied.message,
        ));
    }
    let empty = |status: StatusCode| {
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = status;
        response
    };
    match request.method {
        Method::POST => {
            if request.body.len() > MAX_MESSAGE_BYTES {
                return Err(AwsError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    NAMESPACE,
                    "PayloadTooLargeException",
                    format!(
                        "Message too long: {} bytes is over {MAX_MESSAGE_BYTES}",
                        request.body.len()
                    ),
                ));
            }
            let message = match String::from_utf8(request.body.to_vec()) {
                Ok(text) => Outgoing::Text(text),
                Err(error) => Outgoing::Binary(error.into_bytes()),
            };
            // Answered once the frame is written, as API Gateway answers once it has sent
            // it: a poster faster than the connection waits instead of queueing.
            if !connection.deliver(message).await {
                return Err(gone());
            }
            Ok(empty(StatusCode::OK))
        }
        Method::GET => {
            let format = |ms: u64| {
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                    .ok()
                    .and_then(|time| time.format(&Rfc3339).ok())
                    .unwrap_or_default()
            };
            let mut identity = serde_json::Map::new();
            // The wire names are lower camel case; SDKs show them as `ConnectedAt`, ...
            identity.insert("sourceIp".to_owned(), json!(connection.source_ip));
            if let Some(agent) = &connection.user_agent {
                identity.insert("userAgent".to_owned(), json!(agent));
            }
            let body = json!({
                "connectedAt": format(connection.connected_at_ms),
                "identity": identity,
                "lastActiveAt": format(connection.last_active_ms()),
            });
            let mut response = Response::new(Bytes::from(body.to_string()));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            Ok(response)
        }
        Method::DELETE => {
            if !connection.send(Outgoing::Close(1000, String::new())) {
                return Err(gone());
            }
            Ok(empty(StatusCode::NO_CONTENT))
        }
        _ => Err(AwsError::new(
            StatusCode::FORBIDDEN,
            NAMESPACE,
            "ForbiddenException",
            "Forbidden",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::connection_id;

    #[test]
    fn management_paths() {
        assert_eq!(connection_id("/@connections/abc%3D"), Some("abc%3D"));
        assert_eq!(connection_id("/production/@connections/abc="), Some("abc="));
        assert_eq!(connection_id("/a/b/@connections/abc="), None);
        assert_eq!(connection_id("/@connections/"), None);
        assert_eq!(connection_id("/2015-03-31/functions/x"), None);
    }
}
