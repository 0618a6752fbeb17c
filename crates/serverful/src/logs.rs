//! Function logs: the store the runtime's lines are kept in (`DATA/logs.sqlite`), and
//! `serverful logs FUNCTION [DIR]`, which prints them from there.
//!
//! The output is one line per log line, `2026-12-07T01:02:03.456Z HelloFunction | text`,
//! or with `--json` one object per line (`timestamp`, `stack`, `function`, `requestId`,
//! `message`, `cursor`), the same for a store read directly and, later, through a running
//! server's admin API.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serverful_cli::{LogLimitArgs, LogMaxAge, LogsArgs, Since};
use serverful_logs::{
    FunctionLogs, LogBackend as _, LogError, LogLine, LogWriter, SqliteLogs, Tail,
};
use serverful_runtime as runtime;
use serverful_template as template;

/// How often `serverful logs -f` looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// The runtime's [`runtime::LogStore`]: lines queued to the log store's writer thread.
#[derive(Debug)]
struct KeptLogs(LogWriter);

impl runtime::LogStore for KeptLogs {
    fn append(&self, record: runtime::LogRecord) {
        // A full queue drops the line; the writer counts it and says so in the log.
        self.0.push(serverful_logs::NewLine {
            stack: record.stack,
            function: record.function,
            at_ms: record.timestamp_ms,
            request_id: record.request_id,
            text: record.text,
        });
    }

    fn flush(&self, timeout: Duration) {
        if !self.0.flush(timeout) {
            tracing::warn!("the last function log lines were not all kept in time");
        }
    }
}

/// What `--log-max-bytes` and `--log-max-age` keep.
pub(crate) fn retention(args: &LogLimitArgs) -> serverful_logs::Retention {
    serverful_logs::Retention {
        max_bytes_per_function: (args.log_max_bytes > 0).then_some(args.log_max_bytes),
        max_age: match args.log_max_age {
            LogMaxAge::After(age) => Some(age),
            LogMaxAge::Never => None,
        },
    }
}

/// A data folder's log store, opened: the runtime's side (lines queued to the writer
/// thread) and the readers' side (the platform's `Action::Logs`).
pub(crate) struct OpenedLogs {
    pub store: Arc<dyn runtime::LogStore>,
    pub backend: Arc<dyn serverful_logs::LogBackend>,
}

/// The log store of `data_dir`, started; `None` (with a warning) when it cannot be
/// opened: functions still run and their lines are still printed.
pub(crate) fn open_store(
    data_dir: &Path,
    cluster: Option<&crate::cluster::Cluster>,
    retention: serverful_logs::Retention,
) -> Option<OpenedLogs> {
    let opened: Result<Arc<dyn serverful_logs::LogBackend>, serverful_logs::LogError> =
        match cluster {
            Some(cluster) => serverful_postgres::logs::PostgresLogs::new(cluster.database.clone())
                .map(|store| Arc::new(store) as Arc<dyn serverful_logs::LogBackend>),
            None => SqliteLogs::open_in(data_dir)
                .map(|store| Arc::new(store) as Arc<dyn serverful_logs::LogBackend>),
        };
    let started = opened
        .map_err(|error| error.to_string())
        .and_then(|backend| {
            let options = serverful_logs::WriterOptions {
                retention,
                ..serverful_logs::WriterOptions::default()
            };
            LogWriter::start(backend.clone(), options)
                .map(|writer| (writer, backend))
                .map_err(|error| format!("failed to start the log writer thread: {error}"))
        });
    match started {
        Ok((writer, backend)) => Some(OpenedLogs {
            store: Arc::new(KeptLogs(writer)),
            backend,
        }),
        Err(error) => {
            eprintln!("warning: function logs are not kept for `serverful logs`: {error}");
            None
        }
    }
}

/// `serverful logs`: from a running server's admin API with `--endpoint`, else from a
/// data folder on this machine.
pub(crate) async fn run(args: &LogsArgs) -> anyhow::Result<ExitCode> {
    match &args.remote.endpoint {
        Some(endpoint) => run_remote(endpoint, args).await,
        None => run_local(args),
    }
}

/// Lines asked of a running server a page at a time; following polls for new ones.
async fn run_remote(endpoint: &str, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let client = crate::remote::client_for(endpoint, args.remote.token.as_deref())?;
    let mut request = serverful_platform::LogsRequest {
        function: args.function.clone(),
        stack: args.stack.clone(),
        since_ms: args.since.map(since_ms),
        after: None,
        limit: 1000,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout());
    loop {
        let outcome = match client.logs(&request).await {
            Ok(outcome) => outcome,
            Err(error) => {
                eprintln!("error: {error}");
                return Ok(ExitCode::FAILURE);
            }
        };
        let serverful_platform::Outcome::Logs { lines, cursor, .. } = outcome else {
            anyhow::bail!("the server answered a logs request with something else");
        };
        let printed = lines.iter().try_for_each(|line| {
            if args.json {
                writeln!(out, "{}", serde_json::to_string(line).unwrap_or_default())
            } else {
                writeln!(
                    out,
                    "{} {} | {}",
                    line.timestamp, line.function, line.message
                )
            }
        });
        if let Err(error) = printed.and_then(|()| out.flush()) {
            return stdout_closed(error);
        }
        let full_page = lines.len() >= request.limit;
        request.after = cursor;
        if !full_page {
            if !args.follow {
                return Ok(ExitCode::SUCCESS);
            }
            tokio::time::sleep(FOLLOW_POLL).await;
        }
    }
}

fn run_local(args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let app_dir = app_folder(&args.dir);
    let data_dir = args
        .data
        .clone()
        .unwrap_or_else(|| app_dir.join(".serverful"));
    let store = match SqliteLogs::open_existing(&data_dir.join(serverful_logs::FILE_NAME)) {
        Ok(store) => store,
        Err(LogError::Missing { .. }) => {
            eprintln!("error: {} has no function logs", data_dir.display());
            eprintln!(
                "hint: logs are kept once `serverful up` or `serverful invoke` runs a function \
                 with this data folder; pass the one it used with --data"
            );
            return Ok(ExitCode::FAILURE);
        }
        Err(error) => return Err(error.into()),
    };

    let with_logs = store.functions(None)?;
    // A physical name (`{stack}-{LogicalId}-{SUFFIX}`, as `ls` and the Lambda API show
    // it) names both the stack and the function; so does a logical id that has logs in
    // one stack only, when neither --stack nor an app folder says which.
    let named = physical_name(&args.function, &with_logs).or_else(|| {
        let stacks: Vec<&FunctionLogs> = with_logs
            .iter()
            .filter(|logs| logs.function == args.function)
            .collect();
        match stacks.as_slice() {
            [only] if args.stack.is_none() && !has_template(&args.dir) => {
                Some((only.stack.clone(), only.function.clone()))
            }
            _ => None,
        }
    });
    let stack = match (&args.stack, &named) {
        (Some(stack), _) => stack.clone(),
        (None, Some((stack, _))) => stack.clone(),
        (None, None) => crate::app::default_stack_name(&args.dir),
    };
    // The template, when it loads, tells a function of the app that has not logged yet
    // from a typo, and turns a FunctionName into the logical id lines are kept under.
    let app_functions = app_functions(&args.dir, &stack);
    let function = match &named {
        Some((named_stack, logical_id)) if *named_stack == stack => logical_id.clone(),
        _ => app_functions
            .iter()
            .find(|function| function.name == args.function)
            .map_or_else(|| args.function.clone(), |f| f.logical_id.clone()),
    };
    let has_lines = with_logs
        .iter()
        .any(|logs| logs.stack == stack && logs.function == function);
    if !has_lines {
        let in_app = app_functions
            .iter()
            .any(|known| known.logical_id == function);
        let elsewhere: Vec<&str> = with_logs
            .iter()
            .filter(|logs| logs.function == function)
            .map(|logs| logs.stack.as_str())
            .collect();
        if !in_app {
            eprintln!("error: no logs for function {function} in stack {stack}");
            if !elsewhere.is_empty() {
                eprintln!(
                    "hint: {function} has logs in stack {}: pass --stack",
                    elsewhere.join(", ")
                );
            } else if with_logs.is_empty() {
                eprintln!("hint: no function has logs in {} yet", data_dir.display());
            } else {
                let names: Vec<String> = with_logs
                    .iter()
                    .map(|logs| format!("{} (stack {})", logs.function, logs.stack))
                    .collect();
                eprintln!("hint: functions with logs: {}", names.join(", "));
            }
            return Ok(ExitCode::FAILURE);
        }
        if elsewhere.is_empty() {
            eprintln!("note: {function} has no logs in stack {stack} yet");
        } else {
            eprintln!(
                "note: {function} has no logs in stack {stack} yet, but has some in stack {} (--stack)",
                elsewhere.join(", ")
            );
        }
    }

    let mut tail = Tail::new(&stack, &function);
    if let Some(since) = args.since {
        tail = tail.since_ms(since_ms(since));
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut print = |lines: &[LogLine]| -> std::io::Result<()> {
        for line in lines {
            if args.json {
                writeln!(out, "{}", json_line(line))?;
            } else {
                writeln!(out, "{}", text_line(line))?;
            }
        }
        out.flush()
    };
    loop {
        let page = tail.next_page(&store)?;
        if page.is_empty() {
            break;
        }
        if let Err(error) = print(&page) {
            return stdout_closed(error);
        }
    }
    if args.follow {
        // Until Ctrl-C, or until whatever reads the output goes away.
        loop {
            let page = tail.wait(&store, FOLLOW_POLL, Duration::from_secs(60))?;
            if let Err(error) = print(&page) {
                return stdout_closed(error);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A closed pipe (`serverful logs F | head`) ends the command quietly.
fn stdout_closed(error: std::io::Error) -> anyhow::Result<ExitCode> {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        return Ok(ExitCode::SUCCESS);
    }
    Err(error).context("write the logs to stdout")
}

/// The folder DIR names: itself, or the folder of a template file.
fn app_folder(dir: &Path) -> PathBuf {
    if dir.is_file() {
        dir.parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    } else {
        dir.to_path_buf()
    }
}

/// The stack and logical id of a function's physical name, `{stack}-{LogicalId}-{SUFFIX}`,
/// among the functions that have logs.
fn physical_name(name: &str, with_logs: &[FunctionLogs]) -> Option<(String, String)> {
    with_logs.iter().find_map(|logs| {
        let suffix = name
            .strip_prefix(logs.stack.as_str())?
            .strip_prefix('-')?
            .strip_prefix(logs.function.as_str())?
            .strip_prefix('-')?;
        let generated = !suffix.is_empty()
            && suffix
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        generated.then(|| (logs.stack.clone(), logs.function.clone()))
    })
}

/// Whether DIR holds an app's template (else it is only where the command runs).
fn has_template(dir: &Path) -> bool {
    dir.is_file() || dir.join("template.yaml").is_file() || dir.join("template.yml").is_file()
}

/// The app's functions, or none when DIR has no template that loads (the store alone
/// then says which functions exist).
fn app_functions(dir: &Path, stack: &str) -> Vec<template::Function> {
    let options = template::LoadOptions {
        stack_name: stack.to_owned(),
        ..template::LoadOptions::default()
    };
    template::load(dir, &options)
        .map(|app| app.functions)
        .unwrap_or_default()
}

pub(crate) fn since_ms(since: Since) -> i64 {
    match since {
        Since::At { unix_ms } => unix_ms,
        Since::Ago(ago) => serverful_logs::now_ms()
            .saturating_sub(i64::try_from(ago.as_millis()).unwrap_or(i64::MAX)),
    }
}

/// `2026-12-07T01:02:03.456Z HelloFunction | text`
fn text_line(line: &LogLine) -> String {
    format!(
        "{} {} | {}",
        serverful_platform::logs::timestamp(line.at_ms),
        line.function,
        line.text
    )
}

/// `{"timestamp": …, "stack": …, "function": …, "requestId": … or null, "message": …,
/// "cursor": …}`; the cursor resumes a read after this line.
fn json_line(line: &LogLine) -> serde_json::Value {
    serde_json::json!({
        "timestamp": serverful_platform::logs::timestamp(line.at_ms),
        "stack": line.stack,
        "function": line.function,
        "requestId": line.request_id,
        "message": line.text,
        "cursor": line.cursor.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(request_id: Option<&str>) -> LogLine {
        let store_dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteLogs::open_in(store_dir.path()).expect("open");
        store
            .append(&[serverful_logs::NewLine {
                stack: "app".to_owned(),
                function: "HelloFunction".to_owned(),
                at_ms: 1_796_605_323_456,
                request_id: request_id.map(str::to_owned),
                text: "hello \"world\"".to_owned(),
            }])
            .expect("append");
        Tail::new("app", "HelloFunction")
            .next_page(&store)
            .expect("read")
            .remove(0)
    }

    #[test]
    fn text_lines_start_with_the_time_and_the_function() {
        assert_eq!(
            text_line(&line(None)),
            "2026-12-07T01:02:03.456Z HelloFunction | hello \"world\""
        );
    }

    #[test]
    fn json_lines_carry_every_field() {
        assert_eq!(
            json_line(&line(Some("r-1"))).to_string(),
            r#"{"cursor":"1","function":"HelloFunction","message":"hello \"world\"","requestId":"r-1","stack":"app","timestamp":"2026-12-07T01:02:03.456Z"}"#
        );
        assert_eq!(json_line(&line(None))["requestId"], serde_json::Value::Null);
    }

    #[test]
    fn since_a_duration_counts_back_from_now() {
        let before = serverful_logs::now_ms();
        let since = since_ms(Since::Ago(Duration::from_secs(600)));
        assert!((before - 600_000..=before - 600_000 + 1000).contains(&since));
        assert_eq!(since_ms(Since::At { unix_ms: 42 }), 42);
    }
}
