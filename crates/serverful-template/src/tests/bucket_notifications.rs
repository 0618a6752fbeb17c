//! Snapshot tests of S3 event notifications: SAM `S3` events and a bucket's
//! `NotificationConfiguration`, and the errors of bad ones.

use std::path::Path;

use expect_test::{expect, Expect};

use crate::load_str;

/// Loads `resources` after an `Inbox` bucket and a `Handler` function with `events`, and
/// renders the notifications and the unsupported list, or the error.
fn check(bucket_properties: &str, events: &str, expect: Expect) {
    let template = format!(
        "Transform: AWS::Serverless-2016-10-31
Resources:
  Inbox:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: inbox
{bucket_properties}  Jobs:
    Type: AWS::SQS::Queue
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      FunctionName: handler-fn
{events}"
    );
    let rendered = match load_str(
        &template,
        Path::new("/app/template.yaml"),
        &super::demo_options(),
    ) {
        Err(error) => format!("error: {error}\n"),
        Ok(app) => {
            let mut out = String::new();
            for notification in &app.bucket_notifications {
                out.push_str(&format!("{notification:?}\n"));
            }
            for item in &app.unsupported {
                out.push_str(&format!("unsupported {item}\n"));
            }
            out
        }
    };
    expect.assert_eq(&rendered);
}

const SAM_EVENT: &str = "      Events:
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Inbox
            Events: [s3:ObjectCreated:*, s3:ObjectRemoved:Delete]
            Filter:
              S3Key:
                Rules:
                  - {Name: prefix, Value: in/}
                  - {Name: suffix, Value: .jpg}
";

#[test]
fn sam_events_and_bucket_configurations() {
    check(
        "",
        SAM_EVENT,
        expect![[r#"
        BucketNotification { id: "Handler/Upload", bucket: "inbox", target: Function("Handler"), events: ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"], prefix: Some("in/"), suffix: Some(".jpg") }
    "#]],
    );
    check(
        "      NotificationConfiguration:
        QueueConfigurations:
          - {Event: 's3:ObjectCreated:Put', Queue: !GetAtt Jobs.Arn}
        LambdaConfigurations:
          - {Event: 's3:ObjectRemoved:*', Function: !GetAtt Handler.Arn, Id: gone}
        EventBridgeConfiguration: {EventBridgeEnabled: true}
",
        "",
        expect![[r#"
            BucketNotification { id: "gone", bucket: "inbox", target: Function("Handler"), events: ["s3:ObjectRemoved:*"], prefix: None, suffix: None }
            BucketNotification { id: "Inbox/QueueConfigurations[0]", bucket: "inbox", target: Queue("arn:aws:sqs:eu-west-1:123456789012:demo-Jobs-4G5U9OYEZRXW"), events: ["s3:ObjectCreated:Put"], prefix: None, suffix: None }
        "#]],
    );
}

#[test]
fn bad_notifications_are_errors() {
    check(
        "",
        &SAM_EVENT.replace("!Ref Inbox", "not-a-bucket-here"),
        expect![[r#"
            error: /app/template.yaml:19:21: Resources.Handler.Properties.Events.Upload.Properties.Bucket: 'not-a-bucket-here' is not an AWS::S3::Bucket of this template; SAM's S3 events name one with !Ref MyBucket
        "#]],
    );
    check(
        "",
        &SAM_EVENT.replace("s3:ObjectRemoved:Delete", "s3:ObjectDeleted"),
        expect![[r#"
            error: /app/template.yaml:20:42: Resources.Handler.Properties.Events.Upload.Properties.Events: 's3:ObjectDeleted' is not an S3 event type; use one such as s3:ObjectCreated:* or s3:ObjectRemoved:Delete
        "#]],
    );
    check(
        "",
        &SAM_EVENT.replace("Name: suffix", "Name: middle"),
        expect![[r#"
            error: /app/template.yaml:22:20: Resources.Handler.Properties.Events.Upload.Properties.Filter.S3Key.Rules: 'middle' is not a rule name, or is given twice; use one prefix and one suffix
        "#]],
    );
    check(
        "      NotificationConfiguration:
        LambdaConfigurations:
          - {Event: 's3:ObjectCreated:*', Function: 'arn:aws:lambda:eu-west-1:1:function:gone'}
",
        "",
        expect![[r#"
            error: /app/template.yaml:3:3: Resources.Inbox.Properties.NotificationConfiguration.LambdaConfigurations[0].Function: 'arn:aws:lambda:eu-west-1:1:function:gone' names no function of this template; use !GetAtt MyFunction.Arn
        "#]],
    );
}
