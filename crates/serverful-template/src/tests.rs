//! Snapshot tests: each feeds a template to `load_str` and compares the rendered result.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use expect_test::{expect, Expect};

use crate::{load_str, ApiKind, App, FunctionCode, LoadOptions, PayloadFormat};

/// Loads `template` as `/app/template.yaml` and compares the rendered app or error.
///
/// Leading lines `# override Name=Value` become `--parameter-overrides`.
fn check(template: &str, expect: Expect) {
    expect.assert_eq(&render_result(template));
}

fn render_result(template: &str) -> String {
    let mut options = LoadOptions {
        parameter_overrides: BTreeMap::new(),
        region: "eu-west-1".to_owned(),
        account_id: "123456789012".to_owned(),
        stack_name: "demo".to_owned(),
    };
    for line in template.lines() {
        let Some(assignment) = line.strip_prefix("# override ") else {
            break;
        };
        let (name, value) = assignment
            .split_once('=')
            .expect("test override lines look like Name=Value");
        options
            .parameter_overrides
            .insert(name.to_owned(), value.to_owned());
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
        if !function.metadata.is_null() {
            writeln!(out, "  metadata {}", function.metadata).expect("writing to a String");
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
    for output in &app.outputs {
        writeln!(out, "output {} = {:?}", output.name, output.value).expect("writing to a String");
        if let Some(description) = &output.description {
            writeln!(out, "  {description:?}").expect("writing to a String");
        }
    }
    for item in &app.unsupported {
        writeln!(out, "unsupported {item}").expect("writing to a String");
    }
    out
}

#[test]
fn hello_world_fixture() {
    check(
        include_str!("../test_data/hello.yaml"),
        expect![[r#"
            description: "hello-world\nSample SAM Template for hello-world\n"
            function HelloWorldFunction (HelloWorldFunction): python3.12 "app.lambda_handler" dir /app/hello_world, 10s, 256 MB, x86_64
              env DEBUG="true"
              env STAGE="local"
              env TABLE_NAME="demo-items"
              metadata {"BuildMethod":"makefile","Serverful":{"Network":"none","Region":"eu-west-1","Retries":2}}
            api ServerlessRestApi (rest, id t9deqls5s9, stage Prod)
              binary image/png
              GET /hello -> HelloWorldFunction (1.0, event HelloWorld)
              ANY /users/{id} -> HelloWorldFunction (1.0, event User)
            api ServerlessHttpApi (http, id ffhayohrny, stage $default)
              ANY $default -> HelloWorldFunction (2.0, event Http)
            output HelloWorldApi = "https://t9deqls5s9.execute-api.eu-west-1.amazonaws.com/Prod/hello/"
              "API Gateway endpoint URL for Prod stage for Hello World function"
            output HelloWorldFunction = "arn:aws:lambda:eu-west-1:123456789012:function:HelloWorldFunction"
              "Hello World Lambda Function ARN"
            output HelloWorldFunctionIamRole = "arn:aws:iam::123456789012:role/HelloWorldFunctionRole"
              "Implicit IAM Role created for Hello World function"
            output HttpEndpoint = "https://ffhayohrny.execute-api.eu-west-1.amazonaws.com"
            unsupported HelloWorldFunction.Policies
            unsupported HelloWorldFunction.Events.Nightly (Schedule)
            unsupported ItemsTable (AWS::Serverless::SimpleTable)
        "#]],
    );
}
