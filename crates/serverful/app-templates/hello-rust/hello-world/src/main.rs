//! Hello world for Lambda in Rust, answering GET /hello and GET /hello/{name}.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn hello(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (request, context) = event.into_parts();
    let name = request["pathParameters"]["name"].as_str().unwrap_or("world");
    let body = json!({"message": format!("Hello, {name}!"), "requestId": context.request_id});
    Ok(json!({
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": body.to_string(),
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(hello)).await
}
