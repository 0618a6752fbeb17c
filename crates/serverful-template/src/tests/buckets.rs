//! Snapshot tests of S3 buckets: `AWS::S3::Bucket` with and without `BucketName`, its
//! `Ref` and `GetAtt`s in Outputs, configurations kept but not applied,
//! `AWS::S3::BucketPolicy`, and invalid names.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use expect_test::{expect, Expect};

use crate::{load_str, LoadOptions};

/// Loads a template of `resources` (indented under `Resources:`) with `Outputs` naming
/// the `Uploads` bucket's values, and renders buckets, policies, outputs and the
/// unsupported list, or the error.
fn check(resources: &str, expect: Expect) {
    let template = format!(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n{resources}Outputs:\n  Name:\n    Value: !Ref Uploads\n  Arn:\n    Value: !GetAtt Uploads.Arn\n  Domain:\n    Value: !GetAtt Uploads.DomainName\n  Regional:\n    Value: !GetAtt Uploads.RegionalDomainName\n  Website:\n    Value: !GetAtt Uploads.WebsiteURL\n"
    );
    let options = LoadOptions {
        parameter_overrides: BTreeMap::new(),
        region: "eu-west-1".to_owned(),
        account_id: "123456789012".to_owned(),
        stack_name: "Demo_Stack".to_owned(),
        version_numbers: BTreeMap::new(),
        queue_url_base: None,
    };
    let rendered = match load_str(&template, Path::new("/app/template.yaml"), &options) {
        Err(error) => format!("error: {error}\n"),
        Ok(app) => {
            let mut out = String::new();
            for bucket in &app.buckets {
                let configurations: Vec<&String> = bucket.configurations.keys().collect();
                writeln!(
                    out,
                    "bucket {} name={} configurations={configurations:?} tags={:?}",
                    bucket.logical_id, bucket.name, bucket.tags
                )
                .expect("write");
            }
            for policy in &app.bucket_policies {
                writeln!(
                    out,
                    "policy {} bucket={} {}",
                    policy.logical_id, policy.bucket, policy.policy_document
                )
                .expect("write");
            }
            for output in &app.outputs {
                writeln!(out, "output {} = {}", output.name, output.value).expect("write");
            }
            for item in &app.unsupported {
                writeln!(out, "unsupported {item}").expect("write");
            }
            out
        }
    };
    expect.assert_eq(&rendered);
}

#[test]
fn a_bucket_without_a_name_gets_a_lowercase_generated_one() {
    check(
        "  Uploads:\n    Type: AWS::S3::Bucket\n",
        expect![[r#"
            bucket Uploads name=demo-stack-uploads-1k90axsjun45 configurations=[] tags={}
            output Name = demo-stack-uploads-1k90axsjun45
            output Arn = arn:aws:s3:::demo-stack-uploads-1k90axsjun45
            output Domain = demo-stack-uploads-1k90axsjun45.s3.amazonaws.com
            output Regional = demo-stack-uploads-1k90axsjun45.s3.eu-west-1.amazonaws.com
            output Website = http://demo-stack-uploads-1k90axsjun45.s3-website-eu-west-1.amazonaws.com
        "#]],
    );
}

#[test]
fn a_named_bucket_keeps_configurations_and_its_policy() {
    check(
        "  Uploads:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: my-uploads\n      WebsiteConfiguration:\n        IndexDocument: index.html\n      VersioningConfiguration:\n        Status: Enabled\n      BucketEncryption:\n        ServerSideEncryptionConfiguration: []\n      Tags:\n        - Key: team\n          Value: web\n  UploadsPolicy:\n    Type: AWS::S3::BucketPolicy\n    Properties:\n      Bucket: !Ref Uploads\n      PolicyDocument:\n        Statement:\n          - Effect: Allow\n            Principal: '*'\n            Action: s3:GetObject\n            Resource: !Sub '${Uploads.Arn}/*'\n",
        expect![[r#"
            bucket Uploads name=my-uploads configurations=["VersioningConfiguration", "WebsiteConfiguration"] tags={"team": "web"}
            policy UploadsPolicy bucket=my-uploads {"Statement":[{"Action":"s3:GetObject","Effect":"Allow","Principal":"*","Resource":"arn:aws:s3:::my-uploads/*"}]}
            output Name = my-uploads
            output Arn = arn:aws:s3:::my-uploads
            output Domain = my-uploads.s3.amazonaws.com
            output Regional = my-uploads.s3.eu-west-1.amazonaws.com
            output Website = http://my-uploads.s3-website-eu-west-1.amazonaws.com
        "#]],
    );
}

#[test]
fn an_invalid_bucket_name_is_refused() {
    check(
        "  Uploads:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: My_Uploads\n",
        expect![[r#"
            error: /app/template.yaml:6:17: Resources.Uploads.Properties.BucketName: 'My_Uploads' is not a valid bucket name; use 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit
        "#]],
    );
}
