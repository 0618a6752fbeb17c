//! Snapshot tests: each feeds a template to `load_str` and compares the rendered result.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use expect_test::{expect, Expect};

use crate::{
    load_str, AliasVersion, ApiKind, App, FunctionCode, LayerRef, LoadOptions, PayloadFormat,
};

/// Loads `template` as `/app/template.yaml` and compares the rendered app or error.
///
/// Leading lines `# override Name=Value` become `--parameter-overrides`, and lines
/// `# version LogicalId=Number` the numbers of versions already published.
fn check(template: &str, expect: Expect) {
    expect.assert_eq(&render_result(template));
}

/// The options every snapshot test loads with: stack `demo` in `eu-west-1`, account
/// `123456789012`, no overrides or published versions.
pub(crate) fn demo_options() -> LoadOptions {
    LoadOptions {
        parameter_overrides: BTreeMap::new(),
        region: "eu-west-1".to_owned(),
        account_id: "123456789012".to_owned(),
        stack_name: "demo".to_owned(),
        version_numbers: BTreeMap::new(),
        queue_url_base: None,
    }
}

fn render_result(template: &str) -> String {
    let mut options = demo_options();
    for line in template.trim_start().lines() {
        if let Some(assignment) = line.strip_prefix("# override ") {
            let (name, value) = assignment
                .split_once('=')
                .expect("test override lines look like Name=Value");
            options
                .parameter_overrides
                .insert(name.to_owned(), value.to_owned());
        } else if let Some(assignment) = line.strip_prefix("# version ") {
            let (logical_id, number) = assignment
                .split_once('=')
                .expect("test version lines look like LogicalId=Number");
            let number = number.parse().expect("test version numbers are numbers");
            options
                .version_numbers
                .insert(logical_id.to_owned(), number);
        } else {
            break;
        }
    }
    match load_str(template, Path::new("/app/template.yaml"), &options) {
        Ok(app) => render(&app),
        Err(error) => format!("error: {error}\n"),
    }
}

fn render(app: &App) -> String {
    let mut out = String::new();
    if let Some(description) = &app.description {
        writeln!(out, "description: {description:?}").expect("writing to a String");
    }
    for function in &app.functions {
        let code = match &function.code {
            FunctionCode::Dir(dir) => format!("dir {}", dir.display()),
            FunctionCode::Inline(code) => format!("inline {code:?}"),
        };
        writeln!(
            out,
            "function {} ({}): {} {:?} {code}, {}s, {} MB, {}",
            function.logical_id,
            function.name,
            function.runtime,
            function.handler,
            function.timeout_secs,
            function.memory_mb,
            function.architectures.join(","),
        )
        .expect("writing to a String");
        for (name, value) in &function.environment {
            writeln!(out, "  env {name}={value:?}").expect("writing to a String");
        }
        if let Some(reserved) = function.reserved_concurrency {
            writeln!(out, "  reserved concurrency {reserved}").expect("writing to a String");
        }
        if function.ephemeral_storage_mb != 512 {
            writeln!(out, "  /tmp {} MB", function.ephemeral_storage_mb)
                .expect("writing to a String");
        }
        if let Some(network) = function.network {
            writeln!(out, "  network {network:?}").expect("writing to a String");
        }
        if !function.metadata.is_null() {
            writeln!(out, "  metadata {}", function.metadata).expect("writing to a String");
        }
        for layer in &function.layers {
            match layer {
                LayerRef::Local(logical_id) => writeln!(out, "  layer {logical_id}"),
                LayerRef::Arn(arn) => writeln!(out, "  layer arn {arn}"),
            }
            .expect("writing to a String");
        }
        if let Some(alias) = &function.auto_publish_alias {
            writeln!(out, "  auto-publish alias {alias}").expect("writing to a String");
        }
        if let Some(sha) = &function.auto_publish_code_sha256 {
            writeln!(out, "  auto-publish code sha256 {sha}").expect("writing to a String");
        }
    }
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
        if let Some(cors) = &api.cors {
            writeln!(out, "  cors {cors:?}").expect("writing to a String");
        }
        if !api.binary_media_types.is_empty() {
            writeln!(out, "  binary {}", api.binary_media_types.join(", "))
                .expect("writing to a String");
        }
        for route in &api.routes {
            let format = match route.payload_format {
                PayloadFormat::V1 => "1.0",
                PayloadFormat::V2 => "2.0",
            };
            writeln!(
                out,
                "  {} {} -> {} ({format}, event {})",
                route.method, route.path, route.function, route.event_name
            )
            .expect("writing to a String");
        }
    }
    for mapping in &app.domain_mappings {
        writeln!(
            out,
            "domain {}/{} -> {} stage {} ({})",
            mapping.domain_name,
            mapping.base_path.as_deref().unwrap_or_default(),
            mapping.api_logical_id,
            mapping.stage.as_deref().unwrap_or("from the path"),
            mapping.logical_id,
        )
        .expect("writing to a String");
    }
    for output in &app.outputs {
        writeln!(out, "output {} = {:?}", output.name, output.value).expect("writing to a String");
        if let Some(description) = &output.description {
            writeln!(out, "  {description:?}").expect("writing to a String");
        }
    }
    for table in &app.tables {
        writeln!(
            out,
            "table {} ({}) = {}",
            table.logical_id, table.table_name, table.create_table
        )
        .expect("writing to a String");
        if let Some(attribute) = &table.time_to_live_attribute {
            writeln!(out, "  ttl {attribute}").expect("writing to a String");
        }
    }
    for layer in &app.layers {
        writeln!(
            out,
            "layer {} ({}) = {} dir {}",
            layer.logical_id,
            layer.name,
            layer.arn,
            layer.content_dir.display()
        )
        .expect("writing to a String");
        if !layer.compatible_runtimes.is_empty() || !layer.compatible_architectures.is_empty() {
            writeln!(
                out,
                "  compatible [{}] [{}]",
                layer.compatible_runtimes.join(", "),
                layer.compatible_architectures.join(", ")
            )
            .expect("writing to a String");
        }
        if let Some(method) = &layer.build_method {
            writeln!(out, "  build {method}").expect("writing to a String");
        }
        if let Some(architecture) = &layer.build_architecture {
            writeln!(out, "  build architecture {architecture}").expect("writing to a String");
        }
    }
    for version in &app.versions {
        writeln!(
            out,
            "version {} of {}: {}{}",
            version.logical_id,
            version.function,
            version.number,
            if version.auto_published {
                " (auto-published)"
            } else {
                ""
            }
        )
        .expect("writing to a String");
        if let Some(description) = &version.description {
            writeln!(out, "  description {description:?}").expect("writing to a String");
        }
        if let Some(sha) = &version.code_sha256 {
            writeln!(out, "  code sha256 {sha}").expect("writing to a String");
        }
    }
    let alias_version = |version: &AliasVersion| match version {
        AliasVersion::Latest => "$LATEST".to_owned(),
        AliasVersion::Version(logical_id) => logical_id.clone(),
        AliasVersion::Number(number) => format!("number {number}"),
    };
    for alias in &app.aliases {
        writeln!(
            out,
            "alias {} of {}: {} -> {}",
            alias.logical_id,
            alias.function,
            alias.name,
            alias_version(&alias.version)
        )
        .expect("writing to a String");
        for weight in &alias.additional_versions {
            writeln!(
                out,
                "  and {} weight {}",
                alias_version(&weight.version),
                weight.weight
            )
            .expect("writing to a String");
        }
        if let Some(description) = &alias.description {
            writeln!(out, "  description {description:?}").expect("writing to a String");
        }
    }
    for schedule in &app.schedules {
        schedules::render_schedule(&mut out, schedule);
    }
    for mapping in &app.stream_mappings {
        writeln!(
            out,
            "stream mapping {} -> {}{} from table {} ({}) at {}{}: batch {}, window {}s, retries {}, age {}s, bisect {}, parallel {}, tumbling {}s, item failures {}, filters {:?}, on failure {:?}, enabled {}",
            mapping.id,
            mapping.function,
            mapping.qualifier.as_ref().map(|qualifier| format!(":{qualifier}")).unwrap_or_default(),
            mapping.table_name,
            mapping.stream_arn,
            mapping.starting_position,
            mapping.starting_position_timestamp.map(|at| format!(" {at}")).unwrap_or_default(),
            mapping.batch_size,
            mapping.maximum_batching_window_secs,
            mapping.maximum_retry_attempts,
            mapping.maximum_record_age_secs,
            mapping.bisect_batch_on_function_error,
            mapping.parallelization_factor,
            mapping.tumbling_window_secs,
            mapping.report_batch_item_failures,
            mapping.filter_patterns,
            mapping.on_failure,
            mapping.enabled,
        )
        .expect("writing to a String");
    }
    for queue in &app.queues {
        writeln!(
            out,
            "queue {} ({}) attributes {:?} tags {:?}",
            queue.logical_id, queue.name, queue.attributes, queue.tags
        )
        .expect("writing to a String");
    }
    for topic in &app.topics {
        writeln!(
            out,
            "topic {} ({}) attributes {:?} tags {:?}",
            topic.logical_id, topic.name, topic.attributes, topic.tags
        )
        .expect("writing to a String");
    }
    for subscription in &app.subscriptions {
        writeln!(
            out,
            "subscription {}: {} -> {} {} {:?}",
            subscription.id,
            subscription.topic_arn,
            subscription.protocol,
            subscription.endpoint,
            subscription.attributes
        )
        .expect("writing to a String");
    }
    for mapping in &app.queue_mappings {
        writeln!(
            out,
            "queue mapping {} -> {}{} from {}: batch {}, window {}s, item failures {}, concurrency {:?}, filters {:?}, enabled {}",
            mapping.id,
            mapping.function,
            mapping.qualifier.as_ref().map(|qualifier| format!(":{qualifier}")).unwrap_or_default(),
            mapping.queue_arn,
            mapping.batch_size,
            mapping.maximum_batching_window_secs,
            mapping.report_batch_item_failures,
            mapping.maximum_concurrency,
            mapping.filter_patterns,
            mapping.enabled,
        )
        .expect("writing to a String");
    }
    for item in &app.unsupported {
        writeln!(out, "unsupported {item}").expect("writing to a String");
    }
    out
}

#[test]
fn tables_become_create_table_requests() {
    check(
        r#"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
Resources:
  Users:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "users-${Stage}"
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: N}
        - {AttributeName: email, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: byEmail
          KeySchema: [{AttributeName: email, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
      StreamSpecification:
        StreamViewType: NEW_AND_OLD_IMAGES
      TimeToLiveSpecification:
        AttributeName: expiresAt
        Enabled: true
      PointInTimeRecoverySpecification:
        PointInTimeRecoveryEnabled: true
      KinesisStreamSpecification:
        StreamArn: arn:aws:kinesis:us-east-1:123456789012:stream/x
  Simple:
    Type: AWS::Serverless::SimpleTable
    Properties:
      PrimaryKey: {Name: userId, Type: Number}
      Tags: {team: core}
  Bare:
    Type: AWS::Serverless::SimpleTable
Outputs:
  Name:
    Value: !Ref Users
"#,
        expect![[r#"
            output Name = "users-dev"
            table Users (users-dev) = {"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"N"},{"AttributeName":"email","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST","GlobalSecondaryIndexes":[{"IndexName":"byEmail","KeySchema":[{"AttributeName":"email","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"}}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_AND_OLD_IMAGES"},"TableName":"users-dev"}
              ttl expiresAt
            table Simple (demo-Simple-AT16T855YJ2RP) = {"AttributeDefinitions":[{"AttributeName":"userId","AttributeType":"N"}],"BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"userId","KeyType":"HASH"}],"TableName":"demo-Simple-AT16T855YJ2RP","Tags":[{"Key":"team","Value":"core"}]}
            table Bare (demo-Bare-KOZVCIN14B1M3) = {"AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"TableName":"demo-Bare-KOZVCIN14B1M3"}
            unsupported Users.KinesisStreamSpecification
        "#]],
    );
}

#[test]
fn hello_world_fixture() {
    check(
        include_str!("../test_data/hello.yaml"),
        expect![[r#"
            description: "hello-world\nSample SAM Template for hello-world\n"
            function HelloWorldFunction (demo-HelloWorldFunction-0WJ5ZLZVHO9M): python3.12 "app.lambda_handler" dir /app/hello_world, 10s, 256 MB, x86_64
              env DEBUG="true"
              env STAGE="local"
              env TABLE_NAME="demo-items"
              network None
              metadata {"BuildMethod":"makefile","Serverful":{"Network":"none","Region":"eu-west-1","Retries":2}}
            api ServerlessRestApi (rest, id t9deqls5s9, stage Prod)
              binary image/png
              GET /hello -> HelloWorldFunction (1.0, event HelloWorld)
              ANY /users/{id} -> HelloWorldFunction (1.0, event User)
            api ServerlessHttpApi (http, id ffhayohrny, stage $default)
              ANY $default -> HelloWorldFunction (2.0, event Http)
            output HelloWorldApi = "https://t9deqls5s9.execute-api.eu-west-1.amazonaws.com/Prod/hello/"
              "API Gateway endpoint URL for Prod stage for Hello World function"
            output HelloWorldFunction = "arn:aws:lambda:eu-west-1:123456789012:function:demo-HelloWorldFunction-0WJ5ZLZVHO9M"
              "Hello World Lambda Function ARN"
            output HelloWorldFunctionIamRole = "arn:aws:iam::123456789012:role/HelloWorldFunctionRole"
              "Implicit IAM Role created for Hello World function"
            output HttpEndpoint = "https://ffhayohrny.execute-api.eu-west-1.amazonaws.com"
            table ItemsTable (demo-items) = {"AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"TableName":"demo-items"}
            schedule HelloWorldFunctionNightly rule demo-HelloWorldFunctionNightly-XXXX rate(1 day) enabled
              arn arn:aws:events:eu-west-1:123456789012:rule/NAME
              -> HelloWorldFunction
            unsupported HelloWorldFunction.Policies
            unsupported HelloWorldFunction.Metadata.Serverful.Retries
            unsupported HelloWorldFunction.Metadata.Serverful.Region
        "#]],
    );
}

#[test]
fn intrinsics_long_form() {
    check(
        r#"
Parameters:
  Names:
    Type: CommaDelimitedList
    Default: "alpha, beta,gamma"
  Env:
    Type: String
    Default: prod
Mappings:
  Sizes:
    prod:
      Memory: 512
Conditions:
  IsProd: {"Fn::Equals": [{"Ref": "Env"}, "prod"]}
  IsDev: {"Fn::Not": [{"Condition": "IsProd"}]}
  Both: {"Fn::And": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "a"]}]}
  Either: {"Fn::Or": [{"Condition": "IsDev"}, {"Fn::Equals": ["a", "b"]}]}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      MemorySize: {"Fn::FindInMap": [Sizes, {"Ref": "Env"}, Memory]}
Outputs:
  Ref: {Value: {"Ref": "Env"}}
  GetAttString: {Value: {"Fn::GetAtt": "Fn.Arn"}}
  GetAttList: {Value: {"Fn::GetAtt": [Fn, Arn]}}
  Sub: {Value: {"Fn::Sub": "${Env}-${Fn}-${Fn.Arn}-${AWS::Region}-${!Literal}"}}
  SubMap: {Value: {"Fn::Sub": ["${Greeting}, ${Env}", {Greeting: {"Ref": "AWS::StackName"}}]}}
  Join: {Value: {"Fn::Join": ["/", [a, {"Ref": "Env"}, c]]}}
  JoinList: {Value: {"Fn::Join": ["+", {"Ref": "Names"}]}}
  Select: {Value: {"Fn::Select": ["1", {"Ref": "Names"}]}}
  Split: {Value: {"Fn::Select": [2, {"Fn::Split": ["-", "x-y-z"]}]}}
  If: {Value: {"Fn::If": [IsProd, yes, no]}}
  Conditions: {Value: {"Fn::Join": [",", [{"Fn::If": [IsDev, dev, notdev]}, {"Fn::If": [Both, both, notboth]}, {"Fn::If": [Either, either, neither]}]]}}
  Base64: {Value: {"Fn::Base64": "hello"}}
  AZ: {Value: {"Fn::Select": [0, {"Fn::GetAZs": ""}]}}
  AZs: {Value: {"Fn::Join": [",", {"Fn::GetAZs": {"Ref": "AWS::Region"}}]}}
  FindInMap: {Value: {"Fn::FindInMap": [Sizes, prod, Memory]}}
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): nodejs20.x "index.handler" dir /app, 3s, 512 MB, x86_64
            output Ref = "prod"
            output GetAttString = "arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ"
            output GetAttList = "arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ"
            output Sub = "prod-demo-Fn-WKFMDCWE0HSJ-arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ-eu-west-1-${Literal}"
            output SubMap = "demo, prod"
            output Join = "a/prod/c"
            output JoinList = "alpha+beta+gamma"
            output Select = "beta"
            output Split = "z"
            output If = "yes"
            output Conditions = "notdev,both,neither"
            output Base64 = "aGVsbG8="
            output AZ = "eu-west-1a"
            output AZs = "eu-west-1a,eu-west-1b,eu-west-1c"
            output FindInMap = "512"
        "#]],
    );
}

#[test]
fn intrinsics_short_form() {
    check(
        r#"
Parameters:
  Names:
    Type: CommaDelimitedList
    Default: alpha,beta,gamma
  Env:
    Type: String
    Default: prod
Mappings:
  Sizes:
    prod:
      Memory: 512
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Equals [a, a]]
  Either: !Or [Condition: IsDev, !Equals [a, b]]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      MemorySize: !FindInMap [Sizes, !Ref Env, Memory]
Outputs:
  Ref: {Value: !Ref Env}
  GetAttString: {Value: !GetAtt Fn.Arn}
  GetAttList: {Value: !GetAtt [Fn, Arn]}
  Sub: {Value: !Sub "${Env}-${Fn}-${Fn.Arn}-${AWS::Region}-${!Literal}"}
  SubMap:
    Value: !Sub
      - "${Greeting}, ${Env}"
      - Greeting: !Ref AWS::StackName
  Join: {Value: !Join ["/", [a, !Ref Env, c]]}
  JoinList: {Value: !Join ["+", !Ref Names]}
  Select: {Value: !Select [1, !Ref Names]}
  Split: {Value: !Select [2, !Split ["-", "x-y-z"]]}
  If: {Value: !If [IsProd, yes, no]}
  Conditions: {Value: !Join [",", [!If [IsDev, dev, notdev], !If [Both, both, notboth], !If [Either, either, neither]]]}
  Base64: {Value: !Base64 hello}
  AZ: {Value: !Select [0, !GetAZs ""]}
  AZs: {Value: !Join [",", !GetAZs { Ref: AWS::Region }]}
  FindInMap: {Value: !FindInMap [Sizes, prod, Memory]}
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): nodejs20.x "index.handler" dir /app, 3s, 512 MB, x86_64
            output Ref = "prod"
            output GetAttString = "arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ"
            output GetAttList = "arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ"
            output Sub = "prod-demo-Fn-WKFMDCWE0HSJ-arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ-eu-west-1-${Literal}"
            output SubMap = "demo, prod"
            output Join = "a/prod/c"
            output JoinList = "alpha+beta+gamma"
            output Select = "beta"
            output Split = "z"
            output If = "yes"
            output Conditions = "notdev,both,neither"
            output Base64 = "aGVsbG8="
            output AZ = "eu-west-1a"
            output AZs = "eu-west-1a,eu-west-1b,eu-west-1c"
            output FindInMap = "512"
        "#]],
    );
}

#[test]
fn pseudo_parameters_and_block_sub() {
    check(
        r#"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Environment:
        Variables:
          SCRIPT: !Sub |
            region=${AWS::Region}
            account=${AWS::AccountId}
            literal=${!NotReplaced}
Outputs:
  Region: {Value: !Ref AWS::Region}
  Account: {Value: !Ref AWS::AccountId}
  Stack: {Value: !Ref AWS::StackName}
  StackId: {Value: !Ref AWS::StackId}
  Partition: {Value: !Ref AWS::Partition}
  Suffix: {Value: !Sub "${AWS::URLSuffix}"}
  Role: {Value: !Ref FnRole}
  RoleArn: {Value: !GetAtt FnRole.Arn}
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
              env SCRIPT="region=eu-west-1\naccount=123456789012\nliteral=${NotReplaced}\n"
            output Region = "eu-west-1"
            output Account = "123456789012"
            output Stack = "demo"
            output StackId = "arn:aws:cloudformation:eu-west-1:123456789012:stack/demo/28f1f70e-b928-ee34-e4d0-b2ea14cc44d6"
            output Partition = "aws"
            output Suffix = "amazonaws.com"
            output Role = "FnRole"
            output RoleArn = "arn:aws:iam::123456789012:role/FnRole"
        "#]],
    );
}

#[test]
fn no_value_removes_properties_and_items() {
    check(
        r#"
Parameters:
  Env: {Type: String, Default: dev}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      ReservedConcurrentExecutions: !If [IsProd, 5, !Ref AWS::NoValue]
      Timeout: !If [IsProd, !Ref AWS::NoValue, 30]
      Environment:
        Variables:
          ONLY_PROD: !If [IsProd, "yes", !Ref AWS::NoValue]
          ALWAYS: here
Outputs:
  Joined: {Value: !Join [",", [a, !If [IsProd, b, !Ref AWS::NoValue], c]]}
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 30s, 128 MB, x86_64
              env ALWAYS="here"
            output Joined = "a,c"
        "#]],
    );
}

#[test]
fn conditions_leave_out_resources_and_outputs() {
    check(
        r#"
# override Env=prod
Parameters:
  Env: {Type: String, AllowedValues: [dev, prod]}
Conditions:
  IsProd: !Equals [prod, !Ref Env]
  IsDev: !Not [!Condition IsProd]
Resources:
  ProdFunction:
    Type: AWS::Serverless::Function
    Condition: IsProd
    Properties: {Runtime: python3.12, Handler: app.handler}
  DevFunction:
    Type: AWS::Serverless::Function
    Condition: IsDev
    Properties: {Runtime: python3.12, Handler: app.handler}
Outputs:
  Prod:
    Condition: IsProd
    Value: !Ref ProdFunction
  Dev:
    Condition: IsDev
    Value: !Ref DevFunction
  Which:
    Value: !If [IsDev, !Ref DevFunction, !Ref ProdFunction]
"#,
        expect![[r#"
            function ProdFunction (demo-ProdFunction-9POM9J7CX2BP): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
            output Prod = "demo-ProdFunction-9POM9J7CX2BP"
            output Which = "demo-ProdFunction-9POM9J7CX2BP"
        "#]],
    );
}

#[test]
fn parameters_defaults_overrides_and_types() {
    check(
        r#"
# override Memory=1024
# override Ports=80,443
Parameters:
  Memory: {Type: Number, Default: 128}
  Timeout: {Type: Number, Default: 7}
  Ports: {Type: List<Number>, Default: "1,2"}
  Ssm: {Type: "AWS::SSM::Parameter::Value<String>", Default: /config/name}
  Name: {Type: String, Default: plain}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      MemorySize: !Ref Memory
      Timeout: !Ref Timeout
    Metadata:
      Memory: !Ref Memory
      Ports: !Ref Ports
      Name: !Ref Name
Outputs:
  Ports: {Value: !Join [":", !Ref Ports]}
  Ssm: {Value: !Ref Ssm}
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 7s, 1024 MB, x86_64
              metadata {"Memory":1024,"Name":"plain","Ports":["80","443"]}
            output Ports = "80:443"
            output Ssm = "/config/name"
            unsupported Parameters.Ssm (Type AWS::SSM::Parameter::Value<String>)
        "#]],
    );
}

#[test]
fn globals_merge_into_functions() {
    check(
        r#"
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    Timeout: 20
    MemorySize: 256
    Architectures: [arm64]
    Tracing: Active
    Environment:
      Variables:
        SHARED: global
        OVERRIDDEN: global
  HttpApi:
    StageVariables:
      Color: blue
  SimpleTable:
    SSESpecification: {SSEEnabled: true}
Resources:
  First:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 5
      Environment:
        Variables:
          OVERRIDDEN: first
          OWN: 1
      Events:
        Root:
          Type: HttpApi
          Properties: {Path: /, Method: GET}
  Second:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      CodeUri: ./second/../second_code
"#,
        expect![[r#"
            function First (demo-First-QMG7TQBLUDGN): python3.12 "app.handler" dir /app, 5s, 256 MB, arm64
              env OVERRIDDEN="first"
              env OWN="1"
              env SHARED="global"
            function Second (demo-Second-SBAV1HKFZVBL): nodejs20.x "index.handler" dir /app/second_code, 20s, 256 MB, arm64
              env OVERRIDDEN="global"
              env SHARED="global"
            api ServerlessHttpApi (http, id ffhayohrny, stage $default)
              stage variable Color="blue"
              GET / -> First (2.0, event Root)
            unsupported Globals.SimpleTable
            unsupported First.Tracing
            unsupported Second.Tracing
        "#]],
    );
}

#[test]
fn explicit_apis() {
    check(
        r#"
Parameters:
  Stage: {Type: String, Default: v1}
Globals:
  Api:
    Variables:
      FromGlobals: "yes"
Resources:
  MyApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: !Ref Stage
      Variables:
        Version: 2
      BinaryMediaTypes: ["image~1png", "*~1*"]
      Cors: "'*'"
      AccessLogSetting:
        Format: $context.requestId
  MyHttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: live
      StageVariables: {Mode: fast}
      CorsConfiguration: {AllowOrigins: ["*"]}
  DefaultHttpApi:
    Type: AWS::Serverless::HttpApi
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Events:
        Rest:
          Type: Api
          Properties:
            RestApiId: !Ref MyApi
            Path: /items/{id}
            Method: delete
            RequestParameters: [method.request.header.Authorization]
        Http:
          Type: HttpApi
          Properties:
            ApiId: {Ref: MyHttpApi}
            Path: /{proxy+}
            Method: any
            PayloadFormatVersion: "1.0"
        HttpDefault:
          Type: HttpApi
          Properties:
            ApiId: !Ref DefaultHttpApi
Outputs:
  RestId: {Value: !Ref MyApi}
  RestRoot: {Value: !GetAtt MyApi.RootResourceId}
  RestStage: {Value: !Ref MyApiv1Stage}
  RestStageProperty: {Value: !Ref MyApi.Stage}
  HttpStageProperty: {Value: !Sub "${MyHttpApi.Stage}"}
  RestDeploymentProperty: {Value: !Ref MyApi.Deployment}
  RestDeployment: {Value: !Ref MyApiDeployment}
  HttpEndpoint: {Value: !GetAtt MyHttpApi.ApiEndpoint}
  HttpId: {Value: !GetAtt MyHttpApi.ApiId}
  HttpStage: {Value: !Ref MyHttpApiliveStage}
  DefaultStage: {Value: !Ref DefaultHttpApiApiGatewayDefaultStage}
  Url: {Value: !Sub "https://${MyApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}/"}
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
            api MyApi (rest, id ndxfmxp4qe, stage v1)
              stage variable FromGlobals="yes"
              stage variable Version="2"
              cors Cors { allow_origins: ["*"], allow_methods: [], allow_headers: [], expose_headers: [], max_age: None, allow_credentials: false }
              binary image/png, */*
              DELETE /items/{id} -> Fn (1.0, event Rest)
            api MyHttpApi (http, id japf6eyh01, stage live)
              stage variable Mode="fast"
              cors Cors { allow_origins: ["*"], allow_methods: [], allow_headers: [], expose_headers: [], max_age: None, allow_credentials: false }
              ANY /{proxy+} -> Fn (1.0, event Http)
            api DefaultHttpApi (http, id 09oqgpcc9t, stage $default)
              ANY $default -> Fn (2.0, event HttpDefault)
            output RestId = "ndxfmxp4qe"
            output RestRoot = "cwivtme2m8"
            output RestStage = "v1"
            output RestStageProperty = "v1"
            output HttpStageProperty = "live"
            output RestDeploymentProperty = "8btbq85zqy"
            output RestDeployment = "8btbq85zqy"
            output HttpEndpoint = "https://japf6eyh01.execute-api.eu-west-1.amazonaws.com"
            output HttpId = "japf6eyh01"
            output HttpStage = "live"
            output DefaultStage = "$default"
            output Url = "https://ndxfmxp4qe.execute-api.eu-west-1.amazonaws.com/v1/"
            unsupported MyApi.AccessLogSetting
        "#]],
    );
}

#[test]
fn implicit_apis_and_their_generated_resources() {
    check(
        r#"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: go1.x
      Handler: main
      Events:
        Get: {Type: Api, Properties: {Path: /a, Method: GET}}
        Post: {Type: Api, Properties: {Path: /a, Method: post}}
        Http: {Type: HttpApi, Properties: {Path: /b, Method: put}}
Outputs:
  RestId: {Value: !Ref ServerlessRestApi}
  Root: {Value: !GetAtt ServerlessRestApi.RootResourceId}
  Stage: {Value: !Ref ServerlessRestApiProdStage}
  Deployment: {Value: !Ref ServerlessRestApiDeployment}
  HttpId: {Value: !Ref ServerlessHttpApi}
  HttpStage: {Value: !Ref ServerlessHttpApiApiGatewayDefaultStage}
  HttpUrl: {Value: !Sub "${ServerlessHttpApi.ApiEndpoint}/b"}
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): go1.x "main" dir /app, 3s, 128 MB, x86_64
            api ServerlessRestApi (rest, id t9deqls5s9, stage Prod)
              GET /a -> Fn (1.0, event Get)
              POST /a -> Fn (1.0, event Post)
            api ServerlessHttpApi (http, id ffhayohrny, stage $default)
              PUT /b -> Fn (2.0, event Http)
            output RestId = "t9deqls5s9"
            output Root = "6a0nzftrbj"
            output Stage = "Prod"
            output Deployment = "ebf0v2oxz9"
            output HttpId = "ffhayohrny"
            output HttpStage = "$default"
            output HttpUrl = "https://ffhayohrny.execute-api.eu-west-1.amazonaws.com/b"
        "#]],
    );
}

#[test]
fn implicit_http_api_takes_globals() {
    check(
        r#"
Globals:
  HttpApi:
    StageName: v2
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Events:
        All: {Type: HttpApi}
Outputs:
  Stage: {Value: !Ref ServerlessHttpApiv2Stage}
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
            api ServerlessHttpApi (http, id ffhayohrny, stage v2)
              ANY $default -> Fn (2.0, event All)
            output Stage = "v2"
        "#]],
    );
}

#[test]
fn tables_queues_and_topics() {
    check(
        r#"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Environment:
        Variables:
          TABLE: !Ref Table
          TABLE_ARN: !GetAtt Table.Arn
          STREAM: !GetAtt Table.StreamArn
          SIMPLE: !Ref Simple
          QUEUE_URL: !Ref Queue
          QUEUE_ARN: !GetAtt Queue.Arn
          QUEUE_NAME: !GetAtt Queue.QueueName
          TOPIC: !Ref Topic
          TOPIC_NAME: !GetAtt Topic.TopicName
          BUCKET: !Ref Bucket
          BUCKET_ARN: !GetAtt Bucket.Arn
      Events:
        Stream:
          Type: DynamoDB
          Properties: {Stream: !GetAtt Table.StreamArn, StartingPosition: LATEST}
        Queue:
          Type: SQS
          Properties: {Queue: !GetAtt Queue.Arn}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-table"
  Simple:
    Type: AWS::Serverless::SimpleTable
  Queue:
    Type: AWS::SQS::Queue
    Properties: {QueueName: jobs}
  Topic:
    Type: AWS::SNS::Topic
  Bucket:
    Type: AWS::S3::Bucket
  Permission:
    Type: AWS::Lambda::Permission
    Properties: {FunctionName: !Ref Fn, Action: lambda:InvokeFunction, Principal: s3.amazonaws.com}
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
              env BUCKET="demo-bucket-6r0l7568lsnn"
              env BUCKET_ARN="arn:aws:s3:::demo-bucket-6r0l7568lsnn"
              env QUEUE_ARN="arn:aws:sqs:eu-west-1:123456789012:jobs"
              env QUEUE_NAME="jobs"
              env QUEUE_URL="https://sqs.eu-west-1.amazonaws.com/123456789012/jobs"
              env SIMPLE="demo-Simple-AT16T855YJ2RP"
              env STREAM="arn:aws:dynamodb:eu-west-1:123456789012:table/demo-table/stream/1970-01-01T00:00:00.000"
              env TABLE="demo-table"
              env TABLE_ARN="arn:aws:dynamodb:eu-west-1:123456789012:table/demo-table"
              env TOPIC="arn:aws:sns:eu-west-1:123456789012:demo-Topic-NRNJBOE0KN7I"
              env TOPIC_NAME="demo-Topic-NRNJBOE0KN7I"
            table Table (demo-table) = {"BillingMode":"PAY_PER_REQUEST","TableName":"demo-table"}
            table Simple (demo-Simple-AT16T855YJ2RP) = {"AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"TableName":"demo-Simple-AT16T855YJ2RP"}
            stream mapping Fn/Stream -> Fn from table demo-table (arn:aws:dynamodb:eu-west-1:123456789012:table/demo-table/stream/1970-01-01T00:00:00.000) at LATEST: batch 100, window 0s, retries -1, age -1s, bisect false, parallel 1, tumbling 0s, item failures false, filters [], on failure None, enabled true
            queue Queue (jobs) attributes {} tags {}
            topic Topic (demo-Topic-NRNJBOE0KN7I) attributes {} tags {}
            queue mapping Fn/Queue -> Fn from arn:aws:sqs:eu-west-1:123456789012:jobs: batch 10, window 0s, item failures false, concurrency None, filters [], enabled true
        "#]],
    );
}

/// Issue 14: a function or table the template does not name gets the name CloudFormation
/// would give it (`{stack}-{LogicalId}-{SUFFIX}`), seen by `!Ref`, `!GetAtt` and the
/// functions' environment; explicit names are kept, and a name that `AWS::NoValue`
/// removes counts as none.
#[test]
fn unnamed_functions_and_tables_get_cloudformation_names() {
    check(
        r#"
Conditions:
  Never: !Equals [a, b]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Environment:
        Variables:
          TABLE: !Ref UsersTable
          TABLE_ARN: !GetAtt UsersTable.Arn
          SHORT: !Ref T
          NAMED: !Ref Named
          SELF: !Sub "${Fn}"
  Named:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: kept-as-written
      Runtime: python3.12
      Handler: app.handler
  NoValueName:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !If [Never, never, !Ref AWS::NoValue]
  UsersTable:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
  T:
    Type: AWS::Serverless::SimpleTable
  NamedTable:
    Type: AWS::Serverless::SimpleTable
    Properties: {TableName: plain}
Outputs:
  Fn: {Value: !Ref Fn}
  FnArn: {Value: !GetAtt Fn.Arn}
  NoValueName: {Value: !Ref NoValueName}
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
              env NAMED="kept-as-written"
              env SELF="demo-Fn-WKFMDCWE0HSJ"
              env SHORT="demo-T-C3WD7NGVZQ64H"
              env TABLE="demo-UsersTable-497U0Z31UBBXF"
              env TABLE_ARN="arn:aws:dynamodb:eu-west-1:123456789012:table/demo-UsersTable-497U0Z31UBBXF"
            function Named (kept-as-written): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
            output Fn = "demo-Fn-WKFMDCWE0HSJ"
            output FnArn = "arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ"
            output NoValueName = "demo-NoValueName-VFGD2B0X441Q"
            table UsersTable (demo-UsersTable-497U0Z31UBBXF) = {"AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"TableName":"demo-UsersTable-497U0Z31UBBXF"}
            table T (demo-T-C3WD7NGVZQ64H) = {"AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"TableName":"demo-T-C3WD7NGVZQ64H"}
            table NamedTable (plain) = {"AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"TableName":"plain"}
            unsupported NoValueName (AWS::Lambda::Function)
        "#]],
    );
}

#[test]
fn function_properties() {
    check(
        r#"
Transform: [AWS::Serverless-2016-10-31, AWS::LanguageExtensions]
Resources:
  Inline:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-inline"
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            return 1
      Timeout: 900
      MemorySize: "10240"
      ReservedConcurrentExecutions: 0
      Architectures: [arm64]
      Layers: [!Ref SharedLayer]
      Role: arn:aws:iam::123456789012:role/existing
      PackageType: Zip
      Description: ignored locally
  Custom:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2023
      CodeUri: ../build/custom
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layer/}
Outputs:
  InlineName: {Value: !Ref Inline}
  InlineArn: {Value: !GetAtt Inline.Arn}
"#,
        expect![[r#"
            function Inline (demo-inline): python3.12 "index.handler" inline "def handler(event, context):\n    return 1\n", 900s, 10240 MB, arm64
              reserved concurrency 0
              layer SharedLayer
            function Custom (demo-Custom-J92Z6ERPTZ7D): provided.al2023 "" dir /build/custom, 3s, 128 MB, x86_64
            output InlineName = "demo-inline"
            output InlineArn = "arn:aws:lambda:eu-west-1:123456789012:function:demo-inline"
            layer SharedLayer (SharedLayer) = arn:aws:lambda:eu-west-1:123456789012:layer:SharedLayer:1 dir /app/layer
            unsupported Transform AWS::LanguageExtensions
            unsupported Inline.Role
        "#]],
    );
}

#[test]
fn json_template_without_transform() {
    check(
        r#"{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Resources": {
    "Fn": {
      "Type": "AWS::Serverless::Function",
      "Properties": {
        "Runtime": "nodejs18.x",
        "Handler": "index.handler",
        "CodeUri": "src",
        "Timeout": 12,
        "Environment": {"Variables": {"FLAG": false, "COUNT": 3, "NAME": {"Fn::Join": ["-", ["a", "b"]]}}},
        "Events": {"Any": {"Type": "HttpApi", "Properties": {"Path": "/x", "Method": "ANY"}}}
      },
      "Metadata": {"Count": 3, "Quoted": "3", "Ratio": 1.5, "On": true, "Nothing": null}
    }
  },
  "Outputs": {"Url": {"Value": {"Fn::Sub": "${ServerlessHttpApi.ApiEndpoint}/x"}}}
}"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): nodejs18.x "index.handler" dir /app/src, 12s, 128 MB, x86_64
              env COUNT="3"
              env FLAG="false"
              env NAME="a-b"
              metadata {"Count":3,"Nothing":null,"On":true,"Quoted":"3","Ratio":1.5}
            api ServerlessHttpApi (http, id ffhayohrny, stage $default)
              ANY /x -> Fn (2.0, event Any)
            output Url = "https://ffhayohrny.execute-api.eu-west-1.amazonaws.com/x"
        "#]],
    );
}

#[test]
fn byte_order_mark_and_windows_line_endings() {
    check(
        "\u{feff}Resources:\r\n  Fn:\r\n    Type: AWS::Serverless::Function\r\n    Properties:\r\n      Runtime: python3.12\r\n      Handler: app.handler\r\n      Timeout: [1]\r\n",
        expect![[r#"
            error: /app/template.yaml:7:16: Resources.Fn.Properties.Timeout: expected a whole number, found a list
        "#]],
    );
}

#[test]
fn other_transform_is_unsupported() {
    check(
        r#"
Transform: AWS::Include
Rules: {}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Condition: Always
    DependsOn: Other
    Properties: {Runtime: python3.12, Handler: app.handler}
Conditions:
  Always: !Equals [1, 1]
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
            unsupported Transform AWS::Include
            unsupported Rules (template section)
        "#]],
    );
}

/// A small valid function to build error cases around.
const FUNCTION_HEAD: &str = "Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
";

fn with_function(rest: &str) -> String {
    format!("{FUNCTION_HEAD}{rest}")
}

#[test]
fn error_yaml_syntax() {
    check(
        "Resources:\n  Fn:\n    Type: [unclosed\n",
        expect![[r#"
            error: /app/template.yaml:4:1: YAML syntax error: while parsing a flow sequence, expected ',' or ']'
        "#]],
    );
}

#[test]
fn error_yaml_tab_indentation() {
    check(
        "Resources:\n\tFn: {}\n",
        expect![[r#"
            error: /app/template.yaml:2:2: YAML syntax error: tabs disallowed within this context (block indentation)
        "#]],
    );
}

#[test]
fn error_wrong_type() {
    check(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: [python3.12]\n      Handler: app.handler\n",
        expect![[r#"
            error: /app/template.yaml:5:16: Resources.Fn.Properties.Runtime: expected a string, found a list
        "#]],
    );
}

#[test]
fn error_unknown_intrinsic() {
    check(
        &with_function("Outputs:\n  X:\n    Value: {\"Fn::Frobnicate\": [a]}\n"),
        expect![[r#"
            error: /app/template.yaml:9:13: Outputs.X.Value: unknown intrinsic function 'Fn::Frobnicate'
        "#]],
    );
}

#[test]
fn error_unknown_tag() {
    check(
        &with_function("Outputs:\n  X:\n    Value: !Frobnicate a\n"),
        expect![[r#"
            error: /app/template.yaml:9:24: Outputs.X.Value: unknown tag '!Frobnicate'; the short forms are !Ref, !GetAtt, !Sub, !Join, !If, !Select, !Split, !Equals, !Not, !And, !Or, !FindInMap, !Base64, !GetAZs and !Condition
        "#]],
    );
}

#[test]
fn error_import_value_not_supported() {
    check(
        &with_function("Outputs:\n  X:\n    Value: !ImportValue shared-vpc\n"),
        expect![[r#"
            error: /app/template.yaml:9:25: Outputs.X.Value: Fn::ImportValue: is not supported by Serverful, which runs one stack without AWS; use a parameter instead
        "#]],
    );
}

#[test]
fn error_select_out_of_range() {
    check(
        &with_function("Outputs:\n  X:\n    Value: !Select [3, [a, b]]\n"),
        expect![[r#"
            error: /app/template.yaml:9:20: Outputs.X.Value: Fn::Select: index 3 is out of range for a list of 2 items
        "#]],
    );
}

#[test]
fn error_if_arity() {
    check(
        &with_function("Conditions:\n  C: !Equals [a, a]\nOutputs:\n  X:\n    Value: !If [C, a]\n"),
        expect![[r#"
            error: /app/template.yaml:11:16: Outputs.X.Value: Fn::If: expected a list of 3 items, found a list of 2 items
        "#]],
    );
}

#[test]
fn error_join_needs_a_list() {
    check(
        &with_function("Outputs:\n  X:\n    Value: !Join [\",\", notalist]\n"),
        expect![[r#"
            error: /app/template.yaml:9:24: Outputs.X.Value: Fn::Join: expected a list, found 'notalist'
        "#]],
    );
}

#[test]
fn error_unknown_ref() {
    check(
        &with_function(
            "      Environment:\n        Variables:\n          TABLE: !Ref MissingTable\n",
        ),
        expect![[r#"
            error: /app/template.yaml:9:23: Resources.Fn.Properties.Environment.Variables.TABLE: unknown name 'MissingTable'; it is not a parameter, a resource or a pseudo parameter such as AWS::Region
        "#]],
    );
}

#[test]
fn error_unknown_ref_in_sub() {
    check(
        &with_function("Outputs:\n  Url:\n    Value: !Sub \"https://${MyApi}.execute-api.${AWS::Region}.amazonaws.com\"\n"),
        expect![[r#"
            error: /app/template.yaml:9:17: Outputs.Url.Value: unknown name 'MyApi'; it is not a parameter, a resource or a pseudo parameter such as AWS::Region
        "#]],
    );
}

#[test]
fn error_unterminated_sub() {
    check(
        &with_function("Outputs:\n  Url:\n    Value: !Sub \"https://${AWS::Region\"\n"),
        expect![[r#"
            error: /app/template.yaml:9:17: Outputs.Url.Value: Fn::Sub: '${' without a closing '}'; write '${!' for a literal '${'
        "#]],
    );
}

#[test]
fn error_unknown_attribute() {
    check(
        &with_function("Outputs:\n  X:\n    Value: !GetAtt Fn.Url\n"),
        expect![[r#"
            error: /app/template.yaml:9:20: Outputs.X.Value: Fn::GetAtt: Fn (AWS::Serverless::Function) has no attribute 'Url'; it has Arn
        "#]],
    );
}

#[test]
fn error_unknown_pseudo_parameter() {
    check(
        &with_function("Outputs:\n  X:\n    Value: !Ref AWS::Planet\n"),
        expect![[r#"
            error: /app/template.yaml:9:17: Outputs.X.Value: unknown pseudo parameter 'AWS::Planet'
        "#]],
    );
}

#[test]
fn error_ref_to_resource_left_out_by_condition() {
    check(
        "Conditions:\n  Never: !Equals [a, b]\nResources:\n  Table:\n    Type: AWS::DynamoDB::Table\n    Condition: Never\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: app.handler\n      Environment:\n        Variables:\n          TABLE: !Ref Table\n",
        expect![[r#"
            error: /app/template.yaml:14:23: Resources.Fn.Properties.Environment.Variables.TABLE: 'Table' is not created because its condition 'Never' is false; guard this reference with Fn::If [Never, ...]
        "#]],
    );
}

#[test]
fn error_unknown_condition() {
    check(
        &with_function("Conditions:\n  IsProd: !Equals [a, b]\nOutputs:\n  X:\n    Value: !If [IsProduction, a, b]\n"),
        expect![[r#"
            error: /app/template.yaml:11:17: Outputs.X.Value: unknown condition 'IsProduction'; defined conditions: IsProd
        "#]],
    );
}

#[test]
fn error_circular_conditions() {
    check(
        &with_function("Conditions:\n  A: !Not [!Condition B]\n  B: !And [!Condition C, !Equals [x, x]]\n  C: !Condition A\nOutputs:\n  X:\n    Condition: A\n    Value: a\n"),
        expect![[r#"
            error: /app/template.yaml:10:17: Conditions.C: circular condition: A -> B -> C -> A
        "#]],
    );
}

#[test]
fn error_condition_that_is_not_boolean() {
    check(
        &with_function("Conditions:\n  Odd: !Join [\"\", [a, b]]\nOutputs:\n  X:\n    Condition: Odd\n    Value: a\n"),
        expect![[r#"
            error: /app/template.yaml:8:14: Conditions.Odd: expected a condition (Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition: Name), found 'ab'
        "#]],
    );
}

#[test]
fn error_missing_runtime() {
    check(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: app.handler\n",
        expect![[r#"
            error: /app/template.yaml:2:3: Resources.Fn.Properties.Runtime: missing; set Runtime (such as python3.12) on the function or under Globals.Function
        "#]],
    );
}

#[test]
fn error_missing_handler() {
    check(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: nodejs20.x\n",
        expect![[r#"
            error: /app/template.yaml:2:3: Resources.Fn.Properties.Handler: missing; a nodejs20.x function needs a Handler such as app.handler
        "#]],
    );
}

#[test]
fn error_code_uri_in_s3() {
    check(
        &with_function("      CodeUri:\n        Bucket: my-bucket\n        Key: code.zip\n"),
        expect![[r#"
            error: /app/template.yaml:8:15: Resources.Fn.Properties.CodeUri: code in S3 cannot run locally; point CodeUri at a local folder, such as CodeUri: hello_world/
        "#]],
    );
}

#[test]
fn error_code_uri_s3_url() {
    check(
        &with_function("      CodeUri: s3://my-bucket/code.zip\n"),
        expect![[r#"
            error: /app/template.yaml:7:16: Resources.Fn.Properties.CodeUri: code in S3 cannot run locally; point CodeUri at a local folder, such as CodeUri: hello_world/
        "#]],
    );
}

#[test]
fn error_code_uri_list() {
    check(
        &with_function("      CodeUri: [src]\n"),
        expect![[r#"
        error: /app/template.yaml:7:16: Resources.Fn.Properties.CodeUri: expected a folder path, found a list
    "#]],
    );
}

#[test]
fn function_architecture_wins_over_globals() {
    check(
        &format!(
            "Globals:\n  Function:\n    Architectures: [arm64]\n{}",
            with_function("      Architectures: [x86_64]\n")
        ),
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
        "#]],
    );
}

#[test]
fn error_image_package_type() {
    check(
        &with_function("      PackageType: Image\n"),
        expect![[r#"
            error: /app/template.yaml:7:20: Resources.Fn.Properties.PackageType: Image functions are not supported; use PackageType: Zip with a CodeUri folder
        "#]],
    );
}

#[test]
fn error_code_uri_and_inline_code() {
    check(
        &with_function("      CodeUri: src/\n      InlineCode: print(1)\n"),
        expect![[r#"
            error: /app/template.yaml:8:19: Resources.Fn.Properties.InlineCode: a function has either CodeUri or InlineCode, not both
        "#]],
    );
}

#[test]
fn error_timeout_not_a_number() {
    check(
        &with_function("      Timeout: soon\n"),
        expect![[r#"
            error: /app/template.yaml:7:16: Resources.Fn.Properties.Timeout: expected a whole number, found 'soon'
        "#]],
    );
}

#[test]
fn ephemeral_storage_and_network() {
    check(
        &with_function(
            "      EphemeralStorage:\n        Size: 1024\n    Metadata:\n      Serverful:\n        Network: none\n",
        ),
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
              /tmp 1024 MB
              network None
              metadata {"Serverful":{"Network":"none"}}
        "#]],
    );
}

#[test]
fn error_ephemeral_storage_out_of_range() {
    check(
        &with_function("      EphemeralStorage: {Size: 100}\n"),
        expect![[r#"
            error: /app/template.yaml:7:32: Resources.Fn.Properties.EphemeralStorage.Size: 100 is out of range; use a whole number from 512 to 10240
        "#]],
    );
}

#[test]
fn error_unknown_network() {
    check(
        &with_function("    Metadata:\n      Serverful: {Network: open}\n"),
        expect![[r#"
            error: /app/template.yaml:8:28: Resources.Fn.Metadata.Serverful.Network: open is not a network; use none (only the platform's endpoints) or egress (outbound allowed)
        "#]],
    );
}

#[test]
fn unknown_serverful_setting_is_listed() {
    check(
        &with_function("    Metadata:\n      Serverful: {Netwrok: none}\n"),
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
              metadata {"Serverful":{"Netwrok":"none"}}
            unsupported Fn.Metadata.Serverful.Netwrok
        "#]],
    );
}

#[test]
fn error_memory_out_of_range() {
    check(
        &with_function("      MemorySize: 64\n"),
        expect![[r#"
            error: /app/template.yaml:7:19: Resources.Fn.Properties.MemorySize: 64 is out of range; use a whole number from 128 to 10240
        "#]],
    );
}

#[test]
fn error_unknown_architecture() {
    check(
        &with_function("      Architectures: [riscv64]\n"),
        expect![[r#"
            error: /app/template.yaml:7:22: Resources.Fn.Properties.Architectures: expected [x86_64] or [arm64], found [riscv64]
        "#]],
    );
}

#[test]
fn error_rest_api_without_stage_name() {
    check(
        "Resources:\n  MyApi:\n    Type: AWS::Serverless::Api\n    Properties:\n      Cors: \"'*'\"\n",
        expect![[r#"
            error: /app/template.yaml:2:3: Resources.MyApi.Properties.StageName: missing; an AWS::Serverless::Api needs a StageName, such as Prod
        "#]],
    );
}

#[test]
fn error_event_refers_to_unknown_api() {
    check(
        &with_function("      Events:\n        Get:\n          Type: Api\n          Properties:\n            RestApiId: !Ref NoSuchApi\n            Path: /\n            Method: get\n"),
        expect![[r#"
            error: /app/template.yaml:11:29: Resources.Fn.Properties.Events.Get.Properties.RestApiId: unknown resource 'NoSuchApi'; declare it as an AWS::Serverless::Api
        "#]],
    );
}

#[test]
fn error_event_refers_to_wrong_api_kind() {
    check(
        &with_function("      Events:\n        Get:\n          Type: Api\n          Properties:\n            RestApiId: !Ref Http\n            Path: /\n            Method: get\n  Http:\n    Type: AWS::Serverless::HttpApi\n"),
        expect![[r#"
            error: /app/template.yaml:11:29: Resources.Fn.Properties.Events.Get.Properties.RestApiId: 'Http' is of type AWS::Serverless::HttpApi, not AWS::Serverless::Api
        "#]],
    );
}

#[test]
fn error_event_type_not_literal() {
    check(
        &with_function("      Events:\n        Get:\n          Type: !Ref EventType\n"),
        expect![[r#"
            error: /app/template.yaml:9:22: Resources.Fn.Properties.Events.Get.Type: expected a literal event type such as Api, found a !Ref function
        "#]],
    );
}

#[test]
fn error_event_without_method() {
    check(
        &with_function("      Events:\n        Get:\n          Type: Api\n          Properties:\n            Path: /hello\n"),
        expect![[r#"
            error: /app/template.yaml:8:9: Resources.Fn.Properties.Events.Get.Properties.Method: missing; an Api event needs Path and Method
        "#]],
    );
}

#[test]
fn error_event_with_unknown_method() {
    check(
        &with_function("      Events:\n        Get:\n          Type: HttpApi\n          Properties:\n            Path: /hello\n            Method: fetch\n"),
        expect![[r#"
            error: /app/template.yaml:12:21: Resources.Fn.Properties.Events.Get.Properties.Method: unknown method 'FETCH'; use one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY (any case)
        "#]],
    );
}

#[test]
fn error_event_path_without_slash() {
    check(
        &with_function("      Events:\n        Get:\n          Type: Api\n          Properties:\n            Path: hello\n            Method: get\n"),
        expect![[r#"
            error: /app/template.yaml:11:19: Resources.Fn.Properties.Events.Get.Properties.Path: 'hello' must start with '/'
        "#]],
    );
}

#[test]
fn error_bad_payload_format_version() {
    check(
        &with_function("      Events:\n        Get:\n          Type: HttpApi\n          Properties:\n            PayloadFormatVersion: \"3.0\"\n"),
        expect![[r#"
            error: /app/template.yaml:11:35: Resources.Fn.Properties.Events.Get.Properties.PayloadFormatVersion: expected "1.0" or "2.0", found '3.0'
        "#]],
    );
}

#[test]
fn error_parameter_not_allowed() {
    check(
        "# override Env=staging\nParameters:\n  Env:\n    Type: String\n    AllowedValues: [dev, prod]\nResources: {}\n",
        expect![[r#"
            error: /app/template.yaml:3:3: Parameters.Env: 'staging' (from --parameter-overrides) is not one of the AllowedValues: dev, prod
        "#]],
    );
}

#[test]
fn error_parameter_too_long() {
    check(
        "Parameters:\n  Name:\n    Type: String\n    Default: much-too-long\n    MaxLength: 8\n    ConstraintDescription: at most 8 characters\nResources: {}\n",
        expect![[r#"
            error: /app/template.yaml:4:14: Parameters.Name: 'much-too-long' breaks MaxLength 8 (at most 8 characters)
        "#]],
    );
}

#[test]
fn error_parameter_below_minimum() {
    check(
        "# override Memory=64\nParameters:\n  Memory:\n    Type: Number\n    MinValue: 128\nResources: {}\n",
        expect![[r#"
            error: /app/template.yaml:3:3: Parameters.Memory: '64' (from --parameter-overrides) breaks MinValue 128
        "#]],
    );
}

#[test]
fn error_parameter_not_a_number() {
    check(
        "Parameters:\n  Memory:\n    Type: Number\n    Default: lots\nResources: {}\n",
        expect![[r#"
            error: /app/template.yaml:4:14: Parameters.Memory: 'lots' is not a number, which a Number parameter needs
        "#]],
    );
}

#[test]
fn error_unknown_parameter_type() {
    check(
        "Parameters:\n  Memory:\n    Type: Integer\n    Default: 1\nResources: {}\n",
        expect![[r#"
            error: /app/template.yaml:3:11: Parameters.Memory.Type: unknown parameter type 'Integer'; use String, Number, CommaDelimitedList or List<Number>
        "#]],
    );
}

#[test]
fn error_override_of_unknown_parameter() {
    check(
        "# override Colour=blue\nParameters:\n  Color: {Type: String, Default: red}\nResources: {}\n",
        expect![[r#"
            error: /app/template.yaml: --parameter-overrides sets 'Colour', which is not a parameter of this template; its parameters are Color
        "#]],
    );
}

#[test]
fn error_find_in_map_missing_key() {
    check(
        &with_function("Mappings:\n  Sizes:\n    prod: {Memory: 512}\nOutputs:\n  X:\n    Value: !FindInMap [Sizes, dev, Memory]\n"),
        expect![[r#"
            error: /app/template.yaml:12:23: Outputs.X.Value: Fn::FindInMap: mapping 'Sizes' has no key 'dev'
        "#]],
    );
}

#[test]
fn error_output_value_is_a_list() {
    check(
        &with_function("Outputs:\n  X:\n    Value: !Split [\",\", \"a,b\"]\n"),
        expect![[r#"
            error: /app/template.yaml:9:19: Outputs.X.Value: expected a string, found a list
        "#]],
    );
}

#[test]
fn error_duplicate_key() {
    check(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n  Fn:\n    Type: AWS::Serverless::Function\n",
        expect![[r#"
            error: /app/template.yaml:4:3: duplicate key 'Fn'; each key may appear once in a mapping
        "#]],
    );
}

#[test]
fn error_empty_template() {
    check(
        "# nothing here\n",
        expect![[r#"
        error: /app/template.yaml: the template is empty; it needs at least a Resources section
    "#]],
    );
}

#[test]
fn error_template_not_a_mapping() {
    check(
        "- Resources\n",
        expect![[r#"
        error: /app/template.yaml:1:1: the template must be a mapping of sections (Resources, Parameters, ...), found a list
    "#]],
    );
}

#[test]
fn error_no_resources() {
    check(
        "Description: nothing\n",
        expect![[r#"
        error: /app/template.yaml: the template has no Resources section; add one with at least one AWS::Serverless::Function
    "#]],
    );
}

#[test]
fn error_resource_without_type() {
    check(
        "Resources:\n  Fn:\n    Properties: {}\n",
        expect![[r#"
        error: /app/template.yaml:2:3: Resources.Fn.Type: missing; every resource needs a Type such as AWS::Serverless::Function
    "#]],
    );
}

#[test]
fn error_two_documents() {
    check(
        "Resources: {}\n---\nResources: {}\n",
        expect![[r#"
        error: /app/template.yaml:2:1: the file holds more than one YAML document; a template is one document
    "#]],
    );
}

#[test]
fn error_ref_argument_not_a_name() {
    check(
        &with_function("Outputs:\n  X:\n    Value: !Ref [a, b]\n"),
        expect![[r#"
            error: /app/template.yaml:9:17: Outputs.X.Value: Ref: expected the name of a parameter or resource, found a list
        "#]],
    );
}

#[test]
fn error_no_value_as_required_value() {
    check(
        &with_function("Outputs:\n  X:\n    Value: !Ref AWS::NoValue\n"),
        expect![[r#"
            error: /app/template.yaml:9:17: Outputs.X.Value: AWS::NoValue cannot be used here; a value is required
        "#]],
    );
}

#[test]
fn error_names_circular_through_resources() {
    check(
        "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !GetAtt B.QueueName\n  B:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !GetAtt A.QueueName\nOutputs:\n  X:\n    Value: !Ref A\n",
        expect![[r#"
            error: /app/template.yaml:5:26: Resources.A.Properties.QueueName: the name refers back to itself through other resources
        "#]],
    );
}

#[test]
fn yaml_anchors_and_aliases() {
    check(
        "Resources:\n  A:\n    Type: AWS::Serverless::Function\n    Properties: &common\n      Runtime: python3.12\n      Handler: app.handler\n  B:\n    Type: AWS::Serverless::Function\n    Properties: *common\n",
        expect![[r#"
            function A (demo-A-FE2XCX328R64): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
            function B (demo-B-YE4R915G8R64): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
        "#]],
    );
}

#[test]
fn load_reads_a_folder() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(
        folder.path().join("template.yml"),
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Runtime: python3.12, Handler: app.handler, CodeUri: src}\n",
    )
    .expect("writing the template");
    let app = crate::load(folder.path(), &LoadOptions::default()).expect("the template loads");
    assert_eq!(app.template_path, folder.path().join("template.yml"));
    assert_eq!(
        app.functions[0].code,
        FunctionCode::Dir(folder.path().join("src"))
    );

    let empty = tempfile::tempdir().expect("a temporary folder");
    let error = crate::load(empty.path(), &LoadOptions::default()).expect_err("no template");
    assert!(
        error
            .to_string()
            .contains("no template.yaml or template.yml"),
        "{error}"
    );
}

#[test]
fn crud_fixture() {
    check(
        include_str!("../test_data/crud.yaml"),
        expect![[r#"
            function Crud (demo-Crud-KWLMYJCP24N3): nodejs20.x "index.handler" dir /app/src, 10s, 128 MB, x86_64
              env ARN="arn:aws:dynamodb:eu-west-1:123456789012:table/demo-dev-items"
              env JOINED="x|y"
              env TABLE="demo-dev-items"
              env ZONE="a"
            api Api (http, id he4pqhwbqw, stage $default)
              GET /items/{id} -> Crud (2.0, event Get)
              PUT /items -> Crud (2.0, event Put)
            output Endpoint = "https://he4pqhwbqw.execute-api.eu-west-1.amazonaws.com/he4pqhwbqw"
            output Debug = "ZXUtd2VzdC0x"
            table Items (demo-dev-items) = {"BillingMode":"PAY_PER_REQUEST","TableName":"demo-dev-items"}
        "#]],
    );
}

#[test]
fn unsupported_properties_are_not_resolved() {
    check(
        r#"
Resources:
  MyApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      AccessLogSetting:
        Fn::Transform:
          Name: AWS::Include
          Parameters: {Location: openapi.yaml}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Policies:
        - Statement:
            - Effect: Allow
              Action: s3:GetObject
              Resource: !Sub "${BucketDefinedElsewhere.Arn}/*"
              Condition: {StringEquals: {"aws:SourceAccount": !Ref AWS::AccountId}}
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
            api MyApi (rest, id ndxfmxp4qe, stage Prod)
            unsupported MyApi.AccessLogSetting
            unsupported Fn.Policies
        "#]],
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let depth = 100_000;
    let template = format!("Resources: {}{}", "[".repeat(depth), "]".repeat(depth));
    check(
        &template,
        expect![[r#"
        error: /app/template.yaml:1:267: YAML syntax error: recursion limit exceeded
    "#]],
    );
}

#[test]
fn deep_block_nesting_is_an_error_not_a_crash() {
    let mut template = String::from("Resources:\n");
    for level in 1..400 {
        template.push_str(&format!("{}k{level}:\n", " ".repeat(level)));
    }
    check(
        &template,
        expect![[r#"
        error: /app/template.yaml:201:205: the template nests deeper than 200 levels
    "#]],
    );
}

#[test]
fn alias_bombs_are_refused() {
    let mut template = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..12 {
        let previous = level - 1;
        let aliases = vec![format!("*a{previous}"); 10].join(", ");
        template.push_str(&format!("a{level}: &a{level} [{aliases}]\n"));
    }
    check(
        &template,
        expect![[r#"
        error: /app/template.yaml:6:45: the template is too large once its YAML aliases are expanded
    "#]],
    );
}

/// Mangles real templates in many ways; loading must fail or succeed, never panic.
#[test]
fn mangled_templates_never_panic() {
    for template in [
        include_str!("../test_data/hello.yaml"),
        include_str!("../test_data/crud.yaml"),
    ] {
        check_mangled_variants(template);
    }
}

/// Replaces random characters with YAML-significant ones, from a fixed seed so that a
/// failure reproduces.
#[test]
fn randomly_mutated_templates_never_panic() {
    // 100,000 mutations pass too; this many keeps the test quick in debug builds.
    let n_mutations = 2_000;
    let templates = [
        include_str!("../test_data/hello.yaml"),
        include_str!("../test_data/crud.yaml"),
    ];
    let alphabet: Vec<char> = "!&*[]{}:,-|>'\"#${}\n\t %@`?.0aé".chars().collect();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: usize| -> usize {
        // xorshift64: enough spread for picking positions, and no dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    for mutation_idx in 0..n_mutations {
        let template = templates[mutation_idx % templates.len()];
        let mut characters: Vec<char> = template.chars().collect();
        for _ in 0..1 + next(4) {
            let position = next(characters.len());
            characters[position] = alphabet[next(alphabet.len())];
        }
        let variant: String = characters.into_iter().collect();
        if std::panic::catch_unwind(|| render_result(&variant)).is_err() {
            panic!("loading panicked on mutation {mutation_idx}:\n{variant}");
        }
    }
}

fn check_mangled_variants(template: &str) {
    let mut variants = Vec::new();
    for (offset, _) in template.char_indices() {
        variants.push(template[..offset].to_owned());
    }
    let lines: Vec<&str> = template.lines().collect();
    for line_idx in 0..lines.len() {
        let mut without = lines.clone();
        without.remove(line_idx);
        variants.push(without.join("\n"));
        let mut doubled = lines.clone();
        doubled.insert(line_idx, lines[line_idx]);
        variants.push(doubled.join("\n"));
        for replacement in [
            "!Ref",
            "!Sub ${",
            "!If [",
            "- ",
            "{",
            "&a",
            "*a",
            "!GetAtt [a]",
            "!Select [9, []]",
        ] {
            let mut replaced = lines.clone();
            let indent = lines[line_idx].len() - lines[line_idx].trim_start().len();
            let changed = format!("{}{replacement}", &lines[line_idx][..indent]);
            replaced[line_idx] = &changed;
            variants.push(replaced.join("\n"));
            let mut appended = lines.clone();
            let changed = format!("{} {replacement}", lines[line_idx]);
            appended[line_idx] = &changed;
            variants.push(appended.join("\n"));
        }
    }
    let mut n_loaded = 0;
    for variant in &variants {
        let result = std::panic::catch_unwind(|| render_result(variant));
        match result {
            Ok(rendered) => n_loaded += usize::from(!rendered.starts_with("error:")),
            Err(_) => panic!("loading panicked on this template:\n{variant}"),
        }
    }
    assert!(n_loaded > 0, "some mangled variants still load");
}

// Issue #13: layers, local and public, in functions and Globals.

#[test]
fn layers_local_and_public_in_globals_and_functions() {
    check(
        r#"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    Layers:
      - !Ref SharedLayer
      - arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:7
Resources:
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: !Sub shared-${Stage}
      Description: Code every function uses
      ContentUri: layers/shared/
      CompatibleRuntimes: [python3.12, python3.13]
      CompatibleArchitectures: [x86_64]
      RetentionPolicy: Retain
      LicenseInfo: MIT
    Metadata:
      BuildMethod: python3.12
      BuildArchitecture: x86_64
  ToolsLayer:
    Type: AWS::Lambda::LayerVersion
    Properties:
      Content: ./layers/../tools
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Layers:
        - !GetAtt ToolsLayer.LayerVersionArn
        - !If [IsProd, !Ref SharedLayer, !Ref AWS::NoValue]
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      Environment:
        Variables:
          SHARED_ARN: !Ref SharedLayer
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Outputs:
  Tools:
    Value: !Ref ToolsLayer
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
              layer SharedLayer
              layer arn arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:7
              layer ToolsLayer
            function Plain (demo-Plain-4LF9ZG5J4HUQ): nodejs20.x "index.handler" dir /app, 3s, 128 MB, x86_64
              env SHARED_ARN="arn:aws:lambda:eu-west-1:123456789012:layer:shared-dev:1"
              layer SharedLayer
              layer arn arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:7
            output Tools = "arn:aws:lambda:eu-west-1:123456789012:layer:ToolsLayer:1"
            layer SharedLayer (shared-dev) = arn:aws:lambda:eu-west-1:123456789012:layer:shared-dev:1 dir /app/layers/shared
              compatible [python3.12, python3.13] [x86_64]
              build python3.12
              build architecture x86_64
            layer ToolsLayer (ToolsLayer) = arn:aws:lambda:eu-west-1:123456789012:layer:ToolsLayer:1 dir /app/tools
        "#]],
    );
}

#[test]
fn layer_arn_of_a_template_layer_is_that_layer() {
    check(
        &format!(
            "{}      Layers:\n        - arn:aws:lambda:eu-west-1:123456789012:layer:Mine:1\n        - arn:aws:lambda:eu-west-1:123456789012:layer:Mine:2\n  Mine:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: mine\n",
            FUNCTION_HEAD
        ),
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
              layer Mine
              layer arn arn:aws:lambda:eu-west-1:123456789012:layer:Mine:2
            layer Mine (Mine) = arn:aws:lambda:eu-west-1:123456789012:layer:Mine:1 dir /app/mine
        "#]],
    );
}

#[test]
fn function_layers_replace_nothing_and_architectures_replace_globals() {
    // Lists from Globals come first and the function's own are added after them, as SAM
    // merges lists; Architectures alone is replaced, since a function has one.
    check(
        "Globals:\n  Function:\n    Architectures: [arm64]\n    Layers: [arn:aws:lambda:us-east-1:111111111111:layer:First:1]\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: app.handler\n      Architectures: [x86_64]\n      Layers: [arn:aws:lambda:us-east-1:111111111111:layer:Second:3]\n",
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
              layer arn arn:aws:lambda:us-east-1:111111111111:layer:First:1
              layer arn arn:aws:lambda:us-east-1:111111111111:layer:Second:3
        "#]],
    );
}

#[test]
fn error_layer_ref_names_a_function() {
    check(
        &format!(
            "{}      Layers:\n        - !Ref Other\n  Other:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: app.handler\n",
            FUNCTION_HEAD
        ),
        expect![[r#"
            error: /app/template.yaml:8:16: Resources.Fn.Properties.Layers[0]: 'Other' is of type AWS::Serverless::Function, not a layer; Layers takes !Ref of an AWS::Serverless::LayerVersion or AWS::Lambda::LayerVersion, or a layer version ARN
        "#]],
    );
}

#[test]
fn error_layer_logical_id_written_as_a_string() {
    check(
        &format!(
            "{}      Layers: [Mine]\n  Mine:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: mine\n",
            FUNCTION_HEAD
        ),
        expect![[r#"
            error: /app/template.yaml:7:16: Resources.Fn.Properties.Layers[0]: 'Mine' is not a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION); to use the layer Mine of this template, write !Ref Mine
        "#]],
    );
}

#[test]
fn error_layer_ref_unknown() {
    check(
        &with_function("      Layers: [!Ref Missing]\n"),
        expect![[r#"
            error: /app/template.yaml:7:21: Resources.Fn.Properties.Layers[0]: unknown name 'Missing'; it is not a parameter, a resource or a pseudo parameter such as AWS::Region
        "#]],
    );
}

#[test]
fn error_too_many_layers() {
    let arns: Vec<String> = (1..=6)
        .map(|n| format!("arn:aws:lambda:us-east-1:111111111111:layer:L{n}:1"))
        .collect();
    check(
        &with_function(&format!("      Layers: [{}]\n", arns.join(", "))),
        expect![[r#"
            error: /app/template.yaml:7:15: Resources.Fn.Properties.Layers: a function can use at most 5 layers, as on Lambda; this one lists 6
        "#]],
    );
}

#[test]
fn error_layer_content_in_s3() {
    check(
        "Resources:\n  Mine:\n    Type: AWS::Lambda::LayerVersion\n    Properties:\n      Content:\n        S3Bucket: my-bucket\n        S3Key: layer.zip\n",
        expect![[r#"
            error: /app/template.yaml:6:17: Resources.Mine.Properties.Content: layer content in S3 cannot be used locally; point it at the local folder that holds the layer's files, such as layers/shared/
        "#]],
    );
    check(
        "Resources:\n  Mine:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: s3://bucket/layer.zip\n",
        expect![[r#"
            error: /app/template.yaml:5:19: Resources.Mine.Properties.ContentUri: layer content in S3 cannot be used locally; point it at the local folder that holds the layer's files, such as layers/shared/
        "#]],
    );
}

#[test]
fn error_layer_without_content() {
    check(
        "Resources:\n  Mine:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      LayerName: mine\n",
        expect![[r#"
            error: /app/template.yaml:2:3: Resources.Mine.Properties.ContentUri: missing; point ContentUri at the folder that holds the layer's files, such as ContentUri: layers/shared/
        "#]],
    );
}

#[test]
fn error_layer_compatible_architecture_unknown() {
    check(
        "Resources:\n  Mine:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: mine\n      CompatibleArchitectures: [sparc]\n",
        expect![[r#"
            error: /app/template.yaml:6:32: Resources.Mine.Properties.CompatibleArchitectures: `sparc` is not an architecture; use x86_64 or arm64
        "#]],
    );
}

/// Issue 14: SAM's `Domain` on REST and HTTP APIs (and under Globals) becomes the domain
/// names and base path mappings SAM's transform generates, referenceable as
/// `MyApi.DomainName`, with the attributes CloudFormation gives them; certificates, DNS
/// and TLS settings are accepted and ignored.
#[test]
fn sam_domains_on_apis() {
    check(
        r#"
Parameters:
  Zone: {Type: String, Default: example.com}
Globals:
  HttpApi:
    Domain:
      CertificateArn: arn:aws:acm:eu-west-1:123456789012:certificate/abc
      EndpointConfiguration: REGIONAL
Resources:
  RestApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Domain:
        DomainName: !Sub Api.${Zone}
        CertificateArn: arn:aws:acm:us-east-1:123456789012:certificate/abc
        EndpointConfiguration: EDGE
        BasePath: [/v1, "orders/v2/"]
        Route53: {HostedZoneId: Z123}
        SecurityPolicy: TLS_1_2
        MutualTlsAuthentication: {TruststoreUri: s3://bucket/key}
  WholeDomainApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: live
      Domain:
        DomainName: rest.example.com
        BasePath: /
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      Domain:
        DomainName: http.example.com
        Surprise: true
Outputs:
  Domain: {Value: !Ref RestApi.DomainName}
  Regional: {Value: !GetAtt ApiGatewayDomainName3b5f1edaa4.RegionalDomainName}
  Sub: {Value: !Sub "https://${HttpApi.DomainName}/"}
"#,
        expect![[r#"
            api RestApi (rest, id v4fs0lluxk, stage prod)
            api WholeDomainApi (rest, id 6u5xge86h5, stage live)
            api HttpApi (http, id tfd17lmn5o, stage $default)
            domain api.example.com/v1 -> RestApi stage prod (RestApiv1BasePathMapping)
            domain api.example.com/orders/v2 -> RestApi stage prod (RestApiordersv2BasePathMapping)
            domain rest.example.com/ -> WholeDomainApi stage live (WholeDomainApiBasePathMapping)
            domain http.example.com/ -> HttpApi stage $default (HttpApiApiMapping)
            output Domain = "api.example.com"
            output Regional = "d-2saaemb9yi.execute-api.eu-west-1.amazonaws.com"
            output Sub = "https://http.example.com/"
            unsupported HttpApi.Domain.Surprise
        "#]],
    );
}

/// Issue 14: custom domains as CloudFormation resources, mapped to SAM's APIs by
/// `BasePathMapping` and `ApiMapping`, in any order, with the values `Ref` and
/// `Fn::GetAtt` give.
#[test]
fn domain_name_resources_and_mappings() {
    check(
        r#"
Resources:
  V1Mapping:
    Type: AWS::ApiGateway::BasePathMapping
    Properties:
      DomainName: !Ref RestDomain
      RestApiId: !Ref RestApi
      BasePath: v1
      Stage: !Ref RestApiprodStage
  RootMapping:
    Type: AWS::ApiGateway::BasePathMapping
    Properties:
      DomainName: api.example.com
      RestApiId: !Ref RestApi
  RestDomain:
    Type: AWS::ApiGateway::DomainName
    Properties:
      DomainName: API.example.com
      RegionalCertificateArn: arn:aws:acm:eu-west-1:123456789012:certificate/abc
      EndpointConfiguration: {Types: [REGIONAL]}
  HttpDomain:
    Type: AWS::ApiGatewayV2::DomainName
    Properties:
      DomainName: http.example.com
      DomainNameConfigurations: [{CertificateArn: arn:aws:acm:eu-west-1:123456789012:certificate/abc}]
  HttpMapping:
    Type: AWS::ApiGatewayV2::ApiMapping
    Properties:
      DomainName: !Ref HttpDomain
      ApiId: !Ref ServerlessHttpApi
      ApiMappingKey: orders/v2
      Stage: !Ref ServerlessHttpApi.Stage
  RestToHttpDomain:
    Type: AWS::ApiGatewayV2::ApiMapping
    Properties:
      DomainName: !Ref HttpDomain
      ApiId: !Ref RestApi
      Stage: prod
  RestApi:
    Type: AWS::Serverless::Api
    Properties: {StageName: prod}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Events:
        Http: {Type: HttpApi}
Outputs:
  RestDomain: {Value: !Ref RestDomain}
  Distribution: {Value: !GetAtt RestDomain.DistributionDomainName}
  DistributionZone: {Value: !GetAtt RestDomain.DistributionHostedZoneId}
  Regional: {Value: !GetAtt RestDomain.RegionalDomainName}
  RegionalZone: {Value: !GetAtt RestDomain.RegionalHostedZoneId}
  Arn: {Value: !GetAtt RestDomain.DomainNameArn}
  HttpRegional: {Value: !GetAtt HttpDomain.RegionalDomainName}
  HttpZone: {Value: !GetAtt HttpDomain.RegionalHostedZoneId}
  MappingId: {Value: !Ref HttpMapping}
  MappingAttribute: {Value: !GetAtt HttpMapping.ApiMappingId}
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
            api RestApi (rest, id v4fs0lluxk, stage prod)
            api ServerlessHttpApi (http, id ffhayohrny, stage $default)
              ANY $default -> Fn (2.0, event Http)
            domain api.example.com/v1 -> RestApi stage prod (V1Mapping)
            domain api.example.com/ -> RestApi stage from the path (RootMapping)
            domain http.example.com/orders/v2 -> ServerlessHttpApi stage $default (HttpMapping)
            domain http.example.com/ -> RestApi stage prod (RestToHttpDomain)
            output RestDomain = "API.example.com"
            output Distribution = "duvuqnwkm4rvhf.cloudfront.net"
            output DistributionZone = "Z2FDTNDATAQYW2"
            output Regional = "d-exwu5yz5sd.execute-api.eu-west-1.amazonaws.com"
            output RegionalZone = "ZR5DYCWZKNU63O"
            output Arn = "arn:aws:apigateway:eu-west-1::/domainnames/API.example.com"
            output HttpRegional = "d-89j8cgguzo.execute-api.eu-west-1.amazonaws.com"
            output HttpZone = "ZR5DYCWZKNU63O"
            output MappingId = "b17l1zkw40"
            output MappingAttribute = "b17l1zkw40"
        "#]],
    );
}

/// A mapping must name an API and a domain of the template, and its API's stage.
#[test]
fn error_domain_mappings() {
    let mapping = |properties: &str| {
        format!(
            "{FUNCTION_HEAD}      Events:
        Get: {{Type: Api, Properties: {{Path: /, Method: get}}}}
  Domain:
    Type: AWS::ApiGateway::DomainName
    Properties: {{DomainName: api.example.com}}
  Mapping:
    Type: AWS::ApiGateway::BasePathMapping
    Properties: {properties}
"
        )
    };
    let cases = [
        mapping("{DomainName: other.example.com, RestApiId: !Ref ServerlessRestApi}"),
        mapping("{DomainName: !Ref Domain, RestApiId: !Ref NoSuchApi}"),
        mapping("{DomainName: !Ref Domain, RestApiId: !Ref Fn}"),
        mapping("{DomainName: !Ref Domain, RestApiId: !Ref ServerlessRestApi, Stage: Dev}"),
        mapping("{DomainName: !Ref Domain, RestApiId: abc123}"),
        mapping("{RestApiId: !Ref ServerlessRestApi}"),
        mapping("{DomainName: !Ref Domain}"),
        mapping("{DomainName: !Ref Domain, RestApiId: !Ref ServerlessRestApi, BasePath: 'a b'}"),
        format!(
            "{FUNCTION_HEAD}      Events:
        Get: {{Type: HttpApi}}
  Domain:
    Type: AWS::ApiGatewayV2::DomainName
    Properties: {{DomainName: api.example.com}}
  Mapping:
    Type: AWS::ApiGateway::BasePathMapping
    Properties: {{DomainName: !Ref Domain, RestApiId: !Ref ServerlessHttpApi}}
"
        ),
        format!(
            "{FUNCTION_HEAD}      Events:
        Get: {{Type: HttpApi}}
  Domain:
    Type: AWS::ApiGatewayV2::DomainName
    Properties: {{DomainName: api.example.com}}
  Missing:
    Type: AWS::ApiGatewayV2::ApiMapping
    Properties: {{DomainName: !Ref Domain, ApiId: !Ref ServerlessHttpApi}}
"
        ),
        format!(
            "{FUNCTION_HEAD}  Domain:
    Type: AWS::ApiGateway::DomainName
    Properties: {{CertificateArn: arn}}
"
        ),
        format!(
            "{FUNCTION_HEAD}  Domain:
    Type: AWS::ApiGatewayV2::DomainName
    Properties: {{DomainName: 'https://api.example.com/'}}
"
        ),
        format!(
            "{FUNCTION_HEAD}  First:
    Type: AWS::ApiGateway::DomainName
    Properties: {{DomainName: api.example.com}}
  Second:
    Type: AWS::ApiGatewayV2::DomainName
    Properties: {{DomainName: API.example.com}}
"
        ),
        "Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Domain: {BasePath: [v1]}
"
        .to_owned(),
        "Resources:
  One:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Domain: {DomainName: api.example.com, BasePath: [v1]}
  Two:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Domain: {DomainName: api.example.com, BasePath: [/v1/]}
"
        .to_owned(),
    ];
    let rendered: Vec<String> = cases.iter().map(|case| render_result(case)).collect();
    expect![[r#"
        error: /app/template.yaml:14:30: Resources.Mapping.Properties.DomainName: 'other.example.com' is not a custom domain of this template; its domains are api.example.com
        error: /app/template.yaml:14:59: Resources.Mapping.Properties.RestApiId: unknown API 'NoSuchApi'; declare it as an AWS::Serverless::Api or AWS::Serverless::HttpApi
        error: /app/template.yaml:14:59: Resources.Mapping.Properties.RestApiId: 'Fn' is of type AWS::Serverless::Function; Serverful maps custom domains to AWS::Serverless::Api and AWS::Serverless::HttpApi APIs
        error: /app/template.yaml:14:85: Resources.Mapping.Properties.Stage: 'Dev' is not a stage of ServerlessRestApi, whose stage is 'Prod'
        error: /app/template.yaml:14:54: Resources.Mapping.Properties.RestApiId: expected !Ref of an API in this template, found 'abc123'
        error: /app/template.yaml:12:3: Resources.Mapping.Properties.DomainName: missing; an AWS::ApiGateway::BasePathMapping needs the custom domain it maps, such as !Ref MyDomain
        error: /app/template.yaml:12:3: Resources.Mapping.Properties.RestApiId: missing; an AWS::ApiGateway::BasePathMapping needs the API it maps to, such as !Ref MyApi
        error: /app/template.yaml:14:88: Resources.Mapping.Properties.BasePath: 'a b' is not a base path; use path segments of letters, digits and $-_.+!*'(), such as v1 or orders/v2
        error: /app/template.yaml:14:59: Resources.Mapping.Properties.RestApiId: 'ServerlessHttpApi' is an HTTP API; map it with an AWS::ApiGatewayV2::ApiMapping
        error: /app/template.yaml:12:3: Resources.Missing.Properties.Stage: missing; an AWS::ApiGatewayV2::ApiMapping needs the stage it maps to, such as !Ref MyApi.Stage
        error: /app/template.yaml:7:3: Resources.Domain.Properties.DomainName: missing; an AWS::ApiGateway::DomainName needs the host name clients call, such as api.example.com
        error: /app/template.yaml:9:30: Resources.Domain.Properties.DomainName: 'https://api.example.com/' is not a domain name; use a host name such as api.example.com
        error: /app/template.yaml:12:30: Resources.Second.Properties.DomainName: the domain 'api.example.com' is already declared by First; a domain name can be created once, then mapped to several APIs by base path
        error: /app/template.yaml:6:15: Resources.Api.Properties.Domain.DomainName: missing; a Domain needs the host name clients call, such as api.example.com
        error: /app/template.yaml:11:15: Resources.Twov1BasePathMapping: the base path 'v1' of api.example.com is already mapped by Onev1BasePathMapping; give each API its own base path
    "#]]
    .assert_eq(&rendered.concat());
}

/// Issue 14: `AutoPublishAlias` (also under Globals) makes the version and alias SAM's
/// transform makes, referenceable as `MyFunction.Version` and `MyFunction.Alias`; `Ref`
/// gives their ARNs with the version number or alias name.
#[test]
fn auto_publish_alias_makes_a_version_and_an_alias() {
    check(
        r#"
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    AutoPublishAlias: live
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      AutoPublishCodeSha256: 0123abcd
      VersionDescription: the first one
      DeploymentPreference: {Type: Canary10Percent5Minutes}
      Environment:
        Variables:
          SELF_ALIAS: !Ref Fn.Alias
          SELF_VERSION: !Sub "${Fn.Version}"
  Other:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: other-function
      AutoPublishAlias: prod-2
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      AutoPublishAlias: !Ref AWS::NoValue
Outputs:
  Alias: {Value: !Ref Fn.Alias}
  AliasByLogicalId: {Value: !GetAtt FnAliaslive.AliasArn}
  Version: {Value: !Ref Fn.Version}
  OtherAlias: {Value: !Ref Other.Alias}
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app/src, 3s, 128 MB, x86_64
              env SELF_ALIAS="arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ:live"
              env SELF_VERSION="arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ:1"
              auto-publish alias live
              auto-publish code sha256 0123abcd
            function Other (other-function): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
              auto-publish alias prod-2
            function Plain (demo-Plain-4LF9ZG5J4HUQ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
            output Alias = "arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ:live"
            output AliasByLogicalId = "arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ:live"
            output Version = "arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ:1"
            output OtherAlias = "arn:aws:lambda:eu-west-1:123456789012:function:other-function:prod-2"
            version FnVersiona7631eed40 of Fn: 1 (auto-published)
              description "the first one"
              code sha256 0123abcd
            version OtherVersionf398a7ecfd of Other: 1 (auto-published)
            alias FnAliaslive of Fn: live -> FnVersiona7631eed40
            alias OtherAliasprod2 of Other: prod-2 -> OtherVersionf398a7ecfd
            unsupported Fn.DeploymentPreference
        "#]],
    );
}

/// Issue 14: `AWS::Lambda::Version` and `AWS::Lambda::Alias` resources: versions are
/// numbered in template order per function (or as the platform says), and an alias points
/// at a version by `!GetAtt`, by number or at `$LATEST`, with a weighted second version.
#[test]
fn version_and_alias_resources() {
    check(
        r#"
# version SecondVersion=7
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.12, Handler: app.handler}
  FirstVersion:
    Type: AWS::Lambda::Version
    Properties:
      FunctionName: !Ref Fn
      Description: first
      CodeSha256: abc=
  SecondVersion:
    Type: AWS::Lambda::Version
    Properties:
      FunctionName: !GetAtt Fn.Arn
      ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 2}
  ThirdVersion:
    Type: AWS::Lambda::Version
    Properties: {FunctionName: !Sub "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:${Fn}:$LATEST"}
  Live:
    Type: AWS::Lambda::Alias
    Properties:
      FunctionName: !Ref Fn
      Name: live
      Description: most traffic on the second version
      FunctionVersion: !GetAtt SecondVersion.Version
      RoutingConfig:
        AdditionalVersionWeights:
          - FunctionVersion: {"Fn::GetAtt": [FirstVersion, Version]}
            FunctionWeight: 0.25
  Latest:
    Type: AWS::Lambda::Alias
    Properties: {FunctionName: !Ref Fn, Name: dev, FunctionVersion: $LATEST}
  ByNumber:
    Type: AWS::Lambda::Alias
    Properties: {FunctionName: !Ref Fn, Name: eight, FunctionVersion: "8"}
  Old:
    Type: AWS::Lambda::Alias
    Properties: {FunctionName: !Ref Fn, Name: old, FunctionVersion: 3}
Outputs:
  First: {Value: !Ref FirstVersion}
  SecondNumber: {Value: !GetAtt SecondVersion.Version}
  Third: {Value: !Ref ThirdVersion}
  Live: {Value: !Ref Live}
  LiveArn: {Value: !GetAtt Live.AliasArn}
"#,
        expect![[r#"
            function Fn (demo-Fn-WKFMDCWE0HSJ): python3.12 "app.handler" dir /app, 3s, 128 MB, x86_64
            output First = "arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ:8"
            output SecondNumber = "7"
            output Third = "arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ:9"
            output Live = "arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ:live"
            output LiveArn = "arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ:live"
            version FirstVersion of Fn: 8
              description "first"
              code sha256 abc=
            version SecondVersion of Fn: 7
            version ThirdVersion of Fn: 9
            alias Live of Fn: live -> SecondVersion
              and FirstVersion weight 0.25
              description "most traffic on the second version"
            alias Latest of Fn: dev -> $LATEST
            alias ByNumber of Fn: eight -> FirstVersion
            alias Old of Fn: old -> number 3
            unsupported SecondVersion.ProvisionedConcurrencyConfig (provisioned capacity)
        "#]],
    );
}

/// Aliases that Lambda would refuse, and versions of functions the template does not have.
#[test]
fn error_versions_and_aliases() {
    let with_versions = |alias: &str| {
        format!(
            "{FUNCTION_HEAD}  Other:
    Type: AWS::Serverless::Function
    Properties: {{Runtime: python3.12, Handler: app.handler}}
  V1:
    Type: AWS::Lambda::Version
    Properties: {{FunctionName: !Ref Fn}}
  V2:
    Type: AWS::Lambda::Version
    Properties: {{FunctionName: !Ref Fn}}
  OtherVersion:
    Type: AWS::Lambda::Version
    Properties: {{FunctionName: !Ref Other}}
  Alias:
    Type: AWS::Lambda::Alias
    Properties:
      FunctionName: !Ref Fn
      Name: live
{alias}"
        )
    };
    let routed = |entries: &str| {
        with_versions(&format!(
            "      FunctionVersion: !GetAtt V1.Version
      RoutingConfig:
        AdditionalVersionWeights: {entries}
"
        ))
    };
    let cases = [
        with_versions("      FunctionVersion: !GetAtt OtherVersion.Version\n"),
        routed("[{FunctionVersion: !GetAtt OtherVersion.Version, FunctionWeight: 0.5}]"),
        routed("[{FunctionVersion: !GetAtt V2.Version, FunctionWeight: 1.5}]"),
        routed("[{FunctionVersion: !GetAtt V2.Version, FunctionWeight: -0.1}]"),
        routed("[{FunctionVersion: !GetAtt V2.Version, FunctionWeight: lots}]"),
        routed("[{FunctionVersion: !GetAtt V2.Version, FunctionWeight: 0.5}, {FunctionVersion: 3, FunctionWeight: 0.6}]"),
        routed("[{FunctionVersion: !GetAtt V1.Version, FunctionWeight: 0.5}]"),
        routed("[{FunctionVersion: $LATEST, FunctionWeight: 0.5}]"),
        routed("[{FunctionVersion: !GetAtt V2.Version}]"),
        with_versions("      FunctionVersion: !Ref V1\n"),
        with_versions(""),
        with_versions("      FunctionVersion: $LATEST\n  Again:\n    Type: AWS::Lambda::Alias\n    Properties: {FunctionName: !Ref Fn, Name: live, FunctionVersion: $LATEST}\n"),
        with_function(
            "  V:\n    Type: AWS::Lambda::Version\n    Properties: {FunctionName: not-a-function}\n",
        ),
        with_function("  V:\n    Type: AWS::Lambda::Version\n    Properties: {Description: no function}\n"),
        with_function(
            "  A:\n    Type: AWS::Lambda::Alias\n    Properties: {FunctionName: !Ref Fn, Name: '123', FunctionVersion: $LATEST}\n",
        ),
        with_function("      AutoPublishAlias: live now\n"),
        with_function("      Environment: {Variables: {A: !Ref Fn.Alias}}\n"),
    ];
    let rendered: Vec<String> = cases.iter().map(|case| render_result(case)).collect();
    expect![[r#"
        error: /app/template.yaml:24:32: Resources.Alias.Properties.FunctionVersion: OtherVersion is a version of Other, not of Fn; an alias points at versions of its own function
        error: /app/template.yaml:26:62: Resources.Alias.Properties.RoutingConfig.AdditionalVersionWeights[0].FunctionVersion: OtherVersion is a version of Other, not of Fn; an alias points at versions of its own function
        error: /app/template.yaml:26:90: Resources.Alias.Properties.RoutingConfig.AdditionalVersionWeights[0].FunctionWeight: '1.5' is not a weight; use a number from 0.0 to 1.0, the share of invocations this version takes
        error: /app/template.yaml:26:90: Resources.Alias.Properties.RoutingConfig.AdditionalVersionWeights[0].FunctionWeight: '-0.1' is not a weight; use a number from 0.0 to 1.0, the share of invocations this version takes
        error: /app/template.yaml:26:90: Resources.Alias.Properties.RoutingConfig.AdditionalVersionWeights[0].FunctionWeight: 'lots' is not a weight; use a number from 0.0 to 1.0, the share of invocations this version takes
        error: /app/template.yaml:26:96: Resources.Alias.Properties.RoutingConfig.AdditionalVersionWeights: Lambda routes an alias to at most one additional version, found 2
        error: /app/template.yaml:26:36: Resources.Alias.Properties.RoutingConfig: the additional version is the alias's own FunctionVersion; name another version of Fn
        error: /app/template.yaml:26:36: Resources.Alias.Properties: an alias that splits invocations between versions points at published versions only, not $LATEST
        error: /app/template.yaml:26:36: Resources.Alias.Properties.RoutingConfig.AdditionalVersionWeights[0]: an entry needs both FunctionVersion and FunctionWeight
        error: /app/template.yaml:24:29: Resources.Alias.Properties.FunctionVersion: expected a version number, $LATEST or !GetAtt MyVersion.Version, found 'arn:aws:lambda:eu-west-1:123456789012:function:demo-Fn-WKFMDCWE0HSJ:1'
        error: /app/template.yaml:19:3: Resources.Alias.Properties.FunctionVersion: missing; an AWS::Lambda::Alias needs the version it points to, such as !GetAtt MyVersion.Version or $LATEST
        error: /app/template.yaml:27:47: Resources.Again: Fn already has an alias named 'live' (Alias); alias names are unique per function
        error: /app/template.yaml:9:32: Resources.V.Properties.FunctionName: 'not-a-function' is not a function of this template; name an AWS::Serverless::Function, such as !Ref MyFunction
        error: /app/template.yaml:7:3: Resources.V.Properties.FunctionName: missing; an AWS::Lambda::Version needs the function it belongs to, such as !Ref MyFunction
        error: /app/template.yaml:9:47: Resources.A.Properties.Name: '123' is not an alias name; use letters, digits, - and _ (not only digits, which name versions), such as live
        error: /app/template.yaml:7:25: Resources.Fn.Properties.AutoPublishAlias: 'live now' is not an alias name; use letters, digits, - and _ (not only digits, which name versions), such as live
        error: /app/template.yaml:7:41: Resources.Fn.Properties.Environment.Variables.A: 'Fn.Alias' is not a property SAM makes referenceable here; MyFunction.Alias and MyFunction.Version need AutoPublishAlias on the function, MyApi.DomainName needs Domain on the API
    "#]]
    .assert_eq(&rendered.concat());
}

mod api_resources;
mod auth;
mod bucket_notifications;
mod buckets;
mod function_urls;
mod openapi_auth;
mod resource_authorizers;
mod schedules;
mod websockets;
/// Issue 15: DynamoDB stream mappings from SAM events and `AWS::Lambda::EventSourceMapping`,
/// with Lambda's defaults and limits.
#[test]
fn dynamodb_stream_mappings() {
    check(
        r#"
Resources:
  Projector:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Events.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            MaximumBatchingWindowInSeconds: 1
            MaximumRetryAttempts: 3
            MaximumRecordAgeInSeconds: 60
            BisectBatchOnFunctionError: true
            ParallelizationFactor: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
            FilterCriteria:
              Filters:
                - Pattern: '{"eventName": ["INSERT"]}'
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt Failures.Arn
            TumblingWindowInSeconds: 30
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Projector
      EventSourceArn: !GetAtt Events.StreamArn
      StartingPosition: AT_TIMESTAMP
      StartingPositionTimestamp: 1700000000
      Enabled: false
  QueueMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Projector
      EventSourceArn: !GetAtt Failures.Arn
  Events:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: events
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Failures:
    Type: AWS::SQS::Queue
    Properties: {QueueName: failures}
"#,
        expect![[r#"
            function Projector (demo-Projector-GA4B9YTXUH5N): nodejs20.x "index.handler" dir /app, 3s, 128 MB, x86_64
            table Events (events) = {"BillingMode":"PAY_PER_REQUEST","StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_IMAGE"},"TableName":"events"}
            stream mapping Projector/Changes -> Projector from table events (arn:aws:dynamodb:eu-west-1:123456789012:table/events/stream/1970-01-01T00:00:00.000) at TRIM_HORIZON: batch 10, window 1s, retries 3, age 60s, bisect true, parallel 2, tumbling 30s, item failures true, filters ["{\"eventName\": [\"INSERT\"]}"], on failure Some("arn:aws:sqs:eu-west-1:123456789012:failures"), enabled true
            stream mapping Mapping -> Projector from table events (arn:aws:dynamodb:eu-west-1:123456789012:table/events/stream/1970-01-01T00:00:00.000) at AT_TIMESTAMP 1700000000: batch 100, window 0s, retries -1, age -1s, bisect false, parallel 1, tumbling 0s, item failures false, filters [], on failure None, enabled false
            queue Failures (failures) attributes {} tags {}
            queue mapping QueueMapping -> Projector from arn:aws:sqs:eu-west-1:123456789012:failures: batch 10, window 0s, item failures false, concurrency None, filters [], enabled true
        "#]],
    );
}

#[test]
fn bad_dynamodb_stream_mappings() {
    let template = |properties: &str| {
        format!(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: nodejs20.x\n      Handler: index.handler\n      Events:\n        S:\n          Type: DynamoDB\n          Properties: {properties}\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties: {{TableName: t}}\n"
        )
    };
    let outcomes: Vec<String> = [
        "{StartingPosition: LATEST}",
        "{Stream: !GetAtt T.StreamArn}",
        "{Stream: !GetAtt T.StreamArn, StartingPosition: AT_SEQUENCE_NUMBER}",
        "{Stream: !GetAtt T.StreamArn, StartingPosition: AT_TIMESTAMP}",
        "{Stream: !GetAtt T.StreamArn, StartingPosition: LATEST, BatchSize: 0}",
        "{Stream: !GetAtt T.StreamArn, StartingPosition: LATEST, MaximumRecordAgeInSeconds: 30}",
        "{Stream: !GetAtt T.StreamArn, StartingPosition: LATEST, FilterCriteria: {Filters: [{Pattern: '{\"eventName\": \"INSERT\"}'}]}}",
        "{Stream: !GetAtt T.StreamArn, StartingPosition: LATEST, DestinationConfig: {OnFailure: {Destination: !GetAtt F.Arn}}}",
        "{Stream: arn:aws:sqs:eu-west-1:123456789012:q, StartingPosition: LATEST}",
    ]
    .iter()
    .map(|properties| render_result(&template(properties)))
    .collect();
    expect![[r#"
        error: /app/template.yaml:10:23: Resources.F.Properties.Events.S.Properties.Stream: missing; name the table's stream, such as !GetAtt MyTable.StreamArn
        error: /app/template.yaml:10:23: Resources.F.Properties.Events.S.Properties.StartingPosition: missing; a DynamoDB stream mapping needs TRIM_HORIZON, LATEST or AT_TIMESTAMP
        error: /app/template.yaml:10:71: Resources.F.Properties.Events.S.Properties.StartingPosition: 'AT_SEQUENCE_NUMBER' is not a starting position of a DynamoDB stream; use TRIM_HORIZON, LATEST or AT_TIMESTAMP
        error: /app/template.yaml:10:71: Resources.F.Properties.Events.S.Properties.StartingPositionTimestamp: missing; AT_TIMESTAMP needs the time to start from
        error: /app/template.yaml:10:90: Resources.F.Properties.Events.S.Properties.BatchSize: 0 is out of range; use a whole number from 1 to 10000
        error: /app/template.yaml:10:106: Resources.F.Properties.Events.S.Properties.MaximumRecordAgeInSeconds: 30 is out of range; use -1 (records never expire) or 60 to 604800
        error: /app/template.yaml:10:116: Resources.F.Properties.Events.S.Properties.FilterCriteria.Filters[0].Pattern: Invalid filter pattern definition. Event pattern is not valid. Reason: "eventName" must be an object or an array
        error: /app/template.yaml:10:132: Resources.F.Properties.Events.S.Properties.DestinationConfig.OnFailure.Destination: 'arn:aws:lambda:eu-west-1:123456789012:function:demo-F-UCWEML0W6R64' is not a valid destination for a DynamoDB stream; use an Amazon SQS queue, Amazon SNS topic or Amazon S3 bucket ARN (Lambda functions are not stream failure destinations)
        error: /app/template.yaml:10:32: Resources.F.Properties.Events.S.Properties.Stream: 'arn:aws:sqs:eu-west-1:123456789012:q' is not a DynamoDB stream ARN; use !GetAtt MyTable.StreamArn
    "#]]
    .assert_eq(&outcomes.concat());
}

#[test]
fn an_event_source_mapping_names_a_function_of_the_template() {
    check(
        r#"
Resources:
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: nowhere
      EventSourceArn: !GetAtt T.StreamArn
      StartingPosition: LATEST
  T:
    Type: AWS::DynamoDB::Table
    Properties: {TableName: t}
"#,
        expect![[r#"
            error: /app/template.yaml:6:21: Resources.Mapping.Properties.FunctionName: Function not found: 'nowhere' is not a function of this template
        "#]],
    );
}

#[test]
fn queues_topics_subscriptions_and_queue_mappings() {
    check(
        r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 50
            MaximumBatchingWindowInSeconds: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig: {MaximumConcurrency: 5}
            FilterCriteria:
              Filters:
                - Pattern: '{"body": {"kind": ["order"]}}'
        Direct:
          Type: SNS
          Properties:
            Topic: !Ref Orders
            FilterPolicy: {kind: [big]}
            FilterPolicyScope: MessageAttributes
        Buffered:
          Type: SNS
          Properties:
            Topic: !Ref Orders
            SqsSubscription: {BatchSize: 3}
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Dead.Arn
        maxReceiveCount: 3
      Tags: [{Key: team, Value: shop}]
  Dead:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: dead.fifo
      FifoQueue: true
      ContentBasedDeduplication: true
  Orders:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: Orders
      Subscription:
        - {Protocol: sqs, Endpoint: !GetAtt Jobs.Arn}
  Audit:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Orders
      Protocol: https
      Endpoint: https://example.com/hook
      RawMessageDelivery: true
  Policy:
    Type: AWS::SQS::QueuePolicy
    Properties: {Queues: [!Ref Jobs], PolicyDocument: {}}
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Worker
      EventSourceArn: !GetAtt Dead.Arn
      Enabled: false
"#,
        expect![[r#"
            function Worker (demo-Worker-UPAGFNTBMWTP): nodejs20.x "index.handler" dir /app, 3s, 128 MB, x86_64
            queue WorkerBufferedQueue (demo-WorkerBufferedQueue-C959PRONAWYS) attributes {} tags {}
            queue Jobs (demo-Jobs-4G5U9OYEZRXW) attributes {"RedrivePolicy": "{\"deadLetterTargetArn\":\"arn:aws:sqs:eu-west-1:123456789012:dead.fifo\",\"maxReceiveCount\":3}", "VisibilityTimeout": "60"} tags {"team": "shop"}
            queue Dead (dead.fifo) attributes {"ContentBasedDeduplication": "true", "FifoQueue": "true"} tags {}
            topic Orders (demo-Orders-TIAY1GQMNVSJ) attributes {"DisplayName": "Orders"} tags {}
            subscription Worker/Direct: arn:aws:sns:eu-west-1:123456789012:demo-Orders-TIAY1GQMNVSJ -> lambda arn:aws:lambda:eu-west-1:123456789012:function:demo-Worker-UPAGFNTBMWTP {"FilterPolicy": "{\"kind\":[\"big\"]}", "FilterPolicyScope": "MessageAttributes"}
            subscription Worker/Buffered: arn:aws:sns:eu-west-1:123456789012:demo-Orders-TIAY1GQMNVSJ -> sqs arn:aws:sqs:eu-west-1:123456789012:demo-WorkerBufferedQueue-C959PRONAWYS {}
            subscription Orders/Subscription[0]: arn:aws:sns:eu-west-1:123456789012:demo-Orders-TIAY1GQMNVSJ -> sqs arn:aws:sqs:eu-west-1:123456789012:demo-Jobs-4G5U9OYEZRXW {}
            subscription Audit: arn:aws:sns:eu-west-1:123456789012:demo-Orders-TIAY1GQMNVSJ -> https https://example.com/hook {"RawMessageDelivery": "true"}
            queue mapping Worker/Jobs -> Worker from arn:aws:sqs:eu-west-1:123456789012:demo-Jobs-4G5U9OYEZRXW: batch 50, window 2s, item failures true, concurrency Some(5), filters ["{\"body\": {\"kind\": [\"order\"]}}"], enabled true
            queue mapping Worker/Buffered -> Worker from arn:aws:sqs:eu-west-1:123456789012:demo-WorkerBufferedQueue-C959PRONAWYS: batch 3, window 0s, item failures false, concurrency None, filters [], enabled true
            queue mapping Mapping -> Worker from arn:aws:sqs:eu-west-1:123456789012:dead.fifo: batch 10, window 0s, item failures false, concurrency None, filters [], enabled false
        "#]],
    );
}

#[test]
fn bad_queues_and_queue_mappings() {
    let outcomes: Vec<String> = [
        "  Q:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: plain, FifoQueue: true}\n",
        "  Q:\n    Type: AWS::SQS::Queue\n    Properties: {Colour: blue}\n",
        "  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: nodejs20.x\n      Handler: index.handler\n      Events:\n        E: {Type: SQS, Properties: {Queue: arn:aws:sqs:us-east-1:123456789012:q, BatchSize: 50}}\n",
        "  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: nodejs20.x\n      Handler: index.handler\n      Events:\n        E: {Type: SQS, Properties: {Queue: not-an-arn}}\n",
        "  T:\n    Type: AWS::SNS::Subscription\n    Properties: {TopicArn: arn:aws:sns:us-east-1:123456789012:t, Protocol: pigeon, Endpoint: x}\n",
    ]
    .iter()
    .map(|resources| {
        render_result(&format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n{resources}"
        ))
    })
    .collect();
    expect![[r#"
        error: /app/template.yaml:5:17: Resources.Q.Properties: a FIFO queue's name must end with .fifo, and only a FIFO queue's may (QueueName plain, FifoQueue true)
        error: /app/template.yaml:5:18: Resources.Q.Properties.Colour: not a property of AWS::SQS::Queue; the properties are QueueName, Tags and ContentBasedDeduplication, DeduplicationScope, DelaySeconds, FifoQueue, FifoThroughputLimit, KmsDataKeyReusePeriodSeconds, KmsMasterKeyId, MaximumMessageSize, MessageRetentionPeriod, ReceiveMessageWaitTimeSeconds, RedriveAllowPolicy, RedrivePolicy, SqsManagedSseEnabled, VisibilityTimeout
        error: /app/template.yaml:9:93: Resources.F.Properties.Events.E.Properties.BatchSize: Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10
        error: /app/template.yaml:9:44: Resources.F.Properties.Events.E.Properties.Queue: 'not-an-arn' is not an SQS queue ARN; use !GetAtt MyQueue.Arn
        error: /app/template.yaml:5:76: Resources.T.Properties.Protocol: Invalid parameter: Protocol 'pigeon'; use lambda, sqs, http or https
    "#]].assert_eq(&outcomes.concat());
}

#[test]
fn cors_settings_of_rest_and_http_apis() {
    check(
        r#"
Transform: AWS::Serverless-2016-10-31
Globals:
  HttpApi:
    CorsConfiguration: true
Resources:
  Shop:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Cors:
        AllowOrigin: "'https://shop.example'"
        AllowMethods: "'GET,POST'"
        AllowHeaders: "'content-type,x-api-key'"
        MaxAge: "'600'"
        AllowCredentials: true
  Strict:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: [https://app.example]
        AllowMethods: [GET, PUT]
        ExposeHeaders: [x-total]
        MaxAge: 300
        AllowCredentials: true
  Open:
    Type: AWS::Serverless::HttpApi
"#,
        expect![[r#"
            api Shop (rest, id z12mz9hcts, stage v1)
              cors Cors { allow_origins: ["https://shop.example"], allow_methods: ["GET", "POST"], allow_headers: ["content-type", "x-api-key"], expose_headers: [], max_age: Some(600), allow_credentials: true }
            api Strict (http, id eyp2bovyk4, stage $default)
              cors Cors { allow_origins: ["https://app.example"], allow_methods: ["GET", "PUT"], allow_headers: [], expose_headers: ["x-total"], max_age: Some(300), allow_credentials: true }
            api Open (http, id 3powl6i7h7, stage $default)
              cors Cors { allow_origins: ["*"], allow_methods: ["*"], allow_headers: ["*"], expose_headers: [], max_age: None, allow_credentials: false }
        "#]],
    );
    let bad: Vec<String> = [
        "  A:\n    Type: AWS::Serverless::Api\n    Properties: {StageName: v1, Cors: '*'}\n",
        "  A:\n    Type: AWS::Serverless::Api\n    Properties: {StageName: v1, Cors: {AllowMethods: \"'GET'\"}}\n",
        "  H:\n    Type: AWS::Serverless::HttpApi\n    Properties: {CorsConfiguration: {AllowOrigins: ['*'], AllowCredentials: true}}\n",
        "  H:\n    Type: AWS::Serverless::HttpApi\n    Properties: {CorsConfiguration: {AllowOrigin: ['*']}}\n",
    ]
    .iter()
    .map(|resources| {
        render_result(&format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n{resources}"
        ))
    })
    .collect();
    expect![[r#"
        error: /app/template.yaml:5:39: Resources.A.Properties.Cors: '*' must be quoted in single quotes inside the string, as SAM passes it to API Gateway: "'*'"
        error: /app/template.yaml:5:39: Resources.A.Properties.Cors.AllowOrigin: missing; name the allowed origin, such as "'*'"
        error: /app/template.yaml:5:37: Resources.H.Properties.CorsConfiguration: AllowCredentials cannot be true with AllowOrigins "*" (API Gateway refuses it); list the origins
        error: /app/template.yaml:5:38: Resources.H.Properties.CorsConfiguration.AllowOrigin: not a CorsConfiguration setting; use AllowOrigins, AllowHeaders, AllowMethods, ExposeHeaders, MaxAge or AllowCredentials
    "#]].assert_eq(&bad.concat());
}

mod api_keys;
mod request_models;
