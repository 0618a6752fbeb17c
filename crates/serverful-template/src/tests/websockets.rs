//! Snapshot tests of WebSocket APIs: the `AWS::ApiGatewayV2::*` resources of a
//! `ProtocolType: WEBSOCKET` API read into routes, and the errors of bad ones.

use std::fmt::Write as _;
use std::path::Path;

use expect_test::{expect, Expect};

use crate::load_str;

/// Loads `resources` (indented under `Resources:`, after a `Chat` function) and renders the
/// WebSocket APIs, the Outputs and the unsupported list, or the error.
fn check(resources: &str, expect: Expect) {
    let template = format!(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Chat:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: app.handler\n      FunctionName: chat-fn\n{resources}"
    );
    let options = super::demo_options();
    let rendered = match load_str(&template, Path::new("/app/template.yaml"), &options) {
        Err(error) => format!("error: {error}\n"),
        Ok(app) => {
            let mut out = String::new();
            for api in &app.websocket_apis {
                writeln!(
                    out,
                    "api {} id={} name={:?} stage={} selection={}",
                    api.logical_id,
                    api.api_id,
                    api.name,
                    api.stage_name,
                    api.route_selection_expression
                )
                .expect("writing to a String");
                for route in &api.routes {
                    writeln!(
                        out,
                        "  route {} -> {}{}",
                        route.route_key,
                        route.function,
                        if route.two_way { " (two-way)" } else { "" }
                    )
                    .expect("writing to a String");
                }
                if api.connect_auth != crate::WebSocketAuth::None {
                    writeln!(out, "  $connect auth {:?}", api.connect_auth)
                        .expect("writing to a String");
                }
            }
            for output in &app.outputs {
                writeln!(out, "output {} = {}", output.name, output.value)
                    .expect("writing to a String");
            }
            for item in &app.unsupported {
                writeln!(out, "unsupported {item}").expect("writing to a String");
            }
            out
        }
    };
    expect.assert_eq(&rendered);
}

const API: &str = "  ChatApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: chat
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: $request.body.action
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      StageName: production
      ApiId: !Ref ChatApi
      AutoDeploy: true
";

#[test]
fn routes_resolve_through_integrations_to_functions() {
    let resources = format!(
        "{API}  ConnectInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref ChatApi
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{Chat.Arn}}/invocations
  JoinInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref ChatApi
      IntegrationType: AWS_PROXY
      IntegrationUri: !Join
        - ''
        - - 'arn:'
          - !Ref AWS::Partition
          - ':apigateway:'
          - !Ref AWS::Region
          - ':lambda:path/2015-03-31/functions/'
          - !GetAtt Chat.Arn
          - /invocations
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref ChatApi
      RouteKey: $connect
      AuthorizationType: NONE
      Target: !Join ['/', ['integrations', !Ref ConnectInteg]]
  DefaultRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref ChatApi
      RouteKey: $default
      RouteResponseSelectionExpression: $default
      Target: !Join ['/', ['integrations', !Ref JoinInteg]]
  DefaultResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties:
      ApiId: !Ref ChatApi
      RouteId: !Ref DefaultRoute
      RouteResponseKey: $default
  Deployment:
    Type: AWS::ApiGatewayV2::Deployment
    DependsOn: [ConnectRoute]
    Properties:
      ApiId: !Ref ChatApi
  Permission:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref Chat
      Principal: apigateway.amazonaws.com
Outputs:
  Url:
    Value: !GetAtt ChatApi.ApiEndpoint
  Id:
    Value: !Ref ChatApi
"
    );
    check(
        &resources,
        expect![[r#"
            api ChatApi id=3t1jvoptj4 name=Some("chat") stage=production selection=$request.body.action
              route $connect -> Chat
              route $default -> Chat (two-way)
            output Url = wss://3t1jvoptj4.execute-api.eu-west-1.amazonaws.com
            output Id = 3t1jvoptj4
        "#]],
    );
}

#[test]
fn a_route_naming_an_unknown_integration_is_an_error() {
    let resources = format!(
        "{API}  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref ChatApi
      RouteKey: $connect
      Target: integrations/Missing
"
    );
    check(
        &resources,
        expect![[r#"
            error: /app/template.yaml:26:15: Resources.ConnectRoute.Properties.Target: 'integrations/Missing' names no AWS::ApiGatewayV2::Integration of this template; use !Join ['/', ['integrations', !Ref MyIntegration]]
        "#]],
    );
}

#[test]
fn an_integration_naming_no_function_of_the_template_is_an_error() {
    let resources = format!(
        "{API}  Integ:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref ChatApi
      IntegrationType: AWS_PROXY
      IntegrationUri: arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:elsewhere/invocations
"
    );
    check(
        &resources,
        expect![[r#"
            error: /app/template.yaml:26:23: Resources.Integ.Properties.IntegrationUri: 'arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:elsewhere/invocations' names no function of this template; use arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations with !GetAtt MyFunction.Arn
        "#]],
    );
}

#[test]
fn a_websocket_api_needs_a_route_selection_expression() {
    check(
        "  ChatApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      ProtocolType: WEBSOCKET
",
        expect![[r#"
            error: /app/template.yaml:9:3: Resources.ChatApi.Properties.RouteSelectionExpression: missing; a WEBSOCKET API needs one, such as '$request.body.action'
        "#]],
    );
}

#[test]
fn a_websocket_api_needs_a_stage() {
    check(
        "  ChatApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: $request.body.action
",
        expect![[r#"
            error: /app/template.yaml:9:3: Resources.ChatApi: a WebSocket API needs an AWS::ApiGatewayV2::Stage (StageName, ApiId: !Ref ChatApi) to be reachable
        "#]],
    );
}

#[test]
fn http_protocol_v2_apis_are_http_apis_not_websocket_ones() {
    check(
        "  HttpOne:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      ProtocolType: HTTP
",
        expect![[r#"
            error: /app/template.yaml:9:3: Resources.HttpOne: an HTTP API is reachable only through a stage; add an AWS::ApiGatewayV2::Stage (ApiId: !Ref HttpOne, StageName: $default, AutoDeploy: true)
        "#]],
    );
}

const AUTHORIZED: &str = "  Integ:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref ChatApi
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Chat.Arn}/invocations
  Auth:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      Name: TokenCheck
      ApiId: !Ref ChatApi
      AuthorizerType: REQUEST
      AuthorizerUri: !Join ['', ['arn:aws:apigateway:', !Ref 'AWS::Region', ':lambda:path/2015-03-31/functions/', !GetAtt Chat.Arn, '/invocations']]
      IdentitySource: [route.request.header.Auth, route.request.querystring.token]
";

fn route(key: &str, authorization: &str) -> String {
    format!(
        "  Route{n}:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref ChatApi
      RouteKey: {key}
{authorization}      Target: !Join ['/', ['integrations', !Ref Integ]]
",
        n = key.trim_start_matches('$')
    )
}

#[test]
fn connect_takes_a_lambda_authorizer_or_aws_iam() {
    let custom = route(
        "$connect",
        "      AuthorizationType: CUSTOM\n      AuthorizerId: !Ref Auth\n",
    );
    check(
        &format!("{API}{AUTHORIZED}{custom}"),
        expect![[r#"
            api ChatApi id=3t1jvoptj4 name=Some("chat") stage=production selection=$request.body.action
              route $connect -> Chat
              $connect auth Lambda(WebSocketAuthorizer { logical_id: "Auth", name: "TokenCheck", function: "Chat", identity_sources: ["route.request.header.Auth", "route.request.querystring.token"] })
        "#]],
    );
    let iam = route("$connect", "      AuthorizationType: AWS_IAM\n");
    check(
        &format!("{API}{AUTHORIZED}{iam}"),
        expect![[r#"
        api ChatApi id=3t1jvoptj4 name=Some("chat") stage=production selection=$request.body.action
          route $connect -> Chat
          $connect auth AwsIam
    "#]],
    );
}

#[test]
fn bad_authorization_is_an_error_naming_the_resource() {
    let on_message = route(
        "sendmessage",
        "      AuthorizationType: CUSTOM\n      AuthorizerId: !Ref Auth\n",
    );
    check(
        &format!("{API}{AUTHORIZED}{on_message}"),
        expect![[r#"
        error: /app/template.yaml:40:26: Resources.Routesendmessage.Properties.AuthorizationType: 'CUSTOM' on route 'sendmessage': API Gateway authorizes only the $connect route; use NONE
    "#]],
    );
    let unknown = route(
        "$connect",
        "      AuthorizationType: CUSTOM\n      AuthorizerId: Missing\n",
    );
    check(
        &format!("{API}{AUTHORIZED}{unknown}"),
        expect![[r#"
        error: /app/template.yaml:41:21: Resources.Routeconnect.Properties.AuthorizerId: 'Missing' names no AWS::ApiGatewayV2::Authorizer of this template
    "#]],
    );
    let jwt = format!(
        "{API}{}",
        AUTHORIZED.replace("AuthorizerType: REQUEST", "AuthorizerType: JWT")
    );
    check(
        &jwt,
        expect![[r#"
        error: /app/template.yaml:32:23: Resources.Auth.Properties.AuthorizerType: 'JWT' is not available for WebSocket APIs; use REQUEST with a Lambda function
    "#]],
    );
    let source = format!(
        "{API}{}",
        AUTHORIZED.replace("route.request.querystring.token", "stageVariables.token")
    );
    check(
        &source,
        expect![[r#"
        error: /app/template.yaml:34:51: Resources.Auth.Properties.IdentitySource: 'stageVariables.token' is not supported; use route.request.header.NAME or route.request.querystring.NAME
    "#]],
    );
    let cognito = route("$connect", "      AuthorizationType: JWT\n");
    check(
        &format!("{API}{AUTHORIZED}{cognito}"),
        expect![[r#"
        error: /app/template.yaml:40:26: Resources.Routeconnect.Properties.AuthorizationType: 'JWT' is not a WebSocket authorization type; use NONE, AWS_IAM or CUSTOM
    "#]],
    );
}
