//! Differential test: every pattern and event of `test_data/differential/corpus.json`
//! through our matcher and through LocalStack's (installed by
//! `scripts/install-test-deps.sh` into `test-deps/python-localstack-events`).
//!
//! Where the two disagree, `known-differences.json` must list the case with the reason
//! why ours follows AWS and the oracle does not; the test fails on any disagreement not
//! listed and on any listed case that no longer disagrees, so the list stays true.
//! `UPDATE_KNOWN_DIFFERENCES=1` writes the current disagreements to
//! `target/known-differences.new.json` to help review a change.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use serverful_eventbridge::EventPattern;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/differential")
}

fn test_deps_dir() -> PathBuf {
    if let Some(path) = std::env::var_os("SERVERFUL_TEST_DEPS") {
        return PathBuf::from(path);
    }
    // target/debug/deps/it-… -> target/test-deps (right when CARGO_TARGET_DIR moves target/).
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .expect("the target dir")
        .join("test-deps")
}

/// One disagreement: `event` is null when the two disagree on the pattern's validity.
fn difference(pattern: &str, event: Value, ours: Value, oracle: Value) -> Value {
    json!({"pattern": pattern, "event": event, "ours": ours, "oracle": oracle})
}

#[test]
fn agrees_with_localstack_except_where_recorded() {
    let oracle_dir = test_deps_dir().join("python-localstack-events");
    assert!(
        oracle_dir.join("localstack").exists(),
        "{} is missing: run `bash scripts/install-test-deps.sh` (with CARGO_TARGET_DIR set as for this build)",
        oracle_dir.display()
    );
    let corpus_path = data_dir().join("corpus.json");
    let corpus: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&corpus_path).expect("read the corpus"))
            .expect("corpus is JSON");
    let output = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/localstack_oracle.py"))
        .arg(&corpus_path)
        .env("PYTHONPATH", &oracle_dir)
        .output()
        .expect("run python3 with the oracle");
    assert!(
        output.status.success(),
        "the oracle failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Value> =
        serde_json::from_slice(&output.stdout).expect("the oracle prints JSON");
    assert_eq!(answers.len(), corpus.len(), "one answer per case");

    let mut differences = Vec::new();
    let mut n_checks = 0;
    for (case, answer) in corpus.iter().zip(&answers) {
        let pattern_text = case["pattern"].as_str().expect("pattern text");
        let ours = EventPattern::parse(pattern_text);
        n_checks += 1;
        let oracle_valid = answer["valid"].as_bool().expect("valid flag");
        if ours.is_ok() != oracle_valid {
            let ours_text = match &ours {
                Ok(_) => json!("valid"),
                Err(error) => json!(error.to_string()),
            };
            let oracle_text = if oracle_valid {
                json!("valid")
            } else {
                answer["error"].clone()
            };
            differences.push(difference(
                pattern_text,
                Value::Null,
                ours_text,
                oracle_text,
            ));
        }
        let (Ok(pattern), true) = (ours, oracle_valid) else {
            continue;
        };
        let events = case["events"].as_array().expect("events");
        for (event, oracle_match) in events
            .iter()
            .zip(answer["matches"].as_array().expect("matches"))
        {
            n_checks += 1;
            let ours_match = pattern.matches(event);
            if oracle_match.as_bool() != Some(ours_match) {
                differences.push(difference(
                    pattern_text,
                    event.clone(),
                    json!(ours_match),
                    oracle_match.clone(),
                ));
            }
        }
    }

    let known: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(data_dir().join("known-differences.json"))
            .expect("read known differences"),
    )
    .expect("known differences are JSON");
    let key = |entry: &Value| {
        (
            entry["pattern"].clone(),
            entry["event"].clone(),
            entry["ours"].clone(),
            entry["oracle"].clone(),
        )
    };
    for entry in &known {
        assert!(
            entry["reason"]
                .as_str()
                .is_some_and(|reason| !reason.is_empty()),
            "every known difference says why: {entry}"
        );
    }
    if std::env::var_os("UPDATE_KNOWN_DIFFERENCES").is_some() {
        let path = test_deps_dir()
            .parent()
            .expect("target dir")
            .join("known-differences.new.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&differences).expect("serialize"),
        )
        .expect("write");
        eprintln!(
            "wrote {} differences to {}",
            differences.len(),
            path.display()
        );
    }
    let unexplained: Vec<&Value> = differences
        .iter()
        .filter(|found| !known.iter().any(|entry| key(entry) == key(found)))
        .collect();
    let gone: Vec<&Value> = known
        .iter()
        .filter(|entry| !differences.iter().any(|found| key(found) == key(entry)))
        .collect();
    assert!(
        unexplained.is_empty() && gone.is_empty(),
        "{} checks; disagreements not in known-differences.json: {unexplained:#?}\nlisted but no longer disagreeing: {gone:#?}",
        n_checks
    );
    assert!(
        n_checks > 1000,
        "the corpus should hold over 1000 checks, has {n_checks}"
    );
}
