//! The command-line interface of `serverful`: clap definitions only, no logic.
//!
//! Every flag has a `SERVERFUL_*` environment equivalent; flags win over the environment.

use std::net::IpAddr;
use std::path::PathBuf;

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
    fn up_defaults() {
        let cli = Cli::try_parse_from(["serverful", "up"]).expect("parse");
        let Command::Up(up) = cli.command else { panic!("parsed as up") };
        assert_eq!(up.port, 3000);
        assert_eq!(up.aws_port, 4566);
        assert_eq!(up.host.to_string(), "127.0.0.1");
        assert_eq!(up.app.dir, PathBuf::from("."));
    }

    #[test]
    fn invoke_takes_the_function_then_the_folder() {
        let cli = Cli::try_parse_from(["serverful", "invoke", "HelloFunction", "app", "--event", "-"]).expect("parse");
        let Command::Invoke(invoke) = cli.command else { panic!("parsed as invoke") };
        assert_eq!(invoke.function, "HelloFunction");
        assert_eq!(invoke.app.dir, PathBuf::from("app"));
        assert_eq!(invoke.event, Some(PathBuf::from("-")));
    }

    #[test]
    fn a_repeated_flag_takes_the_last_value() {
        let cli = Cli::try_parse_from(["serverful", "up", "--port", "0", "--port", "8080"]).expect("parse");
        let Command::Up(up) = cli.command else { panic!("parsed as up") };
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
        let Command::Up(up) = cli.command else { panic!("parsed as up") };
        assert_eq!(up.app.parameter_overrides, ["Stage=dev", "Name=x", "Other=y"]);
    }
}
