//! API keys and usage plans of REST APIs (issue 17): SAM's `Auth.ApiKeyRequired` and
//! `Auth.UsagePlan` (`PER_API`, `SHARED`), keys and plans written as resources, and an
//! OpenAPI definition's `x-api-key` scheme, called over HTTP with and without keys: API
//! Gateway's 403 for a missing, wrong or disabled key, 429s for throttles and quotas, and a
//! quota count that survives a restart.

use serde_json::Value;
use serverful_e2e::{test_app, Server};

use crate::{client, json_body};

const APP: &str = "api-keys";

/// The value `serverful up` printed for the key `logical_id` under `API keys:`.
pub(crate) fn key_value(server: &Server, logical_id: &str) -> String {
    let stdout = server.stdout();
    stdout
        .lines()
        .skip_while(|line| *line != "API keys:")
        .find_map(|line| {
            line.trim()
                .strip_prefix(&format!("{logical_id} "))
                .and_then(|rest| rest.rsplit_once("): "))
                .map(|(_, value)| value.trim_end_matches(" (disabled)").to_owned())
        })
        .unwrap_or_else(|| panic!("no API key {logical_id} in the banner:\n{stdout}"))
}

/// Status and body of `GET path` with `x-api-key: key`, if any.
pub(crate) fn get(server: &Server, path: &str, key: Option<&str>) -> (u16, Value) {
    let mut request = client().get(server.url(path));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().expect("GET");
    let status = response.status().as_u16();
    (status, json_body(response))
}

fn forbidden() -> Value {
    serde_json::json!({"message": "Forbidden"})
}

#[test]
fn keys_are_checked_and_reported_to_the_function() {
    let server = Server::start(&test_app(APP), &[]);
    let stdout = server.stdout();
    assert!(stdout.contains("API keys:"), "{stdout}");
    assert!(
        stdout.contains("RetiredKey retired (id ") && stdout.contains(" (disabled)"),
        "{stdout}"
    );
    let per_api = key_value(&server, "PerApiApiKey");
    assert_eq!(
        per_api.len(),
        40,
        "API Gateway's generated keys are 40 characters"
    );
    assert!(
        per_api.chars().all(|c| c.is_ascii_alphanumeric()),
        "{per_api}"
    );
    let key_id = server.output("PerApiKeyId");

    // SAM's PER_API plan: no key, a wrong one, another API's key: 403.
    assert_eq!(get(&server, "/locked", None), (403, forbidden()));
    assert_eq!(
        get(&server, "/locked", Some("wrong-key-wrong-key-wrong")),
        (403, forbidden())
    );
    let shared = key_value(&server, "ServerlessApiKey");
    assert_eq!(get(&server, "/locked", Some(&shared)), (403, forbidden()));
    let (status, body) = get(&server, "/locked", Some(&per_api));
    assert_eq!(status, 200, "{body:#}");
    let identity = &body["event"]["requestContext"]["identity"];
    assert_eq!(identity["apiKey"], per_api.as_str());
    assert_eq!(identity["apiKeyId"], key_id.as_str());
    // `Auth: {ApiKeyRequired: false}` on the event opens its route.
    let (status, body) = get(&server, "/open", None);
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(
        body["event"]["requestContext"]["identity"]["apiKey"],
        Value::Null
    );

    // Resources: the template's value works, the disabled key and a key of another plan
    // do not.
    assert_eq!(
        get(&server, "/raw", Some("partner-key-0123456789abcdef")).0,
        200
    );
    assert_eq!(
        get(&server, "/raw", Some("retired-key-0123456789abcdef")),
        (403, forbidden())
    );
    assert_eq!(get(&server, "/raw", Some(&per_api)), (403, forbidden()));

    // OpenAPI: the operation with the x-api-key scheme needs the API's key; the other not.
    let spec = key_value(&server, "SpecApiApiKey");
    assert_eq!(get(&server, "/spec", None), (403, forbidden()));
    assert_eq!(get(&server, "/spec", Some(&spec)).0, 200);
    assert_eq!(get(&server, "/spec-open", None).0, 200);

    // `serverful ls` lists the keys with their values.
    let (code, stdout, stderr) = server.admin(&["ls"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("api key: PerApiApiKey ") && stdout.contains(&per_api),
        "{stdout}"
    );
}

#[test]
fn an_api_can_take_its_keys_from_its_authorizer() {
    let server = Server::start(&test_app(APP), &[]);
    let with_token = |token: Option<&str>| {
        let mut request = client().get(server.url("/via-authorizer"));
        if let Some(token) = token {
            request = request.header("authorization", token);
        }
        let response = request.send().expect("GET /via-authorizer");
        let status = response.status().as_u16();
        (status, json_body(response))
    };
    // No token: the authorizer refuses before the key is looked at.
    assert_eq!(
        with_token(None),
        (401, serde_json::json!({"message": "Unauthorized"}))
    );
    // Allowed, but the authorizer named no key (an x-api-key header does not count here).
    assert_eq!(with_token(Some("just-me")), (403, forbidden()));
    let (status, body) = with_token(Some("let-me-in"));
    assert_eq!(status, 200, "{body:#}");
    let context = &body["event"]["requestContext"];
    assert_eq!(
        context["identity"]["apiKey"],
        "authorizer-key-0123456789abcdef"
    );
    assert_eq!(context["authorizer"]["principalId"], "caller");
}

#[test]
fn a_burst_over_the_plan_throttle_gets_429() {
    let server = Server::start(&test_app(APP), &[]);
    let per_api = key_value(&server, "PerApiApiKey");
    // BurstLimit 3, RateLimit 1: ten requests at once cannot all pass.
    let answers: Vec<(u16, Value)> = (0..10)
        .map(|_| get(&server, "/locked", Some(&per_api)))
        .collect();
    let passed = answers.iter().filter(|(status, _)| *status == 200).count();
    let throttled: Vec<&(u16, Value)> = answers
        .iter()
        .filter(|(status, _)| *status == 429)
        .collect();
    assert!((3..10).contains(&passed), "{answers:?}");
    assert_eq!(passed + throttled.len(), 10, "{answers:?}");
    assert_eq!(
        throttled[0].1,
        serde_json::json!({"message": "Too Many Requests"})
    );
    // The bucket refills at one request a second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(get(&server, "/locked", Some(&per_api)).0, 200);
}

#[test]
fn a_shared_quota_is_counted_across_apis_and_survives_a_restart() {
    let data = tempfile::tempdir().expect("data dir");
    let data_arg = data.path().to_str().expect("utf-8 path");
    let server = Server::start(&test_app(APP), &["--data", data_arg]);
    let shared = key_value(&server, "ServerlessApiKey");
    // SHARED: one key and one plan for both APIs, with 5 requests a day between them.
    assert_eq!(get(&server, "/counted", None), (403, forbidden()));
    for path in [
        "/counted",
        "/counted-too",
        "/counted",
        "/counted-too",
        "/counted",
    ] {
        let (status, body) = get(&server, path, Some(&shared));
        assert_eq!(status, 200, "{path}: {body:#}");
    }
    let limit_exceeded = (429, serde_json::json!({"message": "Limit Exceeded"}));
    assert_eq!(get(&server, "/counted-too", Some(&shared)), limit_exceeded);
    drop(server);

    let restarted = Server::start(&test_app(APP), &["--data", data_arg]);
    assert_eq!(
        key_value(&restarted, "ServerlessApiKey"),
        shared,
        "a generated key keeps its value across restarts"
    );
    assert_eq!(get(&restarted, "/counted", Some(&shared)), limit_exceeded);
}

/// `ls --json`'s summary of `stack` on a served server.
fn summary(server: &Server, stack: &str) -> Value {
    let (code, stdout, stderr) = server.admin(&["ls", "--json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let listed: Value = serde_json::from_str(&stdout).expect("ls --json");
    listed["stacks"]
        .as_array()
        .and_then(|stacks| stacks.iter().find(|summary| summary["name"] == stack))
        .unwrap_or_else(|| panic!("no stack {stack}: {stdout}"))
        .clone()
}

#[test]
fn quota_counts_and_key_values_survive_a_deploy() {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let app = scratch.path().join("app");
    serverful_e2e::copy_dir(&test_app(APP), &app);
    let app_arg = app.to_str().expect("utf-8 path");
    let server = Server::start_serve(&scratch.path().join("data"), &[]);
    let (code, stdout, stderr) = server.admin(&["deploy", app_arg, "--stack", "keys"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("api key: ServerlessApiKey "), "{stdout}");

    let before = summary(&server, "keys");
    let shared_key = |summary: &Value| -> String {
        summary["api_keys"]
            .as_array()
            .and_then(|keys| {
                keys.iter()
                    .find(|key| key["logical_id"] == "ServerlessApiKey")
            })
            .and_then(|key| key["value"].as_str())
            .unwrap_or_else(|| panic!("no ServerlessApiKey: {summary}"))
            .to_owned()
    };
    let shared = shared_key(&before);
    let host = before["urls"]
        .as_array()
        .and_then(|urls| urls.iter().find(|url| url["api"] == "SharedA"))
        .and_then(|url| url["url"].as_str())
        .and_then(|url| url.trim_start_matches("http://").split(['/', ':']).next())
        .expect("SharedA's URL")
        .to_owned();
    let counted = || {
        let response = client()
            .get(server.url("/sharedA/counted"))
            .header("host", &host)
            .header("x-api-key", &shared)
            .send()
            .expect("GET /sharedA/counted");
        let status = response.status().as_u16();
        (status, json_body(response))
    };
    for _ in 0..5 {
        let (status, body) = counted();
        assert_eq!(status, 200, "{body:#}");
    }

    // A new version of the stack (its description changed) keeps the key and the count.
    let template = app.join("template.yaml");
    let text = std::fs::read_to_string(&template).expect("read template");
    std::fs::write(
        &template,
        text.replace("API keys and usage plans", "Version 2 of API keys"),
    )
    .expect("write template");
    let (code, stdout, stderr) = server.admin(&["deploy", app_arg, "--stack", "keys"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("version 2"), "{stdout}");
    assert_eq!(shared_key(&summary(&server, "keys")), shared);
    assert_eq!(
        counted(),
        (429, serde_json::json!({"message": "Limit Exceeded"}))
    );
}
