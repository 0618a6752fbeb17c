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

/// Runs curl with `args`; its headers and body (`-i`), with the status on the last line.
fn curl(args: &[&str]) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-s", "-i", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl (scripts/install-test-deps.sh checks for it)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, status) = text.rsplit_once('\n').expect("a status line");
    (status.trim().parse().expect("a status"), head.to_owned())
}

/// The value of a header in curl's `-i` output.
fn header<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

const PRESIGN: &str = r#"
import boto3, json, sys
s3 = boto3.client("s3")
print(json.dumps(s3.generate_presigned_url(
    "put_object", Params={"Bucket": sys.argv[1], "Key": sys.argv[2], "ContentType": "text/plain"},
    ExpiresIn=300)))
"#;

#[test]
fn cors_preflights_and_browser_requests_follow_the_buckets_rules() {
    let data = tempfile::tempdir().expect("data dir");
    let work = tempfile::tempdir().expect("work dir");
    let server = Server::start_serve(data.path(), &[]);
    aws(&server, &["s3", "mb", "s3://uploads"]);
    let object_url = format!("{}/uploads/photo.txt", server.aws_url);
    let preflight = |origin: Option<&str>, method: &str, headers: &str| {
        let mut args = vec!["-X", "OPTIONS", object_url.as_str()];
        let origin_header = origin.map(|origin| format!("Origin: {origin}"));
        if let Some(origin_header) = &origin_header {
            args.extend(["-H", origin_header.as_str()]);
        }
        let method_header = format!("Access-Control-Request-Method: {method}");
        let headers_header = format!("Access-Control-Request-Headers: {headers}");
        args.extend(["-H", method_header.as_str()]);
        if !headers.is_empty() {
            args.extend(["-H", headers_header.as_str()]);
        }
        curl(&args)
    };

    // No CORS configuration yet: refused, as S3 refuses it.
    let (status, text) = preflight(Some("https://app.example.com"), "PUT", "");
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("<Code>AccessForbidden</Code>"), "{text}");
    assert!(
        text.contains("CORS is not enabled for this bucket"),
        "{text}"
    );

    let cors = json!({"CORSRules": [
        {"AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["PUT", "GET"],
         "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag"],
         "MaxAgeSeconds": 3000},
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}
    ]});
    let cors_file = work.path().join("cors.json");
    std::fs::write(&cors_file, cors.to_string()).expect("write");
    aws(
        &server,
        &[
            "s3api",
            "put-bucket-cors",
            "--bucket",
            "uploads",
            "--cors-configuration",
            &format!("file://{}", cors_file.display()),
        ],
    );

    let (status, text) = preflight(Some("https://app.example.com"), "PUT", "Content-Type");
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        header(&text, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(&text, "access-control-allow-methods"),
        Some("PUT, GET")
    );
    assert_eq!(
        header(&text, "access-control-allow-headers"),
        Some("content-type")
    );
    assert_eq!(header(&text, "access-control-expose-headers"), Some("ETag"));
    assert_eq!(header(&text, "access-control-max-age"), Some("3000"));
    assert_eq!(
        header(&text, "access-control-allow-credentials"),
        Some("true")
    );
    assert!(header(&text, "x-amz-request-id").is_some(), "{text}");
    assert_eq!(
        header(&text, "vary"),
        Some("Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
    );
    // Any origin may GET, through the wildcard rule.
    let (status, text) = preflight(Some("https://elsewhere.test"), "GET", "");
    assert_eq!(status, 200, "{text}");
    assert_eq!(header(&text, "access-control-allow-origin"), Some("*"));
    // But not PUT, nor with a header no rule allows.
    for (origin, method, headers) in [
        ("https://elsewhere.test", "PUT", ""),
        ("https://app.example.com", "PUT", "authorization"),
        ("https://app.example.com", "DELETE", ""),
    ] {
        let (status, text) = preflight(Some(origin), method, headers);
        assert_eq!(status, 403, "{origin} {method} {headers}: {text}");
        assert!(
            text.contains("CORSResponse: This CORS request is not allowed."),
            "{text}"
        );
        assert!(
            text.contains(&format!("<Method>{method}</Method>")),
            "{text}"
        );
        assert!(
            text.contains("<ResourceType>OBJECT</ResourceType>"),
            "{text}"
        );
    }
    let (status, text) = preflight(None, "PUT", "");
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("Origin request header needed"), "{text}");
    // Virtual-hosted style names the bucket in the host.
    let port = server.aws_url.rsplit(':').next().expect("port").to_owned();
    let (status, text) = curl(&[
        "-X",
        "OPTIONS",
        &format!("{}/photo.txt", server.aws_url),
        "-H",
        &format!("Host: uploads.s3.localhost:{port}"),
        "-H",
        "Origin: https://app.example.com",
        "-H",
        "Access-Control-Request-Method: PUT",
    ]);
    assert_eq!(status, 200, "{text}");

    // The browser's presigned PUT and what it may read of the answer.
    let url: String =
        serde_json::from_value(server.python(PRESIGN, &["uploads", "photo.txt"])).expect("a URL");
    let (status, text) = curl(&[
        "-X",
        "PUT",
        &url,
        "-H",
        "Origin: https://app.example.com",
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        "from the browser",
    ]);
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        header(&text, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(header(&text, "access-control-expose-headers"), Some("ETag"));
    assert!(header(&text, "etag").is_some(), "{text}");
    let (ok, object, stderr) = server.aws_cli(&[
        "s3api",
        "head-object",
        "--bucket",
        "uploads",
        "--key",
        "photo.txt",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(object["ContentLength"], 16);
    // An error answer gets the matching rule's headers too (here the wildcard GET rule:
    // the anonymous read is refused, and the browser may read why).
    let (status, text) = curl(&[
        &format!("{}/uploads/missing.txt", server.aws_url),
        "-H",
        "Origin: https://elsewhere.test",
    ]);
    assert_eq!(status, 403, "{text}");
    assert_eq!(header(&text, "access-control-allow-origin"), Some("*"));
}

#[test]
fn versioned_buckets_keep_versions_and_delete_markers() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let seen = server.python(&client_script("versions.py"), &["versioned"]);
    let expected = json!({
        "unversioned_put": null,
        "ids_differ": true,
        "get": ["two", true],
        "get_v1": "one",
        // The object written before versioning is the null version, kept.
        "get_null": "zero",
        "head_v1": 3,
        "copy": ["one", true, 32],
        "tags": [[{"Key": "old", "Value": "yes"}], [], true],
        "delete": [true, true],
        "get_deleted": ["NoSuchKey", 404, "true"],
        "get_marker": ["MethodNotAllowed", 405, "true"],
        "bad_version": ["InvalidArgument", 400, null],
        "missing_version": ["NoSuchVersion", 404, null],
        "listed": {
            "versions": [["k", true, false, false, 3], ["k", false, true, false, 3], ["k", false, false, false, 4]],
            "markers": [["k", true, true]],
        },
        "delete_marker_version": [true, true],
        "after_marker_deleted": "two",
        "after_version_deleted": "one",
        "deleted_version": ["NoSuchVersion", 404, null],
        "pages": [
            [["p/a", true], ["p/a", false]],
            [["p/a", false], ["p/b", true]],
            [["p/b", false]],
        ],
        "delimited": [["p/"], ["copy", "k", "q"]],
        "delete_objects": {
            "deleted": [["p/a", true, false], ["p/b", false, true]],
            "errors": [["q", "InvalidArgument"]],
        },
        "p_a_versions": 2,
        "multipart_version": 32,
        "suspended_put": "null",
        "suspended_versions": [["null", true]],
        "suspended_body": "y",
        "suspended_delete": [true, "null"],
        "bucket_not_empty": ["BucketNotEmpty", 409, null],
    });
    assert_eq!(seen, expected, "{}", server.all_output());

    // The AWS CLI sees the same versions.
    let (ok, listed, stderr) = server.aws_cli(&[
        "s3api",
        "list-object-versions",
        "--bucket",
        "versioned",
        "--prefix",
        "p/b",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(
        listed["Versions"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
    assert_eq!(listed["DeleteMarkers"][0]["IsLatest"], true, "{listed}");
    let (ok, _, stderr) = server.aws_cli(&[
        "s3api",
        "put-bucket-versioning",
        "--bucket",
        "versioned",
        "--versioning-configuration",
        "Status=Enabled",
    ]);
    assert!(ok, "{stderr}");
    let (ok, versioning, _) =
        server.aws_cli(&["s3api", "get-bucket-versioning", "--bucket", "versioned"]);
    assert!(ok);
    assert_eq!(versioning["Status"], "Enabled");

    // A backup taken while serving keeps the versions, their bodies and the bucket's
    // configuration.
    let work = tempfile::tempdir().expect("work dir");
    let backup = work.path().join("backup.tar");
    let backup_arg = backup.to_str().expect("UTF-8");
    let data_arg = data.path().to_str().expect("UTF-8");
    let (code, stdout, stderr) =
        serverful_e2e::run_serverful(&["backup", "--data", data_arg, "-o", backup_arg]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    drop(server);
    let restored = work.path().join("restored");
    let restored_arg = restored.to_str().expect("UTF-8");
    let (code, stdout, stderr) =
        serverful_e2e::run_serverful(&["restore", backup_arg, "--data", restored_arg]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let server = Server::start_serve(&restored, &[]);
    let (ok, again, stderr) = server.aws_cli(&[
        "s3api",
        "list-object-versions",
        "--bucket",
        "versioned",
        "--prefix",
        "p/b",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(again, listed);
    let oldest = listed["Versions"][1]["VersionId"]
        .as_str()
        .expect("a version id");
    let out = work.path().join("oldest");
    let (ok, _, stderr) = server.aws_cli(&[
        "s3api",
        "get-object",
        "--bucket",
        "versioned",
        "--key",
        "p/b",
        "--version-id",
        oldest,
        out.to_str().expect("UTF-8"),
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "p/b0");
    let (ok, versioning, _) =
        server.aws_cli(&["s3api", "get-bucket-versioning", "--bucket", "versioned"]);
    assert!(ok);
    assert_eq!(versioning["Status"], "Enabled");
}

const DRAIN_QUEUE: &str = r#"
import boto3, json, sys
sqs = boto3.client("sqs")
records = []
while True:
    got = sqs.receive_message(QueueUrl=sys.argv[1], MaxNumberOfMessages=10, WaitTimeSeconds=1)
    messages = got.get("Messages", [])
    if not messages:
        break
    for message in messages:
        for record in json.loads(message["Body"]).get("Records", []):
            records.append([record["eventName"], record["s3"]["object"]["key"],
                            "versionId" in record["s3"]["object"]])
        sqs.delete_message(QueueUrl=sys.argv[1], ReceiptHandle=message["ReceiptHandle"])
print(json.dumps(sorted(records)))
"#;

#[test]
fn a_templates_bucket_configuration_is_applied_and_lifecycle_rules_expire_objects() {
    let server = Server::try_start_with_env(
        &test_app("s3-lifecycle"),
        &[],
        &[("SERVERFUL_S3_LIFECYCLE_DAY_SECS", "2")],
    )
    .unwrap_or_else(|output| panic!("server did not start:\n{output}"));
    let bucket = server.output("DataName");
    let output = server.all_output();
    assert!(!output.contains("not yet applied"), "{output}");
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--bucket", bucket.as_str()]);
        let (ok, value, stderr) = server.aws_cli(&all);
        assert!(ok, "{args:?}: {stderr}");
        value
    };
    assert_eq!(
        cli(&["s3api", "get-bucket-versioning"])["Status"],
        "Enabled"
    );
    assert_eq!(
        cli(&["s3api", "get-bucket-cors"])["CORSRules"][0],
        json!({"AllowedOrigins": ["http://localhost:*"], "AllowedMethods": ["GET", "PUT"],
               "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag", "x-amz-version-id"],
               "MaxAgeSeconds": 60})
    );
    assert_eq!(
        cli(&["s3api", "get-bucket-tagging"])["TagSet"],
        json!([{"Key": "team", "Value": "data"}])
    );
    let rules = cli(&["s3api", "get-bucket-lifecycle-configuration"])["Rules"].clone();
    assert_eq!(
        rules[0],
        json!({"ID": "tmp", "Status": "Enabled", "Prefix": "tmp/", "Expiration": {"Days": 1},
               "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})
    );
    assert_eq!(rules[2]["Status"], "Disabled");
    let notifications = cli(&["s3api", "get-bucket-notification-configuration"]);
    let queues = notifications["QueueConfigurations"]
        .as_array()
        .expect("queues");
    assert_eq!(queues.len(), 2, "{notifications}");
    assert_eq!(queues[0]["Events"], json!(["s3:LifecycleExpiration:*"]));
    assert_eq!(
        queues[1]["Filter"]["Key"]["FilterRules"],
        json!([{"Name": "prefix", "Value": "api/"}])
    );
    // The template's CORS answers a browser's preflight.
    let (status, text) = curl(&[
        "-X",
        "OPTIONS",
        &format!("{}/{bucket}/tmp/x", server.aws_url),
        "-H",
        "Origin: http://localhost:5173",
        "-H",
        "Access-Control-Request-Method: PUT",
    ]);
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        header(&text, "access-control-allow-origin"),
        Some("http://localhost:5173")
    );

    let work = tempfile::tempdir().expect("work dir");
    let file = work.path().join("f.txt");
    std::fs::write(&file, "data").expect("write");
    let file = file.to_str().expect("UTF-8");
    for key in ["tmp/x", "tmp/x", "keep/y", "api/z"] {
        aws(
            &server,
            &["s3", "cp", file, &format!("s3://{bucket}/{key}")],
        );
    }
    // A delete in the versioned bucket makes a marker, notified with its version.
    aws(&server, &["s3", "rm", &format!("s3://{bucket}/api/z")]);

    // Lifecycle days last 2 seconds: tmp/x expires behind a marker, its noncurrent
    // versions go a day after they were replaced, then the marker left alone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let listed = cli(&["s3api", "list-object-versions", "--prefix", "tmp/"]);
        if listed.get("Versions").is_none() && listed.get("DeleteMarkers").is_none() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "tmp/ still has {listed}\n{}",
            server.all_output()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let kept = cli(&["s3api", "list-object-versions", "--prefix", "keep/"]);
    assert_eq!(kept["Versions"].as_array().map(Vec::len), Some(1), "{kept}");
    let (ok, _, stderr) = server.aws_cli(&[
        "s3api",
        "head-object",
        "--bucket",
        &bucket,
        "--key",
        "keep/y",
    ]);
    assert!(ok, "{stderr}");

    let records = server.python(DRAIN_QUEUE, &[&server.output("EventsUrl")]);
    assert_eq!(
        records,
        json!([
            ["LifecycleExpiration:Delete", "tmp/x", true],
            ["LifecycleExpiration:Delete", "tmp/x", true],
            ["LifecycleExpiration:Delete", "tmp/x", true],
            ["LifecycleExpiration:DeleteMarkerCreated", "tmp/x", true],
            ["ObjectRemoved:DeleteMarkerCreated", "api/z", true],
        ]),
        "{}",
        server.all_output()
    );
}

#[test]
fn a_redeploy_replaces_the_templates_configurations_and_keeps_the_apis() {
    let data = tempfile::tempdir().expect("data dir");
    let work = tempfile::tempdir().expect("work dir");
    let app = work.path().join("app");
    serverful_e2e::copy_dir(&test_app("s3-lifecycle"), &app);
    let server = Server::start_serve(data.path(), &[]);
    let app_arg = app.to_str().expect("UTF-8");
    let deploy = || {
        let (code, out, err) = server.admin(&["deploy", app_arg, "--stack", "cfg"]);
        assert_eq!(code, 0, "{out}{err}");
    };
    deploy();
    let (ok, buckets, stderr) = server.aws_cli(&["s3api", "list-buckets"]);
    assert!(ok, "{stderr}");
    let bucket = buckets["Buckets"][0]["Name"]
        .as_str()
        .expect("the stack's bucket")
        .to_owned();
    assert!(bucket.starts_with("cfg-data-"), "{buckets}");
    // The API adds a website the template does not have.
    aws(
        &server,
        &[
            "s3",
            "website",
            &format!("s3://{bucket}"),
            "--index-document",
            "index.html",
        ],
    );

    // The next version changes its CORS and drops versioning, lifecycle and tags.
    let template_path = app.join("template.yaml");
    let template = std::fs::read_to_string(&template_path).expect("read");
    let lifecycle_at = template
        .find("      LifecycleConfiguration:")
        .expect("lifecycle");
    let notifications_at = template
        .find("      NotificationConfiguration:")
        .expect("notifications");
    let mut changed = format!(
        "{}{}",
        &template[..lifecycle_at],
        &template[notifications_at..]
    );
    changed = changed
        .replace("['http://localhost:*']", "['https://new.example']")
        .replace(
            "      VersioningConfiguration:\n        Status: Enabled\n",
            "",
        )
        .replace(
            "      Tags:\n        - Key: team\n          Value: data\n",
            "",
        );
    assert_ne!(changed, template);
    std::fs::write(&template_path, changed).expect("write");
    deploy();

    let get = |operation: &str| server.aws_cli(&["s3api", operation, "--bucket", &bucket]);
    let (ok, cors, stderr) = get("get-bucket-cors");
    assert!(ok, "{stderr}");
    assert_eq!(
        cors["CORSRules"][0]["AllowedOrigins"],
        json!(["https://new.example"])
    );
    let (ok, _, stderr) = get("get-bucket-lifecycle-configuration");
    assert!(
        !ok && stderr.contains("NoSuchLifecycleConfiguration"),
        "{stderr}"
    );
    let (ok, _, stderr) = get("get-bucket-tagging");
    assert!(!ok && stderr.contains("NoSuchTagSet"), "{stderr}");
    // Versioning once enabled can only be suspended.
    let (ok, versioning, _) = get("get-bucket-versioning");
    assert!(ok);
    assert_eq!(versioning["Status"], "Suspended");
    let (ok, website, stderr) = get("get-bucket-website");
    assert!(ok, "the API's website is kept: {stderr}");
    assert_eq!(website["IndexDocument"]["Suffix"], "index.html");
}
