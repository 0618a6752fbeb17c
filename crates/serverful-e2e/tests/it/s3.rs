//! S3 on the AWS endpoint (issue #18), driven by the clients people use: boto3 (objects,
//! ranges, conditions, checksums, its transfer manager's multipart uploads, paginated
//! listings, copies, tagging, presigned URLs), the AWS CLI (`aws s3` and `aws s3api`)
//! and `curl` on presigned URLs, with S3's exact errors for bad input, and objects that
//! survive a `kill -9` and a restart.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};
use serverful_e2e::{test_app, Server};

/// The boto3 scripts live in the `s3` test app's `clients/` folder.
fn client_script(name: &str) -> String {
    let path = test_app("s3").join("clients").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

fn aws(server: &Server, args: &[&str], cwd: &Path) -> Output {
    Command::new("aws")
        .args(args)
        .current_dir(cwd)
        .envs(server.aws_env())
        .env_remove("AWS_PROFILE")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .expect("run aws (scripts/install-test-deps.sh installs it)")
}

fn succeeded(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "aws failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn boto3_reads_writes_lists_copies_tags_and_gets_s3_errors() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let seen = server.python(&client_script("tour.py"), &["tour"]);
    let etag = "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"";
    let expected = json!({
        // S3 answers 200 to its owner re-creating a bucket in us-east-1 (the
        // virtual-hosted-style test sees BucketAlreadyOwnedByYou in another region).
        "create_again": null,
        "bad_name": ["InvalidBucketName", 400],
        "missing_bucket": ["NoSuchBucket", 404],
        "etag": etag,
        "get": {
            "body": "hello world", "type": "text/plain", "metadata": {"owner": "me"},
            "cache": "max-age=60", "disposition": "inline", "encoding": "identity",
            "tags": 2, "etag": etag,
        },
        "range": ["hello", "bytes 0-4/11", 206],
        "suffix_range": "world",
        "bad_range": ["InvalidRange", 416],
        "if_none_match": ["304", 304],
        "if_match": ["PreconditionFailed", 412],
        "if_match_ok": true,
        "unmodified_since": ["PreconditionFailed", 412],
        "override": ["application/json", "attachment"],
        "missing_key": ["NoSuchKey", 404],
        "missing_key_request_id": true,
        "after_empty": [0, "x"],
        "head_missing": ["404", 404],
        // SHA-256 of "abc", as S3 prints it, from the upload's answer and from a GET.
        "sha256": [
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
        ],
        // The CRC32 current botocore sends by default, checked and echoed.
        "crc32_default": "NSRBwg==",
        "bad_md5": ["BadDigest", 400],
        "bad_md5_left": ["404", 404],
        "long_key": ["KeyTooLongError", 400],
    });
    let multipart = json!({
        "multipart": [true, 6 * 1024 * 1024 + 123, true],
        "part_copy": [true, true],
        "part_copy_range": ["InvalidArgument", 400],
        "part_copy_missing": ["NoSuchKey", 404],
        "missing_part": ["InvalidPart", 400],
        "misordered": ["InvalidPartOrder", 400],
        "not_completed": ["404", 404],
        "list_parts": [1, 2],
        "uploads": [true],
        "completed": [true, 5 * 1024 * 1024 + 4],
        "aborted": ["NoSuchUpload", 404],
        "pages": [
            [[], ["list/a/", "list/b/"]],
            [["list/c", "list/d"], []],
            [["list/e"], []],
        ],
        "start_after": ["list/d", "list/e"],
        "v1": [["list/c", "list/d"], true],
    });
    let rest = json!({
        "copy": [true, "text/plain", {"owner": "me"}, "text/markdown", {"fresh": "yes"}, "hello world"],
        "copy_onto_itself": ["InvalidRequest", 400],
        "tags": [["env", "b"], ["team", "a"]],
        "tags_put": [{"Key": "k", "Value": "v"}],
        "tags_deleted": [],
        "presigned_v2": [200, "hello world"],
        "presigned": [200, "hello world"],
        "tampered": [403, "SignatureDoesNotMatch"],
        "expired": [403, "AccessDenied"],
        "presigned_put": 200,
        "presigned_put_back": "from a url",
        "delete_objects": ["list/d", "list/e", "never-there"],
        "deleted_gone": ["404", 404],
        "not_empty": ["BucketNotEmpty", 409],
        "buckets": true,
    });
    for part in [expected, multipart, rest] {
        for (key, value) in part.as_object().expect("object") {
            assert_eq!(&seen[key], value, "{key} in {seen:#}");
        }
    }
}

#[test]
fn aws_cli_copies_syncs_lists_presigns_and_removes() {
    let data = tempfile::tempdir().expect("data dir");
    let work = tempfile::tempdir().expect("work dir");
    let dir = work.path();
    let server = Server::start_serve(data.path(), &[]);
    succeeded(&aws(&server, &["s3", "mb", "s3://cli-bucket"], dir));
    let bad = aws(&server, &["s3", "mb", "s3://Bad_Bucket"], dir);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("InvalidBucketName"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // Over 8 MB, so the CLI uploads and downloads it in parts.
    let big: Vec<u8> = (0..9 * 1024 * 1024u32)
        .map(|index| (index % 251) as u8)
        .collect();
    std::fs::write(dir.join("big.bin"), &big).expect("write big");
    std::fs::write(dir.join("small.txt"), "small file\n").expect("write small");
    succeeded(&aws(
        &server,
        &["s3", "cp", "big.bin", "s3://cli-bucket/big.bin"],
        dir,
    ));
    succeeded(&aws(
        &server,
        &["s3", "cp", "small.txt", "s3://cli-bucket/docs/small.txt"],
        dir,
    ));
    succeeded(&aws(
        &server,
        &["s3", "cp", "s3://cli-bucket/big.bin", "back.bin"],
        dir,
    ));
    assert!(
        std::fs::read(dir.join("back.bin")).expect("read back") == big,
        "the big file came back changed"
    );
    let head: Value = serde_json::from_str(&succeeded(&aws(
        &server,
        &[
            "s3api",
            "head-object",
            "--bucket",
            "cli-bucket",
            "--key",
            "big.bin",
            "--output",
            "json",
        ],
        dir,
    )))
    .expect("JSON");
    assert_eq!(head["ContentLength"], 9 * 1024 * 1024);
    assert!(
        head["ETag"]
            .as_str()
            .is_some_and(|etag| etag.ends_with("-2\"")),
        "a multipart ETag: {head}"
    );
    let ranged = succeeded(&aws(
        &server,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "cli-bucket",
            "--key",
            "docs/small.txt",
            "--range",
            "bytes=0-4",
            "part.txt",
            "--output",
            "json",
        ],
        dir,
    ));
    let ranged: Value = serde_json::from_str(&ranged).expect("JSON");
    assert_eq!(ranged["ContentRange"], "bytes 0-4/11");
    assert_eq!(
        std::fs::read_to_string(dir.join("part.txt")).expect("part"),
        "small"
    );

    let listed = succeeded(&aws(&server, &["s3", "ls", "s3://cli-bucket"], dir));
    assert!(listed.contains("PRE docs/"), "{listed}");
    assert!(listed.contains("9437184 big.bin"), "{listed}");
    let buckets = succeeded(&aws(&server, &["s3", "ls"], dir));
    assert!(buckets.contains("cli-bucket"), "{buckets}");

    std::fs::create_dir_all(dir.join("site/css")).expect("site");
    std::fs::write(dir.join("site/index.html"), "<h1>hi</h1>").expect("index");
    std::fs::write(dir.join("site/css/main.css"), "h1{}").expect("css");
    let synced = succeeded(&aws(
        &server,
        &["s3", "sync", "site", "s3://cli-bucket/site"],
        dir,
    ));
    assert!(synced.contains("upload: site/css/main.css"), "{synced}");
    // A second sync finds nothing to do.
    assert_eq!(
        succeeded(&aws(
            &server,
            &["s3", "sync", "site", "s3://cli-bucket/site"],
            dir
        )),
        ""
    );
    succeeded(&aws(
        &server,
        &["s3", "sync", "s3://cli-bucket/site", "copy"],
        dir,
    ));
    assert_eq!(
        std::fs::read_to_string(dir.join("copy/css/main.css")).expect("synced"),
        "h1{}"
    );

    let url = succeeded(&aws(
        &server,
        &[
            "s3",
            "presign",
            "s3://cli-bucket/docs/small.txt",
            "--expires-in",
            "60",
        ],
        dir,
    ));
    let fetched = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", url.trim()])
        .output()
        .expect("curl");
    assert_eq!(
        String::from_utf8_lossy(&fetched.stdout),
        "small file\n\n200"
    );
    let anonymous = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            &format!("{}/cli-bucket/docs/small.txt", server.aws_url),
        ])
        .output()
        .expect("curl");
    let anonymous = String::from_utf8_lossy(&anonymous.stdout);
    assert!(
        anonymous.contains("<Code>AccessDenied</Code>") && anonymous.ends_with("403"),
        "{anonymous}"
    );

    let not_empty = aws(&server, &["s3", "rb", "s3://cli-bucket"], dir);
    assert!(String::from_utf8_lossy(&not_empty.stderr).contains("BucketNotEmpty"));
    succeeded(&aws(
        &server,
        &["s3", "rm", "s3://cli-bucket/docs/small.txt"],
        dir,
    ));
    succeeded(&aws(
        &server,
        &["s3", "rm", "s3://cli-bucket", "--recursive"],
        dir,
    ));
    assert_eq!(
        succeeded(&aws(&server, &["s3", "ls", "s3://cli-bucket"], dir)),
        ""
    );
    succeeded(&aws(&server, &["s3", "rb", "s3://cli-bucket"], dir));
    assert!(!succeeded(&aws(&server, &["s3", "ls"], dir)).contains("cli-bucket"));
}

const WRITE_OBJECTS: &str = r#"
import hashlib, json, os, sys
import boto3
from boto3.s3.transfer import TransferConfig
s3 = boto3.client("s3")
s3.create_bucket(Bucket="durable")
etags = {}
for index in range(20):
    etags[f"obj/{index}"] = s3.put_object(Bucket="durable", Key=f"obj/{index}", Body=os.urandom(1000 + index))["ETag"]
path = sys.argv[1]
with open(path, "wb") as file:
    file.write(os.urandom(6 * 1024 * 1024))
s3.upload_file(path, "durable", "multi", Config=TransferConfig(multipart_threshold=1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
etags["multi"] = s3.head_object(Bucket="durable", Key="multi")["ETag"]
with open(path, "rb") as file:
    etags["multi:md5"] = hashlib.md5(file.read()).hexdigest()
print(json.dumps(etags))
"#;

const READ_OBJECTS: &str = r#"
import hashlib, json
import boto3
s3 = boto3.client("s3")
etags = {}
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="durable"):
    for item in page.get("Contents", []):
        body = s3.get_object(Bucket="durable", Key=item["Key"])["Body"].read()
        etags[item["Key"]] = item["ETag"]
        if "-" not in item["ETag"]:
            assert item["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), item
        else:
            etags[item["Key"] + ":md5"] = hashlib.md5(body).hexdigest()
print(json.dumps(etags))
"#;

#[test]
fn objects_survive_kill_9_and_a_restart_with_their_etags() {
    let data = tempfile::tempdir().expect("data dir");
    let work = tempfile::tempdir().expect("work dir");
    let source = work.path().join("six.bin");
    let server = Server::start_serve(data.path(), &[]);
    let written = server.python(WRITE_OBJECTS, &[source.to_str().expect("utf-8")]);
    let pid = server.pid().to_string();
    let killed = Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    drop(server);
    let server = Server::start_serve(data.path(), &[]);
    let read = server.python(READ_OBJECTS, &[]);
    assert_eq!(read, written);
    assert_eq!(written.as_object().map(|objects| objects.len()), Some(22));
    // No temporary body is left behind, and no body without its record.
    let leftovers: Vec<String> = std::fs::read_dir(data.path().join("s3"))
        .expect("s3 folder")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "bodies")
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
    // 20 objects' bodies, and the multipart object's two parts with the manifest that
    // lists them (its body is not a copy of them).
    let bodies = std::fs::read_dir(data.path().join("s3/bodies"))
        .expect("bodies")
        .count();
    assert_eq!(bodies, 23);
}

/// Each key's body, made from the key alone, so that any object listed after a crash
/// can be checked whole: single-part objects of 1 KB to about 2 MB under `w…/`, two-part
/// uploads of 10 MB and a bit under `m…/`.
const CRASH_BODIES: &str = r#"
import hashlib
def body_of(key):
    seed = hashlib.sha256(key.encode()).digest()
    size = (10 * 1024 * 1024 + 4096 if key.startswith("m") else 1024) + int.from_bytes(seed[:2], "big") * 32
    return (seed * (size // 32 + 1))[:size]
"#;

/// Writers that upload until the server goes away, logging each key once its upload is
/// acknowledged: four with PutObject, one with two-part multipart uploads.
const CRASH_WRITERS: &str = r#"
import os, sys, threading
import boto3, botocore.config
s3 = boto3.client("s3", config=botocore.config.Config(retries={"total_max_attempts": 1}))
s3.create_bucket(Bucket="crash")
log = open(sys.argv[1], "a")
lock = threading.Lock()
def acknowledged(key):
    with lock:
        log.write(key + "\n")
        log.flush()
def put(n):
    i = 0
    while True:
        key = f"w{n}/{i}"
        try:
            s3.put_object(Bucket="crash", Key=key, Body=body_of(key))
        except Exception:
            return
        acknowledged(key)
        i += 1
def multipart():
    i = 0
    while True:
        key = f"m/{i}"
        body = body_of(key)
        try:
            upload = s3.create_multipart_upload(Bucket="crash", Key=key)["UploadId"]
            parts = []
            for number, start in ((1, 0), (2, 5 * 1024 * 1024)):
                end = len(body) if number == 2 else start + 5 * 1024 * 1024
                etag = s3.upload_part(Bucket="crash", Key=key, UploadId=upload, PartNumber=number, Body=body[start:end])["ETag"]
                parts.append({"PartNumber": number, "ETag": etag})
            s3.complete_multipart_upload(Bucket="crash", Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
        except Exception:
            return
        acknowledged(key)
        i += 1
threads = [threading.Thread(target=put, args=(n,)) for n in range(4)] + [threading.Thread(target=multipart)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"#;

/// After the restart: every listed object must be its key's whole body, and every
/// acknowledged key must be listed.
const CRASH_CHECK: &str = r#"
import json, sys
import boto3
s3 = boto3.client("s3")
acknowledged = set(open(sys.argv[1]).read().split())
listed, bad = set(), []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="crash"):
    for item in page.get("Contents", []):
        key = item["Key"]
        listed.add(key)
        body = s3.get_object(Bucket="crash", Key=key)["Body"].read()
        if body != body_of(key) or item["Size"] != len(body):
            bad.append(key)
print(json.dumps({
    "acknowledged": len(acknowledged),
    "multipart": len([key for key in acknowledged if key.startswith("m")]),
    "listed": len(listed),
    "bad": bad,
    "missing": sorted(acknowledged - listed),
}))
"#;

#[test]
fn kill_9_during_concurrent_uploads_leaves_acknowledged_objects_whole_and_no_torn_ones() {
    let data = tempfile::tempdir().expect("data dir");
    let work = tempfile::tempdir().expect("work dir");
    let log = work.path().join("acknowledged.txt");
    std::fs::write(&log, "").expect("log");
    let server = Server::start_serve(data.path(), &[]);
    let mut writers = Command::new("python3")
        .args(["-c", &format!("{CRASH_BODIES}{CRASH_WRITERS}")])
        .arg(&log)
        .envs(server.aws_env())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the writers");
    // Kill once there is plenty in flight: many acknowledged puts and two multipart
    // uploads done (more are under way by then).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let multipart = text.lines().filter(|key| key.starts_with('m')).count();
        if (text.lines().count() >= 60 && multipart >= 2) || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = server.pid().to_string();
    assert!(Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill")
        .success());
    drop(server);
    let exited = (0..600).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        writers.try_wait().ok().flatten().is_some()
    });
    if !exited {
        let _ = writers.kill();
    }
    let _ = writers.wait();

    let server = Server::start_serve(data.path(), &[]);
    let seen = server.python(
        &format!("{CRASH_BODIES}{CRASH_CHECK}"),
        &[log.to_str().expect("utf-8")],
    );
    assert_eq!(seen["bad"], json!([]), "{seen}");
    assert_eq!(seen["missing"], json!([]), "{seen}");
    assert!(seen["acknowledged"].as_u64() >= Some(60), "{seen}");
    assert!(seen["multipart"].as_u64() >= Some(2), "{seen}");
    // Nothing half-written is left in the body store.
    let leftovers: Vec<String> = std::fs::read_dir(data.path().join("s3"))
        .expect("s3 folder")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "bodies")
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
}

/// What a crash between a change's commit and its event's delivery leaves in the event
/// journal of `s3.sqlite`: one removal that did happen (the key is gone), one that did
/// not (the key is still there), as `serverful-s3` journals events.
const CRASHED_JOURNAL: &str = r#"
import json, sqlite3, sys
data, bucket = sys.argv[1], sys.argv[2]
def event(key):
    return json.dumps({"name": "ObjectRemoved:Delete", "bucket": bucket, "key": key, "size": None,
                       "etag": None, "versionId": None, "sequencer": "0000000000000001",
                       "principal": None, "sourceIp": "127.0.0.1", "requestId": "CRASHED",
                       "time": "1796000000000000000"})
db = sqlite3.connect(data + "/s3.sqlite")
db.execute("INSERT INTO event_journal (event) VALUES (?)", (event("crashed/removed.txt"),))
db.execute("INSERT INTO event_journal (event) VALUES (?)", (event("still/here.txt"),))
db.commit()
print(json.dumps(db.execute("SELECT COUNT(*) FROM event_journal").fetchone()[0]))
"#;

const REMOVALS_AFTER_RESTART: &str = r#"
import json, sqlite3, sys, time
import boto3
queue, data = sys.argv[1], sys.argv[2]
sqs = boto3.client("sqs")
keys, deadline = [], time.time() + 20
while time.time() < deadline and not keys:
    for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
        for record in json.loads(message["Body"]).get("Records", []):
            keys.append([record["eventName"], record["s3"]["object"]["key"], record["responseElements"]["x-amz-request-id"]])
# Anything else would have come with them; wait a little for a wrong second one.
time.sleep(1)
for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
    for record in json.loads(message["Body"]).get("Records", []):
        keys.append([record["eventName"], record["s3"]["object"]["key"], record["responseElements"]["x-amz-request-id"]])
left = sqlite3.connect(data + "/s3.sqlite").execute("SELECT COUNT(*) FROM event_journal").fetchone()[0]
print(json.dumps({"events": keys, "journal": left}))
"#;

#[test]
fn events_a_crash_left_in_the_journal_are_delivered_at_the_next_start() {
    let data = tempfile::tempdir().expect("data dir");
    let data_arg = data.path().to_str().expect("utf-8");
    let server = Server::start(&test_app("s3-events"), &["--data", data_arg]);
    let inbox = server.output("InboxName");
    let (ok, _, stderr) = server.aws_cli(&[
        "s3api",
        "put-object",
        "--bucket",
        &inbox,
        "--key",
        "still/here.txt",
    ]);
    assert!(ok, "{stderr}");
    let (status, _) = server.interrupt();
    assert!(status.success());
    let journaled = Command::new("python3")
        .args(["-c", CRASHED_JOURNAL, data_arg, &inbox])
        .output()
        .expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&journaled.stdout).trim(),
        "2",
        "{}",
        String::from_utf8_lossy(&journaled.stderr)
    );

    let server = Server::start(&test_app("s3-events"), &["--data", data_arg]);
    let seen = server.python(
        REMOVALS_AFTER_RESTART,
        &[&server.output("RemovalsUrl"), data_arg],
    );
    assert_eq!(
        seen,
        json!({
            "events": [["ObjectRemoved:Delete", "crashed/removed.txt", "CRASHED"]],
            "journal": 0,
        }),
        "{}",
        server.all_output()
    );
}

const INVOKE_WRITER: &str = r#"
import json, sys
import boto3
bucket, writer = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3")
s3.create_bucket(Bucket="not-the-stacks")
answer = boto3.client("lambda").invoke(
    FunctionName=writer,
    Payload=json.dumps({"Key": "from/function.txt", "Body": "written inside", "Other": "not-the-stacks"}),
)
result = json.loads(answer["Payload"].read())
got = s3.get_object(Bucket=bucket, Key="from/function.txt")
print(json.dumps({"result": result, "body": got["Body"].read().decode(), "type": got["ContentType"],
                  "etag": got["ETag"]}))
"#;

#[test]
fn a_function_writes_to_its_stacks_bucket_with_boto3() {
    let server = Server::start(&test_app("s3"), &[]);
    let bucket = server.output("BucketName");
    assert!(
        bucket.starts_with('s') && bucket == bucket.to_lowercase() && bucket.len() <= 63,
        "a generated lowercase bucket name: {bucket}"
    );
    assert_eq!(server.output("BucketArn"), format!("arn:aws:s3:::{bucket}"));
    // The template's versioning is the bucket's (issue #18), with no warning.
    let output = server.all_output();
    assert!(!output.contains("VersioningConfiguration"), "{output}");
    let (ok, versioning, stderr) =
        server.aws_cli(&["s3api", "get-bucket-versioning", "--bucket", &bucket]);
    assert!(ok, "{stderr}");
    assert_eq!(versioning["Status"], "Enabled");
    let seen = server.python(INVOKE_WRITER, &[&bucket, &server.output("WriterName")]);
    assert_eq!(
        seen["body"],
        "written inside",
        "{seen:#}\n{}",
        server.all_output()
    );
    assert_eq!(seen["type"], "text/plain");
    assert_eq!(seen["result"]["ETag"], seen["etag"]);
    assert_eq!(seen["result"]["Listed"], json!(["from/function.txt"]));
    // The stack's keys see and use only the stack's own bucket.
    assert_eq!(seen["result"]["Buckets"], json!([bucket]));
    assert_eq!(seen["result"]["OtherBucket"], "AccessDenied");
    assert_eq!(seen["result"]["DeleteOwn"], "AccessDenied");
}

/// Runs `curl ARGS` signing with SigV4 as the server's master keys; returns its output
/// and the HTTP status on the last line.
fn signed_curl(server: &Server, args: &[&str]) -> String {
    let user = format!("{}:{}", server.access_key_id, server.secret_access_key);
    let output = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            "--aws-sigv4",
            "aws:amz:eu-west-1:s3",
            "--user",
        ])
        .arg(&user)
        // S3 requires the payload's hash header on header-signed requests.
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
        .args(args)
        .output()
        .expect("curl (scripts/install-test-deps.sh checks for it)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn virtual_hosted_style_requests_name_the_bucket_in_the_host() {
    let data = tempfile::tempdir().expect("data dir");
    let work = tempfile::tempdir().expect("work dir");
    let server = Server::start_serve(data.path(), &["--region", "eu-west-1"]);
    let port = server.aws_url.rsplit(':').next().expect("port").to_owned();
    // curl resolves every `*.localhost` name to the loopback address.
    let base = format!("http://vhost-bucket.s3.localhost:{port}");
    assert_eq!(
        signed_curl(&server, &["-X", "PUT", &format!("{base}/")]),
        "\n200"
    );
    let again = signed_curl(&server, &["-X", "PUT", &format!("{base}/")]);
    assert!(
        again.contains("<Code>BucketAlreadyOwnedByYou</Code>") && again.ends_with("409"),
        "{again}"
    );
    let location = signed_curl(&server, &[&format!("{base}/?location=")]);
    assert!(
        location.contains(">eu-west-1</LocationConstraint>"),
        "{location}"
    );
    let file = work.path().join("hello.txt");
    std::fs::write(&file, "by host").expect("write");
    let file = file.to_str().expect("utf-8");
    assert_eq!(
        signed_curl(&server, &["-T", file, &format!("{base}/hello.txt")]),
        "\n200"
    );
    assert_eq!(
        signed_curl(&server, &[&format!("{base}/hello.txt")]),
        "by host\n200"
    );
    let listed = signed_curl(&server, &[&format!("{base}/?list-type=2")]);
    assert!(
        listed.contains("<Key>hello.txt</Key>") && listed.ends_with("200"),
        "{listed}"
    );
    // The same object, path style.
    let path_style = signed_curl(
        &server,
        &[&format!("{}/vhost-bucket/hello.txt", server.aws_url)],
    );
    assert_eq!(path_style, "by host\n200");
    let missing = signed_curl(
        &server,
        &[&format!("http://absent-bucket.s3.localhost:{port}/k")],
    );
    assert!(
        missing.contains("<Code>NoSuchBucket</Code>") && missing.ends_with("404"),
        "{missing}"
    );
}

const CUT_OFF_UPLOAD: &str = r#"
import json, socket, time, urllib.parse
import boto3, botocore.config, botocore.exceptions
s3 = boto3.client("s3", config=botocore.config.Config(signature_version="s3v4"))
s3.create_bucket(Bucket="cut")
s3.put_object(Bucket="cut", Key="kept", Body=b"whole")
url = urllib.parse.urlsplit(s3.generate_presigned_url("put_object", Params={"Bucket": "cut", "Key": "torn"}, ExpiresIn=60))
connection = socket.create_connection((url.hostname, url.port))
connection.sendall(
    f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: 10000000\r\n\r\n".encode()
    + b"x" * 100000
)
time.sleep(0.5)
connection.close()
time.sleep(1)
try:
    s3.head_object(Bucket="cut", Key="torn")
    torn = "visible"
except botocore.exceptions.ClientError as error:
    torn = error.response["Error"]["Code"]
keys = [item["Key"] for item in s3.list_objects_v2(Bucket="cut")["Contents"]]
print(json.dumps({"torn": torn, "keys": keys, "kept": s3.get_object(Bucket="cut", Key="kept")["Body"].read().decode()}))
"#;

#[test]
fn an_upload_cut_off_mid_stream_leaves_nothing() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let seen = server.python(CUT_OFF_UPLOAD, &[]);
    assert_eq!(
        seen,
        json!({"torn": "404", "keys": ["kept"], "kept": "whole"})
    );
    let leftovers: Vec<String> = std::fs::read_dir(data.path().join("s3"))
        .expect("s3 folder")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "bodies")
        .collect();
    assert_eq!(leftovers, Vec::<String>::new(), "no temporary body is left");
    assert_eq!(
        std::fs::read_dir(data.path().join("s3/bodies"))
            .expect("bodies")
            .count(),
        1
    );
}

#[test]
fn js_sdk_v3_puts_gets_and_uploads_a_stream_in_parts() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let node_modules = serverful_e2e::test_deps_dir().join("node-s3/node_modules");
    assert!(
        node_modules.exists(),
        "{} is missing: run `bash scripts/install-test-deps.sh`",
        node_modules.display()
    );
    let script = test_app("s3").join("clients").join("js_sdk.mjs");
    let output = Command::new("node")
        .arg(&script)
        .envs(server.aws_env())
        .env("NODE_PATH", &node_modules)
        .output()
        .expect("run node");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    let seen: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        seen,
        json!({
            // CRC32 of "hello from js" (Python's zlib agrees), checked on the way in.
            "putChecksum": "Ej1nlw==",
            "body": "hello from js",
            "getChecksum": "Ej1nlw==",
            "uploadETag": true,
            "uploadSize": 11 * 1024 * 1024,
            "missing": ["NoSuchKey", 404],
            "badRange": ["InvalidRange", 416],
            "keys": ["hello.txt", "streamed.bin"],
        })
    );
}

/// Sends `body` as an `aws-chunked` upload with an unsigned payload and a CRC32
/// trailer whose value is `crc32`, as current SDKs send uploads; returns the status line,
/// checksum headers and body.
fn trailer_upload(server: &Server, key: &str, crc32: &str) -> String {
    let user = format!("{}:{}", server.access_key_id, server.secret_access_key);
    let body = format!("d\r\nhello trailer\r\n0\r\nx-amz-checksum-crc32:{crc32}\r\n\r\n");
    let output = Command::new("curl")
        .args([
            "-s",
            "-D",
            "-",
            "-X",
            "PUT",
            "--aws-sigv4",
            "aws:amz:eu-west-1:s3",
            "--user",
        ])
        .arg(&user)
        .args([
            "-H",
            "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "-H",
            "Content-Encoding: aws-chunked",
            "-H",
            "x-amz-decoded-content-length: 13",
            "-H",
            "x-amz-trailer: x-amz-checksum-crc32",
            "--data-binary",
            &body,
        ])
        .arg(format!("{}/trailers/{key}", server.aws_url))
        .output()
        .expect("curl");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| {
            line.starts_with("HTTP/") || line.contains("checksum") || line.contains("<Code>")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_checksum_in_a_trailer_is_checked_before_anything_is_written() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &["--region", "eu-west-1"]);
    assert_eq!(
        signed_curl(
            &server,
            &["-X", "PUT", &format!("{}/trailers", server.aws_url)]
        ),
        "\n200"
    );
    // CRC32 of "hello trailer", from Python's zlib.
    let good = trailer_upload(&server, "good", "WzGbuw==");
    assert!(
        good.starts_with("HTTP/1.1 200") && good.contains("x-amz-checksum-crc32: WzGbuw=="),
        "{good}"
    );
    let bad = trailer_upload(&server, "bad", "AAAAAA==");
    assert!(
        bad.starts_with("HTTP/1.1 400")
            && bad.contains("<Code>BadDigest</Code><Message>The CRC32 you specified did not match the calculated checksum.</Message>"),
        "{bad}"
    );
    let listed = signed_curl(
        &server,
        &[&format!("{}/trailers?list-type=2", server.aws_url)],
    );
    assert!(
        listed.contains("<Key>good</Key>") && !listed.contains("<Key>bad</Key>"),
        "{listed}"
    );
    assert_eq!(
        signed_curl(&server, &[&format!("{}/trailers/good", server.aws_url)]),
        "hello trailer\n200"
    );
}

const BUCKET_STATE: &str = r#"
import json, sys
import boto3
s3 = boto3.client("s3")
names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
if sys.argv[1] == "put":
    s3.put_object(Bucket=names[0], Key="kept.txt", Body=b"still here")
objects = {}
for name in names:
    objects[name] = [item["Key"] for item in s3.list_objects_v2(Bucket=name).get("Contents", [])]
print(json.dumps(objects))
"#;

#[test]
fn a_stacks_bucket_is_kept_across_deploys_and_deleted_with_its_data() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let source = test_app("s3");
    let source = source.to_str().expect("utf-8");
    let deploy = || {
        let (code, out, err) = server.admin(&["deploy", source, "--stack", "photos"]);
        assert_eq!(code, 0, "{out}{err}");
    };
    deploy();
    let first = server.python(BUCKET_STATE, &["put"]);
    let bucket = first
        .as_object()
        .and_then(|buckets| buckets.keys().next().cloned())
        .expect("the stack's bucket");
    assert!(bucket.starts_with("photos-uploads-"), "{first}");
    assert_eq!(first, json!({&bucket: ["kept.txt"]}));
    deploy();
    assert_eq!(
        server.python(BUCKET_STATE, &["list"]),
        first,
        "kept across deploys"
    );
    let (code, out, err) = server.admin(&["delete", "--stack", "photos"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        server.python(BUCKET_STATE, &["list"]),
        first,
        "kept when the stack's data is"
    );
    deploy();
    let (code, out, err) = server.admin(&["delete", "--stack", "photos", "--delete-tables"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(server.python(BUCKET_STATE, &["list"]), json!({}));
    assert_eq!(
        std::fs::read_dir(data.path().join("s3/bodies"))
            .expect("bodies")
            .count(),
        0,
        "the objects' bodies went with the bucket"
    );
}

#[test]
fn a_backup_taken_while_serving_restores_buckets_and_objects() {
    let data = tempfile::tempdir().expect("data dir");
    let work = tempfile::tempdir().expect("work dir");
    let source = work.path().join("six.bin");
    let server = Server::start_serve(data.path(), &[]);
    let written = server.python(WRITE_OBJECTS, &[source.to_str().expect("utf-8")]);
    let backup = work.path().join("backup.tar");
    let backup_arg = backup.to_str().expect("utf-8");
    let (code, stdout, stderr) = serverful_e2e::run_serverful(&[
        "backup",
        "--data",
        data.path().to_str().expect("utf-8"),
        "-o",
        backup_arg,
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    drop(server);
    let restored = work.path().join("restored");
    let (code, stdout, stderr) = serverful_e2e::run_serverful(&[
        "restore",
        backup_arg,
        "--data",
        restored.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let server = Server::start_serve(&restored, &[]);
    assert_eq!(server.python(READ_OBJECTS, &[]), written);
}

const EVENTS_CLIENT: &str = r#"
import json, sys, time
import boto3

inbox, processed, removals, bus_events = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
s3 = boto3.client("s3")
sqs = boto3.client("sqs")
result = {}

def seen(key, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            body = s3.get_object(Bucket=processed, Key="seen/" + key)["Body"].read()
            return json.loads(body)
        except s3.exceptions.NoSuchKey:
            time.sleep(0.2)
    return None

# Filtered out: neither under uploads/ nor .txt.
s3.put_object(Bucket=inbox, Key="elsewhere/a.txt", Body=b"x")
s3.put_object(Bucket=inbox, Key="uploads/a.png", Body=b"x")
put = s3.put_object(Bucket=inbox, Key="uploads/hello world.txt", Body=b"hello")
result["put_etag"] = put["ETag"].strip('"')
result["put"] = seen("uploads/hello world.txt")
config = boto3.s3.transfer.TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
with open("big.txt", "wb") as out:
    out.write(b"y" * (6 * 1024 * 1024))
s3.upload_file("big.txt", inbox, "uploads/big.txt", Config=config)
result["multipart"] = seen("uploads/big.txt")
s3.copy_object(Bucket=inbox, Key="uploads/copy.txt", CopySource={"Bucket": inbox, "Key": "uploads/hello world.txt"})
result["copy"] = seen("uploads/copy.txt")
result["filtered"] = [seen(key, timeout=1) for key in ["elsewhere/a.txt", "uploads/a.png"]]

s3.delete_object(Bucket=inbox, Key="uploads/hello world.txt")
messages = sqs.receive_message(QueueUrl=removals, WaitTimeSeconds=10).get("Messages", [])
result["removal"] = json.loads(messages[0]["Body"]) if messages else None

bus = []
deadline = time.time() + 20
while time.time() < deadline and len(bus) < 4:
    for message in sqs.receive_message(QueueUrl=bus_events, WaitTimeSeconds=2, MaxNumberOfMessages=10).get("Messages", []):
        bus.append(json.loads(message["Body"]))
result["bus"] = sorted(bus, key=lambda event: event["detail"]["object"]["key"])
print(json.dumps(result))
"#;

#[test]
fn object_events_reach_functions_and_queues_as_s3_records() {
    let server = Server::start(&test_app("s3-events"), &[]);
    let inbox = server.output("InboxName");
    let work = tempfile::tempdir().expect("temp dir");
    let output = Command::new("python3")
        .args([
            "-c",
            EVENTS_CLIENT,
            &inbox,
            &server.output("ProcessedName"),
            &server.output("RemovalsUrl"),
            &server.output("BusEventsUrl"),
        ])
        .current_dir(work.path())
        .envs(server.aws_env())
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    let result: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let put = &result["put"];
    assert_eq!(
        put["eventSource"],
        "aws:s3",
        "{result:#}\n{}",
        server.all_output()
    );
    assert_eq!(put["eventName"], "ObjectCreated:Put");
    assert_eq!(put["awsRegion"], "us-east-1");
    assert_eq!(put["s3"]["configurationId"], "OnUpload/Upload");
    assert_eq!(put["s3"]["bucket"]["name"], inbox.as_str());
    assert_eq!(put["s3"]["bucket"]["arn"], format!("arn:aws:s3:::{inbox}"));
    assert_eq!(put["s3"]["object"]["key"], "uploads/hello+world.txt");
    assert_eq!(put["s3"]["object"]["size"], 5);
    assert_eq!(put["s3"]["object"]["eTag"], result["put_etag"]);
    assert!(put["s3"]["object"]["sequencer"].is_string(), "{put:#}");
    assert_eq!(
        result["multipart"]["eventName"],
        "ObjectCreated:CompleteMultipartUpload"
    );
    assert_eq!(result["multipart"]["s3"]["object"]["size"], 6 * 1024 * 1024);
    assert_eq!(result["copy"]["eventName"], "ObjectCreated:Copy");
    assert_eq!(result["filtered"], json!([null, null]));
    let removal = &result["removal"]["Records"][0];
    assert_eq!(removal["eventName"], "ObjectRemoved:Delete", "{result:#}");
    assert_eq!(removal["s3"]["configurationId"], "removals");
    assert_eq!(removal["s3"]["object"]["key"], "uploads/hello+world.txt");

    // With EventBridge on, the creations under uploads/ reach the rule's queue.
    let bus = result["bus"].as_array().expect("bus events");
    let keys: Vec<&str> = bus
        .iter()
        .map(|event| {
            event["detail"]["object"]["key"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        keys,
        [
            "uploads/a.png",
            "uploads/big.txt",
            "uploads/copy.txt",
            "uploads/hello world.txt"
        ],
        "{result:#}"
    );
    let first = &bus[0];
    assert_eq!(first["source"], "aws.s3");
    assert_eq!(first["detail-type"], "Object Created");
    assert_eq!(first["detail"]["bucket"]["name"], inbox.as_str());
    assert_eq!(first["detail"]["reason"], "PutObject");
    assert_eq!(first["resources"], json!([format!("arn:aws:s3:::{inbox}")]));
}

const WEBSITE_UPLOADS: &str = r#"
import sys
import boto3

site, private = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3")
for key, body in [("index.html", "<h1>home</h1>"), ("docs/index.html", "<h1>docs</h1>"),
                  ("error.html", "<h1>oops</h1>"), ("private/secret.html", "secret")]:
    s3.put_object(Bucket=site, Key=key, Body=body.encode(), ContentType="text/html")
s3.put_object(Bucket=private, Key="index.html", Body=b"hidden", ContentType="text/html")
"#;

#[test]
fn buckets_with_a_website_configuration_serve_it_on_their_website_host() {
    let server = Server::start(&test_app("s3-website"), &[]);
    let site = server.output("SiteName");
    let private = server.output("PrivateName");
    let output = Command::new("python3")
        .args(["-c", WEBSITE_UPLOADS, &site, &private])
        .envs(server.aws_env())
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let port = server.base_url.rsplit(':').next().expect("port").to_owned();
    // `up` prints each website's URL.
    let stdout = server.stdout();
    assert!(
        stdout.contains(&format!("Site: http://{site}.s3-website.localhost:{port}/")),
        "{stdout}"
    );
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let request = |method: reqwest::Method, bucket: &str, path: &str| {
        let response = http
            .request(method, server.url(path))
            .header("host", format!("{bucket}.s3-website.localhost:{port}"))
            .send()
            .expect("request");
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|value| value.to_str().expect("ASCII").to_owned());
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().expect("ASCII").to_owned());
        (
            status,
            location,
            content_type,
            response.text().expect("body"),
        )
    };
    let get = |bucket: &str, path: &str| request(reqwest::Method::GET, bucket, path);

    let (status, _, content_type, body) = get(&site, "/");
    assert_eq!(
        (status, body.as_str()),
        (200, "<h1>home</h1>"),
        "{}",
        server.all_output()
    );
    assert_eq!(content_type.as_deref(), Some("text/html"));
    let (status, location, _, _) = get(&site, "/docs");
    assert_eq!((status, location.as_deref()), (302, Some("/docs/")));
    let (status, _, _, body) = get(&site, "/docs/");
    assert_eq!((status, body.as_str()), (200, "<h1>docs</h1>"));
    let (status, _, _, body) = get(&site, "/missing.html");
    assert_eq!((status, body.as_str()), (404, "<h1>oops</h1>"));
    let (status, _, _, body) = get(&site, "/private/secret.html");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("AccessDenied"), "{body}");
    let (status, _, _, body) = request(reqwest::Method::HEAD, &site, "/");
    assert_eq!((status, body.as_str()), (200, ""));
    let (status, _, _, body) = request(reqwest::Method::POST, &site, "/");
    assert_eq!(status, 405, "{body}");

    // A website whose bucket policy lets nobody read: 403 for everything.
    let (status, _, _, body) = get(&private, "/");
    assert_eq!(status, 403, "{body}");
    // RedirectAllRequestsTo.
    let (status, location, _, _) = get(&server.output("MovedName"), "/a/b?x=1");
    assert_eq!(
        (status, location.as_deref()),
        (301, Some("https://example.com/a/b?x=1"))
    );
    // The WebsiteURL AWS would give.
    assert_eq!(
        server.output("SiteUrl"),
        format!("http://{site}.s3-website-us-east-1.amazonaws.com")
    );
}

const ROUTED_UPLOADS: &str = r#"
import json, sys
import boto3

routed = sys.argv[1]
s3 = boto3.client("s3")
for key in ["index.html", "documents/a b.html", "members/secret.html", "error.html"]:
    s3.put_object(Bucket=routed, Key=key, Body=key.encode(), ContentType="text/html")
# Objects that are redirects: to another key of the site, and to another site.
s3.put_object(Bucket=routed, Key="old.html", Body=b"moved", WebsiteRedirectLocation="/documents/a%20b.html")
s3.put_object(Bucket=routed, Key="away.html", Body=b"kept", WebsiteRedirectLocation="https://example.org/")
result = {"head": s3.head_object(Bucket=routed, Key="old.html").get("WebsiteRedirectLocation")}
# The REST endpoint answers the object itself.
result["rest_body"] = s3.get_object(Bucket=routed, Key="away.html")["Body"].read().decode()
# A copy never takes its source's redirect, only one given with it.
s3.copy_object(Bucket=routed, Key="copy.html", CopySource={"Bucket": routed, "Key": "away.html"})
result["copy"] = s3.head_object(Bucket=routed, Key="copy.html").get("WebsiteRedirectLocation")
# A multipart upload takes it when it starts.
upload = s3.create_multipart_upload(Bucket=routed, Key="parts.html", WebsiteRedirectLocation="/index.html")
part = s3.upload_part(Bucket=routed, Key="parts.html", UploadId=upload["UploadId"], PartNumber=1, Body=b"one part")
s3.complete_multipart_upload(Bucket=routed, Key="parts.html", UploadId=upload["UploadId"],
                             MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
result["multipart"] = s3.head_object(Bucket=routed, Key="parts.html").get("WebsiteRedirectLocation")
try:
    s3.put_object(Bucket=routed, Key="bad.html", Body=b"x", WebsiteRedirectLocation="documents/")
    result["bad"] = "accepted"
except s3.exceptions.ClientError as error:
    result["bad"] = [error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"],
                     error.response["Error"]["Message"]]
print(json.dumps(result))
"#;

#[test]
fn website_routing_rules_and_object_redirects_send_browsers_elsewhere() {
    let server = Server::start(&test_app("s3-website"), &[]);
    let routed = server.output("RoutedName");
    let written = server.python(ROUTED_UPLOADS, &[&routed]);
    assert_eq!(written["head"], "/documents/a%20b.html");
    assert_eq!(written["rest_body"], "kept");
    assert_eq!(written["copy"], Value::Null);
    assert_eq!(written["multipart"], "/index.html");
    assert_eq!(
        written["bad"],
        json!([
            "InvalidRedirectLocation",
            400,
            "The website redirect location must have a prefix of 'http://' or 'https://' or '/'."
        ])
    );
    let port = server.base_url.rsplit(':').next().expect("port").to_owned();
    let host = format!("{routed}.s3-website.localhost:{port}");
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let visit = |method: reqwest::Method, path: &str| {
        let response = http
            .request(method, server.url(path))
            .header("host", &host)
            .send()
            .expect("request");
        let location = response
            .headers()
            .get("location")
            .map(|value| value.to_str().expect("ASCII").to_owned());
        (
            response.status().as_u16(),
            location,
            response.text().expect("body"),
        )
    };
    let get = |path: &str| {
        let (status, location, _) = visit(reqwest::Method::GET, path);
        (status, location.unwrap_or_default())
    };

    // A prefix rule redirects before the key is read, whether it exists or not.
    assert_eq!(
        get("/docs/a%20b.html"),
        (301, format!("http://{host}/documents/a%20b.html")),
        "{}",
        server.all_output()
    );
    assert_eq!(
        get("/images/cat.png"),
        (302, format!("http://{host}/folderdeleted.html"))
    );
    // What the rules do not send away is served.
    let (status, _, body) = visit(reqwest::Method::GET, "/documents/a%20b.html");
    assert_eq!((status, body.as_str()), (200, "documents/a b.html"));
    let (status, _, body) = visit(reqwest::Method::GET, "/");
    assert_eq!((status, body.as_str()), (200, "index.html"));
    // Error rules: a refused key under members/ (403) goes to the login page; any missing
    // key (404) to another host with the key under report-404/, not to the error document.
    assert_eq!(
        get("/members/secret.html"),
        (307, format!("http://{host}/login.html"))
    );
    assert_eq!(
        get("/nothing/here.html"),
        (
            301,
            "https://archive.example.com/report-404/nothing/here.html".to_owned()
        )
    );
    // Objects written with a redirect location are 301s to it, HEAD too.
    assert_eq!(get("/old.html"), (301, "/documents/a%20b.html".to_owned()));
    assert_eq!(get("/away.html"), (301, "https://example.org/".to_owned()));
    assert_eq!(get("/parts.html"), (301, "/index.html".to_owned()));
    let (status, location, _) = visit(reqwest::Method::HEAD, "/old.html");
    assert_eq!(
        (status, location.as_deref()),
        (301, Some("/documents/a%20b.html"))
    );
    let (status, _, body) = visit(reqwest::Method::GET, "/copy.html");
    assert_eq!((status, body.as_str()), (200, "kept"));
}

#[test]
fn a_routing_rule_s3_would_refuse_fails_the_start() {
    let app = tempfile::tempdir().expect("app dir");
    std::fs::write(
        app.path().join("template.yaml"),
        "Resources:\n  Site:\n    Type: AWS::S3::Bucket\n    Properties:\n      WebsiteConfiguration:\n        IndexDocument: index.html\n        RoutingRules:\n          - RedirectRule:\n              ReplaceKeyWith: a.html\n              ReplaceKeyPrefixWith: b/\n",
    )
    .expect("write template");
    let (code, stderr) = serverful_e2e::up_until_it_fails(app.path());
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains(
            "Site.WebsiteConfiguration.RoutingRules[0]: You can only define ReplaceKeyPrefix or ReplaceKey but not both."
        ),
        "{stderr}"
    );
}
