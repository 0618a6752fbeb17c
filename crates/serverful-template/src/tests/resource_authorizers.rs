//! Snapshot tests of authorizers written as resources (`AWS::ApiGatewayV2::Authorizer`,
//! `AWS::ApiGateway::Authorizer`), the routes and methods that name them, and the errors
//! of bad ones.

use std::fmt::Write as _;
use std::path::Path;

use expect_test::{expect, Expect};

use crate::load_str;

/// Loads an HTTP API with `authorizers` and a route with `route_auth`, and renders the
/// API's authorizers and the route's auth, or the error.
fn check(authorizers: &str, route_auth: &str, expect: Expect) {
    let template = format!(
        r#"Transform: AWS::Serverless-2016-10-31
Resources:
  Items:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      ProtocolType: HTTP
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt Items.Arn
      PayloadFormatVersion: "2.0"
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref Api
      StageName: $default
{authorizers}  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: GET /items
      Target: !Join ['/', ['integrations', !Ref Integration]]
{route_auth}"#
    );
    let options = super::demo_options();
    let rendered = match load_str(&template, Path::new("/app/template.yaml"), &options) {
        Err(error) => format!("error: {error}\n"),
        Ok(app) => {
            let mut out = String::new();
            for api in &app.apis {
                for authorizer in &api.authorizers {
                    writeln!(out, "authorizer {authorizer:?}").expect("writing to a String");
                }
                for route in &api.routes {
                    writeln!(
                        out,
                        "route {} {} {:?}",
                        route.method, route.path, route.auth
                    )
                    .expect("writing to a String");
                }
            }
            out
        }
    };
    expect.assert_eq(&rendered);
}

const JWT: &str = "  Jwt:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Api
      Name: jwt
      AuthorizerType: JWT
      IdentitySource: [$request.header.Authorization]
      JwtConfiguration:
        Issuer: https://issuer.example
        Audience: [app]
";

const REQUEST: &str = "  Custom:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Api
      AuthorizerType: REQUEST
      AuthorizerUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Items.Arn}/invocations
      AuthorizerPayloadFormatVersion: '2.0'
      EnableSimpleResponses: true
      AuthorizerResultTtlInSeconds: 60
      IdentitySource: [$request.header.X-Key, $request.querystring.k]
";

#[test]
fn routes_name_jwt_and_request_authorizers_or_aws_iam() {
    check(
        &format!("{JWT}{REQUEST}"),
        "      AuthorizationType: JWT\n      AuthorizerId: !Ref Jwt\n      AuthorizationScopes: [admin]\n",
        expect![[r#"
            authorizer Authorizer { name: "Jwt", kind: Jwt(JwtAuthorizer { issuer: "https://issuer.example", audience: ["app"], identity_source: "$request.header.Authorization", scopes: [] }) }
            authorizer Authorizer { name: "Custom", kind: Lambda(LambdaAuthorizer { function: "Items", token: false, identity_sources: ["$request.header.X-Key", "$request.querystring.k"], validation_expression: None, ttl_secs: 60, payload_format: V2, simple_responses: true }) }
            route GET /items Authorizer { name: "Jwt", scopes: ["admin"] }
        "#]],
    );
    check(
        &format!("{JWT}{REQUEST}"),
        "      AuthorizationType: CUSTOM\n      AuthorizerId: !Ref Custom\n",
        expect![[r#"
            authorizer Authorizer { name: "Jwt", kind: Jwt(JwtAuthorizer { issuer: "https://issuer.example", audience: ["app"], identity_source: "$request.header.Authorization", scopes: [] }) }
            authorizer Authorizer { name: "Custom", kind: Lambda(LambdaAuthorizer { function: "Items", token: false, identity_sources: ["$request.header.X-Key", "$request.querystring.k"], validation_expression: None, ttl_secs: 60, payload_format: V2, simple_responses: true }) }
            route GET /items Authorizer { name: "Custom", scopes: [] }
        "#]],
    );
    check(
        "",
        "      AuthorizationType: AWS_IAM\n",
        expect![[r#"
        route GET /items AwsIam
    "#]],
    );
}

#[test]
fn bad_authorizers_and_routes_are_errors_naming_what_to_fix() {
    check(
        JWT,
        "      AuthorizationType: CUSTOM\n      AuthorizerId: !Ref Jwt\n",
        expect![[r#"
            error: /app/template.yaml:40:26: Resources.Route.Properties.AuthorizationType: 'CUSTOM' does not match authorizer 'Jwt'; use JWT for a JWT authorizer and CUSTOM for a REQUEST one
        "#]],
    );
    check(
        JWT,
        "      AuthorizationType: JWT\n      AuthorizerId: Missing\n",
        expect![[r#"
            error: /app/template.yaml:41:21: Resources.Route.Properties.AuthorizerId: 'Missing' names no AWS::ApiGatewayV2::Authorizer of API 'Api'
        "#]],
    );
    check(
        JWT,
        "      AuthorizationType: JWT\n",
        expect![[r#"
        error: /app/template.yaml:40:26: Resources.Route.Properties.AuthorizerId: missing; JWT authorization names its AWS::ApiGatewayV2::Authorizer with !Ref
    "#]],
    );
    check(
        JWT,
        "      AuthorizationType: COGNITO\n",
        expect![[r#"
        error: /app/template.yaml:40:26: Resources.Route.Properties.AuthorizationType: 'COGNITO' is not an HTTP API authorization type; use NONE, AWS_IAM, JWT or CUSTOM
    "#]],
    );
    check(
        REQUEST,
        "      AuthorizationType: CUSTOM\n      AuthorizerId: !Ref Custom\n      AuthorizationScopes: [a]\n",
        expect![[r#"
            error: /app/template.yaml:40:26: Resources.Route.Properties.AuthorizationScopes: only JWT authorization takes scopes
        "#]],
    );
    check(
        &REQUEST.replace("      AuthorizerPayloadFormatVersion: '2.0'\n", ""),
        "",
        expect![[r#"
            error: /app/template.yaml:24:3: Resources.Custom.Properties.AuthorizerPayloadFormatVersion: missing; a Lambda authorizer of an HTTP API needs "1.0" or "2.0"
        "#]],
    );
    check(
        &REQUEST.replace("'2.0'", "'1.0'"),
        "",
        expect![[r#"
            error: /app/template.yaml:24:3: Resources.Custom.Properties.EnableSimpleResponses: needs AuthorizerPayloadFormatVersion "2.0"
        "#]],
    );
    check(
        &REQUEST.replace("$request.querystring.k", "query.k"),
        "",
        expect![[r#"
            error: /app/template.yaml:24:3: Resources.Custom.Properties.IdentitySource: 'query.k' is not an identity source; use $request.header.NAME, $request.querystring.NAME, $context.NAME or $stageVariables.NAME
        "#]],
    );
    check(
        &REQUEST.replace("${Items.Arn}", "arn:aws:lambda:eu-west-1:1:function:gone"),
        "",
        expect![[r#"
            error: /app/template.yaml:29:27: Resources.Custom.Properties.AuthorizerUri: 'arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:1:function:gone/invocations' names no function of this template; use arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations with !GetAtt MyAuthorizer.Arn
        "#]],
    );
    check(
        &JWT.replace("        Issuer: https://issuer.example\n", ""),
        "",
        expect![[r#"
            error: /app/template.yaml:32:17: Resources.Jwt.Properties.JwtConfiguration.Issuer: missing; name the token issuer, such as https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc
        "#]],
    );
}

/// Loads a REST API with `authorizer` and a GET method on its root with `method_auth`.
fn check_rest(authorizer: &str, method_auth: &str, expect: Expect) {
    let template = format!(
        r#"Transform: AWS::Serverless-2016-10-31
Resources:
  Items:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Name: api
{authorizer}  Get:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !GetAtt Api.RootResourceId
      HttpMethod: GET
{method_auth}      Integration:
        Type: AWS_PROXY
        Uri: !Sub arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{Items.Arn}}/invocations
  Deployment:
    Type: AWS::ApiGateway::Deployment
    Properties:
      RestApiId: !Ref Api
      StageName: prod
"#
    );
    let options = super::demo_options();
    let rendered = match load_str(&template, Path::new("/app/template.yaml"), &options) {
        Err(error) => format!("error: {error}\n"),
        Ok(app) => {
            let mut out = String::new();
            for api in &app.apis {
                for authorizer in &api.authorizers {
                    writeln!(out, "authorizer {authorizer:?}").expect("writing to a String");
                }
                for route in &api.routes {
                    writeln!(
                        out,
                        "route {} {} {:?}",
                        route.method, route.path, route.auth
                    )
                    .expect("writing to a String");
                }
            }
            for item in &app.unsupported {
                writeln!(out, "unsupported {item}").expect("writing to a String");
            }
            out
        }
    };
    expect.assert_eq(&rendered);
}

const REST_TOKEN: &str = "  Tokens:
    Type: AWS::ApiGateway::Authorizer
    Properties:
      RestApiId: !Ref Api
      Type: TOKEN
      AuthorizerUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Items.Arn}/invocations
      IdentitySource: method.request.header.Authorization
      IdentityValidationExpression: '[a-z]+'
";

#[test]
fn rest_methods_name_token_and_request_authorizers() {
    check_rest(
        REST_TOKEN,
        "      AuthorizationType: CUSTOM\n      AuthorizerId: !Ref Tokens\n",
        expect![[r#"
            authorizer Authorizer { name: "Tokens", kind: Lambda(LambdaAuthorizer { function: "Items", token: true, identity_sources: ["method.request.header.Authorization"], validation_expression: Some("[a-z]+"), ttl_secs: 300, payload_format: V1, simple_responses: false }) }
            route GET / Authorizer { name: "Tokens", scopes: [] }
        "#]],
    );
    check_rest(
        &REST_TOKEN
            .replace("Type: TOKEN", "Type: REQUEST")
            .replace(
                "method.request.header.Authorization",
                "method.request.header.A, method.request.querystring.b",
            )
            .replace("      IdentityValidationExpression: '[a-z]+'\n", ""),
        "      AuthorizationType: CUSTOM\n      AuthorizerId: !Ref Tokens\n",
        expect![[r#"
            authorizer Authorizer { name: "Tokens", kind: Lambda(LambdaAuthorizer { function: "Items", token: false, identity_sources: ["method.request.header.A", "method.request.querystring.b"], validation_expression: None, ttl_secs: 300, payload_format: V1, simple_responses: false }) }
            route GET / Authorizer { name: "Tokens", scopes: [] }
        "#]],
    );
    check_rest(
        "  Pool:\n    Type: AWS::ApiGateway::Authorizer\n    Properties:\n      RestApiId: !Ref Api\n      Type: COGNITO_USER_POOLS\n      ProviderARNs: [arn]\n",
        "      AuthorizationType: COGNITO_USER_POOLS\n      AuthorizerId: !Ref Pool\n",
        expect![[r#"
            route GET / None
            unsupported Pool (Cognito user pool authorizers are not run: the methods naming it stay open)
            unsupported Get.AuthorizationType (COGNITO_USER_POOLS: not run, the method stays open)
        "#]],
    );
}

#[test]
fn bad_rest_authorizers_are_errors() {
    check_rest(
        REST_TOKEN,
        "      AuthorizationType: CUSTOM\n      AuthorizerId: Missing\n",
        expect![[r#"
            error: /app/template.yaml:27:21: Resources.Get.Properties.AuthorizerId: 'Missing' names no TOKEN or REQUEST AWS::ApiGateway::Authorizer of API 'Api'
        "#]],
    );
    check_rest(
        &REST_TOKEN.replace(
            "method.request.header.Authorization",
            "method.request.querystring.t",
        ),
        "",
        expect![[r#"
            error: /app/template.yaml:12:3: Resources.Tokens.Properties.IdentitySource: 'method.request.querystring.t' is not supported; a TOKEN authorizer reads one header: method.request.header.NAME
        "#]],
    );
    check_rest(
        &REST_TOKEN.replace("'[a-z]+'", "'(open'"),
        "",
        expect![[r#"
        error: /app/template.yaml:19:37: Resources.Tokens.Properties.IdentityValidationExpression: not a regular expression (regex parse error:
            ^(?:(open)$
             ^
        error: unclosed group)
    "#]],
    );
    check_rest(
        &REST_TOKEN.replace("Type: TOKEN", "Type: JWT"),
        "",
        expect![[r#"
        error: /app/template.yaml:16:13: Resources.Tokens.Properties.Type: 'JWT' is not a REST API authorizer type; use TOKEN, REQUEST or COGNITO_USER_POOLS
    "#]],
    );
}
