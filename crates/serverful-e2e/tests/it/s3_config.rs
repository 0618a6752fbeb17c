//! Bucket configurations on the S3 API (issue #18): CORS, policy, website, tags,
//! versioning, lifecycle and notifications set, read and deleted through boto3 and the
//! AWS CLI, S3's errors for missing and malformed ones, kept across a restart; a website
//! configured with `aws s3 website` is served on its website host.

use std::process::Command;

use serde_json::{json, Value};
use serverful_e2e::{test_app, Server};

fn client_script(name: &str) -> String {
    let path = test_app("s3-config").join("clients").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

/// Runs the AWS CLI; its stdout, failing the test when it fails.
fn aws(server: &Server, args: &[&str]) -> String {
    let output = Command::new("aws")
        .args(args)
        .envs(server.aws_env())
        .env_remove("AWS_PROFILE")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .expect("run aws (scripts/install-test-deps.sh installs it)");
    assert!(
        output.status.success(),
        "aws {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn bucket_configurations_are_set_read_deleted_and_kept_across_a_restart() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let seen = server.python(&client_script("configurations.py"), &["configured"]);
    assert_eq!(
        seen["missing"],
        json!({
            "cors": ["NoSuchCORSConfiguration", 404],
            "policy": ["NoSuchBucketPolicy", 404],
            "website": ["NoSuchWebsiteConfiguration", 404],
            "tagging": ["NoSuchTagSet", 404],
            "lifecycle": ["NoSuchLifecycleConfiguration", 404],
        })
    );
    assert_eq!(seen["no_bucket"], json!(["NoSuchBucket", 404]));
    assert_eq!(seen["versioning_unset"], Value::Null);
    assert_eq!(seen["notifications"], json!({}));
    assert_eq!(
        seen["cors"],
        json!([{
            "ID": "web",
            "AllowedOrigins": ["https://*.example.com"],
            "AllowedMethods": ["GET", "PUT"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "x-amz-version-id"],
            "MaxAgeSeconds": 600,
        }])
    );
    assert_eq!(seen["cors_bad_method"], json!(["InvalidRequest", 400]));
    assert_eq!(seen["cors_malformed"], json!([400, "MalformedXML"]));
    assert_eq!(seen["policy_malformed"], json!(["MalformedPolicy", 400]));
    assert_eq!(seen["policy"], json!(true));
    assert_eq!(seen["tagging"], json!([{"Key": "team", "Value": "web"}]));
    assert_eq!(
        seen["website"],
        json!({"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "oops.html"}})
    );
    assert_eq!(seen["website_bad"], json!(["InvalidArgument", 400]));
    assert_eq!(seen["versioning"], json!("Enabled"));
    assert_eq!(seen["versioning_malformed"], json!([400, "MalformedXML"]));
    assert_eq!(
        seen["lifecycle"],
        json!([{
            "ID": "tmp",
            "Status": "Enabled",
            "Filter": {"Prefix": "tmp/"},
            "Expiration": {"Days": 1},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 2},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3},
        }])
    );
    assert_eq!(seen["lifecycle_no_action"], json!(["InvalidRequest", 400]));

    // Deleting answers 204 and the configuration is gone.
    aws(
        &server,
        &["s3api", "delete-bucket-tagging", "--bucket", "configured"],
    );
    let (ok, _, stderr) =
        server.aws_cli(&["s3api", "get-bucket-tagging", "--bucket", "configured"]);
    assert!(!ok && stderr.contains("NoSuchTagSet"), "{stderr}");

    // Everything else survives a restart.
    drop(server);
    let server = Server::start_serve(data.path(), &[]);
    let (ok, cors, stderr) =
        server.aws_cli(&["s3api", "get-bucket-cors", "--bucket", "configured"]);
    assert!(ok, "{stderr}");
    assert_eq!(
        cors["CORSRules"][0]["AllowedOrigins"],
        json!(["https://*.example.com"])
    );
    let (ok, versioning, _) =
        server.aws_cli(&["s3api", "get-bucket-versioning", "--bucket", "configured"]);
    assert!(ok);
    assert_eq!(versioning["Status"], "Enabled");
    aws(
        &server,
        &["s3api", "delete-bucket-cors", "--bucket", "configured"],
    );
    let (ok, _, stderr) = server.aws_cli(&["s3api", "get-bucket-cors", "--bucket", "configured"]);
    assert!(
        !ok && stderr.contains("NoSuchCORSConfiguration"),
        "{stderr}"
    );
}

#[test]
fn a_website_configured_with_the_aws_cli_is_served() {
    let data = tempfile::tempdir().expect("data dir");
    let work = tempfile::tempdir().expect("work dir");
    let server = Server::start_serve(data.path(), &[]);
    aws(&server, &["s3", "mb", "s3://cli-site"]);
    aws(
        &server,
        &[
            "s3",
            "website",
            "s3://cli-site",
            "--index-document",
            "index.html",
            "--error-document",
            "oops.html",
        ],
    );
    let policy = json!({"Statement": [{"Effect": "Allow", "Principal": "*",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::cli-site/*"}]});
    aws(
        &server,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "cli-site",
            "--policy",
            &policy.to_string(),
        ],
    );
    std::fs::write(work.path().join("index.html"), "<h1>from the CLI</h1>").expect("write");
    std::fs::write(work.path().join("oops.html"), "<h1>nope</h1>").expect("write");
    for file in ["index.html", "oops.html"] {
        let path = work.path().join(file);
        aws(
            &server,
            &[
                "s3",
                "cp",
                path.to_str().expect("UTF-8"),
                &format!("s3://cli-site/{file}"),
            ],
        );
    }
    let port = server.base_url.rsplit(':').next().expect("port").to_owned();
    let http = reqwest::blocking::Client::new();
    let get = |path: &str| {
        let response = http
            .get(server.url(path))
            .header("host", format!("cli-site.s3-website.localhost:{port}"))
            .send()
            .expect("request");
        (response.status().as_u16(), response.text().expect("body"))
    };
    assert_eq!(
        get("/"),
        (200, "<h1>from the CLI</h1>".to_owned()),
        "{}",
        server.all_output()
    );
    assert_eq!(get("/nothing-here"), (404, "<h1>nope</h1>".to_owned()));
    // Without its website configuration the bucket is no website.
    aws(
        &server,
        &["s3api", "delete-bucket-website", "--bucket", "cli-site"],
    );
    let (status, body) = get("/");
    assert_eq!(status, 404);
    assert!(body.contains("NoSuchWebsiteConfiguration"), "{body}");
}
