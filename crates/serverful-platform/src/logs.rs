//! `Action::Logs`: a page of one function's kept log lines, the function named as a user
//! names it (logical id, physical name or ARN), the stack found from the name when the
//! request does not say it.

use std::sync::Arc;

use serverful_logs::{Cursor, FunctionLogs, LogBackend, LogLine, LogQuery};

use crate::action::{ActionError, LogEntry, LogsRequest, Outcome};
use crate::server::LiveVersion;

/// The log store the platform reads (the server's writer appends to the same one).
#[derive(Clone)]
pub struct LogReader(pub Arc<dyn LogBackend>);

impl std::fmt::Debug for LogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogReader")
    }
}

/// The most lines one page holds.
pub const MAX_PAGE: usize = 10_000;

/// Reads the page `request` asks for from `backend`; `live` is every stack's current
/// version, whose templates turn physical names into the logical ids lines are kept under.
pub(crate) fn read(
    backend: &dyn LogBackend,
    live: &[Arc<LiveVersion>],
    request: &LogsRequest,
) -> Result<Outcome, ActionError> {
    let with_logs = backend
        .functions(None)
        .map_err(|error| ActionError::internal("logs", error.to_string()))?;
    let (stack, function) = resolve(request, live, &with_logs)?;
    let after = match &request.after {
        Some(cursor) => Some(
            cursor
                .parse::<Cursor>()
                .map_err(|error| ActionError::invalid("logs", error.to_string()))?,
        ),
        None => None,
    };
    let query = LogQuery {
        stack: stack.clone(),
        function: function.clone(),
        since_ms: request.since_ms,
        after,
        limit: request.limit.clamp(1, MAX_PAGE),
    };
    let lines = backend
        .read(&query)
        .map_err(|error| ActionError::internal("logs", error.to_string()))?;
    let cursor = lines
        .last()
        .map(|line| line.cursor.to_string())
        .or_else(|| request.after.clone());
    Ok(Outcome::Logs {
        stack,
        function,
        lines: lines.iter().map(entry).collect(),
        cursor,
    })
}

/// The stack and logical id `request` means.
fn resolve(
    request: &LogsRequest,
    live: &[Arc<LiveVersion>],
    with_logs: &[FunctionLogs],
) -> Result<(String, String), ActionError> {
    let name = request
        .function
        .rsplit_once(":function:")
        .map_or(request.function.as_str(), |(_, name)| name);
    // A running stack's function, by logical id or physical name.
    let running: Vec<(String, String)> = live
        .iter()
        .filter(|version| {
            request
                .stack
                .as_deref()
                .is_none_or(|stack| stack == version.record.stack)
        })
        .flat_map(|version| {
            version
                .app
                .functions
                .iter()
                .filter(|function| function.logical_id == name || function.name == name)
                .map(|function| (version.record.stack.clone(), function.logical_id.clone()))
        })
        .collect();
    // A function that only has lines (its stack was deleted, or the name is a logical id
    // of a stack no longer running).
    let kept: Vec<(String, String)> = with_logs
        .iter()
        .filter(|logs| {
            logs.function == name
                && request
                    .stack
                    .as_deref()
                    .is_none_or(|stack| stack == logs.stack)
        })
        .map(|logs| (logs.stack.clone(), logs.function.clone()))
        .collect();
    let mut found = running;
    for candidate in kept {
        if !found.contains(&candidate) {
            found.push(candidate);
        }
    }
    match found.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(unknown_function(request, with_logs)),
        several => {
            let stacks: Vec<&str> = several.iter().map(|(stack, _)| stack.as_str()).collect();
            Err(ActionError::invalid(
                "logs",
                format!(
                    "{name} is a function of several stacks ({}): say which with --stack",
                    stacks.join(", ")
                ),
            ))
        }
    }
}

fn unknown_function(request: &LogsRequest, with_logs: &[FunctionLogs]) -> ActionError {
    let in_stack = match &request.stack {
        Some(stack) => format!(" in stack {stack}"),
        None => String::new(),
    };
    let mut message = format!("no function {}{in_stack} has logs", request.function);
    if with_logs.is_empty() {
        message.push_str("; no function has logged yet");
    } else {
        let names: Vec<String> = with_logs
            .iter()
            .map(|logs| format!("{} (stack {})", logs.function, logs.stack))
            .collect();
        message.push_str(&format!("; functions with logs: {}", names.join(", ")));
    }
    ActionError::not_found("logs", message)
}

fn entry(line: &LogLine) -> LogEntry {
    LogEntry {
        timestamp: timestamp(line.at_ms),
        stack: line.stack.clone(),
        function: line.function.clone(),
        request_id: line.request_id.clone(),
        message: line.text.clone(),
        cursor: line.cursor.to_string(),
    }
}

/// RFC 3339 in UTC with milliseconds, as Lambda's own log lines.
pub fn timestamp(unix_ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .ok()
        .and_then(|at| at.format(&format).ok())
        .unwrap_or_else(|| unix_ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serverful_logs::{NewLine, SqliteLogs};

    fn request(function: &str, stack: Option<&str>) -> LogsRequest {
        LogsRequest {
            function: function.to_owned(),
            stack: stack.map(str::to_owned),
            since_ms: None,
            after: None,
            limit: 100,
        }
    }

    fn line(stack: &str, function: &str, text: &str) -> NewLine {
        NewLine {
            stack: stack.to_owned(),
            function: function.to_owned(),
            at_ms: 1_700_000_000_000,
            request_id: None,
            text: text.to_owned(),
        }
    }

    #[test]
    fn kept_lines_are_read_by_logical_id_with_or_without_the_stack_and_paged_by_cursor() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let logs = SqliteLogs::open_in(dir.path()).expect("log store");
        logs.append(&[
            line("a", "Fn", "one"),
            line("a", "Fn", "two"),
            line("b", "Other", "three"),
            line("c", "Fn", "four"),
        ])
        .expect("append");

        let Outcome::Logs { lines, cursor, .. } = read(
            &logs,
            &[],
            &LogsRequest {
                limit: 1,
                ..request("Fn", Some("a"))
            },
        )
        .expect("read") else {
            panic!("a page of logs")
        };
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].message, "one");
        assert_eq!(lines[0].timestamp, "2023-11-14T22:13:20.000Z");
        let Outcome::Logs { lines, .. } = read(
            &logs,
            &[],
            &LogsRequest {
                after: cursor,
                ..request("Fn", Some("a"))
            },
        )
        .expect("read") else {
            panic!("a page of logs")
        };
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].message, "two");

        let Outcome::Logs { stack, lines, .. } =
            read(&logs, &[], &request("Other", None)).expect("one stack has it")
        else {
            panic!("a page of logs")
        };
        assert_eq!((stack.as_str(), lines.len()), ("b", 1));

        let ambiguous = read(&logs, &[], &request("Fn", None)).expect_err("two stacks");
        assert!(
            ambiguous.message.contains("several stacks (a, c)"),
            "{ambiguous}"
        );
        let unknown = read(&logs, &[], &request("Nope", None)).expect_err("no such function");
        assert!(
            unknown
                .message
                .contains("functions with logs: Fn (stack a)"),
            "{unknown}"
        );
        let bad_cursor = read(
            &logs,
            &[],
            &LogsRequest {
                after: Some("x".to_owned()),
                ..request("Other", None)
            },
        )
        .expect_err("a bad cursor");
        assert_eq!(bad_cursor.step, "logs");
    }
}
