//! Snapshot tests of APIs written without SAM's shorthand: `AWS::ApiGateway::*` REST APIs
//! (resources, methods, `MOCK` integrations, stages, validators and models) read into
//! routes, and the errors of bad ones.

use std::fmt::Write as _;
use std::path::Path;

use expect_test::{expect, Expect};

use crate::{load_str, ApiKind, PayloadFormat};

/// Loads `resources` (indented under `Resources:`, after an `Items` function named
/// `items-fn`) from `/app/template.yaml` and renders the APIs, their routes and the
/// unsupported list, or the error.
fn check(resources: &str, expect: Expect) {
    expect.assert_eq(&render(resources, Path::new("/app/template.yaml")));
}

pub(super) fn render(resources: &str, template_path: &Path) -> String {
    let template = format!(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Items:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: app.handler\n      FunctionName: items-fn\n{resources}"
    );
    let options = super::demo_options();
    let app = match load_str(&template, template_path, &options) {
        Err(error) => return format!("error: {error}\n"),
        Ok(app) => app,
    };
    let mut out = String::new();
    for api in &app.apis {
        let kind = match api.kind {
            ApiKind::Rest => "rest",
            ApiKind::Http => "http",
        };
        writeln!(
            out,
            "api {} ({kind}, id {}, stage {})",
            api.logical_id, api.api_id, api.stage_name
        )
        .expect("writing to a String");
        for (name, value) in &api.stage_variables {
            writeln!(out, "  stage variable {name}={value:?}").expect("writing to a String");
        }
        for stage in &api.other_stages {
            writeln!(out, "  other stage {} {:?}", stage.name, stage.variables)
                .expect("writing to a String");
        }
        for route in &api.routes {
            let format = match route.payload_format {
                PayloadFormat::V1 => "1.0",
                PayloadFormat::V2 => "2.0",
            };
            let target = match &route.mock {
                Some(mock) => format!(
                    "MOCK {} {} {:?} headers {:?}",
                    mock.status_code, mock.content_type, mock.body, mock.headers
                ),
                None => format!("{} ({format})", route.function),
            };
            writeln!(
                out,
                "  {} {} -> {target} [{}]",
                route.method, route.path, route.event_name
            )
            .expect("writing to a String");
            if let Some(validation) = &route.validation {
                writeln!(
                    out,
                    "    validate body {} query {:?} headers {:?}",
                    validation
                        .body_model
                        .as_ref()
                        .map_or("-".to_owned(), |(name, schema)| format!("{name} {schema}")),
                    validation.required_query,
                    validation.required_headers
                )
                .expect("writing to a String");
            }
        }
    }
    for item in &app.unsupported {
        writeln!(out, "unsupported {item}").expect("writing to a String");
    }
    out
}

const REST_API: &str = r#"
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Name: items
  ItemsResource:
    Type: AWS::ApiGateway::Resource
    Properties:
      RestApiId: !Ref Api
      ParentId: !GetAtt Api.RootResourceId
      PathPart: items
  ItemResource:
    Type: AWS::ApiGateway::Resource
    Properties:
      RestApiId: !Ref Api
      ParentId: !Ref ItemsResource
      PathPart: "{id}"
  ProxyResource:
    Type: AWS::ApiGateway::Resource
    Properties:
      RestApiId: !Ref Api
      ParentId: !GetAtt Api.RootResourceId
      PathPart: "{proxy+}"
  GetItem:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref ItemResource
      HttpMethod: get
      AuthorizationType: NONE
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Items.Arn}/invocations
  AnyProxy:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref ProxyResource
      HttpMethod: ANY
      AuthorizationType: NONE
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Join ["", ["arn:aws:apigateway:", !Ref "AWS::Region", ":lambda:path/2015-03-31/functions/", !GetAtt Items.Arn, "/invocations"]]
  Health:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !GetAtt Api.RootResourceId
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: MOCK
        RequestTemplates:
          application/json: '{"statusCode": 200}'
        IntegrationResponses:
          - StatusCode: "500"
            SelectionPattern: "5\\d{2}"
          - StatusCode: "200"
            ResponseTemplates:
              application/json: '{"status": "ok"}'
            ResponseParameters:
              method.response.header.X-Served-By: "'mock'"
      MethodResponses:
        - StatusCode: "200"
          ResponseParameters:
            method.response.header.X-Served-By: true
        - StatusCode: "500"
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: [GetItem, AnyProxy, Health]
    Properties:
      RestApiId: !Ref Api
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Api
      DeploymentId: !Ref Deployment
      StageName: prod
      Variables:
        table: items
"#;

#[test]
fn rest_api_resources_methods_and_stage() {
    check(
        REST_API,
        expect![[r#"
            api Api (rest, id he4pqhwbqw, stage prod)
              stage variable table="items"
              GET /items/{id} -> Items (1.0) [GetItem]
              ANY /{proxy+} -> Items (1.0) [AnyProxy]
              GET / -> MOCK 200 application/json "{\"status\": \"ok\"}" headers {"X-Served-By": "mock"} [Health]
        "#]],
    );
}

#[test]
fn rest_api_mock_selects_by_status_and_falls_back_to_500() {
    let mock = |template: &str, responses: &str| {
        format!(
            r#"
  Api:
    Type: AWS::ApiGateway::RestApi
  Mock:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !GetAtt Api.RootResourceId
      HttpMethod: POST
      Integration:
        Type: MOCK
        RequestTemplates:
          application/json: '{template}'
        IntegrationResponses:
{responses}
      MethodResponses:
        - StatusCode: "201"
        - StatusCode: "404"
  Deployment:
    Type: AWS::ApiGateway::Deployment
    Properties:
      RestApiId: !Ref Api
      StageName: v1
"#
        )
    };
    let responses = "          - StatusCode: \"201\"\n          - StatusCode: \"404\"\n            SelectionPattern: \"404\"\n            ResponseTemplates:\n              text/plain: nothing here";
    check(
        &mock(r#"{"statusCode": 404}"#, responses),
        expect![[r#"
            api Api (rest, id he4pqhwbqw, stage v1)
              POST / -> MOCK 404 text/plain "nothing here" headers {} [Mock]
        "#]],
    );
    check(
        &mock(r#"{"statusCode": 200}"#, responses),
        expect![[r#"
            api Api (rest, id he4pqhwbqw, stage v1)
              POST / -> MOCK 201 application/json "" headers {} [Mock]
        "#]],
    );
    check(
        &mock(
            r#"{"statusCode": 200}"#,
            "          - StatusCode: \"404\"\n            SelectionPattern: \"404\"",
        ),
        expect![[r#"
            api Api (rest, id he4pqhwbqw, stage v1)
              POST / -> MOCK 500 application/json "{\"message\": \"Internal server error\"}" headers {} [Mock]
        "#]],
    );
    check(
        &mock(r#"#if(1)"#, responses),
        expect![[r#"
            error: /app/template.yaml:21:29: Resources.Mock.Properties.Integration.RequestTemplates.application/json: '#if(1)' is not a mock request template Serverful can run; write the status the mock answers as JSON, such as '{"statusCode": 200}'
        "#]],
    );
}

#[test]
fn rest_api_errors_name_what_to_fix() {
    check(
        &REST_API.replace("ParentId: !Ref ItemsResource", "ParentId: !Ref Nowhere"),
        expect![[r#"
            error: /app/template.yaml:24:22: Resources.ItemResource.Properties.ParentId: unknown name 'Nowhere'; it is not a parameter, a resource or a pseudo parameter such as AWS::Region
        "#]],
    );
    check(
        &REST_API.replace(
            "ResourceId: !Ref ItemResource",
            "ResourceId: !Ref ItemsResourse",
        ),
        expect![[r#"
            error: /app/template.yaml:36:24: Resources.GetItem.Properties.ResourceId: unknown name 'ItemsResourse'; it is not a parameter, a resource or a pseudo parameter such as AWS::Region
        "#]],
    );
    check(
        &REST_API.replace(
            "${Items.Arn}",
            "arn:aws:lambda:eu-west-1:123456789012:function:other",
        ),
        expect![[r#"
            error: /app/template.yaml:42:19: Resources.GetItem.Properties.Integration.Uri: 'arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:other/invocations' names no function of this template; use arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations with !GetAtt MyFunction.Arn
        "#]],
    );
    check(
        &REST_API.replace("StageName: prod", ""),
        expect![[r#"
            error: /app/template.yaml:83:3: Resources.Stage.Properties.StageName: missing; name the stage, such as prod
        "#]],
    );
    check(
        &REST_API.replace(
            "method.response.header.X-Served-By: true",
            "method.response.header.X-Other: true",
        ),
        expect![[r#"
            error: /app/template.yaml:72:15: Resources.Health.Properties.Integration.IntegrationResponses[1].ResponseParameters.method.response.header.X-Served-By: the method response 200 does not declare this header; add method.response.header.X-Served-By: true to its ResponseParameters
        "#]],
    );
}

#[test]
fn rest_api_without_stage_is_an_error() {
    check(
        "  Api:\n    Type: AWS::ApiGateway::RestApi\n",
        expect![[r#"
            error: /app/template.yaml:9:3: Resources.Api: a REST API is reachable only through a stage; add an AWS::ApiGateway::Stage (StageName, RestApiId: !Ref Api, DeploymentId: !Ref MyDeployment) or give its AWS::ApiGateway::Deployment a StageName
        "#]],
    );
}

#[test]
fn rest_api_validators_and_models() {
    check(
        r#"
  Api:
    Type: AWS::ApiGateway::RestApi
  ItemModel:
    Type: AWS::ApiGateway::Model
    Properties:
      RestApiId: !Ref Api
      Name: Item
      ContentType: application/json
      Schema:
        $schema: "http://json-schema.org/draft-04/schema#"
        type: object
        required: [name]
        properties:
          name: {type: string}
  Validator:
    Type: AWS::ApiGateway::RequestValidator
    Properties:
      RestApiId: !Ref Api
      ValidateRequestBody: true
      ValidateRequestParameters: true
  Post:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !GetAtt Api.RootResourceId
      HttpMethod: POST
      RequestValidatorId: !Ref Validator
      RequestModels:
        application/json: !Ref ItemModel
      RequestParameters:
        method.request.querystring.tag: true
        method.request.querystring.page: false
        method.request.header.X-Client: true
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Items.Arn}/invocations
  Deployment:
    Type: AWS::ApiGateway::Deployment
    Properties:
      RestApiId: !Ref Api
      StageName: v1
"#,
        expect![[r#"
            api Api (rest, id he4pqhwbqw, stage v1)
              POST / -> Items (1.0) [Post]
                validate body ItemModel {"$schema":"http://json-schema.org/draft-04/schema#","properties":{"name":{"type":"string"}},"required":["name"],"type":"object"} query ["tag"] headers ["X-Client"]
        "#]],
    );
}

const HTTP_API: &str = r#"
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: items
      ProtocolType: HTTP
  ItemsIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt Items.Arn
      PayloadFormatVersion: "2.0"
  LegacyIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Items.Arn}/invocations
      PayloadFormatVersion: "1.0"
  GetItem:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: GET /items/{id}
      Target: !Join ["/", ["integrations", !Ref ItemsIntegration]]
  Default:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $default
      Target: !Sub integrations/${LegacyIntegration}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref Api
      StageName: v1
      AutoDeploy: true
      StageVariables:
        mode: test
  QuickApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: quick
      ProtocolType: HTTP
      Target: !GetAtt Items.Arn
      RouteKey: POST /quick
"#;

#[test]
fn http_api_routes_integrations_stage_and_quick_create() {
    check(
        HTTP_API,
        expect![[r#"
        api Api (http, id he4pqhwbqw, stage v1)
          stage variable mode="test"
          GET /items/{id} -> Items (2.0) [GetItem]
          ANY $default -> Items (1.0) [Default]
        api QuickApi (http, id uvibnn8ewp, stage $default)
          POST /quick -> Items (2.0) [QuickApi]
    "#]],
    );
}

#[test]
fn http_api_errors_name_what_to_fix() {
    check(
        &HTTP_API.replace(
            "IntegrationUri: !GetAtt Items.Arn",
            "IntegrationUri: arn:aws:lambda:eu-west-1:123456789012:function:gone",
        ),
        expect![[r#"
            error: /app/template.yaml:20:23: Resources.ItemsIntegration.Properties.IntegrationUri: 'arn:aws:lambda:eu-west-1:123456789012:function:gone' names no function of this template; use !GetAtt MyFunction.Arn or the invocation URI arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations
        "#]],
    );
    check(
        &HTTP_API.replace("RouteKey: GET /items/{id}", "RouteKey: FETCH items"),
        expect![[r#"
            error: /app/template.yaml:33:17: Resources.GetItem.Properties.RouteKey: 'FETCH items' is not a route key; use $default or METHOD /path, such as 'GET /items/{id}' or 'ANY /{proxy+}'
        "#]],
    );
    check(
        &HTTP_API.replace("!Ref ItemsIntegration]]", "!Ref GetItem]]"),
        expect![[r#"
            error: /app/template.yaml:34:21: Resources.GetItem.Properties.Target: 'integrations/GetItem' names no AWS::ApiGatewayV2::Integration of this template; use !Join ['/', ['integrations', !Ref MyIntegration]]
        "#]],
    );
    check(
        &HTTP_API.replace("      PayloadFormatVersion: \"2.0\"\n", ""),
        expect![[r#"
            error: /app/template.yaml:15:3: Resources.ItemsIntegration.Properties.PayloadFormatVersion: missing; an HTTP API's Lambda integration needs "2.0" (or "1.0" for the REST event)
        "#]],
    );
    check(
        "  Api:\n    Type: AWS::ApiGatewayV2::Api\n    Properties:\n      ProtocolType: HTTP\n",
        expect![[r#"
            error: /app/template.yaml:9:3: Resources.Api: an HTTP API is reachable only through a stage; add an AWS::ApiGatewayV2::Stage (ApiId: !Ref Api, StageName: $default, AutoDeploy: true)
        "#]],
    );
}

#[test]
fn openapi_definitions_inline_and_merged_with_events() {
    check(
        r#"
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      DefinitionBody:
        openapi: "3.0.1"
        paths:
          /items/{id}:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Items.Arn}/invocations
          /health:
            x-amazon-apigateway-any-method:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates:
                  application/json: '{"statusCode": 200}'
                responses:
                  default:
                    statusCode: "200"
                    responseTemplates:
                      application/json: '{"ok": true}'
                    responseParameters:
                      method.response.header.X-Mock: "'yes'"
          /events:
            post:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Items.Arn}/invocations
  Events:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Events:
        Post:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /events
            Method: post
  Http:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      ProtocolType: HTTP
      Body:
        openapi: "3.0.1"
        paths:
          /v2:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                payloadFormatVersion: "1.0"
                uri: !GetAtt Items.Arn
  HttpStage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref Http
      StageName: $default
"#
        .replace(
            "      FunctionName: items-fn\n",
            "",
        )
        .as_str(),
        expect![[r#"
            api Api (rest, id he4pqhwbqw, stage prod)
              GET /items/{id} -> Items (1.0) [paths./items/{id}.get]
              ANY /health -> MOCK 200 application/json "{\"ok\": true}" headers {"X-Mock": "yes"} [paths./health.x-amazon-apigateway-any-method]
              POST /events -> Events (1.0) [Post]
            api Http (http, id f3ie8schoi, stage $default)
              GET /v2 -> Items (1.0) [paths./v2.get]
        "#]],
    );
}

#[test]
fn openapi_bad_uri_and_missing_file_are_errors() {
    check(
        r#"
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefinitionUri: missing-openapi.yaml
"#,
        expect![[r#"
            error: /app/template.yaml:13:22: Resources.Api.Properties.DefinitionUri: cannot read /app/missing-openapi.yaml: No such file or directory (os error 2)
        "#]],
    );
    check(
        r#"
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefinitionBody:
        paths:
          /x:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                uri: arn:aws:lambda:eu-west-1:123456789012:function:nobody
"#,
        expect![[r#"
            error: /app/template.yaml:19:22: Resources.Api.Properties.DefinitionBody.paths./x.get.x-amazon-apigateway-integration.uri: 'arn:aws:lambda:eu-west-1:123456789012:function:nobody' names no function of this template; use arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations with ${MyFunction.Arn}
        "#]],
    );
}

#[test]
fn openapi_include_reads_a_local_file_and_reports_its_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("openapi.yaml"),
        "paths:\n  /included:\n    get:\n      x-amazon-apigateway-integration:\n        type: aws_proxy\n        uri: !GetAtt Items.Arn\n  /bad:\n    get:\n      x-amazon-apigateway-integration:\n        type: aws_proxy\n        uri: !GetAtt Missing.Arn\n",
    )
    .expect("write openapi.yaml");
    let resources = "  Api:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      DefinitionBody:\n        Fn::Transform:\n          Name: AWS::Include\n          Parameters:\n            Location: openapi.yaml\n";
    let rendered = render(resources, &dir.path().join("template.yaml"));
    let rendered = rendered.replace(&dir.path().display().to_string(), "DIR");
    expect![[r#"
        error: DIR/template.yaml:16:23: Resources.Api.Properties.DefinitionBody.Fn::Transform.Parameters.Location: DIR/openapi.yaml:11:22: definition.paths./bad.get.x-amazon-apigateway-integration.uri: unknown name 'Missing'; it is not a parameter, a resource or a pseudo parameter such as AWS::Region
    "#]].assert_eq(&rendered);
}

#[test]
fn apis_serve_every_stage_their_resources_declare() {
    check(
        &format!(
            "{REST_API}  DevStage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Api
      DeploymentId: !Ref Deployment
      StageName: dev
      Variables:
        table: items-dev
"
        ),
        expect![[r#"
            api Api (rest, id he4pqhwbqw, stage prod)
              stage variable table="items"
              other stage dev {"table": "items-dev"}
              GET /items/{id} -> Items (1.0) [GetItem]
              ANY /{proxy+} -> Items (1.0) [AnyProxy]
              GET / -> MOCK 200 application/json "{\"status\": \"ok\"}" headers {"X-Served-By": "mock"} [Health]
        "#]],
    );
    check(
        &format!(
            "{HTTP_API}  BetaStage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref Api
      StageName: beta
"
        ),
        expect![[r#"
            api Api (http, id he4pqhwbqw, stage v1)
              stage variable mode="test"
              other stage beta {}
              GET /items/{id} -> Items (2.0) [GetItem]
              ANY $default -> Items (1.0) [Default]
            api QuickApi (http, id uvibnn8ewp, stage $default)
              POST /quick -> Items (2.0) [QuickApi]
        "#]],
    );
    check(
        &format!(
            "{REST_API}  AgainStage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Api
      DeploymentId: !Ref Deployment
      StageName: prod
"
        ),
        expect![[r#"
            error: /app/template.yaml:91:3: Resources.AgainStage.Properties.StageName: API 'Api' already has a stage 'prod'
        "#]],
    );
}
