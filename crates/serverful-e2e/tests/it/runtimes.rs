//! Runtime names (issue #13): today's `sam init` runtimes and the names of old templates
//! start and answer, each with the warning it deserves; a name Lambda never had stops the
//! start before anything is built.

use serverful_e2e::{test_app, up_until_it_fails, Server};

use crate::{client, json_body};

#[test]
fn current_and_deprecated_runtime_names_all_answer() {
    let server = Server::start(&test_app("runtime-names"), &[]);
    let http = client();
    for (path, runtime) in [
        ("/node24", "nodejs24.x"),
        ("/node8", "nodejs8.10"),
        ("/python314", "python3.14"),
        ("/python37", "python3.7"),
    ] {
        let response = http.get(server.url(path)).send().expect("GET");
        assert_eq!(response.status(), 200, "{path}");
        let body = json_body(response);
        assert_eq!(
            body["executionEnv"],
            format!("AWS_Lambda_{runtime}"),
            "{path}: {body}"
        );
    }
    let stderr = server.stderr();
    for deprecated in [
        "NodeOld: runtime nodejs8.10",
        "PythonOld: runtime python3.7",
    ] {
        let line = stderr
            .lines()
            .find(|line| line.contains(deprecated))
            .unwrap_or_else(|| panic!("no warning for {deprecated}:\n{stderr}"));
        assert!(
            line.contains("is deprecated: AWS Lambda no longer runs it; running with"),
            "{line}"
        );
    }
    // The current runtimes warn only when the host lacks their exact version.
    for line in stderr
        .lines()
        .filter(|line| line.contains("Current: runtime"))
    {
        assert!(
            line.contains(" wants Node.js 24, running with Node.js ")
                || line.contains(" wants Python 3.14, running with Python 3."),
            "{line}"
        );
    }
}

#[test]
fn a_runtime_lambda_never_had_fails_at_once_with_the_nearest_name() {
    let app = tempfile::tempdir().expect("tempdir");
    serverful_e2e::copy_dir(&test_app("runtime-names"), app.path());
    let template = app.path().join("template.yaml");
    let text = std::fs::read_to_string(&template).expect("read template");
    std::fs::write(&template, text.replace("python3.7", "pyhton3.7")).expect("write");
    // A requirements file that cannot install: had the build run before the check, the
    // error would be pip's, not the runtime's.
    std::fs::write(
        app.path().join("src/requirements.txt"),
        "no-such-package==0\n",
    )
    .expect("write");
    let (code, stderr) = up_until_it_fails(app.path());
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr.trim(),
        "error: PythonOld: runtime pyhton3.7 is not a Lambda runtime; did you mean python3.7?"
    );
}
