//! `examples/pajthy`, planning poker (issue 17), as its users run it: a controller and
//! voters on the REST API, every change pushed over the WebSocket API to real `websockets`
//! clients (one of which drops: its `$disconnect` runs, and a push that meets its dead
//! connection answers 410 and removes the subscription), votes refused while the vote is
//! closed, a kicked voter, a browser's CORS preflight, and the single-page app, published to
//! its bucket with `web/publish.sh` and loaded by headless Chromium from the bucket's website
//! endpoint, showing the pushed changes; the pure core under Node.js's test runner.

use std::process::Command;

use serde_json::{json, Value};
use serverful_e2e::{repo_root, test_deps_dir, Server};

pub(crate) fn script(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data/pajthy")
        .join(name)
        .display()
        .to_string()
}

/// Runs a Python script of `test_data/pajthy` with the bundled packages of `bundles` and
/// the server's AWS environment; the JSON it prints.
fn run_python(server: &Server, name: &str, bundles: &[&str], args: &[&str]) -> Value {
    let python_path = std::env::join_paths(
        bundles
            .iter()
            .map(|bundle| test_deps_dir().join(format!("python-{bundle}"))),
    )
    .expect("PYTHONPATH");
    let output = Command::new("python3")
        .arg(script(name))
        .args(args)
        .env("PYTHONPATH", python_path)
        // Selenium must use the chromedriver it is given, never look for one online.
        .env("SE_OFFLINE", "true")
        .envs(server.aws_env())
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{name} failed: {}\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "{name} printed no JSON ({error}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The gateway's port.
fn port(server: &Server) -> String {
    server
        .base_url
        .rsplit_once(':')
        .map(|(_, port)| port.to_owned())
        .expect("a port")
}

/// `http://{api-id}.execute-api.localhost:PORT`, the host an API answers on by itself.
fn api_host(server: &Server, output: &str) -> String {
    format!(
        "http://{}.execute-api.localhost:{}",
        server.output(output),
        port(server)
    )
}

/// The WebSocket API's URL as `up` prints it.
fn websocket_url(server: &Server) -> String {
    format!(
        "ws://{}.execute-api.localhost:{}/live",
        server.output("WebSocketApiId"),
        port(server)
    )
}

/// Publishes the single-page app as the example's README says: `web/publish.sh` (the AWS
/// CLI's `s3 sync` and `s3 cp`) with the site bucket and the APIs' URLs as `up` prints
/// them. Returns the site's origin, `http://{bucket}.s3-website.localhost:PORT`.
fn publish_site(server: &Server) -> String {
    let bucket = server.output("SiteBucketName");
    let api = format!("{}/api", api_host(server, "RestApiId"));
    let websocket = websocket_url(server);
    let stdout = server.stdout();
    assert!(
        stdout.contains(&websocket),
        "up prints the WebSocket API's URL\n{stdout}"
    );
    let output = Command::new("sh")
        .arg(repo_root().join("examples/pajthy/web/publish.sh"))
        .args([&bucket, &api, &websocket])
        .envs(server.aws_env())
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run sh");
    assert!(
        output.status.success(),
        "publish.sh failed: {}{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.all_output()
    );
    let origin = format!("http://{bucket}.s3-website.localhost:{}", port(server));
    assert!(
        stdout.contains(&format!("  SiteBucket: {origin}/")),
        "up prints the website's URL\n{stdout}"
    );
    origin
}

fn names(view: &Value) -> Vec<&str> {
    view["voters"]
        .as_array()
        .unwrap_or_else(|| panic!("voters: {view}"))
        .iter()
        .map(|voter| voter["name"].as_str().expect("a name"))
        .collect()
}

#[test]
fn a_session_with_several_voters_pushes_every_change_and_forgets_dead_connections() {
    let server = Server::start(&repo_root().join("examples/pajthy"), &[]);
    let http = server.url("");
    let ws = format!("{}/live", http.replacen("http://", "ws://", 1));
    let connections = server.output("ConnectionsTableName");
    let result = run_python(
        &server,
        "session_flow.py",
        &["websockets"],
        &[&http, &ws, &connections],
    );

    let (status, created) = (&result["create"][0], &result["create"][1]);
    assert_eq!(*status, 201, "{result:#}");
    assert!(created["secret"]
        .as_str()
        .is_some_and(|secret| secret.len() >= 24));
    assert_eq!(created["open"], false);
    assert_eq!(result["bad_choices"][0], 400);
    assert_eq!(result["subscribed"]["type"], "subscribed");
    assert_eq!(
        result["unknown_session"],
        json!({"type": "error", "message": "no such session"})
    );

    assert_eq!(result["joins"], json!([201, 201, 201]));
    assert_eq!(result["name_taken"][0], 409, "{result:#}");
    for seen in result["everyone_sees_three"].as_array().expect("views") {
        assert_eq!(*seen, json!(["ana", "bo", "cy"]));
    }

    // Closed: no votes; controller actions need the secret.
    assert_eq!(
        result["vote_while_closed"],
        json!([409, {"message": "the vote is not open"}])
    );
    assert_eq!(result["start_without_secret"][0], 403);
    assert_eq!(result["start_wrong_secret"][0], 403);
    assert_eq!(result["start"][0], 200);
    assert_eq!(
        result["everyone_sees_open"],
        json!([true, true, true, true])
    );

    // cy's connection dropped: its $disconnect removed the subscription...
    assert_eq!(
        result["disconnect_removed_subscription"], true,
        "{result:#}"
    );
    let stdout = server.stdout();
    assert!(
        stdout.contains(" closed (1006)"),
        "no $disconnect with 1006 logged\n{stdout}"
    );
    // ...and once put back (a $disconnect AWS did not deliver), the next push met the dead
    // connection, answered 410 and removed it, while the live ones got the change.
    assert_eq!(result["gone_subscription_removed"], true, "{result:#}");
    assert!(
        stdout.contains("is gone (410): removing its subscription"),
        "{stdout}"
    );
    let after_ana = &result["after_ana_votes"];
    for who in ["controller", "ana", "bo"] {
        let view = &after_ana[who];
        assert_eq!(
            view["voters"][0],
            json!({"name": "ana", "voted": true}),
            "{who}: {view}"
        );
        // Votes stay hidden while the vote is open.
        assert!(view["voters"][0].get("choice").is_none());
    }

    assert_eq!(result["bad_choice"][0], 400);
    assert_eq!(result["bo_votes"][0], 200);
    assert_eq!(result["ana_changes_her_mind"][0], 200);

    // The kicked voter is gone for everyone and can no longer vote.
    assert_eq!(result["kick_without_secret"][0], 403);
    assert_eq!(result["kick"][0], 200);
    assert_eq!(result["kick_again"][0], 404);
    assert_eq!(
        result["kicked_votes"],
        json!([404, {"message": "you are not a voter in this session"}])
    );
    assert_eq!(names(&result["after_kick"]), ["ana", "bo"]);

    // Stopping reveals the votes to everyone still connected.
    assert_eq!(result["stop"][0], 200);
    for who in ["controller", "ana", "bo"] {
        assert_eq!(
            result["revealed"][who]["voters"],
            json!([
                {"name": "ana", "voted": true, "choice": "3"},
                {"name": "bo", "voted": true, "choice": "8"}
            ]),
            "{who}"
        );
    }
    assert_eq!(result["vote_after_stop"][0], 409);
    assert_eq!(result["reset"][0], 200);
    assert_eq!(
        result["get"][1]["voters"],
        json!([{"name": "ana", "voted": false}, {"name": "bo", "voted": false}])
    );
    assert_eq!(result["unknown"][0], 404);

    // Simultaneous votes all count (optimistic locking on the session's version).
    assert_eq!(result["concurrent_votes"], json!([200, 200, 200, 200, 200]));
    let voted: Vec<&str> = result["after_concurrent"]["voters"]
        .as_array()
        .expect("voters")
        .iter()
        .filter(|voter| voter["voted"] == true)
        .map(|voter| voter["name"].as_str().expect("name"))
        .collect();
    assert_eq!(voted, ["v0", "v1", "v2", "v3", "v4"]);
}

#[test]
fn the_site_bucket_serves_the_app_and_the_rest_api_answers_its_cors_preflight() {
    let server = Server::start(&repo_root().join("examples/pajthy"), &[]);
    let page_origin = publish_site(&server);
    let rest_host = format!("{}.execute-api.localhost", server.output("RestApiId"));
    let client = crate::client();

    // What Chromium sends before a controller's POST with the secret header.
    let preflight = client
        .request(
            reqwest::Method::OPTIONS,
            server.url("/api/sessions/abc/start"),
        )
        .header("Host", &rest_host)
        .header("Origin", &page_origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,x-pajthy-secret",
        )
        .send()
        .expect("OPTIONS");
    assert_eq!(preflight.status(), 200, "{}", server.all_output());
    let header = |name: &str| {
        preflight
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("access-control-allow-origin"), "*");
    assert_eq!(header("access-control-allow-methods"), "GET,POST,OPTIONS");
    assert_eq!(
        header("access-control-allow-headers"),
        "Content-Type,X-Pajthy-Secret"
    );
    assert_eq!(header("access-control-max-age"), "600");

    // The actual request's answer carries the function's own CORS header.
    let created = client
        .post(server.url("/api/sessions"))
        .header("Host", &rest_host)
        .header("Origin", &page_origin)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .expect("POST /sessions");
    assert_eq!(created.status(), 201);
    assert_eq!(
        created.headers()["access-control-allow-origin"],
        "*",
        "{:?}",
        created.headers()
    );
    let body = crate::json_body(created);
    assert_eq!(
        body["choices"],
        json!(["0", "1", "2", "3", "5", "8", "13", "21", "?"])
    );

    // The website host serves the published files to anyone, the config included.
    let site_host = page_origin.trim_start_matches("http://");
    let site_get = |path: &str| {
        client
            .get(server.url(path))
            .header("Host", site_host)
            .send()
            .expect("GET from the website host")
    };
    let page = site_get("/");
    assert_eq!(page.status(), 200, "{}", server.all_output());
    assert_eq!(page.headers()["content-type"], "text/html");
    assert!(page
        .text()
        .expect("page")
        .contains("<script src=\"app.js\""));
    let script = site_get("/app.js");
    assert_eq!(script.status(), 200);
    // As the AWS CLI guesses it from the suffix (the machine's MIME table says which).
    let script_type = script.headers()["content-type"].to_str().expect("ASCII");
    assert!(script_type.ends_with("/javascript"), "{script_type}");
    let config = site_get("/config.json");
    assert_eq!(config.headers()["content-type"], "application/json");
    assert_eq!(config.headers()["cache-control"], "no-cache");
    assert_eq!(
        crate::json_body(config),
        json!({
            "api": format!("{}/api", api_host(&server, "RestApiId")),
            "webSocket": websocket_url(&server),
        })
    );
    // Only reading is public: the website endpoint takes no writes.
    let put = client
        .put(server.url("/index.html"))
        .header("Host", site_host)
        .body("defaced")
        .send()
        .expect("PUT");
    assert_eq!(put.status(), 405);
}

#[test]
fn headless_chromium_shows_the_pushed_changes_in_the_single_page_app() {
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists()
            && std::path::Path::new("/usr/bin/chromedriver").exists(),
        "Chromium and chromedriver are missing: run `bash scripts/install-test-deps.sh`"
    );
    let server = Server::start(&repo_root().join("examples/pajthy"), &[]);
    let origin = publish_site(&server);
    let page = format!("{origin}/");
    let screenshot = tempfile::NamedTempFile::new().expect("temp file");
    let screenshot_path = screenshot.path().display().to_string();
    let seen = run_python(
        &server,
        "browser.py",
        &["selenium"],
        &[&page, &server.url("/api"), &screenshot_path],
    );

    // The page came from the bucket's website host and called the REST API on another one.
    assert_eq!(seen["origin"], origin, "{seen:#}");
    assert_eq!(seen["live"]["connection"], "live");
    assert_eq!(names(&seen["joined"]), ["dave", "carol"]);
    assert_eq!(seen["open"]["status"], "Voting is open");
    assert_eq!(seen["carol voted"]["myVote"], "5");
    // dave's vote, cast through the API, reached the page over the WebSocket.
    assert_eq!(
        seen["dave voted"]["voters"][0],
        json!({"name": "dave", "voted": true, "text": "dave — voted"})
    );
    assert_eq!(
        seen["revealed"]["voters"]
            .as_array()
            .expect("voters")
            .iter()
            .map(|voter| voter["text"].as_str().expect("text"))
            .collect::<Vec<_>>(),
        ["dave: 8", "carol: 5"]
    );
    assert_eq!(
        seen["kicked"]["error"],
        "You were removed from this session."
    );
    // No CORS or script errors in the page's console.
    assert_eq!(seen["console"], json!([]), "{seen:#}");
    let png = std::fs::read(screenshot.path()).expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
}

#[test]
fn the_core_rules_run_on_their_own_without_aws() {
    // The core is pure: Node.js's own test runner runs it with no server, SDK or table.
    let output = Command::new("node")
        .args(["--test", "examples/pajthy/test/"])
        .current_dir(repo_root())
        .output()
        .expect("run node --test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("# pass 4") && stdout.contains("# fail 0"),
        "{stdout}"
    );
}
