//! The README's example app, `examples/hello`, as a user runs it.

use std::time::Duration;

use regex::Regex;
use serverful_e2e::{repo_root, Server};

use crate::{client, json_body};

#[test]
fn example_app_serves_both_functions_and_logs_like_lambda() {
    let server = Server::start(
        &repo_root().join("examples/hello"),
        &["--parameter-overrides", "Greeting=Howdy"],
    );
    let stdout = server.stdout();
    // The banner and `serverful --version` name the same version.
    let (code, version, _) = serverful_e2e::run_serverful(&["--version"]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with(&format!("{} running ", version.trim())),
        "{version}\n{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "GET {}/hello/{{name}} -> GreeterFunction",
            server.base_url
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "POST {}/count -> CounterFunction",
            server.base_url
        )),
        "{stdout}"
    );
    // Outputs resolve with the local account and region, and the function's name as
    // CloudFormation makes it: `{stack}-{LogicalId}-{SUFFIX}`, the stack named after the
    // app's folder.
    let counter_arn = server.output("CounterFunctionArn");
    let counter_name = Regex::new(
        r"^arn:aws:lambda:us-east-1:123456789012:function:(hello-CounterFunction-[0-9A-Z]{12})$",
    )
    .expect("regex")
    .captures(&counter_arn)
    .unwrap_or_else(|| panic!("CounterFunctionArn = {counter_arn}"))[1]
        .to_owned();

    let http = client();
    let greeting = json_body(
        http.get(server.url("/hello/world?punctuation=%3F"))
            .send()
            .expect("GET /hello"),
    );
    assert_eq!(greeting["message"], "Howdy, world?");

    let first = json_body(
        http.post(server.url("/count"))
            .body("one two three")
            .send()
            .expect("POST /count"),
    );
    assert_eq!(first["words"], 3);
    assert_eq!(
        first["function"], counter_name,
        "the context names the function as AWS does"
    );
    let second = json_body(
        http.post(server.url("/count"))
            .body("four")
            .send()
            .expect("POST /count"),
    );
    assert_eq!(second["words"], 1);
    assert_eq!(second["served"], 2, "the warm instance is reused");

    // The REST API's stage prefix works too, as with `sam local`.
    let staged = http
        .post(server.url("/Prod/count"))
        .body("a b")
        .send()
        .expect("POST /Prod/count");
    assert_eq!(staged.status(), 200);

    // START / END / REPORT lines in AWS's exact format, prefixed with the function's name.
    let report = Regex::new(
        r"CounterFunction.*REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d{2} ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d{2} ms\t",
    )
    .expect("regex");
    server.wait_for_line(&report, Duration::from_secs(5));
    let warm_report = Regex::new(r"CounterFunction.*REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d{2} ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\t$").expect("regex");
    server.wait_for_line(&warm_report, Duration::from_secs(5));
    server.wait_for_line(
        &Regex::new(r"CounterFunction.*START RequestId: [0-9a-f-]{36} Version: \$LATEST")
            .expect("regex"),
        Duration::from_secs(5),
    );
    server.wait_for_line(
        &Regex::new(r"CounterFunction.*END RequestId: [0-9a-f-]{36}").expect("regex"),
        Duration::from_secs(5),
    );
    // The function's own output, with the Node.js runtime's line format.
    server.wait_for_line(
        &Regex::new(r"CounterFunction.*\tINFO\tcounted 3 words").expect("regex"),
        Duration::from_secs(5),
    );
    server.wait_for_line(
        &Regex::new(r"GreeterFunction.*greeting world").expect("regex"),
        Duration::from_secs(5),
    );
}

#[test]
fn ctrl_c_stops_cleanly_and_kills_every_function_process() {
    let server = Server::start(&repo_root().join("examples/hello"), &[]);
    let http = client();
    assert_eq!(
        http.get(server.url("/hello/a"))
            .send()
            .expect("GET")
            .status(),
        200
    );
    assert_eq!(
        http.post(server.url("/count"))
            .body("x")
            .send()
            .expect("POST")
            .status(),
        200
    );
    let descendants = descendants_of(server.pid());
    assert!(
        descendants.len() >= 2,
        "two function processes run: {descendants:?}"
    );

    let (status, output) = server.interrupt();
    assert!(status.success(), "exit status {status}\n{output}");
    // A sandboxed instance's pid namespace is torn down by the kernel just after its init
    // dies: allow it a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let survivors: Vec<_> = descendants
            .iter()
            .filter(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
            .collect();
        if survivors.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "function processes outlived the server: {survivors:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every process below `pid`, by walking /proc's parent links.
pub(crate) fn descendants_of(pid: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // The parent pid is the second field after the parenthesised command name.
        let Some(after_name) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        if let Some(parent) = after_name
            .split_whitespace()
            .nth(1)
            .and_then(|field| field.parse::<u32>().ok())
        {
            parents.push((child, parent));
        }
    }
    let mut found = vec![pid];
    let mut idx = 0;
    while idx < found.len() {
        let current = found[idx];
        found.extend(
            parents
                .iter()
                .filter(|(_, parent)| *parent == current)
                .map(|(child, _)| *child),
        );
        idx += 1;
    }
    found.remove(0);
    found
}

/// The processes of `pid`'s running function instances: its descendants, except the
/// sandboxes parked for the next cold starts, whose processes are all still the sandbox
/// init (a running sandboxed instance has its function process below the init).
pub(crate) fn instance_processes(pid: u32) -> Vec<u32> {
    let is_init = |process: u32| {
        std::fs::read(format!("/proc/{process}/cmdline"))
            .is_ok_and(|cmdline| cmdline.starts_with(b"serverful-sandbox-init"))
    };
    let children: Vec<u32> = descendants_of(pid)
        .into_iter()
        .filter(|&process| parent_of(process) == Some(pid))
        .collect();
    let mut found = Vec::new();
    for child in children {
        let mut tree = descendants_of(child);
        tree.insert(0, child);
        if tree.iter().any(|&process| !is_init(process)) {
            found.extend(tree);
        }
    }
    found
}

/// The sandboxes parked under the server `pid`: the init processes (its children) whose
/// whole tree is still the sandbox init.
pub(crate) fn parked_sandboxes(pid: u32) -> Vec<u32> {
    let instances = instance_processes(pid);
    descendants_of(pid)
        .into_iter()
        .filter(|&process| parent_of(process) == Some(pid) && !instances.contains(&process))
        .filter(|&process| {
            std::fs::read(format!("/proc/{process}/cmdline"))
                .is_ok_and(|cmdline| cmdline.starts_with(b"serverful-sandbox-init"))
        })
        .collect()
}

/// Waits until the server `pid` has a parked sandbox that is not in `before`, failing
/// the test with `what` if none appears within `limit`.
pub(crate) fn wait_for_a_new_parked_sandbox(pid: u32, before: &[u32], limit: Duration, what: &str) {
    let started = std::time::Instant::now();
    loop {
        let parked_now = parked_sandboxes(pid);
        if parked_now.iter().any(|process| !before.contains(process)) {
            return;
        }
        assert!(started.elapsed() < limit, "{what}: {parked_now:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.split_whitespace().nth(1)?.parse().ok()
}
