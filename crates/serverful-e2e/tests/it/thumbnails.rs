//! `examples/thumbnails` (issue 18), as its users run it: images put into one bucket
//! trigger a Python function (Pillow from PyPI, installed by the build from
//! `requirements.txt`) through S3 notifications, and their thumbnails appear in the other
//! bucket, where boto3 downloads them and Pillow reads them back at the smaller size.

use std::process::Command;

use serde_json::{json, Value};
use serverful_e2e::{repo_root, test_deps_dir, Server};

#[test]
fn an_uploaded_image_gets_a_smaller_copy_in_the_thumbnails_bucket() {
    let server = Server::start(&repo_root().join("examples/thumbnails"), &[]);
    let uploads = server.output("UploadsBucket");
    let thumbnails = server.output("ThumbnailsBucket");
    assert!(
        uploads.starts_with("thumbnails-uploads-")
            && thumbnails.starts_with("thumbnails-thumbnails-"),
        "buckets named from the stack: {uploads}, {thumbnails}"
    );
    let script = repo_root().join("crates/serverful-e2e/test_data/thumbnails/upload_and_check.py");
    let output = Command::new("python3")
        .arg(&script)
        .args([&uploads, &thumbnails])
        .env("PYTHONPATH", test_deps_dir().join("python-pillow"))
        .envs(server.aws_env())
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    let found: Value = serde_json::from_slice(&output.stdout).expect("JSON");

    // 640x480 fits 128x128 as 128x96, still a JPEG.
    let photo = &found["photos/beach day.jpg"];
    assert_eq!(photo["format"], "JPEG", "{found:#}");
    assert_eq!(photo["size"], json!([128, 96]));
    assert_eq!(photo["content_type"], "image/jpeg");
    assert_eq!(
        photo["metadata"],
        json!({"original-size": "640x480", "source": format!("{uploads}/photos/beach day.jpg")})
    );
    assert!(photo["bytes"].as_u64() < photo["original_bytes"].as_u64());
    // 300x600 fits as 64x128, a PNG that kept its transparency.
    let logo = &found["logo.png"];
    assert_eq!(logo["format"], "PNG");
    assert_eq!(logo["size"], json!([64, 128]));
    assert_eq!(logo["mode"], "RGBA");
    assert_eq!(logo["content_type"], "image/png");
    // The text file, put first, matched neither suffix filter: the function never saw it.
    assert_eq!(found["listed"], json!(["logo.png", "photos/beach day.jpg"]));
    let stdout = server.stdout();
    assert!(
        !server.all_output().contains("UnidentifiedImageError"),
        "{}",
        server.all_output()
    );
    assert!(
        stdout.contains(&format!(
            "{uploads}/photos/beach day.jpg 640x480 -> {thumbnails}/photos/beach day.jpg 128x96"
        )),
        "the function logs what it made\n{stdout}"
    );
}
