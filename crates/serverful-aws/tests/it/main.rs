//! Integration tests of the AWS endpoint: the router driven with `oneshot` (no socket),
//! and real AWS clients (boto3, the AWS CLI) against the router on a local port.

mod authz;
mod clients;
mod router;

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use http::{Method, Response, StatusCode};
use serverful_aws::{
    AwsError, AwsState, Credentials, JsonRequest, JsonService, RestRequest, RestService, Route,
};

pub const ACCESS_KEY_ID: &str = "AKSFINTEGRATION00001";
pub const SECRET_ACCESS_KEY: &str = "integration/secret+key000000000000000000";

pub fn credentials() -> Credentials {
    Credentials {
        access_key_id: ACCESS_KEY_ID.to_owned(),
        secret_access_key: SECRET_ACCESS_KEY.to_owned(),
    }
}

/// A DynamoDB stand-in that echoes what it was called with, in shapes boto3 parses:
/// `ListTables` sees `[operation, region, body]` as table names, `GetItem` an item.
pub struct EchoService {
    pub prefix: &'static str,
    pub signing_name: &'static str,
}

impl JsonService for EchoService {
    fn target_prefix(&self) -> &'static str {
        self.prefix
    }

    fn signing_name(&self) -> &'static str {
        self.signing_name
    }

    fn max_request_bytes(&self) -> usize {
        1024
    }

    fn call(&self, request: JsonRequest) -> BoxFuture<'static, Result<Bytes, AwsError>> {
        async move {
            let body = String::from_utf8_lossy(&request.body).into_owned();
            match request.operation.as_str() {
                "Nope" => Err(AwsError::unknown_operation()),
                "Panic" => panic!("the echo service was asked to panic"),
                "DescribeTable" => Err(AwsError::dynamodb(
                    "ResourceNotFoundException",
                    "Requested resource not found",
                )),
                operation => Ok(Bytes::from(
                    serde_json::json!({
                        "TableNames": [operation, request.region, body],
                        "Item": {
                            "operation": {"S": operation},
                            "region": {"S": request.region},
                            "body": {"S": body},
                        },
                    })
                    .to_string(),
                )),
            }
        }
        .boxed()
    }
}

/// A Lambda `Invoke` stand-in: answers the function name from the path.
pub struct EchoInvoke;

impl RestService for EchoInvoke {
    fn signing_name(&self) -> &'static str {
        "lambda"
    }

    fn handles(&self, route: &Route<'_>) -> bool {
        route.method == Method::POST
            && route.path.starts_with("/2015-03-31/functions/")
            && route.path.ends_with("/invocations")
    }

    fn call(&self, request: RestRequest) -> BoxFuture<'static, Result<Response<Bytes>, AwsError>> {
        async move {
            let name = request
                .path
                .trim_start_matches("/2015-03-31/functions/")
                .trim_end_matches("/invocations")
                .to_owned();
            if name == "missing" {
                return Err(AwsError::new(
                    StatusCode::NOT_FOUND,
                    "com.amazonaws.lambda",
                    "ResourceNotFoundException",
                    "Function not found: missing",
                ));
            }
            let mut response = Response::new(Bytes::from(
                serde_json::json!({ "function": name, "payload": String::from_utf8_lossy(&request.body) })
                    .to_string(),
            ));
            response
                .headers_mut()
                .insert("x-amz-executed-version", http::HeaderValue::from_static("$LATEST"));
            Ok(response)
        }
        .boxed()
    }
}

/// An SNS stand-in (query protocol, `POST /` like SQS's): claimed by credential scope,
/// answering and failing in XML.
pub struct EchoQuery;

impl RestService for EchoQuery {
    fn signing_name(&self) -> &'static str {
        "sns"
    }

    fn handles(&self, route: &Route<'_>) -> bool {
        route.credential_service == Some("sns")
    }

    fn call(&self, request: RestRequest) -> BoxFuture<'static, Result<Response<Bytes>, AwsError>> {
        async move {
            Ok(Response::new(Bytes::from(format!(
                "<PublishResponse><Body>{}</Body></PublishResponse>",
                String::from_utf8_lossy(&request.body)
            ))))
        }
        .boxed()
    }

    fn error_response(&self, error: &AwsError) -> Response<Bytes> {
        let mut response = Response::new(Bytes::from(format!(
            "<ErrorResponse><Error><Code>{}</Code></Error></ErrorResponse>",
            error.type_name
        )));
        *response.status_mut() = error.status;
        response
    }
}

pub fn state() -> AwsState {
    AwsState::new(credentials())
        .with_json_service(Arc::new(EchoService {
            prefix: "DynamoDB_20120810",
            signing_name: "dynamodb",
        }))
        .with_json_service(Arc::new(EchoService {
            prefix: "DynamoDBStreams_20120810",
            signing_name: "dynamodb",
        }))
        .with_rest_service(Arc::new(EchoInvoke))
        .with_rest_service(Arc::new(EchoQuery))
}
