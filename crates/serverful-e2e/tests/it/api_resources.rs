//! APIs written without SAM's shorthand (issue 17): REST APIs as `AWS::ApiGateway::*`
//! resources with `MOCK` integrations and request validators, served through
//! `serverful up` and called over HTTP, checking the events the function gets, the mock's
//! answers and API Gateway's 400s.

use serde_json::Value;
use serverful_e2e::{test_app, Server};

use crate::{client, json_body};

/// The event the echo function received, from its answer.
fn echoed(response: reqwest::blocking::Response) -> Value {
    let status = response.status();
    let body = json_body(response);
    assert_eq!(status, 200, "{body:#}");
    body["event"].clone()
}

#[test]
fn rest_api_resources_route_to_the_function_and_answer_mocks() {
    let server = Server::start(&test_app("api-rest-resources"), &[]);
    let stdout = server.stdout();
    assert!(
        stdout.contains(&format!("GET {}/items/{{id}} -> Echo", server.base_url)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("GET {}/ -> MOCK", server.base_url)),
        "{stdout}"
    );
    let http = client();

    let event = echoed(
        http.get(server.url("/prod/items/42?color=red"))
            .send()
            .expect("GET /prod/items/42"),
    );
    assert_eq!(event["resource"], "/items/{id}");
    assert_eq!(event["path"], "/items/42");
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["pathParameters"]["id"], "42");
    assert_eq!(event["queryStringParameters"]["color"], "red");
    assert_eq!(event["stageVariables"]["table"], "items");
    assert_eq!(event["requestContext"]["stage"], "prod");
    assert_eq!(event["requestContext"]["resourcePath"], "/items/{id}");

    // The second stage serves the same routes with its own variables, on the bare host
    // and on the API's own host.
    let event = echoed(
        http.get(server.url("/dev/items/7"))
            .send()
            .expect("GET /dev/items/7"),
    );
    assert_eq!(event["stageVariables"]["table"], "items-dev");
    assert_eq!(event["requestContext"]["stage"], "dev");
    let api_url = server.output("ApiUrl");
    let api_id = api_url
        .trim_start_matches("https://")
        .split('.')
        .next()
        .expect("an API id");
    let port = server.base_url.rsplit(':').next().expect("port");
    for (stage, table) in [("prod", "items"), ("dev", "items-dev")] {
        let event = echoed(
            http.get(server.url(&format!("/{stage}/items/1")))
                .header("host", format!("{api_id}.execute-api.localhost:{port}"))
                .send()
                .expect("GET on the API's host"),
        );
        assert_eq!(event["stageVariables"]["table"], table, "{stage}");
        assert_eq!(event["requestContext"]["stage"], stage);
    }

    let event = echoed(
        http.delete(server.url("/prod/files/a/b.txt"))
            .send()
            .expect("DELETE /prod/files/a/b.txt"),
    );
    assert_eq!(event["resource"], "/files/{proxy+}");
    assert_eq!(event["httpMethod"], "DELETE");
    assert_eq!(event["pathParameters"]["proxy"], "a/b.txt");

    let mock = http.get(server.url("/prod/")).send().expect("GET /prod/");
    assert_eq!(mock.status(), 200);
    assert_eq!(mock.headers()["x-served-by"], "mock");
    assert_eq!(mock.headers()["content-type"], "application/json");
    assert_eq!(mock.text().expect("body"), r#"{"status": "ok"}"#);
}

#[test]
fn rest_api_request_validator_answers_400_before_the_function() {
    let server = Server::start(&test_app("api-rest-resources"), &[]);
    let http = client();
    let post = |query: &str, client_header: Option<&str>, body: &str| {
        let mut request = http
            .post(server.url(&format!("/prod/items{query}")))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(value) = client_header {
            request = request.header("x-client", value);
        }
        request.send().expect("POST /prod/items")
    };

    let missing_both = post("", None, r#"{"name": "pen"}"#);
    assert_eq!(missing_both.status(), 400);
    assert_eq!(
        json_body(missing_both),
        serde_json::json!({"message": "Missing required request parameters: [X-Client, list]"})
    );
    let blank_query = post("?list=", Some("cli"), r#"{"name": "pen"}"#);
    assert_eq!(
        json_body(blank_query),
        serde_json::json!({"message": "Missing required request parameters: [list]"})
    );
    for bad_body in [
        r#"{"count": 2}"#,
        r#"{"name": "pen", "count": 0}"#,
        "not json",
    ] {
        let invalid = post("?list=a", Some("cli"), bad_body);
        assert_eq!(invalid.status(), 400, "{bad_body}");
        assert_eq!(
            json_body(invalid),
            serde_json::json!({"message": "Invalid request body"}),
            "{bad_body}"
        );
    }
    let valid = json_body(post(
        "?list=a",
        Some("cli"),
        r#"{"name": "pen", "count": 2}"#,
    ));
    assert_eq!(valid["event"]["body"], r#"{"name": "pen", "count": 2}"#);
    assert_eq!(valid["event"]["resource"], "/items");
    assert_eq!(
        valid["calls"], 1,
        "the function ran for the valid request only"
    );
}

#[test]
fn http_api_resources_and_quick_create_send_their_payload_formats() {
    let server = Server::start(&test_app("api-http-resources"), &[]);
    let http = client();
    let port = server.base_url.rsplit(':').next().expect("port").to_owned();
    // Each API on its own host name, as on AWS: `{api_id}.execute-api.localhost`.
    let call = |method: reqwest::Method, api_id: &str, path: &str| {
        http.request(method, server.url(path))
            .header("host", format!("{api_id}.execute-api.localhost:{port}"))
    };
    let api_id = server.output("ApiId");

    let event = echoed(
        call(reqwest::Method::GET, &api_id, "/v1/items/7?x=1")
            .send()
            .expect("GET /v1/items/7"),
    );
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "GET /items/{id}");
    assert_eq!(event["pathParameters"]["id"], "7");
    assert_eq!(event["rawQueryString"], "x=1");
    assert_eq!(event["stageVariables"]["mode"], "test");
    assert_eq!(event["requestContext"]["stage"], "v1");

    // `$default` goes to the 1.0 integration.
    let event = echoed(
        call(reqwest::Method::POST, &api_id, "/v1/anything/else")
            .body("hello")
            .send()
            .expect("POST /v1/anything/else"),
    );
    assert_eq!(event["version"], "1.0");
    assert_eq!(event["httpMethod"], "POST");
    assert_eq!(event["body"], "hello");

    // Quick create: the API's Target and RouteKey on a `$default` stage.
    let quick_id = server.output("QuickApiId");
    let event = echoed(
        call(reqwest::Method::POST, &quick_id, "/quick")
            .body("{}")
            .send()
            .expect("POST /quick"),
    );
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "POST /quick");
    let missing = call(reqwest::Method::GET, &quick_id, "/quick")
        .send()
        .expect("GET /quick");
    assert_eq!(missing.status(), 404);
}

#[test]
fn openapi_definitions_route_with_sam_events_merged() {
    let server = Server::start(&test_app("api-openapi"), &[]);
    let http = client();
    let port = server.base_url.rsplit(':').next().expect("port").to_owned();
    let call = |method: reqwest::Method, api_id: &str, path: &str| {
        http.request(method, server.url(path))
            .header("host", format!("{api_id}.execute-api.localhost:{port}"))
    };
    let http_api = server.output("HttpApiId");
    let event = echoed(
        call(reqwest::Method::GET, &http_api, "/items/9")
            .send()
            .expect("GET /items/9"),
    );
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "GET /items/{id}");
    assert_eq!(event["pathParameters"]["id"], "9");
    let event = echoed(
        call(reqwest::Method::POST, &http_api, "/legacy")
            .send()
            .expect("POST /legacy"),
    );
    assert_eq!(event["version"], "1.0");
    // The function's HttpApi event is added to the file's paths.
    let event = echoed(
        call(reqwest::Method::GET, &http_api, "/extra")
            .send()
            .expect("GET /extra"),
    );
    assert_eq!(event["routeKey"], "GET /extra");

    let rest_api = server.output("RestApiId");
    let event = echoed(
        call(reqwest::Method::PATCH, &rest_api, "/live/things/3")
            .send()
            .expect("PATCH /live/things/3"),
    );
    assert_eq!(event["resource"], "/things/{id}");
    assert_eq!(event["httpMethod"], "PATCH");
    let pong = call(reqwest::Method::GET, &rest_api, "/live/ping")
        .send()
        .expect("GET /live/ping");
    assert_eq!(pong.status(), 200);
    assert_eq!(pong.text().expect("body"), r#"{"pong": true}"#);
}

#[test]
fn a_bad_openapi_reference_fails_at_start_with_the_place() {
    let work = tempfile::tempdir().expect("temp dir");
    let app = work.path().join("api-openapi");
    serverful_e2e::copy_dir(&test_app("api-openapi"), &app);
    let definition = app.join("openapi.yaml");
    let source = std::fs::read_to_string(&definition).expect("read openapi.yaml");
    std::fs::write(
        &definition,
        source.replace("Fn::GetAtt: [Echo, Arn]", "Fn::GetAtt: [Nobody, Arn]"),
    )
    .expect("write openapi.yaml");
    let (code, stderr) = serverful_e2e::up_until_it_fails(&app);
    assert_ne!(code, 0);
    assert!(stderr.contains("template.yaml:23:"), "{stderr}");
    assert!(stderr.contains("openapi.yaml:21:"), "{stderr}");
    assert!(stderr.contains("Nobody"), "{stderr}");
}
