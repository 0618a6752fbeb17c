//! API keys, usage plans and the routes that require a key.

use std::fmt::Write as _;
use std::path::Path;

use expect_test::{expect, Expect};

use crate::{load_str, App};

fn check(template: &str, expect: Expect) {
    let options = super::demo_options();
    let rendered = match load_str(template, Path::new("/app/template.yaml"), &options) {
        Ok(app) => render(&app),
        Err(error) => format!("error: {error}\n"),
    };
    expect.assert_eq(&rendered);
}

fn render(app: &App) -> String {
    let mut out = String::new();
    for api in &app.apis {
        writeln!(
            out,
            "api {} ({:?}, keys from {:?})",
            api.logical_id, api.kind, api.api_key_source
        )
        .expect("writing to a String");
        for route in &api.routes {
            writeln!(
                out,
                "  {} {} -> {}{}",
                route.method,
                route.path,
                route.function,
                if route.api_key_required {
                    " (key required)"
                } else {
                    ""
                }
            )
            .expect("writing to a String");
        }
    }
    for key in &app.api_keys {
        writeln!(
            out,
            "key {} id={} name={} value={:?} enabled={} stages={:?}",
            key.logical_id, key.id, key.name, key.value, key.enabled, key.stage_keys
        )
        .expect("writing to a String");
    }
    for plan in &app.usage_plans {
        writeln!(
            out,
            "plan {} id={} name={:?} keys={:?}\n  throttle={:?}\n  quota={:?}",
            plan.logical_id, plan.id, plan.name, plan.keys, plan.throttle, plan.quota
        )
        .expect("writing to a String");
        for stage in &plan.stages {
            writeln!(
                out,
                "  stage {}/{} {:?}",
                stage.api, stage.stage, stage.method_throttles
            )
            .expect("writing to a String");
        }
    }
    for output in &app.outputs {
        writeln!(out, "output {} = {}", output.name, output.value).expect("writing to a String");
    }
    if !app.unsupported.is_empty() {
        writeln!(out, "unsupported: {}", app.unsupported.join(", ")).expect("writing to a String");
    }
    out
}

const FUNCTION: &str = "
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      InlineCode: x
";

#[test]
fn sam_per_api_usage_plan_and_api_key_required() {
    check(
        &format!(
            "
Transform: AWS::Serverless-2016-10-31
Resources:
  MyApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Auth:
        ApiKeyRequired: true
        UsagePlan:
          CreateUsagePlan: PER_API
          UsagePlanName: gold
          Throttle: {{RateLimit: 2.5, BurstLimit: 5}}
          Quota: {{Limit: 100, Period: DAY}}
{FUNCTION}      Events:
        Locked:
          Type: Api
          Properties: {{RestApiId: !Ref MyApi, Path: /locked, Method: get}}
        Open:
          Type: Api
          Properties:
            RestApiId: !Ref MyApi
            Path: /open
            Method: get
            Auth: {{ApiKeyRequired: false}}
Outputs:
  KeyId:
    Value: !Ref MyApiApiKey
  PlanId:
    Value: !Ref MyApiUsagePlan
"
        ),
        expect![[r#"
            api MyApi (Rest, keys from Header)
              GET /locked -> Fn (key required)
              GET /open -> Fn
            key MyApiApiKey id=w49olo4lam name=demo-MyApiApiKey-XDXH0Y7NRKHG value=None enabled=true stages=[("MyApi", "prod")]
            plan MyApiUsagePlan id=td299ot3yi name=Some("gold") keys=["MyApiApiKey"]
              throttle=Some(Throttle { rate_limit: 2.5, burst_limit: 5 })
              quota=Some(Quota { limit: 100, offset: 0, period: Day })
              stage MyApi/prod []
            output KeyId = w49olo4lam
            output PlanId = td299ot3yi
        "#]],
    );
}

#[test]
fn sam_shared_usage_plan_covers_every_shared_api() {
    check(
        &format!(
            "
Transform: AWS::Serverless-2016-10-31
Globals:
  Api:
    Auth:
      ApiKeyRequired: true
      UsagePlan:
        CreateUsagePlan: SHARED
Resources:
  First:
    Type: AWS::Serverless::Api
    Properties:
      StageName: one
      Auth:
        UsagePlan:
          CreateUsagePlan: SHARED
          Quota: {{Limit: 10, Offset: 2, Period: WEEK}}
  Second:
    Type: AWS::Serverless::Api
    Properties:
      StageName: two
{FUNCTION}      Events:
        A:
          Type: Api
          Properties: {{RestApiId: !Ref First, Path: /a, Method: get}}
        B:
          Type: Api
          Properties: {{RestApiId: !Ref Second, Path: /b, Method: get}}
"
        ),
        expect![[r#"
            api First (Rest, keys from Header)
              GET /a -> Fn (key required)
            api Second (Rest, keys from Header)
              GET /b -> Fn (key required)
            key ServerlessApiKey id=qq5js3s6ts name=demo-ServerlessApiKey-9HM7QAYRBXK1 value=None enabled=true stages=[("First", "one"), ("Second", "two")]
            plan ServerlessUsagePlan id=jdoecwlviq name=None keys=["ServerlessApiKey"]
              throttle=None
              quota=Some(Quota { limit: 10, offset: 2, period: Week })
              stage First/one []
              stage Second/two []
        "#]],
    );
}

const RAW_API: &str = "
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Name: raw
      ApiKeySourceType: HEADER
  Items:
    Type: AWS::ApiGateway::Resource
    Properties:
      RestApiId: !Ref Api
      ParentId: !GetAtt Api.RootResourceId
      PathPart: items
  GetItems:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Items
      HttpMethod: GET
      AuthorizationType: NONE
      ApiKeyRequired: true
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: GetItems
    Properties:
      RestApiId: !Ref Api
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Api
      DeploymentId: !Ref Deployment
      StageName: v1
";

#[test]
fn raw_keys_plans_and_plan_keys() {
    check(
        &format!(
            "
Resources:{FUNCTION}{RAW_API}
  Key:
    Type: AWS::ApiGateway::ApiKey
    Properties:
      Name: partner
      Enabled: true
      Value: abcdefghijklmnopqrstuvwxyz
  DisabledKey:
    Type: AWS::ApiGateway::ApiKey
    Properties:
      Enabled: false
  Plan:
    Type: AWS::ApiGateway::UsagePlan
    DependsOn: Stage
    Properties:
      ApiStages:
        - ApiId: !Ref Api
          Stage: !Ref Stage
          Throttle:
            /items/GET: {{RateLimit: 1, BurstLimit: 1}}
      Throttle: {{RateLimit: 100, BurstLimit: 200}}
      Quota: {{Limit: 5000, Period: MONTH}}
  PlanKey:
    Type: AWS::ApiGateway::UsagePlanKey
    Properties:
      KeyId: !Ref Key
      KeyType: API_KEY
      UsagePlanId: !Ref Plan
  DisabledPlanKey:
    Type: AWS::ApiGateway::UsagePlanKey
    Properties:
      KeyId: !GetAtt DisabledKey.APIKeyId
      KeyType: API_KEY
      UsagePlanId: !GetAtt Plan.Id
"
        ),
        expect![[r#"
            api Api (Rest, keys from Header)
              GET /items -> Fn (key required)
            key Key id=6rh66xiv38 name=partner value=Some("abcdefghijklmnopqrstuvwxyz") enabled=true stages=[]
            key DisabledKey id=ayuvc4acu2 name=demo-DisabledKey-RQ2BV9YYOQXF value=None enabled=false stages=[]
            plan Plan id=ce3l1xvnef name=None keys=["Key", "DisabledKey"]
              throttle=Some(Throttle { rate_limit: 100.0, burst_limit: 200 })
              quota=Some(Quota { limit: 5000, offset: 0, period: Month })
              stage Api/v1 [("/items/GET", Throttle { rate_limit: 1.0, burst_limit: 1 })]
        "#]],
    );
}

#[test]
fn openapi_api_key_security() {
    check(
        &format!(
            "
Transform: AWS::Serverless-2016-10-31
Resources:{FUNCTION}
  MyApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      DefinitionBody:
        swagger: '2.0'
        x-amazon-apigateway-api-key-source: HEADER
        securityDefinitions:
          api_key: {{type: apiKey, name: x-api-key, in: header}}
        security:
          - api_key: []
        paths:
          /locked:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{Fn.Arn}}/invocations
          /open:
            get:
              security: []
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{Fn.Arn}}/invocations
"
        ),
        expect![[r#"
            api MyApi (Rest, keys from Header)
              GET /locked -> Fn (key required)
              GET /open -> Fn
        "#]],
    );
}

#[test]
fn a_plan_key_naming_an_unknown_key_is_an_error() {
    check(
        &format!(
            "
Resources:{FUNCTION}{RAW_API}
  Plan:
    Type: AWS::ApiGateway::UsagePlan
    Properties:
      ApiStages: [{{ApiId: !Ref Api, Stage: v1}}]
  PlanKey:
    Type: AWS::ApiGateway::UsagePlanKey
    Properties:
      KeyId: nosuchkey
      KeyType: API_KEY
      UsagePlanId: !Ref Plan
"
        ),
        expect![[r#"
            error: /app/template.yaml:52:14: Resources.PlanKey.Properties.KeyId: 'nosuchkey' is not an AWS::ApiGateway::ApiKey of this template; use !Ref of one
        "#]],
    );
}

#[test]
fn bad_usage_plan_input_is_an_error() {
    let template = |plan: &str| {
        format!(
            "
Resources:{FUNCTION}{RAW_API}
  Key:
    Type: AWS::ApiGateway::ApiKey
    Properties: {{Enabled: true}}
  Plan:
    Type: AWS::ApiGateway::UsagePlan
    Properties:
{plan}
"
        )
    };
    check(
        &template("      ApiStages: [{ApiId: !Ref Api, Stage: prod}]"),
        expect![[r#"
            error: /app/template.yaml:51:44: Resources.Plan.Properties.ApiStages[0].Stage: 'prod' is not a stage of Api; its stages are 'v1'
        "#]],
    );
    check(
        &template("      ApiStages: [{ApiId: !Ref Fn, Stage: v1}]"),
        expect![[r#"
            error: /app/template.yaml:51:32: Resources.Plan.Properties.ApiStages[0].ApiId: 'demo-Fn-WKFMDCWE0HSJ' is not a REST API of this template; use !Ref of an AWS::Serverless::Api or AWS::ApiGateway::RestApi
        "#]],
    );
    check(
        &template("      Quota: {Limit: 10, Period: YEAR}"),
        expect![[r#"
            error: /app/template.yaml:51:34: Resources.Plan.Properties.Quota.Period: expected DAY, WEEK or MONTH, found 'YEAR'
        "#]],
    );
    check(
        &template("      ApiStages: [{ApiId: !Ref Api, Stage: v1, Throttle: {/nothing/GET: {RateLimit: 1}}}]"),
        expect![[r#"
            error: /app/template.yaml:51:59: Resources.Plan.Properties.ApiStages[0].Throttle./nothing/GET: no method of Api matches '/nothing/GET'; write /path/METHOD as the API declares it, such as /pets/{id}/GET
        "#]],
    );
    check(
        &format!(
            "
Resources:{FUNCTION}{RAW_API}
  Key:
    Type: AWS::ApiGateway::ApiKey
    Properties: {{Value: short}}
"
        ),
        expect![[r#"
            error: /app/template.yaml:47:25: Resources.Key.Properties.Value: an API key's value must be 20 to 128 characters long (this one has 5); leave Value out to have one generated
        "#]],
    );
}
