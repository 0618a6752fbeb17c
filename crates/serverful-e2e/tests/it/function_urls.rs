//! Lambda function URLs (issue 17): each URL on its own host, the function URL event,
//! Lambda's response rules, CORS, and `AWS_IAM` URLs checked with SigV4 (botocore signs).

use regex::Regex;
use serde_json::Value;
use serverful_e2e::Server;

use crate::{client, json_body};

const TEMPLATE: &str = r#"Transform: AWS::Serverless-2016-10-31
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: app.handler
      CodeUri: .
      FunctionUrlConfig:
        AuthType: NONE
        Cors:
          AllowOrigins: [https://app.example]
          AllowMethods: [GET, POST]
          AllowHeaders: [x-custom]
          ExposeHeaders: [x-out]
          MaxAge: 300
  Private:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: app.handler
      CodeUri: .
  PrivateUrl:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !GetAtt Private.Arn
      AuthType: AWS_IAM
Outputs:
  EchoUrl:
    Value: !GetAtt EchoUrl.FunctionUrl
"#;

const CODE: &str = r#"
exports.handler = async (event) => {
  if (event.rawPath === '/raw') {
    return { raw: true };
  }
  return {
    statusCode: 201,
    headers: { 'x-out': 'yes', 'content-type': 'application/json' },
    cookies: ['a=1', 'b=2'],
    body: JSON.stringify(event),
  };
};
"#;

/// The URL `logical_id` answers on, from `up`'s banner, as (host with port, URL).
fn function_url(stdout: &str, logical_id: &str) -> (String, String) {
    let pattern =
        Regex::new(&format!(r"  {logical_id} \(\w+\): (http://([^/\s]+)/)")).expect("regex");
    let captures = pattern
        .captures(stdout)
        .unwrap_or_else(|| panic!("no function URL {logical_id} in\n{stdout}"));
    (captures[2].to_owned(), captures[1].to_owned())
}

#[test]
fn buffered_urls_send_events_apply_response_rules_cors_and_iam() {
    let app = tempfile::tempdir().expect("temp dir");
    std::fs::write(app.path().join("template.yaml"), TEMPLATE).expect("write template");
    std::fs::write(app.path().join("app.js"), CODE).expect("write code");
    let server = Server::start(app.path(), &[]);
    let stdout = server.stdout();
    let (echo_host, echo_url) = function_url(&stdout, "EchoUrl");
    let url_id_pattern =
        Regex::new(r"^([0-9a-z]{32})\.lambda-url\.us-east-1\.localhost:\d+$").expect("regex");
    let url_id = url_id_pattern
        .captures(&echo_host)
        .unwrap_or_else(|| panic!("host {echo_host}"))[1]
        .to_owned();
    assert!(echo_url.starts_with("http://"), "{echo_url}");
    assert_eq!(
        server.output("EchoUrl"),
        format!("https://{url_id}.lambda-url.us-east-1.on.aws/")
    );

    let http = client();
    // The event: payload 2.0 with Lambda's function URL context.
    let response = http
        .post(server.url("/items/1?a=1&a=2&b=x"))
        .header("Host", &echo_host)
        .header("Cookie", "c1=v1; c2=v2")
        .header("Content-Type", "application/json")
        .body(r#"{"n":1}"#)
        .send()
        .expect("POST");
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-out"], "yes");
    let cookies: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().expect("cookie"))
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    let event = json_body(response);
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "$default");
    assert_eq!(event["rawPath"], "/items/1");
    assert_eq!(event["rawQueryString"], "a=1&a=2&b=x");
    assert_eq!(event["queryStringParameters"]["a"], "1,2");
    assert_eq!(event["cookies"], serde_json::json!(["c1=v1", "c2=v2"]));
    assert_eq!(event["body"], r#"{"n":1}"#);
    assert_eq!(event["isBase64Encoded"], false);
    let context = &event["requestContext"];
    assert_eq!(context["apiId"], url_id.as_str());
    assert_eq!(context["domainPrefix"], url_id.as_str());
    assert_eq!(context["domainName"], echo_host.as_str());
    assert_eq!(context["http"]["method"], "POST");
    assert_eq!(context["http"]["path"], "/items/1");
    assert_eq!(context["routeKey"], "$default");
    assert_eq!(context["stage"], "$default");
    assert_eq!(context["accountId"], "anonymous");
    assert!(context.get("authorizer").is_none(), "{context}");

    // A result without `statusCode` is the body of a 200 application/json response.
    let response = http
        .get(server.url("/raw"))
        .header("Host", &echo_host)
        .send()
        .expect("GET /raw");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(json_body(response), serde_json::json!({ "raw": true }));

    // CORS: the preflight is answered without the function; responses carry the headers.
    let preflight = http
        .request(reqwest::Method::OPTIONS, server.url("/items"))
        .header("Host", &echo_host)
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .expect("OPTIONS");
    assert_eq!(preflight.status(), 200);
    let headers = preflight.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(headers["access-control-allow-methods"], "GET,POST");
    assert_eq!(headers["access-control-allow-headers"], "x-custom");
    assert_eq!(headers["access-control-max-age"], "300");
    let response = http
        .get(server.url("/raw"))
        .header("Host", &echo_host)
        .header("Origin", "https://app.example")
        .send()
        .expect("GET with Origin");
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(response.headers()["access-control-expose-headers"], "x-out");
    let refused = http
        .get(server.url("/raw"))
        .header("Host", &echo_host)
        .header("Origin", "https://evil.example")
        .send()
        .expect("GET from another origin");
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    // AWS_IAM: unsigned requests get Lambda's 403; signed ones reach the function, which
    // sees the signer.
    let (private_host, _) = function_url(&stdout, "PrivateUrl");
    let unsigned = http
        .get(server.url("/secret"))
        .header("Host", &private_host)
        .send()
        .expect("unsigned GET");
    assert_eq!(unsigned.status(), 403);
    assert_eq!(
        unsigned.headers()["x-amzn-errortype"],
        "AccessDeniedException"
    );
    assert_eq!(
        json_body(unsigned),
        serde_json::json!({ "Message": "Forbidden" })
    );
    let port = server
        .base_url
        .rsplit_once(':')
        .map(|(_, port)| port.to_owned())
        .expect("port");
    let signed: Value = server.python(SIGNED_REQUEST, &[&private_host, &port, "right"]);
    assert_eq!(signed["status"], 201, "{signed}");
    let event: Value = serde_json::from_str(signed["body"].as_str().expect("body")).expect("event");
    let iam = &event["requestContext"]["authorizer"]["iam"];
    assert_eq!(iam["accessKey"], server.aws_env()[1].1.as_str(), "{event}");
    assert_eq!(iam["accountId"], "123456789012");
    let wrong: Value = server.python(SIGNED_REQUEST, &[&private_host, &port, "wrong"]);
    assert_eq!(wrong["status"], 403, "{wrong}");
}

/// Signs `GET /secret` on the URL's host with botocore's SigV4 (service `lambda`), with the
/// server's secret or a wrong one, sends it to the gateway and prints the status and body.
const SIGNED_REQUEST: &str = r#"
import http.client, json, os, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
host, port, which = sys.argv[1], sys.argv[2], sys.argv[3]
secret = os.environ["AWS_SECRET_ACCESS_KEY"] if which == "right" else "not-the-secret"
credentials = Credentials(os.environ["AWS_ACCESS_KEY_ID"], secret)
request = AWSRequest(method="GET", url=f"http://{host}/secret?x=1")
SigV4Auth(credentials, "lambda", "us-east-1").add_auth(request)
headers = dict(request.headers.items())
headers["Host"] = host
connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
connection.request("GET", "/secret?x=1", headers=headers)
response = connection.getresponse()
print(json.dumps({"status": response.status, "body": response.read().decode()}))
"#;
