//! The Rust bench function: a `provided.al2023` function written with the `lambda_runtime`
//! crate, as it would run on AWS, answering every HTTP API event with `{"message":"hello"}`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn hello(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": serverful_bench::HELLO_BODY,
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(hello)).await
}
