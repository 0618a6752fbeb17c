//! Snapshot tests of Lambda function URLs: SAM's `FunctionUrlConfig` (and in `Globals`),
//! `AWS::Lambda::Url`, their `Ref`/`GetAtt` in Outputs, and the errors of bad settings.

use std::fmt::Write as _;
use std::path::Path;

use expect_test::{expect, Expect};

use crate::load_str;

/// Loads a template of `globals` (indented under `Globals:`, may be empty) and `resources`
/// (indented under `Resources:`, after an `Echo` function with `echo_properties`) and
/// renders the function URLs, the Outputs and the unsupported list, or the error.
fn check(globals: &str, echo_properties: &str, resources: &str, expect: Expect) {
    let globals = if globals.is_empty() {
        String::new()
    } else {
        format!("Globals:\n{globals}")
    };
    let template = format!(
        "Transform: AWS::Serverless-2016-10-31\n{globals}Resources:\n  Echo:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: nodejs20.x\n      Handler: app.handler\n      FunctionName: echo-fn\n{echo_properties}{resources}"
    );
    let options = super::demo_options();
    let rendered = match load_str(&template, Path::new("/app/template.yaml"), &options) {
        Err(error) => format!("error: {error}\n"),
        Ok(app) => {
            let mut out = String::new();
            for url in &app.function_urls {
                writeln!(
                    out,
                    "url {} id={} -> {}{} auth={:?} mode={:?}",
                    url.logical_id,
                    url.url_id,
                    url.function,
                    url.qualifier
                        .as_deref()
                        .map(|qualifier| format!(":{qualifier}"))
                        .unwrap_or_default(),
                    url.auth_type,
                    url.invoke_mode
                )
                .expect("writing to a String");
                if let Some(cors) = &url.cors {
                    writeln!(out, "  cors {cors:?}").expect("writing to a String");
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

#[test]
fn sam_function_url_config_makes_a_url_resource() {
    check(
        "",
        "      FunctionUrlConfig:\n        AuthType: NONE\n        InvokeMode: RESPONSE_STREAM\n        Cors:\n          AllowOrigins: [https://app.example]\n          AllowMethods: [GET, POST]\n          AllowHeaders: [x-custom]\n          ExposeHeaders: [x-out]\n          MaxAge: 300\n          AllowCredentials: true\n",
        "Outputs:\n  Url:\n    Value: !GetAtt EchoUrl.FunctionUrl\n  Arn:\n    Value: !GetAtt EchoUrl.FunctionArn\n  Ref:\n    Value: !Ref EchoUrl\n",
        expect![[r#"
            url EchoUrl id=hk39xtmj6z1okkyv9wa36274v0wqldpt -> Echo auth=None mode=ResponseStream
              cors Cors { allow_origins: ["https://app.example"], allow_methods: ["GET", "POST"], allow_headers: ["x-custom"], expose_headers: ["x-out"], max_age: Some(300), allow_credentials: true }
            output Url = https://hk39xtmj6z1okkyv9wa36274v0wqldpt.lambda-url.eu-west-1.on.aws/
            output Arn = arn:aws:lambda:eu-west-1:123456789012:function:echo-fn
            output Ref = arn:aws:lambda:eu-west-1:123456789012:function:echo-fn
        "#]],
    );
}

#[test]
fn globals_url_config_and_auto_publish_alias() {
    check(
        "  Function:\n    FunctionUrlConfig:\n      AuthType: AWS_IAM\n",
        "      AutoPublishAlias: live\n",
        "Outputs:\n  Arn:\n    Value: !Ref EchoUrl\n",
        expect![[r#"
            url EchoUrl id=hk39xtmj6z1okkyv9wa36274v0wqldpt -> Echo:live auth=AwsIam mode=Buffered
            output Arn = arn:aws:lambda:eu-west-1:123456789012:function:echo-fn:live
        "#]],
    );
}

#[test]
fn lambda_url_resource_with_an_alias_target() {
    check(
        "",
        "",
        "  EchoAlias:\n    Type: AWS::Lambda::Alias\n    Properties:\n      FunctionName: !Ref Echo\n      FunctionVersion: $LATEST\n      Name: prod\n  PublicUrl:\n    Type: AWS::Lambda::Url\n    Properties:\n      TargetFunctionArn: !Ref EchoAlias\n      AuthType: AWS_IAM\nOutputs:\n  Url:\n    Value: !GetAtt PublicUrl.FunctionUrl\n  Ref:\n    Value: !Ref PublicUrl\n",
        expect![[r#"
            url PublicUrl id=93omfulfaazwkydb5hgog80v7t9697rg -> Echo:prod auth=AwsIam mode=Buffered
            output Url = https://93omfulfaazwkydb5hgog80v7t9697rg.lambda-url.eu-west-1.on.aws/
            output Ref = arn:aws:lambda:eu-west-1:123456789012:function:echo-fn:prod
        "#]],
    );
    check(
        "",
        "",
        "  PlainUrl:\n    Type: AWS::Lambda::Url\n    Properties:\n      TargetFunctionArn: !GetAtt Echo.Arn\n      Qualifier: blue\n      AuthType: NONE\n",
        expect![[r#"
            url PlainUrl id=03tnqj671u0hr7pb6teja5yje97gqeb1 -> Echo:blue auth=None mode=Buffered
        "#]],
    );
}

#[test]
fn bad_settings_fail_with_their_place() {
    check(
        "",
        "      FunctionUrlConfig:\n        AuthType: PUBLIC\n",
        "",
        expect![[r#"
            error: /app/template.yaml:10:19: Resources.Echo.Properties.FunctionUrlConfig.AuthType: 'PUBLIC' is not an auth type; use NONE or AWS_IAM
        "#]],
    );
    check(
        "",
        "      FunctionUrlConfig:\n        Cors:\n          AllowOrigins: ['*']\n",
        "",
        expect![[r#"
            error: /app/template.yaml:10:13: Resources.Echo.Properties.FunctionUrlConfig.AuthType: missing; use NONE (anyone may call the URL) or AWS_IAM (SigV4-signed requests)
        "#]],
    );
    check(
        "",
        "      FunctionUrlConfig:\n        AuthType: NONE\n        InvokeMode: STREAMING\n",
        "",
        expect![[r#"
            error: /app/template.yaml:11:21: Resources.Echo.Properties.FunctionUrlConfig.InvokeMode: 'STREAMING' is not an invoke mode; use BUFFERED or RESPONSE_STREAM
        "#]],
    );
    check(
        "",
        "      FunctionUrlConfig:\n        AuthType: NONE\n        Cors:\n          MaxAge: 90000\n          AllowMethods: [FETCH]\n",
        "",
        expect![[r#"
            error: /app/template.yaml:12:19: Resources.Echo.Properties.FunctionUrlConfig.Cors.MaxAge: 90000 is out of range; use a whole number from 0 to 86400
        "#]],
    );
    check(
        "",
        "      FunctionUrlConfig:\n        AuthType: NONE\n        Cors:\n          AllowMethods: [FETCH]\n",
        "",
        expect![[r#"
            error: /app/template.yaml:12:25: Resources.Echo.Properties.FunctionUrlConfig.Cors.AllowMethods: 'FETCH' is not a method; use * or GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS
        "#]],
    );
    check(
        "",
        "",
        "  Other:\n    Type: AWS::Lambda::Url\n    Properties:\n      TargetFunctionArn: arn:aws:lambda:eu-west-1:123456789012:function:nope\n      AuthType: NONE\n",
        expect![[r#"
            error: /app/template.yaml:12:26: Resources.Other.Properties.TargetFunctionArn: no function of the template is arn:aws:lambda:eu-west-1:123456789012:function:nope; use !GetAtt MyFunction.Arn
        "#]],
    );
}
