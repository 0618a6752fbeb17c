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

    /// How the server writes its own diagnostics to stderr: `text` lines, or `json`, one
    /// object per line (`timestamp`, `level`, `fields`) for a log collector. Which of them
    /// are written is `SERVERFUL_LOG` (or `RUST_LOG`): `warn` unless set.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "SERVERFUL_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
}

/// The format of the server's own log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build and run the SAM app in DIR: the API gateway and its functions
    Up(UpArgs),
    /// Invoke one function once, without the gateway (or a running server's with
    /// --endpoint): result on stdout, logs on stderr
    Invoke(InvokeArgs),
    /// Create a working app from a template in DIR, ready for `serverful up`
    Init(InitArgs),
    /// Run the long-running server that hosts the stacks deployed to it
    Serve(ServeArgs),
    /// Deploy an app (a folder, a zip or a git repository) to a running server as a stack
    Deploy(DeployArgs),
    /// Switch a stack back to its previous version (or the one named), without building
    Rollback(RollbackArgs),
    /// Stop a stack and forget it; its tables are kept unless --delete-tables
    Delete(DeleteArgs),
    /// List a running server's stacks: versions, sources, URLs, functions
    Ls(LsArgs),
    /// Write a consistent backup of a data folder to one file, while a server runs on it
    Backup(BackupArgs),
    /// Restore a backup file into a new data folder
    Restore(RestoreArgs),
    /// Print a function's logs, kept in the app's data folder: its own lines and the
    /// START/END/REPORT lines of each invocation
    Logs(LogsArgs),
    /// List recorded invocations, newest first (`show ID` prints one whole: event, result
    /// or error, logs, timings); `invoke --replay ID` runs one again
    Invocations(InvocationsArgs),
}

/// How a command reaches a running server's admin API.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// The admin API of the server (`serverful up` and `serve` print it)
    #[arg(
        long,
        default_value = "http://127.0.0.1:4599",
        env = "SERVERFUL_ENDPOINT"
    )]
    pub endpoint: String,

    /// The admin token (the server prints where it keeps it)
    #[arg(long, env = "SERVERFUL_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data folder: stacks, their versions, tables, keys
    #[arg(long, default_value = "/var/lib/serverful", env = "SERVERFUL_DATA")]
    pub data: PathBuf,

    /// PostgreSQL database that a cluster's nodes share
    /// (`postgres://user[:password]@host[:port]/database`): the DynamoDB tables live
    /// there instead of in the data folder (cluster mode, in progress)
    #[arg(long, value_name = "URL", value_parser = parse_store_url, env = "SERVERFUL_STORE", hide_env_values = true)]
    pub store: Option<String>,

    /// Address the gateway, the AWS endpoint and the admin API listen on
    #[arg(long, default_value = "127.0.0.1", env = "SERVERFUL_HOST")]
    pub host: IpAddr,

    /// Port of the API gateway
    #[arg(long, default_value_t = 3000, env = "SERVERFUL_PORT")]
    pub port: u16,

    /// Port of the AWS-compatible endpoint
    #[arg(long, default_value_t = 4566, env = "SERVERFUL_AWS_PORT")]
    pub aws_port: u16,

    /// Port of the admin API (deploy, rollback, ls, ...)
    #[arg(long, default_value_t = 4599, env = "SERVERFUL_ADMIN_PORT")]
    pub admin_port: u16,

    /// Address the admin API listens on (keep it private)
    #[arg(long, default_value = "127.0.0.1", env = "SERVERFUL_ADMIN_HOST")]
    pub admin_host: IpAddr,

    /// API `X` answers on the host `X.execute-api.DOMAIN`
    #[arg(long, default_value = "localhost", env = "SERVERFUL_DOMAIN")]
    pub domain: String,

    /// Region functions and ARNs report
    #[arg(long, default_value = "us-east-1", env = "SERVERFUL_REGION")]
    pub region: String,

    /// Isolate function instances (see `serverful up --help`)
    #[arg(long, value_enum, default_value_t = SandboxMode::Auto, env = "SERVERFUL_SANDBOX")]
    pub sandbox: SandboxMode,

    /// Network of functions that do not choose one
    #[arg(long, value_enum, default_value_t = NetworkMode::Egress, env = "SERVERFUL_NETWORK")]
    pub network: NetworkMode,

    /// Instances per function, unless the function sets ReservedConcurrentExecutions
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..), env = "SERVERFUL_MAX_CONCURRENCY")]
    pub max_concurrency: u32,

    /// Requests per function that may wait for a busy function; past that they get 429
    #[arg(long, default_value_t = 100, env = "SERVERFUL_MAX_QUEUED")]
    pub max_queued: u32,

    /// Stop instances idle this long (scale to zero): 90s, 10m, 1h, or `never`
    #[arg(long, default_value = "10m", value_parser = parse_idle_timeout, env = "SERVERFUL_IDLE_TIMEOUT")]
    pub idle_timeout: IdleTimeout,

    /// Threads serving the gateway and the functions' Runtime API
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..), env = "SERVERFUL_GATEWAY_THREADS")]
    pub gateway_threads: Option<u16>,

    #[command(flatten)]
    pub logs: LogLimitArgs,

    #[command(flatten)]
    pub metrics: MetricsArgs,

    #[command(flatten)]
    pub records: RecordArgs,

    /// Start from a backup: restore FILE (`serverful backup` wrote it) into --data, which
    /// must not exist yet or be empty, then serve it
    #[arg(long, value_name = "FILE")]
    pub restore: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The app: a folder holding template.yaml, a .zip, or a git URL with an optional
    /// #REF (branch, tag or commit)
    #[arg(default_value = ".")]
    pub source: String,

    /// The stack to deploy to (created on its first deploy)
    #[arg(long)]
    pub stack: String,

    /// Template parameter values, as Key=Value (repeatable, or space-separated in one value)
    #[arg(long, value_name = "KEY=VALUE", num_args = 1.., value_delimiter = ' ')]
    pub parameter_overrides: Vec<String>,

    /// Delete the tables the new template no longer has (kept otherwise)
    #[arg(long)]
    pub delete_tables: bool,

    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The stack to roll back
    #[arg(long)]
    pub stack: String,

    /// The version to return to [default: the one before the current]
    #[arg(long)]
    pub to: Option<u64>,

    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The stack to delete
    #[arg(long)]
    pub stack: String,

    /// Delete the stack's tables and their items too
    #[arg(long)]
    pub delete_tables: bool,

    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Data folder to back up, on this machine (a server may be running on it)
    #[arg(long, env = "SERVERFUL_DATA", conflicts_with = "endpoint")]
    pub data: Option<PathBuf>,

    #[command(flatten)]
    pub remote: RemoteArgs,

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

    #[command(flatten)]
    pub logs: LogLimitArgs,

    #[command(flatten)]
    pub records: RecordArgs,
}

/// How much of each function's log the data folder keeps (`up`, `invoke` and `serve`).
#[derive(Debug, Args)]
pub struct LogLimitArgs {
    /// Function logs kept per function in the data folder (`serverful logs`): past this
    /// size the oldest lines are deleted (KB, MB, GB; 0 keeps any amount)
    #[arg(long, default_value = "10MB", value_parser = parse_bytes, env = "SERVERFUL_LOG_MAX_BYTES")]
    pub log_max_bytes: u64,

    /// Function log lines older than this are deleted: 12h, 7d, or `never`
    #[arg(long, default_value = "7d", value_parser = parse_log_max_age, env = "SERVERFUL_LOG_MAX_AGE")]
    pub log_max_age: LogMaxAge,
}

/// What invocation records the data folder keeps (`up`, `invoke` and `serve`):
/// `serverful invocations`, `serverful invoke --replay`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Record every invocation (event, result or error, logs, timings) for `serverful
    /// invocations` and `invoke --replay`; a function opts out with
    /// SERVERFUL_RECORD_INVOCATIONS=false in its Environment
    #[arg(long, value_enum, default_value_t = OnOff::On, env = "SERVERFUL_RECORD_INVOCATIONS")]
    pub record_invocations: OnOff,

    /// Invocation records kept: past this many the oldest are deleted
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..), env = "SERVERFUL_INVOCATION_RECORDS_MAX")]
    pub invocation_records_max: u64,

    /// Bytes of invocation records kept: past this size the oldest are deleted (KB, MB,
    /// GB)
    #[arg(long, default_value = "100MB", value_parser = parse_bytes, env = "SERVERFUL_INVOCATION_RECORDS_MAX_BYTES")]
    pub invocation_records_max_bytes: u64,

    /// Events, results and errors over this size are cut in records and marked truncated
    /// (KB, MB); a cut event cannot be replayed
    #[arg(long, default_value = "256KB", value_parser = parse_bytes, env = "SERVERFUL_INVOCATION_PAYLOAD_CAP")]
    pub invocation_payload_cap: u64,

    /// A header or JSON field name (case-insensitive) whose values records replace by
    /// "***"; repeat it, or separate names with commas
    #[arg(
        long = "redact",
        value_name = "NAME",
        value_delimiter = ',',
        env = "SERVERFUL_REDACT"
    )]
    pub redact: Vec<String>,
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
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

    /// Port of the admin API, so that `deploy`, `rollback` and `ls` work against `up` too
    /// (0 picks a free port)
    #[arg(long, default_value_t = 4599, env = "SERVERFUL_ADMIN_PORT")]
    pub admin_port: u16,

    /// Domain of the APIs' own host names: each API also answers on
    /// `{api-id}.execute-api.DOMAIN`
    #[arg(long, default_value = "localhost", value_parser = parse_domain, env = "SERVERFUL_DOMAIN")]
    pub domain: String,

    /// PostgreSQL database that a cluster's nodes share
    /// (`postgres://user[:password]@host[:port]/database`): the DynamoDB tables live
    /// there instead of in the data folder (cluster mode, in progress)
    #[arg(long, value_name = "URL", value_parser = parse_store_url, env = "SERVERFUL_STORE", hide_env_values = true)]
    pub store: Option<String>,

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

    #[command(flatten)]
    pub metrics: MetricsArgs,
}

/// Prometheus metrics, served at `/metrics` on the admin API's listener.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct MetricsArgs {
    /// Collect no metrics (`/metrics` then answers 404)
    #[arg(long, env = "SERVERFUL_NO_METRICS")]
    pub no_metrics: bool,

    /// Serve `/metrics` without the admin token (the rest of the admin API still needs it)
    #[arg(long, env = "SERVERFUL_METRICS_PUBLIC", conflicts_with = "no_metrics")]
    pub metrics_public: bool,
}

/// How long idle instances stay warm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleTimeout {
    After(Duration),
    Never,
}

/// A `--store` URL: PostgreSQL's, the one database cluster mode runs on.
pub fn parse_store_url(text: &str) -> Result<String, String> {
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text} is not a PostgreSQL URL: use postgres://user[:password]@host[:port]/database, or leave --store (SERVERFUL_STORE) out to keep the tables in the data folder"
        ))
    }
}

/// A DNS name such as `localhost` or `api.example.com`: no scheme, port or path.
pub fn parse_domain(text: &str) -> Result<String, String> {
    let domain = text.trim_end_matches('.');
    let is_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if domain.is_empty() || !domain.split('.').all(is_label) {
        return Err(format!(
            "`{text}` is not a domain name: write it like localhost or api.example.com (no scheme, port or path)"
        ));
    }
    Ok(domain.to_ascii_lowercase())
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
    #[arg(required_unless_present = "replay")]
    pub function: Option<String>,

    /// Run the event of this invocation record (`serverful invocations`) again against
    /// the function's current code, and show the recorded and new outcomes side by side
    #[arg(long, value_name = "ID", conflicts_with_all = ["event", "qualifier"])]
    pub replay: Option<String>,

    #[command(flatten)]
    pub app: AppArgs,

    /// JSON event file, or - for standard input [default: {}]
    #[arg(long, short = 'e', value_name = "FILE")]
    pub event: Option<PathBuf>,

    /// With --endpoint: a Lambda version number or alias of the function [default:
    /// $LATEST]
    #[arg(long, requires = "endpoint")]
    pub qualifier: Option<String>,

    #[command(flatten)]
    pub remote: RemoteArgs,
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

    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct InvocationsArgs {
    #[command(subcommand)]
    pub command: Option<InvocationsCommand>,

    /// Only this function's records: its logical id or FunctionName
    pub function: Option<String>,

    /// Only this stack's records
    #[arg(long, visible_alias = "stack-name", env = "SERVERFUL_STACK")]
    pub stack: Option<String>,

    /// Only calls since then: 90s, 10m, 2h, 1d ago, or an RFC 3339 time
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    pub since: Option<Since>,

    /// Only failed calls (errors, timeouts, throttles)
    #[arg(long)]
    pub errors: bool,

    /// At most this many records
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10000))]
    pub limit: u64,

    /// One JSON object per record
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub place: RecordsPlace,
}

#[derive(Debug, Subcommand)]
pub enum InvocationsCommand {
    /// Print one invocation record whole: event, result or error, logs, timings
    Show(ShowInvocationArgs),
}

#[derive(Debug, Args)]
pub struct ShowInvocationArgs {
    /// The record's id (the invocation's request id)
    pub id: String,

    /// The record as JSON
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub place: RecordsPlace,
}

/// Where invocation records are read: a data folder here, or a running server.
#[derive(Debug, Args)]
pub struct RecordsPlace {
    /// The app's folder: its data folder is DIR/.serverful
    #[arg(long, default_value = ".", env = "SERVERFUL_DIR")]
    pub dir: PathBuf,

    /// Data folder [default: DIR/.serverful]
    #[arg(long, env = "SERVERFUL_DATA")]
    pub data: Option<PathBuf>,

    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// A running server to ask instead of a data folder on this machine.
#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// Ask the running server at this admin API (`http://127.0.0.1:4599`) instead of
    /// reading a data folder
    #[arg(long, env = "SERVERFUL_ENDPOINT")]
    pub endpoint: Option<String>,

    /// The admin token (the server prints where it keeps it)
    #[arg(long, env = "SERVERFUL_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
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
    fn metrics_are_on_and_behind_the_token_by_default() {
        let cli = Cli::try_parse_from(["serverful", "serve"]).expect("parse");
        let Command::Serve(serve) = cli.command else {
            panic!("parsed as serve")
        };
        assert!(!serve.metrics.no_metrics);
        assert!(!serve.metrics.metrics_public);
        let cli = Cli::try_parse_from(["serverful", "up", "--metrics-public"]).expect("parse");
        let Command::Up(up) = cli.command else {
            panic!("parsed as up")
        };
        assert!(up.metrics.metrics_public);
        let both = Cli::try_parse_from(["serverful", "up", "--no-metrics", "--metrics-public"]);
        assert!(both.is_err(), "--no-metrics leaves nothing to make public");
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
        assert_eq!(up.domain, "localhost");
        assert_eq!(up.app.dir, PathBuf::from("."));
    }

    #[test]
    fn domains_are_host_names() {
        assert_eq!(parse_domain("Example.COM."), Ok("example.com".to_owned()));
        assert_eq!(parse_domain("my-box.lan"), Ok("my-box.lan".to_owned()));
        for bad in ["", "localhost:3000", "http://x", "a..b", "-a.b", "a/b"] {
            assert!(parse_domain(bad).is_err(), "{bad}");
        }
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
        assert_eq!(invoke.function.as_deref(), Some("HelloFunction"));
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
        assert_eq!(up.app.logs.log_max_bytes, 10 * 1024 * 1024);
        assert_eq!(
            up.app.logs.log_max_age,
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
