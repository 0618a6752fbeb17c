//! Prometheus metrics (issue #19, "See everything"): a real Prometheus (Debian's
//! `prometheus` package) scrapes a running server with the admin token and PromQL gets
//! the invocation and error counts; the Grafana dashboard's queries parse and name only
//! metrics a live `/metrics` has; a wrong token is refused with a hint, `--metrics-public`
//! needs none and `--no-metrics` turns `/metrics` off.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use serverful_e2e::{repo_root, test_app, Server};

use super::client;

/// The app every test here runs.
const APP: &str = "metrics";

/// The dashboard the repository ships.
fn dashboard() -> Value {
    let path = repo_root().join("dashboards/grafana/serverful.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every PromQL expression of the dashboard's panels.
fn dashboard_exprs(dashboard: &Value) -> Vec<String> {
    fn walk(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(members) => {
                for (key, member) in members {
                    match (key.as_str(), member) {
                        ("expr", Value::String(expr)) => found.push(expr.clone()),
                        _ => walk(member, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(&dashboard["panels"], &mut found);
    found
}

/// The dashboard's variable queries (`label_values(metric{...}, label)`).
fn dashboard_variable_queries(dashboard: &Value) -> Vec<String> {
    dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|variable| variable["definition"].as_str())
        .map(str::to_owned)
        .collect()
}

/// An expression as Grafana sends it: its interval and variables filled in.
fn as_grafana_sends(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$stack", ".*")
        .replace("$function", ".*")
        .replace("$job", ".*")
}

/// The metric names an expression reads: Serverful's and the process's.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let pattern = regex::Regex::new(r"\b(?:serverful|process)_[a-z_]+\b").expect("regex");
    pattern
        .find_iter(expr)
        .map(|found| found.as_str().to_owned())
        .collect()
}

/// `GET /metrics` on the admin listener with `token`: (status, body).
fn scrape(server: &Server, token: Option<&str>) -> (u16, String) {
    let mut request = client().get(format!("{}/metrics", server.admin_url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().expect("GET /metrics");
    let status = response.status().as_u16();
    (status, response.text().expect("metrics body"))
}

/// The value of the sample `series` (name and labels exactly as written) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// Waits until `check` is true of a fresh scrape; the last scrape otherwise, in the panic.
fn wait_for_scrape(server: &Server, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, text) = scrape(server, Some(&server.admin_token));
        assert_eq!(status, 200, "{text}");
        if check(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} after 60 s; last scrape:\n{text}\n{}",
            server.all_output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Calls `GET /hello/ada` `hellos` times and `GET /fail` `failures` times.
fn exercise_routes(server: &Server, hellos: usize, failures: usize) {
    for _ in 0..hellos {
        let response = client()
            .get(server.url("/hello/ada"))
            .send()
            .expect("GET /hello");
        assert_eq!(response.status().as_u16(), 200);
    }
    for _ in 0..failures {
        let response = client().get(server.url("/fail")).send().expect("GET /fail");
        assert_eq!(response.status().as_u16(), 502);
    }
}

/// A Prometheus started for a test, stopped when dropped.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Starts Debian's `prometheus` scraping `target` (`host:port`) every second with the
/// token in a credentials file, as the README tells users to set it up.
fn start_prometheus(target: &str, token: &str) -> Prometheus {
    let binary = PathBuf::from("/usr/bin/prometheus");
    assert!(
        binary.exists(),
        "{} is missing: run `bash scripts/install-test-deps.sh` (apt-get install prometheus)",
        binary.display()
    );
    let dir = tempfile::tempdir().expect("prometheus dir");
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, token).expect("write the token file");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: serverful\n    scrape_interval: 1s\n    scrape_timeout: 1s\n\
             \x20   authorization:\n      credentials_file: {}\n\
             \x20   static_configs:\n      - targets: ['{target}']\n",
            token_file.display()
        ),
    )
    .expect("write prometheus.yml");
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
    let child = Command::new(&binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let prometheus = Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = client()
            .get(format!("{}/-/ready", prometheus.url))
            .send()
            .is_ok_and(|response| response.status().is_success());
        if ready {
            return prometheus;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus not ready after 60 s:\n{}",
            prometheus_log(&prometheus)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn prometheus_log(prometheus: &Prometheus) -> String {
    std::fs::read_to_string(prometheus._dir.path().join("prometheus.log")).unwrap_or_default()
}

/// `GET /api/v1/query?query=QUERY`: (HTTP status, the answer's JSON).
fn query(prometheus: &Prometheus, promql: &str) -> (u16, Value) {
    let url = reqwest::Url::parse_with_params(
        &format!("{}/api/v1/query", prometheus.url),
        &[("query", promql)],
    )
    .expect("query URL");
    let response = client().get(url).send().expect("query prometheus");
    let status = response.status().as_u16();
    let text = response.text().expect("query answer");
    let answer =
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"));
    (status, answer)
}

/// The single value of an instant query, once there is one.
fn scalar(prometheus: &Prometheus, promql: &str) -> Option<f64> {
    let (status, answer) = query(prometheus, promql);
    assert_eq!(status, 200, "{promql}: {answer}");
    answer["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|value| value.parse().ok())
}

/// Waits until `promql` answers `expected` (Prometheus scrapes every second).
fn wait_for_value(prometheus: &Prometheus, promql: &str, expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let value = scalar(prometheus, promql);
        if value == Some(expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{promql} is {value:?}, not {expected}, after 60 s; targets: {}\n{}",
            query(prometheus, "up").1,
            prometheus_log(prometheus)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn host_port(url: &str) -> &str {
    url.trim_start_matches("http://")
}

#[test]
fn prometheus_scrapes_invocation_and_error_counts() {
    let server = Server::start(&test_app(APP), &[]);
    let prometheus = start_prometheus(host_port(&server.admin_url), &server.admin_token);
    wait_for_value(&prometheus, r#"up{job="serverful"}"#, 1.0);

    exercise_routes(&server, 7, 3);

    wait_for_value(
        &prometheus,
        r#"sum(serverful_lambda_invocations_total{function="HelloFunction"})"#,
        7.0,
    );
    wait_for_value(
        &prometheus,
        r#"sum(serverful_lambda_invocations_total{function="FailFunction"})"#,
        3.0,
    );
    wait_for_value(
        &prometheus,
        r#"sum(serverful_lambda_errors_total{function="FailFunction"})"#,
        3.0,
    );
    // A raised exception is the function's own error, not one of the runtime's.
    wait_for_value(
        &prometheus,
        r#"sum(serverful_lambda_errors_total{function="FailFunction",error_type="Function"})"#,
        3.0,
    );
    assert_eq!(
        scalar(
            &prometheus,
            r#"sum(serverful_lambda_errors_total{function="HelloFunction"})"#
        ),
        None,
        "HelloFunction never failed"
    );
    wait_for_value(
        &prometheus,
        r#"sum(serverful_gateway_requests_total{route="GET /hello/{name}",status="200"})"#,
        7.0,
    );
    wait_for_value(
        &prometheus,
        r#"sum(serverful_gateway_requests_total{route="GET /fail",status="502"})"#,
        3.0,
    );
    wait_for_value(
        &prometheus,
        r#"sum(serverful_lambda_duration_seconds_count{function="HelloFunction"})"#,
        7.0,
    );

    // Every query of the dashboard parses (a parse error is Prometheus's 400 `bad_data`).
    for expr in dashboard_exprs(&dashboard()) {
        let sent = as_grafana_sends(&expr);
        let (status, answer) = query(&prometheus, &sent);
        assert_eq!(status, 200, "the dashboard's query {sent} failed: {answer}");
        assert_eq!(answer["status"], "success", "{sent}: {answer}");
    }
}

#[test]
fn the_dashboard_names_only_metrics_a_live_server_has() {
    let server = Server::start(&test_app(APP), &[]);
    // Functions and the gateway.
    exercise_routes(&server, 2, 1);
    // The store, whose writes feed the stream ProjectorFunction reads.
    for id in ["a", "b"] {
        let item = format!(r#"{{"id":{{"S":"{id}"}}}}"#);
        let (ok, _, stderr) = server.aws_cli(&[
            "dynamodb",
            "put-item",
            "--table-name",
            "metrics-notes",
            "--item",
            &item,
        ]);
        assert!(ok, "put-item failed: {stderr}");
    }
    // A queue with a message waiting.
    let queue_url = format!("{}/123456789012/metrics-jobs", server.aws_url);
    // The AWS CLI v1 sends SQS to its own endpoint whatever AWS_ENDPOINT_URL says.
    let (ok, _, stderr) = server.aws_cli(&[
        "--endpoint-url",
        &server.aws_url,
        "sqs",
        "send-message",
        "--queue-url",
        &queue_url,
        "--message-body",
        "job",
    ]);
    assert!(ok, "send-message failed: {stderr}");

    let text = wait_for_scrape(&server, "stream invocation", |text| {
        sample(
            text,
            r#"serverful_lambda_invocations_total{stack="metrics",function="ProjectorFunction"}"#,
        )
        .is_some_and(|count| count >= 1.0)
    });
    assert_eq!(
        sample(
            &text,
            r#"serverful_sqs_queue_messages{queue="metrics-jobs",state="visible"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"serverful_dynamodb_operations_total{operation="PutItem",outcome="success"}"#
        ),
        Some(2.0),
        "{text}"
    );

    assert!(
        text.lines().any(|line| line.starts_with(
            r#"serverful_stream_iterator_age_seconds{stack="metrics",function="ProjectorFunction",table="metrics-notes"} "#
        )),
        "{text}"
    );

    // A metric exists when the scrape describes it: families read at scrape time (the
    // asynchronous backlog) have no sample while nothing waits.
    let mut known: BTreeSet<String> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();
    for line in text.lines() {
        if let Some(name) = line
            .strip_prefix("# TYPE ")
            .and_then(|rest| rest.split(' ').next())
        {
            known.insert(name.to_owned());
        }
    }
    let dashboard = dashboard();
    let queries: Vec<String> = dashboard_exprs(&dashboard)
        .into_iter()
        .chain(dashboard_variable_queries(&dashboard))
        .collect();
    assert!(queries.len() >= 15, "{queries:?}");
    for query in &queries {
        let names = metric_names(query);
        assert!(!names.is_empty(), "{query} reads no metric");
        for name in names {
            assert!(
                known.contains(&name),
                "the dashboard's query {query} reads {name}, which /metrics does not have:\n{text}"
            );
        }
    }
}

#[test]
fn metrics_need_the_token_unless_public_and_go_away_when_off() {
    let server = Server::start(&test_app(APP), &[]);
    assert!(
        server.stdout().contains(&format!(
            "Metrics {}/metrics (with the admin token)",
            server.admin_url
        )),
        "{}",
        server.stdout()
    );
    let (status, body) = scrape(&server, Some("not-the-token"));
    assert_eq!(status, 401, "{body}");
    assert!(body.starts_with("the admin token is wrong"), "{body}");
    assert!(body.contains("credentials_file"), "{body}");
    let (status, body) = scrape(&server, None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("Authorization: Bearer"), "{body}");
    let (status, body) = scrape(&server, Some(&server.admin_token));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("# TYPE serverful_lambda_invocations_total counter"));
    drop(server);

    let public = Server::start(&test_app(APP), &["--metrics-public"]);
    let (status, body) = scrape(&public, None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("process_resident_memory_bytes "), "{body}");
    // The rest of the admin API still wants the token.
    let listed = client()
        .get(format!("{}/v1/stacks", public.admin_url))
        .send()
        .expect("GET /v1/stacks");
    assert_eq!(listed.status().as_u16(), 401);
    drop(public);

    let off = Server::start(&test_app(APP), &["--no-metrics"]);
    assert!(off.stdout().contains("Metrics off (--no-metrics)"));
    let (status, body) = scrape(&off, Some(&off.admin_token));
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("--no-metrics"), "{body}");
    // Functions still run.
    exercise_routes(&off, 1, 0);
}
