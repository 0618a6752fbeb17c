//! The differential test of issue 15: our cron dialect against the npm package
//! `aws-cron-parser` (an independent implementation of AWS's cron expressions, with `L`,
//! `W`, `#` and the year field), on a checked-in corpus of hand-written edge cases and
//! generated expressions. Both decide whether each expression is valid and, when both
//! accept it, give its next fire times after fixed instants (in UTC: the package knows no
//! time zones). Where the two disagree, the expression must be listed in
//! `test_data/oracle-exceptions.tsv` with the reason the package is wrong against AWS's
//! documentation, or where AWS's documentation is silent, why we follow Quartz; a listed
//! expression on which they agree again fails the test too, so the list stays true.
//!
//! `SERVERFUL_BLESS=1 cargo test -p serverful-schedule --test it differential` rewrites
//! the corpus and the exception list; a disagreement no rule explains is never written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, Utc};
use serverful_schedule::Schedule;

use crate::generate::{cron, Rng};

/// How many generated expressions follow the hand-written ones.
const GENERATED: usize = 1_000;
/// The seed of the generated expressions.
const SEED: u64 = 15;
/// How many fire times are compared after each start instant.
const FIRES: usize = 5;
/// The start instants: a leap day's eve, a plain afternoon, the last minute of a year.
const STARTS: [&str; 3] = [
    "2024-02-28T23:59:30Z",
    "2025-06-15T12:34:00Z",
    "2023-12-31T23:59:00Z",
];

fn test_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data")
}

fn corpus() -> Vec<String> {
    let edge_cases = std::fs::read_to_string(test_data().join("cron-edge-cases.txt"))
        .expect("read the edge cases");
    let mut rng = Rng::new(SEED);
    let mut expressions: Vec<String> = edge_cases.lines().map(str::to_string).collect();
    expressions.extend((0..GENERATED).map(|_| cron(&mut rng)));
    expressions
}

fn bless() -> bool {
    std::env::var_os("SERVERFUL_BLESS").is_some()
}

#[test]
fn corpus_file_is_the_edge_cases_and_the_generated_expressions() {
    let expected = corpus().join("\n") + "\n";
    let path = test_data().join("cron-corpus.txt");
    if bless() {
        std::fs::write(&path, &expected).expect("write the corpus");
    }
    let written = std::fs::read_to_string(&path).expect("read test_data/cron-corpus.txt");
    assert!(
        written == expected,
        "test_data/cron-corpus.txt is not the edge cases and {GENERATED} generated expressions: rerun with SERVERFUL_BLESS=1"
    );
    assert!(written.lines().count() >= 1_000);
}

/// What one implementation said about one expression.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Refused(String),
    Fires(Vec<Vec<i64>>),
}

fn starts() -> Vec<DateTime<Utc>> {
    STARTS
        .iter()
        .map(|start| {
            DateTime::parse_from_rfc3339(start)
                .expect("a start instant")
                .with_timezone(&Utc)
        })
        .collect()
}

fn ours(expression: &str) -> Answer {
    match Schedule::parse(expression) {
        Err(error) => Answer::Refused(error.to_string()),
        Ok(schedule) => Answer::Fires(
            starts()
                .into_iter()
                .map(|start| {
                    schedule
                        .fire_times(start, chrono_tz::UTC)
                        .take(FIRES)
                        .map(|fire| fire.timestamp_millis())
                        .collect()
                })
                .collect(),
        ),
    }
}

/// The `node_modules` folder of the package, as scripts/install-test-deps.sh installs it
/// next to the build (`target/test-deps`, or `$SERVERFUL_TEST_DEPS`).
fn oracle_node_modules() -> Option<PathBuf> {
    let test_deps = match std::env::var_os("SERVERFUL_TEST_DEPS") {
        Some(folder) => PathBuf::from(folder),
        // target/debug/deps/it-HASH: three folders up is the target folder.
        None => std::env::current_exe()
            .ok()?
            .parent()?
            .parent()?
            .parent()?
            .join("test-deps"),
    };
    let folder = test_deps.join("node-aws-cron-parser/node_modules");
    let has_node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    (has_node && folder.join("aws-cron-parser").is_dir()).then_some(folder)
}

fn oracle(node_modules: &Path, expressions: &[String]) -> Vec<Answer> {
    let starts: Vec<i64> = starts().iter().map(DateTime::timestamp_millis).collect();
    let mut child = Command::new("node")
        .arg("-e")
        .arg(include_str!("aws_cron_parser.js"))
        .arg(serde_json::to_string(&starts).expect("numbers"))
        .arg(FIRES.to_string())
        .env("NODE_PATH", node_modules)
        // The package finds weekdays with local-time dates: UTC makes them UTC's.
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start node");
    let input = expressions.join("\n") + "\n";
    let mut stdin = child.stdin.take().expect("piped");
    let writer =
        std::thread::spawn(move || stdin.write_all(input.as_bytes()).expect("write to node"));
    let output = child.wait_with_output().expect("run node");
    writer.join().expect("the writer thread");
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Answer> = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(|line| {
            let answer: serde_json::Value = serde_json::from_str(line).expect("a JSON answer");
            if answer["ok"] == true {
                let fires =
                    serde_json::from_value(answer["fires"].clone()).expect("lists of numbers");
                Answer::Fires(fires)
            } else {
                Answer::Refused(answer["error"].as_str().unwrap_or_default().to_string())
            }
        })
        .collect();
    assert_eq!(
        answers.len(),
        expressions.len(),
        "one answer per expression"
    );
    answers
}

/// The reasons a disagreement is accepted, each a way the package departs from AWS's
/// documentation (or, where AWS is silent, from Quartz, whose dialect AWS's is).
const REASONS: &[(&str, &str)] = &[
    ("both-days", "AWS: one of Day-of-month and Day-of-week must be `?`; the package accepts both given and ignores Day-of-week"),
    ("no-days", "AWS: one of Day-of-month and Day-of-week must be a value; the package accepts both `?` (and then never fires)"),
    ("field-count", "AWS: six fields; the package ignores a seventh field"),
    ("spaces", "the package splits fields on single spaces; AWS's (Quartz's) tokenizer, like ours, takes any run of white space"),
    ("lenient-number", "the package reads numbers with JavaScript's parseInt, which takes `5x` as 5 and an empty or junk value as NaN; AWS refuses them"),
    ("dow-step", "AWS's Day-of-week field takes `, - * ? L #`, no `/`; the package accepts a step there"),
    ("wildcard-field", "AWS allows `?`, `L`, `W` and `#` only in the day fields (`W` in Day-of-month, `#` in Day-of-week); the package reads them in any field"),
    ("alone", "AWS: `#` stands alone in Day-of-week (`3#1,6#3` is refused), as `L`, `LW` and `nW` do in Quartz; the package reads a list around them"),
    ("star-in-list", "`*` means every value and is refused inside a list (Quartz); the package takes it as a range"),
    ("nth-range", "`#` counts the first to the fifth such day of the month (Quartz refuses 0 and 6 and up); the package takes any number"),
    ("wrap-range", "a range whose start is after its end wraps past the field's end (`FRI-MON`, `22-2`), as in Quartz; the package makes it empty"),
    ("dow-last", "AWS: `L` alone in Day-of-week is the last day of the week, Saturday (Quartz: 7); the package never fires it"),
    ("last-weekday", "AWS's `LW` (the last weekday of the month) is not read by the package, which fails on it"),
    ("nearest-weekday", "`nW` is the weekday nearest the nth in the same month even when the month has no nth day; the package fails or steps outside its search"),
    ("step-in-list", "AWS's `,` joins items and `/` belongs to one item (`3,7/9` is 3, 7 and 16); the package applies the `/` to the whole list (3, 12, 21)"),
    ("unsorted-list", "AWS's `,` includes every listed value in any order; the package searches a list in written order, so a list that is not ascending (`8,40,17`, `15-23,1-18`) loses values"),
    ("overflow-day", "AWS fires only on days a month has; the package builds dates with Date.UTC, which rolls a missing day into the next month (February 30th becomes March 1st)"),
    ("repeated-name", "the package replaces only the first occurrence of each month or day name, so `FEB-FEB` or `MON,MON` leaves a name it cannot read"),
    ("backwards-year", "a Year range that runs backwards names no year (there is none after 2199 to wrap through), so we refuse it; the package accepts an expression that never fires"),
    ("oracle-gives-up", "the package stops after ten recursive steps (`iter > 10`) on schedules that skip many months or years; AWS fires them"),
];

/// Which reason explains a disagreement on `expression`, if one does.
fn explain(expression: &str, ours: &Answer, theirs: &Answer) -> Option<&'static str> {
    let inner =
        &expression["cron(".len().min(expression.len())..expression.len().saturating_sub(1).max(5)];
    let upper = inner.to_ascii_uppercase();
    let fields: Vec<&str> = upper.split_whitespace().collect();
    if inner.contains("  ") || inner.starts_with(' ') || inner.ends_with(' ') {
        return Some("spaces");
    }
    if fields.len() != 6 {
        return Some("field-count");
    }
    let (dom, dow) = (fields[2], fields[4]);
    let has_wrap = |field: &str, names: &[&str]| {
        field.split(',').any(|item| {
            let range = item.split('/').next().unwrap_or_default();
            let Some((from, to)) = range.split_once('-') else {
                return false;
            };
            let number = |text: &str| {
                text.parse::<u32>().ok().or_else(|| {
                    names
                        .iter()
                        .position(|name| *name == text)
                        .and_then(|index| u32::try_from(index).ok())
                })
            };
            matches!((number(from), number(to)), (Some(from), Some(to)) if from > to)
        })
    };
    const NO_NAMES: &[&str] = &[];
    const MONTHS: &[&str] = &[
        "", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    const DAYS: &[&str] = &["", "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    // The plain fields in which the package misreads a list: a step inside a list, or
    // items whose values do not ascend in written order.
    let plain_fields: Vec<(&str, &[&str])> = vec![
        (fields[0], NO_NAMES),
        (fields[1], NO_NAMES),
        (dom, NO_NAMES),
        (fields[3], MONTHS),
        (dow, DAYS),
        (fields[5], NO_NAMES),
    ];
    let step_in_list = plain_fields
        .iter()
        .any(|(field, _)| field.contains(',') && field.contains('/'));
    let unsorted_list = plain_fields.iter().any(|(field, names)| {
        let number = |text: &str| {
            text.parse::<u32>().ok().or_else(|| {
                names
                    .iter()
                    .position(|name| *name == text)
                    .and_then(|index| u32::try_from(index).ok())
            })
        };
        let mut previous: Option<u32> = None;
        for item in field.split(',') {
            let (from, to) = item.split_once('-').unwrap_or((item, item));
            let (Some(from), Some(to)) = (number(from), number(to)) else {
                return false;
            };
            if previous.is_some_and(|previous| from <= previous) {
                return true;
            }
            previous = Some(to);
        }
        false
    });
    // A Day-of-month that can name the 29th to the 31st, which some months lack.
    let late_day = dom.split(',').any(|item| {
        let range = item.split('/').next().unwrap_or_default();
        let step_reaches_end = item.contains('/');
        range
            .split('-')
            .any(|value| value.parse::<u32>().is_ok_and(|day| day >= 29))
            || (step_reaches_end && !range.contains('-'))
    });
    let repeated_name = [(fields[3], MONTHS), (dow, DAYS)]
        .iter()
        .any(|(field, names)| {
            names
                .iter()
                .filter(|name| !name.is_empty())
                .any(|name| field.matches(name).count() > 1)
        });
    let misread_list = if repeated_name {
        Some("repeated-name")
    } else if step_in_list {
        Some("step-in-list")
    } else if unsorted_list {
        Some("unsorted-list")
    } else {
        None
    };
    match (ours, theirs) {
        (Answer::Refused(reason), Answer::Fires(_)) => Some(if dom != "?" && dow != "?" {
            "both-days"
        } else if dom == "?" && dow == "?" {
            "no-days"
        } else if reason.contains("takes no `/`") {
            "dow-step"
        } else if reason.contains("takes no `")
            || reason.contains("is allowed only in Day-of-month")
        {
            "wildcard-field"
        } else if reason.contains("stand alone") || reason.contains("stands alone") {
            "alone"
        } else if reason.contains("`*` already means") {
            "star-in-list"
        } else if reason.contains("runs backwards") {
            "backwards-year"
        } else if reason.contains("after `#`") {
            "nth-range"
        } else if reason.contains("is not a value")
            || reason.contains("empty list item")
            || reason.contains("whole number")
        {
            "lenient-number"
        } else {
            return None;
        }),
        (Answer::Fires(_), Answer::Refused(error)) => {
            if dom == "LW" {
                Some("last-weekday")
            } else if dow == "L" {
                Some("dow-last")
            } else if error.contains("iter > 10") {
                Some("oracle-gives-up")
            } else if dom.ends_with('W') {
                Some("nearest-weekday")
            } else {
                misread_list
            }
        }
        (Answer::Fires(_), Answer::Fires(_)) => {
            if dow == "L" {
                Some("dow-last")
            } else if has_wrap(fields[0], NO_NAMES)
                || has_wrap(fields[1], NO_NAMES)
                || has_wrap(dom, NO_NAMES)
                || has_wrap(fields[3], MONTHS)
                || has_wrap(dow, DAYS)
            {
                Some("wrap-range")
            } else if misread_list.is_some() {
                misread_list
            } else if dom.ends_with('W') {
                Some("nearest-weekday")
            } else if late_day {
                Some("overflow-day")
            } else {
                None
            }
        }
        (Answer::Refused(_), Answer::Refused(_)) => None,
    }
}

fn agree(ours: &Answer, theirs: &Answer) -> bool {
    match (ours, theirs) {
        (Answer::Refused(_), Answer::Refused(_)) => true,
        (Answer::Fires(ours), Answer::Fires(theirs)) => ours == theirs,
        _ => false,
    }
}

#[test]
fn cron_expressions_agree_with_aws_cron_parser() {
    let Some(node_modules) = oracle_node_modules() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "node with the npm package aws-cron-parser is not installed: run `bash scripts/install-test-deps.sh`"
        );
        eprintln!("skipped: node with the npm package aws-cron-parser is not installed (scripts/install-test-deps.sh installs it)");
        return;
    };
    let expressions = corpus();
    let theirs = oracle(&node_modules, &expressions);
    let mut disagreements = BTreeMap::new();
    let mut unexplained = Vec::new();
    let (mut n_valid, mut n_compared_fires, mut n_valid_agreeing) = (0, 0, 0);
    for (expression, theirs) in expressions.iter().zip(&theirs) {
        let ours = ours(expression);
        if let Answer::Fires(fires) = &ours {
            n_valid += 1;
            n_compared_fires += fires.iter().map(Vec::len).sum::<usize>();
        }
        if agree(&ours, theirs) {
            n_valid_agreeing += usize::from(matches!(ours, Answer::Fires(_)));
            continue;
        }
        match explain(expression, &ours, theirs) {
            Some(reason) => {
                disagreements.insert(expression.clone(), reason);
            }
            None => unexplained.push(format!(
                "{expression}\n  ours:   {ours:?}\n  theirs: {theirs:?}"
            )),
        }
    }
    assert!(
        unexplained.is_empty(),
        "{} disagreements with aws-cron-parser that no documented reason explains:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    let mut expected = String::from(
        "# Expressions of test_data/cron-corpus.txt on which serverful-schedule and the npm package\n\
         # aws-cron-parser disagree, with the reason the package is wrong (tests/it/differential.rs).\n",
    );
    for (code, reason) in REASONS {
        expected.push_str(&format!("# {code}: {reason}\n"));
    }
    for (expression, reason) in &disagreements {
        expected.push_str(&format!("{expression}\t{reason}\n"));
    }
    let path = test_data().join("oracle-exceptions.tsv");
    if bless() {
        std::fs::write(&path, &expected).expect("write the exception list");
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == expected,
        "test_data/oracle-exceptions.tsv is not the list of today's disagreements (rerun with SERVERFUL_BLESS=1 and review the diff):\n{expected}"
    );
    // The comparison means something only when most valid expressions are compared in full.
    assert!(
        n_valid_agreeing >= 500,
        "only {n_valid_agreeing} valid expressions agree"
    );
    eprintln!(
        "{} expressions, {n_valid} valid ({n_valid_agreeing} with the same fire times from both), {n_compared_fires} fire times compared, {} documented disagreements",
        expressions.len(),
        disagreements.len()
    );
}
