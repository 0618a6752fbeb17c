//! The `serverful` binary: command dispatch over the library crates.
//!
//! This is the only crate that uses `anyhow` and the only one that knows every other
//! crate; it converts the template's app model into the runtime's and the gateway's views.

mod app;
mod builds;
mod functions;
mod invoke;
mod lambda_api;
mod tables;
mod up;
mod watch;

use std::process::ExitCode;

use clap::Parser;
use serverful_cli::{Cli, Command};

/// Runs the command line and returns the process's exit status.
pub fn main() -> ExitCode {
    // A sandbox init (this binary re-executed to start a function instance) never gets
    // past this line.
    serverful_sandbox::run_init_if_requested();
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Up(args) => up::run(args).await,
            Command::Invoke(args) => invoke::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The server's own diagnostics go to stderr; `RUST_LOG` or `SERVERFUL_LOG` filter them.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("SERVERFUL_LOG")
        .ok()
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("warn"));
    let use_color = std::env::var_os("NO_COLOR").is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(use_color)
        .with_target(false)
        .init();
}
