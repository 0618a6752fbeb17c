//! SQS on the AWS endpoint, in both of its protocols: the JSON protocol
//! (`X-Amz-Target: AmazonSQS.<Operation>`, what current SDKs send) as a [`JsonService`],
//! and the query protocol (`Action=<Operation>` form fields, POSTed to `/` or to a queue's
//! URL, or in a GET's query string; XML answers) as a [`RestService`] that claims
//! requests signed for `sqs`. Both run [`crate::operations::call`].

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Response, StatusCode};
use serde_json::{Map, Value};
use serverful_aws::{AwsError, JsonRequest, JsonService, RestRequest, RestService, Route};

use crate::engine::Queues;
use crate::error::SqsError;
use crate::operations::{self, CallContext};
use crate::wire;

/// The JSON protocol's error namespace.
const JSON_NAMESPACE: &str = "com.amazonaws.sqs";

/// SQS's requests are small: ten messages of 256 KiB at most, with base64-encoded
/// binary attributes.
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// The SQS API over one [`Queues`].
#[derive(Debug, Clone)]
pub struct SqsService {
    pub queues: Arc<Queues>,
}

impl SqsService {
    pub fn new(queues: Arc<Queues>) -> SqsService {
        SqsService { queues }
    }
}

/// An SQS error in the JSON protocol's shape, with the query protocol's code in
/// `x-amzn-query-error`.
fn json_error(error: &SqsError) -> AwsError {
    if let SqsError::Storage { .. } = error {
        tracing::error!("SQS failed to answer: {error}");
    }
    AwsError::new(
        error.status(),
        JSON_NAMESPACE,
        error.json_type(),
        error.to_string(),
    )
    .with_query_error(error.query_code())
}

impl JsonService for SqsService {
    fn target_prefix(&self) -> &'static str {
        "AmazonSQS"
    }

    fn signing_name(&self) -> &'static str {
        "sqs"
    }

    fn max_request_bytes(&self) -> usize {
        MAX_REQUEST_BYTES
    }

    fn call(&self, request: JsonRequest) -> BoxFuture<'static, Result<Bytes, AwsError>> {
        let queues = Arc::clone(&self.queues);
        Box::pin(async move {
            if !operations::OPERATIONS.contains(&request.operation.as_str()) {
                return Err(AwsError::unknown_operation());
            }
            let input: Map<String, Value> = if request.body.is_empty() {
                Map::new()
            } else {
                match serde_json::from_slice::<Value>(&request.body) {
                    Ok(Value::Object(object)) => object,
                    Ok(_) | Err(_) => return Err(AwsError::serialization(None)),
                }
            };
            let context = CallContext {
                principal: request.principal,
                region: request.region,
                path_queue: None,
            };
            let answer = operations::call(&queues, &request.operation, input, context)
                .await
                .map_err(|error| json_error(&error))?;
            let body = match answer {
                Some(out) => out.to_json().to_string(),
                None => "{}".to_owned(),
            };
            Ok(Bytes::from(body))
        })
    }
}

/// The `/ACCOUNT/NAME` path of a queue URL, as the query protocol may post to it.
fn path_queue(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [account, name] if !account.is_empty() && !name.is_empty() => percent_decode(name),
        _ => None,
    }
}

fn percent_decode(text: &str) -> Option<String> {
    form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
}

fn xml_response(status: StatusCode, body: String) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml"),
    );
    response
}

fn query_error(error: &SqsError, request_id: &str) -> Response<Bytes> {
    if let SqsError::Storage { .. } = error {
        tracing::error!("SQS failed to answer: {error}");
    }
    xml_response(
        error.status(),
        wire::xml_error(
            error.is_sender_fault(),
            error.query_code(),
            &error.query_message(),
            request_id,
        ),
    )
}

impl RestService for SqsService {
    fn signing_name(&self) -> &'static str {
        "sqs"
    }

    fn handles(&self, route: &Route<'_>) -> bool {
        route.credential_service == Some("sqs")
    }

    fn max_request_bytes(&self) -> usize {
        MAX_REQUEST_BYTES
    }

    fn call(&self, request: RestRequest) -> BoxFuture<'static, Result<Response<Bytes>, AwsError>> {
        let queues = Arc::clone(&self.queues);
        Box::pin(async move {
            // Fields come from the query string and, for a form POST, the body.
            let mut pairs: Vec<(String, String)> = form_urlencoded::parse(request.query.as_bytes())
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .filter(|(key, _)| !key.starts_with("X-Amz-"))
                .collect();
            if request.method == http::Method::POST {
                pairs.extend(
                    form_urlencoded::parse(&request.body)
                        .map(|(key, value)| (key.into_owned(), value.into_owned())),
                );
            }
            let action = pairs
                .iter()
                .find(|(key, _)| key == "Action")
                .map(|(_, value)| value.clone());
            let Some(action) = action else {
                return Ok(query_error(
                    &SqsError::MissingParameter("Action".to_owned()),
                    &request.request_id,
                ));
            };
            if !operations::OPERATIONS.contains(&action.as_str()) {
                return Ok(query_error(
                    &SqsError::InvalidAction(action),
                    &request.request_id,
                ));
            }
            pairs.retain(|(key, _)| key != "Action" && key != "Version");
            let input = wire::form_to_json(&pairs);
            let context = CallContext {
                principal: request.principal,
                region: request.region,
                path_queue: path_queue(&request.path),
            };
            Ok(
                match operations::call(&queues, &action, input, context).await {
                    Ok(answer) => xml_response(
                        StatusCode::OK,
                        wire::xml_response(&action, answer.as_ref(), &request.request_id),
                    ),
                    Err(error) => query_error(&error, &request.request_id),
                },
            )
        })
    }

    fn error_response(&self, error: &AwsError) -> Response<Bytes> {
        // The router's own errors (signature, body size) in the query protocol's shape,
        // with the codes and statuses AWS's query front end uses for them.
        let (status, code) = match error.type_name.as_ref() {
            "UnrecognizedClientException" => (StatusCode::FORBIDDEN, "InvalidClientTokenId"),
            "InvalidSignatureException" => (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"),
            "MissingAuthenticationTokenException" => {
                (StatusCode::FORBIDDEN, "MissingAuthenticationToken")
            }
            "IncompleteSignatureException" => (StatusCode::BAD_REQUEST, "IncompleteSignature"),
            other => (error.status, other),
        };
        xml_response(
            status,
            wire::xml_error(
                !status.is_server_error(),
                code,
                error.message.as_deref().unwrap_or(""),
                "",
            ),
        )
    }
}
