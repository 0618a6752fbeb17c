//! The `serverful` binary: command dispatch over the library crates.
//!
//! This is the only crate that uses `anyhow` and the only one that knows every other
//! crate; it converts the template's app model into the runtime's and the gateway's views.

mod app;
mod backup;
mod builds;
mod cluster;
mod init;
mod invocations;
mod invoke;
mod logs;
mod metrics;
mod remote;
mod schedules;
mod serve;
mod server;
mod streams;
mod tls;
mod up;
mod watch;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};
use serverful_cli::{Cli, Command};

/// Runs the command line and returns the process's exit status.
pub fn main() -> ExitCode {
    // A sandbox init (this binary re-executed to start a function instance) never gets
    // past this line.
    serverful_sandbox::run_init_if_requested();
    // `--version` is the binary's version, the one the start-up banner prints (the
    // parser's own crate has another).
    let matches = Cli::command()
        .version(env!("CARGO_PKG_VERSION"))
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    init_tracing(cli.log_format);

    // `up` runs two tokio runtimes. The gateway and the functions (each invocation is a
    // handful of hand-offs between the client's connection, the pool and the instance's
    // Runtime API connection) run on a few threads of their own, half the cores by
    // default: on two cores one thread answered a warm invocation about 50 µs sooner
    // than two, which kept waking each other. The AWS endpoint, whose store reads run on
    // its threads, gets a runtime as wide as the machine.
    let (runtime, aws_runtime) = match &cli.command {
        Command::Up(serverful_cli::UpArgs {
            gateway_threads, ..
        })
        | Command::Serve(serverful_cli::ServeArgs {
            gateway_threads, ..
        }) => {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            let gateway_threads = gateway_threads.map_or((cores / 2).max(1), usize::from);
            (
                build_runtime("serverful-gateway", Some(gateway_threads)),
                Some(build_runtime("serverful-aws", None)),
            )
        }
        _ => (build_runtime("serverful", None), None),
    };
    let (runtime, aws_runtime) = match (runtime, aws_runtime.transpose()) {
        (Ok(runtime), Ok(aws_runtime)) => (runtime, aws_runtime),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("error: failed to start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let aws_handle = aws_runtime.as_ref().map(|aws| aws.handle().clone());
    let result = runtime.block_on(async {
        match cli.command {
            Command::Up(args) => {
                let aws_handle = aws_handle.expect("`up` builds the AWS endpoint's runtime");
                up::run(args, aws_handle).await
            }
            Command::Serve(args) => {
                let aws_handle = aws_handle.expect("`serve` builds the AWS endpoint's runtime");
                serve::run(args, aws_handle).await
            }
            Command::Deploy(args) => remote::deploy(args).await,
            Command::Rollback(args) => remote::rollback(args).await,
            Command::Delete(args) => remote::delete(args).await,
            Command::Ls(args) => remote::ls(args).await,
            Command::Invoke(args) => invoke::run(args).await,
            Command::Init(args) => init::run(&args),
            Command::Backup(args) => backup::backup(&args).await,
            Command::Restore(args) => backup::restore(&args),
            Command::Logs(args) => logs::run(&args).await,
            Command::Invocations(args) => invocations::run(&args).await,
        }
    });
    // Connections still open on the AWS endpoint are not waited for.
    if let Some(aws_runtime) = aws_runtime {
        aws_runtime.shutdown_background();
    }
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// A multi-threaded tokio runtime whose threads are called `name` (`threads`: the
/// number of worker threads; `None` for one per core).
fn build_runtime(name: &str, threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name(name);
    if let Some(threads) = threads {
        builder.worker_threads(threads);
    }
    builder.build()
}

/// The server's own diagnostics go to stderr as text or JSON lines (`--log-format`);
/// `RUST_LOG` or `SERVERFUL_LOG` filter them.
fn init_tracing(format: serverful_cli::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("SERVERFUL_LOG")
        .ok()
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        // JSON goes to a collector, which wants the deploys and the listeners too.
        .unwrap_or_else(|| match format {
            serverful_cli::LogFormat::Json => EnvFilter::new("info"),
            serverful_cli::LogFormat::Text => EnvFilter::new("warn"),
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        serverful_cli::LogFormat::Json => {
            serverful_runtime::logs::print_json_lines();
            builder.json().with_current_span(false).init()
        }
        serverful_cli::LogFormat::Text => {
            let use_color = std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr());
            builder.with_ansi(use_color).init()
        }
    }
}
