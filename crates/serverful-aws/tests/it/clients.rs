//! Real AWS clients against the router on 127.0.0.1: boto3 (header signatures, a
//! presigned URL, the CRC32 check), the AWS CLI and the JS SDK v3, with the right and a
//! wrong secret.
//!
//! These need `python3` with boto3, the `aws` CLI, and `node` with the `@aws-sdk/*`
//! clients (`SERVERFUL_TEST_AWS_SDK_NODE_MODULES`, default the folder `serverful-build`
//! fills, `~/.cache/serverful/sdk/node/node_modules`); without them the tests say so on
//! stderr and pass, since the unit tests already replay botocore's signatures.

use std::net::SocketAddr;
use std::process::{Command, Output};

use crate::{state, ACCESS_KEY_ID, SECRET_ACCESS_KEY};

async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(listener, serverful_aws::router(state()))
            .await
            .expect("serve");
    });
    address
}

fn has_boto3() -> bool {
    Command::new("python3")
        .args(["-c", "import boto3"])
        .output()
        .is_ok_and(|output| output.status.success())
}

fn has_aws_cli() -> bool {
    Command::new("aws")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Runs a blocking client command off the runtime's threads.
async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("run the client"))
        .await
        .expect("client thread")
}

fn isolated_aws_env(command: &mut Command, secret: &str) {
    command
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL");
}

const BOTO3_SCRIPT: &str = r#"
import json, sys, urllib.request
import boto3, botocore.exceptions

endpoint, secret = sys.argv[1], sys.argv[2]
def client(service):
    return boto3.client(service, endpoint_url=endpoint, region_name="eu-west-1",
                        aws_access_key_id=sys.argv[3], aws_secret_access_key=secret)

dynamodb = client("dynamodb")
try:
    print("list_tables", json.dumps(dynamodb.list_tables()["TableNames"]))
    item = dynamodb.get_item(TableName="Ünïcode tåble", Key={"pk": {"S": "a  b"}})["Item"]
    print("get_item", item["operation"]["S"], item["region"]["S"], json.loads(item["body"]["S"])["TableName"])
    streams = client("dynamodbstreams")
    print("streams", streams.list_streams()["ResponseMetadata"]["HTTPStatusCode"])
    url = dynamodb.generate_presigned_url("list_tables", Params={}, ExpiresIn=60)
    request = urllib.request.Request(url, method="POST", data=b"", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables"})
    print("presigned", json.loads(urllib.request.urlopen(request).read())["TableNames"])
    tampered = urllib.request.Request(url, method="POST", data=b"", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.DeleteTable"})
    try:
        urllib.request.urlopen(tampered)
    except urllib.error.HTTPError as error:
        print("presigned-retargeted", error.code, json.loads(error.read())["__type"])
    # Functions run with a session token in their environment; the endpoint has no STS
    # and accepts any token, as long as the key pair signs.
    with_token = boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-west-1",
                              aws_access_key_id=sys.argv[3], aws_secret_access_key=secret,
                              aws_session_token="a-session-token")
    print("session_token", with_token.list_tables()["TableNames"][0])
    lam = client("lambda")
    answer = lam.invoke(FunctionName="arn:aws:lambda:eu-west-1:000000000000:function:my-fn", Payload=b'{"x":1}')
    print("invoke", answer["StatusCode"], answer["ExecutedVersion"], answer["Payload"].read().decode())
except botocore.exceptions.ClientError as error:
    print("error", error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"], error.response["Error"]["Message"])
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3() {
    if !has_boto3() {
        missing_client("python3 with boto3");
        return;
    }
    let address = serve().await;
    let endpoint = format!("http://{address}");
    let boto3 = |secret: &str| {
        let mut command = Command::new("python3");
        command.args(["-c", BOTO3_SCRIPT, &endpoint, secret, ACCESS_KEY_ID]);
        isolated_aws_env(&mut command, secret);
        command
    };

    let output = run(boto3(SECRET_ACCESS_KEY)).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let expected = [
        r#"list_tables ["ListTables", "eu-west-1", "{}"]"#,
        "get_item GetItem eu-west-1 Ünïcode tåble",
        "streams 200",
        r#"presigned ['ListTables', 'eu-west-1', '']"#,
        "presigned-retargeted 400 com.amazon.coral.service#InvalidSignatureException",
        "session_token ListTables",
        r#"invoke 200 $LATEST {"function":"arn%3Aaws%3Alambda%3Aeu-west-1%3A000000000000%3Afunction%3Amy-fn","payload":"{\"x\":1}"}"#,
    ];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "{stdout}");

    let output = run(boto3("not-the-secret")).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.trim(),
        "error 400 InvalidSignatureException The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli() {
    if !has_aws_cli() {
        missing_client("the aws CLI");
        return;
    }
    let address = serve().await;
    let endpoint = format!("http://{address}");
    let cli = |secret: &str| {
        let mut command = Command::new("aws");
        command.args([
            "dynamodb",
            "list-tables",
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-2",
            "--output",
            "json",
        ]);
        isolated_aws_env(&mut command, secret);
        command
    };

    let output = run(cli(SECRET_ACCESS_KEY)).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tables: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the CLI prints JSON");
    assert_eq!(
        tables,
        serde_json::json!({"TableNames": ["ListTables", "us-east-2", "{}"]})
    );

    let output = run(cli("not-the-secret")).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "An error occurred (InvalidSignatureException) when calling the ListTables operation: The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    );
}

const JS_SDK_SCRIPT: &str = r#"
import { createRequire } from "node:module";
const require = createRequire(process.env.NODE_PATH + "/");
const { DynamoDBClient, ListTablesCommand, GetItemCommand } = require("@aws-sdk/client-dynamodb");
const { LambdaClient, InvokeCommand } = require("@aws-sdk/client-lambda");
const [endpoint, accessKeyId, secretAccessKey] = process.argv.slice(1);
const config = { endpoint, region: "ap-south-1", credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 };
try {
  const db = new DynamoDBClient(config);
  console.log("list_tables", JSON.stringify((await db.send(new ListTablesCommand({}))).TableNames));
  const item = (await db.send(new GetItemCommand({ TableName: "t", Key: { pk: { S: "x y" } } }))).Item;
  console.log("get_item", item.operation.S, item.region.S, JSON.parse(item.body.S).Key.pk.S);
  const lambda = new LambdaClient(config);
  const answer = await lambda.send(new InvokeCommand({ FunctionName: "my-fn:live", Payload: new TextEncoder().encode('{"x":1}') }));
  console.log("invoke", answer.StatusCode, new TextDecoder().decode(answer.Payload));
} catch (error) {
  console.log("error", error.$metadata?.httpStatusCode, error.name, error.message);
}
"#;

/// A real client these tests drive is not installed: in CI (`CI` set) that fails the
/// test, since the project's scripts install every client; on a developer's machine the
/// test says what it skipped.
fn missing_client(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is not installed: run `bash scripts/install-test-deps.sh`"
    );
    eprintln!("skipped: {what} is not installed (scripts/install-test-deps.sh installs it)");
}

fn js_sdk_node_modules() -> Option<std::path::PathBuf> {
    // The bundle scripts/install-test-deps.sh installs next to the build (target/test-deps),
    // else the server's shared SDK cache.
    let test_deps = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.parent()?
                .parent()?
                .parent()
                .map(std::path::Path::to_path_buf)
        })
        .map(|target| target.join("test-deps/node-dynamodb/node_modules"));
    let folder = match std::env::var_os("SERVERFUL_TEST_AWS_SDK_NODE_MODULES") {
        Some(folder) => std::path::PathBuf::from(folder),
        None => match test_deps.filter(|folder| folder.join("@aws-sdk/client-dynamodb").is_dir()) {
            Some(folder) => folder,
            None => std::path::PathBuf::from(std::env::var_os("HOME")?)
                .join(".cache/serverful/sdk/node/node_modules"),
        },
    };
    let has_node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    (has_node && folder.join("@aws-sdk/client-dynamodb").is_dir()).then_some(folder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_sdk_v3() {
    let Some(node_modules) = js_sdk_node_modules() else {
        missing_client("node with the @aws-sdk v3 clients");
        return;
    };
    let address = serve().await;
    let endpoint = format!("http://{address}");
    let node = |secret: &str| {
        let mut command = Command::new("node");
        command
            .args([
                "--input-type=module",
                "-e",
                JS_SDK_SCRIPT,
                &endpoint,
                ACCESS_KEY_ID,
                secret,
            ])
            .env("NODE_PATH", &node_modules);
        isolated_aws_env(&mut command, secret);
        command
    };

    let output = run(node(SECRET_ACCESS_KEY)).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let expected = [
        r#"list_tables ["ListTables","ap-south-1","{}"]"#,
        "get_item GetItem ap-south-1 x y",
        r#"invoke 200 {"function":"my-fn%3Alive","payload":"{\"x\":1}"}"#,
    ];
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        expected,
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = run(node("not-the-secret")).await;
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "error 400 InvalidSignatureException The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    );
}
