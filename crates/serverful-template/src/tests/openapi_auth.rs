//! Snapshot tests of authorizers declared in OpenAPI definitions (`securityDefinitions`,
//! `components.securitySchemes` with `x-amazon-apigateway-authorizer`) and the `security`
//! that applies them, beside SAM's `DefaultAuthorizer`.

use std::fmt::Write as _;
use std::path::Path;

use expect_test::{expect, Expect};

use crate::load_str;

/// Loads `resources` after an `Items` function and renders each API's authorizers and its
/// routes' auth, or the error.
fn check(resources: &str, expect: Expect) {
    let template = format!(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Items:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: app.handler\n{resources}"
    );
    let options = super::demo_options();
    let rendered = match load_str(&template, Path::new("/app/template.yaml"), &options) {
        Err(error) => format!("error: {error}\n"),
        Ok(app) => {
            let mut out = String::new();
            for api in &app.apis {
                writeln!(out, "api {}", api.logical_id).expect("writing to a String");
                for authorizer in &api.authorizers {
                    writeln!(out, "  authorizer {authorizer:?}").expect("writing to a String");
                }
                for route in &api.routes {
                    writeln!(out, "  {} {} {:?}", route.method, route.path, route.auth)
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

const INTEGRATION: &str = "x-amazon-apigateway-integration: {type: aws_proxy, httpMethod: POST, uri: !Sub 'arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Items.Arn}/invocations'}";

#[test]
fn http_api_schemes_and_operation_security() {
    check(
        &format!(
            "  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefinitionBody:
        openapi: '3.0.1'
        info: {{title: t, version: '1'}}
        components:
          securitySchemes:
            jwt:
              type: oauth2
              x-amazon-apigateway-authorizer:
                type: jwt
                jwtConfiguration: {{issuer: 'https://issuer.example', audience: [app]}}
                identitySource: $request.header.Authorization
            lambda:
              type: apiKey
              name: X-Key
              in: header
              x-amazon-apigateway-authorizer:
                type: request
                authorizerUri: !Sub 'arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{Items.Arn}}/invocations'
                authorizerPayloadFormatVersion: '2.0'
                enableSimpleResponses: true
                identitySource: $request.header.X-Key
        paths:
          /admin:
            get:
              security: [{{jwt: [admin]}}]
              {INTEGRATION}
          /key:
            get:
              security: [{{lambda: []}}]
              {INTEGRATION}
          /open:
            get:
              {INTEGRATION}
"
        ),
        expect![[r#"
            api Api
              authorizer Authorizer { name: "jwt", kind: Jwt(JwtAuthorizer { issuer: "https://issuer.example", audience: ["app"], identity_source: "$request.header.Authorization", scopes: [] }) }
              authorizer Authorizer { name: "lambda", kind: Lambda(LambdaAuthorizer { function: "Items", token: false, identity_sources: ["$request.header.X-Key"], validation_expression: None, ttl_secs: 0, payload_format: V2, simple_responses: true }) }
              GET /admin Authorizer { name: "jwt", scopes: ["admin"] }
              GET /key Authorizer { name: "lambda", scopes: [] }
              GET /open None
        "#]],
    );
}

#[test]
fn rest_default_authorizer_reaches_definition_operations_unless_they_opt_out() {
    check(
        &format!(
            "  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Auth:
        DefaultAuthorizer: Token
        Authorizers:
          Token:
            FunctionArn: !GetAtt Items.Arn
      DefinitionBody:
        swagger: '2.0'
        info: {{title: t, version: '1'}}
        securityDefinitions:
          pool:
            type: apiKey
            name: Authorization
            in: header
            x-amazon-apigateway-authorizer: {{type: cognito_user_pools, providerARNs: [arn]}}
        paths:
          /guarded:
            get:
              {INTEGRATION}
          /open:
            get:
              security: []
              {INTEGRATION}
          /pool:
            get:
              security: [{{pool: []}}]
              {INTEGRATION}
"
        ),
        expect![[r#"
            api Api
              authorizer Authorizer { name: "Token", kind: Lambda(LambdaAuthorizer { function: "Items", token: true, identity_sources: ["method.request.header.Authorization"], validation_expression: None, ttl_secs: 300, payload_format: V1, simple_responses: false }) }
              GET /guarded Authorizer { name: "Token", scopes: [] }
              GET /open None
              GET /pool None
            unsupported Resources.Api.Properties.DefinitionBody.securityDefinitions.pool (Cognito user pool authorizers are not run: its routes stay open)
        "#]],
    );
}

#[test]
fn bad_schemes_are_errors_naming_what_to_fix() {
    let scheme = |authorizer: &str| {
        format!(
            "  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      DefinitionBody:
        swagger: '2.0'
        info: {{title: t, version: '1'}}
        securityDefinitions:
          custom:
            type: apiKey
            name: Authorization
            in: header
            x-amazon-apigateway-authorizer: {authorizer}
        paths:
          /x:
            get:
              {INTEGRATION}
"
        )
    };
    check(
        &scheme("{type: jwt}"),
        expect![[r#"
        error: /app/template.yaml:20:45: Resources.Api.Properties.DefinitionBody.securityDefinitions.custom.x-amazon-apigateway-authorizer.type: 'jwt' is not an authorizer type of this API; use token, request or cognito_user_pools
    "#]],
    );
    check(
        &scheme("{type: token, authorizerUri: 'arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:1:function:gone/invocations'}"),
        expect![[r#"
            error: /app/template.yaml:20:74: Resources.Api.Properties.DefinitionBody.securityDefinitions.custom.x-amazon-apigateway-authorizer.authorizerUri: 'arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:1:function:gone/invocations' names no function of this template; use arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations with ${MyAuthorizer.Arn}
        "#]],
    );
    check(
        &scheme("{type: token}"),
        expect![[r#"
        error: /app/template.yaml:20:45: Resources.Api.Properties.DefinitionBody.securityDefinitions.custom.x-amazon-apigateway-authorizer.authorizerUri: missing; use Fn::Sub: arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${MyAuthorizer.Arn}/invocations
    "#]],
    );
    check(
        &scheme("{type: token, authorizerUri: !Sub 'arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Items.Arn}/invocations', identityValidationExpression: '(unclosed'}"),
        expect![[r#"
            error: /app/template.yaml:20:204: Resources.Api.Properties.DefinitionBody.securityDefinitions.custom.x-amazon-apigateway-authorizer.identityValidationExpression: not a regular expression (regex parse error:
                ^(?:(unclosed)$
                 ^
            error: unclosed group)
        "#]],
    );
}
