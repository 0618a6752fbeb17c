//! Real Lambda runtime clients and real web frameworks, run unchanged.

use serde_json::json;
use serverful_e2e::{copy_dir, fixture_bin, test_app, test_deps_dir, Server};

use crate::{client, json_body};

/// Copies a test app into a fresh folder, with the bundles from install-test-deps added
/// next to the code, as a user bundles dependencies for Lambda.
fn app_with_bundle(app: &str, bundles: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("app dir");
    copy_dir(&test_app(app), dir.path());
    for bundle in bundles {
        let from = test_deps_dir().join(bundle);
        if bundle.starts_with("node-") {
            std::os::unix::fs::symlink(from.join("node_modules"), dir.path().join("node_modules"))
                .expect("link node_modules");
        } else {
            copy_dir(&from, dir.path());
        }
    }
    dir
}

#[test]
fn rust_lambda_runtime_function_on_provided_al2023() {
    let app = app_with_bundle("rust", &[]);
    std::fs::copy(fixture_bin("rust-echo"), app.path().join("bootstrap")).expect("copy bootstrap");
    let server = Server::start(app.path(), &[]);
    let http = client();

    let response = http.get(server.url("/rust/ferris")).send().expect("GET");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-runtime"], "rust");
    let body = json_body(response);
    assert_eq!(body["runtime"], "rust");
    assert_eq!(body["routeKey"], "GET /rust/{name}");
    assert_eq!(body["pathParameters"], json!({"name": "ferris"}));
    assert_eq!(
        body["functionArn"],
        format!(
            "arn:aws:lambda:us-east-1:123456789012:function:{}",
            server.function_name("RustFunction")
        )
    );
    assert_eq!(body["deadlineInFuture"], true);

    // An error returned by the handler goes through /error: 502, and the next request works.
    let failed = http.get(server.url("/rust/fail")).send().expect("GET fail");
    assert_eq!(failed.status(), 502);
    assert_eq!(
        http.get(server.url("/rust/again"))
            .send()
            .expect("GET")
            .status(),
        200
    );
}

#[test]
fn python_awslambdaric_from_pypi() {
    let app = app_with_bundle("awslambdaric", &["python-awslambdaric"]);
    let server = Server::start(app.path(), &[]);
    let http = client();
    let response = http.get(server.url("/ric/guido")).send().expect("GET");
    assert_eq!(response.status(), 200);
    let body = json_body(response);
    assert_eq!(body["client"], "awslambdaric");
    assert_eq!(body["name"], "guido");
    assert_eq!(
        body["functionName"],
        server.function_name("RicFunction").as_str()
    );

    let failed = http.get(server.url("/ric/fail")).send().expect("GET fail");
    assert_eq!(failed.status(), 502);
    assert_eq!(
        http.get(server.url("/ric/again"))
            .send()
            .expect("GET")
            .status(),
        200
    );
}

#[test]
fn fastapi_through_mangum() {
    let app = app_with_bundle("fastapi", &["python-fastapi"]);
    let server = Server::start(app.path(), &[]);
    let http = client();

    let item = http
        .get(server.url("/items/5?q=search"))
        .header("user-agent", "e2e")
        .send()
        .expect("GET");
    assert_eq!(item.status(), 200);
    assert_eq!(
        json_body(item),
        json!({"item_id": 5, "q": "search", "user_agent": "e2e"})
    );

    let created = http
        .post(server.url("/items"))
        .header("content-type", "application/json")
        .body(r#"{"name":"lamp","price":10}"#)
        .send()
        .expect("POST");
    assert_eq!(created.status(), 200);
    assert_eq!(
        json_body(created),
        json!({"created": "lamp", "price_with_tax": 12.0})
    );

    let invalid = http
        .get(server.url("/items/not-a-number"))
        .send()
        .expect("GET invalid");
    assert_eq!(
        invalid.status(),
        422,
        "FastAPI's own validation error comes through"
    );
    let missing = http
        .get(server.url("/missing"))
        .send()
        .expect("GET missing");
    assert_eq!(missing.status(), 404);
    assert_eq!(json_body(missing), json!({"detail": "nothing here"}));
}

#[test]
fn express_through_serverless_http() {
    let app = app_with_bundle("express", &["node-express"]);
    let server = Server::start(app.path(), &[]);
    let http = client();

    let root = http.get(server.url("/")).send().expect("GET /");
    assert_eq!(root.status(), 200);
    assert_eq!(root.text().expect("body"), "express root");

    let user = http
        .get(server.url("/users/7?sort=asc"))
        .send()
        .expect("GET user");
    assert_eq!(user.status(), 200);
    assert_eq!(user.headers()["x-powered-by-test"], "express");
    assert!(user.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .starts_with("visited=yes"));
    assert_eq!(json_body(user), json!({"id": "7", "sort": "asc"}));

    let created = http
        .post(server.url("/users"))
        .header("content-type", "application/json")
        .body(r#"{"name":"ada"}"#)
        .send()
        .expect("POST");
    assert_eq!(created.status(), 201);
    assert_eq!(json_body(created), json!({"created": "ada"}));

    let unknown = http
        .get(server.url("/nothing/here"))
        .send()
        .expect("GET unknown");
    assert_eq!(
        unknown.status(),
        404,
        "Express's own 404 comes through the proxy route"
    );
}
