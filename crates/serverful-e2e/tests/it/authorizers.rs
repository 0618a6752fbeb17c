//! Authorizers (issue 17): a JWT authorizer checking tokens against a JWKS this test
//! serves, a Lambda `TOKEN` authorizer that allows, denies and throws (its answers cached),
//! and `AWS_IAM` routes that need a SigV4 signature.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use jsonwebtoken::{EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{json, Value};
use serverful_e2e::Server;

use crate::client;

const TEMPLATE: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Issuer:
    Type: String
    Default: http://127.0.0.1:9
Globals:
  Function:
    Runtime: python3.12
    CodeUri: src/
Resources:
  RestApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        DefaultAuthorizer: TokenAuth
        Authorizers:
          TokenAuth:
            FunctionArn: !GetAtt AuthorizerFunction.Arn
            Identity:
              Header: Authorization
              ValidationExpression: '[a-z0-9-]+'
              ReauthorizeEvery: 300
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: !Ref Issuer
              audience:
                - my-app
  RawApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: raw
      ProtocolType: HTTP
  RawJwt:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref RawApi
      Name: raw-jwt
      AuthorizerType: JWT
      IdentitySource: [$request.header.Authorization]
      JwtConfiguration:
        Issuer: !Ref Issuer
        Audience: [my-app]
  RawKey:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref RawApi
      Name: raw-key
      AuthorizerType: REQUEST
      AuthorizerUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${KeyAuthorizerFunction.Arn}/invocations
      AuthorizerPayloadFormatVersion: '2.0'
      EnableSimpleResponses: true
      IdentitySource: [$request.header.X-Key]
  RawIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref RawApi
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt EchoFunction.Arn
      PayloadFormatVersion: '2.0'
  RawJwtRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref RawApi
      RouteKey: GET /jwt
      AuthorizationType: JWT
      AuthorizerId: !Ref RawJwt
      AuthorizationScopes: [admin]
      Target: !Join ['/', ['integrations', !Ref RawIntegration]]
  RawKeyRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref RawApi
      RouteKey: GET /key
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref RawKey
      Target: !Join ['/', ['integrations', !Ref RawIntegration]]
  RawIamRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref RawApi
      RouteKey: GET /iam
      AuthorizationType: AWS_IAM
      Target: !Join ['/', ['integrations', !Ref RawIntegration]]
  RawOpenRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref RawApi
      RouteKey: GET /open
      Target: !Join ['/', ['integrations', !Ref RawIntegration]]
  RawStage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref RawApi
      StageName: $default
  OpenApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      DefinitionBody:
        swagger: '2.0'
        info: {title: openapi, version: '1'}
        securityDefinitions:
          KeyCheck:
            type: apiKey
            name: X-Token
            in: header
            x-amazon-apigateway-authtype: custom
            x-amazon-apigateway-authorizer:
              type: token
              authorizerUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${AuthorizerFunction.Arn}/invocations
              authorizerResultTtlInSeconds: 0
          sigv4:
            type: apiKey
            name: Authorization
            in: header
            x-amazon-apigateway-authtype: awsSigv4
        security:
          - KeyCheck: []
        paths:
          /guarded/{item}:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${EchoFunction.Arn}/invocations
          /open:
            get:
              security: []
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${EchoFunction.Arn}/invocations
          /signed:
            get:
              security:
                - sigv4: []
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${EchoFunction.Arn}/invocations
  RawRest:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Name: raw-rest
  RawRestTokens:
    Type: AWS::ApiGateway::Authorizer
    Properties:
      RestApiId: !Ref RawRest
      Name: tokens
      Type: TOKEN
      AuthorizerUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${AuthorizerFunction.Arn}/invocations
      IdentitySource: method.request.header.X-Token
      AuthorizerResultTtlInSeconds: 0
  RawRestGuarded:
    Type: AWS::ApiGateway::Resource
    Properties:
      RestApiId: !Ref RawRest
      ParentId: !GetAtt RawRest.RootResourceId
      PathPart: guarded
  RawRestItem:
    Type: AWS::ApiGateway::Resource
    Properties:
      RestApiId: !Ref RawRest
      ParentId: !Ref RawRestGuarded
      PathPart: '{item}'
  RawRestGet:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref RawRest
      ResourceId: !Ref RawRestItem
      HttpMethod: GET
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref RawRestTokens
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${EchoFunction.Arn}/invocations
  RawRestDeployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: [RawRestGet]
    Properties:
      RestApiId: !Ref RawRest
      StageName: live
  KeyAuthorizerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: key_authorizer.handler
  AuthorizerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: authorizer.handler
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: echo.handler
      Events:
        Guarded:
          Type: Api
          Properties:
            RestApiId: !Ref RestApi
            Path: /guarded/{item}
            Method: GET
        Open:
          Type: Api
          Properties:
            RestApiId: !Ref RestApi
            Path: /open
            Method: GET
            Auth:
              Authorizer: NONE
        Signed:
          Type: Api
          Properties:
            RestApiId: !Ref RestApi
            Path: /signed
            Method: GET
            Auth:
              Authorizer: AWS_IAM
        Jwt:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /jwt
            Method: GET
        Scoped:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /scoped
            Method: GET
            Auth:
              Authorizer: Jwt
              AuthorizationScopes:
                - admin
Outputs:
  RawApiId:
    Value: !Ref RawApi
  OpenApiId:
    Value: !Ref OpenApi
  RawRestId:
    Value: !Ref RawRest
"#;

/// Allows tokens starting with `allow` (for the `/guarded/*` resources only), denies
/// `deny`, answers `malformed` with no policy, and throws `Unauthorized` otherwise; counts
/// its calls in the context it returns.
const AUTHORIZER: &str = r#"
calls = 0

def handler(event, context):
    global calls
    calls += 1
    token = event["authorizationToken"]
    if token == "malformed":
        return {"principalId": "nobody"}
    if token.startswith("allow"):
        effect = "Allow"
    elif token == "deny":
        effect = "Deny"
    else:
        raise Exception("Unauthorized")
    api = event["methodArn"].split("/")[0]
    return {
        "principalId": "user-" + token,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Action": "execute-api:Invoke",
                "Effect": effect,
                "Resource": api + "/*/GET/guarded/*",
            }],
        },
        "context": {"calls": calls, "token": token, "admin": False},
    }
"#;

/// A simple-response authorizer of the raw HTTP API: `X-Key: open-sesame` passes.
const KEY_AUTHORIZER: &str = r#"
def handler(event, context):
    key = event["identitySource"][0]
    return {"isAuthorized": key == "open-sesame", "context": {"key": key, "route": event["routeKey"]}}
"#;

const ECHO: &str = r#"
import json

def handler(event, context):
    body = {
        "authorizer": event["requestContext"].get("authorizer"),
        "identity": event["requestContext"].get("identity"),
    }
    return {"statusCode": 200, "body": json.dumps(body)}
"#;

fn write_app(dir: &Path) {
    std::fs::create_dir_all(dir.join("src")).expect("create src");
    std::fs::write(dir.join("template.yaml"), TEMPLATE).expect("write template");
    std::fs::write(dir.join("src/authorizer.py"), AUTHORIZER).expect("write authorizer");
    std::fs::write(dir.join("src/echo.py"), ECHO).expect("write echo");
    std::fs::write(dir.join("src/key_authorizer.py"), KEY_AUTHORIZER)
        .expect("write key authorizer");
}

/// An OpenID issuer on loopback: its configuration and JWKS, with a count of fetches.
struct Issuer {
    url: String,
    key: EncodingKey,
    fetches: Arc<AtomicUsize>,
}

impl Issuer {
    fn start() -> Issuer {
        let private =
            rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("generate RSA key");
        let pem = private
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .expect("PEM");
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("encoding key");
        let encode =
            |bytes: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let jwks = json!({ "keys": [{
            "kty": "RSA", "kid": "test-key", "use": "sig", "alg": "RS256",
            "n": encode(private.n().to_bytes_be()),
            "e": encode(private.e().to_bytes_be()),
        }]});
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind issuer");
        let url = format!("http://{}", listener.local_addr().expect("issuer address"));
        let configuration = json!({ "issuer": url, "jwks_uri": format!("{url}/keys.json") });
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // The rest of the head.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let body = if request_line.contains("/.well-known/openid-configuration") {
                    configuration.to_string()
                } else if request_line.contains("/keys.json") {
                    counter.fetch_add(1, Ordering::SeqCst);
                    jwks.to_string()
                } else {
                    String::new()
                };
                let status = if body.is_empty() {
                    "404 Not Found"
                } else {
                    "200 OK"
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Issuer { url, key, fetches }
    }

    fn token(&self, claims: Value) -> String {
        let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some("test-key".to_owned());
        jsonwebtoken::encode(&header, &claims, &self.key).expect("sign token")
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// GET `url` with an `Authorization` header: (status, `www-authenticate`, body as JSON).
fn get(url: &str, authorization: Option<&str>) -> (u16, Option<String>, Value) {
    let mut request = client().get(url);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().expect("GET");
    let status = response.status().as_u16();
    let www_authenticate = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().expect("ASCII header").to_owned());
    let text = response.text().expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, www_authenticate, body)
}

fn start(issuer: &Issuer) -> (tempfile::TempDir, Server) {
    let work = tempfile::tempdir().expect("temp dir");
    let app = work.path().join("authorizers");
    write_app(&app);
    let override_issuer = format!("Issuer={}", issuer.url);
    let server = Server::start(&app, &["--parameter-overrides", &override_issuer]);
    (work, server)
}

#[test]
fn jwt_authorizer_checks_signature_expiry_and_audience() {
    let issuer = Issuer::start();
    let (_work, server) = start(&issuer);
    let url = server.url("/jwt");
    let valid = issuer.token(json!({
        "iss": issuer.url, "aud": "my-app", "sub": "alice", "exp": now() + 600,
        "scope": "read admin",
    }));

    let (status, _, body) = get(&url, Some(&format!("Bearer {valid}")));
    assert_eq!(status, 200, "{body}\n{}", server.all_output());
    let jwt = &body["authorizer"]["jwt"];
    assert_eq!(jwt["claims"]["sub"], "alice");
    assert_eq!(jwt["claims"]["aud"], "my-app");
    assert_eq!(jwt["scopes"], json!(["read", "admin"]));

    // The route's scope is granted.
    let (status, _, _) = get(&server.url("/scoped"), Some(&valid));
    assert_eq!(status, 200);
    let reader = issuer.token(json!({
        "iss": issuer.url, "aud": "my-app", "sub": "bob", "exp": now() + 600, "scope": "read",
    }));
    let (status, www_authenticate, body) = get(&server.url("/scoped"), Some(&reader));
    assert_eq!((status, body), (403, json!({ "message": "Forbidden" })));
    assert!(
        www_authenticate.is_some_and(|value| value.contains("insufficient_scope")),
        "a missing scope says so"
    );

    let unauthorized = json!({ "message": "Unauthorized" });
    let (status, _, body) = get(&url, None);
    assert_eq!((status, body), (401, unauthorized.clone()), "no token");

    let expired = issuer.token(json!({
        "iss": issuer.url, "aud": "my-app", "sub": "alice", "exp": now() - 60,
    }));
    let (status, www_authenticate, body) = get(&url, Some(&format!("Bearer {expired}")));
    assert_eq!((status, body), (401, unauthorized.clone()), "expired");
    assert_eq!(
        www_authenticate.as_deref(),
        Some(
            "Bearer scope=\"\" error=\"invalid_token\" error_description=\"the token has expired\""
        )
    );

    let other_audience = issuer.token(json!({
        "iss": issuer.url, "aud": "other-app", "sub": "alice", "exp": now() + 600,
    }));
    let (status, www_authenticate, body) = get(&url, Some(&other_audience));
    assert_eq!(
        (status, body),
        (401, unauthorized.clone()),
        "wrong audience"
    );
    assert!(www_authenticate
        .is_some_and(|value| value.contains("the token does not have a valid audience")));

    // Signed by another key under the issuer's key id.
    let forger = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("key");
    let forger_key = EncodingKey::from_rsa_pem(
        forger
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .expect("PEM")
            .as_bytes(),
    )
    .expect("key");
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("test-key".to_owned());
    let forged = jsonwebtoken::encode(
        &header,
        &json!({ "iss": issuer.url, "aud": "my-app", "sub": "mallory", "exp": now() + 600 }),
        &forger_key,
    )
    .expect("sign");
    let (status, _, body) = get(&url, Some(&forged));
    assert_eq!((status, body), (401, unauthorized), "forged");

    assert_eq!(
        issuer.fetches.load(Ordering::SeqCst),
        1,
        "the issuer's keys are fetched once and cached"
    );
}

#[test]
fn lambda_authorizer_allows_denies_throws_and_caches() {
    let issuer = Issuer::start();
    let (_work, server) = start(&issuer);

    let (status, _, body) = get(&server.url("/guarded/1"), Some("allow-a"));
    assert_eq!(status, 200, "{body}\n{}", server.all_output());
    let authorizer = &body["authorizer"];
    assert_eq!(authorizer["principalId"], "user-allow-a");
    assert_eq!(authorizer["token"], "allow-a");
    // REST APIs hand the context on as strings.
    assert_eq!(authorizer["calls"], "1");
    assert_eq!(authorizer["admin"], "false");

    // The answer is cached by token: another resource the policy covers reuses it.
    let (status, _, body) = get(&server.url("/guarded/2"), Some("allow-a"));
    assert_eq!(status, 200);
    assert_eq!(body["authorizer"]["calls"], "1", "served from the cache");
    let (status, _, body) = get(&server.url("/guarded/3"), Some("allow-b"));
    assert_eq!(status, 200);
    assert_eq!(
        body["authorizer"]["calls"], "2",
        "another token calls again"
    );

    let (status, _, body) = get(&server.url("/guarded/1"), Some("deny"));
    assert_eq!(
        (status, body),
        (
            403,
            json!({ "Message": "User is not authorized to access this resource with an explicit deny" })
        )
    );
    let (status, _, body) = get(&server.url("/guarded/1"), Some("nobody"));
    assert_eq!(
        (status, body),
        (401, json!({ "message": "Unauthorized" })),
        "thrown Unauthorized"
    );
    let (status, _, body) = get(&server.url("/guarded/1"), None);
    assert_eq!(
        (status, body),
        (401, json!({ "message": "Unauthorized" })),
        "no token"
    );
    let (status, _, body) = get(&server.url("/guarded/1"), Some("NOT VALID"));
    assert_eq!(
        (status, body),
        (401, json!({ "message": "Unauthorized" })),
        "the validation expression refuses without a call"
    );
    let (status, _, body) = get(&server.url("/guarded/1"), Some("malformed"));
    assert_eq!(
        (status, body),
        (500, json!({ "message": null })),
        "no policy"
    );

    // `Authorizer: NONE` opens a route of an API with a default authorizer.
    let (status, _, body) = get(&server.url("/open"), None);
    assert_eq!(status, 200);
    assert_eq!(body["authorizer"], Value::Null);
}

#[test]
fn aws_iam_routes_need_a_signature() {
    let issuer = Issuer::start();
    let (_work, server) = start(&issuer);
    let url = server.url("/signed");

    let (status, _, body) = get(&url, None);
    assert_eq!(
        (status, body),
        (403, json!({ "message": "Missing Authentication Token" }))
    );

    let script = r#"
import json, sys, urllib.request, urllib.error
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
url, secret = sys.argv[1], sys.argv[2]
credentials = botocore.session.get_session().get_credentials()
if secret == "wrong":
    from botocore.credentials import Credentials
    credentials = Credentials(credentials.access_key, "not-the-secret")
request = AWSRequest(method="GET", url=url)
SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
try:
    response = urllib.request.urlopen(urllib.request.Request(url, headers=dict(request.headers.items())))
    print(json.dumps({"status": response.status, "body": json.loads(response.read())}))
except urllib.error.HTTPError as error:
    print(json.dumps({"status": error.code, "body": json.loads(error.read())}))
"#;
    let signed = server.python(script, &[&url, "right"]);
    assert_eq!(signed["status"], 200, "{signed}\n{}", server.all_output());
    let access_key = &server.aws_env()[1].1;
    assert_eq!(signed["body"]["identity"]["accessKey"], json!(access_key));

    let wrong = server.python(script, &[&url, "wrong"]);
    assert_eq!(wrong["status"], 403, "{wrong}");
    assert!(
        wrong["body"]["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("The request signature we calculated")),
        "{wrong}"
    );
}

#[test]
fn an_unknown_authorizer_fails_at_start_with_its_line() {
    let work = tempfile::tempdir().expect("temp dir");
    let app = work.path().join("authorizers");
    write_app(&app);
    let template = app.join("template.yaml");
    std::fs::write(
        &template,
        TEMPLATE.replace("Authorizer: NONE", "Authorizer: Missing"),
    )
    .expect("write template");
    let (code, stderr) = serverful_e2e::up_until_it_fails(&app);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("template.yaml:")
            && stderr.contains("Open.Properties.Auth.Authorizer")
            && stderr.contains("unknown authorizer 'Missing'"),
        "{stderr}"
    );
}

/// GET `path` on the raw HTTP API's own host with `headers`: (status, body as JSON).
fn get_raw(server: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    get_on(server, "RawApiId", path, headers)
}

/// GET `path` on the host of the API whose id is the output `api_output`.
fn get_on(server: &Server, api_output: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let port = server.base_url.rsplit(':').next().expect("port").to_owned();
    let host = format!("{}.execute-api.localhost:{port}", server.output(api_output));
    let mut request = client().get(server.url(path)).header("host", host);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().expect("GET");
    let status = response.status().as_u16();
    let text = response.text().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn authorizers_written_as_v2_resources_guard_their_routes() {
    let issuer = Issuer::start();
    let (_work, server) = start(&issuer);

    let (status, body) = get_raw(&server, "/open", &[]);
    assert_eq!(status, 200, "{body}\n{}", server.all_output());

    // JWT, with the route's scope.
    let admin = issuer.token(json!({
        "iss": issuer.url, "aud": "my-app", "sub": "alice", "exp": now() + 600, "scope": "admin",
    }));
    let bearer = format!("Bearer {admin}");
    let (status, body) = get_raw(&server, "/jwt", &[("authorization", &bearer)]);
    assert_eq!(status, 200, "{body}\n{}", server.all_output());
    assert_eq!(body["authorizer"]["jwt"]["claims"]["sub"], "alice");
    let reader = issuer.token(json!({
        "iss": issuer.url, "aud": "my-app", "sub": "bob", "exp": now() + 600, "scope": "read",
    }));
    let (status, body) = get_raw(&server, "/jwt", &[("authorization", &reader)]);
    assert_eq!((status, body), (403, json!({ "message": "Forbidden" })));
    let (status, body) = get_raw(&server, "/jwt", &[]);
    assert_eq!((status, body), (401, json!({ "message": "Unauthorized" })));

    // A REQUEST authorizer with simple responses.
    let (status, body) = get_raw(&server, "/key", &[("x-key", "open-sesame")]);
    assert_eq!(status, 200, "{body}\n{}", server.all_output());
    assert_eq!(body["authorizer"]["lambda"]["key"], "open-sesame");
    assert_eq!(body["authorizer"]["lambda"]["route"], "GET /key");
    let (status, body) = get_raw(&server, "/key", &[("x-key", "wrong")]);
    assert_eq!((status, body), (403, json!({ "message": "Forbidden" })));
    let (status, body) = get_raw(&server, "/key", &[]);
    assert_eq!((status, body), (401, json!({ "message": "Unauthorized" })));

    // AWS_IAM: unsigned is refused.
    let (status, body) = get_raw(&server, "/iam", &[]);
    assert_eq!((status, body), (403, json!({ "message": "Forbidden" })));
}

#[test]
fn openapi_security_schemes_guard_the_definitions_operations() {
    let issuer = Issuer::start();
    let (_work, server) = start(&issuer);

    // The definition's `security` names the token authorizer of its securityDefinitions.
    let allow = [("x-token", "allow-o")];
    let (status, body) = get_on(&server, "OpenApiId", "/v1/guarded/1", &allow);
    assert_eq!(status, 200, "{body}\n{}", server.all_output());
    assert_eq!(body["authorizer"]["principalId"], "user-allow-o");
    let (status, body) = get_on(&server, "OpenApiId", "/v1/guarded/1", &[]);
    assert_eq!((status, body), (401, json!({ "message": "Unauthorized" })));
    let deny = [("x-token", "deny")];
    let (status, body) = get_on(&server, "OpenApiId", "/v1/guarded/1", &deny);
    assert_eq!(status, 403, "{body}");

    // `security: []` opens an operation; an awsSigv4 scheme makes it AWS_IAM.
    let (status, body) = get_on(&server, "OpenApiId", "/v1/open", &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["authorizer"], Value::Null);
    let (status, body) = get_on(&server, "OpenApiId", "/v1/signed", &[]);
    assert_eq!(
        (status, body),
        (403, json!({ "message": "Missing Authentication Token" }))
    );
}

#[test]
fn rest_authorizers_written_as_resources_guard_their_methods() {
    let issuer = Issuer::start();
    let (_work, server) = start(&issuer);

    let allow = [("x-token", "allow-r")];
    let (status, body) = get_on(&server, "RawRestId", "/live/guarded/9", &allow);
    assert_eq!(status, 200, "{body}\n{}", server.all_output());
    assert_eq!(body["authorizer"]["principalId"], "user-allow-r");
    let (status, body) = get_on(&server, "RawRestId", "/live/guarded/9", &[]);
    assert_eq!((status, body), (401, json!({ "message": "Unauthorized" })));
    let deny = [("x-token", "deny")];
    let (status, body) = get_on(&server, "RawRestId", "/live/guarded/9", &deny);
    assert_eq!(
        (status, body),
        (
            403,
            json!({ "Message": "User is not authorized to access this resource with an explicit deny" })
        )
    );
}
