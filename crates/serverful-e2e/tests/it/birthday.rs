//! The birthday greeter, `examples/birthday`, as a user runs it: a Go function built by its
//! Makefile, behind a REST API, keeping users in a table on the AWS endpoint that the AWS
//! CLI can read too.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use serverful_e2e::{copy_dir, repo_root, Server};

use crate::{client, json_body};

const SECONDS_PER_DAY: u64 = 24 * 60 * 60;

/// Years subtracted from a date to make a date of birth. A multiple of 4 keeps February 29
/// a real date in both years (for every year this test will run in).
pub(crate) const AGE_YEARS: i32 = 28;

#[test]
fn the_birthday_app_saves_greets_and_validates_users() {
    let server = start_birthday_app(&birthday_app());
    let stdout = server.stdout();
    for route in ["PUT", "GET"] {
        let line = format!(
            "{route} {}/hello/{{user}} -> BirthdayFunction",
            server.base_url
        );
        assert!(stdout.contains(&line), "{stdout}");
    }
    assert!(
        stdout.contains("BirthdayApi = https://")
            && stdout.contains(".execute-api.us-east-1.amazonaws.com/Prod/hello/"),
        "{stdout}"
    );

    // Dates are relative to today in UTC, as the function counts them; `Date::today` waits
    // out the last minute before midnight so that both sides agree on the day.
    let today = Date::today();
    let in_ten_days = today.plus_days(10).years_earlier(AGE_YEARS);
    assert_eq!(
        put(&server, "Ann", &in_ten_days.to_string()),
        (204, String::new())
    );
    assert_eq!(
        get(&server, "Ann"),
        (
            200,
            json!({"message": "Hello, Ann! Your birthday is in 10 day(s)"})
        )
    );

    let born_today = today.years_earlier(AGE_YEARS);
    assert_eq!(
        put(&server, "Bob", &born_today.to_string()),
        (204, String::new())
    );
    assert_eq!(
        get(&server, "Bob"),
        (200, json!({"message": "Hello, Bob! Happy birthday!"}))
    );

    // A second PUT replaces the date.
    let tomorrow = today.plus_days(1).years_earlier(AGE_YEARS);
    assert_eq!(
        put(&server, "Ann", &tomorrow.to_string()),
        (204, String::new())
    );
    assert_eq!(
        get(&server, "Ann"),
        (
            200,
            json!({"message": "Hello, Ann! Your birthday is in 1 day(s)"})
        )
    );

    assert_eq!(
        get(&server, "Nobody"),
        (
            404,
            json!({"message": "user \"Nobody\" not found: save a date of birth with PUT /hello/Nobody first"})
        )
    );

    let http = client();
    let not_a_user = "username \"Ann1\" must contain only letters (A-Z, a-z)";
    let not_before_today =
        |date: &Date| format!("dateOfBirth \"{date}\" must be a date before today ({today})");
    let malformed_body = r#"request body must be a JSON object like {"dateOfBirth": "YYYY-MM-DD"}"#;
    let future = today.plus_days(1);
    let cases: [(&str, &str, String, String); 8] = [
        ("GET", "Ann1", String::new(), not_a_user.to_owned()),
        (
            "PUT",
            "Ann1",
            body_with(&born_today.to_string()),
            not_a_user.to_owned(),
        ),
        (
            "PUT",
            "Ann",
            body_with(&future.to_string()),
            not_before_today(&future),
        ),
        (
            "PUT",
            "Ann",
            body_with(&today.to_string()),
            not_before_today(&today),
        ),
        (
            "PUT",
            "Ann",
            body_with("2023-02-30"),
            "dateOfBirth \"2023-02-30\" is not a valid date in the format YYYY-MM-DD".to_owned(),
        ),
        (
            "PUT",
            "Ann",
            r#"{"dateOfBirth": "1990-"#.to_owned(),
            malformed_body.to_owned(),
        ),
        ("PUT", "Ann", String::new(), malformed_body.to_owned()),
        (
            "PUT",
            "Ann",
            r#"{"birthday": "1990-06-15"}"#.to_owned(),
            "dateOfBirth is required (YYYY-MM-DD)".to_owned(),
        ),
    ];
    for (method, user, body, message) in cases {
        let request = match method {
            "GET" => http.get(server.url(&format!("/hello/{user}"))),
            _ => http
                .put(server.url(&format!("/hello/{user}")))
                .body(body.clone()),
        };
        let response = request.send().expect("request");
        let status = response.status().as_u16();
        assert_eq!(
            (status, json_body(response)),
            (400, json!({ "message": message })),
            "{method} /hello/{user} {body}"
        );
    }
    // None of the refused requests changed Ann's date.
    assert_eq!(
        get(&server, "Ann"),
        (
            200,
            json!({"message": "Hello, Ann! Your birthday is in 1 day(s)"})
        )
    );

    // The users are in the template's table, as the AWS CLI sees it, under the name the
    // template's output gives (CloudFormation's `{stack}-{LogicalId}-{SUFFIX}`).
    let table = server.output("UsersTableName");
    assert!(table.starts_with("birthday-UsersTable-"), "{table}");
    let listed = aws_json(&server, &["dynamodb", "list-tables"]);
    assert_eq!(listed["TableNames"], json!([table]));
    let item = aws_json(
        &server,
        &[
            "dynamodb",
            "get-item",
            "--table-name",
            &table,
            "--key",
            r#"{"username": {"S": "Ann"}}"#,
        ],
    );
    assert_eq!(
        item["Item"],
        json!({"username": {"S": "Ann"}, "dateOfBirth": {"S": tomorrow.to_string()}})
    );
}

/// The same users through PartiQL, the query language the DynamoDB console and
/// `execute-statement` use.
#[test]
fn the_aws_cli_selects_the_saved_users_with_partiql() {
    let server = start_birthday_app(&birthday_app());
    let today = Date::today();
    let ann = today.plus_days(3).years_earlier(AGE_YEARS).to_string();
    let bob = today.years_earlier(AGE_YEARS).to_string();
    assert_eq!(put(&server, "Ann", &ann), (204, String::new()));
    assert_eq!(put(&server, "Bob", &bob), (204, String::new()));

    let statement = format!(r#"SELECT * FROM "{}""#, server.output("UsersTableName"));
    let selected = aws_json(
        &server,
        &["dynamodb", "execute-statement", "--statement", &statement],
    );
    let mut items = selected["Items"]
        .as_array()
        .unwrap_or_else(|| panic!("no Items in {selected}"))
        .clone();
    items.sort_by_key(|item| {
        item["username"]["S"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    });
    assert_eq!(
        items,
        [
            json!({"username": {"S": "Ann"}, "dateOfBirth": {"S": ann}}),
            json!({"username": {"S": "Bob"}, "dateOfBirth": {"S": bob}}),
        ]
    );
}

#[test]
fn a_failing_table_is_a_500_and_the_function_keeps_serving() {
    // The app pointed at a table that does not exist: every DynamoDB call fails. The
    // table is not its stack's, so its keys are refused it before anything is looked up,
    // as AWS refuses a role a table its policy does not name: AccessDeniedException.
    let app = tempfile::tempdir().expect("app dir");
    copy_dir(&birthday_app().join("src"), &app.path().join("src"));
    let template =
        std::fs::read_to_string(birthday_app().join("template.yaml")).expect("read the template");
    let broken = template.replace("TABLE_NAME: !Ref UsersTable", "TABLE_NAME: NoSuchTable");
    assert_ne!(broken, template, "the template sets TABLE_NAME");
    std::fs::write(app.path().join("template.yaml"), broken).expect("write the template");
    let server = start_birthday_app(app.path());

    assert_eq!(
        get(&server, "Ann"),
        (
            500,
            json!({"message": "could not read the date of birth, please try again later"})
        )
    );
    let born = Date::today().years_earlier(AGE_YEARS).to_string();
    assert_eq!(put(&server, "Ann", &born).0, 500);
    // Requests that need no table still work, from the same process.
    assert_eq!(
        get(&server, "Ann1").0,
        400,
        "validation does not need DynamoDB"
    );

    let stdout = server.stdout();
    assert!(
        stdout.contains(
            "BirthdayFunction | failed to read the date of birth of \"Ann\": DynamoDB GetItem: AccessDeniedException"
        ),
        "the error is in the function's log\n{stdout}"
    );
    assert!(
        stdout.contains("BirthdayFunction | failed to save the date of birth of \"Ann\": DynamoDB PutItem: AccessDeniedException"),
        "{stdout}"
    );
    // One process served all three requests: only the first REPORT carries an init time.
    assert_eq!(stdout.matches("Init Duration").count(), 1, "{stdout}");
    assert!(!stdout.contains("Runtime.ExitError"), "{stdout}");
}

/// The function's own Go tests (date logic, the handler on a fake table, signing), so that
/// CI runs them too, and the checks its README promises: `gofmt` and `go vet` clean.
#[test]
fn the_functions_go_tests_pass_and_it_is_gofmt_and_vet_clean() {
    require_go();
    let src = birthday_app().join("src");
    for args in [&["vet", "./..."][..], &["test", "-count=1", "./..."][..]] {
        let output = Command::new("go")
            .args(args)
            .current_dir(&src)
            .output()
            .expect("run go");
        assert!(
            output.status.success(),
            "go {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let unformatted = Command::new("gofmt")
        .arg("-l")
        .arg(".")
        .current_dir(&src)
        .output()
        .expect("run gofmt");
    assert!(unformatted.status.success());
    assert_eq!(
        String::from_utf8_lossy(&unformatted.stdout),
        "",
        "files gofmt would change"
    );
}

pub(crate) fn birthday_app() -> PathBuf {
    repo_root().join("examples/birthday")
}

/// Starts `serverful up` on the app after compiling its function once outside the server,
/// with the Makefile the server runs: a first Go build (no build cache yet) can take longer
/// than the server is given to start, and a missing `go` gets a clear message here.
fn start_birthday_app(app: &Path) -> Server {
    start_birthday_app_with(app, &[], &[])
}

/// [`start_birthday_app`] with extra arguments and environment for `serverful up`.
pub(crate) fn start_birthday_app_with(
    app: &Path,
    extra_args: &[&str],
    env: &[(&str, &str)],
) -> Server {
    require_go();
    let artifacts = tempfile::tempdir().expect("artifacts dir");
    let build = Command::new("make")
        .arg("-C")
        .arg(app.join("src"))
        .arg("build-BirthdayFunction")
        .env("ARTIFACTS_DIR", artifacts.path())
        .output()
        .expect("run make");
    assert!(
        build.status.success(),
        "make build-BirthdayFunction failed:\n{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    Server::try_start_with_env(app, extra_args, env)
        .unwrap_or_else(|output| panic!("server did not start:\n{output}"))
}

/// Fails the test, saying how to fix it, when Go is not installed.
fn require_go() {
    let version = Command::new("go").arg("version").output();
    assert!(
        version.as_ref().is_ok_and(|output| output.status.success()),
        "`go` is needed to build examples/birthday: run `bash scripts/install-test-deps.sh` \
         ({version:?})"
    );
}

fn body_with(date_of_birth: &str) -> String {
    json!({ "dateOfBirth": date_of_birth }).to_string()
}

/// `PUT /hello/{user}` with a date of birth: (status, body).
pub(crate) fn put(server: &Server, user: &str, date_of_birth: &str) -> (u16, String) {
    let response = client()
        .put(server.url(&format!("/hello/{user}")))
        .header("content-type", "application/json")
        .body(body_with(date_of_birth))
        .send()
        .expect("PUT /hello/{user}");
    let status = response.status().as_u16();
    (status, response.text().expect("response body"))
}

/// `GET /hello/{user}`: (status, JSON body).
pub(crate) fn get(server: &Server, user: &str) -> (u16, Value) {
    let response = client()
        .get(server.url(&format!("/hello/{user}")))
        .send()
        .expect("GET /hello/{user}");
    let status = response.status().as_u16();
    (status, json_body(response))
}

/// Runs the AWS CLI against the server's endpoint and parses its JSON output.
fn aws_json(server: &Server, args: &[&str]) -> Value {
    let output = Command::new("aws")
        .args(args)
        .args(["--output", "json"])
        .envs(server.aws_env())
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap_or_else(|error| {
            panic!("run aws: {error} (scripts/install-test-deps.sh installs it)")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "aws {} failed: {stdout}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {stdout}"))
}

/// A calendar date, enough to write dates of birth relative to today.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Date {
    year: i32,
    month: u32,
    day: u32,
}

impl Date {
    /// Today in UTC. Close to midnight it first waits for the next day, so that the test
    /// and the function agree on what today is.
    pub(crate) fn today() -> Date {
        let mut since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the clock is after 1970");
        let seconds_left_today = SECONDS_PER_DAY - since_epoch.as_secs() % SECONDS_PER_DAY;
        if seconds_left_today < 60 {
            std::thread::sleep(Duration::from_secs(seconds_left_today + 1));
            since_epoch += Duration::from_secs(seconds_left_today + 1);
        }
        Date::from_days_since_epoch(since_epoch.as_secs() / SECONDS_PER_DAY)
    }

    /// Counts whole years, then whole months, forward from 1970-01-01.
    fn from_days_since_epoch(mut days: u64) -> Date {
        let mut year = 1970;
        while days >= u64::from(days_in_year(year)) {
            days -= u64::from(days_in_year(year));
            year += 1;
        }
        let mut month = 1;
        while days >= u64::from(days_in_month(year, month)) {
            days -= u64::from(days_in_month(year, month));
            month += 1;
        }
        let day = u32::try_from(days).expect("fewer than 31 days left") + 1;
        Date { year, month, day }
    }

    pub(crate) fn plus_days(self, days: u32) -> Date {
        let mut date = self;
        for _ in 0..days {
            if date.day < days_in_month(date.year, date.month) {
                date.day += 1;
            } else if date.month < 12 {
                date = Date {
                    month: date.month + 1,
                    day: 1,
                    ..date
                };
            } else {
                date = Date {
                    year: date.year + 1,
                    month: 1,
                    day: 1,
                };
            }
        }
        date
    }

    /// The same day and month `years` earlier; callers keep `years` a multiple of 4 so
    /// that February 29 stays a real date.
    pub(crate) fn years_earlier(self, years: i32) -> Date {
        Date {
            year: self.year - years,
            ..self
        }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap_year(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_year(year: i32) -> u32 {
    if is_leap_year(year) {
        366
    } else {
        365
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[test]
fn dates_count_from_the_epoch_and_wrap_months_and_years() {
    assert_eq!(Date::from_days_since_epoch(0).to_string(), "1970-01-01");
    // 2000-02-29 is day 11016 (30 years with 7 leap days, then 59 days into 2000).
    assert_eq!(
        Date::from_days_since_epoch(11_016).to_string(),
        "2000-02-29"
    );
    let new_years_eve = Date {
        year: 2026,
        month: 12,
        day: 31,
    };
    assert_eq!(new_years_eve.plus_days(1).to_string(), "2027-01-01");
    let leap_day_eve = Date {
        year: 2028,
        month: 2,
        day: 28,
    };
    assert_eq!(leap_day_eve.plus_days(1).to_string(), "2028-02-29");
    assert_eq!(leap_day_eve.plus_days(2).to_string(), "2028-03-01");
    assert_eq!(
        leap_day_eve
            .plus_days(1)
            .years_earlier(AGE_YEARS)
            .to_string(),
        "2000-02-29"
    );
}
