//! `serverful invoke FUNCTION [DIR] --event FILE|-`: one invocation without the gateway,
//! like `sam local invoke -e`. The result goes to stdout, the function's logs to stderr;
//! a function error prints Lambda's error JSON and exits 1.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;

use anyhow::Context as _;
use bytes::Bytes;
use serverful_cli::InvokeArgs;
use serverful_runtime as runtime;

use crate::app;

pub(crate) async fn run(args: InvokeArgs) -> anyhow::Result<ExitCode> {
    let loaded = app::load(&args.app)?;
    let functions = &loaded.app.functions;
    let Some(function) = functions
        .iter()
        .find(|function| function.logical_id == args.function || function.name == args.function)
    else {
        let known: Vec<&str> = functions
            .iter()
            .map(|function| function.logical_id.as_str())
            .collect();
        eprintln!(
            "error: the template has no function named {}",
            args.function
        );
        if known.is_empty() {
            eprintln!(
                "hint: {} defines no AWS::Serverless::Function",
                loaded.app.template_path.display()
            );
        } else {
            eprintln!("hint: functions in this template: {}", known.join(", "));
        }
        return Ok(ExitCode::FAILURE);
    };

    let event = match read_event(args.event.as_deref()) {
        Ok(event) => event,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::FAILURE);
        }
    };

    let mut configs = app::prepare_functions(
        &loaded.app,
        &loaded.data_dir,
        Some(&function.logical_id),
        app::CodeVersions::Live,
    )
    .await?;
    anyhow::ensure!(
        configs.len() == 1,
        "expected exactly one function named {}",
        function.logical_id
    );
    let config = configs.remove(0);
    let (sandbox, sandbox_line) = app::sandbox(
        args.app.sandbox,
        args.app.network,
        &loaded.data_dir,
        Vec::new(),
    )
    .await?;
    eprintln!("{sandbox_line}");
    let options = runtime::RuntimeOptions {
        sandbox,
        // Logs go to stderr so stdout carries only the result.
        log_sink: runtime::LogSink::new(|function, line| {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{function} | {line}");
        }),
        ..app::runtime_options(&args.app, &loaded.data_dir)
    };
    let (function_runtime, warnings) = match runtime::Runtime::new(vec![config], options) {
        Ok(started) => started,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let outcome = function_runtime.invoke(&function.logical_id, event).await;
    function_runtime.shutdown().await;

    let mut stdout = std::io::stdout().lock();
    match outcome {
        Ok(result) => {
            stdout.write_all(&result).context("write the result")?;
            writeln!(stdout).context("write the result")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(runtime::InvokeError::FunctionError(error)) => {
            stdout.write_all(&error).context("write the error")?;
            writeln!(stdout).context("write the error")?;
            Ok(ExitCode::FAILURE)
        }
        Err(runtime::InvokeError::Timeout) => {
            let error = serde_json::json!({
                "errorType": "Sandbox.Timedout",
                "errorMessage": format!("Task timed out after {}.00 seconds", function.timeout_secs),
            });
            writeln!(stdout, "{error}").context("write the error")?;
            Ok(ExitCode::FAILURE)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The event: a file, standard input for `-`, or `{}` when none is given. It must be
/// JSON, as Lambda's Invoke API requires.
fn read_event(source: Option<&std::path::Path>) -> Result<Bytes, String> {
    let (text, origin) = match source {
        None => return Ok(Bytes::from_static(b"{}")),
        Some(path) if path.as_os_str() == "-" => {
            let mut text = Vec::new();
            std::io::stdin()
                .read_to_end(&mut text)
                .map_err(|error| format!("cannot read the event from standard input: {error}"))?;
            (text, "standard input".to_string())
        }
        Some(path) => {
            let text = std::fs::read(path).map_err(|error| {
                format!("cannot read the event file {}: {error}", path.display())
            })?;
            (text, path.display().to_string())
        }
    };
    if let Err(error) = serde_json::from_slice::<serde_json::Value>(&text) {
        return Err(format!("the event from {origin} is not JSON: {error}\nhint: pass a JSON document, e.g. --event event.json"));
    }
    Ok(Bytes::from(text))
}
