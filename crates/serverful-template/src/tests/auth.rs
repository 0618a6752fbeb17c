//! Snapshot tests of SAM's `Auth` (issue 17): APIs' authorizers and default authorizer,
//! events' `Auth`, and the errors of unknown names and bad settings.

use std::fmt::Write as _;
use std::path::Path;

use expect_test::{expect, Expect};

use crate::{load_str, AuthorizerKind};

/// Loads `resources` (indented under `Resources:`, after an `AuthFn` function) and renders
/// each API's authorizers and routes' protection, or the error.
fn check(resources: &str, expect: Expect) {
    let template = format!(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  AuthFn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: auth.handler\n{resources}"
    );
    let options = super::demo_options();
    let rendered = match load_str(&template, Path::new("/app/template.yaml"), &options) {
        Err(error) => format!("error: {error}\n"),
        Ok(app) => {
            let mut out = String::new();
            for api in &app.apis {
                writeln!(out, "api {}", api.logical_id).expect("writing to a String");
                for authorizer in &api.authorizers {
                    let kind = match &authorizer.kind {
                        AuthorizerKind::Jwt(jwt) => format!("{jwt:?}"),
                        AuthorizerKind::Lambda(lambda) => format!("{lambda:?}"),
                    };
                    writeln!(out, "  authorizer {}: {kind}", authorizer.name)
                        .expect("writing to a String");
                }
                for route in &api.routes {
                    writeln!(out, "  {} {}: {:?}", route.method, route.path, route.auth)
                        .expect("writing to a String");
                }
            }
            for unsupported in &app.unsupported {
                writeln!(out, "unsupported {unsupported}").expect("writing to a String");
            }
            out
        }
    };
    expect.assert_eq(&rendered);
}

#[test]
fn rest_lambda_authorizers_and_route_choices() {
    check(
        r#"
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        DefaultAuthorizer: Token
        Authorizers:
          Token:
            FunctionArn: !GetAtt AuthFn.Arn
            Identity:
              Header: X-Token
              ValidationExpression: "Bearer .*"
              ReauthorizeEvery: 60
          Request:
            FunctionArn: !GetAtt AuthFn.Arn
            FunctionPayloadType: REQUEST
            Identity:
              Headers: [Authorization]
              QueryStrings: [token]
              ReauthorizeEvery: 0
          Cognito:
            UserPoolArn: arn:aws:cognito-idp:eu-west-1:123456789012:userpool/x
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Events:
        Default:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /a, Method: get}
        Request:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /b
            Method: get
            Auth: {Authorizer: Request}
        Open:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /c
            Method: get
            Auth: {Authorizer: NONE}
        Iam:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /d
            Method: get
            Auth: {Authorizer: AWS_IAM}
"#,
        expect![[r#"
            api Api
              authorizer Token: LambdaAuthorizer { function: "AuthFn", token: true, identity_sources: ["method.request.header.X-Token"], validation_expression: Some("Bearer .*"), ttl_secs: 60, payload_format: V1, simple_responses: false }
              authorizer Request: LambdaAuthorizer { function: "AuthFn", token: false, identity_sources: ["method.request.header.Authorization", "method.request.querystring.token"], validation_expression: None, ttl_secs: 0, payload_format: V1, simple_responses: false }
              GET /a: Authorizer { name: "Token", scopes: [] }
              GET /b: Authorizer { name: "Request", scopes: [] }
              GET /c: None
              GET /d: AwsIam
            unsupported Api.Auth.Authorizers.Cognito (Cognito user pool authorizer; its routes are open)
        "#]],
    );
}

#[test]
fn http_jwt_and_lambda_authorizers() {
    check(
        r#"
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: OAuth
        Authorizers:
          OAuth:
            AuthorizationScopes: [read]
            JwtConfiguration:
              issuer: https://issuer.example.com
              audience: [app]
          Simple:
            FunctionArn: !GetAtt AuthFn.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [Authorization]
              ReauthorizeEvery: 30
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Events:
        Read:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /read, Method: get}
        Admin:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Path: /admin
            Method: get
            Auth: {AuthorizationScopes: [admin]}
        Lambda:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Path: /lambda
            Method: get
            Auth: {Authorizer: Simple}
"#,
        expect![[r#"
            api Api
              authorizer OAuth: JwtAuthorizer { issuer: "https://issuer.example.com", audience: ["app"], identity_source: "$request.header.Authorization", scopes: ["read"] }
              authorizer Simple: LambdaAuthorizer { function: "AuthFn", token: false, identity_sources: ["$request.header.Authorization"], validation_expression: None, ttl_secs: 30, payload_format: V2, simple_responses: true }
              GET /read: Authorizer { name: "OAuth", scopes: ["read"] }
              GET /admin: Authorizer { name: "OAuth", scopes: ["admin"] }
              GET /lambda: Authorizer { name: "Simple", scopes: [] }
        "#]],
    );
}

#[test]
fn unknown_names_and_bad_settings_fail_with_their_place() {
    check(
        r#"
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        DefaultAuthorizer: Missing
        Authorizers:
          Token:
            FunctionArn: !GetAtt AuthFn.Arn
"#,
        expect![[r#"
            error: /app/template.yaml:14:28: Resources.Api.Properties.Auth.DefaultAuthorizer: unknown authorizer 'Missing'; use one of Token, AWS_IAM, NONE
        "#]],
    );
    check(
        r#"
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Events:
        Get:
          Type: Api
          Properties:
            Path: /a
            Method: get
            Auth: {Authorizer: Nope}
"#,
        expect![[r#"
            error: /app/template.yaml:20:32: Resources.Fn.Properties.Events.Get.Properties.Auth.Authorizer: unknown authorizer 'Nope' of ServerlessRestApi; use one of AWS_IAM, NONE
        "#]],
    );
    check(
        r#"
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        Authorizers:
          Lambda:
            FunctionArn: arn:aws:lambda:eu-west-1:123456789012:function:elsewhere
            AuthorizerPayloadFormatVersion: "2.0"
"#,
        expect![[r#"
            error: /app/template.yaml:15:26: Resources.Api.Properties.Auth.Authorizers.Lambda.FunctionArn: arn:aws:lambda:eu-west-1:123456789012:function:elsewhere is not a function of this template; name one with !GetAtt MyAuthFunction.Arn
        "#]],
    );
    check(
        r#"
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        Authorizers:
          Lambda:
            FunctionArn: !GetAtt AuthFn.Arn
"#,
        expect![[r#"
            error: /app/template.yaml:15:24: Resources.Api.Properties.Auth.Authorizers.Lambda.AuthorizerPayloadFormatVersion: missing; a Lambda authorizer of an HTTP API needs "1.0" or "2.0"
        "#]],
    );
}
