//! Ruby functions (issue #13) on Serverful's Ruby bootstrap, through the gateway: the
//! `context` object and the event behind an HTTP API and a REST API, a handler that
//! raises, a `Module::Class.method` handler, a gem bundled into `vendor/bundle`, code that
//! fails to load, an oversized answer, and a handler naming a missing file stopping the
//! start. Needs `ruby` and `gem` (scripts/install-test-deps.sh installs Debian's `ruby`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::{json, Value};
use serverful_e2e::{run_serverful, test_app, Server};

use crate::{client, json_body};

/// The host Ruby's gem folder version (`3.1.0`): what `bundle install --path vendor/bundle`
/// names the folder under `vendor/bundle/ruby/`.
fn ruby_abi_version() -> String {
    let output = Command::new("ruby")
        .args(["-e", "print RbConfig::CONFIG['ruby_version']"])
        .output()
        .expect("run ruby: install it with scripts/install-test-deps.sh");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("utf-8 version")
}

fn run(command: &mut Command) {
    let output = command.output().expect("run command");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A copy of the `ruby` test app whose `greeting` gem is built from source and installed
/// into `src/vendor/bundle/ruby/<version>/`, laid out as Bundler lays out a `vendor/bundle`
/// (there is no rubygems.org to install from here).
fn ruby_app_with_a_vendored_gem() -> tempfile::TempDir {
    let app = tempfile::tempdir().expect("tempdir");
    serverful_e2e::copy_dir(&test_app("ruby"), app.path());
    let gem_source = app.path().join("greeting-gem");
    run(Command::new("gem")
        .args(["build", "greeting.gemspec"])
        .current_dir(&gem_source));
    let vendor = app
        .path()
        .join("src/vendor/bundle/ruby")
        .join(ruby_abi_version());
    run(Command::new("gem")
        .args(["install", "--local", "--no-document", "--install-dir"])
        .arg(&vendor)
        .arg(gem_source.join("greeting-1.0.0.gem")));
    assert!(vendor
        .join("specifications/greeting-1.0.0.gemspec")
        .is_file());
    app
}

/// The JSON body of a response that must have `status`; the server's output otherwise.
fn answered(server: &Server, response: reqwest::blocking::Response, status: u16) -> Value {
    let actual = response.status();
    let text = response.text().expect("response body");
    assert_eq!(
        actual,
        status,
        "{text}\n--- stdout\n{}--- stderr\n{}",
        server.stdout(),
        server.stderr()
    );
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
}

/// Every Ruby function of the app answers as on Lambda; `task_root` is where the code
/// appears to the function.
fn check_ruby_functions(server: &Server, task_root: &Path) {
    let http = client();
    let task_root = task_root.to_str().expect("utf-8 path");

    // The context and the event, through an HTTP API (payload 2.0).
    let response = http
        .post(server.url("/ruby/items/42?color=red"))
        .header("content-type", "application/json")
        .body(r#"{"quantity": 3}"#)
        .send()
        .expect("POST");
    let seen = answered(server, response, 200);
    let request_id = seen["requestId"].as_str().expect("request id").to_owned();
    assert_eq!(request_id.len(), 36, "{seen}");
    let name = server.function_name("ContextFunction");
    assert_eq!(seen["functionName"], name.as_str());
    assert_eq!(seen["functionVersion"], "$LATEST");
    assert_eq!(seen["memoryLimitInMb"], "256");
    assert_eq!(seen["logGroupName"], format!("/aws/lambda/{name}"));
    assert!(seen["logStreamName"]
        .as_str()
        .is_some_and(|stream| stream.contains("[$LATEST]")));
    assert_eq!(
        seen["invokedFunctionArn"],
        format!("arn:aws:lambda:us-east-1:123456789012:function:{name}")
    );
    let remaining = seen["remainingMs"].as_u64().expect("remaining time");
    assert!(remaining > 0 && remaining <= 10_000, "{seen}");
    assert!(
        seen["deadlineMs"].as_u64() > Some(1_600_000_000_000),
        "{seen}"
    );
    assert_eq!(seen["contextClass"], "ServerfulRuntime::LambdaContext");
    assert_eq!(seen["id"], "42");
    assert_eq!(seen["color"], "red");
    assert_eq!(seen["body"], json!({"quantity": 3}));
    assert_eq!(seen["greeting"], "hello from the template");
    assert_eq!(seen["executionEnv"], "AWS_Lambda_ruby3.3");
    assert!(seen["traceId"]
        .as_str()
        .is_some_and(|trace| trace.starts_with("Root=1-")));
    assert_eq!(seen["taskRoot"], task_root);
    assert!(
        seen["gemPath"].as_str().is_some_and(|path| path
            .starts_with(&format!("{task_root}/vendor/bundle/ruby/"))
            && path.contains(":/opt/ruby/gems/")),
        "{seen}"
    );
    assert_eq!(seen["rubyLib"], format!("{task_root}:/opt/ruby/lib"));
    assert_eq!(seen["encoding"], "UTF-8");
    // The function's output, `puts` and `Logger` (with the request id), as it printed it.
    server.wait_for_line(
        &Regex::new(r"^ContextFunction \| context handler got /ruby/items/42$").expect("regex"),
        Duration::from_secs(5),
    );
    server.wait_for_line(
        &Regex::new(&format!(
            r"^ContextFunction \| I, \[\S+ #\d+\]  INFO {request_id} -- : logged through Logger$"
        ))
        .expect("regex"),
        Duration::from_secs(5),
    );

    // The same function through a REST API (payload 1.0).
    let response = http
        .post(server.url("/rest/items/7?color=blue"))
        .header("content-type", "application/json")
        .body(r#"{"quantity": 1}"#)
        .send()
        .expect("POST");
    let seen = answered(server, response, 200);
    assert_eq!(seen["id"], "7");
    assert_eq!(seen["color"], "blue");
    assert_eq!(seen["body"], json!({"quantity": 1}));
    assert_ne!(seen["requestId"], request_id.as_str());

    // A handler in a subfolder that raises: 502, and the error in the log as AWS's Ruby
    // runtime reports it.
    let response = http.get(server.url("/ruby/raise")).send().expect("GET");
    assert_eq!(response.status(), 502);
    assert_eq!(
        json_body(response),
        json!({"message": "Internal server error"})
    );
    for pattern in [
        r#"^RaiseFunction \|   "errorType": "Function<ArgumentError>",$"#,
        r#"^RaiseFunction \|   "errorMessage": "ruby was asked to raise",$"#,
        r#"^RaiseFunction \|     ".*/lib/failing\.rb:3:in .*raise_it'"$"#,
    ] {
        server.wait_for_line(&Regex::new(pattern).expect("regex"), Duration::from_secs(5));
    }

    // `file.Module::Class.method`.
    let response = http
        .post(server.url("/ruby/orders"))
        .header("content-type", "application/json")
        .body(r#"{"item": "tea"}"#)
        .send()
        .expect("POST");
    assert_eq!(response.status(), 201);
    assert_eq!(
        json_body(response),
        json!({"created": "tea", "by": "Shop::Orders"})
    );

    // A gem from vendor/bundle, on a deprecated runtime name, through the REST API.
    let response = http.get(server.url("/rest/greet/Ada")).send().expect("GET");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().expect("body"),
        "Hello, Ada, from a vendored gem"
    );

    // Code that cannot load: every request fails, with the init error in the log.
    for _ in 0..2 {
        let response = http.get(server.url("/ruby/broken")).send().expect("GET");
        assert_eq!(response.status(), 502);
    }
    for pattern in [
        r#"^BrokenFunction \| Init error when loading handler broken\.handler$"#,
        r#"^BrokenFunction \|   "errorType": "Init<LoadError>",$"#,
        r#"^BrokenFunction \|   "errorMessage": "cannot load such file -- a_gem_nobody_installed",$"#,
    ] {
        server.wait_for_line(&Regex::new(pattern).expect("regex"), Duration::from_secs(5));
    }

    // An answer over Lambda's 6 MB limit is refused, and the function's log says so; the
    // same process serves the next request.
    let response = http
        .get(server.url("/ruby/sized?bytes=7000000"))
        .send()
        .expect("GET");
    assert_eq!(response.status(), 413);
    assert_eq!(json_body(response), json!({"message": "Request Too Long"}));
    let response = http
        .get(server.url("/ruby/sized?bytes=12"))
        .send()
        .expect("GET");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().expect("body"), "x".repeat(12));
    server.wait_for_line(
        &Regex::new(
            r"^SizedFunction \| Response payload size \(\d+ bytes\) exceeded maximum allowed payload size \(6291456 bytes\)\.$",
        )
        .expect("regex"),
        Duration::from_secs(5),
    );
    // Log lines arrive a moment after the response.
    let deadline = Instant::now() + Duration::from_secs(5);
    let reports = loop {
        let reports: Vec<String> = server
            .stdout()
            .lines()
            .filter(|line| line.starts_with("SizedFunction | REPORT "))
            .map(str::to_owned)
            .collect();
        if reports.len() >= 2 || Instant::now() > deadline {
            break reports;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(!reports[1].contains("Init Duration"), "{reports:?}");

    // The failures left the other functions serving.
    let response = http
        .post(server.url("/ruby/items/43?color=green"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .expect("POST");
    assert_eq!(response.status(), 200);

    // The host's Ruby may not be the runtime's version: one warning line says so.
    let stderr = server.stderr();
    for line in stderr
        .lines()
        .filter(|line| line.contains("ContextFunction: runtime ruby3.3"))
    {
        assert!(
            line.contains(" wants Ruby 3.3, running with Ruby "),
            "{line}"
        );
    }
    assert!(
        stderr
            .lines()
            .any(|line| line.contains("GemFunction: runtime ruby2.7 is deprecated")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn ruby_functions_answer_inside_the_sandbox() {
    let app = ruby_app_with_a_vendored_gem();
    let server = Server::start(app.path(), &[]);
    let sandboxed = server
        .stdout()
        .lines()
        .any(|line| line.starts_with("sandbox: ") && !line.starts_with("sandbox: off"));
    let task_root = if sandboxed {
        Path::new("/var/task").to_owned()
    } else {
        app.path().join("src")
    };
    check_ruby_functions(&server, &task_root);
}

#[test]
fn ruby_functions_answer_with_the_sandbox_off() {
    let app = ruby_app_with_a_vendored_gem();
    let server = Server::start(app.path(), &["--sandbox", "off"]);
    check_ruby_functions(&server, &app.path().join("src"));
}

#[test]
fn a_ruby_handler_naming_a_missing_file_stops_the_start() {
    let app = tempfile::tempdir().expect("tempdir");
    serverful_e2e::copy_dir(&test_app("ruby"), app.path());
    let template = app.path().join("template.yaml");
    let text = std::fs::read_to_string(&template).expect("read template");
    std::fs::write(
        &template,
        text.replace(
            "Handler: shop.Shop::Orders.create",
            "Handler: orders.create",
        ),
    )
    .expect("write template");
    let (code, stderr) = serverful_e2e::up_until_it_fails(app.path());
    assert_eq!(code, 1, "{stderr}");
    let src = app.path().join("src");
    assert!(
        stderr.contains(&format!(
            "error: OrdersFunction: handler orders.create: no file orders.rb in {}",
            src.display()
        )),
        "{stderr}"
    );
}

/// The errors' JSON is what the function posted, whole.
#[test]
fn serverful_invoke_prints_a_ruby_error_as_the_function_reported_it() {
    let app = tempfile::tempdir().expect("tempdir");
    serverful_e2e::copy_dir(&test_app("ruby"), app.path());
    let app_dir = app.path().to_str().expect("utf-8 path");
    let data = app.path().join(".serverful");
    let data = data.to_str().expect("utf-8 path");
    let (code, stdout, stderr) =
        run_serverful(&["invoke", "RaiseFunction", app_dir, "--data", data]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let error: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|problem| panic!("not JSON ({problem}): {stdout}\n{stderr}"));
    assert_eq!(error["errorType"], "Function<ArgumentError>");
    assert_eq!(error["errorMessage"], "ruby was asked to raise");
    let trace = error["stackTrace"].as_array().expect("stack trace");
    // Ruby 3.4 quotes the method as 'Object#raise_it', earlier Rubies as `raise_it'.
    assert!(
        trace[0].as_str().is_some_and(
            |frame| frame.contains("lib/failing.rb:3:in ") && frame.ends_with("raise_it'")
        ),
        "{error}"
    );
}
