//! The traits AWS services implement to be served by the endpoint: [`JsonService`] for
//! the JSON protocols selected by `X-Amz-Target`, [`RestService`] for REST-style APIs
//! selected by path (Lambda `Invoke`, API Gateway Management).
//!
//! Services see only authenticated requests, and only their own: the router has checked
//! the signature and that its credential scope names the service's signing name, and
//! tells who signed it ([`Principal`]). Each service authorizes what a call acts on
//! before it runs it (see [`crate::authz`]).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, Response};

use crate::authz::Principal;
use crate::error::{AwsError, MessageField};

/// DynamoDB's request limit, the default for every service.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// An authenticated JSON-protocol call.
#[derive(Debug, Clone)]
pub struct JsonRequest {
    /// The operation after the target prefix: `PutItem` for `DynamoDB_20120810.PutItem`.
    pub operation: String,
    /// The request body as received; services parse it (and answer
    /// `SerializationException` for bodies that are not JSON).
    pub body: Bytes,
    /// The region of the signature's credential scope, e.g. for ARNs.
    pub region: String,
    /// The access key the request was signed with.
    pub access_key_id: String,
    /// Who signed it, and what they may do.
    pub principal: Arc<Principal>,
    /// The `x-amzn-RequestId` the response will carry.
    pub request_id: String,
}

/// A JSON-protocol AWS service (DynamoDB, DynamoDB Streams, SQS with its JSON protocol),
/// selected by the prefix of `X-Amz-Target`.
pub trait JsonService: Send + Sync + 'static {
    /// The `X-Amz-Target` prefix before the dot, e.g. `DynamoDB_20120810`.
    fn target_prefix(&self) -> &'static str;
    /// The service name in the SigV4 credential scope, e.g. `dynamodb`.
    fn signing_name(&self) -> &'static str;
    /// The largest request body accepted; larger bodies get a 413.
    fn max_request_bytes(&self) -> usize {
        DEFAULT_MAX_REQUEST_BYTES
    }
    /// Runs one operation and returns the response body (JSON). Unknown operations
    /// answer [`AwsError::unknown_operation`].
    fn call(&self, request: JsonRequest) -> BoxFuture<'static, Result<Bytes, AwsError>>;
    /// A fresh `x-amzn-RequestId` in the shape this service's AWS endpoint uses; the
    /// default is a UUID (SQS, EventBridge).
    fn new_request_id(&self) -> String {
        crate::request_id::uuid()
    }
}

/// An authenticated REST-style call.
#[derive(Debug, Clone)]
pub struct RestRequest {
    /// The HTTP method.
    pub method: Method,
    /// The path as received, still percent-encoded.
    pub path: String,
    /// The query string without `?`, still percent-encoded.
    pub query: String,
    /// The request headers.
    pub headers: HeaderMap,
    /// The request body.
    pub body: Bytes,
    /// The region of the signature's credential scope.
    pub region: String,
    /// The access key the request was signed with.
    pub access_key_id: String,
    /// Who signed it, and what they may do.
    pub principal: Arc<Principal>,
    /// The `x-amzn-RequestId` the response will carry.
    pub request_id: String,
}

/// What a [`RestService`] may look at to claim a request, before it is authenticated.
#[derive(Debug, Clone, Copy)]
pub struct Route<'a> {
    /// The HTTP method.
    pub method: &'a Method,
    /// The path as received, still percent-encoded.
    pub path: &'a str,
    /// The service named in the signature's credential scope (header or presigned
    /// query), if it has one: how AWS tells apart APIs that share a path, such as SNS
    /// and SQS's query protocol, which both `POST /`.
    pub credential_service: Option<&'a str>,
}

/// An AWS API selected by method, path or credential scope rather than `X-Amz-Target`:
/// REST-style APIs such as Lambda's `POST /2015-03-31/functions/{name}/invocations`,
/// and query-protocol APIs such as SNS.
pub trait RestService: Send + Sync + 'static {
    /// The service name in the SigV4 credential scope, e.g. `lambda`, `execute-api`.
    fn signing_name(&self) -> &'static str;
    /// Whether this service serves the request (asked before authentication, in the
    /// order services were added).
    fn handles(&self, route: &Route<'_>) -> bool;
    /// The largest request body accepted; larger bodies get a 413.
    fn max_request_bytes(&self) -> usize {
        DEFAULT_MAX_REQUEST_BYTES
    }
    /// Whether an unsigned request it handles is served without a signature (with
    /// [`Principal::anonymous`], allowed nothing): what AWS serves to anyone, such as
    /// SNS's signing certificate and the confirmation links it sends to endpoints.
    fn serves_anonymously(&self, _route: &Route<'_>) -> bool {
        false
    }
    /// Runs the call. The router adds `x-amzn-RequestId` to the response.
    fn call(&self, request: RestRequest) -> BoxFuture<'static, Result<Response<Bytes>, AwsError>>;
    /// Runs the call for a response whose body may go out as it is produced (Lambda's
    /// `InvokeWithResponseStream`); what the router calls. The default is
    /// [`RestService::call`]'s whole body.
    fn call_streaming(
        &self,
        request: RestRequest,
    ) -> BoxFuture<'static, Result<Response<axum::body::Body>, AwsError>> {
        let call = self.call(request);
        Box::pin(async move {
            call.await
                .map(|response| response.map(axum::body::Body::from))
        })
    }
    /// How this API shapes errors, including authentication errors. The default is the
    /// restJson1 shape: an `x-amzn-ErrorType` header and `{"message": "..."}`.
    fn error_response(&self, error: &AwsError) -> Response<Bytes> {
        rest_json_error_response(error)
    }
}

/// The restJson1 error shape: status, `x-amzn-ErrorType: <Type>` and a JSON message.
pub fn rest_json_error_response(error: &AwsError) -> Response<Bytes> {
    let mut object = serde_json::Map::new();
    if let Some(message) = &error.message {
        let key = match error.message_field {
            MessageField::Lower => "message",
            MessageField::Upper => "Message",
        };
        object.insert(key.to_owned(), serde_json::Value::String(message.clone()));
    }
    let mut response = Response::new(Bytes::from(serde_json::Value::Object(object).to_string()));
    *response.status_mut() = error.status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = HeaderValue::from_str(&error.type_name) {
        headers.insert("x-amzn-errortype", value);
    }
    response
}

/// A service that takes whole requests with their bodies still streaming, and answers
/// with a streamed body (S3, whose objects may be gigabytes). The router offers each
/// request to these before it buffers anything.
pub trait StreamingService: Send + Sync {
    /// Whether `request` is this service's, by its host or by the service its SigV4
    /// credential scope names (`credential_service`).
    fn claims(&self, request: &axum::extract::Request, credential_service: Option<&str>) -> bool;

    /// Whether an unsigned request no other service takes is answered by this one (S3
    /// answers those with its own `AccessDenied`, as AWS does).
    fn takes_unclaimed_unsigned(&self) -> bool {
        false
    }

    /// Serves the request; errors are responses in the service's own shape.
    fn call(
        &self,
        request: axum::extract::Request,
    ) -> futures_util::future::BoxFuture<'static, axum::response::Response>;
}
