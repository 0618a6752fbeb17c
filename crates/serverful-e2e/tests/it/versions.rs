//! Lambda versions and aliases (issue #14): deploys publish versions as CloudFormation
//! would, and boto3 lists them, reads aliases and invokes `$LATEST`, old and new versions
//! and a weighted alias; the gateway's routes go through SAM's `AutoPublishAlias`; a
//! rollback keeps the numbers and the next deploy does not reuse them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use serverful_e2e::{copy_dir, run_serverful, test_app, Server};

use crate::client;

/// Runs `serverful ARGS --endpoint ADMIN --token TOKEN`: (exit code, stdout, stderr).
fn admin(server: &Server, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend([
        "--endpoint",
        &server.admin_url,
        "--token",
        &server.admin_token,
    ]);
    run_serverful(&all)
}

/// Deploys the app in `dir` as stack `versions`, and says which version it made.
fn deploy(server: &Server, dir: &Path) -> String {
    let dir = dir.to_str().expect("utf-8 path");
    let (code, stdout, stderr) = admin(server, &["deploy", dir, "--stack", "versions"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}\n{}", server.all_output());
    stdout
}

/// The stack's summary from `ls --json`.
fn summary(server: &Server) -> Value {
    let (code, stdout, stderr) = admin(server, &["ls", "--json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let outcome: Value = serde_json::from_str(&stdout).expect("ls --json");
    outcome["stacks"][0].clone()
}

/// GET `/greet` on the stack's HTTP API: the greeter's answer.
fn greet(server: &Server) -> Value {
    let summary = summary(server);
    let url = summary["urls"]
        .as_array()
        .and_then(|urls| urls.iter().find(|url| url["api"] == "ServerlessHttpApi"))
        .and_then(|url| url["url"].as_str())
        .unwrap_or_else(|| panic!("no HTTP API URL in {summary}"))
        .to_owned();
    let host = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .expect("host");
    let response = client()
        .get(server.url("/greet"))
        .header("Host", host)
        .send()
        .expect("GET /greet");
    assert_eq!(response.status(), 200);
    crate::json_body(response)
}

/// boto3 against the server: each mode prints one JSON value.
const BOTO3: &str = r#"
import json, sys
import boto3, botocore
from botocore.config import Config

client = boto3.client("lambda", config=Config(retries={"max_attempts": 1}))
names = {f["FunctionName"].split("-")[1]: f["FunctionName"] for f in client.list_functions()["Functions"]}
mode, args = sys.argv[1], sys.argv[2:]

def call(operation, **params):
    try:
        return getattr(client, operation)(**params)
    except botocore.exceptions.ClientError as error:
        return {"Error": error.response["Error"]["Code"], "Message": error.response["Error"]["Message"],
                "Status": error.response["ResponseMetadata"]["HTTPStatusCode"]}

def invoke(name, qualifier=None):
    params = {"FunctionName": name, "Payload": b"{}"}
    if qualifier is not None:
        params["Qualifier"] = qualifier
    response = call("invoke", **params)
    if "Error" in response:
        return response
    return {"ExecutedVersion": response["ExecutedVersion"], "Payload": json.loads(response["Payload"].read())}

if mode == "names":
    print(json.dumps(names))
elif mode == "versions":
    out = {}
    for function in ["GreeterFunction", "SplitFunction"]:
        listed = client.list_versions_by_function(FunctionName=names[function])["Versions"]
        out[function] = [{key: version.get(key) for key in ["Version", "FunctionArn", "CodeSha256", "Description", "CodeSize"]} for version in listed]
    print(json.dumps(out))
elif mode == "pages":
    seen, markers, params = [], [], {"FunctionName": names["GreeterFunction"], "MaxItems": 1}
    while True:
        page = client.list_versions_by_function(**params)
        seen.extend(version["Version"] for version in page["Versions"])
        if "NextMarker" not in page:
            break
        markers.append(page["NextMarker"])
        params["Marker"] = page["NextMarker"]
    print(json.dumps({"versions": seen, "markers": markers}))
elif mode == "invoke":
    # FUNCTION QUALIFIER ...: each qualifier as Qualifier, `-` for none; `name:Q` and
    # `arn:Q` put it in the function name or ARN instead.
    out = {}
    for qualifier in args[1:]:
        name = names[args[0]]
        if qualifier.startswith("name:"):
            out[qualifier] = invoke(name + ":" + qualifier[5:])
        elif qualifier.startswith("both:"):
            # `both:A:B`: A in the name and B as Qualifier.
            in_name, in_query = qualifier[5:].split(":")
            out[qualifier] = invoke(name + ":" + in_name, in_query)
        elif qualifier.startswith("arn:"):
            arn = client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
            out[qualifier] = invoke(arn + ":" + qualifier[4:])
        else:
            out[qualifier] = invoke(name, None if qualifier == "-" else qualifier)
    print(json.dumps(out))
elif mode == "split":
    answers = [invoke(names["SplitFunction"], "canary") for _ in range(int(args[0]))]
    print(json.dumps([[answer["ExecutedVersion"], answer["Payload"]["answer"]] for answer in answers]))
elif mode == "aliases":
    out = {
        "live": call("get_alias", FunctionName=names["GreeterFunction"], Name="live"),
        "missing": call("get_alias", FunctionName=names["GreeterFunction"], Name="nope"),
        "split": client.list_aliases(FunctionName=names["SplitFunction"])["Aliases"],
        "split_on_1": client.list_aliases(FunctionName=names["SplitFunction"], FunctionVersion="1")["Aliases"],
        "split_on_2": client.list_aliases(FunctionName=names["SplitFunction"], FunctionVersion="2")["Aliases"],
    }
    for alias in [out["live"]] + out["split"]:
        alias.pop("ResponseMetadata", None)
    print(json.dumps(out))
elif mode == "configuration":
    function, qualifier = names[args[0]], args[1]
    configuration = call("get_function", FunctionName=function, Qualifier=qualifier)
    print(json.dumps(configuration.get("Configuration", configuration)))
"#;

/// Runs [`BOTO3`] in `mode` with `args` and parses what it printed.
fn boto3(server: &Server, mode: &str, args: &[&str]) -> Value {
    let output = Command::new("python3")
        .args(["-c", BOTO3, mode])
        .args(args)
        .envs(server.aws_env())
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run python3 (scripts/install-test-deps.sh installs boto3)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "boto3 {mode}: {stdout}\n{stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|error| panic!("{error}: {stdout}"))
}

/// The version numbers `list_versions_by_function` shows for `function`.
fn versions_of(listed: &Value, function: &str) -> Vec<String> {
    listed[function]
        .as_array()
        .expect("versions")
        .iter()
        .map(|version| version["Version"].as_str().expect("Version").to_owned())
        .collect()
}

fn rewrite(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "{} has no {from}", path.display());
    std::fs::write(path, text.replace(from, to)).expect("write");
}

#[test]
fn deploys_publish_versions_that_boto3_lists_invokes_and_splits() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_serve(data.path(), &[]);
    let work = tempfile::tempdir().expect("app dir");
    copy_dir(&test_app("versions"), work.path());

    // Deploy 1: each function publishes version 1; the aliases point at it.
    let out = deploy(&server, work.path());
    assert!(out.starts_with("Deployed versions version 1"), "{out}");
    let listed = boto3(&server, "versions", &[]);
    assert_eq!(versions_of(&listed, "GreeterFunction"), ["$LATEST", "1"]);
    assert_eq!(versions_of(&listed, "SplitFunction"), ["$LATEST", "1"]);
    let invoked = boto3(&server, "invoke", &["GreeterFunction", "live", "-"]);
    assert_eq!(invoked["live"]["ExecutedVersion"], "1", "{invoked}");
    assert_eq!(invoked["live"]["Payload"]["code"], "v1", "{invoked}");
    assert_eq!(invoked["-"]["ExecutedVersion"], "$LATEST", "{invoked}");
    assert_eq!(greet(&server)["code"], "v1");

    // Deploy 2: both functions' code changes, and the template adds SplitVersionB with
    // an alias that splits between the two.
    rewrite(&work.path().join("greeter/app.py"), "\"v1\"", "\"v2\"");
    rewrite(&work.path().join("split/app.py"), "\"A\"", "\"B\"");
    std::fs::copy(
        work.path().join("template-v2.yaml"),
        work.path().join("template.yaml"),
    )
    .expect("template v2");
    let out = deploy(&server, work.path());
    assert!(out.starts_with("Deployed versions version 2"), "{out}");

    let names = boto3(&server, "names", &[]);
    let greeter = names["GreeterFunction"]
        .as_str()
        .expect("greeter")
        .to_owned();
    let greeter_arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{greeter}");
    let listed = boto3(&server, "versions", &[]);
    // SAM publishes the changed greeter anew; SplitVersionA is unchanged, so it keeps
    // number 1 (and its code), and SplitVersionB is 2.
    assert_eq!(
        versions_of(&listed, "GreeterFunction"),
        ["$LATEST", "1", "2"]
    );
    assert_eq!(versions_of(&listed, "SplitFunction"), ["$LATEST", "1", "2"]);
    let greeter_versions = listed["GreeterFunction"].as_array().expect("versions");
    assert_eq!(
        greeter_versions[0]["FunctionArn"],
        format!("{greeter_arn}:$LATEST")
    );
    assert_eq!(
        greeter_versions[1]["FunctionArn"],
        format!("{greeter_arn}:1")
    );
    assert_eq!(greeter_versions[1]["Description"], "the greeter");
    let code_hash = |version: &Value| version["CodeSha256"].as_str().expect("hash").to_owned();
    assert_eq!(code_hash(&greeter_versions[1]).len(), 44, "{listed}");
    assert_ne!(
        code_hash(&greeter_versions[1]),
        code_hash(&greeter_versions[2])
    );
    // `$LATEST` is the code of version 2.
    assert_eq!(
        code_hash(&greeter_versions[0]),
        code_hash(&greeter_versions[2])
    );
    let split_versions = listed["SplitFunction"].as_array().expect("versions");
    assert_eq!(split_versions[1]["Description"], "answers A");
    assert_eq!(split_versions[2]["Description"], "answers B");

    // Version 1 still runs the old code, started from deploy 1's build; the alias and
    // `$LATEST` run the new one; the qualifier may also be in the name or the ARN.
    let invoked = boto3(
        &server,
        "invoke",
        &[
            "GreeterFunction",
            "1",
            "live",
            "$LATEST",
            "-",
            "name:1",
            "arn:live",
        ],
    );
    let ran = |qualifier: &str| {
        (
            invoked[qualifier]["ExecutedVersion"]
                .as_str()
                .unwrap_or_else(|| panic!("{qualifier}: {invoked}"))
                .to_owned(),
            invoked[qualifier]["Payload"]["code"]
                .as_str()
                .unwrap_or_else(|| panic!("{qualifier}: {invoked}"))
                .to_owned(),
        )
    };
    let pair = |version: &str, code: &str| (version.to_owned(), code.to_owned());
    assert_eq!(ran("1"), pair("1", "v1"));
    assert_eq!(ran("name:1"), pair("1", "v1"));
    assert_eq!(ran("live"), pair("2", "v2"));
    assert_eq!(ran("arn:live"), pair("2", "v2"));
    assert_eq!(ran("$LATEST"), pair("$LATEST", "v2"));
    assert_eq!(ran("-"), pair("$LATEST", "v2"));
    // The old version's process knows which version it is, as on Lambda.
    assert_eq!(invoked["1"]["Payload"]["version"], "1");
    // The HTTP API's route goes through the alias, as SAM makes it.
    assert_eq!(greet(&server)["code"], "v2");

    // Unknown qualifiers, as Lambda answers them.
    let invoked = boto3(&server, "invoke", &["GreeterFunction", "7", "nope"]);
    for qualifier in ["7", "nope"] {
        assert_eq!(invoked[qualifier]["Error"], "ResourceNotFoundException");
        assert_eq!(invoked[qualifier]["Status"], 404);
        assert_eq!(
            invoked[qualifier]["Message"],
            format!("Function not found: {greeter_arn}:{qualifier}")
        );
    }

    // GetFunction with a qualifier: that version's configuration.
    let configuration = boto3(&server, "configuration", &["GreeterFunction", "1"]);
    assert_eq!(configuration["Version"], "1");
    assert_eq!(configuration["FunctionArn"], format!("{greeter_arn}:1"));
    assert_eq!(
        configuration["CodeSha256"],
        greeter_versions[1]["CodeSha256"]
    );
    let configuration = boto3(&server, "configuration", &["GreeterFunction", "live"]);
    assert_eq!(configuration["Version"], "2");
    assert_eq!(configuration["FunctionArn"], format!("{greeter_arn}:live"));

    // Aliases.
    let aliases = boto3(&server, "aliases", &[]);
    assert_eq!(aliases["live"]["Name"], "live");
    assert_eq!(aliases["live"]["FunctionVersion"], "2");
    assert_eq!(aliases["live"]["AliasArn"], format!("{greeter_arn}:live"));
    assert_eq!(aliases["missing"]["Error"], "ResourceNotFoundException");
    assert_eq!(
        aliases["missing"]["Message"],
        format!("Alias not found: {greeter_arn}:nope")
    );
    let split = &aliases["split"][0];
    assert_eq!(split["Name"], "canary");
    assert_eq!(split["FunctionVersion"], "2");
    assert_eq!(split["Description"], "half and half");
    assert_eq!(
        split["RoutingConfig"]["AdditionalVersionWeights"],
        serde_json::json!({"1": 0.5})
    );
    assert_eq!(aliases["split_on_1"], serde_json::json!([]));
    assert_eq!(aliases["split_on_2"][0]["Name"], "canary");

    // The weighted alias: about half of 100 invocations each way, and the version that
    // ran is the one whose code answered.
    let answers: Vec<(String, String)> =
        serde_json::from_value(boto3(&server, "split", &["100"])).expect("answers");
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for answer in answers {
        *counts.entry(answer).or_default() += 1;
    }
    let count = |version: &str, answer: &str| {
        counts
            .get(&(version.to_owned(), answer.to_owned()))
            .copied()
            .unwrap_or_default()
    };
    assert_eq!(count("1", "A") + count("2", "B"), 100, "{counts:?}");
    // Binomial(100, 0.5): fewer than 25 either way happens once in a million runs.
    assert!(count("1", "A") >= 25 && count("2", "B") >= 25, "{counts:?}");

    // Paging through the versions one at a time.
    let pages = boto3(&server, "pages", &[]);
    assert_eq!(pages["versions"], serde_json::json!(["$LATEST", "1", "2"]));
    assert_eq!(pages["markers"].as_array().map(Vec::len), Some(2));

    // The outputs name the real numbers.
    let pairs: Vec<(String, String)> =
        serde_json::from_value(summary(&server)["outputs"].clone()).expect("outputs");
    let outputs: BTreeMap<String, String> = pairs.into_iter().collect();
    assert_eq!(outputs["GreeterVersion"], format!("{greeter_arn}:2"));
    assert_eq!(outputs["GreeterLive"], format!("{greeter_arn}:live"));
    assert_eq!(outputs["SplitVersion"], "2");

    // A rollback makes deploy 1 current: its alias points at version 1 again.
    let (code, stdout, stderr) = admin(&server, &["rollback", "--stack", "versions"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let invoked = boto3(&server, "invoke", &["GreeterFunction", "live", "2"]);
    assert_eq!(invoked["live"]["ExecutedVersion"], "1", "{invoked}");
    assert_eq!(invoked["live"]["Payload"]["code"], "v1", "{invoked}");
    assert_eq!(invoked["2"]["Payload"]["code"], "v2", "{invoked}");
    assert_eq!(greet(&server)["code"], "v1");

    // The next deploy publishes number 3, never 2 again.
    rewrite(&work.path().join("greeter/app.py"), "\"v2\"", "\"v3\"");
    let out = deploy(&server, work.path());
    assert!(out.starts_with("Deployed versions version 3"), "{out}");
    let listed = boto3(&server, "versions", &[]);
    assert_eq!(
        versions_of(&listed, "GreeterFunction"),
        ["$LATEST", "1", "2", "3"]
    );
    // The split function's code did not change, but deploy 1 (current after the
    // rollback) had no SplitVersionB: CloudFormation creates it again, as number 3.
    assert_eq!(
        versions_of(&listed, "SplitFunction"),
        ["$LATEST", "1", "2", "3"]
    );
    let invoked = boto3(
        &server,
        "invoke",
        &["GreeterFunction", "1", "2", "3", "live"],
    );
    for (qualifier, code) in [("1", "v1"), ("2", "v2"), ("3", "v3"), ("live", "v3")] {
        assert_eq!(invoked[qualifier]["Payload"]["code"], code, "{invoked}");
    }

    // Deploy 4 changes only the split function's code: the greeter's unchanged code
    // publishes nothing new (SAM's version of it is the same), and the split function's
    // version resources are unchanged too (they keep the code they were published
    // with), so only its `$LATEST` runs the new code.
    rewrite(&work.path().join("split/app.py"), "\"B\"", "\"C\"");
    let out = deploy(&server, work.path());
    assert!(out.starts_with("Deployed versions version 4"), "{out}");
    let listed = boto3(&server, "versions", &[]);
    assert_eq!(
        versions_of(&listed, "GreeterFunction"),
        ["$LATEST", "1", "2", "3"]
    );
    assert_eq!(
        versions_of(&listed, "SplitFunction"),
        ["$LATEST", "1", "2", "3"]
    );
    let invoked = boto3(&server, "invoke", &["GreeterFunction", "live"]);
    assert_eq!(invoked["live"]["ExecutedVersion"], "3", "{invoked}");
    let invoked = boto3(&server, "invoke", &["SplitFunction", "-", "3", "2", "1"]);
    for (qualifier, answer) in [("-", "C"), ("3", "B"), ("2", "B"), ("1", "A")] {
        assert_eq!(invoked[qualifier]["Payload"]["answer"], answer, "{invoked}");
    }
}

/// `serverful up --watch` publishes versions too: its app folder's first load is version
/// 1 of each function, and an edit that changes a function's code publishes the next one
/// (and moves SAM's alias to it), while an unchanged function keeps its versions. The old
/// code of a live folder is gone, so its old version says so when invoked.
#[test]
fn up_publishes_versions_of_the_live_folder() {
    let work = tempfile::tempdir().expect("app dir");
    // The folder's name is the stack's: `versions-GreeterFunction-...` as under serve.
    let app = work.path().join("versions");
    copy_dir(&test_app("versions"), &app);
    let server = Server::start(&app, &["--watch"]);

    let listed = boto3(&server, "versions", &[]);
    assert_eq!(versions_of(&listed, "GreeterFunction"), ["$LATEST", "1"]);
    assert_eq!(versions_of(&listed, "SplitFunction"), ["$LATEST", "1"]);
    let invoked = boto3(&server, "invoke", &["GreeterFunction", "live", "1", "-"]);
    assert_eq!(invoked["live"]["ExecutedVersion"], "1", "{invoked}");
    assert_eq!(invoked["1"]["Payload"]["code"], "v1", "{invoked}");
    assert_eq!(invoked["-"]["ExecutedVersion"], "$LATEST", "{invoked}");
    let aliases = boto3(&server, "aliases", &[]);
    assert_eq!(aliases["live"]["FunctionVersion"], "1", "{aliases}");
    assert_eq!(aliases["split"][0]["Name"], "canary", "{aliases}");
    assert_eq!(aliases["split"][0]["FunctionVersion"], "1", "{aliases}");
    // A qualifier in the name and another as the parameter, as Lambda refuses it.
    let invoked = boto3(&server, "invoke", &["GreeterFunction", "both:1:live"]);
    assert_eq!(
        invoked["both:1:live"]["Error"], "InvalidParameterValueException",
        "{invoked}"
    );
    assert_eq!(
        invoked["both:1:live"]["Message"],
        "The derived qualifier from the function name does not match the specified qualifier."
    );
    // The bare host answers for the one stack; its route goes through the alias.
    let greet = || {
        crate::json_body(
            client()
                .get(server.url("/greet"))
                .send()
                .expect("GET /greet"),
        )
    };
    assert_eq!(greet()["code"], "v1");

    rewrite(&app.join("greeter/app.py"), "\"v1\"", "\"v2\"");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while greet()["code"] != "v2" {
        assert!(
            std::time::Instant::now() < deadline,
            "the edit was not picked up in 30 s\n{}",
            server.all_output()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let listed = boto3(&server, "versions", &[]);
    assert_eq!(
        versions_of(&listed, "GreeterFunction"),
        ["$LATEST", "1", "2"]
    );
    assert_eq!(versions_of(&listed, "SplitFunction"), ["$LATEST", "1"]);
    let invoked = boto3(&server, "invoke", &["GreeterFunction", "live", "2", "1"]);
    assert_eq!(invoked["live"]["ExecutedVersion"], "2", "{invoked}");
    assert_eq!(invoked["2"]["Payload"]["code"], "v2", "{invoked}");
    let old = &invoked["1"];
    assert_eq!(old["Status"], 503, "{invoked}");
    let message = old["Message"].as_str().expect("message");
    assert!(
        message.contains("version 1 of GreeterFunction") && message.contains("serverful up"),
        "{message}"
    );
}
