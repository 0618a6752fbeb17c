//! The command-line interface of `serverful`: clap definitions only, no logic.
//!
//! Every flag has a `SERVERFUL_*` environment equivalent; flags win over the environment.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Serverless applications on your own server.
#[derive(Debug, Parser)]
#[command(name = "serverful", version, about, long_about = None, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build and run the SAM app in DIR: the API gateway and its functions
    Up(UpArgs),
    /// Invoke one function once, without the gateway: result on stdout, logs on stderr
    Invoke(InvokeArgs),
    /// Create a working app from a template in DIR, ready for `serverful up`
    Init(InitArgs),
    /// Write a consistent backup of a data folder to one file, while a server runs on it
    Backup(BackupArgs),
    /// Restore a backup file into a new data folder
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Data folder to back up (a server may be running on it)
    #[arg(long, env = "SERVERFUL_DATA")]
    pub data: PathBuf,

    /// File to write the backup to (a .tar.zst), or `-` for standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file `serverful backup` wrote, or `-` for standard input
    pub file: PathBuf,

    /// Data folder to create from it (must not exist yet, or be empty)
    #[arg(long, env = "SERVERFUL_DATA")]
    pub data: PathBuf,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to write the app into (created if missing; nothing in it is overwritten)
    #[arg(default_value = ".")]
    pub dir: PathBuf,

    /// The app to write: hello (Python), hello-nodejs, hello-typescript, hello-go,
    /// hello-rust or crud (`--list` describes them)
    #[arg(long, short = 't', default_value = "hello")]
    pub template: String,

    /// List the templates and exit
    #[arg(long)]
    pub list: bool,
}

/// Which app, and how to read its template: shared by every command that loads an app.
#[derive(Debug, Args)]
pub struct AppArgs {
    /// Folder holding template.yaml (or template.yml), or the template file itself
    #[arg(default_value = ".", env = "SERVERFUL_DIR")]
    pub dir: PathBuf,

    /// Data folder [default: DIR/.serverful]
    #[arg(long, env = "SERVERFUL_DATA")]
    pub data: Option<PathBuf>,

    /// Template parameter values, as Key=Value (repeatable, or space-separated in one value)
    #[arg(long, value_name = "KEY=VALUE", num_args = 1.., env = "SERVERFUL_PARAMETER_OVERRIDES", value_delimiter = ' ')]
    pub parameter_overrides: Vec<String>,

    /// Region functions and ARNs report
    #[arg(long, default_value = "us-east-1", env = "SERVERFUL_REGION")]
    pub region: String,

    /// Stack name reported as AWS::StackName [default: the app folder's name]
    #[arg(long, env = "SERVERFUL_STACK")]
    pub stack_name: Option<String>,

    /// Isolate function instances: `auto` when the host allows it, `required` refuses to
    /// run functions unisolated, `off` runs them as plain processes
    #[arg(long, value_enum, default_value_t = SandboxMode::Auto, env = "SERVERFUL_SANDBOX")]
    pub sandbox: SandboxMode,

    /// Network of functions that do not choose one in `Metadata: Serverful: Network`:
    /// `egress` (outbound allowed, like Lambda) or `none` (only the platform's endpoints)
    #[arg(long, value_enum, default_value_t = NetworkMode::Egress, env = "SERVERFUL_NETWORK")]
    pub network: NetworkMode,
}

/// `--sandbox`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SandboxMode {
    Off,
    Auto,
    Required,
}

/// `--network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NetworkMode {
    None,
    Egress,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub app: AppArgs,

    /// Address the gateway and the AWS endpoint listen on
    #[arg(long, default_value = "127.0.0.1", env = "SERVERFUL_HOST")]
    pub host: IpAddr,

    /// Port of the API gateway (0 picks a free port)
    #[arg(long, default_value_t = 3000, env = "SERVERFUL_PORT")]
    pub port: u16,

    /// Port of the AWS-compatible endpoint
    #[arg(long, default_value_t = 4566, env = "SERVERFUL_AWS_PORT")]
    pub aws_port: u16,

    /// Rebuild and reload a function when its code changes, without dropping requests
    #[arg(long, env = "SERVERFUL_WATCH")]
    pub watch: bool,

    /// Instances per function, unless the function sets ReservedConcurrentExecutions
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..), env = "SERVERFUL_MAX_CONCURRENCY")]
    pub max_concurrency: u32,

    /// Requests per function that may wait for a busy function; past that they get 429
    #[arg(long, default_value_t = 100, env = "SERVERFUL_MAX_QUEUED")]
    pub max_queued: u32,

    /// Stop instances idle this long (scale to zero): 90s, 10m, 1h, or `never`
    #[arg(long, default_value = "10m", value_parser = parse_idle_timeout, env = "SERVERFUL_IDLE_TIMEOUT")]
    pub idle_timeout: IdleTimeout,

    /// Threads serving the gateway and the functions' Runtime API (default: half the
    /// cores, at least 1; the other half is left to the function processes)
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..), env = "SERVERFUL_GATEWAY_THREADS")]
    pub gateway_threads: Option<u16>,
}

/// How long idle instances stay warm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleTimeout {
    After(Duration),
    Never,
}

/// `90s`, `10m`, `1h`, `500ms`, a bare number of seconds, or `never`.
fn parse_idle_timeout(text: &str) -> Result<IdleTimeout, String> {
    if text == "never" {
        return Ok(IdleTimeout::Never);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write 90s, 10m, 1h or never"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "" | "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        "h" => Duration::from_secs(number.saturating_mul(3600)),
        _ => return Err(format!("`{text}` has an unknown unit: use ms, s, m or h")),
    };
    if duration.is_zero() {
        return Err(
            "the idle timeout must be longer than 0: use `never` to keep instances warm"
                .to_string(),
        );
    }
    Ok(IdleTimeout::After(duration))
}

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// Logical id (or FunctionName) of the function to invoke
    pub function: String,

    #[command(flatten)]
    pub app: AppArgs,

    /// JSON event file, or - for standard input [default: {}]
    #[arg(long, short = 'e', value_name = "FILE")]
    pub event: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn init_defaults_to_hello_in_the_current_folder() {
        let cli = Cli::try_parse_from(["serverful", "init"]).expect("parse");
        let Command::Init(init) = cli.command else {
            panic!("parsed as init")
        };
        assert_eq!(init.dir, PathBuf::from("."));
        assert_eq!(init.template, "hello");
        let cli =
            Cli::try_parse_from(["serverful", "init", "-t", "crud", "my-app"]).expect("parse");
        let Command::Init(init) = cli.command else {
            panic!("parsed as init")
        };
        assert_eq!(init.dir, PathBuf::from("my-app"));
        assert_eq!(init.template, "crud");
    }

    #[test]
    fn up_defaults() {
        let cli = Cli::try_parse_from(["serverful", "up"]).expect("parse");
        let Command::Up(up) = cli.command else {
            panic!("parsed as up")
        };
        assert_eq!(up.port, 3000);
        assert_eq!(up.aws_port, 4566);
        assert_eq!(up.host.to_string(), "127.0.0.1");
        assert_eq!(up.app.dir, PathBuf::from("."));
    }

    #[test]
    fn invoke_takes_the_function_then_the_folder() {
        let cli = Cli::try_parse_from([
            "serverful",
            "invoke",
            "HelloFunction",
            "app",
            "--event",
            "-",
        ])
        .expect("parse");
        let Command::Invoke(invoke) = cli.command else {
            panic!("parsed as invoke")
        };
        assert_eq!(invoke.function, "HelloFunction");
        assert_eq!(invoke.app.dir, PathBuf::from("app"));
        assert_eq!(invoke.event, Some(PathBuf::from("-")));
    }

    #[test]
    fn idle_timeouts() {
        assert_eq!(
            parse_idle_timeout("90s"),
            Ok(IdleTimeout::After(Duration::from_secs(90)))
        );
        assert_eq!(
            parse_idle_timeout("10m"),
            Ok(IdleTimeout::After(Duration::from_secs(600)))
        );
        assert_eq!(
            parse_idle_timeout("250ms"),
            Ok(IdleTimeout::After(Duration::from_millis(250)))
        );
        assert_eq!(
            parse_idle_timeout("5"),
            Ok(IdleTimeout::After(Duration::from_secs(5)))
        );
        assert_eq!(parse_idle_timeout("never"), Ok(IdleTimeout::Never));
        assert!(parse_idle_timeout("0").is_err());
        assert!(parse_idle_timeout("5 minutes").is_err());
        assert!(parse_idle_timeout("m").is_err());
    }

    #[test]
    fn gateway_threads_default_to_unset_and_refuse_zero() {
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from(args)?;
            let Command::Up(up) = cli.command else {
                panic!("parsed as up")
            };
            Ok::<_, clap::Error>(up.gateway_threads)
        };
        assert_eq!(parse(&["serverful", "up"]).expect("parse"), None);
        assert_eq!(
            parse(&["serverful", "up", "--gateway-threads", "3"]).expect("parse"),
            Some(3)
        );
        let error = parse(&["serverful", "up", "--gateway-threads", "0"]).expect_err("refused");
        assert!(error.to_string().contains("--gateway-threads"), "{error}");
    }

    #[test]
    fn a_repeated_flag_takes_the_last_value() {
        let cli = Cli::try_parse_from(["serverful", "up", "--port", "0", "--port", "8080"])
            .expect("parse");
        let Command::Up(up) = cli.command else {
            panic!("parsed as up")
        };
        assert_eq!(up.port, 8080);
    }

    #[test]
    fn parameter_overrides_accept_both_spellings() {
        let cli = Cli::try_parse_from([
            "serverful",
            "up",
            "--parameter-overrides",
            "Stage=dev Name=x",
            "--parameter-overrides",
            "Other=y",
        ])
        .expect("parse");
        let Command::Up(up) = cli.command else {
            panic!("parsed as up")
        };
        assert_eq!(
            up.app.parameter_overrides,
            ["Stage=dev", "Name=x", "Other=y"]
        );
    }
}
