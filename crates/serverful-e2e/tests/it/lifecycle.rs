//! Function lifecycle under load and failure (issue #3): timeouts, crashes, concurrency
//! limits and throttling, build caching, and the bad-input cases.

use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::{json, Value};
use serverful_e2e::{test_app, Server};

use crate::{client, json_body};

/// Sends `n` requests at once and returns (status, body) of each.
fn parallel_gets(url: &str, n: usize) -> Vec<(u16, String)> {
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let url = url.to_string();
            std::thread::spawn(move || {
                let response = client().get(&url).send().expect("GET");
                (response.status().as_u16(), response.text().expect("body"))
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|thread| thread.join().expect("request thread"))
        .collect()
}

#[test]
fn a_function_past_its_timeout_gets_504_and_the_next_request_succeeds() {
    let server = Server::start(&test_app("lifecycle"), &[]);
    let http = client();
    let timed_out = http.get(server.url("/sleep/3000")).send().expect("GET");
    assert_eq!(timed_out.status(), 504);
    assert_eq!(
        json_body(timed_out),
        json!({"message": "Endpoint request timed out"})
    );
    server.wait_for_line(
        &Regex::new(r"SlowFunction \| .*Task timed out after 1\.00 seconds").expect("regex"),
        Duration::from_secs(5),
    );
    let next = http.get(server.url("/sleep/10")).send().expect("GET");
    assert_eq!(next.status(), 200);
}

#[test]
fn a_process_that_exits_mid_request_gets_502_and_is_replaced() {
    let server = Server::start(&test_app("lifecycle"), &[]);
    let http = client();
    for (prefix, function) in [
        ("/crash", "CrashFunction"),
        ("/pycrash", "PythonCrashFunction"),
    ] {
        let before = http
            .get(server.url(&format!("{prefix}/fine")))
            .send()
            .expect("GET")
            .text()
            .expect("body");
        let crashed = http
            .get(server.url(&format!("{prefix}/exit")))
            .send()
            .expect("GET");
        assert_eq!(crashed.status(), 502, "{function}");
        assert_eq!(
            json_body(crashed),
            json!({"message": "Internal server error"})
        );
        server.wait_for_line(
            &Regex::new(&format!(r"{function} \| .*Runtime\.ExitError")).expect("regex"),
            Duration::from_secs(5),
        );
        let after = http
            .get(server.url(&format!("{prefix}/fine")))
            .send()
            .expect("GET");
        assert_eq!(after.status(), 200, "{function} serves again");
        assert_ne!(
            after.text().expect("body"),
            before,
            "{function} runs in a new process"
        );
    }
}

#[test]
fn parallel_requests_run_on_parallel_instances() {
    let server = Server::start(&test_app("lifecycle"), &["--max-concurrency", "8"]);
    let url = server.url("/sleep/300");
    // The first round starts the eight instances; the second shows them working at once.
    let cold = parallel_gets(&url, 8);
    assert!(cold.iter().all(|(status, _)| *status == 200), "{cold:?}");
    let started = Instant::now();
    let warm = parallel_gets(&url, 8);
    let elapsed = started.elapsed();
    assert!(warm.iter().all(|(status, _)| *status == 200), "{warm:?}");
    let mut instances: Vec<String> = warm
        .iter()
        .map(|(_, body)| {
            serde_json::from_str::<Value>(body).expect("JSON")["instance"]
                .as_str()
                .expect("instance")
                .to_owned()
        })
        .collect();
    instances.sort_unstable();
    instances.dedup();
    assert_eq!(instances.len(), 8, "eight instances");
    // One after the other this is 2.4 s; in parallel it is about 300 ms.
    assert!(elapsed < Duration::from_millis(1500), "took {elapsed:?}");
}

#[test]
fn past_the_concurrency_limit_requests_queue_then_get_429() {
    let server = Server::start(
        &test_app("lifecycle"),
        &["--max-concurrency", "2", "--max-queued", "2"],
    );
    let results = parallel_gets(&server.url("/sleep/500"), 8);
    let served = results.iter().filter(|(status, _)| *status == 200).count();
    let throttled: Vec<_> = results
        .iter()
        .filter(|(status, _)| *status == 429)
        .collect();
    assert_eq!(served, 4, "two run and two wait: {results:?}");
    assert_eq!(throttled.len(), 4, "{results:?}");
    for (_, body) in throttled {
        assert_eq!(
            serde_json::from_str::<Value>(body).expect("JSON"),
            json!({"message": "Too Many Requests"})
        );
    }
    assert_eq!(
        client()
            .get(server.url("/sleep/1"))
            .send()
            .expect("GET")
            .status(),
        200
    );
}

#[test]
fn a_response_over_6_mb_is_413_and_a_request_over_10_mb_is_413() {
    let server = Server::start(&test_app("lifecycle"), &[]);
    let http = client();
    let big = http.get(server.url("/big/7")).send().expect("GET");
    assert_eq!(big.status(), 413);
    let small = http.get(server.url("/big/1")).send().expect("GET");
    assert_eq!(small.status(), 200);
    assert_eq!(small.bytes().expect("body").len(), 1024 * 1024);

    let huge = http
        .post(server.url("/big/1"))
        .body(vec![b'a'; 11 * 1024 * 1024])
        .send()
        .expect("POST");
    assert_eq!(huge.status(), 413);
    assert_eq!(
        http.get(server.url("/sleep/1"))
            .send()
            .expect("GET")
            .status(),
        200,
        "the server keeps serving"
    );
}

#[test]
fn a_handler_that_never_asks_for_work_fails_at_the_init_limit_and_others_keep_serving() {
    let server = Server::start(&test_app("lifecycle"), &[]);
    let http = client();
    let stuck = std::thread::spawn({
        let url = server.url("/stuck");
        move || client().get(&url).send().expect("GET").status().as_u16()
    });
    // Other functions answer while the stuck one initialises.
    assert_eq!(
        http.get(server.url("/sleep/1"))
            .send()
            .expect("GET")
            .status(),
        200
    );
    let started = Instant::now();
    assert_eq!(stuck.join().expect("thread"), 502);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the 10 s init limit ended it"
    );
    server.wait_for_line(
        &Regex::new(r"StuckFunction \| .*(Timedout|timed out|Init)").expect("regex"),
        Duration::from_secs(5),
    );
}

#[test]
fn requirements_are_installed_once_and_the_next_start_uses_the_cache() {
    let data = tempfile::tempdir().expect("data dir");
    let data_arg = data.path().to_str().expect("utf-8");
    let first = Server::start(&test_app("requirements"), &["--data", data_arg]);
    assert!(
        first
            .stderr()
            .contains("building RequestsFunction: pip install"),
        "{}",
        first.stderr()
    );
    let version = client()
        .get(first.url("/requests-version"))
        .send()
        .expect("GET")
        .text()
        .expect("body");
    assert_eq!(version, "2.32.3");
    drop(first);

    let second = Server::start(&test_app("requirements"), &["--data", data_arg]);
    assert!(
        !second.stderr().contains("pip install"),
        "cached: {}",
        second.stderr()
    );
    let version = client()
        .get(second.url("/requests-version"))
        .send()
        .expect("GET")
        .text()
        .expect("body");
    assert_eq!(version, "2.32.3");
}

#[test]
fn a_failing_build_shows_the_tools_output_and_the_function() {
    let error = Server::try_start(&test_app("bad-requirements"), &[])
        .err()
        .expect("start-up fails");
    assert!(error.contains("exited with exit status: 1"), "{error}");
    assert!(error.contains("BrokenBuildFunction"), "{error}");
    assert!(
        error.contains("this-package-does-not-exist-serverful"),
        "pip's own message: {error}"
    );
}

#[test]
fn a_bootstrap_that_is_not_executable_says_chmod() {
    let error = Server::try_start(&test_app("not-executable"), &[])
        .err()
        .expect("start-up fails");
    assert!(error.contains("exited with exit status: 1"), "{error}");
    assert!(
        error.contains("NotExecutableFunction") && error.contains("chmod +x"),
        "{error}"
    );
}

#[test]
fn functions_that_do_not_bundle_the_aws_sdk_get_it_from_the_shared_cache() {
    let server = Server::start(&test_app("sdk"), &[]);
    let http = client();
    for (path, expected) in [
        ("/esm", "function"),
        ("/cjs", "function"),
        ("/py", "DynamoDB"),
    ] {
        let response = http.get(server.url(path)).send().expect("GET");
        let status = response.status();
        let body = response.text().expect("body");
        assert_eq!(
            (status.as_u16(), body.as_str()),
            (200, expected),
            "{path}\n{}",
            server.stdout()
        );
    }
}

#[test]
fn idle_instances_stop_after_the_idle_timeout_and_the_next_request_starts_one() {
    let server = Server::start(&test_app("lifecycle"), &["--idle-timeout", "500ms"]);
    let http = client();
    let first: Value = serde_json::from_str(
        &http
            .get(server.url("/sleep/1"))
            .send()
            .expect("GET")
            .text()
            .expect("body"),
    )
    .expect("JSON");
    // The instance's processes; the sandbox parked for the next cold start stays.
    let processes = crate::hello::instance_processes(server.pid());
    assert!(!processes.is_empty(), "the instance runs");
    // Scaled to zero: the instance's processes are gone once it has been idle long enough.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive: Vec<_> = processes
            .iter()
            .filter(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
            .collect();
        if alive.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "instance processes {alive:?} still running 10 s after going idle"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let second: Value = serde_json::from_str(
        &http
            .get(server.url("/sleep/1"))
            .send()
            .expect("GET")
            .text()
            .expect("body"),
    )
    .expect("JSON");
    assert_ne!(
        second["instance"], first["instance"],
        "a new instance serves the next request"
    );
}

#[test]
fn a_long_first_invocation_does_not_hold_up_the_next_parked_sandbox() {
    use crate::hello::{parked_sandboxes, wait_for_a_new_parked_sandbox};
    let server = Server::start(&test_app("lifecycle"), &[]);
    if !server.stdout().contains("sandbox: user/") {
        eprintln!("skipped: functions run without the sandbox here");
        return;
    }
    let pid = server.pid();
    let parked_at_start = parked_sandboxes(pid);
    // The first invocation runs 950 ms (the function's Timeout is 1 s).
    let url = server.url("/sleep/950");
    let first = std::thread::spawn(move || client().get(url).send().expect("GET").status());
    wait_for_a_new_parked_sandbox(
        pid,
        &parked_at_start,
        Duration::from_millis(900),
        "no sandbox parked while the first invocation ran",
    );
    assert!(!first.is_finished(), "the first invocation already ended");
    // 200, or 504 should a loaded machine push the sleep past the Timeout; either way the
    // sandbox was parked while it ran.
    let status = first.join().expect("first request");
    assert!(status == 200 || status == 504, "{status}");
}
