//! Java runtimes (issue #13): `java21` handlers built by a Makefile with `javac`
//! (`test_data/apps/java`) answer through the gateway on Serverful's Java bootstrap, in the
//! sandbox and with `--sandbox off`; in the sandbox the JDK's HTTPS client trusts
//! Serverful's certificate authority on DynamoDB's AWS host name; a handler naming no class stops the start; a function
//! whose `CodeUri` is a jar runs from it, unpacked.
//!
//! The handlers compile against the Lambda core library (`aws-lambda-java-core`). AWS's jar
//! cannot be downloaded on these machines, so the tests build a jar of the same API from
//! the sources Serverful's bootstrap carries (same packages, names and signatures) and give
//! its path to the Makefile in `AWS_LAMBDA_JAVA_CORE_JAR`, where a Maven or Gradle build
//! would have put AWS's. The runtime provides those classes at run time either way.
//!
//! The host needs a JDK (`javac`, `jar`); `scripts/install-test-deps.sh` installs one. Its
//! version may differ from 21 (CI has 17): the function then runs with a warning naming
//! both versions, which the tests accept.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use regex::Regex;
use serde_json::{json, Value};
use serverful_e2e::{bin_dir, copy_dir, test_app, up_until_it_fails, Server};

use crate::{client, json_body};

/// The Lambda core library's API as a jar, built once per set of sources under the target
/// folder.
fn core_jar() -> PathBuf {
    static JAR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    JAR.get_or_init(|| {
        let sources_root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../serverful-runtime/src/bootstrap/java/src");
        let mut sources = Vec::new();
        let mut pending = vec![sources_root.join("com/amazonaws/services/lambda/runtime")];
        while let Some(folder) = pending.pop() {
            for entry in std::fs::read_dir(&folder)
                .expect("read the API sources")
                .flatten()
            {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|ext| ext == "java") {
                    sources.push(path);
                }
            }
        }
        sources.sort();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for source in &sources {
            std::hash::Hash::hash(&std::fs::read(source).expect("read source"), &mut hasher);
        }
        let key = std::hash::Hasher::finish(&hasher);
        let folder = bin_dir().join(format!("aws-lambda-java-core-{key:016x}"));
        let jar = folder.join("aws-lambda-java-core.jar");
        if jar.is_file() {
            return jar;
        }
        // Built beside and renamed, so that concurrent test processes never see half a jar.
        let scratch = tempfile::tempdir_in(bin_dir()).expect("scratch dir");
        let classes = scratch.path().join("classes");
        run(Command::new("javac")
            .arg("-d")
            .arg(&classes)
            .arg("-nowarn")
            .args(&sources));
        let out = scratch.path().join("out");
        std::fs::create_dir_all(&out).expect("mkdir");
        run(Command::new("jar")
            .arg("--create")
            .arg("--file")
            .arg(out.join("aws-lambda-java-core.jar"))
            .arg("-C")
            .arg(&classes)
            .arg("."));
        if std::fs::rename(&out, &folder).is_err() {
            assert!(
                jar.is_file(),
                "could not move the core jar into {}",
                folder.display()
            );
        }
        jar
    })
    .clone()
}

/// Runs a JDK tool, which must succeed.
fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{command:?}: {error} (the Java tests need a JDK)"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn start(data_dir: &Path, extra_args: &[&str]) -> Server {
    let jar = core_jar();
    let mut args = vec!["--data", data_dir.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra_args);
    Server::try_start_with_env(
        &test_app("java"),
        &args,
        &[(
            "AWS_LAMBDA_JAVA_CORE_JAR",
            jar.to_str().expect("utf-8 path"),
        )],
    )
    .unwrap_or_else(|output| panic!("server did not start:\n{output}"))
}

/// The function's log line matching `pattern` (after `Function | `).
fn log_line(server: &Server, function: &str, pattern: &str) -> String {
    let regex = Regex::new(&format!(r"^{function} \| {pattern}")).expect("regex");
    server.wait_for_line(&regex, Duration::from_secs(10))
}

#[test]
fn java_handlers_answer_through_the_gateway() {
    let data = tempfile::tempdir().expect("data dir");
    let server = start(data.path(), &["--sandbox", "required"]);
    let http = client();

    // The JDK's HTTPS client reaches DynamoDB's AWS host name, answered by Serverful with a
    // certificate of its own authority, which the JVM trusts.
    let https = json_body(http.get(server.url("/https")).send().expect("GET /https"));
    assert!(https["status"].is_u64(), "{https}\n{}", server.all_output());
    assert!(
        https["issuer"]
            .as_str()
            .is_some_and(|issuer| issuer.contains("Serverful")),
        "{https}"
    );

    // A RequestHandler<Map<String, Object>, Map<String, Object>> with the Context and a
    // class from lib/greeting.jar.
    let response = http
        .get(server.url("/hello/ada"))
        .send()
        .expect("GET /hello");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-handler"], "Hello");
    let hello = json_body(response);
    assert_eq!(hello["greeting"], "Hello, ada!", "{hello}");
    let name = server.function_name("HelloFunction");
    assert_eq!(hello["functionName"], name.as_str());
    assert_eq!(hello["functionVersion"], "$LATEST");
    assert_eq!(hello["logGroupName"], format!("/aws/lambda/{name}"));
    assert_eq!(
        hello["invokedFunctionArn"],
        format!("arn:aws:lambda:us-east-1:123456789012:function:{name}")
    );
    assert_eq!(hello["memoryLimitInMB"], 256);
    let remaining = hello["remainingTimeInMillis"].as_i64().expect("a number");
    assert!(remaining > 0 && remaining <= 20_000, "{remaining}");
    let trace = hello["traceHeader"].as_str().expect("the trace property");
    assert!(trace.starts_with("Root=1-"), "{trace}");
    assert_eq!(hello["xrayTraceId"], trace);
    assert_eq!(
        hello["flavour"], "vanilla",
        "JAVA_TOOL_OPTIONS reach the JVM"
    );
    assert_eq!(hello["executionEnv"], "AWS_Lambda_java21");
    assert_eq!(
        hello["timeEpochType"], "Long",
        "untyped numbers as Jackson reads them"
    );
    let request_id = hello["requestId"].as_str().expect("a request id");
    log_line(
        &server,
        "HelloFunction",
        &format!("START RequestId: {request_id} "),
    );
    log_line(&server, "HelloFunction", "hello from the logger for ada$");
    log_line(&server, "HelloFunction", r"\[INFO\] an info line$");
    log_line(&server, "HelloFunction", "hello from stdout$");
    log_line(
        &server,
        "HelloFunction",
        &format!("END RequestId: {request_id}$"),
    );
    assert!(
        !server.stdout().contains("a debug line nobody sees"),
        "AWS_LAMBDA_LOG_LEVEL=INFO drops DEBUG lines"
    );

    // A plain instance method taking a POJO and returning one; the HTTP API's payload 2.0
    // rules make the returned JSON the body. The instance is made once.
    for served in [1, 2] {
        let response = http
            .post(server.url("/orders/c42"))
            .header("content-type", "application/json")
            .body(r#"{"item":"book"}"#)
            .send()
            .expect("POST /orders");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let mut receipt = json_body(response);
        let request_id = receipt["requestId"].take();
        assert!(request_id.is_string(), "{receipt}");
        assert_eq!(
            receipt,
            json!({
                "customer": "c42",
                "method": "POST",
                "bodyLength": 15,
                "encoded": false,
                "served": served,
                "total": 25.00,
                "status": "ACCEPTED",
                "lines": [{"item": "book", "quantity": 2}, {"item": "pen", "quantity": 1}],
                "requestId": null,
            })
        );
    }

    // A RequestStreamHandler writes the response's bytes itself.
    let response = http
        .post(server.url("/echo"))
        .body("abc")
        .send()
        .expect("POST /echo");
    assert_eq!(response.status(), 201);
    let text = response.text().expect("body");
    assert!(
        Regex::new(r"^stream of \d+ bytes, route seen: true$")
            .expect("regex")
            .is_match(&text),
        "{text}"
    );

    // A response over Lambda's 6 MB is refused, and the instance goes on serving.
    let response = http
        .post(server.url("/echo"))
        .header("content-type", "text/plain")
        .body("big")
        .send()
        .expect("POST /echo");
    assert_eq!(response.status(), 413);
    assert_eq!(json_body(response), json!({"message": "Request Too Long"}));
    let response = http
        .post(server.url("/echo"))
        .header("content-type", "text/plain")
        .body("small")
        .send()
        .expect("POST /echo");
    assert_eq!(response.status(), 201);

    // An exception: 502 for the caller, the error as AWS's Java runtime logs it.
    let response = http.get(server.url("/fail")).send().expect("GET /fail");
    assert_eq!(response.status(), 502);
    assert_eq!(
        json_body(response),
        json!({"message": "Internal server error"})
    );
    log_line(
        &server,
        "FailFunction",
        "the order book is closed: java.lang.IllegalStateException$",
    );
    log_line(
        &server,
        "FailFunction",
        r"\tat example\.Fail\.handleRequest\(Fail\.java:9\)$",
    );

    // A method whose parameters fit no handler: reported on the invocation, as AWS does.
    let response = http.get(server.url("/misfit")).send().expect("GET /misfit");
    assert_eq!(response.status(), 502);
    log_line(
        &server,
        "MisfitFunction",
        "No public method named misfit with appropriate method signature found on class example.Fail$",
    );

    // A constructor that throws fails the init.
    let response = http.get(server.url("/broken")).send().expect("GET /broken");
    assert_eq!(response.status(), 502);
    log_line(
        &server,
        "BrokenFunction",
        "no configuration for the broken function: java.lang.IllegalArgumentException$",
    );
    log_line(
        &server,
        "BrokenFunction",
        r"INIT_REPORT Init Duration: \d+\.\d{2} ms\tPhase: init\tStatus: error\tError Type: java.lang.IllegalArgumentException",
    );

    // The host's Java may not be 21 (CI has 17): then each function says which it runs on.
    let stderr = server.stderr();
    for line in stderr
        .lines()
        .filter(|line| line.contains("runtime java21"))
    {
        assert!(
            line.contains(": runtime java21 wants Java 21, running with Java "),
            "{line}"
        );
    }
    let (status, _) = server.interrupt();
    assert!(status.success());

    // Without the sandbox, on the same data folder: the builds and the compiled bootstrap
    // are reused.
    let server = start(data.path(), &["--sandbox", "off"]);
    let hello = json_body(
        http.get(server.url("/hello/bob"))
            .send()
            .expect("GET /hello"),
    );
    assert_eq!(hello["greeting"], "Hello, bob!");
    let receipt: Value = json_body(
        http.post(server.url("/orders/c7"))
            .body("{}")
            .send()
            .expect("POST /orders"),
    );
    assert_eq!(receipt["customer"], "c7");
    assert_eq!(receipt["served"], 1);
}

/// An app with one `java21` function in `code/`, handled by `handler`.
fn one_function_app(handler: &str, code_uri: &str) -> tempfile::TempDir {
    let app = tempfile::tempdir().expect("app dir");
    std::fs::write(
        app.path().join("template.yaml"),
        format!(
            r#"Transform: AWS::Serverless-2016-10-31
Resources:
  JavaFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: java21
      Handler: {handler}
      CodeUri: {code_uri}
      Events:
        Get:
          Type: HttpApi
          Properties: {{Path: /hi, Method: GET}}
"#
        ),
    )
    .expect("write template");
    app
}

#[test]
fn a_handler_naming_no_class_fails_at_start() {
    let app = one_function_app("example.Missing::handleRequest", "code");
    let code = app.path().join("code");
    std::fs::create_dir_all(code.join("lib")).expect("mkdir");
    let (status, stderr) = up_until_it_fails(app.path());
    assert_eq!(status, 1, "{stderr}");
    let error = stderr
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line:\n{stderr}"));
    assert_eq!(
        error,
        format!(
            "error: JavaFunction: handler example.Missing::handleRequest: no class example.Missing: example/Missing.class is not in {} (which has no lib/*.jar); check the package and class name, and that the build puts compiled classes at the top of the code folder or in lib/*.jar",
            code.canonicalize().expect("canonical").display()
        )
    );
}

#[test]
fn a_jar_code_uri_runs_from_its_contents() {
    let app = one_function_app("example.JarHello::hello", "target/app.jar");
    // The handler is a plain static method; the jar holds its class and a lib/ jar, as a
    // Lambda deployment package may.
    let work = tempfile::tempdir().expect("work dir");
    let sources = work.path().join("src");
    std::fs::create_dir_all(sources.join("example")).expect("mkdir");
    std::fs::create_dir_all(sources.join("quote")).expect("mkdir");
    std::fs::write(
        sources.join("quote/Quote.java"),
        "package quote;\npublic final class Quote { public static String of(String text) { return \"'\" + text + \"'\"; } }\n",
    )
    .expect("write");
    std::fs::write(
        sources.join("example/JarHello.java"),
        r#"package example;
import java.util.Map;
public final class JarHello {
    public static Map<String, Object> hello(Map<String, Object> event) {
        return Map.of("statusCode", 200, "body", quote.Quote.of("from a jar"));
    }
}
"#,
    )
    .expect("write");
    let classes = work.path().join("classes");
    run(Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg(sources.join("quote/Quote.java"))
        .arg(sources.join("example/JarHello.java")));
    let package = work.path().join("package");
    std::fs::create_dir_all(package.join("lib")).expect("mkdir");
    run(Command::new("jar")
        .arg("--create")
        .arg("--file")
        .arg(package.join("lib/quote.jar"))
        .arg("-C")
        .arg(&classes)
        .arg("quote"));
    copy_dir(&classes.join("example"), &package.join("example"));
    std::fs::create_dir_all(app.path().join("target")).expect("mkdir");
    run(Command::new("jar")
        .arg("--create")
        .arg("--file")
        .arg(app.path().join("target/app.jar"))
        .arg("-C")
        .arg(&package)
        .arg("."));

    let server = Server::start(app.path(), &[]);
    let response = client().get(server.url("/hi")).send().expect("GET /hi");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().expect("body"), "'from a jar'");
}
