//! AWS's own host names reach Serverful (issue #17): inside the sandbox,
//! `dynamodb.{region}.amazonaws.com`, the other services' names and the stack's APIs'
//! `{api-id}.execute-api.{region}.amazonaws.com` resolve to the sandbox's loopback, where
//! Serverful answers TLS with a certificate from the data folder's own authority, which
//! functions trust through `NODE_EXTRA_CA_CERTS`, `AWS_CA_BUNDLE`, `REQUESTS_CA_BUNDLE` and
//! `SSL_CERT_FILE`. Functions that ignore `AWS_ENDPOINT_URL` (the app
//! `test_data/apps/aws-hosts`) reach Serverful unchanged; other names resolve as before.

use std::process::Command;

use serde_json::Value;
use serverful_e2e::{test_app, test_deps_dir, Server};

use crate::{client, json_body};

/// `GET path` on the app, which must answer 200 with JSON.
fn get(server: &Server, path: &str) -> Value {
    let response = client()
        .get(server.url(path))
        .send()
        .unwrap_or_else(|error| panic!("GET {path}: {error}"));
    let status = response.status();
    let body = json_body(response);
    assert_eq!(status, 200, "GET {path}: {body:#}\n{}", server.all_output());
    body
}

#[test]
fn boto3_without_an_endpoint_writes_a_table_over_https_on_aws_host_name() {
    let server = Server::start(&test_app("aws-hosts"), &["--sandbox", "required"]);
    let body = get(&server, "/python");
    assert_eq!(body["endpoint"], "https://dynamodb.us-east-1.amazonaws.com");
    assert_eq!(
        body["item"]["via"]["S"],
        "https://dynamodb.us-east-1.amazonaws.com"
    );
    for variable in ["bundle", "ssl_cert_file", "requests_ca_bundle"] {
        assert_eq!(body[variable], "/var/serverful/ca-bundle.pem", "{variable}");
    }
    assert_eq!(body["dynamodb"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(body["localhost"], serde_json::json!(["127.0.0.1"]));
    // Names Serverful does not serve are left to the host's resolver: another region's
    // DynamoDB is not redirected, and a name that does not exist stays unresolved.
    assert_ne!(body["other_region"], serde_json::json!(["127.0.0.1"]));
    assert!(
        body["other_host"]
            .as_str()
            .is_some_and(|text| text.starts_with("unresolved")),
        "{body:#}"
    );

    // The item is in the server's table, as seen from outside through the AWS endpoint.
    let table = server.output("NotesTableName");
    let (ok, item, stderr) = server.aws_cli(&[
        "dynamodb",
        "get-item",
        "--table-name",
        &table,
        "--key",
        r#"{"id": {"S": "by-host-name"}}"#,
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(
        item["Item"]["via"]["S"],
        "https://dynamodb.us-east-1.amazonaws.com"
    );
}

#[test]
fn node_verifies_serverful_on_aws_host_names_and_posts_to_connections_at_domain_name() {
    let server = Server::start(&test_app("aws-hosts"), &["--sandbox", "required"]);

    // A plain https GET: the certificate verifies through NODE_EXTRA_CA_CERTS.
    let body = get(&server, "/node");
    assert_eq!(body["host"], "sqs.us-east-1.amazonaws.com");
    assert_eq!(body["extraCerts"], "/var/serverful/ca-bundle.pem");
    assert_eq!(body["authorized"], true, "{body:#}");
    assert!(body["status"].is_u64(), "{body:#}");
    // The app's HTTP API by its AWS name: the gateway answers (the host it sees is
    // Serverful's name of the API).
    let api = &body["api"];
    assert_eq!(api["status"], 200, "{body:#}");
    assert_eq!(api["authorized"], true, "{body:#}");
    let hello: Value = serde_json::from_str(api["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|error| panic!("{error}: {body:#}"));
    assert_eq!(hello["hello"], "from the gateway");
    assert!(
        hello["host"]
            .as_str()
            .is_some_and(|host| host.ends_with(".execute-api.localhost")),
        "{hello:#}"
    );

    // A WebSocket client reaching the API by its AWS host name, and another by the
    // gateway's address: the function posts back to each at `https://{domainName}/{stage}`.
    let api_id = server.output("SocketApiId");
    let aws_host = format!("{api_id}.execute-api.us-east-1.amazonaws.com");
    let url = format!("{}/prod", server.url("").replacen("http://", "ws://", 1));
    let script = r#"
const WebSocket = require("ws");
const [url, awsHost] = process.argv.slice(1);
const open = (headers) => new Promise((resolve, reject) => {
  const ws = new WebSocket(url, { headers });
  ws.once("open", () => resolve(ws));
  ws.once("unexpected-response", (req, res) => reject(new Error("status " + res.statusCode)));
  ws.once("error", reject);
});
const next = (ws) => new Promise((resolve) => ws.once("message", (data) => resolve(data.toString())));
setTimeout(() => { console.error("no answer in 30 s"); process.exit(2); }, 30000);
(async () => {
  const byName = await open({ Host: awsHost });
  const byAddress = await open({});
  const gotByName = next(byName);
  byName.send("by name");
  const named = JSON.parse(await gotByName);
  const gotByAddress = next(byAddress);
  byAddress.send("by address");
  const addressed = JSON.parse(await gotByAddress);
  byName.close(); byAddress.close();
  console.log(JSON.stringify({ named, addressed }));
  process.exit(0);
})().catch((error) => { console.error(error); process.exit(1); });
"#;
    let output = Command::new("node")
        .args(["-e", script, &url, &aws_host])
        .env("NODE_PATH", test_deps_dir().join("node-ws/node_modules"))
        .output()
        .expect("run node");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    let result: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        result["named"]["endpoint"],
        format!("https://{aws_host}/prod")
    );
    assert_eq!(result["named"]["got"], "by name");
    let gateway = server.url("").replacen("http://", "https://", 1);
    assert_eq!(result["addressed"]["endpoint"], format!("{gateway}/prod"));
    assert_eq!(result["addressed"]["got"], "by address");
}

#[test]
fn without_the_sandbox_functions_get_the_bundle_on_the_host() {
    let server = Server::start(&test_app("aws-hosts"), &["--sandbox", "off"]);
    let body = get(&server, "/node");
    let bundle = server.data_dir().join("tls/ca-bundle.pem");
    assert_eq!(body["extraCerts"], bundle.display().to_string());
    let text = std::fs::read_to_string(&bundle).expect("the bundle");
    let authority =
        std::fs::read_to_string(server.data_dir().join("tls/ca.pem")).expect("the authority");
    assert!(text.ends_with(&authority));
}

#[test]
fn boto3_without_an_endpoint_reaches_its_bucket_on_s3s_host_names() {
    let server = Server::start(&test_app("aws-hosts"), &["--sandbox", "required"]);
    let body = get(&server, "/s3");
    assert_eq!(body["body"], "hello over https", "{body:#}");
    assert_eq!(body["bucket_host"], serde_json::json!(["127.0.0.1"]));
    // The object is in the server's bucket, as seen from outside.
    let bucket = server.output("FilesBucketName");
    let (ok, head, stderr) = server.aws_cli(&[
        "s3api",
        "head-object",
        "--bucket",
        &bucket,
        "--key",
        "by-host-name.txt",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(head["ContentLength"], 16);
}
