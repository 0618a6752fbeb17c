//! `up --watch` (issue #3): code edits under steady load lose no request and end serving
//! the last version.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serverful_e2e::Server;

use crate::client;

const TEMPLATE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  VersionFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      CodeUri: src/
      Handler: index.handler
      Events:
        Get:
          Type: HttpApi
          Properties:
            Path: /version
            Method: GET
  OtherFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      CodeUri: other/
      Handler: app.handler
      Events:
        Get:
          Type: HttpApi
          Properties:
            Path: /other
            Method: GET
"#;

fn handler_source(version: u32) -> String {
    format!("exports.handler = async () => ({{ statusCode: 200, body: 'v{version}' }});\n")
}

#[test]
fn edits_under_load_lose_no_request_and_end_on_the_last_version() {
    let app = tempfile::tempdir().expect("app dir");
    std::fs::write(app.path().join("template.yaml"), TEMPLATE).expect("template");
    std::fs::create_dir_all(app.path().join("src")).expect("src");
    std::fs::create_dir_all(app.path().join("other")).expect("other");
    std::fs::write(app.path().join("src/index.js"), handler_source(1)).expect("handler");
    std::fs::write(
        app.path().join("other/app.py"),
        "import os\ndef handler(event, context):\n    return {'statusCode': 200, 'body': str(os.getpid())}\n",
    )
    .expect("other handler");
    let server = Server::start(app.path(), &["--watch"]);
    let http = client();
    let other_pid = http
        .get(server.url("/other"))
        .send()
        .expect("GET /other")
        .text()
        .expect("body");

    // Steady load: one client in a loop, bounded in count and time.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        let url = server.url("/version");
        std::thread::spawn(move || {
            let http = client();
            let started = Instant::now();
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed)
                && seen.len() < 20_000
                && started.elapsed() < Duration::from_secs(90)
            {
                let outcome = match http.get(&url).send() {
                    Ok(response) => (
                        response.status().as_u16(),
                        response.text().unwrap_or_default(),
                    ),
                    Err(error) => (0, error.to_string()),
                };
                seen.push(outcome);
            }
            seen
        })
    };

    // Let the load run on the first version, then on each new one for a while.
    std::thread::sleep(Duration::from_millis(800));
    for version in 2..=4 {
        std::fs::write(app.path().join("src/index.js"), handler_source(version))
            .expect("edit handler");
        let expected = format!("v{version}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let body = http
                .get(server.url("/version"))
                .send()
                .expect("GET")
                .text()
                .expect("body");
            if body == expected {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "still {body} 20 s after writing {expected}\n{}",
                server.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(800));
    }
    stop.store(true, Ordering::Relaxed);
    let seen = load.join().expect("load thread");

    let failed: Vec<_> = seen.iter().filter(|(status, _)| *status != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        seen.len(),
        &failed[..failed.len().min(5)]
    );
    let versions: Vec<u32> = seen
        .iter()
        .map(|(_, body)| {
            body.trim_start_matches('v')
                .parse()
                .unwrap_or_else(|_| panic!("not a version: {body}"))
        })
        .collect();
    assert!(
        versions.windows(2).all(|pair| pair[0] <= pair[1]),
        "a sequential client never goes back to an older version: {}\n{}",
        run_lengths(&versions),
        server.stderr()
    );
    assert_eq!(versions.last(), Some(&4), "ends serving the last version");
    assert!(
        seen.len() > 20,
        "the load loop ran: {} requests",
        seen.len()
    );
    assert_eq!(
        server.stderr().matches("reloaded VersionFunction").count(),
        3,
        "{}",
        server.stderr()
    );

    // Only the edited function was reloaded: the other one is still the same process.
    let other_after = http
        .get(server.url("/other"))
        .send()
        .expect("GET /other")
        .text()
        .expect("body");
    assert_eq!(other_after, other_pid);
    assert!(!server.stderr().contains("reloaded OtherFunction"));
}

/// `v1×20 v2×3 ...`: a version sequence, compressed for messages.
fn run_lengths(versions: &[u32]) -> String {
    let mut runs: Vec<(u32, usize)> = Vec::new();
    for version in versions {
        match runs.last_mut() {
            Some((last, count)) if last == version => *count += 1,
            _ => runs.push((*version, 1)),
        }
    }
    runs.iter()
        .map(|(version, count)| format!("v{version}×{count}"))
        .collect::<Vec<_>>()
        .join(" ")
}
