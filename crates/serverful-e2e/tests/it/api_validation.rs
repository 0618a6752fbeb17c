//! Request validation written SAM's way (`Models`, an `Api` event's `RequestModel` and
//! `RequestParameters`) and in an OpenAPI definition (`x-amazon-apigateway-request-validators`)
//! (issue 17): API Gateway's 400s before the function runs, and the function for a request
//! that validates.

use serde_json::{json, Value};
use serverful_e2e::{test_app, Server};

use crate::{client, json_body};

fn post(server: &Server, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut request = client()
        .post(server.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().expect("POST");
    let status = response.status().as_u16();
    (status, json_body(response))
}

#[test]
fn sam_request_model_and_parameters_answer_400_before_the_function() {
    let server = Server::start(&test_app("api-validation"), &[]);
    let tenant = [("x-tenant", "acme")];
    let missing = json!({"message": "Missing required request parameters: [x-tenant]"});
    let invalid = json!({"message": "Invalid request body"});

    assert_eq!(
        post(&server, "/users", &[], r#"{"name": "Ada"}"#),
        (400, missing.clone())
    );
    assert_eq!(
        post(
            &server,
            "/users",
            &[("x-tenant", "  ")],
            r#"{"name": "Ada"}"#
        ),
        (400, missing),
        "a blank header is missing"
    );
    assert_eq!(
        post(&server, "/users", &tenant, r#"{"age": 3}"#),
        (400, invalid.clone())
    );
    assert_eq!(
        post(&server, "/users", &tenant, r#"{"name": "Ada", "age": -1}"#),
        (400, invalid.clone())
    );
    assert_eq!(post(&server, "/users", &tenant, "not json"), (400, invalid));

    let (status, body) = post(
        &server,
        "/users?dry-run=1",
        &tenant,
        r#"{"name": "Ada", "age": 36}"#,
    );
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["calls"], 1, "no refused request reached the function");
    assert_eq!(body["event"]["headers"]["x-tenant"], "acme");
}

#[test]
fn openapi_request_validators_answer_400_before_the_function() {
    let server = Server::start(&test_app("api-validation"), &[]);
    let order = r#"{"sku": "pen", "quantity": 2}"#;
    assert_eq!(
        post(&server, "/orders", &[], order),
        (
            400,
            json!({"message": "Missing required request parameters: [store]"})
        )
    );
    assert_eq!(
        post(
            &server,
            "/orders?store=paris",
            &[],
            r#"{"sku": "pen", "quantity": 0}"#
        ),
        (400, json!({"message": "Invalid request body"}))
    );
    let (status, body) = post(&server, "/orders?store=paris", &[], order);
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["calls"], 1);
    assert_eq!(body["event"]["queryStringParameters"]["store"], "paris");
}
