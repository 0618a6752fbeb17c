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
    /// Print a function's logs, kept in the app's data folder: its own lines and the
    /// START/END/REPORT lines of each invocation
    Logs(LogsArgs),
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

    /// Function logs kept per function in the data folder (`serverful logs`): past this
    /// size the oldest lines are deleted (KB, MB, GB; 0 keeps any amount)
    #[arg(long, default_value = "10MB", value_parser = parse_bytes, env = "SERVERFUL_LOG_MAX_BYTES")]
    pub log_max_bytes: u64,

    /// Function log lines older than this are deleted: 12h, 7d, or `never`
    #[arg(long, default_value = "7d", value_parser = parse_log_max_age, env = "SERVERFUL_LOG_MAX_AGE")]
    pub log_max_age: LogMaxAge,
}

/// `--log-max-age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogMaxAge {
    After(Duration),
    Never,
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

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Logical id (or FunctionName) of the function
    pub function: String,

    /// The app's folder (or its template file): where its data folder is, and what its
    /// stack is called
    #[arg(default_value = ".", env = "SERVERFUL_DIR")]
    pub dir: PathBuf,

    /// Data folder [default: DIR/.serverful]
    #[arg(long, env = "SERVERFUL_DATA")]
    pub data: Option<PathBuf>,

    /// The stack whose function it is [default: the app folder's name, as `up` names it]
    #[arg(long, visible_alias = "stack-name", env = "SERVERFUL_STACK")]
    pub stack: Option<String>,

    /// Only lines written since then: 90s, 10m, 2h, 1d ago, or an RFC 3339 time
    /// (2026-12-07T01:02:03Z) [default: every line kept]
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    pub since: Option<Since>,

    /// Keep printing new lines as they are written, until Ctrl-C
    #[arg(long, short = 'f')]
    pub follow: bool,

    /// One JSON object per line: timestamp, stack, function, requestId, message, cursor
    #[arg(long)]
    pub json: bool,
}

/// `--since`: a time, or how long ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    Ago(Duration),
    /// Milliseconds since the Unix epoch.
    At {
        unix_ms: i64,
    },
}

/// `90s`, `10m`, `2h`, `1d`, or an RFC 3339 time.
fn parse_since(text: &str) -> Result<Since, String> {
    if let Ok(duration) = parse_duration(text) {
        return Ok(Since::Ago(duration));
    }
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            format!(
                "`{text}` is neither a duration nor a time: write 90s, 10m, 2h, 1d, or an RFC 3339 time such as 2026-12-07T01:02:03Z"
            )
        })?;
    let unix_ms = i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| format!("`{text}` is out of range"))?;
    Ok(Since::At { unix_ms })
}

/// `12h`, `7d`, or `never`.
fn parse_log_max_age(text: &str) -> Result<LogMaxAge, String> {
    if text == "never" {
        return Ok(LogMaxAge::Never);
    }
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(
            "the log age limit must be longer than 0: use `never` to keep lines whatever their age"
                .to_owned(),
        );
    }
    Ok(LogMaxAge::After(duration))
}

/// A number and a unit: `s`, `m`, `h` or `d`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write 90s, 10m, 2h or 1d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}` needs a unit: s, m, h or d")),
    };
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

/// `500KB`, `10MB`, `1GB` (powers of 1024), or a number of bytes.
fn parse_bytes(text: &str) -> Result<u64, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: write 500KB, 10MB or 1GB"))?;
    let multiplier: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("`{text}` has an unknown unit: use KB, MB or GB")),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("`{text}` is too large"))
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

    #[test]
    fn logs_takes_the_function_then_the_folder() {
        let cli = Cli::try_parse_from([
            "serverful",
            "logs",
            "HelloFunction",
            "app",
            "--data",
            "d",
            "--stack",
            "prod",
            "--since",
            "10m",
            "-f",
            "--json",
        ])
        .expect("parse");
        let Command::Logs(logs) = cli.command else {
            panic!("parsed as logs")
        };
        assert_eq!(logs.function, "HelloFunction");
        assert_eq!(logs.dir, PathBuf::from("app"));
        assert_eq!(logs.data, Some(PathBuf::from("d")));
        assert_eq!(logs.stack.as_deref(), Some("prod"));
        assert_eq!(logs.since, Some(Since::Ago(Duration::from_secs(600))));
        assert!(logs.follow && logs.json);
        let cli = Cli::try_parse_from(["serverful", "logs", "F"]).expect("parse");
        let Command::Logs(logs) = cli.command else {
            panic!("parsed as logs")
        };
        assert_eq!(logs.dir, PathBuf::from("."));
        assert_eq!((logs.since, logs.follow, logs.json), (None, false, false));
    }

    #[test]
    fn since_takes_durations_and_rfc_3339_times() {
        assert_eq!(parse_since("90s"), Ok(Since::Ago(Duration::from_secs(90))));
        assert_eq!(parse_since("2h"), Ok(Since::Ago(Duration::from_secs(7200))));
        assert_eq!(
            parse_since("1d"),
            Ok(Since::Ago(Duration::from_secs(86_400)))
        );
        assert_eq!(
            parse_since("2026-12-07T01:02:03.456Z"),
            Ok(Since::At {
                unix_ms: 1_796_605_323_456
            })
        );
        assert_eq!(
            parse_since("2026-12-07T02:02:03+01:00"),
            Ok(Since::At {
                unix_ms: 1_796_605_323_000
            })
        );
        for bad in ["yesterday", "10", "10 m", "2026-12-07", ""] {
            let error = parse_since(bad).expect_err(bad);
            assert!(error.contains("RFC 3339"), "{error}");
        }
    }

    #[test]
    fn log_retention_flags() {
        let cli = Cli::try_parse_from(["serverful", "up"]).expect("parse");
        let Command::Up(up) = cli.command else {
            panic!("parsed as up")
        };
        assert_eq!(up.app.log_max_bytes, 10 * 1024 * 1024);
        assert_eq!(
            up.app.log_max_age,
            LogMaxAge::After(Duration::from_secs(7 * 86_400))
        );
        assert_eq!(parse_bytes("500KB"), Ok(500 * 1024));
        assert_eq!(parse_bytes("1gb"), Ok(1 << 30));
        assert_eq!(parse_bytes("0"), Ok(0));
        assert!(parse_bytes("ten").is_err());
        assert!(parse_bytes("10TB").is_err());
        assert_eq!(parse_log_max_age("never"), Ok(LogMaxAge::Never));
        assert_eq!(
            parse_log_max_age("12h"),
            Ok(LogMaxAge::After(Duration::from_secs(43_200)))
        );
        assert!(parse_log_max_age("0d").is_err());
    }
}
