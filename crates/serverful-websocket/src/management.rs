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

/// Where the connection of a call is: here, or on another node of the cluster.
enum Target {
    Here(std::sync::Arc<crate::registry::Connection>),
    Elsewhere(crate::cluster::Owner),
}

async fn dispatch(
    websockets: &WebSockets,
    request: RestRequest,
) -> Result<Response<Bytes>, AwsError> {
    let raw_id = connection_id(&request.path).unwrap_or_default();
    let id = percent_encoding::percent_decode_str(raw_id)
        .decode_utf8_lossy()
        .into_owned();
    let target = match websockets.registry().get(&id) {
        Some(connection) => Target::Here(connection),
        None => match websockets.cluster() {
            Some(cluster) => match cluster.locate(&id).await {
                Some(owner) => Target::Elsewhere(owner),
                None => return Err(gone()),
            },
            None => return Err(gone()),
        },
    };
    let (stack, api_id, stage) = match &target {
        Target::Here(connection) => (&connection.stack, &connection.api_id, &connection.stage),
        Target::Elsewhere(owner) => (&owner.stack, &owner.api_id, &owner.stage),
    };
    // A stack's keys reach only its own APIs' connections; on AWS its role would need
    // `execute-api:ManageConnections` on them.
    let route = format!("{}/@connections/{id}", request.method);
    let resource = Resource::Api {
        stack,
        api_id,
        stage,
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
    if !matches!(request.method, Method::POST | Method::GET | Method::DELETE) {
        return Err(AwsError::new(
            StatusCode::FORBIDDEN,
            NAMESPACE,
            "ForbiddenException",
            "Forbidden",
        ));
    }
    if request.method == Method::POST && request.body.len() > MAX_MESSAGE_BYTES {
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
    match target {
        Target::Here(connection) => act(&connection, &request.method, request.body).await,
        Target::Elsewhere(owner) => {
            let Some(cluster) = websockets.cluster() else {
                return Err(gone());
            };
            match cluster
                .forward(&owner, &id, request.method.clone(), request.body)
                .await
            {
                Ok(forwarded) if forwarded.status == StatusCode::GONE.as_u16() => Err(gone()),
                Ok(forwarded) => {
                    let mut response = Response::new(forwarded.body);
                    *response.status_mut() =
                        StatusCode::from_u16(forwarded.status).unwrap_or(StatusCode::OK);
                    if let Some(value) = forwarded
                        .content_type
                        .and_then(|value| http::HeaderValue::from_str(&value).ok())
                    {
                        response
                            .headers_mut()
                            .insert(http::header::CONTENT_TYPE, value);
                    }
                    Ok(response)
                }
                Err(error) => {
                    tracing::warn!(connection = %id, node = %owner.node_id, "cannot reach the node holding the connection: {error}");
                    Err(AwsError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        NAMESPACE,
                        "InternalServerErrorException",
                        "The node holding the connection did not answer",
                    ))
                }
            }
        }
    }
}

/// A `@connections` call handed over by another node of the cluster, which checked the
/// caller's keys: carried out on the connection held here, or 410 when this node no
/// longer holds it.
pub async fn serve_forwarded(
    websockets: &WebSockets,
    id: &str,
    method: &Method,
    body: Bytes,
) -> Response<Bytes> {
    let outcome = match websockets.registry().get(id) {
        Some(connection) => act(&connection, method, body).await,
        None => Err(gone()),
    };
    outcome.unwrap_or_else(|error| {
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = error.status;
        response
    })
}

/// Carries out a `@connections` call (already authorized) on a connection held here.
async fn act(
    connection: &crate::registry::Connection,
    method: &Method,
    body: Bytes,
) -> Result<Response<Bytes>, AwsError> {
    let empty = |status: StatusCode| {
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = status;
        response
    };
    match *method {
        Method::POST => {
            let message = match String::from_utf8(body.to_vec()) {
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
