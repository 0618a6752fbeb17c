//! The AWS endpoint's answers around DynamoDB's operations (issue 21): the health check
//! tools wait for (`GET /`), CORS for pages that use the JS SDK (preflights and the
//! headers on every answer), and request ids in DynamoDB's shape, seen through raw HTTP,
//! boto3, the JS SDK v3 and a page in Chromium.

use std::process::Command;

use serde_json::Value;
use serverful_e2e::{test_app, test_deps_dir, Server};

use crate::client;

/// Any app will do: these tests talk to the endpoint, not to the app.
const APP: &str = "store-notes";

/// The scripts of this module.
fn script(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data/dynamodb_endpoint")
        .join(name)
        .to_str()
        .expect("utf-8 path")
        .to_owned()
}

/// Whether `id` has the shape of DynamoDB's request ids: 52 upper-case letters and digits.
fn is_dynamodb_request_id(id: &str) -> bool {
    id.len() == 52
        && id
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte.is_ascii_uppercase())
}

/// Whether `id` is a UUID, as SQS's request ids are.
fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|group| group.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && groups
            .iter()
            .all(|group| group.bytes().all(|byte| byte.is_ascii_hexdigit()))
}

/// Runs a Node.js script that uses the AWS SDK for JavaScript v3 (DynamoDB clients)
/// against `server`'s endpoint, and returns the JSON it prints.
pub(crate) fn run_js_sdk_script(server: &Server, script: &str) -> Value {
    let node_modules = test_deps_dir().join("node-dynamodb/node_modules");
    assert!(
        node_modules.exists(),
        "{} is missing: run `bash scripts/install-test-deps.sh`",
        node_modules.display()
    );
    let output = Command::new("node")
        .arg(script)
        .envs(server.aws_env())
        .env_remove("AWS_PROFILE")
        .env("NODE_PATH", &node_modules)
        .output()
        .expect("run node");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from node")
}

fn header<'a>(response: &'a reqwest::blocking::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// `GET /` without a signature answers as DynamoDB's endpoint does, in the server's
/// region, and DynamoDB Streams' host names itself.
#[test]
fn an_unsigned_get_of_the_root_is_the_health_check() {
    let server = Server::start(&test_app(APP), &["--region", "eu-west-1"]);
    let http = client();

    let response = http
        .get(format!("{}/", server.aws_url))
        .send()
        .expect("GET /");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), None);
    assert_eq!(header(&response, "content-length"), Some("42"));
    let request_id = header(&response, "x-amzn-requestid").unwrap_or_default();
    assert!(is_dynamodb_request_id(request_id), "{request_id}");
    let crc = header(&response, "x-amz-crc32")
        .unwrap_or_default()
        .to_owned();
    assert!(crc.parse::<u32>().is_ok(), "{crc}");
    assert_eq!(
        response.text().expect("body"),
        "healthy: dynamodb.eu-west-1.amazonaws.com "
    );

    let head = http
        .head(format!("{}/", server.aws_url))
        .send()
        .expect("HEAD /");
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "x-amz-crc32"), Some(crc.as_str()));
    assert_eq!(head.text().expect("no body"), "");

    let by_host = |host: &str| {
        let response = http
            .get(format!("{}/", server.aws_url))
            .header("host", host)
            .send()
            .expect("GET / by host");
        (response.status(), response.text().expect("body"))
    };
    assert_eq!(
        by_host("dynamodb.eu-west-1.amazonaws.com"),
        (
            reqwest::StatusCode::OK,
            "healthy: dynamodb.eu-west-1.amazonaws.com ".to_owned()
        )
    );
    assert_eq!(
        by_host("streams.dynamodb.eu-west-1.amazonaws.com"),
        (
            reqwest::StatusCode::OK,
            "healthy: streams.dynamodb.eu-west-1.amazonaws.com ".to_owned()
        )
    );
}

/// The health check takes nothing from S3: a signed `GET /` is still ListBuckets, and
/// an unsigned `GET /` of a bucket's own host is still S3's.
#[test]
fn s3_keeps_its_root() {
    let server = Server::start(&test_app(APP), &[]);
    let (ok, made, stderr) = server.aws_cli(&["s3api", "create-bucket", "--bucket", "roots"]);
    assert!(ok, "{made} {stderr}");
    let (ok, listed, stderr) = server.aws_cli(&["s3api", "list-buckets"]);
    assert!(ok, "{stderr}");
    let names: Vec<&str> = listed["Buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .filter_map(|bucket| bucket["Name"].as_str())
        .collect();
    assert!(names.contains(&"roots"), "{listed}");

    let response = client()
        .get(format!("{}/", server.aws_url))
        .header("host", "roots.s3.us-east-1.amazonaws.com")
        .send()
        .expect("unsigned GET of a bucket");
    assert_eq!(response.status(), 403);
    let body = response.text().expect("body");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
}

/// A browser's preflight is answered before any signature check, and every answer to a
/// page (the failures included) lets it read the body and the request id.
#[test]
fn pages_get_preflights_and_cors_headers() {
    let server = Server::start(&test_app(APP), &[]);
    let http = client();

    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{}/", server.aws_url))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-amz-target,x-amz-date,authorization",
        )
        .send()
        .expect("preflight");
    assert_eq!(preflight.status(), 200);
    assert_eq!(header(&preflight, "access-control-allow-origin"), Some("*"));
    assert_eq!(
        header(&preflight, "access-control-allow-methods"),
        Some("POST")
    );
    assert_eq!(
        header(&preflight, "access-control-allow-headers"),
        Some("content-type,x-amz-target,x-amz-date,authorization")
    );
    assert_eq!(header(&preflight, "access-control-max-age"), Some("172800"));
    let exposed = header(&preflight, "access-control-expose-headers").unwrap_or_default();
    assert!(exposed.contains("x-amzn-RequestId"), "{exposed}");
    assert!(
        is_dynamodb_request_id(header(&preflight, "x-amzn-requestid").unwrap_or_default()),
        "{:?}",
        preflight.headers()
    );
    assert_eq!(preflight.text().expect("body"), "");

    // An unsigned call from a page: refused, and the page can read why.
    let refused = http
        .post(format!("{}/", server.aws_url))
        .header("origin", "https://app.example")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "DynamoDB_20120810.ListTables")
        .body("{}")
        .send()
        .expect("unsigned POST");
    assert_eq!(refused.status(), 400);
    assert_eq!(header(&refused, "access-control-allow-origin"), Some("*"));
    let exposed = header(&refused, "access-control-expose-headers").unwrap_or_default();
    for name in ["x-amzn-RequestId", "x-amzn-ErrorType", "x-amz-crc32"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    assert!(is_dynamodb_request_id(
        header(&refused, "x-amzn-requestid").unwrap_or_default()
    ));
    let body = refused.text().expect("body");
    assert!(
        body.contains("MissingAuthenticationTokenException"),
        "{body}"
    );

    // Without an Origin (not a page), no CORS headers.
    let plain = http
        .post(format!("{}/", server.aws_url))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "DynamoDB_20120810.ListTables")
        .body("{}")
        .send()
        .expect("unsigned POST without Origin");
    assert_eq!(header(&plain, "access-control-allow-origin"), None);

    // A path-style bucket's preflight stays S3's, answered from the bucket's own rules
    // (it has none here), not with the JSON services' blanket answer.
    let (ok, _, stderr) = server.aws_cli(&["s3api", "create-bucket", "--bucket", "pages"]);
    assert!(ok, "{stderr}");
    let bucket_preflight = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/pages/index.html", server.aws_url),
        )
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .send()
        .expect("bucket preflight");
    assert_eq!(bucket_preflight.status(), 403);
    assert_eq!(
        header(&bucket_preflight, "access-control-allow-origin"),
        None
    );
}

/// boto3 reports DynamoDB's request ids in DynamoDB's shape, for a success and for an
/// error, and SQS's stay UUIDs as on AWS.
#[test]
fn boto3_sees_request_ids_in_each_services_shape() {
    let server = Server::start(&test_app(APP), &[]);
    let seen = server.python(
        r#"
import json, boto3, botocore.exceptions
dynamodb = boto3.client("dynamodb")
listed = dynamodb.list_tables()
seen = {
    "list": listed["ResponseMetadata"]["RequestId"],
    "list header": listed["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"],
}
try:
    dynamodb.describe_table(TableName="no-such-table")
except botocore.exceptions.ClientError as error:
    seen["error"] = error.response["Error"]["Code"]
    seen["error id"] = error.response["ResponseMetadata"]["RequestId"]
streams = boto3.client("dynamodbstreams")
seen["streams"] = streams.list_streams()["ResponseMetadata"]["RequestId"]
seen["sqs"] = boto3.client("sqs").list_queues()["ResponseMetadata"]["RequestId"]
print(json.dumps(seen))
"#,
        &[],
    );
    let text = |key: &str| seen[key].as_str().unwrap_or_default().to_owned();
    assert!(is_dynamodb_request_id(&text("list")), "{seen}");
    assert_eq!(text("list"), text("list header"));
    assert_eq!(text("error"), "ResourceNotFoundException", "{seen}");
    assert!(is_dynamodb_request_id(&text("error id")), "{seen}");
    assert_ne!(text("list"), text("error id"));
    assert!(is_dynamodb_request_id(&text("streams")), "{seen}");
    assert!(is_uuid(&text("sqs")), "{seen}");
}

/// The JS SDK v3 reads DynamoDB's request ids from the answers, for a success and for an
/// error.
#[test]
fn the_js_sdk_reads_dynamodb_request_ids() {
    let server = Server::start(&test_app(APP), &[]);
    let seen = run_js_sdk_script(&server, &script("request_ids.mjs"));
    let text = |key: &str| seen[key].as_str().unwrap_or_default().to_owned();
    assert!(is_dynamodb_request_id(&text("listRequestId")), "{seen}");
    assert!(
        seen["tableNames"]
            .as_array()
            .is_some_and(|names| !names.is_empty()),
        "{seen}"
    );
    assert_eq!(text("describe"), "ResourceNotFoundException", "{seen}");
    assert_eq!(seen["describeStatus"], 400, "{seen}");
    assert!(is_dynamodb_request_id(&text("describeRequestId")), "{seen}");
}

/// A page served from another origin calls DynamoDB from Chromium: the signed call's
/// answer and request id, the refusal of an unsigned one and the health check are all
/// readable by its script.
#[test]
fn a_page_on_another_origin_calls_dynamodb_from_chromium() {
    let server = Server::start(&test_app(APP), &[]);
    let output = Command::new("python3")
        .arg(script("browser.py"))
        .args([
            server.aws_url.as_str(),
            &format!("{}/", server.base_url),
            server.access_key_id.as_str(),
            server.secret_access_key.as_str(),
        ])
        .env("PYTHONPATH", test_deps_dir().join("python-selenium"))
        .env("SE_OFFLINE", "true")
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "browser.py failed: {}\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    let seen: Value = serde_json::from_slice(&output.stdout).expect("JSON from browser.py");
    assert_ne!(
        seen["origin"].as_str(),
        Some(server.aws_url.as_str()),
        "{seen:#}"
    );

    let signed = &seen["signed"];
    assert_eq!(signed["status"], 200, "{seen:#}");
    let listed: Value =
        serde_json::from_str(signed["body"].as_str().unwrap_or_default()).expect("JSON body");
    assert!(
        listed["TableNames"]
            .as_array()
            .is_some_and(|names| !names.is_empty()),
        "{seen:#}"
    );
    assert!(
        is_dynamodb_request_id(signed["requestId"].as_str().unwrap_or_default()),
        "{seen:#}"
    );
    assert!(signed["crc32"].as_str().is_some(), "{seen:#}");

    let unsigned = &seen["unsigned"];
    assert_eq!(unsigned["status"], 400, "{seen:#}");
    assert!(
        unsigned["body"]
            .as_str()
            .is_some_and(|body| body.contains("MissingAuthenticationTokenException")),
        "{seen:#}"
    );
    assert!(
        is_dynamodb_request_id(unsigned["requestId"].as_str().unwrap_or_default()),
        "{seen:#}"
    );

    assert_eq!(seen["health"]["status"], 200, "{seen:#}");
    assert_eq!(
        seen["health"]["body"], "healthy: dynamodb.us-east-1.amazonaws.com ",
        "{seen:#}"
    );
}
