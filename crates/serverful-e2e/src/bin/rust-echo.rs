//! A function written with the Rust `lambda_runtime` crate, unchanged from what runs on
//! AWS (`provided.al2023`): it echoes what it saw of the HTTP API event and its context.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    if payload.get("rawPath").and_then(Value::as_str) == Some("/rust/fail") {
        return Err("the rust function was asked to fail".into());
    }
    let body = json!({
        "runtime": "rust",
        "routeKey": payload.get("routeKey"),
        "pathParameters": payload.get("pathParameters"),
        "requestId": context.request_id,
        "functionArn": context.invoked_function_arn,
        "deadlineInFuture": context.deadline > 0,
    });
    Ok(json!({
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-runtime": "rust"},
        "body": body.to_string(),
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(echo)).await
}
